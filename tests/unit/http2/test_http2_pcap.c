/*
 * Real captures against TShark's ground truth (tests/data/http2/NAME.http2_headers.tsv):
 * each HTTP/2 stream's :method, :path, :authority, :status and content-type.
 *
 * The test reads the pcaps with libpcap and follows each TCP connection with
 * a minimal in-order follower (these are clean loopback captures: an
 * out-of-order segment fails the test). A connection whose client starts
 * with the preface is fed as prior knowledge; one that starts with an
 * HTTP/1.1 request carrying "Upgrade: h2c" answered by "101" is handed over
 * with kc_http2_flow_init_upgrade(), the way the HTTP/1 dissector will.
 *
 * Usage: test_http2_pcap DATA_DIR
 */
#include <arpa/inet.h>
#include <pcap/pcap.h>

#include "h2_test_util.h"

#define MAX_CONNS 16
#define MAX_ROWS 64

struct conn {
	int used;
	int index;             /* TShark tcp.stream */
	uint8_t cli_ip[16], srv_ip[16];
	uint16_t cli_port, srv_port;
	int family;
	uint32_t next_seq[2];
	int seq_known[2];
	int mode;              /* 0 undecided, 1 h2, 2 not h2 */
	struct buf head[2];    /* bytes before the decision */
	struct pump p;
	int closed;
};

struct item_rec {
	int tcp_stream;
	struct kc_item *it;
};

static struct item_rec got[MAX_ROWS];
static unsigned n_got;
static int cur_tcp;

static void rec_emit(void *ctx, const struct kc_item *it)
{
	(void)ctx;
	if (n_got >= MAX_ROWS)
		return;
	got[n_got].tcp_stream = cur_tcp;
	got[n_got].it = malloc(sizeof(*it));
	memcpy(got[n_got].it, it, sizeof(*it));
	n_got++;
}

static struct kc_http2_stats gst;
static unsigned ooo_segments;

static void conn_feed(struct conn *c, int d, const uint8_t *data, size_t len, uint64_t ts)
{
	struct buf *pb = &c->p.pend[d];

	cur_tcp = c->index;
	if (c->p.error)
		return;
	buf_put(pb, data, len);
	while (pb->len > 0) {
		struct kc_parse_res r = kc_http2_feed(c->p.f, (enum kc_dir)d, pb->p, pb->len, ts,
						      &c->p.info, rec_emit, NULL, &gst);

		memmove(pb->p, pb->p + r.consumed, pb->len - r.consumed);
		pb->len -= r.consumed;
		if (r.status == KC_PARSE_ERROR) {
			c->p.error = 1;
			break;
		}
		if (r.status == KC_PARSE_NEED_MORE)
			break;
	}
}

static const char *find_crlfcrlf(const struct buf *b)
{
	for (size_t i = 0; i + 4 <= b->len; i++)
		if (memcmp(b->p + i, "\r\n\r\n", 4) == 0)
			return (const char *)b->p + i;
	return NULL;
}

