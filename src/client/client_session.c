/* SPDX-License-Identifier: MIT */
/* The client's HTTP/2 + gRPC session over nghttp2, with no I/O: the bytes
 * read from the socket go in through client__session_feed and what to
 * write comes out of client__session_pull. It keeps every call in its own
 * list (nghttp2_session_del reports nothing), a FIFO of calls waiting for a
 * stream under the server's MAX_CONCURRENT_STREAMS, and turns response
 * headers, messages and trailers into one on_done per call. Loop thread
 * only. */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/list.h"
#include "base/version.h"
#include "client_internal.h"

#define USER_AGENT "ocrpc-client/" OCRPC_VERSION

#define DEFAULT_WINDOW (16u << 20)
#define DEFAULT_MAX_RECV ((uint64_t)100 << 20) /* the guide's 100 MB */
#define MSG_MAX 1024                           /* decoded grpc-message and local messages */

struct client_call {
  client_session *s;
  client_call *prev, *next; /* s->calls: every call not yet freed */
  client_call *qnext;       /* s->qhead: waiting for a stream */
  int32_t stream_id;        /* 0 until submitted */
  int queued;
  int stream_live; /* submitted and neither closed nor dropped by nghttp2 */
  int reported;    /* on_done ran: body and ud must not be touched */
  char *path;
  const uint8_t *body; /* borrowed until on_done */
  size_t body_len, body_off;
  uint64_t timeout_ms;
  int flags;
  client_call_cbs cbs;
  void *ud;
  timer *deadline;
  rpc_deframer df;
  int http_status;
  int grpc_ct; /* content-type is application/grpc* */
  int have_status;
  int grpc_status;
  char *grpc_message; /* raw, percent-encoded */
  size_t grpc_message_len;
  int nmessages;
  int local_code; /* a local failure decided before the stream closed */
  char local_msg[160];
};

struct client_session {
  nghttp2_session *ng;
  char *authority;
  char *authorization; /* NULL: none */
  uint64_t max_recv;
  uint32_t window;
  timer_src *timers;
  client_call *calls;
  client_call *qhead, *qtail;
  size_t ncalls; /* calls not reported yet */
  size_t nopen;  /* live streams */
  int got_settings;
  int goaway;
  int failed;
  void (*wake)(void *ud);
  void *wake_ud;
};

static void wake(client_session *s) {
  if (s->wake)
    s->wake(s->wake_ud);
}

static void call_free(client_call *c) {
  client_session *s = c->s;
  DLIST_UNLINK(s->calls, c);
  rpc_deframer_free(&c->df);
  free(c->grpc_message);
  free(c->path);
  free(c);
}

static void queue_remove(client_session *s, client_call *c) {
  client_call **pp = &s->qhead;
  client_call *last = NULL;
  while (*pp && *pp != c) {
    last = *pp;
    pp = &(*pp)->qnext;
  }
  if (!*pp)
    return;
  *pp = c->qnext;
  if (s->qtail == c)
    s->qtail = last;
  c->qnext = NULL;
  c->queued = 0;
}

/* Runs on_done once. The call is freed here when no stream holds it;
 * otherwise when nghttp2 closes or drops the stream. */
static void report(client_call *c, int code, const char *msg, int local) {
  client_session *s = c->s;
  if (c->reported)
    return;
  c->reported = 1;
  s->ncalls--;
  if (c->deadline) {
    s->timers->stop(s->timers, c->deadline);
    c->deadline = NULL;
  }
  if (c->queued)
    queue_remove(s, c);
  client_status st = {code, msg ? msg : "", local};
  if (c->cbs.on_done)
    c->cbs.on_done(c->ud, &st);
  c->body = NULL;
  c->ud = NULL;
  if (!c->stream_live)
    call_free(c);
}

/* Ends a call from this side: its stream, if any, is reset with CANCEL. */
static void abort_call(client_call *c, int code, const char *msg) {
  client_session *s = c->s;
  if (c->stream_live && !s->failed) {
    nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, c->stream_id, NGHTTP2_CANCEL);
    wake(s);
  }
  report(c, code, msg, 1);
}

