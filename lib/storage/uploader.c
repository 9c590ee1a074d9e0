/* The uploader thread: walks the spool oldest first, sends every file of an
 * entry, records progress in sidecars, removes confirmed entries, and waits
 * for kicks. All network I/O of the recorder's storage happens here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage_internal.h"

struct kc_uploader {
	struct kc_store_cfg cfg;      /* private copy; wiped at stop */
	char spool[1024];
	pthread_t th;
	pthread_mutex_t mu;           /* guards everything below and st */
	pthread_cond_t cv;
	bool kicked;
	bool idle;                    /* last pass found nothing it could send */
	bool exited;
	uint64_t passes;              /* completed idle passes */
	bool stopping;                /* drain, then exit when idle */
	atomic_int abort;             /* abandon transfers now */
	char busy[256];               /* entry being uploaded ("" = none) */
	struct kc_err last_err;
	struct kc_store_stats st;
	struct kc_store_ctx ctx;      /* owned by the thread after start */
	char objdir[1400];
};

static void set_err(struct kc_uploader *u, const struct kc_err *e)
{
	pthread_mutex_lock(&u->mu);
	u->last_err = *e;
	pthread_mutex_unlock(&u->mu);
}

static int file_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int push_name(char ***v, size_t *cnt, size_t *cap, const char *name)
{
	if (*cnt == *cap) {
		char **nv = realloc(*v, (*cap ? *cap * 2 : 8) * sizeof(**v));

		if (nv == NULL)
			return -ENOMEM;
		*v = nv;
		*cap = *cap ? *cap * 2 : 8;
	}
	if (((*v)[*cnt] = strdup(name)) == NULL)
		return -ENOMEM;
	(*cnt)++;
	return 0;
}

#define READY_MAX (64u << 10)

/*
 * The files READY lists, one name per line (lib/snapshot writes it so:
 * exactly those are shipped). @return 1 and the list, 0 if READY is empty
 * (then the directory listing decides), -EINVAL (a listed name is not a
 * plain file of the entry: the entry is inconsistent), -errno.
 */
static int ready_list(const char *dir, char ***out, size_t *n)
{
	char p[2048], *buf, *line, *save = NULL;
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	ssize_t r;
	int fd, rc = 1;

	snprintf(p, sizeof(p), "%s/%s", dir, KC_STORE_READY);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(READY_MAX + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	r = read(fd, buf, READY_MAX + 1);
	close(fd);
	if (r < 0 || (size_t)r > READY_MAX) {
		free(buf);
		return r < 0 ? -EIO : -EINVAL;
	}
	buf[r] = '\0';
	for (line = strtok_r(buf, "\r\n", &save); line != NULL && rc == 1; line = strtok_r(NULL, "\r\n", &save)) {
		struct stat st;

		if (line[0] == '\0')
			continue;
		if (line[0] == '.' || strchr(line, '/') != NULL || strcmp(line, KC_STORE_READY) == 0 ||
		    strcmp(line, KC_STORE_FAILED) == 0 ||
		    snprintf(p, sizeof(p), "%s/%s", dir, line) >= (int)sizeof(p) ||
		    lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
			rc = -EINVAL;
			break;
		}
		if (push_name(&v, &cnt, &cap, line) != 0)
			rc = -ENOMEM;
	}
	free(buf);
	if (rc != 1 || cnt == 0) {
		for (size_t i = 0; i < cnt; i++)
			free(v[i]);
		free(v);
		return rc == 1 ? 0 : rc;
	}
	*out = v;
	*n = cnt;
	return 1;
}

/* Files to send in an entry: those READY lists, or (empty READY) every
 * regular file that is not hidden and not one of our markers. */
static int entry_files(const char *dir, char ***out, size_t *n)
{
	DIR *d;
	struct dirent *e;
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = ready_list(dir, out, n);
	if (rc != 0)
		return rc > 0 ? 0 : rc;
	d = opendir(dir);
	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char p[2048];
		struct stat st;

		if (e->d_name[0] == '.' || strcmp(e->d_name, KC_STORE_READY) == 0 ||
		    strcmp(e->d_name, KC_STORE_FAILED) == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (push_name(&v, &cnt, &cap, e->d_name) != 0)
			goto nomem;
	}
	closedir(d);
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), file_cmp);
	*out = v;
	*n = cnt;
	return 0;
