/**
 * @file
 * Per-flow DNS: framing (UDP datagram, TCP length prefix), query/response
 * pairing by id in a bounded table, timeout and close.
 */
#include "dns_internal.h"

size_t kc_dns_flow_size(void)
{
	return sizeof(struct kc_dns_flow);
}

void kc_dns_flow_init(struct kc_dns_flow *f)
{
	memset(f, 0, sizeof(*f));
}

static void fill_common(struct kc_item *it, struct kc_dns_flow *f, const struct kc_flow_info *info)
{
	kc_item_set_flow(it, info);
	it->index = f->index++;
}

static void put_pending_question(struct kc_item *it, const struct kc_dns_pending *p)
{
	if (p->qdcount == 0)
		return;
	struct kc_dns_question *q = &it->u.dns.questions[0];

	kc_item_put(it, p->qname, p->qname_len, &q->name);
	if (p->qname_cut)
		it->flags |= KC_ITEM_F_TRUNCATED;
	q->type = p->qtype;
	q->class_ = p->qclass;
	it->u.dns.n_questions = 1;
}

/* Emit pending slot @p i as an unanswered query and free it. */
static void emit_timeout(struct kc_dns_flow *f, unsigned i, const struct kc_flow_info *info,
			 kc_item_emit_fn emit, void *ctx, struct kc_dns_stats *st)
{
	struct kc_dns_pending *p = &f->pending[i];
	struct kc_item it;

	kc_item_reset(&it, KC_ITEM_DNS);
	fill_common(&it, f, info);
	it.flags = KC_ITEM_F_REQUEST | KC_ITEM_F_TIMEOUT;
	it.ts_us = p->ts_us;
	it.req_size = p->size;
	it.u.dns.id = p->id;
	it.u.dns.flags = p->flags;
	it.u.dns.opcode = (uint8_t)((p->flags >> 11) & 0xf);
	it.u.dns.rcode = (uint8_t)(p->flags & 0xf);
	put_pending_question(&it, p);
	p->used = 0;
	f->n_pending--;
	st->items++;
	st->items_timeout++;
	emit(ctx, &it);
}

static int oldest_pending(const struct kc_dns_flow *f)
{
	int best = -1;

	for (unsigned i = 0; i < KC_DNS_PENDING_MAX; i++) {
		if (f->pending[i].used &&
		    (best < 0 || f->pending[i].ts_us < f->pending[best].ts_us))
			best = (int)i;
	}
	return best;
}

static int find_pending(const struct kc_dns_flow *f, uint16_t id)
{
	if (f->n_pending == 0)
		return -1;
	for (unsigned i = 0; i < KC_DNS_PENDING_MAX; i++) {
		if (f->pending[i].used && f->pending[i].id == id)
			return (int)i;
	}
	return -1;
}

static void on_query(struct kc_dns_flow *f, const uint8_t *msg, size_t len, uint64_t ts_us,
		     const struct kc_flow_info *info, kc_item_emit_fn emit, void *ctx,
		     struct kc_dns_stats *st)
{
	uint16_t id = dns_be16(msg);
	struct kc_dns_pending *p = NULL;

