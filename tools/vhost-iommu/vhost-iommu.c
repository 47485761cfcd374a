// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the host operator's view of the vhost-iommu devices (the
 * open files of /dev/vhost-iommu), over the "vhost-iommu" generic netlink
 * family defined in Documentation/netlink/specs/vhost-iommu.yaml.
 *
 *   vhost-iommu show [DEV]    state of one device, or of every readable one
 *   vhost-iommu stats [DEV]   their counters
 *   vhost-iommu monitor       one line per notification, until killed
 *
 * Replies are checked against the spec: an attribute this program does not
 * know is skipped (a newer module may send more), a known one of the wrong
 * size fails the command. The output formats, text and JSON, are described
 * in Documentation/cli.rst and vhost-iommu(8); scripts and the kselftests
 * depend on the JSON keys, so change them only together with those.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/virtio_iommu.h>

#include <linux/vhost_iommu.h>
#include <linux/vhost_iommu_netlink.h>

#ifndef VHOST_IOMMU_VERSION
#define VHOST_IOMMU_VERSION "unknown"
#endif

#define VHI_PROG	"vhost-iommu"
/* Large enough for any reply; a dump message is at most 32 KiB. */
#define VHI_RECV_SIZE	(256 * 1024)

/* Exit codes, documented in vhost-iommu.8 and Documentation/cli.rst. */
enum {
	VHI_EXIT_OK = 0,
	VHI_EXIT_ERROR = 1,
	VHI_EXIT_NO_MODULE = 2,
	VHI_EXIT_USAGE = 64,
};

static bool vhi_json;

/* One generic netlink socket and what it learned about the family. */
struct vhi_nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	__u16 family;
	__u32 monitor_group;
	char *buf;
	char ext_msg[256];
};

/*
 * Attribute checking. Each attribute set is described by a table giving
 * the kind of each attribute ID; VHI_SKIP (0) marks IDs not handled here.
 */
enum vhi_kind {
	VHI_SKIP,
	VHI_U16,
	VHI_U32,
	VHI_UINT,	/* NLA_UINT: 4 or 8 bytes */
	VHI_FLAG,
	VHI_NEST,
	VHI_STR,
};

struct vhi_parse {
	const struct nlattr **tb;
	const unsigned char *kinds;
	unsigned int max;
};

static const unsigned char vhi_ctrl_kinds[CTRL_ATTR_MAX + 1] = {
	[CTRL_ATTR_FAMILY_ID] = VHI_U16,
	[CTRL_ATTR_FAMILY_NAME] = VHI_STR,
	[CTRL_ATTR_VERSION] = VHI_U32,
	[CTRL_ATTR_MCAST_GROUPS] = VHI_NEST,
};

static const unsigned char vhi_grp_kinds[CTRL_ATTR_MCAST_GRP_MAX + 1] = {
	[CTRL_ATTR_MCAST_GRP_NAME] = VHI_STR,
	[CTRL_ATTR_MCAST_GRP_ID] = VHI_U32,
};

static const unsigned char vhi_dev_kinds[VHOST_IOMMU_A_DEV_MAX + 1] = {
	[VHOST_IOMMU_A_DEV_ID] = VHI_U32,
	[VHOST_IOMMU_A_DEV_OWNER_PID] = VHI_U32,
	[VHOST_IOMMU_A_DEV_FEATURES] = VHI_UINT,
	[VHOST_IOMMU_A_DEV_BACKEND_FEATURES] = VHI_UINT,
	[VHOST_IOMMU_A_DEV_RUN] = VHI_U32,
	[VHOST_IOMMU_A_DEV_IOMMUFD] = VHI_FLAG,
	[VHOST_IOMMU_A_DEV_QUEUE] = VHI_NEST,
	[VHOST_IOMMU_A_DEV_ENDPOINT] = VHI_NEST,
	[VHOST_IOMMU_A_DEV_BINDING] = VHI_NEST,
	[VHOST_IOMMU_A_DEV_PENDING_TYPE] = VHI_U32,
	[VHOST_IOMMU_A_DEV_FAULT_QUEUE] = VHI_NEST,
	[VHOST_IOMMU_A_DEV_EVENT] = VHI_U32,
	[VHOST_IOMMU_A_DEV_QUEUE_INDEX] = VHI_U32,
	[VHOST_IOMMU_A_DEV_LISTS_OMITTED] = VHI_FLAG,
};

static const unsigned char vhi_queue_kinds[VHOST_IOMMU_A_QUEUE_MAX + 1] = {
	[VHOST_IOMMU_A_QUEUE_INDEX] = VHI_U32,
	[VHOST_IOMMU_A_QUEUE_NUM] = VHI_U32,
	[VHOST_IOMMU_A_QUEUE_READY] = VHI_FLAG,
	[VHOST_IOMMU_A_QUEUE_BROKEN] = VHI_FLAG,
	[VHOST_IOMMU_A_QUEUE_LAST_AVAIL_IDX] = VHI_U32,
	[VHOST_IOMMU_A_QUEUE_LAST_USED_IDX] = VHI_U32,
	[VHOST_IOMMU_A_QUEUE_BUSYLOOP_TIMEOUT] = VHI_U32,
};

static const unsigned char vhi_endpoint_kinds[VHOST_IOMMU_A_ENDPOINT_MAX + 1] = {
	[VHOST_IOMMU_A_ENDPOINT_ID] = VHI_U32,
	[VHOST_IOMMU_A_ENDPOINT_VIRT_ID] = VHI_UINT,
	[VHOST_IOMMU_A_ENDPOINT_DEV_ID] = VHI_U32,
};

static const unsigned char vhi_binding_kinds[VHOST_IOMMU_A_BINDING_MAX + 1] = {
	[VHOST_IOMMU_A_BINDING_DOMAIN] = VHI_U32,
	[VHOST_IOMMU_A_BINDING_PASID] = VHI_U32,
	[VHOST_IOMMU_A_BINDING_OBJECT_ID] = VHI_U32,
	[VHOST_IOMMU_A_BINDING_DATA_TYPE] = VHI_U32,
};

static const unsigned char vhi_fq_kinds[VHOST_IOMMU_A_FAULT_QUEUE_MAX + 1] = {
	[VHOST_IOMMU_A_FAULT_QUEUE_GROUPS] = VHI_U32,
	[VHOST_IOMMU_A_FAULT_QUEUE_BACKLOG] = VHI_U32,
	[VHOST_IOMMU_A_FAULT_QUEUE_RETRY] = VHI_U32,
};

