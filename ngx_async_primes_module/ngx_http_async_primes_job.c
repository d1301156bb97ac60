
/*
 * Copyright (C) The ngx_async_primes authors
 */


/*
 * The life of a job: its IN_PROGRESS record is stored (STORING), the 202
 * goes out and the sum is computed in a thread pool (COMPUTING) while a
 * timer renews the worker's lease on the record, then the result is written
 * (WRITING) and the job is freed.  A worker that finds a lease expired when
 * it serves a poll takes the job over (TAKING) and computes it again.
 * Every way a job ends goes through ngx_http_async_primes_job_finish().
 *
 * Whoever holds the lease is named in the record by a random token.  The
 * renewal, the takeover and the final write are Lua scripts, so that each
 * reads and writes the record in one atomic step: two workers never both
 * win a takeover, and a worker that lost its lease (paused, cut off from
 * Redis) never writes over the record of the one that took it.  A job that
 * ends within the first half of its lease cannot have lost it: its result
 * is written with a plain SET.
 */


#include "ngx_http_async_primes.h"


/* how often parts waiting for room try a pool full of others' tasks */
#define NGX_HTTP_ASYNC_PRIMES_POST_RETRY   1000

/* how long a tiny job may compute before its record in progress is stored */
#define NGX_HTTP_ASYNC_PRIMES_EARLY_WAIT   2

/*
 * A part estimated below this many microseconds is tiny: it may ride on
 * the task of another, at most NGX_HTTP_ASYNC_PRIMES_MAX_RIDERS on one.
 */
#define NGX_HTTP_ASYNC_PRIMES_TINY_WORK    100
#define NGX_HTTP_ASYNC_PRIMES_MAX_RIDERS   16

/* the riders of a task whose thread has taken them */
#define NGX_HTTP_ASYNC_PRIMES_PART_CLOSED  ((ngx_http_async_primes_part_t *) -1)

/* a job's progress reaches its record at least this often */
#define NGX_HTTP_ASYNC_PRIMES_PROGRESS_EVERY  1000


static ngx_http_async_primes_job_t *ngx_http_async_primes_job_create(
    ngx_http_async_primes_main_conf_t *amcf,
    ngx_http_async_primes_loc_conf_t *alcf, ngx_log_t *log, uint64_t a,
    uint64_t b, ngx_str_t *idem);
static void ngx_http_async_primes_job_known(ngx_http_async_primes_job_t *job,
    redisReply *reply);
static void ngx_http_async_primes_job_answer(ngx_http_async_primes_job_t *job,
    ngx_uint_t status, ngx_async_primes_status_e state, u_char *payload,
    size_t len);
