// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite vhost_iommu_invalidate: validation of INVALIDATE requests and
 * their translation into selftest (HWPT and vIOMMU), VT-d and SMMUv3
 * invalidation entries.
 * Entries are decoded with this file's own layouts, not the driver's.
 */
#include <kunit/test.h>
#include <linux/bitfield.h>
#include <linux/bits.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <uapi/linux/iommufd.h>

#include "../invalidate.h"

#define S_DOMAIN	VIRTIO_IOMMU_INVAL_S_DOMAIN
#define S_PASID		VIRTIO_IOMMU_INVAL_S_PASID
#define S_ADDRESS	VIRTIO_IOMMU_INVAL_S_ADDRESS
#define C_PASID		VIRTIO_IOMMU_INVAL_C_PASID
#define C_TLB		VIRTIO_IOMMU_INVAL_C_TLB
#define F_LEAF		VIRTIO_IOMMU_INVAL_F_LEAF
#define F_PASID		VIRTIO_IOMMU_INVAL_F_PASID
#define F_ID		VIRTIO_IOMMU_INVAL_F_ID
#define F_GLOBAL	VIRTIO_IOMMU_INVAL_F_GLOBAL

#define SELFTEST	VHOST_IOMMU_INV_FORMAT_SELFTEST
#define VTD		VHOST_IOMMU_INV_FORMAT_VTD_S1
#define SMMU		VHOST_IOMMU_INV_FORMAT_ARM_SMMUV3
#define VSELFTEST	VHOST_IOMMU_INV_FORMAT_VIOMMU_SELFTEST
/* No format has this number. */
#define NO_FORMAT	(VSELFTEST + 1)

#define UNSUPP		(-VIRTIO_IOMMU_S_UNSUPP)
#define INVAL		(-VIRTIO_IOMMU_S_INVAL)

/* iommufd's selftest entry */
struct t_selftest_inv {
	u32 flags;
	u32 iotlb_id;
};

#define T_SELFTEST_ALL		BIT(0)

/* iommufd's selftest vIOMMU entry */
struct t_vselftest_inv {
	u32 flags;
	u32 vdev_id;
	u32 cache_id;
};

/* SMMUv3 command fields */
#define T_OP			GENMASK_ULL(7, 0)
#define T_CFGI_CD		0x05
#define T_CFGI_CD_ALL		0x06
#define T_TLBI_NH_ALL		0x10
#define T_TLBI_NH_ASID		0x11
#define T_TLBI_NH_VA		0x12
#define T_TLBI_NH_VAA		0x13
#define T_ATC_INV		0x40

#define T_CFGI_0_SSID		GENMASK_ULL(31, 12)
#define T_CFGI_0_SID		GENMASK_ULL(63, 32)
#define T_CFGI_1_LEAF		BIT_ULL(0)

#define T_TLBI_0_NUM		GENMASK_ULL(16, 12)
#define T_TLBI_0_SCALE		GENMASK_ULL(24, 20)
#define T_TLBI_0_VMID		GENMASK_ULL(47, 32)
#define T_TLBI_0_ASID		GENMASK_ULL(63, 48)
#define T_TLBI_1_LEAF		BIT_ULL(0)
#define T_TLBI_1_TTL		GENMASK_ULL(9, 8)
#define T_TLBI_1_TG		GENMASK_ULL(11, 10)
#define T_TLBI_1_ADDR		GENMASK_ULL(63, 12)

#define T_ATC_0_GLOBAL		BIT_ULL(9)
#define T_ATC_0_SSV		BIT_ULL(11)
#define T_ATC_0_SSID		GENMASK_ULL(31, 12)
#define T_ATC_0_SID		GENMASK_ULL(63, 32)
#define T_ATC_1_SIZE		GENMASK_ULL(5, 0)
#define T_ATC_1_ADDR		GENMASK_ULL(63, 12)

#define SMMU_LEN		16
#define VTD_LEN			sizeof(struct iommu_hwpt_vtd_s1_invalidate)
#define SELFTEST_LEN		sizeof(struct t_selftest_inv)
#define VSELFTEST_LEN		sizeof(struct t_vselftest_inv)

/* Pattern of bytes the translation must not write */
#define UNTOUCHED		0xa5
#define BUF_ENTRIES		(VHOST_IOMMU_INV_MAX_ENTRIES + 1)

static u8 *entry_buf(struct kunit *test)
{
	size_t len = BUF_ENTRIES * VHOST_IOMMU_INV_MAX_ENTRY_LEN;
	u8 *buf = kunit_kmalloc(test, len, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	memset(buf, UNTOUCHED, len);
	return buf;
}

static void reset_buf(u8 *buf)
{
	memset(buf, UNTOUCHED, BUF_ENTRIES * VHOST_IOMMU_INV_MAX_ENTRY_LEN);
}

static void expect_untouched(struct kunit *test, const u8 *buf, int i,
			     size_t len)
{
	KUNIT_EXPECT_PTR_EQ_MSG(test, NULL,
				memchr_inv(buf + i * len, UNTOUCHED, len),
				"entry %d was written", i);
}

static struct virtio_iommu_req_invalidate req(u8 scope, u8 caches, u16 flags)
{
	return (struct virtio_iommu_req_invalidate) {
		.scope = scope,
		.caches = caches,
		.flags = cpu_to_le16(flags),
	};
}

static void req_range(struct virtio_iommu_req_invalidate *r, u64 address,
		      u64 nr_pages, u8 page_size)
{
	r->address = cpu_to_le64(address);
	r->nr_pages = cpu_to_le64(nr_pages);
	r->page_size = page_size;
}

/* A parsed request: DOMAIN/PASID scope cover everything. */
static struct vhost_iommu_inval inv(u8 scope, u8 caches, u16 flags)
{
	return (struct vhost_iommu_inval) {
		.scope = scope,
		.caches = caches,
		.flags = flags,
		.first = 0,
		.last = U64_MAX,
	};
}

static struct vhost_iommu_inval inv_addr(u8 caches, u16 flags, u64 first,
					 u64 last)
{
	return (struct vhost_iommu_inval) {
		.scope = S_ADDRESS,
		.caches = caches,
		.flags = flags,
		.first = first,
		.last = last,
	};
}

/* A 48-bit, 4 KiB-granule domain */
static struct vhost_iommu_inval_target target(u32 format)
{
	return (struct vhost_iommu_inval_target) {
		.format = format,
		.input_start = 0,
		.input_end = BIT_ULL(48) - 1,
		.granule_log2 = 12,
	};
}

static struct t_selftest_inv selftest_entry(const u8 *buf, int i)
{
	struct t_selftest_inv e;

	memcpy(&e, buf + i * SELFTEST_LEN, sizeof(e));
	return e;
}

static struct t_vselftest_inv vselftest_entry(const u8 *buf, int i)
{
	struct t_vselftest_inv e;

	memcpy(&e, buf + i * VSELFTEST_LEN, sizeof(e));
	return e;
}

static void expect_vselftest(struct kunit *test, const u8 *buf, int i,
			     u32 flags, u32 vdev_id, u32 cache_id)
{
	struct t_vselftest_inv e = vselftest_entry(buf, i);

	KUNIT_EXPECT_EQ_MSG(test, e.flags, flags, "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, e.vdev_id, vdev_id, "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, e.cache_id, cache_id, "entry %d", i);
}

static struct iommu_hwpt_vtd_s1_invalidate vtd_entry(const u8 *buf, int i)
{
	struct iommu_hwpt_vtd_s1_invalidate e;

	memcpy(&e, buf + i * VTD_LEN, sizeof(e));
	return e;
}

static void expect_vtd(struct kunit *test, const u8 *buf, int i, u64 addr,
		       u64 npages, u32 flags)
{
	struct iommu_hwpt_vtd_s1_invalidate e = vtd_entry(buf, i);

	KUNIT_EXPECT_EQ_MSG(test, e.addr, addr, "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, e.npages, npages, "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, e.flags, flags, "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, e.__reserved, 0, "entry %d", i);
}

static void smmu_cmd(const u8 *buf, int i, u64 *cmd0, u64 *cmd1)
{
	__le64 w[2];

	memcpy(w, buf + i * SMMU_LEN, sizeof(w));
	*cmd0 = le64_to_cpu(w[0]);
	*cmd1 = le64_to_cpu(w[1]);
}

static void expect_cfgi_cd(struct kunit *test, const u8 *buf, int i,
			   u32 sid, u32 ssid, bool leaf)
{
	u64 c0, c1;

	smmu_cmd(buf, i, &c0, &c1);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_OP, c0), T_CFGI_CD, "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_CFGI_0_SID, c0), sid,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_CFGI_0_SSID, c0), ssid,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, c0 & GENMASK_ULL(11, 8), 0, "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, c1, leaf ? T_CFGI_1_LEAF : 0, "entry %d", i);
}

