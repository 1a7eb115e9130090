/* SPDX-License-Identifier: MIT */
/* One gRPC call on one stream: validates the request headers, reassembles
 * and decodes the request message, dispatches the handler when the client
 * half-closes, and writes headers, message and trailers. Loop thread. */
#include <pb_decode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "rpc_internal.h"

static const hdr ok_headers[] = {
    HDR_LIT(":status", "200"),
    HDR_LIT("content-type", "application/grpc"),
};

/* The call has its answer: its deadline no longer matters. */
static void call_done(rpc_call *c) {
  c->state = CALL_DONE;
  if (c->deadline) {
    c->srv->timers->stop(c->srv->timers, c->deadline);
    c->deadline = NULL;
  }
}

static void http_error(rpc_call *c, const char *status, rpc_status grpc,
                       const char *msg) {
  char st[4];
  snprintf(st, sizeof st, "%d", (int)grpc);
  hdr h[] = {
      hdr_make(":status", status, strlen(status)),
      HDR_LIT("content-type", "application/grpc"),
      hdr_make("grpc-status", st, strlen(st)),
      hdr_make("grpc-message", msg, strlen(msg)),
  };
  c->srv->tr->respond(c->conn, c->stream_id, h, 4, 1);
  call_done(c);
}

void rpc__call_fail(rpc_call *c, rpc_status status, const char *msg) {
  if (c->state == CALL_DONE)
    return;
  char st[4], enc[1024];
  snprintf(st, sizeof st, "%d", (int)status);
  size_t n = 2;
  hdr h[4] = {ok_headers[0], ok_headers[1]};
  hdr *t = c->headers_sent ? h : h + 2;
  size_t nt = 0;
  t[nt++] = hdr_make("grpc-status", st, strlen(st));
  if (msg && *msg) {
    size_t len = rpc_percent_encode(msg, strlen(msg), enc, sizeof enc);
    t[nt++] = hdr_make("grpc-message", enc, len);
  }
  if (c->headers_sent) {
    c->srv->tr->send_trailers(c->conn, c->stream_id, t, nt);
  } else {
    /* Trailers-Only: one HEADERS frame carries status and END_STREAM. */
    c->srv->tr->respond(c->conn, c->stream_id, h, n + nt, 1);
  }
  call_done(c);
  log_debug("stream %d: status %d %s", c->stream_id, (int)status, msg ? msg : "");
}

void rpc__call_reply(rpc_call *c, const pb_msgdesc_t *fields, const void *msg) {
  if (rpc__call_send(c, fields, msg) == 0)
    rpc__call_finish(c);
}

int rpc__call_send(rpc_call *c, const pb_msgdesc_t *fields, const void *msg) {
  if (c->state == CALL_DONE)
    return ERR_INVAL;
  buf out = BUF_INIT;
  int rc = rpc__encode_message(&out, fields, msg, c->srv->cfg->max_message_bytes);
  if (rc) {
    buf_free(&out);
    rpc__call_fail(c, rc == ERR_MSG_TOO_LARGE ? RPC_RESOURCE_EXHAUSTED : RPC_INTERNAL,
                   rc == ERR_MSG_TOO_LARGE ? "response exceeds the message size limit"
                                           : "response could not be encoded");
    return rc;
  }
  const rpc_transport *tr = c->srv->tr;
  if (!c->headers_sent) {
    tr->respond(c->conn, c->stream_id, ok_headers, 2, 0);
    c->headers_sent = 1;
  }
  rc = tr->send_data(c->conn, c->stream_id, out.data, out.len);
  buf_free(&out);
  return rc;
}

void rpc__call_finish(rpc_call *c) {
  if (c->state == CALL_DONE)
    return;
  static const hdr trailers[] = {HDR_LIT("grpc-status", "0")};
  if (!c->headers_sent) {
    hdr h[] = {ok_headers[0], ok_headers[1], trailers[0]};
    c->srv->tr->respond(c->conn, c->stream_id, h, 3, 1);
  } else {
    c->srv->tr->send_trailers(c->conn, c->stream_id, trailers, 1);
  }
  call_done(c);
}

