/**
 * @file
 * The snapshot job: periodically turn the recorded stream files into one
 * crash-safe spool entry.
 *
 * Directory layout (OUT = out_dir, SPOOL = spool_dir, default OUT/spool;
 * OUT and SPOOL may be on different file systems):
 *
 *     OUT/live/<stream>.pcap         stream files the writer appends to
 *     OUT/live/<stream>.meta.json    sidecar, rewritten by the writer at each close
 *     OUT/live/.started              unix time the interval began (job writes it)
 *     OUT/rotating/<ts>-<rnd>/       a live folder moved aside at time <ts>
 *                                    (random suffix: a name is never reused)
 *     SPOOL/.tmp-<ts>/               an entry being built (never read by storage)
 *     SPOOL/<ts>/                    a complete entry:
 *         <ts>.pcap | <ts>.pcap.gz | <ts>.pcapng | <ts>.pcapng.gz
 *         manifest.json
 *         name_resolution_history.json
 *         READY                      written last; lists the entry's files,
 *                                    one per line (storage ships exactly those)
 *
 * One snapshot (kc_snapshot_run_once()):
 *  1. Recovery: remove SPOOL/.tmp-* (half-built entries); every
 *     OUT/rotating/<x>/ already listed as a source by a complete spool entry
 *     is deleted (crash after commit), the others are merged again below.
 *  2. Rotation handshake (see struct kc_snapshot_ops): rotate_begin(); rename
 *     OUT/live -> OUT/rotating/<ts>-<rnd>; mkdir OUT/live and write its .started;
 *     rotate_end(). Packets are never lost at the switch: between begin and
 *     end the writer writes nothing (packets wait in its rings), and each
 *     stream continues in OUT/live/<stream>.pcap under the same name.
 *  3. Merge every OUT/rotating/<x>/<stream>.pcap (this rotation and any
 *     leftovers) into SPOOL/.tmp-<ts>/<ts>.<ext>, time-ordered (lib/pcapio).
 *  4. Write manifest.json and name_resolution_history.json (through the
 *     write_names callback), then READY; every file is fsynced.
 *  5. Spool quota (ops.admit, or the built-in check): if the entry does not
 *     fit, apply the policy (refuse-new: discard this entry; drop-oldest:
 *     delete the oldest complete entries); both are counted.
 *  6. Commit: rename SPOOL/.tmp-<ts> -> SPOOL/<ts>, fsync SPOOL.
 *  7. Delete the merged OUT/rotating/<x>/ directories.
 *
 * A crash at any point leaves either no entry or a complete one: storage
 * must only look at SPOOL/<name>/ directories that contain READY, and only at
 * the files READY lists. Streams rotated before a crash are included in the
 * first snapshot after the restart. Delivery is at least once: a crash
 * between steps 6 and 7 is detected through the manifest's "sources"; only if
 * that entry was already uploaded and removed from the spool in that window
 * would the streams be shipped twice.
 *
 * Threads: kc_snapshot_job_start() runs a non-EAL thread that sleeps until
 * the next cron time and runs kc_snapshot_run_once(). Only one snapshot runs
 * at a time per struct kc_snapshot (internal mutex); the functions below may
 * be called from any thread unless noted.
 */
#ifndef KC_SNAPSHOT_H
#define KC_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "kc_common.h"
#include "kc_config.h"
#include "kc_cron.h"
#include "kc_names.h"
#include "kc_pcapio.h"

#define KC_SNAPSHOT_READY "READY"
#define KC_SNAPSHOT_MANIFEST "manifest.json"
#define KC_SNAPSHOT_NAMES "name_resolution_history.json"
#define KC_SNAPSHOT_META_SUFFIX ".meta.json"
#define KC_SNAPSHOT_MANIFEST_VERSION 1

/** Points a snapshot passes, in order (for kc_snapshot_ops.progress). */
enum kc_snapshot_step {
	KC_SNAPSHOT_STEP_RECOVERED = 1, /**< step 1 done */
	KC_SNAPSHOT_STEP_ROTATED,       /**< step 2 done (after rotate_end) */
	KC_SNAPSHOT_STEP_MERGED,        /**< capture written in SPOOL/.tmp-<ts> */
	KC_SNAPSHOT_STEP_DESCRIBED,     /**< manifest and names written */
	KC_SNAPSHOT_STEP_READY,         /**< READY written and fsynced */
	KC_SNAPSHOT_STEP_COMMITTED,     /**< renamed into the spool */
	KC_SNAPSHOT_STEP_CLEANED,       /**< rotating folders removed */
};

