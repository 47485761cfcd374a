// SPDX-License-Identifier: GPL-2.0-only
/*
 * kselftest suite "robust", part "stall": nothing the guest, the VMM or
 * an operator does may keep another party waiting without bound, and
 * what is refused is refused at once. Each test fails on the module
 * before its fix:
 *
 * - the owner blocked inside one of its own ioctls (a user copy from a
 *   userfaultfd page) while it holds its device's mutex: netlink never
 *   holds the device registry meanwhile (open and close of other devices
 *   go on while the CLI's dev-get and dump wait on the device, and the
 *   dump stays killable) and a process that
 *   is not the owner is refused without waiting for the mutex;
 * - an indirect chain of aliased 64 MiB writable buffers: answered with
 *   used length 0 (VHOST_IOMMU_MAX_WRITABLE_EXTRA) and one request per
 *   hold of the mutex, so ioctls keep a bounded latency; the limit itself;
 * - the owner exec()s or is killed with the device and kick eventfd kept
 *   open elsewhere, and kicks keep coming;
 * - VHOST_SET_VRING_BUSYLOOP_TIMEOUT is capped, and close or
 *   VHOST_RESET_OWNER ends a busy poll at once;
 * - two VHOST_RESET_OWNER calls racing with a new owner's SET_OWNER
 *   never tear down the new owner;
 * - a page request group waiting for event buffers when the event queue
 *   shrinks below its size is answered INVALID (the test build's fake
 *   fault queue makes the group);
 * - the smaller ones: padding in the memory table, the max_mem_regions
 *   parameter, a fault queue recognised by its file name, the backend
 *   feature bit.
 *
 * The whole binary is also run in a VM booted with preempt=none, where
 * the worker only yields where it calls cond_resched(): it stays well
 * under 3 minutes on TCG.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "iommufd_mock.h"
#include "vhost_iommu_test.h"
#include "fake_faultq.h"
#include "vhost_iommu_vmm.h"
#include "viommu_guest.h"

#define GUEST_BASE	0x40000000ULL
#define GUEST_SIZE	(4ULL << 20)
#define GUEST_REGIONS	2
#define MINI_SIZE	0x100000ULL
#define MINI_NUM	8u
#define RQ_NUM		256u
#define EQ_NUM		8u
#define ALL_FEATURES	VHI_FEATURES_OFFERED
#define QUIET_MS	300

/* The aliased chains: 63 writable descriptors on one 64 MiB region. */
#define BIG_GPA		0x100000000ULL
#define BIG_SIZE	(64ULL << 20)
#define ALIASES		63u
#define CHAIN_MS	20000
#define LATENCY_MS	500

#define TAIL		((__u32)sizeof(struct virtio_iommu_req_tail))
#define EXTRA		((__u32)VHOST_IOMMU_MAX_WRITABLE_EXTRA)
#define INVAL_IN	((__u32)offsetof(struct virtio_iommu_req_invalidate, tail))
#define PROBE_IN	((__u32)offsetof(struct virtio_iommu_req_probe, properties))
#define EV_SIZE		((__u32)sizeof(struct virtio_iommu_page_req))
#define PROBE_SIZE	64u

#define DOMAIN		3u
#define ENDPOINT	8u
#define FAKE_DEV	77u
#define KICKS		100
#define EXEC_CHILD_ARG	"--stall-exec-child"
#define FAULT_FILE_NAME	"[iommufd-pgfault]"
/* /dev/vcs: a built-in character device with read, write and poll. */
#define VCS_MAJOR	7
#define VCS_MINOR	0

#define CLI_PATH	"/vhi/bin/vhost-iommu"
#define MAX_KIDS	4

static __s64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Processes, threads, waits */

/* The state letter of /proc/.../stat at @path, or 0. */
static char proc_state(const char *path)
{
	char buf[512], *p;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Up to @ms for the task at @path to sleep uninterruptibly (or killably). */
static bool wait_state_d(const char *path, int ms)
{
	__s64 end = now_ms() + ms;

	char st;

	do {
		st = proc_state(path);
		if (st == 'D')
			return true;
		/* Gone, or done already. */
		if (!st || st == 'Z')
			return false;
		usleep(2000);
	} while (now_ms() < end);
	return false;
}

/* Reaps @pid if it ends within @ms. */
static bool reap_within(pid_t pid, int ms, int *status)
{
	__s64 end = now_ms() + ms;
	pid_t got;

	for (;;) {
		got = waitpid(pid, status, WNOHANG);
		if (got == pid)
			return true;
		if (got < 0 || now_ms() >= end)
			return false;
		usleep(2000);
	}
}

static bool exited_ok(int status)
{
	return WIFEXITED(status) && !WEXITSTATUS(status);
}

static bool join_within(pthread_t th, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return !pthread_timedjoin_np(th, NULL, &ts);
}

static bool fd_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static int set_running(int fd, int running)
{
	return ioctl(fd, VHOST_IOMMU_SET_RUNNING, &running) ? -errno : 0;
}

/* ------------------------------------------------------------------ */
/* userfaultfd: an ioctl argument whose first read never returns */

/**
 * struct ufault - one page registered for missing faults
 * @fd: the userfaultfd, or -1
 * @page: the page
 * @len: its size
 */
struct ufault {
	int fd;
	void *page;
	size_t len;
};

static void ufault_close(struct ufault *u)
{
	/* Closing it lets a waiting fault go on as an ordinary one. */
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

/* 0, or -errno (no userfaultfd in the kernel, for one). */
static int ufault_init(struct ufault *u)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	int ret;

	u->len = sysconf(_SC_PAGESIZE);
	u->page = mmap(NULL, u->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->page == MAP_FAILED) {
		u->page = NULL;
		return -errno;
	}
	u->fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u->fd < 0)
		return -errno;
	reg.range.start = (uintptr_t)u->page;
	reg.range.len = u->len;
	if (ioctl(u->fd, UFFDIO_API, &api) ||
	    ioctl(u->fd, UFFDIO_REGISTER, &reg)) {
		ret = -errno;
		ufault_close(u);
		return ret;
	}
	return 0;
}

/* 0 once a fault on the page was reported, -ETIMEDOUT, -EPROTO. */
static int ufault_wait(struct ufault *u, int ms)
{
	struct uffd_msg msg;

	if (!fd_readable(u->fd, ms))
		return -ETIMEDOUT;
	if (read(u->fd, &msg, sizeof(msg)) != sizeof(msg))
		return -errno;
	return msg.event == UFFD_EVENT_PAGEFAULT ? 0 : -EPROTO;
}

