// SPDX-License-Identifier: GPL-2.0-only
/*
 * kselftest suite "viommu": invalidation format VIOMMU_SELFTEST, the
 * iommufd selftest mock's vIOMMU (Linux 6.13 and later). A guest domain
 * bound to a vIOMMU with a list of endpoints gets one entry per endpoint,
 * named by the virt ID of its vDEVICE; the mock zeroes the four cache
 * slots of that device, which IMOCK_OP_DEV_CHECK_CACHE reads back. Page
 * requests of a device attached to a nested HWPT on the vIOMMU still come
 * through an iommufd fault queue.
 *
 * On a kernel without vIOMMU objects one test checks that the module
 * refuses the format and does not advertise it; every other test skips.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "iommufd_mock.h"
#include "vhost_iommu_vmm.h"
#include "viommu_guest.h"

#define GUEST_BASE	0x40000000ULL
#define GUEST_SIZE	(12ULL << 20)
#define GUEST_REGIONS	3
#define RQ_NUM		256
#define EQ_NUM		64
#define PROBE_SIZE	512
#define DOM_FIRST	1
#define DOM_LAST	1023
#define INPUT_FIRST	0x10000ULL
#define INPUT_LAST	((1ULL << 40) - 1)
#define ALL_FEATURES	VHI_FEATURES_OFFERED

/* What the tests bind: a 4 GiB input range of 4 KiB pages. */
#define BIND_START	0x100000000ULL
#define BIND_END	0x1ffffffffULL
#define BIND_GRANULE	12
#define IN_RANGE	(BIND_START + 0x100000)

#define DOM_A		1
#define DOM_B		2
/* Guest endpoints of the two mock devices, and their vDEVICE virt IDs. */
#define EP_A		8
#define EP_B		9
#define VIRT_A		0x10
#define VIRT_B		0x23

#define FORMAT		VHOST_IOMMU_INV_FORMAT_VIOMMU_SELFTEST

#define INVAL_IN	offsetof(struct virtio_iommu_req_invalidate, tail)
#define INVAL_OUT	((__u32)sizeof(struct virtio_iommu_req_tail))
#define RESP_IN		offsetof(struct virtio_iommu_req_page_resp, tail)
#define EV_SIZE		((__u32)sizeof(struct virtio_iommu_page_req))

/* Masks of zeroed slots for expect_cache(). */
#define SLOT(k)		(1u << (k))
#define NO_SLOTS	0u
#define ALL_SLOTS	0xfu

#define NO_VIOMMU	"kernel has no vIOMMU objects (6.13+)"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/*
 * Helpers take the fixture data as struct _test_data_viommu, which is what
 * FIXTURE_DATA(viommu) expands to, spelled so checkpatch sees a type.
 *
 * Device A is the world's mock device, device B a second one on the same
 * IOAS; both have a vDEVICE on the vIOMMU and are registered as EP_A and
 * EP_B. Nothing is bound.
 */
FIXTURE(viommu) {
	int fd;
	struct vhost_iommu_config cfg;
	struct vg_mem mem;
	struct vg_vq rq;
	struct vg_vq eq;
	struct imock_world w;
	/* The result of IOMMU_VIOMMU_ALLOC: 0, or -ENOTTY before 6.13. */
	int viommu_ret;
	__u32 viommu_id;
	__u32 vdev_a;
	__u32 stdev_b;
	__u32 idev_b;
	__u32 vdev_b;
};

