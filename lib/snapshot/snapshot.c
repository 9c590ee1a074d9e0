/* One snapshot: recover, rotate, merge, describe, spool, clean up. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "snapshot_internal.h"

/* Everything one run collects, freed by run_free(). */
struct run {
	uint64_t ts;
	char ts_s[24];
	char rot_name[64];          /* OUT/rotating/<ts>-<random>: never reused */
	char *tmp_dir;              /* SPOOL/.tmp-<ts> */
	char *entry_dir;            /* SPOOL/<ts> */
	char *capture_name;         /* <ts>.pcap[.gz] | <ts>.pcapng[.gz] */
	char **src_names;           /* OUT/rotating/<x> names merged */
	size_t n_src;
	struct kc_pcap_merge_input *in;
	size_t n_in, cap_in;
	size_t *in_src;             /* source index of each input */
	char **in_stream;           /* stream name of each input */
	cJSON **in_meta;            /* sidecar of each input, or NULL */
	struct kc_pcap_merge_stats mst;
};

static void step(struct kc_snapshot *s, enum kc_snapshot_step st)
{
	if (s->ops.progress != NULL)
		s->ops.progress(s->ops.ctx, st);
}

static void set_error(struct kc_snapshot *s, const char *msg)
{
	pthread_mutex_lock(&s->lock);
	snprintf(s->last_error, sizeof(s->last_error), "%s", msg);
	pthread_mutex_unlock(&s->lock);
}

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->n_in; i++) {
		free((char *)r->in[i].path);
		free((char *)r->in[i].comment);
		free(r->in_stream[i]);
		cJSON_Delete(r->in_meta[i]);
	}
	free(r->in);
	free(r->in_src);
	free(r->in_stream);
	free(r->in_meta);
	snap_names_free(r->src_names, r->n_src);
	free(r->tmp_dir);
	free(r->entry_dir);
	free(r->capture_name);
}

void kc_snapshot_params_from_config(const struct kc_config *cfg, struct kc_snapshot_params *p)
{
	memset(p, 0, sizeof(*p));
	p->out_dir = cfg->out_dir;
	p->spool_dir = cfg->spool_dir;
	p->format = cfg->snapshot_format == KC_CONFIG_FORMAT_PCAPNG ? KC_PCAP_FMT_PCAPNG
								     : KC_PCAP_FMT_PCAP;
	p->gzip = cfg->snapshot_gzip;
	p->spool_quota_bytes = cfg->spool_quota_bytes;
	p->quota_policy = cfg->spool_quota_policy;
	p->schedule = cfg->snapshot_schedule;
	p->kfl = cfg->kfl;
	p->host = NULL;
}

