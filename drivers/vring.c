// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu split virtqueue engine: descriptor chains, indirect tables,
 * EVENT_IDX, and guest addresses translated through the memory table.
 * It knows no request types.
 *
 * The rings live at VMM virtual addresses (as with every vhost device);
 * buffer and indirect table addresses are guest-physical and translated
 * through the memory table. Every access to guest memory is a user copy
 * from the owner's address space: in the worker (a thread of the owner)
 * or in the owner's ioctl context, never in release.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/visibility.h>
#include <linux/export.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>
#include <linux/virtio_ring.h>

#include "vhost_iommu.h"

/**
 * vhost_iommu_translate() - translate a guest-physical range
 * @mem: memory table, may be NULL (then nothing translates)
 * @gpa: first guest-physical address
 * @len: bytes
 * @segs: filled with the host-virtual pieces
 * @max: room in @segs
 *
 * Return: the number of pieces, -EFAULT if part of the range is outside
 * the table, -E2BIG if it needs more than @max pieces.
 */
int vhost_iommu_translate(const struct vhost_iommu_mem *mem, u64 gpa, u32 len,
			  struct vhost_iommu_seg *segs, unsigned int max)
{
	unsigned int n = 0, i;
	u64 last;

	if (!len)
		return 0;
	if (!mem || check_add_overflow(gpa, (u64)len - 1, &last))
		return -EFAULT;
	while (gpa <= last) {
		const struct vhost_iommu_mem_region *r = NULL;
		u64 chunk;

		for (i = 0; i < mem->nregions; i++) {
			if (gpa >= mem->regions[i].gpa &&
			    gpa - mem->regions[i].gpa < mem->regions[i].size) {
				r = &mem->regions[i];
				break;
			}
		}
		if (!r)
			return -EFAULT;
		if (n == max)
			return -E2BIG;
		chunk = min(last - gpa + 1, r->size - (gpa - r->gpa));
		segs[n].hva = r->hva + (gpa - r->gpa);
		segs[n].len = chunk;
		n++;
		gpa += chunk;
		if (!gpa)	/* wrapped after the last byte of the space */
			break;
	}
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(vhost_iommu_translate);

/* Read @len bytes of guest-physical memory. */
static int vhost_iommu_read_gpa(const struct vhost_iommu_mem *mem, u64 gpa,
				void *buf, u32 len)
{
	struct vhost_iommu_seg segs[4];
	int n, i;

	n = vhost_iommu_translate(mem, gpa, len, segs, ARRAY_SIZE(segs));
	if (n < 0)
		return -EFAULT;
	for (i = 0; i < n; i++) {
		if (copy_from_user(buf, u64_to_user_ptr(segs[i].hva),
				   segs[i].len))
			return -EFAULT;
		buf += segs[i].len;
	}
	return 0;
}

/**
 * vhost_iommu_chain_copy() - copy between a buffer and part of a chain
 * @chain: the descriptor chain
 * @write: true to write the device-writable part, false to read the
 *         device-readable part
 * @offset: offset into that part
 * @buf: kernel buffer; NULL writes zeroes
 * @len: bytes
 *
 * This and the used-ring update are the only writes into guest memory.
 *
 * Return: 0, -EINVAL if the part is too short, -EFAULT on a fault.
 */
int vhost_iommu_chain_copy(const struct vhost_iommu_chain *chain, bool write,
			   u32 offset, void *buf, u32 len)
{
	unsigned int first = write ? chain->nr_in : 0;
	unsigned int end = write ? chain->nr_in + chain->nr_out : chain->nr_in;
	u32 total = write ? chain->out_len : chain->in_len;
	unsigned int i;

	if (offset > total || len > total - offset)
		return -EINVAL;
	if (len && vhost_iommu_should_fail())
		return -EFAULT;
	for (i = first; i < end && len; i++) {
		const struct vhost_iommu_seg *s = &chain->segs[i];
		void __user *p;
		u32 n;

		if (offset >= s->len) {
			offset -= s->len;
			continue;
		}
		p = u64_to_user_ptr(s->hva + offset);
		n = min(len, s->len - offset);
		vhost_iommu_count_ua(chain->vq->vi, 1);
		if (!write) {
			if (copy_from_user(buf, p, n))
				return -EFAULT;
		} else if (buf) {
			if (copy_to_user(p, buf, n))
				return -EFAULT;
		} else if (clear_user(p, n)) {
			return -EFAULT;
		}
		if (buf)
			buf += n;
		len -= n;
		offset = 0;
	}
	return 0;
}

/* Add one descriptor's buffer to the chain. */
static int vhost_iommu_chain_add(const struct vhost_iommu_mem *mem,
				 struct vhost_iommu_chain *chain,
				 const struct vring_desc *d)
{
	bool write = le16_to_cpu((__force __le16)d->flags) & VRING_DESC_F_WRITE;
	u64 addr = le64_to_cpu((__force __le64)d->addr);
	u32 len = le32_to_cpu((__force __le32)d->len);
	unsigned int used = chain->nr_in + chain->nr_out;
	int n;

	/* Device-readable buffers come first (virtio 1.x 2.7.4.2). */
	if (!write && chain->nr_out)
		return -EBADMSG;
	if (!len)
		return 0;
	n = vhost_iommu_translate(mem, addr, len, &chain->segs[used],
				  VHOST_IOMMU_MAX_SEGS - used);
	if (n < 0)
		return -EBADMSG;
	if (write) {
		if (check_add_overflow(chain->out_len, len, &chain->out_len))
			return -EBADMSG;
		chain->nr_out += n;
	} else {
		if (check_add_overflow(chain->in_len, len, &chain->in_len))
			return -EBADMSG;
		chain->nr_in += n;
	}
	return 0;
}

static int vhost_iommu_walk_indirect(const struct vhost_iommu_mem *mem,
				     struct vhost_iommu_chain *chain,
				     const struct vring_desc *ind,
				     unsigned int *budget)
{
	struct vhost_iommu *vi = chain->vq->vi;
	u64 base = le64_to_cpu((__force __le64)ind->addr);
	u32 len = le32_to_cpu((__force __le32)ind->len);
	unsigned int count, i = 0;
	bool whole;
	struct vring_desc d;
	u16 flags;
	int ret;

	if (!len || len % sizeof(d))
		return -EBADMSG;
	count = len / sizeof(d);
	/* A small table is read in one copy and walked from that copy. */
	whole = count <= ARRAY_SIZE(vi->ind);
	if (whole) {
		vhost_iommu_count_ua(vi, 1);
		if (vhost_iommu_read_gpa(mem, base, vi->ind, len))
			return -EBADMSG;
	}
	for (;;) {
		if (!(*budget)--)
			return -EBADMSG;
		if (whole) {
			d = vi->ind[i];
		} else {
			vhost_iommu_count_ua(vi, 1);
			if (vhost_iommu_read_gpa(mem, base + (u64)i * sizeof(d),
						 &d, sizeof(d)))
				return -EBADMSG;
		}
		flags = le16_to_cpu((__force __le16)d.flags);
		if (flags & VRING_DESC_F_INDIRECT)
			return -EBADMSG;
		ret = vhost_iommu_chain_add(mem, chain, &d);
		if (ret)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = le16_to_cpu((__force __le16)d.next);
		if (i >= count)
			return -EBADMSG;
	}
}

/*
 * Read the guest's available index; callers do so only once the device
 * has taken everything it published before. Return: 0, -EFAULT, or -EIO
 * if the index is garbage (more entries than the ring holds).
 */
static int vhost_iommu_vq_read_avail_idx(struct vhost_iommu_vq *vq)
{
	struct vring_avail __user *avail = u64_to_user_ptr(vq->avail);
	__virtio16 raw;
	u16 idx;

	vhost_iommu_count_ua(vq->vi, 1);
	if (get_user(raw, &avail->idx))
		return -EFAULT;
	idx = le16_to_cpu((__force __le16)raw);
	if ((u16)(idx - vq->last_avail_idx) > vq->num)
		return -EIO;
	vq->avail_idx = idx;
	return 0;
}

/*
 * The available ring entry at @last_avail_idx: from the run read last, or
 * with the entries after it up to the guest's index, in one copy.
 */
static int vhost_iommu_vq_next_head(struct vhost_iommu_vq *vq, u16 *head)
{
	struct vring_avail __user *avail = u64_to_user_ptr(vq->avail);
	u16 at = vq->last_avail_idx & (vq->num - 1);
	u16 off = vq->last_avail_idx - vq->heads_first;
	u16 n;

	if (off >= vq->nr_heads) {
		n = min3((u16)(vq->avail_idx - vq->last_avail_idx),
			 (u16)VHOST_IOMMU_AVAIL_RUN, (u16)(vq->num - at));
		/* Read the entries only after the index that published them. */
		smp_rmb();
		vhost_iommu_count_ua(vq->vi, 1);
		if (copy_from_user(vq->heads, &avail->ring[at],
				   n * sizeof(vq->heads[0]))) {
			vq->nr_heads = 0;
			return -EIO;
		}
		vq->heads_first = vq->last_avail_idx;
		vq->nr_heads = n;
		off = 0;
	}
	*head = le16_to_cpu((__force __le16)vq->heads[off]);
	return 0;
}

/**
 * vhost_iommu_vq_get_chain() - take the next available descriptor chain
 * @vq: the virtqueue
 * @mem: memory table
 * @chain: filled with the chain
 *
 * Return: 0 with @chain filled; -ENOENT if the guest made nothing
 * available; -EBADMSG if the chain is corrupt but its head is known (the
 * caller completes it with used length 0, then marks the queue broken);
 * -EIO if the ring itself is corrupt or unreadable.
 */
int vhost_iommu_vq_get_chain(struct vhost_iommu_vq *vq,
			     const struct vhost_iommu_mem *mem,
			     struct vhost_iommu_chain *chain)
{
	struct vring_desc __user *desc = u64_to_user_ptr(vq->desc);
	unsigned int budget, i;
	struct vring_desc d;
	u16 flags, head;
	int ret;

