/*
 * Private layout of the HTTP/2 dissector: the flow (frame state per
 * direction, HPACK decoders, stream table, assembly buffer and field store)
 * and the functions shared by http2_frame.c and http2_stream.c.
 */
#ifndef HTTP2_INTERNAL_H
#define HTTP2_INTERNAL_H

#include "kc_hpack.h"
#include "kc_http2.h"

/* RFC 9113 6: frame types. */
enum {
	FT_DATA = 0x0,
	FT_HEADERS = 0x1,
	FT_PRIORITY = 0x2,
	FT_RST_STREAM = 0x3,
	FT_SETTINGS = 0x4,
	FT_PUSH_PROMISE = 0x5,
	FT_PING = 0x6,
	FT_GOAWAY = 0x7,
	FT_WINDOW_UPDATE = 0x8,
	FT_CONTINUATION = 0x9,
};

/* Frame flags. */
#define FF_END_STREAM 0x01u
#define FF_ACK 0x01u
#define FF_END_HEADERS 0x04u
#define FF_PADDED 0x08u
#define FF_PRIORITY 0x20u

#define FRAME_HDR_LEN 9u
#define SETTINGS_HEADER_TABLE_SIZE 0x1u

/* Phase of a direction's frame walk. */
enum {
	PH_PREFACE = 0, /* client: matching the 24-byte preface */
	PH_HEAD,        /* at a frame boundary */
	PH_DATA,        /* inside DATA payload: data bytes left */
	PH_SKIP,        /* skipping payload (padding, ignored frames) */
	PH_SYNC,        /* first bytes of a direction without a preface: must
			 * look like frames (server SETTINGS, or a join) */
	PH_RESYNC,      /* after a gap: scanning for a plausible frame header */
	PH_DEAD,        /* resync given up: bytes consumed and ignored */
};

struct h2_dir {
	struct kc_hpack_dec hpack; /* decodes blocks sent in this direction */
	uint32_t left;       /* PH_DATA/PH_SKIP: payload bytes still to consume */
	uint32_t pad;        /* PH_DATA: padding after the data bytes */
	uint32_t sid;        /* stream of the current DATA frame */
	uint32_t cont_sid;   /* header block awaiting CONTINUATION on this stream, 0 none */
	uint32_t promised;   /* PUSH_PROMISE being continued: the promised stream */
	uint32_t cont_bytes; /* frame bytes of the block being continued */
	uint8_t phase;
	uint8_t flags;       /* current DATA frame's flags */
	uint8_t cont_type;   /* FT_HEADERS or FT_PUSH_PROMISE being continued */
	uint8_t cont_flags;  /* its flags (END_STREAM applies at END_HEADERS) */
	uint8_t preface_got; /* PH_PREFACE: bytes matched */
	uint8_t started;     /* a first frame was seen */
	uint32_t scanned;    /* PH_RESYNC: bytes skipped so far */
	uint32_t max_frame;  /* SETTINGS_MAX_FRAME_SIZE the peer advertised
			      * (bounds frames sent this way), 16384 default */
};

/* Stream flags. */
#define S_REQ_HDR        0x0001u /* request headers decoded */
#define S_RESP_HDR       0x0002u /* response headers decoded */
#define S_REQ_END        0x0004u /* END_STREAM from the client */
#define S_RESP_END       0x0008u /* END_STREAM from the server */
#define S_GRPC           0x0010u /* content-type application/grpc seen */
#define S_TRUNC          0x0020u /* a field was dropped (store or limits) */
#define S_UNKNOWN        0x0040u /* a block referred to pre-join state: no item */
#define S_RESET          0x0080u /* RST_STREAM from the server: done */
#define S_RESET_C        0x0100u /* RST_STREAM from the client: waits for the
				  * server's in-flight response (see
				  * h2_stream_maybe_finish) */
#define S_GAP_REQ        0x0200u /* a gap hit the client side: KC_ITEM_F_GAP,
				  * request body prefix stops */
#define S_GAP_RESP       0x0400u /* same for the server side */

struct h2_stream {
	uint32_t id;          /* 0: free slot */
	uint16_t flags;       /* S_* */
	int16_t status;       /* :status, 0 none */
	int32_t grpc_status;  /* -1 none */
	uint16_t req_kept;    /* body bytes kept in the store */
	uint16_t resp_kept;
	uint64_t req_ts, resp_ts;
	uint64_t req_size, resp_size; /* frame bytes each way */
	int64_t req_body, resp_body;  /* DATA bytes each way */
};