static int write_started(const char *live_dir, uint64_t ts)
{
	char path[4096], text[32];
	int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", ts);

	if (snprintf(path, sizeof(path), "%s/.started", live_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return snap_write_file(path, text, (size_t)n, false);
}

static uint64_t read_started(const char *dir)
{
	char path[4096], text[32] = "";
	FILE *f;
	uint64_t v = 0;

	snprintf(path, sizeof(path), "%s/.started", dir);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(text, sizeof(text), f) != NULL)
		v = strtoull(text, NULL, 10);
	fclose(f);
	return v;
}

static void snapshot_free(struct kc_snapshot *s);

struct kc_snapshot *kc_snapshot_create(const struct kc_snapshot_params *p,
				       const struct kc_snapshot_ops *ops, struct kc_err *err)
{
	struct kc_snapshot *s;
	char host[256] = "unknown";
	int rc = -ENOMEM;

	if (p == NULL || p->out_dir == NULL || p->out_dir[0] == '\0') {
		kc_err_set(err, -EINVAL, "snapshot: no out_dir");
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto fail_nomem;
	s->p = *p;
	if (ops != NULL)
		s->ops = *ops;
	if (p->host == NULL && gethostname(host, sizeof(host) - 1) < 0)
		strcpy(host, "unknown");
	s->out_dir = strdup(p->out_dir);
	s->host = strdup(p->host ? p->host : host);
	s->kfl = strdup(p->kfl ? p->kfl : "");
	if (p->spool_dir && p->spool_dir[0])
		s->spool_dir = strdup(p->spool_dir);
	else
		s->spool_dir = snap_fmt("%s/spool", p->out_dir);
	s->live_dir = snap_fmt("%s/live", p->out_dir);
	s->rot_dir = snap_fmt("%s/rotating", p->out_dir);
	if (!s->out_dir || !s->host || !s->kfl || !s->spool_dir || !s->live_dir || !s->rot_dir)
		goto fail_nomem;
	s->p.out_dir = s->out_dir;
	s->p.spool_dir = s->spool_dir;
	s->p.host = s->host;
	s->p.kfl = s->kfl;
	pthread_mutex_init(&s->run_lock, NULL);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->locks_ready = true;
	{
		const char *dirs[] = { s->out_dir, s->rot_dir, s->spool_dir };

		for (size_t i = 0; i < KC_ARRAY_SIZE(dirs); i++) {
			rc = snap_mkdir(dirs[i]);
			if (rc < 0) {
				kc_err_set(err, rc, "snapshot: mkdir %s: %s", dirs[i], strerror(-rc));
				goto fail;
			}
		}
		/* A live folder left by an earlier run (killed, or ended without
		 * its last snapshot) goes aside as a rotating folder, so that the
		 * first snapshot merges it as recovered: the new run's writer
		 * never opens, let alone truncates, a file of the old one. */
		if (snap_is_dir(s->live_dir)) {
			uint64_t rnd;
			char *dst;

			if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
				rnd = kc_wall_us() ^ ((uint64_t)getpid() << 40) ^ kc_now_us();
			dst = snap_fmt("%s/%" PRIu64 "-%016" PRIx64, s->rot_dir, snap_wall_sec(), rnd);
			rc = dst == NULL ? -ENOMEM : rename(s->live_dir, dst) < 0 ? -errno : 0;
			free(dst);
			if (rc == 0)
				rc = snap_fsync_path(s->rot_dir);
			if (rc < 0) {
				kc_err_set(err, rc, "snapshot: set %s aside: %s", s->live_dir, strerror(-rc));
				goto fail;
			}
		}
		{
			rc = snap_mkdir(s->live_dir);
			if (rc == 0)
				rc = write_started(s->live_dir, snap_wall_sec());
			if (rc < 0) {
				kc_err_set(err, rc, "snapshot: mkdir %s: %s", s->live_dir,
					   strerror(-rc));
				goto fail;
			}
		}
	}
	return s;

fail_nomem:
	kc_err_set(err, -ENOMEM, "snapshot: out of memory");
	rc = -ENOMEM;
fail:
	snapshot_free(s);
	errno = -rc;
	return NULL;
}

/* Does a complete spool entry name rotating dir @x among its sources? */
static bool committed_source(struct kc_snapshot *s, const char *x)
{
	char **names;
	size_t n;
	bool found = false;

	if (snap_list(s->spool_dir, &names, &n) < 0)
		return false;
	for (size_t i = 0; i < n && !found; i++) {
		char *path;
		cJSON *m, *srcs, *it;

		if (names[i][0] == '.')
			continue;
		if (asprintf(&path, "%s/%s/" KC_SNAPSHOT_READY, s->spool_dir, names[i]) < 0)
			break;
		if (!snap_exists(path)) {
			free(path);
			continue;
		}
		free(path);
		if (asprintf(&path, "%s/%s/" KC_SNAPSHOT_MANIFEST, s->spool_dir, names[i]) < 0)
			break;
		m = snap_meta_read(path);
		free(path);
		srcs = cJSON_GetObjectItemCaseSensitive(m, "sources");
		cJSON_ArrayForEach(it, srcs)
			if (cJSON_IsString(it) && strcmp(it->valuestring, x) == 0)
				found = true;
		cJSON_Delete(m);
	}
	snap_names_free(names, n);
	return found;
}

/* Step 1: half-built entries go; rotating dirs already committed go. */
static int recover(struct kc_snapshot *s, struct kc_err *err)
{
	char **names;
	size_t n;
	int rc = snap_list(s->spool_dir, &names, &n);

	if (rc < 0)
		return kc_err_set(err, rc, "snapshot: list %s: %s", s->spool_dir, strerror(-rc));
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *path;

		if (strncmp(names[i], ".tmp-", 5) != 0)
			continue;
		if (asprintf(&path, "%s/%s", s->spool_dir, names[i]) < 0) {
			rc = -ENOMEM;
			break;
		}
		rc = snap_rm_rf(path);
		if (rc < 0)
			kc_err_set(err, rc, "snapshot: remove %s: %s", path, strerror(-rc));
		free(path);
		pthread_mutex_lock(&s->lock);
		s->st.stale_tmp_removed++;
		pthread_mutex_unlock(&s->lock);
	}
	snap_names_free(names, n);
	if (rc < 0)
		return rc;
	rc = snap_list(s->rot_dir, &names, &n);
	if (rc < 0)
		return kc_err_set(err, rc, "snapshot: list %s: %s", s->rot_dir, strerror(-rc));
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *path;

		if (names[i][0] == '.' || !committed_source(s, names[i]))
			continue;
		if (asprintf(&path, "%s/%s", s->rot_dir, names[i]) < 0) {
			rc = -ENOMEM;
			break;
		}
		rc = snap_rm_rf(path);
		free(path);
	}
	snap_names_free(names, n);
	return rc < 0 ? kc_err_set(err, rc, "snapshot: recovery: %s", strerror(-rc)) : 0;
}

