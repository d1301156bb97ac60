
/*
 * Copyright (C) The ngx_async_primes authors
 */


/*
 * The HTTP side: POST to the location's own URI submits a job, GET or HEAD
 * of <location>/<requestId> polls it.  Every answer is JSON.
 */


#include "ngx_http_async_primes.h"


static ngx_int_t ngx_http_async_primes_submit(ngx_http_request_t *r);
static ngx_uint_t ngx_http_async_primes_json_content_type(
    ngx_http_request_t *r);
static void ngx_http_async_primes_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_async_primes_process_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_async_primes_idempotency_key(ngx_http_request_t *r,
    ngx_str_t *key);
static void ngx_http_async_primes_prefer(ngx_http_request_t *r,
    ngx_http_async_primes_ctx_t *ctx, ngx_http_async_primes_loc_conf_t *alcf);
static ngx_int_t ngx_http_async_primes_poll(ngx_http_request_t *r,
    ngx_str_t *id);
static void ngx_http_async_primes_poll_cleanup(void *data);
static ngx_int_t ngx_http_async_primes_cancel(ngx_http_request_t *r,
    ngx_str_t *id);
static void ngx_http_async_primes_cancelled(void *data, redisReply *reply);
static void ngx_http_async_primes_polled(void *data, redisReply *reply);
static ngx_int_t ngx_http_async_primes_reject(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
static ngx_int_t ngx_http_async_primes_add_header(ngx_http_request_t *r,
    const char *key, const char *value);


ngx_int_t
ngx_http_async_primes_handler(ngx_http_request_t *r)
{
    size_t                     len;
    ngx_str_t                  base, id;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    base = clcf->name;

    if (base.len > 1 && base.data[base.len - 1] == '/') {
        base.len--;
    }

    len = r->uri.len;

    if ((len == base.len || len == clcf->name.len)
        && ngx_strncmp(r->uri.data, clcf->name.data, len) == 0)
    {
        if (r->method != NGX_HTTP_POST) {
            if (ngx_http_async_primes_add_header(r, "Allow", "POST")
                != NGX_OK)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_http_async_primes_reject(r,
                                    NGX_HTTP_NOT_ALLOWED,
                                    "method not allowed: jobs are "
                                    "submitted with POST");
        }

        return ngx_http_async_primes_submit(r);
    }

    if (len > base.len + 1
        && ngx_strncmp(r->uri.data, base.data, base.len) == 0
        && r->uri.data[base.len] == '/'
        && ngx_strlchr(r->uri.data + base.len + 1, r->uri.data + len, '/')
           == NULL)
    {
        id.data = r->uri.data + base.len + 1;
        id.len = len - base.len - 1;

        if (r->method == NGX_HTTP_DELETE) {
            return ngx_http_async_primes_cancel(r, &id);
        }

        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            if (ngx_http_async_primes_add_header(r, "Allow",
                                                 "GET, HEAD, DELETE")
                != NGX_OK)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_http_async_primes_reject(r,
                                    NGX_HTTP_NOT_ALLOWED,
                                    "method not allowed: jobs are "
                                    "polled with GET and cancelled with "
                                    "DELETE");
        }

        return ngx_http_async_primes_poll(r, &id);
    }

    return ngx_http_async_primes_reject(r, NGX_HTTP_NOT_FOUND,
                                        "not found: jobs are submitted to "
                                        "the location itself and polled "
                                        "at <location>/<requestId>");
}


static ngx_int_t
ngx_http_async_primes_submit(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (!ngx_http_async_primes_json_content_type(r)) {
        ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_REFUSED_BAD_INPUT);
        return ngx_http_async_primes_reject(r,
                                NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                "unsupported media type: "
                                "send the job as application/json");
    }

    rc = ngx_http_read_client_request_body(r,
                                       ngx_http_async_primes_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        if (rc == NGX_HTTP_BAD_REQUEST
            || rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE)
        {
            ngx_http_async_primes_count(
                                    NGX_HTTP_ASYNC_PRIMES_REFUSED_BAD_INPUT);
        }

        return rc;
    }

    return NGX_DONE;
}


/*
 * JSON, or what a client sends when it does not say (no type at all, or
 * curl's default form type for -d).
 */

