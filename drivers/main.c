// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the host side of a virtio-iommu device in the kernel.
 *
 * /dev/vhost-iommu is a misc device; each open file is one device instance
 * driven by one VMM. This file holds the file operations, the ioctl
 * dispatch, the owner and the worker's lifetime.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/pid.h>
#include <linux/sched/mm.h>
#include <linux/sched/vhost_task.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vhost_iommu.h"
#include "vhost_iommu_test.h"

#define CREATE_TRACE_POINTS
#include "vhost_iommu_trace.h"

#define VHOST_IOMMU_FEATURES					\
	(BIT_ULL(VIRTIO_F_VERSION_1) |				\
	 BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |			\
	 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_INPUT_RANGE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_DOMAIN_RANGE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_MAP_UNMAP) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_PROBE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_MMIO) |				\
	 BIT_ULL(VIRTIO_IOMMU_F_BYPASS_CONFIG) |		\
	 BIT_ULL(VIRTIO_IOMMU_F_ATTACH_TABLE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_PAGE_REQ))

/**
 * vhost_iommu_wake() - give the worker something to do
 * @vi: the device
 * @bit: VHOST_IOMMU_WORK_*
 *
 * Safe in wait queue callbacks: sets a bit and wakes the task.
 */
void vhost_iommu_wake(struct vhost_iommu *vi, int bit)
{
	struct vhost_task *worker;

	set_bit(bit, &vi->work);
	/* vhost_iommu_stop_worker() waits for this before freeing the task. */
	rcu_read_lock();
	worker = rcu_dereference(vi->worker);
	vhost_iommu_test_wake_delay();
	if (worker)
		vhost_task_wake(worker);
	rcu_read_unlock();
}

/**
 * vhost_iommu_put() - drop a reference to a device
 * @vi: the device
 *
 * The open file holds one; netlink readers take one while they wait for
 * the device's mutex without the registry's lock. The last one frees it.
 */
void vhost_iommu_put(struct vhost_iommu *vi)
{
	if (!refcount_dec_and_test(&vi->refs))
		return;
	mutex_destroy(&vi->mutex);
	kvfree(vi);
}

/*
 * Another look at both queues after the VMM changed something. The fault
 * queue wakes the worker itself when it has something to read.
 */
static void vhost_iommu_kick(struct vhost_iommu *vi)
{
	vhost_iommu_wake(vi, VHOST_IOMMU_WORK_EVENTQ);
	vhost_iommu_wake(vi, VHOST_IOMMU_WORK_REQUEST);
}

static int vhost_iommu_vq_work(const struct vhost_iommu_vq *vq)
{
	return vq->index == VHOST_IOMMU_VQ_REQUEST ? VHOST_IOMMU_WORK_REQUEST :
						     VHOST_IOMMU_WORK_EVENTQ;
}

/* Runs under the eventfd's wait queue lock: no sleeping, no guest access. */
static int vhost_iommu_kick_wake(wait_queue_entry_t *wait, unsigned int mode,
				 int sync, void *key)
{
	struct vhost_iommu_vq *vq =
		container_of(wait, struct vhost_iommu_vq, kick_wait);

	/* Event queue kicks bring buffers for waiting page requests. */
	if (key_to_poll(key) & EPOLLIN)
		vhost_iommu_wake(vq->vi, vhost_iommu_vq_work(vq));
	return 0;
}

static void vhost_iommu_kick_queue(struct file *file, wait_queue_head_t *wqh,
				   poll_table *pt)
{
	struct vhost_iommu_vq *vq =
		container_of(pt, struct vhost_iommu_vq, kick_pt);

	vq->kick_wqh = wqh;
	add_wait_queue(wqh, &vq->kick_wait);
}

static void vhost_iommu_unset_kick(struct vhost_iommu_vq *vq)
{
	if (vq->kick_wqh)
		remove_wait_queue(vq->kick_wqh, &vq->kick_wait);
	vq->kick_wqh = NULL;
	if (vq->kick)
		fput(vq->kick);
	vq->kick = NULL;
}

