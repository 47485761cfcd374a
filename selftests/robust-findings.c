// SPDX-License-Identifier: GPL-2.0-only
/*
 * kselftest suite "robust", part "findings": one test for each way a
 * hostile guest or a careless VMM reached the host in the hardening
 * review, each failing on the module before its fix:
 *
 * - a request whose type is rewritten while the device reads it;
 * - page requests raised while devices close (a wake-up after the worker
 *   is freed; /sys/kernel/debug/vhost-iommu/wake_delay_us widens it);
 * - page request groups of several records with EVENT_IDX, and groups too
 *   large to deliver or to read (the test build's fake fault queue makes
 *   them: the iommufd mock only makes single-record groups);
 * - stopping, saving and restoring a device with a request parked;
 * - a VMM rewriting the count iommufd writes back into its scratch area;
 * - the smaller ones: a stale used_event after a new base, a 64-bit
 *   virt_id, GET_STATS's size, writable bytes before the tail.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "iommufd_mock.h"
#include "vhost_iommu_test.h"
#include "fake_faultq.h"
#include "vhost_iommu_vmm.h"
#include "viommu_guest.h"

#define GUEST_BASE	0x40000000ULL
#define GUEST_SIZE	(16ULL << 20)
#define GUEST_REGIONS	2
#define RQ_NUM		256u
#define EQ_NUM		8u
#define ALL_FEATURES	VHI_FEATURES_OFFERED
#define QUIET_MS	300

#define TAIL		((__u32)sizeof(struct virtio_iommu_req_tail))
#define ATTACH_IN	((__u32)offsetof(struct virtio_iommu_req_attach, tail))
#define INVAL_IN	((__u32)offsetof(struct virtio_iommu_req_invalidate, tail))
#define RESP_IN		((__u32)offsetof(struct virtio_iommu_req_page_resp, tail))
#define MAP_IN		((__u32)offsetof(struct virtio_iommu_req_map, tail))
#define EV_SIZE		((__u32)sizeof(struct virtio_iommu_page_req))

#define DOMAIN		3u
#define ENDPOINT	8u
#define FAKE_DEV	77u
#define DEBUGFS		"/sys/kernel/debug/vhost-iommu/"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif
/* The first version of struct vhost_iommu_stats ends there. */
#define STATS_V1_SIZE	(offsetof(struct vhost_iommu_stats, out_inval_errors) + \
			 sizeof(__u64))

FIXTURE(fnd) {
	int fd;
	struct vg_mem mem;
	struct vg_vq rq;
	struct vg_vq eq;
	struct imock_world w;
};

FIXTURE_SETUP(fnd)
{
	struct vhost_iommu_config cfg;
	int ret;

	self->fd = -1;
	self->w.fd = -1;
	ASSERT_EQ(0, vg_mem_init(&self->mem, GUEST_BASE, GUEST_SIZE,
				 GUEST_REGIONS));
	ASSERT_EQ(0, vg_vq_init(&self->rq, &self->mem, RQ_NUM));
	ASSERT_EQ(0, vg_vq_init(&self->eq, &self->mem, EQ_NUM));
	vhi_config_default(&cfg);
	self->fd = vg_device_open(&self->mem, &cfg);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, vg_rings_up(self->fd, &self->rq, &self->eq,
				 ALL_FEATURES));
	ret = imock_world_init(&self->w);
	if (ret == -ENOENT)
		SKIP(return, "no " IMOCK_DEV_PATH ": kernel without iommufd");
	ASSERT_EQ(0, ret)
		TH_LOG("mock world: %s (CONFIG_IOMMUFD_TEST?)", strerror(-ret));
	ASSERT_EQ(0, vhi_set_iommufd(self->fd, self->w.fd));
}

FIXTURE_TEARDOWN(fnd)
{
	if (self->fd >= 0)
		close(self->fd);
	imock_world_destroy(&self->w);
	vg_vq_destroy(&self->rq);
	vg_vq_destroy(&self->eq);
	vg_mem_destroy(&self->mem);
}

static int write_debugfs(const char *name, const char *val)
{
	char path[128];
	int fd, ret = 0;

	snprintf(path, sizeof(path), DEBUGFS "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ret = -errno;
	close(fd);
	return ret;
}

static __u8 req_status(struct vg_vq *vq, const struct vg_req *req)
{
	__u8 st = 0xff;

	vg_req_status(vq, req, &st);
	return st;
}

static void mk_inval_domain(struct virtio_iommu_req_invalidate *r,
			    __u32 domain)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_INVALIDATE;
	r->scope = VIRTIO_IOMMU_INVAL_S_DOMAIN;
	r->caches = VIRTIO_IOMMU_INVAL_C_TLB;
	r->domain = htole32(domain);
}

