/*
 * The per-core dispatcher: pools, flows, protocol detection by content, the
 * per-direction pending buffer, gaps, L4 fallback items, timeouts.
 *
 * Pending buffer, for one direction (zero-copy when the dissector eats all):
 *
 *   caller's data:             [..........len..........]
 *   dissector consumed:        [====used====)
 *   remainder copied:                       [---rem---]  -> pend (<= pending_size)
 *
 *   next call, pend non-empty: pend = [---rem---|new bytes copied up to the
 *   buffer size], the dissector runs on it; as soon as it has consumed all of
 *   the old remainder, the copy is dropped and the rest of the caller's data
 *   is parsed in place again.
 */
#include <stdlib.h>
#include <string.h>

#include "dissect_internal.h"

/* A flow record is touched on every segment: keep it within two lines. */
static_assert(sizeof(struct kc_dissect_flow) <= 2 * KC_CACHE_LINE,
	      "struct kc_dissect_flow grew past two cache lines");

static const uint8_t h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN 24u

void kc_dissect_cfg_default(struct kc_dissect_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_flows = KC_DISSECT_DEFAULT_FLOWS;
	cfg->pending_bufs = KC_DISSECT_DEFAULT_PENDING_BUFS;
	cfg->pending_size = KC_DISSECT_DEFAULT_PENDING_SIZE;
	cfg->http_items = KC_DISSECT_DEFAULT_HTTP_ITEMS;
	cfg->http_pipeline = KC_DISSECT_HTTP_PIPELINE_MAX;
	cfg->inflaters = KC_DISSECT_DEFAULT_INFLATERS;
	cfg->dns_flows = KC_DISSECT_DEFAULT_FLOWS / 4;
	cfg->tls_flows = KC_DISSECT_DEFAULT_FLOWS / 4;
	cfg->h2_flows = KC_DISSECT_DEFAULT_H2_FLOWS;
	cfg->timeout_us = KC_DISSECT_DEFAULT_TIMEOUT_US;
	cfg->dns_timeout_us = KC_DISSECT_DEFAULT_DNS_TIMEOUT_US;
}

/* The cleanup ladder of create and the body of destroy. */
static void core_release(struct kc_dissect_core *core)
{
	if (core == NULL)
		return;
	pool_fini(&core->h2);
	pool_fini(&core->tls);
	pool_fini(&core->dns);
	pool_fini(&core->infl);
	pool_fini(&core->h1);
	pool_fini(&core->items);
	pool_fini(&core->pend);
	pool_fini(&core->flows);
	free(core);
}

void kc_dissect_core_destroy(struct kc_dissect_core *core)
{
	core_release(core);
}

struct kc_dissect_core *kc_dissect_core_create(const struct kc_dissect_cfg *cfg,
					       struct kc_err *err)
{
	struct kc_dissect_core *c;
	int rc = 0;

