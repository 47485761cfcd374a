// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite vhost_iommu: request framing, the checks the device makes
 * without the VMM, and guest address translation.
 */
#include <kunit/test.h>
#include <linux/bits.h>
#include <linux/sizes.h>
#include <linux/module.h>

#include "../vhost_iommu.h"

#define ALL_FEATURES (BIT_ULL(VIRTIO_IOMMU_F_MAP_UNMAP) |	\
		      BIT_ULL(VIRTIO_IOMMU_F_PROBE) |		\
		      BIT_ULL(VIRTIO_IOMMU_F_ATTACH_TABLE) |	\
		      BIT_ULL(VIRTIO_IOMMU_F_PAGE_REQ))

struct layout_case {
	u8 type;
	u32 readable;	/* offset of the tail in the guest's struct */
};

/* The tail offsets as the guest lays out its requests. */
static const struct layout_case layout_cases[] = {
	{ VIRTIO_IOMMU_T_ATTACH,
	  offsetof(struct virtio_iommu_req_attach, tail) },
	{ VIRTIO_IOMMU_T_DETACH,
	  offsetof(struct virtio_iommu_req_detach, tail) },
	{ VIRTIO_IOMMU_T_MAP, offsetof(struct virtio_iommu_req_map, tail) },
	{ VIRTIO_IOMMU_T_UNMAP, offsetof(struct virtio_iommu_req_unmap, tail) },
	{ VIRTIO_IOMMU_T_ATTACH_TABLE,
	  offsetof(struct virtio_iommu_req_attach_table, tail) },
	{ VIRTIO_IOMMU_T_INVALIDATE,
	  offsetof(struct virtio_iommu_req_invalidate, tail) },
	{ VIRTIO_IOMMU_T_PAGE_RESP,
	  offsetof(struct virtio_iommu_req_page_resp, tail) },
};

static void vhost_iommu_layout_known_types(struct kunit *test)
{
	struct vhost_iommu_req_layout l;
	int i;

	for (i = 0; i < ARRAY_SIZE(layout_cases); i++) {
		KUNIT_ASSERT_EQ(test, 0,
				vhost_iommu_req_layout(layout_cases[i].type,
						       ALL_FEATURES, 512, &l));
		KUNIT_EXPECT_EQ(test, l.readable, layout_cases[i].readable);
		KUNIT_EXPECT_EQ(test, l.writable, 4);
	}
}

static void vhost_iommu_layout_probe(struct kunit *test)
{
	struct vhost_iommu_req_layout l;

	KUNIT_ASSERT_EQ(test, 0, vhost_iommu_req_layout(VIRTIO_IOMMU_T_PROBE,
							ALL_FEATURES, 512, &l));
	KUNIT_EXPECT_EQ(test, l.readable,
			offsetof(struct virtio_iommu_req_probe, properties));
	KUNIT_EXPECT_EQ(test, l.writable, 512 + 4);
	/* probe_size 0 means the device has no PROBE. */
	KUNIT_EXPECT_EQ(test, -EOPNOTSUPP,
			vhost_iommu_req_layout(VIRTIO_IOMMU_T_PROBE,
					       ALL_FEATURES, 0, &l));
}

static void vhost_iommu_layout_unknown(struct kunit *test)
{
	struct vhost_iommu_req_layout l;
	unsigned int type;

	for (type = 0; type < 256; type++) {
		if (type >= VIRTIO_IOMMU_T_ATTACH &&
		    type <= VIRTIO_IOMMU_T_PAGE_RESP)
			continue;
		KUNIT_EXPECT_EQ_MSG(test, -EOPNOTSUPP,
				    vhost_iommu_req_layout(type, ALL_FEATURES,
							   512, &l),
				    "type %u", type);
	}
}

