/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhost-iommu: in-kernel virtio-iommu backend.
 *
 * This header holds what a VMM and a guest driver need beyond
 * <linux/virtio_iommu.h> and <linux/vhost.h>: the virtio-iommu extension
 * wire formats the device implements behind private feature bits. They
 * follow the "v1.7" ATTACH_TABLE draft, which was never standardized; a
 * future standard layout would come with a different feature bit.
 *
 * All multi-byte fields of guest-visible structures are little-endian.
 */
#ifndef _UAPI_LINUX_VHOST_IOMMU_H
#define _UAPI_LINUX_VHOST_IOMMU_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vhost.h>
#include <linux/virtio_iommu.h>

/*
 * Private virtio-iommu feature bits. Bits 0-6 are standard
 * (INPUT_RANGE ... BYPASS_CONFIG).
 */

/* ATTACH_TABLE (type 6) and INVALIDATE (type 7) requests are available. */
#define VIRTIO_IOMMU_F_ATTACH_TABLE	7
/*
 * Page requests are reported in 48-byte event records and answered with
 * PAGE_RESP (type 8) requests. Needs event buffers of at least 48 bytes.
 */
#define VIRTIO_IOMMU_F_PAGE_REQ		8

/* Extension request types */
#define VIRTIO_IOMMU_T_ATTACH_TABLE	6
#define VIRTIO_IOMMU_T_INVALIDATE	7
#define VIRTIO_IOMMU_T_PAGE_RESP	8

/* Table formats of ATTACH_TABLE */
#define VIRTIO_IOMMU_ATTACH_TABLE_ARM_SMMU3	0x1
#define VIRTIO_IOMMU_ATTACH_TABLE_INTEL_PT	0x2
#define VIRTIO_IOMMU_ATTACH_TABLE_RISCV		0x4
#define VIRTIO_IOMMU_ATTACH_TABLE_AMD_GCR3	0x5
#define VIRTIO_IOMMU_ATTACH_TABLE_AMD_PT	0x6

/**
 * struct virtio_iommu_req_attach_table - ATTACH_TABLE request (128 bytes)
 * @head: request header, type %VIRTIO_IOMMU_T_ATTACH_TABLE
 * @domain: guest domain ID
 * @endpoint: guest endpoint ID
 * @format: table format, one of VIRTIO_IOMMU_ATTACH_TABLE_*
 * @descriptor: format-specific table descriptor; the kernel passes it to
 *              the VMM unread
 * @tail: request tail with the status
 *
 * Attaches @endpoint to @domain, whose translation is described by a table
 * the guest owns. vhost-iommu hands this request to the VMM, which creates
 * the nested HWPT and binds it.
 */
struct virtio_iommu_req_attach_table {
	struct virtio_iommu_req_head head;
	__le32 domain;
	__le32 endpoint;
	__u8 format;
	__u8 descriptor[111];
	struct virtio_iommu_req_tail tail;
};

/* INVALIDATE scope (an enumeration) */
#define VIRTIO_IOMMU_INVAL_S_DOMAIN	0x1
#define VIRTIO_IOMMU_INVAL_S_PASID	0x2
#define VIRTIO_IOMMU_INVAL_S_ADDRESS	0x3

/* INVALIDATE caches (a bit field) */
#define VIRTIO_IOMMU_INVAL_C_PASID	(1 << 0)
#define VIRTIO_IOMMU_INVAL_C_TLB	(1 << 1)

/* INVALIDATE flags */
#define VIRTIO_IOMMU_INVAL_F_LEAF	(1 << 0)
#define VIRTIO_IOMMU_INVAL_F_PASID	(1 << 1)
#define VIRTIO_IOMMU_INVAL_F_ID		(1 << 2)
#define VIRTIO_IOMMU_INVAL_F_GLOBAL	(1 << 3)

/**
 * struct virtio_iommu_req_invalidate - INVALIDATE request (64 bytes)
 * @head: request header, type %VIRTIO_IOMMU_T_INVALIDATE
 * @scope: VIRTIO_IOMMU_INVAL_S_DOMAIN, _S_PASID or _S_ADDRESS
 * @caches: VIRTIO_IOMMU_INVAL_C_* caches to invalidate; C_TLB includes
 *          device TLBs (ATS)
 * @flags: VIRTIO_IOMMU_INVAL_F_*
 * @domain: guest domain ID
 * @pasid: PASID, valid with %VIRTIO_IOMMU_INVAL_F_PASID
 * @id: architecture ID (for example an Arm ASID), valid with
 *      %VIRTIO_IOMMU_INVAL_F_ID
 * @address: first address of the range (scope ADDRESS)
 * @nr_pages: number of pages of 2^@page_size bytes (scope ADDRESS)
 * @page_size: log2 of the page size (scope ADDRESS)
 * @reserved: must be zero
 * @tail: request tail with the status
 *
 * Guests may round a range up to a power of two or widen it; the device
 * honours any range and crops it to the domain's input range.
 */
struct virtio_iommu_req_invalidate {
	struct virtio_iommu_req_head head;
	__u8 scope;
	__u8 caches;
	__le16 flags;
	__le32 domain;
	__le32 pasid;
	__le64 id;
	__le64 address;
	__le64 nr_pages;
	__u8 page_size;
	__u8 reserved[19];
	struct virtio_iommu_req_tail tail;
};

/* PAGE_RESP flags and response codes */
#define VIRTIO_IOMMU_PAGE_RESP_F_PASID	(1 << 0)
#define VIRTIO_IOMMU_PAGE_RESP_SUCCESS	0x0
#define VIRTIO_IOMMU_PAGE_RESP_INVALID	0x1
#define VIRTIO_IOMMU_PAGE_RESP_FAILURE	0x2

/**
 * struct virtio_iommu_req_page_resp - PAGE_RESP request (40 bytes)
 * @head: request header, type %VIRTIO_IOMMU_T_PAGE_RESP
 * @domain: ignored by the device
 * @endpoint: endpoint that issued the page request
 * @flags: %VIRTIO_IOMMU_PAGE_RESP_F_PASID when @pasid is valid
 * @pasid: PASID of the page request group
 * @grpid: page request group ID
 * @resp_code: VIRTIO_IOMMU_PAGE_RESP_SUCCESS, _INVALID or _FAILURE
 * @reserved: must be zero
 * @tail: request tail with the status
 *
 * Answers every page request of the group @grpid of @endpoint (and @pasid).
 */