static void expect_cfgi_cd_all(struct kunit *test, const u8 *buf, int i,
			       u32 sid)
{
	u64 c0, c1;

	smmu_cmd(buf, i, &c0, &c1);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_OP, c0), T_CFGI_CD_ALL,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_CFGI_0_SID, c0), sid,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, c0 & GENMASK_ULL(31, 8), 0, "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, c1, 0, "entry %d", i);
}

/* TLBI_NH_ALL or TLBI_NH_ASID: no address, no VMID. */
static void expect_tlbi_ctx(struct kunit *test, const u8 *buf, int i, u8 op,
			    u16 asid)
{
	u64 c0, c1;

	smmu_cmd(buf, i, &c0, &c1);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_OP, c0), op, "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_TLBI_0_ASID, c0), asid,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_TLBI_0_VMID, c0), 0,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, c0 & ~(T_OP | T_TLBI_0_ASID), 0,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, c1, 0, "entry %d", i);
}

/* TLBI_NH_VA or TLBI_NH_VAA of one page, not a range command. */
static void expect_tlbi_page(struct kunit *test, const u8 *buf, int i, u8 op,
			     u16 asid, u64 addr, bool leaf)
{
	u64 c0, c1;

	smmu_cmd(buf, i, &c0, &c1);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_OP, c0), op, "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_TLBI_0_ASID, c0), asid,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_TLBI_0_NUM, c0), 0,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_TLBI_0_SCALE, c0), 0,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_TLBI_0_VMID, c0), 0,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, c1 & T_TLBI_1_ADDR, addr, "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_TLBI_1_LEAF, c1), leaf,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_TLBI_1_TTL, c1), 0,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_TLBI_1_TG, c1), 0,
			    "entry %d", i);
}

struct t_atc {
	u32 sid;
	bool ssv;
	u32 ssid;
	bool global;
	u8 size;
	u64 addr;
};

static void expect_atc(struct kunit *test, const u8 *buf, int i,
		       const struct t_atc *a)
{
	u64 c0, c1;

	smmu_cmd(buf, i, &c0, &c1);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_OP, c0), T_ATC_INV, "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_ATC_0_SID, c0), a->sid,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_ATC_0_SSV, c0), a->ssv,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_ATC_0_SSID, c0), a->ssid,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_ATC_0_GLOBAL, c0), a->global,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, FIELD_GET(T_ATC_1_SIZE, c1), a->size,
			    "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, c1 & T_ATC_1_ADDR, a->addr, "entry %d", i);
	KUNIT_EXPECT_EQ_MSG(test, c1 & GENMASK_ULL(11, 6), 0, "entry %d", i);
}

/* Parsing */

static void inval_parse_fields(struct kunit *test)
{
	struct virtio_iommu_req_invalidate r = req(S_DOMAIN, C_TLB | C_PASID,
						   F_ID | F_PASID | F_GLOBAL);
	struct vhost_iommu_inval v;

	r.domain = cpu_to_le32(0x12345678);
	r.pasid = cpu_to_le32(0xabcde);
	r.id = cpu_to_le64(0x1122334455667788ULL);
	/* Range fields mean nothing outside ADDRESS scope. */
	req_range(&r, 0x1234, 0, 200);
	KUNIT_ASSERT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
	KUNIT_EXPECT_EQ(test, v.scope, S_DOMAIN);
	KUNIT_EXPECT_EQ(test, v.caches, C_TLB | C_PASID);
	KUNIT_EXPECT_EQ(test, v.flags, F_ID | F_PASID | F_GLOBAL);
	KUNIT_EXPECT_EQ(test, v.domain, 0x12345678);
	KUNIT_EXPECT_EQ(test, v.pasid, 0xabcde);
	KUNIT_EXPECT_EQ(test, v.id, 0x1122334455667788ULL);
	KUNIT_EXPECT_EQ(test, v.first, 0);
	KUNIT_EXPECT_EQ(test, v.last, U64_MAX);

	r.scope = S_PASID;
	KUNIT_ASSERT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
	KUNIT_EXPECT_EQ(test, v.scope, S_PASID);
	KUNIT_EXPECT_EQ(test, v.first, 0);
	KUNIT_EXPECT_EQ(test, v.last, U64_MAX);
}

