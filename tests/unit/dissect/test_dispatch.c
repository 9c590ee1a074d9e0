/*
 * The dispatcher: detection by content (ports as hints), hand-off to lib/dns,
 * lib/tls and lib/http2, L4 fallback items for TCP and UDP, stream-wide item
 * numbering, pool exhaustion, config validation.
 */
#include "t_util.h"

static struct sink S;

#define C2S KC_DIR_C2S
#define S2C KC_DIR_S2C

static struct kc_dissect_flow *open_flow(struct kc_dissect_core *c, uint16_t port, uint8_t l4)
{
	struct kc_flow_info fi;

	t_flow_info(&fi, port, l4);
	memset(&S, 0, sizeof(S));
	return kc_dissect_flow_open(c, &fi, sink_emit, &S);
}

/* DNS query/response for example.com A 93.184.216.34, id 0x1234. */
static const uint8_t dns_q[] = {
	0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
};
static const uint8_t dns_a[] = {
	0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
	7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
	0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4, 93, 184, 216, 34,
};

static void test_dns(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 53, 17);
	uint8_t buf[128];
	char *js;

	CHECK(kc_dissect_udp_datagram(c, f, C2S, dns_q, sizeof(dns_q), 1000) == 0);
	CHECK_EQ_U(kc_dissect_flow_proto(f), KC_ITEM_DNS);
	CHECK(kc_dissect_udp_datagram(c, f, S2C, dns_a, sizeof(dns_a), 3000) == 0);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].proto, KC_ITEM_DNS);
	CHECK_EQ_U(S.items[0].index, 0);
	CHECK_EQ_U(S.items[0].u.dns.n_answers, 1);
	CHECK_STR(&S.items[0], S.items[0].u.dns.rrs[0].data, "93.184.216.34");
	js = t_json(&S.items[0]);
	CHECK(js != NULL && strstr(js, "\"answers\":[{\"name\":\"example.com\",\"type\":\"A\",\"class\":\"IN\","
				      "\"ttl\":300,\"ip\":\"93.184.216.34\",\"cname\":\"\"}]"));
	CHECK(js != NULL && strstr(js, "\"stream\":\"7_udp\""));
	free(js);
	/* tcp calls on a UDP flow are refused */
	CHECK(kc_dissect_tcp_data(c, f, C2S, dns_q, sizeof(dns_q), 0, 1) == -EINVAL);
	kc_dissect_flow_close(c, f, 4000);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(kc_dissect_stats(c)->proto[KC_ITEM_DNS].items, 1);

	/* DNS over TCP, the answer split mid-message (pending buffer). */
	f = open_flow(c, 53, 6);
	buf[0] = 0;
	buf[1] = sizeof(dns_q);
	memcpy(buf + 2, dns_q, sizeof(dns_q));
	kc_dissect_tcp_data(c, f, C2S, buf, sizeof(dns_q) + 2, 0, 10);
	buf[1] = sizeof(dns_a);
	memcpy(buf + 2, dns_a, sizeof(dns_a));
	kc_dissect_tcp_data(c, f, S2C, buf, 9, 0, 11);
	CHECK_EQ_U(S.n, 0);
	kc_dissect_tcp_data(c, f, S2C, buf + 9, sizeof(dns_a) + 2 - 9, 0, 12);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].proto, KC_ITEM_DNS);
	CHECK_EQ_U(S.items[0].l4, 6);
	kc_dissect_flow_close(c, f, 13);

	/* An unanswered query: emitted by the tick after the DNS timeout. */
	f = open_flow(c, 53, 17);
	kc_dissect_udp_datagram(c, f, C2S, dns_q, sizeof(dns_q), 1000000);
	CHECK_EQ_U(kc_dissect_tick(c, 1000000 + KC_DISSECT_DEFAULT_DNS_TIMEOUT_US - 1, 64), 0);
	CHECK_EQ_U(kc_dissect_tick(c, 1000000 + KC_DISSECT_DEFAULT_DNS_TIMEOUT_US + 1, 64), 1);
	CHECK_EQ_U(S.n, 1);
	CHECK(S.items[0].flags & KC_ITEM_F_TIMEOUT);
	kc_dissect_flow_close(c, f, 9000000);
	CHECK_EQ_U(S.n, 1);

	/* Port 53 but not DNS at all: a UDP item, once. */
	f = open_flow(c, 53, 17);
	kc_dissect_udp_datagram(c, f, C2S, (const uint8_t *)"hi", 2, 5);
	kc_dissect_udp_datagram(c, f, S2C, (const uint8_t *)"there", 5, 6);
	kc_dissect_flow_close(c, f, 7);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].proto, KC_ITEM_UDP);
	CHECK_EQ_U(S.items[0].req_size, 2);

	/* Other UDP port: UDP item at the first datagram. */
	f = open_flow(c, 9999, 17);
	kc_dissect_udp_datagram(c, f, S2C, dns_a, sizeof(dns_a), 8);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].proto, KC_ITEM_UDP);
	CHECK_EQ_U(S.items[0].resp_size, sizeof(dns_a));
	kc_dissect_flow_close(c, f, 9);
	CHECK_EQ_U(S.n, 1);
	kc_dissect_core_destroy(c);
}