nomem:
	for (size_t i = 0; i < cnt; i++)
		free(v[i]);
	free(v);
	closedir(d);
	return -ENOMEM;
}

/* Entry and file names become object names (and JSON strings in the GCS
 * metadata): printable, and none of the characters GCS advises against. */
static bool obj_name_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || strchr("\"\\#?[]*", *s) != NULL)
			return false;
	return true;
}

static void mark_failed(struct kc_uploader *u, const char *edir, const char *msg)
{
	char p[2048];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", edir, KC_STORE_FAILED);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, msg, strlen(msg)) < 0 || write(fd, "\n", 1) < 0 || fsync(fd) != 0)
			kc_store_log(&u->ctx, KC_STORE_LOG_ERR, "spool %s: cannot write FAILED", edir);
		close(fd);
	}
	kc_store_fsync_dir(edir);
}

/* The object folder of a spool entry: the run that first tried to ship it
 * records its own folder in .objdir; every later attempt, in this run or
 * after a restart (new run id), reuses it, so one snapshot never ends up
 * split across two folders (a resumed GCS session would finish the old name). */
static int entry_objdir(struct kc_uploader *u, const char *edir, char *out, size_t cap)
{
	char path[1500];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "%s/.objdir", edir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, out, cap - 1);
		close(fd);
	}
	if (n > 0) {
		out[n] = '\0';
		return 0;
	}
	snprintf(out, cap, "%s", u->objdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, out, strlen(out)) != (ssize_t)strlen(out) || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		return -EIO;
	}
	close(fd);
	return kc_store_fsync_dir(edir);
}

/* Upload one entry. @return 0 (removed from the spool), -EAGAIN, -EACCES,
 * -EIO (marked FAILED), -ECANCELED. */
