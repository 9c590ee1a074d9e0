/*
 * The control plane of recording: the active filter (published to workers
 * RCU-style, rte_rcu_qsbr), configuration reload on SIGHUP, the snapshot job
 * (lib/snapshot, its own thread), the name-resolution history (lib/names)
 * and the uploader (lib/storage, its own thread). Nothing here runs on a
 * worker; the management lcore calls in between drains.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "kflcap.h"
#include "kc_config.h"
#include "kc_names.h"
#include "kc_snapshot.h"
#include "kc_storage.h"

#define GATE_TIMEOUT_MS 5000
#define UPLOAD_STOP_MS 10000

/* ------------------------------------------------------------------ filter */

int kc_filter_init(struct kc_app *app)
{
	size_t sz;

	if (app->n_workers < 1 || app->workers[0]->lcore == rte_get_main_lcore())
		return 0; /* one lcore: nothing runs concurrently with the publisher */
	sz = rte_rcu_qsbr_get_memsize(app->n_workers);
	app->qsbr = rte_zmalloc("kc_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (app->qsbr == NULL || rte_rcu_qsbr_init(app->qsbr, app->n_workers) != 0)
		return -1;
	return 0;
}

/* Replace the active filter. The old program is freed only after every worker
 * passed a quiescent state (it reports one per loop iteration, so the wait is
 * microseconds). @p text "" removes the filter: streams already recording go
 * on, nothing new starts. */
int kc_filter_publish(struct kc_app *app, const char *text, struct kc_err *err)
{
	struct kc_engine_filter *nf = NULL, *old;
	struct kc_kfl_prog *prog = NULL;

	if (text[0] != '\0') {
		if (kc_kfl_compile(text, &prog, err) != 0)
			return -EINVAL;
		nf = calloc(1, sizeof(*nf));
		if (nf == NULL) {
			kc_kfl_prog_free(prog);
			return kc_err_set(err, -ENOMEM, "filter: out of memory");
		}
		nf->prog = prog;
		nf->version = ++app->filter_version;
	}
	old = atomic_exchange(&app->filter, nf);
	if (old != NULL) {
		if (app->qsbr != NULL)
			rte_rcu_qsbr_synchronize(app->qsbr, RTE_QSBR_THRID_INVALID);
		kc_kfl_prog_free((struct kc_kfl_prog *)old->prog);
		free(old);
	}
	return 0;
}

/* SIGHUP: read the configuration again (file, environment, command line).
 * The filter applies at once; other keys need a restart and are reported. */
void kc_app_reload(struct kc_app *app)
{
	struct kc_err err = {{0}};
	struct kc_config *cfg = kc_opts_load_config(&app->opts, &err);
	const struct kc_engine_filter *cur;
	const char *cur_text;

	if (cfg == NULL) {
		fprintf(stderr, "kflcap: reload: %s (keeping the running configuration)\n", err.msg);
		return;
	}
	cur = atomic_load(&app->filter);
	cur_text = cur ? kc_kfl_prog_text(cur->prog) : "";
	if (strcmp(cfg->kfl, app->opts.kfl) != 0) {
		if (kc_filter_publish(app, cfg->kfl, &err) != 0) {
			fprintf(stderr, "kflcap: reload: kfl: %s (keeping '%s')\n", err.msg, cur_text);
			kc_config_free(cfg);
			return;
		}
		snprintf(app->opts.kfl, sizeof(app->opts.kfl), "%s", cfg->kfl);
		cur = atomic_load(&app->filter);
		printf("kflcap: reload: filter version %u: %s\n", app->filter_version,
		       cur ? kc_kfl_prog_text(cur->prog) : "(none: no new recordings)");
	} else {
		printf("kflcap: reload: filter unchanged\n");
	}
	fflush(stdout);
	kc_config_free(cfg);
}

/* ------------------------------------------------------------------ snapshots */

static int snap_rotate_begin(void *ctx)
{
	struct kc_app *app = ctx;

	/* After the management loop ended there is no writer to pause. */
	if (atomic_load(&app->writer_gone))
		return 0;
	return kc_snapshot_gate_begin(&app->gate, GATE_TIMEOUT_MS);
}

static void snap_rotate_end(void *ctx, int status)
{
	struct kc_app *app = ctx;

	if (!atomic_load(&app->writer_gone))
		kc_snapshot_gate_end(&app->gate, status);
}

static int snap_write_names(void *ctx, const char *path, struct kc_err *err)
{
	struct kc_app *app = ctx;

	return kc_names_write_json_path(app->names, path, err);
}

static int snap_names_get(void *ctx, struct kc_pcap_name **names, size_t *n)
{
	struct kc_app *app = ctx;
	struct kc_names_pair *pairs;
	int rc = kc_names_copy(app->names, &pairs, n);

	/* struct kc_names_pair has the layout of struct kc_pcap_name. */
	*names = rc == 0 ? (struct kc_pcap_name *)(void *)pairs : NULL;
	return rc;
}

static void snap_names_free(void *ctx, struct kc_pcap_name *names, size_t n)
{
	(void)ctx;
	(void)n;
	free(names);
}

static uint64_t snap_filter_info(void *ctx, char *buf, size_t cap)
{
	struct kc_app *app = ctx;
	const struct kc_engine_filter *f = atomic_load(&app->filter);

	/* The job thread reads the text while the management lcore may swap the
	 * filter: the copy kept in opts is what was last published. */
	snprintf(buf, cap, "%s", app->opts.record_all && f == NULL ? "(record_all)" : app->opts.kfl);
	return f ? f->version : 0;
}

static void snap_spooled(void *ctx, const char *entry)
{
	struct kc_app *app = ctx;

	(void)entry;
	if (app->uploader != NULL)
		kc_uploader_kick(app->uploader);
}

static int snap_admit(void *ctx, uint64_t bytes, struct kc_err *err)
{
	struct kc_app *app = ctx;

	return kc_uploader_admit(app->uploader, bytes, err);
}

static void store_log(void *arg, enum kc_store_log_level level, const char *msg)
{
	(void)arg;
	fprintf(stderr, "kflcap: storage%s: %s\n", level <= KC_STORE_LOG_ERR ? " error" :
		level == KC_STORE_LOG_WARN ? " warning" : "", msg);
}

/* Object names carry host, address and run: many recorders, one bucket. */
static void host_identity(struct kc_store_cfg *sc)
{
	struct ifaddrs *ifa, *i;

	if (gethostname(sc->host, sizeof(sc->host)) != 0)
		snprintf(sc->host, sizeof(sc->host), "localhost");
	sc->host[sizeof(sc->host) - 1] = '\0';
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i != NULL; i = i->ifa_next) {
			if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
				continue;
			inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, sc->ip, sizeof(sc->ip));
			break;
		}
		freeifaddrs(ifa);
	}
	snprintf(sc->run_id, sizeof(sc->run_id), "%lld-%d", (long long)time(NULL), (int)getpid());
}

