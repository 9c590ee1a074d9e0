/*
 * lib/tls against real captures (tests/data/tls): TCP followed in order by the
 * test's walker, each direction fed to kc_tls_feed through a dispatcher
 * stand-in. The frame on which each ClientHello completes and its SNI are
 * compared with TShark's tls_client_hello.tsv; the items' other fields with
 * values read from the same captures with TShark 4.0.17 (-e
 * tls.handshake.ciphersuite, .extensions.supported_version,
 * .extensions_alpn_str, .version), written down below.
 *
 * usage: test_tls_pcap DATA_DIR
 */
#include "kc_tls.h"
#include "pcap_walk.h"
#include "test_common.h"

struct dirbuf {
	uint8_t b[140000];
	size_t len;
	bool stopped;
};

struct fstate {
	struct kc_tls_flow tls;
	struct dirbuf d[2];
};

struct hello_seen {
	unsigned frame;
	char sni[256];
};

struct ctx {
	struct fstate fs[WALK_FLOWS];
	unsigned n_fs;
	struct kc_tls_stats st;
	struct capture cap;
	struct hello_seen hellos[16];
	unsigned n_hellos;
	unsigned errors;
};

static void on_tcp(void *vc, struct walk_flow *f, enum kc_dir dir, const uint8_t *d, size_t n,
		   const struct walk_pkt *p)
{
	struct ctx *c = vc;

	if (p->sport != 443 && p->dport != 443)
		return;
	if (f->user == NULL) {
		struct fstate *s = &c->fs[c->n_fs++];

		memset(s, 0, sizeof(*s));
		kc_tls_flow_init(&s->tls);
		f->user = s;
	}
	struct fstate *s = f->user;
	struct dirbuf *b = &s->d[dir];

	if (b->stopped || b->len + n > sizeof(b->b))
		return;
	memcpy(b->b + b->len, d, n);
	b->len += n;

	uint8_t had_ch = s->tls.have_ch;
	struct kc_parse_res r = kc_tls_feed(&s->tls, dir, b->b, b->len, p->ts_us, &f->fi,
					    cap_emit, &c->cap, &c->st);

	if (r.status == KC_PARSE_ERROR) {
		c->errors++;
		b->stopped = true;
		return;
	}
	memmove(b->b, b->b + r.consumed, b->len - r.consumed);
	b->len -= r.consumed;
	if (!had_ch && s->tls.have_ch && c->n_hellos < 16) {
		struct hello_seen *h = &c->hellos[c->n_hellos++];

		h->frame = p->frame;
		memcpy(h->sni, s->tls.sni, s->tls.sni_len);
		h->sni[s->tls.sni_len] = '\0';
	}
}

static unsigned compare_truth(struct ctx *c, const char *tsv)
{
	FILE *fp = fopen(tsv, "r");
	char line[1024];
	unsigned bad = 0, k = 0;

	if (fp == NULL || fgets(line, sizeof(line), fp) == NULL) {
		fprintf(stderr, "cannot read %s\n", tsv);
		if (fp != NULL)
			fclose(fp);
		return 1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *tab = strchr(line, '\t');

		line[strcspn(line, "\r\n")] = '\0';
		if (tab == NULL)
			continue;
		*tab = '\0';
		if (k >= c->n_hellos) {
			fprintf(stderr, "%s: ClientHello in frame %s not seen\n", tsv, line);
			bad++;
			continue;
		}
		if ((unsigned)atoi(line) != c->hellos[k].frame || strcmp(tab + 1, c->hellos[k].sni)) {
			fprintf(stderr, "%s: got frame %u sni \"%s\", want frame %s sni \"%s\"\n",
				tsv, c->hellos[k].frame, c->hellos[k].sni, line, tab + 1);
			bad++;
		}
		k++;
	}
	fclose(fp);
	if (k != c->n_hellos) {
		fprintf(stderr, "%s: %u ClientHellos in truth, %u seen\n", tsv, k, c->n_hellos);
		bad++;
	}
	return bad;
}

struct expect {
	const char *name;
	unsigned items;
	const char *sni;
	uint8_t n_versions;
	uint16_t server_version, cipher;
	const char *alpn_chosen;
	uint64_t ech;
};

static void run(const char *dir, const struct expect *e)
{
	static struct ctx c;
	static struct walker w;
	char path[1024], tsv[1024];

	memset(&c, 0, sizeof(c));
	memset(&w, 0, sizeof(w));
	w.on_tcp = on_tcp;
	w.ctx = &c;
	snprintf(path, sizeof(path), "%s/%s.pcap", dir, e->name);
	snprintf(tsv, sizeof(tsv), "%s/%s.tls_client_hello.tsv", dir, e->name);
	CHECK(walk_pcap(&w, path) > 0);
	for (unsigned i = 0; i < w.n_flows; i++)
		if (w.flows[i].user != NULL)
			kc_tls_flow_close(&((struct fstate *)w.flows[i].user)->tls, &w.flows[i].fi,
					  cap_emit, &c.cap, &c.st);
	CHECK_EQ(compare_truth(&c, tsv), 0);
	CHECK_EQ(c.errors, 0);
	CHECK_EQ(c.st.items, e->items);
	CHECK_EQ(c.st.items_timeout, 0);
	CHECK_EQ(c.st.ech, e->ech);
	for (unsigned i = 0; i < c.cap.n; i++) {
		const struct kc_item *it = &c.cap.items[i];
		const struct kc_item_tls *t = &it->u.tls;

		CHECK_EQ(it->flags, KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE);
		CHECK_EQ(it->dst_port, 443);
		CHECK_STR(it, t->sni, e->sni);
		CHECK_EQ(t->client_version, 0x0303);
		CHECK_EQ(t->n_alpn, 2);
		CHECK_STR(it, t->alpn[0], "h2");
		CHECK_STR(it, t->alpn[1], "http/1.1");
		CHECK_EQ(t->n_versions, e->n_versions);
		if (e->n_versions == 2) {
			CHECK_EQ(t->offered_versions[0], 0x0304);
			CHECK_EQ(t->offered_versions[1], 0x0303);
		}
		CHECK_EQ(t->server_version, e->server_version);
		CHECK_EQ(t->cipher_suite, e->cipher);
		CHECK_STR(it, t->alpn_chosen, e->alpn_chosen);
		CHECK(it->resp_ts_us >= it->ts_us);
	}
	printf("%s: %u ClientHellos, %llu items, walker: %u out-of-order dropped\n", e->name,
	       c.n_hellos, (unsigned long long)c.st.items, w.ooo_dropped);
}

int main(int argc, char **argv)
{
	static const struct expect files[] = {
		/* ClientHello over 300-byte segments; TLS 1.2 answer with ALPN h2 */
		{ "suricata-tls-client-hello-frag-mtu300", 1, "www.google.com", 0, 0x0303, 0xc02b,
		  "h2", 0 },
		/* 1.2 kB ClientHello (X25519Kyber768) over two segments; TLS 1.3;
		 * Chrome sends a GREASE encrypted_client_hello extension */
		{ "zeek-tls-chrome-1250-x25519-kyber", 1, "lh3.google.com", 2, 0x0304, 0x1301, "",
		  1 },
		/* ECH: the outer SNI */
		{ "zeek-tls13-ech", 2, "cloudflare-ech.com", 2, 0x0304, 0x1301, "", 2 },
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < KC_ARRAY_SIZE(files); i++)
		run(argv[1], &files[i]);
	return t_report();
}
