// SPDX-License-Identifier: GPL-2.0-only
/*
 * kselftest suite "invalidate": the guest's INVALIDATE requests served in
 * the kernel. The VMM side (VHOST_IOMMU_SET_IOMMUFD, _SET_ENDPOINT,
 * _BIND_DOMAIN) and the translation into IOMMU_HWPT_INVALIDATE, checked
 * on a real iommufd with the selftest mock driver (CONFIG_IOMMUFD_TEST):
 * a mock nested HWPT has four IOTLB slots that an invalidation zeroes, so
 * the tests can see which invalidations reached which HWPT.
 *
 * The device is set up as in the "device" suite; the mock world of
 * tools/lib/iommufd_mock.h is handed to it with SET_IOMMUFD.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "iommufd_mock.h"
#include "vhost_iommu_vmm.h"
#include "viommu_guest.h"

/* The device and guest of the "device" suite. */
#define GUEST_BASE	0x40000000ULL
#define GUEST_SIZE	(12ULL << 20)
#define GUEST_REGIONS	3
#define RQ_NUM		1024
#define EQ_NUM		64
#define PROBE_SIZE	512
#define DOM_FIRST	1
#define DOM_LAST	1023
#define INPUT_FIRST	0x10000ULL
#define INPUT_LAST	((1ULL << 40) - 1)
#define QUIET_MS	200
#define ALL_FEATURES	VHI_FEATURES_OFFERED

/* What the tests bind: a 4 GiB input range of 4 KiB pages. */
#define BIND_START	0x100000000ULL
#define BIND_END	0x1ffffffffULL
#define BIND_GRANULE	12
/* An address inside it, for ADDRESS-scope requests. */
#define IN_RANGE	(BIND_START + 0x100000)

#define DOM_A		1
#define DOM_B		2
#define DOM_UNBOUND	5
#define PASID_P		5
#define ENDPOINT	8
#define VIRT_SID	0x10

#define INVAL_IN	offsetof(struct virtio_iommu_req_invalidate, tail)
#define INVAL_OUT	((__u32)sizeof(struct virtio_iommu_req_tail))

/* Masks of zeroed slots for expect_slots(). */
#define SLOT(k)		(1u << (k))
#define NO_SLOTS	0u
#define ALL_SLOTS	0xfu

#define FBIT(b)		(1ULL << (b))
#define BACKEND_PERSIST	FBIT(VHOST_IOMMU_BACKEND_F_PERSIST)

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/*
 * Helpers take the fixture data as struct _test_data_inval, which is what
 * FIXTURE_DATA(inval) expands to, spelled so checkpatch sees a type.
 */
FIXTURE(inval) {
	int fd;
	struct vhost_iommu_config cfg;
	struct vg_mem mem;
	struct vg_vq rq;
	struct vg_vq eq;
	struct imock_world w;
};

static void fixture_config(struct vhost_iommu_config *cfg)
{
	vhi_config_default(cfg);
	cfg->page_size_mask = 0x1000 | 0x200000;
	cfg->input_start = INPUT_FIRST;
	cfg->input_end = INPUT_LAST;
	cfg->domain_start = DOM_FIRST;
	cfg->domain_end = DOM_LAST;
	cfg->probe_size = PROBE_SIZE;
}

/* Features and both rings from scratch, as a driver does after a reset. */
static void rings_up(struct __test_metadata *_metadata,
		     struct _test_data_inval *self)
{
	ASSERT_EQ(0, vg_rings_up(self->fd, &self->rq, &self->eq,
				 ALL_FEATURES));
}

FIXTURE_SETUP(inval)
{
	int ret;

	self->fd = -1;
	self->w.fd = -1;
	ASSERT_EQ(0, vg_mem_init(&self->mem, GUEST_BASE, GUEST_SIZE,
				 GUEST_REGIONS));
	ASSERT_EQ(0, vg_vq_init(&self->rq, &self->mem, RQ_NUM));
	ASSERT_EQ(0, vg_vq_init(&self->eq, &self->mem, EQ_NUM));
	fixture_config(&self->cfg);
	self->fd = vg_device_open(&self->mem, &self->cfg);
	ASSERT_LE(0, self->fd);
	rings_up(_metadata, self);

	ret = imock_world_init(&self->w);
	if (ret == -ENOENT)
		SKIP(return, "no " IMOCK_DEV_PATH ": kernel without iommufd");
	ASSERT_EQ(0, ret)
		TH_LOG("mock world: %s (CONFIG_IOMMUFD_TEST?)", strerror(-ret));
	ASSERT_EQ(0, vhi_set_iommufd(self->fd, self->w.fd));
}

FIXTURE_TEARDOWN(inval)
{
	/* The device first: it holds its own reference on the iommufd. */
	if (self->fd >= 0)
		close(self->fd);
	self->fd = -1;
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
/* Requests */

/* One page with architecture ID @id: the mock's IOTLB slot @id. */
static void mk_inval_slot(struct virtio_iommu_req_invalidate *r,
			  __u32 domain, __u64 id)
{
	vg_inval_range(r, domain, VIRTIO_IOMMU_INVAL_F_ID, IN_RANGE, 1, 12);
	r->id = htole64(id);
}

static void set_pasid(struct virtio_iommu_req_invalidate *r, __u32 pasid)
{
	r->flags = htole16(le16toh(r->flags) | VIRTIO_IOMMU_INVAL_F_PASID);
	r->pasid = htole32(pasid);
}

static __u8 req_status(struct _test_data_inval *self, const struct vg_req *req)
{
	__u8 st = 0xff;

	vg_req_status(&self->rq, req, &st);
	return st;
}

/* Queues @r without publishing it. */
static void queue_inval(struct __test_metadata *_metadata,
			struct _test_data_inval *self,
			const struct virtio_iommu_req_invalidate *r,
			struct vg_req *req)
{
	ASSERT_EQ(0, vg_submit(&self->rq, r, INVAL_IN, INVAL_OUT,
			       VG_SUBMIT_NO_PUBLISH, req));
}

static void publish_kick(struct __test_metadata *_metadata,
			 struct _test_data_inval *self)
{
	vg_publish(&self->rq);
	ASSERT_EQ(0, vg_kick(&self->rq));
}

/* The next used entry must be @req's, with the whole writable size. */
static __u8 wait_done(struct __test_metadata *_metadata,
		      struct _test_data_inval *self, const struct vg_req *req)
{
	__u32 id = ~0u, len = 0;

	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len))
		TH_LOG("no used entry within %d ms", VG_TIMEOUT_MS);
	EXPECT_EQ(req->head, id);
	EXPECT_EQ(INVAL_OUT, len);
	return req_status(self, req);
}

