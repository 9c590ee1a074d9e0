/**
 * @file
 * One DNS message → the DNS part of an item: header, questions, and resource
 * records rendered as text (RFC 1035 4.1, 3.3; RFC 3596; RFC 2782; RFC 3597).
 */
#include "dns_internal.h"

enum { T_A = 1, T_NS = 2, T_CNAME = 5, T_SOA = 6, T_PTR = 12, T_MX = 15, T_TXT = 16,
       T_AAAA = 28, T_SRV = 33 };

/* Small text builder over a caller's buffer; cut marks that text was lost. */
struct tb {
	char *buf;
	size_t cap, len;
	bool cut;
};

static void tb_add(struct tb *t, const char *s, size_t n)
{
	if (t->len + n > t->cap) {
		n = t->cap - t->len;
		t->cut = true;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
}

/* Decimal without printf: this runs per record on the worker. */
static void tb_u32(struct tb *t, uint32_t v, bool space)
{
	char tmp[12];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	if (space)
		tmp[--i] = ' ';
	tb_add(t, tmp + i, sizeof(tmp) - i);
}

static void tb_ipv4(struct tb *t, const uint8_t *a)
{
	for (int i = 0; i < 4; i++) {
		if (i > 0)
			tb_add(t, ".", 1);
		tb_u32(t, a[i], false);
	}
}

/* RFC 5952 4: lower-case hex without leading zeros, the longest run of two or
 * more zero groups (the first on a tie) shortened to "::"; the same text as
 * glibc's inet_ntop, without its printf. */
static void tb_ipv6(struct tb *t, const uint8_t *a)
{
	static const char hex[] = "0123456789abcdef";
	uint16_t g[8];
	int best = -1, best_len = 0;

	for (int i = 0; i < 8; i++)
		g[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > best_len && j - i >= 2) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	/* IPv4-compatible and -mapped forms as inet_ntop and Wireshark write
	 * them: "::1.2.3.4", "::ffff:1.2.3.4". */
	if (best == 0 && (best_len == 6 || (best_len == 5 && g[5] == 0xffff))) {
		tb_add(t, best_len == 6 ? "::" : "::ffff:", best_len == 6 ? 2 : 7);
		tb_ipv4(t, a + 12);
		return;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			tb_add(t, "::", 2);
			i += best_len - 1;
			continue;
		}
		if (i > 0 && i != best + best_len)
			tb_add(t, ":", 1);
		char tmp[4];
		size_t n = 0;
		int shift = 12;

		while (shift > 0 && ((g[i] >> shift) & 15) == 0)
			shift -= 4;
		for (; shift >= 0; shift -= 4)
			tmp[n++] = hex[(g[i] >> shift) & 15];
		tb_add(t, tmp, n);
	}
}

/* Decode a name that belongs to an RDATA field: it may point anywhere before
 * itself, but its in-place part must end inside the RDATA. */
static enum dns_name_rc rdata_name(const uint8_t *msg, size_t rd_end, size_t *pos,
				   struct tb *t)
{
	char name[DNS_NAME_TEXT_MAX];
	size_t n = 0;
	enum dns_name_rc rc = dns_name_decode(msg, rd_end, pos, name, sizeof(name), &n);

	if (rc == DNS_NAME_OK)
		tb_add(t, name, n);
	return rc;
}

/* RFC 3597 5: "\# <length> <hex>"; the hex is cut with the text. */
static void render_generic(const uint8_t *rd, size_t rdlen, struct tb *t)
{
	static const char hex[] = "0123456789abcdef";

	tb_add(t, "\\# ", 3);
	tb_u32(t, (uint32_t)rdlen, false);
	if (rdlen > 0)
		tb_add(t, " ", 1);
	for (size_t i = 0; i < rdlen && !t->cut; i++) {
		char h[2] = { hex[rd[i] >> 4], hex[rd[i] & 15] };

		tb_add(t, h, 2);
	}
}

/* TXT (RFC 1035 3.3.14): one or more <character-string>s, separated by one
 * NUL byte (lib/item's renderer splits on it into the "txts" array); bytes
 * outside printable ASCII as "\DDD" and '\' as "\\", so no string holds a
 * NUL of its own. */
