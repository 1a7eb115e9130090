/* SPDX-License-Identifier: MIT */
/* TCP connections: accept, read into the connection's protocol glue
 * (src/conn: sniffing, h2 and rpc, h1 and rest, timers' decisions), write
 * what it produces, close. Output is gathered per connection and written
 * once per loop iteration from a check handle (or after FLUSH_EVERY_READS
 * reads), in the order the connections had output, so a burst of
 * responses costs one write. Loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/list.h"
#include "base/log.h"
#include "base/ocrpc_alloc.h"
#include "base/ocrpc_assert.h"
#include "loop_internal.h"
#include "loop_tls.h"

/* With a thousand connections readable at once, an iteration reads them
 * all before its check handle writes anything: the first answer waited
 * for the last request to be read, and a request arriving just after the
 * poll waited two whole iterations. Writing what is ready after every 64
 * reads bounds that wait; below 64 ready connections nothing changes
 * (c=1000 m=1 A/B in bench/OPTIMISATIONS.md). */
#define FLUSH_EVERY_READS 64

typedef struct write_req {
  uv_write_t req;
  loop_conn *conn;
  uint8_t *data;
} write_req;

static void close_conn(loop_conn *c);
static void flush_conn(loop_conn *c);

static void on_idle(uv_idle_t *h) { (void)h; }
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

static inline void mark_dirty(loop_conn *c) {
  if (c->is_dirty || c->closing)
    return;
  loop_server *srv = c->srv;
  /* The dirty list: head and tail are both set or both empty. */
  OCRPC_ASSERT(!srv->dirty == !srv->dirty_tail);
  OCRPC_ASSERT(!srv->dirty_tail || srv->dirty_tail->dirty_next == NULL);
  if (!srv->dirty)
    uv_idle_start(&srv->flush_idle, on_idle);
  c->is_dirty = 1;
  c->dirty_next = NULL;
  if (srv->dirty)
    srv->dirty_tail->dirty_next = c;
  else
    srv->dirty = c;
  srv->dirty_tail = c;
}

static void flush_dirty(loop_server *srv) {
  loop_conn *c = srv->dirty;
  srv->dirty = srv->dirty_tail = NULL;
  srv->reads_unflushed = 0;
  uv_idle_stop(&srv->flush_idle);
  while (c) {
    loop_conn *next = c->dirty_next;
    c->is_dirty = 0;
    c->dirty_next = NULL;
    if (!c->closing)
      flush_conn(c);
    c = next;
  }
}

static void on_flush_check(uv_check_t *h) {
  loop_server *srv = h->data;
  flush_dirty(srv);
  loop__after_flush(srv);
}

/* ---- what src/conn asks of the socket ---- */

static void io_want_write(void *io) { mark_dirty(io); }

static void io_read(void *io, int on) {
  loop_conn *c = io;
  if (on)
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  else
    uv_read_stop((uv_stream_t *)&c->tcp);
}

static void on_timer(uv_timer_t *t) {
  loop_conn *c = t->data;
  conn_timeout(c->conn, t == &c->keepalive ? CONN_TIMER_KEEPALIVE : CONN_TIMER_IDLE);
}

static void io_timer_start(void *io, conn_timer t, uint64_t ms) {
  loop_conn *c = io;
  uv_timer_start(t == CONN_TIMER_KEEPALIVE ? &c->keepalive : &c->idle, on_timer, ms, 0);
}

static void io_timer_stop(void *io, conn_timer t) {
  loop_conn *c = io;
  uv_timer_stop(t == CONN_TIMER_KEEPALIVE ? &c->keepalive : &c->idle);
}

static void io_close(void *io) { close_conn(io); }

static uint64_t io_now_ns(void *io) {
  (void)io;
  return uv_hrtime();
}

const conn_io loop__conn_io = {
    .want_write = io_want_write,
    .read = io_read,
    .timer_start = io_timer_start,
    .timer_stop = io_timer_stop,
    .close = io_close,
    .now_ns = io_now_ns,
};

/* ---- socket I/O ---- */

static void on_write(uv_write_t *req, int status) {
  write_req *wr = (write_req *)req;
  loop_conn *c = wr->conn;
  free(wr->data);
  free(wr);
  c->writing = 0;
  if (c->closing)
    return;
  if (status) {
    log_debug("conn %llu: write failed: %s", (unsigned long long)c->id,
              uv_strerror(status));
    close_conn(c);
    return;
  }
  flush_conn(c);
}

