/**
 * @file
 * HTTP/2 (RFC 9113) and gRPC dissector for cleartext h2c: prior knowledge,
 * Upgrade from HTTP/1.1, and connections joined mid-way.
 *
 * The per-flow dispatcher feeds in-order bytes of each direction to
 * kc_http2_feed(); the dissector walks frames, decodes header blocks with one
 * HPACK decoder per direction (kc_hpack.h) and builds one item per stream:
 * request headers, response headers, trailers and a prefix of each body. The
 * item is emitted when both sides ended the stream (END_STREAM each way), on
 * the server's RST_STREAM, or by kc_http2_close() with KC_ITEM_F_TIMEOUT. A
 * client RST_STREAM (a cancel) crosses the server's response on the wire, so
 * that stream waits for the server's END_STREAM or RST_STREAM, for its slot
 * to be needed by a new stream, or for close (no TIMEOUT flag then).
 *
 * Cross-direction order. The dispatcher keeps each direction in order but may
 * feed a response before its request; on a connection seen from its start a
 * response HEADERS for a client stream id above all opened so far opens the
 * stream, and the request fills it in when it comes.
 *
 * Items. proto is KC_ITEM_GRPC when the request or response content-type
 * starts with "application/grpc", else KC_ITEM_HTTP2. u.http: version
 * "HTTP/2.0"; method, url (":path" as sent), path (":path" up to '?'), host
 * (":authority", else the host header); status from ":status" and a standard
 * status text; req_mime/resp_mime from content-type; bodies keep at most
 * KC_ITEM_BODY_PREFIX bytes of DATA per side, inflated when Content-Encoding
 * is gzip or deflate (the kept encoded prefix is inflated at emission; the
 * BODY_TRUNC flag says when that did not give the whole body), sizes count
 * every DATA byte on the wire (padding excluded); headers_size is -1 (no head
 * bytes; HPACK sizes would mislead). Headers keep arrival order, pseudo
 * headers as ":path" etc., other names canonicalised like Go
 * ("content-type" -> "Content-Type"); trailers follow the response headers.
 * Cookies come from every cookie field (RFC 9113 8.2.3 allows splitting),
 * Set-Cookie gives name=value, the query string is URL-decoded. gRPC:
 * grpc_service and grpc_method from ":path" "/pkg.Service/Method",
 * grpc_status from the trailers (or the headers of a trailers-only
 * response). Informational (1xx) response blocks are not kept; the final
 * response's are. req_size/resp_size count the frame bytes (9 + payload) of the
 * stream each way. ts_us is the request's first HEADERS, resp_ts_us the
 * response's.
 *
 * Limits (all counted in struct kc_http2_stats):
 * - KC_HTTP2_MAX_STREAMS open streams are tracked per connection; a stream
 *   beyond that is decoded for HPACK only and gives no item.
 * - A header block split over CONTINUATION frames is assembled in a
 *   KC_HTTP2_HB_SIZE buffer shared by both directions; a single HEADERS
 *   frame is decoded in place (the dispatcher keeps it whole, it must be at
 *   most KC_HTTP2_MAX_WHOLE_FRAME bytes).
 * - Fields wait in a KC_HTTP2_STORE_SIZE store per connection until their
 *   item is emitted; what does not fit is dropped and the item flagged
 *   KC_ITEM_F_TRUNCATED. Body bytes stop before the store's last
 *   KC_HTTP2_STORE_HDR_RESERVE bytes so headers of other streams still fit.
 * - DATA payload is consumed as it arrives (never waited for whole).
 *
 * HPACK state. A malformed header block, a header block too big to assemble,
 * or a CONTINUATION rule broken leaves the connection's HPACK state unknown:
 * the dissector counts it, emits no further item for the connection (open
 * streams are counted in items_suppressed) and returns KC_PARSE_ERROR for
 * both directions from then on.
 *
 * Mid-stream joins (KC_HTTP2_MODE_MIDSTREAM, or PRIOR mode whose first client
 * bytes are frames rather than the preface): both HPACK decoders start
 * partial (kc_hpack.h). Items are emitted only for streams whose request and
 * response header blocks decoded without referring to dynamic entries from
 * before the join; a block that did is counted in hpack_unknown_refs and its
 * stream gives no item. A direction without a preface is checked with
 * kc_http2_probe_frames() first: one that does not start on a frame boundary
 * gets KC_PARSE_ERROR (protocol_errors) instead of being parsed as garbage;
 * the other direction goes on. A server direction whose first frame is a
 * SETTINGS (the server preface, RFC 9113 3.4) is a connection start.
 *
 * Reassembly gaps (kc_http2_gap). A hole that ends inside the payload of
 * the DATA (or skipped) frame being read, or exactly at the end of that DATA
 * frame, keeps the framing: the missing DATA bytes are counted in the body
 * size (gap_in_frame), that stream gets KC_ITEM_F_GAP and its body prefix
 * on that side stops there; nothing else changes. Any
 * other hole loses the frame boundary and the header blocks sent in it, so
 * that direction resynchronises: from the first byte after the hole it
 * looks for a frame header that h2_frame_plausible() accepts, with a length
 * within the SETTINGS_MAX_FRAME_SIZE the peer advertised (16384 by default),
 * not a CONTINUATION (its block start is lost), stream-id parity of the
 * direction (client DATA/HEADERS on odd streams, PUSH_PROMISE only from the
 * server), and, when its bytes are there, a plausible next frame header (or
 * the frame ending exactly at the bytes given). Up to KC_HTTP2_RESYNC_MAX
 * bytes are skipped (resync_skipped), then the direction is given up
 * (resync_giveup; its bytes consumed and ignored, the other direction goes
 * on). The HPACK decoder of that direction is emptied and marked partial
 * (kc_hpack_dec_lose: no guess; a later block that refers to an entry from
 * before the hole makes its stream give no item, hpack_unknown_refs). A
 * header block being assembled from that direction is dropped. Every stream
 * open at the gap gets KC_ITEM_F_GAP on its item (streams_gap), and its body
 * prefix on that side stops at the hole.
 *
 * Thread safety: a flow is used by one thread at a time (its worker); the
 * functions share no mutable state. Stack use of kc_http2_feed() and
 * kc_http2_close(): about 12 KiB (one struct kc_item while emitting, HPACK
 * Huffman buffers while decoding), about 64 KiB while an item with a gzip or
 * deflate body is built (zlib state and window on the stack). No heap
 * allocation, no syscall, no locks.
 */
