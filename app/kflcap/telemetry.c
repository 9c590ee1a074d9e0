/*
 * DPDK telemetry commands under /kflcap/ (read with dpdk-telemetry.py):
 *   /kflcap/stats      counters of every stage
 *   /kflcap/config     the effective options (no secrets are options here)
 *   /kflcap/recording  filter, retention and writer state
 * Callbacks run on DPDK's telemetry thread and only read single-writer
 * counters.
 */
#include <rte_telemetry.h>

#include "kflcap.h"

/* Telemetry callbacks take no context: the app, set once before the first
 * command can arrive and never changed. */
static const struct kc_app *tel_app;

#define ADD(d, name, v) rte_tel_data_add_dict_u64(d, name, (uint64_t)(v))

static int cmd_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct kc_engine_stats es;
	struct kc_worker_stats ws;
	struct kc_flow_stats fs;
	const struct kc_writer_stats *wr = kc_writer_stats(tel_app->writer);
	unsigned j;

	(void)cmd;
	(void)params;
	kc_app_sum(tel_app, &es, &ws, &fs);
	rte_tel_data_start_dict(d);
	ADD(d, "rx_pkts", es.rx_pkts);
	ADD(d, "rx_bytes", es.rx_bytes);
	ADD(d, "tcp_pkts", es.tcp_pkts);
	ADD(d, "udp_pkts", es.udp_pkts);
	for (j = KC_DEC_TRUNC_L2; j < KC_DEC_RES_MAX; j++) {
		char name[64];

		snprintf(name, sizeof(name), "decode_drop_%s", kc_decode_res_name(j));
		ADD(d, name, es.decode_drop[j]);
	}
	ADD(d, "frag_dropped", es.frag_dropped);
	ADD(d, "flows_created", fs.created);
	ADD(d, "flows_active", fs.active);
	ADD(d, "flows_timeout", fs.ended[KC_FLOW_END_TIMEOUT]);
	ADD(d, "flows_evicted", fs.ended[KC_FLOW_END_EVICTED]);
	ADD(d, "items", es.items);
	ADD(d, "matches", es.matches);
	ADD(d, "recorded_streams", es.recorded_streams);
	ADD(d, "recorded_pkts", es.recorded_pkts);
	ADD(d, "fanout_drop", ws.fanout_drop);
	ADD(d, "ring_drop", ws.ring_drop);
	ADD(d, "item_drop", ws.item_drop);
	ADD(d, "written_pkts", wr->pkts);
	ADD(d, "written_bytes", wr->bytes);
	ADD(d, "write_errors", wr->write_errors);
	return 0;
}

static int cmd_config(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct kc_opts *o = &tel_app->opts;

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "out_dir", o->out_dir);
	ADD(d, "record_all", o->record_all);
	rte_tel_data_add_dict_string(d, "kfl", o->kfl);
	rte_tel_data_add_dict_string(d, "items_log", o->items_file);
	ADD(d, "workers", tel_app->n_workers);
	ADD(d, "mbufs", o->mbufs);
	ADD(d, "ring_size", o->ring_size);
	ADD(d, "flow_table_size", o->flow_table_size);
	ADD(d, "retain_seconds", o->retain_seconds);
	ADD(d, "retain_max_packets", o->retain_max_packets);
	ADD(d, "retain_max_bytes", o->retain_max_bytes);
	ADD(d, "retain_mbuf_share", o->retain_mbuf_share);
	ADD(d, "lossless", tel_app->lossless);
	return 0;
}

static int cmd_recording(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct kc_engine_stats es;
	struct kc_worker_stats ws;
	struct kc_flow_stats fs;
	const struct kc_engine_filter *flt = atomic_load(&((struct kc_app *)tel_app)->filter);

	(void)cmd;
	(void)params;
	kc_app_sum(tel_app, &es, &ws, &fs);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "filter", flt && flt->prog ? kc_kfl_prog_text(flt->prog) : "");
	ADD(d, "filter_version", flt ? flt->version : 0);
	ADD(d, "record_all", tel_app->opts.record_all);
	ADD(d, "matches", es.matches);
	ADD(d, "retained", es.retain.retained);
	ADD(d, "retain_flushed", es.retain.flushed);
	ADD(d, "retain_expired_window", es.retain.expired_window);
	ADD(d, "retain_evicted_stream", es.retain.evicted_stream);
	ADD(d, "retain_evicted_core", es.retain.evicted_core);
	ADD(d, "truncated_streams", es.retain.truncated_streams);
	ADD(d, "streams_open", kc_writer_stats(tel_app->writer)->streams_opened -
			       kc_writer_stats(tel_app->writer)->streams_closed);
	return 0;
}

int kc_telemetry_register(struct kc_app *app)
{
	tel_app = app;
	if (rte_telemetry_register_cmd("/kflcap/stats", cmd_stats, "Counters of every stage. No parameters") != 0 ||
	    rte_telemetry_register_cmd("/kflcap/config", cmd_config, "Effective configuration. No parameters") != 0 ||
	    rte_telemetry_register_cmd("/kflcap/recording", cmd_recording,
				       "Filter, retention and recording state. No parameters") != 0)
		return -1;
	return 0;
}
