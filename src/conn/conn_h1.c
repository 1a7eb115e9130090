/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 connections: bytes to an h1 session, requests to rest, answers
 * back through rest's transport, each counted (http_* metrics) and logged
 * (access log); reading paused while the session is full; the header-read
 * (slowloris), stalled body and keep-alive idle timeouts on the
 * connection's idle timer. Loop thread only. */
#include <stdio.h>
#include <string.h>

#include "base/access_log.h"
#include "base/err.h"
#include "base/log.h"
#include "conn_internal.h"

/* Counts one HTTP/1.1 answer (http_requests_total{route,code} and
 * http_request_duration_seconds{route}) and writes its access log line. */
static void account(conn *c, int status, uint64_t bytes_out) {
  if (!c->req.route)
    return; /* not a request rest saw */
  const conn_ctx *ctx = c->ctx;
  double seconds = (double)(c->iof->now_ns(c->io) - c->req.t0_ns) / 1e9;
  if (ctx->http_requests) {
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    metric_inc(metrics_series(ctx->http_requests, (const char *[]){c->req.route, code}));
  }
  if (ctx->http_duration)
    metric_observe(metrics_series(ctx->http_duration, (const char *[]){c->req.route}),
                   seconds);
  access_entry e = {
      .protocol = "http",
      .peer = c->peer,
      .method = c->req.method,
      .route = c->req.route,
      .status = status,
      .ocr_status = c->req.ocr_status,
      .details = c->req.details,
      .queue_ms = c->req.queue_ms,
      .ocr_ms = c->req.ocr_ms,
      .bytes_in = c->req.bytes_in,
      .bytes_out = bytes_out,
      .duration_ms = seconds * 1000.0,
      .request_id = c->req.request_id[0] ? c->req.request_id : NULL,
      .request_id_trusted = c->req.id_generated,
      .failed = status >= 400,
  };
  access_log_write(&e);
  c->req.route = NULL;
}

/* ---- rest's transport ---- */

/* Answers with the request id echoed (the client's, or one made here),
 * then counts and logs the request. */
static int tr_respond(void *ud, int status, const hdr *hdrs, size_t n, const uint8_t *body,
                      size_t len) {
  conn *c = ud;
  c->rest_work = NULL;
  conn__want_write(c);
  hdr h[16];
  if (c->req.request_id[0] && n < sizeof h / sizeof h[0]) {
    memcpy(h, hdrs, n * sizeof *hdrs);
    h[n++] = hdr_make("x-request-id", c->req.request_id, strlen(c->req.request_id));
    hdrs = h;
  }
  int rc = h1_session_respond(c->h1, status, hdrs, n, body, len);
  account(c, status, len);
  return rc;
}

/* What an answer says in-band, for its access log line; merged, since an
 * OCR failure notes its times and then its details code. */
static void tr_note(void *ud, const char *ocr_status, const char *details, double queue_ms,
                    double ocr_ms) {
  conn *c = ud;
  if (ocr_status)
    c->req.ocr_status = ocr_status;
  if (details)
    c->req.details = details;
  if (queue_ms >= 0)
    c->req.queue_ms = queue_ms;
  if (ocr_ms >= 0)
    c->req.ocr_ms = ocr_ms;
}

const rest_transport conn_rest_transport = {.respond = tr_respond, .note = tr_note};

/* Starts the request's accounting: time, route, method, body bytes and
 * the request id (x-request-id, or with gen_id a new UUID while the
 * access log is on). */
static void begin_request(conn *c, const char *route, const char *method,
                          const hdr *headers, size_t nheaders, uint64_t bytes_in,
                          int gen_id) {
  memset(&c->req, 0, sizeof c->req);
  c->req.t0_ns = c->iof->now_ns(c->io);
  c->req.route = route;
  c->req.method = method;
  c->req.bytes_in = bytes_in;
  c->req.queue_ms = c->req.ocr_ms = -1;
  for (size_t i = 0; i < nheaders; i++) {
    const hdr *h = &headers[i];
    if (HDR_IS(h, "x-request-id") && h->value_len < sizeof c->req.request_id) {
      memcpy(c->req.request_id, h->value, h->value_len);
      c->req.request_id[h->value_len] = 0;
      break;
    }
  }
  if (gen_id && !c->req.request_id[0] && access_log_on_) {
    access_log_new_id(c->req.request_id);
    c->req.id_generated = 1;
  }
}

/* ---- h1 events ---- */

static void on_request(void *ud, const h1_request *r) {
  conn *c = ud;
  begin_request(c, rest_route_name(r->path), r->method, r->headers, r->nheaders,
                r->body_len, 1);
  rest_request rr = {
      .method = r->method,
      .path = r->path,
      .query = r->query,
      .headers = r->headers,
      .nheaders = r->nheaders,
      .body = r->body,
      .body_len = r->body_len,
  };
  rest_work *w = rest_handle(c->ctx->rest, c, &rr);
  if (w)
    c->rest_work = w;
}

