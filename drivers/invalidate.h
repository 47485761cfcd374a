/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: translation of the guest's generic INVALIDATE into the
 * invalidation formats of host iommufd objects. Pure functions: no state,
 * no iommufd call; request.c sends what they produce.
 */
#ifndef _VHOST_IOMMU_INVALIDATE_H
#define _VHOST_IOMMU_INVALIDATE_H

#include <linux/types.h>
#include <linux/vhost_iommu.h>

/* Most entries one INVALIDATE can become (SMMUv3: CFGI + TLBI + ATC). */
#define VHOST_IOMMU_INV_MAX_ENTRIES	40
/* Largest entry of any format (VT-d: 24 bytes). */
#define VHOST_IOMMU_INV_MAX_ENTRY_LEN	24

/**
 * struct vhost_iommu_inval - a validated INVALIDATE request
 * @scope: VIRTIO_IOMMU_INVAL_S_*
 * @caches: VIRTIO_IOMMU_INVAL_C_*, at least one
 * @flags: VIRTIO_IOMMU_INVAL_F_*
 * @domain: guest domain ID
 * @pasid: PASID, meaningful with VIRTIO_IOMMU_INVAL_F_PASID
 * @id: architecture ID, meaningful with VIRTIO_IOMMU_INVAL_F_ID
 * @first: ADDRESS scope: first byte of the range
 * @last: ADDRESS scope: last byte of the range (inclusive)
 */
struct vhost_iommu_inval {
	u8 scope;
	u8 caches;
	u16 flags;
	u32 domain;
	u32 pasid;
	u64 id;
	u64 first;
	u64 last;
};

/**
 * struct vhost_iommu_inval_target - what a binding says about its object
 * @format: VHOST_IOMMU_INV_FORMAT_*
 * @input_start: first address the domain translates
 * @input_end: last address the domain translates
 * @granule_log2: the domain's smallest page, 12..63
 * @nr_sids: vIOMMU formats: entries of @sids
 * @sids: vIOMMU formats: virt IDs (SMMUv3 virtual stream IDs) of the
 *        domain's endpoints
 */
struct vhost_iommu_inval_target {
	u32 format;
	u64 input_start;
	u64 input_end;
	u32 granule_log2;
	u32 nr_sids;
	u32 sids[VHOST_IOMMU_MAX_BIND_ENDPOINTS];
};

int vhost_iommu_inval_parse(const struct virtio_iommu_req_invalidate *req,
			    struct vhost_iommu_inval *inv);
u32 vhost_iommu_inval_entry_len(u32 format);
int vhost_iommu_inval_translate(const struct vhost_iommu_inval_target *t,
				const struct vhost_iommu_inval *inv,
				void *entries);

#endif /* _VHOST_IOMMU_INVALIDATE_H */