static size_t tls_hellos(uint8_t *ch, size_t *chl, uint8_t *sh)
{
	/* ClientHello: TLS 1.2, one suite, SNI example.org; ServerHello 0x1301. */
	static const char sni[] = "example.org";
	uint8_t body[256];
	size_t n = 0, e, l;

	body[n++] = 3;
	body[n++] = 3;
	memset(body + n, 0x11, 32);
	n += 32;
	body[n++] = 0;             /* session id */
	body[n++] = 0;
	body[n++] = 2;
	body[n++] = 0x13;
	body[n++] = 0x01;
	body[n++] = 1;             /* compression */
	body[n++] = 0;
	e = n;
	n += 2;                    /* extensions length */
	body[n++] = 0;             /* server_name */
	body[n++] = 0;
	body[n++] = 0;
	body[n++] = (uint8_t)(strlen(sni) + 5);
	body[n++] = 0;
	body[n++] = (uint8_t)(strlen(sni) + 3);
	body[n++] = 0;
	body[n++] = 0;
	body[n++] = (uint8_t)strlen(sni);
	memcpy(body + n, sni, strlen(sni));
	n += strlen(sni);
	body[e] = 0;
	body[e + 1] = (uint8_t)(n - e - 2);
	ch[0] = 0x16;
	ch[1] = 3;
	ch[2] = 1;
	ch[3] = 0;
	ch[4] = (uint8_t)(n + 4);
	ch[5] = 1;
	ch[6] = 0;
	ch[7] = 0;
	ch[8] = (uint8_t)n;
	memcpy(ch + 9, body, n);
	*chl = n + 9;
	l = 0;
	body[l++] = 3;
	body[l++] = 3;
	memset(body + l, 0x22, 32);
	l += 32;
	body[l++] = 0;
	body[l++] = 0x13;
	body[l++] = 0x01;
	body[l++] = 0;
	body[l++] = 0;
	body[l++] = 0;
	sh[0] = 0x16;
	sh[1] = 3;
	sh[2] = 3;
	sh[3] = 0;
	sh[4] = (uint8_t)(l + 4);
	sh[5] = 2;
	sh[6] = 0;
	sh[7] = 0;
	sh[8] = (uint8_t)l;
	memcpy(sh + 9, body, l);
	return l + 9;
}

static void test_tls(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 8443, 6);
	uint8_t ch[300], sh[300];
	size_t chl, shl = tls_hellos(ch, &chl, sh);

	/* split inside the record header and inside the hello */
	kc_dissect_tcp_data(c, f, C2S, ch, 3, 0, 100);
	CHECK_EQ_U(kc_dissect_flow_proto(f), (unsigned long long)-1);
	kc_dissect_tcp_data(c, f, C2S, ch + 3, 20, 0, 101);
	CHECK_EQ_U(kc_dissect_flow_proto(f), KC_ITEM_TLS);
	kc_dissect_tcp_data(c, f, C2S, ch + 23, (uint32_t)(chl - 23), 0, 102);
	kc_dissect_tcp_data(c, f, S2C, sh, (uint32_t)shl, 0, 200);
	/* encrypted application data afterwards is ignored */
	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)"\x17\x03\x03\x00\x02xx", 7, 0, 300);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].proto, KC_ITEM_TLS);
	CHECK_STR(&S.items[0], S.items[0].u.tls.sni, "example.org");
	CHECK_EQ_U(S.items[0].u.tls.cipher_suite, 0x1301);
	kc_dissect_flow_close(c, f, 400);
	CHECK_EQ_U(S.n, 1);
	kc_dissect_core_destroy(c);
}