FIXTURE_SETUP(viommu)
{
	__u32 hwpt_b;
	int ret;

	self->fd = -1;
	self->w.fd = -1;
	ASSERT_EQ(0, vg_mem_init(&self->mem, GUEST_BASE, GUEST_SIZE,
				 GUEST_REGIONS));
	ASSERT_EQ(0, vg_vq_init(&self->rq, &self->mem, RQ_NUM));
	ASSERT_EQ(0, vg_vq_init(&self->eq, &self->mem, EQ_NUM));
	vhi_config_default(&self->cfg);
	self->cfg.page_size_mask = 0x1000 | 0x200000;
	self->cfg.input_start = INPUT_FIRST;
	self->cfg.input_end = INPUT_LAST;
	self->cfg.domain_start = DOM_FIRST;
	self->cfg.domain_end = DOM_LAST;
	self->cfg.probe_size = PROBE_SIZE;
	self->fd = vg_device_open(&self->mem, &self->cfg);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, vg_rings_up(self->fd, &self->rq, &self->eq,
				 ALL_FEATURES));

	ret = imock_world_init(&self->w);
	if (ret == -ENOENT)
		SKIP(return, "no " IMOCK_DEV_PATH ": kernel without iommufd");
	ASSERT_EQ(0, ret)
		TH_LOG("mock world: %s (CONFIG_IOMMUFD_TEST?)", strerror(-ret));
	ASSERT_EQ(0, vhi_set_iommufd(self->fd, self->w.fd));

	self->viommu_ret = imock_viommu_alloc(self->w.fd, self->w.idev_id,
					      self->w.parent_id,
					      &self->viommu_id);
	/* A kernel without the ioctl is expected; any other error is not. */
	if (self->viommu_ret == -ENOTTY)
		return;
	ASSERT_EQ(0, self->viommu_ret)
		TH_LOG("IOMMU_VIOMMU_ALLOC: %s", strerror(-self->viommu_ret));
	ASSERT_EQ(0, imock_vdevice_alloc(self->w.fd, self->viommu_id,
					 self->w.idev_id, VIRT_A,
					 &self->vdev_a));
	ASSERT_EQ(0, imock_mock_domain(self->w.fd, self->w.ioas_id,
				       &self->stdev_b, &hwpt_b, &self->idev_b));
	ASSERT_EQ(0, imock_vdevice_alloc(self->w.fd, self->viommu_id,
					 self->idev_b, VIRT_B, &self->vdev_b));
	ASSERT_EQ(0, vhi_add_endpoint(self->fd, EP_A, self->w.idev_id,
				      VIRT_A));
	ASSERT_EQ(0, vhi_add_endpoint(self->fd, EP_B, self->idev_b, VIRT_B));
}

FIXTURE_TEARDOWN(viommu)
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

/* ------------------------------------------------------------------ */
/* Requests */

/* One page with architecture ID @id: the mock's cache slot @id. */
static void mk_inval_slot(struct virtio_iommu_req_invalidate *r,
			  __u32 domain, __u64 id)
{
	vg_inval_range(r, domain, VIRTIO_IOMMU_INVAL_F_ID, IN_RANGE, 1, 12);
	r->id = htole64(id);
}

static __u8 req_status(struct _test_data_viommu *self,
		       const struct vg_req *req)
{
	__u8 st = 0xff;

	vg_req_status(&self->rq, req, &st);
	return st;
}

/* The next used entry must be @req's, with the whole writable size. */
static __u8 wait_done(struct __test_metadata *_metadata,
		      struct _test_data_viommu *self, const struct vg_req *req)
{
	__u32 id = ~0u, len = 0;

	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len))
		TH_LOG("no used entry within %d ms", VG_TIMEOUT_MS);
	EXPECT_EQ(req->head, id);
	EXPECT_EQ(INVAL_OUT, len);
	return req_status(self, req);
}

static void expect_inval(struct __test_metadata *_metadata,
			 struct _test_data_viommu *self,
			 const struct virtio_iommu_req_invalidate *r, __u8 want,
			 const char *what)
{
	struct vg_req req;
	__u8 got;

	ASSERT_EQ(0, vg_submit(&self->rq, r, INVAL_IN, INVAL_OUT, 0, &req));
	got = wait_done(_metadata, self, &req);
	EXPECT_EQ(want, got)
		TH_LOG("%s: status %s, expected %s", what,
		       vhi_status_name(got), vhi_status_name(want));
}

static void get_stats(struct __test_metadata *_metadata,
		      struct _test_data_viommu *self,
		      struct vhost_iommu_stats *st)
{
	ASSERT_EQ(0, vhi_get_stats(self->fd, st));
}

/* ------------------------------------------------------------------ */
/* The mock's view: the cache slots of one device */

static const char *cache_str(struct _test_data_viommu *self, __u32 idev,
			     char *buf, size_t len)
{
	__u32 s[IMOCK_DEV_CACHE_NUM];
	int ret;

	ret = imock_read_dev_caches(self->w.fd, idev, s);
	if (ret)
		snprintf(buf, len, "(unreadable: %s)", strerror(-ret));
	else
		snprintf(buf, len, "[%#x %#x %#x %#x]", s[0], s[1], s[2], s[3]);
	return buf;
}

