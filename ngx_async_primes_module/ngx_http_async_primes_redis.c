
/*
 * Copyright (C) The ngx_async_primes authors
 */


/*
 * One pipelined hiredis connection per worker.  hiredis 0.14 has no
 * timeouts of its own: the connect and every command run against one NGINX
 * timer set for the oldest command still waiting.  When it fires, the
 * connection is torn down, hiredis fails every waiting command with a NULL
 * reply, and the connection is made again with backoff.  Commands issued
 * while a connection is being made wait in its pipeline (for at most the
 * timeout); while there is none at all they fail at once.  Every command's
 * handler is called exactly once, with its reply or with NULL.
 *
 * A connection is ready once Redis has answered its handshake: AUTH and
 * SELECT when configured, SCRIPT LOAD of the store's scripts, then PING.
 * An error reply to any of them is a failed connection like any other, so
 * that the commands queued behind the handshake fail at once instead of
 * running unauthenticated, in the wrong database or without the scripts.
 */


#include "ngx_http_async_primes.h"


#define NGX_HTTP_ASYNC_PRIMES_BACKOFF_MIN  100
#define NGX_HTTP_ASYNC_PRIMES_BACKOFF_MAX  5000


static void ngx_http_async_primes_redis_closed(redisAsyncContext *ac);
static void ngx_http_async_primes_redis_connect(
    ngx_http_async_primes_redis_t *redis);
static void ngx_http_async_primes_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_async_primes_redis_disconnected(
    const redisAsyncContext *ac, int status);
static ngx_int_t ngx_http_async_primes_redis_send_handshake(
    ngx_http_async_primes_redis_t *redis, redisAsyncContext *ac);
