/*
 * KFL micro-benchmark (not a test; scripts/bench.sh runs it): ns of thread
 * CPU time per evaluation on struct items, median of 7 runs of N evaluations each, for
 * the filters the issue names, on a matching and a non-matching item.
 *
 * usage: bench_kfl [evaluations per run, default 2000000]
 * Output: one line per case: "<ns/eval>  <match|miss>  <filter>".
 */
#include <stdlib.h>
#include <time.h>

#include "kfl_test.h"

#define RUNS 7

/* CPU time of this thread: the build machine is shared, and time spent
 * descheduled is not the engine's. */
static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double bench(const struct kc_kfl_prog *p, const struct kc_item *it, struct kc_kfl_scratch *s,
		    long n, bool want)
{
	double r[RUNS];
	for (int k = 0; k < RUNS; k++) {
		long hits = 0;
		double t0 = now_ns();
		for (long i = 0; i < n; i++)
			hits += kc_kfl_eval_item(p, it, s);
		r[k] = (now_ns() - t0) / (double)n;
		if (hits != (want ? n : 0)) {
			fprintf(stderr, "bench: wrong result (%ld hits of %ld)\n", hits, n);
			exit(1);
		}
	}
	qsort(r, RUNS, sizeof(r[0]), cmp_d);
	return r[RUNS / 2];
}

int main(int argc, char **argv)
{
	static struct kc_item m, nh, d;
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	static const char *const filters[] = {
		"http",
		"http and response.status == 500",
		"request.path.startsWith(\"/api\")",
		"request.path == r\"^/api/v[0-9]+/orders\"",
		"request.headers[\"User-Agent\"] == \"kube-probe/1.27\"",
	};

	/* matching item: an HTTP 500 on /api/v1/orders from kube-probe */
	t_item_h(&m);
	m.u.http.status = 500;
	m.u.http.path = t_put(&m, "/api/v1/orders");
	/* non-matching HTTP item: item H with another agent */
	t_item_h(&nh);
	nh.u.http.req_headers[2].value = t_put(&nh, "curl/8.0");
	t_item_d(&d);

	struct kc_kfl_scratch *s = kc_kfl_scratch_create(0);
	if (s == NULL || n <= 0)
		return 1;
	printf("# ns/eval of thread CPU time (median of %d runs x %ld evaluations), struct items\n", RUNS, n);
	for (size_t i = 0; i < KC_ARRAY_SIZE(filters); i++) {
		struct kc_kfl_prog *p = t_compile(filters[i]);
		if (p == NULL)
			return 1;
		/* `http` misses on a DNS item; the others on an HTTP item */
		const struct kc_item *miss = i == 0 ? &d : &nh;
		printf("%8.1f  match  %s\n", bench(p, &m, s, n, true), filters[i]);
		printf("%8.1f  miss   %s\n", bench(p, miss, s, n, false), filters[i]);
		kc_kfl_prog_free(p);
	}
	kc_kfl_scratch_free(s);
	return 0;
}
