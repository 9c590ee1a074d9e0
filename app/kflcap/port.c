/*
 * Port set-up. Every probed port is started, promiscuous where it can be.
 *
 * Each worker must see both directions of its flows. Ports with RSS and
 * enough queues get one queue per worker and a symmetric Toeplitz key (0x6d5a
 * repeated: Woo and Park, "Scalable TCP Session Monitoring with Symmetric
 * Receive-side Scaling"), hashing on IP addresses only so that IP fragments,
 * which carry no ports, land on the same queue as the rest of their flow.
 * Symmetry is checked in software at start-up with rte_softrss on a swapped
 * tuple; a port that cannot take the key is read by one queue and fanned out
 * in software (loudly).
 */
#include <stdio.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_thash.h>

#include "kflcap.h"

#define RX_DESC 1024
#define TX_DESC 64

static uint8_t sym_key[52];

static bool key_is_symmetric(const uint8_t *key, uint8_t len)
{
	union rte_thash_tuple t1, t2;
	uint8_t be_key[64];
	uint32_t h1, h2;

	memset(&t1, 0, sizeof(t1));
	memset(&t2, 0, sizeof(t2));
	t1.v4.src_addr = 0x0a000001;
	t1.v4.dst_addr = 0xc0a80102;
	t2.v4.src_addr = t1.v4.dst_addr;
	t2.v4.dst_addr = t1.v4.src_addr;
	rte_convert_rss_key((const uint32_t *)(const void *)key, (uint32_t *)(void *)be_key, len);
	h1 = rte_softrss_be((uint32_t *)&t1, RTE_THASH_V4_L3_LEN, be_key);
	h2 = rte_softrss_be((uint32_t *)&t2, RTE_THASH_V4_L3_LEN, be_key);
	return h1 == h2;
}

static bool is_finite_pcap(uint16_t port)
{
	struct rte_eth_dev_info info;
	const char *args;

	if (rte_eth_dev_info_get(port, &info) != 0 || info.device == NULL)
		return false;
	if (strcmp(info.driver_name, "net_pcap") != 0)
		return false;
	args = rte_dev_devargs(info.device) ? rte_dev_devargs(info.device)->args : NULL;
	/* rx_pcap= replays a file; infinite_rx=1 loops it forever. */
	return args != NULL && strstr(args, "rx_pcap=") != NULL && strstr(args, "infinite_rx=1") == NULL;
}

static int setup_port(struct kc_app *app, uint16_t port, uint16_t nq, bool rss)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	struct rte_eth_rxconf rxc;
	uint16_t q, nb_rxd = RX_DESC, nb_txd = TX_DESC;
	int rc;

	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_info_get(port, &info);
	if (rc != 0)
		return rc;
	if (rss) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = sym_key;
		conf.rx_adv_conf.rss_conf.rss_key_len = info.hash_key_size ? info.hash_key_size : 40;
		conf.rx_adv_conf.rss_conf.rss_hf = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;
	}
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
	/* A recorder wants every frame the port can give: largest MTU allowed. */
	if (info.max_mtu > RTE_ETHER_MTU && info.max_mtu != UINT16_MAX)
		conf.rxmode.mtu = RTE_MIN(info.max_mtu, (uint16_t)9000);
	rc = rte_eth_dev_configure(port, nq, 1, &conf);
	if (rc != 0) {
		fprintf(stderr, "kflcap: port %u: configure with %u rx queues: %s\n", port, nq, rte_strerror(-rc));
		return rc;
	}
	rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
	rxc = info.default_rxconf;
	rxc.offloads = conf.rxmode.offloads;
	for (q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(port, q, nb_rxd, rte_eth_dev_socket_id(port), &rxc, app->pool);
		if (rc != 0) {
			fprintf(stderr, "kflcap: port %u: rx queue %u: %s\n", port, q, rte_strerror(-rc));
			return rc;
		}
	}
	rc = rte_eth_tx_queue_setup(port, 0, nb_txd, rte_eth_dev_socket_id(port), NULL);
	if (rc != 0) {
		fprintf(stderr, "kflcap: port %u: tx queue: %s\n", port, rte_strerror(-rc));
		return rc;
	}
	rc = rte_eth_dev_start(port);
	if (rc != 0) {
		fprintf(stderr, "kflcap: port %u: start: %s\n", port, rte_strerror(-rc));
		return rc;
	}
	rc = rte_eth_promiscuous_enable(port);
	if (rc != 0 && rc != -ENOTSUP)
		fprintf(stderr, "kflcap: port %u: promiscuous mode: %s (continuing)\n", port, rte_strerror(-rc));
	return 0;
}