/* Slots of device @idev in @zeroed hold 0, the others their first value. */
static void expect_cache(struct __test_metadata *_metadata,
			 struct _test_data_viommu *self, __u32 idev,
			 unsigned int zeroed, const char *what)
{
	unsigned int i;
	char buf[80];
	__u32 want;

	for (i = 0; i < IMOCK_DEV_CACHE_NUM; i++) {
		want = zeroed & SLOT(i) ? 0 : IMOCK_DEV_CACHE_DEFAULT;
		EXPECT_EQ(0, imock_check_dev_cache(self->w.fd, idev, i, want))
			TH_LOG("%s: device %u slot %u should be %#x; slots %s",
			       what, idev, i, want,
			       cache_str(self, idev, buf, sizeof(buf)));
	}
}

/* ------------------------------------------------------------------ */
/* Bindings */

static void bind_init(struct vhost_iommu_bind *b, __u32 domain,
		      __u32 object_id, const __u32 *eps, __u32 nr)
{
	memset(b, 0, sizeof(*b));
	b->size = sizeof(*b);
	b->domain = domain;
	b->object_id = object_id;
	b->format = FORMAT;
	b->input_start = BIND_START;
	b->input_end = BIND_END;
	b->granule_log2 = BIND_GRANULE;
	b->nr_endpoints = nr;
	b->endpoints_uptr = (uintptr_t)eps;
}

/* Binds @domain to the vIOMMU with @nr endpoints. */
static int bind_eps(struct _test_data_viommu *self, __u32 domain,
		    const __u32 *eps, __u32 nr)
{
	struct vhost_iommu_bind b;

	bind_init(&b, domain, self->viommu_id, eps, nr);
	return vhi_bind_domain(self->fd, &b);
}

static const __u32 eps_a[] = { EP_A };
static const __u32 eps_b[] = { EP_B };
static const __u32 eps_ab[] = { EP_A, EP_B };

/* ------------------------------------------------------------------ */
/* What the kernel has */

