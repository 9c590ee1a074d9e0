/**
 * @file
 * The dissection layer of one worker: finds the application protocol of each
 * flow by content, runs the matching dissector on in-order bytes, and turns
 * what it finds into items (kc_item.h) delivered through the flow's
 * kc_item_emit_fn.
 *
 * Input. The engine feeds each TCP direction in order (from reassembly: data,
 * the number of bytes missing before it, capture time) and each UDP datagram
 * whole. Protocols are found by content, ports only as hints:
 *  - HTTP/1.x on any port: a request line ("GET / HTTP/1.1") or a status line
 *    ("HTTP/1.1 200 OK", mid-stream pickup);
 *  - HTTP/2 (lib/http2): the client connection preface (prior knowledge),
 *    an HTTP/1.1 "Upgrade: h2c" answered by 101 (the request becomes stream
 *    1), or frames at a stream's first byte (mid-stream join);
 *  - TLS: a handshake record carrying a ClientHello/ServerHello (lib/tls);
 *  - DNS: port 53 or 5353 on either side, TCP and UDP, checked by
 *    kc_dns_probe() (lib/dns).
 * A stream no dissector claims yields exactly one L4 item (KC_ITEM_TCP or
 * KC_ITEM_UDP) at its first data, so "tcp and dst.port == 5432" can trigger
 * recording early. A claimed stream that never produced an item gets its L4
 * item at close, so every stream with data yields at least one item.
 *
 * Buffering. When a dissector leaves bytes unconsumed (a header line split
 * over segments), the remainder is copied into a per-direction pending
 * buffer taken from a per-core pool; when it consumes everything, nothing is
 * copied (zero-copy). A pending buffer that would overflow its size is
 * dropped, counted (pending_overflow), and treated as a gap. Gaps are handed
 * to the dissector: HTTP/1 stays in sync inside a body of known length and
 * otherwise resynchronises at the next request/status line, or gives up
 * after KC_DISSECT_HTTP_RESYNC_MAX bytes, each outcome counted. DNS over
 * TCP resynchronises on the next plausible length-prefixed message
 * (kc_dns_flow_gap, dns.resync_*); HTTP/2 stays in sync inside a frame
 * payload and otherwise resynchronises on the next plausible frame header,
 * that direction's HPACK table becoming partial (kc_http2_gap,
 * http2.resync_*). TLS cannot resynchronise after a hole: that direction
 * stops being dissected. Every gap is counted in proto[].gaps.
 *
 * Memory: everything comes from pools sized at creation (flows, per-protocol
 * states, in-flight HTTP items, pending buffers, gzip/deflate decoders); no
 * allocation after kc_dissect_core_create(). An empty pool is counted and
 * degrades the flow (L4 item only, or fields dropped), never blocks. With
 * the defaults a core takes about 100 MiB: HTTP items 2048 x 9.5 KiB,
 * pending buffers 512 x 33 KiB, HTTP/2 states 1024 x ~24 KiB, DNS states
 * 4096 x ~4.5 KiB, the rest small; size them to the traffic.
 *
 * Pending-buffer size: a dissector that needs a unit whole must find it in
 * one buffer: an HTTP/1 header line, an HTTP/2 non-DATA frame (up to
 * KC_HTTP2_MAX_WHOLE_FRAME + 9), a TLS hello (lib/tls accepts up to
 * KC_TLS_MAX_HS_MSG; the 33 KiB default covers every ordinary hello,
 * larger ones overflow and are counted).
 *
 * Thread safety: a core belongs to one worker thread; no function takes a
 * lock, and none may be called concurrently on the same core. Statistics are
 * single-writer; read them from other threads only as approximate values.
 */
#ifndef KC_DISSECT_H
#define KC_DISSECT_H

#include <stdint.h>

#include "kc_common.h"
#include "kc_item.h"
#include "kc_parse.h"
/* Built-in dissectors: kc_dissect_dep sets these when lib/dns, lib/tls and
 * lib/http2 provide their entry points. */
#ifdef KC_DISSECT_HAVE_DNS
#include "kc_dns.h"
#endif
#ifdef KC_DISSECT_HAVE_TLS
#include "kc_tls.h"
#endif
#ifdef KC_DISSECT_HAVE_HTTP2
#include "kc_http2.h"
#endif

