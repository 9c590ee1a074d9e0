/*
 * Retention (lib/engine/engine_retain.c) against a model: while a filter is
 * set and a stream has not matched, its packets are held, and released
 * oldest first when they fall out of the time window or past the per-stream
 * bound. The engine keeps a lower bound of each stream's oldest time so it
 * need not read that (cold) packet on every arrival; the random walks here,
 * with timestamps that also go backwards, check that the packets it releases,
 * and their order, are exactly the model's.
 *
 * The TCP walks add what UDP has not: the handshake is pinned (at most
 * MAX_PINNED packets, never evicted by a bound, kept past the per-stream
 * packet bound), a small pool makes the per-core bound evict the oldest
 * unpinned packet of all streams, and the end (kc_engine_destroy) releases
 * each stream's list whole, in order.
 */
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kc_engine.h"
#include "kct.h"
#include "pktbuild.h"

#define N_FLOWS 5
#define N_PKTS 20000
#define MAX_Q 4096

/* The model: each stream's held packets, oldest first. */
struct mflow {
	uint32_t id[MAX_Q];
	uint64_t ts[MAX_Q];
	uint32_t bytes[MAX_Q];
	uint32_t head, n;
	uint64_t total;
};

static struct mflow model[N_FLOWS];
static uint32_t want[N_PKTS * 2], got[N_PKTS * 2];
static uint32_t n_want, n_got;

static void on_record(void *ctx, const struct kc_flow *f, void *h, uint64_t ts)
{
	(void)ctx, (void)f, (void)h, (void)ts;
	CHECK(0); /* nothing matches: nothing is recorded */
}

static void on_release(void *ctx, void *h)
{
	(void)ctx;
	if (n_got < N_PKTS * 2)
		got[n_got++] = (uint32_t)(uintptr_t)h;
}

static void model_pop(struct mflow *m)
{
	want[n_want++] = m->id[m->head % MAX_Q];
	m->total -= m->bytes[m->head % MAX_Q];
	m->head++;
	m->n--;
}

/* What kc_engine_retain does, in the same order: window, then per-stream
 * bound, then hold. */
static void model_add(struct mflow *m, const struct kc_engine_retain_cfg *rc, uint32_t id, uint64_t ts,
		      uint32_t bytes)
{
	while (m->n > 0 && m->ts[m->head % MAX_Q] + rc->window_us < ts)
		model_pop(m);
	while (m->n > 0 && (m->n >= rc->max_pkts_stream || m->total + bytes > rc->max_bytes_stream))
		model_pop(m);
	m->id[(m->head + m->n) % MAX_Q] = id;
	m->ts[(m->head + m->n) % MAX_Q] = ts;
	m->bytes[(m->head + m->n) % MAX_Q] = bytes;
	m->n++;
	m->total += bytes;
}

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static uint32_t udp_frame(uint8_t *out, unsigned flow, uint32_t len)
{
	static const uint8_t pay[600];
	struct pb b;
	uint32_t ip;

	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4(&b, IPPROTO_UDP, PB_A4, PB_B4);
	pb_udp(&b, (uint16_t)(40000 + flow), 9999, pay, len);
	pb_ip4_end(&b, ip);
	memcpy(out, b.d, b.n);
	return b.n;
}

/* An engine for the walks: a filter that never matches (every packet is
 * retained), the retention bounds @p rc, timeouts that never fire. NULL (a
 * failed check) on error. */
static struct kc_engine *walk_engine(const struct kc_engine_retain_cfg *rc, struct kc_kfl_prog **prog,
				     struct kc_engine_filter *flt, _Atomic(struct kc_engine_filter *) *fp)
{
	static const struct kc_engine_ops ops = { .record = on_record, .release = on_release };
	struct kc_engine_cfg ec;
	struct kc_engine *e;
	struct kc_err err;
	unsigned i;

	if (kc_kfl_compile("http and response.status == 599", prog, &err) != 0) {
		CHECK(0);
		return NULL;
	}
	flt->prog = *prog;
	flt->version = 1;
	atomic_init(fp, flt);
	memset(&ec, 0, sizeof(ec));
	ec.flow.capacity = 64;
	for (i = 0; i < KC_FLOW_T_MAX; i++)
		ec.flow.timeout_us[i] = 1ull << 50;
	ec.defrag.max_datagrams = 4;
	ec.defrag.timeout_us = 1000000;
	ec.filter = fp;
	ec.retain = *rc;
	e = kc_engine_create(&ec, &ops, NULL);
	CHECK(e != NULL);
	return e;
}