	if (cfg->max_flows == 0 || cfg->pending_bufs == 0 || cfg->pending_size < 256 ||
	    cfg->http_items == 0 || cfg->http_pipeline == 0 ||
	    cfg->http_pipeline > KC_DISSECT_HTTP_PIPELINE_MAX || cfg->timeout_us == 0 ||
	    cfg->dns_timeout_us == 0 ||
	    cfg->max_flows > (1u << 24)) {
		kc_err_set(err, -EINVAL,
			   "dissect: invalid size (flows %u, pending %u x %u B, http items %u, "
			   "pipeline %u (1..%u), timeouts %llu/%llu us)",
			   cfg->max_flows, cfg->pending_bufs, cfg->pending_size, cfg->http_items,
			   cfg->http_pipeline, KC_DISSECT_HTTP_PIPELINE_MAX,
			   (unsigned long long)cfg->timeout_us,
			   (unsigned long long)cfg->dns_timeout_us);
		errno = EINVAL;
		return NULL;
	}
	c = aligned_alloc(KC_CACHE_LINE, (sizeof(*c) + KC_CACHE_LINE - 1) &
					 ~(size_t)(KC_CACHE_LINE - 1));
	if (c == NULL)
		goto oom;
	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	rc |= pool_init(&c->flows, cfg->max_flows, sizeof(struct kc_dissect_flow));
	rc |= pool_init(&c->pend, cfg->pending_bufs, cfg->pending_size);
	rc |= pool_init(&c->items, cfg->http_items, sizeof(struct kc_item));
	/* One HTTP/1 state per flow at most; each holds only pointers. */
	rc |= pool_init(&c->h1, cfg->max_flows, sizeof(struct h1_flow));
	rc |= pool_init(&c->infl, cfg->inflaters, sizeof(struct inflater));
#ifdef KC_DISSECT_HAVE_DNS
	rc |= pool_init(&c->dns, cfg->dns_flows, sizeof(struct kc_dns_flow));
#endif
#ifdef KC_DISSECT_HAVE_TLS
	rc |= pool_init(&c->tls, cfg->tls_flows, sizeof(struct kc_tls_flow));
#endif
#ifdef KC_DISSECT_HAVE_HTTP2
	rc |= pool_init(&c->h2, cfg->h2_flows, kc_http2_flow_size());
#endif
	if (rc != 0)
		goto oom;
	return c;
oom:
	core_release(c);
	kc_err_set(err, -ENOMEM, "dissect: out of memory allocating pools");
	errno = ENOMEM;
	return NULL;
}

const struct kc_dissect_stats *kc_dissect_stats(const struct kc_dissect_core *core)
{
	return &core->st;
}

int kc_dissect_flow_proto(const struct kc_dissect_flow *flow)
{
	return flow->proto;
}

struct kc_dissect_flow *kc_dissect_flow_open(struct kc_dissect_core *core,
					     const struct kc_flow_info *fi,
					     kc_item_emit_fn emit, void *emit_ctx)
{
	struct kc_dissect_flow *f = pool_get(&core->flows);
	uint32_t slot;

	if (f == NULL) {
		core->st.flow_pool_empty++;
		return NULL;
	}
	/* The slot number comes from the address: no start-up pass writes
	 * every flow of the pool (it stays untouched memory until used). */
	slot = (uint32_t)(((uint8_t *)f - core->flows.mem) / core->flows.sz);
	memset(f, 0, sizeof(*f));
	f->slot = slot;
	f->core = core;
	f->emit = emit;
	f->emit_ctx = emit_ctx;
	f->fi = *fi;
	f->proto = -1;
	f->in_use = 1;
	core->st.flows_opened++;
	return f;
}

/* ---- emission ----------------------------------------------------------- */

void dissect_emit(struct kc_dissect_flow *f, struct kc_item *it)
{
	it->index = f->next_index++;
	it->worker = f->fi.worker;
	if (it->proto < KC_ITEM_PROTO_MAX)
		f->core->st.proto[it->proto].items++;
	f->emit(f->emit_ctx, it);
}

void dissect_emit_foreign(void *flow_ctx, const struct kc_item *it)
{
	struct kc_dissect_flow *f = flow_ctx;
	struct kc_item *s = &f->core->scratch;

	/* Other dissectors number items themselves; the stream's numbering
	 * is ours (a flow may change dissector after an upgrade), so the
	 * item is copied only when the numbers differ. */
	if (it->index == f->next_index && it->worker == f->fi.worker) {
		f->next_index++;
		if (it->proto < KC_ITEM_PROTO_MAX)
			f->core->st.proto[it->proto].items++;
		f->emit(f->emit_ctx, it);
		return;
	}
	memcpy(s, it, offsetof(struct kc_item, arena) );
	memcpy(s->arena, it->arena, it->arena_used);
	dissect_emit(f, s);
}

static void emit_l4(struct kc_dissect_flow *f, enum kc_dir dir, uint32_t len, uint64_t ts_us)
{
	struct kc_item *it = &f->core->scratch;

	kc_item_reset(it, f->fi.l4 == 17 ? KC_ITEM_UDP : KC_ITEM_TCP);
	kc_item_set_flow(it, &f->fi);
	it->ts_us = ts_us;
	if (dir == KC_DIR_C2S)
		it->req_size = len;
	else
		it->resp_size = len;
	dissect_emit(f, it);
}

