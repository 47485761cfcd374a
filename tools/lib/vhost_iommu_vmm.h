/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The VMM side of /dev/vhost-iommu: thin wrappers around the vhost and
 * vhost-iommu ioctls, and a helper that serves the slow path (requests the
 * device hands to the VMM) from a thread.
 *
 * Every function returns 0 (or a non-negative value where documented) on
 * success and -errno on failure; none of them prints anything.
 */
#ifndef _VHOST_IOMMU_VMM_H
#define _VHOST_IOMMU_VMM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/vhost.h>
#include <linux/vhost_types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_iommu.h>
#include <linux/vhost_iommu.h>

#define VHI_DEV_PATH	"/dev/vhost-iommu"

/* What VHOST_GET_FEATURES offers, per the uAPI header. */
#define VHI_FEATURES_OFFERED					\
	((1ULL << VIRTIO_F_VERSION_1) |				\
	 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |		\
	 (1ULL << VIRTIO_RING_F_EVENT_IDX) |			\
	 (1ULL << VIRTIO_IOMMU_F_INPUT_RANGE) |			\
	 (1ULL << VIRTIO_IOMMU_F_DOMAIN_RANGE) |		\
	 (1ULL << VIRTIO_IOMMU_F_MAP_UNMAP) |			\
	 (1ULL << VIRTIO_IOMMU_F_PROBE) |			\
	 (1ULL << VIRTIO_IOMMU_F_MMIO) |			\
	 (1ULL << VIRTIO_IOMMU_F_BYPASS_CONFIG) |		\
	 (1ULL << VIRTIO_IOMMU_F_ATTACH_TABLE) |		\
	 (1ULL << VIRTIO_IOMMU_F_PAGE_REQ))

/**
 * struct vhi_vring_config - everything one virtqueue needs
 * @num: queue size
 * @desc: VMM virtual address of the descriptor table
 * @avail: VMM virtual address of the available ring
 * @used: VMM virtual address of the used ring
 * @base: first available index the device reads
 * @kick_fd: eventfd the guest kicks, or -1
 * @call_fd: eventfd the device signals, or -1
 * @err_fd: eventfd signalled when the queue breaks, or -1
 */
struct vhi_vring_config {
	unsigned int num;
	__u64 desc;
	__u64 avail;
	__u64 used;
	unsigned int base;
	int kick_fd;
	int call_fd;
	int err_fd;
};

/* Returns the open file descriptor or -errno. */
int vhi_open(void);

int vhi_set_owner(int fd);
int vhi_reset_owner(int fd);
int vhi_get_features(int fd, __u64 *features);
int vhi_set_features(int fd, __u64 features);
int vhi_get_backend_features(int fd, __u64 *features);
int vhi_set_backend_features(int fd, __u64 features);
int vhi_set_mem_table(int fd, const struct vhost_memory_region *regions,
		      unsigned int nr);

int vhi_set_vring_num(int fd, unsigned int idx, unsigned int num);
int vhi_set_vring_addr(int fd, unsigned int idx, __u64 desc,
		       __u64 avail, __u64 used, unsigned int flags);
int vhi_set_vring_base(int fd, unsigned int idx, unsigned int base);
int vhi_get_vring_base(int fd, unsigned int idx, unsigned int *base);
int vhi_set_vring_kick(int fd, unsigned int idx, int efd);
int vhi_set_vring_call(int fd, unsigned int idx, int efd);
int vhi_set_vring_err(int fd, unsigned int idx, int efd);
int vhi_set_vring_busyloop(int fd, unsigned int idx, unsigned int usecs);
int vhi_get_vring_busyloop(int fd, unsigned int idx, unsigned int *usecs);

/* Size, addresses, base, then the three eventfds. */
int vhi_setup_vring(int fd, unsigned int idx,
		    const struct vhi_vring_config *cfg);

/* The values the device assumes until VHOST_IOMMU_SET_CONFIG. */
void vhi_config_default(struct vhost_iommu_config *cfg);
/* Fills in cfg->size; leaves the rest as given. */
int vhi_set_config(int fd, struct vhost_iommu_config *cfg);

/*
 * VHOST_IOMMU_GET_REQUEST into @buf; @req's out_ fields are filled. Gives
 * -EAGAIN when no request waits.
 */
int vhi_get_request(int fd, struct vhost_iommu_request *req, void *buf,
		    __u32 buf_len);
/* Waits for POLLIN: 1 when readable, 0 on timeout, or -errno. */
int vhi_poll_request(int fd, int timeout_ms);
/*
 * Like vhi_get_request() but retries until a request is there or
 * @timeout_ms passed (-ETIMEDOUT).
 */
