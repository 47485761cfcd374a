// SPDX-License-Identifier: GPL-2.0-only
/*
 * kselftest suite "netlink": the generic netlink family "vhost-iommu"
 * (Documentation/netlink/specs/vhost-iommu.yaml), spoken raw over
 * AF_NETLINK / NETLINK_GENERIC with a small client written here, and the
 * `vhost-iommu` CLI built on it (/vhi/bin/vhost-iommu in the VM).
 *
 * What is checked: the family and its multicast group resolve; dev-get
 * and stats-get (do and dump) describe a device as the VMM set it up and
 * as VHOST_IOMMU_GET_STATS counts it; who may read what (CAP_NET_ADMIN,
 * or the owner for its own devices: do gives -EPERM, a dump leaves the
 * device out); -ENOENT and -EINVAL for bad IDs; the monitor group's
 * notifications (broken queue, reset, owner lost) and that joining it
 * needs CAP_NET_ADMIN; dumps that span several messages and dumps racing
 * with devices coming and going.
 *
 * Every message is parsed strictly: attribute lengths must match the
 * spec's types (uint: 4 or 8 bytes), single attributes appear once, no
 * attribute outside the spec appears, and messages fill their datagram.
 * The VM runs everything as root; "without CAP_NET_ADMIN" is a forked
 * child that dropped the capability from every set, bounding set included
 * (so an exec'd CLI does not get it back).
 */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vhost_iommu_netlink.h>

#include "kselftest_harness.h"
#include "iommufd_mock.h"
#include "vhost_iommu_vmm.h"
#include "viommu_guest.h"

/* The guest and device, as in the other suites. */
#define GUEST_BASE	0x40000000ULL
#define GUEST_SIZE	(12ULL << 20)
#define GUEST_REGIONS	3
#define RQ_NUM		256u
#define EQ_NUM		64u
#define ALL_FEATURES	VHI_FEATURES_OFFERED
#define FBIT(b)		(1ULL << (b))
#define BACKEND_PERSIST	FBIT(VHOST_IOMMU_BACKEND_F_PERSIST)

#define ENDPOINT	8u
#define VIRT_SID	0x10u
#define DOM_A		1u
#define DOM_B		2u
#define DOM_UNBOUND	7u
#define PASID_P		5u
#define BIND_START	0x100000000ULL
#define BIND_END	0x1ffffffffULL
#define BIND_GRANULE	12
#define BUSYLOOP_US	50u
#define FAULT_ADDR	0xdeadb000ULL

#define INVAL_IN	((__u32)offsetof(struct virtio_iommu_req_invalidate, tail))
#define TAIL_LEN	((__u32)sizeof(struct virtio_iommu_req_tail))
#define ATTACH_IN	((__u32)offsetof(struct virtio_iommu_req_attach, tail))
#define RESP_IN		((__u32)offsetof(struct virtio_iommu_req_page_resp, tail))
#define EV_SIZE		((__u32)sizeof(struct virtio_iommu_page_req))

#define NL_TIMEOUT_MS	5000
#define QUIET_MS	300
#define NL_BUF_SIZE	(128 * 1024)

#define CLI_PATH	"/vhi/bin/vhost-iommu"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

static __s64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* A small generic netlink client */

/**
 * struct nlsk - a NETLINK_GENERIC socket and the family it talks to
 * @fd: the socket
 * @portid: its port ID
 * @family: the family's ID, 0 until resolved
 * @version: CTRL_ATTR_VERSION
 * @hdrsize: CTRL_ATTR_HDRSIZE
 * @monitor: multicast group ID of "monitor", 0 if the family has none
 * @nr_grps: multicast groups listed
 * @op_flags: CTRL_ATTR_OP_FLAGS by command
 * @op_seen: commands listed in CTRL_ATTR_OPS
 * @nr_ops: entries of CTRL_ATTR_OPS
 * @seq: last sequence number sent
 * @buf: receive buffer (NL_BUF_SIZE)
 * @ext_msg: the extack message of the last error, if any
 * @miss_type: NLMSGERR_ATTR_MISS_TYPE of the last error, or 0
 */
struct nlsk {
	int fd;
	__u32 portid;
	__u16 family;
	__u32 version;
	__u32 hdrsize;
	__u32 monitor;
	unsigned int nr_grps;
	__u32 op_flags[VHOST_IOMMU_CMD_MAX + 1];
	bool op_seen[VHOST_IOMMU_CMD_MAX + 1];
	unsigned int nr_ops;
	__u32 seq;
	char *buf;
	char ext_msg[256];
	__u32 miss_type;
};

/* A request: the headers and room for a few attributes. */
struct nlreq {
	struct nlmsghdr nh;
	struct genlmsghdr gh;
	char attrs[256];
};

#define nla_type_of(a)	((a)->nla_type & NLA_TYPE_MASK)
#define nla_plen(a)	((int)(a)->nla_len - NLA_HDRLEN)
#define nla_payload(a)	((const void *)((const char *)(a) + NLA_HDRLEN))

static bool nla_fits(const struct nlattr *a, int rem)
{
	return rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
	       a->nla_len <= rem;
}

/*
 * Walking the attributes at [@head, @head + @len): the first one, then
 * each next one, NULL at the first that does not fit. *@rem is the space
 * left; callers check that it is 0 after the walk, i.e. that the
 * attributes exactly filled the space.
 */
static const struct nlattr *nla_first(const void *head, int len, int *rem)
{
	*rem = len;
	return nla_fits(head, len) ? head : NULL;
}

static const struct nlattr *nla_next_attr(const struct nlattr *a, int *rem)
{
	int step = NLA_ALIGN(a->nla_len);

	*rem -= step;
	a = (const struct nlattr *)((const char *)a + step);
	return nla_fits(a, *rem) ? a : NULL;
}

static __u32 nla_u32(const struct nlattr *a)
{
	__u32 v;

	memcpy(&v, nla_payload(a), sizeof(v));
	return v;
}

static __u64 nla_uint(const struct nlattr *a)
{
	__u64 v = 0;

	if (nla_plen(a) == 4)
		return nla_u32(a);
	memcpy(&v, nla_payload(a), sizeof(v));
	return v;
}

static const struct nlattr *genl_attrs(const struct nlmsghdr *nh, int *len)
{
	*len = (int)nh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	return (const struct nlattr *)((const char *)NLMSG_DATA(nh) +
				       GENL_HDRLEN);
}

/* The first attribute of a generic netlink message (see nla_first()). */
static const struct nlattr *genl_first(const struct nlmsghdr *nh, int *rem)
{
	const struct nlattr *head;
	int len;

	head = genl_attrs(nh, &len);
	return nla_first(head, len, rem);
}

static const struct genlmsghdr *genl_hdr(const struct nlmsghdr *nh)
{
	return NLMSG_DATA(nh);
}

static void req_init(struct nlreq *r, __u16 type, __u16 flags, __u8 cmd,
		     __u8 version)
{
	memset(r, 0, sizeof(*r));
	r->nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r->nh.nlmsg_type = type;
	r->nh.nlmsg_flags = NLM_F_REQUEST | flags;
	r->gh.cmd = cmd;
	r->gh.version = version;
}

