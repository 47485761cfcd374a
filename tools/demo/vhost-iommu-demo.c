// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu demo: one process plays both the VMM and the guest.
 *
 * The VMM opens /dev/vhost-iommu, gives it the guest's memory and rings,
 * and serves the requests the device hands it from a thread. The guest
 * then sends ATTACH, PROBE, MAP and UNMAP and prints what comes back.
 *
 * Then the in-kernel invalidation path: the VMM builds a nested HWPT on
 * the iommufd selftest mock (CONFIG_IOMMUFD_TEST), hands the iommufd to
 * the device and binds guest domain 1 to the HWPT. The guest's
 * INVALIDATE requests for domain 1 now reach the HWPT without the VMM,
 * which the mock's four IOTLB slots show.
 *
 * Last, page requests: the mock device is attached to a nested HWPT with
 * an iommufd fault queue, which the VMM hands to the device. A page
 * request the mock issues reaches the guest's event queue as a 48-byte
 * record, and the guest's PAGE_RESP goes back to iommufd, both without
 * the VMM.
 *
 * At the end, while the device is still open, the vhost-iommu CLI found
 * next to the demo shows the device and its counters over netlink (a note
 * instead if the CLI or the device's ID in fdinfo is missing). Exits
 * non-zero if anything is not as expected, the CLI's exit status included.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iommufd_mock.h"
#include "vhost_iommu_vmm.h"
#include "viommu_guest.h"

#define GUEST_BASE	0x40000000ULL
#define GUEST_SIZE	(2ULL << 20)
#define QUEUE_SIZE	64
#define PROBE_SIZE	256
#define MSI_START	0xfee00000ULL
#define MSI_END		0xfeefffffULL
#define INPUT_END	((1ULL << 48) - 1)
#define INVAL_ADDR	0x100000ULL
#define ENDPOINT	8
#define PR_PASID	1
#define PR_GROUP	2
#define PR_ADDR		0xdeadb000ULL

static int failures;

static void fail(const char *what, int err)
{
	printf("demo: FAILED: %s: %s\n", what, strerror(-err));
	failures++;
}

/* The VMM's answer to each request the device hands over. */
static __u32 vmm_handle(void *opaque, const struct vhi_slow_request *req,
			void *payload, __u32 payload_max,
			__u32 *payload_len)
{
	const struct virtio_iommu_req_attach *attach = req->data;
	const struct virtio_iommu_req_probe *probe = req->data;
	const struct virtio_iommu_req_unmap *unmap = req->data;
	const struct virtio_iommu_req_map *map = req->data;
	struct virtio_iommu_probe_resv_mem msi = {};

	switch (req->type) {
	case VIRTIO_IOMMU_T_ATTACH:
		printf("vmm: got ATTACH domain %u endpoint %u -> OK\n",
		       le32toh(attach->domain), le32toh(attach->endpoint));
		return VIRTIO_IOMMU_S_OK;
	case VIRTIO_IOMMU_T_PROBE:
		if (payload_max < sizeof(msi)) {
			printf("vmm: got PROBE endpoint %u with no room -> INVAL\n",
			       le32toh(probe->endpoint));
			return VIRTIO_IOMMU_S_INVAL;
		}
		msi.head.type = htole16(VIRTIO_IOMMU_PROBE_T_RESV_MEM);
		msi.head.length = htole16(sizeof(msi) - sizeof(msi.head));
		msi.subtype = VIRTIO_IOMMU_RESV_MEM_T_MSI;
		msi.start = htole64(MSI_START);
		msi.end = htole64(MSI_END);
		memcpy(payload, &msi, sizeof(msi));
		*payload_len = sizeof(msi);
		printf("vmm: got PROBE endpoint %u -> OK, RESV_MEM MSI %#llx-%#llx\n",
		       le32toh(probe->endpoint), MSI_START, MSI_END);
		return VIRTIO_IOMMU_S_OK;
	case VIRTIO_IOMMU_T_MAP:
		printf("vmm: got MAP domain %u iova %#llx-%#llx -> gpa %#llx flags %#x -> OK\n",
		       le32toh(map->domain),
		       (unsigned long long)le64toh(map->virt_start),
		       (unsigned long long)le64toh(map->virt_end),
		       (unsigned long long)le64toh(map->phys_start),
		       le32toh(map->flags));
		return VIRTIO_IOMMU_S_OK;
	case VIRTIO_IOMMU_T_UNMAP:
		printf("vmm: got UNMAP domain %u iova %#llx-%#llx -> OK\n",
		       le32toh(unmap->domain),
		       (unsigned long long)le64toh(unmap->virt_start),
		       (unsigned long long)le64toh(unmap->virt_end));
		return VIRTIO_IOMMU_S_OK;
	default:
		printf("vmm: got unexpected %s -> UNSUPP\n",
		       vhi_type_name(req->type));
		failures++;
		return VIRTIO_IOMMU_S_UNSUPP;
	}
}

/* Sends one request, waits for it and checks status and used length. */
static int guest_send(struct vg_vq *vq, const char *name, const void *body,
		      __u32 in_len, __u32 out_len, __u8 want,
		      struct vg_req *req)
{
	__u32 id, len;
	__u8 status;
	int ret;

	ret = vg_submit(vq, body, in_len, out_len, 0, req);
	if (ret) {
		fail("submit", ret);
		return ret;
	}
	ret = vg_wait_used(vq, VG_TIMEOUT_MS, &id, &len);
	if (ret) {
		printf("guest: %s got no answer within %d ms\n", name,
		       VG_TIMEOUT_MS);
		failures++;
		return ret;
	}
	vg_req_status(vq, req, &status);
	printf("guest: %s status %s (used len %u)\n", name,
	       vhi_status_name(status), len);
	if (id != req->head || len != out_len || status != want) {
		printf("guest: expected %s, used len %u, id %u; got id %u\n",
		       vhi_status_name(want), out_len, req->head, id);
		failures++;
		return -EIO;
	}
	return 0;
}

static void guest_print_probe(struct vg_vq *vq, const struct vg_req *req)
{
	struct virtio_iommu_probe_resv_mem prop;
	__u16 type;

	vg_read(vq->mem, req->out_gpa, &prop, sizeof(prop));
	type = le16toh(prop.head.type) & VIRTIO_IOMMU_PROBE_T_MASK;
	if (type != VIRTIO_IOMMU_PROBE_T_RESV_MEM ||
	    prop.subtype != VIRTIO_IOMMU_RESV_MEM_T_MSI ||
	    le64toh(prop.start) != MSI_START || le64toh(prop.end) != MSI_END) {
		printf("guest: PROBE property is not the MSI region (type %u)\n",
		       type);
		failures++;
		return;
	}
	printf("guest: PROBE property RESV_MEM MSI %#llx-%#llx\n",
	       (unsigned long long)le64toh(prop.start),
	       (unsigned long long)le64toh(prop.end));
}

static int vmm_setup(int fd, struct vg_mem *mem, struct vg_vq *rq,
		     struct vg_vq *eq)
{
	struct vhost_iommu_config cfg;
	struct vhi_vring_config vr;
	__u64 features;
	int ret;

	ret = vhi_set_owner(fd);
	if (!ret)
		ret = vhi_get_features(fd, &features);
	if (ret)
		return ret;
	printf("vmm: device offers features %#llx\n",
	       (unsigned long long)features);
	ret = vhi_set_features(fd, features);
	if (!ret)
		ret = vhi_set_mem_table(fd, mem->regions, mem->nr_regions);
	if (ret)
		return ret;

	vhi_config_default(&cfg);
	cfg.input_end = (1ULL << 48) - 1;
	cfg.domain_start = 1;
	cfg.domain_end = 1023;
	cfg.probe_size = PROBE_SIZE;
	ret = vhi_set_config(fd, &cfg);
	if (ret)
		return ret;

	vg_vq_vring_config(rq, &vr);
	ret = vhi_setup_vring(fd, VHOST_IOMMU_VQ_REQUEST, &vr);
	if (ret)
		return ret;
	vg_vq_vring_config(eq, &vr);
	ret = vhi_setup_vring(fd, VHOST_IOMMU_VQ_EVENT, &vr);
	if (ret)
		return ret;
	printf("vmm: guest memory %#llx-%#llx in %u regions, request queue of %u, probe_size %u\n",
	       (unsigned long long)mem->base,
	       (unsigned long long)(mem->base + mem->size - 1),
	       mem->nr_regions, rq->num, PROBE_SIZE);
	return 0;
}

static void guest_run(struct vg_vq *rq)
{
	struct virtio_iommu_req_attach attach = {};
	struct virtio_iommu_req_unmap unmap = {};
	struct virtio_iommu_req_probe probe = {};
	struct virtio_iommu_req_map map = {};
	struct vg_req req;

	attach.head.type = VIRTIO_IOMMU_T_ATTACH;
	attach.domain = htole32(1);
	attach.endpoint = htole32(8);
	if (guest_send(rq, "ATTACH", &attach, offsetof(typeof(attach), tail),
		       4, VIRTIO_IOMMU_S_OK, &req))
		return;

	probe.head.type = VIRTIO_IOMMU_T_PROBE;
	probe.endpoint = htole32(8);
	if (guest_send(rq, "PROBE", &probe, sizeof(probe), PROBE_SIZE + 4,
		       VIRTIO_IOMMU_S_OK, &req))
		return;
	guest_print_probe(rq, &req);

	map.head.type = VIRTIO_IOMMU_T_MAP;
	map.domain = htole32(1);
	map.virt_start = htole64(0x100000);
	map.virt_end = htole64(0x1fffff);
	map.phys_start = htole64(GUEST_BASE + 0x100000);
	map.flags = htole32(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE);
	if (guest_send(rq, "MAP", &map, offsetof(typeof(map), tail), 4,
		       VIRTIO_IOMMU_S_OK, &req))
		return;

	unmap.head.type = VIRTIO_IOMMU_T_UNMAP;
	unmap.domain = htole32(1);
	unmap.virt_start = htole64(0x100000);
	unmap.virt_end = htole64(0x1fffff);
	if (guest_send(rq, "UNMAP", &unmap, offsetof(typeof(unmap), tail), 4,
		       VIRTIO_IOMMU_S_OK, &req))
		return;
}

/*
 * Prints the four IOTLB slots of @hwpt and checks that those in @zeroed
 * (a bit mask) are 0 and the others still hold the initial value.
 */
static void vmm_show_iotlb(const struct imock_world *w, __u32 hwpt,
			   unsigned int zeroed)
{
	__u32 s[IMOCK_IOTLB_NUM];
	unsigned int i;
	int ret;

	ret = imock_read_iotlbs(w->fd, hwpt, s);
	if (ret) {
		fail("MD_CHECK_IOTLB", ret);
		return;
	}
	printf("vmm: mock IOTLB of HWPT %u: %#x %#x %#x %#x\n", hwpt,
	       s[0], s[1], s[2], s[3]);
	for (i = 0; i < IMOCK_IOTLB_NUM; i++) {
		if (s[i] != (zeroed & (1u << i) ? 0 : IMOCK_IOTLB_DEFAULT)) {
			printf("vmm: slot %u is not as expected\n", i);
			failures++;
		}
	}
}

/* The mock world, its iommufd given to the device, domain 1 bound. */
static int vmm_bind(int fd, struct imock_world *w)
{
	struct vhost_iommu_bind bind = {};
	int ret;

	ret = imock_world_init(w);
	if (ret) {
		fail("iommufd mock (needs /dev/iommu, CONFIG_IOMMUFD_TEST)",
		     ret);
		return ret;
	}
	printf("vmm: iommufd mock: IOAS %u, mock device %u, parent HWPT %u, nested HWPT %u\n",
	       w->ioas_id, w->idev_id, w->parent_id, w->nested_id);
	ret = vhi_set_iommufd(fd, w->fd);
	if (ret) {
		fail("SET_IOMMUFD", ret);
		return ret;
	}
	printf("vmm: SET_IOMMUFD -> OK\n");

	bind.domain = 1;
	bind.object_id = w->nested_id;
	bind.format = VHOST_IOMMU_INV_FORMAT_SELFTEST;
	bind.input_end = INPUT_END;
	bind.granule_log2 = 12;
	ret = vhi_bind_domain(fd, &bind);
	if (ret) {
		fail("BIND_DOMAIN", ret);
		return ret;
	}
	printf("vmm: BIND_DOMAIN domain 1 -> HWPT %u (SELFTEST format) -> OK\n",
	       w->nested_id);
	vmm_show_iotlb(w, w->nested_id, 0);
	return 0;
}

static void mk_inval(struct virtio_iommu_req_invalidate *r, __u32 domain,
		     __u8 scope)
{
	memset(r, 0, sizeof(*r));
	r->head.type = VIRTIO_IOMMU_T_INVALIDATE;
	r->scope = scope;
	r->caches = VIRTIO_IOMMU_INVAL_C_TLB;
	r->domain = htole32(domain);
}

static void guest_invalidate(struct vg_vq *rq, const struct imock_world *w)
{
	struct virtio_iommu_req_invalidate inval;
	struct vg_req req;
	__u32 in = offsetof(typeof(inval), tail);

	/* One page, with architecture ID 2: the mock's slot 2 only. */
	mk_inval(&inval, 1, VIRTIO_IOMMU_INVAL_S_ADDRESS);
	inval.flags = htole16(VIRTIO_IOMMU_INVAL_F_ID);
	inval.id = htole64(2);
	inval.address = htole64(INVAL_ADDR);
	inval.nr_pages = htole64(1);
	inval.page_size = 12;
	if (guest_send(rq, "INVALIDATE domain 1 ADDRESS id 2", &inval, in, 4,
		       VIRTIO_IOMMU_S_OK, &req))
		return;
	vmm_show_iotlb(w, w->nested_id, 1u << 2);

	mk_inval(&inval, 1, VIRTIO_IOMMU_INVAL_S_DOMAIN);
	if (guest_send(rq, "INVALIDATE domain 1 DOMAIN", &inval, in, 4,
		       VIRTIO_IOMMU_S_OK, &req))
		return;
	vmm_show_iotlb(w, w->nested_id, 0xf);

	/* Nothing is bound to domain 2: the device answers NOENT. */
	mk_inval(&inval, 2, VIRTIO_IOMMU_INVAL_S_DOMAIN);
	guest_send(rq, "INVALIDATE domain 2 (unbound)", &inval, in, 4,
		   VIRTIO_IOMMU_S_NOENT, &req);
}

/* A faulting nested HWPT for the mock device, its queue given to the device. */
static int vmm_fault_setup(int fd, struct imock_world *w, int *fault_fd)
{
	__u32 fault_id, hwpt;
	int ret;

	ret = imock_fault_alloc(w->fd, &fault_id, fault_fd);
	if (!ret)
		ret = imock_hwpt_alloc_nested(w->fd, w->idev_id, w->parent_id,
					      fault_id, &hwpt);
	if (!ret)
		ret = imock_domain_replace(w->fd, w->stdev_id, hwpt);
	if (ret) {
		fail("faulting HWPT (needs CONFIG_IOMMU_IOPF)", ret);
		return ret;
	}
	printf("vmm: fault queue %u, mock device %u attached to HWPT %u with it\n",
	       fault_id, w->idev_id, hwpt);
	ret = vhi_add_endpoint(fd, ENDPOINT, w->idev_id, 0);
	if (!ret)
		ret = vhi_set_fault_queue(fd, *fault_fd);
	if (ret) {
		fail("SET_ENDPOINT / SET_FAULT_QUEUE", ret);
		return ret;
	}
	printf("vmm: SET_ENDPOINT %u -> device %u, SET_FAULT_QUEUE -> OK\n",
	       ENDPOINT, w->idev_id);
	return 0;
}

static void guest_page_request(struct vg_vq *rq, struct vg_vq *eq,
			       const struct imock_world *w, int fault_fd)
{
	struct iommu_hwpt_page_response resp = {
		.cookie = 1,
		.code = IOMMUFD_PAGE_RESP_SUCCESS,
	};
	struct virtio_iommu_req_page_resp pr = {};
	struct virtio_iommu_page_req ev;
	struct vg_req buf, req;
	__u32 id, len;
	int ret;

	/* The guest's event buffers, sized for the 48-byte record. */
	ret = vg_post_writable(eq, sizeof(ev), 0, &buf);
	if (ret) {
		fail("event buffer", ret);
		return;
	}
	ret = imock_trigger_iopf(w->fd, w->idev_id, PR_PASID, PR_GROUP,
				 IOMMU_PGFAULT_PERM_READ |
				 IOMMU_PGFAULT_PERM_WRITE, PR_ADDR);
	if (ret) {
		fail("TRIGGER_IOPF", ret);
		return;
	}
	printf("host: mock device %u: page request PASID %u group %u %#llx rw\n",
	       w->idev_id, PR_PASID, PR_GROUP, PR_ADDR);
	ret = vg_wait_used(eq, VG_TIMEOUT_MS, &id, &len);
	if (ret || id != buf.head || len != sizeof(ev)) {
		printf("guest: no 48-byte page request event (ret %d, len %u)\n",
		       ret, len);
		failures++;
		return;
	}
	vg_read(eq->mem, buf.out_gpa, &ev, sizeof(ev));
	printf("guest: event: flags %#x endpoint %u PASID %u group %u address %#llx\n",
	       le32toh(ev.flags), le32toh(ev.endpoint), le32toh(ev.pasid),
	       le16toh(ev.group_id), (unsigned long long)le64toh(ev.address));
	if (!(le32toh(ev.flags) & VIRTIO_IOMMU_FAULT_F_PAGE_REQ) ||
	    le32toh(ev.endpoint) != ENDPOINT || le32toh(ev.pasid) != PR_PASID ||
	    le16toh(ev.group_id) != PR_GROUP ||
	    le64toh(ev.address) != PR_ADDR) {
		printf("guest: the event is not the page request\n");
		failures++;
		return;
	}

	pr.head.type = VIRTIO_IOMMU_T_PAGE_RESP;
	pr.endpoint = htole32(ENDPOINT);
	pr.flags = htole32(VIRTIO_IOMMU_PAGE_RESP_F_PASID);
	pr.pasid = htole32(PR_PASID);
	pr.grpid = htole32(PR_GROUP);
	pr.resp_code = htole16(VIRTIO_IOMMU_PAGE_RESP_SUCCESS);
	if (guest_send(rq, "PAGE_RESP SUCCESS", &pr, offsetof(typeof(pr), tail),
		       4, VIRTIO_IOMMU_S_OK, &req))
		return;
	/* iommufd took it: its cookie (the first, 1) is no longer open. */
	if (write(fault_fd, &resp, sizeof(resp)) != -1 || errno != EINVAL) {
		printf("vmm: iommufd still waited for the response\n");
		failures++;
		return;
	}
	printf("vmm: iommufd has the response: the group's cookie is closed\n");
	guest_send(rq, "PAGE_RESP again", &pr, offsetof(typeof(pr), tail), 4,
		   VIRTIO_IOMMU_S_INVAL, &req);
}

/* Runs "@cli @cmd @id", its output going where the demo's goes. */
static void vmm_run_cli(const char *cli, const char *cmd, unsigned int id)
{
	char arg[16];
	int status;
	pid_t pid;

	snprintf(arg, sizeof(arg), "%u", id);
	printf("vmm: vhost-iommu %s %s\n", cmd, arg);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fail("fork", -errno);
		return;
	}
	if (!pid) {
		execl(cli, "vhost-iommu", cmd, arg, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0) {
		fail("waitpid", -errno);
		return;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("demo: FAILED: vhost-iommu %s %s: status %#x\n", cmd, arg,
		       status);
		failures++;
	}
}

/* The device as a host operator sees it: the CLI beside this program. */
static void vmm_show_cli(int fd)
{
	static const char name[] = "vhost-iommu";
	char cli[PATH_MAX];
	unsigned int id;
	ssize_t len;
	char *slash;

	id = vhi_dev_id(fd);
	if (!id) {
		printf("vmm: no vhost-iommu-id in /proc/self/fdinfo/%d: CLI not run\n",
		       fd);
		return;
	}
	len = readlink("/proc/self/exe", cli, sizeof(cli) - sizeof(name));
	if (len < 0) {
		fail("readlink /proc/self/exe", -errno);
		return;
	}
	cli[len] = '\0';
	slash = strrchr(cli, '/');
	if (!slash)
		return;
	memcpy(slash + 1, name, sizeof(name));
	if (access(cli, X_OK)) {
		printf("vmm: device %u; no %s to show it with\n", id, cli);
		return;
	}
	vmm_run_cli(cli, "show", id);
	vmm_run_cli(cli, "stats", id);
}

int main(void)
{
	struct imock_world w = { .fd = -1 };
	struct vhi_server srv = {};
	struct vhost_iommu_stats st;
	struct vg_vq rq, eq;
	struct vg_mem mem;
	int fd, ret, fault_fd = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = vg_mem_init(&mem, GUEST_BASE, GUEST_SIZE, 2);
	if (ret) {
		fail("guest memory", ret);
		return 1;
	}
	ret = vg_vq_init(&rq, &mem, QUEUE_SIZE);
	if (!ret)
		ret = vg_vq_init(&eq, &mem, QUEUE_SIZE);
	if (ret) {
		fail("guest rings", ret);
		return 1;
	}

	fd = vhi_open();
	if (fd < 0) {
		fail("open " VHI_DEV_PATH, fd);
		return 1;
	}
	ret = vmm_setup(fd, &mem, &rq, &eq);
	if (ret) {
		fail("device setup", ret);
		return 1;
	}

	srv.fd = fd;
	srv.handle = vmm_handle;
	ret = vhi_server_start(&srv);
	if (ret) {
		fail("VMM thread", ret);
		return 1;
	}
	guest_run(&rq);
	if (!failures && !vmm_bind(fd, &w))
		guest_invalidate(&rq, &w);
	if (!failures && !vmm_fault_setup(fd, &w, &fault_fd))
		guest_page_request(&rq, &eq, &w, fault_fd);
	ret = vhi_server_stop(&srv);
	if (ret)
		fail("VMM thread", ret);

	ret = vhi_get_stats(fd, &st);
	if (ret) {
		fail("GET_STATS", ret);
	} else {
		printf("vmm: stats: %llu completed, %llu by the VMM, ",
		       (unsigned long long)st.out_requests,
		       (unsigned long long)st.out_slow_path);
		printf("%llu rejected, %llu malformed, %llu broken\n",
		       (unsigned long long)st.out_rejected,
		       (unsigned long long)st.out_malformed,
		       (unsigned long long)st.out_broken);
		printf("vmm: stats: %llu invalidations in %llu iommufd calls, %llu failed\n",
		       (unsigned long long)st.out_invalidations,
		       (unsigned long long)st.out_inval_batches,
		       (unsigned long long)st.out_inval_errors);
		printf("vmm: stats: %llu page requests, %llu responses, %llu by the device\n",
		       (unsigned long long)st.out_page_reqs,
		       (unsigned long long)st.out_page_resps,
		       (unsigned long long)st.out_page_req_invalid);
	}
	vmm_show_cli(fd);
	/* The device first: it holds a reference on the iommufd. */
	close(fd);
	if (fault_fd >= 0)
		close(fault_fd);
	imock_world_destroy(&w);
	vg_vq_destroy(&rq);
	vg_vq_destroy(&eq);
	vg_mem_destroy(&mem);
	printf("demo: %s\n", failures ? "FAILED" : "all steps as expected");
	return failures ? 1 : 0;
}