/* Sends @r alone and returns its status. */
static __u8 send_inval(struct __test_metadata *_metadata,
		       struct _test_data_inval *self,
		       const struct virtio_iommu_req_invalidate *r)
{
	struct vg_req req;

	ASSERT_EQ(0, vg_submit(&self->rq, r, INVAL_IN, INVAL_OUT, 0, &req));
	return wait_done(_metadata, self, &req);
}

static void check_status(struct __test_metadata *_metadata, __u8 want,
			 __u8 got, const char *what)
{
	EXPECT_EQ(want, got)
		TH_LOG("%s: status %s, expected %s", what,
		       vhi_status_name(got), vhi_status_name(want));
}

/* Sends @r and expects @want. */
static void expect_inval(struct __test_metadata *_metadata,
			 struct _test_data_inval *self,
			 const struct virtio_iommu_req_invalidate *r, __u8 want,
			 const char *what)
{
	check_status(_metadata, want, send_inval(_metadata, self, r), what);
}

/* ------------------------------------------------------------------ */
/* The mock's view */

static const char *slots_str(struct _test_data_inval *self, __u32 hwpt,
			     char *buf, size_t len)
{
	__u32 s[IMOCK_IOTLB_NUM];
	int ret;

	ret = imock_read_iotlbs(self->w.fd, hwpt, s);
	if (ret)
		snprintf(buf, len, "(unreadable: %s)", strerror(-ret));
	else
		snprintf(buf, len, "[%#x %#x %#x %#x]", s[0], s[1], s[2], s[3]);
	return buf;
}

/*
 * The slots of @hwpt whose bit is set in @zeroed hold 0, the others the
 * value the HWPT was allocated with.
 */
static void expect_slots(struct __test_metadata *_metadata,
			 struct _test_data_inval *self, __u32 hwpt,
			 unsigned int zeroed, const char *what)
{
	char buf[80];
	unsigned int i;
	__u32 want;

	for (i = 0; i < IMOCK_IOTLB_NUM; i++) {
		want = zeroed & SLOT(i) ? 0 : IMOCK_IOTLB_DEFAULT;
		EXPECT_EQ(0, imock_check_iotlb(self->w.fd, hwpt, i, want))
			TH_LOG("%s: HWPT %u slot %u should be %#x; slots %s",
			       what, hwpt, i, want,
			       slots_str(self, hwpt, buf, sizeof(buf)));
	}
}

/* Another nested SELFTEST HWPT on the world's parent. */
static __u32 new_nested(struct __test_metadata *_metadata,
			struct _test_data_inval *self)
{
	__u32 id = 0;

	ASSERT_EQ(0, imock_hwpt_alloc_nested(self->w.fd, self->w.idev_id,
					     self->w.parent_id, 0, &id));
	return id;
}

static void get_stats(struct __test_metadata *_metadata,
		      struct _test_data_inval *self,
		      struct vhost_iommu_stats *st)
{
	ASSERT_EQ(0, vhi_get_stats(self->fd, st));
}

/* ------------------------------------------------------------------ */
/* Bindings */

static void bind_init(struct vhost_iommu_bind *b, __u32 domain,
		      __u32 object_id)
{
	memset(b, 0, sizeof(*b));
	b->size = sizeof(*b);
	b->domain = domain;
	b->object_id = object_id;
	b->format = VHOST_IOMMU_INV_FORMAT_SELFTEST;
	b->input_start = BIND_START;
	b->input_end = BIND_END;
	b->granule_log2 = BIND_GRANULE;
}

static int bind_to(struct _test_data_inval *self, __u32 domain, __u32 hwpt)
{
	struct vhost_iommu_bind b;

	bind_init(&b, domain, hwpt);
	return vhi_bind_domain(self->fd, &b);
}

static int bind_pasid_to(struct _test_data_inval *self, __u32 domain,
			 __u32 pasid, __u32 hwpt)
{
	struct vhost_iommu_bind b;

	bind_init(&b, domain, hwpt);
	b.flags = VHOST_IOMMU_BIND_F_PASID;
	b.pasid = pasid;
	return vhi_bind_domain(self->fd, &b);
}

/* ------------------------------------------------------------------ */
/* The mock itself, without the device */

TEST_F(inval, mock_direct_invalidate_zeroes_chosen_slot)
{
	struct imock_invalidate_selftest e[2] = {
		{ .iotlb_id = 1 },
		{ .iotlb_id = 4 },
	};
	__u32 done = 99;

	/* What the device's SELFTEST translation builds on. */
	expect_slots(_metadata, self, self->w.nested_id, NO_SLOTS, "fresh");
	EXPECT_EQ(-EINVAL, imock_hwpt_invalidate(self->w.fd,
						 self->w.nested_id, e, 2,
						 &done));
	EXPECT_EQ(1u, done);
	expect_slots(_metadata, self, self->w.nested_id, SLOT(1),
		     "after {1, 4}");
	EXPECT_EQ(-ENOENT, imock_check_iotlb(self->w.fd, self->w.ioas_id, 0,
					     0));
}

/* ------------------------------------------------------------------ */
/* VHOST_IOMMU_SET_IOMMUFD */

TEST_F(inval, set_iommufd_not_iommufd_einval)
{
	int efd, other;

	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	EXPECT_EQ(-EINVAL, vhi_set_iommufd(self->fd, efd));
	close(efd);
	/* Not even another vhost-iommu file. */
	other = vhi_open();
	ASSERT_LE(0, other);
	EXPECT_EQ(-EINVAL, vhi_set_iommufd(self->fd, other));
	close(other);
}

TEST_F(inval, set_iommufd_closed_fd_ebadf)
{
	int efd;

	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, close(efd));
	EXPECT_EQ(-EBADF, vhi_set_iommufd(self->fd, efd));
}

TEST_F(inval, set_iommufd_minus_one_drops_bindings)
{
	struct virtio_iommu_req_invalidate r;

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	mk_inval_slot(&r, DOM_A, 0);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "bound");
	ASSERT_EQ(0, vhi_set_iommufd(self->fd, -1));

	mk_inval_slot(&r, DOM_A, 1);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_NOENT, "let go");
	expect_slots(_metadata, self, self->w.nested_id, SLOT(0), "let go");
	EXPECT_EQ(-ENOENT, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
	/* No iommufd any more. */
	EXPECT_EQ(-EINVAL, bind_to(self, DOM_A, self->w.nested_id));
}

