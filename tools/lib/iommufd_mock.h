/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The iommufd selftest mock driver (CONFIG_IOMMUFD_TEST) seen from
 * userspace: a mock device, a nesting parent and nested HWPTs whose four
 * IOTLB slots record what IOMMU_HWPT_INVALIDATE did, and page requests on
 * demand.
 *
 * The kernel's iommufd_test.h is a GPL-2.0 test-only ABI that is not
 * exported; the few constants and structs needed here are declared
 * anew, with our own names, from the 6.12 layout (the vIOMMU parts from
 * 7.2's). They may change with the kernel; the static asserts below catch
 * a size mismatch at build time, the kernel catches the rest at run time.
 *
 * vIOMMU and vDEVICE objects (Linux 6.13) are stable uAPI, but the 6.12
 * headers the tests also build against lack them: their two commands are
 * declared here too, so one source builds on both and a kernel without
 * them answers -ENOTTY at run time.
 *
 * Every function returns 0 (or a non-negative value where documented) on
 * success and -errno on failure; none of them prints anything.
 */
#ifndef _IOMMUFD_MOCK_H
#define _IOMMUFD_MOCK_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/iommufd.h>
#include <linux/types.h>

#define IMOCK_DEV_PATH		"/dev/iommu"

/* IOMMU_TEST_CMD: iommufd's command number 0xa0 (0x80 + 32). */
#define IMOCK_TEST_CMD		_IO(IOMMUFD_TYPE, 0xa0)

/* The test ops used here (enum values of the 6.12 test ABI). */
#define IMOCK_OP_MOCK_DOMAIN		2
#define IMOCK_OP_MOCK_DOMAIN_REPLACE	10
#define IMOCK_OP_MD_CHECK_IOTLB		14
#define IMOCK_OP_TRIGGER_IOPF		15
/* 6.13 and later: the cache slots of a mock device behind a vIOMMU. */
#define IMOCK_OP_DEV_CHECK_CACHE	16

/* HWPT allocation data type of the mock, and its only field. */
#define IMOCK_HWPT_DATA_SELFTEST	0xdead
#define IMOCK_IOTLB_DEFAULT		0xbadbeef
/* Invalidation data type of the mock. */
#define IMOCK_INVALIDATE_DATA_SELFTEST	0xdeadbeef
#define IMOCK_INVALIDATE_FLAG_ALL	0x1

/* Number of IOTLB slots of a mock nested HWPT; ids 0..3. */
#define IMOCK_IOTLB_NUM			4
#define IMOCK_IOTLB_ID_MAX		3

/* What imock_read_iotlbs() reports for a slot with another value. */
#define IMOCK_IOTLB_UNKNOWN		0xffffffffu

struct imock_hwpt_selftest {
	__u32 iotlb;
};

struct imock_invalidate_selftest {
	__u32 flags;
	__u32 iotlb_id;
};

/* vIOMMU type of the mock; its invalidation data type has the same value. */
#define IMOCK_VIOMMU_TYPE_SELFTEST		0xdeadbeef
#define IMOCK_VIOMMU_INVALIDATE_DATA_SELFTEST	0xdeadbeef

/* Cache slots of each mock device, zeroed by vIOMMU invalidations. */
#define IMOCK_DEV_CACHE_NUM		4
#define IMOCK_DEV_CACHE_ID_MAX		3
#define IMOCK_DEV_CACHE_DEFAULT		0xbaddad

/* One vIOMMU invalidation: slots of the device whose virt ID is @vdev_id. */
struct imock_viommu_invalidate_selftest {
	__u32 flags;
	__u32 vdev_id;
	__u32 cache_id;
};

static_assert(sizeof(struct imock_viommu_invalidate_selftest) == 12,
	      "the mock's vIOMMU invalidation entry is 12 bytes");

/* iommufd's IOMMU_VIOMMU_ALLOC and IOMMU_VDEVICE_ALLOC (6.13). */
#define IMOCK_VIOMMU_ALLOC	_IO(IOMMUFD_TYPE, 0x90)
#define IMOCK_VDEVICE_ALLOC	_IO(IOMMUFD_TYPE, 0x91)

/* struct iommu_viommu_alloc */
struct imock_viommu_alloc_cmd {
	__u32 size;
	__u32 flags;
	__u32 type;
	__u32 dev_id;
	__u32 hwpt_id;
	__u32 out_viommu_id;
	__u32 data_len;
	__u32 __reserved;
	__aligned_u64 data_uptr;
};

/* struct iommu_vdevice_alloc */
struct imock_vdevice_alloc_cmd {
	__u32 size;
	__u32 viommu_id;
	__u32 dev_id;
	__u32 out_vdevice_id;
	__aligned_u64 virt_id;
};

static_assert(sizeof(struct imock_viommu_alloc_cmd) == 40,
	      "struct imock_viommu_alloc_cmd must match the kernel's 40 bytes");
static_assert(sizeof(struct imock_vdevice_alloc_cmd) == 24,
	      "struct imock_vdevice_alloc_cmd must match the kernel's 24 bytes");

/* Where the headers have them, ours must be the same. */
#ifdef IOMMU_VIOMMU_ALLOC
static_assert(IMOCK_VIOMMU_ALLOC == IOMMU_VIOMMU_ALLOC,
	      "IMOCK_VIOMMU_ALLOC differs from the headers'");
static_assert(IMOCK_VDEVICE_ALLOC == IOMMU_VDEVICE_ALLOC,
	      "IMOCK_VDEVICE_ALLOC differs from the headers'");
static_assert(sizeof(struct imock_viommu_alloc_cmd) ==
	      sizeof(struct iommu_viommu_alloc),
	      "struct iommu_viommu_alloc changed size");
static_assert(sizeof(struct imock_vdevice_alloc_cmd) ==
	      sizeof(struct iommu_vdevice_alloc),
	      "struct iommu_vdevice_alloc changed size");
#endif

/*
 * The test command. Only the union members this library uses are
 * spelled out; the padding member gives the union the size and
 * alignment of the kernel's, whose largest member is 48 bytes of
 * 64-bit fields.
 */
struct imock_test_cmd {
	__u32 size;
	__u32 op;
	__u32 id;
	__u32 __reserved;
	union {
		struct {
			__u32 out_stdev_id;
			__u32 out_hwpt_id;
			__u32 out_idev_id;
		} mock_domain;
		struct {
			__u32 pt_id;
		} mock_domain_replace;
		struct {
			__u32 id;
			__u32 iotlb;
		} check_iotlb;
		struct {
			__u32 dev_id;
			__u32 pasid;
			__u32 grpid;
			__u32 perm;
			__aligned_u64 addr;
		} trigger_iopf;
		struct {
			__u32 id;
			__u32 cache;
		} check_dev_cache;
		__aligned_u64 __pad[6];
	};
	__u32 last;
};

static_assert(sizeof(struct imock_test_cmd) == 72,
	      "struct imock_test_cmd must match the kernel's 72 bytes");
static_assert(offsetof(struct imock_test_cmd, last) == 64,
	      "imock_test_cmd.last must be at offset 64");
static_assert(offsetof(struct imock_test_cmd, trigger_iopf.addr) == 32,
	      "imock_test_cmd.trigger_iopf.addr must be at offset 32");

/* Returns the open /dev/iommu descriptor or -errno. */
int imock_open(void);

int imock_ioas_alloc(int fd, __u32 *ioas_id);
int imock_destroy(int fd, __u32 id);

/*
 * A mock device bound to @fd and attached to @ioas_id: its selftest
 * object (IOMMU_DESTROY on it removes the device), the auto paging HWPT
 * and the iommufd device ID (the dev_id of every other call).
 */
int imock_mock_domain(int fd, __u32 ioas_id, __u32 *stdev_id,
		      __u32 *hwpt_id, __u32 *idev_id);
/* Attaches the mock device @stdev_id to @pt_id (an IOAS or a HWPT). */
int imock_domain_replace(int fd, __u32 stdev_id, __u32 pt_id);

/* A paging HWPT on @ioas_id that nested HWPTs can be built on. */
int imock_hwpt_alloc_parent(int fd, __u32 idev_id, __u32 ioas_id,
			    __u32 *parent_id);
/*
 * A nested SELFTEST HWPT on @parent_id (a nesting parent, or a vIOMMU on
 * 6.13 and later), its four IOTLB slots set to IMOCK_IOTLB_DEFAULT.
 * @fault_id is a fault queue for its page requests, or 0 for none
 * (iommufd never hands out ID 0).
 */
int imock_hwpt_alloc_nested(int fd, __u32 idev_id, __u32 parent_id,
			    __u32 fault_id, __u32 *nested_id);

/*
 * IOMMU_HWPT_INVALIDATE with @n SELFTEST entries; *@done (if not NULL)
 * receives the number iommufd handled, on failure too.
 */
int imock_hwpt_invalidate(int fd, __u32 hwpt_id,
			  const struct imock_invalidate_selftest *entries,
			  __u32 n, __u32 *done);

/*
 * 0 when IOTLB slot @slot of the nested HWPT @hwpt_id holds @expected;
 * -EINVAL when it holds something else (or @slot > 3), -ENOENT when
 * @hwpt_id is not a mock nested HWPT.
 */
int imock_check_iotlb(int fd, __u32 hwpt_id, unsigned int slot,
		      __u32 expected);
/*
 * The four slots of @hwpt_id. The mock can only compare, so each slot is
 * compared with 0 and IMOCK_IOTLB_DEFAULT, the only values a SELFTEST
 * HWPT allocated by this library can hold; anything else reads as
 * IMOCK_IOTLB_UNKNOWN.
 */
int imock_read_iotlbs(int fd, __u32 hwpt_id, __u32 slots[IMOCK_IOTLB_NUM]);

/*
 * A vIOMMU of the mock's type on the nesting parent @parent_id, backed by
 * the IOMMU of device @idev_id. -ENOTTY on kernels without vIOMMU objects
 * (before 6.13).
 */
int imock_viommu_alloc(int fd, __u32 idev_id, __u32 parent_id,
		       __u32 *viommu_id);
/* A vDEVICE of device @idev_id on @viommu_id, known there as @virt_id. */
int imock_vdevice_alloc(int fd, __u32 viommu_id, __u32 idev_id,
			__u64 virt_id, __u32 *vdevice_id);
/*
 * IOMMU_HWPT_INVALIDATE on the vIOMMU @viommu_id with @n entries;
 * *@done as for imock_hwpt_invalidate().
 */
int imock_viommu_invalidate(int fd, __u32 viommu_id,
			    const struct imock_viommu_invalidate_selftest *e,
			    __u32 n, __u32 *done);
/*
 * 0 when cache slot @slot of the mock device @idev_id (its iommufd device
 * ID) holds @expected; -EINVAL when it holds something else (or @slot > 3),
 * -ENOENT when @idev_id is no device.
 */
int imock_check_dev_cache(int fd, __u32 idev_id, unsigned int slot,
			  __u32 expected);
/*
 * The four cache slots of device @idev_id, compared with 0 and
 * IMOCK_DEV_CACHE_DEFAULT as imock_read_iotlbs() does; anything else
 * reads as IMOCK_IOTLB_UNKNOWN.
 */
int imock_read_dev_caches(int fd, __u32 idev_id,
			  __u32 slots[IMOCK_DEV_CACHE_NUM]);

/* A fault queue: its object ID and the descriptor its faults are read from. */
int imock_fault_alloc(int fd, __u32 *fault_id, int *fault_fd);
/*
 * Makes the mock device @idev_id report a page request (last of its
 * group; with a PASID when @pasid is not 0). Delivery is synchronous,
 * but the ioctl succeeds even when nothing could be delivered.
 */
int imock_trigger_iopf(int fd, __u32 idev_id, __u32 pasid, __u32 grpid,
		       __u32 perm, __u64 addr);

/**
 * struct imock_world - a mock device with a nested HWPT to invalidate
 * @fd: the iommufd, or -1
 * @ioas_id: IOAS the device and the parent are on
 * @stdev_id: selftest object of the mock device
 * @auto_hwpt_id: paging HWPT the device was attached to at creation
 * @idev_id: iommufd device ID of the mock device
 * @parent_id: nesting parent HWPT
 * @nested_id: nested SELFTEST HWPT (not attached to the device)
 */
struct imock_world {
	int fd;
	__u32 ioas_id;
	__u32 stdev_id;
	__u32 auto_hwpt_id;
	__u32 idev_id;
	__u32 parent_id;
	__u32 nested_id;
};

/* Opens /dev/iommu and builds every object of @w; undoes it on failure. */
int imock_world_init(struct imock_world *w);
/*
 * Closes the iommufd, which frees every object in it, including those
 * the caller added. Safe on a world whose @fd is -1.
 */
void imock_world_destroy(struct imock_world *w);

#endif /* _IOMMUFD_MOCK_H */
