// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu request framing: the one place that knows request types.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/eventfd.h>
#include <linux/export.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/stddef.h>
#include <uapi/linux/iommufd.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <kunit/visibility.h>

#include "vhost_iommu.h"
#include "vhost_iommu_trace.h"

/* iommufd's selftest mock driver's invalidation data type (test ABI). */
#define VHOST_IOMMU_HWPT_INVALIDATE_DATA_SELFTEST	0xdeadbeef
/* ... and its vIOMMU's (IOMMU_VIOMMU_TYPE_SELFTEST), same value. */
#define VHOST_IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST	0xdeadbeef

/* Wire sizes fixed by the spec and by our uAPI header. */
static_assert(sizeof(struct virtio_iommu_req_attach_table) == 128);
static_assert(sizeof(struct virtio_iommu_req_invalidate) == 64);
static_assert(sizeof(struct virtio_iommu_req_page_resp) == 40);
static_assert(sizeof(struct virtio_iommu_page_req) == 48);
static_assert(offsetof(struct virtio_iommu_req_invalidate, page_size) == 40);
static_assert(offsetof(struct virtio_iommu_req_page_resp, resp_code) == 24);
static_assert(offsetof(struct virtio_iommu_page_req, group_id) == 24);

/* Offset of the tail, i.e. size of the readable part, of each type. */
static const u32 vhost_iommu_readable[] = {
	[VIRTIO_IOMMU_T_ATTACH] = offsetof(struct virtio_iommu_req_attach, tail),
	[VIRTIO_IOMMU_T_DETACH] = offsetof(struct virtio_iommu_req_detach, tail),
	[VIRTIO_IOMMU_T_MAP] = offsetof(struct virtio_iommu_req_map, tail),
	[VIRTIO_IOMMU_T_UNMAP] = offsetof(struct virtio_iommu_req_unmap, tail),
	[VIRTIO_IOMMU_T_PROBE] =
		offsetof(struct virtio_iommu_req_probe, properties),
	[VIRTIO_IOMMU_T_ATTACH_TABLE] =
		offsetof(struct virtio_iommu_req_attach_table, tail),
	[VIRTIO_IOMMU_T_INVALIDATE] =
		offsetof(struct virtio_iommu_req_invalidate, tail),
	[VIRTIO_IOMMU_T_PAGE_RESP] =
		offsetof(struct virtio_iommu_req_page_resp, tail),
};

/**
 * vhost_iommu_req_layout() - framing of a request type
 * @type: request type from the request head
 * @features: negotiated virtio features
 * @probe_size: the probe_size the VMM presents in the config space
 * @layout: filled with the readable and writable sizes
 *
 * A type whose feature was not negotiated is treated as unknown: the spec
 * says such a request is completed with used length zero.
 *
 * Return: 0, or -EOPNOTSUPP for an unknown or not negotiated type.
 */
int vhost_iommu_req_layout(u8 type, u64 features, u32 probe_size,
			   struct vhost_iommu_req_layout *layout)
{
	u64 need;

