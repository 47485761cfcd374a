// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu-bench: the benchmark suite of `make bench`, run in the test
 * VM (tools/bench/bench.sh).
 *
 * One process plays the guest and the VMM. The guest thread, pinned to
 * one CPU, puts requests on a split virtqueue in memfd-backed guest
 * memory, kicks when the device's event index asks for it and busy-polls
 * the used index, as Linux's virtio-iommu driver does. On the other CPU
 * the requests are served by one of:
 *
 *   vhost       /dev/vhost-iommu: the module's worker, iommufd called
 *               from the kernel;
 *   user        a userspace backend doing what a VMM does today: a thread
 *               woken by the kick eventfd parses the ring and checks each
 *               request as the module does, sends every INVALIDATE with an
 *               IOMMU_HWPT_INVALIDATE of its own (entry_num 1), writes the
 *               status, publishes the used entry and signals if the guest
 *               wants it; page requests are read from the fault queue,
 *               written to the event queue, and the guest's PAGE_RESP is
 *               written back to the fault queue;
 *   user-batch  the same backend, one IOMMU_HWPT_INVALIDATE per kick;
 *   raw         no ring at all: the guest thread calls iommufd itself
 *               (the floor).
 *
 * Every invalidation goes to a nested HWPT of the iommufd selftest mock.
 * Results are lines on stdout,
 *
 *   @@BENCH <workload> <impl> median_ns=... p99_ns=... key=value...
 *
 * that tools/bench/report.py turns into tables, ratios and plots. The
 * module's counters (VHOST_IOMMU_GET_STATS) and the userspace backend's
 * own are printed per request, so that the work done can be compared
 * without trusting the emulator's clock.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "iommufd_mock.h"
#include "vhost_iommu_vmm.h"
#include "viommu_guest.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define NSEC_PER_SEC	1000000000ULL
#define NSEC_PER_USEC	1000ULL

#define GUEST_BASE	0x40000000ULL
#define GUEST_SIZE	(256ULL << 10)
/* Two descriptors per request: up to RQ_SLOTS requests in flight. */
#define RQ_NUM		512u
#define RQ_SLOTS	(RQ_NUM / 2)
#define EQ_NUM		64u
#define MAX_BATCH	RQ_SLOTS
#define MAX_DEVS	64u

#define DOMAIN		1u
#define ENDPOINT	8u
#define PR_PASID	1u
#define PR_ADDR		0xdeadb000ULL
#define PR_PERM		(IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE)
#define INPUT_END	((1ULL << 48) - 1)
#define GRANULE_LOG2	12u

#define INV_IN		((__u32)offsetof(struct virtio_iommu_req_invalidate, tail))
#define RESP_IN		((__u32)offsetof(struct virtio_iommu_req_page_resp, tail))
#define TAIL_LEN	((__u32)sizeof(struct virtio_iommu_req_tail))
#define EV_LEN		((__u32)sizeof(struct virtio_iommu_page_req))
#define STATUS_POISON	0xff

/* What a Linux guest with our extensions negotiates (no indirect: see doc). */
#define FEATURES	((1ULL << VIRTIO_F_VERSION_1) |			\
			 (1ULL << VIRTIO_RING_F_EVENT_IDX) |		\
			 (1ULL << VIRTIO_IOMMU_F_ATTACH_TABLE) |	\
			 (1ULL << VIRTIO_IOMMU_F_PAGE_REQ))

/* The module's counters this build prints, from the uAPI header. */
#ifdef BENCH_HAVE_OUT_WAKEUPS
#define STATS_WAKEUPS	",wakeups"
#else
#define STATS_WAKEUPS	""
#endif
#ifdef BENCH_HAVE_OUT_IOMMUFD_CALLS
#define STATS_CALLS	",iommufd_calls"
#else
#define STATS_CALLS	""
#endif
#ifdef BENCH_HAVE_OUT_USER_ACCESSES
#define STATS_UACCESS	",user_accesses"
#else
#define STATS_UACCESS	""
#endif
#define STATS_KNOWN	"inval_batches" STATS_WAKEUPS STATS_CALLS STATS_UACCESS

#define WAIT_TIMEOUT_NS	(5 * NSEC_PER_SEC)

static struct {
	unsigned int iters;
	unsigned int warmup;
	unsigned int cold_us;
	unsigned int scale_batch;
	unsigned int block;
	int guest_cpu;
	int backend_cpu;
	unsigned int busyloop_us;
	const char *only;
} opt = {
	.busyloop_us = 50,
	.iters = 1000,
	.cold_us = 200,
	.scale_batch = 8,
	.block = 100,
	.guest_cpu = 0,
	.backend_cpu = 1,
};

static int errors;

enum bimpl { IMPL_VHOST, IMPL_USER, IMPL_USER_BATCH, IMPL_RAW, IMPL_VHOST_POLL };

static const char * const impl_names[] = {
	[IMPL_VHOST] = "vhost",
	[IMPL_USER] = "user",
	[IMPL_USER_BATCH] = "user-batch",
	[IMPL_RAW] = "raw",
	[IMPL_VHOST_POLL] = "vhost-poll",
};