/* Check that the port kept our key; a PMD may ignore or truncate it. */
static bool port_has_sym_key(uint16_t port, uint8_t key_len)
{
	struct rte_eth_rss_conf rc;
	uint8_t got[64];

	memset(&rc, 0, sizeof(rc));
	rc.rss_key = got;
	rc.rss_key_len = sizeof(got);
	if (rte_eth_dev_rss_hash_conf_get(port, &rc) != 0)
		return false;
	return rc.rss_key_len >= key_len && memcmp(got, sym_key, key_len) == 0 && key_is_symmetric(got, key_len);
}

static int add_queue(struct kc_worker *w, uint16_t port, uint16_t q, bool finite)
{
	if (w->n_rxq >= KC_APP_MAX_QUEUES_PER_WORKER) {
		fprintf(stderr, "kflcap: worker %u: more than %d queues\n", w->idx, KC_APP_MAX_QUEUES_PER_WORKER);
		return -1;
	}
	w->rxq[w->n_rxq].port = port;
	w->rxq[w->n_rxq].queue = q;
	w->rxq[w->n_rxq].finite = finite;
	w->n_rxq++;
	return 0;
}

int kc_ports_setup(struct kc_app *app)
{
	uint16_t port, n_ports = 0;
	unsigned i;

	for (i = 0; i < sizeof(sym_key); i += 2) {
		sym_key[i] = 0x6d;
		sym_key[i + 1] = 0x5a;
	}
	if (!key_is_symmetric(sym_key, 40)) {
		fprintf(stderr, "kflcap: internal error: RSS key not symmetric\n");
		return -1;
	}
	RTE_ETH_FOREACH_DEV(port) {
		struct rte_eth_dev_info info;
		uint16_t want = app->opts.rxq ? (uint16_t)app->opts.rxq : (uint16_t)app->n_workers;
		bool rss, finite = is_finite_pcap(port);
		uint16_t q;

		if (rte_eth_dev_info_get(port, &info) != 0)
			return -1;
		rss = app->n_workers > 1 && want > 1 && info.max_rx_queues >= want &&
		      (info.flow_type_rss_offloads & RTE_ETH_RSS_IP) != 0;
		if (setup_port(app, port, rss ? want : 1, rss) != 0)
			return -1;
		if (rss && !port_has_sym_key(port, info.hash_key_size ? info.hash_key_size : 40)) {
			fprintf(stderr, "kflcap: port %u (%s): cannot verify the symmetric RSS key; "
				"falling back to one queue with software fan-out\n", port, info.driver_name);
			rte_eth_dev_stop(port);
			if (setup_port(app, port, 1, false) != 0)
				return -1;
			rss = false;
		}
		if (!finite)
			app->have_live_port = true;
		if (strcmp(info.driver_name, "net_pcap") == 0)
			app->ts_mult[port] = 1000;
		if (rss) {
			for (q = 0; q < want; q++)
				if (add_queue(app->workers[q % app->n_workers], port, q, finite) != 0)
					return -1;
			printf("kflcap: port %u (%s): %u RSS queues, symmetric key\n", port, info.driver_name, want);
		} else {
			/* One reader (worker 0) for every single-queue port. */
			if (add_queue(app->workers[0], port, 0, finite) != 0)
				return -1;
			if (app->n_workers > 1)
				app->fanout = true;
			printf("kflcap: port %u (%s): 1 queue%s%s\n", port, info.driver_name,
			       app->n_workers > 1 ? ", software fan-out to workers" : "",
			       finite ? ", finite input" : "");
		}
		n_ports++;
	}
	if (n_ports == 0) {
		fprintf(stderr, "kflcap: no ports: give a device (-a PCI) or a --vdev (net_pcap0,rx_pcap=FILE)\n");
		return -1;
	}
	return 0;
}

void kc_ports_stop(struct kc_app *app)
{
	uint16_t port;

	(void)app;
	RTE_ETH_FOREACH_DEV(port) {
		rte_eth_dev_stop(port);
		rte_eth_dev_close(port);
	}
}
