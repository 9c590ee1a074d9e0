/*
 * kflcap-query: check KFL filters and run them over JSON items offline.
 * Options only; the work is in the mode files (query.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "query.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kflcap-query --check 'EXPR'\n"
		"       kflcap-query [--kfl 'EXPR'] --items FILE.jsonl|-\n"
		"       kflcap-query [--kfl 'EXPR'] -r FILE|DIR [-r ...] [-w OUT.pcap] [--table]\n"
		"\n"
		"  --check EXPR     validate a KFL filter; print it normalised (exit 0)\n"
		"                   or the error with a caret under the column (exit 1)\n"
		"  --kfl EXPR       filter for --items (default: everything)\n"
		"  --items FILE     JSON items, one per line ('-' = stdin); print those\n"
		"                   that match, redacted when the filter uses redact(),\n"
		"                   stopping after limit(n) matches; malformed lines are\n"
		"                   counted and reported on stderr\n"
		"  -r FILE|DIR      run kflcap's decode, reassembly and dissection over a\n"
		"                   capture (pcap, pcapng, .gz) or every capture in a\n"
		"                   directory; print the matching items as JSON lines\n"
		"  -w OUT.pcap      with -r: write every packet of each stream that has a\n"
		"                   matching item (whole streams, time-ordered)\n"
		"  --table          with -r: one readable row per item instead of JSON\n"
		"  --no-items       with -r -w: do not print items\n"
		"  -r gs://BUCKET/PREFIX, -r s3://BUCKET/PREFIX\n"
		"                   fetch recorded snapshots first, with the recorder's\n"
		"                   credentials from the environment (GCS_SA_KEY_JSON;\n"
		"                   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)\n"
		"  --gcs-endpoint URL, --s3-endpoint URL, --s3-path-style, --ca-file FILE\n"
		"                   for S3-compatible stores and test servers\n"
		"  -q, --quiet      no summary line on stderr\n"
		"  -h, --help       this text\n"
		"  -V, --version    version\n"
		"\n"
		"exit status: 0 ok, 1 invalid filter or I/O error, 2 usage\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "check", required_argument, NULL, 'c' },
		{ "kfl", required_argument, NULL, 'k' },
		{ "items", required_argument, NULL, 'i' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "read", required_argument, NULL, 'r' },
		{ "write", required_argument, NULL, 'w' },
		{ "table", no_argument, NULL, 't' },
		{ "no-items", no_argument, NULL, 'n' },
		{ "gcs-endpoint", required_argument, NULL, 'G' },
		{ "s3-endpoint", required_argument, NULL, 'S' },
		{ "s3-path-style", no_argument, NULL, 'P' },
		{ "ca-file", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct kq_opts o = { .kfl = NULL };
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "qhVr:w:", lopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (o.mode != KQ_MODE_NONE || o.kfl != NULL)
				goto bad;
			o.mode = KQ_MODE_CHECK;
			o.kfl = optarg;
			break;
		case 'k':
			if (o.mode == KQ_MODE_CHECK || o.kfl != NULL)
				goto bad;
			o.kfl = optarg;
			break;
		case 'i':
			if (o.mode != KQ_MODE_NONE)
				goto bad;
			o.mode = KQ_MODE_ITEMS;
			o.input = optarg;
			break;
		case 'r':
			if ((o.mode != KQ_MODE_NONE && o.mode != KQ_MODE_PCAP) || o.n_inputs == KQ_MAX_INPUTS)
				goto bad;
			o.mode = KQ_MODE_PCAP;
			o.inputs[o.n_inputs++] = optarg;
			break;
		case 'w': o.write = optarg; break;
		case 't': o.table = 1; break;
		case 'n': o.write_only = 1; break;
		case 'G': o.gcs_endpoint = optarg; break;
		case 'S': o.s3_endpoint = optarg; break;
		case 'P': o.s3_path_style = 1; break;
		case 'C': o.ca_file = optarg; break;
		case 'q': o.quiet = 1; break;
		case 'h': usage(stdout); return KQ_EXIT_OK;
		case 'V': printf("kflcap-query %s\n", KC_VERSION); return KQ_EXIT_OK;
		default:
			fprintf(stderr, "kflcap-query: unknown or incomplete option '%s'\n",
				argv[optind - 1]);
			usage(stderr);
			return KQ_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "kflcap-query: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return KQ_EXIT_USAGE;
	}
	switch (o.mode) {
	case KQ_MODE_CHECK: return kq_mode_check(&o, stdout, stderr);
	case KQ_MODE_ITEMS:
		if (o.kfl == NULL)
			o.kfl = "";
		return kq_mode_items(&o, stdout, stderr);
	case KQ_MODE_PCAP:
		if (o.kfl == NULL)
			o.kfl = "";
		return kq_mode_pcap(&o, stdout, stderr);
	default: break;
	}
bad:
	fprintf(stderr, "kflcap-query: choose one mode: --check EXPR, [--kfl EXPR] --items FILE, "
		"or [--kfl EXPR] -r CAPTURE\n");
	usage(stderr);
	return KQ_EXIT_USAGE;
}
