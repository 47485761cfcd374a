// SPDX-License-Identifier: GPL-2.0-only
/*
 * The iommufd selftest mock from userspace. See iommufd_mock.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "iommufd_mock.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

static int imock_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static void imock_cmd_init(struct imock_test_cmd *cmd, __u32 op, __u32 id)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->size = sizeof(*cmd);
	cmd->op = op;
	cmd->id = id;
}

int imock_open(void)
{
	int fd = open(IMOCK_DEV_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int imock_ioas_alloc(int fd, __u32 *ioas_id)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	int ret;

	ret = imock_ioctl(fd, IOMMU_IOAS_ALLOC, &a);
	if (!ret)
		*ioas_id = a.out_ioas_id;
	return ret;
}

int imock_destroy(int fd, __u32 id)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = id };

	return imock_ioctl(fd, IOMMU_DESTROY, &d);
}

int imock_mock_domain(int fd, __u32 ioas_id, __u32 *stdev_id,
		      __u32 *hwpt_id, __u32 *idev_id)
{
	struct imock_test_cmd cmd;
	int ret;

	imock_cmd_init(&cmd, IMOCK_OP_MOCK_DOMAIN, ioas_id);
	ret = imock_ioctl(fd, IMOCK_TEST_CMD, &cmd);
	if (ret)
		return ret;
	if (stdev_id)
		*stdev_id = cmd.mock_domain.out_stdev_id;
	if (hwpt_id)
		*hwpt_id = cmd.mock_domain.out_hwpt_id;
	if (idev_id)
		*idev_id = cmd.mock_domain.out_idev_id;
	return 0;
}

int imock_domain_replace(int fd, __u32 stdev_id, __u32 pt_id)
{
	struct imock_test_cmd cmd;

	imock_cmd_init(&cmd, IMOCK_OP_MOCK_DOMAIN_REPLACE, stdev_id);
	cmd.mock_domain_replace.pt_id = pt_id;
	return imock_ioctl(fd, IMOCK_TEST_CMD, &cmd);
}

int imock_hwpt_alloc_parent(int fd, __u32 idev_id, __u32 ioas_id,
			    __u32 *parent_id)
{
	struct iommu_hwpt_alloc a = {
		.size = sizeof(a),
		.flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
		.dev_id = idev_id,
		.pt_id = ioas_id,
		.data_type = IOMMU_HWPT_DATA_NONE,
	};
	int ret;

	ret = imock_ioctl(fd, IOMMU_HWPT_ALLOC, &a);
	if (!ret)
		*parent_id = a.out_hwpt_id;
	return ret;
}

int imock_hwpt_alloc_nested(int fd, __u32 idev_id, __u32 parent_id,
			    __u32 fault_id, __u32 *nested_id)
{
	struct imock_hwpt_selftest data = { .iotlb = IMOCK_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc a = {
		.size = sizeof(a),
		.dev_id = idev_id,
		.pt_id = parent_id,
		.data_type = IMOCK_HWPT_DATA_SELFTEST,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)&data,
	};
	int ret;

	if (fault_id) {
		a.flags = IOMMU_HWPT_FAULT_ID_VALID;
		a.fault_id = fault_id;
	}
	ret = imock_ioctl(fd, IOMMU_HWPT_ALLOC, &a);
	if (!ret)
		*nested_id = a.out_hwpt_id;
	return ret;
}

int imock_hwpt_invalidate(int fd, __u32 hwpt_id,
			  const struct imock_invalidate_selftest *entries,
			  __u32 n, __u32 *done)
{
	struct iommu_hwpt_invalidate inv = {
		.size = sizeof(inv),
		.hwpt_id = hwpt_id,
		.data_uptr = (uintptr_t)entries,
		.data_type = IMOCK_INVALIDATE_DATA_SELFTEST,
		.entry_len = sizeof(*entries),
		.entry_num = n,
	};
	int ret;

	ret = imock_ioctl(fd, IOMMU_HWPT_INVALIDATE, &inv);
	/* iommufd writes entry_num back on failure too. */
	if (done)
		*done = inv.entry_num;
	return ret;
}

int imock_check_iotlb(int fd, __u32 hwpt_id, unsigned int slot,
		      __u32 expected)
{
	struct imock_test_cmd cmd;

	imock_cmd_init(&cmd, IMOCK_OP_MD_CHECK_IOTLB, hwpt_id);
	cmd.check_iotlb.id = slot;
	cmd.check_iotlb.iotlb = expected;
	return imock_ioctl(fd, IMOCK_TEST_CMD, &cmd);
}

int imock_read_iotlbs(int fd, __u32 hwpt_id, __u32 slots[IMOCK_IOTLB_NUM])
{
	static const __u32 candidates[] = { IMOCK_IOTLB_DEFAULT, 0 };
	unsigned int i, j;
	int ret;

	for (i = 0; i < IMOCK_IOTLB_NUM; i++) {
		slots[i] = IMOCK_IOTLB_UNKNOWN;
		for (j = 0; j < ARRAY_SIZE(candidates); j++) {
			ret = imock_check_iotlb(fd, hwpt_id, i, candidates[j]);
			if (!ret) {
				slots[i] = candidates[j];
				break;
			}
			/* -EINVAL is a mismatch; anything else is an error. */
			if (ret != -EINVAL)
				return ret;
		}
	}
	return 0;
}

