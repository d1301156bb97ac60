
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <string.h>

#include "ngx_async_primes_json.h"


#define NGX_ASYNC_PRIMES_JSON_STATUS  "\"status\":\""


/* writes at dst + n, or only counts in n when dst is NULL */
typedef struct {
    unsigned char              *dst;
    size_t                      n;
} ngx_async_primes_json_out_t;


static void ngx_async_primes_json_copy(ngx_async_primes_json_out_t *out,
    const char *s);
static void ngx_async_primes_json_string(ngx_async_primes_json_out_t *out,
    const unsigned char *src, size_t len);
static ngx_async_primes_status_e ngx_async_primes_json_status_at(
    const unsigned char *p, size_t len);


static const struct {
    const char                 *name;
    size_t                      len;
    ngx_async_primes_status_e   status;
} ngx_async_primes_json_statuses[] = {
    { "IN_PROGRESS", sizeof("IN_PROGRESS") - 1,
      NGX_ASYNC_PRIMES_STATUS_IN_PROGRESS },
    { "FINISHED", sizeof("FINISHED") - 1, NGX_ASYNC_PRIMES_STATUS_FINISHED },
    { "FAILED", sizeof("FAILED") - 1, NGX_ASYNC_PRIMES_STATUS_FAILED },
    { "CANCELLED", sizeof("CANCELLED") - 1,
      NGX_ASYNC_PRIMES_STATUS_CANCELLED }
};


size_t
ngx_async_primes_json_escape(unsigned char *dst, const unsigned char *src,
    size_t len)
{
    size_t         i, n;
    unsigned char  c;

    static const char  hex[] = "0123456789abcdef";

    n = 0;

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c >= 0x20 && c != '"' && c != '\\') {
            /* bytes from 0x80 are UTF-8 text and go as they are */
            if (dst != NULL) {
                dst[n] = c;
            }

            n++;
            continue;
        }

        switch (c) {

        case '"':
        case '\\':
            break;

        case '\b':
            c = 'b';
            break;

        case '\f':
            c = 'f';
            break;

        case '\n':
            c = 'n';
            break;

        case '\r':
            c = 'r';
            break;

        case '\t':
            c = 't';
            break;

        default:
            if (dst != NULL) {
                dst[n] = '\\';
                dst[n + 1] = 'u';
                dst[n + 2] = '0';
                dst[n + 3] = '0';
                dst[n + 4] = hex[c >> 4];
                dst[n + 5] = hex[c & 0x0f];
            }

            n += 6;
            continue;
        }

        if (dst != NULL) {
            dst[n] = '\\';
            dst[n + 1] = c;
        }

        n += 2;
    }

    return n;
}


size_t
ngx_async_primes_json_record(unsigned char *dst, const unsigned char *id,
    size_t id_len, ngx_async_primes_status_e status,
    const unsigned char *payload, size_t payload_len,
    const unsigned char *error, size_t error_len)
{
    size_t                        i;
    const char                   *name;
    ngx_async_primes_json_out_t   out;

    name = "UNKNOWN";

    for (i = 0; i < sizeof(ngx_async_primes_json_statuses)
                    / sizeof(ngx_async_primes_json_statuses[0]); i++)
    {
        if (ngx_async_primes_json_statuses[i].status == status) {
            name = ngx_async_primes_json_statuses[i].name;
            break;
        }
    }

    out.dst = dst;
    out.n = 0;

    ngx_async_primes_json_copy(&out, "{\"requestId\":");
    ngx_async_primes_json_string(&out, id, id_len);
    ngx_async_primes_json_copy(&out, "," NGX_ASYNC_PRIMES_JSON_STATUS);
    ngx_async_primes_json_copy(&out, name);
    ngx_async_primes_json_copy(&out, "\",\"payload\":");

    if (payload == NULL) {
        ngx_async_primes_json_copy(&out, "null");

    } else {
        ngx_async_primes_json_string(&out, payload, payload_len);
    }

    if (status == NGX_ASYNC_PRIMES_STATUS_FAILED && error != NULL) {
        ngx_async_primes_json_copy(&out, ",\"error\":");
        ngx_async_primes_json_string(&out, error, error_len);
    }

    ngx_async_primes_json_copy(&out, "}\n");

    return out.n;
}


