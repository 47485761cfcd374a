// SPDX-License-Identifier: GPL-2.0-only
/*
 * kselftest suite "robust", part "lifetime": what is left when a VMM goes
 * away, and what one VMM can reach of another's.
 *
 * - A forked VMM (device, guest rings, iommufd and fault queue) is killed
 *   with SIGKILL while slow-path requests are parked, while page requests
 *   are outstanding, and while its guest keeps the request ring full of
 *   INVALIDATEs; then the device must be released, iommufd must have
 *   nothing waiting that nobody can answer, and a new device must work.
 * - The device, the iommufd, the fault queue and the eventfds are closed
 *   in every order after real traffic.
 * - Module unload is refused while devices are open, and the module is
 *   unloaded and loaded 100 times around VMMs that use it.
 * - Two VMM processes run at once; a process that is not the owner gets
 *   -EPERM for every ioctl and changes nothing; two devices with two
 *   iommufds cannot reach each other's domains, objects, page requests
 *   or endpoints.
 *
 * The iommufd side is real: the kernel's selftest mock driver
 * (CONFIG_IOMMUFD_TEST) through tools/lib/iommufd_mock.h. Whether iommufd
 * still waits for an answer is seen by writing responses to the fault
 * queue ourselves, as the "fault" suite does. Leaks are looked for in
 * what the system holds after a test: the module's reference count, the
 * mock devices on /sys/bus/iommufd_mock (one per live iommufd context
 * here, gone only when nothing holds the context), and the threads of the
 * test process (each device's worker is one).
 *
 * The unload tests need the module's path in VHOST_IOMMU_KO (the VM
 * runner sets it) so the module can be loaded again afterwards.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "iommufd_mock.h"
#include "vhost_iommu_test.h"
#include "vhost_iommu_vmm.h"
#include "viommu_guest.h"

#define DEV_PATH	"/dev/vhost-iommu"
#define MOD_NAME	"vhost_iommu"
#define MOD_SYSFS	"/sys/module/" MOD_NAME
#define MOCK_DEVICES	"/sys/bus/iommufd_mock/devices"

#define GUEST_BASE	0x40000000ULL
#define GUEST_SIZE	(2ULL << 20)
#define GUEST_REGIONS	2
#define RQ_NUM		256u
#define EQ_NUM		64u
#define PROBE_SIZE	64
#define DOM_FIRST	1
#define DOM_LAST	1023
#define ALL_FEATURES	VHI_FEATURES_OFFERED
/* How long "nothing happens" is watched for. */
#define QUIET_MS	200
/* How long the system gets to let go of a released device. */
#define SETTLE_MS	5000
/* How long a forked VMM gets to set itself up. */
#define READY_MS	30000

#define DOM		1u
#define DOM2		2u
#define EP		8u
#define EP2		9u
#define PASID		1u
#define ADDR		0xdeadb000ULL
/* The group a new device's page request check raises. */
#define FRESH_GRP	0x777u

/* Cookies probed when checking that iommufd waits for nothing. */
#define PROBE_COOKIES	(VHOST_IOMMU_MAX_PAGE_GROUPS + 16)

#define ATTACH_IN	((__u32)offsetof(struct virtio_iommu_req_attach, tail))
#define MAP_IN		((__u32)offsetof(struct virtio_iommu_req_map, tail))
#define INVAL_IN	((__u32)offsetof(struct virtio_iommu_req_invalidate, tail))
#define RESP_IN		((__u32)offsetof(struct virtio_iommu_req_page_resp, tail))
#define PROBE_IN	((__u32)sizeof(struct virtio_iommu_req_probe))
#define TAIL		((__u32)sizeof(struct virtio_iommu_req_tail))
#define EV_SIZE		((__u32)sizeof(struct virtio_iommu_page_req))

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

static __s64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* What the system holds */

static int read_int_file(const char *path)
{
	char buf[32] = {};
	int fd, n;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

/* -1 when the module is not loaded. */
static int module_refcnt(void)
{
	return read_int_file(MOD_SYSFS "/refcnt");
}

static int count_entries(const char *path)
{
	struct dirent *d;
	DIR *dir;
	int n = 0;

	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* Mock devices alive: each goes with the last reference to its iommufd. */
static int mock_devices(void)
{
	return count_entries(MOCK_DEVICES);
}

/* Threads of this process: the test's and one worker per owned device. */
static int nr_threads(void)
{
	return count_entries("/proc/self/task");
}

/* Polls @fn until it gives @want or @ms pass; returns its last value. */
static int settle(int (*fn)(void), int want, int ms)
{
	__s64 end = now_ms() + ms;
	int v;

	for (;;) {
		v = fn();
		if (v == want || now_ms() >= end)
			return v;
		usleep(2000);
	}
}

/**
 * struct baseline - what the system held before a test
 * @refcnt: the module's reference count
 * @mock_devs: mock devices alive
 * @threads: threads of the test process
 * @start_ms: when the test started, for the time it took
 */
struct baseline {
	int refcnt;
	int mock_devs;
	int threads;
	__s64 start_ms;
};

static void baseline_take(struct baseline *b)
{
	b->refcnt = module_refcnt();
	b->mock_devs = mock_devices();
	b->threads = nr_threads();
	b->start_ms = now_ms();
}

/* Everything a test made is gone again. */
static void expect_baseline(struct __test_metadata *_metadata,
			    const struct baseline *b, const char *what)
{
	EXPECT_EQ(b->refcnt, settle(module_refcnt, b->refcnt, SETTLE_MS))
		TH_LOG("%s: a device file was not released", what);
	EXPECT_EQ(b->mock_devs, settle(mock_devices, b->mock_devs, SETTLE_MS))
		TH_LOG("%s: an iommufd context outlived its last fd", what);
	EXPECT_EQ(b->threads, settle(nr_threads, b->threads, SETTLE_MS))
		TH_LOG("%s: a worker thread is still there", what);
}

/* devtmpfs creates and removes nodes asynchronously. */
static bool wait_node(bool present)
{
	struct stat st;
	int i;

	for (i = 0; i < 500; i++) {
		if ((stat(DEV_PATH, &st) == 0) == present)
			return true;
		usleep(4000);
	}
	return false;
}

static int load_module(const char *path)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = syscall(SYS_finit_module, fd, "", 0);
	close(fd);
	return ret;
}

static int unload_module(void)
{
	return syscall(SYS_delete_module, MOD_NAME, O_NONBLOCK);
}

/* An unload that must be refused because the module is in use. */
static bool unload_refused(void)
{
	if (!unload_module())
		return false;
	return errno == EWOULDBLOCK || errno == EBUSY;
}

/* ------------------------------------------------------------------ */
/* The host side: an iommufd with the mock device, a fault queue */

/**
 * struct host - what the VMM gets from iommufd
 * @w: the mock world; w.nested_id is the HWPT DOM is bound to
 * @fault_id: fault queue object
 * @fault_fd: its descriptor
 * @fault_hwpt: nested HWPT with the fault queue; the mock device is on it
 */
struct host {
	struct imock_world w;
	__u32 fault_id;
	int fault_fd;
	__u32 fault_hwpt;
};

static void host_down(struct host *h)
{
	if (h->fault_fd >= 0)
		close(h->fault_fd);
	h->fault_fd = -1;
	imock_world_destroy(&h->w);
}

/* Returns 0 or -errno. */
static int host_up(struct host *h)
{
	int ret;

	h->fault_fd = -1;
	ret = imock_world_init(&h->w);
	if (ret)
		return ret;
	ret = imock_fault_alloc(h->w.fd, &h->fault_id, &h->fault_fd);
	if (!ret)
		ret = imock_hwpt_alloc_nested(h->w.fd, h->w.idev_id,
					      h->w.parent_id, h->fault_id,
					      &h->fault_hwpt);
	if (!ret)
		ret = imock_domain_replace(h->w.fd, h->w.stdev_id,
					   h->fault_hwpt);
	if (ret)
		host_down(h);
	return ret;
}

/* The mock device issues a page request of group @grpid with PASID. */
static int trigger(const struct host *h, __u32 grpid)
{
	return imock_trigger_iopf(h->w.fd, h->w.idev_id, PASID, grpid,
				  IOMMU_PGFAULT_PERM_READ, ADDR);
}

/*
 * Answers, from the test, every group iommufd still waits on (cookies
 * count from 1) and returns how many there were, or -1 on an error other
 * than iommufd refusing a cookie it does not wait on.
 */
static int answer_waiting(const struct host *h)
{
	struct iommu_hwpt_page_response r;
	int n = 0;
	__u32 c;

	for (c = 1; c <= PROBE_COOKIES; c++) {
		r.cookie = c;
		r.code = IOMMUFD_PAGE_RESP_INVALID;
		if (write(h->fault_fd, &r, sizeof(r)) == sizeof(r))
			n++;
		else if (errno != EINVAL)
			return -1;
	}
	return n;
}

/* Every IOTLB slot of the mock HWPT @hwpt of @h holds @want. */
static bool slots_are(const struct host *h, __u32 hwpt, __u32 want)
{
	unsigned int i;

	for (i = 0; i < IMOCK_IOTLB_NUM; i++)
		if (imock_check_iotlb(h->w.fd, hwpt, i, want))
			return false;
	return true;
}

/* Nothing left in the fault queue for the worker to read. */
static bool fault_queue_drained(const struct host *h, int ms)
{
	struct pollfd p = { .fd = h->fault_fd, .events = POLLIN };
	__s64 end = now_ms() + ms;

	for (;;) {
		if (poll(&p, 1, 0) == 0)
			return true;
		if (now_ms() >= end)
			return false;
		usleep(1000);
	}
}

/* ------------------------------------------------------------------ */
/* The VMM side: a device and its guest */

/**
 * struct vmm - a device with a guest
 * @fd: the device, or -1
 * @h: the iommufd side it was given, or NULL
 * @dom: the domain bound to the HWPT
 * @ep: the endpoint of the mock device
 * @mem: guest memory
 * @rq: request queue
 * @eq: event queue
 * @ev: event buffers by descriptor index
 */
struct vmm {
	int fd;
	const struct host *h;
	__u32 dom;
	__u32 ep;
	struct vg_mem mem;
	struct vg_vq rq;
	struct vg_vq eq;
	struct vg_req ev[EQ_NUM];
};

/* Nothing allocated, nothing open: vmm_down() is safe on it. */
static void vmm_init(struct vmm *v)
{
	memset(v, 0, sizeof(*v));
	v->fd = -1;
	v->mem.memfd = -1;
	v->rq.kick_fd = -1;
	v->rq.call_fd = -1;
	v->rq.err_fd = -1;
	v->eq.kick_fd = -1;
	v->eq.call_fd = -1;
	v->eq.err_fd = -1;
	v->dom = DOM;
	v->ep = EP;
}

static void vmm_down(struct vmm *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	vg_vq_destroy(&v->rq);
	vg_vq_destroy(&v->eq);
	vg_mem_destroy(&v->mem);
}

/* Guest memory and rings, no device. Returns 0 or the failing line. */
static int guest_up(struct vmm *v)
{
	if (vg_mem_init(&v->mem, GUEST_BASE, GUEST_SIZE, GUEST_REGIONS) ||
	    vg_vq_init(&v->rq, &v->mem, RQ_NUM) ||
	    vg_vq_init(&v->eq, &v->mem, EQ_NUM))
		return __LINE__;
	return 0;
}

static void config(struct vhost_iommu_config *cfg)
{
	vhi_config_default(cfg);
	cfg->domain_start = DOM_FIRST;
	cfg->domain_end = DOM_LAST;
	cfg->probe_size = PROBE_SIZE;
}

static void bind_init(struct vhost_iommu_bind *b, __u32 domain, __u32 hwpt)
{
	memset(b, 0, sizeof(*b));
	b->size = sizeof(*b);
	b->domain = domain;
	b->object_id = hwpt;
	b->format = VHOST_IOMMU_INV_FORMAT_SELFTEST;
	b->input_start = 0;
	b->input_end = (1ULL << 48) - 1;
	b->granule_log2 = 12;
}

/*
 * The open device v->fd becomes this process's: owner, memory table,
 * config, both rings, and with @h the iommufd, the mock device as
 * endpoint v->ep, the fault queue and v->dom bound to @hwpt (the world's
 * nested HWPT when 0). Returns 0 or the failing line.
 */
static int dev_setup(struct vmm *v, const struct host *h, __u32 hwpt)
{
	struct vhost_iommu_config cfg;
	struct vhost_iommu_bind b;

	config(&cfg);
	if (vhi_set_owner(v->fd) ||
	    vhi_set_mem_table(v->fd, v->mem.regions, v->mem.nr_regions) ||
	    vhi_set_config(v->fd, &cfg) ||
	    vg_rings_up(v->fd, &v->rq, &v->eq, ALL_FEATURES))
		return __LINE__;
	v->h = h;
	if (!h)
		return 0;
	bind_init(&b, v->dom, hwpt ? hwpt : h->w.nested_id);
	if (vhi_set_iommufd(v->fd, h->w.fd) ||
	    vhi_add_endpoint(v->fd, v->ep, h->w.idev_id, 0) ||
	    vhi_set_fault_queue(v->fd, h->fault_fd) ||
	    vhi_bind_domain(v->fd, &b))
		return __LINE__;
	return 0;
}

static int vmm_up_as(struct vmm *v, const struct host *h, __u32 hwpt,
		     __u32 dom, __u32 ep)
{
	int ret;

	vmm_init(v);
	v->dom = dom;
	v->ep = ep;
	ret = guest_up(v);
	if (ret)
		return ret;
	v->fd = vhi_open();
	if (v->fd < 0)
		return __LINE__;
	return dev_setup(v, h, hwpt);
}

static int vmm_up(struct vmm *v, const struct host *h, __u32 hwpt)
{
	return vmm_up_as(v, h, hwpt, DOM, EP);
}

/* ------------------------------------------------------------------ */
/* Requests; the traffic helpers return 0 or the line that failed */

static void mk_attach(struct virtio_iommu_req_attach *r, __u32 domain,
		      __u32 endpoint)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_ATTACH;
	r->domain = htole32(domain);
	r->endpoint = htole32(endpoint);
}