static const unsigned char vhi_stats_kinds[VHOST_IOMMU_A_STATS_MAX + 1] = {
	[VHOST_IOMMU_A_STATS_DEV_ID] = VHI_U32,
	[VHOST_IOMMU_A_STATS_REQUESTS ... VHOST_IOMMU_A_STATS_VMM_EVENTS_DROPPED] =
		VHI_UINT,
};

/*
 * The counters of stats-get, in the spec's order, with the spec's names;
 * JSON keys are the names with '-' turned into '_'.
 */
static const struct {
	unsigned int attr;
	const char *name;
} vhi_counters[] = {
	{ VHOST_IOMMU_A_STATS_REQUESTS, "requests" },
	{ VHOST_IOMMU_A_STATS_SLOW_PATH, "slow-path" },
	{ VHOST_IOMMU_A_STATS_MALFORMED, "malformed" },
	{ VHOST_IOMMU_A_STATS_REJECTED, "rejected" },
	{ VHOST_IOMMU_A_STATS_BROKEN, "broken" },
	{ VHOST_IOMMU_A_STATS_INVALIDATIONS, "invalidations" },
	{ VHOST_IOMMU_A_STATS_INVAL_BATCHES, "inval-batches" },
	{ VHOST_IOMMU_A_STATS_INVAL_ERRORS, "inval-errors" },
	{ VHOST_IOMMU_A_STATS_PAGE_REQS, "page-reqs" },
	{ VHOST_IOMMU_A_STATS_PAGE_RESPS, "page-resps" },
	{ VHOST_IOMMU_A_STATS_PAGE_REQ_INVALID, "page-req-invalid" },
	{ VHOST_IOMMU_A_STATS_FAULT_ERRORS, "fault-errors" },
	{ VHOST_IOMMU_A_STATS_WAKEUPS, "wakeups" },
	{ VHOST_IOMMU_A_STATS_USER_ACCESSES, "user-accesses" },
	{ VHOST_IOMMU_A_STATS_IOMMUFD_CALLS, "iommufd-calls" },
	{ VHOST_IOMMU_A_STATS_BUSY_POLL_HITS, "busy-poll-hits" },
	{ VHOST_IOMMU_A_STATS_VMM_EVENTS, "vmm-events" },
	{ VHOST_IOMMU_A_STATS_VMM_EVENTS_DROPPED, "vmm-events-dropped" },
};

#define VHI_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const char * const vhi_run_names[] = {
	[VHOST_IOMMU_RUN_AUTO] = "auto",
	[VHOST_IOMMU_RUN_STOPPED] = "stopped",
	[VHOST_IOMMU_RUN_STARTED] = "started",
};

static const char * const vhi_event_names[] = {
	[VHOST_IOMMU_EVENT_BROKEN] = "broken",
	[VHOST_IOMMU_EVENT_RESET] = "reset",
	[VHOST_IOMMU_EVENT_OWNER_LOST] = "owner-lost",
};

static const char * const vhi_req_names[] = {
	[VIRTIO_IOMMU_T_ATTACH] = "ATTACH",
	[VIRTIO_IOMMU_T_DETACH] = "DETACH",
	[VIRTIO_IOMMU_T_MAP] = "MAP",
	[VIRTIO_IOMMU_T_UNMAP] = "UNMAP",
	[VIRTIO_IOMMU_T_PROBE] = "PROBE",
	[VIRTIO_IOMMU_T_ATTACH_TABLE] = "ATTACH_TABLE",
	[VIRTIO_IOMMU_T_INVALIDATE] = "INVALIDATE",
	[VIRTIO_IOMMU_T_PAGE_RESP] = "PAGE_RESP",
};

/* A name from @names for @v, or NULL if it has none. */
static const char *vhi_name(const char * const *names, size_t nr, __u64 v)
{
	return v < nr ? names[v] : NULL;
}

/* iommufd invalidation data types, numbered as in iommufd{,_test}.h. */
static const char *vhi_data_type_name(__u32 type)
{
	switch (type) {
	case 0:
		return "vtd-s1";
	case 1:
		return "arm-smmuv3";
	case 0xdeadbeef:
		return "selftest";
	default:
		return NULL;
	}
}

static bool vhi_attr_ok(const struct nlattr *attr, unsigned char kind)
{
	__u16 len = mnl_attr_get_payload_len(attr);

	switch (kind) {
	case VHI_U16:
		return len == 2;
	case VHI_U32:
		return len == 4;
	case VHI_UINT:
		return len == 4 || len == 8;
	case VHI_FLAG:
		return len == 0;
	case VHI_NEST:
		return mnl_attr_validate(attr, MNL_TYPE_NESTED) == 0;
	case VHI_STR:
		return mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0;
	default:
		return false;
	}
}

static int vhi_parse_cb(const struct nlattr *attr, void *data)
{
	const struct vhi_parse *p = data;
	unsigned int type = mnl_attr_get_type(attr);

	if (type > p->max || p->kinds[type] == VHI_SKIP)
		return MNL_CB_OK;
	if (!vhi_attr_ok(attr, p->kinds[type])) {
		fprintf(stderr, "%s: malformed reply: attribute %u has %u bytes\n",
			VHI_PROG, type, mnl_attr_get_payload_len(attr));
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	if (p->tb)
		p->tb[type] = attr;
	return MNL_CB_OK;
}

/*
 * Fills @tb from the attributes of a generic netlink message, as described
 * by @kinds; both have room for IDs 0 to @max.
 */
static int vhi_parse_msg(const struct nlmsghdr *nlh, const unsigned char *kinds,
			 unsigned int max, const struct nlattr **tb)
{
	struct vhi_parse p = { .tb = tb, .kinds = kinds, .max = max };

	memset(tb, 0, (max + 1) * sizeof(*tb));
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct genlmsghdr)) {
		errno = EPROTO;
		return -1;
	}
	if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), vhi_parse_cb, &p) < 0)
		return -1;
	return 0;
}

/* The same for the attributes inside @nest; with @tb NULL, only checks them. */
static int vhi_parse_nest(const struct nlattr *nest, const unsigned char *kinds,
			  unsigned int max, const struct nlattr **tb)
{
	struct vhi_parse p = { .tb = tb, .kinds = kinds, .max = max };

	if (tb)
		memset(tb, 0, (max + 1) * sizeof(*tb));
	if (mnl_attr_parse_nested(nest, vhi_parse_cb, &p) < 0)
		return -1;
	return 0;
}

/* The value of a checked u16, u32 or uint attribute. */
static __u64 vhi_val(const struct nlattr *attr)
{
	switch (mnl_attr_get_payload_len(attr)) {
	case 2:
		return mnl_attr_get_u16(attr);
	case 4:
		return mnl_attr_get_u32(attr);
	default:
		return mnl_attr_get_u64(attr);
	}
}

