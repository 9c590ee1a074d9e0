/*
 * Benchmark (not a test): writer throughput, then merge throughput for pcap,
 * pcap.gz and pcapng outputs.
 *   bench_merge [streams=200] [packets_per_stream=2000] [payload=600] [dir=/tmp]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kc_pcapio.h"

int main(int argc, char **argv)
{
	unsigned streams = argc > 1 ? (unsigned)atoi(argv[1]) : 200;
	unsigned per = argc > 2 ? (unsigned)atoi(argv[2]) : 2000;
	unsigned pay = argc > 3 ? (unsigned)atoi(argv[3]) : 600;
	const char *base = argc > 4 ? argv[4] : "/tmp";
	char dir[256], cmd[300];
	struct kc_pcap_merge_input *in = calloc(streams, sizeof(*in));
	static uint8_t pkt[9000];
	uint64_t t0, bytes = 0;
	static const struct { const char *name; enum kc_pcap_format f; bool gz; } outs[] = {
		{ "out.pcap", KC_PCAP_FMT_PCAP, false },
		{ "out.pcap.gz", KC_PCAP_FMT_PCAP, true },
		{ "out.pcapng", KC_PCAP_FMT_PCAPNG, false },
	};

	snprintf(dir, sizeof(dir), "%s/kc-bench-XXXXXX", base);
	if (in == NULL || mkdtemp(dir) == NULL)
		return 1;
	for (unsigned i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 7);
	t0 = kc_now_us();
	for (unsigned s = 0; s < streams; s++) {
		char *p;
		struct kc_pcap_writer *w;

		if (asprintf(&p, "%s/s%u.pcap", dir, s) < 0)
			return 1;
		w = kc_pcap_writer_open(p, 0, 0, NULL);
		for (unsigned k = 0; w && k < per; k++) {
			uint64_t ts = 1700000000000000000ull + ((uint64_t)k * streams + s) * 1000;

			if (kc_pcap_writer_write(w, ts, pkt, 54 + pay, 54 + pay) != 0)
				return 1;
		}
		if (kc_pcap_writer_close(w) != 0)
			return 1;
		bytes += 24 + (uint64_t)per * (16 + 54 + pay);
		in[s].path = p;
		in[s].comment = "stream";
	}
	printf("write: %u streams x %u packets, %.1f MB in %.0f ms (%.0f MB/s)\n", streams, per,
	       bytes / 1e6, (kc_now_us() - t0) / 1e3, bytes / (double)(kc_now_us() - t0));
	for (size_t o = 0; o < sizeof(outs) / sizeof(outs[0]); o++) {
		struct kc_pcap_merge_opts opts = { .format = outs[o].f, .gzip = outs[o].gz,
						   .gzip_level = 1 };
		struct kc_pcap_merge_stats st;
		char out[300];
		double ms;

		snprintf(out, sizeof(out), "%s/%s", dir, outs[o].name);
		t0 = kc_now_us();
		if (kc_pcap_merge(in, streams, out, &opts, &st, NULL) != 0)
			return 1;
		ms = (kc_now_us() - t0) / 1e3;
		printf("merge -> %-12s %.1f MB in, %.1f MB out, %.0f ms: %.0f MB/s, %.2f Mpps\n",
		       outs[o].name, bytes / 1e6, st.bytes_out / 1e6, ms, bytes / 1e3 / ms,
		       st.packets / 1e3 / ms);
		unlink(out);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) != 0;
}
