/*
 * lib/dns unit tests on built messages: rendering of every listed RR type,
 * name compression and its abuse, truncation, pairing, timeouts, TCP framing
 * at every split point.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "kc_dns.h"
#include "test_common.h"

/* ---- message builder ---- */

struct mb {
	uint8_t b[4096];
	size_t n;
};

static void u8(struct mb *m, uint8_t v)
{
	m->b[m->n++] = v;
}

static void u16(struct mb *m, uint16_t v)
{
	u8(m, (uint8_t)(v >> 8));
	u8(m, (uint8_t)v);
}

static void u32(struct mb *m, uint32_t v)
{
	u16(m, (uint16_t)(v >> 16));
	u16(m, (uint16_t)v);
}

static void raw(struct mb *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void hdr(struct mb *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
		uint16_t ar)
{
	m->n = 0;
	u16(m, id);
	u16(m, flags);
	u16(m, qd);
	u16(m, an);
	u16(m, ns);
	u16(m, ar);
}

/* Uncompressed name from dotted text ("" = root). */
static void name(struct mb *m, const char *s)
{
	while (*s != '\0') {
		const char *dot = strchr(s, '.');
		size_t l = dot != NULL ? (size_t)(dot - s) : strlen(s);

		u8(m, (uint8_t)l);
		raw(m, s, l);
		s += l;
		if (*s == '.')
			s++;
	}
	u8(m, 0);
}

static void ptr(struct mb *m, uint16_t off)
{
	u16(m, (uint16_t)(0xc000 | off));
}

static void question(struct mb *m, const char *q, uint16_t type)
{
	name(m, q);
	u16(m, type);
	u16(m, 1);
}

/* RR header with name already written; returns offset of rdlength. */
static size_t rr_fixed(struct mb *m, uint16_t type, uint16_t class_, uint32_t ttl)
{
	u16(m, type);
	u16(m, class_);
	u32(m, ttl);
	size_t at = m->n;

	u16(m, 0);
	return at;
}

static void rr_end(struct mb *m, size_t at)
{
	size_t len = m->n - at - 2;

	m->b[at] = (uint8_t)(len >> 8);
	m->b[at + 1] = (uint8_t)len;
}

static struct kc_flow_info flow_info(uint8_t l4)
{
	struct kc_flow_info fi;

	memset(&fi, 0, sizeof(fi));
	fi.stream_id = 77;
	fi.family = 4;
	fi.l4 = l4;
	fi.worker = 2;
	fi.src_port = 40000;
	fi.dst_port = 53;
	fi.src_ip[0] = 10, fi.src_ip[3] = 1;
	fi.dst_ip[0] = 10, fi.dst_ip[3] = 53;
	return fi;
}

/* ---- tests ---- */

static void build_query(struct mb *m, uint16_t id, const char *q, uint16_t type)
{
	hdr(m, id, 0x0100, 1, 0, 0, 0);
	question(m, q, type);
}

/* Response to "www.example.com" A: CNAME then A, with compression. */
static void build_response_a(struct mb *m, uint16_t id)
{
	size_t at;

	hdr(m, id, 0x8180, 1, 2, 0, 0);
	question(m, "www.example.com", 1);       /* name at offset 12 */
	ptr(m, 12);
	at = rr_fixed(m, 5, 1, 300);
	u8(m, 4);
	raw(m, "edge", 4);
	ptr(m, 16);                              /* "example.com" */
	rr_end(m, at);
	size_t edge = at + 2;                    /* "edge.example.com" */

	ptr(m, (uint16_t)edge);
	at = rr_fixed(m, 1, 1, 60);
	raw(m, "\xc0\x00\x02\x01", 4);
	rr_end(m, at);
}

static void test_udp_pair(void)
{
	struct kc_dns_flow f;
	struct kc_dns_stats st = { 0 };
	struct kc_flow_info fi = flow_info(IPPROTO_UDP);
	static struct capture cap;
	struct mb q, r;
	struct kc_parse_res res;

	memset(&cap, 0, sizeof(cap));
	kc_dns_flow_init(&f);
	build_query(&q, 0x1234, "www.example.com", 1);
	build_response_a(&r, 0x1234);
	res = kc_dns_feed_udp(&f, KC_DIR_C2S, q.b, q.n, 1000000, &fi, cap_emit, &cap, &st);
	CHECK_EQ(res.status, KC_PARSE_OK);
	CHECK_EQ(res.consumed, q.n);
	CHECK_EQ(cap.n, 0);
	CHECK_EQ(f.n_pending, 1);
	res = kc_dns_feed_udp(&f, KC_DIR_S2C, r.b, r.n, 1025000, &fi, cap_emit, &cap, &st);
	CHECK_EQ(res.status, KC_PARSE_OK);
	CHECK_EQ(cap.n, 1);
	CHECK_EQ(f.n_pending, 0);

	const struct kc_item *it = &cap.items[0];

	CHECK_EQ(it->proto, KC_ITEM_DNS);
	CHECK_EQ(it->flags, KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE);
	CHECK_EQ(it->stream_id, 77);
	CHECK_EQ(it->index, 0);
	CHECK_EQ(it->l4, IPPROTO_UDP);
	CHECK_EQ(it->worker, 2);
	CHECK_EQ(it->src_port, 40000);
	CHECK_EQ(it->dst_port, 53);
	CHECK_EQ(it->src_ip[3], 1);
	CHECK_EQ(it->ts_us, 1000000);
	CHECK_EQ(it->resp_ts_us, 1025000);
	CHECK_EQ(kc_item_elapsed_ms(it), 25);
	CHECK_EQ(it->req_size, q.n);
	CHECK_EQ(it->resp_size, r.n);
	CHECK_EQ(it->u.dns.id, 0x1234);
	CHECK_EQ(it->u.dns.flags, 0x8180);
	CHECK_EQ(it->u.dns.opcode, 0);
	CHECK_EQ(it->u.dns.rcode, 0);
	CHECK_EQ(it->u.dns.n_questions, 1);
	CHECK_STR(it, it->u.dns.questions[0].name, "www.example.com");
	CHECK_EQ(it->u.dns.questions[0].type, 1);
	CHECK_EQ(it->u.dns.questions[0].class_, 1);
	CHECK_EQ(it->u.dns.n_answers, 2);
	CHECK_EQ(it->u.dns.n_authorities, 0);
	CHECK_EQ(it->u.dns.n_additionals, 0);
	CHECK_STR(it, it->u.dns.rrs[0].name, "www.example.com");
	CHECK_EQ(it->u.dns.rrs[0].type, 5);
	CHECK_EQ(it->u.dns.rrs[0].ttl, 300);
	CHECK_STR(it, it->u.dns.rrs[0].data, "edge.example.com");
	CHECK_STR(it, it->u.dns.rrs[1].name, "edge.example.com");
	CHECK_EQ(it->u.dns.rrs[1].type, 1);
	CHECK_EQ(it->u.dns.rrs[1].ttl, 60);
	CHECK_STR(it, it->u.dns.rrs[1].data, "192.0.2.1");
	CHECK_EQ(st.items_paired, 1);
	CHECK_EQ(st.queries, 1);
	CHECK_EQ(st.responses, 1);
}

static void test_all_types(void)
{
	struct mb m;
	size_t at;
	static struct kc_item it;
	struct kc_dns_stats st = { 0 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

	hdr(&m, 7, 0x8580, 1, 9, 1, 1);
	question(&m, "example.com", 255);       /* 12: "example.com" */
	ptr(&m, 12);
	at = rr_fixed(&m, 1, 1, 1);
	raw(&m, "\x0a\x00\x00\x01", 4);
	rr_end(&m, at);
	ptr(&m, 12);
	at = rr_fixed(&m, 28, 1, 2);
	raw(&m, v6, 16);
	rr_end(&m, at);
	ptr(&m, 12);
	at = rr_fixed(&m, 5, 1, 3);
	name(&m, "alias.example.net");
	rr_end(&m, at);
	name(&m, "1.0.0.10.in-addr.arpa");
	at = rr_fixed(&m, 12, 1, 4);
	u8(&m, 4);
	raw(&m, "host", 4);
	ptr(&m, 12);
	rr_end(&m, at);
	ptr(&m, 12);
	at = rr_fixed(&m, 15, 1, 5);
	u16(&m, 10);
	u8(&m, 4);
	raw(&m, "mail", 4);
	ptr(&m, 12);
	rr_end(&m, at);
	ptr(&m, 12);
	at = rr_fixed(&m, 16, 1, 6);
	u8(&m, 7);
	raw(&m, "v=spf1 ", 7);
	u8(&m, 5);
	raw(&m, "a\\b\x01z", 5);
	rr_end(&m, at);
	name(&m, "_sip._tcp.example.com");
	at = rr_fixed(&m, 33, 1, 7);
	u16(&m, 1);
	u16(&m, 2);
	u16(&m, 5060);
	name(&m, "sip.example.com");
	rr_end(&m, at);
	ptr(&m, 12);
	at = rr_fixed(&m, 0xff00, 1, 8);        /* private type: RFC 3597 text */
	raw(&m, "\x01\x02\xab", 3);
	rr_end(&m, at);
	ptr(&m, 12);
	at = rr_fixed(&m, 1, 1, 9);             /* A with 3 bytes: bad rdata */
	raw(&m, "\x01\x02\x03", 3);
	rr_end(&m, at);
	/* authority: NS and nothing else; SOA in additionals is checked below */
	ptr(&m, 12);
	at = rr_fixed(&m, 2, 1, 10);
	u8(&m, 3);
	raw(&m, "ns1", 3);
	ptr(&m, 12);
	rr_end(&m, at);
	/* additional: OPT (EDNS0), root name, class = UDP size 4096 */
	u8(&m, 0);
	at = rr_fixed(&m, 41, 4096, 0x8000);
	rr_end(&m, at);

	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), 0);
	const struct kc_item_dns *d = &it.u.dns;

	CHECK_EQ(it.flags, KC_ITEM_F_RESPONSE);
	CHECK_EQ(d->id, 7);
	CHECK_EQ(d->n_questions, 1);
	CHECK_EQ(d->questions[0].type, 255);
	CHECK_EQ(d->n_answers, 9);
	CHECK_EQ(d->n_authorities, 1);
	CHECK_EQ(d->n_additionals, 1);
	CHECK_STR(&it, d->rrs[0].data, "10.0.0.1");
	CHECK_STR(&it, d->rrs[1].data, "2001:db8::1");
	CHECK_STR(&it, d->rrs[2].data, "alias.example.net");
	CHECK_STR(&it, d->rrs[3].name, "1.0.0.10.in-addr.arpa");
	CHECK_STR(&it, d->rrs[3].data, "host.example.com");
	CHECK_STR(&it, d->rrs[4].data, "10 mail.example.com");
	/* TXT: strings separated by NUL, escapes inside */
	static const char txt[] = "v=spf1 \0a\\\\b\\001z";

	CHECK_EQ(d->rrs[5].data.len, sizeof(txt) - 1);
	CHECK(memcmp(kc_item_str(&it, d->rrs[5].data), txt, sizeof(txt) - 1) == 0);
	CHECK_STR(&it, d->rrs[6].name, "_sip._tcp.example.com");
	CHECK_STR(&it, d->rrs[6].data, "1 2 5060 sip.example.com");
	CHECK_STR(&it, d->rrs[7].data, "\\# 3 0102ab");
	CHECK_EQ(d->rrs[7].type, 0xff00);
	CHECK_STR(&it, d->rrs[8].data, "\\# 3 010203");
	CHECK_EQ(st.bad_rdata, 1);
	CHECK_STR(&it, d->rrs[9].data, "ns1.example.com");
	CHECK_EQ(d->rrs[9].type, 2);
	CHECK_STR(&it, d->rrs[10].name, ".");
	CHECK_EQ(d->rrs[10].type, 41);
	CHECK_EQ(d->rrs[10].class_, 4096);
	CHECK_EQ(d->rrs[10].ttl, 0x8000);
	CHECK_STR(&it, d->rrs[10].data, "\\# 0");
	for (unsigned i = 0; i < 10; i++)
		CHECK_EQ(d->rrs[i].ttl, i + 1);

	/* SOA, and a name with a dot and a space inside labels. */
	hdr(&m, 8, 0x8180, 0, 1, 0, 0);
	raw(&m, "\x03" "a.b" "\x03" "c d" "\x00", 9);
	at = rr_fixed(&m, 6, 1, 3600);
	name(&m, "ns.example.org");
	name(&m, "hostmaster.example.org");
	u32(&m, 2024010101);
	u32(&m, 7200);
	u32(&m, 3600);
	u32(&m, 1209600);
	u32(&m, 300);
	rr_end(&m, at);
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), 0);
	CHECK_STR(&it, it.u.dns.rrs[0].name, "a\\.b.c\\032d");
	CHECK_STR(&it, it.u.dns.rrs[0].data,
		  "ns.example.org hostmaster.example.org 2024010101 7200 3600 1209600 300");
	CHECK_EQ(it.u.dns.rrs[0].type, 6);
}

