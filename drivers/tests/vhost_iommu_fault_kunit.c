// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite vhost_iommu_fault: iommufd page request records converted
 * into the guest's 48-byte event records, and guest response codes into
 * iommufd's. Records are checked byte by byte at the wire offsets, not
 * through the driver's struct.
 */
#include <kunit/test.h>
#include <linux/bits.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <uapi/linux/iommufd.h>

#include "../vhost_iommu.h"

/* Wire offsets of the event record (our uAPI header documents them). */
#define EV_REASON	0
#define EV_FLAGS	4
#define EV_ENDPOINT	8
#define EV_PASID	12
#define EV_ADDRESS	16
#define EV_GROUP_ID	24
#define EV_SIZE		48

#define F_READ		BIT(0)
#define F_WRITE		BIT(1)
#define F_EXEC		BIT(2)
#define F_PRIV		BIT(3)
#define F_LAST		BIT(4)
#define F_PAGE_REQ	BIT(5)
#define F_ADDRESS	BIT(8)
#define F_PASID		BIT(9)
#define F_GROUP_ID	BIT(10)
#define R_MAPPING	2

static void convert(struct kunit *test, const struct iommu_hwpt_pgfault *pf,
		    u32 endpoint, bool last, u8 *ev)
{
	memset(ev, 0x5a, EV_SIZE);
	KUNIT_ASSERT_EQ(test, 0,
			vhost_iommu_pgfault_to_event(pf, endpoint, last,
						     (void *)ev));
}

static void fault_event_fields(struct kunit *test)
{
	struct iommu_hwpt_pgfault pf = {
		.flags = IOMMU_PGFAULT_FLAGS_PASID_VALID |
			 IOMMU_PGFAULT_FLAGS_LAST_PAGE,
		.dev_id = 3,
		.pasid = 0x12345,
		.grpid = 0x1ff,
		.perm = IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE,
		.addr = 0xdeadb000,
		.cookie = 77,
	};
	u8 ev[EV_SIZE];
	int i;

	convert(test, &pf, 0x10008, true, ev);
	KUNIT_EXPECT_EQ(test, R_MAPPING, ev[EV_REASON]);
	KUNIT_EXPECT_EQ(test, F_PAGE_REQ | F_ADDRESS | F_GROUP_ID | F_LAST |
			F_PASID | F_READ | F_WRITE,
			get_unaligned_le32(ev + EV_FLAGS));
	KUNIT_EXPECT_EQ(test, 0x10008, get_unaligned_le32(ev + EV_ENDPOINT));
	KUNIT_EXPECT_EQ(test, 0x12345, get_unaligned_le32(ev + EV_PASID));
	KUNIT_EXPECT_EQ(test, 0xdeadb000ULL,
			get_unaligned_le64(ev + EV_ADDRESS));
	KUNIT_EXPECT_EQ(test, 0x1ff, get_unaligned_le16(ev + EV_GROUP_ID));
	/* Reserved bytes and private data are zero, not left over. */
	for (i = 1; i < 4; i++)
		KUNIT_EXPECT_EQ(test, 0, ev[i]);
	for (i = 26; i < EV_SIZE; i++)
		KUNIT_EXPECT_EQ(test, 0, ev[i]);
}

static void fault_event_no_pasid(struct kunit *test)
{
	/* The PASID is not passed on unless iommufd says it is valid. */
	struct iommu_hwpt_pgfault pf = {
		.pasid = 9,
		.perm = IOMMU_PGFAULT_PERM_READ,
	};
	u8 ev[EV_SIZE];

	convert(test, &pf, 1, true, ev);
	KUNIT_EXPECT_EQ(test, 0u,
			get_unaligned_le32(ev + EV_FLAGS) & F_PASID);
	KUNIT_EXPECT_EQ(test, 0u, get_unaligned_le32(ev + EV_PASID));
}

static void fault_event_perms(struct kunit *test)
{
	static const struct {
		u32 perm;
		u32 flags;
	} cases[] = {
		{ 0, 0 },
		{ IOMMU_PGFAULT_PERM_READ, F_READ },
		{ IOMMU_PGFAULT_PERM_WRITE, F_WRITE },
		{ IOMMU_PGFAULT_PERM_EXEC, F_EXEC },
		{ IOMMU_PGFAULT_PERM_PRIV, F_PRIV },
		{ IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_EXEC |
		  IOMMU_PGFAULT_PERM_PRIV, F_READ | F_EXEC | F_PRIV },
		/* Unknown permission bits are not passed on. */
		{ 0xfffffff0, 0 },
	};
	struct iommu_hwpt_pgfault pf = {};
	u32 perms = F_READ | F_WRITE | F_EXEC | F_PRIV;
	u8 ev[EV_SIZE];
	int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		pf.perm = cases[i].perm;
		convert(test, &pf, 1, true, ev);
		KUNIT_EXPECT_EQ_MSG(test, cases[i].flags,
				    get_unaligned_le32(ev + EV_FLAGS) & perms,
				    "perm %#x", cases[i].perm);
	}
}

