// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu request framing: the one place that knows request types.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/stddef.h>
#include <kunit/visibility.h>

#include "vhost_iommu.h"

/* Wire sizes fixed by the spec and by our uAPI header. */
static_assert(sizeof(struct virtio_iommu_req_attach_table) == 128);
static_assert(sizeof(struct virtio_iommu_req_invalidate) == 64);
static_assert(sizeof(struct virtio_iommu_req_page_resp) == 40);
static_assert(sizeof(struct virtio_iommu_page_req) == 48);
static_assert(offsetof(struct virtio_iommu_req_invalidate, page_size) == 40);
static_assert(offsetof(struct virtio_iommu_req_page_resp, resp_code) == 24);
static_assert(offsetof(struct virtio_iommu_page_req, group_id) == 24);

/* Offset of the tail, i.e. size of the readable part, of each type. */
static const u32 vhost_iommu_readable[] = {
	[VIRTIO_IOMMU_T_ATTACH] = offsetof(struct virtio_iommu_req_attach, tail),
	[VIRTIO_IOMMU_T_DETACH] = offsetof(struct virtio_iommu_req_detach, tail),
	[VIRTIO_IOMMU_T_MAP] = offsetof(struct virtio_iommu_req_map, tail),
	[VIRTIO_IOMMU_T_UNMAP] = offsetof(struct virtio_iommu_req_unmap, tail),
	[VIRTIO_IOMMU_T_PROBE] =
		offsetof(struct virtio_iommu_req_probe, properties),
	[VIRTIO_IOMMU_T_ATTACH_TABLE] =
		offsetof(struct virtio_iommu_req_attach_table, tail),
	[VIRTIO_IOMMU_T_INVALIDATE] =
		offsetof(struct virtio_iommu_req_invalidate, tail),
	[VIRTIO_IOMMU_T_PAGE_RESP] =
		offsetof(struct virtio_iommu_req_page_resp, tail),
};

/**
 * vhost_iommu_req_layout() - framing of a request type
 * @type: request type from the request head
 * @features: negotiated virtio features
 * @probe_size: the probe_size the VMM presents in the config space
 * @layout: filled with the readable and writable sizes
 *
 * A type whose feature was not negotiated is treated as unknown: the spec
 * says such a request is completed with used length zero.
 *
 * Return: 0, or -EOPNOTSUPP for an unknown or not negotiated type.
 */
int vhost_iommu_req_layout(u8 type, u64 features, u32 probe_size,
			   struct vhost_iommu_req_layout *layout)
{
	u64 need;

	switch (type) {
	case VIRTIO_IOMMU_T_ATTACH:
	case VIRTIO_IOMMU_T_DETACH:
		need = 0;
		break;
	case VIRTIO_IOMMU_T_MAP:
	case VIRTIO_IOMMU_T_UNMAP:
		need = BIT_ULL(VIRTIO_IOMMU_F_MAP_UNMAP);
		break;
	case VIRTIO_IOMMU_T_PROBE:
		if (!probe_size)
			return -EOPNOTSUPP;
		need = BIT_ULL(VIRTIO_IOMMU_F_PROBE);
		break;
	case VIRTIO_IOMMU_T_ATTACH_TABLE:
	case VIRTIO_IOMMU_T_INVALIDATE:
		need = BIT_ULL(VIRTIO_IOMMU_F_ATTACH_TABLE);
		break;
	case VIRTIO_IOMMU_T_PAGE_RESP:
		need = BIT_ULL(VIRTIO_IOMMU_F_PAGE_REQ);
		break;
	default:
		return -EOPNOTSUPP;
	}
	if ((features & need) != need)
		return -EOPNOTSUPP;
	layout->readable = vhost_iommu_readable[type];
	layout->writable = sizeof(struct virtio_iommu_req_tail);
	if (type == VIRTIO_IOMMU_T_PROBE)
		layout->writable += probe_size;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(vhost_iommu_req_layout);
