/*
 * -r FILE|DIR ...: the recorder's own decode, reassembly and dissection
 * (lib/engine, the code the workers run) over pcap, pcapng and gzip-compressed
 * captures, offline. Matching items are printed as JSON lines or a table;
 * -w OUT.pcap writes every packet of each stream with a matching item (the
 * engine's KFL recording, with retention wide enough to keep whole streams),
 * time-ordered.
 *
 * Classic pcap files of Ethernet frames (what kflcap itself writes, plain or
 * gzip-compressed) are read here, in large blocks, and handed to the engine in
 * bursts of packets that point into the block: libpcap's two freads per
 * packet were 15% of the instructions of a run. Everything else
 * (pcapng, other versions and link types) goes through libpcap, which reads
 * any link type it knows; links other than Ethernet (BSD loopback, Linux
 * cooked, raw IP) get a synthetic Ethernet header, as the recorder only ever
 * sees Ethernet frames.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cJSON.h>

#include "kc_engine.h"
#include "kc_item_json.h"
#include "kc_pcapio.h"
#include "query.h"

/* Packets per kc_engine_rx() call: the engine decodes a burst and prefetches
 * its flow entries before handling the packets one by one. */
#define QBURST 32

/* Block of the direct pcap reader: many packets per read(), and room for the
 * largest record (16-byte header and libpcap's 256 KiB maximum). */
#define RBUF_SIZE (1u << 20)
#define PCAP_MAX_CAPLEN 262144u

/* A packet kept by the engine (retention) or recorded for -w. */
struct qpkt {
	uint64_t ts_ns;
	uint64_t seq;
	uint32_t len;
	uint8_t data[];
};

struct qctx {
	const struct kq_opts *o;
	struct kc_kfl_prog *prog;
	struct kc_kfl_scratch *scratch;
	FILE *out, *err;
	struct kc_engine *eng;
	uint64_t cur_ts_ns;
	uint64_t seq;
	/* -w */
	struct qpkt **rec;
	size_t n_rec, cap_rec;
	/* counts */
	uint64_t files, pkts, bytes, items, matches, skipped_link;
	uint64_t total_bytes, done_bytes;
	time_t last_progress;
	/* the burst being built for kc_engine_rx() */
	struct kc_engine_pkt burst[QBURST];
	uint32_t n_burst;
	uint8_t *rbuf; /* RBUF_SIZE bytes: the block the direct reader parses */
	uint8_t eth[262144 + 64];
};

static void on_record(void *ctx, const struct kc_flow *f, void *handle, uint64_t ts_us)
{
	struct qctx *q = ctx;

	(void)f;
	(void)ts_us;
	if (q->n_rec == q->cap_rec) {
		size_t nc = q->cap_rec ? q->cap_rec * 2 : 4096;
		struct qpkt **n = realloc(q->rec, nc * sizeof(*n));

		if (n == NULL) {
			free(handle);
			return;
		}
		q->rec = n;
		q->cap_rec = nc;
	}
	q->rec[q->n_rec++] = handle;
}

static void on_release(void *ctx, void *handle)
{
	(void)ctx;
	free(handle);
}

static const char *str_of(const cJSON *o, const char *k)
{
	const char *s = o ? cJSON_GetStringValue(cJSON_GetObjectItem(o, k)) : NULL;

	return s ? s : "-";
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
	return str_of(cJSON_GetObjectItem(o, a), b);
}