static int upload_entry(struct kc_uploader *u, const char *name)
{
	struct kc_store_ctx *ctx = &u->ctx;
	char edir[1400], done[2400], object[3000], objdir[1400];
	char **files;
	size_t nf;
	struct kc_err err = { "" };
	int rc;

	snprintf(edir, sizeof(edir), "%s/%s", u->spool, name);
	if ((rc = entry_files(edir, &files, &nf)) != 0) {
		if (rc == -EINVAL) {
			/* READY names a file that is not there: never ship a part. */
			kc_err_set(&err, -EIO, "spool entry %s: READY lists a missing or invalid file", name);
			KC_STAT_ADD(ctx, fail_permanent, 1);
			set_err(u, &err);
			mark_failed(u, edir, err.msg);
			kc_store_log(ctx, KC_STORE_LOG_ERR, "%s; entry kept in the spool and marked FAILED", err.msg);
			return -EIO;
		}
		kc_err_set(&err, -EAGAIN, "spool entry %s: %s", name, strerror(-rc));
		set_err(u, &err);
		return -EAGAIN;
	}
	rc = entry_objdir(u, edir, objdir, sizeof(objdir));
	if (rc < 0)
		kc_err_set(&err, -EAGAIN, "spool entry %s: cannot record its object folder: %s", name, strerror(-rc));
	for (size_t i = 0; i < nf && rc == 0; i++) {
		struct stat st;
		char src[2048];

		snprintf(done, sizeof(done), "%s/.done.%s", edir, files[i]);
		if (access(done, F_OK) == 0)
			continue; /* confirmed in an earlier run */
		snprintf(src, sizeof(src), "%s/%s", edir, files[i]);
		if (!obj_name_ok(name) || !obj_name_ok(files[i])) {
			rc = kc_err_set(&err, -EIO, "spool entry %s: file name '%s' has a control or reserved character (\" \\ # ? [ ] *)",
					name, files[i]);
			break;
		}
		if (snprintf(object, sizeof(object), "%s/%s/%s", objdir, name, files[i]) >= (int)sizeof(object)) {
			rc = kc_err_set(&err, -EIO, "spool entry %s: object name too long", name);
			break;
		}
		switch (ctx->url.kind) {
		case KC_STORE_GCS:
			rc = kc_gcs_put(ctx, edir, files[i], object, &err);
			break;
		case KC_STORE_S3:
			rc = kc_s3_put(ctx, edir, files[i], object, &err);
			break;
		default:
			rc = kc_file_put(ctx, edir, files[i], object, &err);
			break;
		}
		if (rc == 0) {
			int fd = open(done, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

			if (fd >= 0) {
				fsync(fd);
				close(fd);
			}
			kc_store_fsync_dir(edir);
			KC_STAT_ADD(ctx, files_uploaded, 1);
			if (stat(src, &st) == 0)
				KC_STAT_ADD(ctx, bytes_uploaded, (uint64_t)st.st_size);
			kc_store_log(ctx, KC_STORE_LOG_INFO, "uploaded %s", object);
		}
	}
	for (size_t i = 0; i < nf; i++)
		free(files[i]);
	free(files);
	switch (rc) {
	case 0:
		if ((rc = kc_spool_remove(u->spool, name)) != 0)
			kc_store_log(ctx, KC_STORE_LOG_WARN, "spool entry %s: uploaded but not removed: %s",
				     name, strerror(-rc));
		KC_STAT_ADD(ctx, entries_uploaded, 1);
		kc_store_log(ctx, KC_STORE_LOG_INFO, "spool entry %s: every file confirmed; removed", name);
		return 0;
	case -ECANCELED:
		return rc;
	case -EACCES:
		KC_STAT_ADD(ctx, fail_auth, 1);
		set_err(u, &err);
		kc_store_log(ctx, KC_STORE_LOG_ERR, "%s; uploads paused, retried later (spool kept)", err.msg);
		return rc;
	case -EAGAIN:
		KC_STAT_ADD(ctx, fail_transient, 1);
		set_err(u, &err);
		kc_store_log(ctx, KC_STORE_LOG_WARN, "%s; entry %s stays in the spool, next pass later", err.msg, name);
		return rc;
	default:
		KC_STAT_ADD(ctx, fail_permanent, 1);
		set_err(u, &err);
		mark_failed(u, edir, err.msg);
		kc_store_log(ctx, KC_STORE_LOG_ERR, "%s; entry %s kept in the spool and marked FAILED", err.msg, name);
		return -EIO;
	}
}

static void wait_kick(struct kc_uploader *u, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&u->mu);
	while (!u->kicked && !u->stopping && !atomic_load(&u->abort))
		if (pthread_cond_timedwait(&u->cv, &u->mu, &ts) != 0)
			break;
	u->kicked = false;
	pthread_mutex_unlock(&u->mu);
}

/* After a credential or bucket error the next try waits auth_retry_ms,
 * doubling per failure up to this: an operator may fix the key, the bucket or
 * the clock without restarting the recorder, and a refusing server is not
 * hammered meanwhile. */
#define AUTH_RETRY_DEFAULT_MS (60u * 1000)
#define AUTH_RETRY_MAX_MS (60u * 60 * 1000)

