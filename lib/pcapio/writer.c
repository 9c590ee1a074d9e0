/* Buffered classic-pcap writer for one stream file, with append-reopen. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcapio_internal.h"

struct kc_pcap_writer {
	struct sink sink;
	unsigned flags;
	bool ns;
	struct kc_pcap_writer_stats st;
};

/* Classic pcap global header (host byte order), see
 * https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html section 4 */
struct pcap_file_hdr {
	uint32_t magic;
	uint16_t major, minor;
	int32_t thiszone;
	uint32_t sigfigs;
	uint32_t snaplen;
	uint32_t linktype;
};

struct pcap_rec_hdr {
	uint32_t ts_sec, ts_frac, caplen, origlen;
};

_Static_assert(sizeof(struct pcap_file_hdr) == KC_PCAP_FILE_HDR_LEN, "pcap header size");
_Static_assert(sizeof(struct pcap_rec_hdr) == KC_PCAP_REC_HDR_LEN, "pcap record size");

static int write_header(int fd, bool ns)
{
	struct pcap_file_hdr h = {
		.magic = ns ? PCAP_MAGIC_NS : PCAP_MAGIC_US,
		.major = 2, .minor = 4,
		.snaplen = KC_PCAP_SNAPLEN,
		.linktype = KC_PCAP_LINKTYPE_ETHERNET,
	};

	return pcapio_write_all(fd, &h, sizeof(h));
}

/* Reopen path: validate the header; cut a torn tail if asked. Leaves the
 * file offset at the end. */
static int reopen_existing(int fd, const char *path, struct kc_pcap_writer *w, off_t size,
			   struct kc_err *err)
{
	struct pcap_file_hdr h;
	ssize_t r = pread(fd, &h, sizeof(h), 0);

	if (r < 0)
		return kc_err_set(err, -errno, "%s: read header: %s", path, strerror(errno));
	if (r != (ssize_t)sizeof(h) ||
	    (h.magic != PCAP_MAGIC_US && h.magic != PCAP_MAGIC_NS) || h.major != 2 ||
	    h.linktype != KC_PCAP_LINKTYPE_ETHERNET)
		return kc_err_set(err, -EBADMSG,
				  "%s: not a host-order Ethernet pcap file, refusing to append", path);
	w->ns = h.magic == PCAP_MAGIC_NS;
	if (w->flags & KC_PCAP_W_REPAIR) {
		struct kc_pcap_reader *rd = kc_pcap_reader_open(path, err);
		struct kc_pcap_rec rec;
		int rc;

		if (rd == NULL)
			return -errno;
		while ((rc = kc_pcap_reader_next(rd, &rec)) == 1)
			;
		if (rc == 0 && kc_pcap_reader_truncated(rd)) {
			uint64_t good = kc_pcap_reader_good_offset(rd);

			if (ftruncate(fd, (off_t)good) < 0) {
				rc = -errno;
				kc_pcap_reader_close(rd);
				return kc_err_set(err, rc, "%s: ftruncate: %s", path, strerror(-rc));
			}
			w->st.repaired_bytes = (uint64_t)size - good;
		}
		kc_pcap_reader_close(rd);
		if (rc < 0)
			return kc_err_set(err, rc, "%s: corrupt record, refusing to append", path);
	}
	if (lseek(fd, 0, SEEK_END) < 0)
		return kc_err_set(err, -errno, "%s: lseek: %s", path, strerror(errno));
	return 0;
}

struct kc_pcap_writer *kc_pcap_writer_open(const char *path, unsigned flags, size_t bufsize,
					   struct kc_err *err)
{
	struct kc_pcap_writer *w;
	struct stat sb;
	int fd, rc;

