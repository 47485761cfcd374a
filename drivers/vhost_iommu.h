/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu private definitions.
 *
 * Locking: one mutex per device, vhost_iommu.mutex, serializes the VMM's
 * ioctls and the worker's passes over the rings, so the ring state, the
 * memory table, the pending slow-path request and the eventfds never change
 * under a pass. The kick and fault queue wake-up callbacks run under their
 * wait queue's lock and only set a bit and wake the worker; they find the
 * worker through an RCU pointer, which stopping the worker, or its being
 * killed, clears and waits out before the task is freed. Waiting for the
 * mutex is announced in vmm_waiting, which ends a busy poll and a pass
 * after the request in hand. A reference count keeps a device alive for
 * netlink readers that wait for its mutex outside the registry's lock.
 * Nothing sleeps while waiting for the
 * VMM: a slow-path request parks the request queue and the COMPLETE ioctl
 * finishes it and restarts the queue.
 *
 * Guest memory is read once: the request head and body are copied into
 * the kernel in one pass and every decision is taken from that copy.
 */
#ifndef _VHOST_IOMMU_H
#define _VHOST_IOMMU_H

#include <linux/atomic.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sizes.h>
#include <linux/types.h>
#include <linux/virtio_iommu.h>
#include <linux/virtio_ring.h>
#include <linux/vhost_iommu.h>
#include <linux/vhost_iommu_netlink.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include "invalidate.h"

struct eventfd_ctx;
struct file;
struct mm_struct;
struct vhost_task;

/* Descriptors walked per chain; more is a loop or a corrupt ring. */
#define VHOST_IOMMU_MAX_DESCS	64
/*
 * Host-virtual pieces per chain: a buffer crossing a memory region boundary
 * is two. The uAPI promises VHOST_IOMMU_MAX_CHAIN_PIECES.
 */
#define VHOST_IOMMU_MAX_SEGS	VHOST_IOMMU_MAX_CHAIN_PIECES
/* Available ring entries read in one copy. */
#define VHOST_IOMMU_AVAIL_RUN	32
/* Used entries written in one copy. */
#define VHOST_IOMMU_USED_RUN	64
/* Indirect tables up to this many descriptors are read in one copy. */
#define VHOST_IOMMU_IND_RUN	16
/* Requests handled per wake-up before yielding. */
#define VHOST_IOMMU_WEIGHT	256
/* ... and writable bytes, as vhost-net weighs its passes. */
#define VHOST_IOMMU_WEIGHT_BYTES	SZ_512K
/* Largest device-readable part of any request type (ATTACH_TABLE). */
#define VHOST_IOMMU_MAX_READABLE	128
/* Entries per IOMMU_HWPT_INVALIDATE call. */
#define VHOST_IOMMU_INV_BATCH		256
/*
 * Staging area in the owner's memory: an invalidation command and its
 * entries, or fault queue records, or page responses.
 */
#define VHOST_IOMMU_SCRATCH_SIZE	SZ_32K
/* Fault queue records read at once: 20 KiB, bigger than any PRI group. */
#define VHOST_IOMMU_FAULT_BUF_RECORDS	512
#define VHOST_IOMMU_PGFAULT_SIZE	40

/* Bindings outlive the virtio device reset (VHOST_SET_BACKEND_FEATURES). */
#define VHOST_IOMMU_BACKEND_FEATURES	BIT_ULL(VHOST_IOMMU_BACKEND_F_PERSIST)

struct vhost_iommu_mem_region {
	u64 gpa;
	u64 size;
	u64 hva;
};

struct vhost_iommu_mem {
	u32 nregions;
	struct vhost_iommu_mem_region regions[] __counted_by(nregions);
};

struct vhost_iommu_seg {
	u64 hva;
	u32 len;
};

/**
 * struct vhost_iommu_chain - a descriptor chain taken from the ring
 * @vq: the queue it was taken from
 * @head: head descriptor index, the used entry's id
 * @nr_in: device-readable pieces, @segs[0 .. nr_in)
 * @nr_out: device-writable pieces, following them
 * @in_len: device-readable bytes
 * @out_len: device-writable bytes
 * @segs: the pieces, host-virtual
 */