/* ---- protocol states ---------------------------------------------------- */

static void release_state(struct kc_dissect_core *c, struct kc_dissect_flow *f)
{
	if (f->ps == NULL)
		return;
	switch (f->proto) {
	case KC_ITEM_HTTP:
		h1_release(c, f);
		pool_put(&c->h1, f->ps);
		break;
#ifdef KC_DISSECT_HAVE_DNS
	case KC_ITEM_DNS:
		pool_put(&c->dns, f->ps);
		break;
#endif
#ifdef KC_DISSECT_HAVE_TLS
	case KC_ITEM_TLS:
		pool_put(&c->tls, f->ps);
		break;
#endif
#ifdef KC_DISSECT_HAVE_HTTP2
	case KC_ITEM_HTTP2:
		pool_put(&c->h2, f->ps);
		break;
#endif
	default:
		break;
	}
	f->ps = NULL;
}

/* Give the flow to no dissector: it gets its L4 item now (once). */
static void become_l4(struct kc_dissect_flow *f, enum kc_dir dir, uint32_t len, uint64_t ts_us)
{
	release_state(f->core, f);
	f->proto = f->fi.l4 == 17 ? KC_ITEM_UDP : KC_ITEM_TCP;
	f->core->st.proto[f->proto].flows++;
	if (f->next_index == 0)
		emit_l4(f, dir, len, ts_us);
}

/* Allocate the state of @p proto; false (counted) when its pool is empty. */
static bool claim(struct kc_dissect_core *c, struct kc_dissect_flow *f, enum kc_item_proto proto,
		  int h2mode)
{
	void *ps = NULL;

	switch (proto) {
	case KC_ITEM_HTTP:
		if (!h1_flow_init(c, f))
			goto empty;
		f->proto = KC_ITEM_HTTP;
		break;
#ifdef KC_DISSECT_HAVE_DNS
	case KC_ITEM_DNS:
		ps = pool_get(&c->dns);
		if (ps == NULL)
			goto empty;
		kc_dns_flow_init(ps);
		f->ps = ps;
		f->proto = KC_ITEM_DNS;
		break;
#endif
#ifdef KC_DISSECT_HAVE_TLS
	case KC_ITEM_TLS:
		ps = pool_get(&c->tls);
		if (ps == NULL)
			goto empty;
		kc_tls_flow_init(ps);
		f->ps = ps;
		f->proto = KC_ITEM_TLS;
		break;
#endif
#ifdef KC_DISSECT_HAVE_HTTP2
	case KC_ITEM_HTTP2:
		ps = pool_get(&c->h2);
		if (ps == NULL)
			goto empty;
		if (kc_http2_flow_init(ps, c->h2.sz, h2mode, &c->st.h2) == NULL) {
			pool_put(&c->h2, ps);
			goto empty;
		}
		f->ps = ps;
		f->proto = KC_ITEM_HTTP2;
		break;
#endif
	default:
		c->st.no_dissector++;
		return false;
	}
	(void)ps;
	(void)h2mode;
	c->st.proto[proto].flows++;
	return true;
empty:
	c->st.proto[proto].state_pool_empty++;
	return false;
}

static int dns_port(const struct kc_flow_info *fi)
{
	return fi->dst_port == 53 || fi->dst_port == 5353 || fi->src_port == 53 ||
	       fi->src_port == 5353;
}

enum { DET_GIVEUP = -3, DET_MORE = -2, DET_NONE = -1 };