TEST_F(viommu, format_advertised_and_bindable_iff_viommu_alloc_works)
{
	struct vhost_iommu_info info;
	struct vhost_iommu_bind b;
	bool have = !self->viommu_ret;
	__u32 ep = EP_A;

	ASSERT_EQ(0, vhi_get_info(self->fd, &info));
	EXPECT_EQ(have, !!(info.inv_formats & (1ull << FORMAT)))
		TH_LOG("inv_formats %#llx, IOMMU_VIOMMU_ALLOC %s",
		       (unsigned long long)info.inv_formats,
		       strerror(-self->viommu_ret));
	if (!have) {
		/* Well formed in every other respect. */
		ASSERT_EQ(0, vhi_add_endpoint(self->fd, EP_A, self->w.idev_id,
					      VIRT_A));
		bind_init(&b, DOM_A, self->w.nested_id, &ep, 1);
		EXPECT_EQ(-EOPNOTSUPP, vhi_bind_domain(self->fd, &b));
		EXPECT_EQ(-ENOENT, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
		return;
	}
	EXPECT_EQ(0, bind_eps(self, DOM_A, eps_a, 1));
	EXPECT_EQ(0, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
}

TEST_F(viommu, mock_direct_invalidate_zeroes_device_slots_by_virt_id)
{
	struct imock_viommu_invalidate_selftest e[2] = {
		{ .vdev_id = VIRT_B, .cache_id = 1 },
		{ .vdev_id = VIRT_B + 1, .cache_id = 2 },
	};
	__u32 done = 99;

	/* What the device's translation builds on: virt ID, not dev ID. */
	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	expect_cache(_metadata, self, self->idev_b, NO_SLOTS, "fresh");
	EXPECT_EQ(-EINVAL, imock_viommu_invalidate(self->w.fd,
						   self->viommu_id, e, 2,
						   &done));
	EXPECT_EQ(1u, done);
	expect_cache(_metadata, self, self->idev_b, SLOT(1), "B");
	expect_cache(_metadata, self, self->w.idev_id, NO_SLOTS, "A");
}

/* ------------------------------------------------------------------ */
/* Objects and endpoints */

TEST_F(viommu, vdevice_and_endpoint_take_the_virt_id)
{
	__u32 id;

	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	/* One vDEVICE per device, one device per virt ID. */
	EXPECT_EQ(-EEXIST, imock_vdevice_alloc(self->w.fd, self->viommu_id,
					       self->w.idev_id, VIRT_A + 1,
					       &id));
	/* The endpoint keeps what it was registered with. */
	EXPECT_EQ(-EEXIST, vhi_add_endpoint(self->fd, EP_A, self->w.idev_id,
					    VIRT_A));
	/* A virt ID wider than 32 bits cannot be put in an entry. */
	EXPECT_EQ(-EINVAL, vhi_add_endpoint(self->fd, EP_B + 1,
					    self->w.idev_id, 1ULL << 32));
	/* The vIOMMU is in use while its vDEVICEs exist. */
	EXPECT_EQ(-EBUSY, imock_destroy(self->w.fd, self->viommu_id));
}

TEST_F(viommu, bind_registered_endpoints_accepted)
{
	struct vhost_iommu_bind b;

	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	EXPECT_EQ(0, bind_eps(self, DOM_A, eps_ab, ARRAY_SIZE(eps_ab)));
	EXPECT_EQ(0, bind_eps(self, DOM_B, eps_b, 1));
	/* No endpoint is allowed too: nothing to invalidate yet. */
	bind_init(&b, DOM_B, self->viommu_id, NULL, 0);
	EXPECT_EQ(0, vhi_bind_domain(self->fd, &b));
	EXPECT_EQ(0, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
	EXPECT_EQ(0, vhi_unbind_domain(self->fd, DOM_B, 0, 0));
}

TEST_F(viommu, bind_unregistered_endpoint_einval)
{
	const __u32 eps[] = { EP_A, EP_B + 1 };

	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	EXPECT_EQ(-EINVAL, bind_eps(self, DOM_A, eps, ARRAY_SIZE(eps)));
	EXPECT_EQ(-ENOENT, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
}

TEST_F(viommu, bind_too_many_endpoints_einval)
{
	__u32 eps[VHOST_IOMMU_MAX_BIND_ENDPOINTS + 1];
	unsigned int i;

	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	for (i = 0; i < ARRAY_SIZE(eps); i++) {
		eps[i] = 100 + i;
		ASSERT_EQ(0, vhi_add_endpoint(self->fd, eps[i],
					      self->w.idev_id, VIRT_A));
	}
	EXPECT_EQ(-EINVAL, bind_eps(self, DOM_A, eps, ARRAY_SIZE(eps)));
	EXPECT_EQ(-ENOENT, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
	/* The limit itself is fine. */
	EXPECT_EQ(0, bind_eps(self, DOM_A, eps, ARRAY_SIZE(eps) - 1));
}

/* ------------------------------------------------------------------ */
/* The translation, seen in the mock devices' caches */

TEST_F(viommu, domain_scope_zeroes_all_slots_of_bound_device_only)
{
	struct virtio_iommu_req_invalidate r;

	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	ASSERT_EQ(0, bind_eps(self, DOM_A, eps_a, 1));
	ASSERT_EQ(0, bind_eps(self, DOM_B, eps_b, 1));
	vg_inval_domain(&r, DOM_A);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "DOMAIN A");
	expect_cache(_metadata, self, self->w.idev_id, ALL_SLOTS, "A");
	expect_cache(_metadata, self, self->idev_b, NO_SLOTS, "B");
}

TEST_F(viommu, address_scope_id_2_zeroes_only_slot_2)
{
	struct virtio_iommu_req_invalidate r;

	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	ASSERT_EQ(0, bind_eps(self, DOM_A, eps_a, 1));
	mk_inval_slot(&r, DOM_A, 2);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "id 2");
	expect_cache(_metadata, self, self->w.idev_id, SLOT(2), "id 2");
	/* Without F_ID the id means nothing: every slot. */
	vg_inval_range(&r, DOM_A, 0, IN_RANGE, 16, 12);
	r.id = htole64(1);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "no F_ID");
	expect_cache(_metadata, self, self->w.idev_id, ALL_SLOTS, "no F_ID");
}

TEST_F(viommu, address_scope_id_7_inval_nothing_changes)
{
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;

	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	ASSERT_EQ(0, bind_eps(self, DOM_A, eps_ab, ARRAY_SIZE(eps_ab)));
	get_stats(_metadata, self, &s0);
	mk_inval_slot(&r, DOM_A, 7);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_INVAL, "id 7");
	expect_cache(_metadata, self, self->w.idev_id, NO_SLOTS, "A");
	expect_cache(_metadata, self, self->idev_b, NO_SLOTS, "B");
	/* iommufd refused it, not the device. */
	get_stats(_metadata, self, &s1);
	EXPECT_EQ(s0.out_inval_errors + 1, s1.out_inval_errors);
}

TEST_F(viommu, two_endpoints_in_one_binding_both_invalidated)
{
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;

	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	ASSERT_EQ(0, bind_eps(self, DOM_A, eps_ab, ARRAY_SIZE(eps_ab)));
	get_stats(_metadata, self, &s0);
	mk_inval_slot(&r, DOM_A, 3);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "id 3");
	expect_cache(_metadata, self, self->w.idev_id, SLOT(3), "A, id 3");
	expect_cache(_metadata, self, self->idev_b, SLOT(3), "B, id 3");
	vg_inval_domain(&r, DOM_A);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "DOMAIN");
	expect_cache(_metadata, self, self->w.idev_id, ALL_SLOTS, "A");
	expect_cache(_metadata, self, self->idev_b, ALL_SLOTS, "B");
	/* Both entries of a request go in one call. */
	get_stats(_metadata, self, &s1);
	EXPECT_EQ(s0.out_iommufd_calls + 2, s1.out_iommufd_calls);
}