	switch (type) {
	case VIRTIO_IOMMU_T_ATTACH:
	case VIRTIO_IOMMU_T_DETACH:
		need = 0;
		break;
	case VIRTIO_IOMMU_T_MAP:
	case VIRTIO_IOMMU_T_UNMAP:
		need = BIT_ULL(VIRTIO_IOMMU_F_MAP_UNMAP);
		break;
	case VIRTIO_IOMMU_T_PROBE:
		if (!probe_size)
			return -EOPNOTSUPP;
		need = BIT_ULL(VIRTIO_IOMMU_F_PROBE);
		break;
	case VIRTIO_IOMMU_T_ATTACH_TABLE:
	case VIRTIO_IOMMU_T_INVALIDATE:
		need = BIT_ULL(VIRTIO_IOMMU_F_ATTACH_TABLE);
		break;
	case VIRTIO_IOMMU_T_PAGE_RESP:
		need = BIT_ULL(VIRTIO_IOMMU_F_PAGE_REQ);
		break;
	default:
		return -EOPNOTSUPP;
	}
	if ((features & need) != need)
		return -EOPNOTSUPP;
	layout->readable = vhost_iommu_readable[type];
	layout->writable = sizeof(struct virtio_iommu_req_tail);
	if (type == VIRTIO_IOMMU_T_PROBE)
		layout->writable += probe_size;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(vhost_iommu_req_layout);

static bool vhost_iommu_domain_ok(u32 domain, u64 features,
				  const struct vhost_iommu_config_state *c)
{
	if (!(features & BIT_ULL(VIRTIO_IOMMU_F_DOMAIN_RANGE)))
		return true;
	return domain >= c->domain_start && domain <= c->domain_end;
}

static int vhost_iommu_check_map(const struct virtio_iommu_req_map *r,
				 u64 features,
				 const struct vhost_iommu_config_state *c)
{
	u32 valid = VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE;
	u64 start = le64_to_cpu(r->virt_start);
	u64 end = le64_to_cpu(r->virt_end);
	u64 phys = le64_to_cpu(r->phys_start);
	u64 granule = c->page_size_mask & -c->page_size_mask;

	if (features & BIT_ULL(VIRTIO_IOMMU_F_MMIO))
		valid |= VIRTIO_IOMMU_MAP_F_MMIO;
	if (le32_to_cpu(r->flags) & ~valid)
		return VIRTIO_IOMMU_S_INVAL;
	if (!vhost_iommu_domain_ok(le32_to_cpu(r->domain), features, c))
		return VIRTIO_IOMMU_S_RANGE;
	if (end < start)
		return VIRTIO_IOMMU_S_INVAL;
	/* end + 1 wraps to 0 for a range ending at the top: aligned. */
	if ((start | phys | (end + 1)) & (granule - 1))
		return VIRTIO_IOMMU_S_RANGE;
	if ((features & BIT_ULL(VIRTIO_IOMMU_F_INPUT_RANGE)) &&
	    (start < c->input_start || end > c->input_end))
		return VIRTIO_IOMMU_S_RANGE;
	return VHOST_IOMMU_TO_VMM;
}

/**
 * vhost_iommu_req_check() - what the device can decide without the VMM
 * @type: request type, whose layout was checked
 * @req: the device-readable part of the request
 * @features: negotiated virtio features
 * @config: the config space as presented to the guest
 *
 * Return: a VIRTIO_IOMMU_S_* status to complete the request with,
 * %VHOST_IOMMU_TO_VMM to hand it to the VMM, %VHOST_IOMMU_FAST_INVAL
 * for the invalidation fast path or %VHOST_IOMMU_FAST_PAGE_RESP for the
 * page response one.
 */
int vhost_iommu_req_check(u8 type, const void *req, u64 features,
			  const struct vhost_iommu_config_state *config)
{
	switch (type) {
	case VIRTIO_IOMMU_T_ATTACH: {
		const struct virtio_iommu_req_attach *r = req;
		u32 valid = 0;

		if (features & BIT_ULL(VIRTIO_IOMMU_F_BYPASS_CONFIG))
			valid |= VIRTIO_IOMMU_ATTACH_F_BYPASS;
		if (memchr_inv(r->reserved, 0, sizeof(r->reserved)) ||
		    (le32_to_cpu(r->flags) & ~valid))
			return VIRTIO_IOMMU_S_INVAL;
		if (!vhost_iommu_domain_ok(le32_to_cpu(r->domain), features,
					   config))
			return VIRTIO_IOMMU_S_RANGE;
		return VHOST_IOMMU_TO_VMM;
	}
	case VIRTIO_IOMMU_T_DETACH:
	case VIRTIO_IOMMU_T_PROBE:
		/* The spec has the device ignore their reserved fields. */
		return VHOST_IOMMU_TO_VMM;
	case VIRTIO_IOMMU_T_MAP:
		return vhost_iommu_check_map(req, features, config);
	case VIRTIO_IOMMU_T_UNMAP: {
		const struct virtio_iommu_req_unmap *r = req;

		if (memchr_inv(r->reserved, 0, sizeof(r->reserved)) ||
		    le64_to_cpu(r->virt_end) < le64_to_cpu(r->virt_start))
			return VIRTIO_IOMMU_S_INVAL;
		if (!vhost_iommu_domain_ok(le32_to_cpu(r->domain), features,
					   config))
			return VIRTIO_IOMMU_S_RANGE;
		return VHOST_IOMMU_TO_VMM;
	}
	case VIRTIO_IOMMU_T_ATTACH_TABLE: {
		const struct virtio_iommu_req_attach_table *r = req;

		if (!vhost_iommu_domain_ok(le32_to_cpu(r->domain), features,
					   config))
			return VIRTIO_IOMMU_S_RANGE;
		return VHOST_IOMMU_TO_VMM;
	}
	case VIRTIO_IOMMU_T_INVALIDATE: {
		const struct virtio_iommu_req_invalidate *r = req;

		if (memchr_inv(r->reserved, 0, sizeof(r->reserved)))
			return VIRTIO_IOMMU_S_INVAL;
		return VHOST_IOMMU_FAST_INVAL;
	}
	case VIRTIO_IOMMU_T_PAGE_RESP: {
		const struct virtio_iommu_req_page_resp *r = req;

		if (memchr_inv(r->reserved, 0, sizeof(r->reserved)))
			return VIRTIO_IOMMU_S_INVAL;
		return VHOST_IOMMU_FAST_PAGE_RESP;
	}
	}
	/* Not reached for a type whose layout was found. */
	return VIRTIO_IOMMU_S_UNSUPP;
}
EXPORT_SYMBOL_IF_KUNIT(vhost_iommu_req_check);

/**
 * vhost_iommu_vq_mark_broken() - stop using a corrupt queue
 * @vi: the device
 * @vq: the queue
 *
 * The queue is not read again until the VMM sets its base or resets the
 * device; the VMM learns of it through the err eventfd.
 */
void vhost_iommu_vq_mark_broken(struct vhost_iommu *vi,
				struct vhost_iommu_vq *vq)
{
	lockdep_assert_held(&vi->mutex);
	if (vq->broken)
		return;
	/* What completed before the corrupt chain, and its 0, go out. */
	vhost_iommu_vq_flush_used(vq);
	vq->broken = true;
	vi->stats.out_broken++;
	pr_debug("queue %u broken\n", vq->index);
	vhost_iommu_nl_notify(vi, VHOST_IOMMU_EVENT_BROKEN, vq->index);
	if (vq->err)
		eventfd_signal(vq->err);
}

/**
 * vhost_iommu_vq_signal() - publish used entries, interrupt the guest if
 * it wants one
 * @vq: the queue
 */
void vhost_iommu_vq_signal(struct vhost_iommu_vq *vq)
{
	u16 old = vq->signalled_used;
	bool need;

	if (vhost_iommu_vq_flush_used(vq))
		vhost_iommu_vq_mark_broken(vq->vi, vq);

	/* Nothing new: a stale used_event stays unknown until there is. */
	if (old == vq->last_used_idx)
		return;
	need = vhost_iommu_vq_need_signal(vq, old);
	vq->signalled_used = vq->last_used_idx;
	vq->signalled_used_valid = true;
	if (vq->call && need)
		eventfd_signal(vq->call);
}

/**
 * vhost_iommu_complete() - write a status and publish the used entry
 * @vi: the device
 * @head: the chain's head
 * @chain: the chain
 * @written: bytes at the start of the writable part already written
 * @status: VIRTIO_IOMMU_S_*
 *
 * The tail is the last 4 bytes of the writable part and the used length is
 * the whole writable size, which is what the Linux driver checks; what
 * lies between @written and the tail is zero-filled, so every byte the
 * used length covers was written by the device.
 *
 * Return: 0, or -EFAULT if guest memory could not be written (the queue is
 * then broken).
 */
int vhost_iommu_complete(struct vhost_iommu *vi, u16 head,
			 const struct vhost_iommu_chain *chain, u32 written,
			 u8 status)
{
	struct vhost_iommu_vq *vq = &vi->vqs[VHOST_IOMMU_VQ_REQUEST];
	struct virtio_iommu_req_tail tail = { .status = status };
	u32 at = chain->out_len - sizeof(tail);

	lockdep_assert_held(&vi->mutex);
	if ((written < at &&
	     vhost_iommu_chain_copy(chain, true, written, NULL, at - written)) ||
	    vhost_iommu_chain_copy(chain, true, at, &tail, sizeof(tail))) {
		vhost_iommu_vq_add_used(vq, head, 0);
		vhost_iommu_vq_mark_broken(vi, vq);
		return -EFAULT;
	}
	if (vhost_iommu_vq_add_used(vq, head, chain->out_len)) {
		vhost_iommu_vq_mark_broken(vi, vq);
		return -EFAULT;
	}
	vi->stats.out_requests++;
	return 0;
}

/* Used length 0, nothing written: what the spec asks for an unparsable request. */
static void vhost_iommu_complete_empty(struct vhost_iommu *vi, u16 head,
				       u8 type)
{
	struct vhost_iommu_vq *vq = &vi->vqs[VHOST_IOMMU_VQ_REQUEST];

	trace_vhost_iommu_req_complete(vi->id, head, type, 0, 0,
				       VHOST_IOMMU_PATH_DEVICE);
	if (vhost_iommu_vq_add_used(vq, head, 0)) {
		vhost_iommu_vq_mark_broken(vi, vq);
		return;
	}
	vi->stats.out_malformed++;
	vi->stats.out_requests++;
}

/* The iommufd data type of each invalidation format. */
u32 vhost_iommu_inval_data_type(u32 format)
{
	switch (format) {
	case VHOST_IOMMU_INV_FORMAT_SELFTEST:
		return VHOST_IOMMU_HWPT_INVALIDATE_DATA_SELFTEST;
#ifdef VHOST_IOMMU_HAVE_SMMUV3_VIOMMU
	case VHOST_IOMMU_INV_FORMAT_ARM_SMMUV3:
		return IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3;
#endif
	case VHOST_IOMMU_INV_FORMAT_VIOMMU_SELFTEST:
		return VHOST_IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST;
	default:
		return IOMMU_HWPT_INVALIDATE_DATA_VTD_S1;
	}
}

static u8 vhost_iommu_errno_status(int err)
{
	switch (err) {
	case -ENOENT:
		return VIRTIO_IOMMU_S_NOENT;
	case -EINVAL:
		return VIRTIO_IOMMU_S_INVAL;
	case -ENOMEM:
		return VIRTIO_IOMMU_S_NOMEM;
	default:
		return VIRTIO_IOMMU_S_DEVERR;
	}
}

static void vhost_iommu_batch_complete(struct vhost_iommu *vi,
				       const struct vhost_iommu_batch_req *r,
				       u8 status)
{
	struct vhost_iommu_vq *vq = &vi->vqs[VHOST_IOMMU_VQ_REQUEST];
	struct virtio_iommu_req_tail tail = { .status = status };
	u8 *p = (u8 *)&tail;
	u32 i;

	vi->stats.out_invalidations++;
	trace_vhost_iommu_req_complete(vi->id, r->head,
				       VIRTIO_IOMMU_T_INVALIDATE, status,
				       r->out_len, VHOST_IOMMU_PATH_FAST);
	vhost_iommu_count_ua(vi, r->nr_tail);
	for (i = 0; i < r->nr_tail; i++) {
		if (copy_to_user(u64_to_user_ptr(r->tail[i].hva), p,
				 r->tail[i].len)) {
			vhost_iommu_vq_add_used(vq, r->head, 0);
			vhost_iommu_vq_mark_broken(vi, vq);
			return;
		}
		p += r->tail[i].len;
	}
	if (vhost_iommu_vq_add_used(vq, r->head, r->out_len)) {
		vhost_iommu_vq_mark_broken(vi, vq);
		return;
	}
	vi->stats.out_requests++;
}

/**
 * vhost_iommu_inval_flush() - send the batch to iommufd and complete it
 * @vi: the device, mutex held
 *
 * One call for the whole batch. If it fails, only its return value is
 * trusted (the count iommufd writes back lies in memory the VMM can
 * write): the rest of the batch is sent again one request per call, so
 * each request gets the status of a call that held only its own entries
 * and none is answered S_OK for an invalidation that did not happen.
 */
static void vhost_iommu_inval_flush(struct vhost_iommu *vi)
{
	struct vhost_iommu_batch *b = &vi->batch;
	const struct vhost_iommu_binding *bind = b->binding;
	u32 r = 0, len, type, first, end, calls = 0, errors = 0;
	bool single = false;
	int ret;

	lockdep_assert_held(&vi->mutex);
	if (!b->nr_reqs)
		return;
	len = vhost_iommu_inval_entry_len(bind->target.format);
	type = vhost_iommu_inval_data_type(bind->target.format);
	while (r < b->nr_reqs) {
		const struct vhost_iommu_batch_req *q = &b->reqs[r];

		first = q->first_entry;
		end = single ? first + q->nr_entries : b->nr_entries;
		ret = 0;
		if (end > first) {
			ret = vhost_iommu_hwpt_invalidate(vi, bind->object_id,
							  type,
							  b->entries + first * len,
							  len, end - first);
			vi->stats.out_inval_batches++;
			calls++;
		}
		if (ret && end == first + q->nr_entries) {
			/* The call held this request's entries only. */
			pr_debug("invalidation of object %u failed: %d\n",
				 bind->object_id, ret);
			vi->stats.out_inval_errors++;
			errors++;
			vhost_iommu_batch_complete(vi, q,
						   vhost_iommu_errno_status(ret));
			r++;
			continue;
		}
		if (ret) {
			single = true;
			continue;
		}
		while (r < b->nr_reqs &&
		       b->reqs[r].first_entry + b->reqs[r].nr_entries <= end)
			vhost_iommu_batch_complete(vi, &b->reqs[r++],
						   VIRTIO_IOMMU_S_OK);
	}
	trace_vhost_iommu_inval_batch(vi->id, bind->object_id, b->nr_reqs,
				      b->nr_entries, calls, errors);
	b->nr_reqs = 0;
	b->nr_entries = 0;
	b->binding = NULL;
}

/* An INVALIDATE: translate it and add it to the batch. */
static void vhost_iommu_handle_inval(struct vhost_iommu *vi,
				     const struct vhost_iommu_chain *chain,
				     const void *req)
{
	struct vhost_iommu_batch *b = &vi->batch;
	struct vhost_iommu_binding *bind = NULL;
	struct vhost_iommu_batch_req *r;
	struct vhost_iommu_inval inv;
	int status, n = 0;
	u32 len;

	status = vhost_iommu_inval_parse(req, &inv);
	if (!status) {
		bind = vhost_iommu_find_binding(vi, inv.domain,
						inv.flags & VIRTIO_IOMMU_INVAL_F_PASID,
						inv.pasid);
		if (!bind)
			status = VIRTIO_IOMMU_S_NOENT;
	}
	if (!status) {
		n = vhost_iommu_inval_translate(&bind->target, &inv,
						b->scratch);
		if (n < 0)
			status = -n;
	}
	if (status) {
		/* Answered now, so whatever is batched goes first. */
		vhost_iommu_inval_flush(vi);
		vi->stats.out_invalidations++;
		vi->stats.out_rejected++;
		trace_vhost_iommu_req_complete(vi->id, chain->head,
					       VIRTIO_IOMMU_T_INVALIDATE, status,
					       chain->out_len,
					       VHOST_IOMMU_PATH_FAST);
		vhost_iommu_complete(vi, chain->head, chain, 0, status);
		return;
	}
	/* Bytes before the tail: zeroed now, the status comes at the flush. */
	if (chain->out_len > sizeof(struct virtio_iommu_req_tail) &&
	    vhost_iommu_chain_copy(chain, true, 0, NULL,
				   chain->out_len -
				   sizeof(struct virtio_iommu_req_tail))) {
		vhost_iommu_inval_flush(vi);
		vhost_iommu_vq_add_used(&vi->vqs[VHOST_IOMMU_VQ_REQUEST],
					chain->head, 0);
		vhost_iommu_vq_mark_broken(vi, &vi->vqs[VHOST_IOMMU_VQ_REQUEST]);
		return;
	}

	if (b->nr_reqs && (b->binding != bind ||
			   b->nr_entries + n > VHOST_IOMMU_INV_BATCH ||
			   b->nr_reqs == ARRAY_SIZE(b->reqs)))
		vhost_iommu_inval_flush(vi);
	len = vhost_iommu_inval_entry_len(bind->target.format);
	r = &b->reqs[b->nr_reqs++];
	r->head = chain->head;
	r->out_len = chain->out_len;
	r->nr_tail = vhost_iommu_chain_tail(chain, r->tail);
	r->first_entry = b->nr_entries;
	r->nr_entries = n;
	memcpy(b->entries + b->nr_entries * len, b->scratch, n * len);
	b->nr_entries += n;
	b->binding = bind;
}

/*
 * One request. Its readable part is copied once, as much as the largest
 * type needs, and everything (type, layout, checks, what the VMM gets) is
 * decided from that copy: a guest rewriting the buffer meanwhile changes
 * nothing the device has seen.
 */
static void vhost_iommu_handle_one(struct vhost_iommu *vi,
				   struct vhost_iommu_chain *chain)
{
	struct vhost_iommu_req_layout layout;
	u8 *buf = vi->req;
	u8 type = 0, path;
	int status;

