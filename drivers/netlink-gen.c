// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/vhost-iommu.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "netlink-gen.h"

#include <uapi/linux/vhost_iommu_netlink.h>

/* VHOST_IOMMU_CMD_DEV_GET - do */
static const struct nla_policy vhost_iommu_dev_get_nl_policy[VHOST_IOMMU_A_DEV_ID + 1] = {
	[VHOST_IOMMU_A_DEV_ID] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* VHOST_IOMMU_CMD_STATS_GET - do */
static const struct nla_policy vhost_iommu_stats_get_nl_policy[VHOST_IOMMU_A_STATS_DEV_ID + 1] = {
	[VHOST_IOMMU_A_STATS_DEV_ID] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* Ops table for vhost_iommu */
static const struct genl_split_ops vhost_iommu_nl_ops[] = {
	{
		.cmd		= VHOST_IOMMU_CMD_DEV_GET,
		.doit		= vhost_iommu_nl_dev_get_doit,
		.policy		= vhost_iommu_dev_get_nl_policy,
		.maxattr	= VHOST_IOMMU_A_DEV_ID,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= VHOST_IOMMU_CMD_DEV_GET,
		.dumpit	= vhost_iommu_nl_dev_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= VHOST_IOMMU_CMD_STATS_GET,
		.doit		= vhost_iommu_nl_stats_get_doit,
		.policy		= vhost_iommu_stats_get_nl_policy,
		.maxattr	= VHOST_IOMMU_A_STATS_DEV_ID,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= VHOST_IOMMU_CMD_STATS_GET,
		.dumpit	= vhost_iommu_nl_stats_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
};

static const struct genl_multicast_group vhost_iommu_nl_mcgrps[] = {
	[VHOST_IOMMU_NLGRP_MONITOR] = { "monitor", },
};

struct genl_family vhost_iommu_nl_family __ro_after_init = {
	.name		= VHOST_IOMMU_FAMILY_NAME,
	.version	= VHOST_IOMMU_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= vhost_iommu_nl_ops,
	.n_split_ops	= ARRAY_SIZE(vhost_iommu_nl_ops),
	.mcgrps		= vhost_iommu_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(vhost_iommu_nl_mcgrps),
};