/* A zero page in place: the waiting copy reads zeroes and goes on. */
static int ufault_serve(struct ufault *u)
{
	struct uffdio_zeropage z = {
		.range = { .start = (uintptr_t)u->page, .len = u->len },
	};

	if (u->fd < 0)
		return -EBADF;
	if (ioctl(u->fd, UFFDIO_ZEROPAGE, &z) && errno != EEXIST)
		return -errno;
	return 0;
}

/**
 * struct blocked_ioctl - the owner's GET_STATS, stuck in its first copy
 * @fd: the device
 * @arg: the argument, in the userfaultfd page
 * @ret: what ioctl() returned
 * @err: errno after it
 * @done: set once it returned
 * @tid: the thread
 * @th: its handle
 * @started: the thread was created and not joined
 */
struct blocked_ioctl {
	int fd;
	void *arg;
	int ret;
	int err;
	int done;
	pid_t tid;
	pthread_t th;
	bool started;
};

static void *blocked_stats(void *p)
{
	struct blocked_ioctl *b = p;

	__atomic_store_n(&b->tid, gettid(), __ATOMIC_SEQ_CST);
	b->ret = ioctl(b->fd, VHOST_IOMMU_GET_STATS, b->arg);
	b->err = errno;
	__atomic_store_n(&b->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* A small guest of its own, for devices other than the fixture's */

struct mini {
	struct vg_mem mem;
	struct vg_vq rq;
	struct vg_vq eq;
};

static void mini_down(struct mini *g)
{
	vg_vq_destroy(&g->rq);
	vg_vq_destroy(&g->eq);
	vg_mem_destroy(&g->mem);
}

static int mini_up(struct mini *g)
{
	memset(g, 0, sizeof(*g));
	g->mem.memfd = -1;
	g->rq.kick_fd = -1;
	g->rq.call_fd = -1;
	g->rq.err_fd = -1;
	g->eq.kick_fd = -1;
	g->eq.call_fd = -1;
	g->eq.err_fd = -1;
	if (vg_mem_init(&g->mem, GUEST_BASE, MINI_SIZE, 1) ||
	    vg_vq_init(&g->rq, &g->mem, MINI_NUM) ||
	    vg_vq_init(&g->eq, &g->mem, MINI_NUM)) {
		mini_down(g);
		return -ENOMEM;
	}
	return 0;
}

/* Device @fd gets @g's memory and rings; the caller owns it. */
static int mini_rings(int fd, struct mini *g)
{
	int ret;

	ret = vhi_set_mem_table(fd, g->mem.regions, g->mem.nr_regions);
	return ret ? ret : vg_rings_up(fd, &g->rq, &g->eq, ALL_FEATURES);
}

/* ------------------------------------------------------------------ */
/* The fixture: an owned device with both rings up */

FIXTURE(stall) {
	int fd;
	struct vg_mem mem;
	struct vg_vq rq;
	struct vg_vq eq;
	struct imock_world w;
	struct ufault uf;
	struct blocked_ioctl blk;
	pid_t kids[MAX_KIDS];
	void *big;
};

FIXTURE_SETUP(stall)
{
	struct vhost_iommu_config cfg;

	self->fd = -1;
	self->w.fd = -1;
	self->uf.fd = -1;
	ASSERT_EQ(0, vg_mem_init(&self->mem, GUEST_BASE, GUEST_SIZE,
				 GUEST_REGIONS));
	ASSERT_EQ(0, vg_vq_init(&self->rq, &self->mem, RQ_NUM));
	ASSERT_EQ(0, vg_vq_init(&self->eq, &self->mem, EQ_NUM));
	vhi_config_default(&cfg);
	self->fd = vg_device_open(&self->mem, &cfg);
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", VHI_DEV_PATH,
				      strerror(-self->fd));
	ASSERT_EQ(0, vg_rings_up(self->fd, &self->rq, &self->eq,
				 ALL_FEATURES));
}

FIXTURE_TEARDOWN(stall)
{
	unsigned int i;
	int status;

	/* Whatever a test left waiting in a user copy goes on. */
	ufault_serve(&self->uf);
	ufault_close(&self->uf);
	if (self->blk.started)
		join_within(self->blk.th, 10000);
	for (i = 0; i < MAX_KIDS; i++) {
		if (self->kids[i] <= 0)
			continue;
		kill(self->kids[i], SIGKILL);
		reap_within(self->kids[i], 10000, &status);
	}
	if (self->fd >= 0)
		close(self->fd);
	if (self->uf.page)
		munmap(self->uf.page, self->uf.len);
	if (self->big)
		munmap(self->big, BIG_SIZE);
	imock_world_destroy(&self->w);
	vg_vq_destroy(&self->rq);
	vg_vq_destroy(&self->eq);
	vg_mem_destroy(&self->mem);
}

/* A child that dies with the test; its pid is kept for the teardown. */
static pid_t spawn(struct _test_data_stall *self, int (*fn)(void *), void *arg)
{
	unsigned int i;
	pid_t pid;

	for (i = 0; i < MAX_KIDS && self->kids[i] > 0; i++)
		;
	if (i == MAX_KIDS)
		return -1;
	pid = fork();
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(fn(arg));
	}
	if (pid > 0)
		self->kids[i] = pid;
	return pid;
}

static void forget_kid(struct _test_data_stall *self, pid_t pid)
{
	unsigned int i;

	for (i = 0; i < MAX_KIDS; i++)
		if (self->kids[i] == pid)
			self->kids[i] = 0;
}

/* The mock iommufd, for the tests that need one: 0 or -errno. */
static int iommufd_up(struct _test_data_stall *self)
{
	int ret = imock_world_init(&self->w);

	if (ret)
		return ret;
	return vhi_set_iommufd(self->fd, self->w.fd);
}

static void mk_inval_reserved(struct virtio_iommu_req_invalidate *r)
{
	vg_inval_domain(r, DOMAIN);
	/* Answered S_INVAL by the device itself. */
	r->reserved[0] = 1;
}

/* Index of the first byte of @p[0, n) that is not @c, or @n. */
static size_t first_not(const __u8 *p, size_t n, __u8 c)
{
	size_t i;

	for (i = 0; i < n && p[i] == c; i++)
		;
	return i;
}

/* ------------------------------------------------------------------ */
/* The owner blocked in a user copy with its device's mutex held */

/*
 * GET_STATS reads its argument's size after it took the device's mutex;
 * with the argument in a userfaultfd page nobody serves, the owner holds
 * the mutex for as long as the test likes. 0; NO_UFFD when there is no
 * userfaultfd (*@err says why); -errno.
 */
#define NO_UFFD		1

static int block_owner(struct __test_metadata *_metadata,
		       struct _test_data_stall *self, int *err)
{
	int ret = ufault_init(&self->uf);

