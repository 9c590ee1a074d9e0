/*
 * A TCP stream closed by FIN both ways ends its dissection at once
 * (lib/engine/engine.c, end_closed_stream), not when its flow leaves the
 * table: unmatched, its retained packets are released right then and its
 * last ACKs as they come; matched by an item that only the close completes,
 * it is recorded whole, final ACK included. A FIN pair with a byte still
 * missing waits for the retransmission; an RST ends nothing (a forged one
 * must not blind the dissector). A stream whose only possible item is out
 * (here the L4 item of a stream no dissector claims) is done with at once.
 */
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kc_engine.h"
#include "kct.h"
#include "pktbuild.h"

#define MAX_EV 64
#define CPORT 40000
#define SPORT 80
#define CISN 1000u
#define SISN 5000u

/* What the engine handed back, in order: handle numbers. */
static uint32_t released[MAX_EV], recorded[MAX_EV];
static unsigned n_released, n_recorded, n_items, n_matched;

static void on_record(void *ctx, const struct kc_flow *f, void *h, uint64_t ts)
{
	(void)ctx, (void)f, (void)ts;
	if (n_recorded < MAX_EV)
		recorded[n_recorded++] = (uint32_t)(uintptr_t)h;
}

static void on_release(void *ctx, void *h)
{
	(void)ctx;
	if (n_released < MAX_EV)
		released[n_released++] = (uint32_t)(uintptr_t)h;
}

static void on_item(void *ctx, const struct kc_item *item, bool matched, uint32_t version)
{
	(void)ctx, (void)item, (void)version;
	n_items++;
	n_matched += matched;
}

struct rig {
	struct kc_engine *e;
	struct kc_kfl_prog *prog;
	struct kc_engine_filter flt;
	_Atomic(struct kc_engine_filter *) fp;
	uint64_t ts;
};

static void rig_open(struct rig *r, const char *kfl)
{
	static const struct kc_engine_ops ops = { .record = on_record, .release = on_release, .item = on_item };
	struct kc_engine_cfg ec;
	struct kc_err err;
	unsigned i;

	n_released = n_recorded = n_items = n_matched = 0;
	memset(r, 0, sizeof(*r));
	CHECK(kc_kfl_compile(kfl, &r->prog, &err) == 0);
	r->flt.prog = r->prog;
	r->flt.version = 1;
	atomic_init(&r->fp, &r->flt);
	memset(&ec, 0, sizeof(ec));
	ec.flow.capacity = 16;
	for (i = 0; i < KC_FLOW_T_MAX; i++)
		ec.flow.timeout_us[i] = 10000000;
	ec.defrag.max_datagrams = 4;
	ec.defrag.timeout_us = 1000000;
	ec.dissect = true;
	kc_reasm_cfg_default(&ec.reasm);
	kc_dissect_cfg_default(&ec.dissect_cfg);
	ec.filter = &r->fp;
	ec.retain.window_us = 10000000;
	ec.retain.max_pkts_stream = 1000;
	ec.retain.max_bytes_stream = 1u << 20;
	ec.retain.max_pkts_core = 1000;
	r->e = kc_engine_create(&ec, &ops, NULL);
	CHECK(r->e != NULL);
	r->ts = 1700000000000000ull;
}

static void rig_close(struct rig *r)
{
	kc_engine_destroy(r->e);
	kc_kfl_prog_free(r->prog);
}

/* One segment as handle @p id, from the client when @p c2s. */
static void seg(struct rig *r, uint32_t id, int c2s, uint32_t seq, uint32_t ack, uint8_t flags, const char *data)
{
	struct pb b;
	struct kc_engine_pkt pk;
	uint32_t ip, len = data ? (uint32_t)strlen(data) : 0;

	pb_init(&b);
	pb_eth(&b, 0x0800);
	ip = pb_ip4(&b, IPPROTO_TCP, c2s ? PB_A4 : PB_B4, c2s ? PB_B4 : PB_A4);
	pb_tcp(&b, c2s ? CPORT : SPORT, c2s ? SPORT : CPORT, seq, ack, flags, 5, data, len);
	pb_ip4_end(&b, ip);
	pk.data = b.d;
	pk.caplen = pk.wire_len = b.n;
	pk.ts_us = r->ts += 1000;
	pk.handle = (void *)(uintptr_t)id;
	kc_engine_rx(r->e, &pk, 1);
}