/* Minimal HTTP/1 request head -> item, as the HTTP/1 dissector would. */
static int http1_request(const struct buf *b, size_t head_len, struct kc_item *it, int *upgrade)
{
	const char *p = (const char *)b->p, *end = p + head_len, *sp1, *sp2, *eol;
	struct kc_item_http *h = &it->u.http;

	kc_item_reset(it, KC_ITEM_HTTP);
	it->flags = KC_ITEM_F_REQUEST;
	*upgrade = 0;
	eol = memchr(p, '\r', head_len);
	sp1 = memchr(p, ' ', (size_t)(eol - p));
	if (sp1 == NULL)
		return -1;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (sp2 == NULL)
		return -1;
	(void)kc_item_put(it, p, (size_t)(sp1 - p), &h->method);
	(void)kc_item_put(it, sp1 + 1, (size_t)(sp2 - sp1 - 1), &h->url);
	h->path = h->url;
	for (size_t i = 0; i < h->url.len; i++)
		if (it->arena[h->url.off + i] == '?')
			h->path.len = (uint16_t)i;
	p = eol + 2;
	while (p < end) {
		const char *colon, *v;
		struct kc_kv *kv = &h->req_headers[h->n_req_headers];

		eol = memchr(p, '\r', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon != NULL && h->n_req_headers < KC_ITEM_MAX_HEADERS) {
			v = colon + 1;
			while (v < eol && *v == ' ')
				v++;
			(void)kc_item_put(it, p, (size_t)(colon - p), &kv->name);
			kc_item_canon_header(it->arena + kv->name.off, kv->name.len);
			(void)kc_item_put(it, v, (size_t)(eol - v), &kv->value);
			if (kc_item_str_eq(it, kv->name, "Host"))
				h->host = kv->value;
			if (kc_item_str_eq(it, kv->name, "Upgrade") &&
			    kc_item_str_eq(it, kv->value, "h2c"))
				*upgrade = 1;
			h->n_req_headers++;
		}
		p = eol + 2;
	}
	return 0;
}

/* Decide what the connection is once both heads (or the preface) are in. */
static void conn_decide(struct conn *c, uint64_t ts)
{
	struct buf *cb = &c->head[0], *sb = &c->head[1];
	enum kc_http2_probe_res pr;

	if (cb->len == 0)
		return;
	pr = kc_http2_probe(cb->p, cb->len);
	if (pr == KC_HTTP2_PROBE_YES) {
		c->mode = 1;
		pump_init(&c->p, KC_HTTP2_MODE_PRIOR);
	} else if (pr == KC_HTTP2_PROBE_NEED_MORE) {
		return;
	} else {
		const char *qe = find_crlfcrlf(cb), *se = find_crlfcrlf(sb);
		struct kc_item *req;
		int upgrade;
		size_t qlen, slen;

		if (qe == NULL || se == NULL)
			return;
		qlen = (size_t)(qe + 4 - (const char *)cb->p);
		slen = (size_t)(se + 4 - (const char *)sb->p);
		req = calloc(1, sizeof(*req));
		if (http1_request(cb, qlen, req, &upgrade) < 0 || !upgrade ||
		    sb->len < 12 || memcmp(sb->p, "HTTP/1.1 101", 12) != 0) {
			c->mode = 2;
			free(req);
			return;
		}
		req->ts_us = ts;
		req->req_size = qlen;
		pump_init(&c->p, KC_HTTP2_MODE_PRIOR);
		c->p.f = kc_http2_flow_init_upgrade(c->p.mem, kc_http2_flow_size(), req, &gst);
		free(req);
		c->mode = 1;
		memmove(cb->p, cb->p + qlen, cb->len - qlen);
		cb->len -= qlen;
		memmove(sb->p, sb->p + slen, sb->len - slen);
		sb->len -= slen;
	}
	c->p.info.family = (uint8_t)c->family;
	c->p.info.stream_id = (uint64_t)c->index;
	c->p.info.src_port = c->cli_port;
	c->p.info.dst_port = c->srv_port;
	conn_feed(c, 0, cb->p, cb->len, ts);
	conn_feed(c, 1, sb->p, sb->len, ts);
	cb->len = 0;
	sb->len = 0;
}

static void conn_data(struct conn *c, int d, const uint8_t *data, size_t len, uint64_t ts)
{
	if (c->mode == 2 || len == 0)
		return;
	if (c->mode == 1) {
		conn_feed(c, d, data, len, ts);
		return;
	}
	buf_put(&c->head[d], data, len);
	conn_decide(c, ts);
}

static void conn_close(struct conn *c)
{
	if (c->mode == 1 && !c->closed) {
		cur_tcp = c->index;
		kc_http2_close(c->p.f, 0, &c->p.info, rec_emit, NULL, &gst);
	}
	c->closed = 1;
}

static struct conn conns[MAX_CONNS];
static int n_conns;