	*err = -ret;
	if (ret)
		return NO_UFFD;
	self->blk.fd = self->fd;
	self->blk.arg = self->uf.page;
	ret = pthread_create(&self->blk.th, NULL, blocked_stats, &self->blk);
	if (ret)
		return -ret;
	self->blk.started = true;
	ret = ufault_wait(&self->uf, 5000);
	EXPECT_EQ(0, ret) TH_LOG("GET_STATS never read its argument");
	return ret ? -EIO : 0;
}

/* The owner's GET_STATS came back once its page was there. */
static void expect_owner_unblocked(struct __test_metadata *_metadata,
				   struct _test_data_stall *self)
{
	EXPECT_EQ(0, ufault_serve(&self->uf));
	ASSERT_TRUE(join_within(self->blk.th, 5000))
		TH_LOG("GET_STATS still waits after its page was served");
	self->blk.started = false;
	/* A zero page reads as size 0: -EINVAL. */
	EXPECT_TRUE(self->blk.ret == 0 ||
		    (self->blk.ret == -1 && self->blk.err == EINVAL))
		TH_LOG("GET_STATS returned %d (%s)", self->blk.ret,
		       strerror(self->blk.err));
}

static int open_close_kid(void *arg)
{
	int fd = open(VHI_DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return 2;
	return close(fd) ? 3 : 0;
}

/*
 * `vhost-iommu show [ID]`, netlink's dev-get: a do for @arg's device, a
 * dump of all of them without one. Exit status 0 when it got an answer.
 */
static int cli_show(void *arg)
{
	int null = open("/dev/null", O_WRONLY);

	if (null >= 0)
		dup2(null, STDOUT_FILENO);
	execl(CLI_PATH, "vhost-iommu", "show", (const char *)arg,
	      (char *)NULL);
	return 127;
}

TEST_F_TIMEOUT(stall, netlink_never_holds_registry_while_device_blocked, 60)
{
	__u32 id = vhi_dev_id(self->fd);
	pid_t getter, dumper, opener;
	bool opened, dumped, got;
	char path[64], ids[16];
	int ret, status, err;

	ASSERT_NE(0u, id) TH_LOG("no vhost-iommu-id in the device's fdinfo");
	if (access(CLI_PATH, X_OK))
		SKIP(return, CLI_PATH " is absent: the CLI was not built");
	ret = block_owner(_metadata, self, &err);
	if (ret == NO_UFFD)
		SKIP(return, "no userfaultfd: %s", strerror(err));
	ASSERT_EQ(0, ret);

	/* A dev-get of the device waits for the mutex the ioctl holds. */
	snprintf(ids, sizeof(ids), "%u", id);
	getter = spawn(self, cli_show, ids);
	ASSERT_LT(0, getter);
	snprintf(path, sizeof(path), "/proc/%d/stat", getter);
	if (!wait_state_d(path, 2000))
		ksft_print_msg("the dev-get was not seen waiting\n");

	/* A dump meets the blocked device too, and waits or skips it. */
	dumper = spawn(self, cli_show, NULL);
	ASSERT_LT(0, dumper);
	snprintf(path, sizeof(path), "/proc/%d/stat", dumper);
	if (!wait_state_d(path, 2000))
		ksft_print_msg("the dump was not seen waiting\n");

	/* Other devices come and go meanwhile: the registry is free. */
	opener = spawn(self, open_close_kid, NULL);
	ASSERT_LT(0, opener);
	opened = reap_within(opener, 2000, &status);
	EXPECT_TRUE(opened)
		TH_LOG("open+close of %s hangs: the registry is held while a device is blocked",
		       VHI_DEV_PATH);
	if (opened) {
		forget_kid(self, opener);
		EXPECT_TRUE(exited_ok(status)) TH_LOG("status %#x", status);
	}

	/* Waiting on a blocked device, a reader stays killable. */
	kill(dumper, SIGKILL);
	dumped = reap_within(dumper, 2000, &status);
	EXPECT_TRUE(dumped) TH_LOG("a dump waiting on a blocked device is not killable");
	if (dumped)
		forget_kid(self, dumper);

	/* The page comes: the ioctl, then the dev-get, finish. */
	expect_owner_unblocked(_metadata, self);
	got = reap_within(getter, 10000, &status);
	ASSERT_TRUE(got) TH_LOG("the dev-get never returned");
	forget_kid(self, getter);
	EXPECT_TRUE(exited_ok(status)) TH_LOG("vhost-iommu show %u: status %#x",
					      id, status);
	/* The old module: the others get through only now. */
	if (!opened && reap_within(opener, 10000, &status))
		forget_kid(self, opener);
	if (!dumped && reap_within(dumper, 10000, &status))
		forget_kid(self, dumper);
}

/**
 * struct nonowner_result - what a forked process's GET_STATS did
 * @done: it returned
 * @ret: ioctl()'s value
 * @err: errno
 * @ms: how long it took
 */
struct nonowner_result {
	int done;
	int ret;
	int err;
	__s64 ms;
};

struct nonowner_arg {
	int fd;
	struct nonowner_result *res;
};

static int nonowner_kid(void *p)
{
	struct nonowner_arg *a = p;
	struct vhost_iommu_stats st;
	__s64 start = now_ms();

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	a->res->ret = ioctl(a->fd, VHOST_IOMMU_GET_STATS, &st);
	a->res->err = errno;
	a->res->ms = now_ms() - start;
	__atomic_store_n(&a->res->done, 1, __ATOMIC_SEQ_CST);
	return 0;
}

TEST_F_TIMEOUT(stall, non_owner_ioctl_does_not_wait_for_mutex, 60)
{
	struct nonowner_result *res;
	struct nonowner_arg arg;
	int ret, status, err;
	__s64 end;
	pid_t kid;

	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	ret = block_owner(_metadata, self, &err);
	if (ret == NO_UFFD)
		SKIP(return, "no userfaultfd: %s", strerror(err));
	ASSERT_EQ(0, ret);

	/* Another mm sharing the file: refused on sight. */
	arg.fd = self->fd;
	arg.res = res;
	kid = spawn(self, nonowner_kid, &arg);
	ASSERT_LT(0, kid);
	end = now_ms() + 3000;
	while (!__atomic_load_n(&res->done, __ATOMIC_SEQ_CST) && now_ms() < end)
		usleep(2000);
	EXPECT_TRUE(res->done)
		TH_LOG("a non-owner's GET_STATS waits for the owner's mutex");
	if (res->done) {
		EXPECT_EQ(-1, res->ret);
		EXPECT_EQ(EPERM, res->err) TH_LOG("%s", strerror(res->err));
		EXPECT_GT(1000, res->ms) TH_LOG("refused after %lld ms",
						(long long)res->ms);
	}
	expect_owner_unblocked(_metadata, self);
	if (reap_within(kid, 10000, &status))
		forget_kid(self, kid);
	munmap(res, sizeof(*res));
}

/* ------------------------------------------------------------------ */
/* Writable parts the device would have to zero-fill */

/**
 * struct prober - GET_STATS in a loop, timed
 * @fd: the device
 * @stop: set to end the loop
 * @busy_since: when the call in progress started, 0 between calls
 * @worst_ms: the longest call that returned
 * @calls: calls made
 * @errors: calls that failed
 */
struct prober {
	int fd;
	int stop;
	__s64 busy_since;
	__s64 worst_ms;
	unsigned int calls;
	unsigned int errors;
};

static void *prober_fn(void *arg)
{
	struct prober *p = arg;
	struct vhost_iommu_stats st;
	__s64 t0, dt;

	while (!__atomic_load_n(&p->stop, __ATOMIC_SEQ_CST)) {
		t0 = now_ms();
		__atomic_store_n(&p->busy_since, t0, __ATOMIC_SEQ_CST);
		if (vhi_get_stats(p->fd, &st))
			p->errors++;
		dt = now_ms() - t0;
		__atomic_store_n(&p->busy_since, 0, __ATOMIC_SEQ_CST);
		if (dt > __atomic_load_n(&p->worst_ms, __ATOMIC_SEQ_CST))
			__atomic_store_n(&p->worst_ms, dt, __ATOMIC_SEQ_CST);
		p->calls++;
		usleep(1000);
	}
	return NULL;
}

/* The worst latency so far, the call still waiting included. */
static __s64 prober_worst(struct prober *p)
{
	__s64 since = __atomic_load_n(&p->busy_since, __ATOMIC_SEQ_CST);
	__s64 worst = __atomic_load_n(&p->worst_ms, __ATOMIC_SEQ_CST);

	if (since && now_ms() - since > worst)
		worst = now_ms() - since;
	return worst;
}

/*
 * Every ring entry: an indirect table with a readable INVALIDATE the
 * device answers itself, then 63 writable descriptors of 64 MiB on the
 * same guest address. To report that it wrote them, the old module
 * zero-filled almost 4 GiB per request, holding the device's mutex for
 * the whole pass. Now such a writable part gets used length 0, and a
 * waiting ioctl ends the pass after the request in hand: one request of
 * bounded size per hold of the mutex, so a VMM ioctl waits for one
 * request at most. 500 ms is that with a wide margin for TCG and KASAN.
 */
TEST_F_TIMEOUT(stall, aliased_writable_chain_bounded, 120)
{
	struct vhost_memory_region regions[VG_MAX_REGIONS + 1];
	struct virtio_iommu_req_invalidate inv;
	struct prober pr = { .fd = self->fd };
	unsigned int i, k, nr = self->mem.nr_regions, used = 0, bad_len = 0;
	const __u32 table_len = 16 * (ALIASES + 1);
	__s64 start, took, worst;
	__u64 in_gpa, table_gpa;
	struct vring_desc *t;
	bool all, joined;
	__u32 id, len;
	pthread_t th;
	__u16 head;
	__u8 *big;

	big = mmap(NULL, BIG_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, big);
	self->big = big;
	/* Only the ends are touched: the rest never gets pages. */
	memset(big, VG_POISON, 4096);
	memset(big + BIG_SIZE - 4096, VG_POISON, 4096);
	memcpy(regions, self->mem.regions, nr * sizeof(regions[0]));
	regions[nr].guest_phys_addr = BIG_GPA;
	regions[nr].memory_size = BIG_SIZE;
	regions[nr].userspace_addr = (uintptr_t)big;
	regions[nr].flags_padding = 0;
	ASSERT_EQ(0, vhi_set_mem_table(self->fd, regions, nr + 1));

	mk_inval_reserved(&inv);
	ASSERT_EQ(0, vg_alloc(&self->mem, INVAL_IN, 8, &in_gpa));
	ASSERT_EQ(0, vg_write(&self->mem, in_gpa, &inv, INVAL_IN));
	for (i = 0; i < RQ_NUM; i++) {
		ASSERT_EQ(0, vg_alloc(&self->mem, table_len, 16, &table_gpa));
		t = vg_hva(&self->mem, table_gpa, table_len);
		ASSERT_NE(NULL, t);
		vg_desc_set(&t[0], in_gpa, INVAL_IN, VRING_DESC_F_NEXT, 1);
		for (k = 1; k <= ALIASES; k++)
			vg_desc_set(&t[k], BIG_GPA, BIG_SIZE,
				    VRING_DESC_F_WRITE |
				    (k < ALIASES ? VRING_DESC_F_NEXT : 0),
				    k + 1);
		head = vg_desc_alloc(&self->rq, 1);
		vg_desc_set(&self->rq.desc[head], table_gpa, table_len,
			    VRING_DESC_F_INDIRECT, 0);
		vg_avail_add(&self->rq, head);
	}

	ASSERT_EQ(0, pthread_create(&th, NULL, prober_fn, &pr));
	start = now_ms();
	vg_publish(&self->rq);
	EXPECT_EQ(0, vg_kick(&self->rq));
	while (vg_used_idx(&self->rq) != (__u16)RQ_NUM &&
	       now_ms() - start < CHAIN_MS)
		usleep(2000);
	took = now_ms() - start;
	all = vg_used_idx(&self->rq) == (__u16)RQ_NUM;
	worst = prober_worst(&pr);
	__atomic_store_n(&pr.stop, 1, __ATOMIC_SEQ_CST);
	if (!all) {
		/*
		 * The old module is zero-filling: take the memory away so
		 * that its copies fail and the queue breaks, or the close
		 * in the teardown waits for hours.
		 */
		munmap(big, BIG_SIZE);
		self->big = NULL;
	}
	joined = join_within(th, 30000);
	ksft_print_msg("STAT aliased: %u of %u in %lld ms, GET_STATS worst %lld ms, %u calls\n",
		       (__u16)(vg_used_idx(&self->rq) - self->rq.last_used),
		       RQ_NUM, (long long)took, (long long)worst, pr.calls);
	ASSERT_TRUE(joined) TH_LOG("GET_STATS still waits for the device");
	EXPECT_TRUE(all) TH_LOG("not all %u requests used within %d ms",
				RQ_NUM, CHAIN_MS);
	EXPECT_GT(LATENCY_MS, worst)
		TH_LOG("GET_STATS waited %lld ms for the worker",
		       (long long)worst);
	EXPECT_EQ(0u, pr.errors);
	while (!vg_wait_used(&self->rq, 0, &id, &len)) {
		used++;
		if (len)
			bad_len++;
	}
	EXPECT_EQ(RQ_NUM, used);
	EXPECT_EQ(0u, bad_len) TH_LOG("%u requests reported written", bad_len);
	if (self->big) {
		EXPECT_EQ(4096u, first_not(big, 4096, VG_POISON));
		EXPECT_EQ(4096u, first_not(big + BIG_SIZE - 4096, 4096,
					   VG_POISON));
	}
}

/* The next used entry is @req's with used length @want. */
static void expect_used(struct __test_metadata *_metadata,
			struct _test_data_stall *self,
			const struct vg_req *req, __u32 want)
{
	__u32 id = ~0u, len = ~0u;

	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(req->head, id);
	EXPECT_EQ(want, len);
}

/* @req's writable part: zeroes, then a tail with @status. */
static void expect_written(struct __test_metadata *_metadata,
			   struct _test_data_stall *self,
			   const struct vg_req *req, __u8 status)
{
	__u32 n = req->out_len;
	__u8 *buf = malloc(n);

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, vg_read(&self->mem, req->out_gpa, buf, n));
	EXPECT_EQ(n - TAIL, first_not(buf, n - TAIL, 0));
	EXPECT_EQ(status, buf[n - TAIL]);
	EXPECT_EQ(TAIL - 1, first_not(buf + n - TAIL + 1, TAIL - 1, 0));
	free(buf);
}

