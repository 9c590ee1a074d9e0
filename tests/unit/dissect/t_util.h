/*
 * Shared helpers of the lib/dissect tests: an assert-style harness and an
 * item sink that copies every emitted item.
 */
#ifndef T_UTIL_H
#define T_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_dissect.h"
#include "kc_item.h"
#include "kc_item_json.h"

static int t_pass, t_fail;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (cond) {                                                           \
			t_pass++;                                                     \
		} else {                                                              \
			t_fail++;                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
				#cond);                                               \
		}                                                                     \
	} while (0)

#define CHECK_EQ_U(a, b)                                                              \
	do {                                                                          \
		unsigned long long _a = (unsigned long long)(a);                      \
		unsigned long long _b = (unsigned long long)(b);                      \
		if (_a == _b) {                                                       \
			t_pass++;                                                     \
		} else {                                                              \
			t_fail++;                                                     \
			fprintf(stderr, "%s:%d: %s == %llu, expected %s == %llu\n",   \
				__FILE__, __LINE__, #a, _a, #b, _b);                  \
		}                                                                     \
	} while (0)

/* A view equals a C string. */
#define CHECK_STR(it, view, lit)                                                      \
	do {                                                                          \
		const struct kc_item *_it = (it);                                     \
		struct kc_str _v = (view);                                            \
		if (_v.len == strlen(lit) &&                                          \
		    memcmp(kc_item_str(_it, _v), (lit), _v.len) == 0) {               \
			t_pass++;                                                     \
		} else {                                                              \
			t_fail++;                                                     \
			fprintf(stderr, "%s:%d: %s is \"%.*s\", expected \"%s\"\n",   \
				__FILE__, __LINE__, #view, (int)_v.len,               \
				kc_item_str(_it, _v), (lit));                         \
		}                                                                     \
	} while (0)

static __attribute__((unused)) int t_report(void)
{
	printf("%d passed, %d failed\n", t_pass, t_fail);
	return t_fail == 0 ? 0 : 1;
}

#define SINK_MAX 64

struct sink {
	int n;
	struct kc_item items[SINK_MAX];
};

static __attribute__((unused)) void sink_emit(void *ctx, const struct kc_item *it)
{
	struct sink *s = ctx;

	if (s->n < SINK_MAX)
		memcpy(&s->items[s->n], it, sizeof(*it));
	s->n++;
}

/* Flow 10.0.0.1:40000 -> 10.0.0.2:<port>, stream 7, worker 1. */
static __attribute__((unused)) void t_flow_info(struct kc_flow_info *fi, uint16_t dport, uint8_t l4)
{
	memset(fi, 0, sizeof(*fi));
	fi->stream_id = 7;
	fi->family = 4;
	fi->l4 = l4;
	fi->worker = 1;
	fi->src_port = 40000;
	fi->dst_port = dport;
	fi->src_ip[0] = 10;
	fi->src_ip[3] = 1;
	fi->dst_ip[0] = 10;
	fi->dst_ip[3] = 2;
}

static __attribute__((unused)) struct kc_dissect_core *t_core(uint32_t pending_size)
{
	struct kc_dissect_cfg cfg;
	struct kc_err err;
	struct kc_dissect_core *c;

	kc_dissect_cfg_default(&cfg);
	cfg.max_flows = 16;
	cfg.pending_bufs = 8;
	cfg.pending_size = pending_size;
	cfg.http_items = 32;
	cfg.inflaters = 2;
	cfg.dns_flows = 4;
	cfg.tls_flows = 4;
	cfg.h2_flows = 2;
	c = kc_dissect_core_create(&cfg, &err);
	if (c == NULL) {
		fprintf(stderr, "core_create: %s\n", err.msg);
		exit(2);
	}
	return c;
}

/* Render to a malloc'd JSON string (caller frees). */
static __attribute__((unused)) char *t_json(const struct kc_item *it)
{
	size_t cap = 1 << 17;
	char *buf = malloc(cap);

	if (buf == NULL || kc_item_to_json(it, buf, cap, NULL) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

#endif /* T_UTIL_H */
