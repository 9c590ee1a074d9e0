/* Per-direction reassembly: push, ack, flush, release. Policies are described
 * in kc_reasm.h; this file implements them.
 *
 * Picture of one direction (sequence space grows to the right):
 *
 *        delivered            hole       held        hole   held
 *   ...==========|...........[#####]......[###][##]...
 *                ^ next_seq   ^ chunk      ^ chunks (sorted, disjoint)
 *
 * Invariant between calls: every held chunk starts after next_seq (at least a
 * one-byte hole before the first), chunks are sorted and disjoint,
 * held_bytes/held_segs sum them, and tail is the last one
 * (kc_reasm_dir_validate checks all of it). Every skip() is followed by an
 * emit() in the same call, so a gap is never left unreported.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "reasm_internal.h"

/* Embedded in every flow entry, twice: keep it small (design budget 48). */
_Static_assert(sizeof(struct kc_reasm_dir) == 40, "struct kc_reasm_dir grew");
_Static_assert(offsetof(struct kc_reasm_dir, offset) + sizeof(uint64_t) == KC_REASM_DIR_HOT,
	       "the per-segment fields of struct kc_reasm_dir are its first KC_REASM_DIR_HOT bytes");

/* Why a hole is being skipped: selects the gap_* counter. */
enum gap_reason {
	GAP_ACK,
	GAP_DIR_LIMIT,
	GAP_MEMCAP,
	GAP_FLUSH,
};

/* State of one push/ack/flush call. */
struct run {
	struct kc_reasm_core *core;
	struct kc_reasm_dir *dir;
	kc_reasm_deliver_fn fn;
	void *ctx;
	uint64_t ts;
	uint32_t gap; /* bytes skipped, reported with the next delivery */
};

void kc_reasm_dir_init(struct kc_reasm_dir *dir)
{
	memset(dir, 0, sizeof(*dir));
}

static void emit(struct run *r, const uint8_t *data, uint32_t len)
{
	struct kc_reasm_stats *st = &r->core->stats;

	r->fn(r->ctx, data, len, r->gap, r->ts);
	st->deliveries++;
	st->bytes_delivered += len;
	r->dir->offset += (uint64_t)r->gap + len;
	r->dir->next_seq += len;
	r->gap = 0;
}

static void skip(struct run *r, uint32_t n, enum gap_reason why)
{
	struct kc_reasm_stats *st = &r->core->stats;

	r->gap += n;
	r->dir->next_seq += n;
	st->gaps++;
	st->gap_bytes += n;
	switch (why) {
	case GAP_ACK:
		st->gap_ack++;
		break;
	case GAP_DIR_LIMIT:
		st->gap_dir_limit++;
		break;
	case GAP_MEMCAP:
		st->gap_memcap++;
		break;
	case GAP_FLUSH:
		st->gap_flush++;
		break;
	}
}

/* Unlink the first held chunk and return it to the pool. */
static void pop_head(struct run *r)
{
	struct kc_reasm_dir *d = r->dir;
	uint32_t link = d->head;
	struct chunk *c = chunk_at(r->core, link);

	d->head = c->next;
	if (d->head == 0)
		d->tail = 0;
	d->held_bytes -= c->len;
	d->held_segs--;
	pool_give(r->core, link);
}

/* Deliver held chunks that have become contiguous with next_seq. */
static void drain(struct run *r)
{
	struct kc_reasm_dir *d = r->dir;

	while (d->head != 0) {
		struct chunk *c = chunk_at(r->core, d->head);
		uint32_t end = c->seq + c->len;

		if (SEQ_GT(c->seq, d->next_seq))
			break;
		if (SEQ_GT(end, d->next_seq))
			emit(r, chunk_data(r->core, d->head) + (d->next_seq - c->seq),
			     end - d->next_seq);
		pop_head(r);
	}
}

/* Give up on the first hole: report it as a gap, deliver what follows. */
static void skip_first_hole(struct run *r, enum gap_reason why)
{
	struct kc_reasm_dir *d = r->dir;
	struct chunk *c = chunk_at(r->core, d->head);

	if (SEQ_GT(c->seq, d->next_seq))
		skip(r, c->seq - d->next_seq, why);
	drain(r);
}

