// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: translation of the guest's generic INVALIDATE into the
 * invalidation entries of the bound iommufd object.
 *
 * A translation may widen what the guest asked for (a larger range, a
 * broader command), never narrow it: stale translations would survive.
 * What a format cannot express without narrowing is refused with S_UNSUPP.
 */
#include <linux/bitfield.h>
#include <linux/bitops.h>
#include <linux/build_bug.h>
#include <linux/export.h>
#include <linux/limits.h>
#include <linux/minmax.h>
#include <linux/overflow.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <asm/byteorder.h>
#include <kunit/visibility.h>
#include <uapi/linux/iommufd.h>

#include "invalidate.h"

#define INVAL_CACHES	(VIRTIO_IOMMU_INVAL_C_PASID | VIRTIO_IOMMU_INVAL_C_TLB)
#define INVAL_FLAGS	(VIRTIO_IOMMU_INVAL_F_LEAF |	\
			 VIRTIO_IOMMU_INVAL_F_PASID |	\
			 VIRTIO_IOMMU_INVAL_F_ID |	\
			 VIRTIO_IOMMU_INVAL_F_GLOBAL)

/*
 * The iommufd selftest entry. It is a test-only ABI of iommufd whose header
 * is not exported, hence declared here.
 */
struct vhost_iommu_selftest_inv {
	u32 flags;
	u32 iotlb_id;
};

#define SELFTEST_INV_FLAG_ALL	BIT(0)

/* The mock vIOMMU's entry: the same slots, per vDEVICE (by virt ID). */
struct vhost_iommu_viommu_selftest_inv {
	u32 flags;
	u32 vdev_id;
	u32 cache_id;
};

/*
 * Arm SMMUv3 commands, as the vIOMMU takes them: two little-endian words.
 * NUM, SCALE, TTL and TG stay 0 (one non-range command per page, valid for
 * any leaf size); VMID stays 0 because the host substitutes its own.
 */
#define SMMU_CMD_LEN		(2 * sizeof(__le64))
#define SMMU_CMD_OP		GENMASK_ULL(7, 0)
#define SMMU_OP_CFGI_CD		0x05
#define SMMU_OP_CFGI_CD_ALL	0x06
#define SMMU_OP_TLBI_NH_ALL	0x10
#define SMMU_OP_TLBI_NH_ASID	0x11
#define SMMU_OP_TLBI_NH_VA	0x12
#define SMMU_OP_TLBI_NH_VAA	0x13
#define SMMU_OP_ATC_INV		0x40

#define SMMU_CFGI_0_SSID	GENMASK_ULL(31, 12)
#define SMMU_CFGI_0_SID		GENMASK_ULL(63, 32)
#define SMMU_CFGI_1_LEAF	BIT_ULL(0)

#define SMMU_TLBI_0_ASID	GENMASK_ULL(63, 48)
#define SMMU_TLBI_1_LEAF	BIT_ULL(0)
#define SMMU_TLBI_1_ADDR	GENMASK_ULL(63, 12)

#define SMMU_ATC_0_GLOBAL	BIT_ULL(9)
#define SMMU_ATC_0_SSV		BIT_ULL(11)
#define SMMU_ATC_0_SSID		GENMASK_ULL(31, 12)
#define SMMU_ATC_0_SID		GENMASK_ULL(63, 32)
#define SMMU_ATC_1_SIZE		GENMASK_ULL(5, 0)
#define SMMU_ATC_1_ADDR		GENMASK_ULL(63, 12)

#define SMMU_MAX_ASID		0xffffULL
#define SMMU_MAX_SSID		0xfffffU
/* ATC_INV size (log2 of 4 KiB pages) that covers the whole space */
#define SMMU_ATC_SIZE_ALL	52
/* Beyond this many granule pages, one broader TLBI beats a page each. */
#define SMMU_TLBI_MAX_VA	8