static void flush_conn(loop_conn *c) {
  if (c->writing || c->closing)
    return;
  buf *out = conn_output(c->conn);
  for (;;) {
    /* Under TLS, HTTP/2 waits for the handshake (its bytes come first). */
    if (conn_pull(c->conn, c->tls && !loop__tls_handshake_done(c->tls)))
      return;
    if (c->tls && loop__tls_seal(c->tls, out)) {
      close_conn(c);
      return;
    }
    if (out->len == 0) {
      conn_written(c->conn);
      return;
    }
    uv_buf_t b = uv_buf_init((char *)out->data, (unsigned)out->len);
    int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (w == (int)out->len) {
      buf_reset(out);
      continue; /* the session may have more now that a window opened */
    }
    if (w < 0 && w != UV_EAGAIN) {
      close_conn(c);
      return;
    }
    if (w > 0)
      buf_consume(out, (size_t)w);
    write_req *wr = ocrpc_malloc(sizeof *wr);
    size_t len;
    wr->conn = c;
    wr->data = buf_steal(out, &len);
    b = uv_buf_init((char *)wr->data, (unsigned)len);
    if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_write)) {
      free(wr->data);
      free(wr);
      close_conn(c);
      return;
    }
    c->writing = 1;
    return;
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  (void)suggested;
  loop_conn *c = h->data;
  b->base = (char *)c->srv->rbuf;
  b->len = sizeof c->srv->rbuf;
}

static int feed_plain(void *ud, const uint8_t *data, size_t len) {
  loop_conn *c = ud;
  return conn_feed(c->conn, data, len);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  loop_conn *c = s->data;
  if (nread == 0 || c->closing)
    return;
  if (nread == UV_EOF) {
    conn_eof(c->conn);
    return;
  }
  if (nread < 0) {
    log_debug("conn %llu: read failed: %s", (unsigned long long)c->id,
              uv_strerror((int)nread));
    close_conn(c);
    return;
  }
  /* Only HTTP/2 reads count towards an early flush (FLUSH_EVERY_READS). */
  int h2 = conn_protocol(c->conn) == CONN_H2;
  if (!c->tls) {
    conn_feed(c->conn, (const uint8_t *)b->base, (size_t)nread);
  } else {
    int rc = loop__tls_feed(c->tls, (const uint8_t *)b->base, (size_t)nread, feed_plain, c);
    if (rc && !c->closing && conn_close_after_flush(c->conn)) {
      /* A TLS failure (the session's own errors were logged by src/conn):
       * its alert goes out, then the connection closes. */
      if (rc == ERR_IO || !loop__tls_handshake_done(c->tls))
        log_debug("conn %llu: TLS %s; closing", (unsigned long long)c->id,
                  rc == ERR_IO ? "close_notify" : "handshake failed");
      else
        log_info("conn %llu: TLS record error from the client; closing",
                 (unsigned long long)c->id);
    }
    mark_dirty(c); /* the handshake's answer, when no plaintext came */
  }
  if (h2 && !c->closing && ++c->srv->reads_unflushed >= FLUSH_EVERY_READS)
    flush_dirty(c->srv);
}

static void on_closed(uv_handle_t *h) {
  loop_conn *c = h->data;
  if (--c->handles > 0)
    return;
  conn_free(c->conn);
  free(c);
}

static void close_conn(loop_conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  loop_server *srv = c->srv;
  if (c->is_dirty) {
    /* Marked again while being flushed (an HTTP/1.1 answer queued by
     * pipelined input): off the list before its memory goes. */
    loop_conn **pp = &srv->dirty, *prev = NULL;
    while (*pp && *pp != c) {
      prev = *pp;
      pp = &(*pp)->dirty_next;
    }
    /* Not found: it is on the list flush_dirty is walking now, which
     * skips closing connections and ends before the memory is freed. */
    if (*pp) {
      *pp = c->dirty_next;
      if (srv->dirty_tail == c)
        srv->dirty_tail = prev;
      if (!srv->dirty)
        uv_idle_stop(&srv->flush_idle);
      c->is_dirty = 0;
    }
  }
  OCRPC_ASSERT(c->prev ? c->prev->next == c : srv->conns == c);
  OCRPC_ASSERT(!c->next || c->next->prev == c);
  OCRPC_ASSERT(srv->nconns > 0);
  DLIST_UNLINK(srv->conns, c);
  if (c->conn)
    conn_close(c->conn);
  loop__tls_free(c->tls);
  c->tls = NULL;
  srv->nconns--;
  uv_close((uv_handle_t *)&c->keepalive, on_closed);
  uv_close((uv_handle_t *)&c->idle, on_closed);
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* "127.0.0.1:40312" or "[::1]:40312", once per connection. */
static void format_peer(uv_tcp_t *tcp, char *peer, size_t size) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  char ip[48];
  if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET6 &&
        uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip) == 0) {
      snprintf(peer, size, "[%s]:%d", ip, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
      return;
    }
    if (ss.ss_family == AF_INET &&
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip) == 0) {
      snprintf(peer, size, "%s:%d", ip, ntohs(((struct sockaddr_in *)&ss)->sin_port));
      return;
    }
  }
  snprintf(peer, size, "unknown");
}

