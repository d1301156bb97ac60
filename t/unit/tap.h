
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _TAP_H_INCLUDED_
#define _TAP_H_INCLUDED_


#include <stdarg.h>
#include <stdio.h>


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


#endif /* _TAP_H_INCLUDED_ */
