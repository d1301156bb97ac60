
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _NGX_ASYNC_PRIMES_PARSE_H_INCLUDED_
#define _NGX_ASYNC_PRIMES_PARSE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_ASYNC_PRIMES_PARSE_ERROR_LEN  128


typedef struct {
    uint64_t                    a;
    uint64_t                    b;

    /* on failure: a NUL-terminated message for the client, no quotes */
    char                        error[NGX_ASYNC_PRIMES_PARSE_ERROR_LEN];
} ngx_async_primes_body_t;


/*
 * Parses a job body, {"a": A, "b": B}: returns 0 and fills a and b, or
 * returns -1 and fills error.  It checks the JSON and that both members are
 * positive integers that fit 64 bits; ranges and limits are the caller's.
 */
int ngx_async_primes_parse_body(const unsigned char *p, size_t len,
    ngx_async_primes_body_t *body);


#endif /* _NGX_ASYNC_PRIMES_PARSE_H_INCLUDED_ */