/* Skip holes (delivering held data) until next_seq reaches @p target. */
static void skip_until(struct run *r, uint32_t target, enum gap_reason why)
{
	struct kc_reasm_dir *d = r->dir;

	while (d->head != 0 && SEQ_LT(chunk_at(r->core, d->head)->seq, target))
		skip_first_hole(r, why);
	if (SEQ_LT(d->next_seq, target))
		skip(r, target - d->next_seq, why);
}

/*
 * Deliver a segment that starts at or before next_seq, zero copy, interleaved
 * with held chunks it meets (first copy wins: a held chunk arrived earlier, so
 * its bytes are delivered and the segment's bytes there only compared).
 * quiet: the caller already counted retransmission/overlap for this segment.
 */
static void merge(struct run *r, uint32_t seq, const uint8_t *data, uint32_t len, int quiet)
{
	struct kc_reasm_dir *d = r->dir;
	struct kc_reasm_stats *st = &r->core->stats;
	uint32_t end = seq + len;
	uint32_t dup = 0, fresh = 0;
	int conflict = 0;

	if (SEQ_LEQ(end, d->next_seq)) {
		if (!quiet) {
			st->retransmissions++;
			st->overlap_bytes += len;
		}
		return;
	}
	if (SEQ_LT(seq, d->next_seq))
		dup += d->next_seq - seq;
	while (SEQ_LT(d->next_seq, end)) {
		uint32_t cur = d->next_seq;
		uint32_t link = d->head;
		struct chunk *c = link != 0 ? chunk_at(r->core, link) : NULL;

		if (c != NULL && SEQ_LEQ(c->seq, cur)) {
			uint32_t cend = c->seq + c->len;

			if (SEQ_GT(cend, cur)) {
				uint32_t ov = (SEQ_LT(cend, end) ? cend : end) - cur;
				const uint8_t *held = chunk_data(r->core, link) + (cur - c->seq);

				if (memcmp(held, data + (cur - seq), ov) != 0)
					conflict = 1;
				dup += ov;
				emit(r, held, cend - cur);
			}
			pop_head(r);
			continue;
		}
		{
			uint32_t lim = (c != NULL && SEQ_LT(c->seq, end)) ? c->seq : end;

			emit(r, data + (cur - seq), lim - cur);
			fresh += lim - cur;
		}
	}
	drain(r);
	if (fresh != 0) {
		st->segments_in_order++;
		st->bytes_in_order += fresh;
	}
	if (quiet)
		return; /* hold() already classified this segment */
	if (fresh == 0)
		st->retransmissions++;
	else if (dup != 0)
		st->overlaps++;
	st->overlap_bytes += dup;
	st->overlaps_conflict += conflict;
}

/*
 * Walk the held list for an out-of-order segment [seq, seq + len), seq after
 * next_seq. With store == 0: count the bytes and chunks it would add. With
 * store != 0: copy the new pieces into chunks and link them in. When dup is
 * not NULL, bytes shared with held chunks are counted and compared. Returns
 * the sequence number where storing stopped (seq + len when everything new
 * was stored).
 */
