
/*
 * Copyright (C) The ngx_async_primes authors
 */


/*
 * Long polls: GET <location>/<requestId>?wait=N is held while the job is in
 * progress, until it ends or N seconds (at most async_primes_wait_max)
 * have passed, then answered as a plain poll.
 *
 * The worker that writes a final record publishes the job's id on the
 * channel "<prefix>done".  Each worker keeps one more Redis connection,
 * subscribed to it, and a message wakes the polls of that id waiting in
 * the worker: they read the record again.  Nothing is polled in a loop.
 * While the subscription is lost no message comes, so once it is back
 * every waiting poll reads its record again, and none sleeps past its
 * job's end.  A message may also come before the reply of the GET that
 * decided to wait (two connections): the ids of the last messages are
 * kept a moment for that.
 *
 * A waiting poll costs its request and its place in one list per job; a
 * client that goes away ends it at once (ngx_http_test_reading()).  A
 * worker that begins to shut down answers them all.
 *
 * The subscriber also listens on "<prefix>cancel": a job this worker
 * computes that is cancelled stops here (ngx_http_async_primes_jobs_cancel).
 */


#include "ngx_http_async_primes.h"


/* ids of the last messages, and how long one may come before its poll */
#define NGX_HTTP_ASYNC_PRIMES_RECENT      128
#define NGX_HTTP_ASYNC_PRIMES_RECENT_FOR  1000


typedef struct {
    u_char                              id[NGX_ASYNC_PRIMES_ID_LEN];
    ngx_msec_t                          at;
} ngx_http_async_primes_recent_t;


static void ngx_http_async_primes_wait_message(
    ngx_http_async_primes_redis_t *redis, ngx_uint_t channel, u_char *data,
    size_t len);
static void ngx_http_async_primes_wait_subscribed(
    ngx_http_async_primes_redis_t *redis);
static void ngx_http_async_primes_wait_timeout(ngx_event_t *ev);
static void ngx_http_async_primes_wait_wake(ngx_http_async_primes_ctx_t *ctx);
static ngx_uint_t ngx_http_async_primes_wait_recent(const u_char *id);
static ngx_http_async_primes_waited_t *ngx_http_async_primes_waited(
    ngx_http_async_primes_main_conf_t *amcf, const u_char *id,
    uint32_t hash);
static void ngx_http_async_primes_waited_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


static ngx_http_async_primes_recent_t
    ngx_http_async_primes_recent[NGX_HTTP_ASYNC_PRIMES_RECENT];
static ngx_uint_t  ngx_http_async_primes_recent_next;


/*
 * The subscriber: a connection to the same Redis as the commands', with
 * the same credentials, subscribed to the channel of ended jobs.
 */