/**
 * Callbacks into the rest of kflcap. Every member may be NULL. All are called
 * on the thread running the snapshot (the job thread, or the caller of
 * kc_snapshot_run_once()), never concurrently with each other.
 */
struct kc_snapshot_ops {
	void *ctx; /**< passed to every callback */

	/**
	 * Writer handshake, part 1. Must return only when the writer (the
	 * management lcore) has flushed and closed every stream file under
	 * OUT/live, written each stream's sidecar (kc_snapshot_meta_write()),
	 * and will create, open or write no file under OUT/live until
	 * rotate_end() is called. Typical implementation: set an atomic
	 * request flag and wait for the writer's acknowledgement; the writer
	 * sees the flag at the top of its loop, closes its files, acknowledges
	 * and waits (sleeping briefly) until the flag is cleared, leaving
	 * packets queued in its rings. The pause lasts two syscalls (rename,
	 * mkdir) plus a small file write.
	 * NULL: no writer is running (tests, after shutdown).
	 * @return 0, or a negative errno: the snapshot is abandoned (no rename,
	 *         rotate_end() is not called, nothing is lost).
	 */
	int (*rotate_begin)(void *ctx);

	/**
	 * Writer handshake, part 2: resume. @p status is 0 when OUT/live is a
	 * new empty directory (streams continue in new files of the same name:
	 * open them with KC_PCAP_W_APPEND, which creates them), or a negative
	 * errno when the rename failed and OUT/live is still the old directory
	 * (continue appending there). Called exactly once after each
	 * successful rotate_begin().
	 */
	void (*rotate_end)(void *ctx, int status);

	/**
	 * Write name_resolution_history.json to @p path (create it, mode 0600;
	 * the job fsyncs it afterwards). NULL: params.names is written
	 * (kc_names_write_json_path()), or "[]" without one.
	 * @return 0 or a negative errno (the snapshot fails and is retried with
	 *         the same streams at the next run).
	 */
	int (*write_names)(void *ctx, const char *path, struct kc_err *err);

	/**
	 * pcapng only: address-to-name pairs for the Name Resolution Block.
	 * Fill *names (allocated by the callee) and *n; names_free() is called
	 * with the same values once the merge is done. NULL: the current
	 * mappings of params.names (kc_names_copy()), or no NRB without one.
	 */
	int (*names_get)(void *ctx, struct kc_pcap_name **names, size_t *n);
	void (*names_free)(void *ctx, struct kc_pcap_name *names, size_t n);

	/**
	 * The active KFL text and its version (bumped on each change), for
	 * the manifest. NULL: the manifest shows params.kfl and version 0.
	 */
	uint64_t (*filter_info)(void *ctx, char *buf, size_t cap);

	/** Notified after an entry was committed to the spool (wake storage). */
	void (*spooled)(void *ctx, const char *entry_dir);

	/**
	 * Spool quota, when the spool's owner enforces it (kc_uploader_admit()
	 * in lib/storage knows which entry it is uploading and never drops
	 * that one). Called after the entry is complete in SPOOL/.tmp-<ts>
	 * (a dot directory) and before it is committed, with its exact size
	 * in bytes. Return 0 to commit, -ENOSPC to refuse (the entry and its
	 * streams are discarded and counted in refused_quota), another
	 * negative errno to fail the run (streams kept for the next run).
	 * NULL: the job applies params.spool_quota_bytes / quota_policy itself.
	 */
	int (*admit)(void *ctx, uint64_t bytes, struct kc_err *err);

	/** Called as each step completes (logging, tests that simulate a
	 *  crash at an exact point). */
	void (*progress)(void *ctx, enum kc_snapshot_step step);
};

/** Snapshot settings; strings are copied by kc_snapshot_create(). */
struct kc_snapshot_params {
	const char *out_dir;          /**< OUT */
	const char *spool_dir;        /**< SPOOL; NULL or "" = OUT/spool */
	enum kc_pcap_format format;
	bool gzip;
	uint64_t spool_quota_bytes;   /**< 0 = no quota */
	int quota_policy;             /**< enum kc_config_quota_policy */
	struct kc_cron schedule;      /**< for the job thread */
	const char *kfl;              /**< filter text when ops.filter_info is NULL */
	const char *host;             /**< NULL = gethostname() */
	struct kc_names *names;       /**< optional, borrowed for the object's
	                                   life: the history file and pcapng NRB
	                                   (thread-safe: it has its own mutex) */
};