static void inval_parse_bad_scope(struct kunit *test)
{
	static const u8 scopes[] = { 0, 4, 5, 0x80, 0xff };
	struct virtio_iommu_req_invalidate r = req(0, C_TLB, 0);
	struct vhost_iommu_inval v, before;
	int i;

	memset(&v, 0x5a, sizeof(v));
	memcpy(&before, &v, sizeof(v));
	for (i = 0; i < ARRAY_SIZE(scopes); i++) {
		r.scope = scopes[i];
		KUNIT_EXPECT_EQ_MSG(test, VIRTIO_IOMMU_S_INVAL,
				    vhost_iommu_inval_parse(&r, &v),
				    "scope %u", scopes[i]);
	}
	/* A rejected request leaves the output alone. */
	KUNIT_EXPECT_EQ(test, 0, memcmp(&v, &before, sizeof(v)));
}

static void inval_parse_bad_caches(struct kunit *test)
{
	static const u8 bad[] = { 0, BIT(2), BIT(7), C_TLB | BIT(3),
				  C_PASID | C_TLB | BIT(5) };
	struct virtio_iommu_req_invalidate r = req(S_DOMAIN, 0, 0);
	struct vhost_iommu_inval v;
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		r.caches = bad[i];
		KUNIT_EXPECT_EQ_MSG(test, VIRTIO_IOMMU_S_INVAL,
				    vhost_iommu_inval_parse(&r, &v),
				    "caches %#x", bad[i]);
	}
	r.caches = C_PASID;
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
	r.caches = C_TLB;
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
	r.caches = C_PASID | C_TLB;
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
}

static void inval_parse_bad_flags(struct kunit *test)
{
	struct virtio_iommu_req_invalidate r = req(S_DOMAIN, C_TLB, 0);
	struct vhost_iommu_inval v;
	int bit;

	for (bit = 4; bit < 16; bit++) {
		r.flags = cpu_to_le16(F_LEAF | BIT(bit));
		KUNIT_EXPECT_EQ_MSG(test, VIRTIO_IOMMU_S_INVAL,
				    vhost_iommu_inval_parse(&r, &v),
				    "flag bit %d", bit);
	}
	r.flags = cpu_to_le16(F_LEAF | F_PASID | F_ID | F_GLOBAL);
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
	KUNIT_EXPECT_EQ(test, v.flags, F_LEAF | F_PASID | F_ID | F_GLOBAL);
}

static void inval_parse_pasid_scope_needs_pasid(struct kunit *test)
{
	struct virtio_iommu_req_invalidate r = req(S_PASID, C_TLB, F_ID);
	struct vhost_iommu_inval v;

	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			vhost_iommu_inval_parse(&r, &v));
	r.flags = cpu_to_le16(F_ID | F_PASID);
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
	/* The other scopes may or may not name a PASID. */
	r.scope = S_DOMAIN;
	r.flags = 0;
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
}

static void inval_parse_reserved(struct kunit *test)
{
	struct virtio_iommu_req_invalidate r = req(S_ADDRESS, C_TLB, 0);
	struct vhost_iommu_inval v;
	int i;

	req_range(&r, SZ_1M, 1, 12);
	KUNIT_ASSERT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
	for (i = 0; i < sizeof(r.reserved); i++) {
		r.reserved[i] = 0x80;
		KUNIT_EXPECT_EQ_MSG(test, VIRTIO_IOMMU_S_INVAL,
				    vhost_iommu_inval_parse(&r, &v),
				    "reserved[%d]", i);
		r.reserved[i] = 0;
	}
}

static void inval_parse_address_errors(struct kunit *test)
{
	struct virtio_iommu_req_invalidate r = req(S_ADDRESS, C_TLB, 0);
	struct vhost_iommu_inval v;

	req_range(&r, 0, 1, 64);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			vhost_iommu_inval_parse(&r, &v));
	req_range(&r, 0, 1, 255);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			vhost_iommu_inval_parse(&r, &v));
	req_range(&r, SZ_1M, 0, 12);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			vhost_iommu_inval_parse(&r, &v));
	/* nr_pages << page_size beyond 2^64 */
	req_range(&r, 0, BIT_ULL(52) + 1, 12);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			vhost_iommu_inval_parse(&r, &v));
	req_range(&r, 0, 3, 63);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			vhost_iommu_inval_parse(&r, &v));
	req_range(&r, 0, U64_MAX, 1);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			vhost_iommu_inval_parse(&r, &v));
	/* address + size - 1 beyond U64_MAX */
	req_range(&r, 0xfffffffffffff000ULL, 2, 12);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			vhost_iommu_inval_parse(&r, &v));
	req_range(&r, 0xfffffffffffff001ULL, 1, 12);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			vhost_iommu_inval_parse(&r, &v));
	req_range(&r, SZ_4K, BIT_ULL(52), 12);
	KUNIT_EXPECT_EQ(test, VIRTIO_IOMMU_S_INVAL,
			vhost_iommu_inval_parse(&r, &v));
	/* The last page of the space is fine. */
	req_range(&r, 0xfffffffffffff000ULL, 1, 12);
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
}

static void inval_parse_address_whole_space(struct kunit *test)
{
	struct virtio_iommu_req_invalidate r = req(S_ADDRESS, C_TLB, 0);
	struct vhost_iommu_inval v;

	req_range(&r, 0, BIT_ULL(52), 12);
	KUNIT_ASSERT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
	KUNIT_EXPECT_EQ(test, v.scope, S_ADDRESS);
	KUNIT_EXPECT_EQ(test, v.first, 0);
	KUNIT_EXPECT_EQ(test, v.last, U64_MAX);

	req_range(&r, 0, 2, 63);
	KUNIT_ASSERT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
	KUNIT_EXPECT_EQ(test, v.first, 0);
	KUNIT_EXPECT_EQ(test, v.last, U64_MAX);

	/* Byte pages: 2^64 of them cannot be said, U64_MAX can. */
	req_range(&r, 1, U64_MAX, 0);
	KUNIT_ASSERT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
	KUNIT_EXPECT_EQ(test, v.first, 1);
	KUNIT_EXPECT_EQ(test, v.last, U64_MAX);
}

