/* SPDX-License-Identifier: MIT */
/* One gRPC call on one stream: validates the request headers, reassembles,
 * inflates and decodes the request message, dispatches the handler when
 * the client half-closes, and writes headers, messages and trailers.
 * Loop thread. */
#include <pb_decode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/access_log.h"
#include "base/auth.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "base/log.h"
#include "base/ocrpc_assert.h"
#include "rpc_internal.h"

#define ACCEPT_ENCODING "identity,gzip"

/* The call has its answer: its deadline no longer matters, and it is
 * counted and logged. */
static void call_done(rpc_call *c, rpc_status status, const char *msg) {
  OCRPC_ASSERT(c->state != CALL_DONE); /* one status per call */
  c->state = CALL_DONE;
  rpc__call_account(c, status, msg);
  if (c->deadline) {
    c->srv->timers->stop(c->srv->timers, c->deadline);
    c->deadline = NULL;
  }
}

/* Response headers: status, content type, what we accept, what we send
 * with, and the request id echoed. Returns the count (at most 5). */
static size_t response_headers(const rpc_call *c, hdr *h) {
  size_t n = 0;
  h[n++] = (hdr)HDR_LIT(":status", "200");
  h[n++] = (hdr)HDR_LIT("content-type", "application/grpc");
  h[n++] = (hdr)HDR_LIT("grpc-accept-encoding", ACCEPT_ENCODING);
  if (c->gzip_out)
    h[n++] = (hdr)HDR_LIT("grpc-encoding", "gzip");
  if (c->request_id[0])
    h[n++] = hdr_make("x-request-id", c->request_id, strlen(c->request_id));
  else if (c->gen_id[0])
    h[n++] = hdr_make("x-request-id", c->gen_id, sizeof c->gen_id - 1);
  return n;
}

/* The grpc-status header: the code in decimal, written by hand (this
 * runs for every call; snprintf cost ~600 instructions of a ~30k mock
 * call). Codes are 0-16; anything else is sent as it is, up to 999. */
static hdr status_header(rpc_status status, char st[4]) {
  unsigned v = (unsigned)status > 999 ? (unsigned)RPC_UNKNOWN : (unsigned)status;
  size_t n = 0;
  if (v >= 100)
    st[n++] = (char)('0' + v / 100);
  if (v >= 10)
    st[n++] = (char)('0' + v / 10 % 10);
  st[n++] = (char)('0' + v % 10);
  st[n] = 0;
  return hdr_make("grpc-status", st, n);
}

static void http_error(rpc_call *c, const char *status, rpc_status grpc, const char *msg) {
  char st[4];
  hdr h[] = {
      hdr_make(":status", status, strlen(status)),
      HDR_LIT("content-type", "application/grpc"),
      status_header(grpc, st),
      hdr_make("grpc-message", msg, strlen(msg)),
  };
  c->srv->tr->respond(c->conn, c->stream_id, h, 4, 1);
  call_done(c, grpc, msg);
}

/* Ends the call with trailers (status, message, extras); Trailers-Only
 * when no headers were sent, so one HEADERS frame carries everything. */
static void send_status(rpc_call *c, rpc_status status, const char *msg, const hdr *extra,
                        size_t nextra) {
  char st[4], enc[1024];
  hdr h[12];
  size_t n = c->headers_sent ? 0 : response_headers(c, h);
  h[n++] = status_header(status, st);
  if (msg && *msg) {
    size_t len = rpc_percent_encode(msg, strlen(msg), enc, sizeof enc);
    h[n++] = hdr_make("grpc-message", enc, len);
  }
  for (size_t i = 0; i < nextra; i++)
    h[n++] = extra[i];
  if (c->headers_sent)
    c->srv->tr->send_trailers(c->conn, c->stream_id, h, n);
  else
    c->srv->tr->respond(c->conn, c->stream_id, h, n, 1);
  call_done(c, status, msg);
}

void rpc__call_fail(rpc_call *c, rpc_status status, const char *msg) {
  if (c->state == CALL_DONE)
    return;
  send_status(c, status, msg, NULL, 0);
  log_debug("stream %d: status %d %s", c->stream_id, (int)status, msg ? msg : "");
}

void rpc__call_fail_err(rpc_call *c, int err, const char *msg) {
  rpc__call_fail(c, rpc_status_from_err(err), msg ? msg : err_text(err));
}