static void mk_map(struct virtio_iommu_req_map *r, __u32 domain, __u64 iova)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_MAP;
	r->domain = htole32(domain);
	r->virt_start = htole64(iova);
	r->virt_end = htole64(iova + 0xfff);
	r->phys_start = htole64(GUEST_BASE);
	r->flags = htole32(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE);
}

static void mk_inval(struct virtio_iommu_req_invalidate *r, __u32 domain)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_INVALIDATE;
	r->scope = VIRTIO_IOMMU_INVAL_S_DOMAIN;
	r->caches = VIRTIO_IOMMU_INVAL_C_TLB;
	r->domain = htole32(domain);
}

static void mk_resp(struct virtio_iommu_req_page_resp *r, __u32 endpoint,
		    __u32 grpid)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_PAGE_RESP;
	r->endpoint = htole32(endpoint);
	r->flags = htole32(VIRTIO_IOMMU_PAGE_RESP_F_PASID);
	r->pasid = htole32(PASID);
	r->grpid = htole32(grpid);
	r->resp_code = htole16(VIRTIO_IOMMU_PAGE_RESP_SUCCESS);
}

static __u8 status_of(const struct vg_vq *vq, const struct vg_req *req)
{
	__u8 st = 0xff;

	vg_req_status(vq, req, &st);
	return st;
}

/* The next used entry is @req's, with its whole writable size. */
static int wait_own_used(struct vg_vq *vq, const struct vg_req *req)
{
	__u32 id = ~0u, len = ~0u;

	if (vg_wait_used(vq, VG_TIMEOUT_MS, &id, &len))
		return __LINE__;
	if (id != req->head || len != req->out_len)
		return __LINE__;
	return 0;
}

/* Sends @body alone; the device must answer @want. */
static int send_expect(struct vmm *v, const void *body, __u32 in_len,
		       __u32 out_len, __u8 want)
{
	struct vg_req req;
	int ret;

	if (vg_submit(&v->rq, body, in_len, out_len, 0, &req))
		return __LINE__;
	ret = wait_own_used(&v->rq, &req);
	if (ret)
		return ret;
	return status_of(&v->rq, &req) == want ? 0 : __LINE__;
}

static int inval_expect(struct vmm *v, __u32 domain, __u8 want)
{
	struct virtio_iommu_req_invalidate r;

	mk_inval(&r, domain);
	return send_expect(v, &r, INVAL_IN, TAIL, want);
}

/* Queues an ATTACH and waits until the VMM sees it parked. */
static int park_attach(struct vmm *v, struct vg_req *req, __u64 *cookie)
{
	struct virtio_iommu_req_attach a;
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];

	mk_attach(&a, v->dom, v->ep);
	if (vg_submit(&v->rq, &a, ATTACH_IN, TAIL, 0, req))
		return __LINE__;
	if (vhi_wait_request(v->fd, &r, buf, sizeof(buf), VG_TIMEOUT_MS) ||
	    r.out_type != VIRTIO_IOMMU_T_ATTACH ||
	    r.out_readable_len != ATTACH_IN || memcmp(buf, &a, ATTACH_IN))
		return __LINE__;
	*cookie = r.out_cookie;
	return 0;
}

/* An ATTACH goes to the VMM, whose @status reaches the guest. */
static int slow_roundtrip(struct vmm *v, __u8 status)
{
	struct vg_req req;
	__u64 cookie;
	int ret;

	ret = park_attach(v, &req, &cookie);
	if (ret)
		return ret;
	if (vhi_complete_request(v->fd, cookie, status, NULL, 0))
		return __LINE__;
	ret = wait_own_used(&v->rq, &req);
	if (ret)
		return ret;
	return status_of(&v->rq, &req) == status ? 0 : __LINE__;
}

static int post_events(struct vmm *v, unsigned int n)
{
	struct vg_req req;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (vg_post_writable(&v->eq, EV_SIZE, VG_SUBMIT_NO_PUBLISH,
				     &req))
			return __LINE__;
		v->ev[req.head] = req;
	}
	vg_publish(&v->eq);
	return vg_kick(&v->eq) ? __LINE__ : 0;
}

/* The next page request event the guest gets. */
static int next_event(struct vmm *v, struct virtio_iommu_page_req *ev)
{
	__u32 id = ~0u, len = 0;

	if (vg_wait_used(&v->eq, VG_TIMEOUT_MS, &id, &len))
		return __LINE__;
	if (id >= EQ_NUM || len != EV_SIZE)
		return __LINE__;
	if (vg_read(&v->mem, v->ev[id].out_gpa, ev, sizeof(*ev)))
		return __LINE__;
	if (!(le32toh(ev->flags) & VIRTIO_IOMMU_FAULT_F_PAGE_REQ))
		return __LINE__;
	return 0;
}

/* No event used for QUIET_MS. */
static bool no_event(struct vmm *v)
{
	usleep(QUIET_MS * 1000);
	return vg_used_idx(&v->eq) == v->eq.last_used;
}

/* The guest answers group @grpid of @endpoint; the device says @want. */
static int page_resp_expect(struct vmm *v, __u32 endpoint, __u32 grpid,
			    __u8 want)
{
	struct virtio_iommu_req_page_resp r;

	mk_resp(&r, endpoint, grpid);
	return send_expect(v, &r, RESP_IN, TAIL, want);
}

/* The event the guest gets next is group @grpid of its endpoint. */
static int expect_group(struct vmm *v, __u32 grpid)
{
	struct virtio_iommu_page_req ev;
	int ret;

	ret = next_event(v, &ev);
	if (ret)
		return ret;
	if (le16toh(ev.group_id) != grpid || le32toh(ev.endpoint) != v->ep ||
	    le32toh(ev.pasid) != PASID)
		return __LINE__;
	return 0;
}

/* A page request reaches the guest and the guest's answer iommufd. */
static int page_roundtrip(struct vmm *v, __u32 grpid)
{
	int ret;

	ret = post_events(v, 1);
	if (ret)
		return ret;
	if (trigger(v->h, grpid))
		return __LINE__;
	ret = expect_group(v, grpid);
	if (ret)
		return ret;
	return page_resp_expect(v, v->ep, grpid, VIRTIO_IOMMU_S_OK);
}

/*
 * One of each path: the slow path, an INVALIDATE (to iommufd if the
 * device has one, else answered NOENT) and a page request.
 */
static int traffic(struct vmm *v, __u32 grpid)
{
	int ret;

	ret = slow_roundtrip(v, VIRTIO_IOMMU_S_OK);
	if (ret)
		return ret;
	ret = inval_expect(v, v->dom, v->h ? VIRTIO_IOMMU_S_OK :
					     VIRTIO_IOMMU_S_NOENT);
	if (ret || !v->h)
		return ret;
	return page_roundtrip(v, grpid);
}

/*
 * A new device on @h's iommufd and fault queue works end to end: the
 * slow path, an INVALIDATE that reaches a fresh HWPT, and a page request
 * of group FRESH_GRP. Groups the guest gets before it (left in the fault
 * queue by an earlier device) are answered too and counted in @leftover.
 */