/* @req's writable part: as the guest left it. */
static void expect_untouched(struct __test_metadata *_metadata,
			     struct _test_data_stall *self,
			     const struct vg_req *req)
{
	__u8 *buf = malloc(req->out_len);

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, vg_read(&self->mem, req->out_gpa, buf, req->out_len));
	EXPECT_EQ(req->out_len, first_not(buf, req->out_len, VG_POISON));
	free(buf);
}

TEST_F_TIMEOUT(stall, writable_extra_limit_exact, 60)
{
	struct virtio_iommu_req_invalidate inv;
	struct virtio_iommu_req_probe probe;
	struct vhost_iommu_config cfg;
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];
	struct vg_req req;

	/* At the limit: all of it zero-filled, the status in the tail. */
	mk_inval_reserved(&inv);
	ASSERT_EQ(0, vg_submit(&self->rq, &inv, INVAL_IN, TAIL + EXTRA, 0,
			       &req));
	expect_used(_metadata, self, &req, TAIL + EXTRA);
	expect_written(_metadata, self, &req, VIRTIO_IOMMU_S_INVAL);

	/* One byte more: used length 0, nothing written. */
	ASSERT_EQ(0, vg_submit(&self->rq, &inv, INVAL_IN, TAIL + EXTRA + 1, 0,
			       &req));
	expect_used(_metadata, self, &req, 0);
	expect_untouched(_metadata, self, &req);

	/* PROBE needs probe_size more; at the limit it reaches the VMM. */
	vhi_config_default(&cfg);
	cfg.probe_size = PROBE_SIZE;
	ASSERT_EQ(0, vhi_set_config(self->fd, &cfg));
	memset(&probe, 0, sizeof(probe));
	probe.head.type = VIRTIO_IOMMU_T_PROBE;
	probe.endpoint = htole32(ENDPOINT);
	ASSERT_EQ(0, vg_submit(&self->rq, &probe, PROBE_IN,
			       PROBE_SIZE + TAIL + EXTRA, 0, &req));
	ASSERT_EQ(0, vhi_wait_request(self->fd, &r, buf, sizeof(buf),
				      VG_TIMEOUT_MS));
	EXPECT_EQ((__u32)VIRTIO_IOMMU_T_PROBE, r.out_type);
	EXPECT_EQ(PROBE_SIZE + TAIL + EXTRA, r.out_writable_len);
	ASSERT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	expect_used(_metadata, self, &req, PROBE_SIZE + TAIL + EXTRA);
	expect_written(_metadata, self, &req, VIRTIO_IOMMU_S_OK);

	ASSERT_EQ(0, vg_submit(&self->rq, &probe, PROBE_IN,
			       PROBE_SIZE + TAIL + EXTRA + 1, 0, &req));
	expect_used(_metadata, self, &req, 0);
	expect_untouched(_metadata, self, &req);
	EXPECT_EQ(-EAGAIN, vhi_get_request(self->fd, &r, buf, sizeof(buf)));
}

