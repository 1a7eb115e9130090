/* SPDX-License-Identifier: MIT */
/* A connection's life without its socket: the first-bytes sniff, HTTP/2
 * (the session, rpc's transport over it, its events up to rpc, the
 * handshake bound, keepalive PINGs, the idle timeout, GOAWAY on drain),
 * output pulled up to a high-water mark, and when to close. HTTP/1.1 is in
 * conn_h1.c. Loop thread only. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/ocrpc_alloc.h"
#include "conn_internal.h"

/* Stop pulling frames from nghttp2 above this: the rest stays queued in
 * the session until the socket drains. */
#define WRITE_HIGH_WATER (1u << 20)

/* ---- the rpc transport over h2 ---- */

static int tr_respond(void *ud, int32_t sid, const hdr *h, size_t n, int end) {
  conn *c = ud;
  conn__want_write(c);
  return h2_respond(c->h2, sid, h, n, end);
}

static int tr_send_data(void *ud, int32_t sid, const uint8_t *d, size_t n) {
  conn *c = ud;
  conn__want_write(c);
  return h2_send_data(c->h2, sid, d, n);
}

static int tr_send_buf(void *ud, int32_t sid, buf *b) {
  conn *c = ud;
  conn__want_write(c);
  return h2_send_buf(c->h2, sid, b);
}

static int tr_send_trailers(void *ud, int32_t sid, const hdr *h, size_t n) {
  conn *c = ud;
  conn__want_write(c);
  return h2_send_trailers(c->h2, sid, h, n);
}

static int tr_reset(void *ud, int32_t sid, uint32_t code) {
  conn *c = ud;
  conn__want_write(c);
  return h2_reset(c->h2, sid, code);
}

/* Queued in the session plus pulled and not yet taken by the socket. */
static size_t tr_pending(void *ud, int32_t sid) {
  conn *c = ud;
  return h2_stream_pending(c->h2, sid) + c->out.len;
}

static void tr_notify_drain(void *ud, int32_t sid) {
  conn *c = ud;
  conn__want_write(c);
  h2_stream_notify_drain(c->h2, sid);
}

static const char *tr_peer(void *ud) {
  conn *c = ud;
  return c->peer;
}

static void tr_pause_read(void *ud, int32_t sid, int paused) {
  conn *c = ud;
  conn__want_write(c); /* a WINDOW_UPDATE may be due */
  h2_stream_pause_read(c->h2, sid, paused);
}