/* Question "a" at 12, then an answer of private type whose RDATA is a chain
 * of pointers, then an answer whose name enters the chain at link @p start. */
static void build_chain(struct mb *m, unsigned links, unsigned start)
{
	size_t at, rd;

	hdr(m, 9, 0x8180, 1, 2, 0, 0);
	question(m, "a", 1);                   /* "a" at 12..14 */
	ptr(m, 12);
	at = rr_fixed(m, 0xff01, 1, 0);
	rd = m->n;
	ptr(m, 12);
	for (unsigned i = 1; i < links; i++)
		ptr(m, (uint16_t)(rd + 2 * (i - 1)));
	rr_end(m, at);
	ptr(m, (uint16_t)(rd + 2 * start));
	at = rr_fixed(m, 1, 1, 0);
	raw(m, "\x01\x01\x01\x01", 4);
	rr_end(m, at);
}

static void test_compression_abuse(void)
{
	struct mb m;
	static struct kc_item it;
	struct kc_dns_stats st;
	size_t at;

	/* A chain of 10 pointers is fine: 11 hops in all with the entry. */
	memset(&st, 0, sizeof(st));
	build_chain(&m, 20, 9);
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), 0);
	CHECK_EQ(it.u.dns.n_answers, 2);
	CHECK_STR(&it, it.u.dns.rrs[1].name, "a");

	/* 20 links: more than KC_DNS_MAX_PTR_HOPS. */
	memset(&st, 0, sizeof(st));
	build_chain(&m, 20, 19);
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), -EBADMSG);
	CHECK_EQ(st.ptr_hops, 1);
	CHECK(it.flags & KC_ITEM_F_TRUNCATED);
	CHECK_EQ(it.u.dns.n_answers, 1);       /* what parsed before the fault */
	CHECK_EQ(it.u.dns.n_questions, 1);

	/* Self-pointing pointer as the question name. */
	memset(&st, 0, sizeof(st));
	hdr(&m, 1, 0x8180, 1, 0, 0, 0);
	ptr(&m, 12);
	u16(&m, 1);
	u16(&m, 1);
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), -EBADMSG);
	CHECK_EQ(st.bad_pointer, 1);
	CHECK_EQ(it.u.dns.n_questions, 0);

	/* Forward pointer. */
	memset(&st, 0, sizeof(st));
	hdr(&m, 1, 0x8180, 1, 0, 0, 0);
	ptr(&m, 18);
	u16(&m, 1);
	u16(&m, 1);
	raw(&m, "\x01x\x00", 3);
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), -EBADMSG);
	CHECK_EQ(st.bad_pointer, 1);

	/* Two names pointing at each other: "b" -> ptr A, A = "c" -> ptr to b. */
	memset(&st, 0, sizeof(st));
	hdr(&m, 1, 0x8180, 1, 0, 0, 0);
	raw(&m, "\x01" "b", 2);
	ptr(&m, 16);                            /* 14: -> 16, forward */
	raw(&m, "\x01" "c", 2);                 /* 16 */
	ptr(&m, 12);                            /* 18: -> 12, loops back */
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), -EBADMSG);
	CHECK_EQ(st.bad_pointer, 1);

	/* A label pointing back into its own name: "x" at 12, ptr to 12 at 14. */
	memset(&st, 0, sizeof(st));
	hdr(&m, 1, 0x8180, 1, 0, 0, 0);
	raw(&m, "\x01x", 2);
	ptr(&m, 12);
	u16(&m, 1);
	u16(&m, 1);
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), -EBADMSG);
	CHECK_EQ(st.bad_pointer, 1);

	/* Over-long name: 5 labels of 63 = 320 octets. Its end is known, so the
	 * name is left absent and the answer after it is still read. */
	memset(&st, 0, sizeof(st));
	hdr(&m, 1, 0x8180, 2, 1, 0, 0);
	for (int i = 0; i < 5; i++) {
		u8(&m, 63);
		memset(m.b + m.n, 'x', 63);
		m.n += 63;
	}
	u8(&m, 0);
	u16(&m, 1);
	u16(&m, 1);
	question(&m, "ok.example", 1);
	ptr(&m, 12);                            /* owner: the over-long name */
	at = rr_fixed(&m, 1, 1, 5);
	raw(&m, "\x42\x42\x42\x42", 4);
	rr_end(&m, at);
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), -EBADMSG);
	CHECK_EQ(st.name_too_long, 2);
	CHECK(it.flags & KC_ITEM_F_TRUNCATED);
	CHECK_EQ(it.u.dns.n_questions, 2);
	CHECK_EQ(it.u.dns.questions[0].name.len, 0);
	CHECK_STR(&it, it.u.dns.questions[1].name, "ok.example");
	CHECK_EQ(it.u.dns.n_answers, 1);
	CHECK_EQ(it.u.dns.rrs[0].name.len, 0);
	CHECK_STR(&it, it.u.dns.rrs[0].data, "66.66.66.66");

	/* Exactly 255 octets is allowed: 3*63 + 62 + 4 length octets + root. */
	memset(&st, 0, sizeof(st));
	hdr(&m, 1, 0x8180, 1, 0, 0, 0);
	for (int i = 0; i < 4; i++) {
		u8(&m, i < 3 ? 63 : 61);
		memset(m.b + m.n, 'y', i < 3 ? 63 : 61);
		m.n += i < 3 ? 63 : 61;
	}
	u8(&m, 0);
	u16(&m, 1);
	u16(&m, 1);
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), 0);
	CHECK_EQ(it.u.dns.questions[0].name.len, 63 * 3 + 61 + 3);
	/* One more octet is too long. */
	m.b[12 + 3 * 64] = 62;
	memmove(m.b + 12 + 3 * 64 + 63, m.b + 12 + 3 * 64 + 62, m.n - (12 + 3 * 64 + 62));
	m.b[12 + 3 * 64 + 62] = 'y';
	m.n++;
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), -EBADMSG);
	CHECK_EQ(st.name_too_long, 1);

	/* Label type 01 (0x40). */
	memset(&st, 0, sizeof(st));
	hdr(&m, 1, 0x8180, 1, 0, 0, 0);
	raw(&m, "\x41x\x00\x00\x01\x00\x01", 7);
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), -EBADMSG);
	CHECK_EQ(st.bad_label_type, 1);

	/* Name running off the end. */
	memset(&st, 0, sizeof(st));
	hdr(&m, 1, 0x8180, 1, 0, 0, 0);
	raw(&m, "\x05" "ab", 3);
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), -EBADMSG);
	CHECK_EQ(st.name_truncated, 1);

	/* Truncated question (no type/class). */
	memset(&st, 0, sizeof(st));
	hdr(&m, 1, 0x8180, 1, 0, 0, 0);
	name(&m, "a.b");
	u16(&m, 1);
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), -EBADMSG);
	CHECK_EQ(st.truncated_question, 1);

	/* Truncated RR: RDLENGTH past the end, and fixed part cut. */
	memset(&st, 0, sizeof(st));
	hdr(&m, 1, 0x8180, 1, 2, 0, 0);
	question(&m, "a.b", 1);
	ptr(&m, 12);
	at = rr_fixed(&m, 1, 1, 5);
	raw(&m, "\x01\x02\x03\x04", 4);
	rr_end(&m, at);
	ptr(&m, 12);
	at = rr_fixed(&m, 1, 1, 5);
	raw(&m, "\x01\x02", 2);
	m.b[at + 1] = 4;                        /* claims 4 bytes, 2 present */
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), -EBADMSG);
	CHECK_EQ(st.truncated_rr, 1);
	CHECK_EQ(it.u.dns.n_answers, 1);
	CHECK_STR(&it, it.u.dns.rrs[0].data, "1.2.3.4");
	m.n = at - 4;                           /* cut inside the fixed part */
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), -EBADMSG);
	CHECK_EQ(st.truncated_rr, 2);

	/* CNAME whose target leaves the RDATA: bad rdata, rendered raw. */
	memset(&st, 0, sizeof(st));
	hdr(&m, 1, 0x8180, 0, 1, 0, 0);
	name(&m, "a");
	at = rr_fixed(&m, 5, 1, 5);
	raw(&m, "\x03" "abc", 4);               /* no terminating root in RDATA */
	rr_end(&m, at);
	raw(&m, "\x00", 1);
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), -EBADMSG);

	/* Header too short. */
	memset(&st, 0, sizeof(st));
	CHECK_EQ(kc_dns_parse_message(m.b, 11, &it, &st), -EINVAL);
	CHECK_EQ(st.bad_header, 1);

	/* Counts promise more records than present: stops, counted. */
	memset(&st, 0, sizeof(st));
	hdr(&m, 1, 0x8180, 1, 3, 0, 0);
	question(&m, "a", 1);
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), -EBADMSG);
	CHECK_EQ(st.name_truncated, 1);
}