void rpc__call_reply(rpc_call *c, const pb_msgdesc_t *fields, const void *msg) {
  if (rpc__call_send(c, fields, msg) == 0)
    rpc__call_finish(c);
}

/* Replaces a framed message with its gzip form when that is smaller. */
static void compress_framed(buf *framed) {
  buf z = BUF_INIT;
  buf_reserve(&z, 5);
  z.len = 5;
  rpc__gzip(framed->data + 5, framed->len - 5, &z);
  if (z.len >= framed->len) {
    buf_free(&z);
    return;
  }
  size_t n = z.len - 5;
  z.data[0] = 1;
  z.data[1] = (uint8_t)(n >> 24);
  z.data[2] = (uint8_t)(n >> 16);
  z.data[3] = (uint8_t)(n >> 8);
  z.data[4] = (uint8_t)n;
  buf_free(framed);
  *framed = z;
}

static void fail_encode(rpc_call *c, int rc) {
  rpc__call_fail_err(c, rc,
                     rc == ERR_MSG_TOO_LARGE ? "response exceeds the message size limit"
                     : rc == ERR_INTERNAL    ? "response could not be encoded"
                                             : NULL);
}

int rpc__call_send_framed(rpc_call *c, buf *framed) {
  if (c->state == CALL_DONE)
    return ERR_INVAL;
  if (c->gzip_out && framed->len - 5 >= RPC_GZIP_MIN_BYTES)
    compress_framed(framed);
  const rpc_transport *tr = c->srv->tr;
  c->bytes_out += framed->len;
  if (!c->headers_sent) {
    hdr h[8];
    size_t n = response_headers(c, h);
    tr->respond(c->conn, c->stream_id, h, n, 0);
    c->headers_sent = 1;
  }
  if (tr->send_buf)
    return tr->send_buf(c->conn, c->stream_id, framed);
  return tr->send_data(c->conn, c->stream_id, framed->data, framed->len);
}

int rpc__call_send(rpc_call *c, const pb_msgdesc_t *fields, const void *msg) {
  if (c->state == CALL_DONE)
    return ERR_INVAL;
  buf out = BUF_INIT;
  int rc = rpc_encode_message(&out, fields, msg, c->srv->cfg->max_message_bytes);
  if (rc)
    fail_encode(c, rc);
  else
    rc = rpc__call_send_framed(c, &out);
  buf_free(&out);
  return rc;
}

void rpc__call_finish(rpc_call *c) {
  if (c->state == CALL_DONE)
    return;
  send_status(c, RPC_OK, NULL, NULL, 0);
}

static void resume_held(rpc_call *c);

void rpc_call_drained(rpc_call *c) {
  if (c->held.len && !c->decoding) {
    resume_held(c);
    return;
  }
  if (c->work && c->drained)
    c->drained(c->work);
}

static void refuse_path(rpc_call *c, const char *path, size_t len) {
  int service_known = 0;
  rpc__method_find(path, len, &service_known);
  char msg[512];
  if (service_known)
    snprintf(msg, sizeof msg, "unknown method %.*s", (int)len, path);
  else
    snprintf(msg, sizeof msg, "unknown service %.*s", (int)len, path);
  rpc__call_fail(c, RPC_UNIMPLEMENTED, msg);
}

static void detach_work(rpc_call *c) {
  if (c->work && c->detach)
    c->detach(c->work);
  c->work = NULL;
}

/* The client's deadline passed: answer now and stop the work, so the
 * worker is free for the next job at once. */
static void on_deadline(void *arg) {
  rpc_call *c = arg;
  c->deadline = NULL; /* the timer frees itself after firing */
  detach_work(c);
  rpc__call_fail(c, RPC_DEADLINE_EXCEEDED, "deadline exceeded");
}

static int value_is(const hdr *h, const char *v) {
  size_t n = strlen(v);
  return h->value_len == n && memcmp(h->value, v, n) == 0;
}

/* 1 if the comma-separated list in h names `token`. */
static int list_has(const hdr *h, const char *token) {
  size_t tl = strlen(token);
  const char *p = h->value, *end = h->value + h->value_len;
  while (p < end) {
    while (p < end && (*p == ' ' || *p == ','))
      p++;
    const char *q = p;
    while (q < end && *q != ',' && *q != ' ')
      q++;
    if ((size_t)(q - p) == tl && memcmp(p, token, tl) == 0)
      return 1;
    p = q;
  }
  return 0;
}