/* Step 2: the writer handshake around rename(live -> rotating/<ts>). */
static int rotate(struct kc_snapshot *s, struct run *r, struct kc_err *err)
{
	char *dst;
	int rc;

	if (asprintf(&dst, "%s/%s", s->rot_dir, r->rot_name) < 0)
		return kc_err_set(err, -ENOMEM, "snapshot: out of memory");
	if (s->ops.rotate_begin != NULL) {
		rc = s->ops.rotate_begin(s->ops.ctx);
		if (rc < 0) {
			free(dst);
			pthread_mutex_lock(&s->lock);
			s->st.aborted_rotate++;
			pthread_mutex_unlock(&s->lock);
			return kc_err_set(err, -EAGAIN, "snapshot: writer refused rotation: %s",
					  strerror(-rc));
		}
	}
	rc = rename(s->live_dir, dst) < 0 ? -errno : 0;
	if (rc == -ENOENT)
		rc = 0; /* no live folder: nothing to rotate; a new one is made */
	if (rc == 0) {
		rc = snap_mkdir(s->live_dir);
		if (rc == 0)
			rc = write_started(s->live_dir, r->ts);
	}
	if (s->ops.rotate_end != NULL)
		s->ops.rotate_end(s->ops.ctx, rc);
	if (rc < 0) {
		kc_err_set(err, rc, "snapshot: rotate %s -> %s: %s", s->live_dir, dst, strerror(-rc));
		free(dst);
		return rc;
	}
	free(dst);
	/* make the rename durable before anything depends on it */
	rc = snap_fsync_path(s->rot_dir);
	if (rc == 0)
		rc = snap_fsync_path(s->out_dir);
	return rc < 0 ? kc_err_set(err, rc, "snapshot: fsync %s: %s", s->out_dir, strerror(-rc))
		      : 0;
}

static int add_input(struct run *r, size_t src, const char *dir, const char *file)
{
	size_t stem = strlen(file) - 5; /* without ".pcap" */
	char *path = NULL, *meta_path = NULL, *stream = NULL;

	if (r->n_in == r->cap_in) {
		size_t nc = r->cap_in ? r->cap_in * 2 : 64;
		void *a = realloc(r->in, nc * sizeof(*r->in));

		if (a == NULL)
			return -ENOMEM;
		r->in = a;
		a = realloc(r->in_src, nc * sizeof(*r->in_src));
		if (a == NULL)
			return -ENOMEM;
		r->in_src = a;
		a = realloc(r->in_stream, nc * sizeof(*r->in_stream));
		if (a == NULL)
			return -ENOMEM;
		r->in_stream = a;
		a = realloc(r->in_meta, nc * sizeof(*r->in_meta));
		if (a == NULL)
			return -ENOMEM;
		r->in_meta = a;
		r->cap_in = nc;
	}
	path = snap_fmt("%s/%s", dir, file);
	meta_path = snap_fmt("%s/%.*s" KC_SNAPSHOT_META_SUFFIX, dir, (int)stem, file);
	stream = strndup(file, stem);
	if (path == NULL || meta_path == NULL || stream == NULL) {
		free(path);
		free(meta_path);
		free(stream);
		return -ENOMEM;
	}
	memset(&r->in[r->n_in], 0, sizeof(r->in[0]));
	r->in[r->n_in].path = path;
	r->in_src[r->n_in] = src;
	r->in_stream[r->n_in] = stream;
	r->in_meta[r->n_in] = snap_meta_read(meta_path);
	free(meta_path);
	{
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(r->in_meta[r->n_in], "matched");
		char *c = NULL;

		if (asprintf(&c, "kflcap stream %s%s%s", stream, cJSON_IsString(m) ? ": " : "",
			     cJSON_IsString(m) ? m->valuestring : "") < 0)
			c = NULL;
		r->in[r->n_in].comment = c;
	}
	r->n_in++;
	return 0;
}

