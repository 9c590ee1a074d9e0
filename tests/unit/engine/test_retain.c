/*
 * Retention (lib/engine/engine_retain.c) against a model: while a filter is
 * set and a stream has not matched, its packets are held, and released
 * oldest first when they fall out of the time window or past the per-stream
 * bound. The engine keeps a lower bound of each stream's oldest time so it
 * need not read that (cold) packet on every arrival; the random walks here,
 * with timestamps that also go backwards, check that the packets it releases,
 * and their order, are exactly the model's.
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

/* One random walk: @p burst packets go to each kc_engine_rx call. */
static void walk(const struct kc_engine_retain_cfg *rc, int back_jumps, unsigned burst)
{
	static const struct kc_engine_ops ops = { .record = on_record, .release = on_release };
	uint8_t frame[700];
	struct kc_kfl_prog *prog = NULL;
	struct kc_engine_filter flt;
	_Atomic(struct kc_engine_filter *) fp;
	struct kc_engine_cfg ec;
	struct kc_engine_pkt pk[32];
	struct kc_err err;
	struct kc_engine *e;
	uint64_t ts[N_FLOWS];
	uint32_t i, k = 0, f;

	memset(model, 0, sizeof(model));
	n_want = n_got = 0;
	if (kc_kfl_compile("http and response.status == 599", &prog, &err) != 0) {
		CHECK(0);
		return;
	}
	flt.prog = prog;
	flt.version = 1;
	atomic_init(&fp, &flt);
	memset(&ec, 0, sizeof(ec));
	ec.flow.capacity = 64;
	for (i = 0; i < KC_FLOW_T_MAX; i++)
		ec.flow.timeout_us[i] = 1ull << 50;
	ec.defrag.max_datagrams = 4;
	ec.defrag.timeout_us = 1000000;
	ec.filter = &fp;
	ec.retain = *rc;
	e = kc_engine_create(&ec, &ops, NULL);
	CHECK(e != NULL);
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
		/* Each packet its own copy, alive until its burst is done. */
		pk[k].data = malloc(flen);
		memcpy((uint8_t *)pk[k].data, frame, flen);
		pk[k].caplen = pk[k].wire_len = flen;
		pk[k].ts_us = ts[f];
		pk[k].handle = (void *)(uintptr_t)id;
		model_add(&model[f], rc, id, ts[f], flen);
		if (++k == burst || i + 1 == N_PKTS) {
			uint32_t j;

			kc_engine_rx(e, pk, k);
			for (j = 0; j < k; j++)
				free((void *)pk[j].data);
			k = 0;
		}
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
	return kct_done("test_retain");
}
