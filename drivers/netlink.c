// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu generic netlink family: every device's state and counters
 * for whoever may read them, and notifications when a device breaks, is
 * reset or loses its owner. The policy and op tables are generated from
 * Documentation/netlink/specs/vhost-iommu.yaml (netlink-gen.c).
 *
 * Devices are found through a registry keyed by their ID. Its mutex is
 * taken on open, release and by netlink only, never on the fast path, and
 * never held while waiting for a device's mutex: that one can be held for
 * as long as its owner likes (an ioctl blocked in a user copy), and every
 * other user's open and close would wait behind it. A reader takes a
 * reference on the device under the registry's mutex, drops that, and
 * then waits, killably, for the device's; a device released meanwhile is
 * skipped (vhost_iommu.gone) and freed by the last reference.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/xarray.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netlink.h>

#include "netlink-gen.h"
#include "vhost_iommu.h"

static DEFINE_MUTEX(vhost_iommu_devs_lock);
static DEFINE_XARRAY_ALLOC1(vhost_iommu_devs);
static u32 vhost_iommu_next_id;

/**
 * vhost_iommu_nl_add() - give a new device its ID and make it visible
 * @vi: the device, fully initialised
 *
 * IDs are handed out cyclically, so one that just went away is not
 * reused at once under a monitoring tool.
 *
 * Return: 0, -ENOMEM or -EBUSY (no ID left).
 */
int vhost_iommu_nl_add(struct vhost_iommu *vi)
{
	int ret;

	mutex_lock(&vhost_iommu_devs_lock);
	ret = xa_alloc_cyclic(&vhost_iommu_devs, &vi->id, vi,
			      XA_LIMIT(1, INT_MAX), &vhost_iommu_next_id,
			      GFP_KERNEL_ACCOUNT);
	mutex_unlock(&vhost_iommu_devs_lock);
	return ret < 0 ? ret : 0;
}

/**
 * vhost_iommu_nl_del() - take a device out of netlink's sight
 * @vi: the device; it may be freed once this returns
 */
void vhost_iommu_nl_del(struct vhost_iommu *vi)
{
	mutex_lock(&vhost_iommu_devs_lock);
	xa_erase(&vhost_iommu_devs, vi->id);
	mutex_unlock(&vhost_iommu_devs_lock);
}

/*
 * Whether the reader may read the device: CAP_NET_ADMIN over the initial
 * namespace, or the device's owner. Asked first without the device's
 * mutex, so that an unprivileged reader never takes the mutex of a device
 * it may not read (it would hold up that device's worker); then again
 * under it, as the owner may have changed.
 */
static bool vhost_iommu_nl_may_read(const struct sk_buff *skb,
				    const struct vhost_iommu *vi)
{
	const struct mm_struct *owner = READ_ONCE(vi->owner);

	return (owner && owner == current->mm) ||
	       netlink_capable(skb, CAP_NET_ADMIN);
}

/*
 * A device by ID, with a reference, or with @next the first readable one
 * from that ID on (its ID in *@next). ERR_PTR(-ENOENT) or (-EPERM).
 */
static struct vhost_iommu *vhost_iommu_nl_get(const struct sk_buff *skb,
					      unsigned long id,
					      unsigned long *next)
{
	struct vhost_iommu *vi;

	mutex_lock(&vhost_iommu_devs_lock);
	if (!next) {
		vi = xa_load(&vhost_iommu_devs, id);
		if (vi && !vhost_iommu_nl_may_read(skb, vi))
			vi = ERR_PTR(-EPERM);
	} else {
		xa_for_each_start(&vhost_iommu_devs, id, vi, id)
			if (vhost_iommu_nl_may_read(skb, vi))
				break;
		*next = id;
	}
	if (!vi)
		vi = ERR_PTR(-ENOENT);
	if (!IS_ERR(vi))
		refcount_inc(&vi->refs);
	mutex_unlock(&vhost_iommu_devs_lock);
	return vi;
}

/*
 * The device's mutex, for a reader holding a reference, and the checks
 * that only hold under it: 0 with the mutex held; -EINTR (fatal signal),
 * -ENOENT (released meanwhile) or -EPERM without it.
 */