static_assert(sizeof(struct vhost_iommu_selftest_inv) == 8);
static_assert(sizeof(struct vhost_iommu_viommu_selftest_inv) == 12);
static_assert(VHOST_IOMMU_MAX_BIND_ENDPOINTS <= VHOST_IOMMU_INV_MAX_ENTRIES);
static_assert(sizeof(struct iommu_hwpt_vtd_s1_invalidate) == 24);
static_assert(VHOST_IOMMU_INV_MAX_ENTRY_LEN >=
	      sizeof(struct iommu_hwpt_vtd_s1_invalidate));
/* SMMUv3 worst case: a CFGI and an ATC_INV per SID, plus the TLBIs. */
static_assert(2 * VHOST_IOMMU_MAX_BIND_ENDPOINTS + SMMU_TLBI_MAX_VA <=
	      VHOST_IOMMU_INV_MAX_ENTRIES);

/**
 * vhost_iommu_inval_parse() - validate an INVALIDATE request
 * @req: the request as the guest wrote it (little-endian fields)
 * @inv: filled with the decoded request on success
 *
 * For ADDRESS scope the range is widened to whole pages of 2^page_size
 * bytes: @inv->first is the address rounded down and @inv->last the end of
 * the page holding the last byte, so that a guest's unaligned or rounded
 * range is covered entirely. DOMAIN and PASID scope get the whole space.
 *
 * Return: 0, or VIRTIO_IOMMU_S_INVAL for an unknown scope, cache or flag,
 * PASID scope without a PASID, a non-zero reserved byte, or an empty or
 * overflowing ADDRESS range. @inv is only written on success.
 */
int vhost_iommu_inval_parse(const struct virtio_iommu_req_invalidate *req,
			    struct vhost_iommu_inval *inv)
{
	u16 flags = le16_to_cpu(req->flags);
	u64 address, nr_pages, page_mask, size_m1, end;
	struct vhost_iommu_inval v;

	if (req->scope < VIRTIO_IOMMU_INVAL_S_DOMAIN ||
	    req->scope > VIRTIO_IOMMU_INVAL_S_ADDRESS)
		return VIRTIO_IOMMU_S_INVAL;
	if (!req->caches || (req->caches & ~INVAL_CACHES))
		return VIRTIO_IOMMU_S_INVAL;
	if (flags & ~INVAL_FLAGS)
		return VIRTIO_IOMMU_S_INVAL;
	if (req->scope == VIRTIO_IOMMU_INVAL_S_PASID &&
	    !(flags & VIRTIO_IOMMU_INVAL_F_PASID))
		return VIRTIO_IOMMU_S_INVAL;
	if (memchr_inv(req->reserved, 0, sizeof(req->reserved)))
		return VIRTIO_IOMMU_S_INVAL;

	v = (struct vhost_iommu_inval) {
		.scope = req->scope,
		.caches = req->caches,
		.flags = flags,
		.domain = le32_to_cpu(req->domain),
		.pasid = le32_to_cpu(req->pasid),
		.id = le64_to_cpu(req->id),
		.first = 0,
		.last = U64_MAX,
	};

	if (v.scope == VIRTIO_IOMMU_INVAL_S_ADDRESS) {
		address = le64_to_cpu(req->address);
		nr_pages = le64_to_cpu(req->nr_pages);
		if (req->page_size > 63 || !nr_pages)
			return VIRTIO_IOMMU_S_INVAL;
		/* Size - 1 must fit: 2^(64 - page_size) pages is the space. */
		if (nr_pages - 1 > U64_MAX >> req->page_size)
			return VIRTIO_IOMMU_S_INVAL;
		page_mask = BIT_ULL(req->page_size) - 1;
		size_m1 = ((nr_pages - 1) << req->page_size) | page_mask;
		if (check_add_overflow(address, size_m1, &end))
			return VIRTIO_IOMMU_S_INVAL;
		/*
		 * Rounding the start down must not drop the tail: the end
		 * is rounded up to its page, which cannot pass U64_MAX.
		 */
		v.first = address & ~page_mask;
		v.last = end | page_mask;
	}

