/* kflcap's own command line (the part after EAL's `--`). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kflcap.h"

enum {
	OPT_OUT = 256,
	OPT_RECORD_ALL,
	OPT_CONFIG,
	OPT_RXQ,
	OPT_MBUFS,
	OPT_RING,
	OPT_FLOWS,
	OPT_TO_OPEN,
	OPT_TO_EST,
	OPT_TO_CLOSED,
	OPT_TO_UDP,
	OPT_MAX_OPEN,
	OPT_STATUS,
	OPT_DEFRAG,
	OPT_KFL,
	OPT_ITEMS,
	OPT_RETAIN_S,
	OPT_RETAIN_PKTS,
	OPT_RETAIN_BYTES,
	OPT_RETAIN_SHARE,
	OPT_RING_FULL,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option long_opts[] = {
	{"out", required_argument, NULL, OPT_OUT},
	{"record-all", no_argument, NULL, OPT_RECORD_ALL},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"rxq", required_argument, NULL, OPT_RXQ},
	{"mbufs", required_argument, NULL, OPT_MBUFS},
	{"ring-size", required_argument, NULL, OPT_RING},
	{"flow-table-size", required_argument, NULL, OPT_FLOWS},
	{"timeout-tcp-opening", required_argument, NULL, OPT_TO_OPEN},
	{"timeout-tcp-established", required_argument, NULL, OPT_TO_EST},
	{"timeout-tcp-closed", required_argument, NULL, OPT_TO_CLOSED},
	{"timeout-udp", required_argument, NULL, OPT_TO_UDP},
	{"max-open-files", required_argument, NULL, OPT_MAX_OPEN},
	{"status-interval", required_argument, NULL, OPT_STATUS},
	{"defrag-max", required_argument, NULL, OPT_DEFRAG},
	{"kfl", required_argument, NULL, OPT_KFL},
	{"items", required_argument, NULL, OPT_ITEMS},
	{"retain-seconds", required_argument, NULL, OPT_RETAIN_S},
	{"retain-max-packets", required_argument, NULL, OPT_RETAIN_PKTS},
	{"retain-max-bytes", required_argument, NULL, OPT_RETAIN_BYTES},
	{"retain-mbuf-share", required_argument, NULL, OPT_RETAIN_SHARE},
	{"ring-full", required_argument, NULL, OPT_RING_FULL},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

void kc_opts_usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- [kflcap options]\n"
	       "\n"
	       "Records TCP/UDP streams seen on DPDK ports as one pcap per stream.\n"
	       "\n"
	       "  --out DIR                    data directory (default ./kflcap-out); streams go to DIR/live\n"
	       "  --record-all                 record every TCP/UDP stream (full capture)\n"
	       "  --kfl EXPR                   record every stream with an item matching this KFL filter\n"
	       "                               (env RECORDING_KFL; e.g. 'http or dns')\n"
	       "  --items FILE                 write every dissected item as a JSON line (Kubeshark entry shape)\n"
	       "  --retain-seconds S           keep unmatched streams' packets this long (default 10)\n"
	       "  --retain-max-packets N       ... at most N packets per stream (default 2048)\n"
	       "  --retain-max-bytes N         ... at most N bytes per stream (default 4194304)\n"
	       "  --retain-mbuf-share PCT      ... at most PCT%% of the mbuf pool in all (default 50)\n"
	       "  --config FILE                JSON configuration file\n"
	       "  --rxq N                      RX queues per RSS-capable port (default: one per worker)\n"
	       "  --mbufs N                    mbufs in the packet pool (default 65535)\n"
	       "  --ring-size N                worker-to-management ring entries, power of 2 (default 4096)\n"
	       "  --flow-table-size N          flows per worker (default %u)\n"
	       "  --timeout-tcp-opening S      idle timeout of TCP flows in handshake (default %u)\n"
	       "  --timeout-tcp-established S  idle timeout of established TCP flows (default %u)\n"
	       "  --timeout-tcp-closed S       idle timeout after FIN/FIN or RST (default %u)\n"
	       "  --timeout-udp S              idle timeout of UDP flows (default %u)\n"
	       "  --ring-full drop|wait        when the management lcore falls behind: drop and count (live\n"
	       "                               default) or wait (default when every input is a pcap file)\n"
	       "  --max-open-files N           stream files kept open at once (default 512)\n"
	       "  --defrag-max N               IP datagrams in reassembly per worker (default 64)\n"
	       "  --status-interval S          one status line every S seconds, 0 = off (default 5 on a terminal)\n"
	       "  --help, --version\n"
	       "\n"
	       "Examples:\n"
	       "  %s -l 0-1 --no-pci --vdev net_pcap0,rx_pcap=trace.pcap -- --record-all --out ./rec\n"
	       "  %s -l 0-2 --no-pci --vdev net_af_packet0,iface=veth1 -- --record-all --out ./rec\n",
	       prog, KC_FLOW_DEFAULT_CAPACITY, KC_FLOW_DEFAULT_TIMEOUT_OPENING_S,
	       KC_FLOW_DEFAULT_TIMEOUT_ESTABLISHED_S, KC_FLOW_DEFAULT_TIMEOUT_CLOSED_S,
	       KC_FLOW_DEFAULT_TIMEOUT_UDP_S, prog, prog);
}

static int get_u32(const char *name, const char *v, uint64_t min, uint64_t max, uint32_t *out)
{
	uint64_t x;
	int rc = kc_parse_u64(v, min, max, &x);

	if (rc != 0) {
		fprintf(stderr, "kflcap: --%s '%s': %s (allowed %llu..%llu)\n", name, v,
			rc == -ERANGE ? "out of range" : "not a whole number",
			(unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = (uint32_t)x;
	return 0;
}

static void set_defaults(struct kc_opts *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->out_dir, sizeof(o->out_dir), "./kflcap-out");
	o->mbufs = 65535;
	o->ring_size = 4096;
	o->flow_table_size = KC_FLOW_DEFAULT_CAPACITY;
	o->timeout_s[KC_FLOW_T_OPENING] = KC_FLOW_DEFAULT_TIMEOUT_OPENING_S;
	o->timeout_s[KC_FLOW_T_ESTABLISHED] = KC_FLOW_DEFAULT_TIMEOUT_ESTABLISHED_S;
	o->timeout_s[KC_FLOW_T_CLOSED] = KC_FLOW_DEFAULT_TIMEOUT_CLOSED_S;
	o->timeout_s[KC_FLOW_T_UDP] = KC_FLOW_DEFAULT_TIMEOUT_UDP_S;
	o->max_open_files = 512;
	o->defrag_max = 64;
	o->status_interval_s = isatty(1) ? 5 : 0;
	o->retain_seconds = 10;
	o->retain_max_packets = 2048;
	o->retain_max_bytes = 4u << 20;
	o->retain_mbuf_share = 50;
	o->item_msgs = 1023;
	o->ring_full_wait = -1;
	/* The seed's knob; --kfl overrides it. */
	if (getenv("RECORDING_KFL") != NULL) {
		snprintf(o->kfl, sizeof(o->kfl), "%s", getenv("RECORDING_KFL"));
		o->kfl_set = o->kfl[0] != '\0';
	}
}

