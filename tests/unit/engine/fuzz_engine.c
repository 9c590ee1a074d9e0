/*
 * Fuzz target for the whole per-core engine (lib/engine): small TCP and UDP
 * packets between a few endpoints go through decode, the flow table,
 * reassembly, dissection, the filter and retention with tight bounds, with
 * the flags, sequence jumps, payloads and clock steps (forwards and back) the
 * fuzzer chooses. Beyond what the sanitizers see, it checks the promise every
 * caller relies on: each handle comes back exactly once, through record or
 * release, and none stays behind after kc_engine_destroy().
 *
 * Input layout:
 *   byte 0     config: bits 0-2 pick the filter (none, or one of FILTERS),
 *              bit 3 record_all, bits 4-5 the retention bounds (tight or
 *              loose), bit 6 a table of 4 flows (evictions) instead of 64
 *   then records, until the input ends:
 *     byte  op     bits 0-1: flow (0-2 TCP to ports 80, 443, 8080; 3 UDP to
 *                  53); bit 2: from the server; bit 3: a tick after this
 *                  packet; bits 4-5: sequence 0 = next, 1 = 1000 back,
 *                  2 = 1000 ahead, 3 = from the next byte (random); bits
 *                  6-7: clock 0 = +1 ms, 1 = +2 s, 2 = +20 s, 3 = 5 s back
 *     byte  flags  TCP flags
 *     byte  len    payload length, taken from the following bytes
 *     len bytes    payload
 *
 * Built with -fsanitize=fuzzer when meson -Dfuzz=true; otherwise the replay
 * driver (tests/fuzz/fuzz_replay.h) runs the seed corpus as a unit test.
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_engine.h"
#include "pktbuild.h"

#define BURST 8
#define N_FLOWS 4

static const char *const FILTERS[] = {
	"http", "http and response.status == 200", "tcp and dst.port == 8080", "dns or tls",
	"http and request.path == \"/x\"", "udp", "tls and tls.sni == \"a.example\"",
};
static const uint16_t SERVER_PORT[N_FLOWS] = {80, 443, 8080, 53};

/* Per handle (numbered from 1): 0 while the engine holds it, 1 once it came
 * back. */
static uint8_t *back;
static uint32_t n_handles;

static void fail(const char *what, uint32_t id)
{
	fprintf(stderr, "fuzz_engine: handle %u %s\n", id, what);
	abort();
}

static void handle_back(void *h)
{
	uint32_t id = (uint32_t)(uintptr_t)h;

	if (id == 0 || id > n_handles)
		fail("unknown", id);
	if (back[id - 1])
		fail("returned twice", id);
	back[id - 1] = 1;
}

static void on_record(void *ctx, const struct kc_flow *f, void *h, uint64_t ts)
{
	(void)ctx, (void)f, (void)ts;
	handle_back(h);
}

static void on_release(void *ctx, void *h)
{
	(void)ctx;
	handle_back(h);
}

static void on_item(void *ctx, const struct kc_item *item, bool matched, uint32_t version)
{
	(void)ctx, (void)matched, (void)version;
	if (item->arena_used > sizeof(item->arena))
		abort();
}

struct conn {
	uint32_t seq[2]; /* next sequence number by direction (0: client) */
};

static struct kc_engine *make_engine(uint8_t cfg, _Atomic(struct kc_engine_filter *) *fp)
{
	static const struct kc_engine_ops ops = { .record = on_record, .release = on_release, .item = on_item };
	struct kc_engine_cfg ec;
	unsigned i;

	memset(&ec, 0, sizeof(ec));
	ec.flow.capacity = (cfg & 0x40) ? 4 : 64;
	for (i = 0; i < KC_FLOW_T_MAX; i++)
		ec.flow.timeout_us[i] = 10000000;
	ec.defrag.max_datagrams = 4;
	ec.defrag.timeout_us = 1000000;
	ec.record_all = (cfg & 0x08) != 0;
	ec.expire_budget = 8;
	ec.dissect = true;
	kc_reasm_cfg_default(&ec.reasm);
	kc_dissect_cfg_default(&ec.dissect_cfg);
	ec.filter = fp;
	ec.retain.window_us = (cfg & 0x10) ? 3000000 : 60000000;
	ec.retain.max_pkts_stream = (cfg & 0x20) ? 5 : 1000;
	ec.retain.max_bytes_stream = (cfg & 0x20) ? 2000 : 1u << 20;
	ec.retain.max_pkts_core = (cfg & 0x20) ? 12 : 4096;
	return kc_engine_create(&ec, &ops, NULL);
}