static void bench_error(const char *wl, enum bimpl impl, const char *what,
			int err)
{
	printf("@@BENCH-ERROR %s %s %s: %s\n", wl, impl_names[impl], what,
	       strerror(err < 0 ? -err : err));
	errors++;
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void sleep_us(unsigned int us)
{
	struct timespec ts = {
		.tv_sec = us / 1000000,
		.tv_nsec = (long)(us % 1000000) * 1000,
	};

	clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}

static int pin_tid(pid_t tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(tid, sizeof(set), &set) ? -errno : 0;
}

/* A module worker: its vhost_task is named "vhost-iommu-<pid>". */
static bool is_worker_comm(const char *comm)
{
	size_t n = strlen("vhost-iommu-"), i;

	if (strncmp(comm, "vhost-iommu-", n) || !comm[n] || comm[n] == '\n')
		return false;
	/* This program's own threads are "vhost-iommu-ben(ch)". */
	for (i = n; comm[i] && comm[i] != '\n'; i++) {
		if (comm[i] < '0' || comm[i] > '9')
			return false;
	}
	return true;
}

/*
 * Pins every worker of this process to @cpu: they start on the CPU of the
 * thread that set the owner, the guest's. Returns the number pinned.
 */
static unsigned int pin_workers(int cpu)
{
	DIR *dir = opendir("/proc/self/task");
	unsigned int n = 0;
	struct dirent *de;

	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		char path[288], comm[32] = "";
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		if (is_worker_comm(comm) &&
		    !pin_tid(atoi(de->d_name), cpu))
			n++;
	}
	closedir(dir);
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/**
 * struct bcount - work counted over a measurement
 * @reqs: requests completed on the request queue
 * @kicks: kicks the guest sent (both queues)
 * @wakeups: backend wake-ups (module: out_wakeups, if the header has it)
 * @calls: iommufd calls of any kind (module: out_iommufd_calls)
 * @inval_calls: IOMMU_HWPT_INVALIDATE calls (module: out_inval_batches)
 * @uaccess: user-memory accesses (module: out_user_accesses)
 * @have_wakeups: @wakeups is known
 * @have_calls: @calls is known
 * @have_uaccess: @uaccess is known
 */
struct bcount {
	__u64 reqs;
	__u64 kicks;
	__u64 wakeups;
	__u64 calls;
	__u64 inval_calls;
	__u64 uaccess;
	bool have_wakeups;
	bool have_calls;
	bool have_uaccess;
};

static void bcount_sub(struct bcount *a, const struct bcount *b)
{
	a->reqs -= b->reqs;
	a->kicks -= b->kicks;
	a->wakeups -= b->wakeups;
	a->calls -= b->calls;
	a->inval_calls -= b->inval_calls;
	a->uaccess -= b->uaccess;
}

static double per(__u64 x, __u64 n)
{
	return n ? (double)x / n : 0;
}

/*
 * One result line. @s holds @n samples of one iteration each, an
 * iteration being @per_iter operations (requests, or page-request round
 * trips); ops_per_s is @per_iter over the median.
 */
static void report(const char *wl, enum bimpl impl, __u64 *s, unsigned int n,
		   unsigned int per_iter, unsigned int devices,
		   const struct bcount *c)
{
	unsigned int p = (n * 99 + 99) / 100;
	__u64 med, p99;

	if (!n)
		return;
	qsort(s, n, sizeof(*s), cmp_u64);
	med = s[(n - 1) / 2];
	p99 = s[(p ? p : 1) - 1];
	printf("@@BENCH %s %s median_ns=%llu p99_ns=%llu min_ns=%llu",
	       wl, impl_names[impl], (unsigned long long)med,
	       (unsigned long long)p99, (unsigned long long)s[0]);
	printf(" iters=%u per_iter=%u devices=%u ops_per_s=%.0f", n, per_iter,
	       devices, med ? per_iter * 1e9 / med : 0);
	if (c) {
		printf(" reqs=%llu kicks_per_req=%.3f inval_calls_per_req=%.4f",
		       (unsigned long long)c->reqs, per(c->kicks, c->reqs),
		       per(c->inval_calls, c->reqs));
		if (c->have_calls)
			printf(" iommufd_calls_per_req=%.4f",
			       per(c->calls, c->reqs));
		if (c->have_wakeups)
			printf(" wakeups_per_req=%.4f",
			       per(c->wakeups, c->reqs));
		if (c->have_uaccess)
			printf(" uaccess_per_req=%.3f",
			       per(c->uaccess, c->reqs));
	}
	printf("\n");
}

/*
 * The guest: its memory, the request queue with a fixed readable and
 * writable buffer per slot (a request uses descriptors 2 * slot and
 * 2 * slot + 1), and the event queue with a 48-byte buffer per descriptor.
 */
struct bguest {
	struct vg_mem mem;
	struct vg_vq rq;
	struct vg_vq eq;
	__u64 in_gpa[RQ_SLOTS];
	__u64 out_gpa[RQ_SLOTS];
	__u8 *in[RQ_SLOTS];
	__u8 *out[RQ_SLOTS];
	__u64 ev_gpa[EQ_NUM];
	__u8 *ev[EQ_NUM];
	unsigned int next_slot;
	__u16 rq_old;
	__u16 eq_old;
	__u64 kicks;
};

static int guest_init(struct bguest *g)
{
	unsigned int i;
	int ret;

	ret = vg_mem_init(&g->mem, GUEST_BASE, GUEST_SIZE, 1);
	if (ret)
		return ret;
	ret = vg_vq_init(&g->rq, &g->mem, RQ_NUM);
	if (!ret)
		ret = vg_vq_init(&g->eq, &g->mem, EQ_NUM);
	for (i = 0; !ret && i < RQ_SLOTS; i++) {
		ret = vg_alloc(&g->mem, 64, 64, &g->in_gpa[i]);
		if (!ret)
			ret = vg_alloc(&g->mem, TAIL_LEN, 4, &g->out_gpa[i]);
		g->in[i] = vg_hva(&g->mem, g->in_gpa[i], 64);
		g->out[i] = vg_hva(&g->mem, g->out_gpa[i], TAIL_LEN);
	}
	for (i = 0; !ret && i < EQ_NUM; i++) {
		ret = vg_alloc(&g->mem, EV_LEN, 8, &g->ev_gpa[i]);
		g->ev[i] = vg_hva(&g->mem, g->ev_gpa[i], EV_LEN);
	}
	return ret;
}

static void guest_destroy(struct bguest *g)
{
	vg_vq_destroy(&g->rq);
	vg_vq_destroy(&g->eq);
	vg_mem_destroy(&g->mem);
}

/*
 * Publishes what was queued since the last call and kicks if the device
 * asked for it, as virtqueue_kick_prepare() does with EVENT_IDX.
 */
static void guest_notify(struct bguest *g, struct vg_vq *vq, __u16 *old)
{
	__u16 new = vq->avail_idx;
	__u64 one = 1;

	vg_publish(vq);
	/* The index store before the event index load. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vring_need_event(vg_avail_event(vq), new, *old) &&
	    write(vq->kick_fd, &one, sizeof(one)) == sizeof(one))
		g->kicks++;
	*old = new;
}

/* Busy-polls until the used index is @target. */
static int guest_wait(const struct vg_vq *vq, __u16 target)
{
	unsigned int spins = 0;
	__u64 deadline = 0;

	while (vg_used_idx(vq) != target) {
		if (++spins & 0xffff)
			continue;
		if (!deadline)
			deadline = now_ns() + WAIT_TIMEOUT_NS;
		else if (now_ns() > deadline)
			return -ETIMEDOUT;
	}
	return 0;
}

/* Queues one request in the next slot; not published yet. */
static void guest_queue(struct bguest *g, const void *body, __u32 in_len)
{
	unsigned int slot = g->next_slot++ % RQ_SLOTS;
	struct vg_vq *vq = &g->rq;
	__u16 d = 2 * slot;

	memcpy(g->in[slot], body, in_len);
	memset(g->out[slot], STATUS_POISON, TAIL_LEN);
	vg_desc_set(&vq->desc[d], g->in_gpa[slot], in_len, VRING_DESC_F_NEXT,
		    d + 1);
	vg_desc_set(&vq->desc[d + 1], g->out_gpa[slot], TAIL_LEN,
		    VRING_DESC_F_WRITE, 0);
	vg_avail_add(vq, d);
}

static void mk_inval(struct virtio_iommu_req_invalidate *r, unsigned int k)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_INVALIDATE;
	r->scope = VIRTIO_IOMMU_INVAL_S_ADDRESS;
	r->caches = VIRTIO_IOMMU_INVAL_C_TLB;
	r->flags = htole16(VIRTIO_IOMMU_INVAL_F_LEAF | VIRTIO_IOMMU_INVAL_F_ID);
	r->domain = htole32(DOMAIN);
	/* The architecture ID picks one of the mock's four IOTLB slots. */
	r->id = htole64(k % IMOCK_IOTLB_NUM);
	r->address = htole64(0x100000ULL + ((__u64)(k % RQ_SLOTS) << 12));
	r->nr_pages = htole64(1);
	r->page_size = 12;
}

static void guest_queue_invals(struct bguest *g, unsigned int n)
{
	struct virtio_iommu_req_invalidate r;
	unsigned int i;

	for (i = 0; i < n; i++) {
		mk_inval(&r, g->next_slot);
		guest_queue(g, &r, INV_IN);
	}
}

/*
 * Consumes the used entries up to the used index. Returns how many were
 * not a whole tail with status @want.
 */
static unsigned int guest_reap(struct bguest *g, __u8 want)
{
	struct vg_vq *vq = &g->rq;
	__u16 idx = vg_used_idx(vq);
	unsigned int bad = 0;

	for (; vq->last_used != idx; vq->last_used++) {
		const struct vring_used_elem *e =
			&vq->used->ring[vq->last_used % vq->num];
		__u32 id = le32toh(e->id), len = le32toh(e->len);

		if (id >= RQ_NUM || (id & 1) || len != TAIL_LEN ||
		    g->out[id / 2][0] != want)
			bad++;
	}
	return bad;
}

/* Every event buffer made available to the device. */
static void guest_post_events(struct bguest *g)
{
	unsigned int i;

	for (i = 0; i < EQ_NUM; i++) {
		vg_desc_set(&g->eq.desc[i], g->ev_gpa[i], EV_LEN,
			    VRING_DESC_F_WRITE, 0);
		vg_avail_add(&g->eq, i);
	}
	/* Interrupts for events, as the driver's event callback wants. */
	vg_set_used_event(&g->eq, 0);
	guest_notify(g, &g->eq, &g->eq_old);
}

/*
 * The userspace backend. Its ring code mirrors the module's (drivers/
 * vring.c, request.c, invalidate.c, fault.c): same checks, same order,
 * same statuses, written anew for a VMM that maps guest memory.
 */
#define UB_MAX_SEGS	8
#define UB_MAX_DESCS	64
#define UB_MAX_READABLE	128
#define UB_GROUPS	256
#define UB_FAULT_RECS	16

#define UB_INVAL_CACHES	(VIRTIO_IOMMU_INVAL_C_PASID | VIRTIO_IOMMU_INVAL_C_TLB)
#define UB_INVAL_FLAGS	(VIRTIO_IOMMU_INVAL_F_LEAF | VIRTIO_IOMMU_INVAL_F_PASID | \
			 VIRTIO_IOMMU_INVAL_F_ID | VIRTIO_IOMMU_INVAL_F_GLOBAL)

struct ub_seg {
	__u8 *p;
	__u32 len;
};

struct ub_chain {
	__u16 head;
	unsigned int nr_in;
	unsigned int nr_out;
	__u32 in_len;
	__u32 out_len;
	struct ub_seg seg[UB_MAX_SEGS];
};

struct ub_vq {
	unsigned int num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	__u16 last_avail;
	__u16 last_used;
	__u16 signalled;
	bool signalled_valid;
	int kick_fd;
	int call_fd;
	__u64 uaccess;
};

/* A request whose status waits for the batch's ioctl. */
struct ub_pending {
	__u16 head;
	__u32 out_len;
	unsigned int nr_tail;
	struct ub_seg tail[4];
	bool has_entry;
};

struct ub_binding {
	__u32 domain;
	__u32 hwpt_id;
	__u64 input_start;
	__u64 input_end;
	unsigned int granule_log2;
};

struct ub_group {
	bool used;
	bool has_pasid;
	__u32 endpoint;
	__u32 pasid;
	__u32 grpid;
	__u32 cookie;
};