static int fresh_device_works(const struct host *h, int *leftover)
{
	struct virtio_iommu_page_req ev;
	__u32 hwpt = 0, grp = 0;
	struct vmm v;
	int ret, i;

	*leftover = 0;
	if (imock_hwpt_alloc_nested(h->w.fd, h->w.idev_id, h->w.parent_id, 0,
				    &hwpt))
		return __LINE__;
	ret = vmm_up(&v, h, hwpt);
	if (!ret)
		ret = slow_roundtrip(&v, VIRTIO_IOMMU_S_OK);
	if (!ret)
		ret = inval_expect(&v, DOM, VIRTIO_IOMMU_S_OK);
	if (!ret && !slots_are(h, hwpt, 0))
		ret = __LINE__;
	if (!ret)
		ret = post_events(&v, 8);
	if (!ret && trigger(h, FRESH_GRP))
		ret = __LINE__;
	for (i = 0; !ret && i < 8 && grp != FRESH_GRP; i++) {
		ret = next_event(&v, &ev);
		if (ret)
			break;
		grp = le16toh(ev.group_id);
		if (grp != FRESH_GRP)
			(*leftover)++;
		ret = page_resp_expect(&v, EP, grp, VIRTIO_IOMMU_S_OK);
	}
	if (!ret && grp != FRESH_GRP)
		ret = __LINE__;
	vmm_down(&v);
	if (imock_destroy(h->w.fd, hwpt) && !ret)
		ret = __LINE__;
	return ret;
}

/*
 * After a VMM died: its devices are released, a new device works, and
 * once the mock device leaves the faulting HWPT (iommufd then answers
 * what was read from the queue) nothing waits for an answer.
 */
static void expect_usable(struct __test_metadata *_metadata,
			  const struct host *h, const struct baseline *b,
			  int want_leftover)
{
	int left = -1, ret;

	EXPECT_EQ(b->refcnt, settle(module_refcnt, b->refcnt, SETTLE_MS))
		TH_LOG("the dead VMM's devices were not released");
	ret = fresh_device_works(h, &left);
	EXPECT_EQ(0, ret) TH_LOG("a new device failed at line %d", ret);
	EXPECT_EQ(want_leftover, left)
		TH_LOG("page requests left in the fault queue for the next reader");
	EXPECT_EQ(0, imock_domain_replace(h->w.fd, h->w.stdev_id,
					  h->w.ioas_id));
	EXPECT_EQ(0, answer_waiting(h))
		TH_LOG("iommufd waits for answers nobody can give");
	EXPECT_EQ(0, imock_domain_replace(h->w.fd, h->w.stdev_id,
					  h->fault_hwpt));
}

/* ------------------------------------------------------------------ */
/* Forked VMMs */

/**
 * struct kid - what a forked VMM shares with the test
 * @ready: it reached the state the test wants it killed or released in
 * @fail: the line of the step that failed, 0 if none
 * @cookie: a request it left parked
 * @events: page requests its guest got
 * @submitted: INVALIDATEs its guest queued
 * @completed: INVALIDATEs completed
 * @bad: INVALIDATEs completed with a wrong status or length
 * @start_ms: when its traffic started
 * @end_ms: when its traffic ended
 */
struct kid {
	int ready;
	int fail;
	__u64 cookie;
	__u32 events;
	__u64 submitted;
	__u64 completed;
	__u64 bad;
	__s64 start_ms;
	__s64 end_ms;
};