static long vhost_iommu_set_kick(struct vhost_iommu *vi,
				 struct vhost_iommu_vq *vq, int fd)
{
	struct eventfd_ctx *ctx;
	struct file *file;

	if (fd == VHOST_FILE_UNBIND) {
		vhost_iommu_unset_kick(vq);
		return 0;
	}
	file = fget(fd);
	if (!file)
		return -EBADF;
	ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(ctx)) {
		fput(file);
		return -EINVAL;
	}
	eventfd_ctx_put(ctx);

	vhost_iommu_unset_kick(vq);
	vq->kick = file;
	/* Registers kick_wait; a kick already pending starts a pass. */
	if (vfs_poll(file, &vq->kick_pt) & EPOLLIN)
		vhost_iommu_wake(vi, vhost_iommu_vq_work(vq));
	return 0;
}

static long vhost_iommu_set_eventfd(struct eventfd_ctx **slot, int fd)
{
	struct eventfd_ctx *ctx = NULL;

	if (fd != VHOST_FILE_UNBIND) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	if (*slot)
		eventfd_ctx_put(*slot);
	*slot = ctx;
	return 0;
}

static void vhost_iommu_reset_vq(struct vhost_iommu_vq *vq)
{
	vq->num = 0;
	vq->desc = 0;
	vq->avail = 0;
	vq->used = 0;
	vq->addr_set = false;
	vq->last_avail_idx = 0;
	vq->last_used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->broken = false;
	vq->busyloop_timeout = 0;
	vhost_iommu_vq_forget(vq);
}

static void vhost_iommu_default_config(struct vhost_iommu *vi)
{
	vi->config = (struct vhost_iommu_config_state) {
		.page_size_mask = SZ_4K,
		.input_end = U64_MAX,
		.domain_end = U32_MAX,
	};
}

/* The virtio device reset: what VHOST_IOMMU_RESET_DEVICE drops. */
static void vhost_iommu_reset_device(struct vhost_iommu *vi)
{
	int i;

	lockdep_assert_held(&vi->mutex);
	vhost_iommu_drop_pending(vi);
	vhost_iommu_fault_answer_all(vi);
	/* The VMM's fault reports that wait are dropped, not delivered. */
	vhost_iommu_events_drop(vi);
	if (!(vi->backend_features & BIT_ULL(VHOST_IOMMU_BACKEND_F_PERSIST)))
		vhost_iommu_drop_bindings(vi);
	vi->features = 0;
	vi->features_set = false;
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		vhost_iommu_reset_vq(&vi->vqs[i]);
}

/*
 * Stop the worker. It takes the mutex for each pass, so this runs without
 * it; waiting for it as an ioctl does ends a busy poll at once. Wake-ups
 * still come from the kicks and the fault queue until drop_owner unhooks
 * them: they find no worker once the pointer is cleared, and those that
 * found it are waited out before the task is stopped and freed.
 */
static int vhost_iommu_stop_worker(struct vhost_iommu *vi,
				   const struct mm_struct *owner)
{
	struct vhost_task *task;

	vhost_iommu_lock_for_vmm(vi);
	/* Only @owner's worker, when one is named. */
	if (owner && vi->owner != owner) {
		mutex_unlock(&vi->mutex);
		return -EPERM;
	}
	task = vi->worker_task;
	vi->worker_task = NULL;
	RCU_INIT_POINTER(vi->worker, NULL);
	mutex_unlock(&vi->mutex);
	if (task) {
		synchronize_rcu();
		vhost_task_stop(task);
	}
	return 0;
}