static uint32_t walk(struct run *r, uint32_t seq, const uint8_t *data, uint32_t len, int store,
		     uint32_t *new_bytes, uint32_t *new_chunks, uint32_t *dup, int *conflict)
{
	struct kc_reasm_core *core = r->core;
	struct kc_reasm_dir *d = r->dir;
	uint32_t *link = &d->head;
	uint32_t s = seq, end = seq + len;

	/* Common case after a loss: the segment lies after every held chunk;
	 * start at the tail instead of walking the whole list. */
	if (d->tail != 0 &&
	    SEQ_GEQ(seq, chunk_at(core, d->tail)->seq + chunk_at(core, d->tail)->len))
		link = &chunk_at(core, d->tail)->next;

	while (SEQ_LT(s, end)) {
		struct chunk *c;
		uint32_t pe;

		while (*link != 0 && SEQ_LEQ(chunk_at(core, *link)->seq + chunk_at(core, *link)->len, s))
			link = &chunk_at(core, *link)->next;
		c = *link != 0 ? chunk_at(core, *link) : NULL;
		if (c != NULL && SEQ_LEQ(c->seq, s)) {
			uint32_t cend = c->seq + c->len;
			uint32_t ov = (SEQ_LT(cend, end) ? cend : end) - s;

			if (dup != NULL) {
				if (memcmp(chunk_data(core, *link) + (s - c->seq), data + (s - seq), ov))
					*conflict = 1;
				*dup += ov;
			}
			s += ov;
			continue;
		}
		pe = (c != NULL && SEQ_LT(c->seq, end)) ? c->seq : end;
		if (!store) {
			*new_bytes += pe - s;
			*new_chunks += (pe - s + core->chunk_size - 1) / core->chunk_size;
			s = pe;
			continue;
		}
		while (SEQ_LT(s, pe)) {
			uint32_t n = pe - s < core->chunk_size ? pe - s : core->chunk_size;
			uint32_t nl = pool_take(core);
			struct chunk *nc;

			if (nl == 0)
				return s;
			nc = chunk_at(core, nl);
			nc->seq = s;
			nc->len = n;
			memcpy(chunk_data(core, nl), data + (s - seq), n);
			nc->next = *link;
			*link = nl;
			if (nc->next == 0)
				d->tail = nl;
			link = &nc->next;
			d->held_bytes += n;
			d->held_segs++;
			s += n;
		}
	}
	return end;
}

/* A segment starting after next_seq: hold its new bytes, within bounds. */
static void hold(struct run *r, uint32_t seq, const uint8_t *data, uint32_t len)
{
	struct kc_reasm_core *core = r->core;
	struct kc_reasm_dir *d = r->dir;
	struct kc_reasm_stats *st = &core->stats;
	uint32_t new_bytes = 0, new_chunks = 0, dup = 0, stop, held_before;
	/* Held chunks inside the segment's range can split its new bytes into
	 * one more piece each: bound the pieces by all held chunks. */
	uint32_t worst = (len + core->chunk_size - 1) / core->chunk_size + d->held_segs;
	int conflict = 0;

	if ((uint64_t)d->held_bytes + len <= core->max_dir_bytes &&
	    (uint64_t)d->held_segs + worst <= core->max_dir_segs) {
		/* Fits even if every byte is new: one walk stores and compares. */
		held_before = d->held_bytes;
		stop = walk(r, seq, data, len, 1, NULL, NULL, &dup, &conflict);
		new_bytes = d->held_bytes - held_before;
		st->overlaps_conflict += conflict;
		st->overlap_bytes += dup;
		if (new_bytes == 0 && stop == seq + len) {
			st->retransmissions++;
			return;
		}
		if (dup != 0)
			st->overlaps++;
	} else {
		walk(r, seq, data, len, 0, &new_bytes, &new_chunks, &dup, &conflict);
		st->overlaps_conflict += conflict;
		st->overlap_bytes += dup;
		if (new_bytes == 0) {
			st->retransmissions++;
			return;
		}
		if (dup != 0)
			st->overlaps++;
		if ((uint64_t)d->held_bytes + new_bytes > core->max_dir_bytes ||
		    (uint64_t)d->held_segs + new_chunks > core->max_dir_segs) {
			/* Bound hit: stop waiting for the oldest holes before
			 * this segment; if that does not make room, stop
			 * waiting for the segment's own hole and deliver it
			 * now, zero copy. */
			st->dir_limit_drops++;
			if (core->dir_limit_policy == KC_REASM_POLICY_DROP) {
				st->policy_drop_bytes += new_bytes;
				return;
			}
			while (d->head != 0 && SEQ_LT(chunk_at(core, d->head)->seq, seq) &&
			       ((uint64_t)d->held_bytes + new_bytes > core->max_dir_bytes ||
				(uint64_t)d->held_segs + new_chunks > core->max_dir_segs))
				skip_first_hole(r, GAP_DIR_LIMIT);
			if (SEQ_LEQ(seq, d->next_seq) ||
			    (uint64_t)d->held_bytes + new_bytes > core->max_dir_bytes ||
			    (uint64_t)d->held_segs + new_chunks > core->max_dir_segs) {
				skip_until(r, seq, GAP_DIR_LIMIT);
				merge(r, seq, data, len, 1);
				return;
			}
		}
		held_before = d->held_bytes;
		stop = walk(r, seq, data, len, 1, NULL, NULL, NULL, NULL);
		new_bytes = d->held_bytes - held_before;
	}
	if (new_bytes != 0) {
		st->segments_ooo++;
		st->bytes_ooo += new_bytes;
	}
	if (stop != seq + len) {
		/* The memcap said no part way: what was stored stays held; the
		 * rest is delivered now after giving up on the holes before it. */
		st->memcap_drops++;
		if (core->memcap_policy == KC_REASM_POLICY_DROP) {
			uint32_t refused = 0, nc = 0;

			walk(r, stop, data + (stop - seq), seq + len - stop, 0, &refused, &nc, NULL,
			     NULL);
			st->policy_drop_bytes += refused;
			return;
		}
		skip_until(r, stop, GAP_MEMCAP);
		merge(r, stop, data + (stop - seq), seq + len - stop, 1);
	}
}