static bool render_txt(const uint8_t *rd, size_t rdlen, struct tb *t)
{
	size_t p = 0;

	if (rdlen == 0)
		return false;
	while (p < rdlen) {
		size_t n = rd[p++];

		if (p + n > rdlen)
			return false;
		if (p > 1)
			tb_add(t, "", 1); /* the NUL separator */
		for (size_t i = 0; i < n; i++) {
			uint8_t c = rd[p + i];

			if (c == '\\') {
				tb_add(t, "\\\\", 2);
			} else if (c >= 0x20 && c < 0x7f) {
				char ch = (char)c;

				tb_add(t, &ch, 1);
			} else {
				char e[4] = { '\\', (char)('0' + c / 100),
					      (char)('0' + (c / 10) % 10), (char)('0' + c % 10) };

				tb_add(t, e, 4);
			}
		}
		p += n;
	}
	return true;
}

/*
 * Render the RDATA of one record. Returns DNS_NAME_OK, a name fault, or
 * DNS_NAME_TRUNCATED with *bad_rdata set when the RDATA does not fit its type.
 */
static enum dns_name_rc render_rdata(const uint8_t *msg, size_t rd_off, size_t rdlen,
				     uint16_t type, struct tb *t, bool *bad_rdata)
{
	const uint8_t *rd = msg + rd_off;
	size_t end = rd_off + rdlen;
	size_t p = rd_off;
	enum dns_name_rc rc;

	*bad_rdata = false;
	switch (type) {
	case T_A:
		if (rdlen != 4)
			goto bad;
		tb_ipv4(t, rd);
		return DNS_NAME_OK;
	case T_AAAA:
		if (rdlen != 16)
			goto bad;
		tb_ipv6(t, rd);
		return DNS_NAME_OK;
	case T_NS:
	case T_CNAME:
	case T_PTR:
		rc = rdata_name(msg, end, &p, t);
		if (rc == DNS_NAME_OK && p != end)
			goto bad;
		return rc;
	case T_MX:
		if (rdlen < 3)
			goto bad;
		tb_u32(t, dns_be16(rd), false);
		tb_add(t, " ", 1);
		p += 2;
		rc = rdata_name(msg, end, &p, t);
		if (rc == DNS_NAME_OK && p != end)
			goto bad;
		return rc;
	case T_SRV:
		if (rdlen < 7)
			goto bad;
		tb_u32(t, dns_be16(rd), false);
		tb_u32(t, dns_be16(rd + 2), true);
		tb_u32(t, dns_be16(rd + 4), true);
		tb_add(t, " ", 1);
		p += 6;
		rc = rdata_name(msg, end, &p, t);
		if (rc == DNS_NAME_OK && p != end)
			goto bad;
		return rc;
	case T_SOA:
		rc = rdata_name(msg, end, &p, t);
		if (rc != DNS_NAME_OK)
			return rc;
		tb_add(t, " ", 1);
		rc = rdata_name(msg, end, &p, t);
		if (rc != DNS_NAME_OK)
			return rc;
		if (end - p != 20)
			goto bad;
		for (int i = 0; i < 5; i++)
			tb_u32(t, dns_be32(msg + p + 4 * (size_t)i), true);
		return DNS_NAME_OK;
	case T_TXT:
		if (!render_txt(rd, rdlen, t))
			goto bad;
		return DNS_NAME_OK;
	default:
		render_generic(rd, rdlen, t);
		return DNS_NAME_OK;
	}
bad:
	*bad_rdata = true;
	t->len = 0;
	t->cut = false;
	render_generic(rd, rdlen, t);
	return DNS_NAME_OK;
}

/* Stop-the-parse bookkeeping: count once, mark the item. */
static int parse_fault(struct kc_item *out)
{
	out->flags |= KC_ITEM_F_TRUNCATED;
	return -EBADMSG;
}

