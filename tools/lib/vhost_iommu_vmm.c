// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VMM side of /dev/vhost-iommu. See vhost_iommu_vmm.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vhost_iommu_vmm.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

static int vhi_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

int vhi_open(void)
{
	int fd = open(VHI_DEV_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int vhi_set_owner(int fd)
{
	return vhi_ioctl(fd, VHOST_SET_OWNER, NULL);
}

int vhi_reset_owner(int fd)
{
	return vhi_ioctl(fd, VHOST_RESET_OWNER, NULL);
}

int vhi_get_features(int fd, __u64 *features)
{
	return vhi_ioctl(fd, VHOST_GET_FEATURES, features);
}

int vhi_set_features(int fd, __u64 features)
{
	return vhi_ioctl(fd, VHOST_SET_FEATURES, &features);
}

int vhi_get_backend_features(int fd, __u64 *features)
{
	return vhi_ioctl(fd, VHOST_GET_BACKEND_FEATURES, features);
}

int vhi_set_backend_features(int fd, __u64 features)
{
	return vhi_ioctl(fd, VHOST_SET_BACKEND_FEATURES, &features);
}

int vhi_set_mem_table(int fd, const struct vhost_memory_region *regions,
		      unsigned int nr)
{
	struct vhost_memory *mem;
	int ret;

	mem = calloc(1, sizeof(*mem) + nr * sizeof(mem->regions[0]));
	if (!mem)
		return -ENOMEM;
	mem->nregions = nr;
	if (nr)
		memcpy(mem->regions, regions, nr * sizeof(mem->regions[0]));
	ret = vhi_ioctl(fd, VHOST_SET_MEM_TABLE, mem);
	free(mem);
	return ret;
}

int vhi_set_vring_num(int fd, unsigned int idx, unsigned int num)
{
	struct vhost_vring_state s = { .index = idx, .num = num };

	return vhi_ioctl(fd, VHOST_SET_VRING_NUM, &s);
}

int vhi_set_vring_addr(int fd, unsigned int idx, __u64 desc,
		       __u64 avail, __u64 used, unsigned int flags)
{
	struct vhost_vring_addr a = {
		.index = idx,
		.flags = flags,
		.desc_user_addr = desc,
		.used_user_addr = used,
		.avail_user_addr = avail,
	};

	return vhi_ioctl(fd, VHOST_SET_VRING_ADDR, &a);
}

int vhi_set_vring_base(int fd, unsigned int idx, unsigned int base)
{
	struct vhost_vring_state s = { .index = idx, .num = base };

	return vhi_ioctl(fd, VHOST_SET_VRING_BASE, &s);
}

int vhi_get_vring_base(int fd, unsigned int idx, unsigned int *base)
{
	struct vhost_vring_state s = { .index = idx };
	int ret;

	ret = vhi_ioctl(fd, VHOST_GET_VRING_BASE, &s);
	if (!ret)
		*base = s.num;
	return ret;
}

/* Microseconds the worker busy-polls queue @idx before sleeping; 0: never. */
int vhi_set_vring_busyloop(int fd, unsigned int idx, unsigned int usecs)
{
	struct vhost_vring_state s = { .index = idx, .num = usecs };

	return vhi_ioctl(fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);
}

int vhi_get_vring_busyloop(int fd, unsigned int idx, unsigned int *usecs)
{
	struct vhost_vring_state s = { .index = idx };
	int ret;

	ret = vhi_ioctl(fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s);
	if (!ret)
		*usecs = s.num;
	return ret;
}

static int vhi_set_vring_file(int fd, unsigned long cmd, unsigned int idx,
			      int efd)
{
	struct vhost_vring_file f = { .index = idx, .fd = efd };

	return vhi_ioctl(fd, cmd, &f);
}

int vhi_set_vring_kick(int fd, unsigned int idx, int efd)
{
	return vhi_set_vring_file(fd, VHOST_SET_VRING_KICK, idx, efd);
}

int vhi_set_vring_call(int fd, unsigned int idx, int efd)
{
	return vhi_set_vring_file(fd, VHOST_SET_VRING_CALL, idx, efd);
}

int vhi_set_vring_err(int fd, unsigned int idx, int efd)
{
	return vhi_set_vring_file(fd, VHOST_SET_VRING_ERR, idx, efd);
}

int vhi_setup_vring(int fd, unsigned int idx,
		    const struct vhi_vring_config *cfg)
{
	int ret;

	/*
	 * The base before the address: a device reset keeps the kick, so a
	 * queue can run as soon as its address is set, and must start at
	 * the base then.
	 */
	ret = vhi_set_vring_num(fd, idx, cfg->num);
	if (!ret)
		ret = vhi_set_vring_base(fd, idx, cfg->base);
	if (!ret)
		ret = vhi_set_vring_addr(fd, idx, cfg->desc, cfg->avail,
					 cfg->used, 0);
	/* The kick last: it is what lets the queue run. */
	if (!ret)
		ret = vhi_set_vring_call(fd, idx, cfg->call_fd);
	if (!ret)
		ret = vhi_set_vring_err(fd, idx, cfg->err_fd);
	if (!ret)
		ret = vhi_set_vring_kick(fd, idx, cfg->kick_fd);
	return ret;
}

void vhi_config_default(struct vhost_iommu_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
	cfg->page_size_mask = 0x1000;
	cfg->input_end = UINT64_MAX;
	cfg->domain_end = UINT32_MAX;
}

int vhi_set_config(int fd, struct vhost_iommu_config *cfg)
{
	cfg->size = sizeof(*cfg);
	return vhi_ioctl(fd, VHOST_IOMMU_SET_CONFIG, cfg);
}

int vhi_get_request(int fd, struct vhost_iommu_request *req, void *buf,
		    __u32 buf_len)
{
	memset(req, 0, sizeof(*req));
	req->size = sizeof(*req);
	req->buf_len = buf_len;
	req->buf_uptr = (uintptr_t)buf;
	return vhi_ioctl(fd, VHOST_IOMMU_GET_REQUEST, req);
}

int vhi_poll_request(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ret;

	ret = poll(&p, 1, timeout_ms);
	if (ret < 0)
		return -errno;
	return ret && (p.revents & POLLIN);
}

static __s64 vhi_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int vhi_wait_request(int fd, struct vhost_iommu_request *req, void *buf,
		     __u32 buf_len, int timeout_ms)
{
	__s64 end = vhi_now_ms() + timeout_ms;
	__s64 left;
	int ret;

	for (;;) {
		ret = vhi_get_request(fd, req, buf, buf_len);
		if (ret != -EAGAIN)
			return ret;
		left = end - vhi_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		/*
		 * poll() alone could spin if the file reports POLLIN before
		 * the request is ready, so sleep a little either way.
		 */
		ret = vhi_poll_request(fd, left < 20 ? (int)left : 20);
		if (ret < 0)
			return ret;
		if (ret)
			usleep(1000);
	}
}

int vhi_complete_request(int fd, __u64 cookie, __u32 status,
			 const void *payload, __u32 payload_len)
{
	struct vhost_iommu_completion c = {
		.size = sizeof(c),
		.cookie = cookie,
		.status = status,
		.payload_len = payload_len,
		.payload_uptr = (uintptr_t)payload,
	};

	return vhi_ioctl(fd, VHOST_IOMMU_COMPLETE_REQUEST, &c);
}

int vhi_get_stats(int fd, struct vhost_iommu_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	stats->size = sizeof(*stats);
	return vhi_ioctl(fd, VHOST_IOMMU_GET_STATS, stats);
}

int vhi_get_info(int fd, struct vhost_iommu_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return vhi_ioctl(fd, VHOST_IOMMU_GET_INFO, info);
}

__u32 vhi_dev_id(int fd)
{
	static const char key[] = "\nvhost-iommu-id:\t";
	char path[64], buf[1024], *p, *end;
	unsigned long v;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return 0;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strstr(buf, key);
	if (!p || !isdigit((unsigned char)p[sizeof(key) - 1]))
		return 0;
	v = strtoul(p + sizeof(key) - 1, &end, 10);
	if (*end != '\n' || !v || v > 0xffffffffUL)
		return 0;
	return v;
}

int vhi_reset_device(int fd)
{
	return vhi_ioctl(fd, VHOST_IOMMU_RESET_DEVICE, NULL);
}

int vhi_set_iommufd(int fd, int iommufd)
{
	struct vhost_iommu_iommufd a = { .size = sizeof(a), .iommufd = iommufd };

	return vhi_ioctl(fd, VHOST_IOMMU_SET_IOMMUFD, &a);
}

int vhi_set_fault_queue(int fd, int fault_fd)
{
	struct vhost_iommu_fault_queue a = {
		.size = sizeof(a),
		.fault_fd = fault_fd,
	};

	return vhi_ioctl(fd, VHOST_IOMMU_SET_FAULT_QUEUE, &a);
}

int vhi_post_event(int fd, __u8 reason, __u32 flags, __u32 endpoint,
		   __u64 address)
{
	struct vhost_iommu_fault_report a = {
		.size = sizeof(a),
		.reason = reason,
		.fault_flags = flags,
		.endpoint = endpoint,
		.address = address,
	};

	return vhi_ioctl(fd, VHOST_IOMMU_POST_EVENT, &a);
}

static int vhi_set_endpoint(int fd, __u32 flags, __u32 endpoint,
			    __u32 dev_id, __u64 virt_id)
{
	struct vhost_iommu_endpoint e = {
		.size = sizeof(e),
		.flags = flags,
		.endpoint = endpoint,
		.dev_id = dev_id,
		.virt_id = virt_id,
	};

	return vhi_ioctl(fd, VHOST_IOMMU_SET_ENDPOINT, &e);
}

int vhi_add_endpoint(int fd, __u32 endpoint, __u32 dev_id, __u64 virt_id)
{
	return vhi_set_endpoint(fd, 0, endpoint, dev_id, virt_id);
}

int vhi_remove_endpoint(int fd, __u32 endpoint)
{
	return vhi_set_endpoint(fd, VHOST_IOMMU_ENDPOINT_F_REMOVE, endpoint,
				0, 0);
}

int vhi_bind_domain(int fd, struct vhost_iommu_bind *bind)
{
	bind->size = sizeof(*bind);
	return vhi_ioctl(fd, VHOST_IOMMU_BIND_DOMAIN, bind);
}

int vhi_unbind_domain(int fd, __u32 domain, __u32 flags, __u32 pasid)
{
	struct vhost_iommu_bind b = {
		.size = sizeof(b),
		.flags = flags | VHOST_IOMMU_BIND_F_UNBIND,
		.domain = domain,
		.pasid = pasid,
	};

	return vhi_ioctl(fd, VHOST_IOMMU_BIND_DOMAIN, &b);
}

int vhi_serve_one(struct vhi_server *srv, int timeout_ms)
{
	struct vhi_slow_request sreq;
	struct vhost_iommu_request req;
	__u8 buf[VHI_REQ_BUF_SIZE];
	__u32 payload_len = 0;
	__u32 payload_max = 0;
	__u8 *payload = NULL;
	__u32 status;
	int ret;

	ret = vhi_poll_request(srv->fd, timeout_ms);
	if (ret <= 0)
		return ret;
	ret = vhi_get_request(srv->fd, &req, buf, sizeof(buf));
	if (ret == -EAGAIN)
		return 0;
	if (ret)
		return ret;

	if (req.out_type == VIRTIO_IOMMU_T_PROBE && req.out_writable_len > 4) {
		payload_max = req.out_writable_len - 4;
		payload = calloc(1, payload_max);
		if (!payload)
			return -ENOMEM;
	}
	sreq.cookie = req.out_cookie;
	sreq.type = req.out_type;
	sreq.readable_len = req.out_readable_len;
	sreq.writable_len = req.out_writable_len;
	sreq.data = buf;
	status = srv->handle(srv->opaque, &sreq, payload, payload_max,
			     &payload_len);
	if (payload_len > payload_max)
		payload_len = payload_max;
	ret = vhi_complete_request(srv->fd, req.out_cookie, status,
				   payload_len ? payload : NULL, payload_len);
	free(payload);
	if (ret)
		return ret;
	srv->served++;
	return 1;
}

static void *vhi_server_main(void *arg)
{
	struct vhi_server *srv = arg;
	int ret;

	while (!__atomic_load_n(&srv->stop, __ATOMIC_ACQUIRE)) {
		ret = vhi_serve_one(srv, srv->poll_ms);
		if (ret < 0) {
			srv->error = ret;
			break;
		}
		/* A file that reports POLLIN with nothing to get: back off. */
		if (!ret)
			usleep(1000);
	}
	return NULL;
}

int vhi_server_start(struct vhi_server *srv)
{
	int ret;

	if (!srv->poll_ms)
		srv->poll_ms = 50;
	srv->stop = 0;
	srv->error = 0;
	ret = pthread_create(&srv->thread, NULL, vhi_server_main, srv);
	return -ret;
}

int vhi_server_stop(struct vhi_server *srv)
{
	__atomic_store_n(&srv->stop, 1, __ATOMIC_RELEASE);
	pthread_join(srv->thread, NULL);
	return srv->error;
}

const char *vhi_type_name(__u32 type)
{
	static const char * const names[] = {
		[VIRTIO_IOMMU_T_ATTACH] = "ATTACH",
		[VIRTIO_IOMMU_T_DETACH] = "DETACH",
		[VIRTIO_IOMMU_T_MAP] = "MAP",
		[VIRTIO_IOMMU_T_UNMAP] = "UNMAP",
		[VIRTIO_IOMMU_T_PROBE] = "PROBE",
		[VIRTIO_IOMMU_T_ATTACH_TABLE] = "ATTACH_TABLE",
		[VIRTIO_IOMMU_T_INVALIDATE] = "INVALIDATE",
		[VIRTIO_IOMMU_T_PAGE_RESP] = "PAGE_RESP",
	};

	if (type < ARRAY_SIZE(names) && names[type])
		return names[type];
	return "UNKNOWN";
}

const char *vhi_status_name(__u32 status)
{
	static const char * const names[] = {
		[VIRTIO_IOMMU_S_OK] = "OK",
		[VIRTIO_IOMMU_S_IOERR] = "IOERR",
		[VIRTIO_IOMMU_S_UNSUPP] = "UNSUPP",
		[VIRTIO_IOMMU_S_DEVERR] = "DEVERR",
		[VIRTIO_IOMMU_S_INVAL] = "INVAL",
		[VIRTIO_IOMMU_S_RANGE] = "RANGE",
		[VIRTIO_IOMMU_S_NOENT] = "NOENT",
		[VIRTIO_IOMMU_S_FAULT] = "FAULT",
		[VIRTIO_IOMMU_S_NOMEM] = "NOMEM",
	};

	if (status < ARRAY_SIZE(names))
		return names[status];
	return "?";
}