/* A type whose feature is not negotiated is an unknown type. */
static void vhost_iommu_layout_feature_gated(struct kunit *test)
{
	static const struct {
		u8 type;
		unsigned int feature;
	} gated[] = {
		{ VIRTIO_IOMMU_T_MAP, VIRTIO_IOMMU_F_MAP_UNMAP },
		{ VIRTIO_IOMMU_T_UNMAP, VIRTIO_IOMMU_F_MAP_UNMAP },
		{ VIRTIO_IOMMU_T_PROBE, VIRTIO_IOMMU_F_PROBE },
		{ VIRTIO_IOMMU_T_ATTACH_TABLE, VIRTIO_IOMMU_F_ATTACH_TABLE },
		{ VIRTIO_IOMMU_T_INVALIDATE, VIRTIO_IOMMU_F_ATTACH_TABLE },
		{ VIRTIO_IOMMU_T_PAGE_RESP, VIRTIO_IOMMU_F_PAGE_REQ },
	};
	struct vhost_iommu_req_layout l;
	int i;

	for (i = 0; i < ARRAY_SIZE(gated); i++) {
		u64 features = ALL_FEATURES & ~BIT_ULL(gated[i].feature);

		KUNIT_EXPECT_EQ_MSG(test, -EOPNOTSUPP,
				    vhost_iommu_req_layout(gated[i].type,
							   features, 512, &l),
				    "type %u", gated[i].type);
	}
	/* ATTACH and DETACH need no feature. */
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_req_layout(VIRTIO_IOMMU_T_ATTACH,
							0, 0, &l));
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_req_layout(VIRTIO_IOMMU_T_DETACH,
							0, 0, &l));
}

static const struct vhost_iommu_config_state test_config = {
	.page_size_mask = SZ_4K | SZ_2M,
	.input_start = SZ_1M,
	.input_end = SZ_4G - 1,
	.domain_start = 1,
	.domain_end = 100,
	.probe_size = 512,
};

#define RANGES (BIT_ULL(VIRTIO_IOMMU_F_INPUT_RANGE) |	\
		BIT_ULL(VIRTIO_IOMMU_F_DOMAIN_RANGE))

static int check(u8 type, const void *req, u64 features)
{
	return vhost_iommu_req_check(type, req, features, &test_config);
}

static void vhost_iommu_check_attach(struct kunit *test)
{
	struct virtio_iommu_req_attach r = {
		.domain = cpu_to_le32(5),
		.endpoint = cpu_to_le32(8),
	};
	u64 f = RANGES;

	KUNIT_EXPECT_EQ(test, VHOST_IOMMU_TO_VMM,
			check(VIRTIO_IOMMU_T_ATTACH, &r, f));
	r.reserved[3] = 1;
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			check(VIRTIO_IOMMU_T_ATTACH, &r, f));
	r.reserved[3] = 0;
	r.flags = cpu_to_le32(VIRTIO_IOMMU_ATTACH_F_BYPASS);
	/* BYPASS is a known flag only with BYPASS_CONFIG. */
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			check(VIRTIO_IOMMU_T_ATTACH, &r, f));
	KUNIT_EXPECT_EQ(test, VHOST_IOMMU_TO_VMM,
			check(VIRTIO_IOMMU_T_ATTACH, &r,
			      f | BIT_ULL(VIRTIO_IOMMU_F_BYPASS_CONFIG)));
	r.flags = cpu_to_le32(BIT(1));
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			check(VIRTIO_IOMMU_T_ATTACH, &r,
			      f | BIT_ULL(VIRTIO_IOMMU_F_BYPASS_CONFIG)));
	r.flags = 0;
	r.domain = cpu_to_le32(101);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_RANGE,
			check(VIRTIO_IOMMU_T_ATTACH, &r, f));
	r.domain = 0;
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_RANGE,
			check(VIRTIO_IOMMU_T_ATTACH, &r, f));
	/* Without DOMAIN_RANGE any domain is valid, 0 included. */
	KUNIT_EXPECT_EQ(test, VHOST_IOMMU_TO_VMM,
			check(VIRTIO_IOMMU_T_ATTACH, &r, 0));
}