TEST_F(viommu, removed_endpoint_no_longer_invalidated)
{
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;

	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	ASSERT_EQ(0, bind_eps(self, DOM_A, eps_ab, ARRAY_SIZE(eps_ab)));
	ASSERT_EQ(0, vhi_remove_endpoint(self->fd, EP_B));
	mk_inval_slot(&r, DOM_A, 0);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "without B");
	expect_cache(_metadata, self, self->w.idev_id, SLOT(0), "A");
	expect_cache(_metadata, self, self->idev_b, NO_SLOTS, "B removed");

	/* With no endpoint left there is nothing to send. */
	ASSERT_EQ(0, vhi_remove_endpoint(self->fd, EP_A));
	get_stats(_metadata, self, &s0);
	vg_inval_domain(&r, DOM_A);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "none left");
	get_stats(_metadata, self, &s1);
	EXPECT_EQ(s0.out_iommufd_calls, s1.out_iommufd_calls);
	expect_cache(_metadata, self, self->w.idev_id, SLOT(0), "A removed");
	expect_cache(_metadata, self, self->idev_b, NO_SLOTS, "B removed");
}

TEST_F(viommu, pasid_cache_only_unsupp_nothing_changes)
{
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;

	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	ASSERT_EQ(0, bind_eps(self, DOM_A, eps_a, 1));
	get_stats(_metadata, self, &s0);
	vg_inval_init(&r, DOM_A, VIRTIO_IOMMU_INVAL_S_DOMAIN,
		      VIRTIO_IOMMU_INVAL_C_PASID, 0);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_UNSUPP, "C_PASID");
	expect_cache(_metadata, self, self->w.idev_id, NO_SLOTS, "C_PASID");
	get_stats(_metadata, self, &s1);
	EXPECT_EQ(s0.out_iommufd_calls, s1.out_iommufd_calls);
}

TEST_F(viommu, range_outside_binding_ok_nothing_changes)
{
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;

	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	ASSERT_EQ(0, bind_eps(self, DOM_A, eps_ab, ARRAY_SIZE(eps_ab)));
	get_stats(_metadata, self, &s0);
	/* Ends right below the bound range. */
	vg_inval_range(&r, DOM_A, VIRTIO_IOMMU_INVAL_F_ID,
		       BIND_START - 0x10000, 16, 12);
	r.id = htole64(1);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "below");
	/* Starts right above it, without an ID (which would mean all). */
	vg_inval_range(&r, DOM_A, 0, BIND_END + 1, 1, 21);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_OK, "above");
	expect_cache(_metadata, self, self->w.idev_id, NO_SLOTS, "A");
	expect_cache(_metadata, self, self->idev_b, NO_SLOTS, "B");
	get_stats(_metadata, self, &s1);
	EXPECT_EQ(s0.out_iommufd_calls, s1.out_iommufd_calls);
}

/* ------------------------------------------------------------------ */
/* Objects going away under a binding */