static void ngx_http_async_primes_job_request_cleanup(void *data);
static void ngx_http_async_primes_job_stored(void *data, redisReply *reply);
static ngx_int_t ngx_http_async_primes_job_store(
    ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_early_timeout(ngx_event_t *ev);
static void ngx_http_async_primes_job_unstored(
    ngx_http_async_primes_job_t *job, redisReply *reply);
static void ngx_http_async_primes_job_early_written(void *data,
    redisReply *reply);
static void ngx_http_async_primes_job_landed(
    ngx_http_async_primes_job_t *job, ngx_uint_t first);
static void ngx_http_async_primes_job_accepted(
    ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_respond(ngx_event_t *ev);
static void ngx_http_async_primes_job_taken(void *data, redisReply *reply);
static void ngx_http_async_primes_job_run(ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_delete(
    ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_reply(ngx_http_async_primes_job_t *job,
    ngx_uint_t status, u_char *body, size_t len, const char *error);
static ngx_uint_t ngx_http_async_primes_job_post(
    ngx_http_async_primes_job_t *job);
static ngx_int_t ngx_http_async_primes_job_post_parts(
    ngx_http_async_primes_job_t *job, ngx_uint_t n);
static void ngx_http_async_primes_job_wait(ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_unwait(
    ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_pool_room(
    ngx_http_async_primes_pool_t *pool);
static void ngx_http_async_primes_pool_retry(ngx_event_t *ev);
static void ngx_http_async_primes_pool_full(
    ngx_http_async_primes_pool_t *pool);
static void ngx_http_async_primes_pool_flush(ngx_event_t *ev);
static void ngx_http_async_primes_part_unpost(
    ngx_http_async_primes_part_t *part);
static ngx_int_t ngx_http_async_primes_part_ride(
    ngx_http_async_primes_pool_t *pool, ngx_http_async_primes_part_t *part);
static void ngx_http_async_primes_job_thread(void *data, ngx_log_t *log);
static void ngx_http_async_primes_part_compute(
    ngx_http_async_primes_part_t *part);
static void ngx_http_async_primes_job_computed(ngx_event_t *ev);
static void ngx_http_async_primes_part_computed(
    ngx_http_async_primes_part_t *part);
static void ngx_http_async_primes_job_completed(
    ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_stop(ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_cancel(ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_cancelled(void *data,
    redisReply *reply);
static void ngx_http_async_primes_job_refresh(ngx_event_t *ev);
static void ngx_http_async_primes_job_refreshed(void *data,
    redisReply *reply);
static void ngx_http_async_primes_job_write(ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_retry(ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_write_handler(ngx_event_t *ev);
static void ngx_http_async_primes_job_written(void *data, redisReply *reply);
static ngx_msec_t ngx_http_async_primes_job_tick(
    ngx_http_async_primes_job_t *job);
static ngx_uint_t ngx_http_async_primes_job_progress(
    ngx_http_async_primes_job_t *job);
static ngx_int_t ngx_http_async_primes_job_sent(
    ngx_http_async_primes_job_t *job, ngx_int_t rc);
static void ngx_http_async_primes_job_none(void *data, redisReply *reply);
static ngx_uint_t ngx_http_async_primes_job_replied(
    ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_finish(ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_release(
    ngx_http_async_primes_job_t *job);
static void ngx_http_async_primes_job_free(ngx_http_async_primes_job_t *job);


/* the worker's view of a thread pool, one per pool however many use it */

ngx_http_async_primes_pool_t *
ngx_http_async_primes_pool_add(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_uint_t                          i;
    ngx_thread_pool_t                  *tp;
    ngx_http_async_primes_pool_t       *pool, **pools;
    ngx_http_async_primes_main_conf_t  *amcf;

    /* an undeclared pool fails "nginx -t" there, naming the line */
    tp = ngx_thread_pool_add(cf, name);
    if (tp == NULL) {
        return NULL;
    }

    amcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_async_primes_module);

    pools = amcf->pools.elts;

    for (i = 0; i < amcf->pools.nelts; i++) {
        if (pools[i]->thread_pool == tp) {
            return pools[i];
        }
    }

    pool = ngx_pcalloc(cf->pool, sizeof(ngx_http_async_primes_pool_t));
    if (pool == NULL) {
        return NULL;
    }

    pools = ngx_array_push(&amcf->pools);
    if (pools == NULL) {
        return NULL;
    }

    *pools = pool;

    pool->thread_pool = tp;
    pool->name = *name;
    pool->capacity = NGX_CONF_UNSET_UINT;
    ngx_queue_init(&pool->waiting);

    /*
     * The new cycle's log: while the configuration is read, cycle->log is
     * still the old cycle's, freed after a reload.
     */

    pool->retry.handler = ngx_http_async_primes_pool_retry;
    pool->retry.data = pool;
    pool->retry.log = &cf->cycle->new_log;
    pool->retry.cancelable = 1;

    pool->flush.handler = ngx_http_async_primes_pool_flush;
    pool->flush.data = pool;
    pool->flush.log = &cf->cycle->new_log;

    return pool;
}


/* the wall clock in ms: leases and expected ends are compared across hosts */

uint64_t
ngx_http_async_primes_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


ngx_int_t
ngx_http_async_primes_job_start(ngx_http_request_t *r, uint64_t a,
    uint64_t b, ngx_str_t *idem)
{
    size_t                              len;
    u_char                             *doc;
    ngx_int_t                           rc;
    ngx_uint_t                          early;
    ngx_pool_cleanup_t                 *cln;
    ngx_http_async_primes_ctx_t        *ctx;
    ngx_http_async_primes_job_t        *job;
    ngx_http_async_primes_loc_conf_t   *alcf;
    ngx_http_async_primes_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_async_primes_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_async_primes_module);

    if (amcf->redis.ctx == NULL) {
        ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_REFUSED_REDIS_DOWN);
        return ngx_http_async_primes_send_error(r,
                                    NGX_HTTP_SERVICE_UNAVAILABLE,
                                    NGX_HTTP_ASYNC_PRIMES_UNAVAILABLE);
    }

    if (amcf->njobs >= amcf->max_jobs) {
        ngx_http_async_primes_count(
                                NGX_HTTP_ASYNC_PRIMES_REFUSED_TOO_MANY_JOBS);
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "async_primes: %ui jobs are pending in this worker, "
                      "the most async_primes_max_jobs allows",
                      amcf->njobs);

        return ngx_http_async_primes_send_error(r,
                                    NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "too many jobs are pending");
    }

    ctx = ngx_http_async_primes_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job = ngx_http_async_primes_job_create(amcf, alcf, r->connection->log,
                                           a, b, idem);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_async_primes_id_generate(job->id) != 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "async_primes: RAND_bytes() failed");
        ngx_http_async_primes_job_free(job);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "async_primes: job %*s in %ui parts%s",
                   (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id, job->nparts,
                   job->plan ? " sharing one computation" : "");

    len = ngx_async_primes_json_record(NULL, job->id, NGX_ASYNC_PRIMES_ID_LEN,
                                       NGX_ASYNC_PRIMES_STATUS_IN_PROGRESS,
                                       NULL, 0, NULL, 0);

    doc = ngx_pnalloc(r->pool, len);
    if (doc == NULL) {
        ngx_http_async_primes_job_free(job);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_async_primes_json_record(doc, job->id, NGX_ASYNC_PRIMES_ID_LEN,
                                 NGX_ASYNC_PRIMES_STATUS_IN_PROGRESS,
                                 NULL, 0, NULL, 0);

    ctx->document.data = doc;
    ctx->document.len = len;

    /*
     * A tiny job is computed first, and its final record is its only
     * write: the 202 still comes only once the record is in Redis.  When
     * the pool does not give it back at once, the record in progress is
     * stored as for any job.
     */
    early = (job->nparts == 1
             && !job->idem.len
             && !job->reuse
             && !job->parts[0].lower);

    if (early) {
        /* before posting: the part's task is posted at the cycle's end */
        job->state = NGX_HTTP_ASYNC_PRIMES_JOB_EARLY;
        early = (ngx_http_async_primes_job_post(job) == 1);
    }

    if (early) {
        job->started = ngx_current_msec;

        job->refresh.handler = ngx_http_async_primes_job_early_timeout;
        ngx_add_timer(&job->refresh, NGX_HTTP_ASYNC_PRIMES_EARLY_WAIT);

        rc = NGX_OK;

    } else {
        rc = ngx_http_async_primes_job_store(job);
    }

    if (rc != NGX_OK) {
        ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_REFUSED_REDIS_DOWN);
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


/* the record in progress of a new job, before its 202 */

static ngx_int_t
ngx_http_async_primes_job_store(ngx_http_async_primes_job_t *job)
{
    job->state = NGX_HTTP_ASYNC_PRIMES_JOB_STORING;

    return ngx_http_async_primes_job_sent(job,
                 ngx_http_async_primes_store_submit(job,
                                            ngx_http_async_primes_job_stored));
}


/* a tiny job the pool has not given back at once: stored as any other */

static void
ngx_http_async_primes_job_early_timeout(ngx_event_t *ev)
{
    ngx_http_async_primes_job_t  *job = ev->data;

    job->refresh.handler = ngx_http_async_primes_job_refresh;

    if (ngx_http_async_primes_job_store(job) != NGX_OK) {
        ngx_http_async_primes_job_unstored(job, NULL);
    }
}


/* Redis did not take the new job: its submit gets a 503, and it ends */

static void
ngx_http_async_primes_job_unstored(ngx_http_async_primes_job_t *job,
    redisReply *reply)
{
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "async_primes: redis refused job %*s: %s",
                      (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id, reply->str);
    }

    ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_REFUSED_REDIS_DOWN);
    ngx_http_async_primes_job_reply(job, NGX_HTTP_SERVICE_UNAVAILABLE, NULL,
                                    0, NGX_HTTP_ASYNC_PRIMES_UNAVAILABLE);
    ngx_http_async_primes_job_finish(job);
}


/*
 * Called by a poll that found the lease of a job in progress expired: its
 * worker died, stopped or lost Redis.  The poll is answered at once; the
 * job is computed here if this worker wins the lease.
 */

void
ngx_http_async_primes_job_takeover(ngx_http_request_t *r, const u_char *id,
    ngx_async_primes_record_t *rec)
{
    ngx_queue_t                        *q;
    ngx_http_async_primes_job_t        *job;
    ngx_http_async_primes_loc_conf_t   *alcf;
    ngx_http_async_primes_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_async_primes_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_async_primes_module);

    if (amcf->njobs >= amcf->max_jobs) {
        return;
    }

    /* the range comes from Redis: this location's budget still applies */
    if (ngx_async_primes_sum_cost(rec->a, rec->b) / 1000 > alcf->max_work) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "async_primes: job %*s is not taken over: "
                      "[%uL, %uL] is over async_primes_max_work here",
                      (size_t) NGX_ASYNC_PRIMES_ID_LEN, id, rec->a, rec->b);
        return;
    }

    /* one attempt at a time per worker; other workers race in Redis */
    for (q = ngx_queue_head(&amcf->jobs);
         q != ngx_queue_sentinel(&amcf->jobs);
         q = ngx_queue_next(q))
    {
        job = ngx_queue_data(q, ngx_http_async_primes_job_t, queue);

        if (ngx_memcmp(job->id, id, NGX_ASYNC_PRIMES_ID_LEN) == 0) {
            return;
        }
    }

    job = ngx_http_async_primes_job_create(amcf, alcf, r->connection->log,
                                           rec->a, rec->b, NULL);
    if (job == NULL) {
        return;
    }

    ngx_memcpy(job->id, id, NGX_ASYNC_PRIMES_ID_LEN);

    job->state = NGX_HTTP_ASYNC_PRIMES_JOB_TAKING;

    if (ngx_http_async_primes_job_sent(job,
                  ngx_http_async_primes_store_takeover(job,
                                             ngx_http_async_primes_job_taken))
        != NGX_OK)
    {
        ngx_http_async_primes_job_finish(job);
    }
}


static ngx_http_async_primes_job_t *
ngx_http_async_primes_job_create(ngx_http_async_primes_main_conf_t *amcf,
    ngx_http_async_primes_loc_conf_t *alcf, ngx_log_t *log, uint64_t a,
    uint64_t b, ngx_str_t *idem)
{
    size_t                         size;
    uint64_t                       cost;
    uint64_t                       lo[NGX_HTTP_ASYNC_PRIMES_MAX_PARTS];
    uint64_t                       hi[NGX_HTTP_ASYNC_PRIMES_MAX_PARTS];
    ngx_uint_t                     i, nparts, shared;
    ngx_http_async_primes_job_t   *job;
    ngx_http_async_primes_part_t  *part;
    ngx_async_primes_sum_plan_t   *plan;

    nparts = ngx_async_primes_sum_split(a, b, alcf->job_threads, lo, hi);

    if (nparts == 0 || nparts > alcf->job_threads) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "async_primes: the engine split [%uL, %uL] into %ui "
                      "parts", a, b, nparts);
        nparts = 1;
        lo[0] = a;
        hi[0] = b;
    }

    /* a range not split may still be shared by threads */

    plan = NULL;
    shared = 1;

    if (nparts == 1) {
        shared = ngx_async_primes_sum_shared(a, b, alcf->job_threads);
    }

    if (shared > 1 && shared <= alcf->job_threads) {
        plan = ngx_async_primes_sum_plan(a, b, shared);

        if (plan == NULL) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "async_primes: no memory to share [%uL, %uL] "
                          "between threads, computed by one", a, b);

        } else {
            nparts = shared;

            for (i = 0; i < nparts; i++) {
                lo[i] = a;
                hi[i] = b;
            }
        }
    }

    /*
     * The job and its parts, in one allocation freed in one place; the
     * parts hold 128-bit sums, aligned as malloc() aligns.
     */
    size = ngx_align(sizeof(ngx_http_async_primes_job_t),
                     __alignof__(ngx_http_async_primes_part_t));

    job = ngx_calloc(size + nparts * sizeof(ngx_http_async_primes_part_t)
                     + (idem ? idem->len : 0), log);
    if (job == NULL) {
        ngx_async_primes_sum_plan_free(plan);
        return NULL;
    }

    job->parts = (ngx_http_async_primes_part_t *) ((u_char *) job + size);
    job->nparts = nparts;
    job->plan = plan;

    if (idem && idem->len) {
        job->idem.data = (u_char *) (job->parts + nparts);
        job->idem.len = idem->len;
        ngx_memcpy(job->idem.data, idem->data, idem->len);
    }

    /* the estimate is of one core's microseconds; the parts run at once */
    cost = ngx_async_primes_sum_cost(a, b) / nparts;

    for (i = 0; i < nparts; i++) {
        part = &job->parts[i];

        part->job = job;
        part->lo = lo[i];
        part->hi = hi[i];
        part->plan = plan;
        part->lower = (cost >= NGX_HTTP_ASYNC_PRIMES_LOWER_WORK);
        part->tiny = (nparts == 1 && cost < NGX_HTTP_ASYNC_PRIMES_TINY_WORK);
        part->priority = amcf->compute_priority;

        part->task.ctx = part;
        part->task.handler = ngx_http_async_primes_job_thread;
        part->task.event.data = part;
        part->task.event.handler = ngx_http_async_primes_job_computed;
        part->task.event.log = ngx_cycle->log;
    }

    if (ngx_async_primes_id_generate(job->owner) != 0) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "async_primes: RAND_bytes() failed");
        ngx_async_primes_sum_plan_free(plan);
        ngx_free(job);
        return NULL;
    }

    job->a = a;
    job->b = b;
    job->ttl = alcf->ttl;
    job->reuse = alcf->reuse;
    job->lease = alcf->job_lease;
    job->leased = ngx_current_msec;
    job->eta = ngx_http_async_primes_now() + cost / 1000;
    job->amcf = amcf;
    job->pool = alcf->pool;

    job->refresh.data = job;
    job->refresh.handler = ngx_http_async_primes_job_refresh;
    job->refresh.log = ngx_cycle->log;

    ngx_queue_insert_tail(&amcf->jobs, &job->queue);
    amcf->njobs++;

    ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_IN_FLIGHT);

    return job;
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

    ngx_msec_int_t                left;
    ngx_http_async_primes_ctx_t  *ctx;

    if (ngx_http_async_primes_job_replied(job)) {
        return;
    }

    if (reply != NULL
        && reply->type == REDIS_REPLY_ARRAY
        && reply->elements >= 1
        && reply->element[0]->type == REDIS_REPLY_INTEGER
        && reply->element[0]->integer != 0)
    {
        ngx_http_async_primes_job_known(job, reply);
        return;
    }

    if (reply == NULL
        || (reply->type != REDIS_REPLY_STATUS
            && reply->type != REDIS_REPLY_ARRAY))
    {
        ngx_http_async_primes_job_unstored(job, reply);
        return;
    }

    /* a full queue is back-pressure: the client is told to come back */
    if (ngx_http_async_primes_job_post(job) == 0) {
        ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_REFUSED_QUEUE_FULL);
        ngx_http_async_primes_job_delete(job);
        ngx_http_async_primes_job_reply(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        NULL, 0,
                                        "too many jobs are queued");
        ngx_http_async_primes_job_finish(job);
        return;
    }

    ngx_http_async_primes_job_run(job);

    ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_SUBMITTED);

    /*
     * A tiny job computed while its record was stored writes it now (its
     * computing time was taken then); the job is not freed in here: it
     * waits for the reply of its write.
     */
    if (job->ready) {
        ngx_http_async_primes_job_completed(job);
        job->ready = 0;
    }

    if (job->request == NULL) {
        return;
    }

    ctx = ngx_http_get_module_ctx(job->request, ngx_http_async_primes_module);

    left = (ngx_msec_int_t) (ctx->wait_end - ngx_current_msec);

    /* "Prefer: wait=N": the answer waits for the result, for N at most */
    if (ctx->wait_end && left > 0) {
        ctx->prefer_held = 1;
        job->held = 1;

        job->respond.handler = ngx_http_async_primes_job_respond;
        job->respond.data = job;
        job->respond.log = ngx_cycle->log;
        job->respond.cancelable = 1;

        ngx_add_timer(&job->respond, (ngx_msec_t) left);
        return;
    }

    ngx_http_async_primes_job_accepted(job);
}