/* Step 3 input: every <stream>.pcap of every rotating dir. */
static int collect(struct kc_snapshot *s, struct run *r, struct kc_err *err)
{
	char **all;
	size_t n;
	int rc = snap_list(s->rot_dir, &all, &n);

	if (rc < 0)
		return kc_err_set(err, rc, "snapshot: list %s: %s", s->rot_dir, strerror(-rc));
	/* keep only directories not starting with '.' */
	r->src_names = calloc(n ? n : 1, sizeof(char *));
	if (r->src_names == NULL) {
		snap_names_free(all, n);
		return kc_err_set(err, -ENOMEM, "snapshot: out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		char *dir;

		if (all[i][0] == '.' || asprintf(&dir, "%s/%s", s->rot_dir, all[i]) < 0) {
			free(all[i]);
			continue;
		}
		if (snap_is_dir(dir))
			r->src_names[r->n_src++] = all[i];
		else
			free(all[i]);
		free(dir);
	}
	free(all);
	for (size_t i = 0; i < r->n_src && rc == 0; i++) {
		char *dir, **files;
		size_t nf;

		if (asprintf(&dir, "%s/%s", s->rot_dir, r->src_names[i]) < 0)
			return kc_err_set(err, -ENOMEM, "snapshot: out of memory");
		rc = snap_list(dir, &files, &nf);
		for (size_t j = 0; rc == 0 && j < nf; j++) {
			size_t len = strlen(files[j]);

			if (files[j][0] != '.' && len > 5 && strcmp(files[j] + len - 5, ".pcap") == 0)
				rc = add_input(r, i, dir, files[j]);
		}
		if (rc < 0)
			kc_err_set(err, rc, "snapshot: list %s: %s", dir, strerror(-rc));
		snap_names_free(files, nf);
		free(dir);
	}
	return rc;
}

static cJSON *manifest(struct kc_snapshot *s, struct run *r)
{
	cJSON *m = cJSON_CreateObject(), *filter, *cap, *srcs, *rec, *streams;
	char kfl[4096];
	uint64_t version = 0, start = 0;

	if (m == NULL)
		return NULL;
	snprintf(kfl, sizeof(kfl), "%s", s->kfl);
	if (s->ops.filter_info != NULL) {
		kfl[0] = '\0';
		version = s->ops.filter_info(s->ops.ctx, kfl, sizeof(kfl));
		kfl[sizeof(kfl) - 1] = '\0';
	}
	cJSON_AddNumberToObject(m, "version", KC_SNAPSHOT_MANIFEST_VERSION);
	cJSON_AddStringToObject(m, "kflcap_version", KC_VERSION);
	cJSON_AddStringToObject(m, "host", s->host);
	cJSON_AddNumberToObject(m, "snapshot", (double)r->ts);
	for (size_t i = 0; i < r->n_src; i++) {
		char *dir;
		uint64_t st = 0;

		if (asprintf(&dir, "%s/%s", s->rot_dir, r->src_names[i]) >= 0) {
			st = read_started(dir);
			free(dir);
		}
		if (st != 0 && (start == 0 || st < start))
			start = st;
	}
	cJSON_AddNumberToObject(m, "interval_start", (double)start);
	cJSON_AddNumberToObject(m, "interval_end", (double)r->ts);
	filter = cJSON_AddObjectToObject(m, "filter");
	cJSON_AddStringToObject(filter, "kfl", kfl);
	cJSON_AddNumberToObject(filter, "version", (double)version);
	cap = cJSON_AddObjectToObject(m, "capture");
	cJSON_AddStringToObject(cap, "file", r->capture_name);
	cJSON_AddStringToObject(cap, "format", s->p.format == KC_PCAP_FMT_PCAPNG ? "pcapng" : "pcap");
	cJSON_AddBoolToObject(cap, "gzip", s->p.gzip);
	cJSON_AddNumberToObject(cap, "packets", (double)r->mst.packets);
	cJSON_AddNumberToObject(cap, "bytes_captured", (double)r->mst.bytes_captured);
	cJSON_AddNumberToObject(cap, "file_bytes", (double)r->mst.bytes_out);
	cJSON_AddNumberToObject(cap, "first_ts_us", (double)(r->mst.first_ts_ns / 1000u));
	cJSON_AddNumberToObject(cap, "last_ts_us", (double)(r->mst.last_ts_ns / 1000u));
	cJSON_AddNumberToObject(cap, "truncated_inputs", (double)r->mst.truncated_inputs);
	cJSON_AddNumberToObject(cap, "failed_inputs", (double)r->mst.failed_inputs);
	srcs = cJSON_AddArrayToObject(m, "sources");
	rec = cJSON_AddArrayToObject(m, "recovered");
	for (size_t i = 0; i < r->n_src; i++) {
		cJSON_AddItemToArray(srcs, cJSON_CreateString(r->src_names[i]));
		if (strcmp(r->src_names[i], r->rot_name) != 0)
			cJSON_AddItemToArray(rec, cJSON_CreateString(r->src_names[i]));
	}
	streams = cJSON_AddArrayToObject(m, "streams");
	for (size_t i = 0; i < r->n_in; i++) {
		const struct kc_pcap_merge_input *in = &r->in[i];
		cJSON *o = cJSON_CreateObject();
		const cJSON *tr = cJSON_GetObjectItemCaseSensitive(r->in_meta[i], "truncated");
		char *file;

		if (o == NULL)
			goto nomem;
		cJSON_AddItemToArray(streams, o);
		cJSON_AddStringToObject(o, "stream", r->in_stream[i]);
		if (asprintf(&file, "%s/%s.pcap", r->src_names[r->in_src[i]], r->in_stream[i]) < 0)
			goto nomem;
		cJSON_AddStringToObject(o, "source_file", file);
		free(file);
		cJSON_AddNumberToObject(o, "packets", (double)in->packets);
		cJSON_AddNumberToObject(o, "bytes", (double)in->bytes);
		cJSON_AddNumberToObject(o, "first_ts_us", (double)(in->first_ts_ns / 1000u));
		cJSON_AddNumberToObject(o, "last_ts_us", (double)(in->last_ts_ns / 1000u));
		cJSON_AddBoolToObject(o, "truncated", cJSON_IsTrue(tr) || in->truncated_tail ||
				      in->error != 0);
		cJSON_AddBoolToObject(o, "torn_tail", in->truncated_tail);
		{
			/* the 5-tuple from the first packet: present even without a
			 * sidecar (crash leftovers) */
			struct kc_pcap_reader *rd = kc_pcap_reader_open(in->path, NULL);
			struct kc_pcap_rec rc1;
			cJSON *flow = NULL;

			if (rd != NULL && kc_pcap_reader_next(rd, &rc1) == 1)
				flow = snap_flow_from_packet(rc1.data, rc1.caplen);
			kc_pcap_reader_close(rd);
			if (flow != NULL)
				cJSON_AddItemToObject(o, "flow", flow);
			else
				cJSON_AddNullToObject(o, "flow");
		}
		if (in->error != 0)
			cJSON_AddStringToObject(o, "read_error", strerror(-in->error));
		if (r->in_meta[i] != NULL) {
			cJSON_AddItemToObject(o, "meta", r->in_meta[i]);
			r->in_meta[i] = NULL; /* now owned by the manifest */
		} else {
			cJSON_AddNullToObject(o, "meta");
		}
	}
	return m;
nomem:
	cJSON_Delete(m);
	return NULL;
}

static int write_json(const char *path, const cJSON *j)
{
	char *text = cJSON_Print(j);
	int rc;

	if (text == NULL)
		return -ENOMEM;
	rc = snap_write_file(path, text, strlen(text), true);
	free(text);
	return rc;
}

/* Step 5: make room for @need bytes or refuse. */
static int apply_quota(struct kc_snapshot *s, struct run *r, struct kc_err *err)
{
	uint64_t need = 0, used = 0;
	char **names;
	size_t n;
	int rc;

	if (s->ops.admit == NULL && s->p.spool_quota_bytes == 0)
		return 0;
	rc = snap_du(r->tmp_dir, &need);
	if (rc < 0)
		return kc_err_set(err, rc, "snapshot: size of %s: %s", r->tmp_dir, strerror(-rc));
	if (s->ops.admit != NULL) {
		rc = s->ops.admit(s->ops.ctx, need, err);
		if (rc == -ENOSPC) {
			pthread_mutex_lock(&s->lock);
			s->st.refused_quota++;
			pthread_mutex_unlock(&s->lock);
		}
		return rc;
	}
	rc = snap_list(s->spool_dir, &names, &n);
	if (rc < 0)
		return kc_err_set(err, rc, "snapshot: spool size: %s", strerror(-rc));
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *p;

		if (names[i][0] == '.' || asprintf(&p, "%s/%s", s->spool_dir, names[i]) < 0)
			continue;
		rc = snap_du(p, &used);
		free(p);
	}
	/* drop-oldest: entries are named by unix time, so name order = age */
	for (size_t i = 0; rc == 0 && i < n && used + need > s->p.spool_quota_bytes &&
	     need <= s->p.spool_quota_bytes && s->p.quota_policy == KC_CONFIG_QUOTA_DROP_OLDEST;
	     i++) {
		uint64_t sz = 0;
		char *p;

		if (names[i][0] == '.' || asprintf(&p, "%s/%s", s->spool_dir, names[i]) < 0)
			continue;
		rc = snap_du(p, &sz);
		if (rc == 0)
			rc = snap_rm_rf(p);
		free(p);
		if (rc == 0) {
			used = used > sz ? used - sz : 0;
			pthread_mutex_lock(&s->lock);
			s->st.dropped_oldest++;
			pthread_mutex_unlock(&s->lock);
		}
	}
	snap_names_free(names, n);
	if (rc < 0)
		return kc_err_set(err, rc, "snapshot: spool cleanup: %s", strerror(-rc));
	if (used + need > s->p.spool_quota_bytes) {
		pthread_mutex_lock(&s->lock);
		s->st.refused_quota++;
		pthread_mutex_unlock(&s->lock);
		return kc_err_set(err, -ENOSPC, "snapshot %s: spool quota: %" PRIu64 " bytes used + %"
				  PRIu64 " new > %" PRIu64 " (policy %s); snapshot discarded",
				  r->ts_s, used, need, s->p.spool_quota_bytes,
				  s->p.quota_policy == KC_CONFIG_QUOTA_DROP_OLDEST ? "drop-oldest"
										    : "refuse-new");
	}
	return 0;
}

