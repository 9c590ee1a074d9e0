/*
 * HPACK decoder unit tests: RFC 7541 Appendix C.2-C.6 vectors (exact decoded
 * header lists and dynamic table contents/sizes), Huffman edge cases,
 * integer overflow, size updates, and the partial (mid-stream) table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_hpack.h"

static int n_pass, n_fail;

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (cond) {                                                            \
			n_pass++;                                                      \
		} else {                                                               \
			n_fail++;                                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                      \
	} while (0)

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;

		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			out[n++] = (uint8_t)(hi * 16 + v);
			hi = -1;
		}
	}
	return n;
}

/* Decoded fields collected as "name: value\n". */
struct collect {
	char buf[8192];
	size_t len;
	unsigned flags_or;
};

static int collect_fn(void *ctx, const uint8_t *name, size_t nlen, const uint8_t *value,
		      size_t vlen, unsigned flags)
{
	struct collect *c = ctx;

	if (c->len + nlen + vlen + 3 >= sizeof(c->buf))
		return -1;
	memcpy(c->buf + c->len, name, nlen);
	c->len += nlen;
	memcpy(c->buf + c->len, ": ", 2);
	c->len += 2;
	memcpy(c->buf + c->len, value, vlen);
	c->len += vlen;
	c->buf[c->len++] = '\n';
	c->buf[c->len] = '\0';
	c->flags_or |= flags;
	return 0;
}

static int decode_hex(struct kc_hpack_dec *d, const char *hex, struct collect *c)
{
	static uint8_t blk[8192];
	size_t n = unhex(hex, blk);

	memset(c, 0, sizeof(*c));
	return kc_hpack_decode(d, blk, n, collect_fn, c);
}

/* Dynamic table as "name: value\n" newest first. */
static void table_str(const struct kc_hpack_dec *d, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (unsigned i = 1; i <= d->count; i++) {
		const uint8_t *n, *v;
		size_t nl, vl;

		if (kc_hpack_dec_entry(d, i, &n, &nl, &v, &vl) != 0)
			break;
		len += (size_t)snprintf(out + len, cap - len, "%.*s: %.*s\n", (int)nl, n, (int)vl, v);
	}
}

static void test_c2(void)
{
	struct kc_hpack_dec d;
	struct collect c;
	char t[2048];

	/* C.2.1 literal with indexing */
	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
			 &c) == 0);
	CHECK(strcmp(c.buf, "custom-key: custom-header\n") == 0);
	CHECK(d.size == 55);
	/* C.2.2 literal without indexing */
	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "040c 2f73 616d 706c 652f 7061 7468", &c) == 0);
	CHECK(strcmp(c.buf, ":path: /sample/path\n") == 0);
	CHECK(d.count == 0);
	/* C.2.3 never indexed */
	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "1008 7061 7373 776f 7264 0673 6563 7265 74", &c) == 0);
	CHECK(strcmp(c.buf, "password: secret\n") == 0);
	CHECK(c.flags_or & KC_HPACK_F_NEVER_INDEXED);
	CHECK(d.count == 0);
	/* C.2.4 indexed */
	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "82", &c) == 0);
	CHECK(strcmp(c.buf, ":method: GET\n") == 0);
	table_str(&d, t, sizeof(t));
	CHECK(t[0] == '\0');
}

static const char *req1 = ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n";
static const char *req2 =
	":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\ncache-control: no-cache\n";
static const char *req3 = ":method: GET\n:scheme: https\n:path: /index.html\n"
			  ":authority: www.example.com\ncustom-key: custom-value\n";

static void run_requests(const char *h1, const char *h2, const char *h3)
{
	struct kc_hpack_dec d;
	struct collect c;
	char t[2048];

	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, h1, &c) == 0);
	CHECK(strcmp(c.buf, req1) == 0);
	table_str(&d, t, sizeof(t));
	CHECK(strcmp(t, ":authority: www.example.com\n") == 0);
	CHECK(d.size == 57);
	CHECK(decode_hex(&d, h2, &c) == 0);
	CHECK(strcmp(c.buf, req2) == 0);
	table_str(&d, t, sizeof(t));
	CHECK(strcmp(t, "cache-control: no-cache\n:authority: www.example.com\n") == 0);
	CHECK(d.size == 110);
	CHECK(decode_hex(&d, h3, &c) == 0);
	CHECK(strcmp(c.buf, req3) == 0);
	table_str(&d, t, sizeof(t));
	CHECK(strcmp(t, "custom-key: custom-value\ncache-control: no-cache\n"
			":authority: www.example.com\n") == 0);
	CHECK(d.size == 164);
}