/* Everything SET_OWNER and the later ioctls set up; the worker is gone. */
static void vhost_iommu_drop_owner(struct vhost_iommu *vi)
{
	struct mm_struct *mm;
	int i;

	lockdep_assert_held(&vi->mutex);
	if (vi->owner)
		vhost_iommu_nl_notify(vi, VHOST_IOMMU_EVENT_OWNER_LOST, -1);
	vhost_iommu_reset_device(vi);
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++) {
		struct vhost_iommu_vq *vq = &vi->vqs[i];

		vhost_iommu_unset_kick(vq);
		vhost_iommu_set_eventfd(&vq->call, VHOST_FILE_UNBIND);
		vhost_iommu_set_eventfd(&vq->err, VHOST_FILE_UNBIND);
	}
	vhost_iommu_drop_iommufd(vi);
	vhost_iommu_drop_endpoints(vi);
	vi->backend_features = 0;
	kvfree(vi->mem);
	vi->mem = NULL;
	/*
	 * netlink and the ioctl entry peek at it without the mutex: cleared
	 * before the mm may go, so a peek never sees a freed mm (or a new
	 * one at its address) as the owner.
	 */
	mm = vi->owner;
	WRITE_ONCE(vi->owner, NULL);
	if (mm)
		mmdrop(mm);
	put_pid(vi->owner_pid);
	vi->owner_pid = NULL;
	vi->work = 0;
	vi->run = VHOST_IOMMU_RUN_AUTO;
}

static bool vhost_iommu_work(void *data)
{
	struct vhost_iommu *vi = data;
	bool requests, events, faults;

	/* Entered in TASK_INTERRUPTIBLE: decide from kernel state only. */
	requests = test_and_clear_bit(VHOST_IOMMU_WORK_REQUEST, &vi->work);
	events = test_and_clear_bit(VHOST_IOMMU_WORK_EVENTQ, &vi->work);
	faults = test_and_clear_bit(VHOST_IOMMU_WORK_FAULT, &vi->work);
	if (!requests && !events && !faults)
		return false;
	__set_current_state(TASK_RUNNING);

	mutex_lock(&vi->mutex);
	/* Stopped: the bits are given again when the device runs. */
	if (vi->run == VHOST_IOMMU_RUN_STOPPED) {
		mutex_unlock(&vi->mutex);
		return true;
	}
	vi->stats.out_wakeups++;
	/* Each hands its bit back when it used up its weight. */
	if (requests && vhost_iommu_handle_requests(vi))
		set_bit(VHOST_IOMMU_WORK_REQUEST, &vi->work);
	if ((events || faults) && vhost_iommu_handle_faults(vi, faults))
		set_bit(VHOST_IOMMU_WORK_FAULT, &vi->work);
	mutex_unlock(&vi->mutex);
	cond_resched();
	return true;
}

#ifdef VHOST_IOMMU_TASK_HAS_KILL
/*
 * SIGKILL of the owner, or an exec: the task is about to exit. Kicks and
 * fault wake-ups can still come (the fds may live on in another process),
 * so the task is unpublished first and those that found it are waited
 * out. worker_task stays for vhost_task_stop(), which frees it.
 */
static void vhost_iommu_worker_killed(void *data)
{
	struct vhost_iommu *vi = data;

	mutex_lock(&vi->mutex);
	RCU_INIT_POINTER(vi->worker, NULL);
	mutex_unlock(&vi->mutex);
	synchronize_rcu();
}
#endif

static long vhost_iommu_set_owner(struct vhost_iommu *vi)
{
	struct vhost_task *worker;
	char name[TASK_COMM_LEN];
	long ret = 0;

	mutex_lock(&vi->mutex);
	if (vi->owner) {
		ret = -EBUSY;
		goto out;
	}
	snprintf(name, sizeof(name), "vhost-iommu-%d", current->pid);
#ifdef VHOST_IOMMU_TASK_HAS_KILL
	worker = vhost_task_create(vhost_iommu_work, vhost_iommu_worker_killed,
				   vi, name);
#else
	worker = vhost_task_create(vhost_iommu_work, vi, name);
#endif
	if (IS_ERR_OR_NULL(worker)) {
		ret = worker ? PTR_ERR(worker) : -ENOMEM;
		goto out;
	}
	WRITE_ONCE(vi->owner, current->mm);
	mmgrab(vi->owner);
	vi->owner_pid = get_pid(task_tgid(current));
	vi->worker_task = worker;
	rcu_assign_pointer(vi->worker, worker);
	vhost_task_start(worker);
out:
	mutex_unlock(&vi->mutex);
	return ret;
}