struct virtio_iommu_req_page_resp {
	struct virtio_iommu_req_head head;
	__le32 domain;
	__le32 endpoint;
	__le32 flags;
	__le32 pasid;
	__le32 grpid;
	__le16 resp_code;
	__u8 reserved[10];
	struct virtio_iommu_req_tail tail;
};

/* Event flags beyond the standard READ/WRITE/EXEC/ADDRESS */
#define VIRTIO_IOMMU_FAULT_F_PRIVILEGED	(1 << 3)
#define VIRTIO_IOMMU_FAULT_F_LAST	(1 << 4)
#define VIRTIO_IOMMU_FAULT_F_PAGE_REQ	(1 << 5)
#define VIRTIO_IOMMU_FAULT_F_PASID	(1 << 9)
#define VIRTIO_IOMMU_FAULT_F_GROUP_ID	(1 << 10)

/**
 * struct virtio_iommu_page_req - page request event (48 bytes)
 * @reason: fault reason, VIRTIO_IOMMU_FAULT_R_*
 * @reserved: zero
 * @flags: VIRTIO_IOMMU_FAULT_F_*; page requests carry
 *         %VIRTIO_IOMMU_FAULT_F_PAGE_REQ
 * @endpoint: endpoint that issued the request
 * @pasid: PASID, valid with %VIRTIO_IOMMU_FAULT_F_PASID
 * @address: faulting address, valid with %VIRTIO_IOMMU_FAULT_F_ADDRESS
 * @group_id: page request group ID, valid with
 *            %VIRTIO_IOMMU_FAULT_F_GROUP_ID
 * @reserved1: zero
 * @private_data: zero
 *
 * The first 24 bytes are laid out as the standard fault report
 * (struct virtio_iommu_fault), so a driver that reads only those finds
 * the endpoint where it expects it.
 */
struct virtio_iommu_page_req {
	__u8 reason;
	__u8 reserved[3];
	__le32 flags;
	__le32 endpoint;
	__le32 pasid;
	__le64 address;
	__le16 group_id;
	__u8 reserved1[6];
	__le64 private_data[2];
};

/*
 * The VMM interface.
 *
 * A VMM drives /dev/vhost-iommu with the standard vhost ioctls of
 * <linux/vhost.h> (VHOST_SET_OWNER, VHOST_RESET_OWNER, VHOST_GET_FEATURES,
 * VHOST_SET_FEATURES, VHOST_GET_BACKEND_FEATURES, VHOST_SET_BACKEND_FEATURES,
 * VHOST_SET_MEM_TABLE, VHOST_SET_VRING_NUM, VHOST_SET_VRING_ADDR,
 * VHOST_SET_VRING_BASE, VHOST_GET_VRING_BASE, VHOST_SET_VRING_KICK,
 * VHOST_SET_VRING_CALL, VHOST_SET_VRING_ERR,
 * VHOST_SET_VRING_BUSYLOOP_TIMEOUT, VHOST_GET_VRING_BUSYLOOP_TIMEOUT) plus
 * the ioctls below.
 *
 * Only VHOST_GET_FEATURES, VHOST_GET_BACKEND_FEATURES and VHOST_SET_OWNER
 * work before an owner is set; every other ioctl fails with -EPERM unless
 * the caller shares the owner's address space, at once, whatever the
 * owner is doing. An owner's ioctl that waits for another one or for the
 * worker gives up with -EINTR on a fatal signal. The worker is a thread
 * of the owner's process: once that process is killed or calls execve(),
 * the device serves nothing more (kicks through eventfds that live on are
 * ignored) and only closing the last file releases it.
 *
 * The vhost-iommu ioctls take an extensible struct whose first field is
 * its size in bytes, as iommufd's do:
 *
 * - a size shorter than the first version of the struct: -EINVAL;
 * - a longer size whose extra bytes are not all zero: -E2BIG;
 * - an unknown flag or a non-zero reserved field: -EOPNOTSUPP;
 * - a bad user pointer: -EFAULT.
 */