static struct kid *kids_alloc(unsigned int n)
{
	void *p = mmap(NULL, n * sizeof(struct kid), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void kids_free(struct kid *k, unsigned int n)
{
	munmap(k, n * sizeof(*k));
}

/* A VMM process that dies with the test. */
static pid_t fork_kid(void)
{
	pid_t pid = fork();

	if (!pid)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	return pid;
}

/* In a forked VMM: record what failed and leave. */
static void kid_failed(struct kid *k, int line)
{
	__atomic_store_n(&k->fail, line, __ATOMIC_SEQ_CST);
	_exit(1);
}

/* In a forked VMM: the state is reached; wait to be killed. */
static void kid_ready_forever(struct kid *k)
{
	__atomic_store_n(&k->ready, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pause();
}

/* 0 once @k is ready, the line it failed at, or -ETIMEDOUT. */
static int wait_ready(struct kid *k, int ms)
{
	__s64 end = now_ms() + ms;
	int fail;

	while (!__atomic_load_n(&k->ready, __ATOMIC_SEQ_CST)) {
		fail = __atomic_load_n(&k->fail, __ATOMIC_SEQ_CST);
		if (fail)
			return fail;
		if (now_ms() >= end)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

static int kill_reap(pid_t pid)
{
	int status = 0;

	kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static bool killed(int status)
{
	return status != -1 && WIFSIGNALED(status) &&
	       WTERMSIG(status) == SIGKILL;
}

static bool exited_ok(int status)
{
	return status != -1 && WIFEXITED(status) && !WEXITSTATUS(status);
}

/*
 * Fixture of the tests that need no module reload: what the system held
 * before, checked again after.
 */
FIXTURE(lt) {
	struct baseline base;
};

FIXTURE_SETUP(lt)
{
	if (access(IMOCK_DEV_PATH, F_OK))
		SKIP(return, "no " IMOCK_DEV_PATH ": kernel without iommufd");
	if (mock_devices() < 0)
		SKIP(return, "no " MOCK_DEVICES ": kernel without CONFIG_IOMMUFD_TEST");
	baseline_take(&self->base);
}

FIXTURE_TEARDOWN(lt)
{
	expect_baseline(_metadata, &self->base, "after the test");
	ksft_print_msg("%s took %lld ms\n", _metadata->name,
		       (long long)(now_ms() - self->base.start_ms));
}

/* ------------------------------------------------------------------ */
/* SIGKILL of a VMM */

#define PARKED_BEHIND	3

/*
 * Two devices, each with a slow-path request parked and more queued
 * behind it; the second device also stopped, with a kick pending.
 */
static void kid_parked(struct kid *k, const struct host *h)
{
	struct virtio_iommu_req_invalidate inv;
	struct virtio_iommu_req_attach att;
	struct virtio_iommu_req_probe p;
	struct virtio_iommu_req_map m;
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];
	struct vg_req req;
	struct vmm v[2];
	int ret, stop = 0;

	ret = vmm_up(&v[0], h, 0);
	if (!ret)
		ret = vmm_up(&v[1], NULL, 0);
	if (!ret)
		ret = park_attach(&v[0], &req, &k->cookie);
	mk_inval(&inv, DOM);
	mk_map(&m, DOM, 0x100000);
	if (!ret && (vg_submit(&v[0].rq, &inv, INVAL_IN, TAIL, 0, &req) ||
		     vg_submit(&v[0].rq, &m, MAP_IN, TAIL, 0, &req)))
		ret = __LINE__;

	memset(&p, 0, sizeof(p));
	p.head.type = VIRTIO_IOMMU_T_PROBE;
	p.endpoint = htole32(EP);
	if (!ret && vg_submit(&v[1].rq, &p, PROBE_IN, PROBE_SIZE + TAIL, 0,
			      &req))
		ret = __LINE__;
	if (!ret && (vhi_wait_request(v[1].fd, &r, buf, sizeof(buf),
				      VG_TIMEOUT_MS) ||
		     r.out_type != VIRTIO_IOMMU_T_PROBE))
		ret = __LINE__;
	if (!ret && ioctl(v[1].fd, VHOST_IOMMU_SET_RUNNING, &stop))
		ret = __LINE__;
	mk_attach(&att, DOM, EP);
	if (!ret && vg_submit(&v[1].rq, &att, ATTACH_IN, TAIL, 0, &req))
		ret = __LINE__;
	/* In order: nothing behind a parked request was completed. */
	if (!ret && (vg_used_idx(&v[0].rq) || vg_used_idx(&v[1].rq)))
		ret = __LINE__;
	if (ret)
		kid_failed(k, ret);
	kid_ready_forever(k);
}

TEST_F_TIMEOUT(lt, sigkill_with_slow_requests_parked, 60)
{
	struct kid *k = kids_alloc(1);
	struct host h;
	int ret, status;
	pid_t pid;

	ASSERT_NE(NULL, k);
	ASSERT_EQ(0, host_up(&h));
	pid = fork_kid();
	ASSERT_LE(0, pid);
	if (!pid)
		kid_parked(k, &h);
	ret = wait_ready(k, READY_MS);
	status = kill_reap(pid);
	ASSERT_EQ(0, ret) TH_LOG("the VMM failed at line %d", ret);
	EXPECT_TRUE(killed(status)) TH_LOG("status %#x", status);
	ksft_print_msg("STAT sigkill parked: 2 devices, 2 parked, %d queued behind\n",
		       PARKED_BEHIND);
	expect_usable(_metadata, &h, &self->base, 0);
	host_down(&h);
	kids_free(k, 1);
}

#define PR_BUFFERS	6
#define PR_GROUPS	8

/*
 * PR_GROUPS page requests read from the fault queue: PR_BUFFERS of them
 * delivered to the guest and not answered, the rest waiting for event
 * buffers.
 */
static void kid_page_requests(struct kid *k, const struct host *h)
{
	struct vmm v;
	unsigned int i;
	int ret;

	ret = vmm_up(&v, h, 0);
	if (!ret)
		ret = post_events(&v, PR_BUFFERS);
	for (i = 0; !ret && i < PR_GROUPS; i++)
		if (trigger(h, i + 1))
			ret = __LINE__;
	for (i = 0; !ret && i < PR_BUFFERS; i++) {
		ret = expect_group(&v, i + 1);
		if (!ret)
			k->events++;
	}
	/* The worker read the others too: they wait in its backlog. */
	if (!ret && !fault_queue_drained(h, VG_TIMEOUT_MS))
		ret = __LINE__;
	if (!ret && !no_event(&v))
		ret = __LINE__;
	if (ret)
		kid_failed(k, ret);
	kid_ready_forever(k);
}

TEST_F_TIMEOUT(lt, sigkill_with_page_requests_outstanding, 60)
{
	struct kid *k = kids_alloc(1);
	struct host h;
	int ret, status, n;
	pid_t pid;

	ASSERT_NE(NULL, k);
	ASSERT_EQ(0, host_up(&h));
	pid = fork_kid();
	ASSERT_LE(0, pid);
	if (!pid)
		kid_page_requests(k, &h);
	ret = wait_ready(k, READY_MS);
	status = kill_reap(pid);
	ASSERT_EQ(0, ret) TH_LOG("the VMM failed at line %d", ret);
	EXPECT_TRUE(killed(status)) TH_LOG("status %#x", status);
	EXPECT_EQ((__u32)PR_BUFFERS, k->events);
	EXPECT_EQ(self->base.refcnt, settle(module_refcnt, self->base.refcnt,
					    SETTLE_MS));

	/*
	 * Released at exit, the device could not write to the fault queue:
	 * the groups it read wait for whoever holds the queue. All or none,
	 * never some.
	 */
	n = answer_waiting(&h);
	EXPECT_TRUE(n == 0 || n == PR_GROUPS)
		TH_LOG("%d of the %d groups read by the dead device wait",
		       n, PR_GROUPS);
	ksft_print_msg("STAT sigkill page requests: %d read, %u delivered, %d left to iommufd\n",
		       PR_GROUPS, k->events, n);
	/* None of them comes back to the next reader. */
	expect_usable(_metadata, &h, &self->base, 0);
	host_down(&h);
	kids_free(k, 1);
}

#define FLOOD_SLOTS	(RQ_NUM / 2)
#define FLOOD_WARMUP	256

struct flood {
	struct vmm *v;
	struct kid *k;
	__u64 in[FLOOD_SLOTS];
	__u64 out[FLOOD_SLOTS];
};

/*
 * The guest keeps the request ring full of INVALIDATEs: FLOOD_SLOTS in
 * flight, two descriptors each, buffers reused in ring order.
 */
static void *flood_guest(void *arg)
{
	struct flood *f = arg;
	struct vg_vq *rq = &f->v->rq;
	unsigned int inflight = 0, slot = 0, n;
	struct vg_req req;
	__u32 id, len;
	__u8 st;

	for (;;) {
		while (!vg_wait_used(rq, 0, &id, &len)) {
			st = 0xff;
			vg_read(&f->v->mem, f->out[(id / 2) % FLOOD_SLOTS], &st,
				1);
			if (len != TAIL || st != VIRTIO_IOMMU_S_OK)
				__atomic_add_fetch(&f->k->bad, 1,
						   __ATOMIC_SEQ_CST);
			__atomic_add_fetch(&f->k->completed, 1,
					   __ATOMIC_SEQ_CST);
			inflight--;
		}
		for (n = 0; inflight < FLOOD_SLOTS; n++, inflight++) {
			memset(&req, 0, sizeof(req));
			req.in_gpa = f->in[slot];
			req.in_len = INVAL_IN;
			req.out_gpa = f->out[slot];
			req.out_len = TAIL;
			vg_fill(&f->v->mem, req.out_gpa, VG_POISON, TAIL);
			vg_submit_bufs(rq, VG_SUBMIT_NO_PUBLISH, &req);
			slot = (slot + 1) % FLOOD_SLOTS;
			__atomic_add_fetch(&f->k->submitted, 1,
					   __ATOMIC_SEQ_CST);
		}
		if (n) {
			vg_publish(rq);
			vg_kick(rq);
		} else {
			usleep(50);
		}
	}
	return NULL;
}

static void kid_flood(struct kid *k, const struct host *h, __u32 hwpt)
{
	struct virtio_iommu_req_invalidate inv;
	struct flood f = { .k = k };
	struct vmm v;
	pthread_t t;
	unsigned int i;
	__s64 end;
	int ret;

	f.v = &v;
	ret = vmm_up(&v, h, hwpt);
	mk_inval(&inv, DOM);
	for (i = 0; !ret && i < FLOOD_SLOTS; i++)
		if (vg_alloc(&v.mem, INVAL_IN, 8, &f.in[i]) ||
		    vg_alloc(&v.mem, TAIL, 8, &f.out[i]) ||
		    vg_write(&v.mem, f.in[i], &inv, INVAL_IN))
			ret = __LINE__;
	if (!ret && pthread_create(&t, NULL, flood_guest, &f))
		ret = __LINE__;
	end = now_ms() + READY_MS / 2;
	while (!ret && __atomic_load_n(&k->completed, __ATOMIC_SEQ_CST) <
		       FLOOD_WARMUP) {
		if (now_ms() > end)
			ret = __LINE__;
		usleep(1000);
	}
	if (ret)
		kid_failed(k, ret);
	kid_ready_forever(k);
}

TEST_F_TIMEOUT(lt, sigkill_during_invalidation_batches, 120)
{
	static const int delay_ms[] = { 5, 40, 250 };
	struct kid *k = kids_alloc(ARRAY_SIZE(delay_ms));
	unsigned int i, progressed = 0;
	__u64 at_ready, at_kill;
	__u32 hwpt;
	struct host h;
	int ret, status;
	pid_t pid;

	ASSERT_NE(NULL, k);
	ASSERT_EQ(0, host_up(&h));
	for (i = 0; i < ARRAY_SIZE(delay_ms); i++) {
		/* A fresh HWPT per round, to see the invalidations land. */
		ASSERT_EQ(0, imock_hwpt_alloc_nested(h.w.fd, h.w.idev_id,
						     h.w.parent_id, 0, &hwpt));
		pid = fork_kid();
		ASSERT_LE(0, pid);
		if (!pid)
			kid_flood(&k[i], &h, hwpt);
		ret = wait_ready(&k[i], READY_MS);
		at_ready = __atomic_load_n(&k[i].completed, __ATOMIC_SEQ_CST);
		usleep(delay_ms[i] * 1000);
		at_kill = __atomic_load_n(&k[i].completed, __ATOMIC_SEQ_CST);
		status = kill_reap(pid);
		ASSERT_EQ(0, ret) TH_LOG("round %u: the VMM failed at line %d",
					 i, ret);
		EXPECT_TRUE(killed(status)) TH_LOG("status %#x", status);
		EXPECT_EQ(0u, k[i].bad)
			TH_LOG("round %u: INVALIDATEs completed wrongly", i);
		if (at_kill > at_ready)
			progressed++;
		ksft_print_msg("STAT sigkill inval round %u: +%d ms, %llu done, %llu in flight\n",
			       i, delay_ms[i],
			       (unsigned long long)k[i].completed,
			       (unsigned long long)(k[i].submitted -
						    k[i].completed));
		/* They reached iommufd, and nothing holds the HWPT now. */
		EXPECT_TRUE(slots_are(&h, hwpt, 0));
		EXPECT_EQ(self->base.refcnt,
			  settle(module_refcnt, self->base.refcnt, SETTLE_MS));
		EXPECT_EQ(0, imock_destroy(h.w.fd, hwpt))
			TH_LOG("round %u: the HWPT is still in use", i);
		expect_usable(_metadata, &h, &self->base, 0);
	}
	/* The ring was busy when the kills came, not drained. */
	EXPECT_LT(0u, progressed);
	host_down(&h);
	kids_free(k, ARRAY_SIZE(delay_ms));
}

/*
 * The device file is this process's; a forked VMM owns it, sets it up in
 * guest memory both share, parks a request and has page requests
 * delivered, and is killed. What is left is a device whose owner and
 * worker are dead.
 */
static void kid_owns_shared(struct kid *k, struct vmm *v,
			    const struct host *h)
{
	struct vg_req req;
	int ret;

	ret = dev_setup(v, h, 0);
	if (!ret)
		ret = park_attach(v, &req, &k->cookie);
	if (!ret)
		ret = post_events(v, 4);
	if (!ret && (trigger(h, 1) || trigger(h, 2)))
		ret = __LINE__;
	if (!ret)
		ret = expect_group(v, 1);
	if (!ret)
		ret = expect_group(v, 2);
	if (!ret && !fault_queue_drained(h, VG_TIMEOUT_MS))
		ret = __LINE__;
	if (ret)
		kid_failed(k, ret);
	kid_ready_forever(k);
}

TEST_F_TIMEOUT(lt, sigkill_of_owner_while_another_process_holds_the_file,
	       60)
{
	struct kid *k = kids_alloc(1);
	struct vhost_iommu_request r;
	struct vhost_iommu_stats st;
	__u8 buf[VHI_REQ_BUF_SIZE];
	__u16 rq_used, eq_used;
	int ret, status, stop = 0;
	struct host h;
	struct vmm v;
	__u64 f = 0;
	__s64 t0;
	pid_t pid;

	ASSERT_NE(NULL, k);
	ASSERT_EQ(0, host_up(&h));
	vmm_init(&v);
	ASSERT_EQ(0, guest_up(&v));
	v.fd = vhi_open();
	ASSERT_LE(0, v.fd);
	pid = fork_kid();
	ASSERT_LE(0, pid);
	if (!pid)
		kid_owns_shared(k, &v, &h);
	ret = wait_ready(k, READY_MS);
	status = kill_reap(pid);
	ASSERT_EQ(0, ret) TH_LOG("the VMM failed at line %d", ret);
	EXPECT_TRUE(killed(status)) TH_LOG("status %#x", status);

	/* The file is alive, its owner is not: nothing but the open ones. */
	EXPECT_EQ(self->base.refcnt + 1, module_refcnt());
	EXPECT_EQ(0, vhi_get_features(v.fd, &f));
	EXPECT_EQ(ALL_FEATURES, f);
	EXPECT_EQ(-EBUSY, vhi_set_owner(v.fd));
	EXPECT_EQ(-EPERM, vhi_get_stats(v.fd, &st));
	EXPECT_EQ(-EPERM, vhi_get_request(v.fd, &r, buf, sizeof(buf)));
	EXPECT_EQ(-EPERM, vhi_complete_request(v.fd, k->cookie,
					       VIRTIO_IOMMU_S_OK, NULL, 0));
	EXPECT_EQ(-1, ioctl(v.fd, VHOST_IOMMU_SET_RUNNING, &stop));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-EPERM, vhi_reset_owner(v.fd));

	/* Kicks and a page request wake a worker that is gone. */
	rq_used = vg_used_idx(&v.rq);
	eq_used = vg_used_idx(&v.eq);
	EXPECT_EQ(0, vg_kick(&v.rq));
	EXPECT_EQ(0, vg_kick(&v.eq));
	EXPECT_EQ(0, trigger(&h, 3));
	usleep(QUIET_MS * 1000);
	EXPECT_EQ(rq_used, vg_used_idx(&v.rq));
	EXPECT_EQ(2, eq_used);
	EXPECT_EQ(eq_used, vg_used_idx(&v.eq));

	t0 = now_ms();
	EXPECT_EQ(0, close(v.fd));
	v.fd = -1;
	EXPECT_GT(2000, now_ms() - t0) TH_LOG("close took %lld ms",
					      (long long)(now_ms() - t0));
	vmm_down(&v);
	/* Group 3 was never read: the next device gets it. */
	expect_usable(_metadata, &h, &self->base, 1);
	host_down(&h);
	kids_free(k, 1);
}

/* ------------------------------------------------------------------ */
/* Every close order */

enum { CL_DEVICE, CL_IOMMUFD, CL_FAULT, CL_EVENTFDS, CL_GROUPS };

static const char * const cl_names[CL_GROUPS] = {
	"device", "iommufd", "fault queue", "eventfds",
};

/* The @k-th permutation of the groups in lexicographic order. */
static void nth_order(unsigned int k, unsigned int order[CL_GROUPS])
{
	unsigned int pool[CL_GROUPS] = { 0, 1, 2, 3 };
	unsigned int n, i, f, pick;

	for (n = CL_GROUPS, i = 0; i < CL_GROUPS; i++, n--) {
		for (f = 1, pick = 2; pick < n; pick++)
			f *= pick;
		pick = k / f;
		k %= f;
		order[i] = pool[pick];
		memmove(&pool[pick], &pool[pick + 1],
			(n - pick - 1) * sizeof(pool[0]));
	}
}

static void close_group(struct vmm *v, struct host *h, unsigned int g)
{
	switch (g) {
	case CL_DEVICE:
		close(v->fd);
		v->fd = -1;
		break;
	case CL_IOMMUFD:
		close(h->w.fd);
		h->w.fd = -1;
		break;
	case CL_FAULT:
		close(h->fault_fd);
		h->fault_fd = -1;
		break;
	case CL_EVENTFDS:
		vg_vq_destroy(&v->rq);
		vg_vq_destroy(&v->eq);
		break;
	}
}

TEST_F_TIMEOUT(lt, every_close_order_after_traffic, 180)
{
	unsigned int order[CL_GROUPS], k, i, pokes = 0;
	bool closed[CL_GROUPS];
	__s64 t0 = now_ms();
	struct vg_req parked;
	int ret, held = -1;
	char name[80];
	struct host h;
	struct vmm v;
	__u64 cookie;

	for (k = 0; k < 24; k++) {
		nth_order(k, order);
		snprintf(name, sizeof(name), "%s, %s, %s, %s",
			 cl_names[order[0]], cl_names[order[1]],
			 cl_names[order[2]], cl_names[order[3]]);
		ASSERT_EQ(0, host_up(&h));
		ret = vmm_up(&v, &h, 0);
		ASSERT_EQ(0, ret) TH_LOG("setup failed at line %d", ret);
		ret = traffic(&v, 1);
		ASSERT_EQ(0, ret) TH_LOG("traffic failed at line %d", ret);
		ASSERT_TRUE(slots_are(&h, h.w.nested_id, 0));
		/* Left behind: a delivered page request and a parked ATTACH. */
		ASSERT_EQ(0, post_events(&v, 2));
		ASSERT_EQ(0, trigger(&h, 2));
		ASSERT_EQ(0, expect_group(&v, 2));
		ASSERT_EQ(0, park_attach(&v, &parked, &cookie));
		/* Control, once: a reference held elsewhere is seen. */
		if (!k) {
			held = dup(h.w.fd);
			ASSERT_LE(0, held);
		}

		memset(closed, 0, sizeof(closed));
		for (i = 0; i < CL_GROUPS; i++) {
			close_group(&v, &h, order[i]);
			closed[order[i]] = true;
			/* What is still open keeps poking at the device. */
			if (!closed[CL_EVENTFDS]) {
				EXPECT_EQ(0, vg_kick(&v.rq));
				EXPECT_EQ(0, vg_kick(&v.eq));
				pokes++;
			}
			if (!closed[CL_IOMMUFD]) {
				EXPECT_EQ(0, trigger(&h, 0x100 + i));
				pokes++;
			}
			/* Closed by its owner, it answered what it read. */
			if (order[i] == CL_DEVICE && !closed[CL_FAULT])
				EXPECT_EQ(0, answer_waiting(&h))
					TH_LOG("order %s", name);
		}
		vmm_down(&v);
		host_down(&h);
		if (held >= 0) {
			EXPECT_EQ(self->base.mock_devs + 1, mock_devices())
				TH_LOG("control: the mock device of a held iommufd went");
			close(held);
			held = -1;
		}
		expect_baseline(_metadata, &self->base, name);
	}
	ksft_print_msg("STAT close orders: 24 orders of 4 groups, %u pokes, %lld ms\n",
		       pokes, (long long)(now_ms() - t0));
}

/* ------------------------------------------------------------------ */
/* Two VMM processes at once */

#define TWO_ROUNDS	40

static __u32 serve_ok(void *opaque, const struct vhi_slow_request *req,
		      void *payload, __u32 payload_max, __u32 *payload_len)
{
	return req->type == VIRTIO_IOMMU_T_MAP ? VIRTIO_IOMMU_S_OK :
						  VIRTIO_IOMMU_S_UNSUPP;
}

/* A whole VMM: slow path from a server thread, fast paths, stats. */
static int vmm_session(struct kid *k, int go_fd)
{
	struct virtio_iommu_req_map m;
	struct vhost_iommu_stats st;
	struct vhi_server srv;
	struct host h;
	struct vmm v;
	unsigned int i;
	int ret;
	char c;

	if (host_up(&h))
		return __LINE__;
	ret = vmm_up(&v, &h, 0);
	if (ret)
		return ret;
	memset(&srv, 0, sizeof(srv));
	srv.fd = v.fd;
	srv.handle = serve_ok;
	if (vhi_server_start(&srv))
		return __LINE__;
	__atomic_store_n(&k->ready, 1, __ATOMIC_SEQ_CST);
	if (read(go_fd, &c, 1) != 1)
		return __LINE__;

	k->start_ms = now_ms();
	for (i = 0; !ret && i < TWO_ROUNDS; i++) {
		mk_map(&m, DOM, 0x100000 + i * 0x1000ULL);
		ret = send_expect(&v, &m, MAP_IN, TAIL, VIRTIO_IOMMU_S_OK);
		if (!ret)
			ret = inval_expect(&v, DOM, VIRTIO_IOMMU_S_OK);
		if (!ret)
			ret = page_roundtrip(&v, i + 1);
	}
	k->end_ms = now_ms();
	if (vhi_server_stop(&srv) && !ret)
		ret = __LINE__;
	if (ret)
		return ret;
	if (srv.served != TWO_ROUNDS || vhi_get_stats(v.fd, &st) ||
	    st.out_requests != 3 * TWO_ROUNDS ||
	    st.out_slow_path != TWO_ROUNDS ||
	    st.out_invalidations != TWO_ROUNDS || st.out_inval_errors ||
	    st.out_page_reqs != TWO_ROUNDS ||
	    st.out_page_resps != TWO_ROUNDS || st.out_page_req_invalid ||
	    st.out_fault_errors || st.out_malformed || st.out_broken)
		return __LINE__;
	if (!slots_are(&h, h.w.nested_id, 0) || answer_waiting(&h))
		return __LINE__;
	vmm_down(&v);
	host_down(&h);
	return 0;
}

TEST_F_TIMEOUT(lt, two_vmm_processes_at_once, 120)
{
	struct kid *k = kids_alloc(2);
	int go[2], ret[2], status[2];
	pid_t pid[2];
	unsigned int i;

	ASSERT_NE(NULL, k);
	ASSERT_EQ(0, pipe(go));
	for (i = 0; i < 2; i++) {
		pid[i] = fork_kid();
		ASSERT_LE(0, pid[i]);
		if (!pid[i]) {
			close(go[1]);
			ret[0] = vmm_session(&k[i], go[0]);
			if (ret[0])
				kid_failed(&k[i], ret[0]);
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++)
		ret[i] = wait_ready(&k[i], READY_MS);
	/* Both are set up: let them go at once. */
	EXPECT_EQ(2, write(go[1], "gg", 2));
	for (i = 0; i < 2; i++)
		EXPECT_EQ(pid[i], waitpid(pid[i], &status[i], 0));
	close(go[0]);
	close(go[1]);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, ret[i]) TH_LOG("VMM %u failed at line %d", i, ret[i]);
		EXPECT_EQ(0, k[i].fail) TH_LOG("VMM %u failed at line %d", i,
					       k[i].fail);
		EXPECT_TRUE(exited_ok(status[i])) TH_LOG("VMM %u: status %#x",
							 i, status[i]);
	}
	/* Their traffic overlapped in time. */
	EXPECT_LT(k[0].start_ms, k[1].end_ms);
	EXPECT_LT(k[1].start_ms, k[0].end_ms);
	ksft_print_msg("STAT two VMMs: %d rounds of 3 requests each, %lld ms and %lld ms\n",
		       TWO_ROUNDS, (long long)(k[0].end_ms - k[0].start_ms),
		       (long long)(k[1].end_ms - k[1].start_ms));
	kids_free(k, 2);
}

/* ------------------------------------------------------------------ */
/* A process that is not the owner */

/**
 * struct stranger - what the non-owner process knows of the owner's device
 * @v: the owner's device and guest (the fd is inherited)
 * @h: the owner's iommufd side (the fds are inherited)
 * @cookie: the request parked on the device
 */
struct stranger {
	const struct vmm *v;
	const struct host *h;
	__u64 cookie;
};

struct stranger_op {
	const char *name;
	int (*fn)(const struct stranger *s);
};

static int raw_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static int st_set_features(const struct stranger *s)
{
	return vhi_set_features(s->v->fd, 1ULL << VIRTIO_F_VERSION_1);
}

static int st_set_backend_features(const struct stranger *s)
{
	return vhi_set_backend_features(s->v->fd,
					1ULL << VHOST_IOMMU_BACKEND_F_PERSIST);
}

static int st_set_mem_table(const struct stranger *s)
{
	return vhi_set_mem_table(s->v->fd, s->v->mem.regions, 1);
}

static int st_set_vring_num(const struct stranger *s)
{
	return vhi_set_vring_num(s->v->fd, VHOST_IOMMU_VQ_REQUEST, 64);
}

static int st_set_vring_addr(const struct stranger *s)
{
	return vhi_set_vring_addr(s->v->fd, VHOST_IOMMU_VQ_REQUEST,
				  (uintptr_t)s->v->eq.desc,
				  (uintptr_t)s->v->eq.avail,
				  (uintptr_t)s->v->eq.used, 0);
}

static int st_set_vring_base(const struct stranger *s)
{
	return vhi_set_vring_base(s->v->fd, VHOST_IOMMU_VQ_EVENT, 7);
}

static int st_get_vring_base(const struct stranger *s)
{
	unsigned int base = 0x5a5a;
	int ret;

	ret = vhi_get_vring_base(s->v->fd, VHOST_IOMMU_VQ_REQUEST, &base);
	return base == 0x5a5a ? ret : 1;
}

static int st_set_vring_kick(const struct stranger *s)
{
	return vhi_set_vring_kick(s->v->fd, VHOST_IOMMU_VQ_REQUEST, -1);
}

static int st_set_vring_call(const struct stranger *s)
{
	return vhi_set_vring_call(s->v->fd, VHOST_IOMMU_VQ_EVENT, -1);
}

static int st_set_busyloop(const struct stranger *s)
{
	return vhi_set_vring_busyloop(s->v->fd, VHOST_IOMMU_VQ_REQUEST, 1000);
}

static int st_get_busyloop(const struct stranger *s)
{
	unsigned int usecs = 0x5a5a;
	int ret;

	ret = vhi_get_vring_busyloop(s->v->fd, VHOST_IOMMU_VQ_REQUEST, &usecs);
	return usecs == 0x5a5a ? ret : 1;
}

static int st_set_vring_err(const struct stranger *s)
{
	return vhi_set_vring_err(s->v->fd, VHOST_IOMMU_VQ_REQUEST,
				 s->v->eq.kick_fd);
}

static int st_reset_owner(const struct stranger *s)
{
	return vhi_reset_owner(s->v->fd);
}

/* Not handled by the module; still the owner's alone. */
static int st_set_log_base(const struct stranger *s)
{
	__u64 base = 0;

	return raw_ioctl(s->v->fd, VHOST_SET_LOG_BASE, &base);
}

static int st_set_config(const struct stranger *s)
{
	struct vhost_iommu_config cfg;

	config(&cfg);
	cfg.domain_start = 500;
	cfg.domain_end = 600;
	return vhi_set_config(s->v->fd, &cfg);
}

static int st_get_request(const struct stranger *s)
{
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];
	int ret;

	memset(buf, 0x5a, sizeof(buf));
	ret = vhi_get_request(s->v->fd, &r, buf, sizeof(buf));
	/* Nothing of the owner's request may leak out. */
	return r.out_cookie || r.out_type || buf[0] != 0x5a ? 1 : ret;
}

static int st_complete_request(const struct stranger *s)
{
	return vhi_complete_request(s->v->fd, s->cookie, VIRTIO_IOMMU_S_INVAL,
				    NULL, 0);
}

static int st_reset_device(const struct stranger *s)
{
	return vhi_reset_device(s->v->fd);
}

static int st_get_stats(const struct stranger *s)
{
	struct vhost_iommu_stats st;
	int ret;

	ret = vhi_get_stats(s->v->fd, &st);
	return st.out_requests || st.out_slow_path ? 1 : ret;
}

static int st_drop_iommufd(const struct stranger *s)
{
	return vhi_set_iommufd(s->v->fd, -1);
}

static int st_set_iommufd(const struct stranger *s)
{
	return vhi_set_iommufd(s->v->fd, s->h->w.fd);
}

static int st_remove_endpoint(const struct stranger *s)
{
	return vhi_remove_endpoint(s->v->fd, EP);
}

static int st_add_endpoint(const struct stranger *s)
{
	return vhi_add_endpoint(s->v->fd, EP2, s->h->w.idev_id, 0);
}

static int st_unbind_domain(const struct stranger *s)
{
	return vhi_unbind_domain(s->v->fd, DOM, 0, 0);
}

static int st_bind_domain(const struct stranger *s)
{
	struct vhost_iommu_bind b;

	bind_init(&b, DOM2, s->h->w.nested_id);
	return vhi_bind_domain(s->v->fd, &b);
}

static int st_detach_fault_queue(const struct stranger *s)
{
	return vhi_set_fault_queue(s->v->fd, -1);
}

static int st_set_fault_queue(const struct stranger *s)
{
	return vhi_set_fault_queue(s->v->fd, s->h->fault_fd);
}

static int st_set_running(const struct stranger *s)
{
	int running = 0;

	return raw_ioctl(s->v->fd, VHOST_IOMMU_SET_RUNNING, &running);
}

static int st_post_event(const struct stranger *s)
{
	return vhi_post_event(s->v->fd, VIRTIO_IOMMU_FAULT_R_MAPPING, 0, EP,
			      0);
}

static int st_test_fake_attach(const struct stranger *s)
{
	struct vhost_iommu_test_op op = {
		.size = sizeof(op),
		.op = VHOST_IOMMU_TEST_FAKE_ATTACH,
	};

	return raw_ioctl(s->v->fd, VHOST_IOMMU_TEST, &op);
}

static int st_test_fake_inject(const struct stranger *s)
{
	struct iommu_hwpt_pgfault rec = {
		.flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE,
		.dev_id = s->h->w.idev_id,
		.grpid = 9,
		.cookie = 1,
	};
	struct vhost_iommu_test_op op = {
		.size = sizeof(op),
		.op = VHOST_IOMMU_TEST_FAKE_INJECT,
		.nr = 1,
		.uptr = (uintptr_t)&rec,
	};

	return raw_ioctl(s->v->fd, VHOST_IOMMU_TEST, &op);
}

/* Every ioctl but GET_FEATURES, GET_BACKEND_FEATURES and SET_OWNER. */
static const struct stranger_op stranger_ops[] = {
	{ "VHOST_SET_FEATURES", st_set_features },
	{ "VHOST_SET_BACKEND_FEATURES", st_set_backend_features },
	{ "VHOST_SET_MEM_TABLE", st_set_mem_table },
	{ "VHOST_SET_VRING_NUM", st_set_vring_num },
	{ "VHOST_SET_VRING_ADDR", st_set_vring_addr },
	{ "VHOST_SET_VRING_BASE", st_set_vring_base },
	{ "VHOST_GET_VRING_BASE", st_get_vring_base },
	{ "VHOST_SET_VRING_KICK", st_set_vring_kick },
	{ "VHOST_SET_VRING_CALL", st_set_vring_call },
	{ "VHOST_SET_VRING_ERR", st_set_vring_err },
	{ "VHOST_SET_VRING_BUSYLOOP_TIMEOUT", st_set_busyloop },
	{ "VHOST_GET_VRING_BUSYLOOP_TIMEOUT", st_get_busyloop },
	{ "VHOST_SET_LOG_BASE", st_set_log_base },
	{ "VHOST_IOMMU_SET_CONFIG", st_set_config },
	{ "VHOST_IOMMU_GET_REQUEST", st_get_request },
	{ "VHOST_IOMMU_COMPLETE_REQUEST", st_complete_request },
	{ "VHOST_IOMMU_GET_STATS", st_get_stats },
	{ "VHOST_IOMMU_SET_IOMMUFD -1", st_drop_iommufd },
	{ "VHOST_IOMMU_SET_IOMMUFD", st_set_iommufd },
	{ "VHOST_IOMMU_SET_ENDPOINT remove", st_remove_endpoint },
	{ "VHOST_IOMMU_SET_ENDPOINT add", st_add_endpoint },
	{ "VHOST_IOMMU_BIND_DOMAIN unbind", st_unbind_domain },
	{ "VHOST_IOMMU_BIND_DOMAIN", st_bind_domain },
	{ "VHOST_IOMMU_SET_FAULT_QUEUE -1", st_detach_fault_queue },
	{ "VHOST_IOMMU_SET_FAULT_QUEUE", st_set_fault_queue },
	{ "VHOST_IOMMU_SET_RUNNING", st_set_running },
	{ "VHOST_IOMMU_POST_EVENT", st_post_event },
	{ "VHOST_IOMMU_TEST fake attach", st_test_fake_attach },
	{ "VHOST_IOMMU_TEST fake inject", st_test_fake_inject },
	/* Last: if they wrongly worked, they would spoil the others. */
	{ "VHOST_IOMMU_RESET_DEVICE", st_reset_device },
	{ "VHOST_RESET_OWNER", st_reset_owner },
};

#define NR_STRANGER_OPS	ARRAY_SIZE(stranger_ops)

/* What the stranger saw: one result per op, then the allowed three. */
struct stranger_result {
	int op[NR_STRANGER_OPS];
	int get_features;
	int get_backend_features;
	int set_owner;
	int own_device;
};

static const char *stranger_name(unsigned int i)
{
	return i < NR_STRANGER_OPS ? stranger_ops[i].name : "?";
}

/* The stranger owns a device of its own: it is an owner, not this one's. */
static void stranger_main(const struct stranger *s,
			  struct stranger_result *res)
{
	struct vhost_iommu_stats st;
	unsigned int i;
	__u64 f;
	int own;

	own = vhi_open();
	res->own_device = own < 0 ? own : vhi_set_owner(own);
	if (!res->own_device)
		res->own_device = vhi_get_stats(own, &st);
	for (i = 0; i < NR_STRANGER_OPS; i++)
		res->op[i] = stranger_ops[i].fn(s);
	res->get_features = vhi_get_features(s->v->fd, &f);
	res->get_backend_features = vhi_get_backend_features(s->v->fd, &f);
	res->set_owner = vhi_set_owner(s->v->fd);
	_exit(0);
}

/*
 * The request counters; the structural ones after them (wake-ups, user
 * accesses, iommufd calls) move with the worker's own passes.
 */
static bool stats_equal(const struct vhost_iommu_stats *a,
			const struct vhost_iommu_stats *b)
{
	return !memcmp(a, b, offsetof(struct vhost_iommu_stats, out_wakeups));
}

TEST_F_TIMEOUT(lt, non_owner_gets_eperm_and_changes_nothing, 60)
{
	struct stranger_result *res;
	struct vhost_iommu_stats before, after;
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];
	unsigned int base0, base1, b;
	struct stranger s;
	struct vg_req parked;
	struct host h;
	struct vmm v;
	unsigned int i;
	int ret, status;
	pid_t pid;

	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	ASSERT_EQ(0, host_up(&h));
	ret = vmm_up(&v, &h, 0);
	ASSERT_EQ(0, ret) TH_LOG("setup failed at line %d", ret);
	/* The owner's state: event buffers, a parked request. */
	ASSERT_EQ(0, post_events(&v, 4));
	ASSERT_EQ(0, park_attach(&v, &parked, &s.cookie));
	ASSERT_EQ(0, vhi_get_stats(v.fd, &before));
	ASSERT_EQ(0, vhi_get_vring_base(v.fd, VHOST_IOMMU_VQ_REQUEST, &base0));
	ASSERT_EQ(0, vhi_get_vring_base(v.fd, VHOST_IOMMU_VQ_EVENT, &base1));

	s.v = &v;
	s.h = &h;
	pid = fork_kid();
	ASSERT_LE(0, pid);
	if (!pid)
		stranger_main(&s, res);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(exited_ok(status));
	for (i = 0; i < NR_STRANGER_OPS; i++) {
		EXPECT_EQ(-EPERM, res->op[i])
			TH_LOG("%s from another process", stranger_name(i));
	}
	EXPECT_EQ(0, res->get_features);
	EXPECT_EQ(0, res->get_backend_features);
	EXPECT_EQ(-EBUSY, res->set_owner);
	EXPECT_EQ(0, res->own_device);
	ksft_print_msg("STAT non-owner: %zu ioctls refused\n",
		       NR_STRANGER_OPS);

	/* Nothing of the owner's changed. */
	ASSERT_EQ(0, vhi_get_stats(v.fd, &after));
	EXPECT_TRUE(stats_equal(&before, &after));
	EXPECT_EQ(0, vhi_get_vring_base(v.fd, VHOST_IOMMU_VQ_REQUEST, &b));
	EXPECT_EQ(base0, b);
	EXPECT_EQ(0, vhi_get_vring_base(v.fd, VHOST_IOMMU_VQ_EVENT, &b));
	EXPECT_EQ(base1, b);
	EXPECT_EQ(0, vhi_get_vring_busyloop(v.fd, VHOST_IOMMU_VQ_REQUEST, &b));
	EXPECT_EQ(0u, b);
	/* The same request is parked, still unanswered. */
	ASSERT_EQ(0, vhi_get_request(v.fd, &r, buf, sizeof(buf)));
	EXPECT_EQ(s.cookie, r.out_cookie);
	EXPECT_EQ((__u32)VIRTIO_IOMMU_T_ATTACH, r.out_type);
	EXPECT_EQ(VG_POISON, status_of(&v.rq, &parked));
	ASSERT_EQ(0, vhi_complete_request(v.fd, s.cookie, VIRTIO_IOMMU_S_OK,
					  NULL, 0));
	ASSERT_EQ(0, wait_own_used(&v.rq, &parked));
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, status_of(&v.rq, &parked));
	/* Running, with the owner's rings, memory and config (domain 1). */
	EXPECT_EQ(0, slow_roundtrip(&v, VIRTIO_IOMMU_S_OK));
	/* Bound to the same HWPT, which nothing invalidated before. */
	EXPECT_TRUE(slots_are(&h, h.w.nested_id, IMOCK_IOTLB_DEFAULT));
	EXPECT_EQ(0, inval_expect(&v, DOM, VIRTIO_IOMMU_S_OK));
	EXPECT_TRUE(slots_are(&h, h.w.nested_id, 0));
	EXPECT_EQ(0, inval_expect(&v, DOM2, VIRTIO_IOMMU_S_NOENT));
	/* The real fault queue and endpoint, the features with PAGE_REQ. */
	EXPECT_EQ(0, trigger(&h, 5));
	EXPECT_EQ(0, expect_group(&v, 5));
	EXPECT_EQ(0, page_resp_expect(&v, EP, 5, VIRTIO_IOMMU_S_OK));
	EXPECT_EQ(-ENOENT, vhi_remove_endpoint(v.fd, EP2));
	/* No PERSIST backend feature: a reset drops the binding. */
	ASSERT_EQ(0, vhi_reset_device(v.fd));
	ASSERT_EQ(0, vg_rings_up(v.fd, &v.rq, &v.eq, ALL_FEATURES));
	EXPECT_EQ(0, inval_expect(&v, DOM, VIRTIO_IOMMU_S_NOENT));