/** Counters (since create). */
struct kc_snapshot_stats {
	uint64_t snapshots;          /**< entries committed to the spool */
	uint64_t failed;             /**< runs that failed (streams kept for the next run) */
	uint64_t aborted_rotate;     /**< rotate_begin() said no */
	uint64_t refused_quota;      /**< entries discarded by refuse-new (or too big alone) */
	uint64_t dropped_oldest;     /**< spool entries deleted by drop-oldest */
	uint64_t recovered_dirs;     /**< rotating dirs from before a crash merged */
	uint64_t stale_tmp_removed;  /**< SPOOL/.tmp-* removed */
	uint64_t packets;            /**< packets merged, all snapshots */
	uint64_t bytes;              /**< bytes of merged captures written */
	uint64_t truncated_inputs;   /**< stream files whose tail was torn */
	uint64_t failed_inputs;      /**< stream files that could not be read */
	uint64_t last_ts;            /**< <ts> of the last committed entry */
	uint64_t last_duration_us;
	uint64_t missed_schedules;   /**< cron times skipped because a run overran */
};

struct kc_snapshot;
void kc_snapshot_destroy(struct kc_snapshot *s);

/* GCC >= 11 binds constructor and destructor (style.md rule 6); clang 14 does
 * not know the two-argument form. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define KC_SNAPSHOT_MALLOC(dealloc) __attribute__((malloc, malloc(dealloc, 1)))
#else
#define KC_SNAPSHOT_MALLOC(dealloc) __attribute__((malloc))
#endif

/**
 * Fill @p p from a finished configuration (kc_config_finish()).
 * Borrowed strings: valid while @p cfg is.
 */
void kc_snapshot_params_from_config(const struct kc_config *cfg, struct kc_snapshot_params *p);

/**
 * Create the snapshot context and the directories OUT, OUT/live (with
 * .started), OUT/rotating and SPOOL (mode 0700). Does not recover anything
 * yet (the first kc_snapshot_run_once() does).
 * @param ops  copied; NULL = no callbacks.
 * @return the context (free with kc_snapshot_destroy()), or NULL with errno
 *         (EINVAL: no out_dir; ENOMEM; or the errno of mkdir).
 */
struct kc_snapshot *kc_snapshot_create(const struct kc_snapshot_params *p,
				       const struct kc_snapshot_ops *ops, struct kc_err *err)
	KC_SNAPSHOT_MALLOC(kc_snapshot_destroy);

/**
 * Take one snapshot now (steps 1-7 above). Also the last snapshot at
 * shutdown: stop the writer first (or keep rotate_begin working).
 * An interval with no stream files still produces an entry (empty capture),
 * so every interval is accounted for.
 * @param entry  optional: receives the committed entry's path.
 * @return 0 (committed), -ENOSPC (refused by the spool quota; the streams
 *         are discarded and counted), -EAGAIN (rotate_begin refused), or a
 *         negative errno of a file operation (the streams stay in
 *         OUT/rotating for the next run).
 */
int kc_snapshot_run_once(struct kc_snapshot *s, char *entry, size_t entry_cap,
			 struct kc_err *err);

/** Copy the counters. */
void kc_snapshot_get_stats(struct kc_snapshot *s, struct kc_snapshot_stats *st);

/**
 * Start the job thread: sleep until kc_cron_next(schedule, now), run a
 * snapshot, repeat. Failures are counted and the message kept
 * (kc_snapshot_last_error()); the thread never exits on its own.
 * @return 0, -EALREADY, -EINVAL (the schedule never fires), or the
 *         pthread_create error.
 */
int kc_snapshot_job_start(struct kc_snapshot *s, struct kc_err *err);

/** Ask the job thread for a snapshot now (e.g. on SIGUSR1, via the app). */
void kc_snapshot_job_trigger(struct kc_snapshot *s);

/**
 * Stop the job thread (waits for a running snapshot to finish). With
 * @p final_snapshot, run one last snapshot on the calling thread afterwards.
 * @return 0, or the final snapshot's error.
 */
int kc_snapshot_job_stop(struct kc_snapshot *s, bool final_snapshot, struct kc_err *err);

/** Last failure message of the job thread ("" if none); copies into @p buf. */
void kc_snapshot_last_error(struct kc_snapshot *s, char *buf, size_t cap);

/** Stop the job if running (no final snapshot) and free. NULL is a no-op. */
void kc_snapshot_destroy(struct kc_snapshot *s);