/*
 * Netlink transport. Errors come back as negative errno values; the
 * kernel's extended ACK message, if any, is kept in nl->ext_msg.
 */
struct vhi_talk {
	mnl_cb_t cb;
	void *arg;
	int err;
	char *ext_msg;
	size_t ext_size;
};

static void vhi_ext_ack(const struct nlmsghdr *nlh, size_t offset,
			struct vhi_talk *t)
{
	const struct nlattr *attr;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) ||
	    offset > mnl_nlmsg_get_payload_len(nlh))
		return;
	mnl_attr_for_each(attr, nlh, offset) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    !mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
			snprintf(t->ext_msg, t->ext_size, "%s",
				 mnl_attr_get_str(attr));
	}
}

static int vhi_talk_data(const struct nlmsghdr *nlh, void *data)
{
	struct vhi_talk *t = data;

	return t->cb ? t->cb(nlh, t->arg) : MNL_CB_OK;
}

static int vhi_talk_error(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	struct vhi_talk *t = data;
	size_t offset;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
		t->err = -EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!e->error)
		return MNL_CB_STOP;
	t->err = e->error < 0 ? e->error : -e->error;
	/* The TLVs follow the request, unless the kernel capped it. */
	if (nlh->nlmsg_flags & NLM_F_CAPPED)
		offset = sizeof(*e);
	else
		offset = sizeof(e->error) + NLMSG_ALIGN(e->msg.nlmsg_len);
	vhi_ext_ack(nlh, offset, t);
	return MNL_CB_ERROR;
}

/* The end of a dump; a dump that failed carries its error here. */
static int vhi_talk_done(const struct nlmsghdr *nlh, void *data)
{
	struct vhi_talk *t = data;
	int err;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(err))
		return MNL_CB_STOP;
	memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (err >= 0)
		return MNL_CB_STOP;
	t->err = err;
	vhi_ext_ack(nlh, sizeof(err), t);
	return MNL_CB_ERROR;
}

/* Sends @nlh and feeds every reply message to @cb until the ACK or DONE. */
static int vhi_talk(struct vhi_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		    void *arg)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = vhi_talk_error,
		[NLMSG_DONE] = vhi_talk_done,
	};
	struct vhi_talk t = {
		.cb = cb,
		.arg = arg,
		.ext_msg = nl->ext_msg,
		.ext_size = sizeof(nl->ext_msg),
	};
	unsigned int seq = nlh->nlmsg_seq;
	ssize_t len;
	int ret;

	nl->ext_msg[0] = '\0';
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		len = mnl_socket_recvfrom(nl->sock, nl->buf, VHI_RECV_SIZE);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		errno = 0;
		ret = mnl_cb_run2(nl->buf, len, seq, nl->portid, vhi_talk_data,
				  &t, ctl, VHI_ARRAY_SIZE(ctl));
		if (ret == MNL_CB_STOP)
			return 0;
		if (ret < 0) {
			if (t.err)
				return t.err;
			return errno ? -errno : -EPROTO;
		}
	}
}

/* A request header for @cmd of @family, with @flags besides NLM_F_REQUEST. */
static struct nlmsghdr *vhi_msg(struct vhi_nl *nl, void *buf, __u16 family,
				__u8 cmd, __u8 version, __u16 flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = version;
	return nlh;
}

static int vhi_nl_open(struct vhi_nl *nl)
{
	int one = 1;

	memset(nl, 0, sizeof(*nl));
	nl->buf = malloc(VHI_RECV_SIZE);
	if (!nl->buf)
		return -ENOMEM;
	nl->sock = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	/* Best effort: the kernel's error messages, without the echo. */
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = time(NULL);
	return 0;
}

static void vhi_nl_close(struct vhi_nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl->buf);
}

static int vhi_family_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1];
	const struct nlattr *grp[CTRL_ATTR_MCAST_GRP_MAX + 1];
	const struct nlattr *pos;
	struct vhi_nl *nl = data;

	if (vhi_parse_msg(nlh, vhi_ctrl_kinds, CTRL_ATTR_MAX, tb))
		return MNL_CB_ERROR;
	if (!tb[CTRL_ATTR_FAMILY_ID]) {
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	nl->family = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	if (!tb[CTRL_ATTR_MCAST_GROUPS])
		return MNL_CB_OK;
	mnl_attr_for_each_nested(pos, tb[CTRL_ATTR_MCAST_GROUPS]) {
		if (vhi_parse_nest(pos, vhi_grp_kinds, CTRL_ATTR_MCAST_GRP_MAX, grp))
			return MNL_CB_ERROR;
		if (grp[CTRL_ATTR_MCAST_GRP_NAME] && grp[CTRL_ATTR_MCAST_GRP_ID] &&
		    !strcmp(mnl_attr_get_str(grp[CTRL_ATTR_MCAST_GRP_NAME]),
			    VHOST_IOMMU_MCGRP_MONITOR))
			nl->monitor_group =
				mnl_attr_get_u32(grp[CTRL_ATTR_MCAST_GRP_ID]);
	}
	return MNL_CB_OK;
}

/* Reports @err for @what (device @dev, 0 for none); returns an exit code. */
static int vhi_report(const struct vhi_nl *nl, int err, const char *what,
		      __u32 dev)
{
	if (err == -EPERM && dev) {
		fprintf(stderr, "%s: permission denied: device %u %s; %s\n",
			VHI_PROG, dev, "belongs to another process",
			"reading it needs CAP_NET_ADMIN");
	} else if (err == -ENOENT && dev) {
		fprintf(stderr, "%s: no device %u\n", VHI_PROG, dev);
	} else {
		fprintf(stderr, "%s: %s: %s%s%s\n", VHI_PROG, what,
			strerror(-err), nl && nl->ext_msg[0] ? ": " : "",
			nl ? nl->ext_msg : "");
	}
	return VHI_EXIT_ERROR;
}