static int vhost_iommu_nl_lock(const struct sk_buff *skb,
			       struct vhost_iommu *vi)
{
	int ret;

	if (vhost_iommu_lock_for_vmm_killable(vi))
		return -EINTR;
	ret = vi->gone ? -ENOENT :
	      !vhost_iommu_nl_may_read(skb, vi) ? -EPERM : 0;
	if (ret)
		mutex_unlock(&vi->mutex);
	return ret;
}

static int vhost_iommu_nl_put_queue(struct sk_buff *skb,
				    const struct vhost_iommu_vq *vq)
{
	struct nlattr *nest;

	nest = nla_nest_start(skb, VHOST_IOMMU_A_DEV_QUEUE);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, VHOST_IOMMU_A_QUEUE_INDEX, vq->index) ||
	    nla_put_u32(skb, VHOST_IOMMU_A_QUEUE_NUM, vq->num) ||
	    (vq->addr_set && vq->kick &&
	     nla_put_flag(skb, VHOST_IOMMU_A_QUEUE_READY)) ||
	    (vq->broken && nla_put_flag(skb, VHOST_IOMMU_A_QUEUE_BROKEN)) ||
	    nla_put_u32(skb, VHOST_IOMMU_A_QUEUE_LAST_AVAIL_IDX,
			vq->last_avail_idx) ||
	    nla_put_u32(skb, VHOST_IOMMU_A_QUEUE_LAST_USED_IDX,
			vq->last_used_idx) ||
	    nla_put_u32(skb, VHOST_IOMMU_A_QUEUE_BUSYLOOP_TIMEOUT,
			vq->busyloop_timeout)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int vhost_iommu_nl_put_endpoints(struct sk_buff *skb,
					struct vhost_iommu *vi)
{
	struct vhost_iommu_ep *ep;
	struct nlattr *nest;
	unsigned long idx;

	xa_for_each(&vi->endpoints, idx, ep) {
		nest = nla_nest_start(skb, VHOST_IOMMU_A_DEV_ENDPOINT);
		if (!nest)
			return -EMSGSIZE;
		if (nla_put_u32(skb, VHOST_IOMMU_A_ENDPOINT_ID, idx) ||
		    nla_put_uint(skb, VHOST_IOMMU_A_ENDPOINT_VIRT_ID,
				 ep->virt_id) ||
		    nla_put_u32(skb, VHOST_IOMMU_A_ENDPOINT_DEV_ID,
				ep->dev_id)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
		nla_nest_end(skb, nest);
	}
	return 0;
}

static int vhost_iommu_nl_put_bindings(struct sk_buff *skb,
				       struct vhost_iommu *vi)
{
	struct vhost_iommu_binding *b;
	struct nlattr *nest;
	unsigned long key;
	u32 low;

