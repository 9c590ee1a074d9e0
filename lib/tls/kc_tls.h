/**
 * @file
 * TLS handshake dissector (RFC 8446, RFC 5246, RFC 6066, RFC 7301): reads the
 * cleartext ClientHello and ServerHello of a TCP stream and yields one
 * KC_ITEM_TLS item per connection: SNI, offered ALPN list, offered legacy
 * version and supported_versions, chosen version and cipher suite, and the
 * ALPN the server chose when the ServerHello carries it (TLS <= 1.2; in 1.3
 * it is in EncryptedExtensions, which is encrypted, so it stays absent).
 *
 * Framing: handshake messages may span several records and records several
 * segments. The dissector never copies stream bytes: it answers NEED_MORE
 * (consuming only whole records that precede the hello) until every record
 * holding the hello is present, then parses the hello in place across the
 * record boundaries. A hello longer than KC_TLS_MAX_HS_MSG is given up
 * (tls.hs_too_big), and so is a hello still incomplete when
 * KC_TLS_MAX_PRESENTED bytes are presented (tiny-record evasion). The
 * caller's per-direction buffer bound should allow KC_TLS_MAX_PRESENTED.
 *
 * End of parsing (agreed with lib/dissect): once a direction's hello is read
 * (or the direction was given up for a counted reason such as an alert or an
 * unexpected record), kc_tls_feed() answers OK consuming everything it is
 * given for that direction, so no bytes pile up. When kc_tls_flow_done()
 * returns true, nothing more will come of this flow: the dispatcher should
 * stop feeding it (and may keep it only for kc_tls_flow_close()). ERROR is
 * returned only when the stream is not TLS at all (bad record header,
 * SSLv2-compatible hello, a first handshake message that is not a hello):
 * stop feeding that direction.
 *
 * Items: emitted once both hellos are in; kc_tls_flow_close() or
 * kc_tls_flow_expire() emits a lone hello with KC_ITEM_F_TIMEOUT. The
 * request side is the ClientHello (ts_us, req_size = handshake message
 * length including its 4-byte header), the response side the ServerHello.
 * GREASE values (RFC 8701) are left out of offered_versions and alpn. With
 * ECH (draft-ietf-tls-esni), the SNI is the outer ClientHello's, the only
 * one in clear text. A HelloRetryRequest counts as the ServerHello.
 *
 * Version and cipher-suite names are in lib/item (kc_item_names.h).
 *
 * Thread safety: a struct kc_tls_flow belongs to the worker owning the flow;
 * stats are single-writer. No allocation, locks or system calls.
 */
#ifndef KC_TLS_H
#define KC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc_item.h"
#include "kc_parse.h"

/** Largest handshake message (hello) accepted, bytes after its header. */
#define KC_TLS_MAX_HS_MSG (64u * 1024)
/** Most bytes a direction may hold un-consumed while a hello is incomplete:
 *  a 64 KiB hello plus 16 KiB of record headers (a hello cut into records of
 *  at least ~20 bytes). Past it the direction is given up (tls.hs_too_big).
 *  The dispatcher's per-direction bound should be at least this. */
#define KC_TLS_MAX_PRESENTED (KC_TLS_MAX_HS_MSG + 16u * 1024)
/** Largest record payload accepted: 2^14 plus the 2048 of TLSCiphertext
 *  expansion (RFC 5246 6.2.3). */
#define KC_TLS_MAX_RECORD (16384u + 2048u)
/** Bytes kept of the offered ALPN names (all names together). */
#define KC_TLS_ALPN_KEEP 256
/** Bytes kept of SNI and of the chosen ALPN. */
#define KC_TLS_NAME_KEEP 255
/** Default time after which a lone ClientHello is emitted (us). */
#define KC_TLS_DEFAULT_TIMEOUT_US (30ull * 1000 * 1000)

/** TLS counters of one worker (single writer). Names: tls.<field>. */
struct kc_tls_stats {
	uint64_t client_hellos;     /**< ClientHellos parsed */
	uint64_t server_hellos;     /**< ServerHellos parsed (HRR included) */
	uint64_t items;             /**< items emitted, all kinds */
	uint64_t items_timeout;     /**< items with one hello only (close/timeout) */
	uint64_t hrr;               /**< ServerHello was a HelloRetryRequest */
	uint64_t ech;               /**< ClientHello carried encrypted_client_hello */
	uint64_t sslv2_hello;       /**< SSLv2-compatible ClientHello: not parsed */
	uint64_t not_tls;           /**< record header not TLS: gave up */
	uint64_t hs_too_big;        /**< hello over KC_TLS_MAX_HS_MSG, or incomplete at
	                                 KC_TLS_MAX_PRESENTED bytes */
	uint64_t bad_hello;         /**< hello malformed (length fields inconsistent) */
	uint64_t bad_hs_framing;    /**< non-handshake record inside a hello, empty fragment */
	uint64_t alert_before_hello;/**< alert record before the direction's hello */
	uint64_t unexpected;        /**< other record or handshake type before the hello */
	uint64_t truncated;         /**< SNI/ALPN/versions longer than kept */
};