/* the 202 of a submit, with the record in progress */

static void
ngx_http_async_primes_job_accepted(ngx_http_async_primes_job_t *job)
{
    ngx_http_async_primes_ctx_t  *ctx;

    if (job->request == NULL) {
        return;
    }

    ctx = ngx_http_get_module_ctx(job->request, ngx_http_async_primes_module);

    ngx_http_async_primes_job_reply(job, NGX_HTTP_ACCEPTED,
                                    ctx->document.data, ctx->document.len,
                                    NULL);
}


static void
ngx_http_async_primes_job_respond(ngx_event_t *ev)
{
    ngx_http_async_primes_job_accepted(ev->data);
}


/*
 * The submit script found the job known: its Idempotency-Key was used
 * before (the answer is that job's, or 422 for another range), or its sum
 * is stored (the answer is the new record, final at once).  Nothing is
 * computed.
 */

static void
ngx_http_async_primes_job_known(ngx_http_async_primes_job_t *job,
    redisReply *reply)
{
    u_char       *p, *last;
    uint64_t      a, b;
    redisReply   *known;

    known = (reply->elements == 2) ? reply->element[1] : NULL;

    if (known == NULL || known->type != REDIS_REPLY_STRING) {
        goto malformed;
    }

    p = (u_char *) known->str;
    last = p + known->len;

    if (reply->element[0]->integer == 2) {

        /* the sum stored by a job of the same range */
        if (known->len == 0 || known->len > NGX_ASYNC_PRIMES_UINT128_LEN) {
            goto malformed;
        }

        for ( /* void */ ; p < last; p++) {
            if (*p < '0' || *p > '9') {
                goto malformed;
            }
        }

        /* the record the script stored, a TTL from when it was sent */
        if (job->amcf->cache) {
            job->doc_len = ngx_async_primes_json_record(job->doc, job->id,
                                            NGX_ASYNC_PRIMES_ID_LEN,
                                            NGX_ASYNC_PRIMES_STATUS_FINISHED,
                                            (u_char *) known->str,
                                            known->len, NULL, 0);

            ngx_http_async_primes_cache_put(job->amcf, job->id, job->doc,
                                            job->doc_len,
                                            job->leased + job->ttl, 1);
        }

        ngx_http_async_primes_job_answer(job, NGX_HTTP_OK,
                                         NGX_ASYNC_PRIMES_STATUS_FINISHED,
                                         (u_char *) known->str, known->len);
        ngx_http_async_primes_job_finish(job);
        return;
    }

    /* "<requestId> <a> <b>", kept by the first submit with this key */

    if (known->len < NGX_ASYNC_PRIMES_ID_LEN + 4
        || !ngx_async_primes_id_valid(p, NGX_ASYNC_PRIMES_ID_LEN)
        || p[NGX_ASYNC_PRIMES_ID_LEN] != ' ')
    {
        goto malformed;
    }

    p += NGX_ASYNC_PRIMES_ID_LEN + 1;

    if (ngx_async_primes_record_range(p, last - p, &a, &b) != 0) {
        goto malformed;
    }

    if (a != job->a || b != job->b) {
        ngx_http_async_primes_job_reply(job,
                                    NGX_HTTP_ASYNC_PRIMES_UNPROCESSABLE,
                                    NULL, 0,
                                    "the Idempotency-Key was used for "
                                    "another job: send it with the same a "
                                    "and b, or use a new key");
        ngx_http_async_primes_job_finish(job);
        return;
    }

    ngx_memcpy(job->id, known->str, NGX_ASYNC_PRIMES_ID_LEN);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "async_primes: a retry of job %*s",
                   (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id);

    ngx_http_async_primes_job_answer(job, NGX_HTTP_ACCEPTED,
                                     NGX_ASYNC_PRIMES_STATUS_IN_PROGRESS,
                                     NULL, 0);
    ngx_http_async_primes_job_finish(job);
    return;

malformed:

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "async_primes: redis kept a malformed value for the "
                  "idempotency key or the sum of job %*s",
                  (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id);

    ngx_http_async_primes_job_reply(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    NULL, 0,
                                    "the job store (redis) answered with "
                                    "an error");
    ngx_http_async_primes_job_finish(job);
}


