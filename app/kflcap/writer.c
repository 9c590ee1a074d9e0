/*
 * Stream writer, on the management lcore: one pcap per recorded stream in
 * OUT/live/<stream-id>_<tcp|udp>.pcap, original bytes and capture time
 * (nanosecond pcap, so nothing the PMD gave us is rounded away).
 *
 * Open files are bounded: past max_open, the least recently written file is
 * closed and reopened in append mode when its stream writes again. A file is
 * closed for good when its stream's end marker arrives.
 */
#include <errno.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kflcap.h"
#include "kc_decode.h"
#include "kc_snapshot.h"

#define N_BUCKETS 4096
#define FILE_BUF 16384
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_SNAPLEN 262144
#define LINKTYPE_ETHERNET 1

struct sfile {
	uint64_t id;
	FILE *fp;            /* NULL while closed to bound open files */
	uint8_t l4;
	bool file_created;   /* the file exists in the current live folder */
	bool have_tuple;     /* 5-tuple known (from the first decodable packet) */
	bool truncated;      /* retention evicted packets before the match */
	uint8_t family;
	uint16_t sport, dport, vlan;
	uint8_t src[16], dst[16];
	char *matched;       /* summary of the item that started the recording */
	uint64_t match_ts_us;
	struct sfile *hnext; /* hash chain */
	struct sfile *prev, *next; /* LRU of open files, most recent at tail */
};

struct kc_writer {
	char live_dir[1100];
	uint32_t max_open, n_open;
	struct sfile *buckets[N_BUCKETS];
	struct sfile *lru_head, *lru_tail;
	struct kc_writer_stats st;
	bool warned;
};

struct pcap_hdr {
	uint32_t magic;
	uint16_t major, minor;
	int32_t thiszone;
	uint32_t sigfigs, snaplen, linktype;
};

struct pcap_rec {
	uint32_t sec, frac, caplen, len;
};

static int mkdir_p(const char *path)
{
	char tmp[1100];
	char *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

struct kc_writer *kc_writer_create(const char *out_dir, uint32_t max_open, struct kc_err *err)
{
	struct kc_writer *w = calloc(1, sizeof(*w));
	char probe[1200];
	int rc, fd;

	if (w == NULL) {
		kc_err_set(err, -ENOMEM, "writer: out of memory");
		return NULL;
	}
	w->max_open = max_open;
	snprintf(w->live_dir, sizeof(w->live_dir), "%s/live", out_dir);
	rc = mkdir_p(w->live_dir);
	if (rc != 0) {
		kc_err_set(err, rc, "--out %s: cannot create %s: %s", out_dir, w->live_dir, strerror(-rc));
		free(w);
		return NULL;
	}
	snprintf(probe, sizeof(probe), "%s/.write-test", w->live_dir);
	fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		kc_err_set(err, -errno, "--out %s: %s is not writable: %s", out_dir, w->live_dir, strerror(errno));
		free(w);
		return NULL;
	}
	close(fd);
	unlink(probe);
	return w;
}

const struct kc_writer_stats *kc_writer_stats(const struct kc_writer *w)
{
	return &w->st;
}

static void lru_unlink(struct kc_writer *w, struct sfile *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		w->lru_head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		w->lru_tail = s->prev;
	s->prev = s->next = NULL;
}

static void lru_append(struct kc_writer *w, struct sfile *s)
{
	s->prev = w->lru_tail;
	s->next = NULL;
	if (w->lru_tail)
		w->lru_tail->next = s;
	else
		w->lru_head = s;
	w->lru_tail = s;
}

static void report_error(struct kc_writer *w, const char *what, uint64_t id)
{
	w->st.write_errors++;
	if (!w->warned) {
		fprintf(stderr, "kflcap: writer: %s stream %llu: %s (further errors only counted)\n", what,
			(unsigned long long)id, strerror(errno));
		w->warned = true;
	}
}