/*
 * Features. VHOST_GET_FEATURES offers VIRTIO_F_VERSION_1,
 * VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX and the device
 * features INPUT_RANGE, DOMAIN_RANGE, MAP_UNMAP, PROBE, MMIO,
 * BYPASS_CONFIG, ATTACH_TABLE and PAGE_REQ. VHOST_SET_FEATURES fails with
 * -EOPNOTSUPP for a bit outside that set and -EINVAL without
 * VIRTIO_F_VERSION_1 (virtio-iommu has no legacy interface). Backend
 * features: VHOST_GET_BACKEND_FEATURES offers
 * 1 << VHOST_IOMMU_BACKEND_F_PERSIST; VHOST_SET_BACKEND_FEATURES fails with
 * -EOPNOTSUPP for any other bit.
 *
 * The rings. Virtqueue 0 is the request queue, 1 the event queue. Ring
 * addresses (VHOST_SET_VRING_ADDR) are VMM virtual addresses, aligned as
 * the split ring needs (descriptors 16, available ring 2, used ring 4);
 * buffer addresses in descriptors are guest-physical, translated through
 * VHOST_SET_MEM_TABLE. The kick, call and err files must be eventfds
 * (-EINVAL otherwise, -EBADF for a bad descriptor; -1 unbinds). A bad
 * queue index gives -ENOBUFS. A queue runs once features are set and the
 * queue has a size, addresses and a kick eventfd, unless the device is
 * stopped (VHOST_IOMMU_SET_RUNNING). Once the device was started with
 * VHOST_IOMMU_SET_RUNNING 1, VHOST_SET_VRING_NUM, VHOST_SET_VRING_ADDR and
 * VHOST_SET_VRING_BASE fail with -EBUSY on a running queue, as vhost's
 * do: stop the device first. While a slow-path request is parked and the
 * device is not stopped, VHOST_SET_VRING_NUM and VHOST_SET_VRING_ADDR of
 * the request queue and VHOST_SET_MEM_TABLE fail with -EBUSY (the request
 * is answered on the ring and the buffers it was found in). Otherwise
 * VHOST_SET_MEM_TABLE may be called while the device runs.
 *
 * Stopping and restoring. VHOST_GET_VRING_BASE of the request queue
 * returns the index of the first request not completed: a request parked
 * for the VMM counts as not taken. On a stopped device, VHOST_SET_VRING_NUM,
 * VHOST_SET_VRING_ADDR, VHOST_SET_VRING_BASE of the request queue and
 * VHOST_SET_MEM_TABLE put a parked request back (its cookie goes stale
 * and VHOST_IOMMU_COMPLETE_REQUEST of it fails with -ENOENT): the device
 * reads it again when it runs. A VMM that stops, saves the base and later
 * restores it therefore loses no request, and one that completes the
 * parked request before saving the base sees it counted as done. Without
 * a stop, VHOST_SET_VRING_BASE also puts a parked request back. After
 * VHOST_SET_VRING_BASE the device signals the call eventfd for the next
 * used entry whatever the guest's used_event says (it may be stale).
 *
 * Busy polling. VHOST_SET_VRING_BUSYLOOP_TIMEOUT sets, per queue, how long
 * in microseconds the worker watches an empty request queue before it
 * sleeps and asks the guest for a kick (0, the default, never polls; the
 * event queue's value is kept but not used, as its work comes from the
 * fault queue). The worker stops polling at once when the scheduler, a
 * signal, an ioctl on the device or the event queue wants it, or the
 * device is being closed or its owner reset, so a VMM ioctl waits at most
 * for the request in hand. Values above %VHOST_IOMMU_MAX_BUSYLOOP_TIMEOUT
 * fail with -EINVAL. It may be set at any time; a device reset clears it.
 * While the worker runs, guest kicks are suppressed: with EVENT_IDX by the
 * event index, without it by VRING_USED_F_NO_NOTIFY in the used ring's
 * flags.
 *
 * Requests execute one at a time in available-ring order, and each used
 * entry is published after the request's effect is complete, with used
 * length equal to the whole device-writable size and the status in its
 * last 4 bytes; writable bytes before the tail that carry nothing (all of
 * them but PROBE properties) are zero-filled. The device reads each
 * request's readable part from guest memory once and decides only from
 * that copy. The device itself answers:
 *
 * - used length 0, nothing written: unknown type, a type whose feature was
 *   not negotiated (PROBE also when probe_size is 0), a readable part
 *   shorter than the type's, a writable part shorter than 4 bytes, or one
 *   more than %VHOST_IOMMU_MAX_WRITABLE_EXTRA bytes longer than the type
 *   needs (4, or 4 + probe_size for PROBE): the device would have to
 *   zero-fill it all to report it written;
 * - VIRTIO_IOMMU_S_INVAL: non-zero reserved fields (ATTACH, UNMAP,
 *   INVALIDATE, PAGE_RESP), unknown flags (ATTACH, MAP; BYPASS without
 *   BYPASS_CONFIG, MMIO without MMIO), virt_end < virt_start, a PROBE whose
 *   property buffer is smaller than probe_size (no property: the buffer is
 *   zero-filled);
 * - VIRTIO_IOMMU_S_RANGE: a domain outside domain_range (ATTACH, MAP,
 *   UNMAP, ATTACH_TABLE, with DOMAIN_RANGE), a MAP not aligned on the page
 *   granule or outside input_range (with INPUT_RANGE);
 * - INVALIDATE: translated and sent to iommufd for the domain's binding
 *   (VHOST_IOMMU_BIND_DOMAIN), consecutive ones to the same binding as one
 *   batch; VIRTIO_IOMMU_S_NOENT for a domain with no binding, S_INVAL for
 *   a malformed request, S_UNSUPP for one the binding's format cannot
 *   express without narrowing it; an iommufd error maps to NOENT (-ENOENT),
 *   INVAL (-EINVAL), NOMEM (-ENOMEM) or DEVERR;
 * - PAGE_RESP: forwarded to the fault queue (VHOST_IOMMU_SET_FAULT_QUEUE)
 *   for the page request group it names; VIRTIO_IOMMU_S_INVAL for unknown
 *   flags, a response code above FAILURE, or a group that is not
 *   outstanding (never delivered, already answered, or answered by the
 *   device); VIRTIO_IOMMU_S_DEVERR when iommufd refuses the response for
 *   another reason.
 *
 * ATTACH, DETACH, MAP, UNMAP, PROBE and ATTACH_TABLE that pass these checks
 * go to the VMM (VHOST_IOMMU_GET_REQUEST); the queue waits for the answer.
 *
 * The worker yields between requests. One pass takes at most 256 requests
 * or 512 KiB of writable parts, whichever comes first, and ends after the
 * request in hand when an ioctl or a netlink reader waits for the device:
 * a guest cannot hold the device's lock for more than one request.
 *
 * A corrupt ring (an available index more than the queue size ahead, a
 * head or next index beyond the queue, a chain of more than 64 descriptors
 * or a loop, a chain whose buffers fall in more than
 * %VHOST_IOMMU_MAX_CHAIN_PIECES pieces of the memory table (a buffer is one
 * piece per region it touches), an indirect descriptor chained, nested or
 * not negotiated, an indirect table whose size is not a multiple of 16, a
 * buffer outside the memory table, a readable buffer after a writable one,
 * ring memory the device cannot access) marks the queue broken: a chain
 * whose head is known is completed with used length 0, the err eventfd is
 * signalled, and the queue is not read again until VHOST_SET_VRING_BASE or
 * a reset.
 */

/*
 * Backend feature bit (VHOST_SET_BACKEND_FEATURES): domain bindings
 * (VHOST_IOMMU_BIND_DOMAIN) survive VHOST_IOMMU_RESET_DEVICE. Without it
 * the device reset drops them, as the spec has no endpoint attached after a
 * reset. Endpoint registrations and the iommufd always survive it.
 *
 * vhost numbers its own backend features from bit 0 upwards (bit 8,
 * VHOST_BACKEND_F_IOTLB_PERSIST, as of Linux 7.2); this one is the top
 * bit, so that no vhost backend feature a VMM's generic vhost code knows
 * or will soon know means something else here.
 */
#define VHOST_IOMMU_BACKEND_F_PERSIST	63

/* Virtqueue indexes */
#define VHOST_IOMMU_VQ_REQUEST	0
#define VHOST_IOMMU_VQ_EVENT	1
#define VHOST_IOMMU_VQ_MAX	2