	*inv = v;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(vhost_iommu_inval_parse);

/**
 * vhost_iommu_inval_entry_len() - size of one invalidation entry
 * @format: VHOST_IOMMU_INV_FORMAT_*
 *
 * Return: the entry size in bytes, or 0 for an unknown format.
 */
u32 vhost_iommu_inval_entry_len(u32 format)
{
	switch (format) {
	case VHOST_IOMMU_INV_FORMAT_SELFTEST:
		return sizeof(struct vhost_iommu_selftest_inv);
	case VHOST_IOMMU_INV_FORMAT_VTD_S1:
		return sizeof(struct iommu_hwpt_vtd_s1_invalidate);
	case VHOST_IOMMU_INV_FORMAT_ARM_SMMUV3:
		return SMMU_CMD_LEN;
	case VHOST_IOMMU_INV_FORMAT_VIOMMU_SELFTEST:
		return sizeof(struct vhost_iommu_viommu_selftest_inv);
	default:
		return 0;
	}
}
EXPORT_SYMBOL_IF_KUNIT(vhost_iommu_inval_entry_len);

/* What the TLB part of a request covers once fitted to the domain. */
struct inval_range {
	bool all;	/* every address of the domain */
	bool empty;	/* nothing the domain can have cached */
	u64 first;
	u64 last;
};

static void inval_range(const struct vhost_iommu_inval_target *t,
			const struct vhost_iommu_inval *inv,
			struct inval_range *r)
{
	u64 granule_mask = BIT_ULL(t->granule_log2) - 1;

	*r = (struct inval_range) { .all = true, .last = U64_MAX };
	if (inv->scope != VIRTIO_IOMMU_INVAL_S_ADDRESS)
		return;