struct vhost_iommu_chain {
	struct vhost_iommu_vq *vq;
	u16 head;
	u32 nr_in;
	u32 nr_out;
	u32 in_len;
	u32 out_len;
	struct vhost_iommu_seg segs[VHOST_IOMMU_MAX_SEGS];
};

/**
 * struct vhost_iommu_vq - one split virtqueue
 * @num: queue size, a power of two; 0 until set
 * @desc: descriptor table, VMM virtual address
 * @avail: available ring, VMM virtual address
 * @used: used ring, VMM virtual address
 * @addr_set: @desc, @avail and @used were set
 * @last_avail_idx: next available entry to take
 * @last_used_idx: next used entry to publish
 * @signalled_used: used index when the guest was last signalled
 * @signalled_used_valid: @signalled_used is known; false after a new base
 * @event_idx: VIRTIO_RING_F_EVENT_IDX negotiated
 * @indirect: VIRTIO_RING_F_INDIRECT_DESC negotiated
 * @broken: found corrupt; not read again until reset
 * @notify_off: VRING_USED_F_NO_NOTIFY is set (without EVENT_IDX)
 * @avail_idx: the guest's available index as last read
 * @nr_heads: entries of @heads, read from available index @heads_first
 * @heads_first: see @nr_heads
 * @heads: a run of available ring entries, read in one copy
 * @nr_used: entries of @used_run not published yet
 * @used_run: used entries published together by vhost_iommu_vq_flush_used()
 * @busyloop_timeout: VHOST_SET_VRING_BUSYLOOP_TIMEOUT, microseconds
 * @kick: kick eventfd file, or NULL
 * @kick_wqh: the wait queue @kick_wait is on
 * @kick_wait: our entry on the kick eventfd's wait queue
 * @kick_pt: poll table used to find @kick_wqh
 * @call: call eventfd, or NULL
 * @err: err eventfd, or NULL
 * @vi: the device
 * @index: queue index
 */
struct vhost_iommu_vq {
	u32 num;
	u64 desc;
	u64 avail;
	u64 used;
	bool addr_set;
	u16 last_avail_idx;
	u16 last_used_idx;
	u16 signalled_used;
	bool signalled_used_valid;
	bool event_idx;
	bool indirect;
	bool broken;
	bool notify_off;
	u16 avail_idx;
	u16 nr_heads;
	u16 heads_first;
	__virtio16 heads[VHOST_IOMMU_AVAIL_RUN];
	u16 nr_used;
	struct vring_used_elem used_run[VHOST_IOMMU_USED_RUN];
	u32 busyloop_timeout;
	struct file *kick;
	wait_queue_head_t *kick_wqh;
	wait_queue_entry_t kick_wait;
	poll_table kick_pt;
	struct eventfd_ctx *call;
	struct eventfd_ctx *err;
	struct vhost_iommu *vi;
	unsigned int index;
};

/**
 * struct vhost_iommu_pending - the request parked for the VMM
 * @cookie: identifies it in GET/COMPLETE; 0 when none is pending
 * @type: request type
 * @readable: bytes of @buf
 * @buf: the device-readable part
 * @chain: where to write the answer
 */
struct vhost_iommu_pending {
	u64 cookie;
	u8 type;
	u32 readable;
	u8 buf[VHOST_IOMMU_MAX_READABLE];
	struct vhost_iommu_chain chain;
};

/**
 * struct vhost_iommu_config_state - what the guest's config space says
 * @page_size_mask: page_size_mask
 * @input_start: input_range.start
 * @input_end: input_range.end
 * @domain_start: domain_range.start
 * @domain_end: domain_range.end
 * @probe_size: probe_size
 * @bypass: bypass
 */
struct vhost_iommu_config_state {
	u64 page_size_mask;
	u64 input_start;
	u64 input_end;
	u32 domain_start;
	u32 domain_end;
	u32 probe_size;
	u8 bypass;
};