static void req_put(struct nlreq *r, __u16 type, const void *data, __u16 len)
{
	struct nlattr *a = (struct nlattr *)((char *)r +
					     NLMSG_ALIGN(r->nh.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	memset((char *)a + NLA_HDRLEN + len, 0,
	       NLA_ALIGN(a->nla_len) - a->nla_len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static void req_put_u32(struct nlreq *r, __u16 type, __u32 v)
{
	req_put(r, type, &v, sizeof(v));
}

static int nl_send(struct nlsk *s, struct nlreq *r)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	ssize_t n;

	r->nh.nlmsg_seq = ++s->seq;
	r->nh.nlmsg_pid = 0;
	n = sendto(s->fd, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa));
	if (n < 0)
		return -errno;
	return n == (ssize_t)r->nh.nlmsg_len ? 0 : -EIO;
}

/*
 * One datagram into s->buf: its length, -ETIMEDOUT after @timeout_ms,
 * -EMSGSIZE if it was truncated, or -errno.
 */
static int nl_recv(struct nlsk *s, int timeout_ms)
{
	struct sockaddr_nl sa;
	struct iovec iov = { s->buf, NL_BUF_SIZE };
	struct msghdr mh = {
		.msg_name = &sa, .msg_namelen = sizeof(sa),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	ssize_t n;
	int ret;

	ret = poll(&p, 1, timeout_ms);
	if (ret < 0)
		return -errno;
	if (!ret)
		return -ETIMEDOUT;
	n = recvmsg(s->fd, &mh, MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	if (sa.nl_pid != 0)
		return -EPROTO;	/* not from the kernel */
	return (int)n;
}

/* Reads the extack TLVs of an NLMSG_ERROR into s->ext_msg / s->miss_type. */
static void nl_parse_ext_ack(struct nlsk *s, const struct nlmsghdr *nh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nh);
	const struct nlattr *a;
	size_t off;
	int len, rem;

	s->ext_msg[0] = 0;
	s->miss_type = 0;
	if (!(nh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	off = sizeof(*e);
	if (!(nh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if (NLMSG_LENGTH(off) > nh->nlmsg_len)
		return;
	len = nh->nlmsg_len - NLMSG_LENGTH(off);
	for (a = nla_first((const char *)e + off, len, &rem); a;
	     a = nla_next_attr(a, &rem)) {
		if (nla_type_of(a) == NLMSGERR_ATTR_MSG && nla_plen(a) > 0)
			snprintf(s->ext_msg, sizeof(s->ext_msg), "%.*s",
				 nla_plen(a), (const char *)nla_payload(a));
		if (nla_type_of(a) == NLMSGERR_ATTR_MISS_TYPE &&
		    nla_plen(a) == 4)
			s->miss_type = nla_u32(a);
	}
}

/*
 * A do: sends @r with NLM_F_ACK and waits for the answer. The reply (at
 * most one) is copied to @reply (if not NULL, @reply_max bytes). Returns
 * 0 when the reply and then the ACK came, the error of an NLMSG_ERROR
 * (-errno), -EPROTO for a malformed or unexpected answer, -ENODATA when
 * the kernel acked without a reply.
 */
static int nl_do(struct nlsk *s, struct nlreq *r, void *reply,
		 size_t reply_max)
{
	bool got_reply = false;
	const struct nlmsghdr *nh;
	int n, ret;

	r->nh.nlmsg_flags |= NLM_F_ACK;
	ret = nl_send(s, r);
	if (ret)
		return ret;
	for (;;) {
		n = nl_recv(s, NL_TIMEOUT_MS);
		if (n < 0)
			return n;
		for (nh = (const struct nlmsghdr *)s->buf; NLMSG_OK(nh, n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != s->seq ||
			    nh->nlmsg_pid != s->portid)
				return -EPROTO;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EPROTO;
				nl_parse_ext_ack(s, nh);
				if (e->error)
					return e->error;
				return got_reply ? 0 : -ENODATA;
			}
			if (nh->nlmsg_type != r->nh.nlmsg_type || got_reply ||
			    nh->nlmsg_flags & NLM_F_MULTI)
				return -EPROTO;
			got_reply = true;
			if (reply) {
				if (nh->nlmsg_len > reply_max)
					return -EMSGSIZE;
				memcpy(reply, nh, nh->nlmsg_len);
			}
		}
		if (n)
			return -EPROTO;	/* trailing bytes */
	}
}

/*
 * Called for each message of a dump; returns 0 to go on, or a negative
 * value that ends the dump (it is returned by nl_dump()).
 */
typedef int (*nl_msg_fn)(void *arg, const struct nlmsghdr *nh);

/**
 * struct dump_info - what a dump looked like
 * @datagrams: reads it took
 * @messages: messages, NLMSG_DONE excluded
 * @interrupted: messages flagged NLM_F_DUMP_INTR
 */
struct dump_info {
	unsigned int datagrams;
	unsigned int messages;
	unsigned int interrupted;
};

/*
 * A dump: every message goes to @fn. Returns 0 at NLMSG_DONE with error
 * 0, the error of NLMSG_DONE or NLMSG_ERROR, -EPROTO for anything
 * malformed, or what @fn returned.
 */
static int nl_dump(struct nlsk *s, struct nlreq *r, nl_msg_fn fn, void *arg,
		   struct dump_info *di)
{
	const struct nlmsghdr *nh;
	struct dump_info local;
	int n, ret;

	if (!di)
		di = &local;
	memset(di, 0, sizeof(*di));
	r->nh.nlmsg_flags |= NLM_F_DUMP;
	ret = nl_send(s, r);
	if (ret)
		return ret;
	for (;;) {
		n = nl_recv(s, NL_TIMEOUT_MS);
		if (n < 0)
			return n;
		di->datagrams++;
		for (nh = (const struct nlmsghdr *)s->buf; NLMSG_OK(nh, n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != s->seq ||
			    nh->nlmsg_pid != s->portid)
				return -EPROTO;
			if (nh->nlmsg_flags & NLM_F_DUMP_INTR)
				di->interrupted++;
			if (nh->nlmsg_type == NLMSG_DONE) {
				int err;

				if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(err)))
					return -EPROTO;
				memcpy(&err, NLMSG_DATA(nh), sizeof(err));
				return err;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EPROTO;
				nl_parse_ext_ack(s, nh);
				return e->error ? e->error : -EPROTO;
			}
			if (nh->nlmsg_type != r->nh.nlmsg_type ||
			    !(nh->nlmsg_flags & NLM_F_MULTI))
				return -EPROTO;
			di->messages++;
			ret = fn(arg, nh);
			if (ret)
				return ret;
		}
		if (n)
			return -EPROTO;
	}
}

/* One entry of CTRL_ATTR_OPS: its command and flags. */
static int ctrl_op(const struct nlattr *op, __u32 *id, __u32 *flags)
{
	const struct nlattr *f;
	int rem;

	*id = 0;
	*flags = 0;
	for (f = nla_first(nla_payload(op), nla_plen(op), &rem); f;
	     f = nla_next_attr(f, &rem)) {
		if (nla_type_of(f) == CTRL_ATTR_OP_ID)
			*id = nla_u32(f);
		if (nla_type_of(f) == CTRL_ATTR_OP_FLAGS)
			*flags = nla_u32(f);
	}
	return rem ? -EPROTO : 0;
}

/* One entry of CTRL_ATTR_MCAST_GROUPS: its ID, and whether it is ours. */
static int ctrl_grp(const struct nlattr *g, __u32 *id, bool *monitor)
{
	const struct nlattr *f;
	int rem;

	*id = 0;
	*monitor = false;
	for (f = nla_first(nla_payload(g), nla_plen(g), &rem); f;
	     f = nla_next_attr(f, &rem)) {
		if (nla_type_of(f) == CTRL_ATTR_MCAST_GRP_ID)
			*id = nla_u32(f);
		if (nla_type_of(f) == CTRL_ATTR_MCAST_GRP_NAME)
			*monitor = !strcmp(nla_payload(f),
					   VHOST_IOMMU_MCGRP_MONITOR);
	}
	return rem ? -EPROTO : 0;
}

static int ctrl_ops(struct nlsk *s, const struct nlattr *a)
{
	const struct nlattr *op;
	__u32 id, flags;
	int rem;

	for (op = nla_first(nla_payload(a), nla_plen(a), &rem); op;
	     op = nla_next_attr(op, &rem)) {
		if (ctrl_op(op, &id, &flags))
			return -EPROTO;
		s->nr_ops++;
		if (id <= VHOST_IOMMU_CMD_MAX) {
			s->op_seen[id] = true;
			s->op_flags[id] = flags;
		}
	}
	return rem ? -EPROTO : 0;
}

static int ctrl_grps(struct nlsk *s, const struct nlattr *a)
{
	const struct nlattr *g;
	bool monitor;
	__u32 id;
	int rem;

	for (g = nla_first(nla_payload(a), nla_plen(a), &rem); g;
	     g = nla_next_attr(g, &rem)) {
		if (ctrl_grp(g, &id, &monitor))
			return -EPROTO;
		s->nr_grps++;
		if (monitor)
			s->monitor = id;
	}
	return rem ? -EPROTO : 0;
}

/* Family resolution: CTRL_CMD_GETFAMILY, parsed into @s. */
static int nl_parse_family(struct nlsk *s, const struct nlmsghdr *nh,
			   const char *name)
{
	const struct nlattr *a;
	bool name_ok = false;
	int rem;

	s->family = 0;
	s->monitor = 0;
	s->nr_ops = 0;
	s->nr_grps = 0;
	memset(s->op_seen, 0, sizeof(s->op_seen));
	memset(s->op_flags, 0, sizeof(s->op_flags));
	for (a = genl_first(nh, &rem); a; a = nla_next_attr(a, &rem)) {
		switch (nla_type_of(a)) {
		case CTRL_ATTR_FAMILY_ID:
			if (nla_plen(a) != 2)
				return -EPROTO;
			memcpy(&s->family, nla_payload(a), 2);
			break;
		case CTRL_ATTR_FAMILY_NAME:
			name_ok = nla_plen(a) == (int)strlen(name) + 1 &&
				  !memcmp(nla_payload(a), name, nla_plen(a));
			break;
		case CTRL_ATTR_VERSION:
			s->version = nla_u32(a);
			break;
		case CTRL_ATTR_HDRSIZE:
			s->hdrsize = nla_u32(a);
			break;
		case CTRL_ATTR_OPS:
			if (ctrl_ops(s, a))
				return -EPROTO;
			break;
		case CTRL_ATTR_MCAST_GROUPS:
			if (ctrl_grps(s, a))
				return -EPROTO;
			break;
		}
	}
	if (rem || !name_ok || !s->family)
		return -EPROTO;
	return 0;
}

static int nl_resolve(struct nlsk *s, const char *name)
{
	struct {
		struct nlmsghdr nh;
		char data[8192];
	} reply;
	struct nlreq r;
	int ret;

	req_init(&r, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, 2);
	req_put(&r, CTRL_ATTR_FAMILY_NAME, name, strlen(name) + 1);
	ret = nl_do(s, &r, &reply, sizeof(reply));
	if (ret)
		return ret;
	return nl_parse_family(s, &reply.nh, name);
}

static void nl_close(struct nlsk *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->buf);
	s->buf = NULL;
}

/* A socket with extended ACKs; resolves the family unless @name is NULL. */
static int nl_open(struct nlsk *s, const char *name)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t sl = sizeof(sa);
	int one = 1, ret;

	memset(s, 0, sizeof(*s));
	s->buf = malloc(NL_BUF_SIZE);
	if (!s->buf)
		return -ENOMEM;
	s->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (s->fd < 0) {
		ret = -errno;
		goto err;
	}
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(s->fd, (struct sockaddr *)&sa, &sl) ||
	    setsockopt(s->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one,
		       sizeof(one)) ||
	    setsockopt(s->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one,
		       sizeof(one))) {
		ret = -errno;
		goto err;
	}
	s->portid = sa.nl_pid;
	if (!name)
		return 0;
	ret = nl_resolve(s, name);
	if (ret)
		goto err;
	return 0;
err:
	nl_close(s);
	return ret;
}

/* Joins (or leaves) the monitor group: 0 or -errno. */
static int nl_monitor(struct nlsk *s, bool join)
{
	int grp = (int)s->monitor;

	if (!grp)
		return -ENOENT;
	if (setsockopt(s->fd, SOL_NETLINK,
		       join ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP,
		       &grp, sizeof(grp)))
		return -errno;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The family's messages, parsed strictly */

struct q_info {
	bool has_index, has_num, has_lai, has_lui, has_busy;
	bool ready, broken;
	__u32 index, num, lai, lui, busy;
};

struct ep_info {
	bool has_id, has_virt, has_dev;
	__u32 id, dev_id;
	__u64 virt_id;
};

struct bind_info {
	bool has_domain, has_pasid, has_object, has_type;
	__u32 domain, pasid, object_id, data_type;
};

#define MAX_QUEUES	4
#define MAX_LIST	16

/* A dev-get reply or a dev-change notification. */
struct dev_info {
	__u8 cmd;
	bool has_id, has_owner, has_features, has_backend, has_run;
	bool iommufd, has_pending, has_fq, has_event, has_qidx;
	bool fq_has_groups, fq_has_backlog, fq_has_retry;
	bool lists_omitted;
	__u32 id, owner_pid, run, pending, event, qidx;
	__u64 features, backend;
	__u32 fq_groups, fq_backlog, fq_retry;
	unsigned int nr_queues, nr_eps, nr_binds;
	struct q_info q[MAX_QUEUES];
	struct ep_info ep[MAX_LIST];
	struct bind_info b[MAX_LIST];
	unsigned int all_eps, all_binds;	/* beyond MAX_LIST too */
	char err[160];
};

static int parse_fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err[0]) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

#define FAIL(d, ...)	parse_fail((d)->err, sizeof((d)->err), __VA_ARGS__)

/* Checks the payload length for the spec type; sets *@seen. */
enum spec_type { T_U32, T_UINT, T_FLAG, T_NEST };

static int check_attr(char *err, size_t errlen, const char *set,
		      const struct nlattr *a, enum spec_type t, bool *seen)
{
	int len = nla_plen(a);

	if (seen) {
		if (*seen)
			return parse_fail(err, errlen, "%s attr %u twice", set,
					  nla_type_of(a));
		*seen = true;
	}
	switch (t) {
	case T_U32:
		if (len != 4)
			return parse_fail(err, errlen,
					  "%s attr %u: u32 of %d bytes", set,
					  nla_type_of(a), len);
		break;
	case T_UINT:
		if (len != 4 && len != 8)
			return parse_fail(err, errlen,
					  "%s attr %u: uint of %d bytes", set,
					  nla_type_of(a), len);
		break;
	case T_FLAG:
		if (len != 0)
			return parse_fail(err, errlen,
					  "%s attr %u: flag of %d bytes", set,
					  nla_type_of(a), len);
		break;
	case T_NEST:
		break;
	}
	return 0;
}

#define CHECK(d, set, a, t, seen) \
	check_attr((d)->err, sizeof((d)->err), set, a, t, seen)

static int parse_queue(struct dev_info *d, const struct nlattr *nest)
{
	struct q_info *q;
	const struct nlattr *a;
	bool seen_ready = false, seen_broken = false;
	int rem, ret = 0;

	if (d->nr_queues >= MAX_QUEUES)
		return FAIL(d, "more than %d queue nests", MAX_QUEUES);
	q = &d->q[d->nr_queues++];
	for (a = nla_first(nla_payload(nest), nla_plen(nest), &rem); a;
	     a = nla_next_attr(a, &rem)) {
		switch (nla_type_of(a)) {
		case VHOST_IOMMU_A_QUEUE_INDEX:
			ret = CHECK(d, "queue", a, T_U32, &q->has_index);
			q->index = nla_u32(a);
			break;
		case VHOST_IOMMU_A_QUEUE_NUM:
			ret = CHECK(d, "queue", a, T_U32, &q->has_num);
			q->num = nla_u32(a);
			break;
		case VHOST_IOMMU_A_QUEUE_READY:
			ret = CHECK(d, "queue", a, T_FLAG, &seen_ready);
			q->ready = true;
			break;
		case VHOST_IOMMU_A_QUEUE_BROKEN:
			ret = CHECK(d, "queue", a, T_FLAG, &seen_broken);
			q->broken = true;
			break;
		case VHOST_IOMMU_A_QUEUE_LAST_AVAIL_IDX:
			ret = CHECK(d, "queue", a, T_U32, &q->has_lai);
			q->lai = nla_u32(a);
			break;
		case VHOST_IOMMU_A_QUEUE_LAST_USED_IDX:
			ret = CHECK(d, "queue", a, T_U32, &q->has_lui);
			q->lui = nla_u32(a);
			break;
		case VHOST_IOMMU_A_QUEUE_BUSYLOOP_TIMEOUT:
			ret = CHECK(d, "queue", a, T_U32, &q->has_busy);
			q->busy = nla_u32(a);
			break;
		default:
			return FAIL(d, "queue: unknown attr %u", nla_type_of(a));
		}
		if (ret)
			return ret;
	}
	if (rem)
		return FAIL(d, "queue nest: %d stray bytes", rem);
	if (!q->has_index)
		return FAIL(d, "queue nest without index");
	return 0;
}

static int parse_endpoint(struct dev_info *d, const struct nlattr *nest)
{
	struct ep_info tmp = {}, *e = &tmp;
	const struct nlattr *a;
	int rem, ret = 0;

	if (d->nr_eps < MAX_LIST)
		e = &d->ep[d->nr_eps++];
	d->all_eps++;
	for (a = nla_first(nla_payload(nest), nla_plen(nest), &rem); a;
	     a = nla_next_attr(a, &rem)) {
		switch (nla_type_of(a)) {
		case VHOST_IOMMU_A_ENDPOINT_ID:
			ret = CHECK(d, "endpoint", a, T_U32, &e->has_id);
			e->id = nla_u32(a);
			break;
		case VHOST_IOMMU_A_ENDPOINT_VIRT_ID:
			ret = CHECK(d, "endpoint", a, T_UINT, &e->has_virt);
			e->virt_id = nla_uint(a);
			break;
		case VHOST_IOMMU_A_ENDPOINT_DEV_ID:
			ret = CHECK(d, "endpoint", a, T_U32, &e->has_dev);
			e->dev_id = nla_u32(a);
			break;
		default:
			return FAIL(d, "endpoint: unknown attr %u",
				    nla_type_of(a));
		}
		if (ret)
			return ret;
	}
	if (rem)
		return FAIL(d, "endpoint nest: %d stray bytes", rem);
	if (!e->has_id || !e->has_dev || !e->has_virt)
		return FAIL(d, "endpoint nest without id, dev-id or virt-id");
	return 0;
}

static int parse_binding(struct dev_info *d, const struct nlattr *nest)
{
	struct bind_info tmp = {}, *b = &tmp;
	const struct nlattr *a;
	int rem, ret = 0;

	if (d->nr_binds < MAX_LIST)
		b = &d->b[d->nr_binds++];
	d->all_binds++;
	for (a = nla_first(nla_payload(nest), nla_plen(nest), &rem); a;
	     a = nla_next_attr(a, &rem)) {
		switch (nla_type_of(a)) {
		case VHOST_IOMMU_A_BINDING_DOMAIN:
			ret = CHECK(d, "binding", a, T_U32, &b->has_domain);
			b->domain = nla_u32(a);
			break;
		case VHOST_IOMMU_A_BINDING_PASID:
			ret = CHECK(d, "binding", a, T_U32, &b->has_pasid);
			b->pasid = nla_u32(a);
			break;
		case VHOST_IOMMU_A_BINDING_OBJECT_ID:
			ret = CHECK(d, "binding", a, T_U32, &b->has_object);
			b->object_id = nla_u32(a);
			break;
		case VHOST_IOMMU_A_BINDING_DATA_TYPE:
			ret = CHECK(d, "binding", a, T_U32, &b->has_type);
			b->data_type = nla_u32(a);
			break;
		default:
			return FAIL(d, "binding: unknown attr %u",
				    nla_type_of(a));
		}
		if (ret)
			return ret;
	}
	if (rem)
		return FAIL(d, "binding nest: %d stray bytes", rem);
	if (!b->has_domain || !b->has_object || !b->has_type)
		return FAIL(d, "binding nest without domain/object/type");
	return 0;
}

static int parse_faultq(struct dev_info *d, const struct nlattr *nest)
{
	const struct nlattr *a;
	int rem, ret = 0;

	for (a = nla_first(nla_payload(nest), nla_plen(nest), &rem); a;
	     a = nla_next_attr(a, &rem)) {
		switch (nla_type_of(a)) {
		case VHOST_IOMMU_A_FAULT_QUEUE_GROUPS:
			ret = CHECK(d, "fault-queue", a, T_U32,
				    &d->fq_has_groups);
			d->fq_groups = nla_u32(a);
			break;
		case VHOST_IOMMU_A_FAULT_QUEUE_BACKLOG:
			ret = CHECK(d, "fault-queue", a, T_U32,
				    &d->fq_has_backlog);
			d->fq_backlog = nla_u32(a);
			break;
		case VHOST_IOMMU_A_FAULT_QUEUE_RETRY:
			ret = CHECK(d, "fault-queue", a, T_U32,
				    &d->fq_has_retry);
			d->fq_retry = nla_u32(a);
			break;
		default:
			return FAIL(d, "fault-queue: unknown attr %u",
				    nla_type_of(a));
		}
		if (ret)
			return ret;
	}
	if (rem)
		return FAIL(d, "fault-queue nest: %d stray bytes", rem);
	if (!d->fq_has_groups || !d->fq_has_backlog || !d->fq_has_retry)
		return FAIL(d, "fault-queue nest incomplete");
	return 0;
}

/*
 * A message of the dev attribute set. @cmd is the command it must carry
 * (DEV_GET for replies, DEV_CHANGE_NTF for notifications). Returns 0 or
 * -EBADMSG with d->err saying why.
 */
static int parse_dev(const struct nlsk *s, const struct nlmsghdr *nh,
		     __u8 cmd, struct dev_info *d)
{
	const struct genlmsghdr *gh;
	const struct nlattr *a;
	bool seen_iommufd = false, seen_fq = false, seen_omitted = false;
	int rem, ret = 0;

	memset(d, 0, sizeof(*d));
	if (nh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return FAIL(d, "message of %u bytes", nh->nlmsg_len);
	if (nh->nlmsg_type != s->family)
		return FAIL(d, "message type %u, family %u", nh->nlmsg_type,
			    s->family);
	gh = genl_hdr(nh);
	d->cmd = gh->cmd;
	if (gh->cmd != cmd)
		return FAIL(d, "cmd %u, expected %u", gh->cmd, cmd);
	if (gh->version != VHOST_IOMMU_FAMILY_VERSION)
		return FAIL(d, "genl version %u", gh->version);
	for (a = genl_first(nh, &rem); a; a = nla_next_attr(a, &rem)) {
		switch (nla_type_of(a)) {
		case VHOST_IOMMU_A_DEV_ID:
			ret = CHECK(d, "dev", a, T_U32, &d->has_id);
			d->id = nla_u32(a);
			break;
		case VHOST_IOMMU_A_DEV_OWNER_PID:
			ret = CHECK(d, "dev", a, T_U32, &d->has_owner);
			d->owner_pid = nla_u32(a);
			break;
		case VHOST_IOMMU_A_DEV_FEATURES:
			ret = CHECK(d, "dev", a, T_UINT, &d->has_features);
			d->features = nla_uint(a);
			break;
		case VHOST_IOMMU_A_DEV_BACKEND_FEATURES:
			ret = CHECK(d, "dev", a, T_UINT, &d->has_backend);
			d->backend = nla_uint(a);
			break;
		case VHOST_IOMMU_A_DEV_RUN:
			ret = CHECK(d, "dev", a, T_U32, &d->has_run);
			d->run = nla_u32(a);
			break;
		case VHOST_IOMMU_A_DEV_IOMMUFD:
			ret = CHECK(d, "dev", a, T_FLAG, &seen_iommufd);
			d->iommufd = true;
			break;
		case VHOST_IOMMU_A_DEV_QUEUE:
			ret = CHECK(d, "dev", a, T_NEST, NULL);
			if (!ret)
				ret = parse_queue(d, a);
			break;
		case VHOST_IOMMU_A_DEV_ENDPOINT:
			ret = CHECK(d, "dev", a, T_NEST, NULL);
			if (!ret)
				ret = parse_endpoint(d, a);
			break;
		case VHOST_IOMMU_A_DEV_BINDING:
			ret = CHECK(d, "dev", a, T_NEST, NULL);
			if (!ret)
				ret = parse_binding(d, a);
			break;
		case VHOST_IOMMU_A_DEV_PENDING_TYPE:
			ret = CHECK(d, "dev", a, T_U32, &d->has_pending);
			d->pending = nla_u32(a);
			break;
		case VHOST_IOMMU_A_DEV_FAULT_QUEUE:
			ret = CHECK(d, "dev", a, T_NEST, &seen_fq);
			if (!ret)
				ret = parse_faultq(d, a);
			d->has_fq = true;
			break;
		case VHOST_IOMMU_A_DEV_EVENT:
			ret = CHECK(d, "dev", a, T_U32, &d->has_event);
			d->event = nla_u32(a);
			break;
		case VHOST_IOMMU_A_DEV_QUEUE_INDEX:
			ret = CHECK(d, "dev", a, T_U32, &d->has_qidx);
			d->qidx = nla_u32(a);
			break;
		case VHOST_IOMMU_A_DEV_LISTS_OMITTED:
			ret = CHECK(d, "dev", a, T_FLAG, &seen_omitted);
			d->lists_omitted = true;
			break;
		default:
			return FAIL(d, "dev: unknown attr %u (len %d)",
				    nla_type_of(a), nla_plen(a));
		}
		if (ret)
			return ret;
	}
	if (rem)
		return FAIL(d, "dev message: %d stray bytes", rem);
	if (!d->has_id)
		return FAIL(d, "dev message without id");
	if (!d->id)
		return FAIL(d, "dev id 0");
	return 0;
}

/* Fields of a dev-get reply/dump entry, for logs. */
static const char *dev_str(const struct dev_info *d, char *buf, size_t len)
{
	size_t n;
	unsigned int i;

	n = snprintf(buf, len,
		     "id=%u owner=%s%u features=%s0x%llx backend=%s0x%llx run=%s%u%s pending=%s%u fq=%s%u/%u/%u",
		     d->id, d->has_owner ? "" : "-", d->owner_pid,
		     d->has_features ? "" : "-",
		     (unsigned long long)d->features,
		     d->has_backend ? "" : "-",
		     (unsigned long long)d->backend, d->has_run ? "" : "-",
		     d->run, d->iommufd ? " iommufd" : "",
		     d->has_pending ? "" : "-", d->pending,
		     d->has_fq ? "" : "-", d->fq_groups, d->fq_backlog,
		     d->fq_retry);
	for (i = 0; i < d->nr_queues && n < len; i++)
		n += snprintf(buf + n, len - n,
			      " q%u{num=%u%s%s avail=%u used=%u busy=%u}",
			      d->q[i].index, d->q[i].num,
			      d->q[i].ready ? " ready" : "",
			      d->q[i].broken ? " broken" : "", d->q[i].lai,
			      d->q[i].lui, d->q[i].busy);
	for (i = 0; i < d->nr_eps && n < len; i++)
		n += snprintf(buf + n, len - n, " ep{%u dev=%u virt=0x%llx}",
			      d->ep[i].id, d->ep[i].dev_id,
			      (unsigned long long)d->ep[i].virt_id);
	for (i = 0; i < d->nr_binds && n < len; i++)
		n += snprintf(buf + n, len - n, " bind{dom=%u pasid=%s%u obj=%u type=0x%x}",
			      d->b[i].domain, d->b[i].has_pasid ? "" : "-",
			      d->b[i].pasid, d->b[i].object_id,
			      d->b[i].data_type);
	return buf;
}

/* Queue @index of @d; a queue with index ~0 when there is none. */
static const struct q_info *dev_queue(const struct dev_info *d,
				      __u32 index)
{
	static const struct q_info none = { .index = ~0u };
	unsigned int i;

	for (i = 0; i < d->nr_queues; i++)
		if (d->q[i].index == index)
			return &d->q[i];
	return &none;
}

/* stats-get */

static const struct {
	int attr;
	size_t off;
	const char *name;	/* as the CLI's JSON names it */
} counters[] = {
#define C(a, f)	{ VHOST_IOMMU_A_STATS_##a, \
		  offsetof(struct vhost_iommu_stats, out_##f), #f }
	C(REQUESTS, requests),
	C(SLOW_PATH, slow_path),
	C(MALFORMED, malformed),
	C(REJECTED, rejected),
	C(BROKEN, broken),
	C(INVALIDATIONS, invalidations),
	C(INVAL_BATCHES, inval_batches),
	C(INVAL_ERRORS, inval_errors),
	C(PAGE_REQS, page_reqs),
	C(PAGE_RESPS, page_resps),
	C(PAGE_REQ_INVALID, page_req_invalid),
	C(FAULT_ERRORS, fault_errors),
	C(WAKEUPS, wakeups),
	C(USER_ACCESSES, user_accesses),
	C(IOMMUFD_CALLS, iommufd_calls),
	C(BUSY_POLL_HITS, busy_poll_hits),
	C(VMM_EVENTS, vmm_events),
	C(VMM_EVENTS_DROPPED, vmm_events_dropped),
#undef C
};

#define NR_COUNTERS	ARRAY_SIZE(counters)

static __u64 ioctl_counter(const struct vhost_iommu_stats *st, unsigned int i)
{
	__u64 v;

	memcpy(&v, (const char *)st + counters[i].off, sizeof(v));
	return v;
}

struct stats_info {
	bool has_id;
	__u32 id;
	bool has[NR_COUNTERS];
	__u64 v[NR_COUNTERS];
	char err[160];
};

static int parse_stats(const struct nlsk *s, const struct nlmsghdr *nh,
		       struct stats_info *st)
{
	const struct genlmsghdr *gh;
	const struct nlattr *a;
	unsigned int i;
	int rem, ret;

	memset(st, 0, sizeof(*st));
	if (nh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return FAIL(st, "message of %u bytes", nh->nlmsg_len);
	if (nh->nlmsg_type != s->family)
		return FAIL(st, "message type %u", nh->nlmsg_type);
	gh = genl_hdr(nh);
	if (gh->cmd != VHOST_IOMMU_CMD_STATS_GET)
		return FAIL(st, "cmd %u", gh->cmd);
	if (gh->version != VHOST_IOMMU_FAMILY_VERSION)
		return FAIL(st, "genl version %u", gh->version);
	for (a = genl_first(nh, &rem); a; a = nla_next_attr(a, &rem)) {
		if (nla_type_of(a) == VHOST_IOMMU_A_STATS_DEV_ID) {
			ret = CHECK(st, "stats", a, T_U32, &st->has_id);
			if (ret)
				return ret;
			st->id = nla_u32(a);
			continue;
		}
		for (i = 0; i < NR_COUNTERS; i++)
			if (counters[i].attr == nla_type_of(a))
				break;
		if (i == NR_COUNTERS)
			return FAIL(st, "stats: unknown attr %u",
				    nla_type_of(a));
		ret = CHECK(st, "stats", a, T_UINT, &st->has[i]);
		if (ret)
			return ret;
		st->v[i] = nla_uint(a);
	}
	if (rem)
		return FAIL(st, "stats message: %d stray bytes", rem);
	if (!st->has_id || !st->id)
		return FAIL(st, "stats message without dev-id");
	for (i = 0; i < NR_COUNTERS; i++)
		if (!st->has[i])
			return FAIL(st, "stats: no %s", counters[i].name);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Requests of the family */

struct nlreply {
	struct nlmsghdr nh;
	char data[NL_BUF_SIZE - sizeof(struct nlmsghdr)];
};

/* dev-get do: 0 and *@d, or -errno (-EBADMSG: reply did not parse). */
static int nl_dev_get(struct nlsk *s, __u32 id, struct dev_info *d)
{
	struct nlreply *reply = malloc(sizeof(*reply));
	struct nlreq r;
	int ret;

	if (!reply)
		return -ENOMEM;
	memset(d, 0, sizeof(*d));
	req_init(&r, s->family, 0, VHOST_IOMMU_CMD_DEV_GET,
		 VHOST_IOMMU_FAMILY_VERSION);
	req_put_u32(&r, VHOST_IOMMU_A_DEV_ID, id);
	ret = nl_do(s, &r, reply, sizeof(*reply));
	if (!ret)
		ret = parse_dev(s, &reply->nh, VHOST_IOMMU_CMD_DEV_GET, d);
	free(reply);
	return ret;
}

static int nl_stats_get(struct nlsk *s, __u32 id, struct stats_info *st)
{
	struct nlreply *reply = malloc(sizeof(*reply));
	struct nlreq r;
	int ret;

	if (!reply)
		return -ENOMEM;
	memset(st, 0, sizeof(*st));
	req_init(&r, s->family, 0, VHOST_IOMMU_CMD_STATS_GET,
		 VHOST_IOMMU_FAMILY_VERSION);
	req_put_u32(&r, VHOST_IOMMU_A_STATS_DEV_ID, id);
	ret = nl_do(s, &r, reply, sizeof(*reply));
	if (!ret)
		ret = parse_stats(s, &reply->nh, st);
	free(reply);
	return ret;
}

/**
 * struct dev_list - a dump of dev-get or stats-get
 * @s: the socket (for parsing)
 * @n: entries
 * @cap: room in @devs / @stats
 * @devs: dev-get entries (dev dumps)
 * @stats: stats-get entries (stats dumps)
 * @bad_order: entries whose ID was not above the one before
 * @err: the first parse error
 */
struct dev_list {
	const struct nlsk *s;
	unsigned int n;
	unsigned int cap;
	struct dev_info *devs;
	struct stats_info *stats;
	unsigned int bad_order;
	char err[200];
};

static __u32 list_id(const struct dev_list *l, unsigned int i)
{
	return l->devs ? l->devs[i].id : l->stats[i].id;
}

static int grow(struct dev_list *l)
{
	unsigned int cap = l->cap ? l->cap * 2 : 64;
	void *p;

	if (l->n < l->cap)
		return 0;
	if (l->devs) {
		p = realloc(l->devs, cap * sizeof(*l->devs));
		if (!p)
			return -ENOMEM;
		l->devs = p;
	} else {
		p = realloc(l->stats, cap * sizeof(*l->stats));
		if (!p)
			return -ENOMEM;
		l->stats = p;
	}
	l->cap = cap;
	return 0;
}

static int dump_dev_cb(void *arg, const struct nlmsghdr *nh)
{
	struct dev_list *l = arg;
	int ret;

	if (grow(l))
		return -ENOMEM;
	ret = parse_dev(l->s, nh, VHOST_IOMMU_CMD_DEV_GET, &l->devs[l->n]);
	if (ret) {
		snprintf(l->err, sizeof(l->err), "entry %u: %s", l->n,
			 l->devs[l->n].err);
		return ret;
	}
	if (l->n && l->devs[l->n].id <= l->devs[l->n - 1].id)
		l->bad_order++;
	l->n++;
	return 0;
}

static int dump_stats_cb(void *arg, const struct nlmsghdr *nh)
{
	struct dev_list *l = arg;
	int ret;

	if (grow(l))
		return -ENOMEM;
	ret = parse_stats(l->s, nh, &l->stats[l->n]);
	if (ret) {
		snprintf(l->err, sizeof(l->err), "entry %u: %s", l->n,
			 l->stats[l->n].err);
		return ret;
	}
	if (l->n && l->stats[l->n].id <= l->stats[l->n - 1].id)
		l->bad_order++;
	l->n++;
	return 0;
}

static void list_free(struct dev_list *l)
{
	free(l->devs);
	free(l->stats);
	memset(l, 0, sizeof(*l));
}

/* A dev-get (@stats false) or stats-get dump into @l. */
static int nl_dump_list(struct nlsk *s, bool stats, struct dev_list *l,
			struct dump_info *di)
{
	struct nlreq r;
	int ret;

	memset(l, 0, sizeof(*l));
	l->s = s;
	if (stats)
		l->stats = malloc(64 * sizeof(*l->stats));
	else
		l->devs = malloc(64 * sizeof(*l->devs));
	if (!l->stats && !l->devs)
		return -ENOMEM;
	l->cap = 64;
	req_init(&r, s->family, 0,
		 stats ? VHOST_IOMMU_CMD_STATS_GET : VHOST_IOMMU_CMD_DEV_GET,
		 VHOST_IOMMU_FAMILY_VERSION);
	ret = nl_dump(s, &r, stats ? dump_stats_cb : dump_dev_cb, l, di);
	return ret;
}

/* Index of @id in @l, or -1; *@count gets how many times it is there. */
static int list_find(const struct dev_list *l, __u32 id, unsigned int *count)
{
	unsigned int i, c = 0;
	int at = -1;

	for (i = 0; i < l->n; i++) {
		if (list_id(l, i) == id) {
			if (at < 0)
				at = (int)i;
			c++;
		}
	}
	if (count)
		*count = c;
	return at;
}

/* ------------------------------------------------------------------ */
/* Devices */

/* Stats through the ioctl once they stopped moving (the worker is idle). */
static int quiet_ioctl_stats(int fd, struct vhost_iommu_stats *st)
{
	struct vhost_iommu_stats prev;
	__s64 end = now_ms() + NL_TIMEOUT_MS;
	int ret;

	ret = vhi_get_stats(fd, &prev);
	while (!ret) {
		usleep(30000);
		ret = vhi_get_stats(fd, st);
		if (ret || !memcmp(&prev, st, sizeof(*st)))
			break;
		prev = *st;
		if (now_ms() > end)
			return -ETIMEDOUT;
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* Capabilities */

/*
 * Drops CAP_NET_ADMIN from the effective, permitted and inheritable sets
 * and from the bounding set, so that neither this process nor what it
 * executes (as root) has it. Returns 0 or -errno.
 */
static int drop_net_admin(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];
	__u32 bit = 1u << (CAP_NET_ADMIN % 32);
	int i = CAP_NET_ADMIN / 32;

	if (prctl(PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0))
		return -errno;
	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[i].effective &= ~bit;
	d[i].permitted &= ~bit;
	d[i].inheritable &= ~bit;
	if (syscall(SYS_capset, &h, d))
		return -errno;
	/* And no ambient capabilities to bring it back. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return 0;
}

static bool have_net_admin(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32));
}

/*
 * Results a child hands back through shared memory: @rc[] values and a
 * message saying what went wrong, if anything.
 */
struct child_out {
	int rc[32];
	__u32 u[32];
	char msg[256];
};

static struct child_out *child_out_map(void)
{
	struct child_out *o = mmap(NULL, sizeof(*o), PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (o == MAP_FAILED)
		return NULL;
	memset(o, 0, sizeof(*o));
	return o;
}

/* Waits for @pid; its exit status, or -1 if it did not exit normally. */
static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------------ */
/* A guest and its device, set up through tools/lib */

/**
 * struct guest - an owned device with rings, and optionally iommufd
 * @fd: the device
 * @id: its netlink ID
 * @mem: guest memory
 * @rq: request queue
 * @eq: event queue
 * @w: the iommufd mock world (w.fd -1 without)
 * @fault_id: fault queue object
 * @fault_fd: its fd, or -1
 * @fault_hwpt: nested HWPT with the fault queue, the mock device on it
 * @ev: event buffers by descriptor index
 */
struct guest {
	int fd;
	__u32 id;
	struct vg_mem mem;
	struct vg_vq rq;
	struct vg_vq eq;
	struct imock_world w;
	__u32 fault_id;
	int fault_fd;
	__u32 fault_hwpt;
	struct vg_req ev[EQ_NUM];
};

static int guest_up(struct guest *g)
{
	struct vhost_iommu_config cfg;
	int ret;

	memset(g, 0, sizeof(*g));
	g->fd = -1;
	g->w.fd = -1;
	g->fault_fd = -1;
	ret = vg_mem_init(&g->mem, GUEST_BASE, GUEST_SIZE, GUEST_REGIONS);
	if (!ret)
		ret = vg_vq_init(&g->rq, &g->mem, RQ_NUM);
	if (!ret)
		ret = vg_vq_init(&g->eq, &g->mem, EQ_NUM);
	if (ret)
		return ret;
	vhi_config_default(&cfg);
	g->fd = vg_device_open(&g->mem, &cfg);
	if (g->fd < 0)
		return g->fd;
	g->id = vhi_dev_id(g->fd);
	if (!g->id)
		return -ENOENT;
	return vg_rings_up(g->fd, &g->rq, &g->eq, ALL_FEATURES);
}

/*
 * The mock world handed to the device: iommufd, the mock device as
 * ENDPOINT (virt_id VIRT_SID), DOM_A bound to the nested HWPT, DOM_B's
 * PASID_P too, and a fault queue on a second nested HWPT the mock device
 * is attached to. -ENOENT when the kernel has no iommufd.
 */
static int guest_world(struct guest *g)
{
	struct vhost_iommu_bind b = {
		.format = VHOST_IOMMU_INV_FORMAT_SELFTEST,
		.input_start = BIND_START,
		.input_end = BIND_END,
		.granule_log2 = BIND_GRANULE,
	};
	int ret;

	ret = imock_world_init(&g->w);
	if (ret)
		return ret;
	ret = imock_fault_alloc(g->w.fd, &g->fault_id, &g->fault_fd);
	if (!ret)
		ret = imock_hwpt_alloc_nested(g->w.fd, g->w.idev_id,
					      g->w.parent_id, g->fault_id,
					      &g->fault_hwpt);
	if (!ret)
		ret = imock_domain_replace(g->w.fd, g->w.stdev_id,
					   g->fault_hwpt);
	if (!ret)
		ret = vhi_set_iommufd(g->fd, g->w.fd);
	if (!ret)
		ret = vhi_add_endpoint(g->fd, ENDPOINT, g->w.idev_id, VIRT_SID);
	if (!ret)
		ret = vhi_set_fault_queue(g->fd, g->fault_fd);
	if (ret)
		return ret;
	b.domain = DOM_A;
	b.object_id = g->w.nested_id;
	ret = vhi_bind_domain(g->fd, &b);
	if (ret)
		return ret;
	b.domain = DOM_B;
	b.flags = VHOST_IOMMU_BIND_F_PASID;
	b.pasid = PASID_P;
	return vhi_bind_domain(g->fd, &b);
}

static void guest_down(struct guest *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	if (g->fault_fd >= 0)
		close(g->fault_fd);
	g->fault_fd = -1;
	imock_world_destroy(&g->w);
	g->w.fd = -1;
	vg_vq_destroy(&g->rq);
	vg_vq_destroy(&g->eq);
	vg_mem_destroy(&g->mem);
}

static void mk_inval(struct virtio_iommu_req_invalidate *r, __u32 domain)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_INVALIDATE;
	r->scope = VIRTIO_IOMMU_INVAL_S_DOMAIN;
	r->caches = VIRTIO_IOMMU_INVAL_C_TLB;
	r->domain = htole32(domain);
}

static void mk_attach(struct virtio_iommu_req_attach *r, __u32 domain)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_ATTACH;
	r->domain = htole32(domain);
	r->endpoint = htole32(ENDPOINT);
}

/* One request and its used entry: the status, VG_USED_EMPTY, or -errno. */
static int guest_send(struct guest *g, const void *body, __u32 in_len,
		      __u32 out_len)
{
	return vg_roundtrip(&g->rq, body, in_len, out_len, NULL);
}

static int send_inval(struct guest *g, __u32 domain)
{
	struct virtio_iommu_req_invalidate r;

	mk_inval(&r, domain);
	return guest_send(g, &r, INVAL_IN, TAIL_LEN);
}

/* @n INVALIDATEs of @domain, one at a time: 0 if each got S_OK. */
static int send_invals(struct guest *g, __u32 domain, unsigned int n)
{
	int ret = 0;

	while (n-- && !ret) {
		ret = send_inval(g, domain);
		if (ret == VIRTIO_IOMMU_S_OK)
			ret = 0;
		else if (!ret)
			ret = -EPROTO;
	}
	return ret;
}

/* A request of an unknown type: completed with used length 0. */
static int send_malformed(struct guest *g)
{
	struct virtio_iommu_req_head h = { .type = 0x55 };
	__u8 body[16] = {};

	memcpy(body, &h, sizeof(h));
	return guest_send(g, body, sizeof(body), TAIL_LEN);
}

/* @n of them: 0 if each came back with used length 0. */
static int send_malformeds(struct guest *g, unsigned int n)
{
	int ret = VG_USED_EMPTY;

	while (n-- && ret == VG_USED_EMPTY)
		ret = send_malformed(g);
	return ret == VG_USED_EMPTY ? 0 : ret;
}

/* Queues @body and waits until the VMM can take it: its cookie in *@req. */
static int send_slow(struct guest *g, const void *body, __u32 in_len,
		     struct vhost_iommu_request *req, struct vg_req *vr)
{
	char buf[VHI_REQ_BUF_SIZE];
	int ret;

	ret = vg_submit(&g->rq, body, in_len, TAIL_LEN, 0, vr);
	if (ret)
		return ret;
	return vhi_wait_request(g->fd, req, buf, sizeof(buf), VG_TIMEOUT_MS);
}

/* An ATTACH through the VMM, answered @status. */
static int send_attach_served(struct guest *g, __u32 status)
{
	struct virtio_iommu_req_attach a;
	struct vhost_iommu_request req;
	__u32 id = ~0u, len = 0;
	struct vg_req vr;
	__u8 st = 0xff;
	int ret;

	mk_attach(&a, DOM_A);
	ret = send_slow(g, &a, ATTACH_IN, &req, &vr);
	if (!ret)
		ret = vhi_complete_request(g->fd, req.out_cookie, status,
					   NULL, 0);
	if (!ret)
		ret = vg_wait_used(&g->rq, VG_TIMEOUT_MS, &id, &len);
	if (ret)
		return ret;
	if (id != vr.head || len != TAIL_LEN)
		return -EPROTO;
	vg_req_status(&g->rq, &vr, &st);
	return st;
}

static __u16 ring_next(const struct vg_vq *vq, __u16 d, unsigned int k)
{
	return (d + k) % vq->num;
}

/* Queues a two-descriptor loop on @vq and kicks: the queue breaks. */
static int corrupt_loop(struct guest *g, struct vg_vq *vq)
{
	__u64 body;
	__u16 d;
	int ret;

	ret = vg_alloc(&g->mem, 64, 16, &body);
	if (ret)
		return ret;
	d = vg_desc_alloc(vq, 2);
	vg_desc_set(&vq->desc[d], body, 8, VRING_DESC_F_NEXT,
		    ring_next(vq, d, 1));
	vg_desc_set(&vq->desc[ring_next(vq, d, 1)], body + 8, 8,
		    VRING_DESC_F_NEXT, d);
	vg_avail_add(vq, d);
	vg_publish(vq);
	return vg_kick(vq);
}

/* A head index beyond the queue. */
static int corrupt_head(struct vg_vq *vq)
{
	vg_avail_add(vq, vq->num);
	vg_publish(vq);
	return vg_kick(vq);
}

static int set_running(int fd, int running)
{
	return ioctl(fd, VHOST_IOMMU_SET_RUNNING, &running) ? -errno : 0;
}

/* Event buffers for page requests, remembered by descriptor index. */
static int post_events(struct guest *g, unsigned int n)
{
	struct vg_req req;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = vg_post_writable(&g->eq, EV_SIZE, VG_SUBMIT_NO_PUBLISH,
				       &req);
		if (ret)
			return ret;
		g->ev[req.head] = req;
	}
	vg_publish(&g->eq);
	return vg_kick(&g->eq);
}

static int send_page_resp(struct guest *g, __u32 grpid)
{
	struct virtio_iommu_req_page_resp r;

	memset(&r, 0, sizeof(r));
	r.head.type = VIRTIO_IOMMU_T_PAGE_RESP;
	r.endpoint = htole32(ENDPOINT);
	r.grpid = htole32(grpid);
	r.resp_code = htole16(VIRTIO_IOMMU_PAGE_RESP_SUCCESS);
	return guest_send(g, &r, RESP_IN, TAIL_LEN);
}

/* ------------------------------------------------------------------ */
/* Notifications */

/*
 * The next notification about device @id, within @timeout_ms: 0 and *@d,
 * -ETIMEDOUT, or -EBADMSG (d->err says why) for a malformed one. Those
 * of other devices are skipped but must parse too.
 */
static int wait_ntf(struct nlsk *m, __u32 id, struct dev_info *d,
		    int timeout_ms)
{
	__s64 end = now_ms() + timeout_ms;
	const struct nlmsghdr *nh;
	int n, left;

	for (;;) {
		left = (int)(end - now_ms());
		n = nl_recv(m, left > 0 ? left : 0);
		if (n < 0)
			return n;
		for (nh = (const struct nlmsghdr *)m->buf; NLMSG_OK(nh, n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_pid || nh->nlmsg_seq) {
				memset(d, 0, sizeof(*d));
				return FAIL(d, "notification with pid %u seq %u",
					    nh->nlmsg_pid, nh->nlmsg_seq);
			}
			if (parse_dev(m, nh, VHOST_IOMMU_CMD_DEV_CHANGE_NTF, d))
				return -EBADMSG;
			if (d->has_features || d->has_backend || d->has_run ||
			    d->iommufd || d->nr_queues || d->all_eps ||
			    d->all_binds || d->has_pending || d->has_fq)
				return FAIL(d, "notification with dev-get attributes");
			if (!d->has_event)
				return FAIL(d, "notification without event");
			if (d->id == id)
				return 0;
		}
		if (n)
			return FAIL(d, "notification datagram: %d stray bytes", n);
	}
}

/* Nothing about @id for QUIET_MS. */
static bool no_ntf(struct nlsk *m, __u32 id, struct dev_info *d)
{
	return wait_ntf(m, id, d, QUIET_MS) == -ETIMEDOUT;
}

static const char *event_name(__u32 e)
{
	switch (e) {
	case VHOST_IOMMU_EVENT_BROKEN:
		return "broken";
	case VHOST_IOMMU_EVENT_RESET:
		return "reset";
	case VHOST_IOMMU_EVENT_OWNER_LOST:
		return "owner-lost";
	}
	return "?";
}

/* ------------------------------------------------------------------ */
/* Fixtures */

/*
 * Helpers take the fixture data as struct _test_data_<name>, which is what
 * FIXTURE_DATA(<name>) expands to, spelled so checkpatch sees a type.
 */
FIXTURE(nl) {
	struct nlsk s;
};

FIXTURE_SETUP(nl)
{
	int ret = nl_open(&self->s, VHOST_IOMMU_FAMILY_NAME);

	ASSERT_EQ(0, ret)
		TH_LOG("family %s: %s", VHOST_IOMMU_FAMILY_NAME,
		       strerror(-ret));
}

FIXTURE_TEARDOWN(nl)
{
	nl_close(&self->s);
}

/* An owned device with rings and the mock world; a monitor socket. */
FIXTURE(gdev) {
	struct nlsk s;
	struct nlsk m;
	struct guest g;
	bool world;
};

FIXTURE_SETUP(gdev)
{
	int ret;

	self->m.fd = -1;
	self->g.fd = -1;
	self->g.w.fd = -1;
	self->g.fault_fd = -1;
	ret = nl_open(&self->s, VHOST_IOMMU_FAMILY_NAME);
	ASSERT_EQ(0, ret)
		TH_LOG("family %s: %s", VHOST_IOMMU_FAMILY_NAME,
		       strerror(-ret));
	ret = nl_open(&self->m, VHOST_IOMMU_FAMILY_NAME);
	ASSERT_EQ(0, ret);
	ret = nl_monitor(&self->m, true);
	ASSERT_EQ(0, ret) TH_LOG("join monitor: %s", strerror(-ret));
	ret = guest_up(&self->g);
	ASSERT_EQ(0, ret) TH_LOG("device: %s", strerror(-ret));
	ret = guest_world(&self->g);
	if (ret == -ENOENT)
		SKIP(return, "no " IMOCK_DEV_PATH ": kernel without iommufd");
	ASSERT_EQ(0, ret)
		TH_LOG("mock world: %s (CONFIG_IOMMUFD_TEST?)", strerror(-ret));
	self->world = true;
}

FIXTURE_TEARDOWN(gdev)
{
	guest_down(&self->g);
	nl_close(&self->m);
	nl_close(&self->s);
}

static void get_dev_ok(struct __test_metadata *_metadata, struct nlsk *s,
		       __u32 id, struct dev_info *d)
{
	int ret = nl_dev_get(s, id, d);

	ASSERT_EQ(0, ret)
		TH_LOG("dev-get %u: %s %s%s", id, strerror(-ret), d->err,
		       s->ext_msg);
}

static void get_stats_ok(struct __test_metadata *_metadata, struct nlsk *s,
			 __u32 id, struct stats_info *st)
{
	int ret = nl_stats_get(s, id, st);

	ASSERT_EQ(0, ret)
		TH_LOG("stats-get %u: %s %s%s", id, strerror(-ret), st->err,
		       s->ext_msg);
	EXPECT_EQ(id, st->id);
}

/* ------------------------------------------------------------------ */
/* The family */

TEST_F(nl, family_resolves_with_ops_and_monitor_group)
{
	struct {
		struct nlmsghdr nh;
		char data[8192];
	} reply;
	struct nlsk other;
	struct nlreq r;
	__u32 want = GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP;
	int cmd;

	EXPECT_NE(0, self->s.family);
	EXPECT_NE(GENL_ID_CTRL, self->s.family);
	EXPECT_EQ((__u32)VHOST_IOMMU_FAMILY_VERSION, self->s.version);
	EXPECT_EQ(0u, self->s.hdrsize);
	EXPECT_EQ(2u, self->s.nr_ops);
	for (cmd = VHOST_IOMMU_CMD_DEV_GET; cmd <= VHOST_IOMMU_CMD_STATS_GET;
	     cmd++) {
		EXPECT_TRUE(self->s.op_seen[cmd]) TH_LOG("cmd %d missing", cmd);
		EXPECT_EQ(want, self->s.op_flags[cmd] & want)
			TH_LOG("cmd %d flags 0x%x", cmd, self->s.op_flags[cmd]);
		/* The do has a policy (the ID's minimum). */
		EXPECT_TRUE(!!(self->s.op_flags[cmd] & GENL_CMD_CAP_HASPOL));
		/* Owners read their devices: not admin-only. */
		EXPECT_FALSE(!!(self->s.op_flags[cmd] &
				(GENL_ADMIN_PERM | GENL_UNS_ADMIN_PERM)));
	}
	/* The notification is no request. */
	EXPECT_FALSE(self->s.op_seen[VHOST_IOMMU_CMD_DEV_CHANGE_NTF]);
	EXPECT_EQ(1u, self->s.nr_grps);
	EXPECT_NE(0u, self->s.monitor);

	/* The same family by its ID. */
	req_init(&r, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, 2);
	req_put(&r, CTRL_ATTR_FAMILY_ID, &self->s.family, 2);
	ASSERT_EQ(0, nl_do(&self->s, &r, &reply, sizeof(reply)));
	ASSERT_EQ(0, nl_open(&other, NULL));
	EXPECT_EQ(0, nl_parse_family(&other, &reply.nh,
				     VHOST_IOMMU_FAMILY_NAME));
	EXPECT_EQ(self->s.family, other.family);
	EXPECT_EQ(self->s.monitor, other.monitor);
	/* And the client tells an unknown family apart. */
	EXPECT_EQ(-ENOENT, nl_resolve(&other, "vhi-nope"));
	nl_close(&other);
}

/* ------------------------------------------------------------------ */
/* dev-get */

static void expect_fresh(struct __test_metadata *_metadata,
			 const struct dev_info *d, __u32 id)
{
	char buf[1024];
	unsigned int i;

	TH_LOG("fresh device: %s", dev_str(d, buf, sizeof(buf)));
	EXPECT_EQ(id, d->id);
	EXPECT_FALSE(d->has_owner);
	EXPECT_TRUE(d->has_features);
	EXPECT_EQ(0ULL, d->features);
	EXPECT_TRUE(d->has_backend);
	EXPECT_EQ(0ULL, d->backend);
	EXPECT_TRUE(d->has_run);
	EXPECT_EQ((__u32)VHOST_IOMMU_RUN_AUTO, d->run);
	EXPECT_FALSE(d->iommufd);
	ASSERT_EQ(2u, d->nr_queues);
	for (i = 0; i < 2; i++) {
		const struct q_info *q = &d->q[i];

		EXPECT_EQ(i, q->index);
		EXPECT_TRUE(q->has_num && q->has_lai && q->has_lui &&
			    q->has_busy);
		EXPECT_EQ(0u, q->num);
		EXPECT_FALSE(q->ready);
		EXPECT_FALSE(q->broken);
		EXPECT_EQ(0u, q->lai);
		EXPECT_EQ(0u, q->lui);
		EXPECT_EQ(0u, q->busy);
	}
	EXPECT_EQ(0u, d->all_eps);
	EXPECT_EQ(0u, d->all_binds);
	EXPECT_FALSE(d->has_pending);
	EXPECT_FALSE(d->has_fq);
	EXPECT_FALSE(d->has_event);
	EXPECT_FALSE(d->has_qidx);
	EXPECT_FALSE(d->lists_omitted);
}

TEST_F(nl, fresh_device_do_and_dump)
{
	struct dev_info d;
	struct dev_list l;
	struct dump_info di;
	unsigned int count;
	__u32 id;
	int fd, at, ret;

	fd = vhi_open();
	ASSERT_LE(0, fd);
	id = vhi_dev_id(fd);
	ASSERT_LE(1u, id) TH_LOG("no vhost-iommu-id in fdinfo");
	get_dev_ok(_metadata, &self->s, id, &d);
	expect_fresh(_metadata, &d, id);

	ret = nl_dump_list(&self->s, false, &l, &di);
	ASSERT_EQ(0, ret) TH_LOG("dump: %s %s", strerror(-ret), l.err);
	EXPECT_EQ(0u, l.bad_order);
	EXPECT_EQ(0u, di.interrupted);
	at = list_find(&l, id, &count);
	ASSERT_LE(0, at);
	EXPECT_EQ(1u, count);
	/* The dump's entry is the do's reply. */
	EXPECT_EQ(0, memcmp(&d, &l.devs[at], sizeof(d)));
	list_free(&l);
	close(fd);
}

TEST_F(nl, ids_are_distinct_stable_and_not_reused_at_once)
{
	int a, b, c, dupfd;
	__u32 ia, ib, ic;
	struct dev_info d;

	a = vhi_open();
	b = vhi_open();
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ia = vhi_dev_id(a);
	ib = vhi_dev_id(b);
	ASSERT_LE(1u, ia);
	ASSERT_LE(1u, ib);
	EXPECT_NE(ia, ib);
	/* The same file, the same device: through dup() and after SET_OWNER. */
	dupfd = dup(a);
	ASSERT_LE(0, dupfd);
	EXPECT_EQ(ia, vhi_dev_id(dupfd));
	ASSERT_EQ(0, vhi_set_owner(a));
	EXPECT_EQ(ia, vhi_dev_id(a));
	close(dupfd);
	/* Not reused at once: a new device does not take a's number. */
	close(a);
	c = vhi_open();
	ASSERT_LE(0, c);
	ic = vhi_dev_id(c);
	EXPECT_NE(ia, ic);
	EXPECT_NE(ib, ic);
	/* Cyclic: the next number comes after the last handed out. */
	EXPECT_LT(ib, ic);
	EXPECT_EQ(-ENOENT, nl_dev_get(&self->s, ia, &d));
	get_dev_ok(_metadata, &self->s, ic, &d);
	EXPECT_EQ(ic, d.id);
	close(b);
	close(c);
}

TEST_F(gdev, owned_and_set_up_device)
{
	struct dev_info d, d2;
	struct dev_list l;
	const struct q_info *q;
	char buf[1024];
	unsigned int i;
	int at;

	ASSERT_EQ(0, vhi_set_backend_features(self->g.fd, BACKEND_PERSIST));
	ASSERT_EQ(0, vhi_set_vring_busyloop(self->g.fd, 0, BUSYLOOP_US));
	ASSERT_EQ(0, send_invals(&self->g, DOM_A, 3));

	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	TH_LOG("%s", dev_str(&d, buf, sizeof(buf)));
	EXPECT_EQ(self->g.id, d.id);
	EXPECT_TRUE(d.has_owner);
	EXPECT_EQ((__u32)getpid(), d.owner_pid);
	EXPECT_EQ(ALL_FEATURES, d.features);
	EXPECT_EQ(BACKEND_PERSIST, d.backend);
	EXPECT_EQ((__u32)VHOST_IOMMU_RUN_AUTO, d.run);
	EXPECT_TRUE(d.iommufd);

	ASSERT_EQ(2u, d.nr_queues);
	q = dev_queue(&d, VHOST_IOMMU_VQ_REQUEST);
	ASSERT_EQ((__u32)VHOST_IOMMU_VQ_REQUEST, q->index);
	EXPECT_EQ(RQ_NUM, q->num);
	EXPECT_TRUE(q->ready);
	EXPECT_FALSE(q->broken);
	EXPECT_EQ(3u, q->lai);
	EXPECT_EQ(3u, q->lui);
	EXPECT_EQ(BUSYLOOP_US, q->busy);
	q = dev_queue(&d, VHOST_IOMMU_VQ_EVENT);
	ASSERT_EQ((__u32)VHOST_IOMMU_VQ_EVENT, q->index);
	EXPECT_EQ(EQ_NUM, q->num);
	EXPECT_TRUE(q->ready);
	EXPECT_FALSE(q->broken);
	EXPECT_EQ(0u, q->lai);
	EXPECT_EQ(0u, q->lui);
	EXPECT_EQ(0u, q->busy);

	/* The endpoint: the guest's ID, the iommufd device, the virt_id. */
	ASSERT_EQ(1u, d.all_eps);
	EXPECT_EQ(ENDPOINT, d.ep[0].id);
	EXPECT_EQ(self->g.w.idev_id, d.ep[0].dev_id);
	EXPECT_TRUE(d.ep[0].has_virt);
	EXPECT_EQ((__u64)VIRT_SID, d.ep[0].virt_id);

	/* DOM_A whole, DOM_B's PASID_P: pasid only on the second. */
	ASSERT_EQ(2u, d.all_binds);
	for (i = 0; i < 2; i++) {
		const struct bind_info *b = &d.b[i];

		EXPECT_EQ(self->g.w.nested_id, b->object_id);
		EXPECT_EQ((__u32)IMOCK_INVALIDATE_DATA_SELFTEST,
			  b->data_type);
		if (b->domain == DOM_A) {
			EXPECT_FALSE(b->has_pasid);
		} else {
			EXPECT_EQ(DOM_B, b->domain);
			EXPECT_TRUE(b->has_pasid);
			EXPECT_EQ(PASID_P, b->pasid);
		}
	}
	EXPECT_NE(d.b[0].domain, d.b[1].domain);

	ASSERT_TRUE(d.has_fq);
	EXPECT_EQ(0u, d.fq_groups);
	EXPECT_EQ(0u, d.fq_backlog);
	EXPECT_EQ(0u, d.fq_retry);
	EXPECT_FALSE(d.has_pending);
	EXPECT_FALSE(d.has_event);
	EXPECT_FALSE(d.lists_omitted);

	/* A second read and the dump say the same. */
	get_dev_ok(_metadata, &self->s, self->g.id, &d2);
	EXPECT_EQ(0, memcmp(&d, &d2, sizeof(d)));
	ASSERT_EQ(0, nl_dump_list(&self->s, false, &l, NULL)) TH_LOG("%s", l.err);
	at = list_find(&l, self->g.id, NULL);
	ASSERT_LE(0, at);
	EXPECT_EQ(0, memcmp(&d, &l.devs[at], sizeof(d)))
		TH_LOG("dump: %s", dev_str(&l.devs[at], buf, sizeof(buf)));
	list_free(&l);
}

TEST_F(gdev, lists_follow_endpoints_and_bindings)
{
	struct dev_info d;

	ASSERT_EQ(0, vhi_unbind_domain(self->g.fd, DOM_B,
				       VHOST_IOMMU_BIND_F_PASID, PASID_P));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	ASSERT_EQ(1u, d.all_binds);
	EXPECT_EQ(DOM_A, d.b[0].domain);
	EXPECT_FALSE(d.b[0].has_pasid);

	ASSERT_EQ(0, vhi_unbind_domain(self->g.fd, DOM_A, 0, 0));
	ASSERT_EQ(0, vhi_remove_endpoint(self->g.fd, ENDPOINT));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_EQ(0u, d.all_binds);
	EXPECT_EQ(0u, d.all_eps);
	EXPECT_TRUE(d.iommufd);

	/* Detaching the fault queue takes its nest away. */
	ASSERT_EQ(0, vhi_set_fault_queue(self->g.fd, -1));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_FALSE(d.has_fq);
	/* Letting go of the iommufd clears the flag. */
	ASSERT_EQ(0, vhi_set_iommufd(self->g.fd, -1));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_FALSE(d.iommufd);
}

TEST_F(gdev, run_follows_set_running)
{
	struct dev_info d;

	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_EQ((__u32)VHOST_IOMMU_RUN_AUTO, d.run);
	ASSERT_EQ(0, set_running(self->g.fd, 0));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_EQ((__u32)VHOST_IOMMU_RUN_STOPPED, d.run);
	ASSERT_EQ(0, set_running(self->g.fd, 1));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_EQ((__u32)VHOST_IOMMU_RUN_STARTED, d.run);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, send_inval(&self->g, DOM_A));
	ASSERT_EQ(0, set_running(self->g.fd, 0));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_EQ((__u32)VHOST_IOMMU_RUN_STOPPED, d.run);
}

TEST_F(gdev, pending_type_while_a_request_waits_for_the_vmm)
{
	struct virtio_iommu_req_attach a;
	struct virtio_iommu_req_map m;
	struct vhost_iommu_request req;
	struct dev_info d;
	struct vg_req vr;
	__u32 id, len;

	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_FALSE(d.has_pending);

	mk_attach(&a, DOM_A);
	ASSERT_EQ(0, send_slow(&self->g, &a, ATTACH_IN, &req, &vr));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_TRUE(d.has_pending);
	EXPECT_EQ((__u32)VIRTIO_IOMMU_T_ATTACH, d.pending);
	ASSERT_EQ(0, vhi_complete_request(self->g.fd, req.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	ASSERT_EQ(0, vg_wait_used(&self->g.rq, VG_TIMEOUT_MS, &id, &len));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_FALSE(d.has_pending);

	memset(&m, 0, sizeof(m));
	m.head.type = VIRTIO_IOMMU_T_MAP;
	m.domain = htole32(DOM_A);
	m.virt_start = htole64(0x100000);
	m.virt_end = htole64(0x100fff);
	m.flags = htole32(VIRTIO_IOMMU_MAP_F_READ);
	ASSERT_EQ(0, send_slow(&self->g, &m,
			       offsetof(struct virtio_iommu_req_map, tail),
			       &req, &vr));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_EQ((__u32)VIRTIO_IOMMU_T_MAP, d.pending);
	/* The queue waits behind it: one taken, none used yet. */
	EXPECT_EQ(1u, dev_queue(&d, 0)->lui);
	ASSERT_EQ(0, vhi_complete_request(self->g.fd, req.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	ASSERT_EQ(0, vg_wait_used(&self->g.rq, VG_TIMEOUT_MS, &id, &len));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_FALSE(d.has_pending);
	EXPECT_EQ(2u, dev_queue(&d, 0)->lui);
}

TEST_F(gdev, reads_do_not_wait_for_a_busy_polling_worker)
{
	struct stats_info st;
	struct dev_info d;
	__s64 t0, t_dev, t_stats;

	/* The longest poll there is (1 s) after each request. */
	ASSERT_EQ(0, vhi_set_vring_busyloop(self->g.fd, 0,
					    VHOST_IOMMU_MAX_BUSYLOOP_TIMEOUT));
	ASSERT_EQ(VIRTIO_IOMMU_S_OK, send_inval(&self->g, DOM_A));
	usleep(50000);
	t0 = now_ms();
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	t_dev = now_ms() - t0;
	get_stats_ok(_metadata, &self->s, self->g.id, &st);
	t_stats = now_ms() - t0 - t_dev;
	TH_LOG("dev-get %lld ms, stats-get %lld ms while polling",
	       (long long)t_dev, (long long)t_stats);
	EXPECT_GT(500, t_dev);
	EXPECT_GT(500, t_stats);
	EXPECT_EQ((__u32)VHOST_IOMMU_MAX_BUSYLOOP_TIMEOUT, dev_queue(&d, 0)->busy);
	ASSERT_EQ(0, vhi_set_vring_busyloop(self->g.fd, 0, 0));
}

/* Polls dev-get until the fault queue nest says @groups / @backlog. */
static bool wait_fq(struct nlsk *s, __u32 id, __u32 groups, __u32 backlog,
		    struct dev_info *d)
{
	__s64 end = now_ms() + NL_TIMEOUT_MS;

	do {
		if (nl_dev_get(s, id, d))
			return false;
		if (d->has_fq && d->fq_groups == groups &&
		    d->fq_backlog == backlog)
			return true;
		usleep(10000);
	} while (now_ms() < end);
	return false;
}

TEST_F(gdev, fault_queue_nest_counts_groups)
{
	struct dev_info d;

	/* No event buffer: the group waits in the backlog. */
	ASSERT_EQ(0, imock_trigger_iopf(self->g.w.fd, self->g.w.idev_id, 0, 3,
					IOMMU_PGFAULT_PERM_READ, FAULT_ADDR));
	EXPECT_TRUE(wait_fq(&self->s, self->g.id, 1, 1, &d))
		TH_LOG("fault queue %u/%u/%u, expected 1 group, 1 in backlog",
		       d.fq_groups, d.fq_backlog, d.fq_retry);
	EXPECT_EQ(0u, d.fq_retry);
	/* A buffer: delivered, still outstanding. */
	ASSERT_EQ(0, post_events(&self->g, 2));
	EXPECT_TRUE(wait_fq(&self->s, self->g.id, 1, 0, &d))
		TH_LOG("fault queue %u/%u, expected 1 group, none in backlog",
		       d.fq_groups, d.fq_backlog);
	/* The guest answers it. */
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, send_page_resp(&self->g, 3));
	EXPECT_TRUE(wait_fq(&self->s, self->g.id, 0, 0, &d))
		TH_LOG("fault queue %u/%u after PAGE_RESP", d.fq_groups,
		       d.fq_backlog);
	EXPECT_EQ(1u, dev_queue(&d, 1)->lui);
}

TEST_F(gdev, broken_flag_until_base_is_set)
{
	struct dev_info d;
	__u32 id, len;

	ASSERT_EQ(0, corrupt_loop(&self->g, &self->g.rq));
	ASSERT_EQ(0, vg_eventfd_wait(self->g.rq.err_fd, VG_TIMEOUT_MS, NULL));
	ASSERT_EQ(0, vg_wait_used(&self->g.rq, VG_TIMEOUT_MS, &id, &len));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_TRUE(dev_queue(&d, 0)->broken);
	EXPECT_FALSE(dev_queue(&d, 1)->broken);
	ASSERT_EQ(0, vhi_set_vring_base(self->g.fd, 0, self->g.rq.avail_idx));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_FALSE(dev_queue(&d, 0)->broken);
	EXPECT_EQ((__u32)self->g.rq.avail_idx, dev_queue(&d, 0)->lai);
}

TEST_F(gdev, resets_forget_what_they_drop)
{
	struct dev_info d;

	ASSERT_EQ(0, vhi_set_backend_features(self->g.fd, BACKEND_PERSIST));
	ASSERT_EQ(0, vhi_reset_device(self->g.fd));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	/* Rings and features go, the rest stays (bindings: PERSIST). */
	EXPECT_EQ(0ULL, d.features);
	EXPECT_EQ(0u, dev_queue(&d, 0)->num);
	EXPECT_FALSE(dev_queue(&d, 0)->ready);
	EXPECT_EQ(0u, dev_queue(&d, 1)->num);
	EXPECT_FALSE(dev_queue(&d, 1)->ready);
	EXPECT_EQ((__u32)getpid(), d.owner_pid);
	EXPECT_TRUE(d.iommufd);
	EXPECT_EQ(1u, d.all_eps);
	EXPECT_EQ(2u, d.all_binds);
	EXPECT_TRUE(d.has_fq);

	ASSERT_EQ(0, vhi_reset_owner(self->g.fd));
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_FALSE(d.has_owner);
	EXPECT_FALSE(d.iommufd);
	EXPECT_EQ(0u, d.all_eps);
	EXPECT_EQ(0u, d.all_binds);
	EXPECT_FALSE(d.has_fq);
	EXPECT_FALSE(dev_queue(&d, 0)->ready);
}

/* ------------------------------------------------------------------ */
/* stats-get */

/* Netlink's counters of @id equal @st (the ioctl's). */
static void expect_stats_equal(struct __test_metadata *_metadata,
			       const struct stats_info *n,
			       const struct vhost_iommu_stats *st)
{
	unsigned int i;

	for (i = 0; i < NR_COUNTERS; i++) {
		EXPECT_EQ(ioctl_counter(st, i), n->v[i])
			TH_LOG("%s: netlink %llu, ioctl %llu", counters[i].name,
			       (unsigned long long)n->v[i],
			       (unsigned long long)ioctl_counter(st, i));
	}
}

TEST_F(nl, fresh_device_stats_are_zero)
{
	struct vhost_iommu_stats st;
	struct stats_info n;
	unsigned int i;
	int fd;

	fd = vhi_open();
	ASSERT_LE(0, fd);
	get_stats_ok(_metadata, &self->s, vhi_dev_id(fd), &n);
	for (i = 0; i < NR_COUNTERS; i++) {
		EXPECT_EQ(0ULL, n.v[i])
			TH_LOG("%s", counters[i].name);
	}
	/* The ioctl needs an owner; then it agrees. */
	ASSERT_EQ(0, vhi_set_owner(fd));
	ASSERT_EQ(0, vhi_get_stats(fd, &st));
	expect_stats_equal(_metadata, &n, &st);
	close(fd);
}

TEST_F(gdev, counters_move_by_exactly_the_requests_sent)
{
	struct vhost_iommu_stats s0, s1, s2;
	struct stats_info n0, n1;
	struct dev_list l;
	unsigned int i;
	int at;

	ASSERT_EQ(0, quiet_ioctl_stats(self->g.fd, &s0));
	get_stats_ok(_metadata, &self->s, self->g.id, &n0);
	expect_stats_equal(_metadata, &n0, &s0);

	/* 5 fast, 3 malformed, 2 rejected (unbound domain), 2 slow. */
	ASSERT_EQ(0, send_invals(&self->g, DOM_A, 5));
	ASSERT_EQ(0, send_malformeds(&self->g, 3));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(VIRTIO_IOMMU_S_NOENT,
			  send_inval(&self->g, DOM_UNBOUND));
	}
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(VIRTIO_IOMMU_S_OK,
			  send_attach_served(&self->g, VIRTIO_IOMMU_S_OK));
	}

	ASSERT_EQ(0, quiet_ioctl_stats(self->g.fd, &s1));
	get_stats_ok(_metadata, &self->s, self->g.id, &n1);
	ASSERT_EQ(0, vhi_get_stats(self->g.fd, &s2));
	/* Reading them moved nothing. */
	EXPECT_EQ(0, memcmp(&s1, &s2, sizeof(s1)));
	expect_stats_equal(_metadata, &n1, &s1);

	EXPECT_EQ(12ULL, n1.v[0] - n0.v[0]);	/* requests */
	EXPECT_EQ(12ULL, s1.out_requests - s0.out_requests);
	EXPECT_EQ(2ULL, n1.v[1] - n0.v[1]);	/* slow_path */
	EXPECT_EQ(3ULL, n1.v[2] - n0.v[2]);	/* malformed */
	EXPECT_EQ(2ULL, n1.v[3] - n0.v[3]);	/* rejected */
	EXPECT_EQ(0ULL, n1.v[4] - n0.v[4]);	/* broken */
	EXPECT_EQ(7ULL, n1.v[5] - n0.v[5]);	/* invalidations */
	EXPECT_LE(1ULL, n1.v[6] - n0.v[6]);	/* inval_batches */
	EXPECT_GE(5ULL, n1.v[6] - n0.v[6]);
	EXPECT_EQ(0ULL, n1.v[7] - n0.v[7]);	/* inval_errors */

	/* The dump's entry is the do's. */
	ASSERT_EQ(0, nl_dump_list(&self->s, true, &l, NULL)) TH_LOG("%s", l.err);
	at = list_find(&l, self->g.id, NULL);
	ASSERT_LE(0, at);
	expect_stats_equal(_metadata, &l.stats[at], &s1);
	list_free(&l);
}

TEST_F(gdev, broken_and_page_counters_agree_with_the_ioctl)
{
	struct vhost_iommu_stats st;
	struct stats_info n;
	struct dev_info d;
	__u32 id, len;

	ASSERT_EQ(0, post_events(&self->g, 2));
	ASSERT_EQ(0, imock_trigger_iopf(self->g.w.fd, self->g.w.idev_id, 0, 9,
					IOMMU_PGFAULT_PERM_READ, FAULT_ADDR));
	ASSERT_EQ(0, vg_wait_used(&self->g.eq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, send_page_resp(&self->g, 9));
	ASSERT_EQ(0, corrupt_loop(&self->g, &self->g.rq));
	ASSERT_EQ(0, vg_eventfd_wait(self->g.rq.err_fd, VG_TIMEOUT_MS, NULL));
	/* The broken queue's notification is for another test; drain it. */
	wait_ntf(&self->m, self->g.id, &d, NL_TIMEOUT_MS);

	ASSERT_EQ(0, quiet_ioctl_stats(self->g.fd, &st));
	get_stats_ok(_metadata, &self->s, self->g.id, &n);
	expect_stats_equal(_metadata, &n, &st);
	EXPECT_EQ(1ULL, st.out_page_reqs);
	EXPECT_EQ(1ULL, st.out_page_resps);
	EXPECT_EQ(1ULL, st.out_broken);
	EXPECT_LE(1ULL, st.out_iommufd_calls);
	EXPECT_LE(1ULL, st.out_wakeups);
	EXPECT_LE(1ULL, st.out_user_accesses);
}

/* ------------------------------------------------------------------ */
/* Who may read what */

/*
 * Runs @fn in a child without CAP_NET_ADMIN (exit status 0 when it could
 * drop it and finished). @o carries its results back.
 */
static int run_without_net_admin(void (*fn)(struct child_out *o, void *arg),
				 void *arg, struct child_out *o)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		int ret = drop_net_admin();

		if (ret) {
			snprintf(o->msg, sizeof(o->msg), "drop CAP_NET_ADMIN: %s",
				 strerror(-ret));
			_exit(2);
		}
		if (have_net_admin()) {
			snprintf(o->msg, sizeof(o->msg), "CAP_NET_ADMIN still there");
			_exit(3);
		}
		fn(o, arg);
		_exit(0);
	}
	return wait_child(pid);
}

struct two_devs {
	__u32 owned;	/* owned by the parent */
	__u32 unowned;
};

static void others_devices_child(struct child_out *o, void *arg)
{
	const struct two_devs *t = arg;
	struct stats_info st;
	struct dev_info d;
	struct nlsk s;
	int ret;

	ret = nl_open(&s, VHOST_IOMMU_FAMILY_NAME);
	o->rc[0] = ret;
	if (ret)
		return;
	o->rc[1] = nl_dev_get(&s, t->owned, &d);
	snprintf(o->msg, sizeof(o->msg), "%s", s.ext_msg);
	o->rc[2] = nl_stats_get(&s, t->owned, &st);
	o->rc[3] = nl_dev_get(&s, t->unowned, &d);
	o->rc[4] = nl_stats_get(&s, t->unowned, &st);
	/* Unknown IDs still say so. */
	o->rc[5] = nl_dev_get(&s, 0x7ffffff0, &d);
	nl_close(&s);
}

TEST_F(nl, non_owner_without_cap_net_admin_gets_eperm)
{
	struct child_out *o = child_out_map();
	struct two_devs t;
	struct stats_info st;
	struct dev_info d;
	int a, b;

	ASSERT_NE(NULL, o);
	a = vhi_open();
	b = vhi_open();
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, vhi_set_owner(a));
	t.owned = vhi_dev_id(a);
	t.unowned = vhi_dev_id(b);

	ASSERT_EQ(0, run_without_net_admin(others_devices_child, &t, o))
		TH_LOG("child: %s", o->msg);
	ASSERT_EQ(0, o->rc[0]) TH_LOG("child's socket: %s", strerror(-o->rc[0]));
	EXPECT_EQ(-EPERM, o->rc[1]) TH_LOG("dev-get of another's device");
	EXPECT_EQ(-EPERM, o->rc[2]) TH_LOG("stats-get of another's device");
	EXPECT_EQ(-EPERM, o->rc[3]) TH_LOG("dev-get of an unowned device");
	EXPECT_EQ(-EPERM, o->rc[4]) TH_LOG("stats-get of an unowned device");
	EXPECT_EQ(-ENOENT, o->rc[5]);
	TH_LOG("extack: \"%s\"", o->msg);

	/* CAP_NET_ADMIN reads both. */
	get_dev_ok(_metadata, &self->s, t.owned, &d);
	EXPECT_EQ((__u32)getpid(), d.owner_pid);
	get_dev_ok(_metadata, &self->s, t.unowned, &d);
	get_stats_ok(_metadata, &self->s, t.owned, &st);
	get_stats_ok(_metadata, &self->s, t.unowned, &st);
	close(a);
	close(b);
	munmap(o, sizeof(*o));
}

struct own_args {
	struct two_devs others;
};

/* rc: socket, own do, own stats, dump, stats dump; u: counts and IDs. */
static void own_devices_child(struct child_out *o, void *arg)
{
	const struct own_args *a = arg;
	struct stats_info st;
	struct dev_list l;
	struct dev_info d;
	struct nlsk s;
	int fd;

	fd = vhi_open();
	if (fd < 0 || vhi_set_owner(fd)) {
		snprintf(o->msg, sizeof(o->msg), "own device: %s",
			 strerror(errno));
		o->rc[0] = -1;
		return;
	}
	o->u[0] = vhi_dev_id(fd);
	o->rc[0] = nl_open(&s, VHOST_IOMMU_FAMILY_NAME);
	if (o->rc[0])
		return;
	o->rc[1] = nl_dev_get(&s, o->u[0], &d);
	o->u[1] = d.owner_pid;
	o->u[2] = (__u32)getpid();
	o->rc[2] = nl_stats_get(&s, o->u[0], &st);
	o->u[3] = st.id;

	o->rc[3] = nl_dump_list(&s, false, &l, NULL);
	o->u[4] = l.n;
	o->u[5] = l.n ? l.devs[0].id : 0;
	o->u[6] = list_find(&l, a->others.owned, NULL) >= 0 ||
		  list_find(&l, a->others.unowned, NULL) >= 0;
	if (o->rc[3])
		snprintf(o->msg, sizeof(o->msg), "%s", l.err);
	list_free(&l);
	o->rc[4] = nl_dump_list(&s, true, &l, NULL);
	o->u[7] = l.n;
	o->u[8] = l.n ? l.stats[0].id : 0;
	o->u[9] = list_find(&l, a->others.owned, NULL) >= 0 ||
		  list_find(&l, a->others.unowned, NULL) >= 0;
	list_free(&l);
	nl_close(&s);
	close(fd);
}

TEST_F(nl, dump_without_cap_net_admin_has_only_own_devices)
{
	struct child_out *o = child_out_map();
	struct own_args args;
	int a, b;

	ASSERT_NE(NULL, o);
	a = vhi_open();
	b = vhi_open();
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, vhi_set_owner(a));
	args.others.owned = vhi_dev_id(a);
	args.others.unowned = vhi_dev_id(b);

	ASSERT_EQ(0, run_without_net_admin(own_devices_child, &args, o))
		TH_LOG("child: %s", o->msg);
	ASSERT_EQ(0, o->rc[0]) TH_LOG("%s", o->msg);
	/* Its own device, do and dump. */
	EXPECT_EQ(0, o->rc[1]) TH_LOG("dev-get of its own device");
	EXPECT_EQ(o->u[2], o->u[1]) TH_LOG("owner-pid");
	EXPECT_EQ(0, o->rc[2]) TH_LOG("stats-get of its own device");
	EXPECT_EQ(o->u[0], o->u[3]);
	EXPECT_EQ(0, o->rc[3]) TH_LOG("dump: %s", o->msg);
	EXPECT_EQ(1u, o->u[4]) TH_LOG("devices in the dump");
	EXPECT_EQ(o->u[0], o->u[5]);
	EXPECT_EQ(0u, o->u[6]) TH_LOG("the parent's devices were dumped");
	EXPECT_EQ(0, o->rc[4]);
	EXPECT_EQ(1u, o->u[7]) TH_LOG("devices in the stats dump");
	EXPECT_EQ(o->u[0], o->u[8]);
	EXPECT_EQ(0u, o->u[9]) TH_LOG("the parent's counters were dumped");
	close(a);
	close(b);
	munmap(o, sizeof(*o));
}

struct thread_get {
	struct nlsk *s;
	__u32 id;
	int ret;
};

static void *thread_dev_get(void *arg)
{
	struct thread_get *t = arg;
	struct dev_info d;

	t->ret = nl_dev_get(t->s, t->id, &d);
	return NULL;
}

/*
 * rc: 0 own do from a thread, 1 own do from a forked child (another mm),
 * 2 after VHOST_RESET_OWNER, 3 after SET_OWNER again, 4 stats after reset.
 */
static void owner_mm_child(struct child_out *o, void *arg)
{
	struct thread_get t = {};
	struct stats_info st;
	struct dev_info d;
	struct nlsk s;
	pthread_t th;
	pid_t pid;
	int fd;

	fd = vhi_open();
	if (fd < 0 || vhi_set_owner(fd) || nl_open(&s, VHOST_IOMMU_FAMILY_NAME)) {
		snprintf(o->msg, sizeof(o->msg), "setup: %s", strerror(errno));
		o->rc[9] = -1;
		return;
	}
	t.s = &s;
	t.id = vhi_dev_id(fd);
	t.ret = -EINPROGRESS;
	if (pthread_create(&th, NULL, thread_dev_get, &t) ||
	    pthread_join(th, NULL))
		o->rc[9] = -2;
	o->rc[0] = t.ret;

	pid = fork();
	if (!pid) {
		struct nlsk s2;

		if (nl_open(&s2, VHOST_IOMMU_FAMILY_NAME))
			_exit(100);
		_exit(-nl_dev_get(&s2, t.id, &d) & 0xff);
	}
	o->rc[1] = -wait_child(pid);

	vhi_reset_owner(fd);
	o->rc[2] = nl_dev_get(&s, t.id, &d);
	o->rc[4] = nl_stats_get(&s, t.id, &st);
	vhi_set_owner(fd);
	o->rc[3] = nl_dev_get(&s, t.id, &d);
	nl_close(&s);
	close(fd);
}

TEST(owner_is_its_mm_without_cap_net_admin)
{
	struct child_out *o = child_out_map();

	ASSERT_NE(NULL, o);
	ASSERT_EQ(0, run_without_net_admin(owner_mm_child, NULL, o))
		TH_LOG("child: %s", o->msg);
	ASSERT_EQ(0, o->rc[9]) TH_LOG("%s", o->msg);
	EXPECT_EQ(0, o->rc[0]) TH_LOG("a thread of the owner");
	EXPECT_EQ(-EPERM, o->rc[1]) TH_LOG("a child of the owner (another mm)");
	EXPECT_EQ(-EPERM, o->rc[2]) TH_LOG("after VHOST_RESET_OWNER");
	EXPECT_EQ(-EPERM, o->rc[4]) TH_LOG("stats after VHOST_RESET_OWNER");
	EXPECT_EQ(0, o->rc[3]) TH_LOG("owner again after VHOST_SET_OWNER");
	munmap(o, sizeof(*o));
}

/* ------------------------------------------------------------------ */
/* Bad requests */

TEST_F(nl, unknown_id_enoent)
{
	struct stats_info st;
	struct dev_info d;
	__u32 id;
	int fd;

	fd = vhi_open();
	ASSERT_LE(0, fd);
	id = vhi_dev_id(fd);
	ASSERT_LE(1u, id);
	get_dev_ok(_metadata, &self->s, id, &d);
	close(fd);
	/* Gone at once on close. */
	EXPECT_EQ(-ENOENT, nl_dev_get(&self->s, id, &d));
	EXPECT_EQ(-ENOENT, nl_stats_get(&self->s, id, &st));
	EXPECT_EQ(-ENOENT, nl_dev_get(&self->s, 0x7ffffff0, &d));
	EXPECT_EQ(-ENOENT, nl_stats_get(&self->s, 0x7ffffff0, &st));
	EXPECT_EQ(-ENOENT, nl_dev_get(&self->s, 0xffffffffu, &d));
	TH_LOG("extack: \"%s\"", self->s.ext_msg);
}

TEST_F(nl, missing_or_bad_id_einval)
{
	struct nlreq r;
	__u8 small = 1;
	int ret;

	req_init(&r, self->s.family, 0, VHOST_IOMMU_CMD_DEV_GET,
		 VHOST_IOMMU_FAMILY_VERSION);
	EXPECT_EQ(-EINVAL, nl_do(&self->s, &r, NULL, 0));
	/* The standard extack: which attribute is missing. */
	EXPECT_EQ((__u32)VHOST_IOMMU_A_DEV_ID, self->s.miss_type);

	req_init(&r, self->s.family, 0, VHOST_IOMMU_CMD_STATS_GET,
		 VHOST_IOMMU_FAMILY_VERSION);
	EXPECT_EQ(-EINVAL, nl_do(&self->s, &r, NULL, 0));
	EXPECT_EQ((__u32)VHOST_IOMMU_A_STATS_DEV_ID, self->s.miss_type);

	/* ID 0 is outside the policy (min 1). */
	req_init(&r, self->s.family, 0, VHOST_IOMMU_CMD_DEV_GET,
		 VHOST_IOMMU_FAMILY_VERSION);
	req_put_u32(&r, VHOST_IOMMU_A_DEV_ID, 0);
	ret = nl_do(&self->s, &r, NULL, 0);
	EXPECT_EQ(-ERANGE, ret) TH_LOG("ID 0: %s", strerror(-ret));
	/* A one-byte ID. */
	req_init(&r, self->s.family, 0, VHOST_IOMMU_CMD_DEV_GET,
		 VHOST_IOMMU_FAMILY_VERSION);
	req_put(&r, VHOST_IOMMU_A_DEV_ID, &small, 1);
	ret = nl_do(&self->s, &r, NULL, 0);
	EXPECT_GT(0, ret);
	EXPECT_NE(-ENOENT, ret);
	/* A command the family does not have. */
	req_init(&r, self->s.family, 0, VHOST_IOMMU_CMD_DEV_CHANGE_NTF,
		 VHOST_IOMMU_FAMILY_VERSION);
	req_put_u32(&r, VHOST_IOMMU_A_DEV_ID, 1);
	EXPECT_EQ(-EOPNOTSUPP, nl_do(&self->s, &r, NULL, 0));
}

/* ------------------------------------------------------------------ */
/* Notifications */

static void expect_ntf(struct __test_metadata *_metadata, struct nlsk *m,
		       __u32 id, __u32 event, int queue, __u32 owner)
{
	struct dev_info d;
	int ret;

	ret = wait_ntf(m, id, &d, NL_TIMEOUT_MS);
	ASSERT_EQ(0, ret)
		TH_LOG("no %s notification for device %u: %s %s",
		       event_name(event), id, strerror(-ret), d.err);
	EXPECT_EQ(event, d.event)
		TH_LOG("event %s, expected %s", event_name(d.event),
		       event_name(event));
	if (queue < 0) {
		EXPECT_FALSE(d.has_qidx);
	} else {
		EXPECT_TRUE(d.has_qidx);
		EXPECT_EQ((__u32)queue, d.qidx);
	}
	if (owner) {
		EXPECT_TRUE(d.has_owner);
		EXPECT_EQ(owner, d.owner_pid);
	} else {
		EXPECT_FALSE(d.has_owner);
	}
	/* One event, one notification. */
	EXPECT_TRUE(no_ntf(m, id, &d))
		TH_LOG("a second notification: %s %s", event_name(d.event),
		       d.err);
}

TEST_F(gdev, ntf_broken_request_queue)
{
	__u32 pid = getpid(), id, len;

	ASSERT_EQ(0, corrupt_loop(&self->g, &self->g.rq));
	ASSERT_EQ(0, vg_eventfd_wait(self->g.rq.err_fd, VG_TIMEOUT_MS, NULL));
	expect_ntf(_metadata, &self->m, self->g.id, VHOST_IOMMU_EVENT_BROKEN,
		   VHOST_IOMMU_VQ_REQUEST, pid);
	ASSERT_EQ(0, vg_wait_used(&self->g.rq, VG_TIMEOUT_MS, &id, &len));

	/* Set up again, broken again another way: a head beyond the queue. */
	ASSERT_EQ(0, vhi_set_vring_base(self->g.fd, 0, self->g.rq.avail_idx));
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, send_inval(&self->g, DOM_A));
	EXPECT_TRUE(no_ntf(&self->m, self->g.id, &(struct dev_info){}));
	ASSERT_EQ(0, corrupt_head(&self->g.rq));
	ASSERT_EQ(0, vg_eventfd_wait(self->g.rq.err_fd, VG_TIMEOUT_MS, NULL));
	expect_ntf(_metadata, &self->m, self->g.id, VHOST_IOMMU_EVENT_BROKEN,
		   VHOST_IOMMU_VQ_REQUEST, pid);
}

TEST_F(gdev, ntf_broken_without_an_err_eventfd)
{
	__u32 id, len;

	/* The VMM did not ask to be told; monitors are told anyway. */
	ASSERT_EQ(0, vhi_set_vring_err(self->g.fd, 0, -1));
	ASSERT_EQ(0, corrupt_loop(&self->g, &self->g.rq));
	ASSERT_EQ(0, vg_wait_used(&self->g.rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(0u, len);
	expect_ntf(_metadata, &self->m, self->g.id, VHOST_IOMMU_EVENT_BROKEN,
		   VHOST_IOMMU_VQ_REQUEST, getpid());
}

TEST_F(gdev, ntf_broken_event_queue)
{
	/* The worker reads the event queue when a page request comes. */
	ASSERT_EQ(0, corrupt_head(&self->g.eq));
	ASSERT_EQ(0, imock_trigger_iopf(self->g.w.fd, self->g.w.idev_id, 0, 1,
					IOMMU_PGFAULT_PERM_READ, FAULT_ADDR));
	ASSERT_EQ(0, vg_eventfd_wait(self->g.eq.err_fd, VG_TIMEOUT_MS, NULL));
	expect_ntf(_metadata, &self->m, self->g.id, VHOST_IOMMU_EVENT_BROKEN,
		   VHOST_IOMMU_VQ_EVENT, getpid());
}

TEST_F(gdev, ntf_reset)
{
	ASSERT_EQ(0, vhi_reset_device(self->g.fd));
	expect_ntf(_metadata, &self->m, self->g.id, VHOST_IOMMU_EVENT_RESET,
		   -1, getpid());
	/* A second reset, a second notification. */
	ASSERT_EQ(0, vg_rings_up(self->g.fd, &self->g.rq, &self->g.eq,
				 ALL_FEATURES));
	ASSERT_EQ(0, vhi_reset_device(self->g.fd));
	expect_ntf(_metadata, &self->m, self->g.id, VHOST_IOMMU_EVENT_RESET,
		   -1, getpid());
}

TEST_F(gdev, ntf_owner_lost_on_reset_owner_and_close)
{
	ASSERT_EQ(0, vhi_reset_owner(self->g.fd));
	expect_ntf(_metadata, &self->m, self->g.id,
		   VHOST_IOMMU_EVENT_OWNER_LOST, -1, getpid());
	ASSERT_EQ(0, vhi_set_owner(self->g.fd));
	EXPECT_TRUE(no_ntf(&self->m, self->g.id, &(struct dev_info){}))
		TH_LOG("SET_OWNER notified");
	close(self->g.fd);
	self->g.fd = -1;
	expect_ntf(_metadata, &self->m, self->g.id,
		   VHOST_IOMMU_EVENT_OWNER_LOST, -1, getpid());
}

TEST_F(nl, ntf_owner_lost_only_for_owned_devices)
{
	struct nlsk m;
	struct dev_info d;
	__u32 unowned, child_dev;
	pid_t pid;
	int fd, p[2];

	ASSERT_EQ(0, nl_open(&m, VHOST_IOMMU_FAMILY_NAME));
	ASSERT_EQ(0, nl_monitor(&m, true));

	/* Closing a device nobody owned tells nothing. */
	fd = vhi_open();
	ASSERT_LE(0, fd);
	unowned = vhi_dev_id(fd);
	close(fd);
	EXPECT_TRUE(no_ntf(&m, unowned, &d))
		TH_LOG("closing an unowned device: %s", event_name(d.event));

	/* A VMM that exits without closing: the owner it was. */
	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		__u32 id = 0;

		fd = vhi_open();
		if (fd >= 0 && !vhi_set_owner(fd))
			id = vhi_dev_id(fd);
		if (write(p[1], &id, sizeof(id)) != sizeof(id))
			_exit(1);
		_exit(0);	/* the device goes with the process */
	}
	close(p[1]);
	ASSERT_EQ((ssize_t)sizeof(child_dev), read(p[0], &child_dev, sizeof(child_dev)));
	close(p[0]);
	ASSERT_LE(1u, child_dev);
	EXPECT_EQ(0, wait_child(pid));
	expect_ntf(_metadata, &m, child_dev, VHOST_IOMMU_EVENT_OWNER_LOST, -1,
		   (__u32)pid);
	nl_close(&m);
}

/* rc: 0 socket, 1 join, 2 bind() with the group, 3 join as an owner. */
static void join_child(struct child_out *o, void *arg)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlsk s;
	int fd;

	o->rc[0] = nl_open(&s, VHOST_IOMMU_FAMILY_NAME);
	if (o->rc[0])
		return;
	o->rc[1] = nl_monitor(&s, true);
	o->rc[2] = -EDOM;
	if (s.monitor >= 1 && s.monitor <= 32) {
		int b = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
			       NETLINK_GENERIC);

		sa.nl_groups = 1u << (s.monitor - 1);
		o->rc[2] = bind(b, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
		close(b);
	}
	fd = vhi_open();
	if (fd >= 0 && !vhi_set_owner(fd))
		o->rc[3] = nl_monitor(&s, true);
	else
		o->rc[3] = -EBADF;
	close(fd);
	nl_close(&s);
}

TEST_F(nl, monitor_join_needs_cap_net_admin)
{
	struct child_out *o = child_out_map();

	ASSERT_NE(NULL, o);
	ASSERT_EQ(0, run_without_net_admin(join_child, NULL, o))
		TH_LOG("child: %s", o->msg);
	ASSERT_EQ(0, o->rc[0]);
	EXPECT_EQ(-EPERM, o->rc[1]) TH_LOG("NETLINK_ADD_MEMBERSHIP");
	if (o->rc[2] != -EDOM) {
		EXPECT_EQ(-EPERM, o->rc[2])
			TH_LOG("bind() with nl_groups");
	}
	EXPECT_EQ(-EPERM, o->rc[3]) TH_LOG("an owner without CAP_NET_ADMIN");
	/* With it, join and leave. */
	EXPECT_EQ(0, nl_monitor(&self->s, true));
	EXPECT_EQ(0, nl_monitor(&self->s, false));
	munmap(o, sizeof(*o));
}

/* ------------------------------------------------------------------ */
/* Dumps: many devices, devices coming and going */

#define MANY_DEVS	200

static void expect_all_once(struct __test_metadata *_metadata,
			    const struct dev_list *l, const __u32 *ids,
			    unsigned int n)
{
	unsigned int i, count, missing = 0, dups = 0;

	for (i = 0; i < n; i++) {
		list_find(l, ids[i], &count);
		if (!count)
			missing++;
		if (count > 1)
			dups++;
	}
	EXPECT_EQ(0u, missing);
	EXPECT_EQ(0u, dups);
	EXPECT_EQ(0u, l->bad_order);
}

TEST_F_TIMEOUT(nl, dump_of_200_devices_spans_messages, 120)
{
	__u32 ids[MANY_DEVS];
	int fds[MANY_DEVS];
	struct dump_info di;
	struct dev_list l;
	unsigned int i, omitted, left;
	int ret;

	for (i = 0; i < MANY_DEVS; i++) {
		fds[i] = vhi_open();
		ASSERT_LE(0, fds[i]);
		/* A few owned ones, so entries differ in size. */
		ASSERT_EQ(0, i % 25 ? 0 : vhi_set_owner(fds[i]));
		ids[i] = vhi_dev_id(fds[i]);
		ASSERT_LE(1u, ids[i]);
	}

	ret = nl_dump_list(&self->s, false, &l, &di);
	ASSERT_EQ(0, ret) TH_LOG("dev dump: %s %s", strerror(-ret), l.err);
	TH_LOG("dev-get dump: %u devices in %u datagrams", l.n, di.datagrams);
	EXPECT_LE(2u, di.datagrams);
	EXPECT_LE((unsigned int)MANY_DEVS, l.n);
	EXPECT_EQ(di.messages, l.n);
	expect_all_once(_metadata, &l, ids, MANY_DEVS);
	for (i = 0, omitted = 0; i < l.n; i++)
		omitted += l.devs[i].lists_omitted;
	EXPECT_EQ(0u, omitted);
	list_free(&l);

	ret = nl_dump_list(&self->s, true, &l, &di);
	ASSERT_EQ(0, ret) TH_LOG("stats dump: %s %s", strerror(-ret), l.err);
	TH_LOG("stats-get dump: %u devices in %u datagrams", l.n,
	       di.datagrams);
	EXPECT_LE(2u, di.datagrams);
	expect_all_once(_metadata, &l, ids, MANY_DEVS);
	list_free(&l);

	for (i = 0; i < MANY_DEVS; i++)
		close(fds[i]);
	/* All gone. */
	ASSERT_EQ(0, nl_dump_list(&self->s, false, &l, NULL));
	for (i = 0, left = 0; i < MANY_DEVS; i++)
		left += list_find(&l, ids[i], NULL) >= 0;
	EXPECT_EQ(0u, left);
	list_free(&l);
}

/*
 * Endpoints and bindings enough for a device's dev-get message to be
 * larger than a dump message can be (32 KiB): 400 endpoints and 1024
 * bindings of 28 bytes each, about 40 KiB.
 */
#define BIG_EPS		400u
#define BIG_BINDS	((unsigned int)VHOST_IOMMU_MAX_BINDINGS)

TEST_F_TIMEOUT(gdev, dump_leaves_out_lists_too_big_for_a_message, 300)
{
	struct vhost_iommu_bind b = {
		.format = VHOST_IOMMU_INV_FORMAT_SELFTEST,
		.input_start = BIND_START,
		.input_end = BIND_END,
		.granule_log2 = BIND_GRANULE,
	};
	struct dev_info d, dd;
	struct dev_list l;
	__s64 t0 = now_ms();
	unsigned int i;
	int at, ret;

	/* The fixture has one endpoint and two bindings. */
	for (i = 1; i < BIG_EPS; i++) {
		ret = vhi_add_endpoint(self->g.fd, ENDPOINT + i, 1000 + i, i);
		ASSERT_EQ(0, ret) TH_LOG("endpoint %u: %s", i, strerror(-ret));
	}
	TH_LOG("%u endpoints: %lld ms", BIG_EPS, (long long)(now_ms() - t0));
	b.object_id = self->g.w.nested_id;
	for (i = 0; i < BIG_BINDS - 2; i++) {
		b.domain = 100 + i;
		ret = vhi_bind_domain(self->g.fd, &b);
		ASSERT_EQ(0, ret) TH_LOG("binding %u: %s", i, strerror(-ret));
	}
	TH_LOG("%u bindings: %lld ms", BIG_BINDS, (long long)(now_ms() - t0));

	/* The do has everything. */
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	EXPECT_EQ(BIG_EPS, d.all_eps);
	EXPECT_EQ(BIG_BINDS, d.all_binds);
	EXPECT_FALSE(d.lists_omitted);
	TH_LOG("do: %lld ms", (long long)(now_ms() - t0));

	/* The dump has the device, without its lists, and says so. */
	ret = nl_dump_list(&self->s, false, &l, NULL);
	ASSERT_EQ(0, ret) TH_LOG("dump: %s %s", strerror(-ret), l.err);
	TH_LOG("dump: %lld ms", (long long)(now_ms() - t0));
	at = list_find(&l, self->g.id, NULL);
	ASSERT_LE(0, at);
	dd = l.devs[at];
	EXPECT_TRUE(dd.lists_omitted);
	EXPECT_EQ(0u, dd.all_eps);
	EXPECT_EQ(0u, dd.all_binds);
	/* The rest is the do's. */
	EXPECT_EQ(d.owner_pid, dd.owner_pid);
	EXPECT_EQ(d.features, dd.features);
	EXPECT_EQ(d.nr_queues, dd.nr_queues);
	EXPECT_EQ(0, memcmp(d.q, dd.q, sizeof(d.q)));
	EXPECT_EQ(d.has_fq, dd.has_fq);
	list_free(&l);

	/*
	 * Back to small: the dump has the lists again. The bindings first:
	 * removing an endpoint walks every binding.
	 */
	for (i = 0; i < BIG_BINDS - 2; i++) {
		ASSERT_EQ(0, vhi_unbind_domain(self->g.fd, 100 + i, 0, 0))
			TH_LOG("domain %u", 100 + i);
	}
	for (i = 1; i < BIG_EPS; i++) {
		ASSERT_EQ(0, vhi_remove_endpoint(self->g.fd, ENDPOINT + i))
			TH_LOG("endpoint %u", ENDPOINT + i);
	}
	TH_LOG("removed: %lld ms", (long long)(now_ms() - t0));
	ASSERT_EQ(0, nl_dump_list(&self->s, false, &l, NULL));
	at = list_find(&l, self->g.id, NULL);
	ASSERT_LE(0, at);
	EXPECT_FALSE(l.devs[at].lists_omitted);
	EXPECT_EQ(1u, l.devs[at].all_eps);
	EXPECT_EQ(2u, l.devs[at].all_binds);
	list_free(&l);
}

#define CHURN_THREADS	4
#define CHURN_MIN_ITERS	500
#define CHURN_MIN_MS	3000
#define CHURN_MAX_MS	60000
#define CHURN_STABLE	32

struct churn {
	int stop;
	unsigned int iters;
	int err;
	unsigned int owned;
};

/* Opens and closes devices until told to stop; every 8th gets an owner. */
static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	int fd;

	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		fd = vhi_open();
		if (fd < 0) {
			c->err = fd;
			break;
		}
		if (c->iters % 8 == 0) {
			int ret = vhi_set_owner(fd);

			if (ret) {
				c->err = ret;
				close(fd);
				break;
			}
			c->owned++;
		}
		close(fd);
		__atomic_store_n(&c->iters, c->iters + 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

TEST_F_TIMEOUT(nl, dump_while_devices_come_and_go, 180)
{
	struct churn c[CHURN_THREADS] = {};
	pthread_t th[CHURN_THREADS];
	unsigned int dumps = 0, entries = 0, dos = 0, enoent = 0, intr = 0;
	unsigned int i, min_iters, before;
	__u32 last_id = 0;
	struct dump_info di;
	struct dev_list l;
	struct dev_info d;
	__s64 start, el;
	pid_t me = getpid(), other;
	int ret, stop_pipe[2], stable[CHURN_STABLE];
	__u32 stable_id[CHURN_STABLE];
	bool bad = false, stats;
	unsigned int missed = 0, count;

	/* The baseline: what exists without the churn. */
	ASSERT_EQ(0, nl_dump_list(&self->s, false, &l, NULL));
	before = l.n;
	list_free(&l);

	/* Devices that stay: every dump must have each of them once. */
	for (i = 0; i < CHURN_STABLE; i++) {
		stable[i] = vhi_open();
		ASSERT_LE(0, stable[i]);
		ASSERT_EQ(0, i % 4 ? 0 : vhi_set_owner(stable[i]));
		stable_id[i] = vhi_dev_id(stable[i]);
	}

	/* Another process as well (forked before any thread). */
	ASSERT_EQ(0, pipe(stop_pipe));
	other = fork();
	ASSERT_LE(0, other);
	if (!other) {
		struct pollfd p = { .fd = stop_pipe[0], .events = POLLIN };
		unsigned int k = 0;
		int fd;

		close(stop_pipe[1]);
		while (poll(&p, 1, 0) == 0) {
			fd = vhi_open();
			if (fd < 0)
				_exit(1);
			if (k++ % 4 == 0 && vhi_set_owner(fd))
				_exit(2);
			close(fd);
		}
		_exit(0);
	}
	close(stop_pipe[0]);

	for (i = 0; i < CHURN_THREADS; i++) {
		ASSERT_EQ(0, pthread_create(&th[i], NULL, churn_thread, &c[i]))
			TH_LOG("thread %u", i);
	}

	start = now_ms();
	for (;;) {
		el = now_ms() - start;
		min_iters = ~0u;
		for (i = 0; i < CHURN_THREADS; i++) {
			unsigned int it = __atomic_load_n(&c[i].iters,
							  __ATOMIC_RELAXED);

			if (it < min_iters)
				min_iters = it;
		}
		if (el > CHURN_MAX_MS ||
		    (el >= CHURN_MIN_MS && min_iters >= CHURN_MIN_ITERS))
			break;

		stats = dumps % 2;
		ret = nl_dump_list(&self->s, stats, &l, &di);
		dumps++;
		if (ret) {
			TH_LOG("dump %u: %s %s %s", dumps, strerror(-ret),
			       l.err, self->s.ext_msg);
			bad = true;
			list_free(&l);
			break;
		}
		if (l.bad_order) {
			TH_LOG("dump %u: %u IDs out of order", dumps,
			       l.bad_order);
			bad = true;
		}
		intr += di.interrupted;
		entries += l.n;
		for (i = 0; i < CHURN_STABLE; i++) {
			list_find(&l, stable_id[i], &count);
			if (count != 1) {
				TH_LOG("dump %u: device %u seen %u times",
				       dumps, stable_id[i], count);
				missed++;
				bad = true;
			}
		}
		for (i = 0; i < l.n && !stats; i++) {
			const struct dev_info *e = &l.devs[i];

			if (e->has_owner && e->owner_pid != (__u32)me &&
			    e->owner_pid != (__u32)other) {
				TH_LOG("owner-pid %u is nobody's", e->owner_pid);
				bad = true;
			}
		}
		if (l.n)
			last_id = list_id(&l, l.n - 1);
		list_free(&l);
		if (bad)
			break;

		/* A do on the newest ID seen: there, or just closed. */
		if (last_id) {
			ret = nl_dev_get(&self->s, last_id, &d);
			dos++;
			if (ret == -ENOENT) {
				enoent++;
			} else if (ret) {
				TH_LOG("dev-get %u: %s %s", last_id,
				       strerror(-ret), d.err);
				bad = true;
				break;
			}
		}
	}

	for (i = 0; i < CHURN_THREADS; i++)
		__atomic_store_n(&c[i].stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < CHURN_THREADS; i++)
		pthread_join(th[i], NULL);
	close(stop_pipe[1]);
	EXPECT_EQ(0, wait_child(other)) TH_LOG("the other process failed");

	TH_LOG("%lld ms: %u dumps (%u entries, %u interrupted), %u dos (%u ENOENT)",
	       (long long)(now_ms() - start), dumps, entries, intr, dos,
	       enoent);
	for (i = 0; i < CHURN_THREADS; i++) {
		TH_LOG("thread %u: %u open/close, %u owned", i, c[i].iters,
		       c[i].owned);
		EXPECT_EQ(0, c[i].err) TH_LOG("thread %u: %s", i,
					      strerror(-c[i].err));
		EXPECT_LE((unsigned int)CHURN_MIN_ITERS, c[i].iters);
	}
	EXPECT_FALSE(bad);
	EXPECT_EQ(0u, missed);
	EXPECT_LE(10u, dumps);
	for (i = 0; i < CHURN_STABLE; i++)
		close(stable[i]);

	/* Nothing left behind in the registry. */
	ASSERT_EQ(0, nl_dump_list(&self->s, false, &l, NULL));
	EXPECT_EQ(before, l.n);
	list_free(&l);
}

/* ------------------------------------------------------------------ */
/* A strict JSON reader (RFC 8259), for the CLI's output */

enum jtype { J_INVALID = -1, J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

/**
 * struct jval - a JSON value
 * @t: its type
 * @is_uint: J_NUM: a non-negative integer that fits @u
 * @u: its value
 * @s: J_STR: the decoded string
 * @n: J_ARR, J_OBJ: members
 * @items: their values
 * @keys: J_OBJ: their names
 */
struct jval {
	enum jtype t;
	bool is_uint;
	__u64 u;
	char *s;
	unsigned int n;
	struct jval *items;
	char **keys;
};

struct jparser {
	const char *p;
	const char *end;
	int depth;
	char err[128];
};

static int jfail(struct jparser *j, const char *what)
{
	if (!j->err[0])
		snprintf(j->err, sizeof(j->err), "%s at \"%.20s\"", what, j->p);
	return -1;
}

static void jskip_ws(struct jparser *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static void jfree(struct jval *v)
{
	unsigned int i;

	for (i = 0; i < v->n; i++) {
		jfree(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->s);
	memset(v, 0, sizeof(*v));
}

static int jhex4(struct jparser *j, unsigned int *cp)
{
	unsigned int i, c = 0;

	for (i = 0; i < 4; i++) {
		if (j->p >= j->end || !isxdigit((unsigned char)*j->p))
			return jfail(j, "bad \\u escape");
		c = c * 16 + (isdigit((unsigned char)*j->p) ?
			      *j->p - '0' : (tolower(*j->p) - 'a' + 10));
		j->p++;
	}
	*cp = c;
	return 0;
}

/* Appends code point @cp as UTF-8. */
static void jput_utf8(char *out, size_t *n, unsigned int cp)
{
	if (cp < 0x80) {
		out[(*n)++] = cp;
	} else if (cp < 0x800) {
		out[(*n)++] = 0xc0 | (cp >> 6);
		out[(*n)++] = 0x80 | (cp & 0x3f);
	} else if (cp < 0x10000) {
		out[(*n)++] = 0xe0 | (cp >> 12);
		out[(*n)++] = 0x80 | ((cp >> 6) & 0x3f);
		out[(*n)++] = 0x80 | (cp & 0x3f);
	} else {
		out[(*n)++] = 0xf0 | (cp >> 18);
		out[(*n)++] = 0x80 | ((cp >> 12) & 0x3f);
		out[(*n)++] = 0x80 | ((cp >> 6) & 0x3f);
		out[(*n)++] = 0x80 | (cp & 0x3f);
	}
}

/* Length of the valid UTF-8 sequence at @p, or 0. */
static int jutf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned int cp, len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (p + len > end)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static int jstring(struct jparser *j, char **out)
{
	static const char esc_from[] = "\"\\/bfnrt";
	static const char esc_to[] = "\"\\/\b\f\n\r\t";
	const char *start = ++j->p;	/* past the quote */
	const char *esc;
	size_t n = 0;
	unsigned int cp, lo;
	char *s;
	int len;

	/* Decoded, it is never longer than the source. */
	s = malloc(j->end - start + 1);
	if (!s)
		return jfail(j, "out of memory");
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = *j->p;

		if (c < 0x20) {
			free(s);
			return jfail(j, "control character in a string");
		}
		if (c != '\\') {
			len = jutf8_len((const unsigned char *)j->p,
					(const unsigned char *)j->end);
			if (!len) {
				free(s);
				return jfail(j, "bad UTF-8");
			}
			memcpy(s + n, j->p, len);
			n += len;
			j->p += len;
			continue;
		}
		if (++j->p >= j->end)
			break;
		esc = *j->p ? strchr(esc_from, *j->p) : NULL;
		if (esc) {
			s[n++] = esc_to[esc - esc_from];
			j->p++;
			continue;
		}
		switch (*j->p++) {
		case 'u':
			if (jhex4(j, &cp)) {
				free(s);
				return -1;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (j->end - j->p < 2 || j->p[0] != '\\' ||
				    j->p[1] != 'u') {
					free(s);
					return jfail(j, "lone surrogate");
				}
				j->p += 2;
				if (jhex4(j, &lo) || lo < 0xdc00 || lo > 0xdfff) {
					free(s);
					return jfail(j, "bad surrogate pair");
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				free(s);
				return jfail(j, "lone surrogate");
			}
			jput_utf8(s, &n, cp);
			break;
		default:
			free(s);
			j->p--;
			return jfail(j, "bad escape");
		}
	}
	if (j->p >= j->end) {
		free(s);
		return jfail(j, "unterminated string");
	}
	j->p++;
	s[n] = 0;
	*out = s;
	return 0;
}

static int jnumber(struct jparser *j, struct jval *v)
{
	const char *start = j->p;
	bool integer = true, neg = false;
	__u64 u = 0;
	bool overflow = false;

	v->t = J_NUM;
	if (*j->p == '-') {
		neg = true;
		j->p++;
	}
	if (j->p >= j->end || !isdigit((unsigned char)*j->p))
		return jfail(j, "bad number");
	if (*j->p == '0') {
		j->p++;
		if (j->p < j->end && isdigit((unsigned char)*j->p))
			return jfail(j, "leading zero");
	} else {
		while (j->p < j->end && isdigit((unsigned char)*j->p)) {
			unsigned int dig = *j->p++ - '0';

			if (u > (~0ULL - dig) / 10)
				overflow = true;
			u = u * 10 + dig;
		}
	}
	if (j->p < j->end && *j->p == '.') {
		integer = false;
		j->p++;
		if (j->p >= j->end || !isdigit((unsigned char)*j->p))
			return jfail(j, "bad fraction");
		while (j->p < j->end && isdigit((unsigned char)*j->p))
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		integer = false;
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || !isdigit((unsigned char)*j->p))
			return jfail(j, "bad exponent");
		while (j->p < j->end && isdigit((unsigned char)*j->p))
			j->p++;
	}
	v->is_uint = integer && !overflow && (!neg || !u);
	v->u = u;
	(void)start;
	return 0;
}

static int jvalue(struct jparser *j, struct jval *v);

static int jmembers(struct jparser *j, struct jval *v, bool object)
{
	char close = object ? '}' : ']';
	unsigned int i;
	char *key;

	j->p++;
	jskip_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	for (;;) {
		key = NULL;
		jskip_ws(j);
		if (object) {
			if (j->p >= j->end || *j->p != '"')
				return jfail(j, "expected a key");
			if (jstring(j, &key))
				return -1;
			for (i = 0; i < v->n; i++) {
				if (!strcmp(v->keys[i], key)) {
					free(key);
					return jfail(j, "duplicate key");
				}
			}
			jskip_ws(j);
			if (j->p >= j->end || *j->p != ':') {
				free(key);
				return jfail(j, "expected ':'");
			}
			j->p++;
		}
		v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
		if (object)
			v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
		if (!v->items || (object && !v->keys)) {
			free(key);
			return jfail(j, "out of memory");
		}
		memset(&v->items[v->n], 0, sizeof(v->items[v->n]));
		if (object)
			v->keys[v->n] = key;
		v->n++;
		if (jvalue(j, &v->items[v->n - 1]))
			return -1;
		jskip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return 0;
		}
		return jfail(j, object ? "expected ',' or '}'" :
				 "expected ',' or ']'");
	}
}

static int jliteral(struct jparser *j, const char *word, enum jtype t,
		    struct jval *v)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n))
		return jfail(j, "bad literal");
	j->p += n;
	v->t = t;
	return 0;
}

