// SPDX-License-Identifier: GPL-2.0-only
/*
 * kselftest suite "fault": page requests and page responses served in the
 * kernel, end to end on a real iommufd with the selftest mock driver. The
 * mock device is attached to a nested HWPT with a fault queue, so that
 * IOMMU_TEST_OP_TRIGGER_IOPF makes it issue a page request; the device
 * (VHOST_IOMMU_SET_FAULT_QUEUE) must deliver it into the guest's event
 * queue and pass the guest's PAGE_RESP back to iommufd.
 *
 * Whether iommufd still waits for an answer is seen by writing a response
 * to the fault queue ourselves: iommufd takes it only for a cookie it
 * handed out and nobody answered yet (cookies count from 1).
 *
 * The tests named vmm_event_* cover the fault reports a VMM posts into
 * the event queue (VHOST_IOMMU_POST_EVENT), with and without page
 * requests, PAGE_REQ and the fault queue.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "iommufd_mock.h"
#include "vhost_iommu_vmm.h"
#include "viommu_guest.h"

#define GUEST_BASE	0x40000000ULL
#define GUEST_SIZE	(12ULL << 20)
#define GUEST_REGIONS	3
#define RQ_NUM		256u
#define EQ_NUM		256u
#define QUIET_MS	200
#define ALL_FEATURES	VHI_FEATURES_OFFERED
#define NO_PAGE_REQ	(ALL_FEATURES & ~(1ULL << VIRTIO_IOMMU_F_PAGE_REQ))

#define ENDPOINT	8u
#define PASID		1u
#define ADDR		0xdeadb000ULL
#define PERM_R		IOMMU_PGFAULT_PERM_READ
#define PERM_W		IOMMU_PGFAULT_PERM_WRITE
#define PERM_RW		(PERM_R | PERM_W)

#define EV_SIZE		((__u32)sizeof(struct virtio_iommu_page_req))
#define OLD_EV_SIZE	24
#define RESP_IN		offsetof(struct virtio_iommu_req_page_resp, tail)
#define RESP_OUT	((__u32)sizeof(struct virtio_iommu_req_tail))

/* Cookies probed when checking that iommufd waits for nothing. */
#define PROBE_COOKIES	(VHOST_IOMMU_MAX_PAGE_GROUPS + 16)

#define PR_FLAGS	((__u32)(VIRTIO_IOMMU_FAULT_F_PAGE_REQ | \
				 VIRTIO_IOMMU_FAULT_F_ADDRESS | \
				 VIRTIO_IOMMU_FAULT_F_GROUP_ID | \
				 VIRTIO_IOMMU_FAULT_F_LAST))

/*
 * Helpers take the fixture data as struct _test_data_flt, which is what
 * FIXTURE_DATA(flt) expands to, spelled so checkpatch sees a type.
 */
FIXTURE(flt) {
	int fd;
	struct vg_mem mem;
	struct vg_vq rq;
	struct vg_vq eq;
	struct imock_world w;
	__u32 fault_id;
	int fault_fd;
	__u32 fault_hwpt;
	/* Event buffers by descriptor index. */
	struct vg_req ev[EQ_NUM];
};

static void rings_up(struct __test_metadata *_metadata,
		     struct _test_data_flt *self, __u64 features)
{
	ASSERT_EQ(0, vg_rings_up(self->fd, &self->rq, &self->eq, features));
}

FIXTURE_SETUP(flt)
{
	struct vhost_iommu_config cfg;
	int ret;

	self->fd = -1;
	self->w.fd = -1;
	self->fault_fd = -1;
	ASSERT_EQ(0, vg_mem_init(&self->mem, GUEST_BASE, GUEST_SIZE,
				 GUEST_REGIONS));
	ASSERT_EQ(0, vg_vq_init(&self->rq, &self->mem, RQ_NUM));
	ASSERT_EQ(0, vg_vq_init(&self->eq, &self->mem, EQ_NUM));
	vhi_config_default(&cfg);
	self->fd = vg_device_open(&self->mem, &cfg);
	ASSERT_LE(0, self->fd);
	rings_up(_metadata, self, ALL_FEATURES);

	ret = imock_world_init(&self->w);
	if (ret == -ENOENT)
		SKIP(return, "no " IMOCK_DEV_PATH ": kernel without iommufd");
	ASSERT_EQ(0, ret)
		TH_LOG("mock world: %s (CONFIG_IOMMUFD_TEST?)", strerror(-ret));
	/* A nested HWPT with a fault queue; attaching to it enables IOPF. */
	ASSERT_EQ(0, imock_fault_alloc(self->w.fd, &self->fault_id,
				       &self->fault_fd));
	ASSERT_EQ(0, imock_hwpt_alloc_nested(self->w.fd, self->w.idev_id,
					     self->w.parent_id, self->fault_id,
					     &self->fault_hwpt));
	ret = imock_domain_replace(self->w.fd, self->w.stdev_id,
				   self->fault_hwpt);
	ASSERT_EQ(0, ret)
		TH_LOG("attach to the faulting HWPT: %s (CONFIG_IOMMU_IOPF?)",
		       strerror(-ret));

	ASSERT_EQ(0, vhi_set_iommufd(self->fd, self->w.fd));
	ASSERT_EQ(0, vhi_add_endpoint(self->fd, ENDPOINT, self->w.idev_id, 0));
	ASSERT_EQ(0, vhi_set_fault_queue(self->fd, self->fault_fd));
}

FIXTURE_TEARDOWN(flt)
{
	if (self->fd >= 0)
		close(self->fd);
	self->fd = -1;
	if (self->fault_fd >= 0)
		close(self->fault_fd);
	imock_world_destroy(&self->w);
	vg_vq_destroy(&self->rq);
	vg_vq_destroy(&self->eq);
	vg_mem_destroy(&self->mem);
}

static __s64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* The host side */

static void trigger(struct __test_metadata *_metadata,
		    struct _test_data_flt *self, __u32 pasid, __u32 grpid,
		    __u32 perm, __u64 addr)
{
	ASSERT_EQ(0, imock_trigger_iopf(self->w.fd, self->w.idev_id, pasid,
					grpid, perm, addr));
}

static void get_stats(struct __test_metadata *_metadata,
		      struct _test_data_flt *self,
		      struct vhost_iommu_stats *st)
{
	ASSERT_EQ(0, vhi_get_stats(self->fd, st));
}

/* Waits until the device has answered @n groups INVALID itself. */
static void wait_invalid(struct __test_metadata *_metadata,
			 struct _test_data_flt *self, __u64 n)
{
	__s64 end = now_ms() + VG_TIMEOUT_MS;
	struct vhost_iommu_stats st;

	for (;;) {
		get_stats(_metadata, self, &st);
		if (st.out_page_req_invalid >= n || now_ms() > end)
			break;
		usleep(1000);
	}
	EXPECT_EQ(n, st.out_page_req_invalid);
}

/*
 * Answers, from the test, every group iommufd still waits on and returns
 * how many there were. Only meaningful once the worker has read them.
 */
