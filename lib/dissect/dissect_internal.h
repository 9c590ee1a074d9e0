/*
 * Private to lib/dissect: pools, the flow record, the HTTP/1 per-flow state
 * and the functions the dispatcher (dissect.c), the HTTP/1 dissector
 * (http1.c) and the decoder pool (inflate.c) share.
 */
#ifndef KC_DISSECT_INTERNAL_H
#define KC_DISSECT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <zlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "kc_dissect.h"

/* ---- fixed-size object pool (all memory taken at create) ---------------- */

struct pool {
	uint8_t *mem;      /* n objects of sz bytes, cache-line aligned */
	uint32_t *free_ix; /* stack of free indices */
	uint32_t n;
	uint32_t nfree;
	size_t sz;
	size_t bytes;      /* mapped size (mmap'd pools), 0 for heap pools */
};

int pool_init(struct pool *p, uint32_t n, size_t sz);
void pool_fini(struct pool *p);
/* NULL when empty; the caller counts. */
void *pool_get(struct pool *p);
void pool_put(struct pool *p, void *obj);
static inline void *pool_at(const struct pool *p, uint32_t i)
{
	return p->mem + (size_t)i * p->sz;
}

/* ---- gzip/deflate decoders (inflate.c) ---------------------------------- */

/* zlib's inflate state (~7 KiB) plus a 32 KiB window, carved from the
 * decoder's own arena by a bump allocator: no malloc per message. */
#define INFLATER_ARENA (48u * 1024)

struct inflater {
	z_stream zs;
	size_t used;
	uint8_t arena[INFLATER_ARENA];
};

/* Take a decoder ready for gzip or zlib input (auto-detected); NULL when the
 * pool is empty or zlib refused. */
struct inflater *inflater_get(struct pool *p);
void inflater_put(struct pool *p, struct inflater *z);

/* ---- HTTP/1 ------------------------------------------------------------- */

enum h1_state {
	H1_START = 0,  /* expecting a request/status line */
	H1_HEADERS,
	H1_BODY_CL,     /* remaining = body bytes left */
	H1_CHUNK_SIZE,
	H1_CHUNK_DATA,  /* remaining = chunk bytes left */
	H1_CHUNK_CRLF,  /* CRLF after chunk data */
	H1_TRAILERS,
	H1_BODY_EOF,    /* response body until the connection closes */
	H1_RESYNC,      /* looking for the next message after a gap/error */
	H1_BLOCKED,     /* C2S: HTTP/2 preface after Upgrade: h2c, waiting for the 101 */
	H1_DEAD,        /* gave up or tunnel: consume and ignore */
};

enum h1_enc { ENC_NONE = 0, ENC_GZIP, ENC_DEFLATE };

/* Per-message flags (struct h1_dir.mflags). */
#define M_CHUNKED   0x01u
#define M_CL        0x02u
#define M_BODY_STOP 0x04u /* body prefix finished (full, gap, decoder done) */
#define M_INTERIM   0x08u /* 1xx head being skipped */
#define M_RAW_TRIED 0x20u /* "deflate" body retried as raw DEFLATE once */

/* Queue entry flags: what the response parser must know of its request. */
#define QF_HEAD    0x01u
#define QF_CONNECT 0x02u
#define QF_UP_H2C  0x04u
#define QF_H09     0x08u /* HTTP/0.9 simple request: the answer is raw bytes */

/* Where the response being parsed lives (struct h1_dir.rsrc). */
enum { RS_NONE = 0, RS_QUEUE, RS_ONLY };

/* What the dispatcher must do after a 101 or CONNECT 2xx. */
enum { SW_NONE = 0, SW_H2C, SW_STOP };

/* The per-message fields come first, from enc to it, so that
 * dir_reset_msg() clears them as one block. */
