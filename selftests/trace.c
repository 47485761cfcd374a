// SPDX-License-Identifier: GPL-2.0-only
/*
 * kselftest suite "trace": the module's tracepoints
 * (/sys/kernel/tracing/events/vhost_iommu/, drivers/vhost_iommu_trace.h).
 *
 * Each test runs in a tracing instance of its own (instances/<name>: its
 * own buffer, events enabled there only, the global clock so events of
 * different CPUs come out in order), sends a known sequence of requests
 * through a guest and a VMM built with tools/lib, reads the instance's
 * trace and expects exactly the events that sequence makes for its
 * device, field by field, named by the device's netlink ID (fdinfo).
 */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "iommufd_mock.h"
#include "vhost_iommu_vmm.h"
#include "viommu_guest.h"

#define TRACEFS		"/sys/kernel/tracing"
#define EVENTS_DIR	TRACEFS "/events/vhost_iommu"

#define GUEST_BASE	0x40000000ULL
#define GUEST_SIZE	(12ULL << 20)
#define GUEST_REGIONS	3
#define RQ_NUM		256u
#define EQ_NUM		64u
#define ALL_FEATURES	VHI_FEATURES_OFFERED

#define ENDPOINT	8u
#define DOM_A		1u
#define BIND_START	0x100000000ULL
#define BIND_END	0x1ffffffffULL
#define BIND_GRANULE	12
#define FAULT_ADDR	0xdeadb000ULL
#define MALFORMED_TYPE	0x55u

#define INVAL_IN	((__u32)offsetof(struct virtio_iommu_req_invalidate, tail))
#define TAIL_LEN	((__u32)sizeof(struct virtio_iommu_req_tail))
#define ATTACH_IN	((__u32)offsetof(struct virtio_iommu_req_attach, tail))
#define RESP_IN		((__u32)offsetof(struct virtio_iommu_req_page_resp, tail))
#define EV_SIZE		((__u32)sizeof(struct virtio_iommu_page_req))

#define NONE		(~0ULL)

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

static const char * const event_names[] = {
	"vhost_iommu_req_dispatch",
	"vhost_iommu_req_complete",
	"vhost_iommu_inval_batch",
	"vhost_iommu_page_req",
	"vhost_iommu_page_resp",
};

/* ------------------------------------------------------------------ */
/* tracefs */

static int write_file(const char *path, const char *s)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	if (n < 0)
		return -errno;
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

/* The whole file, NUL-terminated, or NULL. */
static char *read_file(const char *path, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1), *p;
	ssize_t r;
	int fd;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			p = realloc(buf, cap + 1);
			if (!p) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = p;
		}
	}
	close(fd);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

/* tracefs mounted, the module's events there: 0, or why not. */
static int tracefs_up(const char **why)
{
	struct stat st;

	if (stat(TRACEFS "/events", &st)) {
		if (mount("nodev", TRACEFS, "tracefs", 0, NULL)) {
			*why = "cannot mount tracefs at " TRACEFS;
			return -errno;
		}
	}
	if (stat(EVENTS_DIR, &st)) {
		*why = "no " EVENTS_DIR " (module without tracepoints?)";
		return -ENOENT;
	}
	return 0;
}

/* A tracing instance with the module's events on. */
struct tinst {
	char dir[128];
};

static int tinst_path(const struct tinst *t, const char *file, char *buf,
		      size_t len)
{
	return snprintf(buf, len, "%s/%s", t->dir, file);
}

static int tinst_write(const struct tinst *t, const char *file,
		       const char *s)
{
	char path[256];

	tinst_path(t, file, path, sizeof(path));
	return write_file(path, s);
}

static int tinst_create(struct tinst *t)
{
	static unsigned int n;
	int ret;

	snprintf(t->dir, sizeof(t->dir), TRACEFS "/instances/vhi-test-%d-%u",
		 getpid(), n++);
	if (mkdir(t->dir, 0700))
		return -errno;
	ret = tinst_write(t, "trace_clock", "global");
	if (!ret)
		ret = tinst_write(t, "buffer_size_kb", "2048");
	if (!ret)
		ret = tinst_write(t, "events/vhost_iommu/enable", "1");
	if (!ret)
		ret = tinst_write(t, "tracing_on", "1");
	return ret;
}

static void tinst_destroy(struct tinst *t)
{
	if (!t->dir[0])
		return;
	tinst_write(t, "tracing_on", "0");
	tinst_write(t, "events/vhost_iommu/enable", "0");
	rmdir(t->dir);
	t->dir[0] = 0;
}

