// SPDX-License-Identifier: GPL-2.0-only
/*
 * kselftest suite "device": the /dev/vhost-iommu misc device, the
 * module's lifetime around open files, and the VMM interface of
 * <linux/vhost_iommu.h> driven through tools/lib: ownership, setup ioctls
 * and their errors, every request type through the ring, corrupt rings,
 * the slow path, notifications and resets.
 *
 * The unload tests need the module's path in VHOST_IOMMU_KO (the VM
 * runner sets it) so the module can be loaded again afterwards.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vhost_iommu_vmm.h"
#include "viommu_guest.h"

#define DEV_PATH	"/dev/vhost-iommu"
#define MOD_NAME	"vhost_iommu"

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

static int module_refcnt(void)
{
	return read_int_file("/sys/module/" MOD_NAME "/refcnt");
}

/* devtmpfs creates and removes nodes asynchronously. */
static bool wait_node(bool present)
{
	struct stat st;
	int i;

	for (i = 0; i < 200; i++) {
		if ((stat(DEV_PATH, &st) == 0) == present)
			return true;
		usleep(10000);
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

TEST(node_is_misc_char_device)
{
	unsigned int major, minor;
	char buf[32] = {};
	char *end;
	struct stat st;
	int fd, n;

	ASSERT_EQ(0, stat(DEV_PATH, &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600u, st.st_mode & 0777);

	/* The node is the one the misc class registered. */
	fd = open("/sys/class/misc/vhost-iommu/dev", O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LT(0, n);
	major = strtoul(buf, &end, 10);
	ASSERT_EQ(':', *end);
	minor = strtoul(end + 1, NULL, 10);
	EXPECT_EQ(10u, major);
	EXPECT_EQ(major, major(st.st_rdev));
	EXPECT_EQ(minor, minor(st.st_rdev));
}

TEST(open_close)
{
	int fd;

	fd = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, close(fd));
}

TEST(open_holds_module_reference)
{
	int before, fd;

	before = module_refcnt();
	ASSERT_LE(0, before);
	fd = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(before + 1, module_refcnt());
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(before, module_refcnt());
}

TEST(two_opens_are_independent)
{
	int before, a, b;

	before = module_refcnt();
	ASSERT_LE(0, before);
	a = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, a);
	b = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, b);
	EXPECT_EQ(before + 2, module_refcnt());

	/* Closing one instance leaves the other open and usable. */
	ASSERT_EQ(0, close(a));
	EXPECT_EQ(before + 1, module_refcnt());
	EXPECT_LE(0, fcntl(b, F_GETFD));
	EXPECT_EQ(-1, lseek(b, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	ASSERT_EQ(0, close(b));
	EXPECT_EQ(before, module_refcnt());
}

/* The skeleton has no read/write/seek: nothing pretends to work. */
TEST(no_read_write_seek)
{
	char c = 0;
	int fd;

	fd = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, &c, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(fd, &c, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, lseek(fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	close(fd);
}

TEST(unload_refused_while_open)
{
	const char *ko = getenv("VHOST_IOMMU_KO");
	int fd, ret;

	if (!ko)
		SKIP(return, "VHOST_IOMMU_KO not set: cannot reload the module");
	if (geteuid())
		SKIP(return, "needs root to unload the module");

	fd = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	ret = unload_module();
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EWOULDBLOCK, errno);
	/* Still there, still open. */
	EXPECT_TRUE(wait_node(true));
	EXPECT_LE(0, fcntl(fd, F_GETFD));
	ASSERT_EQ(0, close(fd));

	/* Once the last fd is closed, unload succeeds and the node goes. */
	ASSERT_EQ(0, unload_module());
	EXPECT_TRUE(wait_node(false));
	EXPECT_EQ(-1, module_refcnt());

	/* Load it again for whatever runs next. */
	ASSERT_EQ(0, load_module(ko));
	ASSERT_TRUE(wait_node(true));
	fd = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	close(fd);
}

TEST(unload_reload_cycles)
{
	const char *ko = getenv("VHOST_IOMMU_KO");
	int i, fd;

	if (!ko)
		SKIP(return, "VHOST_IOMMU_KO not set: cannot reload the module");
	if (geteuid())
		SKIP(return, "needs root to unload the module");

	for (i = 0; i < 5; i++) {
		fd = open(DEV_PATH, O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, close(fd));
		ASSERT_EQ(0, unload_module());
		ASSERT_TRUE(wait_node(false));
		ASSERT_EQ(0, load_module(ko));
		ASSERT_TRUE(wait_node(true));
	}
}

/*
 * Everything below runs against an owned device whose guest, played by
 * tools/lib/viommu_guest.c, has memory in GUEST_REGIONS regions and both
 * queues set up. Feature sets other than the full one come from
 * dev_redo().
 */
#define GUEST_BASE	0x40000000ULL
#define GUEST_SIZE	(12ULL << 20)
#define GUEST_REGIONS	3
#define RQ_NUM		1024
#define EQ_NUM		64
#define PROBE_SIZE	512
#define DOM_FIRST	1
#define DOM_LAST	1023
#define INPUT_FIRST	0x10000ULL
#define INPUT_LAST	((1ULL << 40) - 1)
/* How long "nothing happens" is watched for. */
#define QUIET_MS	200
#define FBIT(b)		(1ULL << (b))
#define ALL_FEATURES	VHI_FEATURES_OFFERED

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/*
 * Helpers take the fixture data as struct _test_data_vdev, which is what
 * FIXTURE_DATA(vdev) expands to, spelled so checkpatch sees a type.
 */
FIXTURE(vdev) {
	int fd;
	__u64 features;
	struct vhost_iommu_config cfg;
	struct vg_mem mem;
	struct vg_vq rq;
	struct vg_vq eq;
};

static void fixture_config(struct vhost_iommu_config *cfg)
{
	vhi_config_default(cfg);
	cfg->page_size_mask = 0x1000 | 0x200000;
	cfg->input_start = INPUT_FIRST;
	cfg->input_end = INPUT_LAST;
	cfg->domain_start = DOM_FIRST;
	cfg->domain_end = DOM_LAST;
	cfg->probe_size = PROBE_SIZE;
}

/* Features and both rings from scratch, as a driver does after a reset. */
static void rings_up(struct __test_metadata *_metadata,
		     struct _test_data_vdev *self)
{
	ASSERT_EQ(0, vg_rings_up(self->fd, &self->rq, &self->eq,
				 self->features));
}

static void dev_up(struct __test_metadata *_metadata,
		   struct _test_data_vdev *self, __u64 features)
{
	self->fd = -1;
	self->features = features;
	ASSERT_EQ(0, vg_mem_init(&self->mem, GUEST_BASE, GUEST_SIZE,
				 GUEST_REGIONS));
	ASSERT_EQ(0, vg_vq_init(&self->rq, &self->mem, RQ_NUM));
	ASSERT_EQ(0, vg_vq_init(&self->eq, &self->mem, EQ_NUM));
	fixture_config(&self->cfg);
	self->fd = vg_device_open(&self->mem, &self->cfg);
	ASSERT_LE(0, self->fd);
	rings_up(_metadata, self);
}

static void dev_down(struct _test_data_vdev *self)
{
	if (self->fd >= 0)
		close(self->fd);
	self->fd = -1;
	vg_vq_destroy(&self->rq);
	vg_vq_destroy(&self->eq);
	vg_mem_destroy(&self->mem);
}

/* The same device, guest and config with other features. */
static void dev_redo(struct __test_metadata *_metadata,
		     struct _test_data_vdev *self, __u64 features)
{
	dev_down(self);
	dev_up(_metadata, self, features);
}

FIXTURE_SETUP(vdev)
{
	dev_up(_metadata, self, ALL_FEATURES);
}

FIXTURE_TEARDOWN(vdev)
{
	dev_down(self);
}

/* A second file with an owner and nothing else. */
static int owned_fd(struct __test_metadata *_metadata)
{
	int fd = vhi_open();

	if (fd < 0)
		return fd;
	EXPECT_EQ(0, vhi_set_owner(fd));
	return fd;
}

static __s64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Request builders; each returns the size of the readable part. */
static __u32 mk_attach(struct virtio_iommu_req_attach *r, __u32 domain,
		       __u32 endpoint, __u32 flags)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_ATTACH;
	r->domain = htole32(domain);
	r->endpoint = htole32(endpoint);
	r->flags = htole32(flags);
	return offsetof(struct virtio_iommu_req_attach, tail);
}

static __u32 mk_detach(struct virtio_iommu_req_detach *r, __u32 domain,
		       __u32 endpoint)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_DETACH;
	r->domain = htole32(domain);
	r->endpoint = htole32(endpoint);
	return offsetof(struct virtio_iommu_req_detach, tail);
}

static __u32 mk_map(struct virtio_iommu_req_map *r, __u32 domain,
		    __u64 start, __u64 end, __u64 phys,
		    __u32 flags)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_MAP;
	r->domain = htole32(domain);
	r->virt_start = htole64(start);
	r->virt_end = htole64(end);
	r->phys_start = htole64(phys);
	r->flags = htole32(flags);
	return offsetof(struct virtio_iommu_req_map, tail);
}

static __u32 mk_unmap(struct virtio_iommu_req_unmap *r, __u32 domain,
		      __u64 start, __u64 end)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_UNMAP;
	r->domain = htole32(domain);
	r->virt_start = htole64(start);
	r->virt_end = htole64(end);
	return offsetof(struct virtio_iommu_req_unmap, tail);
}

static __u32 mk_probe(struct virtio_iommu_req_probe *r, __u32 endpoint)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_PROBE;
	r->endpoint = htole32(endpoint);
	return sizeof(*r);
}

static __u32 mk_attach_table(struct virtio_iommu_req_attach_table *r,
			     __u32 domain, __u32 endpoint)
{
	unsigned int i;

	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_ATTACH_TABLE;
	r->domain = htole32(domain);
	r->endpoint = htole32(endpoint);
	r->format = VIRTIO_IOMMU_ATTACH_TABLE_ARM_SMMU3;
	/* The kernel must pass the descriptor on unread: make it distinct. */
	for (i = 0; i < sizeof(r->descriptor); i++)
		r->descriptor[i] = i + 1;
	return offsetof(struct virtio_iommu_req_attach_table, tail);
}

static __u32 mk_invalidate(struct virtio_iommu_req_invalidate *r,
			   __u32 domain)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_INVALIDATE;
	r->scope = VIRTIO_IOMMU_INVAL_S_DOMAIN;
	r->caches = VIRTIO_IOMMU_INVAL_C_TLB;
	r->domain = htole32(domain);
	return offsetof(struct virtio_iommu_req_invalidate, tail);
}

static __u32 mk_page_resp(struct virtio_iommu_req_page_resp *r,
			  __u32 endpoint, __u32 grpid)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_PAGE_RESP;
	r->endpoint = htole32(endpoint);
	r->grpid = htole32(grpid);
	r->resp_code = htole16(VIRTIO_IOMMU_PAGE_RESP_SUCCESS);
	return offsetof(struct virtio_iommu_req_page_resp, tail);
}

/* Submits a request and waits for its used entry, which must be its own. */
static void send_wait(struct __test_metadata *_metadata,
		      struct _test_data_vdev *self, const void *body,
		      __u32 in_len, __u32 out_len, unsigned int flags,
		      struct vg_req *req, __u32 *used_len)
{
	__u32 id;

	ASSERT_EQ(0, vg_submit(&self->rq, body, in_len, out_len, flags, req));
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, used_len))
		TH_LOG("no used entry for a %s within %d ms",
		       vhi_type_name(((const __u8 *)body)[0]),
		       VG_TIMEOUT_MS);
	EXPECT_EQ(req->head, id);
}

static __u8 req_status(struct _test_data_vdev *self, const struct vg_req *req)
{
	__u8 st = 0xff;

	vg_req_status(&self->rq, req, &st);
	return st;
}

/* True when the guest buffer still holds VG_POISON only. */
static bool filled_with(struct _test_data_vdev *self, __u64 gpa, __u32 len,
			__u8 c)
{
	__u8 buf[8192];
	__u32 i;

	if (len > sizeof(buf) || vg_read(&self->mem, gpa, buf, len))
		return false;
	for (i = 0; i < len; i++)
		if (buf[i] != c)
			return false;
	return true;
}

static bool untouched(struct _test_data_vdev *self, __u64 gpa, __u32 len)
{
	return filled_with(self, gpa, len, VG_POISON);
}

static bool zeroed(struct _test_data_vdev *self, __u64 gpa, __u32 len)
{
	return filled_with(self, gpa, len, 0);
}