/* ------------------------------------------------------- writer handshake */

/**
 * A ready-made rotation handshake between the snapshot job (any thread) and
 * the writer (the management lcore), lock-free:
 *
 *     job thread (ops.rotate_begin/end)      writer loop (each iteration)
 *     kc_snapshot_gate_begin(g, 1000) ──┐    if (kc_snapshot_gate_requested(g)) {
 *                                       │        close every stream file (+ sidecar);
 *          returns 0 once the writer ◄──┴──      st = kc_snapshot_gate_pause(g);
 *          is paused                              ... blocks until gate_end ...
 *     rename, mkdir                                 reopen streams lazily (APPEND)
 *     kc_snapshot_gate_end(g, status) ────────►  }  (st = the rename status)
 *
 * The writer is paused only between its acknowledgement and gate_end (a
 * rename, a mkdir and a tiny file write); it spins politely meanwhile.
 * If the writer does not acknowledge within the timeout, gate_begin
 * withdraws the request and returns -ETIMEDOUT (the snapshot is skipped,
 * nothing moves); a writer that acknowledges too late gets -ECANCELED from
 * gate_pause and simply carries on.
 */
struct kc_snapshot_gate {
	_Atomic int state;  /**< KC_SNAPSHOT_GATE_* */
	_Atomic int status; /**< rename status handed to the writer */
};

#define KC_SNAPSHOT_GATE_IDLE 0
#define KC_SNAPSHOT_GATE_REQUESTED 1
#define KC_SNAPSHOT_GATE_PAUSED 2

/** Initialise (IDLE). */
void kc_snapshot_gate_init(struct kc_snapshot_gate *g);

/**
 * Job side, from ops.rotate_begin: ask the writer to pause and wait for it.
 * @return 0 (writer paused: call kc_snapshot_gate_end() next), -EBUSY (a
 *         request is already pending), -ETIMEDOUT (no answer in time; the
 *         request is withdrawn).
 */
int kc_snapshot_gate_begin(struct kc_snapshot_gate *g, unsigned timeout_ms);

/** Job side, from ops.rotate_end: release the writer with @p status. */
void kc_snapshot_gate_end(struct kc_snapshot_gate *g, int status);

/** Writer side: one relaxed load, cheap enough for every loop iteration. */
static inline bool kc_snapshot_gate_requested(struct kc_snapshot_gate *g)
{
	return atomic_load_explicit(&g->state, memory_order_acquire) == KC_SNAPSHOT_GATE_REQUESTED;
}

/**
 * Writer side, after closing every stream file: acknowledge and wait until
 * the job calls kc_snapshot_gate_end().
 * @return the rename status (0: OUT/live is new; negative: unchanged), or
 *         -ECANCELED if the job had already given up (carry on as before).
 */
int kc_snapshot_gate_pause(struct kc_snapshot_gate *g);

/* ----------------------------------------------------------- sidecar files */

/** What the writer knows about a stream; written as <stream>.meta.json. */
struct kc_snapshot_stream_meta {
	const char *name;        /**< stream file base name (no .pcap) */
	uint8_t ip_proto;        /**< 6 TCP, 17 UDP */
	int family;              /**< AF_INET or AF_INET6 */
	uint8_t src[16], dst[16];/**< network order; src = side that sent first */
	uint16_t sport, dport;   /**< host order */
	uint16_t vlan;           /**< 0 = none */
	bool truncated;          /**< packets of this stream were lost (limits) */
	const char *truncated_reason; /**< e.g. "retain_max_packets", or NULL */
	uint64_t packets_lost;   /**< packets not written (evicted before match, drops) */
	const char *matched;     /**< summary of the matching item, or NULL */
	const char *items_json;  /**< optional JSON array of item summaries, or NULL */
	uint64_t match_ts_us;    /**< time of the match (us since the epoch), 0 = unknown */
};

/**
 * Write @p dir/<name>.meta.json atomically (temp file + rename, mode 0600,
 * no fsync: a crash loses at most this sidecar, and the manifest then shows
 * "meta": null for the stream). Called by the writer when it closes a
 * stream file; it rewrites the whole sidecar each time.
 * Thread-safe (no shared state); does syscalls: not for the packet path.
 * @return 0, -EINVAL (bad name, family or items_json), -ENOMEM, or the errno
 *         of a file operation.
 */
int kc_snapshot_meta_write(const char *dir, const struct kc_snapshot_stream_meta *m,
			   struct kc_err *err);

#endif /* KC_SNAPSHOT_H */
