/**
 * @file
 * TCP stream reassembly, one direction at a time (Suricata's stream engine is
 * the model). A worker lcore owns one struct kc_reasm_core (pool, memcap,
 * counters) and embeds one struct kc_reasm_dir per direction of every TCP flow
 * it tracks. Segments are pushed as they arrive; bytes come out, in sequence
 * order, through a kc_reasm_deliver_fn callback.
 *
 * Zero copy in order: a segment that starts at or before the next expected
 * sequence number is handed to the callback straight from the caller's payload
 * pointer. Only out-of-order bytes are copied, into fixed-size chunks taken
 * from the core's preallocated pool (no malloc per packet), and only while
 * both the direction's hold bound (max_dir_bytes, max_dir_segs) and the core's
 * memcap allow it.
 *
 * Policies (one each, counted when applied):
 *  - Overlaps and retransmissions: FIRST COPY WINS (what TShark's "Follow TCP
 *    stream" shows). Bytes already delivered or already held are never
 *    replaced; only the new bytes of a segment are used. Where an overlap
 *    covers held (not yet delivered) bytes the two copies are compared and a
 *    difference counts overlaps_conflict. Bytes already delivered are not kept
 *    (zero copy), so a conflicting resend of them is counted as a plain
 *    retransmission.
 *  - Gaps: when held data can no longer wait, the hole before it is skipped and
 *    the next delivery carries gap_before = number of missing bytes. This
 *    happens when (a) the peer's ACK (kc_reasm_ack) covers held bytes, so the
 *    missing ones were received by the peer and will never be resent;
 *    (b) holding a segment would exceed the direction's bound (dir_limit);
 *    (c) the core memcap refuses a chunk (memcap); (d) kc_reasm_flush.
 *    In (b) and (c), under the default KC_REASM_POLICY_GAP, the segment itself
 *    is then delivered zero-copy after the gap: nothing needs to be stored,
 *    so a full pool never loses later data. KC_REASM_POLICY_DROP refuses the
 *    segment instead and keeps waiting.
 *  - Sequence numbers are compared modulo 2^32 (RFC 9293 3.4); a segment more
 *    than KC_REASM_MAX_WINDOW ahead of the next expected byte is dropped and
 *    counted (out_of_window).
 *  - SYN sets the ISN (next byte is ISN+1; SYN data is processed at ISN+1).
 *    A retransmitted SYN is counted. A SYN with another ISN restarts the
 *    direction only while nothing has been delivered or held yet (a tuple
 *    reused after an early RST, a SYN-ACK seen after a spoofed RST/FIN);
 *    afterwards it is counted (syn_ignored) and dropped with its data.
 *  - Without a SYN (stream picked up mid-way), the first segment carrying data
 *    sets the start; earlier sequence numbers seen later are retransmissions.
 *  - FIN consumes one sequence number after its data; bytes at or beyond the
 *    FIN's sequence number arriving later are dropped and counted
 *    (data_after_fin). The first plausible FIN wins (one whose sequence number
 *    is not before the next expected byte nor beyond the window: others are
 *    counted in fin_ignored). Held bytes beyond a FIN that arrived earlier
 *    than the FIN are still delivered.
 *  - RST: counted; its payload is not data (counted in rst_payload_bytes). The
 *    direction is not closed, because an RST is cheap to spoof and stacks
 *    differ on which ones they accept: the flow layer decides when the
 *    connection is over and calls kc_reasm_flush / kc_reasm_dir_release.
 *  - Keep-alive (0 or 1 byte at next-1, RFC 9293 3.8.4) and zero-window
 *    probes (1 byte at next while the peer advertised window 0, or 0/1 byte at
 *    next-1 in that state, RFC 9293 3.8.6.1) are counted, not data, not gaps.
 *
 * Delivery: the callback receives (data, len, gap_before, ts_us). data is
 * borrowed for the duration of the call only. len may be 0 only for a final
 * trailing gap reported by kc_reasm_flush (data is NULL then). ts_us is the
 * timestamp passed to the call that made the bytes deliverable. The callback
 * must not call back into this module for the same direction.
 *
 * Stream offset: struct kc_reasm_dir.offset counts delivered bytes plus gap
 * bytes, so a consumer can name a byte by its 64-bit stream offset (style.md
 * rule 8) whatever the sequence-number wraps.
 *
 * Known limits: a capture that shows the peer's ACK before the data segment it
 * acknowledges (multi-queue capture reordering) makes kc_reasm_ack skip that
 * segment as a gap and count it later as a retransmission (Suricata has the
 * same trade-off). Conflicting resends of bytes already delivered cannot be
 * detected (see first copy wins). Checked against TShark 4.0 "follow,tcp,raw"
 * on 21 real captures (tests/unit/reasm/test_reasm_pcap.c).
 *
 * Thread safety: none needed and none taken. A core context and every
 * direction using it belong to one thread (the worker lcore owning the flows).
 * A direction's held chunks come from the core it was pushed with: always use
 * the same core for a direction. No function here allocates after
 * kc_reasm_core_create, takes a lock, makes a syscall or prints.
 */