/* One page with architecture ID @id: the mock's IOTLB slot @id. */
static void mk_inval_slot(struct virtio_iommu_req_invalidate *r,
			  __u32 domain, __u64 id)
{
	mk_inval_domain(r, domain);
	r->scope = VIRTIO_IOMMU_INVAL_S_ADDRESS;
	r->flags = htole16(VIRTIO_IOMMU_INVAL_F_ID);
	r->address = htole64(0x100000);
	r->nr_pages = htole64(1);
	r->page_size = 12;
	r->id = htole64(id);
}

static int bind_selftest(int fd, __u32 domain, __u32 hwpt)
{
	struct vhost_iommu_bind b = {
		.domain = domain,
		.object_id = hwpt,
		.format = VHOST_IOMMU_INV_FORMAT_SELFTEST,
		.input_start = 0,
		.input_end = ~0ULL,
		.granule_log2 = 12,
	};

	return vhi_bind_domain(fd, &b);
}

static int set_running(int fd, int running)
{
	return ioctl(fd, VHOST_IOMMU_SET_RUNNING, &running) ? -errno : 0;
}

/* ------------------------------------------------------------------ */
/* The request type rewritten while the device reads the request */

struct flip {
	__u8 *type;
	int stop;
};

static void *flipper(void *arg)
{
	static const __u8 types[] = {
		VIRTIO_IOMMU_T_ATTACH, VIRTIO_IOMMU_T_INVALIDATE, 0x55,
		VIRTIO_IOMMU_T_PROBE, VIRTIO_IOMMU_T_PAGE_RESP,
		VIRTIO_IOMMU_T_DETACH,
	};
	struct flip *f = arg;
	unsigned int i = 0;

	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED))
		__atomic_store_n(f->type, types[i++ % ARRAY_SIZE(types)],
				 __ATOMIC_RELAXED);
	return NULL;
}

/* What the VMM must see: a type with that type's readable length. */
struct seen {
	pthread_mutex_t lock;
	unsigned int served, bad;
	__u32 bad_type, bad_len;
};

static __u32 readable_of(__u32 type)
{
	switch (type) {
	case VIRTIO_IOMMU_T_ATTACH:
		return ATTACH_IN;
	case VIRTIO_IOMMU_T_DETACH:
		return offsetof(struct virtio_iommu_req_detach, tail);
	case VIRTIO_IOMMU_T_PROBE:
		return offsetof(struct virtio_iommu_req_probe, properties);
	}
	return 0;
}

static __u32 serve_check(void *opaque, const struct vhi_slow_request *req,
			 void *payload, __u32 payload_max, __u32 *payload_len)
{
	struct seen *s = opaque;

	pthread_mutex_lock(&s->lock);
	s->served++;
	if (req->readable_len != readable_of(req->type) ||
	    req->writable_len != TAIL) {
		s->bad++;
		s->bad_type = req->type;
		s->bad_len = req->readable_len;
	}
	pthread_mutex_unlock(&s->lock);
	return VIRTIO_IOMMU_S_OK;
}

/* Slow under TCG with KASAN and a loaded host: more than the 30 s default. */
#define LONG_S		300