/* Limits */
#define VHOST_IOMMU_MAX_PROBE_SIZE	4096
#define VHOST_IOMMU_MAX_VRING_NUM	32768
/*
 * Memory table regions by default. The module parameter max_mem_regions
 * (/sys/module/vhost_iommu/parameters/max_mem_regions, as vhost's) gives
 * the limit in force; VHOST_SET_MEM_TABLE with more fails with -E2BIG.
 */
#define VHOST_IOMMU_MAX_MEM_REGIONS	64
/* Memory table pieces one descriptor chain may cover: two per descriptor. */
#define VHOST_IOMMU_MAX_CHAIN_PIECES	128
/* Writable bytes a request may carry beyond what its type needs. */
#define VHOST_IOMMU_MAX_WRITABLE_EXTRA	4096
/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT's largest value: 1 s. */
#define VHOST_IOMMU_MAX_BUSYLOOP_TIMEOUT	1000000

enum {
	VHOST_IOMMU_CMD_BASE = 0xa0,
	VHOST_IOMMU_CMD_SET_CONFIG = VHOST_IOMMU_CMD_BASE,
	VHOST_IOMMU_CMD_GET_REQUEST = 0xa1,
	VHOST_IOMMU_CMD_COMPLETE_REQUEST = 0xa2,
	VHOST_IOMMU_CMD_RESET_DEVICE = 0xa3,
	VHOST_IOMMU_CMD_GET_STATS = 0xa4,
	VHOST_IOMMU_CMD_SET_IOMMUFD = 0xa5,
	VHOST_IOMMU_CMD_SET_ENDPOINT = 0xa6,
	VHOST_IOMMU_CMD_BIND_DOMAIN = 0xa7,
	VHOST_IOMMU_CMD_SET_FAULT_QUEUE = 0xa8,
	VHOST_IOMMU_CMD_SET_RUNNING = 0xa9,
	VHOST_IOMMU_CMD_GET_INFO = 0xaa,
	VHOST_IOMMU_CMD_POST_EVENT = 0xab,
};

/**
 * struct vhost_iommu_config - ioctl(VHOST_IOMMU_SET_CONFIG)
 * @size: sizeof(struct vhost_iommu_config)
 * @flags: must be 0
 * @page_size_mask: page_size_mask presented to the guest; at least one bit
 * @input_start: first address of input_range
 * @input_end: last address of input_range, >= @input_start
 * @domain_start: first domain ID of domain_range
 * @domain_end: last domain ID of domain_range, >= @domain_start
 * @probe_size: probe_size presented to the guest, 0 (no PROBE) to
 *              %VHOST_IOMMU_MAX_PROBE_SIZE, a multiple of 4
 * @bypass: the config space's bypass field, 0 or 1
 * @__reserved: must be 0
 *
 * Tells the module what the VMM presents in the guest's virtio-iommu
 * config space, so that its framing and validation of requests match the
 * guest's view. It may be set at any time and applies to requests the
 * device reads afterwards. Until it is set: page_size_mask 4 KiB, the full
 * input and domain ranges, probe_size 0, bypass 0.
 *
 * Errors: -EINVAL for a value out of the ranges above.
 */
struct vhost_iommu_config {
	__u32 size;
	__u32 flags;
	__aligned_u64 page_size_mask;
	__aligned_u64 input_start;
	__aligned_u64 input_end;
	__u32 domain_start;
	__u32 domain_end;
	__u32 probe_size;
	__u8 bypass;
	__u8 __reserved[3];
};

#define VHOST_IOMMU_SET_CONFIG _IO(VHOST_VIRTIO, VHOST_IOMMU_CMD_SET_CONFIG)

/**
 * struct vhost_iommu_request - ioctl(VHOST_IOMMU_GET_REQUEST)
 * @size: sizeof(struct vhost_iommu_request)
 * @flags: must be 0
 * @out_cookie: identifies the request in VHOST_IOMMU_COMPLETE_REQUEST;
 *              never reused by this file
 * @out_type: request type (VIRTIO_IOMMU_T_*)
 * @out_readable_len: bytes of the request's device-readable part (head
 *                    included) copied to @buf_uptr
 * @out_writable_len: size of the guest's device-writable part (tail
 *                    included); for PROBE, properties + 4
 * @buf_len: size of the buffer at @buf_uptr
 * @buf_uptr: buffer that receives the device-readable part
 *
 * Returns the oldest request the device hands to the VMM (ATTACH, DETACH,
 * MAP, UNMAP, PROBE, ATTACH_TABLE). The request queue stops behind it
 * until the VMM completes it, so the guest's requests execute in order.
 * Calling it again before completion returns the same request.
 * poll() reports POLLIN while a request waits for completion.
 *
 * The device has already checked what the spec lets it check without VMM
 * state (framing, reserved fields, unknown flags, ranges from
 * VHOST_IOMMU_SET_CONFIG); such requests never reach the VMM.
 *
 * Errors: -EAGAIN when no request waits; -EMSGSIZE when @buf_len is
 * smaller than the readable part (the output fields are still written and
 * the request stays pending).
 */
struct vhost_iommu_request {
	__u32 size;
	__u32 flags;
	__aligned_u64 out_cookie;
	__u32 out_type;
	__u32 out_readable_len;
	__u32 out_writable_len;
	__u32 buf_len;
	__aligned_u64 buf_uptr;
};

#define VHOST_IOMMU_GET_REQUEST _IO(VHOST_VIRTIO, VHOST_IOMMU_CMD_GET_REQUEST)

/**
 * struct vhost_iommu_completion - ioctl(VHOST_IOMMU_COMPLETE_REQUEST)
 * @size: sizeof(struct vhost_iommu_completion)
 * @flags: must be 0
 * @cookie: from VHOST_IOMMU_GET_REQUEST
 * @status: VIRTIO_IOMMU_S_OK ... VIRTIO_IOMMU_S_NOMEM, written to the
 *          request's tail
 * @payload_len: PROBE only: bytes of properties at @payload_uptr, at most
 *               the request's writable length - 4; 0 otherwise
 * @payload_uptr: PROBE properties; the rest of the guest's property
 *                buffer is zero-filled
 *
 * Completes the request: the module writes the payload and the status,
 * publishes the used entry with used length = the full writable size,
 * signals the guest and lets the queue go on.
 *
 * Errors: -ENOENT for a cookie that is not the pending request (unknown,
 * stale, or already completed); -EINVAL for a status outside the
 * VIRTIO_IOMMU_S_* values, a payload on a request other than PROBE, a
 * payload with a status other than S_OK, or a payload longer than the
 * guest's property buffer.
 */
