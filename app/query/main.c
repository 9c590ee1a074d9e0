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
		"\n"
		"  --check EXPR     validate a KFL filter; print it normalised (exit 0)\n"
		"                   or the error with a caret under the column (exit 1)\n"
		"  --kfl EXPR       filter for --items (default: everything)\n"
		"  --items FILE     JSON items, one per line ('-' = stdin); print those\n"
		"                   that match, redacted when the filter uses redact(),\n"
		"                   stopping after limit(n) matches; malformed lines are\n"
		"                   counted and reported on stderr\n"
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
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct kq_opts o = { .kfl = NULL };
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "qhV", lopts, NULL)) != -1) {
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
	default: break;
	}
bad:
	fprintf(stderr, "kflcap-query: choose one mode: --check EXPR, or [--kfl EXPR] --items FILE\n");
	usage(stderr);
	return KQ_EXIT_USAGE;
}