static ssize_t read_body(nghttp2_session *ng, int32_t stream_id, uint8_t *out,
                         size_t length, uint32_t *data_flags, nghttp2_data_source *src,
                         void *user_data) {
  (void)src;
  (void)user_data;
  client_call *c = nghttp2_session_get_stream_user_data(ng, stream_id);
  if (!c || c->reported)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
  size_t n = c->body_len - c->body_off;
  if (n > length)
    n = length;
  if (n)
    memcpy(out, c->body + c->body_off, n);
  c->body_off += n;
  if (c->body_off == c->body_len)
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

static int submit(client_session *s, client_call *c) {
  char tmo[RPC_TIMEOUT_MAX_LEN + 1];
  size_t tmo_len = 0;
  if (c->timeout_ms)
    tmo_len = rpc_timeout_format(c->timeout_ms, tmo);
#define NV(n, v, vl)                                                                       \
  {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vl), NGHTTP2_NV_FLAG_NO_COPY_NAME}
  nghttp2_nv nva[] = {
      NV(":method", "POST", 4),
      NV(":scheme", "http", 4),
      NV(":path", c->path, strlen(c->path)),
      NV(":authority", s->authority, strlen(s->authority)),
      NV("content-type", "application/grpc", 16),
      NV("te", "trailers", 8),
      NV("user-agent", USER_AGENT, sizeof USER_AGENT - 1),
      NV("grpc-timeout", tmo, tmo_len),
      NV("authorization", s->authorization,
         s->authorization ? strlen(s->authorization) : 0),
  };
#undef NV
  size_t n = sizeof nva / sizeof nva[0] - 2;
  if (c->timeout_ms)
    nva[n++] = nva[sizeof nva / sizeof nva[0] - 2];
  if (s->authorization)
    nva[n++] = nva[sizeof nva / sizeof nva[0] - 1];
  nghttp2_data_provider dp;
  dp.source.ptr = c;
  dp.read_callback = read_body;
  int32_t id = nghttp2_submit_request(s->ng, NULL, nva, n, &dp, c);
  if (id < 0)
    return id;
  c->stream_id = id;
  c->stream_live = 1;
  s->nopen++;
  return 0;
}

static void fail_queued(client_session *s, int code, const char *msg) {
  while (s->qhead)
    report(s->qhead, code, msg, 1);
}

