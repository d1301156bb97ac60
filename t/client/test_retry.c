
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <string.h>

#include "ap_retry.h"
#include "tap.h"


static void retry_after(const char *value, time_t now, int rc,
    uint64_t ms);
static void test_retry_after(void);
static void test_backoff(void);
static void test_breaker(void);


int
main(void)
{
    test_retry_after();
    test_backoff();
    test_breaker();

    return tap_done();
}


static void
retry_after(const char *value, time_t now, int rc, uint64_t ms)
{
    int       got;
    uint64_t  out;

    out = 12345;
    got = ap_retry_after_parse(value, strlen(value), now, &out);

    if (rc == 0) {
        tap_ok(got == 0 && out == ms, "Retry-After \"%s\" is %llu ms (got "
               "%d, %llu)", value, (unsigned long long) ms, got,
               (unsigned long long) out);

    } else {
        tap_ok(got == -1, "Retry-After \"%s\" is refused", value);
    }
}


static void
test_retry_after(void)
{
    /* Sun, 06 Nov 1994 08:49:37 GMT */
    time_t    t = 784111777;
    uint64_t  ms;

    retry_after("1", t, 0, 1000);
    retry_after(" 120\t ", t, 0, 120000);
    retry_after("0", t, 0, 0);

    tap_ok(ap_retry_after_parse("7\r\n", 3, t, &ms) == 0 && ms == 7000,
           "Retry-After with the CRLF of its header line");
    retry_after("86400", t, 0, 86400000);
    retry_after("86401", t, 0, AP_RETRY_AFTER_MAX_MS);
    retry_after("99999999999999999999999999", t, 0, AP_RETRY_AFTER_MAX_MS);
    retry_after("Sun, 06 Nov 1994 08:49:47 GMT", t, 0, 10000);
    retry_after("Sun, 06 Nov 1994 08:49:37 GMT", t, 0, 0);
    retry_after("Sat, 05 Nov 1994 08:49:37 GMT", t, 0, 0);
    retry_after("Mon, 07 Nov 1994 08:49:37 GMT", t, 0, 86400000);
    retry_after("Tue, 01 Jan 2030 00:00:00 GMT", t, 0, AP_RETRY_AFTER_MAX_MS);
    retry_after("", t, -1, 0);
    retry_after("-1", t, -1, 0);
    retry_after("1.5", t, -1, 0);
    retry_after("1 s", t, -1, 0);
    retry_after("soon", t, -1, 0);
    retry_after("Sun, 06 Nov 1994 08:49:37 UTC", t, -1, 0);
    retry_after("Sunday, 06-Nov-94 08:49:37 GMT", t, -1, 0);
    retry_after("Sun, 06 Nov 1994 25:49:37 GMT", t, -1, 0);
}


static void
test_backoff(void)
{
    int       ok, low, high;
    unsigned  attempt, i;
    uint64_t  state, ms, ceiling;

    state = 0x9e3779b97f4a7c15ULL;

    for (attempt = 0; attempt < 70; attempt++) {
        ceiling = 100;

        for (i = 0; i < attempt && ceiling < 5000; i++) {
            ceiling *= 2;
        }

        if (ceiling > 5000) {
            ceiling = 5000;
        }

        ok = 1;
        low = 0;
        high = 0;

        for (i = 0; i < 2000; i++) {
            ms = ap_backoff_ms(100, 5000, attempt, ap_random_next(&state));

            ok &= ms >= 100 && ms <= ceiling;
            low |= ms < 100 + (ceiling - 100) / 4 + 1;
            high |= ms + (ceiling - 100) / 4 >= ceiling;
        }

        if (attempt < 8 || attempt % 16 == 0 || attempt == 69) {
            tap_ok(ok && low && high, "backoff after %u failures: within "
                   "[100, %llu], both ends reached", attempt,
                   (unsigned long long) ceiling);
        }
    }

    tap_ok(ap_backoff_ms(100, 5000, 0, 0) == 100
           && ap_backoff_ms(100, 5000, 0, 100) == 100
           && ap_backoff_ms(100, 5000, 1, 100) == 200
           && ap_backoff_ms(100, 5000, 100, 4900) == 5000,
           "backoff ends exactly at floor and ceiling");
    tap_ok(ap_backoff_ms(300, 200, 5, 12345) == 300,
           "a cap below the floor is the floor");
    tap_ok(ap_backoff_ms(UINT64_MAX / 2, UINT64_MAX, 3, 7)
           >= UINT64_MAX / 2, "no overflow near 2^64");

    ok = 1;

    for (i = 0; i < 1000; i++) {
        ms = ap_retry_after_wait_ms(1000, ap_random_next(&state));
        ok &= ms >= 1000 && ms <= 1100;
        ms = ap_retry_after_wait_ms(60000, ap_random_next(&state));
        ok &= ms >= 60000 && ms <= 61000;
    }

    tap_ok(ok, "Retry-After is honoured: a tenth more at most, a second "
           "at most");
    tap_ok(ap_retry_after_wait_ms(0, 99) == 0, "Retry-After 0 is now");
}


static void
test_breaker(void)
{
    int           opened;
    unsigned      i;
    ap_breaker_t  b;

    memset(&b, 0, sizeof(b));

    tap_ok(b.state == AP_BREAKER_CLOSED && ap_breaker_allow(&b, 0, 1000),
           "closed at first, lets requests through");

    for (i = 1; i < 3; i++) {
        opened = ap_breaker_failure(&b, 100, 3);
        tap_ok(!opened && b.state == AP_BREAKER_CLOSED,
               "closed after %u failures of 3", i);
    }

    ap_breaker_success(&b);
    tap_ok(b.failures == 0, "a success resets the count");

    for (i = 1; i <= 3; i++) {
        opened = ap_breaker_failure(&b, 1000, 3);
    }

    tap_ok(opened && b.state == AP_BREAKER_OPEN,
           "open after 3 consecutive failures");
    tap_ok(!ap_breaker_allow(&b, 1999, 1000), "open: refuses before the "
           "cool-down");
    tap_ok(ap_breaker_ready_at(&b, 1500, 1000) == 2000,
           "ready at the end of the cool-down");

    tap_ok(ap_breaker_allow(&b, 2000, 1000)
           && b.state == AP_BREAKER_HALF_OPEN,
           "half-open after the cool-down: one trial");
    tap_ok(!ap_breaker_allow(&b, 2001, 1000),
           "half-open: a second request waits for the trial");

    opened = ap_breaker_failure(&b, 2100, 3);
    tap_ok(opened && b.state == AP_BREAKER_OPEN && b.opened_at_ms == 2100,
           "a failed trial opens it again, for a new cool-down");
    tap_ok(!ap_breaker_allow(&b, 3000, 1000)
           && ap_breaker_allow(&b, 3100, 1000), "cool-down from the trial");

    ap_breaker_neutral(&b);
    tap_ok(b.state == AP_BREAKER_HALF_OPEN && ap_breaker_allow(&b, 3101, 1000),
           "a trial cut short says nothing: another may go");

    ap_breaker_success(&b);
    tap_ok(b.state == AP_BREAKER_CLOSED && b.failures == 0
           && ap_breaker_allow(&b, 3200, 1000),
           "a successful trial closes it");

    opened = ap_breaker_failure(&b, 4000, 1);
    tap_ok(opened && b.state == AP_BREAKER_OPEN, "a threshold of 1 opens at "
           "the first failure");
}