static void vhost_iommu_check_map(struct kunit *test)
{
	struct virtio_iommu_req_map r = {
		.domain = cpu_to_le32(1),
		.virt_start = cpu_to_le64(SZ_2M),
		.virt_end = cpu_to_le64(SZ_2M + SZ_8K - 1),
		.phys_start = cpu_to_le64(SZ_1G),
		.flags = cpu_to_le32(VIRTIO_IOMMU_MAP_F_READ |
				     VIRTIO_IOMMU_MAP_F_WRITE),
	};
	u64 f = RANGES;

	KUNIT_EXPECT_EQ(test, VHOST_IOMMU_TO_VMM,
			check(VIRTIO_IOMMU_T_MAP, &r, f));
	r.flags |= cpu_to_le32(VIRTIO_IOMMU_MAP_F_MMIO);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			check(VIRTIO_IOMMU_T_MAP, &r, f));
	KUNIT_EXPECT_EQ(test, VHOST_IOMMU_TO_VMM,
			check(VIRTIO_IOMMU_T_MAP, &r,
			      f | BIT_ULL(VIRTIO_IOMMU_F_MMIO)));
	r.flags = cpu_to_le32(BIT(3));
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			check(VIRTIO_IOMMU_T_MAP, &r, f));
	r.flags = cpu_to_le32(VIRTIO_IOMMU_MAP_F_READ);

	/* The granule is the lowest bit of page_size_mask: 4 KiB here. */
	r.virt_start = cpu_to_le64(SZ_2M + 512);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_RANGE,
			check(VIRTIO_IOMMU_T_MAP, &r, f));
	r.virt_start = cpu_to_le64(SZ_2M);
	r.phys_start = cpu_to_le64(SZ_1G + 1);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_RANGE,
			check(VIRTIO_IOMMU_T_MAP, &r, f));
	r.phys_start = cpu_to_le64(SZ_1G);
	r.virt_end = cpu_to_le64(SZ_2M + SZ_8K);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_RANGE,
			check(VIRTIO_IOMMU_T_MAP, &r, f));
	r.virt_end = cpu_to_le64(SZ_2M - 1);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			check(VIRTIO_IOMMU_T_MAP, &r, f));

	/* Input range, only when negotiated. */
	r.virt_start = cpu_to_le64(0);
	r.virt_end = cpu_to_le64(SZ_4K - 1);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_RANGE,
			check(VIRTIO_IOMMU_T_MAP, &r, f));
	KUNIT_EXPECT_EQ(test, VHOST_IOMMU_TO_VMM,
			check(VIRTIO_IOMMU_T_MAP, &r,
			      BIT_ULL(VIRTIO_IOMMU_F_DOMAIN_RANGE)));
	/* A range ending at the top of the space is aligned. */
	r.virt_start = cpu_to_le64(U64_MAX - SZ_4K + 1);
	r.virt_end = cpu_to_le64(U64_MAX);
	KUNIT_EXPECT_EQ(test, VHOST_IOMMU_TO_VMM,
			check(VIRTIO_IOMMU_T_MAP, &r, 0));
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_RANGE,
			check(VIRTIO_IOMMU_T_MAP, &r, f));
	r.domain = cpu_to_le32(200);
	r.virt_start = cpu_to_le64(SZ_2M);
	r.virt_end = cpu_to_le64(SZ_2M + SZ_4K - 1);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_RANGE,
			check(VIRTIO_IOMMU_T_MAP, &r, f));
}