/* Opens the socket and resolves the family; returns an exit code. */
static int vhi_connect(struct vhi_nl *nl)
{
	union {
		char b[256];
		struct nlmsghdr align;
	} req;
	struct nlmsghdr *nlh;
	int ret;

	ret = vhi_nl_open(nl);
	if (ret) {
		fprintf(stderr, "%s: cannot open a generic netlink socket: %s\n",
			VHI_PROG, strerror(-ret));
		return VHI_EXIT_ERROR;
	}
	nlh = vhi_msg(nl, req.b, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_ACK);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, VHOST_IOMMU_FAMILY_NAME);
	ret = vhi_talk(nl, nlh, vhi_family_cb, nl);
	if (ret == -ENOENT) {
		fprintf(stderr, "%s: the vhost_iommu module is not loaded %s \"%s\")\n",
			VHI_PROG, "(no generic netlink family",
			VHOST_IOMMU_FAMILY_NAME);
		return VHI_EXIT_NO_MODULE;
	}
	if (!ret && !nl->family)
		ret = -EPROTO;
	if (ret)
		return vhi_report(nl, ret, "looking up the netlink family", 0);
	return VHI_EXIT_OK;
}

/* A do request for device @dev (attribute @attr), or a dump if @dev is 0. */
static int vhi_get(struct vhi_nl *nl, __u8 cmd, __u16 attr, __u32 dev,
		   mnl_cb_t cb, void *arg)
{
	union {
		char b[256];
		struct nlmsghdr align;
	} req;
	struct nlmsghdr *nlh;

	nlh = vhi_msg(nl, req.b, nl->family, cmd, VHOST_IOMMU_FAMILY_VERSION,
		      dev ? NLM_F_ACK : NLM_F_DUMP);
	if (dev)
		mnl_attr_put_u32(nlh, attr, dev);
	return vhi_talk(nl, nlh, cb, arg);
}

/* Only messages of our family carry attributes to read. */
static bool vhi_ours(const struct vhi_nl *nl, const struct nlmsghdr *nlh)
{
	return nlh->nlmsg_type == nl->family;
}

/*
 * JSON output: a few helpers writing one compact object at a time. @first
 * tracks whether a comma is due before the next member.
 */
static void vhi_jkey(bool *first, const char *key)
{
	printf("%s\"%s\":", *first ? "" : ",", key);
	*first = false;
}

static void vhi_jnum(bool *first, const char *key, const struct nlattr *attr)
{
	vhi_jkey(first, key);
	if (attr)
		printf("%llu", (unsigned long long)vhi_val(attr));
	else
		fputs("null", stdout);
}

static void vhi_jbool(bool *first, const char *key, bool v)
{
	vhi_jkey(first, key);
	fputs(v ? "true" : "false", stdout);
}

/* A JSON string holding a known name, or the number itself if unknown. */
static void vhi_jname(bool *first, const char *key, const struct nlattr *attr,
		      const char *name)
{
	vhi_jkey(first, key);
	if (!attr)
		fputs("null", stdout);
	else if (name)
		printf("\"%s\"", name);
	else
		printf("\"%llu\"", (unsigned long long)vhi_val(attr));
}

/* Output of a list of objects: a JSON array, or text blocks. */
struct vhi_list {
	unsigned int printed;
};

static void vhi_list_item(struct vhi_list *l)
{
	if (vhi_json)
		fputs(l->printed ? ",\n" : "[\n", stdout);
	else if (l->printed)
		putchar('\n');
	l->printed++;
}

static void vhi_list_end(struct vhi_list *l)
{
	if (vhi_json)
		fputs(l->printed ? "\n]\n" : "[]\n", stdout);
}

/* Text output: "  label:      value" rows. */
static void vhi_label(const char *fmt, ...)
{
	char label[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(label, sizeof(label), fmt, ap);
	va_end(ap);
	printf("  %-18s", label);
}

/* A number, or "-" if the kernel did not send it. */
static void vhi_tval(const struct nlattr *attr, bool hex)
{
	if (!attr)
		putchar('-');
	else if (hex)
		printf("0x%llx", (unsigned long long)vhi_val(attr));
	else
		printf("%llu", (unsigned long long)vhi_val(attr));
}

/* One ", name value" field of a text row (no comma before the first). */
static void vhi_tnum(bool *first, const char *name, const struct nlattr *attr,
		     bool hex)
{
	printf("%s%s ", *first ? "" : ", ", name);
	*first = false;
	vhi_tval(attr, hex);
}

static void vhi_tflag(bool *first, const char *name, const struct nlattr *attr)
{
	printf("%s%s %s", *first ? "" : ", ", name, attr ? "yes" : "no");
	*first = false;
}

static void vhi_thex(const char *label, const struct nlattr *attr)
{
	vhi_label("%s:", label);
	if (attr)
		printf("0x%llx\n", (unsigned long long)vhi_val(attr));
	else
		puts("-");
}

/* Checks every nest of a dev message, so that printing cannot fail halfway. */
static int vhi_dev_check(const struct nlmsghdr *nlh)
{
	const struct nlattr *attr;
	int ret = 0;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(attr)) {
		case VHOST_IOMMU_A_DEV_QUEUE:
			ret = vhi_parse_nest(attr, vhi_queue_kinds,
					     VHOST_IOMMU_A_QUEUE_MAX, NULL);
			break;
		case VHOST_IOMMU_A_DEV_ENDPOINT:
			ret = vhi_parse_nest(attr, vhi_endpoint_kinds,
					     VHOST_IOMMU_A_ENDPOINT_MAX, NULL);
			break;
		case VHOST_IOMMU_A_DEV_BINDING:
			ret = vhi_parse_nest(attr, vhi_binding_kinds,
					     VHOST_IOMMU_A_BINDING_MAX, NULL);
			break;
		case VHOST_IOMMU_A_DEV_FAULT_QUEUE:
			ret = vhi_parse_nest(attr, vhi_fq_kinds,
					     VHOST_IOMMU_A_FAULT_QUEUE_MAX, NULL);
			break;
		}
		if (ret)
			return ret;
	}
	return 0;
}

static void vhi_show_queue_text(const struct nlattr *nest)
{
	const struct nlattr *tb[VHOST_IOMMU_A_QUEUE_MAX + 1];
	const struct nlattr *index;
	bool first = true;

	vhi_parse_nest(nest, vhi_queue_kinds, VHOST_IOMMU_A_QUEUE_MAX, tb);
	index = tb[VHOST_IOMMU_A_QUEUE_INDEX];
	if (index)
		vhi_label("queue %u:", mnl_attr_get_u32(index));
	else
		vhi_label("queue ?:");
	vhi_tnum(&first, "num", tb[VHOST_IOMMU_A_QUEUE_NUM], false);
	vhi_tflag(&first, "ready", tb[VHOST_IOMMU_A_QUEUE_READY]);
	vhi_tflag(&first, "broken", tb[VHOST_IOMMU_A_QUEUE_BROKEN]);
	vhi_tnum(&first, "last avail/used",
		 tb[VHOST_IOMMU_A_QUEUE_LAST_AVAIL_IDX], false);
	putchar('/');
	vhi_tval(tb[VHOST_IOMMU_A_QUEUE_LAST_USED_IDX], false);
	vhi_tnum(&first, "busyloop", tb[VHOST_IOMMU_A_QUEUE_BUSYLOOP_TIMEOUT],
		 false);
	puts(tb[VHOST_IOMMU_A_QUEUE_BUSYLOOP_TIMEOUT] ? " us" : "");
}