TEST_F_TIMEOUT(fnd, request_type_rewritten_while_read, LONG_S)
{
	const unsigned int n = 3000;
	struct vhi_server srv = { 0 };
	struct seen seen = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct virtio_iommu_req_attach *body;
	unsigned int i, empty = 0, full = 0;
	struct flip f = { 0 };
	struct vg_req req;
	pthread_t th;
	__u64 in_gpa;

	/* An ATTACH the device accepts, read with INVALIDATE's length. */
	ASSERT_EQ(0, vg_alloc(&self->mem, INVAL_IN, 8, &in_gpa));
	body = vg_hva(&self->mem, in_gpa, INVAL_IN);
	ASSERT_NE(NULL, body);
	body->head.type = VIRTIO_IOMMU_T_ATTACH;
	body->domain = htole32(1);
	body->endpoint = htole32(1);

	srv.fd = self->fd;
	srv.handle = serve_check;
	srv.opaque = &seen;
	srv.poll_ms = 50;
	ASSERT_EQ(0, vhi_server_start(&srv));
	f.type = &body->head.type;
	ASSERT_EQ(0, pthread_create(&th, NULL, flipper, &f));

	for (i = 0; i < n; i++) {
		__u32 id = ~0u, len = ~0u;

		memset(&req, 0, sizeof(req));
		req.in_gpa = in_gpa;
		req.in_len = INVAL_IN;
		ASSERT_EQ(0, vg_alloc(&self->mem, TAIL, 4, &req.out_gpa));
		req.out_len = TAIL;
		ASSERT_EQ(0, vg_submit_bufs(&self->rq, 0, &req));
		ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len))
			TH_LOG("request %u not completed", i);
		ASSERT_EQ(req.head, id);
		/* Framing decided from one copy: 0, or the whole tail. */
		ASSERT_TRUE(len == 0 || len == TAIL)
			TH_LOG("request %u: used length %u", i, len);
		if (len)
			full++;
		else
			empty++;
	}
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	ASSERT_EQ(0, vhi_server_stop(&srv));
	ksft_print_msg("STAT rewritten_requests=%u slow_path=%u empty=%u\n",
		       n, seen.served, empty);
	EXPECT_EQ(0u, seen.bad)
		TH_LOG("the VMM got type %u with %u readable bytes",
		       seen.bad_type, seen.bad_len);
	/* The race was real: both framings were taken. */
	EXPECT_LT(0u, seen.served);
	EXPECT_LT(0u, empty);
	EXPECT_EQ(n, full + empty);
}

/* ------------------------------------------------------------------ */
/* Page requests raised while devices close and reset their owner */

struct raiser {
	int iommufd;
	__u32 idev_id;
	int stop;
	unsigned int raised, failed;
};

static void *raise_faults(void *arg)
{
	struct raiser *r = arg;
	__u32 grp = 0;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		if (imock_trigger_iopf(r->iommufd, r->idev_id, 0, grp++ & 0x1ff,
				       IOMMU_PGFAULT_PERM_READ, 0xdead000))
			r->failed++;
		else
			r->raised++;
	}
	return NULL;
}

TEST_F_TIMEOUT(fnd, page_requests_while_devices_close, LONG_S)
{
	const unsigned int rounds = 40;
	struct raiser r = { 0 };
	__u32 fault_id, hwpt;
	struct vhost_iommu_config cfg;
	int fault_fd, delay, fd;
	unsigned int i, k;
	struct vg_req ev;
	pthread_t th;

	ASSERT_EQ(0, imock_fault_alloc(self->w.fd, &fault_id, &fault_fd));
	ASSERT_EQ(0, imock_hwpt_alloc_nested(self->w.fd, self->w.idev_id,
					     self->w.parent_id, fault_id,
					     &hwpt));
	ASSERT_EQ(0, imock_domain_replace(self->w.fd, self->w.stdev_id, hwpt));
	/* Widen the window between finding the worker and waking it. */
	delay = write_debugfs("wake_delay_us", "500");
	if (delay)
		ksft_print_msg("no wake_delay_us (%s): the race window stays narrow\n",
			       strerror(-delay));
	close(self->fd);
	self->fd = -1;

	r.iommufd = self->w.fd;
	r.idev_id = self->w.idev_id;
	ASSERT_EQ(0, pthread_create(&th, NULL, raise_faults, &r));
	for (i = 0; i < rounds; i++) {
		vhi_config_default(&cfg);
		fd = vg_device_open(&self->mem, &cfg);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, vg_rings_up(fd, &self->rq, &self->eq, ALL_FEATURES));
		ASSERT_EQ(0, vhi_set_iommufd(fd, self->w.fd));
		ASSERT_EQ(0, vhi_add_endpoint(fd, ENDPOINT, self->w.idev_id, 0));
		ASSERT_EQ(0, vhi_set_fault_queue(fd, fault_fd));
		for (k = 0; k < EQ_NUM; k++)
			ASSERT_EQ(0, vg_post_writable(&self->eq, EV_SIZE, 0, &ev));
		usleep((i % 5) * 1000);
		/* Odd rounds lose the owner first, even ones just close. */
		if (i & 1)
			ASSERT_EQ(0, vhi_reset_owner(fd));
		close(fd);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	if (!delay)
		write_debugfs("wake_delay_us", "0");
	ksft_print_msg("STAT rounds=%u page_requests=%u\n", rounds, r.raised);
	EXPECT_EQ(0u, r.failed);
	EXPECT_LT(rounds, r.raised);
	close(fault_fd);
}

