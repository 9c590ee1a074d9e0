/*
 * Test helpers shared by the HTTP/2 tests and fuzz replays: an assert
 * harness, a frame and HPACK block builder, a dispatcher-like pump that keeps
 * unconsumed bytes as lib/dissect does, and an item collector.
 */
#ifndef H2_TEST_UTIL_H
#define H2_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_http2.h"

static int n_pass __attribute__((unused)), n_fail __attribute__((unused));

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (cond) {                                                            \
			n_pass++;                                                      \
		} else {                                                               \
			n_fail++;                                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                      \
	} while (0)

/* ---- byte buffers ---- */
struct buf {
	uint8_t *p;
	size_t len, cap;
};

static inline void buf_put(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;

		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			abort();
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, d, n);
	b->len += n;
}

static inline void buf_u8(struct buf *b, uint8_t v)
{
	buf_put(b, &v, 1);
}

static inline void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- HPACK block builder (RFC 7541 5.1/6.x) ---- */
static inline void hp_int(struct buf *b, uint8_t first, unsigned prefix_bits, uint32_t v)
{
	uint32_t max = (1u << prefix_bits) - 1u;

	if (v < max) {
		buf_u8(b, (uint8_t)(first | v));
		return;
	}
	buf_u8(b, (uint8_t)(first | max));
	v -= max;
	while (v >= 128) {
		buf_u8(b, (uint8_t)(0x80 | (v & 0x7f)));
		v >>= 7;
	}
	buf_u8(b, (uint8_t)v);
}

static inline void hp_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	hp_int(b, 0x00, 7, (uint32_t)n);
	buf_put(b, s, n);
}

/* 6.1 indexed */
static inline void hp_idx(struct buf *b, uint32_t idx)
{
	hp_int(b, 0x80, 7, idx);
}

/* 6.2.2 literal without indexing, new name */
static inline void hp_lit(struct buf *b, const char *name, const char *value)
{
	buf_u8(b, 0x00);
	hp_str(b, name);
	hp_str(b, value);
}

/* 6.2.2 literal without indexing, indexed name */
static inline void hp_lit_iname(struct buf *b, uint32_t idx, const char *value)
{
	hp_int(b, 0x00, 4, idx);
	hp_str(b, value);
}

/* 6.2.1 literal with incremental indexing, new name */
static inline void hp_inc(struct buf *b, const char *name, const char *value)
{
	buf_u8(b, 0x40);
	hp_str(b, name);
	hp_str(b, value);
}

/* ---- frames ---- */
static inline void frame(struct buf *b, uint8_t type, uint8_t flags, uint32_t sid, const void *pl,
		  size_t len)
{
	uint8_t h[9] = { (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, type, flags,
			 (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8),
			 (uint8_t)sid };

	buf_put(b, h, 9);
	buf_put(b, pl, len);
}

static inline void preface(struct buf *b)
{
	buf_put(b, KC_HTTP2_PREFACE, KC_HTTP2_PREFACE_LEN);
	frame(b, 0x4, 0, 0, NULL, 0); /* empty SETTINGS */
}

static inline void headers(struct buf *b, uint32_t sid, int end_stream, const struct buf *blk)
{
	frame(b, 0x1, (uint8_t)(0x4 | (end_stream ? 0x1 : 0)), sid, blk->p, blk->len);
}

static inline void data(struct buf *b, uint32_t sid, int end_stream, const char *s)
{
	frame(b, 0x0, end_stream ? 0x1 : 0, sid, s, strlen(s));
}

/* ---- item collector ---- */
#define MAX_ITEMS 128

struct sink {
	struct kc_item *items;
	unsigned n;
};

static inline void sink_init(struct sink *s)
{
	s->items = calloc(MAX_ITEMS, sizeof(struct kc_item));
	s->n = 0;
	if (s->items == NULL)
		abort();
}

static inline void sink_free(struct sink *s)
{
	free(s->items);
}

static inline void sink_emit(void *ctx, const struct kc_item *it)
{
	struct sink *s = ctx;

	if (s->n < MAX_ITEMS)
		memcpy(&s->items[s->n], it, sizeof(*it));
	s->n++;
}

/* view as a NUL-terminated copy (static ring of buffers) */
static inline const char *V(const struct kc_item *it, struct kc_str s)
{
	static char bufs[8][4096];
	static unsigned k;
	char *o = bufs[k++ % 8];
	size_t n = s.len < 4095 ? s.len : 4095;

	memcpy(o, kc_item_str(it, s), n);
	o[n] = '\0';
	return o;
}

/* header value by exact (canonical) name, "" when absent */
static inline const char *H(const struct kc_item *it, int resp, const char *name)
{
	const struct kc_item_http *h = &it->u.http;
	const struct kc_kv *kv = resp ? h->resp_headers : h->req_headers;
	unsigned n = resp ? h->n_resp_headers : h->n_req_headers;

	for (unsigned i = 0; i < n; i++)
		if (strcmp(V(it, kv[i].name), name) == 0)
			return V(it, kv[i].value);
	return "";
}

/* ---- dispatcher-like pump ---- */
struct pump {
	struct kc_http2_flow *f;
	struct buf pend[2];
	struct sink sink;
	struct kc_http2_stats st;
	struct kc_flow_info info;
	int error;
	void *mem;
};

static inline void pump_init(struct pump *p, enum kc_http2_mode mode)
{
	memset(p, 0, sizeof(*p));
	p->mem = aligned_alloc(64, (kc_http2_flow_size() + 63) & ~(size_t)63);
	if (p->mem == NULL)
		abort();
	p->f = kc_http2_flow_init(p->mem, kc_http2_flow_size(), mode, &p->st);
	sink_init(&p->sink);
	p->info.stream_id = 77;
	p->info.family = 4;
	p->info.l4 = 6;
	p->info.src_port = 40000;
	p->info.dst_port = 80;
}

static inline void pump_free(struct pump *p)
{
	buf_free(&p->pend[0]);
	buf_free(&p->pend[1]);
	sink_free(&p->sink);
	free(p->mem);
}

/* Feed @p len bytes of direction @p d; keeps what was not consumed. */
static inline void pump_feed(struct pump *p, int d, const uint8_t *data, size_t len, uint64_t ts)
{
	struct buf *pb = &p->pend[d];

	if (p->error)
		return;
	buf_put(pb, data, len);
	for (;;) {
		struct kc_parse_res r;

		if (pb->len == 0)
			return;
		r = kc_http2_feed(p->f, (enum kc_dir)d, pb->p, pb->len, ts, &p->info, sink_emit,
				  &p->sink, &p->st);
		if (r.consumed > pb->len)
			abort();
		memmove(pb->p, pb->p + r.consumed, pb->len - r.consumed);
		pb->len -= r.consumed;
		if (r.status == KC_PARSE_ERROR) {
			p->error = 1;
			return;
		}
		if (r.status == KC_PARSE_NEED_MORE) {
			if (r.consumed != 0)
				abort(); /* contract: NEED_MORE consumes nothing */
			return;
		}
		if (r.consumed == 0)
			abort(); /* OK must make progress */
	}
}

static inline void pump_close(struct pump *p)
{
	kc_http2_close(p->f, 0, &p->info, sink_emit, &p->sink, &p->st);
}

#endif /* H2_TEST_UTIL_H */