/* A decoded INVALIDATE (what vhost_iommu_inval_parse() gives). */
struct ub_inval {
	__u8 scope;
	__u8 caches;
	__u16 flags;
	__u32 domain;
	__u64 id;
	__u64 first;
	__u64 last;
};

struct ub {
	struct vhost_memory_region regions[VG_MAX_REGIONS];
	unsigned int nregions;
	struct ub_vq rq;
	struct ub_vq eq;
	bool batch;
	int iommufd;
	unsigned int nr_bindings;
	struct ub_binding bindings[1];
	int fault_fd;
	__u32 dev_id;
	__u32 endpoint;
	struct ub_group groups[UB_GROUPS];
	const struct ub_binding *batch_bind;
	unsigned int nr_pending;
	unsigned int nr_entries;
	struct ub_pending pending[MAX_BATCH];
	struct imock_invalidate_selftest entries[MAX_BATCH];
	struct iommu_hwpt_pgfault recs[UB_FAULT_RECS];
	struct ub_chain chain;
	__u8 buf[UB_MAX_READABLE];
	int cpu;
	int stop;
	pthread_t thread;
	__u64 wakeups;
	__u64 calls;
	__u64 inval_calls;
	__u64 requests;
	__u64 errors;
	__u64 uaccess;
};

/* Guest-physical to VMM addresses through the memory table. */
static int ub_translate(const struct ub *u, __u64 gpa, __u32 len,
			struct ub_seg *seg, unsigned int max)
{
	unsigned int n = 0, i;

	while (len) {
		const struct vhost_memory_region *r = NULL;
		__u64 off, chunk;

		for (i = 0; i < u->nregions; i++) {
			if (gpa >= u->regions[i].guest_phys_addr &&
			    gpa - u->regions[i].guest_phys_addr <
			    u->regions[i].memory_size) {
				r = &u->regions[i];
				break;
			}
		}
		if (!r || n == max)
			return -EFAULT;
		off = gpa - r->guest_phys_addr;
		chunk = r->memory_size - off;
		if (chunk > len)
			chunk = len;
		seg[n].p = (__u8 *)(uintptr_t)(r->userspace_addr + off);
		seg[n].len = chunk;
		n++;
		gpa += chunk;
		len -= chunk;
	}
	return n;
}

/*
 * The next available chain: 0, -ENOENT when the ring is empty, -EBADMSG
 * for a corrupt chain whose head is known, -EIO for a corrupt ring.
 */
static int ub_get_chain(const struct ub *u, struct ub_vq *vq,
			struct ub_chain *c)
{
	unsigned int budget = vq->num < UB_MAX_DESCS ? vq->num : UB_MAX_DESCS;
	struct vring_desc d;
	__u16 idx, i;

	idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
	vq->uaccess++;
	if (idx == vq->last_avail)
		return -ENOENT;
	if ((__u16)(idx - vq->last_avail) > vq->num)
		return -EIO;
	i = le16toh(vq->avail->ring[vq->last_avail & (vq->num - 1)]);
	vq->uaccess++;
	if (i >= vq->num)
		return -EIO;
	vq->last_avail++;
	memset(c, 0, offsetof(struct ub_chain, seg));
	c->head = i;
	for (;;) {
		unsigned int used = c->nr_in + c->nr_out;
		__u16 flags;
		__u32 len;
		int n;

		if (!budget--)
			return -EBADMSG;
		/* Read once: the guest may rewrite it meanwhile. */
		memcpy(&d, &vq->desc[i], sizeof(d));
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		vq->uaccess++;
		flags = le16toh(d.flags);
		len = le32toh(d.len);
		/* Indirect descriptors are not negotiated. */
		if (flags & VRING_DESC_F_INDIRECT)
			return -EBADMSG;
		if (!(flags & VRING_DESC_F_WRITE) && c->nr_out)
			return -EBADMSG;
		if (len) {
			n = ub_translate(u, le64toh(d.addr), len, &c->seg[used],
					 UB_MAX_SEGS - used);
			if (n < 0)
				return -EBADMSG;
			if (flags & VRING_DESC_F_WRITE) {
				if (__builtin_add_overflow(c->out_len, len,
							   &c->out_len))
					return -EBADMSG;
				c->nr_out += n;
			} else {
				if (__builtin_add_overflow(c->in_len, len,
							   &c->in_len))
					return -EBADMSG;
				c->nr_in += n;
			}
		}
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = le16toh(d.next);
		if (i >= vq->num)
			return -EBADMSG;
	}
}

/*
 * The first @len readable bytes of @c, which has at least that many.
 * Returns the number of copies (guest memory accesses) made.
 */
static unsigned int ub_copy_in(const struct ub_chain *c, void *buf,
			       __u32 len)
{
	__u8 *p = buf;
	unsigned int i;

	for (i = 0; i < c->nr_in && len; i++) {
		__u32 n = c->seg[i].len < len ? c->seg[i].len : len;

		memcpy(p, c->seg[i].p, n);
		p += n;
		len -= n;
	}
	return i;
}

/* @len bytes at the start of the writable part (NULL: zeroes); copies made. */
static unsigned int ub_copy_out(const struct ub_chain *c, const void *buf,
				__u32 len)
{
	const __u8 *p = buf;
	unsigned int i;

	for (i = c->nr_in; i < c->nr_in + c->nr_out && len; i++) {
		__u32 n = c->seg[i].len < len ? c->seg[i].len : len;

		if (p) {
			memcpy(c->seg[i].p, p, n);
			p += n;
		} else {
			memset(c->seg[i].p, 0, n);
		}
		len -= n;
	}
	return i - c->nr_in;
}

/* Where the last 4 writable bytes are: the status goes there. */
static void ub_tail(const struct ub_chain *c, struct ub_pending *p)
{
	unsigned int i = c->nr_in + c->nr_out, n = 0, j;
	__u32 want = TAIL_LEN;
	struct ub_seg t;

	while (want && i > c->nr_in) {
		const struct ub_seg *s = &c->seg[--i];
		__u32 take = s->len < want ? s->len : want;

		p->tail[n].p = s->p + s->len - take;
		p->tail[n].len = take;
		n++;
		want -= take;
	}
	for (j = 0; j < n / 2; j++) {
		t = p->tail[j];
		p->tail[j] = p->tail[n - 1 - j];
		p->tail[n - 1 - j] = t;
	}
	p->nr_tail = n;
	p->head = c->head;
	p->out_len = c->out_len;
}

static void ub_add_used(struct ub_vq *vq, __u16 head, __u32 len)
{
	struct vring_used_elem *e = &vq->used->ring[vq->last_used & (vq->num - 1)];

	e->id = htole32(head);
	e->len = htole32(len);
	vq->last_used++;
	vq->uaccess += 3;
	/* The entry is visible before the index that publishes it. */
	__atomic_store_n(&vq->used->idx, htole16(vq->last_used),
			 __ATOMIC_RELEASE);
}

/* Signals the call eventfd if the guest's used event index asks for it. */
static void ub_signal(struct ub_vq *vq)
{
	__u16 old = vq->signalled, new = vq->last_used;
	__u16 *used_event = &vq->avail->ring[vq->num];
	__u16 event;
	__u64 one = 1;
	bool need;

	if (old == new)
		return;
	/* The used index store before the event index load. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	event = le16toh(__atomic_load_n(used_event, __ATOMIC_RELAXED));
	vq->uaccess++;
	need = !vq->signalled_valid || vring_need_event(event, new, old);
	vq->signalled = new;
	vq->signalled_valid = true;
	if (need && vq->call_fd >= 0 &&
	    write(vq->call_fd, &one, sizeof(one)) != sizeof(one))
		return;
}

/* Asks for a kick on the next entry; true if one came meanwhile. */
static bool ub_enable_notify(struct ub_vq *vq)
{
	__u16 *avail_event = (__u16 *)&vq->used->ring[vq->num];

	__atomic_store_n(avail_event, htole16(vq->last_avail),
			 __ATOMIC_RELAXED);
	vq->uaccess += 2;
	/* The event index store before the available index load. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE)) !=
	       vq->last_avail;
}

static void ub_finish(struct ub *u, const struct ub_pending *p, __u8 status)
{
	struct virtio_iommu_req_tail t = { .status = status };
	const __u8 *s = (const __u8 *)&t;
	unsigned int i;

	for (i = 0; i < p->nr_tail; i++) {
		memcpy(p->tail[i].p, s, p->tail[i].len);
		s += p->tail[i].len;
	}
	u->uaccess += p->nr_tail;
	ub_add_used(&u->rq, p->head, p->out_len);
	u->requests++;
}

static __u8 ub_errno_status(int err)
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

static __u8 ub_invalidate(struct ub *u, const struct ub_binding *b,
			  const struct imock_invalidate_selftest *e,
			  unsigned int n)
{
	int ret;

	ret = imock_hwpt_invalidate(u->iommufd, b->hwpt_id, e, n, NULL);
	u->calls++;
	u->inval_calls++;
	return ret ? ub_errno_status(ret) : VIRTIO_IOMMU_S_OK;
}

/*
 * Sends the batch with one call and completes it. If the call fails,
 * each request is sent again alone and gets the status of its own call,
 * as the module does.
 */
static void ub_flush(struct ub *u)
{
	__u8 status = VIRTIO_IOMMU_S_OK, s;
	unsigned int i, k = 0;

	if (!u->nr_pending)
		return;
	if (u->nr_entries)
		status = ub_invalidate(u, u->batch_bind, u->entries,
				       u->nr_entries);
	for (i = 0; i < u->nr_pending; i++) {
		const struct ub_pending *p = &u->pending[i];

		s = VIRTIO_IOMMU_S_OK;
		if (status != VIRTIO_IOMMU_S_OK && p->has_entry)
			s = ub_invalidate(u, u->batch_bind, &u->entries[k], 1);
		k += p->has_entry;
		ub_finish(u, p, s);
	}
	u->nr_pending = 0;
	u->nr_entries = 0;
	u->batch_bind = NULL;
}

static bool ub_zero(const __u8 *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i])
			return false;
	}
	return true;
}

