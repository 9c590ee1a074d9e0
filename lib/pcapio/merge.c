/* K-way merge of stream pcap files into one capture: pcap, pcap.gz or pcapng. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pcapio_internal.h"

/* Read-ahead per input: a 64 MiB budget shared by all inputs, each between
 * 4 and 64 KiB. It survives closing the input's fd (see note_open()), so a
 * reopen happens at most once per buffer, not once per packet. */
#define MERGE_READ_BUDGET (64u * 1024u * 1024u)
#define MERGE_READ_MIN (4u * 1024u)
#define MERGE_READ_MAX (64u * 1024u)

/* pcapng block types and options (draft-ietf-opsawg-pcapng) */
#define PNG_SHB 0x0A0D0D0Au
#define PNG_IDB 0x00000001u
#define PNG_NRB 0x00000004u
#define PNG_EPB 0x00000006u
#define PNG_BOM 0x1A2B3C4Du
#define PNG_OPT_END 0
#define PNG_OPT_COMMENT 1
#define PNG_SHB_USERAPPL 4
#define PNG_IF_TSRESOL 9
#define PNG_NRB_END 0
#define PNG_NRB_IPV4 1
#define PNG_NRB_IPV6 2

struct head {
	struct kc_pcap_reader *rd;
	struct kc_pcap_rec rec;
	bool live;       /* rec holds a record not yet written */
};

struct merge {
	struct kc_pcap_merge_input *in;
	struct head *heads;
	size_t *heap;     /* indices into heads/in, min-heap on (ts, index) */
	size_t heap_n;
	size_t *openq;    /* FIFO of readers holding an fd */
	size_t openq_cap, openq_n, openq_head;
	struct sink sink;
	bool ng, ns;
	struct kc_pcap_merge_stats *st;
};

static size_t pad4(size_t n)
{
	return (n + 3u) & ~(size_t)3u;
}

static bool less(const struct merge *m, size_t a, size_t b)
{
	uint64_t ta = m->heads[a].rec.ts_ns, tb = m->heads[b].rec.ts_ns;

	return ta < tb || (ta == tb && a < b);
}

static void sift_down(struct merge *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, s = i, t;

		if (l < m->heap_n && less(m, m->heap[l], m->heap[s]))
			s = l;
		if (r < m->heap_n && less(m, m->heap[r], m->heap[s]))
			s = r;
		if (s == i)
			return;
		t = m->heap[i];
		m->heap[i] = m->heap[s];
		m->heap[s] = t;
		i = s;
	}
}

static void sift_up(struct merge *m, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2, t;

		if (!less(m, m->heap[i], m->heap[p]))
			return;
		t = m->heap[i];
		m->heap[i] = m->heap[p];
		m->heap[p] = t;
		i = p;
	}
}

/* A reader just (re)acquired an fd: queue it, closing the oldest holder when
 * over the bound. FIFO rather than LRU: O(1), and inputs are read in
 * timestamp order so recency says little anyway. */
static void note_open(struct merge *m, size_t idx)
{
	if (m->openq_n == m->openq_cap) {
		size_t victim = m->openq[m->openq_head];

		if (m->heads[victim].rd != NULL)
			pcapio_reader_suspend(m->heads[victim].rd);
		m->openq[m->openq_head] = idx;
		m->openq_head = (m->openq_head + 1) % m->openq_cap;
		return;
	}
	m->openq[(m->openq_head + m->openq_n) % m->openq_cap] = idx;
	m->openq_n++;
}

static void drop_input(struct merge *m, size_t i, int rc)
{
	struct head *h = &m->heads[i];

	m->in[i].error = rc;
	m->st->failed_inputs++;
	h->live = false;
	/* keep the reader object: the FIFO may still name it */
	if (h->rd != NULL)
		pcapio_reader_release(h->rd);
}

/* Read the next record of input i into its head. */
static void advance(struct merge *m, size_t i)
{
	struct head *h = &m->heads[i];
	bool was_open = pcapio_reader_is_open(h->rd);
	int rc = kc_pcap_reader_next(h->rd, &h->rec);

	if (!was_open && pcapio_reader_is_open(h->rd))
		note_open(m, i);
	if (rc == 1) {
		h->live = true;
		return;
	}
	h->live = false;
	if (rc < 0) {
		drop_input(m, i, rc);
		return;
	}
	if (kc_pcap_reader_truncated(h->rd)) {
		m->in[i].truncated_tail = true;
		m->st->truncated_inputs++;
	}
	pcapio_reader_release(h->rd);
}