static int tinst_clear(struct tinst *t)
{
	return tinst_write(t, "trace", "");
}

/* ------------------------------------------------------------------ */
/* Trace lines */

#define TEV_MAX_FIELDS	8

/**
 * struct tev - one event of the trace
 * @name: the event, without the "vhost_iommu_" prefix
 * @n: fields
 * @key: their names
 * @val: their values as printed
 * @line: the line, for messages
 */
struct tev {
	char name[32];
	unsigned int n;
	char key[TEV_MAX_FIELDS][16];
	char val[TEV_MAX_FIELDS][24];
	char line[256];
};

static const char *tev_str(const struct tev *e, const char *key)
{
	unsigned int i;

	for (i = 0; i < e->n; i++)
		if (!strcmp(e->key[i], key))
			return e->val[i];
	return NULL;
}

/* A decimal field, or NONE if absent or not a number. */
static __u64 tev_u(const struct tev *e, const char *key)
{
	const char *v = tev_str(e, key);
	char *end;
	__u64 x;

	if (!v || !isdigit((unsigned char)*v))
		return NONE;
	x = strtoull(v, &end, 10);
	return *end ? NONE : x;
}

/*
 * Parses "...: vhost_iommu_<name>: k=v k=v" into @e; 1 for one of ours,
 * 0 for another line, -1 for one of ours that does not parse.
 */
static int tev_parse(const char *line, struct tev *e)
{
	const char *p = strstr(line, ": vhost_iommu_"), *q;
	size_t l;

	memset(e, 0, sizeof(*e));
	if (!p || line[0] == '#')
		return 0;
	snprintf(e->line, sizeof(e->line), "%s", line);
	p += strlen(": vhost_iommu_");
	q = strchr(p, ':');
	if (!q || q - p >= (long)sizeof(e->name))
		return -1;
	memcpy(e->name, p, q - p);
	p = q + 1;
	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (e->n == TEV_MAX_FIELDS)
			return -1;
		q = strchr(p, '=');
		if (!q || q - p >= (long)sizeof(e->key[0]))
			return -1;
		memcpy(e->key[e->n], p, q - p);
		p = q + 1;
		l = strcspn(p, " ");
		if (!l || l >= sizeof(e->val[0]))
			return -1;
		memcpy(e->val[e->n], p, l);
		e->n++;
		p += l;
	}
	return 1;
}

/**
 * struct tlog - the instance's events of one device, in order
 * @n: events
 * @ev: the events
 * @bad: lines of ours that did not parse
 * @other_dev: events of other devices
 */
struct tlog {
	unsigned int n;
	struct tev ev[256];
	unsigned int bad;
	unsigned int other_dev;
};

static int tlog_read(struct tinst *t, __u32 dev, struct tlog *lg)
{
	char path[256], *buf, *line, *save = NULL;
	struct tev e;
	int r;

	memset(lg, 0, sizeof(*lg));
	tinst_path(t, "trace", path, sizeof(path));
	buf = read_file(path, NULL);
	if (!buf)
		return -errno;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		r = tev_parse(line, &e);
		if (r < 0)
			lg->bad++;
		if (r <= 0)
			continue;
		if (tev_u(&e, "dev") != dev) {
			lg->other_dev++;
			continue;
		}
		if (lg->n < ARRAY_SIZE(lg->ev))
			lg->ev[lg->n++] = e;
	}
	free(buf);
	return 0;
}

/* Index of the first event @name at or after @from with @key == @val. */
static int tlog_find(const struct tlog *lg, unsigned int from,
		     const char *name, const char *key, __u64 val)
{
	unsigned int i;

	for (i = from; i < lg->n; i++)
		if (!strcmp(lg->ev[i].name, name) &&
		    (!key || tev_u(&lg->ev[i], key) == val))
			return (int)i;
	return -1;
}

static unsigned int tlog_count(const struct tlog *lg, const char *name)
{
	unsigned int i, c = 0;

	for (i = 0; i < lg->n; i++)
		if (!strcmp(lg->ev[i].name, name))
			c++;
	return c;
}

static void tlog_dump(struct __test_metadata *_metadata,
		      const struct tlog *lg)
{
	unsigned int i;

	for (i = 0; i < lg->n; i++)
		TH_LOG("  %s", lg->ev[i].line);
}