static void print_table_row(struct qctx *q, const struct kc_item *it)
{
	char src[64], dst[64], what[512] = "";
	cJSON *j = kc_item_to_cjson(it);
	const cJSON *req, *resp;
	time_t sec = (time_t)(it->ts_us / 1000000u);
	struct tm tm;
	char tbuf[32];

	if (j == NULL)
		return;
	gmtime_r(&sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(src, sizeof(src), "%s:%s", str_at(j, "src", "ip"), str_at(j, "src", "port"));
	snprintf(dst, sizeof(dst), "%s:%s", str_at(j, "dst", "ip"), str_at(j, "dst", "port"));
	req = cJSON_GetObjectItem(j, "request");
	resp = cJSON_GetObjectItem(j, "response");
	switch (it->proto) {
	case KC_ITEM_HTTP:
	case KC_ITEM_HTTP2:
	case KC_ITEM_GRPC:
		snprintf(what, sizeof(what), "%s %s -> %d", str_of(req, "method"), str_of(req, "url"), it->u.http.status);
		break;
	case KC_ITEM_DNS: {
		const cJSON *q0 = cJSON_GetArrayItem(cJSON_GetObjectItem(req, "questions"), 0);

		snprintf(what, sizeof(what), "%s %s -> %s", str_of(q0, "type"), str_of(q0, "name"), str_of(resp, "code"));
		break;
	}
	case KC_ITEM_TLS:
		snprintf(what, sizeof(what), "SNI %s", str_of(req, "serverName"));
		break;
	default:
		snprintf(what, sizeof(what), "%" PRIu64 " / %" PRIu64 " bytes", it->req_size, it->resp_size);
		break;
	}
	fprintf(q->out, "%s  %-6s %-40s %-40s %5" PRIu64 "ms  %s\n", tbuf, kc_item_proto_abbr(it->proto), src, dst,
		kc_item_elapsed_ms(it), what);
	cJSON_Delete(j);
}

static void on_item(void *ctx, const struct kc_item *it, bool matched, uint32_t version)
{
	static char buf[256 * 1024];
	struct qctx *q = ctx;
	size_t len;

	(void)matched;
	(void)version;
	q->items++;
	if (q->prog != NULL && !kc_kfl_eval_item(q->prog, it, q->scratch))
		return;
	q->matches++;
	if (q->o->write_only)
		return;
	if (q->o->table) {
		print_table_row(q, it);
		return;
	}
	if (kc_item_to_json(it, buf, sizeof(buf) - 1, &len) == 0) {
		buf[len++] = '\n';
		fwrite(buf, 1, len, q->out);
	}
}

/* Build an Ethernet frame for a packet of another link type. */
static const uint8_t *to_ethernet(struct qctx *q, int dlt, const uint8_t *d, uint32_t *len)
{
	uint32_t skip;
	uint16_t et;

	switch (dlt) {
	case DLT_EN10MB:
		return d;
	case DLT_NULL:
	case DLT_LOOP:
		skip = 4;
		break;
	case DLT_LINUX_SLL:
		skip = 16;
		break;
	case DLT_RAW:
#if DLT_RAW != 101
	case 101: /* LINKTYPE_RAW as stored in files */
#endif
		skip = 0;
		break;
	default:
		return NULL;
	}
	if (*len <= skip || *len - skip > sizeof(q->eth) - 14)
		return NULL;
	et = (d[skip] >> 4) == 6 ? 0x86dd : 0x0800;
	memset(q->eth, 0, 12);
	q->eth[5] = 2;
	q->eth[11] = 1;
	q->eth[12] = (uint8_t)(et >> 8);
	q->eth[13] = (uint8_t)et;
	memcpy(q->eth + 14, d + skip, *len - skip);
	*len = *len - skip + 14;
	return q->eth;
}

static void progress(struct qctx *q, bool last)
{
	time_t now = time(NULL);

	if (q->o->quiet || (!last && now == q->last_progress))
		return;
	q->last_progress = now;
	if (q->total_bytes > 4u << 20 || last)
		fprintf(q->err, "\rkflcap-query: %" PRIu64 " packets, %" PRIu64 "/%" PRIu64 " MB, %" PRIu64 " items, %" PRIu64
			" matching%s", q->pkts, q->done_bytes >> 20, q->total_bytes >> 20, q->items, q->matches,
			last ? "\n" : "");
}

/* gzip through fopencookie so libpcap reads it like any file. */
static ssize_t gz_read(void *c, char *buf, size_t n)
{
	int r = gzread((gzFile)c, buf, (unsigned)KC_MIN(n, (size_t)1 << 30));

	return r < 0 ? -1 : r;
}

static int gz_close(void *c)
{
	return gzclose((gzFile)c) == Z_OK ? 0 : -1;
}

static pcap_t *open_capture(const char *path, char *ebuf)
{
	size_t l = strlen(path);
	cookie_io_functions_t io = {.read = gz_read, .close = gz_close};
	gzFile gz;
	FILE *f;

	if (l < 3 || strcmp(path + l - 3, ".gz") != 0)
		return pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	gz = gzopen(path, "rb");
	if (gz == NULL) {
		snprintf(ebuf, PCAP_ERRBUF_SIZE, "%s: %s", path, strerror(errno));
		return NULL;
	}
	f = fopencookie(gz, "r", io);
	if (f == NULL) {
		gzclose(gz);
		snprintf(ebuf, PCAP_ERRBUF_SIZE, "%s: %s", path, strerror(errno));
		return NULL;
	}
	return pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, ebuf);
}