static bool all_zero(struct _test_data_vdev *self, __u64 gpa, __u32 len)
{
	__u8 buf[8192];
	__u32 i;

	if (len > sizeof(buf) || vg_read(&self->mem, gpa, buf, len))
		return false;
	for (i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

static int get_request_now(struct _test_data_vdev *self)
{
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];

	return vhi_get_request(self->fd, &r, buf, sizeof(buf));
}

/*
 * The device answers @body itself: @want in the tail, used length the
 * whole writable size, and nothing reaches the VMM.
 */
static void expect_device_status(struct __test_metadata *_metadata,
				 struct _test_data_vdev *self, const void *body,
				 __u32 in_len, __u32 out_len,
				 __u8 want)
{
	struct vg_req req;
	__u32 len = 0;
	__u8 st;

	send_wait(_metadata, self, body, in_len, out_len, 0, &req, &len);
	EXPECT_EQ(out_len, len);
	st = req_status(self, &req);
	EXPECT_EQ(want, st)
		TH_LOG("%s answered %s, expected %s",
		       vhi_type_name(((const __u8 *)body)[0]),
		       vhi_status_name(st), vhi_status_name(want));
	EXPECT_EQ(-EAGAIN, get_request_now(self));
}

/* The device completes @body with used length 0 and writes nothing. */
static void expect_used_len_zero(struct __test_metadata *_metadata,
				 struct _test_data_vdev *self, const void *body,
				 __u32 in_len, __u32 out_len)
{
	struct vg_req req;
	__u32 len = 1;

	send_wait(_metadata, self, body, in_len, out_len, 0, &req, &len);
	EXPECT_EQ(0u, len)
		TH_LOG("type %u, readable %u, writable %u",
		       ((const __u8 *)body)[0], in_len, out_len);
	if (out_len)
		EXPECT_TRUE(untouched(self, req.out_gpa, out_len));
	EXPECT_EQ(-EAGAIN, get_request_now(self));
}

/* Waits for the request the device hands over; it must be @body. */
static void expect_vmm_request(struct __test_metadata *_metadata,
			       struct _test_data_vdev *self, const void *body,
			       __u32 in_len, __u32 out_len,
			       struct vhost_iommu_request *r)
{
	__u8 buf[VHI_REQ_BUF_SIZE];

	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(0, vhi_wait_request(self->fd, r, buf, sizeof(buf),
				      VG_TIMEOUT_MS))
		TH_LOG("no %s for the VMM within %d ms",
		       vhi_type_name(((const __u8 *)body)[0]),
		       VG_TIMEOUT_MS);
	EXPECT_EQ(((const __u8 *)body)[0], r->out_type);
	EXPECT_EQ(in_len, r->out_readable_len);
	EXPECT_EQ(out_len, r->out_writable_len);
	EXPECT_EQ(0, memcmp(buf, body, in_len));
}

/* @body goes to the VMM intact, and the VMM's @status reaches the guest. */
static void roundtrip_vmm(struct __test_metadata *_metadata,
			  struct _test_data_vdev *self, const void *body,
			  __u32 in_len, __u32 out_len,
			  unsigned int flags, __u32 status)
{
	struct vhost_iommu_request r;
	struct vg_req req;
	__u32 id, len;

	ASSERT_EQ(0, vg_submit(&self->rq, body, in_len, out_len, flags, &req));
	expect_vmm_request(_metadata, self, body, in_len, out_len, &r);
	ASSERT_EQ(0, vhi_complete_request(self->fd, r.out_cookie, status,
					  NULL, 0));
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(req.head, id);
	EXPECT_EQ(out_len, len);
	EXPECT_EQ(status, req_status(self, &req));
}

/* Queues an ATTACH and waits until the VMM can get it. */
static void pend_attach(struct __test_metadata *_metadata,
			struct _test_data_vdev *self, struct vg_req *req,
			struct vhost_iommu_request *r)
{
	struct virtio_iommu_req_attach a;
	__u32 in = mk_attach(&a, 1, 8, 0);

	ASSERT_EQ(0, vg_submit(&self->rq, &a, in, 4, 0, req));
	expect_vmm_request(_metadata, self, &a, in, 4, r);
}

static void pend_probe(struct __test_metadata *_metadata,
		       struct _test_data_vdev *self, struct vg_req *req,
		       struct vhost_iommu_request *r)
{
	struct virtio_iommu_req_probe p;
	__u32 in = mk_probe(&p, 8);

	ASSERT_EQ(0, vg_submit(&self->rq, &p, in, PROBE_SIZE + 4, 0, req));
	expect_vmm_request(_metadata, self, &p, in, PROBE_SIZE + 4, r);
}

static void wait_used_entry(struct __test_metadata *_metadata,
			    struct _test_data_vdev *self,
			    const struct vg_req *req, __u32 want_len)
{
	__u32 id, len;

	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(req->head, id);
	EXPECT_EQ(want_len, len);
}

/* Nothing new in the used ring for QUIET_MS. */
static bool stays_quiet(struct _test_data_vdev *self, __u16 used)
{
	usleep(QUIET_MS * 1000);
	return vg_used_idx(&self->rq) == used;
}

/* Asks the device to signal the next used entry (with EVENT_IDX). */
static void want_call(struct _test_data_vdev *self)
{
	vg_set_used_event(&self->rq, vg_used_idx(&self->rq));
}

static void drain(int efd)
{
	__u64 v;

	if (read(efd, &v, sizeof(v)) < 0)
		v = 0;
}

/* ------------------------------------------------------------------ */
/* Ownership */

/* The ioctls that need an owner, with valid arguments. */
struct owner_op {
	const char *name;
	int (*fn)(struct _test_data_vdev *self, int fd);
};

static int op_set_features(struct _test_data_vdev *self, int fd)
{
	return vhi_set_features(fd, self->features);
}

static int op_set_backend_features(struct _test_data_vdev *self, int fd)
{
	return vhi_set_backend_features(fd, 0);
}

static int op_set_mem_table(struct _test_data_vdev *self, int fd)
{
	return vhi_set_mem_table(fd, self->mem.regions, self->mem.nr_regions);
}

static int op_set_vring_num(struct _test_data_vdev *self, int fd)
{
	return vhi_set_vring_num(fd, 0, RQ_NUM);
}

static int op_set_vring_addr(struct _test_data_vdev *self, int fd)
{
	return vhi_set_vring_addr(fd, 0, (uintptr_t)self->rq.desc,
				  (uintptr_t)self->rq.avail,
				  (uintptr_t)self->rq.used, 0);
}

static int op_set_vring_base(struct _test_data_vdev *self, int fd)
{
	return vhi_set_vring_base(fd, 0, 0);
}

static int op_get_vring_base(struct _test_data_vdev *self, int fd)
{
	unsigned int base;

	return vhi_get_vring_base(fd, 0, &base);
}

static int op_set_vring_kick(struct _test_data_vdev *self, int fd)
{
	return vhi_set_vring_kick(fd, 0, self->rq.kick_fd);
}

static int op_set_vring_call(struct _test_data_vdev *self, int fd)
{
	return vhi_set_vring_call(fd, 0, self->rq.call_fd);
}

static int op_set_vring_err(struct _test_data_vdev *self, int fd)
{
	return vhi_set_vring_err(fd, 0, self->rq.err_fd);
}

static int op_set_config(struct _test_data_vdev *self, int fd)
{
	struct vhost_iommu_config cfg = self->cfg;

	return vhi_set_config(fd, &cfg);
}

static int op_get_request(struct _test_data_vdev *self, int fd)
{
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];

	return vhi_get_request(fd, &r, buf, sizeof(buf));
}

static int op_complete_request(struct _test_data_vdev *self, int fd)
{
	return vhi_complete_request(fd, 1, VIRTIO_IOMMU_S_OK, NULL, 0);
}

static int op_reset_device(struct _test_data_vdev *self, int fd)
{
	return vhi_reset_device(fd);
}

static int op_get_stats(struct _test_data_vdev *self, int fd)
{
	struct vhost_iommu_stats st;

	return vhi_get_stats(fd, &st);
}

static int op_reset_owner(struct _test_data_vdev *self, int fd)
{
	return vhi_reset_owner(fd);
}

static const struct owner_op owner_ops[] = {
	{ "SET_FEATURES", op_set_features },
	{ "SET_BACKEND_FEATURES", op_set_backend_features },
	{ "SET_MEM_TABLE", op_set_mem_table },
	{ "SET_VRING_NUM", op_set_vring_num },
	{ "SET_VRING_ADDR", op_set_vring_addr },
	{ "SET_VRING_BASE", op_set_vring_base },
	{ "GET_VRING_BASE", op_get_vring_base },
	{ "SET_VRING_KICK", op_set_vring_kick },
	{ "SET_VRING_CALL", op_set_vring_call },
	{ "SET_VRING_ERR", op_set_vring_err },
	{ "VHOST_IOMMU_SET_CONFIG", op_set_config },
	{ "VHOST_IOMMU_GET_REQUEST", op_get_request },
	{ "VHOST_IOMMU_COMPLETE_REQUEST", op_complete_request },
	{ "VHOST_IOMMU_RESET_DEVICE", op_reset_device },
	{ "VHOST_IOMMU_GET_STATS", op_get_stats },
	/* Last: if it wrongly worked, it would spoil the others. */
	{ "RESET_OWNER", op_reset_owner },
};

/* Bounds-checked, which also keeps GCC's format checker quiet. */
static const char *op_name(unsigned int i)
{
	return i < ARRAY_SIZE(owner_ops) ? owner_ops[i].name : "?";
}

TEST_F(vdev, unowned_file_allows_only_get_features_and_set_owner)
{
	struct vhost_iommu_stats st;
	__u64 f = 0;
	unsigned int i;
	int fd;

	fd = vhi_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, vhi_get_features(fd, &f));
	EXPECT_EQ(ALL_FEATURES, f);
	EXPECT_EQ(0, vhi_get_backend_features(fd, &f));
	for (i = 0; i < ARRAY_SIZE(owner_ops); i++) {
		EXPECT_EQ(-EPERM, owner_ops[i].fn(self, fd))
			TH_LOG("%s before SET_OWNER", op_name(i));
	}
	EXPECT_EQ(0, vhi_set_owner(fd));
	EXPECT_EQ(0, vhi_get_stats(fd, &st));
	close(fd);
}

/* The capability query: the right values, before SET_OWNER too. */
TEST_F(vdev, get_info_before_and_after_owner)
{
	struct vhost_iommu_info a, b;
	int fd;

	fd = vhi_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vhi_get_info(fd, &a));
	EXPECT_EQ(sizeof(a), a.size);
	EXPECT_EQ(0u, a.flags);
	EXPECT_EQ(ALL_FEATURES, a.features);
	EXPECT_EQ((__u64)1 << VHOST_IOMMU_BACKEND_F_PERSIST, a.backend_features);
	EXPECT_EQ((__u64)VHOST_IOMMU_FAULT_SOURCE_FAULT_QUEUE, a.fault_sources);
	/* 0.9.0 and later; Kbuild's VHOST_IOMMU_VERSION. */
	EXPECT_LE((0u << 16) | (9u << 8), a.version);
	EXPECT_EQ((__u32)VHOST_IOMMU_MAX_ENDPOINTS, a.max_endpoints);
	EXPECT_EQ((__u32)VHOST_IOMMU_MAX_BINDINGS, a.max_bindings);
	EXPECT_EQ((__u32)VHOST_IOMMU_MAX_BIND_ENDPOINTS, a.max_bind_endpoints);
	EXPECT_EQ((__u32)VHOST_IOMMU_MAX_CHAIN_PIECES, a.max_chain_pieces);
	EXPECT_EQ((__u32)VHOST_IOMMU_MAX_PAGE_GROUPS, a.max_page_groups);
	EXPECT_EQ((__u32)VHOST_IOMMU_MAX_EVENT_BACKLOG, a.max_event_backlog);
	EXPECT_EQ((__u32)VHOST_IOMMU_MAX_PAGE_GROUP_RECORDS,
		  a.max_page_group_records);
	/* POST_EVENT exists; caps holds nothing else yet. */
	EXPECT_EQ((__u64)VHOST_IOMMU_CAP_POST_EVENT, a.caps);
	/* The test kernel has the iommufd selftest; VT-d stage 1 is always taken. */
	EXPECT_NE(0ull,
		  a.inv_formats & (1ull << VHOST_IOMMU_INV_FORMAT_SELFTEST));
	EXPECT_NE(0ull, a.inv_formats & (1ull << VHOST_IOMMU_INV_FORMAT_VTD_S1));
	/* Formats 1 to 4 exist; which of 3 and 4 depends on the kernel. */
	EXPECT_EQ(0ull, a.inv_formats & ~0x1eull);
	ASSERT_EQ(0, vhi_set_owner(fd));
	ASSERT_EQ(0, vhi_get_info(fd, &b));
	EXPECT_EQ(0, memcmp(&a, &b, sizeof(a)));
	close(fd);
}

/* Extensible like the other structs: smaller, larger, flags, pointers. */
TEST_F(vdev, get_info_sizes_and_flags)
{
	struct {
		struct vhost_iommu_info info;
		__u8 more[8];
	} big;
	struct vhost_iommu_info info, small;

	/* Up to inv_formats: that much is filled, and size says so. */
	memset(&small, 0xa5, sizeof(small));
	small.size = offsetof(struct vhost_iommu_info, fault_sources);
	small.flags = 0;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_IOMMU_GET_INFO, &small));
	EXPECT_EQ(16u, small.size);
	EXPECT_NE(0xa5a5a5a5a5a5a5a5ull, small.inv_formats);
	EXPECT_NE(0u, small.inv_formats);
	/* Nothing past what the caller said it has. */
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ull, small.fault_sources);
	/* Shorter than inv_formats. */
	memset(&info, 0, sizeof(info));
	info.size = offsetof(struct vhost_iommu_info, inv_formats);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_GET_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	/* Larger: zeros are fine, anything else is E2BIG. */
	memset(&big, 0, sizeof(big));
	big.info.size = sizeof(big);
	EXPECT_EQ(0, ioctl(self->fd, VHOST_IOMMU_GET_INFO, &big));
	EXPECT_EQ(sizeof(big.info), big.info.size);
	big.info.size = sizeof(big);
	big.more[7] = 1;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_GET_INFO, &big));
	EXPECT_EQ(E2BIG, errno);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.flags = 1;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_GET_INFO, &info));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_IOMMU_GET_INFO, NULL));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(vdev, set_owner_twice_ebusy)
{
	EXPECT_EQ(-EBUSY, vhi_set_owner(self->fd));
}