static void vhost_iommu_check_others(struct kunit *test)
{
	struct virtio_iommu_req_unmap u = {
		.domain = cpu_to_le32(1),
		.virt_start = cpu_to_le64(0),
		.virt_end = cpu_to_le64(U64_MAX),
	};
	struct virtio_iommu_req_detach d = { .reserved = { 1, 2 } };
	struct virtio_iommu_req_probe p = { .reserved = { 7 } };
	struct virtio_iommu_req_invalidate inv = {
		.scope = VIRTIO_IOMMU_INVAL_S_DOMAIN,
	};
	struct virtio_iommu_req_page_resp pr = {};

	/* UNMAP may spill over unmapped space, and outside input_range. */
	KUNIT_EXPECT_EQ(test, VHOST_IOMMU_TO_VMM,
			check(VIRTIO_IOMMU_T_UNMAP, &u, RANGES));
	u.reserved[0] = 1;
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			check(VIRTIO_IOMMU_T_UNMAP, &u, RANGES));
	u.reserved[0] = 0;
	u.virt_end = 0;
	u.virt_start = cpu_to_le64(1);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			check(VIRTIO_IOMMU_T_UNMAP, &u, RANGES));

	/* The device must ignore reserved fields of DETACH and PROBE. */
	KUNIT_EXPECT_EQ(test, VHOST_IOMMU_TO_VMM,
			check(VIRTIO_IOMMU_T_DETACH, &d, RANGES));
	KUNIT_EXPECT_EQ(test, VHOST_IOMMU_TO_VMM,
			check(VIRTIO_IOMMU_T_PROBE, &p, RANGES));

	/* INVALIDATE and PAGE_RESP go to their fast paths. */
	KUNIT_EXPECT_EQ(test, VHOST_IOMMU_FAST_INVAL,
			check(VIRTIO_IOMMU_T_INVALIDATE, &inv, 0));
	inv.reserved[18] = 1;
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			check(VIRTIO_IOMMU_T_INVALIDATE, &inv, 0));
	KUNIT_EXPECT_EQ(test, VHOST_IOMMU_FAST_PAGE_RESP,
			check(VIRTIO_IOMMU_T_PAGE_RESP, &pr, 0));
	pr.reserved[9] = 1;
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			check(VIRTIO_IOMMU_T_PAGE_RESP, &pr, 0));
}

static void vhost_iommu_translate_cases(struct kunit *test)
{
	struct vhost_iommu_mem *mem;
	struct vhost_iommu_seg segs[4];
	int n;

	mem = kunit_kzalloc(test, struct_size(mem, regions, 2), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, mem);
	mem->nregions = 2;
	/* Guest-contiguous, host-discontiguous, then a gap. */
	mem->regions[0] = (struct vhost_iommu_mem_region)
		{ .gpa = 0x10000, .size = 0x1000, .hva = 0x7f0000000000 };
	mem->regions[1] = (struct vhost_iommu_mem_region)
		{ .gpa = 0x11000, .size = 0x1000, .hva = 0x7f0000100000 };

	n = vhost_iommu_translate(mem, 0x10010, 16, segs, 4);
	KUNIT_EXPECT_EQ(test, 1, n);
	KUNIT_EXPECT_EQ(test, 0x7f0000000010ULL, segs[0].hva);
	KUNIT_EXPECT_EQ(test, 16U, segs[0].len);

	n = vhost_iommu_translate(mem, 0x10ff8, 16, segs, 4);
	KUNIT_EXPECT_EQ(test, 2, n);
	KUNIT_EXPECT_EQ(test, 0x7f0000000ff8ULL, segs[0].hva);
	KUNIT_EXPECT_EQ(test, 8U, segs[0].len);
	KUNIT_EXPECT_EQ(test, 0x7f0000100000ULL, segs[1].hva);
	KUNIT_EXPECT_EQ(test, 8U, segs[1].len);
	n = vhost_iommu_translate(mem, 0x10ff8, 16, segs, 1);
	KUNIT_EXPECT_EQ(test, -E2BIG, n);

	/* Running past the table, before it, or around the space. */
	n = vhost_iommu_translate(mem, 0x11ff8, 16, segs, 4);
	KUNIT_EXPECT_EQ(test, -EFAULT, n);
	n = vhost_iommu_translate(mem, 0xfff0, 32, segs, 4);
	KUNIT_EXPECT_EQ(test, -EFAULT, n);
	n = vhost_iommu_translate(mem, U64_MAX - 7, 16, segs, 4);
	KUNIT_EXPECT_EQ(test, -EFAULT, n);
	n = vhost_iommu_translate(NULL, 0x10000, 4, segs, 4);
	KUNIT_EXPECT_EQ(test, -EFAULT, n);
	n = vhost_iommu_translate(mem, 0, 0, segs, 4);
	KUNIT_EXPECT_EQ(test, 0, n);
}