static int put32(struct sink *s, uint32_t v)
{
	return sink_write(s, &v, 4);
}

static int put16(struct sink *s, uint16_t v)
{
	return sink_write(s, &v, 2);
}

static int put_pad(struct sink *s, size_t n)
{
	static const uint8_t zero[4];

	return sink_write(s, zero, pad4(n) - n);
}

/* One option: code, length, value padded to 4. */
static int put_opt(struct sink *s, uint16_t code, const void *v, size_t len)
{
	put16(s, code);
	put16(s, (uint16_t)len);
	sink_write(s, v, len);
	return put_pad(s, len);
}

static size_t opt_len(size_t len)
{
	return 4 + pad4(len);
}

static size_t clamp_str(const char *s, size_t max)
{
	return s == NULL ? 0 : strnlen(s, max);
}

static int write_pcapng_head(struct merge *m, const struct kc_pcap_merge_opts *o)
{
	struct sink *s = &m->sink;
	static const char appl[] = "kflcap " KC_VERSION;
	size_t clen = clamp_str(o->shb_comment, 65000);
	uint32_t len;
	uint8_t tsres = 9;

	/* Section Header Block */
	len = 28 + (uint32_t)opt_len(sizeof(appl) - 1) + (clen ? (uint32_t)opt_len(clen) : 0) + 4;
	put32(s, PNG_SHB);
	put32(s, len);
	put32(s, PNG_BOM);
	put16(s, 1);
	put16(s, 0);
	put32(s, 0xffffffffu); /* section length unknown (-1) */
	put32(s, 0xffffffffu);
	put_opt(s, PNG_SHB_USERAPPL, appl, sizeof(appl) - 1);
	if (clen)
		put_opt(s, PNG_OPT_COMMENT, o->shb_comment, clen);
	put32(s, PNG_OPT_END);
	put32(s, len);

	/* Interface Description Block: Ethernet; if_tsresol 9 = 10^-9 s when ns,
	 * otherwise the default microseconds (no option). */
	len = 20 + (m->ns ? (uint32_t)opt_len(1) + 4 : 0);
	put32(s, PNG_IDB);
	put32(s, len);
	put16(s, (uint16_t)KC_PCAP_LINKTYPE_ETHERNET);
	put16(s, 0);
	put32(s, KC_PCAP_SNAPLEN);
	if (m->ns) {
		put_opt(s, PNG_IF_TSRESOL, &tsres, 1);
		put32(s, PNG_OPT_END);
	}
	put32(s, len);

	/* Name Resolution Block: one record per (address, name) */
	if (o->n_names > 0) {
		size_t body = 0;

		for (size_t i = 0; i < o->n_names; i++) {
			size_t alen = o->names[i].family == AF_INET ? 4 : 16;

			body += 4 + pad4(alen + clamp_str(o->names[i].name, 255) + 1);
		}
		body += 4; /* nrb_record_end */
		len = (uint32_t)(12 + body);
		put32(s, PNG_NRB);
		put32(s, len);
		for (size_t i = 0; i < o->n_names; i++) {
			const struct kc_pcap_name *nm = &o->names[i];
			size_t alen = nm->family == AF_INET ? 4 : 16;
			size_t nlen = clamp_str(nm->name, 255);
			size_t vlen = alen + nlen + 1;

			put16(s, nm->family == AF_INET ? PNG_NRB_IPV4 : PNG_NRB_IPV6);
			put16(s, (uint16_t)vlen);
			sink_write(s, nm->addr, alen);
			sink_write(s, nm->name, nlen);
			sink_write(s, "", 1);
			put_pad(s, vlen);
		}
		put32(s, (uint32_t)PNG_NRB_END); /* type 0, length 0 */
		put32(s, len);
		m->st->names_written = o->n_names;
	}
	return s->err;
}

