// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu slow path: requests the VMM answers. One request at most is
 * parked at a time; the request queue waits behind it, so the guest's
 * requests still execute in ring order.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "vhost_iommu.h"
#include "vhost_iommu_trace.h"

/**
 * vhost_iommu_park() - hand a request to the VMM
 * @vi: the device, mutex held
 * @type: request type
 * @buf: its device-readable part
 * @readable: bytes of @buf
 * @chain: the chain to answer on
 */
void vhost_iommu_park(struct vhost_iommu *vi, u8 type, const void *buf,
		      u32 readable, const struct vhost_iommu_chain *chain)
{
	struct vhost_iommu_pending *p = &vi->pending;

	lockdep_assert_held(&vi->mutex);
	p->type = type;
	p->readable = readable;
	memcpy(p->buf, buf, readable);
	memcpy(&p->chain, chain,
	       offsetof(struct vhost_iommu_chain, segs) +
	       (chain->nr_in + chain->nr_out) * sizeof(chain->segs[0]));
	WRITE_ONCE(p->cookie, ++vi->next_cookie);
	wake_up_interruptible_poll(&vi->poll_wq, EPOLLIN | EPOLLRDNORM);
}

/**
 * vhost_iommu_drop_pending() - forget the parked request, unanswered
 * @vi: the device, mutex held
 *
 * For resets and release: a reset device must not touch its queues.
 */
void vhost_iommu_drop_pending(struct vhost_iommu *vi)
{
	lockdep_assert_held(&vi->mutex);
	WRITE_ONCE(vi->pending.cookie, 0);
}

/**
 * vhost_iommu_rewind_pending() - put the parked request back in the ring
 * @vi: the device, mutex held
 *
 * The request queue stops right after the chain it parks, so stepping the
 * available index back one makes the device read that request again when
 * the queue runs; its cookie is stale from now on.
 */
void vhost_iommu_rewind_pending(struct vhost_iommu *vi)
{
	lockdep_assert_held(&vi->mutex);
	if (!vi->pending.cookie)
		return;
	vi->vqs[VHOST_IOMMU_VQ_REQUEST].last_avail_idx--;
	vhost_iommu_drop_pending(vi);
}

/**
 * vhost_iommu_get_request() - VHOST_IOMMU_GET_REQUEST
 * @vi: the device, mutex held
 * @arg: struct vhost_iommu_request
 *
 * Return: 0, -EAGAIN, -EMSGSIZE, or an argument error (see the uAPI).
 */
long vhost_iommu_get_request(struct vhost_iommu *vi, void __user *arg)
{
	struct vhost_iommu_pending *p = &vi->pending;
	struct vhost_iommu_request req;
	u32 usize;
	long ret;

	ret = vhost_iommu_copy_arg(&req, sizeof(req),
				   offsetofend(struct vhost_iommu_request,
					       buf_uptr), arg, &usize);
	if (ret)
		return ret;
	if (req.flags)
		return -EOPNOTSUPP;
	if (!p->cookie)
		return -EAGAIN;

	req.out_cookie = p->cookie;
	req.out_type = p->type;
	req.out_readable_len = p->readable;
	req.out_writable_len = p->chain.out_len;
	if (req.buf_len < p->readable)
		ret = -EMSGSIZE;
	else if (copy_to_user(u64_to_user_ptr(req.buf_uptr), p->buf,
			      p->readable))
		return -EFAULT;
	if (copy_to_user(arg, &req, min_t(size_t, usize, sizeof(req))))
		return -EFAULT;
	return ret;
}

/**
 * vhost_iommu_complete_request() - VHOST_IOMMU_COMPLETE_REQUEST
 * @vi: the device, mutex held
 * @arg: struct vhost_iommu_completion
 *
 * Return: 0, -ENOENT, -EINVAL, or an argument error (see the uAPI).
 */
long vhost_iommu_complete_request(struct vhost_iommu *vi, void __user *arg)
{
	struct vhost_iommu_pending *p = &vi->pending;
	struct vhost_iommu_vq *vq = &vi->vqs[VHOST_IOMMU_VQ_REQUEST];
	struct vhost_iommu_completion c;
	u32 usize, props;
	void *payload;
	long ret;

	ret = vhost_iommu_copy_arg(&c, sizeof(c),
				   offsetofend(struct vhost_iommu_completion,
					       payload_uptr), arg, &usize);
	if (ret)
		return ret;
	if (c.flags)
		return -EOPNOTSUPP;
	if (!p->cookie || c.cookie != p->cookie)
		return -ENOENT;
	if (c.status > VIRTIO_IOMMU_S_NOMEM)
		return -EINVAL;

	if (p->type != VIRTIO_IOMMU_T_PROBE) {
		if (c.payload_len)
			return -EINVAL;
		goto complete;
	}
	/* The property buffer: the first probe_size writable bytes. */
	props = min(p->chain.out_len - (u32)sizeof(struct virtio_iommu_req_tail),
		    vi->config.probe_size);
	if (c.payload_len > props ||
	    (c.payload_len && c.status != VIRTIO_IOMMU_S_OK))
		return -EINVAL;
	if (!c.payload_len)
		goto complete;
	payload = memdup_user(u64_to_user_ptr(c.payload_uptr), c.payload_len);
	if (IS_ERR(payload))
		return PTR_ERR(payload);
	ret = vhost_iommu_chain_copy(&p->chain, true, 0, payload,
				     c.payload_len);
	kfree(payload);
	if (ret) {
		/* Guest memory went away under the request. */
		vhost_iommu_vq_add_used(vq, p->chain.head, 0);
		vhost_iommu_vq_mark_broken(vi, vq);
		goto done;
	}
complete:
	trace_vhost_iommu_req_complete(vi->id, p->chain.head, p->type, c.status,
				       p->chain.out_len, VHOST_IOMMU_PATH_VMM);
	/* The rest of the property buffer is zero-filled with the tail. */
	vhost_iommu_complete(vi, p->chain.head, &p->chain, c.payload_len,
			     c.status);
done:
	vhost_iommu_drop_pending(vi);
	vhost_iommu_vq_signal(vq);
	return 0;
}