struct vhost_iommu_completion {
	__u32 size;
	__u32 flags;
	__aligned_u64 cookie;
	__u32 status;
	__u32 payload_len;
	__aligned_u64 payload_uptr;
};

#define VHOST_IOMMU_COMPLETE_REQUEST \
	_IO(VHOST_VIRTIO, VHOST_IOMMU_CMD_COMPLETE_REQUEST)

/*
 * ioctl(VHOST_IOMMU_RESET_DEVICE): the virtio device reset. Stops reading
 * the rings, drops the pending slow-path request without completing it (a
 * reset device must not touch its queues), forgets the ring setup
 * (addresses, sizes, indexes, broken state) and the negotiated features.
 * It drops the domain bindings unless VHOST_IOMMU_BACKEND_F_PERSIST was
 * set. It keeps the owner, the memory table, the eventfds, the config,
 * the iommufd and the endpoints.
 * VHOST_RESET_OWNER does the same and also drops the owner, the memory
 * table, the eventfds, the iommufd, the endpoints and the bindings.
 */
#define VHOST_IOMMU_RESET_DEVICE _IO(VHOST_VIRTIO, VHOST_IOMMU_CMD_RESET_DEVICE)

/**
 * struct vhost_iommu_stats - ioctl(VHOST_IOMMU_GET_STATS)
 * @size: sizeof(struct vhost_iommu_stats)
 * @flags: must be 0
 * @out_requests: requests completed
 * @out_slow_path: requests handed to the VMM
 * @out_malformed: requests completed with used length 0 (unknown type,
 *                 too short, not negotiated)
 * @out_rejected: requests the device answered with an error status
 *                without the VMM
 * @out_broken: times a queue was found corrupt and marked broken
 * @out_invalidations: INVALIDATE requests completed
 * @out_inval_batches: IOMMU_HWPT_INVALIDATE calls made for them
 * @out_inval_errors: INVALIDATE requests that iommufd failed
 * @out_page_reqs: page request records written to the event queue
 * @out_page_resps: PAGE_RESP requests forwarded to the fault queue
 * @out_page_req_invalid: page request groups the device answered
 *                        INVALID itself because the guest could not take
 *                        them (see VHOST_IOMMU_SET_FAULT_QUEUE)
 * @out_fault_errors: fault queue reads or writes that failed
 * @out_wakeups: worker passes that found something to do
 * @out_user_accesses: the device's accesses to guest memory and to its
 *                     scratch area in the owner's memory (each user copy,
 *                     get_user or put_user counts one)
 * @out_iommufd_calls: calls into iommufd: IOMMU_HWPT_INVALIDATE, fault
 *                     queue reads and writes
 * @out_busy_poll_hits: requests the worker found while busy polling
 *                      (VHOST_SET_VRING_BUSYLOOP_TIMEOUT); its reads of
 *                      the available index while polling are not counted
 *                      in @out_user_accesses
 * @out_vmm_events: fault records the VMM posted (VHOST_IOMMU_POST_EVENT)
 *                  written to the event queue
 * @out_vmm_events_dropped: fault records the VMM posted that were taken
 *                          and never written: dropped by a reset, a
 *                          broken or unset event queue, or an event
 *                          buffer shorter than 24 bytes
 *
 * Counters since the file was opened; they survive resets. A VMM built
 * against an older header passes a smaller @size and gets the fields it
 * knows; @size is set to the bytes filled (the smaller of the caller's size
 * and the kernel's).
 */
struct vhost_iommu_stats {
	__u32 size;
	__u32 flags;
	__aligned_u64 out_requests;
	__aligned_u64 out_slow_path;
	__aligned_u64 out_malformed;
	__aligned_u64 out_rejected;
	__aligned_u64 out_broken;
	__aligned_u64 out_invalidations;
	__aligned_u64 out_inval_batches;
	__aligned_u64 out_inval_errors;
	__aligned_u64 out_page_reqs;
	__aligned_u64 out_page_resps;
	__aligned_u64 out_page_req_invalid;
	__aligned_u64 out_fault_errors;
	__aligned_u64 out_wakeups;
	__aligned_u64 out_user_accesses;
	__aligned_u64 out_iommufd_calls;
	__aligned_u64 out_busy_poll_hits;
	__aligned_u64 out_vmm_events;
	__aligned_u64 out_vmm_events_dropped;
};

#define VHOST_IOMMU_GET_STATS _IO(VHOST_VIRTIO, VHOST_IOMMU_CMD_GET_STATS)

/**
 * struct vhost_iommu_iommufd - ioctl(VHOST_IOMMU_SET_IOMMUFD)
 * @size: sizeof(struct vhost_iommu_iommufd)
 * @flags: must be 0
 * @iommufd: an open /dev/iommu, or -1 to let go of the current one
 * @__reserved: must be 0
 *
 * Gives the device the iommufd its invalidations go to. The module holds
 * a reference until the iommufd is replaced or let go of, the owner is
 * reset or the file is closed. It also maps a small scratch area in the
 * owner's address space, where the worker stages IOMMU_HWPT_INVALIDATE
 * arguments (iommufd takes them only from user memory); the VMM must leave
 * it alone. Replacing or letting go of the iommufd drops every binding.
 *
 * Errors: -EBADF for a bad descriptor, -EINVAL for a file that is not
 * /dev/iommu.
 */
struct vhost_iommu_iommufd {
	__u32 size;
	__u32 flags;
	__s32 iommufd;
	__u32 __reserved;
};

#define VHOST_IOMMU_SET_IOMMUFD _IO(VHOST_VIRTIO, VHOST_IOMMU_CMD_SET_IOMMUFD)

/* Remove the endpoint instead of adding it. */
#define VHOST_IOMMU_ENDPOINT_F_REMOVE	(1 << 0)

/* Limits of the tables below */
#define VHOST_IOMMU_MAX_ENDPOINTS	1024
#define VHOST_IOMMU_MAX_BINDINGS	1024
#define VHOST_IOMMU_MAX_BIND_ENDPOINTS	16