TEST_F(vdev, other_process_gets_eperm)
{
	unsigned int n = ARRAY_SIZE(owner_ops);
	struct vhost_iommu_stats st;
	unsigned int i;
	__u64 f;
	int *res;
	pid_t pid;
	int status;

	res = mmap(NULL, (n + 3) * sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* A different mm: not the owner, whatever the fd. */
		for (i = 0; i < n; i++)
			res[i] = owner_ops[i].fn(self, self->fd);
		res[n] = vhi_get_features(self->fd, &f);
		res[n + 1] = vhi_get_backend_features(self->fd, &f);
		res[n + 2] = vhi_set_owner(self->fd);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	for (i = 0; i < n; i++) {
		EXPECT_EQ(-EPERM, res[i])
			TH_LOG("%s from another process", op_name(i));
	}
	EXPECT_EQ(0, res[n]);
	EXPECT_EQ(0, res[n + 1]);
	/* The device has an owner: another one cannot take it. */
	EXPECT_NE(0, res[n + 2]);
	EXPECT_EQ(0, vhi_get_stats(self->fd, &st));
	munmap(res, (n + 3) * sizeof(*res));
}

static void *owner_thread(void *arg)
{
	struct _test_data_vdev *self = arg;
	struct vhost_iommu_config cfg = self->cfg;
	struct vhost_iommu_stats st;
	long ret;

	ret = vhi_get_stats(self->fd, &st);
	if (!ret)
		ret = vhi_set_config(self->fd, &cfg);
	return (void *)ret;
}

TEST_F(vdev, owner_thread_shares_ownership)
{
	pthread_t t;
	void *ret;

	ASSERT_EQ(0, pthread_create(&t, NULL, owner_thread, self));
	ASSERT_EQ(0, pthread_join(t, &ret));
	EXPECT_EQ(0, (long)ret);
}

TEST_F(vdev, reset_owner_drops_owner_until_set_owner)
{
	struct virtio_iommu_req_invalidate inv;
	struct vhost_iommu_stats st;
	__u64 f;

	ASSERT_EQ(0, vhi_reset_owner(self->fd));
	EXPECT_EQ(-EPERM, vhi_get_stats(self->fd, &st));
	EXPECT_EQ(-EPERM, vhi_set_features(self->fd, self->features));
	EXPECT_EQ(0, vhi_get_features(self->fd, &f));

	ASSERT_EQ(0, vhi_set_owner(self->fd));
	EXPECT_EQ(0, vhi_get_stats(self->fd, &st));
	/* The memory table and eventfds went with the owner. */
	ASSERT_EQ(0, vhi_set_mem_table(self->fd, self->mem.regions,
				       self->mem.nr_regions));
	rings_up(_metadata, self);
	expect_device_status(_metadata, self, &inv, mk_invalidate(&inv, 1), 4,
			     VIRTIO_IOMMU_S_NOENT);
}

/* ------------------------------------------------------------------ */
/* Features */

TEST(get_features_offers_the_contract_set)
{
	__u64 f = 0, bf = ~0ULL;
	int fd;

	fd = vhi_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, vhi_get_features(fd, &f));
	EXPECT_EQ(ALL_FEATURES, f)
		TH_LOG("offered %#llx, missing %#llx, extra %#llx",
		       (unsigned long long)f,
		       (unsigned long long)(ALL_FEATURES & ~f),
		       (unsigned long long)(f & ~ALL_FEATURES));
	EXPECT_EQ(0, vhi_get_backend_features(fd, &bf));
	EXPECT_EQ(FBIT(VHOST_IOMMU_BACKEND_F_PERSIST), bf);
	close(fd);
}

TEST_F(vdev, set_features_unknown_bit_eopnotsupp)
{
	int fd = owned_fd(_metadata);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EOPNOTSUPP, vhi_set_features(fd, ALL_FEATURES |
						FBIT(VIRTIO_IOMMU_F_BYPASS)));
	EXPECT_EQ(-EOPNOTSUPP, vhi_set_features(fd, ALL_FEATURES | FBIT(40)));
	EXPECT_EQ(-EOPNOTSUPP, vhi_set_features(fd, ALL_FEATURES | FBIT(63)));
	/* Any subset with VERSION_1 is fine. */
	EXPECT_EQ(0, vhi_set_features(fd, ALL_FEATURES));
	EXPECT_EQ(0, vhi_set_features(fd, FBIT(VIRTIO_F_VERSION_1)));
	close(fd);
}

TEST_F(vdev, set_features_without_version_1_einval)
{
	int fd = owned_fd(_metadata);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, vhi_set_features(fd, 0));
	EXPECT_EQ(-EINVAL, vhi_set_features(fd, ALL_FEATURES &
					    ~FBIT(VIRTIO_F_VERSION_1)));
	close(fd);
}

TEST_F(vdev, backend_features_only_persist)
{
	int fd = owned_fd(_metadata);
	__u64 offered = 0;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vhi_get_backend_features(fd, &offered));
	EXPECT_EQ(FBIT(VHOST_IOMMU_BACKEND_F_PERSIST), offered);
	EXPECT_EQ(0, vhi_set_backend_features(fd, 0));
	EXPECT_EQ(0, vhi_set_backend_features(fd,
					      FBIT(VHOST_IOMMU_BACKEND_F_PERSIST)));
	EXPECT_EQ(-EOPNOTSUPP, vhi_set_backend_features(fd, 1));
	/* vhost's VHOST_BACKEND_F_IOTLB_PERSIST (8) means nothing here. */
	EXPECT_EQ(-EOPNOTSUPP, vhi_set_backend_features(fd, FBIT(8)));
	EXPECT_EQ(-EOPNOTSUPP, vhi_set_backend_features(fd, FBIT(62)));
	close(fd);
}

/* ------------------------------------------------------------------ */
/* Memory table */

/* @n one-page regions carved out of the guest's first region. */
static void small_regions(struct _test_data_vdev *self,
			  struct vhost_memory_region *r, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		r[i].guest_phys_addr = GUEST_BASE + i * 0x1000ULL;
		r[i].memory_size = 0x1000;
		r[i].userspace_addr = self->mem.regions[0].userspace_addr +
				      i * 0x1000ULL;
		r[i].flags_padding = 0;
	}
}

TEST_F(vdev, mem_table_more_than_64_regions_e2big)
{
	struct vhost_memory_region r[VHOST_IOMMU_MAX_MEM_REGIONS + 1];
	int fd = owned_fd(_metadata);

	ASSERT_LE(0, fd);
	small_regions(self, r, ARRAY_SIZE(r));
	EXPECT_EQ(-E2BIG, vhi_set_mem_table(fd, r, ARRAY_SIZE(r)));
	EXPECT_EQ(0, vhi_set_mem_table(fd, r, VHOST_IOMMU_MAX_MEM_REGIONS));
	close(fd);
}

TEST_F(vdev, mem_table_zero_size_region_einval)
{
	struct vhost_memory_region r[3];
	int fd = owned_fd(_metadata);

	ASSERT_LE(0, fd);
	small_regions(self, r, 3);
	r[1].memory_size = 0;
	EXPECT_EQ(-EINVAL, vhi_set_mem_table(fd, r, 3));
	close(fd);
}

TEST_F(vdev, mem_table_overlapping_regions_einval)
{
	struct vhost_memory_region r[2];
	int fd = owned_fd(_metadata);

	ASSERT_LE(0, fd);
	small_regions(self, r, 2);
	/* Second region's first page is the first region's second page. */
	r[0].memory_size = 0x2000;
	EXPECT_EQ(-EINVAL, vhi_set_mem_table(fd, r, 2));
	/* The same guest-physical range twice. */
	small_regions(self, r, 2);
	r[1].guest_phys_addr = r[0].guest_phys_addr;
	EXPECT_EQ(-EINVAL, vhi_set_mem_table(fd, r, 2));
	close(fd);
}

/* ------------------------------------------------------------------ */
/* Virtqueue setup */

TEST_F(vdev, bad_queue_index_enobufs)
{
	static const unsigned int bad[] = { VHOST_IOMMU_VQ_MAX, 3, 0xffff,
					    ~0u };
	int fd = owned_fd(_metadata);
	unsigned int i, base;
	int efd;

	ASSERT_LE(0, fd);
	efd = self->rq.kick_fd;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		unsigned int q = bad[i];

		EXPECT_EQ(-ENOBUFS, vhi_set_vring_num(fd, q, 64));
		EXPECT_EQ(-ENOBUFS, vhi_set_vring_addr(fd, q,
						       (uintptr_t)self->rq.desc,
						       (uintptr_t)self->rq.avail,
						       (uintptr_t)self->rq.used,
						       0));
		EXPECT_EQ(-ENOBUFS, vhi_set_vring_base(fd, q, 0));
		EXPECT_EQ(-ENOBUFS, vhi_get_vring_base(fd, q, &base));
		EXPECT_EQ(-ENOBUFS, vhi_set_vring_kick(fd, q, efd));
		EXPECT_EQ(-ENOBUFS, vhi_set_vring_call(fd, q, efd));
		EXPECT_EQ(-ENOBUFS, vhi_set_vring_err(fd, q, efd));
	}
	close(fd);
}

TEST_F(vdev, set_vring_num_limits)
{
	static const unsigned int bad[] = { 0, 3, 1000, 32769, 65536,
					    1u << 31 };
	static const unsigned int good[] = { 1, 256,
					     VHOST_IOMMU_MAX_VRING_NUM };
	int fd = owned_fd(_metadata);
	unsigned int i;

	ASSERT_LE(0, fd);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, vhi_set_vring_num(fd, 0, bad[i]))
			TH_LOG("num %u", bad[i]);
		EXPECT_EQ(-EINVAL, vhi_set_vring_num(fd, 1, bad[i]))
			TH_LOG("num %u", bad[i]);
	}
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		EXPECT_EQ(0, vhi_set_vring_num(fd, 0, good[i]))
			TH_LOG("num %u", good[i]);
	}
	close(fd);
}

TEST_F(vdev, set_vring_addr_misaligned_einval)
{
	__u64 desc = (uintptr_t)self->rq.desc;
	__u64 avail = (uintptr_t)self->rq.avail;
	__u64 used = (uintptr_t)self->rq.used;
	int fd = owned_fd(_metadata);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vhi_set_vring_num(fd, 0, RQ_NUM));
	EXPECT_EQ(-EINVAL, vhi_set_vring_addr(fd, 0, desc + 8, avail, used, 0));
	EXPECT_EQ(-EINVAL, vhi_set_vring_addr(fd, 0, desc, avail + 1, used, 0));
	EXPECT_EQ(-EINVAL, vhi_set_vring_addr(fd, 0, desc, avail, used + 2, 0));
	EXPECT_EQ(0, vhi_set_vring_addr(fd, 0, desc, avail, used, 0));
	close(fd);
}

TEST_F(vdev, set_vring_addr_log_flag_eopnotsupp)
{
	int fd = owned_fd(_metadata);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vhi_set_vring_num(fd, 0, RQ_NUM));
	EXPECT_EQ(-EOPNOTSUPP,
		  vhi_set_vring_addr(fd, 0, (uintptr_t)self->rq.desc,
				     (uintptr_t)self->rq.avail,
				     (uintptr_t)self->rq.used,
				     1u << VHOST_VRING_F_LOG));
	close(fd);
}

static const struct {
	const char *name;
	int (*fn)(int fd, unsigned int idx, int efd);
} file_ops[] = {
	{ "KICK", vhi_set_vring_kick },
	{ "CALL", vhi_set_vring_call },
	{ "ERR", vhi_set_vring_err },
};

static const char *file_op_name(unsigned int i)
{
	return i < ARRAY_SIZE(file_ops) ? file_ops[i].name : "?";
}

TEST_F(vdev, vring_files_closed_fd_ebadf)
{
	unsigned int i, q;
	int closed;

	closed = dup(self->rq.kick_fd);
	ASSERT_LE(0, closed);
	close(closed);
	for (q = 0; q < VHOST_IOMMU_VQ_MAX; q++)
		for (i = 0; i < ARRAY_SIZE(file_ops); i++) {
			EXPECT_EQ(-EBADF, file_ops[i].fn(self->fd, q, closed))
				TH_LOG("%s on queue %u", file_op_name(i), q);
		}
}

TEST_F(vdev, vring_files_not_eventfd_einval)
{
	unsigned int i, q;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	for (q = 0; q < VHOST_IOMMU_VQ_MAX; q++)
		for (i = 0; i < ARRAY_SIZE(file_ops); i++) {
			EXPECT_EQ(-EINVAL, file_ops[i].fn(self->fd, q, p[0]))
				TH_LOG("%s on queue %u", file_op_name(i), q);
		}
	close(p[0]);
	close(p[1]);
}

TEST_F(vdev, vring_files_minus_one_unbinds)
{
	unsigned int i, q;

	for (q = 0; q < VHOST_IOMMU_VQ_MAX; q++)
		for (i = 0; i < ARRAY_SIZE(file_ops); i++) {
			EXPECT_EQ(0, file_ops[i].fn(self->fd, q, -1))
				TH_LOG("%s on queue %u", file_op_name(i), q);
		}
}

TEST_F(vdev, unbound_kick_does_not_run_queue)
{
	struct virtio_iommu_req_invalidate inv;
	__u32 in = mk_invalidate(&inv, 1);
	struct vg_req req;

	ASSERT_EQ(0, vhi_set_vring_kick(self->fd, 0, -1));
	ASSERT_EQ(0, vg_submit(&self->rq, &inv, in, 4, 0, &req));
	EXPECT_TRUE(stays_quiet(self, 0));
	/* Bound again, the queue runs. */
	ASSERT_EQ(0, vhi_set_vring_kick(self->fd, 0, self->rq.kick_fd));
	ASSERT_EQ(0, vg_kick(&self->rq));
	wait_used_entry(_metadata, self, &req, 4);
	EXPECT_EQ(VIRTIO_IOMMU_S_NOENT, req_status(self, &req));
}

