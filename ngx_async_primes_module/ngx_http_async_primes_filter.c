
/*
 * Copyright (C) The ngx_async_primes authors
 */


/*
 * NGINX answers some requests of an async_primes location itself, before
 * or around the module's handler: a body over client_max_body_size (413),
 * a broken chunked body (400), a body that times out (408), a handler's
 * internal error (500), limit_req and limit_conn (503, or 429 with
 * limit_req_status).  Its HTML error pages are replaced here with the
 * module's JSON error document, so clients see one shape everywhere, and a
 * refusal to serve now says when to come back.
 */


#include "ngx_http_async_primes.h"


static ngx_int_t ngx_http_async_primes_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_async_primes_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static const char *ngx_http_async_primes_error_message(ngx_uint_t status);
static ngx_int_t ngx_http_async_primes_filter_retry_after(
    ngx_http_request_t *r);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_async_primes_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_async_primes_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_async_primes_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_async_primes_header_filter(ngx_http_request_t *r)
{
    size_t                             len;
    u_char                            *body;
    const char                        *message;
    ngx_http_async_primes_ctx_t       *ctx;
    ngx_http_async_primes_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_async_primes_module);

    if (!alcf->enable
        || r != r->main
        || r->headers_out.status < NGX_HTTP_BAD_REQUEST)
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_async_primes_module);

    if (ctx && ctx->own_response) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_async_primes_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    message = ngx_http_async_primes_error_message(r->headers_out.status);

    len = ngx_async_primes_json_error(NULL, (u_char *) message,
                                      ngx_strlen(message));

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_ERROR;
    }

    ngx_async_primes_json_error(body, (u_char *) message,
                                ngx_strlen(message));

    ctx->document.data = body;
    ctx->document.len = len;
    ctx->replace_body = 1;

    if ((r->headers_out.status == NGX_HTTP_TOO_MANY_REQUESTS
         || r->headers_out.status == NGX_HTTP_SERVICE_UNAVAILABLE)
        && ngx_http_async_primes_filter_retry_after(r) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    r->headers_out.content_length_n = len;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_async_primes_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                    *b;
    ngx_uint_t                    last;
    ngx_chain_t                  *cl, out;
    ngx_http_async_primes_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_async_primes_module);

    if (ctx == NULL || !ctx->replace_body) {
        return ngx_http_next_body_filter(r, in);
    }

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (b->last_buf || b->last_in_chain) {
            last = 1;
        }

        /* NGINX's own page is dropped */
        b->pos = b->last;

        if (b->in_file) {
            b->file_pos = b->file_last;
        }
    }

    if (!last) {
        return NGX_OK;
    }

    ctx->replace_body = 0;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->document.data;
    b->last = ctx->document.data + ctx->document.len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


static const char *
ngx_http_async_primes_error_message(ngx_uint_t status)
{
    switch (status) {

    case NGX_HTTP_BAD_REQUEST:
        return "bad request";

    case NGX_HTTP_NOT_FOUND:
        return "not found";

    case NGX_HTTP_NOT_ALLOWED:
        return "method not allowed";

    case NGX_HTTP_REQUEST_TIME_OUT:
        return "the request body was not received in time";

    case NGX_HTTP_LENGTH_REQUIRED:
        return "length required";

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        return "request body is too large (client_max_body_size)";

    case NGX_HTTP_REQUEST_URI_TOO_LARGE:
        return "request URI is too long";

    case NGX_HTTP_TOO_MANY_REQUESTS:
        return "too many requests";

    case NGX_HTTP_INTERNAL_SERVER_ERROR:
        return "internal server error";

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        return "service unavailable";

    default:
        return status >= NGX_HTTP_INTERNAL_SERVER_ERROR ? "server error"
                                                        : "request error";
    }
}


/*
 * limit_req and limit_conn say nothing of when to retry: one second is
 * what a rate of one request a second per client allows, and clients of
 * the module already honour the header.
 */

static ngx_int_t
ngx_http_async_primes_filter_retry_after(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash != 0
            && h[i].key.len == sizeof("Retry-After") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Retry-After",
                               sizeof("Retry-After") - 1)
               == 0)
        {
            return NGX_OK;
        }
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    ngx_str_set(&h->value, NGX_HTTP_ASYNC_PRIMES_RETRY_AFTER);

    return NGX_OK;
}