/**
 * struct vhost_iommu_endpoint - ioctl(VHOST_IOMMU_SET_ENDPOINT)
 * @size: sizeof(struct vhost_iommu_endpoint)
 * @flags: 0 to add, %VHOST_IOMMU_ENDPOINT_F_REMOVE to remove
 * @endpoint: the virtio endpoint ID the guest uses
 * @dev_id: the iommufd device ID of the host device behind it
 * @virt_id: the ID the guest's IOMMU architecture names the device by in
 *           commands (the virtual stream ID on Arm SMMUv3), at most
 *           0xffffffff; 0 if none. On kernels with vIOMMU objects (6.13
 *           and later) it is the virt_id of the device's vDEVICE
 *           (IOMMU_VDEVICE_ALLOC) on the vIOMMU its domains are bound to:
 *           the vIOMMU finds the device by it
 *
 * Registers the endpoint so that invalidations that name devices (device
 * TLB and PASID table invalidation on SMMUv3) and page requests can be
 * translated. Removing an endpoint answers its outstanding page requests
 * INVALID and takes its virt_id out of every binding that lists it.
 *
 * Errors: -EEXIST when adding a registered endpoint; -ENOENT when removing
 * one that is not; -EINVAL for a virt_id above 32 bits; -ENOSPC beyond
 * %VHOST_IOMMU_MAX_ENDPOINTS.
 */
struct vhost_iommu_endpoint {
	__u32 size;
	__u32 flags;
	__u32 endpoint;
	__u32 dev_id;
	__aligned_u64 virt_id;
};

#define VHOST_IOMMU_SET_ENDPOINT _IO(VHOST_VIRTIO, VHOST_IOMMU_CMD_SET_ENDPOINT)

/* Invalidation formats: what the bound iommufd object takes */
#define VHOST_IOMMU_INV_FORMAT_SELFTEST		1
#define VHOST_IOMMU_INV_FORMAT_VTD_S1		2
#define VHOST_IOMMU_INV_FORMAT_ARM_SMMUV3	3
/* The iommufd selftest mock's vIOMMU (test kernels, Linux 6.13 and later) */
#define VHOST_IOMMU_INV_FORMAT_VIOMMU_SELFTEST	4

/* BIND_DOMAIN flags */
#define VHOST_IOMMU_BIND_F_UNBIND	(1 << 0)
#define VHOST_IOMMU_BIND_F_PASID	(1 << 1)

/**
 * struct vhost_iommu_bind - ioctl(VHOST_IOMMU_BIND_DOMAIN)
 * @size: sizeof(struct vhost_iommu_bind)
 * @flags: %VHOST_IOMMU_BIND_F_UNBIND to remove the binding;
 *         %VHOST_IOMMU_BIND_F_PASID when the binding is for one PASID of
 *         the domain
 * @domain: guest domain ID
 * @pasid: the PASID, with %VHOST_IOMMU_BIND_F_PASID
 * @object_id: the iommufd object invalidations go to: a nested HWPT
 *             (SELFTEST, VTD_S1) or a vIOMMU (ARM_SMMUV3, VIOMMU_SELFTEST)
 * @format: VHOST_IOMMU_INV_FORMAT_*
 * @input_start: first address the domain translates
 * @input_end: last address the domain translates
 * @granule_log2: log2 of the domain's smallest page, 12 to 63
 * @nr_endpoints: vIOMMU formats (ARM_SMMUV3, VIOMMU_SELFTEST): entries of
 *                @endpoints_uptr, at most %VHOST_IOMMU_MAX_BIND_ENDPOINTS;
 *                0 otherwise
 * @endpoints_uptr: vIOMMU formats: __u32 virtio endpoint IDs attached to
 *                  the domain, each registered with the virt_id of its
 *                  vDEVICE on the vIOMMU
 *
 * Binds a guest domain (or one PASID of it) so that the guest's INVALIDATE
 * requests for it are translated into @format and sent to @object_id with
 * IOMMU_HWPT_INVALIDATE, from the kernel, without the VMM. Binding a bound
 * (domain, PASID) replaces the binding. An INVALIDATE with a PASID uses the
 * binding for that PASID if there is one, else the domain's; an INVALIDATE
 * for a domain without a binding gets VIRTIO_IOMMU_S_NOENT.
 *
 * iommufd reuses object IDs: unbind before destroying the object, or a
 * later object with the same ID receives the domain's invalidations.
 * Rebinding and unbinding wait for the request being processed, so a
 * request sees either the old binding or the new one.
 *
 * SELFTEST (the iommufd selftest mock, test kernels only) has four IOTLB
 * slots per HWPT: DOMAIN and PASID scope, and any scope without an
 * architecture ID, invalidate all of them; ADDRESS scope with an
 * architecture ID invalidates slot @id (the mock rejects ids above 3).
 * VIOMMU_SELFTEST (the mock's vIOMMU, IOMMU_VIOMMU_TYPE_SELFTEST) keeps
 * four cache slots per vDEVICE instead: the same rule picks the slots, and
 * one entry goes to each endpoint of the binding, named by its virt_id.
 *
 * Errors: -EINVAL for no iommufd set, a bad range or granule, an endpoint
 * list on a format that takes none, an unregistered endpoint;
 * -EOPNOTSUPP for a format this kernel's iommufd does not have; -ENOENT
 * when unbinding what is not bound; -ENOSPC beyond
 * %VHOST_IOMMU_MAX_BINDINGS.
 */
struct vhost_iommu_bind {
	__u32 size;
	__u32 flags;
	__u32 domain;
	__u32 pasid;
	__u32 object_id;
	__u32 format;
	__aligned_u64 input_start;
	__aligned_u64 input_end;
	__u32 granule_log2;
	__u32 nr_endpoints;
	__aligned_u64 endpoints_uptr;
};

#define VHOST_IOMMU_BIND_DOMAIN _IO(VHOST_VIRTIO, VHOST_IOMMU_CMD_BIND_DOMAIN)

/* Limits of page request handling */
#define VHOST_IOMMU_MAX_PAGE_GROUPS	256
#define VHOST_IOMMU_MAX_EVENT_BACKLOG	64
#define VHOST_IOMMU_MAX_PAGE_GROUP_RECORDS	16384

