
/*
 * Copyright (C) The ngx_async_primes authors
 */


/*
 * Drives a hiredis async context with NGINX events: the hiredis socket is
 * wrapped in an ngx_connection_t whose read and write events call back
 * into hiredis.  The socket belongs to hiredis, which closes it: the
 * connection is released here without closing the descriptor again.  When
 * NGINX itself closes the connection (its worker_shutdown_timeout), the
 * adapter tells the owner of the context through a callback.
 */


#include "ngx_http_async_primes.h"


typedef struct {
    redisAsyncContext                        *context;
    ngx_http_async_primes_adapter_closed_pt   closed;
} ngx_http_async_primes_adapter_t;


static void ngx_http_async_primes_adapter_read(ngx_event_t *ev);
static void ngx_http_async_primes_adapter_write(ngx_event_t *ev);
static void ngx_http_async_primes_adapter_add_read(void *data);
static void ngx_http_async_primes_adapter_del_read(void *data);
static void ngx_http_async_primes_adapter_add_write(void *data);
static void ngx_http_async_primes_adapter_del_write(void *data);
static void ngx_http_async_primes_adapter_cleanup(void *data);


/* set while hiredis writes: a write it asks for then waits for the socket */
static ngx_uint_t  ngx_http_async_primes_adapter_writing;


ngx_int_t
ngx_http_async_primes_adapter_attach(redisAsyncContext *ac, ngx_log_t *log,
    ngx_http_async_primes_adapter_closed_pt closed)
{
    ngx_connection_t                 *c;
    ngx_http_async_primes_adapter_t  *adapter;

    /* nothing may be attached twice */
    if (ac->ev.data != NULL) {
        return NGX_ERROR;
    }

    adapter = ngx_alloc(sizeof(ngx_http_async_primes_adapter_t), log);
    if (adapter == NULL) {
        return NGX_ERROR;
    }

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        ngx_free(adapter);
        return NGX_ERROR;
    }

    adapter->context = ac;
    adapter->closed = closed;

    c->data = adapter;
    c->read->handler = ngx_http_async_primes_adapter_read;
    c->write->handler = ngx_http_async_primes_adapter_write;
    c->read->log = log;
    c->write->log = log;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_async_primes_adapter_add_read;
    ac->ev.delRead = ngx_http_async_primes_adapter_del_read;
    ac->ev.addWrite = ngx_http_async_primes_adapter_add_write;
    ac->ev.delWrite = ngx_http_async_primes_adapter_del_write;
    ac->ev.cleanup = ngx_http_async_primes_adapter_cleanup;

    return NGX_OK;
}


static void
ngx_http_async_primes_adapter_read(ngx_event_t *ev)
{
    ngx_connection_t                 *c;
    ngx_http_async_primes_adapter_t  *adapter;

    c = ev->data;
    adapter = c->data;

    /* NGINX closes the connection: its owner is told, and frees it */
    if (c->close) {
        adapter->closed(adapter->context);
        return;
    }

    /* the context, and with it this connection, may be freed in here */
    redisAsyncHandleRead(adapter->context);
}


static void
ngx_http_async_primes_adapter_write(ngx_event_t *ev)
{
    ngx_connection_t                 *c;

    ngx_http_async_primes_adapter_t  *adapter;

    c = ev->data;
    adapter = c->data;

    ngx_http_async_primes_adapter_writing = 1;

    redisAsyncHandleWrite(adapter->context);

    ngx_http_async_primes_adapter_writing = 0;
}


/*
 * Level-triggered events: hiredis reads at most one buffer a call, so with
 * edge-triggered events a burst of pipelined replies could wait forever.
 */

static void
ngx_http_async_primes_adapter_add_read(void *data)
{
    ngx_connection_t  *c = data;

    if (!c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                          "async_primes: could not add redis read event");
        }
    }
}


static void
ngx_http_async_primes_adapter_del_read(void *data)
{
    ngx_connection_t  *c = data;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


/*
 * Once connected, the commands queued while the cycle's events are handled
 * are written together after them, in the same cycle, without a write
 * event to wait for: that saves two epoll_ctl() calls and a trip through
 * epoll_wait() per batch.  Only what the socket did not take, and the
 * connect itself, wait for the socket to be writable.
 */

static void
ngx_http_async_primes_adapter_add_write(void *data)
{
    ngx_connection_t  *c = data;

    redisAsyncContext                *ac;
    ngx_http_async_primes_adapter_t  *adapter;

    adapter = c->data;
    ac = adapter->context;

    if ((ac->c.flags & REDIS_CONNECTED)
        && !ngx_http_async_primes_adapter_writing
        && !c->write->active)
    {
        if (!c->write->posted) {
            ngx_post_event(c->write, &ngx_posted_events);
        }

        return;
    }

    if (!c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                          "async_primes: could not add redis write event");
        }
    }
}


/*
 * Commands queued outside of the event loop's processing (at the start of
 * a graceful shutdown) would wait for the next cycle, and its timers,
 * before a posted write event ran: they are written at once.
 */

void
ngx_http_async_primes_adapter_flush(redisAsyncContext *ac)
{
    ngx_connection_t  *c;

    c = ac->ev.data;

    if (c != NULL && c->write->posted) {
        ngx_delete_posted_event(c->write);
        c->write->handler(c->write);
    }
}


static void
ngx_http_async_primes_adapter_del_write(void *data)
{
    ngx_connection_t  *c = data;

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }
}


static void
ngx_http_async_primes_adapter_cleanup(void *data)
{
    ngx_connection_t  *c = data;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free(c->data);
    ngx_free_connection(c);

    /* hiredis closes the descriptor itself */
    c->fd = (ngx_socket_t) -1;
}