/* vhost_iommu_inval_parse(): 0 or VIRTIO_IOMMU_S_INVAL. */
static int ub_inval_parse(const struct virtio_iommu_req_invalidate *r,
			  struct ub_inval *inv)
{
	__u16 flags = le16toh(r->flags);
	__u64 addr, nr, mask, size_m1, end;

	if (r->scope < VIRTIO_IOMMU_INVAL_S_DOMAIN ||
	    r->scope > VIRTIO_IOMMU_INVAL_S_ADDRESS ||
	    !r->caches || (r->caches & ~UB_INVAL_CACHES) ||
	    (flags & ~UB_INVAL_FLAGS) ||
	    (r->scope == VIRTIO_IOMMU_INVAL_S_PASID &&
	     !(flags & VIRTIO_IOMMU_INVAL_F_PASID)) ||
	    !ub_zero(r->reserved, sizeof(r->reserved)))
		return VIRTIO_IOMMU_S_INVAL;
	inv->scope = r->scope;
	inv->caches = r->caches;
	inv->flags = flags;
	inv->domain = le32toh(r->domain);
	inv->id = le64toh(r->id);
	inv->first = 0;
	inv->last = UINT64_MAX;
	if (r->scope != VIRTIO_IOMMU_INVAL_S_ADDRESS)
		return 0;
	addr = le64toh(r->address);
	nr = le64toh(r->nr_pages);
	if (r->page_size > 63 || !nr || nr - 1 > UINT64_MAX >> r->page_size)
		return VIRTIO_IOMMU_S_INVAL;
	mask = (1ULL << r->page_size) - 1;
	size_m1 = ((nr - 1) << r->page_size) | mask;
	if (__builtin_add_overflow(addr, size_m1, &end))
		return VIRTIO_IOMMU_S_INVAL;
	inv->first = addr & ~mask;
	inv->last = end | mask;
	return 0;
}

/*
 * The SELFTEST translation of vhost_iommu_inval_translate(): the number
 * of entries (0 when the range misses the domain), or a negative status.
 */
static int ub_inval_entry(const struct ub_binding *b,
			  const struct ub_inval *inv,
			  struct imock_invalidate_selftest *e)
{
	__u64 gmask = (1ULL << b->granule_log2) - 1;
	__u64 first = inv->first, last = inv->last;
	bool all = true;

	if (!(inv->caches & VIRTIO_IOMMU_INVAL_C_TLB))
		return -VIRTIO_IOMMU_S_UNSUPP;
	if (inv->scope == VIRTIO_IOMMU_INVAL_S_ADDRESS) {
		if (first < b->input_start)
			first = b->input_start;
		if (last > b->input_end)
			last = b->input_end;
		if (first > last)
			return 0;
		first &= ~gmask;
		last |= gmask;
		all = !first && last == UINT64_MAX;
	}
	memset(e, 0, sizeof(*e));
	if (!all && (inv->flags & VIRTIO_IOMMU_INVAL_F_ID) &&
	    inv->id <= UINT32_MAX)
		e->iotlb_id = inv->id;
	else
		e->flags = IMOCK_INVALIDATE_FLAG_ALL;
	return 1;
}

static const struct ub_binding *ub_find_binding(const struct ub *u,
						__u32 domain)
{
	unsigned int i;

	for (i = 0; i < u->nr_bindings; i++) {
		if (u->bindings[i].domain == domain)
			return &u->bindings[i];
	}
	return NULL;
}

static void ub_handle_inval(struct ub *u, const struct ub_pending *p,
			    const struct virtio_iommu_req_invalidate *r)
{
	const struct ub_binding *b = NULL;
	struct imock_invalidate_selftest e;
	struct ub_inval inv;
	int status, n = 0;

	status = ub_inval_parse(r, &inv);
	if (!status) {
		b = ub_find_binding(u, inv.domain);
		if (!b)
			status = VIRTIO_IOMMU_S_NOENT;
	}
	if (!status) {
		n = ub_inval_entry(b, &inv, &e);
		if (n < 0)
			status = -n;
	}
	if (status || !u->batch) {
		/* Answered now, so whatever is batched goes first. */
		ub_flush(u);
		if (!status && n)
			status = ub_invalidate(u, b, &e, 1);
		ub_finish(u, p, status);
		return;
	}
	if (u->nr_pending &&
	    (u->batch_bind != b || u->nr_pending == MAX_BATCH))
		ub_flush(u);
	u->pending[u->nr_pending] = *p;
	u->pending[u->nr_pending].has_entry = n;
	u->nr_pending++;
	if (n)
		u->entries[u->nr_entries++] = e;
	u->batch_bind = b;
}

static struct ub_group *ub_group_find(struct ub *u, __u32 endpoint,
				      bool has_pasid, __u32 pasid,
				      __u32 grpid)
{
	unsigned int i;

	for (i = 0; i < UB_GROUPS; i++) {
		struct ub_group *g = &u->groups[i];

		if (g->used && g->endpoint == endpoint && g->grpid == grpid &&
		    g->has_pasid == has_pasid && (!has_pasid || g->pasid == pasid))
			return g;
	}
	return NULL;
}

/* vhost_iommu_handle_page_resp(): the status of a PAGE_RESP. */
static __u8 ub_page_resp(struct ub *u,
			 const struct virtio_iommu_req_page_resp *r)
{
	__u32 flags = le32toh(r->flags);
	__u16 code = le16toh(r->resp_code);
	struct iommu_hwpt_page_response resp;
	struct ub_group *g;
	ssize_t n;

	if (!ub_zero(r->reserved, sizeof(r->reserved)) ||
	    (flags & ~VIRTIO_IOMMU_PAGE_RESP_F_PASID) ||
	    code > VIRTIO_IOMMU_PAGE_RESP_FAILURE || u->fault_fd < 0)
		return VIRTIO_IOMMU_S_INVAL;
	g = ub_group_find(u, le32toh(r->endpoint),
			  flags & VIRTIO_IOMMU_PAGE_RESP_F_PASID,
			  le32toh(r->pasid), le32toh(r->grpid));
	if (!g)
		return VIRTIO_IOMMU_S_INVAL;
	resp.cookie = g->cookie;
	resp.code = code == VIRTIO_IOMMU_PAGE_RESP_SUCCESS ?
		    IOMMUFD_PAGE_RESP_SUCCESS : IOMMUFD_PAGE_RESP_INVALID;
	n = write(u->fault_fd, &resp, sizeof(resp));
	u->calls++;
	if (n == sizeof(resp) || errno == EINVAL)
		g->used = false;
	if (n == sizeof(resp))
		return VIRTIO_IOMMU_S_OK;
	u->errors++;
	return errno == EINVAL ? VIRTIO_IOMMU_S_INVAL : VIRTIO_IOMMU_S_DEVERR;
}

