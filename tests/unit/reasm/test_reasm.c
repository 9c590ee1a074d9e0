/* Unit tests of lib/reasm: exact delivered byte streams, gaps and counters for
 * each policy in kc_reasm.h, plus a seeded property test over random
 * segmentations and permutations. Plain executable, no EAL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_reasm.h"

static int n_pass, n_fail;

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (cond) {                                                             \
			n_pass++;                                                       \
		} else {                                                                \
			n_fail++;                                                       \
			fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__,      \
				__LINE__, __func__, #cond);                             \
		}                                                                       \
	} while (0)

#define CHECK_EQ(a, b)                                                                  \
	do {                                                                            \
		unsigned long long a_ = (unsigned long long)(a);                        \
		unsigned long long b_ = (unsigned long long)(b);                        \
		if (a_ == b_) {                                                         \
			n_pass++;                                                       \
		} else {                                                                \
			n_fail++;                                                       \
			fprintf(stderr, "%s:%d: %s: %s == %llu, expected %s == %llu\n", \
				__FILE__, __LINE__, __func__, #a, a_, #b, b_);          \
		}                                                                       \
	} while (0)

/* What the consumer saw: the bytes, and each delivery's gap and pointer. */
#define SINK_MAX (1u << 20)
#define SINK_CALLS 4096
struct sink {
	uint8_t buf[SINK_MAX];
	uint32_t len;
	uint32_t calls;
	uint64_t gap_total;
	uint32_t ngaps;
	uint32_t gap[SINK_CALLS];     /* gap_before of each call */
	uint32_t gap_at[SINK_CALLS];  /* buf offset where that call's data starts */
	const uint8_t *ptr[SINK_CALLS];
	uint32_t clen[SINK_CALLS];
	uint64_t ts[SINK_CALLS];
};

static struct sink S;

static void sink_reset(void)
{
	memset(&S, 0, sizeof(S));
}

static void deliver(void *ctx, const uint8_t *data, uint32_t len, uint32_t gap, uint64_t ts)
{
	struct sink *s = ctx;

	if (s->calls < SINK_CALLS) {
		s->gap[s->calls] = gap;
		s->gap_at[s->calls] = s->len;
		s->ptr[s->calls] = data;
		s->clen[s->calls] = len;
		s->ts[s->calls] = ts;
	}
	s->calls++;
	if (gap != 0) {
		s->ngaps++;
		s->gap_total += gap;
	}
	if (s->len + len <= SINK_MAX) {
		if (len != 0)
			memcpy(s->buf + s->len, data, len);
		s->len += len;
	}
}

static int sink_is(const char *want)
{
	size_t n = strlen(want);

	if (S.len != n || memcmp(S.buf, want, n) != 0) {
		fprintf(stderr, "  delivered %u bytes \"%.*s\", expected \"%s\"\n", S.len,
			(int)(S.len > 200 ? 200 : S.len), (const char *)S.buf, want);
		return 0;
	}
	return 1;
}

static struct kc_reasm_core *mk_core(uint32_t chunk_size, uint32_t n_chunks, uint64_t memcap,
				     uint32_t dir_bytes, uint32_t dir_segs)
{
	struct kc_reasm_cfg cfg;
	struct kc_err err = { { 0 } };
	struct kc_reasm_core *c;

	kc_reasm_cfg_default(&cfg);
	cfg.chunk_size = chunk_size;
	cfg.n_chunks = n_chunks;
	cfg.memcap_bytes = memcap;
	cfg.max_dir_bytes = dir_bytes;
	cfg.max_dir_segs = dir_segs;
	c = kc_reasm_core_create(&cfg, &err);
	if (c == NULL) {
		fprintf(stderr, "core_create: %s\n", err.msg);
		exit(2);
	}
	return c;
}

static struct kc_reasm_core *mk_default(void)
{
	return mk_core(64, 64, 0, 1 << 20, 1000);
}

static void push(struct kc_reasm_core *c, struct kc_reasm_dir *d, uint32_t seq, uint8_t fl,
		 const char *p)
{
	int rc = kc_reasm_push(c, d, seq, fl, (const uint8_t *)p, p ? (uint32_t)strlen(p) : 0,
			       seq, deliver, &S);
	CHECK_EQ(rc, 0);
}

#define SYN KC_REASM_TCP_SYN
#define FIN KC_REASM_TCP_FIN
#define RST KC_REASM_TCP_RST
#define ACK KC_REASM_TCP_ACK

static void test_in_order_zero_copy(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;
	static const char a[] = "Hello ", b[] = "World";
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 1000, SYN, NULL);
	push(c, &d, 1001, ACK, a);
	push(c, &d, 1007, ACK, b);
	CHECK(sink_is("Hello World"));
	CHECK_EQ(S.calls, 2);
	CHECK(S.ptr[0] == (const uint8_t *)a); /* zero copy: caller's pointer */
	CHECK(S.ptr[1] == (const uint8_t *)b);
	CHECK_EQ(S.ts[1], 1007);
	CHECK_EQ(S.ngaps, 0);
	CHECK_EQ(st->segments_in_order, 2);
	CHECK_EQ(st->bytes_in_order, 11);
	CHECK_EQ(st->segments_ooo, 0);
	CHECK_EQ(st->syn, 1);
	CHECK_EQ(d.offset, 11);
	CHECK_EQ(d.next_seq, 1012);
	CHECK_EQ(kc_reasm_core_chunks_used(c), 0);
	kc_reasm_core_destroy(c);
}