/*
 * Answers with a record of the job written here: in the request's pool,
 * since the job is freed before the response may have gone out.
 */

static void
ngx_http_async_primes_job_answer(ngx_http_async_primes_job_t *job,
    ngx_uint_t status, ngx_async_primes_status_e state, u_char *payload,
    size_t len)
{
    size_t   n;
    u_char  *doc;

    if (job->request == NULL) {
        return;
    }

    n = ngx_async_primes_json_record(NULL, job->id, NGX_ASYNC_PRIMES_ID_LEN,
                                     state, payload, len, NULL, 0);

    doc = ngx_pnalloc(job->request->pool, n);
    if (doc == NULL) {
        ngx_http_async_primes_job_reply(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                        NULL, 0, "internal server error");
        return;
    }

    ngx_async_primes_json_record(doc, job->id, NGX_ASYNC_PRIMES_ID_LEN,
                                 state, payload, len, NULL, 0);

    ngx_http_async_primes_job_reply(job, status, doc, n, NULL);
}


static void
ngx_http_async_primes_job_taken(void *data, redisReply *reply)
{
    ngx_http_async_primes_job_t  *job = data;

    if (ngx_http_async_primes_job_replied(job)) {
        return;
    }

    if (reply != NULL
        && reply->type == REDIS_REPLY_ARRAY
        && reply->elements == 2
        && reply->element[0]->type == REDIS_REPLY_INTEGER
        && reply->element[1]->type == REDIS_REPLY_INTEGER)
    {
        /*
         * Redis's clock: a poll compares leases with it, so that a host
         * whose clock is ahead does not try a takeover at every poll.
         */
        job->amcf->clock_ahead = (int64_t) ngx_http_async_primes_now()
                                 - reply->element[1]->integer;

        if (reply->element[0]->integer == 1) {
            goto taken;
        }

        /* expired on a job to cancel: cancelled instead of computed */
        if (reply->element[0]->integer == 3) {
            (void) ngx_http_async_primes_job_sent(job,
                         ngx_http_async_primes_store_cancel(job->amcf,
                                          job->id, job->ttl,
                                          ngx_http_async_primes_job_cancelled,
                                          job, NULL));
        }

    } else if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "async_primes: redis refused the takeover of job "
                      "%*s: %s", (size_t) NGX_ASYNC_PRIMES_ID_LEN,
                      job->id, reply->str);
    }

    /* another worker was first, or the job has ended meanwhile */
    ngx_http_async_primes_job_finish(job);
    return;

taken:

    ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_TAKEN_OVER);

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "async_primes: job %*s taken over: the lease of the "
                  "worker computing it had expired",
                  (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id);

    /* the job is this worker's now: a full queue only delays it */
    (void) ngx_http_async_primes_job_post(job);

    ngx_http_async_primes_job_run(job);
}


static void
ngx_http_async_primes_job_run(ngx_http_async_primes_job_t *job)
{
    job->state = NGX_HTTP_ASYNC_PRIMES_JOB_COMPUTING;

    /* a tiny job that was computing before its record: from then */
    if (job->started == 0) {
        job->started = ngx_current_msec;
    }

    /*
     * Not cancelable: a worker that shuts down gracefully stays until its
     * jobs are written, or given up after a TTL without Redis, or until
     * worker_shutdown_timeout.
     */
    ngx_add_timer(&job->refresh, ngx_http_async_primes_job_tick(job));

    if (job->posted < job->nparts) {
        ngx_http_async_primes_job_wait(job);
    }
}


/* nobody will compute the job: its record must not say otherwise */