static void ub_handle_one(struct ub *u, struct ub_chain *c)
{
	__u32 n = c->in_len < UB_MAX_READABLE ? c->in_len : UB_MAX_READABLE;
	struct ub_pending p;
	__u8 status;

	if (c->in_len < sizeof(struct virtio_iommu_req_head) ||
	    c->out_len < TAIL_LEN)
		goto empty;
	/* Read once; decided from the copy only. */
	u->uaccess += ub_copy_in(c, u->buf, n);
	ub_tail(c, &p);
	switch (u->buf[0]) {
	case VIRTIO_IOMMU_T_INVALIDATE:
		if (c->in_len < INV_IN)
			goto empty;
		if (c->out_len > TAIL_LEN)
			u->uaccess += ub_copy_out(c, NULL,
						  c->out_len - TAIL_LEN);
		ub_handle_inval(u, &p, (const void *)u->buf);
		return;
	case VIRTIO_IOMMU_T_PAGE_RESP:
		if (c->in_len < RESP_IN)
			goto empty;
		ub_flush(u);
		status = ub_page_resp(u, (const void *)u->buf);
		break;
	default:
		/* A VMM's slow path; the benchmark sends none. */
		ub_flush(u);
		status = VIRTIO_IOMMU_S_UNSUPP;
		break;
	}
	if (c->out_len > TAIL_LEN)
		u->uaccess += ub_copy_out(c, NULL, c->out_len - TAIL_LEN);
	ub_finish(u, &p, status);
	return;
empty:
	ub_flush(u);
	ub_add_used(&u->rq, c->head, 0);
	u->requests++;
}

/* One pass over the request queue, as vhost_iommu_handle_requests(). */
static void ub_handle_requests(struct ub *u)
{
	int ret;

	for (;;) {
		ret = ub_get_chain(u, &u->rq, &u->chain);
		if (ret == -ENOENT) {
			if (ub_enable_notify(&u->rq))
				continue;
			break;
		}
		if (ret) {
			ub_flush(u);
			if (ret == -EBADMSG)
				ub_add_used(&u->rq, u->chain.head, 0);
			u->errors++;
			break;
		}
		ub_handle_one(u, &u->chain);
	}
	ub_flush(u);
	ub_signal(&u->rq);
}

static void ub_answer(struct ub *u, __u32 cookie)
{
	struct iommu_hwpt_page_response resp = {
		.cookie = cookie,
		.code = IOMMUFD_PAGE_RESP_INVALID,
	};

	u->calls++;
	u->errors++;
	if (write(u->fault_fd, &resp, sizeof(resp)) != sizeof(resp))
		return;
}

/*
 * One fault queue record into an event buffer; the group is remembered
 * with its last record. A group the guest cannot take is answered
 * INVALID (the benchmark's guest always has buffers posted).
 */
static void ub_deliver(struct ub *u, const struct iommu_hwpt_pgfault *pf)
{
	bool last = pf->flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE;
	bool has_pasid = pf->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID;
	__u32 ev_flags = VIRTIO_IOMMU_FAULT_F_PAGE_REQ |
			 VIRTIO_IOMMU_FAULT_F_ADDRESS |
			 VIRTIO_IOMMU_FAULT_F_GROUP_ID;
	struct virtio_iommu_page_req ev;
	struct ub_group *g = NULL;
	unsigned int i;

	if (pf->dev_id != u->dev_id || pf->grpid > 0xffff)
		goto refuse;
	if (last) {
		for (i = 0; i < UB_GROUPS && u->groups[i].used; i++)
			;
		if (i == UB_GROUPS)
			goto refuse;
		g = &u->groups[i];
	}
	if (ub_get_chain(u, &u->eq, &u->chain) || u->chain.nr_in ||
	    u->chain.out_len < EV_LEN)
		goto refuse;
	if (pf->perm & IOMMU_PGFAULT_PERM_READ)
		ev_flags |= VIRTIO_IOMMU_FAULT_F_READ;
	if (pf->perm & IOMMU_PGFAULT_PERM_WRITE)
		ev_flags |= VIRTIO_IOMMU_FAULT_F_WRITE;
	if (pf->perm & IOMMU_PGFAULT_PERM_EXEC)
		ev_flags |= VIRTIO_IOMMU_FAULT_F_EXEC;
	if (pf->perm & IOMMU_PGFAULT_PERM_PRIV)
		ev_flags |= VIRTIO_IOMMU_FAULT_F_PRIVILEGED;
	if (last)
		ev_flags |= VIRTIO_IOMMU_FAULT_F_LAST;
	if (has_pasid)
		ev_flags |= VIRTIO_IOMMU_FAULT_F_PASID;
	memset(&ev, 0, sizeof(ev));
	ev.reason = VIRTIO_IOMMU_FAULT_R_MAPPING;
	ev.flags = htole32(ev_flags);
	ev.endpoint = htole32(u->endpoint);
	ev.pasid = htole32(has_pasid ? pf->pasid : 0);
	ev.address = htole64(pf->addr);
	ev.group_id = htole16(pf->grpid);
	u->uaccess += ub_copy_out(&u->chain, &ev, EV_LEN);
	ub_add_used(&u->eq, u->chain.head, EV_LEN);
	if (g) {
		*g = (struct ub_group) {
			.used = true,
			.has_pasid = has_pasid,
			.endpoint = u->endpoint,
			.pasid = has_pasid ? pf->pasid : 0,
			.grpid = pf->grpid,
			.cookie = pf->cookie,
		};
	}
	return;
refuse:
	if (last)
		ub_answer(u, pf->cookie);
}

static void ub_handle_faults(struct ub *u)
{
	unsigned int i;
	ssize_t n;

	n = read(u->fault_fd, u->recs, sizeof(u->recs));
	u->calls++;
	for (i = 0; n > 0 && i < n / sizeof(u->recs[0]); i++)
		ub_deliver(u, &u->recs[i]);
	ub_signal(&u->eq);
}

static void *ub_thread(void *arg)
{
	struct ub *u = arg;
	struct pollfd pfd[3];
	__u64 v;

	pin_tid(0, u->cpu);
	for (;;) {
		bool faults = false;

		if (u->fault_fd < 0) {
			/* The kick eventfd is blocking: the cheapest wait. */
			if (read(u->rq.kick_fd, &v, sizeof(v)) < 0 &&
			    errno != EINTR)
				break;
		} else {
			pfd[0] = (struct pollfd){ u->rq.kick_fd, POLLIN, 0 };
			pfd[1] = (struct pollfd){ u->eq.kick_fd, POLLIN, 0 };
			pfd[2] = (struct pollfd){ u->fault_fd, POLLIN, 0 };
			if (poll(pfd, 3, -1) < 0)
				continue;
			if (pfd[0].revents &&
			    read(u->rq.kick_fd, &v, sizeof(v)) < 0)
				v = 0;
			if (pfd[1].revents &&
			    read(u->eq.kick_fd, &v, sizeof(v)) < 0)
				v = 0;
			faults = pfd[2].revents & POLLIN;
		}
		u->wakeups++;
		if (__atomic_load_n(&u->stop, __ATOMIC_ACQUIRE))
			break;
		if (faults)
			ub_handle_faults(u);
		ub_handle_requests(u);
	}
	return NULL;
}

static void ub_vq_init(struct ub_vq *uq, const struct vg_vq *vq)
{
	memset(uq, 0, sizeof(*uq));
	uq->num = vq->num;
	uq->desc = vq->desc;
	uq->avail = vq->avail;
	uq->used = vq->used;
	uq->kick_fd = vq->kick_fd;
	uq->call_fd = vq->call_fd;
}

static struct ub *ub_create(const struct bguest *g,
			    const struct imock_world *w, bool batch,
			    int fault_fd, int cpu)
{
	struct ub *u = calloc(1, sizeof(*u));
	int flags;

	if (!u)
		return NULL;
	memcpy(u->regions, g->mem.regions, sizeof(u->regions));
	u->nregions = g->mem.nr_regions;
	ub_vq_init(&u->rq, &g->rq);
	ub_vq_init(&u->eq, &g->eq);
	u->batch = batch;
	u->iommufd = w->fd;
	u->bindings[0] = (struct ub_binding) {
		.domain = DOMAIN,
		.hwpt_id = w->nested_id,
		.input_end = INPUT_END,
		.granule_log2 = GRANULE_LOG2,
	};
	u->nr_bindings = 1;
	u->fault_fd = fault_fd;
	u->dev_id = w->idev_id;
	u->endpoint = ENDPOINT;
	u->cpu = cpu;
	if (fault_fd < 0) {
		flags = fcntl(u->rq.kick_fd, F_GETFL);
		if (flags < 0 ||
		    fcntl(u->rq.kick_fd, F_SETFL, flags & ~O_NONBLOCK)) {
			free(u);
			return NULL;
		}
	}
	if (pthread_create(&u->thread, NULL, ub_thread, u)) {
		free(u);
		return NULL;
	}
	return u;
}

