/*
 * kflcap's own command line (the part after EAL's `--`) and its
 * configuration: defaults, then the JSON file of --config, then the
 * environment (RECORDING_KFL, GCS_BUCKET, GCS_SA_KEY_JSON, KFLCAP_<KEY>),
 * then the command line (lib/config applies the precedence and validates).
 *
 * Every configuration key is also an option: key flow_table_size is
 * --flow-table-size N (or --flow-table-size=N); a boolean key alone means
 * true. A few short names of the first release stay as aliases.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kflcap.h"
#include "kc_config.h"

static const struct {
	const char *opt;
	const char *key;
} aliases[] = {
	{"out", "out_dir"},
	{"items", "items_log"},
	{"timeout-tcp-opening", "flow_timeout_tcp_syn_s"},
	{"timeout-tcp-established", "flow_timeout_tcp_established_s"},
	{"timeout-tcp-closed", "flow_timeout_tcp_closed_s"},
	{"timeout-udp", "flow_timeout_udp_s"},
	{"retain-max-packets", "retain_max_packets_per_stream"},
	{"retain-max-bytes", "retain_max_bytes_per_stream"},
	{"retain-mbuf-share", "retain_max_mbuf_share_pct"},
	{"status-interval", "status_interval_s"},
};

void kc_opts_usage(const char *prog)
{
	size_t i;

	printf("Usage: %s [EAL options] -- [kflcap options]\n"
	       "\n"
	       "Records TCP/UDP streams seen on DPDK ports: every stream (--record-all) or\n"
	       "those with an item matching a KFL filter (--kfl), one pcap per stream,\n"
	       "rolled into periodic snapshots and shipped to storage.\n"
	       "\n"
	       "  --config FILE          JSON configuration file (every key below)\n"
	       "  --print-config         print the effective configuration (secrets masked) and exit\n"
	       "  --ring-full drop|wait  management lcore behind: drop and count (live default) or\n"
	       "                         wait (default when every input is a pcap file)\n"
	       "  --defrag-max N         IP datagrams in reassembly per worker (default 64)\n"
	       "  --no-dissect           decode and follow flows only: no items, filter or names\n"
	       "                         (fastest --record-all; SIGHUP cannot add a filter then)\n"
	       "  --no-snapshot          keep one pcap per stream in OUT/live: no snapshot job, no\n"
	       "                         uploads (for tools that want the stream files themselves)\n"
	       "  --help, --version\n"
	       "\n"
	       "Configuration keys, as options (--key-name VALUE; environment KFLCAP_KEY_NAME):\n",
	       prog);
	for (i = 0; i < kc_config_key_count(); i++) {
		const struct kc_config_key *k = kc_config_key_at(i);
		char opt[96];
		char *c;

		snprintf(opt, sizeof(opt), "--%s", k->name);
		for (c = opt + 2; *c; c++)
			if (*c == '_')
				*c = '-';
		printf("  %-34s %s%s%s%s\n", opt, k->help, k->def && k->def[0] ? " [" : "",
		       k->def && k->def[0] && !k->secret ? k->def : "", k->def && k->def[0] ? "]" : "");
	}
	printf("\nAliases: --out = --out-dir, --items = --items-log, --timeout-* = --flow-timeout-*.\n"
	       "\nExamples:\n"
	       "  %s -l 0-1 --no-pci --vdev net_pcap0,rx_pcap=trace.pcap -- --record-all --out ./rec\n"
	       "  %s -l 0-2 --no-pci --vdev net_af_packet0,iface=veth1 -- --kfl 'http or dns' --out ./rec\n",
	       prog, prog);
}

static const char *key_of_option(const char *name, char *buf, size_t cap)
{
	size_t i;
	char *c;

	for (i = 0; i < KC_ARRAY_SIZE(aliases); i++)
		if (strcmp(name, aliases[i].opt) == 0)
			return aliases[i].key;
	snprintf(buf, cap, "%s", name);
	for (c = buf; *c; c++)
		if (*c == '-')
			*c = '_';
	return kc_config_key_find(buf) ? buf : NULL;
}

static int app_option(struct kc_opts *o, const char *name, const char *val)
{
	uint64_t x;

	if (strcmp(name, "ring-full") == 0) {
		if (strcmp(val, "drop") == 0)
			o->ring_full_wait = 0;
		else if (strcmp(val, "wait") == 0)
			o->ring_full_wait = 1;
		else {
			fprintf(stderr, "kflcap: --ring-full '%s': expected drop or wait\n", val);
			return -1;
		}
		return 0;
	}
	if (strcmp(name, "defrag-max") == 0) {
		if (kc_parse_u64(val, 1, 4096, &x) != 0) {
			fprintf(stderr, "kflcap: --defrag-max '%s': a whole number in 1..4096\n", val);
			return -1;
		}
		o->defrag_max = (uint32_t)x;
		return 0;
	}
	snprintf(o->config_file, sizeof(o->config_file), "%s", val);
	return 0;
}

/* Collect options; values stay pointers into argv (alive for the process). */
static int collect(int argc, char **argv, struct kc_opts *o)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *val = NULL;
		char name[96], kbuf[96];
		const char *key;
		const struct kc_config_key *k;

		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "kflcap: unexpected argument '%s'; see --help\n", a);
			return -1;
		}
		eq = strchr(a, '=');
		snprintf(name, sizeof(name), "%.*s", (int)(eq ? (size_t)(eq - a - 2) : strlen(a + 2)), a + 2);
		if (eq)
			val = eq + 1;
		if (strcmp(name, "no-dissect") == 0) {
			o->no_dissect = true;
			continue;
		}
		if (strcmp(name, "no-snapshot") == 0) {
			o->no_snapshot = true;
			continue;
		}
		if (strcmp(name, "help") == 0 || strcmp(name, "version") == 0 || strcmp(name, "print-config") == 0) {
			if (strcmp(name, "help") == 0)
				o->want_help = true;
			else if (strcmp(name, "version") == 0)
				o->want_version = true;
			else
				o->print_config = true;
			continue;
		}
		key = NULL;
		k = NULL;
		if (strcmp(name, "config") != 0 && strcmp(name, "ring-full") != 0 && strcmp(name, "defrag-max") != 0) {
			key = key_of_option(name, kbuf, sizeof(kbuf));
			if (key == NULL) {
				fprintf(stderr, "kflcap: unknown option --%s; see --help\n", name);
				return -1;
			}
			k = kc_config_key_find(key);
		}
		if (val == NULL) {
			if (k != NULL && k->type == KC_CFG_BOOL) {
				val = "true";
			} else if (i + 1 < argc) {
				val = argv[++i];
			} else {
				fprintf(stderr, "kflcap: --%s needs a value\n", name);
				return -1;
			}
		}
		if (k == NULL) {
			if (app_option(o, name, val) != 0)
				return -1;
			continue;
		}
		if (o->n_cli >= KC_ARRAY_SIZE(o->cli)) {
			fprintf(stderr, "kflcap: too many options\n");
			return -1;
		}
		o->cli[o->n_cli].key = k->name;
		o->cli[o->n_cli].value = val;
		o->n_cli++;
	}
	return 0;
}

