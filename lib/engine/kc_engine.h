/**
 * @file
 * The per-core packet engine: everything a worker does to a packet, without
 * EAL, so the recorder's workers and the offline query tool run the same code.
 *
 *   decode → defrag → flow lookup → TCP state → (reassembly → dissection →
 *   KFL match) → record or release
 *
 * The caller owns packets and passes each with an opaque handle (an mbuf in
 * the recorder, a buffer slot offline). Every handle given to
 * kc_engine_rx() comes back exactly once, through ops->record (the packet
 * belongs to a recorded stream: the caller hands it to the writer) or
 * ops->release (the caller frees it), possibly later (fragments wait for
 * their datagram). Stream ends are reported through ops->stream_end.
 *
 * With dissection on, TCP is reassembled per direction (lib/reasm) and both
 * TCP and UDP are dissected into items (lib/dissect). Every item goes to
 * ops->item; when a KFL filter is active, the first item of a stream that
 * matches it starts the stream's recording: the packets still retained from
 * before the match are recorded first (oldest first), then every later one.
 *
 * Retention: until a stream matches, its packets are retained (the caller's
 * handles are kept) for retain.window_us, at most retain.max_pkts_stream /
 * max_bytes_stream per stream and retain.max_pkts_core per engine. The TCP
 * handshake is pinned (never evicted by these bounds). Whatever a bound
 * evicts is released, counted by bound, and marks the stream truncated.
 *
 * Thread safety: an engine belongs to one thread.
 */
#ifndef KC_ENGINE_H
#define KC_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "kc_common.h"
#include "kc_decode.h"
#include "kc_dissect.h"
#include "kc_flow.h"
#include "kc_item.h"
#include "kc_kfl.h"
#include "kc_reasm.h"

/** One packet offered to the engine. */
struct kc_engine_pkt {
	const uint8_t *data; /**< contiguous captured bytes */
	uint32_t caplen;
	uint32_t wire_len;
	uint64_t ts_us;      /**< capture time, us since the epoch */
	void *handle;        /**< caller's packet; returned through record/release */
};

/** What the engine tells its caller. All callbacks run on the engine's thread. */
struct kc_engine_ops {
	/** @p handle belongs to recorded stream @p f (sent by the client if
	 *  @p from_client); ownership passes to the callee. */
	void (*record)(void *ctx, const struct kc_flow *f, void *handle, uint64_t ts_us);
	/** @p handle is not recorded: free it. */
	void (*release)(void *ctx, void *handle);
	/** A recorded stream ended (timeout, eviction, flush, close);
	 *  @p truncated: retention bounds evicted some of its packets. */
	void (*stream_end)(void *ctx, const struct kc_flow *f, enum kc_flow_end why, bool truncated);
	/** An item was dissected (may be NULL). @p item is borrowed for the
	 *  call. @p matched: it is the item that started the stream's recording
	 *  (filter version @p version). */
	void (*item)(void *ctx, const struct kc_item *item, bool matched, uint32_t version);
};

/** The active filter, published by the control thread (RCU-style: the
 *  engine reads the pointer once per burst; the publisher frees an old one
 *  only after every worker passed a quiescent state). prog NULL: no filter. */
struct kc_engine_filter {
	const struct kc_kfl_prog *prog;
	uint32_t version;
};

/** Retention bounds (see the file comment). */
struct kc_engine_retain_cfg {
	uint64_t window_us;        /**< keep packets this long before a match */
	uint32_t max_pkts_stream;
	uint64_t max_bytes_stream;
	uint32_t max_pkts_core;    /**< size of the retention pool */
};

/** Retention counters (recording.*). */
struct kc_engine_retain_stats {
	uint64_t retained;         /**< packets held waiting for a match */
	uint64_t flushed;          /**< retained packets recorded after a match */
	uint64_t expired_window;   /**< evicted: older than the window */
	uint64_t evicted_stream;   /**< evicted: per-stream bound */
	uint64_t evicted_core;     /**< evicted or refused: per-core pool full */
	uint64_t released_unmatched; /**< released when a stream ended without a match */
	uint64_t truncated_streams; /**< recorded streams that lost retained packets */
};

struct kc_engine_cfg {
	struct kc_flow_cfg flow;
	struct kc_defrag_cfg defrag;
	bool record_all;          /**< record every TCP/UDP stream (full capture) */
	uint32_t expire_budget;   /**< flows expired per tick */
	bool dissect;             /**< reassemble and dissect into items */
	struct kc_reasm_cfg reasm;
	struct kc_dissect_cfg dissect_cfg;
	struct kc_engine_retain_cfg retain;
	/** The filter (may be NULL: never any; see struct kc_engine_filter). */
	_Atomic(struct kc_engine_filter *) *filter;
};

/** Packet counters by stage; every packet lands in exactly one of the
 *  terminal ones (decoded into a flow, dropped by reason, or held). */
struct kc_engine_stats {
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t decode_drop[KC_DEC_RES_MAX]; /**< by reason; [OK] and [FRAGMENT] unused */
	uint64_t frag_dropped;    /**< fragments released without their datagram completing */
	uint64_t flow_pkts;       /**< packets that reached a flow */
	uint64_t tcp_pkts, udp_pkts;
	uint64_t recorded_pkts;   /**< handed to record() */
	uint64_t recorded_streams;
	uint64_t released_pkts;   /**< handed to release() */
	uint64_t items;           /**< items dissected */
	uint64_t matches;         /**< streams whose recording a filter started */
	uint64_t dissect_no_flow; /**< flows not dissected: dissection pool empty */
	uint64_t ended_at_close;  /**< TCP streams whose dissection ended at FIN both ways,
	                               before their flow left the table */
	uint64_t ended_spent;     /**< streams whose dissection ended after their only
	                               possible item (TLS hellos, L4 item) */
	struct kc_engine_retain_stats retain;
};

struct kc_engine;

/** @return NULL with errno set (EINVAL, ENOMEM). */
struct kc_engine *kc_engine_create(const struct kc_engine_cfg *cfg, const struct kc_engine_ops *ops, void *ctx);
/** Flush every flow (stream_end for recorded ones) and free. NULL allowed. */
void kc_engine_destroy(struct kc_engine *e);

/** Process @p n packets in order. */
void kc_engine_rx(struct kc_engine *e, const struct kc_engine_pkt *pkts, uint32_t n);

/** Periodic work: expire idle flows and fragments as of @p now_us (packet
 *  time), within the configured budget. */
void kc_engine_tick(struct kc_engine *e, uint64_t now_us);

/** End every flow now (shutdown or end of input). */
void kc_engine_flush(struct kc_engine *e);

/** Latest packet time seen (the engine's clock). */
uint64_t kc_engine_now(const struct kc_engine *e);

const struct kc_engine_stats *kc_engine_stats(const struct kc_engine *e);
const struct kc_flow_stats *kc_engine_flow_stats(const struct kc_engine *e);
const struct kc_defrag_stats *kc_engine_defrag_stats(const struct kc_engine *e);
/** NULL when dissection is off. */
const struct kc_reasm_stats *kc_engine_reasm_stats(const struct kc_engine *e);
const struct kc_dissect_stats *kc_engine_dissect_stats(const struct kc_engine *e);

/** True if @p f is being recorded. */
bool kc_engine_flow_recorded(const struct kc_engine *e, const struct kc_flow *f);

#endif /* KC_ENGINE_H */