/* ------------------------------------------------------------------ */
/* The guest and its device */

/*
 * Helpers take the fixture data as struct _test_data_tr, which is what
 * FIXTURE_DATA(tr) expands to, spelled so checkpatch sees a type.
 */
FIXTURE(tr) {
	int fd;
	__u32 id;
	struct vg_mem mem;
	struct vg_vq rq;
	struct vg_vq eq;
	struct imock_world w;
	__u32 fault_id;
	int fault_fd;
	__u32 fault_hwpt;
	struct tinst t;
};

FIXTURE_SETUP(tr)
{
	struct vhost_iommu_config cfg;
	struct vhost_iommu_bind b = {
		.domain = DOM_A,
		.format = VHOST_IOMMU_INV_FORMAT_SELFTEST,
		.input_start = BIND_START,
		.input_end = BIND_END,
		.granule_log2 = BIND_GRANULE,
	};
	const char *why = "";
	int ret;

	self->fd = -1;
	self->w.fd = -1;
	self->fault_fd = -1;
	self->t.dir[0] = 0;
	ret = tracefs_up(&why);
	if (ret == -ENOENT)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", why, strerror(-ret));

	ASSERT_EQ(0, vg_mem_init(&self->mem, GUEST_BASE, GUEST_SIZE,
				 GUEST_REGIONS));
	ASSERT_EQ(0, vg_vq_init(&self->rq, &self->mem, RQ_NUM));
	ASSERT_EQ(0, vg_vq_init(&self->eq, &self->mem, EQ_NUM));
	vhi_config_default(&cfg);
	self->fd = vg_device_open(&self->mem, &cfg);
	ASSERT_LE(0, self->fd);
	self->id = vhi_dev_id(self->fd);
	ASSERT_LE(1u, self->id) TH_LOG("no vhost-iommu-id in fdinfo");
	ASSERT_EQ(0, vg_rings_up(self->fd, &self->rq, &self->eq,
				 ALL_FEATURES));

	ret = imock_world_init(&self->w);
	if (ret == -ENOENT)
		SKIP(return, "no " IMOCK_DEV_PATH ": kernel without iommufd");
	ASSERT_EQ(0, ret) TH_LOG("mock world: %s", strerror(-ret));
	ASSERT_EQ(0, imock_fault_alloc(self->w.fd, &self->fault_id,
				       &self->fault_fd));
	ASSERT_EQ(0, imock_hwpt_alloc_nested(self->w.fd, self->w.idev_id,
					     self->w.parent_id, self->fault_id,
					     &self->fault_hwpt));
	ASSERT_EQ(0, imock_domain_replace(self->w.fd, self->w.stdev_id,
					  self->fault_hwpt));
	ASSERT_EQ(0, vhi_set_iommufd(self->fd, self->w.fd));
	ASSERT_EQ(0, vhi_add_endpoint(self->fd, ENDPOINT, self->w.idev_id, 0));
	ASSERT_EQ(0, vhi_set_fault_queue(self->fd, self->fault_fd));
	b.object_id = self->w.nested_id;
	ASSERT_EQ(0, vhi_bind_domain(self->fd, &b));

	/* Last, so that only the test's own requests are traced. */
	ret = tinst_create(&self->t);
	ASSERT_EQ(0, ret) TH_LOG("tracing instance %s: %s", self->t.dir,
				 strerror(-ret));
}

FIXTURE_TEARDOWN(tr)
{
	tinst_destroy(&self->t);
	if (self->fd >= 0)
		close(self->fd);
	if (self->fault_fd >= 0)
		close(self->fault_fd);
	imock_world_destroy(&self->w);
	vg_vq_destroy(&self->rq);
	vg_vq_destroy(&self->eq);
	vg_mem_destroy(&self->mem);
}

/* One request and its used entry: the status, VG_USED_EMPTY, or -errno. */
static int send_req(struct _test_data_tr *self, const void *body,
		    __u32 in_len, __u16 *head)
{
	struct vg_req req = { .head = 0xffff };
	int ret;

	ret = vg_roundtrip(&self->rq, body, in_len, TAIL_LEN, &req);
	*head = req.head;
	return ret;
}

static void mk_inval(struct virtio_iommu_req_invalidate *r, __u32 domain)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_INVALIDATE;
	r->scope = VIRTIO_IOMMU_INVAL_S_DOMAIN;
	r->caches = VIRTIO_IOMMU_INVAL_C_TLB;
	r->domain = htole32(domain);
}