/** What one direction still expects. */
enum kc_tls_dir_state {
	KC_TLS_WANT_HELLO = 0,
	KC_TLS_HELLO_DONE,  /**< hello parsed */
	KC_TLS_GAVE_UP,     /**< counted reason; no hello from this side */
};

/**
 * Per-flow TLS state (about 900 bytes). Caller-allocated, initialised with
 * kc_tls_flow_init(); holds no pointers (movable with memcpy).
 */
struct kc_tls_flow {
	uint8_t dir_state[2];       /**< enum kc_tls_dir_state per kc_dir */
	uint8_t have_ch, have_sh, emitted, truncated;
	uint32_t index;             /**< next item index in this stream */
	uint64_t ch_ts_us, sh_ts_us;
	uint32_t ch_size, sh_size;
	uint16_t client_version, server_version, cipher_suite;
	uint8_t n_versions;
	uint8_t n_alpn;
	uint16_t versions[8];
	uint8_t alpn_len[KC_ITEM_MAX_ALPN];
	uint16_t alpn_off[KC_ITEM_MAX_ALPN];
	uint16_t alpn_used;
	uint8_t sni_len;
	uint8_t alpn_chosen_len;
	char alpn_buf[KC_TLS_ALPN_KEEP];
	char sni[KC_TLS_NAME_KEEP];
	char alpn_chosen[KC_TLS_NAME_KEEP];
};

/** sizeof(struct kc_tls_flow), for dispatchers sizing state at run time. */
size_t kc_tls_flow_size(void);

/** Reset @p f (both directions want their hello). Owning worker only. */
void kc_tls_flow_init(struct kc_tls_flow *f);

/**
 * Does @p data look like the start of a TLS stream (a handshake record
 * carrying a ClientHello or ServerHello, any TLS 1.x or SSL 3.0 version), or
 * of an SSLv2-compatible ClientHello (which kc_tls_feed() then counts and
 * refuses)? Needs 5 bytes; with 6 or more the handshake type is checked too.
 * Thread safety: pure function.
 * @return true when plausible.
 */
bool kc_tls_probe(const uint8_t *data, size_t len);

/**
 * Feed in-order bytes of one direction, starting at a record boundary.
 * Thread safety: the owning worker only.
 * @param f    Per-flow state.
 * @param dir  KC_DIR_C2S (ClientHello expected) or KC_DIR_S2C (ServerHello).
 * @param data Stream bytes, borrowed for the call.
 * @param len  Their length.
 * @param ts_us Capture time of the newest byte (the hello's time when it completes).
 * @param info Flow addressing copied into the item, borrowed.
 * @param emit Item sink; the item is valid during the call only.
 * @param ctx  Passed to @p emit.
 * @param st   Counters, not NULL.
 * @return OK consuming @p len once this direction's hello is parsed or the
 *         direction was given up (see the file comment); NEED_MORE with
 *         consumed = whole records skipped before the hello (ChangeCipherSpec)
 *         and needed = a hint of missing bytes (0 if unknown); ERROR
 *         (consumed 0) when the bytes are not TLS.
 */
struct kc_parse_res kc_tls_feed(struct kc_tls_flow *f, enum kc_dir dir, const uint8_t *data,
				size_t len, uint64_t ts_us, const struct kc_flow_info *info,
				kc_item_emit_fn emit, void *ctx, struct kc_tls_stats *st);

/** True when neither direction wants more bytes (both hellos read, or given
 *  up): stop feeding this flow. */
bool kc_tls_flow_done(const struct kc_tls_flow *f);

/**
 * Emit a lone hello (KC_ITEM_F_TIMEOUT) when the ClientHello (or the
 * ServerHello, if only it was seen) is older than @p timeout_us.
 * Owning worker only.
 * @return 1 when an item was emitted, else 0.
 */
unsigned kc_tls_flow_expire(struct kc_tls_flow *f, uint64_t now_us, uint64_t timeout_us,
			    const struct kc_flow_info *info, kc_item_emit_fn emit, void *ctx,
			    struct kc_tls_stats *st);

/**
 * Flow end: emit the pending lone hello, if any, with KC_ITEM_F_TIMEOUT.
 * Owning worker only.
 * @return 1 when an item was emitted, else 0.
 */
unsigned kc_tls_flow_close(struct kc_tls_flow *f, const struct kc_flow_info *info,
			   kc_item_emit_fn emit, void *ctx, struct kc_tls_stats *st);

#endif /* KC_TLS_H */