	st->queries++;
	if (find_pending(f, id) >= 0) {
		st->query_dup++;
		return;
	}
	if (f->n_pending >= KC_DNS_PENDING_MAX) {
		st->pending_evicted++;
		emit_timeout(f, (unsigned)oldest_pending(f), info, emit, ctx, st);
	}
	for (unsigned i = 0; i < KC_DNS_PENDING_MAX; i++) {
		if (!f->pending[i].used) {
			p = &f->pending[i];
			break;
		}
	}
	memset(p, 0, offsetof(struct kc_dns_pending, qname));
	p->used = 1;
	p->id = id;
	p->flags = dns_be16(msg + 2);
	p->ts_us = ts_us;
	p->size = (uint32_t)len;
	p->qdcount = dns_be16(msg + 4);
	if (p->qdcount > 0) {
		char name[DNS_NAME_TEXT_MAX];
		size_t pos = KC_DNS_HEADER_LEN, n = 0;
		enum dns_name_rc rc = dns_name_decode(msg, len, &pos, name, sizeof(name), &n);

		if (rc == DNS_NAME_OK && pos + 4 <= len) {
			p->qname_len = (uint8_t)KC_MIN(n, (size_t)KC_DNS_QNAME_KEEP);
			p->qname_cut = n > KC_DNS_QNAME_KEEP;
			if (p->qname_cut)
				st->qname_cut++;
			memcpy(p->qname, name, p->qname_len);
			p->qtype = dns_be16(msg + pos);
			p->qclass = dns_be16(msg + pos + 2);
		} else {
			/* Keep the query for pairing; its question is unreadable. */
			dns_count_name_fault(st, rc);
			if (rc == DNS_NAME_OK)
				st->truncated_question++;
			p->qdcount = 0;
		}
	}
	f->n_pending++;
}

static void on_response(struct kc_dns_flow *f, const uint8_t *msg, size_t len, uint64_t ts_us,
			const struct kc_flow_info *info, kc_item_emit_fn emit, void *ctx,
			struct kc_dns_stats *st)
{
	struct kc_item it;
	int slot;

	st->responses++;
	(void)kc_dns_parse_message(msg, len, &it, st);
	fill_common(&it, f, info);
	it.resp_ts_us = ts_us;
	it.resp_size = len;
	slot = find_pending(f, it.u.dns.id);
	if (slot >= 0) {
		struct kc_dns_pending *p = &f->pending[slot];

		it.flags |= KC_ITEM_F_REQUEST;
		it.ts_us = p->ts_us;
		it.req_size = p->size;
		/* request.opCode is the query's. */
		it.u.dns.opcode = (uint8_t)((p->flags >> 11) & 0xf);
		/* The response normally echoes the question; when it does not,
		 * show the one that was asked. */
		if (it.u.dns.n_questions == 0)
			put_pending_question(&it, p);
		p->used = 0;
		f->n_pending--;
		st->items_paired++;
	} else {
		it.ts_us = ts_us;
		st->items_resp_only++;
	}
	st->items++;
	emit(ctx, &it);
}

/* One complete message of a flow already known (or just probed) to be DNS. */
static void on_message(struct kc_dns_flow *f, const uint8_t *msg, size_t len, uint64_t ts_us,
		       const struct kc_flow_info *info, kc_item_emit_fn emit, void *ctx,
		       struct kc_dns_stats *st)
{
	if (len < KC_DNS_HEADER_LEN) {
		st->bad_header++;
		return;
	}
	st->messages++;
	if (msg[2] & 0x80)
		on_response(f, msg, len, ts_us, info, emit, ctx, st);
	else
		on_query(f, msg, len, ts_us, info, emit, ctx, st);
}

static struct kc_parse_res res(uint8_t status, size_t consumed, size_t needed)
{
	struct kc_parse_res r = { status, (uint32_t)consumed, (uint32_t)needed };

	return r;
}

struct kc_parse_res kc_dns_feed_udp(struct kc_dns_flow *f, enum kc_dir dir,
				    const uint8_t *data, size_t len, uint64_t ts_us,
				    const struct kc_flow_info *info, kc_item_emit_fn emit,
				    void *ctx, struct kc_dns_stats *st)
{
	(void)dir;
	if (!f->seen_valid) {
		if (!kc_dns_probe(data, len, false)) {
			st->not_dns++;
			return res(KC_PARSE_ERROR, 0, 0);
		}
		f->seen_valid = 1;
	}
	on_message(f, data, len, ts_us, info, emit, ctx, st);
	return res(KC_PARSE_OK, len, 0);
}

/*
 * RFC 7766 8: messages are preceded by a two-octet length; a segment may hold
 * several, and one message may span several segments. We take only whole
 * messages and tell the caller how many bytes the next one still lacks.
 */