/* A type with no layout never reaches a WARN: it is answered UNSUPP. */
static void vhost_iommu_check_unknown_type(struct kunit *test)
{
	u8 req[VHOST_IOMMU_MAX_READABLE] = { 0x55 };

	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_UNSUPP,
			vhost_iommu_req_check(0x55, req, ALL_FEATURES,
					      &test_config));
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_UNSUPP,
			vhost_iommu_req_check(0, req, ALL_FEATURES,
					      &test_config));
}

/* Removing an endpoint takes its stream ID out of every binding. */
static void vhost_iommu_endpoint_gone_strips_sids(struct kunit *test)
{
	struct vhost_iommu *vi;
	struct vhost_iommu_binding *a, *b;
	static const u32 eps[] = { 4, 5, 6 }, sids[] = { 40, 50, 60 };

	vi = kunit_kzalloc(test, sizeof(*vi), GFP_KERNEL);
	a = kunit_kzalloc(test, sizeof(*a), GFP_KERNEL);
	b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, vi);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	mutex_init(&vi->mutex);
	xa_init(&vi->bindings);
	memcpy(a->eps, eps, sizeof(eps));
	memcpy(a->target.sids, sids, sizeof(sids));
	a->target.nr_sids = 3;
	b->eps[0] = 5;
	b->target.sids[0] = 50;
	b->target.nr_sids = 1;
	KUNIT_ASSERT_EQ(test, 0, xa_err(xa_store(&vi->bindings, 1, a,
						 GFP_KERNEL)));
	KUNIT_ASSERT_EQ(test, 0, xa_err(xa_store(&vi->bindings, 2, b,
						 GFP_KERNEL)));

	mutex_lock(&vi->mutex);
	vhost_iommu_bindings_endpoint_gone(vi, 5);
	mutex_unlock(&vi->mutex);
	KUNIT_EXPECT_EQ(test, 2U, a->target.nr_sids);
	KUNIT_EXPECT_EQ(test, 40U, a->target.sids[0]);
	KUNIT_EXPECT_EQ(test, 60U, a->target.sids[1]);
	KUNIT_EXPECT_EQ(test, 4U, a->eps[0]);
	KUNIT_EXPECT_EQ(test, 6U, a->eps[1]);
	KUNIT_EXPECT_EQ(test, 0U, b->target.nr_sids);

	/* An endpoint no binding lists changes nothing. */
	mutex_lock(&vi->mutex);
	vhost_iommu_bindings_endpoint_gone(vi, 9);
	mutex_unlock(&vi->mutex);
	KUNIT_EXPECT_EQ(test, 2U, a->target.nr_sids);
	xa_destroy(&vi->bindings);
	mutex_destroy(&vi->mutex);
}

static struct kunit_case vhost_iommu_cases[] = {
	KUNIT_CASE(vhost_iommu_layout_known_types),
	KUNIT_CASE(vhost_iommu_layout_probe),
	KUNIT_CASE(vhost_iommu_layout_unknown),
	KUNIT_CASE(vhost_iommu_layout_feature_gated),
	KUNIT_CASE(vhost_iommu_check_attach),
	KUNIT_CASE(vhost_iommu_check_map),
	KUNIT_CASE(vhost_iommu_check_others),
	KUNIT_CASE(vhost_iommu_translate_cases),
	KUNIT_CASE(vhost_iommu_check_unknown_type),
	KUNIT_CASE(vhost_iommu_endpoint_gone_strips_sids),
	{}
};

static struct kunit_suite vhost_iommu_suite = {
	.name = "vhost_iommu",
	.test_cases = vhost_iommu_cases,
};

kunit_test_suite(vhost_iommu_suite);

MODULE_INFO(import_ns, "EXPORTED_FOR_KUNIT_TESTING");
MODULE_DESCRIPTION("KUnit tests for vhost-iommu");
MODULE_LICENSE("GPL");