TEST_F(vdev, unbound_call_is_not_signalled)
{
	struct virtio_iommu_req_invalidate inv;
	__u32 in = mk_invalidate(&inv, 1);
	struct vg_req req;
	__u32 len;

	ASSERT_EQ(0, vhi_set_vring_call(self->fd, 0, -1));
	want_call(self);
	send_wait(_metadata, self, &inv, in, 4, 0, &req, &len);
	EXPECT_EQ(-ETIMEDOUT, vg_eventfd_wait(self->rq.call_fd, QUIET_MS, NULL));
	/* Bound again, it is. */
	ASSERT_EQ(0, vhi_set_vring_call(self->fd, 0, self->rq.call_fd));
	want_call(self);
	send_wait(_metadata, self, &inv, in, 4, 0, &req, &len);
	EXPECT_EQ(0, vg_eventfd_wait(self->rq.call_fd, VG_TIMEOUT_MS, NULL));
}

TEST_F(vdev, get_vring_base_counts_consumed_requests)
{
	struct virtio_iommu_req_invalidate inv;
	struct vhost_iommu_request r;
	__u8 junk[64] = { 9 };
	unsigned int base = ~0u;
	struct vg_req req;
	__u32 len;

	EXPECT_EQ(0, vhi_get_vring_base(self->fd, 0, &base));
	EXPECT_EQ(0u, base);
	send_wait(_metadata, self, &inv, mk_invalidate(&inv, 1), 4, 0, &req,
		  &len);
	send_wait(_metadata, self, &inv, mk_invalidate(&inv, 2), 4, 0, &req,
		  &len);
	send_wait(_metadata, self, junk, sizeof(junk), 4, 0, &req, &len);
	pend_attach(_metadata, self, &req, &r);
	ASSERT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	wait_used_entry(_metadata, self, &req, 4);
	EXPECT_EQ(0, vhi_get_vring_base(self->fd, 0, &base));
	EXPECT_EQ(4u, base);
	EXPECT_EQ(0, vhi_get_vring_base(self->fd, 1, &base));
	EXPECT_EQ(0u, base);
}

/* ------------------------------------------------------------------ */
/* The extensible structs of the vhost-iommu ioctls */

enum ext_kind { EXT_CONFIG, EXT_GET_REQUEST, EXT_COMPLETE, EXT_STATS };

static const char * const ext_names[] = {
	"SET_CONFIG", "GET_REQUEST", "COMPLETE_REQUEST", "GET_STATS",
};

/* What every one of them starts with. */
struct ext_head {
	__u32 size;
	__u32 flags;
};

struct ext_arg {
	union {
		struct ext_head head;
		struct vhost_iommu_config config;
		struct vhost_iommu_request request;
		struct vhost_iommu_completion completion;
		struct vhost_iommu_stats stats;
		__u8 raw[256];
	};
	__u8 buf[VHI_REQ_BUF_SIZE];
};

/*
 * A valid argument for @kind in @a (completion of @cookie with S_OK);
 * returns the ioctl number and sets *@size to the struct's size.
 */
static unsigned long ext_prepare(struct _test_data_vdev *self, enum ext_kind kind,
				 struct ext_arg *a, __u64 cookie,
				 __u32 *size)
{
	memset(a, 0, sizeof(*a));
	switch (kind) {
	case EXT_CONFIG:
		a->config = self->cfg;
		*size = sizeof(a->config);
		a->config.size = *size;
		return VHOST_IOMMU_SET_CONFIG;
	case EXT_GET_REQUEST:
		*size = sizeof(a->request);
		a->request.size = *size;
		a->request.buf_len = sizeof(a->buf);
		a->request.buf_uptr = (uintptr_t)a->buf;
		return VHOST_IOMMU_GET_REQUEST;
	case EXT_COMPLETE:
		*size = sizeof(a->completion);
		a->completion.size = *size;
		a->completion.cookie = cookie;
		a->completion.status = VIRTIO_IOMMU_S_OK;
		return VHOST_IOMMU_COMPLETE_REQUEST;
	case EXT_STATS:
	default:
		*size = sizeof(a->stats);
		a->stats.size = *size;
		return VHOST_IOMMU_GET_STATS;
	}
}

static int ext_ioctl(int fd, unsigned long cmd, struct ext_arg *a)
{
	return ioctl(fd, cmd, a) ? -errno : 0;
}

/* The first version of each struct: sizes below it are refused. */
static __u32 ext_first_size(enum ext_kind kind, __u32 size)
{
	if (kind == EXT_STATS)
		return offsetof(struct vhost_iommu_stats, out_inval_errors) +
		       sizeof(__u64);
	return size;
}

TEST_F(vdev, ext_struct_short_size_einval)
{
	struct vhost_iommu_request r;
	struct ext_arg a;
	struct vg_req req;
	unsigned long cmd;
	__u32 size;
	int k;

	/* A request waits, so only the size is wrong. */
	pend_attach(_metadata, self, &req, &r);
	for (k = EXT_CONFIG; k <= EXT_STATS; k++) {
		static const __u32 cut[] = { 1, 8 };
		unsigned int i;

		cmd = ext_prepare(self, k, &a, r.out_cookie, &size);
		a.head.size = 0;
		EXPECT_EQ(-EINVAL, ext_ioctl(self->fd, cmd, &a))
			TH_LOG("%s with size 0", ext_names[k]);
		for (i = 0; i < ARRAY_SIZE(cut); i++) {
			ext_prepare(self, k, &a, r.out_cookie, &size);
			a.head.size = ext_first_size(k, size) - cut[i];
			EXPECT_EQ(-EINVAL, ext_ioctl(self->fd, cmd, &a))
				TH_LOG("%s with size %u", ext_names[k],
				       a.head.size);
		}
	}
}

TEST_F(vdev, stats_first_version_size_accepted)
{
	__u32 first = ext_first_size(EXT_STATS, 0);
	struct vhost_iommu_stats st;

	/* A VMM built against the first header gets what it knows, no more. */
	memset(&st, 0xab, sizeof(st));
	st.size = first;
	st.flags = 0;
	ASSERT_EQ(0, ioctl(self->fd, VHOST_IOMMU_GET_STATS, &st));
	EXPECT_EQ(first, st.size);
	EXPECT_EQ(0u, st.out_inval_errors);
	EXPECT_EQ(0xababababababababULL, st.out_page_reqs);
	EXPECT_EQ(0xababababababababULL, st.out_fault_errors);
}

TEST_F(vdev, ext_struct_long_size_nonzero_tail_e2big)
{
	struct vhost_iommu_request r;
	struct ext_arg a;
	struct vg_req req;
	unsigned long cmd;
	__u32 size;
	int k;

	pend_attach(_metadata, self, &req, &r);
	for (k = EXT_CONFIG; k <= EXT_STATS; k++) {
		cmd = ext_prepare(self, k, &a, r.out_cookie, &size);
		a.head.size = size + 8;
		a.raw[size + 7] = 1;
		EXPECT_EQ(-E2BIG, ext_ioctl(self->fd, cmd, &a))
			TH_LOG("%s, last extra byte set", ext_names[k]);
		cmd = ext_prepare(self, k, &a, r.out_cookie, &size);
		a.head.size = sizeof(a.raw);
		a.raw[size] = 0x80;
		EXPECT_EQ(-E2BIG, ext_ioctl(self->fd, cmd, &a))
			TH_LOG("%s, first extra byte set", ext_names[k]);
	}
}

TEST_F(vdev, ext_struct_long_size_zero_tail_accepted)
{
	struct vhost_iommu_request r;
	struct ext_arg a;
	struct vg_req req;
	unsigned long cmd;
	__u32 size;
	int k;

	pend_attach(_metadata, self, &req, &r);
	for (k = EXT_CONFIG; k <= EXT_STATS; k++) {
		cmd = ext_prepare(self, k, &a, r.out_cookie, &size);
		a.head.size = size + 8;
		EXPECT_EQ(0, ext_ioctl(self->fd, cmd, &a))
			TH_LOG("%s with size %u", ext_names[k], size + 8);
		if (k == EXT_GET_REQUEST)
			EXPECT_EQ(r.out_cookie, a.request.out_cookie);
	}
	/* The longer COMPLETE_REQUEST did complete the request. */
	wait_used_entry(_metadata, self, &req, 4);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, req_status(self, &req));
}

TEST_F(vdev, ext_struct_unknown_flags_eopnotsupp)
{
	static const __u32 flags[] = { 1, 0x80000000 };
	struct vhost_iommu_request r;
	struct ext_arg a;
	struct vg_req req;
	unsigned long cmd;
	unsigned int i;
	__u32 size;
	int k;

	pend_attach(_metadata, self, &req, &r);
	for (k = EXT_CONFIG; k <= EXT_STATS; k++) {
		for (i = 0; i < ARRAY_SIZE(flags); i++) {
			cmd = ext_prepare(self, k, &a, r.out_cookie, &size);
			a.head.flags = flags[i];
			EXPECT_EQ(-EOPNOTSUPP, ext_ioctl(self->fd, cmd, &a))
				TH_LOG("%s with flags %#x", ext_names[k],
				       flags[i]);
		}
	}
}

TEST_F(vdev, set_config_reserved_nonzero_eopnotsupp)
{
	struct vhost_iommu_config cfg;
	unsigned int i;

	for (i = 0; i < sizeof(cfg.__reserved); i++) {
		cfg = self->cfg;
		cfg.__reserved[i] = 1;
		EXPECT_EQ(-EOPNOTSUPP, vhi_set_config(self->fd, &cfg))
			TH_LOG("__reserved[%u]", i);
	}
}

TEST_F(vdev, ext_struct_bad_pointer_efault)
{
	static const uintptr_t bad[] = { 8, (uintptr_t)-4096 };
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];
	struct ext_arg a;
	struct vg_req req;
	unsigned long cmd;
	unsigned int i;
	__u32 size;
	int k;

	pend_probe(_metadata, self, &req, &r);
	for (k = EXT_CONFIG; k <= EXT_STATS; k++) {
		cmd = ext_prepare(self, k, &a, r.out_cookie, &size);
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			EXPECT_EQ(-EFAULT, ioctl(self->fd, cmd, bad[i]) ?
				  -errno : 0)
				TH_LOG("%s at %#lx", ext_names[k],
				       (unsigned long)bad[i]);
		}
	}

	/* Pointers inside the structs. */
	memset(&a, 0, sizeof(a));
	a.request.size = sizeof(a.request);
	a.request.buf_len = sizeof(buf);
	a.request.buf_uptr = 8;
	EXPECT_EQ(-EFAULT, ext_ioctl(self->fd, VHOST_IOMMU_GET_REQUEST, &a));
	EXPECT_EQ(-EFAULT, vhi_complete_request(self->fd, r.out_cookie,
						VIRTIO_IOMMU_S_OK,
						(void *)8, 8));
}

TEST_F(vdev, set_config_bad_values_einval)
{
	struct vhost_iommu_config cfg;

	cfg = self->cfg;
	cfg.page_size_mask = 0;
	EXPECT_EQ(-EINVAL, vhi_set_config(self->fd, &cfg));
	cfg = self->cfg;
	cfg.input_start = 0x2000;
	cfg.input_end = 0x1fff;
	EXPECT_EQ(-EINVAL, vhi_set_config(self->fd, &cfg));
	cfg = self->cfg;
	cfg.domain_start = 10;
	cfg.domain_end = 9;
	EXPECT_EQ(-EINVAL, vhi_set_config(self->fd, &cfg));
	cfg = self->cfg;
	cfg.probe_size = VHOST_IOMMU_MAX_PROBE_SIZE + 4;
	EXPECT_EQ(-EINVAL, vhi_set_config(self->fd, &cfg));
	cfg = self->cfg;
	cfg.probe_size = 6;
	EXPECT_EQ(-EINVAL, vhi_set_config(self->fd, &cfg));
	cfg = self->cfg;
	cfg.bypass = 2;
	EXPECT_EQ(-EINVAL, vhi_set_config(self->fd, &cfg));
}

TEST_F(vdev, set_config_boundary_values_accepted)
{
	struct vhost_iommu_config cfg;

	cfg = self->cfg;
	cfg.probe_size = VHOST_IOMMU_MAX_PROBE_SIZE;
	cfg.bypass = 1;
	EXPECT_EQ(0, vhi_set_config(self->fd, &cfg));
	cfg.probe_size = 0;
	cfg.input_start = 0x1000;
	cfg.input_end = 0x1000;
	cfg.domain_start = 5;
	cfg.domain_end = 5;
	cfg.page_size_mask = 1ULL << 63;
	EXPECT_EQ(0, vhi_set_config(self->fd, &cfg));
	vhi_config_default(&cfg);
	EXPECT_EQ(0, vhi_set_config(self->fd, &cfg));
}

/* ------------------------------------------------------------------ */
/* Requests the VMM answers */

TEST_F(vdev, attach_goes_to_vmm)
{
	struct virtio_iommu_req_attach a;

	roundtrip_vmm(_metadata, self, &a, mk_attach(&a, 1, 8, 0), 4, 0,
		      VIRTIO_IOMMU_S_OK);
}

TEST_F(vdev, detach_goes_to_vmm)
{
	struct virtio_iommu_req_detach d;

	roundtrip_vmm(_metadata, self, &d, mk_detach(&d, 1, 8), 4, 0,
		      VIRTIO_IOMMU_S_NOENT);
}

TEST_F(vdev, map_goes_to_vmm)
{
	struct virtio_iommu_req_map m;
	__u32 in;

	in = mk_map(&m, 1, 0x100000, 0x1fffff, GUEST_BASE + 0x200000,
		    VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE);
	roundtrip_vmm(_metadata, self, &m, in, 4, 0, VIRTIO_IOMMU_S_OK);
	/* MMIO is negotiated: an MMIO map goes to the VMM too. */
	in = mk_map(&m, 1, 0x300000, 0x300fff, 0xfe000000,
		    VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_MMIO);
	roundtrip_vmm(_metadata, self, &m, in, 4, 0, VIRTIO_IOMMU_S_NOMEM);
}