static void test_c3_c4(void)
{
	/* C.3 without Huffman */
	run_requests("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
		     "8286 84be 5808 6e6f 2d63 6163 6865",
		     "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65");
	/* C.4 with Huffman */
	run_requests("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
		     "8286 84be 5886 a8eb 1064 9cbf",
		     "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf");
}

static const char *resp1 = ":status: 302\ncache-control: private\n"
			   "date: Mon, 21 Oct 2013 20:13:21 GMT\nlocation: https://www.example.com\n";
static const char *resp2 = ":status: 307\ncache-control: private\n"
			   "date: Mon, 21 Oct 2013 20:13:21 GMT\nlocation: https://www.example.com\n";
static const char *resp3 =
	":status: 200\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:22 GMT\n"
	"location: https://www.example.com\ncontent-encoding: gzip\n"
	"set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1\n";

static void run_responses(const char *h1, const char *h2, const char *h3)
{
	struct kc_hpack_dec d;
	struct collect c;
	char t[2048];

	/* SETTINGS_HEADER_TABLE_SIZE 256: entries get evicted */
	kc_hpack_dec_init(&d, 256);
	CHECK(decode_hex(&d, h1, &c) == 0);
	CHECK(strcmp(c.buf, resp1) == 0);
	table_str(&d, t, sizeof(t));
	CHECK(strcmp(t, "location: https://www.example.com\ndate: Mon, 21 Oct 2013 20:13:21 GMT\n"
			"cache-control: private\n:status: 302\n") == 0);
	CHECK(d.size == 222);
	CHECK(decode_hex(&d, h2, &c) == 0);
	CHECK(strcmp(c.buf, resp2) == 0);
	table_str(&d, t, sizeof(t));
	CHECK(strcmp(t, ":status: 307\nlocation: https://www.example.com\n"
			"date: Mon, 21 Oct 2013 20:13:21 GMT\ncache-control: private\n") == 0);
	CHECK(d.size == 222);
	CHECK(decode_hex(&d, h3, &c) == 0);
	CHECK(strcmp(c.buf, resp3) == 0);
	table_str(&d, t, sizeof(t));
	CHECK(strcmp(t, "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1\n"
			"content-encoding: gzip\ndate: Mon, 21 Oct 2013 20:13:22 GMT\n") == 0);
	CHECK(d.size == 215);
	CHECK(d.count == 3);
}

static void test_c5_c6(void)
{
	run_responses("4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133"
		      "2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70"
		      "6c65 2e63 6f6d",
		      "4803 3330 37c1 c0bf",
		      "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d"
		      "54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049"
		      "5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e"
		      "3d31");
	run_responses("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6"
		      "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
		      "4883 640e ffc1 c0bf",
		      "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab"
		      "77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f"
		      "9587 3160 65c0 03ed 4ee5 b106 3d50 07");
}

/* Canonical Huffman encoder built from the code lengths (tests only). */
static uint32_t codes[257];

static void build_codes(void)
{
	uint32_t code = 0;
	unsigned prev = 0;
	int first = 1;

	for (unsigned len = 1; len <= 30; len++) {
		for (unsigned s = 0; s <= 256; s++) {
			if (kc_hpack_huffman_bits(s) != len)
				continue;
			if (!first)
				code = (code + 1) << (len - prev);
			else
				code <<= 0;
			first = 0;
			prev = len;
			codes[s] = code;
		}
	}
}

static size_t huff_encode(const uint8_t *in, size_t len, uint8_t *out)
{
	uint64_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned b = kc_hpack_huffman_bits(in[i]);

		acc = (acc << b) | codes[in[i]];
		bits += b;
		while (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits > 0)
		out[n++] = (uint8_t)((acc << (8 - bits)) | ((1u << (8 - bits)) - 1u));
	return n;
}

