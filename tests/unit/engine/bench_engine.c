/*
 * Micro-benchmark: one kflcap worker's engine (lib/engine) on a capture held
 * in memory, without EAL or a PMD.
 *
 * The capture is replayed as net_pcap's infinite_rx replays it to a worker
 * (app/kflcap/worker.c): bursts of 32, every packet of a burst stamped with
 * one clock reading, the clock advancing by a fixed cost per packet (wall
 * time, not the file's: infinite_rx sets no timestamps), kc_engine_tick every
 * millisecond of that clock, and the file started again at its end, so TCP
 * conversations reopen on the same ports as new streams. One pass warms the
 * tables up untimed; the following passes are timed.
 *
 * Two configurations, both the worker's (default flow table, reasm and
 * dissect sizes, timeouts):
 *   flow: --no-dissect: decode + defrag + flow table;
 *   full: dissection and retention on, filter
 *         'http and response.status == 599' (matches nothing here, so every
 *         packet is reassembled, dissected, judged and retained), retention
 *         bounded as `kflcap --mbufs 131071` bounds it.
 * The callbacks are the worker's cheap ones: record and release put the
 * handle back on a free list, stream_end and item do nothing.
 *
 * Usage: bench_engine FILE.pcap [--runs N] [--passes N] [--mode flow|full|both]
 *                     [--ns-per-pkt N]
 * Prints ns/packet (thread CPU time), median of --runs (5) runs, and the
 * engine's counters of the last full run. Under callgrind, measure only the
 * timed part with --toggle-collect=bench_replay. Not a test.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kc_engine.h"

#define BURST 128 /* as kflcap's worker asks of a queue (KC_APP_BURST) */
#define TICK_US 1000
#define MAX_RUNS 99
#define FILTER "http and response.status == 599"
/* kflcap --mbufs 131071, one worker: the spare mbufs (pool minus rings, RX
 * descriptors and slack, kc_app_mbuf_spare) times retain_max_mbuf_share_pct
 * (50 %). */
#define MBUFS 131071u
#define MBUF_HEADROOM (4096u * 2 + 2048 + 4096)
#define RETAIN_CORE ((MBUFS - MBUF_HEADROOM) * 50 / 100)

struct cap_pkt {
	const uint8_t *data;
	uint32_t len;
};

struct bench {
	struct cap_pkt *pkts;
	uint32_t n_pkts;
	uint32_t passes;
	uint64_t ns_per_pkt;
	/* Free handles, a stack like the worker's to_free array: releasing
	 * never touches the packet (rte_pktmbuf_free_bulk does, later). */
	void **free_stack;
	uint32_t n_free;
	uint64_t starved;
};

static void put_handle(struct bench *b, void *h)
{
	b->free_stack[b->n_free++] = h;
}

static void on_record(void *ctx, const struct kc_flow *f, void *handle, uint64_t ts_us)
{
	(void)f;
	(void)ts_us;
	/* The writer frees it later; for the worker's core it is gone now. */
	put_handle(ctx, handle);
}

static void on_release(void *ctx, void *handle)
{
	put_handle(ctx, handle);
}

static void on_stream_end(void *ctx, const struct kc_flow *f, enum kc_flow_end why, bool truncated)
{
	(void)ctx;
	(void)f;
	(void)why;
	(void)truncated;
}

static void on_item(void *ctx, const struct kc_item *item, bool matched, uint32_t version)
{
	(void)ctx;
	(void)item;
	(void)matched;
	(void)version;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int load(const char *path, struct bench *b)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	uint32_t cap = 0;
	pcap_t *p = pcap_open_offline(path, ebuf);
	int rc;

	if (p == NULL) {
		fprintf(stderr, "bench_engine: %s\n", ebuf);
		return -1;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		fprintf(stderr, "bench_engine: %s: not Ethernet\n", path);
		pcap_close(p);
		return -1;
	}
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		uint8_t *copy;

		if (b->n_pkts == cap) {
			struct cap_pkt *n;

			cap = cap ? cap * 2 : 65536;
			n = realloc(b->pkts, cap * sizeof(*n));
			if (n == NULL)
				goto nomem;
			b->pkts = n;
		}
		copy = malloc(h->caplen ? h->caplen : 1);
		if (copy == NULL)
			goto nomem;
		memcpy(copy, d, h->caplen);
		b->pkts[b->n_pkts].data = copy;
		b->pkts[b->n_pkts].len = h->caplen;
		b->n_pkts++;
	}
	pcap_close(p);
	if (b->n_pkts == 0) {
		fprintf(stderr, "bench_engine: %s: no packets\n", path);
		return -1;
	}
	return 0;
nomem:
	fprintf(stderr, "bench_engine: out of memory\n");
	pcap_close(p);
	return -1;
}

