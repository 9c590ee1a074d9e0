/**
 * @file
 * HPACK (RFC 7541) header-block decoder with a bounded dynamic table.
 *
 * One struct kc_hpack_dec decodes one direction of one HTTP/2 connection.
 * It lives inside caller memory (no allocation): a fixed ring of entry
 * descriptors and a KC_HPACK_TABLE_CAP byte store for names and values.
 *
 * Knowing versus guessing. The decoder may not hold every entry the encoder
 * holds: after a mid-stream join (it never saw the older insertions), or when
 * the peer allowed a table larger than KC_HPACK_TABLE_CAP and the encoder
 * filled it. The decoder then marks its table "partial": the newest entries
 * it saw inserted are exact (an index always counts from the newest entry, so
 * index i <= count names the same entry on both sides), but an index past
 * them is unknowable. Such a reference is not guessed: the field is skipped
 * and kc_hpack_decode() returns -ENOENT after decoding the rest of the block
 * (the block's other insertions are still applied, so later blocks that only
 * use static, literal or newer dynamic entries decode exactly). A dynamic
 * table size update to 0 empties the table on both sides and makes the
 * decoder whole again.
 *
 * Huffman strings (RFC 7541 5.2, Appendix B) are decoded into a stack buffer
 * of KC_HPACK_MAX_STRING bytes; longer decoded strings are handed to the
 * callback cut to that length with KC_HPACK_F_TRUNCATED (they are still
 * decoded whole, so errors are still found and table sizes stay exact).
 *
 * Thread safety: a decoder is used by one thread at a time; the functions
 * share no state (the static and Huffman tables are read-only).
 */
#ifndef KC_HPACK_H
#define KC_HPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc_common.h"

/** Hard cap of the dynamic table, in RFC 7541 4.1 size units (name + value +
 *  32 per entry). Also the byte store for names and values. */
#define KC_HPACK_TABLE_CAP 4096u
/** Most entries the table can hold: every entry counts at least 32. */
#define KC_HPACK_MAX_ENTRIES (KC_HPACK_TABLE_CAP / 32u)
/** SETTINGS_HEADER_TABLE_SIZE before any SETTINGS (RFC 9113 6.5.2). */
#define KC_HPACK_DEFAULT_TABLE_SIZE 4096u
/** Longest decoded Huffman string passed whole to the field callback. */
#define KC_HPACK_MAX_STRING 4096u
/** Number of entries in the static table (RFC 7541 Appendix A). */
#define KC_HPACK_STATIC_COUNT 61u

/** Field flags given to the callback. */
#define KC_HPACK_F_NEVER_INDEXED 0x1u /**< literal never indexed (6.2.3) */
#define KC_HPACK_F_TRUNCATED     0x2u /**< name or value cut to KC_HPACK_MAX_STRING */

/** Descriptor of one dynamic entry: its bytes are data[off, off+nlen+vlen). */
struct kc_hpack_entry {
	uint16_t off;
	uint16_t nlen;
	uint16_t vlen;
};

struct kc_hpack_dec {
	uint32_t size;      /**< RFC 7541 4.1 size of the entries held */
	uint32_t max_size;  /**< table maximum chosen by the encoder (4.2) */
	uint32_t limit;     /**< protocol bound on max_size: SETTINGS_HEADER_TABLE_SIZE */
	uint16_t count;     /**< entries held */
	uint16_t newest;    /**< ring index of the newest entry (valid when count > 0) */
	uint16_t data_start, data_end; /**< live bytes of data[], oldest first */
	uint8_t partial;    /**< older entries may exist that we never saw (see @file) */
	uint8_t max_known;  /**< max_size was seen in a size update (after a join) */
	struct kc_hpack_entry ent[KC_HPACK_MAX_ENTRIES];
	uint8_t data[KC_HPACK_TABLE_CAP];
};