typedef struct req_headers {
  const hdr *method, *path, *ctype, *te, *enc, *accept_enc, *timeout, *request_id, *authz;
} req_headers;

static void scan_headers(req_headers *r, const hdr *hdrs, size_t n) {
  memset(r, 0, sizeof *r);
  for (size_t i = 0; i < n; i++) {
    const hdr *h = &hdrs[i];
    if (HDR_IS(h, ":method"))
      r->method = h;
    else if (HDR_IS(h, ":path"))
      r->path = h;
    else if (HDR_IS(h, "content-type"))
      r->ctype = h;
    else if (HDR_IS(h, "te"))
      r->te = h;
    else if (HDR_IS(h, "grpc-encoding"))
      r->enc = h;
    else if (HDR_IS(h, "grpc-accept-encoding"))
      r->accept_enc = h;
    else if (HDR_IS(h, "grpc-timeout"))
      r->timeout = h;
    else if (HDR_IS(h, "x-request-id"))
      r->request_id = h;
    else if (HDR_IS(h, "authorization"))
      r->authz = h;
  }
}

/* The token check, the one place every call passes (rpc_server_set_auth).
 * The answer to a refused call never says what was wrong (missing,
 * malformed or unknown token), and the header is never logged. */
static int authorized(const rpc_server *srv, const rpc_method *m, const hdr *authz) {
  if (!srv->auth || (m->flags & RPC_M_NO_AUTH))
    return 1;
  if ((m->flags & RPC_M_REFLECTION) && strcmp(srv->cfg->auth_reflection, "off") == 0)
    return 1;
  return authz && auth_check_bearer(srv->auth, authz->value, authz->value_len);
}

/* Checks what makes a request gRPC at all; answers and returns non-zero
 * when it is not. */
static int refuse_transport(rpc_call *c, const req_headers *r) {
  if (!r->method || !value_is(r->method, "POST")) {
    http_error(c, "405", RPC_UNIMPLEMENTED, "gRPC requires POST");
    return 1;
  }
  /* application/grpc, application/grpc+proto, application/grpc;... */
  const char *sub;
  size_t n;
  if (!r->ctype ||
      !rpc_content_type_is_grpc(r->ctype->value, r->ctype->value_len, &sub, &n)) {
    http_error(c, "415", RPC_INTERNAL, "content-type must be application/grpc");
    return 1;
  }
  /* The codec: proto only. grpc-go answers other subtypes INTERNAL; we
   * say UNIMPLEMENTED (a valid gRPC request for something not served),
   * +json included: JSON is served by the REST front door, and a gRPC
   * JSON codec has no agreed mapping across client stacks. */
  if (sub) {
    if (n != 5 || strncasecmp(sub, "proto", 5) != 0) {
      char msg[128];
      snprintf(msg, sizeof msg, "content-subtype %.*s is not supported (only proto)",
               (int)(n > 64 ? 64 : n), sub);
      rpc__call_fail(c, RPC_UNIMPLEMENTED, msg);
      return 1;
    }
  }
  /* grpc-go accepts a missing te; a wrong one is a broken proxy. */
  if (r->te && !value_is(r->te, "trailers")) {
    http_error(c, "400", RPC_INTERNAL, "te must be trailers");
    return 1;
  }
  return 0;
}

static rpc_call *call_new(rpc_server *srv, void *conn, int32_t stream_id, req_headers *r,
                          const hdr *hdrs, size_t n) {
  rpc_call *c = ocrpc_calloc(1, sizeof *c);
  c->srv = srv;
  c->conn = conn;
  c->stream_id = stream_id;
  c->t_start_ns = clock_mono_ns();
  c->queue_ms = c->ocr_ms = -1;
  rpc_deframer_init(&c->deframer, srv->cfg->max_message_bytes);
  srv->ncalls++;
  scan_headers(r, hdrs, n);
  if (r->request_id && r->request_id->value_len < sizeof c->request_id)
    memcpy(c->request_id, r->request_id->value, r->request_id->value_len);
  /* An id of our own only for the access log line, which the client can
   * then find by the echoed header; not recorded in the job store (that
   * stays for ids the client chose). */
  if (!c->request_id[0] && access_log_on_)
    access_log_new_id(c->gen_id);
  if (r->accept_enc && list_has(r->accept_enc, "gzip"))
    c->gzip_out = 1;
  return c;
}