static void on_packet(const struct pcap_pkthdr *ph, const uint8_t *pkt)
{
	size_t caplen = ph->caplen, off = 14, l4len;
	uint16_t et;
	uint8_t sip[16] = { 0 }, dip[16] = { 0 };
	int family;
	const uint8_t *tcp;
	uint16_t sport, dport;
	uint32_t seq;
	uint8_t tflags;
	size_t thl;
	struct conn *c = NULL;
	int d = 0;
	uint64_t ts = (uint64_t)ph->ts.tv_sec * 1000000u + (uint64_t)ph->ts.tv_usec;

	if (caplen < 14)
		return;
	et = (uint16_t)((pkt[12] << 8) | pkt[13]);
	if (et == 0x0800) {
		size_t ihl, tot;

		if (caplen < off + 20 || pkt[off + 9] != 6)
			return;
		ihl = (size_t)(pkt[off] & 0xf) * 4;
		tot = (size_t)((pkt[off + 2] << 8) | pkt[off + 3]);
		memcpy(sip, pkt + off + 12, 4);
		memcpy(dip, pkt + off + 16, 4);
		family = 4;
		tcp = pkt + off + ihl;
		l4len = KC_MIN(tot, caplen - off) - ihl;
	} else if (et == 0x86dd) {
		size_t plen;

		if (caplen < off + 40 || pkt[off + 6] != 6)
			return;
		plen = (size_t)((pkt[off + 4] << 8) | pkt[off + 5]);
		memcpy(sip, pkt + off + 8, 16);
		memcpy(dip, pkt + off + 24, 16);
		family = 6;
		tcp = pkt + off + 40;
		l4len = KC_MIN(plen, caplen - off - 40);
	} else {
		return;
	}
	if (l4len < 20)
		return;
	sport = (uint16_t)((tcp[0] << 8) | tcp[1]);
	dport = (uint16_t)((tcp[2] << 8) | tcp[3]);
	seq = ((uint32_t)tcp[4] << 24) | ((uint32_t)tcp[5] << 16) | ((uint32_t)tcp[6] << 8) | tcp[7];
	thl = (size_t)(tcp[12] >> 4) * 4;
	tflags = tcp[13];
	if (thl > l4len)
		return;
	for (int i = 0; i < n_conns; i++) {
		struct conn *k = &conns[i];

		if (k->closed)
			continue;
		if (k->cli_port == sport && k->srv_port == dport && !memcmp(k->cli_ip, sip, 16) &&
		    !memcmp(k->srv_ip, dip, 16)) {
			c = k;
			d = 0;
		} else if (k->cli_port == dport && k->srv_port == sport &&
			   !memcmp(k->cli_ip, dip, 16) && !memcmp(k->srv_ip, sip, 16)) {
			c = k;
			d = 1;
		}
		if (c != NULL)
			break;
	}
	if (c == NULL) {
		if (n_conns >= MAX_CONNS)
			return;
		c = &conns[n_conns];
		memset(c, 0, sizeof(*c));
		c->index = n_conns++;
		c->used = 1;
		c->family = family;
		/* the SYN sender (or the first sender) is the client; a lone
		 * SYN-ACK makes the receiver the client */
		d = ((tflags & 0x12) == 0x12) ? 1 : 0;
		memcpy(c->cli_ip, d ? dip : sip, 16);
		memcpy(c->srv_ip, d ? sip : dip, 16);
		c->cli_port = d ? dport : sport;
		c->srv_port = d ? sport : dport;
	}
	{
		const uint8_t *pl = tcp + thl;
		size_t plen = l4len - thl;

		if (tflags & 0x02) { /* SYN */
			c->next_seq[d] = seq + 1;
			c->seq_known[d] = 1;
		} else if (!c->seq_known[d]) {
			c->next_seq[d] = seq;
			c->seq_known[d] = 1;
		}
		if (plen > 0) {
			int32_t delta = (int32_t)(seq - c->next_seq[d]);

			if (delta > 0) {
				ooo_segments++;
			} else if ((size_t)(-delta) < plen) {
				size_t skip = (size_t)(-delta);

				c->next_seq[d] += (uint32_t)(plen - skip);
				conn_data(c, d, pl + skip, plen - skip, ts);
			}
		}
		if (tflags & 0x01) /* FIN */
			c->next_seq[d]++;
		if (tflags & 0x04) /* RST */
			conn_close(c);
	}
}