static int post_events(struct _test_data_tr *self, unsigned int n)
{
	struct vg_req req;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = vg_post_writable(&self->eq, EV_SIZE,
				       VG_SUBMIT_NO_PUBLISH, &req);
		if (ret)
			return ret;
	}
	vg_publish(&self->eq);
	return vg_kick(&self->eq);
}

static int send_page_resp(struct _test_data_tr *self, __u32 grpid,
			  __u16 *head)
{
	struct virtio_iommu_req_page_resp r;

	memset(&r, 0, sizeof(r));
	r.head.type = VIRTIO_IOMMU_T_PAGE_RESP;
	r.endpoint = htole32(ENDPOINT);
	r.grpid = htole32(grpid);
	r.resp_code = htole16(VIRTIO_IOMMU_PAGE_RESP_SUCCESS);
	return send_req(self, &r, RESP_IN, head);
}

static __s64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Reads the trace until @pred says it is complete (or 2 s went by). */
static void read_until(struct _test_data_tr *self, struct tlog *lg,
		       unsigned int events)
{
	__s64 end = now_ms() + 2000;

	for (;;) {
		if (tlog_read(&self->t, self->id, lg) || lg->n >= events ||
		    now_ms() > end)
			return;
		usleep(20000);
	}
}

/*
 * The dispatch and the completion of the request at @head, in that order
 * and after @from: checks their fields, returns the completion's index.
 */
static int expect_req(struct __test_metadata *_metadata,
		      const struct tlog *lg, int from, __u16 head, __u8 type,
		      const char *path, __u64 status, __u32 len)
{
	int d, c;

	d = tlog_find(lg, from, "req_dispatch", "head", head);
	EXPECT_LE(0, d) TH_LOG("no req_dispatch of head %u", head);
	if (d < 0)
		return -1;
	EXPECT_EQ((__u64)type, tev_u(&lg->ev[d], "type")) TH_LOG("%s", lg->ev[d].line);
	ASSERT_NE(NULL, tev_str(&lg->ev[d], "path"));
	EXPECT_STREQ(path, tev_str(&lg->ev[d], "path"));
	c = tlog_find(lg, d + 1, "req_complete", "head", head);
	EXPECT_LE(0, c) TH_LOG("no req_complete of head %u after its dispatch",
			       head);
	if (c < 0)
		return -1;
	EXPECT_EQ((__u64)type, tev_u(&lg->ev[c], "type")) TH_LOG("%s", lg->ev[c].line);
	if (status != NONE) {
		EXPECT_EQ(status, tev_u(&lg->ev[c], "status"))
			TH_LOG("%s", lg->ev[c].line);
	} else {
		EXPECT_NE(NONE, tev_u(&lg->ev[c], "status"));
	}
	EXPECT_EQ((__u64)len, tev_u(&lg->ev[c], "len")) TH_LOG("%s", lg->ev[c].line);
	ASSERT_NE(NULL, tev_str(&lg->ev[c], "path"));
	EXPECT_STREQ(path, tev_str(&lg->ev[c], "path"));
	return c;
}

/* ------------------------------------------------------------------ */
/* Tests */