/* @return 0 to run, 1 to exit 0 (help/version), -1 on a bad option. */
int kc_opts_parse(int argc, char **argv, struct kc_opts *o)
{
	const char *prog = argc > 0 ? argv[0] : "kflcap";
	int c;

	set_defaults(o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		int rc = 0;

		switch (c) {
		case OPT_OUT:
			if (strlen(optarg) >= sizeof(o->out_dir) - 64) {
				fprintf(stderr, "kflcap: --out: path too long\n");
				return -1;
			}
			snprintf(o->out_dir, sizeof(o->out_dir), "%s", optarg);
			break;
		case OPT_RECORD_ALL:
			o->record_all = true;
			break;
		case OPT_CONFIG:
			snprintf(o->config_file, sizeof(o->config_file), "%s", optarg);
			break;
		case OPT_RXQ:
			rc = get_u32("rxq", optarg, 0, 64, &o->rxq);
			break;
		case OPT_MBUFS:
			rc = get_u32("mbufs", optarg, 1024, 16u << 20, &o->mbufs);
			break;
		case OPT_RING:
			rc = get_u32("ring-size", optarg, 64, 1u << 20, &o->ring_size);
			if (rc == 0 && (o->ring_size & (o->ring_size - 1)) != 0) {
				fprintf(stderr, "kflcap: --ring-size %u: must be a power of 2\n", o->ring_size);
				rc = -1;
			}
			break;
		case OPT_FLOWS:
			rc = get_u32("flow-table-size", optarg, 16, 1u << 26, &o->flow_table_size);
			break;
		case OPT_TO_OPEN:
			rc = get_u32("timeout-tcp-opening", optarg, 1, 86400, &o->timeout_s[KC_FLOW_T_OPENING]);
			break;
		case OPT_TO_EST:
			rc = get_u32("timeout-tcp-established", optarg, 1, 86400, &o->timeout_s[KC_FLOW_T_ESTABLISHED]);
			break;
		case OPT_TO_CLOSED:
			rc = get_u32("timeout-tcp-closed", optarg, 1, 86400, &o->timeout_s[KC_FLOW_T_CLOSED]);
			break;
		case OPT_TO_UDP:
			rc = get_u32("timeout-udp", optarg, 1, 86400, &o->timeout_s[KC_FLOW_T_UDP]);
			break;
		case OPT_MAX_OPEN:
			rc = get_u32("max-open-files", optarg, 4, 65536, &o->max_open_files);
			break;
		case OPT_STATUS:
			rc = get_u32("status-interval", optarg, 0, 3600, &o->status_interval_s);
			break;
		case OPT_DEFRAG:
			rc = get_u32("defrag-max", optarg, 1, 4096, &o->defrag_max);
			break;
		case OPT_KFL:
			if (strlen(optarg) >= sizeof(o->kfl)) {
				fprintf(stderr, "kflcap: --kfl: filter longer than %zu bytes\n", sizeof(o->kfl) - 1);
				return -1;
			}
			snprintf(o->kfl, sizeof(o->kfl), "%s", optarg);
			o->kfl_set = o->kfl[0] != '\0';
			break;
		case OPT_ITEMS:
			snprintf(o->items_file, sizeof(o->items_file), "%s", optarg);
			break;
		case OPT_RETAIN_S:
			rc = get_u32("retain-seconds", optarg, 0, 3600, &o->retain_seconds);
			break;
		case OPT_RETAIN_PKTS:
			rc = get_u32("retain-max-packets", optarg, 8, 1u << 20, &o->retain_max_packets);
			break;
		case OPT_RETAIN_BYTES:
			rc = get_u32("retain-max-bytes", optarg, 4096, 1u << 30, &o->retain_max_bytes);
			break;
		case OPT_RETAIN_SHARE:
			rc = get_u32("retain-mbuf-share", optarg, 1, 90, &o->retain_mbuf_share);
			break;
		case OPT_RING_FULL:
			if (strcmp(optarg, "drop") == 0) {
				o->ring_full_wait = 0;
			} else if (strcmp(optarg, "wait") == 0) {
				o->ring_full_wait = 1;
			} else {
				fprintf(stderr, "kflcap: --ring-full '%s': expected drop or wait\n", optarg);
				return -1;
			}
			break;
		case OPT_HELP:
			kc_opts_usage(prog);
			return 1;
		case OPT_VERSION:
			printf("kflcap %s\n", KC_VERSION);
			return 1;
		default:
			fprintf(stderr, "kflcap: unknown option; see --help\n");
			return -1;
		}
		if (rc != 0)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "kflcap: unexpected argument '%s'; see --help\n", argv[optind]);
		return -1;
	}
	return 0;
}