	xa_for_each(&vi->bindings, key, b) {
		/* The key: the domain, then the PASID + 1, or 0 for none. */
		low = lower_32_bits(key);
		nest = nla_nest_start(skb, VHOST_IOMMU_A_DEV_BINDING);
		if (!nest)
			return -EMSGSIZE;
		if (nla_put_u32(skb, VHOST_IOMMU_A_BINDING_DOMAIN,
				upper_32_bits(key)) ||
		    (low && nla_put_u32(skb, VHOST_IOMMU_A_BINDING_PASID,
					low - 1)) ||
		    nla_put_u32(skb, VHOST_IOMMU_A_BINDING_OBJECT_ID,
				b->object_id) ||
		    nla_put_u32(skb, VHOST_IOMMU_A_BINDING_DATA_TYPE,
				vhost_iommu_inval_data_type(b->target.format))) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
		nla_nest_end(skb, nest);
	}
	return 0;
}

static int vhost_iommu_nl_put_faultq(struct sk_buff *skb,
				     const struct vhost_iommu *vi)
{
	const struct vhost_iommu_faultq *fq = vi->fq;
	struct nlattr *nest;

	nest = nla_nest_start(skb, VHOST_IOMMU_A_DEV_FAULT_QUEUE);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, VHOST_IOMMU_A_FAULT_QUEUE_GROUPS, fq->nr_groups) ||
	    nla_put_u32(skb, VHOST_IOMMU_A_FAULT_QUEUE_BACKLOG,
			vi->nr_backlog) ||
	    nla_put_u32(skb, VHOST_IOMMU_A_FAULT_QUEUE_RETRY, fq->nr_retry)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* The owner's process ID as the reader sees it; 0 if none or not visible. */
static u32 vhost_iommu_nl_owner_pid(const struct vhost_iommu *vi)
{
	return vi->owner_pid ? pid_vnr(vi->owner_pid) : 0;
}

/*
 * One dev-get message. With @lists false the endpoint and binding lists
 * are left out and the message says so: a dump sends a device that way
 * when it does not fit in a message of its own.
 */
static int vhost_iommu_nl_fill_dev(struct sk_buff *skb, struct vhost_iommu *vi,
				   u32 portid, u32 seq, int flags, bool lists)
{
	u32 pid = vhost_iommu_nl_owner_pid(vi);
	void *hdr;
	int i;

	lockdep_assert_held(&vi->mutex);
	hdr = genlmsg_put(skb, portid, seq, &vhost_iommu_nl_family, flags,
			  VHOST_IOMMU_CMD_DEV_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, VHOST_IOMMU_A_DEV_ID, vi->id) ||
	    (pid && nla_put_u32(skb, VHOST_IOMMU_A_DEV_OWNER_PID, pid)) ||
	    nla_put_uint(skb, VHOST_IOMMU_A_DEV_FEATURES, vi->features) ||
	    nla_put_uint(skb, VHOST_IOMMU_A_DEV_BACKEND_FEATURES,
			 vi->backend_features) ||
	    nla_put_u32(skb, VHOST_IOMMU_A_DEV_RUN, vi->run) ||
	    (vi->iommufd && nla_put_flag(skb, VHOST_IOMMU_A_DEV_IOMMUFD)))
		goto cancel;
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		if (vhost_iommu_nl_put_queue(skb, &vi->vqs[i]))
			goto cancel;
	if (lists) {
		if (vhost_iommu_nl_put_endpoints(skb, vi) ||
		    vhost_iommu_nl_put_bindings(skb, vi))
			goto cancel;
	} else if ((vi->nr_endpoints || vi->nr_bindings) &&
		   nla_put_flag(skb, VHOST_IOMMU_A_DEV_LISTS_OMITTED)) {
		goto cancel;
	}
	if (vi->pending.cookie &&
	    nla_put_u32(skb, VHOST_IOMMU_A_DEV_PENDING_TYPE, vi->pending.type))
		goto cancel;
	if (vi->fq && vhost_iommu_nl_put_faultq(skb, vi))
		goto cancel;
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/* Room for a device with every endpoint and binding it has. */
static size_t vhost_iommu_nl_dev_size(const struct vhost_iommu *vi)
{
	size_t queue = nla_total_size(0) + 5 * nla_total_size(sizeof(u32)) +
		       2 * nla_total_size(0);
	size_t ep = nla_total_size(0) + 2 * nla_total_size(sizeof(u32)) +
		    nla_total_size(sizeof(u64));
	size_t bind = nla_total_size(0) + 4 * nla_total_size(sizeof(u32));

	return 8 * nla_total_size(sizeof(u64)) + VHOST_IOMMU_VQ_MAX * queue +
	       vi->nr_endpoints * ep + vi->nr_bindings * bind +
	       nla_total_size(0) + 4 * nla_total_size(sizeof(u32));
}

static int vhost_iommu_nl_fill_stats(struct sk_buff *skb,
				     struct vhost_iommu *vi, u32 portid,
				     u32 seq, int flags, bool unused)
{
	const struct vhost_iommu_stats *st = &vi->stats;
	const struct {
		int attr;
		u64 val;
	} c[] = {
		{ VHOST_IOMMU_A_STATS_REQUESTS, st->out_requests },
		{ VHOST_IOMMU_A_STATS_SLOW_PATH, st->out_slow_path },
		{ VHOST_IOMMU_A_STATS_MALFORMED, st->out_malformed },
		{ VHOST_IOMMU_A_STATS_REJECTED, st->out_rejected },
		{ VHOST_IOMMU_A_STATS_BROKEN, st->out_broken },
		{ VHOST_IOMMU_A_STATS_INVALIDATIONS, st->out_invalidations },
		{ VHOST_IOMMU_A_STATS_INVAL_BATCHES, st->out_inval_batches },
		{ VHOST_IOMMU_A_STATS_INVAL_ERRORS, st->out_inval_errors },
		{ VHOST_IOMMU_A_STATS_PAGE_REQS, st->out_page_reqs },
		{ VHOST_IOMMU_A_STATS_PAGE_RESPS, st->out_page_resps },
		{ VHOST_IOMMU_A_STATS_PAGE_REQ_INVALID,
		  st->out_page_req_invalid },
		{ VHOST_IOMMU_A_STATS_FAULT_ERRORS, st->out_fault_errors },
		{ VHOST_IOMMU_A_STATS_WAKEUPS, st->out_wakeups },
		{ VHOST_IOMMU_A_STATS_USER_ACCESSES, st->out_user_accesses },
		{ VHOST_IOMMU_A_STATS_IOMMUFD_CALLS, st->out_iommufd_calls },
		{ VHOST_IOMMU_A_STATS_BUSY_POLL_HITS, st->out_busy_poll_hits },
		{ VHOST_IOMMU_A_STATS_VMM_EVENTS, st->out_vmm_events },
		{ VHOST_IOMMU_A_STATS_VMM_EVENTS_DROPPED,
		  st->out_vmm_events_dropped },
	};
	unsigned int i;
	void *hdr;

	lockdep_assert_held(&vi->mutex);
	BUILD_BUG_ON(ARRAY_SIZE(c) != VHOST_IOMMU_A_STATS_MAX - 1);
	hdr = genlmsg_put(skb, portid, seq, &vhost_iommu_nl_family, flags,
			  VHOST_IOMMU_CMD_STATS_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, VHOST_IOMMU_A_STATS_DEV_ID, vi->id))
		goto cancel;
	for (i = 0; i < ARRAY_SIZE(c); i++)
		if (nla_put_uint(skb, c[i].attr, c[i].val))
			goto cancel;
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

static int vhost_iommu_nl_doit(struct sk_buff *skb, struct genl_info *info,
			       int id_attr,
			       int (*fill)(struct sk_buff *skb,
					   struct vhost_iommu *vi, u32 portid,
					   u32 seq, int flags, bool lists))
{
	struct vhost_iommu *vi;
	struct sk_buff *msg;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, id_attr))
		return -EINVAL;
	vi = vhost_iommu_nl_get(skb, nla_get_u32(info->attrs[id_attr]), NULL);
	if (IS_ERR(vi)) {
		ret = PTR_ERR(vi);
		goto err;
	}
	ret = vhost_iommu_nl_lock(skb, vi);
	if (ret)
		goto put;
	ret = -ENOMEM;
	msg = genlmsg_new(fill == vhost_iommu_nl_fill_dev ?
			  vhost_iommu_nl_dev_size(vi) : NLMSG_GOODSIZE,
			  GFP_KERNEL);
	if (msg)
		ret = fill(msg, vi, info->snd_portid, info->snd_seq, 0, true);
	mutex_unlock(&vi->mutex);
	vhost_iommu_put(vi);
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	return genlmsg_reply(msg, info);

