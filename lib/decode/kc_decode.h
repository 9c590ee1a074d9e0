/**
 * @file
 * Packet decode: Ethernet, 802.1Q/802.1ad (QinQ) tags, MPLS, IPv4 with
 * options, IPv6 with extension headers, TCP and UDP. Fragments are recognised
 * here and put back together by kc_defrag (defrag.c).
 *
 * The decoder reads a packet's bytes and fills a struct kc_pkt; it never
 * writes to the packet. Anything it cannot follow is a drop with a reason
 * (enum kc_decode_res), so the caller can count every packet it did not
 * process. Lengths come from the headers, not the frame: Ethernet padding and
 * trailers after the IP packet are ignored.
 *
 * No EAL; any thread may call; no state outside the arguments.
 */
#ifndef KC_DECODE_H
#define KC_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc_common.h"

/** VLAN tags remembered in a decoded packet (more are skipped, still decoded). */
#define KC_DECODE_MAX_VLANS 2
/** Tags and labels followed before giving up on L2. */
#define KC_DECODE_MAX_L2_DEPTH 8
/** IPv6 extension headers followed before giving up. */
#define KC_DECODE_MAX_IP6_EXT 8

/** Outcome of decoding one packet: OK, a fragment, or the reason it was dropped. */
enum kc_decode_res {
	KC_DEC_OK = 0,          /**< TCP or UDP, fields valid */
	KC_DEC_FRAGMENT,        /**< IPv4/IPv6 fragment: frag fields valid, give to kc_defrag */
	KC_DEC_TRUNC_L2,        /**< frame shorter than its Ethernet/VLAN/MPLS headers */
	KC_DEC_NON_IP,          /**< ARP, LLDP, ... */
	KC_DEC_L2_DEPTH,        /**< too many VLAN tags / MPLS labels */
	KC_DEC_TRUNC_IP,        /**< captured bytes end inside the IP header or packet */
	KC_DEC_BAD_IP_HDR,      /**< bad version or header length */
	KC_DEC_BAD_IP_LEN,      /**< IP total/payload length inconsistent */
	KC_DEC_IP6_EXT,         /**< malformed or too many IPv6 extension headers */
	KC_DEC_OTHER_L4,        /**< ICMP, ESP, SCTP, ...: not followed */
	KC_DEC_TRUNC_L4,        /**< captured bytes end inside the TCP/UDP header */
	KC_DEC_BAD_TCP_HDR,     /**< data offset below 5 or past the segment */
	KC_DEC_BAD_UDP_LEN,     /**< UDP length below 8 or past the datagram */
	KC_DEC_RES_MAX
};

/** TCP flag bits as on the wire. */
#define KC_TCP_FIN 0x01
#define KC_TCP_SYN 0x02
#define KC_TCP_RST 0x04
#define KC_TCP_PSH 0x08
#define KC_TCP_ACK 0x10
#define KC_TCP_URG 0x20

/**
 * A decoded packet. Pointers point into the decoded bytes (or into the defrag
 * buffer for a reassembled datagram) and are valid as long as those are.
 * Ports, sequence numbers and lengths are in host order; addresses in network
 * order, IPv4 in the first 4 bytes of the 16.
 */
struct kc_pkt {
	const uint8_t *l3;        /**< IP header */
	const uint8_t *payload;   /**< L4 payload (TCP/UDP data) */
	uint32_t payload_len;     /**< from IP/UDP lengths, clipped to captured bytes */
	uint32_t l3_len;          /**< IP packet length claimed by the header */
	/* The next six in this order: kc_flow_key_make_hash() reads the ports
	 * and VLAN ids as one 64-bit word and proto with family as one 16-bit
	 * word, which is how the flow key stores them (kc_flow.h). */
	uint16_t sport, dport;
	uint16_t vlan[KC_DECODE_MAX_VLANS]; /**< VLAN ids, outer first */
	uint8_t proto;            /**< IPPROTO_TCP / IPPROTO_UDP (the L4 protocol) */
	uint8_t family;           /**< 4 or 6 */
	uint8_t n_vlan;
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint16_t win;
	bool payload_clipped;     /**< captured fewer payload bytes than the header says */
	uint8_t src[16], dst[16];
	/* Fragment fields, valid with KC_DEC_FRAGMENT. */
	uint32_t frag_id;         /**< IPv4 id (16 bits) or IPv6 identification */
	uint32_t frag_off;        /**< byte offset of this fragment's data */
	bool frag_more;           /**< more fragments follow */
	uint8_t frag_proto;       /**< protocol of the fragmentable part */
	const uint8_t *frag_data; /**< this fragment's data */
	uint32_t frag_len;
};
static_assert(offsetof(struct kc_pkt, dport) == offsetof(struct kc_pkt, sport) + 2 &&
		      offsetof(struct kc_pkt, vlan) == offsetof(struct kc_pkt, sport) + 4 &&
		      offsetof(struct kc_pkt, family) == offsetof(struct kc_pkt, proto) + 1,
	      "ports and VLAN ids one word, proto and family one half-word (kc_flow_key_make_hash)");