static int remove_sources(struct kc_snapshot *s, struct run *r)
{
	int rc = 0;

	for (size_t i = 0; i < r->n_src; i++) {
		char *p;
		int rc2;

		if (asprintf(&p, "%s/%s", s->rot_dir, r->src_names[i]) < 0)
			return -ENOMEM;
		rc2 = snap_rm_rf(p);
		free(p);
		if (rc2 < 0 && rc == 0)
			rc = rc2;
	}
	if (rc == 0)
		rc = snap_fsync_path(s->rot_dir);
	return rc;
}

/* The history's current mappings as NRB records (pointing into @pairs). */
static int names_from_history(struct kc_names *h, struct kc_names_pair **pairs,
			      struct kc_pcap_name **names, size_t *n)
{
	size_t cnt = 0;
	int rc = kc_names_copy(h, pairs, &cnt);

	*names = NULL;
	*n = 0;
	if (rc < 0 || cnt == 0)
		return rc;
	*names = calloc(cnt, sizeof(**names));
	if (*names == NULL) {
		free(*pairs);
		*pairs = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; i < cnt; i++) {
		(*names)[i].family = (*pairs)[i].family;
		memcpy((*names)[i].addr, (*pairs)[i].addr, sizeof((*names)[i].addr));
		(*names)[i].name = (*pairs)[i].name;
	}
	*n = cnt;
	return 0;
}

