/*
 * Small assert harness and fixtures shared by the lib/kfl tests: items H and
 * D of kfl.md section 11, as JSON and as struct kc_item.
 */
#ifndef KFL_TEST_H
#define KFL_TEST_H

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_kfl.h"

static int g_pass, g_fail;

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (cond) {                                                 \
			g_pass++;                                           \
		} else {                                                    \
			g_fail++;                                           \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
		}                                                           \
	} while (0)

static inline int test_done(void)
{
	printf("%d passed, %d failed\n", g_pass, g_fail);
	return g_fail ? 1 : 0;
}

/* Fixed clock for now()/durations: 2023-03-13 02:37:46.172 UTC. */
#define T_NOW_MS 1678675066172ULL

static const char H_JSON[] =
	"{\"protocol\":{\"name\":\"http\",\"version\":\"1.1\",\"abbr\":\"HTTP\",\"macro\":\"http\",\"layer4\":\"tcp\"},"
	"\"tls\":false,\"outgoing\":false,\"node\":{\"ip\":\"192.168.49.2\",\"name\":\"my-cluster\"},"
	"\"src\":{\"ip\":\"172.17.0.7\",\"port\":\"47322\",\"name\":\"front-end.sock-shop\",\"namespace\":\"sock-shop\",\"pod\":null},"
	"\"dst\":{\"ip\":\"10.106.62.136\",\"port\":\"80\",\"name\":\"catalogue.sock-shop\",\"namespace\":\"sock-shop\"},"
	"\"timestamp\":1678675066172,\"elapsedTime\":1234,\"requestSize\":210,\"responseSize\":168,"
	"\"request\":{\"method\":\"GET\",\"path\":\"/catalogue\",\"pathSegments\":[\"catalogue\"],"
	"\"url\":\"/catalogue?size=5&tags=blue&tags=red\",\"httpVersion\":\"HTTP/1.1\","
	"\"headers\":{\"Accept\":\"application/json\",\"Host\":\"catalogue\",\"User-Agent\":\"kube-probe/1.27\"},"
	"\"cookies\":{},\"queryString\":{\"size\":\"5\",\"tags\":[\"blue\",\"red\"]},\"headersSize\":-1,\"bodySize\":0},"
	"\"response\":{\"status\":503,\"statusText\":\"Service Unavailable\",\"headers\":{\"Content-Type\":\"application/json\"},"
	"\"cookies\":{},\"content\":{\"size\":21,\"mimeType\":\"application/json\",\"encoding\":\"base64\","
	"\"text\":\"eyJlcnJvciI6ImRpc2sgZnVsbCJ9\"},\"redirectURL\":\"\",\"bodySize\":21}}";

static const char D_JSON[] =
	"{\"protocol\":{\"name\":\"dns\",\"version\":\"0\",\"abbr\":\"DNS\",\"macro\":\"dns\",\"layer4\":\"udp\"},"
	"\"tls\":false,\"outgoing\":false,"
	"\"src\":{\"ip\":\"172.17.0.9\",\"port\":\"40000\"},\"dst\":{\"ip\":\"10.96.0.10\",\"port\":\"53\"},"
	"\"timestamp\":1678675066172,\"elapsedTime\":2,\"requestSize\":60,\"responseSize\":120,"
	"\"request\":{\"opCode\":\"Query\",\"questions\":[{\"class\":\"IN\",\"name\":\"carts-db.sock-shop.svc.cluster.local\",\"type\":\"A\"}]},"
	"\"response\":{\"code\":\"No Error\",\"answers\":[{\"name\":\"carts-db.sock-shop.svc.cluster.local\",\"type\":\"A\","
	"\"class\":\"IN\",\"ttl\":30,\"ip\":\"10.101.46.75\",\"cname\":\"\"}]}}";

/* Arena writer: tests do not depend on lib/item's item.c. */
static inline struct kc_str t_put(struct kc_item *it, const char *s)
{
	struct kc_str v = { 0, 0 };
	size_t n = strlen(s);
	if (it->arena_used + n > KC_ITEM_ARENA_SIZE) {
		fprintf(stderr, "test arena full\n");
		exit(2);
	}
	memcpy(it->arena + it->arena_used, s, n);
	v.off = it->arena_used;
	v.len = (uint16_t)n;
	it->arena_used += (uint16_t)n;
	return v;
}

static inline void t_kv(struct kc_item *it, struct kc_kv *kv, uint8_t *n, const char *k,
			const char *v)
{
	kv[*n].name = t_put(it, k);
	kv[*n].value = t_put(it, v);
	(*n)++;
}

static inline void t_base(struct kc_item *it, uint8_t proto, uint8_t l4, const char *sip,
			  uint16_t sport, const char *dip, uint16_t dport)
{
	memset(it, 0, sizeof(*it));
	it->arena_used = 1; /* offset 0 + len 0 means absent; keep real strings off 0 */
	it->proto = proto;
	it->l4 = l4;
	it->family = 4;
	inet_pton(AF_INET, sip, it->src_ip);
	inet_pton(AF_INET, dip, it->dst_ip);
	it->src_port = sport;
	it->dst_port = dport;
	it->ts_us = T_NOW_MS * 1000;
}