/* The formats of drivers/vhost_iommu_trace.h, as tracefs shows them. */
TEST(events_exist_with_their_formats)
{
	static const struct {
		const char *event;
		const char *fields[7];
		const char *fmt;
	} want[] = {
		{ "vhost_iommu_req_dispatch",
		  { "u32 dev;", "u16 head;", "u8 type;", "u8 path;" },
		  "\"dev=%u head=%u type=%u path=%s\"" },
		{ "vhost_iommu_req_complete",
		  { "u32 dev;", "u32 used_len;", "u16 head;", "u8 type;",
		    "u8 status;", "u8 path;" },
		  "\"dev=%u head=%u type=%u status=%u len=%u path=%s\"" },
		{ "vhost_iommu_inval_batch",
		  { "u32 dev;", "u32 object_id;", "u32 reqs;", "u32 entries;",
		    "u32 calls;", "u32 errors;" },
		  "\"dev=%u object=%u reqs=%u entries=%u calls=%u errors=%u\"" },
		{ "vhost_iommu_page_req",
		  { "u32 dev;", "u32 endpoint;", "u32 records;", "u16 grpid;" },
		  "\"dev=%u endpoint=%u grpid=%u records=%u\"" },
		{ "vhost_iommu_page_resp",
		  { "u32 dev;", "u32 endpoint;", "u32 code;", "u16 grpid;",
		    "bool by_device;" },
		  "\"dev=%u endpoint=%u grpid=%u code=%u from=%s\"" },
	};
	const char *why = "";
	char path[256], needle[64];
	unsigned int i, k;
	char *fmt;
	int ret;

	ret = tracefs_up(&why);
	if (ret == -ENOENT)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		snprintf(path, sizeof(path), EVENTS_DIR "/%s/format",
			 want[i].event);
		fmt = read_file(path, NULL);
		ASSERT_NE(NULL, fmt) TH_LOG("%s: %s", path, strerror(errno));
		for (k = 0; k < ARRAY_SIZE(want[i].fields) &&
		     want[i].fields[k]; k++) {
			snprintf(needle, sizeof(needle), "field:%s",
				 want[i].fields[k]);
			EXPECT_NE(NULL, strstr(fmt, needle))
				TH_LOG("%s: no %s", want[i].event, needle);
		}
		EXPECT_NE(NULL, strstr(fmt, want[i].fmt))
			TH_LOG("%s: print fmt is not %s", want[i].event,
			       want[i].fmt);
		free(fmt);
	}
	/* And nothing else in the system. */
	for (i = 0; i < ARRAY_SIZE(event_names); i++) {
		snprintf(path, sizeof(path), EVENTS_DIR "/%s/id",
			 event_names[i]);
		EXPECT_EQ(0, access(path, R_OK)) TH_LOG("%s", path);
	}
}

TEST_F(tr, each_path_of_a_request)
{
	struct virtio_iommu_req_invalidate inv;
	struct virtio_iommu_req_attach at;
	struct vhost_iommu_request req;
	char buf[VHI_REQ_BUF_SIZE];
	__u8 body[16] = { MALFORMED_TYPE };
	__u16 h_bad, h_inv, h_att;
	struct tlog *lg = malloc(sizeof(*lg));
	struct vg_req vr;
	__u32 id, len;
	int c1, c2, c3, b;

	ASSERT_NE(NULL, lg);
	ASSERT_EQ(0, tinst_clear(&self->t));

	/* The device answers a malformed request itself. */
	ASSERT_EQ(0x100, send_req(self, body, sizeof(body), &h_bad));
	/* An INVALIDATE of a bound domain: the fast path, one batch. */
	mk_inval(&inv, DOM_A);
	ASSERT_EQ(VIRTIO_IOMMU_S_OK, send_req(self, &inv, INVAL_IN, &h_inv));
	/* An ATTACH goes to the VMM, which answers S_RANGE. */
	memset(&at, 0, sizeof(at));
	at.head.type = VIRTIO_IOMMU_T_ATTACH;
	at.domain = htole32(DOM_A);
	at.endpoint = htole32(ENDPOINT);
	ASSERT_EQ(0, vg_submit(&self->rq, &at, ATTACH_IN, TAIL_LEN, 0, &vr));
	h_att = vr.head;
	ASSERT_EQ(0, vhi_wait_request(self->fd, &req, buf, sizeof(buf),
				      VG_TIMEOUT_MS));
	ASSERT_EQ(0, vhi_complete_request(self->fd, req.out_cookie,
					  VIRTIO_IOMMU_S_RANGE, NULL, 0));
	ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len));

	read_until(self, lg, 7);
	TH_LOG("device %u: %u events (%u of other devices)", self->id, lg->n,
	       lg->other_dev);
	tlog_dump(_metadata, lg);
	EXPECT_EQ(0u, lg->bad);
	/* 3 dispatches, 3 completions, 1 batch; nothing else. */
	EXPECT_EQ(7u, lg->n);
	EXPECT_EQ(3u, tlog_count(lg, "req_dispatch"));
	EXPECT_EQ(3u, tlog_count(lg, "req_complete"));
	EXPECT_EQ(1u, tlog_count(lg, "inval_batch"));

	c1 = expect_req(_metadata, lg, 0, h_bad, MALFORMED_TYPE, "device",
			NONE, 0);
	c2 = expect_req(_metadata, lg, c1 + 1, h_inv,
			VIRTIO_IOMMU_T_INVALIDATE, "fast", VIRTIO_IOMMU_S_OK,
			TAIL_LEN);
	c3 = expect_req(_metadata, lg, c2 + 1, h_att, VIRTIO_IOMMU_T_ATTACH,
			"vmm", VIRTIO_IOMMU_S_RANGE, TAIL_LEN);
	EXPECT_LT(0, c3);

	/* The batch: after the INVALIDATE's dispatch, before the ATTACH's. */
	b = tlog_find(lg, 0, "inval_batch", NULL, 0);
	ASSERT_LE(0, b);
	EXPECT_LT(tlog_find(lg, 0, "req_dispatch", "head", h_inv), b);
	EXPECT_GT(tlog_find(lg, 0, "req_dispatch", "head", h_att), b);
	EXPECT_EQ((__u64)self->w.nested_id, tev_u(&lg->ev[b], "object"));
	EXPECT_EQ(1ULL, tev_u(&lg->ev[b], "reqs"));
	EXPECT_EQ(1ULL, tev_u(&lg->ev[b], "entries"));
	EXPECT_EQ(1ULL, tev_u(&lg->ev[b], "calls"));
	EXPECT_EQ(0ULL, tev_u(&lg->ev[b], "errors"));

	/* Events off: nothing more is recorded. */
	ASSERT_EQ(0, tinst_write(&self->t, "events/vhost_iommu/enable", "0"));
	ASSERT_EQ(0, tinst_clear(&self->t));
	ASSERT_EQ(VIRTIO_IOMMU_S_OK, send_req(self, &inv, INVAL_IN, &h_inv));
	usleep(100000);
	ASSERT_EQ(0, tlog_read(&self->t, self->id, lg));
	EXPECT_EQ(0u, lg->n);
	free(lg);
}