/* Steps 3-6 into SPOOL/.tmp-<ts>, then the commit. */
static int build(struct kc_snapshot *s, struct run *r, struct kc_err *err)
{
	struct kc_pcap_merge_opts mo = { .format = s->p.format, .gzip = s->p.gzip };
	struct kc_pcap_name *names = NULL;
	struct kc_names_pair *pairs = NULL;
	size_t n_names = 0;
	char *p = NULL, ready[512];
	cJSON *man;
	int rc, len;

	rc = snap_mkdir(r->tmp_dir);
	if (rc < 0)
		return kc_err_set(err, rc, "snapshot: mkdir %s: %s", r->tmp_dir, strerror(-rc));
	if (mo.format == KC_PCAP_FMT_PCAPNG && s->ops.names_get != NULL &&
	    s->ops.names_get(s->ops.ctx, &names, &n_names) == 0) {
		mo.names = names;
		mo.n_names = n_names;
	} else if (mo.format == KC_PCAP_FMT_PCAPNG && s->ops.names_get == NULL &&
		   s->p.names != NULL) {
		rc = names_from_history(s->p.names, &pairs, &names, &n_names);
		if (rc < 0)
			return kc_err_set(err, rc, "snapshot: names: out of memory");
		mo.names = names;
		mo.n_names = n_names;
	}
	if (asprintf(&p, "%s/%s", r->tmp_dir, r->capture_name) < 0)
		return kc_err_set(err, -ENOMEM, "snapshot: out of memory");
	rc = kc_pcap_merge(r->in, r->n_in, p, &mo, &r->mst, err);
	free(p);
	if (pairs != NULL || (names != NULL && s->ops.names_get == NULL)) {
		free(pairs);
		free(names);
	} else if (names != NULL && s->ops.names_free != NULL) {
		s->ops.names_free(s->ops.ctx, names, n_names);
	}
	if (rc < 0)
		return rc;
	step(s, KC_SNAPSHOT_STEP_MERGED);

	man = manifest(s, r);
	if (man == NULL || asprintf(&p, "%s/" KC_SNAPSHOT_MANIFEST, r->tmp_dir) < 0) {
		cJSON_Delete(man);
		return kc_err_set(err, -ENOMEM, "snapshot: out of memory");
	}
	rc = write_json(p, man);
	cJSON_Delete(man);
	if (rc < 0) {
		kc_err_set(err, rc, "snapshot: write %s: %s", p, strerror(-rc));
		free(p);
		return rc;
	}
	free(p);

	if (asprintf(&p, "%s/" KC_SNAPSHOT_NAMES, r->tmp_dir) < 0)
		return kc_err_set(err, -ENOMEM, "snapshot: out of memory");
	if (s->ops.write_names != NULL || s->p.names != NULL) {
		rc = s->ops.write_names != NULL ? s->ops.write_names(s->ops.ctx, p, err)
						: kc_names_write_json_path(s->p.names, p, err);
		if (rc == 0)
			rc = snap_fsync_path(p);
	} else {
		rc = snap_write_file(p, "[]\n", 3, true);
	}
	if (rc < 0) {
		if ((s->ops.write_names == NULL && s->p.names == NULL) || err == NULL ||
		    err->msg[0] == '\0')
			kc_err_set(err, rc, "snapshot: write %s: %s", p, strerror(-rc));
		free(p);
		return rc;
	}
	free(p);
	step(s, KC_SNAPSHOT_STEP_DESCRIBED);

	/* READY last: its presence means every file it lists is complete */
	len = snprintf(ready, sizeof(ready), "%s\n%s\n%s\n", r->capture_name,
		       KC_SNAPSHOT_MANIFEST, KC_SNAPSHOT_NAMES);
	if (asprintf(&p, "%s/" KC_SNAPSHOT_READY, r->tmp_dir) < 0)
		return kc_err_set(err, -ENOMEM, "snapshot: out of memory");
	rc = snap_write_file(p, ready, (size_t)len, true);
	free(p);
	if (rc == 0)
		rc = snap_fsync_path(r->tmp_dir);
	if (rc < 0)
		return kc_err_set(err, rc, "snapshot: write READY in %s: %s", r->tmp_dir,
				  strerror(-rc));
	step(s, KC_SNAPSHOT_STEP_READY);
	rc = apply_quota(s, r, err);
	if (rc < 0)
		return rc;
	if (rename(r->tmp_dir, r->entry_dir) < 0)
		return kc_err_set(err, -errno, "snapshot: rename %s -> %s: %s", r->tmp_dir,
				  r->entry_dir, strerror(errno));
	rc = snap_fsync_path(s->spool_dir);
	if (rc < 0)
		return kc_err_set(err, rc, "snapshot: fsync %s: %s", s->spool_dir, strerror(-rc));
	step(s, KC_SNAPSHOT_STEP_COMMITTED);
	return 0;
}