/* The in-order case of kc_reasm_push(), whose checks it repeats in one test:
 * not a bare ACK or probe (len > 1 also rules out a keep-alive at next - 1
 * and a one-byte zero-window probe at next), no SYN/FIN/RST, started, no FIN
 * seen (nothing to trim), nothing held. */
static inline bool in_order(const struct kc_reasm_dir *dir, uint32_t seq, uint8_t tcp_flags, uint32_t len)
{
	return seq == dir->next_seq && dir->head == 0 && len > 1 && len <= KC_REASM_MAX_WINDOW &&
	       !(tcp_flags & (KC_REASM_TCP_SYN | KC_REASM_TCP_FIN | KC_REASM_TCP_RST)) &&
	       (dir->flags & (KC_REASM_DIR_F_STARTED | KC_REASM_DIR_F_FIN)) == KC_REASM_DIR_F_STARTED;
}

/* What emit() and the in-order branch of kc_reasm_push() count for a
 * segment delivered whole, zero copy, without a gap before it. */
static inline void account_in_order(struct kc_reasm_core *core, struct kc_reasm_dir *dir, uint32_t len)
{
	struct kc_reasm_stats *st = &core->stats;

	st->segments++;
	st->deliveries++;
	st->bytes_delivered += len;
	st->segments_in_order++;
	st->bytes_in_order += len;
	dir->offset += len;
	dir->next_seq += len;
}

bool kc_reasm_push_in_order(struct kc_reasm_core *core, struct kc_reasm_dir *dir, uint32_t seq,
			    uint8_t tcp_flags, uint32_t len)
{
	if (!in_order(dir, seq, tcp_flags, len))
		return false;
	account_in_order(core, dir, len);
	return true;
}