static int answer_leftovers(struct __test_metadata *_metadata,
			    struct _test_data_flt *self)
{
	struct iommu_hwpt_page_response r;
	int n = 0;
	__u32 c;

	for (c = 1; c <= PROBE_COOKIES; c++) {
		r.cookie = c;
		r.code = IOMMUFD_PAGE_RESP_INVALID;
		if (write(self->fault_fd, &r, sizeof(r)) == sizeof(r))
			n++;
		else
			EXPECT_EQ(EINVAL, errno);
	}
	return n;
}

static void expect_none_waiting(struct __test_metadata *_metadata,
				struct _test_data_flt *self, const char *what)
{
	EXPECT_EQ(0, answer_leftovers(_metadata, self))
		TH_LOG("%s: iommufd still waits for answers", what);
}

/* ------------------------------------------------------------------ */
/* The guest side */

static void post_events(struct __test_metadata *_metadata,
			struct _test_data_flt *self, unsigned int n,
			__u32 len)
{
	struct vg_req req;
	unsigned int i;

	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, vg_post_writable(&self->eq, len,
					      VG_SUBMIT_NO_PUBLISH, &req));
		self->ev[req.head] = req;
	}
	vg_publish(&self->eq);
	ASSERT_EQ(0, vg_kick(&self->eq));
}

/* The next event; 48 bytes used. */
static void wait_event(struct __test_metadata *_metadata,
		       struct _test_data_flt *self,
		       struct virtio_iommu_page_req *ev)
{
	__u32 id = ~0u, len = 0;

	ASSERT_EQ(0, vg_wait_used(&self->eq, VG_TIMEOUT_MS, &id, &len))
		TH_LOG("no event within %d ms", VG_TIMEOUT_MS);
	ASSERT_GT(EQ_NUM, id);
	ASSERT_EQ(EV_SIZE, len);
	ASSERT_EQ(0, vg_read(&self->mem, self->ev[id].out_gpa, ev,
			     sizeof(*ev)));
}

static void expect_no_event(struct __test_metadata *_metadata,
			    struct _test_data_flt *self)
{
	usleep(QUIET_MS * 1000);
	EXPECT_EQ(self->eq.last_used, vg_used_idx(&self->eq))
		TH_LOG("an event was used");
}

static void mk_resp(struct virtio_iommu_req_page_resp *r, __u32 endpoint,
		    bool has_pasid, __u32 pasid, __u32 grpid, __u16 code)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_PAGE_RESP;
	r->endpoint = htole32(endpoint);
	r->flags = htole32(has_pasid ? VIRTIO_IOMMU_PAGE_RESP_F_PASID : 0);
	r->pasid = htole32(pasid);
	r->grpid = htole32(grpid);
	r->resp_code = htole16(code);
}

static __u8 send_resp_req(struct __test_metadata *_metadata,
			  struct _test_data_flt *self,
			  const struct virtio_iommu_req_page_resp *r)
{
	__u32 id = ~0u, len = 0;
	struct vg_req req;
	__u8 st = 0xff;

	if (vg_submit(&self->rq, r, RESP_IN, RESP_OUT, 0, &req))
		return 0xfe;
	if (vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len))
		return 0xfd;
	EXPECT_EQ(req.head, id);
	EXPECT_EQ(RESP_OUT, len);
	vg_req_status(&self->rq, &req, &st);
	return st;
}

static __u8 send_resp(struct __test_metadata *_metadata,
		      struct _test_data_flt *self, __u32 pasid, __u32 grpid,
		      __u16 code)
{
	struct virtio_iommu_req_page_resp r;

	mk_resp(&r, ENDPOINT, pasid != 0, pasid, grpid, code);
	return send_resp_req(_metadata, self, &r);
}

/* ------------------------------------------------------------------ */
/* Attaching the fault queue */

TEST_F(flt, attach_validates_the_fd)
{
	struct vhost_iommu_fault_queue a = { .size = sizeof(a) };
	struct {
		struct vhost_iommu_fault_queue q;
		__u64 extra;
	} big;
	int efd, other;

	efd = eventfd(0, 0);
	ASSERT_LE(0, efd);
	EXPECT_EQ(-EBADF, vhi_set_fault_queue(self->fd, 1000));
	EXPECT_EQ(-EINVAL, vhi_set_fault_queue(self->fd, efd));
	EXPECT_EQ(-EINVAL, vhi_set_fault_queue(self->fd, self->w.fd));
	EXPECT_EQ(-EINVAL, vhi_set_fault_queue(self->fd, self->fd));
	close(efd);

	a.fault_fd = self->fault_fd;
	a.flags = 1;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_SET_FAULT_QUEUE, &a));
	EXPECT_EQ(EOPNOTSUPP, errno);
	a.flags = 0;
	a.__reserved = 1;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_SET_FAULT_QUEUE, &a));
	EXPECT_EQ(EOPNOTSUPP, errno);
	a.__reserved = 0;
	a.size = 8;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_SET_FAULT_QUEUE, &a));
	EXPECT_EQ(EINVAL, errno);
	/* A newer, longer struct: only zeroes past what the kernel knows. */
	big.q = a;
	big.q.size = sizeof(big);
	big.extra = 1;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_SET_FAULT_QUEUE, &big));
	EXPECT_EQ(E2BIG, errno);
	big.extra = 0;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_IOMMU_SET_FAULT_QUEUE, &big));

	/* Without an iommufd there is nothing to take it from. */
	other = vhi_open();
	ASSERT_LE(0, other);
	ASSERT_EQ(0, vhi_set_owner(other));
	EXPECT_EQ(-EINVAL, vhi_set_fault_queue(other, self->fault_fd));
	close(other);

	/* Detach, detach again, attach again. */
	EXPECT_EQ(0, vhi_set_fault_queue(self->fd, -1));
	EXPECT_EQ(0, vhi_set_fault_queue(self->fd, -1));
	EXPECT_EQ(0, vhi_set_fault_queue(self->fd, self->fault_fd));
	/* The same file again, through another descriptor: no change. */
	other = dup(self->fault_fd);
	ASSERT_LE(0, other);
	EXPECT_EQ(0, vhi_set_fault_queue(self->fd, other));
	close(other);
}

/* ------------------------------------------------------------------ */
/* Delivery and response */

