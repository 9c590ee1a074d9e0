/* Buffered, optionally gzip-compressed output to a file descriptor. Every
 * byte is written or the error is reported: no short write is success. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcapio_internal.h"

int pcapio_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int sink_init(struct sink *s, int fd, size_t cap, bool gz, int level)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->gz = gz;
	s->cap = cap < 4096 ? 4096 : cap;
	s->buf = malloc(s->cap);
	if (s->buf == NULL)
		return -ENOMEM;
	if (gz) {
		/* windowBits 15 + 16 = gzip wrapper (RFC 1952), not zlib. */
		if (deflateInit2(&s->zs, level == 0 ? Z_DEFAULT_COMPRESSION : level,
				 Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			free(s->buf);
			s->buf = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

static int drain(struct sink *s)
{
	int rc;

	if (s->len == 0)
		return 0;
	rc = pcapio_write_all(s->fd, s->buf, s->len);
	if (rc < 0)
		return s->err = rc;
	s->bytes_out += s->len;
	s->len = 0;
	return 0;
}

/* Run deflate over the input until it is consumed (or, with Z_FINISH, until
 * the stream end is written), draining the output buffer as it fills. */
static int deflate_some(struct sink *s, const void *p, size_t n, int flush)
{
	s->zs.next_in = (Bytef *)(uintptr_t)p;
	s->zs.avail_in = (uInt)n;
	for (;;) {
		int zrc;

		s->zs.next_out = s->buf + s->len;
		s->zs.avail_out = (uInt)(s->cap - s->len);
		zrc = deflate(&s->zs, flush);
		s->len = s->cap - s->zs.avail_out;
		if (zrc == Z_STREAM_ERROR)
			return s->err = -EIO;
		if (s->len == s->cap && drain(s) < 0)
			return s->err;
		if (flush == Z_FINISH) {
			if (zrc == Z_STREAM_END)
				return 0;
		} else if (s->zs.avail_in == 0 && s->zs.avail_out != 0) {
			return 0;
		}
	}
}

int sink_write(struct sink *s, const void *p, size_t n)
{
	if (s->err)
		return s->err;
	s->bytes_in += n;
	if (s->gz) {
		/* avail_in is a uInt: feed huge inputs in pieces */
		const uint8_t *b = p;

		while (n > 0) {
			size_t k = KC_MIN(n, (size_t)1 << 30);

			if (deflate_some(s, b, k, Z_NO_FLUSH) < 0)
				return s->err;
			b += k;
			n -= k;
		}
		return 0;
	}
	if (s->len + n > s->cap) {
		if (drain(s) < 0)
			return s->err;
		if (n >= s->cap) {
			int rc = pcapio_write_all(s->fd, p, n);

			if (rc < 0)
				return s->err = rc;
			s->bytes_out += n;
			return 0;
		}
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

int sink_flush(struct sink *s)
{
	if (s->err)
		return s->err;
	return drain(s);
}

int sink_finish(struct sink *s)
{
	if (s->err)
		return s->err;
	if (s->gz && deflate_some(s, NULL, 0, Z_FINISH) < 0)
		return s->err;
	return drain(s);
}

void sink_free(struct sink *s)
{
	if (s->gz && s->buf != NULL)
		deflateEnd(&s->zs);
	free(s->buf);
	s->buf = NULL;
}