rpc_call *rpc_call_start_oversized(rpc_server *srv, void *conn, int32_t stream_id,
                                   const hdr *hdrs, size_t n) {
  req_headers r;
  rpc_call *c = call_new(srv, conn, stream_id, &r, hdrs, n);
  /* What gRPC C-core answers: the call fails, the connection lives. */
  char msg[128];
  snprintf(msg, sizeof msg,
           "request metadata exceeds the header list limit of %llu bytes "
           "(--max-header-list-bytes)",
           (unsigned long long)srv->cfg->max_header_list_bytes);
  rpc__call_fail(c, RPC_RESOURCE_EXHAUSTED, msg);
  return c;
}

rpc_call *rpc_call_start(rpc_server *srv, void *conn, int32_t stream_id, const hdr *hdrs,
                         size_t n) {
  req_headers r;
  rpc_call *c = call_new(srv, conn, stream_id, &r, hdrs, n);
  if (refuse_transport(c, &r))
    return c;
  if (!r.path) {
    rpc__call_fail(c, RPC_UNIMPLEMENTED, "missing :path");
    return c;
  }
  c->method = rpc__method_find(r.path->value, r.path->value_len, NULL);
  srv->m.alive[rpc__method_index(c->method)]++;
  c->alive_counted = 1;
  if (!c->method) {
    refuse_path(c, r.path->value, r.path->value_len);
    return c;
  }
  if (!authorized(srv, c->method, r.authz)) {
    rpc__call_fail(c, RPC_UNAUTHENTICATED, "missing or invalid token");
    return c;
  }
  if (srv->draining && !(c->method->flags & RPC_M_WHILE_DRAINING)) {
    rpc__call_fail(c, RPC_UNAVAILABLE, "the server is shutting down");
    return c;
  }
  if (r.enc && value_is(r.enc, "gzip")) {
    c->gzip_in = 1;
  } else if (r.enc && !value_is(r.enc, "identity")) {
    char msg[128];
    snprintf(msg, sizeof msg, "unsupported grpc-encoding %.*s",
             (int)(r.enc->value_len > 64 ? 64 : r.enc->value_len), r.enc->value);
    hdr accept = HDR_LIT("grpc-accept-encoding", ACCEPT_ENCODING);
    c->gzip_out = 0;
    send_status(c, RPC_UNIMPLEMENTED, msg, &accept, 1);
    return c;
  }
  int rc = rpc__md_collect(c, hdrs, n);
  if (rc) {
    rpc__call_fail_err(c, rc,
                       rc == ERR_PROTOCOL ? "a -bin metadata value is not base64" : NULL);
    return c;
  }
  if (r.timeout) {
    uint64_t ms;
    if (rpc_timeout_parse(r.timeout->value, r.timeout->value_len, &ms)) {
      rpc__call_fail(c, RPC_INTERNAL, "malformed grpc-timeout");
      return c;
    }
    c->deadline_ns = clock_mono_ns() + ms * 1000000u;
    if (srv->timers) {
      c->deadline = srv->timers->start(srv->timers, ms, on_deadline, c);
    }
  }
  /* Tests and operators see a call with a client-chosen id arrive (the
   * access log line comes when it ends). */
  if (c->request_id[0])
    log_info("request %s: %.*s", c->request_id, (int)r.path->value_len, r.path->value);
  return c;
}

static int decode_request(rpc_call *c, const uint8_t *data, size_t len) {
  char why[160];
  if (c->method->check && c->method->check(c->srv->cfg, data, len, why, sizeof why)) {
    rpc__call_fail(c, RPC_RESOURCE_EXHAUSTED, why);
    return ERR_MSG_TOO_LARGE;
  }
  void *req = ocrpc_calloc(1, c->method->req_size);
  pb_istream_t is = pb_istream_from_buffer(data, len);
  if (!pb_decode(&is, c->method->req_fields, req)) {
    char msg[256];
    snprintf(msg, sizeof msg, "request does not parse: %s", PB_GET_ERROR(&is));
    free(req); /* pb_decode released what it allocated */
    rpc__call_fail(c, RPC_INVALID_ARGUMENT, msg);
    return ERR_PARSE;
  }
  if (c->method->flags & RPC_M_CLIENT_STREAM) {
    c->method->handler(c, req); /* each request as it comes */
    return c->state == CALL_DONE ? ERR_PROTOCOL : 0;
  }
  c->req = req;
  return 0;
}