static void test_reordered(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 99, SYN, NULL);
	push(c, &d, 110, 0, "klmnopqrst");  /* 3rd */
	push(c, &d, 105, 0, "fghij");       /* 2nd */
	CHECK_EQ(S.len, 0);
	CHECK_EQ(kc_reasm_core_chunks_used(c), 2);
	CHECK_EQ(d.held_bytes, 15);
	push(c, &d, 100, 0, "abcde");       /* 1st */
	CHECK(sink_is("abcdefghijklmnopqrst"));
	CHECK_EQ(S.ngaps, 0);
	CHECK_EQ(st->segments_ooo, 2);
	CHECK_EQ(st->bytes_ooo, 15);
	CHECK_EQ(st->segments_in_order, 1);
	CHECK_EQ(st->bytes_delivered, 20);
	CHECK_EQ(kc_reasm_core_chunks_used(c), 0);
	CHECK_EQ(d.held_bytes, 0);
	CHECK_EQ(d.held_segs, 0);
	kc_reasm_core_destroy(c);
}

static void test_retransmission(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 1, 0, "abcd");
	push(c, &d, 1, 0, "abcd");
	push(c, &d, 5, 0, "efgh");
	push(c, &d, 1, 0, "abcdefgh"); /* resend of both */
	CHECK(sink_is("abcdefgh"));
	CHECK_EQ(st->retransmissions, 2);
	CHECK_EQ(st->overlap_bytes, 12);
	CHECK_EQ(st->overlaps, 0);
	kc_reasm_core_destroy(c);
}

/* "GOOD" then "EVIL" at the same sequence number (suricata-verify
 * eve-overlap-payload-01): first copy wins. Held case: conflict counted. */
static void test_exact_overlap(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 1, 0, "GOOD");
	push(c, &d, 1, 0, "EVIL"); /* delivered bytes are not kept: retransmission */
	CHECK(sink_is("GOOD"));
	CHECK_EQ(st->retransmissions, 1);
	CHECK_EQ(st->overlaps_conflict, 0);

	/* Same, but both copies arrive while a hole precedes them. */
	push(c, &d, 9, 0, "GOOD");
	push(c, &d, 9, 0, "EVIL");
	push(c, &d, 9, 0, "GOOD");
	CHECK_EQ(st->retransmissions, 3);
	CHECK_EQ(st->overlaps_conflict, 1);
	push(c, &d, 5, 0, "1234");
	CHECK(sink_is("GOOD1234GOOD"));
	CHECK_EQ(kc_reasm_core_chunks_used(c), 0);
	kc_reasm_core_destroy(c);
}

/* "GOOD" then "XXX" one byte later (eve-overlap-payload-04): first wins. */
static void test_partial_overlap(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 1, 0, "GOOD");
	push(c, &d, 2, 0, "XXX");
	CHECK(sink_is("GOOD"));
	CHECK_EQ(st->retransmissions, 1);
	push(c, &d, 3, 0, "ODZZ"); /* 2 old bytes, 2 new */
	CHECK(sink_is("GOODZZ"));
	CHECK_EQ(st->overlaps, 1);
	CHECK_EQ(st->overlap_bytes, 3 + 2);

	/* Held chunk [17,21) "BBBB"; a later segment [15,23) disagrees on it.
	 * next_seq is 7: hole [7,15). */
	push(c, &d, 17, 0, "BBBB");
	push(c, &d, 15, 0, "xxCCCCyy");
	CHECK_EQ(st->overlaps_conflict, 1);
	CHECK_EQ(st->overlaps, 2);
	CHECK_EQ(d.held_bytes, 8);
	push(c, &d, 7, 0, "01234567");
	CHECK(sink_is("GOODZZ01234567xxBBBByy"));

	/* In-order segment running over a held chunk that disagrees. */
	push(c, &d, 27, 0, "HELD");
	push(c, &d, 23, 0, "abcdEVILefgh"); /* [23,35) */
	CHECK(sink_is("GOODZZ01234567xxBBBByyabcdHELDefgh"));
	CHECK_EQ(st->overlaps_conflict, 2);
	CHECK_EQ(kc_reasm_core_chunks_used(c), 0);
	kc_reasm_core_destroy(c);
}

static void test_gap_by_ack(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 1, 0, "0123456789");
	push(c, &d, 21, 0, "KLMNOPQRST"); /* [11,21) lost */
	push(c, &d, 41, 0, "abcdefghij"); /* [31,41) lost */
	CHECK(sink_is("0123456789"));
	/* ACK at or below next_seq does nothing. */
	kc_reasm_ack(c, &d, 11, 1000, 77, deliver, &S);
	CHECK_EQ(S.calls, 1);
	/* The peer acknowledged up to 31: it has [11,21), we never will. */
	kc_reasm_ack(c, &d, 31, 1000, 77, deliver, &S);
	CHECK(sink_is("0123456789KLMNOPQRST"));
	CHECK_EQ(S.calls, 2);
	CHECK_EQ(S.gap[1], 10);
	CHECK_EQ(S.gap_at[1], 10);
	CHECK_EQ(S.ts[1], 77);
	CHECK_EQ(st->gaps, 1);
	CHECK_EQ(st->gap_bytes, 10);
	CHECK_EQ(st->gap_ack, 1);
	CHECK_EQ(d.offset, 30);
	/* The lost segment arriving now is old. */
	push(c, &d, 11, 0, "klmnopqrst");
	CHECK_EQ(S.len, 20);
	CHECK_EQ(st->retransmissions, 1);
	/* Close: the second hole is skipped by flush. */
	kc_reasm_flush(c, &d, 99, deliver, &S);
	CHECK(sink_is("0123456789KLMNOPQRSTabcdefghij"));
	CHECK_EQ(S.gap[2], 10);
	CHECK_EQ(st->gap_flush, 1);
	CHECK_EQ(st->gaps, 2);
	CHECK_EQ(d.offset, 50);
	CHECK_EQ(kc_reasm_core_chunks_used(c), 0);
	kc_reasm_core_destroy(c);
}