	vmm_down(&v);
	host_down(&h);
	munmap(res, sizeof(*res));
}

/* ------------------------------------------------------------------ */
/* Two devices, two iommufds */

#define DOM_A	1u
#define DOM_B	2u
#define EP_A	8u
#define EP_B	9u

FIXTURE(iso) {
	struct baseline base;
	struct host ha;
	struct host hb;
	struct vmm a;
	struct vmm b;
};

FIXTURE_SETUP(iso)
{
	int ret;

	vmm_init(&self->a);
	vmm_init(&self->b);
	self->ha.fault_fd = -1;
	self->ha.w.fd = -1;
	self->hb.fault_fd = -1;
	self->hb.w.fd = -1;
	if (access(IMOCK_DEV_PATH, F_OK))
		SKIP(return, "no " IMOCK_DEV_PATH ": kernel without iommufd");
	if (mock_devices() < 0)
		SKIP(return, "no " MOCK_DEVICES ": kernel without CONFIG_IOMMUFD_TEST");
	baseline_take(&self->base);
	ASSERT_EQ(0, host_up(&self->ha));
	ASSERT_EQ(0, host_up(&self->hb));
	ret = vmm_up_as(&self->a, &self->ha, 0, DOM_A, EP_A);
	ASSERT_EQ(0, ret) TH_LOG("device A: line %d", ret);
	ret = vmm_up_as(&self->b, &self->hb, 0, DOM_B, EP_B);
	ASSERT_EQ(0, ret) TH_LOG("device B: line %d", ret);
	ASSERT_EQ(0, post_events(&self->a, 4));
	ASSERT_EQ(0, post_events(&self->b, 4));
}