static int run_locked(struct kc_snapshot *s, char *entry, size_t entry_cap, struct kc_err *err)
{
	struct run r;
	uint64_t t0 = kc_now_us();
	int rc;

	memset(&r, 0, sizeof(r));
	rc = recover(s, err);
	if (rc < 0)
		goto fail;
	step(s, KC_SNAPSHOT_STEP_RECOVERED);
	/* <ts> must be new in the spool, and new for this process: an entry
	 * leaves the spool once uploaded, and a second snapshot named like it
	 * would overwrite it in the archive. So names only go up, running a
	 * second or two ahead of the clock when snapshots come faster than one
	 * a second. The rotating folder gets a random suffix: recovery
	 * recognises committed folders by name (manifest "sources"), so a
	 * folder name must never be used twice. */
	r.ts = snap_wall_sec();
	if (r.ts <= s->last_name_ts)
		r.ts = s->last_name_ts + 1;
	for (;; r.ts++) {
		char b[4096];

		snprintf(r.ts_s, sizeof(r.ts_s), "%" PRIu64, r.ts);
		snprintf(b, sizeof(b), "%s/%s", s->spool_dir, r.ts_s);
		if (!snap_exists(b))
			break;
	}
	s->last_name_ts = r.ts;
	{
		uint64_t rnd;

		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			rnd = kc_wall_us() ^ ((uint64_t)getpid() << 40) ^ kc_now_us();
		snprintf(r.rot_name, sizeof(r.rot_name), "%s-%016" PRIx64, r.ts_s, rnd);
	}
	r.tmp_dir = snap_fmt("%s/.tmp-%s", s->spool_dir, r.ts_s);
	r.entry_dir = snap_fmt("%s/%s", s->spool_dir, r.ts_s);
	r.capture_name = snap_fmt("%s.%s%s", r.ts_s,
				  s->p.format == KC_PCAP_FMT_PCAPNG ? "pcapng" : "pcap",
				  s->p.gzip ? ".gz" : "");
	if (r.tmp_dir == NULL || r.entry_dir == NULL || r.capture_name == NULL) {
		rc = kc_err_set(err, -ENOMEM, "snapshot: out of memory");
		goto fail;
	}
	rc = rotate(s, &r, err);
	if (rc < 0)
		goto fail;
	step(s, KC_SNAPSHOT_STEP_ROTATED);
	rc = collect(s, &r, err);
	if (rc < 0)
		goto fail;
	rc = build(s, &r, err);
	if (rc == -ENOSPC) {
		/* refused by the quota: the policy discards these streams */
		snap_rm_rf(r.tmp_dir);
		remove_sources(s, &r);
		goto out;
	}
	if (rc < 0) {
		snap_rm_rf(r.tmp_dir); /* the streams stay in rotating/ for the next run */
		goto fail;
	}
	/* Step 7. A failure here only leaves rotating dirs that the next
	 * recovery recognises as committed through the manifest. */
	remove_sources(s, &r);
	step(s, KC_SNAPSHOT_STEP_CLEANED);
	pthread_mutex_lock(&s->lock);
	s->st.snapshots++;
	s->st.packets += r.mst.packets;
	s->st.bytes += r.mst.bytes_out;
	s->st.truncated_inputs += r.mst.truncated_inputs;
	s->st.failed_inputs += r.mst.failed_inputs;
	for (size_t i = 0; i < r.n_src; i++)
		if (strcmp(r.src_names[i], r.rot_name) != 0)
			s->st.recovered_dirs++;
	s->st.last_ts = r.ts;
	s->st.last_duration_us = kc_now_us() - t0;
	pthread_mutex_unlock(&s->lock);
	if (entry != NULL && entry_cap > 0)
		snprintf(entry, entry_cap, "%s", r.entry_dir);
	if (s->ops.spooled != NULL)
		s->ops.spooled(s->ops.ctx, r.entry_dir);
	run_free(&r);
	return 0;
fail:
	pthread_mutex_lock(&s->lock);
	s->st.failed++;
	pthread_mutex_unlock(&s->lock);
out:
	run_free(&r);
	return rc;
}