/* Which protocol do the first bytes of a TCP direction announce? */
static int detect_tcp(const struct kc_dissect_flow *f, enum kc_dir dir, const uint8_t *d,
		      size_t n)
{
	int more = 0;
	int r;

	if (n == 0)
		return DET_MORE;
	/* HTTP/2 prior knowledge: the 24-byte client preface (RFC 9113 3.4). */
	if (dir == KC_DIR_C2S && memcmp(d, h2_preface, KC_MIN(n, (size_t)H2_PREFACE_LEN)) == 0) {
		if (n < H2_PREFACE_LEN)
			more = 1;
		else
			return KC_ITEM_HTTP2;
	}
	/* TLS: handshake record, version 3.x, then a hello. */
	if (d[0] == 0x16) {
		if (n < 6)
			more = 1;
#ifdef KC_DISSECT_HAVE_TLS
		else if (kc_tls_probe(d, n))
			return KC_ITEM_TLS;
#else
		else if (d[1] == 3 && d[2] <= 4 && (d[5] == 1 || d[5] == 2))
			return KC_ITEM_TLS;
#endif
	}
	/* DNS over TCP: ports are the hint, the header probe decides. */
	if (dns_port(&f->fi)) {
		if (n < 14) {
			more = 1;
		} else {
#ifdef KC_DISSECT_HAVE_DNS
			if (kc_dns_probe(d, n, true))
				return KC_ITEM_DNS;
#else
			return KC_ITEM_DNS;
#endif
		}
	}
	{
		/* RFC 9112 2.2: a client may send empty lines before a
		 * request; look past a few. */
		size_t k = 0;

		while (k < n && k < 8 && (d[k] == '\r' || d[k] == '\n'))
			k++;
		r = k == n ? -1 : h1_probe(d + k, n - k, dir);
	}
	if (r == 1 && !more)
		return KC_ITEM_HTTP;
#ifdef KC_DISSECT_HAVE_HTTP2
	/* HTTP/2 joined mid-way: plausible frames from the first byte. The
	 * mode travels in the bits above the protocol. */
	if (r == 0 && !more && kc_http2_probe_frames(d, n) == KC_HTTP2_PROBE_YES)
		return KC_ITEM_HTTP2 | (KC_HTTP2_MODE_MIDSTREAM << 8);
#endif
	if (r == -1 || more)
		return n >= KC_DISSECT_DETECT_MAX ? (r == 1 ? KC_ITEM_HTTP : DET_GIVEUP) : DET_MORE;
	return DET_NONE;
}

/* ---- feeding ------------------------------------------------------------ */

static struct kc_parse_res mkres(uint8_t st, size_t consumed)
{
	return kc_parse_res_make(st, consumed);
}

static void handle_switch(struct kc_dissect_core *c, struct kc_dissect_flow *f);

/* One call into the flow's dissector. */
static struct kc_parse_res feed_once(struct kc_dissect_core *c, struct kc_dissect_flow *f,
				     enum kc_dir dir, const uint8_t *d, size_t n, uint64_t ts_us)
{
	switch (f->proto) {
	case -1: {
		int p = detect_tcp(f, dir, d, n);

		if (p == DET_MORE)
			return mkres(KC_PARSE_NEED_MORE, 0);
		if (p == DET_NONE || p == DET_GIVEUP) {
			if (p == DET_GIVEUP)
				c->st.detect_undecided++;
			become_l4(f, dir, (uint32_t)n, ts_us);
		} else if (!claim(c, f, (enum kc_item_proto)(p & 0xff), p >> 8)) {
			become_l4(f, dir, (uint32_t)n, ts_us);
		}
		return mkres(KC_PARSE_OK, 0);
	}
	case KC_ITEM_HTTP:
		return h1_feed(c, f, dir, d, n, ts_us);
#ifdef KC_DISSECT_HAVE_DNS
	case KC_ITEM_DNS:
		return kc_dns_feed_tcp(f->ps, dir, d, n, ts_us, &f->fi, dissect_emit_foreign, f,
				       &c->st.dns);
#endif
#ifdef KC_DISSECT_HAVE_TLS
	case KC_ITEM_TLS:
		if (kc_tls_flow_done(f->ps))
			return mkres(KC_PARSE_OK, n);
		return kc_tls_feed(f->ps, dir, d, n, ts_us, &f->fi, dissect_emit_foreign, f,
				   &c->st.tls);
#endif
#ifdef KC_DISSECT_HAVE_HTTP2
	case KC_ITEM_HTTP2:
		return kc_http2_feed(f->ps, dir, d, n, ts_us, &f->fi, dissect_emit_foreign, f,
				     &c->st.h2);
#endif
	default:
		/* L4-only flows: nothing to look at. */
		return mkres(KC_PARSE_OK, n);
	}
}