/* Item H as a struct (no Kubernetes names: kflcap items do not carry them). */
static inline void t_item_h(struct kc_item *it)
{
	struct kc_item_http *h = &it->u.http;

	t_base(it, KC_ITEM_HTTP, 6, "172.17.0.7", 47322, "10.106.62.136", 80);
	it->flags = KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE;
	it->resp_ts_us = it->ts_us + 1234000;
	it->req_size = 210;
	it->resp_size = 168;
	h->method = t_put(it, "GET");
	h->path = t_put(it, "/catalogue");
	h->url = t_put(it, "/catalogue?size=5&tags=blue&tags=red");
	h->version = t_put(it, "HTTP/1.1");
	h->host = t_put(it, "catalogue");
	t_kv(it, h->req_headers, &h->n_req_headers, "Accept", "application/json");
	t_kv(it, h->req_headers, &h->n_req_headers, "Host", "catalogue");
	t_kv(it, h->req_headers, &h->n_req_headers, "User-Agent", "kube-probe/1.27");
	t_kv(it, h->query, &h->n_query, "size", "5");
	t_kv(it, h->query, &h->n_query, "tags", "blue");
	t_kv(it, h->query, &h->n_query, "tags", "red");
	h->req_headers_size = -1;
	h->req_body_size = 0;
	h->status = 503;
	h->status_text = t_put(it, "Service Unavailable");
	t_kv(it, h->resp_headers, &h->n_resp_headers, "Content-Type", "application/json");
	h->resp_mime = t_put(it, "application/json");
	h->resp_body = t_put(it, "{\"error\":\"disk full\"}");
	h->resp_body_size = 21;
	h->resp_headers_size = -1;
	h->grpc_status = -1;
}

static inline void t_item_d(struct kc_item *it)
{
	struct kc_item_dns *d = &it->u.dns;

	t_base(it, KC_ITEM_DNS, 17, "172.17.0.9", 40000, "10.96.0.10", 53);
	it->flags = KC_ITEM_F_REQUEST | KC_ITEM_F_RESPONSE;
	it->resp_ts_us = it->ts_us + 2000;
	it->req_size = 60;
	it->resp_size = 120;
	d->id = 0x1234;
	d->n_questions = 1;
	d->questions[0].name = t_put(it, "carts-db.sock-shop.svc.cluster.local");
	d->questions[0].type = 1;
	d->questions[0].class_ = 1;
	d->n_answers = 1;
	d->rrs[0].name = d->questions[0].name;
	d->rrs[0].data = t_put(it, "10.101.46.75");
	d->rrs[0].ttl = 30;
	d->rrs[0].type = 1;
	d->rrs[0].class_ = 1;
}

/* Compile @p f at T_NOW_MS; aborts the test on failure. */
static inline struct kc_kfl_prog *t_compile(const char *f)
{
	struct kc_kfl_prog *p = NULL;
	struct kc_err err = { { 0 } };
	int rc = kc_kfl_compile_at(f, T_NOW_MS, &p, &err, NULL, NULL);
	if (rc != 0) {
		fprintf(stderr, "FAIL compile [%.200s]: %s\n", f, err.msg);
		g_fail++;
		return NULL;
	}
	return p;
}

static struct kc_kfl_scratch *g_scratch;

static inline struct kc_kfl_scratch *t_scratch(void)
{
	if (g_scratch == NULL)
		g_scratch = kc_kfl_scratch_create(0);
	return g_scratch;
}

/* filter on a JSON text */
#define EXPECT_JSON(filter, json_text, want)                                           \
	do {                                                                           \
		struct kc_kfl_prog *p_ = t_compile(filter);                            \
		cJSON *d_ = cJSON_Parse(json_text);                                    \
		if (p_ != NULL && d_ != NULL) {                                        \
			bool got_ = kc_kfl_eval_json(p_, d_, t_scratch());             \
			CHECK(got_ == (want), "json [%s] got %d want %d", filter, got_, \
			      (int)(want));                                            \
		} else if (d_ == NULL) {                                               \
			CHECK(0, "bad test JSON for [%s]", filter);                    \
		}                                                                      \
		cJSON_Delete(d_);                                                      \
		kc_kfl_prog_free(p_);                                                  \
	} while (0)

#define EXPECT_ITEM(filter, item, want)                                                \
	do {                                                                           \
		struct kc_kfl_prog *p_ = t_compile(filter);                            \
		if (p_ != NULL) {                                                      \
			bool got_ = kc_kfl_eval_item(p_, (item), t_scratch());         \
			CHECK(got_ == (want), "item [%s] got %d want %d", filter, got_, \
			      (int)(want));                                            \
		}                                                                      \
		kc_kfl_prog_free(p_);                                                  \
	} while (0)

/* Compile must fail at @p col (1-based; 0 = any column). */
#define EXPECT_ERR(filter, col)                                                          \
	do {                                                                             \
		struct kc_kfl_prog *p_ = NULL;                                           \
		struct kc_err e_ = { { 0 } };                                            \
		uint32_t l_ = 0, c_ = 0;                                                 \
		int rc_ = kc_kfl_compile_at(filter, T_NOW_MS, &p_, &e_, &l_, &c_);       \
		CHECK(rc_ < 0 && p_ == NULL, "[%s] compiled but should not", filter);    \
		if (rc_ < 0 && (col) != 0)                                               \
			CHECK(c_ == (uint32_t)(col), "[%s] error column %u want %d: %s", \
			      filter, c_, (int)(col), e_.msg);                           \
		if (rc_ < 0)                                                             \
			CHECK(strstr(e_.msg, "^") != NULL && strstr(e_.msg, "expected") != NULL, \
			      "[%s] message lacks caret/expected: %s", filter, e_.msg);  \
		kc_kfl_prog_free(p_);                                                    \
	} while (0)

#endif /* KFL_TEST_H */