static int jvalue(struct jparser *j, struct jval *v)
{
	int ret;

	jskip_ws(j);
	if (j->p >= j->end)
		return jfail(j, "expected a value");
	if (++j->depth > 64)
		return jfail(j, "nested too deep");
	switch (*j->p) {
	case '{':
		v->t = J_OBJ;
		ret = jmembers(j, v, true);
		break;
	case '[':
		v->t = J_ARR;
		ret = jmembers(j, v, false);
		break;
	case '"':
		v->t = J_STR;
		ret = jstring(j, &v->s);
		break;
	case 't':
		ret = jliteral(j, "true", J_TRUE, v);
		break;
	case 'f':
		ret = jliteral(j, "false", J_FALSE, v);
		break;
	case 'n':
		ret = jliteral(j, "null", J_NULL, v);
		break;
	default:
		ret = jnumber(j, v);
		break;
	}
	j->depth--;
	return ret;
}

/* Parses all of @text (one value and whitespace); 0 or -1 with @err. */
static int jparse(const char *text, size_t len, struct jval *v, char *err,
		  size_t errlen)
{
	struct jparser j = { .p = text, .end = text + len };

	memset(v, 0, sizeof(*v));
	if (!jvalue(&j, v)) {
		jskip_ws(&j);
		if (j.p == j.end)
			return 0;
		jfail(&j, "trailing characters");
	}
	snprintf(err, errlen, "%s", j.err);
	jfree(v);
	return -1;
}