/*
 * The owner is checked again once the worker is stopped: another
 * RESET_OWNER of the same owner may have finished meanwhile and a new
 * owner come in, whose device this one must leave alone.
 */
static long vhost_iommu_reset_owner(struct vhost_iommu *vi)
{
	int ret;

	if (READ_ONCE(vi->owner) != current->mm)
		return -EPERM;
	ret = vhost_iommu_stop_worker(vi, current->mm);
	if (ret)
		return ret;
	vhost_iommu_lock_for_vmm(vi);
	if (vi->owner != current->mm) {
		mutex_unlock(&vi->mutex);
		return -EPERM;
	}
	vhost_iommu_drop_owner(vi);
	mutex_unlock(&vi->mutex);
	return 0;
}

/**
 * vhost_iommu_copy_arg() - copy an extensible ioctl struct in
 * @dst: kernel struct
 * @ksize: its size
 * @minsz: size of its first version
 * @arg: user pointer; the struct starts with its __u32 size
 * @usize: receives the user's size
 *
 * Return: 0; -EINVAL if shorter than @minsz; -E2BIG if longer with
 * non-zero bytes past what the kernel knows; -EFAULT.
 */
int vhost_iommu_copy_arg(void *dst, size_t ksize, size_t minsz,
			 void __user *arg, u32 *usize)
{
	if (get_user(*usize, (u32 __user *)arg))
		return -EFAULT;
	if (*usize < minsz)
		return -EINVAL;
	return copy_struct_from_user(dst, ksize, arg, *usize);
}

static long vhost_iommu_set_config(struct vhost_iommu *vi, void __user *arg)
{
	struct vhost_iommu_config c;
	u32 usize;
	int ret;

	ret = vhost_iommu_copy_arg(&c, sizeof(c),
				   offsetofend(struct vhost_iommu_config,
					       __reserved), arg, &usize);
	if (ret)
		return ret;
	if (c.flags || memchr_inv(c.__reserved, 0, sizeof(c.__reserved)))
		return -EOPNOTSUPP;
	if (!c.page_size_mask || c.input_end < c.input_start ||
	    c.domain_end < c.domain_start || c.bypass > 1 ||
	    c.probe_size > VHOST_IOMMU_MAX_PROBE_SIZE || c.probe_size % 4)
		return -EINVAL;
	vi->config = (struct vhost_iommu_config_state) {
		.page_size_mask = c.page_size_mask,
		.input_start = c.input_start,
		.input_end = c.input_end,
		.domain_start = c.domain_start,
		.domain_end = c.domain_end,
		.probe_size = c.probe_size,
		.bypass = c.bypass,
	};
	return 0;
}

static long vhost_iommu_get_stats(struct vhost_iommu *vi, void __user *arg)
{
	struct vhost_iommu_stats s;
	u32 usize;
	int ret;

	ret = vhost_iommu_copy_arg(&s, sizeof(s),
				   offsetofend(struct vhost_iommu_stats,
					       out_inval_errors), arg, &usize);
	if (ret)
		return ret;
	if (s.flags)
		return -EOPNOTSUPP;
	s = vi->stats;
	/* What was filled: the caller's size or ours, the smaller. */
	s.size = min_t(u32, usize, sizeof(s));
	s.flags = 0;
	if (copy_to_user(arg, &s, s.size))
		return -EFAULT;
	return 0;
}