static void flush_burst(struct qctx *q)
{
	if (q->n_burst > 0)
		kc_engine_rx(q->eng, q->burst, q->n_burst);
	q->n_burst = 0;
}

/* One packet for the engine: @p d stays valid until flush_burst() (the
 * caller flushes before reusing the bytes). sec and frac are libpcap's
 * struct timeval with nanosecond precision, so both readers give the engine
 * the same times. @return -1 when out of memory for -w. */
static int add_packet(struct qctx *q, int dlt, int64_t sec, int64_t frac, uint32_t caplen,
		      const uint8_t *d)
{
	struct kc_engine_pkt *ep;
	uint32_t len = caplen;
	const uint8_t *eth;
	struct qpkt *pk = NULL;

	q->pkts++;
	q->bytes += caplen;
	q->done_bytes += caplen + 16;
	if (dlt != DLT_EN10MB) {
		/* q->eth is one buffer: such packets go one at a time */
		flush_burst(q);
		eth = to_ethernet(q, dlt, d, &len);
		if (eth == NULL) {
			q->skipped_link++;
			return 0;
		}
	} else {
		eth = d;
	}
	ep = &q->burst[q->n_burst];
	ep->ts_us = (uint64_t)sec * 1000000u + (uint64_t)frac / 1000u;
	ep->caplen = len;
	ep->wire_len = len;
	ep->data = eth;
	if (q->o->write != NULL) {
		/* Offline, the engine's handle is a copy it may keep. */
		pk = malloc(sizeof(*pk) + len);
		if (pk == NULL)
			return -1;
		pk->ts_ns = (uint64_t)sec * 1000000000u + (uint64_t)frac;
		pk->seq = q->seq++;
		pk->len = len;
		memcpy(pk->data, eth, len);
		ep->data = pk->data;
	}
	ep->handle = pk;
	if (++q->n_burst == QBURST || dlt != DLT_EN10MB)
		flush_burst(q);
	if ((q->pkts & 0xffff) == 0) {
		flush_burst(q);
		kc_engine_tick(q->eng, 0);
		progress(q, false);
	}
	return 0;
}

static int run_file_pcap(struct qctx *q, const char *path)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *p = open_capture(path, ebuf);
	int dlt, rc;

	if (p == NULL) {
		fprintf(q->err, "kflcap-query: %s\n", ebuf);
		return -1;
	}
	q->files++;
	dlt = pcap_datalink(p);
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		/* libpcap reuses its buffer on the next call */
		int r = add_packet(q, dlt, h->ts.tv_sec, h->ts.tv_usec, h->caplen, d);

		flush_burst(q);
		if (r != 0)
			break;
	}
	if (rc == -1)
		fprintf(q->err, "kflcap-query: %s: %s (read up to the damage)\n", path, pcap_geterr(p));
	pcap_close(p);
	return 0;
}

/* The direct reader of classic pcap files, plain or gzip-compressed, in
 * blocks. (Mapping plain files instead saved no measurable time: the page
 * faults cost what the copy did.) */