struct kc_config *kc_opts_load_config(const struct kc_opts *o, struct kc_err *err)
{
	struct kc_config *cfg = kc_config_load(o->config_file[0] ? o->config_file : NULL, NULL, err);
	size_t i;

	if (cfg == NULL)
		return NULL;
	for (i = 0; i < o->n_cli; i++) {
		if (kc_config_set(cfg, o->cli[i].key, o->cli[i].value, KC_CONFIG_SRC_CLI, err) != 0)
			goto fail;
	}
	if (kc_config_finish(cfg, err) != 0)
		goto fail;
	return cfg;
fail:
	kc_config_free(cfg);
	return NULL;
}

/* The capture options the lcores read, copied out of the configuration. */
void kc_opts_from_config(struct kc_opts *o, const struct kc_config *c)
{
	snprintf(o->out_dir, sizeof(o->out_dir), "%s", c->out_dir);
	o->record_all = c->record_all;
	snprintf(o->kfl, sizeof(o->kfl), "%s", c->kfl);
	o->kfl_set = o->kfl[0] != '\0';
	snprintf(o->items_file, sizeof(o->items_file), "%s", c->items_log);
	o->rxq = (uint32_t)c->rxq;
	o->mbufs = (uint32_t)c->mbufs;
	o->ring_size = (uint32_t)c->ring_size;
	o->flow_table_size = (uint32_t)c->flow_table_size;
	o->timeout_s[KC_FLOW_T_OPENING] = (uint32_t)c->flow_timeout_tcp_syn_s;
	o->timeout_s[KC_FLOW_T_ESTABLISHED] = (uint32_t)c->flow_timeout_tcp_established_s;
	o->timeout_s[KC_FLOW_T_CLOSED] = (uint32_t)c->flow_timeout_tcp_closed_s;
	o->timeout_s[KC_FLOW_T_UDP] = (uint32_t)c->flow_timeout_udp_s;
	o->max_open_files = (uint32_t)c->max_open_files;
	o->retain_seconds = (uint32_t)c->retain_seconds;
	o->retain_max_packets = (uint32_t)KC_MAX(c->retain_max_packets_per_stream, 8);
	o->retain_max_bytes = (uint32_t)KC_MIN(c->retain_max_bytes_per_stream, UINT32_MAX);
	o->retain_mbuf_share = (uint32_t)c->retain_max_mbuf_share_pct;
	/* A status line is for a person at a terminal, unless asked for. */
	o->status_interval_s = (uint32_t)c->status_interval_s;
	if (kc_config_source_of(c, "status_interval_s") == KC_CONFIG_SRC_DEFAULT && !isatty(1))
		o->status_interval_s = 0;
}

/* @return 0 to run, 1 to exit 0 (help, version, print-config), -1 on error. */
int kc_opts_parse(int argc, char **argv, struct kc_opts *o)
{
	const char *prog = argc > 0 ? argv[0] : "kflcap";
	struct kc_err err = {{0}};

	memset(o, 0, sizeof(*o));
	o->defrag_max = 64;
	o->item_msgs = 1023;
	o->ring_full_wait = -1;
	if (collect(argc, argv, o) != 0)
		return -1;
	if (o->want_help) {
		kc_opts_usage(prog);
		return 1;
	}
	if (o->want_version) {
		printf("kflcap %s\n", KC_VERSION);
		return 1;
	}
	o->cfg = kc_opts_load_config(o, &err);
	if (o->cfg == NULL) {
		fprintf(stderr, "kflcap: configuration: %s\n", err.msg);
		return -1;
	}
	if (o->print_config) {
		kc_config_print(o->cfg, stdout);
		putchar('\n');
		return 1;
	}
	kc_opts_from_config(o, o->cfg);
	return 0;
}