static void vhi_show_endpoint_text(const struct nlattr *nest)
{
	const struct nlattr *tb[VHOST_IOMMU_A_ENDPOINT_MAX + 1];
	bool first = true;

	vhi_parse_nest(nest, vhi_endpoint_kinds, VHOST_IOMMU_A_ENDPOINT_MAX, tb);
	if (tb[VHOST_IOMMU_A_ENDPOINT_ID])
		vhi_label("endpoint %u:",
			  mnl_attr_get_u32(tb[VHOST_IOMMU_A_ENDPOINT_ID]));
	else
		vhi_label("endpoint ?:");
	vhi_tnum(&first, "device", tb[VHOST_IOMMU_A_ENDPOINT_DEV_ID], false);
	vhi_tnum(&first, "virt-id", tb[VHOST_IOMMU_A_ENDPOINT_VIRT_ID], true);
	putchar('\n');
}

static void vhi_show_binding_text(const struct nlattr *nest)
{
	const struct nlattr *tb[VHOST_IOMMU_A_BINDING_MAX + 1];
	const struct nlattr *domain, *pasid, *type;
	const char *name = NULL;
	bool first = true;
	char dom[16];

	vhi_parse_nest(nest, vhi_binding_kinds, VHOST_IOMMU_A_BINDING_MAX, tb);
	domain = tb[VHOST_IOMMU_A_BINDING_DOMAIN];
	pasid = tb[VHOST_IOMMU_A_BINDING_PASID];
	type = tb[VHOST_IOMMU_A_BINDING_DATA_TYPE];
	if (domain)
		snprintf(dom, sizeof(dom), "%u", mnl_attr_get_u32(domain));
	else
		snprintf(dom, sizeof(dom), "?");
	if (pasid)
		vhi_label("binding %s/pasid %u:", dom, mnl_attr_get_u32(pasid));
	else
		vhi_label("binding %s:", dom);
	vhi_tnum(&first, "object", tb[VHOST_IOMMU_A_BINDING_OBJECT_ID], false);
	vhi_tnum(&first, "data type", type, true);
	if (type)
		name = vhi_data_type_name(mnl_attr_get_u32(type));
	if (name)
		printf(" (%s)", name);
	putchar('\n');
}

static void vhi_show_dev_text(const struct nlmsghdr *nlh,
			      const struct nlattr **tb)
{
	const struct nlattr *run = tb[VHOST_IOMMU_A_DEV_RUN];
	const struct nlattr *pending = tb[VHOST_IOMMU_A_DEV_PENDING_TYPE];
	const struct nlattr *fq = tb[VHOST_IOMMU_A_DEV_FAULT_QUEUE];
	const struct nlattr *attr;
	unsigned int endpoints = 0, bindings = 0;
	const char *name;

	printf("dev %u\n", mnl_attr_get_u32(tb[VHOST_IOMMU_A_DEV_ID]));
	vhi_label("owner pid:");
	if (tb[VHOST_IOMMU_A_DEV_OWNER_PID])
		printf("%u\n", mnl_attr_get_u32(tb[VHOST_IOMMU_A_DEV_OWNER_PID]));
	else
		puts("none");
	vhi_thex("features", tb[VHOST_IOMMU_A_DEV_FEATURES]);
	vhi_thex("backend features", tb[VHOST_IOMMU_A_DEV_BACKEND_FEATURES]);
	vhi_label("run:");
	if (run) {
		name = vhi_name(vhi_run_names, VHI_ARRAY_SIZE(vhi_run_names),
				mnl_attr_get_u32(run));
		if (name)
			puts(name);
		else
			printf("%u\n", mnl_attr_get_u32(run));
	} else {
		puts("-");
	}
	vhi_label("iommufd:");
	puts(tb[VHOST_IOMMU_A_DEV_IOMMUFD] ? "yes" : "no");

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(attr) == VHOST_IOMMU_A_DEV_QUEUE)
			vhi_show_queue_text(attr);
	}
	if (tb[VHOST_IOMMU_A_DEV_LISTS_OMITTED]) {
		vhi_label("endpoints:");
		puts("not reported (too many for one message)");
		vhi_label("bindings:");
		puts("not reported (too many for one message)");
	} else {
		mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
			if (mnl_attr_get_type(attr) ==
			    VHOST_IOMMU_A_DEV_ENDPOINT) {
				vhi_show_endpoint_text(attr);
				endpoints++;
			}
		}
		if (!endpoints) {
			vhi_label("endpoints:");
			puts("none");
		}
		mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
			if (mnl_attr_get_type(attr) ==
			    VHOST_IOMMU_A_DEV_BINDING) {
				vhi_show_binding_text(attr);
				bindings++;
			}
		}
		if (!bindings) {
			vhi_label("bindings:");
			puts("none");
		}
	}

	vhi_label("pending request:");
	if (pending) {
		name = vhi_name(vhi_req_names, VHI_ARRAY_SIZE(vhi_req_names),
				mnl_attr_get_u32(pending));
		printf("%s (type %u)\n", name ? name : "unknown",
		       mnl_attr_get_u32(pending));
	} else {
		puts("none");
	}
	vhi_label("fault queue:");
	if (fq) {
		const struct nlattr *t[VHOST_IOMMU_A_FAULT_QUEUE_MAX + 1];
		bool first = true;

		vhi_parse_nest(fq, vhi_fq_kinds, VHOST_IOMMU_A_FAULT_QUEUE_MAX, t);
		vhi_tnum(&first, "groups", t[VHOST_IOMMU_A_FAULT_QUEUE_GROUPS],
			 false);
		vhi_tnum(&first, "backlog", t[VHOST_IOMMU_A_FAULT_QUEUE_BACKLOG],
			 false);
		vhi_tnum(&first, "retry", t[VHOST_IOMMU_A_FAULT_QUEUE_RETRY],
			 false);
		putchar('\n');
	} else {
		puts("none");
	}
}