/* Starts queued calls while the server's stream limit allows. */
static void pump(client_session *s) {
  if (!s->got_settings || s->failed)
    return;
  uint32_t max =
      nghttp2_session_get_remote_settings(s->ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  int started = 0;
  while (s->qhead && s->nopen < max && !s->goaway) {
    client_call *c = s->qhead;
    s->qhead = c->qnext;
    if (!s->qhead)
      s->qtail = NULL;
    c->qnext = NULL;
    c->queued = 0;
    int rc = submit(s, c);
    if (rc) {
      /* Stream ids run out after 2^30 calls: take no more calls here, so
       * a caller that starts a new call from on_done cannot spin. */
      s->goaway = 1;
      report(c, RPC_UNAVAILABLE,
             rc == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE
                 ? "no stream ids left on this connection"
                 : nghttp2_strerror(rc),
             1);
      continue;
    }
    started = 1;
  }
  if (started)
    wake(s);
  if (s->goaway && s->qhead)
    fail_queued(s, RPC_UNAVAILABLE, "no stream ids left on this connection");
}

static int on_message(void *ud, const uint8_t *data, size_t len, int compressed) {
  client_call *c = ud;
  if (compressed) {
    snprintf(c->local_msg, sizeof c->local_msg,
             "compressed response message, but no compression was negotiated");
    return ERR_PROTOCOL;
  }
  c->nmessages++;
  if ((c->flags & CLIENT_CALL_UNARY) && c->nmessages > 1) {
    snprintf(c->local_msg, sizeof c->local_msg,
             "more than one response message on a unary call");
    return ERR_PROTOCOL;
  }
  if (c->cbs.on_message) {
    int rc = c->cbs.on_message(c->ud, data, len);
    if (rc) {
      snprintf(c->local_msg, sizeof c->local_msg, "response rejected: %s", err_text(rc));
      return rc;
    }
  }
  return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data) {
  (void)flags;
  (void)user_data;
  client_call *c = nghttp2_session_get_stream_user_data(ng, stream_id);
  if (!c || c->reported)
    return 0;
  if (c->http_status != 200 || !c->grpc_ct)
    return 0; /* not gRPC: the status comes from :status at close */
  int rc = rpc_deframe_feed(&c->df, data, len, on_message, c);
  if (rc) {
    int code = RPC_INTERNAL;
    if (rc == ERR_MSG_TOO_LARGE) {
      code = RPC_RESOURCE_EXHAUSTED;
      snprintf(c->local_msg, sizeof c->local_msg, "response message larger than %llu bytes",
               (unsigned long long)c->df.limit);
    } else if (rc == ERR_NOMEM) {
      code = RPC_RESOURCE_EXHAUSTED;
      snprintf(c->local_msg, sizeof c->local_msg, "out of memory");
    }
    char msg[sizeof c->local_msg];
    memcpy(msg, c->local_msg, sizeof msg);
    abort_call(c, code, msg);
  }
  return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data) {
  (void)flags;
  (void)user_data;
  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  client_call *c = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
  if (!c || c->reported)
    return 0;
#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)
  if (IS(":status")) {
    int v = 0;
    for (size_t i = 0; i < valuelen && i < 3; i++)
      v = v * 10 + (value[i] - '0');
    /* 1xx informational headers are followed by the real ones. */
    if (v >= 200)
      c->http_status = v;
  } else if (IS("content-type")) {
    c->grpc_ct = rpc_content_type_is_grpc((const char *)value, valuelen, NULL, NULL);
  } else if (IS("grpc-status")) {
    int v = 0, ok = valuelen > 0 && valuelen <= 3;
    for (size_t i = 0; ok && i < valuelen; i++) {
      if (value[i] < '0' || value[i] > '9')
        ok = 0;
      else
        v = v * 10 + (value[i] - '0');
    }
    c->have_status = 1;
    c->grpc_status = ok && v < RPC_STATUS_COUNT ? v : RPC_UNKNOWN;
  } else if (IS("grpc-message")) {
    char *m = malloc(valuelen + 1);
    if (!m)
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    memcpy(m, value, valuelen);
    m[valuelen] = '\0';
    free(c->grpc_message);
    c->grpc_message = m;
    c->grpc_message_len = valuelen;
  }
#undef IS
  return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user_data) {
  client_session *s = user_data;
  (void)ng;
  switch (frame->hd.type) {
  case NGHTTP2_SETTINGS:
    if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
      s->got_settings = 1;
      pump(s); /* the limit may have grown */
    }
    break;
  case NGHTTP2_GOAWAY:
    /* nghttp2 closes the streams above last_stream_id with
     * REFUSED_STREAM; those queued here never reached the server. */
    s->goaway = 1;
    fail_queued(s, RPC_UNAVAILABLE, "the server is going away (GOAWAY)");
    break;
  default:
    break;
  }
  return 0;
}

/* The final status of a call whose stream closed. */
static void close_status(client_call *c, uint32_t error_code) {
  char msg[MSG_MAX];
  if (c->local_code) {
    report(c, c->local_code, c->local_msg, 1);
  } else if (c->http_status && c->http_status != 200) {
    snprintf(msg, sizeof msg, "HTTP status %d from the server", c->http_status);
    report(c, rpc_status_from_http(c->http_status), msg, 1);
  } else if (c->have_status) {
    msg[0] = '\0';
    if (c->grpc_message)
      rpc_percent_decode(c->grpc_message, c->grpc_message_len, msg, sizeof msg);
    if (c->grpc_status == RPC_OK && rpc_deframer_partial(&c->df)) {
      report(c, RPC_INTERNAL, "the stream ended inside a response message", 1);
    } else if (c->grpc_status == RPC_OK && (c->flags & CLIENT_CALL_UNARY) &&
               c->nmessages != 1) {
      report(c, RPC_INTERNAL, "no response message on a unary call", 1);
    } else if (!c->grpc_ct && c->http_status == 200) {
      report(c, RPC_UNKNOWN, "response content-type is not application/grpc", 1);
    } else {
      report(c, c->grpc_status, msg, 0);
    }
  } else if (error_code == NGHTTP2_REFUSED_STREAM && c->s->goaway) {
    /* nghttp2 closes the streams above the GOAWAY's last stream id with
     * REFUSED_STREAM: the server never processed them. */
    report(c, RPC_UNAVAILABLE,
           "the server is going away (GOAWAY); the request was not processed", 1);
  } else if (error_code != NGHTTP2_NO_ERROR) {
    snprintf(msg, sizeof msg, "stream reset by the server (%s)",
             nghttp2_http2_strerror(error_code));
    report(c, rpc_status_from_h2_error(error_code), msg, 1);
  } else if (!c->http_status) {
    report(c, RPC_INTERNAL, "the stream closed without response headers", 1);
  } else {
    report(c, RPC_INTERNAL, "the server closed the stream without grpc-status", 1);
  }
}

