// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu calls into iommufd. There is no in-kernel API to invalidate
 * a HWPT: the worker (a thread of the owner, sharing its mm) stages the
 * IOMMU_HWPT_INVALIDATE arguments in a scratch area mapped in the owner's
 * address space and calls the ioctl on the iommufd file it holds. Files
 * are taken and dropped only in the owner's ioctl context or in release.
 * This file knows no rings.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/iommufd.h>
#include <linux/mman.h>
#include <linux/security.h>
#include <linux/uaccess.h>
#include <uapi/linux/iommufd.h>

#include "vhost_iommu.h"

#define VHOST_IOMMU_SCRATCH_CMD		0
#define VHOST_IOMMU_SCRATCH_ENTRIES	64

/**
 * vhost_iommu_hwpt_invalidate() - IOMMU_HWPT_INVALIDATE from the worker
 * @vi: the device, mutex held
 * @object_id: HWPT or vIOMMU ID
 * @data_type: iommufd invalidation data type
 * @entries: @n entries of @entry_len bytes
 * @entry_len: bytes per entry
 * @n: entries, at most %VHOST_IOMMU_INV_BATCH
 *
 * iommufd writes back how many entries it handled, but into memory the
 * VMM can write: that count is not read. Only the return value decides.
 *
 * Return: 0 or the ioctl's error.
 */
int vhost_iommu_hwpt_invalidate(struct vhost_iommu *vi, u32 object_id,
				u32 data_type, const void *entries,
				u32 entry_len, u32 n)
{
	void __user *base = u64_to_user_ptr(vi->scratch);
	struct iommu_hwpt_invalidate __user *ucmd =
		base + VHOST_IOMMU_SCRATCH_CMD;
	struct iommu_hwpt_invalidate cmd = {
		.size = sizeof(cmd),
		.hwpt_id = object_id,
		.data_uptr = vi->scratch + VHOST_IOMMU_SCRATCH_ENTRIES,
		.data_type = data_type,
		.entry_len = entry_len,
		.entry_num = n,
	};
	long ret;

	lockdep_assert_held(&vi->mutex);
	if (!vi->iommufd || !vi->scratch)
		return -ENOENT;
	if (WARN_ON_ONCE((size_t)n * entry_len >
			 VHOST_IOMMU_SCRATCH_SIZE - VHOST_IOMMU_SCRATCH_ENTRIES))
		return -EINVAL;
	if (vhost_iommu_should_fail())
		return -ENOMEM;
	vhost_iommu_count_ua(vi, 2);
	vi->stats.out_iommufd_calls++;
	if (copy_to_user(base + VHOST_IOMMU_SCRATCH_ENTRIES, entries,
			 (size_t)n * entry_len) ||
	    copy_to_user(ucmd, &cmd, sizeof(cmd)))
		return -EFAULT;
	ret = security_file_ioctl(vi->iommufd, IOMMU_HWPT_INVALIDATE,
				  (unsigned long)ucmd);
	if (ret)
		return ret;
	/*
	 * What vfs_ioctl() does, which 7.2 no longer exports. SET_IOMMUFD
	 * took only an iommufd file, whose fops have unlocked_ioctl.
	 */
	ret = vi->iommufd->f_op->unlocked_ioctl(vi->iommufd,
						IOMMU_HWPT_INVALIDATE,
						(unsigned long)ucmd);
	return ret == -ENOIOCTLCMD ? -ENOTTY : ret;
}

/* Read records into owner memory: what iommufd's read takes. */
static ssize_t vhost_iommu_fault_read_user(struct vhost_iommu *vi,
					   struct file *file,
					   void __user *ubuf, size_t count)
{
	loff_t pos = 0;
	ssize_t n;

	if (vhost_iommu_should_fail())
		return -ENOMEM;
	vi->stats.out_iommufd_calls++;
	if (!file)
		return vhost_iommu_fake_read(vi->fq->fake, ubuf, count);
	n = rw_verify_area(READ, file, &pos, count);
	if (n)
		return n;
	return file->f_op->read(file, ubuf, count, &pos);
}

