/* File-system helpers for the snapshot job: durable writes and cleanup. */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot_internal.h"

int snap_mkdir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return snap_is_dir(path) ? 0 : -ENOTDIR;
	return -errno;
}

int snap_fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int snap_write_file(const char *path, const void *data, size_t len, bool sync)
{
	const char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), rc = 0;

	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			break;
		}
		p += w;
		len -= (size_t)w;
	}
	if (rc == 0 && sync && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

bool snap_is_dir(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

bool snap_exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int snap_list(const char *dir, char ***names, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t cnt = 0, cap = 0;

	*names = NULL;
	*n = 0;
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (cnt == cap) {
			char **nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

			if (nv == NULL)
				goto nomem;
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		v[cnt] = strdup(de->d_name);
		if (v[cnt] == NULL)
			goto nomem;
		cnt++;
	}
	closedir(d);
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), cmp_str);
	*names = v;
	*n = cnt;
	return 0;
nomem:
	closedir(d);
	snap_names_free(v, cnt);
	return -ENOMEM;
}

void snap_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Depth-first removal; never follows symlinks (lstat, unlink). Our trees
 * are at most three levels deep. */
int snap_rm_rf(const char *path)
{
	char **names;
	size_t n;
	int rc;

	if (!snap_is_dir(path))
		return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
	rc = snap_list(path, &names, &n);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *child;

		if (asprintf(&child, "%s/%s", path, names[i]) < 0) {
			rc = -ENOMEM;
			break;
		}
		rc = snap_rm_rf(child);
		free(child);
	}
	snap_names_free(names, n);
	if (rc == 0 && rmdir(path) < 0 && errno != ENOENT)
		rc = -errno;
	return rc;
}

int snap_du(const char *path, uint64_t *bytes)
{
	struct stat sb;
	char **names;
	size_t n;
	int rc;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISREG(sb.st_mode)) {
		*bytes += (uint64_t)sb.st_size;
		return 0;
	}
	if (!S_ISDIR(sb.st_mode))
		return 0;
	rc = snap_list(path, &names, &n);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *child;

		if (asprintf(&child, "%s/%s", path, names[i]) < 0) {
			rc = -ENOMEM;
			break;
		}
		rc = snap_du(child, bytes);
		free(child);
	}
	snap_names_free(names, n);
	return rc;
}

char *snap_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	return rc < 0 ? NULL : s; /* s is undefined on failure */
}
