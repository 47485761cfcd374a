// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite vhost_iommu: request framing.
 */
#include <kunit/test.h>
#include <linux/bits.h>
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

static struct kunit_case vhost_iommu_cases[] = {
	KUNIT_CASE(vhost_iommu_layout_known_types),
	KUNIT_CASE(vhost_iommu_layout_probe),
	KUNIT_CASE(vhost_iommu_layout_unknown),
	KUNIT_CASE(vhost_iommu_layout_feature_gated),
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