TEST_F(inval, set_iommufd_replace_drops_bindings)
{
	struct virtio_iommu_req_invalidate r;
	struct imock_world w2;

	ASSERT_EQ(0, imock_world_init(&w2));
	/* The same objects in the same order: the same IDs. */
	EXPECT_EQ(self->w.nested_id, w2.nested_id);
	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	ASSERT_EQ(0, vhi_set_iommufd(self->fd, w2.fd));

	/* An old binding would now name w2's HWPT of the same ID. */
	vg_inval_domain(&r, DOM_A);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_NOENT, "replaced");
	EXPECT_EQ(0, imock_check_iotlb(w2.fd, w2.nested_id, 0,
				       IMOCK_IOTLB_DEFAULT));
	expect_slots(_metadata, self, self->w.nested_id, NO_SLOTS, "old");

	/* The new iommufd works. */
	ASSERT_EQ(0, bind_to(self, DOM_A, w2.nested_id));
	mk_inval_slot(&r, DOM_A, 3);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "new");
	EXPECT_EQ(0, imock_check_iotlb(w2.fd, w2.nested_id, 3, 0));
	EXPECT_EQ(0, imock_check_iotlb(w2.fd, w2.nested_id, 2,
				       IMOCK_IOTLB_DEFAULT));
	imock_world_destroy(&w2);
}

/* ------------------------------------------------------------------ */
/* The extensible structs of the new ioctls */

enum ext_kind { EXT_IOMMUFD, EXT_ENDPOINT, EXT_BIND, EXT_NR };

static const char * const ext_names[] = {
	"SET_IOMMUFD", "SET_ENDPOINT", "BIND_DOMAIN",
};

/* Flags no version of each struct knows. */
static const __u32 ext_bad_flag[] = { 1u << 0, 1u << 1, 1u << 2 };

#define EXT_ENDPOINT_ID	100

struct ext_head {
	__u32 size;
	__u32 flags;
};

struct ext_arg {
	union {
		struct ext_head head;
		struct vhost_iommu_iommufd iommufd;
		struct vhost_iommu_endpoint ep;
		struct vhost_iommu_bind bind;
		__u8 raw[256];
	};
};

static const char *ext_name(int k)
{
	return k >= 0 && k < EXT_NR ? ext_names[k] : "?";
}

/* A valid argument for @kind; returns the ioctl number, sets *@size. */
static unsigned long ext_prepare(struct _test_data_inval *self,
				 enum ext_kind kind, struct ext_arg *a,
				 __u32 *size)
{
	memset(a, 0, sizeof(*a));
	switch (kind) {
	case EXT_IOMMUFD:
		*size = sizeof(a->iommufd);
		a->iommufd.iommufd = self->w.fd;
		a->head.size = *size;
		return VHOST_IOMMU_SET_IOMMUFD;
	case EXT_ENDPOINT:
		*size = sizeof(a->ep);
		a->ep.endpoint = EXT_ENDPOINT_ID;
		a->ep.dev_id = self->w.idev_id;
		a->head.size = *size;
		return VHOST_IOMMU_SET_ENDPOINT;
	case EXT_BIND:
	default:
		bind_init(&a->bind, DOM_A, self->w.nested_id);
		*size = sizeof(a->bind);
		return VHOST_IOMMU_BIND_DOMAIN;
	}
}

static int ext_ioctl(int fd, unsigned long cmd, struct ext_arg *a)
{
	return ioctl(fd, cmd, a) ? -errno : 0;
}

TEST_F(inval, ext_struct_short_size_einval)
{
	static const __u32 cut[] = { 1, 4 };
	struct ext_arg a;
	unsigned long cmd;
	unsigned int i;
	__u32 size;
	int k;

	for (k = 0; k < EXT_NR; k++) {
		cmd = ext_prepare(self, k, &a, &size);
		a.head.size = 0;
		EXPECT_EQ(-EINVAL, ext_ioctl(self->fd, cmd, &a))
			TH_LOG("%s with size 0", ext_name(k));
		for (i = 0; i < ARRAY_SIZE(cut); i++) {
			ext_prepare(self, k, &a, &size);
			a.head.size = size - cut[i];
			EXPECT_EQ(-EINVAL, ext_ioctl(self->fd, cmd, &a))
				TH_LOG("%s with size %u", ext_name(k),
				       size - cut[i]);
		}
	}
	/* Nothing was done: the endpoint can still be added. */
	EXPECT_EQ(0, vhi_add_endpoint(self->fd, EXT_ENDPOINT_ID,
				      self->w.idev_id, 0));
}

TEST_F(inval, ext_struct_long_size_nonzero_tail_e2big)
{
	struct ext_arg a;
	unsigned long cmd;
	__u32 size;
	int k;

	for (k = 0; k < EXT_NR; k++) {
		cmd = ext_prepare(self, k, &a, &size);
		a.head.size = size + 8;
		a.raw[size + 7] = 1;
		EXPECT_EQ(-E2BIG, ext_ioctl(self->fd, cmd, &a))
			TH_LOG("%s, last extra byte set", ext_name(k));
		cmd = ext_prepare(self, k, &a, &size);
		a.head.size = sizeof(a.raw);
		a.raw[size] = 0x80;
		EXPECT_EQ(-E2BIG, ext_ioctl(self->fd, cmd, &a))
			TH_LOG("%s, first extra byte set", ext_name(k));
	}
	EXPECT_EQ(0, vhi_add_endpoint(self->fd, EXT_ENDPOINT_ID,
				      self->w.idev_id, 0));
}

TEST_F(inval, ext_struct_long_size_zero_tail_accepted)
{
	struct virtio_iommu_req_invalidate r;
	struct ext_arg a;
	unsigned long cmd;
	__u32 size;
	int k;

	/* In this order: a new iommufd drops bindings. */
	for (k = 0; k < EXT_NR; k++) {
		cmd = ext_prepare(self, k, &a, &size);
		a.head.size = size + 8;
		EXPECT_EQ(0, ext_ioctl(self->fd, cmd, &a))
			TH_LOG("%s with size %u", ext_name(k), size + 8);
	}
	/* Each did its work. */
	EXPECT_EQ(-EEXIST, vhi_add_endpoint(self->fd, EXT_ENDPOINT_ID,
					    self->w.idev_id, 0));
	vg_inval_domain(&r, DOM_A);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "long bind");
	expect_slots(_metadata, self, self->w.nested_id, ALL_SLOTS,
		     "long bind");
}

TEST_F(inval, ext_struct_unknown_flags_eopnotsupp)
{
	struct ext_arg a;
	unsigned long cmd;
	__u32 size;
	int k;

	for (k = 0; k < EXT_NR; k++) {
		cmd = ext_prepare(self, k, &a, &size);
		a.head.flags = ext_bad_flag[k];
		EXPECT_EQ(-EOPNOTSUPP, ext_ioctl(self->fd, cmd, &a))
			TH_LOG("%s with flags %#x", ext_name(k),
			       ext_bad_flag[k]);
		cmd = ext_prepare(self, k, &a, &size);
		a.head.flags = 0x80000000;
		EXPECT_EQ(-EOPNOTSUPP, ext_ioctl(self->fd, cmd, &a))
			TH_LOG("%s with flags 0x80000000", ext_name(k));
	}
	/* SET_IOMMUFD's reserved field too. */
	ext_prepare(self, EXT_IOMMUFD, &a, &size);
	a.iommufd.__reserved = 1;
	EXPECT_EQ(-EOPNOTSUPP, ext_ioctl(self->fd, VHOST_IOMMU_SET_IOMMUFD,
					 &a));
}

