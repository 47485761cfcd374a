// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the host side of a virtio-iommu device in the kernel.
 *
 * /dev/vhost-iommu is a misc device; each open file is one device instance
 * driven by one VMM.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "vhost_iommu.h"

static int vhost_iommu_open(struct inode *inode, struct file *file)
{
	struct vhost_iommu *vi;

	vi = kzalloc(sizeof(*vi), GFP_KERNEL_ACCOUNT);
	if (!vi)
		return -ENOMEM;
	file->private_data = vi;
	return stream_open(inode, file);
}

static int vhost_iommu_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

static const struct file_operations vhost_iommu_fops = {
	.owner = THIS_MODULE,
	.open = vhost_iommu_open,
	.release = vhost_iommu_release,
};

static struct miscdevice vhost_iommu_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vhost-iommu",
	.fops = &vhost_iommu_fops,
	.mode = 0600,
};

module_misc_device(vhost_iommu_misc);

MODULE_ALIAS("devname:vhost-iommu");
MODULE_DESCRIPTION("Host kernel accelerator for virtio-iommu");
MODULE_LICENSE("GPL");