static void ngx_http_async_primes_redis_handshake(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_async_primes_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_async_primes_redis_subscription(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_async_primes_redis_failed(
    ngx_http_async_primes_redis_t *redis, const char *refused,
    const char *reason);
static void ngx_http_async_primes_redis_schedule(
    ngx_http_async_primes_redis_t *redis);
static void ngx_http_async_primes_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_http_async_primes_redis_timer_handler(ngx_event_t *ev);
static void ngx_http_async_primes_redis_set_timer(
    ngx_http_async_primes_redis_t *redis);


ngx_int_t
ngx_http_async_primes_redis_init(ngx_http_async_primes_redis_t *redis,
    ngx_log_t *log)
{
    redis->log = log;
    ngx_queue_init(&redis->pending);

    if (redis->role == NULL) {
        redis->role = "";
    }

    redis->timer.handler = ngx_http_async_primes_redis_timer_handler;
    redis->timer.data = redis;
    redis->timer.log = log;

    /* a worker that shuts down does not wait for the next attempt */
    redis->reconnect.handler = ngx_http_async_primes_redis_reconnect_handler;
    redis->reconnect.data = redis;
    redis->reconnect.log = log;
    redis->reconnect.cancelable = 1;

    redis->backoff = NGX_HTTP_ASYNC_PRIMES_BACKOFF_MIN;

    ngx_http_async_primes_redis_connect(redis);

    return NGX_OK;
}


void
ngx_http_async_primes_redis_exit(ngx_http_async_primes_redis_t *redis)
{
    redisAsyncContext  *ac;

    redis->exiting = 1;

    if (redis->reconnect.timer_set) {
        ngx_del_timer(&redis->reconnect);
    }

    if (redis->timer.timer_set) {
        ngx_del_timer(&redis->timer);
    }

    ac = redis->ctx;

    if (ac) {
        /*
         * Fails every waiting command, then frees the context; a handler
         * that sends another command then finds no connection.
         */
        redis->ctx = NULL;
        redisAsyncFree(ac);
    }
}


/*
 * NGINX closes a connection it does not own only when
 * worker_shutdown_timeout has expired: Redis is given up.
 */

static void
ngx_http_async_primes_redis_closed(redisAsyncContext *ac)
{
    ngx_http_async_primes_redis_exit(ac->data);
}


static void
ngx_http_async_primes_redis_connect(ngx_http_async_primes_redis_t *redis)
{
    redisAsyncContext  *ac;

    if (redis->path) {
        ac = redisAsyncConnectUnix((char *) redis->path);

    } else {
        /* a numeric address: hiredis resolves nothing, so nothing blocks */
        ac = redisAsyncConnect((char *) redis->host, redis->port);
    }

    if (ac == NULL) {
        ngx_http_async_primes_redis_failed(redis, NULL, "out of memory");
        return;
    }

    if (ac->err) {
        ngx_http_async_primes_redis_failed(redis, NULL, ac->errstr);
        redisAsyncFree(ac);
        return;
    }

    if (ngx_http_async_primes_adapter_attach(ac, redis->log,
                                         ngx_http_async_primes_redis_closed)
        != NGX_OK)
    {
        ngx_http_async_primes_redis_failed(redis, NULL, "no free connection");
        redisAsyncFree(ac);
        return;
    }

    ac->data = redis;
    redis->ctx = ac;

    redisAsyncSetConnectCallback(ac, ngx_http_async_primes_redis_connected);
    redisAsyncSetDisconnectCallback(ac,
                                    ngx_http_async_primes_redis_disconnected);

    /*
     * The connect completes on the first write event, and a command is
     * what asks for one; the replies to the handshake also prove that
     * Redis answers.
     */
    if (ngx_http_async_primes_redis_send_handshake(redis, ac) != NGX_OK) {
        ngx_http_async_primes_redis_failed(redis, NULL,
                                           "cannot send the handshake");
        redis->ctx = NULL;
        redisAsyncFree(ac);
        return;
    }

    redis->timer.cancelable = 1;
    ngx_add_timer(&redis->timer, redis->timeout);
}


static void
ngx_http_async_primes_redis_connected(const redisAsyncContext *ac,
    int status)
{
    ngx_http_async_primes_redis_t  *redis;

    if (status == REDIS_OK) {
        return;
    }

    redis = ac->data;

    /* hiredis frees the context when this returns: PING fails first */
    redis->ctx = NULL;

    ngx_http_async_primes_redis_failed(redis, NULL, ac->errstr);
}


static void
ngx_http_async_primes_redis_disconnected(const redisAsyncContext *ac,
    int status)
{
    ngx_http_async_primes_redis_t  *redis;

    redis = ac->data;

    if (redis->ctx != ac) {
        return;
    }

    redis->ctx = NULL;

    /* an error reply that no command waits for: Redis refused SUBSCRIBE */
    ngx_http_async_primes_redis_failed(redis,
                                       (redis->nchannels && redis->ready
                                        && ac->err == REDIS_ERR_OTHER)
                                       ? "SUBSCRIBE" : NULL,
                                       ac->err ? ac->errstr
                                               : "connection closed");
}


/*
 * The password goes out with %b, never through a format of its own: it may
 * hold any byte, "%" included.  The privdata of each command is its name,
 * for the log.
 */

static ngx_int_t
ngx_http_async_primes_redis_send_handshake(
    ngx_http_async_primes_redis_t *redis, redisAsyncContext *ac)
{
    int                              rc;
    ngx_http_async_primes_script_t  *script;

    if (redis->password.len) {
        if (redis->user.len) {
            rc = redisAsyncCommand(ac, ngx_http_async_primes_redis_handshake,
                                   "AUTH", "AUTH %b %b",
                                   redis->user.data, redis->user.len,
                                   redis->password.data, redis->password.len);

        } else {
            rc = redisAsyncCommand(ac, ngx_http_async_primes_redis_handshake,
                                   "AUTH", "AUTH %b",
                                   redis->password.data, redis->password.len);
        }

        if (rc != REDIS_OK) {
            return NGX_ERROR;
        }
    }

    if (redis->database) {
        rc = redisAsyncCommand(ac, ngx_http_async_primes_redis_handshake,
                               "SELECT", "SELECT %d", (int) redis->database);
        if (rc != REDIS_OK) {
            return NGX_ERROR;
        }
    }

    /* the scripts, so that commands may call them by their SHA1 */
    for (script = redis->scripts; script && script->name; script++) {
        rc = redisAsyncCommand(ac, ngx_http_async_primes_redis_handshake,
                               "SCRIPT LOAD", "SCRIPT LOAD %b",
                               script->text, script->len);
        if (rc != REDIS_OK) {
            return NGX_ERROR;
        }
    }

    rc = redisAsyncCommand(ac, ngx_http_async_primes_redis_handshake, "PING",
                           "PING");
    if (rc != REDIS_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_async_primes_redis_handshake(redisAsyncContext *ac, void *r,
    void *privdata)
{
    size_t                          argvlen[3];
    const char                     *command = privdata;
    const char                     *argv[3];
    ngx_uint_t                      i, level;
    redisReply                     *reply = r;
    ngx_http_async_primes_redis_t  *redis;

    redis = ac->data;

    if (redis->exiting) {
        return;
    }

    if (reply == NULL) {
        /* the connection is being torn down; the teardown reports it */
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_http_async_primes_redis_failed(redis, command, reply->str);

        /*
         * Deferred by hiredis until this callback returns; then the rest
         * of the handshake and every command queued behind it fail.
         */
        redis->ctx = NULL;
        redisAsyncFree(ac);
        return;
    }

    /* only the PING at the end tells that all of the handshake passed */
    if (ngx_strcmp(command, "PING") != 0) {
        return;
    }

    if (redis->timer.timer_set) {
        ngx_del_timer(&redis->timer);
    }

    if (!ngx_queue_empty(&redis->pending)) {
        ngx_http_async_primes_redis_set_timer(redis);
    }

    redis->ready = 1;
    redis->refused = NULL;
    redis->backoff = NGX_HTTP_ASYNC_PRIMES_BACKOFF_MIN;

    if (redis->failing) {
        redis->failing = 0;
        level = redis->role[0] ? NGX_LOG_INFO : NGX_LOG_NOTICE;

        if (redis->role[0] == '\0') {
            ngx_http_async_primes_count(NGX_HTTP_ASYNC_PRIMES_RECONNECTS);
        }

        ngx_log_error(level, redis->log, 0,
                      "async_primes: redis \"%V\"%s is reachable again",
                      &redis->name, redis->role);

    } else {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, redis->log, 0,
                       "async_primes: connected to redis \"%V\"%s",
                       &redis->name, redis->role);
    }

    if (redis->nchannels == 0) {
        return;
    }

    /* a subscriber: every message of its channels comes to one callback */

    argv[0] = "SUBSCRIBE";
    argvlen[0] = sizeof("SUBSCRIBE") - 1;

    for (i = 0; i < redis->nchannels; i++) {
        argv[i + 1] = (const char *) redis->channels[i].data;
        argvlen[i + 1] = redis->channels[i].len;
    }

    if (redisAsyncCommandArgv(ac, ngx_http_async_primes_redis_subscription,
                              redis, (int) redis->nchannels + 1, argv,
                              argvlen)
        != REDIS_OK)
    {
        ngx_http_async_primes_redis_failed(redis, NULL, "cannot subscribe");
        redis->ctx = NULL;
        redisAsyncFree(ac);
    }
}


/*
 * The replies of a subscription: ["subscribe", channel, count] once it
 * holds, then ["message", channel, data] for each message; NULL when the
 * connection is freed.
 */

static void
ngx_http_async_primes_redis_subscription(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_uint_t                      i;
    redisReply                     *reply = r;
    ngx_http_async_primes_redis_t  *redis = privdata;

    if (reply == NULL
        || redis->exiting
        || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    if (ngx_strcmp(reply->element[0]->str, "message") == 0
        && reply->element[2]->type == REDIS_REPLY_STRING)
    {
        for (i = 0; i < redis->nchannels; i++) {
            if (redis->channels[i].len == reply->element[1]->len
                && ngx_strncmp(redis->channels[i].data,
                               reply->element[1]->str,
                               reply->element[1]->len)
                   == 0)
            {
                redis->message(redis, i, (u_char *) reply->element[2]->str,
                               reply->element[2]->len);
                return;
            }
        }

        return;
    }

    /* once every channel holds */
    if (ngx_strcmp(reply->element[0]->str, "subscribe") == 0
        && reply->element[2]->type == REDIS_REPLY_INTEGER
        && (ngx_uint_t) reply->element[2]->integer == redis->nchannels)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, redis->log, 0,
                       "async_primes: subscribed on redis \"%V\"",
                       &redis->name);

        redis->subscribed(redis);
    }
}


/*
 * Every failure of the connection ends here: it is logged once per outage,
 * not once per attempt or per request.  A handshake command that Redis
 * refuses ("refused" is its name) is logged once more if the outage began
 * otherwise or with another refusal: a Redis that comes back with another
 * password needs the operator, and must not hide behind the first line.
 */

static void
ngx_http_async_primes_redis_failed(ngx_http_async_primes_redis_t *redis,
    const char *refused, const char *reason)
{
    size_t      len;
    ngx_uint_t  level;

    redis->ready = 0;

    if (redis->exiting) {
        return;
    }

    /* the connect timer, unless commands still wait to be failed */
    if (redis->timer.timer_set && ngx_queue_empty(&redis->pending)) {
        ngx_del_timer(&redis->timer);
    }

    /* Redis ends most of its error messages with a period */
    len = ngx_strlen(reason);

    if (len && reason[len - 1] == '.') {
        len--;
    }

    /*
     * The subscriber shares the Redis and the credentials of the commands'
     * connection, whose failures are logged: its own at "info", but for a
     * SUBSCRIBE that Redis refuses.
     */
    level = (redis->role[0] && (refused == NULL
                                || ngx_strcmp(refused, "SUBSCRIBE") != 0))
            ? NGX_LOG_INFO : NGX_LOG_ERR;

    if (redis->failing
        && (refused == NULL
            || (redis->refused && ngx_strcmp(refused, redis->refused) == 0)))
    {
        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, redis->log, 0,
                       "async_primes: redis \"%V\"%s still unavailable: %*s",
                       &redis->name, redis->role, len, reason);

    } else if (refused) {
        redis->failing = 1;
        redis->refused = refused;
        ngx_log_error(level, redis->log, 0,
                      "async_primes: redis \"%V\"%s refused %s: %*s, "
                      "retrying in the background",
                      &redis->name, redis->role, refused, len, reason);

    } else {
        redis->failing = 1;
        ngx_log_error(level, redis->log, 0,
                      "async_primes: redis \"%V\"%s is unreachable: %*s, "
                      "retrying in the background",
                      &redis->name, redis->role, len, reason);
    }

    ngx_http_async_primes_redis_schedule(redis);
}


static void
ngx_http_async_primes_redis_schedule(ngx_http_async_primes_redis_t *redis)
{
    if (redis->reconnect.timer_set) {
        return;
    }

    /* a worker that exits gracefully still writes the results it owes */
    if (ngx_terminate) {
        return;
    }

    ngx_add_timer(&redis->reconnect, redis->backoff);

    redis->backoff *= 2;

    if (redis->backoff > NGX_HTTP_ASYNC_PRIMES_BACKOFF_MAX) {
        redis->backoff = NGX_HTTP_ASYNC_PRIMES_BACKOFF_MAX;
    }
}


static void
ngx_http_async_primes_redis_reconnect_handler(ngx_event_t *ev)
{
    ngx_http_async_primes_redis_t  *redis = ev->data;

    if (redis->ctx != NULL || redis->exiting) {
        return;
    }

    ngx_http_async_primes_redis_connect(redis);
}


ngx_int_t
ngx_http_async_primes_redis_command(ngx_http_async_primes_redis_t *redis,
    ngx_http_async_primes_redis_handler_pt handler, void *data,
    ngx_http_async_primes_cmd_t **cmdp, int argc, const char **argv,
    const size_t *argvlen)
{
    ngx_http_async_primes_cmd_t  *cmd;

    if (redis->ctx == NULL) {
        return NGX_DECLINED;
    }

    cmd = ngx_alloc(sizeof(ngx_http_async_primes_cmd_t), redis->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    cmd->handler = handler;
    cmd->data = data;
    cmd->redis = redis;
    cmd->deadline = ngx_current_msec + redis->timeout;

    if (redisAsyncCommandArgv(redis->ctx, ngx_http_async_primes_redis_reply,
                              cmd, argc, argv, argvlen)
        != REDIS_OK)
    {
        ngx_free(cmd);
        return NGX_ERROR;
    }

    ngx_queue_insert_tail(&redis->pending, &cmd->queue);

    if (!redis->timer.timer_set) {
        ngx_http_async_primes_redis_set_timer(redis);

    } else {
        /*
         * Behind a connect: a worker that shuts down gracefully waits for
         * its handshake too, and answers the command either way.
         */
        redis->timer.cancelable = 0;
    }

    if (cmdp) {
        *cmdp = cmd;
    }

    return NGX_OK;
}


static void
ngx_http_async_primes_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_async_primes_cmd_t  *cmd = privdata;

    ngx_http_async_primes_redis_t  *redis;

    redis = cmd->redis;

    ngx_queue_remove(&cmd->queue);

    if (r != NULL) {
        ngx_http_async_primes_metrics_reply(ngx_current_msec
                                            - (cmd->deadline - redis->timeout));
    }

    /*
     * Every handler is called once, with no reply when the connection is
     * gone, also while the worker exits: a job counts its commands, and a
     * poll's cleanup points at its command until the handler has run.
     */
    if (cmd->handler) {
        cmd->handler(cmd->data, r);
    }

    if (!redis->exiting) {
        if (redis->timer.timer_set) {
            ngx_del_timer(&redis->timer);
        }

        if (!ngx_queue_empty(&redis->pending)) {
            ngx_http_async_primes_redis_set_timer(redis);
        }
    }

    ngx_free(cmd);
}


static void
ngx_http_async_primes_redis_set_timer(ngx_http_async_primes_redis_t *redis)
{
    ngx_msec_int_t                left;
    ngx_http_async_primes_cmd_t  *cmd;

    cmd = ngx_queue_data(ngx_queue_head(&redis->pending),
                         ngx_http_async_primes_cmd_t, queue);

    left = (ngx_msec_int_t) (cmd->deadline - ngx_current_msec);

    /*
     * Not cancelable: a worker that shuts down gracefully waits for the
     * replies it is owed, or for this timer to give up on them.
     */
    redis->timer.cancelable = 0;

    ngx_add_timer(&redis->timer, left > 0 ? (ngx_msec_t) left : 1);
}


static void
ngx_http_async_primes_redis_timer_handler(ngx_event_t *ev)
{
    ngx_http_async_primes_redis_t  *redis = ev->data;

    redisAsyncContext  *ac;

    ac = redis->ctx;

    if (ac == NULL) {
        return;
    }

    redis->ctx = NULL;

    ngx_http_async_primes_redis_failed(redis, NULL,
                                       redis->ready ? "command timed out"
                                                    : "connect timed out");

    /* fails every waiting command with a NULL reply */
    redisAsyncFree(ac);
}