static int copy_str(char *dst, size_t cap, const char *src, const char *key, struct kc_err *err)
{
	if (strlen(src) >= cap)
		return kc_err_set(err, -ERANGE, "key '%s': longer than %zu bytes", key, cap - 1);
	snprintf(dst, cap, "%s", src);
	return 0;
}

static int storage_cfg(const struct kc_config *c, struct kc_store_cfg *sc, struct kc_err *err)
{
	kc_store_cfg_init(sc);
	if (copy_str(sc->dest, sizeof(sc->dest), c->dest, "dest", err) ||
	    copy_str(sc->gcs_key, sizeof(sc->gcs_key), c->gcs_sa_key_json, "gcs_sa_key_json", err) ||
	    copy_str(sc->gcs_endpoint, sizeof(sc->gcs_endpoint), c->gcs_endpoint, "gcs_endpoint", err) ||
	    copy_str(sc->s3_endpoint, sizeof(sc->s3_endpoint), c->s3_endpoint, "s3_endpoint", err) ||
	    copy_str(sc->s3_region, sizeof(sc->s3_region), c->s3_region, "s3_region", err) ||
	    copy_str(sc->s3_access_key, sizeof(sc->s3_access_key), c->s3_access_key, "s3_access_key", err) ||
	    copy_str(sc->s3_secret_key, sizeof(sc->s3_secret_key), c->s3_secret_key, "s3_secret_key", err) ||
	    copy_str(sc->ca_file, sizeof(sc->ca_file), c->ca_file, "ca_file", err))
		return -EINVAL;
	/* The production endpoint is the library's default. */
	if (strcmp(sc->gcs_endpoint, "https://storage.googleapis.com") == 0)
		sc->gcs_endpoint[0] = '\0';
	sc->s3_path_style = c->s3_path_style;
	sc->s3_multipart_threshold = c->s3_multipart_threshold;
	sc->quota_bytes = c->spool_quota_bytes;
	sc->quota_policy = c->spool_quota_policy == KC_CONFIG_QUOTA_DROP_OLDEST ? KC_STORE_QUOTA_DROP_OLDEST
										: KC_STORE_QUOTA_REFUSE_NEW;
	sc->retry_max = (uint32_t)c->upload_retry_max;
	sc->backoff_base_ms = (uint32_t)c->upload_backoff_base_ms;
	sc->backoff_cap_ms = (uint32_t)c->upload_backoff_max_ms;
	sc->log = store_log;
	host_identity(sc);
	return kc_store_cfg_validate(sc, err);
}

