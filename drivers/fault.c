// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu page requests and the event queue: iommufd fault queue
 * records to event queue buffers, the guest's PAGE_RESP back to the fault
 * queue, and the fault reports the VMM posts (VHOST_IOMMU_POST_EVENT).
 *
 * A group read from the fault queue is outstanding until it is answered,
 * by the guest or, when the guest cannot take it, by the device itself
 * with IOMMUFD_PAGE_RESP_INVALID: a host device must never wait on a
 * group nobody will answer. Everything written into the event queue goes
 * through one short backlog, in the order it reached the device, and
 * waits there while the event queue has no free buffers.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/visibility.h>
#include <linux/dcache.h>
#include <linux/export.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <uapi/linux/iommufd.h>

#include "vhost_iommu.h"
#include "vhost_iommu_trace.h"

static_assert(sizeof(struct iommu_hwpt_pgfault) == VHOST_IOMMU_PGFAULT_SIZE);
static_assert(sizeof(struct iommu_hwpt_page_response) == 8);
static_assert(sizeof(struct virtio_iommu_fault) == 24);
static_assert(sizeof(struct virtio_iommu_page_req) == 48);

/* The name iommufd gives its fault queue files, stable since 6.11. */
#define VHOST_IOMMU_FAULT_FILE_NAME	"[iommufd-pgfault]"
/* Reads from the fault queue per worker pass. */
#define VHOST_IOMMU_FAULT_READS		8
/* Passes in a row that retry a failed read or answer before giving up. */
#define VHOST_IOMMU_FAULT_RETRIES	8

/**
 * vhost_iommu_pgfault_to_event() - one fault queue record as an event
 * @pf: the record iommufd gave
 * @endpoint: the guest endpoint of @pf->dev_id
 * @last: the record is the last of its group
 * @ev: the event record for the guest
 *
 * Return: 0, or -ERANGE for a group ID the 16-bit field cannot hold.
 */
int vhost_iommu_pgfault_to_event(const struct iommu_hwpt_pgfault *pf,
				 u32 endpoint, bool last,
				 struct virtio_iommu_page_req *ev)
{
	u32 flags = VIRTIO_IOMMU_FAULT_F_PAGE_REQ |
		    VIRTIO_IOMMU_FAULT_F_ADDRESS |
		    VIRTIO_IOMMU_FAULT_F_GROUP_ID;

	if (pf->grpid > U16_MAX)
		return -ERANGE;
	if (pf->perm & IOMMU_PGFAULT_PERM_READ)
		flags |= VIRTIO_IOMMU_FAULT_F_READ;
	if (pf->perm & IOMMU_PGFAULT_PERM_WRITE)
		flags |= VIRTIO_IOMMU_FAULT_F_WRITE;
	if (pf->perm & IOMMU_PGFAULT_PERM_EXEC)
		flags |= VIRTIO_IOMMU_FAULT_F_EXEC;
	if (pf->perm & IOMMU_PGFAULT_PERM_PRIV)
		flags |= VIRTIO_IOMMU_FAULT_F_PRIVILEGED;
	if (last)
		flags |= VIRTIO_IOMMU_FAULT_F_LAST;
	if (pf->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID)
		flags |= VIRTIO_IOMMU_FAULT_F_PASID;