static const struct jval *jget(const struct jval *obj, const char *key)
{
	unsigned int i;

	if (obj->t != J_OBJ)
		return NULL;
	for (i = 0; i < obj->n; i++)
		if (!strcmp(obj->keys[i], key))
			return &obj->items[i];
	return NULL;
}

/* obj[key] as an unsigned integer; ~0ULL - 1 if absent or not one. */
#define JBAD	(~0ULL - 1)

static __u64 juint(const struct jval *obj, const char *key)
{
	const struct jval *v = jget(obj, key);

	return v && v->t == J_NUM && v->is_uint ? v->u : JBAD;
}

/* The checker checked: it must refuse what is not JSON. */
TEST(json_checker_is_strict)
{
	static const char * const good[] = {
		"[]", "{}", " [ 1 , -2.5e3 , \"a\\u00e9\\n\" , true, null ] ",
		"{\"a\":{\"b\":[0]}}", "18446744073709551615", "\"\\ud83d\\ude00\"",
	};
	static const char * const bad[] = {
		"", "[1,]", "{\"a\":1,}", "[01]", "{\"a\" 1}", "{'a':1}",
		"[1] [2]", "{\"a\":1,\"a\":2}", "[\"\t\"]", "[tru]", "[NaN]",
		"[1.]", "[.5]", "[\"\\x\"]", "[\"\\ud800\"]", "{a:1}", "[",
		"\"abc", "[1 2]", "[+1]", "[\"\xc3\x28\"]",
	};
	char err[128];
	struct jval v;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		EXPECT_EQ(0, jparse(good[i], strlen(good[i]), &v, err,
				    sizeof(err))) {
			TH_LOG("refused %s: %s", good[i], err);
		}
		jfree(&v);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-1, jparse(bad[i], strlen(bad[i]), &v, err,
				     sizeof(err))) {
			TH_LOG("accepted '%s'", bad[i]);
		}
		jfree(&v);
	}
	ASSERT_EQ(0, jparse("18446744073709551615", 20, &v, err, sizeof(err)));
	EXPECT_TRUE(v.is_uint);
	EXPECT_EQ(~0ULL, v.u);
	jfree(&v);
	ASSERT_EQ(0, jparse("18446744073709551616", 20, &v, err, sizeof(err)));
	EXPECT_FALSE(v.is_uint);
	jfree(&v);
}