/* ------------------------------------------------------------------ */
/* The owner goes away, its fds stay */

/*
 * These two show nothing on 6.12.118 before the fix except through
 * KASAN (a wake-up of the freed worker task): the whole-run checks read
 * the kernel log for that.
 */

/* The new image, after exec: kicks, is no owner, closes. */
static int exec_child_main(int argc, char **argv)
{
	struct vhost_iommu_stats st;
	__u64 one = 1;
	int fd, kick, i;

	alarm(30);
	if (argc != 4)
		return 10;
	fd = atoi(argv[2]);
	kick = atoi(argv[3]);
	for (i = 0; i < KICKS; i++) {
		if (write(kick, &one, sizeof(one)) != sizeof(one))
			return 11;
		usleep(1000);
	}
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	/* A new mm: not the owner any more. */
	if (ioctl(fd, VHOST_IOMMU_GET_STATS, &st) != -1 || errno != EPERM)
		return 12;
	if (close(fd))
		return 13;
	close(kick);
	return 0;
}

/* Sets a device up with fds that survive exec, then execs itself. */
static int exec_kid(void *arg)
{
	struct virtio_iommu_req_invalidate inv;
	char fds[16], kicks[16];
	struct mini g;
	int fd, kick;

	fd = open(VHI_DEV_PATH, O_RDWR);
	if (fd < 0)
		return 20;
	if (vhi_set_owner(fd) || mini_up(&g))
		return 21;
	kick = eventfd(0, 0);
	if (kick < 0)
		return 22;
	close(g.rq.kick_fd);
	g.rq.kick_fd = kick;
	if (mini_rings(fd, &g))
		return 23;
	/* The worker ran in this mm before it goes. */
	vg_inval_domain(&inv, DOMAIN);
	if (vg_roundtrip(&g.rq, &inv, INVAL_IN, TAIL, NULL) !=
	    VIRTIO_IOMMU_S_NOENT)
		return 24;
	snprintf(fds, sizeof(fds), "%d", fd);
	snprintf(kicks, sizeof(kicks), "%d", kick);
	execl("/proc/self/exe", "robust-stall", EXEC_CHILD_ARG, fds, kicks,
	      (char *)NULL);
	return 25;
}