#define A KC_TCP_ACK
static const char req[] = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
#define REQ_LEN ((uint32_t)sizeof(req) - 1)

static void handshake(struct rig *r)
{
	seg(r, 1, 1, CISN, 0, KC_TCP_SYN, NULL);
	seg(r, 2, 0, SISN, CISN + 1, KC_TCP_SYN | A, NULL);
	seg(r, 3, 1, CISN + 1, SISN + 1, A, NULL);
	seg(r, 4, 1, CISN + 1, SISN + 1, A | KC_TCP_PSH, req);
}

static int seq_is(const uint32_t *v, unsigned n, uint32_t from, uint32_t to)
{
	unsigned i;

	if (n != to - from + 1)
		return 0;
	for (i = 0; i < n; i++)
		if (v[i] != from + i)
			return 0;
	return 1;
}

/* Unmatched: everything retained is released at the second FIN, the last
 * ACK at once, while the flow is still in the table. */
static void test_unmatched_released_at_close(void)
{
	static const char resp[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno";
	uint32_t s = SISN + 1, c = CISN + 1 + REQ_LEN;
	struct rig r;

	rig_open(&r, "http and response.status == 599");
	handshake(&r);
	seg(&r, 5, 0, s, c, A | KC_TCP_PSH, resp);
	s += (uint32_t)strlen(resp);
	seg(&r, 6, 1, c, s, A, NULL);
	seg(&r, 7, 1, c, s, A | KC_TCP_FIN, NULL);
	CHECK_EQ(n_released, 0);
	CHECK_EQ(kc_engine_stats(r.e)->ended_at_close, 0);
	seg(&r, 8, 0, s, c + 1, A | KC_TCP_FIN, NULL);
	CHECK_EQ(kc_engine_stats(r.e)->ended_at_close, 1);
	CHECK_EQ(n_items, 1);
	CHECK_EQ(n_matched, 0);
	CHECK(seq_is(released, n_released, 1, 8));
	CHECK_EQ(kc_engine_stats(r.e)->retain.released_unmatched, 8);
	seg(&r, 9, 1, c + 1, s + 1, A, NULL);
	CHECK(seq_is(released, n_released, 1, 9));
	CHECK_EQ(kc_engine_stats(r.e)->retain.retained, 8);
	CHECK_EQ(kc_engine_flow_stats(r.e)->active, 1);
	CHECK_EQ(n_recorded, 0);
	rig_close(&r);
	CHECK_EQ(n_items, 1);
}

/* A response read until the close: its item exists only once both FINs are
 * in, and its match records the stream whole, final ACK included. */
static void test_matched_by_close(void)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody until close";
	uint32_t s = SISN + 1, c = CISN + 1 + REQ_LEN;
	struct rig r;

	rig_open(&r, "http and response.status == 200");
	handshake(&r);
	seg(&r, 5, 0, s, c, A | KC_TCP_PSH, resp);
	s += (uint32_t)strlen(resp);
	seg(&r, 6, 0, s, c, A | KC_TCP_FIN, NULL);
	CHECK_EQ(n_items, 0);
	seg(&r, 7, 1, c, s + 1, A | KC_TCP_FIN, NULL);
	CHECK_EQ(n_items, 1);
	CHECK_EQ(n_matched, 1);
	CHECK(seq_is(recorded, n_recorded, 1, 7));
	seg(&r, 8, 0, s + 1, c + 1, A, NULL);
	CHECK(seq_is(recorded, n_recorded, 1, 8));
	CHECK_EQ(n_released, 0);
	rig_close(&r);
}

/* Both FINs in, but a response byte is missing: nothing ends until the
 * retransmission fills the hole; then the item is whole and matches. */
