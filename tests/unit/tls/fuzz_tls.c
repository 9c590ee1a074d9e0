/*
 * Fuzz target for lib/tls: one connection, both directions fed as a stream
 * cut into chunks the fuzzer chooses, then expired and closed.
 *
 * Input layout:
 *   byte 0     ignored (kept so DNS and TLS seeds share one record format)
 *   then records, until the input ends:
 *     2 bytes  big endian: bit 15 = direction (1 = server to client),
 *              bits 0-14 = length of the chunk that follows (cut short if
 *              the input ends)
 *     chunk    the next bytes of that direction
 *
 * The dispatcher stand-in keeps unconsumed bytes (bounded at 140000 bytes
 * per direction, enough for a 64 KiB hello in small records; a full buffer
 * is dropped) and stops feeding a direction after ERROR.
 *
 * Invariants: consumed never exceeds what was presented; at most one item per
 * connection; items are TLS items whose views lie inside the arena and whose
 * counts fit the arrays; items seen == stats.items.
 *
 * Built with -fsanitize=fuzzer when meson -Dfuzz=true; otherwise main() below
 * replays the files given on the command line (the seed corpus).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_tls.h"

#define BUF_MAX 140000

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_tls invariant broken: %s\n", what);
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
	const struct kc_item_tls *t = &it->u.tls;

	(*(uint64_t *)ctx)++;
	if (it->proto != KC_ITEM_TLS)
		fail("not a TLS item");
	if (t->n_alpn > KC_ITEM_MAX_ALPN || t->n_versions > 8)
		fail("counts exceed the arrays");
	check_view(it, t->sni);
	check_view(it, t->alpn_chosen);
	for (unsigned i = 0; i < t->n_alpn; i++)
		check_view(it, t->alpn[i]);
}

static uint8_t bufs[2][BUF_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kc_tls_flow f;
	struct kc_tls_stats st;
	struct kc_flow_info fi;
	size_t blen[2] = { 0, 0 };
	bool stopped[2] = { false, false };
	uint64_t seen = 0, ts = 1000000;
	size_t off = 1;

	if (size < 1)
		return 0;
	memset(&st, 0, sizeof(st));
	memset(&fi, 0, sizeof(fi));
	fi.family = 4;
	fi.l4 = IPPROTO_TCP;
	kc_tls_flow_init(&f);
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
		(void)kc_tls_probe(chunk, n);
		if (stopped[dir])
			continue;
		if (blen[dir] + n > BUF_MAX)
			blen[dir] = 0;
		memcpy(bufs[dir] + blen[dir], chunk, n);
		blen[dir] += n;
		struct kc_parse_res r = kc_tls_feed(&f, dir, bufs[dir], blen[dir], ts, &fi, on_item,
						    &seen, &st);

		if (r.consumed > blen[dir])
			fail("consumed more than given");
		if (r.status == KC_PARSE_ERROR) {
			stopped[dir] = true;
			continue;
		}
		memmove(bufs[dir], bufs[dir] + r.consumed, blen[dir] - r.consumed);
		blen[dir] -= r.consumed;
		if (kc_tls_flow_done(&f) && blen[dir] != 0)
			fail("done but bytes left unconsumed");
		(void)kc_tls_flow_expire(&f, ts, 50000, &fi, on_item, &seen, &st);
	}
	kc_tls_flow_close(&f, &fi, on_item, &seen, &st);
	if (seen > 1)
		fail("more than one item for a connection");
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