#ifndef KC_REASM_H
#define KC_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc_common.h"

/** Default chunk size: one Ethernet MSS (1460) fits one chunk. */
#define KC_REASM_DEFAULT_CHUNK_SIZE 2048u
/** Default pool: 16384 chunks of 2 KiB = 32 MiB per core. */
#define KC_REASM_DEFAULT_N_CHUNKS 16384u
/** Default per-direction hold bound in bytes (out-of-order data waiting). */
#define KC_REASM_DEFAULT_MAX_DIR_BYTES (256u * 1024u)
/** Default per-direction hold bound in chunks. */
#define KC_REASM_DEFAULT_MAX_DIR_SEGS 256u

/** Limits accepted by kc_reasm_core_create. */
#define KC_REASM_MIN_CHUNK_SIZE 64u
#define KC_REASM_MAX_CHUNK_SIZE 65536u
#define KC_REASM_MAX_N_CHUNKS (1u << 24)
#define KC_REASM_MAX_DIR_SEGS_LIMIT 65535u
/** Largest distance (bytes) a segment may lie ahead of the next expected byte,
 *  also the largest payload accepted in one push. */
#define KC_REASM_MAX_WINDOW (1u << 30)

/** TCP header flag bits as on the wire (RFC 9293 3.1). */
#define KC_REASM_TCP_FIN 0x01u
#define KC_REASM_TCP_SYN 0x02u
#define KC_REASM_TCP_RST 0x04u
#define KC_REASM_TCP_PSH 0x08u
#define KC_REASM_TCP_ACK 0x10u

/**
 * What to do when an out-of-order segment cannot be held because a limit
 * (the direction's bound or the core memcap) said no (style.md rule 10).
 */
enum kc_reasm_policy {
	/** Default. Stop waiting: skip the hole(s) before the segment, report
	 *  them as gap_before, deliver the segment now (zero copy). Keeps the
	 *  newest data; a late retransmission of the hole is then old. */
	KC_REASM_POLICY_GAP = 0,
	/** Refuse the segment's unstored bytes (counted in policy_drop_bytes)
	 *  and keep waiting for the hole; the refused bytes become a gap later
	 *  (ACK or flush) unless they are sent again. */
	KC_REASM_POLICY_DROP = 1,
};

/** Configuration of one core context. Fill with kc_reasm_cfg_default first. */
struct kc_reasm_cfg {
	uint32_t chunk_size;    /**< bytes per pool chunk, [64, 65536] */
	uint32_t n_chunks;      /**< chunks in the pool, [1, 2^24] */
	uint64_t memcap_bytes;  /**< per-core cap on held bytes (chunks x chunk_size);
	                             0 = the whole pool; must not exceed the pool */
	uint32_t max_dir_bytes; /**< held bytes per direction, [1, 2^30] */
	uint32_t max_dir_segs;  /**< held chunks per direction, [1, 65535] */
	uint8_t dir_limit_policy; /**< enum kc_reasm_policy when max_dir_* is hit */
	uint8_t memcap_policy;    /**< enum kc_reasm_policy when the memcap refuses */
};