put:
	vhost_iommu_put(vi);
err:
	if (ret == -ENOENT)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[id_attr],
				    "no such device");
	else if (ret == -EPERM)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[id_attr],
				    "the device is another process's; reading it needs CAP_NET_ADMIN");
	return ret;
}

/*
 * Every device the reader may read, by ascending ID. cb->args[0] is the
 * ID to go on from; a device that does not fit waits for the next skb,
 * and one that does not fit an empty skb goes without its lists.
 */
static int vhost_iommu_nl_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb,
				 int (*fill)(struct sk_buff *skb,
					     struct vhost_iommu *vi, u32 portid,
					     u32 seq, int flags, bool lists))
{
	unsigned long id = max_t(unsigned long, cb->args[0], 1);
	struct vhost_iommu *vi;
	int ret = 0;

	for (;;) {
		vi = vhost_iommu_nl_get(cb->skb, id, &id);
		if (IS_ERR(vi))
			break;
		ret = vhost_iommu_nl_lock(cb->skb, vi);
		if (!ret) {
			ret = fill(skb, vi, NETLINK_CB(cb->skb).portid,
				   cb->nlh->nlmsg_seq, NLM_F_MULTI, true);
			if (ret && !skb->len)
				ret = fill(skb, vi, NETLINK_CB(cb->skb).portid,
					   cb->nlh->nlmsg_seq, NLM_F_MULTI,
					   false);
			mutex_unlock(&vi->mutex);
		} else if (ret != -EINTR) {
			/* Gone or no longer readable meanwhile: skipped. */
			ret = 0;
		}
		vhost_iommu_put(vi);
		if (ret)
			break;
		cb->args[0] = ++id;
	}
	if (ret && !skb->len)
		return ret;
	return skb->len;
}

