/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The test build's VHOST_IOMMU_TEST ioctl and its fake fault queue, for
 * the robust tests that need page request groups of any size: inject a
 * group, collect the answers the device gave.
 */
#ifndef VHOST_IOMMU_SELFTEST_FAKE_FAULTQ_H
#define VHOST_IOMMU_SELFTEST_FAKE_FAULTQ_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "vhost_iommu_test.h"

/* Answers fake_answer() keeps at most. */
#define FAKE_MAX_HELD	64u

/* One VHOST_IOMMU_TEST operation; *@nr in and out when given. */
static inline int test_op(int fd, __u32 op, void *ptr, __u32 *nr)
{
	struct vhost_iommu_test_op o = {
		.size = sizeof(o),
		.op = op,
		.nr = nr ? *nr : 0,
		.uptr = (uintptr_t)ptr,
	};

	if (ioctl(fd, VHOST_IOMMU_TEST, &o))
		return -errno;
	if (nr)
		*nr = o.nr;
	return 0;
}

/*
 * A group of @n records from device @dev with @cookie and group ID
 * @grpid, its last record flagged LAST_PAGE when @last.
 */
static inline int fake_inject(int fd, __u32 dev, __u32 cookie, __u32 grpid,
			      __u32 n, bool last)
{
	struct iommu_hwpt_pgfault *pf = calloc(n, sizeof(*pf));
	__u32 i, nr = n;
	int ret;

	if (!pf)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		pf[i].flags = IOMMU_PGFAULT_FLAGS_PASID_VALID;
		if (last && i == n - 1)
			pf[i].flags |= IOMMU_PGFAULT_FLAGS_LAST_PAGE;
		pf[i].dev_id = dev;
		pf[i].pasid = 1;
		pf[i].grpid = grpid;
		pf[i].perm = IOMMU_PGFAULT_PERM_READ;
		pf[i].addr = 0x200000 + i * 4096ULL;
		pf[i].length = 4096;
		pf[i].cookie = cookie;
	}
	ret = test_op(fd, VHOST_IOMMU_TEST_FAKE_INJECT, pf, &nr);
	free(pf);
	return ret;
}

static inline __s64 fake_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * Waits up to @timeout_ms for the answer to @cookie and returns its code,
 * or -1. Answers to other cookies are kept in @held (FAKE_MAX_HELD
 * entries, *@nheld used) for later calls.
 */
static inline int fake_answer(int fd, __u32 cookie, int timeout_ms,
			      struct iommu_hwpt_page_response *held,
			      __u32 *nheld)
{
	__s64 end = fake_now_ms() + timeout_ms;
	__u32 i, nr;

	for (;;) {
		for (i = 0; i < *nheld; i++)
			if (held[i].cookie == cookie)
				return held[i].code;
		nr = FAKE_MAX_HELD - *nheld;
		if (test_op(fd, VHOST_IOMMU_TEST_FAKE_RESPONSES, held + *nheld,
			    &nr))
			return -1;
		*nheld += nr;
		if (!nr && fake_now_ms() > end)
			return -1;
		if (!nr)
			usleep(2000);
	}
}

#endif
