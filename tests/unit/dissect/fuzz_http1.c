/*
 * Fuzz target: the dissection layer (detection, pending buffers, gaps, the
 * HTTP/1 dissector and whatever else the content selects) fed through
 * kc_dissect_tcp_data / kc_dissect_udp_datagram, both directions, with the
 * segmentation chosen by the input. Every emitted item is checked for arena
 * and table invariants and rendered to JSON.
 *
 * Input layout:
 *
 *   cfg chunk ("KCSP" chunk)*
 *
 *   cfg   1 byte: bit0 small pending buffer (256 B, else 4 KiB);
 *                 bit1 UDP flow (each chunk is one datagram);
 *                 bits2-3 server port: 80, 53, 443, 5432;
 *                 bit4 tiny pools (1 HTTP item, pipeline 1, no spare decoder)
 *   chunk 1 control byte, then payload bytes up to the next "KCSP":
 *                 bit0 direction (1 = server to client);
 *                 bit1 a gap of ((ctl >> 2) & 7) * 13 + 1 bytes precedes it;
 *                 bit5 run kc_dissect_tick() 31 s later before this chunk.
 *
 * The flow is closed at the end (flushing timeouts), then the core destroyed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_dissect.h"
#include "kc_item_json.h"

static const uint8_t magic[4] = { 'K', 'C', 'S', 'P' };

static void check_view(const struct kc_item *it, struct kc_str s)
{
	if ((size_t)s.off + s.len > it->arena_used)
		abort();
}

static void check_item(void *ctx, const struct kc_item *it)
{
	char *js;

	(void)ctx;
	if (it->arena_used > KC_ITEM_ARENA_SIZE || it->proto >= KC_ITEM_PROTO_MAX)
		abort();
	if (it->proto == KC_ITEM_HTTP) {
		const struct kc_item_http *h = &it->u.http;

		if (h->n_req_headers > KC_ITEM_MAX_HEADERS || h->n_resp_headers > KC_ITEM_MAX_HEADERS ||
		    h->n_query > KC_ITEM_MAX_PARAMS || h->n_req_cookies > KC_ITEM_MAX_PARAMS ||
		    h->n_resp_cookies > KC_ITEM_MAX_PARAMS)
			abort();
		check_view(it, h->method);
		check_view(it, h->url);
		check_view(it, h->path);
		check_view(it, h->version);
		check_view(it, h->status_text);
		check_view(it, h->req_body);
		check_view(it, h->resp_body);
		if (h->req_body.len > KC_ITEM_BODY_PREFIX || h->resp_body.len > KC_ITEM_BODY_PREFIX)
			abort();
		for (unsigned i = 0; i < h->n_req_headers; i++) {
			check_view(it, h->req_headers[i].name);
			check_view(it, h->req_headers[i].value);
		}
		for (unsigned i = 0; i < h->n_resp_headers; i++) {
			check_view(it, h->resp_headers[i].name);
			check_view(it, h->resp_headers[i].value);
		}
		for (unsigned i = 0; i < h->n_query; i++) {
			check_view(it, h->query[i].name);
			check_view(it, h->query[i].value);
		}
	}
	js = malloc(1 << 18);
	if (js != NULL && kc_item_to_json(it, js, 1 << 18, NULL) == -ENOMEM)
		abort();
	free(js);
}

static const uint8_t *find_magic(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + sizeof(magic) <= n; i++)
		if (memcmp(p + i, magic, sizeof(magic)) == 0)
			return p + i;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t ports[4] = { 80, 53, 443, 5432 };
	struct kc_dissect_cfg cfg;
	struct kc_dissect_core *core;
	struct kc_dissect_flow *f;
	struct kc_flow_info fi;
	uint64_t ts = 1000000;
	uint8_t c0;
	const uint8_t *p, *end;

	if (size < 1)
		return 0;
	c0 = data[0];
	kc_dissect_cfg_default(&cfg);
	cfg.max_flows = 2;
	cfg.pending_bufs = 2;
	cfg.pending_size = (c0 & 1) ? 256 : 4096;
	cfg.http_items = (c0 & 0x10) ? 1 : 8;
	cfg.http_pipeline = (c0 & 0x10) ? 1 : 4;
	cfg.inflaters = (c0 & 0x10) ? 0 : 1;
	cfg.dns_flows = 1;
	cfg.tls_flows = 1;
	cfg.h2_flows = 1;
	core = kc_dissect_core_create(&cfg, NULL);
	if (core == NULL)
		return 0;
	memset(&fi, 0, sizeof(fi));
	fi.stream_id = 1;
	fi.family = 4;
	fi.l4 = (c0 & 2) ? 17 : 6;
	fi.src_port = 40000;
	fi.dst_port = ports[(c0 >> 2) & 3];
	fi.src_ip[0] = 10;
	fi.dst_ip[0] = 10;
	fi.dst_ip[3] = 1;
	f = kc_dissect_flow_open(core, &fi, check_item, NULL);
	if (f == NULL)
		abort();
	p = data + 1;
	end = data + size;
	while (p < end) {
		const uint8_t *m = find_magic(p, (size_t)(end - p));
		const uint8_t *stop = m != NULL ? m : end;
		uint8_t ctl = *p;
		enum kc_dir dir = (ctl & 1) ? KC_DIR_S2C : KC_DIR_C2S;
		uint32_t gap = (ctl & 2) ? ((ctl >> 2) & 7) * 13u + 1 : 0;
		const uint8_t *pl = p + 1 <= stop ? p + 1 : stop;

		if (ctl & 0x20) {
			ts += 31ull * 1000000;
			kc_dissect_tick(core, ts, 4);
		}
		ts += 1000;
		if (fi.l4 == 17)
			kc_dissect_udp_datagram(core, f, dir, pl, (uint32_t)(stop - pl), ts);
		else
			kc_dissect_tcp_data(core, f, dir, pl, (uint32_t)(stop - pl), gap, ts);
		p = m != NULL ? m + sizeof(magic) : end;
	}
	kc_dissect_flow_close(core, f, ts + 1);
	kc_dissect_core_destroy(core);
	return 0;
}

#ifndef KC_FUZZING
/* Regular build: replay each corpus file named on the command line. */
int main(int argc, char **argv)
{
	static uint8_t buf[1 << 17];
	int n = 0;

	for (int i = 1; i < argc; i++) {
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