TEST_F(vdev, unmap_goes_to_vmm)
{
	struct virtio_iommu_req_unmap u;

	roundtrip_vmm(_metadata, self, &u, mk_unmap(&u, 1, 0x100000, 0x1fffff),
		      4, 0, VIRTIO_IOMMU_S_RANGE);
}

TEST_F(vdev, attach_table_goes_to_vmm)
{
	struct virtio_iommu_req_attach_table t;

	roundtrip_vmm(_metadata, self, &t, mk_attach_table(&t, 1, 8), 4, 0,
		      VIRTIO_IOMMU_S_OK);
}

TEST_F(vdev, attach_bypass_with_bypass_config_goes_to_vmm)
{
	struct virtio_iommu_req_attach a;

	roundtrip_vmm(_metadata, self, &a,
		      mk_attach(&a, 1, 8, VIRTIO_IOMMU_ATTACH_F_BYPASS), 4, 0,
		      VIRTIO_IOMMU_S_OK);
}

TEST_F(vdev, probe_payload_written_and_rest_zeroed)
{
	struct virtio_iommu_probe_resv_mem prop = {};
	struct virtio_iommu_probe_resv_mem seen;
	struct vhost_iommu_request r;
	struct vg_req req;

	pend_probe(_metadata, self, &req, &r);
	prop.head.type = htole16(VIRTIO_IOMMU_PROBE_T_RESV_MEM);
	prop.head.length = htole16(sizeof(prop) - sizeof(prop.head));
	prop.subtype = VIRTIO_IOMMU_RESV_MEM_T_MSI;
	prop.start = htole64(0xfee00000);
	prop.end = htole64(0xfeefffff);
	ASSERT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_OK, &prop,
					  sizeof(prop)));
	wait_used_entry(_metadata, self, &req, PROBE_SIZE + 4);
	ASSERT_EQ(0, vg_read(&self->mem, req.out_gpa, &seen, sizeof(seen)));
	EXPECT_EQ(0, memcmp(&prop, &seen, sizeof(prop)));
	EXPECT_TRUE(all_zero(self, req.out_gpa + sizeof(prop),
			     PROBE_SIZE - sizeof(prop)));
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, req_status(self, &req));
}

/* ------------------------------------------------------------------ */
/* Statuses the device gives itself */

TEST_F(vdev, attach_reserved_nonzero_inval)
{
	struct virtio_iommu_req_attach a;
	__u32 in;

	in = mk_attach(&a, 1, 8, 0);
	a.reserved[0] = 1;
	expect_device_status(_metadata, self, &a, in, 4, VIRTIO_IOMMU_S_INVAL);
	in = mk_attach(&a, 1, 8, 0);
	a.reserved[3] = 0x80;
	expect_device_status(_metadata, self, &a, in, 4, VIRTIO_IOMMU_S_INVAL);
}

TEST_F(vdev, attach_unknown_flag_inval)
{
	struct virtio_iommu_req_attach a;

	expect_device_status(_metadata, self, &a, mk_attach(&a, 1, 8, 2), 4,
			     VIRTIO_IOMMU_S_INVAL);
	expect_device_status(_metadata, self, &a,
			     mk_attach(&a, 1, 8, 0x80000000), 4,
			     VIRTIO_IOMMU_S_INVAL);
}

TEST_F(vdev, attach_bypass_without_bypass_config_inval)
{
	struct virtio_iommu_req_attach a;

	dev_redo(_metadata, self,
		 ALL_FEATURES & ~FBIT(VIRTIO_IOMMU_F_BYPASS_CONFIG));
	expect_device_status(_metadata, self, &a,
			     mk_attach(&a, 1, 8, VIRTIO_IOMMU_ATTACH_F_BYPASS),
			     4, VIRTIO_IOMMU_S_INVAL);
}

TEST_F(vdev, domain_outside_domain_range_range)
{
	struct virtio_iommu_req_attach_table t;
	struct virtio_iommu_req_attach a;
	struct virtio_iommu_req_unmap u;
	struct virtio_iommu_req_map m;
	__u32 in;

	expect_device_status(_metadata, self, &a,
			     mk_attach(&a, DOM_FIRST - 1, 8, 0), 4,
			     VIRTIO_IOMMU_S_RANGE);
	expect_device_status(_metadata, self, &a,
			     mk_attach(&a, DOM_LAST + 1, 8, 0), 4,
			     VIRTIO_IOMMU_S_RANGE);
	in = mk_map(&m, 5000, 0x100000, 0x1fffff, GUEST_BASE,
		    VIRTIO_IOMMU_MAP_F_READ);
	expect_device_status(_metadata, self, &m, in, 4, VIRTIO_IOMMU_S_RANGE);
	in = mk_unmap(&u, DOM_LAST + 1, 0x100000, 0x1fffff);
	expect_device_status(_metadata, self, &u, in, 4, VIRTIO_IOMMU_S_RANGE);
	in = mk_attach_table(&t, 0xffffffff, 8);
	expect_device_status(_metadata, self, &t, in, 4, VIRTIO_IOMMU_S_RANGE);
}

TEST_F(vdev, map_unknown_flag_inval)
{
	struct virtio_iommu_req_map m;
	__u32 in;

	in = mk_map(&m, 1, 0x100000, 0x1fffff, GUEST_BASE, 1 << 3);
	expect_device_status(_metadata, self, &m, in, 4, VIRTIO_IOMMU_S_INVAL);
}

TEST_F(vdev, map_mmio_without_mmio_feature_inval)
{
	struct virtio_iommu_req_map m;
	__u32 in;

	dev_redo(_metadata, self, ALL_FEATURES & ~FBIT(VIRTIO_IOMMU_F_MMIO));
	in = mk_map(&m, 1, 0x100000, 0x100fff, 0xfe000000,
		    VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_MMIO);
	expect_device_status(_metadata, self, &m, in, 4, VIRTIO_IOMMU_S_INVAL);
}

TEST_F(vdev, map_not_page_aligned_range)
{
	struct virtio_iommu_req_map m;
	__u32 in;

	in = mk_map(&m, 1, 0x100800, 0x1fffff, GUEST_BASE, 1);
	expect_device_status(_metadata, self, &m, in, 4, VIRTIO_IOMMU_S_RANGE);
	in = mk_map(&m, 1, 0x100000, 0x1ffffe, GUEST_BASE, 1);
	expect_device_status(_metadata, self, &m, in, 4, VIRTIO_IOMMU_S_RANGE);
	in = mk_map(&m, 1, 0x100000, 0x1fffff, GUEST_BASE + 0x10, 1);
	expect_device_status(_metadata, self, &m, in, 4, VIRTIO_IOMMU_S_RANGE);
}

TEST_F(vdev, map_outside_input_range_range)
{
	struct virtio_iommu_req_map m;
	__u32 in;

	in = mk_map(&m, 1, 0, INPUT_FIRST - 1, GUEST_BASE, 1);
	expect_device_status(_metadata, self, &m, in, 4, VIRTIO_IOMMU_S_RANGE);
	in = mk_map(&m, 1, INPUT_LAST - 0xfff, INPUT_LAST + 0x1000,
		    GUEST_BASE, 1);
	expect_device_status(_metadata, self, &m, in, 4, VIRTIO_IOMMU_S_RANGE);
	in = mk_map(&m, 1, INPUT_LAST + 1, INPUT_LAST + 0x1000, GUEST_BASE, 1);
	expect_device_status(_metadata, self, &m, in, 4, VIRTIO_IOMMU_S_RANGE);
}

TEST_F(vdev, map_virt_end_before_start_inval)
{
	struct virtio_iommu_req_map m;
	__u32 in;

	in = mk_map(&m, 1, 0x200000, 0x100fff, GUEST_BASE, 1);
	expect_device_status(_metadata, self, &m, in, 4, VIRTIO_IOMMU_S_INVAL);
}

TEST_F(vdev, unmap_reserved_nonzero_inval)
{
	struct virtio_iommu_req_unmap u;
	__u32 in;

	in = mk_unmap(&u, 1, 0x100000, 0x1fffff);
	u.reserved[2] = 1;
	expect_device_status(_metadata, self, &u, in, 4, VIRTIO_IOMMU_S_INVAL);
}

TEST_F(vdev, probe_small_property_buffer_inval)
{
	struct virtio_iommu_req_probe p;
	struct vg_req req;
	__u32 len = 0;

	send_wait(_metadata, self, &p, mk_probe(&p, 8), 256 + 4, 0, &req,
		  &len);
	EXPECT_EQ(256u + 4, len);
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL, req_status(self, &req));
	/* No property: the used length covers zeroes. */
	EXPECT_TRUE(zeroed(self, req.out_gpa, 256));
	EXPECT_EQ(-EAGAIN, get_request_now(self));
}

TEST_F(vdev, invalidate_unbound_domain_noent)
{
	struct virtio_iommu_req_invalidate inv;
	__u32 in;

	expect_device_status(_metadata, self, &inv, mk_invalidate(&inv, 1), 4,
			     VIRTIO_IOMMU_S_NOENT);
	in = mk_invalidate(&inv, 7);
	inv.scope = VIRTIO_IOMMU_INVAL_S_ADDRESS;
	inv.address = htole64(0x100000);
	inv.nr_pages = htole64(16);
	inv.page_size = 12;
	expect_device_status(_metadata, self, &inv, in, 4,
			     VIRTIO_IOMMU_S_NOENT);
}

TEST_F(vdev, invalidate_reserved_nonzero_inval)
{
	struct virtio_iommu_req_invalidate inv;
	__u32 in;

	in = mk_invalidate(&inv, 1);
	inv.reserved[18] = 1;
	expect_device_status(_metadata, self, &inv, in, 4,
			     VIRTIO_IOMMU_S_INVAL);
}

TEST_F(vdev, page_resp_unmatched_inval)
{
	struct virtio_iommu_req_page_resp pr;

	expect_device_status(_metadata, self, &pr, mk_page_resp(&pr, 8, 3), 4,
			     VIRTIO_IOMMU_S_INVAL);
}

/* ------------------------------------------------------------------ */
/* Requests completed with used length 0 */

TEST_F(vdev, unknown_type_used_len_zero)
{
	static const __u8 types[] = { 0, 9, 255 };
	__u8 body[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		memset(body, 0, sizeof(body));
		body[0] = types[i];
		expect_used_len_zero(_metadata, self, body, sizeof(body), 4);
	}
}

TEST_F(vdev, type_without_its_feature_used_len_zero)
{
	struct virtio_iommu_req_attach_table t;
	struct virtio_iommu_req_invalidate inv;
	struct virtio_iommu_req_page_resp pr;
	struct virtio_iommu_req_probe p;
	struct virtio_iommu_req_unmap u;
	struct virtio_iommu_req_map m;
	__u32 in;

	dev_redo(_metadata, self, ALL_FEATURES &
		 ~(FBIT(VIRTIO_IOMMU_F_MAP_UNMAP) | FBIT(VIRTIO_IOMMU_F_PROBE) |
		   FBIT(VIRTIO_IOMMU_F_ATTACH_TABLE) |
		   FBIT(VIRTIO_IOMMU_F_PAGE_REQ)));
	in = mk_map(&m, 1, 0x100000, 0x1fffff, GUEST_BASE, 1);
	expect_used_len_zero(_metadata, self, &m, in, 4);
	in = mk_unmap(&u, 1, 0x100000, 0x1fffff);
	expect_used_len_zero(_metadata, self, &u, in, 4);
	expect_used_len_zero(_metadata, self, &p, mk_probe(&p, 8),
			     PROBE_SIZE + 4);
	expect_used_len_zero(_metadata, self, &t, mk_attach_table(&t, 1, 8), 4);
	expect_used_len_zero(_metadata, self, &inv, mk_invalidate(&inv, 1), 4);
	expect_used_len_zero(_metadata, self, &pr, mk_page_resp(&pr, 8, 1), 4);
}

TEST_F(vdev, probe_with_probe_size_zero_used_len_zero)
{
	struct virtio_iommu_req_probe p;
	struct vhost_iommu_config cfg = self->cfg;

	cfg.probe_size = 0;
	ASSERT_EQ(0, vhi_set_config(self->fd, &cfg));
	expect_used_len_zero(_metadata, self, &p, mk_probe(&p, 8),
			     PROBE_SIZE + 4);
	expect_used_len_zero(_metadata, self, &p, mk_probe(&p, 8), 4);
}

TEST_F(vdev, readable_part_too_short_used_len_zero)
{
	struct virtio_iommu_req_invalidate inv;
	struct virtio_iommu_req_attach a;
	struct virtio_iommu_req_probe p;
	struct virtio_iommu_req_map m;
	__u32 in;

	expect_used_len_zero(_metadata, self, &a, mk_attach(&a, 1, 8, 0) - 1,
			     4);
	in = mk_map(&m, 1, 0x100000, 0x1fffff, GUEST_BASE, 1);
	expect_used_len_zero(_metadata, self, &m, in - 4, 4);
	expect_used_len_zero(_metadata, self, &inv,
			     mk_invalidate(&inv, 1) - 8, 4);
	expect_used_len_zero(_metadata, self, &p, mk_probe(&p, 8) - 1,
			     PROBE_SIZE + 4);
	expect_used_len_zero(_metadata, self, &a, 2, 4);
}