/* ------------------------------------------------------------------ */
/* Page request groups from the fake fault queue */

static int fake_attach(struct __test_metadata *_metadata,
		       struct _test_data_fnd *self)
{
	int ret = test_op(self->fd, VHOST_IOMMU_TEST_FAKE_ATTACH, NULL, NULL);

	if (ret == -ENOTTY)
		return ret;
	EXPECT_EQ(0, ret);
	EXPECT_EQ(0, vhi_add_endpoint(self->fd, ENDPOINT, FAKE_DEV, 0));
	return ret;
}

/* A driver that honours EVENT_IDX: kicks only when the device asked. */
static bool post_and_maybe_kick(struct vg_vq *vq, __u32 len)
{
	__u16 old = vq->avail_idx;
	struct vg_req ev;
	bool kick;

	if (vg_post_writable(vq, len, VG_SUBMIT_NO_KICK, &ev))
		return false;
	__sync_synchronize();
	kick = vring_need_event(vg_avail_event(vq), vq->avail_idx, old);
	if (kick)
		vg_kick(vq);
	return kick;
}

TEST_F(fnd, multi_record_group_kicked_for_with_event_idx)
{
	struct virtio_iommu_page_req rec;
	struct iommu_hwpt_page_response held[64];
	struct virtio_iommu_req_page_resp resp;
	__u32 id, len, nheld = 0, i, flags;
	struct vg_req ev[3], rr;

	if (fake_attach(_metadata, self))
		SKIP(return, "module built without test hooks");
	/* Two buffers for a group of three. */
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, vg_post_writable(&self->eq, EV_SIZE, 0, &ev[i]));
	ASSERT_EQ(0, fake_inject(self->fd, FAKE_DEV, 1, 9, 3, false));
	usleep(QUIET_MS * 1000);
	/* Never half a group. */
	EXPECT_EQ(0, vg_used_idx(&self->eq));

	/* The buffer that completes the group must be kicked for. */
	ASSERT_TRUE(post_and_maybe_kick(&self->eq, EV_SIZE))
		TH_LOG("avail_event %u: the guest is never asked to kick",
		       vg_avail_event(&self->eq));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, vg_wait_used(&self->eq, VG_TIMEOUT_MS, &id, &len))
			TH_LOG("record %u of the group not delivered", i);
		EXPECT_EQ(EV_SIZE, len);
		ASSERT_EQ(0, vg_read(&self->mem, self->eq.desc[id].addr, &rec,
				     sizeof(rec)));
		flags = le32toh(rec.flags);
		EXPECT_EQ(ENDPOINT, le32toh(rec.endpoint));
		EXPECT_EQ(9, le16toh(rec.group_id));
		EXPECT_TRUE(!!(flags & VIRTIO_IOMMU_FAULT_F_PAGE_REQ));
		EXPECT_EQ(i == 2, !!(flags & VIRTIO_IOMMU_FAULT_F_LAST));
	}

	/* The guest's answer reaches the fault queue once, as SUCCESS. */
	memset(&resp, 0, sizeof(resp));
	resp.head.type = VIRTIO_IOMMU_T_PAGE_RESP;
	resp.endpoint = htole32(ENDPOINT);
	resp.flags = htole32(VIRTIO_IOMMU_PAGE_RESP_F_PASID);
	resp.pasid = htole32(1);
	resp.grpid = htole32(9);
	resp.resp_code = htole16(VIRTIO_IOMMU_PAGE_RESP_SUCCESS);
	ASSERT_EQ(0, vg_submit(&self->rq, &resp, RESP_IN, TAIL, 0, &rr));
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, req_status(&self->rq, &rr));
	EXPECT_EQ(IOMMUFD_PAGE_RESP_SUCCESS,
		  fake_answer(self->fd, 1, VG_TIMEOUT_MS, held, &nheld));
}

