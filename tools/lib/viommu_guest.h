/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A pretend virtio-iommu guest driver for tests and demos: guest memory
 * backed by a memfd, a split virtqueue in that memory, and requests
 * submitted the way Linux's virtio-iommu driver does.
 *
 * Functions return 0 or -errno unless documented otherwise.
 */
#ifndef _VIOMMU_GUEST_H
#define _VIOMMU_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vhost_types.h>
#include <linux/virtio_ring.h>

#include "vhost_iommu_vmm.h"

#define VG_MAX_REGIONS		8
/* Writable buffers start filled with this, so tests can see writes. */
#define VG_POISON		0xaa
#define VG_TIMEOUT_MS		5000

/**
 * struct vg_mem - guest memory
 * @memfd: backing file
 * @area: reserved virtual area holding every region
 * @area_len: its length
 * @base: guest-physical address of the first byte
 * @size: bytes of guest memory
 * @nr_regions: regions of @regions in use
 * @regions: the memory table; region i+1 starts at the guest-physical
 *           address where region i ends, but one page after it in the
 *           VMM's address space (the gap is not mapped)
 * @brk: next free guest-physical address of the bump allocator
 */
struct vg_mem {
	int memfd;
	void *area;
	size_t area_len;
	__u64 base;
	__u64 size;
	unsigned int nr_regions;
	struct vhost_memory_region regions[VG_MAX_REGIONS];
	__u64 brk;
};

/* @size is split into @nr_regions page-aligned regions. */
int vg_mem_init(struct vg_mem *m, __u64 base, __u64 size,
		unsigned int nr_regions);
void vg_mem_destroy(struct vg_mem *m);

/* The VMM address of [gpa, gpa + len) if it lies in one region, or NULL. */
void *vg_hva(const struct vg_mem *m, __u64 gpa, __u64 len);
/* Copies that may cross regions. */
int vg_write(const struct vg_mem *m, __u64 gpa, const void *src,
	     size_t len);
int vg_read(const struct vg_mem *m, __u64 gpa, void *dst, size_t len);
int vg_fill(const struct vg_mem *m, __u64 gpa, int c, size_t len);

/* Zeroed memory that never crosses a region boundary. */
int vg_alloc(struct vg_mem *m, __u64 size, __u64 align, __u64 *gpa);
/*
 * @size bytes whose first @before bytes are the last ones of region
 * @region and the rest the first ones of region @region + 1.
 */
int vg_alloc_straddle(struct vg_mem *m, unsigned int region, __u64 before,
		      __u64 size, __u64 *gpa);

/**
 * struct vg_vq - a split virtqueue in guest memory
 * @mem: the guest memory holding it
 * @num: queue size
 * @desc_gpa: guest-physical address of the descriptor table
 * @avail_gpa: same for the available ring
 * @used_gpa: same for the used ring
 * @desc: VMM address of the descriptor table
 * @avail: VMM address of the available ring
 * @used: VMM address of the used ring
 * @avail_idx: the driver's available index, published by vg_publish()
 * @last_used: next used entry the driver reads
 * @next_desc: next descriptor handed out (round robin)
 * @kick_fd: eventfd the driver writes to notify the device
 * @call_fd: eventfd the device signals (non-blocking)
 * @err_fd: eventfd the device signals when the queue breaks (non-blocking)
 */
struct vg_vq {
	struct vg_mem *mem;
	unsigned int num;
	__u64 desc_gpa;
	__u64 avail_gpa;
	__u64 used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	__u16 avail_idx;
	__u16 last_used;
	__u16 next_desc;
	int kick_fd;
	int call_fd;
	int err_fd;
};

int vg_vq_init(struct vg_vq *vq, struct vg_mem *m, unsigned int num);
/* Closes the eventfds; the ring memory stays allocated. */
void vg_vq_destroy(struct vg_vq *vq);
/* Clears the rings and indexes, as a driver does after a device reset. */
void vg_vq_reset(struct vg_vq *vq);
/* What vhi_setup_vring() needs for this queue, with base 0. */
void vg_vq_vring_config(const struct vg_vq *vq, struct vhi_vring_config *cfg);

/* Flags of vg_submit() */
#define VG_SUBMIT_INDIRECT	0x1u	/* through an indirect table */
#define VG_SUBMIT_NO_PUBLISH	0x2u	/* leave avail->idx alone */
#define VG_SUBMIT_NO_KICK	0x4u