/* AAAA text equals inet_ntop's for zero runs in every position. */
static void test_ipv6_text(void)
{
	struct mb m;
	static struct kc_item it;
	unsigned bad = 0;

	for (unsigned mask = 0; mask < 256; mask++) {
		for (unsigned variant = 0; variant < 3; variant++) {
			uint8_t a[16];
			char want[INET6_ADDRSTRLEN];
			size_t at;

			for (int g = 0; g < 8; g++) {
				uint16_t v = (mask >> g) & 1 ? 0 : (uint16_t)(0x1000 * variant + g * 0x11 + 1);

				a[2 * g] = (uint8_t)(v >> 8);
				a[2 * g + 1] = (uint8_t)v;
			}
			if (variant == 2 && mask == 0x1f) { /* ::ffff:a.b.c.d */
				a[10] = a[11] = 0xff;
			}
			inet_ntop(AF_INET6, a, want, sizeof(want));
			hdr(&m, 1, 0x8180, 0, 1, 0, 0);
			name(&m, "v6");
			at = rr_fixed(&m, 28, 1, 1);
			raw(&m, a, 16);
			rr_end(&m, at);
			if (kc_dns_parse_message(m.b, m.n, &it, NULL) != 0 ||
			    it.u.dns.rrs[0].data.len != strlen(want) ||
			    memcmp(kc_item_str(&it, it.u.dns.rrs[0].data), want, strlen(want)) != 0) {
				fprintf(stderr, "AAAA: got %.*s want %s\n",
					(int)it.u.dns.rrs[0].data.len,
					kc_item_str(&it, it.u.dns.rrs[0].data), want);
				bad++;
			}
		}
	}
	CHECK_EQ(bad, 0);
}