/**
 * Counters of one core context (tcp.reassembly_* in telemetry). Single
 * writer: the owning worker. Every dropped or skipped byte lands in one.
 */
struct kc_reasm_stats {
	uint64_t segments;           /**< pushes with payload or SYN/FIN/RST */
	uint64_t segments_in_order;  /**< segments delivered zero-copy (with >= 1 new byte),
	                                  including those delivered after a forced gap */
	uint64_t bytes_in_order;     /**< new bytes delivered zero-copy from the caller's buffer */
	uint64_t segments_ooo;       /**< segments (partly) stored out of order */
	uint64_t bytes_ooo;          /**< bytes copied into the pool */
	uint64_t bytes_delivered;    /**< all bytes handed to the callback */
	uint64_t deliveries;         /**< callback invocations */
	uint64_t retransmissions;    /**< segments with no new byte (all already delivered or held) */
	uint64_t overlaps;           /**< segments with new bytes and some already-seen bytes */
	uint64_t overlap_bytes;      /**< already-seen bytes in retransmissions and overlaps */
	uint64_t overlaps_conflict;  /**< segments whose overlap with held bytes differed */
	uint64_t gaps;               /**< holes skipped (each reported as gap_before once) */
	uint64_t gap_bytes;          /**< bytes skipped in those holes */
	uint64_t gap_ack;            /**< ... skipped because the peer ACKed beyond them */
	uint64_t gap_dir_limit;      /**< ... skipped because the direction's hold bound was hit */
	uint64_t gap_memcap;         /**< ... skipped because the core memcap refused */
	uint64_t gap_flush;          /**< ... skipped by kc_reasm_flush (incl. trailing gap) */
	uint64_t memcap_drops;       /**< segments that could not be (fully) held: memcap */
	uint64_t dir_limit_drops;    /**< segments that hit the per-direction bound */
	uint64_t policy_drop_bytes;  /**< bytes refused under KC_REASM_POLICY_DROP */
	uint64_t out_of_window;      /**< segments dropped: > KC_REASM_MAX_WINDOW ahead */
	uint64_t keepalives;         /**< keep-alive segments ignored */
	uint64_t zero_window_probes; /**< zero-window probes ignored */
	uint64_t data_after_fin;     /**< segments with bytes at/after the FIN (dropped) */
	uint64_t data_after_fin_bytes; /**< those bytes */
	uint64_t syn;                /**< SYN segments */
	uint64_t syn_retrans;        /**< SYN with the known ISN again */
	uint64_t syn_restart;        /**< SYN with a new ISN that restarted an empty direction */
	uint64_t syn_ignored;        /**< SYN with a new ISN after data: dropped */
	uint64_t fin;                /**< FIN segments */
	uint64_t fin_ignored;        /**< FINs before next_seq or beyond the window */
	uint64_t rst;                /**< RST segments */
	uint64_t rst_payload_bytes;  /**< payload carried by RSTs (not data) */
	uint64_t pickups;            /**< directions started without a SYN */
	uint64_t released_bytes;     /**< held bytes discarded by kc_reasm_dir_release */
};

/**
 * Per-direction state, embedded in every flow entry (40 bytes). Zero it with
 * kc_reasm_dir_init. Fields are private to this module; offset may be read.
 * The fields every segment reads or writes (kc_reasm_push_is_noop,
 * kc_reasm_ack_is_noop, the in-order path) come first, in the first
 * KC_REASM_DIR_HOT bytes, so an embedder can keep them on one cache line.
 */
struct kc_reasm_dir {
	uint32_t next_seq;   /**< next sequence number to deliver (valid when started) */
	uint32_t head;       /**< first held chunk: pool index + 1, 0 = none */
	uint8_t flags;       /**< KC_REASM_DIR_F_* (private) */
	uint8_t rsvd;
	uint16_t held_segs;  /**< held chunks */
	uint32_t held_bytes; /**< bytes in held chunks */
	uint64_t offset;     /**< stream offset of next_seq: bytes delivered + gap bytes */
	/* Cold: SYN, FIN, ACK and out-of-order handling only. */
	uint32_t isn;        /**< initial sequence number (valid with SYN seen) */
	uint32_t fin_seq;    /**< sequence number the FIN occupies (valid with FIN seen) */
	uint32_t ack;        /**< highest plausible ACK from the peer (valid with ACK seen) */
	uint32_t tail;       /**< last held chunk (appends are O(1)), 0 = none */
	/* 40 bytes, no padding; asserted in reasm.c. */
};