int vhost_iommu_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	return vhost_iommu_nl_doit(skb, info, VHOST_IOMMU_A_DEV_ID,
				   vhost_iommu_nl_fill_dev);
}

int vhost_iommu_nl_dev_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb)
{
	return vhost_iommu_nl_dumpit(skb, cb, vhost_iommu_nl_fill_dev);
}

int vhost_iommu_nl_stats_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	return vhost_iommu_nl_doit(skb, info, VHOST_IOMMU_A_STATS_DEV_ID,
				   vhost_iommu_nl_fill_stats);
}

int vhost_iommu_nl_stats_get_dumpit(struct sk_buff *skb,
				    struct netlink_callback *cb)
{
	return vhost_iommu_nl_dumpit(skb, cb, vhost_iommu_nl_fill_stats);
}

/**
 * vhost_iommu_nl_notify() - tell the monitor group about a device
 * @vi: the device, mutex held
 * @event: VHOST_IOMMU_EVENT_*
 * @queue: the queue for %VHOST_IOMMU_EVENT_BROKEN, else -1
 *
 * Best effort: nothing is built without a listener, and a notification
 * that cannot be allocated is not sent. Listeners are in the initial
 * network namespace, where owner PIDs are global.
 */
void vhost_iommu_nl_notify(struct vhost_iommu *vi, u32 event, int queue)
{
	struct sk_buff *msg;
	void *hdr;

	lockdep_assert_held(&vi->mutex);
	if (!genl_has_listeners(&vhost_iommu_nl_family, &init_net,
				VHOST_IOMMU_NLGRP_MONITOR))
		return;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &vhost_iommu_nl_family, 0,
			  VHOST_IOMMU_CMD_DEV_CHANGE_NTF);
	if (!hdr ||
	    nla_put_u32(msg, VHOST_IOMMU_A_DEV_ID, vi->id) ||
	    (vi->owner_pid && nla_put_u32(msg, VHOST_IOMMU_A_DEV_OWNER_PID,
					  pid_nr(vi->owner_pid))) ||
	    nla_put_u32(msg, VHOST_IOMMU_A_DEV_EVENT, event) ||
	    (queue >= 0 &&
	     nla_put_u32(msg, VHOST_IOMMU_A_DEV_QUEUE_INDEX, queue))) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(&vhost_iommu_nl_family, &init_net, msg, 0,
				VHOST_IOMMU_NLGRP_MONITOR, GFP_KERNEL);
}

/*
 * The spec gives the monitor group admin-perm; the 6.12 generator leaves
 * group flags out of its table, so the registered table carries them.
 */
static const struct genl_multicast_group vhost_iommu_nl_mcgrps_admin[] = {
	[VHOST_IOMMU_NLGRP_MONITOR] = {
		.name = VHOST_IOMMU_MCGRP_MONITOR,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

int vhost_iommu_nl_init(void)
{
	if (WARN_ON(vhost_iommu_nl_family.n_mcgrps !=
		    ARRAY_SIZE(vhost_iommu_nl_mcgrps_admin)))
		return -EINVAL;
	vhost_iommu_nl_family.mcgrps = vhost_iommu_nl_mcgrps_admin;
	return genl_register_family(&vhost_iommu_nl_family);
}

void vhost_iommu_nl_exit(void)
{
	genl_unregister_family(&vhost_iommu_nl_family);
}