static void
ngx_http_async_primes_job_delete(ngx_http_async_primes_job_t *job)
{
    (void) ngx_http_async_primes_job_sent(job,
                 ngx_http_async_primes_store_delete(job,
                                            ngx_http_async_primes_job_none));
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

    if (ngx_http_async_primes_preference_applied(r, status) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (status == NGX_HTTP_ACCEPTED
        && ngx_http_async_primes_retry_after(r, job->eta,
                                             ngx_http_async_primes_now())
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

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
    (void) ngx_http_async_primes_job_post_parts(job, job->nparts);

    return job->posted;
}


/*
 * Posts at most n more parts; NGX_AGAIN once the pool has no room.
 *
 * A tiny part costs its thread less than being handed to it and back: it
 * rides on the task of the last tiny part made a task, if that task's
 * thread has not taken its riders yet, and costs no task and no slot in
 * the pool's queue.  Such a task is posted at the end of the event loop's
 * cycle, so that the tiny submits of the cycle ride on it: they share a
 * wake-up of the thread and a completion event.  Only for a job not yet
 * stored: refused there, it is stored and refused as any other, and a
 * job whose 202 is on its way is never refused.
 *
 * NGINX logs every task its queue refuses, at error.  So the worker learns
 * from a refusal how many of its tasks the pool holds (those queued and
 * running, and those done whose completion has not been handled yet), and
 * posts no more than that until one completes: NGINX is asked, and refuses,
 * once per episode, not once per submit.  What was learned is forgotten
 * once none of the worker's tasks is in the pool.
 */

static ngx_int_t
ngx_http_async_primes_job_post_parts(ngx_http_async_primes_job_t *job,
    ngx_uint_t n)
{
    ngx_http_async_primes_part_t  *part;
    ngx_http_async_primes_pool_t  *pool;

    pool = job->pool;

    for ( /* void */ ; n && job->posted < job->nparts; n--) {

        part = &job->parts[job->posted];

        if (part->tiny
            && ngx_http_async_primes_part_ride(pool, part) == NGX_OK)
        {
            job->posted++;
            ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_TASKS);
            continue;
        }

        /* a carrier with all the riders it takes goes now */
        if (part->tiny && pool->flush.posted
            && job->state == NGX_HTTP_ASYNC_PRIMES_JOB_EARLY)
        {
            ngx_delete_posted_event(&pool->flush);
            ngx_http_async_primes_pool_flush(&pool->flush);
        }

        if (pool->capacity != NGX_CONF_UNSET_UINT
            && pool->tasks >= pool->capacity)
        {
            return NGX_AGAIN;
        }

        if (part->tiny && job->state == NGX_HTTP_ASYNC_PRIMES_JOB_EARLY) {
            part->riders = NULL;
            part->taken = NULL;

            pool->carrier = part;
            pool->riders = 0;
            ngx_post_event(&pool->flush, &ngx_posted_events);

            job->posted++;
            pool->tasks++;

            ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_TASKS);
            continue;
        }

        if (ngx_thread_task_post(pool->thread_pool, &part->task) != NGX_OK) {
            ngx_http_async_primes_pool_full(pool);
            return NGX_AGAIN;
        }

        job->posted++;
        pool->tasks++;

        ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_TASKS);
    }

    return NGX_OK;
}


/* the job waits in its pool's queue to post the rest of its parts */

static void
ngx_http_async_primes_job_wait(ngx_http_async_primes_job_t *job)
{
    ngx_http_async_primes_pool_t  *pool;

    if (job->waiting) {
        return;
    }

    pool = job->pool;

    job->waiting = 1;
    ngx_queue_insert_tail(&pool->waiting, &job->wait);

    /* with no task of this worker in the pool, no completion wakes it */
    if (pool->tasks == 0 && !pool->retry.timer_set) {
        ngx_add_timer(&pool->retry, NGX_HTTP_ASYNC_PRIMES_POST_RETRY);
    }
}


static void
ngx_http_async_primes_job_unwait(ngx_http_async_primes_job_t *job)
{
    if (job->waiting) {
        job->waiting = 0;
        ngx_queue_remove(&job->wait);
    }
}


/*
 * A task of this worker has left the pool: room for the parts of the jobs
 * waiting, in order.
 */

static void
ngx_http_async_primes_pool_room(ngx_http_async_primes_pool_t *pool)
{
    ngx_uint_t                    before;
    ngx_queue_t                  *q;
    ngx_http_async_primes_job_t  *job;

    if (pool->tasks == 0) {
        pool->capacity = NGX_CONF_UNSET_UINT;
    }

    while (!ngx_queue_empty(&pool->waiting)) {
        q = ngx_queue_head(&pool->waiting);
        job = ngx_queue_data(q, ngx_http_async_primes_job_t, wait);

        before = job->posted;

        if (ngx_http_async_primes_job_post_parts(job, job->nparts)
            == NGX_OK)
        {
            ngx_http_async_primes_job_unwait(job);
            continue;
        }

        if (job->posted == before && pool->tasks == 0) {
            /* the pool is full of other modules' tasks: retried later */
            if (!pool->retry.timer_set) {
                ngx_add_timer(&pool->retry,
                              NGX_HTTP_ASYNC_PRIMES_POST_RETRY);
            }
        }

        break;
    }
}


static void
ngx_http_async_primes_pool_retry(ngx_event_t *ev)
{
    ngx_http_async_primes_pool_t  *pool = ev->data;

    pool->capacity = NGX_CONF_UNSET_UINT;

    ngx_http_async_primes_pool_room(pool);
}


/* the pool refused a task: it holds as many of this worker's as it can */

static void
ngx_http_async_primes_pool_full(ngx_http_async_primes_pool_t *pool)
{
    if (pool->capacity == NGX_CONF_UNSET_UINT) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "async_primes: thread pool \"%V\" is full with %ui "
                      "tasks of this worker: submits get 503 and parts wait "
                      "until a task ends", &pool->name, pool->tasks);
    }

    pool->capacity = pool->tasks;
}


/*
 * The end of the cycle: the carrier's task goes to the pool.  Refused, the
 * carrier and its riders, none of them stored yet, are not posted after
 * all: each is stored when its wait for the pool ends, and refused then
 * if the pool has no room still.
 */

static void
ngx_http_async_primes_pool_flush(ngx_event_t *ev)
{
    ngx_http_async_primes_pool_t  *pool = ev->data;

    ngx_http_async_primes_part_t  *carrier, *rider, *next;

    carrier = pool->carrier;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "async_primes: a task of %ui tiny parts for pool \"%V\"",
                   pool->riders + 1, &pool->name);

    if (ngx_thread_task_post(pool->thread_pool, &carrier->task) == NGX_OK) {
        return;
    }

    pool->tasks--;
    pool->carrier = NULL;

    ngx_http_async_primes_pool_full(pool);

    /*
     * No thread has seen the carrier: its riders are the event loop's, and
     * its part, posted again later, must not carry them.
     */

    rider = carrier->riders;
    carrier->riders = NULL;

    ngx_http_async_primes_part_unpost(carrier);

    while (rider != NULL) {
        next = rider->next;
        ngx_http_async_primes_part_unpost(rider);
        rider = next;
    }
}


static void
ngx_http_async_primes_part_unpost(ngx_http_async_primes_part_t *part)
{
    ngx_http_async_primes_job_t  *job;

    job = part->job;
    job->posted--;

    ngx_http_async_primes_metrics_add_to(NGX_HTTP_ASYNC_PRIMES_TASKS, -1);

    /* stopped in this cycle: nothing else holds it */
    if (job->finished) {
        ngx_http_async_primes_job_release(job);
    }
}


/*
 * Pushes a tiny part on the riders of the pool's carrier, unless its
 * thread has taken them (it then carries no more) or it carries enough.
 * A carrier not yet posted may still be refused: only a job not yet
 * stored may ride on it.
 */