static int on_stream_close(nghttp2_session *ng, int32_t stream_id, uint32_t error_code,
                           void *user_data) {
  client_session *s = user_data;
  client_call *c = nghttp2_session_get_stream_user_data(ng, stream_id);
  if (!c)
    return 0;
  nghttp2_session_set_stream_user_data(ng, stream_id, NULL);
  c->stream_live = 0;
  s->nopen--;
  if (c->reported)
    call_free(c);
  else
    close_status(c, error_code); /* frees it */
  pump(s);
  return 0;
}

/* A request HEADERS that was never sent (GOAWAY, cancelled while queued
 * in nghttp2). If nghttp2 had opened the stream it closes it right after
 * this callback (on_stream_close frees the call); otherwise no stream close
 * follows and the call is released here. */
static int on_frame_not_send(nghttp2_session *ng, const nghttp2_frame *frame,
                             int lib_error_code, void *user_data) {
  client_session *s = user_data;
  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  client_call *c = s->calls;
  while (c && !(c->stream_live && c->stream_id == frame->hd.stream_id))
    c = c->next;
  if (!c)
    return 0;
  int stream_exists = nghttp2_session_get_stream_user_data(ng, c->stream_id) != NULL;
  if (!stream_exists) {
    c->stream_live = 0;
    s->nopen--;
  }
  if (c->reported) {
    if (!stream_exists)
      call_free(c);
  } else {
    char msg[128];
    snprintf(msg, sizeof msg, "request not sent: %s",
             s->goaway ? "the server is going away (GOAWAY)"
                       : nghttp2_strerror(lib_error_code));
    report(c, RPC_UNAVAILABLE, msg, 1); /* frees it when no stream holds it */
  }
  if (!stream_exists)
    pump(s);
  return 0;
}

int client__session_new(const client_session_cfg *cfg, client_session **out) {
  int rc = ERR_NOMEM;
  client_session *s = calloc(1, sizeof *s);
  if (!s)
    goto fail_alloc;
  s->authority = strdup(cfg->authority);
  if (!s->authority)
    goto fail_authority;
  if (cfg->authorization && !(s->authorization = strdup(cfg->authorization)))
    goto fail_callbacks;
  s->window = cfg->window ? cfg->window : DEFAULT_WINDOW;
  if (s->window > NGHTTP2_MAX_WINDOW_SIZE)
    s->window = NGHTTP2_MAX_WINDOW_SIZE;
  s->max_recv = cfg->max_recv_message ? cfg->max_recv_message : DEFAULT_MAX_RECV;
  s->timers = cfg->timers;

  nghttp2_session_callbacks *cbs;
  if (nghttp2_session_callbacks_new(&cbs))
    goto fail_callbacks;
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, on_frame_not_send);
  nghttp2_option *opt;
  if (nghttp2_option_new(&opt)) {
    nghttp2_session_callbacks_del(cbs);
    goto fail_callbacks;
  }
  /* Until the server's SETTINGS arrive we start nothing anyway. */
  nghttp2_option_set_peer_max_concurrent_streams(opt, 100);
  int nrc = nghttp2_session_client_new2(&s->ng, cbs, s, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (nrc)
    goto fail_callbacks;

  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, s->window},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 1u << 20},
  };
  if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) ||
      nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0,
                                            (int32_t)s->window)) {
    rc = ERR_PROTOCOL;
    goto fail_settings;
  }
  *out = s;
  return 0;

fail_settings:
  nghttp2_session_del(s->ng);