static int on_message(void *ud, const uint8_t *data, size_t len, int compressed) {
  rpc_call *c = ud;
  if (!(c->method->flags & RPC_M_CLIENT_STREAM) && ++c->nmessages > 1) {
    rpc__call_fail(c, RPC_UNIMPLEMENTED, "unary call with more than one request message");
    return ERR_PROTOCOL;
  }
  if (compressed && !c->gzip_in) {
    rpc__call_fail(c, RPC_INTERNAL, "compressed message without grpc-encoding");
    return ERR_PROTOCOL;
  }
  /* Large messages are decoded off the loop (rpc_decode.c). */
  if (c->srv->decoder &&
      len > (compressed ? c->srv->decode_over_gzip : c->srv->decode_over)) {
    int rc = rpc__decode_submit(c, data, len, compressed);
    if (rc == 0) /* handed over (and maybe answered already) */
      return c->state == CALL_DONE ? ERR_PROTOCOL : 0;
  }
  if (!compressed)
    return decode_request(c, data, len);
  /* The limit applies after inflation too: no zip bombs. */
  buf plain = BUF_INIT;
  int rc = rpc__gunzip(data, len, c->srv->cfg->max_message_bytes, &plain);
  if (rc == 0)
    rc = decode_request(c, plain.data, plain.len);
  else
    rpc__call_fail_err(c, rc,
                       rc == ERR_MSG_TOO_LARGE
                           ? "request message exceeds the limit once decompressed"
                       : rc == ERR_PROTOCOL ? "compressed message is not valid gzip"
                                            : NULL);
  buf_free(&plain);
  return rc;
}

/* Bytes up to the end of the message the deframer is in (its prefix
 * first): feeding no more than this hands up at most one message. */
static size_t to_message_end(const rpc_deframer *d) {
  return d->prefix_len < 5 ? 5 - d->prefix_len : d->msg_len - d->msg.len;
}

static int stream_backed_up(rpc_call *c) {
  return c->srv->tr->pending(c->conn, c->stream_id) > RPC_STREAM_HIGH_WATER;
}

static void feed(rpc_call *c, const uint8_t *data, size_t len);

/* A client stream answers each request as it comes: one message at a
 * time, and none while its earlier answers wait for the client to read
 * them, or 300k reflection requests in 6 MB became 680 MiB of answers. The
 * rest is held, and the client's window shut, until they drain. */
static void feed_stream(rpc_call *c, const uint8_t *data, size_t len) {
  while (len && c->state == CALL_RECEIVING) {
    if (c->decoding) { /* the rest waits for the message before it */
      buf_append(&c->held, data, len);
      return;
    }
    if (stream_backed_up(c)) {
      buf_append(&c->held, data, len);
      if (c->srv->tr->pause_read)
        c->srv->tr->pause_read(c->conn, c->stream_id, 1);
      c->srv->tr->notify_drain(c->conn, c->stream_id);
      return;
    }
    size_t n = to_message_end(&c->deframer);
    if (n > len)
      n = len;
    feed(c, data, n);
    data += n;
    len -= n;
  }
}

static void resume_held(rpc_call *c) {
  buf held = c->held;
  c->held = (buf)BUF_INIT;
  if (c->srv->tr->pause_read)
    c->srv->tr->pause_read(c->conn, c->stream_id, 0);
  if (c->method->flags & RPC_M_CLIENT_STREAM)
    feed_stream(c, held.data, held.len);
  else if (held.len && c->state == CALL_RECEIVING)
    feed(c, held.data, held.len);
  buf_free(&held);
  if (!c->held.len && !c->decoding && c->end_held) {
    c->end_held = 0;
    rpc_call_end(c);
  }
}

void rpc__call_decoded(rpc_call *c, void *req) {
  if (c->state != CALL_RECEIVING) { /* answered meanwhile (deadline) */
    pb_release(c->method->req_fields, req);
    free(req);
    return;
  }
  if (c->method->flags & RPC_M_CLIENT_STREAM) {
    c->method->handler(c, req);
  } else {
    c->req = req;
  }
  if (c->state == CALL_RECEIVING)
    resume_held(c);
}