static void accept_conn(uv_stream_t *listener, int status, int http_only) {
  loop_server *srv = listener->data;
  if (status < 0) {
    log_warn("accept failed: %s", uv_strerror(status));
    return;
  }
  loop_conn *c = ocrpc_calloc(1, sizeof *c);
  c->srv = srv;
  c->id = ++srv->next_conn_id;
  uv_tcp_init(srv->loop, &c->tcp);
  c->tcp.data = c;
  c->handles = 1;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp)) {
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    return;
  }
  if (srv->nconns >= srv->cfg->max_connections) {
    /* Closed at once rather than left in the backlog: the client sees why
     * sooner, and we log once per episode, not per connection. */
    if (!srv->conns_refused)
      log_warn("--max-connections %d reached: closing new connections until some close",
               srv->cfg->max_connections);
    srv->conns_refused = 1;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    return;
  }
  if (srv->conns_refused && srv->nconns < srv->cfg->max_connections * 9 / 10) {
    srv->conns_refused = 0;
    log_info("connections back under --max-connections (%d open)", srv->nconns);
  }
  char peer[64];
  format_peer(&c->tcp, peer, sizeof peer);
  c->conn = conn_new(&srv->cc, c, c->id, peer);
  uv_tcp_nodelay(&c->tcp, 1);
  uv_timer_init(srv->loop, &c->keepalive);
  uv_timer_init(srv->loop, &c->idle);
  c->keepalive.data = c->idle.data = c;
  c->handles = 3;
  DLIST_PUSH(srv->conns, c);
  srv->nconns++;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  /* TLS: the decrypted first bytes are sniffed as on the plaintext port
   * (ALPN h2 or http/1.1 tells the client which to send). */
  if (srv->tls_ctx && !(c->tls = loop__tls_new(srv->tls_ctx, http_only))) {
    log_error("conn %llu: cannot create a TLS session", (unsigned long long)c->id);
    close_conn(c);
    return;
  }
  conn_start(c->conn, http_only ? CONN_H1 : CONN_SNIFF);
}

static void on_connection(uv_stream_t *listener, int status) {
  accept_conn(listener, status, 0);
}

static void on_http_connection(uv_stream_t *listener, int status) {
  accept_conn(listener, status, 1);
}

void loop__shutdown_all(loop_server *srv) {
  for (loop_conn *c = srv->conns, *next; c; c = next) {
    next = c->next;
    conn_shutdown(c->conn);
  }
}

size_t loop__h2_shutdown_pending(const loop_server *srv) {
  size_t n = 0;
  for (const loop_conn *c = srv->conns; c; c = c->next)
    n += !c->closing && conn_shutdown_pending(c->conn);
  return n;
}

size_t loop__h1_busy(const loop_server *srv) {
  size_t n = 0;
  for (const loop_conn *c = srv->conns; c; c = c->next)
    n += !c->closing && conn_h1_busy(c->conn);
  return n;
}

void loop__close_all(loop_server *srv) {
  while (srv->conns)
    close_conn(srv->conns);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss) {
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
    return 0;
  if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
    return 0;
  return UV_EINVAL;
}

/* Binds and listens on host:port; logs the bound address with `what`. */
static int listen_on(loop_server *srv, uv_tcp_t *l, int port, uv_connection_cb cb,
                     const char *what) {
  uv_tcp_init(srv->loop, l);
  l->data = srv;
  struct sockaddr_storage ss;
  int rc = resolve(srv->cfg->host, port, &ss);
  if (rc) {
    log_error("--host %s is not an IPv4 or IPv6 address", srv->cfg->host);
    return rc;
  }
  if ((rc = uv_tcp_bind(l, (struct sockaddr *)&ss, 0)) ||
      (rc = uv_listen((uv_stream_t *)l, 1024, cb))) {
    log_error("cannot listen on %s:%d: %s", srv->cfg->host, port, uv_strerror(rc));
    return rc;
  }
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_getsockname(l, (struct sockaddr *)&bound, &len);
  char ip[64];
  if (bound.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&bound, ip, sizeof ip);
    log_info(what, "[", ip, "]", ntohs(((struct sockaddr_in6 *)&bound)->sin6_port));
  } else {
    uv_ip4_name((struct sockaddr_in *)&bound, ip, sizeof ip);
    log_info(what, "", ip, "", ntohs(((struct sockaddr_in *)&bound)->sin_port));
  }
  return 0;
}

int loop__listen(loop_server *srv) {
  uv_check_init(srv->loop, &srv->flush_check);
  srv->flush_check.data = srv;
  uv_check_start(&srv->flush_check, on_flush_check);
  uv_idle_init(srv->loop, &srv->flush_idle);
  /* Test harnesses read the port from the first line ("listening on"):
   * the HTTP line says "at" so that it never matches theirs. */
  /* With TLS both ports speak it (ALPN h2 and http/1.1 on the gRPC port,
   * http/1.1 on the REST port): no plaintext port is left open. */
  int rc = listen_on(srv, &srv->listener, srv->cfg->port, on_connection,
                     srv->tls_ctx ? "listening on %s%s%s:%d (gRPC and HTTP/1.1 over TLS)"
                                  : "listening on %s%s%s:%d (gRPC and HTTP/1.1)");
  if (rc || srv->cfg->http_port_num < 0)
    return rc;
  srv->http_listening = 1;
  return listen_on(srv, &srv->http_listener, srv->cfg->http_port_num, on_http_connection,
                   srv->tls_ctx ? "REST over HTTP/1.1 at %s%s%s:%d (over TLS)"
                                : "REST over HTTP/1.1 at %s%s%s:%d");
}