struct h1_dir {
	uint8_t enc;         /* enum h1_enc of the current body */
	uint8_t mflags;
	uint8_t rsrc;        /* S2C: RS_* */
	uint8_t qflags;      /* S2C: QF_* of the request being answered */
	int8_t last_hdr;     /* index of the last stored header, -1 none */
	int8_t cur_q;        /* C2S: queue slot of the request being parsed, -1 none */
	uint16_t status;     /* S2C: status code of the response being parsed */
	uint64_t remaining;  /* BODY_CL / CHUNK_DATA bytes left */
	uint64_t body_wire;  /* body payload bytes (dechunked, still encoded) */
	uint64_t msg_bytes;  /* bytes of this message on the wire */
	uint64_t hdr_bytes;  /* bytes of its head (start line to blank line) */
	struct kc_item *it;  /* item being filled; NULL = parse and discard */
	uint8_t state;       /* enum h1_state */
	uint8_t line_start;  /* RESYNC: the next byte starts a line */
	uint8_t msgs;        /* messages parsed (saturating): 0 = not HTTP yet */
	uint64_t scanned;    /* RESYNC: bytes skipped so far */
	struct inflater *z;  /* body decoder, NULL when none */
};

struct h1_qent {
	struct kc_item *it;  /* NULL: not stored (pool empty), still paired */
	uint64_t ts_us;
	uint8_t flags;       /* QF_* */
};

/* The queue's bookkeeping sits between the directions and the queue: every
 * feed reads switch_to and qlen, and after the 144 bytes of d[] they share
 * its last cache line instead of taking one of their own past q[]. */
struct h1_flow {
	struct h1_dir d[2];
	uint8_t qhead, qlen;
	uint8_t switch_to;   /* SW_*, read and cleared by the dispatcher */
	uint8_t had_h09;     /* an HTTP/0.9 request was queued (sticky): responses
			      * look for a raw answer only then */
	uint32_t behind;     /* requests not queued (queue full): responses to skip */
	uint32_t skip_resp;  /* requests emitted as timed out: their responses dropped */
	struct h1_qent q[KC_DISSECT_HTTP_PIPELINE_MAX];
};

/* ---- the flow and the core ---------------------------------------------- */

struct kc_dissect_flow {
	struct kc_dissect_core *core;
	kc_item_emit_fn emit;
	void *emit_ctx;
	void *ps;              /* protocol state from the protocol's pool */
	uint8_t *pend[2];      /* pending buffer per direction, NULL when none */
	uint32_t pend_len[2];
	uint32_t next_index;   /* index of the next item of this stream */
	int8_t proto;          /* -1 undecided, else enum kc_item_proto */
	uint8_t in_use;
	uint8_t had_data;
	uint8_t stopped[2];    /* direction no longer dissected */
	uint32_t slot;
	uint64_t last_ts;      /* capture time of the latest TCP bytes */
	struct kc_flow_info fi;
};

struct kc_dissect_core {
	struct kc_dissect_cfg cfg;
	struct pool flows;
	struct pool pend;
	struct pool items;
	struct pool h1;
	struct pool infl;
	struct pool dns;
	struct pool tls;
	struct pool h2;
	uint32_t tick_cursor;
	struct kc_dissect_stats st kc_cache_aligned;
	struct kc_item scratch; /* renumbering items of other dissectors */
};

/* dissect.c: hand an item of @p f to its sink, numbering it in the stream. */
void dissect_emit(struct kc_dissect_flow *f, struct kc_item *it);
/* Same for an item owned by another library (copied when renumbered). */
void dissect_emit_foreign(void *flow_ctx, const struct kc_item *it);

/* http1.c */
bool h1_flow_init(struct kc_dissect_core *c, struct kc_dissect_flow *f);
struct kc_parse_res h1_feed(struct kc_dissect_core *c, struct kc_dissect_flow *f,
			    enum kc_dir dir, const uint8_t *data, size_t len, uint64_t ts_us);
void h1_gap(struct kc_dissect_core *c, struct kc_dissect_flow *f, enum kc_dir dir,
	    uint64_t gap);