/**
 * struct vhost_iommu_fault_queue - ioctl(VHOST_IOMMU_SET_FAULT_QUEUE)
 * @size: sizeof(struct vhost_iommu_fault_queue)
 * @flags: must be 0
 * @fault_fd: the fd IOMMU_FAULT_QUEUE_ALLOC returned, or -1 to detach
 * @__reserved: must be 0
 *
 * Hands the device an iommufd fault queue. From then on the device's
 * worker is its only reader: it reads each page request group, writes
 * every record of it as a struct virtio_iommu_page_req into the guest's
 * event queue (all records of a group, %VIRTIO_IOMMU_FAULT_F_LAST on the
 * final one) and remembers the group until the guest answers it with
 * PAGE_RESP, which the device writes back to the fault queue (SUCCESS as
 * IOMMUFD_PAGE_RESP_SUCCESS, INVALID and FAILURE as
 * IOMMUFD_PAGE_RESP_INVALID). The VMM must not read or write the fault
 * queue itself while it is attached. The iommufd device ID of each record
 * is mapped back to the endpoint registered with VHOST_IOMMU_SET_ENDPOINT.
 *
 * The device answers a group IOMMUFD_PAGE_RESP_INVALID itself, and counts
 * it in out_page_req_invalid, when the guest cannot take it: PAGE_REQ not
 * negotiated, the event queue not set up or broken, event buffers shorter
 * than 48 bytes (a guest that only knows the 24-byte fault report), a
 * group larger than the event queue or %VHOST_IOMMU_MAX_EVENT_BACKLOG, no
 * free event buffer while %VHOST_IOMMU_MAX_EVENT_BACKLOG records already
 * wait for one, %VHOST_IOMMU_MAX_PAGE_GROUPS groups outstanding, a device
 * ID that no endpoint is registered for, a group ID above 0xffff, or a
 * group with the same endpoint, PASID and group ID as one outstanding.
 * A group of up to %VHOST_IOMMU_MAX_PAGE_GROUP_RECORDS records is always
 * read and answered; a larger one cannot be read from the fault queue at
 * all: it stays at its head (each attempt counts in out_fault_errors)
 * until iommufd answers it when the fault queue is detached or destroyed.
 *
 * Every outstanding group, delivered or not, is answered INVALID when the
 * fault queue is detached or replaced, the iommufd is let go of or
 * replaced, the device is reset (VHOST_IOMMU_RESET_DEVICE,
 * VHOST_RESET_OWNER), and when the file is closed by the owner; those of
 * one endpoint when the endpoint is removed. A file released in another
 * context (for example at the owner's exit) cannot write to the fault
 * queue; iommufd answers the groups itself when their HWPT is detached or
 * the fault queue destroyed. A group iommufd answered on its own (the
 * device was detached from the HWPT) gets S_INVAL if the guest answers
 * it later. An answer the fault queue fails to take for another reason
 * (no memory, the scratch area unmapped) is written again by the worker
 * in its next passes, and a failed read of the fault queue is tried again
 * likewise; both count in out_fault_errors and are given up after 8
 * passes in a row, after which iommufd answers such groups itself when
 * the fault queue is destroyed or the device leaves its HWPT.
 *
 * Errors: -EBADF for a bad descriptor; -EINVAL for a file that is not an
 * iommufd fault queue open for reading and writing, or when no iommufd is
 * set (VHOST_IOMMU_SET_IOMMUFD).
 */
struct vhost_iommu_fault_queue {
	__u32 size;
	__u32 flags;
	__s32 fault_fd;
	__u32 __reserved;
};

#define VHOST_IOMMU_SET_FAULT_QUEUE \
	_IO(VHOST_VIRTIO, VHOST_IOMMU_CMD_SET_FAULT_QUEUE)

/*
 * ioctl(VHOST_IOMMU_SET_RUNNING, int *running): 0 stops the device, 1
 * starts it (in the manner of VHOST_VSOCK_SET_RUNNING). A device that never
 * got this ioctl runs as soon as its queues are set up, and its rings may
 * be changed as it runs; once started with it, they may not (-EBUSY, see
 * above) until it is stopped. When the ioctl stops
 * the device and returns, the worker has finished its pass and does not
 * read or write the rings, deliver page requests or read the fault queue
 * until the device runs again; kicks and page requests that arrive
 * meanwhile are handled then. A request parked for the VMM stays parked:
 * VHOST_IOMMU_GET_REQUEST and VHOST_IOMMU_COMPLETE_REQUEST still work, and
 * VHOST_GET_VRING_BASE counts it as not taken (see "Stopping and
 * restoring" above). The stopped state survives VHOST_IOMMU_RESET_DEVICE;
 * VHOST_RESET_OWNER clears it.
 *
 * Errors: -EINVAL for a value other than 0 or 1.
 */
#define VHOST_IOMMU_SET_RUNNING \
	_IOW(VHOST_VIRTIO, VHOST_IOMMU_CMD_SET_RUNNING, int)

/* Capabilities of struct vhost_iommu_info */
/* VHOST_IOMMU_POST_EVENT exists */
#define VHOST_IOMMU_CAP_POST_EVENT	(1ULL << 0)

/* Page request sources of struct vhost_iommu_info */
/* An iommufd fault queue (IOMMU_FAULT_QUEUE_ALLOC), VHOST_IOMMU_SET_FAULT_QUEUE */
#define VHOST_IOMMU_FAULT_SOURCE_FAULT_QUEUE	(1 << 0)

/**
 * struct vhost_iommu_info - ioctl(VHOST_IOMMU_GET_INFO)
 * @size: sizeof(struct vhost_iommu_info)
 * @flags: must be 0
 * @inv_formats: bit n is set when VHOST_IOMMU_BIND_DOMAIN takes
 *               VHOST_IOMMU_INV_FORMAT n on this kernel (SELFTEST only
 *               with the iommufd selftest; VIOMMU_SELFTEST with the
 *               selftest and vIOMMU objects, Linux 6.13 and later;
 *               ARM_SMMUV3 from Linux 6.14)
 * @fault_sources: VHOST_IOMMU_FAULT_SOURCE_* page requests can come from
 * @features: the virtio features the device offers (VHOST_GET_FEATURES)
 * @backend_features: VHOST_GET_BACKEND_FEATURES
 * @version: the module's version, major << 16 | minor << 8 | patch
 * @max_endpoints: %VHOST_IOMMU_MAX_ENDPOINTS
 * @max_bindings: %VHOST_IOMMU_MAX_BINDINGS
 * @max_bind_endpoints: %VHOST_IOMMU_MAX_BIND_ENDPOINTS
 * @max_chain_pieces: %VHOST_IOMMU_MAX_CHAIN_PIECES
 * @max_page_groups: %VHOST_IOMMU_MAX_PAGE_GROUPS
 * @max_event_backlog: %VHOST_IOMMU_MAX_EVENT_BACKLOG
 * @max_page_group_records: %VHOST_IOMMU_MAX_PAGE_GROUP_RECORDS
 * @caps: VHOST_IOMMU_CAP_* the module has; 0 from modules older than
 *        the field (it was a reserved field set to 0), so a VMM may test a
 *        bit without knowing the module's version
 *
 * What this module can do on the running kernel, so that a VMM asks
 * instead of inferring it from the kernel version. Needs no owner: any
 * open file may ask, before VHOST_SET_OWNER. A VMM built against an older
 * header passes a smaller @size and gets the fields it knows; @size is set
 * to the bytes filled. @features holds virtio feature bits only (what
 * VHOST_GET_FEATURES offers); ioctls and abilities beyond them are bits of
 * @caps.
 *
 * Errors: -EINVAL when @size does not reach @inv_formats; -E2BIG when the
 * struct is larger than the kernel's and the extra bytes are not 0;
 * -EOPNOTSUPP for non-zero @flags; -EFAULT.
 */
