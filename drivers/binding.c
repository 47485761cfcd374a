// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu endpoints and domain bindings: which host device is behind
 * a guest endpoint, and which iommufd object a guest domain's
 * invalidations go to. Both tables change only in the owner's ioctls and
 * are read by the worker, all under the device mutex.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/visibility.h>
#include <linux/export.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "vhost_iommu.h"

/* PCIe PASIDs are 20 bits; the key keeps room for "no PASID". */
#define VHOST_IOMMU_PASID_MAX	((1U << 20) - 1)

static unsigned long vhost_iommu_binding_key(u32 domain, bool has_pasid,
					     u32 pasid)
{
	return ((unsigned long)domain << 32) | (has_pasid ? pasid + 1 : 0);
}

/**
 * vhost_iommu_find_binding() - the binding an invalidation goes to
 * @vi: the device, mutex held
 * @domain: guest domain
 * @has_pasid: the request names a PASID
 * @pasid: that PASID
 *
 * Return: the PASID's binding if there is one, else the domain's, or NULL.
 */
struct vhost_iommu_binding *vhost_iommu_find_binding(struct vhost_iommu *vi,
						     u32 domain,
						     bool has_pasid, u32 pasid)
{
	struct vhost_iommu_binding *b = NULL;

	lockdep_assert_held(&vi->mutex);
	has_pasid = has_pasid && pasid <= VHOST_IOMMU_PASID_MAX;
	if (!has_pasid)
		pasid = 0;
	/* Batches name one binding again and again. */
	if (vi->last_bind.b && vi->last_bind.domain == domain &&
	    vi->last_bind.has_pasid == has_pasid &&
	    vi->last_bind.pasid == pasid)
		return vi->last_bind.b;
	if (has_pasid)
		b = xa_load(&vi->bindings,
			    vhost_iommu_binding_key(domain, true, pasid));
	if (!b)
		b = xa_load(&vi->bindings,
			    vhost_iommu_binding_key(domain, false, 0));
	if (b) {
		vi->last_bind.b = b;
		vi->last_bind.domain = domain;
		vi->last_bind.pasid = pasid;
		vi->last_bind.has_pasid = has_pasid;
	}
	return b;
}

/**
 * vhost_iommu_drop_bindings() - forget every binding
 * @vi: the device, mutex held
 */
void vhost_iommu_drop_bindings(struct vhost_iommu *vi)
{
	struct vhost_iommu_binding *b;
	unsigned long key;

	lockdep_assert_held(&vi->mutex);
	vi->last_bind.b = NULL;
	xa_for_each(&vi->bindings, key, b)
		kfree(b);
	xa_destroy(&vi->bindings);
	vi->nr_bindings = 0;
}

/**
 * vhost_iommu_drop_endpoints() - forget every endpoint
 * @vi: the device, mutex held
 */
void vhost_iommu_drop_endpoints(struct vhost_iommu *vi)
{
	struct vhost_iommu_ep *ep;
	unsigned long id;

	lockdep_assert_held(&vi->mutex);
	xa_for_each(&vi->endpoints, id, ep)
		kfree(ep);
	xa_destroy(&vi->endpoints);
	vi->nr_endpoints = 0;
}

/**
 * vhost_iommu_endpoint_of() - the guest endpoint of an iommufd device
 * @vi: the device, mutex held
 * @dev_id: iommufd device ID
 * @endpoint: receives the endpoint ID
 *
 * Return: 0, or -ENOENT if no endpoint is registered for @dev_id.
 */
int vhost_iommu_endpoint_of(struct vhost_iommu *vi, u32 dev_id, u32 *endpoint)
{
	struct vhost_iommu_ep *ep;
	unsigned long id;

	lockdep_assert_held(&vi->mutex);
	xa_for_each(&vi->endpoints, id, ep) {
		if (ep->dev_id == dev_id) {
			*endpoint = id;
			return 0;
		}
	}
	return -ENOENT;
}

/**
 * vhost_iommu_set_endpoint() - VHOST_IOMMU_SET_ENDPOINT
 * @vi: the device, mutex held
 * @arg: struct vhost_iommu_endpoint
 *
 * Removing an endpoint answers its outstanding page requests.
 *
 * Return: 0, -EEXIST, -ENOENT, -ENOSPC, or an argument error.
 */