/* VHOST_IOMMU_GET_INFO: what the module can do here; no device state. */
static long vhost_iommu_get_info(void __user *arg)
{
	struct vhost_iommu_info info;
	u32 usize, f;
	int ret;

	ret = vhost_iommu_copy_arg(&info, sizeof(info),
				   offsetofend(struct vhost_iommu_info,
					       inv_formats), arg, &usize);
	if (ret)
		return ret;
	if (info.flags)
		return -EOPNOTSUPP;
	info = (struct vhost_iommu_info) {
		.fault_sources = VHOST_IOMMU_FAULT_SOURCE_FAULT_QUEUE,
		.features = VHOST_IOMMU_FEATURES,
		.backend_features = VHOST_IOMMU_BACKEND_FEATURES,
		.version = VHOST_IOMMU_VERSION_CODE,
		.max_endpoints = VHOST_IOMMU_MAX_ENDPOINTS,
		.max_bindings = VHOST_IOMMU_MAX_BINDINGS,
		.max_bind_endpoints = VHOST_IOMMU_MAX_BIND_ENDPOINTS,
		.max_chain_pieces = VHOST_IOMMU_MAX_CHAIN_PIECES,
		.max_page_groups = VHOST_IOMMU_MAX_PAGE_GROUPS,
		.max_event_backlog = VHOST_IOMMU_MAX_EVENT_BACKLOG,
		.max_page_group_records = VHOST_IOMMU_MAX_PAGE_GROUP_RECORDS,
		.caps = VHOST_IOMMU_CAP_POST_EVENT,
	};
	/* Formats are numbered from 1; bit 0 stays clear. */
	for (f = 1; f < 64; f++)
		if (vhost_iommu_format_ok(f))
			info.inv_formats |= BIT_ULL(f);
	info.size = min_t(u32, usize, sizeof(info));
	if (copy_to_user(arg, &info, info.size))
		return -EFAULT;
	return 0;
}

/*
 * VHOST_IOMMU_SET_RUNNING. Passes hold the mutex, so once this returns
 * with 0 no pass touches the rings until the device runs again. A parked
 * request stays parked: the VMM may still complete it, and
 * VHOST_GET_VRING_BASE counts it as not taken.
 */
static long vhost_iommu_set_running(struct vhost_iommu *vi, int __user *arg)
{
	int running;

	if (get_user(running, arg))
		return -EFAULT;
	if (running != 0 && running != 1)
		return -EINVAL;
	vi->run = running ? VHOST_IOMMU_RUN_STARTED : VHOST_IOMMU_RUN_STOPPED;
	if (running)
		vhost_iommu_wake(vi, VHOST_IOMMU_WORK_FAULT);
	return 0;
}

static long vhost_iommu_set_features(struct vhost_iommu *vi, u64 __user *arg)
{
	u64 features;
	int i;

	if (get_user(features, arg))
		return -EFAULT;
	if (features & ~VHOST_IOMMU_FEATURES)
		return -EOPNOTSUPP;
	if (!(features & BIT_ULL(VIRTIO_F_VERSION_1)))
		return -EINVAL;
	vi->features = features;
	vi->features_set = true;
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++) {
		vi->vqs[i].event_idx =
			features & BIT_ULL(VIRTIO_RING_F_EVENT_IDX);
		vi->vqs[i].indirect =
			features & BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC);
	}
	return 0;
}