#ifndef KC_HTTP2_H
#define KC_HTTP2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc_common.h"
#include "kc_item.h"
#include "kc_parse.h"

/** Streams tracked at once per connection. */
#define KC_HTTP2_MAX_STREAMS 32u
/** CONTINUATION assembly buffer (one per connection). */
#define KC_HTTP2_HB_SIZE 4096u
/** Per-connection store of fields waiting for their item. */
#define KC_HTTP2_STORE_SIZE 8192u
/** Store bytes that body prefixes may not use (kept for headers). */
#define KC_HTTP2_STORE_HDR_RESERVE 1024u
/** Largest non-DATA frame the dissector asks to see whole; larger HEADERS or
 *  PUSH_PROMISE frames lose the HPACK state, others are skipped. */
#define KC_HTTP2_MAX_WHOLE_FRAME 32768u
/** RFC 9113 6.5.2: SETTINGS_MAX_FRAME_SIZE before any SETTINGS. */
#define KC_HTTP2_DEFAULT_MAX_FRAME 16384u
/** Bytes skipped looking for a frame boundary after a gap before giving up. */
#define KC_HTTP2_RESYNC_MAX (64u * 1024u)
/** Upper bound of kc_http2_flow_size(). */
#define KC_HTTP2_FLOW_MAX_SIZE (24u * 1024u)

/** The client connection preface (RFC 9113 3.4), 24 bytes. */
#define KC_HTTP2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define KC_HTTP2_PREFACE_LEN 24u

/** How the connection was handed to the dissector. */
enum kc_http2_mode {
	/** From the first byte, prior knowledge: the client sends the preface. */
	KC_HTTP2_MODE_PRIOR = 0,
	/** After "Upgrade: h2c" and "101 Switching Protocols": the client
	 *  sends the preface, the server starts with frames (RFC 7540 3.2). */
	KC_HTTP2_MODE_UPGRADE,
	/** Joined mid-way: both directions start on a frame boundary, HPACK
	 *  state is partial. */
	KC_HTTP2_MODE_MIDSTREAM,
};

/** Result of a probe. */
enum kc_http2_probe_res {
	KC_HTTP2_PROBE_NO = 0,    /**< not HTTP/2 (from these bytes) */
	KC_HTTP2_PROBE_YES,       /**< HTTP/2 */
	KC_HTTP2_PROBE_NEED_MORE, /**< consistent so far, too short to say */
};

/**
 * Counters of one worker (single writer). Names for telemetry are
 * "http2.<field>".
 */
