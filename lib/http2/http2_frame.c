/*
 * HTTP/2 framing (RFC 9113 section 4 and 6): the per-direction frame walk
 * (after the client preface, or from a frame boundary after a join), and
 * what each frame type does to the streams. Connection setup lives in
 * http2_conn.c.
 *
 * Frame layout (RFC 9113 4.1):
 *
 *     +-----------------------------------------------+
 *     |                 Length (24)                   |
 *     +---------------+---------------+---------------+
 *     |   Type (8)    |   Flags (8)   |
 *     +-+-------------+---------------+-------------------------------+
 *     |R|                 Stream Identifier (31)                      |
 *     +=+=============================================================+
 *     |                   Frame Payload (0...)                      ...
 *
 * DATA payload is consumed as it arrives; every other frame the dissector
 * reads is asked for whole (NEED_MORE until the dispatcher holds it), the
 * rest is skipped as it arrives.
 */
#include <string.h>

#include "http2_internal.h"

static const uint8_t preface[KC_HTTP2_PREFACE_LEN + 1] = KC_HTTP2_PREFACE;

/* The HPACK state is gone: count what will never be emitted, stop. */
static void set_broken(struct kc_http2_flow *f, struct kc_http2_stats *st)
{
	f->broken = 1;
	for (unsigned i = 0; i < KC_HTTP2_MAX_STREAMS; i++) {
		struct h2_stream *s = &f->streams[i];

		if (s->id == 0)
			continue;
		if (s->flags & (S_REQ_HDR | S_RESP_HDR))
			st->items_suppressed++;
		s->id = 0;
	}
	f->store_used = 0;
	f->last_rec = NO_REC;
}

/* Mark direction @p d as joined mid-way (its decoder misses history). */
static void join_midway(struct kc_http2_flow *f, int d, struct kc_http2_stats *st)
{
	kc_hpack_dec_set_partial(&f->dir[d].hpack);
	if (!f->joined) {
		f->joined = 1;
		st->midstream_joins++;
	}
}

struct feed_ctx {
	struct kc_http2_flow *f;
	int d;
	uint64_t ts;
	const struct kc_flow_info *info;
	kc_item_emit_fn emit;
	void *ctx;
	struct kc_http2_stats *st;
};

static void end_stream(struct feed_ctx *c, struct h2_stream *s)
{
	s->flags |= c->d == KC_DIR_C2S ? S_REQ_END : S_RESP_END;
	h2_stream_maybe_finish(c->f, s, 0, c->info, c->emit, c->ctx, c->st);
}

/*
 * A complete header block for @p sid arrived from direction c->d (HEADERS,
 * or PUSH_PROMISE with @p promised != 0). @return 0 or -EINVAL (state lost).
 */
static int header_block(struct feed_ctx *c, uint32_t sid, uint32_t promised, uint8_t flags,
			const uint8_t *blk, size_t len, uint32_t frame_bytes)
{
	struct kc_http2_flow *f = c->f;
	struct h2_stream *s;
	int resp;

	if (promised != 0) {
		/* RFC 9113 8.4: the promised request, sent by the server. */
		s = NULL;
		if (c->d == KC_DIR_S2C)
			s = h2_stream_new(f, promised, c->info, c->emit, c->ctx, c->st);
		resp = 0;
		if (s != NULL) {
			s->req_ts = c->ts;
			s->flags |= S_REQ_HDR | S_REQ_END; /* no request body */
		}
	} else {
		s = h2_stream_find(f, sid);
		resp = c->d == KC_DIR_S2C;
		/* A response may be fed before its request: the dispatcher orders
		 * bytes within a direction, not across them. On a connection seen
		 * from its start, a client stream above every one opened so far
		 * is such a request still to come (ids only grow, 5.1.1). */
		if (s == NULL && (sid & 1u) &&
		    (!resp || (!f->joined && sid > f->max_c2s_sid)))
			s = h2_stream_new(f, sid, c->info, c->emit, c->ctx, c->st);
		if (!resp && (sid & 1u) && sid > f->max_c2s_sid)
			f->max_c2s_sid = sid;
		if (s == NULL)
			c->st->frames_untracked++;
		if (s != NULL) {
			uint16_t seen = resp ? S_RESP_HDR : S_REQ_HDR;

			if (!(s->flags & seen)) {
				if (resp)
					s->resp_ts = c->ts;
				else
					s->req_ts = c->ts;
			}
			if (resp)
				s->resp_size += frame_bytes;
			else
				s->req_size += frame_bytes;
		}
	}
	if (h2_decode_block(f, c->d, s, resp, blk, len, c->st) < 0)
		return -EINVAL;
	/* only now: a stream whose first block was malformed has no headers */
	if (s != NULL)
		s->flags |= resp ? S_RESP_HDR : S_REQ_HDR;
	if (s != NULL && promised == 0 && (flags & FF_END_STREAM))
		end_stream(c, s);
	return 0;
}