TEST_F(fnd, groups_too_large_answered_invalid)
{
	struct iommu_hwpt_page_response held[64];
	struct vhost_iommu_stats st;
	struct virtio_iommu_page_req rec;
	__u32 i, id, len, nheld = 0;
	struct vg_req ev;

	if (fake_attach(_metadata, self))
		SKIP(return, "module built without test hooks");
	for (i = 0; i < EQ_NUM; i++)
		ASSERT_EQ(0, vg_post_writable(&self->eq, EV_SIZE, 0, &ev));
	/* Larger than the event queue; larger than one read; then one. */
	ASSERT_EQ(0, fake_inject(self->fd, FAKE_DEV, 10, 1, EQ_NUM + 1, false));
	ASSERT_EQ(0, fake_inject(self->fd, FAKE_DEV, 11, 2, 600, false));
	ASSERT_EQ(0, fake_inject(self->fd, FAKE_DEV, 12, 3, 1, false));
	EXPECT_EQ(IOMMUFD_PAGE_RESP_INVALID,
		  fake_answer(self->fd, 10, VG_TIMEOUT_MS, held, &nheld));
	EXPECT_EQ(IOMMUFD_PAGE_RESP_INVALID,
		  fake_answer(self->fd, 11, VG_TIMEOUT_MS, held, &nheld));
	/* The group behind them still reaches the guest. */
	ASSERT_EQ(0, vg_wait_used(&self->eq, VG_TIMEOUT_MS, &id, &len));
	ASSERT_EQ(0, vg_read(&self->mem, self->eq.desc[id].addr, &rec,
			     sizeof(rec)));
	EXPECT_EQ(3, le16toh(rec.group_id));
	ASSERT_EQ(0, vhi_get_stats(self->fd, &st));
	EXPECT_EQ(2u, st.out_page_req_invalid);
	EXPECT_EQ(1u, st.out_page_reqs);
}

TEST_F(fnd, group_beyond_read_limit_counted_not_spun_on)
{
	struct vhost_iommu_stats st;
	struct vg_req ev;
	__u32 i;

	if (fake_attach(_metadata, self))
		SKIP(return, "module built without test hooks");
	for (i = 0; i < EQ_NUM; i++)
		ASSERT_EQ(0, vg_post_writable(&self->eq, EV_SIZE, 0, &ev));
	ASSERT_EQ(0, fake_inject(self->fd, FAKE_DEV, 20, 1,
				 VHOST_IOMMU_MAX_PAGE_GROUP_RECORDS + 1, false));
	ASSERT_EQ(0, fake_inject(self->fd, FAKE_DEV, 21, 2, 1, false));
	usleep(QUIET_MS * 1000);
	ASSERT_EQ(0, vhi_get_stats(self->fd, &st));
	/* The documented limit: it stays at the head, counted. */
	EXPECT_LE(1u, st.out_fault_errors);
	EXPECT_EQ(0u, st.out_page_reqs);
	/* One failed read per wake-up, not a loop. */
	usleep(QUIET_MS * 1000);
	i = st.out_fault_errors;
	ASSERT_EQ(0, vhi_get_stats(self->fd, &st));
	EXPECT_EQ(i, st.out_fault_errors);
	/* Detaching lets go of it. */
	EXPECT_EQ(0, vhi_set_fault_queue(self->fd, -1));
}

/* ------------------------------------------------------------------ */
/* Stop, save, restore */

static void submit_attach(struct __test_metadata *_metadata,
			  struct _test_data_fnd *self, struct vg_req *req)
{
	struct virtio_iommu_req_attach a = {
		.head.type = VIRTIO_IOMMU_T_ATTACH,
		.domain = htole32(DOMAIN),
		.endpoint = htole32(ENDPOINT),
	};

	ASSERT_EQ(0, vg_submit(&self->rq, &a, ATTACH_IN, TAIL, 0, req));
}

