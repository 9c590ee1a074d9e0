/*
 * Counter names and summing for struct kc_dissect_stats. Off the hot path.
 */
#include <assert.h>
#include <stddef.h>

#include "dissect_internal.h"

#define TOP(f) { "dissect." #f, offsetof(struct kc_dissect_stats, f) }
#define HTTP(f) { "dissect.http1." #f, offsetof(struct kc_dissect_stats, http.f) }

struct stat_name {
	const char *name;
	size_t off;
};

static const struct stat_name top_names[] = {
	TOP(flows_opened), TOP(flows_closed), TOP(flow_pool_empty), TOP(detect_undecided),
	TOP(pending_copies), TOP(pending_pool_empty), TOP(pending_overflow),
	TOP(bytes_after_stop), TOP(no_dissector),
	HTTP(requests), HTTP(responses), HTTP(interim), HTTP(timeouts), HTTP(resp_only),
	HTTP(late_responses), HTTP(item_pool_empty), HTTP(pipeline_overflow),
	HTTP(headers_dropped), HTTP(params_dropped), HTTP(bad_header_line),
	HTTP(err_request_line), HTTP(err_status_line), HTTP(err_content_length),
	HTTP(err_chunk), HTTP(gap_in_body), HTTP(gap_resync), HTTP(resync_ok),
	HTTP(resync_giveup), HTTP(upgrade_h2c), HTTP(upgrade_h2c_nodis), HTTP(upgrade_other),
	HTTP(connect_tunnel), HTTP(inflate_no_ctx), HTTP(inflate_errors),
	HTTP(body_prefix_trunc),
};

/* Per-protocol names: dissect.<protocol>.<field>, in enum kc_item_proto order. */
#define PROTO_FIELDS 5
static const char *const pf_names[KC_ITEM_PROTO_MAX][PROTO_FIELDS] = {
#define ROW(p) { "dissect." p ".flows", "dissect." p ".items", "dissect." p ".parse_errors", \
		 "dissect." p ".gaps", "dissect." p ".state_pool_empty" }
	ROW("tcp"), ROW("udp"), ROW("http1"), ROW("http2"), ROW("grpc"), ROW("dns"), ROW("tls"),
#undef ROW
};

static uint64_t *u64_at(void *base, size_t off)
{
	return (uint64_t *)((uint8_t *)base + off);
}

void kc_dissect_stats_visit(const struct kc_dissect_stats *st, kc_dissect_stat_fn fn, void *ctx)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(top_names); i++)
		fn(ctx, top_names[i].name, *u64_at((void *)(uintptr_t)st, top_names[i].off));
	for (unsigned p = 0; p < KC_ITEM_PROTO_MAX; p++) {
		const struct kc_dissect_proto_stats *ps = &st->proto[p];
		const uint64_t v[PROTO_FIELDS] = { ps->flows, ps->items, ps->parse_errors, ps->gaps,
						   ps->state_pool_empty };

		for (unsigned k = 0; k < PROTO_FIELDS; k++)
			fn(ctx, pf_names[p][k], v[k]);
	}
}

void kc_dissect_stats_add(struct kc_dissect_stats *dst, const struct kc_dissect_stats *src)
{
	/* The struct is nothing but uint64_t counters (asserted below). */
	uint64_t *d = (uint64_t *)dst;
	const uint64_t *s = (const uint64_t *)src;

	for (size_t i = 0; i < sizeof(*dst) / sizeof(uint64_t); i++)
		d[i] += s[i];
}

static_assert(sizeof(struct kc_dissect_stats) % sizeof(uint64_t) == 0,
	      "kc_dissect_stats must hold only uint64_t counters");