TEST_F(inval, ext_struct_bad_pointer_efault)
{
	static const uintptr_t bad[] = { 8, (uintptr_t)-4096 };
	static const unsigned long cmds[] = {
		VHOST_IOMMU_SET_IOMMUFD, VHOST_IOMMU_SET_ENDPOINT,
		VHOST_IOMMU_BIND_DOMAIN,
	};
	unsigned int i, k;

	for (k = 0; k < ARRAY_SIZE(cmds); k++)
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			EXPECT_EQ(-EFAULT, ioctl(self->fd, cmds[k], bad[i]) ?
				  -errno : 0)
				TH_LOG("%s at %#lx", ext_name(k),
				       (unsigned long)bad[i]);
		}
}

/* ------------------------------------------------------------------ */
/* VHOST_IOMMU_SET_ENDPOINT */

TEST_F(inval, endpoint_add_then_duplicate_eexist)
{
	EXPECT_EQ(0, vhi_add_endpoint(self->fd, ENDPOINT, self->w.idev_id,
				      VIRT_SID));
	EXPECT_EQ(-EEXIST, vhi_add_endpoint(self->fd, ENDPOINT,
					    self->w.idev_id, VIRT_SID));
	/* Whatever the other fields say. */
	EXPECT_EQ(-EEXIST, vhi_add_endpoint(self->fd, ENDPOINT,
					    self->w.idev_id, VIRT_SID + 1));
}

TEST_F(inval, endpoint_remove_then_remove_again_enoent)
{
	ASSERT_EQ(0, vhi_add_endpoint(self->fd, ENDPOINT, self->w.idev_id,
				      VIRT_SID));
	EXPECT_EQ(0, vhi_remove_endpoint(self->fd, ENDPOINT));
	EXPECT_EQ(-ENOENT, vhi_remove_endpoint(self->fd, ENDPOINT));
	/* Removed for real: it can be added again. */
	EXPECT_EQ(0, vhi_add_endpoint(self->fd, ENDPOINT, self->w.idev_id,
				      VIRT_SID));
}

TEST_F(inval, endpoint_remove_unknown_enoent)
{
	EXPECT_EQ(-ENOENT, vhi_remove_endpoint(self->fd, ENDPOINT));
	ASSERT_EQ(0, vhi_add_endpoint(self->fd, ENDPOINT, self->w.idev_id,
				      VIRT_SID));
	EXPECT_EQ(-ENOENT, vhi_remove_endpoint(self->fd, ENDPOINT + 1));
}

/* ------------------------------------------------------------------ */
/* VHOST_IOMMU_BIND_DOMAIN */

TEST_F(inval, bind_without_iommufd_einval)
{
	struct vhost_iommu_bind b;
	int fd;

	/* A second owned file that was never given an iommufd. */
	fd = vhi_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vhi_set_owner(fd));
	bind_init(&b, DOM_A, self->w.nested_id);
	EXPECT_EQ(-EINVAL, vhi_bind_domain(fd, &b));
	close(fd);
}

TEST_F(inval, bind_bad_granule_einval)
{
	static const __u32 bad[] = { 0, 11, 64, 0xffffffff };
	struct vhost_iommu_bind b;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		bind_init(&b, DOM_A, self->w.nested_id);
		b.granule_log2 = bad[i];
		EXPECT_EQ(-EINVAL, vhi_bind_domain(self->fd, &b))
			TH_LOG("granule_log2 %u", bad[i]);
	}
	EXPECT_EQ(-ENOENT, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
}

TEST_F(inval, bind_input_end_before_start_einval)
{
	struct vhost_iommu_bind b;

	bind_init(&b, DOM_A, self->w.nested_id);
	b.input_start = BIND_START;
	b.input_end = BIND_START - 1;
	EXPECT_EQ(-EINVAL, vhi_bind_domain(self->fd, &b));
	EXPECT_EQ(-ENOENT, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
}

TEST_F(inval, bind_boundary_values_accepted)
{
	struct vhost_iommu_bind b;

	bind_init(&b, DOM_A, self->w.nested_id);
	b.granule_log2 = 63;
	b.input_start = 0;
	b.input_end = UINT64_MAX;
	EXPECT_EQ(0, vhi_bind_domain(self->fd, &b));
	bind_init(&b, DOM_B, self->w.nested_id);
	b.input_start = BIND_START;
	b.input_end = BIND_START;
	EXPECT_EQ(0, vhi_bind_domain(self->fd, &b));
	EXPECT_EQ(0, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
	EXPECT_EQ(0, vhi_unbind_domain(self->fd, DOM_B, 0, 0));
}

TEST_F(inval, bind_endpoints_with_non_viommu_format_einval)
{
	static const __u32 formats[] = {
		VHOST_IOMMU_INV_FORMAT_SELFTEST, VHOST_IOMMU_INV_FORMAT_VTD_S1,
	};
	__u32 ep = ENDPOINT;
	struct vhost_iommu_bind b;
	unsigned int i;

	/* Only the vIOMMU formats name endpoints. */
	ASSERT_EQ(0, vhi_add_endpoint(self->fd, ENDPOINT, self->w.idev_id,
				      VIRT_SID));
	for (i = 0; i < ARRAY_SIZE(formats); i++) {
		bind_init(&b, DOM_A, self->w.nested_id);
		b.format = formats[i];
		b.nr_endpoints = 1;
		b.endpoints_uptr = (uintptr_t)&ep;
		EXPECT_EQ(-EINVAL, vhi_bind_domain(self->fd, &b))
			TH_LOG("format %u", formats[i]);
	}
	EXPECT_EQ(-ENOENT, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
}

TEST_F(inval, bind_arm_smmuv3_agrees_with_get_info)
{
	struct vhost_iommu_info info;
	__u32 ep = ENDPOINT;
	struct vhost_iommu_bind b;
	bool taken;

	/* Taken where the kernel has SMMUv3 vIOMMU commands (6.14+). */
	ASSERT_EQ(0, vhi_get_info(self->fd, &info));
	taken = info.inv_formats & (1ull << VHOST_IOMMU_INV_FORMAT_ARM_SMMUV3);
	/* Well formed in every other respect; the object is not checked. */
	ASSERT_EQ(0, vhi_add_endpoint(self->fd, ENDPOINT, self->w.idev_id,
				      VIRT_SID));
	bind_init(&b, DOM_A, self->w.nested_id);
	b.format = VHOST_IOMMU_INV_FORMAT_ARM_SMMUV3;
	b.nr_endpoints = 1;
	b.endpoints_uptr = (uintptr_t)&ep;
	EXPECT_EQ(taken ? 0 : -EOPNOTSUPP, vhi_bind_domain(self->fd, &b))
		TH_LOG("inv_formats %#llx",
		       (unsigned long long)info.inv_formats);
	EXPECT_EQ(taken ? 0 : -ENOENT,
		  vhi_unbind_domain(self->fd, DOM_A, 0, 0));
}

TEST_F(inval, bind_unknown_format_eopnotsupp)
{
	static const __u32 formats[] = {
		VHOST_IOMMU_INV_FORMAT_VIOMMU_SELFTEST + 1, 0x100, 0xffffffff,
	};
	struct vhost_iommu_bind b;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(formats); i++) {
		bind_init(&b, DOM_A, self->w.nested_id);
		b.format = formats[i];
		EXPECT_EQ(-EOPNOTSUPP, vhi_bind_domain(self->fd, &b))
			TH_LOG("format %#x", formats[i]);
	}
}

TEST_F(inval, unbind_unknown_enoent)
{
	EXPECT_EQ(-ENOENT, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	/* Neither another domain nor a PASID of the bound one. */
	EXPECT_EQ(-ENOENT, vhi_unbind_domain(self->fd, DOM_B, 0, 0));
	EXPECT_EQ(-ENOENT, vhi_unbind_domain(self->fd, DOM_A,
					     VHOST_IOMMU_BIND_F_PASID,
					     PASID_P));
	EXPECT_EQ(0, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
	EXPECT_EQ(-ENOENT, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
}

/* ------------------------------------------------------------------ */
/* The SELFTEST translation */

TEST_F(inval, domain_scope_zeroes_all_slots)
{
	struct virtio_iommu_req_invalidate r;

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	vg_inval_domain(&r, DOM_A);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "DOMAIN");
	expect_slots(_metadata, self, self->w.nested_id, ALL_SLOTS, "DOMAIN");
}

TEST_F(inval, address_scope_with_id_zeroes_only_that_slot)
{
	static const unsigned int order[] = { 2, 0, 3, 1 };
	struct virtio_iommu_req_invalidate r;
	unsigned int i, zeroed = 0;
	char what[32];

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		snprintf(what, sizeof(what), "ADDRESS id %u", order[i]);
		mk_inval_slot(&r, DOM_A, order[i]);
		expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, what);
		zeroed |= SLOT(order[i]);
		expect_slots(_metadata, self, self->w.nested_id, zeroed, what);
	}
}

TEST_F(inval, address_scope_without_id_zeroes_all_slots)
{
	struct virtio_iommu_req_invalidate r;

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	vg_inval_range(&r, DOM_A, 0, IN_RANGE, 16, 12);
	/* An id without F_ID means nothing. */
	r.id = htole64(2);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "no F_ID");
	expect_slots(_metadata, self, self->w.nested_id, ALL_SLOTS, "no F_ID");
}

TEST_F(inval, pasid_scope_zeroes_all_slots)
{
	struct virtio_iommu_req_invalidate r;

	/* No PASID binding: the domain's takes it. */
	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	vg_inval_init(&r, DOM_A, VIRTIO_IOMMU_INVAL_S_PASID,
		      VIRTIO_IOMMU_INVAL_C_TLB, 0);
	set_pasid(&r, PASID_P);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "PASID");
	expect_slots(_metadata, self, self->w.nested_id, ALL_SLOTS, "PASID");
}