/** Default sizes (kc_dissect_cfg_default). */
#define KC_DISSECT_DEFAULT_FLOWS        16384u
#define KC_DISSECT_DEFAULT_PENDING_BUFS 512u
/** Large enough for a whole HTTP/2 HEADERS frame (KC_HTTP2_MAX_WHOLE_FRAME
 *  plus its 9-byte header) and any ordinary TLS hello. */
#define KC_DISSECT_DEFAULT_PENDING_SIZE (33u * 1024)
#define KC_DISSECT_DEFAULT_HTTP_ITEMS   2048u
#define KC_DISSECT_DEFAULT_INFLATERS    64u
#define KC_DISSECT_DEFAULT_H2_FLOWS     1024u
#define KC_DISSECT_DEFAULT_TIMEOUT_US   (30ull * 1000 * 1000)
#define KC_DISSECT_DEFAULT_DNS_TIMEOUT_US (5ull * 1000 * 1000)
/** Most pipelined HTTP/1 requests kept waiting for their responses per flow. */
#define KC_DISSECT_HTTP_PIPELINE_MAX    16u
/** Bytes scanned for the next message boundary after a gap before giving up. */
#define KC_DISSECT_HTTP_RESYNC_MAX      (1024u * 1024)
/** Bytes of a stream's start kept while its protocol is still undecided. */
#define KC_DISSECT_DETECT_MAX           64u

/** Sizes of one core's pools. Zero fields are refused by create. */
struct kc_dissect_cfg {
	uint32_t max_flows;      /**< flows dissected at once */
	uint32_t pending_bufs;   /**< pending buffers (one per direction while in use) */
	uint32_t pending_size;   /**< bytes per pending buffer (>= 256) */
	uint32_t http_items;     /**< HTTP/1 requests in flight (item slots) */
	uint32_t http_pipeline;  /**< per-flow queue, 1..KC_DISSECT_HTTP_PIPELINE_MAX */
	uint32_t inflaters;      /**< gzip/deflate decoders in use at once */
	uint32_t dns_flows;      /**< DNS flow states (sizeof struct kc_dns_flow each) */
	uint32_t tls_flows;      /**< TLS flow states */
	uint32_t h2_flows;       /**< HTTP/2 connection states (about 24 KiB each) */
	uint64_t timeout_us;     /**< HTTP/1 and TLS: unanswered age emitted by kc_dissect_tick */
	uint64_t dns_timeout_us; /**< DNS: unanswered query age emitted by kc_dissect_tick */
};

/** Per-protocol counters (index: enum kc_item_proto). Names:
 *  dissect.<proto>.<field>. */
struct kc_dissect_proto_stats {
	uint64_t flows;          /**< flows claimed (an h2c upgrade counts for HTTP and HTTP/2) */
	uint64_t items;          /**< items emitted */
	uint64_t parse_errors;   /**< dissector said ERROR after claiming the flow */
	uint64_t gaps;           /**< gaps reported to this protocol's flows */
	uint64_t state_pool_empty; /**< no per-flow state left: flow got an L4 item only */
};

/** HTTP/1 counters; each event bumps exactly one. Names: dissect.http1.<field>. */
struct kc_dissect_http_stats {
	uint64_t requests;           /**< request heads parsed */
	uint64_t responses;          /**< final response heads parsed */
	uint64_t interim;            /**< 1xx (not 101) responses skipped */
	uint64_t timeouts;           /**< requests emitted unanswered (tick or close) */
	uint64_t resp_only;          /**< responses without a request: response-only item */
	uint64_t late_responses;     /**< responses to requests already timed out: dropped */
	uint64_t item_pool_empty;    /**< request not stored: no item slot */
	uint64_t pipeline_overflow;  /**< request not stored: per-flow queue full */
	uint64_t headers_dropped;    /**< header lines beyond KC_ITEM_MAX_HEADERS */
	uint64_t params_dropped;     /**< cookies/query parameters beyond KC_ITEM_MAX_PARAMS */
	uint64_t bad_header_line;    /**< header line without ':' ignored */
	uint64_t err_request_line;   /**< parse error: bad request line */
	uint64_t err_status_line;    /**< parse error: bad status line */
	uint64_t err_content_length; /**< parse error: bad or conflicting Content-Length */
	uint64_t err_chunk;          /**< parse error: bad chunk size line */
	uint64_t gap_in_body;        /**< gap inside a body of known length: stayed in sync */
	uint64_t gap_resync;         /**< gap elsewhere: resynchronising */
	uint64_t resync_ok;          /**< found the next message after a gap or error */
	uint64_t resync_giveup;      /**< no boundary within KC_DISSECT_HTTP_RESYNC_MAX */
	uint64_t upgrade_h2c;        /**< 101 to h2c handed to HTTP/2 */
	uint64_t upgrade_h2c_nodis;  /**< 101 to h2c but no HTTP/2 state free: stopped */
	uint64_t upgrade_other;      /**< 101 to websocket or other: stopped */
	uint64_t connect_tunnel;     /**< CONNECT answered 2xx: stopped */
	uint64_t inflate_no_ctx;     /**< no decoder free: body prefix kept encoded */
	uint64_t inflate_errors;     /**< corrupt gzip/deflate: prefix stops there */
	uint64_t body_prefix_trunc;  /**< body longer than KC_ITEM_BODY_PREFIX */
};