struct kc_parse_res kc_dns_feed_tcp(struct kc_dns_flow *f, enum kc_dir dir,
				    const uint8_t *data, size_t len, uint64_t ts_us,
				    const struct kc_flow_info *info, kc_item_emit_fn emit,
				    void *ctx, struct kc_dns_stats *st)
{
	size_t off = 0;
	unsigned d = dir == KC_DIR_S2C ? 1 : 0;

	if (f->dead[d])
		return res(KC_PARSE_OK, len, 0);
	if (f->resync[d]) {
		/* After a gap: skip to the first plausible message start. */
		for (;;) {
			int c = off < len ? dns_resync_candidate(data + off, len - off) : -1;

			if (c == 1)
				break;
			if (c < 0 && off < len) {
				/* Cannot judge yet: keep these bytes for the next call. */
				st->resync_skipped += off;
				f->scanned[d] += (uint32_t)off;
				return res(KC_PARSE_NEED_MORE, off, 1);
			}
			if (off >= len || f->scanned[d] + off >= KC_DNS_RESYNC_MAX) {
				st->resync_skipped += off;
				f->scanned[d] += (uint32_t)off;
				if (f->scanned[d] >= KC_DNS_RESYNC_MAX) {
					f->resync[d] = 0;
					f->dead[d] = 1;
					st->resync_giveup++;
					return res(KC_PARSE_OK, len, 0);
				}
				return res(KC_PARSE_OK, len, 0);
			}
			off++;
		}
		st->resync_skipped += off;
		f->resync[d] = 0;
		f->scanned[d] = 0;
		st->resync_ok++;
	}
	while (off < len) {
		if (len - off < 2)
			return res(KC_PARSE_NEED_MORE, off, 2 - (len - off));
		size_t mlen = dns_be16(data + off);

		if (!f->seen_valid) {
			/* Judge the stream on its first message header. */
			if (len - off < 2 + KC_DNS_HEADER_LEN)
				return res(KC_PARSE_NEED_MORE, off,
					   KC_MAX(mlen, (size_t)KC_DNS_HEADER_LEN) + 2 - (len - off));
			if (!kc_dns_probe(data + off, len - off, true)) {
				st->not_dns++;
				return res(KC_PARSE_ERROR, off, 0);
			}
		}
		if (mlen == 0) {
			st->tcp_zero_len++;
			off += 2;
			continue;
		}
		if (len - off - 2 < mlen)
			return res(KC_PARSE_NEED_MORE, off, mlen + 2 - (len - off));
		f->seen_valid = 1;
		on_message(f, data + off + 2, mlen, ts_us, info, emit, ctx, st);
		off += 2 + mlen;
	}
	return res(KC_PARSE_OK, len, 0);
}

void kc_dns_flow_gap(struct kc_dns_flow *f, enum kc_dir dir, struct kc_dns_stats *st)
{
	unsigned d = dir == KC_DIR_S2C ? 1 : 0;

	st->tcp_gaps++;
	if (f->dead[d])
		return;
	if (!f->resync[d]) {
		f->resync[d] = 1;
		f->scanned[d] = 0;
	}
}

unsigned kc_dns_flow_expire(struct kc_dns_flow *f, uint64_t now_us, uint64_t timeout_us,
			    unsigned budget, const struct kc_flow_info *info,
			    kc_item_emit_fn emit, void *ctx, struct kc_dns_stats *st)
{
	unsigned n = 0;

	while (n < budget && f->n_pending > 0) {
		int i = oldest_pending(f);

		if (f->pending[i].ts_us + timeout_us > now_us)
			break;
		emit_timeout(f, (unsigned)i, info, emit, ctx, st);
		n++;
	}
	return n;
}

unsigned kc_dns_flow_close(struct kc_dns_flow *f, const struct kc_flow_info *info,
			   kc_item_emit_fn emit, void *ctx, struct kc_dns_stats *st)
{
	unsigned n = 0;

	while (f->n_pending > 0) {
		emit_timeout(f, (unsigned)oldest_pending(f), info, emit, ctx, st);
		n++;
	}
	return n;
}