TEST_F(inval, pasid_cache_only_unsupp_nothing_changes)
{
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	get_stats(_metadata, self, &s0);
	vg_inval_init(&r, DOM_A, VIRTIO_IOMMU_INVAL_S_DOMAIN,
		      VIRTIO_IOMMU_INVAL_C_PASID, 0);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_UNSUPP, "C_PASID");
	expect_slots(_metadata, self, self->w.nested_id, NO_SLOTS, "C_PASID");
	get_stats(_metadata, self, &s1);
	EXPECT_EQ(s0.out_inval_batches, s1.out_inval_batches);
}

TEST_F(inval, address_id_above_3_rejected_by_mock_inval)
{
	static const __u64 ids[] = { 4, 7 };
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;
	unsigned int i;

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	get_stats(_metadata, self, &s0);
	for (i = 0; i < ARRAY_SIZE(ids); i++) {
		mk_inval_slot(&r, DOM_A, ids[i]);
		expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_INVAL,
			     "id above 3");
	}
	expect_slots(_metadata, self, self->w.nested_id, NO_SLOTS,
		     "id above 3");
	get_stats(_metadata, self, &s1);
	/* iommufd refused them, not the device. */
	EXPECT_EQ(s0.out_inval_errors + ARRAY_SIZE(ids), s1.out_inval_errors);
}

/* ------------------------------------------------------------------ */
/* Malformed requests */

struct bad_inval {
	const char *name;
	__u8 scope;
	__u8 caches;
	__u16 flags;
	__u64 address;
	__u64 nr_pages;
	__u8 page_size;
	int reserved;	/* index of a reserved byte to set, or -1 */
};

#define C_TLB	VIRTIO_IOMMU_INVAL_C_TLB
#define S_DOM	VIRTIO_IOMMU_INVAL_S_DOMAIN
#define S_ADDR	VIRTIO_IOMMU_INVAL_S_ADDRESS

static const struct bad_inval bad_invals[] = {
	{ "scope 0", 0, C_TLB, 0, 0, 0, 0, -1 },
	{ "scope 4", 4, C_TLB, 0, 0, 0, 0, -1 },
	{ "caches 0", S_DOM, 0, 0, 0, 0, 0, -1 },
	{ "flag bit 4", S_DOM, C_TLB, 1 << 4, 0, 0, 0, -1 },
	{ "flag bit 15", S_DOM, C_TLB, 1 << 15, 0, 0, 0, -1 },
	{ "PASID scope without F_PASID", VIRTIO_IOMMU_INVAL_S_PASID, C_TLB,
	  0, 0, 0, 0, -1 },
	{ "ADDRESS nr_pages 0", S_ADDR, C_TLB, 0, IN_RANGE, 0, 12, -1 },
	{ "ADDRESS page_size 64", S_ADDR, C_TLB, 0, IN_RANGE, 1, 64, -1 },
	{ "ADDRESS page_size 255", S_ADDR, C_TLB, 0, IN_RANGE, 1, 255, -1 },
	{ "ADDRESS end past 2^64", S_ADDR, C_TLB, 0, 0xfffffffffffff000ULL,
	  2, 12, -1 },
	{ "ADDRESS size past 2^64", S_ADDR, C_TLB, 0, IN_RANGE, 1ULL << 52,
	  12, -1 },
	{ "reserved[0] set", S_DOM, C_TLB, 0, 0, 0, 0, 0 },
	{ "reserved[18] set", S_DOM, C_TLB, 0, 0, 0, 0, 18 },
};

