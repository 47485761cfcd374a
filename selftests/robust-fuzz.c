// SPDX-License-Identifier: GPL-2.0-only
/*
 * kselftest suite "robust", part "fuzz": a seeded fuzzer that plays a
 * hostile guest and a careless VMM at once against /dev/vhost-iommu, on
 * a real iommufd with its selftest mock.
 *
 * Each test draws everything from one seed: descriptor chains (lengths,
 * flags, bad next indices, loops, indirect tables, buffers outside the
 * memory table or in memory the device cannot access), request bodies of
 * every type and length, a thread rewriting request bytes while the
 * device reads them, page requests and their responses, random ioctl
 * sequences and garbage ioctls, and VMM processes killed mid-request.
 *
 * The oracle is a model of the uAPI's rules (include/uapi/linux/
 * vhost_iommu.h) written from the header, not from the module: for every
 * buffer the guest makes available it predicts the used length, what is
 * written and the status, or that the queue must break; the VMM checks
 * what GET_REQUEST hands it; the counters of GET_STATS must agree with
 * what the guest saw. A watchdog fails the test if nothing moves for
 * FZ_WATCHDOG_S seconds; the VM runner fails the run on any kernel report.
 *
 * VHOST_IOMMU_FUZZ="--seed N --requests M" (make fuzz SEED= N=) sets the
 * seed and the total number of requests over all tests; a failure prints
 * the test, the seed and the batch to replay it.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "iommufd_mock.h"
#include "vhost_iommu_test.h"
#include "vhost_iommu_vmm.h"
#include "viommu_guest.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define FZ_DEFAULT_SEED		20261201ULL
#define FZ_DEFAULT_REQUESTS	200000ULL
/* Nothing moved for this long: the device hangs. */
#define FZ_WATCHDOG_S		30
#define FZ_HANG_MS		(FZ_WATCHDOG_S * 1000 - 2000)
/* The harness's own limit, far beyond any run; the watchdog comes first. */
#define FZ_TEST_TIMEOUT		36000
/* Violations printed per test; the rest are counted. */
#define FZ_VIOL_PRINT		12

/* Guest memory: four regions, then a hole, then two special regions. */
#define GUEST_BASE	0x40000000ULL
#define GUEST_SIZE	(16ULL << 20)
#define GUEST_REGIONS	4
#define HOLE_SIZE	0x100000ULL
/* Mapped read-only for the device (the guest writes through an alias). */
#define RO_GPA		(GUEST_BASE + GUEST_SIZE + HOLE_SIZE)
#define RO_SIZE		(64ULL << 10)
/* In the memory table, but PROT_NONE: every access faults. */
#define NONE_GPA	(RO_GPA + RO_SIZE)
#define NONE_SIZE	(64ULL << 10)
/*
 * 64 MiB only huge aliased writable parts use, never touched but at its
 * ends (no pages behind the rest): the device must write none of it.
 */
#define BIG_GPA		0x100000000ULL
#define BIG_SIZE	(64ULL << 20)
#define FZ_MAX_REGIONS	(GUEST_REGIONS + 3)
#define JUNK_SIZE	(64ULL << 10)

#define FZ_MAX_NUM	256u
#define FZ_MAX_BATCH	256u
#define FZ_MAX_PIECES	160u
#define FZ_BODY_MAX	256u
#define FZ_PROBE_MAX	512u
#define FZ_BIG_OUT	(256u << 10)
#define FZ_MAX_OUT	(FZ_BIG_OUT + 4096)
#define FZ_FLIPS	3
/* What the device's ring engine must take (uAPI: more is corrupt). */
#define FZ_CHAIN_MAX	64u

#define ENDPOINT	8u

#define ST(s)		(1u << (s))
#define ST_ANY		0x1ffu
#define FBIT(b)		((__u64)1 << (b))
#define EV_SIZE		((__u32)sizeof(struct virtio_iommu_page_req))

/* A "# TAG ..." line, the way the report picks up STAT lines. */
static void __printf(2, 3) fz_note(const char *tag, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ksft_print_msg("%s %s\n", tag, msg);
}

static __s64 fz_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Seed, length and randomness */

static __u64 fz_seed = FZ_DEFAULT_SEED;
static __u64 fz_total = FZ_DEFAULT_REQUESTS;
/* "--only NAME": run that test alone, to replay it faster. */
static char fz_only[32];

enum fz_test {
	FZ_T_RINGS,
	FZ_T_BODIES,
	FZ_T_REWRITE,
	FZ_T_EVENTS,
	FZ_T_IOCTLS,
	FZ_T_KILL,
	FZ_T_NR,
};

/* Percent of the total each test makes, from the measured rates. */
static const unsigned int fz_share[FZ_T_NR] = { 30, 42, 8, 8, 10, 2 };

static void fz_parse_env(void)
{
	const char *env = getenv("VHOST_IOMMU_FUZZ");
	char buf[256], *tok, *save = NULL;
	bool seed = false, reqs = false, only = false;

	if (!env || !*env)
		return;
	snprintf(buf, sizeof(buf), "%s", env);
	for (tok = strtok_r(buf, " =\t", &save); tok;
	     tok = strtok_r(NULL, " =\t", &save)) {
		if (seed)
			fz_seed = strtoull(tok, NULL, 0);
		else if (reqs)
			fz_total = strtoull(tok, NULL, 0);
		else if (only)
			snprintf(fz_only, sizeof(fz_only), "%s", tok);
		seed = !strcmp(tok, "--seed");
		reqs = !strcmp(tok, "--requests");
		only = !strcmp(tok, "--only");
	}
	if (!fz_total)
		fz_total = 1;
}

struct fz_rng {
	__u64 s;
};

/* splitmix64: small, fast, and every seed gives a good stream. */
static __u64 fz_next(struct fz_rng *r)
{
	__u64 z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __u32 fz_below(struct fz_rng *r, __u32 n)
{
	return n ? (__u32)(fz_next(r) % n) : 0;
}

static bool fz_pct(struct fz_rng *r, unsigned int pct)
{
	return fz_below(r, 100) < pct;
}

static __u32 fz_range(struct fz_rng *r, __u32 lo, __u32 hi)
{
	return lo + fz_below(r, hi - lo + 1);
}

/* A value from the edges of a 64-bit field, or a random one. */
static __u64 fz_edge64(struct fz_rng *r)
{
	static const __u64 edges[] = {
		0, 1, 2, 0xfff, 0x1000, 0x1001, 0x10000, 0x1fffff, 0x200000,
		0xffffffffULL, 0x100000000ULL, 1ULL << 40, (1ULL << 40) - 1,
		1ULL << 63, ~0ULL, ~0ULL - 0xfff, ~0xfffULL,
	};

	switch (fz_below(r, 4)) {
	case 0:
		return edges[fz_below(r, ARRAY_SIZE(edges))];
	case 1:
		return fz_next(r) & ~0xfffULL;
	case 2:
		return fz_next(r) & 0xfffffff000ULL;
	}
	return fz_next(r);
}

static __u32 fz_edge32(struct fz_rng *r)
{
	static const __u32 edges[] = {
		0, 1, 2, 3, 4, 7, 8, 16, 1023, 1024, 0xffff, 0x10000,
		0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
	};

	if (fz_pct(r, 60))
		return edges[fz_below(r, ARRAY_SIZE(edges))];
	return (__u32)fz_next(r);
}

static void fz_fill_random(struct fz_rng *r, void *buf, size_t len)
{
	__u8 *p = buf;
	__u64 v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (!(i & 7))
			v = fz_next(r);
		p[i] = v;
		v >>= 8;
	}
}

/* ------------------------------------------------------------------ */
/* Watchdog */

struct fz_watch {
	pthread_t thread;
	bool running;
	__u64 progress;
	int stop;
	const char *test;
	__u64 seed;
	__u64 batch;
	const char *phase;
};

static void *fz_watch_main(void *arg)
{
	struct fz_watch *w = arg;
	__u64 last = ~0ULL, cur;
	char msg[256];
	int stale = 0, n, i;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < 10 && !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE);
		     i++)
			usleep(100 * 1000);
		cur = __atomic_load_n(&w->progress, __ATOMIC_ACQUIRE);
		if (cur != last) {
			last = cur;
			stale = 0;
			continue;
		}
		if (++stale < FZ_WATCHDOG_S)
			continue;
		/* No stdio: the stuck thread may hold its lock. */
		n = snprintf(msg, sizeof(msg),
			     "# FAIL watchdog: no progress for %d s in test %s (seed %llu, batch %llu, %s)\n",
			     FZ_WATCHDOG_S, w->test,
			     (unsigned long long)w->seed,
			     (unsigned long long)__atomic_load_n(&w->batch,
							       __ATOMIC_RELAXED),
			     __atomic_load_n(&w->phase, __ATOMIC_RELAXED));
		if (n > 0 && write(STDOUT_FILENO, msg, n) < 0)
			n = 0;
		_exit(KSFT_FAIL);
	}
	return NULL;
}

static void fz_watch_start(struct fz_watch *w, const char *test, __u64 seed)
{
	w->test = test;
	w->seed = seed;
	w->phase = "setup";
	w->stop = 0;
	w->running = !pthread_create(&w->thread, NULL, fz_watch_main, w);
}

static void fz_watch_stop(struct fz_watch *w)
{
	if (!w->running)
		return;
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	pthread_join(w->thread, NULL);
	w->running = false;
}

static void fz_tick(struct fz_watch *w)
{
	__atomic_add_fetch(&w->progress, 1, __ATOMIC_RELEASE);
}

static void fz_phase(struct fz_watch *w, const char *phase)
{
	__atomic_store_n(&w->phase, phase, __ATOMIC_RELAXED);
	fz_tick(w);
}

/* ------------------------------------------------------------------ */
/* The fuzzer's state */

enum fz_kind {
	FZ_K_RW,
	FZ_K_RO,
	FZ_K_NONE,
};

/* One region of the memory table, and where the guest can reach it. */
struct fz_region {
	__u64 gpa;
	__u64 size;
	__u64 hva;
	__u8 *mine;
	int kind;
};

/* A piece of a chain's buffers, split where memory regions end. */
struct fz_piece {
	__u64 gpa;
	__u32 len;
	__u8 kind;
	bool write;
};

/* What the device must do with a chain. */
enum {
	FZ_V_OK,	/* a request: complete it */
	FZ_V_BAD,	/* corrupt, head known: used length 0, queue broken */
	FZ_V_RING,	/* the ring itself is corrupt: no used entry, broken */
};

/* What the device must do with a request (a chain the ring takes). */
enum {
	FZ_P_EMPTY,	/* used length 0, nothing written */
	FZ_P_DEV,	/* answered by the device, one of a set of statuses */
	FZ_P_VMM,	/* handed to the VMM */
};

struct fz_pred {
	__u8 kind;
	__u16 st;
	__u8 type;
	__u32 readable;
};

/* A byte the rewrite thread toggles between two values. */
struct fz_flip {
	__u8 *p;
	__u32 off;
	__u8 a;
	__u8 b;
};

struct fz_chain {
	__u16 head;
	__u8 verdict;
	/* The uAPI leaves open whether the device breaks here. */
	bool may_break;
	/* Its bytes may change under the device: only the framing is known. */
	bool unsure;
	/* Another chain writes the same memory: no content check. */
	bool shared;
	/* A writable piece the device cannot write. */
	bool wfault;
	bool zero_wr;
	__u32 in_len;
	__u32 out_len;
	__u32 ndesc;
	__u64 tbl_gpa;
	__u32 tbl_len;
	unsigned int nr_pieces;
	struct fz_piece pieces[FZ_MAX_PIECES];
	__u32 body_len;
	__u8 body[FZ_BODY_MAX];
	bool body_none;
	/* rewrite: bytes and a descriptor length that change */
	unsigned int nr_flips;
	struct fz_flip flips[FZ_FLIPS];
	__le32 *len_site;
	__u32 len_a;
	__u32 len_b;
	/* prediction over every way the device may have read it */
	bool can_empty;
	bool can_vmm;
	__u16 dev_st;
	__u32 outs[2];
	unsigned int nr_outs;
	__u8 type;
	__u32 readable;
	/* events test: the group a PAGE_RESP answers, or -1 */
	int resp_group;
	/* observed */
	bool got;
	__u32 used_len;
	bool served;
	unsigned int parks;
	__u8 vmm_status;
	bool seen;
	__u8 seen_status;
	__u32 plen;
	__u8 payload[FZ_PROBE_MAX];
};

struct fz_batch {
	unsigned int n;
	__u16 a0;
	__u16 u0;
	unsigned int nused;
	unsigned int served;
	bool err;
	bool chaos;
	bool hung;
	bool no_kick;
	bool quiet_guest;
	const char *op;
	bool aborted;
	unsigned int extra_parks;
	bool pub_garbage;
	__u16 pub_idx;
	struct vhost_iommu_stats st0;
};

struct fz_bind {
	__u32 domain;
	bool has_pasid;
	__u32 pasid;
};

#define FZ_MAX_BINDS	8

struct fz_ev;
struct fz_iv;

/* What VHOST_IOMMU_SET_RUNNING said last. */
enum {
	FZ_RUN_AUTO,
	FZ_RUN_STOPPED,
	FZ_RUN_STARTED,
};

struct fz {
	const char *name;
	enum fz_test test;
	struct fz_rng rng;
	__u64 seed;
	__u64 budget;
	__u64 made;
	struct fz_watch watch;
	unsigned int nr_viol;
	__s64 t0;

	int fd;
	struct vg_mem mem;
	struct vg_vq rq;
	struct vg_vq eq;
	__u64 features;
	__u64 backend;
	int run;
	struct vhost_iommu_config cfg;
	unsigned int nr_regions;
	struct fz_region regions[FZ_MAX_REGIONS];
	int ro_memfd;
	__u8 *ro_mine;
	void *ro_dev;
	void *none;
	__u8 *big;
	__u64 junk_r;
	__u64 junk_w;
	__u64 ev_slots;
	__u64 arena0;
	__u64 arena_end;
	__u64 arena_p;
	__u64 ro_p;

	/* Descriptors of the request queue not used by this batch yet. */
	__u16 pool[FZ_MAX_NUM];
	unsigned int pool_n;
	__s16 owner[FZ_MAX_NUM];

	struct fz_batch b;
	struct fz_chain *chains;
	__u8 *check_buf;

	struct imock_world w;
	bool have_world;
	bool iommufd_set;
	bool faultq;
	int fault_fd;
	__u32 eps;
	unsigned int nr_binds;
	struct fz_bind binds[FZ_MAX_BINDS];

	/* What the device is told about the rewrite thread's work. */
	pthread_t flipper;
	bool flipping;
	int flip_stop;
	__u64 flips_done;

	struct fz_ev *ev;
	struct fz_iv *ivs;

	/* Generator knobs of the test. */
	unsigned int mut_pct;
	unsigned int garbage_pct;
	unsigned int chaos_pct;
	unsigned int body_fuzz_pct;
	unsigned int indirect_pct;
	/* Per mille of chains with a huge, aliased writable part. */
	unsigned int huge_pm;
	unsigned int max_batch;
	unsigned int careless_pct;
	bool mutating;
	/* The ioctl test may put a parked request back: it parks again. */
	bool rewinds;
	/* PAGE_RESP may match page requests the model does not follow. */
	bool resp_any;

	/* counters for the STAT lines */
	__u64 n_batches;
	__u64 n_breaks;
	__u64 n_slow;
	__u64 n_empty;
	__u64 n_dev;
	__u64 n_epochs;
	__u64 n_chaos;
	__u64 n_ambig;
	__u64 n_ioctls;
	__u64 n_events;
	__u64 n_groups;
	__u64 n_used;
	__u64 n_huge;
	/* The last ioctls and steps, for a dump. */
	const char *log_what[16];
	int log_ret[16];
	unsigned int log_n;
	__s64 t_wait;
	bool st_valid;
	struct vhost_iommu_stats st_last;
};

static void fz_log(struct fz *fz, const char *what, int ret)
{
	unsigned int i = fz->log_n++ % ARRAY_SIZE(fz->log_what);

	fz->log_what[i] = what;
	fz->log_ret[i] = ret;
}

/* Kinds of violation (one per message format) and how often each came. */
#define FZ_VIOL_KINDS	64
#define FZ_VIOL_EACH	3

static const char *fz_viol_fmt[FZ_VIOL_KINDS];
static unsigned int fz_viol_count[FZ_VIOL_KINDS];

/*
 * Counts a violation; prints the first few of each kind, so that one
 * frequent finding does not hide the others.
 */
static void __printf(2, 3) fz_viol(struct fz *fz, const char *fmt, ...)
{
	unsigned int i;
	char msg[512];
	va_list ap;

	fz->nr_viol++;
	for (i = 0; i < FZ_VIOL_KINDS && fz_viol_fmt[i] && fz_viol_fmt[i] != fmt;
	     i++)
		;
	if (i < FZ_VIOL_KINDS) {
		fz_viol_fmt[i] = fmt;
		if (++fz_viol_count[i] > FZ_VIOL_EACH)
			return;
	} else if (fz->nr_viol > FZ_VIOL_PRINT) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ksft_print_msg("VIOLATION %s (seed %llu, batch %llu): %s\n", fz->name,
		       (unsigned long long)fz->seed,
		       (unsigned long long)fz->n_batches, msg);
}

/* How many of each kind, at the end of a test. */
static void fz_viol_summary(const struct fz *fz)
{
	unsigned int i;

	for (i = 0; i < FZ_VIOL_KINDS && fz_viol_fmt[i]; i++)
		fz_note("STAT", "test=%s violations=%u of: %.60s", fz->name,
			fz_viol_count[i], fz_viol_fmt[i]);
}

/* ------------------------------------------------------------------ */
/* Guest memory as the memory table describes it */

