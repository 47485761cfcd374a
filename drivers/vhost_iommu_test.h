/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * vhost-iommu test builds only (VHOST_IOMMU_TEST_HOOKS, on when the kernel
 * has the iommufd selftest mock): a test ioctl that gives the device a
 * synthetic fault source, for page request groups the mock cannot make.
 * Not part of the uAPI; the number is outside the range the uAPI uses.
 */
#ifndef _VHOST_IOMMU_TEST_H
#define _VHOST_IOMMU_TEST_H

#include <linux/types.h>
#include <linux/vhost.h>

/* Ops of struct vhost_iommu_test_op */
#define VHOST_IOMMU_TEST_FAKE_ATTACH	1	/* a fake fault queue */
#define VHOST_IOMMU_TEST_FAKE_INJECT	2	/* queue @nr records */
#define VHOST_IOMMU_TEST_FAKE_RESPONSES	3	/* take the answers */

/* Records the fake queue holds, answers it keeps. */
#define VHOST_IOMMU_TEST_FAKE_MAX_RECORDS	32768
#define VHOST_IOMMU_TEST_FAKE_MAX_ANSWERS	4096

/**
 * struct vhost_iommu_test_op - ioctl(VHOST_IOMMU_TEST)
 * @size: sizeof(struct vhost_iommu_test_op)
 * @op: VHOST_IOMMU_TEST_FAKE_*
 * @nr: INJECT: struct iommu_hwpt_pgfault records at @uptr, groups made of
 *      consecutive records with one cookie, as iommufd gives them;
 *      RESPONSES: room at @uptr for struct iommu_hwpt_page_response,
 *      replaced by how many were copied
 * @__reserved: must be 0
 * @uptr: the records or the room
 *
 * FAKE_ATTACH replaces the fault queue with a fake one that behaves as
 * iommufd's does: reads return whole groups (-EINVAL when the first does
 * not fit), a response is taken once for a cookie that was read.
 */
struct vhost_iommu_test_op {
	__u32 size;
	__u32 op;
	__u32 nr;
	__u32 __reserved;
	__aligned_u64 uptr;
};

#define VHOST_IOMMU_TEST	_IO(VHOST_VIRTIO, 0xbf)

#endif /* _VHOST_IOMMU_TEST_H */