/* Queue packet @p id (a copy of @p frame, alive until its burst is done);
 * the engine gets the burst when it holds @p burst packets or at @p last. */
static void burst_add(struct kc_engine *e, struct kc_engine_pkt *pk, uint32_t *k, unsigned burst, bool last,
		      const uint8_t *frame, uint32_t flen, uint64_t ts, uint32_t id)
{
	struct kc_engine_pkt *p = &pk[*k];
	uint32_t j;

	p->data = malloc(flen);
	memcpy((uint8_t *)p->data, frame, flen);
	p->caplen = p->wire_len = flen;
	p->ts_us = ts;
	p->handle = (void *)(uintptr_t)id;
	if (++*k < burst && !last)
		return;
	kc_engine_rx(e, pk, *k);
	for (j = 0; j < *k; j++)
		free((void *)pk[j].data);
	*k = 0;
}

/* One random walk: @p burst packets go to each kc_engine_rx call. */
static void walk(const struct kc_engine_retain_cfg *rc, int back_jumps, unsigned burst)
{
	uint8_t frame[700];
	struct kc_kfl_prog *prog = NULL;
	struct kc_engine_filter flt;
	_Atomic(struct kc_engine_filter *) fp;
	struct kc_engine_pkt pk[32];
	struct kc_engine *e;
	uint64_t ts[N_FLOWS];
	uint32_t i, k = 0, f;

	memset(model, 0, sizeof(model));
	n_want = n_got = 0;
	e = walk_engine(rc, &prog, &flt, &fp);
	if (e == NULL)
		return;
	for (f = 0; f < N_FLOWS; f++)
		ts[f] = 1000000 + f;
	for (i = 0; i < N_PKTS; i++) {
		uint32_t len = 1 + rnd(500), id = i + 1, flen;
		uint64_t step;

		f = rnd(N_FLOWS);
		/* Mostly forward in small steps, now and then far forward (past
		 * the window), and with back_jumps sometimes backwards. */
		step = rnd(100) < 3 ? rc->window_us + rnd(1000) : rnd(rc->window_us / 4 + 1);
		if (back_jumps && rnd(100) < 10 && ts[f] > step)
			ts[f] -= step;
		else
			ts[f] += step;
		flen = udp_frame(frame, f, len);
		model_add(&model[f], rc, id, ts[f], flen);
		burst_add(e, pk, &k, burst, i + 1 == N_PKTS, frame, flen, ts[f], id);
	}
	/* Before the flush: every release so far was a window or bound
	 * eviction, in the model's order. */
	CHECK_EQ(n_got, n_want);
	CHECK(memcmp(got, want, sizeof(got[0]) * (n_got < n_want ? n_got : n_want)) == 0);
	CHECK_EQ(kc_engine_stats(e)->retain.expired_window + kc_engine_stats(e)->retain.evicted_stream, n_want);
	CHECK(n_want > N_PKTS / 10); /* the walk did exercise evictions */
	kc_engine_destroy(e);
	kc_kfl_prog_free(prog);
}

/* ---- TCP: pinned handshake, per-core bound, release at the end ---------- */

#define MAX_PINNED 6
#define TQ 1024

struct tflow {
	uint32_t id[TQ];
	uint64_t ts[TQ];
	uint32_t bytes[TQ];
	uint8_t pinned[TQ];
	uint32_t n, n_pinned;
	uint64_t total;
	int state; /* 0 new, 1 SYN seen, 2 SYN-ACK seen, 3 established */
};

static struct tflow tmodel[N_FLOWS];
static uint8_t flow_of[N_PKTS + 1];

static int t_first_unpinned(const struct tflow *m)
{
	for (uint32_t k = 0; k < m->n; k++)
		if (!m->pinned[k])
			return (int)k;
	return -1;
}