/* ------------------------------------------------------------------ */
/* The CLI */

#define CLI_OUT_MAX	(1024 * 1024)
#define CLI_TIMEOUT_MS	20000

struct cli_run {
	int status;		/* exit status, -1 if killed or signalled */
	char *out;		/* stdout, NUL-terminated */
	size_t out_len;
	char err[2048];		/* stderr, truncated */
};

static bool have_cli(void)
{
	return access(CLI_PATH, X_OK) == 0;
}

#define NO_CLI	CLI_PATH " is absent: the CLI (tools/vhost-iommu) was not built"

static pid_t cli_spawn(char *const argv[], bool drop_cap, int *out_fd,
		       int *err_fd)
{
	int o[2], e[2];
	pid_t pid;

	if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (drop_cap && drop_net_admin())
			_exit(125);
		if (dup2(o[1], 1) < 0 || dup2(e[1], 2) < 0)
			_exit(126);
		execv(CLI_PATH, argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	*out_fd = o[0];
	*err_fd = e[0];
	return pid;
}

/* Runs the CLI with @args (NULL-terminated, program name excluded). */
static void cli_run(struct cli_run *r, bool drop_cap, ...)
{
	char *argv[16] = { "vhost-iommu" };
	size_t err_len = 0;
	unsigned int argc = 1;
	struct pollfd p[2];
	__s64 end = now_ms() + CLI_TIMEOUT_MS;
	int out_fd, err_fd, open_fds = 2, status;
	va_list ap;
	pid_t pid;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	r->out = calloc(1, CLI_OUT_MAX + 1);
	va_start(ap, drop_cap);
	while (argc < ARRAY_SIZE(argv) - 1 &&
	       (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	if (!r->out)
		return;
	pid = cli_spawn(argv, drop_cap, &out_fd, &err_fd);
	if (pid < 0)
		return;
	p[0].fd = out_fd;
	p[1].fd = err_fd;
	p[0].events = POLLIN;
	p[1].events = POLLIN;
	while (open_fds && now_ms() < end) {
		if (poll(p, 2, 100) <= 0)
			continue;
		if (p[0].revents) {
			n = read(out_fd, r->out + r->out_len,
				 CLI_OUT_MAX - r->out_len);
			if (n > 0) {
				r->out_len += n;
			} else {
				p[0].fd = -1;
				open_fds--;
			}
		}
		if (p[1].revents) {
			char tmp[512];

			n = read(err_fd, tmp, sizeof(tmp));
			if (n > 0) {
				size_t room = sizeof(r->err) - 1 - err_len;

				if ((size_t)n > room)
					n = room;
				memcpy(r->err + err_len, tmp, n);
				err_len += n;
			} else {
				p[1].fd = -1;
				open_fds--;
			}
		}
	}
	if (open_fds)
		kill(pid, SIGKILL);
	close(out_fd);
	close(err_fd);
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !open_fds)
		r->status = WEXITSTATUS(status);
}

static void cli_free(struct cli_run *r)
{
	free(r->out);
	r->out = NULL;
}

/* Runs `vhost-iommu -j <cmd> [<id>]` and parses its output. */
static int cli_json(struct __test_metadata *_metadata, struct jval *v,
		    const char *cmd, __u32 id)
{
	char idbuf[16], err[128];
	struct cli_run r;
	int ret;

	snprintf(idbuf, sizeof(idbuf), "%u", id);
	cli_run(&r, false, "-j", cmd, id ? idbuf : NULL, NULL);
	EXPECT_EQ(0, r.status) TH_LOG("vhost-iommu -j %s %s: %s", cmd,
				      id ? idbuf : "", r.err);
	ret = r.status;
	if (!ret && jparse(r.out, r.out_len, v, err, sizeof(err))) {
		TH_LOG("not JSON (%s):\n%s", err, r.out);
		ret = -1;
	}
	cli_free(&r);
	return ret;
}

/* The stats object of @id in a `stats -j` array, checked key by key. */
static const struct jval *cli_stats_of(struct __test_metadata *_metadata,
				       const struct jval *arr, __u32 id)
{
	const struct jval *found = NULL;
	unsigned int i, k;

	if (arr->t != J_ARR)
		return NULL;
	for (i = 0; i < arr->n; i++) {
		const struct jval *o = &arr->items[i];

		EXPECT_EQ(J_OBJ, o->t);
		if (o->t != J_OBJ)
			continue;
		/* "dev" and the counters, each a number; nothing else. */
		EXPECT_EQ(NR_COUNTERS + 1, o->n);
		EXPECT_NE(JBAD, juint(o, "dev"));
		for (k = 0; k < NR_COUNTERS; k++) {
			EXPECT_NE(JBAD, juint(o, counters[k].name)) {
				TH_LOG("no counter \"%s\"", counters[k].name);
			}
		}
		if (juint(o, "dev") == id) {
			EXPECT_EQ(NULL, found) TH_LOG("device %u twice", id);
			found = o;
		}
	}
	return found;
}

static void expect_cli_counters(struct __test_metadata *_metadata,
				const struct jval *o,
				const struct vhost_iommu_stats *st)
{
	unsigned int k;

	for (k = 0; k < NR_COUNTERS; k++) {
		EXPECT_EQ(ioctl_counter(st, k), juint(o, counters[k].name)) {
			TH_LOG("\"%s\"", counters[k].name);
		}
	}
}

TEST_F(gdev, cli_stats_json_counts_exactly_the_requests_sent)
{
	struct vhost_iommu_stats s0, s1;
	const struct jval *o0, *o1;
	struct jval v0, v1, vd;

	if (!have_cli())
		SKIP(return, NO_CLI);
	ASSERT_EQ(0, quiet_ioctl_stats(self->g.fd, &s0));
	ASSERT_EQ(0, cli_json(_metadata, &v0, "stats", self->g.id));
	ASSERT_EQ(J_ARR, v0.t);
	ASSERT_EQ(1u, v0.n);
	o0 = cli_stats_of(_metadata, &v0, self->g.id);
	ASSERT_NE(NULL, o0);
	expect_cli_counters(_metadata, o0, &s0);

	ASSERT_EQ(0, send_invals(&self->g, DOM_A, 5));
	ASSERT_EQ(0, send_malformeds(&self->g, 2));
	ASSERT_EQ(0, quiet_ioctl_stats(self->g.fd, &s1));
	ASSERT_EQ(0, cli_json(_metadata, &v1, "stats", self->g.id));
	o1 = cli_stats_of(_metadata, &v1, self->g.id);
	ASSERT_NE(NULL, o1);
	expect_cli_counters(_metadata, o1, &s1);
	EXPECT_EQ(7ULL, juint(o1, "requests") - juint(o0, "requests"));
	EXPECT_EQ(2ULL, juint(o1, "malformed") - juint(o0, "malformed"));
	EXPECT_EQ(5ULL, juint(o1, "invalidations") -
			juint(o0, "invalidations"));
	EXPECT_EQ(0ULL, juint(o1, "slow_path") - juint(o0, "slow_path"));

	/* The dump form: our device once, the same numbers. */
	ASSERT_EQ(0, cli_json(_metadata, &vd, "stats", 0));
	o1 = cli_stats_of(_metadata, &vd, self->g.id);
	ASSERT_NE(NULL, o1);
	expect_cli_counters(_metadata, o1, &s1);
	jfree(&v0);
	jfree(&v1);
	jfree(&vd);
}

TEST_F(gdev, cli_show_json_matches_the_device)
{
	const struct jval *o, *q, *e, *b, *fq;
	struct dev_info d;
	struct jval v;
	unsigned int i;

	if (!have_cli())
		SKIP(return, NO_CLI);
	get_dev_ok(_metadata, &self->s, self->g.id, &d);
	ASSERT_EQ(0, cli_json(_metadata, &v, "show", self->g.id));
	ASSERT_EQ(J_ARR, v.t);
	ASSERT_EQ(1u, v.n);
	o = &v.items[0];
	ASSERT_EQ(J_OBJ, o->t);
	EXPECT_EQ((__u64)self->g.id, juint(o, "dev"));
	EXPECT_EQ((__u64)getpid(), juint(o, "owner_pid"));
	EXPECT_EQ(ALL_FEATURES, juint(o, "features"));
	EXPECT_EQ(0ULL, juint(o, "backend_features"));
	ASSERT_NE(NULL, jget(o, "run"));
	EXPECT_EQ(J_STR, jget(o, "run")->t);
	EXPECT_STREQ("auto", jget(o, "run")->t == J_STR ?
			     jget(o, "run")->s : "(not a string)");
	ASSERT_NE(NULL, jget(o, "iommufd"));
	EXPECT_EQ(J_TRUE, jget(o, "iommufd")->t);

	q = jget(o, "queues");
	ASSERT_NE(NULL, q);
	ASSERT_EQ(J_ARR, q->t);
	ASSERT_EQ(2u, q->n);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ((__u64)i, juint(&q->items[i], "index"));
		EXPECT_EQ((__u64)(i ? EQ_NUM : RQ_NUM),
			  juint(&q->items[i], "num"));
		ASSERT_NE(NULL, jget(&q->items[i], "ready"));
		EXPECT_EQ(J_TRUE, jget(&q->items[i], "ready")->t);
		EXPECT_EQ(J_FALSE, jget(&q->items[i], "broken")->t);
	}
	e = jget(o, "endpoints");
	ASSERT_NE(NULL, e);
	ASSERT_EQ(J_ARR, e->t);
	ASSERT_EQ(1u, e->n);
	EXPECT_EQ((__u64)ENDPOINT, juint(&e->items[0], "id"));
	EXPECT_EQ((__u64)self->g.w.idev_id, juint(&e->items[0], "dev_id"));
	EXPECT_EQ((__u64)VIRT_SID, juint(&e->items[0], "virt_id"));
	b = jget(o, "bindings");
	ASSERT_NE(NULL, b);
	ASSERT_EQ(J_ARR, b->t);
	ASSERT_EQ(2u, b->n);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ((__u64)self->g.w.nested_id,
			  juint(&b->items[i], "object_id"));
		EXPECT_EQ((__u64)IMOCK_INVALIDATE_DATA_SELFTEST,
			  juint(&b->items[i], "data_type"));
	}
	fq = jget(o, "fault_queue");
	ASSERT_NE(NULL, fq);
	ASSERT_EQ(J_OBJ, fq->t);
	EXPECT_EQ(0ULL, juint(fq, "groups"));
	jfree(&v);
}

