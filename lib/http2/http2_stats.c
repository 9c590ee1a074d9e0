/*
 * Names of the HTTP/2 counters for telemetry ("http2.<field>"), in struct
 * order, and a sum helper for the per-worker copies.
 */
#include <stddef.h>

#include "kc_http2.h"

struct stat_desc {
	const char *name;
	size_t off;
};

#define S(f) { "http2." #f, offsetof(struct kc_http2_stats, f) }

static const struct stat_desc descs[] = {
	S(frames),
	S(frames_data),
	S(frames_headers),
	S(frames_continuation),
	S(frames_settings),
	S(frames_ping),
	S(frames_priority),
	S(frames_window_update),
	S(frames_unknown),
	S(rst_streams),
	S(goaways),
	S(push_promises),
	S(frames_untracked),
	S(items),
	S(items_grpc),
	S(items_timeout),
	S(items_truncated),
	S(items_suppressed),
	S(hpack_errors),
	S(hpack_unknown_refs),
	S(hb_overflow),
	S(hb_busy),
	S(streams_overflow),
	S(store_full),
	S(headers_dropped),
	S(protocol_errors),
	S(bodies_decoded),
	S(body_decode_errors),
	S(midstream_joins),
	S(upgrades),
	S(gaps),
	S(gap_in_frame),
	S(resync_ok),
	S(resync_giveup),
	S(resync_skipped),
	S(streams_gap),
};

/* every counter is named: a field added to the struct must be added here */
static_assert(KC_ARRAY_SIZE(descs) * sizeof(uint64_t) == sizeof(struct kc_http2_stats),
	      "kc_http2_stats and its name table differ");

unsigned kc_http2_stats_count(void)
{
	return (unsigned)KC_ARRAY_SIZE(descs);
}

const char *kc_http2_stats_name(unsigned i)
{
	return i < KC_ARRAY_SIZE(descs) ? descs[i].name : NULL;
}

uint64_t kc_http2_stats_get(const struct kc_http2_stats *st, unsigned i)
{
	if (i >= KC_ARRAY_SIZE(descs))
		return 0;
	return *(const uint64_t *)(const void *)((const char *)st + descs[i].off);
}

void kc_http2_stats_add(struct kc_http2_stats *sum, const struct kc_http2_stats *x)
{
	for (unsigned i = 0; i < KC_ARRAY_SIZE(descs); i++) {
		uint64_t *d = (uint64_t *)(void *)((char *)sum + descs[i].off);

		*d += kc_http2_stats_get(x, i);
	}
}
