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

#include <linux/types.h>
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

#endif /* _UAPI_LINUX_VHOST_IOMMU_H */