TEST_F(flt, page_request_reaches_the_guest)
{
	struct virtio_iommu_page_req ev;
	struct vhost_iommu_stats st;
	static const __u8 zero[EV_SIZE];
	const __u8 *raw = (const __u8 *)&ev;

	post_events(_metadata, self, 4, EV_SIZE);
	trigger(_metadata, self, PASID, 2, PERM_RW, ADDR);
	wait_event(_metadata, self, &ev);
	EXPECT_EQ(VIRTIO_IOMMU_FAULT_R_MAPPING, ev.reason);
	EXPECT_EQ(PR_FLAGS | VIRTIO_IOMMU_FAULT_F_PASID |
		  VIRTIO_IOMMU_FAULT_F_READ | VIRTIO_IOMMU_FAULT_F_WRITE,
		  le32toh(ev.flags));
	EXPECT_EQ(ENDPOINT, le32toh(ev.endpoint));
	EXPECT_EQ(PASID, le32toh(ev.pasid));
	EXPECT_EQ(ADDR, le64toh(ev.address));
	EXPECT_EQ(2, le16toh(ev.group_id));
	/* Reserved bytes and private data are zero. */
	EXPECT_EQ(0, memcmp(raw + 1, zero, 3));
	EXPECT_EQ(0, memcmp(raw + offsetof(struct virtio_iommu_page_req,
					   reserved1), zero,
			    EV_SIZE - offsetof(struct virtio_iommu_page_req,
					       reserved1)));
	expect_no_event(_metadata, self);

	get_stats(_metadata, self, &st);
	EXPECT_EQ(1u, st.out_page_reqs);
	EXPECT_EQ(0u, st.out_page_req_invalid);
	/* Control for the other tests' probe: the group is waiting. */
	EXPECT_EQ(1, answer_leftovers(_metadata, self));
}