size_t
ngx_async_primes_json_progress(unsigned char *dst, const unsigned char *id,
    size_t id_len, unsigned permille)
{
    char                          number[sizeof("1.000")];
    ngx_async_primes_json_out_t   out;

    if (permille > 1000) {
        permille = 1000;
    }

    number[0] = (char) ('0' + permille / 1000);
    number[1] = '.';
    number[2] = (char) ('0' + permille / 100 % 10);
    number[3] = (char) ('0' + permille / 10 % 10);
    number[4] = (char) ('0' + permille % 10);
    number[5] = '\0';

    out.dst = dst;
    out.n = 0;

    ngx_async_primes_json_copy(&out, "{\"requestId\":");
    ngx_async_primes_json_string(&out, id, id_len);
    ngx_async_primes_json_copy(&out, "," NGX_ASYNC_PRIMES_JSON_STATUS
                               "IN_PROGRESS\",\"payload\":null,"
                               "\"progress\":");
    ngx_async_primes_json_copy(&out, number);
    ngx_async_primes_json_copy(&out, "}\n");

    return out.n;
}


size_t
ngx_async_primes_json_error(unsigned char *dst, const unsigned char *message,
    size_t len)
{
    ngx_async_primes_json_out_t   out;

    out.dst = dst;
    out.n = 0;

    ngx_async_primes_json_copy(&out, "{\"error\":");
    ngx_async_primes_json_string(&out, message, len);
    ngx_async_primes_json_copy(&out, "}\n");

    return out.n;
}


/*
 * Records come from ngx_async_primes_json_record(): with the usual 36
 * character id the status is at a known offset, so a poll costs a few
 * compares; anything else is searched for, the first match winning.  A
 * match cannot start inside a string value, where every quote is escaped.
 */

ngx_async_primes_status_e
ngx_async_primes_json_record_status(const unsigned char *doc, size_t len)
{
    size_t                     i, plen;
    const unsigned char       *p, *last;
    ngx_async_primes_status_e  status;

    static const char  prefix[] = "{\"requestId\":\"";

    plen = sizeof(NGX_ASYNC_PRIMES_JSON_STATUS) - 1;

    /* the prefix, a 36 character id, a quote and a comma */
    i = sizeof(prefix) - 1 + 36 + 2;

    if (len >= i + plen
        && memcmp(doc, prefix, sizeof(prefix) - 1) == 0
        && memcmp(doc + i, NGX_ASYNC_PRIMES_JSON_STATUS, plen) == 0)
    {
        status = ngx_async_primes_json_status_at(doc + i + plen,
                                                 len - i - plen);
        if (status != NGX_ASYNC_PRIMES_STATUS_UNKNOWN) {
            return status;
        }
    }

    if (len < plen) {
        return NGX_ASYNC_PRIMES_STATUS_UNKNOWN;
    }

    p = doc;
    last = doc + len - plen;

    while (p <= last) {
        p = memchr(p, '"', last - p + 1);
        if (p == NULL) {
            break;
        }

        if (memcmp(p, NGX_ASYNC_PRIMES_JSON_STATUS, plen) == 0) {
            return ngx_async_primes_json_status_at(p + plen,
                                                   doc + len - p - plen);
        }

        p++;
    }

    return NGX_ASYNC_PRIMES_STATUS_UNKNOWN;
}


static void
ngx_async_primes_json_copy(ngx_async_primes_json_out_t *out, const char *s)
{
    size_t  n;

    n = strlen(s);

    if (out->dst != NULL) {
        memcpy(out->dst + out->n, s, n);
    }

    out->n += n;
}


static void
ngx_async_primes_json_string(ngx_async_primes_json_out_t *out,
    const unsigned char *src, size_t len)
{
    ngx_async_primes_json_copy(out, "\"");

    out->n += ngx_async_primes_json_escape(out->dst == NULL
                                           ? NULL : out->dst + out->n,
                                           src, len);

    ngx_async_primes_json_copy(out, "\"");
}


/* a status name and its closing quote at p */

static ngx_async_primes_status_e
ngx_async_primes_json_status_at(const unsigned char *p, size_t len)
{
    size_t  i, n;

    for (i = 0; i < sizeof(ngx_async_primes_json_statuses)
                    / sizeof(ngx_async_primes_json_statuses[0]); i++)
    {
        n = ngx_async_primes_json_statuses[i].len;

        if (len > n
            && memcmp(p, ngx_async_primes_json_statuses[i].name, n) == 0
            && p[n] == '"')
        {
            return ngx_async_primes_json_statuses[i].status;
        }
    }

    return NGX_ASYNC_PRIMES_STATUS_UNKNOWN;
}
