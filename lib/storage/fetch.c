/* Offline fetch for the query tool: list everything under a destination URL
 * and download it into a local directory with the same credentials. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage_internal.h"

struct names {
	char **v;
	size_t n, cap;
	size_t skip; /* strlen(prefix) to strip */
};

static int collect(void *arg, const char *name, uint64_t size)
{
	struct names *ns = arg;

	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 64;
		char **v = realloc(ns->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		ns->v = v;
		ns->cap = cap;
	}
	if ((ns->v[ns->n] = strdup(name)) == NULL)
		return -ENOMEM;
	ns->n++;
	return 0;
}

/* An object name below the prefix is written under local_dir only if it
 * cannot escape it: no absolute path, no empty, "." or ".." component. */
static bool rel_ok(const char *rel)
{
	const char *p = rel;

	if (rel[0] == '\0' || rel[0] == '/')
		return false;
	while (*p) {
		size_t l = strcspn(p, "/");

		if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		for (size_t i = 0; i < l; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return false;
		p += l;
		if (*p == '/') {
			p++;
			if (*p == '\0')
				return false; /* "dir/" placeholder objects */
		}
	}
	return true;
}

static int mkparents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			int e = -errno;

			*p = '/';
			return e;
		}
		*p = '/';
	}
	return 0;
}

static int fetch_file_tree(const char *src, const char *dst, int *count, struct kc_err *err)
{
	DIR *d = opendir(src);
	struct dirent *e;
	int rc = 0;

	if (d == NULL)
		return kc_err_set(err, errno == ENOENT ? -ENOENT : -EIO, "fetch %s: %s", src, strerror(errno));
	if (mkdir(dst, 0700) != 0 && errno != EEXIST) {
		closedir(d);
		return kc_err_set(err, -EIO, "fetch: mkdir %s: %s", dst, strerror(errno));
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char s[2048], t[2048], tmp[2100];
		struct stat st;

		if (e->d_name[0] == '.')
			continue; /* ".", "..", and our own .kc-tmp files */
		snprintf(s, sizeof(s), "%s/%s", src, e->d_name);
		snprintf(t, sizeof(t), "%s/%s", dst, e->d_name);
		if (lstat(s, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			rc = fetch_file_tree(s, t, count, err);
		} else if (S_ISREG(st.st_mode) && strstr(e->d_name, ".kc-tmp") == NULL) {
			int in = open(s, O_RDONLY | O_CLOEXEC), out;
			char buf[65536];
			ssize_t r;

			snprintf(tmp, sizeof(tmp), "%s.kc-tmp", t);
			out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			while (in >= 0 && out >= 0 && (r = read(in, buf, sizeof(buf))) > 0)
				if (write(out, buf, (size_t)r) != r) {
					rc = -EIO;
					break;
				}
			if (in < 0 || out < 0 || fsync(out) != 0)
				rc = -EIO;
			if (in >= 0)
				close(in);
			if (out >= 0)
				close(out);
			if (rc == 0 && rename(tmp, t) != 0)
				rc = -EIO;
			if (rc != 0) {
				unlink(tmp);
				rc = kc_err_set(err, -EIO, "fetch %s: copy failed", s);
			} else {
				(*count)++;
			}
		}
	}
	closedir(d);
	return rc;
}

int kc_store_fetch(const char *url, const char *local_dir, const struct kc_store_cfg *cfg,
		   struct kc_err *err)
{
	struct kc_store_ctx ctx;
	struct names ns = { 0 };
	char prefix[1100];
	int rc, count = 0;

	if (mkdir(local_dir, 0700) != 0 && errno != EEXIST)
		return kc_err_set(err, -EIO, "fetch: mkdir %s: %s", local_dir, strerror(errno));
	if ((rc = kc_store_ctx_init(&ctx, cfg, url, NULL, err)) != 0)
		return rc == -EINVAL ? rc : -EIO;
	if (ctx.url.kind == KC_STORE_FILE) {
		rc = fetch_file_tree(ctx.url.path, local_dir, &count, err);
		kc_store_ctx_fini(&ctx);
		return rc != 0 ? rc : count;
	}
	snprintf(prefix, sizeof(prefix), "%s%s", ctx.url.prefix, ctx.url.prefix[0] ? "/" : "");
	ns.skip = strlen(prefix);
	rc = ctx.url.kind == KC_STORE_GCS ? kc_gcs_list(&ctx, prefix, collect, &ns, err)
					  : kc_s3_list(&ctx, prefix, collect, &ns, err);
	if (rc == -ENOMEM)
		kc_err_set(err, rc, "fetch: out of memory");
	for (size_t i = 0; rc >= 0 && i < ns.n; i++) {
		const char *rel = ns.v[i] + ns.skip;
		char dst[4096], tmp[4200];

		if (strncmp(ns.v[i], prefix, ns.skip) != 0 || !rel_ok(rel))
			continue; /* never write outside local_dir */
		if (snprintf(dst, sizeof(dst), "%s/%s", local_dir, rel) >= (int)sizeof(dst)) {
			rc = kc_err_set(err, -EIO, "fetch: local path too long");
			break;
		}
		snprintf(tmp, sizeof(tmp), "%s.kc-tmp", dst);
		if (mkparents(dst) != 0) {
			rc = kc_err_set(err, -EIO, "fetch: mkdir for %s: %s", dst, strerror(errno));
			break;
		}
		rc = ctx.url.kind == KC_STORE_GCS ? kc_gcs_get(&ctx, ns.v[i], tmp, err)
						  : kc_s3_get(&ctx, ns.v[i], tmp, err);
		if (rc == 0 && rename(tmp, dst) != 0)
			rc = kc_err_set(err, -EIO, "fetch: rename %s: %s", dst, strerror(errno));
		if (rc != 0)
			unlink(tmp);
		else
			count++;
	}
	for (size_t i = 0; i < ns.n; i++)
		free(ns.v[i]);
	free(ns.v);
	kc_store_ctx_fini(&ctx);
	if (rc < 0)
		return rc == -EAGAIN || rc == -ECANCELED || rc == -ENOMEM ? -EIO : rc;
	return count;
}
