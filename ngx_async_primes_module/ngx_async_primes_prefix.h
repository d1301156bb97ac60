
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _NGX_ASYNC_PRIMES_PREFIX_H_INCLUDED_
#define _NGX_ASYNC_PRIMES_PREFIX_H_INCLUDED_


#include "ngx_async_primes_sum.h"


/* below this, S(x) is a plain sieve of Eratosthenes: faster and simpler */
#define NGX_ASYNC_PRIMES_PREFIX_SMALL    65536


/*
 * S(x), the sum of the primes p <= x, in sublinear time: wide ranges are
 * answered as S(b) - S(a - 1).  Same return codes and context as
 * ngx_async_primes_sum().
 */
int ngx_async_primes_prefix_sum(uint64_t x, ngx_async_primes_uint128_t *sum,
    ngx_async_primes_sum_ctx_t *ctx);

/*
 * S(hi) - S(lo) (S(hi) alone for lo < 2) computed by n threads together:
 * each calls ngx_async_primes_prefix_run() with the plan, in any order and
 * at any time; the sums they return add up to the result (the last to end
 * returns it, the others 0).  A plan is freed once no thread runs it.
 */
typedef struct ngx_async_primes_prefix_plan_s  ngx_async_primes_prefix_plan_t;

ngx_async_primes_prefix_plan_t *ngx_async_primes_prefix_plan(uint64_t hi,
    uint64_t lo, unsigned n);
int ngx_async_primes_prefix_run(ngx_async_primes_prefix_plan_t *plan,
    ngx_async_primes_uint128_t *sum, ngx_async_primes_sum_ctx_t *ctx);
void ngx_async_primes_prefix_plan_free(ngx_async_primes_prefix_plan_t *plan);

/* its estimated time on one core of the reference machine, microseconds */
uint64_t ngx_async_primes_prefix_cost(uint64_t x);


#endif /* _NGX_ASYNC_PRIMES_PREFIX_H_INCLUDED_ */
