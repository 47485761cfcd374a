// SPDX-License-Identifier: GPL-2.0-only
/*
 * kselftest suite "robust", part "failnth": every fault injection point
 * on the paths of the device, failed one at a time, the way the kernel's
 * iommufd_fail_nth test sweeps iommufd.
 *
 * The ioctl sweeps set up the state an ioctl needs, then for N = 1, 2, ...
 * make the N-th fault injection site the calling thread reaches fail
 * (/proc/self/task/<tid>/fail-nth: failslab, fail_page_alloc,
 * fail_usercopy and the module's own sites), until the ioctl runs with
 * nothing injected. A failed call must give a documented errno and leave
 * the device usable: the same device then serves real requests, and what
 * the call was to change is either changed or left as it was.
 *
 * The worker sweeps run a workload (a batch of invalidations, slow-path
 * requests, page requests the guest answers or cannot take, a group
 * larger than one read from the test build's fake fault queue) with the
 * module's fault attribute (/sys/kernel/debug/vhost-iommu/fail) failing
 * its N-th site, most of them reached by the worker thread, until the
 * workload runs without reaching the N-th. Every failure must end in a
 * documented outcome: a request status, or a broken queue with its err
 * eventfd signalled that works again after VHOST_SET_VRING_BASE or a
 * device reset; a page request delivered or answered; nothing left
 * waiting. (The attribute's space is N: should_fail() lets calls pass
 * while space is above 1, so space 0 and 1 both fail the first call.)
 *
 * Counts are printed as "STAT" lines, one per sweep, one per test and a
 * total. Tests SKIP when the fault injection files are missing.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "iommufd_mock.h"
#include "vhost_iommu_test.h"
#include "vhost_iommu_vmm.h"
#include "viommu_guest.h"

#define GUEST_BASE	0x40000000ULL
#define GUEST_SIZE	(16ULL << 20)
#define GUEST_REGIONS	3
#define RQ_NUM		256u
#define EQ_NUM		64u
#define PROBE_SIZE	512u
#define ALL_FEATURES	VHI_FEATURES_OFFERED
#define FBIT(b)		(1ULL << (b))
#define BACKEND_PERSIST	FBIT(VHOST_IOMMU_BACKEND_F_PERSIST)

#define ENDPOINT	8u
#define ENDPOINT2	9u
#define VIRT_SID	0x10u
#define PASID		1u
#define ADDR		0xdeadb000ULL
/* Domains: A and B take the sweeps' invalidations, V the checks'. */
#define DOM_A		1u
#define DOM_B		2u
#define DOM_V		3u
#define BIND_START	0x100000000ULL
#define BIND_END	0x1ffffffffULL
#define IN_RANGE	(BIND_START + 0x100000)

#define TAIL		((__u32)sizeof(struct virtio_iommu_req_tail))
#define ATTACH_IN	((__u32)offsetof(struct virtio_iommu_req_attach, tail))
#define PROBE_IN	((__u32)sizeof(struct virtio_iommu_req_probe))
#define PROBE_OUT	(PROBE_SIZE + TAIL)
#define INVAL_IN	((__u32)offsetof(struct virtio_iommu_req_invalidate, tail))
#define RESP_IN		((__u32)offsetof(struct virtio_iommu_req_page_resp, tail))
#define EV_SIZE		((__u32)sizeof(struct virtio_iommu_page_req))
/* The fault report of a guest that knows no page requests. */
#define OLD_EV_SIZE	((__u32)sizeof(struct virtio_iommu_fault))
/* More records than one read of the fault queue (512) takes. */
#define BIG_GROUP	600u

/* Fail-nth values one ioctl may take, failure points of one workload. */
#define MAX_NTH		2000u
#define MAX_SPACE	400u
/* iommufd cookies probed for groups nobody answered (they count from 1). */
#define PROBE_COOKIES	16u
/* How long a page request may take to be delivered or answered. */
#define PAGE_REQ_MS	VG_TIMEOUT_MS
#define SWEEP_TIMEOUT	200

#define SLOT(k)		(1u << (k))
#define ALL_SLOTS	0xfu

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* ------------------------------------------------------------------ */
/* Fault injection files */

#define DBGFS		"/sys/kernel/debug/"
#define VFAIL		DBGFS "vhost-iommu/fail/"

struct knob {
	const char *path;
	const char *val;
};

/*
 * What the sweeps set, in this order; the first NR_NTH_KNOBS are those
 * fail-nth needs. GFP_KERNEL allocations must be failed too, and nothing
 * is logged per failure (the default logs a stack trace). fail_page_alloc
 * keeps its min-order of 1: failing single pages would fail the page
 * faults on user memory too, and one taken in user mode, before fail-nth
 * is disarmed, would call the OOM killer.
 */
static const struct knob knobs[] = {
	{ DBGFS "failslab/ignore-gfp-wait", "N" },
	{ DBGFS "failslab/verbose", "0" },
	{ DBGFS "fail_page_alloc/ignore-gfp-wait", "N" },
	{ DBGFS "fail_page_alloc/ignore-gfp-highmem", "N" },
	{ DBGFS "fail_page_alloc/verbose", "0" },
	{ DBGFS "fail_usercopy/verbose", "0" },
	/* The module's attribute, disarmed until a worker sweep arms it. */
	{ VFAIL "times", "0" },
	{ VFAIL "probability", "0" },
	{ VFAIL "interval", "1" },
	{ VFAIL "space", "0" },
	{ VFAIL "verbose", "0" },
	{ VFAIL "task-filter", "N" },
};

#define NR_NTH_KNOBS	6
#define NR_KNOBS	12
static_assert(ARRAY_SIZE(knobs) == NR_KNOBS, "NR_KNOBS");

static __s64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Failure points of all tests, summed across the harness's forks. */
static unsigned int *total_points;
static __s64 start_ms;

static void __attribute__((constructor)) total_init(void)
{
	void *p = mmap(NULL, sizeof(*total_points), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	total_points = p == MAP_FAILED ? NULL : p;
	start_ms = now_ms();
}

static void __attribute__((destructor)) total_print(void)
{
	if (total_points)
		ksft_print_msg("STAT total points=%u ms=%lld\n", *total_points,
			       (long long)(now_ms() - start_ms));
}

static int write_file(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

/* The file's first line, without its newline. */
static int read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* Virtual memory of this process in KiB, or -1. */
static long vm_kib(void)
{
	char buf[4096];
	const char *p;
	ssize_t n;
	int fd;

	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strstr(buf, "\nVmSize:");
	return p ? strtol(p + strlen("\nVmSize:"), NULL, 10) : -1;
}

/* ------------------------------------------------------------------ */
/* The fixture: a device with its guest, iommufd and fault queue */

/*
 * Helpers take the fixture data as struct _test_data_fnth, which is what
 * FIXTURE_DATA(fnth) expands to, spelled so checkpatch sees a type.
 */
FIXTURE(fnth) {
	char saved[NR_KNOBS][32];
	bool saved_ok[NR_KNOBS];
	bool have_nth;
	bool have_vfail;
	int nth_fd;
	int fd;
	struct vhost_iommu_config cfg;
	struct vg_mem mem;
	struct vg_vq rq;
	struct vg_vq eq;
	bool rq_broken;
	bool eq_broken;
	/* Event buffers by descriptor index. */
	struct vg_req ev[EQ_NUM];
	struct imock_world w;
	__u32 fault_id;
	int fault_fd;
	__u32 fault_hwpt;
	__u32 grpid;
	unsigned int points;
	unsigned int recoveries;
	__s64 start_ms;
};

static void fixture_config(struct vhost_iommu_config *cfg)
{
	vhi_config_default(cfg);
	cfg->domain_start = 1;
	cfg->domain_end = 1023;
	cfg->probe_size = PROBE_SIZE;
}

/*
 * Both rings anew, as a driver does after a reset. The device must not
 * run as started with SET_RUNNING 1 (it is stopped, or never started).
 */
static void rings_up(struct __test_metadata *_metadata,
		     struct _test_data_fnth *self)
{
	ASSERT_EQ(0, vg_rings_up(self->fd, &self->rq, &self->eq,
				 ALL_FEATURES));
	self->rq_broken = false;
	self->eq_broken = false;
}

/* An owned device with its memory table, config and rings. */
static void dev_basic(struct __test_metadata *_metadata,
		      struct _test_data_fnth *self)
{
	ASSERT_EQ(0, vhi_set_mem_table(self->fd, self->mem.regions,
				       self->mem.nr_regions));
	ASSERT_EQ(0, vhi_set_config(self->fd, &self->cfg));
	/* Bindings survive the resets that recover broken queues. */
	ASSERT_EQ(0, vhi_set_backend_features(self->fd, BACKEND_PERSIST));
	rings_up(_metadata, self);
}

/* ... with the iommufd, the mock device as an endpoint, the fault queue. */
static void dev_iommu(struct __test_metadata *_metadata,
		      struct _test_data_fnth *self)
{
	ASSERT_EQ(0, vhi_set_iommufd(self->fd, self->w.fd));
	ASSERT_EQ(0, vhi_add_endpoint(self->fd, ENDPOINT, self->w.idev_id,
				      VIRT_SID));
	ASSERT_EQ(0, vhi_set_fault_queue(self->fd, self->fault_fd));
}

/* A new, unowned file in place of the fixture's device. */
static void dev_reopen(struct __test_metadata *_metadata,
		       struct _test_data_fnth *self)
{
	if (self->fd >= 0)
		close(self->fd);
	self->fd = vhi_open();
	ASSERT_LE(0, self->fd);
}

/*
 * KiB of the scratch area SET_IOMMUFD maps in the owner's memory, seen
 * in VmSize. Leaves the iommufd and the fault queue set, no binding.
 */
static long scratch_kib(struct __test_metadata *_metadata,
			struct _test_data_fnth *self)
{
	long before = vm_kib(), kib;

	ASSERT_EQ(0, vhi_set_iommufd(self->fd, -1));
	kib = before - vm_kib();
	ASSERT_LT(0, kib) TH_LOG("no scratch area seen in VmSize");
	ASSERT_EQ(0, vhi_set_iommufd(self->fd, self->w.fd));
	ASSERT_EQ(0, vhi_set_fault_queue(self->fd, self->fault_fd));
	return kib;
}

static void knobs_restore(struct _test_data_fnth *self)
{
	unsigned int i;

	for (i = 0; i < NR_KNOBS; i++)
		if (self->saved_ok[i])
			write_file(knobs[i].path, self->saved[i]);
	/* The module's attribute ends disarmed, whatever it was before. */
	if (self->have_vfail) {
		write_file(VFAIL "probability", "0");
		write_file(VFAIL "times", "0");
	}
}

static void knobs_setup(struct __test_metadata *_metadata,
			struct _test_data_fnth *self)
{
	char path[64];
	unsigned int i;
	int ret;

	self->have_nth = true;
	self->have_vfail = true;
	for (i = 0; i < NR_KNOBS; i++) {
		self->saved_ok[i] = !read_file(knobs[i].path, self->saved[i],
					       sizeof(self->saved[i]));
		if (self->saved_ok[i])
			continue;
		if (i < NR_NTH_KNOBS)
			self->have_nth = false;
		else
			self->have_vfail = false;
	}
	snprintf(path, sizeof(path), "/proc/self/task/%d/fail-nth", gettid());
	self->nth_fd = open(path, O_RDWR | O_CLOEXEC);
	if (self->nth_fd < 0)
		self->have_nth = false;
	for (i = 0; i < NR_KNOBS; i++) {
		if (!self->saved_ok[i])
			continue;
		ret = write_file(knobs[i].path, knobs[i].val);
		/* A failed setup has no teardown: put back what was set. */
		if (ret)
			knobs_restore(self);
		ASSERT_EQ(0, ret) TH_LOG("cannot write %s", knobs[i].path);
	}
}

FIXTURE_SETUP(fnth)
{
	int ret;

	self->fd = -1;
	self->w.fd = -1;
	self->fault_fd = -1;
	self->nth_fd = -1;
	self->grpid = 1;
	self->start_ms = now_ms();
	ASSERT_EQ(0, vg_mem_init(&self->mem, GUEST_BASE, GUEST_SIZE,
				 GUEST_REGIONS));
	ASSERT_EQ(0, vg_vq_init(&self->rq, &self->mem, RQ_NUM));
	ASSERT_EQ(0, vg_vq_init(&self->eq, &self->mem, EQ_NUM));
	fixture_config(&self->cfg);

	ret = imock_world_init(&self->w);
	if (ret == -ENOENT)
		SKIP(return, "no " IMOCK_DEV_PATH ": kernel without iommufd");
	ASSERT_EQ(0, ret)
		TH_LOG("mock world: %s (CONFIG_IOMMUFD_TEST?)", strerror(-ret));
	/* The mock device on a nested HWPT with a fault queue: IOPF works. */
	ASSERT_EQ(0, imock_fault_alloc(self->w.fd, &self->fault_id,
				       &self->fault_fd));
	ASSERT_EQ(0, imock_hwpt_alloc_nested(self->w.fd, self->w.idev_id,
					     self->w.parent_id, self->fault_id,
					     &self->fault_hwpt));
	ASSERT_EQ(0, imock_domain_replace(self->w.fd, self->w.stdev_id,
					  self->fault_hwpt));

	self->fd = vhi_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, vhi_set_owner(self->fd));
	dev_basic(_metadata, self);
	dev_iommu(_metadata, self);
	/* Last: the teardown restores what this changes. */
	knobs_setup(_metadata, self);
}

FIXTURE_TEARDOWN(fnth)
{
	knobs_restore(self);
	if (self->nth_fd >= 0)
		close(self->nth_fd);
	if (self->fd >= 0)
		close(self->fd);
	if (self->fault_fd >= 0)
		close(self->fault_fd);
	imock_world_destroy(&self->w);
	vg_vq_destroy(&self->rq);
	vg_vq_destroy(&self->eq);
	vg_mem_destroy(&self->mem);
	ksft_print_msg("STAT points=%u recoveries=%u ms=%lld\n", self->points,
		       self->recoveries, (long long)(now_ms() - self->start_ms));
	if (total_points)
		__atomic_fetch_add(total_points, self->points,
				   __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ */
/* The guest */

static void mk_attach(struct virtio_iommu_req_attach *r, __u32 domain,
		      __u32 endpoint)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_ATTACH;
	r->domain = htole32(domain);
	r->endpoint = htole32(endpoint);
}

static void mk_probe(struct virtio_iommu_req_probe *r, __u32 endpoint)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_PROBE;
	r->endpoint = htole32(endpoint);
}

static void mk_inval(struct virtio_iommu_req_invalidate *r, __u32 domain,
		     __u8 scope)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_INVALIDATE;
	r->scope = scope;
	r->caches = VIRTIO_IOMMU_INVAL_C_TLB;
	r->domain = htole32(domain);
}