	/* Nothing is cached outside the input range. */
	r->first = max(inv->first, t->input_start);
	r->last = min(inv->last, t->input_end);
	if (r->first > r->last) {
		r->all = false;
		r->empty = true;
		return;
	}
	/* A leaf can be no smaller than the granule. */
	r->first &= ~granule_mask;
	r->last |= granule_mask;
	r->all = !r->first && r->last == U64_MAX;
}

/*
 * The mock's slot rule, for its HWPT and its vIOMMU alike: the slot named
 * by an ADDRESS-scope ID, else all of them. The mock has TLB slots only.
 * Return: 1 with @flags and @slot set, 0 for nothing to do, or
 * -VIRTIO_IOMMU_S_UNSUPP.
 */
static int inval_mock_slot(const struct vhost_iommu_inval *inv,
			   const struct inval_range *r, u32 *flags, u32 *slot)
{
	if (!(inv->caches & VIRTIO_IOMMU_INVAL_C_TLB))
		return -VIRTIO_IOMMU_S_UNSUPP;
	if (r->empty)
		return 0;
	*flags = 0;
	*slot = 0;
	if (!r->all && (inv->flags & VIRTIO_IOMMU_INVAL_F_ID) &&
	    inv->id <= U32_MAX)
		*slot = inv->id;
	else
		*flags = SELFTEST_INV_FLAG_ALL;
	return 1;
}

static int inval_selftest(const struct vhost_iommu_inval *inv,
			  const struct inval_range *r, void *entries)
{
	struct vhost_iommu_selftest_inv e;
	int ret;

	ret = inval_mock_slot(inv, r, &e.flags, &e.iotlb_id);
	if (ret > 0)
		memcpy(entries, &e, sizeof(e));
	return ret;
}

/* The mock vIOMMU caches per device: one entry for each endpoint. */
static int inval_viommu_selftest(const struct vhost_iommu_inval_target *t,
				 const struct vhost_iommu_inval *inv,
				 const struct inval_range *r, void *entries)
{
	struct vhost_iommu_viommu_selftest_inv e;
	u32 i;
	int ret;

	ret = inval_mock_slot(inv, r, &e.flags, &e.cache_id);
	if (ret <= 0)
		return ret;
	for (i = 0; i < t->nr_sids; i++) {
		e.vdev_id = t->sids[i];
		memcpy((u8 *)entries + i * sizeof(e), &e, sizeof(e));
	}
	return t->nr_sids;
}

static int inval_vtd_s1(const struct vhost_iommu_inval *inv,
			const struct inval_range *r, void *entries)
{
	struct iommu_hwpt_vtd_s1_invalidate e = {};
	u64 first, last;

	/* The format only reaches the IOTLB (and device TLBs with it). */
	if (inv->caches & VIRTIO_IOMMU_INVAL_C_PASID)
		return -VIRTIO_IOMMU_S_UNSUPP;
	if (r->empty)
		return 0;

	first = r->first & ~(u64)(SZ_4K - 1);
	last = r->last | (SZ_4K - 1);
	/* Page-selective invalidation may spare global pages: flush all. */
	if (r->all || (inv->flags & VIRTIO_IOMMU_INVAL_F_GLOBAL) ||
	    (!first && last == U64_MAX)) {
		e.npages = U64_MAX;
	} else {
		e.addr = first;
		e.npages = (last - first + 1) >> 12;
		if (inv->flags & VIRTIO_IOMMU_INVAL_F_LEAF)
			e.flags = IOMMU_VTD_INV_FLAGS_LEAF;
	}
	memcpy(entries, &e, sizeof(e));
	return 1;
}

static int smmu_put(void *entries, int n, u64 cmd0, u64 cmd1)
{
	__le64 cmd[2] = { cpu_to_le64(cmd0), cpu_to_le64(cmd1) };

	memcpy((u8 *)entries + n * SMMU_CMD_LEN, cmd, SMMU_CMD_LEN);
	return n + 1;
}

/* The smallest naturally aligned block of 4 KiB pages around the range */
static void smmu_atc_block(const struct inval_range *r, u64 *size, u64 *addr)
{
	unsigned int order;

	if (r->all) {
		*size = SMMU_ATC_SIZE_ALL;
		*addr = 0;
		return;
	}
	order = fls64((r->first >> 12) ^ (r->last >> 12));
	if (order >= SMMU_ATC_SIZE_ALL) {
		*size = SMMU_ATC_SIZE_ALL;
		*addr = 0;
		return;
	}
	*size = order;
	*addr = r->first & ~(BIT_ULL(order + 12) - 1);
}

static int inval_smmuv3(const struct vhost_iommu_inval_target *t,
			const struct vhost_iommu_inval *inv,
			const struct inval_range *r, void *entries)
{
	bool leaf = inv->flags & VIRTIO_IOMMU_INVAL_F_LEAF;
	bool pasid = inv->flags & VIRTIO_IOMMU_INVAL_F_PASID;
	bool asid = (inv->flags & VIRTIO_IOMMU_INVAL_F_ID) &&
		    inv->id <= SMMU_MAX_ASID;
	u64 cmd0, cmd1, nr_pages, size, addr, i;
	int n = 0;

	/* A wider PASID would alias another substream. */
	if (pasid && inv->pasid > SMMU_MAX_SSID)
		return -VIRTIO_IOMMU_S_UNSUPP;

	/* CD caches are not address-tagged: the range does not limit them. */
	if (inv->caches & VIRTIO_IOMMU_INVAL_C_PASID) {
		for (i = 0; i < t->nr_sids; i++) {
			cmd0 = FIELD_PREP(SMMU_CFGI_0_SID, t->sids[i]);
			cmd1 = 0;
			if (pasid) {
				cmd0 |= FIELD_PREP(SMMU_CMD_OP, SMMU_OP_CFGI_CD) |
					FIELD_PREP(SMMU_CFGI_0_SSID, inv->pasid);
				if (leaf)
					cmd1 |= SMMU_CFGI_1_LEAF;
			} else {
				cmd0 |= FIELD_PREP(SMMU_CMD_OP,
						   SMMU_OP_CFGI_CD_ALL);
			}
			n = smmu_put(entries, n, cmd0, cmd1);
		}
	}

	if (!(inv->caches & VIRTIO_IOMMU_INVAL_C_TLB) || r->empty)
		return n;

	nr_pages = r->all ? U64_MAX :
		   ((r->last - r->first) >> t->granule_log2) + 1;
	if (nr_pages > SMMU_TLBI_MAX_VA) {
		if (asid)
			cmd0 = FIELD_PREP(SMMU_CMD_OP, SMMU_OP_TLBI_NH_ASID) |
			       FIELD_PREP(SMMU_TLBI_0_ASID, inv->id);
		else
			cmd0 = FIELD_PREP(SMMU_CMD_OP, SMMU_OP_TLBI_NH_ALL);
		n = smmu_put(entries, n, cmd0, 0);
	} else {
		if (asid)
			cmd0 = FIELD_PREP(SMMU_CMD_OP, SMMU_OP_TLBI_NH_VA) |
			       FIELD_PREP(SMMU_TLBI_0_ASID, inv->id);
		else
			cmd0 = FIELD_PREP(SMMU_CMD_OP, SMMU_OP_TLBI_NH_VAA);
		for (i = 0; i < nr_pages; i++) {
			addr = r->first + (i << t->granule_log2);
			cmd1 = addr & SMMU_TLBI_1_ADDR;
			if (leaf)
				cmd1 |= SMMU_TLBI_1_LEAF;
			n = smmu_put(entries, n, cmd0, cmd1);
		}
	}

	/* Device TLBs: C_TLB includes them. */
	smmu_atc_block(r, &size, &addr);
	cmd1 = FIELD_PREP(SMMU_ATC_1_SIZE, size) | (addr & SMMU_ATC_1_ADDR);
	for (i = 0; i < t->nr_sids; i++) {
		cmd0 = FIELD_PREP(SMMU_CMD_OP, SMMU_OP_ATC_INV) |
		       FIELD_PREP(SMMU_ATC_0_SID, t->sids[i]);
		if (pasid)
			cmd0 |= SMMU_ATC_0_SSV |
				FIELD_PREP(SMMU_ATC_0_SSID, inv->pasid);
		if (inv->flags & VIRTIO_IOMMU_INVAL_F_GLOBAL)
			cmd0 |= SMMU_ATC_0_GLOBAL;
		n = smmu_put(entries, n, cmd0, cmd1);
	}
	return n;
}

/**
 * vhost_iommu_inval_translate() - translate a request into @t's format
 * @t: the binding the request goes to
 * @inv: a request validated by vhost_iommu_inval_parse()
 * @entries: room for %VHOST_IOMMU_INV_MAX_ENTRIES entries of
 *           vhost_iommu_inval_entry_len(@t->format) bytes
 *
 * An ADDRESS range is cropped to @t's input range and widened to its
 * granule; a range that then covers the whole space is handled as DOMAIN
 * scope. The entries cover at least what the guest asked for.
 *
 * Return: the number of entries written, 0 when there is nothing to
 * invalidate; -VIRTIO_IOMMU_S_UNSUPP when the format cannot express the
 * request without narrowing it; -VIRTIO_IOMMU_S_INVAL for an unknown format
 * or a malformed target (granule outside 12..63, empty input range, too
 * many SIDs).
 */
int vhost_iommu_inval_translate(const struct vhost_iommu_inval_target *t,
				const struct vhost_iommu_inval *inv,
				void *entries)
{
	struct inval_range r;

	if (t->granule_log2 < 12 || t->granule_log2 > 63 ||
	    t->input_start > t->input_end ||
	    t->nr_sids > VHOST_IOMMU_MAX_BIND_ENDPOINTS)
		return -VIRTIO_IOMMU_S_INVAL;

	inval_range(t, inv, &r);

	switch (t->format) {
	case VHOST_IOMMU_INV_FORMAT_SELFTEST:
		return inval_selftest(inv, &r, entries);
	case VHOST_IOMMU_INV_FORMAT_VTD_S1:
		return inval_vtd_s1(inv, &r, entries);
	case VHOST_IOMMU_INV_FORMAT_ARM_SMMUV3:
		return inval_smmuv3(t, inv, &r, entries);
	case VHOST_IOMMU_INV_FORMAT_VIOMMU_SELFTEST:
		return inval_viommu_selftest(t, inv, &r, entries);
	default:
		return -VIRTIO_IOMMU_S_INVAL;
	}
}
EXPORT_SYMBOL_IF_KUNIT(vhost_iommu_inval_translate);