TEST_F(flt, page_response_reaches_iommufd)
{
	struct virtio_iommu_page_req ev;
	struct vhost_iommu_stats st;

	post_events(_metadata, self, 4, EV_SIZE);
	trigger(_metadata, self, PASID, 2, PERM_RW, ADDR);
	wait_event(_metadata, self, &ev);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK,
		  send_resp(_metadata, self, PASID, 2,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	/* iommufd took it: the cookie cannot be answered again. */
	expect_none_waiting(_metadata, self, "after PAGE_RESP");
	/* The same response again matches nothing. */
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL,
		  send_resp(_metadata, self, PASID, 2,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	get_stats(_metadata, self, &st);
	EXPECT_EQ(1u, st.out_page_resps);
	EXPECT_EQ(0u, st.out_page_req_invalid);
	EXPECT_EQ(0u, st.out_fault_errors);

	/* Nothing holds the HWPT or the fault queue: they can go. */
	EXPECT_EQ(0, imock_domain_replace(self->w.fd, self->w.stdev_id,
					  self->w.ioas_id));
	EXPECT_EQ(0, imock_destroy(self->w.fd, self->fault_hwpt));
	EXPECT_EQ(0, vhi_set_fault_queue(self->fd, -1));
	close(self->fault_fd);
	self->fault_fd = -1;
	EXPECT_EQ(0, imock_destroy(self->w.fd, self->fault_id));
}

TEST_F(flt, request_without_pasid)
{
	struct virtio_iommu_page_req ev;

	post_events(_metadata, self, 4, EV_SIZE);
	trigger(_metadata, self, 0, 7, PERM_R, ADDR + 0x1000);
	wait_event(_metadata, self, &ev);
	EXPECT_EQ(PR_FLAGS | VIRTIO_IOMMU_FAULT_F_READ, le32toh(ev.flags));
	EXPECT_EQ(0u, le32toh(ev.pasid));
	EXPECT_EQ(7, le16toh(ev.group_id));
	/* A PASID the request did not have does not match it. */
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL,
		  send_resp(_metadata, self, PASID, 7,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	EXPECT_EQ(VIRTIO_IOMMU_S_OK,
		  send_resp(_metadata, self, 0, 7,
			    VIRTIO_IOMMU_PAGE_RESP_INVALID));
	expect_none_waiting(_metadata, self, "after PAGE_RESP");
}

TEST_F(flt, exec_and_privileged)
{
	struct virtio_iommu_page_req ev;

	post_events(_metadata, self, 4, EV_SIZE);
	trigger(_metadata, self, PASID, 3,
		IOMMU_PGFAULT_PERM_EXEC | IOMMU_PGFAULT_PERM_PRIV, ADDR);
	wait_event(_metadata, self, &ev);
	EXPECT_EQ(PR_FLAGS | VIRTIO_IOMMU_FAULT_F_PASID |
		  VIRTIO_IOMMU_FAULT_F_EXEC | VIRTIO_IOMMU_FAULT_F_PRIVILEGED,
		  le32toh(ev.flags));
	EXPECT_EQ(VIRTIO_IOMMU_S_OK,
		  send_resp(_metadata, self, PASID, 3,
			    VIRTIO_IOMMU_PAGE_RESP_FAILURE));
	expect_none_waiting(_metadata, self, "after FAILURE");
}

TEST_F(flt, many_in_flight_answered_out_of_order)
{
	enum { N = 48 };
	struct virtio_iommu_page_req ev;
	struct vhost_iommu_stats st;
	bool seen[N] = { false };
	unsigned int i, g;

	post_events(_metadata, self, N, EV_SIZE);
	for (i = 0; i < N; i++)
		trigger(_metadata, self, PASID, i, PERM_R, ADDR + i * 0x1000);
	for (i = 0; i < N; i++) {
		wait_event(_metadata, self, &ev);
		g = le16toh(ev.group_id);
		ASSERT_GT((unsigned int)N, g);
		EXPECT_FALSE(seen[g]);
		seen[g] = true;
		EXPECT_EQ(ADDR + g * 0x1000, le64toh(ev.address));
	}
	/* Odd groups backwards, then even ones forwards. */
	for (i = 0; i < N / 2; i++)
		EXPECT_EQ(VIRTIO_IOMMU_S_OK,
			  send_resp(_metadata, self, PASID, N - 1 - 2 * i,
				    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	for (i = 0; i < N / 2; i++)
		EXPECT_EQ(VIRTIO_IOMMU_S_OK,
			  send_resp(_metadata, self, PASID, 2 * i,
				    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	get_stats(_metadata, self, &st);
	EXPECT_EQ((__u64)N, st.out_page_reqs);
	EXPECT_EQ((__u64)N, st.out_page_resps);
	EXPECT_EQ(0u, st.out_page_req_invalid);
	expect_none_waiting(_metadata, self, "after all responses");
}

TEST_F(flt, unmatched_responses_are_inval)
{
	struct virtio_iommu_req_page_resp r;
	struct virtio_iommu_page_req ev;
	struct vhost_iommu_stats st;

	/* Nothing outstanding at all. */
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL,
		  send_resp(_metadata, self, PASID, 4,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));

	post_events(_metadata, self, 4, EV_SIZE);
	trigger(_metadata, self, PASID, 4, PERM_R, ADDR);
	wait_event(_metadata, self, &ev);

	mk_resp(&r, ENDPOINT + 1, true, PASID, 4, 0);
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL, send_resp_req(_metadata, self, &r));
	mk_resp(&r, ENDPOINT, true, PASID + 1, 4, 0);
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL, send_resp_req(_metadata, self, &r));
	mk_resp(&r, ENDPOINT, true, PASID, 5, 0);
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL, send_resp_req(_metadata, self, &r));
	mk_resp(&r, ENDPOINT, false, 0, 4, 0);
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL, send_resp_req(_metadata, self, &r));
	/* Group IDs are 16 bits on the wire: no aliasing of 0x10004. */
	mk_resp(&r, ENDPOINT, true, PASID, 0x10004, 0);
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL, send_resp_req(_metadata, self, &r));
	/* Unknown code, unknown flag, reserved byte. */
	mk_resp(&r, ENDPOINT, true, PASID, 4, 3);
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL, send_resp_req(_metadata, self, &r));
	mk_resp(&r, ENDPOINT, true, PASID, 4, 0);
	r.flags |= htole32(2);
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL, send_resp_req(_metadata, self, &r));
	mk_resp(&r, ENDPOINT, true, PASID, 4, 0);
	r.reserved[0] = 1;
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL, send_resp_req(_metadata, self, &r));

	/* None of that touched the group: the right answer still works. */
	get_stats(_metadata, self, &st);
	EXPECT_EQ(0u, st.out_page_resps);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK,
		  send_resp(_metadata, self, PASID, 4,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL,
		  send_resp(_metadata, self, PASID, 4,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	expect_none_waiting(_metadata, self, "after PAGE_RESP");
}

TEST_F(flt, response_without_the_feature_is_unknown)
{
	struct virtio_iommu_req_page_resp r;
	struct vg_req req;
	__u32 id, len = ~0u;

	rings_up(_metadata, self, NO_PAGE_REQ);
	mk_resp(&r, ENDPOINT, true, PASID, 4, 0);
	ASSERT_EQ(0, vg_submit(&self->rq, &r, RESP_IN, RESP_OUT, 0, &req));
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(0u, len);
}

/* ------------------------------------------------------------------ */
/* When the guest cannot take a page request */

TEST_F(flt, feature_not_negotiated)
{
	rings_up(_metadata, self, NO_PAGE_REQ);
	post_events(_metadata, self, 4, EV_SIZE);
	trigger(_metadata, self, PASID, 1, PERM_R, ADDR);
	wait_invalid(_metadata, self, 1);
	expect_no_event(_metadata, self);
	expect_none_waiting(_metadata, self, "answered by the device");
}

TEST_F(flt, short_event_buffers)
{
	struct virtio_iommu_page_req ev;
	struct vhost_iommu_stats st;

	/* What Linux 6.12's driver posts: 24-byte fault reports. */
	post_events(_metadata, self, 4, OLD_EV_SIZE);
	trigger(_metadata, self, PASID, 1, PERM_R, ADDR);
	trigger(_metadata, self, PASID, 2, PERM_R, ADDR);
	wait_invalid(_metadata, self, 2);
	expect_no_event(_metadata, self);
	expect_none_waiting(_metadata, self, "answered by the device");
	get_stats(_metadata, self, &st);
	EXPECT_EQ(0u, st.out_page_reqs);

	/* The short buffers stay available; a new driver's reset fixes it. */
	rings_up(_metadata, self, ALL_FEATURES);
	post_events(_metadata, self, 4, EV_SIZE);
	trigger(_metadata, self, PASID, 3, PERM_R, ADDR);
	wait_event(_metadata, self, &ev);
	EXPECT_EQ(3, le16toh(ev.group_id));
}

TEST_F(flt, held_until_buffers_arrive)
{
	struct virtio_iommu_page_req ev;
	struct vhost_iommu_stats st;

	/* No event buffers: the group waits in the backlog. */
	trigger(_metadata, self, PASID, 9, PERM_R, ADDR);
	expect_no_event(_metadata, self);
	get_stats(_metadata, self, &st);
	EXPECT_EQ(0u, st.out_page_req_invalid);
	EXPECT_EQ(0u, st.out_page_reqs);
	/* Undelivered groups cannot be answered by a guess. */
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL,
		  send_resp(_metadata, self, PASID, 9,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));

	post_events(_metadata, self, 1, EV_SIZE);
	wait_event(_metadata, self, &ev);
	EXPECT_EQ(9, le16toh(ev.group_id));
	EXPECT_EQ(VIRTIO_IOMMU_S_OK,
		  send_resp(_metadata, self, PASID, 9,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	expect_none_waiting(_metadata, self, "after PAGE_RESP");
}

TEST_F(flt, backlog_is_bounded)
{
	enum { EXTRA = 3, N = VHOST_IOMMU_MAX_EVENT_BACKLOG + EXTRA };
	struct virtio_iommu_page_req ev;
	unsigned int i;

	for (i = 0; i < N; i++)
		trigger(_metadata, self, PASID, i, PERM_R, ADDR);
	/* The ones past the bound are answered at once, the rest wait. */
	wait_invalid(_metadata, self, EXTRA);
	post_events(_metadata, self, N, EV_SIZE);
	for (i = 0; i < VHOST_IOMMU_MAX_EVENT_BACKLOG; i++) {
		wait_event(_metadata, self, &ev);
		EXPECT_EQ(i, le16toh(ev.group_id));
	}
	expect_no_event(_metadata, self);
	for (i = 0; i < VHOST_IOMMU_MAX_EVENT_BACKLOG; i++)
		EXPECT_EQ(VIRTIO_IOMMU_S_OK,
			  send_resp(_metadata, self, PASID, i,
				    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	/* The late ones were answered INVALID, not left waiting. */
	expect_none_waiting(_metadata, self, "all answered");
}

TEST_F(flt, outstanding_table_is_bounded)
{
	enum { N = VHOST_IOMMU_MAX_PAGE_GROUPS };
	struct virtio_iommu_page_req ev;
	unsigned int i;

	post_events(_metadata, self, EQ_NUM, EV_SIZE);
	for (i = 0; i < N; i++) {
		trigger(_metadata, self, PASID, i, PERM_R, ADDR);
		wait_event(_metadata, self, &ev);
	}
	/* One more than the table holds. */
	trigger(_metadata, self, PASID, N, PERM_R, ADDR);
	wait_invalid(_metadata, self, 1);
	/* Answering one makes room. */
	EXPECT_EQ(VIRTIO_IOMMU_S_OK,
		  send_resp(_metadata, self, PASID, 0,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	post_events(_metadata, self, 1, EV_SIZE);
	trigger(_metadata, self, PASID, N + 1, PERM_R, ADDR);
	wait_event(_metadata, self, &ev);
	EXPECT_EQ(N + 1, le16toh(ev.group_id));
}

TEST_F(flt, unknown_endpoint_and_wide_group_id)
{
	/* A group ID the 16-bit field cannot carry. */
	post_events(_metadata, self, 4, EV_SIZE);
	trigger(_metadata, self, PASID, 0x10000, PERM_R, ADDR);
	wait_invalid(_metadata, self, 1);
	/* No endpoint for the device. */
	ASSERT_EQ(0, vhi_remove_endpoint(self->fd, ENDPOINT));
	trigger(_metadata, self, PASID, 1, PERM_R, ADDR);
	wait_invalid(_metadata, self, 2);
	expect_no_event(_metadata, self);
	expect_none_waiting(_metadata, self, "answered by the device");
}

TEST_F(flt, same_group_twice)
{
	struct virtio_iommu_page_req ev;

	post_events(_metadata, self, 4, EV_SIZE);
	trigger(_metadata, self, PASID, 5, PERM_R, ADDR);
	wait_event(_metadata, self, &ev);
	/* The guest could not tell two outstanding groups 5 apart. */
	trigger(_metadata, self, PASID, 5, PERM_W, ADDR);
	wait_invalid(_metadata, self, 1);
	expect_no_event(_metadata, self);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK,
		  send_resp(_metadata, self, PASID, 5,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	expect_none_waiting(_metadata, self, "after PAGE_RESP");
}

TEST_F(flt, corrupt_event_queue)
{
	struct vhost_iommu_stats st;
	__u64 count;
	int efd;

	efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vhi_set_vring_err(self->fd, VHOST_IOMMU_VQ_EVENT, efd));
	/* An available index further ahead than the ring is long. */
	vg_avail_store_idx(&self->eq, EQ_NUM + 1);
	ASSERT_EQ(0, vg_kick(&self->eq));
	trigger(_metadata, self, PASID, 1, PERM_R, ADDR);
	EXPECT_EQ(0, vg_eventfd_wait(efd, VG_TIMEOUT_MS, &count));
	wait_invalid(_metadata, self, 1);
	get_stats(_metadata, self, &st);
	EXPECT_EQ(1u, st.out_broken);
	/* Later ones too, until the queue is set up again. */
	trigger(_metadata, self, PASID, 2, PERM_R, ADDR);
	wait_invalid(_metadata, self, 2);
	expect_none_waiting(_metadata, self, "answered by the device");
	close(efd);
}

/* ------------------------------------------------------------------ */
/* Everything outstanding is answered when it can no longer be */

/* Two groups delivered, one waiting for a buffer. */
static void three_outstanding(struct __test_metadata *_metadata,
			      struct _test_data_flt *self)
{
	struct virtio_iommu_page_req ev;

	post_events(_metadata, self, 2, EV_SIZE);
	trigger(_metadata, self, PASID, 1, PERM_R, ADDR);
	trigger(_metadata, self, PASID, 2, PERM_R, ADDR);
	trigger(_metadata, self, 0, 3, PERM_R, ADDR);
	wait_event(_metadata, self, &ev);
	wait_event(_metadata, self, &ev);
	expect_no_event(_metadata, self);
}

TEST_F(flt, reset_answers_outstanding)
{
	three_outstanding(_metadata, self);
	ASSERT_EQ(0, vhi_reset_device(self->fd));
	wait_invalid(_metadata, self, 3);
	expect_none_waiting(_metadata, self, "after reset");
	/* A reset device takes no page requests until set up again. */
	trigger(_metadata, self, PASID, 4, PERM_R, ADDR);
	wait_invalid(_metadata, self, 4);
}

TEST_F(flt, detach_answers_outstanding)
{
	struct virtio_iommu_page_req ev;

	three_outstanding(_metadata, self);
	ASSERT_EQ(0, vhi_set_fault_queue(self->fd, -1));
	wait_invalid(_metadata, self, 3);
	expect_none_waiting(_metadata, self, "after detach");
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL,
		  send_resp(_metadata, self, PASID, 1,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	/* Attached again, it works as before. */
	ASSERT_EQ(0, vhi_set_fault_queue(self->fd, self->fault_fd));
	post_events(_metadata, self, 1, EV_SIZE);
	trigger(_metadata, self, PASID, 6, PERM_R, ADDR);
	wait_event(_metadata, self, &ev);
	EXPECT_EQ(6, le16toh(ev.group_id));
}

TEST_F(flt, endpoint_removal_answers_its_groups)
{
	three_outstanding(_metadata, self);
	ASSERT_EQ(0, vhi_remove_endpoint(self->fd, ENDPOINT));
	wait_invalid(_metadata, self, 3);
	expect_none_waiting(_metadata, self, "after endpoint removal");
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL,
		  send_resp(_metadata, self, PASID, 2,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
}

TEST_F(flt, iommufd_release_answers_outstanding)
{
	three_outstanding(_metadata, self);
	ASSERT_EQ(0, vhi_set_iommufd(self->fd, -1));
	wait_invalid(_metadata, self, 3);
	expect_none_waiting(_metadata, self, "after SET_IOMMUFD -1");
}

TEST_F(flt, close_answers_outstanding)
{
	three_outstanding(_metadata, self);
	close(self->fd);
	self->fd = -1;
	expect_none_waiting(_metadata, self, "after close");
}

TEST_F(flt, reset_owner_answers_outstanding)
{
	three_outstanding(_metadata, self);
	ASSERT_EQ(0, vhi_reset_owner(self->fd));
	expect_none_waiting(_metadata, self, "after RESET_OWNER");
}

/*
 * A child process owns a second device with the fault queue, has a page
 * request delivered and exits without closing anything. Returns the
 * number of the step that failed, 0 if all went well.
 */
static int exiting_owner(struct _test_data_flt *self)
{
	struct vhost_iommu_config cfg;
	struct vg_req buf;
	__u32 id, len;
	int fd;

	vhi_config_default(&cfg);
	fd = vg_device_open(&self->mem, &cfg);
	if (fd < 0)
		return 1;
	if (vg_rings_up(fd, &self->rq, &self->eq, ALL_FEATURES))
		return 3;
	if (vhi_set_iommufd(fd, self->w.fd) ||
	    vhi_add_endpoint(fd, ENDPOINT, self->w.idev_id, 0) ||
	    vhi_set_fault_queue(fd, self->fault_fd))
		return 4;
	if (vg_post_writable(&self->eq, EV_SIZE, 0, &buf) ||
	    imock_trigger_iopf(self->w.fd, self->w.idev_id, PASID, 1, PERM_R,
			       ADDR))
		return 5;
	if (vg_wait_used(&self->eq, VG_TIMEOUT_MS, &id, &len) ||
	    len != EV_SIZE)
		return 6;
	return 0;
}

TEST_F(flt, owner_exit_leaves_groups_to_iommufd)
{
	int status;
	pid_t pid;

	/* One reader at a time: the child's device takes the queue. */
	ASSERT_EQ(0, vhi_set_fault_queue(self->fd, -1));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(exiting_owner(self));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/*
	 * Its device was released after its memory was gone, so it could
	 * not answer; iommufd does when the device leaves the HWPT.
	 */
	ASSERT_EQ(0, imock_domain_replace(self->w.fd, self->w.stdev_id,
					  self->w.ioas_id));
	expect_none_waiting(_metadata, self, "after the HWPT detach");
}

TEST_F(flt, answered_by_iommufd_behind_our_back)
{
	struct virtio_iommu_page_req ev;

	post_events(_metadata, self, 4, EV_SIZE);
	trigger(_metadata, self, PASID, 1, PERM_R, ADDR);
	wait_event(_metadata, self, &ev);
	/* Leaving the HWPT makes iommufd answer the group itself... */
	ASSERT_EQ(0, imock_domain_replace(self->w.fd, self->w.stdev_id,
					  self->w.ioas_id));
	ASSERT_EQ(0, imock_domain_replace(self->w.fd, self->w.stdev_id,
					  self->fault_hwpt));
	/*
	 * ...and hands its cookie to the next group, here one with the same
	 * group ID: it is a new group, not a duplicate of the dead one.
	 */
	trigger(_metadata, self, PASID, 1, PERM_W, ADDR);
	wait_event(_metadata, self, &ev);
	EXPECT_EQ(1, le16toh(ev.group_id));
	EXPECT_NE(0u, le32toh(ev.flags) & VIRTIO_IOMMU_FAULT_F_WRITE);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK,
		  send_resp(_metadata, self, PASID, 1,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	expect_none_waiting(_metadata, self, "after PAGE_RESP");

	/* A late answer to a group iommufd answered itself matches nothing. */
	trigger(_metadata, self, PASID, 2, PERM_R, ADDR);
	wait_event(_metadata, self, &ev);
	ASSERT_EQ(0, imock_domain_replace(self->w.fd, self->w.stdev_id,
					  self->w.ioas_id));
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL,
		  send_resp(_metadata, self, PASID, 2,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL,
		  send_resp(_metadata, self, PASID, 2,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
}

/* ------------------------------------------------------------------ */
/* Fault reports the VMM posts (VHOST_IOMMU_POST_EVENT) */

#define FR_SIZE		((__u32)sizeof(struct virtio_iommu_fault))
#define VMM_EP		3u
#define VMM_ADDR	0x12345678abcd000ULL
#define FR_RW		(VIRTIO_IOMMU_FAULT_F_READ | VIRTIO_IOMMU_FAULT_F_WRITE | \
			 VIRTIO_IOMMU_FAULT_F_ADDRESS)

static int post_fault(struct _test_data_flt *self, __u32 ep, __u64 addr)
{
	return vhi_post_event(self->fd, VIRTIO_IOMMU_FAULT_R_MAPPING, FR_RW,
			      ep, addr);
}

/* The 24 bytes the spec lays out, built by hand, not from the struct. */
static void fault_bytes(__u8 *b, __u8 reason, __u32 flags, __u32 ep,
			__u64 addr)
{
	__le32 f = htole32(flags), e = htole32(ep);
	__le64 a = htole64(addr);

	memset(b, 0, FR_SIZE);
	b[0] = reason;
	memcpy(b + 4, &f, 4);
	memcpy(b + 8, &e, 4);
	memcpy(b + 16, &a, 8);
}

/*
 * The next event is the fault report given, byte for byte, with used
 * length 24; the rest of a longer buffer is as the guest left it.
 */
static void expect_fault(struct __test_metadata *_metadata,
			 struct _test_data_flt *self, __u8 reason,
			 __u32 flags, __u32 ep, __u64 addr)
{
	__u8 want[FR_SIZE], raw[EV_SIZE];
	__u32 id = ~0u, len = 0, i, touched = 0;

	ASSERT_EQ(0, vg_wait_used(&self->eq, VG_TIMEOUT_MS, &id, &len))
		TH_LOG("no fault report within %d ms", VG_TIMEOUT_MS);
	ASSERT_GT(EQ_NUM, id);
	ASSERT_EQ(FR_SIZE, len);
	ASSERT_GE((__u32)sizeof(raw), self->ev[id].out_len);
	ASSERT_EQ(0, vg_read(&self->mem, self->ev[id].out_gpa, raw,
			     self->ev[id].out_len));
	fault_bytes(want, reason, flags, ep, addr);
	EXPECT_EQ(0, memcmp(want, raw, FR_SIZE))
		TH_LOG("fault report for endpoint %u: wrong bytes", ep);
	for (i = FR_SIZE; i < self->ev[id].out_len; i++)
		touched += raw[i] != VG_POISON;
	EXPECT_EQ(0u, touched);
}

static void expect_vmm_fault(struct __test_metadata *_metadata,
			     struct _test_data_flt *self, __u32 ep)
{
	expect_fault(_metadata, self, VIRTIO_IOMMU_FAULT_R_MAPPING, FR_RW, ep,
		     VMM_ADDR + ep);
}

/* Until the worker has read every page request from the fault queue. */
static void wait_read(struct __test_metadata *_metadata,
		      struct _test_data_flt *self)
{
	struct pollfd p = { .fd = self->fault_fd, .events = POLLIN };
	__s64 end = now_ms() + VG_TIMEOUT_MS;

	while (poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
		ASSERT_GT(end, now_ms())
			TH_LOG("the worker did not read the fault queue");
		usleep(1000);
	}
}

TEST_F(flt, vmm_event_exact_bytes_in_24_byte_buffers)
{
	struct vhost_iommu_stats st;
	__u16 used;

	/* Today's Linux guest: no PAGE_REQ, 24-byte buffers; no fault queue. */
	ASSERT_EQ(0, vhi_set_fault_queue(self->fd, -1));
	rings_up(_metadata, self, NO_PAGE_REQ);
	post_events(_metadata, self, 4, OLD_EV_SIZE);

	/* A buffer is there: written before the ioctl returns. */
	used = vg_used_idx(&self->eq);
	ASSERT_EQ(0, post_fault(self, VMM_EP, VMM_ADDR + VMM_EP));
	EXPECT_EQ((__u16)(used + 1), vg_used_idx(&self->eq));
	expect_vmm_fault(_metadata, self, VMM_EP);

	/* No address, another reason, every flag it takes. */
	ASSERT_EQ(0, vhi_post_event(self->fd, VIRTIO_IOMMU_FAULT_R_DOMAIN, 0,
				    0xfffffffe, 0));
	expect_fault(_metadata, self, VIRTIO_IOMMU_FAULT_R_DOMAIN, 0,
		     0xfffffffe, 0);
	ASSERT_EQ(0, vhi_post_event(self->fd, VIRTIO_IOMMU_FAULT_R_UNKNOWN,
				    VHOST_IOMMU_EVENT_FAULT_FLAGS, 0, ~0ULL));
	expect_fault(_metadata, self, VIRTIO_IOMMU_FAULT_R_UNKNOWN,
		     VHOST_IOMMU_EVENT_FAULT_FLAGS, 0, ~0ULL);
	expect_no_event(_metadata, self);

	get_stats(_metadata, self, &st);
	EXPECT_EQ(3u, st.out_vmm_events);
	EXPECT_EQ(0u, st.out_vmm_events_dropped);
	EXPECT_EQ(0u, st.out_page_reqs);
}

TEST_F(flt, vmm_event_in_48_byte_buffers)
{
	struct virtio_iommu_page_req ev;

	/* A guest that takes page requests: the report is still 24 bytes. */
	post_events(_metadata, self, 4, EV_SIZE);
	ASSERT_EQ(0, post_fault(self, VMM_EP, VMM_ADDR + VMM_EP));
	expect_vmm_fault(_metadata, self, VMM_EP);
	/* And page requests go on as before, 48 bytes. */
	trigger(_metadata, self, PASID, 2, PERM_R, ADDR);
	wait_event(_metadata, self, &ev);
	EXPECT_EQ(2, le16toh(ev.group_id));
	EXPECT_EQ(VIRTIO_IOMMU_S_OK,
		  send_resp(_metadata, self, PASID, 2,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	expect_none_waiting(_metadata, self, "after PAGE_RESP");
}

TEST_F(flt, vmm_event_after_page_request)
{
	struct virtio_iommu_page_req ev;

	/* The group is read while no buffer is there: it waits. */
	trigger(_metadata, self, PASID, 5, PERM_R, ADDR);
	wait_read(_metadata, self);
	ASSERT_EQ(0, post_fault(self, VMM_EP, VMM_ADDR + VMM_EP));
	expect_no_event(_metadata, self);
	/* The group first, then the report posted after it was read. */
	post_events(_metadata, self, 2, EV_SIZE);
	wait_event(_metadata, self, &ev);
	EXPECT_EQ(5, le16toh(ev.group_id));
	expect_vmm_fault(_metadata, self, VMM_EP);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK,
		  send_resp(_metadata, self, PASID, 5,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	expect_none_waiting(_metadata, self, "after PAGE_RESP");
}

TEST_F(flt, vmm_event_before_page_request)
{
	struct virtio_iommu_page_req ev;

	ASSERT_EQ(0, post_fault(self, VMM_EP, VMM_ADDR + VMM_EP));
	trigger(_metadata, self, PASID, 6, PERM_R, ADDR);
	wait_read(_metadata, self);
	ASSERT_EQ(0, post_fault(self, VMM_EP + 1, VMM_ADDR + VMM_EP + 1));
	expect_no_event(_metadata, self);
	/* One FIFO: report, group, report. */
	post_events(_metadata, self, 3, EV_SIZE);
	expect_vmm_fault(_metadata, self, VMM_EP);
	wait_event(_metadata, self, &ev);
	EXPECT_EQ(6, le16toh(ev.group_id));
	expect_vmm_fault(_metadata, self, VMM_EP + 1);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK,
		  send_resp(_metadata, self, PASID, 6,
			    VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	expect_none_waiting(_metadata, self, "after PAGE_RESP");
}

TEST_F(flt, vmm_event_with_short_buffers_and_page_requests)
{
	/* PAGE_REQ on, but the guest posts 24-byte buffers. */
	post_events(_metadata, self, 2, OLD_EV_SIZE);
	trigger(_metadata, self, PASID, 1, PERM_R, ADDR);
	wait_invalid(_metadata, self, 1);
	/* The buffer the group could not take takes the report. */
	ASSERT_EQ(0, post_fault(self, VMM_EP, VMM_ADDR + VMM_EP));
	expect_vmm_fault(_metadata, self, VMM_EP);
	expect_none_waiting(_metadata, self, "answered by the device");
}

TEST_F(flt, vmm_event_waits_for_buffers)
{
	struct vhost_iommu_stats st;
	unsigned int i;

	ASSERT_EQ(0, vhi_set_fault_queue(self->fd, -1));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, post_fault(self, i, VMM_ADDR + i));
	expect_no_event(_metadata, self);
	get_stats(_metadata, self, &st);
	EXPECT_EQ(0u, st.out_vmm_events);
	/* The guest's kick brings them out, in order. */
	post_events(_metadata, self, 1, OLD_EV_SIZE);
	expect_vmm_fault(_metadata, self, 0);
	expect_no_event(_metadata, self);
	post_events(_metadata, self, 4, OLD_EV_SIZE);
	for (i = 1; i < 3; i++)
		expect_vmm_fault(_metadata, self, i);
	expect_no_event(_metadata, self);
	get_stats(_metadata, self, &st);
	EXPECT_EQ(3u, st.out_vmm_events);
	EXPECT_EQ(0u, st.out_vmm_events_dropped);
}

TEST_F(flt, vmm_event_backlog_full)
{
	enum { N = VHOST_IOMMU_MAX_EVENT_BACKLOG };
	struct vhost_iommu_stats st;
	unsigned int i;

	for (i = 0; i < N; i++)
		ASSERT_EQ(0, post_fault(self, i, VMM_ADDR + i));
	EXPECT_EQ(-ENOSPC, post_fault(self, N, VMM_ADDR + N));
	/* A page request finds no room either: answered by the device. */
	trigger(_metadata, self, PASID, 1, PERM_R, ADDR);
	wait_invalid(_metadata, self, 1);
	/* One buffer, one record out: room for one more. */
	post_events(_metadata, self, 1, EV_SIZE);
	expect_vmm_fault(_metadata, self, 0);
	ASSERT_EQ(0, post_fault(self, N, VMM_ADDR + N));
	EXPECT_EQ(-ENOSPC, post_fault(self, N + 1, VMM_ADDR + N + 1));
	post_events(_metadata, self, N, EV_SIZE);
	for (i = 1; i <= N; i++)
		expect_vmm_fault(_metadata, self, i);
	expect_no_event(_metadata, self);
	get_stats(_metadata, self, &st);
	EXPECT_EQ((__u64)N + 1, st.out_vmm_events);
	EXPECT_EQ(0u, st.out_vmm_events_dropped);
	expect_none_waiting(_metadata, self, "answered by the device");
}

TEST_F(flt, vmm_event_queue_not_set_up)
{
	/* A reset device has no event queue until the guest sets it up. */
	ASSERT_EQ(0, vhi_reset_device(self->fd));
	EXPECT_EQ(-ENOTCONN, post_fault(self, VMM_EP, VMM_ADDR));
	vg_vq_reset(&self->rq);
	vg_vq_reset(&self->eq);
	ASSERT_EQ(0, vhi_set_features(self->fd, ALL_FEATURES));
	EXPECT_EQ(-ENOTCONN, post_fault(self, VMM_EP, VMM_ADDR));
	rings_up(_metadata, self, ALL_FEATURES);
	post_events(_metadata, self, 1, EV_SIZE);
	ASSERT_EQ(0, post_fault(self, VMM_EP, VMM_ADDR + VMM_EP));
	expect_vmm_fault(_metadata, self, VMM_EP);
	/* Without its kick eventfd the queue does not run. */
	ASSERT_EQ(0, vhi_set_vring_kick(self->fd, VHOST_IOMMU_VQ_EVENT, -1));
	EXPECT_EQ(-ENOTCONN, post_fault(self, VMM_EP, VMM_ADDR));
}

TEST_F(flt, vmm_event_broken_queue)
{
	struct vhost_iommu_stats st;
	__u64 count;

	ASSERT_EQ(0, vhi_set_fault_queue(self->fd, -1));
	/* An available index further ahead than the ring is long. */
	vg_avail_store_idx(&self->eq, EQ_NUM + 1);
	EXPECT_EQ(-EIO, post_fault(self, VMM_EP, VMM_ADDR));
	EXPECT_EQ(0, vg_eventfd_wait(self->eq.err_fd, VG_TIMEOUT_MS, &count));
	get_stats(_metadata, self, &st);
	EXPECT_EQ(1u, st.out_broken);
	EXPECT_EQ(0u, st.out_vmm_events);
	EXPECT_EQ(1u, st.out_vmm_events_dropped);
	/* Broken already: refused. */
	EXPECT_EQ(-EIO, post_fault(self, VMM_EP, VMM_ADDR));

	/* Records waiting when the queue breaks are dropped. */
	rings_up(_metadata, self, NO_PAGE_REQ);
	ASSERT_EQ(0, post_fault(self, VMM_EP, VMM_ADDR));
	ASSERT_EQ(0, post_fault(self, VMM_EP, VMM_ADDR));
	vg_avail_store_idx(&self->eq, EQ_NUM + 1);
	ASSERT_EQ(0, vg_kick(&self->eq));
	EXPECT_EQ(0, vg_eventfd_wait(self->eq.err_fd, VG_TIMEOUT_MS, &count));
	get_stats(_metadata, self, &st);
	EXPECT_EQ(2u, st.out_broken);
	EXPECT_EQ(3u, st.out_vmm_events_dropped);

	/* Set up again, it works. */
	rings_up(_metadata, self, NO_PAGE_REQ);
	post_events(_metadata, self, 1, OLD_EV_SIZE);
	ASSERT_EQ(0, post_fault(self, VMM_EP, VMM_ADDR + VMM_EP));
	expect_vmm_fault(_metadata, self, VMM_EP);
}

TEST_F(flt, vmm_event_bad_arguments)
{
	struct vhost_iommu_fault_report a;
	struct {
		struct vhost_iommu_fault_report r;
		__u64 extra;
	} big;
	struct vhost_iommu_stats st;
	static const __u32 bad_flags[] = {
		VIRTIO_IOMMU_FAULT_F_PRIVILEGED, VIRTIO_IOMMU_FAULT_F_LAST,
		VIRTIO_IOMMU_FAULT_F_PAGE_REQ, VIRTIO_IOMMU_FAULT_F_PASID,
		VIRTIO_IOMMU_FAULT_F_GROUP_ID, 1u << 31,
	};
	unsigned int i;

	post_events(_metadata, self, 4, EV_SIZE);
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.reason = VIRTIO_IOMMU_FAULT_R_MAPPING;
	a.fault_flags = FR_RW;
	a.endpoint = VMM_EP;
	a.address = VMM_ADDR;

	a.size = offsetof(struct vhost_iommu_fault_report, address);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_POST_EVENT, &a));
	EXPECT_EQ(EINVAL, errno);
	a.size = sizeof(a);
	a.flags = 1;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_POST_EVENT, &a));
	EXPECT_EQ(EOPNOTSUPP, errno);
	a.flags = 0;
	a.__reserved = 1;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_POST_EVENT, &a));
	EXPECT_EQ(EOPNOTSUPP, errno);
	a.__reserved = 0;
	a.reason = VIRTIO_IOMMU_FAULT_R_MAPPING + 1;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_POST_EVENT, &a));
	EXPECT_EQ(EINVAL, errno);
	a.reason = 0x100 | VIRTIO_IOMMU_FAULT_R_MAPPING;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_POST_EVENT, &a));
	EXPECT_EQ(EINVAL, errno);
	a.reason = VIRTIO_IOMMU_FAULT_R_MAPPING;
	for (i = 0; i < ARRAY_SIZE(bad_flags); i++) {
		a.fault_flags = FR_RW | bad_flags[i];
		EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_POST_EVENT, &a));
		EXPECT_EQ(EINVAL, errno) TH_LOG("flag %#x", bad_flags[i]);
	}
	/* An address without the flag that says it is one. */
	a.fault_flags = VIRTIO_IOMMU_FAULT_F_READ;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_POST_EVENT, &a));
	EXPECT_EQ(EINVAL, errno);
	a.fault_flags = FR_RW;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_POST_EVENT, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* A newer, longer struct: only zeroes past what the kernel knows. */
	big.r = a;
	big.r.size = sizeof(big);
	big.extra = 1;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_POST_EVENT, &big));
	EXPECT_EQ(E2BIG, errno);
	expect_no_event(_metadata, self);
	get_stats(_metadata, self, &st);
	EXPECT_EQ(0u, st.out_vmm_events);

	big.extra = 0;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_IOMMU_POST_EVENT, &big));
	expect_fault(_metadata, self, VIRTIO_IOMMU_FAULT_R_MAPPING, FR_RW,
		     VMM_EP, VMM_ADDR);
	expect_no_event(_metadata, self);
}