TEST_F(vdev, writable_part_too_short_used_len_zero)
{
	struct virtio_iommu_req_invalidate inv;
	struct virtio_iommu_req_attach a;

	expect_used_len_zero(_metadata, self, &a, mk_attach(&a, 1, 8, 0), 3);
	expect_used_len_zero(_metadata, self, &inv, mk_invalidate(&inv, 1), 1);
	/* No writable descriptor at all. */
	expect_used_len_zero(_metadata, self, &a, mk_attach(&a, 1, 8, 0), 0);
}

/* ------------------------------------------------------------------ */
/* Corrupt rings */

enum corruption {
	C_LOOP,
	C_NEXT_OUT_OF_QUEUE,
	C_CHAIN_TOO_LONG,
	C_NESTED_INDIRECT,
	C_CHAINED_INDIRECT,
	C_INDIRECT,		/* valid; broken only when not negotiated */
	C_INDIRECT_BAD_LEN,
	C_BUFFER_OUTSIDE,
	C_BUFFER_PAST_END,
	C_READABLE_AFTER_WRITABLE,
	C_AVAIL_TOO_FAR,
	C_HEAD_OUT_OF_QUEUE,
};

static __u16 ring_next(const struct vg_vq *vq, __u16 d, unsigned int k)
{
	return (d + k) % vq->num;
}

/* Queues a corrupt entry; returns its head, or -1 if it has none. */
static int corrupt_ring(struct _test_data_vdev *self, enum corruption how)
{
	struct virtio_iommu_req_invalidate inv;
	__u32 in = mk_invalidate(&inv, 1);
	struct vg_vq *vq = &self->rq;
	__u64 body, tail, table;
	struct vring_desc *t;
	__u16 d = 0;
	unsigned int i;

	if (vg_alloc(&self->mem, 256, 16, &body) ||
	    vg_alloc(&self->mem, 16, 16, &tail) ||
	    vg_alloc(&self->mem, 64, 16, &table))
		return -2;
	vg_write(&self->mem, body, &inv, in);
	vg_fill(&self->mem, tail, VG_POISON, 16);
	t = vg_hva(&self->mem, table, 64);
	/* A good two-entry indirect table, for the cases that use one. */
	vg_desc_set(&t[0], body, in, VRING_DESC_F_NEXT, 1);
	vg_desc_set(&t[1], tail, 4, VRING_DESC_F_WRITE, 0);

	switch (how) {
	case C_LOOP:
		d = vg_desc_alloc(vq, 2);
		vg_desc_set(&vq->desc[d], body, 8, VRING_DESC_F_NEXT,
			    ring_next(vq, d, 1));
		vg_desc_set(&vq->desc[ring_next(vq, d, 1)], body + 8, 8,
			    VRING_DESC_F_NEXT, d);
		break;
	case C_NEXT_OUT_OF_QUEUE:
		d = vg_desc_alloc(vq, 1);
		vg_desc_set(&vq->desc[d], body, in, VRING_DESC_F_NEXT, vq->num);
		break;
	case C_CHAIN_TOO_LONG:
		/* 64 one-byte readable descriptors, then the tail. */
		d = vg_desc_alloc(vq, 65);
		for (i = 0; i < 64; i++)
			vg_desc_set(&vq->desc[ring_next(vq, d, i)], body + i, 1,
				    VRING_DESC_F_NEXT, ring_next(vq, d, i + 1));
		vg_desc_set(&vq->desc[ring_next(vq, d, 64)], tail, 4,
			    VRING_DESC_F_WRITE, 0);
		break;
	case C_NESTED_INDIRECT:
		/* The table's second entry points at another table. */
		vg_desc_set(&t[2], tail, 4, VRING_DESC_F_WRITE, 0);
		vg_desc_set(&t[1], table + 32, 16, VRING_DESC_F_INDIRECT, 0);
		d = vg_desc_alloc(vq, 1);
		vg_desc_set(&vq->desc[d], table, 32, VRING_DESC_F_INDIRECT, 0);
		break;
	case C_CHAINED_INDIRECT:
		d = vg_desc_alloc(vq, 2);
		vg_desc_set(&vq->desc[d], table, 32,
			    VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT,
			    ring_next(vq, d, 1));
		vg_desc_set(&vq->desc[ring_next(vq, d, 1)], tail + 4, 4,
			    VRING_DESC_F_WRITE, 0);
		break;
	case C_INDIRECT:
		d = vg_desc_alloc(vq, 1);
		vg_desc_set(&vq->desc[d], table, 32, VRING_DESC_F_INDIRECT, 0);
		break;
	case C_INDIRECT_BAD_LEN:
		d = vg_desc_alloc(vq, 1);
		vg_desc_set(&vq->desc[d], table, 24, VRING_DESC_F_INDIRECT, 0);
		break;
	case C_BUFFER_OUTSIDE:
	case C_BUFFER_PAST_END:
		d = vg_desc_alloc(vq, 2);
		if (how == C_BUFFER_OUTSIDE)
			vg_desc_set(&vq->desc[d], 0x1000, in, VRING_DESC_F_NEXT,
				    ring_next(vq, d, 1));
		else
			vg_desc_set(&vq->desc[d], GUEST_BASE + GUEST_SIZE - 8,
				    in, VRING_DESC_F_NEXT, ring_next(vq, d, 1));
		vg_desc_set(&vq->desc[ring_next(vq, d, 1)], tail, 4,
			    VRING_DESC_F_WRITE, 0);
		break;
	case C_READABLE_AFTER_WRITABLE:
		d = vg_desc_alloc(vq, 2);
		vg_desc_set(&vq->desc[d], tail, 4,
			    VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
			    ring_next(vq, d, 1));
		vg_desc_set(&vq->desc[ring_next(vq, d, 1)], body, in, 0, 0);
		break;
	case C_AVAIL_TOO_FAR:
		vg_avail_store_idx(vq, vq->avail_idx + vq->num + 1);
		return -1;
	case C_HEAD_OUT_OF_QUEUE:
		vg_avail_add(vq, vq->num);
		vg_publish(vq);
		return -1;
	}
	vg_avail_add(vq, d);
	vg_publish(vq);
	return d;
}

/*
 * Breaks the request queue with @how and checks the device noticed: err
 * eventfd, out_broken, the known head completed empty, and a good request
 * queued behind it left alone.
 */
static void expect_broken(struct __test_metadata *_metadata,
			  struct _test_data_vdev *self, enum corruption how)
{
	struct virtio_iommu_req_invalidate inv;
	struct vhost_iommu_stats before, after;
	__u32 in = mk_invalidate(&inv, 1);
	__u64 count = 0;
	struct vg_req req;
	__u32 id, len;
	__u16 used;
	int head;

	ASSERT_EQ(0, vhi_get_stats(self->fd, &before));
	head = corrupt_ring(self, how);
	ASSERT_LE(-1, head);
	ASSERT_EQ(0, vg_kick(&self->rq));
	ASSERT_EQ(0, vg_eventfd_wait(self->rq.err_fd, VG_TIMEOUT_MS, &count))
		TH_LOG("err eventfd not signalled within %d ms",
		       VG_TIMEOUT_MS);
	EXPECT_LE(1u, count);
	if (head >= 0) {
		ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len))
			TH_LOG("the corrupt chain was not completed");
		EXPECT_EQ((__u32)head, id);
		EXPECT_EQ(0u, len);
	}
	ASSERT_EQ(0, vhi_get_stats(self->fd, &after));
	EXPECT_EQ(before.out_broken + 1, after.out_broken);

	used = vg_used_idx(&self->rq);
	ASSERT_EQ(0, vg_submit(&self->rq, &inv, in, 4, 0, &req));
	EXPECT_TRUE(stays_quiet(self, used))
		TH_LOG("a broken queue was read again");
}

TEST_F(vdev, broken_descriptor_loop)
{
	expect_broken(_metadata, self, C_LOOP);
}

TEST_F(vdev, broken_next_beyond_queue)
{
	expect_broken(_metadata, self, C_NEXT_OUT_OF_QUEUE);
}

TEST_F(vdev, broken_chain_longer_than_64)
{
	expect_broken(_metadata, self, C_CHAIN_TOO_LONG);
}

TEST_F(vdev, broken_nested_indirect)
{
	expect_broken(_metadata, self, C_NESTED_INDIRECT);
}

TEST_F(vdev, broken_indirect_with_next)
{
	expect_broken(_metadata, self, C_CHAINED_INDIRECT);
}

TEST_F(vdev, broken_indirect_not_negotiated)
{
	dev_redo(_metadata, self,
		 ALL_FEATURES & ~FBIT(VIRTIO_RING_F_INDIRECT_DESC));
	expect_broken(_metadata, self, C_INDIRECT);
}

TEST_F(vdev, broken_indirect_table_len_not_multiple_of_16)
{
	expect_broken(_metadata, self, C_INDIRECT_BAD_LEN);
}

TEST_F(vdev, broken_buffer_outside_memory_table)
{
	expect_broken(_metadata, self, C_BUFFER_OUTSIDE);
}

TEST_F(vdev, broken_buffer_running_past_memory_table)
{
	expect_broken(_metadata, self, C_BUFFER_PAST_END);
}

TEST_F(vdev, broken_readable_after_writable)
{
	expect_broken(_metadata, self, C_READABLE_AFTER_WRITABLE);
}

TEST_F(vdev, broken_avail_idx_more_than_num_ahead)
{
	expect_broken(_metadata, self, C_AVAIL_TOO_FAR);
}

TEST_F(vdev, broken_head_beyond_queue)
{
	expect_broken(_metadata, self, C_HEAD_OUT_OF_QUEUE);
}

TEST_F(vdev, unbound_err_is_not_signalled)
{
	struct vhost_iommu_stats before, after;
	__u32 id, len = 1;

	ASSERT_EQ(0, vhi_set_vring_err(self->fd, 0, -1));
	ASSERT_EQ(0, vhi_get_stats(self->fd, &before));
	ASSERT_LE(0, corrupt_ring(self, C_LOOP));
	ASSERT_EQ(0, vg_kick(&self->rq));
	/* The queue still breaks: the chain comes back empty. */
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(0u, len);
	EXPECT_EQ(-ETIMEDOUT, vg_eventfd_wait(self->rq.err_fd, QUIET_MS,
					      NULL));
	ASSERT_EQ(0, vhi_get_stats(self->fd, &after));
	EXPECT_EQ(before.out_broken + 1, after.out_broken);
}

TEST_F(vdev, broken_queue_works_after_set_vring_base)
{
	struct virtio_iommu_req_invalidate inv;
	__u32 id, len;
	int head;

	head = corrupt_ring(self, C_LOOP);
	ASSERT_LE(0, head);
	ASSERT_EQ(0, vg_kick(&self->rq));
	ASSERT_EQ(0, vg_eventfd_wait(self->rq.err_fd, VG_TIMEOUT_MS, NULL));
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	/* Every entry is used: the ring is consistent at avail_idx. */
	ASSERT_EQ(self->rq.avail_idx, vg_used_idx(&self->rq));
	ASSERT_EQ(0, vhi_set_vring_base(self->fd, 0, self->rq.avail_idx));
	expect_device_status(_metadata, self, &inv, mk_invalidate(&inv, 1), 4,
			     VIRTIO_IOMMU_S_NOENT);
}

TEST_F(vdev, broken_queue_works_after_reset_device)
{
	struct virtio_iommu_req_invalidate inv;

	ASSERT_LE(0, corrupt_ring(self, C_NEXT_OUT_OF_QUEUE));
	ASSERT_EQ(0, vg_kick(&self->rq));
	ASSERT_EQ(0, vg_eventfd_wait(self->rq.err_fd, VG_TIMEOUT_MS, NULL));
	ASSERT_EQ(0, vhi_reset_device(self->fd));
	rings_up(_metadata, self);
	expect_device_status(_metadata, self, &inv, mk_invalidate(&inv, 1), 4,
			     VIRTIO_IOMMU_S_NOENT);
}

/* ------------------------------------------------------------------ */
/* Valid ring layouts */

TEST_F(vdev, indirect_request_works)
{
	struct virtio_iommu_req_invalidate inv;
	struct virtio_iommu_req_attach a;
	struct vg_req req;
	__u32 len;

	roundtrip_vmm(_metadata, self, &a, mk_attach(&a, 1, 8, 0), 4,
		      VG_SUBMIT_INDIRECT, VIRTIO_IOMMU_S_OK);
	send_wait(_metadata, self, &inv, mk_invalidate(&inv, 1), 4,
		  VG_SUBMIT_INDIRECT, &req, &len);
	EXPECT_EQ(4u, len);
	EXPECT_EQ(VIRTIO_IOMMU_S_NOENT, req_status(self, &req));
}

TEST_F(vdev, buffers_straddling_memory_regions_work)
{
	struct virtio_iommu_req_attach a;
	struct vhost_iommu_request r;
	__u32 in = mk_attach(&a, 3, 77, 0);
	struct vg_req req = {};
	__u32 id, len;

	/* The body across regions 0|1, the tail across regions 1|2. */
	ASSERT_EQ(0, vg_alloc_straddle(&self->mem, 0, 8, in, &req.in_gpa));
	ASSERT_EQ(0, vg_alloc_straddle(&self->mem, 1, 2, 4, &req.out_gpa));
	ASSERT_EQ(NULL, vg_hva(&self->mem, req.in_gpa, in));
	ASSERT_EQ(NULL, vg_hva(&self->mem, req.out_gpa, 4));
	req.in_len = in;
	req.out_len = 4;
	ASSERT_EQ(0, vg_write(&self->mem, req.in_gpa, &a, in));
	ASSERT_EQ(0, vg_fill(&self->mem, req.out_gpa, VG_POISON, 4));
	ASSERT_EQ(0, vg_submit_bufs(&self->rq, 0, &req));

	expect_vmm_request(_metadata, self, &a, in, 4, &r);
	ASSERT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_FAULT, NULL, 0));
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(req.head, id);
	EXPECT_EQ(4u, len);
	EXPECT_EQ(VIRTIO_IOMMU_S_FAULT, req_status(self, &req));
}