	if (chain->in_len < sizeof(struct virtio_iommu_req_head) ||
	    chain->out_len < sizeof(struct virtio_iommu_req_tail))
		goto empty;
	if (vhost_iommu_chain_copy(chain, false, 0, buf,
				   min_t(u32, chain->in_len,
					 VHOST_IOMMU_MAX_READABLE)))
		goto fault;
	type = ((struct virtio_iommu_req_head *)buf)->type;
	if (vhost_iommu_req_layout(type, vi->features, vi->config.probe_size,
				   &layout) ||
	    chain->in_len < layout.readable)
		goto empty;

	/*
	 * Everything the used length covers is written, so a writable part
	 * far beyond what the type needs would be a zero-fill the guest
	 * sizes at will: such a request is not parsed.
	 */
	if (chain->out_len > layout.writable + VHOST_IOMMU_MAX_WRITABLE_EXTRA)
		goto empty;
	/* Only PROBE has a writable part larger than the tail. */
	if (chain->out_len < layout.writable)
		status = VIRTIO_IOMMU_S_INVAL;
	else
		status = vhost_iommu_req_check(type, buf, vi->features,
					       &vi->config);
	if (status == VHOST_IOMMU_FAST_INVAL) {
		trace_vhost_iommu_req_dispatch(vi->id, chain->head, type,
					       VHOST_IOMMU_PATH_FAST);
		vhost_iommu_handle_inval(vi, chain, buf);
		return;
	}
	/* Completions stay in ring order: batched invalidations first. */
	vhost_iommu_inval_flush(vi);
	if (status == VHOST_IOMMU_TO_VMM) {
		trace_vhost_iommu_req_dispatch(vi->id, chain->head, type,
					       VHOST_IOMMU_PATH_VMM);
		vi->stats.out_slow_path++;
		/* The VMM sees what came before it completed. */
		vhost_iommu_vq_signal(&vi->vqs[VHOST_IOMMU_VQ_REQUEST]);
		vhost_iommu_park(vi, type, buf, layout.readable, chain);
		return;
	}
	path = status == VHOST_IOMMU_FAST_PAGE_RESP ? VHOST_IOMMU_PATH_FAST :
						      VHOST_IOMMU_PATH_DEVICE;
	trace_vhost_iommu_req_dispatch(vi->id, chain->head, type, path);
	if (status == VHOST_IOMMU_FAST_PAGE_RESP)
		status = vhost_iommu_handle_page_resp(vi, (void *)buf);
	if (status != VIRTIO_IOMMU_S_OK)
		vi->stats.out_rejected++;
	if (type == VIRTIO_IOMMU_T_INVALIDATE)
		vi->stats.out_invalidations++;
	trace_vhost_iommu_req_complete(vi->id, chain->head, type, status,
				       chain->out_len, path);
	vhost_iommu_complete(vi, chain->head, chain, 0, status);
	return;
empty:
	trace_vhost_iommu_req_dispatch(vi->id, chain->head, type,
				       VHOST_IOMMU_PATH_DEVICE);
	vhost_iommu_inval_flush(vi);
	vhost_iommu_complete_empty(vi, chain->head, type);
	return;
fault:
	vhost_iommu_inval_flush(vi);
	vhost_iommu_vq_add_used(&vi->vqs[VHOST_IOMMU_VQ_REQUEST], chain->head,
				0);
	vhost_iommu_vq_mark_broken(vi, &vi->vqs[VHOST_IOMMU_VQ_REQUEST]);
}

/**
 * vhost_iommu_vq_running() - does the worker read this queue now
 * @vi: the device, mutex held
 * @vq: the queue
 *
 * Return: true once features are set and the queue is set up, unless the
 * device is stopped or the queue broken.
 */
bool vhost_iommu_vq_running(const struct vhost_iommu *vi,
			    const struct vhost_iommu_vq *vq)
{
	return vi->run != VHOST_IOMMU_RUN_STOPPED && vi->features_set &&
	       vq->num && vq->addr_set && vq->kick && !vq->broken;
}

/*
 * VHOST_SET_VRING_BUSYLOOP_TIMEOUT: with the ring empty and kicks still
 * off, watch the available index for a while before sleeping, as
 * vhost-net does. Given up at once for anything else that wants the CPU
 * or the device: the scheduler, a signal, an ioctl, the other queue, or a
 * worker being stopped. The index reads are not counted as user accesses.
 *
 * Return: true if the guest made a request available meanwhile.
 */
static bool vhost_iommu_busy_poll(struct vhost_iommu *vi,
				  struct vhost_iommu_vq *vq)
{
	struct vring_avail __user *avail = u64_to_user_ptr(vq->avail);
	__virtio16 raw;
	u64 end;

