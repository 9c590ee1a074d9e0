/**
 * @file
 * Name-resolution history: a bounded address -> name map with LRU eviction,
 * a bounded ring of change records, and its JSON rendering.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kc_names.h"

#define NIL UINT32_MAX

struct entry {
	uint8_t family;     /* 4 or 6; 0 = free */
	uint8_t addr[16];
	char *name;         /* NUL-terminated, malloc'd */
	uint32_t hnext;     /* hash chain */
	uint32_t prev, next;/* LRU list: head = most recent */
};

struct change {
	uint64_t ts_ms;
	uint64_t seq;       /* learn order, to keep the sort stable */
	uint8_t family;
	uint8_t addr[16];
	char *name;
};

struct kc_names {
	pthread_mutex_t lock;
	uint32_t max_entries, max_history;
	uint32_t n_entries;
	uint32_t nbuckets;           /* power of two */
	uint32_t *buckets;
	struct entry *entries;
	uint32_t free_head;          /* free entries chained through hnext */
	uint32_t lru_head, lru_tail;
	struct change *hist;         /* ring */
	uint32_t hist_start, hist_len;
	uint64_t seq;
	struct kc_names_stats st;
};

static size_t addr_len(uint8_t fam)
{
	return fam == 4 ? 4 : 16;
}

static uint32_t hash_addr(uint8_t fam, const uint8_t *a)
{
	uint32_t h = 2166136261u ^ fam; /* FNV-1a */

	for (size_t i = 0; i < addr_len(fam); i++)
		h = (h ^ a[i]) * 16777619u;
	return h;
}

struct kc_names *kc_names_create(uint32_t max_entries, uint32_t max_history)
{
	struct kc_names *n;