TEST_F(inval, malformed_requests_inval_iotlb_untouched)
{
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;
	const struct bad_inval *b;
	unsigned int i;

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	get_stats(_metadata, self, &s0);
	for (i = 0; i < ARRAY_SIZE(bad_invals); i++) {
		b = &bad_invals[i];
		vg_inval_init(&r, DOM_A, b->scope, b->caches, b->flags);
		r.address = htole64(b->address);
		r.nr_pages = htole64(b->nr_pages);
		r.page_size = b->page_size;
		if (b->reserved >= 0)
			r.reserved[b->reserved] = 1;
		expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_INVAL,
			     b->name);
		expect_slots(_metadata, self, self->w.nested_id, NO_SLOTS,
			     b->name);
	}
	/* The device rejected them; iommufd never saw them. */
	get_stats(_metadata, self, &s1);
	EXPECT_EQ(s0.out_inval_batches, s1.out_inval_batches);
	EXPECT_EQ(s0.out_inval_errors, s1.out_inval_errors);
}

/* ------------------------------------------------------------------ */
/* Domains and ranges */

TEST_F(inval, unbound_domain_noent)
{
	struct virtio_iommu_req_invalidate r;

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	vg_inval_domain(&r, DOM_UNBOUND);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_NOENT, "unbound");
	mk_inval_slot(&r, DOM_UNBOUND, 1);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_NOENT, "unbound");
	expect_slots(_metadata, self, self->w.nested_id, NO_SLOTS, "unbound");
}

TEST_F(inval, range_outside_binding_ok_nothing_changes)
{
	struct virtio_iommu_req_invalidate r;

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	/* Ends right below the bound range. */
	vg_inval_range(&r, DOM_A, VIRTIO_IOMMU_INVAL_F_ID,
		       BIND_START - 0x10000, 16, 12);
	r.id = htole64(1);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "below");
	/* Starts right above it. */
	vg_inval_range(&r, DOM_A, VIRTIO_IOMMU_INVAL_F_ID, BIND_END + 1, 1,
		       21);
	r.id = htole64(2);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "above");
	/* Far away, without an ID (which would zero everything). */
	vg_inval_range(&r, DOM_A, 0, 1ULL << 39, 4, 12);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "far");
	expect_slots(_metadata, self, self->w.nested_id, NO_SLOTS, "outside");
}

TEST_F(inval, range_overlapping_binding_edges_hits)
{
	struct virtio_iommu_req_invalidate r;

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	/* Last page of the range is its first bound page. */
	vg_inval_range(&r, DOM_A, VIRTIO_IOMMU_INVAL_F_ID,
		       BIND_START - 0x3000, 4, 12);
	r.id = htole64(1);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "low edge");
	expect_slots(_metadata, self, self->w.nested_id, SLOT(1), "low edge");
	/* A 1 GiB page holding the last bound byte and more. */
	vg_inval_range(&r, DOM_A, VIRTIO_IOMMU_INVAL_F_ID,
		       BIND_END + 1 - (1ULL << 30), 2, 30);
	r.id = htole64(3);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "high edge");
	expect_slots(_metadata, self, self->w.nested_id, SLOT(1) | SLOT(3),
		     "high edge");
}

TEST_F(inval, range_ending_at_top_of_address_space_is_valid)
{
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_bind b;

	/* [2^64 - 4 KiB, 2^64 - 1]: the end is representable. */
	bind_init(&b, DOM_A, self->w.nested_id);
	b.input_start = 0;
	b.input_end = UINT64_MAX;
	ASSERT_EQ(0, vhi_bind_domain(self->fd, &b));
	vg_inval_range(&r, DOM_A, VIRTIO_IOMMU_INVAL_F_ID,
		       0xfffffffffffff000ULL, 1, 12);
	r.id = htole64(2);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "top page");
	expect_slots(_metadata, self, self->w.nested_id, SLOT(2), "top page");
}

/* ------------------------------------------------------------------ */
/* PASID bindings */

TEST_F(inval, pasid_binding_takes_its_pasid_only)
{
	struct virtio_iommu_req_invalidate r;
	__u32 a = self->w.nested_id, b;

	b = new_nested(_metadata, self);
	ASSERT_EQ(0, bind_to(self, DOM_A, a));
	ASSERT_EQ(0, bind_pasid_to(self, DOM_A, PASID_P, b));

	mk_inval_slot(&r, DOM_A, 0);
	set_pasid(&r, PASID_P);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "PASID P");
	expect_slots(_metadata, self, b, SLOT(0), "B after PASID P");
	expect_slots(_metadata, self, a, NO_SLOTS, "A after PASID P");

	mk_inval_slot(&r, DOM_A, 1);
	set_pasid(&r, PASID_P + 1);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "other PASID");
	mk_inval_slot(&r, DOM_A, 2);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "no PASID");

	expect_slots(_metadata, self, a, SLOT(1) | SLOT(2), "A");
	expect_slots(_metadata, self, b, SLOT(0), "B");
}

TEST_F(inval, unbind_pasid_binding_falls_back_to_domain)
{
	struct virtio_iommu_req_invalidate r;
	__u32 a = self->w.nested_id, b;

	b = new_nested(_metadata, self);
	ASSERT_EQ(0, bind_to(self, DOM_A, a));
	ASSERT_EQ(0, bind_pasid_to(self, DOM_A, PASID_P, b));
	ASSERT_EQ(0, vhi_unbind_domain(self->fd, DOM_A,
				       VHOST_IOMMU_BIND_F_PASID, PASID_P));
	mk_inval_slot(&r, DOM_A, 3);
	set_pasid(&r, PASID_P);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "PASID P");
	expect_slots(_metadata, self, a, SLOT(3), "A");
	expect_slots(_metadata, self, b, NO_SLOTS, "B");
	/* The domain binding is still there on its own. */
	EXPECT_EQ(0, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
}

/* ------------------------------------------------------------------ */
/* Batching */

TEST_F_TIMEOUT(inval, batch_of_256_is_one_iommufd_call, 120)
{
	static struct vg_req reqs[256];
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;
	unsigned int i, bad_status = 0;
	__u8 st;

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	get_stats(_metadata, self, &s0);
	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		mk_inval_slot(&r, DOM_A, i % IMOCK_IOTLB_NUM);
		queue_inval(_metadata, self, &r, &reqs[i]);
	}
	publish_kick(_metadata, self);
	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		st = wait_done(_metadata, self, &reqs[i]);
		if (st != VIRTIO_IOMMU_S_OK && !bad_status++)
			TH_LOG("request %u: %s", i, vhi_status_name(st));
	}
	EXPECT_EQ(0u, bad_status);
	get_stats(_metadata, self, &s1);
	EXPECT_EQ(s0.out_inval_batches + 1, s1.out_inval_batches);
	EXPECT_EQ(s0.out_invalidations + ARRAY_SIZE(reqs),
		  s1.out_invalidations);
	EXPECT_EQ(s0.out_inval_errors, s1.out_inval_errors);
	expect_slots(_metadata, self, self->w.nested_id, ALL_SLOTS, "batch");
}

