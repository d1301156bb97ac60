
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <string.h>

#include "ap_retry.h"


static int ap_number(const char **p, const char *end, size_t digits,
    int *value);
static int ap_word(const char **p, const char *end, const char *const *words,
    int n);


static const char *const  ap_days[] = {
    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"
};

static const char *const  ap_months[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};


static int
ap_number(const char **p, const char *end, size_t digits, int *value)
{
    size_t  i;

    if ((size_t) (end - *p) < digits) {
        return -1;
    }

    *value = 0;

    for (i = 0; i < digits; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9') {
            return -1;
        }

        *value = *value * 10 + ((*p)[i] - '0');
    }

    *p += digits;

    return 0;
}


/* the index of the three-letter word next in words, or -1 */

static int
ap_word(const char **p, const char *end, const char *const *words, int n)
{
    int  i;

    if (end - *p < 3) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (memcmp(*p, words[i], 3) == 0) {
            *p += 3;
            return i;
        }
    }

    return -1;
}


int
ap_retry_after_parse(const char *value, size_t len, time_t now, uint64_t *ms)
{
    int          day, month, year, hour, minute, second;
    time_t       when;
    uint64_t     seconds;
    struct tm    tm;
    const char  *p, *end;

    p = value;
    end = value + len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (end > p && (end[-1] == ' ' || end[-1] == '\t'
                       || end[-1] == '\r' || end[-1] == '\n'))
    {
        end--;
    }

    if (p == end) {
        return -1;
    }

    if (*p >= '0' && *p <= '9') {
        seconds = 0;

        for ( /* void */ ; p < end; p++) {
            if (*p < '0' || *p > '9') {
                return -1;
            }

            if (seconds <= AP_RETRY_AFTER_MAX_MS / 1000) {
                seconds = seconds * 10 + (*p - '0');
            }
        }

        *ms = seconds * 1000 > AP_RETRY_AFTER_MAX_MS ? AP_RETRY_AFTER_MAX_MS
                                                     : seconds * 1000;
        return 0;
    }

    /* "Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110, 5.6.7 */

    if (ap_word(&p, end, ap_days, 7) < 0
        || end - p < 2 || memcmp(p, ", ", 2) != 0)
    {
        return -1;
    }

    p += 2;

    if (ap_number(&p, end, 2, &day) != 0 || p == end || *p++ != ' ') {
        return -1;
    }

    month = ap_word(&p, end, ap_months, 12);

    if (month < 0 || p == end || *p++ != ' '
        || ap_number(&p, end, 4, &year) != 0 || p == end || *p++ != ' '
        || ap_number(&p, end, 2, &hour) != 0 || p == end || *p++ != ':'
        || ap_number(&p, end, 2, &minute) != 0 || p == end || *p++ != ':'
        || ap_number(&p, end, 2, &second) != 0
        || end - p != 4 || memcmp(p, " GMT", 4) != 0)
    {
        return -1;
    }

    if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
        return -1;
    }

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = month;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;

    when = timegm(&tm);

    if (when == (time_t) -1) {
        return -1;
    }

    if (when <= now) {
        *ms = 0;

    } else if ((uint64_t) (when - now) > AP_RETRY_AFTER_MAX_MS / 1000) {
        *ms = AP_RETRY_AFTER_MAX_MS;

    } else {
        *ms = (uint64_t) (when - now) * 1000;
    }

    return 0;
}


uint64_t
ap_backoff_ms(uint64_t floor_ms, uint64_t cap_ms, unsigned attempt,
    uint64_t random)
{
    uint64_t  ceiling;

    if (cap_ms < floor_ms) {
        cap_ms = floor_ms;
    }

    /* floor * 2^attempt, without overflowing past the cap */
    ceiling = floor_ms;

    while (attempt-- > 0 && ceiling < cap_ms) {
        ceiling = ceiling > cap_ms / 2 ? cap_ms : ceiling * 2;
    }

    if (ceiling > cap_ms) {
        ceiling = cap_ms;
    }

    return floor_ms + random % (ceiling - floor_ms + 1);
}


uint64_t
ap_retry_after_wait_ms(uint64_t retry_after_ms, uint64_t random)
{
    uint64_t  extra;

    extra = retry_after_ms / 10;

    if (extra > 1000) {
        extra = 1000;
    }

    return retry_after_ms + random % (extra + 1);
}


int
ap_breaker_allow(ap_breaker_t *breaker, uint64_t now_ms,
    uint64_t cooldown_ms)
{
    switch (breaker->state) {

    case AP_BREAKER_CLOSED:
        return 1;

    case AP_BREAKER_OPEN:
        if (now_ms < breaker->opened_at_ms + cooldown_ms) {
            return 0;
        }

        breaker->state = AP_BREAKER_HALF_OPEN;
        breaker->trial = 1;
        return 1;

    default: /* AP_BREAKER_HALF_OPEN */

        /* one trial at a time: the others wait for its outcome */
        if (breaker->trial) {
            return 0;
        }

        breaker->trial = 1;
        return 1;
    }
}


uint64_t
ap_breaker_ready_at(const ap_breaker_t *breaker, uint64_t now_ms,
    uint64_t cooldown_ms)
{
    uint64_t  at;

    switch (breaker->state) {

    case AP_BREAKER_CLOSED:
        return now_ms;

    case AP_BREAKER_OPEN:
        at = breaker->opened_at_ms + cooldown_ms;
        return at > now_ms ? at : now_ms;

    default:
        /* the trial's outcome is not known: look again a little later */
        return breaker->trial ? now_ms + 50 : now_ms;
    }
}


void
ap_breaker_success(ap_breaker_t *breaker)
{
    breaker->state = AP_BREAKER_CLOSED;
    breaker->failures = 0;
    breaker->trial = 0;
}


int
ap_breaker_failure(ap_breaker_t *breaker, uint64_t now_ms,
    unsigned threshold)
{
    breaker->failures++;

    if (breaker->state == AP_BREAKER_HALF_OPEN
        || (breaker->state == AP_BREAKER_CLOSED
            && breaker->failures >= threshold))
    {
        breaker->state = AP_BREAKER_OPEN;
        breaker->trial = 0;
        breaker->opened_at_ms = now_ms;
        return 1;
    }

    return 0;
}


void
ap_breaker_neutral(ap_breaker_t *breaker)
{
    breaker->trial = 0;
}


uint64_t
ap_random_next(uint64_t *state)
{
    uint64_t  x;

    x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;

    return x * 0x2545f4914f6cdd1dULL;
}