ngx_int_t
ngx_http_async_primes_wait_init(ngx_http_async_primes_main_conf_t *amcf,
    ngx_log_t *log)
{
    u_char                         *p;
    const char                     *name;
    ngx_uint_t                      i;
    ngx_http_async_primes_redis_t  *sub;

    /* in the order of the channels the message handler tells apart */
    static const char  *names[] = {
        NGX_HTTP_ASYNC_PRIMES_DONE_CHANNEL,
        NGX_HTTP_ASYNC_PRIMES_CANCEL_CHANNEL
    };

    ngx_rbtree_init(&amcf->waits, &amcf->waits_sentinel,
                    ngx_http_async_primes_waited_insert);

    sub = &amcf->subscriber;

    sub->name = amcf->redis.name;
    sub->host = amcf->redis.host;
    sub->path = amcf->redis.path;
    sub->port = amcf->redis.port;
    sub->timeout = amcf->redis.timeout;
    sub->user = amcf->redis.user;
    sub->password = amcf->redis.password;
    sub->database = amcf->redis.database;

    sub->channels = ngx_pcalloc(ngx_cycle->pool, 2 * sizeof(ngx_str_t));
    if (sub->channels == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < 2; i++) {
        name = names[i];

        sub->channels[i].len = amcf->key_prefix.len + ngx_strlen(name);

        p = ngx_pnalloc(ngx_cycle->pool, sub->channels[i].len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        sub->channels[i].data = p;
        p = ngx_cpymem(p, amcf->key_prefix.data, amcf->key_prefix.len);
        ngx_memcpy(p, name, ngx_strlen(name));
    }

    sub->nchannels = 2;

    sub->message = ngx_http_async_primes_wait_message;
    sub->subscribed = ngx_http_async_primes_wait_subscribed;
    sub->data = amcf;
    sub->role = " (subscriber)";

    return ngx_http_async_primes_redis_init(sub, log);
}


/* the poll's record is in progress: it waits, or NGX_DECLINED */

ngx_int_t
ngx_http_async_primes_wait(ngx_http_request_t *r,
    ngx_http_async_primes_ctx_t *ctx)
{
    uint32_t                            hash;
    ngx_msec_int_t                      left;
    ngx_http_async_primes_waited_t     *waited;
    ngx_http_async_primes_main_conf_t  *amcf;

    left = (ngx_msec_int_t) (ctx->wait_end - ngx_current_msec);

    if (ctx->wait_end == 0 || left <= 0 || ngx_exiting) {
        return NGX_DECLINED;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_async_primes_module);

    /* ended while the GET's reply was on its way: read it again now */
    if (ngx_http_async_primes_wait_recent(ctx->id)) {
        if (ngx_http_async_primes_poll_get(r, ctx) == NGX_OK) {
            return NGX_OK;
        }

        return NGX_DECLINED;
    }

    hash = ngx_crc32_short(ctx->id, NGX_ASYNC_PRIMES_ID_LEN);

    waited = ngx_http_async_primes_waited(amcf, ctx->id, hash);

    if (waited == NULL) {
        waited = ngx_alloc(sizeof(ngx_http_async_primes_waited_t),
                           r->connection->log);
        if (waited == NULL) {
            return NGX_DECLINED;
        }

        waited->node.key = hash;
        ngx_memcpy(waited->id, ctx->id, NGX_ASYNC_PRIMES_ID_LEN);
        ngx_queue_init(&waited->polls);

        ngx_rbtree_insert(&amcf->waits, &waited->node);
    }

    ngx_queue_insert_tail(&waited->polls, &ctx->waiting);
    ctx->waited = waited;
    ctx->prefer_held = 1;

    ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_WAITING);

    /* cancelable: a worker that shuts down answers its polls at once */
    ctx->wait_timer.handler = ngx_http_async_primes_wait_timeout;
    ctx->wait_timer.data = ctx;
    ctx->wait_timer.log = r->connection->log;
    ctx->wait_timer.cancelable = 1;

    ngx_add_timer(&ctx->wait_timer, (ngx_msec_t) left);

    /* a client that goes away ends the request, and the wait with it */
    r->read_event_handler = ngx_http_test_reading;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "async_primes: a poll waits for job %*s",
                   (size_t) NGX_ASYNC_PRIMES_ID_LEN, ctx->id);

    return NGX_OK;
}


/* the poll waits no more: it is woken, or its request ends */

void
ngx_http_async_primes_wait_done(ngx_http_async_primes_ctx_t *ctx)
{
    ngx_http_async_primes_waited_t     *waited;
    ngx_http_async_primes_main_conf_t  *amcf;

    if (ctx->wait_timer.timer_set) {
        ngx_del_timer(&ctx->wait_timer);
    }

    waited = ctx->waited;

    if (waited == NULL) {
        return;
    }

    ctx->waited = NULL;
    ngx_queue_remove(&ctx->waiting);

    ngx_http_async_primes_metrics_add_to(NGX_HTTP_ASYNC_PRIMES_WAITING, -1);

    if (!ngx_queue_empty(&waited->polls)) {
        return;
    }

    amcf = ngx_http_get_module_main_conf(ctx->request,
                                         ngx_http_async_primes_module);

    ngx_rbtree_delete(&amcf->waits, &waited->node);
    ngx_free(waited);
}


/*
 * Every waiting poll reads its record again: the subscription is back
 * (messages may have been lost), or, with "last", the worker shuts down
 * and answers them as they are.
 */

void
ngx_http_async_primes_wait_all(ngx_http_async_primes_main_conf_t *amcf,
    ngx_uint_t last)
{
    ngx_queue_t                     *q;
    ngx_rbtree_node_t               *node;
    ngx_http_async_primes_ctx_t     *ctx;
    ngx_http_async_primes_waited_t  *waited;

    while (amcf->waits.root != amcf->waits.sentinel) {
        node = ngx_rbtree_min(amcf->waits.root, amcf->waits.sentinel);
        waited = (ngx_http_async_primes_waited_t *) node;

        /* the last poll of the job frees it */
        q = ngx_queue_head(&waited->polls);
        ctx = ngx_queue_data(q, ngx_http_async_primes_ctx_t, waiting);

        if (last) {
            ctx->wait_end = 0;
        }

        ngx_http_async_primes_wait_wake(ctx);
    }
}