static ngx_int_t
ngx_http_async_primes_part_ride(ngx_http_async_primes_pool_t *pool,
    ngx_http_async_primes_part_t *part)
{
    ngx_http_async_primes_part_t  *carrier, *head;

    carrier = pool->carrier;

    if (carrier == NULL
        || pool->riders >= NGX_HTTP_ASYNC_PRIMES_MAX_RIDERS
        || (pool->flush.posted
            && part->job->state != NGX_HTTP_ASYNC_PRIMES_JOB_EARLY))
    {
        return NGX_DECLINED;
    }

    head = __atomic_load_n(&carrier->riders, __ATOMIC_RELAXED);

    do {
        if (head == NGX_HTTP_ASYNC_PRIMES_PART_CLOSED) {
            pool->carrier = NULL;
            return NGX_DECLINED;
        }

        part->next = head;

    } while (!__atomic_compare_exchange_n(&carrier->riders, &head, part, 1,
                                          __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));

    pool->riders++;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "async_primes: job %*s rides on the task of another",
                   (size_t) NGX_ASYNC_PRIMES_ID_LEN, part->job->id);

    return NGX_OK;
}


static void
ngx_http_async_primes_job_thread(void *data, ngx_log_t *log)
{
    ngx_http_async_primes_part_t  *part = data;

    ngx_http_async_primes_part_t  *rider, *next, *taken;

    ngx_http_async_primes_part_compute(part);

    if (!part->tiny) {
        return;
    }

    /* no part rides on this task after this: the event loop sees why */

    rider = __atomic_exchange_n(&part->riders,
                                NGX_HTTP_ASYNC_PRIMES_PART_CLOSED,
                                __ATOMIC_ACQUIRE);

    /* newest first: in the order they came */

    taken = NULL;

    while (rider != NULL) {
        next = rider->next;
        rider->next = taken;
        taken = rider;
        rider = next;
    }

    part->taken = taken;

    for (rider = taken; rider != NULL; rider = rider->next) {
        ngx_http_async_primes_part_compute(rider);
    }
}


static void
ngx_http_async_primes_part_compute(ngx_http_async_primes_part_t *part)
{
    ngx_uint_t  lowered;

    /*
     * Touches nothing but the part: a part still queued when the worker
     * exits may run after the job's configuration is gone.
     */

    lowered = part->lower
              && !__atomic_load_n(&part->sum_ctx.stop, __ATOMIC_RELAXED)
              && ngx_http_async_primes_thread_lower(part->priority);

    if (part->plan != NULL) {
        part->rc = ngx_async_primes_sum_share(part->plan, &part->sum,
                                              &part->sum_ctx);

    } else {
        part->rc = ngx_async_primes_sum(part->lo, part->hi, &part->sum,
                                        &part->sum_ctx);
    }

    if (lowered) {
        ngx_http_async_primes_thread_restore(part->priority);
    }
}


static void
ngx_http_async_primes_job_computed(ngx_event_t *ev)
{
    ngx_http_async_primes_part_t  *part = ev->data;

    ngx_http_async_primes_part_t  *rider, *next;
    ngx_http_async_primes_pool_t  *pool;

    /* read first: each job below may be freed as it completes */

    pool = part->job->pool;
    rider = part->taken;

    if (pool->carrier == part) {
        pool->carrier = NULL;
    }

    pool->tasks--;

    ngx_http_async_primes_thread_report(ngx_cycle->log);

    ngx_http_async_primes_part_computed(part);

    while (rider != NULL) {
        next = rider->next;
        ngx_http_async_primes_part_computed(rider);
        rider = next;
    }

    /* after the jobs' own parts: they may have ended them */
    ngx_http_async_primes_pool_room(pool);
}


static void
ngx_http_async_primes_part_computed(ngx_http_async_primes_part_t *part)
{
    ngx_http_async_primes_job_t  *job;

    job = part->job;
    job->computed++;

    ngx_http_async_primes_metrics_add_to(NGX_HTTP_ASYNC_PRIMES_TASKS, -1);

    ngx_http_async_primes_job_completed(job);
}


