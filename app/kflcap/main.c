/*
 * kflcap: EAL arguments, then `--`, then kflcap's own options (testpmd-style).
 * Set-up failures exit here with one clear message; only this file calls
 * rte_exit, and only before capture starts.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <rte_random.h>

#include "kflcap.h"
#include "kc_config.h"

atomic_bool kc_quit;
atomic_bool kc_reload;
int kc_meta_off = -1;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		atomic_store_explicit(&kc_reload, true, memory_order_relaxed);
	else
		atomic_store_explicit(&kc_quit, true, memory_order_relaxed);
}

/* --help, --version and --print-config need no EAL, hugepages or root. */
static bool no_eal_wanted(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--version") == 0 ||
		    strcmp(argv[i], "--print-config") == 0)
			return true;
	return false;
}

static int run_without_eal(int argc, char **argv)
{
	char *v[256];
	int i, n = 1, after = 0;

	v[0] = argv[0];
	for (i = 1; i < argc && n < 255; i++) {
		if (strcmp(argv[i], "--") == 0) {
			after = 1;
			continue;
		}
		if (after || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--version") == 0)
			v[n++] = strcmp(argv[i], "-h") == 0 ? (char *)"--help" : argv[i];
	}
	v[n] = NULL;
	return kc_opts_parse(n, v, &((struct kc_app *)calloc(1, sizeof(struct kc_app)))->opts) < 0 ? 2 : 0;
}

static void register_dynfields(struct kc_app *app)
{
	static const struct rte_mbuf_dynfield desc = {
		.name = "kflcap_meta",
		.size = sizeof(struct kc_mbuf_meta),
		.align = __alignof__(struct kc_mbuf_meta),
	};

	kc_meta_off = rte_mbuf_dynfield_register(&desc);
	if (kc_meta_off < 0)
		rte_exit(EXIT_FAILURE, "kflcap: mbuf dynamic field: %s\n", rte_strerror(rte_errno));
	/* PMDs that timestamp (net_pcap: the file's time) fill this field. */
	if (rte_mbuf_dyn_rx_timestamp_register(&app->ts_off, &app->ts_flag) != 0)
		app->ts_off = -1;
}

static void setup_workers(struct kc_app *app)
{
	unsigned lcore, n = 0;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (n >= KC_APP_MAX_WORKERS)
			break;
		app->workers[n] = rte_zmalloc("kc_worker", sizeof(struct kc_worker), RTE_CACHE_LINE_SIZE);
		if (app->workers[n] == NULL)
			rte_exit(EXIT_FAILURE, "kflcap: worker %u: out of memory\n", n);
		app->workers[n]->idx = n;
		app->workers[n]->lcore = lcore;
		n++;
	}
	if (n == 0) {
		/* A single lcore: it captures and writes, in turn. */
		app->workers[0] = rte_zmalloc("kc_worker", sizeof(struct kc_worker), RTE_CACHE_LINE_SIZE);
		if (app->workers[0] == NULL)
			rte_exit(EXIT_FAILURE, "kflcap: out of memory\n");
		app->workers[0]->lcore = rte_lcore_id();
		n = 1;
	}
	app->n_workers = n;
}