/* Start or continue assembling a split block in f->hb. @return 0, -EINVAL. */
static int hb_append(struct feed_ctx *c, const uint8_t *p, size_t n)
{
	struct kc_http2_flow *f = c->f;

	if (f->hb_owner != 0xff && f->hb_owner != c->d) {
		c->st->hb_busy++;
		return -EINVAL;
	}
	if (n > KC_HTTP2_HB_SIZE - f->hb_len) {
		c->st->hb_overflow++;
		return -EINVAL;
	}
	f->hb_owner = (uint8_t)c->d;
	memcpy(f->hb + f->hb_len, p, n);
	f->hb_len += (uint32_t)n;
	return 0;
}

/* HEADERS or PUSH_PROMISE, whole in @p p. @return 0 or -EINVAL. */
static int on_headers(struct feed_ctx *c, uint8_t type, uint8_t flags, uint32_t sid,
		      const uint8_t *p, uint32_t len)
{
	struct h2_dir *dir = &c->f->dir[c->d];
	uint32_t off = 0, pad = 0, promised = 0;

	if (flags & FF_PADDED) {
		if (len < 1)
			goto bad;
		pad = p[0];
		off = 1;
	}
	if (type == FT_HEADERS && (flags & FF_PRIORITY))
		off += 5;
	if (type == FT_PUSH_PROMISE) {
		if (len < off + 4)
			goto bad;
		promised = rd31(p + off);
		off += 4;
		c->st->push_promises++;
		if (promised == 0)
			goto bad;
	}
	/* 6.1/6.2: "If the length of the padding is the length of the frame
	 * payload or greater, the recipient MUST treat this as a connection
	 * error" -- and then the block cannot be located either. */
	if ((uint64_t)off + pad > len)
		goto bad;
	if (flags & FF_END_HEADERS)
		return header_block(c, sid, promised, flags, p + off, len - off - pad,
				    FRAME_HDR_LEN + len);
	if (hb_append(c, p + off, len - off - pad) < 0)
		return -EINVAL;
	dir->cont_sid = sid;
	dir->cont_type = type;
	dir->cont_flags = flags;
	dir->promised = promised;
	dir->cont_bytes = FRAME_HDR_LEN + len;
	return 0;
bad:
	c->st->protocol_errors++;
	return -EINVAL;
}

static int on_continuation(struct feed_ctx *c, uint8_t flags, const uint8_t *p, uint32_t len)
{
	struct kc_http2_flow *f = c->f;
	struct h2_dir *dir = &f->dir[c->d];
	int rc;

	if (hb_append(c, p, len) < 0)
		return -EINVAL;
	dir->cont_bytes += FRAME_HDR_LEN + len;
	if (!(flags & FF_END_HEADERS))
		return 0;
	rc = header_block(c, dir->cont_sid, dir->promised, dir->cont_flags, f->hb, f->hb_len,
			  dir->cont_bytes);
	f->hb_len = 0;
	f->hb_owner = 0xff;
	dir->cont_sid = 0;
	dir->promised = 0;
	return rc;
}

/* Account a stream frame's bytes to its stream (if tracked). */
static void account(struct feed_ctx *c, struct h2_stream *s, uint32_t flen)
{
	if (s == NULL)
		return;
	if (c->d == KC_DIR_C2S)
		s->req_size += FRAME_HDR_LEN + (uint64_t)flen;
	else
		s->resp_size += FRAME_HDR_LEN + (uint64_t)flen;
}

/*
 * One step at a frame boundary with @p avail >= 9 bytes at @p p.
 * @return bytes consumed (> 0), 0 when more bytes are needed (*need set),
 * -EINVAL when the HPACK state is lost.
 */
