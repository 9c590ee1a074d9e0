/* Classic pcap reader that tolerates a torn last record and can give up its
 * file descriptor between reads (the merger bounds open files that way). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcapio_internal.h"

#define READER_DEFAULT_BUF (64u * 1024u)

struct kc_pcap_reader {
	int fd;            /* -1 while suspended */
	bool swap;         /* file byte order differs from ours */
	bool ns;
	bool eof;
	bool truncated;
	uint32_t linktype;
	uint64_t off;      /* file offset of buf[len] */
	uint64_t good;     /* offset after the last complete record returned */
	uint8_t *buf;
	size_t cap, len, pos;
	size_t pref;       /* buffer size to read with */
	bool done;         /* released: reads nothing more */
	char path[];       /* kept to reopen after suspend */
};

static uint32_t rd32(const struct kc_pcap_reader *r, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return r->swap ? __builtin_bswap32(v) : v;
}

static int reopen(struct kc_pcap_reader *r)
{
	r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
	return r->fd < 0 ? -errno : 0;
}

/* Make at least @need bytes available at buf[pos]; returns 1 if they are,
 * 0 if the file ends first, or a negative errno. */
static int fill(struct kc_pcap_reader *r, size_t need)
{
	if (r->len - r->pos >= need)
		return 1;
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	if (need > r->cap || r->cap < r->pref) {
		size_t nc = KC_MAX(need, r->pref);
		uint8_t *nb = realloc(r->buf, nc);

		if (nb == NULL)
			return -ENOMEM;
		r->buf = nb;
		r->cap = nc;
	}
	while (r->len < need) {
		ssize_t n;

		if (r->eof)
			return 0;
		if (r->fd < 0) {
			int rc = reopen(r);

			if (rc < 0)
				return rc;
		}
		n = pread(r->fd, r->buf + r->len, r->cap - r->len, (off_t)r->off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			r->eof = true;
			return 0;
		}
		r->len += (size_t)n;
		r->off += (uint64_t)n;
	}
	return 1;
}

/* Not kc_pcap_reader_close(): the compiler pairs that with
 * kc_pcap_reader_open() only (malloc attribute), not with calloc. */
static void reader_free(struct kc_pcap_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	free(r);
}

struct kc_pcap_reader *pcapio_reader_open(const char *path, size_t bufsize, int *rcp,
					  struct kc_err *err)
{
	size_t plen = strlen(path);
	struct kc_pcap_reader *r = calloc(1, sizeof(*r) + plen + 1);
	uint32_t magic;
	int rc;

	if (r == NULL) {
		rc = kc_err_set(err, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	r->fd = -1; /* not 0: a failure below must not close stdin */
	memcpy(r->path, path, plen + 1);
	r->pref = r->cap = bufsize < 4096 ? 4096 : bufsize;
	r->buf = malloc(r->cap);
	if (r->buf == NULL) {
		rc = kc_err_set(err, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	rc = reopen(r);
	if (rc < 0) {
		kc_err_set(err, rc, "%s: open: %s", path, strerror(-rc));
		goto fail;
	}
	rc = fill(r, KC_PCAP_FILE_HDR_LEN);
	if (rc <= 0) {
		if (rc == 0)
			rc = -EBADMSG;
		kc_err_set(err, rc, "%s: %s", path,
			   rc == -EBADMSG ? "shorter than a pcap header" : strerror(-rc));
		goto fail;
	}
	memcpy(&magic, r->buf, 4);
	switch (magic) {
	case PCAP_MAGIC_US: break;
	case PCAP_MAGIC_NS: r->ns = true; break;
	case 0xd4c3b2a1u: r->swap = true; break;
	case 0x4d3cb2a1u: r->swap = true; r->ns = true; break;
	default:
		rc = kc_err_set(err, -EBADMSG, "%s: not a classic pcap file (magic 0x%08x)",
				path, magic);
		goto fail;
	}
	r->linktype = rd32(r, r->buf + 20) & 0x0fffffffu; /* upper bits: FCS info */
	r->pos = KC_PCAP_FILE_HDR_LEN;
	r->good = KC_PCAP_FILE_HDR_LEN;
	*rcp = 0;
	return r;

fail:
	reader_free(r);
	r = NULL;
out:
	*rcp = rc;
	return NULL;
}

struct kc_pcap_reader *kc_pcap_reader_open(const char *path, struct kc_err *err)
{
	int rc;
	struct kc_pcap_reader *r = pcapio_reader_open(path, READER_DEFAULT_BUF, &rc, err);

	if (r == NULL)
		errno = -rc;
	return r;
}

int kc_pcap_reader_next(struct kc_pcap_reader *r, struct kc_pcap_rec *rec)
{
	const uint8_t *h;
	uint32_t sec, frac, caplen;
	int rc;

	if (r->truncated || r->done)
		return 0;
	rc = fill(r, KC_PCAP_REC_HDR_LEN);
	if (rc <= 0) {
		if (rc == 0 && r->len > r->pos)
			r->truncated = true; /* part of a record header */
		return rc;
	}
	h = r->buf + r->pos;
	sec = rd32(r, h);
	frac = rd32(r, h + 4);
	caplen = rd32(r, h + 8);
	if (caplen > KC_PCAP_SNAPLEN)
		return -EBADMSG;
	rc = fill(r, KC_PCAP_REC_HDR_LEN + (size_t)caplen);
	if (rc <= 0) {
		if (rc == 0)
			r->truncated = true; /* header complete, data cut */
		return rc;
	}
	h = r->buf + r->pos; /* fill() may have moved the buffer */
	rec->ts_ns = (uint64_t)sec * 1000000000u + (r->ns ? frac : (uint64_t)frac * 1000u);
	rec->caplen = caplen;
	rec->origlen = rd32(r, h + 12);
	rec->data = h + KC_PCAP_REC_HDR_LEN;
	r->pos += KC_PCAP_REC_HDR_LEN + caplen;
	r->good += KC_PCAP_REC_HDR_LEN + caplen;
	return 1;
}

bool kc_pcap_reader_truncated(const struct kc_pcap_reader *r)
{
	return r->truncated;
}

uint64_t kc_pcap_reader_good_offset(const struct kc_pcap_reader *r)
{
	return r->good;
}

uint32_t kc_pcap_reader_linktype(const struct kc_pcap_reader *r)
{
	return r->linktype;
}

bool kc_pcap_reader_is_ns(const struct kc_pcap_reader *r)
{
	return r->ns;
}

void pcapio_reader_suspend(struct kc_pcap_reader *r)
{
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
}

void pcapio_reader_release(struct kc_pcap_reader *r)
{
	pcapio_reader_suspend(r);
	/* finished: no record is out, nothing more will be read */
	free(r->buf);
	r->buf = NULL;
	r->cap = r->len = r->pos = 0;
	r->done = true;
}

bool pcapio_reader_is_open(const struct kc_pcap_reader *r)
{
	return r->fd >= 0;
}

void kc_pcap_reader_close(struct kc_pcap_reader *r)
{
	reader_free(r);
}
