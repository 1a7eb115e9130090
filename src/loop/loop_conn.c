/* SPDX-License-Identifier: MIT */
/* TCP connections: accept, sniff the first bytes on the gRPC port (the
 * HTTP/2 client preface, else HTTP/1.1: loop_h1.c), read into the h2
 * session, write what it produces, close. Output is gathered per connection and written
 * once per loop iteration from a check handle (or after FLUSH_EVERY_READS reads), in the
 * order the connections had output, so a burst of responses costs one write. Loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/ocrpc_alloc.h"
#include "base/ocrpc_assert.h"
#include "loop_internal.h"
#include "loop_tls.h"

/* Stop pulling frames from nghttp2 above this: the rest stays queued in
 * the session until the socket drains. */
#define WRITE_HIGH_WATER (1u << 20)

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

static void conn_close(loop_conn *c);
static void conn_flush(loop_conn *c);

static void on_idle(uv_idle_t *h) { (void)h; }
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void sniff(loop_conn *c, const uint8_t *data, size_t len);

static void mark_dirty(loop_conn *c) {
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
      conn_flush(c);
    c = next;
  }
}

static void on_flush_check(uv_check_t *h) {
  loop_server *srv = h->data;
  flush_dirty(srv);
  loop__after_flush(srv);
}

/* ---- the rpc transport over h2 ---- */

static int tr_respond(void *conn, int32_t sid, const hdr *h, size_t n, int end) {
  loop_conn *c = conn;
  mark_dirty(c);
  return h2_respond(c->h2, sid, h, n, end);
}

static int tr_send_data(void *conn, int32_t sid, const uint8_t *d, size_t n) {
  loop_conn *c = conn;
  mark_dirty(c);
  return h2_send_data(c->h2, sid, d, n);
}

static int tr_send_buf(void *conn, int32_t sid, buf *b) {
  loop_conn *c = conn;
  mark_dirty(c);
  return h2_send_buf(c->h2, sid, b);
}

static int tr_send_trailers(void *conn, int32_t sid, const hdr *h, size_t n) {
  loop_conn *c = conn;
  mark_dirty(c);
  return h2_send_trailers(c->h2, sid, h, n);
}

static int tr_reset(void *conn, int32_t sid, uint32_t code) {
  loop_conn *c = conn;
  mark_dirty(c);
  return h2_reset(c->h2, sid, code);
}

static size_t tr_pending(void *conn, int32_t sid) {
  loop_conn *c = conn;
  return h2_stream_pending(c->h2, sid) + c->wbuf.len;
}

static void tr_notify_drain(void *conn, int32_t sid) {
  loop_conn *c = conn;
  mark_dirty(c);
  h2_stream_notify_drain(c->h2, sid);
}

static const char *tr_peer(void *conn) {
  loop_conn *c = conn;
  return c->peer;
}

static void tr_pause_read(void *conn, int32_t sid, int paused) {
  loop_conn *c = conn;
  mark_dirty(c); /* a WINDOW_UPDATE may be due */
  h2_stream_pause_read(c->h2, sid, paused);
}

const rpc_transport loop__transport = {
    .respond = tr_respond,
    .send_data = tr_send_data,
    .send_buf = tr_send_buf,
    .send_trailers = tr_send_trailers,
    .reset = tr_reset,
    .pending = tr_pending,
    .notify_drain = tr_notify_drain,
    .peer = tr_peer,
    .pause_read = tr_pause_read,
};

/* ---- h2 events up to rpc ---- */

static void on_idle_timeout(uv_timer_t *t) {
  loop_conn *c = t->data;
  log_debug("conn %llu: idle for %llu ms: closing", (unsigned long long)c->id,
            (unsigned long long)c->srv->cfg->max_connection_idle_ms);
  h2_session_terminate(c->h2, H2_NO_ERROR, "max_idle");
  mark_dirty(c);
}

static void idle_start(loop_conn *c) {
  uint64_t ms = c->srv->cfg->max_connection_idle_ms;
  if (ms && !c->closing)
    uv_timer_start(&c->idle, on_idle_timeout, ms, 0);
}

/* Keepalive: every keepalive_time a PING; if its ACK has not come
 * keepalive_timeout later, the peer is gone and the connection closes
 * (its calls are cancelled). */