TEST_F_TIMEOUT(vdev, batch_of_512_requests_completes_in_order, 120)
{
	struct virtio_iommu_req_invalidate inv;
	__u32 in = mk_invalidate(&inv, 1);
	static struct vg_req reqs[512];
	unsigned int i, bad_id = 0, bad_len = 0, bad_status = 0;
	__u32 id, len;

	for (i = 0; i < ARRAY_SIZE(reqs); i++)
		ASSERT_EQ(0, vg_submit(&self->rq, &inv, in, 4,
				       VG_SUBMIT_NO_PUBLISH, &reqs[i]));
	vg_publish(&self->rq);
	ASSERT_EQ(0, vg_kick(&self->rq));
	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len))
			TH_LOG("only %u of %zu completed", i,
			       ARRAY_SIZE(reqs));
		bad_id += id != reqs[i].head;
		bad_len += len != 4;
		bad_status += req_status(self, &reqs[i]) !=
			      VIRTIO_IOMMU_S_NOENT;
	}
	EXPECT_EQ(0u, bad_id);
	EXPECT_EQ(0u, bad_len);
	EXPECT_EQ(0u, bad_status);
}

/* ------------------------------------------------------------------ */
/* The slow path */

TEST_F(vdev, slow_request_holds_back_later_ones)
{
	struct virtio_iommu_req_invalidate inv;
	struct virtio_iommu_req_attach a;
	struct vg_req ra, ri;
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];
	__u32 id, len;

	ASSERT_EQ(0, vg_submit(&self->rq, &a, mk_attach(&a, 1, 8, 0), 4,
			       VG_SUBMIT_NO_PUBLISH, &ra));
	ASSERT_EQ(0, vg_submit(&self->rq, &inv, mk_invalidate(&inv, 1), 4,
			       VG_SUBMIT_NO_PUBLISH, &ri));
	vg_publish(&self->rq);
	ASSERT_EQ(0, vg_kick(&self->rq));

	usleep(100 * 1000);
	EXPECT_EQ(0, vg_used_idx(&self->rq));
	ASSERT_EQ(0, vhi_wait_request(self->fd, &r, buf, sizeof(buf),
				      VG_TIMEOUT_MS));
	EXPECT_EQ((__u32)VIRTIO_IOMMU_T_ATTACH, r.out_type);
	EXPECT_EQ(0, vg_used_idx(&self->rq));
	ASSERT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));

	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(ra.head, id);
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	EXPECT_EQ(ri.head, id);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, req_status(self, &ra));
	EXPECT_EQ(VIRTIO_IOMMU_S_NOENT, req_status(self, &ri));
}

TEST_F(vdev, get_request_twice_returns_same_request)
{
	struct vhost_iommu_request r, r2;
	__u8 buf[VHI_REQ_BUF_SIZE];
	struct vg_req req;

	pend_attach(_metadata, self, &req, &r);
	ASSERT_EQ(0, vhi_get_request(self->fd, &r2, buf, sizeof(buf)));
	EXPECT_EQ(r.out_cookie, r2.out_cookie);
	EXPECT_EQ(r.out_type, r2.out_type);
	EXPECT_EQ(r.out_readable_len, r2.out_readable_len);
	EXPECT_EQ(r.out_writable_len, r2.out_writable_len);
}

TEST_F(vdev, get_request_with_nothing_pending_eagain)
{
	struct virtio_iommu_req_invalidate inv;

	EXPECT_EQ(-EAGAIN, get_request_now(self));
	/* A request the device answers itself leaves nothing either. */
	expect_device_status(_metadata, self, &inv, mk_invalidate(&inv, 1), 4,
			     VIRTIO_IOMMU_S_NOENT);
	EXPECT_EQ(-EAGAIN, get_request_now(self));
}

TEST_F(vdev, complete_wrong_or_stale_cookie_enoent)
{
	struct vhost_iommu_request r, r2;
	struct vg_req req, req2;

	pend_attach(_metadata, self, &req, &r);
	EXPECT_EQ(-ENOENT, vhi_complete_request(self->fd, r.out_cookie + 1,
						VIRTIO_IOMMU_S_OK, NULL, 0));
	EXPECT_EQ(-ENOENT, vhi_complete_request(self->fd, ~r.out_cookie,
						VIRTIO_IOMMU_S_OK, NULL, 0));
	ASSERT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	wait_used_entry(_metadata, self, &req, 4);

	/* The first cookie is stale once another request waits. */
	pend_attach(_metadata, self, &req2, &r2);
	EXPECT_NE(r.out_cookie, r2.out_cookie);
	EXPECT_EQ(-ENOENT, vhi_complete_request(self->fd, r.out_cookie,
						VIRTIO_IOMMU_S_OK, NULL, 0));
}

TEST_F(vdev, complete_twice_enoent)
{
	struct vhost_iommu_request r;
	struct vg_req req;

	pend_attach(_metadata, self, &req, &r);
	ASSERT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	EXPECT_EQ(-ENOENT, vhi_complete_request(self->fd, r.out_cookie,
						VIRTIO_IOMMU_S_OK, NULL, 0));
	wait_used_entry(_metadata, self, &req, 4);
	EXPECT_EQ(-ENOENT, vhi_complete_request(self->fd, r.out_cookie,
						VIRTIO_IOMMU_S_OK, NULL, 0));
}

TEST_F(vdev, complete_status_out_of_range_einval)
{
	static const __u32 bad[] = { VIRTIO_IOMMU_S_NOMEM + 1, 255, 256,
					~0u };
	struct vhost_iommu_request r;
	struct vg_req req;
	unsigned int i;

	pend_attach(_metadata, self, &req, &r);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, vhi_complete_request(self->fd, r.out_cookie,
							bad[i], NULL, 0))
			TH_LOG("status %u", bad[i]);
	}
	/* Still pending; the highest valid status is accepted. */
	EXPECT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_NOMEM, NULL, 0));
	wait_used_entry(_metadata, self, &req, 4);
	EXPECT_EQ(VIRTIO_IOMMU_S_NOMEM, req_status(self, &req));
}

TEST_F(vdev, complete_payload_on_non_probe_einval)
{
	__u8 payload[8] = { 1, 0, 4, 0 };
	struct vhost_iommu_request r;
	struct vg_req req;

	pend_attach(_metadata, self, &req, &r);
	EXPECT_EQ(-EINVAL, vhi_complete_request(self->fd, r.out_cookie,
						VIRTIO_IOMMU_S_OK, payload,
						sizeof(payload)));
}

TEST_F(vdev, complete_payload_longer_than_probe_buffer_einval)
{
	static __u8 payload[PROBE_SIZE + 4];
	struct vhost_iommu_request r;
	struct vg_req req;

	pend_probe(_metadata, self, &req, &r);
	EXPECT_EQ(-EINVAL, vhi_complete_request(self->fd, r.out_cookie,
						VIRTIO_IOMMU_S_OK, payload,
						PROBE_SIZE + 1));
	EXPECT_EQ(-EINVAL, vhi_complete_request(self->fd, r.out_cookie,
						VIRTIO_IOMMU_S_OK, payload,
						sizeof(payload)));
	/* Exactly the property buffer is fine. */
	memset(payload, 0x5a, sizeof(payload));
	EXPECT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_OK, payload,
					  PROBE_SIZE));
	wait_used_entry(_metadata, self, &req, PROBE_SIZE + 4);
}

TEST_F(vdev, complete_payload_with_error_status_einval)
{
	__u8 payload[8] = { 1, 0, 4, 0 };
	struct vhost_iommu_request r;
	struct vg_req req;

	pend_probe(_metadata, self, &req, &r);
	EXPECT_EQ(-EINVAL, vhi_complete_request(self->fd, r.out_cookie,
						VIRTIO_IOMMU_S_NOENT, payload,
						sizeof(payload)));
	/* Without the payload the error status goes through. */
	EXPECT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_NOENT, NULL, 0));
	wait_used_entry(_metadata, self, &req, PROBE_SIZE + 4);
	EXPECT_EQ(VIRTIO_IOMMU_S_NOENT, req_status(self, &req));
}

TEST_F(vdev, get_request_small_buffer_emsgsize)
{
	struct virtio_iommu_req_attach a;
	struct vhost_iommu_request r, r2;
	__u32 in = mk_attach(&a, 1, 8, 0);
	__u8 buf[VHI_REQ_BUF_SIZE];
	struct vg_req req;
	__s64 end;
	int ret;

	ASSERT_EQ(0, vg_submit(&self->rq, &a, in, 4, 0, &req));
	end = now_ms() + VG_TIMEOUT_MS;
	do {
		ret = vhi_get_request(self->fd, &r, buf, in - 1);
		if (ret == -EAGAIN)
			usleep(1000);
	} while (ret == -EAGAIN && now_ms() < end);
	ASSERT_EQ(-EMSGSIZE, ret);
	EXPECT_EQ((__u32)VIRTIO_IOMMU_T_ATTACH, r.out_type);
	EXPECT_EQ(in, r.out_readable_len);
	EXPECT_EQ(4u, r.out_writable_len);

	EXPECT_EQ(-EMSGSIZE, vhi_get_request(self->fd, &r2, NULL, 0));
	EXPECT_EQ(r.out_cookie, r2.out_cookie);
	/* Still pending: a big enough buffer gets it. */
	ASSERT_EQ(0, vhi_get_request(self->fd, &r2, buf, sizeof(buf)));
	EXPECT_EQ(r.out_cookie, r2.out_cookie);
	EXPECT_EQ(0, memcmp(buf, &a, in));
}

TEST_F(vdev, poll_reports_pollin_only_while_request_waits)
{
	struct virtio_iommu_req_attach a;
	struct vhost_iommu_request r;
	__u8 buf[VHI_REQ_BUF_SIZE];
	struct vg_req req;

	EXPECT_EQ(0, vhi_poll_request(self->fd, 0));
	ASSERT_EQ(0, vg_submit(&self->rq, &a, mk_attach(&a, 1, 8, 0), 4, 0,
			       &req));
	EXPECT_EQ(1, vhi_poll_request(self->fd, VG_TIMEOUT_MS));
	ASSERT_EQ(0, vhi_wait_request(self->fd, &r, buf, sizeof(buf),
				      VG_TIMEOUT_MS));
	/* Fetched but not completed: still waiting. */
	EXPECT_EQ(1, vhi_poll_request(self->fd, 0));
	ASSERT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	EXPECT_EQ(0, vhi_poll_request(self->fd, 0));
	wait_used_entry(_metadata, self, &req, 4);
	EXPECT_EQ(0, vhi_poll_request(self->fd, 0));
}

/* The library's serving thread answers like a VMM. */
struct served {
	unsigned int count[VIRTIO_IOMMU_T_PAGE_RESP + 1];
};

static __u32 serve_cb(void *opaque, const struct vhi_slow_request *req,
		      void *payload, __u32 payload_max,
		      __u32 *payload_len)
{
	struct served *s = opaque;
	struct virtio_iommu_probe_property prop = {
		.type = htole16(VIRTIO_IOMMU_PROBE_T_NONE),
	};

	if (req->type <= VIRTIO_IOMMU_T_PAGE_RESP)
		__atomic_add_fetch(&s->count[req->type], 1, __ATOMIC_RELAXED);
	if (req->type == VIRTIO_IOMMU_T_PROBE && payload_max >= sizeof(prop)) {
		prop.type = htole16(0x7f);
		memcpy(payload, &prop, sizeof(prop));
		*payload_len = sizeof(prop);
	}
	return req->type == VIRTIO_IOMMU_T_DETACH ? VIRTIO_IOMMU_S_NOENT :
						    VIRTIO_IOMMU_S_OK;
}

TEST_F(vdev, library_server_thread_serves_requests)
{
	struct virtio_iommu_req_detach d;
	struct virtio_iommu_req_attach a;
	struct virtio_iommu_req_probe p;
	struct vhi_server srv = {};
	struct served s = {};
	struct vg_req req;
	__u16 type;
	__u32 len;

	srv.fd = self->fd;
	srv.handle = serve_cb;
	srv.opaque = &s;
	ASSERT_EQ(0, vhi_server_start(&srv));
	send_wait(_metadata, self, &a, mk_attach(&a, 1, 8, 0), 4, 0, &req,
		  &len);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, req_status(self, &req));
	send_wait(_metadata, self, &p, mk_probe(&p, 8), PROBE_SIZE + 4, 0,
		  &req, &len);
	EXPECT_EQ(PROBE_SIZE + 4u, len);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, req_status(self, &req));
	vg_read(&self->mem, req.out_gpa, &type, sizeof(type));
	EXPECT_EQ(0x7f, le16toh(type));
	send_wait(_metadata, self, &d, mk_detach(&d, 1, 8), 4, 0, &req, &len);
	EXPECT_EQ(VIRTIO_IOMMU_S_NOENT, req_status(self, &req));
	EXPECT_EQ(0, vhi_server_stop(&srv));
	EXPECT_EQ(3u, srv.served);
	EXPECT_EQ(1u, s.count[VIRTIO_IOMMU_T_PROBE]);
}

/* ------------------------------------------------------------------ */
/* Notifications */

/* One request with a signal asked for, so later checks start clean. */
static void warm_up_call(struct __test_metadata *_metadata,
			 struct _test_data_vdev *self)
{
	struct virtio_iommu_req_invalidate inv;
	struct vg_req req;
	__u32 len;

	want_call(self);
	send_wait(_metadata, self, &inv, mk_invalidate(&inv, 1), 4, 0, &req,
		  &len);
	vg_eventfd_wait(self->rq.call_fd, 1000, NULL);
	drain(self->rq.call_fd);
}

