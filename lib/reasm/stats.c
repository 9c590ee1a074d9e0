/* Counter names and iteration for telemetry (style.md rule 11): each field of
 * struct kc_reasm_stats as "reasm.<field>", so app/ can publish them without
 * knowing the struct, and per-lcore copies can be summed. */
#include <stddef.h>

#include "reasm_internal.h"

struct stat_desc {
	const char *name;
	size_t off;
};

#define STAT(f) { "reasm." #f, offsetof(struct kc_reasm_stats, f) }

static const struct stat_desc stat_table[] = {
	STAT(segments),
	STAT(segments_in_order),
	STAT(bytes_in_order),
	STAT(segments_ooo),
	STAT(bytes_ooo),
	STAT(bytes_delivered),
	STAT(deliveries),
	STAT(retransmissions),
	STAT(overlaps),
	STAT(overlap_bytes),
	STAT(overlaps_conflict),
	STAT(gaps),
	STAT(gap_bytes),
	STAT(gap_ack),
	STAT(gap_dir_limit),
	STAT(gap_memcap),
	STAT(gap_flush),
	STAT(memcap_drops),
	STAT(dir_limit_drops),
	STAT(policy_drop_bytes),
	STAT(out_of_window),
	STAT(keepalives),
	STAT(zero_window_probes),
	STAT(data_after_fin),
	STAT(data_after_fin_bytes),
	STAT(syn),
	STAT(syn_retrans),
	STAT(syn_restart),
	STAT(syn_ignored),
	STAT(fin),
	STAT(fin_ignored),
	STAT(rst),
	STAT(rst_payload_bytes),
	STAT(pickups),
	STAT(released_bytes),
};

/* Every field is a uint64_t and listed above: adding a counter without a
 * name breaks the build here. */
_Static_assert(sizeof(stat_table) / sizeof(stat_table[0]) ==
		       sizeof(struct kc_reasm_stats) / sizeof(uint64_t),
	       "stat_table does not cover struct kc_reasm_stats");

size_t kc_reasm_stats_count(void)
{
	return sizeof(stat_table) / sizeof(stat_table[0]);
}

const char *kc_reasm_stats_name(size_t i)
{
	return i < kc_reasm_stats_count() ? stat_table[i].name : NULL;
}

uint64_t kc_reasm_stats_value(const struct kc_reasm_stats *st, size_t i)
{
	if (i >= kc_reasm_stats_count())
		return 0;
	return *(const uint64_t *)((const char *)st + stat_table[i].off);
}

void kc_reasm_stats_add(struct kc_reasm_stats *sum, const struct kc_reasm_stats *add)
{
	size_t i;

	for (i = 0; i < kc_reasm_stats_count(); i++)
		*(uint64_t *)((char *)sum + stat_table[i].off) += kc_reasm_stats_value(add, i);
}