static void vhi_json_queue(const struct nlattr *nest)
{
	const struct nlattr *tb[VHOST_IOMMU_A_QUEUE_MAX + 1];
	bool first = true;

	vhi_parse_nest(nest, vhi_queue_kinds, VHOST_IOMMU_A_QUEUE_MAX, tb);
	vhi_jnum(&first, "index", tb[VHOST_IOMMU_A_QUEUE_INDEX]);
	vhi_jnum(&first, "num", tb[VHOST_IOMMU_A_QUEUE_NUM]);
	vhi_jbool(&first, "ready", tb[VHOST_IOMMU_A_QUEUE_READY]);
	vhi_jbool(&first, "broken", tb[VHOST_IOMMU_A_QUEUE_BROKEN]);
	vhi_jnum(&first, "last_avail_idx", tb[VHOST_IOMMU_A_QUEUE_LAST_AVAIL_IDX]);
	vhi_jnum(&first, "last_used_idx", tb[VHOST_IOMMU_A_QUEUE_LAST_USED_IDX]);
	vhi_jnum(&first, "busyloop_timeout",
		 tb[VHOST_IOMMU_A_QUEUE_BUSYLOOP_TIMEOUT]);
}

static void vhi_json_endpoint(const struct nlattr *nest)
{
	const struct nlattr *tb[VHOST_IOMMU_A_ENDPOINT_MAX + 1];
	bool first = true;

	vhi_parse_nest(nest, vhi_endpoint_kinds, VHOST_IOMMU_A_ENDPOINT_MAX, tb);
	vhi_jnum(&first, "id", tb[VHOST_IOMMU_A_ENDPOINT_ID]);
	vhi_jnum(&first, "dev_id", tb[VHOST_IOMMU_A_ENDPOINT_DEV_ID]);
	vhi_jnum(&first, "virt_id", tb[VHOST_IOMMU_A_ENDPOINT_VIRT_ID]);
}

static void vhi_json_binding(const struct nlattr *nest)
{
	const struct nlattr *tb[VHOST_IOMMU_A_BINDING_MAX + 1];
	bool first = true;

	vhi_parse_nest(nest, vhi_binding_kinds, VHOST_IOMMU_A_BINDING_MAX, tb);
	vhi_jnum(&first, "domain", tb[VHOST_IOMMU_A_BINDING_DOMAIN]);
	vhi_jnum(&first, "pasid", tb[VHOST_IOMMU_A_BINDING_PASID]);
	vhi_jnum(&first, "object_id", tb[VHOST_IOMMU_A_BINDING_OBJECT_ID]);
	vhi_jnum(&first, "data_type", tb[VHOST_IOMMU_A_BINDING_DATA_TYPE]);
}

/* Prints the nests of type @type of a dev message as a JSON array. */
static void vhi_json_nests(const struct nlmsghdr *nlh, unsigned int type,
			   void (*print)(const struct nlattr *nest))
{
	const struct nlattr *attr;
	bool sep = false;

	putchar('[');
	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(attr) != type)
			continue;
		fputs(sep ? ",{" : "{", stdout);
		sep = true;
		print(attr);
		putchar('}');
	}
	putchar(']');
}

static void vhi_show_dev_json(const struct nlmsghdr *nlh,
			      const struct nlattr **tb)
{
	const struct nlattr *run = tb[VHOST_IOMMU_A_DEV_RUN];
	const struct nlattr *fq = tb[VHOST_IOMMU_A_DEV_FAULT_QUEUE];
	bool omitted = tb[VHOST_IOMMU_A_DEV_LISTS_OMITTED];
	bool first = true;

	putchar('{');
	vhi_jnum(&first, "dev", tb[VHOST_IOMMU_A_DEV_ID]);
	vhi_jnum(&first, "owner_pid", tb[VHOST_IOMMU_A_DEV_OWNER_PID]);
	vhi_jnum(&first, "features", tb[VHOST_IOMMU_A_DEV_FEATURES]);
	vhi_jnum(&first, "backend_features",
		 tb[VHOST_IOMMU_A_DEV_BACKEND_FEATURES]);
	vhi_jname(&first, "run", run,
		  run ? vhi_name(vhi_run_names, VHI_ARRAY_SIZE(vhi_run_names),
				 mnl_attr_get_u32(run)) : NULL);
	vhi_jbool(&first, "iommufd", tb[VHOST_IOMMU_A_DEV_IOMMUFD]);
	vhi_jkey(&first, "queues");
	vhi_json_nests(nlh, VHOST_IOMMU_A_DEV_QUEUE, vhi_json_queue);
	/* null: left out of a dump (never in a do reply, which show uses). */
	vhi_jkey(&first, "endpoints");
	if (omitted)
		fputs("null", stdout);
	else
		vhi_json_nests(nlh, VHOST_IOMMU_A_DEV_ENDPOINT,
			       vhi_json_endpoint);
	vhi_jkey(&first, "bindings");
	if (omitted)
		fputs("null", stdout);
	else
		vhi_json_nests(nlh, VHOST_IOMMU_A_DEV_BINDING, vhi_json_binding);
	vhi_jnum(&first, "pending_type", tb[VHOST_IOMMU_A_DEV_PENDING_TYPE]);
	vhi_jkey(&first, "fault_queue");
	if (fq) {
		const struct nlattr *t[VHOST_IOMMU_A_FAULT_QUEUE_MAX + 1];
		bool f = true;

		vhi_parse_nest(fq, vhi_fq_kinds, VHOST_IOMMU_A_FAULT_QUEUE_MAX, t);
		putchar('{');
		vhi_jnum(&f, "groups", t[VHOST_IOMMU_A_FAULT_QUEUE_GROUPS]);
		vhi_jnum(&f, "backlog", t[VHOST_IOMMU_A_FAULT_QUEUE_BACKLOG]);
		vhi_jnum(&f, "retry", t[VHOST_IOMMU_A_FAULT_QUEUE_RETRY]);
		putchar('}');
	} else {
		fputs("null", stdout);
	}
	putchar('}');
}

/* show: the dump lists the device IDs, each is then read on its own. */
struct vhi_show {
	struct vhi_nl *nl;
	struct vhi_list list;
	__u32 *ids;
	unsigned int nr_ids;
	unsigned int max_ids;
};

static int vhi_show_id_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[VHOST_IOMMU_A_DEV_MAX + 1];
	struct vhi_show *s = data;
	__u32 *ids;

	if (!vhi_ours(s->nl, nlh))
		return MNL_CB_OK;
	if (vhi_parse_msg(nlh, vhi_dev_kinds, VHOST_IOMMU_A_DEV_MAX, tb))
		return MNL_CB_ERROR;
	if (!tb[VHOST_IOMMU_A_DEV_ID])
		return MNL_CB_OK;
	if (s->nr_ids == s->max_ids) {
		s->max_ids = s->max_ids ? 2 * s->max_ids : 16;
		ids = realloc(s->ids, s->max_ids * sizeof(*ids));
		if (!ids) {
			errno = ENOMEM;
			return MNL_CB_ERROR;
		}
		s->ids = ids;
	}
	s->ids[s->nr_ids++] = mnl_attr_get_u32(tb[VHOST_IOMMU_A_DEV_ID]);
	return MNL_CB_OK;
}