static const uint8_t h2_settings[] = { 0, 0, 0, 4, 0, 0, 0, 0, 0 };
/* HEADERS stream 1, END_STREAM|END_HEADERS: GET / http, :authority "h" */
static const uint8_t h2_req[] = { 0, 0, 6, 1, 5, 0, 0, 0, 1, 0x82, 0x84, 0x86, 0x41, 0x01, 'h' };
/* HEADERS stream 1, END_STREAM|END_HEADERS: :status 200 */
static const uint8_t h2_resp[] = { 0, 0, 1, 1, 5, 0, 0, 0, 1, 0x88 };

static void test_http2(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 8080, 6);
	static const char pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	static const char up_req[] =
		"GET /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
		"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n";
	static const char up_resp[] =
		"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
	uint8_t buf[512];
	size_t n = 0;

	/* prior knowledge, preface split */
	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)pre, 10, 0, 1);
	CHECK_EQ_U(kc_dissect_flow_proto(f), (unsigned long long)-1);
	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)pre + 10, 14, 0, 2);
	CHECK_EQ_U(kc_dissect_flow_proto(f), KC_ITEM_HTTP2);
	kc_dissect_tcp_data(c, f, C2S, h2_settings, sizeof(h2_settings), 0, 3);
	kc_dissect_tcp_data(c, f, C2S, h2_req, sizeof(h2_req), 0, 4);
	kc_dissect_tcp_data(c, f, S2C, h2_settings, sizeof(h2_settings), 0, 5);
	kc_dissect_tcp_data(c, f, S2C, h2_resp, sizeof(h2_resp), 0, 6);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].proto, KC_ITEM_HTTP2);
	CHECK_EQ_U(S.items[0].u.http.status, 200);
	CHECK_STR(&S.items[0], S.items[0].u.http.path, "/");
	kc_dissect_flow_close(c, f, 7);
	CHECK_EQ_U(S.n, 1);

	/* h2c upgrade: the preface arrives before the 101 and is held. */
	f = open_flow(c, 8080, 6);
	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)up_req, (uint32_t)strlen(up_req), 0, 10);
	memcpy(buf, pre, 24);
	n = 24;
	memcpy(buf + n, h2_settings, sizeof(h2_settings));
	n += sizeof(h2_settings);
	kc_dissect_tcp_data(c, f, C2S, buf, (uint32_t)n, 0, 11);
	CHECK_EQ_U(kc_dissect_flow_proto(f), KC_ITEM_HTTP);
	n = strlen(up_resp);
	memcpy(buf, up_resp, n);
	memcpy(buf + n, h2_settings, sizeof(h2_settings));
	n += sizeof(h2_settings);
	memcpy(buf + n, h2_resp, sizeof(h2_resp));
	n += sizeof(h2_resp);
	kc_dissect_tcp_data(c, f, S2C, buf, (uint32_t)n, 0, 12);
	CHECK_EQ_U(kc_dissect_flow_proto(f), KC_ITEM_HTTP2);
	CHECK_EQ_U(kc_dissect_stats(c)->http.upgrade_h2c, 1);
	kc_dissect_flow_close(c, f, 13);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].proto, KC_ITEM_HTTP2);
	CHECK_STR(&S.items[0], S.items[0].u.http.path, "/up");
	CHECK_EQ_U(S.items[0].u.http.status, 200);
	CHECK_EQ_U(S.items[0].u.http.h2_stream_id, 1);
	CHECK_EQ_U(S.items[0].index, 0);
	kc_dissect_core_destroy(c);
}