/* A running `vhost-iommu [-j] monitor`. */
struct cli_mon {
	pid_t pid;
	int out;
	int err;
	char buf[16384];
	size_t len;
};

static int mon_start(struct cli_mon *m, bool json)
{
	char *argv[4];

	argv[0] = "vhost-iommu";
	argv[1] = json ? "-j" : "monitor";
	argv[2] = json ? "monitor" : NULL;
	argv[3] = NULL;
	memset(m, 0, sizeof(*m));
	m->pid = cli_spawn(argv, false, &m->out, &m->err);
	return m->pid < 0 ? -1 : 0;
}

static void mon_stop(struct cli_mon *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGTERM);
		waitpid(m->pid, NULL, 0);
		close(m->out);
		close(m->err);
	}
	m->pid = 0;
}

/* The next line of the monitor's output: 0, -ETIMEDOUT or -EPIPE. */
static int mon_line(struct cli_mon *m, char *line, size_t max, int timeout_ms)
{
	__s64 end = now_ms() + timeout_ms;
	struct pollfd p = { .fd = m->out, .events = POLLIN };
	char *nl;
	ssize_t n;
	int left;

	for (;;) {
		nl = memchr(m->buf, '\n', m->len);
		if (nl) {
			size_t l = nl - m->buf;

			snprintf(line, max, "%.*s", (int)l, m->buf);
			memmove(m->buf, nl + 1, m->len - l - 1);
			m->len -= l + 1;
			return 0;
		}
		left = (int)(end - now_ms());
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, left) <= 0)
			continue;
		n = read(m->out, m->buf + m->len, sizeof(m->buf) - 1 - m->len);
		if (n <= 0)
			return -EPIPE;
		m->len += n;
	}
}