static int vhi_show_dev_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[VHOST_IOMMU_A_DEV_MAX + 1];
	struct vhi_show *s = data;

	if (!vhi_ours(s->nl, nlh))
		return MNL_CB_OK;
	if (vhi_parse_msg(nlh, vhi_dev_kinds, VHOST_IOMMU_A_DEV_MAX, tb) ||
	    vhi_dev_check(nlh))
		return MNL_CB_ERROR;
	if (!tb[VHOST_IOMMU_A_DEV_ID]) {
		fprintf(stderr, "%s: malformed reply: no device ID\n", VHI_PROG);
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	vhi_list_item(&s->list);
	if (vhi_json)
		vhi_show_dev_json(nlh, tb);
	else
		vhi_show_dev_text(nlh, tb);
	return MNL_CB_OK;
}

static int vhi_cmd_show(struct vhi_nl *nl, __u32 dev)
{
	struct vhi_show s = { .nl = nl };
	int ret, code = VHI_EXIT_OK;
	unsigned int i;

	if (dev) {
		ret = vhi_get(nl, VHOST_IOMMU_CMD_DEV_GET, VHOST_IOMMU_A_DEV_ID,
			      dev, vhi_show_dev_cb, &s);
		if (ret)
			return vhi_report(nl, ret, "dev-get", dev);
		vhi_list_end(&s.list);
		return VHI_EXIT_OK;
	}

	/*
	 * A dump may leave out the endpoints and bindings of a device that
	 * has too many for one message; a do request has room for them all.
	 */
	ret = vhi_get(nl, VHOST_IOMMU_CMD_DEV_GET, 0, 0, vhi_show_id_cb, &s);
	if (ret) {
		free(s.ids);
		return vhi_report(nl, ret, "dev-get dump", 0);
	}
	for (i = 0; i < s.nr_ids; i++) {
		ret = vhi_get(nl, VHOST_IOMMU_CMD_DEV_GET, VHOST_IOMMU_A_DEV_ID,
			      s.ids[i], vhi_show_dev_cb, &s);
		/* Closed or passed to another owner since the dump: skip it. */
		if (ret == -ENOENT || ret == -EPERM)
			continue;
		if (ret) {
			code = vhi_report(nl, ret, "dev-get", 0);
			break;
		}
	}
	vhi_list_end(&s.list);
	free(s.ids);
	return code;
}

/* stats */
struct vhi_stats {
	struct vhi_nl *nl;
	struct vhi_list list;
};

static void vhi_stats_print(const struct nlattr **tb)
{
	const struct nlattr *attr;
	bool first = true;
	char key[32];
	unsigned int i;
	char *p;

	if (vhi_json) {
		putchar('{');
		vhi_jnum(&first, "dev", tb[VHOST_IOMMU_A_STATS_DEV_ID]);
		for (i = 0; i < VHI_ARRAY_SIZE(vhi_counters); i++) {
			snprintf(key, sizeof(key), "%s", vhi_counters[i].name);
			for (p = key; *p; p++)
				if (*p == '-')
					*p = '_';
			vhi_jnum(&first, key, tb[vhi_counters[i].attr]);
		}
		putchar('}');
		return;
	}
	printf("dev %u\n", mnl_attr_get_u32(tb[VHOST_IOMMU_A_STATS_DEV_ID]));
	for (i = 0; i < VHI_ARRAY_SIZE(vhi_counters); i++) {
		attr = tb[vhi_counters[i].attr];
		if (attr)
			printf("  %-18s %12llu\n", vhi_counters[i].name,
			       (unsigned long long)vhi_val(attr));
		else
			printf("  %-18s %12s\n", vhi_counters[i].name, "-");
	}
}

static int vhi_stats_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[VHOST_IOMMU_A_STATS_MAX + 1];
	struct vhi_stats *s = data;

	if (!vhi_ours(s->nl, nlh))
		return MNL_CB_OK;
	if (vhi_parse_msg(nlh, vhi_stats_kinds, VHOST_IOMMU_A_STATS_MAX, tb))
		return MNL_CB_ERROR;
	if (!tb[VHOST_IOMMU_A_STATS_DEV_ID]) {
		fprintf(stderr, "%s: malformed reply: no device ID\n", VHI_PROG);
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	vhi_list_item(&s->list);
	vhi_stats_print(tb);
	return MNL_CB_OK;
}

static int vhi_cmd_stats(struct vhi_nl *nl, __u32 dev)
{
	struct vhi_stats s = { .nl = nl };
	int ret;

	ret = vhi_get(nl, VHOST_IOMMU_CMD_STATS_GET, VHOST_IOMMU_A_STATS_DEV_ID,
		      dev, vhi_stats_cb, &s);
	if (ret) {
		/* Keep stdout valid JSON if a dump failed after some rows. */
		if (s.list.printed)
			vhi_list_end(&s.list);
		return vhi_report(nl, ret, dev ? "stats-get" : "stats-get dump",
				  dev);
	}
	vhi_list_end(&s.list);
	return VHI_EXIT_OK;
}

/* monitor */
static int vhi_monitor_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[VHOST_IOMMU_A_DEV_MAX + 1];
	const struct nlattr *dev, *owner, *event, *queue;
	const struct genlmsghdr *genl;
	struct vhi_nl *nl = data;
	const char *name = NULL;
	bool first = true;

	if (!vhi_ours(nl, nlh) ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*genl))
		return MNL_CB_OK;
	genl = mnl_nlmsg_get_payload(nlh);
	if (genl->cmd != VHOST_IOMMU_CMD_DEV_CHANGE_NTF)
		return MNL_CB_OK;
	if (vhi_parse_msg(nlh, vhi_dev_kinds, VHOST_IOMMU_A_DEV_MAX, tb))
		return MNL_CB_OK;	/* reported; wait for the next one */
	dev = tb[VHOST_IOMMU_A_DEV_ID];
	owner = tb[VHOST_IOMMU_A_DEV_OWNER_PID];
	event = tb[VHOST_IOMMU_A_DEV_EVENT];
	queue = tb[VHOST_IOMMU_A_DEV_QUEUE_INDEX];
	if (event)
		name = vhi_name(vhi_event_names, VHI_ARRAY_SIZE(vhi_event_names),
				mnl_attr_get_u32(event));

	if (vhi_json) {
		putchar('{');
		vhi_jnum(&first, "dev", dev);
		vhi_jnum(&first, "owner_pid", owner);
		vhi_jname(&first, "event", event, name);
		vhi_jnum(&first, "queue_index", queue);
		puts("}");
	} else {
		if (dev)
			printf("dev %u", mnl_attr_get_u32(dev));
		else
			fputs("dev ?", stdout);
		if (owner)
			printf(" owner %u", mnl_attr_get_u32(owner));
		if (name)
			printf(" %s", name);
		else if (event)
			printf(" event %u", mnl_attr_get_u32(event));
		else
			fputs(" change", stdout);
		if (queue)
			printf(" queue %u", mnl_attr_get_u32(queue));
		putchar('\n');
	}
	fflush(stdout);
	return MNL_CB_OK;
}

