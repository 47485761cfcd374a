/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu private definitions.
 */
#ifndef _VHOST_IOMMU_H
#define _VHOST_IOMMU_H

#include <linux/types.h>
#include <linux/virtio_iommu.h>
#include <linux/vhost_iommu.h>

/**
 * struct vhost_iommu - one open instance of /dev/vhost-iommu
 *
 * Each open file is an independent device: nothing is shared between
 * instances.
 */
struct vhost_iommu {
	/* Placeholder until the device state lands; keeps the struct non-empty. */
	u32 unused;
};

/**
 * struct vhost_iommu_req_layout - how a request type is framed
 * @readable: bytes of the device-readable part (head included)
 * @writable: bytes of the device-writable part (tail included)
 */
struct vhost_iommu_req_layout {
	u32 readable;
	u32 writable;
};

int vhost_iommu_req_layout(u8 type, u64 features, u32 probe_size,
			   struct vhost_iommu_req_layout *layout);

#endif /* _VHOST_IOMMU_H */