int kc_dns_parse_message(const uint8_t *msg, size_t len, struct kc_item *out,
			 struct kc_dns_stats *st)
{
	struct kc_item_dns *d = &out->u.dns;
	char name[DNS_NAME_TEXT_MAX];
	char rdtext[DNS_RDATA_TEXT_MAX];
	size_t pos = KC_DNS_HEADER_LEN;
	size_t nlen;
	enum dns_name_rc rc;
	bool overflow = false;
	bool faulted = false; /* an over-long name was skipped */
	int arena_full = 0;

	kc_item_reset(out, KC_ITEM_DNS);
	if (len < KC_DNS_HEADER_LEN) {
		if (st != NULL)
			st->bad_header++;
		return -EINVAL;
	}
	d->id = dns_be16(msg);
	d->flags = dns_be16(msg + 2);
	d->opcode = (uint8_t)((d->flags >> 11) & 0xf);
	d->rcode = (uint8_t)(d->flags & 0xf);
	out->flags |= (d->flags & 0x8000) ? KC_ITEM_F_RESPONSE : KC_ITEM_F_REQUEST;

	uint16_t qd = dns_be16(msg + 4);
	uint16_t counts[3] = { dns_be16(msg + 6), dns_be16(msg + 8), dns_be16(msg + 10) };

	for (unsigned i = 0; i < qd; i++) {
		rc = dns_name_decode(msg, len, &pos, name, sizeof(name), &nlen);
		if (rc == DNS_NAME_TOO_LONG) {
			/* Its end is known: keep reading, leave the name absent. */
			dns_count_name_fault(st, rc);
			out->flags |= KC_ITEM_F_TRUNCATED;
			faulted = true;
		} else if (rc != DNS_NAME_OK) {
			dns_count_name_fault(st, rc);
			return parse_fault(out);
		}
		if (pos + 4 > len) {
			if (st != NULL)
				st->truncated_question++;
			return parse_fault(out);
		}
		if (d->n_questions < KC_ITEM_MAX_DNS_Q) {
			struct kc_dns_question *q = &d->questions[d->n_questions++];

			arena_full |= kc_item_put(out, name, nlen, &q->name);
			q->type = dns_be16(msg + pos);
			q->class_ = dns_be16(msg + pos + 2);
		} else {
			overflow = true;
		}
		pos += 4;
	}

	uint8_t *section_n[3] = { &d->n_answers, &d->n_authorities, &d->n_additionals };
	unsigned kept = 0;

	for (unsigned s = 0; s < 3; s++) {
		for (unsigned i = 0; i < counts[s]; i++) {
			rc = dns_name_decode(msg, len, &pos, name, sizeof(name), &nlen);
			if (rc == DNS_NAME_TOO_LONG) {
				dns_count_name_fault(st, rc);
				out->flags |= KC_ITEM_F_TRUNCATED;
				faulted = true;
			} else if (rc != DNS_NAME_OK) {
				dns_count_name_fault(st, rc);
				return parse_fault(out);
			}
			if (pos + 10 > len) {
				if (st != NULL)
					st->truncated_rr++;
				return parse_fault(out);
			}
			uint16_t type = dns_be16(msg + pos);
			uint16_t class_ = dns_be16(msg + pos + 2);
			uint32_t ttl = dns_be32(msg + pos + 4);
			size_t rdlen = dns_be16(msg + pos + 8);

			pos += 10;
			if (pos + rdlen > len) {
				if (st != NULL)
					st->truncated_rr++;
				return parse_fault(out);
			}
			if (kept >= KC_ITEM_MAX_DNS_RR) {
				/* Keep walking to validate the message, keep nothing. */
				overflow = true;
				pos += rdlen;
				continue;
			}

			struct tb t = { rdtext, sizeof(rdtext), 0, false };
			bool bad_rdata = false;

			rc = render_rdata(msg, pos, rdlen, type, &t, &bad_rdata);
			if (rc == DNS_NAME_TOO_LONG) {
				/* The RDATA length bounds it: skip, data absent. */
				dns_count_name_fault(st, rc);
				out->flags |= KC_ITEM_F_TRUNCATED;
				faulted = true;
				t.len = 0;
			} else if (rc != DNS_NAME_OK) {
				dns_count_name_fault(st, rc);
				return parse_fault(out);
			}
			if (bad_rdata && st != NULL)
				st->bad_rdata++;
			if (t.cut)
				out->flags |= KC_ITEM_F_TRUNCATED;

			struct kc_dns_rr *rr = &d->rrs[kept++];

			arena_full |= kc_item_put(out, name, nlen, &rr->name);
			arena_full |= kc_item_put(out, rdtext, t.len, &rr->data);
			rr->type = type;
			rr->class_ = class_;
			rr->ttl = ttl;
			(*section_n[s])++;
			pos += rdlen;
		}
	}
	if (overflow) {
		out->flags |= KC_ITEM_F_TRUNCATED;
		if (st != NULL)
			st->section_overflow++;
	}
	if (arena_full && st != NULL)
		st->arena_full++;
	return faulted ? -EBADMSG : 0;
}