/**
 * vhost_iommu_fault_read_big() - read a group too large for the scratch
 * @vi: the device, mutex held, in the owner's mm
 * @file: the fault queue
 * @uaddr: receives the owner address of the records, to be given to
 *         vhost_iommu_fault_free_big()
 *
 * Maps a temporary area of %VHOST_IOMMU_MAX_PAGE_GROUP_RECORDS records in
 * the owner's memory and reads into it.
 *
 * Return: bytes read, 0, or an error (-EINVAL: the group is larger still);
 * the area is mapped only when bytes were read.
 */
ssize_t vhost_iommu_fault_read_big(struct vhost_iommu *vi, struct file *file,
				   u64 *uaddr)
{
	size_t size = VHOST_IOMMU_MAX_PAGE_GROUP_RECORDS *
		      sizeof(struct iommu_hwpt_pgfault);
	unsigned long addr;
	ssize_t n;

	lockdep_assert_held(&vi->mutex);
	if (current->mm != vi->owner)
		return -ENOENT;
	addr = vm_mmap(NULL, 0, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, 0);
	if (IS_ERR_VALUE(addr))
		return (long)addr;
	n = vhost_iommu_fault_read_user(vi, file, (void __user *)addr, size);
	if (n <= 0 || WARN_ON_ONCE(n > size)) {
		vm_munmap(addr, size);
		return n > 0 ? -EIO : n;
	}
	*uaddr = addr;
	return n;
}

/**
 * vhost_iommu_fault_free_big() - unmap what vhost_iommu_fault_read_big() read
 * @addr: the address it gave
 */
void vhost_iommu_fault_free_big(u64 addr)
{
	vm_munmap(addr, VHOST_IOMMU_MAX_PAGE_GROUP_RECORDS *
			sizeof(struct iommu_hwpt_pgfault));
}

/**
 * vhost_iommu_fault_read() - read page request records from a fault queue
 * @vi: the device, mutex held, in the owner's mm
 * @file: the fault queue
 * @buf: receives whole groups of struct iommu_hwpt_pgfault
 * @count: room in @buf, a multiple of the record size
 *
 * Return: bytes read (0: nothing queued), or an error.
 */
ssize_t vhost_iommu_fault_read(struct vhost_iommu *vi, struct file *file,
			       void *buf, size_t count)
{
	void __user *ubuf = u64_to_user_ptr(vi->scratch);
	ssize_t n;

	lockdep_assert_held(&vi->mutex);
	if (!vi->scratch || current->mm != vi->owner)
		return -ENOENT;
	count = min_t(size_t, count, VHOST_IOMMU_SCRATCH_SIZE);
	n = vhost_iommu_fault_read_user(vi, file, ubuf, count);
	if (n <= 0)
		return n;
	if (WARN_ON_ONCE(n > count))
		return -EIO;
	/* The groups are ours now: a VMM that scribbles here loses them. */
	vhost_iommu_count_ua(vi, 1);
	if (copy_from_user(buf, ubuf, n))
		return -EFAULT;
	return n;
}

/**
 * vhost_iommu_fault_write() - answer page request groups
 * @vi: the device, mutex held, in the owner's mm
 * @file: the fault queue
 * @r: the responses
 * @n: how many
 * @done: receives how many iommufd took
 *
 * iommufd takes responses in order and stops at the first it refuses.
 *
 * Return: 0 if all were taken, else the error for response *@done.
 */