static void ub_destroy(struct ub *u)
{
	__u64 one = 1;

	if (!u)
		return;
	__atomic_store_n(&u->stop, 1, __ATOMIC_RELEASE);
	if (write(u->rq.kick_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(u->thread, NULL);
	free(u);
}

/* One device with its guest, its iommufd and its backend. */
struct bdev {
	struct bguest g;
	struct imock_world w;
	int fd;
	struct ub *ub;
	__u32 fault_id;
	int fault_fd;
	__u32 fault_hwpt;
};

/* The guest, the mock world and (with @fault) a faulting nested HWPT. */
static int bdev_prepare(struct bdev *d, bool fault)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->fault_fd = -1;
	d->w.fd = -1;
	ret = guest_init(&d->g);
	if (!ret)
		ret = imock_world_init(&d->w);
	if (ret || !fault)
		return ret;
	ret = imock_fault_alloc(d->w.fd, &d->fault_id, &d->fault_fd);
	if (!ret)
		ret = imock_hwpt_alloc_nested(d->w.fd, d->w.idev_id,
					      d->w.parent_id, d->fault_id,
					      &d->fault_hwpt);
	if (!ret)
		ret = imock_domain_replace(d->w.fd, d->w.stdev_id,
					   d->fault_hwpt);
	return ret;
}

static int vhost_setup(struct bdev *d, bool fault)
{
	struct vhost_iommu_bind bind = {
		.domain = DOMAIN,
		.format = VHOST_IOMMU_INV_FORMAT_SELFTEST,
		.input_end = INPUT_END,
		.granule_log2 = GRANULE_LOG2,
	};
	struct vhost_iommu_config cfg;
	int ret;

	vhi_config_default(&cfg);
	d->fd = vg_device_open(&d->g.mem, &cfg);
	if (d->fd < 0)
		return d->fd;
	ret = vg_rings_up(d->fd, &d->g.rq, &d->g.eq, FEATURES);
	if (!ret)
		ret = vhi_set_iommufd(d->fd, d->w.fd);
	bind.object_id = d->w.nested_id;
	if (!ret)
		ret = vhi_bind_domain(d->fd, &bind);
	if (!ret && fault)
		ret = vhi_add_endpoint(d->fd, ENDPOINT, d->w.idev_id, 0);
	if (!ret && fault)
		ret = vhi_set_fault_queue(d->fd, d->fault_fd);
	return ret;
}

/* Starts @impl on a prepared device; its worker is pinned by the caller. */
static int bdev_start(struct bdev *d, enum bimpl impl, bool fault)
{
	int ret = 0;

	switch (impl) {
	case IMPL_VHOST:
		ret = vhost_setup(d, fault);
		break;
	case IMPL_VHOST_POLL:
		ret = vhost_setup(d, fault);
		if (!ret)
			ret = vhi_set_vring_busyloop(d->fd, 0, opt.busyloop_us);
		break;
	case IMPL_USER:
	case IMPL_USER_BATCH:
		d->ub = ub_create(&d->g, &d->w, impl == IMPL_USER_BATCH,
				  fault ? d->fault_fd : -1, opt.backend_cpu);
		if (!d->ub)
			ret = -ENOMEM;
		break;
	case IMPL_RAW:
		break;
	}
	if (!ret)
		guest_post_events(&d->g);
	return ret;
}

static void bdev_destroy(struct bdev *d)
{
	ub_destroy(d->ub);
	d->ub = NULL;
	/* The device first: it holds references on the iommufd files. */
	if (d->fd >= 0)
		close(d->fd);
	if (d->fault_fd >= 0)
		close(d->fault_fd);
	imock_world_destroy(&d->w);
	guest_destroy(&d->g);
	d->fd = -1;
	d->fault_fd = -1;
}

static void bdev_count(const struct bdev *d, struct bcount *c)
{
	struct vhost_iommu_stats st;

	c->kicks += d->g.kicks;
	if (d->fd >= 0 && !vhi_get_stats(d->fd, &st)) {
		c->reqs += st.out_requests;
		c->inval_calls += st.out_inval_batches;
#ifdef BENCH_HAVE_OUT_WAKEUPS
		c->wakeups += st.out_wakeups;
		c->have_wakeups = true;
#endif
#ifdef BENCH_HAVE_OUT_IOMMUFD_CALLS
		c->calls += st.out_iommufd_calls;
		c->have_calls = true;
#endif
#ifdef BENCH_HAVE_OUT_USER_ACCESSES
		c->uaccess += st.out_user_accesses;
		c->have_uaccess = true;
#endif
	}
	if (d->ub) {
		c->reqs += __atomic_load_n(&d->ub->requests, __ATOMIC_RELAXED);
		c->inval_calls += __atomic_load_n(&d->ub->inval_calls,
						  __ATOMIC_RELAXED);
		c->calls += __atomic_load_n(&d->ub->calls, __ATOMIC_RELAXED);
		c->wakeups += __atomic_load_n(&d->ub->wakeups,
					      __ATOMIC_RELAXED);
		c->uaccess += __atomic_load_n(&d->ub->uaccess, __ATOMIC_RELAXED) +
			      __atomic_load_n(&d->ub->rq.uaccess, __ATOMIC_RELAXED) +
			      __atomic_load_n(&d->ub->eq.uaccess, __ATOMIC_RELAXED);
		c->have_calls = true;
		c->have_wakeups = true;
		c->have_uaccess = true;
	}
}

static void bdevs_count(const struct bdev *devs, unsigned int nr,
			struct bcount *c)
{
	unsigned int i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < nr; i++)
		bdev_count(&devs[i], c);
}

static void bdevs_destroy(struct bdev *devs, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		bdev_destroy(&devs[i]);
	free(devs);
}

/* @nr devices with @impl running; NULL (error reported) on failure. */
static struct bdev *bdevs_create(const char *wl, enum bimpl impl,
				 unsigned int nr, bool fault)
{
	struct bdev *devs = calloc(nr, sizeof(*devs));
	unsigned int i, pinned;
	int ret = 0;

	if (!devs) {
		bench_error(wl, impl, "allocation", -ENOMEM);
		return NULL;
	}
	for (i = 0; i < nr; i++) {
		ret = bdev_prepare(&devs[i], fault);
		if (!ret)
			ret = bdev_start(&devs[i], impl, fault);
		if (ret) {
			bench_error(wl, impl, "setup", ret);
			bdevs_destroy(devs, i + 1);
			return NULL;
		}
	}
	if (impl == IMPL_VHOST || impl == IMPL_VHOST_POLL) {
		/* Every device's worker so far, other implementations' too. */
		pinned = pin_workers(opt.backend_cpu);
		if (pinned < nr)
			printf("@@BENCH-WARN %s vhost: %u of %u workers pinned to CPU %d\n",
			       wl, pinned, nr, opt.backend_cpu);
	}
	return devs;
}

/* The guest thread's own INVALIDATE: no ring, the floor. */
static int raw_round(struct bdev *d, unsigned int n, __u64 *ns)
{
	static struct imock_invalidate_selftest e[MAX_BATCH];
	__u64 t0, t1;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		e[i].flags = 0;
		e[i].iotlb_id = (d->g.next_slot + i) % IMOCK_IOTLB_NUM;
	}
	d->g.next_slot += n;
	t0 = now_ns();
	ret = imock_hwpt_invalidate(d->w.fd, d->w.nested_id, e, n, NULL);
	t1 = now_ns();
	*ns = t1 - t0;
	return ret;
}

/*
 * @n INVALIDATEs on each of @nr devices, one kick each: from the first
 * kick to the last used entry of the last device.
 */
static int inval_round(struct bdev *devs, unsigned int nr, unsigned int n,
		       __u64 *ns)
{
	__u16 target[MAX_DEVS];
	unsigned int i, bad = 0;
	__u64 t0, t1;
	int ret;

	for (i = 0; i < nr; i++) {
		target[i] = devs[i].g.rq.last_used + n;
		guest_queue_invals(&devs[i].g, n);
	}
	t0 = now_ns();
	for (i = 0; i < nr; i++)
		guest_notify(&devs[i].g, &devs[i].g.rq, &devs[i].g.rq_old);
	for (i = 0; i < nr; i++) {
		ret = guest_wait(&devs[i].g.rq, target[i]);
		if (ret)
			return ret;
	}
	t1 = now_ns();
	*ns = t1 - t0;
	for (i = 0; i < nr; i++)
		bad += guest_reap(&devs[i].g, VIRTIO_IOMMU_S_OK);
	return bad ? -EIO : 0;
}