struct rawpcap {
	int fd;
	gzFile gz;
	uint8_t *buf;
	size_t lo, hi; /* unread bytes: buf[lo, hi) */
	int eof;
	int swapped;
	int nsec;
	uint32_t snapshot;
};

static uint16_t rd16(const struct rawpcap *r, const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return r->swapped ? __builtin_bswap16(v) : v;
}

static uint32_t rd32(const struct rawpcap *r, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return r->swapped ? __builtin_bswap32(v) : v;
}

/* Make at least @p need bytes readable (fewer at end of file): the unread
 * tail moves to the front, so pointers into the block die here.
 * @return 0, or -1 with errno set (read error). */
static int raw_fill(struct rawpcap *r, size_t need)
{
	if (r->hi - r->lo >= need || r->eof)
		return 0;
	memmove(r->buf, r->buf + r->lo, r->hi - r->lo);
	r->hi -= r->lo;
	r->lo = 0;
	while (r->hi < need && !r->eof) {
		ssize_t n;

		if (r->gz != NULL) {
			int e = Z_OK;

			n = gzread(r->gz, r->buf + r->hi, (unsigned)(RBUF_SIZE - r->hi));
			if (n < 0) {
				gzerror(r->gz, &e);
				if (e != Z_ERRNO)
					errno = EIO; /* corrupt stream; Z_ERRNO left read()'s errno */
				return -1;
			}
		} else {
			n = read(r->fd, r->buf + r->hi, RBUF_SIZE - r->hi);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -1;
		}
		if (n == 0)
			r->eof = 1;
		r->hi += (size_t)n;
	}
	return 0;
}

static void raw_close(struct rawpcap *r)
{
	if (r->gz != NULL)
		gzclose(r->gz);
	else if (r->fd >= 0)
		close(r->fd);
}

/* Open @p path for the direct reader. @return 1 ready, 0 not a file it
 * reads (pcapng, another version or link type, an open or read error: the
 * libpcap path then reports or reads it), -1 out of memory. */
static int raw_open(struct qctx *q, const char *path, struct rawpcap *r)
{
	size_t l = strlen(path);
	uint32_t magic, snap;
	const uint8_t *h;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (q->rbuf == NULL) {
		q->rbuf = malloc(RBUF_SIZE);
		if (q->rbuf == NULL)
			return -1;
	}
	r->buf = q->rbuf;
	if (l >= 3 && strcmp(path + l - 3, ".gz") == 0) {
		r->gz = gzopen(path, "rb");
		if (r->gz == NULL)
			return 0;
		gzbuffer(r->gz, 256u << 10);
	} else {
		r->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (r->fd < 0)
			return 0;
		posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	if (raw_fill(r, 24) != 0 || r->hi < 24)
		goto other;
	h = r->buf;
	memcpy(&magic, h, 4);
	if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du) {
		r->swapped = 0;
	} else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u) {
		r->swapped = 1;
		magic = __builtin_bswap32(magic);
	} else {
		goto other;
	}
	r->nsec = magic == 0xa1b23c4du;
	/* version 2.4 (no length swapping) and LINKTYPE_ETHERNET, nothing else */
	if (rd16(r, h + 4) != 2 || rd16(r, h + 6) != 4 || rd32(r, h + 20) != 1)
		goto other;
	/* libpcap's pcap_adjust_snapshot(): 0 or beyond the maximum means the maximum */
	snap = rd32(r, h + 16);
	r->snapshot = snap == 0 || snap > PCAP_MAX_CAPLEN ? PCAP_MAX_CAPLEN : snap;
	r->lo = 24;
	return 1;
other:
	raw_close(r);
	return 0;
}

/* Next record, with libpcap's checks and messages (sf-pcap.c,
 * pcap_next_packet). @return 1 packet, 0 end of file, -1 damaged file
 * (message in @p ebuf), 2 the block must be refilled and the caller still
 * holds pointers into it (@p busy): flush them and call again. */