TEST_F(inval, alternating_bindings_make_separate_batches)
{
	static const __u32 doms[] = { DOM_A, DOM_B, DOM_A };
	static const unsigned int ids[] = { 0, 1, 2 };
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;
	struct vg_req reqs[3];
	__u32 a = self->w.nested_id, b;
	unsigned int i;

	b = new_nested(_metadata, self);
	ASSERT_EQ(0, bind_to(self, DOM_A, a));
	ASSERT_EQ(0, bind_to(self, DOM_B, b));
	get_stats(_metadata, self, &s0);
	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		mk_inval_slot(&r, doms[i], ids[i]);
		queue_inval(_metadata, self, &r, &reqs[i]);
	}
	publish_kick(_metadata, self);
	for (i = 0; i < ARRAY_SIZE(reqs); i++)
		check_status(_metadata, VIRTIO_IOMMU_S_OK,
			     wait_done(_metadata, self, &reqs[i]), "A,B,A");
	get_stats(_metadata, self, &s1);
	EXPECT_EQ(s0.out_inval_batches + 3, s1.out_inval_batches);
	EXPECT_EQ(s0.out_invalidations + 3, s1.out_invalidations);
	expect_slots(_metadata, self, a, SLOT(0) | SLOT(2), "A");
	expect_slots(_metadata, self, b, SLOT(1), "B");
}

TEST_F(inval, bad_entry_mid_batch_fails_alone)
{
	/* The third names slot 7, which the mock refuses. */
	static const unsigned int ids[] = { 0, 1, 7, 2, 3 };
	static const __u8 want[] = {
		VIRTIO_IOMMU_S_OK, VIRTIO_IOMMU_S_OK, VIRTIO_IOMMU_S_INVAL,
		VIRTIO_IOMMU_S_OK, VIRTIO_IOMMU_S_OK,
	};
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;
	struct vg_req reqs[5];
	unsigned int i;
	char what[32];

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	get_stats(_metadata, self, &s0);
	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		mk_inval_slot(&r, DOM_A, ids[i]);
		queue_inval(_metadata, self, &r, &reqs[i]);
	}
	publish_kick(_metadata, self);
	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		snprintf(what, sizeof(what), "request %u (id %u)", i, ids[i]);
		check_status(_metadata, want[i],
			     wait_done(_metadata, self, &reqs[i]), what);
	}
	/* Slots 2 and 3 come after the failure: they were still sent. */
	expect_slots(_metadata, self, self->w.nested_id, ALL_SLOTS, "batch");
	get_stats(_metadata, self, &s1);
	EXPECT_EQ(s0.out_inval_errors + 1, s1.out_inval_errors);
	EXPECT_EQ(s0.out_invalidations + 5, s1.out_invalidations);
}

TEST_F(inval, slow_request_between_invalidations_keeps_order)
{
	struct virtio_iommu_req_invalidate r;
	struct virtio_iommu_req_attach a;
	struct vhost_iommu_request vr;
	__u8 buf[VHI_REQ_BUF_SIZE];
	struct vg_req r0, ra, r1;
	__u32 id, len;

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	mk_inval_slot(&r, DOM_A, 0);
	queue_inval(_metadata, self, &r, &r0);
	memset(&a, 0, sizeof(a));
	a.head.type = VIRTIO_IOMMU_T_ATTACH;
	a.domain = htole32(DOM_A);
	a.endpoint = htole32(ENDPOINT);
	ASSERT_EQ(0, vg_submit(&self->rq, &a,
			       offsetof(struct virtio_iommu_req_attach, tail),
			       INVAL_OUT, VG_SUBMIT_NO_PUBLISH, &ra));
	mk_inval_slot(&r, DOM_A, 1);
	queue_inval(_metadata, self, &r, &r1);
	publish_kick(_metadata, self);

	check_status(_metadata, VIRTIO_IOMMU_S_OK,
		     wait_done(_metadata, self, &r0), "before ATTACH");
	ASSERT_EQ(0, vhi_wait_request(self->fd, &vr, buf, sizeof(buf),
				      VG_TIMEOUT_MS));
	EXPECT_EQ((__u32)VIRTIO_IOMMU_T_ATTACH, vr.out_type);
	/* The second invalidation waits behind the ATTACH. */
	usleep(QUIET_MS * 1000);
	EXPECT_EQ(1, vg_used_idx(&self->rq));
	expect_slots(_metadata, self, self->w.nested_id, SLOT(0),
		     "ATTACH pending");

	ASSERT_EQ(0, vhi_complete_request(self->fd, vr.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(ra.head, id);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, req_status(self, &ra));
	check_status(_metadata, VIRTIO_IOMMU_S_OK,
		     wait_done(_metadata, self, &r1), "after ATTACH");
	expect_slots(_metadata, self, self->w.nested_id, SLOT(0) | SLOT(1),
		     "after ATTACH");
}

/* ------------------------------------------------------------------ */
/* Object lifetimes */

TEST_F(inval, reused_id_after_unbind_not_invalidated)
{
	struct virtio_iommu_req_invalidate r;
	__u32 old = self->w.nested_id, fresh;

	ASSERT_EQ(0, bind_to(self, DOM_A, old));
	ASSERT_EQ(0, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
	ASSERT_EQ(0, imock_destroy(self->w.fd, old));
	fresh = new_nested(_metadata, self);
	self->w.nested_id = fresh;
	if (fresh != old)
		SKIP(return, "iommufd gave the new HWPT ID %u, not %u",
		     fresh, old);
	ASSERT_EQ(0, bind_to(self, DOM_B, fresh));

	vg_inval_domain(&r, DOM_A);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_NOENT, "old domain");
	expect_slots(_metadata, self, fresh, NO_SLOTS, "old domain");
	mk_inval_slot(&r, DOM_B, 2);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "new domain");
	expect_slots(_metadata, self, fresh, SLOT(2), "new domain");
}

TEST_F(inval, destroyed_hwpt_id_taken_by_ioas_refused_as_iommufd_says)
{
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;
	__u32 old = self->w.nested_id, ioas;
	__u8 want;
	int ret;

	/* The VMM breaks the rule and destroys the object first. */
	ASSERT_EQ(0, bind_to(self, DOM_A, old));
	ASSERT_EQ(0, imock_destroy(self->w.fd, old));
	self->w.nested_id = 0;
	ASSERT_EQ(0, imock_ioas_alloc(self->w.fd, &ioas));
	if (ioas != old)
		SKIP(return, "iommufd gave the IOAS ID %u, not %u", ioas, old);

	/*
	 * iommufd refuses to invalidate an IOAS: -ENOENT up to 6.12 (it
	 * looked up nested HWPTs only), -EINVAL from 6.13 (any object, then
	 * the type is checked). The guest gets what the module maps it to.
	 */
	ret = imock_hwpt_invalidate(self->w.fd, ioas, NULL, 0, NULL);
	ASSERT_TRUE(ret == -ENOENT || ret == -EINVAL)
		TH_LOG("IOMMU_HWPT_INVALIDATE on an IOAS: %s", strerror(-ret));
	want = ret == -ENOENT ? VIRTIO_IOMMU_S_NOENT : VIRTIO_IOMMU_S_INVAL;
	get_stats(_metadata, self, &s0);
	vg_inval_domain(&r, DOM_A);
	expect_inval(_metadata, self, &r, want, "IOAS");
	get_stats(_metadata, self, &s1);
	EXPECT_EQ(s0.out_inval_errors + 1, s1.out_inval_errors);

	/* The device is fine and the binding can still go. */
	EXPECT_EQ(0, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_NOENT, "unbound");
}

