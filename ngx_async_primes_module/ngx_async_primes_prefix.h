
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _NGX_ASYNC_PRIMES_PREFIX_H_INCLUDED_
#define _NGX_ASYNC_PRIMES_PREFIX_H_INCLUDED_


#include "ngx_async_primes_sum.h"


/*
 * S(x), the sum of the primes p <= x, in sublinear time: wide ranges are
 * answered as S(b) - S(a - 1).  Same return codes and context as
 * ngx_async_primes_sum().
 */
int ngx_async_primes_prefix_sum(uint64_t x, ngx_async_primes_uint128_t *sum,
    ngx_async_primes_sum_ctx_t *ctx);

/* its estimated time on one core of the reference machine, microseconds */
uint64_t ngx_async_primes_prefix_cost(uint64_t x);


#endif /* _NGX_ASYNC_PRIMES_PREFIX_H_INCLUDED_ */