TEST_F(tr, invalidations_batched_and_failed)
{
	struct virtio_iommu_req_invalidate inv;
	struct vhost_iommu_stats s0, s1;
	struct tlog *lg = malloc(sizeof(*lg));
	__u64 reqs = 0, calls = 0, entries = 0, errors = 0;
	struct vg_req req[6];
	__u16 h_bad;
	unsigned int i, batches;
	__u32 id, len;
	__u8 st;
	int k, c;

	ASSERT_NE(NULL, lg);
	ASSERT_EQ(0, tinst_clear(&self->t));
	ASSERT_EQ(0, vhi_get_stats(self->fd, &s0));

	/* Six at once: the worker may batch them. */
	mk_inval(&inv, DOM_A);
	for (i = 0; i < ARRAY_SIZE(req); i++) {
		ASSERT_EQ(0, vg_submit(&self->rq, &inv, INVAL_IN, TAIL_LEN,
				       VG_SUBMIT_NO_PUBLISH, &req[i]));
	}
	vg_publish(&self->rq);
	ASSERT_EQ(0, vg_kick(&self->rq));
	for (i = 0; i < ARRAY_SIZE(req); i++) {
		ASSERT_EQ(0, vg_wait_used(&self->rq, VG_TIMEOUT_MS, &id, &len))
			TH_LOG("INVALIDATE %u of 6 not used", i);
	}
	/* One the mock refuses: an IOTLB slot it does not have. */
	mk_inval(&inv, DOM_A);
	inv.scope = VIRTIO_IOMMU_INVAL_S_ADDRESS;
	inv.flags = htole16(VIRTIO_IOMMU_INVAL_F_ID);
	inv.address = htole64(BIND_START + 0x100000);
	inv.nr_pages = htole64(1);
	inv.page_size = 12;
	inv.id = htole64(7);
	k = send_req(self, &inv, INVAL_IN, &h_bad);
	ASSERT_LE(0, k);
	st = k;
	EXPECT_NE(VIRTIO_IOMMU_S_OK, st);
	ASSERT_EQ(0, vhi_get_stats(self->fd, &s1));
	batches = s1.out_inval_batches - s0.out_inval_batches;

	read_until(self, lg, 14 + batches);
	tlog_dump(_metadata, lg);
	EXPECT_EQ(0u, lg->bad);
	EXPECT_EQ(7u, tlog_count(lg, "req_dispatch"));
	EXPECT_EQ(7u, tlog_count(lg, "req_complete"));
	for (i = 0; i < ARRAY_SIZE(req); i++) {
		expect_req(_metadata, lg, 0, req[i].head,
			   VIRTIO_IOMMU_T_INVALIDATE, "fast",
			   VIRTIO_IOMMU_S_OK, TAIL_LEN);
	}
	/* The refused one completes with the status the guest saw. */
	c = expect_req(_metadata, lg, 0, h_bad, VIRTIO_IOMMU_T_INVALIDATE,
		       "fast", st, TAIL_LEN);
	EXPECT_LE(0, c);

	/* The batches add up to the requests and to the counters. */
	for (i = 0; i < lg->n; i++) {
		const struct tev *e = &lg->ev[i];

		if (strcmp(e->name, "inval_batch"))
			continue;
		EXPECT_EQ((__u64)self->w.nested_id, tev_u(e, "object"));
		EXPECT_LE(1ULL, tev_u(e, "reqs"));
		reqs += tev_u(e, "reqs");
		calls += tev_u(e, "calls");
		entries += tev_u(e, "entries");
		errors += tev_u(e, "errors");
	}
	TH_LOG("%u batches, %llu calls for 7 requests (%llu entries)",
	       tlog_count(lg, "inval_batch"), (unsigned long long)calls,
	       (unsigned long long)entries);
	EXPECT_EQ(7ULL, reqs);
	EXPECT_EQ((__u64)batches, calls);
	EXPECT_LE(2ULL, calls);		/* the refused one is alone */
	EXPECT_LE(calls, entries);
	EXPECT_EQ(1ULL, errors);
	EXPECT_EQ(s1.out_inval_errors - s0.out_inval_errors, errors);
	free(lg);
}