TEST_F(fnd, stop_save_restore_keeps_parked_request)
{
	struct vhost_iommu_request r1, r2;
	__u8 buf[VHI_REQ_BUF_SIZE];
	unsigned int base = ~0u;
	struct vg_req req;
	__u32 id, len;

	submit_attach(_metadata, self, &req);
	ASSERT_EQ(0, vhi_wait_request(self->fd, &r1, buf, sizeof(buf),
				      VG_TIMEOUT_MS));
	/* Parked: not completed, so not counted as taken. */
	ASSERT_EQ(0, vhi_get_vring_base(self->fd, 0, &base));
	EXPECT_EQ(0u, base);
	ASSERT_EQ(0, set_running(self->fd, 0));
	ASSERT_EQ(0, vhi_get_vring_base(self->fd, 0, &base));
	EXPECT_EQ(0u, base);

	/* Restore what was saved: the request comes back, once. */
	ASSERT_EQ(0, vhi_set_vring_base(self->fd, 0, base));
	EXPECT_EQ(-ENOENT, vhi_complete_request(self->fd, r1.out_cookie,
						VIRTIO_IOMMU_S_OK, NULL, 0));
	EXPECT_EQ(-EAGAIN, vhi_get_request(self->fd, &r2, buf, sizeof(buf)));
	ASSERT_EQ(0, set_running(self->fd, 1));
	ASSERT_EQ(0, vhi_wait_request(self->fd, &r2, buf, sizeof(buf),
				      VG_TIMEOUT_MS));
	EXPECT_NE(r1.out_cookie, r2.out_cookie);
	EXPECT_EQ((__u32)VIRTIO_IOMMU_T_ATTACH, r2.out_type);
	ASSERT_EQ(0, vhi_complete_request(self->fd, r2.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(req.head, id);
	EXPECT_EQ(TAIL, len);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, req_status(&self->rq, &req));
	ASSERT_EQ(0, vhi_get_vring_base(self->fd, 0, &base));
	EXPECT_EQ(1u, base);
}

TEST_F(fnd, complete_while_stopped_counts_as_done)
{
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];
	unsigned int base = ~0u;
	struct vg_req req;
	__u32 id, len;

	submit_attach(_metadata, self, &req);
	ASSERT_EQ(0, vhi_wait_request(self->fd, &r, buf, sizeof(buf),
				      VG_TIMEOUT_MS));
	ASSERT_EQ(0, set_running(self->fd, 0));
	ASSERT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(req.head, id);
	ASSERT_EQ(0, vhi_get_vring_base(self->fd, 0, &base));
	EXPECT_EQ(1u, base);
}

TEST_F(fnd, stopped_device_leaves_rings_alone)
{
	struct virtio_iommu_req_invalidate inv;
	struct vg_req req;
	__u32 id, len;

	ASSERT_EQ(0, set_running(self->fd, 0));
	mk_inval_domain(&inv, DOMAIN);
	ASSERT_EQ(0, vg_submit(&self->rq, &inv, INVAL_IN, TAIL, 0, &req));
	EXPECT_EQ(-ETIMEDOUT, vg_wait_used(&self->rq, QUIET_MS, &id, &len));
	ASSERT_EQ(0, set_running(self->fd, 1));
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(req.head, id);
	EXPECT_EQ(VIRTIO_IOMMU_S_NOENT, req_status(&self->rq, &req));
}

TEST_F(fnd, ring_changes_refused_while_running)
{
	struct vhi_vring_config c;
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];
	struct vg_req req;
	int bad = 2;

	vg_vq_vring_config(&self->rq, &c);
	/* Started explicitly: vhost's rules. */
	ASSERT_EQ(0, set_running(self->fd, 1));
	EXPECT_EQ(-EBUSY, vhi_set_vring_num(self->fd, 0, c.num));
	EXPECT_EQ(-EBUSY, vhi_set_vring_addr(self->fd, 0, c.desc, c.avail,
					     c.used, 0));
	EXPECT_EQ(-EBUSY, vhi_set_vring_base(self->fd, 0, 0));
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_SET_RUNNING, &bad));
	EXPECT_EQ(EINVAL, errno);
	/* Memory changes while running are fine, unless a request is parked. */
	EXPECT_EQ(0, vhi_set_mem_table(self->fd, self->mem.regions,
				       self->mem.nr_regions));
	submit_attach(_metadata, self, &req);
	ASSERT_EQ(0, vhi_wait_request(self->fd, &r, buf, sizeof(buf),
				      VG_TIMEOUT_MS));
	EXPECT_EQ(-EBUSY, vhi_set_mem_table(self->fd, self->mem.regions,
					    self->mem.nr_regions));
	/* Stopped, all of it may change; the parked request goes back. */
	ASSERT_EQ(0, set_running(self->fd, 0));
	EXPECT_EQ(0, vhi_set_mem_table(self->fd, self->mem.regions,
				       self->mem.nr_regions));
	EXPECT_EQ(-ENOENT, vhi_complete_request(self->fd, r.out_cookie,
						VIRTIO_IOMMU_S_OK, NULL, 0));
	EXPECT_EQ(0, vhi_set_vring_num(self->fd, 0, c.num));
	EXPECT_EQ(0, vhi_set_vring_addr(self->fd, 0, c.desc, c.avail, c.used,
					0));
	ASSERT_EQ(0, set_running(self->fd, 1));
	ASSERT_EQ(0, vhi_wait_request(self->fd, &r, buf, sizeof(buf),
				      VG_TIMEOUT_MS));
	EXPECT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
}

/* ------------------------------------------------------------------ */
/* A VMM rewriting iommufd's written-back count */