/* Run the dissector over @p d until it needs more or stops.
 * @return bytes consumed (all of them when the direction stopped). */
static size_t run(struct kc_dissect_core *c, struct kc_dissect_flow *f, enum kc_dir dir,
		  const uint8_t *d, size_t n, uint64_t ts_us)
{
	size_t off = 0;

	while (off < n && !f->stopped[dir]) {
		int before = f->proto;
		struct kc_parse_res r = feed_once(c, f, dir, d + off, n - off, ts_us);

		if (r.consumed > n - off)
			r.consumed = (uint32_t)(n - off);
		if (r.status == KC_PARSE_ERROR) {
			/* Claimed by content, refused by the parser: count it and
			 * fall back so the stream still gets its L4 item. */
			if (f->proto >= 0 && f->proto < KC_ITEM_PROTO_MAX)
				c->st.proto[f->proto].parse_errors++;
			f->stopped[dir] = 1;
			/* HTTP/2 without its HPACK state is lost both ways. */
			if (f->proto == KC_ITEM_HTTP2)
				f->stopped[!dir] = 1;
			/* Queued HTTP requests still deserve their timeout
			 * items at close; otherwise fall back to L4. */
			if (f->next_index == 0 &&
			    !(f->proto == KC_ITEM_HTTP && ((struct h1_flow *)f->ps)->qlen > 0))
				become_l4(f, dir, (uint32_t)(n - off), ts_us);
			c->st.bytes_after_stop += n - off;
			return n;
		}
		off += r.consumed;
		if (f->proto == KC_ITEM_HTTP && ((struct h1_flow *)f->ps)->switch_to != SW_NONE) {
			handle_switch(c, f);
			continue;
		}
		if (r.status == KC_PARSE_NEED_MORE)
			break;
		if (r.consumed == 0 && f->proto == before)
			break; /* no progress: wait for more bytes */
	}
	if (f->stopped[dir] && off < n) {
		c->st.bytes_after_stop += n - off;
		off = n;
	}
	return off;
}

static void pend_drop(struct kc_dissect_core *c, struct kc_dissect_flow *f, enum kc_dir dir)
{
	if (f->pend[dir] != NULL)
		pool_put(&c->pend, f->pend[dir]);
	f->pend[dir] = NULL;
	f->pend_len[dir] = 0;
}

static void gap_notify(struct kc_dissect_core *c, struct kc_dissect_flow *f, enum kc_dir dir,
		       uint64_t gap)
{
	if (gap == 0 || f->stopped[dir])
		return;
	if (f->proto >= 0 && f->proto < KC_ITEM_PROTO_MAX)
		c->st.proto[f->proto].gaps++;
	switch (f->proto) {
	case -1:
		/* Detection restarts on what follows. */
		break;
	case KC_ITEM_HTTP:
		h1_gap(c, f, dir, gap);
		break;
	case KC_ITEM_TCP:
	case KC_ITEM_UDP:
		break;
#ifdef KC_DISSECT_HAVE_DNS
	case KC_ITEM_DNS:
		/* Resynchronises on the next plausible length prefix. */
		kc_dns_flow_gap(f->ps, dir, &c->st.dns);
		break;
#endif
#ifdef KC_DISSECT_HAVE_HTTP2
	case KC_ITEM_HTTP2:
		/* In sync inside a frame payload, else resynchronises on
		 * the next plausible frame header (HPACK of that way partial). */
		kc_http2_gap(f->ps, dir, gap, &c->st.h2);
		break;
#endif
	default:
		/* TLS record framing cannot survive a hole. */
		f->stopped[dir] = 1;
		break;
	}
}