void rpc_call_drained(rpc_call *c) {
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

rpc_call *rpc_call_start(rpc_server *srv, void *conn, int32_t stream_id,
                         const hdr *hdrs, size_t n) {
  rpc_call *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->srv = srv;
  c->conn = conn;
  c->stream_id = stream_id;
  rpc__deframer_init(&c->deframer, srv->cfg->max_message_bytes);
  srv->ncalls++;

  const hdr *method = NULL, *path = NULL, *ctype = NULL, *te = NULL, *enc = NULL,
            *timeout = NULL;
  for (size_t i = 0; i < n; i++) {
    const hdr *h = &hdrs[i];
    if (hdr_is(h, ":method"))
      method = h;
    else if (hdr_is(h, ":path"))
      path = h;
    else if (hdr_is(h, "content-type"))
      ctype = h;
    else if (hdr_is(h, "te"))
      te = h;
    else if (hdr_is(h, "grpc-encoding"))
      enc = h;
    else if (hdr_is(h, "grpc-timeout"))
      timeout = h;
  }
  if (!method || method->value_len != 4 || memcmp(method->value, "POST", 4) != 0) {
    http_error(c, "405", RPC_UNIMPLEMENTED, "gRPC requires POST");
    return c;
  }
  /* application/grpc, application/grpc+proto, application/grpc;... */
  if (!ctype || ctype->value_len < 16 ||
      memcmp(ctype->value, "application/grpc", 16) != 0 ||
      (ctype->value_len > 16 && ctype->value[16] != '+' && ctype->value[16] != ';')) {
    http_error(c, "415", RPC_INTERNAL, "content-type must be application/grpc");
    return c;
  }
  /* grpc-go accepts a missing te; a wrong one is a broken proxy. */
  if (te && !(te->value_len == 8 && memcmp(te->value, "trailers", 8) == 0)) {
    http_error(c, "400", RPC_INTERNAL, "te must be trailers");
    return c;
  }
  if (!path) {
    rpc__call_fail(c, RPC_UNIMPLEMENTED, "missing :path");
    return c;
  }
  c->method = rpc__method_find(path->value, path->value_len, NULL);
  if (!c->method) {
    refuse_path(c, path->value, path->value_len);
    return c;
  }
  if (srv->draining && !(c->method->flags & RPC_M_WHILE_DRAINING)) {
    rpc__call_fail(c, RPC_UNAVAILABLE, "the server is shutting down");
    return c;
  }
  if (enc && !(enc->value_len == 8 && memcmp(enc->value, "identity", 8) == 0)) {
    static const char accept[] = "identity";
    char msg[256];
    snprintf(msg, sizeof msg, "unsupported grpc-encoding %.*s",
             (int)(enc->value_len > 64 ? 64 : enc->value_len), enc->value);
    char enc_msg[512];
    size_t len = rpc_percent_encode(msg, strlen(msg), enc_msg, sizeof enc_msg);
    hdr h[] = {
        ok_headers[0], ok_headers[1], HDR_LIT("grpc-status", "12"),
        hdr_make("grpc-message", enc_msg, len),
        hdr_make("grpc-accept-encoding", accept, sizeof accept - 1),
    };
    srv->tr->respond(conn, stream_id, h, 5, 1);
    call_done(c);
    return c;
  }
  if (timeout) {
    uint64_t ms;
    if (rpc__timeout_parse(timeout->value, timeout->value_len, &ms)) {
      rpc__call_fail(c, RPC_INTERNAL, "malformed grpc-timeout");
      return c;
    }
    if (srv->timers) {
      c->deadline = srv->timers->start(srv->timers, ms, on_deadline, c);
      if (!c->deadline)
        rpc__call_fail(c, RPC_RESOURCE_EXHAUSTED, "out of memory");
    }
  }
  return c;
}

static int on_message(void *ud, const uint8_t *data, size_t len, int compressed) {
  rpc_call *c = ud;
  if (compressed) {
    rpc__call_fail(c, RPC_INTERNAL, "compressed message without grpc-encoding");
    return ERR_PROTOCOL;
  }
  if (++c->nmessages > 1) {
    rpc__call_fail(c, RPC_UNIMPLEMENTED, "unary call with more than one request message");
    return ERR_PROTOCOL;
  }
  void *req = calloc(1, c->method->req_size);
  if (!req) {
    rpc__call_fail(c, RPC_RESOURCE_EXHAUSTED, "out of memory");
    return ERR_NOMEM;
  }
  pb_istream_t is = pb_istream_from_buffer(data, len);
  if (!pb_decode(&is, c->method->req_fields, req)) {
    char msg[256];
    snprintf(msg, sizeof msg, "request does not parse: %s", PB_GET_ERROR(&is));
    free(req);
    rpc__call_fail(c, RPC_INVALID_ARGUMENT, msg);
    return ERR_PARSE;
  }
  c->req = req;
  return 0;
}

int rpc_call_data(rpc_call *c, const uint8_t *data, size_t len) {
  if (c->state != CALL_RECEIVING)
    return 0;
  int rc = rpc__deframe_feed(&c->deframer, data, len, on_message, c);
  if (rc == ERR_MSG_TOO_LARGE) {
    char msg[128];
    snprintf(msg, sizeof msg, "request message of %u bytes exceeds the limit of %llu",
             c->deframer.msg_len, (unsigned long long)c->srv->cfg->max_message_bytes);
    rpc__call_fail(c, RPC_RESOURCE_EXHAUSTED, msg);
  } else if (rc == ERR_NOMEM) {
    rpc__call_fail(c, RPC_RESOURCE_EXHAUSTED, "out of memory");
  }
  if (c->state == CALL_DONE)
    rpc__deframer_free(&c->deframer);
  return 0;
}

void rpc_call_end(rpc_call *c) {
  if (c->state != CALL_RECEIVING)
    return;
  rpc__deframer_free(&c->deframer);
  if (!c->req) {
    rpc__call_fail(c, RPC_UNIMPLEMENTED, "unary call without a request message");
    return;
  }
  c->state = CALL_RUNNING;
  void *req = c->req;
  c->req = NULL;
  c->method->handler(c, req);
}

void rpc_call_close(rpc_call *c, uint32_t h2_error_code) {
  (void)h2_error_code;
  detach_work(c);
  if (c->deadline)
    c->srv->timers->stop(c->srv->timers, c->deadline);
  if (c->req) {
    pb_release(c->method->req_fields, c->req);
    free(c->req);
  }
  rpc__deframer_free(&c->deframer);
  c->srv->ncalls--;
  free(c);
}