/* The scratch area: the 32 KiB mapping SET_IOMMUFD adds. */
static void *find_scratch(const char *before)
{
	char line[256];
	FILE *f = fopen("/proc/self/maps", "r");
	void *found = NULL;

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2 || hi - lo != 32768)
			continue;
		line[strcspn(line, " ")] = 0;
		if (!strstr(before, line)) {
			found = (void *)lo;
			break;
		}
	}
	fclose(f);
	return found;
}

static char *read_maps(void)
{
	static char buf[1 << 16];
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t n, off = 0;

	if (fd < 0)
		return NULL;
	while ((n = read(fd, buf + off, sizeof(buf) - 1 - off)) > 0)
		off += n;
	close(fd);
	buf[off] = 0;
	return buf;
}

struct scribble {
	__u32 *entry_num;
	int stop;
};

/* What a VMM could write there: "everything went through". */
static void *scribbler(void *arg)
{
	struct scribble *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED))
		__atomic_store_n(s->entry_num, 1000, __ATOMIC_RELAXED);
	return NULL;
}

TEST_F_TIMEOUT(fnd, scribbled_entry_num_never_turns_failure_into_ok, LONG_S)
{
	const unsigned int batches = 1500, per = 4;
	struct virtio_iommu_req_invalidate inv;
	struct scribble s = { 0 };
	struct vg_req req[4];
	unsigned int b, k, bad_ok = 0, good_err = 0;
	char *before;
	__u32 id, len;
	void *scratch;
	pthread_t th;

	ASSERT_EQ(0, vhi_set_iommufd(self->fd, -1));
	before = strdup(read_maps());
	ASSERT_NE(NULL, before);
	ASSERT_EQ(0, vhi_set_iommufd(self->fd, self->w.fd));
	scratch = find_scratch(before);
	free(before);
	ASSERT_NE(NULL, scratch) TH_LOG("no new 32 KiB mapping after SET_IOMMUFD");
	ASSERT_EQ(0, bind_selftest(self->fd, DOMAIN, self->w.nested_id));

	s.entry_num = (__u32 *)((char *)scratch +
				offsetof(struct iommu_hwpt_invalidate, entry_num));
	ASSERT_EQ(0, pthread_create(&th, NULL, scribbler, &s));
	for (b = 0; b < batches; b++) {
		/*
		 * One the mock refuses (slot 5), then good ones: whatever
		 * count iommufd reads, a call holding the bad one fails.
		 */
		for (k = 0; k < per; k++) {
			mk_inval_slot(&inv, DOMAIN, k == 0 ? 5 : k);
			ASSERT_EQ(0, vg_submit(&self->rq, &inv, INVAL_IN, TAIL,
					       VG_SUBMIT_NO_PUBLISH, &req[k]));
		}
		vg_publish(&self->rq);
		ASSERT_EQ(0, vg_kick(&self->rq));
		for (k = 0; k < per; k++)
			ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS,
						  &id, &len));
		for (k = 0; k < per; k++) {
			__u8 st = req_status(&self->rq, &req[k]);

			if (k == 0 && st == VIRTIO_IOMMU_S_OK)
				bad_ok++;
			if (k != 0 && st != VIRTIO_IOMMU_S_OK)
				good_err++;
		}
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	ksft_print_msg("STAT scribbled_batches=%u\n", batches);
	EXPECT_EQ(0u, bad_ok) TH_LOG("%u refused invalidations got S_OK", bad_ok);
	EXPECT_EQ(0u, good_err) TH_LOG("%u good invalidations failed", good_err);
}

/* ------------------------------------------------------------------ */
/* Smaller findings */

TEST_F(fnd, call_signalled_after_new_base_despite_stale_used_event)
{
	struct virtio_iommu_req_invalidate inv;
	struct vg_req req;
	__u64 cnt;
	__u32 id, len;

	/* A used_event left from before the base was set. */
	vg_set_used_event(&self->rq, 0x8000);
	mk_inval_domain(&inv, DOMAIN);
	ASSERT_EQ(0, vg_submit(&self->rq, &inv, INVAL_IN, TAIL, 0, &req));
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(0, vg_eventfd_wait(self->rq.call_fd, VG_TIMEOUT_MS, &cnt))
		TH_LOG("the first completion after the base was not signalled");
	/* From then on used_event counts again: this one is not wanted. */
	ASSERT_EQ(0, vg_submit(&self->rq, &inv, INVAL_IN, TAIL, 0, &req));
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(-ETIMEDOUT, vg_eventfd_wait(self->rq.call_fd, QUIET_MS, &cnt));
}