	if (!vq->busyloop_timeout)
		return false;
	end = local_clock() + (u64)vq->busyloop_timeout * NSEC_PER_USEC;
	/*
	 * Stopping the worker waits for the mutex as an ioctl does; a pass
	 * that took the mutex after it finds the worker unpublished.
	 */
	while (rcu_access_pointer(vi->worker) &&
	       !need_resched() && !signal_pending(current) &&
	       !atomic_read(&vi->vmm_waiting) &&
	       !(READ_ONCE(vi->work) & ~BIT(VHOST_IOMMU_WORK_REQUEST))) {
		if (get_user(raw, &avail->idx))
			return false;
		if (le16_to_cpu((__force __le16)raw) != vq->last_avail_idx) {
			vi->stats.out_busy_poll_hits++;
			return true;
		}
		if (local_clock() >= end)
			break;
		cpu_relax();
	}
	return false;
}

/**
 * vhost_iommu_handle_requests() - one pass of the worker over the requestq
 * @vi: the device, mutex held
 *
 * Takes requests in ring order until the ring is empty, a request waits
 * for the VMM, the queue breaks or the weight is used up.
 *
 * Return: true if requests remain and another pass is due.
 */
bool vhost_iommu_handle_requests(struct vhost_iommu *vi)
{
	struct vhost_iommu_vq *vq = &vi->vqs[VHOST_IOMMU_VQ_REQUEST];
	bool more = false;
	unsigned int n;
	u64 bytes = 0;
	int ret;

	lockdep_assert_held(&vi->mutex);
	if (vhost_iommu_vq_running(vi, vq))
		vhost_iommu_vq_disable_notify(vq);
	for (n = 0; vhost_iommu_vq_running(vi, vq) && !vi->pending.cookie; n++) {
		/*
		 * The weight, in requests and in writable bytes, and anyone
		 * waiting for the mutex end the pass after the request in
		 * hand; the worker takes the rest in its next pass.
		 */
		if (n && (n == VHOST_IOMMU_WEIGHT ||
			  bytes >= VHOST_IOMMU_WEIGHT_BYTES ||
			  atomic_read(&vi->vmm_waiting))) {
			more = true;
			break;
		}
		if (n)
			cond_resched();
		ret = vhost_iommu_vq_get_chain(vq, vi->mem, &vi->chain);
		if (ret == -ENOENT) {
			/* The guest sees its completions before the last look. */
			vhost_iommu_inval_flush(vi);
			vhost_iommu_vq_signal(vq);
			if (vhost_iommu_busy_poll(vi, vq) ||
			    vhost_iommu_vq_enable_notify(vq, 1))
				continue;
			break;
		}
		if (ret) {
			/* What was taken before the corrupt chain completes first. */
			vhost_iommu_inval_flush(vi);
			if (ret == -EBADMSG)
				vhost_iommu_vq_add_used(vq, vi->chain.head, 0);
			vhost_iommu_vq_mark_broken(vi, vq);
			break;
		}
		bytes += vi->chain.out_len;
		vhost_iommu_handle_one(vi, &vi->chain);
	}
	vhost_iommu_inval_flush(vi);
	vhost_iommu_vq_signal(vq);
	return more;
}
