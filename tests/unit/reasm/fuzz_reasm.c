/*
 * Fuzz target for lib/reasm: drives two directions of one connection through
 * a small pool (so memcap, dir-limit and gap paths run) with segments the
 * fuzzer chooses, and checks invariants after every step.
 *
 * Input layout:
 *   byte 0     config: bits 0-1 pick chunk size (64,128,256,2048),
 *              bits 2-4 pool chunks (2 << n), bits 5-7 dir segs (1 << n)
 *   byte 1-4   ISN of direction 0 (big endian); direction 1 uses ~ISN;
 *              byte 1 bit 0 / bit 1 also select KC_REASM_POLICY_DROP for the
 *              direction bound / the memcap (else KC_REASM_POLICY_GAP)
 *   then records, until the input ends:
 *     byte  op     bit 0: direction; bits 1-2: 0 = segment, 1 = ACK to the
 *                  other direction, 2 = flush, 3 = release; bit 4 (segment):
 *                  try kc_reasm_push_in_order() first and, when it takes
 *                  the segment, deliver it here
 *     byte  flags  TCP flags (segment) / window low byte (ACK; 0 = zero window)
 *     2 bytes      sequence delta from the direction's ISN + 1, big endian,
 *                  in units of 8 bytes when op bit 3 is set (reach far)
 *     byte  len    payload length (segment) taken from the following bytes;
 *                  fewer if the input ends
 *     len bytes    payload
 *
 * Invariants: bytes delivered never exceed bytes pushed (per direction);
 * the direction's stream offset equals the bytes plus gaps delivered;
 * kc_reasm_dir_validate (held list sorted, disjoint, counts, tail);
 * held bytes/chunks never exceed the per-direction bounds; chunks in use equal
 * the two directions' held chunks; gap_before never wraps; after release the
 * pool is empty and the memcap shows 0 bytes used; a segment taken by
 * kc_reasm_push_in_order() was the next in order with nothing held, and
 * moved next_seq and the offset by its length.
 *
 * Built with -fsanitize=fuzzer when meson -Dfuzz=true; otherwise main() below
 * replays the files given on the command line (the seed corpus).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_reasm.h"

struct acct {
	uint64_t pushed;
	uint64_t delivered;
	uint64_t gaps;
	uint64_t off; /* delivered + gap bytes since the last release */
};

static void deliver(void *ctx, const uint8_t *data, uint32_t len, uint32_t gap, uint64_t ts)
{
	struct acct *a = ctx;
	volatile uint8_t sink = 0;
	uint32_t i;

	(void)ts;
	if (len != 0 && data == NULL)
		abort();
	/* Touch every byte so ASan sees a bad pointer. */
	for (i = 0; i < len; i++)
		sink ^= data[i];
	(void)sink;
	if (gap > KC_REASM_MAX_WINDOW)
		abort();
	a->delivered += len;
	a->gaps += gap;
	a->off += (uint64_t)len + gap;
}