/*
 * Waits until the monitor prints a line about device @id, resetting the
 * device @sync_fd (an owned device) every 100 ms until one comes about
 * @sync_id: then the monitor has joined the group. Returns 0 or -errno.
 */
static int mon_sync(struct cli_mon *m, int sync_fd, __u32 sync_id)
{
	char line[512], want[32];
	int i, ret;

	snprintf(want, sizeof(want), "%u", sync_id);
	for (i = 0; i < 100; i++) {
		ret = vhi_reset_device(sync_fd);
		if (ret)
			return ret;
		while (!(ret = mon_line(m, line, sizeof(line), 100))) {
			struct jval v;
			char err[128];

			/* JSON or text, the line names the device. */
			if (!jparse(line, strlen(line), &v, err, sizeof(err))) {
				bool hit = juint(&v, "dev") == sync_id;

				jfree(&v);
				if (hit)
					return 0;
			} else if (strstr(line, want)) {
				return 0;
			}
		}
		if (ret != -ETIMEDOUT)
			return ret;
	}
	return -ETIMEDOUT;
}

/* The next JSON line about @id: 0, or -errno; *@v holds it. */
static int mon_json_for(struct __test_metadata *_metadata, struct cli_mon *m,
			__u32 id, struct jval *v)
{
	char line[512], err[128];
	int ret;

	for (;;) {
		ret = mon_line(m, line, sizeof(line), NL_TIMEOUT_MS);
		if (ret)
			return ret;
		if (jparse(line, strlen(line), v, err, sizeof(err))) {
			TH_LOG("monitor line is not JSON (%s): %s", err, line);
			return -EBADMSG;
		}
		if (v->t != J_OBJ) {
			TH_LOG("monitor line is not an object: %s", line);
			jfree(v);
			return -EBADMSG;
		}
		if (juint(v, "dev") == id)
			return 0;
		jfree(v);
	}
}

