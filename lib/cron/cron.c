/* Cron expressions with seconds: parsing and next-fire-time search. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kc_cron.h"

enum field { F_SEC, F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW, F_COUNT };

struct field_spec {
	const char *name;
	unsigned lo, hi;            /* accepted numeric range */
	const char *const *names;   /* symbolic values, index = lo + i */
};

static const char *const month_names[] = {
	"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
	"JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL,
};
static const char *const dow_names[] = {
	"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL,
};

static const struct field_spec specs[F_COUNT] = {
	[F_SEC] = { "second", 0, 59, NULL },
	[F_MIN] = { "minute", 0, 59, NULL },
	[F_HOUR] = { "hour", 0, 23, NULL },
	[F_DOM] = { "day-of-month", 1, 31, NULL },
	[F_MONTH] = { "month", 1, 12, month_names },
	/* 7 is accepted as Sunday and folded onto bit 0 after parsing. */
	[F_DOW] = { "day-of-week", 0, 7, dow_names },
};

/* Read one value (number or name) at *p; advance *p past it. */
static int read_value(const struct field_spec *fs, const char **p, unsigned *out)
{
	const char *s = *p;

	if (isdigit((unsigned char)*s)) {
		unsigned long v = 0;

		while (isdigit((unsigned char)*s)) {
			v = v * 10 + (unsigned long)(*s - '0');
			if (v > 1000)
				return -EINVAL;
			s++;
		}
		if (v < fs->lo || v > fs->hi)
			return -EINVAL;
		*out = (unsigned)v;
		*p = s;
		return 0;
	}
	if (fs->names != NULL && isalpha((unsigned char)*s)) {
		for (unsigned i = 0; fs->names[i] != NULL; i++) {
			if (strncasecmp(s, fs->names[i], 3) == 0 &&
			    !isalpha((unsigned char)s[3])) {
				/* month names start at 1, day names at 0 */
				*out = fs->lo + i;
				*p = s + 3;
				return 0;
			}
		}
	}
	return -EINVAL;
}

/* Parse one comma-separated field into a bitmask. */
static int parse_field(enum field f, const char *text, uint64_t *mask)
{
	const struct field_spec *fs = &specs[f];
	const char *p = text;
	uint64_t m = 0;

	for (;;) {
		unsigned a, b, step = 1;

		if (*p == '*') {
			a = fs->lo;
			b = fs->hi;
			p++;
		} else {
			if (read_value(fs, &p, &a) < 0)
				return -EINVAL;
			b = a;
			if (*p == '-') {
				p++;
				if (read_value(fs, &p, &b) < 0 || b < a)
					return -EINVAL;
			} else if (*p == '/') {
				/* "a/n" = from a to the field's maximum, every n */
				b = fs->hi;
			}
		}
		if (*p == '/') {
			unsigned long v = 0;

			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			while (isdigit((unsigned char)*p)) {
				v = v * 10 + (unsigned long)(*p - '0');
				if (v > 1000)
					return -EINVAL;
				p++;
			}
			if (v == 0 || v > fs->hi - fs->lo + 1)
				return -EINVAL;
			step = (unsigned)v;
		}
		for (unsigned v = a; v <= b; v += step)
			m |= UINT64_C(1) << v;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p != '\0')
			return -EINVAL;
		break;
	}
	*mask = m;
	return 0;
}

static const struct {
	const char *name;
	const char *expr;
} shorthands[] = {
	{ "@yearly", "0 0 0 1 1 *" },
	{ "@annually", "0 0 0 1 1 *" },
	{ "@monthly", "0 0 0 1 * *" },
	{ "@weekly", "0 0 0 * * 0" },
	{ "@daily", "0 0 0 * * *" },
	{ "@midnight", "0 0 0 * * *" },
	{ "@hourly", "0 0 * * * *" },
};