static void test_leading_crlf(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 8000, 6);

	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)"\r\n", 2, 0, 1);
	CHECK_EQ_U(kc_dissect_flow_proto(f), (unsigned long long)-1);
	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)"GET /x HTTP/1.1\r\n\r\n", 19, 0, 2);
	CHECK_EQ_U(kc_dissect_flow_proto(f), KC_ITEM_HTTP);
	kc_dissect_flow_close(c, f, 3);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].flags, KC_ITEM_F_REQUEST | KC_ITEM_F_TIMEOUT);
	CHECK_STR(&S.items[0], S.items[0].u.http.path, "/x");
	kc_dissect_core_destroy(c);
}

static void test_numbering_and_pools(void)
{
	struct kc_dissect_cfg cfg;
	struct kc_err err;
	struct kc_dissect_core *c;
	struct kc_dissect_flow *f, *g;
	struct kc_flow_info fi;

	/* config validation names the problem */
	kc_dissect_cfg_default(&cfg);
	cfg.http_pipeline = KC_DISSECT_HTTP_PIPELINE_MAX + 1;
	err.msg[0] = '\0';
	CHECK(kc_dissect_core_create(&cfg, &err) == NULL && errno == EINVAL);
	CHECK(strstr(err.msg, "pipeline") != NULL);
	kc_dissect_core_destroy(NULL);

	/* one flow slot, one pending buffer, one item */
	kc_dissect_cfg_default(&cfg);
	cfg.max_flows = 1;
	cfg.pending_bufs = 1;
	cfg.pending_size = 256;
	cfg.http_items = 1;
	cfg.inflaters = 1;
	cfg.dns_flows = 1;
	cfg.tls_flows = 1;
	cfg.h2_flows = 1;
	c = kc_dissect_core_create(&cfg, &err);
	CHECK(c != NULL);
	t_flow_info(&fi, 80, 6);
	memset(&S, 0, sizeof(S));
	f = kc_dissect_flow_open(c, &fi, sink_emit, &S);
	CHECK(f != NULL);
	CHECK(kc_dissect_flow_open(c, &fi, sink_emit, &S) == NULL);
	CHECK_EQ_U(kc_dissect_stats(c)->flow_pool_empty, 1);
	/* two requests, one item slot: the second is parsed but not kept,
	 * and its response is skipped without breaking the pairing. */
	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
			    38, 0, 1);
	CHECK_EQ_U(kc_dissect_stats(c)->http.item_pool_empty, 1);
	kc_dissect_tcp_data(c, f, S2C, (const uint8_t *)"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
			    "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 81, 0, 2);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].u.http.status, 200);
	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)"GET /3 HTTP/1.1\r\n\r\n", 19, 0, 3);
	kc_dissect_tcp_data(c, f, S2C, (const uint8_t *)"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
			    44, 0, 4);
	CHECK_EQ_U(S.n, 2);
	CHECK_STR(&S.items[1], S.items[1].u.http.path, "/3");
	CHECK_EQ_U(S.items[1].u.http.status, 202);
	CHECK_EQ_U(S.items[1].index, 1);
	kc_dissect_flow_close(c, f, 5);
	g = kc_dissect_flow_open(c, &fi, sink_emit, &S);
	CHECK(g != NULL); /* the slot came back */
	kc_dissect_flow_close(c, g, 6);
	CHECK_EQ_U(kc_dissect_stats(c)->flows_opened, 2);
	CHECK_EQ_U(kc_dissect_stats(c)->flows_closed, 2);
	kc_dissect_core_destroy(c);
}

struct visit {
	int n;
	uint64_t http1_items, h1_requests;
};

static void visit_cb(void *ctx, const char *name, uint64_t v)
{
	struct visit *vi = ctx;

	vi->n++;
	if (strcmp(name, "dissect.http1.items") == 0)
		vi->http1_items = v;
	if (strcmp(name, "dissect.http1.requests") == 0)
		vi->h1_requests = v;
}

static void test_stats(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80, 6);
	struct kc_dissect_stats sum;
	struct visit vi = { 0 };

	kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, 0, 1);
	kc_dissect_tcp_data(c, f, S2C, (const uint8_t *)"HTTP/1.1 200 OK\r\n\r\n", 19, 0, 2);
	kc_dissect_flow_close(c, f, 3);
	CHECK_EQ_U(S.n, 1);
	memset(&sum, 0, sizeof(sum));
	kc_dissect_stats_add(&sum, kc_dissect_stats(c));
	kc_dissect_stats_add(&sum, kc_dissect_stats(c));
	kc_dissect_stats_visit(&sum, visit_cb, &vi);
	CHECK_EQ_U(vi.n, 35 + 7 * 5);
	CHECK_EQ_U(vi.http1_items, 2);
	CHECK_EQ_U(vi.h1_requests, 2);
	kc_dissect_core_destroy(c);
}