int kc_reasm_push(struct kc_reasm_core *core, struct kc_reasm_dir *dir, uint32_t seq,
		  uint8_t tcp_flags, const uint8_t *payload, uint32_t len, uint64_t ts_us,
		  kc_reasm_deliver_fn fn, void *ctx)
{
	struct kc_reasm_stats *st;
	struct run r;

	if (core == NULL || dir == NULL || fn == NULL || (payload == NULL && len != 0) ||
	    len > KC_REASM_MAX_WINDOW)
		return -EINVAL;
	if (in_order(dir, seq, tcp_flags, len)) {
		fn(ctx, payload, len, 0, ts_us);
		account_in_order(core, dir, len);
		return 0;
	}
	st = &core->stats;
	r = (struct run){ .core = core, .dir = dir, .fn = fn, .ctx = ctx, .ts = ts_us };

	if (len == 0 && !(tcp_flags & (KC_REASM_TCP_SYN | KC_REASM_TCP_FIN | KC_REASM_TCP_RST))) {
		/* A bare ACK, or a keep-alive / zero-window probe without data. */
		if ((dir->flags & KC_REASM_DIR_F_STARTED) && seq == dir->next_seq - 1) {
			if (dir->flags & KC_REASM_DIR_F_ZWIN)
				st->zero_window_probes++;
			else
				st->keepalives++;
		}
		return 0;
	}
	st->segments++;

	if (tcp_flags & KC_REASM_TCP_RST) {
		/* Data in an RST is diagnostic text, not stream bytes
		 * (RFC 1122 4.2.2.12); the receiver drops the connection. */
		st->rst++;
		st->rst_payload_bytes += len;
		dir->flags |= KC_REASM_DIR_F_RST;
		return 0;
	}

	if (tcp_flags & KC_REASM_TCP_SYN) {
		st->syn++;
		if ((dir->flags & KC_REASM_DIR_F_SYN) && seq == dir->isn) {
			st->syn_retrans++;
		} else if (!(dir->flags & KC_REASM_DIR_F_STARTED) ||
			   (dir->offset == 0 && dir->head == 0)) {
			if (dir->flags & KC_REASM_DIR_F_STARTED)
				st->syn_restart++;
			/* The SYN occupies the ISN; data starts at ISN + 1
			 * (RFC 9293 3.4). */
			dir->isn = seq;
			dir->next_seq = seq + 1;
			dir->flags = (uint8_t)((dir->flags & KC_REASM_DIR_F_ZWIN) |
					       KC_REASM_DIR_F_STARTED | KC_REASM_DIR_F_SYN);
		} else {
			st->syn_ignored++;
			return 0;
		}
		seq++;
	}

	if (len != 0 && !(dir->flags & KC_REASM_DIR_F_STARTED)) {
		/* Picked up mid-stream: the first data byte seen is the start. */
		dir->next_seq = seq;
		dir->flags |= KC_REASM_DIR_F_STARTED;
		st->pickups++;
	}
	if (!(dir->flags & KC_REASM_DIR_F_STARTED)) {
		/* FIN without data before anything else: nothing to anchor it. */
		if (tcp_flags & KC_REASM_TCP_FIN)
			st->fin++;
		return 0;
	}

	if (dir->flags & KC_REASM_DIR_F_FIN) {
		/* The FIN's sequence number ends the stream (RFC 9293 3.10.7.4):
		 * anything at or beyond it is not data. */
		if (len != 0 && SEQ_GT(seq + len, dir->fin_seq)) {
			uint32_t keep = SEQ_GT(dir->fin_seq, seq) ? dir->fin_seq - seq : 0;

			st->data_after_fin++;
			st->data_after_fin_bytes += len - keep;
			len = keep;
		}
		if (tcp_flags & KC_REASM_TCP_FIN)
			st->fin++;
	} else if (tcp_flags & KC_REASM_TCP_FIN) {
		st->fin++;
		/* Only a FIN at or after the next expected byte, within the
		 * window, can end the stream; an older or far one is bogus
		 * (or forged) and would otherwise blind us to real data. */
		if (SEQ_GEQ(seq + len, dir->next_seq) &&
		    seq + len - dir->next_seq <= KC_REASM_MAX_WINDOW) {
			dir->fin_seq = seq + len;
			dir->flags |= KC_REASM_DIR_F_FIN;
		} else {
			st->fin_ignored++;
		}
	}
	if (len == 0)
		return 0;

	if (len <= 1 && seq == dir->next_seq - 1 && !(tcp_flags & KC_REASM_TCP_SYN)) {
		/* Keep-alive: one old byte (RFC 9293 3.8.4, "garbage octet"). */
		if (dir->flags & KC_REASM_DIR_F_ZWIN)
			st->zero_window_probes++;
		else
			st->keepalives++;
		return 0;
	}
	if (len == 1 && seq == dir->next_seq && (dir->flags & KC_REASM_DIR_F_ZWIN)) {
		/* Zero-window probe (RFC 9293 3.8.6.1): the receiver had no
		 * window, so it drops this byte; the sender sends it again. */
		st->zero_window_probes++;
		return 0;
	}

	if (seq == dir->next_seq && dir->head == 0) {
		/* The common case, next in order with nothing held: what
		 * merge() would do, without its loop. */
		emit(&r, payload, len);
		st->segments_in_order++;
		st->bytes_in_order += len;
		return 0;
	}
	if (SEQ_LEQ(seq, dir->next_seq)) {
		merge(&r, seq, payload, len, 0);
		return 0;
	}
	if (seq - dir->next_seq > KC_REASM_MAX_WINDOW) {
		st->out_of_window++;
		return 0;
	}
	hold(&r, seq, payload, len);
	return 0;
}