int vhost_iommu_fault_write(struct vhost_iommu *vi, struct file *file,
			    const struct iommu_hwpt_page_response *r, u32 n,
			    u32 *done)
{
	void __user *ubuf = u64_to_user_ptr(vi->scratch);
	size_t count = (size_t)n * sizeof(*r);
	loff_t pos = 0;
	ssize_t ret;

	lockdep_assert_held(&vi->mutex);
	*done = 0;
	if (!vi->scratch || current->mm != vi->owner)
		return -ENOENT;
	if (WARN_ON_ONCE(count > VHOST_IOMMU_SCRATCH_SIZE))
		return -EINVAL;
	if (vhost_iommu_should_fail())
		return -ENOMEM;
	vhost_iommu_count_ua(vi, 1);
	if (!file) {
		vi->stats.out_iommufd_calls++;
		return vhost_iommu_fake_write(vi->fq->fake, r, n, done);
	}
	if (copy_to_user(ubuf, r, count))
		return -EFAULT;
	ret = rw_verify_area(WRITE, file, &pos, count);
	if (ret)
		return ret;
	/* A partial write stopped at a refused response: retry it for why. */
	while (*done < n) {
		vi->stats.out_iommufd_calls++;
		ret = file->f_op->write(file, ubuf + *done * sizeof(*r),
					count - *done * sizeof(*r), &pos);
		if (ret <= 0)
			return ret ?: -EIO;
		*done += min_t(size_t, ret, count) / sizeof(*r);
	}
	return 0;
}

/* Let go of the scratch area, if this context can. */
static void vhost_iommu_unmap_scratch(struct vhost_iommu *vi)
{
	if (vi->scratch && current->mm == vi->owner)
		vm_munmap(vi->scratch, VHOST_IOMMU_SCRATCH_SIZE);
	/* Elsewhere the mm is not ours, or gone: the mapping dies with it. */
	vi->scratch = 0;
}

/**
 * vhost_iommu_drop_iommufd() - let go of the iommufd and every binding
 * @vi: the device, mutex held; owner's ioctl context or release
 */
void vhost_iommu_drop_iommufd(struct vhost_iommu *vi)
{
	lockdep_assert_held(&vi->mutex);
	/* The fault queue belongs to the iommufd and uses the scratch. */
	vhost_iommu_fault_detach(vi);
	vhost_iommu_drop_bindings(vi);
	if (vi->iommufd)
		fput(vi->iommufd);
	vi->iommufd = NULL;
	vhost_iommu_unmap_scratch(vi);
}

/**
 * vhost_iommu_set_iommufd() - VHOST_IOMMU_SET_IOMMUFD
 * @vi: the device, mutex held, owner's context
 * @arg: struct vhost_iommu_iommufd
 *
 * Return: 0, -EBADF, -EINVAL (not /dev/iommu), or an argument error.
 */
long vhost_iommu_set_iommufd(struct vhost_iommu *vi, void __user *arg)
{
	struct vhost_iommu_iommufd c;
	struct iommufd_ctx *ictx;
	unsigned long addr;
	struct file *file;
	u32 usize;
	int ret;

	lockdep_assert_held(&vi->mutex);
	ret = vhost_iommu_copy_arg(&c, sizeof(c),
				   offsetofend(struct vhost_iommu_iommufd,
					       __reserved), arg, &usize);
	if (ret)
		return ret;
	if (c.flags || c.__reserved)
		return -EOPNOTSUPP;
	if (c.iommufd == -1) {
		vhost_iommu_drop_iommufd(vi);
		return 0;
	}
	file = fget(c.iommufd);
	if (!file)
		return -EBADF;
	/* The only way to tell /dev/iommu from any other file. */
	ictx = iommufd_ctx_from_file(file);
	if (IS_ERR(ictx)) {
		fput(file);
		return -EINVAL;
	}
	iommufd_ctx_put(ictx);

	if (!vi->scratch) {
		addr = vm_mmap(NULL, 0, VHOST_IOMMU_SCRATCH_SIZE,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, 0);
		if (IS_ERR_VALUE(addr)) {
			fput(file);
			return (long)addr;
		}
		vi->scratch = addr;
	}
	vhost_iommu_fault_detach(vi);
	vhost_iommu_drop_bindings(vi);
	if (vi->iommufd)
		fput(vi->iommufd);
	vi->iommufd = file;
	return 0;
}

MODULE_INFO(import_ns, "IOMMUFD");
