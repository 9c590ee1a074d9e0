/**
 * @file
 * Cron schedules with seconds, for the snapshot job.
 *
 * Six whitespace-separated fields: `sec min hour dom month dow`, e.g. the
 * default "0 *&#47;5 * * * *" (every five minutes at second 0). Each field is a
 * comma list of items; an item is `*`, a value `a`, a range `a-b`, each
 * optionally followed by a step `/n` (`*&#47;n`, `a-b/n`, and `a/n` meaning
 * `a-max/n`). Months accept JAN..DEC and days of week SUN..SAT, any case;
 * day of week 0 and 7 are both Sunday. The shorthands @yearly (@annually),
 * @monthly, @weekly, @daily (@midnight) and @hourly are accepted too.
 *
 * Day matching follows Vixie cron: if either the day-of-month or the
 * day-of-week field starts with `*`, a day must match both fields (so the
 * starred one matches everything); if both are restricted, a day matching
 * either one fires ("0 0 0 13 * FRI" = every 13th and every Friday).
 *
 * A parsed struct kc_cron is a plain value: no allocation, copy it freely,
 * and any number of threads may call kc_cron_next() on the same one.
 */
#ifndef KC_CRON_H
#define KC_CRON_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "kc_common.h"

/** The schedule used when the configuration does not name one. */
#define KC_CRON_DEFAULT "0 */5 * * * *"

/** How far kc_cron_next() looks ahead before it gives up (years). Enough
 *  for Feb 29 (at most 8 years apart only across 2100; 4 otherwise) and a
 *  bounded answer for impossible dates such as Feb 30. */
#define KC_CRON_SEARCH_YEARS 5

/** A parsed schedule: one bit per allowed value. */
struct kc_cron {
	uint64_t sec;   /**< bits 0..59 */
	uint64_t min;   /**< bits 0..59 */
	uint32_t hour;  /**< bits 0..23 */
	uint32_t dom;   /**< bits 1..31 */
	uint16_t month; /**< bits 1..12 */
	uint8_t dow;    /**< bits 0..6, Sunday = 0 */
	bool dom_star;  /**< day-of-month field started with '*' (Vixie rule) */
	bool dow_star;  /**< day-of-week field started with '*' (Vixie rule) */
	bool local;     /**< evaluate in the process's local time zone (TZ)
	                     instead of UTC; default false (UTC) */
};

/**
 * Parse a cron expression into @p out (UTC; set out->local afterwards to
 * evaluate in local time).
 *
 * Thread-safe (no shared state).
 *
 * @param expr  NUL-terminated expression, borrowed for the call.
 * @param out   receives the schedule; untouched on error.
 * @param err   optional; on error names the field and the bad token, e.g.
 *              "cron: field 'minute': bad token '61' (allowed 0-59)".
 * @return 0, or -EINVAL (syntax, wrong number of fields, value out of range,
 *         step 0, reversed range).
 */
int kc_cron_parse(const char *expr, struct kc_cron *out, struct kc_err *err) kc_must_check;

/**
 * The first time the schedule fires strictly after @p after.
 *
 * Times are whole seconds since the Unix epoch. With cron->local the fields
 * are matched against local wall-clock time (a time skipped by a DST jump
 * fires at the first existing second after it; a repeated hour fires once).
 *
 * Thread-safe; no allocation. Bounded: looks at most KC_CRON_SEARCH_YEARS
 * years ahead.
 *
 * @param cron   parsed schedule.
 * @param after  reference time.
 * @return the next fire time (> after), or -1 when the schedule never fires
 *         within the search window (e.g. "0 0 0 30 FEB *").
 */
time_t kc_cron_next(const struct kc_cron *cron, time_t after);

#endif /* KC_CRON_H */