static void
ngx_http_async_primes_wait_message(ngx_http_async_primes_redis_t *redis,
    ngx_uint_t channel, u_char *data, size_t len)
{
    ngx_uint_t                          last;
    ngx_queue_t                        *q;
    ngx_http_async_primes_ctx_t        *ctx;
    ngx_http_async_primes_recent_t     *recent;
    ngx_http_async_primes_waited_t     *waited;
    ngx_http_async_primes_main_conf_t  *amcf;

    if (len != NGX_ASYNC_PRIMES_ID_LEN) {
        return;
    }

    amcf = redis->data;

    /* a job to cancel, if this worker computes it */
    if (channel == 1) {
        ngx_http_async_primes_jobs_cancel(amcf, data);
        return;
    }

    recent = &ngx_http_async_primes_recent[ngx_http_async_primes_recent_next];
    ngx_http_async_primes_recent_next = (ngx_http_async_primes_recent_next + 1)
                                        % NGX_HTTP_ASYNC_PRIMES_RECENT;

    ngx_memcpy(recent->id, data, NGX_ASYNC_PRIMES_ID_LEN);
    recent->at = ngx_current_msec;

    waited = ngx_http_async_primes_waited(amcf, data,
                                  ngx_crc32_short(data,
                                                  NGX_ASYNC_PRIMES_ID_LEN));
    if (waited == NULL) {
        return;
    }

    /* the last poll woken frees the list */
    do {
        q = ngx_queue_head(&waited->polls);
        last = (ngx_queue_next(q) == ngx_queue_sentinel(&waited->polls));
        ctx = ngx_queue_data(q, ngx_http_async_primes_ctx_t, waiting);

        ngx_http_async_primes_wait_wake(ctx);

    } while (!last);
}


static void
ngx_http_async_primes_wait_subscribed(ngx_http_async_primes_redis_t *redis)
{
    ngx_http_async_primes_wait_all(redis->data, 0);
}


static void
ngx_http_async_primes_wait_timeout(ngx_event_t *ev)
{
    ngx_http_async_primes_ctx_t  *ctx = ev->data;

    /* answered as a plain poll, whatever the record says */
    ctx->wait_end = 0;

    ngx_http_async_primes_wait_wake(ctx);
}


static void
ngx_http_async_primes_wait_wake(ngx_http_async_primes_ctx_t *ctx)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = ctx->request;

    ngx_http_async_primes_wait_done(ctx);

    r->read_event_handler = ngx_http_block_reading;

    if (ngx_http_async_primes_poll_get(r, ctx) == NGX_OK) {
        return;
    }

    rc = ngx_http_async_primes_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          NGX_HTTP_ASYNC_PRIMES_UNAVAILABLE);
    ngx_http_finalize_request(r, rc);
}


static ngx_uint_t
ngx_http_async_primes_wait_recent(const u_char *id)
{
    ngx_uint_t                       i;
    ngx_http_async_primes_recent_t  *recent;

    for (i = 0; i < NGX_HTTP_ASYNC_PRIMES_RECENT; i++) {
        recent = &ngx_http_async_primes_recent[i];

        if (recent->at != 0
            && ngx_current_msec - recent->at
               < NGX_HTTP_ASYNC_PRIMES_RECENT_FOR
            && ngx_memcmp(recent->id, id, NGX_ASYNC_PRIMES_ID_LEN) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static ngx_http_async_primes_waited_t *
ngx_http_async_primes_waited(ngx_http_async_primes_main_conf_t *amcf,
    const u_char *id, uint32_t hash)
{
    ngx_int_t                        rc;
    ngx_rbtree_node_t               *node, *sentinel;
    ngx_http_async_primes_waited_t  *waited;

    node = amcf->waits.root;
    sentinel = amcf->waits.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        waited = (ngx_http_async_primes_waited_t *) node;

        rc = ngx_memcmp(id, waited->id, NGX_ASYNC_PRIMES_ID_LEN);

        if (rc == 0) {
            return waited;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* ordered by the CRC32 of the id, then by the id */

static void
ngx_http_async_primes_waited_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t  **p;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            p = (ngx_memcmp(((ngx_http_async_primes_waited_t *) node)->id,
                            ((ngx_http_async_primes_waited_t *) temp)->id,
                            NGX_ASYNC_PRIMES_ID_LEN)
                 < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}