/** All counters of one core. */
struct kc_dissect_stats {
	uint64_t flows_opened;
	uint64_t flows_closed;
	uint64_t flow_pool_empty;    /**< kc_dissect_flow_open refused: no state left */
	uint64_t detect_undecided;   /**< undecided after KC_DISSECT_DETECT_MAX bytes: L4 */
	uint64_t pending_copies;     /**< remainders copied into a pending buffer */
	uint64_t pending_pool_empty; /**< remainder dropped: no pending buffer (as a gap) */
	uint64_t pending_overflow;   /**< remainder dropped: pending buffer full (as a gap) */
	uint64_t bytes_after_stop;   /**< bytes ignored on directions no longer dissected */
	uint64_t no_dissector;       /**< protocol found but not built in: L4 item */
	struct kc_dissect_proto_stats proto[KC_ITEM_PROTO_MAX];
	struct kc_dissect_http_stats http;
#ifdef KC_DISSECT_HAVE_DNS
	struct kc_dns_stats dns;     /**< lib/dns counters (dns.<field>) */
#endif
#ifdef KC_DISSECT_HAVE_TLS
	struct kc_tls_stats tls;     /**< lib/tls counters (tls.<field>) */
#endif
#ifdef KC_DISSECT_HAVE_HTTP2
	struct kc_http2_stats h2;    /**< lib/http2 counters (http2.<field>) */
#endif
};

struct kc_dissect_core;
struct kc_dissect_flow;

/** Fill @p cfg with the KC_DISSECT_DEFAULT_* sizes (worker 0). */
void kc_dissect_cfg_default(struct kc_dissect_cfg *cfg);

/**
 * Destroy a core: releases every pool. Flows still open are dropped without
 * emitting (close them first to flush). Accepts NULL.
 * Thread safety: the owning thread, once nothing else uses the core.
 */
void kc_dissect_core_destroy(struct kc_dissect_core *core);

/**
 * Create one worker's dissection core, allocating all its pools now.
 * Thread safety: any thread; the result belongs to the caller.
 * @param cfg sizes (borrowed for the call).
 * @param err detail on failure, may be NULL.
 * @return the core, or NULL with errno EINVAL (a size is 0 or out of range,
 *         detail in @p err) or ENOMEM.
 */
struct kc_dissect_core *kc_dissect_core_create(const struct kc_dissect_cfg *cfg,
					       struct kc_err *err)
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
	__attribute__((malloc, malloc(kc_dissect_core_destroy, 1)))
#else
	__attribute__((malloc))
#endif
	;

/**
 * Start dissecting a flow.
 * Thread safety: the owning thread.
 * @param fi       addressing (client is src, worker written into items), copied.
 * @param emit     receives every item of this flow; the item is borrowed for
 *                 the call. It may not call back into this core.
 * @param emit_ctx passed to @p emit.
 * @return a handle valid until kc_dissect_flow_close(), or NULL when the flow
 *         pool is empty (counted in flow_pool_empty; no item will be emitted).
 */
struct kc_dissect_flow *kc_dissect_flow_open(struct kc_dissect_core *core,
					     const struct kc_flow_info *fi,
					     kc_item_emit_fn emit, void *emit_ctx);

/**
 * Feed in-order bytes of one TCP direction. Items may be emitted during the
 * call.
 * Thread safety: the owning thread.
 * @param dir        KC_DIR_C2S or KC_DIR_S2C.
 * @param data       bytes, borrowed for the call (may be NULL when len is 0).
 * @param len        bytes at @p data; 0 with @p gap_before > 0 reports a
 *                   trailing gap.
 * @param gap_before bytes missing just before @p data (0: contiguous).
 * @param ts_us      capture time of these bytes.
 * @return 0, or -EINVAL (bad @p dir, or a UDP flow).
 */