static void t_remove(struct tflow *m, uint32_t k, int to_want)
{
	if (to_want)
		want[n_want++] = m->id[k];
	m->total -= m->bytes[k];
	m->n_pinned -= m->pinned[k];
	memmove(&m->id[k], &m->id[k + 1], (m->n - k - 1) * sizeof(m->id[0]));
	memmove(&m->ts[k], &m->ts[k + 1], (m->n - k - 1) * sizeof(m->ts[0]));
	memmove(&m->bytes[k], &m->bytes[k + 1], (m->n - k - 1) * sizeof(m->bytes[0]));
	memmove(&m->pinned[k], &m->pinned[k + 1], (m->n - k - 1) * sizeof(m->pinned[0]));
	m->n--;
}

static uint32_t t_held(void)
{
	uint32_t n = 0;

	for (unsigned f = 0; f < N_FLOWS; f++)
		n += tmodel[f].n;
	return n;
}

/* kc_engine_retain's order: window, per-stream bound, pool, then hold or
 * refuse. */
static void t_model_add(unsigned f, const struct kc_engine_retain_cfg *rc, uint32_t id, uint64_t ts,
			uint32_t bytes, int pin)
{
	struct tflow *m = &tmodel[f];
	int k;

	if (pin && m->n_pinned >= MAX_PINNED)
		pin = 0;
	while ((k = t_first_unpinned(m)) >= 0 && m->ts[k] + rc->window_us < ts)
		t_remove(m, (uint32_t)k, 1);
	while ((m->n >= rc->max_pkts_stream || m->total + bytes > rc->max_bytes_stream) &&
	       (k = t_first_unpinned(m)) >= 0)
		t_remove(m, (uint32_t)k, 1);
	if (t_held() >= rc->max_pkts_core) {
		/* The oldest unpinned packet of all: the smallest id. */
		int bf = -1, bk = -1;

		for (unsigned g = 0; g < N_FLOWS; g++) {
			int gk = t_first_unpinned(&tmodel[g]);

			if (gk >= 0 && (bf < 0 || tmodel[g].id[gk] < tmodel[bf].id[bk])) {
				bf = (int)g;
				bk = gk;
			}
		}
		if (bf >= 0)
			t_remove(&tmodel[bf], (uint32_t)bk, 1);
	}
	if (t_held() >= rc->max_pkts_core || (!pin && m->n >= rc->max_pkts_stream)) {
		want[n_want++] = id;
		return;
	}
	CHECK(m->n < TQ);
	m->id[m->n] = id;
	m->ts[m->n] = ts;
	m->bytes[m->n] = bytes;
	m->pinned[m->n] = (uint8_t)pin;
	m->n_pinned += (uint32_t)pin;
	m->n++;
	m->total += bytes;
}

static uint32_t tcp_frame(uint8_t *out, unsigned flow, int from_server, uint8_t flags, uint32_t len)
{
	static const uint8_t pay[600];
	struct pb b;
	uint32_t ip;

	pb_init(&b);
	pb_eth(&b, 0x0800);
	if (from_server) {
		ip = pb_ip4(&b, IPPROTO_TCP, PB_B4, PB_A4);
		pb_tcp(&b, 80, (uint16_t)(40000 + flow), 5000, 1001, flags, 5, pay, len);
	} else {
		ip = pb_ip4(&b, IPPROTO_TCP, PB_A4, PB_B4);
		pb_tcp(&b, (uint16_t)(40000 + flow), 80, 1000, 5001, flags, 5, pay, len);
	}
	pb_ip4_end(&b, ip);
	memcpy(out, b.d, b.n);
	return b.n;
}

/* One TCP walk: each stream starts with a handshake of random length (SYN
 * and SYN-ACK repeated, so some exceed MAX_PINNED), then data and ACKs. */