/** Bytes at the start of struct kc_reasm_dir read on every segment. */
#define KC_REASM_DIR_HOT 24u

struct kc_reasm_core;

/* GCC >= 11 binds constructor and destructor (style.md rule 6); clang 14 does
 * not know the two-argument form. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define KC_REASM_MALLOC(dealloc) __attribute__((malloc, malloc(dealloc, 1)))
#else
#define KC_REASM_MALLOC(dealloc) __attribute__((malloc))
#endif

/**
 * Receives reassembled bytes of one direction, in sequence order.
 * @param ctx        the ctx given to the push/ack/flush call
 * @param data       borrowed until return; NULL only when len == 0
 * @param len        bytes at data; 0 only for a trailing gap at flush
 * @param gap_before bytes missing (never seen) just before data
 * @param ts_us      timestamp of the call that made the bytes deliverable
 */
typedef void (*kc_reasm_deliver_fn)(void *ctx, const uint8_t *data, uint32_t len,
				    uint32_t gap_before, uint64_t ts_us);

/**
 * Fill @p cfg with the KC_REASM_DEFAULT_* values.
 * Thread safety: any thread.
 * @param cfg  written; must not be NULL
 */
void kc_reasm_cfg_default(struct kc_reasm_cfg *cfg);

/**
 * Free a core context and its pool. Every direction still holding chunks
 * from it becomes invalid (re-init them before any further use).
 * Thread safety: the owner, once no other call on @p core runs.
 * @param core  may be NULL
 */
void kc_reasm_core_destroy(struct kc_reasm_core *core);

/**
 * Create a core context: allocates the chunk pool (the only allocation of
 * this module). Called at setup on the control thread or the worker itself.
 * @param cfg  borrowed for the call; validated (ranges above)
 * @param err  optional: "what: why" on failure
 * @return the context (caller owns it; free with kc_reasm_core_destroy), or
 *         NULL with errno = EINVAL (cfg NULL or out of range, detail in @p err)
 *         or ENOMEM (allocation failed).
 */
struct kc_reasm_core *kc_reasm_core_create(const struct kc_reasm_cfg *cfg, struct kc_err *err)
	KC_REASM_MALLOC(kc_reasm_core_destroy);

/**
 * Counters of @p core. Thread safety: the owner reads them directly; another
 * thread may read (values may be torn between fields, each 64-bit field is
 * written whole on 64-bit targets).
 * @return a pointer valid until kc_reasm_core_destroy; never NULL for a valid core.
 */
const struct kc_reasm_stats *kc_reasm_core_stats(const struct kc_reasm_core *core);

/** Number of counters in struct kc_reasm_stats. Thread safety: any. */
size_t kc_reasm_stats_count(void);

/**
 * Telemetry name of counter @p i ("reasm.gap_ack", ...).
 * @return a static string, or NULL when i >= kc_reasm_stats_count().
 */
const char *kc_reasm_stats_name(size_t i);

/**
 * Value of counter @p i in @p st (borrowed for the call).
 * @return the value, or 0 when i >= kc_reasm_stats_count().
 */
uint64_t kc_reasm_stats_value(const struct kc_reasm_stats *st, size_t i);

/**
 * Add every counter of @p add into @p sum (summing per-lcore copies for
 * telemetry). Thread safety: the caller owns @p sum; @p add may be read while
 * its worker writes it (each counter is read once).
 */
void kc_reasm_stats_add(struct kc_reasm_stats *sum, const struct kc_reasm_stats *add);

/**
 * Per-core memory accounting (cap, used, peak, refused) of held chunks.
 * Thread safety: as kc_reasm_core_stats.
 * @return a pointer valid until kc_reasm_core_destroy.
 */