/* One page with architecture ID @slot: the mock's IOTLB slot @slot. */
static void mk_inval_slot(struct virtio_iommu_req_invalidate *r,
			  __u32 domain, unsigned int slot)
{
	mk_inval(r, domain, VIRTIO_IOMMU_INVAL_S_ADDRESS);
	r->flags = htole16(VIRTIO_IOMMU_INVAL_F_ID);
	r->id = htole64(slot);
	r->address = htole64(IN_RANGE);
	r->nr_pages = htole64(1);
	r->page_size = 12;
}

static void mk_resp(struct virtio_iommu_req_page_resp *r, __u32 grpid)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_PAGE_RESP;
	r->endpoint = htole32(ENDPOINT);
	r->flags = htole32(VIRTIO_IOMMU_PAGE_RESP_F_PASID);
	r->pasid = htole32(PASID);
	r->grpid = htole32(grpid);
	r->resp_code = htole16(VIRTIO_IOMMU_PAGE_RESP_SUCCESS);
}

/* A reserved region property, as a VMM answers PROBE. */
static void mk_prop(struct virtio_iommu_probe_resv_mem *p)
{
	memset(p, 0, sizeof(*p));
	p->head.type = htole16(VIRTIO_IOMMU_PROBE_T_RESV_MEM);
	p->head.length = htole16(sizeof(*p) - sizeof(p->head));
	p->subtype = VIRTIO_IOMMU_RESV_MEM_T_MSI;
	p->start = htole64(0xfee00000ULL);
	p->end = htole64(0xfeefffffULL);
}

static __u8 req_status(const struct vg_vq *vq, const struct vg_req *req)
{
	__u8 st = 0xff;

	vg_req_status(vq, req, &st);
	return st;
}

/* Latches the queue's err eventfd: true once it was signalled. */
static bool err_seen(struct vg_vq *vq, bool *broken)
{
	__u64 count;

	if (!*broken && !vg_eventfd_wait(vq->err_fd, 0, &count))
		*broken = true;
	return *broken;
}

/*
 * The next used entry of @vq: 1 when one came, 0 when the err eventfd
 * came first, -ETIMEDOUT when neither did within @timeout_ms.
 */
static int next_used(struct vg_vq *vq, bool *broken, int timeout_ms,
		     __u32 *id, __u32 *len)
{
	__s64 end = now_ms() + timeout_ms;

	for (;;) {
		if (vg_used_idx(vq) != vq->last_used)
			return vg_wait_used(vq, 0, id, len) ? -EIO : 1;
		if (err_seen(vq, broken))
			return 0;
		if (now_ms() >= end)
			return -ETIMEDOUT;
		usleep(200);
	}
}

/*
 * @body through the request queue: 1 with its used entry, 0 when the
 * queue broke without one.
 */
static int send_req(struct __test_metadata *_metadata,
		    struct _test_data_fnth *self, const void *body,
		    __u32 in_len, __u32 out_len, struct vg_req *req,
		    __u32 *len)
{
	__u32 id = ~0u;
	int got;

	ASSERT_EQ(0, vg_submit(&self->rq, body, in_len, out_len, 0, req));
	got = next_used(&self->rq, &self->rq_broken, VG_TIMEOUT_MS, &id, len);
	ASSERT_LE(0, got)
		TH_LOG("no used entry and no err eventfd within %d ms",
		       VG_TIMEOUT_MS);
	if (!got)
		return 0;
	ASSERT_EQ(req->head, id);
	return 1;
}

static int get_request_now(struct _test_data_fnth *self)
{
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];

	return vhi_get_request(self->fd, &r, buf, sizeof(buf));
}

/*
 * Waits for the request the device hands the VMM: 1 with it in @r and
 * @buf (VHI_REQ_BUF_SIZE bytes), 0 when the request queue broke.
 */
static int wait_vmm_request(struct __test_metadata *_metadata,
			    struct _test_data_fnth *self,
			    struct vhost_iommu_request *r, void *buf)
{
	struct pollfd p[2] = {
		{ .fd = self->fd, .events = POLLIN },
		{ .fd = self->rq.err_fd, .events = POLLIN },
	};
	__s64 end = now_ms() + VG_TIMEOUT_MS;
	int ret;

	for (;;) {
		ret = vhi_get_request(self->fd, r, buf, VHI_REQ_BUF_SIZE);
		if (!ret)
			return 1;
		ASSERT_EQ(-EAGAIN, ret);
		if (err_seen(&self->rq, &self->rq_broken))
			return 0;
		ASSERT_GT(end, now_ms())
			TH_LOG("no request for the VMM and no err eventfd within %d ms",
			       VG_TIMEOUT_MS);
		poll(p, ARRAY_SIZE(p), 20);
	}
}

/* Queues @body and waits until the VMM has it. */
static void pend(struct __test_metadata *_metadata,
		 struct _test_data_fnth *self, const void *body, __u32 in_len,
		 __u32 out_len, struct vg_req *req,
		 struct vhost_iommu_request *r)
{
	__u8 buf[VHI_REQ_BUF_SIZE];

	ASSERT_EQ(0, vg_submit(&self->rq, body, in_len, out_len, 0, req));
	ASSERT_EQ(1, wait_vmm_request(_metadata, self, r, buf));
	ASSERT_EQ(((const __u8 *)body)[0], r->out_type);
	ASSERT_EQ(out_len, r->out_writable_len);
	ASSERT_EQ(0, memcmp(buf, body, in_len));
}

/* An ATTACH through the VMM and back: the device serves requests. */
static void slow_round_trip(struct __test_metadata *_metadata,
			    struct _test_data_fnth *self)
{
	struct virtio_iommu_req_attach a;
	struct vhost_iommu_request r;
	struct vg_req req;
	__u32 id = ~0u, len = 0;

	mk_attach(&a, DOM_A, ENDPOINT);
	pend(_metadata, self, &a, ATTACH_IN, TAIL, &req, &r);
	ASSERT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	ASSERT_EQ(1, next_used(&self->rq, &self->rq_broken, VG_TIMEOUT_MS,
			       &id, &len));
	ASSERT_EQ(req.head, id);
	ASSERT_EQ(TAIL, len);
	ASSERT_EQ(VIRTIO_IOMMU_S_OK, req_status(&self->rq, &req));
}

/* ------------------------------------------------------------------ */
/* The mock's IOTLB and bindings */

static __u32 new_nested(struct __test_metadata *_metadata,
			struct _test_data_fnth *self)
{
	__u32 id = 0;

	ASSERT_EQ(0, imock_hwpt_alloc_nested(self->w.fd, self->w.idev_id,
					     self->w.parent_id, 0, &id));
	return id;
}

/* The slots of @hwpt in @zeroed hold 0, the others their default. */
static void expect_slots(struct __test_metadata *_metadata,
			 struct _test_data_fnth *self, __u32 hwpt,
			 unsigned int zeroed, const char *what,
			 unsigned int point)
{
	unsigned int i;
	__u32 want;

	for (i = 0; i < IMOCK_IOTLB_NUM; i++) {
		want = zeroed & SLOT(i) ? 0 : IMOCK_IOTLB_DEFAULT;
		EXPECT_EQ(0, imock_check_iotlb(self->w.fd, hwpt, i, want))
			TH_LOG("%s, point %u: HWPT %u slot %u should be %#x",
			       what, point, hwpt, i, want);
	}
}

static void bind_init(struct vhost_iommu_bind *b, __u32 domain, __u32 hwpt)
{
	memset(b, 0, sizeof(*b));
	b->size = sizeof(*b);
	b->domain = domain;
	b->object_id = hwpt;
	b->format = VHOST_IOMMU_INV_FORMAT_SELFTEST;
	b->input_start = BIND_START;
	b->input_end = BIND_END;
	b->granule_log2 = 12;
}

static int bind_to(struct _test_data_fnth *self, __u32 domain, __u32 hwpt)
{
	struct vhost_iommu_bind b;

	bind_init(&b, domain, hwpt);
	return vhi_bind_domain(self->fd, &b);
}

/* Status of a domain-wide invalidation of @domain. */
static __u8 inval_domain(struct __test_metadata *_metadata,
			 struct _test_data_fnth *self, __u32 domain)
{
	struct virtio_iommu_req_invalidate r;
	struct vg_req req;
	__u32 len = 0;

	mk_inval(&r, domain, VIRTIO_IOMMU_INVAL_S_DOMAIN);
	ASSERT_EQ(1, send_req(_metadata, self, &r, INVAL_IN, TAIL, &req,
			      &len));
	ASSERT_EQ(TAIL, len);
	return req_status(&self->rq, &req);
}

/* An invalidation reaches a freshly bound HWPT through iommufd. */
static void inval_round_trip(struct __test_metadata *_metadata,
			     struct _test_data_fnth *self)
{
	__u32 h = new_nested(_metadata, self);

	ASSERT_EQ(0, bind_to(self, DOM_V, h));
	ASSERT_EQ(VIRTIO_IOMMU_S_OK, inval_domain(_metadata, self, DOM_V));
	expect_slots(_metadata, self, h, ALL_SLOTS, "check invalidation", 0);
	ASSERT_EQ(0, vhi_unbind_domain(self->fd, DOM_V, 0, 0));
	ASSERT_EQ(0, imock_destroy(self->w.fd, h));
}

/* ------------------------------------------------------------------ */
/* Page requests */