TEST_F(tr, page_request_round_trip)
{
	struct tlog *lg = malloc(sizeof(*lg));
	struct vhost_iommu_stats st;
	__u16 h1, h2;
	__u32 id, len;
	int p, r, c, rd, rg;

	ASSERT_NE(NULL, lg);
	ASSERT_EQ(0, post_events(self, 4));
	ASSERT_EQ(0, tinst_clear(&self->t));

	/* Group 4: delivered, answered by the guest. */
	ASSERT_EQ(0, imock_trigger_iopf(self->w.fd, self->w.idev_id, 0, 4,
					IOMMU_PGFAULT_PERM_READ, FAULT_ADDR));
	ASSERT_EQ(0, vg_wait_used(&self->eq, VG_TIMEOUT_MS, &id, &len));
	ASSERT_EQ(VIRTIO_IOMMU_S_OK, send_page_resp(self, 4, &h1));

	/*
	 * Group 6 twice: the second is answered INVALID by the device (the
	 * guest could not tell them apart), the first by the guest.
	 */
	ASSERT_EQ(0, imock_trigger_iopf(self->w.fd, self->w.idev_id, 0, 6,
					IOMMU_PGFAULT_PERM_READ, FAULT_ADDR));
	ASSERT_EQ(0, vg_wait_used(&self->eq, VG_TIMEOUT_MS, &id, &len));
	ASSERT_EQ(0, imock_trigger_iopf(self->w.fd, self->w.idev_id, 0, 6,
					IOMMU_PGFAULT_PERM_WRITE, FAULT_ADDR));
	usleep(200000);
	ASSERT_EQ(VIRTIO_IOMMU_S_OK, send_page_resp(self, 6, &h2));
	/* The device did answer one group itself. */
	ASSERT_EQ(0, vhi_get_stats(self->fd, &st));
	EXPECT_EQ(1ULL, st.out_page_req_invalid);
	EXPECT_EQ(2ULL, st.out_page_resps);

	read_until(self, lg, 9);
	tlog_dump(_metadata, lg);
	EXPECT_EQ(0u, lg->bad);

	/* Group 4. */
	p = tlog_find(lg, 0, "page_req", "grpid", 4);
	ASSERT_LE(0, p);
	EXPECT_EQ((__u64)ENDPOINT, tev_u(&lg->ev[p], "endpoint"));
	EXPECT_EQ(1ULL, tev_u(&lg->ev[p], "records"));
	c = expect_req(_metadata, lg, p + 1, h1, VIRTIO_IOMMU_T_PAGE_RESP,
		       "fast", VIRTIO_IOMMU_S_OK, TAIL_LEN);
	r = tlog_find(lg, p + 1, "page_resp", "grpid", 4);
	ASSERT_LE(0, r);
	EXPECT_EQ((__u64)ENDPOINT, tev_u(&lg->ev[r], "endpoint"));
	EXPECT_EQ((__u64)IOMMUFD_PAGE_RESP_SUCCESS, tev_u(&lg->ev[r], "code"));
	ASSERT_NE(NULL, tev_str(&lg->ev[r], "from"));
	EXPECT_STREQ("guest", tev_str(&lg->ev[r], "from"));
	/* The response is sent while the PAGE_RESP is handled. */
	EXPECT_GT(c, r);
	EXPECT_LT(tlog_find(lg, 0, "req_dispatch", "head", h1), r);

	/* Group 6: delivered once, refused once by the device. */
	p = tlog_find(lg, 0, "page_req", "grpid", 6);
	ASSERT_LE(0, p);
	EXPECT_EQ(1ULL, tev_u(&lg->ev[p], "records"));
	rd = -1;
	rg = -1;
	for (r = tlog_find(lg, 0, "page_resp", "grpid", 6); r >= 0;
	     r = tlog_find(lg, r + 1, "page_resp", "grpid", 6)) {
		const char *from = tev_str(&lg->ev[r], "from");

		ASSERT_NE(NULL, from);
		if (!strcmp(from, "device")) {
			EXPECT_GT(0, rd) TH_LOG("device answered group 6 twice");
			rd = r;
		} else {
			EXPECT_STREQ("guest", from);
			EXPECT_GT(0, rg) TH_LOG("guest answered group 6 twice");
			rg = r;
		}
	}
	ASSERT_LE(0, rd) TH_LOG("no page_resp from=device for group 6");
	ASSERT_LE(0, rg) TH_LOG("no page_resp from=guest for group 6");
	EXPECT_EQ((__u64)IOMMUFD_PAGE_RESP_INVALID, tev_u(&lg->ev[rd], "code"));
	EXPECT_EQ((__u64)ENDPOINT, tev_u(&lg->ev[rd], "endpoint"));
	EXPECT_EQ((__u64)IOMMUFD_PAGE_RESP_SUCCESS, tev_u(&lg->ev[rg], "code"));
	EXPECT_LT(rd, rg);
	expect_req(_metadata, lg, rd, h2, VIRTIO_IOMMU_T_PAGE_RESP, "fast",
		   VIRTIO_IOMMU_S_OK, TAIL_LEN);

	/* Two PAGE_RESPs in all, and three answers. */
	EXPECT_EQ(2u, tlog_count(lg, "req_dispatch"));
	EXPECT_EQ(2u, tlog_count(lg, "req_complete"));
	EXPECT_EQ(3u, tlog_count(lg, "page_resp"));
	free(lg);
}