int imock_viommu_alloc(int fd, __u32 idev_id, __u32 parent_id,
		       __u32 *viommu_id)
{
	struct imock_viommu_alloc_cmd a = {
		.size = sizeof(a),
		.type = IMOCK_VIOMMU_TYPE_SELFTEST,
		.dev_id = idev_id,
		.hwpt_id = parent_id,
	};
	int ret;

	ret = imock_ioctl(fd, IMOCK_VIOMMU_ALLOC, &a);
	if (!ret)
		*viommu_id = a.out_viommu_id;
	return ret;
}

int imock_vdevice_alloc(int fd, __u32 viommu_id, __u32 idev_id,
			__u64 virt_id, __u32 *vdevice_id)
{
	struct imock_vdevice_alloc_cmd a = {
		.size = sizeof(a),
		.viommu_id = viommu_id,
		.dev_id = idev_id,
		.virt_id = virt_id,
	};
	int ret;

	ret = imock_ioctl(fd, IMOCK_VDEVICE_ALLOC, &a);
	if (!ret)
		*vdevice_id = a.out_vdevice_id;
	return ret;
}

int imock_viommu_invalidate(int fd, __u32 viommu_id,
			    const struct imock_viommu_invalidate_selftest *e,
			    __u32 n, __u32 *done)
{
	struct iommu_hwpt_invalidate inv = {
		.size = sizeof(inv),
		.hwpt_id = viommu_id,
		.data_uptr = (uintptr_t)e,
		.data_type = IMOCK_VIOMMU_INVALIDATE_DATA_SELFTEST,
		.entry_len = sizeof(*e),
		.entry_num = n,
	};
	int ret;

	ret = imock_ioctl(fd, IOMMU_HWPT_INVALIDATE, &inv);
	if (done)
		*done = inv.entry_num;
	return ret;
}

int imock_check_dev_cache(int fd, __u32 idev_id, unsigned int slot,
			  __u32 expected)
{
	struct imock_test_cmd cmd;

	imock_cmd_init(&cmd, IMOCK_OP_DEV_CHECK_CACHE, idev_id);
	cmd.check_dev_cache.id = slot;
	cmd.check_dev_cache.cache = expected;
	return imock_ioctl(fd, IMOCK_TEST_CMD, &cmd);
}

int imock_read_dev_caches(int fd, __u32 idev_id,
			  __u32 slots[IMOCK_DEV_CACHE_NUM])
{
	static const __u32 candidates[] = { IMOCK_DEV_CACHE_DEFAULT, 0 };
	unsigned int i, j;
	int ret;

	for (i = 0; i < IMOCK_DEV_CACHE_NUM; i++) {
		slots[i] = IMOCK_IOTLB_UNKNOWN;
		for (j = 0; j < ARRAY_SIZE(candidates); j++) {
			ret = imock_check_dev_cache(fd, idev_id, i,
						    candidates[j]);
			if (!ret) {
				slots[i] = candidates[j];
				break;
			}
			if (ret != -EINVAL)
				return ret;
		}
	}
	return 0;
}

int imock_fault_alloc(int fd, __u32 *fault_id, int *fault_fd)
{
	struct iommu_fault_alloc a = { .size = sizeof(a) };
	int ret;

	ret = imock_ioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, &a);
	if (ret)
		return ret;
	*fault_id = a.out_fault_id;
	*fault_fd = a.out_fault_fd;
	return 0;
}

int imock_trigger_iopf(int fd, __u32 idev_id, __u32 pasid, __u32 grpid,
		       __u32 perm, __u64 addr)
{
	struct imock_test_cmd cmd;

	imock_cmd_init(&cmd, IMOCK_OP_TRIGGER_IOPF, 0);
	cmd.trigger_iopf.dev_id = idev_id;
	cmd.trigger_iopf.pasid = pasid;
	cmd.trigger_iopf.grpid = grpid;
	cmd.trigger_iopf.perm = perm;
	cmd.trigger_iopf.addr = addr;
	return imock_ioctl(fd, IMOCK_TEST_CMD, &cmd);
}

int imock_world_init(struct imock_world *w)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->fd = imock_open();
	if (w->fd < 0) {
		ret = w->fd;
		w->fd = -1;
		return ret;
	}
	ret = imock_ioas_alloc(w->fd, &w->ioas_id);
	if (!ret)
		ret = imock_mock_domain(w->fd, w->ioas_id, &w->stdev_id,
					&w->auto_hwpt_id, &w->idev_id);
	if (!ret)
		ret = imock_hwpt_alloc_parent(w->fd, w->idev_id, w->ioas_id,
					      &w->parent_id);
	if (!ret)
		ret = imock_hwpt_alloc_nested(w->fd, w->idev_id, w->parent_id,
					      0, &w->nested_id);
	if (ret)
		imock_world_destroy(w);
	return ret;
}

void imock_world_destroy(struct imock_world *w)
{
	/* Closing the last reference frees every object of the context. */
	if (w->fd >= 0)
		close(w->fd);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}