static void on_keepalive(uv_timer_t *t) {
  loop_conn *c = t->data;
  const config *cfg = c->srv->cfg;
  if (!c->handshake_done) {
    /* The same timer first bounds the handshake (slowloris: connections
     * that never send the preface would be held for the keepalive time). */
    log_debug("conn %llu: no HTTP/2 preface and SETTINGS within %llu ms: closing",
              (unsigned long long)c->id, (unsigned long long)cfg->handshake_timeout_ms);
    conn_close(c);
    return;
  }
  if (c->awaiting_ack) {
    c->awaiting_ack = 0;
    if (h2_session_ping_outstanding(c->h2)) {
      log_info("conn %llu: keepalive ping unanswered for %llu ms: closing",
               (unsigned long long)c->id, (unsigned long long)cfg->keepalive_timeout_ms);
      conn_close(c);
      return;
    }
    uv_timer_start(&c->keepalive, on_keepalive, cfg->keepalive_time_ms, 0);
    return;
  }
  if (h2_session_ping(c->h2) == 0) {
    c->awaiting_ack = 1;
    mark_dirty(c);
  }
  uv_timer_start(&c->keepalive, on_keepalive, cfg->keepalive_timeout_ms, 0);
}

static int on_request(void *ud, int32_t sid, const hdr *hdrs, size_t n, void **sud) {
  loop_conn *c = ud;
  uv_timer_stop(&c->idle);
  rpc_call *call = h2_stream_header_overflow(c->h2, sid)
                       ? rpc_call_start_oversized(c->srv->rpc, c, sid, hdrs, n)
                       : rpc_call_start(c->srv->rpc, c, sid, hdrs, n);
  *sud = call;
  return 0;
}

static int on_data(void *ud, void *sud, const uint8_t *data, size_t len) {
  (void)ud;
  return rpc_call_data(sud, data, len);
}

static void on_end(void *ud, void *sud) {
  (void)ud;
  rpc_call_end(sud);
}

static void on_stream_close(void *ud, void *sud, uint32_t code) {
  loop_conn *c = ud;
  rpc_call_close(sud, code);
  if (h2_session_streams(c->h2) == 0)
    idle_start(c);
}

static void on_drain(void *ud, void *sud) {
  (void)ud;
  rpc_call_drained(sud);
}

static const h2_callbacks h2_cbs = {on_request, on_data, on_end, on_stream_close, on_drain};

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
    conn_close(c);
    return;
  }
  conn_flush(c);
}