FIXTURE_TEARDOWN(iso)
{
	vmm_down(&self->a);
	vmm_down(&self->b);
	host_down(&self->ha);
	host_down(&self->hb);
	expect_baseline(_metadata, &self->base, "after the test");
	ksft_print_msg("%s took %lld ms\n", _metadata->name,
		       (long long)(now_ms() - self->base.start_ms));
}

TEST_F(iso, domain_bound_only_on_a_is_noent_for_b)
{
	const struct host *ha = &self->ha, *hb = &self->hb;

	EXPECT_EQ(0, inval_expect(&self->b, DOM_A, VIRTIO_IOMMU_S_NOENT));
	EXPECT_TRUE(slots_are(ha, ha->w.nested_id, IMOCK_IOTLB_DEFAULT))
		TH_LOG("B's INVALIDATE reached A's HWPT");
	EXPECT_TRUE(slots_are(ha, ha->fault_hwpt, IMOCK_IOTLB_DEFAULT));
	EXPECT_TRUE(slots_are(hb, hb->w.nested_id, IMOCK_IOTLB_DEFAULT));
	/* Each reaches its own HWPT only. */
	EXPECT_EQ(0, inval_expect(&self->a, DOM_A, VIRTIO_IOMMU_S_OK));
	EXPECT_TRUE(slots_are(ha, ha->w.nested_id, 0));
	EXPECT_TRUE(slots_are(hb, hb->w.nested_id, IMOCK_IOTLB_DEFAULT))
		TH_LOG("A's INVALIDATE reached B's HWPT");
	EXPECT_EQ(0, inval_expect(&self->a, DOM_B, VIRTIO_IOMMU_S_NOENT));
	EXPECT_EQ(0, inval_expect(&self->b, DOM_B, VIRTIO_IOMMU_S_OK));
	EXPECT_TRUE(slots_are(hb, hb->w.nested_id, 0));
}