	if (flags & ~(KC_PCAP_W_NS | KC_PCAP_W_APPEND | KC_PCAP_W_REPAIR | KC_PCAP_W_FSYNC)) {
		kc_err_set(err, -EINVAL, "%s: unknown writer flags 0x%x", path, flags);
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		kc_err_set(err, -ENOMEM, "%s: out of memory", path);
		errno = ENOMEM;
		return NULL;
	}
	w->flags = flags;
	w->ns = flags & KC_PCAP_W_NS;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | ((flags & KC_PCAP_W_APPEND) ? 0 : O_TRUNC),
		  0600);
	if (fd < 0) {
		rc = kc_err_set(err, -errno, "%s: open: %s", path, strerror(errno));
		goto fail_free;
	}
	if (fstat(fd, &sb) < 0) {
		rc = kc_err_set(err, -errno, "%s: fstat: %s", path, strerror(errno));
		goto fail_close;
	}
	if ((flags & KC_PCAP_W_APPEND) && sb.st_size >= (off_t)KC_PCAP_FILE_HDR_LEN) {
		rc = reopen_existing(fd, path, w, sb.st_size, err);
		if (rc < 0)
			goto fail_close;
	} else {
		/* new file, or a header torn by a crash: start over */
		if (sb.st_size != 0 && ftruncate(fd, 0) < 0) {
			rc = kc_err_set(err, -errno, "%s: ftruncate: %s", path, strerror(errno));
			goto fail_close;
		}
		rc = write_header(fd, w->ns);
		if (rc < 0) {
			kc_err_set(err, rc, "%s: write header: %s", path, strerror(-rc));
			goto fail_close;
		}
		w->st.bytes = KC_PCAP_FILE_HDR_LEN;
	}
	rc = sink_init(&w->sink, fd, bufsize ? bufsize : KC_PCAP_WRITER_DEFAULT_BUF, false, 0);
	if (rc < 0) {
		kc_err_set(err, rc, "%s: out of memory", path);
		goto fail_close;
	}
	return w;

fail_close:
	close(fd);
fail_free:
	free(w);
	errno = -rc;
	return NULL;
}

static void fill_rec_hdr(const struct kc_pcap_writer *w, struct pcap_rec_hdr *h, uint64_t ts_ns,
			 uint32_t caplen, uint32_t origlen)
{
	h->ts_sec = (uint32_t)(ts_ns / 1000000000u);
	h->ts_frac = (uint32_t)(ts_ns % 1000000000u);
	if (!w->ns)
		h->ts_frac /= 1000u;
	h->caplen = caplen;
	h->origlen = origlen < caplen ? caplen : origlen;
}

int kc_pcap_writer_writev(struct kc_pcap_writer *w, uint64_t ts_ns, const struct iovec *iov,
			  unsigned n, uint32_t origlen)
{
	struct pcap_rec_hdr h;
	uint64_t total = 0;
	uint32_t caplen, left;
	int rc;

	if (w->sink.err)
		return w->sink.err;
	for (unsigned i = 0; i < n; i++)
		total += iov[i].iov_len;
	caplen = total > KC_PCAP_SNAPLEN ? KC_PCAP_SNAPLEN : (uint32_t)total;
	if (caplen < total)
		w->st.snap_truncated++;
	if (origlen < total && total <= UINT32_MAX)
		origlen = (uint32_t)total;
	fill_rec_hdr(w, &h, ts_ns, caplen, origlen);
	rc = sink_write(&w->sink, &h, sizeof(h));
	left = caplen;
	for (unsigned i = 0; rc == 0 && i < n && left > 0; i++) {
		size_t k = KC_MIN(iov[i].iov_len, (size_t)left);

		rc = sink_write(&w->sink, iov[i].iov_base, k);
		left -= (uint32_t)k;
	}
	if (rc < 0)
		return rc;
	w->st.packets++;
	w->st.bytes += sizeof(h) + caplen;
	return 0;
}

int kc_pcap_writer_write(struct kc_pcap_writer *w, uint64_t ts_ns, const void *data,
			 uint32_t caplen, uint32_t origlen)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)data, .iov_len = caplen };

	return kc_pcap_writer_writev(w, ts_ns, &iov, 1, origlen);
}

int kc_pcap_writer_flush(struct kc_pcap_writer *w)
{
	return sink_flush(&w->sink);
}

void kc_pcap_writer_stats(const struct kc_pcap_writer *w, struct kc_pcap_writer_stats *st)
{
	*st = w->st;
}

bool kc_pcap_writer_is_ns(const struct kc_pcap_writer *w)
{
	return w->ns;
}

int kc_pcap_writer_close(struct kc_pcap_writer *w)
{
	int rc;

	if (w == NULL)
		return 0;
	rc = sink_flush(&w->sink);
	if (rc == 0 && (w->flags & KC_PCAP_W_FSYNC) && fsync(w->sink.fd) < 0)
		rc = -errno;
	if (close(w->sink.fd) < 0 && rc == 0)
		rc = -errno;
	sink_free(&w->sink);
	free(w);
	return rc;
}