/**
 * struct vg_req - a submitted request
 * @head: head descriptor index, the id of its used entry
 * @in_gpa: device-readable buffer
 * @in_len: its length
 * @out_gpa: device-writable buffer
 * @out_len: its length (0: no writable descriptor)
 * @table_gpa: indirect table, or 0
 */
struct vg_req {
	__u16 head;
	__u64 in_gpa;
	__u32 in_len;
	__u64 out_gpa;
	__u32 out_len;
	__u64 table_gpa;
};

/*
 * Copies @body (@in_len bytes) to new guest memory, allocates @out_len
 * writable bytes filled with VG_POISON and queues both, one descriptor
 * each. Publishes and kicks unless told not to.
 */
int vg_submit(struct vg_vq *vq, const void *body, __u32 in_len,
	      __u32 out_len, unsigned int flags, struct vg_req *req);
/* The same with buffers the caller placed; req->*_gpa/len are inputs. */
int vg_submit_bufs(struct vg_vq *vq, unsigned int flags, struct vg_req *req);
/*
 * Queues one device-writable buffer of @len bytes filled with VG_POISON,
 * as a driver fills its event queue; req->out_gpa/out_len describe it.
 */
int vg_post_writable(struct vg_vq *vq, __u32 len, unsigned int flags,
		     struct vg_req *req);
/* Makes every queued entry visible to the device. */
void vg_publish(struct vg_vq *vq);
int vg_kick(struct vg_vq *vq);

/* The device's used index, read with acquire semantics. */
__u16 vg_used_idx(const struct vg_vq *vq);
/*
 * Waits up to @timeout_ms for the next used entry and consumes it:
 * -ETIMEDOUT if none came.
 */
int vg_wait_used(struct vg_vq *vq, int timeout_ms, __u32 *id,
		 __u32 *len);
/* The status byte at the end of the request's writable buffer. */
int vg_req_status(const struct vg_vq *vq, const struct vg_req *req,
		  __u8 *status);

/*
 * One request, end to end: submit it, kick, wait for its used entry.
 * Returns its status byte, VG_USED_EMPTY for used length 0, or -errno
 * (-EPROTO when another request was used first). @req may be NULL.
 */
#define VG_USED_EMPTY	0x100
int vg_roundtrip(struct vg_vq *vq, const void *body, __u32 in_len,
		 __u32 out_len, struct vg_req *req);

/* Raw ring access, for building corrupt rings. */
__u16 vg_desc_alloc(struct vg_vq *vq, unsigned int n);
void vg_desc_set(struct vring_desc *d, __u64 addr, __u32 len,
		 __u16 flags, __u16 next);
/* Writes ring[avail_idx % num] = head and advances avail_idx. */
void vg_avail_add(struct vg_vq *vq, __u16 head);
/* Stores @idx to avail->idx without touching vq->avail_idx. */
void vg_avail_store_idx(struct vg_vq *vq, __u16 idx);
void vg_avail_set_flags(struct vg_vq *vq, __u16 flags);
void vg_set_used_event(struct vg_vq *vq, __u16 val);
__u16 vg_avail_event(const struct vg_vq *vq);
/* Overwrites the device's used->idx (to line it up with a new base). */
void vg_used_store_idx(struct vg_vq *vq, __u16 idx);

/*
 * The device /dev/vhost-iommu for guest memory @m: opened, owned, given
 * the memory table and @cfg. Returns the fd or -errno.
 */
int vg_device_open(const struct vg_mem *m, struct vhost_iommu_config *cfg);
/*
 * Clears both rings and sets @features and both queues up on device @fd
 * with base 0, as a driver does after a device reset.
 */
int vg_rings_up(int fd, struct vg_vq *rq, struct vg_vq *eq, __u64 features);

/*
 * Waits up to @timeout_ms for the eventfd and reads its counter:
 * -ETIMEDOUT if it was not signalled.
 */
int vg_eventfd_wait(int fd, int timeout_ms, __u64 *count);

/* An INVALIDATE request as a guest writes it (little-endian fields). */
void vg_inval_init(struct virtio_iommu_req_invalidate *r, __u32 domain,
		   __u8 scope, __u8 caches, __u16 flags);
/* The whole TLB of @domain. */
void vg_inval_domain(struct virtio_iommu_req_invalidate *r, __u32 domain);
/* The TLB of a range of @domain, @flags beside the scope's. */
void vg_inval_range(struct virtio_iommu_req_invalidate *r, __u32 domain,
		    __u16 flags, __u64 address, __u64 nr_pages,
		    __u8 page_size);

#endif /* _VIOMMU_GUEST_H */