int vhi_wait_request(int fd, struct vhost_iommu_request *req, void *buf,
		     __u32 buf_len, int timeout_ms);
int vhi_complete_request(int fd, __u64 cookie, __u32 status,
			 const void *payload, __u32 payload_len);

int vhi_get_stats(int fd, struct vhost_iommu_stats *stats);
int vhi_reset_device(int fd);
/* VHOST_IOMMU_GET_INFO: what the module can do on this kernel. */
int vhi_get_info(int fd, struct vhost_iommu_info *info);
/* The device's netlink ID, from /proc/self/fdinfo/@fd; 0 if not shown. */
__u32 vhi_dev_id(int fd);

/* VHOST_IOMMU_SET_IOMMUFD; @iommufd -1 lets go of the current one. */
int vhi_set_iommufd(int fd, int iommufd);
/* An iommufd fault queue fd whose page requests go to the guest, or -1. */
int vhi_set_fault_queue(int fd, int fault_fd);
/*
 * VHOST_IOMMU_POST_EVENT: a fault report (VIRTIO_IOMMU_FAULT_R_*,
 * VIRTIO_IOMMU_FAULT_F_*) into the guest's event queue. @address counts
 * only with VIRTIO_IOMMU_FAULT_F_ADDRESS in @flags (pass 0 otherwise).
 */
int vhi_post_event(int fd, __u8 reason, __u32 flags, __u32 endpoint,
		   __u64 address);
/* VHOST_IOMMU_SET_ENDPOINT without and with VHOST_IOMMU_ENDPOINT_F_REMOVE. */
int vhi_add_endpoint(int fd, __u32 endpoint, __u32 dev_id, __u64 virt_id);
int vhi_remove_endpoint(int fd, __u32 endpoint);
/* VHOST_IOMMU_BIND_DOMAIN; fills in @bind->size, leaves the rest as given. */
int vhi_bind_domain(int fd, struct vhost_iommu_bind *bind);
/*
 * VHOST_IOMMU_BIND_DOMAIN with VHOST_IOMMU_BIND_F_UNBIND: the domain's
 * binding, or that of one PASID when @flags has VHOST_IOMMU_BIND_F_PASID.
 */
int vhi_unbind_domain(int fd, __u32 domain, __u32 flags, __u32 pasid);

/**
 * struct vhi_slow_request - a request handed to the VMM
 * @cookie: for VHOST_IOMMU_COMPLETE_REQUEST
 * @type: VIRTIO_IOMMU_T_*
 * @readable_len: bytes at @data
 * @writable_len: the guest's writable size, tail included
 * @data: the request's device-readable part, head included
 */
struct vhi_slow_request {
	__u64 cookie;
	__u32 type;
	__u32 readable_len;
	__u32 writable_len;
	const void *data;
};

/* Largest readable part of any request type, with room to spare. */
#define VHI_REQ_BUF_SIZE	512

/**
 * struct vhi_server - serves the slow path
 * @fd: the device
 * @handle: called for each request; returns the VIRTIO_IOMMU_S_* status.
 *          For a PROBE with status S_OK it may write up to @payload_max
 *          bytes of properties to @payload and set *@payload_len.
 * @opaque: passed to @handle
 * @poll_ms: how long one wait lasts before @stop is looked at again
 * @stop: set by vhi_server_stop()
 * @served: requests completed so far
 * @error: the -errno that ended the thread, or 0
 * @thread: the serving thread
 *
 * Set @fd, @handle and @opaque (the rest zeroed), then vhi_server_start().
 */
struct vhi_server {
	int fd;
	__u32 (*handle)(void *opaque, const struct vhi_slow_request *req,
			void *payload, __u32 payload_max,
			__u32 *payload_len);
	void *opaque;
	int poll_ms;
	int stop;
	__u64 served;
	int error;
	pthread_t thread;
};

/*
 * Waits up to @timeout_ms for one request and serves it: 1 when one was
 * completed, 0 when none came, -errno on failure.
 */
int vhi_serve_one(struct vhi_server *srv, int timeout_ms);
int vhi_server_start(struct vhi_server *srv);
/* Stops and joins the thread; returns its error. */
int vhi_server_stop(struct vhi_server *srv);

/* Name of a request type and of a status, for messages. */
const char *vhi_type_name(__u32 type);
const char *vhi_status_name(__u32 status);

#endif /* _VHOST_IOMMU_VMM_H */
