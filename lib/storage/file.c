/* file:// backend: copy into a local or mounted directory with the same
 * crash-safe steps as the spool (temp file, fsync, rename, fsync dir), then
 * confirm by reading the copy back and comparing CRC32C. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage_internal.h"

/* mkdir -p for the directory part of @p path (mode 0700). */
static int mkdirs(char *path)
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

static int copy_fd(int in, int out, uint64_t size)
{
	static const size_t bufsz = 1 << 16;
	char *buf = malloc(bufsz);
	uint64_t off = 0;
	int rc = 0;

	if (buf == NULL)
		return -ENOMEM;
	while (off < size && rc == 0) {
		ssize_t r = pread(in, buf, KC_MIN(bufsz, size - off), (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			break;
		}
		/* A short write is not success: loop until every byte is out. */
		for (ssize_t w = 0; w < r;) {
			ssize_t x = write(out, buf + w, (size_t)(r - w));

			if (x < 0 && errno == EINTR)
				continue;
			if (x < 0) {
				rc = -errno;
				break;
			}
			w += x;
		}
		off += (uint64_t)r;
	}
	free(buf);
	return rc;
}

int kc_file_put(struct kc_store_ctx *ctx, const char *entry_dir, const char *file,
		const char *object, struct kc_err *err)
{
	char src[2048], dst[3200], tmp[3300], dir[3200];
	struct stat sb;
	uint32_t crc_src, crc_dst;
	uint64_t dsize;
	int in = -1, out = -1, rc;

	if (snprintf(src, sizeof(src), "%s/%s", entry_dir, file) >= (int)sizeof(src) ||
	    snprintf(dst, sizeof(dst), "%s/%s", ctx->url.path, object) >= (int)sizeof(dst) ||
	    snprintf(tmp, sizeof(tmp), "%s.kc-tmp", dst) >= (int)sizeof(tmp))
		return kc_err_set(err, -EIO, "file dest: path too long");
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &sb) != 0) {
		rc = kc_err_set(err, -EIO, "file dest: cannot read %s: %s", src, strerror(errno));
		goto out;
	}
	if ((rc = kc_fd_digests(in, 0, (uint64_t)sb.st_size, &crc_src, NULL, NULL)) != 0) {
		rc = kc_err_set(err, -EIO, "file dest: cannot read %s: %s", src, strerror(-rc));
		goto out;
	}
	if ((rc = mkdirs(dst)) != 0) {
		/* The destination directory missing or read-only: retry later. */
		rc = kc_err_set(err, -EAGAIN, "file dest %s: mkdir: %s", dst, strerror(-rc));
		goto out;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = kc_err_set(err, -EAGAIN, "file dest %s: %s", tmp, strerror(errno));
		goto out;
	}
	if ((rc = copy_fd(in, out, (uint64_t)sb.st_size)) != 0 || fsync(out) != 0) {
		rc = kc_err_set(err, -EAGAIN, "file dest %s: write: %s", tmp, strerror(rc ? -rc : errno));
		unlink(tmp);
		goto out;
	}
	close(out);
	out = -1;
	if (rename(tmp, dst) != 0) {
		rc = kc_err_set(err, -EAGAIN, "file dest %s: rename: %s", dst, strerror(errno));
		unlink(tmp);
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s", dst);
	*strrchr(dir, '/') = '\0';
	kc_store_fsync_dir(dir);
	/* Confirm from what is on the destination's disk, not from our buffers. */
	if ((rc = kc_file_digests(dst, &dsize, &crc_dst, NULL, NULL)) != 0) {
		rc = kc_err_set(err, -EAGAIN, "file dest %s: read back: %s", dst, strerror(-rc));
		goto out;
	}
	if (dsize != (uint64_t)sb.st_size || crc_dst != crc_src) {
		KC_STAT_ADD(ctx, fail_integrity, 1);
		rc = kc_err_set(err, -EAGAIN, "file dest %s: read back %" PRIu64 " bytes crc32c %08x, wrote %" PRIu64 " %08x",
				dst, dsize, crc_dst, (uint64_t)sb.st_size, crc_src);
		goto out;
	}
	rc = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}
