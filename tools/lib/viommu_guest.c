// SPDX-License-Identifier: GPL-2.0-only
/*
 * A pretend virtio-iommu guest driver. See viommu_guest.h.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "viommu_guest.h"

static __u64 vg_page_size(void)
{
	return (__u64)sysconf(_SC_PAGESIZE);
}

int vg_mem_init(struct vg_mem *m, __u64 base, __u64 size,
		unsigned int nr_regions)
{
	__u64 page = vg_page_size();
	__u64 chunk, off = 0;
	unsigned int i;
	__u8 *va;
	int ret;

	memset(m, 0, sizeof(*m));
	m->memfd = -1;
	if (!nr_regions || nr_regions > VG_MAX_REGIONS || !size ||
	    (base | size) & (page - 1))
		return -EINVAL;
	chunk = (size / nr_regions) & ~(page - 1);
	if (!chunk)
		return -EINVAL;

	m->memfd = memfd_create("viommu-guest", MFD_CLOEXEC);
	if (m->memfd < 0)
		return -errno;
	if (ftruncate(m->memfd, size)) {
		ret = -errno;
		goto err_close;
	}

	/* One spare page after each region keeps their VMM addresses apart. */
	m->area_len = size + nr_regions * page;
	m->area = mmap(NULL, m->area_len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->area == MAP_FAILED) {
		ret = -errno;
		m->area = NULL;
		goto err_close;
	}

	va = m->area;
	for (i = 0; i < nr_regions; i++) {
		__u64 len = i == nr_regions - 1 ? size - off : chunk;
		void *p;

		p = mmap(va, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 m->memfd, off);
		if (p == MAP_FAILED) {
			ret = -errno;
			goto err_unmap;
		}
		m->regions[i].guest_phys_addr = base + off;
		m->regions[i].memory_size = len;
		m->regions[i].userspace_addr = (uintptr_t)p;
		va += len + page;
		off += len;
	}
	m->nr_regions = nr_regions;
	m->base = base;
	m->size = size;
	m->brk = base;
	return 0;

err_unmap:
	munmap(m->area, m->area_len);
	m->area = NULL;
err_close:
	close(m->memfd);
	m->memfd = -1;
	return ret;
}

void vg_mem_destroy(struct vg_mem *m)
{
	if (m->area)
		munmap(m->area, m->area_len);
	if (m->memfd >= 0)
		close(m->memfd);
	memset(m, 0, sizeof(*m));
	m->memfd = -1;
}

static const struct vhost_memory_region *vg_region_of(const struct vg_mem *m,
						      __u64 gpa)
{
	unsigned int i;

	for (i = 0; i < m->nr_regions; i++) {
		const struct vhost_memory_region *r = &m->regions[i];

		if (gpa >= r->guest_phys_addr &&
		    gpa - r->guest_phys_addr < r->memory_size)
			return r;
	}
	return NULL;
}

void *vg_hva(const struct vg_mem *m, __u64 gpa, __u64 len)
{
	const struct vhost_memory_region *r = vg_region_of(m, gpa);
	__u64 off;

	if (!r)
		return NULL;
	off = gpa - r->guest_phys_addr;
	if (len > r->memory_size - off)
		return NULL;
	return (void *)(uintptr_t)(r->userspace_addr + off);
}