/* ---- truth ---- */
struct truth {
	int tcp_stream;
	uint32_t sid;
	char method[16], path[512], authority[128], status[8], ctype[64];
	int has_req, has_resp;
};

static struct truth truth[MAX_ROWS];
static int n_truth;

static struct truth *truth_get(int tcp, uint32_t sid)
{
	for (int i = 0; i < n_truth; i++)
		if (truth[i].tcp_stream == tcp && truth[i].sid == sid)
			return &truth[i];
	if (n_truth >= MAX_ROWS)
		abort();
	memset(&truth[n_truth], 0, sizeof(truth[0]));
	truth[n_truth].tcp_stream = tcp;
	truth[n_truth].sid = sid;
	return &truth[n_truth++];
}

/* the k-th comma-separated part of s */
static void part(const char *s, int k, char *out, size_t cap)
{
	size_t n = 0;

	for (; *s && k > 0; s++)
		if (*s == ',')
			k--;
	while (*s && *s != ',' && n + 1 < cap)
		out[n++] = *s++;
	out[n] = '\0';
}

static int count_parts(const char *s)
{
	int n = *s ? 1 : 0;

	for (; *s; s++)
		if (*s == ',')
			n++;
	return n;
}

static void load_truth(const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[4096];

	n_truth = 0;
	if (fp == NULL) {
		CHECK(fp != NULL);
		return;
	}
	if (fgets(line, sizeof(line), fp) == NULL) { /* header */
		fclose(fp);
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *col[8] = { 0 };
		char *p = line;
		uint32_t sids[32];
		int nsid = 0, nm, ns;

		line[strcspn(line, "\r\n")] = '\0';
		for (int i = 0; i < 8; i++) {
			col[i] = p;
			p = strchr(p, '\t');
			if (p == NULL) {
				for (int j = i + 1; j < 8; j++)
					col[j] = "";
				break;
			}
			*p++ = '\0';
		}
		/* distinct non-zero stream ids in order: the HEADERS frames */
		for (int k = 0; k < count_parts(col[2]) && nsid < 32; k++) {
			char b[16];
			uint32_t v;

			part(col[2], k, b, sizeof(b));
			v = (uint32_t)strtoul(b, NULL, 10);
			if (v != 0 && (nsid == 0 || sids[nsid - 1] != v))
				sids[nsid++] = v;
		}
		nm = count_parts(col[3]);
		ns = count_parts(col[6]);
		for (int k = 0; k < nm && k < nsid; k++) {
			struct truth *t = truth_get(atoi(col[1]), sids[k]);

			t->has_req = 1;
			part(col[3], k, t->method, sizeof(t->method));
			part(col[4], k, t->path, sizeof(t->path));
			part(col[5], k, t->authority, sizeof(t->authority));
			if (count_parts(col[7]) == nm)
				part(col[7], k, t->ctype, sizeof(t->ctype));
		}
		for (int k = 0; k < ns && k < nsid; k++) {
			struct truth *t = truth_get(atoi(col[1]), sids[k]);

			t->has_resp = 1;
			part(col[6], k, t->status, sizeof(t->status));
			/* a content-type with "," inside (none here) would need
			 * more care; one response per row in these files */
			snprintf(t->ctype, sizeof(t->ctype), "%s", col[7]);
		}
	}
	fclose(fp);
}