static void inval_parse_address_widening(struct kunit *test)
{
	struct virtio_iommu_req_invalidate r = req(S_ADDRESS, C_TLB, F_LEAF);
	struct vhost_iommu_inval v;

	/* Aligned: taken as is. */
	req_range(&r, SZ_2M, 2, 21);
	KUNIT_ASSERT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
	KUNIT_EXPECT_EQ(test, v.first, SZ_2M);
	KUNIT_EXPECT_EQ(test, v.last, 3ULL * SZ_2M - 1);

	/* Unaligned start: both ends move out to whole pages. */
	req_range(&r, 0x1800, 1, 12);
	KUNIT_ASSERT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
	KUNIT_EXPECT_EQ(test, v.first, 0x1000);
	KUNIT_EXPECT_EQ(test, v.last, 0x2fff);

	/* [0x3000, 0x4fff] sent as one 8 KiB page: cover all of it. */
	req_range(&r, 0x3000, 1, 13);
	KUNIT_ASSERT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
	KUNIT_EXPECT_EQ(test, v.first, 0x2000);
	KUNIT_EXPECT_EQ(test, v.last, 0x5fff);

	/* Rounding the end up at the top of the space stops at U64_MAX. */
	req_range(&r, 0xffffffffffffe800ULL, 1, 12);
	KUNIT_ASSERT_EQ(test, 0, vhost_iommu_inval_parse(&r, &v));
	KUNIT_EXPECT_EQ(test, v.first, 0xffffffffffffe000ULL);
	KUNIT_EXPECT_EQ(test, v.last, U64_MAX);
}

/* Translation */

static void inval_entry_len(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 8, vhost_iommu_inval_entry_len(SELFTEST));
	KUNIT_EXPECT_EQ(test, 24, vhost_iommu_inval_entry_len(VTD));
	KUNIT_EXPECT_EQ(test, 16, vhost_iommu_inval_entry_len(SMMU));
	KUNIT_EXPECT_EQ(test, 12, vhost_iommu_inval_entry_len(VSELFTEST));
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_inval_entry_len(0));
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_inval_entry_len(NO_FORMAT));
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_inval_entry_len(U32_MAX));
	KUNIT_EXPECT_LE(test, vhost_iommu_inval_entry_len(VTD),
			VHOST_IOMMU_INV_MAX_ENTRY_LEN);
}

static void inval_translate_bad_target(struct kunit *test)
{
	struct vhost_iommu_inval v = inv(S_DOMAIN, C_TLB, 0);
	struct vhost_iommu_inval_target t;
	u8 *buf = entry_buf(test);

	t = target(0);
	KUNIT_EXPECT_EQ(test, INVAL, vhost_iommu_inval_translate(&t, &v, buf));
	t = target(NO_FORMAT);
	KUNIT_EXPECT_EQ(test, INVAL, vhost_iommu_inval_translate(&t, &v, buf));
	t = target(VTD);
	t.granule_log2 = 11;
	KUNIT_EXPECT_EQ(test, INVAL, vhost_iommu_inval_translate(&t, &v, buf));
	t.granule_log2 = 64;
	KUNIT_EXPECT_EQ(test, INVAL, vhost_iommu_inval_translate(&t, &v, buf));
	t = target(SELFTEST);
	t.input_start = SZ_1M;
	t.input_end = SZ_1M - 1;
	KUNIT_EXPECT_EQ(test, INVAL, vhost_iommu_inval_translate(&t, &v, buf));
	t = target(SMMU);
	t.nr_sids = VHOST_IOMMU_MAX_BIND_ENDPOINTS + 1;
	KUNIT_EXPECT_EQ(test, INVAL, vhost_iommu_inval_translate(&t, &v, buf));
	t.format = VSELFTEST;
	KUNIT_EXPECT_EQ(test, INVAL, vhost_iommu_inval_translate(&t, &v, buf));
	expect_untouched(test, buf, 0, VHOST_IOMMU_INV_MAX_ENTRY_LEN);
}

static void inval_translate_crop_partial(struct kunit *test)
{
	struct vhost_iommu_inval_target t = target(VTD);
	struct vhost_iommu_inval v;
	u8 *buf = entry_buf(test);

	t.input_start = SZ_1M;
	t.input_end = SZ_4G - 1;

	/* Starts below the input range */
	v = inv_addr(C_TLB, 0, 0x80000, 0x100fff);
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vtd(test, buf, 0, SZ_1M, 1, 0);

	/* Ends above it */
	v = inv_addr(C_TLB, 0, SZ_4G - SZ_4K, SZ_4G + SZ_8K - 1);
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vtd(test, buf, 0, SZ_4G - SZ_4K, 1, 0);

	/* Both */
	v = inv_addr(C_TLB, 0, 0, U64_MAX - SZ_4K);
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vtd(test, buf, 0, SZ_1M, (SZ_4G - SZ_1M) >> 12, 0);

	/* An input range off the granule: the cropped end is widened. */
	t.input_start = SZ_1M + 0x800;
	v = inv_addr(C_TLB, 0, 0, SZ_1M + SZ_4K - 1);
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vtd(test, buf, 0, SZ_1M, 1, 0);
}

static void inval_translate_crop_outside(struct kunit *test)
{
	struct vhost_iommu_inval_target t;
	struct vhost_iommu_inval below = inv_addr(C_TLB, F_ID, 0, SZ_1M - 1);
	struct vhost_iommu_inval above = inv_addr(C_TLB, F_ID, SZ_4G,
						  SZ_4G + SZ_4K - 1);
	u8 *buf = entry_buf(test);
	u32 format;

	for (format = SELFTEST; format <= VSELFTEST; format++) {
		t = target(format);
		t.input_start = SZ_1M;
		t.input_end = SZ_4G - 1;
		t.nr_sids = 1;
		t.sids[0] = 7;
		KUNIT_EXPECT_EQ_MSG(test, 0,
				    vhost_iommu_inval_translate(&t, &below, buf),
				    "format %u", format);
		KUNIT_EXPECT_EQ_MSG(test, 0,
				    vhost_iommu_inval_translate(&t, &above, buf),
				    "format %u", format);
	}
	expect_untouched(test, buf, 0, VHOST_IOMMU_INV_MAX_ENTRY_LEN);

	/* CD caches hold no addresses: their CFGI is still due. */
	t.format = SMMU;
	above.caches |= C_PASID;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &above, buf));
	expect_cfgi_cd_all(test, buf, 0, 7);
	expect_untouched(test, buf, 1, SMMU_LEN);
}

static void inval_translate_granule_widening(struct kunit *test)
{
	struct vhost_iommu_inval_target t = target(VTD);
	struct vhost_iommu_inval v;
	u8 *buf = entry_buf(test);

	t.granule_log2 = 21;
	v = inv_addr(C_TLB, F_LEAF, SZ_2M + SZ_4K, SZ_2M + SZ_8K - 1);
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vtd(test, buf, 0, SZ_2M, SZ_2M >> 12, IOMMU_VTD_INV_FLAGS_LEAF);

	/* Straddles a 2 MiB boundary: two granule pages */
	v = inv_addr(C_TLB, 0, SZ_4M - SZ_4K, SZ_4M + SZ_4K - 1);
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vtd(test, buf, 0, SZ_2M, SZ_4M >> 12, 0);

	/* Widened to the whole space by a 2^63 granule: flush all. */
	t.input_end = U64_MAX;
	t.granule_log2 = 63;
	v = inv_addr(C_TLB, F_LEAF, SZ_4K, BIT_ULL(63));
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vtd(test, buf, 0, 0, U64_MAX, 0);
}