/* Keep @p n unconsumed bytes for the next call. */
static void stash(struct kc_dissect_core *c, struct kc_dissect_flow *f, enum kc_dir dir,
		  const uint8_t *d, size_t n)
{
	if (n > c->cfg.pending_size) {
		c->st.pending_overflow++;
		gap_notify(c, f, dir, n);
		return;
	}
	if (f->pend[dir] == NULL) {
		f->pend[dir] = pool_get(&c->pend);
		if (f->pend[dir] == NULL) {
			c->st.pending_pool_empty++;
			gap_notify(c, f, dir, n);
			return;
		}
	}
	c->st.pending_copies++;
	memcpy(f->pend[dir], d, n);
	f->pend_len[dir] = (uint32_t)n;
}

/* Bytes for a direction with a remainder pending: completed in the pending
 * buffer first. Out of line: most calls find nothing pending. */
static __attribute__((noinline)) void dir_feed(struct kc_dissect_core *c, struct kc_dissect_flow *f,
					       enum kc_dir dir, const uint8_t *data, size_t len, uint64_t ts_us)
{
	const size_t cap = c->cfg.pending_size;

	while (len > 0 && f->pend_len[dir] > 0) {
		uint8_t *pb = f->pend[dir];
		size_t pl = f->pend_len[dir];
		size_t n = KC_MIN(cap - pl, len);
		size_t used;

		if (f->stopped[dir]) {
			pend_drop(c, f, dir);
			break;
		}
		if (n == 0) {
			/* Full and the dissector still cannot move: policy
			 * "drop and resync", as after a gap. */
			c->st.pending_overflow++;
			pend_drop(c, f, dir);
			gap_notify(c, f, dir, pl);
			break;
		}
		memcpy(pb + pl, data, n);
		used = run(c, f, dir, pb, pl + n, ts_us);
		if (used >= pl) {
			/* The old remainder is gone: back to the caller's
			 * buffer, from the first byte not consumed. */
			pend_drop(c, f, dir);
			data += used - pl;
			len -= used - pl;
			break;
		}
		memmove(pb, pb + used, pl + n - used);
		f->pend_len[dir] = (uint32_t)(pl + n - used);
		data += n;
		len -= n;
	}
	if (len == 0 || f->pend_len[dir] > 0)
		return;
	{
		size_t used = run(c, f, dir, data, len, ts_us);

		if (used < len && !f->stopped[dir])
			stash(c, f, dir, data + used, len - used);
	}
}

/* After a 101 or a CONNECT tunnel: hand over to HTTP/2 or stop. */
static void handle_switch(struct kc_dissect_core *c, struct kc_dissect_flow *f)
{
	struct h1_flow *h = f->ps;
	uint8_t sw = h->switch_to;

	h->switch_to = SW_NONE;
	if (sw == SW_H2C) {
#ifdef KC_DISSECT_HAVE_HTTP2
		void *mem = pool_get(&c->h2);

		if (mem != NULL) {
			/* The upgraded request (queue head) becomes stream 1
			 * (RFC 9113 3.2 via RFC 7540 3.2); the 101 itself is
			 * not an item of its own. */
			const struct kc_item *req = h->qlen ? h->q[h->qhead].it : NULL;

			if (kc_http2_flow_init_upgrade(mem, c->h2.sz, req, &c->st.h2) != NULL) {
				c->st.http.upgrade_h2c++;
				h1_release(c, f);
				pool_put(&c->h1, h);
				f->ps = mem;
				f->proto = KC_ITEM_HTTP2;
				c->st.proto[KC_ITEM_HTTP2].flows++;
				/* Client bytes held back (the preface) go to
				 * HTTP/2 now. */
				if (f->pend_len[KC_DIR_C2S] > 0) {
					size_t pl = f->pend_len[KC_DIR_C2S];
					size_t used = run(c, f, KC_DIR_C2S, f->pend[KC_DIR_C2S], pl,
							  f->last_ts);

					if (used >= pl) {
						pend_drop(c, f, KC_DIR_C2S);
					} else {
						memmove(f->pend[KC_DIR_C2S], f->pend[KC_DIR_C2S] + used,
							pl - used);
						f->pend_len[KC_DIR_C2S] = (uint32_t)(pl - used);
					}
				}
				return;
			}
			pool_put(&c->h2, mem);
		}
#endif
		c->st.http.upgrade_h2c_nodis++;
		/* Still owed: the 101 exchange itself. */
		resp_done_101(c, f);
	}
	f->stopped[KC_DIR_C2S] = 1;
	f->stopped[KC_DIR_S2C] = 1;
	h->d[KC_DIR_C2S].state = H1_DEAD;
	h->d[KC_DIR_S2C].state = H1_DEAD;
	pend_drop(c, f, KC_DIR_C2S);
	pend_drop(c, f, KC_DIR_S2C);
}