TEST_F_TIMEOUT(stall, exec_with_fds_kept_then_kick, 60)
{
	pid_t kid;
	int status;

	kid = spawn(self, exec_kid, NULL);
	ASSERT_LT(0, kid);
	ASSERT_TRUE(reap_within(kid, 45000, &status))
		TH_LOG("the exec'd owner never finished");
	forget_kid(self, kid);
	EXPECT_TRUE(exited_ok(status))
		TH_LOG("status %#x (exit codes: 2x before exec, 1x after)",
		       status);
}

struct sigkill_arg {
	int fd;
	struct mini *g;
	int ready;
};

/* Owns the inherited device, sets it up and waits to be killed. */
static int sigkill_kid(void *p)
{
	struct sigkill_arg *a = p;
	char c = 1;

	if (vhi_set_owner(a->fd) || mini_rings(a->fd, a->g))
		return 20;
	if (write(a->ready, &c, 1) != 1)
		return 21;
	for (;;)
		pause();
	return 0;
}

TEST_F_TIMEOUT(stall, sigkill_owner_then_kick_and_close, 60)
{
	struct vhost_iommu_stats st;
	struct sigkill_arg a;
	struct mini g;
	int pfd[2], status, fd, i;
	__u64 one = 1;
	__s64 start;
	pid_t kid;
	char c;

	ASSERT_EQ(0, mini_up(&g));
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	fd = vhi_open();
	ASSERT_LE(0, fd);
	a.fd = fd;
	a.g = &g;
	a.ready = pfd[1];
	kid = spawn(self, sigkill_kid, &a);
	ASSERT_LT(0, kid);
	EXPECT_TRUE(fd_readable(pfd[0], 30000) && read(pfd[0], &c, 1) == 1)
		TH_LOG("the owner never set the device up");
	kill(kid, SIGKILL);
	ASSERT_TRUE(reap_within(kid, 10000, &status));
	forget_kid(self, kid);
	EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("status %#x", status);

	/* Kicks for a worker whose owner is dead. */
	for (i = 0; i < KICKS; i++) {
		EXPECT_EQ((ssize_t)sizeof(one),
			  write(g.rq.kick_fd, &one, sizeof(one)));
		usleep(1000);
	}
	EXPECT_EQ(-EPERM, vhi_get_stats(fd, &st));
	start = now_ms();
	EXPECT_EQ(0, close(fd));
	EXPECT_GT(5000, now_ms() - start)
		TH_LOG("close took %lld ms", (long long)(now_ms() - start));
	close(pfd[0]);
	close(pfd[1]);
	mini_down(&g);
}

/* ------------------------------------------------------------------ */
/* Busy polling */

TEST_F_TIMEOUT(stall, busyloop_timeout_capped_and_close_interrupts_poll, 60)
{
	static const int delay_ms[] = { 0, 2, 10, 40 };
	const unsigned int max = VHOST_IOMMU_MAX_BUSYLOOP_TIMEOUT;
	struct vhost_iommu_config cfg;
	unsigned int q, i, us;
	__s64 start, took;
	int fd, reset, ret;

	for (q = 0; q < VHOST_IOMMU_VQ_MAX; q++) {
		EXPECT_EQ(-EINVAL, vhi_set_vring_busyloop(self->fd, q,
							  60000000));
		EXPECT_EQ(-EINVAL, vhi_set_vring_busyloop(self->fd, q, max + 1));
		EXPECT_EQ(0, vhi_get_vring_busyloop(self->fd, q, &us));
		EXPECT_EQ(0u, us) TH_LOG("a refused value was kept");
		EXPECT_EQ(0, vhi_set_vring_busyloop(self->fd, q, max));
		EXPECT_EQ(0, vhi_get_vring_busyloop(self->fd, q, &us));
		EXPECT_EQ(max, us);
	}
	close(self->fd);
	self->fd = -1;

	/* An empty ring kicked: the worker polls it when the end comes. */
	for (reset = 0; reset < 2; reset++) {
		for (i = 0; i < ARRAY_SIZE(delay_ms); i++) {
			vhi_config_default(&cfg);
			fd = vg_device_open(&self->mem, &cfg);
			ASSERT_LE(0, fd);
			self->fd = fd;
			ASSERT_EQ(0, vg_rings_up(fd, &self->rq, &self->eq,
						 ALL_FEATURES));
			ASSERT_EQ(0, set_running(fd, 1));
			ASSERT_EQ(0, vhi_set_vring_busyloop(fd, 0, max));
			ASSERT_EQ(0, vg_kick(&self->rq));
			usleep(delay_ms[i] * 1000);
			start = now_ms();
			ret = reset ? vhi_reset_owner(fd) : close(fd);
			took = now_ms() - start;
			EXPECT_EQ(0, ret);
			/* Half the poll: an uninterrupted one takes 1 s. */
			EXPECT_GT(500, took)
				TH_LOG("%s after %d ms took %lld ms",
				       reset ? "VHOST_RESET_OWNER" : "close",
				       delay_ms[i], (long long)took);
			if (reset)
				close(fd);
			self->fd = -1;
		}
	}
}

/* ------------------------------------------------------------------ */
/* RESET_OWNER racing with a new owner */

#define RACE_ROUNDS	200
#define RACE_BUDGET_MS	60000
#define RACE_MIN_ROUNDS	20u

struct resetter {
	int fd;
	pthread_barrier_t *bar;
	int ret;
};

static void *resetter_fn(void *p)
{
	struct resetter *r = p;

	pthread_barrier_wait(r->bar);
	r->ret = vhi_reset_owner(r->fd);
	return NULL;
}

struct new_owner_arg {
	int fd;
	int ready;
	int go;
};

/*
 * Takes the device as soon as it is free; once both of the old owner's
 * resets returned, it must still be the owner. Exit codes: 0 owner, 1
 * lost it (EPERM), others a step that failed.
 */
static int new_owner_kid(void *p)
{
	struct new_owner_arg *a = p;
	struct vhost_iommu_stats st;
	__s64 end;
	char c = 1;
	int ret;

	if (write(a->ready, &c, 1) != 1)
		return 10;
	end = now_ms() + 10000;
	while ((ret = vhi_set_owner(a->fd)) == -EBUSY) {
		if (now_ms() > end)
			return 11;
		sched_yield();
	}
	if (ret)
		return 12;
	if (!fd_readable(a->go, 20000) || read(a->go, &c, 1) != 1)
		return 13;
	ret = vhi_get_stats(a->fd, &st);
	if (ret == -EPERM)
		return 1;
	if (ret)
		return 2;
	ret = vhi_set_features(a->fd, ALL_FEATURES);
	if (ret == -EPERM)
		return 1;
	return ret ? 3 : 0;
}