	if (max_entries == 0 || max_history == 0) {
		errno = EINVAL;
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		goto fail;
	n->max_entries = max_entries;
	n->max_history = max_history;
	n->nbuckets = 16;
	while (n->nbuckets < max_entries && n->nbuckets < (1u << 30))
		n->nbuckets <<= 1;
	n->buckets = malloc(sizeof(*n->buckets) * n->nbuckets);
	if (n->buckets == NULL)
		goto fail_n;
	n->entries = calloc(max_entries, sizeof(*n->entries));
	if (n->entries == NULL)
		goto fail_buckets;
	n->hist = calloc(max_history, sizeof(*n->hist));
	if (n->hist == NULL)
		goto fail_entries;
	if (pthread_mutex_init(&n->lock, NULL) != 0)
		goto fail_hist;
	for (uint32_t i = 0; i < n->nbuckets; i++)
		n->buckets[i] = NIL;
	for (uint32_t i = 0; i < max_entries; i++)
		n->entries[i].hnext = i + 1 < max_entries ? i + 1 : NIL;
	n->free_head = 0;
	n->lru_head = n->lru_tail = NIL;
	return n;

fail_hist:
	free(n->hist);
fail_entries:
	free(n->entries);
fail_buckets:
	free(n->buckets);
fail_n:
	free(n);
fail:
	errno = ENOMEM;
	return NULL;
}

void kc_names_destroy(struct kc_names *n)
{
	if (n == NULL)
		return;
	for (uint32_t i = 0; i < n->max_entries; i++)
		free(n->entries[i].name);
	for (uint32_t i = 0; i < n->hist_len; i++)
		free(n->hist[(n->hist_start + i) % n->max_history].name);
	pthread_mutex_destroy(&n->lock);
	free(n->hist);
	free(n->entries);
	free(n->buckets);
	free(n);
}

/* ---- LRU list and hash (lock held) ---- */

static void lru_unlink(struct kc_names *n, uint32_t i)
{
	struct entry *e = &n->entries[i];

	if (e->prev != NIL)
		n->entries[e->prev].next = e->next;
	else
		n->lru_head = e->next;
	if (e->next != NIL)
		n->entries[e->next].prev = e->prev;
	else
		n->lru_tail = e->prev;
}

static void lru_push_front(struct kc_names *n, uint32_t i)
{
	struct entry *e = &n->entries[i];

	e->prev = NIL;
	e->next = n->lru_head;
	if (n->lru_head != NIL)
		n->entries[n->lru_head].prev = i;
	n->lru_head = i;
	if (n->lru_tail == NIL)
		n->lru_tail = i;
}

static uint32_t find(struct kc_names *n, uint8_t fam, const uint8_t *a)
{
	uint32_t i = n->buckets[hash_addr(fam, a) & (n->nbuckets - 1)];

	while (i != NIL) {
		struct entry *e = &n->entries[i];

		if (e->family == fam && memcmp(e->addr, a, addr_len(fam)) == 0)
			return i;
		i = e->hnext;
	}
	return NIL;
}

static void hash_remove(struct kc_names *n, uint32_t idx)
{
	struct entry *e = &n->entries[idx];
	uint32_t *pp = &n->buckets[hash_addr(e->family, e->addr) & (n->nbuckets - 1)];

	while (*pp != idx)
		pp = &n->entries[*pp].hnext;
	*pp = e->hnext;
}

/* Evict the least recently learned entry and return its slot. */
static uint32_t evict_lru(struct kc_names *n)
{
	uint32_t i = n->lru_tail;
	struct entry *e = &n->entries[i];

	lru_unlink(n, i);
	hash_remove(n, i);
	free(e->name);
	e->name = NULL;
	e->family = 0;
	n->n_entries--;
	n->st.evicted++;
	return i;
}

static int history_add(struct kc_names *n, uint8_t fam, const uint8_t *a, const char *name,
		       uint64_t ts_ms)
{
	char *copy = strdup(name);
	struct change *c;

	if (copy == NULL)
		return -ENOMEM;
	if (n->hist_len == n->max_history) {
		/* Policy: drop the oldest change record. */
		free(n->hist[n->hist_start].name);
		n->hist_start = (n->hist_start + 1) % n->max_history;
		n->hist_len--;
		n->st.history_dropped++;
	}
	c = &n->hist[(n->hist_start + n->hist_len) % n->max_history];
	c->ts_ms = ts_ms;
	c->seq = n->seq++;
	c->family = fam;
	memset(c->addr, 0, sizeof(c->addr));
	memcpy(c->addr, a, addr_len(fam));
	c->name = copy;
	n->hist_len++;
	return 0;
}

static int learn_locked(struct kc_names *n, uint8_t fam, const uint8_t *a, const char *name,
			size_t len, uint64_t ts_ms)
{
	char buf[KC_NAMES_NAME_MAX + 1];
	uint32_t i;
	char *copy;

	if (len == 0 || len > KC_NAMES_NAME_MAX) {
		if (len > KC_NAMES_NAME_MAX)
			n->st.name_too_long++;
		return -EINVAL;
	}
	memcpy(buf, name, len);
	buf[len] = '\0';
	i = find(n, fam, a);
	if (i != NIL) {
		struct entry *e = &n->entries[i];

		lru_unlink(n, i);
		lru_push_front(n, i);
		if (strcmp(e->name, buf) == 0) {
			n->st.unchanged++;
			return 0;
		}
		copy = strdup(buf);
		if (copy == NULL)
			return -ENOMEM;
		if (history_add(n, fam, a, buf, ts_ms) != 0) {
			free(copy);
			return -ENOMEM;
		}
		free(e->name);
		e->name = copy;
		n->st.changed++;
		return 1;
	}
	copy = strdup(buf);
	if (copy == NULL)
		return -ENOMEM;
	if (history_add(n, fam, a, buf, ts_ms) != 0) {
		free(copy);
		return -ENOMEM;
	}
	if (n->free_head != NIL) {
		i = n->free_head;
		n->free_head = n->entries[i].hnext;
	} else {
		i = evict_lru(n); /* policy: least recently learned goes */
	}

	struct entry *e = &n->entries[i];
	uint32_t b = hash_addr(fam, a) & (n->nbuckets - 1);

	e->family = fam;
	memset(e->addr, 0, sizeof(e->addr));
	memcpy(e->addr, a, addr_len(fam));
	e->name = copy;
	e->hnext = n->buckets[b];
	n->buckets[b] = i;
	lru_push_front(n, i);
	n->n_entries++;
	n->st.learned++;
	return 1;
}

static int fam_of(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 6 : 0;
}

int kc_names_learn(struct kc_names *n, int family, const uint8_t *addr, const char *name,
		   size_t len, uint64_t ts_ms)
{
	int fam = fam_of(family);
	int rc;

	if (fam == 0)
		return -EINVAL;
	pthread_mutex_lock(&n->lock);
	rc = learn_locked(n, (uint8_t)fam, addr, name, len, ts_ms);
	pthread_mutex_unlock(&n->lock);
	return rc;
}

/* ---- learning from DNS items ---- */

enum { T_A = 1, T_CNAME = 5, T_PTR = 12, T_AAAA = 28 };

static bool view_eq_ci(const struct kc_item *it, struct kc_str a, struct kc_str b)
{
	return a.len == b.len &&
	       strncasecmp(kc_item_str(it, a), kc_item_str(it, b), a.len) == 0;
}

/* Walk CNAME records backwards from @p name to the head of the chain (the
 * name that was asked). Each step must find a CNAME whose target is the
 * current name; at most n_answers steps, so a CNAME loop ends. */
static struct kc_str chain_head(const struct kc_item *it, struct kc_str name)
{
	const struct kc_item_dns *d = &it->u.dns;

