/**
 * @file
 * kflcap-query: the KFL engine without EAL or hugepages. main.c parses the
 * options into struct kq_opts and runs one mode; each mode lives in its own
 * file (mode_check.c, mode_items.c; a pcap mode `-r FILE` slots in the same
 * way: add a KQ_MODE_*, its option, and a kq_mode_*() file).
 *
 * Exit status of every mode: KQ_EXIT_OK, KQ_EXIT_FAIL (invalid filter, I/O
 * error), KQ_EXIT_USAGE (bad command line).
 */
#ifndef KC_QUERY_H
#define KC_QUERY_H

#include <stdio.h>

#include "kc_kfl.h"

enum kq_exit {
	KQ_EXIT_OK = 0,
	KQ_EXIT_FAIL = 1,
	KQ_EXIT_USAGE = 2,
};

enum kq_mode {
	KQ_MODE_NONE = 0,
	KQ_MODE_CHECK, /**< --check EXPR */
	KQ_MODE_ITEMS, /**< --kfl EXPR --items FILE */
	KQ_MODE_PCAP,  /**< [--kfl EXPR] -r FILE|DIR ... [-w OUT] [--table] */
};

#define KQ_MAX_INPUTS 256

struct kq_opts {
	enum kq_mode mode;
	const char *kfl;   /**< filter text ("" = everything) */
	const char *input; /**< --items FILE, "-" = stdin */
	int quiet;         /**< --quiet: no summary on stderr */
	const char *inputs[KQ_MAX_INPUTS]; /**< -r: captures or directories */
	size_t n_inputs;
	const char *write; /**< -w OUT.pcap: packets of streams with a match */
	int table;         /**< --table: readable rows instead of JSON */
	int write_only;    /**< -w without printing items (--no-items) */
	const char *gcs_endpoint, *s3_endpoint, *ca_file; /**< for -r gs:// and s3:// */
	int s3_path_style;
};

/** Compile o->kfl, printing the error to @p err on failure.
 *  @return the program, or NULL (error printed). */
struct kc_kfl_prog *kq_compile(const char *text, FILE *err);

/** --check: print the normalised filter (exit 0) or the error (exit 1). */
int kq_mode_check(const struct kq_opts *o, FILE *out, FILE *err);

/** --items: print each JSON line of o->input that matches, one per line;
 *  malformed lines are counted and reported on @p err. */
int kq_mode_items(const struct kq_opts *o, FILE *out, FILE *err);

/** -r: run the recorder's engine over captures; print matching items and
 *  optionally write the packets of every stream with a match. */
int kq_mode_pcap(const struct kq_opts *o, FILE *out, FILE *err);

/** -r gs://... or s3://...: fetch the objects under @p url into a new
 *  temporary directory, its path written to @p dir (@p cap bytes), with the
 *  credentials of the environment and the endpoints of @p o. Lives in the
 *  module kflcap-query-remote.so (remote.c), loaded by mode_pcap.c when
 *  needed: libcurl stays out of every local run.
 *  @return 0, or -1 (error printed to @p err). */
int kq_remote_fetch(const struct kq_opts *o, const char *url, char *dir, size_t cap, FILE *err);
typedef int (*kq_remote_fetch_fn)(const struct kq_opts *o, const char *url, char *dir, size_t cap,
				  FILE *err);

/** File name of the remote module, looked for next to the executable, then
 *  in KQ_MODULE_DIR (the install directory). */
#define KQ_REMOTE_MODULE "kflcap-query-remote.so"

#endif /* KC_QUERY_H */