static void test_overflow_sections(void)
{
	struct mb m;
	static struct kc_item it;
	struct kc_dns_stats st = { 0 };
	size_t at;

	hdr(&m, 3, 0x8180, 1, 30, 0, 0);
	question(&m, "many.example", 1);
	for (int i = 0; i < 30; i++) {
		ptr(&m, 12);
		at = rr_fixed(&m, 1, 1, 1);
		u8(&m, 10);
		u8(&m, 0);
		u8(&m, 0);
		u8(&m, (uint8_t)i);
		rr_end(&m, at);
	}
	CHECK_EQ(kc_dns_parse_message(m.b, m.n, &it, &st), 0);
	CHECK_EQ(it.u.dns.n_answers, KC_ITEM_MAX_DNS_RR);
	CHECK(it.flags & KC_ITEM_F_TRUNCATED);
	CHECK_EQ(st.section_overflow, 1);
	CHECK_STR(&it, it.u.dns.rrs[23].data, "10.0.0.23");
}

static void test_pairing_and_timeouts(void)
{
	struct kc_dns_flow f;
	struct kc_dns_stats st = { 0 };
	struct kc_flow_info fi = flow_info(IPPROTO_UDP);
	static struct capture cap;
	struct mb q1, q2, r1, r2;

	memset(&cap, 0, sizeof(cap));
	kc_dns_flow_init(&f);
	build_query(&q1, 1, "one.example", 1);
	build_query(&q2, 2, "two.example", 28);
	build_response_a(&r1, 1);
	hdr(&r2, 2, 0x8183, 1, 0, 0, 0);       /* NXDOMAIN */
	question(&r2, "two.example", 28);
	kc_dns_feed_udp(&f, KC_DIR_C2S, q1.b, q1.n, 100, &fi, cap_emit, &cap, &st);
	kc_dns_feed_udp(&f, KC_DIR_C2S, q2.b, q2.n, 200, &fi, cap_emit, &cap, &st);
	kc_dns_feed_udp(&f, KC_DIR_C2S, q2.b, q2.n, 250, &fi, cap_emit, &cap, &st); /* retransmit */
	CHECK_EQ(st.query_dup, 1);
	kc_dns_feed_udp(&f, KC_DIR_S2C, r2.b, r2.n, 300, &fi, cap_emit, &cap, &st);
	kc_dns_feed_udp(&f, KC_DIR_S2C, r1.b, r1.n, 400, &fi, cap_emit, &cap, &st);
	CHECK_EQ(cap.n, 2);
	CHECK_EQ(cap.items[0].u.dns.id, 2);
	CHECK_EQ(cap.items[0].u.dns.rcode, 3);
	CHECK_EQ(cap.items[0].ts_us, 200);      /* first copy of the query kept */
	CHECK_EQ(cap.items[0].resp_ts_us, 300);
	CHECK_EQ(cap.items[0].index, 0);
	CHECK_EQ(cap.items[1].u.dns.id, 1);
	CHECK_EQ(cap.items[1].ts_us, 100);
	CHECK_EQ(cap.items[1].index, 1);

	/* Response without a query. */
	kc_dns_feed_udp(&f, KC_DIR_S2C, r1.b, r1.n, 500, &fi, cap_emit, &cap, &st);
	CHECK_EQ(cap.n, 3);
	CHECK_EQ(cap.items[2].flags, KC_ITEM_F_RESPONSE);
	CHECK_EQ(cap.items[2].ts_us, 500);
	CHECK_EQ(cap.items[2].req_size, 0);
	CHECK_EQ(st.items_resp_only, 1);

	/* 17 queries: the 17th evicts the oldest as a timeout item. */
	cap.n = 0;
	for (unsigned i = 0; i < KC_DNS_PENDING_MAX + 1; i++) {
		build_query(&q1, (uint16_t)(100 + i), "q.example", 1);
		kc_dns_feed_udp(&f, KC_DIR_C2S, q1.b, q1.n, 1000 + i, &fi, cap_emit, &cap, &st);
	}
	CHECK_EQ(cap.n, 1);
	CHECK_EQ(st.pending_evicted, 1);
	CHECK_EQ(cap.items[0].u.dns.id, 100);
	CHECK_EQ(cap.items[0].flags, KC_ITEM_F_REQUEST | KC_ITEM_F_TIMEOUT);
	CHECK_STR(&cap.items[0], cap.items[0].u.dns.questions[0].name, "q.example");
	CHECK_EQ(cap.items[0].u.dns.n_questions, 1);
	CHECK_EQ(cap.items[0].u.dns.n_answers, 0);
	CHECK_EQ(cap.items[0].req_size, q1.n);
	CHECK_EQ(f.n_pending, KC_DNS_PENDING_MAX);

	/* Expire: queries at 1001..1016; timeout 100 at now 1105 -> 1001..1005
	 * are due, budget 3 takes three. */
	cap.n = 0;
	CHECK_EQ(kc_dns_flow_expire(&f, 1105, 100, 3, &fi, cap_emit, &cap, &st), 3);
	CHECK_EQ(cap.n, 3);
	CHECK_EQ(cap.items[0].u.dns.id, 101);
	CHECK_EQ(cap.items[2].u.dns.id, 103);
	CHECK_EQ(kc_dns_flow_expire(&f, 1105, 100, 10, &fi, cap_emit, &cap, &st), 2);
	CHECK_EQ(kc_dns_flow_expire(&f, 1105, 100, 10, &fi, cap_emit, &cap, &st), 0);
	CHECK_EQ(f.n_pending, KC_DNS_PENDING_MAX - 5);
	cap.n = 0;
	CHECK_EQ(kc_dns_flow_close(&f, &fi, cap_emit, &cap, &st), KC_DNS_PENDING_MAX - 5);
	CHECK_EQ(cap.n, KC_DNS_PENDING_MAX - 5);
	CHECK_EQ(cap.items[KC_DNS_PENDING_MAX - 6].u.dns.id, 100 + KC_DNS_PENDING_MAX);
	CHECK(cap.items[KC_DNS_PENDING_MAX - 6].flags & KC_ITEM_F_TIMEOUT);
	CHECK_EQ(f.n_pending, 0);
	CHECK_EQ(st.items_timeout, KC_DNS_PENDING_MAX + 1);

	/* An unanswered query with a name longer than the pending slot keeps:
	 * cut, flagged, counted. */
	char longname[128];

	memset(longname, 'n', sizeof(longname));
	longname[60] = '.';
	longname[120] = '\0';
	build_query(&q1, 999, longname, 1);
	cap.n = 0;
	kc_dns_feed_udp(&f, KC_DIR_C2S, q1.b, q1.n, 5000, &fi, cap_emit, &cap, &st);
	CHECK_EQ(kc_dns_flow_close(&f, &fi, cap_emit, &cap, &st), 1);
	CHECK_EQ(st.qname_cut, 1);
	CHECK_EQ(cap.items[0].u.dns.questions[0].name.len, KC_DNS_QNAME_KEEP);
	CHECK(cap.items[0].flags & KC_ITEM_F_TRUNCATED);
}