TEST_F(inval, closed_iommufd_still_served_then_close_prompt)
{
	struct virtio_iommu_req_invalidate r;
	__s64 start;

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	/* The VMM drops its last descriptor; the device keeps its own. */
	ASSERT_EQ(0, close(self->w.fd));
	self->w.fd = -1;
	mk_inval_slot(&r, DOM_A, 1);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "fd closed");
	vg_inval_domain(&r, DOM_A);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "fd closed");

	start = now_ms();
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_GT(1000, now_ms() - start);
}

TEST_F(inval, format_mismatch_vtd_s1_on_mock_inval)
{
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;
	struct vhost_iommu_bind b;

	/* The module cannot tell; the mock rejects the VT-d data type. */
	bind_init(&b, DOM_A, self->w.nested_id);
	b.format = VHOST_IOMMU_INV_FORMAT_VTD_S1;
	ASSERT_EQ(0, vhi_bind_domain(self->fd, &b));
	get_stats(_metadata, self, &s0);
	vg_inval_domain(&r, DOM_A);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_INVAL, "VTD_S1");
	expect_slots(_metadata, self, self->w.nested_id, NO_SLOTS, "VTD_S1");
	get_stats(_metadata, self, &s1);
	EXPECT_EQ(s0.out_inval_errors + 1, s1.out_inval_errors);
}

TEST_F(inval, unbind_while_idle_then_noent)
{
	struct virtio_iommu_req_invalidate r;

	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	mk_inval_slot(&r, DOM_A, 0);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "bound");
	ASSERT_EQ(0, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
	vg_inval_domain(&r, DOM_A);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_NOENT, "unbound");
	expect_slots(_metadata, self, self->w.nested_id, SLOT(0), "unbound");
}

TEST_F(inval, rebind_between_kicks_hits_new_hwpt_only)
{
	struct virtio_iommu_req_invalidate r;
	__u32 a = self->w.nested_id, b;

	b = new_nested(_metadata, self);
	ASSERT_EQ(0, bind_to(self, DOM_A, a));
	mk_inval_slot(&r, DOM_A, 0);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "first kick");
	/* Binding a bound domain replaces its binding. */
	ASSERT_EQ(0, bind_to(self, DOM_A, b));
	mk_inval_slot(&r, DOM_A, 1);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "second kick");
	expect_slots(_metadata, self, a, SLOT(0), "old HWPT");
	expect_slots(_metadata, self, b, SLOT(1), "new HWPT");
}

/* ------------------------------------------------------------------ */
/* Resets */

TEST_F(inval, reset_device_drops_bindings_keeps_iommufd_and_endpoints)
{
	struct virtio_iommu_req_invalidate r;

	ASSERT_EQ(0, vhi_add_endpoint(self->fd, ENDPOINT, self->w.idev_id,
				      VIRT_SID));
	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	ASSERT_EQ(0, vhi_reset_device(self->fd));
	rings_up(_metadata, self);

	mk_inval_slot(&r, DOM_A, 0);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_NOENT, "after reset");
	EXPECT_EQ(-EEXIST, vhi_add_endpoint(self->fd, ENDPOINT,
					    self->w.idev_id, VIRT_SID));
	/* No SET_IOMMUFD needed to bind again. */
	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "rebound");
	expect_slots(_metadata, self, self->w.nested_id, SLOT(0), "rebound");
}

TEST_F(inval, reset_device_with_persist_keeps_bindings)
{
	struct virtio_iommu_req_invalidate r;

	ASSERT_EQ(0, vhi_set_backend_features(self->fd, BACKEND_PERSIST));
	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	ASSERT_EQ(0, vhi_reset_device(self->fd));
	rings_up(_metadata, self);

	mk_inval_slot(&r, DOM_A, 3);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "after reset");
	expect_slots(_metadata, self, self->w.nested_id, SLOT(3),
		     "after reset");
}

TEST_F(inval, reset_owner_lets_go_of_iommufd)
{
	ASSERT_EQ(0, bind_to(self, DOM_A, self->w.nested_id));
	ASSERT_EQ(0, vhi_reset_owner(self->fd));
	ASSERT_EQ(0, vhi_set_owner(self->fd));
	EXPECT_EQ(-EINVAL, bind_to(self, DOM_A, self->w.nested_id));
	EXPECT_EQ(-ENOENT, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
}

/* The structural counters: one iommufd call and one pass for a batch. */
TEST_F(inval, batch_counters_one_call_few_accesses)
{
	const unsigned int n = 32;
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats before, after;
	struct vg_req req[32];
	unsigned int i;

	ASSERT_EQ(0, bind_to(self, DOM_FIRST, self->w.nested_id));
	get_stats(_metadata, self, &before);
	for (i = 0; i < n; i++) {
		mk_inval_slot(&r, DOM_FIRST, i % 4);
		queue_inval(_metadata, self, &r, &req[i]);
	}
	publish_kick(_metadata, self);
	for (i = 0; i < n; i++)
		check_status(_metadata, VIRTIO_IOMMU_S_OK,
			     wait_done(_metadata, self, &req[i]), "batched");
	get_stats(_metadata, self, &after);
	EXPECT_EQ(1u, after.out_iommufd_calls - before.out_iommufd_calls);
	EXPECT_EQ(1u, after.out_inval_batches - before.out_inval_batches);
	EXPECT_LE(1u, after.out_wakeups - before.out_wakeups);
	/*
	 * Per request two descriptors, the request and its tail; the
	 * ring's index and entries and the used entries go in runs.
	 */
	EXPECT_LE(4u * n, after.out_user_accesses - before.out_user_accesses);
	EXPECT_GE(5u * n, after.out_user_accesses - before.out_user_accesses);
	ksft_print_msg("STAT per_request user_accesses=%.2f wakeups=%.3f iommufd_calls=%.3f\n",
		       (double)(after.out_user_accesses - before.out_user_accesses) / n,
		       (double)(after.out_wakeups - before.out_wakeups) / n,
		       (double)(after.out_iommufd_calls - before.out_iommufd_calls) / n);
}

TEST_HARNESS_MAIN