struct kc_http2_stats {
	uint64_t frames;              /**< frame headers parsed */
	uint64_t frames_data;
	uint64_t frames_headers;      /**< HEADERS frames */
	uint64_t frames_continuation;
	uint64_t frames_settings;
	uint64_t frames_ping;
	uint64_t frames_priority;
	uint64_t frames_window_update;
	uint64_t frames_unknown;      /**< unknown types, skipped (RFC 9113 4.1) */
	uint64_t rst_streams;         /**< RST_STREAM frames */
	uint64_t goaways;             /**< GOAWAY frames */
	uint64_t push_promises;       /**< PUSH_PROMISE frames */
	uint64_t frames_untracked;    /**< stream frames for streams not tracked */
	uint64_t items;               /**< items emitted */
	uint64_t items_grpc;          /**< of which gRPC */
	uint64_t items_timeout;       /**< of which emitted by close, unfinished */
	uint64_t items_truncated;     /**< of which flagged KC_ITEM_F_TRUNCATED */
	uint64_t items_suppressed;    /**< streams dropped when HPACK state was lost */
	uint64_t hpack_errors;        /**< malformed header blocks (state lost) */
	uint64_t hpack_unknown_refs;  /**< blocks referring to pre-join dynamic entries */
	uint64_t hb_overflow;         /**< header blocks larger than KC_HTTP2_HB_SIZE
				       *   or frames above KC_HTTP2_MAX_WHOLE_FRAME (state lost) */
	uint64_t hb_busy;             /**< both directions split a block at once (state lost) */
	uint64_t streams_overflow;    /**< streams beyond KC_HTTP2_MAX_STREAMS */
	uint64_t store_full;          /**< fields or body bytes dropped: store full */
	uint64_t headers_dropped;     /**< headers, cookies or query parameters beyond
				       *   their item arrays or the item arena */
	uint64_t protocol_errors;     /**< bad preface, bad padding, bad frame sizes */
	uint64_t bodies_decoded;      /**< gzip/deflate body prefixes inflated */
	uint64_t body_decode_errors;  /**< encoded bodies kept raw: not inflatable */
	uint64_t midstream_joins;     /**< connections joined mid-way */
	uint64_t upgrades;            /**< connections from an h2c Upgrade */
	uint64_t gaps;                /**< gaps reported (kc_http2_gap) */
	uint64_t gap_in_frame;        /**< of which inside a frame payload: stayed in sync */
	uint64_t resync_ok;           /**< frame boundary found after a gap */
	uint64_t resync_giveup;       /**< none within KC_HTTP2_RESYNC_MAX: direction ignored */
	uint64_t resync_skipped;      /**< bytes skipped while resynchronising */
	uint64_t streams_gap;         /**< streams marked KC_ITEM_F_GAP */
};

/** Number of counters in struct kc_http2_stats. Thread safety: pure. */
unsigned kc_http2_stats_count(void);

/** Telemetry name of counter @p i ("http2.frames", ...), in struct order.
 *  @return a static string, or NULL when @p i >= kc_http2_stats_count(). */
const char *kc_http2_stats_name(unsigned i);

/** Value of counter @p i of @p st. @return the value, 0 when @p i is out of
 *  range. Thread safety: reads @p st only (a torn read of a counter being
 *  written by its worker is possible, as for any telemetry read). */
uint64_t kc_http2_stats_get(const struct kc_http2_stats *st, unsigned i);

/** Add every counter of @p x to @p sum (telemetry sums the per-worker
 *  copies). Thread safety: writes @p sum only. */
void kc_http2_stats_add(struct kc_http2_stats *sum, const struct kc_http2_stats *x);

struct kc_http2_flow;

/**
 * Does @p data (the first client bytes) start with the connection preface?
 * Thread safety: pure.
 * @return KC_HTTP2_PROBE_YES (all 24 bytes match), KC_HTTP2_PROBE_NEED_MORE
 *   (the @p len < 24 bytes given match), KC_HTTP2_PROBE_NO.
 */
enum kc_http2_probe_res kc_http2_probe(const uint8_t *data, size_t len);

/**
 * Do @p data look like HTTP/2 frames starting at a frame boundary (for a
 * mid-stream join)? Checks known frame types, their stream-id and length
 * rules, and flags; unknown types make it NO (too weak to vouch for).
 * Thread safety: pure.
 * @return KC_HTTP2_PROBE_YES when two whole frames, or one whole frame
 *   ending exactly at @p len, are plausible; NEED_MORE when what is there is
 *   plausible but shorter; NO otherwise.
 */
enum kc_http2_probe_res kc_http2_probe_frames(const uint8_t *data, size_t len);

/** Bytes of caller memory one flow needs (at most KC_HTTP2_FLOW_MAX_SIZE;
 *  8-byte alignment). */
size_t kc_http2_flow_size(void);

/**
 * Initialise a flow in caller memory. The memory belongs to the caller; the
 * flow holds no other resource, so it is released by simply reusing the
 * memory (after kc_http2_close() if items should be flushed).
 * @param mem    at least kc_http2_flow_size() bytes, 8-byte aligned.
 * @param len    size of @p mem.
 * @param mode   how the connection starts (KC_HTTP2_MODE_UPGRADE: use
 *               kc_http2_flow_init_upgrade() to keep stream 1's request).
 * @param stats  counters: midstream_joins is bumped for MIDSTREAM.
 * @return the flow (== @p mem), or NULL with errno EINVAL (@p mem NULL,
 *   misaligned or too small, or @p mode unknown).
 */