static void test_probe_and_not_dns(void)
{
	struct mb q;
	uint8_t tcp[600];
	struct kc_dns_flow f;
	struct kc_dns_stats st = { 0 };
	struct kc_flow_info fi = flow_info(IPPROTO_UDP);
	static struct capture cap;
	static const uint8_t http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	build_query(&q, 5, "probe.example", 1);
	CHECK(kc_dns_probe(q.b, q.n, false));
	CHECK(!kc_dns_probe(q.b, 11, false));
	CHECK(!kc_dns_probe(http, sizeof(http) - 1, false));
	tcp[0] = 0;
	tcp[1] = (uint8_t)q.n;
	memcpy(tcp + 2, q.b, q.n);
	CHECK(kc_dns_probe(tcp, q.n + 2, true));
	CHECK(kc_dns_probe(tcp, 14, true));     /* header only is enough */
	CHECK(!kc_dns_probe(tcp, 13, true));
	CHECK(!kc_dns_probe(http, sizeof(http) - 1, true));

	memset(&cap, 0, sizeof(cap));
	kc_dns_flow_init(&f);
	struct kc_parse_res r = kc_dns_feed_udp(&f, KC_DIR_C2S, http, sizeof(http) - 1, 1, &fi,
						cap_emit, &cap, &st);

	CHECK_EQ(r.status, KC_PARSE_ERROR);
	CHECK_EQ(st.not_dns, 1);
	/* Once DNS, a bad datagram is counted and skipped, not an error. */
	kc_dns_feed_udp(&f, KC_DIR_C2S, q.b, q.n, 2, &fi, cap_emit, &cap, &st);
	r = kc_dns_feed_udp(&f, KC_DIR_C2S, q.b, 5, 3, &fi, cap_emit, &cap, &st);
	CHECK_EQ(r.status, KC_PARSE_OK);
	CHECK_EQ(st.bad_header, 1);
}

