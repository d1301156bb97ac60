
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _NGX_ASYNC_PRIMES_JSON_H_INCLUDED_
#define _NGX_ASYNC_PRIMES_JSON_H_INCLUDED_


#include <stddef.h>


typedef enum {
    NGX_ASYNC_PRIMES_STATUS_UNKNOWN = 0,
    NGX_ASYNC_PRIMES_STATUS_IN_PROGRESS,
    NGX_ASYNC_PRIMES_STATUS_FINISHED,
    NGX_ASYNC_PRIMES_STATUS_FAILED,
    NGX_ASYNC_PRIMES_STATUS_CANCELLED
} ngx_async_primes_status_e;


/*
 * Each writer returns the length of its output; with dst == NULL it only
 * measures.  Documents are compact JSON ending with "\n".
 */

size_t ngx_async_primes_json_escape(unsigned char *dst,
    const unsigned char *src, size_t len);

/*
 * {"requestId":"<id>","status":"<status>","payload":<payload>}, where
 * payload is null or a JSON string; a FAILED record adds "error".  The
 * record is stored in Redis as it is and served to polls as it is.
 */
size_t ngx_async_primes_json_record(unsigned char *dst,
    const unsigned char *id, size_t id_len, ngx_async_primes_status_e status,
    const unsigned char *payload, size_t payload_len,
    const unsigned char *error, size_t error_len);

/*
 * An IN_PROGRESS record with "progress": permille / 1000, written with
 * three decimals ("0.425"), at most 1.
 */
size_t ngx_async_primes_json_progress(unsigned char *dst,
    const unsigned char *id, size_t id_len, unsigned permille);

/* {"error":"<message>"} */
size_t ngx_async_primes_json_error(unsigned char *dst,
    const unsigned char *message, size_t len);

/* the status of a record written by ngx_async_primes_json_record() */
ngx_async_primes_status_e ngx_async_primes_json_record_status(
    const unsigned char *doc, size_t len);


#endif /* _NGX_ASYNC_PRIMES_JSON_H_INCLUDED_ */