static int vhi_cmd_monitor(struct vhi_nl *nl)
{
	ssize_t len;

	if (!nl->monitor_group) {
		fprintf(stderr, "%s: the family \"%s\" has no multicast group \"%s\"\n",
			VHI_PROG, VHOST_IOMMU_FAMILY_NAME,
			VHOST_IOMMU_MCGRP_MONITOR);
		return VHI_EXIT_ERROR;
	}
	if (mnl_socket_setsockopt(nl->sock, NETLINK_ADD_MEMBERSHIP,
				  &nl->monitor_group,
				  sizeof(nl->monitor_group)) < 0) {
		if (errno == EPERM) {
			fprintf(stderr, "%s: permission denied: %s needs CAP_NET_ADMIN\n",
				VHI_PROG, "joining the monitor group");
			return VHI_EXIT_ERROR;
		}
		return vhi_report(NULL, -errno, "joining the monitor group", 0);
	}
	/* On stderr, so that stdout holds only notifications. */
	fprintf(stderr, "%s: monitoring group \"%s\"\n", VHI_PROG,
		VHOST_IOMMU_MCGRP_MONITOR);

	for (;;) {
		len = mnl_socket_recvfrom(nl->sock, nl->buf, VHI_RECV_SIZE);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				fprintf(stderr, "%s: %s (receive buffer full)\n",
					VHI_PROG, "notifications were lost");
				continue;
			}
			return vhi_report(NULL, -errno, "receiving", 0);
		}
		/* seq and portid 0: notifications are not replies. */
		mnl_cb_run(nl->buf, len, 0, 0, vhi_monitor_cb, nl);
	}
}

static void vhi_synopsis(FILE *f)
{
	fprintf(f,
		"Usage: %s [-j] show [DEV]\n"
		"       %s [-j] stats [DEV]\n"
		"       %s [-j] monitor\n"
		"       %s -h | --help | --version\n",
		VHI_PROG, VHI_PROG, VHI_PROG, VHI_PROG);
}

static void vhi_usage(FILE *f)
{
	vhi_synopsis(f);
	fprintf(f,
		"\n"
		"Shows the vhost-iommu devices (the open files of /dev/vhost-iommu)\n"
		"through the \"%s\" generic netlink family. DEV is a device ID, as\n"
		"in the \"vhost-iommu-id:\" line of /proc/PID/fdinfo/FD; without it,\n"
		"every device the caller may read (all of them with CAP_NET_ADMIN,\n"
		"else those it owns).\n"
		"\n"
		"  show     owner, features, run state, queues, endpoints, bindings,\n"
		"           pending request and fault queue of the device(s)\n"
		"  stats    the counters of the device(s)\n"
		"  monitor  one line per notification (queue broken, device reset,\n"
		"           owner lost) until killed; needs CAP_NET_ADMIN\n"
		"\n"
		"  -j, --json     JSON output\n"
		"  -h, --help     this help\n"
		"      --version  the version\n"
		"\n"
		"Exit status: 0 success, 1 error, 2 module not loaded, 64 bad usage.\n",
		VHOST_IOMMU_FAMILY_NAME);
}

static int vhi_usage_error(const char *fmt, const char *arg)
{
	if (fmt) {
		fprintf(stderr, "%s: ", VHI_PROG);
		fprintf(stderr, fmt, arg);
		fputc('\n', stderr);
	}
	vhi_synopsis(stderr);
	fprintf(stderr, "Run '%s --help' for more.\n", VHI_PROG);
	return VHI_EXIT_USAGE;
}

/* A device ID: decimal, 1 to 2^32 - 1. */
static int vhi_parse_dev(const char *s, __u32 *dev)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || !v || v > UINT32_MAX)
		return -1;
	*dev = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	struct vhi_nl nl;
	__u32 dev = 0;
	int c, code;
	bool takes_dev;

	while ((c = getopt_long(argc, argv, "jhV", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			vhi_json = true;
			break;
		case 'h':
			vhi_usage(stdout);
			return VHI_EXIT_OK;
		case 'V':
			printf("%s %s (generic netlink family \"%s\", version %d)\n",
			       VHI_PROG, VHOST_IOMMU_VERSION,
			       VHOST_IOMMU_FAMILY_NAME,
			       VHOST_IOMMU_FAMILY_VERSION);
			return VHI_EXIT_OK;
		default:
			return vhi_usage_error(NULL, NULL);
		}
	}
	if (optind >= argc)
		return vhi_usage_error("no command given", NULL);
	cmd = argv[optind++];
	if (!strcmp(cmd, "show") || !strcmp(cmd, "stats"))
		takes_dev = true;
	else if (!strcmp(cmd, "monitor"))
		takes_dev = false;
	else
		return vhi_usage_error("unknown command '%s'", cmd);
	if (takes_dev && optind < argc) {
		if (vhi_parse_dev(argv[optind], &dev))
			return vhi_usage_error("bad device ID '%s' (a number from 1)",
					       argv[optind]);
		optind++;
	}
	if (optind < argc)
		return vhi_usage_error("unexpected argument '%s'", argv[optind]);

	code = vhi_connect(&nl);
	if (code == VHI_EXIT_OK) {
		if (!strcmp(cmd, "show"))
			code = vhi_cmd_show(&nl, dev);
		else if (!strcmp(cmd, "stats"))
			code = vhi_cmd_stats(&nl, dev);
		else
			code = vhi_cmd_monitor(&nl);
	}
	vhi_nl_close(&nl);
	if (fflush(stdout) && code == VHI_EXIT_OK) {
		fprintf(stderr, "%s: writing the output: %s\n", VHI_PROG,
			strerror(errno));
		code = VHI_EXIT_ERROR;
	}
	return code;
}