/* ---- TCP framing ---- */

/* Dispatcher stand-in: keeps unconsumed bytes and re-presents them. */
struct stream {
	uint8_t buf[8192];
	size_t len;
	unsigned need_more, errors;
};

static void stream_feed(struct stream *s, struct kc_dns_flow *f, enum kc_dir dir,
			const uint8_t *d, size_t n, uint64_t ts, const struct kc_flow_info *fi,
			struct capture *cap, struct kc_dns_stats *st)
{
	memcpy(s->buf + s->len, d, n);
	s->len += n;
	struct kc_parse_res r = kc_dns_feed_tcp(f, dir, s->buf, s->len, ts, fi, cap_emit, cap, st);

	if (r.status == KC_PARSE_ERROR)
		s->errors++;
	if (r.status == KC_PARSE_NEED_MORE) {
		s->need_more++;
		if (r.needed == 0)
			s->errors++; /* a length prefix always tells what is missing */
	}
	memmove(s->buf, s->buf + r.consumed, s->len - r.consumed);
	s->len -= r.consumed;
}

static size_t frame(uint8_t *out, const struct mb *m)
{
	out[0] = (uint8_t)(m->n >> 8);
	out[1] = (uint8_t)m->n;
	memcpy(out + 2, m->b, m->n);
	return m->n + 2;
}

