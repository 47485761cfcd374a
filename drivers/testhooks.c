// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu test hooks, built only for test kernels (those with the
 * iommufd selftest mock and fault injection's debugfs):
 *
 * - /sys/kernel/debug/vhost-iommu/fail: a fault attribute (see
 *   Documentation/fault-injection) failing the worker's guest memory
 *   accesses and its iommufd calls, for the fail-nth sweep;
 * - /sys/kernel/debug/vhost-iommu/wake_delay_us: a delay inside a
 *   wake-up, between finding the worker and waking it, that widens the
 *   window a wake-up racing with the worker's exit has;
 * - VHOST_IOMMU_TEST: a fake fault queue that gives page request groups
 *   of any size, which the mock cannot make.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fault-inject.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/iommufd.h>

#include "vhost_iommu.h"
#include "vhost_iommu_test.h"

static DECLARE_FAULT_ATTR(vhost_iommu_fail_attr);
static u32 vhost_iommu_wake_delay_us;
static struct dentry *vhost_iommu_debugfs;

bool vhost_iommu_should_fail(void)
{
	return should_fail(&vhost_iommu_fail_attr, 1);
}

void vhost_iommu_test_wake_delay(void)
{
	u32 us = READ_ONCE(vhost_iommu_wake_delay_us);

	if (us)
		udelay(min(us, 10000U));
}

/**
 * struct vhost_iommu_fake_faults - a fault queue that only tests fill
 * @nr: records queued
 * @recs: queued records, oldest first
 * @nr_open: cookies read and not answered
 * @open: those cookies
 * @nr_answers: answers not yet taken by the test
 * @answers: those answers
 */
struct vhost_iommu_fake_faults {
	u32 nr;
	struct iommu_hwpt_pgfault recs[VHOST_IOMMU_TEST_FAKE_MAX_RECORDS];
	u32 nr_open;
	u32 open[VHOST_IOMMU_TEST_FAKE_MAX_ANSWERS];
	u32 nr_answers;
	struct iommu_hwpt_page_response answers[VHOST_IOMMU_TEST_FAKE_MAX_ANSWERS];
};

/* As iommufd: whole groups, -EINVAL when the first does not fit. */
ssize_t vhost_iommu_fake_read(struct vhost_iommu_fake_faults *fake,
			      void __user *buf, size_t count)
{
	size_t rec = sizeof(fake->recs[0]);
	u32 done = 0, len;

	while (done < fake->nr && fake->nr_open < ARRAY_SIZE(fake->open)) {
		for (len = 1; done + len < fake->nr &&
		     fake->recs[done + len].cookie == fake->recs[done].cookie;
		     len++)
			;
		if ((size_t)(done + len) * rec > count) {
			if (!done)
				return -EINVAL;
			break;
		}
		if (copy_to_user(buf + done * rec, &fake->recs[done], len * rec))
			return -EFAULT;
		fake->open[fake->nr_open++] = fake->recs[done].cookie;
		done += len;
	}
	fake->nr -= done;
	memmove(fake->recs, fake->recs + done, fake->nr * rec);
	return done * rec;
}

/* As iommufd: in order, stopping at a cookie that is not open. */
int vhost_iommu_fake_write(struct vhost_iommu_fake_faults *fake,
			   const struct iommu_hwpt_page_response *r, u32 n,
			   u32 *done)
{
	u32 i;

	for (*done = 0; *done < n; (*done)++) {
		for (i = 0; i < fake->nr_open; i++)
			if (fake->open[i] == r[*done].cookie)
				break;
		if (i == fake->nr_open)
			return -EINVAL;
		if (fake->nr_answers == ARRAY_SIZE(fake->answers))
			return -ENOSPC;
		fake->open[i] = fake->open[--fake->nr_open];
		fake->answers[fake->nr_answers++] = r[*done];
	}
	return 0;
}

void vhost_iommu_fake_free(struct vhost_iommu_fake_faults *fake)
{
	kvfree(fake);
}

