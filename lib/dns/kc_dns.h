/**
 * @file
 * DNS dissector (RFC 1035, RFC 3596, RFC 2782, RFC 3597, RFC 7766): turns DNS
 * messages carried in UDP datagrams or in a TCP stream (2-byte length prefix)
 * into KC_ITEM_DNS items, one per query paired with its response.
 *
 * Pairing: queries are kept per flow by message id in a bounded table of
 * KC_DNS_PENDING_MAX slots (32: RFC 7766 6.2.1.1 pipelining puts 20 queries
 * in one segment in real captures). A response takes the query with the same
 * id and yields one item (request side from the query: time, size, opcode; response
 * side from the answer: flags, rcode, questions, records). A response with no
 * pending query yields a response-only item. A query that is never answered is
 * emitted with KC_ITEM_F_TIMEOUT by kc_dns_flow_expire() or
 * kc_dns_flow_close(). When the table is full, the oldest pending query is
 * emitted as a timeout item to make room (policy "evict oldest", counted in
 * dns.pending_evicted). A second query with an id already pending is a
 * retransmission: the first one is kept and dns.query_dup counted.
 *
 * Rendering (struct kc_dns_rr.data, text):
 *  - A, AAAA: "10.0.0.1", "2001:db8::1" (inet_ntop form);
 *  - CNAME, NS, PTR: the target name; MX: "pref exchange";
 *    SRV: "priority weight port target";
 *    SOA: "mname rname serial refresh retry expire minimum";
 *  - TXT: the character-strings, unquoted, separated by one NUL byte (the
 *    JSON renderer splits them into "txts"); inside them bytes outside
 *    printable ASCII are "\DDD" and '\' is "\\";
 *  - everything else, OPT (EDNS0, type 41) included: RFC 3597 generic text
 *    "\# <len> <hex>" ("\# 0" when empty). OPT is kept as a normal additional
 *    record: class is the UDP payload size and ttl the extended rcode/flags
 *    word, as on the wire.
 * Rendered RDATA is cut at 1024 bytes (KC_ITEM_F_TRUNCATED). An item keeps
 * KC_ITEM_MAX_DNS_Q questions and KC_ITEM_MAX_DNS_RR records (answers first);
 * more are counted in dns.section_overflow.
 * Names are rendered without the trailing dot ("www.example.com"); the root
 * is ".". Bytes outside printable ASCII, '.' inside a label and '\\' are
 * escaped as in RFC 1035 master files ("\DDD", "\.", "\\").
 *
 * Robustness: names are decoded with bounds checks, a limit of
 * KC_DNS_MAX_PTR_HOPS compression pointers, 255 octets of name and 63 octets
 * per label (label types 01 and 10 are refused). A compression pointer must
 * point before the start of the run of labels that led to it, so runs start
 * at strictly decreasing offsets and loops (self-pointing, forward, mutual)
 * are impossible. A name over 255 octets whose end can still be found is left
 * absent (empty view) and parsing goes on; any other fault stops the parse.
 * Either way the item keeps what parsed (KC_ITEM_F_TRUNCATED set) and the
 * fault is counted by reason in struct kc_dns_stats. Only a message shorter
 * than the 12-byte header is dropped whole (dns.bad_header).
 *
 * TCP: a message is at most 65535 bytes, so the dispatcher's per-direction
 * bound should allow 65537 bytes for every message to complete.
 *
 * TCP after a reassembly gap (kc_dns_flow_gap): message boundaries are lost,
 * so that direction resynchronises. From the first byte after the hole it
 * looks for a position where a 2-byte length prefix is followed by a
 * plausible message: length at least 17 (header, root name, type, class),
 * exactly one question, opcode 0/1/2/4/5/6, Z bit clear, rcode <= 10, the
 * header counts fit the length (5 octets per question, 11 per record), and
 * the question name decodes with its type and class inside the message. Only
 * the prefix, header and question need to be present to judge (NEED_MORE
 * otherwise, so the dispatcher's pending buffer never needs a whole message).
 * Bytes before the first match are skipped; after KC_DNS_RESYNC_MAX skipped
 * bytes the direction is given up (its bytes consumed and ignored). Outcomes
 * are counted in resync_ok / resync_giveup. A message cut by the hole is
 * lost: its query, if any, stays unmatched.
 *
 * Display strings for types, classes, rcodes and opcodes are in lib/item
 * (kc_item_names.h), shared with the JSON renderer.
 *
 * Thread safety: none needed. A struct kc_dns_flow belongs to the worker that
 * owns the flow; stats are single-writer (one struct per worker). No function
 * allocates memory, locks, or makes system calls; all run on the hot path.
 * Items are built in a scratch struct kc_item on the stack (about 12 KiB of
 * stack per call).
 */