static void test_tcp_splits(void)
{
	struct mb q1, q2, q3, r1, r2, r3;
	uint8_t c2s[1024], s2c[2048];
	size_t nc = 0, ns = 0;
	struct kc_flow_info fi = flow_info(IPPROTO_TCP);
	static struct capture cap;

	build_query(&q1, 11, "a.example", 1);
	build_query(&q2, 12, "b.example", 1);
	build_query(&q3, 13, "c.example", 28);
	build_response_a(&r1, 11);
	build_response_a(&r2, 12);
	build_response_a(&r3, 13);
	nc += frame(c2s + nc, &q1);
	nc += frame(c2s + nc, &q2);
	nc += frame(c2s + nc, &q3);
	ns += frame(s2c + ns, &r1);
	ns += frame(s2c + ns, &r2);
	s2c[ns++] = 0; /* a zero-length message: skipped, counted */
	s2c[ns++] = 0;
	ns += frame(s2c + ns, &r3);

	/* All at once: three queries in one segment, then the answers. */
	{
		struct kc_dns_flow f;
		struct kc_dns_stats st = { 0 };
		struct stream sc = { .len = 0 }, ss = { .len = 0 };

		memset(&cap, 0, sizeof(cap));
		kc_dns_flow_init(&f);
		stream_feed(&sc, &f, KC_DIR_C2S, c2s, nc, 10, &fi, &cap, &st);
		CHECK_EQ(sc.len, 0);
		CHECK_EQ(f.n_pending, 3);
		stream_feed(&ss, &f, KC_DIR_S2C, s2c, ns, 20, &fi, &cap, &st);
		CHECK_EQ(ss.len, 0);
		CHECK_EQ(cap.n, 3);
		CHECK_EQ(st.tcp_zero_len, 1);
		CHECK_EQ(cap.items[2].u.dns.id, 13);
		CHECK_EQ(cap.items[2].l4, IPPROTO_TCP);
		CHECK_EQ(cap.items[2].req_size, q3.n);
		CHECK_STR(&cap.items[2], cap.items[2].u.dns.rrs[1].data, "192.0.2.1");
	}

	/* Every split point of each direction into two segments. */
	unsigned bad = 0;

	for (size_t k = 0; k <= ns; k++) {
		struct kc_dns_flow f;
		struct kc_dns_stats st = { 0 };
		struct stream sc = { .len = 0 }, ss = { .len = 0 };
		size_t kc = k % (nc + 1);

		memset(&cap, 0, sizeof(cap));
		kc_dns_flow_init(&f);
		stream_feed(&sc, &f, KC_DIR_C2S, c2s, kc, 10, &fi, &cap, &st);
		stream_feed(&sc, &f, KC_DIR_C2S, c2s + kc, nc - kc, 11, &fi, &cap, &st);
		stream_feed(&ss, &f, KC_DIR_S2C, s2c, k, 20, &fi, &cap, &st);
		stream_feed(&ss, &f, KC_DIR_S2C, s2c + k, ns - k, 21, &fi, &cap, &st);
		if (cap.n != 3 || sc.len != 0 || ss.len != 0 || sc.errors || ss.errors ||
		    cap.items[0].u.dns.id != 11 || cap.items[1].u.dns.id != 12 ||
		    cap.items[2].u.dns.id != 13 || cap.items[0].u.dns.n_answers != 2 ||
		    st.tcp_zero_len != 1)
			bad++;
	}
	CHECK_EQ(bad, 0);

	/* Byte by byte. */
	{
		struct kc_dns_flow f;
		struct kc_dns_stats st = { 0 };
		struct stream sc = { .len = 0 }, ss = { .len = 0 };

		memset(&cap, 0, sizeof(cap));
		kc_dns_flow_init(&f);
		for (size_t i = 0; i < nc; i++)
			stream_feed(&sc, &f, KC_DIR_C2S, c2s + i, 1, 10, &fi, &cap, &st);
		for (size_t i = 0; i < ns; i++)
			stream_feed(&ss, &f, KC_DIR_S2C, s2c + i, 1, 20, &fi, &cap, &st);
		CHECK_EQ(cap.n, 3);
		CHECK_EQ(sc.errors + ss.errors, 0);
		CHECK_EQ(st.items_paired, 3);
	}

	/* A stream that is not DNS. */
	{
		struct kc_dns_flow f;
		struct kc_dns_stats st = { 0 };
		static const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0, 1, 0xfc, 3, 3,
					       0, 0, 0, 0, 0 };
		struct kc_parse_res r;

		kc_dns_flow_init(&f);
		r = kc_dns_feed_tcp(&f, KC_DIR_C2S, tls, sizeof(tls), 1, &fi, cap_emit, &cap, &st);
		CHECK_EQ(r.status, KC_PARSE_ERROR);
		CHECK_EQ(st.not_dns, 1);
	}
}