struct vhost_iommu_info {
	__u32 size;
	__u32 flags;
	__aligned_u64 inv_formats;
	__aligned_u64 fault_sources;
	__aligned_u64 features;
	__aligned_u64 backend_features;
	__u32 version;
	__u32 max_endpoints;
	__u32 max_bindings;
	__u32 max_bind_endpoints;
	__u32 max_chain_pieces;
	__u32 max_page_groups;
	__u32 max_event_backlog;
	__u32 max_page_group_records;
	__aligned_u64 caps;
};

#define VHOST_IOMMU_GET_INFO _IO(VHOST_VIRTIO, VHOST_IOMMU_CMD_GET_INFO)

/*
 * Fault flags VHOST_IOMMU_POST_EVENT takes: the spec's READ, WRITE and
 * ADDRESS, and EXEC, which Linux's <linux/virtio_iommu.h> defines and its
 * driver reports (a driver MUST ignore flags it does not know).
 */
#define VHOST_IOMMU_EVENT_FAULT_FLAGS					\
	(VIRTIO_IOMMU_FAULT_F_READ | VIRTIO_IOMMU_FAULT_F_WRITE |	\
	 VIRTIO_IOMMU_FAULT_F_EXEC | VIRTIO_IOMMU_FAULT_F_ADDRESS)

/**
 * struct vhost_iommu_fault_report - ioctl(VHOST_IOMMU_POST_EVENT)
 * @size: sizeof(struct vhost_iommu_fault_report)
 * @flags: must be 0
 * @reason: VIRTIO_IOMMU_FAULT_R_UNKNOWN, _R_DOMAIN or _R_MAPPING
 * @fault_flags: VIRTIO_IOMMU_FAULT_F_READ, _F_WRITE, _F_EXEC and
 *               _F_ADDRESS (%VHOST_IOMMU_EVENT_FAULT_FLAGS)
 * @endpoint: the endpoint that faulted, as the guest names it
 * @__reserved: must be 0
 * @address: the faulting address, with %VIRTIO_IOMMU_FAULT_F_ADDRESS;
 *           0 without it
 *
 * Posts a fault report into the guest's event queue, for a VMM whose
 * event queue the module serves: a VMM that emulates devices behind the
 * vIOMMU reports their translation faults here, where it would write a
 * struct virtio_iommu_fault into the event queue itself without vhost.
 *
 * The module builds the 24-byte struct virtio_iommu_fault from these
 * fields, with its reserved fields zero, rather than taking the record's
 * bytes: so a VMM can set nothing the device must keep zero (reserved
 * bytes, which make a driver ignore the report) nor page request flags
 * (which only the module's own 48-byte page request records may carry),
 * and a later report format changes the fields, not the record. Each
 * record goes into one event buffer of at least 24 bytes, whatever its
 * size, with used length 24: the guest tells it from a 48-byte page
 * request record (%VIRTIO_IOMMU_F_PAGE_REQ) by the used length, and by
 * %VIRTIO_IOMMU_FAULT_F_PAGE_REQ being clear. It needs neither
 * %VIRTIO_IOMMU_F_PAGE_REQ nor a fault queue.
 *
 * Records posted here and the module's page request records go into the
 * event queue in one order, the order in which they reached the device: a
 * record posted after the worker read a page request group from the
 * fault queue comes after every record of that group. The record is
 * written into the event queue before the ioctl returns if the guest has
 * made a buffer available and nothing older waits; otherwise it waits,
 * with the page request records, in a backlog of
 * %VHOST_IOMMU_MAX_EVENT_BACKLOG records, until the guest makes buffers
 * available (its kick wakes the worker). A stopped device
 * (VHOST_IOMMU_SET_RUNNING 0) takes records into the backlog and writes
 * them when it runs again. Records still waiting are dropped, and
 * counted in out_vmm_events_dropped, by VHOST_IOMMU_RESET_DEVICE,
 * VHOST_RESET_OWNER and close; by the event queue breaking or losing its
 * kick eventfd; and one at a time when the next event buffer is shorter
 * than 24 bytes (the buffer is left available). The spec lets a device
 * drop events when the driver posts no buffer; -ENOSPC is the VMM's
 * chance to drop or to retry later.
 *
 * Errors: -EINVAL for a reason or a fault flag outside the above, or an
 * @address without %VIRTIO_IOMMU_FAULT_F_ADDRESS; -ENOTCONN when the event
 * queue is not set up (no features set, or no size, addresses or kick
 * eventfd: also after VHOST_IOMMU_RESET_DEVICE, until the guest sets it
 * up again); -EIO when the event queue is broken, or broke as the record
 * was written (the err eventfd was signalled; VHOST_SET_VRING_BASE or a
 * reset recovers it); -ENOSPC when %VHOST_IOMMU_MAX_EVENT_BACKLOG records
 * wait for event buffers already.
 */
struct vhost_iommu_fault_report {
	__u32 size;
	__u32 flags;
	__u32 reason;
	__u32 fault_flags;
	__u32 endpoint;
	__u32 __reserved;
	__aligned_u64 address;
};

#define VHOST_IOMMU_POST_EVENT _IO(VHOST_VIRTIO, VHOST_IOMMU_CMD_POST_EVENT)

#endif /* _UAPI_LINUX_VHOST_IOMMU_H */