#ifndef KC_DNS_H
#define KC_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc_item.h"
#include "kc_parse.h"

/** Pending (unanswered) queries kept per flow. */
#define KC_DNS_PENDING_MAX 32
/** Compression pointers followed while decoding one name. */
#define KC_DNS_MAX_PTR_HOPS 16
/** RFC 1035 3.1: a name is at most 255 octets on the wire, a label 63. */
#define KC_DNS_MAX_NAME_WIRE 255
#define KC_DNS_MAX_LABEL 63
/** Text kept of a pending query's first question name (bytes, no NUL).
 *  Only an unanswered query's item (or a response that does not echo its
 *  question) uses it; a longer name is cut there (KC_ITEM_F_TRUNCATED, counted
 *  in qname_cut). Kept short so that 32 pending slots stay near 4 KiB. */
#define KC_DNS_QNAME_KEEP 100
/** Default time after which an unanswered query is emitted (us). */
#define KC_DNS_DEFAULT_TIMEOUT_US (5ull * 1000 * 1000)
/** Bytes skipped looking for a message boundary after a TCP gap. */
#define KC_DNS_RESYNC_MAX (64u * 1024)
/** DNS header size (RFC 1035 4.1.1). */
#define KC_DNS_HEADER_LEN 12

/** DNS counters of one worker (single writer). Names: dns.<field>. */
struct kc_dns_stats {
	uint64_t messages;          /**< messages seen (queries + responses) */
	uint64_t queries;           /**< messages with QR = 0 */
	uint64_t responses;         /**< messages with QR = 1 */
	uint64_t items;             /**< items emitted, all kinds */
	uint64_t items_paired;      /**< query + response */
	uint64_t items_resp_only;   /**< response without a pending query */
	uint64_t items_timeout;     /**< query never answered (timeout or close) */
	uint64_t query_dup;         /**< query whose id was already pending: ignored */
	uint64_t pending_evicted;   /**< pending table full: oldest emitted early */
	uint64_t qname_cut;         /**< pending question name longer than KC_DNS_QNAME_KEEP */
	/* Malformed input, by reason; each fault bumps exactly one. */
	uint64_t bad_header;        /**< shorter than 12 bytes */
	uint64_t bad_label_type;    /**< label type 01 or 10 (RFC 6891 6.2.x reserved) */
	uint64_t bad_pointer;       /**< compression pointer not strictly backwards */
	uint64_t ptr_hops;          /**< more than KC_DNS_MAX_PTR_HOPS pointers */
	uint64_t name_too_long;     /**< name over 255 octets: left absent */
	uint64_t name_truncated;    /**< name runs past the end of the message */
	uint64_t truncated_question;/**< question fixed part past the end */
	uint64_t truncated_rr;      /**< record fixed part or RDATA past the end */
	uint64_t bad_rdata;         /**< RDATA inconsistent with its type (A not 4 bytes, ...) */
	uint64_t tcp_zero_len;      /**< TCP length prefix of 0: skipped */
	uint64_t not_dns;           /**< first message of a flow failed the header probe */
	/* TCP gaps (kc_dns_flow_gap). */
	uint64_t tcp_gaps;          /**< gaps reported on a TCP direction */
	uint64_t resync_ok;         /**< found a message boundary after a gap */
	uint64_t resync_giveup;     /**< none within KC_DNS_RESYNC_MAX: direction ignored */
	uint64_t resync_skipped;    /**< bytes skipped while resynchronising */
	/* Limits hit while building an item (item still emitted). */
	uint64_t section_overflow;  /**< more questions or records than an item keeps */
	uint64_t arena_full;        /**< item arena full: strings dropped */
};