/**
 * struct vhost_iommu_ep - a registered endpoint
 * @dev_id: iommufd device ID
 * @virt_id: the guest architecture's ID for it (SMMUv3 vSID)
 */
struct vhost_iommu_ep {
	u32 dev_id;
	u64 virt_id;
};

/**
 * struct vhost_iommu_binding - where a guest domain's invalidations go
 * @object_id: iommufd HWPT or vIOMMU ID
 * @target: format and geometry for the translation
 * @eps: endpoint IDs whose virt_id is in @target.sids, same order
 */
struct vhost_iommu_binding {
	u32 object_id;
	struct vhost_iommu_inval_target target;
	u32 eps[VHOST_IOMMU_MAX_BIND_ENDPOINTS];
};

/**
 * struct vhost_iommu_batch_req - an INVALIDATE waiting in the batch
 * @head: chain head, the used entry's id
 * @out_len: writable size, the used length
 * @nr_tail: pieces of @tail
 * @tail: where the status goes (4 bytes may span up to four pieces)
 * @first_entry: its first entry in the batch
 * @nr_entries: its entries; 0 when nothing needs invalidating
 */
struct vhost_iommu_batch_req {
	u16 head;
	u32 out_len;
	u32 nr_tail;
	struct vhost_iommu_seg tail[4];
	u32 first_entry;
	u32 nr_entries;
};

/**
 * struct vhost_iommu_batch - consecutive INVALIDATEs to one binding
 * @binding: their binding; NULL when empty
 * @nr_reqs: requests in @reqs
 * @nr_entries: entries in @entries
 * @reqs: the requests, in ring order
 * @entries: their translated entries
 * @scratch: one request's entries, before they join the batch
 */
struct vhost_iommu_batch {
	struct vhost_iommu_binding *binding;
	u32 nr_reqs;
	u32 nr_entries;
	struct vhost_iommu_batch_req reqs[VHOST_IOMMU_WEIGHT];
	u8 entries[VHOST_IOMMU_INV_BATCH * VHOST_IOMMU_INV_MAX_ENTRY_LEN];
	u8 scratch[VHOST_IOMMU_INV_MAX_ENTRIES * VHOST_IOMMU_INV_MAX_ENTRY_LEN];
};

/**
 * struct vhost_iommu_group - a page request group read from the fault queue
 * @cookie: iommufd's cookie for the response
 * @endpoint: guest endpoint
 * @pasid: PASID, if @has_pasid
 * @grpid: group ID
 * @has_pasid: the requests carry a PASID
 * @delivered: every record reached the event queue; the guest may answer
 * @used: the slot holds a group
 */
struct vhost_iommu_group {
	u32 cookie;
	u32 endpoint;
	u32 pasid;
	u16 grpid;
	bool has_pasid;
	bool delivered;
	bool used;
};

/* &vhost_iommu_backlog_rec.group of a record the VMM posted */
#define VHOST_IOMMU_EVENT_VMM	U32_MAX

/**
 * struct vhost_iommu_backlog_rec - a record waiting for an event buffer
 * @rec: a page request record as the guest gets it
 * @fault: a fault report the VMM posted, as the guest gets it
 * @group: the page request's group, an index into
 *         &vhost_iommu_faultq.groups; %VHOST_IOMMU_EVENT_VMM for @fault
 */
struct vhost_iommu_backlog_rec {
	union {
		struct virtio_iommu_page_req rec;
		struct virtio_iommu_fault fault;
	};
	u32 group;
};

/**
 * struct vhost_iommu_faultq - the attached iommufd fault queue
 * @file: the fault queue file; the worker is its only reader
 * @wqh: the wait queue @wait is on
 * @wait: our entry on it
 * @pt: poll table used to find @wqh
 * @vi: the device
 * @fake: test builds: a synthetic fault source used instead of @file
 * @nr_groups: outstanding groups
 * @groups_end: one past the last slot of @groups in use; scans stop there
 * @groups: outstanding groups, delivered or not; the undelivered ones
 *          have their records in &vhost_iommu.backlog
 * @answers: cookies being answered INVALID
 * @nr_retry: answers whose write failed, to be written again
 * @retry: their cookies
 * @retry_passes: worker passes in a row whose retry failed
 * @read_errors: failed reads in a row
 * @buf: records as read from the fault queue
 */