fail_callbacks:
  free(s->authorization);
  free(s->authority);
fail_authority:
  free(s);
fail_alloc:
  return rc;
}

void client__session_fail(client_session *s, int code, const char *msg) {
  if (s->failed)
    return;
  s->failed = 1;
  /* Take the head each time: on_done may cancel other calls. */
  client_call *c;
  while ((c = s->calls)) {
    if (c->stream_live) {
      nghttp2_session_set_stream_user_data(s->ng, c->stream_id, NULL);
      c->stream_live = 0;
      s->nopen--;
    }
    if (c->reported)
      call_free(c);
    else
      report(c, code, msg, 1); /* frees it: no stream holds it now */
  }
}

void client__session_free(client_session *s, int code, const char *msg) {
  if (!s)
    return;
  client__session_fail(s, code, msg);
  nghttp2_session_del(s->ng);
  free(s->authorization);
  free(s->authority);
  free(s);
}

int client__session_feed(client_session *s, const uint8_t *data, size_t len) {
  if (s->failed)
    return 0;
  ssize_t n = nghttp2_session_mem_recv(s->ng, data, len);
  if (n < 0)
    return ERR_PROTOCOL;
  return 0;
}

ssize_t client__session_pull(client_session *s, const uint8_t **data) {
  if (s->failed)
    return 0;
  ssize_t n = nghttp2_session_mem_send(s->ng, data);
  if (n < 0)
    return n == NGHTTP2_ERR_NOMEM ? ERR_NOMEM : ERR_PROTOCOL;
  return n;
}

int client__session_usable(const client_session *s) { return !s->failed && !s->goaway; }

uint32_t client__session_max_streams(const client_session *s) {
  if (!s->got_settings)
    return 0;
  return nghttp2_session_get_remote_settings(s->ng,
                                             NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

size_t client__session_ncalls(const client_session *s) { return s->ncalls; }

int client__session_finished(const client_session *s) {
  if (s->failed)
    return 1;
  if (s->goaway && !s->calls)
    return 1;
  return !nghttp2_session_want_read(s->ng) && !nghttp2_session_want_write(s->ng);
}

void client__session_set_wake(client_session *s, void (*fn)(void *ud), void *ud) {
  s->wake = fn;
  s->wake_ud = ud;
}

static void on_deadline(void *arg) {
  client_call *c = arg;
  char msg[96];
  c->deadline = NULL; /* the timer frees itself after firing */
  snprintf(msg, sizeof msg, "deadline of %llu ms exceeded",
           (unsigned long long)c->timeout_ms);
  abort_call(c, RPC_DEADLINE_EXCEEDED, msg);
}

int client__session_call(client_session *s, const char *path, const uint8_t *body,
                         size_t len, uint64_t timeout_ms, int flags,
                         const client_call_cbs *cbs, void *ud, client_call **out) {
  if (!path || path[0] != '/' || !cbs || (!body && len))
    return ERR_INVAL;
  if (!client__session_usable(s))
    return ERR_UNAVAILABLE;
  client_call *c = calloc(1, sizeof *c);
  if (!c)
    return ERR_NOMEM;
  c->path = strdup(path);
  if (!c->path) {
    free(c);
    return ERR_NOMEM;
  }
  c->s = s;
  c->body = body;
  c->body_len = len;
  c->timeout_ms = timeout_ms;
  c->flags = flags;
  c->cbs = *cbs;
  c->ud = ud;
  rpc_deframer_init(&c->df, s->max_recv);
  if (timeout_ms) {
    c->deadline = s->timers->start(s->timers, timeout_ms, on_deadline, c);
    if (!c->deadline) {
      free(c->path);
      free(c);
      return ERR_NOMEM;
    }
  }
  DLIST_PUSH(s->calls, c);
  s->ncalls++;
  c->queued = 1;
  if (s->qtail)
    s->qtail->qnext = c;
  else
    s->qhead = c;
  s->qtail = c;
  if (out)
    *out = c;
  pump(s);
  return 0;
}

void client__call_cancel(client_call *c) {
  if (!c->reported)
    abort_call(c, RPC_CANCELLED, "cancelled by the client");
}

void *client__call_wake_ud(const client_call *c) { return c->s->wake_ud; }