static long vhost_iommu_vring_ioctl(struct vhost_iommu *vi, unsigned int cmd,
				    void __user *arg)
{
	struct vhost_vring_state s;
	struct vhost_vring_addr a;
	struct vhost_vring_file f;
	struct vhost_iommu_vq *vq;
	u32 index;

	if (get_user(index, (u32 __user *)arg))
		return -EFAULT;
	if (index >= VHOST_IOMMU_VQ_MAX)
		return -ENOBUFS;
	vq = &vi->vqs[array_index_nospec(index, VHOST_IOMMU_VQ_MAX)];

	switch (cmd) {
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_ADDR:
	case VHOST_SET_VRING_BASE:
		/* Started with SET_RUNNING: fixed until stopped, as in vhost. */
		if (vi->run == VHOST_IOMMU_RUN_STARTED &&
		    vhost_iommu_vq_running(vi, vq))
			return -EBUSY;
		if (index != VHOST_IOMMU_VQ_REQUEST || !vi->pending.cookie)
			break;
		/* A parked request is answered on the ring it came from... */
		if (cmd != VHOST_SET_VRING_BASE &&
		    vi->run != VHOST_IOMMU_RUN_STOPPED)
			return -EBUSY;
		/* ...or, the queue being set up anew, read again later. */
		vhost_iommu_rewind_pending(vi);
		break;
	}

	switch (cmd) {
	case VHOST_SET_VRING_NUM:
		if (copy_from_user(&s, arg, sizeof(s)))
			return -EFAULT;
		if (!s.num || s.num > VHOST_IOMMU_MAX_VRING_NUM ||
		    (s.num & (s.num - 1)))
			return -EINVAL;
		vq->num = s.num;
		vhost_iommu_vq_forget(vq);
		return 0;
	case VHOST_SET_VRING_ADDR:
		if (copy_from_user(&a, arg, sizeof(a)))
			return -EFAULT;
		if (a.flags)
			return -EOPNOTSUPP;
		if ((a.desc_user_addr & 15) || (a.avail_user_addr & 1) ||
		    (a.used_user_addr & 3))
			return -EINVAL;
		vq->desc = a.desc_user_addr;
		vq->avail = a.avail_user_addr;
		vq->used = a.used_user_addr;
		vq->addr_set = true;
		vhost_iommu_vq_forget(vq);
		return 0;
	case VHOST_SET_VRING_BASE:
		if (copy_from_user(&s, arg, sizeof(s)))
			return -EFAULT;
		if (s.num > 0xffff)
			return -EINVAL;
		/* A fresh start: nothing in flight, not broken. */
		vq->last_avail_idx = s.num;
		vq->last_used_idx = s.num;
		vq->signalled_used = s.num;
		vq->signalled_used_valid = false;
		vq->broken = false;
		vhost_iommu_vq_forget(vq);
		return 0;
	case VHOST_GET_VRING_BASE:
		s.index = index;
		s.num = vq->last_avail_idx;
		/* The first request not completed: a parked one is read again. */
		if (index == VHOST_IOMMU_VQ_REQUEST && vi->pending.cookie)
			s.num = (u16)(s.num - 1);
		return copy_to_user(arg, &s, sizeof(s)) ? -EFAULT : 0;
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
		if (copy_from_user(&s, arg, sizeof(s)))
			return -EFAULT;
		/* The worker polls with the device's mutex held. */
		if (s.num > VHOST_IOMMU_MAX_BUSYLOOP_TIMEOUT)
			return -EINVAL;
		vq->busyloop_timeout = s.num;
		return 0;
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		s.index = index;
		s.num = vq->busyloop_timeout;
		return copy_to_user(arg, &s, sizeof(s)) ? -EFAULT : 0;
	}

	if (copy_from_user(&f, arg, sizeof(f)))
		return -EFAULT;
	switch (cmd) {
	case VHOST_SET_VRING_KICK:
		return vhost_iommu_set_kick(vi, vq, f.fd);
	case VHOST_SET_VRING_CALL:
		return vhost_iommu_set_eventfd(&vq->call, f.fd);
	default:
		return vhost_iommu_set_eventfd(&vq->err, f.fd);
	}
}