struct vhost_iommu_faultq {
	struct file *file;
	wait_queue_head_t *wqh;
	wait_queue_entry_t wait;
	poll_table pt;
	struct vhost_iommu *vi;
	struct vhost_iommu_fake_faults *fake;
	u32 nr_groups;
	u32 groups_end;
	struct vhost_iommu_group groups[VHOST_IOMMU_MAX_PAGE_GROUPS];
	u32 answers[VHOST_IOMMU_FAULT_BUF_RECORDS];
	u32 nr_retry;
	u32 retry[VHOST_IOMMU_FAULT_BUF_RECORDS];
	u32 retry_passes;
	u32 read_errors;
	u8 buf[VHOST_IOMMU_FAULT_BUF_RECORDS * VHOST_IOMMU_PGFAULT_SIZE];
};

/*
 * VHOST_IOMMU_SET_RUNNING states are enum vhost_iommu_run of the netlink
 * uAPI. A device that never got the ioctl runs once set up and may be
 * reconfigured as it runs; once started with it, its rings are fixed until
 * it is stopped, as vhost's are.
 */

/* Who answered a request, for the tracepoints. */
enum {
	VHOST_IOMMU_PATH_DEVICE,	/* the device itself: malformed, invalid */
	VHOST_IOMMU_PATH_FAST,		/* INVALIDATE, PAGE_RESP in the kernel */
	VHOST_IOMMU_PATH_VMM,		/* the slow path */
};

/* Work bits, set by wake-ups and consumed by the worker. */
enum {
	VHOST_IOMMU_WORK_REQUEST,
	VHOST_IOMMU_WORK_EVENTQ,	/* deliver the waiting event records */
	VHOST_IOMMU_WORK_FAULT,		/* and read the fault queue */
};

/**
 * struct vhost_iommu - one open instance of /dev/vhost-iommu
 * @mutex: serializes everything below but @id, @work and @poll_wq
 * @refs: the open file's reference and netlink readers' (vhost_iommu_put())
 * @gone: released; a netlink reader holding a reference skips the device
 * @id: the device's number in the netlink family and in fdinfo
 * @owner: the owner's mm (grabbed, not pinned); NULL until SET_OWNER
 * @owner_pid: the owner's thread group, for netlink; NULL with @owner
 * @worker: the worker thread, in the owner's process; RCU for wake-ups,
 *          cleared when the task is killed or stopped
 * @worker_task: the same task, kept until vhost_task_stop() frees it
 * @work: VHOST_IOMMU_WORK_* bits
 * @run: VHOST_IOMMU_RUN_*, what VHOST_IOMMU_SET_RUNNING said last
 * @features: negotiated virtio features
 * @features_set: VHOST_SET_FEATURES was called
 * @mem: memory table, or NULL
 * @config: the config space as the VMM presents it
 * @vqs: request queue and event queue
 * @chain: scratch chain for the worker's pass
 * @req: the readable part of the request being handled, as copied once
 * @ind: an indirect table being walked, as copied once
 * @vmm_waiting: ioctls and netlink readers waiting for @mutex; a
 *               busy-polling worker yields
 * @pending: the slow-path request waiting for the VMM
 * @next_cookie: cookie of the next slow-path request
 * @poll_wq: woken when a slow-path request is parked
 * @stats: counters reported by VHOST_IOMMU_GET_STATS
 * @backend_features: VHOST_SET_BACKEND_FEATURES
 * @iommufd: the iommufd file invalidations go to, or NULL
 * @scratch: owner virtual address of the staging area, or 0
 * @endpoints: endpoint ID -> struct vhost_iommu_ep
 * @nr_endpoints: entries in @endpoints
 * @bindings: (domain, PASID) key -> struct vhost_iommu_binding
 * @nr_bindings: entries in @bindings
 * @last_bind: the binding the last INVALIDATE found, by its request's key;
 *             forgotten whenever @bindings changes
 * @batch: INVALIDATEs collected in the current pass
 * @fq: the attached fault queue, or NULL
 * @nr_backlog: records in @backlog
 * @backlog: records waiting for event buffers, oldest first: page request
 *           groups whole (only while @fq is attached) and the VMM's fault
 *           reports, one FIFO into the event queue
 */