static void test_flush_trailing_gap(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 1, 0, "abc");
	push(c, &d, 9, FIN, "xy"); /* [4,9) lost; FIN at 11 */
	CHECK_EQ(d.fin_seq, 11);
	kc_reasm_flush(c, &d, 5, deliver, &S);
	CHECK(sink_is("abcxy"));
	CHECK_EQ(S.gap[1], 5);
	CHECK_EQ(S.calls, 2);

	/* FIN known but the bytes before it never came: trailing gap with len 0. */
	sink_reset();
	kc_reasm_dir_release(c, &d);
	push(c, &d, 100, SYN, NULL);
	push(c, &d, 101, 0, "abc");
	push(c, &d, 110, FIN, NULL); /* FIN at 110: [104,110) missing */
	kc_reasm_flush(c, &d, 5, deliver, &S);
	CHECK(sink_is("abc"));
	CHECK_EQ(S.calls, 2);
	CHECK_EQ(S.clen[1], 0);
	CHECK(S.ptr[1] == NULL);
	CHECK_EQ(S.gap[1], 6);
	CHECK_EQ(d.offset, 9);

	/* Peer ACKed bytes we never saw, no FIN: trailing gap up to the ACK. */
	sink_reset();
	kc_reasm_dir_release(c, &d);
	push(c, &d, 100, SYN, NULL);
	push(c, &d, 101, 0, "abc");
	kc_reasm_ack(c, &d, 200, 10, 0, deliver, &S);
	CHECK_EQ(S.calls, 1);
	kc_reasm_flush(c, &d, 5, deliver, &S);
	CHECK_EQ(S.calls, 2);
	CHECK_EQ(S.gap[1], 96);
	CHECK_EQ(st->gap_flush, 3);
	kc_reasm_core_destroy(c);
}

static void test_midstream_pickup(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	/* ACK before the direction started is ignored (no anchor). */
	kc_reasm_ack(c, &d, 5000, 100, 0, deliver, &S);
	push(c, &d, 4990, 0, NULL); /* bare ACK: does not start */
	push(c, &d, 5000, 0, "mid");
	push(c, &d, 5003, 0, "stream");
	push(c, &d, 4990, 0, "earlier..."); /* before the start: old */
	CHECK(sink_is("midstream"));
	CHECK_EQ(st->pickups, 1);
	CHECK_EQ(st->retransmissions, 1);
	CHECK_EQ(S.ngaps, 0);
	kc_reasm_core_destroy(c);
}

static void test_wraparound(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0xFFFFFFF5u, SYN, NULL);        /* data starts at 0xFFFFFFF6 */
	push(c, &d, 0xFFFFFFFEu + 8, 0, "KLMNO");   /* wrapped: 6 */
	push(c, &d, 0xFFFFFFFCu, 0, "EFGHIJ");      /* 0xFFFFFFFC .. 2 */
	push(c, &d, 2, 0, "ghij");                  /* 2 .. 6 */
	CHECK_EQ(S.len, 0);
	push(c, &d, 0xFFFFFFF6u, 0, "012345");      /* fills the front */
	CHECK(sink_is("012345EFGHIJghijKLMNO"));
	CHECK_EQ(d.next_seq, 11);
	CHECK_EQ(S.ngaps, 0);
	/* A gap across the wrap. */
	sink_reset();
	kc_reasm_dir_release(c, &d);
	push(c, &d, 0xFFFFFFF0u, 0, "ab");
	push(c, &d, 0x00000004u, 0, "cd"); /* hole 0xFFFFFFF2 .. 4: 18 bytes */
	kc_reasm_flush(c, &d, 0, deliver, &S);
	CHECK(sink_is("abcd"));
	CHECK_EQ(S.gap[1], 18);
	CHECK_EQ(kc_reasm_core_chunks_used(c), 0);
	kc_reasm_core_destroy(c);
}

static void test_keepalive(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 1, 0, "data");
	push(c, &d, 4, 0, "\x01");  /* 1 garbage byte at next-1 */
	kc_reasm_push(c, &d, 4, ACK, (const uint8_t *)"Z", 1, 0, deliver, &S);
	push(c, &d, 4, ACK, NULL);  /* 0 bytes at next-1 */
	push(c, &d, 5, ACK, NULL);  /* plain ACK: not a keep-alive */
	push(c, &d, 5, 0, "more");
	CHECK(sink_is("datamore"));
	CHECK_EQ(st->keepalives, 3);
	CHECK_EQ(st->retransmissions, 0);
	CHECK_EQ(S.ngaps, 0);
	kc_reasm_core_destroy(c);
}