/* Does the flow's dissector only skip bytes from now on? So it is for a
 * stream no dissector claimed (L4 item only) and for TLS once both hellos
 * are read or given up (kc_tls_flow_done()): feed_once() consumes whatever
 * it is given, without a counter, so run() need not be entered. Most bytes
 * of real traffic are such streams (TLS application data). */
static inline bool skips_all(const struct kc_dissect_flow *f)
{
#ifdef KC_DISSECT_HAVE_TLS
	if (f->proto == KC_ITEM_TLS)
		return kc_tls_flow_done(f->ps);
#endif
	return f->proto == KC_ITEM_TCP;
}

int kc_dissect_tcp_data(struct kc_dissect_core *core, struct kc_dissect_flow *flow,
			enum kc_dir dir, const uint8_t *data, uint32_t len,
			uint32_t gap_before, uint64_t ts_us)
{
	if ((unsigned)dir > KC_DIR_S2C || flow->fi.l4 == 17)
		return -EINVAL;
	if (gap_before > 0) {
		/* Bytes held back are incomplete and cannot be finished now:
		 * for the dissector they are part of the hole. */
		uint64_t gap = (uint64_t)gap_before + flow->pend_len[dir];

		pend_drop(core, flow, dir);
		gap_notify(core, flow, dir, gap);
	}
	if (len == 0)
		return 0;
	flow->had_data = 1;
	flow->last_ts = ts_us;
	if (flow->stopped[dir]) {
		core->st.bytes_after_stop += len;
		return 0;
	}
	if (kc_likely(flow->pend_len[dir] == 0)) {
		/* Nothing pending (dir_feed()'s last step): parse in place. */
		size_t used;

		if (flow->proto != KC_ITEM_HTTP && skips_all(flow))
			return 0;
		used = run(core, flow, dir, data, len, ts_us);

		if (used < len && !flow->stopped[dir])
			stash(core, flow, dir, data + used, len - used);
		return 0;
	}
	dir_feed(core, flow, dir, data, len, ts_us);
	return 0;
}

int kc_dissect_udp_datagram(struct kc_dissect_core *core, struct kc_dissect_flow *f,
			    enum kc_dir dir, const uint8_t *data, uint32_t len, uint64_t ts_us)
{
	if ((unsigned)dir > KC_DIR_S2C || f->fi.l4 != 17)
		return -EINVAL;
	f->had_data = 1;
	if (f->proto == -1) {
#ifdef KC_DISSECT_HAVE_DNS
		if (dns_port(&f->fi) && kc_dns_probe(data, len, false)) {
			if (!claim(core, f, KC_ITEM_DNS, 0))
				become_l4(f, dir, len, ts_us);
		} else {
			become_l4(f, dir, len, ts_us);
		}
#else
		if (dns_port(&f->fi))
			core->st.no_dissector++;
		become_l4(f, dir, len, ts_us);
#endif
	}
#ifdef KC_DISSECT_HAVE_DNS
	if (f->proto == KC_ITEM_DNS && !f->stopped[dir]) {
		struct kc_parse_res r = kc_dns_feed_udp(f->ps, dir, data, len, ts_us, &f->fi,
							dissect_emit_foreign, f, &core->st.dns);

		if (r.status == KC_PARSE_ERROR) {
			core->st.proto[KC_ITEM_DNS].parse_errors++;
			if (f->next_index == 0) {
				kc_dns_flow_close(f->ps, &f->fi, dissect_emit_foreign, f,
						  &core->st.dns);
				become_l4(f, dir, len, ts_us);
			}
		}
	}
#endif
	return 0;
}