TEST_F(iso, object_id_of_a_is_not_reached_through_b)
{
	const struct host *ha = &self->ha, *hb = &self->hb;
	struct vhost_iommu_bind bind;
	__u32 only_a, spare;
	int ret;

	/* Both worlds were built alike: these two IDs exist only in A. */
	ASSERT_EQ(0, imock_hwpt_alloc_nested(ha->w.fd, ha->w.idev_id,
					     ha->w.parent_id, 0, &spare));
	ASSERT_EQ(0, imock_hwpt_alloc_nested(ha->w.fd, ha->w.idev_id,
					     ha->w.parent_id, 0, &only_a));
	ASSERT_EQ(-ENOENT, imock_check_iotlb(hb->w.fd, only_a, 0,
					     IMOCK_IOTLB_DEFAULT));

	/* B binds the number; its iommufd has no such object. */
	bind_init(&bind, DOM2 + 10, only_a);
	ret = vhi_bind_domain(self->b.fd, &bind);
	EXPECT_TRUE(!ret || ret == -ENOENT || ret == -EINVAL)
		TH_LOG("bind: %s", strerror(-ret));
	if (!ret)
		EXPECT_EQ(0, inval_expect(&self->b, DOM2 + 10,
					  VIRTIO_IOMMU_S_NOENT));
	EXPECT_TRUE(slots_are(ha, only_a, IMOCK_IOTLB_DEFAULT))
		TH_LOG("B's INVALIDATE reached A's object %u", only_a);
	EXPECT_TRUE(slots_are(ha, spare, IMOCK_IOTLB_DEFAULT));

	/* An ID both have: B's goes to B's own object, never to A's. */
	ASSERT_EQ(ha->w.nested_id, hb->w.nested_id);
	bind_init(&bind, DOM2 + 11, ha->w.nested_id);
	ASSERT_EQ(0, vhi_bind_domain(self->b.fd, &bind));
	EXPECT_EQ(0, inval_expect(&self->b, DOM2 + 11, VIRTIO_IOMMU_S_OK));
	EXPECT_TRUE(slots_are(hb, hb->w.nested_id, 0));
	EXPECT_TRUE(slots_are(ha, ha->w.nested_id, IMOCK_IOTLB_DEFAULT))
		TH_LOG("B's INVALIDATE reached A's HWPT %u", ha->w.nested_id);

	/* Control: in A the object is real and takes A's invalidations. */
	bind_init(&bind, DOM2 + 10, only_a);
	ASSERT_EQ(0, vhi_bind_domain(self->a.fd, &bind));
	EXPECT_EQ(0, inval_expect(&self->a, DOM2 + 10, VIRTIO_IOMMU_S_OK));
	EXPECT_TRUE(slots_are(ha, only_a, 0));
}

TEST_F(iso, page_requests_and_endpoints_stay_with_their_device)
{
	struct vhost_iommu_stats st;

	/* A's page request: A's guest only. */
	ASSERT_EQ(0, trigger(&self->ha, 3));
	EXPECT_EQ(0, expect_group(&self->a, 3));
	EXPECT_TRUE(no_event(&self->b)) TH_LOG("A's page request reached B");
	ASSERT_EQ(0, vhi_get_stats(self->b.fd, &st));
	EXPECT_EQ(0u, st.out_page_reqs);
	/* B cannot answer it; A still can. */
	EXPECT_EQ(0, page_resp_expect(&self->b, EP_A, 3,
				      VIRTIO_IOMMU_S_INVAL));
	EXPECT_EQ(0, page_resp_expect(&self->a, EP_A, 3, VIRTIO_IOMMU_S_OK));

	/* B's page request: B's guest only. */
	ASSERT_EQ(0, trigger(&self->hb, 5));
	EXPECT_EQ(0, expect_group(&self->b, 5));
	EXPECT_TRUE(no_event(&self->a)) TH_LOG("B's page request reached A");
	EXPECT_EQ(0, page_resp_expect(&self->a, EP_B, 5,
				      VIRTIO_IOMMU_S_INVAL));
	EXPECT_EQ(0, page_resp_expect(&self->b, EP_B, 5, VIRTIO_IOMMU_S_OK));

	/* A's endpoint is not B's to remove, and B may use its number. */
	EXPECT_EQ(-ENOENT, vhi_remove_endpoint(self->b.fd, EP_A));
	EXPECT_EQ(0, vhi_add_endpoint(self->b.fd, EP_A, 0x7777, 0));
	EXPECT_EQ(0, vhi_remove_endpoint(self->b.fd, EP_A));
	EXPECT_EQ(-EEXIST, vhi_add_endpoint(self->a.fd, EP_A, 0x7777, 0));
	/* A's endpoint still names A's device. */
	EXPECT_EQ(0, page_roundtrip(&self->a, 6));
	EXPECT_TRUE(no_event(&self->b));

	EXPECT_EQ(0, answer_waiting(&self->ha));
	EXPECT_EQ(0, answer_waiting(&self->hb));
}