void kc_reasm_ack(struct kc_reasm_core *core, struct kc_reasm_dir *dir, uint32_t ack,
		  uint32_t window, uint64_t ts_us, kc_reasm_deliver_fn fn, void *ctx)
{
	struct run r = { .core = core, .dir = dir, .fn = fn, .ctx = ctx, .ts = ts_us };

	if (window == 0)
		dir->flags |= KC_REASM_DIR_F_ZWIN;
	else
		dir->flags &= (uint8_t)~KC_REASM_DIR_F_ZWIN;
	if (!(dir->flags & KC_REASM_DIR_F_STARTED) || SEQ_LEQ(ack, dir->next_seq) ||
	    ack - dir->next_seq > KC_REASM_MAX_WINDOW)
		return;
	if (!(dir->flags & KC_REASM_DIR_F_ACK) || SEQ_GT(ack, dir->ack)) {
		dir->ack = ack;
		dir->flags |= KC_REASM_DIR_F_ACK;
	}
	while (dir->head != 0 && SEQ_LT(chunk_at(core, dir->head)->seq, ack))
		skip_first_hole(&r, GAP_ACK);
}

void kc_reasm_flush(struct kc_reasm_core *core, struct kc_reasm_dir *dir, uint64_t ts_us,
		    kc_reasm_deliver_fn fn, void *ctx)
{
	struct run r = { .core = core, .dir = dir, .fn = fn, .ctx = ctx, .ts = ts_us };
	uint32_t end;
	int known = 0;

	while (dir->head != 0)
		skip_first_hole(&r, GAP_FLUSH);
	if (!(dir->flags & KC_REASM_DIR_F_STARTED))
		return;
	/* Bytes we never saw at the end: the peer ACKed them, or they sit
	 * before the FIN (whose own sequence number is not data). */
	end = dir->next_seq;
	if ((dir->flags & KC_REASM_DIR_F_ACK) && SEQ_GT(dir->ack, end)) {
		end = dir->ack;
		known = 1;
	}
	if (dir->flags & KC_REASM_DIR_F_FIN) {
		if (known && SEQ_GT(end, dir->fin_seq))
			end = dir->fin_seq;
		if (SEQ_GT(dir->fin_seq, end))
			end = dir->fin_seq;
	}
	if (SEQ_GT(end, dir->next_seq)) {
		skip(&r, end - dir->next_seq, GAP_FLUSH);
		emit(&r, NULL, 0);
	}
}

void kc_reasm_dir_release(struct kc_reasm_core *core, struct kc_reasm_dir *dir)
{
	struct run r = { .core = core, .dir = dir };

	core->stats.released_bytes += dir->held_bytes;
	while (dir->head != 0)
		pop_head(&r);
	kc_reasm_dir_init(dir);
}

int kc_reasm_dir_validate(const struct kc_reasm_core *core, const struct kc_reasm_dir *dir)
{
	uint32_t link = dir->head, last = 0, segs = 0, bytes = 0, prev_end = dir->next_seq;

	while (link != 0) {
		const struct chunk *c;

		if (link > core->n_chunks || segs > core->n_chunks)
			return -EUCLEAN;
		c = &core->chunks[link - 1];
		/* The first chunk starts after a hole; later ones after (or
		 * right at) the end of the previous one. */
		if (c->len == 0 || c->len > core->chunk_size ||
		    (segs == 0 ? SEQ_LEQ(c->seq, prev_end) : SEQ_LT(c->seq, prev_end)))
			return -EUCLEAN;
		prev_end = c->seq + c->len;
		bytes += c->len;
		segs++;
		last = link;
		link = c->next;
	}
	if (last != dir->tail || segs != dir->held_segs || bytes != dir->held_bytes)
		return -EUCLEAN;
	return 0;
}