TEST_F(viommu, destroyed_vdevice_inval)
{
	struct virtio_iommu_req_invalidate r;

	/* The mock finds no device by that virt ID any more. */
	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	ASSERT_EQ(0, bind_eps(self, DOM_A, eps_a, 1));
	ASSERT_EQ(0, imock_destroy(self->w.fd, self->vdev_a));
	vg_inval_domain(&r, DOM_A);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_INVAL, "no vDEVICE");
	expect_cache(_metadata, self, self->w.idev_id, NO_SLOTS, "A");
}

TEST_F(viommu, destroyed_viommu_noent)
{
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;

	/* The VMM breaks the rule and destroys the object before unbinding. */
	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	ASSERT_EQ(0, bind_eps(self, DOM_A, eps_ab, ARRAY_SIZE(eps_ab)));
	ASSERT_EQ(0, imock_destroy(self->w.fd, self->vdev_a));
	ASSERT_EQ(0, imock_destroy(self->w.fd, self->vdev_b));
	ASSERT_EQ(0, imock_destroy(self->w.fd, self->viommu_id));
	get_stats(_metadata, self, &s0);
	vg_inval_domain(&r, DOM_A);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_NOENT, "destroyed");
	get_stats(_metadata, self, &s1);
	EXPECT_EQ(s0.out_inval_errors + 1, s1.out_inval_errors);
	expect_cache(_metadata, self, self->w.idev_id, NO_SLOTS, "A");
	expect_cache(_metadata, self, self->idev_b, NO_SLOTS, "B");
	/* The binding can still go. */
	EXPECT_EQ(0, vhi_unbind_domain(self->fd, DOM_A, 0, 0));
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_NOENT, "unbound");
}

TEST_F(viommu, viommu_id_taken_by_ioas_inval)
{
	struct virtio_iommu_req_invalidate r;
	__u32 ioas;

	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	ASSERT_EQ(0, bind_eps(self, DOM_A, eps_a, 1));
	ASSERT_EQ(0, imock_destroy(self->w.fd, self->vdev_a));
	ASSERT_EQ(0, imock_destroy(self->w.fd, self->vdev_b));
	ASSERT_EQ(0, imock_destroy(self->w.fd, self->viommu_id));
	ASSERT_EQ(0, imock_ioas_alloc(self->w.fd, &ioas));
	if (ioas != self->viommu_id)
		SKIP(return, "iommufd gave the IOAS ID %u, not %u", ioas,
		     self->viommu_id);
	/* iommufd invalidates only HWPTs and vIOMMUs: -EINVAL. */
	vg_inval_domain(&r, DOM_A);
	expect_inval(_metadata, self, &r, VIRTIO_IOMMU_S_INVAL, "IOAS");
}

/* ------------------------------------------------------------------ */
/* Batching */

TEST_F_TIMEOUT(viommu, batch_of_128_two_endpoints_is_one_iommufd_call, 120)
{
	static struct vg_req reqs[128];
	struct virtio_iommu_req_invalidate r;
	struct vhost_iommu_stats s0, s1;
	unsigned int i, bad = 0;
	__u8 st;

	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	ASSERT_EQ(0, bind_eps(self, DOM_A, eps_ab, ARRAY_SIZE(eps_ab)));
	get_stats(_metadata, self, &s0);
	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		mk_inval_slot(&r, DOM_A, i % IMOCK_DEV_CACHE_NUM);
		ASSERT_EQ(0, vg_submit(&self->rq, &r, INVAL_IN, INVAL_OUT,
				       VG_SUBMIT_NO_PUBLISH, &reqs[i]));
	}
	vg_publish(&self->rq);
	ASSERT_EQ(0, vg_kick(&self->rq));
	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		st = wait_done(_metadata, self, &reqs[i]);
		if (st != VIRTIO_IOMMU_S_OK && !bad++)
			TH_LOG("request %u: %s", i, vhi_status_name(st));
	}
	EXPECT_EQ(0u, bad);
	get_stats(_metadata, self, &s1);
	/* 256 entries, two per request: one call. */
	EXPECT_EQ(s0.out_iommufd_calls + 1, s1.out_iommufd_calls);
	EXPECT_EQ(s0.out_inval_batches + 1, s1.out_inval_batches);
	EXPECT_EQ(s0.out_invalidations + ARRAY_SIZE(reqs),
		  s1.out_invalidations);
	expect_cache(_metadata, self, self->w.idev_id, ALL_SLOTS, "A");
	expect_cache(_metadata, self, self->idev_b, ALL_SLOTS, "B");
}