/* kc_dissect_flow_prefetch() (kc_dissect.h) loads two cache lines. */
_Static_assert(sizeof(struct kc_dissect_flow) <= 2 * KC_CACHE_LINE,
	       "kc_dissect_flow_prefetch covers the flow");

void kc_dissect_flow_prefetch_state(const struct kc_dissect_flow *f)
{
	const char *ps;

	if (f == NULL || f->ps == NULL || f->proto != KC_ITEM_HTTP)
		return;
	/* What h1_close() reads: both directions and the queue's
	 * bookkeeping (the queue itself is nearly always empty by then). */
	ps = f->ps;
	__builtin_prefetch(ps);
	__builtin_prefetch(ps + offsetof(struct h1_flow, d[1]));
	__builtin_prefetch(ps + offsetof(struct h1_flow, qlen));
}

bool kc_dissect_flow_spent(const struct kc_dissect_flow *f)
{
	/* TLS emits one item (emit_item() is guarded by its `emitted` flag), an
	 * L4-only flow one (become_l4()), and the close adds the L4 item only
	 * to a flow that has none: after the first, nothing more comes. */
	return f->next_index > 0 &&
	       (f->proto == KC_ITEM_TLS || f->proto == KC_ITEM_TCP || f->proto == KC_ITEM_UDP);
}

void kc_dissect_flow_close(struct kc_dissect_core *core, struct kc_dissect_flow *f,
			   uint64_t ts_us)
{
	if (f == NULL)
		return;
	switch (f->proto) {
	case KC_ITEM_HTTP:
		h1_close(core, f, ts_us);
		break;
#ifdef KC_DISSECT_HAVE_DNS
	case KC_ITEM_DNS:
		kc_dns_flow_close(f->ps, &f->fi, dissect_emit_foreign, f, &core->st.dns);
		break;
#endif
#ifdef KC_DISSECT_HAVE_TLS
	case KC_ITEM_TLS:
		kc_tls_flow_close(f->ps, &f->fi, dissect_emit_foreign, f, &core->st.tls);
		break;
#endif
#ifdef KC_DISSECT_HAVE_HTTP2
	case KC_ITEM_HTTP2:
		kc_http2_close(f->ps, ts_us, &f->fi, dissect_emit_foreign, f, &core->st.h2);
		break;
#endif
	default:
		break;
	}
	/* Every stream with data yields at least one item. */
	if (f->had_data && f->next_index == 0)
		emit_l4(f, KC_DIR_C2S, f->pend_len[KC_DIR_C2S], ts_us);
	release_state(core, f);
	pend_drop(core, f, KC_DIR_C2S);
	pend_drop(core, f, KC_DIR_S2C);
	f->in_use = 0;
	core->st.flows_closed++;
	pool_put(&core->flows, f);
}

unsigned kc_dissect_tick(struct kc_dissect_core *core, uint64_t now_us, unsigned budget)
{
	unsigned emitted = 0;
	uint32_t n = core->cfg.max_flows;

	for (unsigned i = 0; i < budget && i < n; i++) {
		struct kc_dissect_flow *f = pool_at(&core->flows, core->tick_cursor);

		core->tick_cursor = (core->tick_cursor + 1) % n;
		if (!f->in_use || f->ps == NULL)
			continue;
		switch (f->proto) {
		case KC_ITEM_HTTP:
			emitted += h1_expire(core, f, now_us);
			break;
#ifdef KC_DISSECT_HAVE_DNS
		case KC_ITEM_DNS:
			emitted += kc_dns_flow_expire(f->ps, now_us, core->cfg.dns_timeout_us,
						      KC_DNS_PENDING_MAX, &f->fi,
						      dissect_emit_foreign, f, &core->st.dns);
			break;
#endif
#ifdef KC_DISSECT_HAVE_TLS
		case KC_ITEM_TLS:
			emitted += kc_tls_flow_expire(f->ps, now_us, core->cfg.timeout_us, &f->fi,
						      dissect_emit_foreign, f, &core->st.tls);
			break;
#endif
		default:
			break;
		}
	}
	return emitted;
}