static void fault_event_last(struct kunit *test)
{
	/* LAST follows the group's end, whatever the record's flag says. */
	struct iommu_hwpt_pgfault pf = {
		.flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE,
	};
	u8 ev[EV_SIZE];

	convert(test, &pf, 1, false, ev);
	KUNIT_EXPECT_EQ(test, 0u, get_unaligned_le32(ev + EV_FLAGS) & F_LAST);
	pf.flags = 0;
	convert(test, &pf, 1, true, ev);
	KUNIT_EXPECT_EQ(test, F_LAST, get_unaligned_le32(ev + EV_FLAGS) & F_LAST);
}

static void fault_event_group_id_range(struct kunit *test)
{
	struct iommu_hwpt_pgfault pf = { .grpid = 0xffff };
	struct virtio_iommu_page_req ev;

	KUNIT_EXPECT_EQ(test, 0,
			vhost_iommu_pgfault_to_event(&pf, 1, true, &ev));
	pf.grpid = 0x10000;
	KUNIT_EXPECT_EQ(test, -ERANGE,
			vhost_iommu_pgfault_to_event(&pf, 1, true, &ev));
	pf.grpid = U32_MAX;
	KUNIT_EXPECT_EQ(test, -ERANGE,
			vhost_iommu_pgfault_to_event(&pf, 1, true, &ev));
}

static void fault_group_len(struct kunit *test)
{
	/* Groups of 3, 1 and 2 records, as one read returns them. */
	static const u32 cookies[] = { 4, 4, 4, 1, 7, 7 };
	struct iommu_hwpt_pgfault pf[ARRAY_SIZE(cookies)] = {};
	int i;

	for (i = 0; i < ARRAY_SIZE(cookies); i++)
		pf[i].cookie = cookies[i];
	KUNIT_EXPECT_EQ(test, 3u, vhost_iommu_group_len(pf, 6));
	KUNIT_EXPECT_EQ(test, 1u, vhost_iommu_group_len(pf + 3, 3));
	KUNIT_EXPECT_EQ(test, 2u, vhost_iommu_group_len(pf + 4, 2));
	/* A read cut short never runs past its end. */
	KUNIT_EXPECT_EQ(test, 2u, vhost_iommu_group_len(pf, 2));
	KUNIT_EXPECT_EQ(test, 1u, vhost_iommu_group_len(pf, 1));
}

static void fault_response_codes(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, IOMMUFD_PAGE_RESP_SUCCESS,
			vhost_iommu_page_resp_code(VIRTIO_IOMMU_PAGE_RESP_SUCCESS));
	KUNIT_EXPECT_EQ(test, IOMMUFD_PAGE_RESP_INVALID,
			vhost_iommu_page_resp_code(VIRTIO_IOMMU_PAGE_RESP_INVALID));
	KUNIT_EXPECT_EQ(test, IOMMUFD_PAGE_RESP_INVALID,
			vhost_iommu_page_resp_code(VIRTIO_IOMMU_PAGE_RESP_FAILURE));
	KUNIT_EXPECT_EQ(test, -EINVAL, vhost_iommu_page_resp_code(3));
	KUNIT_EXPECT_EQ(test, -EINVAL, vhost_iommu_page_resp_code(0xffff));
}

static struct kunit_case vhost_iommu_fault_cases[] = {
	KUNIT_CASE(fault_event_fields),
	KUNIT_CASE(fault_event_no_pasid),
	KUNIT_CASE(fault_event_perms),
	KUNIT_CASE(fault_event_last),
	KUNIT_CASE(fault_event_group_id_range),
	KUNIT_CASE(fault_group_len),
	KUNIT_CASE(fault_response_codes),
	{}
};

static struct kunit_suite vhost_iommu_fault_suite = {
	.name = "vhost_iommu_fault",
	.test_cases = vhost_iommu_fault_cases,
};

kunit_test_suite(vhost_iommu_fault_suite);
