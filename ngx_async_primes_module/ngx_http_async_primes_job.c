
/*
 * Copyright (C) The ngx_async_primes authors
 */


/*
 * The life of a job: its IN_PROGRESS record is stored (STORING), the 202
 * goes out and the sum is computed in a thread pool (COMPUTING) while a
 * timer keeps the record alive, then the result is written (WRITING) and
 * the job is freed.  Every way a job ends goes through
 * ngx_http_async_primes_job_finish().
 */


#include "ngx_http_async_primes.h"


#define NGX_HTTP_ASYNC_PRIMES_WRITE_RETRY  1000
#define NGX_HTTP_ASYNC_PRIMES_POST_RETRY   100


static void ngx_http_async_primes_job_request_cleanup(void *data);
static void ngx_http_async_primes_job_stored(void *data, redisReply *reply);
static void ngx_http_async_primes_job_delete(
    ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_reply(ngx_http_async_primes_job_t *job,
    ngx_uint_t status, u_char *body, size_t len, const char *error);
static ngx_uint_t ngx_http_async_primes_job_post(
    ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_post_handler(ngx_event_t *ev);
static void ngx_http_async_primes_job_thread(void *data, ngx_log_t *log);
static void ngx_http_async_primes_job_computed(ngx_event_t *ev);
static void ngx_http_async_primes_job_refresh(ngx_event_t *ev);
static void ngx_http_async_primes_job_refreshed(void *data,
    redisReply *reply);
static void ngx_http_async_primes_job_write(ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_retry(ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_write_handler(ngx_event_t *ev);
static void ngx_http_async_primes_job_written(void *data, redisReply *reply);
static ngx_int_t ngx_http_async_primes_job_set(
    ngx_http_async_primes_job_t *job, u_char *doc, size_t len,
    ngx_http_async_primes_redis_handler_pt handler);
static ngx_int_t ngx_http_async_primes_job_command(
    ngx_http_async_primes_job_t *job,
    ngx_http_async_primes_redis_handler_pt handler, int argc,
    const char **argv, const size_t *argvlen);
static void ngx_http_async_primes_job_none(void *data, redisReply *reply);
static ngx_uint_t ngx_http_async_primes_job_replied(
    ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_finish(ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_free(ngx_http_async_primes_job_t *job);


size_t
ngx_http_async_primes_key(u_char *dst, const u_char *id)
{
    u_char  *p;

    p = ngx_cpymem(dst, NGX_HTTP_ASYNC_PRIMES_KEY_PREFIX,
                   sizeof(NGX_HTTP_ASYNC_PRIMES_KEY_PREFIX) - 1);
    p = ngx_cpymem(p, id, NGX_ASYNC_PRIMES_ID_LEN);

    return p - dst;
}


ngx_int_t
ngx_http_async_primes_job_start(ngx_http_request_t *r, uint64_t a,
    uint64_t b)
{
    size_t                              len;
    u_char                             *doc;
    uint64_t                            lo[NGX_HTTP_ASYNC_PRIMES_MAX_PARTS];
    uint64_t                            hi[NGX_HTTP_ASYNC_PRIMES_MAX_PARTS];
    ngx_int_t                           rc;
    ngx_uint_t                          i, nparts;
    ngx_pool_cleanup_t                 *cln;
    ngx_http_async_primes_ctx_t        *ctx;
    ngx_http_async_primes_job_t        *job;
    ngx_http_async_primes_part_t       *part;
    ngx_http_async_primes_loc_conf_t   *alcf;
    ngx_http_async_primes_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_async_primes_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_async_primes_module);

    if (amcf->redis.ctx == NULL) {
        return ngx_http_async_primes_send_error(r,
                                    NGX_HTTP_SERVICE_UNAVAILABLE,
                                    NGX_HTTP_ASYNC_PRIMES_UNAVAILABLE);
    }

    ctx = ngx_http_async_primes_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    nparts = ngx_async_primes_sum_split(a, b, alcf->job_threads, lo, hi);

    if (nparts == 0 || nparts > alcf->job_threads) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "async_primes: the engine split [%uL, %uL] into %ui "
                      "parts", a, b, nparts);
        nparts = 1;
        lo[0] = a;
        hi[0] = b;
    }

    /* the job and its parts, in one allocation freed in one place */
    job = ngx_calloc(sizeof(ngx_http_async_primes_job_t)
                     + nparts * sizeof(ngx_http_async_primes_part_t),
                     ngx_cycle->log);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job->parts = (ngx_http_async_primes_part_t *) (job + 1);
    job->nparts = nparts;

    for (i = 0; i < nparts; i++) {
        part = &job->parts[i];

        part->job = job;
        part->lo = lo[i];
        part->hi = hi[i];

        part->task.ctx = part;
        part->task.handler = ngx_http_async_primes_job_thread;
        part->task.event.data = part;
        part->task.event.handler = ngx_http_async_primes_job_computed;
        part->task.event.log = ngx_cycle->log;
    }

    if (ngx_async_primes_id_generate(job->id) != 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "async_primes: RAND_bytes() failed");
        ngx_free(job);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "async_primes: job %*s in %ui parts",
                   (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id, nparts);

    len = ngx_async_primes_json_record(NULL, job->id, NGX_ASYNC_PRIMES_ID_LEN,
                                       NGX_ASYNC_PRIMES_STATUS_IN_PROGRESS,
                                       NULL, 0, NULL, 0);

    doc = ngx_pnalloc(r->pool, len);
    if (doc == NULL) {
        ngx_free(job);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_async_primes_json_record(doc, job->id, NGX_ASYNC_PRIMES_ID_LEN,
                                 NGX_ASYNC_PRIMES_STATUS_IN_PROGRESS,
                                 NULL, 0, NULL, 0);

    ctx->document.data = doc;
    ctx->document.len = len;

    job->a = a;
    job->b = b;
    job->ttl = alcf->ttl;
    job->amcf = amcf;
    job->thread_pool = alcf->thread_pool;
    job->state = NGX_HTTP_ASYNC_PRIMES_JOB_STORING;

    job->post.data = job;
    job->post.handler = ngx_http_async_primes_job_post_handler;
    job->post.log = ngx_cycle->log;

    job->refresh.data = job;
    job->refresh.handler = ngx_http_async_primes_job_refresh;
    job->refresh.log = ngx_cycle->log;

    ngx_queue_insert_tail(&amcf->jobs, &job->queue);

    rc = ngx_http_async_primes_job_set(job, doc, len,
                                       ngx_http_async_primes_job_stored);
    if (rc != NGX_OK) {
        ngx_http_async_primes_job_finish(job);
        return ngx_http_async_primes_send_error(r,
                                    NGX_HTTP_SERVICE_UNAVAILABLE,
                                    NGX_HTTP_ASYNC_PRIMES_UNAVAILABLE);
    }

    /* the request waits for the record to be stored */
    job->request = r;
    job->cleanup = cln;
    cln->handler = ngx_http_async_primes_job_request_cleanup;
    cln->data = job;

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_async_primes_job_request_cleanup(void *data)
{
    ngx_http_async_primes_job_t  *job = data;

    /* the job goes on without the request that created it */
    job->request = NULL;
    job->cleanup = NULL;
}


static void
ngx_http_async_primes_job_stored(void *data, redisReply *reply)
{
    ngx_http_async_primes_job_t  *job = data;

    ngx_http_async_primes_ctx_t  *ctx;

    if (ngx_http_async_primes_job_replied(job)) {
        return;
    }

    if (reply == NULL || reply->type != REDIS_REPLY_STATUS) {
        if (reply && reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "async_primes: redis refused job %*s: %s",
                          (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id,
                          reply->str);
        }

        ngx_http_async_primes_job_reply(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    NULL, 0,
                                    NGX_HTTP_ASYNC_PRIMES_UNAVAILABLE);
        ngx_http_async_primes_job_finish(job);
        return;
    }

    /* a full queue is back-pressure: the client is told to come back */
    if (ngx_http_async_primes_job_post(job) == 0) {
        ngx_http_async_primes_job_delete(job);
        ngx_http_async_primes_job_reply(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        NULL, 0,
                                        "too many jobs are queued");
        ngx_http_async_primes_job_finish(job);
        return;
    }

    job->state = NGX_HTTP_ASYNC_PRIMES_JOB_COMPUTING;

    /*
     * Not cancelable: a worker that shuts down gracefully stays until its
     * jobs are written, or given up after a TTL without Redis.
     */
    ngx_add_timer(&job->refresh, job->ttl / 3);

    if (job->posted < job->nparts) {
        ngx_add_timer(&job->post, NGX_HTTP_ASYNC_PRIMES_POST_RETRY);
    }

    if (job->request) {
        ctx = ngx_http_get_module_ctx(job->request,
                                      ngx_http_async_primes_module);

        ngx_http_async_primes_job_reply(job, NGX_HTTP_ACCEPTED,
                                        ctx->document.data,
                                        ctx->document.len, NULL);
    }
}


/* nobody will compute the job: its record must not say otherwise */

static void
ngx_http_async_primes_job_delete(ngx_http_async_primes_job_t *job)
{
    const char  *argv[2];
    size_t       argvlen[2];
    u_char       key[NGX_HTTP_ASYNC_PRIMES_KEY_LEN];

    argv[0] = "DEL";
    argvlen[0] = 3;
    argv[1] = (const char *) key;
    argvlen[1] = ngx_http_async_primes_key(key, job->id);

    (void) ngx_http_async_primes_job_command(job, NULL, 2, argv, argvlen);
}


static void
ngx_http_async_primes_job_reply(ngx_http_async_primes_job_t *job,
    ngx_uint_t status, u_char *body, size_t len, const char *error)
{
    size_t               slash;
    ngx_int_t            rc;
    ngx_table_elt_t     *h;
    ngx_http_request_t  *r;

    r = job->request;

    if (r == NULL) {
        return;
    }

    job->request = NULL;

    if (job->cleanup) {
        job->cleanup->handler = NULL;
        job->cleanup = NULL;
    }

    if (error) {
        rc = ngx_http_async_primes_send_error(r, status, error);
        ngx_http_finalize_request(r, rc);
        return;
    }

    slash = (r->uri.len && r->uri.data[r->uri.len - 1] == '/') ? 0 : 1;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Location");
    h->value.len = r->uri.len + slash + NGX_ASYNC_PRIMES_ID_LEN;
    h->value.data = ngx_pnalloc(r->pool, h->value.len);

    if (h->value.data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_sprintf(h->value.data, "%V%*s%*s", &r->uri, slash, "/",
                (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id);

    /*
     * Not r->headers_out.location: NGINX would make it absolute with the
     * server's own name, which a client behind a proxy cannot use.
     */

    rc = ngx_http_async_primes_send(r, status, body, len);
    ngx_http_finalize_request(r, rc);
}


/*
 * Posts the parts not yet queued, in order; returns how many are queued.
 * Once one part is, the job is accepted and the rest wait for room.
 */

static ngx_uint_t
ngx_http_async_primes_job_post(ngx_http_async_primes_job_t *job)
{
    while (job->posted < job->nparts) {
        if (ngx_thread_task_post(job->thread_pool,
                                 &job->parts[job->posted].task)
            != NGX_OK)
        {
            break;
        }

        job->posted++;
    }

    return job->posted;
}


static void
ngx_http_async_primes_job_post_handler(ngx_event_t *ev)
{
    ngx_http_async_primes_job_t  *job = ev->data;

    if (ngx_http_async_primes_job_post(job) < job->nparts) {
        ngx_add_timer(&job->post, NGX_HTTP_ASYNC_PRIMES_POST_RETRY);
    }
}


static void
ngx_http_async_primes_job_thread(void *data, ngx_log_t *log)
{
    ngx_http_async_primes_part_t  *part = data;

    /* touches nothing but the part's own compute fields */
    part->rc = ngx_async_primes_sum(part->lo, part->hi, &part->sum,
                                    &part->sum_ctx);
}


static void
ngx_http_async_primes_job_computed(ngx_event_t *ev)
{
    int                            rc;
    size_t                         len;
    ngx_uint_t                     i;
    const char                    *error;
    ngx_async_primes_status_e      status;
    ngx_async_primes_uint128_t     sum;
    ngx_http_async_primes_job_t   *job;
    ngx_http_async_primes_part_t  *part;
    char                           payload[NGX_ASYNC_PRIMES_UINT128_LEN];

    part = ev->data;
    job = part->job;

    if (++job->computed < job->nparts) {
        return;
    }

    if (job->refresh.timer_set) {
        ngx_del_timer(&job->refresh);
    }

    rc = NGX_ASYNC_PRIMES_SUM_OK;
    sum = 0;

    for (i = 0; i < job->nparts; i++) {
        if (job->parts[i].rc != NGX_ASYNC_PRIMES_SUM_OK) {
            rc = job->parts[i].rc;
        }

        sum += job->parts[i].sum;
    }

    len = 0;
    error = NULL;

    if (rc == NGX_ASYNC_PRIMES_SUM_OK) {
        status = NGX_ASYNC_PRIMES_STATUS_FINISHED;
        len = ngx_async_primes_uint128_to_decimal(sum, payload);

    } else {
        status = NGX_ASYNC_PRIMES_STATUS_FAILED;
        error = (rc == NGX_ASYNC_PRIMES_SUM_NOMEM)
                ? "the server ran out of memory computing the sum"
                : "the computation was stopped";

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "async_primes: job %*s failed: %s",
                      (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id, error);
    }

    job->doc_len = ngx_async_primes_json_record(job->doc, job->id,
                                       NGX_ASYNC_PRIMES_ID_LEN, status,
                                       len ? (u_char *) payload : NULL, len,
                                       (u_char *) error,
                                       error ? ngx_strlen(error) : 0);

    job->state = NGX_HTTP_ASYNC_PRIMES_JOB_WRITING;
    job->write_deadline = ngx_current_msec + job->ttl;

    job->refresh.handler = ngx_http_async_primes_job_write_handler;

    ngx_http_async_primes_job_write(job);
}


static void
ngx_http_async_primes_job_refresh(ngx_event_t *ev)
{
    const char                   *argv[3];
    size_t                        argvlen[3];
    ngx_http_async_primes_job_t  *job;
    u_char                        key[NGX_HTTP_ASYNC_PRIMES_KEY_LEN];
    u_char                        ttl[NGX_INT_T_LEN];

    job = ev->data;

    argv[0] = "PEXPIRE";
    argvlen[0] = 7;
    argv[1] = (const char *) key;
    argvlen[1] = ngx_http_async_primes_key(key, job->id);
    argv[2] = (const char *) ttl;
    argvlen[2] = ngx_sprintf(ttl, "%M", job->ttl) - ttl;

    /* a failure is retried on the next tick */
    (void) ngx_http_async_primes_job_command(job,
                                        ngx_http_async_primes_job_refreshed,
                                        3, argv, argvlen);

    ngx_add_timer(&job->refresh, job->ttl / 3);
}


static void
ngx_http_async_primes_job_refreshed(void *data, redisReply *reply)
{
    ngx_http_async_primes_job_t  *job = data;

    size_t  len;
    u_char  doc[NGX_HTTP_ASYNC_PRIMES_DOC_LEN];

    if (ngx_http_async_primes_job_replied(job)) {
        return;
    }

    if (job->state != NGX_HTTP_ASYNC_PRIMES_JOB_COMPUTING
        || reply == NULL
        || reply->type != REDIS_REPLY_INTEGER
        || reply->integer != 0)
    {
        return;
    }

    /* the record is gone (a Redis restarted empty): store it again */
    len = ngx_async_primes_json_record(doc, job->id, NGX_ASYNC_PRIMES_ID_LEN,
                                       NGX_ASYNC_PRIMES_STATUS_IN_PROGRESS,
                                       NULL, 0, NULL, 0);

    (void) ngx_http_async_primes_job_set(job, doc, len, NULL);
}


static void
ngx_http_async_primes_job_write(ngx_http_async_primes_job_t *job)
{
    if (ngx_http_async_primes_job_set(job, job->doc, job->doc_len,
                                      ngx_http_async_primes_job_written)
        == NGX_OK)
    {
        return;
    }

    ngx_http_async_primes_job_retry(job);
}


/* a result that cannot be stored within a TTL would have expired anyway */

static void
ngx_http_async_primes_job_retry(ngx_http_async_primes_job_t *job)
{
    if ((ngx_msec_int_t) (job->write_deadline - ngx_current_msec) <= 0) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "async_primes: the result of job %*s is lost: "
                      "redis did not store it within its TTL",
                      (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id);
        ngx_http_async_primes_job_finish(job);
        return;
    }

    if (!job->refresh.timer_set) {
        ngx_add_timer(&job->refresh, NGX_HTTP_ASYNC_PRIMES_WRITE_RETRY);
    }
}


static void
ngx_http_async_primes_job_write_handler(ngx_event_t *ev)
{
    ngx_http_async_primes_job_write(ev->data);
}


static void
ngx_http_async_primes_job_written(void *data, redisReply *reply)
{
    ngx_http_async_primes_job_t  *job = data;

    if (ngx_http_async_primes_job_replied(job)) {
        return;
    }

    if (reply != NULL && reply->type == REDIS_REPLY_STATUS) {
        ngx_http_async_primes_job_finish(job);
        return;
    }

    if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "async_primes: redis refused the result of job %*s: "
                      "%s", (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id,
                      reply->str);
    }

    ngx_http_async_primes_job_retry(job);
}


static ngx_int_t
ngx_http_async_primes_job_set(ngx_http_async_primes_job_t *job, u_char *doc,
    size_t len, ngx_http_async_primes_redis_handler_pt handler)
{
    const char  *argv[5];
    size_t       argvlen[5];
    u_char       key[NGX_HTTP_ASYNC_PRIMES_KEY_LEN];
    u_char       ttl[NGX_INT_T_LEN];

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (const char *) key;
    argvlen[1] = ngx_http_async_primes_key(key, job->id);
    argv[2] = (const char *) doc;
    argvlen[2] = len;
    argv[3] = "PX";
    argvlen[3] = 2;
    argv[4] = (const char *) ttl;
    argvlen[4] = ngx_sprintf(ttl, "%M", job->ttl) - ttl;

    return ngx_http_async_primes_job_command(job, handler, 5, argv, argvlen);
}


/*
 * Every command of a job counts against it, so that the job is freed only
 * once no reply can reach it any more.
 */

static ngx_int_t
ngx_http_async_primes_job_command(ngx_http_async_primes_job_t *job,
    ngx_http_async_primes_redis_handler_pt handler, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_int_t  rc;

    rc = ngx_http_async_primes_redis_command(&job->amcf->redis,
                                     handler ? handler
                                             : ngx_http_async_primes_job_none,
                                     job, NULL, argc, argv, argvlen);
    if (rc == NGX_OK) {
        job->commands++;
    }

    return rc;
}


static void
ngx_http_async_primes_job_none(void *data, redisReply *reply)
{
    (void) ngx_http_async_primes_job_replied(data);
}


/* returns 1 if the job has ended and the reply is not for it any more */

static ngx_uint_t
ngx_http_async_primes_job_replied(ngx_http_async_primes_job_t *job)
{
    job->commands--;

    if (!job->finished) {
        return 0;
    }

    if (job->commands == 0) {
        ngx_http_async_primes_job_free(job);
    }

    return 1;
}


static void
ngx_http_async_primes_job_finish(ngx_http_async_primes_job_t *job)
{
    if (job->finished) {
        return;
    }

    job->finished = 1;

    if (job->refresh.timer_set) {
        ngx_del_timer(&job->refresh);
    }

    if (job->post.timer_set) {
        ngx_del_timer(&job->post);
    }

    if (job->commands == 0) {
        ngx_http_async_primes_job_free(job);
    }
}


static void
ngx_http_async_primes_job_free(ngx_http_async_primes_job_t *job)
{
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "async_primes: job %*s freed",
                   (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id);

    if (job->cleanup) {
        job->cleanup->handler = NULL;
    }

    ngx_queue_remove(&job->queue);
    ngx_free(job);
}


void
ngx_http_async_primes_jobs_exit(ngx_http_async_primes_main_conf_t *amcf)
{
    ngx_uint_t                    n;
    ngx_queue_t                  *q;
    ngx_http_async_primes_job_t  *job;

    n = 0;

    while (!ngx_queue_empty(&amcf->jobs)) {
        q = ngx_queue_head(&amcf->jobs);
        job = ngx_queue_data(q, ngx_http_async_primes_job_t, queue);

        if (!job->finished) {
            n++;
        }

        if (job->refresh.timer_set) {
            ngx_del_timer(&job->refresh);
        }

        if (job->post.timer_set) {
            ngx_del_timer(&job->post);
        }

        ngx_http_async_primes_job_free(job);
    }

    if (n) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "async_primes: %ui unfinished jobs abandoned on exit",
                      n);
    }
}