/**
 * Receives one decoded field. @p name and @p value are borrowed for the call
 * only. Names are as received (HTTP/2 sends lower case).
 * @return 0 to go on; any other value stops decoding and is returned by
 * kc_hpack_decode() (the table may then be behind the encoder's).
 */
typedef int (*kc_hpack_field_fn)(void *ctx, const uint8_t *name, size_t nlen,
				 const uint8_t *value, size_t vlen, unsigned flags);

/**
 * Initialise @p d as a whole (connection-start) decoder.
 * @param d      decoder storage (caller memory).
 * @param limit  SETTINGS_HEADER_TABLE_SIZE in force (KC_HPACK_DEFAULT_TABLE_SIZE
 *               at connection start); also the initial max_size.
 */
void kc_hpack_dec_init(struct kc_hpack_dec *d, uint32_t limit);

/**
 * Mark @p d partial: the connection was joined after its start, so entries
 * inserted before it are unknown (see @file). max_size is assumed to be the
 * limit until a size update says otherwise.
 */
void kc_hpack_dec_set_partial(struct kc_hpack_dec *d);

/**
 * Bytes of this direction were lost (a reassembly gap): insertions made in
 * them are unknown, so no entry held can be trusted at its index any more.
 * Empty the table and mark it partial (see @file); the limit is kept and
 * max_size is assumed to be the limit until a size update says otherwise.
 */
void kc_hpack_dec_lose(struct kc_hpack_dec *d);

/**
 * Raise the protocol bound after the decoding side advertised
 * SETTINGS_HEADER_TABLE_SIZE = @p limit. The bound only grows: a lowered
 * setting is followed by the encoder's own size update (RFC 7541 4.2), and
 * until it is acknowledged the old value may still be in use.
 */
void kc_hpack_dec_set_limit(struct kc_hpack_dec *d, uint32_t limit);

/**
 * Decode one complete header block (RFC 7541 section 3), applying its table
 * changes and calling @p fn for each field in order.
 * Thread safety: touches only @p d.
 * @param d    decoder of the block's direction.
 * @param blk  the block (borrowed for the call).
 * @param len  its length.
 * @param fn   field callback, may be NULL (table upkeep only).
 * @param ctx  passed to @p fn.
 * @return 0 on success;
 *   -ENOENT when the block referenced dynamic entries the decoder does not
 *     hold because it is partial (those fields were skipped, the rest
 *     decoded and applied);
 *   -EINVAL when the block is malformed (bad integer or overflow, index 0
 *     or past the table, bad Huffman code or padding, EOS symbol, truncated
 *     string, size update above the limit or after the first field): the
 *     decoder's state is then unknown and it must not be used again;
 *   any non-zero value returned by @p fn.
 */
int kc_hpack_decode(struct kc_hpack_dec *d, const uint8_t *blk, size_t len,
		    kc_hpack_field_fn fn, void *ctx);

/**
 * Dynamic entry @p idx (1 = newest) of @p d, for tests and diagnostics.
 * @return 0 with the borrowed views set (valid until the next decode), or
 *   -ENOENT when @p idx is past the entries held.
 */
int kc_hpack_dec_entry(const struct kc_hpack_dec *d, unsigned idx, const uint8_t **name,
		       size_t *nlen, const uint8_t **value, size_t *vlen);

/**
 * Decode the Huffman string @p in (RFC 7541 5.2) into @p out.
 * @param out_cap  room in @p out; output past it is counted, not written.
 * @param out_len  set to the full decoded length (may exceed @p out_cap).
 * @return 0, or -EINVAL (EOS symbol, padding longer than 7 bits or not all
 *   ones, code longer than 30 bits).
 */
int kc_hpack_huffman_decode(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap,
			    size_t *out_len);

/** Bit length of the Huffman code of @p sym (0..256, 256 = EOS); tests
 *  derive the canonical codes from it. @return 0 when @p sym > 256. */
unsigned kc_hpack_huffman_bits(unsigned sym);

#endif /* KC_HPACK_H */