static long vhost_iommu_owner_ioctl(struct vhost_iommu *vi, unsigned int cmd,
				    void __user *arg)
{
	u64 backend;

	switch (cmd) {
	case VHOST_SET_FEATURES:
		return vhost_iommu_set_features(vi, arg);
	case VHOST_SET_BACKEND_FEATURES:
		if (get_user(backend, (u64 __user *)arg))
			return -EFAULT;
		if (backend & ~VHOST_IOMMU_BACKEND_FEATURES)
			return -EOPNOTSUPP;
		vi->backend_features = backend;
		return 0;
	case VHOST_SET_MEM_TABLE:
		/* A parked request's buffers were translated with the old table. */
		if (vi->pending.cookie) {
			if (vi->run != VHOST_IOMMU_RUN_STOPPED)
				return -EBUSY;
			vhost_iommu_rewind_pending(vi);
		}
		return vhost_iommu_set_mem_table(vi, arg);
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_ADDR:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		return vhost_iommu_vring_ioctl(vi, cmd, arg);
	case VHOST_IOMMU_SET_CONFIG:
		return vhost_iommu_set_config(vi, arg);
	case VHOST_IOMMU_GET_REQUEST:
		return vhost_iommu_get_request(vi, arg);
	case VHOST_IOMMU_COMPLETE_REQUEST:
		return vhost_iommu_complete_request(vi, arg);
	case VHOST_IOMMU_RESET_DEVICE:
		vhost_iommu_reset_device(vi);
		vhost_iommu_nl_notify(vi, VHOST_IOMMU_EVENT_RESET, -1);
		return 0;
	case VHOST_IOMMU_GET_STATS:
		return vhost_iommu_get_stats(vi, arg);
	case VHOST_IOMMU_SET_IOMMUFD:
		return vhost_iommu_set_iommufd(vi, arg);
	case VHOST_IOMMU_SET_ENDPOINT:
		return vhost_iommu_set_endpoint(vi, arg);
	case VHOST_IOMMU_BIND_DOMAIN:
		return vhost_iommu_bind_domain(vi, arg);
	case VHOST_IOMMU_SET_FAULT_QUEUE:
		return vhost_iommu_set_fault_queue(vi, arg);
	case VHOST_IOMMU_SET_RUNNING:
		return vhost_iommu_set_running(vi, arg);
	case VHOST_IOMMU_POST_EVENT:
		return vhost_iommu_post_event(vi, arg);
	case VHOST_IOMMU_TEST:
		return vhost_iommu_test_ioctl(vi, arg);
	default:
		return -ENOIOCTLCMD;
	}
}

static long vhost_iommu_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	struct vhost_iommu *vi = file->private_data;
	void __user *argp = (void __user *)arg;
	long ret;

	switch (cmd) {
	case VHOST_GET_FEATURES:
		return put_user(VHOST_IOMMU_FEATURES, (u64 __user *)argp);
	case VHOST_GET_BACKEND_FEATURES:
		return put_user(VHOST_IOMMU_BACKEND_FEATURES, (u64 __user *)argp);
	case VHOST_IOMMU_GET_INFO:
		return vhost_iommu_get_info(argp);
	case VHOST_SET_OWNER:
		return vhost_iommu_set_owner(vi);
	case VHOST_RESET_OWNER:
		return vhost_iommu_reset_owner(vi);
	}

	/* Others never wait for the owner's mutex to be refused. */
	if (!current->mm || READ_ONCE(vi->owner) != current->mm)
		return -EPERM;
	if (vhost_iommu_lock_for_vmm_killable(vi))
		return -EINTR;
	if (vi->owner != current->mm)
		ret = -EPERM;
	else
		ret = vhost_iommu_owner_ioctl(vi, cmd, argp);
	/* Ring changes, completions and resets may let the queue go on. */
	if (!ret && cmd != VHOST_IOMMU_GET_STATS &&
	    cmd != VHOST_IOMMU_GET_REQUEST)
		vhost_iommu_kick(vi);
	mutex_unlock(&vi->mutex);
	return ret;
}

static __poll_t vhost_iommu_poll(struct file *file, poll_table *wait)
{
	struct vhost_iommu *vi = file->private_data;

	poll_wait(file, &vi->poll_wq, wait);
	return READ_ONCE(vi->pending.cookie) ? EPOLLIN | EPOLLRDNORM : 0;
}

