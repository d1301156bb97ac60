
/*
 * Copyright (C) The ngx_async_primes authors
 */


/*
 * The stored value of a job.  The value comes back from Redis, where
 * anybody with access may have written anything: it is parsed as untrusted
 * bytes.
 */


#include <string.h>

#include "ngx_async_primes_record.h"


static const unsigned char *ngx_async_primes_record_number(
    const unsigned char *p, const unsigned char *end, uint64_t *value);
static const unsigned char *ngx_async_primes_record_digits(
    const unsigned char *p, const unsigned char *end, uint64_t *value);
static size_t ngx_async_primes_record_decimal(unsigned char *dst,
    uint64_t value);


int
ngx_async_primes_record_parse(const unsigned char *value, size_t len,
    ngx_async_primes_record_t *rec)
{
    size_t                magic;
    const unsigned char  *p, *end, *owner;

    magic = sizeof(NGX_ASYNC_PRIMES_RECORD_MAGIC) - 1;

    if (len < magic
        || memcmp(value, NGX_ASYNC_PRIMES_RECORD_MAGIC, magic) != 0)
    {
        if (len == 0 || value[0] != '{') {
            return -1;
        }

        rec->doc = value;
        rec->doc_len = len;

        return 0;
    }

    p = value + magic;
    end = value + len;
    owner = p;

    while (p < end && *p != ' ' && *p != '\n') {
        p++;
    }

    if (p == owner || p == end || *p != ' '
        || (size_t) (p - owner) > NGX_ASYNC_PRIMES_RECORD_OWNER_MAX)
    {
        return -1;
    }

    rec->owner = owner;
    rec->owner_len = p - owner;

    p = ngx_async_primes_record_number(p, end, &rec->lease);
    p = ngx_async_primes_record_number(p, end, &rec->a);
    p = ngx_async_primes_record_number(p, end, &rec->b);
    p = ngx_async_primes_record_number(p, end, &rec->eta);

    if (p == NULL || p == end || *p != '\n') {
        return -1;
    }

    p++;

    if (p == end || *p != '{' || rec->a > rec->b) {
        return -1;
    }

    rec->doc = p;
    rec->doc_len = end - p;

    return 1;
}


/* " <digits>" */

static const unsigned char *
ngx_async_primes_record_number(const unsigned char *p,
    const unsigned char *end, uint64_t *value)
{
    if (p == NULL || p == end || *p != ' ') {
        return NULL;
    }

    return ngx_async_primes_record_digits(p + 1, end, value);
}


/* digits without a sign or leading zeros, not above 2^64 - 1 */

static const unsigned char *
ngx_async_primes_record_digits(const unsigned char *p,
    const unsigned char *end, uint64_t *value)
{
    uint64_t              n, digit;
    const unsigned char  *start;

    if (p == NULL) {
        return NULL;
    }

    start = p;
    n = 0;

    while (p < end && *p >= '0' && *p <= '9') {
        digit = *p - '0';

        if (n > (UINT64_MAX - digit) / 10) {
            return NULL;
        }

        n = n * 10 + digit;
        p++;
    }

    if (p == start || (*start == '0' && p - start > 1)) {
        return NULL;
    }

    *value = n;

    return p;
}


/* "<a> <b>", as kept for an Idempotency-Key; 0 or -1 */

int
ngx_async_primes_record_range(const unsigned char *value, size_t len,
    uint64_t *a, uint64_t *b)
{
    const unsigned char  *p, *end;

    end = value + len;

    p = ngx_async_primes_record_digits(value, end, a);
    p = ngx_async_primes_record_number(p, end, b);

    return (p == end) ? 0 : -1;
}


size_t
ngx_async_primes_record_tail(unsigned char *dst, uint64_t a, uint64_t b,
    uint64_t eta, const unsigned char *doc, size_t len)
{
    unsigned char  *p;
    unsigned char   buf[3 * 21 + 1];

    p = buf;

    *p++ = ' ';
    p += ngx_async_primes_record_decimal(p, a);
    *p++ = ' ';
    p += ngx_async_primes_record_decimal(p, b);
    *p++ = ' ';
    p += ngx_async_primes_record_decimal(p, eta);
    *p++ = '\n';

    if (dst != NULL) {
        memcpy(dst, buf, p - buf);
        memcpy(dst + (p - buf), doc, len);
    }

    return (p - buf) + len;
}


size_t
ngx_async_primes_record_write(unsigned char *dst, const unsigned char *owner,
    size_t owner_len, uint64_t lease, uint64_t a, uint64_t b, uint64_t eta,
    const unsigned char *doc, size_t len)
{
    size_t          n;
    unsigned char   buf[21];

    n = sizeof(NGX_ASYNC_PRIMES_RECORD_MAGIC) - 1 + owner_len + 1
        + ngx_async_primes_record_decimal(buf, lease);

    if (dst != NULL) {
        memcpy(dst, NGX_ASYNC_PRIMES_RECORD_MAGIC,
               sizeof(NGX_ASYNC_PRIMES_RECORD_MAGIC) - 1);
        dst += sizeof(NGX_ASYNC_PRIMES_RECORD_MAGIC) - 1;
        memcpy(dst, owner, owner_len);
        dst += owner_len;
        *dst++ = ' ';
        dst += ngx_async_primes_record_decimal(dst, lease);
    }

    return n + ngx_async_primes_record_tail(dst, a, b, eta, doc, len);
}


static size_t
ngx_async_primes_record_decimal(unsigned char *dst, uint64_t value)
{
    size_t          n;
    unsigned char  *p, buf[20];

    p = buf + sizeof(buf);

    do {
        *--p = (unsigned char) ('0' + value % 10);
        value /= 10;
    } while (value);

    n = buf + sizeof(buf) - p;
    memcpy(dst, p, n);

    return n;
}