int kc_dissect_tcp_data(struct kc_dissect_core *core, struct kc_dissect_flow *flow,
			enum kc_dir dir, const uint8_t *data, uint32_t len,
			uint32_t gap_before, uint64_t ts_us);

/**
 * Feed one whole UDP datagram payload.
 * Thread safety: the owning thread.
 * @return 0, or -EINVAL (bad @p dir, or a TCP flow).
 */
int kc_dissect_udp_datagram(struct kc_dissect_core *core, struct kc_dissect_flow *flow,
			    enum kc_dir dir, const uint8_t *data, uint32_t len, uint64_t ts_us);

/**
 * End of a flow: finishes what can be finished (an HTTP response read until
 * close), emits unanswered requests with KC_ITEM_F_TIMEOUT, emits the L4
 * item if the flow had data but no item, and releases every state. The
 * handle is invalid afterwards. Accepts NULL.
 * Thread safety: the owning thread.
 */
void kc_dissect_flow_close(struct kc_dissect_core *core, struct kc_dissect_flow *flow,
			   uint64_t ts_us);

/**
 * Can this flow yield no item any more? True once a stream that has one item
 * at most has emitted it: TLS its hello item, a stream no dissector claimed
 * its L4 item. The caller may then close the flow's dissection early
 * (kc_dissect_flow_close emits nothing more for it).
 * Thread safety: the owning thread.
 */
bool kc_dissect_flow_spent(const struct kc_dissect_flow *flow);

/**
 * Closing a flow long idle finds its state cold. Call
 * kc_dissect_flow_prefetch() a little before kc_dissect_flow_close() (it
 * starts loading the flow's handle), then, with other work in between,
 * kc_dissect_flow_prefetch_state() (which reads the handle and starts loading
 * the protocol state the close reads). Hints only: both accept NULL and
 * change nothing.
 * Thread safety: the owning thread.
 */
static inline void kc_dissect_flow_prefetch(const struct kc_dissect_flow *flow)
{
	/* The handle is two cache lines (checked in dissect.c), allocated
	 * on a cache-line boundary. */
	if (flow != NULL) {
		__builtin_prefetch(flow);
		__builtin_prefetch((const char *)flow + 64);
	}
}
void kc_dissect_flow_prefetch_state(const struct kc_dissect_flow *flow);

/**
 * Periodic work: emit requests (HTTP, DNS, TLS) unanswered for longer than
 * cfg.timeout_us with KC_ITEM_F_TIMEOUT. Visits at most @p budget flow slots
 * per call, resuming where the previous call stopped (style rule 14).
 * Thread safety: the owning thread.
 * @return number of items emitted.
 */
unsigned kc_dissect_tick(struct kc_dissect_core *core, uint64_t now_us, unsigned budget);

/** Counters of @p core (single writer: its thread). Never NULL. */
const struct kc_dissect_stats *kc_dissect_stats(const struct kc_dissect_core *core);

/** Receives one counter: @p name is "dissect.<...>" (static string). */
typedef void (*kc_dissect_stat_fn)(void *ctx, const char *name, uint64_t value);

/**
 * Call @p fn once per counter of @p st, in a fixed order, with its dotted
 * name (dissect.flows_opened, dissect.http.tcp.items, dissect.http1.gap_resync,
 * ...). The lib/dns, lib/tls and lib/http2 counters embedded in @p st are not
 * visited (their libraries own their names). Any thread; reads only.
 */
void kc_dissect_stats_visit(const struct kc_dissect_stats *st, kc_dissect_stat_fn fn, void *ctx);

/** Add every counter of @p src to @p dst (summing per-worker stats),
 *  embedded DNS/TLS/HTTP2 counters included. */
void kc_dissect_stats_add(struct kc_dissect_stats *dst, const struct kc_dissect_stats *src);

/** Protocol the flow was given to: a KC_ITEM_* value, or -1 while undecided.
 *  KC_ITEM_TCP/KC_ITEM_UDP mean "no dissector claimed it". */
int kc_dissect_flow_proto(const struct kc_dissect_flow *flow);

#endif /* KC_DISSECT_H */