static void post_events(struct __test_metadata *_metadata,
			struct _test_data_fnth *self, unsigned int n)
{
	struct vg_req req;
	unsigned int i;

	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, vg_post_writable(&self->eq, EV_SIZE,
					      VG_SUBMIT_NO_PUBLISH, &req));
		self->ev[req.head] = req;
	}
	vg_publish(&self->eq);
	ASSERT_EQ(0, vg_kick(&self->eq));
}

/* The mock device issues a page request; returns its group ID. */
static __u32 trigger(struct __test_metadata *_metadata,
		     struct _test_data_fnth *self)
{
	__u32 grp = self->grpid++;

	ASSERT_EQ(0, imock_trigger_iopf(self->w.fd, self->w.idev_id, PASID,
					grp, IOMMU_PGFAULT_PERM_READ, ADDR));
	return grp;
}

/* Event buffer @id holds the page request of group @grp. */
static void expect_event(struct __test_metadata *_metadata,
			 struct _test_data_fnth *self, __u32 id, __u32 grp)
{
	struct virtio_iommu_page_req ev;
	__u32 flags;

	ASSERT_GT(EQ_NUM, id);
	ASSERT_EQ(0, vg_read(&self->mem, self->ev[id].out_gpa, &ev,
			     sizeof(ev)));
	flags = le32toh(ev.flags);
	EXPECT_NE(0u, flags & VIRTIO_IOMMU_FAULT_F_PAGE_REQ);
	EXPECT_NE(0u, flags & VIRTIO_IOMMU_FAULT_F_LAST);
	EXPECT_EQ(ENDPOINT, le32toh(ev.endpoint));
	EXPECT_EQ(PASID, le32toh(ev.pasid));
	EXPECT_EQ(ADDR, le64toh(ev.address));
	EXPECT_EQ(grp, le16toh(ev.group_id));
}

/* A page request delivered to the guest and not answered yet. */
static __u32 outstanding_group(struct __test_metadata *_metadata,
			       struct _test_data_fnth *self)
{
	__u32 id = ~0u, len = 0, grp;

	post_events(_metadata, self, 1);
	grp = trigger(_metadata, self);
	ASSERT_EQ(1, next_used(&self->eq, &self->eq_broken, VG_TIMEOUT_MS,
			       &id, &len))
		TH_LOG("page request %u not delivered", grp);
	ASSERT_EQ(EV_SIZE, len);
	expect_event(_metadata, self, id, grp);
	return grp;
}

/* The guest answers @grp: the status, or -1 when the queue broke. */
static int send_resp(struct __test_metadata *_metadata,
		     struct _test_data_fnth *self, __u32 grp)
{
	struct virtio_iommu_req_page_resp r;
	struct vg_req req;
	__u32 len = 0;

	mk_resp(&r, grp);
	if (!send_req(_metadata, self, &r, RESP_IN, TAIL, &req, &len))
		return -1;
	if (!len)
		return -1;
	EXPECT_EQ(TAIL, len);
	return req_status(&self->rq, &req);
}

/*
 * The groups iommufd still waits on, each answered now: iommufd takes a
 * response only for a cookie it handed out and nobody answered yet.
 */
static unsigned int leftovers(struct _test_data_fnth *self)
{
	struct iommu_hwpt_page_response r;
	unsigned int n = 0;
	__u32 c;

	for (c = 1; c <= PROBE_COOKIES; c++) {
		r.cookie = c;
		r.code = IOMMUFD_PAGE_RESP_INVALID;
		if (write(self->fault_fd, &r, sizeof(r)) == sizeof(r))
			n++;
	}
	return n;
}

/* A page request delivered and answered; iommufd waits for nothing. */
static void page_round_trip(struct __test_metadata *_metadata,
			    struct _test_data_fnth *self)
{
	__u32 grp = outstanding_group(_metadata, self);

	ASSERT_EQ(VIRTIO_IOMMU_S_OK, send_resp(_metadata, self, grp));
	ASSERT_EQ(0u, leftovers(self));
}

/* ------------------------------------------------------------------ */
/* Device control */

static void set_running(struct __test_metadata *_metadata,
			struct _test_data_fnth *self, int running)
{
	ASSERT_EQ(0, ioctl(self->fd, VHOST_IOMMU_SET_RUNNING, &running));
}

/*
 * Broken queues work again, by VHOST_SET_VRING_BASE past everything the
 * guest queued or by a device reset and fresh rings, alternately.
 * Returns true for the reset, which also answered every page request.
 */