static void tcp_walk(const struct kc_engine_retain_cfg *rc, unsigned burst)
{
	uint8_t frame[700];
	struct kc_kfl_prog *prog = NULL;
	struct kc_engine_filter flt;
	_Atomic(struct kc_engine_filter *) fp;
	struct kc_engine_pkt pk[32];
	struct kc_engine *e;
	uint64_t ts[N_FLOWS];
	uint32_t i, k = 0, f, pos, n_pinned_seen = 0;

	memset(tmodel, 0, sizeof(tmodel));
	n_want = n_got = 0;
	e = walk_engine(rc, &prog, &flt, &fp);
	if (e == NULL)
		return;
	for (f = 0; f < N_FLOWS; f++)
		ts[f] = 1000000 + f;
	for (i = 0; i < N_PKTS; i++) {
		uint32_t id = i + 1, flen, len = 0;
		struct tflow *m;
		int from_server = 0, pin;
		uint8_t flags;
		uint64_t step;

		f = rnd(N_FLOWS);
		m = &tmodel[f];
		if (m->state < 3) {
			uint32_t r = rnd(10);

			/* SYN, SYN-ACK (from the server), or the ACK that
			 * ends the handshake. */
			if (r < 4) {
				flags = 0x02;
			} else if (r < 8) {
				flags = 0x12;
				from_server = 1;
			} else {
				flags = 0x10;
			}
		} else if (rnd(3) == 0) {
			flags = 0x10;
			from_server = (int)rnd(2);
		} else {
			flags = 0x18;
			len = 1 + rnd(500);
			from_server = (int)rnd(2);
		}
		/* The engine pins while the flow is not established yet
		 * (its state before this packet). */
		pin = m->state < 3;
		if (flags == 0x02 && m->state == 0)
			m->state = 1;
		else if (flags == 0x12 && m->state < 2)
			m->state = 2;
		else if (!(flags & 0x02))
			m->state = 3;
		step = rnd(100) < 3 ? rc->window_us + rnd(1000) : rnd(rc->window_us / 4 + 1);
		if (rnd(100) < 10 && ts[f] > step)
			ts[f] -= step;
		else
			ts[f] += step;
		flen = tcp_frame(frame, f, from_server, flags, len);
		flow_of[id] = (uint8_t)f;
		n_pinned_seen += pin && m->n_pinned < MAX_PINNED;
		t_model_add(f, rc, id, ts[f], flen, pin);
		burst_add(e, pk, &k, burst, i + 1 == N_PKTS, frame, flen, ts[f], id);
	}
	CHECK_EQ(n_got, n_want);
	CHECK(memcmp(got, want, sizeof(got[0]) * (n_got < n_want ? n_got : n_want)) == 0);
	CHECK(n_want > N_PKTS / 10);
	CHECK(n_pinned_seen > 0);
	/* The end: every stream's list comes back whole, oldest first, one
	 * stream after another (in the flow table's order). */
	kc_engine_destroy(e);
	CHECK_EQ(n_got, n_want + t_held());
	pos = n_want;
	while (pos < n_got) {
		struct tflow *m = &tmodel[flow_of[got[pos]]];

		CHECK(m->n > 0);
		if (m->n == 0)
			break;
		CHECK(pos + m->n <= n_got);
		CHECK(memcmp(&got[pos], m->id, m->n * sizeof(got[0])) == 0);
		pos += m->n;
		m->n = 0;
	}
	kc_kfl_prog_free(prog);
}

int main(void)
{
	struct kc_engine_retain_cfg rc = {
		.window_us = 5000, .max_pkts_stream = 1u << 20, .max_bytes_stream = 1ull << 40,
		.max_pkts_core = 1u << 16,
	};

	walk(&rc, 0, 1);
	walk(&rc, 1, 1);
	walk(&rc, 1, 32);
	/* The per-stream bounds remove the first packet too. */
	rc.max_pkts_stream = 7;
	walk(&rc, 1, 32);
	rc.max_pkts_stream = 1u << 20;
	rc.max_bytes_stream = 2000;
	walk(&rc, 1, 7);

	rc.max_bytes_stream = 1ull << 40;
	tcp_walk(&rc, 1);
	tcp_walk(&rc, 32);
	/* Below the pinned prefix: pinned packets are kept past the bound,
	 * unpinned ones are refused. */
	rc.max_pkts_stream = 4;
	tcp_walk(&rc, 32);
	rc.max_pkts_stream = 9;
	tcp_walk(&rc, 5);
	/* A pool smaller than the streams' needs: the per-core bound evicts
	 * the oldest unpinned packet of all. */
	rc.max_pkts_stream = 1u << 20;
	rc.max_pkts_core = 40;
	tcp_walk(&rc, 32);
	rc.max_pkts_core = 12;
	tcp_walk(&rc, 1);
	rc.window_us = 1ull << 40;
	rc.max_pkts_core = 64;
	tcp_walk(&rc, 32);
	return kct_done("test_retain");
}