/* Refused by h1 before routing (400, 413, 417, 431, 505): counted and
 * logged like an answered request, under the route its path names, or
 * "unknown" (as an unknown path) when the request line was not read
 * whole. No id is made up: the answer, already written by h1, could not
 * echo it. */
static void on_refused(void *ud, int status, const h1_request *r, size_t body_len) {
  conn *c = ud;
  begin_request(c, r->path ? rest_route_name(r->path) : "unknown", r->method, r->headers,
                r->nheaders, 0, 0);
  account(c, status, body_len);
}

static const h1_callbacks h1_cbs = {on_request, on_refused};

/* ---- timers ---- */

void conn__h1_timeout(conn *c) {
  static const char *const what[] = {"idle", "sending its request headers too slowly",
                                     "stalled in its request body", "waiting"};
  int ph = (int)h1_session_phase(c->h1);
  log_debug("conn %llu: HTTP/1.1 client %s: closing", (unsigned long long)c->id, what[ph]);
  conn__close(c);
}

/* Starts the timer the phase calls for: the header block must arrive
 * whole within the header timeout (a byte a second does not extend it),
 * a body must keep moving, an idle keep-alive connection closes. No timer
 * runs while a request is answered. */
static void update_timer(conn *c, int read_now) {
  if (c->closing)
    return;
  h1_phase ph = h1_session_phase(c->h1);
  uint64_t req = h1_session_requests(c->h1);
  const config *cfg = c->ctx->cfg;
  if ((int)ph == c->h1_timer_phase && req == c->h1_timer_req &&
      !((ph == H1_BODY || ph == H1_IDLE) && read_now))
    return;
  c->h1_timer_phase = (int)ph;
  c->h1_timer_req = req;
  switch (ph) {
  case H1_IDLE:
  case H1_BODY:
    conn__timer_start(c, CONN_TIMER_IDLE, cfg->http_idle_timeout_ms);
    break;
  case H1_HEADERS:
    conn__timer_start(c, CONN_TIMER_IDLE, cfg->http_header_timeout_ms);
    break;
  case H1_WAITING:
    conn__timer_stop(c, CONN_TIMER_IDLE);
    break;
  }
}

/* ---- bytes ---- */

void conn__h1_start(conn *c, const uint8_t *data, size_t len) {
  const config *cfg = c->ctx->cfg;
  h1_settings st = {.max_header_bytes = cfg->max_header_list_bytes,
                    .max_body_bytes = cfg->max_message_bytes};
  c->proto = CONN_H1;
  c->h1_timer_phase = -1;
  if (h1_session_new(&st, &h1_cbs, c, &c->h1)) {
    log_error("conn %llu: cannot create an HTTP/1.1 session", (unsigned long long)c->id);
    conn__close(c);
    return;
  }
  conn__h1_read(c, data, len, 0);
}

void conn__h1_read(conn *c, const uint8_t *data, size_t len, int eof) {
  if (len && h1_session_feed(c->h1, data, len)) {
    /* The error answer is queued: write it, read nothing more. */
    log_debug("conn %llu: malformed or refused HTTP/1.1 request",
              (unsigned long long)c->id);
    conn__read(c, 0);
  }
  if (eof) {
    h1_session_eof(c->h1);
    conn__read(c, 0);
  } else if (c->reading && h1_session_full(c->h1)) {
    conn__read(c, 0); /* resumed once answered */
  }
  if (c->closing)
    return;
  update_timer(c, 1);
  conn__want_write(c);
}

int conn__h1_pull(conn *c) {
  h1_session *s = c->h1;
  if (h1_session_has_input(s) && h1_session_phase(s) != H1_WAITING &&
      h1_session_feed(s, NULL, 0))
    conn__read(c, 0);
  if (c->closing)
    return -1;
  if (h1_session_pull(s, &c->out)) {
    conn__close(c);
    return -1;
  }
  return 0;
}

void conn__h1_written(conn *c) {
  if (h1_session_want_close(c->h1)) {
    conn__close(c);
    return;
  }
  if (!c->reading && !h1_session_full(c->h1))
    conn__read(c, 1);
  update_timer(c, 0);
}

void conn__h1_close(conn *c) {
  if (c->rest_work) {
    rest_work_cancel(c->rest_work);
    c->rest_work = NULL;
  }
  h1_session_free(c->h1);
  c->h1 = NULL;
}

void conn__h1_shutdown(conn *c) {
  /* Idle: closes at the next flush. A request under way is still read
   * and answered (503 for new work, /readyz says draining), then the
   * connection closes. */
  h1_session_drain(c->h1);
  conn__want_write(c);
}