static void run_file(const char *dir, const char *name, unsigned want_items, int want_grpc)
{
	char path[1024], err[PCAP_ERRBUF_SIZE];
	pcap_t *pc;
	struct pcap_pkthdr *ph;
	const uint8_t *pkt;
	unsigned matched = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	pc = pcap_open_offline(path, err);
	CHECK(pc != NULL);
	if (pc == NULL) {
		fprintf(stderr, "%s: %s\n", path, err);
		return;
	}
	n_conns = 0;
	n_got = 0;
	ooo_segments = 0;
	memset(&gst, 0, sizeof(gst));
	while (pcap_next_ex(pc, &ph, &pkt) == 1)
		on_packet(ph, pkt);
	pcap_close(pc);
	for (int i = 0; i < n_conns; i++) {
		conn_close(&conns[i]);
		if (conns[i].mode == 1) {
			CHECK(conns[i].p.error == 0);
			pump_free(&conns[i].p);
		}
		buf_free(&conns[i].head[0]);
		buf_free(&conns[i].head[1]);
	}
	CHECK(ooo_segments == 0);
	snprintf(path, sizeof(path), "%s/%s.http2_headers.tsv", dir, name);
	load_truth(path);
	printf("%s: %u items, %d truth streams, %llu frames, hpack errors %llu\n", name, n_got,
	       n_truth, (unsigned long long)gst.frames, (unsigned long long)gst.hpack_errors);
	CHECK(n_got == want_items);
	CHECK((int)n_got == n_truth);
	CHECK(gst.hpack_errors == 0 && gst.protocol_errors == 0 && gst.hpack_unknown_refs == 0);
	for (unsigned i = 0; i < n_got; i++) {
		const struct kc_item *it = got[i].it;
		const struct kc_item_http *h = &it->u.http;
		struct truth *t = NULL;

		for (int k = 0; k < n_truth; k++)
			if (truth[k].tcp_stream == got[i].tcp_stream && truth[k].sid == h->h2_stream_id)
				t = &truth[k];
		CHECK(t != NULL);
		if (t == NULL)
			continue;
		matched++;
		if (!(it->flags & KC_ITEM_F_RESPONSE))
			fprintf(stderr, "no response: tcp %d stream %u flags 0x%x\n",
				got[i].tcp_stream, h->h2_stream_id, it->flags);
		CHECK(it->flags & KC_ITEM_F_RESPONSE);
		CHECK(!(it->flags & KC_ITEM_F_TRUNCATED));
		if (t->has_req) {
			CHECK(strcmp(V(it, h->method), t->method) == 0);
			CHECK(strcmp(V(it, h->url), t->path) == 0);
			CHECK(strcmp(V(it, h->host), t->authority) == 0);
			CHECK(strcmp(H(it, 0, ":authority"), t->authority) == 0);
		} else {
			/* upgraded: the request came from HTTP/1 */
			CHECK(strcmp(V(it, h->method), "GET") == 0);
			CHECK(strcmp(V(it, h->url), "/eicar") == 0);
			CHECK(strcmp(V(it, h->host), "127.0.0.1:8080") == 0);
		}
		if (t->has_resp) {
			char st[8];

			snprintf(st, sizeof(st), "%d", h->status);
			CHECK(strcmp(st, t->status) == 0);
			CHECK(strcmp(V(it, h->resp_mime), t->ctype) == 0);
		}
		CHECK((it->proto == KC_ITEM_GRPC) == want_grpc);
		if (want_grpc) {
			CHECK(strcmp(V(it, h->grpc_service), "greet.GreetService") == 0);
			CHECK(h->grpc_status == 0);
		}
		CHECK(!(it->flags & KC_ITEM_F_TIMEOUT));
		free(got[i].it);
	}
	CHECK(matched == want_items);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/data/http2";

	run_file(dir, "ndpi-http2-prior-knowledge.eth.pcap", 1, 0);
	run_file(dir, "suricata-dns-over-http2.pcap", 4, 0);
	run_file(dir, "packt-grpc-bidi-streaming.eth.pcap", 1, 1);
	run_file(dir, "packt-grpc-server-streaming.eth.pcap", 1, 1);
	run_file(dir, "suricata-http2-range.eth.pcap", 3, 0);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail == 0 ? 0 : 1;
}