static void test_hole_waits_for_retransmission(void)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n";
	uint32_t s = SISN + 1, c = CISN + 1 + REQ_LEN, hl = (uint32_t)strlen(head);
	struct rig r;

	rig_open(&r, "http and response.status == 200");
	handshake(&r);
	seg(&r, 5, 0, s, c, A | KC_TCP_PSH, head);
	/* Body bytes 0-3 lost; 4-7 arrive with the FIN. */
	seg(&r, 6, 0, s + hl + 4, c, A | KC_TCP_FIN, "5678");
	seg(&r, 7, 1, c, s + hl, A | KC_TCP_FIN, NULL);
	CHECK_EQ(kc_engine_stats(r.e)->ended_at_close, 0);
	CHECK_EQ(n_items, 0);
	seg(&r, 8, 0, s + hl, c + 1, A, "1234");
	CHECK_EQ(kc_engine_stats(r.e)->ended_at_close, 1);
	CHECK_EQ(n_items, 1);
	CHECK_EQ(n_matched, 1);
	CHECK(seq_is(recorded, n_recorded, 1, 8));
	rig_close(&r);
}

/* An RST closes the flow but not its dissection: what follows (here the
 * response of the RST-then-continue evasion) is still dissected. */
static void test_rst_ends_nothing(void)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	uint32_t s = SISN + 1, c = CISN + 1 + REQ_LEN;
	struct rig r;

	rig_open(&r, "http and response.status == 200");
	handshake(&r);
	seg(&r, 5, 1, c, 0, KC_TCP_RST, NULL);
	CHECK_EQ(kc_engine_stats(r.e)->ended_at_close, 0);
	CHECK_EQ(n_released, 0);
	seg(&r, 6, 0, s, c, A | KC_TCP_PSH, resp);
	CHECK_EQ(n_items, 1);
	CHECK_EQ(n_matched, 1);
	CHECK(seq_is(recorded, n_recorded, 1, 6));
	rig_close(&r);
}

/* A stream no dissector claims has one item, its L4 item, at its first
 * data: unmatched, the stream is done with then, its retained packets
 * released and its later ones released as they come, long before any close. */
/* Handshake (handles 1-3), then 200 bytes no dissector claims (handle 4). */
static void l4_stream_open(struct rig *r, const char *kfl, char *blob, size_t size)
{
	memset(blob, 0x7f, size - 1);
	blob[size - 1] = 0;
	rig_open(r, kfl);
	seg(r, 1, 1, CISN, 0, KC_TCP_SYN, NULL);
	seg(r, 2, 0, SISN, CISN + 1, KC_TCP_SYN | A, NULL);
	seg(r, 3, 1, CISN + 1, SISN + 1, A, NULL);
	CHECK_EQ(n_released + n_recorded, 0);
	seg(r, 4, 1, CISN + 1, SISN + 1, A | KC_TCP_PSH, blob);
}

static void test_l4_spent(void)
{
	char blob[201];
	uint32_t c = CISN + 1, s = SISN + 1;
	struct rig r;

	l4_stream_open(&r, "http", blob, sizeof(blob));
	CHECK_EQ(n_items, 1);
	CHECK_EQ(kc_engine_stats(r.e)->ended_spent, 1);
	CHECK(seq_is(released, n_released, 1, 4));
	c += (uint32_t)strlen(blob);
	seg(&r, 5, 0, s, c, A, NULL);
	seg(&r, 6, 1, c, s, A | KC_TCP_PSH, blob);
	CHECK(seq_is(released, n_released, 1, 6));
	CHECK_EQ(kc_engine_stats(r.e)->retain.retained, 4);
	rig_close(&r);
	CHECK_EQ(n_items, 1);
	CHECK_EQ(n_recorded, 0);
}

/* The same stream matched by its L4 item: recorded from the SYN on, every
 * later packet too, though its dissection is over. */
static void test_l4_spent_matched(void)
{
	char blob[201];
	uint32_t c = CISN + 1, s = SISN + 1;
	struct rig r;

	l4_stream_open(&r, "tcp and dst.port == 80", blob, sizeof(blob));
	CHECK_EQ(n_matched, 1);
	CHECK_EQ(kc_engine_stats(r.e)->ended_spent, 1);
	c += (uint32_t)strlen(blob);
	seg(&r, 5, 0, s, c, A, NULL);
	seg(&r, 6, 1, c, s, A | KC_TCP_PSH, blob);
	CHECK(seq_is(recorded, n_recorded, 1, 6));
	CHECK_EQ(n_released, 0);
	rig_close(&r);
	CHECK_EQ(n_items, 1);
}

int main(void)
{
	test_unmatched_released_at_close();
	test_matched_by_close();
	test_hole_waits_for_retransmission();
	test_rst_ends_nothing();
	test_l4_spent();
	test_l4_spent_matched();
	return kct_done("test_close");
}