struct vhost_iommu {
	struct mutex mutex;	/* see the top of this file */
	refcount_t refs;
	bool gone;
	u32 id;
	struct mm_struct *owner;
	struct pid *owner_pid;
	struct vhost_task __rcu *worker;
	struct vhost_task *worker_task;
	unsigned long work;
	u8 run;
	u64 features;
	bool features_set;
	struct vhost_iommu_mem *mem;
	struct vhost_iommu_config_state config;
	struct vhost_iommu_vq vqs[VHOST_IOMMU_VQ_MAX];
	struct vhost_iommu_chain chain;
	u8 req[VHOST_IOMMU_MAX_READABLE];
	struct vring_desc ind[VHOST_IOMMU_IND_RUN];
	atomic_t vmm_waiting;
	struct vhost_iommu_pending pending;
	u64 next_cookie;
	wait_queue_head_t poll_wq;
	struct vhost_iommu_stats stats;
	u64 backend_features;
	struct file *iommufd;
	u64 scratch;
	struct xarray endpoints;
	u32 nr_endpoints;
	struct xarray bindings;
	u32 nr_bindings;
	struct {
		struct vhost_iommu_binding *b;
		u32 domain;
		u32 pasid;
		bool has_pasid;
	} last_bind;
	struct vhost_iommu_batch batch;
	struct vhost_iommu_faultq *fq;
	u32 nr_backlog;
	struct vhost_iommu_backlog_rec backlog[VHOST_IOMMU_MAX_EVENT_BACKLOG];
};

/*
 * The mutex, for an ioctl or a netlink reader: a busy-polling worker sees
 * @vmm_waiting and gives the mutex up instead of polling on.
 */
static inline void vhost_iommu_lock_for_vmm(struct vhost_iommu *vi)
{
	atomic_inc(&vi->vmm_waiting);
	mutex_lock(&vi->mutex);
	atomic_dec(&vi->vmm_waiting);
}

/* The same, giving up on a fatal signal: -EINTR. */
static inline int vhost_iommu_lock_for_vmm_killable(struct vhost_iommu *vi)
{
	int ret;

	atomic_inc(&vi->vmm_waiting);
	ret = mutex_lock_killable(&vi->mutex);
	atomic_dec(&vi->vmm_waiting);
	return ret;
}

/* Count @n accesses to guest or owner memory (VHOST_IOMMU_GET_STATS). */
static inline void vhost_iommu_count_ua(struct vhost_iommu *vi, u32 n)
{
	vi->stats.out_user_accesses += n;
}

/**
 * struct vhost_iommu_req_layout - how a request type is framed
 * @readable: bytes of the device-readable part (head included)
 * @writable: bytes of the device-writable part (tail included)
 */
struct vhost_iommu_req_layout {
	u32 readable;
	u32 writable;
};

/*
 * Checking a request returns a status, or one of these to hand it to the
 * VMM or to the invalidation fast path.
 */
#define VHOST_IOMMU_TO_VMM	0x100
#define VHOST_IOMMU_FAST_INVAL	0x101
#define VHOST_IOMMU_FAST_PAGE_RESP	0x102

struct iommu_hwpt_pgfault;
struct iommu_hwpt_page_response;
struct vhost_iommu_fake_faults;