static ngx_uint_t
ngx_http_async_primes_json_content_type(ngx_http_request_t *r)
{
    u_char  *p, *last;
    size_t   len;

    if (r->headers_in.content_type == NULL) {
        return 1;
    }

    p = r->headers_in.content_type->value.data;
    last = p + r->headers_in.content_type->value.len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    len = 0;

    while (p + len < last && p[len] != ';' && p[len] != ' '
           && p[len] != '\t')
    {
        len++;
    }

    if (len == sizeof("application/json") - 1
        && ngx_strncasecmp(p, (u_char *) "application/json", len) == 0)
    {
        return 1;
    }

    if (len == sizeof("application/x-www-form-urlencoded") - 1
        && ngx_strncasecmp(p, (u_char *) "application/x-www-form-urlencoded",
                           len) == 0)
    {
        return 1;
    }

    /* structured syntax suffix: application/<something>+json */
    if (len > sizeof("application/+json") - 1
        && ngx_strncasecmp(p, (u_char *) "application/", 12) == 0
        && ngx_strncasecmp(p + len - 5, (u_char *) "+json", 5) == 0)
    {
        return 1;
    }

    return 0;
}


static void
ngx_http_async_primes_body_handler(ngx_http_request_t *r)
{
    ngx_http_finalize_request(r, ngx_http_async_primes_process_body(r));
}


static ngx_int_t
ngx_http_async_primes_process_body(ngx_http_request_t *r)
{
    off_t                              len;
    u_char                            *p, *data;
    uint64_t                           cost;
    ssize_t                            n;
    ngx_buf_t                         *b;
    ngx_chain_t                       *cl;
    ngx_str_t                          idem;
    ngx_async_primes_body_t            body;
    ngx_http_async_primes_ctx_t       *ctx;
    ngx_http_async_primes_loc_conf_t  *alcf;
    u_char                             message[128];

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_async_primes_module);

    len = 0;

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            len += ngx_buf_size(cl->buf);
        }
    }

    if (len == 0) {
        ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_REFUSED_BAD_INPUT);
        return ngx_http_async_primes_send_error(r, NGX_HTTP_BAD_REQUEST,
                                                "request body is empty");
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && ngx_buf_in_memory(cl->buf)) {
        data = cl->buf->pos;

    } else {
        data = ngx_pnalloc(r->pool, len);
        if (data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = data;

        for ( /* void */ ; cl; cl = cl->next) {
            b = cl->buf;

            if (ngx_buf_in_memory(b)) {
                p = ngx_cpymem(p, b->pos, b->last - b->pos);
                continue;
            }

            /* the empty last buffer of a chunked body */
            if (!b->in_file) {
                continue;
            }

            /*
             * A body larger than client_body_buffer_size is in a temporary
             * file NGINX has just written: reading it back is a page cache
             * copy, at most client_max_body_size bytes.
             */
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            p += n;
        }
    }

    if (ngx_async_primes_parse_body(data, len, &body) != 0) {
        ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_REFUSED_BAD_INPUT);
        return ngx_http_async_primes_send_error(r, NGX_HTTP_BAD_REQUEST,
                                                body.error);
    }

    if (body.a > body.b) {
        ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_REFUSED_BAD_INPUT);
        return ngx_http_async_primes_send_error(r,
                                            NGX_HTTP_ASYNC_PRIMES_UNPROCESSABLE,
                                            "a must not be greater than b");
    }

    if (body.b > alcf->max_number) {
        ngx_sprintf(message, "b must not exceed %uL, the largest number "
                    "accepted here%Z", alcf->max_number);

        ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_REFUSED_BAD_INPUT);
        return ngx_http_async_primes_send_error(r,
                                            NGX_HTTP_ASYNC_PRIMES_UNPROCESSABLE,
                                            (char *) message);
    }

    /* refused before any thread runs: the estimate is microseconds */
    cost = ngx_async_primes_sum_cost(body.a, body.b);

    if (cost / 1000 > alcf->max_work) {
        p = ngx_sprintf(message, "the job would take about %uL.%uL s to "
                        "compute, over the ", cost / 1000000,
                        cost / 100000 % 10);

        if (alcf->max_work % 1000) {
            p = ngx_sprintf(p, "%M ms", alcf->max_work);

        } else {
            p = ngx_sprintf(p, "%M s", alcf->max_work / 1000);
        }

        ngx_sprintf(p, " allowed here%Z");

        ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_REFUSED_OVER_BUDGET);
        return ngx_http_async_primes_send_error(r,
                                        NGX_HTTP_ASYNC_PRIMES_UNPROCESSABLE,
                                        (char *) message);
    }

    if (ngx_http_async_primes_idempotency_key(r, &idem) != NGX_OK) {
        ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_REFUSED_BAD_INPUT);
        return ngx_http_async_primes_send_error(r, NGX_HTTP_BAD_REQUEST,
                                    "the Idempotency-Key must be 1 to 255 "
                                    "printable characters, quoted or not");
    }

    ctx = ngx_http_async_primes_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_async_primes_prefer(r, ctx, alcf);

    return ngx_http_async_primes_job_start(r, body.a, body.b, &idem);
}