/**
 * Decode an Ethernet frame.
 * @param data  first captured byte
 * @param caplen captured bytes
 * @param p     filled on KC_DEC_OK and KC_DEC_FRAGMENT (partially otherwise)
 * @return KC_DEC_OK, KC_DEC_FRAGMENT or a drop reason.
 */
enum kc_decode_res kc_decode_eth(const uint8_t *data, uint32_t caplen, struct kc_pkt *p);

/**
 * Decode the L4 header of a (reassembled) datagram whose L3 fields (family,
 * src, dst) are already in @p p.
 */
enum kc_decode_res kc_decode_l4(uint8_t proto, const uint8_t *l4, uint32_t len, struct kc_pkt *p);

/** Counter name of a result ("ok", "fragment", "trunc_l2", ...). */
const char *kc_decode_res_name(enum kc_decode_res r);

/* ---------------------------------------------------------------------- */
/* Fragment reassembly (defrag.c)                                          */
/* ---------------------------------------------------------------------- */

/** Largest datagram we put back together (IPv4/IPv6 maximum). */
#define KC_DEFRAG_MAX_DATAGRAM 65535
/** Fragments of one datagram kept before the datagram is dropped. */
#define KC_DEFRAG_MAX_FRAGS 64

struct kc_defrag_cfg {
	uint32_t max_datagrams;  /**< datagrams in reassembly at once (each owns a 64 KiB buffer) */
	uint64_t timeout_us;     /**< a datagram not complete after this is dropped */
};

struct kc_defrag_stats {
	uint64_t fragments;      /**< fragments offered */
	uint64_t completed;      /**< datagrams put back together */
	uint64_t timeouts;       /**< datagrams dropped incomplete after timeout */
	uint64_t evicted_full;   /**< oldest datagram dropped because the table was full */
	uint64_t too_many_frags; /**< datagram dropped: more than KC_DEFRAG_MAX_FRAGS pieces */
	uint64_t too_big;        /**< fragment past 64 KiB */
	uint64_t overlaps;       /**< fragments overlapping earlier data (first copy kept) */
	uint64_t dup_last;       /**< a second "last fragment" with a different end */
	uint64_t dropped_frags;  /**< fragments released without completing (sum of the above) */
};

/** What kc_defrag_add hands back when a datagram completes. */
struct kc_defrag_done {
	struct kc_pkt pkt;                      /**< decoded L4 of the whole datagram */
	enum kc_decode_res res;                 /**< KC_DEC_OK or the L4 drop reason */
	uint32_t n_handles;
	void *handles[KC_DEFRAG_MAX_FRAGS];     /**< the fragments' packets, arrival order; ownership passes to the caller */
};

struct kc_defrag;

/** Create a fragment table. @return NULL with errno set (EINVAL, ENOMEM). */
struct kc_defrag *kc_defrag_create(const struct kc_defrag_cfg *cfg);
void kc_defrag_destroy(struct kc_defrag *d);

/**
 * Offer one fragment (decoded with KC_DEC_FRAGMENT). The table keeps
 * @p handle (the caller's packet) until the datagram completes or is dropped.
 * Handles of dropped datagrams are appended to @p dead (capacity @p dead_cap,
 * which must be at least KC_DEFRAG_MAX_FRAGS + 1) for the caller to free.
 * @return 1 when @p done holds a complete datagram (the buffer it points into
 *         stays valid until the next call), 0 when the fragment was kept,
 *         and in both cases *n_dead says how many handles were appended.
 */
int kc_defrag_add(struct kc_defrag *d, const struct kc_pkt *frag, void *handle, uint64_t now_us,
		  struct kc_defrag_done *done, void **dead, uint32_t dead_cap, uint32_t *n_dead);

/**
 * Drop datagrams older than the timeout, at most @p budget of them.
 * @return number of handles appended to @p dead.
 */
uint32_t kc_defrag_expire(struct kc_defrag *d, uint64_t now_us, uint32_t budget, void **dead, uint32_t dead_cap);

const struct kc_defrag_stats *kc_defrag_stats(const struct kc_defrag *d);

#endif /* KC_DECODE_H */