/* ------------------------------------------------------------------ */
/* Module unload and load */

FIXTURE(mod) {
	struct baseline base;
	const char *ko;
};

FIXTURE_SETUP(mod)
{
	int fd;

	self->ko = getenv("VHOST_IOMMU_KO");
	if (!self->ko)
		SKIP(return, "VHOST_IOMMU_KO not set: the module could not be loaded again");
	fd = open(self->ko, O_RDONLY);
	if (fd < 0)
		SKIP(return, "cannot read %s: the module could not be loaded again",
		     self->ko);
	close(fd);
	if (geteuid())
		SKIP(return, "not root: cannot unload and load the module");
	if (module_refcnt() < 0)
		SKIP(return, "the module is not loaded");
	if (access(IMOCK_DEV_PATH, F_OK) || mock_devices() < 0)
		SKIP(return, "no iommufd selftest mock");
	baseline_take(&self->base);
}

FIXTURE_TEARDOWN(mod)
{
	/* Whatever happened, the module is loaded when the test ends. */
	if (access(MOD_SYSFS, F_OK)) {
		EXPECT_EQ(0, load_module(self->ko))
			TH_LOG("could not load %s again: %s", self->ko,
			       strerror(errno));
		EXPECT_TRUE(wait_node(true));
	}
	expect_baseline(_metadata, &self->base, "after the test");
	ksft_print_msg("%s took %lld ms\n", _metadata->name,
		       (long long)(now_ms() - self->base.start_ms));
}

/* A device owned by a process that was then killed; this one holds it. */
static void kid_owns_and_dies(struct kid *k, struct vmm *v)
{
	struct vg_req req;
	int ret;

	ret = dev_setup(v, NULL, 0);
	if (!ret)
		ret = park_attach(v, &req, &k->cookie);
	if (ret)
		kid_failed(k, ret);
	kid_ready_forever(k);
}

TEST_F_TIMEOUT(mod, unload_refused_while_busy_devices_are_open, 60)
{
	struct kid *k = kids_alloc(1);
	struct vg_req parked;
	struct vmm a, dead, c;
	struct host h;
	__u64 cookie;
	int ret, status;
	pid_t pid;

	ASSERT_NE(NULL, k);
	ASSERT_EQ(0, host_up(&h));
	/* A: every kind of state, its worker running. */
	ret = vmm_up(&a, &h, 0);
	ASSERT_EQ(0, ret) TH_LOG("setup failed at line %d", ret);
	ASSERT_EQ(0, traffic(&a, 1));
	ASSERT_EQ(0, post_events(&a, 1));
	ASSERT_EQ(0, trigger(&h, 2));
	ASSERT_EQ(0, expect_group(&a, 2));
	ASSERT_EQ(0, park_attach(&a, &parked, &cookie));
	/* The other: its owner was killed, this process holds the file. */
	vmm_init(&dead);
	ASSERT_EQ(0, guest_up(&dead));
	dead.fd = vhi_open();
	ASSERT_LE(0, dead.fd);
	pid = fork_kid();
	ASSERT_LE(0, pid);
	if (!pid)
		kid_owns_and_dies(k, &dead);
	ret = wait_ready(k, READY_MS);
	status = kill_reap(pid);
	ASSERT_EQ(0, ret) TH_LOG("the VMM failed at line %d", ret);
	ASSERT_TRUE(killed(status));
	EXPECT_EQ(self->base.refcnt + 2, module_refcnt());

	EXPECT_TRUE(unload_refused()) TH_LOG("unload: %s", strerror(errno));
	EXPECT_EQ(0, access(MOD_SYSFS, F_OK));
	EXPECT_TRUE(wait_node(true));
	/* A refused unload changed nothing: A goes on. */
	ASSERT_EQ(0, vhi_complete_request(a.fd, cookie, VIRTIO_IOMMU_S_OK,
					  NULL, 0));
	EXPECT_EQ(0, wait_own_used(&a.rq, &parked));
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, status_of(&a.rq, &parked));
	EXPECT_EQ(0, page_resp_expect(&a, EP, 2, VIRTIO_IOMMU_S_OK));
	vmm_down(&a);
	EXPECT_EQ(self->base.refcnt + 1,
		  settle(module_refcnt, self->base.refcnt + 1, SETTLE_MS));
	EXPECT_TRUE(unload_refused()) TH_LOG("unload: %s", strerror(errno));

	vmm_down(&dead);
	ASSERT_EQ(self->base.refcnt,
		  settle(module_refcnt, self->base.refcnt, SETTLE_MS));
	ASSERT_EQ(0, unload_module()) TH_LOG("unload: %s", strerror(errno));
	EXPECT_TRUE(wait_node(false));
	EXPECT_EQ(-1, module_refcnt());
	ASSERT_EQ(0, load_module(self->ko)) TH_LOG("load: %s",
						   strerror(errno));
	ASSERT_TRUE(wait_node(true));
	self->base.refcnt = module_refcnt();
	ret = vmm_up(&c, &h, 0);
	EXPECT_EQ(0, ret) TH_LOG("new device: line %d", ret);
	ret = traffic(&c, 3);
	EXPECT_EQ(0, ret) TH_LOG("new device: line %d", ret);
	vmm_down(&c);
	host_down(&h);
	kids_free(k, 1);
}

#define CYCLES		100
/* Every this many cycles the VMM also has an iommufd. */
#define CYCLE_IOMMUFD	25

/*
 * A VMM using the module while the test tries to unload it: two devices,
 * one with traffic, the other holding a parked request across the
 * attempt and answering it after.
 */
static int cycle_vmm(struct kid *k, int go_fd, bool with_iommufd)
{
	struct vg_req parked;
	struct host h;
	struct vmm v[2];
	__u64 cookie;
	int ret;
	char c;

	k->start_ms = now_ms();
	h.fault_fd = -1;
	h.w.fd = -1;
	if (with_iommufd && host_up(&h))
		return __LINE__;
	ret = vmm_up(&v[0], with_iommufd ? &h : NULL, 0);
	if (!ret)
		ret = vmm_up(&v[1], NULL, 0);
	if (!ret)
		ret = traffic(&v[0], 1);
	if (!ret)
		ret = park_attach(&v[1], &parked, &cookie);
	if (ret)
		return ret;
	k->end_ms = now_ms();
	__atomic_store_n(&k->ready, 1, __ATOMIC_SEQ_CST);
	if (read(go_fd, &c, 1) != 1)
		return __LINE__;
	if (vhi_complete_request(v[1].fd, cookie, VIRTIO_IOMMU_S_OK, NULL, 0))
		return __LINE__;
	ret = wait_own_used(&v[1].rq, &parked);
	if (!ret && status_of(&v[1].rq, &parked) != VIRTIO_IOMMU_S_OK)
		ret = __LINE__;
	if (!ret)
		ret = inval_expect(&v[1], DOM, VIRTIO_IOMMU_S_NOENT);
	vmm_down(&v[0]);
	vmm_down(&v[1]);
	host_down(&h);
	return ret;
}

TEST_F_TIMEOUT(mod, unload_load_100_cycles_around_vmms, 300)
{
	struct kid *k = kids_alloc(1);
	__s64 t0, t, vmm_ms = 0, setup_ms = 0, unload_ms = 0, load_ms = 0;
	int go[2], ret, status;
	unsigned int i;
	pid_t pid;

	ASSERT_NE(NULL, k);
	ASSERT_EQ(0, pipe(go));
	t0 = now_ms();
	for (i = 0; i < CYCLES; i++) {
		memset(k, 0, sizeof(*k));
		t = now_ms();
		pid = fork_kid();
		ASSERT_LE(0, pid);
		if (!pid) {
			close(go[1]);
			ret = cycle_vmm(k, go[0], !(i % CYCLE_IOMMUFD));
			if (ret)
				kid_failed(k, ret);
			_exit(0);
		}
		ret = wait_ready(k, READY_MS);
		if (!ret)
			EXPECT_TRUE(unload_refused())
				TH_LOG("cycle %u: unload while in use: %s", i,
				       strerror(errno));
		ASSERT_EQ(1, write(go[1], "g", 1));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_EQ(0, ret) TH_LOG("cycle %u: VMM failed at line %d", i,
					 ret);
		ASSERT_TRUE(exited_ok(status))
			TH_LOG("cycle %u: VMM failed at line %d", i, k->fail);
		ASSERT_EQ(0, settle(module_refcnt, 0, SETTLE_MS))
			TH_LOG("cycle %u: references left", i);
		vmm_ms += now_ms() - t;
		setup_ms += k->end_ms - k->start_ms;
		t = now_ms();
		ASSERT_EQ(0, unload_module())
			TH_LOG("cycle %u: unload: %s", i, strerror(errno));
		ASSERT_TRUE(wait_node(false)) TH_LOG("cycle %u", i);
		unload_ms += now_ms() - t;
		t = now_ms();
		ASSERT_EQ(0, load_module(self->ko))
			TH_LOG("cycle %u: load: %s", i, strerror(errno));
		ASSERT_TRUE(wait_node(true)) TH_LOG("cycle %u", i);
		load_ms += now_ms() - t;
	}
	ksft_print_msg("STAT unload/load: %d cycles, %lld ms\n", CYCLES,
		       (long long)(now_ms() - t0));
	ksft_print_msg("STAT unload/load: VMMs %lld ms (setup %lld), unloads %lld, loads %lld\n",
		       (long long)vmm_ms, (long long)setup_ms,
		       (long long)unload_ms, (long long)load_ms);
	close(go[0]);
	close(go[1]);
	kids_free(k, 1);
}

TEST_HARNESS_MAIN