/*
 * RFC 7240 "Prefer: respond-async, wait=N": a submit whose job ends within
 * N seconds (at most async_primes_wait_max) is answered 200 with its final
 * record, else 202 as always.  A preference that is not understood is
 * ignored, as the RFC wants.
 */

static void
ngx_http_async_primes_prefer(ngx_http_request_t *r,
    ngx_http_async_primes_ctx_t *ctx, ngx_http_async_primes_loc_conf_t *alcf)
{
    u_char           *p, *last, *end;
    ngx_int_t         wait;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    wait = 0;
    part = &r->headers_in.headers.part;
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

        if (h[i].key.len != sizeof("Prefer") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Prefer",
                               sizeof("Prefer") - 1)
               != 0)
        {
            continue;
        }

        p = h[i].value.data;
        last = p + h[i].value.len;

        /* preferences apart by commas, each with ";" parameters */
        while (p < last) {
            while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
                p++;
            }

            end = p;

            while (end < last && *end != ',' && *end != ';') {
                end++;
            }

            if (end - p == sizeof("respond-async") - 1
                && ngx_strncasecmp(p, (u_char *) "respond-async",
                                   sizeof("respond-async") - 1)
                   == 0)
            {
                ctx->prefer_async = 1;

            } else if (end - p > 5
                       && ngx_strncasecmp(p, (u_char *) "wait=", 5) == 0)
            {
                wait = ngx_atoi(p + 5, end - p - 5);
            }

            /* the parameters of the preference, if any */
            while (end < last && *end != ',') {
                end++;
            }

            p = end;
        }
    }

    if (wait <= 0 || alcf->wait_max == 0) {
        return;
    }

    wait = ngx_min((ngx_msec_t) wait * 1000, alcf->wait_max);

    ctx->prefer_wait = (wait + 999) / 1000;
    ctx->wait_end = ngx_current_msec + wait;

    if (ctx->wait_end == 0) {
        ctx->wait_end = 1;
    }
}


/*
 * The Idempotency-Key header of a submit (the IETF draft's quoted string,
 * or the same without quotes): an empty key when there is none.  The key
 * goes to Redis as a binary-safe argument, but a key that no client would
 * send is refused rather than stored.
 */

static ngx_int_t
ngx_http_async_primes_idempotency_key(ngx_http_request_t *r, ngx_str_t *key)
{
    u_char           *p, *last;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    ngx_str_null(key);

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NGX_OK;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Idempotency-Key") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Idempotency-Key",
                               sizeof("Idempotency-Key") - 1)
               == 0)
        {
            break;
        }
    }

    p = h[i].value.data;
    last = p + h[i].value.len;

    if (last - p >= 2 && *p == '"' && last[-1] == '"') {
        p++;
        last--;
    }

    if (p == last || last - p > NGX_HTTP_ASYNC_PRIMES_IDEM_MAX) {
        return NGX_ERROR;
    }

    key->data = p;
    key->len = last - p;

    for ( /* void */ ; p < last; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_async_primes_poll(ngx_http_request_t *r, ngx_str_t *id)
{
    ngx_int_t                           rc, wait;
    ngx_str_t                           doc, value;
    ngx_pool_cleanup_t                 *cln;
    ngx_http_async_primes_ctx_t        *ctx;
    ngx_http_async_primes_loc_conf_t   *alcf;
    ngx_http_async_primes_main_conf_t  *amcf;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    /* a malformed id cannot name a job: no need to ask Redis */
    if (!ngx_async_primes_id_valid(id->data, id->len)) {
        return ngx_http_async_primes_send_error(r, NGX_HTTP_NOT_FOUND,
                                                "no such job: the request "
                                                "id is malformed");
    }

    /* ?wait=N: seconds the poll may be held while the job is in progress */
    wait = 0;

    if (r->args.len
        && ngx_http_arg(r, (u_char *) "wait", 4, &value) == NGX_OK)
    {
        wait = ngx_atoi(value.data, value.len);

        if (wait == NGX_ERROR) {
            return ngx_http_async_primes_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "wait must be a whole number "
                                            "of seconds");
        }
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_async_primes_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_async_primes_module);

    /* a job finished here: its final record, without asking Redis */
    if (amcf->cache) {
        rc = ngx_http_async_primes_cache_get(amcf, id->data, r->pool, &doc);

        if (rc == NGX_OK) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "async_primes: job %V from the cache", id);

            return ngx_http_async_primes_send(r, NGX_HTTP_OK, doc.data,
                                              doc.len);
        }

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ctx = ngx_http_async_primes_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->id = id->data;

    if (wait > 0 && alcf->wait_max) {
        ctx->wait_end = ngx_current_msec
                        + ngx_min((ngx_msec_t) wait * 1000, alcf->wait_max);

        /* 0 means no wait */
        if (ctx->wait_end == 0) {
            ctx->wait_end = 1;
        }

    } else if (wait == 0) {
        /* "Prefer: wait=N", which a client may send to any server */
        ngx_http_async_primes_prefer(r, ctx, alcf);
    }

    if (ngx_http_async_primes_poll_get(r, ctx) != NGX_OK) {
        return ngx_http_async_primes_send_error(r,
                                    NGX_HTTP_SERVICE_UNAVAILABLE,
                                    NGX_HTTP_ASYNC_PRIMES_UNAVAILABLE);
    }

    cln->handler = ngx_http_async_primes_poll_cleanup;
    cln->data = ctx;

    r->main->count++;

    return NGX_DONE;
}