int kc_record_start(struct kc_app *app, struct kc_err *err)
{
	static const struct kc_snapshot_ops ops_tmpl = {
		.rotate_begin = snap_rotate_begin,
		.rotate_end = snap_rotate_end,
		.write_names = snap_write_names,
		.names_get = snap_names_get,
		.names_free = snap_names_free,
		.filter_info = snap_filter_info,
		.spooled = snap_spooled,
		.admit = snap_admit,
	};
	const struct kc_config *c = app->opts.cfg;
	struct kc_snapshot_ops ops = ops_tmpl;
	struct kc_snapshot_params p;
	struct kc_store_cfg *sc;
	int rc;

	kc_snapshot_gate_init(&app->gate);
	app->names = kc_names_create((uint32_t)c->names_max_entries, (uint32_t)c->names_max_entries * 4);
	if (app->names == NULL)
		return kc_err_set(err, -ENOMEM, "names: out of memory");
	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return kc_err_set(err, -ENOMEM, "storage: out of memory");
	rc = kc_store_global_init();
	if (rc == 0)
		rc = storage_cfg(c, sc, err);
	if (rc == 0) {
		app->uploader = kc_uploader_start(sc, c->spool_dir, err);
		if (app->uploader == NULL)
			rc = -EIO;
	}
	kc_store_cfg_wipe(sc);
	free(sc);
	if (rc != 0)
		return rc;
	ops.ctx = app;
	kc_snapshot_params_from_config(c, &p);
	app->snapshot = kc_snapshot_create(&p, &ops, err);
	if (app->snapshot == NULL)
		return -EIO;
	return kc_snapshot_job_start(app->snapshot, err);
}

void kc_record_stop(struct kc_app *app)
{
	struct kc_err err = {{0}};

	atomic_store(&app->writer_gone, true);
	if (app->snapshot != NULL) {
		/* A last snapshot: a finite input leaves everything it recorded. */
		if (kc_snapshot_job_stop(app->snapshot, true, &err) != 0)
			fprintf(stderr, "kflcap: last snapshot: %s\n", err.msg);
		kc_snapshot_destroy(app->snapshot);
		app->snapshot = NULL;
	}
	if (app->uploader != NULL) {
		/* Bounded: what is not confirmed stays in the spool for the next run. */
		kc_uploader_stop(app->uploader, UPLOAD_STOP_MS);
		app->uploader = NULL;
	}
	kc_names_destroy(app->names);
	app->names = NULL;
}

void kc_record_learn(struct kc_app *app, const struct kc_item *it)
{
	if (app->names != NULL && it->proto == KC_ITEM_DNS)
		kc_names_learn_item(app->names, it);
}