static void conn_flush(loop_conn *c) {
  if (c->writing || c->closing)
    return;
  for (;;) {
    const uint8_t *data;
    ssize_t n = 0;
    if (c->proto == CONN_H1 && loop__h1_pull(c))
      return;
    /* Under TLS, HTTP/2 waits for the handshake (its bytes come first). */
    int hold = c->tls && !loop__tls_handshake_done(c->tls);
    while (!hold && c->proto == CONN_H2 && c->wbuf.len < WRITE_HIGH_WATER &&
           (n = h2_session_pull(c->h2, &data)) > 0) {
      buf_append(&c->wbuf, data, (size_t)n);
    }
    if (n < 0) {
      log_debug("conn %llu: h2 send failed: %s", (unsigned long long)c->id,
                err_name((int)n));
      conn_close(c);
      return;
    }
    if (c->tls && loop__tls_seal(c->tls, &c->wbuf)) {
      conn_close(c);
      return;
    }
    if (c->wbuf.len == 0) {
      if (c->proto == CONN_H1)
        loop__h1_after_write(c);
      else if (c->close_after_flush || (c->h2 && !h2_session_alive(c->h2)))
        conn_close(c);
      return;
    }
    uv_buf_t b = uv_buf_init((char *)c->wbuf.data, (unsigned)c->wbuf.len);
    int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (w == (int)c->wbuf.len) {
      buf_reset(&c->wbuf);
      continue; /* the session may have more now that a window opened */
    }
    if (w < 0 && w != UV_EAGAIN) {
      conn_close(c);
      return;
    }
    if (w > 0)
      buf_consume(&c->wbuf, (size_t)w);
    write_req *wr = ocrpc_malloc(sizeof *wr);
    size_t len;
    wr->conn = c;
    wr->data = buf_steal(&c->wbuf, &len);
    b = uv_buf_init((char *)wr->data, (unsigned)len);
    if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_write)) {
      free(wr->data);
      free(wr);
      conn_close(c);
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

/* Once the client's preface and SETTINGS are in, the keepalive timer
 * stops bounding the handshake and starts pinging. */
static void check_handshake(loop_conn *c) {
  if (c->handshake_done || c->closing || !c->h2 || !h2_session_handshake_done(c->h2))
    return;
  c->handshake_done = 1;
  uv_timer_start(&c->keepalive, on_keepalive, c->srv->cfg->keepalive_time_ms, 0);
}

static int feed_h2(void *ud, const uint8_t *data, size_t len) {
  loop_conn *c = ud;
  return h2_session_feed(c->h2, data, len);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  loop_conn *c = s->data;
  if (nread == 0 || c->closing)
    return;
  if (nread == UV_EOF && c->proto == CONN_H1) {
    loop__h1_read(c, NULL, 0, 1); /* answer what was asked, then close */
    return;
  }
  if (nread < 0) {
    if (nread != UV_EOF)
      log_debug("conn %llu: read failed: %s", (unsigned long long)c->id,
                uv_strerror((int)nread));
    conn_close(c);
    return;
  }
  if (c->proto == CONN_H1) {
    loop__h1_read(c, (const uint8_t *)b->base, (size_t)nread, 0);
    return;
  }
  if (c->proto == CONN_SNIFF) {
    sniff(c, (const uint8_t *)b->base, (size_t)nread);
    check_handshake(c);
    return;
  }
  int rc = c->tls
               ? loop__tls_feed(c->tls, (const uint8_t *)b->base, (size_t)nread, feed_h2, c)
               : h2_session_feed(c->h2, (const uint8_t *)b->base, (size_t)nread);
  check_handshake(c);
  if (rc) {
    if (c->tls && (rc == ERR_IO || !loop__tls_handshake_done(c->tls)))
      log_debug("conn %llu: TLS %s; closing", (unsigned long long)c->id,
                rc == ERR_IO ? "close_notify" : "handshake failed");
    else
      log_info("conn %llu: HTTP/2 protocol error from the client; closing",
               (unsigned long long)c->id);
    /* Write the GOAWAY nghttp2 queued, then close. */
    uv_read_stop(s);
    c->close_after_flush = 1;
  }
  mark_dirty(c);
  if (++c->srv->reads_unflushed >= FLUSH_EVERY_READS)
    flush_dirty(c->srv);
}

static void on_closed(uv_handle_t *h) {
  loop_conn *c = h->data;
  if (--c->handles > 0)
    return;
  buf_free(&c->wbuf);
  free(c);
}

static void conn_close(loop_conn *c) {
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
  if (c->prev)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  /* Streams still open cancel their work here; no write reaches a
   * connection that is going away. */
  h2_session_free(c->h2);
  c->h2 = NULL;
  loop__tls_free(c->tls);
  c->tls = NULL;
  if (c->proto == CONN_H1)
    loop__h1_close(c);
  log_debug("conn %llu: closed", (unsigned long long)c->id);
  srv->nconns--;
  uv_close((uv_handle_t *)&c->keepalive, on_closed);
  uv_close((uv_handle_t *)&c->idle, on_closed);
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* "127.0.0.1:40312" or "[::1]:40312", once per connection. */
static void format_peer(loop_conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  char ip[48];
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET6 &&
        uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip) == 0) {
      snprintf(c->peer, sizeof c->peer, "[%s]:%d", ip,
               ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
      return;
    }
    if (ss.ss_family == AF_INET &&
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip) == 0) {
      snprintf(c->peer, sizeof c->peer, "%s:%d", ip,
               ntohs(((struct sockaddr_in *)&ss)->sin_port));
      return;
    }
  }
  snprintf(c->peer, sizeof c->peer, "unknown");
}

/* The connection speaks HTTP/2: the session starts and our SETTINGS go
 * out first; then what was read so far is fed to it. */
static void h2_start(loop_conn *c, const uint8_t *data, size_t len) {
  loop_server *srv = c->srv;
  c->proto = CONN_H2;
  if (h2_session_new(&srv->h2, &h2_cbs, c, &c->h2)) {
    log_error("conn %llu: cannot create HTTP/2 session", (unsigned long long)c->id);
    conn_close(c);
    return;
  }
  uv_timer_stop(&c->idle);
  /* The keepalive timer first bounds the rest of the handshake: SETTINGS
   * (on_keepalive closes, check_handshake switches it to keepalive). */
  uv_timer_start(&c->keepalive, on_keepalive, srv->cfg->handshake_timeout_ms, 0);
  idle_start(c);
  mark_dirty(c);
  if (len && h2_session_feed(c->h2, data, len)) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->close_after_flush = 1;
  }
}

/* gRPC port: the first bytes decide. An HTTP/2 client opens with the
 * fixed 24-byte preface (RFC 9113 section 3.4); no HTTP/1.1 request line
 * starts with it, so the first byte that differs makes the connection
 * HTTP/1.1, and only a preface still incomplete waits for more. */