const struct kc_memcap *kc_reasm_core_memcap(const struct kc_reasm_core *core);

/**
 * Number of pool chunks currently held by all directions of @p core.
 * Thread safety: the owning worker (another thread may read a stale value).
 * @return 0 .. cfg.n_chunks.
 */
uint32_t kc_reasm_core_chunks_used(const struct kc_reasm_core *core);

/**
 * Reset a direction to "nothing seen". Must be called before first use
 * (a zeroed struct is also a valid fresh direction). Does not release held
 * chunks: call kc_reasm_dir_release for a used one. Thread safety: the
 * direction's owner.
 * @param dir  written; must not be NULL
 */
void kc_reasm_dir_init(struct kc_reasm_dir *dir);

/**
 * Feed one TCP segment of this direction. In-order bytes (and any held bytes
 * they make contiguous) are delivered through @p fn before return.
 * Thread safety: the owning worker only. Per packet: no allocation, no lock.
 * @param core     the owning core context
 * @param dir      this direction's state
 * @param seq      the segment's sequence number (host order)
 * @param tcp_flags TCP flag byte (KC_REASM_TCP_*); only SYN, FIN, RST matter
 * @param payload  borrowed for the call; may be NULL when len == 0
 * @param len      payload bytes (after IP total-length trimming)
 * @param ts_us    packet timestamp, passed to deliveries
 * @param fn       delivery callback; must not be NULL
 * @param ctx      passed to @p fn
 * @return 0 (every outcome, including drops, is counted in the stats), or
 *         -EINVAL: NULL core/dir/fn, NULL payload with len > 0, or
 *         len > KC_REASM_MAX_WINDOW (nothing done, nothing counted).
 */
int kc_reasm_push(struct kc_reasm_core *core, struct kc_reasm_dir *dir, uint32_t seq,
		  uint8_t tcp_flags, const uint8_t *payload, uint32_t len, uint64_t ts_us,
		  kc_reasm_deliver_fn fn, void *ctx);

/**
 * The common case of kc_reasm_push() without the callback: when this segment
 * is the next one in order, nothing is held, it carries at least two bytes
 * and no SYN, FIN or RST, and the direction has started and has no FIN yet
 * (so no policy of kc_reasm_push() applies), account it exactly as
 * kc_reasm_push() would deliver it (counters, offset, next_seq) and return
 * true: the caller then hands @p len bytes of its payload to its consumer
 * itself, as one delivery with gap_before 0. Otherwise change nothing and
 * return false: call kc_reasm_push(). Saves the callback and its context on
 * most data segments.
 * Thread safety: the owning worker only. Per packet: no allocation, no lock.
 * @param core      the owning core context (not NULL)
 * @param dir       this direction's state (not NULL)
 * @param seq       the segment's sequence number (host order)
 * @param tcp_flags TCP flag byte (KC_REASM_TCP_*)
 * @param len       payload bytes
 * @return true: delivered (the caller passes the bytes on); false: nothing done.
 */
bool kc_reasm_push_in_order(struct kc_reasm_core *core, struct kc_reasm_dir *dir, uint32_t seq,
			    uint8_t tcp_flags, uint32_t len);

/** dir->flags bits callers may test: the direction has started (next_seq
 *  is valid); its FIN was seen (fin_seq is valid); the peer's last window
 *  was zero. */
#define KC_REASM_DIR_STARTED 0x01u
#define KC_REASM_DIR_FIN 0x04u
#define KC_REASM_DIR_ZWIN 0x10u

/**
 * Has this direction delivered every byte up to its FIN, with nothing held?
 * Then no later segment can add data to it (data past a FIN is cut).
 * Thread safety: the owner.
 */
static inline bool kc_reasm_dir_finished(const struct kc_reasm_dir *dir)
{
	return (dir->flags & KC_REASM_DIR_FIN) && dir->next_seq == dir->fin_seq && dir->held_segs == 0;
}

