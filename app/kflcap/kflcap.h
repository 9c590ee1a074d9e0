/*
 * kflcap application: shared definitions of the lcore wiring.
 *
 *   main lcore: management (drains worker rings, writes stream pcaps, status)
 *   other lcores: workers (RX, engine, hand-off)
 *   with only one lcore (-l 0), the main lcore does both, in turn.
 */
#ifndef KFLCAP_H
#define KFLCAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "kc_common.h"
#include "kc_engine.h"
#include "kc_snapshot.h"

/* Packets asked of a queue per poll. 128 rather than DPDK's customary 32:
 * the poll's fixed costs (clock read, fan-in ring, hand-off flush, mbuf
 * free) spread over four times the packets, and the engine's batches of 32
 * follow one another with no poll in between. In situ (net_pcap
 * infinite_rx) 32 -> 128 gave +7% on decode + flow and +29% with dissection;
 * 256 was a third slower, past the mempool cache. */
#define KC_APP_BURST 128
/* Per-lcore mbuf cache: a burst taken and given back stays inside it. */
#define KC_APP_POOL_CACHE 256
static_assert(2 * KC_APP_BURST <= KC_APP_POOL_CACHE, "a burst and its release fit the mempool cache");
#define KC_APP_MAX_WORKERS 64
#define KC_APP_MAX_QUEUES_PER_WORKER 16

/** kflcap's own options (after `--`). */
struct kc_opts {
	char out_dir[1024];
	char config_file[1024];
	bool record_all;
	uint32_t rxq;              /**< RX queues per RSS port, 0 = one per worker */
	uint32_t mbufs;            /**< mbufs in the pool */
	uint32_t ring_size;        /**< worker → management ring entries */
	uint32_t flow_table_size;  /**< flows per worker */
	uint32_t timeout_s[KC_FLOW_T_MAX];
	uint32_t max_open_files;
	uint32_t status_interval_s; /**< 0: no status line */
	uint32_t defrag_max;       /**< datagrams in reassembly per worker */
	char kfl[4096];            /**< recording filter (KFL); "" = none */
	bool kfl_set;
	char items_file[1024];     /**< item log (JSON lines); "" = none */
	uint32_t retain_seconds;
	uint32_t retain_max_packets;   /**< per stream */
	uint32_t retain_max_bytes;     /**< per stream */
	uint32_t retain_mbuf_share;    /**< percent of the mbuf pool retention may hold */
	uint32_t item_msgs;            /**< item messages per worker (item log hand-off) */
	int ring_full_wait;            /**< -1 auto (wait when every input is a file), 0 drop, 1 wait */
	bool want_help, want_version, print_config;
	bool no_dissect;               /**< --no-dissect: decode and flows only (pure --record-all) */
	bool no_snapshot;              /**< --no-snapshot: stream files stay in OUT/live, nothing shipped */
	struct {
		const char *key, *value;
	} cli[128];                    /**< command-line settings, re-applied on reload */
	size_t n_cli;
	struct kc_config *cfg;         /**< the effective configuration */
};

/** An item on its way to the management lcore (item log, manifest). */
struct kc_item_msg {
	uint32_t version;          /**< filter version that matched */
	uint8_t matched;           /**< started the stream's recording */
	struct kc_item item;
};

/** Per-packet metadata carried in an mbuf dynamic field to the writer. */
struct kc_mbuf_meta {
	uint64_t stream_id;
	uint64_t ts_ns;  /**< capture time, ns since the epoch */
	uint8_t l4;      /**< IPPROTO_TCP / IPPROTO_UDP */
	uint8_t kind;    /**< KC_META_PKT or KC_META_END */
	uint8_t truncated; /**< with KC_META_END: retention evicted packets of the stream */
};
#define KC_META_PKT 0
#define KC_META_END 1

extern int kc_meta_off;
static inline struct kc_mbuf_meta *kc_meta(struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, kc_meta_off, struct kc_mbuf_meta *);
}

struct kc_rxq {
	uint16_t port;
	uint16_t queue;
	bool finite;   /**< a net_pcap file: an empty poll after data means end of input */
	bool eof;
	uint32_t empty_polls;
};

/** Worker counters outside the engine; only the worker writes them. */
struct kc_worker_stats {
	uint64_t rx_polls;
	uint64_t fanout_out;      /**< packets sent to other workers */
	uint64_t fanout_drop;     /**< fan-out ring full */
	uint64_t ring_drop;       /**< management ring full: packets freed */
	uint64_t end_drop;        /**< stream-end markers not delivered */
	uint64_t linearize_drop;  /**< multi-segment packet larger than the scratch buffer */
	uint64_t item_drop;       /**< item not handed to the management lcore: pool or ring full */
};

struct kc_worker {
	unsigned idx;
	unsigned lcore;
	struct kc_app *app;
	uint16_t n_rxq;
	struct kc_rxq rxq[KC_APP_MAX_QUEUES_PER_WORKER];
	struct rte_ring *to_mgmt;  /**< SP/SC: this worker → management */
	struct rte_ring *fanin;    /**< SP/SC: reader worker → this worker (software fan-out) */
	struct rte_ring *items;    /**< SP/SC: items → management (NULL: not wanted) */
	struct kc_engine *eng;
	atomic_bool rx_done;       /**< every finite queue reached its end */
	atomic_bool finished;      /**< flushed; nothing more will be enqueued */
	uint16_t n_out;
	struct rte_mbuf *out[KC_APP_BURST * 4]; /**< records waiting for to_mgmt */
	uint16_t n_free;
	struct rte_mbuf *to_free[KC_APP_BURST * 4]; /**< released by the engine, freed per burst */
	uint64_t last_rx_tsc;      /**< TSC of the last packet received */
	uint64_t last_tick_tsc;
	struct kc_worker_stats st;
	uint8_t scratch[65536 + 128];
} __rte_cache_aligned;