/*
 * DELETE <location>/<requestId>: a job nobody computes any more is
 * cancelled at once (200); one a worker computes is marked, and that
 * worker, told through Redis, stops it and writes its CANCELLED record
 * (202: poll it).  A job that has ended is left as it is (409).
 */

static ngx_int_t
ngx_http_async_primes_cancel(ngx_http_request_t *r, ngx_str_t *id)
{
    ngx_int_t                           rc;
    ngx_pool_cleanup_t                 *cln;
    ngx_http_async_primes_ctx_t        *ctx;
    ngx_http_async_primes_loc_conf_t   *alcf;
    ngx_http_async_primes_main_conf_t  *amcf;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (!ngx_async_primes_id_valid(id->data, id->len)) {
        return ngx_http_async_primes_send_error(r, NGX_HTTP_NOT_FOUND,
                                                "no such job: the request "
                                                "id is malformed");
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_async_primes_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_async_primes_module);

    ctx = ngx_http_async_primes_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->id = id->data;

    if (ngx_http_async_primes_store_cancel(amcf, id->data, alcf->ttl,
                                           ngx_http_async_primes_cancelled,
                                           r, &ctx->reply_to)
        != NGX_OK)
    {
        return ngx_http_async_primes_send_error(r,
                                    NGX_HTTP_SERVICE_UNAVAILABLE,
                                    NGX_HTTP_ASYNC_PRIMES_UNAVAILABLE);
    }

    cln->handler = ngx_http_async_primes_poll_cleanup;
    cln->data = ctx;

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_async_primes_cancelled(void *data, redisReply *reply)
{
    ngx_http_request_t  *r = data;

    u_char                       *body, *location;
    ngx_int_t                     rc, code;
    redisReply                   *doc;
    ngx_http_async_primes_ctx_t  *ctx;

    if (r == NULL) {
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_async_primes_module);
    ctx->reply_to = NULL;

    if (reply == NULL) {
        rc = ngx_http_async_primes_send_error(r,
                                    NGX_HTTP_SERVICE_UNAVAILABLE,
                                    NGX_HTTP_ASYNC_PRIMES_UNAVAILABLE);
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements < 1
        || reply->element[0]->type != REDIS_REPLY_INTEGER
        || (reply->element[0]->integer != 0
            && (reply->elements != 2
                || reply->element[1]->type != REDIS_REPLY_STRING)))
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "async_primes: unexpected redis reply of type %d "
                      "to the cancellation of job %*s%s%s", reply->type,
                      (size_t) NGX_ASYNC_PRIMES_ID_LEN, ctx->id,
                      reply->type == REDIS_REPLY_ERROR ? ": " : "",
                      reply->type == REDIS_REPLY_ERROR ? reply->str : "");

        rc = ngx_http_async_primes_send_error(r,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "the job store (redis) answered with "
                                    "an error");
        ngx_http_finalize_request(r, rc);
        return;
    }

    code = reply->element[0]->integer;

    if (code == 0) {
        rc = ngx_http_async_primes_send_error(r, NGX_HTTP_NOT_FOUND,
                                              "no such job: it is unknown "
                                              "or has expired");
        ngx_http_finalize_request(r, rc);
        return;
    }

    doc = reply->element[1];

    if (code == 1
        && ngx_async_primes_json_record_status((u_char *) doc->str, doc->len)
           != NGX_ASYNC_PRIMES_STATUS_CANCELLED)
    {
        rc = ngx_http_async_primes_send_error(r, NGX_HTTP_CONFLICT,
                                              "the job has ended: it is "
                                              "left as it is");
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (code == 3) {
        ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_CANCELLED);
    }

    body = ngx_pnalloc(r->pool, doc->len);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memcpy(body, doc->str, doc->len);

    /* 2: its worker stops it; the record says CANCELLED once it has */
    if (code == 2) {
        location = ngx_pnalloc(r->pool, r->uri.len + 1);
        if (location == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        (void) ngx_cpystrn(location, r->uri.data, r->uri.len + 1);

        if (ngx_http_async_primes_add_header(r, "Location",
                                             (const char *) location)
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    rc = ngx_http_async_primes_send(r, code == 2 ? NGX_HTTP_ACCEPTED
                                                 : NGX_HTTP_OK,
                                    body, doc->len);
    ngx_http_finalize_request(r, rc);
}


/* reads the record of the job polled, once more for a poll that waited */

ngx_int_t
ngx_http_async_primes_poll_get(ngx_http_request_t *r,
    ngx_http_async_primes_ctx_t *ctx)
{
    ngx_http_async_primes_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_async_primes_module);

    return ngx_http_async_primes_store_get(amcf, ctx->id,
                                           ngx_http_async_primes_polled, r,
                                           &ctx->reply_to);
}


static void
ngx_http_async_primes_poll_cleanup(void *data)
{
    ngx_http_async_primes_ctx_t  *ctx = data;

    /* the request is gone before its reply: the reply goes nowhere */
    if (ctx->reply_to) {
        *ctx->reply_to = NULL;
        ctx->reply_to = NULL;
    }

    if (ctx->waited) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "async_primes: a waiting poll is gone: the client "
                       "closed the connection");

        ngx_http_async_primes_wait_done(ctx);
    }
}