/* Copies between guest memory and @buf, one region at a time. */
static int vg_copy(const struct vg_mem *m, __u64 gpa, void *buf,
		   size_t len, bool to_guest, int fill)
{
	__u8 *p = buf;

	while (len) {
		const struct vhost_memory_region *r = vg_region_of(m, gpa);
		__u64 off, n;
		__u8 *hva;

		if (!r)
			return -EFAULT;
		off = gpa - r->guest_phys_addr;
		n = r->memory_size - off;
		if (n > len)
			n = len;
		hva = (__u8 *)(uintptr_t)(r->userspace_addr + off);
		if (!p)
			memset(hva, fill, n);
		else if (to_guest)
			memcpy(hva, p, n);
		else
			memcpy(p, hva, n);
		if (p)
			p += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

int vg_write(const struct vg_mem *m, __u64 gpa, const void *src,
	     size_t len)
{
	return vg_copy(m, gpa, (void *)src, len, true, 0);
}

int vg_read(const struct vg_mem *m, __u64 gpa, void *dst, size_t len)
{
	return vg_copy(m, gpa, dst, len, false, 0);
}

int vg_fill(const struct vg_mem *m, __u64 gpa, int c, size_t len)
{
	return vg_copy(m, gpa, NULL, len, true, c);
}

int vg_alloc(struct vg_mem *m, __u64 size, __u64 align, __u64 *gpa)
{
	__u64 at = m->brk;
	unsigned int i;

	if (!align)
		align = 1;
	if (align & (align - 1))
		return -EINVAL;
	for (i = 0; i < m->nr_regions; i++) {
		const struct vhost_memory_region *r = &m->regions[i];
		__u64 end = r->guest_phys_addr + r->memory_size;

		if (at >= end)
			continue;
		if (at < r->guest_phys_addr)
			at = r->guest_phys_addr;
		at = (at + align - 1) & ~(align - 1);
		/* Never across a boundary: rings need contiguous VMM memory. */
		if (at + size <= end) {
			vg_fill(m, at, 0, size);
			m->brk = at + size;
			*gpa = at;
			return 0;
		}
	}
	return -ENOMEM;
}

int vg_alloc_straddle(struct vg_mem *m, unsigned int region, __u64 before,
		      __u64 size, __u64 *gpa)
{
	__u64 at;

	if (region + 1 >= m->nr_regions || !before || before >= size ||
	    size - before > m->regions[region + 1].memory_size ||
	    before > m->regions[region].memory_size)
		return -EINVAL;
	at = m->regions[region + 1].guest_phys_addr - before;
	if (at < m->brk)
		return -ENOMEM;
	vg_fill(m, at, 0, size);
	m->brk = at + size;
	*gpa = at;
	return 0;
}

int vg_vq_init(struct vg_vq *vq, struct vg_mem *m, unsigned int num)
{
	__u64 avail_len = 6 + 2 * (__u64)num;
	__u64 used_len = 6 + 8 * (__u64)num;
	int ret;

	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
	if (!num || num > 32768 || (num & (num - 1)))
		return -EINVAL;
	vq->mem = m;
	vq->num = num;
	ret = vg_alloc(m, 16 * (__u64)num, 16, &vq->desc_gpa);
	if (!ret)
		ret = vg_alloc(m, avail_len, 2, &vq->avail_gpa);
	if (!ret)
		ret = vg_alloc(m, used_len, 4, &vq->used_gpa);
	if (ret)
		return ret;
	vq->desc = vg_hva(m, vq->desc_gpa, 16 * (__u64)num);
	vq->avail = vg_hva(m, vq->avail_gpa, avail_len);
	vq->used = vg_hva(m, vq->used_gpa, used_len);

	vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vq->kick_fd < 0 || vq->call_fd < 0 || vq->err_fd < 0) {
		ret = -errno;
		vg_vq_destroy(vq);
		return ret;
	}
	return 0;
}

void vg_vq_destroy(struct vg_vq *vq)
{
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	if (vq->call_fd >= 0)
		close(vq->call_fd);
	if (vq->err_fd >= 0)
		close(vq->err_fd);
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
}

void vg_vq_reset(struct vg_vq *vq)
{
	__u64 count;

	memset(vq->desc, 0, 16 * (size_t)vq->num);
	memset(vq->avail, 0, 6 + 2 * (size_t)vq->num);
	memset(vq->used, 0, 6 + 8 * (size_t)vq->num);
	vq->avail_idx = 0;
	vq->last_used = 0;
	vq->next_desc = 0;
	/* Stale signals would confuse whoever waits next. */
	if (read(vq->call_fd, &count, sizeof(count)) < 0)
		count = 0;
	if (read(vq->err_fd, &count, sizeof(count)) < 0)
		count = 0;
}

void vg_vq_vring_config(const struct vg_vq *vq, struct vhi_vring_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->num = vq->num;
	cfg->desc = (uintptr_t)vq->desc;
	cfg->avail = (uintptr_t)vq->avail;
	cfg->used = (uintptr_t)vq->used;
	cfg->kick_fd = vq->kick_fd;
	cfg->call_fd = vq->call_fd;
	cfg->err_fd = vq->err_fd;
}

__u16 vg_desc_alloc(struct vg_vq *vq, unsigned int n)
{
	__u16 first = vq->next_desc;

	vq->next_desc = (vq->next_desc + n) % vq->num;
	return first;
}

void vg_desc_set(struct vring_desc *d, __u64 addr, __u32 len,
		 __u16 flags, __u16 next)
{
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

void vg_avail_add(struct vg_vq *vq, __u16 head)
{
	vq->avail->ring[vq->avail_idx % vq->num] = htole16(head);
	vq->avail_idx++;
}

void vg_avail_store_idx(struct vg_vq *vq, __u16 idx)
{
	/* Entries before the index must be visible first. */
	__atomic_store_n(&vq->avail->idx, htole16(idx), __ATOMIC_RELEASE);
}

void vg_publish(struct vg_vq *vq)
{
	vg_avail_store_idx(vq, vq->avail_idx);
}

void vg_avail_set_flags(struct vg_vq *vq, __u16 flags)
{
	__atomic_store_n(&vq->avail->flags, htole16(flags), __ATOMIC_SEQ_CST);
}

void vg_set_used_event(struct vg_vq *vq, __u16 val)
{
	/* used_event lives right after the available ring. */
	__atomic_store_n(&vq->avail->ring[vq->num], htole16(val),
			 __ATOMIC_SEQ_CST);
}

__u16 vg_avail_event(const struct vg_vq *vq)
{
	const __virtio16 *ev = (const __virtio16 *)&vq->used->ring[vq->num];

	return le16toh(__atomic_load_n(ev, __ATOMIC_SEQ_CST));
}

void vg_used_store_idx(struct vg_vq *vq, __u16 idx)
{
	__atomic_store_n(&vq->used->idx, htole16(idx), __ATOMIC_SEQ_CST);
	vq->last_used = idx;
}

int vg_kick(struct vg_vq *vq)
{
	__u64 one = 1;

	/* The device must see the ring before the notification. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (write(vq->kick_fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

int vg_submit_bufs(struct vg_vq *vq, unsigned int flags, struct vg_req *req)
{
	unsigned int n = req->out_len ? 2 : 1;
	struct vring_desc *table;
	__u16 head;
	int ret;

	if (flags & VG_SUBMIT_INDIRECT) {
		ret = vg_alloc(vq->mem, 16 * n, 16, &req->table_gpa);
		if (ret)
			return ret;
		table = vg_hva(vq->mem, req->table_gpa, 16 * n);
		vg_desc_set(&table[0], req->in_gpa, req->in_len,
			    n > 1 ? VRING_DESC_F_NEXT : 0, 1);
		if (n > 1)
			vg_desc_set(&table[1], req->out_gpa, req->out_len,
				    VRING_DESC_F_WRITE, 0);
		head = vg_desc_alloc(vq, 1);
		vg_desc_set(&vq->desc[head], req->table_gpa, 16 * n,
			    VRING_DESC_F_INDIRECT, 0);
	} else {
		req->table_gpa = 0;
		head = vg_desc_alloc(vq, n);
		vg_desc_set(&vq->desc[head], req->in_gpa, req->in_len,
			    n > 1 ? VRING_DESC_F_NEXT : 0,
			    (head + 1) % vq->num);
		if (n > 1)
			vg_desc_set(&vq->desc[(head + 1) % vq->num],
				    req->out_gpa, req->out_len,
				    VRING_DESC_F_WRITE, 0);
	}
	req->head = head;
	vg_avail_add(vq, head);
	if (!(flags & VG_SUBMIT_NO_PUBLISH))
		vg_publish(vq);
	if (!(flags & (VG_SUBMIT_NO_KICK | VG_SUBMIT_NO_PUBLISH)))
		return vg_kick(vq);
	return 0;
}

int vg_post_writable(struct vg_vq *vq, __u32 len, unsigned int flags,
		     struct vg_req *req)
{
	int ret;

	memset(req, 0, sizeof(*req));
	req->out_len = len;
	ret = vg_alloc(vq->mem, len, 8, &req->out_gpa);
	if (ret)
		return ret;
	vg_fill(vq->mem, req->out_gpa, VG_POISON, len);
	req->head = vg_desc_alloc(vq, 1);
	vg_desc_set(&vq->desc[req->head], req->out_gpa, len,
		    VRING_DESC_F_WRITE, 0);
	vg_avail_add(vq, req->head);
	if (!(flags & VG_SUBMIT_NO_PUBLISH))
		vg_publish(vq);
	if (!(flags & (VG_SUBMIT_NO_KICK | VG_SUBMIT_NO_PUBLISH)))
		return vg_kick(vq);
	return 0;
}

int vg_submit(struct vg_vq *vq, const void *body, __u32 in_len,
	      __u32 out_len, unsigned int flags, struct vg_req *req)
{
	int ret;

	memset(req, 0, sizeof(*req));
	req->in_len = in_len;
	req->out_len = out_len;
	ret = vg_alloc(vq->mem, in_len ? in_len : 1, 8, &req->in_gpa);
	if (!ret && out_len)
		ret = vg_alloc(vq->mem, out_len, 8, &req->out_gpa);
	if (ret)
		return ret;
	vg_write(vq->mem, req->in_gpa, body, in_len);
	if (out_len)
		vg_fill(vq->mem, req->out_gpa, VG_POISON, out_len);
	return vg_submit_bufs(vq, flags, req);
}

__u16 vg_used_idx(const struct vg_vq *vq)
{
	return le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
}

static __s64 vg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int vg_wait_used(struct vg_vq *vq, int timeout_ms, __u32 *id,
		 __u32 *len)
{
	__s64 end = vg_now_ms() + timeout_ms;
	struct vring_used_elem *e;

	while (vg_used_idx(vq) == vq->last_used) {
		if (vg_now_ms() >= end)
			return -ETIMEDOUT;
		usleep(500);
	}
	e = &vq->used->ring[vq->last_used % vq->num];
	if (id)
		*id = le32toh(e->id);
	if (len)
		*len = le32toh(e->len);
	vq->last_used++;
	return 0;
}

int vg_req_status(const struct vg_vq *vq, const struct vg_req *req,
		  __u8 *status)
{
	if (req->out_len < 4)
		return -EINVAL;
	return vg_read(vq->mem, req->out_gpa + req->out_len - 4, status, 1);
}

int vg_roundtrip(struct vg_vq *vq, const void *body, __u32 in_len,
		 __u32 out_len, struct vg_req *req)
{
	__u32 id = ~0u, len = ~0u;
	struct vg_req r;
	__u8 st = 0xff;
	int ret;

	if (!req)
		req = &r;
	ret = vg_submit(vq, body, in_len, out_len, 0, req);
	if (ret)
		return ret;
	ret = vg_wait_used(vq, VG_TIMEOUT_MS, &id, &len);
	if (ret)
		return ret;
	if (id != req->head)
		return -EPROTO;
	if (!len)
		return VG_USED_EMPTY;
	ret = vg_req_status(vq, req, &st);
	return ret ? ret : st;
}

int vg_eventfd_wait(int fd, int timeout_ms, __u64 *count)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	__u64 val;
	int ret;

	ret = poll(&p, 1, timeout_ms);
	if (ret < 0)
		return -errno;
	if (!ret)
		return -ETIMEDOUT;
	if (read(fd, &val, sizeof(val)) != sizeof(val))
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	if (count)
		*count = val;
	return 0;
}

int vg_device_open(const struct vg_mem *m, struct vhost_iommu_config *cfg)
{
	int fd, ret;

	fd = vhi_open();
	if (fd < 0)
		return fd;
	ret = vhi_set_owner(fd);
	if (!ret)
		ret = vhi_set_mem_table(fd, m->regions, m->nr_regions);
	if (!ret)
		ret = vhi_set_config(fd, cfg);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int vg_rings_up(int fd, struct vg_vq *rq, struct vg_vq *eq, __u64 features)
{
	struct vhi_vring_config vr;
	int ret;

	vg_vq_reset(rq);
	vg_vq_reset(eq);
	ret = vhi_set_features(fd, features);
	if (ret)
		return ret;
	vg_vq_vring_config(rq, &vr);
	ret = vhi_setup_vring(fd, VHOST_IOMMU_VQ_REQUEST, &vr);
	if (ret)
		return ret;
	vg_vq_vring_config(eq, &vr);
	return vhi_setup_vring(fd, VHOST_IOMMU_VQ_EVENT, &vr);
}

void vg_inval_init(struct virtio_iommu_req_invalidate *r, __u32 domain,
		   __u8 scope, __u8 caches, __u16 flags)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_INVALIDATE;
	r->scope = scope;
	r->caches = caches;
	r->flags = htole16(flags);
	r->domain = htole32(domain);
}

void vg_inval_domain(struct virtio_iommu_req_invalidate *r, __u32 domain)
{
	vg_inval_init(r, domain, VIRTIO_IOMMU_INVAL_S_DOMAIN,
		      VIRTIO_IOMMU_INVAL_C_TLB, 0);
}

void vg_inval_range(struct virtio_iommu_req_invalidate *r, __u32 domain,
		    __u16 flags, __u64 address, __u64 nr_pages,
		    __u8 page_size)
{
	vg_inval_init(r, domain, VIRTIO_IOMMU_INVAL_S_ADDRESS,
		      VIRTIO_IOMMU_INVAL_C_TLB, flags);
	r->address = htole64(address);
	r->nr_pages = htole64(nr_pages);
	r->page_size = page_size;
}