static void
ngx_http_async_primes_job_completed(ngx_http_async_primes_job_t *job)
{
    int                          rc;
    size_t                       len;
    ngx_uint_t                   i;
    const char                  *error;
    ngx_async_primes_status_e    status;
    ngx_async_primes_uint128_t   sum;
    char                         payload[NGX_ASYNC_PRIMES_UINT128_LEN];

    if (job->finished) {
        ngx_http_async_primes_job_release(job);
        return;
    }

    if (job->computed < job->nparts) {
        return;
    }

    /* computed while its record in progress is being stored: after it */
    if (job->state == NGX_HTTP_ASYNC_PRIMES_JOB_STORING) {
        job->compute_ms = ngx_current_msec - job->started;
        job->ready = 1;
        return;
    }

    if (!job->ready) {
        job->compute_ms = ngx_current_msec - job->started;
    }

    if (job->lost) {
        /* stopped: its lease is another worker's, or this one exits */
        ngx_http_async_primes_job_finish(job);
        return;
    }

    if (job->refresh.timer_set) {
        ngx_del_timer(&job->refresh);
    }

    if (job->cancelled) {
        /* stopped by a cancellation: the record says so */
        job->payload_len = 0;
        job->doc_len = ngx_async_primes_json_record(job->doc, job->id,
                                       NGX_ASYNC_PRIMES_ID_LEN,
                                       NGX_ASYNC_PRIMES_STATUS_CANCELLED,
                                       NULL, 0, NULL, 0);
        goto write;
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

        ngx_memcpy(job->payload, payload, len);
        job->payload_len = len;

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

write:

    if (job->state == NGX_HTTP_ASYNC_PRIMES_JOB_EARLY) {
        /* the only write of a tiny job: nobody else can know its id yet */
        job->written = ngx_current_msec;

        if (ngx_http_async_primes_job_sent(job,
                     ngx_http_async_primes_store_final(job, 1,
                                       ngx_http_async_primes_job_early_written))
            != NGX_OK)
        {
            ngx_http_async_primes_job_unstored(job, NULL);
        }

        return;
    }

    job->state = NGX_HTTP_ASYNC_PRIMES_JOB_WRITING;
    job->write_deadline = ngx_current_msec + job->ttl;

    job->refresh.handler = ngx_http_async_primes_job_write_handler;

    ngx_http_async_primes_job_write(job);
}


/*
 * A cancellation for a job this worker computes: its parts stop at the
 * engine's next check, so that their threads are free at once, and the
 * job writes its CANCELLED record once they are back.  A job that is
 * writing its result already is left to it.
 */

static void
ngx_http_async_primes_job_cancel(ngx_http_async_primes_job_t *job)
{
    ngx_uint_t  i;

    if (job->cancelled
        || job->finished
        || job->state != NGX_HTTP_ASYNC_PRIMES_JOB_COMPUTING)
    {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "async_primes: job %*s is cancelled",
                  (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id);

    job->cancelled = 1;

    ngx_http_async_primes_job_unwait(job);

    for (i = 0; i < job->posted; i++) {
        __atomic_store_n(&job->parts[i].sum_ctx.stop, 1, __ATOMIC_RELAXED);
    }

    job->nparts = job->posted;

    if (job->computed == job->nparts) {
        ngx_http_async_primes_job_completed(job);
    }
}


void
ngx_http_async_primes_jobs_cancel(ngx_http_async_primes_main_conf_t *amcf,
    const u_char *id)
{
    ngx_queue_t                  *q;
    ngx_http_async_primes_job_t  *job;

    for (q = ngx_queue_head(&amcf->jobs);
         q != ngx_queue_sentinel(&amcf->jobs);
         q = ngx_queue_next(q))
    {
        job = ngx_queue_data(q, ngx_http_async_primes_job_t, queue);

        if (ngx_memcmp(job->id, id, NGX_ASYNC_PRIMES_ID_LEN) == 0) {
            ngx_http_async_primes_job_cancel(job);
            return;
        }
    }
}


/* the cancel script, sent for a job found expired and marked */

static void
ngx_http_async_primes_job_cancelled(void *data, redisReply *reply)
{
    ngx_http_async_primes_job_t  *job = data;

    if (reply != NULL
        && reply->type == REDIS_REPLY_ARRAY
        && reply->elements >= 1
        && reply->element[0]->type == REDIS_REPLY_INTEGER
        && reply->element[0]->integer == 3)
    {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "async_primes: job %*s is cancelled: its worker had "
                      "gone", (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id);

        ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_CANCELLED);
    }

    (void) ngx_http_async_primes_job_replied(job);
}


/*
 * Asks the parts in the thread pool to stop and forgets the parts not yet
 * queued; the job ends once the running ones are back.
 */

static void
ngx_http_async_primes_job_stop(ngx_http_async_primes_job_t *job)
{
    ngx_uint_t  i;

    if (job->refresh.timer_set) {
        ngx_del_timer(&job->refresh);
    }

    ngx_http_async_primes_job_unwait(job);

    if (job->state != NGX_HTTP_ASYNC_PRIMES_JOB_COMPUTING) {
        ngx_http_async_primes_job_finish(job);
        return;
    }

    for (i = 0; i < job->posted; i++) {
        __atomic_store_n(&job->parts[i].sum_ctx.stop, 1, __ATOMIC_RELAXED);
    }

    job->nparts = job->posted;

    if (job->computed == job->nparts) {
        ngx_http_async_primes_job_finish(job);
    }
}


static void
ngx_http_async_primes_job_refresh(ngx_event_t *ev)
{
    ngx_http_async_primes_job_t  *job = ev->data;

    /* a failure is retried on the next tick */
    (void) ngx_http_async_primes_job_sent(job,
                 ngx_http_async_primes_store_renew(job,
                                     ngx_http_async_primes_job_progress(job),
                                     ngx_http_async_primes_job_refreshed));

    ngx_add_timer(&job->refresh, ngx_http_async_primes_job_tick(job));
}


static void
ngx_http_async_primes_job_refreshed(void *data, redisReply *reply)
{
    ngx_http_async_primes_job_t  *job = data;

    if (ngx_http_async_primes_job_replied(job)) {
        return;
    }

    if ((job->state != NGX_HTTP_ASYNC_PRIMES_JOB_COMPUTING
         && job->state != NGX_HTTP_ASYNC_PRIMES_JOB_WRITING)
        || reply == NULL)
    {
        return;
    }

    if (reply->type != REDIS_REPLY_INTEGER) {
        if (reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "async_primes: redis refused to renew the lease "
                          "of job %*s: %s",
                          (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id,
                          reply->str);
        }

        return;
    }

    if (reply->integer == 2) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "async_primes: the record of job %*s was gone from "
                      "redis and is stored again",
                      (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id);
        return;
    }

    /* marked to cancel: its message was lost, or is still on its way */
    if (reply->integer == 3) {
        ngx_http_async_primes_job_cancel(job);
        return;
    }

    /* 0 while writing: the result has landed, its reply ends the job */
    if (reply->integer > 0
        || (reply->integer == 0
            && job->state == NGX_HTTP_ASYNC_PRIMES_JOB_WRITING))
    {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "async_primes: job %*s is stopped here: %s",
                  (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id,
                  reply->integer == 0 ? "its record says it has ended"
                                      : "another worker took it over");

    job->lost = 1;
    ngx_http_async_primes_job_stop(job);
}


/*
 * Within the first half of its lease nobody can have taken the job over: a
 * takeover waits for the lease to expire, and the other half is the margin
 * for the clocks of the hosts and the network.  The result is then written
 * with a plain SET, which costs Redis about a fifth of the owner-checking
 * script; later, or with a sum to keep for reuse, the script writes it.
 */

static void
ngx_http_async_primes_job_write(ngx_http_async_primes_job_t *job)
{
    ngx_uint_t  plain;

    job->written = ngx_current_msec;

    plain = !job->reuse
            && (ngx_msec_t) (ngx_current_msec - job->leased) < job->lease / 2;

    if (ngx_http_async_primes_job_sent(job,
                  ngx_http_async_primes_store_final(job, plain,
                                            ngx_http_async_primes_job_written))
        != NGX_OK)
    {
        ngx_http_async_primes_job_retry(job);
        return;
    }

    /*
     * In the same pipeline, so Redis runs it after the write: a poll it
     * wakes reads the final record, or, if the write failed, finds the job
     * in progress and waits on.
     */
    if (job->amcf->wait_enabled) {
        (void) ngx_http_async_primes_job_sent(job,
                     ngx_http_async_primes_store_publish(job,
                                            ngx_http_async_primes_job_none));
    }
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
        ngx_add_timer(&job->refresh, ngx_http_async_primes_job_tick(job));
    }
}


/*
 * The lease is renewed until the result lands, so that a write that Redis
 * refuses or does not answer for a while is not overtaken by a takeover:
 * the renewal goes first, and finds the record final if the write has
 * landed meanwhile.
 */

static void
ngx_http_async_primes_job_write_handler(ngx_event_t *ev)
{
    ngx_http_async_primes_job_t  *job = ev->data;

    (void) ngx_http_async_primes_job_sent(job,
                 ngx_http_async_primes_store_renew(job,
                                     ngx_http_async_primes_job_progress(job),
                                     ngx_http_async_primes_job_refreshed));

    ngx_http_async_primes_job_write(job);
}


/*
 * The final record of a tiny job is stored: the submit is answered, 202 as
 * for any job, or 200 with the record for "Prefer: wait".
 */

static void
ngx_http_async_primes_job_early_written(void *data, redisReply *reply)
{
    ngx_http_async_primes_job_t  *job = data;

    if (ngx_http_async_primes_job_replied(job)) {
        return;
    }

    if (reply == NULL || reply->type != REDIS_REPLY_STATUS) {
        ngx_http_async_primes_job_unstored(job, reply);
        return;
    }

    ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_SUBMITTED);

    /* its id was drawn for this submit: nothing is cached under it */
    ngx_http_async_primes_job_landed(job, 1);
    ngx_http_async_primes_job_finish(job);
}


/*
 * The final record is in Redis: it is cached, counted, and a submit that
 * waits gets it (200, for "Prefer: wait"), or its 202 (a tiny job).  With
 * first, the record is the job's first: the cache need not look for an
 * entry to replace.
 */