static int raw_next(struct rawpcap *r, int busy, int64_t *sec, int64_t *frac, uint32_t *caplen,
		    const uint8_t **data, char *ebuf)
{
	const uint8_t *h;
	uint32_t cl;
	size_t avail;

	if (r->hi - r->lo < 16 && !r->eof) {
		if (busy)
			return 2;
		if (raw_fill(r, 16) != 0)
			goto rerr;
	}
	avail = r->hi - r->lo;
	if (avail == 0)
		return 0;
	if (avail < 16) {
		snprintf(ebuf, PCAP_ERRBUF_SIZE,
			 "truncated dump file; tried to read 16 header bytes, only got %zu", avail);
		return -1;
	}
	h = r->buf + r->lo;
	cl = rd32(r, h + 8);
	if (cl > PCAP_MAX_CAPLEN) {
		snprintf(ebuf, PCAP_ERRBUF_SIZE,
			 "invalid packet capture length %u, bigger than snaplen of %u", cl, r->snapshot);
		return -1;
	}
	if (avail < 16 + (size_t)cl && !r->eof) {
		if (busy)
			return 2;
		if (raw_fill(r, 16 + (size_t)cl) != 0)
			goto rerr;
		h = r->buf + r->lo;
		avail = r->hi - r->lo;
	}
	if (avail < 16 + (size_t)cl) {
		/* libpcap reads min(caplen, snapshot) bytes first, then discards
		 * the rest; its message names what the failing read wanted */
		size_t got = avail - 16;

		snprintf(ebuf, PCAP_ERRBUF_SIZE,
			 "truncated dump file; tried to read %u captured bytes, only got %zu",
			 cl > r->snapshot && got < r->snapshot ? r->snapshot : cl, got);
		return -1;
	}
	/* struct pcap_timeval holds signed 32-bit fields; libpcap scales
	 * microseconds up in a long */
	*sec = (int32_t)rd32(r, h);
	*frac = (int32_t)rd32(r, h + 4);
	if (!r->nsec)
		*frac *= 1000;
	*caplen = cl > r->snapshot ? r->snapshot : cl;
	*data = h + 16;
	r->lo += 16 + (size_t)cl;
	return 1;
rerr:
	snprintf(ebuf, PCAP_ERRBUF_SIZE, "error reading dump file: %s", strerror(errno));
	return -1;
}

static int run_file(struct qctx *q, const char *path)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct rawpcap r;
	int rc = raw_open(q, path, &r);

	if (rc < 0) {
		fprintf(q->err, "kflcap-query: %s: %s\n", path, strerror(ENOMEM));
		return -1;
	}
	if (rc == 0)
		return run_file_pcap(q, path);
	q->files++;
	for (;;) {
		int64_t sec, frac;
		uint32_t caplen;
		const uint8_t *d;

		rc = raw_next(&r, q->n_burst > 0, &sec, &frac, &caplen, &d, ebuf);
		if (rc == 2) {
			flush_burst(q);
			continue;
		}
		if (rc != 1 || add_packet(q, DLT_EN10MB, sec, frac, caplen, d) != 0)
			break;
	}
	flush_burst(q);
	if (rc == -1)
		fprintf(q->err, "kflcap-query: %s: %s (read up to the damage)\n", path, ebuf);
	raw_close(&r);
	return 0;
}