/* main.c */
void vhost_iommu_wake(struct vhost_iommu *vi, int bit);
void vhost_iommu_put(struct vhost_iommu *vi);
int vhost_iommu_copy_arg(void *dst, size_t ksize, size_t minsz,
			 void __user *arg, u32 *usize);

/* netlink.c */
int vhost_iommu_nl_init(void);
void vhost_iommu_nl_exit(void);
int vhost_iommu_nl_add(struct vhost_iommu *vi);
void vhost_iommu_nl_del(struct vhost_iommu *vi);
void vhost_iommu_nl_notify(struct vhost_iommu *vi, u32 event, int queue);

/* request.c */
int vhost_iommu_req_layout(u8 type, u64 features, u32 probe_size,
			   struct vhost_iommu_req_layout *layout);
int vhost_iommu_req_check(u8 type, const void *req, u64 features,
			  const struct vhost_iommu_config_state *config);
bool vhost_iommu_vq_running(const struct vhost_iommu *vi,
			    const struct vhost_iommu_vq *vq);
bool vhost_iommu_handle_requests(struct vhost_iommu *vi);
u32 vhost_iommu_inval_data_type(u32 format);
int vhost_iommu_complete(struct vhost_iommu *vi, u16 head,
			 const struct vhost_iommu_chain *chain, u32 written,
			 u8 status);
void vhost_iommu_vq_mark_broken(struct vhost_iommu *vi,
				struct vhost_iommu_vq *vq);
void vhost_iommu_vq_signal(struct vhost_iommu_vq *vq);

/* slowpath.c */
void vhost_iommu_park(struct vhost_iommu *vi, u8 type, const void *buf,
		      u32 readable, const struct vhost_iommu_chain *chain);
void vhost_iommu_drop_pending(struct vhost_iommu *vi);
void vhost_iommu_rewind_pending(struct vhost_iommu *vi);
long vhost_iommu_get_request(struct vhost_iommu *vi, void __user *arg);
long vhost_iommu_complete_request(struct vhost_iommu *vi, void __user *arg);

/* iommufd.c */
int vhost_iommu_hwpt_invalidate(struct vhost_iommu *vi, u32 object_id,
				u32 data_type, const void *entries,
				u32 entry_len, u32 n);
ssize_t vhost_iommu_fault_read(struct vhost_iommu *vi, struct file *file,
			       void *buf, size_t count);
ssize_t vhost_iommu_fault_read_big(struct vhost_iommu *vi, struct file *file,
				   u64 *uaddr);
void vhost_iommu_fault_free_big(u64 addr);
int vhost_iommu_fault_write(struct vhost_iommu *vi, struct file *file,
			    const struct iommu_hwpt_page_response *r, u32 n,
			    u32 *done);
void vhost_iommu_drop_iommufd(struct vhost_iommu *vi);
long vhost_iommu_set_iommufd(struct vhost_iommu *vi, void __user *arg);

/* fault.c */
int vhost_iommu_pgfault_to_event(const struct iommu_hwpt_pgfault *pf,
				 u32 endpoint, bool last,
				 struct virtio_iommu_page_req *ev);
u32 vhost_iommu_group_len(const struct iommu_hwpt_pgfault *pf, u32 n);
int vhost_iommu_page_resp_code(u16 code);
void vhost_iommu_fault_answer_all(struct vhost_iommu *vi);
void vhost_iommu_fault_endpoint_gone(struct vhost_iommu *vi, u32 endpoint);
void vhost_iommu_bindings_endpoint_gone(struct vhost_iommu *vi, u32 endpoint);
void vhost_iommu_fault_detach(struct vhost_iommu *vi);
long vhost_iommu_set_fault_queue(struct vhost_iommu *vi, void __user *arg);
void vhost_iommu_events_drop(struct vhost_iommu *vi);
long vhost_iommu_post_event(struct vhost_iommu *vi, void __user *arg);
bool vhost_iommu_handle_faults(struct vhost_iommu *vi, bool read);
u8 vhost_iommu_handle_page_resp(struct vhost_iommu *vi,
				const struct virtio_iommu_req_page_resp *r);