static size_t put(uint8_t *b, size_t n, const void *d, size_t l)
{
	memcpy(b + n, d, l);
	return n + l;
}

/* Gaps reach lib/dns and lib/http2, which resynchronise instead of stopping
 * the direction. */
static void test_gap_resync(void)
{
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 53, 6);
	const struct kc_dissect_stats *st = kc_dissect_stats(c);
	uint8_t cb[256], sb[256];
	size_t nc = 0, ns = 0;

	/* DNS over TCP: queries 0x1234 and 0x5678; a hole inside the first
	 * answer; the second answer must still pair. */
	cb[nc++] = 0;
	cb[nc++] = sizeof(dns_q);
	nc = put(cb, nc, dns_q, sizeof(dns_q));
	cb[nc++] = 0;
	cb[nc++] = sizeof(dns_q);
	nc = put(cb, nc, dns_q, sizeof(dns_q));
	cb[nc - sizeof(dns_q)] = 0x56;
	cb[nc - sizeof(dns_q) + 1] = 0x78;
	sb[ns++] = 0;
	sb[ns++] = sizeof(dns_a);
	ns = put(sb, ns, dns_a, sizeof(dns_a));
	sb[ns++] = 0;
	sb[ns++] = sizeof(dns_a);
	ns = put(sb, ns, dns_a, sizeof(dns_a));
	sb[ns - sizeof(dns_a)] = 0x56;
	sb[ns - sizeof(dns_a) + 1] = 0x78;
	kc_dissect_tcp_data(c, f, C2S, cb, (uint32_t)nc, 0, 10);
	kc_dissect_tcp_data(c, f, S2C, sb, 10, 0, 20);
	kc_dissect_tcp_data(c, f, S2C, sb + 18, (uint32_t)(ns - 18), 8, 21);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].proto, KC_ITEM_DNS);
	CHECK_EQ_U(S.items[0].u.dns.id, 0x5678);
	CHECK_EQ_U(S.items[0].flags, KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE);
	CHECK_EQ_U(S.items[0].ts_us, 10);
	CHECK_EQ_U(S.items[0].resp_ts_us, 21);
	CHECK_STR(&S.items[0], S.items[0].u.dns.rrs[0].data, "93.184.216.34");
	CHECK_EQ_U(st->proto[KC_ITEM_DNS].gaps, 1);
	CHECK_EQ_U(st->dns.resync_ok, 1);
	CHECK_EQ_U(st->dns.resync_skipped, sizeof(dns_a) + 2 - 18);
	kc_dissect_flow_close(c, f, 30);
	CHECK_EQ_U(S.n, 2);
	CHECK_EQ_U(S.items[1].u.dns.id, 0x1234);
	CHECK_EQ_U(S.items[1].flags, KC_ITEM_F_REQUEST | KC_ITEM_F_TIMEOUT);
	CHECK_EQ_U(S.items[1].index, 1);

	/* HTTP/2: a hole from inside stream 1's DATA into a PING; stream 3
	 * (static/literal headers) completes after it. */
	{
		static const char pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
		static const uint8_t req3[] = { 0, 0, 6, 1, 5, 0, 0, 0, 3, 0x82, 0x84, 0x86, 0x41, 0x01, 'h' };
		static const uint8_t resp1[] = { 0, 0, 1, 1, 4, 0, 0, 0, 1, 0x88 }; /* no END_STREAM */
		static const uint8_t resp3[] = { 0, 0, 1, 1, 5, 0, 0, 0, 3, 0x8d };  /* 404 */
		static const uint8_t data1[] = { 0, 0, 20, 0, 0, 0, 0, 0, 1 };
		static const uint8_t ping[] = { 0, 0, 8, 6, 0, 0, 0, 0, 0, '1', '2', '3', '4', '5', '6', '7', '8' };
		uint8_t y[20];
		size_t d1, cut1, cut2;

		memset(y, 'y', sizeof(y));
		f = open_flow(c, 8080, 6);
		nc = put(cb, 0, pre, 24);
		nc = put(cb, nc, h2_settings, sizeof(h2_settings));
		nc = put(cb, nc, h2_req, sizeof(h2_req));
		nc = put(cb, nc, req3, sizeof(req3));
		ns = put(sb, 0, h2_settings, sizeof(h2_settings));
		ns = put(sb, ns, resp1, sizeof(resp1));
		ns = put(sb, ns, data1, sizeof(data1));
		d1 = ns;
		ns = put(sb, ns, y, sizeof(y));
		cut2 = ns + 9 + 3;
		ns = put(sb, ns, ping, sizeof(ping));
		ns = put(sb, ns, resp3, sizeof(resp3));
		cut1 = d1 + 5;
		kc_dissect_tcp_data(c, f, C2S, cb, (uint32_t)nc, 0, 40);
		kc_dissect_tcp_data(c, f, S2C, sb, (uint32_t)cut1, 0, 41);
		kc_dissect_tcp_data(c, f, S2C, sb + cut2, (uint32_t)(ns - cut2),
				    (uint32_t)(cut2 - cut1), 42);
		CHECK_EQ_U(S.n, 1);
		CHECK_EQ_U(S.items[0].proto, KC_ITEM_HTTP2);
		CHECK_EQ_U(S.items[0].u.http.h2_stream_id, 3);
		/* Stream 3 was open when the server's bytes were lost: the
		 * hole may have held its frames too, so it is flagged. */
		CHECK_EQ_U(S.items[0].flags, KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE | KC_ITEM_F_GAP);
		CHECK_EQ_U(S.items[0].u.http.status, 404);
		CHECK_EQ_U(S.items[0].index, 0);
		CHECK_EQ_U(st->proto[KC_ITEM_HTTP2].gaps, 1);
		CHECK_EQ_U(st->h2.resync_ok, 1);
		CHECK_EQ_U(st->h2.resync_skipped, 5);
		kc_dissect_flow_close(c, f, 50);
		CHECK_EQ_U(S.n, 2);
		CHECK_EQ_U(S.items[1].u.http.h2_stream_id, 1);
		CHECK_EQ_U(S.items[1].flags, KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE |
						     KC_ITEM_F_TIMEOUT | KC_ITEM_F_GAP);
		CHECK_STR(&S.items[1], S.items[1].u.http.resp_body, "yyyyy");
		CHECK_EQ_U(S.items[1].index, 1);
	}
	kc_dissect_core_destroy(c);
}