	if (vhost_iommu_should_fail())
		return -EIO;
	if (vq->avail_idx == vq->last_avail_idx) {
		if (vhost_iommu_vq_read_avail_idx(vq))
			return -EIO;
		if (vq->avail_idx == vq->last_avail_idx)
			return -ENOENT;
	}
	if (vhost_iommu_vq_next_head(vq, &head))
		return -EIO;
	i = head;
	if (i >= vq->num)
		return -EIO;

	vq->last_avail_idx++;
	memset(chain, 0, offsetof(struct vhost_iommu_chain, segs));
	chain->vq = vq;
	chain->head = i;
	budget = min_t(unsigned int, vq->num, VHOST_IOMMU_MAX_DESCS);
	for (;;) {
		if (!budget--)
			return -EBADMSG;	/* too long, or a loop */
		vhost_iommu_count_ua(vq->vi, 1);
		if (copy_from_user(&d, &desc[i], sizeof(d)))
			return -EIO;
		flags = le16_to_cpu((__force __le16)d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			/* An indirect descriptor stands alone (2.7.5.3.1). */
			if (!vq->indirect || (flags & VRING_DESC_F_NEXT) ||
			    chain->nr_in || chain->nr_out)
				return -EBADMSG;
			budget = VHOST_IOMMU_MAX_DESCS;
			return vhost_iommu_walk_indirect(mem, chain, &d,
							 &budget);
		}
		ret = vhost_iommu_chain_add(mem, chain, &d);
		if (ret)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = le16_to_cpu((__force __le16)d.next);
		if (i >= vq->num)
			return -EBADMSG;
	}
}

/**
 * vhost_iommu_vq_avail() - how many chains the guest made available
 * @vq: the virtqueue
 * @n: receives the count not taken yet
 *
 * Return: 0, or -EIO if the ring is unreadable or its index is garbage.
 */
int vhost_iommu_vq_avail(struct vhost_iommu_vq *vq, u16 *n)
{
	int ret = vhost_iommu_vq_read_avail_idx(vq);

	*n = vq->avail_idx - vq->last_avail_idx;
	return ret ? -EIO : 0;
}

/**
 * vhost_iommu_vq_flush_used() - publish the used entries added so far
 * @vq: the virtqueue
 *
 * The entries go out in one copy (two if the ring wraps), then the index,
 * as vhost_add_used_n() does. Every path that adds used entries flushes
 * before it lets go of the device mutex (vhost_iommu_vq_signal()).
 *
 * Return: 0, or -EFAULT if the used ring could not be written; the entries
 * are then not published.
 */
int vhost_iommu_vq_flush_used(struct vhost_iommu_vq *vq)
{
	struct vring_used __user *used = u64_to_user_ptr(vq->used);
	u16 nr = vq->nr_used, first = vq->last_used_idx - nr;
	u16 at = first & (vq->num - 1);
	u16 part = min_t(u16, nr, vq->num - at);

	if (!nr)
		return 0;
	vq->nr_used = 0;
	if (vhost_iommu_should_fail())
		goto fault;
	vhost_iommu_count_ua(vq->vi, part < nr ? 3 : 2);
	if (copy_to_user(&used->ring[at], vq->used_run,
			 part * sizeof(vq->used_run[0])) ||
	    (part < nr &&
	     copy_to_user(&used->ring[0], vq->used_run + part,
			  (nr - part) * sizeof(vq->used_run[0]))))
		goto fault;
	/* The entries must be visible before the index that publishes them. */
	smp_wmb();
	if (put_user((__force __virtio16)cpu_to_le16(vq->last_used_idx),
		     &used->idx))
		goto fault;
	return 0;
fault:
	vq->last_used_idx = first;
	return -EFAULT;
}

/**
 * vhost_iommu_vq_add_used() - add one used entry
 * @vq: the virtqueue
 * @head: head index of the chain
 * @len: used length
 *
 * The entry is published by the next vhost_iommu_vq_flush_used(), or now
 * if the run is full.
 *
 * Return: 0 or -EFAULT.
 */
int vhost_iommu_vq_add_used(struct vhost_iommu_vq *vq, u16 head, u32 len)
{
	struct vring_used_elem *e;

	if (vq->nr_used == ARRAY_SIZE(vq->used_run) ||
	    vq->nr_used == vq->num) {
		if (vhost_iommu_vq_flush_used(vq))
			return -EFAULT;
	}
	e = &vq->used_run[vq->nr_used++];
	e->id = (__force __virtio32)cpu_to_le32(head);
	e->len = (__force __virtio32)cpu_to_le32(len);
	vq->last_used_idx++;
	return 0;
}

/**
 * vhost_iommu_vq_forget() - drop what the device remembers of the rings
 * @vq: the virtqueue, after its size, address or base changed
 *
 * Entries read ahead belong to the old ring. Used entries are published
 * before the device mutex is released, so none are pending here.
 */
void vhost_iommu_vq_forget(struct vhost_iommu_vq *vq)
{
	vq->nr_heads = 0;
	vq->nr_used = 0;
	vq->avail_idx = vq->last_avail_idx;
	vq->notify_off = false;
}

/**
 * vhost_iommu_vq_need_signal() - does the guest want an interrupt
 * @vq: the virtqueue
 * @old: used index at the last signal
 *
 * Return: true if the call eventfd should be signalled for the entries
 * published since @old.
 */
bool vhost_iommu_vq_need_signal(struct vhost_iommu_vq *vq, u16 old)
{
	struct vring_avail __user *avail = u64_to_user_ptr(vq->avail);
	__virtio16 raw;

	if (old == vq->last_used_idx)
		return false;
	/* Used index stores before the flag or event index load. */
	smp_mb();
	/* After a new base the guest's used_event is not ours to compare. */
	if (vq->event_idx && !vq->signalled_used_valid)
		return true;
	vhost_iommu_count_ua(vq->vi, 1);
	if (vq->event_idx) {
		if (get_user(raw, &avail->ring[vq->num]))
			return true;
		return vring_need_event(le16_to_cpu((__force __le16)raw),
					vq->last_used_idx, old);
	}
	if (get_user(raw, &avail->flags))
		return true;
	return !(le16_to_cpu((__force __le16)raw) & VRING_AVAIL_F_NO_INTERRUPT);
}

/**
 * vhost_iommu_vq_disable_notify() - no kicks while the worker is busy
 * @vq: the virtqueue
 *
 * With EVENT_IDX the guest kicks only when it passes the event index the
 * device published last, which it does at most once until the device
 * publishes another: nothing to do. Without, set VRING_USED_F_NO_NOTIFY.
 */
void vhost_iommu_vq_disable_notify(struct vhost_iommu_vq *vq)
{
	struct vring_used __user *used = u64_to_user_ptr(vq->used);

	if (vq->event_idx || vq->notify_off)
		return;
	vhost_iommu_count_ua(vq->vi, 1);
	if (!put_user((__force __virtio16)cpu_to_le16(VRING_USED_F_NO_NOTIFY),
		      &used->flags))
		vq->notify_off = true;
}

/**
 * vhost_iommu_vq_enable_notify() - ask for a kick, then look again
 * @vq: the virtqueue
 * @want: buffers the caller needs before it can go on, at least 1
 *
 * With EVENT_IDX the guest is asked to kick when it makes available the
 * entry that brings @want buffers, not the next one: entries it already
 * published would never be kicked for again. Without, the used ring's
 * flags are cleared (whatever the ring held before, after a new address).
 *
 * Return: true if @want buffers are available now (the caller goes on).
 */
bool vhost_iommu_vq_enable_notify(struct vhost_iommu_vq *vq, u16 want)
{
	struct vring_used __user *used = u64_to_user_ptr(vq->used);
	u16 event = vq->last_avail_idx + want - 1;
	int ret;

	vhost_iommu_count_ua(vq->vi, 1);
	if (vq->event_idx) {
		if (put_user((__force __virtio16)cpu_to_le16(event),
			     (__virtio16 __user *)&used->ring[vq->num]))
			return false;
	} else {
		if (put_user(0, &used->flags))
			return false;
		vq->notify_off = false;
	}
	/* Event index or flags store before the avail index load. */
	smp_mb();
	ret = vhost_iommu_vq_read_avail_idx(vq);
	/* A garbage index: go on, and let vhost_iommu_vq_get_chain() see it. */
	if (ret)
		return ret == -EIO;
	return (u16)(vq->avail_idx - vq->last_avail_idx) >= want;
}

static int vhost_iommu_region_cmp(const void *a, const void *b)
{
	const struct vhost_iommu_mem_region *ra = a, *rb = b;

	if (ra->gpa == rb->gpa)
		return 0;
	return ra->gpa < rb->gpa ? -1 : 1;
}

/*
 * As vhost's parameter of the same name: a VMM sizes its memory table
 * from /sys/module/vhost_iommu/parameters/max_mem_regions.
 */
static ushort max_mem_regions = VHOST_IOMMU_MAX_MEM_REGIONS;
module_param(max_mem_regions, ushort, 0444);
MODULE_PARM_DESC(max_mem_regions,
		 "Maximum number of memory regions in the memory table (default 64)");

/**
 * vhost_iommu_set_mem_table() - VHOST_SET_MEM_TABLE
 * @vi: the device, mutex held
 * @arg: struct vhost_memory in user memory
 *
 * Return: 0; -E2BIG for more than %VHOST_IOMMU_MAX_MEM_REGIONS regions;
 * -EINVAL for an empty, wrapping or overlapping region; -EFAULT.
 */
long vhost_iommu_set_mem_table(struct vhost_iommu *vi, void __user *arg)
{
	struct vhost_memory __user *um = arg;
	struct vhost_memory_region r;
	struct vhost_iommu_mem *mem;
	u32 nregions, padding, i;
	u64 end;

	lockdep_assert_held(&vi->mutex);
	if (get_user(nregions, &um->nregions) ||
	    get_user(padding, &um->padding))
		return -EFAULT;
	if (padding)
		return -EOPNOTSUPP;
	if (nregions > max_mem_regions)
		return -E2BIG;
	mem = kvzalloc(struct_size(mem, regions, nregions), GFP_KERNEL_ACCOUNT);
	if (!mem)
		return -ENOMEM;
	mem->nregions = nregions;
	for (i = 0; i < nregions; i++) {
		if (copy_from_user(&r, &um->regions[i], sizeof(r)))
			goto fault;
		if (!r.memory_size ||
		    check_add_overflow(r.guest_phys_addr, r.memory_size - 1,
				       &end) ||
		    check_add_overflow(r.userspace_addr, r.memory_size - 1,
				       &end))
			goto inval;
		if (!access_ok(u64_to_user_ptr(r.userspace_addr),
			       r.memory_size))
			goto fault;
		mem->regions[i].gpa = r.guest_phys_addr;
		mem->regions[i].size = r.memory_size;
		mem->regions[i].hva = r.userspace_addr;
	}
	sort(mem->regions, nregions, sizeof(mem->regions[0]),
	     vhost_iommu_region_cmp, NULL);
	for (i = 1; i < nregions; i++) {
		const struct vhost_iommu_mem_region *prev = &mem->regions[i - 1];

		if (mem->regions[i].gpa - prev->gpa < prev->size)
			goto inval;
	}
	kvfree(vi->mem);
	vi->mem = mem;
	return 0;
inval:
	kvfree(mem);
	return -EINVAL;
fault:
	kvfree(mem);
	return -EFAULT;
}

/**
 * vhost_iommu_chain_tail() - where the status of a request goes
 * @chain: the chain, with at least 4 writable bytes
 * @tail: receives the host-virtual pieces of its last 4 writable bytes,
 *        in order; room for 4
 *
 * Lets a batched request be completed after its chain was reused.
 *
 * Return: the number of pieces (1 to 4).
 */
int vhost_iommu_chain_tail(const struct vhost_iommu_chain *chain,
			   struct vhost_iommu_seg *tail)
{
	u32 want = sizeof(struct virtio_iommu_req_tail);
	unsigned int i = chain->nr_in + chain->nr_out;
	int n = 0, j;

	/* Walk back from the last writable piece; pieces are never empty. */
	while (want && i > chain->nr_in) {
		const struct vhost_iommu_seg *s = &chain->segs[--i];
		u32 take = min(want, s->len);

		tail[n].hva = s->hva + s->len - take;
		tail[n].len = take;
		n++;
		want -= take;
	}
	for (j = 0; j < n / 2; j++)
		swap(tail[j], tail[n - 1 - j]);
	return n;
}