/* binding.c */
bool vhost_iommu_format_ok(u32 format);
int vhost_iommu_endpoint_of(struct vhost_iommu *vi, u32 dev_id, u32 *endpoint);
struct vhost_iommu_binding *vhost_iommu_find_binding(struct vhost_iommu *vi,
						     u32 domain,
						     bool has_pasid, u32 pasid);
void vhost_iommu_drop_bindings(struct vhost_iommu *vi);
void vhost_iommu_drop_endpoints(struct vhost_iommu *vi);
long vhost_iommu_set_endpoint(struct vhost_iommu *vi, void __user *arg);
long vhost_iommu_bind_domain(struct vhost_iommu *vi, void __user *arg);

/* vring.c */
int vhost_iommu_chain_tail(const struct vhost_iommu_chain *chain,
			   struct vhost_iommu_seg *tail);
int vhost_iommu_translate(const struct vhost_iommu_mem *mem, u64 gpa, u32 len,
			  struct vhost_iommu_seg *segs, unsigned int max);
int vhost_iommu_chain_copy(const struct vhost_iommu_chain *chain, bool write,
			   u32 offset, void *buf, u32 len);
int vhost_iommu_vq_get_chain(struct vhost_iommu_vq *vq,
			     const struct vhost_iommu_mem *mem,
			     struct vhost_iommu_chain *chain);
int vhost_iommu_vq_avail(struct vhost_iommu_vq *vq, u16 *n);
int vhost_iommu_vq_add_used(struct vhost_iommu_vq *vq, u16 head, u32 len);
int vhost_iommu_vq_flush_used(struct vhost_iommu_vq *vq);
void vhost_iommu_vq_disable_notify(struct vhost_iommu_vq *vq);
void vhost_iommu_vq_forget(struct vhost_iommu_vq *vq);
bool vhost_iommu_vq_need_signal(struct vhost_iommu_vq *vq, u16 old);
bool vhost_iommu_vq_enable_notify(struct vhost_iommu_vq *vq, u16 want);
long vhost_iommu_set_mem_table(struct vhost_iommu *vi, void __user *arg);

/* testhooks.c: compiled in test builds only (VHOST_IOMMU_TEST_HOOKS) */
#ifdef VHOST_IOMMU_TEST_HOOKS
bool vhost_iommu_should_fail(void);
void vhost_iommu_test_wake_delay(void);
long vhost_iommu_test_ioctl(struct vhost_iommu *vi, void __user *arg);
ssize_t vhost_iommu_fake_read(struct vhost_iommu_fake_faults *fake,
			      void __user *buf, size_t count);
int vhost_iommu_fake_write(struct vhost_iommu_fake_faults *fake,
			   const struct iommu_hwpt_page_response *r, u32 n,
			   u32 *done);
void vhost_iommu_fake_free(struct vhost_iommu_fake_faults *fake);
int vhost_iommu_testhooks_init(void);
void vhost_iommu_testhooks_exit(void);
#else
static inline bool vhost_iommu_should_fail(void)
{
	return false;
}

static inline void vhost_iommu_test_wake_delay(void)
{
}

static inline long vhost_iommu_test_ioctl(struct vhost_iommu *vi,
					  void __user *arg)
{
	return -ENOIOCTLCMD;
}

static inline ssize_t vhost_iommu_fake_read(struct vhost_iommu_fake_faults *f,
					    void __user *buf, size_t count)
{
	return -ENOENT;
}

static inline int vhost_iommu_fake_write(struct vhost_iommu_fake_faults *f,
					 const struct iommu_hwpt_page_response *r,
					 u32 n, u32 *done)
{
	*done = 0;
	return -ENOENT;
}

static inline void vhost_iommu_fake_free(struct vhost_iommu_fake_faults *f)
{
}

static inline int vhost_iommu_testhooks_init(void)
{
	return 0;
}

static inline void vhost_iommu_testhooks_exit(void)
{
}
#endif

#endif /* _VHOST_IOMMU_H */
