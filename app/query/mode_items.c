/*
 * kflcap-query --items: judge JSON items (one document per line: kflcap's
 * item log, or Kubeshark entries) and print the ones that match.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

/* Malformed lines reported one by one before only the count is kept. */
#define KQ_MAX_REPORTED 10

int kq_mode_items(const struct kq_opts *o, FILE *out, FILE *err)
{
	struct kc_kfl_prog *p = kq_compile(o->kfl, err);
	struct kc_kfl_scratch *s = NULL;
	FILE *in = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t lineno = 0, items = 0, matched = 0, malformed = 0, blank = 0;
	uint64_t limit;
	int rc = KQ_EXIT_FAIL;

	if (p == NULL)
		return KQ_EXIT_FAIL;
	limit = kc_kfl_prog_limit(p);
	s = kc_kfl_scratch_create(0);
	if (s == NULL) {
		fprintf(err, "kflcap-query: out of memory\n");
		goto out;
	}
	in = strcmp(o->input, "-") == 0 ? stdin : fopen(o->input, "r");
	if (in == NULL) {
		fprintf(err, "kflcap-query: %s: %s\n", o->input, strerror(errno));
		goto out;
	}
	while ((n = getline(&line, &cap, in)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		size_t lead = strspn(line, " \t");
		if ((size_t)n == lead) {
			blank++;
			continue;
		}
		cJSON *doc = cJSON_ParseWithLength(line, (size_t)n);
		if (doc == NULL || !cJSON_IsObject(doc)) {
			if (++malformed <= KQ_MAX_REPORTED)
				fprintf(err, "kflcap-query: %s:%llu: %s (skipped)\n", o->input,
					(unsigned long long)lineno,
					doc == NULL ? "malformed JSON" : "not a JSON object");
			cJSON_Delete(doc);
			continue;
		}
		items++;
		bool hit = kc_kfl_prog_has_redact(p) ? kc_kfl_eval_json_mut(p, doc, s) :
						       kc_kfl_eval_json(p, doc, s);
		if (hit) {
			matched++;
			if (kc_kfl_prog_has_redact(p)) {
				char *txt = cJSON_PrintUnformatted(doc);
				if (txt == NULL) {
					fprintf(err, "kflcap-query: out of memory\n");
					cJSON_Delete(doc);
					goto out;
				}
				fprintf(out, "%s\n", txt);
				free(txt);
			} else {
				fwrite(line, 1, (size_t)n, out);
				fputc('\n', out);
			}
		}
		cJSON_Delete(doc);
		if (limit != 0 && matched >= limit)
			break;
	}
	if (ferror(in)) {
		fprintf(err, "kflcap-query: %s: read error: %s\n", o->input, strerror(errno));
		goto out;
	}
	if (fflush(out) != 0 || ferror(out)) {
		fprintf(err, "kflcap-query: write error: %s\n", strerror(errno));
		goto out;
	}
	if (!o->quiet)
		fprintf(err, "kflcap-query: %llu items, %llu matched, %llu malformed, %llu blank%s\n",
			(unsigned long long)items, (unsigned long long)matched,
			(unsigned long long)malformed, (unsigned long long)blank,
			limit != 0 && matched >= limit ? " (limit reached)" : "");
	rc = KQ_EXIT_OK;
out:
	if (in != NULL && in != stdin)
		fclose(in);
	free(line);
	kc_kfl_scratch_free(s);
	kc_kfl_prog_free(p);
	return rc;
}