/* ------------------------------------------------------------------ */
/* Page requests from a device behind the vIOMMU */

TEST_F(viommu, page_request_on_viommu_nested_hwpt_round_trip)
{
	struct iommu_hwpt_page_response pr = {
		.cookie = 1,
		.code = IOMMUFD_PAGE_RESP_INVALID,
	};
	struct virtio_iommu_req_page_resp resp;
	struct virtio_iommu_page_req ev;
	struct vhost_iommu_stats st;
	struct vg_req evs[4], req;
	__u32 fault_id, nested, id = ~0u, len = 0;
	int fault_fd, ret;
	unsigned int i;
	__u8 status = 0xff;

	if (self->viommu_ret)
		SKIP(return, NO_VIOMMU);
	ASSERT_EQ(0, imock_fault_alloc(self->w.fd, &fault_id, &fault_fd));
	ASSERT_EQ(0, imock_hwpt_alloc_nested(self->w.fd, self->w.idev_id,
					     self->viommu_id, fault_id,
					     &nested));
	ret = imock_domain_replace(self->w.fd, self->w.stdev_id, nested);
	ASSERT_EQ(0, ret)
		TH_LOG("attach to the vIOMMU's HWPT: %s", strerror(-ret));
	ASSERT_EQ(0, vhi_set_fault_queue(self->fd, fault_fd));

	for (i = 0; i < ARRAY_SIZE(evs); i++)
		ASSERT_EQ(0, vg_post_writable(&self->eq, EV_SIZE,
					      VG_SUBMIT_NO_PUBLISH, &evs[i]));
	vg_publish(&self->eq);
	ASSERT_EQ(0, vg_kick(&self->eq));
	ASSERT_EQ(0, imock_trigger_iopf(self->w.fd, self->w.idev_id, 0, 5,
					IOMMU_PGFAULT_PERM_READ,
					IN_RANGE));
	ASSERT_EQ(0, vg_wait_used(&self->eq, VG_TIMEOUT_MS, &id, &len))
		TH_LOG("no event within %d ms", VG_TIMEOUT_MS);
	ASSERT_EQ(evs[0].head, id);
	ASSERT_EQ(EV_SIZE, len);
	ASSERT_EQ(0, vg_read(&self->mem, evs[0].out_gpa, &ev, sizeof(ev)));
	EXPECT_EQ(VIRTIO_IOMMU_FAULT_R_MAPPING, ev.reason);
	EXPECT_EQ((__u32)(VIRTIO_IOMMU_FAULT_F_PAGE_REQ |
			  VIRTIO_IOMMU_FAULT_F_ADDRESS |
			  VIRTIO_IOMMU_FAULT_F_GROUP_ID |
			  VIRTIO_IOMMU_FAULT_F_LAST |
			  VIRTIO_IOMMU_FAULT_F_READ), le32toh(ev.flags));
	EXPECT_EQ((__u32)EP_A, le32toh(ev.endpoint));
	EXPECT_EQ(IN_RANGE, le64toh(ev.address));
	EXPECT_EQ(5, le16toh(ev.group_id));

	memset(&resp, 0, sizeof(resp));
	resp.head.type = VIRTIO_IOMMU_T_PAGE_RESP;
	resp.endpoint = htole32(EP_A);
	resp.grpid = htole32(5);
	resp.resp_code = htole16(VIRTIO_IOMMU_PAGE_RESP_SUCCESS);
	ASSERT_EQ(0, vg_submit(&self->rq, &resp, RESP_IN, INVAL_OUT, 0,
			       &req));
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(req.head, id);
	vg_req_status(&self->rq, &req, &status);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, status);
	/* iommufd took the answer: its cookie cannot be answered again. */
	EXPECT_EQ(-1, write(fault_fd, &pr, sizeof(pr)));
	EXPECT_EQ(EINVAL, errno);
	get_stats(_metadata, self, &st);
	EXPECT_EQ(1u, st.out_page_reqs);
	EXPECT_EQ(1u, st.out_page_resps);
	EXPECT_EQ(0u, st.out_fault_errors);

	/* The HWPT is the vIOMMU's: it keeps the vIOMMU busy. */
	EXPECT_EQ(-EBUSY, imock_destroy(self->w.fd, self->viommu_id));
	EXPECT_EQ(0, vhi_set_fault_queue(self->fd, -1));
	close(fault_fd);
}

TEST_HARNESS_MAIN