static long frame_step(struct feed_ctx *c, const uint8_t *p, size_t avail, uint32_t *need)
{
	struct kc_http2_flow *f = c->f;
	struct h2_dir *dir = &f->dir[c->d];
	uint32_t len = rd24(p);
	uint8_t type = p[3], flags = p[4];
	uint32_t sid = rd31(p + 5);
	const uint8_t *pl = p + FRAME_HDR_LEN;
	int whole = type == FT_HEADERS || type == FT_CONTINUATION || type == FT_PUSH_PROMISE ||
		    type == FT_SETTINGS || type == FT_RST_STREAM;
	struct h2_stream *s;

	if (whole && len > KC_HTTP2_MAX_WHOLE_FRAME) {
		if (type == FT_HEADERS || type == FT_CONTINUATION || type == FT_PUSH_PROMISE) {
			c->st->frames++;
			c->st->hb_overflow++;
			return -EINVAL;
		}
		whole = 0; /* an absurd SETTINGS/RST_STREAM: skip it */
		c->st->protocol_errors++;
	}
	if (whole && avail < FRAME_HDR_LEN + (size_t)len) {
		*need = (uint32_t)(FRAME_HDR_LEN + len - avail);
		return 0;
	}
	if (type == FT_DATA && (flags & FF_PADDED) && len > 0 && avail < FRAME_HDR_LEN + 1) {
		*need = 1;
		return 0;
	}
	c->st->frames++;
	/* 6.10: a split header block is followed by CONTINUATION frames of
	 * the same stream and nothing else. */
	if (dir->cont_sid != 0 && (type != FT_CONTINUATION || sid != dir->cont_sid)) {
		c->st->protocol_errors++;
		return -EINVAL;
	}
	switch (type) {
	case FT_DATA: {
		uint32_t pad = 0, hdr = FRAME_HDR_LEN;

		c->st->frames_data++;
		s = h2_stream_find(f, sid);
		if (s == NULL)
			c->st->frames_untracked++;
		account(c, s, len);
		if (flags & FF_PADDED) {
			if (len == 0 || (uint32_t)pl[0] >= len) {
				c->st->protocol_errors++;
				dir->phase = PH_SKIP;
				dir->left = len;
				return FRAME_HDR_LEN;
			}
			pad = pl[0];
			hdr++;
		}
		dir->sid = sid;
		dir->flags = flags;
		dir->left = len - (hdr - FRAME_HDR_LEN) - pad;
		dir->pad = pad;
		dir->phase = PH_DATA;
		return hdr;
	}
	case FT_HEADERS:
	case FT_PUSH_PROMISE:
		if (type == FT_HEADERS)
			c->st->frames_headers++;
		/* header_block() accounts the frame bytes to the stream */
		if (on_headers(c, type, flags, sid, pl, len) < 0)
			return -EINVAL;
		return FRAME_HDR_LEN + len;
	case FT_CONTINUATION:
		c->st->frames_continuation++;
		if (dir->cont_sid == 0) {
			/* CONTINUATION with no open block: 6.10 connection
			 * error; the block it belongs to is unknown. */
			c->st->protocol_errors++;
			return -EINVAL;
		}
		if (on_continuation(c, flags, pl, len) < 0)
			return -EINVAL;
		return FRAME_HDR_LEN + len;
	case FT_SETTINGS:
		c->st->frames_settings++;
		if (!whole)
			break;
		if (sid != 0 || len % 6 != 0) {
			c->st->protocol_errors++;
		} else if (!(flags & FF_ACK)) {
			h2_apply_settings(f, c->d, pl, len);
		}
		return FRAME_HDR_LEN + len;
	case FT_RST_STREAM:
		c->st->rst_streams++;
		if (!whole)
			break;
		s = h2_stream_find(f, sid);
		if (s != NULL && len == 4) {
			account(c, s, len);
			if (c->d == KC_DIR_S2C)
				s->flags |= S_RESET;
			else
				s->flags |= S_RESET_C | S_REQ_END;
			h2_stream_maybe_finish(f, s, 0, c->info, c->emit, c->ctx, c->st);
		}
		return FRAME_HDR_LEN + len;
	case FT_PRIORITY:
		c->st->frames_priority++;
		break;
	case FT_PING:
		c->st->frames_ping++;
		break;
	case FT_GOAWAY:
		c->st->goaways++;
		break;
	case FT_WINDOW_UPDATE:
		c->st->frames_window_update++;
		account(c, h2_stream_find(f, sid), len);
		break;
	default:
		/* 4.1: "Implementations MUST ignore and discard frames of
		 * unknown types." */
		c->st->frames_unknown++;
		break;
	}
	dir->phase = len > 0 ? PH_SKIP : PH_HEAD;
	dir->left = len;
	return FRAME_HDR_LEN;
}