static void test_zero_window_probe(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 1, 0, "abc");
	kc_reasm_ack(c, &d, 4, 0, 0, deliver, &S);  /* receiver: window 0 */
	push(c, &d, 4, ACK, "X");                    /* probe: dropped by receiver */
	push(c, &d, 4, ACK, "Y");                    /* probe again */
	push(c, &d, 3, ACK, NULL);                   /* Linux-style probe at next-1 */
	CHECK(sink_is("abc"));
	CHECK_EQ(st->zero_window_probes, 3);
	kc_reasm_ack(c, &d, 4, 8192, 0, deliver, &S); /* window reopens */
	push(c, &d, 4, ACK, "Z");
	push(c, &d, 5, ACK, "def");
	CHECK(sink_is("abcZdef"));
	CHECK_EQ(S.ngaps, 0);
	CHECK_EQ(st->gaps, 0);
	kc_reasm_core_destroy(c);
}

static void test_fin(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 1, FIN | ACK, "bye");          /* FIN occupies seq 4 */
	push(c, &d, 5, ACK, "late");               /* after the FIN */
	push(c, &d, 2, ACK, "yeXX");               /* straddles the FIN */
	push(c, &d, 1, FIN | ACK, "bye");          /* FIN retransmitted */
	CHECK(sink_is("bye"));
	CHECK_EQ(st->fin, 2);
	CHECK_EQ(st->data_after_fin, 2);
	CHECK_EQ(st->data_after_fin_bytes, 4 + 2);
	CHECK_EQ(st->retransmissions, 2);
	kc_reasm_flush(c, &d, 0, deliver, &S);
	CHECK_EQ(S.calls, 1); /* nothing missing */

	/* A FIN before the next expected byte is bogus: ignored, counted. */
	sink_reset();
	kc_reasm_dir_release(c, &d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 1, 0, "abcdef");
	push(c, &d, 2, FIN, NULL);   /* FIN at 2 < next 7 */
	push(c, &d, 7, 0, "ghi");
	CHECK(sink_is("abcdefghi"));
	CHECK_EQ(st->fin_ignored, 1);

	/* FIN arrives before the data preceding it. */
	sink_reset();
	kc_reasm_dir_release(c, &d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 4, FIN, "def");  /* FIN at 7 */
	push(c, &d, 1, 0, "abc");
	push(c, &d, 7, 0, "ghi");    /* beyond the FIN */
	CHECK(sink_is("abcdef"));
	CHECK_EQ(st->data_after_fin, 3);
	CHECK_EQ(st->fin, 4);
	kc_reasm_core_destroy(c);
}

static void test_rst(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 1, 0, "abc");
	push(c, &d, 4, RST | ACK, "zzz");
	CHECK(sink_is("abc"));
	CHECK_EQ(st->rst, 1);
	CHECK_EQ(st->rst_payload_bytes, 3);
	/* The direction stays open: a spoofed RST must not blind us. */
	push(c, &d, 4, ACK, "def");
	CHECK(sink_is("abcdef"));
	kc_reasm_core_destroy(c);
}

/* SYN retransmission, SYN with data, and a SYN restarting an empty direction
 * after a spoofed RST/FIN (suricata-verify bug-3286 evasion). */
static void test_syn(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 500, SYN, "tfo");   /* SYN with data: bytes at 501 */
	push(c, &d, 500, SYN, "tfo");   /* retransmitted SYN */
	push(c, &d, 504, 0, "!");
	CHECK(sink_is("tfo!"));
	CHECK_EQ(st->syn, 2);
	CHECK_EQ(st->syn_retrans, 1);
	CHECK_EQ(st->retransmissions, 1);
	push(c, &d, 9000, SYN, "new"); /* new ISN after data: ignored */
	CHECK(sink_is("tfo!"));
	CHECK_EQ(st->syn_ignored, 1);

	sink_reset();
	kc_reasm_dir_release(c, &d);
	push(c, &d, 0, RST | ACK, NULL);
	push(c, &d, 0, FIN | ACK, NULL);
	push(c, &d, 26175, SYN | ACK, NULL);
	push(c, &d, 26176, ACK, "HTTP/1.1 200 OK");
	CHECK(sink_is("HTTP/1.1 200 OK"));
	CHECK_EQ(st->syn_restart, 0); /* the FIN alone did not start it */

	/* A direction that delivered nothing and holds nothing restarts on a
	 * SYN with another ISN. */
	sink_reset();
	kc_reasm_dir_release(c, &d);
	push(c, &d, 50, 0, NULL);
	push(c, &d, 50, SYN, NULL);
	push(c, &d, 70, SYN, NULL);      /* other ISN, nothing delivered: restart */
	push(c, &d, 71, 0, "x");
	CHECK(sink_is("x"));
	CHECK_EQ(st->syn_restart, 1);
	kc_reasm_core_destroy(c);
}

/* Per-core memcap: a second direction cannot hold; it gets a gap and its
 * data at once; the first direction keeps its held data; no leak. */