static bool recover_broken(struct __test_metadata *_metadata,
			   struct _test_data_fnth *self)
{
	if (self->recoveries++ & 1) {
		ASSERT_EQ(0, vhi_reset_device(self->fd));
		rings_up(_metadata, self);
		return true;
	}
	if (self->rq_broken) {
		ASSERT_EQ(0, vhi_set_vring_base(self->fd, VHOST_IOMMU_VQ_REQUEST,
						self->rq.avail_idx));
		vg_used_store_idx(&self->rq, self->rq.avail_idx);
		self->rq_broken = false;
	}
	if (self->eq_broken) {
		ASSERT_EQ(0, vhi_set_vring_base(self->fd, VHOST_IOMMU_VQ_EVENT,
						self->eq.avail_idx));
		vg_used_store_idx(&self->eq, self->eq.avail_idx);
		self->eq_broken = false;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* fail-nth: the N-th injection site the calling thread reaches fails */

/**
 * struct sweep - one ioctl swept over its failure points
 * @name: for messages
 * @never_fails: the uAPI gives the ioctl no error to return
 * @eio_breaks_eq: -EIO is documented: the event queue broke as the ioctl
 *                 wrote into it
 * @n: the fail-nth value of the last try
 * @points: tries in which a failure was injected
 * @errors: of those, the tries in which the ioctl failed
 * @lost: page request groups left waiting in iommufd
 */
struct sweep {
	const char *name;
	bool never_fails;
	bool eio_breaks_eq;
	unsigned int n;
	unsigned int points;
	unsigned int errors;
	unsigned int lost;
};

/*
 * Disarms fail-nth and says whether the failure was injected. Reading
 * and writing the file are injection sites too: a read that fails took
 * the last count itself, and a failed write is done again.
 */
static bool nth_disarm(struct __test_metadata *_metadata,
		       struct _test_data_fnth *self)
{
	char buf[16] = "";
	ssize_t n;
	bool hit;

	n = pread(self->nth_fd, buf, sizeof(buf) - 1, 0);
	ASSERT_TRUE(n > 0 || errno == EFAULT);
	hit = n > 0 && strtoul(buf, NULL, 10) == 0;
	n = pwrite(self->nth_fd, "0", 1, 0);
	if (n < 0 && errno == EFAULT)
		n = pwrite(self->nth_fd, "0", 1, 0);
	ASSERT_EQ(1, n);
	return hit;
}

/* The ioctl with fail-nth at the sweep's next value. */
static int nth_ioctl(struct __test_metadata *_metadata,
		     struct _test_data_fnth *self, struct sweep *sw, int fd,
		     unsigned long cmd, void *arg, bool *hit)
{
	char num[16];
	int len, ret, err;

	ASSERT_GT(MAX_NTH, sw->n)
		TH_LOG("%s still reaches failure points after %u", sw->name,
		       sw->n);
	len = snprintf(num, sizeof(num), "%u", ++sw->n);
	ASSERT_EQ(len, pwrite(self->nth_fd, num, len, 0));
	ret = ioctl(fd, cmd, arg);
	err = errno;
	*hit = nth_disarm(_metadata, self);
	return ret < 0 ? -err : ret;
}

/* Accounts for one try; false once the ioctl ran with nothing injected. */
static bool nth_next(struct __test_metadata *_metadata,
		     struct _test_data_fnth *self, struct sweep *sw, int ret,
		     bool hit)
{
	if (!hit) {
		EXPECT_EQ(0, ret)
			TH_LOG("%s failed (%s) with nothing injected", sw->name,
			       strerror(-ret));
		ksft_print_msg("STAT ioctl=%s points=%u errors=%u lost=%u\n",
			       sw->name, sw->points, sw->errors, sw->lost);
		self->points += sw->points;
		return false;
	}
	sw->points++;
	if (ret < 0) {
		sw->errors++;
		EXPECT_FALSE(sw->never_fails)
			TH_LOG("%s, point %u: failed (%s), but it has no error",
			       sw->name, sw->n, strerror(-ret));
		EXPECT_TRUE(ret == -ENOMEM || ret == -EFAULT ||
			    (ret == -EIO && sw->eio_breaks_eq &&
			     self->eq_broken))
			TH_LOG("%s, point %u: %s is not a documented error",
			       sw->name, sw->n, strerror(-ret));
	}
	return true;
}

#define NTH_SKIP_MSG \
	"no fail-nth (FAULT_INJECTION_DEBUG_FS, FAILSLAB, FAIL_PAGE_ALLOC, FAULT_INJECTION_USERCOPY, debugfs)"
#define VFAIL_SKIP_MSG \
	"no " VFAIL ": the module was built without its test hooks"

/* ------------------------------------------------------------------ */
/* Ownership */

static void sweep_set_owner(struct __test_metadata *_metadata,
			    struct _test_data_fnth *self)
{
	struct sweep sw = { .name = "SET_OWNER" };
	struct vhost_iommu_stats st;
	bool hit;
	int ret;

	do {
		dev_reopen(_metadata, self);
		ret = nth_ioctl(_metadata, self, &sw, self->fd, VHOST_SET_OWNER,
				NULL, &hit);
		if (ret) {
			/* Not owned: refused, and it can be owned now. */
			EXPECT_EQ(-EPERM, vhi_get_stats(self->fd, &st));
			ASSERT_EQ(0, vhi_set_owner(self->fd));
		} else {
			EXPECT_EQ(-EBUSY, vhi_set_owner(self->fd));
		}
		dev_basic(_metadata, self);
		slow_round_trip(_metadata, self);
	} while (nth_next(_metadata, self, &sw, ret, hit));
	dev_iommu(_metadata, self);
	page_round_trip(_metadata, self);
}

/*
 * With everything an owner sets up, a slow-path request parked. The
 * owner's memory loses the scratch area SET_IOMMUFD mapped in it, and
 * the next owner starts from nothing (the endpoint can be added again).
 */
static void sweep_reset_owner(struct __test_metadata *_metadata,
			      struct _test_data_fnth *self)
{
	struct sweep sw = { .name = "RESET_OWNER", .never_fails = true };
	struct virtio_iommu_req_attach a;
	struct vhost_iommu_request r;
	struct vhost_iommu_stats st;
	long before, scratch;
	struct vg_req req;
	bool hit;
	int ret;

	/* What an owner loses: its scratch area, seen in VmSize. */
	before = vm_kib();
	ASSERT_EQ(0, vhi_reset_owner(self->fd));
	scratch = before - vm_kib();
	ASSERT_LT(0, scratch) TH_LOG("no scratch area seen in VmSize");
	ASSERT_EQ(0, vhi_set_owner(self->fd));
	dev_basic(_metadata, self);
	do {
		dev_iommu(_metadata, self);
		ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
		mk_attach(&a, DOM_A, ENDPOINT);
		pend(_metadata, self, &a, ATTACH_IN, TAIL, &req, &r);
		before = vm_kib();
		ret = nth_ioctl(_metadata, self, &sw, self->fd,
				VHOST_RESET_OWNER, NULL, &hit);
		EXPECT_EQ(scratch, before - vm_kib())
			TH_LOG("RESET_OWNER, point %u: the scratch area is still mapped in the VMM",
			       sw.n);
		EXPECT_EQ(-EPERM, vhi_get_stats(self->fd, &st));
		ASSERT_EQ(0, vhi_set_owner(self->fd));
		dev_basic(_metadata, self);
		slow_round_trip(_metadata, self);
	} while (nth_next(_metadata, self, &sw, ret, hit));
	dev_iommu(_metadata, self);
	inval_round_trip(_metadata, self);
	page_round_trip(_metadata, self);
}

TEST_F_TIMEOUT(fnth, ioctl_owner, SWEEP_TIMEOUT)
{
	if (!self->have_nth)
		SKIP(return, NTH_SKIP_MSG);
	sweep_set_owner(_metadata, self);
	sweep_reset_owner(_metadata, self);
}

/* ------------------------------------------------------------------ */
/* Memory table, features, config, rings */

/*
 * @cmd with @arg, setting what is set already. A failure leaves the old
 * setting, so the device goes on serving without the call being made
 * again. @stopped: the ioctl needs the device stopped.
 */
static void sweep_same(struct __test_metadata *_metadata,
		       struct _test_data_fnth *self, const char *name,
		       unsigned long cmd, void *arg, bool stopped)
{
	struct vhost_vring_state *s = arg;
	struct sweep sw = { .name = name };
	bool hit;
	int ret;

	do {
		if (stopped && cmd != VHOST_IOMMU_SET_RUNNING)
			set_running(_metadata, self, 0);
		if (cmd == VHOST_SET_VRING_BASE)
			s->num = self->rq.avail_idx;
		ret = nth_ioctl(_metadata, self, &sw, self->fd, cmd, arg,
				&hit);
		if (stopped)
			set_running(_metadata, self, 1);
		EXPECT_TRUE(cmd != VHOST_GET_VRING_BASE || ret ||
			    s->num == self->rq.avail_idx);
		slow_round_trip(_metadata, self);
	} while (nth_next(_metadata, self, &sw, ret, hit));
}

TEST_F_TIMEOUT(fnth, ioctl_setup, SWEEP_TIMEOUT)
{
	union {
		struct vhost_memory m;
		__u8 bytes[sizeof(struct vhost_memory) +
			   VG_MAX_REGIONS * sizeof(struct vhost_memory_region)];
	} mt;
	struct vhost_vring_state num = { .index = 0, .num = RQ_NUM };
	struct vhost_vring_state base = { .index = 0 };
	struct vhost_vring_addr addr = {
		.index = 0,
		.desc_user_addr = (uintptr_t)self->rq.desc,
		.avail_user_addr = (uintptr_t)self->rq.avail,
		.used_user_addr = (uintptr_t)self->rq.used,
	};
	struct vhost_vring_file kick = { .index = 0, .fd = self->rq.kick_fd };
	struct vhost_vring_file call = { .index = 0, .fd = self->rq.call_fd };
	struct vhost_vring_file err = { .index = 0, .fd = self->rq.err_fd };
	struct vhost_vring_state busy = { .index = 0, .num = 0 };
	__u64 features = ALL_FEATURES;
	int stop = 0;

	if (!self->have_nth)
		SKIP(return, NTH_SKIP_MSG);
	memset(&mt, 0, sizeof(mt));
	mt.m.nregions = self->mem.nr_regions;
	memcpy(mt.m.regions, self->mem.regions,
	       self->mem.nr_regions * sizeof(mt.m.regions[0]));

	sweep_same(_metadata, self, "SET_MEM_TABLE", VHOST_SET_MEM_TABLE,
		   &mt.m, false);
	sweep_same(_metadata, self, "SET_FEATURES", VHOST_SET_FEATURES,
		   &features, true);
	sweep_same(_metadata, self, "SET_CONFIG", VHOST_IOMMU_SET_CONFIG,
		   &self->cfg, false);
	sweep_same(_metadata, self, "SET_VRING_NUM", VHOST_SET_VRING_NUM,
		   &num, true);
	sweep_same(_metadata, self, "SET_VRING_ADDR", VHOST_SET_VRING_ADDR,
		   &addr, true);
	sweep_same(_metadata, self, "SET_VRING_BASE", VHOST_SET_VRING_BASE,
		   &base, true);
	sweep_same(_metadata, self, "GET_VRING_BASE", VHOST_GET_VRING_BASE,
		   &base, false);
	sweep_same(_metadata, self, "SET_VRING_KICK", VHOST_SET_VRING_KICK,
		   &kick, false);
	sweep_same(_metadata, self, "SET_VRING_CALL", VHOST_SET_VRING_CALL,
		   &call, false);
	sweep_same(_metadata, self, "SET_VRING_ERR", VHOST_SET_VRING_ERR,
		   &err, false);
	sweep_same(_metadata, self, "SET_VRING_BUSYLOOP_TIMEOUT",
		   VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &busy, false);
	sweep_same(_metadata, self, "GET_VRING_BUSYLOOP_TIMEOUT",
		   VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &busy, false);
	sweep_same(_metadata, self, "SET_RUNNING", VHOST_IOMMU_SET_RUNNING,
		   &stop, true);
	inval_round_trip(_metadata, self);
	page_round_trip(_metadata, self);
}

/* ------------------------------------------------------------------ */
/* iommufd, endpoints, bindings */

/* A failed SET_IOMMUFD holds no iommufd and maps nothing. */
static void sweep_set_iommufd(struct __test_metadata *_metadata,
			      struct _test_data_fnth *self)
{
	struct vhost_iommu_iommufd a = {
		.size = sizeof(a),
		.iommufd = self->w.fd,
	};
	struct sweep sw = { .name = "SET_IOMMUFD" };
	long before;
	bool hit;
	int ret;

	do {
		ASSERT_EQ(0, vhi_set_iommufd(self->fd, -1));
		before = vm_kib();
		ret = nth_ioctl(_metadata, self, &sw, self->fd,
				VHOST_IOMMU_SET_IOMMUFD, &a, &hit);
		if (ret) {
			EXPECT_EQ(before, vm_kib())
				TH_LOG("point %u: memory left mapped", sw.n);
			EXPECT_EQ(-EINVAL, bind_to(self, DOM_V,
						   self->w.nested_id))
				TH_LOG("point %u: an iommufd was taken", sw.n);
		}
	} while (nth_next(_metadata, self, &sw, ret, hit));
	inval_round_trip(_metadata, self);
	/* Letting go of the iommufd detached the fault queue. */
	ASSERT_EQ(0, vhi_set_fault_queue(self->fd, self->fault_fd));
	page_round_trip(_metadata, self);
}

/* An endpoint is registered exactly when the call says so. */
static void sweep_add_endpoint(struct __test_metadata *_metadata,
			       struct _test_data_fnth *self)
{
	struct vhost_iommu_endpoint e = {
		.size = sizeof(e),
		.endpoint = ENDPOINT2,
		.dev_id = 0xbeef,
		.virt_id = VIRT_SID + 1,
	};
	struct sweep sw = { .name = "SET_ENDPOINT" };
	bool hit;
	int ret;

	do {
		ret = vhi_remove_endpoint(self->fd, ENDPOINT2);
		ASSERT_TRUE(!ret || ret == -ENOENT);
		ret = nth_ioctl(_metadata, self, &sw, self->fd,
				VHOST_IOMMU_SET_ENDPOINT, &e, &hit);
		EXPECT_EQ(ret ? 0 : -EEXIST,
			  vhi_add_endpoint(self->fd, ENDPOINT2, e.dev_id,
					   e.virt_id))
			TH_LOG("point %u: the call gave %d", sw.n, ret);
	} while (nth_next(_metadata, self, &sw, ret, hit));
	ASSERT_EQ(0, vhi_remove_endpoint(self->fd, ENDPOINT2));
}

/* A domain is bound exactly when the call says so. */
static void sweep_bind(struct __test_metadata *_metadata,
		       struct _test_data_fnth *self)
{
	struct sweep sw = { .name = "BIND_DOMAIN" };
	struct vhost_iommu_bind b;
	bool hit;
	__u32 h;
	__u8 st;
	int ret;

	do {
		h = new_nested(_metadata, self);
		bind_init(&b, DOM_A, h);
		ret = nth_ioctl(_metadata, self, &sw, self->fd,
				VHOST_IOMMU_BIND_DOMAIN, &b, &hit);
		st = inval_domain(_metadata, self, DOM_A);
		EXPECT_EQ(ret ? VIRTIO_IOMMU_S_NOENT : VIRTIO_IOMMU_S_OK, st)
			TH_LOG("point %u: the call gave %d, the invalidation %s",
			       sw.n, ret, vhi_status_name(st));
		expect_slots(_metadata, self, h, ret ? 0 : ALL_SLOTS, sw.name,
			     sw.n);
		EXPECT_EQ(ret ? -ENOENT : 0,
			  vhi_unbind_domain(self->fd, DOM_A, 0, 0));
		ASSERT_EQ(0, imock_destroy(self->w.fd, h));
	} while (nth_next(_metadata, self, &sw, ret, hit));
}

/* Rebinding: a failure keeps the old binding, never leaves none. */
static void sweep_rebind(struct __test_metadata *_metadata,
			 struct _test_data_fnth *self)
{
	struct sweep sw = { .name = "BIND_DOMAIN(rebind)" };
	struct vhost_iommu_bind b;
	__u32 old, new;
	bool hit;
	int ret;

	do {
		old = new_nested(_metadata, self);
		new = new_nested(_metadata, self);
		ASSERT_EQ(0, bind_to(self, DOM_A, old));
		bind_init(&b, DOM_A, new);
		ret = nth_ioctl(_metadata, self, &sw, self->fd,
				VHOST_IOMMU_BIND_DOMAIN, &b, &hit);
		EXPECT_EQ(VIRTIO_IOMMU_S_OK, inval_domain(_metadata, self,
							  DOM_A));
		expect_slots(_metadata, self, old, ret ? ALL_SLOTS : 0,
			     "old binding", sw.n);
		expect_slots(_metadata, self, new, ret ? 0 : ALL_SLOTS,
			     "new binding", sw.n);
		ASSERT_EQ(0, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
		ASSERT_EQ(0, imock_destroy(self->w.fd, old));
		ASSERT_EQ(0, imock_destroy(self->w.fd, new));
	} while (nth_next(_metadata, self, &sw, ret, hit));
}

/*
 * The SMMUv3 format with its endpoint list, where this kernel's iommufd
 * has it (a vIOMMU, 6.13 and later). The binding is not used, so any
 * object ID does.
 */
static void sweep_bind_smmuv3(struct __test_metadata *_metadata,
			      struct _test_data_fnth *self)
{
	struct sweep sw = { .name = "BIND_DOMAIN(ARM_SMMUV3)" };
	struct vhost_iommu_bind b;
	__u32 eps[1] = { ENDPOINT };
	bool hit;
	int ret;

	bind_init(&b, DOM_B, self->w.nested_id);
	b.format = VHOST_IOMMU_INV_FORMAT_ARM_SMMUV3;
	b.nr_endpoints = ARRAY_SIZE(eps);
	b.endpoints_uptr = (uintptr_t)eps;
	ret = vhi_bind_domain(self->fd, &b);
	if (ret == -EOPNOTSUPP) {
		ksft_print_msg("%s: not in this kernel, SELFTEST swept only\n",
			       sw.name);
		return;
	}
	ASSERT_EQ(0, ret);
	/* A bind that failed left nothing to unbind. */
	do {
		if (!ret)
			ASSERT_EQ(0, vhi_unbind_domain(self->fd, DOM_B, 0, 0));
		ret = nth_ioctl(_metadata, self, &sw, self->fd,
				VHOST_IOMMU_BIND_DOMAIN, &b, &hit);
	} while (nth_next(_metadata, self, &sw, ret, hit));
	if (!ret)
		ASSERT_EQ(0, vhi_unbind_domain(self->fd, DOM_B, 0, 0));
}

TEST_F_TIMEOUT(fnth, ioctl_iommufd, SWEEP_TIMEOUT)
{
	if (!self->have_nth)
		SKIP(return, NTH_SKIP_MSG);
	sweep_set_iommufd(_metadata, self);
	sweep_add_endpoint(_metadata, self);
	sweep_bind(_metadata, self);
	sweep_rebind(_metadata, self);
	sweep_bind_smmuv3(_metadata, self);
	inval_round_trip(_metadata, self);
	slow_round_trip(_metadata, self);
}

/* ------------------------------------------------------------------ */
/* Fault queue */

TEST_F_TIMEOUT(fnth, ioctl_fault_queue, SWEEP_TIMEOUT)
{
	struct vhost_iommu_fault_queue q = {
		.size = sizeof(q),
		.fault_fd = self->fault_fd,
	};
	struct sweep sw = { .name = "SET_FAULT_QUEUE" };
	int ret, retry;
	bool hit;

	if (!self->have_nth)
		SKIP(return, NTH_SKIP_MSG);
	do {
		ASSERT_EQ(0, vhi_set_fault_queue(self->fd, -1));
		ret = nth_ioctl(_metadata, self, &sw, self->fd,
				VHOST_IOMMU_SET_FAULT_QUEUE, &q, &hit);
		/* Attached, by this call or by one more. */
		retry = ret ? vhi_set_fault_queue(self->fd, self->fault_fd) : 0;
		ASSERT_EQ(0, retry);
		page_round_trip(_metadata, self);
	} while (nth_next(_metadata, self, &sw, ret, hit));
	slow_round_trip(_metadata, self);
}

/* ------------------------------------------------------------------ */
/* Fault reports from the VMM */

/*
 * POST_EVENT with an event buffer waiting, so the report is written
 * before the call returns. A call that fails with -EFAULT took nothing:
 * the report is posted again. One that fails with -EIO found guest memory
 * it could not use: the event queue is broken, its err eventfd signalled,
 * the report dropped and counted; the queue works again once recovered.
 */
TEST_F_TIMEOUT(fnth, ioctl_post_event, SWEEP_TIMEOUT)
{
	struct vhost_iommu_fault_report a = {
		.size = sizeof(a),
		.reason = VIRTIO_IOMMU_FAULT_R_MAPPING,
		.fault_flags = VIRTIO_IOMMU_FAULT_F_WRITE |
			       VIRTIO_IOMMU_FAULT_F_ADDRESS,
		.endpoint = ENDPOINT2,
		.address = ADDR,
	};
	struct sweep sw = { .name = "POST_EVENT", .eio_breaks_eq = true };
	struct vhost_iommu_stats st0, st;
	struct virtio_iommu_fault f;
	bool hit, again;
	__u32 id, len;
	int ret;

	if (!self->have_nth)
		SKIP(return, NTH_SKIP_MSG);
	for (again = true; again;) {
		ASSERT_EQ(0, vhi_get_stats(self->fd, &st0));
		post_events(_metadata, self, 1);
		ret = nth_ioctl(_metadata, self, &sw, self->fd,
				VHOST_IOMMU_POST_EVENT, &a, &hit);
		ASSERT_EQ(0, vhi_get_stats(self->fd, &st));
		if (ret == -EIO) {
			EXPECT_TRUE(err_seen(&self->eq, &self->eq_broken))
				TH_LOG("point %u: -EIO, but no err eventfd",
				       sw.n);
			EXPECT_EQ(st0.out_vmm_events_dropped + 1,
				  st.out_vmm_events_dropped);
			/* At most the bad buffer, completed with 0. */
			while (vg_used_idx(&self->eq) != self->eq.last_used) {
				ASSERT_EQ(0, vg_wait_used(&self->eq, 0, &id,
							  &len));
				EXPECT_EQ(0u, len);
			}
			/* Judged while the queue is still seen broken. */
			again = nth_next(_metadata, self, &sw, ret, hit);
			recover_broken(_metadata, self);
			continue;
		}
		EXPECT_FALSE(err_seen(&self->eq, &self->eq_broken));
		EXPECT_EQ(st0.out_vmm_events_dropped,
			  st.out_vmm_events_dropped);
		if (ret) {
			EXPECT_EQ(st0.out_vmm_events, st.out_vmm_events);
			EXPECT_EQ(self->eq.last_used, vg_used_idx(&self->eq));
			ASSERT_EQ(0, ioctl(self->fd, VHOST_IOMMU_POST_EVENT,
					   &a));
		}
		/* Written before the call returned. */
		ASSERT_NE(self->eq.last_used, vg_used_idx(&self->eq));
		id = ~0u;
		len = 0;
		ASSERT_EQ(0, vg_wait_used(&self->eq, 0, &id, &len));
		ASSERT_GT(EQ_NUM, id);
		EXPECT_EQ((__u32)sizeof(f), len);
		ASSERT_EQ(0, vg_read(&self->mem, self->ev[id].out_gpa, &f,
				     sizeof(f)));
		EXPECT_EQ(VIRTIO_IOMMU_FAULT_R_MAPPING, f.reason);
		EXPECT_EQ(a.fault_flags, le32toh(f.flags));
		EXPECT_EQ(ENDPOINT2, le32toh(f.endpoint));
		EXPECT_EQ(ADDR, le64toh(f.address));
		ASSERT_EQ(0, vhi_get_stats(self->fd, &st));
		EXPECT_EQ(st0.out_vmm_events + 1, st.out_vmm_events);
		again = nth_next(_metadata, self, &sw, ret, hit);
	}
	page_round_trip(_metadata, self);
	slow_round_trip(_metadata, self);
}

/* ------------------------------------------------------------------ */
/* Slow path */

static void sweep_get_request(struct __test_metadata *_metadata,
			      struct _test_data_fnth *self)
{
	struct sweep sw = { .name = "GET_REQUEST" };
	struct virtio_iommu_req_attach a;
	struct vhost_iommu_request p, r;
	__u8 buf[VHI_REQ_BUF_SIZE];
	struct vg_req req;
	__u32 id = ~0u, len = 0;
	bool hit;
	int ret;

	mk_attach(&a, DOM_A, ENDPOINT);
	pend(_metadata, self, &a, ATTACH_IN, TAIL, &req, &p);
	do {
		memset(&r, 0, sizeof(r));
		memset(buf, 0, sizeof(buf));
		r.size = sizeof(r);
		r.buf_len = sizeof(buf);
		r.buf_uptr = (uintptr_t)buf;
		ret = nth_ioctl(_metadata, self, &sw, self->fd,
				VHOST_IOMMU_GET_REQUEST, &r, &hit);
		if (!ret) {
			EXPECT_EQ(p.out_cookie, r.out_cookie);
			EXPECT_EQ(ATTACH_IN, r.out_readable_len);
			EXPECT_EQ(0, memcmp(buf, &a, ATTACH_IN));
		}
		/* The same request waits, whatever the call gave. */
		ASSERT_EQ(0, vhi_get_request(self->fd, &r, buf, sizeof(buf)));
		EXPECT_EQ(p.out_cookie, r.out_cookie);
	} while (nth_next(_metadata, self, &sw, ret, hit));
	ASSERT_EQ(0, vhi_complete_request(self->fd, p.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	ASSERT_EQ(1, next_used(&self->rq, &self->rq_broken, VG_TIMEOUT_MS,
			       &id, &len));
	EXPECT_EQ(req.head, id);
	EXPECT_EQ(TAIL, len);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, req_status(&self->rq, &req));
}

/*
 * S_OK in the tail; for a PROBE, @prop first in the property buffer and
 * zeroes after it.
 */
static void expect_answer(struct __test_metadata *_metadata,
			  struct _test_data_fnth *self,
			  const struct vg_req *req,
			  const struct virtio_iommu_probe_resv_mem *prop,
			  unsigned int point)
{
	__u8 buf[PROBE_OUT];
	unsigned int i, nonzero = 0;

	if (!prop) {
		EXPECT_EQ(VIRTIO_IOMMU_S_OK, req_status(&self->rq, req));
		return;
	}

	ASSERT_EQ(0, vg_read(&self->mem, req->out_gpa, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, prop, sizeof(*prop)))
		TH_LOG("point %u: the property is not in the buffer", point);
	for (i = sizeof(*prop); i < PROBE_SIZE; i++)
		nonzero += buf[i] != 0;
	EXPECT_EQ(0u, nonzero)
		TH_LOG("point %u: property buffer not zero-filled", point);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, buf[PROBE_SIZE]);
}

/*
 * COMPLETE_REQUEST of a parked PROBE (with a property) or ATTACH. A call
 * that fails did nothing: the request still waits and can be completed.
 * One that succeeds completed it, or found guest memory it could not
 * write: the queue is then broken, the err eventfd signalled, and the
 * device works again once the VMM recovers the queue.
 */
static void sweep_complete(struct __test_metadata *_metadata,
			   struct _test_data_fnth *self, bool probe)
{
	struct sweep sw = {
		.name = probe ? "COMPLETE_REQUEST(PROBE)" :
				"COMPLETE_REQUEST(ATTACH)",
	};
	struct virtio_iommu_probe_resv_mem prop;
	struct vhost_iommu_completion c;
	struct virtio_iommu_req_attach a;
	struct virtio_iommu_req_probe p;
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];
	__u32 id, len, out = probe ? PROBE_OUT : TAIL;
	unsigned int broken = 0;
	struct vg_req req;
	bool hit;
	int ret, got;

	mk_prop(&prop);
	mk_probe(&p, ENDPOINT);
	mk_attach(&a, DOM_A, ENDPOINT);
	do {
		if (probe)
			pend(_metadata, self, &p, PROBE_IN, out, &req, &r);
		else
			pend(_metadata, self, &a, ATTACH_IN, out, &req, &r);
		memset(&c, 0, sizeof(c));
		c.size = sizeof(c);
		c.cookie = r.out_cookie;
		c.status = VIRTIO_IOMMU_S_OK;
		if (probe) {
			c.payload_len = sizeof(prop);
			c.payload_uptr = (uintptr_t)&prop;
		}
		ret = nth_ioctl(_metadata, self, &sw, self->fd,
				VHOST_IOMMU_COMPLETE_REQUEST, &c, &hit);
		if (ret) {
			EXPECT_EQ(self->rq.last_used, vg_used_idx(&self->rq));
			EXPECT_FALSE(err_seen(&self->rq, &self->rq_broken));
			ASSERT_EQ(0, vhi_get_request(self->fd, &r, buf,
						     sizeof(buf)));
			EXPECT_EQ(c.cookie, r.out_cookie);
			ASSERT_EQ(0, ioctl(self->fd,
					   VHOST_IOMMU_COMPLETE_REQUEST, &c));
		}
		id = ~0u;
		len = ~0u;
		got = next_used(&self->rq, &self->rq_broken, VG_TIMEOUT_MS,
				&id, &len);
		ASSERT_LE(0, got);
		EXPECT_TRUE(!got || id == req.head);
		if (got && len == out) {
			EXPECT_FALSE(err_seen(&self->rq, &self->rq_broken));
			expect_answer(_metadata, self, &req,
				      probe ? &prop : NULL, sw.n);
		} else {
			/* A used entry, if one could be written, says 0. */
			EXPECT_TRUE(!got || !len);
			EXPECT_TRUE(err_seen(&self->rq, &self->rq_broken))
				TH_LOG("point %u: no answer, queue not broken",
				       sw.n);
			EXPECT_TRUE(hit);
			EXPECT_EQ(-EAGAIN, get_request_now(self));
			broken++;
			recover_broken(_metadata, self);
		}
		slow_round_trip(_metadata, self);
	} while (nth_next(_metadata, self, &sw, ret, hit));
	ksft_print_msg("STAT ioctl=%s broken=%u\n", sw.name, broken);
}

static void sweep_get_stats(struct __test_metadata *_metadata,
			    struct _test_data_fnth *self)
{
	struct sweep sw = { .name = "GET_STATS" };
	struct vhost_iommu_stats st;
	bool hit;
	int ret;

	do {
		memset(&st, 0, sizeof(st));
		st.size = sizeof(st);
		ret = nth_ioctl(_metadata, self, &sw, self->fd,
				VHOST_IOMMU_GET_STATS, &st, &hit);
		if (!ret) {
			EXPECT_EQ(sizeof(st), st.size);
			EXPECT_LT(0u, st.out_requests);
		}
	} while (nth_next(_metadata, self, &sw, ret, hit));
}

TEST_F_TIMEOUT(fnth, ioctl_slow_path, SWEEP_TIMEOUT)
{
	if (!self->have_nth)
		SKIP(return, NTH_SKIP_MSG);
	sweep_get_request(_metadata, self);
	sweep_complete(_metadata, self, true);
	sweep_complete(_metadata, self, false);
	sweep_get_stats(_metadata, self);
	slow_round_trip(_metadata, self);
}

/* ------------------------------------------------------------------ */
/* Device reset */

/*
 * RESET_DEVICE with a request parked and a domain bound: the request is
 * dropped, the binding kept (BACKEND_F_PERSIST), the device works on
 * with fresh rings.
 */
TEST_F_TIMEOUT(fnth, ioctl_reset_device, SWEEP_TIMEOUT)
{
	struct sweep sw = { .name = "RESET_DEVICE", .never_fails = true };
	struct virtio_iommu_req_attach a;
	struct vhost_iommu_request r;
	struct vg_req req;
	bool hit;
	__u32 h;
	int ret;

	if (!self->have_nth)
		SKIP(return, NTH_SKIP_MSG);
	mk_attach(&a, DOM_A, ENDPOINT);
	do {
		h = new_nested(_metadata, self);
		ASSERT_EQ(0, bind_to(self, DOM_A, h));
		pend(_metadata, self, &a, ATTACH_IN, TAIL, &req, &r);
		ret = nth_ioctl(_metadata, self, &sw, self->fd,
				VHOST_IOMMU_RESET_DEVICE, NULL, &hit);
		EXPECT_EQ(-EAGAIN, get_request_now(self));
		EXPECT_EQ(-ENOENT, vhi_complete_request(self->fd, r.out_cookie,
							VIRTIO_IOMMU_S_OK,
							NULL, 0));
		rings_up(_metadata, self);
		EXPECT_EQ(VIRTIO_IOMMU_S_OK, inval_domain(_metadata, self,
							  DOM_A));
		expect_slots(_metadata, self, h, ALL_SLOTS, sw.name, sw.n);
		slow_round_trip(_metadata, self);
		ASSERT_EQ(0, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
		ASSERT_EQ(0, imock_destroy(self->w.fd, h));
	} while (nth_next(_metadata, self, &sw, ret, hit));
	page_round_trip(_metadata, self);
}

/* ------------------------------------------------------------------ */
/* Outstanding page requests answered by the device */

enum answer_by {
	BY_RESET_DEVICE,
	BY_DETACH_QUEUE,
	BY_REMOVE_ENDPOINT,
	BY_DROP_IOMMUFD,
	BY_RESET_OWNER,
};

static const char *const answer_names[] = {
	[BY_RESET_DEVICE] = "RESET_DEVICE(group)",
	[BY_DETACH_QUEUE] = "SET_FAULT_QUEUE(-1,group)",
	[BY_REMOVE_ENDPOINT] = "SET_ENDPOINT(remove,group)",
	[BY_DROP_IOMMUFD] = "SET_IOMMUFD(-1,group)",
	[BY_RESET_OWNER] = "RESET_OWNER(group)",
};

/*
 * The uAPI: every outstanding group is answered INVALID when the device
 * is reset, the fault queue detached, the iommufd let go of, or (its
 * groups) when the endpoint is removed. With a group delivered and not
 * answered, each such ioctl is swept; afterwards iommufd must wait for
 * no answer (a call that failed changed nothing, and the guest answers).
 */
static void sweep_answers(struct __test_metadata *_metadata,
			  struct _test_data_fnth *self, enum answer_by by)
{
	struct vhost_iommu_fault_queue q = { .size = sizeof(q), .fault_fd = -1 };
	struct vhost_iommu_iommufd i = { .size = sizeof(i), .iommufd = -1 };
	struct vhost_iommu_endpoint e = {
		.size = sizeof(e),
		.flags = VHOST_IOMMU_ENDPOINT_F_REMOVE,
		.endpoint = ENDPOINT,
	};
	struct sweep sw = {
		.name = answer_names[by],
		.never_fails = by == BY_RESET_DEVICE || by == BY_RESET_OWNER,
	};
	unsigned long cmd = VHOST_IOMMU_RESET_DEVICE;
	bool unmaps = by == BY_DROP_IOMMUFD || by == BY_RESET_OWNER;
	struct vhost_iommu_stats st0, st1;
	long scratch, before;
	unsigned int waiting;
	void *arg = NULL;
	int ret, st;
	bool hit;
	__u32 grp;

	switch (by) {
	case BY_RESET_DEVICE:
		break;
	case BY_DETACH_QUEUE:
		cmd = VHOST_IOMMU_SET_FAULT_QUEUE;
		arg = &q;
		break;
	case BY_REMOVE_ENDPOINT:
		cmd = VHOST_IOMMU_SET_ENDPOINT;
		arg = &e;
		break;
	case BY_DROP_IOMMUFD:
		cmd = VHOST_IOMMU_SET_IOMMUFD;
		arg = &i;
		break;
	case BY_RESET_OWNER:
		cmd = VHOST_RESET_OWNER;
		break;
	}
	scratch = scratch_kib(_metadata, self);
	do {
		grp = outstanding_group(_metadata, self);
		ASSERT_EQ(0, vhi_get_stats(self->fd, &st0));
		before = vm_kib();
		ret = nth_ioctl(_metadata, self, &sw, self->fd, cmd, arg,
				&hit);
		/* Letting go of the iommufd unmaps the scratch area. */
		EXPECT_EQ(unmaps && !ret ? scratch : 0, before - vm_kib())
			TH_LOG("%s, point %u: VmSize %ld -> %ld KiB", sw.name,
			       sw.n, before, vm_kib());
		/* Fault queue errors; without an owner they cannot be read. */
		st1 = st0;
		if (by != BY_RESET_OWNER)
			ASSERT_EQ(0, vhi_get_stats(self->fd, &st1));
		/* A call that failed changed nothing: the guest answers. */
		st = ret ? send_resp(_metadata, self, grp) : VIRTIO_IOMMU_S_OK;
		EXPECT_EQ(VIRTIO_IOMMU_S_OK, st);
		waiting = leftovers(self);
		EXPECT_EQ(0u, waiting)
			TH_LOG("%s, point %u: group %u dropped, fault errors %llu -> %llu",
			       sw.name, sw.n, grp,
			       (unsigned long long)st0.out_fault_errors,
			       (unsigned long long)st1.out_fault_errors);
		sw.lost += waiting;
		if (ret)
			continue;
		switch (by) {
		case BY_RESET_DEVICE:
			rings_up(_metadata, self);
			break;
		case BY_DETACH_QUEUE:
			ASSERT_EQ(0, vhi_set_fault_queue(self->fd,
							 self->fault_fd));
			break;
		case BY_REMOVE_ENDPOINT:
			ASSERT_EQ(0, vhi_add_endpoint(self->fd, ENDPOINT,
						      self->w.idev_id,
						      VIRT_SID));
			break;
		case BY_DROP_IOMMUFD:
			ASSERT_EQ(0, vhi_set_iommufd(self->fd, self->w.fd));
			ASSERT_EQ(0, vhi_set_fault_queue(self->fd,
							 self->fault_fd));
			break;
		case BY_RESET_OWNER:
			ASSERT_EQ(0, vhi_set_owner(self->fd));
			dev_basic(_metadata, self);
			dev_iommu(_metadata, self);
			break;
		}
	} while (nth_next(_metadata, self, &sw, ret, hit));
	page_round_trip(_metadata, self);
}

TEST_F_TIMEOUT(fnth, ioctl_answer_outstanding, SWEEP_TIMEOUT)
{
	if (!self->have_nth)
		SKIP(return, NTH_SKIP_MSG);
	sweep_answers(_metadata, self, BY_RESET_DEVICE);
	sweep_answers(_metadata, self, BY_DETACH_QUEUE);
	sweep_answers(_metadata, self, BY_REMOVE_ENDPOINT);
	sweep_answers(_metadata, self, BY_DROP_IOMMUFD);
	sweep_answers(_metadata, self, BY_RESET_OWNER);
	slow_round_trip(_metadata, self);
}

/* ------------------------------------------------------------------ */
/* The module's fault attribute: the worker's failure points */

/**
 * struct wsweep - a workload swept over the module's failure points
 * @name: for messages
 * @space: the attribute's space: the space-th call fails
 * @points: runs in which the point was hit
 * @broken: runs that broke a queue
 * @error_status: requests answered with an error status
 * @invalid: page requests the device answered INVALID itself
 * @stuck: page requests neither delivered nor answered in time
 */
struct wsweep {
	const char *name;
	unsigned int space;
	unsigned int points;
	unsigned int broken;
	unsigned int error_status;
	unsigned int invalid;
	unsigned int stuck;
};

/*
 * Arms the attribute so that its @space-th call from now on fails (with
 * a size of 1, should_fail() lets calls pass while space is above 1:
 * space 0 and 1 both fail the first call).
 */
static void vfail_arm(struct __test_metadata *_metadata, unsigned int space)
{
	char num[16];

	snprintf(num, sizeof(num), "%u", space);
	ASSERT_EQ(0, write_file(VFAIL "times", "0"));
	ASSERT_EQ(0, write_file(VFAIL "space", num));
	ASSERT_EQ(0, write_file(VFAIL "interval", "1"));
	ASSERT_EQ(0, write_file(VFAIL "probability", "100"));
	ASSERT_EQ(0, write_file(VFAIL "times", "1"));
}

/*
 * Stops the device, so that no worker pass runs on, and disarms.
 * Returns true if the failure was injected.
 */
static bool vfail_settle(struct __test_metadata *_metadata,
			 struct _test_data_fnth *self)
{
	char times[16];

	set_running(_metadata, self, 0);
	ASSERT_EQ(0, read_file(VFAIL "times", times, sizeof(times)));
	ASSERT_EQ(0, write_file(VFAIL "probability", "0"));
	ASSERT_EQ(0, write_file(VFAIL "times", "0"));
	return !strcmp(times, "0");
}

static void wsweep_next(struct __test_metadata *_metadata,
			struct _test_data_fnth *self, struct wsweep *ws)
{
	ASSERT_GT(MAX_SPACE, ++ws->space)
		TH_LOG("%s still hits failure points after %u", ws->name,
		       ws->space);
}

static void wsweep_done(struct _test_data_fnth *self, struct wsweep *ws)
{
	ksft_print_msg("STAT worker=%s points=%u broken=%u error_status=%u invalid=%u stuck=%u\n",
		       ws->name, ws->points, ws->broken, ws->error_status,
		       ws->invalid, ws->stuck);
	self->points += ws->points;
}

/* ------------------------------------------------------------------ */
/* Worker: a batch of invalidations */

#define NR_INV	4u

/* A request of a workload and what became of it. */
struct wreq {
	struct vg_req req;
	__u32 hwpt;
	bool done;
	__u32 len;
};

/* Used entry @id with @len is one of @q's @n requests. */
static void wreq_used(struct __test_metadata *_metadata, struct wreq *q,
		      unsigned int n, __u32 id, __u32 len)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (q[i].done || q[i].req.head != id)
			continue;
		q[i].done = true;
		q[i].len = len;
		return;
	}
	EXPECT_TRUE(false) TH_LOG("used entry %u is no request's", id);
}

/*
 * Three INVALIDATEs of domain A (one batch, one IOMMU_HWPT_INVALIDATE)
 * and one of domain B (a call of its own), each for an IOTLB slot of its
 * own. A request answered S_OK invalidated its slot; one answered
 * S_NOMEM or S_DEVERR, or with used length 0, did not; a request without
 * a used entry is allowed only on a broken queue.
 */
TEST_F_TIMEOUT(fnth, worker_invalidations, SWEEP_TIMEOUT)
{
	struct wsweep ws = { .name = "invalidations" };
	struct virtio_iommu_req_invalidate r;
	struct wreq q[NR_INV];
	__u32 ha = 0, hb = 0, id, len;
	unsigned int i, nr_ok;
	bool hit, zero;
	int got, slot;
	__u8 st;

	if (!self->have_vfail)
		SKIP(return, VFAIL_SKIP_MSG);
	for (;;) {
		wsweep_next(_metadata, self, &ws);
		/* Fresh HWPTs: every slot at its default. */
		if (ha) {
			ASSERT_EQ(0, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
			ASSERT_EQ(0, vhi_unbind_domain(self->fd, DOM_B, 0, 0));
			ASSERT_EQ(0, imock_destroy(self->w.fd, ha));
			ASSERT_EQ(0, imock_destroy(self->w.fd, hb));
		}
		ha = new_nested(_metadata, self);
		hb = new_nested(_metadata, self);
		ASSERT_EQ(0, bind_to(self, DOM_A, ha));
		ASSERT_EQ(0, bind_to(self, DOM_B, hb));
		memset(q, 0, sizeof(q));
		for (i = 0; i < NR_INV; i++) {
			q[i].hwpt = i < NR_INV - 1 ? ha : hb;
			mk_inval_slot(&r, i < NR_INV - 1 ? DOM_A : DOM_B, i);
			ASSERT_EQ(0, vg_submit(&self->rq, &r, INVAL_IN, TAIL,
					       VG_SUBMIT_NO_PUBLISH,
					       &q[i].req));
		}

		vfail_arm(_metadata, ws.space);
		vg_publish(&self->rq);
		ASSERT_EQ(0, vg_kick(&self->rq));
		for (i = 0; i < NR_INV; i++) {
			got = next_used(&self->rq, &self->rq_broken,
					VG_TIMEOUT_MS, &id, &len);
			ASSERT_LE(0, got)
				TH_LOG("point %u: requests not completed and the queue not broken",
				       ws.space);
			if (!got)
				break;
			wreq_used(_metadata, q, NR_INV, id, len);
		}
		hit = vfail_settle(_metadata, self);
		/* Entries published after the err eventfd was signalled. */
		while (!vg_wait_used(&self->rq, 0, &id, &len))
			wreq_used(_metadata, q, NR_INV, id, len);
		err_seen(&self->rq, &self->rq_broken);

		nr_ok = 0;
		for (i = 0; i < NR_INV; i++) {
			slot = i;
			zero = !imock_check_iotlb(self->w.fd, q[i].hwpt, slot,
						  0);
			if (!q[i].done || !q[i].len) {
				EXPECT_TRUE(self->rq_broken)
					TH_LOG("point %u: request %u %s, queue not broken",
					       ws.space, i,
					       q[i].done ? "used length 0" :
							   "not completed");
				/* Used length 0: it was not carried out. */
				EXPECT_FALSE(q[i].done && zero)
					TH_LOG("point %u: request %u invalidated, used length 0",
					       ws.space, i);
				continue;
			}
			EXPECT_EQ(TAIL, q[i].len);
			st = req_status(&self->rq, &q[i].req);
			if (st == VIRTIO_IOMMU_S_OK) {
				nr_ok++;
				EXPECT_TRUE(zero)
					TH_LOG("point %u: request %u S_OK, slot kept",
					       ws.space, i);
				continue;
			}
			ws.error_status++;
			EXPECT_TRUE(st == VIRTIO_IOMMU_S_NOMEM ||
				    st == VIRTIO_IOMMU_S_DEVERR)
				TH_LOG("point %u: request %u answered %s",
				       ws.space, i, vhi_status_name(st));
			EXPECT_FALSE(zero)
				TH_LOG("point %u: request %u answered %s, slot invalidated",
				       ws.space, i, vhi_status_name(st));
			EXPECT_TRUE(hit);
		}
		if (self->rq_broken) {
			EXPECT_TRUE(hit);
			ws.broken++;
			recover_broken(_metadata, self);
		}
		set_running(_metadata, self, 1);
		if (!hit) {
			EXPECT_EQ(NR_INV, nr_ok);
			break;
		}
		ws.points++;
		inval_round_trip(_metadata, self);
	}
	wsweep_done(self, &ws);
	/* The sweep reached iommufd's call and a ring access. */
	EXPECT_LT(0u, ws.error_status);
	EXPECT_LT(0u, ws.broken);
	inval_round_trip(_metadata, self);
}

/* ------------------------------------------------------------------ */
/* Worker: slow-path requests served by the VMM */

/*
 * A PROBE (answered with a property) and an ATTACH behind it. Either is
 * answered as the VMM said, or the queue broke and the request has used
 * length 0 or no used entry; the ATTACH is answered only after the PROBE.
 */
TEST_F_TIMEOUT(fnth, worker_slow_path, SWEEP_TIMEOUT)
{
	struct wsweep ws = { .name = "slow_path" };
	struct virtio_iommu_probe_resv_mem prop;
	struct virtio_iommu_req_attach a;
	struct virtio_iommu_req_probe p;
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];
	/* The PROBE, then the ATTACH. */
	struct wreq q[2];
	unsigned int k, served;
	__u32 id, len;
	bool hit;
	int got;

	if (!self->have_vfail)
		SKIP(return, VFAIL_SKIP_MSG);
	mk_prop(&prop);
	mk_probe(&p, ENDPOINT);
	mk_attach(&a, DOM_A, ENDPOINT);
	for (;;) {
		wsweep_next(_metadata, self, &ws);
		memset(q, 0, sizeof(q));
		ASSERT_EQ(0, vg_submit(&self->rq, &p, PROBE_IN, PROBE_OUT,
				       VG_SUBMIT_NO_PUBLISH, &q[0].req));
		ASSERT_EQ(0, vg_submit(&self->rq, &a, ATTACH_IN, TAIL,
				       VG_SUBMIT_NO_PUBLISH, &q[1].req));
		vfail_arm(_metadata, ws.space);
		vg_publish(&self->rq);
		ASSERT_EQ(0, vg_kick(&self->rq));

		/* The VMM serves what it gets, in ring order. */
		for (served = 0; served < 2; served++) {
			if (!wait_vmm_request(_metadata, self, &r, buf))
				break;
			ASSERT_EQ((__u32)(served ? VIRTIO_IOMMU_T_ATTACH :
						   VIRTIO_IOMMU_T_PROBE),
				  r.out_type);
			ASSERT_EQ(0, vhi_complete_request(self->fd,
							  r.out_cookie,
							  VIRTIO_IOMMU_S_OK,
							  served ? NULL : &prop,
							  served ? 0 :
							  sizeof(prop)));
		}
		for (k = 0; k < 2; k++) {
			got = next_used(&self->rq, &self->rq_broken,
					VG_TIMEOUT_MS, &id, &len);
			ASSERT_LE(0, got)
				TH_LOG("point %u: requests not completed and the queue not broken",
				       ws.space);
			if (!got)
				break;
			wreq_used(_metadata, q, 2, id, len);
			/* In ring order: the ATTACH only after the PROBE. */
			EXPECT_TRUE(q[0].done);
		}
		hit = vfail_settle(_metadata, self);
		while (!vg_wait_used(&self->rq, 0, &id, &len))
			wreq_used(_metadata, q, 2, id, len);
		err_seen(&self->rq, &self->rq_broken);
		EXPECT_EQ(-EAGAIN, get_request_now(self));

		/* Answered as the VMM said, or not at all on a broken queue. */
		if (q[0].len == PROBE_OUT)
			expect_answer(_metadata, self, &q[0].req, &prop,
				      ws.space);
		if (q[1].len == TAIL)
			expect_answer(_metadata, self, &q[1].req, NULL,
				      ws.space);
		EXPECT_TRUE(q[0].len == PROBE_OUT ||
			    (self->rq_broken && !q[0].len))
			TH_LOG("point %u: PROBE done %d, used length %u",
			       ws.space, q[0].done, q[0].len);
		EXPECT_TRUE(q[1].len == TAIL || (self->rq_broken && !q[1].len))
			TH_LOG("point %u: ATTACH done %d, used length %u",
			       ws.space, q[1].done, q[1].len);
		if (self->rq_broken) {
			EXPECT_TRUE(hit);
			ws.broken++;
			recover_broken(_metadata, self);
		}
		set_running(_metadata, self, 1);
		if (!hit) {
			EXPECT_TRUE(q[0].done && q[1].done);
			break;
		}
		ws.points++;
		slow_round_trip(_metadata, self);
	}
	wsweep_done(self, &ws);
	EXPECT_LT(0u, ws.broken);
	slow_round_trip(_metadata, self);
}

/* ------------------------------------------------------------------ */
/* Worker: page requests and the guest's responses */

enum pr_outcome {
	PR_DELIVERED,	/* an event buffer was used */
	PR_BROKEN,	/* the event queue broke */
	PR_ANSWERED,	/* the device answered it INVALID */
	PR_STUCK,	/* none of these in time */
};

/* What became of the page request just triggered. */
static enum pr_outcome page_req_outcome(struct __test_metadata *_metadata,
					struct _test_data_fnth *self,
					__u64 invalid_before, __u32 *id,
					__u32 *len)
{
	__s64 end = now_ms() + PAGE_REQ_MS;
	struct vhost_iommu_stats st;

	for (;;) {
		if (vg_used_idx(&self->eq) != self->eq.last_used) {
			ASSERT_EQ(0, vg_wait_used(&self->eq, 0, id, len));
			return PR_DELIVERED;
		}
		if (err_seen(&self->eq, &self->eq_broken))
			return PR_BROKEN;
		ASSERT_EQ(0, vhi_get_stats(self->fd, &st));
		if (st.out_page_req_invalid > invalid_before)
			return PR_ANSWERED;
		if (now_ms() >= end)
			return PR_STUCK;
		usleep(500);
	}
}

/* Still queued in iommufd for the device to read? */
static bool fault_queued(struct _test_data_fnth *self)
{
	struct pollfd p = { .fd = self->fault_fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/*
 * The mock device issues a page request; the guest answers what reaches
 * it with PAGE_RESP (again after S_DEVERR, which keeps the group). Each
 * group is delivered or answered INVALID by the device (a broken event
 * queue), and in the end iommufd waits for no answer. A group the device
 * failed to read must still be read: the device may not wait for the
 * next page request to look at its fault queue again.
 */
TEST_F_TIMEOUT(fnth, worker_page_requests, SWEEP_TIMEOUT)
{
	struct wsweep ws = { .name = "page_requests" };
	struct vhost_iommu_stats before, after;
	enum pr_outcome out;
	bool hit, resend, reset;
	unsigned int waiting;
	__u32 id, len, grp;
	int st;

	if (!self->have_vfail)
		SKIP(return, VFAIL_SKIP_MSG);
	for (;;) {
		wsweep_next(_metadata, self, &ws);
		post_events(_metadata, self, 1);
		ASSERT_EQ(0, vhi_get_stats(self->fd, &before));
		vfail_arm(_metadata, ws.space);
		grp = trigger(_metadata, self);
		out = page_req_outcome(_metadata, self,
				       before.out_page_req_invalid, &id, &len);
		resend = false;
		if (out == PR_STUCK) {
			ASSERT_EQ(0, vhi_get_stats(self->fd, &after));
			ws.stuck++;
			EXPECT_TRUE(out != PR_STUCK)
				TH_LOG("point %u: page request %u lost for %d ms",
				       ws.space, grp, PAGE_REQ_MS);
			TH_LOG("fault errors %llu -> %llu, queued in iommufd: %s",
			       (unsigned long long)before.out_fault_errors,
			       (unsigned long long)after.out_fault_errors,
			       fault_queued(self) ? "yes" : "no");
		} else if (out == PR_DELIVERED && len == EV_SIZE) {
			expect_event(_metadata, self, id, grp);
			st = send_resp(_metadata, self, grp);
			if (st == VIRTIO_IOMMU_S_DEVERR) {
				/* iommufd did not take it: the group waits. */
				ws.error_status++;
				st = send_resp(_metadata, self, grp);
			}
			/* The queue broke: answered again once it works. */
			resend = st < 0;
			EXPECT_TRUE(st < 0 || st == VIRTIO_IOMMU_S_OK)
				TH_LOG("point %u: PAGE_RESP answered %s",
				       ws.space, vhi_status_name(st));
		} else if (out == PR_DELIVERED) {
			EXPECT_EQ(0u, len);
		}
		hit = vfail_settle(_metadata, self);
		err_seen(&self->rq, &self->rq_broken);
		err_seen(&self->eq, &self->eq_broken);
		ASSERT_EQ(0, vhi_get_stats(self->fd, &after));
		if (out == PR_BROKEN || out == PR_ANSWERED ||
		    (out == PR_DELIVERED && len != EV_SIZE)) {
			/* Not all of it reached the guest: answered INVALID. */
			EXPECT_TRUE(self->eq_broken);
			EXPECT_EQ(before.out_page_req_invalid + 1,
				  after.out_page_req_invalid);
			ws.invalid++;
		}
		reset = false;
		if (self->rq_broken || self->eq_broken) {
			EXPECT_TRUE(hit);
			ws.broken++;
			reset = recover_broken(_metadata, self);
		}
		set_running(_metadata, self, 1);
		if (out == PR_STUCK && !reset) {
			/* Running again makes the device read: now it comes. */
			post_events(_metadata, self, 1);
			ASSERT_EQ(1, next_used(&self->eq, &self->eq_broken,
					       VG_TIMEOUT_MS, &id, &len));
			ASSERT_EQ(EV_SIZE, len);
			expect_event(_metadata, self, id, grp);
			resend = true;
		}
		/*
		 * After a reset the group was answered with the rest. A
		 * response iommufd took before its completion failed is not
		 * outstanding any more (S_INVAL); the probe below sees one
		 * that was lost.
		 */
		st = resend && !reset ? send_resp(_metadata, self, grp) :
					VIRTIO_IOMMU_S_OK;
		EXPECT_TRUE(st == VIRTIO_IOMMU_S_OK || st == VIRTIO_IOMMU_S_INVAL)
			TH_LOG("point %u: PAGE_RESP again answered %d",
			       ws.space, st);
		waiting = leftovers(self);
		EXPECT_EQ(0u, waiting)
			TH_LOG("point %u: iommufd still waits for %u groups",
			       ws.space, waiting);
		if (!hit) {
			EXPECT_TRUE(out == PR_DELIVERED);
			EXPECT_EQ(before.out_page_resps + 1,
				  after.out_page_resps);
			break;
		}
		ws.points++;
		page_round_trip(_metadata, self);
	}
	wsweep_done(self, &ws);
	EXPECT_LT(0u, ws.broken);
	EXPECT_LT(0u, ws.invalid);
	page_round_trip(_metadata, self);
}

/* ------------------------------------------------------------------ */
/* Worker: page requests the guest cannot take */

/*
 * A guest whose event buffers hold only the 24-byte fault report cannot
 * take page requests: the device answers each group INVALID itself and
 * leaves the buffer to the guest. Whatever fails, the group is answered,
 * and iommufd waits for nothing.
 */
TEST_F_TIMEOUT(fnth, worker_page_requests_refused, SWEEP_TIMEOUT)
{
	struct wsweep ws = { .name = "page_requests_refused" };
	struct vhost_iommu_stats before, after;
	unsigned int waiting;
	enum pr_outcome out;
	__u32 id, len, grp;
	bool hit, unread;
	struct vg_req ev;
	__s64 end;

	if (!self->have_vfail)
		SKIP(return, VFAIL_SKIP_MSG);
	ASSERT_EQ(0, vg_post_writable(&self->eq, OLD_EV_SIZE, 0, &ev));
	for (;;) {
		wsweep_next(_metadata, self, &ws);
		ASSERT_EQ(0, vhi_get_stats(self->fd, &before));
		vfail_arm(_metadata, ws.space);
		grp = trigger(_metadata, self);
		out = page_req_outcome(_metadata, self,
				       before.out_page_req_invalid, &id, &len);
		hit = vfail_settle(_metadata, self);
		err_seen(&self->eq, &self->eq_broken);
		ASSERT_EQ(0, vhi_get_stats(self->fd, &after));
		EXPECT_TRUE(out != PR_DELIVERED)
			TH_LOG("point %u: a %u-byte event buffer was used",
			       ws.space, OLD_EV_SIZE);
		unread = out == PR_STUCK && fault_queued(self);
		if (out == PR_STUCK) {
			ws.stuck++;
			EXPECT_TRUE(out != PR_STUCK)
				TH_LOG("point %u: page request %u not answered in %d ms",
				       ws.space, grp, PAGE_REQ_MS);
			TH_LOG("fault errors %llu -> %llu; %s",
			       (unsigned long long)before.out_fault_errors,
			       (unsigned long long)after.out_fault_errors,
			       unread ? "still queued in iommufd, unread" :
					"read, its answer not written");
		} else {
			ws.invalid++;
			EXPECT_EQ(before.out_page_req_invalid + 1,
				  after.out_page_req_invalid);
		}
		if (self->eq_broken) {
			EXPECT_TRUE(hit);
			ws.broken++;
			recover_broken(_metadata, self);
			/* The short buffer went with the broken queue. */
			ASSERT_EQ(0, vg_post_writable(&self->eq, OLD_EV_SIZE,
						      0, &ev));
		}
		set_running(_metadata, self, 1);
		/* Running again, the device reads its fault queue. */
		end = now_ms() + VG_TIMEOUT_MS;
		while (unread && after.out_page_req_invalid ==
				 before.out_page_req_invalid &&
		       now_ms() < end) {
			usleep(1000);
			ASSERT_EQ(0, vhi_get_stats(self->fd, &after));
		}
		waiting = leftovers(self);
		EXPECT_EQ(0u, waiting)
			TH_LOG("point %u: iommufd still waits for group %u",
			       ws.space, grp);
		if (!hit) {
			EXPECT_TRUE(out == PR_ANSWERED);
			break;
		}
		ws.points++;
	}
	wsweep_done(self, &ws);
	EXPECT_LT(0u, ws.broken);
}

/* ------------------------------------------------------------------ */
/* Worker: a group larger than one read, from the fake fault queue */

static int fake_op(struct _test_data_fnth *self, __u32 op, void *ptr,
		   __u32 *nr)
{
	struct vhost_iommu_test_op o = {
		.size = sizeof(o),
		.op = op,
		.nr = nr ? *nr : 0,
		.uptr = (uintptr_t)ptr,
	};

	if (ioctl(self->fd, VHOST_IOMMU_TEST, &o))
		return -errno;
	if (nr)
		*nr = o.nr;
	return 0;
}

/* The fake queue's answer for @cookie among the @n in @r, or -1. */
static int answer_of(const struct iommu_hwpt_page_response *r,
		     unsigned int n, __u32 cookie)
{
	unsigned int i;
	int code = -1;

	for (i = 0; i < n; i++) {
		if (r[i].cookie != cookie)
			continue;
		/* Twice is as wrong as never. */
		if (code >= 0)
			return -2;
		code = r[i].code;
	}
	return code;
}

/* Takes the fake queue's answers until both cookies have one. */
static unsigned int fake_answers(struct __test_metadata *_metadata,
				 struct _test_data_fnth *self,
				 struct iommu_hwpt_page_response *r,
				 unsigned int max, __u32 a, __u32 b)
{
	__s64 end = now_ms() + PAGE_REQ_MS;
	unsigned int n = 0;
	__u32 nr;

	for (;;) {
		nr = max - n;
		ASSERT_EQ(0, fake_op(self, VHOST_IOMMU_TEST_FAKE_RESPONSES,
				     r + n, &nr));
		n += nr;
		if ((answer_of(r, n, a) >= 0 && answer_of(r, n, b) >= 0) ||
		    n == max || now_ms() >= end)
			return n;
		usleep(1000);
	}
}

/*
 * A group of BIG_GROUP records (larger than a read of the fault queue,
 * and than the backlog: answered INVALID) then one of a single record,
 * which reaches the guest and gets its PAGE_RESP. Whatever fails, each
 * group is answered exactly once, and the small one is not held up.
 */
TEST_F_TIMEOUT(fnth, worker_big_group, SWEEP_TIMEOUT)
{
	static struct iommu_hwpt_pgfault pf[BIG_GROUP + 1];
	struct wsweep ws = { .name = "big_group" };
	struct iommu_hwpt_page_response ans[8];
	struct vhost_iommu_stats before, after;
	__u32 id, len, nr, big, small, grp;
	bool hit, resend, reset, stuck;
	unsigned int i, n;
	__u32 cookie = 1;
	int ret, got, st;

	if (!self->have_vfail)
		SKIP(return, VFAIL_SKIP_MSG);
	ret = fake_op(self, VHOST_IOMMU_TEST_FAKE_ATTACH, NULL, NULL);
	if (ret == -ENOTTY || ret == -EOPNOTSUPP)
		SKIP(return, "no VHOST_IOMMU_TEST fake fault queue");
	ASSERT_EQ(0, ret);
	for (;;) {
		wsweep_next(_metadata, self, &ws);
		big = cookie++;
		small = cookie++;
		grp = self->grpid++;
		for (i = 0; i <= BIG_GROUP; i++) {
			pf[i] = (struct iommu_hwpt_pgfault) {
				.flags = IOMMU_PGFAULT_FLAGS_PASID_VALID,
				.dev_id = self->w.idev_id,
				.pasid = PASID,
				.grpid = i < BIG_GROUP ? grp + 1 : grp,
				.perm = IOMMU_PGFAULT_PERM_READ,
				.addr = i < BIG_GROUP ? ADDR + i * 4096ULL : ADDR,
				.cookie = i < BIG_GROUP ? big : small,
			};
		}
		pf[BIG_GROUP - 1].flags |= IOMMU_PGFAULT_FLAGS_LAST_PAGE;
		pf[BIG_GROUP].flags |= IOMMU_PGFAULT_FLAGS_LAST_PAGE;
		self->grpid++;
		post_events(_metadata, self, 1);
		ASSERT_EQ(0, vhi_get_stats(self->fd, &before));

		vfail_arm(_metadata, ws.space);
		nr = ARRAY_SIZE(pf);
		ASSERT_EQ(0, fake_op(self, VHOST_IOMMU_TEST_FAKE_INJECT, pf,
				     &nr));
		/* The small group reaches the guest, or the queue broke. */
		got = next_used(&self->eq, &self->eq_broken, PAGE_REQ_MS, &id,
				&len);
		resend = false;
		if (got == 1 && len == EV_SIZE) {
			expect_event(_metadata, self, id, grp);
			st = send_resp(_metadata, self, grp);
			if (st == VIRTIO_IOMMU_S_DEVERR) {
				ws.error_status++;
				st = send_resp(_metadata, self, grp);
			}
			resend = st < 0;
			EXPECT_TRUE(st < 0 || st == VIRTIO_IOMMU_S_OK);
		}
		hit = vfail_settle(_metadata, self);
		err_seen(&self->rq, &self->rq_broken);
		err_seen(&self->eq, &self->eq_broken);
		ASSERT_EQ(0, vhi_get_stats(self->fd, &after));
		stuck = got < 0;
		if (stuck) {
			ws.stuck++;
			EXPECT_FALSE(stuck)
				TH_LOG("point %u: page request %u not delivered in %d ms",
				       ws.space, grp, PAGE_REQ_MS);
			TH_LOG("fault errors %llu -> %llu",
			       (unsigned long long)before.out_fault_errors,
			       (unsigned long long)after.out_fault_errors);
		}
		reset = false;
		if (self->rq_broken || self->eq_broken) {
			EXPECT_TRUE(hit);
			ws.broken++;
			reset = recover_broken(_metadata, self);
		}
		set_running(_metadata, self, 1);
		if (stuck && !reset) {
			/* Running again, the device reads: now it comes. */
			post_events(_metadata, self, 1);
			ASSERT_EQ(1, next_used(&self->eq, &self->eq_broken,
					       VG_TIMEOUT_MS, &id, &len));
			ASSERT_EQ(EV_SIZE, len);
			expect_event(_metadata, self, id, grp);
			resend = true;
		}
		st = resend && !reset ? send_resp(_metadata, self, grp) :
					VIRTIO_IOMMU_S_OK;
		EXPECT_TRUE(st == VIRTIO_IOMMU_S_OK || st == VIRTIO_IOMMU_S_INVAL);

		n = fake_answers(_metadata, self, ans, ARRAY_SIZE(ans), big,
				 small);
		EXPECT_EQ(IOMMUFD_PAGE_RESP_INVALID, answer_of(ans, n, big))
			TH_LOG("point %u: %u-record group: answer %d (-1 none, -2 two)",
			       ws.space, BIG_GROUP, answer_of(ans, n, big));
		EXPECT_LE(0, answer_of(ans, n, small))
			TH_LOG("point %u: small group: answer %d (-1 none, -2 two)",
			       ws.space, answer_of(ans, n, small));
		if (!hit) {
			EXPECT_EQ(IOMMUFD_PAGE_RESP_SUCCESS,
				  answer_of(ans, n, small));
			break;
		}
		ws.points++;
	}
	wsweep_done(self, &ws);
	EXPECT_LT(0u, ws.broken);
}

TEST_HARNESS_MAIN
