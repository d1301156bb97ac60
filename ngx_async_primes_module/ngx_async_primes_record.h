
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _NGX_ASYNC_PRIMES_RECORD_H_INCLUDED_
#define _NGX_ASYNC_PRIMES_RECORD_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * The value of a job's key in Redis.  A finished or failed job is its JSON
 * document alone, served to polls as it is.  A job in progress carries a
 * header line before its document:
 *
 *     ap1 <owner> <lease> <a> <b> <eta>\n<document>
 *
 * owner is the token of the worker computing it, lease the time (ms since
 * the epoch, by Redis's clock) until which that worker holds the job, a and
 * b the range (so that another worker can compute it again) and eta the
 * time the job is expected to end, for an honest Retry-After.
 */


#define NGX_ASYNC_PRIMES_RECORD_MAGIC      "ap1 "
#define NGX_ASYNC_PRIMES_RECORD_OWNER_MAX  64

/* "ap1 " + owner + five numbers of at most 20 digits, spaces, "\n" */
#define NGX_ASYNC_PRIMES_RECORD_HEADER_MAX                                    \
    (sizeof(NGX_ASYNC_PRIMES_RECORD_MAGIC) - 1                               \
     + NGX_ASYNC_PRIMES_RECORD_OWNER_MAX + 5 * 21 + 1)


typedef struct {
    const unsigned char        *owner;
    size_t                      owner_len;
    uint64_t                    lease;
    uint64_t                    a;
    uint64_t                    b;
    uint64_t                    eta;
    const unsigned char        *doc;
    size_t                      doc_len;
} ngx_async_primes_record_t;


/*
 * Returns 1 for a job in progress (every field set), 0 for a final
 * document (only doc and doc_len set, to the whole value), -1 for a value
 * that is neither.
 */
int ngx_async_primes_record_parse(const unsigned char *value, size_t len,
    ngx_async_primes_record_t *rec);

/* "<a> <b>": 0, or -1 for anything else */
int ngx_async_primes_record_range(const unsigned char *value, size_t len,
    uint64_t *a, uint64_t *b);

/*
 * The part of a value in progress after its lease: " <a> <b> <eta>\n" and
 * the document.  Returns its length; with dst == NULL it only measures.
 */
size_t ngx_async_primes_record_tail(unsigned char *dst, uint64_t a,
    uint64_t b, uint64_t eta, const unsigned char *doc, size_t len);

/* the whole value in progress: "ap1 <owner> <lease>" and the tail */
size_t ngx_async_primes_record_write(unsigned char *dst,
    const unsigned char *owner, size_t owner_len, uint64_t lease,
    uint64_t a, uint64_t b, uint64_t eta, const unsigned char *doc,
    size_t len);


#endif /* _NGX_ASYNC_PRIMES_RECORD_H_INCLUDED_ */