static void test_memcap_core(void)
{
	struct kc_reasm_core *c = mk_core(64, 8, 4 * 64, 1 << 20, 1000);
	struct kc_reasm_dir a, b;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);
	char big[4 * 64 + 1];

	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	sink_reset();
	kc_reasm_dir_init(&a);
	kc_reasm_dir_init(&b);
	push(c, &a, 0, SYN, NULL);
	push(c, &a, 11, 0, big);        /* hole [1,11), holds 4 chunks */
	CHECK_EQ(kc_reasm_core_chunks_used(c), 4);
	CHECK_EQ(kc_reasm_core_memcap(c)->used, 256);
	push(c, &b, 0, SYN, NULL);
	push(c, &b, 1, 0, "abc");
	push(c, &b, 9, 0, "xyz");       /* hole [4,9), but no memory */
	CHECK(sink_is("abcxyz"));
	CHECK_EQ(S.gap[1], 5);
	CHECK_EQ(st->memcap_drops, 1);
	CHECK_EQ(st->gap_memcap, 1);
	CHECK_EQ(kc_reasm_core_memcap(c)->refused, 1);
	CHECK_EQ(kc_reasm_core_chunks_used(c), 4);
	push(c, &b, 4, 0, "defgh");     /* arrives too late */
	CHECK(sink_is("abcxyz"));
	/* Release without flush discards a's held bytes, counted. */
	kc_reasm_dir_release(c, &a);
	CHECK_EQ(st->released_bytes, 256);
	CHECK_EQ(kc_reasm_core_chunks_used(c), 0);
	CHECK_EQ(kc_reasm_core_memcap(c)->used, 0);
	CHECK_EQ(kc_reasm_core_memcap(c)->peak, 256);

	/* Memcap hit part way through a segment: stored part stays ordered. */
	sink_reset();
	kc_reasm_dir_release(c, &b);
	kc_reasm_dir_init(&a);
	push(c, &a, 0, SYN, NULL);
	{
		char seg[6 * 64 + 1];
		int i;

		for (i = 0; i < 6 * 64; i++)
			seg[i] = (char)('a' + i % 26);
		seg[6 * 64] = 0;
		push(c, &a, 3, 0, seg);  /* [3,387): 4 chunks fit, 2 do not */
		CHECK_EQ(S.len, 6 * 64);
		CHECK_EQ(S.gap[0], 2);
		CHECK(memcmp(S.buf, seg, 6 * 64) == 0);
		CHECK_EQ(st->memcap_drops, 2);
	}
	CHECK_EQ(kc_reasm_core_chunks_used(c), 0);
	kc_reasm_core_destroy(c);
}

/* Per-direction bound: the oldest hole is given up when a new segment would
 * exceed it. */
static void test_dir_limit(void)
{
	struct kc_reasm_core *c = mk_core(64, 64, 0, 1 << 20, 2);
	struct kc_reasm_dir d;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 1, 0, "a");
	push(c, &d, 4, 0, "d");   /* hole [2,4) */
	push(c, &d, 7, 0, "g");   /* hole [5,7) */
	CHECK_EQ(d.held_segs, 2);
	push(c, &d, 10, 0, "j");  /* third held chunk: over the bound */
	CHECK(sink_is("ad"));
	CHECK_EQ(S.gap[1], 2);
	CHECK_EQ(st->dir_limit_drops, 1);
	CHECK_EQ(st->gap_dir_limit, 1);
	CHECK_EQ(d.held_segs, 2);
	push(c, &d, 5, 0, "ef");  /* fills a hole: g follows */
	CHECK(sink_is("adefg"));
	push(c, &d, 8, 0, "hi");
	CHECK(sink_is("adefghij"));
	CHECK_EQ(kc_reasm_core_chunks_used(c), 0);

	/* A small segment spanning held chunks is split into several pieces:
	 * the chunk bound must count them (found by fuzz_reasm). */
	kc_reasm_core_destroy(c);
	c = mk_core(256, 64, 0, 1 << 20, 3);
	st = kc_reasm_core_stats(c);
	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 11, 0, "K");
	push(c, &d, 21, 0, "U");
	push(c, &d, 6, 0, "fghijXlmnopqrstXvwxy"); /* [6,26): 3 new pieces */
	CHECK(d.held_segs <= 3);
	CHECK_EQ(st->dir_limit_drops, 1);
	CHECK(sink_is("fghijKlmnopqrstUvwxy"));
	CHECK_EQ(S.gap[0], 5);
	CHECK_EQ(st->overlaps_conflict, 1);
	CHECK_EQ(kc_reasm_core_chunks_used(c), 0);

	/* Byte bound smaller than a segment: delivered at once after a gap. */
	kc_reasm_core_destroy(c);
	c = mk_core(64, 64, 0, 10, 100);
	st = kc_reasm_core_stats(c);
	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 1, 0, "a");
	push(c, &d, 5, 0, "0123456789ABCDEF");
	CHECK(sink_is("a0123456789ABCDEF"));
	CHECK_EQ(S.gap[1], 3);
	CHECK_EQ(st->dir_limit_drops, 1);
	CHECK_EQ(kc_reasm_core_chunks_used(c), 0);
	kc_reasm_core_destroy(c);
}

/* KC_REASM_POLICY_DROP: the segment that does not fit is refused and the
 * direction keeps waiting for the hole. */