static void inval_translate_whole_space(struct kunit *test)
{
	struct vhost_iommu_inval v = inv_addr(C_TLB, F_ID | F_LEAF, 0, U64_MAX);
	struct t_atc atc = { .sid = 3, .size = 52, .addr = 0 };
	struct vhost_iommu_inval_target t;
	u8 *buf = entry_buf(test);

	v.id = 2;

	t = target(SELFTEST);
	t.input_end = U64_MAX;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	KUNIT_EXPECT_EQ(test, selftest_entry(buf, 0).flags, T_SELFTEST_ALL);
	KUNIT_EXPECT_EQ(test, selftest_entry(buf, 0).iotlb_id, 0);

	t.format = VTD;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vtd(test, buf, 0, 0, U64_MAX, 0);

	t.format = SMMU;
	t.nr_sids = 1;
	t.sids[0] = 3;
	KUNIT_ASSERT_EQ(test, 2, vhost_iommu_inval_translate(&t, &v, buf));
	expect_tlbi_ctx(test, buf, 0, T_TLBI_NH_ASID, 2);
	expect_atc(test, buf, 1, &atc);
}

static void inval_selftest_address_id(struct kunit *test)
{
	struct vhost_iommu_inval_target t = target(SELFTEST);
	struct vhost_iommu_inval v = inv_addr(C_TLB, F_ID, SZ_1M,
					      SZ_1M + SZ_8K - 1);
	u8 *buf = entry_buf(test);

	v.id = 3;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	KUNIT_EXPECT_EQ(test, selftest_entry(buf, 0).flags, 0);
	KUNIT_EXPECT_EQ(test, selftest_entry(buf, 0).iotlb_id, 3);
	expect_untouched(test, buf, 1, SELFTEST_LEN);

	/* The mock checks the slot number, not us. */
	v.id = U32_MAX;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	KUNIT_EXPECT_EQ(test, selftest_entry(buf, 0).flags, 0);
	KUNIT_EXPECT_EQ(test, selftest_entry(buf, 0).iotlb_id, U32_MAX);

	v.id = BIT_ULL(32);
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	KUNIT_EXPECT_EQ(test, selftest_entry(buf, 0).flags, T_SELFTEST_ALL);
	KUNIT_EXPECT_EQ(test, selftest_entry(buf, 0).iotlb_id, 0);

	v.id = 3;
	v.flags = F_LEAF;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	KUNIT_EXPECT_EQ(test, selftest_entry(buf, 0).flags, T_SELFTEST_ALL);
	KUNIT_EXPECT_EQ(test, selftest_entry(buf, 0).iotlb_id, 0);
}

static void inval_selftest_scopes_and_caches(struct kunit *test)
{
	struct vhost_iommu_inval_target t = target(SELFTEST);
	struct vhost_iommu_inval v;
	u8 *buf = entry_buf(test);

	v = inv(S_DOMAIN, C_TLB, F_ID);
	v.id = 1;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	KUNIT_EXPECT_EQ(test, selftest_entry(buf, 0).flags, T_SELFTEST_ALL);
	KUNIT_EXPECT_EQ(test, selftest_entry(buf, 0).iotlb_id, 0);

	v = inv(S_PASID, C_TLB | C_PASID, F_ID | F_PASID);
	v.id = 1;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	KUNIT_EXPECT_EQ(test, selftest_entry(buf, 0).flags, T_SELFTEST_ALL);
	KUNIT_EXPECT_EQ(test, selftest_entry(buf, 0).iotlb_id, 0);

	/* No PASID cache in the mock */
	reset_buf(buf);
	v = inv(S_DOMAIN, C_PASID, 0);
	KUNIT_EXPECT_EQ(test, UNSUPP, vhost_iommu_inval_translate(&t, &v, buf));
	v = inv_addr(C_PASID, F_ID, 0, SZ_4K - 1);
	KUNIT_EXPECT_EQ(test, UNSUPP, vhost_iommu_inval_translate(&t, &v, buf));
	expect_untouched(test, buf, 0, SELFTEST_LEN);
}

/* A vIOMMU target with @n endpoints, virt IDs 0x10, 0x11, ... */
static struct vhost_iommu_inval_target vtarget(u32 n)
{
	struct vhost_iommu_inval_target t = target(VSELFTEST);
	u32 i;

	t.nr_sids = n;
	for (i = 0; i < n; i++)
		t.sids[i] = 0x10 + i;
	return t;
}