/* One frame of flow @p fl into @p b. */
static void frame(struct pb *b, unsigned fl, int from_server, uint32_t seq, uint32_t ack, uint8_t flags,
		  const uint8_t *pay, uint32_t len)
{
	static const uint8_t cli[4] = {10, 0, 0, 1}, srv[4] = {10, 0, 0, 2};
	uint16_t cport = (uint16_t)(40000 + fl), sport = SERVER_PORT[fl];
	uint32_t ip;

	pb_init(b);
	pb_eth(b, 0x0800);
	ip = pb_ip4(b, fl == 3 ? IPPROTO_UDP : IPPROTO_TCP, from_server ? srv : cli, from_server ? cli : srv);
	if (fl == 3)
		pb_udp(b, from_server ? sport : cport, from_server ? cport : sport, pay, len);
	else
		pb_tcp(b, from_server ? sport : cport, from_server ? cport : sport, seq, ack, flags, 5, pay, len);
	pb_ip4_end(b, ip);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pb frames[BURST];
	struct kc_engine_pkt pk[BURST];
	struct conn conn[N_FLOWS];
	struct kc_kfl_prog *prog = NULL;
	struct kc_engine_filter flt;
	_Atomic(struct kc_engine_filter *) fp;
	struct kc_engine *e;
	struct kc_err err;
	uint64_t now = 1700000000000000ull;
	size_t pos = 1;
	uint32_t i, k = 0;
	unsigned fsel;

	if (size < 1)
		return 0;
	fsel = data[0] & 7;
	if (fsel != 0 && fsel <= sizeof(FILTERS) / sizeof(FILTERS[0]) &&
	    kc_kfl_compile(FILTERS[fsel - 1], &prog, &err) != 0)
		abort();
	flt.prog = prog;
	flt.version = 1;
	atomic_init(&fp, prog != NULL ? &flt : NULL);
	/* A record takes at least 3 bytes: at most size / 3 handles. */
	back = calloc(size / 3 + 1, 1);
	e = make_engine(data[0], &fp);
	if (back == NULL || e == NULL)
		abort();
	for (i = 0; i < N_FLOWS; i++) {
		conn[i].seq[0] = 1000u * (i + 1);
		conn[i].seq[1] = 0x80000000u + 7000u * (i + 1);
	}
	n_handles = 0;
	while (pos + 3 <= size) {
		uint8_t op = data[pos], flags = data[pos + 1];
		uint32_t len = data[pos + 2], seq;
		unsigned fl = op & 3, dir = (op >> 2) & 1;
		struct conn *c = &conn[fl];

		pos += 3;
		if (len > size - pos)
			len = (uint32_t)(size - pos);
		switch ((op >> 4) & 3) {
		case 1:
			c->seq[dir] -= 1000;
			break;
		case 2:
			c->seq[dir] += 1000;
			break;
		case 3:
			if (pos < size)
				c->seq[dir] += data[pos] * 977u;
			break;
		}
		seq = c->seq[dir];
		c->seq[dir] += len + ((flags & (KC_TCP_SYN | KC_TCP_FIN)) ? 1 : 0);
		switch (op >> 6) {
		case 0:
			now += 1000;
			break;
		case 1:
			now += 2000000;
			break;
		case 2:
			now += 20000000;
			break;
		default:
			now -= 5000000;
			break;
		}
		frame(&frames[k], fl, dir, seq, c->seq[!dir], flags, data + pos, len);
		pos += len;
		pk[k].data = frames[k].d;
		pk[k].caplen = pk[k].wire_len = frames[k].n;
		pk[k].ts_us = now;
		pk[k].handle = (void *)(uintptr_t)++n_handles;
		if (++k == BURST || (op & 8)) {
			kc_engine_rx(e, pk, k);
			k = 0;
		}
		if (op & 8)
			kc_engine_tick(e, now);
	}
	kc_engine_rx(e, pk, k);
	kc_engine_flush(e);
#ifndef KC_FUZZING
	/* What a seed reaches, for whoever edits the corpus. */
	if (getenv("FUZZ_ENGINE_VERBOSE") != NULL)
		fprintf(stderr, "packets %u items %" PRIu64 " matches %" PRIu64 " recorded %" PRIu64
			" released %" PRIu64 " retained %" PRIu64 " ended_at_close %" PRIu64 " ended_spent %" PRIu64 "\n",
			n_handles, kc_engine_stats(e)->items, kc_engine_stats(e)->matches,
			kc_engine_stats(e)->recorded_pkts, kc_engine_stats(e)->released_pkts,
			kc_engine_stats(e)->retain.retained, kc_engine_stats(e)->ended_at_close,
			kc_engine_stats(e)->ended_spent);
#endif
	kc_engine_destroy(e);
	for (i = 0; i < n_handles; i++)
		if (!back[i])
			fail("never returned", i + 1);
	free(back);
	kc_kfl_prog_free(prog);
	return 0;
}

#ifndef KC_FUZZING
#include "fuzz_replay.h"
#endif