static void test_huffman(void)
{
	uint8_t in[256], enc[1024], dec[512];
	size_t n, outl;

	build_codes();
	/* the canonical codes match RFC 7541 Appendix B spot values */
	CHECK(codes['0'] == 0x0);
	CHECK(codes['a'] == 0x3);
	CHECK(codes[0] == 0x1ff8);
	CHECK(codes[256] == 0x3fffffff);
	CHECK(codes[255] == 0x3ffffee);
	/* every byte value round-trips */
	for (unsigned i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	n = huff_encode(in, 256, enc);
	CHECK(kc_hpack_huffman_decode(enc, n, dec, sizeof(dec), &outl) == 0);
	CHECK(outl == 256 && memcmp(dec, in, 256) == 0);
	/* C.4.1 "www.example.com" */
	{
		uint8_t w[] = { 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff };

		CHECK(kc_hpack_huffman_decode(w, sizeof(w), dec, sizeof(dec), &outl) == 0);
		CHECK(outl == 15 && memcmp(dec, "www.example.com", 15) == 0);
	}
	/* '0' = 00000 + 3 one bits of padding */
	{
		uint8_t ok[] = { 0x07 }, zero_pad[] = { 0x00 }, long_pad[] = { 0x07, 0xff };
		uint8_t eos[] = { 0xff, 0xff, 0xff, 0xff };

		CHECK(kc_hpack_huffman_decode(ok, 1, dec, sizeof(dec), &outl) == 0 && outl == 1 &&
		      dec[0] == '0');
		CHECK(kc_hpack_huffman_decode(zero_pad, 1, dec, sizeof(dec), &outl) == -EINVAL);
		CHECK(kc_hpack_huffman_decode(long_pad, 2, dec, sizeof(dec), &outl) == -EINVAL);
		CHECK(kc_hpack_huffman_decode(eos, 4, dec, sizeof(dec), &outl) == -EINVAL);
		CHECK(kc_hpack_huffman_decode(ok, 0, dec, sizeof(dec), &outl) == 0 && outl == 0);
	}
	/* output beyond out_cap is counted, not written */
	{
		uint8_t small[4];

		CHECK(kc_hpack_huffman_decode(enc, n, small, sizeof(small), &outl) == 0);
		CHECK(outl == 256 && small[3] == 3);
	}
}

static void test_errors(void)
{
	struct kc_hpack_dec d;
	struct collect c;

	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "80", &c) == -EINVAL);            /* index 0 */
	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "be", &c) == -EINVAL);            /* index 62, empty table */
	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "ff ff ff ff ff 0f", &c) == -EINVAL); /* > 2^32 */
	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "ff 80 80 80 80 80 80 01", &c) == -EINVAL); /* too long */
	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "ff", &c) == -EINVAL);            /* truncated integer */
	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "40 05 61 62", &c) == -EINVAL);   /* truncated string */
	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "3fe21f", &c) == -EINVAL);        /* size update 4097 > limit */
	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "82 3f e1 1f", &c) == -EINVAL);   /* size update after a field */
	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "3f e1 1f 82", &c) == 0);         /* 4096 at the start is fine */
	CHECK(strcmp(c.buf, ":method: GET\n") == 0);
	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "40 81 00 01 61", &c) == -EINVAL); /* Huffman zero padding */
	/* integer exactly at the prefix boundary: index 127 = 7f 00 */
	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "ff 00", &c) == -EINVAL); /* 127: past the empty table */
}