/*
 * PH_RESYNC: skip bytes at @p p until a plausible frame header (see
 * kc_http2.h). Sets d->phase to PH_HEAD when found. Never skips past
 * KC_HTTP2_RESYNC_MAX - d->scanned. @return bytes skipped; *need > 0 when
 * more bytes are needed to judge the position after them.
 */
static size_t resync_scan(struct kc_http2_flow *f, int dir, const uint8_t *p, size_t avail,
			  uint32_t *need)
{
	struct h2_dir *d = &f->dir[dir];
	size_t limit = KC_HTTP2_RESYNC_MAX - KC_MIN(d->scanned, KC_HTTP2_RESYNC_MAX);
	size_t off = 0;

	for (; off < avail && off < limit; off++) {
		const uint8_t *h = p + off;
		size_t av = avail - off;
		uint64_t flen;

		if (av < FRAME_HDR_LEN) {
			*need = (uint32_t)(FRAME_HDR_LEN - av);
			return off;
		}
		if (!h2_frame_resync_ok(f, h, dir))
			continue;
		flen = FRAME_HDR_LEN + (uint64_t)rd24(h);
		if (av >= flen + FRAME_HDR_LEN) {
			const uint8_t *nx = h + flen;
			int open_block = (h[3] == FT_HEADERS || h[3] == FT_PUSH_PROMISE) &&
					 !(h[4] & FF_END_HEADERS);
			int next_ok = open_block ?
				(nx[3] == FT_CONTINUATION && h2_frame_plausible(nx) &&
				 rd31(nx + 5) == rd31(h + 5) && rd24(nx) <= d->max_frame) :
				h2_frame_resync_ok(f, nx, dir);

			if (!next_ok)
				continue;
		} else if (av != flen && flen + FRAME_HDR_LEN <= KC_HTTP2_MAX_WHOLE_FRAME) {
			/* Judge with the next header: wait for it (the
			 * dispatcher's pending buffer holds this much). */
			*need = (uint32_t)(flen + FRAME_HDR_LEN - av);
			return off;
		}
		/* Plausible with its successor, or ends exactly at the bytes
		 * given, or too long to wait for its successor. */
		d->phase = PH_HEAD;
		d->started = 1;
		return off;
	}
	return off;
}

void kc_http2_gap(struct kc_http2_flow *f, enum kc_dir dir, uint64_t gap,
		  struct kc_http2_stats *st)
{
	int di = dir == KC_DIR_S2C ? KC_DIR_S2C : KC_DIR_C2S;
	struct h2_dir *d = &f->dir[di];
	uint16_t side = di == KC_DIR_S2C ? S_GAP_RESP : S_GAP_REQ;

	if (f->broken || f->closed || gap == 0 || d->phase == PH_DEAD)
		return;
	st->gaps++;
	if ((d->phase == PH_SKIP && gap < d->left) ||
	    (d->phase == PH_DATA && gap <= (uint64_t)d->left + d->pad)) {
		/* The hole ends inside this frame's payload (or exactly at its
		 * end): the next frame header is still where we expect it. A
		 * DATA frame emptied this way ends (END_STREAM included) when
		 * the next bytes come, as if it had been read. */
		uint32_t in_data = d->phase == PH_DATA ? (uint32_t)KC_MIN(gap, (uint64_t)d->left) : 0;

		st->gap_in_frame++;
		if (d->phase == PH_DATA) {
			struct h2_stream *s = h2_stream_find(f, d->sid);

			d->left -= in_data;
			d->pad -= (uint32_t)(gap - in_data);
			if (s != NULL) {
				if (!(s->flags & (S_GAP_REQ | S_GAP_RESP)))
					st->streams_gap++;
				s->flags |= side;
				if (di == KC_DIR_S2C)
					s->resp_body += in_data;
				else
					s->req_body += in_data;
			}
		} else {
			d->left -= (uint32_t)gap;
		}
		return;
	}
	/* Frame boundary lost: whatever the hole held (DATA, END_STREAM,
	 * header blocks of any open stream) is unknown. */
	for (unsigned i = 0; i < KC_HTTP2_MAX_STREAMS; i++) {
		struct h2_stream *s = &f->streams[i];

		if (s->id == 0)
			continue;
		if (!(s->flags & (S_GAP_REQ | S_GAP_RESP)))
			st->streams_gap++;
		s->flags |= side;
	}
	if (d->cont_sid != 0 && f->hb_owner == di) {
		f->hb_len = 0;
		f->hb_owner = 0xff;
	}
	d->cont_sid = 0;
	d->promised = 0;
	d->cont_bytes = 0;
	kc_hpack_dec_lose(&d->hpack);
	d->phase = PH_RESYNC;
	d->scanned = 0;
	d->left = 0;
	d->pad = 0;
	d->flags = 0;
}