static int write_pcap_head(struct merge *m)
{
	uint32_t h[6] = {
		m->ns ? PCAP_MAGIC_NS : PCAP_MAGIC_US,
		2u | (4u << 16), 0, 0, KC_PCAP_SNAPLEN, KC_PCAP_LINKTYPE_ETHERNET,
	};

	return sink_write(&m->sink, h, sizeof(h));
}

static int write_record(struct merge *m, size_t i)
{
	const struct kc_pcap_rec *r = &m->heads[i].rec;
	struct kc_pcap_merge_input *in = &m->in[i];
	struct sink *s = &m->sink;
	uint64_t ts = m->ns ? r->ts_ns : r->ts_ns / 1000u;
	uint32_t origlen = r->origlen < r->caplen ? r->caplen : r->origlen;

	if (!m->ng) {
		uint32_t h[4] = {
			(uint32_t)(r->ts_ns / 1000000000u),
			(uint32_t)(m->ns ? r->ts_ns % 1000000000u : (r->ts_ns % 1000000000u) / 1000u),
			r->caplen, origlen,
		};

		sink_write(s, h, sizeof(h));
		sink_write(s, r->data, r->caplen);
	} else {
		/* Enhanced Packet Block; the input's comment rides on its first one */
		size_t clen = in->packets == 0 ? clamp_str(in->comment, 65000) : 0;
		uint32_t len = (uint32_t)(32 + pad4(r->caplen) +
					  (clen ? opt_len(clen) + 4 : 0));

		put32(s, PNG_EPB);
		put32(s, len);
		put32(s, 0); /* interface 0 */
		put32(s, (uint32_t)(ts >> 32));
		put32(s, (uint32_t)ts);
		put32(s, r->caplen);
		put32(s, origlen);
		sink_write(s, r->data, r->caplen);
		put_pad(s, r->caplen);
		if (clen) {
			put_opt(s, PNG_OPT_COMMENT, in->comment, clen);
			put32(s, PNG_OPT_END);
		}
		put32(s, len);
	}
	if (s->err)
		return s->err;
	if (in->packets == 0)
		in->first_ts_ns = r->ts_ns;
	in->last_ts_ns = r->ts_ns;
	in->packets++;
	in->bytes += r->caplen;
	if (m->st->packets == 0)
		m->st->first_ts_ns = r->ts_ns;
	m->st->last_ts_ns = r->ts_ns;
	m->st->packets++;
	m->st->bytes_captured += r->caplen;
	return 0;
}

static int fsync_parent(const char *path)
{
	char *dup = strdup(path);
	int fd, rc = 0;

	if (dup == NULL)
		return -ENOMEM;
	fd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	free(dup);
	return rc;
}

/* Open every input, read its first record, decide the output resolution. */
static int open_inputs(struct merge *m, size_t n)
{
	size_t bufsize = n ? MERGE_READ_BUDGET / n : MERGE_READ_MAX;
	bool any_ns = false;

	bufsize = KC_MAX((size_t)MERGE_READ_MIN, KC_MIN(bufsize, (size_t)MERGE_READ_MAX));
	for (size_t i = 0; i < n; i++) {
		struct kc_pcap_merge_input *in = &m->in[i];
		struct head *h = &m->heads[i];
		int rc;

		in->packets = in->bytes = in->first_ts_ns = in->last_ts_ns = 0;
		in->truncated_tail = false;
		in->error = 0;
		h->rd = pcapio_reader_open(in->path, bufsize, &rc, NULL);
		if (h->rd == NULL) {
			if (rc == -ENOMEM)
				return rc;
			in->error = rc;
			m->st->failed_inputs++;
			continue;
		}
		note_open(m, i);
		if (kc_pcap_reader_linktype(h->rd) != KC_PCAP_LINKTYPE_ETHERNET) {
			m->st->linktype_skipped++;
			drop_input(m, i, -EPROTO);
			continue;
		}
		any_ns |= kc_pcap_reader_is_ns(h->rd);
		advance(m, i);
		if (h->live) {
			m->heap[m->heap_n++] = i;
			sift_up(m, m->heap_n - 1);
		}
	}
	return any_ns;
}