	memset(ev, 0, sizeof(*ev));
	ev->reason = VIRTIO_IOMMU_FAULT_R_MAPPING;
	ev->flags = cpu_to_le32(flags);
	ev->endpoint = cpu_to_le32(endpoint);
	if (pf->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID)
		ev->pasid = cpu_to_le32(pf->pasid);
	ev->address = cpu_to_le64(pf->addr);
	ev->group_id = cpu_to_le16(pf->grpid);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(vhost_iommu_pgfault_to_event);

/**
 * vhost_iommu_group_len() - records of the first group in a read
 * @pf: records as iommufd returned them, whole groups
 * @n: how many, at least one
 *
 * iommufd gives every record of a group the group's cookie, and cookies
 * of open groups differ, so the group ends where the cookie changes.
 *
 * Return: the number of records of the group @pf starts, 1 to @n.
 */
u32 vhost_iommu_group_len(const struct iommu_hwpt_pgfault *pf, u32 n)
{
	u32 i;

	for (i = 1; i < n && pf[i].cookie == pf[0].cookie; i++)
		;
	return i;
}
EXPORT_SYMBOL_IF_KUNIT(vhost_iommu_group_len);

/**
 * vhost_iommu_page_resp_code() - iommufd's code for a guest response code
 * @code: VIRTIO_IOMMU_PAGE_RESP_*
 *
 * iommufd has no FAILURE; INVALID is the closest: the device stops
 * asking for the page without retrying.
 *
 * Return: IOMMUFD_PAGE_RESP_*, or -EINVAL for an unknown code.
 */
int vhost_iommu_page_resp_code(u16 code)
{
	switch (code) {
	case VIRTIO_IOMMU_PAGE_RESP_SUCCESS:
		return IOMMUFD_PAGE_RESP_SUCCESS;
	case VIRTIO_IOMMU_PAGE_RESP_INVALID:
	case VIRTIO_IOMMU_PAGE_RESP_FAILURE:
		return IOMMUFD_PAGE_RESP_INVALID;
	}
	return -EINVAL;
}
EXPORT_SYMBOL_IF_KUNIT(vhost_iommu_page_resp_code);

/* Can this context write to the fault queue? Only in the owner's mm. */
static bool vhost_iommu_fault_can_write(struct vhost_iommu *vi)
{
	return vi->scratch && current->mm && current->mm == vi->owner;
}

/* Forget group @g and the records of it still waiting in the backlog. */
static void vhost_iommu_group_free(struct vhost_iommu *vi, u32 g)
{
	struct vhost_iommu_faultq *fq = vi->fq;
	u32 i, n = 0;

	if (!fq->groups[g].used)
		return;
	if (!fq->groups[g].delivered) {
		for (i = 0; i < vi->nr_backlog; i++)
			if (vi->backlog[i].group != g)
				vi->backlog[n++] = vi->backlog[i];
		vi->nr_backlog = n;
	}
	fq->groups[g].used = false;
	fq->nr_groups--;
	while (fq->groups_end && !fq->groups[fq->groups_end - 1].used)
		fq->groups_end--;
}

/*
 * Answer @n cookies INVALID. iommufd stops at a cookie it no longer
 * has (it answered the group itself on a detach): skip it, go on. A
 * write that failed otherwise is tried again at once, then kept for the
 * worker to write again: the host device must not wait on a group the
 * device forgot.
 */
static void vhost_iommu_answer_cookies(struct vhost_iommu *vi,
				       const u32 *cookies, u32 n)
{
	struct vhost_iommu_faultq *fq = vi->fq;
	struct iommu_hwpt_page_response r[32];
	u32 i, k, done, again;
	int ret;

	if (!vhost_iommu_fault_can_write(vi))
		return;
	for (i = 0; i < n; i += k) {
		k = min_t(u32, n - i, ARRAY_SIZE(r));
		for (done = 0; done < k; done++)
			r[done] = (struct iommu_hwpt_page_response) {
				.cookie = cookies[i + done],
				.code = IOMMUFD_PAGE_RESP_INVALID,
			};
		ret = vhost_iommu_fault_write(vi, fq->file, r, k, &done);
		vi->stats.out_page_req_invalid += done;
		if (ret == -EINVAL && done < k) {
			pr_debug("group %u already answered by iommufd\n",
				 cookies[i + done]);
			k = done + 1;
		} else if (ret) {
			vi->stats.out_fault_errors++;
			ret = vhost_iommu_fault_write(vi, fq->file, &r[done], 1,
						      &again);
			vi->stats.out_page_req_invalid += again;
			if (ret && ret != -EINVAL &&
			    fq->nr_retry < ARRAY_SIZE(fq->retry))
				fq->retry[fq->nr_retry++] = cookies[i + done];
			k = done + 1;
		}
	}
	if (fq->nr_retry)
		vhost_iommu_wake(vi, VHOST_IOMMU_WORK_FAULT);
}

/*
 * Write the failed answers again. After VHOST_IOMMU_FAULT_RETRIES passes
 * without success they are given up: iommufd answers such groups itself
 * when the fault queue is destroyed or the device leaves the HWPT.
 */
static void vhost_iommu_fault_retry(struct vhost_iommu *vi)
{
	struct vhost_iommu_faultq *fq = vi->fq;
	u32 n = fq->nr_retry;

	if (!n)
		return;
	memcpy(fq->answers, fq->retry, n * sizeof(fq->retry[0]));
	fq->nr_retry = 0;
	vhost_iommu_answer_cookies(vi, fq->answers, n);
	if (!fq->nr_retry) {
		fq->retry_passes = 0;
	} else if (++fq->retry_passes >= VHOST_IOMMU_FAULT_RETRIES) {
		pr_debug("%u page request answers given up\n", fq->nr_retry);
		fq->nr_retry = 0;
		fq->retry_passes = 0;
	}
}

/* The device answers a group it holds INVALID, for the tracepoint. */
static void vhost_iommu_trace_invalid(struct vhost_iommu *vi,
				      const struct vhost_iommu_group *grp)
{
	trace_vhost_iommu_page_resp(vi->id, grp->endpoint, grp->grpid,
				    IOMMUFD_PAGE_RESP_INVALID, true);
}

/* Answer INVALID every group @keep says no to; all when @keep is NULL. */
static void vhost_iommu_answer_groups(struct vhost_iommu *vi,
				      bool (*keep)(const struct vhost_iommu_group *,
						   u32),
				      u32 arg)
{
	struct vhost_iommu_faultq *fq = vi->fq;
	u32 g, n = 0;

	for (g = 0; g < fq->groups_end; g++) {
		if (!fq->groups[g].used ||
		    (keep && keep(&fq->groups[g], arg)))
			continue;
		fq->answers[n++] = fq->groups[g].cookie;
		vhost_iommu_trace_invalid(vi, &fq->groups[g]);
		vhost_iommu_group_free(vi, g);
	}
	if (n)
		vhost_iommu_answer_cookies(vi, fq->answers, n);
}

static bool vhost_iommu_group_delivered(const struct vhost_iommu_group *grp,
					u32 unused)
{
	return grp->delivered;
}

static bool vhost_iommu_group_other_ep(const struct vhost_iommu_group *grp,
				       u32 endpoint)
{
	return grp->endpoint != endpoint;
}

/**
 * vhost_iommu_fault_answer_all() - answer every outstanding group INVALID
 * @vi: the device, mutex held; owner's ioctl context or release
 */
void vhost_iommu_fault_answer_all(struct vhost_iommu *vi)
{
	lockdep_assert_held(&vi->mutex);
	if (vi->fq)
		vhost_iommu_answer_groups(vi, NULL, 0);
}

/**
 * vhost_iommu_fault_endpoint_gone() - answer an endpoint's groups INVALID
 * @vi: the device, mutex held, owner's ioctl context
 * @endpoint: the endpoint being removed
 */
void vhost_iommu_fault_endpoint_gone(struct vhost_iommu *vi, u32 endpoint)
{
	lockdep_assert_held(&vi->mutex);
	if (vi->fq)
		vhost_iommu_answer_groups(vi, vhost_iommu_group_other_ep,
					  endpoint);
}

/**
 * vhost_iommu_fault_detach() - answer everything and let go of the queue
 * @vi: the device, mutex held; owner's ioctl context or release
 */
void vhost_iommu_fault_detach(struct vhost_iommu *vi)
{
	struct vhost_iommu_faultq *fq = vi->fq;

	lockdep_assert_held(&vi->mutex);
	if (!fq)
		return;
	vhost_iommu_answer_groups(vi, NULL, 0);
	/* The worker cannot retry for a queue let go of: once more now. */
	vhost_iommu_fault_retry(vi);
	if (fq->wqh)
		remove_wait_queue(fq->wqh, &fq->wait);
	if (fq->file)
		fput(fq->file);
	vhost_iommu_fake_free(fq->fake);
	vi->fq = NULL;
	kvfree(fq);
}

/* Runs under the fault queue's wait queue lock: only wake the worker. */
static int vhost_iommu_fault_wake(wait_queue_entry_t *wait, unsigned int mode,
				  int sync, void *key)
{
	struct vhost_iommu_faultq *fq =
		container_of(wait, struct vhost_iommu_faultq, wait);

	/* iommufd wakes its readers without a key. */
	if (!key || (key_to_poll(key) & EPOLLIN))
		vhost_iommu_wake(fq->vi, VHOST_IOMMU_WORK_FAULT);
	return 0;
}

static void vhost_iommu_fault_queue_proc(struct file *file,
					 wait_queue_head_t *wqh,
					 poll_table *pt)
{
	struct vhost_iommu_faultq *fq =
		container_of(pt, struct vhost_iommu_faultq, pt);

	fq->wqh = wqh;
	add_wait_queue(wqh, &fq->wait);
}

/*
 * There is no exported way to recognise an iommufd fault queue; check
 * what can be seen: a file of the anonymous inode filesystem (a name
 * alone is any file's to take, and with iommufd built in the module
 * owner matches every built-in driver) with iommufd's name for it, from
 * the module that made the iommufd, open read-write, with the plain
 * read/write/poll the worker calls. Which iommufd context it belongs to
 * cannot be seen from here.
 */
static bool vhost_iommu_is_fault_file(struct vhost_iommu *vi,
				      struct file *file)
{
	const struct file_operations *fops = file->f_op;

