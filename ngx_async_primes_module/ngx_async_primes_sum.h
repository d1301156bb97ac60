
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _NGX_ASYNC_PRIMES_SUM_H_INCLUDED_
#define _NGX_ASYNC_PRIMES_SUM_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * The sum of the primes p with a <= p <= b.  Pure C: no NGINX dependency,
 * so unit tests, benchmarks and fuzzers link it alone.
 */


typedef unsigned __int128  ngx_async_primes_uint128_t;


/*
 * Shared between the computing thread and its owner: the thread advances
 * "done" (numbers of the range examined so far, out of "total") and checks
 * "stop" every few milliseconds of work; both are accessed atomically.
 */
typedef struct {
    uint64_t                    done;
    uint64_t                    total;
    int                         stop;
} ngx_async_primes_sum_ctx_t;


#define NGX_ASYNC_PRIMES_SUM_OK        0
#define NGX_ASYNC_PRIMES_SUM_NOMEM    -1
#define NGX_ASYNC_PRIMES_SUM_STOPPED  -2

/* 2^128 - 1 has 39 decimal digits */
#define NGX_ASYNC_PRIMES_UINT128_LEN  39


int ngx_async_primes_sum(uint64_t a, uint64_t b,
    ngx_async_primes_uint128_t *sum, ngx_async_primes_sum_ctx_t *ctx);

/*
 * The estimated time ngx_async_primes_sum() takes for [a, b] on one core of
 * the reference machine (docs/benchmarks.md), in microseconds: what a
 * server compares with its budget before any thread runs.
 */
uint64_t ngx_async_primes_sum_cost(uint64_t a, uint64_t b);

/*
 * Splits [a, b] into at most n ranges lo[i]..hi[i] that
 * ngx_async_primes_sum() computes independently (one thread each) and whose
 * sums add up to the sum of [a, b]; returns how many, 1 where splitting
 * would not pay.
 */
unsigned ngx_async_primes_sum_split(uint64_t a, uint64_t b, unsigned n,
    uint64_t *lo, uint64_t *hi);

/*
 * A range computed as S(b) - S(a - 1) is not split: up to n threads share
 * the one computation.  ngx_async_primes_sum_shared() returns how many
 * threads should (1 where [a, b] is split or where a second thread would
 * not pay); each of them calls ngx_async_primes_sum_share() with the same
 * plan, and the sums they return add up to the sum of [a, b].  The plan is
 * freed once no thread runs it any more.
 */
typedef struct ngx_async_primes_prefix_plan_s  ngx_async_primes_sum_plan_t;

unsigned ngx_async_primes_sum_shared(uint64_t a, uint64_t b, unsigned n);
ngx_async_primes_sum_plan_t *ngx_async_primes_sum_plan(uint64_t a, uint64_t b,
    unsigned n);
int ngx_async_primes_sum_share(ngx_async_primes_sum_plan_t *plan,
    ngx_async_primes_uint128_t *sum, ngx_async_primes_sum_ctx_t *ctx);
void ngx_async_primes_sum_plan_free(ngx_async_primes_sum_plan_t *plan);

size_t ngx_async_primes_uint128_to_decimal(ngx_async_primes_uint128_t value,
    char *buf);


#endif /* _NGX_ASYNC_PRIMES_SUM_H_INCLUDED_ */
