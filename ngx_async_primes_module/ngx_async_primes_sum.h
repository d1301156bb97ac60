
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
size_t ngx_async_primes_uint128_to_decimal(ngx_async_primes_uint128_t value,
    char *buf);


#endif /* _NGX_ASYNC_PRIMES_SUM_H_INCLUDED_ */