long vhost_iommu_set_endpoint(struct vhost_iommu *vi, void __user *arg)
{
	struct vhost_iommu_endpoint c;
	struct vhost_iommu_ep *ep;
	u32 usize;
	int ret;

	lockdep_assert_held(&vi->mutex);
	ret = vhost_iommu_copy_arg(&c, sizeof(c),
				   offsetofend(struct vhost_iommu_endpoint,
					       virt_id), arg, &usize);
	if (ret)
		return ret;
	if (c.flags & ~VHOST_IOMMU_ENDPOINT_F_REMOVE)
		return -EOPNOTSUPP;
	if (c.flags & VHOST_IOMMU_ENDPOINT_F_REMOVE) {
		ep = xa_erase(&vi->endpoints, c.endpoint);
		if (!ep)
			return -ENOENT;
		kfree(ep);
		/* Nobody could answer its page requests any more. */
		vhost_iommu_fault_endpoint_gone(vi, c.endpoint);
		/* Nor may its stream ID be invalidated for another device. */
		vhost_iommu_bindings_endpoint_gone(vi, c.endpoint);
		vi->nr_endpoints--;
		return 0;
	}
	/* Architecture IDs (SMMUv3 vSIDs) are 32 bits: never truncate one. */
	if (c.virt_id > U32_MAX)
		return -EINVAL;
	if (xa_load(&vi->endpoints, c.endpoint))
		return -EEXIST;
	if (vi->nr_endpoints >= VHOST_IOMMU_MAX_ENDPOINTS)
		return -ENOSPC;
	ep = kzalloc(sizeof(*ep), GFP_KERNEL_ACCOUNT);
	if (!ep)
		return -ENOMEM;
	ep->dev_id = c.dev_id;
	ep->virt_id = c.virt_id;
	ret = xa_err(xa_store(&vi->endpoints, c.endpoint, ep,
			      GFP_KERNEL_ACCOUNT));
	if (ret) {
		kfree(ep);
		return ret;
	}
	vi->nr_endpoints++;
	return 0;
}

bool vhost_iommu_format_ok(u32 format)
{
	switch (format) {
	case VHOST_IOMMU_INV_FORMAT_SELFTEST:
		return IS_ENABLED(CONFIG_IOMMUFD_TEST);
	case VHOST_IOMMU_INV_FORMAT_VTD_S1:
		return true;
	case VHOST_IOMMU_INV_FORMAT_ARM_SMMUV3:
#ifdef VHOST_IOMMU_HAVE_SMMUV3_VIOMMU
		return true;
#else
		return false;
#endif
	case VHOST_IOMMU_INV_FORMAT_VIOMMU_SELFTEST:
#ifdef VHOST_IOMMU_HAVE_VIOMMU
		return IS_ENABLED(CONFIG_IOMMUFD_TEST);
#else
		return false;
#endif
	}
	return false;
}

static bool vhost_iommu_format_is_viommu(u32 format)
{
	return format == VHOST_IOMMU_INV_FORMAT_ARM_SMMUV3 ||
	       format == VHOST_IOMMU_INV_FORMAT_VIOMMU_SELFTEST;
}

/* vIOMMU formats: the virt IDs of the domain's endpoints. */
static int vhost_iommu_bind_sids(struct vhost_iommu *vi,
				 const struct vhost_iommu_bind *c,
				 struct vhost_iommu_inval_target *t, u32 *eps)
{
	u32 ids[VHOST_IOMMU_MAX_BIND_ENDPOINTS];
	struct vhost_iommu_ep *ep;
	u32 i;

	if (!vhost_iommu_format_is_viommu(c->format))
		return c->nr_endpoints ? -EINVAL : 0;
	if (c->nr_endpoints > VHOST_IOMMU_MAX_BIND_ENDPOINTS)
		return -EINVAL;
	if (copy_from_user(ids, u64_to_user_ptr(c->endpoints_uptr),
			   c->nr_endpoints * sizeof(ids[0])))
		return -EFAULT;
	for (i = 0; i < c->nr_endpoints; i++) {
		ep = xa_load(&vi->endpoints, ids[i]);
		if (!ep)
			return -EINVAL;
		t->sids[i] = ep->virt_id;
		eps[i] = ids[i];
	}
	t->nr_sids = c->nr_endpoints;
	return 0;
}