/**
 * Would kc_reasm_push() do nothing at all (no delivery, no counter) for this
 * segment? True for a bare ACK that is not a keep-alive or zero-window probe,
 * half of all segments: callers skip the call. Thread safety: the owner.
 */
static inline bool kc_reasm_push_is_noop(const struct kc_reasm_dir *dir, uint32_t seq, uint8_t tcp_flags,
					 uint32_t len)
{
	return len == 0 && !(tcp_flags & (KC_REASM_TCP_SYN | KC_REASM_TCP_FIN | KC_REASM_TCP_RST)) &&
	       !((dir->flags & KC_REASM_DIR_STARTED) && seq == dir->next_seq - 1);
}

/**
 * Would kc_reasm_ack() change nothing (zero-window state already as @p window
 * says, and @p ack is not ahead of what was delivered)? True for nearly
 * every ACK: callers skip the call. Thread safety: the owner.
 */
static inline bool kc_reasm_ack_is_noop(const struct kc_reasm_dir *dir, uint32_t ack, uint32_t window)
{
	bool zwin = (dir->flags & KC_REASM_DIR_ZWIN) != 0;

	return zwin == (window == 0) &&
	       (!(dir->flags & KC_REASM_DIR_STARTED) || (int32_t)(ack - dir->next_seq) <= 0 ||
		ack - dir->next_seq > KC_REASM_MAX_WINDOW);
}

/**
 * Tell this direction what the peer acknowledged: call it with the ACK number
 * and raw window field of every segment with ACK set travelling the OTHER way.
 * Held segments that start below @p ack are delivered, skipping (and
 * reporting) the holes before them: the peer has those bytes, so no resend
 * will come. The window marks zero-window state for probe detection. An ACK
 * at or below the next expected byte, more than KC_REASM_MAX_WINDOW ahead, or
 * before the direction started is only used for the window.
 * Thread safety: the owning worker only. Per packet: no allocation, no lock.
 * @param core    the core context @p dir is used with
 * @param dir     the direction whose bytes @p ack acknowledges
 * @param ack     the ACK number (host order)
 * @param window  the peer's advertised window as on the wire (only 0 matters)
 * @param ts_us   passed to deliveries
 * @param fn      delivery callback; must not be NULL
 * @param ctx     passed to @p fn
 */
void kc_reasm_ack(struct kc_reasm_core *core, struct kc_reasm_dir *dir, uint32_t ack,
		  uint32_t window, uint64_t ts_us, kc_reasm_deliver_fn fn, void *ctx);

/**
 * Deliver everything held, in order, skipping holes (gap_before), and report
 * a trailing gap (len 0 delivery) when the FIN or the peer's ACK shows bytes
 * beyond the last delivered one. Use at close, expiry or eviction. The
 * direction stays usable afterwards; its chunks are back in the pool.
 * Thread safety: the owning worker only. Bounded by the held chunks
 * (max_dir_segs).
 * @param core   the core context @p dir is used with
 * @param dir    the direction to flush
 * @param ts_us  passed to deliveries
 * @param fn     delivery callback; must not be NULL
 * @param ctx    passed to @p fn
 */
void kc_reasm_flush(struct kc_reasm_core *core, struct kc_reasm_dir *dir, uint64_t ts_us,
		    kc_reasm_deliver_fn fn, void *ctx);

/**
 * Return every chunk held by @p dir to the pool without delivering it (held
 * bytes are counted in released_bytes), then re-init @p dir. Call
 * kc_reasm_flush first to keep the data. Thread safety: the owning worker.
 * @param core the core context @p dir is used with
 * @param dir  may hold nothing; must not be NULL
 */
void kc_reasm_dir_release(struct kc_reasm_core *core, struct kc_reasm_dir *dir);

/**
 * Check the invariants of @p dir's held list (sorted, disjoint, every chunk
 * after next_seq, counts and tail right). O(held chunks): for tests, fuzzers
 * and debug builds, not per packet. Thread safety: the owning worker.
 * @return 0 when consistent, -EUCLEAN when not.
 */
int kc_reasm_dir_validate(const struct kc_reasm_core *core, const struct kc_reasm_dir *dir);

#endif /* KC_REASM_H */