int kc_cron_parse(const char *expr, struct kc_cron *out, struct kc_err *err)
{
	char buf[256];
	char *fields[F_COUNT + 1];
	uint64_t masks[F_COUNT];
	struct kc_cron c;
	size_t n = 0;
	char *save = NULL, *tok;

	if (expr == NULL)
		return kc_err_set(err, -EINVAL, "cron: no expression");
	while (isspace((unsigned char)*expr))
		expr++;
	if (expr[0] == '@') {
		size_t len = strcspn(expr, " \t\r\n");
		size_t i;

		for (i = 0; i < KC_ARRAY_SIZE(shorthands); i++) {
			if (strlen(shorthands[i].name) == len &&
			    strncasecmp(expr, shorthands[i].name, len) == 0 &&
			    expr[len + strspn(expr + len, " \t\r\n")] == '\0')
				return kc_cron_parse(shorthands[i].expr, out, err);
		}
		return kc_err_set(err, -EINVAL, "cron: unknown shorthand '%.*s'",
				  (int)KC_MIN(len, 64), expr);
	}
	if (strlen(expr) >= sizeof(buf))
		return kc_err_set(err, -EINVAL, "cron: expression longer than %zu bytes",
				  sizeof(buf) - 1);
	strcpy(buf, expr);
	for (tok = strtok_r(buf, " \t\r\n", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == F_COUNT)
			return kc_err_set(err, -EINVAL,
					  "cron: '%s': more than 6 fields (sec min hour dom month dow)",
					  expr);
		fields[n++] = tok;
	}
	if (n != F_COUNT)
		return kc_err_set(err, -EINVAL,
				  "cron: '%s': %zu fields, need 6 (sec min hour dom month dow)",
				  expr, n);
	for (n = 0; n < F_COUNT; n++) {
		if (parse_field((enum field)n, fields[n], &masks[n]) < 0)
			return kc_err_set(err, -EINVAL,
					  "cron: field '%s': bad token '%s' (allowed %u-%u%s)",
					  specs[n].name, fields[n], specs[n].lo, specs[n].hi,
					  n == F_MONTH ? " or JAN-DEC" :
					  n == F_DOW ? " or SUN-SAT" : "");
	}
	memset(&c, 0, sizeof(c));
	c.sec = masks[F_SEC];
	c.min = masks[F_MIN];
	c.hour = (uint32_t)masks[F_HOUR];
	c.dom = (uint32_t)masks[F_DOM];
	c.month = (uint16_t)masks[F_MONTH];
	/* 7 is another name for Sunday */
	c.dow = (uint8_t)((masks[F_DOW] | (masks[F_DOW] >> 7)) & 0x7f);
	c.dom_star = fields[F_DOM][0] == '*';
	c.dow_star = fields[F_DOW][0] == '*';
	*out = c;
	return 0;
}

static bool day_matches(const struct kc_cron *c, const struct tm *tm)
{
	bool dom = (c->dom >> tm->tm_mday) & 1;
	bool dow = (c->dow >> tm->tm_wday) & 1;

	/* Vixie cron: both restricted -> either; otherwise both. */
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

/*
 * Search on "naive" calendar seconds: wall-clock fields encoded with timegm()
 * so that calendar arithmetic never sees DST. For UTC the naive time is the
 * real time; for local time the final candidate goes through mktime().
 */
static time_t search_naive(const struct kc_cron *c, time_t naive, int year_limit)
{
	struct tm tm;

	for (;;) {
		if (gmtime_r(&naive, &tm) == NULL || tm.tm_year > year_limit)
			return -1;
		if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		} else if (!day_matches(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		} else if (!((c->hour >> tm.tm_hour) & 1)) {
			tm.tm_hour++;
			tm.tm_min = tm.tm_sec = 0;
		} else if (!((c->min >> tm.tm_min) & 1)) {
			tm.tm_min++;
			tm.tm_sec = 0;
		} else if (!((c->sec >> tm.tm_sec) & 1)) {
			tm.tm_sec++;
		} else {
			return naive;
		}
		naive = timegm(&tm); /* normalises overflowed fields */
	}
}

time_t kc_cron_next(const struct kc_cron *c, time_t after)
{
	struct tm tm;
	time_t t = after + 1, naive;
	int year_limit;

	if (c->sec == 0 || c->min == 0 || c->hour == 0 || c->dom == 0 ||
	    c->month == 0 || c->dow == 0)
		return -1;
	if (!c->local) {
		if (gmtime_r(&t, &tm) == NULL)
			return -1;
		return search_naive(c, t, tm.tm_year + KC_CRON_SEARCH_YEARS);
	}
	if (localtime_r(&t, &tm) == NULL)
		return -1;
	year_limit = tm.tm_year + KC_CRON_SEARCH_YEARS;
	naive = timegm(&tm);
	/* After a DST fall-back the repeated wall-clock hour maps to times
	 * <= after; skip over it one candidate at a time (at most an hour of
	 * every-second candidates). */
	for (int round = 0; round < 7200; round++) {
		time_t found = search_naive(c, naive, year_limit), real;

		if (found < 0)
			return -1;
		if (gmtime_r(&found, &tm) == NULL)
			return -1;
		tm.tm_isdst = -1;
		real = mktime(&tm);
		if (real > after)
			return real;
		naive = found + 1;
	}
	return -1;
}