TEST_F(fnd, endpoint_virt_id_above_32_bits_einval)
{
	EXPECT_EQ(-EINVAL, vhi_add_endpoint(self->fd, 5, self->w.idev_id,
					    1ULL << 32));
	EXPECT_EQ(-ENOENT, vhi_remove_endpoint(self->fd, 5));
	EXPECT_EQ(0, vhi_add_endpoint(self->fd, 5, self->w.idev_id,
				      0xffffffffULL));
}

TEST_F(fnd, get_stats_size_is_what_was_filled)
{
	struct {
		struct vhost_iommu_stats s;
		__u8 more[16];
	} big;
	struct vhost_iommu_stats small;

	memset(&big, 0, sizeof(big));
	big.s.size = sizeof(big);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_IOMMU_GET_STATS, &big));
	EXPECT_EQ(sizeof(struct vhost_iommu_stats), big.s.size);

	memset(&small, 0xee, sizeof(small));
	small.size = STATS_V1_SIZE;
	small.flags = 0;
	ASSERT_EQ(0, ioctl(self->fd, VHOST_IOMMU_GET_STATS, &small));
	EXPECT_EQ(STATS_V1_SIZE,
		  small.size);
	/* Nothing written past the caller's size. */
	EXPECT_EQ(0xeeeeeeeeeeeeeeeeULL, small.out_page_reqs);
}

/* Used length covers the whole writable part: all of it is written. */
static void expect_zero_prefix(struct __test_metadata *_metadata,
			       struct _test_data_fnd *self,
			       const struct vg_req *req, __u8 want,
			       const char *what)
{
	__u8 got[64];
	__u32 id, len, i;

	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(req->head, id);
	EXPECT_EQ(req->out_len, len) TH_LOG("%s", what);
	ASSERT_EQ(0, vg_read(&self->mem, req->out_gpa, got, req->out_len));
	for (i = 0; i + TAIL < req->out_len; i++)
		if (got[i])
			break;
	EXPECT_EQ(req->out_len - TAIL, i)
		TH_LOG("%s: byte %u before the tail is 0x%02x", what, i, got[i]);
	EXPECT_EQ(want, got[req->out_len - TAIL]) TH_LOG("%s", what);
}

TEST_F(fnd, writable_bytes_before_tail_zero_filled)
{
	struct virtio_iommu_req_invalidate inv;
	struct virtio_iommu_req_map map;
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];
	struct vg_req req;

	/* Slow path. */
	{
		struct virtio_iommu_req_attach a = {
			.head.type = VIRTIO_IOMMU_T_ATTACH,
			.domain = htole32(DOMAIN),
			.endpoint = htole32(ENDPOINT),
		};

		ASSERT_EQ(0, vg_submit(&self->rq, &a, ATTACH_IN, 16, 0, &req));
	}
	ASSERT_EQ(0, vhi_wait_request(self->fd, &r, buf, sizeof(buf),
				      VG_TIMEOUT_MS));
	EXPECT_EQ(16u, r.out_writable_len);
	ASSERT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	expect_zero_prefix(_metadata, self, &req, VIRTIO_IOMMU_S_OK, "ATTACH");

	/* Rejected by the device: bad MAP flags. */
	memset(&map, 0, sizeof(map));
	map.head.type = VIRTIO_IOMMU_T_MAP;
	map.flags = htole32(0x80);
	ASSERT_EQ(0, vg_submit(&self->rq, &map, MAP_IN, 12, 0, &req));
	expect_zero_prefix(_metadata, self, &req, VIRTIO_IOMMU_S_INVAL, "MAP");

	/* Fast path, unbound and bound. */
	mk_inval_domain(&inv, DOMAIN);
	ASSERT_EQ(0, vg_submit(&self->rq, &inv, INVAL_IN, 20, 0, &req));
	expect_zero_prefix(_metadata, self, &req, VIRTIO_IOMMU_S_NOENT,
			   "INVALIDATE unbound");
	ASSERT_EQ(0, bind_selftest(self->fd, DOMAIN, self->w.nested_id));
	ASSERT_EQ(0, vg_submit(&self->rq, &inv, INVAL_IN, 8, 0, &req));
	expect_zero_prefix(_metadata, self, &req, VIRTIO_IOMMU_S_OK,
			   "INVALIDATE bound");
}

TEST_HARNESS_MAIN