/*
 * Header plausibility for probing. Opcodes 0 Query, 1 IQuery (obsolete but
 * seen), 2 Status, 4 Notify, 5 Update, 6 DSO (RFC 8490) are accepted. Each
 * question takes at least 5 octets and each record at least 11, so counts
 * that cannot fit in @p len are rejected (unless TC says the sender cut it).
 */
static bool probe_header(const uint8_t *msg, size_t len)
{
	if (len < KC_DNS_HEADER_LEN)
		return false;
	uint16_t flags = dns_be16(msg + 2);
	unsigned opcode = (flags >> 11) & 0xf;
	uint64_t qd = dns_be16(msg + 4);
	uint64_t rrs = (uint64_t)dns_be16(msg + 6) + dns_be16(msg + 8) + dns_be16(msg + 10);
	bool qr = flags & 0x8000;
	bool tc = flags & 0x0200;

	if (opcode == 3 || opcode > 6)
		return false;
	if (!qr && opcode == 0 && qd == 0)
		return false; /* a standard query asks something */
	if (qd > 32)
		return false;
	if (qd * 5 + (tc ? 0 : rrs * 11) > len - KC_DNS_HEADER_LEN)
		return false;
	return true;
}

static bool probe_question(const uint8_t *msg, size_t len)
{
	size_t pos = KC_DNS_HEADER_LEN;

	if (dns_be16(msg + 4) == 0)
		return true;
	if (dns_name_decode(msg, len, &pos, NULL, 0, NULL) != DNS_NAME_OK)
		return false;
	return pos + 4 <= len;
}

/*
 * Stricter than the first-message probe, since it is tried at every byte
 * offset after a gap: exactly one question (every ordinary query and
 * response), Z clear, rcode <= 10 (header rcodes assigned by IANA), and the
 * question must be complete. False positives would emit garbage items, a
 * missed AXFR continuation (qdcount 0) only delays resync.
 */
int dns_resync_candidate(const uint8_t *d, size_t avail)
{
	if (avail < 2 + KC_DNS_HEADER_LEN)
		return -1;
	size_t mlen = dns_be16(d);
	const uint8_t *msg = d + 2;
	uint16_t flags = dns_be16(msg + 2);

	if (mlen < KC_DNS_HEADER_LEN + 5 || dns_be16(msg + 4) != 1 || (flags & 0x0040) ||
	    (flags & 0xf) > 10 || !probe_header(msg, mlen))
		return 0;
	size_t have = KC_MIN(avail - 2, mlen);
	size_t pos = KC_DNS_HEADER_LEN;
	enum dns_name_rc rc = dns_name_decode(msg, have, &pos, NULL, 0, NULL);

	if (rc == DNS_NAME_TRUNCATED)
		return have < mlen ? -1 : 0;
	if (rc != DNS_NAME_OK)
		return 0;
	if (pos + 4 > have)
		return have < mlen ? -1 : 0;
	return 1;
}

bool kc_dns_probe(const uint8_t *data, size_t len, bool tcp)
{
	if (!tcp)
		return probe_header(data, len) && probe_question(data, len);
	if (len < 2 + KC_DNS_HEADER_LEN)
		return false;
	size_t mlen = dns_be16(data);

	if (mlen < KC_DNS_HEADER_LEN)
		return false;
	if (!probe_header(data + 2, mlen))
		return false;
	if (len - 2 >= mlen)
		return probe_question(data + 2, mlen);
	return true;
}