static long vhost_iommu_fake_attach(struct vhost_iommu *vi)
{
	struct vhost_iommu_faultq *fq;

	if (!vi->iommufd || !vi->scratch)
		return -EINVAL;
	fq = kvzalloc(sizeof(*fq), GFP_KERNEL_ACCOUNT);
	if (!fq)
		return -ENOMEM;
	fq->fake = kvzalloc(sizeof(*fq->fake), GFP_KERNEL_ACCOUNT);
	if (!fq->fake) {
		kvfree(fq);
		return -ENOMEM;
	}
	vhost_iommu_fault_detach(vi);
	fq->vi = vi;
	vi->fq = fq;
	return 0;
}

static long vhost_iommu_fake_inject(struct vhost_iommu *vi,
				    const struct vhost_iommu_test_op *op)
{
	struct vhost_iommu_fake_faults *fake = vi->fq ? vi->fq->fake : NULL;

	if (!fake)
		return -EINVAL;
	if (op->nr > ARRAY_SIZE(fake->recs) - fake->nr)
		return -ENOSPC;
	if (copy_from_user(&fake->recs[fake->nr], u64_to_user_ptr(op->uptr),
			   op->nr * sizeof(fake->recs[0])))
		return -EFAULT;
	fake->nr += op->nr;
	vhost_iommu_wake(vi, VHOST_IOMMU_WORK_FAULT);
	return 0;
}

static long vhost_iommu_fake_responses(struct vhost_iommu *vi,
				       struct vhost_iommu_test_op *op)
{
	struct vhost_iommu_fake_faults *fake = vi->fq ? vi->fq->fake : NULL;
	u32 n;

	if (!fake)
		return -EINVAL;
	n = min(op->nr, fake->nr_answers);
	if (copy_to_user(u64_to_user_ptr(op->uptr), fake->answers,
			 n * sizeof(fake->answers[0])))
		return -EFAULT;
	fake->nr_answers -= n;
	memmove(fake->answers, fake->answers + n,
		fake->nr_answers * sizeof(fake->answers[0]));
	op->nr = n;
	return 0;
}

/**
 * vhost_iommu_test_ioctl() - VHOST_IOMMU_TEST
 * @vi: the device, mutex held, owner's context
 * @arg: struct vhost_iommu_test_op
 *
 * Return: 0, -EINVAL (no iommufd, or no fake queue), -ENOSPC, or an
 * argument error.
 */
long vhost_iommu_test_ioctl(struct vhost_iommu *vi, void __user *arg)
{
	struct vhost_iommu_test_op op;
	u32 usize;
	long ret;

	lockdep_assert_held(&vi->mutex);
	ret = vhost_iommu_copy_arg(&op, sizeof(op),
				   offsetofend(struct vhost_iommu_test_op, uptr),
				   arg, &usize);
	if (ret)
		return ret;
	if (op.__reserved)
		return -EOPNOTSUPP;
	switch (op.op) {
	case VHOST_IOMMU_TEST_FAKE_ATTACH:
		return vhost_iommu_fake_attach(vi);
	case VHOST_IOMMU_TEST_FAKE_INJECT:
		return vhost_iommu_fake_inject(vi, &op);
	case VHOST_IOMMU_TEST_FAKE_RESPONSES:
		ret = vhost_iommu_fake_responses(vi, &op);
		if (!ret && copy_to_user(arg, &op, sizeof(op)))
			ret = -EFAULT;
		return ret;
	}
	return -EOPNOTSUPP;
}

int vhost_iommu_testhooks_init(void)
{
	struct dentry *fail;

	vhost_iommu_debugfs = debugfs_create_dir("vhost-iommu", NULL);
	fail = fault_create_debugfs_attr("fail", vhost_iommu_debugfs,
					 &vhost_iommu_fail_attr);
	if (IS_ERR(fail)) {
		debugfs_remove_recursive(vhost_iommu_debugfs);
		return PTR_ERR(fail);
	}
	debugfs_create_u32("wake_delay_us", 0600, vhost_iommu_debugfs,
			   &vhost_iommu_wake_delay_us);
	return 0;
}

void vhost_iommu_testhooks_exit(void)
{
	debugfs_remove_recursive(vhost_iommu_debugfs);
}