static void inval_vselftest_entry_per_sid(struct kunit *test)
{
	struct vhost_iommu_inval_target t = vtarget(3);
	struct vhost_iommu_inval v = inv(S_DOMAIN, C_TLB, 0);
	u8 *buf = entry_buf(test);
	u32 i;

	KUNIT_ASSERT_EQ(test, 3, vhost_iommu_inval_translate(&t, &v, buf));
	for (i = 0; i < 3; i++)
		expect_vselftest(test, buf, i, T_SELFTEST_ALL, 0x10 + i, 0);
	expect_untouched(test, buf, 3, VSELFTEST_LEN);

	/* A virt ID is passed as is, all 32 bits of it. */
	reset_buf(buf);
	t.sids[1] = U32_MAX;
	KUNIT_ASSERT_EQ(test, 3, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vselftest(test, buf, 1, T_SELFTEST_ALL, U32_MAX, 0);

	/* As many as a binding can have. */
	reset_buf(buf);
	t = vtarget(VHOST_IOMMU_MAX_BIND_ENDPOINTS);
	KUNIT_ASSERT_EQ(test, VHOST_IOMMU_MAX_BIND_ENDPOINTS,
			vhost_iommu_inval_translate(&t, &v, buf));
	expect_vselftest(test, buf, VHOST_IOMMU_MAX_BIND_ENDPOINTS - 1,
			 T_SELFTEST_ALL,
			 0x10 + VHOST_IOMMU_MAX_BIND_ENDPOINTS - 1, 0);
	expect_untouched(test, buf, VHOST_IOMMU_MAX_BIND_ENDPOINTS,
			 VSELFTEST_LEN);
}

static void inval_vselftest_address_id(struct kunit *test)
{
	struct vhost_iommu_inval_target t = vtarget(2);
	struct vhost_iommu_inval v = inv_addr(C_TLB, F_ID, SZ_1M,
					      SZ_1M + SZ_8K - 1);
	u8 *buf = entry_buf(test);

	v.id = 2;
	KUNIT_ASSERT_EQ(test, 2, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vselftest(test, buf, 0, 0, 0x10, 2);
	expect_vselftest(test, buf, 1, 0, 0x11, 2);
	expect_untouched(test, buf, 2, VSELFTEST_LEN);

	/* The mock checks the slot number, not us. */
	v.id = U32_MAX;
	KUNIT_ASSERT_EQ(test, 2, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vselftest(test, buf, 0, 0, 0x10, U32_MAX);

	/* Too wide for a slot number, or no F_ID: every slot. */
	v.id = BIT_ULL(32);
	KUNIT_ASSERT_EQ(test, 2, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vselftest(test, buf, 0, T_SELFTEST_ALL, 0x10, 0);
	expect_vselftest(test, buf, 1, T_SELFTEST_ALL, 0x11, 0);
	v.id = 2;
	v.flags = F_LEAF;
	KUNIT_ASSERT_EQ(test, 2, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vselftest(test, buf, 1, T_SELFTEST_ALL, 0x11, 0);

	/* A range covering the whole space is DOMAIN scope. */
	t.input_end = U64_MAX;
	v = inv_addr(C_TLB, F_ID, 0, U64_MAX);
	v.id = 2;
	KUNIT_ASSERT_EQ(test, 2, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vselftest(test, buf, 0, T_SELFTEST_ALL, 0x10, 0);
}

static void inval_vselftest_scopes_all(struct kunit *test)
{
	struct vhost_iommu_inval_target t = vtarget(1);
	struct vhost_iommu_inval v;
	u8 *buf = entry_buf(test);

	/* DOMAIN and PASID scope ignore the id. */
	v = inv(S_DOMAIN, C_TLB, F_ID);
	v.id = 1;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vselftest(test, buf, 0, T_SELFTEST_ALL, 0x10, 0);

	v = inv(S_PASID, C_TLB | C_PASID, F_ID | F_PASID);
	v.id = 1;
	v.pasid = 3;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vselftest(test, buf, 0, T_SELFTEST_ALL, 0x10, 0);
}

static void inval_vselftest_nothing_to_send(struct kunit *test)
{
	struct vhost_iommu_inval_target t = vtarget(0);
	struct vhost_iommu_inval v = inv(S_DOMAIN, C_TLB, 0);
	u8 *buf = entry_buf(test);

	/* No endpoint bound */
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_inval_translate(&t, &v, buf));

	/* A range outside the input range */
	t = vtarget(2);
	t.input_start = SZ_1M;
	t.input_end = SZ_4G - 1;
	v = inv_addr(C_TLB, F_ID, SZ_4G, SZ_4G + SZ_4K - 1);
	v.id = 1;
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_inval_translate(&t, &v, buf));
	v = inv_addr(C_TLB, 0, 0, SZ_1M - 1);
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_inval_translate(&t, &v, buf));
	expect_untouched(test, buf, 0, VSELFTEST_LEN);
}

static void inval_vselftest_no_tlb_unsupp(struct kunit *test)
{
	struct vhost_iommu_inval_target t = vtarget(2);
	struct vhost_iommu_inval v;
	u8 *buf = entry_buf(test);

	/* The mock device caches nothing per PASID. */
	v = inv(S_DOMAIN, C_PASID, 0);
	KUNIT_EXPECT_EQ(test, UNSUPP, vhost_iommu_inval_translate(&t, &v, buf));
	v = inv(S_PASID, C_PASID, F_PASID);
	KUNIT_EXPECT_EQ(test, UNSUPP, vhost_iommu_inval_translate(&t, &v, buf));
	/* Even where no address of the range is bound */
	t.input_start = SZ_1M;
	v = inv_addr(C_PASID, F_ID, 0, SZ_4K - 1);
	KUNIT_EXPECT_EQ(test, UNSUPP, vhost_iommu_inval_translate(&t, &v, buf));
	expect_untouched(test, buf, 0, VSELFTEST_LEN);
}

static void inval_vtd_address(struct kunit *test)
{
	struct vhost_iommu_inval_target t = target(VTD);
	struct vhost_iommu_inval v;
	u8 *buf = entry_buf(test);

	v = inv_addr(C_TLB, F_LEAF | F_ID, 0x10000, 0x12fff);
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vtd(test, buf, 0, 0x10000, 3, IOMMU_VTD_INV_FLAGS_LEAF);
	expect_untouched(test, buf, 1, VTD_LEN);

	v.flags = F_PASID;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vtd(test, buf, 0, 0x10000, 3, 0);

	/* The top of the space, not the whole of it */
	t.input_end = U64_MAX;
	v = inv_addr(C_TLB, 0, U64_MAX - SZ_8K + 1, U64_MAX);
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vtd(test, buf, 0, U64_MAX - SZ_8K + 1, 2, 0);
}

static void inval_vtd_domain_pasid_global(struct kunit *test)
{
	struct vhost_iommu_inval_target t = target(VTD);
	struct vhost_iommu_inval v;
	u8 *buf = entry_buf(test);

	v = inv(S_DOMAIN, C_TLB, F_LEAF);
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vtd(test, buf, 0, 0, U64_MAX, 0);

	reset_buf(buf);
	v = inv(S_PASID, C_TLB, F_PASID | F_LEAF);
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vtd(test, buf, 0, 0, U64_MAX, 0);

	reset_buf(buf);
	v = inv_addr(C_TLB, F_GLOBAL | F_LEAF, SZ_1M, SZ_1M + SZ_4K - 1);
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_vtd(test, buf, 0, 0, U64_MAX, 0);

	/* No PASID-cache invalidation in this format */
	reset_buf(buf);
	v = inv(S_PASID, C_PASID, F_PASID);
	KUNIT_EXPECT_EQ(test, UNSUPP, vhost_iommu_inval_translate(&t, &v, buf));
	v = inv(S_DOMAIN, C_PASID | C_TLB, 0);
	KUNIT_EXPECT_EQ(test, UNSUPP, vhost_iommu_inval_translate(&t, &v, buf));
	v = inv_addr(C_PASID | C_TLB, 0, SZ_1M, SZ_1M + SZ_4K - 1);
	KUNIT_EXPECT_EQ(test, UNSUPP, vhost_iommu_inval_translate(&t, &v, buf));
	expect_untouched(test, buf, 0, VTD_LEN);
}

static void inval_smmu_cfgi(struct kunit *test)
{
	struct vhost_iommu_inval_target t = target(SMMU);
	struct vhost_iommu_inval v;
	u8 *buf = entry_buf(test);

	t.nr_sids = 2;
	t.sids[0] = 0x10;
	t.sids[1] = 0xfffffffe;

	v = inv(S_PASID, C_PASID, F_PASID | F_LEAF);
	v.pasid = 0xfffff;
	KUNIT_ASSERT_EQ(test, 2, vhost_iommu_inval_translate(&t, &v, buf));
	expect_cfgi_cd(test, buf, 0, 0x10, 0xfffff, true);
	expect_cfgi_cd(test, buf, 1, 0xfffffffe, 0xfffff, true);
	/* C_TLB not asked: no TLBI, no ATC_INV */
	expect_untouched(test, buf, 2, SMMU_LEN);

	v = inv_addr(C_PASID, F_PASID, SZ_1M, SZ_1M + SZ_4K - 1);
	v.pasid = 1;
	KUNIT_ASSERT_EQ(test, 2, vhost_iommu_inval_translate(&t, &v, buf));
	expect_cfgi_cd(test, buf, 0, 0x10, 1, false);
	expect_cfgi_cd(test, buf, 1, 0xfffffffe, 1, false);

	v = inv(S_DOMAIN, C_PASID, F_LEAF);
	KUNIT_ASSERT_EQ(test, 2, vhost_iommu_inval_translate(&t, &v, buf));
	expect_cfgi_cd_all(test, buf, 0, 0x10);
	expect_cfgi_cd_all(test, buf, 1, 0xfffffffe);

	t.nr_sids = 0;
	KUNIT_EXPECT_EQ(test, 0, vhost_iommu_inval_translate(&t, &v, buf));
}

static void inval_smmu_tlbi_context(struct kunit *test)
{
	struct vhost_iommu_inval_target t = target(SMMU);
	struct vhost_iommu_inval v;
	u8 *buf = entry_buf(test);

	v = inv(S_DOMAIN, C_TLB, F_ID | F_LEAF);
	v.id = 0xffff;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_tlbi_ctx(test, buf, 0, T_TLBI_NH_ASID, 0xffff);
	expect_untouched(test, buf, 1, SMMU_LEN);

	/* Not an ASID: every context */
	v.id = 0x10000;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_tlbi_ctx(test, buf, 0, T_TLBI_NH_ALL, 0);

	v.id = 5;
	v.flags = 0;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_tlbi_ctx(test, buf, 0, T_TLBI_NH_ALL, 0);

	v = inv(S_PASID, C_TLB, F_PASID | F_ID);
	v.id = 7;
	v.pasid = 9;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_tlbi_ctx(test, buf, 0, T_TLBI_NH_ASID, 7);
}

static void inval_smmu_tlbi_pages(struct kunit *test)
{
	struct vhost_iommu_inval_target t = target(SMMU);
	struct vhost_iommu_inval v;
	u8 *buf = entry_buf(test);
	int i;

	v = inv_addr(C_TLB, F_ID | F_LEAF, 0x40000, 0x42fff);
	v.id = 9;
	KUNIT_ASSERT_EQ(test, 3, vhost_iommu_inval_translate(&t, &v, buf));
	for (i = 0; i < 3; i++)
		expect_tlbi_page(test, buf, i, T_TLBI_NH_VA, 9,
				 0x40000 + i * SZ_4K, true);
	expect_untouched(test, buf, 3, SMMU_LEN);

	/* No usable ASID: the VA in every context */
	v.flags = F_LEAF;
	KUNIT_ASSERT_EQ(test, 3, vhost_iommu_inval_translate(&t, &v, buf));
	for (i = 0; i < 3; i++)
		expect_tlbi_page(test, buf, i, T_TLBI_NH_VAA, 0,
				 0x40000 + i * SZ_4K, true);

	v.flags = F_ID;
	v.id = 0x10000;
	KUNIT_ASSERT_EQ(test, 3, vhost_iommu_inval_translate(&t, &v, buf));
	expect_tlbi_page(test, buf, 0, T_TLBI_NH_VAA, 0, 0x40000, false);

	/* 64 KiB granule: one command per 64 KiB page */
	t.granule_log2 = 16;
	v = inv_addr(C_TLB, F_ID, 0x10100, 0x2ffff);
	v.id = 1;
	KUNIT_ASSERT_EQ(test, 2, vhost_iommu_inval_translate(&t, &v, buf));
	expect_tlbi_page(test, buf, 0, T_TLBI_NH_VA, 1, 0x10000, false);
	expect_tlbi_page(test, buf, 1, T_TLBI_NH_VA, 1, 0x20000, false);
}

static void inval_smmu_tlbi_widen_beyond_8_pages(struct kunit *test)
{
	struct vhost_iommu_inval_target t = target(SMMU);
	struct vhost_iommu_inval v;
	u8 *buf = entry_buf(test);

	v = inv_addr(C_TLB, F_ID, SZ_1M, SZ_1M + 8 * SZ_4K - 1);
	v.id = 4;
	KUNIT_ASSERT_EQ(test, 8, vhost_iommu_inval_translate(&t, &v, buf));
	expect_tlbi_page(test, buf, 0, T_TLBI_NH_VA, 4, SZ_1M, false);
	expect_tlbi_page(test, buf, 7, T_TLBI_NH_VA, 4, SZ_1M + 7 * SZ_4K,
			 false);

	reset_buf(buf);
	v.last += SZ_4K;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_tlbi_ctx(test, buf, 0, T_TLBI_NH_ASID, 4);
	expect_untouched(test, buf, 1, SMMU_LEN);

	v.flags = 0;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_tlbi_ctx(test, buf, 0, T_TLBI_NH_ALL, 0);

	/* 8 pages long but over 9 granule pages once widened */
	v = inv_addr(C_TLB, F_ID, SZ_1M + 0x800, SZ_1M + 8 * SZ_4K + 0x7ff);
	v.id = 4;
	KUNIT_ASSERT_EQ(test, 1, vhost_iommu_inval_translate(&t, &v, buf));
	expect_tlbi_ctx(test, buf, 0, T_TLBI_NH_ASID, 4);
}

static void inval_smmu_atc(struct kunit *test)
{
	struct vhost_iommu_inval_target t = target(SMMU);
	struct t_atc atc = { .sid = 0x42 };
	struct vhost_iommu_inval v;
	u8 *buf = entry_buf(test);

	t.nr_sids = 1;
	t.sids[0] = 0x42;

	/* Whole space, one PASID, global pages too */
	v = inv(S_DOMAIN, C_TLB, F_PASID | F_GLOBAL);
	v.pasid = 5;
	KUNIT_ASSERT_EQ(test, 2, vhost_iommu_inval_translate(&t, &v, buf));
	atc.ssv = true;
	atc.ssid = 5;
	atc.global = true;
	atc.size = 52;
	atc.addr = 0;
	expect_atc(test, buf, 1, &atc);

	/* Single page, no PASID */
	v = inv_addr(C_TLB, 0, 0x5000, 0x5fff);
	KUNIT_ASSERT_EQ(test, 2, vhost_iommu_inval_translate(&t, &v, buf));
	atc = (struct t_atc) { .sid = 0x42, .size = 0, .addr = 0x5000 };
	expect_atc(test, buf, 1, &atc);

	/* Aligned 4-page block */
	v = inv_addr(C_TLB, 0, 0x4000, 0x7fff);
	KUNIT_ASSERT_EQ(test, 5, vhost_iommu_inval_translate(&t, &v, buf));
	atc.size = 2;
	atc.addr = 0x4000;
	expect_atc(test, buf, 4, &atc);

	/* Pages 7 and 8 straddle 8: only the 16-page block holds both. */
	v = inv_addr(C_TLB, 0, 0x7000, 0x8fff);
	KUNIT_ASSERT_EQ(test, 3, vhost_iommu_inval_translate(&t, &v, buf));
	atc.size = 4;
	atc.addr = 0;
	expect_atc(test, buf, 2, &atc);

	/* Straddling 2^63: the block is the whole space. */
	t.input_end = U64_MAX;
	v = inv_addr(C_TLB, 0, BIT_ULL(63) - SZ_4K, BIT_ULL(63) + SZ_4K - 1);
	KUNIT_ASSERT_EQ(test, 3, vhost_iommu_inval_translate(&t, &v, buf));
	atc.size = 52;
	atc.addr = 0;
	expect_atc(test, buf, 2, &atc);

	/* A PASID wider than an SSID cannot be named. */
	v = inv(S_PASID, C_TLB, F_PASID);
	v.pasid = 0x100000;
	KUNIT_EXPECT_EQ(test, UNSUPP, vhost_iommu_inval_translate(&t, &v, buf));
}

static void inval_smmu_order_and_bound(struct kunit *test)
{
	struct vhost_iommu_inval_target t = target(SMMU);
	struct t_atc atc = { .ssv = true, .ssid = 0x33, .size = 3,
			     .addr = SZ_1M };
	struct vhost_iommu_inval v;
	u8 *buf = entry_buf(test);
	int i, n;

	t.nr_sids = VHOST_IOMMU_MAX_BIND_ENDPOINTS;
	for (i = 0; i < t.nr_sids; i++)
		t.sids[i] = 0x1000 + i;

	/* The worst case: a CFGI and an ATC per SID, eight TLBI_NH_VA */
	v = inv_addr(C_PASID | C_TLB, F_PASID | F_ID | F_LEAF, SZ_1M,
		     SZ_1M + 8 * SZ_4K - 1);
	v.pasid = 0x33;
	v.id = 0x44;
	n = vhost_iommu_inval_translate(&t, &v, buf);
	KUNIT_ASSERT_EQ(test, n, 16 + 8 + 16);
	KUNIT_EXPECT_LE(test, n, VHOST_IOMMU_INV_MAX_ENTRIES);
	for (i = 0; i < 16; i++)
		expect_cfgi_cd(test, buf, i, 0x1000 + i, 0x33, true);
	for (i = 0; i < 8; i++)
		expect_tlbi_page(test, buf, 16 + i, T_TLBI_NH_VA, 0x44,
				 SZ_1M + i * SZ_4K, true);
	for (i = 0; i < 16; i++) {
		atc.sid = 0x1000 + i;
		expect_atc(test, buf, 24 + i, &atc);
	}
	expect_untouched(test, buf, n, SMMU_LEN);

	/* DOMAIN scope: one TLBI between the CFGIs and the ATC_INVs */
	reset_buf(buf);
	v = inv(S_DOMAIN, C_PASID | C_TLB, 0);
	KUNIT_ASSERT_EQ(test, 16 + 1 + 16,
			vhost_iommu_inval_translate(&t, &v, buf));
	expect_cfgi_cd_all(test, buf, 15, 0x100f);
	expect_tlbi_ctx(test, buf, 16, T_TLBI_NH_ALL, 0);
	atc = (struct t_atc) { .sid = 0x1000, .size = 52, .addr = 0 };
	expect_atc(test, buf, 17, &atc);
	expect_untouched(test, buf, 33, SMMU_LEN);
}

static struct kunit_case vhost_iommu_invalidate_cases[] = {
	KUNIT_CASE(inval_parse_fields),
	KUNIT_CASE(inval_parse_bad_scope),
	KUNIT_CASE(inval_parse_bad_caches),
	KUNIT_CASE(inval_parse_bad_flags),
	KUNIT_CASE(inval_parse_pasid_scope_needs_pasid),
	KUNIT_CASE(inval_parse_reserved),
	KUNIT_CASE(inval_parse_address_errors),
	KUNIT_CASE(inval_parse_address_whole_space),
	KUNIT_CASE(inval_parse_address_widening),
	KUNIT_CASE(inval_entry_len),
	KUNIT_CASE(inval_translate_bad_target),
	KUNIT_CASE(inval_translate_crop_partial),
	KUNIT_CASE(inval_translate_crop_outside),
	KUNIT_CASE(inval_translate_granule_widening),
	KUNIT_CASE(inval_translate_whole_space),
	KUNIT_CASE(inval_selftest_address_id),
	KUNIT_CASE(inval_selftest_scopes_and_caches),
	KUNIT_CASE(inval_vselftest_entry_per_sid),
	KUNIT_CASE(inval_vselftest_address_id),
	KUNIT_CASE(inval_vselftest_scopes_all),
	KUNIT_CASE(inval_vselftest_nothing_to_send),
	KUNIT_CASE(inval_vselftest_no_tlb_unsupp),
	KUNIT_CASE(inval_vtd_address),
	KUNIT_CASE(inval_vtd_domain_pasid_global),
	KUNIT_CASE(inval_smmu_cfgi),
	KUNIT_CASE(inval_smmu_tlbi_context),
	KUNIT_CASE(inval_smmu_tlbi_pages),
	KUNIT_CASE(inval_smmu_tlbi_widen_beyond_8_pages),
	KUNIT_CASE(inval_smmu_atc),
	KUNIT_CASE(inval_smmu_order_and_bound),
	{}
};

static struct kunit_suite vhost_iommu_invalidate_suite = {
	.name = "vhost_iommu_invalidate",
	.test_cases = vhost_iommu_invalidate_cases,
};

kunit_test_suite(vhost_iommu_invalidate_suite);