struct kc_writer;

struct kc_app {
	struct kc_opts opts;
	struct rte_mempool *pool;
	unsigned n_workers;
	struct kc_worker *workers[KC_APP_MAX_WORKERS];
	bool fanout;              /**< software fan-out from worker 0 */
	bool have_live_port;      /**< an infinite source: stop only on a signal */
	int ts_off;               /**< rx timestamp dynfield offset, -1 if none */
	uint64_t ts_flag;
	uint32_t ts_mult[RTE_MAX_ETHPORTS]; /**< rx timestamp unit in ns per port, 0 = not trusted */
	uint64_t tsc_hz, tsc0, wall0_us;
	struct kc_writer *writer;
	atomic_bool drain;        /**< workers: stop RX, flush, finish */
	bool lossless;            /**< full rings make workers wait (file replay), not drop */
	struct rte_mempool *item_pool; /**< struct kc_item_msg, NULL without item hand-off */
	_Atomic(struct kc_engine_filter *) filter;
	uint32_t filter_version;  /**< bumped by each publish (management lcore only) */
	struct rte_rcu_qsbr *qsbr; /**< workers' quiescent states; NULL with one lcore */
	bool dissect;             /**< workers dissect (off only with --no-dissect) */
	struct kc_snapshot_gate gate; /**< snapshot job ↔ writer handshake */
	atomic_bool writer_gone;  /**< the management loop ended: rotate without a writer */
	struct kc_snapshot *snapshot;
	struct kc_names *names;
	struct kc_uploader *uploader;
	FILE *items_fp;
	uint64_t items_written, items_errors;
};

extern atomic_bool kc_quit;
extern atomic_bool kc_reload;

/** mbufs that rings (worker to management, fan-out) and RX descriptors can
 *  not hold at their fullest: what retention may take a share of. */
static inline uint64_t kc_app_mbuf_headroom(const struct kc_app *app)
{
	return (uint64_t)app->n_workers * app->opts.ring_size * 2 + (uint64_t)app->n_workers * 2048 + 4096;
}

static inline uint64_t kc_app_mbuf_spare(const struct kc_app *app)
{
	uint64_t h = kc_app_mbuf_headroom(app);

	return app->opts.mbufs > h ? app->opts.mbufs - h : 0;
}

/* opts.c */
struct kc_config;
int kc_opts_parse(int argc, char **argv, struct kc_opts *o);
/** Load defaults, --config file, environment and the command line again. */
struct kc_config *kc_opts_load_config(const struct kc_opts *o, struct kc_err *err);
void kc_opts_from_config(struct kc_opts *o, const struct kc_config *c);
void kc_opts_usage(const char *prog);

/* port.c */
int kc_ports_setup(struct kc_app *app);
void kc_ports_stop(struct kc_app *app);

/* worker.c */
int kc_worker_init(struct kc_app *app, struct kc_worker *w);
int kc_worker_main(void *arg);
/** One iteration of the worker loop; marks rx_done once every finite queue
 *  has ended. Returns packets received. */
unsigned kc_worker_poll(struct kc_worker *w);
/** Periodic engine work (expiry) at TSC @p tsc. */
void kc_worker_tick(struct kc_worker *w, uint64_t tsc);
/** Flush the engine and hand remaining records to the management ring. */
void kc_worker_finish(struct kc_worker *w);

/* writer.c: per-stream pcap files in OUT/live, on the management lcore. */
struct kc_writer_stats {
	uint64_t pkts, bytes;
	uint64_t streams_opened, streams_closed, reopened, evicted_open;
	uint64_t write_errors;
};
struct kc_writer *kc_writer_create(const char *out_dir, uint32_t max_open, struct kc_err *err);
void kc_writer_packet(struct kc_writer *w, struct rte_mbuf *m);
/** The stream ended: close its file for good and write its sidecar. */
void kc_writer_end(struct kc_writer *w, uint64_t stream_id, bool truncated);
/** Remember the item that started a stream's recording (for the manifest). */
void kc_writer_note_match(struct kc_writer *w, uint64_t stream_id, const char *summary, uint64_t ts_us);
/** Snapshot rotation: close every file and write every sidecar. */
void kc_writer_close_all(struct kc_writer *w);
/** After rotation: @p new_live if OUT/live is a new folder (files restart). */
void kc_writer_rotated(struct kc_writer *w, bool new_live);
void kc_writer_destroy(struct kc_writer *w);
const struct kc_writer_stats *kc_writer_stats(const struct kc_writer *w);

/* mgmt.c */
/** Drain every worker ring once (packets and items). */
unsigned kc_mgmt_drain(struct kc_app *app);
void kc_mgmt_run(struct kc_app *app);
void kc_print_summary(struct kc_app *app, FILE *f);
/** Sum the workers' counters (any thread: single-writer 64-bit counters,
 *  read without locks, so a sum may mix moments). */
void kc_app_sum(const struct kc_app *app, struct kc_engine_stats *es, struct kc_worker_stats *ws,
		struct kc_flow_stats *fs);

/* record.c: filter publication, reload, snapshots, names, uploads. */
int kc_filter_init(struct kc_app *app);
int kc_filter_publish(struct kc_app *app, const char *text, struct kc_err *err);
void kc_app_reload(struct kc_app *app);
int kc_record_start(struct kc_app *app, struct kc_err *err);
void kc_record_stop(struct kc_app *app);
void kc_record_learn(struct kc_app *app, const struct kc_item *it);

/* telemetry.c */
int kc_telemetry_register(struct kc_app *app);

#endif /* KFLCAP_H */