/* Finish the 101 response left pending by an h2c upgrade (no HTTP/2). */
void resp_done_101(struct kc_dissect_core *c, struct kc_dissect_flow *f);
/* Flush at stream end (emits, frees items and decoders). */
void h1_close(struct kc_dissect_core *c, struct kc_dissect_flow *f, uint64_t ts_us);
/* Release items and decoders without emitting (flow handed to HTTP/2). */
void h1_release(struct kc_dissect_core *c, struct kc_dissect_flow *f);
unsigned h1_expire(struct kc_dissect_core *c, struct kc_dissect_flow *f, uint64_t now_us);
/* Does @p d[0..n) start like an HTTP/1 request (C2S) or response line?
 * 1 yes, 0 no, -1 too short to tell. */
int h1_probe(const uint8_t *d, size_t n, enum kc_dir dir);

/* memchr() for the short distances of header parsing (the next '\n', the
 * ':' of a header line: tens of bytes), inline: the libc call's dispatch and
 * set-up cost as much as the search. Reads only [p, p + n). */
static inline const uint8_t *kc_find_byte(const uint8_t *p, size_t n, uint8_t c)
{
#ifdef __SSE2__
	const __m128i needle = _mm_set1_epi8((char)c);
	size_t i = 0;

	if (n >= 16) {
		for (; i + 16 <= n; i += 16) {
			unsigned m = (unsigned)_mm_movemask_epi8(
				_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i)), needle));

			if (m != 0)
				return p + i + __builtin_ctz(m);
		}
		if (i < n) {
			/* The last 16 bytes, overlapping what was searched. */
			unsigned m = (unsigned)_mm_movemask_epi8(
				_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + n - 16)), needle));

			return m != 0 ? p + n - 16 + __builtin_ctz(m) : NULL;
		}
		return NULL;
	}
	for (; i < n; i++)
		if (p[i] == c)
			return p + i;
	return NULL;
#else
	return memchr(p, c, n);
#endif
}

/* First byte of [p, p + n) equal to @p c1 or @p c2, as kc_find_byte(). */
static inline const uint8_t *kc_find_byte2(const uint8_t *p, size_t n, uint8_t c1, uint8_t c2)
{
#ifdef __SSE2__
	const __m128i n1 = _mm_set1_epi8((char)c1), n2 = _mm_set1_epi8((char)c2);
	size_t i = 0;

	if (n >= 16) {
		for (; i + 16 <= n; i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(p + i));
			unsigned m = (unsigned)_mm_movemask_epi8(
				_mm_or_si128(_mm_cmpeq_epi8(v, n1), _mm_cmpeq_epi8(v, n2)));

			if (m != 0)
				return p + i + __builtin_ctz(m);
		}
		if (i < n) {
			__m128i v = _mm_loadu_si128((const __m128i *)(p + n - 16));
			unsigned m = (unsigned)_mm_movemask_epi8(
				_mm_or_si128(_mm_cmpeq_epi8(v, n1), _mm_cmpeq_epi8(v, n2)));

			return m != 0 ? p + n - 16 + __builtin_ctz(m) : NULL;
		}
		return NULL;
	}
	for (; i < n; i++)
		if (p[i] == c1 || p[i] == c2)
			return p + i;
	return NULL;
#else
	for (size_t i = 0; i < n; i++)
		if (p[i] == c1 || p[i] == c2)
			return p + i;
	return NULL;
#endif
}

/* A parse result for NEED_MORE-free returns (needed 0). Built as whole
 * words: field-by-field stores of the 12-byte struct, then the 8-byte load
 * that returns it in a register, defeat store forwarding (a stall on every
 * h1_feed return, measured). */
static inline struct kc_parse_res kc_parse_res_make(uint8_t status, size_t consumed)
{
	struct kc_parse_res r;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t lo = (uint64_t)status | (uint64_t)(uint32_t)consumed << 32;

	_Static_assert(offsetof(struct kc_parse_res, status) == 0 &&
		       offsetof(struct kc_parse_res, consumed) == 4 &&
		       offsetof(struct kc_parse_res, needed) == 8, "kc_parse_res layout");
	memcpy(&r, &lo, sizeof(lo));
	r.needed = 0;
#else
	r = (struct kc_parse_res){ .status = status, .consumed = (uint32_t)consumed, .needed = 0 };
#endif
	return r;
}

#endif /* KC_DISSECT_INTERNAL_H */