static int vhost_iommu_open(struct inode *inode, struct file *file)
{
	struct vhost_iommu *vi;
	int i, ret;

	vi = kvzalloc(sizeof(*vi), GFP_KERNEL_ACCOUNT);
	if (!vi)
		return -ENOMEM;
	refcount_set(&vi->refs, 1);
	mutex_init(&vi->mutex);
	atomic_set(&vi->vmm_waiting, 0);
	init_waitqueue_head(&vi->poll_wq);
	xa_init(&vi->endpoints);
	xa_init(&vi->bindings);
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++) {
		struct vhost_iommu_vq *vq = &vi->vqs[i];

		vq->vi = vi;
		vq->index = i;
		init_waitqueue_func_entry(&vq->kick_wait,
					  vhost_iommu_kick_wake);
		init_poll_funcptr(&vq->kick_pt, vhost_iommu_kick_queue);
	}
	vhost_iommu_default_config(vi);
	ret = vhost_iommu_nl_add(vi);
	if (ret) {
		vhost_iommu_put(vi);
		return ret;
	}
	file->private_data = vi;
	return stream_open(inode, file);
}

/*
 * May run in any process, or after the owner's mm is gone: it never
 * touches guest memory. A pending slow-path request is dropped.
 */
static int vhost_iommu_release(struct inode *inode, struct file *file)
{
	struct vhost_iommu *vi = file->private_data;

	/* Out of netlink's sight first: a dump never meets a dying device. */
	vhost_iommu_nl_del(vi);
	vhost_iommu_stop_worker(vi, NULL);
	mutex_lock(&vi->mutex);
	vhost_iommu_drop_owner(vi);
	/* A netlink reader that still holds a reference skips it. */
	vi->gone = true;
	mutex_unlock(&vi->mutex);
	vhost_iommu_put(vi);
	return 0;
}

/* The device's netlink ID, for an operator matching fds to devices. */
static void vhost_iommu_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct vhost_iommu *vi = file->private_data;

	seq_printf(m, "vhost-iommu-id:\t%u\n", vi->id);
}

static const struct file_operations vhost_iommu_fops = {
	.owner = THIS_MODULE,
	.open = vhost_iommu_open,
	.release = vhost_iommu_release,
	.unlocked_ioctl = vhost_iommu_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.poll = vhost_iommu_poll,
	.show_fdinfo = vhost_iommu_show_fdinfo,
};

/*
 * A dynamic minor: no fixed one is assigned to us, and one taken from the
 * local-use range could be another driver's, whose device a node made at
 * boot (and the udev rule's group) would then hand to the VMM's users.
 * udev makes the node when the module registers; hosts load the module
 * at boot (modules-load.d, Documentation/packaging.rst).
 */
static struct miscdevice vhost_iommu_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vhost-iommu",
	.fops = &vhost_iommu_fops,
	.mode = 0600,
};

static int __init vhost_iommu_init(void)
{
	int ret;

	ret = vhost_iommu_testhooks_init();
	if (ret)
		return ret;
	/* Before the first open: devices notify the family from then on. */
	ret = vhost_iommu_nl_init();
	if (ret)
		goto err_hooks;
	ret = misc_register(&vhost_iommu_misc);
	if (ret)
		goto err_nl;
	return 0;

err_nl:
	vhost_iommu_nl_exit();
err_hooks:
	vhost_iommu_testhooks_exit();
	return ret;
}
module_init(vhost_iommu_init);

static void __exit vhost_iommu_exit(void)
{
	misc_deregister(&vhost_iommu_misc);
	vhost_iommu_nl_exit();
	vhost_iommu_testhooks_exit();
}
module_exit(vhost_iommu_exit);

/*
 * No devname: alias: with a dynamic minor depmod has no numbers for it and
 * reports an error on every run. modules-load.d loads the module at boot.
 */
MODULE_VERSION(VHOST_IOMMU_VERSION);
MODULE_DESCRIPTION("Host kernel accelerator for virtio-iommu");
MODULE_LICENSE("GPL");