TEST_F(tr, outstanding_groups_answered_by_the_device_on_reset)
{
	struct tlog *lg = malloc(sizeof(*lg));
	unsigned int i, seen = 0;
	__u32 id, len;
	int r;

	ASSERT_NE(NULL, lg);
	ASSERT_EQ(0, post_events(self, 4));
	ASSERT_EQ(0, tinst_clear(&self->t));
	for (i = 1; i <= 2; i++) {
		ASSERT_EQ(0, imock_trigger_iopf(self->w.fd, self->w.idev_id, 0,
						10 + i, IOMMU_PGFAULT_PERM_READ,
						FAULT_ADDR));
		ASSERT_EQ(0, vg_wait_used(&self->eq, VG_TIMEOUT_MS, &id, &len))
			TH_LOG("group %u not delivered", 10 + i);
	}
	/* The guest never answers: the reset does, INVALID. */
	ASSERT_EQ(0, vhi_reset_device(self->fd));

	read_until(self, lg, 4);
	tlog_dump(_metadata, lg);
	EXPECT_EQ(0u, lg->bad);
	EXPECT_EQ(2u, tlog_count(lg, "page_req"));
	EXPECT_EQ(2u, tlog_count(lg, "page_resp"));
	for (r = tlog_find(lg, 0, "page_resp", NULL, 0); r >= 0;
	     r = tlog_find(lg, r + 1, "page_resp", NULL, 0)) {
		const struct tev *e = &lg->ev[r];

		EXPECT_EQ((__u64)ENDPOINT, tev_u(e, "endpoint"));
		EXPECT_EQ((__u64)IOMMUFD_PAGE_RESP_INVALID, tev_u(e, "code"));
		EXPECT_STREQ("device", tev_str(e, "from") ?: "");
		seen |= 1u << (tev_u(e, "grpid") - 10);
	}
	EXPECT_EQ(6u, seen) TH_LOG("groups 11 and 12 each answered once");
	/* No request went through the queue. */
	EXPECT_EQ(0u, tlog_count(lg, "req_dispatch"));
	free(lg);
}

TEST_HARNESS_MAIN