static void test_size_updates(void)
{
	struct kc_hpack_dec d;
	struct collect c;
	char t[2048];

	kc_hpack_dec_init(&d, 4096);
	CHECK(decode_hex(&d, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", &c) == 0);
	CHECK(d.count == 1 && d.size == 57);
	/* shrink to 0 evicts everything, then back to 100 */
	CHECK(decode_hex(&d, "20 3f 45 82", &c) == 0);
	CHECK(d.count == 0 && d.size == 0 && d.max_size == 100);
	/* 100 allows one 57-byte entry; a second one evicts the first */
	CHECK(decode_hex(&d, "41 0f 77 77 77 2e 65 78 61 6d 70 6c 65 2e 63 6f 6d", &c) == 0);
	CHECK(d.count == 1);
	CHECK(decode_hex(&d, "41 0f 77 77 77 2e 65 78 61 6d 70 6c 65 2e 63 6f 6e", &c) == 0);
	table_str(&d, t, sizeof(t));
	CHECK(strcmp(t, ":authority: www.example.con\n") == 0);
	CHECK(d.size == 57);
	/* an entry bigger than the maximum empties the table (4.4) */
	CHECK(decode_hex(&d, "40 01 61 48 "
			     "6161616161616161616161616161616161616161616161616161616161616161"
			     "6161616161616161616161616161616161616161616161616161616161616161"
			     "6161616161616161",
			 &c) == 0);
	CHECK(d.count == 0 && d.size == 0);
	/* SETTINGS raise the limit; a size update above the old one is then fine */
	CHECK(decode_hex(&d, "3f e1 3f", &c) == -EINVAL); /* 8192 > 4096 */
	kc_hpack_dec_init(&d, 4096);
	kc_hpack_dec_set_limit(&d, 8192);
	CHECK(decode_hex(&d, "3f e1 3f", &c) == 0);
	CHECK(d.max_size == 8192);
}

/* Eviction wrap: many insertions cycle the descriptor ring and slide data. */
static void test_many_insertions(void)
{
	struct kc_hpack_dec d;
	struct collect c;
	uint8_t blk[64];
	char want[64];

	kc_hpack_dec_init(&d, 4096);
	for (unsigned i = 0; i < 1000; i++) {
		size_t n = 0;
		int vl = snprintf(want, sizeof(want), "value-%04u", i);

		blk[n++] = 0x40;
		blk[n++] = 5;
		memcpy(blk + n, "x-key", 5);
		n += 5;
		blk[n++] = (uint8_t)vl;
		memcpy(blk + n, want, (size_t)vl);
		n += (size_t)vl;
		/* then reference the entry inserted 3 blocks ago (index 62 + 3) */
		if (i >= 3)
			blk[n++] = 0x80 | (62 + 3);
		memset(&c, 0, sizeof(c));
		if (kc_hpack_decode(&d, blk, n, collect_fn, &c) != 0) {
			CHECK(0);
			return;
		}
		if (i >= 3) {
			char exp[128];

			snprintf(exp, sizeof(exp), "x-key: %s\nx-key: value-%04u\n", want, i - 3);
			if (strcmp(c.buf, exp) != 0) {
				CHECK(strcmp(c.buf, exp) == 0);
				return;
			}
		}
	}
	/* each entry is 5 + 10 + 32 = 47 bytes: 87 fit in 4096 */
	CHECK(d.count == 87);
	CHECK(d.size == 87u * 47u);
}

/* Partial table: a mid-stream join knows only entries it saw inserted. */
static void test_partial(void)
{
	struct kc_hpack_dec d;
	struct collect c;

	kc_hpack_dec_init(&d, 4096);
	kc_hpack_dec_set_partial(&d);
	/* static references and literals decode */
	CHECK(decode_hex(&d, "8286 04 0c 2f73 616d 706c 652f 7061 7468", &c) == 0);
	CHECK(strcmp(c.buf, ":method: GET\n:scheme: http\n:path: /sample/path\n") == 0);
	/* index 62 refers to an entry from before the join: skipped, -ENOENT,
	 * the rest of the block still decoded and applied */
	CHECK(decode_hex(&d, "be 82 41 0f 77 77 77 2e 65 78 61 6d 70 6c 65 2e 63 6f 6d", &c) ==
	      -ENOENT);
	CHECK(strcmp(c.buf, ":method: GET\n:authority: www.example.com\n") == 0);
	/* the entry we saw inserted is index 62 now: known */
	CHECK(decode_hex(&d, "be", &c) == 0);
	CHECK(strcmp(c.buf, ":authority: www.example.com\n") == 0);
	/* index 63 is older than the join */
	CHECK(decode_hex(&d, "bf", &c) == -ENOENT);
	/* a literal whose name is an unknown entry, with indexing: everything
	 * we held is shifted by an unknown entry, so forget it */
	CHECK(decode_hex(&d, "7f 02 01 61", &c) == -ENOENT); /* name index 65 */
	CHECK(d.count == 0);
	CHECK(decode_hex(&d, "be", &c) == -ENOENT);
	/* a size update to 0 makes the table whole again */
	CHECK(decode_hex(&d, "20", &c) == 0);
	CHECK(d.partial == 0);
	CHECK(decode_hex(&d, "be", &c) == -EINVAL);
}

/* Peer allows a table bigger than our cap: newest entries kept, older ones
 * become unknown rather than wrong. */
static void test_cap(void)
{
	struct kc_hpack_dec d;
	struct collect c;
	static uint8_t blk[8192];
	size_t n = 0;

	kc_hpack_dec_init(&d, 4096);
	kc_hpack_dec_set_limit(&d, 65536);
	blk[n++] = 0x3f; /* size update 65536 = 31 + 65505 */
	blk[n++] = 0xe1;
	blk[n++] = 0xff;
	blk[n++] = 0x03;
	for (int i = 0; i < 5; i++) {
		/* literal with indexing, new name "k", 1000-byte value:
		 * 1033 each, 5 = 5165 > 4096 */
		blk[n++] = 0x40;
		blk[n++] = 1;
		blk[n++] = 'k';
		blk[n++] = 0x7f; /* 1000 = 127 + 873 */
		blk[n++] = 0xe9;
		blk[n++] = 0x06;
		memset(blk + n, 'a' + i, 1000);
		n += 1000;
		if (i == 1) {
			memset(&c, 0, sizeof(c));
			CHECK(kc_hpack_decode(&d, blk, n, NULL, NULL) == 0);
			n = 0;
		}
	}
	CHECK(kc_hpack_decode(&d, blk, n, NULL, NULL) == 0);
	CHECK(d.partial == 1);
	CHECK(d.count == 3);
	CHECK(decode_hex(&d, "be", &c) == 0);
	CHECK(c.len == 1 + 2 + 1000 + 1 && c.buf[3] == 'e');
	CHECK(decode_hex(&d, "c1", &c) == -ENOENT); /* index 4: 'b', not held */
}

int main(void)
{
	test_c2();
	test_c3_c4();
	test_c5_c6();
	test_huffman();
	test_errors();
	test_size_updates();
	test_many_insertions();
	test_partial();
	test_cap();
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail == 0 ? 0 : 1;
}
