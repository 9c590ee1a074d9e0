/* The on-disk spool: listing entries, sizing them, removing them
 * crash-safely, and the quota policy. Layout: kc_storage.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage_internal.h"

int kc_store_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int kc_store_rm_entry(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[2048];
	int rc = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (unlink(p) != 0 && errno != ENOENT) {
			/* A stray sub-directory: remove it one level deep. */
			if (errno == EISDIR || errno == EPERM) {
				int r = kc_store_rm_entry(p);

				if (r != 0)
					rc = r;
			} else {
				rc = -errno;
			}
		}
	}
	closedir(d);
	if (rmdir(dir) != 0 && errno != ENOENT)
		rc = rc ? rc : -errno;
	return rc;
}

static uint64_t dir_bytes(const char *dir, bool *ready, bool *failed)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	char p[2048];
	uint64_t sum = 0;

	*ready = *failed = false;
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) >= (int)sizeof(p) ||
		    lstat(p, &st) != 0)
			continue;
		if (S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
		if (strcmp(e->d_name, KC_STORE_READY) == 0)
			*ready = true;
		else if (strcmp(e->d_name, KC_STORE_FAILED) == 0)
			*failed = true;
	}
	closedir(d);
	return sum;
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kc_spool_ent *)a)->name, ((const struct kc_spool_ent *)b)->name);
}

int kc_spool_scan(const char *dir, struct kc_spool_ent **out, size_t *n, uint64_t *total)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct kc_spool_ent *v = NULL;
	size_t cnt = 0, cap = 0;
	uint64_t sum = 0;

	*out = NULL;
	*n = 0;
	*total = 0;
	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char p[2048];
		struct stat st;
		bool ready, failed;
		uint64_t b;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strlen(e->d_name) >= sizeof(v->name))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (lstat(p, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		/* Hidden directories are entries being built (.tmp-*, whose size the
		 * producer passes to admit) or being deleted (.del-*): not counted. */
		if (e->d_name[0] == '.')
			continue;
		b = dir_bytes(p, &ready, &failed);
		sum += b;
		if (cnt == cap) {
			struct kc_spool_ent *nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

			if (nv == NULL) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		snprintf(v[cnt].name, sizeof(v[cnt].name), "%s", e->d_name);
		v[cnt].bytes = b;
		v[cnt].ready = ready;
		v[cnt].failed = failed;
		cnt++;
	}
	closedir(d);
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), ent_cmp);
	*out = v;
	*n = cnt;
	*total = sum;
	return 0;
}

int kc_spool_remove(const char *dir, const char *name)
{
	char from[2048], to[2048];

	if (snprintf(from, sizeof(from), "%s/%s", dir, name) >= (int)sizeof(from) ||
	    snprintf(to, sizeof(to), "%s/.del-%s", dir, name) >= (int)sizeof(to))
		return -ENAMETOOLONG;
	/* The rename is the commit point: after it the entry is gone for every
	 * reader; the deletion that follows may be redone at the next start. */
	if (rename(from, to) != 0)
		return -errno;
	kc_store_fsync_dir(dir);
	return kc_store_rm_entry(to);
}

void kc_spool_cleanup(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[2048];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, ".del-", 5) != 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		kc_store_rm_entry(p);
	}
	closedir(d);
}

int kc_spool_admit(const char *dir, const struct kc_store_cfg *cfg, uint64_t bytes,
		   const char *busy, struct kc_store_stats *st, pthread_mutex_t *mu,
		   struct kc_err *err)
{
	struct kc_spool_ent *v;
	size_t n;
	uint64_t total;
	int rc = kc_spool_scan(dir, &v, &n, &total);

	if (rc != 0)
		return kc_err_set(err, -EIO, "spool %s: %s", dir, strerror(-rc));
	if (total + bytes <= cfg->quota_bytes) {
		free(v);
		return 0;
	}
	if (cfg->quota_policy == KC_STORE_QUOTA_DROP_OLDEST) {
		/* Oldest complete entries first; never the one being uploaded and
		 * never one still being written (no READY yet). */
		for (size_t i = 0; i < n && total + bytes > cfg->quota_bytes; i++) {
			if (!v[i].ready || (busy != NULL && strcmp(busy, v[i].name) == 0))
				continue;
			if (kc_spool_remove(dir, v[i].name) != 0)
				continue;
			total -= KC_MIN(total, v[i].bytes);
			if (st != NULL) {
				if (mu)
					pthread_mutex_lock(mu);
				st->quota_dropped++;
				st->quota_dropped_bytes += v[i].bytes;
				if (mu)
					pthread_mutex_unlock(mu);
			}
			if (cfg->log != NULL) {
				char msg[512];

				snprintf(msg, sizeof(msg), "spool quota %llu bytes: dropped oldest entry %s (%llu bytes) [policy drop-oldest]",
					 (unsigned long long)cfg->quota_bytes, v[i].name,
					 (unsigned long long)v[i].bytes);
				cfg->log(cfg->log_arg, KC_STORE_LOG_WARN, msg);
			}
		}
		if (total + bytes <= cfg->quota_bytes) {
			free(v);
			return 0;
		}
	}
	free(v);
	if (st != NULL) {
		if (mu)
			pthread_mutex_lock(mu);
		st->quota_refused++;
		if (mu)
			pthread_mutex_unlock(mu);
	}
	rc = kc_err_set(err, -ENOSPC, "spool quota %llu bytes: %llu used, new entry of %llu bytes refused [policy %s]",
			(unsigned long long)cfg->quota_bytes, (unsigned long long)total,
			(unsigned long long)bytes,
			cfg->quota_policy == KC_STORE_QUOTA_DROP_OLDEST ? "drop-oldest" : "refuse-new");
	if (cfg->log != NULL && err != NULL)
		cfg->log(cfg->log_arg, KC_STORE_LOG_WARN, err->msg);
	return rc;
}

int kc_store_spool_admit(const char *spool_dir, const struct kc_store_cfg *cfg, uint64_t bytes,
			 struct kc_store_stats *stats, struct kc_err *err)
{
	return kc_spool_admit(spool_dir, cfg, bytes, NULL, stats, NULL, err);
}

int kc_store_spool_usage(const char *spool_dir, uint64_t *entries, uint64_t *bytes)
{
	struct kc_spool_ent *v;
	size_t n, ready = 0;
	int rc = kc_spool_scan(spool_dir, &v, &n, bytes);

	if (rc != 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		ready += v[i].ready;
	*entries = ready;
	free(v);
	return 0;
}