/** A query waiting for its response. */
struct kc_dns_pending {
	uint64_t ts_us;      /**< capture time of the query */
	uint32_t size;       /**< query message length (without TCP prefix) */
	uint16_t id;
	uint16_t flags;      /**< header flags word of the query */
	uint16_t qtype, qclass;
	uint16_t qdcount;
	uint8_t used;        /**< slot in use */
	uint8_t qname_len;   /**< bytes of qname; 0 with qdcount 0 */
	uint8_t qname_cut;   /**< qname was longer than kept */
	char qname[KC_DNS_QNAME_KEEP]; /**< first question name, rendered text */
};

/**
 * Per-flow DNS state. The caller allocates it (sizeof is public) and calls
 * kc_dns_flow_init() before the first feed. It holds no pointers, so it may
 * be moved with memcpy.
 */
struct kc_dns_flow {
	uint32_t n_pending;           /**< slots in use */
	uint32_t index;               /**< next item index in this stream */
	uint8_t seen_valid;           /**< a well-formed message was seen */
	uint8_t resync[2];            /**< per TCP direction: looking for a boundary */
	uint8_t dead[2];              /**< per TCP direction: resync given up */
	uint32_t scanned[2];          /**< per TCP direction: bytes skipped in resync */
	struct kc_dns_pending pending[KC_DNS_PENDING_MAX];
};

/** Size of struct kc_dns_flow, for dispatchers that size state at run time. */
size_t kc_dns_flow_size(void);

/**
 * Reset @p f to a flow with no pending query.
 * Thread safety: the owning worker only.
 * @param f Per-flow state, borrowed.
 */
void kc_dns_flow_init(struct kc_dns_flow *f);

/**
 * Is @p data plausibly the start of a DNS message (UDP payload) or of a DNS
 * over TCP stream (length prefix first when @p tcp)? Checks header counts
 * against the length and, if there is a question, that its name decodes.
 * A TCP probe needs only the prefix and the 12-byte header.
 * Thread safety: pure function.
 * @param data Bytes, borrowed for the call.
 * @param len  Their length.
 * @param tcp  True for a TCP stream (2-byte length prefix).
 * @return true when it looks like DNS.
 */
bool kc_dns_probe(const uint8_t *data, size_t len, bool tcp);

/**
 * Parse one DNS message into @p out: reset it to an empty DNS item, then fill
 * u.dns (id, flags, opcode, rcode, questions, answers, authorities,
 * additionals) and set KC_ITEM_F_REQUEST (QR = 0) or KC_ITEM_F_RESPONSE
 * (QR = 1). Addressing, times and sizes are left zero for the caller.
 * Thread safety: pure apart from @p st (single writer).
 * @param msg Message bytes (no TCP length prefix), borrowed for the call.
 * @param len Message length.
 * @param out Item to fill (written whole).
 * @param st  Counters (malformed reasons, overflow); may be NULL.
 * @return 0 when the whole message parsed; -EBADMSG when the header parsed
 *         but a later part did not (out holds what parsed: everything but the
 *         over-long names, or what came before any other fault;
 *         KC_ITEM_F_TRUNCATED set); -EINVAL when @p len < 12 (out reset).
 */
int kc_dns_parse_message(const uint8_t *msg, size_t len, struct kc_item *out,
			 struct kc_dns_stats *st);