static struct kc_parse_res res(uint8_t status, size_t consumed, uint32_t needed)
{
	struct kc_parse_res r = { .status = status, .consumed = (uint32_t)consumed,
				  .needed = needed };

	return r;
}

struct kc_parse_res kc_http2_feed(struct kc_http2_flow *f, enum kc_dir dir,
				  const uint8_t *data, size_t len, uint64_t ts_us,
				  const struct kc_flow_info *info, kc_item_emit_fn emit,
				  void *ctx, struct kc_http2_stats *st)
{
	struct feed_ctx c = { .f = f, .d = dir == KC_DIR_S2C ? KC_DIR_S2C : KC_DIR_C2S,
			      .ts = ts_us, .info = info, .emit = emit, .ctx = ctx, .st = st };
	struct h2_dir *d = &f->dir[c.d];
	size_t off = 0;

	if (f->broken || f->closed)
		return res(KC_PARSE_ERROR, 0, 0);
	/* consumed is 32-bit: never claim more than it can say */
	if (len > UINT32_MAX)
		len = UINT32_MAX;
	while (off < len) {
		const uint8_t *p = data + off;
		size_t avail = len - off;

		switch (d->phase) {
		case PH_PREFACE: {
			size_t n = KC_MIN(avail, (size_t)(KC_HTTP2_PREFACE_LEN - d->preface_got));

			if (memcmp(p, preface + d->preface_got, n) == 0) {
				d->preface_got = (uint8_t)(d->preface_got + n);
				off += n;
				if (d->preface_got == KC_HTTP2_PREFACE_LEN) {
					d->phase = PH_HEAD;
					d->started = 1;
				}
				break;
			}
			/* Not the preface. In PRIOR mode, frames from the
			 * first byte mean a connection joined mid-way. */
			if (d->preface_got == 0 && f->mode == KC_HTTP2_MODE_PRIOR) {
				enum kc_http2_probe_res pr = kc_http2_probe_frames(p, avail);

				if (pr == KC_HTTP2_PROBE_NEED_MORE)
					return off > 0 ? res(KC_PARSE_OK, off, 0) :
							 res(KC_PARSE_NEED_MORE, 0, 0);
				if (pr == KC_HTTP2_PROBE_YES) {
					join_midway(f, c.d, st);
					if (!f->dir[KC_DIR_S2C].started)
						join_midway(f, KC_DIR_S2C, st);
					d->phase = PH_HEAD;
					d->started = 1;
					break;
				}
			}
			st->protocol_errors++;
			return res(KC_PARSE_ERROR, off, 0);
		}
		case PH_SYNC: {
			enum kc_http2_probe_res pr;

			if (avail < FRAME_HDR_LEN)
				return off > 0 ? res(KC_PARSE_OK, off, 0) :
						 res(KC_PARSE_NEED_MORE, 0,
						     (uint32_t)(FRAME_HDR_LEN - avail));
			/* 3.4: "The server connection preface consists of a
			 * potentially empty SETTINGS frame that MUST be the
			 * first frame the server sends". */
			if (c.d == KC_DIR_S2C && f->mode != KC_HTTP2_MODE_MIDSTREAM &&
			    p[3] == FT_SETTINGS && !(p[4] & FF_ACK) && h2_frame_plausible(p)) {
				d->phase = PH_HEAD;
				d->started = 1;
				break;
			}
			/* Otherwise the bytes must be frames on a boundary (a
			 * join): anything else would be parsed as garbage. */
			pr = kc_http2_probe_frames(p, avail);
			if (pr == KC_HTTP2_PROBE_NEED_MORE)
				return off > 0 ? res(KC_PARSE_OK, off, 0) :
						 res(KC_PARSE_NEED_MORE, 0, 0);
			if (pr == KC_HTTP2_PROBE_NO) {
				st->protocol_errors++;
				return res(KC_PARSE_ERROR, off, 0);
			}
			join_midway(f, c.d, st);
			d->phase = PH_HEAD;
			d->started = 1;
			break;
		}
		case PH_HEAD: {
			uint32_t need = 0;
			long n;

			if (avail < FRAME_HDR_LEN) {
				need = (uint32_t)(FRAME_HDR_LEN - avail);
				return off > 0 ? res(KC_PARSE_OK, off, 0) :
						 res(KC_PARSE_NEED_MORE, 0, need);
			}
			n = frame_step(&c, p, avail, &need);
			if (n < 0) {
				set_broken(f, st);
				return res(KC_PARSE_ERROR, off, 0);
			}
			if (n == 0)
				return off > 0 ? res(KC_PARSE_OK, off, 0) :
						 res(KC_PARSE_NEED_MORE, 0, need);
			off += (size_t)n;
			if (d->phase == PH_DATA && d->left == 0) {
				/* empty DATA (or only padding) */
				goto data_done;
			}
			break;
		}
		case PH_DATA: {
			size_t n = KC_MIN(avail, (size_t)d->left);
			struct h2_stream *s = h2_stream_find(f, d->sid);

			if (s != NULL)
				h2_store_body(f, s, c.d == KC_DIR_S2C, p, n, st);
			d->left -= (uint32_t)n;
			off += n;
			if (d->left > 0)
				break;
data_done:
			d->phase = d->pad > 0 ? PH_SKIP : PH_HEAD;
			d->left = d->pad;
			d->pad = 0;
			if (d->flags & FF_END_STREAM) {
				struct h2_stream *s2 = h2_stream_find(f, d->sid);

				if (s2 != NULL)
					end_stream(&c, s2);
			}
			d->flags = 0;
			break;
		}
		case PH_SKIP: {
			size_t n = KC_MIN(avail, (size_t)d->left);

			d->left -= (uint32_t)n;
			off += n;
			if (d->left == 0)
				d->phase = PH_HEAD;
			break;
		}
		case PH_RESYNC: {
			uint32_t need = 0;
			size_t skip = resync_scan(f, c.d, p, avail, &need);

			off += skip;
			d->scanned += (uint32_t)skip;
			st->resync_skipped += skip;
			if (d->phase == PH_HEAD) {
				st->resync_ok++;
				break;
			}
			if (d->scanned >= KC_HTTP2_RESYNC_MAX) {
				st->resync_giveup++;
				d->phase = PH_DEAD;
				break;
			}
			if (need > 0)
				return off > 0 ? res(KC_PARSE_OK, off, 0) :
						 res(KC_PARSE_NEED_MORE, 0, need);
			break;
		}
		case PH_DEAD:
			off = len;
			break;
		default:
			return res(KC_PARSE_ERROR, off, 0);
		}
	}
	if (off == 0)
		return res(KC_PARSE_NEED_MORE, 0, d->phase == PH_HEAD ? FRAME_HDR_LEN : 1);
	return res(KC_PARSE_OK, off, 0);
}

void kc_http2_close(struct kc_http2_flow *f, uint64_t ts_us, const struct kc_flow_info *info,
		    kc_item_emit_fn emit, void *ctx, struct kc_http2_stats *st)
{
	(void)ts_us;
	if (f->closed)
		return;
	f->closed = 1;
	if (f->broken)
		return;
	/* in stream-id order, so items keep the order their streams opened */
	for (;;) {
		struct h2_stream *min = NULL;

		for (unsigned i = 0; i < KC_HTTP2_MAX_STREAMS; i++) {
			struct h2_stream *s = &f->streams[i];

			if (s->id != 0 && (min == NULL || s->id < min->id))
				min = s;
		}
		if (min == NULL)
			break;
		h2_stream_maybe_finish(f, min, 1, info, emit, ctx, st);
	}
}