	return file_inode(file)->i_sb->s_magic == ANON_INODE_FS_MAGIC &&
	       (file->f_mode & (FMODE_READ | FMODE_WRITE)) ==
	       (FMODE_READ | FMODE_WRITE) &&
	       fops->read && fops->write && fops->poll &&
	       fops->owner == vi->iommufd->f_op->owner &&
	       !strcmp(file->f_path.dentry->d_name.name,
		       VHOST_IOMMU_FAULT_FILE_NAME);
}

/**
 * vhost_iommu_set_fault_queue() - VHOST_IOMMU_SET_FAULT_QUEUE
 * @vi: the device, mutex held, owner's context
 * @arg: struct vhost_iommu_fault_queue
 *
 * Return: 0, -EBADF, -EINVAL, -ENOMEM or an argument error.
 */
long vhost_iommu_set_fault_queue(struct vhost_iommu *vi, void __user *arg)
{
	struct vhost_iommu_fault_queue c;
	struct vhost_iommu_faultq *fq;
	struct file *file;
	u32 usize;
	int ret;

	lockdep_assert_held(&vi->mutex);
	ret = vhost_iommu_copy_arg(&c, sizeof(c),
				   offsetofend(struct vhost_iommu_fault_queue,
					       __reserved), arg, &usize);
	if (ret)
		return ret;
	if (c.flags || c.__reserved)
		return -EOPNOTSUPP;
	if (c.fault_fd == -1) {
		vhost_iommu_fault_detach(vi);
		return 0;
	}
	file = fget(c.fault_fd);
	if (!file)
		return -EBADF;
	if (!vi->iommufd || !vi->scratch ||
	    !vhost_iommu_is_fault_file(vi, file)) {
		fput(file);
		return -EINVAL;
	}
	if (vi->fq && vi->fq->file == file) {
		fput(file);
		return 0;
	}
	fq = kvzalloc(sizeof(*fq), GFP_KERNEL_ACCOUNT);
	if (!fq) {
		fput(file);
		return -ENOMEM;
	}
	vhost_iommu_fault_detach(vi);
	fq->file = file;
	fq->vi = vi;
	init_waitqueue_func_entry(&fq->wait, vhost_iommu_fault_wake);
	init_poll_funcptr(&fq->pt, vhost_iommu_fault_queue_proc);
	vi->fq = fq;
	/* Hooks fq->wait; faults already queued start a pass. */
	if (vfs_poll(file, &fq->pt) & EPOLLIN)
		vhost_iommu_wake(vi, VHOST_IOMMU_WORK_FAULT);
	return 0;
}

static bool vhost_iommu_eventq_ready(struct vhost_iommu *vi)
{
	return (vi->features & BIT_ULL(VIRTIO_IOMMU_F_PAGE_REQ)) &&
	       vhost_iommu_vq_running(vi, &vi->vqs[VHOST_IOMMU_VQ_EVENT]);
}

static struct vhost_iommu_group *
vhost_iommu_group_find(struct vhost_iommu_faultq *fq, u32 endpoint,
		       bool has_pasid, u32 pasid, u32 grpid)
{
	struct vhost_iommu_group *grp;
	u32 g;

	for (g = 0; g < fq->groups_end; g++) {
		grp = &fq->groups[g];
		if (grp->used && grp->endpoint == endpoint &&
		    grp->grpid == grpid && grp->has_pasid == has_pasid &&
		    (!has_pasid || grp->pasid == pasid))
			return grp;
	}
	return NULL;
}

/*
 * Take one group of @n records read from the fault queue: remember it and
 * queue its events, or return false to have it answered INVALID.
 */
static bool vhost_iommu_fault_take_group(struct vhost_iommu *vi,
					 const struct iommu_hwpt_pgfault *pf,
					 u32 n)
{
	struct vhost_iommu_faultq *fq = vi->fq;
	const struct vhost_iommu_vq *vq = &vi->vqs[VHOST_IOMMU_VQ_EVENT];
	bool has_pasid = pf->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID;
	struct vhost_iommu_group *grp;
	u32 g, i, endpoint, free = U32_MAX;

	/* A cookie iommufd hands out again was answered behind our back. */
	for (g = 0; g < fq->groups_end; g++) {
		if (fq->groups[g].used && fq->groups[g].cookie == pf->cookie)
			vhost_iommu_group_free(vi, g);
		if (!fq->groups[g].used && free == U32_MAX)
			free = g;
	}
	if (free == U32_MAX && fq->groups_end < ARRAY_SIZE(fq->groups))
		free = fq->groups_end;
	if (!vhost_iommu_eventq_ready(vi) || n > vq->num ||
	    vi->nr_backlog + n > ARRAY_SIZE(vi->backlog) ||
	    free == U32_MAX ||
	    vhost_iommu_endpoint_of(vi, pf->dev_id, &endpoint))
		return false;
	if (vhost_iommu_group_find(fq, endpoint, has_pasid, pf->pasid,
				   pf->grpid))
		return false;
	for (i = 0; i < n; i++) {
		struct vhost_iommu_backlog_rec *ev = &vi->backlog[vi->nr_backlog + i];

		if (vhost_iommu_pgfault_to_event(&pf[i], endpoint, i == n - 1,
						 &ev->rec))
			return false;
		ev->group = free;
	}
	vi->nr_backlog += n;
	grp = &fq->groups[free];
	*grp = (struct vhost_iommu_group) {
		.cookie = pf->cookie,
		.endpoint = endpoint,
		.pasid = has_pasid ? pf->pasid : 0,
		.grpid = pf->grpid,
		.has_pasid = has_pasid,
		.used = true,
	};
	fq->nr_groups++;
	fq->groups_end = max(fq->groups_end, free + 1);
	return true;
}

/*
 * Publish the first @nr event buffers of the backlog's head, written with
 * a record of @len bytes each, now: a group counts as delivered only once
 * the guest can see it.
 * Return: 0 or -EFAULT.
 */
static int vhost_iommu_event_publish(struct vhost_iommu_vq *vq,
				     const u16 *heads, u32 nr, u32 len)
{
	u32 k;

	for (k = 0; k < nr; k++)
		if (vhost_iommu_vq_add_used(vq, heads[k], len))
			return -EFAULT;
	return vhost_iommu_vq_flush_used(vq);
}

/* Take the first @n records off the backlog. */
static void vhost_iommu_backlog_pop(struct vhost_iommu *vi, u32 n)
{
	vi->nr_backlog -= n;
	memmove(vi->backlog, vi->backlog + n,
		vi->nr_backlog * sizeof(vi->backlog[0]));
}

/* Drop the VMM's records from the backlog: they will not be written. */
static void vhost_iommu_drop_vmm_events(struct vhost_iommu *vi)
{
	u32 i, n = 0;

	for (i = 0; i < vi->nr_backlog; i++) {
		if (vi->backlog[i].group == VHOST_IOMMU_EVENT_VMM)
			vi->stats.out_vmm_events_dropped++;
		else
			vi->backlog[n++] = vi->backlog[i];
	}
	vi->nr_backlog = n;
}

/**
 * vhost_iommu_events_drop() - forget every record waiting for a buffer
 * @vi: the device, mutex held
 *
 * For the device reset, after the page request groups were answered
 * (which took their records off the backlog): the VMM's records go too.
 */
void vhost_iommu_events_drop(struct vhost_iommu *vi)
{
	lockdep_assert_held(&vi->mutex);
	vhost_iommu_drop_vmm_events(vi);
	WARN_ON_ONCE(vi->nr_backlog);
	vi->nr_backlog = 0;
}

/*
 * Write the backlog into event buffers, in order: a VMM record into one
 * buffer as a 24-byte fault report, a page request group whole, one
 * 48-byte record per buffer. Each record goes into its buffer as the chain
 * is taken, but nothing is used before the whole group has buffers: a
 * buffer too short for a record puts the group's buffers back (their bytes
 * are the device's until used) and the group is answered INVALID, as that
 * guest only takes 24-byte fault reports; a VMM record is dropped for a
 * buffer shorter than 24 bytes, likewise left available. A corrupt or
 * unwritable buffer breaks the queue after what came before it. A queue
 * that is not set up or broken takes nothing: the groups are answered
 * INVALID and the VMM's records dropped. A stopped device keeps them all.
 */
static void vhost_iommu_events_deliver(struct vhost_iommu *vi)
{
	struct vhost_iommu_faultq *fq = vi->fq;
	struct vhost_iommu_vq *vq = &vi->vqs[VHOST_IOMMU_VQ_EVENT];
	struct vhost_iommu_chain *chain = &vi->chain;
	u16 heads[VHOST_IOMMU_MAX_EVENT_BACKLOG];
	bool bad_head, vmm;
	u32 g, n, k, len;
	u16 avail;
	int ret;

	lockdep_assert_held(&vi->mutex);
	if (vi->run == VHOST_IOMMU_RUN_STOPPED)
		return;
	while (vi->nr_backlog) {
		if (!vhost_iommu_vq_running(vi, vq)) {
			vhost_iommu_drop_vmm_events(vi);
			if (fq)
				vhost_iommu_answer_groups(vi,
							  vhost_iommu_group_delivered,
							  0);
			return;
		}
		g = vi->backlog[0].group;
		vmm = g == VHOST_IOMMU_EVENT_VMM;
		if (!vmm && !vhost_iommu_eventq_ready(vi)) {
			/* PAGE_REQ is gone: no group can be delivered. */
			vhost_iommu_answer_groups(vi,
						  vhost_iommu_group_delivered,
						  0);
			continue;
		}
		n = 1;
		if (!vmm)
			while (n < vi->nr_backlog && vi->backlog[n].group == g)
				n++;
		len = vmm ? sizeof(struct virtio_iommu_fault) :
			    sizeof(struct virtio_iommu_page_req);
		/* The queue shrank under a waiting group: it can never fit. */
		if (n > vq->num)
			goto undelivered;
		ret = vhost_iommu_vq_avail(vq, &avail);
		if (!ret && avail < n && vhost_iommu_vq_enable_notify(vq, n))
			ret = vhost_iommu_vq_avail(vq, &avail);
		if (ret) {
			vhost_iommu_vq_mark_broken(vi, vq);
			continue;
		}
		if (avail < n)
			return;

		for (k = 0; k < n; k++) {
			ret = vhost_iommu_vq_get_chain(vq, vi->mem, chain);
			if (ret == -ENOENT) {
				/* The index went back: nothing is used. */
				vq->last_avail_idx -= k;
				break;
			}
			/* -EBADMSG: its head is known, complete it with 0. */
			bad_head = ret == -EBADMSG;
			if (ret)
				goto broken;
			if (chain->out_len < len) {
				vq->last_avail_idx -= k + 1;
				break;
			}
			heads[k] = chain->head;
			bad_head = true;
			if (vhost_iommu_chain_copy(chain, true, 0,
						   &vi->backlog[k].rec, len))
				goto broken;
		}
		if (k == n) {
			if (vhost_iommu_event_publish(vq, heads, n, len)) {
				vhost_iommu_vq_mark_broken(vi, vq);
				goto undelivered;
			}
			if (vmm) {
				vi->stats.out_vmm_events++;
			} else {
				vi->stats.out_page_reqs += n;
				fq->groups[g].delivered = true;
				trace_vhost_iommu_page_req(vi->id,
							   fq->groups[g].endpoint,
							   fq->groups[g].grpid,
							   n);
			}
			vhost_iommu_backlog_pop(vi, n);
			continue;
		}
		goto undelivered;
broken:
		/* Records before the bad buffer, then the bad one with 0. */
		if (!vhost_iommu_event_publish(vq, heads, k, len)) {
			if (!vmm)
				vi->stats.out_page_reqs += k;
			if (bad_head)
				vhost_iommu_vq_add_used(vq, chain->head, 0);
		}
		vhost_iommu_vq_mark_broken(vi, vq);
undelivered:
		if (vmm) {
			vi->stats.out_vmm_events_dropped++;
			vhost_iommu_backlog_pop(vi, 1);
			continue;
		}
		/* Not all of it reached the guest: nobody can answer it. */
		fq->answers[0] = fq->groups[g].cookie;
		vhost_iommu_trace_invalid(vi, &fq->groups[g]);
		vhost_iommu_group_free(vi, g);
		vhost_iommu_answer_cookies(vi, fq->answers, 1);
	}
}

/**
 * vhost_iommu_post_event() - VHOST_IOMMU_POST_EVENT
 * @vi: the device, mutex held, owner's context
 * @arg: struct vhost_iommu_fault_report
 *
 * The record joins the backlog behind everything that waits, and unless
 * the device is stopped the backlog is written out at once, as the worker
 * would (the owner's context reaches guest memory as the worker does).
 * The caller's kick lets the worker look again.
 *
 * Return: 0, -EINVAL, -ENOTCONN, -EIO, -ENOSPC or an argument error.
 */
long vhost_iommu_post_event(struct vhost_iommu *vi, void __user *arg)
{
	struct vhost_iommu_vq *vq = &vi->vqs[VHOST_IOMMU_VQ_EVENT];
	struct vhost_iommu_backlog_rec *b;
	struct vhost_iommu_fault_report c;
	u32 usize;
	int ret;

	lockdep_assert_held(&vi->mutex);
	ret = vhost_iommu_copy_arg(&c, sizeof(c),
				   offsetofend(struct vhost_iommu_fault_report,
					       address), arg, &usize);
	if (ret)
		return ret;
	if (c.flags || c.__reserved)
		return -EOPNOTSUPP;
	if (c.reason > VIRTIO_IOMMU_FAULT_R_MAPPING ||
	    c.fault_flags & ~VHOST_IOMMU_EVENT_FAULT_FLAGS ||
	    (c.address && !(c.fault_flags & VIRTIO_IOMMU_FAULT_F_ADDRESS)))
		return -EINVAL;
	if (vq->broken)
		return -EIO;
	if (!vi->features_set || !vq->num || !vq->addr_set || !vq->kick)
		return -ENOTCONN;

	/* What waits goes first; it may make room. */
	vhost_iommu_events_deliver(vi);
	if (vq->broken)
		goto broken;
	if (vi->nr_backlog == ARRAY_SIZE(vi->backlog)) {
		vhost_iommu_vq_signal(vq);
		return -ENOSPC;
	}
	b = &vi->backlog[vi->nr_backlog++];
	memset(b, 0, sizeof(*b));
	b->group = VHOST_IOMMU_EVENT_VMM;
	b->fault.reason = c.reason;
	b->fault.flags = cpu_to_le32(c.fault_flags);
	b->fault.endpoint = cpu_to_le32(c.endpoint);
	b->fault.address = cpu_to_le64(c.address);
	vhost_iommu_events_deliver(vi);
	if (vq->broken)
		goto broken;
	vhost_iommu_vq_signal(vq);
	return 0;

broken:
	/* The record was not written; the err eventfd told the VMM. */
	vhost_iommu_vq_signal(vq);
	return -EIO;
}

/* A group the device answers INVALID as it arrives, for the tracepoint. */
static void vhost_iommu_trace_refused(struct vhost_iommu *vi,
				      const struct iommu_hwpt_pgfault *pf)
{
	u32 endpoint = U32_MAX;

	if (!trace_vhost_iommu_page_resp_enabled())
		return;
	vhost_iommu_endpoint_of(vi, pf->dev_id, &endpoint);
	trace_vhost_iommu_page_resp(vi->id, endpoint, pf->grpid,
				    IOMMUFD_PAGE_RESP_INVALID, true);
}

/* Records @n read into fq->buf: take them group by group. */
static void vhost_iommu_fault_take(struct vhost_iommu *vi, u32 n)
{
	struct vhost_iommu_faultq *fq = vi->fq;
	const struct iommu_hwpt_pgfault *pf = (void *)fq->buf;
	u32 first, len, nr_answers = 0;

	for (first = 0; first < n; first += len) {
		len = vhost_iommu_group_len(&pf[first], n - first);
		/* Make room by delivering what waits, if the guest has room. */
		if (vi->nr_backlog + len > ARRAY_SIZE(vi->backlog) &&
		    vi->nr_backlog) {
			if (nr_answers)
				vhost_iommu_answer_cookies(vi, fq->answers,
							   nr_answers);
			nr_answers = 0;
			vhost_iommu_events_deliver(vi);
		}
		if (!vhost_iommu_fault_take_group(vi, &pf[first], len)) {
			vhost_iommu_trace_refused(vi, &pf[first]);
			fq->answers[nr_answers++] = pf[first].cookie;
		}
	}
	if (nr_answers)
		vhost_iommu_answer_cookies(vi, fq->answers, nr_answers);
}

/*
 * The group at the head of the fault queue does not fit fq->buf: read it
 * into a larger temporary area and take what came, a window at a time. A
 * group larger than a window cannot be delivered (it is larger than the
 * backlog): it is answered INVALID.
 *
 * Return: 0, or the read's error: -EINVAL when the group is larger than
 * %VHOST_IOMMU_MAX_PAGE_GROUP_RECORDS (it stays at the head).
 */
static int vhost_iommu_fault_take_big(struct vhost_iommu *vi)
{
	struct vhost_iommu_faultq *fq = vi->fq;
	struct iommu_hwpt_pgfault *pf = (void *)fq->buf;
	const size_t rec = sizeof(*pf);
	struct iommu_hwpt_pgfault __user *up;
	u32 total, pos, k, j, c;
	u64 addr;
	ssize_t n;

	n = vhost_iommu_fault_read_big(vi, fq->file, &addr);
	if (n <= 0) {
		pr_debug("page request group too large to read: %zd\n", n);
		return n ?: -EIO;
	}
	up = u64_to_user_ptr(addr);
	total = n / rec;
	for (pos = 0; pos < total; pos += k) {
		/* One record more than the window, to see where a group ends. */
		k = min(total - pos, VHOST_IOMMU_FAULT_BUF_RECORDS - 1);
		if (copy_from_user(pf, up + pos,
				   min(total - pos, k + 1) * rec)) {
			vi->stats.out_fault_errors++;
			break;
		}
		if (pos + k < total && pf[k].cookie == pf[k - 1].cookie) {
			for (j = k - 1; j && pf[j - 1].cookie == pf[k].cookie; j--)
				;
			if (!j) {
				/* Larger than the window: answer it, skip it. */
				vhost_iommu_trace_refused(vi, &pf[0]);
				fq->answers[0] = pf[0].cookie;
				vhost_iommu_answer_cookies(vi, fq->answers, 1);
				while (pos + k < total &&
				       !get_user(c, &up[pos + k].cookie) &&
				       c == pf[0].cookie)
					k++;
				continue;
			}
			k = j;
		}
		vhost_iommu_fault_take(vi, k);
	}
	vhost_iommu_fault_free_big(addr);
	return 0;
}

/**
 * vhost_iommu_handle_faults() - one pass of the worker over the event
 * backlog and the fault queue
 * @vi: the device, mutex held, in the worker
 * @read: the fault queue woke us: read it, not only deliver the backlog
 *
 * Return: true if the fault queue may hold more and another pass is due.
 */
bool vhost_iommu_handle_faults(struct vhost_iommu *vi, bool read)
{
	struct vhost_iommu_faultq *fq = vi->fq;
	struct vhost_iommu_vq *vq = &vi->vqs[VHOST_IOMMU_VQ_EVENT];
	u16 old = vq->last_used_idx;
	bool more = read;
	unsigned int i;
	ssize_t n;

	lockdep_assert_held(&vi->mutex);
	if (!fq) {
		/* The VMM's records may wait without a fault queue. */
		vhost_iommu_events_deliver(vi);
		vhost_iommu_vq_signal(vq);
		return false;
	}
	vhost_iommu_fault_retry(vi);
	vhost_iommu_events_deliver(vi);
	for (i = 0; read && i < VHOST_IOMMU_FAULT_READS; i++) {
		n = vhost_iommu_fault_read(vi, fq->file, fq->buf,
					   sizeof(fq->buf));
		/* iommufd's answer when the first group does not fit. */
		if (n == -EINVAL) {
			n = vhost_iommu_fault_take_big(vi);
			if (!n) {
				fq->read_errors = 0;
				vhost_iommu_events_deliver(vi);
				continue;
			}
		}
		if (n == -EINVAL) {
			/* Larger than any read: wait for the next wake-up. */
			vi->stats.out_fault_errors++;
			more = false;
			break;
		}
		if (n < 0) {
			/* iommufd wakes only for new faults: look again soon. */
			pr_debug("fault queue read: %zd\n", n);
			vi->stats.out_fault_errors++;
			more = ++fq->read_errors < VHOST_IOMMU_FAULT_RETRIES;
			break;
		}
		fq->read_errors = 0;
		if (!n) {
			more = false;
			break;
		}
		vhost_iommu_fault_take(vi, n / sizeof(struct iommu_hwpt_pgfault));
		vhost_iommu_events_deliver(vi);
		/* The guest gets these before the device reads again. */
		vhost_iommu_vq_signal(vq);
	}
	if (vq->last_used_idx != old)
		vhost_iommu_vq_signal(vq);
	/* Answers to write again need another pass. */
	return more || fq->nr_retry;
}

/**
 * vhost_iommu_handle_page_resp() - a guest PAGE_RESP
 * @vi: the device, mutex held, in the worker
 * @r: the request, reserved field checked
 *
 * Return: the status for the request's tail.
 */
u8 vhost_iommu_handle_page_resp(struct vhost_iommu *vi,
				const struct virtio_iommu_req_page_resp *r)
{
	struct vhost_iommu_faultq *fq = vi->fq;
	bool has_pasid = le32_to_cpu(r->flags) & VIRTIO_IOMMU_PAGE_RESP_F_PASID;
	struct iommu_hwpt_page_response resp;
	struct vhost_iommu_group *grp;
	u32 done;
	int code, ret;

	lockdep_assert_held(&vi->mutex);
	code = vhost_iommu_page_resp_code(le16_to_cpu(r->resp_code));
	if (le32_to_cpu(r->flags) & ~VIRTIO_IOMMU_PAGE_RESP_F_PASID ||
	    code < 0 || !fq)
		return VIRTIO_IOMMU_S_INVAL;
	grp = vhost_iommu_group_find(fq, le32_to_cpu(r->endpoint), has_pasid,
				     le32_to_cpu(r->pasid),
				     le32_to_cpu(r->grpid));
	if (!grp || !grp->delivered)
		return VIRTIO_IOMMU_S_INVAL;

	resp.cookie = grp->cookie;
	resp.code = code;
	trace_vhost_iommu_page_resp(vi->id, grp->endpoint, grp->grpid, code,
				    false);
	ret = vhost_iommu_fault_write(vi, fq->file, &resp, 1, &done);
	/* -EINVAL: iommufd answered it itself when the device left the HWPT. */
	if (!ret || ret == -EINVAL)
		vhost_iommu_group_free(vi, grp - fq->groups);
	if (!ret) {
		vi->stats.out_page_resps++;
		return VIRTIO_IOMMU_S_OK;
	}
	if (ret == -EINVAL)
		return VIRTIO_IOMMU_S_INVAL;
	vi->stats.out_fault_errors++;
	return VIRTIO_IOMMU_S_DEVERR;
}