static void
ngx_http_async_primes_job_landed(ngx_http_async_primes_job_t *job,
    ngx_uint_t first)
{
    u_char                       *doc;
    ngx_http_async_primes_ctx_t  *ctx;

    /* the record expires a TTL after it was sent, or later */
    if (job->amcf->cache) {
        ngx_http_async_primes_cache_put(job->amcf, job->id, job->doc,
                                        job->doc_len,
                                        job->written + job->ttl, !first);
    }

    ngx_http_async_primes_count(job->cancelled
                                ? NGX_HTTP_ASYNC_PRIMES_CANCELLED
                                : job->payload_len
                                  ? NGX_HTTP_ASYNC_PRIMES_FINISHED
                                  : NGX_HTTP_ASYNC_PRIMES_FAILED);

    if (job->request == NULL) {
        return;
    }

    ctx = ngx_http_get_module_ctx(job->request, ngx_http_async_primes_module);

    if (ctx->wait_end) {
        doc = ngx_pnalloc(job->request->pool, job->doc_len);

        if (doc != NULL) {
            ngx_memcpy(doc, job->doc, job->doc_len);

            ctx->prefer_held = 1;
            ctx->compute_ms = job->compute_ms;
            ctx->computed = 1;

            ngx_http_async_primes_job_reply(job, NGX_HTTP_OK, doc,
                                            job->doc_len, NULL);
        }
    }

    /* no memory for the record: the 202 */
    ngx_http_async_primes_job_accepted(job);
}


static void
ngx_http_async_primes_job_written(void *data, redisReply *reply)
{
    ngx_http_async_primes_job_t  *job = data;

    if (ngx_http_async_primes_job_replied(job)) {
        return;
    }

    /* the plain SET's OK, or the script's 1 */
    if (reply != NULL
        && (reply->type == REDIS_REPLY_STATUS
            || (reply->type == REDIS_REPLY_INTEGER && reply->integer == 1)))
    {
        ngx_http_async_primes_job_landed(job, 0);
        ngx_http_async_primes_job_finish(job);
        return;
    }

    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER) {

        if (reply->integer < 0) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "async_primes: the result of job %*s is dropped: "
                          "another worker took the job over",
                          (size_t) NGX_ASYNC_PRIMES_ID_LEN, job->id);
        }

        /* 0: a retry whose first attempt was stored after all */
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


/* renewals publish the progress too, so they come at least once a second */

static ngx_msec_t
ngx_http_async_primes_job_tick(ngx_http_async_primes_job_t *job)
{
    return ngx_min(job->lease / 3, NGX_HTTP_ASYNC_PRIMES_PROGRESS_EVERY);
}


/*
 * The share of the job done, in thousandths: the parts are of about equal
 * work, each done as far as its thread has told.
 */

static ngx_uint_t
ngx_http_async_primes_job_progress(ngx_http_async_primes_job_t *job)
{
    double                         share;
    uint64_t                       done, total;
    ngx_uint_t                     i;
    ngx_http_async_primes_part_t  *part;

    share = 0;

    for (i = 0; i < job->posted; i++) {
        part = &job->parts[i];

        done = __atomic_load_n(&part->sum_ctx.done, __ATOMIC_RELAXED);
        total = __atomic_load_n(&part->sum_ctx.total, __ATOMIC_RELAXED);

        if (total != 0) {
            share += (double) ngx_min(done, total) / total;
        }
    }

    /* "done" only once the record says so */
    return ngx_min((ngx_uint_t) (share * 1000 / job->nparts), 999);
}


/*
 * Every command of a job counts against it, so that the job is freed only
 * once no reply can reach it any more.
 */

static ngx_int_t
ngx_http_async_primes_job_sent(ngx_http_async_primes_job_t *job,
    ngx_int_t rc)
{
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

    ngx_http_async_primes_job_release(job);

    return 1;
}


static void
ngx_http_async_primes_job_finish(ngx_http_async_primes_job_t *job)
{
    if (job->finished) {
        return;
    }

    job->finished = 1;

    if (job->respond.timer_set) {
        ngx_del_timer(&job->respond);
    }

    /* a submit held by "Prefer: wait" for a job that ends otherwise */
    if (job->held) {
        ngx_http_async_primes_job_accepted(job);
    }

    if (job->refresh.timer_set) {
        ngx_del_timer(&job->refresh);
    }

    ngx_http_async_primes_job_unwait(job);

    ngx_http_async_primes_job_release(job);
}


/* an ended job is freed once no reply and no thread can reach it */

static void
ngx_http_async_primes_job_release(ngx_http_async_primes_job_t *job)
{
    if (job->commands == 0 && job->computed == job->posted) {
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
    job->amcf->njobs--;

    ngx_http_async_primes_metrics_add_to(NGX_HTTP_ASYNC_PRIMES_IN_FLIGHT, -1);

    ngx_async_primes_sum_plan_free(job->plan);
    ngx_free(job);
}


/*
 * worker_shutdown_timeout has expired: nothing more will be written.  The
 * jobs stop, their leases run out and other workers take them over.
 */

void
ngx_http_async_primes_jobs_abandon(ngx_http_async_primes_main_conf_t *amcf)
{
    ngx_uint_t                    n;
    ngx_queue_t                  *q, *next;
    ngx_http_async_primes_job_t  *job;

    n = 0;

    for (q = ngx_queue_head(&amcf->jobs);
         q != ngx_queue_sentinel(&amcf->jobs);
         q = next)
    {
        next = ngx_queue_next(q);
        job = ngx_queue_data(q, ngx_http_async_primes_job_t, queue);

        if (job->finished) {
            continue;
        }

        n++;

        /* the job may be freed in here */
        job->lost = 1;
        ngx_http_async_primes_job_stop(job);
    }

    if (n) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "async_primes: %ui unfinished jobs abandoned at "
                      "worker_shutdown_timeout, left to other workers",
                      n);
    }
}


/*
 * The worker exits: no completion handler runs any more.  A job is freed
 * only if none of its parts can still be in a thread: NGINX waits for the
 * tasks queued in a pool when it exits, but not when that queue is full,
 * and a thread may then start or go on with a part after this.  Such a job
 * is stopped and left allocated, on a list that keeps it reachable, until
 * the process ends.
 */

void
ngx_http_async_primes_jobs_exit(ngx_http_async_primes_main_conf_t *amcf)
{
    ngx_uint_t                    i, n, left;
    ngx_queue_t                  *q;
    ngx_http_async_primes_job_t  *job;

    static ngx_queue_t            threads_own;

    n = 0;
    left = 0;

    ngx_queue_init(&threads_own);

    while (!ngx_queue_empty(&amcf->jobs)) {
        q = ngx_queue_head(&amcf->jobs);
        job = ngx_queue_data(q, ngx_http_async_primes_job_t, queue);

        if (!job->finished) {
            n++;
        }

        if (job->refresh.timer_set) {
            ngx_del_timer(&job->refresh);
        }

        ngx_http_async_primes_job_unwait(job);

        if (job->computed == job->posted) {
            ngx_http_async_primes_job_free(job);
            continue;
        }

        for (i = 0; i < job->posted; i++) {
            __atomic_store_n(&job->parts[i].sum_ctx.stop, 1,
                             __ATOMIC_RELAXED);
        }

        ngx_queue_remove(&job->queue);
        ngx_queue_insert_tail(&threads_own, &job->queue);
        left++;
    }

    if (n) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "async_primes: %ui unfinished jobs abandoned on exit",
                      n);
    }

    if (left) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "async_primes: %ui jobs left to the threads still "
                      "holding their parts at exit", left);
    }
}