static void engine_cfg(struct kc_engine_cfg *ec, bool dissect, _Atomic(struct kc_engine_filter *) *filter)
{
	memset(ec, 0, sizeof(*ec));
	/* kflcap's defaults (lib/config/keys.c). */
	ec->flow.capacity = 262144;
	ec->flow.worker = 0;
	ec->flow.stream_base = (uint64_t)1700000000 << 16;
	ec->flow.timeout_us[KC_FLOW_T_OPENING] = 30 * 1000000ull;
	ec->flow.timeout_us[KC_FLOW_T_ESTABLISHED] = 600 * 1000000ull;
	ec->flow.timeout_us[KC_FLOW_T_CLOSED] = 10 * 1000000ull;
	ec->flow.timeout_us[KC_FLOW_T_UDP] = 60 * 1000000ull;
	ec->defrag.max_datagrams = 4096;
	ec->defrag.timeout_us = 30 * 1000000u;
	ec->expire_budget = 64;
	ec->dissect = dissect;
	kc_reasm_cfg_default(&ec->reasm);
	kc_dissect_cfg_default(&ec->dissect_cfg);
	ec->filter = filter;
	ec->retain.window_us = 10 * 1000000ull;
	ec->retain.max_pkts_stream = 1000;
	ec->retain.max_bytes_stream = 1048576;
	ec->retain.max_pkts_core = dissect ? RETAIN_CORE : 0;
}

/* One pass over the capture, bursts of 32. */
static void replay_pass(struct bench *b, struct kc_engine *e, uint64_t *clock_ns, uint64_t *next_tick_us)
{
	struct kc_engine_pkt pk[BURST];
	uint32_t i = 0;

	while (i < b->n_pkts) {
		uint64_t ts_us = *clock_ns / 1000;
		uint32_t k = 0;

		while (k < BURST && i < b->n_pkts) {
			if (b->n_free == 0) {
				/* The pool ran dry: net_pcap would lose the packet. */
				b->starved++;
				i++;
				continue;
			}
			pk[k].data = b->pkts[i].data;
			pk[k].caplen = b->pkts[i].len;
			pk[k].wire_len = b->pkts[i].len;
			pk[k].ts_us = ts_us;
			pk[k].handle = b->free_stack[--b->n_free];
			k++;
			i++;
		}
		kc_engine_rx(e, pk, k);
		*clock_ns += k * b->ns_per_pkt;
		if (*clock_ns / 1000 >= *next_tick_us) {
			kc_engine_tick(e, kc_engine_now(e));
			*next_tick_us = *clock_ns / 1000 + TICK_US;
		}
	}
}

/* The timed part (callgrind: --toggle-collect=bench_replay). */
__attribute__((noinline)) void bench_replay(struct bench *b, struct kc_engine *e, uint64_t *clock_ns,
					    uint64_t *next_tick_us);
__attribute__((noinline)) void bench_replay(struct bench *b, struct kc_engine *e, uint64_t *clock_ns,
					    uint64_t *next_tick_us)
{
	uint32_t p;

	for (p = 0; p < b->passes; p++)
		replay_pass(b, e, clock_ns, next_tick_us);
}

/* FNV-1a over a counter struct: two builds that must behave the same
 * print the same digests. */
