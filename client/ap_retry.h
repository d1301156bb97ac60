
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _AP_RETRY_H_INCLUDED_
#define _AP_RETRY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "asyncprimes.h"


/*
 * When to try again: Retry-After, backoff with full jitter, and a circuit
 * breaker per host.  Pure functions: the caller passes the time and the
 * random numbers, and holds the lock around a breaker.
 */


/* a Retry-After over a day is taken as a day */
#define AP_RETRY_AFTER_MAX_MS  86400000ULL


typedef struct {
    ap_breaker_state_e  state;
    unsigned            failures;       /* consecutive */
    unsigned            trial;          /* a half-open trial is in flight */
    uint64_t            opened_at_ms;
} ap_breaker_t;


/*
 * Reads a Retry-After value, delta-seconds ("120") or an IMF-fixdate
 * ("Wed, 21 Oct 2015 07:28:00 GMT", taken against now), into *ms.  A date
 * in the past is 0.  Returns 0, or -1 for anything else.
 */
int ap_retry_after_parse(const char *value, size_t len, time_t now,
    uint64_t *ms);

/*
 * The wait before attempt number attempt + 1 after attempt failures:
 * uniform in [floor, min(cap, floor * 2^attempt)], drawn with random.
 */
uint64_t ap_backoff_ms(uint64_t floor_ms, uint64_t cap_ms, unsigned attempt,
    uint64_t random);

/*
 * The wait the server asked for, and a little more (up to a tenth, at most
 * a second) so that clients told the same thing do not come back at once.
 */
uint64_t ap_retry_after_wait_ms(uint64_t retry_after_ms, uint64_t random);

/* 1 when a request may go to the host now; it then must report back */
int ap_breaker_allow(ap_breaker_t *breaker, uint64_t now_ms,
    uint64_t cooldown_ms);

/* when the breaker lets a request through next (now_ms if it does now) */
uint64_t ap_breaker_ready_at(const ap_breaker_t *breaker, uint64_t now_ms,
    uint64_t cooldown_ms);

void ap_breaker_success(ap_breaker_t *breaker);

/* returns 1 when this failure opened the circuit */
int ap_breaker_failure(ap_breaker_t *breaker, uint64_t now_ms,
    unsigned threshold);

/* a request that says nothing about the host: it was cut by the caller */
void ap_breaker_neutral(ap_breaker_t *breaker);

/* xorshift64*: the state must not be 0 */
uint64_t ap_random_next(uint64_t *state);


#endif /* _AP_RETRY_H_INCLUDED_ */