/* The close-time prefetch hints accept NULL and any flow, and change
 * nothing: the exchange around them is parsed as usual. */
static void test_prefetch_hints(void)
{
	static const char req[] = "GET /p HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct kc_dissect_core *c = t_core(4096);
	struct kc_dissect_flow *f = open_flow(c, 80, 6);

	kc_dissect_flow_prefetch(NULL);
	kc_dissect_flow_prefetch_state(NULL);
	kc_dissect_flow_prefetch(f);
	kc_dissect_flow_prefetch_state(f); /* protocol not decided yet */
	CHECK(kc_dissect_tcp_data(c, f, C2S, (const uint8_t *)req, sizeof(req) - 1, 0, 10) == 0);
	CHECK_EQ_U(kc_dissect_flow_proto(f), KC_ITEM_HTTP);
	kc_dissect_flow_prefetch(f);
	kc_dissect_flow_prefetch_state(f);
	CHECK(kc_dissect_tcp_data(c, f, S2C, (const uint8_t *)resp, sizeof(resp) - 1, 0, 20) == 0);
	CHECK_EQ_U(S.n, 1);
	CHECK_EQ_U(S.items[0].u.http.status, 200);
	kc_dissect_flow_prefetch(f);
	kc_dissect_flow_prefetch_state(f);
	kc_dissect_flow_close(c, f, 30);
	CHECK_EQ_U(S.n, 1);
	kc_dissect_core_destroy(c);
}

int main(void)
{
	test_prefetch_hints();
	test_gap_resync();
	test_stats();
	test_dns();
	test_tls();
	test_http2();
	test_numbering_and_pools();
	test_leading_crlf();
	return t_report();
}