static void check(struct kc_reasm_core *core, struct kc_reasm_dir *d, struct acct *a,
		  const struct kc_reasm_cfg *cfg)
{
	int i;
	uint32_t held = 0;

	for (i = 0; i < 2; i++) {
		if (a[i].delivered > a[i].pushed)
			abort();
		if (d[i].held_bytes > cfg->max_dir_bytes || d[i].held_segs > cfg->max_dir_segs)
			abort();
		if (kc_reasm_dir_validate(core, &d[i]) != 0)
			abort(); /* held list sorted, disjoint, counted, tail last */
		if (d[i].offset != a[i].off)
			abort(); /* the stream offset is what the consumer saw */
		held += d[i].held_segs;
	}
	if (kc_reasm_core_chunks_used(core) != held)
		abort();
	if (kc_reasm_core_memcap(core)->used != (uint64_t)held * cfg->chunk_size)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	static const uint32_t chunk_sizes[4] = { 64, 128, 256, 2048 };
	struct kc_reasm_cfg cfg;
	struct kc_reasm_core *core;
	struct kc_reasm_dir d[2];
	struct acct a[2];
	uint32_t isn[2];
	size_t pos = 5;

	if (size < 5)
		return 0;
	kc_reasm_cfg_default(&cfg);
	cfg.chunk_size = chunk_sizes[buf[0] & 3];
	cfg.n_chunks = 2u << ((buf[0] >> 2) & 7);
	cfg.max_dir_segs = 1u << ((buf[0] >> 5) & 7);
	cfg.max_dir_bytes = cfg.max_dir_segs * cfg.chunk_size;
	cfg.dir_limit_policy = buf[1] & 1;
	cfg.memcap_policy = (buf[1] >> 1) & 1;
	core = kc_reasm_core_create(&cfg, NULL);
	if (core == NULL)
		abort();
	isn[0] = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4];
	isn[1] = ~isn[0];
	memset(a, 0, sizeof(a));
	kc_reasm_dir_init(&d[0]);
	kc_reasm_dir_init(&d[1]);

	while (pos + 5 <= size) {
		uint8_t op = buf[pos], fl = buf[pos + 1];
		uint32_t delta = (uint32_t)buf[pos + 2] << 8 | buf[pos + 3];
		uint32_t len = buf[pos + 4];
		int dir = op & 1;
		uint32_t seq;

		pos += 5;
		if (op & 8)
			delta *= 8;
		seq = isn[dir] + 1 + delta;
		switch ((op >> 1) & 3) {
		case 0:
			if (len > size - pos)
				len = (uint32_t)(size - pos);
			if ((fl & KC_REASM_TCP_SYN) && delta == 0)
				seq = isn[dir]; /* a real SYN at the ISN */
			if ((fl & KC_REASM_TCP_RST) == 0)
				a[dir].pushed += len;
			if (op & 16) {
				uint32_t next = d[dir].next_seq;
				uint64_t off = d[dir].offset;

				if (kc_reasm_push_in_order(core, &d[dir], seq, fl, len)) {
					if (seq != next || d[dir].head != 0 || len == 0 ||
					    d[dir].next_seq != next + len || d[dir].offset != off + len)
						abort();
					deliver(&a[dir], buf + pos, len, 0, pos);
					pos += len;
					break;
				}
				if (d[dir].next_seq != next || d[dir].offset != off)
					abort();
			}
			if (kc_reasm_push(core, &d[dir], seq, fl, len ? buf + pos : NULL, len, pos,
					  deliver, &a[dir]) != 0)
				abort();
			pos += len;
			break;
		case 1:
			kc_reasm_ack(core, &d[!dir], isn[!dir] + 1 + delta, fl, pos, deliver, &a[!dir]);
			break;
		case 2:
			kc_reasm_flush(core, &d[dir], pos, deliver, &a[dir]);
			if (d[dir].head != 0 || d[dir].held_bytes != 0)
				abort();
			break;
		default:
			kc_reasm_dir_release(core, &d[dir]);
			a[dir].off = 0;
			break;
		}
		check(core, d, a, &cfg);
	}
	kc_reasm_flush(core, &d[0], 0, deliver, &a[0]);
	kc_reasm_flush(core, &d[1], 0, deliver, &a[1]);
	check(core, d, a, &cfg);
	kc_reasm_dir_release(core, &d[0]);
	kc_reasm_dir_release(core, &d[1]);
	if (kc_reasm_core_chunks_used(core) != 0 || kc_reasm_core_memcap(core)->used != 0)
		abort();
	kc_reasm_core_destroy(core);
	return 0;
}

#ifndef KC_FUZZING
/* Regular build: replay each file named on the command line. */
int main(int argc, char **argv)
{
	static uint8_t buf[1 << 16];
	int i, n = 0;

	for (i = 1; i < argc; i++) {
		FILE *fp = fopen(argv[i], "rb");
		size_t len;

		if (fp == NULL) {
			fprintf(stderr, "%s: cannot open\n", argv[i]);
			return 1;
		}
		len = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		LLVMFuzzerTestOneInput(buf, len);
		n++;
	}
	printf("%d inputs replayed, invariants held\n", n);
	return n == 0;
}
#endif
