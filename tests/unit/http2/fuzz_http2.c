/*
 * Fuzz target for the HTTP/2 dissector (kc_http2_feed / kc_http2_close).
 *
 * Input layout:
 *   byte 0      mode: (byte % 3) 0 = KC_HTTP2_MODE_PRIOR, 1 = an h2c Upgrade
 *               (kc_http2_flow_init_upgrade with a fixed HTTP/1 request that
 *               carries an HTTP2-Settings header), 2 = KC_HTTP2_MODE_MIDSTREAM
 *   bytes 1..   chunks separated by the 4 bytes "KCH|"; a chunk's first byte
 *               gives the direction (bit 0: 0 client, 1 server), the rest are
 *               that direction's next TCP bytes; when its bit 7 is set, a
 *               reassembly gap of ((byte >> 1) & 0x3f) * 61 + 1 bytes comes
 *               before them (kc_http2_gap; held bytes count as lost, as in
 *               the dispatcher)
 *
 * The harness behaves like the dispatcher: it keeps unconsumed bytes per
 * direction (up to 64 KiB; past that the flow is dropped) and re-presents
 * them with the next chunk. Checked: the parse-result contract (consumed <=
 * len, NEED_MORE consumes nothing, OK makes progress) and every emitted item
 * (views inside the arena, counts within their arrays). Without -DKC_FUZZING
 * this builds a replay driver that runs each corpus file given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_http2.h"

#define PENDING_MAX (64u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_view(const struct kc_item *it, struct kc_str s)
{
	if ((size_t)s.off + s.len > it->arena_used)
		abort();
}

static void check_kvs(const struct kc_item *it, const struct kc_kv *kv, unsigned n, unsigned max)
{
	if (n > max)
		abort();
	for (unsigned i = 0; i < n; i++) {
		check_view(it, kv[i].name);
		check_view(it, kv[i].value);
	}
}

static void emit_check(void *ctx, const struct kc_item *it)
{
	const struct kc_item_http *h = &it->u.http;
	unsigned *n = ctx;

	(*n)++;
	if (it->arena_used > KC_ITEM_ARENA_SIZE)
		abort();
	if (it->proto != KC_ITEM_HTTP2 && it->proto != KC_ITEM_GRPC)
		abort();
	check_view(it, h->method);
	check_view(it, h->url);
	check_view(it, h->path);
	check_view(it, h->version);
	check_view(it, h->host);
	check_view(it, h->status_text);
	check_view(it, h->req_mime);
	check_view(it, h->resp_mime);
	check_view(it, h->req_body);
	check_view(it, h->resp_body);
	check_view(it, h->grpc_service);
	check_view(it, h->grpc_method);
	if (h->req_body.len > KC_ITEM_BODY_PREFIX || h->resp_body.len > KC_ITEM_BODY_PREFIX)
		abort();
	check_kvs(it, h->req_headers, h->n_req_headers, KC_ITEM_MAX_HEADERS);
	check_kvs(it, h->resp_headers, h->n_resp_headers, KC_ITEM_MAX_HEADERS);
	check_kvs(it, h->req_cookies, h->n_req_cookies, KC_ITEM_MAX_PARAMS);
	check_kvs(it, h->resp_cookies, h->n_resp_cookies, KC_ITEM_MAX_PARAMS);
	check_kvs(it, h->query, h->n_query, KC_ITEM_MAX_PARAMS);
}

static struct kc_item upgrade_req;

static void make_upgrade_req(void)
{
	struct kc_item_http *h = &upgrade_req.u.http;

	kc_item_reset(&upgrade_req, KC_ITEM_HTTP);
	upgrade_req.flags = KC_ITEM_F_REQUEST;
	(void)kc_item_put(&upgrade_req, "GET", 3, &h->method);
	(void)kc_item_put(&upgrade_req, "/x?a=1", 6, &h->url);
	h->path = (struct kc_str){ h->url.off, 2 };
	(void)kc_item_put(&upgrade_req, "h", 1, &h->host);
	(void)kc_item_put(&upgrade_req, "Http2-Settings", 14, &h->req_headers[0].name);
	(void)kc_item_put(&upgrade_req, "AAEAACAAAAMAAABk", 16, &h->req_headers[0].value);
	h->n_req_headers = 1;
}

struct side {
	uint8_t buf[PENDING_MAX];
	size_t len;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t mem[(KC_HTTP2_FLOW_MAX_SIZE + 7) / 8];
	static struct side sides[2];
	struct kc_http2_stats st;
	struct kc_flow_info info = { .stream_id = 1, .family = 4, .l4 = 6 };
	struct kc_http2_flow *f;
	unsigned items = 0;
	size_t off = 1;
	int dead = 0;

	if (size < 1)
		return 0;
	memset(&st, 0, sizeof(st));
	sides[0].len = sides[1].len = 0;
	switch (data[0] % 3) {
	case 1:
		make_upgrade_req();
		f = kc_http2_flow_init_upgrade(mem, sizeof(mem), &upgrade_req, &st);
		break;
	case 2:
		f = kc_http2_flow_init(mem, sizeof(mem), KC_HTTP2_MODE_MIDSTREAM, &st);
		break;
	default:
		f = kc_http2_flow_init(mem, sizeof(mem), KC_HTTP2_MODE_PRIOR, &st);
		break;
	}
	if (f == NULL)
		abort();
	while (off < size && !dead) {
		size_t end = off;
		struct side *sd;
		int d;

		while (end + 4 <= size && memcmp(data + end, "KCH|", 4) != 0)
			end++;
		if (end + 4 > size)
			end = size;
		if (end > off) {
			d = data[off] & 1;
			sd = &sides[d];
			if (data[off] & 0x80) {
				uint64_t gap = (uint64_t)((data[off] >> 1) & 0x3f) * 61 + 1;

				kc_http2_gap(f, (enum kc_dir)d, gap + sd->len, &st);
				sd->len = 0;
			}
			if (sd->len + (end - off - 1) > PENDING_MAX) {
				dead = 1; /* the dispatcher's bound: flow dropped */
				break;
			}
			memcpy(sd->buf + sd->len, data + off + 1, end - off - 1);
			sd->len += end - off - 1;
			while (sd->len > 0) {
				struct kc_parse_res r = kc_http2_feed(f, (enum kc_dir)d, sd->buf,
								      sd->len, off, &info, emit_check,
								      &items, &st);

				if (r.consumed > sd->len)
					abort();
				if (r.status == KC_PARSE_NEED_MORE && r.consumed != 0)
					abort();
				if (r.status == KC_PARSE_OK && r.consumed == 0)
					abort();
				memmove(sd->buf, sd->buf + r.consumed, sd->len - r.consumed);
				sd->len -= r.consumed;
				if (r.status == KC_PARSE_ERROR) {
					dead = 1;
					break;
				}
				if (r.status == KC_PARSE_NEED_MORE)
					break;
			}
		}
		off = end + 4;
	}
	kc_http2_close(f, 0, &info, emit_check, &items, &st);
	if (items != st.items)
		abort();
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
