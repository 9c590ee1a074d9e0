/*
 * Fuzz target for lib/dns: the message parser, the probe, and one flow fed as
 * UDP datagrams or as the two directions of a TCP stream cut into chunks the
 * fuzzer chooses, then expired and closed.
 *
 * Input layout:
 *   byte 0     bit 0: 0 = UDP, 1 = TCP; bits 1-7: expiry budget per step
 *   then records, until the input ends:
 *     2 bytes  big endian: bit 15 = direction (1 = server to client),
 *              bits 0-14 = length of the chunk that follows (cut short if
 *              the input ends)
 *     chunk    one UDP datagram, or the next bytes of that TCP direction;
 *              on TCP a record of length 0 is a reassembly gap in that
 *              direction (held bytes dropped, kc_dns_flow_gap)
 *
 * The TCP side keeps unconsumed bytes as the dispatcher does (bounded at
 * 70000 bytes per direction; a full buffer is dropped).
 *
 * Invariants: consumed never exceeds what was presented; NEED_MORE always
 * names the missing bytes; items are DNS items whose views lie inside the
 * arena and whose counts fit the arrays; items seen == stats.items; the
 * pending table never exceeds KC_DNS_PENDING_MAX and is empty after close.
 *
 * Built with -fsanitize=fuzzer when meson -Dfuzz=true; otherwise main() below
 * replays the files given on the command line (the seed corpus).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_dns.h"

#define BUF_MAX 70000

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_dns invariant broken: %s\n", what);
	abort();
}

static void check_view(const struct kc_item *it, struct kc_str s)
{
	volatile char sink = 0;

	if ((size_t)s.off + s.len > it->arena_used)
		fail("view outside the arena");
	for (unsigned i = 0; i < s.len; i++)
		sink ^= it->arena[s.off + i];
	(void)sink;
}

static void on_item(void *ctx, const struct kc_item *it)
{
	const struct kc_item_dns *d = &it->u.dns;

	(*(uint64_t *)ctx)++;
	if (it->proto != KC_ITEM_DNS)
		fail("not a DNS item");
	if (d->n_questions > KC_ITEM_MAX_DNS_Q ||
	    d->n_answers + d->n_authorities + d->n_additionals > KC_ITEM_MAX_DNS_RR)
		fail("counts exceed the arrays");
	for (unsigned i = 0; i < d->n_questions; i++)
		check_view(it, d->questions[i].name);
	for (unsigned i = 0; i < (unsigned)d->n_answers + d->n_authorities + d->n_additionals; i++) {
		check_view(it, d->rrs[i].name);
		check_view(it, d->rrs[i].data);
	}
}

static uint8_t bufs[2][BUF_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kc_item scratch;
	struct kc_dns_flow f;
	struct kc_dns_stats st;
	struct kc_flow_info fi;
	size_t blen[2] = { 0, 0 };
	uint64_t seen = 0, ts = 1000000;
	bool tcp;
	unsigned budget;

	if (size < 1)
		return 0;
	tcp = data[0] & 1;
	budget = data[0] >> 1;
	memset(&st, 0, sizeof(st));
	memset(&fi, 0, sizeof(fi));
	fi.family = 4;
	fi.l4 = tcp ? IPPROTO_TCP : IPPROTO_UDP;
	kc_dns_flow_init(&f);
	size_t off = 1;

	while (off + 2 <= size) {
		unsigned hdr = (unsigned)data[off] << 8 | data[off + 1];
		enum kc_dir dir = (hdr & 0x8000) ? KC_DIR_S2C : KC_DIR_C2S;
		size_t n = hdr & 0x7fff;

		off += 2;
		if (n > size - off)
			n = size - off;
		const uint8_t *chunk = data + off;

		off += n;
		ts += 1000;
		if (tcp && n == 0 && off <= size) {
			blen[dir] = 0;
			kc_dns_flow_gap(&f, dir, &st);
			continue;
		}
		(void)kc_dns_probe(chunk, n, tcp);
		if (!tcp) {
			(void)kc_dns_parse_message(chunk, n, &scratch, &st);
			struct kc_parse_res r = kc_dns_feed_udp(&f, dir, chunk, n, ts, &fi, on_item,
								&seen, &st);

			if (r.consumed > n)
				fail("consumed more than given");
		} else {
			if (blen[dir] + n > BUF_MAX)
				blen[dir] = 0; /* the dispatcher's bound said no */
			memcpy(bufs[dir] + blen[dir], chunk, n);
			blen[dir] += n;
			struct kc_parse_res r = kc_dns_feed_tcp(&f, dir, bufs[dir], blen[dir], ts,
								&fi, on_item, &seen, &st);

			if (r.consumed > blen[dir])
				fail("consumed more than given");
			if (r.status == KC_PARSE_NEED_MORE && r.needed == 0)
				fail("NEED_MORE without a count");
			if (r.status == KC_PARSE_ERROR) {
				blen[dir] = 0;
			} else {
				memmove(bufs[dir], bufs[dir] + r.consumed, blen[dir] - r.consumed);
				blen[dir] -= r.consumed;
			}
		}
		if (f.n_pending > KC_DNS_PENDING_MAX)
			fail("pending table overflow");
		if (kc_dns_flow_expire(&f, ts, 5000, budget, &fi, on_item, &seen, &st) > budget)
			fail("expire exceeded its budget");
	}
	kc_dns_flow_close(&f, &fi, on_item, &seen, &st);
	if (f.n_pending != 0)
		fail("pending after close");
	if (seen != st.items)
		fail("items emitted != stats.items");
	return 0;
}

#ifndef KC_FUZZING
int main(int argc, char **argv)
{
	static uint8_t buf[1 << 20];
	int files = 0;

	for (int i = 1; i < argc; i++) {
		FILE *fp = fopen(argv[i], "rb");
		size_t n;

		if (fp == NULL) {
			fprintf(stderr, "cannot open %s\n", argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		LLVMFuzzerTestOneInput(buf, n);
		files++;
	}
	printf("%d corpus files replayed\n", files);
	return files > 0 ? 0 : 1;
}
#endif