int main(int argc, char **argv)
{
	static struct kc_app app;
	struct kc_err err = {{0}};
	struct timeval tv;
	unsigned i;
	int ret, rc;

	if (no_eal_wanted(argc, argv))
		return run_without_eal(argc, argv);
	ret = rte_eal_init(argc, argv);
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "kflcap: EAL initialisation failed: %s (check the EAL arguments; without "
			 "hugepages run scripts/hugepages.sh or pass --no-huge -m 512)\n", rte_strerror(rte_errno));
	argc -= ret;
	argv += ret;
	argv[0] = (char *)"kflcap";
	rc = kc_opts_parse(argc, argv, &app.opts);
	if (rc != 0) {
		rte_eal_cleanup();
		return rc > 0 ? 0 : 2;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	app.tsc_hz = rte_get_tsc_hz();
	app.tsc0 = rte_rdtsc();
	gettimeofday(&tv, NULL);
	app.wall0_us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
	register_dynfields(&app);
	/* Secret flow-hash keys, so traffic cannot be crafted to collide in
	 * the flow tables (EAL seeded rte_rand from the CPU or the clock). */
	kc_flow_hash_seed(rte_rand());

	app.writer = kc_writer_create(app.opts.out_dir, app.opts.max_open_files, &err);
	if (app.writer == NULL)
		rte_exit(EXIT_FAILURE, "kflcap: %s\n", err.msg);

	/* Compile the filter on the control plane: nothing invalid reaches a worker. */
	if (app.opts.kfl_set && kc_filter_publish(&app, app.opts.kfl, &err) != 0)
		rte_exit(EXIT_FAILURE, "kflcap: kfl: %s\n", err.msg);
	if (app.opts.kfl_set)
		printf("kflcap: recording streams matching: %s\n", kc_kfl_prog_text(atomic_load(&app.filter)->prog));
	app.dissect = !app.opts.no_dissect;
	if (app.opts.no_dissect && app.opts.kfl_set)
		rte_exit(EXIT_FAILURE, "kflcap: --no-dissect and a kfl filter exclude each other\n");
	if (app.opts.items_file[0] != '\0') {
		app.items_fp = fopen(app.opts.items_file, "w");
		if (app.items_fp == NULL)
			rte_exit(EXIT_FAILURE, "kflcap: --items %s: %s\n", app.opts.items_file, strerror(errno));
		setvbuf(app.items_fp, NULL, _IOFBF, 1 << 20);
	}
	setup_workers(&app);
	if (app.opts.kfl_set && kc_app_mbuf_spare(&app) < 1024)
		rte_exit(EXIT_FAILURE, "kflcap: --mbufs %u leaves no room to retain packets before a match: the rings "
			 "(--ring-size %u, %u workers) may hold %llu; use --mbufs %llu or more, or a smaller --ring-size\n",
			 app.opts.mbufs, app.opts.ring_size, app.n_workers,
			 (unsigned long long)kc_app_mbuf_headroom(&app),
			 (unsigned long long)kc_app_mbuf_headroom(&app) + 8192);
	if (app.dissect) {
		app.item_pool = rte_mempool_create("kc_items", app.opts.item_msgs * app.n_workers,
						   sizeof(struct kc_item_msg), 64, 0, NULL, NULL, NULL, NULL,
						   rte_socket_id(), 0);
		if (app.item_pool == NULL)
			rte_exit(EXIT_FAILURE, "kflcap: item pool: %s\n", rte_strerror(rte_errno));
	}
	app.pool = rte_pktmbuf_pool_create("kc_pool", app.opts.mbufs, KC_APP_POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					   rte_socket_id());
	if (app.pool == NULL)
		rte_exit(EXIT_FAILURE, "kflcap: mbuf pool of %u: %s (hugepages reserved? try --mbufs or -m)\n",
			 app.opts.mbufs, rte_strerror(rte_errno));
	for (i = 0; i < app.n_workers; i++)
		if (kc_worker_init(&app, app.workers[i]) != 0)
			rte_exit(EXIT_FAILURE, "kflcap: worker set-up failed\n");
	if (kc_ports_setup(&app) != 0)
		rte_exit(EXIT_FAILURE, "kflcap: port set-up failed\n");
	app.lossless = app.opts.ring_full_wait == 1 || (app.opts.ring_full_wait == -1 && !app.have_live_port);
	printf("kflcap %s: %u worker%s%s, writing to %s/live\n", KC_VERSION, app.n_workers,
	       app.n_workers == 1 ? "" : "s", app.workers[0]->lcore == rte_lcore_id() ? " (single lcore)" : "",
	       app.opts.out_dir);
	fflush(stdout);

	if (kc_filter_init(&app) != 0)
		rte_exit(EXIT_FAILURE, "kflcap: filter RCU state: %s\n", rte_strerror(rte_errno));
	if (!app.opts.no_snapshot && kc_record_start(&app, &err) != 0)
		rte_exit(EXIT_FAILURE, "kflcap: %s\n", err.msg);
	if (kc_telemetry_register(&app) != 0)
		fprintf(stderr, "kflcap: telemetry commands not registered (continuing)\n");
	for (i = 0; i < app.n_workers; i++)
		if (app.workers[i]->lcore != rte_lcore_id())
			rte_eal_remote_launch(kc_worker_main, app.workers[i], app.workers[i]->lcore);
	kc_mgmt_run(&app);
	rte_eal_mp_wait_lcore();

	kc_print_summary(&app, stdout);
	kc_ports_stop(&app);
	kc_writer_destroy(app.writer);
	app.writer = NULL;
	kc_record_stop(&app);
	for (i = 0; i < app.n_workers; i++) {
		kc_engine_destroy(app.workers[i]->eng);
		rte_ring_free(app.workers[i]->to_mgmt);
		rte_ring_free(app.workers[i]->fanin);
		rte_ring_free(app.workers[i]->items);
		rte_free(app.workers[i]);
	}
	rte_mempool_free(app.pool);
	rte_mempool_free(app.item_pool);
	if (app.items_fp != NULL && fclose(app.items_fp) != 0)
		fprintf(stderr, "kflcap: --items %s: %s\n", app.opts.items_file, strerror(errno));
	kc_filter_publish(&app, "", &err);
	rte_free(app.qsbr);
	kc_config_free(app.opts.cfg);
	rte_eal_cleanup();
	return 0;
}