TEST_F(flt, vmm_event_owner_only)
{
	int status;
	pid_t pid;

	post_events(_metadata, self, 1, EV_SIZE);
	/* A child shares the file, not the owner's address space. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(post_fault(self, VMM_EP, VMM_ADDR) == -EPERM ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	expect_no_event(_metadata, self);
}

TEST_F(flt, vmm_event_stopped_device)
{
	int running = 0;
	__u16 used;

	post_events(_metadata, self, 2, EV_SIZE);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_IOMMU_SET_RUNNING, &running));
	used = vg_used_idx(&self->eq);
	/* Taken, written when the device runs again. */
	ASSERT_EQ(0, post_fault(self, VMM_EP, VMM_ADDR + VMM_EP));
	EXPECT_EQ(used, vg_used_idx(&self->eq));
	expect_no_event(_metadata, self);
	running = 1;
	ASSERT_EQ(0, ioctl(self->fd, VHOST_IOMMU_SET_RUNNING, &running));
	expect_vmm_fault(_metadata, self, VMM_EP);
}

TEST_F(flt, vmm_event_reset_drops_waiting)
{
	struct vhost_iommu_stats st;

	ASSERT_EQ(0, post_fault(self, VMM_EP, VMM_ADDR));
	ASSERT_EQ(0, post_fault(self, VMM_EP, VMM_ADDR));
	ASSERT_EQ(0, vhi_reset_device(self->fd));
	get_stats(_metadata, self, &st);
	EXPECT_EQ(2u, st.out_vmm_events_dropped);
	/* Set up again with buffers: nothing of before comes out. */
	rings_up(_metadata, self, ALL_FEATURES);
	post_events(_metadata, self, 2, EV_SIZE);
	expect_no_event(_metadata, self);

	/* RESET_OWNER drops them too. */
	ASSERT_EQ(0, vhi_set_fault_queue(self->fd, -1));
	rings_up(_metadata, self, ALL_FEATURES);
	ASSERT_EQ(0, post_fault(self, VMM_EP, VMM_ADDR));
	ASSERT_EQ(0, vhi_reset_owner(self->fd));
	ASSERT_EQ(0, vhi_set_owner(self->fd));
	get_stats(_metadata, self, &st);
	EXPECT_EQ(3u, st.out_vmm_events_dropped);
	EXPECT_EQ(0u, st.out_vmm_events);
}

TEST_HARNESS_MAIN