/**
 * Feed one UDP datagram payload (one message).
 * Items are emitted through @p emit: a paired item when this is a response to
 * a pending query, a response-only item, or a timeout item when a query
 * evicts the oldest pending one.
 * Thread safety: the owning worker only.
 * @param f    Per-flow state.
 * @param dir  Direction of the datagram (informational: QR decides the role).
 * @param data Datagram payload, borrowed for the call.
 * @param len  Payload length.
 * @param ts_us Capture time.
 * @param info Flow addressing copied into items, borrowed.
 * @param emit Item sink; the item is valid during the call only.
 * @param ctx  Passed to @p emit.
 * @param st   Counters (single writer), not NULL.
 * @return OK consuming @p len; ERROR (consumed 0) when no well-formed message
 *         was ever seen on this flow and this one fails the probe: the flow
 *         is not DNS. Malformed messages on a DNS flow are counted, OK.
 */
struct kc_parse_res kc_dns_feed_udp(struct kc_dns_flow *f, enum kc_dir dir,
				    const uint8_t *data, size_t len, uint64_t ts_us,
				    const struct kc_flow_info *info, kc_item_emit_fn emit,
				    void *ctx, struct kc_dns_stats *st);

/**
 * Feed in-order bytes of one direction of a DNS-over-TCP stream (RFC 7766):
 * any number of length-prefixed messages, the last possibly incomplete.
 * Thread safety: the owning worker only.
 * @param f, dir, ts_us, info, emit, ctx, st As for kc_dns_feed_udp().
 * @param data Stream bytes starting at a message boundary (or, after
 *             kc_dns_flow_gap(), anywhere), borrowed.
 * @param len  Their length.
 * @return OK with consumed == @p len when it ended on a message boundary (or
 *         the direction was given up after a gap);
 *         NEED_MORE with consumed = bytes of the complete messages handled
 *         (and bytes skipped while resynchronising) and needed = bytes
 *         missing to finish (or judge) the next one (re-present the rest
 *         with more data); ERROR (consumed 0) when the first message of a
 *         flow that never carried valid DNS fails the probe.
 */
struct kc_parse_res kc_dns_feed_tcp(struct kc_dns_flow *f, enum kc_dir dir,
				    const uint8_t *data, size_t len, uint64_t ts_us,
				    const struct kc_flow_info *info, kc_item_emit_fn emit,
				    void *ctx, struct kc_dns_stats *st);

/**
 * A reassembly gap on TCP direction @p dir: bytes before the next feed are
 * missing, so the next kc_dns_feed_tcp() on @p dir does not start at a
 * message boundary; it resynchronises as described above. A gap on a given
 * up direction changes nothing.
 * Thread safety: the owning worker only.
 * @param f   Per-flow state.
 * @param dir Direction that lost bytes (KC_DIR_C2S or KC_DIR_S2C).
 * @param st  Counters (tcp_gaps), not NULL.
 */
void kc_dns_flow_gap(struct kc_dns_flow *f, enum kc_dir dir, struct kc_dns_stats *st);

/**
 * Emit pending queries older than @p timeout_us as KC_ITEM_F_TIMEOUT items,
 * oldest first, at most @p budget of them.
 * Thread safety: the owning worker only.
 * @param f, info, emit, ctx, st As for kc_dns_feed_udp().
 * @param now_us     Current capture time.
 * @param timeout_us Age after which a query is given up (e.g.
 *                   KC_DNS_DEFAULT_TIMEOUT_US).
 * @param budget     Maximum items emitted by this call.
 * @return Number of items emitted (0..budget).
 */
unsigned kc_dns_flow_expire(struct kc_dns_flow *f, uint64_t now_us, uint64_t timeout_us,
			    unsigned budget, const struct kc_flow_info *info,
			    kc_item_emit_fn emit, void *ctx, struct kc_dns_stats *st);

/**
 * Flow end: emit every pending query as a KC_ITEM_F_TIMEOUT item (at most
 * KC_DNS_PENDING_MAX), oldest first, and leave @p f empty.
 * Thread safety: the owning worker only.
 * @return Number of items emitted.
 */
unsigned kc_dns_flow_close(struct kc_dns_flow *f, const struct kc_flow_info *info,
			   kc_item_emit_fn emit, void *ctx, struct kc_dns_stats *st);

#endif /* KC_DNS_H */