static void
ngx_http_async_primes_polled(void *data, redisReply *reply)
{
    ngx_http_request_t  *r = data;

    int                                 in_progress;
    u_char                             *body;
    uint64_t                            now;
    ngx_int_t                           rc;
    ngx_async_primes_record_t           rec;
    ngx_http_async_primes_ctx_t        *ctx;
    ngx_http_async_primes_main_conf_t  *amcf;

    if (r == NULL) {
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_async_primes_module);
    ctx->reply_to = NULL;

    in_progress = -1;

    if (reply != NULL && reply->type == REDIS_REPLY_STRING) {
        in_progress = ngx_async_primes_record_parse((u_char *) reply->str,
                                                    reply->len, &rec);
    }

    if (reply == NULL) {
        rc = ngx_http_async_primes_send_error(r,
                                    NGX_HTTP_SERVICE_UNAVAILABLE,
                                    NGX_HTTP_ASYNC_PRIMES_UNAVAILABLE);

    } else if (reply->type == REDIS_REPLY_NIL) {
        rc = ngx_http_async_primes_send_error(r, NGX_HTTP_NOT_FOUND,
                                              "no such job: it is unknown "
                                              "or has expired");

    } else if (in_progress >= 0) {
        if (in_progress) {
            now = ngx_http_async_primes_now();

            /* the worker computing it is gone: a poll is what notices */
            amcf = ngx_http_get_module_main_conf(r,
                                               ngx_http_async_primes_module);

            if ((int64_t) rec.lease < (int64_t) now - amcf->clock_ahead) {
                ngx_http_async_primes_job_takeover(r, ctx->id, &rec);
            }

            /* ?wait=: the answer waits for the job's end, or the time */
            if (ngx_http_async_primes_wait(r, ctx) == NGX_OK) {
                return;
            }

            if (ngx_http_async_primes_retry_after(r, rec.eta, now) != NGX_OK)
            {
                ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }
        }

        /* the stored document is the response: copied, not re-encoded */
        body = ngx_pnalloc(r->pool, rec.doc_len);
        if (body == NULL
            || ngx_http_async_primes_preference_applied(r, NGX_HTTP_OK)
               != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_memcpy(body, rec.doc, rec.doc_len);

        rc = ngx_http_async_primes_send(r, NGX_HTTP_OK, body, rec.doc_len);

    } else {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "async_primes: unexpected redis reply of type %d "
                      "to GET: %*s", reply->type,
                      reply->type == REDIS_REPLY_ERROR
                      || reply->type == REDIS_REPLY_STRING
                      ? ngx_min(reply->len, 128) : 0,
                      reply->str);

        rc = ngx_http_async_primes_send_error(r,
                                    NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "the job store (redis) answered with "
                                    "an error");
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * RFC 7240: the preferences of a submit or a poll that were honoured.
 * respond-async always is, on a 202; wait=N when the answer was held.
 */

ngx_int_t
ngx_http_async_primes_preference_applied(ngx_http_request_t *r,
    ngx_uint_t status)
{
    u_char                       *p;
    ngx_table_elt_t              *h;
    ngx_http_async_primes_ctx_t  *ctx;
    u_char                        value[sizeof("respond-async, wait=")
                                        + NGX_INT_T_LEN];

    ctx = ngx_http_get_module_ctx(r, ngx_http_async_primes_module);

    p = value;

    if (ctx->prefer_async && status == NGX_HTTP_ACCEPTED) {
        p = ngx_cpymem(p, "respond-async", sizeof("respond-async") - 1);
    }

    if (ctx->prefer_held && ctx->prefer_wait) {
        p = ngx_sprintf(p, "%s%ui", p == value ? "wait=" : ", wait=",
                        ctx->prefer_wait);
    }

    if (p == value) {
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Preference-Applied");
    h->value.len = p - value;
    h->value.data = ngx_pnalloc(r->pool, h->value.len);

    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(h->value.data, value, h->value.len);

    return NGX_OK;
}


/*
 * When to poll again: when the job is expected to end (eta, by the estimate
 * of the worker computing it), and at least in a second.
 */

ngx_int_t
ngx_http_async_primes_retry_after(ngx_http_request_t *r, uint64_t eta,
    uint64_t now)
{
    u_char    *value;
    uint64_t   seconds;

    seconds = (eta > now) ? (eta - now + 999) / 1000 : 1;

    if (seconds == 1) {
        return ngx_http_async_primes_add_header(r, "Retry-After",
                                        NGX_HTTP_ASYNC_PRIMES_RETRY_AFTER);
    }

    /* an estimate from a foreign record is not trusted beyond a TTL's worth */
    seconds = ngx_min(seconds, 3600);

    value = ngx_pnalloc(r->pool, NGX_INT64_LEN + 1);
    if (value == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(value, "%uL%Z", seconds);

    return ngx_http_async_primes_add_header(r, "Retry-After",
                                            (const char *) value);
}


ngx_http_async_primes_ctx_t *
ngx_http_async_primes_get_ctx(ngx_http_request_t *r)
{
    ngx_http_async_primes_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_async_primes_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_async_primes_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_async_primes_module);
    }

    return ctx;
}


ngx_int_t
ngx_http_async_primes_send(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len)
{
    ngx_int_t                     rc;
    ngx_buf_t                    *b;
    ngx_chain_t                   out;
    ngx_http_async_primes_ctx_t  *ctx;

    ctx = ngx_http_async_primes_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->own_response = 1;

    ngx_http_async_primes_variables_answer(r, ctx, body, len);

    if (ngx_http_async_primes_add_header(r, "Cache-Control", "no-store")
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;

    if (status == NGX_HTTP_ASYNC_PRIMES_UNPROCESSABLE) {
        ngx_str_set(&r->headers_out.status_line, "422 Unprocessable Entity");
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_async_primes_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    size_t   len;
    u_char  *body;

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_http_async_primes_add_header(r, "Retry-After",
                                        NGX_HTTP_ASYNC_PRIMES_RETRY_AFTER)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_async_primes_json_error(NULL, (u_char *) message,
                                      ngx_strlen(message));

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_async_primes_json_error(body, (u_char *) message,
                                ngx_strlen(message));

    return ngx_http_async_primes_send(r, status, body, len);
}


/* an error found before the body is read: the body is dropped first */

static ngx_int_t
ngx_http_async_primes_reject(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_async_primes_send_error(r, status, message);
}


static ngx_int_t
ngx_http_async_primes_add_header(ngx_http_request_t *r, const char *key,
    const char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return NGX_OK;
}
