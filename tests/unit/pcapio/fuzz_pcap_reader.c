/*
 * Fuzz target: the pcap reader, the append-reopen validation and the merger
 * on arbitrary (possibly torn or corrupt) stream files.
 *
 * Input layout: byte 0 = flags, the rest = the content of a stream file.
 *   bit 0: also merge the file with itself (two inputs) into a capture
 *   bit 1: merge output is pcapng (with a comment per input and one NRB name)
 *   bit 2: merge output is gzip-compressed
 *   bit 3: reopen the file with KC_PCAP_W_APPEND|KC_PCAP_W_REPAIR and append
 *          one packet, then read it again: it must end without a torn tail
 * Invariants: the reader returns records whose caplen <= KC_PCAP_SNAPLEN; the
 * merge succeeds and writes exactly twice the records the reader saw (none
 * for a link type other than Ethernet, which the merger skips).
 *
 * Built with -Dfuzz=true (clang, libFuzzer); otherwise the same file builds a
 * replay driver (KC_FUZZ_STANDALONE) that runs the seed corpus.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kc_pcapio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static bool ethernet;

static void cleanup(void)
{
	static const char *const names[] = { "in.pcap", "out", "out.tmp" };
	char p[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

static long read_all(const char *path, bool *torn)
{
	struct kc_pcap_reader *r = kc_pcap_reader_open(path, NULL);
	struct kc_pcap_rec rec;
	long n = 0;
	int rc;

	if (r == NULL)
		return -1;
	ethernet = kc_pcap_reader_linktype(r) == KC_PCAP_LINKTYPE_ETHERNET;
	while ((rc = kc_pcap_reader_next(r, &rec)) == 1) {
		if (rec.caplen > KC_PCAP_SNAPLEN)
			abort();
		n++;
	}
	*torn = kc_pcap_reader_truncated(r);
	kc_pcap_reader_close(r);
	return rc < 0 ? -2 - n : n; /* a corrupt record: how many came before */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[128], out[128];
	uint8_t flags;
	long n;
	bool torn = false;
	int fd;

	if (size < 1 || size > (1u << 20))
		return 0;
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/kc-fuzz-pcap-XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
		atexit(cleanup);
	}
	flags = data[0];
	snprintf(in, sizeof(in), "%s/in.pcap", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	fd = open(in, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	close(fd);
	n = read_all(in, &torn);
	if (flags & 1) {
		struct kc_pcap_merge_input mi[2] = {
			{ .path = in, .comment = "a" }, { .path = in, .comment = "b" },
		};
		struct kc_pcap_name nm = { .family = AF_INET, .name = "x.example" };
		struct kc_pcap_merge_opts o = {
			.format = (flags & 2) ? KC_PCAP_FMT_PCAPNG : KC_PCAP_FMT_PCAP,
			.gzip = (flags & 4) != 0, .names = &nm, .n_names = 1,
		};
		struct kc_pcap_merge_stats st;

		if (kc_pcap_merge(mi, 2, out, &o, &st, NULL) != 0)
			abort();
		if (!ethernet && st.packets != 0)
			abort(); /* other link types are skipped */
		if (ethernet && n >= 0 && st.packets != (uint64_t)(2 * n))
			abort();
		if (ethernet && n <= -2 && st.packets != (uint64_t)(2 * (-2 - n)))
			abort();
	}
	if (flags & 8) {
		struct kc_pcap_writer *w = kc_pcap_writer_open(
			in, KC_PCAP_W_APPEND | KC_PCAP_W_REPAIR, 0, NULL);

		if (w != NULL) {
			static const uint8_t pkt[60];

			if (kc_pcap_writer_write(w, 1, pkt, sizeof(pkt), sizeof(pkt)) != 0)
				abort();
			if (kc_pcap_writer_close(w) != 0)
				abort();
			n = read_all(in, &torn);
			if (torn)
				abort();
		}
	}
	return 0;
}

#ifdef KC_FUZZ_STANDALONE
#include "fuzz_replay.h"
#endif