static const struct fz_region *fz_region_of(const struct fz *fz, __u64 gpa)
{
	unsigned int i;

	for (i = 0; i < fz->nr_regions; i++) {
		const struct fz_region *r = &fz->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

/* Copies to or from guest memory the guest can reach; false if it cannot. */
static bool fz_gcopy(const struct fz *fz, __u64 gpa, void *buf, __u64 len,
		     bool to_guest)
{
	__u8 *p = buf;

	while (len) {
		const struct fz_region *r = fz_region_of(fz, gpa);
		__u64 off, n;

		if (!r || !r->mine)
			return false;
		off = gpa - r->gpa;
		n = r->size - off;
		if (n > len)
			n = len;
		if (to_guest)
			memcpy(r->mine + off, p, n);
		else
			memcpy(p, r->mine + off, n);
		p += n;
		gpa += n;
		len -= n;
	}
	return true;
}

static void fz_gfill(const struct fz *fz, __u64 gpa, int c, __u64 len)
{
	while (len) {
		const struct fz_region *r = fz_region_of(fz, gpa);
		__u64 off, n;

		if (!r || !r->mine)
			return;
		off = gpa - r->gpa;
		n = r->size - off;
		if (n > len)
			n = len;
		memset(r->mine + off, c, n);
		gpa += n;
		len -= n;
	}
}

/* The guest's pointer to a byte of guest memory, or NULL. */
static __u8 *fz_gptr(const struct fz *fz, __u64 gpa)
{
	const struct fz_region *r = fz_region_of(fz, gpa);

	return r && r->mine ? r->mine + (gpa - r->gpa) : NULL;
}

static int fz_set_mem_table(struct fz *fz)
{
	struct vhost_memory_region t[FZ_MAX_REGIONS];
	unsigned int i;

	for (i = 0; i < fz->nr_regions; i++) {
		t[i].guest_phys_addr = fz->regions[i].gpa;
		t[i].memory_size = fz->regions[i].size;
		t[i].userspace_addr = fz->regions[i].hva;
		t[i].flags_padding = 0;
	}
	return vhi_set_mem_table(fz->fd, t, fz->nr_regions);
}

static void fz_mem_destroy(struct fz *fz)
{
	vg_vq_destroy(&fz->rq);
	vg_vq_destroy(&fz->eq);
	vg_mem_destroy(&fz->mem);
	if (fz->ro_mine)
		munmap(fz->ro_mine, RO_SIZE);
	if (fz->ro_dev)
		munmap(fz->ro_dev, RO_SIZE);
	if (fz->none)
		munmap(fz->none, NONE_SIZE);
	if (fz->big)
		munmap(fz->big, BIG_SIZE);
	fz->big = NULL;
	if (fz->ro_memfd >= 0)
		close(fz->ro_memfd);
	fz->ro_mine = NULL;
	fz->ro_dev = NULL;
	fz->none = NULL;
	fz->ro_memfd = -1;
}

/* Junk the device may read: random bytes and plausible descriptors. */
static void fz_junk_fill(struct fz *fz)
{
	__u8 *p = fz_gptr(fz, fz->junk_r);
	unsigned int i;

	fz_fill_random(&fz->rng, p, JUNK_SIZE);
	for (i = 0; i < JUNK_SIZE / 16; i++) {
		struct vring_desc *d = (struct vring_desc *)(p + 16 * i);
		__u16 flags;

		if (fz_pct(&fz->rng, 40))
			continue;
		flags = fz_below(&fz->rng, 8);
		/* Writable junk only ever points at the writable junk. */
		vg_desc_set(d, (flags & VRING_DESC_F_WRITE ? fz->junk_w :
				fz->junk_r) + fz_below(&fz->rng, JUNK_SIZE - 512),
			    fz_below(&fz->rng, 300), flags,
			    fz_below(&fz->rng, 40));
		if (flags & VRING_DESC_F_INDIRECT)
			d->addr = htole64(fz->junk_r +
					  16 * fz_below(&fz->rng, JUNK_SIZE / 16 - 64));
	}
}

static int fz_mem_init(struct fz *fz)
{
	unsigned int i;
	int ret;

	fz->ro_memfd = -1;
	ret = vg_mem_init(&fz->mem, GUEST_BASE, GUEST_SIZE, GUEST_REGIONS);
	if (!ret)
		ret = vg_vq_init(&fz->rq, &fz->mem, FZ_MAX_NUM);
	if (!ret)
		ret = vg_vq_init(&fz->eq, &fz->mem, FZ_MAX_NUM);
	if (!ret)
		ret = vg_alloc(&fz->mem, JUNK_SIZE, 4096, &fz->junk_r);
	if (!ret)
		ret = vg_alloc(&fz->mem, JUNK_SIZE, 4096, &fz->junk_w);
	if (!ret)
		ret = vg_alloc(&fz->mem, 128 * FZ_MAX_NUM, 4096, &fz->ev_slots);
	if (ret)
		return ret;
	fz->arena0 = (fz->mem.brk + 4095) & ~4095ULL;
	fz->arena_end = GUEST_BASE + GUEST_SIZE;
	fz->arena_p = fz->arena0;

	fz->ro_memfd = memfd_create("fuzz-ro", MFD_CLOEXEC);
	if (fz->ro_memfd < 0 || ftruncate(fz->ro_memfd, RO_SIZE))
		return -errno;
	fz->ro_mine = mmap(NULL, RO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fz->ro_memfd, 0);
	fz->ro_dev = mmap(NULL, RO_SIZE, PROT_READ, MAP_SHARED, fz->ro_memfd, 0);
	fz->none = mmap(NULL, NONE_SIZE, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fz->big = mmap(NULL, BIG_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (fz->ro_mine == MAP_FAILED || fz->ro_dev == MAP_FAILED ||
	    fz->none == MAP_FAILED || fz->big == MAP_FAILED) {
		fz->ro_mine = NULL;
		fz->ro_dev = NULL;
		fz->none = NULL;
		fz->big = NULL;
		return -ENOMEM;
	}
	memset(fz->big, VG_POISON, 4096);
	memset(fz->big + BIG_SIZE - 4096, VG_POISON, 4096);

	for (i = 0; i < fz->mem.nr_regions; i++) {
		const struct vhost_memory_region *m = &fz->mem.regions[i];

		fz->regions[i] = (struct fz_region) {
			.gpa = m->guest_phys_addr,
			.size = m->memory_size,
			.hva = m->userspace_addr,
			.mine = (__u8 *)(uintptr_t)m->userspace_addr,
			.kind = FZ_K_RW,
		};
	}
	fz->regions[i++] = (struct fz_region) {
		.gpa = RO_GPA, .size = RO_SIZE, .hva = (uintptr_t)fz->ro_dev,
		.mine = fz->ro_mine, .kind = FZ_K_RO,
	};
	fz->regions[i++] = (struct fz_region) {
		.gpa = NONE_GPA, .size = NONE_SIZE, .hva = (uintptr_t)fz->none,
		.mine = NULL, .kind = FZ_K_NONE,
	};
	fz->regions[i++] = (struct fz_region) {
		.gpa = BIG_GPA, .size = BIG_SIZE, .hva = (uintptr_t)fz->big,
		.mine = fz->big, .kind = FZ_K_RW,
	};
	fz->nr_regions = i;
	fz_junk_fill(fz);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Buffers for one batch */

static void fz_arena_reset(struct fz *fz)
{
	fz->arena_p = fz->arena0;
	fz->ro_p = RO_GPA;
}

static __u64 fz_arena(struct fz *fz, __u32 len, __u32 align)
{
	__u64 at;

	if (!len)
		len = 1;
	at = (fz->arena_p + align - 1) & ~(__u64)(align - 1);
	if (at + len > fz->arena_end)
		return 0;
	fz->arena_p = at + len;
	return at;
}

/* @len bytes across the next boundary between two guest regions. */
static __u64 fz_arena_straddle(struct fz *fz, __u32 len)
{
	unsigned int i;
	__u64 b, at;

	if (len < 2)
		return 0;
	for (i = 0; i + 1 < GUEST_REGIONS; i++) {
		b = fz->regions[i].gpa + fz->regions[i].size;
		at = b - 1 - fz_below(&fz->rng, len - 1);
		if (at < fz->arena_p || at + len > fz->arena_end)
			continue;
		fz->arena_p = at + len;
		return at;
	}
	return 0;
}

static __u64 fz_ro_alloc(struct fz *fz, __u32 len)
{
	__u64 at = fz->ro_p;

	if (!len)
		len = 1;
	if (at + len > RO_GPA + RO_SIZE)
		return 0;
	fz->ro_p = (at + len + 7) & ~7ULL;
	return at;
}

/* Where a buffer goes. */
enum {
	PL_ARENA,
	PL_STRADDLE,
	PL_RO,
	PL_NONE,
	PL_RO_NONE,
	PL_HOLE,
	PL_BELOW,
	PL_PAST_END,
	PL_WRAP,
	PL_JUNK,
	PL_NR,
};

/*
 * Places a buffer of @len bytes and returns its guest-physical address;
 * readable buffers get @data, writable ones are filled with VG_POISON.
 * Returns false when the batch has no room left.
 */
static bool fz_place(struct fz *fz, int how, const void *data, __u32 len,
		     bool write, __u64 *gpa)
{
	__u64 at = 0;

	switch (how) {
	case PL_STRADDLE:
		at = fz_arena_straddle(fz, len);
		break;
	case PL_RO:
		at = fz_ro_alloc(fz, len);
		break;
	case PL_NONE:
		if (len <= NONE_SIZE)
			at = NONE_GPA + fz_below(&fz->rng, NONE_SIZE - len + 1);
		break;
	case PL_RO_NONE:
		if (len >= 2 && len <= NONE_SIZE)
			at = NONE_GPA - 1 - fz_below(&fz->rng, len - 1);
		break;
	case PL_HOLE:
		at = GUEST_BASE + GUEST_SIZE + fz_below(&fz->rng, HOLE_SIZE / 2);
		break;
	case PL_BELOW:
		at = fz_pct(&fz->rng, 50) ? 0 : GUEST_BASE - len -
		     fz_below(&fz->rng, 0x10000);
		break;
	case PL_PAST_END:
		if (len >= 2)
			at = GUEST_BASE + GUEST_SIZE - 1 -
			     fz_below(&fz->rng, len - 1);
		break;
	case PL_WRAP:
		at = ~0ULL - fz_below(&fz->rng, len ? len : 1);
		break;
	case PL_JUNK:
		if (len <= JUNK_SIZE)
			at = (write ? fz->junk_w : fz->junk_r) +
			     fz_below(&fz->rng, JUNK_SIZE - len + 1);
		break;
	}
	if (how == PL_ARENA || !at) {
		how = PL_ARENA;
		at = fz_arena(fz, len, fz_pct(&fz->rng, 20) ? 1 : 8);
		if (!at)
			return false;
	}
	/* Outside memory nothing is written; junk is never rewritten. */
	if (how == PL_ARENA || how == PL_STRADDLE || how == PL_RO) {
		if (write)
			fz_gfill(fz, at, VG_POISON, len);
		else if (data)
			fz_gcopy(fz, at, (void *)data, len, true);
	}
	*gpa = at;
	return true;
}

/* ------------------------------------------------------------------ */
/* The model: what the uAPI says the device does with a chain */

static bool fz_nonzero(const void *p, size_t n)
{
	const __u8 *b = p;

	while (n--)
		if (*b++)
			return true;
	return false;
}

/* Every byte of [gpa, gpa + len) in memory the device can read. */
static bool fz_dev_readable(const struct fz *fz, __u64 gpa, __u64 len)
{
	__u64 last;

	if (!len || __builtin_add_overflow(gpa, len - 1, &last))
		return false;
	for (;;) {
		const struct fz_region *r = fz_region_of(fz, gpa);
		__u64 end;

		if (!r || r->kind == FZ_K_NONE)
			return false;
		end = r->gpa + r->size - 1;
		if (end >= last)
			return true;
		gpa = end + 1;
	}
}

/*
 * One descriptor's buffer. A corrupt one (outside the memory table, or
 * readable after writable) returns false. Zero-length buffers carry
 * nothing; whether one the uAPI would call misplaced breaks the queue
 * is left open.
 */
static bool fz_model_buf(const struct fz *fz, struct fz_chain *c, __u64 gpa,
			 __u32 len, bool write)
{
	__u64 last;

	if (!len) {
		if (write)
			c->zero_wr = true;
		else if (c->out_len)
			c->may_break = true;
		if (!fz_region_of(fz, gpa))
			c->may_break = true;
		return true;
	}
	if (!write && c->out_len)
		return false;
	if (!write && c->zero_wr)
		c->may_break = true;
	if (__builtin_add_overflow(gpa, (__u64)len - 1, &last))
		return false;
	for (;;) {
		const struct fz_region *r = fz_region_of(fz, gpa);
		__u64 n;

		if (!r)
			return false;
		n = r->size - (gpa - r->gpa);
		if (n > last - gpa + 1)
			n = last - gpa + 1;
		if (c->nr_pieces < FZ_MAX_PIECES)
			c->pieces[c->nr_pieces] = (struct fz_piece) {
				.gpa = gpa, .len = n, .kind = r->kind,
				.write = write,
			};
		else
			c->shared = true;
		c->nr_pieces++;
		if (write && r->kind != FZ_K_RW)
			c->wfault = true;
		if (last - gpa + 1 == n)
			break;
		gpa += n;
	}
	if (write)
		c->out_len += len;
	else
		c->in_len += len;
	return true;
}

static bool fz_model_indirect(const struct fz *fz, struct fz_chain *c,
			      __u64 base, __u32 len)
{
	unsigned int m = 0;
	__u32 j = 0, count;

	/* An empty table: no buffer, or corrupt. */
	if (!len) {
		c->may_break = true;
		return true;
	}
	if (len % 16)
		return false;
	count = len / 16;
	/* Only the entries the chain visits must be readable, or all. */
	if (!fz_dev_readable(fz, base, len))
		c->may_break = true;
	for (;;) {
		struct vring_desc d;
		__u16 flags;
		__u64 at;

		if (++m > FZ_CHAIN_MAX)
			return false;
		c->ndesc++;
		if (__builtin_add_overflow(base, 16ULL * j, &at) ||
		    !fz_dev_readable(fz, at, 16) ||
		    !fz_gcopy(fz, at, &d, 16, false))
			return false;
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT)
			return false;
		if (!fz_model_buf(fz, c, le64toh(d.addr), le32toh(d.len),
				  flags & VRING_DESC_F_WRITE))
			return false;
		if (!(flags & VRING_DESC_F_NEXT)) {
			/* 64 in the table and the one pointing at it. */
			if (m == FZ_CHAIN_MAX)
				c->may_break = true;
			return true;
		}
		j = le16toh(d.next);
		if (j >= count)
			return false;
	}
}

static void fz_model_reset(struct fz_chain *c)
{
	c->verdict = FZ_V_OK;
	c->may_break = false;
	c->unsure = false;
	c->shared = false;
	c->wfault = false;
	c->zero_wr = false;
	c->in_len = 0;
	c->out_len = 0;
	c->ndesc = 0;
	c->tbl_gpa = 0;
	c->tbl_len = 0;
	c->nr_pieces = 0;
	c->can_empty = false;
	c->can_vmm = false;
	c->dev_st = 0;
	c->type = 0;
	c->readable = 0;
	c->got = false;
	c->served = false;
	c->parks = 0;
	c->seen = false;
	c->plen = 0;
}

/* The chain as the ring gives it: verdict, pieces, lengths. */
static void fz_model_walk(const struct fz *fz, struct fz_chain *c)
{
	unsigned int num = fz->rq.num, n = 0;
	bool nonzero = false;
	__u16 i = c->head;

	if (c->head >= num) {
		c->verdict = FZ_V_RING;
		return;
	}
	for (;;) {
		const struct vring_desc *d = &fz->rq.desc[i];
		__u16 flags = le16toh(d->flags);
		__u32 len = le32toh(d->len);

		if (++n > FZ_CHAIN_MAX)
			goto bad;
		c->ndesc++;
		if (flags & VRING_DESC_F_INDIRECT) {
			if (!(fz->features & FBIT(VIRTIO_RING_F_INDIRECT_DESC)) ||
			    (flags & VRING_DESC_F_NEXT))
				goto bad;
			/* Chained after descriptors that carry nothing? */
			if (n > 1) {
				if (nonzero)
					goto bad;
				c->may_break = true;
			}
			c->tbl_gpa = le64toh(d->addr);
			c->tbl_len = len;
			if (!fz_model_indirect(fz, c, le64toh(d->addr), len))
				goto bad;
			break;
		}
		if (!fz_model_buf(fz, c, le64toh(d->addr), len,
				  flags & VRING_DESC_F_WRITE))
			goto bad;
		nonzero |= len != 0;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = le16toh(d->next);
		if (i >= num)
			goto bad;
	}
	/* The uAPI's limit on memory pieces per chain. */
	if (c->nr_pieces > VHOST_IOMMU_MAX_CHAIN_PIECES)
		goto bad;
	return;
bad:
	c->verdict = FZ_V_BAD;
}

static __u32 fz_type_readable(const struct fz *fz, __u8 type)
{
	__u64 f = fz->features;

	switch (type) {
	case VIRTIO_IOMMU_T_ATTACH:
		return offsetof(struct virtio_iommu_req_attach, tail);
	case VIRTIO_IOMMU_T_DETACH:
		return offsetof(struct virtio_iommu_req_detach, tail);
	case VIRTIO_IOMMU_T_MAP:
		return f & FBIT(VIRTIO_IOMMU_F_MAP_UNMAP) ?
		       offsetof(struct virtio_iommu_req_map, tail) : 0;
	case VIRTIO_IOMMU_T_UNMAP:
		return f & FBIT(VIRTIO_IOMMU_F_MAP_UNMAP) ?
		       offsetof(struct virtio_iommu_req_unmap, tail) : 0;
	case VIRTIO_IOMMU_T_PROBE:
		return f & FBIT(VIRTIO_IOMMU_F_PROBE) && fz->cfg.probe_size ?
		       offsetof(struct virtio_iommu_req_probe, properties) : 0;
	case VIRTIO_IOMMU_T_ATTACH_TABLE:
		return f & FBIT(VIRTIO_IOMMU_F_ATTACH_TABLE) ?
		       offsetof(struct virtio_iommu_req_attach_table, tail) : 0;
	case VIRTIO_IOMMU_T_INVALIDATE:
		return f & FBIT(VIRTIO_IOMMU_F_ATTACH_TABLE) ?
		       offsetof(struct virtio_iommu_req_invalidate, tail) : 0;
	case VIRTIO_IOMMU_T_PAGE_RESP:
		return f & FBIT(VIRTIO_IOMMU_F_PAGE_REQ) ?
		       offsetof(struct virtio_iommu_req_page_resp, tail) : 0;
	}
	return 0;
}

static bool fz_dom_bad(const struct fz *fz, __u32 dom)
{
	return (fz->features & FBIT(VIRTIO_IOMMU_F_DOMAIN_RANGE)) &&
	       (dom < fz->cfg.domain_start || dom > fz->cfg.domain_end);
}

static bool fz_bound(const struct fz *fz, __u32 domain, bool has_pasid,
		     __u32 pasid)
{
	unsigned int i;

	for (i = 0; has_pasid && i < fz->nr_binds; i++)
		if (fz->binds[i].domain == domain && fz->binds[i].has_pasid &&
		    fz->binds[i].pasid == pasid)
			return true;
	for (i = 0; i < fz->nr_binds; i++)
		if (fz->binds[i].domain == domain && !fz->binds[i].has_pasid)
			return true;
	return false;
}

static __u16 fz_predict_inval(const struct fz *fz,
			      const struct virtio_iommu_req_invalidate *r)
{
	__u16 flags = le16toh(r->flags);
	bool malformed, bound;

	if (fz_nonzero(r->reserved, sizeof(r->reserved)))
		return ST(VIRTIO_IOMMU_S_INVAL);
	malformed = r->scope < VIRTIO_IOMMU_INVAL_S_DOMAIN ||
		    r->scope > VIRTIO_IOMMU_INVAL_S_ADDRESS || !r->caches ||
		    (r->caches & ~(VIRTIO_IOMMU_INVAL_C_PASID |
				   VIRTIO_IOMMU_INVAL_C_TLB)) ||
		    (flags & ~0xfu);
	bound = fz_bound(fz, le32toh(r->domain),
			 flags & VIRTIO_IOMMU_INVAL_F_PASID, le32toh(r->pasid));
	if (malformed)
		return ST(VIRTIO_IOMMU_S_INVAL) |
		       (bound ? 0 : ST(VIRTIO_IOMMU_S_NOENT));
	if (bound)
		return ST(VIRTIO_IOMMU_S_OK) | ST(VIRTIO_IOMMU_S_INVAL) |
		       ST(VIRTIO_IOMMU_S_UNSUPP);
	return ST(VIRTIO_IOMMU_S_NOENT) | ST(VIRTIO_IOMMU_S_INVAL);
}

static __u16 fz_ev_predict_resp(struct fz *fz,
				const struct virtio_iommu_req_page_resp *r,
				int *group);

/* The device's answer to a request whose bytes are @b. */
static void fz_predict(struct fz *fz, const __u8 *b, __u32 in_len,
		       __u32 out_len, struct fz_pred *p, int *group)
{
	__u64 f = fz->features;
	__u16 st = 0;
	__u32 r, need;

	memset(p, 0, sizeof(*p));
	p->kind = FZ_P_EMPTY;
	if (in_len < sizeof(struct virtio_iommu_req_head) ||
	    out_len < sizeof(struct virtio_iommu_req_tail))
		return;
	r = fz_type_readable(fz, b[0]);
	if (!r || in_len < r)
		return;
	/* uAPI: a writable part far beyond the type's need is not parsed. */
	need = sizeof(struct virtio_iommu_req_tail);
	if (b[0] == VIRTIO_IOMMU_T_PROBE)
		need += fz->cfg.probe_size;
	if (out_len > need + VHOST_IOMMU_MAX_WRITABLE_EXTRA)
		return;
	p->type = b[0];
	p->readable = r;
	p->kind = FZ_P_DEV;
	if (p->type == VIRTIO_IOMMU_T_PROBE && out_len < need) {
		p->st = ST(VIRTIO_IOMMU_S_INVAL);
		return;
	}
	switch (p->type) {
	case VIRTIO_IOMMU_T_ATTACH: {
		struct virtio_iommu_req_attach a;
		__u32 valid = 0;

		memcpy(&a, b, r);
		if (f & FBIT(VIRTIO_IOMMU_F_BYPASS_CONFIG))
			valid |= VIRTIO_IOMMU_ATTACH_F_BYPASS;
		if (fz_nonzero(a.reserved, sizeof(a.reserved)) ||
		    (le32toh(a.flags) & ~valid))
			st |= ST(VIRTIO_IOMMU_S_INVAL);
		if (fz_dom_bad(fz, le32toh(a.domain)))
			st |= ST(VIRTIO_IOMMU_S_RANGE);
		break;
	}
	case VIRTIO_IOMMU_T_MAP: {
		struct virtio_iommu_req_map m;
		__u32 valid = VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE;
		__u64 mask = fz->cfg.page_size_mask;
		__u64 gran = mask & -mask;
		__u64 start, end, phys;

		memcpy(&m, b, r);
		start = le64toh(m.virt_start);
		end = le64toh(m.virt_end);
		phys = le64toh(m.phys_start);
		if (f & FBIT(VIRTIO_IOMMU_F_MMIO))
			valid |= VIRTIO_IOMMU_MAP_F_MMIO;
		if (le32toh(m.flags) & ~valid)
			st |= ST(VIRTIO_IOMMU_S_INVAL);
		if (fz_dom_bad(fz, le32toh(m.domain)))
			st |= ST(VIRTIO_IOMMU_S_RANGE);
		if (end < start)
			st |= ST(VIRTIO_IOMMU_S_INVAL);
		if ((start | phys | (end + 1)) & (gran - 1))
			st |= ST(VIRTIO_IOMMU_S_RANGE);
		if ((f & FBIT(VIRTIO_IOMMU_F_INPUT_RANGE)) &&
		    (start < fz->cfg.input_start || end > fz->cfg.input_end))
			st |= ST(VIRTIO_IOMMU_S_RANGE);
		break;
	}
	case VIRTIO_IOMMU_T_UNMAP: {
		struct virtio_iommu_req_unmap u;

		memcpy(&u, b, r);
		if (fz_nonzero(u.reserved, sizeof(u.reserved)) ||
		    le64toh(u.virt_end) < le64toh(u.virt_start))
			st |= ST(VIRTIO_IOMMU_S_INVAL);
		if (fz_dom_bad(fz, le32toh(u.domain)))
			st |= ST(VIRTIO_IOMMU_S_RANGE);
		break;
	}
	case VIRTIO_IOMMU_T_ATTACH_TABLE: {
		struct virtio_iommu_req_attach_table t;

		memcpy(&t, b, r);
		if (fz_dom_bad(fz, le32toh(t.domain)))
			st |= ST(VIRTIO_IOMMU_S_RANGE);
		break;
	}
	case VIRTIO_IOMMU_T_INVALIDATE: {
		struct virtio_iommu_req_invalidate inv;

		memcpy(&inv, b, r);
		p->st = fz_predict_inval(fz, &inv);
		return;
	}
	case VIRTIO_IOMMU_T_PAGE_RESP: {
		struct virtio_iommu_req_page_resp pr;

		memcpy(&pr, b, r);
		p->st = fz_ev_predict_resp(fz, &pr, group);
		return;
	}
	}
	if (st)
		p->st = st;
	else
		p->kind = FZ_P_VMM;
}

static void fz_pred_merge(struct fz_chain *c, const struct fz_pred *p)
{
	if (p->kind == FZ_P_EMPTY)
		c->can_empty = true;
	else if (p->kind == FZ_P_VMM)
		c->can_vmm = true;
	else
		c->dev_st |= p->st;
}

/* The first bytes of the readable part; false if some cannot be read. */
static bool fz_model_body(const struct fz *fz, struct fz_chain *c,
			  bool *head_none)
{
	__u32 want = c->in_len < FZ_BODY_MAX ? c->in_len : FZ_BODY_MAX;
	__u32 got = 0, pos = 0, take;
	bool ok = true, any_none = false;
	unsigned int i;

	*head_none = false;
	c->body_len = want;
	memset(c->body, 0, sizeof(c->body));
	for (i = 0; i < c->nr_pieces && i < FZ_MAX_PIECES; i++) {
		const struct fz_piece *p = &c->pieces[i];

		if (p->write)
			continue;
		if (p->kind == FZ_K_NONE) {
			any_none = true;
			if (pos < 4)
				*head_none = true;
			if (pos < want)
				ok = false;
		}
		if (got < want) {
			take = want - got < p->len ? want - got : p->len;
			if (p->kind != FZ_K_NONE)
				fz_gcopy(fz, p->gpa, c->body + got, take, false);
			got += take;
		}
		pos += p->len;
	}
	/* Bytes the device need not read may be in memory it cannot read. */
	if (any_none)
		c->may_break = true;
	return ok;
}

/* Outcome of every way the device may read the request's bytes. */
static void fz_model_request(struct fz *fz, struct fz_chain *c)
{
	unsigned int combo, nc = 1u << c->nr_flips, i, o;
	__u8 body[FZ_BODY_MAX];
	struct fz_pred p;
	bool head_none;
	__u32 out;

	c->nr_outs = 1;
	c->outs[0] = c->out_len;
	c->resp_group = -1;
	if (c->len_site) {
		c->outs[1] = c->out_len - c->len_a + c->len_b;
		c->nr_outs = 2;
	}
	if (c->verdict != FZ_V_OK)
		return;
	if (!fz_model_body(fz, c, &head_none)) {
		if (head_none && c->in_len >= 4 && c->out_len >= 4) {
			c->verdict = FZ_V_BAD;
			return;
		}
		c->may_break = true;
		c->unsure = true;
		c->can_empty = true;
		c->can_vmm = true;
		c->dev_st = ST_ANY;
		return;
	}
	for (o = 0; o < c->nr_outs; o++) {
		out = c->outs[o];
		for (combo = 0; combo < nc; combo++) {
			memcpy(body, c->body, sizeof(body));
			for (i = 0; i < c->nr_flips; i++)
				body[c->flips[i].off] = combo & (1u << i) ?
					c->flips[i].b : c->flips[i].a;
			fz_predict(fz, body, c->in_len, out, &p,
				   &c->resp_group);
			fz_pred_merge(c, &p);
			if (!combo && !o) {
				c->type = p.type;
				c->readable = p.readable;
			}
		}
	}
	/* Writing the answer faults: broken, unless nothing is written. */
	if (c->wfault) {
		if (!c->can_empty)
			c->verdict = FZ_V_BAD;
		else if (c->can_vmm || c->dev_st)
			c->may_break = true;
	}
}

/* ------------------------------------------------------------------ */
/* Request bodies */

static __u32 fz_domain(struct fz *fz)
{
	struct fz_rng *r = &fz->rng;

	switch (fz_below(r, 8)) {
	case 0:
		return fz->cfg.domain_start;
	case 1:
		return fz->cfg.domain_end;
	case 2:
		return fz->cfg.domain_end + 1;
	case 3:
		return fz->cfg.domain_start - 1;
	case 4:
		return fz_edge32(r);
	}
	return fz_range(r, 1, 4);
}

static __u64 fz_aligned(struct fz *fz)
{
	__u64 mask = fz->cfg.page_size_mask, gran = mask & -mask;

	if (fz_pct(&fz->rng, 25))
		return fz_edge64(&fz->rng);
	return (fz_next(&fz->rng) & ((1ULL << 44) - 1)) & ~(gran - 1);
}

/* Fills @b with a request and returns its readable length. */
static __u32 fz_gen_body(struct fz *fz, __u8 *b, __u32 *out_len)
{
	struct fz_rng *r = &fz->rng;
	unsigned int pick = fz_below(r, 100);
	__u32 full, len, w;
	__u8 type;

	memset(b, 0, FZ_BODY_MAX);
	/* Weighted towards the fast paths; slow ones cost a VMM round trip. */
	if (pick < 4)
		type = 0;
	else if (pick < 10)
		type = fz_range(r, 9, 255);
	else if (pick < 45)
		type = fz_range(r, VIRTIO_IOMMU_T_ATTACH,
				VIRTIO_IOMMU_T_ATTACH_TABLE);
	else if (pick < 78)
		type = VIRTIO_IOMMU_T_INVALIDATE;
	else
		type = VIRTIO_IOMMU_T_PAGE_RESP;
	full = 64;
	switch (type) {
	case VIRTIO_IOMMU_T_ATTACH: {
		struct virtio_iommu_req_attach a = {};

		a.domain = htole32(fz_domain(fz));
		a.endpoint = htole32(fz_edge32(r));
		if (fz_pct(r, 30))
			a.flags = htole32(fz_pct(r, 60) ?
					  VIRTIO_IOMMU_ATTACH_F_BYPASS :
					  fz_edge32(r));
		if (fz_pct(r, 15))
			a.reserved[fz_below(r, 4)] = fz_range(r, 1, 255);
		full = offsetof(struct virtio_iommu_req_attach, tail);
		memcpy(b, &a, full);
		break;
	}
	case VIRTIO_IOMMU_T_DETACH: {
		struct virtio_iommu_req_detach d = {};

		d.domain = htole32(fz_domain(fz));
		d.endpoint = htole32(fz_edge32(r));
		if (fz_pct(r, 30))
			fz_fill_random(r, d.reserved, sizeof(d.reserved));
		full = offsetof(struct virtio_iommu_req_detach, tail);
		memcpy(b, &d, full);
		break;
	}
	case VIRTIO_IOMMU_T_MAP: {
		struct virtio_iommu_req_map m = {};
		__u64 start = fz_aligned(fz);

		m.domain = htole32(fz_domain(fz));
		m.virt_start = htole64(start);
		m.virt_end = htole64(fz_pct(r, 70) ? start + (fz_aligned(fz) &
					 0xffffff000ULL) + 0xfff : fz_edge64(r));
		m.phys_start = htole64(fz_aligned(fz));
		m.flags = htole32(fz_pct(r, 70) ? fz_range(r, 0, 3) :
				  fz_pct(r, 50) ? VIRTIO_IOMMU_MAP_F_MMIO | 1 :
				  fz_edge32(r));
		full = offsetof(struct virtio_iommu_req_map, tail);
		memcpy(b, &m, full);
		break;
	}
	case VIRTIO_IOMMU_T_UNMAP: {
		struct virtio_iommu_req_unmap u = {};
		__u64 start = fz_aligned(fz);

		u.domain = htole32(fz_domain(fz));
		u.virt_start = htole64(start);
		u.virt_end = htole64(fz_pct(r, 75) ? start + 0xfff :
				     fz_edge64(r));
		if (fz_pct(r, 15))
			u.reserved[fz_below(r, 4)] = fz_range(r, 1, 255);
		full = offsetof(struct virtio_iommu_req_unmap, tail);
		memcpy(b, &u, full);
		break;
	}
	case VIRTIO_IOMMU_T_PROBE: {
		struct virtio_iommu_req_probe p = {};

		p.endpoint = htole32(fz_edge32(r));
		if (fz_pct(r, 30))
			fz_fill_random(r, p.reserved, sizeof(p.reserved));
		full = offsetof(struct virtio_iommu_req_probe, properties);
		memcpy(b, &p, full);
		break;
	}
	case VIRTIO_IOMMU_T_ATTACH_TABLE: {
		struct virtio_iommu_req_attach_table t = {};

		t.domain = htole32(fz_domain(fz));
		t.endpoint = htole32(fz_edge32(r));
		t.format = fz_below(r, 8);
		fz_fill_random(r, t.descriptor, sizeof(t.descriptor));
		full = offsetof(struct virtio_iommu_req_attach_table, tail);
		memcpy(b, &t, full);
		break;
	}
	case VIRTIO_IOMMU_T_INVALIDATE: {
		struct virtio_iommu_req_invalidate v = {};
		static const __u8 psz[] = { 0, 12, 12, 21, 30, 63, 64, 200 };

		v.scope = fz_pct(r, 85) ? fz_range(r, 1, 3) : fz_below(r, 256);
		v.caches = fz_pct(r, 85) ? fz_range(r, 1, 3) : fz_below(r, 256);
		v.flags = htole16(fz_pct(r, 85) ? fz_below(r, 16) :
				  fz_below(r, 65536));
		v.domain = htole32(fz_pct(r, 70) ? fz_range(r, 1, 4) :
				   fz_edge32(r));
		v.pasid = htole32(fz_pct(r, 50) ? 5 : fz_edge32(r));
		v.id = htole64(fz_pct(r, 60) ? fz_below(r, 5) : fz_edge64(r));
		v.address = htole64(fz_edge64(r));
		v.nr_pages = htole64(fz_pct(r, 60) ? fz_range(r, 1, 4) :
				     fz_edge64(r));
		v.page_size = psz[fz_below(r, ARRAY_SIZE(psz))];
		if (fz_pct(r, 10))
			v.reserved[fz_below(r, sizeof(v.reserved))] = 1;
		full = offsetof(struct virtio_iommu_req_invalidate, tail);
		memcpy(b, &v, full);
		break;
	}
	case VIRTIO_IOMMU_T_PAGE_RESP: {
		struct virtio_iommu_req_page_resp p = {};

		p.domain = htole32(fz_edge32(r));
		p.endpoint = htole32(fz_pct(r, 50) ? ENDPOINT : fz_edge32(r));
		p.flags = htole32(fz_below(r, 4));
		p.pasid = htole32(fz_edge32(r));
		p.grpid = htole32(fz_edge32(r));
		p.resp_code = htole16(fz_below(r, 5));
		if (fz_pct(r, 10))
			p.reserved[fz_below(r, sizeof(p.reserved))] = 1;
		full = offsetof(struct virtio_iommu_req_page_resp, tail);
		memcpy(b, &p, full);
		break;
	}
	default:
		fz_fill_random(r, b, full);
		break;
	}
	b[0] = type;
	if (fz_pct(r, 10))
		b[fz_range(r, 1, 3)] = fz_below(r, 256);

	pick = fz_below(r, 100);
	if (pick < 70)
		len = full;
	else if (pick < 80)
		len = full + fz_range(r, 1, 64);
	else if (pick < 90)
		len = fz_below(r, full);
	else
		len = fz_below(r, 201);
	if (len > FZ_BODY_MAX)
		len = FZ_BODY_MAX;
	if (len > full)
		fz_fill_random(r, b + full, len - full);

	w = sizeof(struct virtio_iommu_req_tail);
	if (type == VIRTIO_IOMMU_T_PROBE)
		w += fz->cfg.probe_size;
	pick = fz_below(r, 1000);
	if (pick < 760)
		*out_len = w;
	else if (pick < 830)
		*out_len = fz_below(r, 4);
	else if (pick < 900 && w > 4)
		*out_len = w - fz_range(r, 1, w - 4);
	else if (pick < 990)
		*out_len = w + fz_range(r, 1, 300);
	else if (pick < 996)
		/* Either side of the writable-extra limit. */
		*out_len = w + VHOST_IOMMU_MAX_WRITABLE_EXTRA - 1 +
			   fz_below(r, 3);
	else
		*out_len = FZ_BIG_OUT;
	return len;
}

/* ------------------------------------------------------------------ */
/* Building chains */

struct fz_dspec {
	__u64 addr;
	__u32 len;
	__u16 flags;
};

#define FZ_MAX_DSPEC	80

static int fz_pick_place(struct fz *fz)
{
	static const int bad[] = {
		PL_STRADDLE, PL_RO, PL_NONE, PL_RO_NONE, PL_HOLE, PL_BELOW,
		PL_PAST_END, PL_WRAP, PL_JUNK,
	};

	if (fz->mutating && fz_pct(&fz->rng, 30))
		return bad[fz_below(&fz->rng, ARRAY_SIZE(bad))];
	/* Readable buffers elsewhere than the arena break nothing. */
	if (fz->mut_pct && fz_pct(&fz->rng, 3))
		return PL_JUNK;
	return fz_pct(&fz->rng, 8) ? PL_STRADDLE : PL_ARENA;
}

/* Splits @len bytes into @n descriptors' worth; returns false if no room. */
static bool fz_split(struct fz *fz, struct fz_dspec *d, unsigned int *nd,
		     const __u8 *data, __u32 len, bool write, unsigned int n)
{
	__u32 pos = 0, take;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (*nd == FZ_MAX_DSPEC)
			return false;
		take = i == n - 1 ? len - pos : fz_below(&fz->rng, len - pos + 1);
		if (!fz_place(fz, fz_pick_place(fz), data ? data + pos : NULL,
			      take, write, &d[*nd].addr))
			return false;
		d[*nd].len = take;
		d[*nd].flags = write ? VRING_DESC_F_WRITE : 0;
		(*nd)++;
		pos += take;
	}
	return true;
}

/*
 * A writable part of up to 63 descriptors that all alias the 64 MiB
 * region at BIG_GPA: up to 4 GiB the device must not zero-fill (uAPI: far
 * beyond the type's need, so used length 0 and nothing written).
 */
static bool fz_huge_out(struct fz *fz, struct fz_dspec *d, unsigned int *nd)
{
	struct fz_rng *r = &fz->rng;
	unsigned int n, i;

	if (*nd + 2 > FZ_CHAIN_MAX)
		return false;
	n = fz_range(r, 2, FZ_CHAIN_MAX - *nd);
	for (i = 0; i < n; i++) {
		d[*nd].addr = BIG_GPA;
		d[*nd].len = fz_pct(r, 80) ? BIG_SIZE :
			     fz_range(r, 1u << 20, BIG_SIZE);
		d[*nd].flags = VRING_DESC_F_WRITE;
		(*nd)++;
	}
	fz->n_huge++;
	return true;
}

static unsigned int fz_nsplit(struct fz *fz, __u32 len)
{
	unsigned int max = fz->mut_pct ? 6 : 3;

	if (!len)
		return fz_pct(&fz->rng, 15) ? 1 : 0;
	if (len < max)
		max = len;
	return fz_pct(&fz->rng, 60) ? 1 : fz_range(&fz->rng, 1, max);
}

static bool fz_pool_take(struct fz *fz, unsigned int n, __u16 *idx, int owner)
{
	unsigned int i;

	if (fz->pool_n < n)
		return false;
	for (i = 0; i < n; i++) {
		idx[i] = fz->pool[--fz->pool_n];
		fz->owner[idx[i]] = owner;
	}
	return true;
}

static void fz_desc_put(struct vring_desc *d, const struct fz_dspec *s,
			__u16 extra, __u16 next)
{
	vg_desc_set(d, s->addr, s->len, s->flags | extra, next);
}

/* A mutation of one descriptor of a chain. */
static void fz_mutate_desc(struct fz *fz, struct vring_desc *d, __u16 limit,
			   __u16 self_first)
{
	struct fz_rng *r = &fz->rng;
	__u64 at;

	switch (fz_below(r, 10)) {
	case 0:
		d->flags |= htole16(VRING_DESC_F_NEXT);
		d->next = htole16(limit + fz_below(r, 65536 - limit));
		break;
	case 1:
		d->flags |= htole16(VRING_DESC_F_NEXT);
		d->next = htole16(self_first);
		break;
	case 2:
		d->flags |= htole16(VRING_DESC_F_NEXT);
		d->next = htole16(fz_below(r, limit));
		break;
	case 3:
		d->flags &= htole16(~VRING_DESC_F_NEXT);
		break;
	case 4:
		d->flags ^= htole16(VRING_DESC_F_WRITE);
		break;
	case 5:
		d->flags = htole16(fz_below(r, 8));
		break;
	case 6:
		d->len = 0;
		break;
	case 7: {
		static const __u32 huge[] = {
			0xffffffff, 0x80000000, GUEST_SIZE, GUEST_SIZE + 1,
		};

		d->len = htole32(huge[fz_below(r, ARRAY_SIZE(huge))]);
		break;
	}
	case 8:
		d->len = htole32(le32toh(d->len) + fz_range(r, 1, 16));
		break;
	default:
		if (fz_place(fz, fz_pick_place(fz), NULL, le32toh(d->len),
			     false, &at))
			d->addr = htole64(at);
		break;
	}
}

static void fz_chain_clear(struct fz_chain *c)
{
	memset(c, 0, offsetof(struct fz_chain, pieces));
	c->nr_flips = 0;
	c->len_site = NULL;
	c->resp_group = -1;
}

/*
 * Builds one chain for request bytes @body and @out_len writable bytes,
 * mutated as the test's knobs say. Returns false when the batch is full.
 */
static bool fz_build(struct fz *fz, unsigned int k, const __u8 *body,
		     __u32 in_len, __u32 out_len)
{
	struct fz_chain *c = &fz->chains[k];
	struct fz_rng *r = &fz->rng;
	struct fz_dspec d[FZ_MAX_DSPEC];
	__u16 idx[FZ_MAX_DSPEC + 1];
	unsigned int nd = 0, i, muts = 0;
	bool indirect;

	fz_chain_clear(c);
	if (!fz_split(fz, d, &nd, body, in_len, false, fz_nsplit(fz, in_len)))
		return false;
	if (fz->huge_pm && !fz->mutating && fz_below(r, 1000) < fz->huge_pm) {
		if (!fz_huge_out(fz, d, &nd))
			return false;
	} else if (!fz_split(fz, d, &nd, NULL, out_len, true,
			     fz_nsplit(fz, out_len))) {
		return false;
	}
	if (!nd) {
		d[0] = (struct fz_dspec) { .addr = fz->arena_p };
		nd = 1;
	}
	if (fz->mutating)
		muts = fz_pct(r, 75) ? 1 : 2;

	indirect = fz_pct(r, fz->indirect_pct) &&
		   ((fz->features & FBIT(VIRTIO_RING_F_INDIRECT_DESC)) ||
		    (fz->mutating && fz_pct(r, 20)));
	if (indirect) {
		unsigned int cap = nd + (muts && fz_pct(r, 30) ?
					 fz_range(r, 1, 8) : 0);
		__u32 tlen = 16 * nd;
		struct vring_desc *t;
		__u64 tbl;

		tbl = fz_arena(fz, 16 * cap, fz_pct(r, 90) ? 16 : 1);
		if (!tbl || !fz_pool_take(fz, 1, idx, k))
			return false;
		t = calloc(cap, sizeof(*t));
		if (!t)
			return false;
		for (i = 0; i < nd; i++)
			fz_desc_put(&t[i], &d[i], i + 1 < nd ?
				    VRING_DESC_F_NEXT : 0, i + 1);
		for (i = nd; i < cap; i++)
			vg_desc_set(&t[i], fz->junk_r + 64 * i, fz_below(r, 64),
				    fz_below(r, 8), fz_below(r, cap + 2));
		for (i = 0; i < muts; i++) {
			switch (fz_below(r, 6)) {
			case 0:
				tlen = fz_pct(r, 30) ? 0 : tlen + fz_range(r, 1, 15);
				break;
			case 1:
				tlen = 16 * cap;
				break;
			case 2:
				t[fz_below(r, nd)].flags |=
					htole16(VRING_DESC_F_INDIRECT);
				break;
			default:
				fz_mutate_desc(fz, &t[fz_below(r, nd)], cap, 0);
				break;
			}
		}
		fz_gcopy(fz, tbl, t, 16 * cap, true);
		free(t);
		vg_desc_set(&fz->rq.desc[idx[0]], tbl, tlen,
			    VRING_DESC_F_INDIRECT, 0);
		c->head = idx[0];
		if (muts && fz_pct(r, 25)) {
			/* Chained: NEXT on it, or a descriptor before it. */
			if (fz_pct(r, 50)) {
				fz->rq.desc[idx[0]].flags |=
					htole16(VRING_DESC_F_NEXT);
				fz->rq.desc[idx[0]].next =
					htole16(fz_below(r, fz->rq.num));
			} else if (fz_pool_take(fz, 1, idx + 1, k)) {
				vg_desc_set(&fz->rq.desc[idx[1]], d[0].addr,
					    fz_pct(r, 50) ? 0 : 4,
					    VRING_DESC_F_NEXT, idx[0]);
				c->head = idx[1];
			}
		}
		return true;
	}

	if (!fz_pool_take(fz, nd, idx, k))
		return false;
	for (i = 0; i < nd; i++)
		fz_desc_put(&fz->rq.desc[idx[i]], &d[i],
			    i + 1 < nd ? VRING_DESC_F_NEXT : 0,
			    i + 1 < nd ? idx[i + 1] : 0);
	for (i = 0; i < muts; i++)
		fz_mutate_desc(fz, &fz->rq.desc[idx[fz_below(r, nd)]],
			       fz->rq.num, idx[0]);
	c->head = idx[0];
	return true;
}

/* A chain of about 64 descriptors: too long, just right, or many pieces. */
static bool fz_build_long(struct fz *fz, unsigned int k, const __u8 *body,
			  __u32 in_len)
{
	struct fz_chain *c = &fz->chains[k];
	struct fz_rng *r = &fz->rng;
	unsigned int n = fz_range(r, 56, 68), i, nrd;
	bool straddle = fz_pct(r, 30);
	struct vring_desc *t = NULL;
	__u16 idx[80];
	__u64 tbl = 0, at;
	__u32 pos = 0, take;
	bool indirect;

	fz_chain_clear(c);
	indirect = (fz->features & FBIT(VIRTIO_RING_F_INDIRECT_DESC)) &&
		   (fz->rq.num < n || fz_pct(r, 50));
	if (indirect) {
		tbl = fz_arena(fz, 16 * n, 16);
		t = calloc(n, sizeof(*t));
		if (!tbl || !t || !fz_pool_take(fz, 1, idx, k)) {
			free(t);
			return false;
		}
	} else if (fz->rq.num < n || !fz_pool_take(fz, n, idx, k)) {
		return false;
	}
	nrd = n - fz_range(r, 1, 3);
	for (i = 0; i < n; i++) {
		bool write = i >= nrd;
		__u32 len = write ? 4 : (straddle ? 2 : 1) + fz_below(r, 2);
		struct vring_desc *d = indirect ? &t[i] : &fz->rq.desc[idx[i]];

		take = 0;
		if (!write) {
			take = pos < in_len ? in_len - pos : 0;
			if (i + 1 < nrd && take > len)
				take = len;
			len = take ? take : 1;
		}
		/* Readable ones may all cross the same boundary. */
		if (straddle && !write && len >= 2) {
			at = fz->regions[0].gpa + fz->regions[0].size - 1 -
			     fz_below(r, len - 1);
			fz_gcopy(fz, at, take ? (void *)(body + pos) : &(__u8){ 0 },
				 take ? take : 1, true);
		} else if (!fz_place(fz, straddle ? PL_STRADDLE : PL_ARENA,
				     write || !take ? NULL : body + pos, len,
				     write, &at)) {
			free(t);
			return false;
		}
		pos += take;
		vg_desc_set(d, at, len, (write ? VRING_DESC_F_WRITE : 0) |
			    (i + 1 < n ? VRING_DESC_F_NEXT : 0),
			    indirect ? i + 1 : (i + 1 < n ? idx[i + 1] : 0));
	}
	if (indirect) {
		fz_gcopy(fz, tbl, t, 16 * n, true);
		free(t);
		vg_desc_set(&fz->rq.desc[idx[0]], tbl, 16 * n,
			    VRING_DESC_F_INDIRECT, 0);
	}
	c->head = idx[0];
	return true;
}

/* Descriptors no chain of this batch took: zeroes, junk or worse. */
static void fz_garbage(struct fz *fz)
{
	struct fz_rng *r = &fz->rng;
	unsigned int style = fz_below(r, 100), i;

	for (i = 0; i < fz->pool_n; i++) {
		struct vring_desc *d = &fz->rq.desc[fz->pool[i]];
		__u16 flags = fz_below(r, 8);

		if (style < 100 - fz->garbage_pct) {
			memset(d, 0, sizeof(*d));
			continue;
		}
		if (fz->chaos_pct && fz_pct(r, fz->chaos_pct)) {
			/* Point the device's writes at the rings themselves. */
			vg_desc_set(d, fz->rq.used_gpa + 4 * fz_below(r, 64),
				    fz_range(r, 4, 64), VRING_DESC_F_WRITE,
				    fz_below(r, fz->rq.num));
			continue;
		}
		vg_desc_set(d, (flags & VRING_DESC_F_WRITE ? fz->junk_w :
				fz->junk_r) + fz_below(r, JUNK_SIZE - 512),
			    fz_below(r, 256), flags, fz_below(r, fz->rq.num + 2));
		if (flags & VRING_DESC_F_INDIRECT)
			d->len = htole32(16 * fz_range(r, 1, 8));
	}
}

/* ------------------------------------------------------------------ */
/* A batch: build, model, publish, serve, check */

enum {
	IV_R,		/* a readable piece */
	IV_W,		/* a piece the device writes */
	IV_S,		/* ring structure the device reads */
	IV_DW,		/* ring structure the device writes */
};

struct fz_iv {
	__u64 start;
	__u64 end;
	int chain;
	int what;
};

#define FZ_MAX_IVS	(FZ_MAX_BATCH * (FZ_MAX_PIECES + 1) + 16)

static int fz_iv_cmp(const void *a, const void *b)
{
	const struct fz_iv *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static void fz_iv_add(struct fz *fz, unsigned int *n, __u64 start, __u64 len,
		      int chain, int what)
{
	__u64 end = start + len;

	if (!len || *n == FZ_MAX_IVS)
		return;
	if (end < start)
		end = ~0ULL;
	fz->ivs[(*n)++] = (struct fz_iv) {
		.start = start, .end = end, .chain = chain, .what = what,
	};
}

static void fz_make_unsure(struct fz_chain *c)
{
	c->unsure = true;
	c->can_empty = true;
	c->can_vmm = true;
	c->dev_st = ST_ANY;
	if (c->wfault)
		c->may_break = true;
}

static void fz_iv_pair(struct fz *fz, const struct fz_iv *a,
		       const struct fz_iv *b)
{
	const struct fz_iv *t;

	if (a->what > b->what) {
		t = a;
		a = b;
		b = t;
	}
	if (a->what == IV_R && (b->what == IV_DW ||
				(b->what == IV_W && a->chain != b->chain))) {
		fz_make_unsure(&fz->chains[a->chain]);
	} else if (a->what == IV_W && b->what == IV_W) {
		fz->chains[a->chain].shared = true;
		fz->chains[b->chain].shared = true;
	} else if (a->what == IV_W) {
		fz->b.chaos = true;
	}
}

/* Chains whose memory another chain writes, and writes into the rings. */
static void fz_overlaps(struct fz *fz)
{
	__u64 avail = 6 + 2 * FZ_MAX_NUM, used = 6 + 8 * FZ_MAX_NUM;
	unsigned int n = 0, i, j, k;

	fz_iv_add(fz, &n, fz->rq.desc_gpa, 16 * FZ_MAX_NUM, -1, IV_S);
	fz_iv_add(fz, &n, fz->rq.avail_gpa, avail, -1, IV_S);
	fz_iv_add(fz, &n, fz->rq.used_gpa, used, -1, IV_DW);
	fz_iv_add(fz, &n, fz->eq.desc_gpa, 16 * FZ_MAX_NUM, -1, IV_S);
	fz_iv_add(fz, &n, fz->eq.avail_gpa, avail, -1, IV_S);
	fz_iv_add(fz, &n, fz->eq.used_gpa, used, -1, IV_DW);
	fz_iv_add(fz, &n, fz->junk_r, JUNK_SIZE, -1, IV_S);
	for (k = 0; k < fz->b.n; k++) {
		const struct fz_chain *c = &fz->chains[k];

		if (c->verdict == FZ_V_RING)
			continue;
		fz_iv_add(fz, &n, c->tbl_gpa, c->tbl_len, k, IV_S);
		if (c->verdict == FZ_V_BAD && !c->wfault)
			continue;
		for (i = 0; i < c->nr_pieces && i < FZ_MAX_PIECES; i++) {
			const struct fz_piece *p = &c->pieces[i];

			if (p->write && p->kind == FZ_K_RW)
				fz_iv_add(fz, &n, p->gpa, p->len, k, IV_W);
			else if (!p->write && c->verdict == FZ_V_OK)
				fz_iv_add(fz, &n, p->gpa, p->len, k, IV_R);
		}
	}
	qsort(fz->ivs, n, sizeof(fz->ivs[0]), fz_iv_cmp);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n && fz->ivs[j].start < fz->ivs[i].end; j++)
			fz_iv_pair(fz, &fz->ivs[i], &fz->ivs[j]);
}

static void fz_batch_begin(struct fz *fz)
{
	unsigned int i, j, num = fz->rq.num;
	__u16 t;

	fz_arena_reset(fz);
	for (i = 0; i < num; i++) {
		fz->pool[i] = i;
		fz->owner[i] = -1;
	}
	for (i = num - 1; i > 0; i--) {
		j = fz_below(&fz->rng, i + 1);
		t = fz->pool[i];
		fz->pool[i] = fz->pool[j];
		fz->pool[j] = t;
	}
	fz->pool_n = num;
	memset(&fz->b, 0, sizeof(fz->b));
	fz->b.a0 = fz->rq.avail_idx;
	fz->b.u0 = fz->rq.last_used;
	fz->n_batches++;
	fz_log(fz, "batch", fz->n_batches);
	__atomic_store_n(&fz->watch.batch, fz->n_batches, __ATOMIC_RELAXED);
	/* The counters the last batch ended with, unless something came between. */
	if (fz->st_valid)
		fz->b.st0 = fz->st_last;
	else if (vhi_get_stats(fz->fd, &fz->b.st0))
		fz_viol(fz, "GET_STATS failed: %s", strerror(errno));
	fz->st_valid = false;
}

/*
 * What the device may write starts as VG_POISON, so that "nothing
 * written" can be checked whatever the mutations made of the chain.
 */
static void fz_poison_out(struct fz *fz, const struct fz_chain *c)
{
	unsigned int i;

	/* A corrupt chain is never written: its pieces may be anything. */
	if (c->verdict != FZ_V_OK)
		return;
	for (i = 0; i < c->nr_pieces && i < FZ_MAX_PIECES; i++) {
		const struct fz_piece *p = &c->pieces[i];

		if (p->write && p->kind == FZ_K_RW &&
		    ((p->gpa >= fz->arena0 && p->gpa < fz->arena_end) ||
		     (p->gpa >= fz->junk_w && p->gpa < fz->junk_w + JUNK_SIZE)))
			fz_gfill(fz, p->gpa, VG_POISON, p->len);
	}
}

/* Models every chain and makes them available. */
static void fz_batch_publish(struct fz *fz)
{
	struct fz_rng *r = &fz->rng;
	unsigned int k;

	fz_garbage(fz);
	for (k = 0; k < fz->b.n; k++) {
		fz_model_reset(&fz->chains[k]);
		fz_model_walk(fz, &fz->chains[k]);
	}
	for (k = 0; k < fz->b.n; k++)
		fz_poison_out(fz, &fz->chains[k]);
	for (k = 0; k < fz->b.n; k++) {
		fz_model_request(fz, &fz->chains[k]);
		if (fz->chains[k].may_break)
			fz->n_ambig++;
	}
	fz_overlaps(fz);
	if (fz->b.chaos)
		fz->n_chaos++;
	for (k = 0; k < fz->b.n; k++)
		fz->rq.avail->ring[(__u16)(fz->b.a0 + k) % fz->rq.num] =
			htole16(fz->chains[k].head);
	/* Mostly a driver that wants interrupts; now and then one that not. */
	fz->b.quiet_guest = fz_pct(r, 8);
	vg_avail_set_flags(&fz->rq, fz->b.quiet_guest && fz_pct(r, 50) ?
			   VRING_AVAIL_F_NO_INTERRUPT : 0);
	/* One interrupt when the batch is done; parks wake the VMM anyway. */
	vg_set_used_event(&fz->rq, fz->b.quiet_guest ? fz_below(r, 65536) :
			  (__u16)(fz->b.u0 + fz->b.n - 1));
	vg_avail_store_idx(&fz->rq, fz->b.pub_garbage ? fz->b.pub_idx :
			   (__u16)(fz->b.a0 + fz->b.n));
	fz->rq.avail_idx = fz->b.a0 + fz->b.n;
	if (!fz->b.no_kick && vg_kick(&fz->rq))
		fz_viol(fz, "kick: %s", strerror(errno));
}

static const char *fz_st_name(unsigned int st)
{
	return vhi_status_name(st);
}

static bool fz_in_outs(const struct fz_chain *c, __u32 len)
{
	unsigned int i;

	for (i = 0; i < c->nr_outs; i++)
		if (c->outs[i] == len)
			return true;
	return false;
}

static __u32 fz_max_out(const struct fz_chain *c)
{
	return c->nr_outs > 1 && c->outs[1] > c->outs[0] ? c->outs[1] :
	       c->outs[0];
}

/* Gathers the writable part; false if the guest cannot read all of it. */
static bool fz_read_out(struct fz *fz, const struct fz_chain *c, __u8 *buf,
			__u32 max)
{
	__u32 got = 0, take;
	unsigned int i;

	if (c->nr_pieces > FZ_MAX_PIECES)
		return false;
	for (i = 0; i < c->nr_pieces && got < max; i++) {
		const struct fz_piece *p = &c->pieces[i];

		if (!p->write)
			continue;
		if (p->kind != FZ_K_RW)
			return false;
		take = max - got < p->len ? max - got : p->len;
		fz_gcopy(fz, p->gpa, buf + got, take, false);
		got += take;
	}
	return got == max;
}

static void fz_check_content(struct fz *fz, struct fz_chain *c,
			     unsigned int k, __u32 len)
{
	__u32 max = fz_max_out(c), i;
	__u8 *buf = fz->check_buf, *tail, want;

	if (c->shared || c->unsure || max > FZ_MAX_OUT ||
	    !fz_read_out(fz, c, buf, max))
		return;
	for (i = len; i < max; i++) {
		if (buf[i] != VG_POISON) {
			fz_viol(fz,
				"chain %u (type %u, head %u): used length %u but byte %u of %u writable bytes was written (%#x)",
				k, c->type, c->head, len, i, max, buf[i]);
			return;
		}
	}
	if (!len)
		return;
	tail = buf + len - 4;
	c->seen = true;
	c->seen_status = tail[0];
	if (tail[1] || tail[2] || tail[3])
		fz_viol(fz, "chain %u: tail reserved bytes %02x %02x %02x",
			k, tail[1], tail[2], tail[3]);
	if (c->served && tail[0] != c->vmm_status)
		fz_viol(fz, "chain %u (type %u): status %s, the VMM answered %s",
			k, c->type, fz_st_name(tail[0]),
			fz_st_name(c->vmm_status));
	if (!c->served && !(c->dev_st & ST(tail[0] < 16 ? tail[0] : 15)))
		fz_viol(fz, "chain %u (type %u, in %u, out %u): status %s, expected mask %#x",
			k, c->type, c->in_len, len, fz_st_name(tail[0]),
			c->dev_st);
	for (i = 0; i + 4 < len; i++) {
		want = i < c->plen ? c->payload[i] : 0;
		if (buf[i] != want) {
			fz_viol(fz,
				"chain %u (type %u): writable byte %u of %u is %#x, expected %#x",
				k, c->type, i, len, buf[i], want);
			return;
		}
	}
}

static void fz_check_used(struct fz *fz, unsigned int k, __u32 id, __u32 len)
{
	struct fz_chain *c;

	if (k >= fz->b.n) {
		if (!fz->b.chaos)
			fz_viol(fz,
				"used entry %u (id %u, len %u) but only %u chains were made available",
				k, id, len, fz->b.n);
		return;
	}
	c = &fz->chains[k];
	c->got = true;
	c->used_len = len;
	if (fz->b.chaos)
		return;
	if (c->verdict == FZ_V_RING) {
		fz_viol(fz,
			"chain %u (head %u) completed (len %u) though the ring was corrupt there",
			k, c->head, len);
		return;
	}
	if (id != c->head)
		fz_viol(fz, "used entry %u has id %u, expected head %u (ring order)",
			k, id, c->head);
	if (c->verdict == FZ_V_BAD) {
		if (len)
			fz_viol(fz,
				"corrupt chain %u (head %u, %u descriptors) completed with used length %u, expected 0",
				k, c->head, c->ndesc, len);
		return;
	}
	if (!len && c->may_break)
		return;		/* decided when the batch ends */
	if (len && !fz_in_outs(c, len)) {
		fz_viol(fz, "chain %u (type %u, in %u): used length %u, writable size %u",
			k, c->type, c->in_len, len, c->out_len);
		return;
	}
	if (c->unsure)
		return;
	if (!len && !c->can_empty)
		fz_viol(fz,
			"chain %u (type %u, in %u, out %u): used length 0 for a request the device must answer",
			k, c->type, c->in_len, c->out_len);
	if (len && !c->can_vmm && !c->dev_st)
		fz_viol(fz,
			"chain %u (type %u, in %u, out %u): used length %u for a request that takes 0",
			k, c->type, c->in_len, c->out_len, len);
	if (len && !c->served && !c->dev_st)
		fz_viol(fz, "chain %u (type %u): completed without the VMM",
			k, c->type);
	if (len && c->served && !c->can_vmm)
		fz_viol(fz, "chain %u (type %u): served by the VMM", k, c->type);
	fz_check_content(fz, c, k, len);
	if (!len)
		fz->n_empty++;
	else if (!c->served)
		fz->n_dev++;
}

static void fz_drain(struct fz *fz)
{
	while (vg_used_idx(&fz->rq) != fz->rq.last_used) {
		const struct vring_used_elem *e =
			&fz->rq.used->ring[fz->rq.last_used % fz->rq.num];
		unsigned int k = (__u16)(fz->rq.last_used - fz->b.u0);

		fz->rq.last_used++;
		fz->b.nused++;
		fz_check_used(fz, k, le32toh(e->id), le32toh(e->len));
		fz_tick(&fz->watch);
	}
}

static int fz_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static int fz_set_running(int fd, int running)
{
	return fz_ioctl(fd, VHOST_IOMMU_SET_RUNNING, &running);
}

/* SET_RUNNING, and what the device's state is now. */
static int fz_run(struct fz *fz, int running)
{
	int ret = fz_set_running(fz->fd, running);

	fz_log(fz, running ? "SET_RUNNING 1" : "SET_RUNNING 0", ret);
	if (!ret)
		fz->run = running ? FZ_RUN_STARTED : FZ_RUN_STOPPED;
	return ret;
}

/* What a careless VMM does with a parked request before answering it. */
static void fz_careless(struct fz *fz, const struct vhost_iommu_request *req)
{
	struct vhost_iommu_completion cmp = {
		.size = sizeof(cmp), .cookie = req->out_cookie,
	};
	struct vhost_iommu_request again;
	__u8 buf[VHI_REQ_BUF_SIZE], payload[32] = {};
	struct fz_rng *r = &fz->rng;
	__u32 len;
	int ret;

	switch (fz_below(r, 7)) {
	case 0:
		if (!req->out_readable_len)
			break;
		ret = vhi_get_request(fz->fd, &again, buf,
				      req->out_readable_len - 1);
		if (ret != -EMSGSIZE || again.out_cookie != req->out_cookie ||
		    again.out_readable_len != req->out_readable_len)
			fz_viol(fz, "GET_REQUEST with a short buffer: %d, cookie %llu/%llu",
				ret, (unsigned long long)again.out_cookie,
				(unsigned long long)req->out_cookie);
		break;
	case 1:
		ret = vhi_get_request(fz->fd, &again, buf, sizeof(buf));
		if (ret || again.out_cookie != req->out_cookie ||
		    again.out_type != req->out_type)
			fz_viol(fz, "GET_REQUEST twice: %d, cookie %llu/%llu", ret,
				(unsigned long long)again.out_cookie,
				(unsigned long long)req->out_cookie);
		break;
	case 2:
		ret = vhi_complete_request(fz->fd, req->out_cookie ^
					   (1 + fz_below(r, 1000)), 0, NULL, 0);
		if (ret != -ENOENT)
			fz_viol(fz, "COMPLETE_REQUEST, wrong cookie: %d", ret);
		break;
	case 3:
		ret = vhi_complete_request(fz->fd, req->out_cookie,
					   fz_range(r, VIRTIO_IOMMU_S_NOMEM + 1,
						    0xffff), NULL, 0);
		if (ret != -EINVAL)
			fz_viol(fz, "COMPLETE_REQUEST, bad status: %d", ret);
		break;
	case 4:
		len = req->out_type == VIRTIO_IOMMU_T_PROBE ?
		      req->out_writable_len - 3 + fz_below(r, 8) :
		      fz_range(r, 1, sizeof(payload));
		if (len > sizeof(payload) && req->out_type == VIRTIO_IOMMU_T_PROBE) {
			__u8 *big = calloc(1, len);

			ret = big ? vhi_complete_request(fz->fd, req->out_cookie,
							 0, big, len) : -EINVAL;
			free(big);
		} else {
			ret = vhi_complete_request(fz->fd, req->out_cookie, 0,
						   payload, len);
		}
		if (ret != -EINVAL)
			fz_viol(fz, "COMPLETE_REQUEST, payload of %u on type %u (writable %u): %d",
				len, req->out_type, req->out_writable_len, ret);
		break;
	case 5:
		cmp.flags = 1u << fz_below(r, 32);
		ret = fz_ioctl(fz->fd, VHOST_IOMMU_COMPLETE_REQUEST, &cmp);
		if (ret != -EOPNOTSUPP)
			fz_viol(fz, "COMPLETE_REQUEST with flags %#x: %d",
				cmp.flags, ret);
		break;
	default:
		memset(&again, 0, sizeof(again));
		again.size = sizeof(again);
		again.flags = 1u << fz_below(r, 32);
		again.buf_len = sizeof(buf);
		again.buf_uptr = (uintptr_t)buf;
		ret = fz_ioctl(fz->fd, VHOST_IOMMU_GET_REQUEST, &again);
		if (ret != -EOPNOTSUPP)
			fz_viol(fz, "GET_REQUEST with flags %#x: %d", again.flags,
				ret);
		break;
	}
}

/* What the VMM got must be what the guest wrote and what goes to it. */
static void fz_check_parked(struct fz *fz, struct fz_chain *c, unsigned int k,
			    const struct vhost_iommu_request *req,
			    const __u8 *buf)
{
	struct fz_pred p;
	unsigned int i, f;
	int group;

	if (c->parks++ && !fz->rewinds)
		fz_viol(fz, "chain %u handed to the VMM twice", k);
	if (!c->can_vmm) {
		fz_viol(fz,
			"chain %u (head %u, type %u, in %u, out %u) handed to the VMM; the device must answer it (mask %#x, empty %d, verdict %u)",
			k, c->head, c->type, c->in_len, c->out_len, c->dev_st,
			c->can_empty, c->verdict);
		return;
	}
	if (req->out_readable_len < 1 || req->out_type != buf[0] ||
	    req->out_readable_len != fz_type_readable(fz, req->out_type))
		fz_viol(fz, "chain %u: GET_REQUEST type %u, readable %u (first byte %u)",
			k, req->out_type, req->out_readable_len, buf[0]);
	if (!fz_in_outs(c, req->out_writable_len))
		fz_viol(fz, "chain %u: GET_REQUEST writable %u, the guest gave %u",
			k, req->out_writable_len, c->out_len);
	if (c->unsure || req->out_readable_len > c->body_len)
		return;
	for (i = 0; i < req->out_readable_len; i++) {
		bool ok = buf[i] == c->body[i];

		for (f = 0; f < c->nr_flips; f++)
			if (c->flips[f].off == i)
				ok = buf[i] == c->flips[f].a ||
				     buf[i] == c->flips[f].b;
		if (!ok) {
			fz_viol(fz,
				"chain %u (type %u): byte %u handed to the VMM is %#x, the guest wrote %#x",
				k, req->out_type, i, buf[i], c->body[i]);
			return;
		}
	}
	/* Decided from the copy it hands over: that copy goes to the VMM. */
	fz_predict(fz, buf, c->in_len, req->out_writable_len, &p, &group);
	if (p.kind != FZ_P_VMM)
		fz_viol(fz,
			"chain %u: the copy handed to the VMM (type %u) is one the device must answer itself (status mask %#x): read twice?",
			k, buf[0], p.st);
}

/* The parked request, checked against the chain it must be; NULL: none. */
static struct fz_chain *fz_get_parked(struct fz *fz,
				      struct vhost_iommu_request *req,
				      __u8 *buf, int *ret)
{
	struct fz_chain *c = NULL;
	unsigned int k;

	*ret = vhi_get_request(fz->fd, req, buf, VHI_REQ_BUF_SIZE);
	if (*ret == -EAGAIN)
		return NULL;
	if (*ret) {
		fz_viol(fz, "GET_REQUEST: %s", strerror(-*ret));
		return NULL;
	}
	k = (__u16)(vg_used_idx(&fz->rq) - fz->b.u0);
	if (fz->b.chaos)
		return NULL;
	if (k >= fz->b.n) {
		fz_viol(fz, "a request is parked after all %u chains completed",
			fz->b.n);
		return NULL;
	}
	c = &fz->chains[k];
	fz_check_parked(fz, c, k, req, buf);
	return c;
}

/* Answers the parked request as a VMM does, carelessly at times. */
static void fz_complete_parked(struct fz *fz, struct fz_chain *c,
			       const struct vhost_iommu_request *req)
{
	__u8 payload[FZ_PROBE_MAX];
	struct fz_rng *r = &fz->rng;
	__u32 props, plen = 0;
	__u8 status;
	int ret;

	if (fz_pct(r, fz->careless_pct))
		fz_careless(fz, req);
	status = fz_pct(r, 50) ? VIRTIO_IOMMU_S_OK :
		 fz_range(r, VIRTIO_IOMMU_S_IOERR, VIRTIO_IOMMU_S_NOMEM);
	if (req->out_type == VIRTIO_IOMMU_T_PROBE && req->out_writable_len > 4) {
		props = req->out_writable_len - 4;
		if (props > fz->cfg.probe_size)
			props = fz->cfg.probe_size;
		if (status == VIRTIO_IOMMU_S_OK && fz_pct(r, 70)) {
			plen = fz_below(r, props + 1);
			fz_fill_random(r, payload, plen);
		}
	}
	ret = vhi_complete_request(fz->fd, req->out_cookie, status,
				   plen ? payload : NULL, plen);
	if (ret)
		fz_viol(fz, "COMPLETE_REQUEST (type %u, status %u, payload %u): %s",
			req->out_type, status, plen, strerror(-ret));
	if (c) {
		c->served = true;
		c->vmm_status = status;
		c->plen = plen;
		memcpy(c->payload, payload, plen);
	}
	fz->b.served++;
	fz->n_slow++;
	if (fz_pct(r, fz->careless_pct / 2 + 1) &&
	    vhi_complete_request(fz->fd, req->out_cookie, 0, NULL, 0) != -ENOENT)
		fz_viol(fz, "COMPLETE_REQUEST of a completed request did not fail with ENOENT");
}

static void fz_serve(struct fz *fz)
{
	__u8 buf[VHI_REQ_BUF_SIZE];
	struct vhost_iommu_request req;
	struct fz_chain *c;
	int ret;

	c = fz_get_parked(fz, &req, buf, &ret);
	if (!ret)
		fz_complete_parked(fz, c, &req);
}

static bool fz_must_break(const struct fz *fz)
{
	unsigned int k;

	if (fz->b.pub_garbage)
		return fz->b.pub_idx != (__u16)(fz->b.a0 + fz->b.n);
	for (k = 0; k < fz->b.n; k++)
		if (fz->chains[k].verdict != FZ_V_OK)
			return true;
	return false;
}

static void fz_sync(struct fz *fz)
{
	unsigned int base = 0;
	int ret;

	ret = vhi_get_vring_base(fz->fd, VHOST_IOMMU_VQ_REQUEST, &base);
	if (ret)
		fz_viol(fz, "GET_VRING_BASE: %s", strerror(-ret));
	fz_drain(fz);
	if (!fz->b.err && !vg_eventfd_wait(fz->rq.err_fd, 0, NULL))
		fz->b.err = true;
	if (!ret && !fz->b.chaos &&
	    (__u16)base != (__u16)(fz->b.a0 + fz->b.nused))
		fz_viol(fz, "GET_VRING_BASE %u, expected %u (%u used from %u)",
			base, (__u16)(fz->b.a0 + fz->b.nused), fz->b.nused,
			fz->b.a0);
}

/* Chaos: the device writes into the rings; wait until it is quiet. */
static void fz_wait_chaos(struct fz *fz)
{
	__s64 start = fz_now_ms(), quiet = start;
	unsigned int base = 0, last = ~0u;
	struct pollfd p = { .fd = fz->fd, .events = POLLIN };

	for (;;) {
		if (poll(&p, 1, 5) > 0 && (p.revents & POLLIN)) {
			fz_serve(fz);
			quiet = fz_now_ms();
		}
		if (vhi_get_vring_base(fz->fd, 0, &base))
			break;
		if (base != last) {
			last = base;
			quiet = fz_now_ms();
			fz_tick(&fz->watch);
		}
		if (fz_now_ms() - quiet > 300)
			break;
		if (fz_now_ms() - start > FZ_HANG_MS) {
			fz_viol(fz, "chaos batch: the device never went quiet");
			fz->b.hung = true;
			break;
		}
	}
	if (!vg_eventfd_wait(fz->rq.err_fd, 0, NULL))
		fz->b.err = true;
	fz->rq.last_used = vg_used_idx(&fz->rq);
}

/* Everything about a stuck batch, printed whatever the count. */
static void fz_dump(struct fz *fz)
{
	struct vhost_iommu_request req;
	struct vhost_iommu_stats s = {};
	__u8 buf[VHI_REQ_BUF_SIZE];
	unsigned int base = 0, k;
	int r1, r2;

	r1 = vhi_get_vring_base(fz->fd, 0, &base);
	r2 = vhi_get_request(fz->fd, &req, buf, sizeof(buf));
	vhi_get_stats(fz->fd, &s);
	fz_note("DUMP",
		"%s seed %llu batch %llu: n %u used %u served %u a0 %u u0 %u avail %u used_idx %u base %u (%d) get_request %d (type %u) run %d features %#llx num %u/%u err %d stats req %llu slow %llu broken %llu",
		fz->name, (unsigned long long)fz->seed,
		(unsigned long long)fz->n_batches, fz->b.n, fz->b.nused,
		fz->b.served, fz->b.a0, fz->b.u0,
		le16toh(fz->rq.avail->idx), vg_used_idx(&fz->rq), base,
		r1, r2, r2 ? 0 : req.out_type, fz->run,
		(unsigned long long)fz->features, fz->rq.num, fz->eq.num,
		fz->b.err, (unsigned long long)s.out_requests,
		(unsigned long long)s.out_slow_path,
		(unsigned long long)s.out_broken);
	for (k = fz->log_n > 16 ? fz->log_n - 16 : 0; k < fz->log_n; k++)
		fz_note("DUMP", "log: %s -> %d", fz->log_what[k % 16],
			fz->log_ret[k % 16]);
	for (k = fz->b.nused > 2 ? fz->b.nused - 2 : 0;
	     k < fz->b.n && k < fz->b.nused + 6; k++) {
		const struct fz_chain *c = &fz->chains[k];

		fz_note("DUMP",
			"chain %u: head %u verdict %u may_break %d unsure %d type %u in %u out %u desc %u pieces %u empty %d vmm %d st %#x got %d len %u served %d",
			k, c->head, c->verdict, c->may_break, c->unsure,
			c->type, c->in_len, c->out_len, c->ndesc,
			c->nr_pieces, c->can_empty, c->can_vmm, c->dev_st,
			c->got, c->used_len, c->served);
	}
}

static void fz_wait(struct fz *fz)
{
	bool must_break = fz_must_break(fz);
	__s64 last = fz_now_ms();
	unsigned int seen = 0, served = 0;
	struct pollfd p[3];
	__u64 v;

	if (fz->b.chaos) {
		fz_wait_chaos(fz);
		return;
	}
	for (;;) {
		fz_drain(fz);
		if (fz->b.err)
			break;
		if (fz->b.nused >= fz->b.n && !must_break)
			break;
		p[0] = (struct pollfd) { .fd = fz->rq.call_fd, .events = POLLIN };
		p[1] = (struct pollfd) { .fd = fz->rq.err_fd, .events = POLLIN };
		p[2] = (struct pollfd) { .fd = fz->fd, .events = POLLIN };
		if (poll(p, 3, 2) > 0) {
			if ((p[1].revents & POLLIN) &&
			    read(fz->rq.err_fd, &v, sizeof(v)) == sizeof(v)) {
				fz->b.err = true;
				fz_log(fz, "err eventfd", (int)v);
			}
			if ((p[0].revents & POLLIN) &&
			    read(fz->rq.call_fd, &v, sizeof(v)) < 0)
				v = 0;
			if (p[2].revents & POLLIN)
				fz_serve(fz);
		}
		if (fz->b.nused != seen || fz->b.served != served) {
			seen = fz->b.nused;
			served = fz->b.served;
			last = fz_now_ms();
		} else if (fz_now_ms() - last > FZ_HANG_MS) {
			fz_viol(fz,
				"hang: %u of %u chains used, %u served, no progress for %d ms (must break %d)",
				fz->b.nused, fz->b.n, fz->b.served, FZ_HANG_MS,
				must_break);
			fz_dump(fz);
			fz->b.hung = true;
			return;
		}
	}
	fz_sync(fz);
}

/* The descriptors of a chain as they are in memory now. */
static void fz_dump_chain(struct fz *fz, unsigned int k)
{
	const struct fz_chain *c = &fz->chains[k];
	struct vring_desc d, t;
	unsigned int n, j;
	__u16 i = c->head;

	fz_note("DUMP",
		"chain %u: head %u verdict %u may_break %d unsure %d in %u out %u descriptors %u pieces %u type %u empty %d vmm %d st %#x got %d len %u",
		k, c->head, c->verdict, c->may_break, c->unsure,
		c->in_len, c->out_len, c->ndesc, c->nr_pieces, c->type,
		c->can_empty, c->can_vmm, c->dev_st, c->got, c->used_len);
	for (n = 0; n < 70 && i < fz->rq.num; n++) {
		d = fz->rq.desc[i];
		fz_note("DUMP", "  desc %u: addr %#llx len %u flags %#x next %u",
			i, (unsigned long long)le64toh(d.addr), le32toh(d.len),
			le16toh(d.flags), le16toh(d.next));
		if (le16toh(d.flags) & VRING_DESC_F_INDIRECT) {
			for (j = 0; j < 16 && j < le32toh(d.len) / 16; j++) {
				if (!fz_gcopy(fz, le64toh(d.addr) + 16 * j, &t,
					      16, false))
					break;
				fz_note("DUMP",
					"    table %u: addr %#llx len %u flags %#x next %u",
					j, (unsigned long long)le64toh(t.addr),
					le32toh(t.len), le16toh(t.flags),
					le16toh(t.next));
			}
		}
		if (!(le16toh(d.flags) & VRING_DESC_F_NEXT))
			break;
		i = le16toh(d.next);
	}
}

static bool fz_can_break_at(const struct fz_chain *c)
{
	return c->got && !c->used_len &&
	       (c->verdict == FZ_V_BAD || c->may_break);
}

/* Where the queue broke, if it did, agrees with the model. */
static unsigned int fz_finish(struct fz *fz)
{
	unsigned int n = fz->b.n, u = fz->b.nused, brk = n, k;
	struct fz_chain *c;

	if (fz->b.chaos || fz->b.hung)
		return n;
	if (fz->b.err) {
		fz->n_breaks++;
		if (fz->b.pub_garbage && !u) {
			brk = 0;
		} else if (u && u <= n && fz_can_break_at(&fz->chains[u - 1]) &&
			   fz->chains[u - 1].verdict == FZ_V_BAD) {
			brk = u - 1;
		} else if (u < n && fz->chains[u].verdict == FZ_V_RING) {
			brk = u;
		} else if (u && u <= n && fz_can_break_at(&fz->chains[u - 1])) {
			brk = u - 1;
		} else {
			c = u && u <= n ? &fz->chains[u - 1] : NULL;
			fz_viol(fz,
				"the queue broke after %u of %u chains without a cause the uAPI lists (last: type %u, verdict %u, len %u, %u descriptors; %s)",
				u, n, c ? c->type : 0, c ? c->verdict : 0,
				c ? c->used_len : 0, c ? c->ndesc : 0,
				fz->b.op ? fz->b.op : "no ioctl");
			if (fz->n_breaks < 4)
				fz_dump(fz);
			if (u && u <= n)
				fz_dump_chain(fz, u - 1);
			if (u < n)
				fz_dump_chain(fz, u);
			brk = u;
		}
	} else if (u != n) {
		fz_viol(fz, "%u used entries for %u chains, queue not broken",
			u, n);
	} else if (fz->b.pub_garbage && fz->b.pub_idx != (__u16)(fz->b.a0 + n)) {
		fz_viol(fz, "available index %u (%u ahead) did not break the queue",
			fz->b.pub_idx, (__u16)(fz->b.pub_idx - fz->b.a0));
	}
	for (k = 0; k < brk && k < n; k++) {
		c = &fz->chains[k];
		if (c->verdict != FZ_V_OK)
			fz_viol(fz,
				"chain %u (head %u, %u descriptors) is corrupt (verdict %u) but the queue went on",
				k, c->head, c->ndesc, c->verdict);
		else if (c->got && !c->used_len && !c->unsure && !c->can_empty)
			fz_viol(fz,
				"chain %u (type %u, in %u, out %u): used length 0 without breaking the queue",
				k, c->type, c->in_len, c->out_len);
	}
	return brk;
}

static void fz_stat_check(struct fz *fz, const char *name, __u64 d, __u64 lo,
			  __u64 hi)
{
	if (d < lo || d > hi)
		fz_viol(fz, "GET_STATS %s went up by %llu, expected %llu..%llu",
			name, (unsigned long long)d, (unsigned long long)lo,
			(unsigned long long)hi);
}

/* GET_STATS must count what the guest saw in this batch. */
static void fz_batch_stats(struct fz *fz, unsigned int brk)
{
	__u64 req = 0, mal = 0, rej_lo = 0, rej_hi = 0, inv = 0, inv_hi = 0;
	__u64 resp = 0, resp_hi = 0, extra = 0;
	const struct vhost_iommu_stats *o = &fz->b.st0;
	struct vhost_iommu_stats s;
	unsigned int k;

	if (vhi_get_stats(fz->fd, &s)) {
		fz_viol(fz, "GET_STATS: %s", strerror(errno));
		return;
	}
	fz->st_last = s;
	fz->st_valid = true;
	if (fz->b.chaos || fz->b.hung) {
		fz_stat_check(fz, "out_requests",
			      s.out_requests - o->out_requests, 0, fz->b.n);
		fz_stat_check(fz, "out_broken",
			      s.out_broken - o->out_broken, 0, 1);
		return;
	}
	for (k = 0; k < fz->b.n; k++) {
		const struct fz_chain *c = &fz->chains[k];

		if (!c->got)
			continue;
		if (k == brk) {
			extra = 1;
			continue;
		}
		req++;
		if (!c->used_len) {
			mal++;
			continue;
		}
		if (c->unsure || c->shared || !c->seen || c->nr_flips) {
			rej_hi++;
			inv_hi++;
			resp_hi++;
			continue;
		}
		if (c->type == VIRTIO_IOMMU_T_INVALIDATE)
			inv++;
		if (!c->served && c->seen_status != VIRTIO_IOMMU_S_OK) {
			rej_hi++;
			if (c->type != VIRTIO_IOMMU_T_INVALIDATE)
				rej_lo++;
		}
		if (c->type == VIRTIO_IOMMU_T_PAGE_RESP &&
		    c->seen_status == VIRTIO_IOMMU_S_OK)
			resp++;
	}
	fz_stat_check(fz, "out_requests",
		      s.out_requests - o->out_requests, req, req + extra);
	fz_stat_check(fz, "out_malformed",
		      s.out_malformed - o->out_malformed, mal, mal + extra);
	fz_stat_check(fz, "out_slow_path",
		      s.out_slow_path - o->out_slow_path, fz->b.served,
		      fz->b.served + fz->b.extra_parks);
	fz_stat_check(fz, "out_broken",
		      s.out_broken - o->out_broken, fz->b.err, fz->b.err);
	fz_stat_check(fz, "out_rejected",
		      s.out_rejected - o->out_rejected, rej_lo, rej_hi + extra);
	fz_stat_check(fz, "out_invalidations",
		      s.out_invalidations - o->out_invalidations, inv,
		      inv + inv_hi + extra);
	fz_stat_check(fz, "out_page_resps",
		      s.out_page_resps - o->out_page_resps, resp, resp + resp_hi);
}

/* Publishes the batch built in fz->chains[0..n) and checks all of it. */
static void fz_batch_go(struct fz *fz)
{
	unsigned int brk;

	__s64 t;

	fz_phase(&fz->watch, "batch");
	fz_batch_publish(fz);
	t = fz_now_ms();
	fz_wait(fz);
	fz->t_wait += fz_now_ms() - t;
	brk = fz_finish(fz);
	fz_batch_stats(fz, brk);
	fz->made += fz->b.n;
	fz->n_used += fz->b.nused;
}

/* ------------------------------------------------------------------ */
/* The device, epochs and recovery */

static __u64 fz_pick_features(struct fz *fz, unsigned int pct)
{
	__u64 f = FBIT(VIRTIO_F_VERSION_1);
	unsigned int b;

	for (b = 0; b < 64; b++)
		if ((VHI_FEATURES_OFFERED & FBIT(b)) && fz_pct(&fz->rng, pct))
			f |= FBIT(b);
	return f;
}

static void fz_pick_config(struct fz *fz)
{
	struct vhost_iommu_config *c = &fz->cfg;
	struct fz_rng *r = &fz->rng;
	__u64 a, b;

	vhi_config_default(c);
	if (fz_pct(r, 40)) {
		c->page_size_mask = fz_pct(r, 50) ?
			(0x1000 | 0x200000 | 0x40000000) :
			(1ULL << fz_below(r, 40)) | (fz_next(r) & ~0xfffULL);
	}
	if (fz_pct(r, 50)) {
		a = fz_edge64(r);
		b = fz_edge64(r);
		c->input_start = a < b ? a : b;
		c->input_end = a < b ? b : a;
	}
	if (fz_pct(r, 50)) {
		a = fz_pct(r, 50) ? fz_below(r, 8) : fz_edge32(r);
		b = fz_pct(r, 50) ? fz_range(r, 1, 1023) : fz_edge32(r);
		c->domain_start = a < b ? a : b;
		c->domain_end = a < b ? b : a;
	}
	c->probe_size = fz_pct(r, 25) ? 0 : 4 * fz_range(r, 1, FZ_PROBE_MAX / 4);
	c->bypass = fz_below(r, 2);
}

static unsigned int fz_pick_num(struct fz *fz, unsigned int min)
{
	unsigned int num;

	do
		num = 1u << fz_below(&fz->rng, 9);
	while (num < min);
	return num;
}

static __u16 fz_pick_base(struct fz *fz)
{
	struct fz_rng *r = &fz->rng;

	if (fz_pct(r, 30))
		return 0;
	if (fz_pct(r, 40))
		return 65535 - fz_below(r, 300);
	return fz_below(r, 65536);
}

/* The guest side of a queue whose device base is @base. */
static void fz_vq_rebase(struct vg_vq *vq, __u16 base)
{
	__u64 v;

	vq->avail_idx = base;
	vg_avail_store_idx(vq, base);
	vg_used_store_idx(vq, base);
	if (read(vq->call_fd, &v, sizeof(v)) < 0)
		v = 0;
	if (read(vq->err_fd, &v, sizeof(v)) < 0)
		v = 0;
}

/*
 * One queue, base before addresses: after a reset the kick is still
 * bound, so the queue runs as soon as it has a size and addresses, and
 * it must not find its old index then (vhi_setup_vring() sets the
 * addresses first).
 */
static int fz_setup_vring(struct fz *fz, unsigned int idx, struct vg_vq *vq,
			  __u16 base)
{
	int ret;

	ret = vhi_set_vring_num(fz->fd, idx, vq->num);
	if (!ret)
		ret = vhi_set_vring_base(fz->fd, idx, base);
	if (!ret)
		ret = vhi_set_vring_addr(fz->fd, idx, (uintptr_t)vq->desc,
					 (uintptr_t)vq->avail,
					 (uintptr_t)vq->used, 0);
	if (!ret)
		ret = vhi_set_vring_call(fz->fd, idx, vq->call_fd);
	if (!ret)
		ret = vhi_set_vring_err(fz->fd, idx, vq->err_fd);
	if (!ret)
		ret = vhi_set_vring_kick(fz->fd, idx, vq->kick_fd);
	return ret;
}

static int fz_rings_up(struct fz *fz, __u16 rq_base, __u16 eq_base)
{
	bool started = fz->run == FZ_RUN_STARTED;
	int ret;

	vg_vq_reset(&fz->rq);
	vg_vq_reset(&fz->eq);
	/*
	 * Once started, a running queue's ring may not change: stop, as a
	 * VMM does around a reset, and start again.
	 */
	if (started) {
		ret = fz_run(fz, 0);
		if (ret)
			return ret;
	}
	ret = vhi_set_features(fz->fd, fz->features);
	if (ret)
		return ret;
	fz_vq_rebase(&fz->rq, rq_base);
	fz_vq_rebase(&fz->eq, eq_base);
	ret = fz_setup_vring(fz, VHOST_IOMMU_VQ_REQUEST, &fz->rq, rq_base);
	if (!ret)
		ret = fz_setup_vring(fz, VHOST_IOMMU_VQ_EVENT, &fz->eq, eq_base);
	if (!ret && started)
		ret = fz_run(fz, 1);
	return ret;
}

/* A virtio reset and a new driver: features, config, sizes, bases. */
static int fz_epoch(struct fz *fz, bool reset)
{
	int ret;

	fz->n_epochs++;
	fz_log(fz, reset ? "epoch (reset)" : "epoch", 0);
	if (reset) {
		ret = vhi_reset_device(fz->fd);
		if (ret)
			return ret;
	}
	fz->features = fz_pick_features(fz, 75);
	fz_pick_config(fz);
	ret = vhi_set_config(fz->fd, &fz->cfg);
	if (ret)
		return ret;
	fz->rq.num = fz_pick_num(fz, fz->test == FZ_T_RINGS ? 1 :
				 fz->test == FZ_T_BODIES ? 64 : 32);
	fz->eq.num = fz_pick_num(fz, 8);
	return fz_rings_up(fz, fz_pick_base(fz), fz_pick_base(fz));
}

/*
 * A new base for the request queue, as after a break or a restore. Once
 * started with SET_RUNNING the device refuses it on a running queue:
 * stop the device or unbind the kick first; before, it may take it as it
 * runs.
 */
static int fz_rebase(struct fz *fz, bool running)
{
	struct fz_rng *r = &fz->rng;
	__u16 base = fz_pick_base(fz);
	int how = fz_below(r, 3), ret;

	if (running && fz->run == FZ_RUN_STARTED && fz_pct(r, 40)) {
		ret = vhi_set_vring_base(fz->fd, VHOST_IOMMU_VQ_REQUEST, base);
		if (ret != -EBUSY)
			fz_viol(fz,
				"SET_VRING_BASE on a running queue of a started device: %d, expected EBUSY",
				ret);
		ret = vhi_set_vring_num(fz->fd, VHOST_IOMMU_VQ_REQUEST,
					fz->rq.num);
		if (ret != -EBUSY)
			fz_viol(fz,
				"SET_VRING_NUM on a running queue of a started device: %d, expected EBUSY",
				ret);
	}
	if (running && fz->run == FZ_RUN_STARTED && how == 2)
		how = 1;
	/*
	 * Running, never started: the base may be set as it runs, but the
	 * guest's index cannot jump under a running device. Set it where
	 * the guest is.
	 */
	if (running && how == 2)
		base = fz->rq.avail_idx;
	if (running && how == 1)
		ret = fz_run(fz, 0);
	else if (running && !how)
		ret = vhi_set_vring_kick(fz->fd, VHOST_IOMMU_VQ_REQUEST, -1);
	else
		ret = 0;
	if (ret)
		return ret;
	/* The guest's ring first: a running device reads it at once. */
	fz_log(fz, "rebase", how);
	fz_vq_rebase(&fz->rq, base);
	ret = vhi_set_vring_base(fz->fd, VHOST_IOMMU_VQ_REQUEST, base);
	if (ret)
		return ret;
	if (running && how == 1)
		ret = fz_run(fz, 1);
	else if (running && !how)
		ret = vhi_set_vring_kick(fz->fd, VHOST_IOMMU_VQ_REQUEST,
					 fz->rq.kick_fd);
	return ret;
}

/* After a batch: the queue broke, went wild, or it is time for a change. */
static int fz_after_batch(struct fz *fz, unsigned int new_epoch_pct)
{
	struct fz_rng *r = &fz->rng;

	fz_phase(&fz->watch, "recover");
	if (fz->b.chaos || fz->b.hung || fz->b.err)
		fz->st_valid = false;
	if (fz->b.chaos || fz->b.hung)
		return fz_epoch(fz, true);
	if (fz->b.err)
		return fz_pct(r, 60) ? fz_rebase(fz, false) : fz_epoch(fz, true);
	if (fz_pct(r, new_epoch_pct))
		return fz_pct(r, 50) ? fz_rebase(fz, true) : fz_epoch(fz, true);
	return 0;
}

/* Owner, memory table and backend features for the open fz->fd. */
static int fz_dev_open_fd(struct fz *fz)
{
	int ret;

	if (fz->fd < 0)
		return fz->fd;
	ret = vhi_set_owner(fz->fd);
	if (!ret)
		ret = fz_set_mem_table(fz);
	if (!ret && fz->backend)
		ret = vhi_set_backend_features(fz->fd, fz->backend);
	return ret;
}

static int fz_dev_open(struct fz *fz)
{
	fz->fd = vhi_open();
	return fz_dev_open_fd(fz);
}

/* A mock device and its nested HWPT, bound to a few guest domains. */
static int fz_world_bind(struct fz *fz)
{
	static const struct fz_bind binds[] = {
		{ 1, false, 0 }, { 2, false, 0 }, { 3, false, 0 },
		{ 4, true, 5 },
	};
	struct vhost_iommu_bind b;
	unsigned int i;
	int ret;

	ret = imock_world_init(&fz->w);
	if (ret)
		return ret;
	fz->have_world = true;
	ret = vhi_set_iommufd(fz->fd, fz->w.fd);
	if (ret)
		return ret;
	fz->iommufd_set = true;
	for (i = 0; i < ARRAY_SIZE(binds); i++) {
		memset(&b, 0, sizeof(b));
		b.domain = binds[i].domain;
		b.flags = binds[i].has_pasid ? VHOST_IOMMU_BIND_F_PASID : 0;
		b.pasid = binds[i].pasid;
		b.object_id = fz->w.nested_id;
		b.format = VHOST_IOMMU_INV_FORMAT_SELFTEST;
		b.input_end = ~0ULL;
		b.granule_log2 = 12;
		ret = vhi_bind_domain(fz->fd, &b);
		if (ret)
			return ret;
		fz->binds[i] = binds[i];
	}
	fz->nr_binds = ARRAY_SIZE(binds);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Test frame */

FIXTURE(fuzz) {
	struct fz *fz;
};

FIXTURE_SETUP(fuzz)
{
	fz_parse_env();
	self->fz = calloc(1, sizeof(*self->fz));
	ASSERT_NE(NULL, self->fz);
	self->fz->fd = -1;
	self->fz->ro_memfd = -1;
	self->fz->w.fd = -1;
	self->fz->fault_fd = -1;
}

static void fz_free(struct fz *fz)
{
	fz_watch_stop(&fz->watch);
	if (fz->fd >= 0)
		close(fz->fd);
	fz->fd = -1;
	if (fz->fault_fd >= 0)
		close(fz->fault_fd);
	if (fz->have_world)
		imock_world_destroy(&fz->w);
	fz->have_world = false;
	fz_mem_destroy(fz);
	free(fz->chains);
	free(fz->ivs);
	free(fz->check_buf);
	free(fz);
}

FIXTURE_TEARDOWN(fuzz)
{
	fz_free(self->fz);
}

static int fz_begin(struct fz *fz, enum fz_test test, const char *name)
{
	struct fz_rng mix = { fz_seed ^ (0x51ed2701ULL * (test + 1)) };

	if (fz_only[0] && strcmp(fz_only, name))
		return -ECANCELED;

	fz->name = name;
	fz->test = test;
	fz->seed = fz_seed;
	fz->rng.s = fz_next(&mix);
	fz->budget = fz_total * fz_share[test] / 100;
	if (!fz->budget)
		fz->budget = 1;
	fz->t0 = fz_now_ms();
	fz->chains = calloc(FZ_MAX_BATCH, sizeof(*fz->chains));
	fz->ivs = calloc(FZ_MAX_IVS, sizeof(*fz->ivs));
	fz->check_buf = malloc(FZ_MAX_OUT);
	if (!fz->chains || !fz->ivs || !fz->check_buf)
		return -ENOMEM;
	fz_note("STAT",
		"test=%s seed=%llu budget=%llu (VHOST_IOMMU_FUZZ=\"--seed %llu --requests %llu\")",
		name, (unsigned long long)fz_seed,
		(unsigned long long)fz->budget,
		(unsigned long long)fz_seed,
		(unsigned long long)fz_total);
	fz_watch_start(&fz->watch, name, fz_seed);
	return fz_mem_init(fz);
}

/*
 * The test's setup; false when the test is not to run: skipped for
 * --only, or failed.
 */
static bool fz_start(struct __test_metadata *_metadata, struct fz *fz,
		     enum fz_test test, const char *name)
{
	int ret = fz_begin(fz, test, name);

	if (ret == -ECANCELED)
		SKIP(return false, "VHOST_IOMMU_FUZZ has --only %s", fz_only);
	EXPECT_EQ(0, ret)
		TH_LOG("%s: setup: %s", name, strerror(-ret));
	return !ret;
}

static void fz_report(struct fz *fz)
{
	__s64 ms = fz_now_ms() - fz->t0;

	fz_watch_stop(&fz->watch);
	fz_note("STAT",
		"test=%s seed=%llu requests=%llu used=%llu batches=%llu slow=%llu device=%llu empty=%llu breaks=%llu ambiguous=%llu chaos=%llu epochs=%llu ioctls=%llu events=%llu groups=%llu violations=%u ms=%lld wait_ms=%lld rate=%llu/s",
		fz->name, (unsigned long long)fz->seed,
		(unsigned long long)fz->made,
		(unsigned long long)fz->n_used,
		(unsigned long long)fz->n_batches,
		(unsigned long long)fz->n_slow,
		(unsigned long long)fz->n_dev,
		(unsigned long long)fz->n_empty,
		(unsigned long long)fz->n_breaks,
		(unsigned long long)fz->n_ambig,
		(unsigned long long)fz->n_chaos,
		(unsigned long long)fz->n_epochs,
		(unsigned long long)fz->n_ioctls,
		(unsigned long long)fz->n_events,
		(unsigned long long)fz->n_groups, fz->nr_viol,
		(long long)ms, (long long)fz->t_wait,
		(unsigned long long)(ms ? fz->made * 1000 / ms : 0));
}

/* One batch of chains from the test's generator. */
static void fz_gen_batch(struct fz *fz)
{
	struct fz_rng *r = &fz->rng;
	unsigned int max = fz->rq.num < fz->max_batch ? fz->rq.num :
			   fz->max_batch;
	unsigned int n = fz_range(r, 1, max), k, mutant = n;
	__u8 body[FZ_BODY_MAX];
	__u32 in, out;
	bool ok;

	/* One chain of the batch, late in it, is the mutant, if any. */
	if (fz->mut_pct && fz_pct(r, fz->mut_pct))
		mutant = n - 1 - fz_below(r, (n + 2) / 3);
	fz_batch_begin(fz);
	for (k = 0; k < n; k++) {
		in = fz_gen_body(fz, body, &out);
		fz->mutating = k == mutant;
		if (fz->mutating && fz_pct(r, 6))
			ok = fz_build_long(fz, k, body, in);
		else
			ok = fz_build(fz, k, body, in, out);
		if (!ok)
			break;
	}
	fz->mutating = false;
	fz->b.n = k;
	if (!fz->mut_pct || !k || !fz_pct(r, 5))
		return;
	/* Mistakes in the available ring itself. */
	switch (fz_below(r, 5)) {
	case 0:
		fz->chains[fz_below(r, k)].head = fz->rq.num +
			fz_below(r, 65536 - fz->rq.num);
		break;
	case 1:
		if (k >= 2) {
			unsigned int a = fz_below(r, k - 1);

			fz->chains[fz_range(r, a + 1, k - 1)].head =
				fz->chains[a].head;
		}
		break;
	case 2:
		if (fz->pool_n)
			fz->chains[fz_below(r, k)].head =
				fz->pool[fz_below(r, fz->pool_n)];
		break;
	case 3:
		fz->b.pub_garbage = true;
		fz->b.pub_idx = fz_pct(r, 50) ?
			fz->b.a0 + fz->rq.num + 1 + fz_below(r, 1000) :
			fz->b.a0 - 1 - fz_below(r, 1000);
		if ((__u16)(fz->b.pub_idx - fz->b.a0) <= fz->rq.num)
			fz->b.pub_garbage = false;
		break;
	default:
		fz->b.n = fz_below(r, k) + 1;
		break;
	}
}

/* The common loop of the ring-driving tests. */
static void fz_run_batches(struct __test_metadata *_metadata, struct fz *fz,
			   unsigned int new_epoch_pct)
{
	while (fz->made < fz->budget) {
		fz_gen_batch(fz);
		if (!fz->b.n) {
			ASSERT_EQ(0, fz_epoch(fz, true));
			continue;
		}
		fz_batch_go(fz);
		if (fz->b.hung)
			fz_report(fz);
		ASSERT_FALSE(fz->b.hung)
			TH_LOG("%s: device hung (seed %llu, batch %llu)",
			       fz->name, (unsigned long long)fz->seed,
			       (unsigned long long)fz->n_batches);
		ASSERT_EQ(0, fz_after_batch(fz, new_epoch_pct));
	}
}

static void fz_end(struct __test_metadata *_metadata, struct fz *fz)
{
	unsigned int i;

	/* Huge writable parts are refused: not a byte of them written. */
	if (fz->big && fz->n_huge) {
		for (i = 0; i < 4096; i++) {
			if (fz->big[i] != VG_POISON ||
			    fz->big[BIG_SIZE - 4096 + i] != VG_POISON) {
				fz_viol(fz, "a huge aliased writable part was written (byte %u)",
					i);
				break;
			}
		}
		fz_note("STAT", "test=%s huge_writable_chains=%llu", fz->name,
			(unsigned long long)fz->n_huge);
	}
	fz_report(fz);
	fz_viol_summary(fz);
	EXPECT_EQ(0u, fz->nr_viol)
		TH_LOG("%s: %u violations (replay: --seed %llu --requests %llu)",
		       fz->name, fz->nr_viol, (unsigned long long)fz->seed,
		       (unsigned long long)fz_total);
}

/*
 * Descriptor chains of every shape: counts, lengths, flags, bad next
 * indices, loops, readable after writable, buffers outside the memory
 * table, across regions or in memory the device cannot access, indirect
 * tables nested, chained, of a wrong size, garbage heads and indexes.
 */
TEST_F_TIMEOUT(fuzz, rings, FZ_TEST_TIMEOUT)
{
	struct fz *fz = self->fz;

	if (!fz_start(_metadata, fz, FZ_T_RINGS, "rings"))
		return;
	fz->mut_pct = 40;
	fz->garbage_pct = 60;
	fz->chaos_pct = 2;
	fz->indirect_pct = 30;
	fz->huge_pm = 5;
	fz->max_batch = 48;
	fz->careless_pct = 10;
	ASSERT_EQ(0, fz_dev_open(fz));
	ASSERT_EQ(0, fz_epoch(fz, false));
	fz_run_batches(_metadata, fz, 3);
	fz_end(_metadata, fz);
}

/*
 * Well-formed chains whose request bodies are anything: every type and
 * unknown ones, every length, random fields, writable parts of many
 * sizes; INVALIDATE to bound and unbound domains of the mock.
 */
TEST_F_TIMEOUT(fuzz, bodies, FZ_TEST_TIMEOUT)
{
	struct fz *fz = self->fz;
	int ret;

	if (!fz_start(_metadata, fz, FZ_T_BODIES, "bodies"))
		return;
	fz->indirect_pct = 25;
	fz->huge_pm = 10;
	fz->max_batch = 128;
	fz->careless_pct = 5;
	fz->backend = FBIT(VHOST_IOMMU_BACKEND_F_PERSIST);
	ASSERT_EQ(0, fz_dev_open(fz));
	ret = fz_world_bind(fz);
	if (ret)
		fz_note("NOTE",
			"bodies: no mock bindings (%s): INVALIDATE only to unbound domains",
			strerror(-ret));
	ASSERT_EQ(0, fz_epoch(fz, false));
	fz_run_batches(_metadata, fz, 4);
	fz_end(_metadata, fz);
}

/* ------------------------------------------------------------------ */
/* Rewriting requests while the device reads them */

struct fz_site {
	void *p;
	__u32 a;
	__u32 b;
	bool word;
};

#define FZ_MAX_SITES	(FZ_MAX_BATCH * (FZ_FLIPS + 1))

static struct fz_site fz_sites[FZ_MAX_SITES];
static unsigned int fz_nr_sites;

static void *fz_flipper_main(void *arg)
{
	struct fz *fz = arg;
	unsigned int i, round = 0;
	__u64 n = 0;

	while (!__atomic_load_n(&fz->flip_stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < fz_nr_sites; i++) {
			struct fz_site *s = &fz_sites[i];
			__u32 v = round & 1 ? s->a : s->b;

			if (s->word)
				__atomic_store_n((__le32 *)s->p, htole32(v),
						 __ATOMIC_RELAXED);
			else
				__atomic_store_n((__u8 *)s->p, (__u8)v,
						 __ATOMIC_RELAXED);
			n++;
		}
		/* Leave the worker some CPU: the VM has two. */
		if (!(++round % 8))
			sched_yield();
	}
	/* Leave every site as the model read it. */
	for (i = 0; i < fz_nr_sites; i++) {
		if (fz_sites[i].word)
			*(__le32 *)fz_sites[i].p = htole32(fz_sites[i].a);
		else
			*(__u8 *)fz_sites[i].p = fz_sites[i].a;
	}
	__atomic_add_fetch(&fz->flips_done, n, __ATOMIC_RELAXED);
	return NULL;
}

static void fz_flipper_start(struct fz *fz)
{
	unsigned int k, f;

	fz_nr_sites = 0;
	for (k = 0; k < fz->b.n; k++) {
		struct fz_chain *c = &fz->chains[k];

		for (f = 0; f < c->nr_flips; f++)
			fz_sites[fz_nr_sites++] = (struct fz_site) {
				.p = c->flips[f].p, .a = c->flips[f].a,
				.b = c->flips[f].b,
			};
		if (c->len_site)
			fz_sites[fz_nr_sites++] = (struct fz_site) {
				.p = c->len_site, .a = c->len_a, .b = c->len_b,
				.word = true,
			};
	}
	fz->flip_stop = 0;
	fz->flipping = fz_nr_sites &&
		       !pthread_create(&fz->flipper, NULL, fz_flipper_main, fz);
}

static void fz_flipper_stop(struct fz *fz)
{
	if (!fz->flipping)
		return;
	__atomic_store_n(&fz->flip_stop, 1, __ATOMIC_RELEASE);
	pthread_join(fz->flipper, NULL);
	fz->flipping = false;
}

/* The guest's pointer to byte @off of the chain's readable part. */
static __u8 *fz_rd_ptr(struct fz *fz, const struct fz_chain *c, __u32 off)
{
	unsigned int i;

	for (i = 0; i < c->nr_pieces && i < FZ_MAX_PIECES; i++) {
		const struct fz_piece *p = &c->pieces[i];

		if (p->write)
			continue;
		if (off < p->len)
			return p->kind == FZ_K_RW ? fz_gptr(fz, p->gpa + off) :
			       NULL;
		off -= p->len;
	}
	return NULL;
}

/* The length field of the chain's last writable descriptor. */
static __le32 *fz_last_wr_len(struct fz *fz, const struct fz_chain *c)
{
	struct vring_desc *d = &fz->rq.desc[c->head], *t = NULL, *last = NULL;
	unsigned int n = 0;

	if (le16toh(d->flags) & VRING_DESC_F_INDIRECT) {
		t = (struct vring_desc *)fz_gptr(fz, le64toh(d->addr));
		/* Only a table in one piece of the guest's mapping. */
		if (!t || fz_gptr(fz, le64toh(d->addr) + le32toh(d->len) - 1) !=
			  (__u8 *)t + le32toh(d->len) - 1)
			return NULL;
		d = t;
	}
	for (;;) {
		if (le16toh(d->flags) & VRING_DESC_F_WRITE)
			last = d;
		if (!(le16toh(d->flags) & VRING_DESC_F_NEXT) || ++n > 64)
			break;
		d = t ? &t[le16toh(d->next)] : &fz->rq.desc[le16toh(d->next)];
	}
	return last && le32toh(last->len) ? &last->len : NULL;
}

static bool fz_flip_at(const struct fz_chain *c, __u32 off)
{
	unsigned int f;

	for (f = 0; f < c->nr_flips; f++)
		if (c->flips[f].off == off)
			return true;
	return false;
}

/* Bytes and a length the rewrite thread will toggle, for one chain. */
static void fz_pick_flips(struct fz *fz, struct fz_chain *c)
{
	struct fz_rng *r = &fz->rng;
	__u32 lim, off;
	unsigned int i;
	__u8 *p;

	if (c->verdict != FZ_V_OK || !c->in_len)
		return;
	lim = c->in_len < FZ_BODY_MAX ? c->in_len : FZ_BODY_MAX;
	fz_model_body(fz, c, &(bool){ false });
	for (i = 0; i < FZ_FLIPS; i++) {
		off = !i && fz_pct(r, 85) ? 0 : fz_below(r, lim < 64 ? lim : 64);
		p = fz_rd_ptr(fz, c, off);
		if (!p || fz_flip_at(c, off))
			continue;
		c->flips[c->nr_flips] = (struct fz_flip) {
			.p = p, .off = off, .a = c->body[off],
			.b = !off ? fz_range(r, 0, 9) : fz_below(r, 256),
		};
		if (c->flips[c->nr_flips].b != c->flips[c->nr_flips].a)
			c->nr_flips++;
	}
	if (fz_pct(r, 30)) {
		c->len_site = fz_last_wr_len(fz, c);
		if (c->len_site) {
			c->len_a = le32toh(*c->len_site);
			c->len_b = c->len_a - fz_range(r, 1, c->len_a);
		}
	}
}

static void fz_rewrite_batch(struct fz *fz)
{
	unsigned int k, brk;

	fz_phase(&fz->watch, "rewrite");
	/* Sites are chosen on the chains as built, before the model runs. */
	for (k = 0; k < fz->b.n; k++) {
		struct fz_chain *c = &fz->chains[k];

		fz_model_reset(c);
		fz_model_walk(fz, c);
		fz_pick_flips(fz, c);
	}
	fz->b.no_kick = true;
	fz_batch_publish(fz);
	fz_flipper_start(fz);
	if (vg_kick(&fz->rq))
		fz_viol(fz, "kick: %s", strerror(errno));
	fz_wait(fz);
	fz_flipper_stop(fz);
	brk = fz_finish(fz);
	fz_batch_stats(fz, brk);
	fz->made += fz->b.n;
	fz->n_used += fz->b.nused;
}

/*
 * A thread toggles request bytes (the type above all) and the length of
 * the last writable descriptor while the device reads them. Whatever it
 * read, the device must have decided from one copy: the VMM gets a copy
 * that goes to the VMM, the status fits some version of the bytes, the
 * used length and where the status lands agree.
 */
TEST_F_TIMEOUT(fuzz, rewrite, FZ_TEST_TIMEOUT)
{
	struct fz *fz = self->fz;

	if (!fz_start(_metadata, fz, FZ_T_REWRITE, "rewrite"))
		return;
	fz->indirect_pct = 25;
	fz->max_batch = 32;
	ASSERT_EQ(0, fz_dev_open(fz));
	ASSERT_EQ(0, fz_epoch(fz, false));
	while (fz->made < fz->budget) {
		fz_gen_batch(fz);
		if (!fz->b.n) {
			ASSERT_EQ(0, fz_epoch(fz, true));
			continue;
		}
		fz_rewrite_batch(fz);
		if (fz->b.hung)
			fz_report(fz);
		ASSERT_FALSE(fz->b.hung);
		ASSERT_EQ(0, fz_after_batch(fz, 4));
	}
	fz_note("STAT",
		"test=rewrite flips=%llu",
		(unsigned long long)fz->flips_done);
	fz_end(_metadata, fz);
}

/* ------------------------------------------------------------------ */
/* Page requests into the event queue, page responses back */

#define FZ_EV_ADDR	0x7e0000000000ULL
#define FZ_MAX_GROUPS	2048u
#define FZ_MAX_RECS	8192u
#define FZ_EV_SLOT	128u
#define ENDPOINT2	9u
#define FAKE_DEV2	0x777u
#define FZ_NO_DESC	0xffffu

enum {
	G_PENDING,	/* injected, neither delivered nor answered */
	G_DELIVERED,	/* every record in the event queue, outstanding */
	G_ANSWERING,	/* a PAGE_RESP for it is in flight */
	G_ANSWERED,	/* the guest answered; iommufd has the answer */
	G_INVALID_EXP,	/* the device must answer it INVALID */
	G_DONE,
};

struct fz_group {
	__u32 dev_id;
	__u32 endpoint;
	__u32 pasid;
	__u32 grpid;
	bool has_pasid;
	__u32 first;
	__u32 n;
	__u32 seen;
	__u8 state;
	bool must_invalid;
	bool deliverable;
	__u32 cum;
	__u32 free_bufs;
	__u16 code;
	const char *why;
};

struct fz_evbuf {
	__u16 head;
	__u16 second;
	__u32 out;
	__u32 first_len;
	bool corrupt;
	bool prefix;
	bool counted;
};

struct fz_ev {
	bool fake;
	bool have_fake;
	bool attached;
	bool giant_done;
	int fault_fd;
	__u32 fault_id;
	__u32 fault_hwpt;
	__u64 slots;
	struct fz_evbuf posted[FZ_MAX_NUM];
	bool busy[FZ_MAX_NUM];
	unsigned int outstanding;
	unsigned int good_free;
	bool stuck;
	bool blocked;
	bool broken;
	bool plain;	/* post only what a driver posts: 48 bytes, one descriptor */
	int cur;
	__u32 cookie_base;
	unsigned int nr_groups;
	struct fz_group groups[FZ_MAX_GROUPS];
	unsigned int nr_recs;
	struct iommu_hwpt_pgfault recs[FZ_MAX_RECS];
	/* since the phase began */
	struct vhost_iommu_stats st0;
	__u64 seen_recs;
	__u64 dev_invalid;
	__u64 guest_ok;
	__u64 phases;
	unsigned int shrinks;
	unsigned int n_shrunk;
};

static __u16 fz_ev_predict_resp(struct fz *fz,
				const struct virtio_iommu_req_page_resp *r,
				int *group)
{
	struct fz_ev *ev = fz->ev;
	__u32 flags = le32toh(r->flags), ep = le32toh(r->endpoint);
	__u32 pasid = le32toh(r->pasid), grpid = le32toh(r->grpid);
	bool has_pasid = flags & VIRTIO_IOMMU_PAGE_RESP_F_PASID;
	unsigned int g;

	*group = -1;
	/* A VMM child with live page requests: it may match one of them. */
	if (!ev && fz->resp_any && !fz_nonzero(r->reserved, sizeof(r->reserved)))
		return ST(VIRTIO_IOMMU_S_OK) | ST(VIRTIO_IOMMU_S_INVAL) |
		       ST(VIRTIO_IOMMU_S_DEVERR);
	if (!ev || !ev->attached || fz_nonzero(r->reserved, sizeof(r->reserved)) ||
	    (flags & ~VIRTIO_IOMMU_PAGE_RESP_F_PASID) ||
	    le16toh(r->resp_code) > VIRTIO_IOMMU_PAGE_RESP_FAILURE)
		return ST(VIRTIO_IOMMU_S_INVAL);
	for (g = 0; g < ev->nr_groups; g++) {
		struct fz_group *grp = &ev->groups[g];

		if (grp->state != G_DELIVERED || grp->endpoint != ep ||
		    grp->grpid != grpid || grp->has_pasid != has_pasid ||
		    (has_pasid && grp->pasid != pasid))
			continue;
		grp->state = G_ANSWERING;
		grp->code = le16toh(r->resp_code);
		*group = g;
		return ST(VIRTIO_IOMMU_S_OK);
	}
	return ST(VIRTIO_IOMMU_S_INVAL);
}

static int fz_test_op(struct fz *fz, __u32 op, void *uptr, __u32 *nr)
{
	struct vhost_iommu_test_op t = {
		.size = sizeof(t), .op = op, .nr = nr ? *nr : 0,
		.uptr = (uintptr_t)uptr,
	};
	int ret = fz_ioctl(fz->fd, VHOST_IOMMU_TEST, &t);

	if (!ret && nr)
		*nr = t.nr;
	return ret;
}

static void fz_ev_reset_queue(struct fz *fz)
{
	struct fz_ev *ev = fz->ev;

	memset(ev->busy, 0, sizeof(ev->busy));
	ev->outstanding = 0;
	ev->good_free = 0;
	ev->stuck = false;
	ev->blocked = false;
	ev->broken = false;
	if (ev->cur >= 0 && ev->groups[ev->cur].state == G_PENDING)
		ev->groups[ev->cur].state = G_INVALID_EXP;
	ev->cur = -1;
}

static int fz_ev_free_desc(struct fz *fz)
{
	unsigned int i;

	for (i = 0; i < fz->eq.num; i++)
		if (!fz->ev->busy[i])
			return i;
	return -1;
}

static __u64 fz_ev_slot(const struct fz *fz, unsigned int d)
{
	return fz->ev->slots + FZ_EV_SLOT * d;
}

/* One buffer for the event queue: mostly 48 bytes, sometimes not. */
static bool fz_ev_post(struct fz *fz)
{
	struct fz_ev *ev = fz->ev;
	struct fz_rng *r = &fz->rng;
	struct fz_evbuf b = { .second = FZ_NO_DESC };
	unsigned int pick = fz_below(r, 1000);
	int h, h2 = -1;

	if (ev->plain)
		pick = 0;

	if (ev->outstanding >= fz->eq.num || ev->broken)
		return false;
	h = fz_ev_free_desc(fz);
	if (h < 0)
		return false;
	ev->busy[h] = true;
	if (pick >= 880 && pick < 990) {
		h2 = fz_ev_free_desc(fz);
		if (h2 < 0)
			pick = 0;
		else
			ev->busy[h2] = true;
	}
	b.head = h;
	if (pick < 780) {
		b.out = EV_SIZE;
	} else if (pick < 850) {
		b.out = fz_range(r, EV_SIZE + 1, FZ_EV_SLOT - 8);
	} else if (pick < 880) {
		b.out = fz_pct(r, 60) ? 24 : fz_range(r, 1, EV_SIZE - 1);
	} else if (pick < 960) {
		b.second = h2;
		b.first_len = fz_range(r, 1, EV_SIZE - 1);
		b.out = b.first_len + fz_range(r, EV_SIZE - b.first_len, 64);
	} else if (pick < 990) {
		b.second = h2;
		b.prefix = true;
		b.out = EV_SIZE;
	} else {
		b.out = EV_SIZE;
		b.corrupt = true;
	}
	fz_gfill(fz, fz_ev_slot(fz, h), VG_POISON, FZ_EV_SLOT);
	if (h2 >= 0)
		fz_gfill(fz, fz_ev_slot(fz, h2), VG_POISON, FZ_EV_SLOT);
	if (b.corrupt)
		vg_desc_set(&fz->eq.desc[h], GUEST_BASE + GUEST_SIZE +
			    fz_below(r, 4096), b.out, VRING_DESC_F_WRITE, 0);
	else if (b.prefix)
		vg_desc_set(&fz->eq.desc[h], fz_ev_slot(fz, h), 8,
			    VRING_DESC_F_NEXT, h2);
	else if (b.second != FZ_NO_DESC)
		vg_desc_set(&fz->eq.desc[h], fz_ev_slot(fz, h), b.first_len,
			    VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, h2);
	else
		vg_desc_set(&fz->eq.desc[h], fz_ev_slot(fz, h), b.out,
			    VRING_DESC_F_WRITE, 0);
	if (b.second != FZ_NO_DESC)
		vg_desc_set(&fz->eq.desc[h2], fz_ev_slot(fz, h2),
			    b.prefix ? b.out : b.out - b.first_len,
			    VRING_DESC_F_WRITE, 0);
	if (b.corrupt)
		ev->blocked = true;
	else if (b.out < EV_SIZE)
		ev->stuck = true;
	else if (!ev->stuck && !ev->blocked)
		b.counted = true;
	ev->good_free += b.counted;
	ev->posted[fz->eq.avail_idx % FZ_MAX_NUM] = b;
	vg_avail_add(&fz->eq, h);
	ev->outstanding++;
	return true;
}

static void fz_ev_post_some(struct fz *fz, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n && fz_ev_post(fz); i++)
		;
	vg_publish(&fz->eq);
	if (vg_kick(&fz->eq))
		fz_viol(fz, "event queue kick: %s", strerror(errno));
}

static void fz_ev_record(struct fz *fz, const struct virtio_iommu_page_req *rec)
{
	static const __u8 zero[EV_SIZE];
	struct fz_ev *ev = fz->ev;
	__u64 addr = le64toh(rec->address);
	const struct iommu_hwpt_pgfault *pf;
	struct fz_group *grp;
	__u32 g, i, want;

	g = (addr - FZ_EV_ADDR) >> 20;
	i = (addr >> 12) & 0xff;
	if (addr < FZ_EV_ADDR || g >= ev->nr_groups) {
		fz_viol(fz, "event record with address %#llx of no group",
			(unsigned long long)addr);
		return;
	}
	grp = &ev->groups[g];
	if (ev->cur >= 0 && ev->cur != (int)g)
		fz_viol(fz, "event records of groups %d and %u interleave",
			ev->cur, g);
	if (grp->state != G_PENDING || i != grp->seen || i >= grp->n) {
		fz_viol(fz, "group %u: record %u arrived as record %u of %u (state %u%s)",
			g, i, grp->seen, grp->n, grp->state,
			grp->state == G_DONE ? ": answered already" : "");
		return;
	}
	if (grp->must_invalid)
		fz_viol(fz, "group %u delivered; the device must answer it INVALID (%s)",
			g, grp->why);
	pf = &ev->recs[grp->first + i];
	want = VIRTIO_IOMMU_FAULT_F_PAGE_REQ | VIRTIO_IOMMU_FAULT_F_ADDRESS |
	       VIRTIO_IOMMU_FAULT_F_GROUP_ID;
	if (pf->perm & IOMMU_PGFAULT_PERM_READ)
		want |= VIRTIO_IOMMU_FAULT_F_READ;
	if (pf->perm & IOMMU_PGFAULT_PERM_WRITE)
		want |= VIRTIO_IOMMU_FAULT_F_WRITE;
	if (pf->perm & IOMMU_PGFAULT_PERM_EXEC)
		want |= VIRTIO_IOMMU_FAULT_F_EXEC;
	if (pf->perm & IOMMU_PGFAULT_PERM_PRIV)
		want |= VIRTIO_IOMMU_FAULT_F_PRIVILEGED;
	if (i == grp->n - 1)
		want |= VIRTIO_IOMMU_FAULT_F_LAST;
	if (grp->has_pasid)
		want |= VIRTIO_IOMMU_FAULT_F_PASID;
	if (le32toh(rec->flags) != want || le32toh(rec->endpoint) != grp->endpoint ||
	    (grp->has_pasid && le32toh(rec->pasid) != grp->pasid) ||
	    le16toh(rec->group_id) != grp->grpid ||
	    rec->reason > VIRTIO_IOMMU_FAULT_R_MAPPING ||
	    memcmp(rec->reserved, zero, sizeof(rec->reserved)) ||
	    memcmp(rec->reserved1, zero, sizeof(rec->reserved1)) ||
	    memcmp(rec->private_data, zero, sizeof(rec->private_data)))
		fz_viol(fz,
			"group %u record %u: flags %#x (want %#x) endpoint %u (%u) pasid %u (%u) group %u (%u) reason %u",
			g, i, le32toh(rec->flags), want, le32toh(rec->endpoint),
			grp->endpoint, le32toh(rec->pasid), grp->pasid,
			le16toh(rec->group_id), grp->grpid, rec->reason);
	grp->seen++;
	ev->seen_recs++;
	fz->n_events++;
	fz->made++;
	if (grp->seen == grp->n) {
		grp->state = G_DELIVERED;
		ev->cur = -1;
	} else {
		ev->cur = g;
	}
}

/* Event buffers the device used, in the order they were made available. */
static void fz_ev_drain(struct fz *fz)
{
	struct fz_ev *ev = fz->ev;
	struct virtio_iommu_page_req rec;

	while (vg_used_idx(&fz->eq) != fz->eq.last_used) {
		__u16 pos = fz->eq.last_used;
		const struct vring_used_elem *e =
			&fz->eq.used->ring[pos % fz->eq.num];
		struct fz_evbuf *b = &ev->posted[pos % FZ_MAX_NUM];
		__u32 id = le32toh(e->id), len = le32toh(e->len);

		fz->eq.last_used++;
		fz_tick(&fz->watch);
		if (!ev->outstanding) {
			fz_viol(fz, "event used entry %u with no buffer available",
				pos);
			continue;
		}
		ev->outstanding--;
		ev->good_free -= b->counted;
		ev->busy[b->head] = false;
		if (b->second != FZ_NO_DESC)
			ev->busy[b->second] = false;
		if (id != b->head) {
			fz_viol(fz, "event used entry %u has id %u, expected %u",
				pos, id, b->head);
			continue;
		}
		if (b->corrupt) {
			if (len)
				fz_viol(fz, "a corrupt event buffer was used with length %u",
					len);
			ev->broken = true;
			continue;
		}
		if (len != EV_SIZE || b->out < EV_SIZE) {
			fz_viol(fz, "event buffer of %u bytes used with length %u",
				b->out, len);
			continue;
		}
		if (b->prefix)
			fz_gcopy(fz, fz_ev_slot(fz, b->second), &rec, EV_SIZE,
				 false);
		else if (b->second != FZ_NO_DESC && b->first_len < EV_SIZE) {
			fz_gcopy(fz, fz_ev_slot(fz, b->head), &rec, b->first_len,
				 false);
			fz_gcopy(fz, fz_ev_slot(fz, b->second),
				 (__u8 *)&rec + b->first_len,
				 EV_SIZE - b->first_len, false);
		} else {
			fz_gcopy(fz, fz_ev_slot(fz, b->head), &rec, EV_SIZE,
				 false);
		}
		fz_ev_record(fz, &rec);
	}
}

/* A group the device answered INVALID itself. */
static void fz_ev_invalid(struct fz *fz, unsigned int g)
{
	struct fz_ev *ev = fz->ev;
	struct fz_group *grp = &ev->groups[g];

	if (grp->state == G_PENDING) {
		if (grp->deliverable)
			fz_viol(fz,
				"group %u (%u records, endpoint %u) answered INVALID though the guest had buffers for it (%u records with those injected before it, %u buffers of 48+ bytes free, queue of %u)",
				g, grp->n, grp->endpoint, grp->cum, grp->free_bufs,
				fz->eq.num);
		if (grp->seen && !ev->broken)
			fz_viol(fz,
				"group %u answered INVALID after %u of its %u records were written to the event queue (no F_LAST: the guest sees a group that never ends)",
				g, grp->seen, grp->n);
		if (ev->cur == (int)g)
			ev->cur = -1;
	} else if (grp->state != G_INVALID_EXP) {
		fz_viol(fz, "group %u (state %u) answered INVALID by the device",
			g, grp->state);
	}
	grp->state = G_DONE;
	ev->dev_invalid++;
}

/*
 * The fake fault queue's answers: who answered what. The device writes
 * records before it answers: take the answers, then the records, then
 * look at the answers, so a group's records are never seen after it.
 */
static void fz_ev_responses(struct fz *fz)
{
	static struct iommu_hwpt_page_response r[VHOST_IOMMU_TEST_FAKE_MAX_ANSWERS];
	struct fz_ev *ev = fz->ev;
	struct fz_group *grp;
	__u32 nr, i, g, want, got = 0;
	int ret;

	do {
		nr = ARRAY_SIZE(r) - got < 256 ? ARRAY_SIZE(r) - got : 256;
		ret = fz_test_op(fz, VHOST_IOMMU_TEST_FAKE_RESPONSES, r + got,
				 &nr);
		if (ret) {
			fz_viol(fz, "FAKE_RESPONSES: %s", strerror(-ret));
			break;
		}
		got += nr;
	} while (nr == 256 && got < ARRAY_SIZE(r));
	fz_ev_drain(fz);
	for (i = 0; i < got; i++) {
		g = r[i].cookie - ev->cookie_base;
		if (r[i].cookie < ev->cookie_base || g >= ev->nr_groups) {
			fz_viol(fz, "an answer for cookie %u, of no group",
				r[i].cookie);
			continue;
		}
		grp = &ev->groups[g];
		if (grp->state == G_ANSWERED) {
			want = grp->code == VIRTIO_IOMMU_PAGE_RESP_SUCCESS ?
			       IOMMUFD_PAGE_RESP_SUCCESS :
			       IOMMUFD_PAGE_RESP_INVALID;
			if (r[i].code != want)
				fz_viol(fz, "group %u: the guest answered %u, iommufd got %u",
					g, grp->code, r[i].code);
			grp->state = G_DONE;
			continue;
		}
		if (r[i].code != IOMMUFD_PAGE_RESP_INVALID)
			fz_viol(fz, "group %u (state %u) answered %u by the device",
				g, grp->state, r[i].code);
		fz_ev_invalid(fz, g);
	}
}

/* Mock groups: the device's INVALID answers are only seen as a count. */
static void fz_ev_mock_resolve(struct fz *fz)
{
	struct fz_ev *ev = fz->ev;
	struct vhost_iommu_stats s;
	unsigned int g, open = 0;
	__u64 inv;

	if (vhi_get_stats(fz->fd, &s))
		return;
	inv = s.out_page_req_invalid - ev->st0.out_page_req_invalid;
	for (g = 0; g < ev->nr_groups; g++)
		if (ev->groups[g].state == G_PENDING ||
		    ev->groups[g].state == G_INVALID_EXP)
			open++;
	if (inv < ev->dev_invalid || inv - ev->dev_invalid != open)
		return;
	/* As many answers as groups nobody else answered: it was those. */
	for (g = 0; g < ev->nr_groups; g++)
		if (ev->groups[g].state == G_PENDING ||
		    ev->groups[g].state == G_INVALID_EXP)
			fz_ev_invalid(fz, g);
}

static unsigned int fz_ev_open(const struct fz_ev *ev, bool undelivered)
{
	unsigned int g, n = 0;

	for (g = 0; g < ev->nr_groups; g++) {
		__u8 s = ev->groups[g].state;

		if (s == G_PENDING || s == G_INVALID_EXP ||
		    (!undelivered && (s == G_DELIVERED || s == G_ANSWERING)))
			n++;
	}
	return n;
}

static int fz_ev_rebase(struct fz *fz);

static void fz_ev_dump(struct fz *fz)
{
	struct fz_ev *ev = fz->ev;
	unsigned int g, n = 0;

	for (g = 0; g < ev->nr_groups && n < 8; g++) {
		const struct fz_group *grp = &ev->groups[g];

		if (grp->state != G_PENDING && grp->state != G_INVALID_EXP)
			continue;
		n++;
		fz_note("DUMP",
			"group %u: state %u, %u records (%u seen), dev %#x, grpid %#x, pasid %d/%u, deliverable %d, must be INVALID: %s; eq num %u, fake %d, features %#llx",
			g, grp->state, grp->n, grp->seen, grp->dev_id,
			grp->grpid, grp->has_pasid, grp->pasid,
			grp->deliverable, grp->why ? grp->why : "no",
			fz->eq.num, ev->fake,
			(unsigned long long)fz->features);
	}
}

/* Until every group is delivered or answered; buffers as they are used. */
static bool fz_ev_settle(struct fz *fz)
{
	struct fz_ev *ev = fz->ev;
	__s64 last = fz_now_ms(), posted = last, rebased = 0;
	unsigned int open, before = ~0u;
	struct pollfd p;
	__u64 v;

	fz_phase(&fz->watch, "settle");
	for (;;) {
		fz_ev_drain(fz);
		if (ev->fake)
			fz_ev_responses(fz);
		else
			fz_ev_mock_resolve(fz);
		open = fz_ev_open(ev, true);
		if (!open) {
			ev->plain = false;
			return true;
		}
		if (open != before) {
			before = open;
			last = fz_now_ms();
		}
		if (fz_now_ms() - posted > 20 && ev->outstanding < fz->eq.num) {
			fz_ev_post_some(fz, fz->eq.num - ev->outstanding);
			posted = fz_now_ms();
		}
		/*
		 * Out of descriptors (two-descriptor buffers), or a short
		 * buffer ahead, with fewer buffers than a group needs: the
		 * device rightly waits. A new base gives the guest its
		 * descriptors back, and from then on it posts what a driver
		 * posts, so that a group as large as the queue fits.
		 */
		if (fz_now_ms() - last > 300 && fz_now_ms() - rebased > 300 &&
		    (fz_ev_free_desc(fz) < 0 || ev->stuck || ev->blocked)) {
			ev->plain = true;
			if (fz_ev_rebase(fz)) {
				ev->plain = false;
				return false;
			}
			rebased = fz_now_ms();
		}
		if (fz_now_ms() - last > FZ_HANG_MS) {
			fz_viol(fz,
				"page requests hang: %u groups neither delivered nor answered (%u buffers out, stuck %d, broken %d)",
				open, ev->outstanding, ev->stuck, ev->broken);
			fz_ev_dump(fz);
			ev->plain = false;
			return false;
		}
		p = (struct pollfd) { .fd = fz->eq.call_fd, .events = POLLIN };
		if (poll(&p, 1, 5) > 0 && read(fz->eq.call_fd, &v, sizeof(v)) < 0)
			v = 0;
	}
}

static void fz_ev_new_group(struct fz *fz, struct fz_group *grp, __u32 *cum)
{
	struct fz_ev *ev = fz->ev;
	struct fz_rng *r = &fz->rng;
	unsigned int g, k, open = fz_ev_open(ev, false);
	int dup = -1;

	grp->has_pasid = fz_pct(r, 50);
	grp->pasid = grp->has_pasid ? (fz_pct(r, 70) ? fz_range(r, 1, 8) :
				       fz_range(r, 1, 0xfffff)) : 0;
	grp->grpid = fz_below(r, 512);
	if (fz_pct(r, 3))
		grp->grpid = 0x10000 + fz_below(r, 0x10000);
	grp->dev_id = fz->w.idev_id;
	grp->endpoint = ENDPOINT;
	if (ev->fake && fz_pct(r, 10)) {
		grp->dev_id = FAKE_DEV2;
		grp->endpoint = ENDPOINT2;
	} else if (ev->fake && fz_pct(r, 8)) {
		/* No endpoint has it (FAKE_DEV2 is below). */
		grp->dev_id = 0x10000 + fz_below(r, 1000);
	}
	/* Same key as an outstanding group, now and then. */
	if (fz_pct(r, 5) && ev->nr_groups) {
		k = fz_below(r, ev->nr_groups);
		grp->dev_id = ev->groups[k].dev_id;
		grp->endpoint = ev->groups[k].endpoint;
		grp->has_pasid = ev->groups[k].has_pasid;
		grp->pasid = ev->groups[k].pasid;
		grp->grpid = ev->groups[k].grpid;
	}
	for (g = 0; g < ev->nr_groups; g++) {
		const struct fz_group *o = &ev->groups[g];

		if ((o->state == G_PENDING || o->state == G_DELIVERED ||
		     o->state == G_ANSWERING) && o->endpoint == grp->endpoint &&
		    o->dev_id == grp->dev_id && o->grpid == grp->grpid &&
		    o->has_pasid == grp->has_pasid && o->pasid == grp->pasid) {
			dup = g;
			if (o->state != G_PENDING)
				break;
		}
	}
	grp->n = 1;
	if (ev->fake) {
		k = fz_below(r, 1000);
		grp->n = k < 700 ? 1 : k < 900 ? fz_range(r, 2, 8) :
			 k < 975 ? fz_range(r, 9, 64) : k < 995 ?
			 fz_range(r, 65, 80) : fz_range(r, 513, 600);
	}
	grp->why = NULL;
	if (!(fz->features & FBIT(VIRTIO_IOMMU_F_PAGE_REQ)))
		grp->why = "PAGE_REQ not negotiated";
	else if (grp->dev_id != fz->w.idev_id && grp->dev_id != FAKE_DEV2)
		grp->why = "no endpoint for its device";
	else if (grp->grpid > 0xffff)
		grp->why = "group ID above 0xffff";
	else if (grp->n > fz->eq.num)
		grp->why = "larger than the event queue";
	else if (grp->n > VHOST_IOMMU_MAX_EVENT_BACKLOG)
		grp->why = "larger than the backlog";
	else if (dup >= 0 && ev->groups[dup].state != G_PENDING)
		grp->why = "same key as an outstanding group";
	grp->must_invalid = grp->why;
	grp->deliverable = !grp->must_invalid && dup < 0 && !ev->stuck &&
			   !ev->blocked && !ev->broken &&
			   *cum + grp->n <= ev->good_free &&
			   open < VHOST_IOMMU_MAX_PAGE_GROUPS;
	if (!grp->must_invalid)
		*cum += grp->n;
	grp->cum = *cum;
	grp->free_bufs = ev->good_free;
	grp->state = G_PENDING;
	grp->seen = 0;
}

/* A few page request groups, from the fake fault queue or the mock. */
static void fz_ev_inject(struct fz *fz)
{
	struct fz_ev *ev = fz->ev;
	struct fz_rng *r = &fz->rng;
	unsigned int n = fz_range(r, 1, 20), i, j, first = ev->nr_recs;
	__u32 cum = 0;
	int ret;

	for (i = 0; i < n && ev->nr_groups < FZ_MAX_GROUPS &&
	     ev->nr_recs + 600 < FZ_MAX_RECS; i++) {
		struct fz_group *grp = &ev->groups[ev->nr_groups];

		fz_ev_new_group(fz, grp, &cum);
		grp->first = ev->nr_recs;
		for (j = 0; j < grp->n; j++) {
			struct iommu_hwpt_pgfault *pf = &ev->recs[ev->nr_recs++];

			memset(pf, 0, sizeof(*pf));
			pf->flags = (grp->has_pasid ?
				     IOMMU_PGFAULT_FLAGS_PASID_VALID : 0) |
				    (j == grp->n - 1 ?
				     IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0);
			pf->dev_id = grp->dev_id;
			pf->pasid = grp->pasid;
			pf->grpid = grp->grpid;
			pf->perm = fz_below(r, 16);
			pf->addr = FZ_EV_ADDR + ((__u64)ev->nr_groups << 20) +
				   ((__u64)j << 12);
			pf->length = 4096;
			pf->cookie = ev->cookie_base + ev->nr_groups;
		}
		fz->n_groups++;
		if (!ev->fake) {
			ret = imock_trigger_iopf(fz->w.fd, fz->w.idev_id,
						 grp->pasid, grp->grpid,
						 ev->recs[grp->first].perm,
						 ev->recs[grp->first].addr);
			if (ret)
				fz_viol(fz, "TRIGGER_IOPF: %s", strerror(-ret));
		}
		ev->nr_groups++;
	}
	if (ev->fake && ev->nr_recs > first) {
		__u32 nr = ev->nr_recs - first;

		ret = fz_test_op(fz, VHOST_IOMMU_TEST_FAKE_INJECT,
				 &ev->recs[first], &nr);
		if (ret)
			fz_viol(fz, "FAKE_INJECT of %u records: %s", nr,
				strerror(-ret));
	}
}

/* The guest answers delivered groups, mostly right, sometimes not. */
static void fz_ev_answer(struct fz *fz)
{
	struct fz_ev *ev = fz->ev;
	struct fz_rng *r = &fz->rng;
	struct virtio_iommu_req_page_resp p;
	unsigned int g, k = 0, max = fz->rq.num < 64 ? fz->rq.num : 64;
	__u32 in = offsetof(struct virtio_iommu_req_page_resp, tail);
	__u8 body[FZ_BODY_MAX];

	fz_phase(&fz->watch, "answer");
	fz->st_valid = false;
	fz_batch_begin(fz);
	for (g = 0; g < ev->nr_groups && k < max; g++) {
		struct fz_group *grp = &ev->groups[g];

		if (grp->state != G_DELIVERED || fz_pct(r, 15))
			continue;
		memset(&p, 0, sizeof(p));
		p.head.type = VIRTIO_IOMMU_T_PAGE_RESP;
		p.domain = htole32(fz_next(r));
		p.endpoint = htole32(grp->endpoint);
		p.flags = htole32(grp->has_pasid ?
				  VIRTIO_IOMMU_PAGE_RESP_F_PASID : 0);
		p.pasid = htole32(grp->pasid);
		p.grpid = htole32(grp->grpid);
		p.resp_code = htole16(fz_below(r, 3));
		if (fz_pct(r, 12)) {
			switch (fz_below(r, 7)) {
			case 0:
				p.endpoint = htole32(grp->endpoint + 1);
				break;
			case 1:
				p.flags ^= htole32(VIRTIO_IOMMU_PAGE_RESP_F_PASID);
				break;
			case 2:
				p.pasid = htole32(grp->pasid + 1);
				break;
			case 3:
				p.grpid = htole32(grp->grpid ^ (fz_pct(r, 50) ?
							       0x10000 : 1));
				break;
			case 4:
				p.resp_code = htole16(fz_range(r, 3, 0xffff));
				break;
			case 5:
				p.flags |= htole32(1u << fz_range(r, 1, 31));
				break;
			default:
				p.reserved[fz_below(r, sizeof(p.reserved))] = 1;
				break;
			}
		}
		memcpy(body, &p, in);
		if (!fz_build(fz, k, body, in, 4))
			break;
		k++;
	}
	fz->b.n = k;
	if (!k)
		return;
	fz_batch_go(fz);
	for (k = 0; k < fz->b.n; k++) {
		struct fz_chain *c = &fz->chains[k];

		if (c->resp_group < 0)
			continue;
		if (c->seen && c->seen_status == VIRTIO_IOMMU_S_OK) {
			ev->groups[c->resp_group].state = G_ANSWERED;
			ev->guest_ok++;
		} else {
			ev->groups[c->resp_group].state = G_DELIVERED;
		}
	}
	/* Mock groups are done once answered; iommufd has the answer. */
	for (g = 0; !ev->fake && g < ev->nr_groups; g++)
		if (ev->groups[g].state == G_ANSWERED)
			ev->groups[g].state = G_DONE;
}

static void fz_ev_check_stats(struct fz *fz, const char *when)
{
	struct fz_ev *ev = fz->ev;
	struct vhost_iommu_stats s;

	if (vhi_get_stats(fz->fd, &s)) {
		fz_viol(fz, "GET_STATS: %s", strerror(errno));
		return;
	}
	if (s.out_page_reqs - ev->st0.out_page_reqs != ev->seen_recs ||
	    s.out_page_resps - ev->st0.out_page_resps != ev->guest_ok ||
	    s.out_page_req_invalid - ev->st0.out_page_req_invalid !=
	    ev->dev_invalid ||
	    s.out_fault_errors != ev->st0.out_fault_errors)
		fz_viol(fz,
			"%s: GET_STATS page_reqs +%llu (seen %llu), page_resps +%llu (%llu), page_req_invalid +%llu (%llu), fault_errors +%llu",
			when,
			(unsigned long long)(s.out_page_reqs - ev->st0.out_page_reqs),
			(unsigned long long)ev->seen_recs,
			(unsigned long long)(s.out_page_resps - ev->st0.out_page_resps),
			(unsigned long long)ev->guest_ok,
			(unsigned long long)(s.out_page_req_invalid -
					     ev->st0.out_page_req_invalid),
			(unsigned long long)ev->dev_invalid,
			(unsigned long long)(s.out_fault_errors -
					     ev->st0.out_fault_errors));
}

/* Every outstanding group is answered INVALID by what is about to happen. */
static void fz_ev_expect_invalid_all(struct fz *fz, __u32 endpoint, bool all)
{
	struct fz_ev *ev = fz->ev;
	unsigned int g;

	for (g = 0; g < ev->nr_groups; g++) {
		struct fz_group *grp = &ev->groups[g];

		if ((grp->state == G_PENDING || grp->state == G_DELIVERED) &&
		    (all || grp->endpoint == endpoint))
			grp->state = G_INVALID_EXP;
	}
}

static int fz_ev_attach(struct __test_metadata *_metadata, struct fz *fz)
{
	struct fz_ev *ev = fz->ev;
	int ret;

	ev->fake = ev->have_fake && fz_pct(&fz->rng, 60);
	if (ev->fake)
		ret = fz_test_op(fz, VHOST_IOMMU_TEST_FAKE_ATTACH, NULL, NULL);
	else
		ret = vhi_set_fault_queue(fz->fd, ev->fault_fd);
	if (ret)
		return ret;
	ev->attached = true;
	ev->cookie_base += ev->nr_groups + 1;
	if (!ev->cookie_base)
		ev->cookie_base = 1;
	ev->nr_groups = 0;
	ev->nr_recs = 0;
	ev->seen_recs = 0;
	ev->dev_invalid = 0;
	ev->guest_ok = 0;
	ev->phases++;
	return vhi_get_stats(fz->fd, &ev->st0);
}

/*
 * A group larger than any read stays at the head of the fake queue; the
 * device must wait for the next wake-up, not spin on it.
 */
static void fz_ev_giant(struct fz *fz)
{
	unsigned int n = VHOST_IOMMU_MAX_PAGE_GROUP_RECORDS + 1, i;
	struct iommu_hwpt_pgfault *pf = calloc(n, sizeof(*pf));
	struct vhost_iommu_stats a, b;
	__u32 nr = n;
	int ret;

	if (!pf)
		return;
	for (i = 0; i < n; i++) {
		pf[i].dev_id = fz->w.idev_id;
		pf[i].addr = FZ_EV_ADDR + ((__u64)FZ_MAX_GROUPS << 20);
		pf[i].cookie = 0x7fffffff;
	}
	vhi_get_stats(fz->fd, &a);
	ret = fz_test_op(fz, VHOST_IOMMU_TEST_FAKE_INJECT, pf, &nr);
	free(pf);
	if (ret) {
		fz_viol(fz, "FAKE_INJECT of a %u-record group: %s", n,
			strerror(-ret));
		return;
	}
	usleep(400 * 1000);
	vhi_get_stats(fz->fd, &b);
	if (b.out_fault_errors - a.out_fault_errors > 16)
		fz_viol(fz,
			"a group too large to read: %llu failed reads in 400 ms (the worker spins)",
			(unsigned long long)(b.out_fault_errors -
					     a.out_fault_errors));
	if (b.out_fault_errors == a.out_fault_errors)
		fz_viol(fz, "a group too large to read did not count in out_fault_errors");
	/* The detach frees it with the fake queue; those reads are no error. */
	fz->ev->giant_done = true;
}

static void fz_ev_all_done(struct fz *fz, const char *when)
{
	struct fz_ev *ev = fz->ev;
	unsigned int g, left = 0;

	for (g = 0; g < ev->nr_groups; g++)
		if (ev->groups[g].state != G_DONE && left++ < 3)
			fz_viol(fz, "%s: group %u (%u records) in state %u, never answered",
				when, g, ev->groups[g].n, ev->groups[g].state);
}

/* A virtio reset: every outstanding group is answered INVALID. */
static int fz_ev_reset(struct fz *fz)
{
	int ret;

	fz_ev_expect_invalid_all(fz, 0, true);
	ret = fz_epoch(fz, true);
	fz_ev_reset_queue(fz);
	if (fz->ev->fake)
		fz_ev_responses(fz);
	else
		fz_ev_mock_resolve(fz);
	return ret;
}

/* End of a phase: all answered, and iommufd waits for nothing. */
static void fz_ev_detach(struct fz *fz)
{
	struct fz_ev *ev = fz->ev;
	struct iommu_hwpt_page_response resp;
	struct vhost_iommu_stats s;
	unsigned int c, left = 0;
	int ret;

	fz_phase(&fz->watch, "detach");
	if (ev->fake) {
		ret = fz_ev_reset(fz);
		if (ret)
			fz_viol(fz, "reset: %s", strerror(-ret));
		fz_ev_all_done(fz, "after a reset");
		if (!ev->giant_done && fz_pct(&fz->rng, 40))
			fz_ev_giant(fz);
	} else {
		fz_ev_expect_invalid_all(fz, 0, true);
	}
	ret = vhi_set_fault_queue(fz->fd, -1);
	if (ret)
		fz_viol(fz, "SET_FAULT_QUEUE -1: %s", strerror(-ret));
	ev->attached = false;
	if (!ev->fake) {
		fz_ev_mock_resolve(fz);
		for (c = 1; c <= ev->nr_groups + 64; c++) {
			resp.cookie = c;
			resp.code = IOMMUFD_PAGE_RESP_INVALID;
			if (write(ev->fault_fd, &resp, sizeof(resp)) ==
			    sizeof(resp))
				left++;
		}
		if (left)
			fz_viol(fz,
				"iommufd still waited for %u page request groups after the detach",
				left);
	}
	fz_ev_all_done(fz, "after the detach");
	if (ev->giant_done && !vhi_get_stats(fz->fd, &s))
		ev->st0.out_fault_errors = s.out_fault_errors;
	fz_ev_check_stats(fz, "detach");
}

/* Stopped: nothing is delivered or answered until the device runs. */
static void fz_ev_stopped_inject(struct fz *fz)
{
	struct fz_ev *ev = fz->ev;
	struct vhost_iommu_stats a, b;
	__u16 used = vg_used_idx(&fz->eq);
	struct iommu_hwpt_page_response r[4];
	__u32 nr = ARRAY_SIZE(r);
	int ret;

	ret = fz_run(fz, 0);
	if (ret) {
		fz_viol(fz, "SET_RUNNING 0: %s", strerror(-ret));
		return;
	}
	vhi_get_stats(fz->fd, &a);
	fz_ev_inject(fz);
	fz_ev_post_some(fz, fz_below(&fz->rng, 8));
	usleep(30 * 1000);
	vhi_get_stats(fz->fd, &b);
	if (vg_used_idx(&fz->eq) != used ||
	    b.out_page_reqs != a.out_page_reqs ||
	    b.out_page_req_invalid != a.out_page_req_invalid)
		fz_viol(fz,
			"a stopped device delivered or answered page requests (used %u -> %u, page_reqs +%llu, invalid +%llu)",
			used, vg_used_idx(&fz->eq),
			(unsigned long long)(b.out_page_reqs - a.out_page_reqs),
			(unsigned long long)(b.out_page_req_invalid -
					     a.out_page_req_invalid));
	if (ev->fake && !fz_test_op(fz, VHOST_IOMMU_TEST_FAKE_RESPONSES, r, &nr) &&
	    nr)
		fz_viol(fz, "a stopped device answered %u page request groups", nr);
	ret = fz_run(fz, 1);
	if (ret)
		fz_viol(fz, "SET_RUNNING 1: %s", strerror(-ret));
}

/* The event queue is stuck behind a short buffer, or broken: a new base. */
static int fz_ev_rebase(struct fz *fz)
{
	__u16 base = fz_pick_base(fz);
	int ret;

	ret = fz_run(fz, 0);
	if (ret)
		return ret;
	/* What the device wrote before it stopped is the guest's. */
	fz_ev_drain(fz);
	ret = vhi_set_vring_base(fz->fd, VHOST_IOMMU_VQ_EVENT, base);
	if (ret)
		return ret;
	fz_vq_rebase(&fz->eq, base);
	fz_ev_reset_queue(fz);
	return fz_run(fz, 1);
}

/*
 * The guest shrinks the event queue while stopped, a group maybe waiting
 * for buffers: one larger than the new queue can never be delivered and
 * must be answered INVALID, not stranded (the settle after it hangs if
 * it is).
 */
static int fz_ev_shrink(struct fz *fz)
{
	struct fz_ev *ev = fz->ev;
	unsigned int num = fz->eq.num, g;
	__u16 base = fz_pick_base(fz);
	int ret;

	if (num < 2)
		return 0;
	num >>= fz_range(&fz->rng, 1, 3);
	if (!num)
		num = 1;
	ret = fz_run(fz, 0);
	if (ret)
		return ret;
	fz_ev_drain(fz);
	ret = vhi_set_vring_num(fz->fd, VHOST_IOMMU_VQ_EVENT, num);
	if (!ret)
		ret = vhi_set_vring_base(fz->fd, VHOST_IOMMU_VQ_EVENT, base);
	if (ret)
		return ret;
	fz->eq.num = num;
	fz_vq_rebase(&fz->eq, base);
	fz_ev_reset_queue(fz);
	for (g = 0; g < ev->nr_groups; g++) {
		struct fz_group *grp = &ev->groups[g];

		if (grp->state != G_PENDING)
			continue;
		/* Its place in line was for buffers of the old queue. */
		grp->deliverable = false;
		if (grp->n > num) {
			grp->state = G_INVALID_EXP;
			ev->n_shrunk++;
		}
	}
	ev->shrinks++;
	return fz_run(fz, 1);
}

static int fz_ev_setup(struct fz *fz)
{
	struct fz_ev *ev = fz->ev;
	int ret;

	ret = imock_world_init(&fz->w);
	if (ret)
		return ret;
	fz->have_world = true;
	ret = imock_fault_alloc(fz->w.fd, &ev->fault_id, &ev->fault_fd);
	if (!ret)
		ret = imock_hwpt_alloc_nested(fz->w.fd, fz->w.idev_id,
					      fz->w.parent_id, ev->fault_id,
					      &ev->fault_hwpt);
	if (!ret)
		ret = imock_domain_replace(fz->w.fd, fz->w.stdev_id,
					   ev->fault_hwpt);
	if (!ret)
		ret = vhi_set_iommufd(fz->fd, fz->w.fd);
	if (!ret)
		ret = vhi_add_endpoint(fz->fd, ENDPOINT, fz->w.idev_id, 0);
	if (!ret)
		ret = vhi_add_endpoint(fz->fd, ENDPOINT2, FAKE_DEV2, 0);
	if (ret)
		return ret;
	ret = fz_test_op(fz, VHOST_IOMMU_TEST_FAKE_ATTACH, NULL, NULL);
	ev->have_fake = !ret;
	if (ret)
		fz_note("NOTE", "events: no fake fault queue (%s): mock only",
			strerror(-ret));
	return vhi_set_fault_queue(fz->fd, -1);
}

/*
 * Page requests from the mock (TRIGGER_IOPF) and from the fake fault
 * queue (multi-record groups), event buffers of many sizes, the guest's
 * PAGE_RESP right and wrong, stops, resets and endpoint removals: each
 * group is delivered whole or answered INVALID once, never both, and
 * iommufd waits for nothing in the end.
 */
TEST_F_TIMEOUT(fuzz, events, FZ_TEST_TIMEOUT)
{
	struct fz *fz = self->fz;
	struct fz_rng *r = &fz->rng;
	unsigned int round, rounds;
	int ret;

	if (!fz_start(_metadata, fz, FZ_T_EVENTS, "events"))
		return;
	fz->ev = calloc(1, sizeof(*fz->ev));
	ASSERT_NE(NULL, fz->ev);
	fz->ev->fault_fd = -1;
	fz->ev->cur = -1;
	fz->max_batch = 64;
	fz->ev->slots = fz->ev_slots;
	ASSERT_EQ(0, fz_dev_open(fz));
	ASSERT_EQ(0, fz_epoch(fz, false));
	ret = fz_ev_setup(fz);
	if (ret == -ENOENT)
		SKIP(return, "no " IMOCK_DEV_PATH ": kernel without iommufd");
	ASSERT_EQ(0, ret)
		TH_LOG("mock world with a fault queue: %s", strerror(-ret));
	while (fz->made < fz->budget) {
		ASSERT_EQ(0, fz_epoch(fz, true));
		fz_ev_reset_queue(fz);
		ASSERT_EQ(0, fz_ev_attach(_metadata, fz));
		rounds = fz_range(r, 3, 12);
		for (round = 0; round < rounds && fz->made < fz->budget; round++) {
			if (fz->ev->nr_groups + 20 >= FZ_MAX_GROUPS ||
			    fz->ev->nr_recs + 1000 >= FZ_MAX_RECS)
				break;
			fz_ev_post_some(fz, fz_below(r, fz->eq.num -
						       fz->ev->outstanding + 1));
			if (fz_pct(r, 8))
				fz_ev_stopped_inject(fz);
			else
				fz_ev_inject(fz);
			/* Groups just injected may be waiting for buffers. */
			if (fz->ev->fake && fz_pct(r, 6))
				ASSERT_EQ(0, fz_ev_shrink(fz));
			if (!fz_ev_settle(fz)) {
				fz_report(fz);
				ASSERT_TRUE(false);
			}
			fz_ev_answer(fz);
			ASSERT_FALSE(fz->b.hung);
			if (fz->ev->fake)
				fz_ev_responses(fz);
			if (fz->ev->fake && fz_pct(r, 6)) {
				fz_ev_expect_invalid_all(fz, ENDPOINT2, false);
				EXPECT_EQ(0, vhi_remove_endpoint(fz->fd, ENDPOINT2));
				fz_ev_responses(fz);
				EXPECT_EQ(0, vhi_add_endpoint(fz->fd, ENDPOINT2,
							      FAKE_DEV2, 0));
			} else if (fz_pct(r, 4)) {
				ASSERT_EQ(0, fz_ev_reset(fz));
			}
			if (fz->ev->stuck || fz->ev->broken || fz->ev->blocked)
				ASSERT_EQ(0, fz_ev_rebase(fz));
			fz_ev_check_stats(fz, "round");
		}
		fz_ev_detach(fz);
	}
	fz_note("STAT",
		"test=events phases=%llu shrinks=%u groups_too_large_after=%u",
		(unsigned long long)fz->ev->phases, fz->ev->shrinks,
		fz->ev->n_shrunk);
	fz_end(_metadata, fz);
	if (fz->ev->fault_fd >= 0)
		close(fz->ev->fault_fd);
	free(fz->ev);
	fz->ev = NULL;
}

/* ------------------------------------------------------------------ */
/* Random ioctl sequences around the traffic */

/* The same guest-physical to host-virtual mapping, cut and ordered anew. */
static unsigned int fz_equiv_table(struct fz *fz, struct vhost_memory_region *t)
{
	struct fz_rng *r = &fz->rng;
	__u64 page = 4096, off, len;
	unsigned int i, j, n = 0, cuts;
	struct vhost_memory_region tmp;

	for (i = 0; i < fz->nr_regions; i++) {
		const struct fz_region *g = &fz->regions[i];

		cuts = g->size / page >= 4 ? fz_below(r, 3) : 0;
		for (off = 0; off < g->size; off += len) {
			len = g->size - off;
			if (cuts && len > page) {
				len = page * fz_range(r, 1, len / page - 1);
				cuts--;
			}
			t[n++] = (struct vhost_memory_region) {
				.guest_phys_addr = g->gpa + off,
				.memory_size = len,
				.userspace_addr = g->hva + off,
			};
		}
	}
	for (i = n - 1; i > 0; i--) {
		j = fz_below(r, i + 1);
		tmp = t[i];
		t[i] = t[j];
		t[j] = tmp;
	}
	return n;
}

/* A bit for each errno the uAPI names; bit 0 is success. */
static __u32 fz_errbit(int e)
{
	static const int known[] = {
		0, EPERM, ENOENT, EBADF, EFAULT, EBUSY, EEXIST, EINVAL, ENOTTY,
		ENOSPC, E2BIG, EAGAIN, EOPNOTSUPP, ENOBUFS, EMSGSIZE, ENOMEM,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(known); i++)
		if (known[i] == e)
			return 1u << i;
	return 1u << 31;
}

#define FZ_ERR(e)	fz_errbit(e)

/* One ioctl whose result must be one of @want (FZ_ERR bits; 1: success). */
static int fz_expect(struct fz *fz, const char *what, int ret, __u32 want)
{
	fz->n_ioctls++;
	fz_log(fz, what, ret);
	if (!(want & fz_errbit(-ret)))
		fz_viol(fz, "%s: %d (%s), expected mask %#x", what, ret,
			ret ? strerror(-ret) : "ok", want);
	return ret;
}

static void fz_op_mem_table(struct fz *fz, bool busy)
{
	struct vhost_memory_region t[FZ_MAX_REGIONS * 4 + 80];
	struct fz_rng *r = &fz->rng;
	unsigned int n = fz_equiv_table(fz, t), k = fz_below(r, n), i;
	__u32 want = FZ_ERR(EINVAL);
	int ret;

	switch (fz_below(r, 8)) {
	case 0:
		t[n++] = t[k];
		break;
	case 1:
		t[k].memory_size = 0;
		break;
	case 2:
		for (i = n; i < VHOST_IOMMU_MAX_MEM_REGIONS + 1 + fz_below(r, 8); i++)
			t[i] = (struct vhost_memory_region) {
				.guest_phys_addr = (1ULL << 44) + (i << 12),
				.memory_size = 4096,
				.userspace_addr = fz->regions[0].hva,
			};
		n = i;
		want = FZ_ERR(E2BIG);
		break;
	case 3:
		t[k].guest_phys_addr = ~0ULL - fz_below(r, 4096);
		t[k].memory_size = 0x2000;
		break;
	case 4:
		t[k].userspace_addr = 0xffff888000000000ULL;
		want = FZ_ERR(EFAULT);
		break;
	case 5:
		ret = fz_ioctl(fz->fd, VHOST_SET_MEM_TABLE,
			       (void *)(uintptr_t)(fz_pct(r, 50) ? 8 : 0xdead000));
		fz_expect(fz, "SET_MEM_TABLE(bad pointer)", ret,
			  FZ_ERR(EFAULT) | (busy ? FZ_ERR(EBUSY) : 0));
		return;
	default:
		/* The same mapping: traffic goes on as before. */
		want = 1;
		break;
	}
	ret = vhi_set_mem_table(fz->fd, t, n);
	fz_expect(fz, "SET_MEM_TABLE", ret, want | (busy ? FZ_ERR(EBUSY) : 0));
}

/* Ring ioctls on an idle device: refused once started, else harmless. */
static void fz_op_rings(struct fz *fz)
{
	struct fz_rng *r = &fz->rng;
	bool fixed = fz->run == FZ_RUN_STARTED;
	__u32 busy = fixed ? FZ_ERR(EBUSY) : 0;
	struct vhost_vring_addr a = {
		.index = 0,
		.desc_user_addr = (uintptr_t)fz->rq.desc,
		.avail_user_addr = (uintptr_t)fz->rq.avail,
		.used_user_addr = (uintptr_t)fz->rq.used,
	};
	struct vhost_vring_state st;
	unsigned int base = 0;
	int ret;

	switch (fz_below(r, 10)) {
	case 0:
		ret = vhi_set_vring_num(fz->fd, 0, fz->rq.num);
		fz_expect(fz, "SET_VRING_NUM(same)", ret, fixed ? busy : 1);
		break;
	case 1:
		ret = fz_ioctl(fz->fd, VHOST_SET_VRING_ADDR, &a);
		fz_expect(fz, "SET_VRING_ADDR(same)", ret, fixed ? busy : 1);
		break;
	case 2:
		ret = vhi_set_vring_base(fz->fd, 0, fz->rq.avail_idx);
		fz_expect(fz, "SET_VRING_BASE(same)", ret, fixed ? busy : 1);
		if (!ret)
			fz_vq_rebase(&fz->rq, fz->rq.avail_idx);
		break;
	case 3:
		st = (struct vhost_vring_state) {
			.index = fz_range(r, VHOST_IOMMU_VQ_MAX, 0xffff),
		};
		ret = fz_ioctl(fz->fd, fz_pct(r, 50) ? VHOST_SET_VRING_NUM :
			       VHOST_GET_VRING_BASE, &st);
		fz_expect(fz, "vring ioctl on a bad index", ret, FZ_ERR(ENOBUFS));
		break;
	case 4:
		ret = vhi_set_vring_num(fz->fd, 0, fz_pct(r, 50) ? 0 :
					fz_pct(r, 50) ? 3 : 65536);
		fz_expect(fz, "SET_VRING_NUM(bad)", ret, busy | FZ_ERR(EINVAL));
		break;
	case 5:
		a.used_user_addr += fz_range(r, 1, 3);
		ret = fz_ioctl(fz->fd, VHOST_SET_VRING_ADDR, &a);
		fz_expect(fz, "SET_VRING_ADDR(misaligned)", ret,
			  busy | FZ_ERR(EINVAL));
		break;
	case 6:
		a.flags = 1u << VHOST_VRING_F_LOG;
		ret = fz_ioctl(fz->fd, VHOST_SET_VRING_ADDR, &a);
		fz_expect(fz, "SET_VRING_ADDR(LOG)", ret,
			  busy | FZ_ERR(EOPNOTSUPP));
		break;
	case 7:
		ret = vhi_set_vring_base(fz->fd, 0, 0x10000 + fz_below(r, 1000));
		fz_expect(fz, "SET_VRING_BASE(> 16 bits)", ret,
			  busy | FZ_ERR(EINVAL));
		break;
	case 8:
		ret = fz_pct(r, 50) ?
		      vhi_set_vring_call(fz->fd, fz_below(r, 2), fz->fd) :
		      vhi_set_vring_err(fz->fd, fz_below(r, 2),
					1000 + (int)fz_below(r, 100));
		fz_expect(fz, "SET_VRING_CALL/ERR(not an eventfd)", ret,
			  FZ_ERR(EINVAL) | FZ_ERR(EBADF));
		break;
	default:
		ret = vhi_get_vring_base(fz->fd, 0, &base);
		fz_expect(fz, "GET_VRING_BASE", ret, 1);
		if (!ret && (__u16)base != fz->rq.avail_idx)
			fz_viol(fz, "GET_VRING_BASE of an idle queue %u, expected %u",
				base, fz->rq.avail_idx);
		break;
	}
}

/* Extensible structs: one wrong thing at a time, the errno the uAPI says. */
static void fz_op_abi(struct fz *fz)
{
	static const struct {
		unsigned long cmd;
		__u32 size;	/* the first version */
		__u32 full;	/* what this header knows */
		__u32 bad_flag;
	} ext[] = {
#define FZ_EXT(cmd, type, flag) { cmd, sizeof(type), sizeof(type), flag }
		FZ_EXT(VHOST_IOMMU_SET_CONFIG, struct vhost_iommu_config, 1),
		FZ_EXT(VHOST_IOMMU_GET_REQUEST, struct vhost_iommu_request, 1),
		FZ_EXT(VHOST_IOMMU_COMPLETE_REQUEST,
		       struct vhost_iommu_completion, 1),
		{ VHOST_IOMMU_GET_STATS,
		  offsetof(struct vhost_iommu_stats, out_inval_errors) + 8,
		  sizeof(struct vhost_iommu_stats), 1 },
		FZ_EXT(VHOST_IOMMU_SET_IOMMUFD, struct vhost_iommu_iommufd, 1),
		FZ_EXT(VHOST_IOMMU_SET_ENDPOINT, struct vhost_iommu_endpoint, 2),
		FZ_EXT(VHOST_IOMMU_BIND_DOMAIN, struct vhost_iommu_bind, 4),
		FZ_EXT(VHOST_IOMMU_SET_FAULT_QUEUE,
		       struct vhost_iommu_fault_queue, 1),
		FZ_EXT(VHOST_IOMMU_POST_EVENT,
		       struct vhost_iommu_fault_report, 1),
#undef FZ_EXT
	};
	struct fz_rng *r = &fz->rng;
	unsigned int i = fz_below(r, ARRAY_SIZE(ext));
	__u32 buf[64] = {};
	int ret, err;

	switch (fz_below(r, 4)) {
	case 0:
		buf[0] = fz_below(r, ext[i].size);
		err = EINVAL;
		break;
	case 1:
		buf[0] = ext[i].full + 4 * fz_range(r, 1, 16);
		buf[(buf[0] - 4) / 4 - fz_below(r, (buf[0] - ext[i].full) / 4)] =
			fz_range(r, 1, ~0u);
		err = E2BIG;
		break;
	case 2:
		buf[0] = ext[i].full;
		buf[1] = ext[i].bad_flag << fz_below(r, 32 - ext[i].bad_flag);
		if (ext[i].cmd == VHOST_IOMMU_BIND_DOMAIN)
			buf[1] |= 1u << 31;
		err = EOPNOTSUPP;
		break;
	default:
		ret = fz_ioctl(fz->fd, ext[i].cmd,
			       (void *)(uintptr_t)(fz_pct(r, 50) ? 16 :
						   0xffff888000000000ULL));
		fz_expect(fz, "extensible ioctl, bad pointer", ret,
			  FZ_ERR(EFAULT));
		return;
	}
	ret = fz_ioctl(fz->fd, ext[i].cmd, buf);
	if (fz_expect(fz, "extensible ioctl", ret, FZ_ERR(err)) != -err)
		ksft_print_msg("  (cmd %#lx size %u flags %#x)\n", ext[i].cmd,
			       buf[0], buf[1]);
}

static bool fz_known_cmd(unsigned long cmd)
{
	static const unsigned long known[] = {
		VHOST_GET_FEATURES, VHOST_SET_FEATURES, VHOST_SET_OWNER,
		VHOST_RESET_OWNER, VHOST_SET_MEM_TABLE,
		VHOST_GET_BACKEND_FEATURES, VHOST_SET_BACKEND_FEATURES,
		VHOST_SET_VRING_NUM, VHOST_SET_VRING_ADDR, VHOST_SET_VRING_BASE,
		VHOST_GET_VRING_BASE, VHOST_SET_VRING_KICK,
		VHOST_SET_VRING_CALL, VHOST_SET_VRING_ERR,
		VHOST_IOMMU_SET_CONFIG, VHOST_IOMMU_GET_REQUEST,
		VHOST_IOMMU_COMPLETE_REQUEST, VHOST_IOMMU_RESET_DEVICE,
		VHOST_IOMMU_GET_STATS, VHOST_IOMMU_SET_IOMMUFD,
		VHOST_IOMMU_SET_ENDPOINT, VHOST_IOMMU_BIND_DOMAIN,
		VHOST_IOMMU_SET_FAULT_QUEUE, VHOST_IOMMU_SET_RUNNING,
		VHOST_IOMMU_GET_INFO, VHOST_IOMMU_POST_EVENT,
		VHOST_IOMMU_TEST,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(known); i++)
		if (known[i] == cmd)
			return true;
	return false;
}

/*
 * Garbage: unknown numbers in the vhost space on the device (ENOTTY),
 * and anything at all on a second, scratch device.
 */
static void fz_op_garbage(struct fz *fz)
{
	struct fz_rng *r = &fz->rng;
	__u8 buf[256];
	unsigned long cmd;
	unsigned int i;
	int scratch, ret;

	for (i = 0; i < 8; i++) {
		do
			cmd = _IOC(fz_below(r, 4), VHOST_VIRTIO, fz_below(r, 256),
				   fz_below(r, 128));
		while (fz_known_cmd(cmd));
		fz_fill_random(r, buf, sizeof(buf));
		ret = fz_ioctl(fz->fd, cmd, fz_pct(r, 80) ? buf : NULL);
		fz_expect(fz, "unknown ioctl", ret, FZ_ERR(ENOTTY));
	}
	scratch = vhi_open();
	if (scratch < 0) {
		fz_viol(fz, "open: %s", strerror(-scratch));
		return;
	}
	if (fz_pct(r, 70))
		vhi_set_owner(scratch);
	for (i = 0; i < 24; i++) {
		cmd = _IOC(fz_below(r, 4), fz_pct(r, 90) ? VHOST_VIRTIO :
			   fz_below(r, 256), fz_pct(r, 50) ? fz_below(r, 0x30) :
			   fz_range(r, 0x9f, 0xbf), fz_below(r, 256));
		/* Nothing that points the worker at this process's memory. */
		if (cmd == VHOST_SET_VRING_ADDR || cmd == VHOST_SET_MEM_TABLE)
			continue;
		fz_fill_random(r, buf, sizeof(buf));
		if (fz_pct(r, 50))
			*(__u32 *)buf = fz_below(r, 300);
		ret = fz_ioctl(scratch, cmd, fz_pct(r, 85) ? (void *)buf :
			       (void *)(uintptr_t)fz_edge64(r));
		fz->n_ioctls++;
		if (ret > 0 || ret == -EINTR)
			fz_viol(fz, "garbage ioctl %#lx returned %d", cmd, ret);
	}
	close(scratch);
}

static void fz_op_running(struct fz *fz)
{
	struct fz_rng *r = &fz->rng;
	int v, ret;

	if (fz_pct(r, 50)) {
		v = fz_pct(r, 50) ? 2 + (int)fz_below(r, 100) :
		    -1 - (int)fz_below(r, 100);
		ret = fz_set_running(fz->fd, v);
		fz_expect(fz, "SET_RUNNING(bad value)", ret, FZ_ERR(EINVAL));
		return;
	}
	ret = fz_ioctl(fz->fd, VHOST_IOMMU_SET_RUNNING, (void *)8);
	fz_expect(fz, "SET_RUNNING(bad pointer)", ret, FZ_ERR(EFAULT));
}

/* Whether BIND_DOMAIN takes @format on this kernel, per GET_INFO. */
static bool fz_format_taken(struct fz *fz, __u32 format)
{
	struct vhost_iommu_info info;

	if (format >= 64 || vhi_get_info(fz->fd, &info))
		return false;
	return info.inv_formats & (1ull << format);
}

static void fz_op_bind(struct fz *fz)
{
	struct fz_rng *r = &fz->rng;
	struct vhost_iommu_bind b = {};
	bool has_pasid = fz_pct(r, 25);
	__u32 domain = fz_range(r, 1, 6), want;
	unsigned int i, at = fz->nr_binds;
	int ret;

	for (i = 0; i < fz->nr_binds; i++)
		if (fz->binds[i].domain == domain &&
		    fz->binds[i].has_pasid == has_pasid &&
		    (!has_pasid || fz->binds[i].pasid == 5))
			at = i;
	b.domain = domain;
	b.flags = has_pasid ? VHOST_IOMMU_BIND_F_PASID : 0;
	b.pasid = has_pasid ? 5 : 0;
	b.object_id = fz->w.nested_id;
	b.format = VHOST_IOMMU_INV_FORMAT_SELFTEST;
	b.input_end = ~0ULL;
	b.granule_log2 = 12;
	switch (fz_below(r, 6)) {
	case 0:
	case 1:
		want = fz->have_world && fz->w.fd >= 0 && fz->iommufd_set ? 1 :
		       FZ_ERR(EINVAL);
		ret = vhi_bind_domain(fz->fd, &b);
		fz_expect(fz, "BIND_DOMAIN", ret, want);
		if (!ret && at == fz->nr_binds && at < FZ_MAX_BINDS) {
			fz->binds[at] = (struct fz_bind) { domain, has_pasid,
							   b.pasid };
			fz->nr_binds++;
		}
		break;
	case 2:
		ret = vhi_unbind_domain(fz->fd, domain, b.flags, b.pasid);
		fz_expect(fz, "unbind", ret, at < fz->nr_binds ? 1 :
			  FZ_ERR(ENOENT));
		if (!ret && at < fz->nr_binds)
			fz->binds[at] = fz->binds[--fz->nr_binds];
		break;
	case 3:
		b.granule_log2 = fz_pct(r, 50) ? fz_below(r, 12) : 64 + fz_below(r, 10);
		ret = vhi_bind_domain(fz->fd, &b);
		fz_expect(fz, "BIND_DOMAIN(bad granule)", ret, FZ_ERR(EINVAL));
		break;
	case 4:
		b.input_start = 0x2000;
		b.input_end = 0x1000;
		ret = vhi_bind_domain(fz->fd, &b);
		fz_expect(fz, "BIND_DOMAIN(bad range)", ret, FZ_ERR(EINVAL));
		break;
	default:
		b.format = fz_pct(r, 50) ? VHOST_IOMMU_INV_FORMAT_ARM_SMMUV3 :
			   fz_range(r, VHOST_IOMMU_INV_FORMAT_VIOMMU_SELFTEST + 1,
				    1000);
		/* Kernels from 6.14 take ARM_SMMUV3: a format none takes. */
		if (fz_format_taken(fz, b.format))
			b.format = 0x100;
		ret = vhi_bind_domain(fz->fd, &b);
		fz_expect(fz, "BIND_DOMAIN(other format)", ret,
			  FZ_ERR(EOPNOTSUPP) | FZ_ERR(EINVAL));
		break;
	}
}

static void fz_op_endpoint(struct fz *fz)
{
	struct fz_rng *r = &fz->rng;
	__u32 ep = fz_range(r, 20, 23), bit = 1u << (ep - 20);
	struct vhost_iommu_endpoint e = {
		.size = sizeof(e), .endpoint = ep, .dev_id = fz_next(r),
	};
	int ret;

	switch (fz_below(r, 4)) {
	case 0:
		ret = vhi_add_endpoint(fz->fd, ep, e.dev_id, fz_below(r, 100));
		fz_expect(fz, "add endpoint", ret, fz->eps & bit ?
			  FZ_ERR(EEXIST) : 1);
		if (!ret)
			fz->eps |= bit;
		break;
	case 1:
		ret = vhi_remove_endpoint(fz->fd, ep);
		fz_expect(fz, "remove endpoint", ret, fz->eps & bit ? 1 :
			  FZ_ERR(ENOENT));
		if (!ret)
			fz->eps &= ~bit;
		break;
	case 2:
		e.virt_id = 0x100000000ULL + fz_below(r, 1000);
		ret = fz_ioctl(fz->fd, VHOST_IOMMU_SET_ENDPOINT, &e);
		fz_expect(fz, "add endpoint(virt_id > 32 bits)", ret,
			  fz->eps & bit ? FZ_ERR(EEXIST) | FZ_ERR(EINVAL) :
			  FZ_ERR(EINVAL));
		break;
	default:
		e.flags = 2u << fz_below(r, 30);
		ret = fz_ioctl(fz->fd, VHOST_IOMMU_SET_ENDPOINT, &e);
		fz_expect(fz, "SET_ENDPOINT(unknown flag)", ret,
			  FZ_ERR(EOPNOTSUPP));
		break;
	}
}

static void fz_op_iommufd(struct fz *fz)
{
	struct fz_rng *r = &fz->rng;
	int efd, ret;

	if (!fz->have_world)
		return;
	switch (fz_below(r, 5)) {
	case 0:
		ret = vhi_set_iommufd(fz->fd, -1);
		fz_expect(fz, "SET_IOMMUFD(-1)", ret, 1);
		fz->iommufd_set = false;
		fz->nr_binds = 0;
		fz->faultq = false;
		break;
	case 1:
		ret = vhi_set_iommufd(fz->fd, fz->w.fd);
		fz_expect(fz, "SET_IOMMUFD", ret, 1);
		fz->iommufd_set = !ret;
		fz->nr_binds = 0;
		fz->faultq = false;
		break;
	case 2:
		efd = eventfd(0, EFD_CLOEXEC);
		ret = vhi_set_iommufd(fz->fd, efd);
		close(efd);
		fz_expect(fz, "SET_IOMMUFD(eventfd)", ret, FZ_ERR(EINVAL));
		break;
	case 3:
		ret = vhi_set_fault_queue(fz->fd, fz_pct(r, 50) ? fz->fd :
					  900 + (int)fz_below(r, 50));
		fz_expect(fz, "SET_FAULT_QUEUE(not one)", ret,
			  FZ_ERR(EINVAL) | FZ_ERR(EBADF));
		break;
	default:
		if (fz_pct(r, 50) || fz->fault_fd < 0) {
			ret = vhi_set_fault_queue(fz->fd, -1);
			fz_expect(fz, "SET_FAULT_QUEUE(-1)", ret, 1);
			fz->faultq = false;
		} else {
			ret = vhi_set_fault_queue(fz->fd, fz->fault_fd);
			fz_expect(fz, "SET_FAULT_QUEUE", ret, fz->iommufd_set ?
				  1 : FZ_ERR(EINVAL));
			fz->faultq = !ret;
		}
		break;
	}
}

/* Everything a new owner sets up; bindings come back as the model says. */
static int fz_full_setup(struct fz *fz)
{
	unsigned int i, n = fz->nr_binds;
	struct vhost_iommu_bind b;
	int ret;

	ret = vhi_set_owner(fz->fd);
	if (!ret)
		ret = fz_set_mem_table(fz);
	if (!ret && fz->backend)
		ret = vhi_set_backend_features(fz->fd, fz->backend);
	if (ret)
		return ret;
	fz->run = FZ_RUN_AUTO;
	fz->eps = 0;
	fz->faultq = false;
	fz->iommufd_set = false;
	fz->nr_binds = 0;
	if (fz->have_world) {
		ret = vhi_set_iommufd(fz->fd, fz->w.fd);
		if (ret)
			return ret;
		fz->iommufd_set = true;
		for (i = 0; i < n && fz_pct(&fz->rng, 70); i++) {
			memset(&b, 0, sizeof(b));
			b.domain = fz->binds[i].domain;
			b.flags = fz->binds[i].has_pasid ?
				  VHOST_IOMMU_BIND_F_PASID : 0;
			b.pasid = fz->binds[i].pasid;
			b.object_id = fz->w.nested_id;
			b.format = VHOST_IOMMU_INV_FORMAT_SELFTEST;
			b.input_end = ~0ULL;
			b.granule_log2 = 12;
			if (vhi_bind_domain(fz->fd, &b))
				break;
			fz->nr_binds++;
		}
	}
	fz->st_valid = false;
	return fz_epoch(fz, false);
}

/* Another process, even a child sharing the file, owns nothing. */
static void fz_op_other_process(struct fz *fz)
{
	struct vhost_iommu_stats s;
	int status = 0, bad = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (!pid) {
		if (vhi_get_stats(fz->fd, &s) != -EPERM)
			bad |= 1;
		if (vhi_reset_owner(fz->fd) != -EPERM)
			bad |= 2;
		if (vhi_set_owner(fz->fd) != -EBUSY)
			bad |= 4;
		if (vhi_reset_device(fz->fd) != -EPERM)
			bad |= 8;
		_exit(bad);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		fz_viol(fz, "fork: %s", strerror(errno));
		return;
	}
	fz->n_ioctls += 4;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fz_viol(fz, "ioctls from another process: result bits %#x (status %#x)",
			WIFEXITED(status) ? WEXITSTATUS(status) : 0xff, status);
}

static int fz_op_reset_owner(struct fz *fz)
{
	struct vhost_iommu_stats s;
	__u64 f = 0;
	int ret;

	ret = vhi_reset_owner(fz->fd);
	fz_expect(fz, "RESET_OWNER", ret, 1);
	fz_expect(fz, "GET_STATS without an owner", vhi_get_stats(fz->fd, &s),
		  FZ_ERR(EPERM));
	fz_expect(fz, "SET_FEATURES without an owner",
		  vhi_set_features(fz->fd, fz->features), FZ_ERR(EPERM));
	fz_expect(fz, "GET_FEATURES without an owner",
		  vhi_get_features(fz->fd, &f), 1);
	if (f != VHI_FEATURES_OFFERED)
		fz_viol(fz, "GET_FEATURES %#llx", (unsigned long long)f);
	return fz_full_setup(fz);
}

static int fz_op_reopen_closed(struct fz *fz)
{
	struct vhost_iommu_stats s;
	int ret;

	fz->fd = vhi_open();
	if (fz->fd < 0)
		return fz->fd;
	ret = fz_full_setup(fz);
	if (ret)
		return ret;
	ret = vhi_get_stats(fz->fd, &s);
	if (!ret && (s.out_requests || s.out_slow_path || s.out_broken))
		fz_viol(fz, "a new file's counters are not zero (requests %llu)",
			(unsigned long long)s.out_requests);
	return ret;
}

static int fz_op_reopen(struct fz *fz)
{
	close(fz->fd);
	fz->fd = -1;
	return fz_op_reopen_closed(fz);
}

/* Waits for the device to park a request of this batch: false if none. */
static bool fz_wait_park(struct fz *fz)
{
	__s64 end = fz_now_ms() + FZ_HANG_MS;
	struct pollfd p = { .fd = fz->fd, .events = POLLIN };

	while (fz_now_ms() < end) {
		fz_drain(fz);
		if (poll(&p, 1, 2) > 0 && (p.revents & POLLIN)) {
			/* It parks after completing what came before it. */
			fz_drain(fz);
			return true;
		}
		if (fz->b.nused >= fz->b.n ||
		    !vg_eventfd_wait(fz->rq.err_fd, 0, NULL))
			return false;
	}
	return false;
}

/*
 * Stop, save and restore around a parked request, as the uAPI says a VMM
 * may: nothing is lost, nothing is answered twice.
 */
static void fz_mid_parked(struct fz *fz)
{
	struct vhost_memory_region t[FZ_MAX_REGIONS * 4];
	__u8 buf[VHI_REQ_BUF_SIZE];
	struct fz_rng *r = &fz->rng;
	struct vhost_iommu_request req;
	unsigned int base = 0, k, v = fz_below(r, 6), n;
	struct fz_chain *c;
	int ret;

	if (!fz_wait_park(fz))
		return;
	c = fz_get_parked(fz, &req, buf, &ret);
	if (ret || !c)
		return;
	k = (__u16)(fz->rq.last_used - fz->b.u0);
	if (v <= 3) {
		fz_expect(fz, "SET_RUNNING 0 with a parked request",
			  fz_run(fz, 0), 1);
		fz_expect(fz, "GET_VRING_BASE", vhi_get_vring_base(fz->fd, 0, &base),
			  1);
		if ((__u16)base != (__u16)(fz->b.a0 + k))
			fz_viol(fz, "GET_VRING_BASE %u with request %u parked: expected %u",
				base, k, (__u16)(fz->b.a0 + k));
	}
	switch (v) {
	case 0:
		ret = vhi_set_vring_base(fz->fd, 0, (__u16)(fz->b.a0 + k));
		break;
	case 1:
		ret = vhi_set_vring_num(fz->fd, 0, fz->rq.num);
		break;
	case 2:
		n = fz_equiv_table(fz, t);
		ret = vhi_set_mem_table(fz->fd, t, n);
		break;
	case 3:
		/* Completed while stopped: counted as done. */
		fz_complete_parked(fz, c, &req);
		fz_drain(fz);
		fz_expect(fz, "GET_VRING_BASE", vhi_get_vring_base(fz->fd, 0, &base),
			  1);
		if ((__u16)base != (__u16)(fz->b.a0 + k + 1))
			fz_viol(fz, "GET_VRING_BASE %u after completing request %u while stopped",
				base, k);
		fz_expect(fz, "SET_RUNNING 1", fz_run(fz, 1), 1);
		return;
	case 4:
		/* Not stopped: the ring and the memory table stay as they are. */
		n = fz_equiv_table(fz, t);
		fz_expect(fz, "SET_VRING_NUM with a parked request",
			  vhi_set_vring_num(fz->fd, 0, fz->rq.num), FZ_ERR(EBUSY));
		fz_expect(fz, "SET_MEM_TABLE with a parked request",
			  vhi_set_mem_table(fz->fd, t, n), FZ_ERR(EBUSY));
		fz_complete_parked(fz, c, &req);
		return;
	default:
		/* A new base without a stop puts it back too, if allowed. */
		ret = vhi_set_vring_base(fz->fd, 0, (__u16)(fz->b.a0 + k));
		fz_expect(fz, "SET_VRING_BASE with a parked request", ret,
			  fz->run == FZ_RUN_STARTED ? FZ_ERR(EBUSY) : 1);
		if (ret) {
			fz_complete_parked(fz, c, &req);
			return;
		}
		break;
	}
	fz_expect(fz, "setup change with a parked request (stopped)", ret, 1);
	/* Put back: its cookie is stale, the device reads it again. */
	fz_expect(fz, "COMPLETE_REQUEST of a put-back request",
		  vhi_complete_request(fz->fd, req.out_cookie, 0, NULL, 0),
		  FZ_ERR(ENOENT));
	if (v <= 3)
		fz_expect(fz, "GET_REQUEST after a put-back",
			  vhi_get_request(fz->fd, &req, buf, sizeof(buf)),
			  FZ_ERR(EAGAIN));
	fz->b.extra_parks++;
	if (v <= 3)
		fz_expect(fz, "SET_RUNNING 1", fz_run(fz, 1), 1);
}

/* Stopped in the middle of a batch: nothing moves until it runs again. */
static void fz_mid_stop(struct fz *fz)
{
	struct pollfd p = { .fd = fz->fd, .events = POLLIN };
	__u16 used;

	fz_expect(fz, "SET_RUNNING 0", fz_run(fz, 0), 1);
	fz_drain(fz);
	used = fz->rq.last_used;
	/* A parked request can still be answered while stopped. */
	if (poll(&p, 1, 0) > 0 && (p.revents & POLLIN) && fz_pct(&fz->rng, 50)) {
		fz_serve(fz);
		used++;
	}
	usleep(10 * 1000);
	if (vg_used_idx(&fz->rq) != used)
		fz_viol(fz, "a stopped device used %u more entries",
			(__u16)(vg_used_idx(&fz->rq) - used));
	fz_drain(fz);
	fz_expect(fz, "SET_RUNNING 1", fz_run(fz, 1), 1);
}

/*
 * The batch ends here: reset, closed or lost its owner. What was used
 * was checked; nothing more may come.
 */
static void fz_mid_abort(struct fz *fz, int how)
{
	struct vhost_iommu_stats s;
	__u8 buf[VHI_REQ_BUF_SIZE];
	struct vhost_iommu_request req;
	__u64 cookie = 0;
	__u16 used;

	fz_drain(fz);
	if (!vhi_get_request(fz->fd, &req, buf, sizeof(buf)))
		cookie = req.out_cookie;
	if (how == 0) {
		fz_expect(fz, "RESET_DEVICE mid-batch", vhi_reset_device(fz->fd), 1);
		if (cookie)
			fz_expect(fz, "COMPLETE_REQUEST after a reset",
				  vhi_complete_request(fz->fd, cookie, 0, NULL, 0),
				  FZ_ERR(ENOENT));
		fz_expect(fz, "GET_REQUEST after a reset",
			  vhi_get_request(fz->fd, &req, buf, sizeof(buf)),
			  FZ_ERR(EAGAIN));
		if (!(fz->backend & FBIT(VHOST_IOMMU_BACKEND_F_PERSIST)))
			fz->nr_binds = 0;
	} else if (how == 1) {
		fz_expect(fz, "RESET_OWNER mid-batch", vhi_reset_owner(fz->fd), 1);
	} else {
		close(fz->fd);
		fz->fd = -1;
	}
	fz_drain(fz);
	used = fz->rq.last_used;
	usleep(10 * 1000);
	if (vg_used_idx(&fz->rq) != used)
		fz_viol(fz, "%u entries used after the device was reset or closed",
			(__u16)(vg_used_idx(&fz->rq) - used));
	if (how == 0 && !vhi_get_stats(fz->fd, &s) &&
	    s.out_requests - fz->b.st0.out_requests != fz->b.nused)
		fz_viol(fz, "out_requests +%llu, %u used entries seen before the reset",
			(unsigned long long)(s.out_requests -
					     fz->b.st0.out_requests),
			fz->b.nused);
	fz->b.aborted = true;
	fz->made += fz->b.n;
	fz->n_used += fz->b.nused;
	fz->st_valid = false;
}

static const char * const fz_mid_names[] = {
	"parked", "parked", "parked", "stop", "stop", "mem table", "reset",
	"reset owner", "close",
};

/* A batch with an ioctl while it is in flight. */
static int fz_ioctl_batch(struct fz *fz)
{
	struct fz_rng *r = &fz->rng;
	unsigned int op = fz_below(r, 12), brk;

	fz_gen_batch(fz);
	if (!fz->b.n)
		return fz_epoch(fz, true);
	fz_phase(&fz->watch, "ioctl batch");
	fz_batch_publish(fz);
	fz->b.op = op < ARRAY_SIZE(fz_mid_names) ? fz_mid_names[op] : NULL;
	fz_log(fz, fz->b.op ? fz->b.op : "plain batch", fz->b.n);
	switch (op) {
	case 0:
	case 1:
	case 2:
		fz_mid_parked(fz);
		break;
	case 3:
	case 4:
		fz_mid_stop(fz);
		break;
	case 5:
		fz_op_mem_table(fz, true);
		break;
	case 6:
		fz_mid_abort(fz, 0);
		fz->b.aborted = false;
		return fz_epoch(fz, false);
	case 7:
		fz_mid_abort(fz, 1);
		return fz_full_setup(fz);
	case 8:
		fz_mid_abort(fz, 2);
		return fz_op_reopen_closed(fz);
	default:
		break;
	}
	fz_wait(fz);
	brk = fz_finish(fz);
	fz_batch_stats(fz, brk);
	fz->made += fz->b.n;
	fz->n_used += fz->b.nused;
	return fz->b.hung ? -ETIMEDOUT : 0;
}

static const char * const fz_idle_names[] = {
	"idle: mem table", "idle: mem table", "idle: rings", "idle: rings",
	"idle: abi", "idle: abi", "idle: garbage", "idle: running",
	"idle: bind", "idle: endpoint", "idle: iommufd", "idle: other process",
	"idle: reset owner", "idle: reopen", "idle: backend", "idle: reset",
};

/* Between batches: one ioctl or a few, their errno as the uAPI says. */
static int fz_ioctl_idle(struct fz *fz)
{
	struct fz_rng *r = &fz->rng;
	unsigned int op = fz_below(r, ARRAY_SIZE(fz_idle_names));
	__u64 backend;
	int ret;

	fz->st_valid = false;
	fz_log(fz, fz_idle_names[op], 0);
	switch (op) {
	case 0:
	case 1:
		fz_op_mem_table(fz, false);
		return 0;
	case 2:
	case 3:
		fz_op_rings(fz);
		return 0;
	case 4:
	case 5:
		fz_op_abi(fz);
		return 0;
	case 6:
		fz_op_garbage(fz);
		return 0;
	case 7:
		fz_op_running(fz);
		return 0;
	case 8:
		fz_op_bind(fz);
		return 0;
	case 9:
		fz_op_endpoint(fz);
		return 0;
	case 10:
		fz_op_iommufd(fz);
		return 0;
	case 11:
		fz_op_other_process(fz);
		return 0;
	case 12:
		return fz_op_reset_owner(fz);
	case 13:
		return fz_op_reopen(fz);
	case 14:
		backend = fz_pct(r, 50) ? FBIT(VHOST_IOMMU_BACKEND_F_PERSIST) :
			  fz_pct(r, 50) ? 0 : fz_next(r) | 1;
		ret = vhi_set_backend_features(fz->fd, backend);
		fz_expect(fz, "SET_BACKEND_FEATURES", ret,
			  backend & ~FBIT(VHOST_IOMMU_BACKEND_F_PERSIST) ?
			  FZ_ERR(EOPNOTSUPP) : 1);
		if (!ret)
			fz->backend = backend;
		return 0;
	default:
		ret = fz_epoch(fz, true);
		if (!(fz->backend & FBIT(VHOST_IOMMU_BACKEND_F_PERSIST)))
			fz->nr_binds = 0;
		if (!ret && fz_pct(r, 50))
			ret = fz_run(fz, fz_below(r, 2)) ?: fz_run(fz, 1);
		return ret;
	}
}

/*
 * Random ioctl sequences between and during batches: memory tables (the
 * same mapping cut anew, or broken), ring changes, SET_RUNNING, stop and
 * restore around a parked request, bindings, endpoints, the iommufd and
 * fault queue, resets, RESET_OWNER, closing and reopening, another
 * process, garbage numbers and arguments. The traffic after each must
 * still be answered exactly.
 */
TEST_F_TIMEOUT(fuzz, ioctls, FZ_TEST_TIMEOUT)
{
	struct fz *fz = self->fz;
	int ret;

	if (!fz_start(_metadata, fz, FZ_T_IOCTLS, "ioctls"))
		return;
	fz->indirect_pct = 20;
	fz->max_batch = 48;
	fz->careless_pct = 10;
	fz->rewinds = true;
	fz->backend = FBIT(VHOST_IOMMU_BACKEND_F_PERSIST);
	ASSERT_EQ(0, fz_dev_open(fz));
	ret = fz_world_bind(fz);
	if (ret)
		fz_note("NOTE", "ioctls: no mock (%s): no bindings or fault queue",
			strerror(-ret));
	else
		imock_fault_alloc(fz->w.fd, &(__u32){ 0 }, &fz->fault_fd);
	ASSERT_EQ(0, fz_epoch(fz, false));
	while (fz->made < fz->budget) {
		ret = fz_pct(&fz->rng, 50) ? fz_ioctl_idle(fz) : 0;
		ASSERT_EQ(0, ret)
			TH_LOG("ioctls: setup after an ioctl failed (seed %llu, batch %llu)",
			       (unsigned long long)fz->seed,
			       (unsigned long long)fz->n_batches);
		ret = fz_ioctl_batch(fz);
		if (ret == -ETIMEDOUT)
			fz_report(fz);
		ASSERT_EQ(0, ret)
			TH_LOG("ioctls: batch %llu (seed %llu): %s",
			       (unsigned long long)fz->n_batches,
			       (unsigned long long)fz->seed, strerror(-ret));
		if (fz->b.err || fz->b.chaos)
			ASSERT_EQ(0, fz_epoch(fz, true));
	}
	fz_end(_metadata, fz);
}

/* ------------------------------------------------------------------ */
/* VMM processes killed with requests in flight */

struct fz_shared {
	__u64 made;
	__u64 viol;
	int stage;
};

static int fz_refcnt(void)
{
	char buf[32] = {};
	int fd, n;

	fd = open("/sys/module/vhost_iommu/refcnt", O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

enum {
	FZ_KILL_PARKED,		/* a request waits for a VMM that dies */
	FZ_KILL_TRAFFIC,	/* killed while serving batches */
	FZ_KILL_FAULTS,		/* page requests outstanding */
	FZ_KILL_STOPPED,	/* stopped with a parked request */
	FZ_KILL_THREADS,	/* ioctls from a second thread as it serves */
	FZ_KILL_SHARED,		/* the file outlives its owner in the parent */
	FZ_KILL_SETUP,		/* killed while setting the device up */
	FZ_KILL_EXEC,		/* execs with the fds kept; the new image kicks */
	FZ_KILL_NR,
};

static void *fz_kill_hammer(void *arg)
{
	struct fz *fz = arg;
	struct vhost_iommu_stats s;
	unsigned int base;
	int v;

	for (;;) {
		vhi_get_stats(fz->fd, &s);
		vhi_get_vring_base(fz->fd, 0, &base);
		v = (int)(s.out_requests & 1);
		fz_set_running(fz->fd, v);
		fz_set_running(fz->fd, 1);
		fz_set_mem_table(fz);
	}
	return NULL;
}

#define FZ_EXEC_ARG	"--fz-exec-kick"

/*
 * The owner execs with its device and kick fds kept open: the worker's
 * mm is gone, the new image kicks until it is killed. Never returns.
 */
static void fz_kill_exec(struct fz *fz, int ready)
{
	char a[3][16];

	fz_batch_publish(fz);
	if (fcntl(fz->fd, F_SETFD, 0) || fcntl(fz->rq.kick_fd, F_SETFD, 0))
		_exit(8);
	snprintf(a[0], sizeof(a[0]), "%d", fz->fd);
	snprintf(a[1], sizeof(a[1]), "%d", fz->rq.kick_fd);
	snprintf(a[2], sizeof(a[2]), "%d", ready);
	execl("/proc/self/exe", "robust-fuzz", FZ_EXEC_ARG, a[0], a[1], a[2],
	      (char *)NULL);
	_exit(9);
}

/* The image fz_kill_exec runs: no owner any more, its kicks harmless. */
static int fz_exec_kick_main(int argc, char **argv)
{
	struct vhost_iommu_stats st = { .size = sizeof(st) };
	int fd, kick, ready;
	__u64 one = 1;

	if (argc != 5)
		return 10;
	fd = atoi(argv[2]);
	kick = atoi(argv[3]);
	ready = atoi(argv[4]);
	if (ioctl(fd, VHOST_IOMMU_GET_STATS, &st) != -1 || errno != EPERM)
		return 11;
	if (write(kick, &one, sizeof(one)) != sizeof(one) ||
	    write(ready, "x", 1) != 1)
		return 12;
	for (;;) {
		if (write(kick, &one, sizeof(one)) != sizeof(one) &&
		    errno != EAGAIN)
			return 13;
		usleep(500);
	}
}

/* The child: a VMM with a device and traffic, until it is killed. */
static void fz_kill_child(struct fz *fz, int how, int ready,
			  struct fz_shared *sh)
{
	struct imock_world w;
	__u32 fault_id, hwpt;
	int fault_fd, i;
	pthread_t t;

	fz->nr_viol = 0;
	fz->st_valid = false;
	/*
	 * Guest memory and eventfds of its own: the parent's device is on
	 * the inherited ones.
	 */
	fz_mem_destroy(fz);
	if (fz_mem_init(fz))
		_exit(7);
	if (how != FZ_KILL_SHARED) {
		close(fz->fd);
		fz->fd = -1;
	}
	if (how == FZ_KILL_SETUP) {
		if (write(ready, "s", 1) < 0)
			_exit(2);
		for (;;) {
			fz->fd = vhi_open();
			if (!fz_dev_open_fd(fz) && !fz_epoch(fz, false))
				fz_set_running(fz->fd, fz_below(&fz->rng, 2));
			close(fz->fd);
			sh->made++;
		}
	}
	if (how == FZ_KILL_SHARED) {
		if (vhi_set_owner(fz->fd) || fz_set_mem_table(fz))
			_exit(3);
	} else if (fz_dev_open(fz)) {
		_exit(3);
	}
	fz->run = FZ_RUN_AUTO;
	if (fz_epoch(fz, false))
		_exit(4);
	if (how == FZ_KILL_FAULTS && !imock_world_init(&w) &&
	    !imock_fault_alloc(w.fd, &fault_id, &fault_fd) &&
	    !imock_hwpt_alloc_nested(w.fd, w.idev_id, w.parent_id, fault_id,
				     &hwpt) &&
	    !imock_domain_replace(w.fd, w.stdev_id, hwpt) &&
	    !vhi_set_iommufd(fz->fd, w.fd) &&
	    !vhi_add_endpoint(fz->fd, ENDPOINT, w.idev_id, 0) &&
	    !vhi_set_fault_queue(fz->fd, fault_fd)) {
		fz->resp_any = true;
		for (i = 0; i < (int)fz->eq.num / 2; i++) {
			vg_desc_set(&fz->eq.desc[i], fz->ev_slots + 128 * i,
				    EV_SIZE, VRING_DESC_F_WRITE, 0);
			vg_avail_add(&fz->eq, i);
		}
		vg_publish(&fz->eq);
		vg_kick(&fz->eq);
		for (i = 0; i < 64; i++)
			imock_trigger_iopf(w.fd, w.idev_id, i & 1, i,
					   IOMMU_PGFAULT_PERM_READ, 0x1000 * i);
	}
	if (how == FZ_KILL_EXEC)
		fz_kill_exec(fz, ready);
	if (how == FZ_KILL_THREADS)
		pthread_create(&t, NULL, fz_kill_hammer, fz);
	if (write(ready, "r", 1) < 0)
		_exit(5);
	for (;;) {
		fz_gen_batch(fz);
		if (!fz->b.n)
			continue;
		if (how == FZ_KILL_TRAFFIC || how == FZ_KILL_FAULTS ||
		    how == FZ_KILL_THREADS) {
			if (how == FZ_KILL_THREADS)
				fz->b.chaos = true;	/* its rings change under it */
			fz_batch_go(fz);
			__atomic_store_n(&sh->viol, fz->nr_viol, __ATOMIC_RELAXED);
			__atomic_add_fetch(&sh->made, fz->b.n, __ATOMIC_RELAXED);
			if (fz->b.err && fz_epoch(fz, true))
				_exit(6);
			continue;
		}
		/* Parked, maybe stopped, and never answered. */
		fz_batch_publish(fz);
		__atomic_add_fetch(&sh->made, fz->b.n, __ATOMIC_RELAXED);
		if (how == FZ_KILL_STOPPED && fz_wait_park(fz))
			fz_set_running(fz->fd, 0);
		__atomic_store_n(&sh->stage, 1, __ATOMIC_RELEASE);
		for (;;)
			pause();
	}
}

/* Reaps @pid, killed by SIGKILL, within the watchdog's time. */
static bool fz_reap(struct fz *fz, pid_t pid)
{
	__s64 end = fz_now_ms() + FZ_HANG_MS;
	int status = 0;
	pid_t got;

	while ((got = waitpid(pid, &status, WNOHANG)) == 0) {
		if (fz_now_ms() > end) {
			fz_viol(fz, "a SIGKILLed VMM (pid %d) did not exit in %d ms",
				pid, FZ_HANG_MS);
			return false;
		}
		usleep(2000);
		fz_tick(&fz->watch);
	}
	if (got != pid || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fz_viol(fz, "VMM pid %d ended with status %#x, not by SIGKILL",
			pid, status);
	return true;
}

/*
 * Forked VMMs own a device with traffic in flight (a parked request, a
 * stream of batches, page requests, a stopped device, a second thread,
 * a file shared with the parent, a setup under way, an exec with the fds
 * kept and the new image kicking) and are SIGKILLed at
 * a random moment. The child must go, the module's references must come
 * back, and the parent's device must still work exactly.
 */
TEST_F_TIMEOUT(fuzz, kill, FZ_TEST_TIMEOUT)
{
	struct fz *fz = self->fz;
	struct fz_rng *r = &fz->rng;
	struct fz_shared *sh;
	int p[2], before, now, how, shared_fd = -1;
	unsigned int iter = 0, kills;
	__s64 end;
	pid_t pid;
	char c;

	if (!fz_start(_metadata, fz, FZ_T_KILL, "kill"))
		return;
	fz->indirect_pct = 20;
	fz->max_batch = 32;
	ASSERT_EQ(0, fz_dev_open(fz));
	ASSERT_EQ(0, fz_epoch(fz, false));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	/* A kill costs a few hundred ms under TCG: the budget buys kills. */
	kills = fz->budget / 60;
	if (kills < 12)
		kills = 12;
	/* Then on until the budget is spent, within reason. */
	while (iter < kills || (fz->made < fz->budget && iter < 4 * kills)) {
		how = fz_below(r, FZ_KILL_NR);
		memset(sh, 0, sizeof(*sh));
		if (how == FZ_KILL_SHARED) {
			shared_fd = vhi_open();
			ASSERT_LE(0, shared_fd);
		}
		ASSERT_EQ(0, pipe(p));
		before = fz_refcnt();
		fz_phase(&fz->watch, "kill");
		fflush(stdout);
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			close(p[0]);
			if (how == FZ_KILL_SHARED) {
				close(fz->fd);
				fz->fd = shared_fd;
			}
			fz->rng.s ^= 0x6b696c6cULL;
			fz_kill_child(fz, how, p[1], sh);
			_exit(0);
		}
		close(p[1]);
		/* Ready, then a moment more: 0 to 60 ms. */
		/* Blocks until it is ready, or gone (EOF); the watchdog else. */
		if (read(p[0], &c, 1) != 1)
			c = 0;
		close(p[0]);
		usleep(fz_below(r, 60) * 1000);
		kill(pid, SIGKILL);
		ASSERT_TRUE(fz_reap(fz, pid));
		fz->made += sh->made;
		fz->nr_viol += sh->viol;
		if (how == FZ_KILL_SHARED) {
			/* Its owner is gone: nothing works, closing does. */
			fz_expect(fz, "GET_STATS of a dead owner's file",
				  vhi_get_stats(shared_fd, &(struct vhost_iommu_stats){ 0 }),
				  FZ_ERR(EPERM));
			fz_expect(fz, "RESET_OWNER of a dead owner's file",
				  vhi_reset_owner(shared_fd), FZ_ERR(EPERM));
			close(shared_fd);
			shared_fd = -1;
			before--;
		}
		end = fz_now_ms() + 5000;
		while ((now = fz_refcnt()) != before && fz_now_ms() < end)
			usleep(5000);
		if (now != before)
			fz_viol(fz, "module references %d after a killed VMM (%d before, case %d)",
				now, before, how);
		fz->n_epochs++;
		/* The parent's own device, on memory the child scribbled on. */
		if (!(++iter % 2)) {
			ASSERT_EQ(0, fz_epoch(fz, true));
			fz_gen_batch(fz);
			if (fz->b.n)
				fz_batch_go(fz);
			ASSERT_FALSE(fz->b.hung);
		}
	}
	munmap(sh, sizeof(*sh));
	fz_note("STAT",
		"test=kill kills=%u", iter);
	fz_end(_metadata, fz);
}

/* The harness, or the image of the kill test's exec case. */
int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], FZ_EXEC_ARG))
		return fz_exec_kick_main(argc, argv);
	return test_harness_run(argc, argv);
}
