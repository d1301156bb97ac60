
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _TAP_H_INCLUDED_
#define _TAP_H_INCLUDED_


#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>


/*
 * A little of TAP for the unit tests: "ok N - description" or "not ok N",
 * "# " diagnostics, and the plan "1..N" printed last so that nothing has
 * to be counted by hand; a test that dies before it prints no plan and so
 * fails under prove.
 */


static int  tap_run;
static int  tap_failed;


static inline void
tap_diag(const char *fmt, ...)
{
    va_list  args;

    printf("# ");

    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);

    printf("\n");
    fflush(stdout);
}


static inline int
tap_ok(int ok, const char *fmt, ...)
{
    va_list  args;

    tap_run++;

    if (!ok) {
        tap_failed++;
    }

    printf("%sok %d - ", ok ? "" : "not ", tap_run);

    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);

    printf("\n");
    fflush(stdout);

    return ok;
}


static inline int
tap_done(void)
{
    printf("1..%d\n", tap_run);

    if (tap_failed) {
        tap_diag("failed %d of %d tests", tap_failed, tap_run);
    }

    return tap_failed ? 1 : 0;
}


/* xorshift64*: reproducible runs, each test file with its own seed */

static inline uint64_t
tap_rnd(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;

    return *state * 0x2545f4914f6cdd1dULL;
}


static inline double
tap_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


#endif /* _TAP_H_INCLUDED_ */