	for (unsigned step = 0; step < d->n_answers; step++) {
		bool moved = false;

		for (unsigned i = 0; i < d->n_answers; i++) {
			const struct kc_dns_rr *rr = &d->rrs[i];

			if (rr->type == T_CNAME && view_eq_ci(it, rr->data, name) &&
			    !view_eq_ci(it, rr->name, name)) {
				name = rr->name;
				moved = true;
				break;
			}
		}
		if (!moved)
			break;
	}
	return name;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool suffix_ci(const char *s, size_t len, const char *suf, size_t *head)
{
	size_t sl = strlen(suf);

	if (len < sl || strncasecmp(s + len - sl, suf, sl) != 0)
		return false;
	*head = len - sl;
	return true;
}

/* "4.3.2.1.in-addr.arpa" -> 1.2.3.4; "b.a.9.8...ip6.arpa" (32 nibbles) ->
 * the IPv6 address (RFC 1035 3.5, RFC 3596 2.5). */
static int reverse_name_addr(const char *s, size_t len, uint8_t *addr)
{
	size_t head;

	if (suffix_ci(s, len, ".in-addr.arpa", &head)) {
		unsigned oct[4], n = 0, v = 0, digits = 0;

		for (size_t i = 0; i <= head; i++) {
			if (i == head || s[i] == '.') {
				if (digits == 0 || digits > 3 || v > 255 || n >= 4)
					return 0;
				oct[n++] = v;
				v = 0;
				digits = 0;
			} else if (s[i] >= '0' && s[i] <= '9') {
				v = v * 10 + (unsigned)(s[i] - '0');
				digits++;
			} else {
				return 0;
			}
		}
		if (n != 4)
			return 0;
		for (unsigned i = 0; i < 4; i++)
			addr[i] = (uint8_t)oct[3 - i];
		return 4;
	}
	if (suffix_ci(s, len, ".ip6.arpa", &head)) {
		if (head != 63)
			return 0;
		memset(addr, 0, 16);
		for (unsigned k = 0; k < 32; k++) {
			int h = hexval(s[2 * k]);

			if (h < 0 || (k < 31 && s[2 * k + 1] != '.'))
				return 0;
			/* nibble k counts from the least significant end */
			unsigned nib = 31 - k;

			addr[nib / 2] |= (uint8_t)(nib % 2 ? h : h << 4);
		}
		return 6;
	}
	return 0;
}

int kc_names_learn_item(struct kc_names *n, const struct kc_item *it)
{
	const struct kc_item_dns *d = &it->u.dns;
	uint64_t ts_ms;
	int changed = 0;

	pthread_mutex_lock(&n->lock);
	n->st.items_seen++;
	if (it->proto != KC_ITEM_DNS || !(it->flags & KC_ITEM_F_RESPONSE) || d->rcode != 0) {
		n->st.items_ignored++;
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	ts_ms = (it->resp_ts_us != 0 ? it->resp_ts_us : it->ts_us) / 1000;
	for (unsigned i = 0; i < d->n_answers && i < KC_ITEM_MAX_DNS_RR; i++) {
		const struct kc_dns_rr *rr = &d->rrs[i];
		uint8_t addr[16];
		int rc = 0;

		if ((rr->type == T_A || rr->type == T_AAAA) && (rr->class_ & 0x7fff) == 1) {
			int fam = rr->type == T_A ? AF_INET : AF_INET6;
			char ip[INET6_ADDRSTRLEN];
			struct kc_str head = chain_head(it, rr->name);

			if (rr->data.len >= sizeof(ip))
				continue;
			memcpy(ip, kc_item_str(it, rr->data), rr->data.len);
			ip[rr->data.len] = '\0';
			if (inet_pton(fam, ip, addr) != 1)
				continue;
			rc = learn_locked(n, fam == AF_INET ? 4 : 6, addr, kc_item_str(it, head),
					  head.len, ts_ms);
		} else if (rr->type == T_PTR) {
			int fam = reverse_name_addr(kc_item_str(it, rr->name), rr->name.len, addr);

			if (fam == 0) {
				n->st.bad_ptr_name++;
				continue;
			}
			rc = learn_locked(n, (uint8_t)fam, addr, kc_item_str(it, rr->data),
					  rr->data.len, ts_ms);
		}
		if (rc > 0)
			changed++;
	}
	pthread_mutex_unlock(&n->lock);
	return changed;
}

/* ---- reading ---- */

int kc_names_lookup(struct kc_names *n, int family, const uint8_t *addr, char *buf, size_t cap)
{
	int fam = fam_of(family);
	int rc = -ENOENT;
	uint32_t i;

	if (fam == 0)
		return -EINVAL;
	pthread_mutex_lock(&n->lock);
	i = find(n, (uint8_t)fam, addr);
	if (i != NIL) {
		size_t len = strlen(n->entries[i].name);

		if (len + 1 > cap) {
			rc = -ENOSPC;
		} else {
			memcpy(buf, n->entries[i].name, len + 1);
			rc = (int)len;
		}
	}
	pthread_mutex_unlock(&n->lock);
	return rc;
}

size_t kc_names_foreach(struct kc_names *n,
			void (*fn)(void *ctx, int family, const uint8_t *addr, const char *name),
			void *ctx)
{
	size_t count = 0;

	pthread_mutex_lock(&n->lock);
	for (uint32_t i = n->lru_head; i != NIL; i = n->entries[i].next) {
		const struct entry *e = &n->entries[i];

		fn(ctx, e->family == 4 ? AF_INET : AF_INET6, e->addr, e->name);
		count++;
	}
	pthread_mutex_unlock(&n->lock);
	return count;
}

int kc_names_copy(struct kc_names *n, struct kc_names_pair **out, size_t *count)
{
	size_t bytes = 0, k = 0;
	struct kc_names_pair *pairs;
	char *strs;

	pthread_mutex_lock(&n->lock);
	*out = NULL;
	*count = 0;
	if (n->n_entries == 0) {
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	for (uint32_t i = n->lru_head; i != NIL; i = n->entries[i].next)
		bytes += strlen(n->entries[i].name) + 1;
	pairs = malloc(sizeof(*pairs) * n->n_entries + bytes);
	if (pairs == NULL) {
		pthread_mutex_unlock(&n->lock);
		return -ENOMEM;
	}
	strs = (char *)(pairs + n->n_entries);
	for (uint32_t i = n->lru_head; i != NIL; i = n->entries[i].next, k++) {
		const struct entry *e = &n->entries[i];
		size_t len = strlen(e->name) + 1;

		pairs[k].family = e->family == 4 ? AF_INET : AF_INET6;
		memcpy(pairs[k].addr, e->addr, sizeof(pairs[k].addr));
		memcpy(strs, e->name, len);
		pairs[k].name = strs;
		strs += len;
	}
	*out = pairs;
	*count = k;
	pthread_mutex_unlock(&n->lock);
	return 0;
}

void kc_names_get_stats(struct kc_names *n, struct kc_names_stats *out)
{
	pthread_mutex_lock(&n->lock);
	*out = n->st;
	out->entries = n->n_entries;
	out->history = n->hist_len;
	pthread_mutex_unlock(&n->lock);
}

/* ---- JSON ---- */

static void json_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(fp, "\\u%04x", c); /* names are ASCII (RFC 1035 escapes) */
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

static int cmp_change(const void *a, const void *b)
{
	const struct change *x = *(const struct change *const *)a;
	const struct change *y = *(const struct change *const *)b;

	if (x->ts_ms != y->ts_ms)
		return x->ts_ms < y->ts_ms ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int kc_names_write_json(struct kc_names *n, FILE *fp)
{
	const struct change **order = NULL;
	int rc = 0;

	pthread_mutex_lock(&n->lock);
	if (n->hist_len > 0) {
		order = malloc(sizeof(*order) * n->hist_len);
		if (order == NULL) {
			pthread_mutex_unlock(&n->lock);
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < n->hist_len; i++)
			order[i] = &n->hist[(n->hist_start + i) % n->max_history];
		/* Changes are learned in arrival order, which several workers
		 * may interleave: sort by time, learn order breaking ties. */
		qsort(order, n->hist_len, sizeof(*order), cmp_change);
	}
	fputc('{', fp);
	for (uint32_t i = 0; i < n->hist_len; i++) {
		const struct change *c = order[i];
		char ip[INET6_ADDRSTRLEN];

		if (i == 0 || order[i - 1]->ts_ms != c->ts_ms)
			fprintf(fp, "%s\n  \"%llu\": {", i == 0 ? "" : "},",
				(unsigned long long)c->ts_ms);
		else
			fputs(", ", fp);
		inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, ip, sizeof(ip));
		json_str(fp, ip);
		fputs(": ", fp);
		json_str(fp, c->name);
	}
	fputs(n->hist_len > 0 ? "}\n}\n" : "}\n", fp);
	pthread_mutex_unlock(&n->lock);
	free(order);
	if (ferror(fp))
		rc = -EIO;
	return rc;
}

int kc_names_write_json_path(struct kc_names *n, const char *path, struct kc_err *err)
{
	char tmp[4096];
	int fd, rc;
	FILE *fp;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return kc_err_set(err, -ENAMETOOLONG, "names: path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		return kc_err_set(err, rc, "names: open %s: %s", tmp, strerror(-rc));
	}
	fp = fdopen(fd, "w");
	if (fp == NULL) {
		rc = -errno;
		close(fd);
		unlink(tmp);
		return kc_err_set(err, rc, "names: fdopen %s: %s", tmp, strerror(-rc));
	}
	rc = kc_names_write_json(n, fp);
	if (fflush(fp) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && fsync(fileno(fp)) != 0)
		rc = -errno;
	if (fclose(fp) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0) {
		unlink(tmp);
		return kc_err_set(err, rc, "names: write %s: %s", path, strerror(-rc));
	}
	return 0;
}