const rpc_transport conn_rpc_transport = {
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

/* The idle timer runs while an HTTP/2 connection has no stream. */
static void idle_start(conn *c) {
  uint64_t ms = c->ctx->cfg->max_connection_idle_ms;
  if (ms && !c->closing)
    conn__timer_start(c, CONN_TIMER_IDLE, ms);
}

static int on_request(void *ud, int32_t sid, const hdr *hdrs, size_t n, void **sud) {
  conn *c = ud;
  if (c->idle_armed)
    conn__timer_stop(c, CONN_TIMER_IDLE);
  rpc_call *call = h2_stream_header_overflow(c->h2, sid)
                       ? rpc_call_start_oversized(c->ctx->rpc, c, sid, hdrs, n)
                       : rpc_call_start(c->ctx->rpc, c, sid, hdrs, n);
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
  conn *c = ud;
  rpc_call_close(sud, code);
  /* The setting first: off (the default), no stream count is needed. */
  if (c->ctx->cfg->max_connection_idle_ms && h2_session_streams(c->h2) == 0)
    idle_start(c);
}

static void on_drain(void *ud, void *sud) {
  (void)ud;
  rpc_call_drained(sud);
}

static const h2_callbacks h2_cbs = {on_request, on_data, on_end, on_stream_close, on_drain};

/* ---- timers ---- */

/* Keepalive: every keepalive_time a PING; if its ACK has not come
 * keepalive_timeout later, the peer is gone and the connection closes
 * (its calls are cancelled). */
static void on_keepalive(conn *c) {
  const config *cfg = c->ctx->cfg;
  if (!c->handshake_done) {
    /* The same timer first bounds the handshake (slowloris: connections
     * that never send the preface would be held for the keepalive time). */
    log_debug("conn %llu: no HTTP/2 preface and SETTINGS within %llu ms: closing",
              (unsigned long long)c->id, (unsigned long long)cfg->handshake_timeout_ms);
    conn__close(c);
    return;
  }
  if (c->awaiting_ack) {
    c->awaiting_ack = 0;
    if (h2_session_ping_outstanding(c->h2)) {
      log_info("conn %llu: keepalive ping unanswered for %llu ms: closing",
               (unsigned long long)c->id, (unsigned long long)cfg->keepalive_timeout_ms);
      conn__close(c);
      return;
    }
    conn__timer_start(c, CONN_TIMER_KEEPALIVE, cfg->keepalive_time_ms);
    return;
  }
  if (h2_session_ping(c->h2) == 0) {
    c->awaiting_ack = 1;
    conn__want_write(c);
  }
  conn__timer_start(c, CONN_TIMER_KEEPALIVE, cfg->keepalive_timeout_ms);
}

void conn_timeout(conn *c, conn_timer t) {
  if (c->closing)
    return;
  if (t == CONN_TIMER_KEEPALIVE) {
    on_keepalive(c);
    return;
  }
  c->idle_armed = 0;
  switch (c->proto) {
  case CONN_SNIFF:
    log_debug("conn %llu: sent no request within %llu ms: closing",
              (unsigned long long)c->id,
              (unsigned long long)c->ctx->cfg->http_header_timeout_ms);
    conn__close(c);
    break;
  case CONN_H2:
    log_debug("conn %llu: idle for %llu ms: closing", (unsigned long long)c->id,
              (unsigned long long)c->ctx->cfg->max_connection_idle_ms);
    h2_session_terminate(c->h2, H2_NO_ERROR, "max_idle");
    conn__want_write(c);
    break;
  case CONN_H1:
    conn__h1_timeout(c);
    break;
  }
}

/* Once the client's preface and SETTINGS are in, the keepalive timer
 * stops bounding the handshake and starts pinging. */
static void check_handshake(conn *c) {
  if (c->handshake_done || c->closing || !c->h2 || !h2_session_handshake_done(c->h2))
    return;
  c->handshake_done = 1;
  conn__timer_start(c, CONN_TIMER_KEEPALIVE, c->ctx->cfg->keepalive_time_ms);
}

/* ---- starting ---- */

void conn_ctx_init(conn_ctx *ctx, const config *cfg, const conn_io *io) {
  memset(ctx, 0, sizeof *ctx);
  ctx->cfg = cfg;
  ctx->io = io;
  ctx->h2.max_concurrent_streams = (uint32_t)cfg->max_concurrent_streams;
  ctx->h2.initial_window_size = (uint32_t)cfg->initial_window_bytes;
  ctx->h2.connection_window_size = (uint32_t)cfg->initial_window_bytes;
  ctx->h2.max_header_list_size = (uint32_t)cfg->max_header_list_bytes;
  ctx->h2.min_ping_interval_ms = cfg->min_ping_interval_ms;
  ctx->h2.max_ping_strikes = (uint32_t)cfg->max_ping_strikes;
}

conn *conn_new(const conn_ctx *ctx, void *io, uint64_t id, const char *peer) {
  conn *c = ocrpc_calloc(1, sizeof *c);
  c->ctx = ctx;
  c->iof = ctx->io;
  c->io = io;
  c->id = id;
  c->reading = 1;
  c->h1_timer_phase = -1;
  c->out = (buf)BUF_INIT;
  size_t n = strlen(peer);
  if (n >= sizeof c->peer)
    n = sizeof c->peer - 1;
  memcpy(c->peer, peer, n);
  return c;
}

/* The session reported a protocol error: write the GOAWAY it queued, read
 * nothing more, then close. */
static void h2_failed(conn *c) {
  log_info("conn %llu: HTTP/2 protocol error from the client; closing",
           (unsigned long long)c->id);
  conn_close_after_flush(c);
}

/* The connection speaks HTTP/2: the session starts and our SETTINGS go
 * out first; then what was read so far is fed to it. */
static void h2_start(conn *c, const uint8_t *data, size_t len) {
  c->proto = CONN_H2;
  if (h2_session_new(&c->ctx->h2, &h2_cbs, c, &c->h2)) {
    log_error("conn %llu: cannot create HTTP/2 session", (unsigned long long)c->id);
    conn__close(c);
    return;
  }
  /* The keepalive timer first bounds the rest of the handshake: SETTINGS
   * (on_keepalive closes, check_handshake switches it to keepalive). */
  conn__timer_start(c, CONN_TIMER_KEEPALIVE, c->ctx->cfg->handshake_timeout_ms);
  if (c->idle_armed)
    conn__timer_stop(c, CONN_TIMER_IDLE);
  idle_start(c);
  conn__want_write(c);
  if (len && h2_session_feed(c->h2, data, len))
    h2_failed(c);
}

void conn_start(conn *c, conn_proto how) {
  switch (how) {
  case CONN_H1:
    conn__h1_start(c, NULL, 0);
    break;
  case CONN_H2:
    h2_start(c, NULL, 0);
    break;
  case CONN_SNIFF:
    /* Until the first bytes come, the header timeout applies. */
    conn__timer_start(c, CONN_TIMER_IDLE, c->ctx->cfg->http_header_timeout_ms);
    break;
  }
}

/* gRPC port: the first bytes decide. An HTTP/2 client opens with the
 * fixed 24-byte preface (RFC 9113 section 3.4); no HTTP/1.1 request line
 * starts with it, so the first byte that differs makes the connection
 * HTTP/1.1, and only a preface still incomplete waits for more. */
static int sniff(conn *c, const uint8_t *data, size_t len) {
  static const char preface[24] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  size_t take =
      len < sizeof c->sniffed - c->nsniffed ? len : sizeof c->sniffed - c->nsniffed;
  memcpy(c->sniffed + c->nsniffed, data, take);
  size_t have = c->nsniffed + take;
  int match = memcmp(c->sniffed, preface, have) == 0;
  if (match && have < sizeof preface) {
    c->nsniffed = have;
    return 0;
  }
  /* Decided: hand over the bytes kept and the rest of this read. */
  uint8_t first[24];
  memcpy(first, c->sniffed, c->nsniffed);
  size_t nfirst = c->nsniffed;
  c->nsniffed = 0;
  if (match) {
    h2_start(c, first, nfirst);
    if (!c->closing && c->proto == CONN_H2 && !c->close_after_flush) {
      int rc = h2_session_feed(c->h2, data, len);
      if (rc) {
        h2_failed(c);
        return rc;
      }
    }
    check_handshake(c);
    return 0;
  }
  conn__h1_start(c, first, nfirst);
  if (!c->closing)
    conn__h1_read(c, data, len, 0);
  return 0;
}

int conn_feed(conn *c, const uint8_t *data, size_t len) {
  if (c->closing || !len)
    return 0;
  switch (c->proto) {
  case CONN_H1:
    conn__h1_read(c, data, len, 0);
    return 0;
  case CONN_SNIFF:
    return sniff(c, data, len);
  case CONN_H2:
    break;
  }
  int rc = h2_session_feed(c->h2, data, len);
  check_handshake(c);
  if (rc)
    h2_failed(c);
  conn__want_write(c);
  return rc;
}

void conn_eof(conn *c) {
  if (c->closing)
    return;
  if (c->proto == CONN_H1)
    conn__h1_read(c, NULL, 0, 1); /* answer what was asked, then close */
  else
    conn__close(c);
}

int conn_close_after_flush(conn *c) {
  conn__read(c, 0);
  conn__want_write(c);
  if (c->close_after_flush)
    return 0;
  c->close_after_flush = 1;
  return 1;
}

/* ---- output ---- */

static long pull_h2(void *h2, const uint8_t **data) { return h2_session_pull(h2, data); }

int conn_pull(conn *c, int hold) {
  if (c->closing)
    return -1;
  c->want_write = 0;
  if (c->proto == CONN_H1)
    return conn__h1_pull(c);
  if (c->proto != CONN_H2 || hold)
    return 0;
  int n = buf_gather(&c->out, WRITE_HIGH_WATER, pull_h2, c->h2);
  if (n < 0) {
    log_debug("conn %llu: h2 send failed: %s", (unsigned long long)c->id, err_name(n));
    conn__close(c);
    return -1;
  }
  return 0;
}

buf *conn_output(conn *c) { return &c->out; }

void conn_written(conn *c) {
  if (c->closing)
    return;
  /* close_after_flush first: a TLS failure on an HTTP/1.1 connection
   * (REST over TLS) closes once its alert is out, as HTTP/2 ones do. */
  if (c->close_after_flush)
    conn__close(c);
  else if (c->proto == CONN_H1)
    conn__h1_written(c);
  else if (c->h2 && !h2_session_alive(c->h2))
    conn__close(c);
}

/* ---- the end ---- */

void conn_shutdown(conn *c) {
  if (c->closing)
    return;
  switch (c->proto) {
  case CONN_H2:
    h2_session_shutdown(c->h2);
    conn__want_write(c);
    break;
  case CONN_H1:
    conn__h1_shutdown(c);
    break;
  case CONN_SNIFF:
    conn__close(c); /* no request yet */
    break;
  }
}

void conn_close(conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  /* Streams still open cancel their work here; no write reaches a
   * connection that is going away. */
  h2_session_free(c->h2);
  c->h2 = NULL;
  if (c->proto == CONN_H1)
    conn__h1_close(c);
  log_debug("conn %llu: closed", (unsigned long long)c->id);
}

void conn_free(conn *c) {
  if (!c)
    return;
  buf_free(&c->out);
  free(c);
}

conn_proto conn_protocol(const conn *c) { return c->proto; }

int conn_shutdown_pending(const conn *c) {
  return c->proto == CONN_H2 && !c->closing && c->h2 && h2_session_shutdown_pending(c->h2);
}

int conn_h1_busy(const conn *c) {
  return c->proto == CONN_H1 && !c->closing &&
         (h1_session_phase(c->h1) != H1_IDLE || h1_session_has_input(c->h1));
}