static bool wanted(const char *wl)
{
	const char *p = opt.only;
	size_t len;

	if (!p || !*p)
		return true;
	while (*p) {
		len = strcspn(p, ",");
		if (len && !strncmp(p, wl, len) &&
		    (wl[len] == 0 || p[len - 1] == '-'))
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/*
 * Cross-CPU ping-pong through one shared word, no system call: what a
 * hand-off between the two vCPUs costs right now. Under TCG on a host
 * whose CPUs are taken by other work, it jumps from about a microsecond to
 * the host's scheduling period, and every figure with it; the host side
 * (bench.sh) uses it to tell a contended run.
 */
#define PP_ROUNDS	200

static int pp_word;

static void *pp_thread(void *arg)
{
	int v;

	pin_tid(0, opt.backend_cpu);
	for (;;) {
		v = __atomic_load_n(&pp_word, __ATOMIC_ACQUIRE);
		if (v < 0)
			break;
		if (v & 1)
			__atomic_store_n(&pp_word, v + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void measure_handoff(const char *wl)
{
	__u64 s[PP_ROUNDS], t0, deadline;
	unsigned int i, n = 0;
	pthread_t t;
	int v = 0;

	__atomic_store_n(&pp_word, 0, __ATOMIC_RELEASE);
	if (pthread_create(&t, NULL, pp_thread, NULL))
		return;
	for (i = 0; i < PP_ROUNDS; i++) {
		t0 = now_ns();
		deadline = t0 + WAIT_TIMEOUT_NS;
		__atomic_store_n(&pp_word, ++v, __ATOMIC_RELEASE);
		while (__atomic_load_n(&pp_word, __ATOMIC_ACQUIRE) != v + 1) {
			if (now_ns() > deadline)
				goto out;
		}
		v++;
		s[n++] = now_ns() - t0;
	}
out:
	__atomic_store_n(&pp_word, -1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	if (!n)
		return;
	qsort(s, n, sizeof(s[0]), cmp_u64);
	printf("@@BENCHINFO pingpong before=%s median_ns=%llu p99_ns=%llu\n", wl,
	       (unsigned long long)s[(n - 1) / 2],
	       (unsigned long long)s[(n * 99 + 99) / 100 - 1]);
}

/* Whether to run @wl; if so, the ping-pong first. */
static bool begin(const char *wl)
{
	if (!wanted(wl))
		return false;
	measure_handoff(wl);
	return true;
}

static unsigned int warmup_iters(void)
{
	if (opt.warmup)
		return opt.warmup;
	return opt.iters / 10 > 50 ? opt.iters / 10 : 50;
}

/*
 * TRIGGER_IOPF, the event seen by the guest, its buffer given back, the
 * guest's PAGE_RESP, the used entry of the PAGE_RESP (iommufd has the
 * response by then).
 */
static int pagereq_round(struct bdev *d, unsigned int i, __u64 *ns)
{
	struct virtio_iommu_req_page_resp pr;
	const struct virtio_iommu_page_req *ev;
	struct bguest *g = &d->g;
	const struct vring_used_elem *e;
	__u32 grp = 1 + i % 250, id, len;
	__u64 t0, t1;
	int ret;

	memset(&pr, 0, sizeof(pr));
	pr.head.type = VIRTIO_IOMMU_T_PAGE_RESP;
	pr.endpoint = htole32(ENDPOINT);
	pr.flags = htole32(VIRTIO_IOMMU_PAGE_RESP_F_PASID);
	pr.pasid = htole32(PR_PASID);
	pr.grpid = htole32(grp);
	pr.resp_code = htole16(VIRTIO_IOMMU_PAGE_RESP_SUCCESS);

	t0 = now_ns();
	ret = imock_trigger_iopf(d->w.fd, d->w.idev_id, PR_PASID, grp,
				 PR_PERM, PR_ADDR);
	if (ret)
		return ret;
	ret = guest_wait(&g->eq, g->eq.last_used + 1);
	if (ret)
		return ret;
	e = &g->eq.used->ring[g->eq.last_used % EQ_NUM];
	id = le32toh(e->id);
	len = le32toh(e->len);
	if (id >= EQ_NUM || len != EV_LEN)
		return -EIO;
	ev = (const void *)g->ev[id];
	if (le16toh(ev->group_id) != grp ||
	    !(le32toh(ev->flags) & VIRTIO_IOMMU_FAULT_F_PAGE_REQ))
		return -EIO;
	g->eq.last_used++;
	vg_set_used_event(&g->eq, g->eq.last_used);
	vg_avail_add(&g->eq, id);
	guest_notify(g, &g->eq, &g->eq_old);

	guest_queue(g, &pr, RESP_IN);
	guest_notify(g, &g->rq, &g->rq_old);
	ret = guest_wait(&g->rq, g->rq.last_used + 1);
	t1 = now_ns();
	if (ret)
		return ret;
	*ns = t1 - t0;
	return guest_reap(g, VIRTIO_IOMMU_S_OK) ? -EIO : 0;
}

/* The floor: trigger, read the fault queue, answer, on one thread. */
static int pagereq_raw_round(struct bdev *d, unsigned int i, __u64 *ns)
{
	struct iommu_hwpt_page_response resp = {
		.code = IOMMUFD_PAGE_RESP_SUCCESS,
	};
	struct iommu_hwpt_pgfault pf;
	__u32 grp = 1 + i % 250;
	__u64 t0, t1;
	ssize_t n;
	int ret;

	t0 = now_ns();
	ret = imock_trigger_iopf(d->w.fd, d->w.idev_id, PR_PASID, grp,
				 PR_PERM, PR_ADDR);
	if (ret)
		return ret;
	n = read(d->fault_fd, &pf, sizeof(pf));
	if (n != sizeof(pf))
		return n < 0 ? -errno : -EIO;
	resp.cookie = pf.cookie;
	n = write(d->fault_fd, &resp, sizeof(resp));
	t1 = now_ns();
	if (n != sizeof(resp))
		return n < 0 ? -errno : -EIO;
	*ns = t1 - t0;
	return pf.grpid == grp ? 0 : -EIO;
}

/**
 * struct wl_spec - a workload
 * @name: as printed
 * @impls: the implementations measured
 * @nr_impls: their number, at most 4
 * @devices: devices per implementation (raw: 1)
 * @per_dev: requests per device and iteration
 * @cold_us: the guest idles this long before each iteration, or 0
 * @pagereq: page-request round trips instead of INVALIDATEs
 */
struct wl_spec {
	const char *name;
	const enum bimpl *impls;
	unsigned int nr_impls;
	unsigned int devices;
	unsigned int per_dev;
	unsigned int cold_us;
	bool pagereq;
};

static int wl_round(const struct wl_spec *w, enum bimpl impl,
		    struct bdev *devs, unsigned int i, __u64 *ns)
{
	if (w->pagereq && impl == IMPL_RAW)
		return pagereq_raw_round(devs, i, ns);
	if (w->pagereq)
		return pagereq_round(devs, i, ns);
	if (impl == IMPL_RAW)
		return raw_round(devs, w->per_dev, ns);
	return inval_round(devs, w->devices, w->per_dev, ns);
}

/* Rounds each block starts with, not recorded (the switch from another). */
#define BLOCK_WARM	5

/*
 * Runs @skip + @n rounds of @impl and records the last @n at @s; the
 * round number *@c counts on across calls.
 */
static int wl_rounds(const struct wl_spec *w, enum bimpl impl,
		     struct bdev *devs, unsigned int *c, unsigned int skip,
		     unsigned int n, __u64 *s)
{
	unsigned int i;
	__u64 ns = 0;
	int ret;

	for (i = 0; i < skip + n; i++) {
		if (w->cold_us)
			sleep_us(w->cold_us);
		ret = wl_round(w, impl, devs, (*c)++, &ns);
		if (ret)
			return ret;
		if (i >= skip)
			s[i - skip] = ns;
	}
	return 0;
}

/*
 * Every implementation of @w is set up at once and measured in blocks of
 * opt.block rounds, taking turns, the order rotating from block to block:
 * whatever the emulator or the host does meanwhile weighs on all of them
 * alike, and the ratios of one run compare like with like. Within a block
 * the rounds follow each other as the workload says (back to back, or
 * after the guest idled).
 */
static void run_workload(const struct wl_spec *w)
{
	unsigned int nr = w->nr_impls, done, b, j, k, blk;
	unsigned int c[4] = { 0 };
	struct bcount before[4], after;
	struct bdev *devs[4] = { NULL };
	__u64 *s[4] = { NULL };
	int ret[4] = { 0 };

	for (k = 0; k < nr; k++) {
		s[k] = calloc(opt.iters, sizeof(*s[k]));
		if (s[k])
			devs[k] = bdevs_create(w->name, w->impls[k],
					       w->impls[k] == IMPL_RAW ? 1 : w->devices,
					       w->pagereq);
		if (!devs[k])
			ret[k] = -ENODEV;
	}
	for (k = 0; k < nr; k++) {
		if (!ret[k])
			ret[k] = wl_rounds(w, w->impls[k], devs[k], &c[k],
					   warmup_iters(), 0, s[k]);
		if (!ret[k])
			bdevs_count(devs[k], w->devices, &before[k]);
	}
	for (done = 0, blk = 0; done < opt.iters; done += b, blk++) {
		b = opt.iters - done < opt.block ? opt.iters - done : opt.block;
		for (j = 0; j < nr; j++) {
			k = (blk + j) % nr;
			if (!ret[k])
				ret[k] = wl_rounds(w, w->impls[k], devs[k], &c[k],
						   BLOCK_WARM, b, s[k] + done);
		}
	}
	for (k = 0; k < nr; k++) {
		if (ret[k] && ret[k] != -ENODEV)
			bench_error(w->name, w->impls[k], "round trip", ret[k]);
		if (!ret[k]) {
			bdevs_count(devs[k], w->devices, &after);
			bcount_sub(&after, &before[k]);
			report(w->name, w->impls[k], s[k], opt.iters,
			       w->devices * w->per_dev, w->devices,
			       w->impls[k] == IMPL_RAW ? NULL : &after);
		}
		if (devs[k])
			bdevs_destroy(devs[k], w->impls[k] == IMPL_RAW ?
					       1 : w->devices);
		free(s[k]);
	}
}

/* A field of /proc/meminfo in bytes, or -1. */
static long long meminfo_bytes(const char *key)
{
	size_t klen = strlen(key);
	long long kb = -1;
	char line[128];
	FILE *f;

	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			kb = atoll(line + klen + 1);
			break;
		}
	}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

static void idle_mem_report(const char *wl, enum bimpl impl, unsigned int nr,
			    const long long *before, const long long *after)
{
	printf("@@BENCH %s %s devices=%u", wl, impl_names[impl], nr);
	printf(" mem_per_dev=%lld slab_per_dev=%lld kstack_per_dev=%lld\n",
	       (before[0] - after[0]) / (long long)nr,
	       (after[1] - before[1]) / (long long)nr,
	       (after[2] - before[2]) / (long long)nr);
}

/*
 * Memory per idle device: MemAvailable, Slab and KernelStack before and
 * after bringing MAX_DEVS devices up (guest memory and iommufd objects
 * exist before the first reading), divided by their number.
 */
static void run_idle_mem(const char *wl)
{
	static const enum bimpl impls[] = { IMPL_VHOST, IMPL_USER };
	static const char * const keys[] = {
		"MemAvailable", "Slab", "KernelStack"
	};
	long long before[3], after[3];
	unsigned int i, k, nr = MAX_DEVS;
	struct bdev *devs;
	int ret = 0;

	for (k = 0; k < ARRAY_SIZE(impls); k++) {
		enum bimpl impl = impls[k];

		devs = calloc(nr, sizeof(*devs));
		if (!devs)
			return;
		for (i = 0; !ret && i < nr; i++)
			ret = bdev_prepare(&devs[i], false);
		if (ret) {
			bench_error(wl, impl, "setup", ret);
			bdevs_destroy(devs, i);
			return;
		}
		sleep_us(200000);
		for (i = 0; i < 3; i++)
			before[i] = meminfo_bytes(keys[i]);
		for (i = 0; !ret && i < nr; i++)
			ret = bdev_start(&devs[i], impl, false);
		if (impl == IMPL_VHOST)
			pin_workers(opt.backend_cpu);
		/* Let the workers and threads run once and go idle. */
		sleep_us(500000);
		for (i = 0; i < 3; i++)
			after[i] = meminfo_bytes(keys[i]);
		if (ret)
			bench_error(wl, impl, "setup", ret);
		else
			idle_mem_report(wl, impl, nr, before, after);
		bdevs_destroy(devs, nr);
	}
}

/* Cost of one clock read pair, which every sample includes. */
static __u64 timer_cost(void)
{
	__u64 s[1001];
	unsigned int i;

	for (i = 0; i < 1001; i++) {
		__u64 t0 = now_ns();

		s[i] = now_ns() - t0;
	}
	qsort(s, 1001, sizeof(s[0]), cmp_u64);
	return s[500];
}

static void print_usage(const char *prog)
{
	printf("usage: %s [--iters N] [--warmup N] [--block N] [--cold-us US] [--scale-batch N]\n"
	       "          [--guest-cpu CPU] [--backend-cpu CPU] [--busyloop-us US]\n"
	       "          [--only WORKLOAD,...]\n"
	       "workloads: inval1-hot inval1-cold batch-1 batch-8 batch-64 batch-256\n"
	       "           pagereq scale-1 scale-8 scale-64 idle-mem (a name ending in '-'\n"
	       "           selects all with that prefix)\n", prog);
}

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "iters", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "cold-us", required_argument, NULL, 'c' },
		{ "scale-batch", required_argument, NULL, 'b' },
		{ "block", required_argument, NULL, 'B' },
		{ "guest-cpu", required_argument, NULL, 'g' },
		{ "backend-cpu", required_argument, NULL, 'k' },
		{ "busyloop-us", required_argument, NULL, 'p' },
		{ "only", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "n:w:c:b:B:g:k:p:o:h", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'n':
			opt.iters = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			opt.warmup = strtoul(optarg, NULL, 0);
			break;
		case 'c':
			opt.cold_us = strtoul(optarg, NULL, 0);
			break;
		case 'b':
			opt.scale_batch = strtoul(optarg, NULL, 0);
			break;
		case 'B':
			opt.block = strtoul(optarg, NULL, 0);
			break;
		case 'g':
			opt.guest_cpu = atoi(optarg);
			break;
		case 'k':
			opt.backend_cpu = atoi(optarg);
			break;
		case 'p':
			opt.busyloop_us = strtoul(optarg, NULL, 0);
			break;
		case 'o':
			opt.only = optarg;
			break;
		default:
			print_usage(argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (!opt.iters || !opt.block || !opt.scale_batch ||
	    opt.scale_batch > RQ_SLOTS) {
		print_usage(argv[0]);
		return 2;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static const enum bimpl single[] = {
		IMPL_VHOST, IMPL_VHOST_POLL, IMPL_USER, IMPL_RAW
	};
	static const enum bimpl batch[] = {
		IMPL_VHOST, IMPL_USER, IMPL_USER_BATCH, IMPL_RAW
	};
	static const unsigned int batches[] = { 1, 8, 64, 256 };
	static const unsigned int scales[] = { 1, 8, 64 };
	static const enum bimpl scale[] = {
		IMPL_VHOST, IMPL_USER, IMPL_USER_BATCH
	};
	struct wl_spec w = {
		.impls = single,
		.nr_impls = ARRAY_SIZE(single),
		.devices = 1,
		.per_dev = 1,
	};
	struct utsname un;
	struct rlimit rl;
	char name[32];
	unsigned int i;
	long ncpu;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = parse_args(argc, argv);
	if (ret >= 0)
		return ret;
	/* 192 devices at once need about 2000 descriptors. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < 16384) {
		rl.rlim_cur = 16384;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			printf("@@BENCH-WARN cannot raise the descriptor limit\n");
	}
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 2 || opt.guest_cpu == opt.backend_cpu) {
		printf("@@BENCH-WARN one CPU: guest and backends share it\n");
		opt.backend_cpu = opt.guest_cpu;
	}
	if (pin_tid(0, opt.guest_cpu))
		printf("@@BENCH-WARN cannot pin the guest thread to CPU %d\n",
		       opt.guest_cpu);
	uname(&un);
	printf("@@BENCHINFO kernel=%s cpus=%ld iters=%u warmup=%u",
	       un.release, ncpu, opt.iters, warmup_iters());
	printf(" block=%u cold_us=%u scale_batch=%u guest_cpu=%d backend_cpu=%d busyloop_us=%u",
	       opt.block, opt.cold_us, opt.scale_batch, opt.guest_cpu,
	       opt.backend_cpu, opt.busyloop_us);
	printf(" timer_ns=%llu stats=%s\n", (unsigned long long)timer_cost(),
	       STATS_KNOWN);

	w.name = "inval1-hot";
	if (begin(w.name))
		run_workload(&w);
	w.name = "inval1-cold";
	w.cold_us = opt.cold_us;
	if (begin(w.name))
		run_workload(&w);
	w.cold_us = 0;
	w.impls = batch;
	w.nr_impls = ARRAY_SIZE(batch);
	for (i = 0; i < ARRAY_SIZE(batches); i++) {
		snprintf(name, sizeof(name), "batch-%u", batches[i]);
		w.name = name;
		w.per_dev = batches[i];
		if (begin(w.name))
			run_workload(&w);
	}
	w.name = "pagereq";
	w.impls = single;
	w.nr_impls = ARRAY_SIZE(single);
	w.per_dev = 1;
	w.pagereq = true;
	if (begin(w.name))
		run_workload(&w);
	w.pagereq = false;
	w.impls = scale;
	w.nr_impls = ARRAY_SIZE(scale);
	w.per_dev = opt.scale_batch;
	for (i = 0; i < ARRAY_SIZE(scales); i++) {
		snprintf(name, sizeof(name), "scale-%u", scales[i]);
		w.name = name;
		w.devices = scales[i];
		if (begin(w.name))
			run_workload(&w);
	}
	if (begin("idle-mem"))
		run_idle_mem("idle-mem");
	measure_handoff("end");
	printf("@@BENCH-DONE errors=%d\n", errors);
	return errors ? 1 : 0;
}
