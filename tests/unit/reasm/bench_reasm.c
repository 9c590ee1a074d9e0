/* Micro-benchmark of lib/reasm on one core: ns per 1460-byte segment for
 * in-order delivery (zero copy), adjacent swaps (every other segment held),
 * a random reorder window of 16 segments, and one late segment per 128 (127
 * held behind it, so appends must be O(1)), over many concurrent
 * directions so the state is not all in L1. Run: meson test --benchmark. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kc_reasm.h"

#define MSS 1460u
#define FLOWS 64u
#define SEGS_PER_FLOW 8192u

static uint64_t delivered;

static void deliver(void *ctx, const uint8_t *data, uint32_t len, uint32_t gap, uint64_t ts)
{
	(void)ctx;
	(void)gap;
	(void)ts;
	/* Read the first and last byte, as a dissector at least would. */
	if (len != 0)
		delivered += len + (data[0] & 0) + (data[len - 1] & 0);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ull) >> 32);
}

/* mode 0: in order; 1: swap each pair; 2: shuffle within windows of 16;
 * 3: the first of every 128 segments arrives last. */
static void run(const char *name, int mode)
{
	static uint8_t payload[MSS];
	static uint32_t order[SEGS_PER_FLOW];
	struct kc_reasm_cfg cfg;
	struct kc_reasm_core *core;
	struct kc_reasm_dir *dirs;
	uint32_t i, f, n = 0;
	double t0, t1;

	kc_reasm_cfg_default(&cfg);
	core = kc_reasm_core_create(&cfg, NULL);
	dirs = calloc(FLOWS, sizeof(*dirs));
	if (core == NULL || dirs == NULL)
		exit(2);
	for (i = 0; i < SEGS_PER_FLOW; i++)
		order[i] = i;
	if (mode == 1)
		for (i = 0; i + 1 < SEGS_PER_FLOW; i += 2) {
			order[i] = i + 1;
			order[i + 1] = i;
		}
	if (mode == 3)
		/* One late segment per 128: 127 held behind it, then it comes. */
		for (i = 0; i < SEGS_PER_FLOW; i++)
			order[i] = i % 128 == 127 ? i - 127 : i + 1;
	if (mode == 2)
		for (i = 0; i < SEGS_PER_FLOW; i++) {
			uint32_t base = i - i % 16, j = base + rnd() % 16, t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
	memset(payload, 'x', sizeof(payload));
	for (f = 0; f < FLOWS; f++) {
		kc_reasm_dir_init(&dirs[f]);
		kc_reasm_push(core, &dirs[f], f * 7919u, KC_REASM_TCP_SYN, NULL, 0, 0, deliver, NULL);
	}
	delivered = 0;
	t0 = now_s();
	/* Interleave flows segment by segment, as a worker's RX burst does. */
	for (i = 0; i < SEGS_PER_FLOW; i++)
		for (f = 0; f < FLOWS; f++) {
			kc_reasm_push(core, &dirs[f], f * 7919u + 1 + order[i] * MSS, 0, payload, MSS,
				      0, deliver, NULL);
			n++;
		}
	t1 = now_s();
	printf("%-22s %8.1f ns/segment  %6.2f Gbit/s  (%u segments, %llu bytes delivered, "
	       "%llu held)\n",
	       name, (t1 - t0) * 1e9 / n, (double)n * MSS * 8 / (t1 - t0) / 1e9, n,
	       (unsigned long long)delivered,
	       (unsigned long long)kc_reasm_core_stats(core)->segments_ooo);
	for (f = 0; f < FLOWS; f++)
		kc_reasm_dir_release(core, &dirs[f]);
	free(dirs);
	kc_reasm_core_destroy(core);
}

int main(void)
{
	run("in order (zero copy)", 0);
	run("pairs swapped", 1);
	run("shuffled, window 16", 2);
	run("1 late per 128", 3);
	return 0;
}