static void close_file(struct kc_writer *w, struct sfile *s)
{
	if (s->fp == NULL)
		return;
	if (fclose(s->fp) != 0)
		report_error(w, "close", s->id);
	s->fp = NULL;
	lru_unlink(w, s);
	w->n_open--;
}

static void file_path(const struct kc_writer *w, const struct sfile *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%012llu_%s.pcap", w->live_dir, (unsigned long long)s->id,
		 s->l4 == 17 ? "udp" : "tcp");
}

static bool open_file(struct kc_writer *w, struct sfile *s, bool fresh)
{
	char path[1300];
	struct stat st;
	int fd;

	if (w->n_open >= w->max_open) {
		w->st.evicted_open++;
		close_file(w, w->lru_head);
	}
	file_path(w, s, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | (fresh ? O_TRUNC : O_APPEND), 0600);
	if (fd < 0 || (s->fp = fdopen(fd, fresh ? "w" : "a")) == NULL) {
		if (fd >= 0)
			close(fd);
		report_error(w, "open", s->id);
		return false;
	}
	setvbuf(s->fp, NULL, _IOFBF, FILE_BUF);
	/* A stream that continues after a snapshot rotation starts a new file
	 * in the new live folder: it needs its header too. */
	if (!fresh && fstat(fd, &st) == 0 && st.st_size == 0)
		fresh = true;
	s->file_created = true;
	if (fresh) {
		struct pcap_hdr h = {PCAP_MAGIC_NS, 2, 4, 0, 0, PCAP_SNAPLEN, LINKTYPE_ETHERNET};

		if (fwrite(&h, sizeof(h), 1, s->fp) != 1)
			report_error(w, "header", s->id);
		w->st.streams_opened++;
	} else {
		w->st.reopened++;
	}
	w->n_open++;
	lru_append(w, s);
	return true;
}

static struct sfile *find(struct kc_writer *w, uint64_t id, struct sfile ***link)
{
	struct sfile **pp = &w->buckets[(id ^ (id >> 29)) % N_BUCKETS];

	while (*pp != NULL && (*pp)->id != id)
		pp = &(*pp)->hnext;
	if (link)
		*link = pp;
	return *pp;
}

static struct sfile *new_entry(struct kc_writer *w, uint64_t id, struct sfile **link)
{
	struct sfile *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		report_error(w, "memory for", id);
		return NULL;
	}
	s->id = id;
	*link = s;
	return s;
}

/* The manifest's 5-tuple, taken from the stream's first packet (the side
 * that sent first is src). */
static void learn_tuple(struct sfile *s, struct rte_mbuf *m)
{
	uint8_t buf[256];
	uint32_t len = RTE_MIN(rte_pktmbuf_pkt_len(m), (uint32_t)sizeof(buf));
	const uint8_t *d = rte_pktmbuf_read(m, 0, len, buf);
	struct kc_pkt p;
	enum kc_decode_res r;

	if (d == NULL)
		return;
	r = kc_decode_eth(d, len, &p);
	if (r != KC_DEC_OK && r != KC_DEC_TRUNC_L4)
		return;
	s->family = p.family;
	memcpy(s->src, p.src, 16);
	memcpy(s->dst, p.dst, 16);
	s->sport = p.sport;
	s->dport = p.dport;
	s->vlan = p.vlan[0];
	s->have_tuple = r == KC_DEC_OK;
}