static void sniff(loop_conn *c, const uint8_t *data, size_t len) {
  static const char preface[24] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  size_t take =
      len < sizeof c->sniffed - c->nsniffed ? len : sizeof c->sniffed - c->nsniffed;
  memcpy(c->sniffed + c->nsniffed, data, take);
  size_t have = c->nsniffed + take;
  int match = memcmp(c->sniffed, preface, have) == 0;
  if (match && have < sizeof preface) {
    c->nsniffed = have;
    return;
  }
  /* Decided: hand over the bytes kept and the rest of this read. */
  uint8_t first[24];
  memcpy(first, c->sniffed, c->nsniffed);
  size_t nfirst = c->nsniffed;
  c->nsniffed = 0;
  if (match) {
    h2_start(c, first, nfirst);
    if (!c->closing && c->proto == CONN_H2 && !c->close_after_flush &&
        h2_session_feed(c->h2, data, len)) {
      uv_read_stop((uv_stream_t *)&c->tcp);
      c->close_after_flush = 1;
    }
    return;
  }
  loop__h1_start(c, first, nfirst);
  if (!c->closing)
    loop__h1_read(c, data, len, 0);
}

static void on_sniff_timeout(uv_timer_t *t) {
  loop_conn *c = t->data;
  log_debug("conn %llu: sent no request within %llu ms: closing", (unsigned long long)c->id,
            (unsigned long long)c->srv->cfg->http_header_timeout_ms);
  conn_close(c);
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
  uv_tcp_nodelay(&c->tcp, 1);
  format_peer(c);
  uv_timer_init(srv->loop, &c->keepalive);
  uv_timer_init(srv->loop, &c->idle);
  c->keepalive.data = c->idle.data = c;
  c->handles = 3;
  c->next = srv->conns;
  if (srv->conns)
    srv->conns->prev = c;
  srv->conns = c;
  srv->nconns++;
  c->reading = 1;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (http_only) {
    loop__h1_start(c, NULL, 0);
  } else if (srv->tls_ctx) {
    /* TLS: ALPN is h2 only, so no sniffing; the handshake timeout covers
     * the TLS handshake, the preface and SETTINGS. */
    if (!(c->tls = loop__tls_new(srv->tls_ctx))) {
      log_error("conn %llu: cannot create a TLS session", (unsigned long long)c->id);
      conn_close(c);
      return;
    }
    h2_start(c, NULL, 0);
  } else {
    /* Until the first bytes come, the header timeout applies. */
    uv_timer_start(&c->idle, on_sniff_timeout, srv->cfg->http_header_timeout_ms, 0);
  }
}

static void on_connection(uv_stream_t *listener, int status) {
  accept_conn(listener, status, 0);
}

static void on_http_connection(uv_stream_t *listener, int status) {
  accept_conn(listener, status, 1);
}

void loop__mark_dirty(loop_conn *c) { mark_dirty(c); }
void loop__conn_close(loop_conn *c) { conn_close(c); }
void loop__conn_flush(loop_conn *c) { conn_flush(c); }

void loop__read_start(loop_conn *c) {
  c->reading = 1;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

void loop__shutdown_all(loop_server *srv) {
  for (loop_conn *c = srv->conns, *next; c; c = next) {
    next = c->next;
    if (c->proto == CONN_H2) {
      h2_session_shutdown(c->h2);
      mark_dirty(c);
    } else if (c->proto == CONN_H1) {
      loop__h1_shutdown(c);
    } else {
      conn_close(c); /* no request yet */
    }
  }
}

size_t loop__h2_shutdown_pending(const loop_server *srv) {
  size_t n = 0;
  for (const loop_conn *c = srv->conns; c; c = c->next)
    n += c->proto == CONN_H2 && !c->closing && c->h2 && h2_session_shutdown_pending(c->h2);
  return n;
}

void loop__close_all(loop_server *srv) {
  while (srv->conns)
    conn_close(srv->conns);
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
  /* With TLS the port offers ALPN h2 only, so it answers gRPC alone. */
  int rc = listen_on(srv, &srv->listener, srv->cfg->port, on_connection,
                     srv->tls_ctx ? "listening on %s%s%s:%d (gRPC over TLS)"
                                  : "listening on %s%s%s:%d (gRPC and HTTP/1.1)");
  if (rc || srv->cfg->http_port_num < 0)
    return rc;
  srv->http_listening = 1;
  return listen_on(srv, &srv->http_listener, srv->cfg->http_port_num, on_http_connection,
                   "REST over HTTP/1.1 at %s%s%s:%d");
}