static void *run(void *arg)
{
	struct kc_uploader *u = arg;
	bool halted = false;
	uint32_t first_retry_ms = u->cfg.auth_retry_ms ? u->cfg.auth_retry_ms : AUTH_RETRY_DEFAULT_MS;
	uint64_t retry_at_us = 0, retry_ms = first_retry_ms;

	kc_spool_cleanup(u->spool);
	for (;;) {
		struct kc_spool_ent *v = NULL;
		size_t n = 0, ready = 0;
		uint64_t total = 0;
		const char *pick = NULL;
		bool transient = false;
		int rc;

		if (atomic_load(&u->abort))
			break;
		if (halted && kc_now_us() >= retry_at_us) {
			kc_store_log(&u->ctx, KC_STORE_LOG_INFO, "retrying uploads after the credential/bucket error");
			halted = false;
		}
		if (kc_spool_scan(u->spool, &v, &n, &total) == 0) {
			for (size_t i = 0; i < n; i++) {
				ready += v[i].ready;
				if (pick == NULL && v[i].ready && !v[i].failed)
					pick = v[i].name;
			}
		}
		pthread_mutex_lock(&u->mu);
		u->st.spool_entries = ready;
		u->st.spool_bytes = total;
		u->st.halted = halted;
		if (halted || pick == NULL) {
			u->idle = true;
			u->passes++;
			pthread_cond_broadcast(&u->cv);
			if (u->stopping) {
				pthread_mutex_unlock(&u->mu);
				free(v);
				break;
			}
			pthread_mutex_unlock(&u->mu);
			free(v);
			wait_kick(u, halted ? KC_MIN(u->cfg.rescan_ms, (retry_at_us - kc_now_us()) / 1000 + 1)
					    : u->cfg.rescan_ms);
			continue;
		}
		u->idle = false;
		snprintf(u->busy, sizeof(u->busy), "%s", pick);
		pthread_mutex_unlock(&u->mu);

		/* One entry per iteration, then rescan: new entries, quota drops and
		 * kicks are seen between entries. */
		rc = upload_entry(u, pick);
		pthread_mutex_lock(&u->mu);
		u->busy[0] = '\0';
		pthread_mutex_unlock(&u->mu);
		free(v);
		if (rc == -ECANCELED)
			break;
		if (rc == -EACCES) {
			halted = true;
			retry_at_us = kc_now_us() + (uint64_t)retry_ms * 1000;
			kc_store_log(&u->ctx, KC_STORE_LOG_WARN, "next upload attempt in %llu ms",
				     (unsigned long long)retry_ms);
			retry_ms = KC_MIN(retry_ms * 2, KC_MAX(AUTH_RETRY_MAX_MS, first_retry_ms));
		} else if (rc == 0) {
			retry_ms = first_retry_ms;
		}
		transient = rc == -EAGAIN;
		if (transient) {
			/* The destination is unreachable for now: let the next pass come
			 * after a rescan interval (or a kick), without spinning. */
			pthread_mutex_lock(&u->mu);
			u->idle = false;
			pthread_mutex_unlock(&u->mu);
			wait_kick(u, u->cfg.rescan_ms);
		}
	}
	pthread_mutex_lock(&u->mu);
	u->exited = true;
	u->idle = true;
	u->st.halted = halted;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

struct kc_uploader *kc_uploader_start(const struct kc_store_cfg *cfg, const char *spool_dir,
				      struct kc_err *err)
{
	struct kc_uploader *u;
	int rc;

	if ((rc = kc_store_cfg_validate(cfg, err)) != 0) {
		errno = -rc;
		return NULL;
	}
	if (strlen(spool_dir) >= sizeof(u->spool) - 300) {
		kc_err_set(err, -EINVAL, "spool dir %s: too long", spool_dir);
		errno = EINVAL;
		return NULL;
	}
	if (mkdir(spool_dir, 0700) != 0 && errno != EEXIST) {
		kc_err_set(err, -EIO, "spool dir %s: %s", spool_dir, strerror(errno));
		errno = EIO;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		kc_err_set(err, -ENOMEM, "uploader: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	u->cfg = *cfg;
	snprintf(u->spool, sizeof(u->spool), "%s", spool_dir);
	atomic_init(&u->abort, 0);
	pthread_mutex_init(&u->mu, NULL);
	pthread_cond_init(&u->cv, NULL);
	if ((rc = kc_store_ctx_init(&u->ctx, &u->cfg, u->cfg.dest, &u->abort, err)) != 0)
		goto fail;
	u->ctx.stats = &u->st;
	u->ctx.mu = &u->mu;
	if (kc_store_object_dir(&u->cfg, &u->ctx.url, u->objdir, sizeof(u->objdir)) != 0) {
		rc = kc_err_set(err, -EINVAL, "storage: object prefix too long");
		kc_store_ctx_fini(&u->ctx);
		goto fail;
	}
	if ((rc = pthread_create(&u->th, NULL, run, u)) != 0) {
		kc_err_set(err, -rc, "uploader: pthread_create: %s", strerror(rc));
		kc_store_ctx_fini(&u->ctx);
		rc = -rc;
		goto fail;
	}
	return u;
fail:
	pthread_cond_destroy(&u->cv);
	pthread_mutex_destroy(&u->mu);
	kc_store_cfg_wipe(&u->cfg);
	free(u);
	errno = rc == -ENOMEM ? ENOMEM : rc == -EINVAL ? EINVAL : EIO;
	return NULL;
}

void kc_uploader_kick(struct kc_uploader *u)
{
	if (u == NULL)
		return;
	pthread_mutex_lock(&u->mu);
	u->kicked = true;
	u->idle = false;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
}

int kc_uploader_admit(struct kc_uploader *u, uint64_t bytes, struct kc_err *err)
{
	char busy[256];

	pthread_mutex_lock(&u->mu);
	snprintf(busy, sizeof(busy), "%s", u->busy);
	pthread_mutex_unlock(&u->mu);
	/* The uploader may pick an entry meanwhile; kc_spool_remove's rename
	 * then makes its upload fail locally (transient) and nothing is lost
	 * that the policy did not choose to drop. */
	return kc_spool_admit(u->spool, &u->cfg, bytes, busy[0] ? busy : NULL, &u->st, &u->mu, err);
}

void kc_uploader_stats(struct kc_uploader *u, struct kc_store_stats *out)
{
	pthread_mutex_lock(&u->mu);
	*out = u->st;
	pthread_mutex_unlock(&u->mu);
}

int kc_uploader_wait_idle(struct kc_uploader *u, uint32_t timeout_ms, struct kc_err *err)
{
	struct timespec ts;
	uint64_t start;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(timeout_ms / 1000);
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&u->mu);
	/* Require a full pass that starts after this call. */
	start = u->passes;
	u->kicked = true;
	u->idle = false;
	pthread_cond_broadcast(&u->cv);
	while (!u->exited && !(u->idle && u->passes > start)) {
		int w = timeout_ms ? pthread_cond_timedwait(&u->cv, &u->mu, &ts)
				   : pthread_cond_wait(&u->cv, &u->mu);

		if (w == ETIMEDOUT) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	if (rc == 0 && u->st.spool_entries > 0)
		rc = -EIO;
	if (rc != 0 && err != NULL)
		*err = u->last_err;
	if (rc == -ETIMEDOUT)
		kc_err_set(err, rc, "uploader: spool not empty after %u ms (%llu entries left; last error: %s)",
			   timeout_ms, (unsigned long long)u->st.spool_entries,
			   u->last_err.msg[0] ? u->last_err.msg : "none");
	pthread_mutex_unlock(&u->mu);
	return rc;
}

int kc_uploader_stop(struct kc_uploader *u, uint32_t timeout_ms)
{
	struct timespec ts;
	uint64_t left;

	if (u == NULL)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(timeout_ms / 1000);
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&u->mu);
	u->stopping = true;
	pthread_cond_broadcast(&u->cv);
	while (!u->exited)
		if (pthread_cond_timedwait(&u->cv, &u->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&u->mu);
	/* Out of time: abort the transfer in flight (it resumes next start). */
	atomic_store(&u->abort, 1);
	pthread_join(u->th, NULL);
	kc_store_ctx_fini(&u->ctx);
	{
		uint64_t e = 0, b = 0;

		left = kc_store_spool_usage(u->spool, &e, &b) == 0 ? e : 1;
	}
	pthread_cond_destroy(&u->cv);
	pthread_mutex_destroy(&u->mu);
	kc_store_cfg_wipe(&u->cfg);
	free(u);
	return left == 0 ? 0 : -EAGAIN;
}