int kc_pcap_merge(struct kc_pcap_merge_input *in, size_t n, const char *out_path,
		  const struct kc_pcap_merge_opts *opts, struct kc_pcap_merge_stats *st,
		  struct kc_err *err)
{
	static const struct kc_pcap_merge_opts defaults;
	struct kc_pcap_merge_stats local_st;
	struct merge m;
	char *tmp = NULL;
	int fd = -1, rc;

	if (opts == NULL)
		opts = &defaults;
	if (st == NULL)
		st = &local_st;
	memset(st, 0, sizeof(*st));
	memset(&m, 0, sizeof(m));
	m.in = in;
	m.st = st;
	m.ng = opts->format == KC_PCAP_FMT_PCAPNG;
	if ((opts->format != KC_PCAP_FMT_PCAP && !m.ng) || opts->tsres > KC_PCAP_TS_NS ||
	    opts->gzip_level < 0 || opts->gzip_level > 9 || (opts->n_names && !opts->names))
		return kc_err_set(err, -EINVAL, "merge %s: invalid options", out_path);
	for (size_t i = 0; i < opts->n_names; i++)
		if (opts->names[i].family != AF_INET && opts->names[i].family != AF_INET6)
			return kc_err_set(err, -EINVAL, "merge %s: name %zu: family %d is not "
					  "AF_INET or AF_INET6", out_path, i, opts->names[i].family);

	m.openq_cap = opts->max_open ? opts->max_open : KC_PCAP_MERGE_MAX_OPEN;
	m.heads = calloc(n ? n : 1, sizeof(*m.heads));
	m.heap = calloc(n ? n : 1, sizeof(*m.heap));
	m.openq = calloc(m.openq_cap, sizeof(*m.openq));
	if (asprintf(&tmp, "%s.tmp", out_path) < 0)
		tmp = NULL;
	if (m.heads == NULL || m.heap == NULL || m.openq == NULL || tmp == NULL) {
		rc = kc_err_set(err, -ENOMEM, "merge %s: out of memory", out_path);
		goto out;
	}
	rc = open_inputs(&m, n);
	if (rc < 0) {
		kc_err_set(err, rc, "merge %s: out of memory", out_path);
		goto out;
	}
	m.ns = opts->tsres == KC_PCAP_TS_NS || (opts->tsres == KC_PCAP_TS_AUTO && rc == 1);

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = kc_err_set(err, -errno, "%s: open: %s", tmp, strerror(errno));
		goto out;
	}
	rc = sink_init(&m.sink, fd, 256u * 1024u, opts->gzip, opts->gzip_level);
	if (rc < 0) {
		kc_err_set(err, rc, "merge %s: out of memory", out_path);
		goto out;
	}
	rc = m.ng ? write_pcapng_head(&m, opts) : write_pcap_head(&m);
	while (rc == 0 && m.heap_n > 0) {
		size_t i = m.heap[0];

		rc = write_record(&m, i);
		if (rc < 0)
			break;
		advance(&m, i);
		if (!m.heads[i].live)
			m.heap[0] = m.heap[--m.heap_n];
		sift_down(&m, 0);
	}
	if (rc == 0)
		rc = sink_finish(&m.sink);
	if (rc < 0) {
		kc_err_set(err, rc, "%s: write: %s", tmp, strerror(-rc));
		goto out;
	}
	st->bytes_out = m.sink.bytes_out;
	if (fsync(fd) < 0) {
		rc = kc_err_set(err, -errno, "%s: fsync: %s", tmp, strerror(errno));
		goto out;
	}
	rc = close(fd);
	fd = -1;
	if (rc < 0) {
		rc = kc_err_set(err, -errno, "%s: close: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, out_path) < 0) {
		rc = kc_err_set(err, -errno, "rename %s -> %s: %s", tmp, out_path, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	rc = fsync_parent(out_path);
	if (rc < 0)
		kc_err_set(err, rc, "%s: fsync directory: %s", out_path, strerror(-rc));
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	sink_free(&m.sink);
	for (size_t i = 0; m.heads != NULL && i < n; i++)
		kc_pcap_reader_close(m.heads[i].rd);
	free(m.heads);
	free(m.heap);
	free(m.openq);
	return rc;
}