int kc_snapshot_run_once(struct kc_snapshot *s, char *entry, size_t entry_cap,
			 struct kc_err *err)
{
	struct kc_err local = { "" };
	int rc;

	if (err == NULL)
		err = &local;
	pthread_mutex_lock(&s->run_lock);
	rc = run_locked(s, entry, entry_cap, err);
	pthread_mutex_unlock(&s->run_lock);
	if (rc < 0)
		set_error(s, err->msg);
	return rc;
}

void kc_snapshot_get_stats(struct kc_snapshot *s, struct kc_snapshot_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}

void kc_snapshot_last_error(struct kc_snapshot *s, char *buf, size_t cap)
{
	pthread_mutex_lock(&s->lock);
	snprintf(buf, cap, "%s", s->last_error);
	pthread_mutex_unlock(&s->lock);
}

void kc_snapshot_destroy(struct kc_snapshot *s)
{
	if (s != NULL && s->job_running)
		kc_snapshot_job_stop(s, false, NULL);
	snapshot_free(s);
}

/* Also for kc_snapshot_create()'s own failure path (see snapshot_free's
 * caller): the malloc attribute pairs kc_snapshot_destroy() with the
 * constructor only. */
static void snapshot_free(struct kc_snapshot *s)
{
	if (s == NULL)
		return;
	if (s->locks_ready) {
		pthread_mutex_destroy(&s->run_lock);
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
	}
	free(s->out_dir);
	free(s->spool_dir);
	free(s->live_dir);
	free(s->rot_dir);
	free(s->kfl);
	free(s->host);
	free(s);
}