/* TCP gap inside the first response: the second one must still pair. */
static void test_tcp_gap_resync(void)
{
	struct mb q1, q2, r1, r2;
	uint8_t c2s[1024], s2c[2048];
	size_t nc = 0, ns = 0, l1;
	struct kc_flow_info fi = flow_info(IPPROTO_TCP);
	static struct capture cap;

	build_query(&q1, 21, "a.example", 1);
	build_query(&q2, 22, "b.example", 28);
	build_response_a(&r1, 21);
	build_response_a(&r2, 22);
	nc += frame(c2s + nc, &q1);
	nc += frame(c2s + nc, &q2);
	l1 = frame(s2c, &r1);
	ns = l1 + frame(s2c + l1, &r2);

	/* 20 bytes of r1, a 10-byte hole, the rest in one segment. */
	{
		struct kc_dns_flow f;
		struct kc_dns_stats st = { 0 };
		struct stream sc = { .len = 0 }, ss = { .len = 0 };

		memset(&cap, 0, sizeof(cap));
		kc_dns_flow_init(&f);
		stream_feed(&sc, &f, KC_DIR_C2S, c2s, nc, 10, &fi, &cap, &st);
		stream_feed(&ss, &f, KC_DIR_S2C, s2c, 20, 20, &fi, &cap, &st);
		CHECK_EQ(ss.len, 20);
		ss.len = 0; /* the dispatcher drops the held bytes at a gap */
		kc_dns_flow_gap(&f, KC_DIR_S2C, &st);
		stream_feed(&ss, &f, KC_DIR_S2C, s2c + 30, ns - 30, 21, &fi, &cap, &st);
		CHECK_EQ(ss.len, 0);
		CHECK_EQ(ss.errors, 0);
		CHECK_EQ(cap.n, 1);
		CHECK_EQ(cap.items[0].u.dns.id, 22);
		CHECK_EQ(cap.items[0].flags, KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE);
		CHECK_EQ(cap.items[0].ts_us, 10);
		CHECK_EQ(cap.items[0].resp_ts_us, 21);
		CHECK_EQ(cap.items[0].req_size, q2.n);
		CHECK_EQ(cap.items[0].resp_size, r2.n);
		CHECK_EQ(cap.items[0].u.dns.n_answers, 2);
		CHECK_STR(&cap.items[0], cap.items[0].u.dns.rrs[1].data, "192.0.2.1");
		CHECK_EQ(st.tcp_gaps, 1);
		CHECK_EQ(st.resync_ok, 1);
		CHECK_EQ(st.resync_giveup, 0);
		CHECK_EQ(st.resync_skipped, l1 - 30);
		CHECK_EQ(kc_dns_flow_close(&f, &fi, cap_emit, &cap, &st), 1);
		CHECK_EQ(cap.n, 2);
		CHECK_EQ(cap.items[1].u.dns.id, 21);
		CHECK_EQ(cap.items[1].flags, KC_ITEM_F_REQUEST | KC_ITEM_F_TIMEOUT);
	}

	/* Every hole position inside r1 (hole of 3 bytes), then byte by byte
	 * for one of them: never a false start, always r2 found. */
	unsigned bad = 0;

	for (size_t k = 0; k + 3 < l1; k++) {
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			struct kc_dns_flow f;
			struct kc_dns_stats st = { 0 };
			struct stream sc = { .len = 0 }, ss = { .len = 0 };

			if (bytewise && k != 7)
				continue;
			memset(&cap, 0, sizeof(cap));
			kc_dns_flow_init(&f);
			stream_feed(&sc, &f, KC_DIR_C2S, c2s, nc, 10, &fi, &cap, &st);
			stream_feed(&ss, &f, KC_DIR_S2C, s2c, k, 20, &fi, &cap, &st);
			ss.len = 0;
			kc_dns_flow_gap(&f, KC_DIR_S2C, &st);
			if (bytewise) {
				for (size_t i = k + 3; i < ns; i++)
					stream_feed(&ss, &f, KC_DIR_S2C, s2c + i, 1, 21, &fi, &cap,
						    &st);
			} else {
				stream_feed(&ss, &f, KC_DIR_S2C, s2c + k + 3, ns - k - 3, 21, &fi,
					    &cap, &st);
			}
			if (cap.n != 1 || cap.items[0].u.dns.id != 22 || ss.len != 0 ||
			    st.resync_ok != 1 || st.resync_skipped != l1 - k - 3 ||
			    f.n_pending != 1) {
				bad++;
				fprintf(stderr, "gap at %zu bytewise %d: n %u skipped %llu\n", k,
					bytewise, cap.n, (unsigned long long)st.resync_skipped);
			}
		}
	}
	CHECK_EQ(bad, 0);

	/* 64 KiB of junk after a gap: given up, later messages ignored. */
	{
		struct kc_dns_flow f;
		struct kc_dns_stats st = { 0 };
		static uint8_t junk[KC_DNS_RESYNC_MAX + 100];
		struct kc_parse_res r;

		memset(junk, 0xff, sizeof(junk));
		memset(&cap, 0, sizeof(cap));
		kc_dns_flow_init(&f);
		f.seen_valid = 1;
		kc_dns_flow_gap(&f, KC_DIR_S2C, &st);
		r = kc_dns_feed_tcp(&f, KC_DIR_S2C, junk, 1000, 1, &fi, cap_emit, &cap, &st);
		/* The last 13 bytes are too few to judge: kept. */
		CHECK_EQ(r.status, KC_PARSE_NEED_MORE);
		CHECK_EQ(r.consumed, 1000 - 13);
		CHECK_EQ(st.resync_giveup, 0);
		r = kc_dns_feed_tcp(&f, KC_DIR_S2C, junk, sizeof(junk), 1, &fi, cap_emit, &cap,
				    &st);
		CHECK_EQ(r.consumed, sizeof(junk));
		CHECK_EQ(st.resync_giveup, 1);
		CHECK_EQ(st.resync_skipped, KC_DNS_RESYNC_MAX);
		r = kc_dns_feed_tcp(&f, KC_DIR_S2C, s2c + l1, ns - l1, 2, &fi, cap_emit, &cap, &st);
		CHECK_EQ(r.consumed, ns - l1);
		CHECK_EQ(cap.n, 0);
		CHECK_EQ(st.messages, 0);
		/* The other direction is unaffected. */
		r = kc_dns_feed_tcp(&f, KC_DIR_C2S, c2s, nc, 3, &fi, cap_emit, &cap, &st);
		CHECK_EQ(r.consumed, nc);
		CHECK_EQ(f.n_pending, 2);
	}
}

int main(void)
{
	test_udp_pair();
	test_all_types();
	test_compression_abuse();
	test_ipv6_text();
	test_overflow_sections();
	test_pairing_and_timeouts();
	test_probe_and_not_dns();
	test_tcp_splits();
	test_tcp_gap_resync();
	return t_report();
}