static void test_drop_policy(void)
{
	struct kc_reasm_cfg cfg;
	struct kc_reasm_core *c;
	struct kc_reasm_dir d, e;
	const struct kc_reasm_stats *st;

	kc_reasm_cfg_default(&cfg);
	cfg.chunk_size = 64;
	cfg.n_chunks = 3;
	cfg.max_dir_segs = 2;
	cfg.dir_limit_policy = KC_REASM_POLICY_DROP;
	cfg.memcap_policy = KC_REASM_POLICY_DROP;
	c = kc_reasm_core_create(&cfg, NULL);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	st = kc_reasm_core_stats(c);
	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 1, 0, "a");
	push(c, &d, 4, 0, "d");
	push(c, &d, 7, 0, "g");
	push(c, &d, 10, 0, "jk");  /* over the bound: refused */
	CHECK(sink_is("a"));
	CHECK_EQ(st->dir_limit_drops, 1);
	CHECK_EQ(st->policy_drop_bytes, 2);
	CHECK_EQ(st->gaps, 0);
	push(c, &d, 2, 0, "bc");   /* the hole fills: waiting paid off */
	push(c, &d, 5, 0, "ef");
	push(c, &d, 8, 0, "hi");
	CHECK(sink_is("abcdefghi"));
	push(c, &d, 10, 0, "jk");  /* resent: now in order */
	CHECK(sink_is("abcdefghijk"));

	/* Memcap: 3 chunks; d holds 2, e gets 1, the next is refused. */
	sink_reset();
	kc_reasm_dir_init(&e);
	push(c, &d, 20, 0, "X");
	push(c, &d, 30, 0, "Y");
	push(c, &e, 0, SYN, NULL);
	push(c, &e, 5, 0, "e5");
	push(c, &e, 9, 0, "e9xyz");
	CHECK_EQ(st->memcap_drops, 1);
	CHECK_EQ(st->policy_drop_bytes, 2 + 5);
	CHECK_EQ(S.len, 0);
	CHECK_EQ(kc_reasm_core_chunks_used(c), 3);
	kc_reasm_flush(c, &e, 0, deliver, &S);
	CHECK(sink_is("e5"));
	CHECK_EQ(S.gap[0], 4);
	kc_reasm_dir_release(c, &d);
	kc_reasm_dir_release(c, &e);
	CHECK_EQ(kc_reasm_core_chunks_used(c), 0);
	cfg.memcap_policy = 7;
	CHECK(kc_reasm_core_create(&cfg, NULL) == NULL);
	kc_reasm_core_destroy(c);
}

static void test_out_of_window_and_args(void)
{
	struct kc_reasm_core *c = mk_default();
	struct kc_reasm_dir d;
	const struct kc_reasm_stats *st = kc_reasm_core_stats(c);

	sink_reset();
	kc_reasm_dir_init(&d);
	push(c, &d, 0, SYN, NULL);
	push(c, &d, 1 + KC_REASM_MAX_WINDOW + 1, 0, "far");
	CHECK_EQ(st->out_of_window, 1);
	CHECK_EQ(kc_reasm_core_chunks_used(c), 0);
	CHECK_EQ(kc_reasm_push(c, &d, 1, 0, NULL, 3, 0, deliver, &S), -EINVAL);
	CHECK_EQ(kc_reasm_push(c, &d, 1, 0, (const uint8_t *)"x", 1, 0, NULL, &S), -EINVAL);
	CHECK_EQ(kc_reasm_push(NULL, &d, 1, 0, (const uint8_t *)"x", 1, 0, deliver, &S), -EINVAL);
	CHECK_EQ(S.len, 0);
	kc_reasm_core_destroy(c);
}

static void test_stats_names(void)
{
	struct kc_reasm_stats a, sum;
	size_t i, n = kc_reasm_stats_count();

	CHECK_EQ(n, sizeof(struct kc_reasm_stats) / sizeof(uint64_t));
	CHECK(strcmp(kc_reasm_stats_name(0), "reasm.segments") == 0);
	CHECK(kc_reasm_stats_name(n) == NULL);
	memset(&a, 0, sizeof(a));
	memset(&sum, 0, sizeof(sum));
	a.gap_ack = 5;
	a.released_bytes = 7;
	kc_reasm_stats_add(&sum, &a);
	kc_reasm_stats_add(&sum, &a);
	CHECK_EQ(sum.gap_ack, 10);
	CHECK_EQ(sum.released_bytes, 14);
	for (i = 0; i < n; i++)
		if (strcmp(kc_reasm_stats_name(i), "reasm.gap_ack") == 0)
			CHECK_EQ(kc_reasm_stats_value(&sum, i), 10);
	CHECK_EQ(kc_reasm_stats_value(&sum, n), 0);
}