struct kc_http2_flow *kc_http2_flow_init(void *mem, size_t len, enum kc_http2_mode mode,
					 struct kc_http2_stats *stats);

/**
 * Initialise a flow for an h2c Upgrade (RFC 7540 3.2): the HTTP/1.1 request
 * carrying "Upgrade: h2c" becomes HTTP/2 stream 1, half-closed by the client;
 * its response arrives as HTTP/2 frames after the "101" head.
 *
 * @p req is the HTTP/1 dissector's item for that request (proto KC_ITEM_HTTP,
 * KC_ITEM_F_REQUEST). Copied from it into stream 1: method, url, path, host,
 * request headers (names as already canonicalised), req_mime, req_body
 * prefix and req_body_size, ts_us and req_size. Stream 1's item then is an
 * HTTP/2 (or gRPC) item with h2_stream_id 1, version "HTTP/2.0", the copied
 * request and the HTTP/2 response. The request's "HTTP2-Settings" header
 * (base64url SETTINGS payload, RFC 7540 3.2.1) is applied as the client's
 * first SETTINGS.
 *
 * After this call feed the client's bytes that follow the request (starting
 * with the preface) as KC_DIR_C2S, and the server's bytes after the 101
 * response head as KC_DIR_S2C.
 *
 * @param mem, len, stats  as for kc_http2_flow_init().
 * @param req    borrowed for the call; NULL gives stream 1 without request
 *               fields (its item then lacks KC_ITEM_F_REQUEST).
 * @return the flow, or NULL with errno EINVAL as kc_http2_flow_init().
 */
struct kc_http2_flow *kc_http2_flow_init_upgrade(void *mem, size_t len,
						 const struct kc_item *req,
						 struct kc_http2_stats *stats);

/**
 * Feed in-order bytes of one direction.
 * Thread safety: the flow's worker only.
 * @param f      the flow.
 * @param dir    KC_DIR_C2S (client) or KC_DIR_S2C.
 * @param data   bytes, borrowed for the call.
 * @param len    their count.
 * @param ts_us  capture time of the newest of these bytes.
 * @param info   addressing copied into emitted items (borrowed).
 * @param emit   receives finished items (borrowed for the call); NULL drops.
 * @param ctx    passed to @p emit.
 * @param st     counters (single writer).
 * @return KC_PARSE_OK with consumed > 0 (call again with the rest, if any);
 *   KC_PARSE_NEED_MORE with consumed 0 and needed = bytes still missing for
 *   the next step (a frame header, or a whole non-DATA frame);
 *   KC_PARSE_ERROR when this is not HTTP/2 (no preface in PRIOR/UPGRADE mode
 *   and no plausible frames) or the HPACK state was lost: stop feeding the
 *   flow (both directions).
 */
struct kc_parse_res kc_http2_feed(struct kc_http2_flow *f, enum kc_dir dir,
				  const uint8_t *data, size_t len, uint64_t ts_us,
				  const struct kc_flow_info *info, kc_item_emit_fn emit,
				  void *ctx, struct kc_http2_stats *st);

/**
 * A reassembly gap: @p gap bytes of direction @p dir are missing before the
 * next kc_http2_feed() on it (bytes the caller held back unconsumed count as
 * missing too). Stays in sync or resynchronises as described in @file.
 * Nothing happens on a closed or broken flow, or a direction given up.
 * Thread safety: the flow's worker only.
 * @param f    the flow.
 * @param dir  KC_DIR_C2S or KC_DIR_S2C.
 * @param gap  missing bytes (> 0).
 * @param st   counters (single writer).
 */
void kc_http2_gap(struct kc_http2_flow *f, enum kc_dir dir, uint64_t gap,
		  struct kc_http2_stats *st);

/**
 * End of the connection (FIN, RST, idle timeout or eviction): emit every
 * tracked stream that has request or response headers (and decoded without
 * pre-join references), in stream-id order, with KC_ITEM_F_TIMEOUT unless a
 * RST_STREAM had ended it. Nothing is emitted when the HPACK state was lost.
 * The flow may not be fed afterwards (kc_http2_feed() returns ERROR).
 * Thread safety: the flow's worker only.
 * @param ts_us  unused for timing (items keep their own times); reserved.
 * Other parameters as kc_http2_feed().
 */
void kc_http2_close(struct kc_http2_flow *f, uint64_t ts_us, const struct kc_flow_info *info,
		    kc_item_emit_fn emit, void *ctx, struct kc_http2_stats *st);

#endif /* KC_HTTP2_H */