/**
 * vhost_iommu_bindings_endpoint_gone() - drop an endpoint from every binding
 * @vi: the device, mutex held
 * @endpoint: the endpoint being removed
 *
 * Its stream ID leaves the bindings' device invalidations: a later device
 * given the same ID must not be reached through this endpoint's domains.
 */
void vhost_iommu_bindings_endpoint_gone(struct vhost_iommu *vi, u32 endpoint)
{
	struct vhost_iommu_binding *b;
	unsigned long key;
	u32 i, n;

	lockdep_assert_held(&vi->mutex);
	xa_for_each(&vi->bindings, key, b) {
		for (i = 0, n = 0; i < b->target.nr_sids; i++) {
			if (b->eps[i] == endpoint)
				continue;
			b->eps[n] = b->eps[i];
			b->target.sids[n++] = b->target.sids[i];
		}
		b->target.nr_sids = n;
	}
}
EXPORT_SYMBOL_IF_KUNIT(vhost_iommu_bindings_endpoint_gone);

/**
 * vhost_iommu_bind_domain() - VHOST_IOMMU_BIND_DOMAIN
 * @vi: the device, mutex held
 * @arg: struct vhost_iommu_bind
 *
 * Return: 0, -EINVAL, -EOPNOTSUPP, -ENOENT, -ENOSPC, or an argument error.
 */
long vhost_iommu_bind_domain(struct vhost_iommu *vi, void __user *arg)
{
	struct vhost_iommu_binding *b, *old;
	struct vhost_iommu_bind c;
	unsigned long key;
	u32 usize;
	int ret;

	lockdep_assert_held(&vi->mutex);
	ret = vhost_iommu_copy_arg(&c, sizeof(c),
				   offsetofend(struct vhost_iommu_bind,
					       endpoints_uptr), arg, &usize);
	if (ret)
		return ret;
	if (c.flags & ~(VHOST_IOMMU_BIND_F_UNBIND | VHOST_IOMMU_BIND_F_PASID))
		return -EOPNOTSUPP;
	if ((c.flags & VHOST_IOMMU_BIND_F_PASID) &&
	    c.pasid > VHOST_IOMMU_PASID_MAX)
		return -EINVAL;
	key = vhost_iommu_binding_key(c.domain,
				      c.flags & VHOST_IOMMU_BIND_F_PASID,
				      c.pasid);
	if (c.flags & VHOST_IOMMU_BIND_F_UNBIND) {
		vi->last_bind.b = NULL;
		b = xa_erase(&vi->bindings, key);
		if (!b)
			return -ENOENT;
		kfree(b);
		vi->nr_bindings--;
		return 0;
	}

	if (!vi->iommufd || c.input_end < c.input_start ||
	    c.granule_log2 < 12 || c.granule_log2 > 63)
		return -EINVAL;
	if (!vhost_iommu_format_ok(c.format))
		return -EOPNOTSUPP;
	old = xa_load(&vi->bindings, key);
	if (!old && vi->nr_bindings >= VHOST_IOMMU_MAX_BINDINGS)
		return -ENOSPC;

	b = kzalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);
	if (!b)
		return -ENOMEM;
	b->object_id = c.object_id;
	b->target.format = c.format;
	b->target.input_start = c.input_start;
	b->target.input_end = c.input_end;
	b->target.granule_log2 = c.granule_log2;
	ret = vhost_iommu_bind_sids(vi, &c, &b->target, b->eps);
	if (ret)
		goto err_free;
	/* Replacing is one store: the worker sees the old or the new one. */
	vi->last_bind.b = NULL;
	old = xa_store(&vi->bindings, key, b, GFP_KERNEL_ACCOUNT);
	ret = xa_err(old);
	if (ret)
		goto err_free;
	if (!old)
		vi->nr_bindings++;
	kfree(old);
	return 0;
err_free:
	kfree(b);
	return ret;
}