/* One round: 0, or the line that failed; *@zeros resets that returned 0. */
static int race_round(struct _test_data_stall *self, struct mini *g,
		      int *zeros, int *kid_status)
{
	struct resetter r[2];
	struct new_owner_arg a;
	pthread_barrier_t bar;
	int ready[2], go[2], fd, i, ret = 0;
	pthread_t th[2];
	pid_t kid;
	char c = 1;

	*zeros = 0;
	*kid_status = -1;
	fd = vhi_open();
	if (fd < 0)
		return __LINE__;
	if (vhi_set_owner(fd) || mini_rings(fd, g)) {
		close(fd);
		return __LINE__;
	}
	if (pipe2(ready, O_CLOEXEC)) {
		close(fd);
		return __LINE__;
	}
	if (pipe2(go, O_CLOEXEC)) {
		close(ready[0]);
		close(ready[1]);
		close(fd);
		return __LINE__;
	}
	a.fd = fd;
	a.ready = ready[1];
	a.go = go[0];
	kid = spawn(self, new_owner_kid, &a);
	if (kid <= 0 || !fd_readable(ready[0], 10000) ||
	    read(ready[0], &c, 1) != 1)
		ret = __LINE__;

	pthread_barrier_init(&bar, NULL, 2);
	for (i = 0; !ret && i < 2; i++) {
		r[i].fd = fd;
		r[i].bar = &bar;
		r[i].ret = 1;
		if (pthread_create(&th[i], NULL, resetter_fn, &r[i]))
			ret = __LINE__;
	}
	if (!ret) {
		for (i = 0; i < 2; i++)
			if (!join_within(th[i], 10000))
				ret = __LINE__;
		for (i = 0; i < 2; i++)
			*zeros += !r[i].ret;
	}
	/* Both resets returned: the new owner looks now. */
	if (!ret && write(go[1], &c, 1) != 1)
		ret = __LINE__;
	if (kid > 0) {
		if (ret)
			kill(kid, SIGKILL);
		if (reap_within(kid, 30000, kid_status))
			forget_kid(self, kid);
		else if (!ret)
			ret = __LINE__;
	}
	pthread_barrier_destroy(&bar);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	close(fd);
	return ret;
}

TEST_F_TIMEOUT(stall, reset_owner_race_never_tears_down_new_owner, 120)
{
	unsigned int rounds = 0, lost = 0, bad_zeros = 0, failed = 0;
	int ret, zeros, status;
	__s64 start = now_ms();
	struct mini g;

	ASSERT_EQ(0, mini_up(&g));
	while (rounds < RACE_ROUNDS && now_ms() - start < RACE_BUDGET_MS) {
		ret = race_round(self, &g, &zeros, &status);
		rounds++;
		ASSERT_EQ(0, ret) TH_LOG("round %u failed at line %d",
					 rounds, ret);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
			lost++;
		} else if (!exited_ok(status)) {
			failed++;
			TH_LOG("round %u: the new owner's status %#x",
			       rounds, status);
		}
		/* Only one of the old owner's resets can drop it. */
		if (zeros != 1)
			bad_zeros++;
	}
	ksft_print_msg("STAT reset_owner race: %u rounds in %lld ms\n",
		       rounds, (long long)(now_ms() - start));
	EXPECT_LE(RACE_MIN_ROUNDS, rounds);
	EXPECT_EQ(0u, lost) TH_LOG("the new owner lost the device in %u rounds",
				   lost);
	EXPECT_EQ(0u, bad_zeros)
		TH_LOG("%u rounds without exactly one successful reset",
		       bad_zeros);
	EXPECT_EQ(0u, failed);
	mini_down(&g);
}

/* ------------------------------------------------------------------ */
/* The event queue shrinks under a waiting group */

TEST_F_TIMEOUT(stall, eventq_shrink_answers_waiting_group_invalid, 60)
{
	struct iommu_hwpt_page_response held[64];
	struct virtio_iommu_page_req rec;
	struct vhost_iommu_stats st;
	__u32 i, id, len, nheld = 0;
	struct vg_req ev;
	int ret;

	ret = iommufd_up(self);
	if (ret == -ENOENT)
		SKIP(return, "no " IMOCK_DEV_PATH ": kernel without iommufd");
	ASSERT_EQ(0, ret) TH_LOG("mock iommufd: %s", strerror(-ret));
	ret = test_op(self->fd, VHOST_IOMMU_TEST_FAKE_ATTACH, NULL, NULL);
	if (ret == -ENOTTY)
		SKIP(return, "module built without test hooks");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, vhi_add_endpoint(self->fd, ENDPOINT, FAKE_DEV, 0));

	/* Five records, no event buffer: the group waits in the backlog. */
	ASSERT_EQ(0, fake_inject(self->fd, FAKE_DEV, 1, 5, 5, true));
	usleep(QUIET_MS * 1000);
	EXPECT_EQ(-1, fake_answer(self->fd, 1, 0, held, &nheld))
		TH_LOG("the group was answered before the queue shrank");

	/* Now the queue holds four: the group can never be delivered. */
	ASSERT_EQ(0, set_running(self->fd, 0));
	ASSERT_EQ(0, vhi_set_vring_num(self->fd, VHOST_IOMMU_VQ_EVENT, 4));
	self->eq.num = 4;
	ASSERT_EQ(0, set_running(self->fd, 1));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, vg_post_writable(&self->eq, EV_SIZE,
					      VG_SUBMIT_NO_PUBLISH, &ev));
	vg_publish(&self->eq);
	ASSERT_EQ(0, vg_kick(&self->eq));
	EXPECT_EQ(IOMMUFD_PAGE_RESP_INVALID,
		  fake_answer(self->fd, 1, 2000, held, &nheld))
		TH_LOG("the group larger than the queue is never answered");
	usleep(QUIET_MS * 1000);
	EXPECT_EQ(0, vg_used_idx(&self->eq))
		TH_LOG("records of the group reached the guest");

	/* The next group goes through as usual. */
	ASSERT_EQ(0, fake_inject(self->fd, FAKE_DEV, 2, 6, 1, true));
	ASSERT_EQ(0, vg_wait_used(&self->eq, VG_TIMEOUT_MS, &id, &len))
		TH_LOG("the group behind it never reached the guest");
	EXPECT_EQ(EV_SIZE, len);
	ASSERT_GT(4u, id);
	ASSERT_EQ(0, vg_read(&self->mem, le64toh(self->eq.desc[id].addr),
			     &rec, sizeof(rec)));
	EXPECT_EQ(6, le16toh(rec.group_id));
	EXPECT_EQ(ENDPOINT, le32toh(rec.endpoint));
	EXPECT_TRUE(!!(le32toh(rec.flags) & VIRTIO_IOMMU_FAULT_F_LAST));
	EXPECT_EQ(1, vg_used_idx(&self->eq));
	ASSERT_EQ(0, vhi_get_stats(self->fd, &st));
	EXPECT_EQ(1u, st.out_page_req_invalid);
	EXPECT_EQ(1u, st.out_page_reqs);
}

