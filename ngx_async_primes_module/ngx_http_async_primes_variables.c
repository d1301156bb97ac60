
/*
 * Copyright (C) The ngx_async_primes authors
 */


/*
 * Variables for access logs and headers, read from the answer the module
 * sent (a record names its job and its status) and from the job a submit
 * waited for.  Empty ("not found") where they do not apply.
 */


#include "ngx_http_async_primes.h"


static ngx_int_t ngx_http_async_primes_variable_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_async_primes_variable_status(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_async_primes_variable_compute_time(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_async_primes_vars[] = {

    { ngx_string("async_primes_request_id"), NULL,
      ngx_http_async_primes_variable_id, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("async_primes_status"), NULL,
      ngx_http_async_primes_variable_status, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("async_primes_compute_time"), NULL,
      ngx_http_async_primes_variable_compute_time, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_async_primes_status_names[] = {
    ngx_null_string,
    ngx_string("IN_PROGRESS"),
    ngx_string("FINISHED"),
    ngx_string("FAILED"),
    ngx_string("CANCELLED")
};


ngx_int_t
ngx_http_async_primes_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_async_primes_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* the answer is a job's record: its id and status are the variables' */

void
ngx_http_async_primes_variables_answer(ngx_http_request_t *r,
    ngx_http_async_primes_ctx_t *ctx, u_char *body, size_t len)
{
    static const char  prefix[] = "{\"requestId\":\"";

    if (len < sizeof(prefix) - 1 + NGX_ASYNC_PRIMES_ID_LEN
        || ngx_strncmp(body, prefix, sizeof(prefix) - 1) != 0)
    {
        return;
    }

    ctx->answer_id = body + sizeof(prefix) - 1;
    ctx->answer_status = ngx_async_primes_json_record_status(body, len);
}


static ngx_int_t
ngx_http_async_primes_variable_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_async_primes_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_async_primes_module);

    if (ctx == NULL || ctx->answer_id == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ctx->answer_id;
    v->len = NGX_ASYNC_PRIMES_ID_LEN;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_async_primes_variable_status(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                    *name;
    ngx_http_async_primes_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_async_primes_module);

    if (ctx == NULL
        || ctx->answer_status == NGX_ASYNC_PRIMES_STATUS_UNKNOWN
        || ctx->answer_status > NGX_ASYNC_PRIMES_STATUS_CANCELLED)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    name = &ngx_http_async_primes_status_names[ctx->answer_status];

    v->data = name->data;
    v->len = name->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* seconds, with milliseconds, of a job computed for this very request */

static ngx_int_t
ngx_http_async_primes_variable_compute_time(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                       *p;
    ngx_http_async_primes_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_async_primes_module);

    if (ctx == NULL || !ctx->computed) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_sprintf(p, "%M.%03M", ctx->compute_ms / 1000,
                         ctx->compute_ms % 1000)
             - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
