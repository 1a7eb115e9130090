/* SPDX-License-Identifier: MIT */
/* Shared inside src/conn (and its tests): the connection struct and the
 * HTTP/1.1 half's entry points, which conn.c calls once a connection
 * speaks HTTP/1.1. Loop thread only. */
#ifndef OCRPC_CONN_INTERNAL_H
#define OCRPC_CONN_INTERNAL_H

#include "conn.h"
#include "h1/h1.h"

struct conn {
  const conn_ctx *ctx;
  const conn_io *iof; /* ctx->io, one load nearer on the hot path */
  void *io;
  uint64_t id;
  conn_proto proto;
  uint8_t sniffed[24]; /* first bytes while still undecided */
  size_t nsniffed;
  h2_session *h2;
  h1_session *h1;
  rest_work *rest_work;  /* the h1 request being answered, if async */
  int h1_timer_phase;    /* the h1_phase the idle timer was started for */
  uint64_t h1_timer_req; /* and the request it was started in */
  int reading;           /* the owner reads the socket */
  int idle_armed;        /* CONN_TIMER_IDLE runs */
  int awaiting_ack;      /* a keepalive PING is out */
  int handshake_done;    /* preface + SETTINGS received; keepalive runs after */
  int closing;
  int close_after_flush;
  int want_write; /* io->want_write called since the last conn_pull */
  char peer[64];  /* "address:port", for the access log */
  /* The HTTP/1.1 request being answered (one at a time per connection),
   * for http_* metrics and its access log line (conn_h1.c). */
  struct {
    uint64_t t0_ns;
    const char *route;  /* rest_route_name */
    const char *method; /* static (h1) */
    uint64_t bytes_in;
    char request_id[129];
    int id_generated;
    const char *ocr_status, *details;
    double queue_ms, ocr_ms;
  } req;
  buf out; /* bytes pulled from the session, not yet handed to the socket */
};

static inline void conn__want_write(conn *c) {
  if (c->want_write || c->closing)
    return;
  c->want_write = 1;
  c->iof->want_write(c->io);
}

static inline void conn__read(conn *c, int on) {
  if (c->reading == on)
    return;
  c->reading = on;
  c->iof->read(c->io, on);
}

static inline void conn__timer_stop(conn *c, conn_timer t) {
  if (t == CONN_TIMER_IDLE)
    c->idle_armed = 0;
  c->iof->timer_stop(c->io, t);
}

static inline void conn__timer_start(conn *c, conn_timer t, uint64_t ms) {
  if (t == CONN_TIMER_IDLE)
    c->idle_armed = 1;
  c->iof->timer_start(c->io, t, ms);
}

/* Asks the owner to close (idempotent through c->closing, which the
 * owner's conn_close sets). */
static inline void conn__close(conn *c) {
  if (!c->closing)
    c->iof->close(c->io);
}

/* conn_h1.c */
/* Makes c an HTTP/1.1 connection and feeds it what was read so far. */
void conn__h1_start(conn *c, const uint8_t *data, size_t len);
/* Bytes read; len 0 with eof at end of input. */
void conn__h1_read(conn *c, const uint8_t *data, size_t len, int eof);
/* Goes on with pipelined input; moves h1's output to c->out. 0, or -1
 * when the connection closed. */
int conn__h1_pull(conn *c);
void conn__h1_written(conn *c);
void conn__h1_timeout(conn *c);
void conn__h1_close(conn *c);
void conn__h1_shutdown(conn *c);

#endif