/* Store record kinds (see http2_stream.c). */
enum {
	K_REQ_HDR = 0,
	K_RESP_HDR,
	K_REQ_BODY,
	K_RESP_BODY,
	K_REQ_METHOD, /* upgrade: request line fields, not headers */
	K_REQ_URL,
	K_REQ_HOST,
	K_REQ_MIME,
};

#define NO_REC UINT32_MAX

struct kc_http2_flow {
	uint8_t mode;         /* enum kc_http2_mode */
	uint8_t broken;       /* HPACK state lost: no more items */
	uint8_t closed;
	uint8_t joined;       /* counted as a mid-stream join */
	uint8_t hb_owner;     /* direction assembling into hb, 0xff none */
	uint32_t hb_len;
	uint32_t store_used;
	uint32_t last_rec;    /* offset of the store's last record, NO_REC none */
	uint32_t item_index;
	uint32_t max_c2s_sid; /* highest stream the client opened (5.1.1: ids only grow) */
	struct h2_dir dir[2];
	struct h2_stream streams[KC_HTTP2_MAX_STREAMS];
	uint8_t hb[KC_HTTP2_HB_SIZE];
	uint8_t store[KC_HTTP2_STORE_SIZE];
};

static inline uint32_t rd24(const uint8_t *p)
{
	return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

/* 31-bit stream identifier; the reserved bit is ignored (RFC 9113 4.1). */
static inline uint32_t rd31(const uint8_t *p)
{
	return (((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]) &
	       0x7fffffffu;
}

/* http2_conn.c: could this 9-byte frame header occur in a valid connection? */
int h2_frame_plausible(const uint8_t *h);
/* Stricter check used to find a frame boundary after a gap in direction
 * @p dir (kc_http2.h): h2_frame_plausible, length within the peer's
 * SETTINGS_MAX_FRAME_SIZE, no CONTINUATION (its block's start is lost),
 * DATA and PUSH_PROMISE only on tracked streams, HEADERS on a tracked
 * stream or a new odd one above max_c2s_sid (at most 2 x
 * KC_HTTP2_MAX_STREAMS above), other stream frames within that bound. */
int h2_frame_resync_ok(struct kc_http2_flow *f, const uint8_t *h, int dir);

/* http2_body.c: Content-Encoding of a side's headers, and inflating a body
 * prefix in place (@return 1 decoded whole, 0 decoded a prefix, -EINVAL
 * not decodable: the encoded bytes are kept). */
enum { H2_ENC_NONE = 0, H2_ENC_GZIP, H2_ENC_DEFLATE };
int h2_body_encoding(const struct kc_item *it, const struct kc_kv *kv, unsigned n);
int h2_body_decode(struct kc_item *it, struct kc_str *body, int enc);

/* http2_stream.c */
struct h2_stream *h2_stream_find(struct kc_http2_flow *f, uint32_t sid);
/* A free slot for @p sid. When none is free, the lowest stream the client
 * reset is emitted to make room; else NULL and streams_overflow counted. */
struct h2_stream *h2_stream_new(struct kc_http2_flow *f, uint32_t sid,
				const struct kc_flow_info *info, kc_item_emit_fn emit, void *ctx,
				struct kc_http2_stats *st);
int h2_store_put(struct kc_http2_flow *f, struct h2_stream *s, uint8_t kind,
		 const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen,
		 struct kc_http2_stats *st);
void h2_store_body(struct kc_http2_flow *f, struct h2_stream *s, int resp,
		   const uint8_t *data, size_t n, struct kc_http2_stats *st);
/* Decode a header block for stream @p s (NULL: untracked) as request (resp 0)
 * or response side. @return 0, or -EINVAL when the HPACK state is lost. */
int h2_decode_block(struct kc_http2_flow *f, int dir, struct h2_stream *s, int resp,
		    const uint8_t *blk, size_t len, struct kc_http2_stats *st);
/* Emit the stream's item if it is finished (or @p force) and free the slot. */
void h2_stream_maybe_finish(struct kc_http2_flow *f, struct h2_stream *s, int force,
			    const struct kc_flow_info *info, kc_item_emit_fn emit, void *ctx,
			    struct kc_http2_stats *st);
void h2_stream_free(struct kc_http2_flow *f, struct h2_stream *s);
void h2_apply_settings(struct kc_http2_flow *f, int dir, const uint8_t *p, size_t len);

#endif /* HTTP2_INTERNAL_H */