/* Sidecar for the snapshot manifest, rewritten each time the file closes. */
static void write_meta(struct kc_writer *w, const struct sfile *s)
{
	struct kc_snapshot_stream_meta m;
	struct kc_err err = {{0}};
	char name[64];

	if (!s->file_created)
		return;
	memset(&m, 0, sizeof(m));
	snprintf(name, sizeof(name), "%012llu_%s", (unsigned long long)s->id, s->l4 == 17 ? "udp" : "tcp");
	m.name = name;
	m.ip_proto = s->l4;
	m.family = s->family == 6 ? AF_INET6 : AF_INET;
	memcpy(m.src, s->src, 16);
	memcpy(m.dst, s->dst, 16);
	m.sport = s->sport;
	m.dport = s->dport;
	m.vlan = s->vlan;
	m.truncated = s->truncated;
	m.truncated_reason = s->truncated ? "retention bound evicted packets before the match" : NULL;
	m.matched = s->matched;
	m.match_ts_us = s->match_ts_us;
	if (kc_snapshot_meta_write(w->live_dir, &m, &err) != 0) {
		w->st.write_errors++;
		if (!w->warned) {
			fprintf(stderr, "kflcap: writer: %s (further errors only counted)\n", err.msg);
			w->warned = true;
		}
	}
}

void kc_writer_note_match(struct kc_writer *w, uint64_t stream_id, const char *summary, uint64_t ts_us)
{
	struct sfile **link, *s = find(w, stream_id, &link);

	if (s == NULL && (s = new_entry(w, stream_id, link)) == NULL)
		return;
	free(s->matched);
	s->matched = strdup(summary);
	s->match_ts_us = ts_us;
}

void kc_writer_close_all(struct kc_writer *w)
{
	unsigned b;
	struct sfile *s;

	for (b = 0; b < N_BUCKETS; b++)
		for (s = w->buckets[b]; s != NULL; s = s->hnext) {
			close_file(w, s);
			write_meta(w, s);
		}
}

void kc_writer_rotated(struct kc_writer *w, bool new_live)
{
	unsigned b;
	struct sfile *s;

	if (!new_live)
		return;
	for (b = 0; b < N_BUCKETS; b++)
		for (s = w->buckets[b]; s != NULL; s = s->hnext)
			s->file_created = false;
}

void kc_writer_packet(struct kc_writer *w, struct rte_mbuf *m)
{
	const struct kc_mbuf_meta *meta = kc_meta(m);
	struct sfile **link, *s = find(w, meta->stream_id, &link);
	struct pcap_rec r;
	const struct rte_mbuf *seg;

	if (s == NULL) {
		s = new_entry(w, meta->stream_id, link);
		if (s == NULL)
			return;
	}
	s->l4 = meta->l4;
	if (!s->have_tuple)
		learn_tuple(s, m);
	if (s->fp == NULL) {
		if (!open_file(w, s, !s->file_created))
			return;
	} else {
		lru_unlink(w, s);
		lru_append(w, s);
	}
	r.sec = (uint32_t)(meta->ts_ns / 1000000000u);
	r.frac = (uint32_t)(meta->ts_ns % 1000000000u);
	r.caplen = rte_pktmbuf_pkt_len(m);
	r.len = r.caplen;
	if (fwrite(&r, sizeof(r), 1, s->fp) != 1) {
		report_error(w, "write", s->id);
		return;
	}
	for (seg = m; seg != NULL; seg = seg->next) {
		if (fwrite(rte_pktmbuf_mtod(seg, const void *), 1, seg->data_len, s->fp) != seg->data_len) {
			report_error(w, "write", s->id);
			return;
		}
	}
	w->st.pkts++;
	w->st.bytes += r.caplen;
}

void kc_writer_end(struct kc_writer *w, uint64_t stream_id, bool truncated)
{
	struct sfile **link, *s = find(w, stream_id, &link);

	if (s == NULL)
		return;
	s->truncated = s->truncated || truncated;
	close_file(w, s);
	write_meta(w, s);
	*link = s->hnext;
	free(s->matched);
	free(s);
	w->st.streams_closed++;
}

void kc_writer_destroy(struct kc_writer *w)
{
	unsigned b;

	if (w == NULL)
		return;
	for (b = 0; b < N_BUCKETS; b++) {
		while (w->buckets[b] != NULL) {
			struct sfile *s = w->buckets[b];

			close_file(w, s);
			write_meta(w, s);
			w->buckets[b] = s->hnext;
			free(s->matched);
			free(s);
			w->st.streams_closed++;
		}
	}
	free(w);
}
