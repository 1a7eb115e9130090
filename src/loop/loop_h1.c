/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 connections: bytes between the socket and an h1 session,
 * requests to rest, answers back; the header-read (slowloris), stalled
 * body and keep-alive idle timeouts on the connection's idle timer. Loop
 * thread. */
#include <stdlib.h>
#include <string.h>

#include "base/access_log.h"
#include "base/err.h"
#include "base/log.h"
#include "loop_internal.h"

void loop__read_start(loop_conn *c);

/* ---- rest's transport ---- */

/* Answers with the request id echoed (the client's, or one made here),
 * then counts and logs the request. */
static int tr_respond(void *conn, int status, const hdr *hdrs, size_t n,
                      const uint8_t *body, size_t len) {
  loop_conn *c = conn;
  c->rest_work = NULL;
  loop__mark_dirty(c);
  hdr h[16];
  if (c->req.request_id[0] && n < sizeof h / sizeof h[0]) {
    memcpy(h, hdrs, n * sizeof *hdrs);
    h[n++] = hdr_make("x-request-id", c->req.request_id, strlen(c->req.request_id));
    hdrs = h;
  }
  int rc = h1_session_respond(c->h1, status, hdrs, n, body, len);
  loop__h1_account(c, status, len);
  return rc;
}

/* What an answer says in-band, for its access log line; merged, since an
 * OCR failure notes its times and then its details code. */
static void tr_note(void *conn, const char *ocr_status, const char *details,
                    double queue_ms, double ocr_ms) {
  loop_conn *c = conn;
  if (ocr_status)
    c->req.ocr_status = ocr_status;
  if (details)
    c->req.details = details;
  if (queue_ms >= 0)
    c->req.queue_ms = queue_ms;
  if (ocr_ms >= 0)
    c->req.ocr_ms = ocr_ms;
}

const rest_transport loop__rest_transport = {.respond = tr_respond, .note = tr_note};

/* Starts the request's accounting: time, route, method, body bytes and
 * the request id (x-request-id, or a new UUID while the access log is
 * on). */
static void begin_request(loop_conn *c, const h1_request *r) {
  memset(&c->req, 0, sizeof c->req);
  c->req.t0_ns = uv_hrtime();
  c->req.route = rest_route_name(r->path);
  c->req.method = r->method;
  c->req.bytes_in = r->body_len;
  c->req.queue_ms = c->req.ocr_ms = -1;
  for (size_t i = 0; i < r->nheaders; i++) {
    const hdr *h = &r->headers[i];
    if (HDR_IS(h, "x-request-id") && h->value_len < sizeof c->req.request_id) {
      memcpy(c->req.request_id, h->value, h->value_len);
      c->req.request_id[h->value_len] = 0;
      break;
    }
  }
  if (!c->req.request_id[0] && access_log_on_) {
    access_log_new_id(c->req.request_id);
    c->req.id_generated = 1;
  }
}

/* ---- h1 events ---- */

static void on_request(void *ud, const h1_request *r) {
  loop_conn *c = ud;
  begin_request(c, r);
  rest_request rr = {
      .method = r->method,
      .path = r->path,
      .query = r->query,
      .headers = r->headers,
      .nheaders = r->nheaders,
      .body = r->body,
      .body_len = r->body_len,
  };
  rest_work *w = rest_handle(c->srv->rest, c, &rr);
  if (w)
    c->rest_work = w;
}

static const h1_callbacks h1_cbs = {on_request};

/* ---- timers ---- */

static void on_timeout(uv_timer_t *t) {
  loop_conn *c = t->data;
  static const char *const what[] = {"idle", "sending its request headers too slowly",
                                     "stalled in its request body", "waiting"};
  int ph = c->proto == CONN_H1 ? (int)h1_session_phase(c->h1) : 1;
  log_debug("conn %llu: HTTP/1.1 client %s: closing", (unsigned long long)c->id, what[ph]);
  loop__conn_close(c);
}

/* Starts the timer the phase calls for: the header block must arrive
 * whole within the header timeout (a byte a second does not extend it),
 * a body must keep moving, an idle keep-alive connection closes. No timer
 * runs while a request is answered. */
static void update_timer(loop_conn *c, int read_now) {
  if (c->closing)
    return;
  h1_phase ph = h1_session_phase(c->h1);
  uint64_t req = h1_session_requests(c->h1);
  const config *cfg = c->srv->cfg;
  if ((int)ph == c->h1_timer_phase && req == c->h1_timer_req &&
      !((ph == H1_BODY || ph == H1_IDLE) && read_now))
    return;
  c->h1_timer_phase = (int)ph;
  c->h1_timer_req = req;
  switch (ph) {
  case H1_IDLE:
  case H1_BODY:
    uv_timer_start(&c->idle, on_timeout, cfg->http_idle_timeout_ms, 0);
    break;
  case H1_HEADERS:
    uv_timer_start(&c->idle, on_timeout, cfg->http_header_timeout_ms, 0);
    break;
  case H1_WAITING:
    uv_timer_stop(&c->idle);
    break;
  }
}

void loop__h1_start(loop_conn *c, const uint8_t *data, size_t len) {
  const config *cfg = c->srv->cfg;
  h1_settings st = {.max_header_bytes = cfg->max_header_list_bytes,
                    .max_body_bytes = cfg->max_message_bytes};
  c->proto = CONN_H1;
  c->h1_timer_phase = -1;
  c->h1 = h1_session_new(&st, &h1_cbs, c);
  loop__h1_read(c, data, len, 0);
}

void loop__h1_read(loop_conn *c, const uint8_t *data, size_t len, int eof) {
  if (len && h1_session_feed(c->h1, data, len)) {
    /* The error answer is queued: write it, read nothing more. */
    log_debug("conn %llu: malformed or refused HTTP/1.1 request",
              (unsigned long long)c->id);
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
  if (eof) {
    h1_session_eof(c->h1);
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  } else if (c->reading && h1_session_full(c->h1)) {
    uv_read_stop((uv_stream_t *)&c->tcp); /* resumed once answered */
    c->reading = 0;
  }
  if (c->closing)
    return;
  update_timer(c, 1);
  loop__mark_dirty(c);
}

int loop__h1_pull(loop_conn *c) {
  h1_session *s = c->h1;
  if (h1_session_has_input(s) && h1_session_phase(s) != H1_WAITING &&
      h1_session_feed(s, NULL, 0)) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
  if (c->closing)
    return -1;
  h1_session_pull(s, &c->wbuf);
  return 0;
}

void loop__h1_after_write(loop_conn *c) {
  if (h1_session_want_close(c->h1)) {
    loop__conn_close(c);
    return;
  }
  if (!c->reading && !h1_session_full(c->h1) && !h1_session_want_close(c->h1))
    loop__read_start(c);
  update_timer(c, 0);
}

void loop__h1_close(loop_conn *c) {
  if (c->rest_work) {
    rest_work_cancel(c->rest_work);
    c->rest_work = NULL;
  }
  h1_session_free(c->h1);
  c->h1 = NULL;
}

void loop__h1_shutdown(loop_conn *c) {
  /* Idle: closes at the next flush. A request under way is still read
   * and answered (503 for new work, /readyz says draining), then the
   * connection closes. */
  h1_session_drain(c->h1);
  loop__mark_dirty(c);
}

size_t loop__h1_busy(const loop_server *srv) {
  size_t n = 0;
  for (const loop_conn *c = srv->conns; c; c = c->next)
    n += c->proto == CONN_H1 && !c->closing &&
         (h1_session_phase(c->h1) != H1_IDLE || h1_session_has_input(c->h1));
  return n;
}
