/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/vhost-iommu.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_VHOST_IOMMU_GEN_H
#define _LINUX_VHOST_IOMMU_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/vhost_iommu_netlink.h>

int vhost_iommu_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info);
int vhost_iommu_nl_dev_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb);
int vhost_iommu_nl_stats_get_doit(struct sk_buff *skb, struct genl_info *info);
int vhost_iommu_nl_stats_get_dumpit(struct sk_buff *skb,
				    struct netlink_callback *cb);

enum {
	VHOST_IOMMU_NLGRP_MONITOR,
};

extern struct genl_family vhost_iommu_nl_family;

#endif /* _LINUX_VHOST_IOMMU_GEN_H */