static uint64_t digest(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static void print_stats(const struct kc_engine *e)
{
	const struct kc_engine_stats *s = kc_engine_stats(e);
	const struct kc_reasm_stats *rs = kc_engine_reasm_stats(e);
	const struct kc_dissect_stats *ds = kc_engine_dissect_stats(e);

	printf("  counters: rx %lu, flow %lu, items %lu, matches %lu, recorded %lu, released %lu, dissect_no_flow %lu\n",
	       (unsigned long)s->rx_pkts, (unsigned long)s->flow_pkts, (unsigned long)s->items,
	       (unsigned long)s->matches, (unsigned long)s->recorded_pkts, (unsigned long)s->released_pkts,
	       (unsigned long)s->dissect_no_flow);
	printf("  retention: retained %lu, expired %lu, evicted stream %lu, evicted core %lu, released unmatched %lu\n",
	       (unsigned long)s->retain.retained, (unsigned long)s->retain.expired_window,
	       (unsigned long)s->retain.evicted_stream, (unsigned long)s->retain.evicted_core,
	       (unsigned long)s->retain.released_unmatched);
	if (rs != NULL && ds != NULL)
		printf("  digests: engine %016lx, reasm %016lx, dissect %016lx\n", (unsigned long)digest(s, sizeof(*s)),
		       (unsigned long)digest(rs, sizeof(*rs)), (unsigned long)digest(ds, sizeof(*ds)));
}

/* @return ns per timed packet, or -1. */
static double run_once(struct bench *b, bool full, const struct kc_kfl_prog *prog, bool show)
{
	static const struct kc_engine_ops ops = {
		.record = on_record,
		.release = on_release,
		.stream_end = on_stream_end,
		.item = on_item,
	};
	struct kc_engine_filter flt = {.prog = prog, .version = 1};
	_Atomic(struct kc_engine_filter *) slot;
	struct kc_engine_cfg ec;
	struct kc_engine *e;
	uint64_t clock_ns = (uint64_t)1700000000 * 1000000000ull, next_tick_us = 0, t0, t1, pkts;
	uint32_t i;

	atomic_init(&slot, full ? &flt : NULL);
	engine_cfg(&ec, full, &slot);
	/* Every handle free (opaque: mbuf number + 1, never dereferenced). */
	b->n_free = 0;
	for (i = MBUFS; i > 0; i--)
		put_handle(b, (void *)(uintptr_t)i);
	e = kc_engine_create(&ec, &ops, b);
	if (e == NULL) {
		fprintf(stderr, "bench_engine: engine: %s\n", strerror(errno));
		return -1;
	}
	/* Warm-up pass, untimed (and outside bench_replay for callgrind). */
	replay_pass(b, e, &clock_ns, &next_tick_us);
	pkts = kc_engine_stats(e)->rx_pkts;
	t0 = now_ns();
	bench_replay(b, e, &clock_ns, &next_tick_us);
	t1 = now_ns();
	pkts = kc_engine_stats(e)->rx_pkts - pkts;
	if (show)
		print_stats(e);
	kc_engine_destroy(e);
	return pkts ? (double)(t1 - t0) / (double)pkts : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double measure(struct bench *b, bool full, const struct kc_kfl_prog *prog, unsigned runs, const char *what)
{
	double v[MAX_RUNS];
	unsigned r;

	for (r = 0; r < runs; r++) {
		v[r] = run_once(b, full, prog, full && r + 1 == runs);
		if (v[r] < 0)
			return -1;
	}
	qsort(v, runs, sizeof(v[0]), cmp_double);
	printf("%-34s %8.1f ns/packet  %6.2f Mpps  (median of %u; min %.1f, max %.1f)\n", what, v[runs / 2],
	       1000.0 / v[runs / 2], runs, v[0], v[runs - 1]);
	return v[runs / 2];
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_engine FILE.pcap [--runs N] [--passes N] [--mode flow|full|both] "
			"[--ns-per-pkt N]\n");
}

int main(int argc, char **argv)
{
	struct bench b = {.passes = 4, .ns_per_pkt = 350};
	struct kc_kfl_prog *prog = NULL;
	struct kc_err err = {{0}};
	const char *path = NULL, *mode = "both";
	unsigned runs = 5;
	double flow = -1, full = -1;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
			runs = (unsigned)atoi(argv[++i]);
		} else if (strcmp(argv[i], "--passes") == 0 && i + 1 < argc) {
			b.passes = (uint32_t)atoi(argv[++i]);
		} else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
			mode = argv[++i];
		} else if (strcmp(argv[i], "--ns-per-pkt") == 0 && i + 1 < argc) {
			b.ns_per_pkt = (uint64_t)atoll(argv[++i]);
		} else if (argv[i][0] != '-' && path == NULL) {
			path = argv[i];
		} else {
			usage();
			return 2;
		}
	}
	if (path == NULL || runs < 1 || runs > MAX_RUNS || b.passes < 1 ||
	    (strcmp(mode, "flow") != 0 && strcmp(mode, "full") != 0 && strcmp(mode, "both") != 0)) {
		usage();
		return 2;
	}
	if (load(path, &b) != 0)
		return 1;
	b.free_stack = calloc(MBUFS, sizeof(*b.free_stack));
	if (b.free_stack == NULL)
		return 1;
	if (kc_kfl_compile(FILTER, &prog, &err) != 0) {
		fprintf(stderr, "bench_engine: filter: %s\n", err.msg);
		return 1;
	}
	printf("%s: %u packets, %u timed passes, bursts of %d, clock +%lu ns/packet\n", path, b.n_pkts, b.passes,
	       BURST, (unsigned long)b.ns_per_pkt);
	if (strcmp(mode, "full") != 0)
		flow = measure(&b, false, NULL, runs, "decode+flow (no dissect, no filter)");
	if (strcmp(mode, "flow") != 0)
		full = measure(&b, true, prog, runs, "full (dissect + retain + KFL)");
	if (flow > 0 && full > 0)
		printf("%-34s %8.1f ns/packet\n", "dissection share (full - flow)", full - flow);
	if (b.starved)
		printf("  handle pool ran dry %lu times\n", (unsigned long)b.starved);
	kc_kfl_prog_free(prog);
	for (i = 0; i < (int)b.n_pkts; i++)
		free((void *)b.pkts[i].data);
	free(b.pkts);
	free(b.free_stack);
	return 0;
}