/* ------------------------------------------------------------------ */
/* Smaller ones */

TEST_F(stall, mem_table_padding_refused)
{
	struct virtio_iommu_req_invalidate inv;
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[1];
	} t;

	memset(&t, 0, sizeof(t));
	t.m.nregions = 1;
	t.m.padding = 1;
	t.r[0] = self->mem.regions[0];
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_MEM_TABLE, &t));
	EXPECT_EQ(EOPNOTSUPP, errno) TH_LOG("%s, vhost.ko gives EOPNOTSUPP",
					    strerror(errno));
	/* The table in force is the old one. */
	vg_inval_domain(&inv, DOMAIN);
	EXPECT_EQ(VIRTIO_IOMMU_S_NOENT,
		  vg_roundtrip(&self->rq, &inv, INVAL_IN, TAIL, NULL));
}

#define MAX_MEM_PARAM	"/sys/module/vhost_iommu/parameters/max_mem_regions"

TEST_F(stall, max_mem_regions_param)
{
	struct vhost_memory_region *r;
	unsigned int i, max = VHOST_IOMMU_MAX_MEM_REGIONS;
	size_t page = sysconf(_SC_PAGESIZE);
	char buf[32] = "";
	__u8 *area;
	int fd;

	fd = open(MAX_MEM_PARAM, O_RDONLY | O_CLOEXEC);
	EXPECT_LE(0, fd) TH_LOG("no " MAX_MEM_PARAM);
	if (fd >= 0) {
		EXPECT_LT(0, read(fd, buf, sizeof(buf) - 1));
		close(fd);
		EXPECT_EQ(VHOST_IOMMU_MAX_MEM_REGIONS, atoi(buf));
		if (atoi(buf) > 0)
			max = atoi(buf);
	}

	area = mmap(NULL, (max + 1) * page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	r = calloc(max + 1, sizeof(*r));
	ASSERT_NE(NULL, r);
	for (i = 0; i <= max; i++) {
		r[i].guest_phys_addr = BIG_GPA + 2ULL * i * page;
		r[i].memory_size = page;
		r[i].userspace_addr = (uintptr_t)(area + i * page);
	}
	EXPECT_EQ(0, vhi_set_mem_table(self->fd, r, max));
	EXPECT_EQ(-E2BIG, vhi_set_mem_table(self->fd, r, max + 1));
	EXPECT_EQ(0, vhi_set_mem_table(self->fd, self->mem.regions,
				       self->mem.nr_regions));
	free(r);
	munmap(area, (max + 1) * page);
}

/* -EINVAL from SET_FAULT_QUEUE for @f; a file taken anyway is let go. */
static void expect_not_fault_queue(struct __test_metadata *_metadata,
				   struct _test_data_stall *self, int f,
				   const char *what)
{
	int ret = vhi_set_fault_queue(self->fd, f);

	EXPECT_EQ(-EINVAL, ret) TH_LOG("%s taken as a fault queue: %s", what,
				       strerror(-ret));
	if (!ret)
		vhi_set_fault_queue(self->fd, -1);
}

TEST_F(stall, fault_queue_file_by_name_refused)
{
	char dir[] = "/tmp/vhi-stall-XXXXXX";
	char file[64], sub[64], node[96];
	__u32 fault_id;
	int ret, f, fault_fd;

	ret = iommufd_up(self);
	if (ret == -ENOENT)
		SKIP(return, "no " IMOCK_DEV_PATH ": kernel without iommufd");
	ASSERT_EQ(0, ret) TH_LOG("mock iommufd: %s", strerror(-ret));
	if (mkdir("/tmp", 01777) && errno != EEXIST)
		TH_LOG("mkdir /tmp: %s", strerror(errno));
	ASSERT_NE(NULL, mkdtemp(dir));

	/* A file that only has iommufd's name for its fault queues. */
	snprintf(file, sizeof(file), "%s/" FAULT_FILE_NAME, dir);
	f = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, f);
	expect_not_fault_queue(_metadata, self, f, "a tmpfs file");
	close(f);

	/*
	 * tmpfs files have no plain read; a built-in character device
	 * with read, write and poll (/dev/vcs) and that name passed the
	 * old checks whole.
	 */
	snprintf(sub, sizeof(sub), "%s/dev", dir);
	snprintf(node, sizeof(node), "%s/" FAULT_FILE_NAME, sub);
	f = -1;
	if (!mkdir(sub, 0700) &&
	    !mknod(node, S_IFCHR | 0600, makedev(VCS_MAJOR, VCS_MINOR)))
		f = open(node, O_RDWR | O_CLOEXEC);
	if (f >= 0) {
		expect_not_fault_queue(_metadata, self, f, "/dev/vcs");
		close(f);
	} else {
		ksft_print_msg("no /dev/vcs node (%s): that case is left out\n",
			       strerror(errno));
	}
	unlink(node);
	rmdir(sub);
	unlink(file);
	rmdir(dir);

	f = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, f);
	expect_not_fault_queue(_metadata, self, f, "an eventfd");
	close(f);

	/* The real one still works. */
	ASSERT_EQ(0, imock_fault_alloc(self->w.fd, &fault_id, &fault_fd));
	EXPECT_EQ(0, vhi_set_fault_queue(self->fd, fault_fd));
	EXPECT_EQ(0, vhi_set_fault_queue(self->fd, -1));
	close(fault_fd);
}

TEST_F(stall, backend_feature_bit_is_63)
{
	struct vhost_iommu_info info;
	__u64 f = 0;

	ASSERT_EQ(0, vhi_get_backend_features(self->fd, &f));
	EXPECT_EQ(1ULL << 63, f) TH_LOG("backend features %#llx",
					(unsigned long long)f);
	ASSERT_EQ(0, vhi_get_info(self->fd, &info));
	EXPECT_EQ(1ULL << 63, info.backend_features);
	/* vhost's VHOST_BACKEND_F_IOTLB_PERSIST means nothing here. */
	EXPECT_EQ(-EOPNOTSUPP, vhi_set_backend_features(self->fd, 1ULL << 8));
	EXPECT_EQ(0, vhi_set_backend_features(self->fd, 1ULL << 63));
	EXPECT_EQ(0, vhi_set_backend_features(self->fd, 0));
}

/*
 * The harness's main, but the image exec_with_fds_kept_then_kick execs
 * runs its own part instead.
 */
int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], EXEC_CHILD_ARG))
		return exec_child_main(argc, argv);
	return test_harness_run(argc, argv);
}