static void test_cfg(void)
{
	struct kc_reasm_cfg cfg;
	struct kc_err err = { { 0 } };

	kc_reasm_cfg_default(&cfg);
	CHECK_EQ(cfg.chunk_size, KC_REASM_DEFAULT_CHUNK_SIZE);
	cfg.chunk_size = 10;
	errno = 0;
	CHECK(kc_reasm_core_create(&cfg, &err) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(strstr(err.msg, "chunk_size 10") != NULL);
	kc_reasm_cfg_default(&cfg);
	cfg.n_chunks = 4;
	cfg.chunk_size = 64;
	cfg.memcap_bytes = 4 * 64 + 1;
	CHECK(kc_reasm_core_create(&cfg, &err) == NULL);
	CHECK(strstr(err.msg, "memcap_bytes") != NULL);
	kc_reasm_cfg_default(&cfg);
	cfg.max_dir_segs = 70000;
	CHECK(kc_reasm_core_create(&cfg, NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(kc_reasm_core_create(NULL, NULL) == NULL);
	kc_reasm_core_destroy(NULL);
	CHECK_EQ(sizeof(struct kc_reasm_dir), 40);
}

/* --- Property test: random segmentation, reordering, duplication and
 * re-segmented overlaps of one stream always reassemble to the original. */

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: fixed seed, same sequence on every machine. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

struct seg {
	uint32_t off, len;
};

#define PROP_LEN 30000
#define PROP_SEGS 2048

static void test_property_permutations(void)
{
	static uint8_t stream[PROP_LEN];
	static struct seg segs[PROP_SEGS];
	uint32_t iter, bad = 0;

	rng_state = 0x6b63666c63617021ull;
	for (iter = 0; iter < 300; iter++) {
		struct kc_reasm_core *c = mk_core(256, 4096, 0, 1 << 20, 4000);
		const struct kc_reasm_stats *st = kc_reasm_core_stats(c);
		struct kc_reasm_dir d;
		uint32_t len = 1 + rnd() % PROP_LEN;
		uint32_t isn = (iter % 3 == 0) ? 0xFFFFFFFFu - rnd() % 20000 : rnd();
		uint32_t n = 0, off = 0, i, window = 1 + rnd() % 64;

		for (i = 0; i < len; i++)
			stream[i] = (uint8_t)rnd();
		while (off < len && n < PROP_SEGS - 64) {
			uint32_t l = 1 + rnd() % 1500;

			if (l > len - off)
				l = len - off;
			segs[n++] = (struct seg){ off, l };
			off += l;
		}
		if (off < len)
			segs[n++] = (struct seg){ off, len - off };
		/* Extra copies: exact duplicates and re-cut overlapping ranges. */
		for (i = 0; i < 32 && n < PROP_SEGS; i++) {
			uint32_t o = rnd() % len, l = 1 + rnd() % 3000;

			if (l > len - o)
				l = len - o;
			struct seg extra = (rnd() & 1) ? segs[rnd() % n] : (struct seg){ o, l };

			segs[n++] = extra;
		}
		/* Local shuffle: each segment moves at most `window` places, as
		 * reordering on a path does. */
		for (i = 0; i + 1 < n; i++) {
			uint32_t j = i + rnd() % (window < n - i ? window : n - i);
			struct seg t = segs[i];

			segs[i] = segs[j];
			segs[j] = t;
		}
		sink_reset();
		kc_reasm_dir_init(&d);
		kc_reasm_push(c, &d, isn, SYN, NULL, 0, 0, deliver, &S);
		for (i = 0; i < n; i++) {
			kc_reasm_push(c, &d, isn + 1 + segs[i].off, 0, stream + segs[i].off,
				      segs[i].len, i, deliver, &S);
			if (kc_reasm_dir_validate(c, &d) != 0)
				bad++;
		}
		kc_reasm_flush(c, &d, 0, deliver, &S);
		if (S.len != len || memcmp(S.buf, stream, len) != 0 || S.ngaps != 0 ||
		    st->overlaps_conflict != 0 || kc_reasm_core_chunks_used(c) != 0 ||
		    d.offset != len) {
			if (bad++ < 3)
				fprintf(stderr, "  iter %u: len %u got %u, gaps %u, chunks %u\n",
					iter, len, S.len, S.ngaps, kc_reasm_core_chunks_used(c));
		}
		kc_reasm_dir_release(c, &d);
		kc_reasm_core_destroy(c);
	}
	CHECK_EQ(bad, 0);
}

/* Random losses with flush: the delivered bytes are exactly the original with
 * the lost ranges cut out, and gap_before sums to the lost byte count (a
 * trailing loss is announced by the peer's ACK). Also small bounds, so the
 * dir-limit and memcap paths run; then only the invariants are checked. */
static void test_property_losses(void)
{
	static uint8_t stream[PROP_LEN], want[PROP_LEN];
	static struct seg segs[PROP_SEGS];
	static uint8_t lost[PROP_SEGS];
	uint32_t iter, bad = 0, bad_bounded = 0;

	rng_state = 0x1234567887654321ull;
	for (iter = 0; iter < 300; iter++) {
		int bounded = iter % 2;
		struct kc_reasm_core *c = bounded ? mk_core(64, 16, 0, 512, 6)
						  : mk_core(256, 4096, 0, 1 << 20, 4000);
		struct kc_reasm_dir d;
		uint32_t len = 1 + rnd() % PROP_LEN, isn = rnd();
		uint32_t n = 0, off = 0, i, wlen = 0, missing = 0;
		uint64_t pushed = 0;

		for (i = 0; i < len; i++)
			stream[i] = (uint8_t)rnd();
		while (off < len && n < PROP_SEGS) {
			uint32_t l = 1 + rnd() % 1500;

			if (l > len - off || n == PROP_SEGS - 1)
				l = len - off;
			lost[n] = (rnd() % 8) == 0;
			if (!lost[n]) {
				memcpy(want + wlen, stream + off, l);
				wlen += l;
			} else {
				missing += l;
			}
			segs[n++] = (struct seg){ off, l };
			off += l;
		}
		for (i = 0; i + 1 < n; i++) {
			uint32_t j = i + rnd() % (8 < n - i ? 8 : n - i);
			struct seg t = segs[i];
			uint8_t tl = lost[i];

			segs[i] = segs[j];
			lost[i] = lost[j];
			segs[j] = t;
			lost[j] = tl;
		}
		sink_reset();
		kc_reasm_dir_init(&d);
		kc_reasm_push(c, &d, isn, SYN, NULL, 0, 0, deliver, &S);
		for (i = 0; i < n; i++) {
			if (lost[i])
				continue;
			pushed += segs[i].len;
			kc_reasm_push(c, &d, isn + 1 + segs[i].off, 0, stream + segs[i].off,
				      segs[i].len, i, deliver, &S);
			if (kc_reasm_dir_validate(c, &d) != 0)
				bad++;
		}
		kc_reasm_ack(c, &d, isn + 1 + len, 1000, 0, deliver, &S);
		kc_reasm_flush(c, &d, 0, deliver, &S);
		if (!bounded) {
			if (S.len != wlen || memcmp(S.buf, want, wlen) != 0 ||
			    S.gap_total != missing || d.offset != len ||
			    kc_reasm_core_chunks_used(c) != 0) {
				if (bad++ < 3)
					fprintf(stderr, "  iter %u: got %u want %u, gap %llu want %u\n",
						iter, S.len, wlen,
						(unsigned long long)S.gap_total, missing);
			}
		} else if (S.len > pushed || S.len + S.gap_total != len || d.offset != len ||
			   kc_reasm_core_chunks_used(c) != 0) {
			/* Bounded: forced gaps may drop late data, but every byte
			 * position is accounted for exactly once. */
			if (bad_bounded++ < 3)
				fprintf(stderr, "  bounded iter %u: got %u + gap %llu != %u\n", iter,
					S.len, (unsigned long long)S.gap_total, len);
		}
		kc_reasm_dir_release(c, &d);
		kc_reasm_core_destroy(c);
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(bad_bounded, 0);
}

/*
 * kc_reasm_push_in_order() against kc_reasm_push(): two directions fed the
 * same random segments (SYN, FIN, RST, probes, holes, retransmissions, ACKs),
 * one through kc_reasm_push() alone, the other trying the in-order path
 * first and delivering itself when it says yes. Bytes, gaps, stream offsets
 * and every counter must agree; the in-order path must have been taken.
 */
static struct sink S2;

static void test_push_in_order(void)
{
	static uint8_t data[4096];
	unsigned iter, taken = 0, refused = 0;
	uint32_t i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	for (iter = 0; iter < 200; iter++) {
		struct kc_reasm_core *a = mk_core(64, 32, 0, 1024, 8);
		struct kc_reasm_core *b = mk_core(64, 32, 0, 1024, 8);
		struct kc_reasm_dir da, db;
		uint32_t isn = 1000u * iter + 0xfffff000u, next = isn + 1;
		uint64_t rng = 0x9e3779b97f4a7c15ull * (iter + 1);
		unsigned k;
		size_t j;

		sink_reset();
		memset(&S2, 0, sizeof(S2));
		kc_reasm_dir_init(&da);
		kc_reasm_dir_init(&db);
		for (k = 0; k < 300; k++) {
			uint32_t r, seq, len, off;
			uint8_t fl = ACK;

			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			r = (uint32_t)(rng >> 11);
			len = r % 5 == 0 ? r % 2 : 1 + (r >> 3) % 200;
			seq = next;
			if (r % 7 == 0)
				seq = next + 1 + (r >> 5) % 300; /* a hole */
			else if (r % 11 == 0)
				seq = next - (r >> 5) % 100; /* old bytes */
			if (k == 0 && r % 3 != 0)
				fl |= SYN, seq = isn;
			else if (r % 23 == 0)
				fl |= SYN;
			if (r % 29 == 0)
				fl |= FIN;
			if (r % 97 == 0)
				fl |= RST;
			off = (seq - isn) % 2048;
			if (r % 13 == 0) {
				/* An ACK for data beyond a hole. */
				kc_reasm_ack(a, &da, next + (r >> 4) % 400, r % 17 == 0 ? 0 : 512, k, deliver, &S);
				kc_reasm_ack(b, &db, next + (r >> 4) % 400, r % 17 == 0 ? 0 : 512, k, deliver, &S2);
			}
			CHECK_EQ(kc_reasm_push(a, &da, seq, fl, data + off, len, k, deliver, &S), 0);
			if (kc_reasm_push_in_order(b, &db, seq, fl, len)) {
				taken++;
				deliver(&S2, data + off, len, 0, k);
			} else {
				refused++;
				CHECK_EQ(kc_reasm_push(b, &db, seq, fl, data + off, len, k, deliver, &S2), 0);
			}
			if (da.flags & KC_REASM_DIR_STARTED)
				next = da.next_seq;
		}
		kc_reasm_flush(a, &da, 9999, deliver, &S);
		kc_reasm_flush(b, &db, 9999, deliver, &S2);
		CHECK_EQ(S.len, S2.len);
		CHECK(memcmp(S.buf, S2.buf, S.len) == 0);
		CHECK_EQ(S.calls, S2.calls);
		CHECK_EQ(S.gap_total, S2.gap_total);
		CHECK_EQ(da.offset, db.offset);
		/* And both against what the consumer saw. */
		CHECK_EQ(kc_reasm_core_stats(b)->deliveries, S2.calls);
		CHECK_EQ(kc_reasm_core_stats(b)->bytes_delivered, S2.len);
		CHECK_EQ(db.offset, S2.len + S2.gap_total);
		for (j = 0; j < kc_reasm_stats_count(); j++)
			CHECK_EQ(kc_reasm_stats_value(kc_reasm_core_stats(a), j),
				 kc_reasm_stats_value(kc_reasm_core_stats(b), j));
		kc_reasm_dir_release(a, &da);
		kc_reasm_dir_release(b, &db);
		kc_reasm_core_destroy(a);
		kc_reasm_core_destroy(b);
	}
	CHECK(taken > 1000);
	CHECK(refused > 1000);
}

int main(void)
{
	test_in_order_zero_copy();
	test_reordered();
	test_retransmission();
	test_exact_overlap();
	test_partial_overlap();
	test_gap_by_ack();
	test_flush_trailing_gap();
	test_midstream_pickup();
	test_wraparound();
	test_keepalive();
	test_zero_window_probe();
	test_fin();
	test_rst();
	test_syn();
	test_memcap_core();
	test_dir_limit();
	test_drop_policy();
	test_out_of_window_and_args();
	test_cfg();
	test_stats_names();
	test_property_permutations();
	test_property_losses();
	test_push_in_order();
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail != 0;
}