static void expect_mon_event(struct __test_metadata *_metadata,
			     struct cli_mon *m, __u32 id, const char *event,
			     int queue)
{
	const struct jval *e, *q;
	struct jval v;

	ASSERT_EQ(0, mon_json_for(_metadata, m, id, &v))
		TH_LOG("no \"%s\" line for device %u", event, id);
	EXPECT_EQ((__u64)getpid(), juint(&v, "owner_pid"));
	e = jget(&v, "event");
	ASSERT_NE(NULL, e);
	ASSERT_EQ(J_STR, e->t);
	EXPECT_STREQ(event, e->s);
	q = jget(&v, "queue_index");
	EXPECT_TRUE(queue < 0 ? !q || q->t == J_NULL :
		    juint(&v, "queue_index") == (__u64)queue)
		TH_LOG("queue_index, expected %d", queue);
	jfree(&v);
}

TEST_F(gdev, cli_monitor_sees_a_reset_and_a_broken_queue)
{
	struct cli_mon mj, mt;
	char line[512], want[64];
	__u32 sync_id;
	int sync_fd, ret;

	if (!have_cli())
		SKIP(return, NO_CLI);
	sync_fd = vhi_open();
	ASSERT_LE(0, sync_fd);
	ASSERT_EQ(0, vhi_set_owner(sync_fd));
	sync_id = vhi_dev_id(sync_fd);

	ASSERT_EQ(0, mon_start(&mj, true));
	ASSERT_EQ(0, mon_start(&mt, false));
	ret = mon_sync(&mj, sync_fd, sync_id);
	ASSERT_EQ(0, ret) TH_LOG("JSON monitor never reported: %s",
				 strerror(-ret));
	ret = mon_sync(&mt, sync_fd, sync_id);
	ASSERT_EQ(0, ret) TH_LOG("text monitor never reported: %s",
				 strerror(-ret));

	ASSERT_EQ(0, vhi_reset_device(self->g.fd));
	expect_mon_event(_metadata, &mj, self->g.id, "reset", -1);
	ASSERT_EQ(0, vg_rings_up(self->g.fd, &self->g.rq, &self->g.eq,
				 ALL_FEATURES));
	ASSERT_EQ(0, corrupt_loop(&self->g, &self->g.rq));
	expect_mon_event(_metadata, &mj, self->g.id, "broken", 0);

	/* The text form: one line each, naming the device and the event. */
	snprintf(want, sizeof(want), "dev %u ", self->g.id);
	do {
		ret = mon_line(&mt, line, sizeof(line), NL_TIMEOUT_MS);
	} while (!ret && strncmp(line, want, strlen(want)));
	ASSERT_EQ(0, ret);
	EXPECT_NE(NULL, strstr(line, "reset")) TH_LOG("%s", line);
	ASSERT_EQ(0, mon_line(&mt, line, sizeof(line), NL_TIMEOUT_MS));
	EXPECT_EQ(0, strncmp(line, want, strlen(want))) TH_LOG("%s", line);
	EXPECT_NE(NULL, strstr(line, "broken")) TH_LOG("%s", line);

	mon_stop(&mj);
	mon_stop(&mt);
	close(sync_fd);
}

TEST_F(nl, cli_refuses_non_owner_without_cap_net_admin)
{
	char idbuf[16], err[128];
	struct cli_run r;
	struct jval v;
	int fd;

	if (!have_cli())
		SKIP(return, NO_CLI);
	fd = vhi_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vhi_set_owner(fd));
	snprintf(idbuf, sizeof(idbuf), "%u", vhi_dev_id(fd));

	cli_run(&r, true, "stats", idbuf, NULL);
	EXPECT_EQ(1, r.status) TH_LOG("stats %s: %s", idbuf, r.err);
	EXPECT_EQ(0u, r.out_len);
	TH_LOG("stderr: %s", r.err);
	cli_free(&r);
	cli_run(&r, true, "-j", "show", idbuf, NULL);
	EXPECT_EQ(1, r.status) TH_LOG("show %s: %s", idbuf, r.err);
	cli_free(&r);
	cli_run(&r, true, "monitor", NULL);
	EXPECT_EQ(1, r.status) TH_LOG("monitor: %s", r.err);
	cli_free(&r);

	/* A dump is not refused: it just has none of ours. */
	cli_run(&r, true, "-j", "stats", NULL);
	EXPECT_EQ(0, r.status) TH_LOG("stats dump: %s", r.err);
	ASSERT_EQ(0, jparse(r.out, r.out_len, &v, err, sizeof(err)))
		TH_LOG("%s: %s", err, r.out);
	EXPECT_EQ(J_ARR, v.t);
	EXPECT_EQ(0u, v.n);
	jfree(&v);
	cli_free(&r);

	/* With CAP_NET_ADMIN the same command works. */
	cli_run(&r, false, "stats", idbuf, NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	cli_free(&r);
	close(fd);
}

TEST_HARNESS_MAIN