static int is_capture_name(const char *n)
{
	static const char *const ext[] = {".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz"};
	size_t l = strlen(n), i;

	for (i = 0; i < KC_ARRAY_SIZE(ext); i++) {
		size_t e = strlen(ext[i]);

		if (l > e && strcmp(n + l - e, ext[i]) == 0)
			return 1;
	}
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's captures, in name order (snapshots sort by time). */
static int run_path(struct qctx *q, const char *path)
{
	struct stat st;
	DIR *dir;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;
	int rc = 0;

	if (stat(path, &st) != 0) {
		fprintf(q->err, "kflcap-query: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(q, path);
	dir = opendir(path);
	if (dir == NULL) {
		fprintf(q->err, "kflcap-query: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		char **nn;

		if (de->d_name[0] == '.')
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		if (nn == NULL)
			break;
		names = nn;
		if (asprintf(&names[n], "%s/%s", path, de->d_name) < 0)
			break;
		n++;
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		if (stat(names[i], &st) == 0 && (S_ISDIR(st.st_mode) || is_capture_name(names[i])))
			rc |= run_path(q, names[i]);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* gs://BUCKET/PREFIX or s3://BUCKET/PREFIX: fetch the snapshots (with the
 * recorder's credentials, from the environment: GCS_SA_KEY_JSON, or
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) into a temporary directory,
 * through the remote module (query.h), loaded on first use. */
static int fetch_remote(struct qctx *q, const char *url, char *dir, size_t cap)
{
	static kq_remote_fetch_fn fetch;
	char path[4096];
	void *h = NULL;
	ssize_t n;

	if (fetch == NULL) {
		/* next to the executable (build tree, relocated installs), then
		 * where meson installs it */
		n = readlink("/proc/self/exe", path, sizeof(path) - sizeof(KQ_REMOTE_MODULE) - 1);
		if (n > 0) {
			char *slash;

			path[n] = '\0';
			slash = strrchr(path, '/');
			if (slash != NULL) {
				strcpy(slash + 1, KQ_REMOTE_MODULE);
				h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
			}
		}
		if (h == NULL)
			h = dlopen(KQ_MODULE_DIR "/" KQ_REMOTE_MODULE, RTLD_NOW | RTLD_LOCAL);
		if (h != NULL)
			fetch = (kq_remote_fetch_fn)dlsym(h, "kq_remote_fetch");
		if (fetch == NULL) {
			fprintf(q->err, "kflcap-query: %s: remote storage support not available (%s)\n", url,
				h == NULL ? dlerror() : "kq_remote_fetch missing");
			return -1;
		}
	}
	return fetch(q->o, url, dir, cap, q->err);
}

static void remove_tree(const char *dir)
{
	char cmd[4200];

	/* Our own mkdtemp directory: a plain rm -r is the simplest exact tool. */
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "kflcap-query: could not remove %s\n", dir);
}

static int run_input(struct qctx *q, const char *in)
{
	char dir[4096];
	int rc;

	if (strncmp(in, "gs://", 5) != 0 && strncmp(in, "s3://", 5) != 0)
		return run_path(q, in);
	if (fetch_remote(q, in, dir, sizeof(dir)) != 0)
		return -1;
	rc = run_path(q, dir);
	remove_tree(dir);
	return rc;
}

static uint64_t input_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && !S_ISDIR(st.st_mode) ? (uint64_t)st.st_size : 0;
}

static int cmp_pkt(const void *a, const void *b)
{
	const struct qpkt *x = *(struct qpkt *const *)a, *y = *(struct qpkt *const *)b;

	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int write_recorded(struct qctx *q)
{
	struct kc_err e = {{0}};
	struct kc_pcap_writer *w;
	size_t i;
	int rc = 0;

	qsort(q->rec, q->n_rec, sizeof(*q->rec), cmp_pkt);
	w = kc_pcap_writer_open(q->o->write, KC_PCAP_W_NS, 0, &e);
	if (w == NULL) {
		fprintf(q->err, "kflcap-query: -w %s: %s\n", q->o->write, e.msg);
		return -1;
	}
	for (i = 0; i < q->n_rec && rc == 0; i++)
		rc = kc_pcap_writer_write(w, q->rec[i]->ts_ns, q->rec[i]->data, q->rec[i]->len, q->rec[i]->len);
	if (kc_pcap_writer_close(w) != 0 || rc != 0) {
		fprintf(q->err, "kflcap-query: -w %s: write failed\n", q->o->write);
		return -1;
	}
	return 0;
}

int kq_mode_pcap(const struct kq_opts *o, FILE *out, FILE *err)
{
	static const struct kc_engine_ops ops = {
		.record = on_record, .release = on_release, .item = on_item,
	};
	static struct qctx q;
	struct kc_engine_filter flt = {0};
	_Atomic(struct kc_engine_filter *) fp;
	struct kc_engine_cfg ec;
	uint64_t seed;
	size_t i;
	int rc = 0;

	memset(&q, 0, sizeof(q));
	q.o = o;
	q.out = out;
	q.err = err;
	/* Items are about 1 KiB: a pipe's or a file's default 4 KiB buffer made
	 * a write() every four items. A terminal keeps its line buffering. The
	 * buffer outlives this call (stdout is flushed at exit): static. */
	if (!isatty(fileno(out))) {
		static char obuf[256u << 10];

		setvbuf(out, obuf, _IOFBF, sizeof(obuf));
	}
	if (o->kfl[0] != '\0') {
		q.prog = kq_compile(o->kfl, err);
		if (q.prog == NULL)
			return KQ_EXIT_FAIL;
	}
	q.scratch = kc_kfl_scratch_create(0);
	memset(&ec, 0, sizeof(ec));
	ec.flow.capacity = 1u << 18; /* concurrent flows; beyond, the longest idle is evicted (counted) */
	ec.flow.timeout_us[KC_FLOW_T_OPENING] = 30000000u;
	ec.flow.timeout_us[KC_FLOW_T_ESTABLISHED] = 600000000u;
	ec.flow.timeout_us[KC_FLOW_T_CLOSED] = 10000000u;
	ec.flow.timeout_us[KC_FLOW_T_UDP] = 60000000u;
	ec.defrag.max_datagrams = 256;
	ec.defrag.timeout_us = 30000000u;
	ec.dissect = true;
	kc_reasm_cfg_default(&ec.reasm);
	kc_dissect_cfg_default(&ec.dissect_cfg);
	ec.dissect_cfg.max_flows = 1u << 17;
	ec.expire_budget = 256;
	/* -w keeps whole streams: retention as wide as the capture. */
	if (o->write != NULL) {
		flt.prog = q.prog;
		flt.version = 1;
		atomic_init(&fp, q.prog ? &flt : NULL);
		ec.filter = &fp;
		ec.record_all = q.prog == NULL;
		ec.retain.window_us = UINT64_MAX / 4;
		ec.retain.max_pkts_stream = 1u << 20;
		ec.retain.max_bytes_stream = 1ull << 32;
		ec.retain.max_pkts_core = 1u << 22;
	}
	/* Secret flow-hash keys: a hostile capture cannot aim its flows at one
	 * probe run of the table. Output order does not depend on them. */
	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	kc_flow_hash_seed(seed);
	q.eng = kc_engine_create(&ec, &ops, &q);
	if (q.eng == NULL || q.scratch == NULL) {
		fprintf(err, "kflcap-query: engine: %s\n", strerror(errno));
		return KQ_EXIT_FAIL;
	}
	for (i = 0; i < o->n_inputs; i++)
		q.total_bytes += input_size(o->inputs[i]);
	for (i = 0; i < o->n_inputs; i++)
		if (run_input(&q, o->inputs[i]) != 0)
			rc = KQ_EXIT_FAIL;
	kc_engine_flush(q.eng);
	if (o->write != NULL && write_recorded(&q) != 0)
		rc = KQ_EXIT_FAIL;
	progress(&q, true);
	if (!o->quiet)
		fprintf(err, "kflcap-query: %" PRIu64 " files, %" PRIu64 " packets, %" PRIu64 " items, %" PRIu64
			" matching%s%s, %" PRIu64 " packets of other link types skipped\n", q.files, q.pkts, q.items,
			q.matches, o->write ? ", packets written to " : "", o->write ? o->write : "", q.skipped_link);
	for (i = 0; i < q.n_rec; i++)
		free(q.rec[i]);
	free(q.rec);
	kc_engine_destroy(q.eng);
	free(q.rbuf);
	kc_kfl_scratch_free(q.scratch);
	kc_kfl_prog_free(q.prog);
	fflush(out);
	return rc;
}