void rpc__call_decode_failed(rpc_call *c, rpc_status status, const char *msg) {
  rpc__call_fail(c, status, msg);
  rpc_deframer_free(&c->deframer);
  buf_free(&c->held);
  if (c->srv->tr->pause_read) /* what the client still sends is dropped */
    c->srv->tr->pause_read(c->conn, c->stream_id, 0);
}

int rpc_call_data(rpc_call *c, const uint8_t *data, size_t len) {
  if (c->state != CALL_RECEIVING)
    return 0;
  c->bytes_in += len;
  if (c->decoding) { /* in order, after the message being decoded */
    buf_append(&c->held, data, len);
    return 0;
  }
  if (c->method && (c->method->flags & RPC_M_CLIENT_STREAM)) {
    if (c->held.len) {
      buf_append(&c->held, data, len);
    } else {
      feed_stream(c, data, len);
    }
    return 0;
  }
  feed(c, data, len);
  return 0;
}

static void feed(rpc_call *c, const uint8_t *data, size_t len) {
  int rc = rpc_deframe_feed(&c->deframer, data, len, on_message, c);
  if (rc == ERR_MSG_TOO_LARGE && c->state != CALL_DONE) {
    char msg[128];
    snprintf(msg, sizeof msg, "request message of %u bytes exceeds the limit of %llu",
             c->deframer.msg_len, (unsigned long long)c->srv->cfg->max_message_bytes);
    rpc__call_fail_err(c, rc, msg);
  }
  if (c->state == CALL_DONE) {
    rpc_deframer_free(&c->deframer);
    buf_free(&c->held);
  }
}

/* Overload sheds instead of queueing past any useful deadline
 * (app_admit): the call is refused at once with UNAVAILABLE, which clients
 * retry (elsewhere). Answers and returns 1 when refused. */
static int refuse_overload(rpc_call *c) {
  char msg[160];
  if (!app_admit(&c->srv->app, APP_DOOR_GRPC, c->deadline_ns, msg, sizeof msg))
    return 0;
  rpc__call_fail(c, RPC_UNAVAILABLE, msg);
  return 1;
}

void rpc_call_end(rpc_call *c) {
  if (c->state != CALL_RECEIVING)
    return;
  if (c->held.len || c->decoding) {
    c->end_held = 1; /* after the held requests are answered */
    return;
  }
  rpc_deframer_free(&c->deframer);
  if (c->method->flags & RPC_M_CLIENT_STREAM) {
    c->method->on_end(c);
    return;
  }
  if (!c->req) {
    rpc__call_fail(c, RPC_UNIMPLEMENTED, "unary call without a request message");
    return;
  }
  if ((c->method->flags & RPC_M_ADMIT) && refuse_overload(c))
    return;
  OCRPC_ASSERT(c->state == CALL_RECEIVING && c->work == NULL);
  c->state = CALL_RUNNING;
  void *req = c->req;
  c->req = NULL;
  c->method->handler(c, req);
}

void rpc_call_close(rpc_call *c, uint32_t h2_error_code) {
  /* Gone without a status: the client cancelled (RST_STREAM) or the
   * connection went away; counted as gRPC servers do, CANCELLED. */
  if (!c->accounted)
    rpc__call_account(c, RPC_CANCELLED,
                      h2_error_code ? "stream reset by the client" : "connection closed");
  OCRPC_ASSERT(c->accounted);
  if (c->alive_counted) {
    OCRPC_ASSERT(c->srv->m.alive[rpc__method_index(c->method)] > 0);
    c->srv->m.alive[rpc__method_index(c->method)]--;
  }
  detach_work(c);
  if (c->decoding)
    rpc__decode_orphan(c);
  if (c->deadline)
    c->srv->timers->stop(c->srv->timers, c->deadline);
  if (c->req) {
    pb_release(c->method->req_fields, c->req);
    free(c->req);
  }
  rpc_deframer_free(&c->deframer);
  buf_free(&c->held);
  rpc__md_free(c);
  OCRPC_ASSERT(c->srv->ncalls > 0);
  c->srv->ncalls--;
  free(c);
}
