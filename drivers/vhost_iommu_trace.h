/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu tracepoints: /sys/kernel/tracing/events/vhost_iommu/.
 * Every event names the device by its netlink ID.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vhost_iommu

#if !defined(_VHOST_IOMMU_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _VHOST_IOMMU_TRACE_H

#include <linux/tracepoint.h>

/* path: who answers the request, VHOST_IOMMU_PATH_* */
TRACE_EVENT(vhost_iommu_req_dispatch,
	    TP_PROTO(u32 dev, u16 desc, u8 type, u8 path),
	    TP_ARGS(dev, desc, type, path),
	    TP_STRUCT__entry(__field(u32, dev)
			     __field(u16, head)
			     __field(u8, type)
			     __field(u8, path)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->head = desc;
			   __entry->type = type;
			   __entry->path = path;),
	    TP_printk("dev=%u head=%u type=%u path=%s", __entry->dev,
		      __entry->head, __entry->type,
		      __print_symbolic(__entry->path,
				       { VHOST_IOMMU_PATH_DEVICE, "device" },
				       { VHOST_IOMMU_PATH_FAST, "fast" },
				       { VHOST_IOMMU_PATH_VMM, "vmm" })));

TRACE_EVENT(vhost_iommu_req_complete,
	    TP_PROTO(u32 dev, u16 desc, u8 type, u8 status, u32 used_len,
		     u8 path),
	    TP_ARGS(dev, desc, type, status, used_len, path),
	    TP_STRUCT__entry(__field(u32, dev)
			     __field(u32, used_len)
			     __field(u16, head)
			     __field(u8, type)
			     __field(u8, status)
			     __field(u8, path)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->used_len = used_len;
			   __entry->head = desc;
			   __entry->type = type;
			   __entry->status = status;
			   __entry->path = path;),
	    TP_printk("dev=%u head=%u type=%u status=%u len=%u path=%s",
		      __entry->dev, __entry->head, __entry->type,
		      __entry->status, __entry->used_len,
		      __print_symbolic(__entry->path,
				       { VHOST_IOMMU_PATH_DEVICE, "device" },
				       { VHOST_IOMMU_PATH_FAST, "fast" },
				       { VHOST_IOMMU_PATH_VMM, "vmm" })));

TRACE_EVENT(vhost_iommu_inval_batch,
	    TP_PROTO(u32 dev, u32 object_id, u32 reqs, u32 entries, u32 calls,
		     u32 errors),
	    TP_ARGS(dev, object_id, reqs, entries, calls, errors),
	    TP_STRUCT__entry(__field(u32, dev)
			     __field(u32, object_id)
			     __field(u32, reqs)
			     __field(u32, entries)
			     __field(u32, calls)
			     __field(u32, errors)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->object_id = object_id;
			   __entry->reqs = reqs;
			   __entry->entries = entries;
			   __entry->calls = calls;
			   __entry->errors = errors;),
	    TP_printk("dev=%u object=%u reqs=%u entries=%u calls=%u errors=%u",
		      __entry->dev, __entry->object_id, __entry->reqs,
		      __entry->entries, __entry->calls, __entry->errors));

TRACE_EVENT(vhost_iommu_page_req,
	    TP_PROTO(u32 dev, u32 endpoint, u16 grpid, u32 records),
	    TP_ARGS(dev, endpoint, grpid, records),
	    TP_STRUCT__entry(__field(u32, dev)
			     __field(u32, endpoint)
			     __field(u32, records)
			     __field(u16, grpid)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->endpoint = endpoint;
			   __entry->records = records;
			   __entry->grpid = grpid;),
	    TP_printk("dev=%u endpoint=%u grpid=%u records=%u", __entry->dev,
		      __entry->endpoint, __entry->grpid, __entry->records));

/*
 * by_device: the device answered (INVALID), not the guest; endpoint is
 * U32_MAX for a group from a device with no endpoint registered.
 */
TRACE_EVENT(vhost_iommu_page_resp,
	    TP_PROTO(u32 dev, u32 endpoint, u16 grpid, u32 code,
		     bool by_device),
	    TP_ARGS(dev, endpoint, grpid, code, by_device),
	    TP_STRUCT__entry(__field(u32, dev)
			     __field(u32, endpoint)
			     __field(u32, code)
			     __field(u16, grpid)
			     __field(bool, by_device)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->endpoint = endpoint;
			   __entry->code = code;
			   __entry->grpid = grpid;
			   __entry->by_device = by_device;),
	    TP_printk("dev=%u endpoint=%u grpid=%u code=%u from=%s",
		      __entry->dev, __entry->endpoint, __entry->grpid,
		      __entry->code, __entry->by_device ? "device" : "guest"));

#endif /* _VHOST_IOMMU_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE vhost_iommu_trace
#include <trace/define_trace.h>