TEST_F(vdev, event_idx_used_event_ahead_no_call)
{
	struct virtio_iommu_req_invalidate inv;
	struct vg_req req;
	__u32 len;

	warm_up_call(_metadata, self);
	vg_set_used_event(&self->rq, vg_used_idx(&self->rq) + 100);
	send_wait(_metadata, self, &inv, mk_invalidate(&inv, 1), 4, 0, &req,
		  &len);
	EXPECT_EQ(-ETIMEDOUT, vg_eventfd_wait(self->rq.call_fd, QUIET_MS,
					      NULL));
}

TEST_F(vdev, event_idx_used_event_reached_calls)
{
	struct virtio_iommu_req_invalidate inv;
	struct vg_req req;
	__u32 len;

	warm_up_call(_metadata, self);
	want_call(self);
	send_wait(_metadata, self, &inv, mk_invalidate(&inv, 1), 4, 0, &req,
		  &len);
	EXPECT_EQ(0, vg_eventfd_wait(self->rq.call_fd, VG_TIMEOUT_MS, NULL));
}

TEST_F(vdev, no_interrupt_flag_suppresses_call)
{
	struct virtio_iommu_req_invalidate inv;
	struct vg_req req;
	__u32 len;

	dev_redo(_metadata, self,
		 ALL_FEATURES & ~FBIT(VIRTIO_RING_F_EVENT_IDX));
	vg_avail_set_flags(&self->rq, VRING_AVAIL_F_NO_INTERRUPT);
	send_wait(_metadata, self, &inv, mk_invalidate(&inv, 1), 4, 0, &req,
		  &len);
	EXPECT_EQ(-ETIMEDOUT, vg_eventfd_wait(self->rq.call_fd, QUIET_MS,
					      NULL));
}

TEST_F(vdev, without_no_interrupt_flag_calls)
{
	struct virtio_iommu_req_invalidate inv;
	struct vg_req req;
	__u32 len;

	dev_redo(_metadata, self,
		 ALL_FEATURES & ~FBIT(VIRTIO_RING_F_EVENT_IDX));
	vg_avail_set_flags(&self->rq, 0);
	send_wait(_metadata, self, &inv, mk_invalidate(&inv, 1), 4, 0, &req,
		  &len);
	EXPECT_EQ(0, vg_eventfd_wait(self->rq.call_fd, VG_TIMEOUT_MS, NULL));
}

/* ------------------------------------------------------------------ */
/* Resets and release */

TEST_F(vdev, reset_device_drops_pending_request)
{
	struct vhost_iommu_request r;
	struct vg_req req;

	pend_attach(_metadata, self, &req, &r);
	ASSERT_EQ(0, vhi_reset_device(self->fd));
	EXPECT_EQ(-EAGAIN, get_request_now(self));
	EXPECT_EQ(0, vhi_poll_request(self->fd, 0));
	EXPECT_EQ(-ENOENT, vhi_complete_request(self->fd, r.out_cookie,
						VIRTIO_IOMMU_S_OK, NULL, 0));
	EXPECT_TRUE(stays_quiet(self, 0));
	EXPECT_TRUE(untouched(self, req.out_gpa, 4));
}

TEST_F(vdev, reset_device_keeps_memory_eventfds_and_config)
{
	struct virtio_iommu_req_probe p;
	struct vhost_iommu_request r;
	struct vg_req req;

	ASSERT_EQ(0, vhi_reset_device(self->fd));
	vg_vq_reset(&self->rq);
	ASSERT_EQ(0, vhi_set_features(self->fd, self->features));
	ASSERT_EQ(0, vhi_set_vring_num(self->fd, 0, RQ_NUM));
	ASSERT_EQ(0, vhi_set_vring_addr(self->fd, 0, (uintptr_t)self->rq.desc,
					(uintptr_t)self->rq.avail,
					(uintptr_t)self->rq.used, 0));
	ASSERT_EQ(0, vhi_set_vring_base(self->fd, 0, 0));

	/* The kick eventfd, memory table and probe_size are still there. */
	want_call(self);
	ASSERT_EQ(0, vg_submit(&self->rq, &p, mk_probe(&p, 8), PROBE_SIZE + 4,
			       0, &req));
	expect_vmm_request(_metadata, self, &p, sizeof(p), PROBE_SIZE + 4, &r);
	ASSERT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	wait_used_entry(_metadata, self, &req, PROBE_SIZE + 4);
	/* So is the call eventfd. */
	EXPECT_EQ(0, vg_eventfd_wait(self->rq.call_fd, VG_TIMEOUT_MS, NULL));
}

TEST_F(vdev, close_with_pending_request_returns_promptly)
{
	struct vhost_iommu_request r;
	struct vg_req req;
	__s64 start;

	pend_attach(_metadata, self, &req, &r);
	start = now_ms();
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_GT(1000, now_ms() - start);
}

/* ------------------------------------------------------------------ */
/* Statistics */

TEST_F(vdev, stats_count_each_outcome)
{
	struct virtio_iommu_req_invalidate inv;
	struct vhost_iommu_stats s0, s1, s2, s3;
	struct vhost_iommu_request r;
	__u8 junk[64] = { 200 };
	struct vg_req req;
	__u32 len;

	ASSERT_EQ(0, vhi_get_stats(self->fd, &s0));
	EXPECT_EQ(0ULL, s0.out_requests);
	EXPECT_EQ(0ULL, s0.out_broken);

	pend_attach(_metadata, self, &req, &r);
	ASSERT_EQ(0, vhi_complete_request(self->fd, r.out_cookie,
					  VIRTIO_IOMMU_S_OK, NULL, 0));
	wait_used_entry(_metadata, self, &req, 4);
	ASSERT_EQ(0, vhi_get_stats(self->fd, &s1));
	EXPECT_EQ(s0.out_requests + 1, s1.out_requests);
	EXPECT_EQ(s0.out_slow_path + 1, s1.out_slow_path);
	EXPECT_EQ(s0.out_rejected, s1.out_rejected);
	EXPECT_EQ(s0.out_malformed, s1.out_malformed);

	send_wait(_metadata, self, &inv, mk_invalidate(&inv, 1), 4, 0, &req,
		  &len);
	ASSERT_EQ(0, vhi_get_stats(self->fd, &s2));
	EXPECT_EQ(s1.out_requests + 1, s2.out_requests);
	EXPECT_EQ(s1.out_slow_path, s2.out_slow_path);
	EXPECT_EQ(s1.out_rejected + 1, s2.out_rejected);
	EXPECT_EQ(s1.out_malformed, s2.out_malformed);

	send_wait(_metadata, self, junk, sizeof(junk), 4, 0, &req, &len);
	ASSERT_EQ(0, vhi_get_stats(self->fd, &s3));
	EXPECT_EQ(s2.out_requests + 1, s3.out_requests);
	EXPECT_EQ(s2.out_slow_path, s3.out_slow_path);
	EXPECT_EQ(s2.out_rejected, s3.out_rejected);
	EXPECT_EQ(s2.out_malformed + 1, s3.out_malformed);
	EXPECT_EQ(0ULL, s3.out_broken);

	/* They survive a reset. */
	ASSERT_EQ(0, vhi_reset_device(self->fd));
	ASSERT_EQ(0, vhi_get_stats(self->fd, &s0));
	EXPECT_EQ(s3.out_requests, s0.out_requests);
}

/* ------------------------------------------------------------------ */
/* Busy polling (VHOST_SET_VRING_BUSYLOOP_TIMEOUT) */

TEST_F(vdev, busyloop_timeout_per_queue_and_cleared_by_reset)
{
	unsigned int v = 1;

	EXPECT_EQ(0, vhi_get_vring_busyloop(self->fd, 0, &v));
	EXPECT_EQ(0u, v);
	EXPECT_EQ(0, vhi_set_vring_busyloop(self->fd, 0, 50));
	EXPECT_EQ(0, vhi_set_vring_busyloop(self->fd, 1, 7));
	EXPECT_EQ(0, vhi_get_vring_busyloop(self->fd, 0, &v));
	EXPECT_EQ(50u, v);
	EXPECT_EQ(0, vhi_get_vring_busyloop(self->fd, 1, &v));
	EXPECT_EQ(7u, v);
	EXPECT_EQ(-ENOBUFS, vhi_set_vring_busyloop(self->fd, 2, 1));
	EXPECT_EQ(-ENOBUFS, vhi_get_vring_busyloop(self->fd, 2, &v));
	ASSERT_EQ(0, vhi_reset_device(self->fd));
	EXPECT_EQ(0, vhi_get_vring_busyloop(self->fd, 0, &v));
	EXPECT_EQ(0u, v);
	EXPECT_EQ(0, vhi_get_vring_busyloop(self->fd, 1, &v));
	EXPECT_EQ(0u, v);
}

/*
 * Serves one kicked request, lets the worker reach its last look, then
 * publishes one without a kick. Return: true if that one was served
 * within @wait_ms; else it is kicked and served.
 */
static bool served_without_kick(struct __test_metadata *_metadata,
				struct _test_data_vdev *self, int wait_ms)
{
	struct virtio_iommu_req_invalidate inv;
	struct vg_req req;
	__u32 id = ~0u, len;
	bool served;

	send_wait(_metadata, self, &inv, mk_invalidate(&inv, 1), 4, 0, &req,
		  &len);
	usleep(50 * 1000);
	EXPECT_EQ(0, vg_submit(&self->rq, &inv, mk_invalidate(&inv, 1), 4,
			       VG_SUBMIT_NO_KICK, &req));
	served = !vg_wait_used(&self->rq, wait_ms, &id, &len);
	if (!served) {
		EXPECT_EQ(0, vg_kick(&self->rq));
		EXPECT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));
	}
	EXPECT_EQ(req.head, id);
	EXPECT_EQ(4u, len);
	return served;
}

TEST_F(vdev, without_busyloop_a_request_waits_for_its_kick)
{
	struct vhost_iommu_stats st0, st1;

	ASSERT_EQ(0, vhi_get_stats(self->fd, &st0));
	EXPECT_FALSE(served_without_kick(_metadata, self, QUIET_MS));
	ASSERT_EQ(0, vhi_get_stats(self->fd, &st1));
	EXPECT_EQ(0u, st1.out_busy_poll_hits - st0.out_busy_poll_hits);
}

TEST_F(vdev, busy_poll_serves_requests_published_without_kick)
{
	struct vhost_iommu_stats st0, st1;
	unsigned int i, hits = 0;

	/* The longest poll there is (1 s) outlives the test's 50 ms pause. */
	ASSERT_EQ(0, vhi_set_vring_busyloop(self->fd, 0,
					    VHOST_IOMMU_MAX_BUSYLOOP_TIMEOUT));
	ASSERT_EQ(0, vhi_get_stats(self->fd, &st0));
	/* The scheduler may cut a poll short; most must see the request. */
	for (i = 0; i < 10; i++)
		hits += served_without_kick(_metadata, self, 1000);
	ASSERT_EQ(0, vhi_get_stats(self->fd, &st1));
	EXPECT_LE(5u, hits);
	EXPECT_LE(hits, st1.out_busy_poll_hits - st0.out_busy_poll_hits);
	ksft_print_msg("STAT busy_poll hits=%u of 10\n", hits);
	ASSERT_EQ(0, vhi_set_vring_busyloop(self->fd, 0, 0));
}

TEST_F(vdev, busy_poll_yields_to_vmm_ioctls)
{
	struct virtio_iommu_req_invalidate inv;
	struct vhost_iommu_stats st;
	struct vg_req req;
	__s64 t0, t1;
	__u32 len;

	/* A second of polling would hold the device mutex throughout. */
	ASSERT_EQ(0, vhi_set_vring_busyloop(self->fd, 0,
					    VHOST_IOMMU_MAX_BUSYLOOP_TIMEOUT));
	send_wait(_metadata, self, &inv, mk_invalidate(&inv, 1), 4, 0, &req,
		  &len);
	usleep(50 * 1000);
	t0 = now_ms();
	EXPECT_EQ(0, vhi_get_stats(self->fd, &st));
	t1 = now_ms();
	EXPECT_GT(500, t1 - t0)
		TH_LOG("GET_STATS waited %lld ms for the polling worker",
		       (long long)(t1 - t0));
	ASSERT_EQ(0, vhi_set_vring_busyloop(self->fd, 0, 0));
}

TEST_F(vdev, no_notify_flag_while_busy_without_event_idx)
{
	struct virtio_iommu_req_invalidate inv;
	struct vg_req req;
	unsigned int i, seen = 0;
	__u32 len;

	dev_redo(_metadata, self,
		 ALL_FEATURES & ~FBIT(VIRTIO_RING_F_EVENT_IDX));
	ASSERT_EQ(0, vhi_set_vring_busyloop(self->fd, 0, 500000));
	for (i = 0; i < 5; i++) {
		send_wait(_metadata, self, &inv, mk_invalidate(&inv, 1), 4, 0,
			  &req, &len);
		/* The worker polls on: no kick wanted yet. */
		if (le16toh(__atomic_load_n(&self->rq.used->flags,
					    __ATOMIC_ACQUIRE)) &
		    VRING_USED_F_NO_NOTIFY)
			seen++;
	}
	EXPECT_LE(1u, seen);
	/* Polling over, the worker sleeps and wants kicks again. */
	usleep(1500 * 1000);
	EXPECT_EQ(0, le16toh(__atomic_load_n(&self->rq.used->flags,
					     __ATOMIC_ACQUIRE)));
	/* And a kick is enough. */
	send_wait(_metadata, self, &inv, mk_invalidate(&inv, 1), 4, 0, &req,
		  &len);
}

TEST_HARNESS_MAIN
