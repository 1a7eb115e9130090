/* SPDX-License-Identifier: MIT */
/* h2_session against an in-memory nghttp2 client session, as nghttp2's own
 * tests do: the client's mem_send output is fed to h2_session_feed, what
 * h2_session_pull gives goes into the client's mem_recv, and both sides
 * count their callbacks. No sockets, no threads. */
#include <criterion/criterion.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "h2/h2.h"

#define MAXS 256

/* ---- the server side's user data: what h2 reported ---- */

typedef struct tstream {
  int32_t id;
  int ends;
  int closes;
  uint32_t close_code;
  int ndata;
  buf body;
} tstream;

typedef struct srv_ud {
  tstream st[MAXS];
  int nst;
  int requests, datas, ends, closes;
  uint32_t last_close_code;
  /* The last request's header list, copied. */
  size_t nhdr;
  char names[64][64];
  char values[64][256];
  int fail_request; /* on_request returns non-zero */
  int overflows;    /* requests delivered marked h2_stream_header_overflow */
  int drains;
} srv_ud;

static srv_ud S;
static h2_session *srv;

static int s_on_request(void *ud, int32_t stream_id, const hdr *hdrs, size_t n,
                        void **stream_ud) {
  srv_ud *u = ud;
  cr_assert_eq(u, &S);
  u->requests++;
  u->overflows += h2_stream_header_overflow(srv, stream_id);
  u->nhdr = n;
  for (size_t i = 0; i < n && i < 64; i++) {
    snprintf(u->names[i], sizeof u->names[i], "%.*s", (int)hdrs[i].name_len, hdrs[i].name);
    snprintf(u->values[i], sizeof u->values[i], "%.*s", (int)hdrs[i].value_len,
             hdrs[i].value);
  }
  if (u->fail_request)
    return -1;
  cr_assert_lt(u->nst, MAXS);
  tstream *t = &u->st[u->nst++];
  t->id = stream_id;
  *stream_ud = t;
  return 0;
}

static int s_on_data(void *ud, void *stream_ud, const uint8_t *data, size_t len) {
  srv_ud *u = ud;
  tstream *t = stream_ud;
  u->datas++;
  t->ndata++;
  buf_append(&t->body, data, len);
  return 0;
}

static void s_on_end(void *ud, void *stream_ud) {
  srv_ud *u = ud;
  tstream *t = stream_ud;
  cr_assert_eq(t->closes, 0, "on_end after on_close");
  u->ends++;
  t->ends++;
}

static void s_on_close(void *ud, void *stream_ud, uint32_t code) {
  srv_ud *u = ud;
  tstream *t = stream_ud;
  u->closes++;
  u->last_close_code = code;
  t->closes++;
  t->close_code = code;
}

static void s_on_drain(void *ud, void *stream_ud) {
  srv_ud *u = ud;
  tstream *t = stream_ud;
  cr_assert_eq(t->closes, 0, "on_drain after on_close");
  u->drains++;
}

static const h2_callbacks cbs = {
    .on_request = s_on_request,
    .on_data = s_on_data,
    .on_end = s_on_end,
    .on_close = s_on_close,
    .on_drain = s_on_drain,
};

/* ---- the client side: what the peer of our server saw ---- */

typedef struct cframe {
  uint8_t type, flags, cat;
  int32_t stream_id;
  size_t length;
  uint32_t error_code; /* RST_STREAM */
} cframe;

typedef struct cstream {
  char status[8];
  char content_type[64];
  char resp_grpc_status[8];    /* grpc-status in the response HEADERS */
  char trailer_grpc_status[8]; /* grpc-status in the trailers */
  int headers_frames, trailer_frames, data_frames;
  int end_on_headers, end_on_data, end_on_trailers;
  buf body;
  int closed;
  uint32_t close_code;
} cstream;

typedef struct cli_ud {
  cstream st[MAXS];
  cframe frames[8192];
  size_t nframes;
  int goaways;
  uint32_t goaway_error;
  int32_t goaway_last;
  int settings, settings_acks;
} cli_ud;

static cli_ud C;

static cstream *cs(int32_t id) {
  cr_assert(id > 0 && (id & 1) && (id - 1) / 2 < MAXS, "stream id %d", id);
  return &C.st[(id - 1) / 2];
}

static int c_on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                       size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                       void *ud) {
  (void)ng;
  (void)flags;
  (void)ud;
  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  cstream *c = cs(frame->hd.stream_id);
#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)
#define COPY(dst) snprintf(dst, sizeof dst, "%.*s", (int)valuelen, (const char *)value)
  if (frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
    if (IS(":status"))
      COPY(c->status);
    else if (IS("content-type"))
      COPY(c->content_type);
    else if (IS("grpc-status"))
      COPY(c->resp_grpc_status);
  } else if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) {
    if (IS("grpc-status"))
      COPY(c->trailer_grpc_status);
  }
#undef IS
#undef COPY
  return 0;
}

static int c_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud) {
  (void)ng;
  (void)ud;
  cr_assert_lt(C.nframes, sizeof C.frames / sizeof C.frames[0]);
  cframe *f = &C.frames[C.nframes++];
  f->type = frame->hd.type;
  f->flags = frame->hd.flags;
  f->stream_id = frame->hd.stream_id;
  f->length = frame->hd.length;
  int end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  switch (frame->hd.type) {
  case NGHTTP2_HEADERS: {
    f->cat = (uint8_t)frame->headers.cat;
    cstream *c = cs(frame->hd.stream_id);
    if (frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
      c->headers_frames++;
      c->end_on_headers |= end;
    } else {
      c->trailer_frames++;
      c->end_on_trailers |= end;
    }
    break;
  }
  case NGHTTP2_DATA: {
    cstream *c = cs(frame->hd.stream_id);
    c->data_frames++;
    c->end_on_data |= end;
    break;
  }
  case NGHTTP2_RST_STREAM:
    f->error_code = frame->rst_stream.error_code;
    break;
  case NGHTTP2_GOAWAY:
    C.goaways++;
    C.goaway_error = frame->goaway.error_code;
    C.goaway_last = frame->goaway.last_stream_id;
    break;
  case NGHTTP2_SETTINGS:
    if (frame->hd.flags & NGHTTP2_FLAG_ACK)
      C.settings_acks++;
    else
      C.settings++;
    break;
  }
  return 0;
}

static int c_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                     size_t len, void *ud) {
  (void)ng;
  (void)flags;
  (void)ud;
  buf_append(&cs(id)->body, data, len);
  return 0;
}

static int c_on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud) {
  (void)ng;
  (void)ud;
  cs(id)->closed++;
  cs(id)->close_code = code;
  return 0;
}

/* ---- fixture ---- */

static nghttp2_session *cli;

static const h2_settings default_settings = {
    .max_concurrent_streams = 128,
    .initial_window_size = 16 * 1024 * 1024,
    .connection_window_size = 32 * 1024 * 1024,
    .max_header_list_size = 4096,
};

static void setup_with(const h2_settings *set) {
  cr_assert_eq(h2_session_new(set, &cbs, &S, &srv), 0);
  nghttp2_session_callbacks *cb;
  cr_assert_eq(nghttp2_session_callbacks_new(&cb), 0);
  nghttp2_session_callbacks_set_on_header_callback(cb, c_on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_on_close);
  cr_assert_eq(nghttp2_session_client_new(&cli, cb, &C), 0);
  nghttp2_session_callbacks_del(cb);
  /* A large client window so that responses are never throttled here. */
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 30}};
  cr_assert_eq(nghttp2_submit_settings(cli, NGHTTP2_FLAG_NONE, iv, 1), 0);
}

static void setup(void) { setup_with(&default_settings); }

static void teardown(void) {
  h2_session_free(srv);
  srv = NULL;
  if (cli)
    nghttp2_session_del(cli);
  cli = NULL;
  for (int i = 0; i < MAXS; i++) {
    buf_free(&S.st[i].body);
    buf_free(&C.st[i].body);
  }
}

/* Moves bytes both ways until neither side has anything to say. Returns
 * what h2_session_feed returned last. */
static int pump(void) {
  for (;;) {
    int moved = 0;
    const uint8_t *d;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(cli, &d)) > 0) {
      moved = 1;
      int rc = h2_session_feed(srv, d, (size_t)n);
      if (rc)
        return rc;
    }
    cr_assert_geq(n, 0, "client mem_send: %s", nghttp2_strerror((int)n));
    while ((n = h2_session_pull(srv, &d)) > 0) {
      moved = 1;
      ssize_t r = nghttp2_session_mem_recv(cli, d, (size_t)n);
      cr_assert_eq(r, n, "client mem_recv: %s", nghttp2_strerror((int)r));
    }
    cr_assert_geq(n, 0, "h2_session_pull: %s", err_name((int)n));
    if (!moved)
      return 0;
  }
}

/* Request body for the client: at most max_chunk bytes per DATA frame. */
typedef struct body_src {
  const uint8_t *p;
  size_t len, off, max_chunk;
} body_src;

static ssize_t read_src(nghttp2_session *ng, int32_t id, uint8_t *dst, size_t len,
                        uint32_t *flags, nghttp2_data_source *src, void *ud) {
  (void)ng;
  (void)id;
  (void)ud;
  body_src *b = src->ptr;
  size_t n = b->len - b->off;
  if (n > len)
    n = len;
  if (b->max_chunk && n > b->max_chunk)
    n = b->max_chunk;
  memcpy(dst, b->p + b->off, n);
  b->off += n;
  if (b->off == b->len)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

#define NV(n, v)                                                                           \
  { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }

static nghttp2_nv req_nv[] = {
    NV(":method", "POST"),
    NV(":scheme", "http"),
    NV(":path", "/ocr.OCRService/ExtractText"),
    NV(":authority", "localhost"),
    NV("content-type", "application/grpc"),
    NV("te", "trailers"),
    NV("x-custom", "value-1"),
};
#define NREQ (sizeof req_nv / sizeof req_nv[0])

/* A request whose body is src (NULL: headers with END_STREAM). */
static int32_t submit_request(body_src *src) {
  nghttp2_data_provider prd = {.source.ptr = src, .read_callback = read_src};
  int32_t id = nghttp2_submit_request(cli, NULL, req_nv, NREQ, src ? &prd : NULL, NULL);
  cr_assert_gt(id, 0, "submit_request: %s", nghttp2_strerror(id));
  return id;
}

/* A request left open: headers without END_STREAM, no body yet. */
static int32_t submit_open_request(void) {
  int32_t id = nghttp2_submit_headers(cli, NGHTTP2_FLAG_NONE, -1, NULL, req_nv, NREQ, NULL);
  cr_assert_gt(id, 0);
  return id;
}

static const hdr resp_hdrs[] = {HDR_LIT(":status", "200"),
                                HDR_LIT("content-type", "application/grpc")};
static const hdr ok_trailers[] = {HDR_LIT("grpc-status", "0")};

static void respond_full(int32_t id, const uint8_t *body, size_t len) {
  cr_assert_eq(h2_respond(srv, id, resp_hdrs, 2, 0), 0);
  cr_assert_eq(h2_send_data(srv, id, body, len), 0);
  cr_assert_eq(h2_send_trailers(srv, id, ok_trailers, 1), 0);
}

TestSuite(h2, .init = setup, .fini = teardown);

/* ---- tests ---- */

Test(h2, preface_and_settings_are_accepted_and_ours_carry_limits) {
  cr_assert_eq(pump(), 0);
  cr_assert_eq(C.goaways, 0);
  cr_assert_eq(C.settings, 1, "the server sent %d SETTINGS frames", C.settings);
  cr_assert_eq(C.settings_acks, 1, "the client's SETTINGS were not acknowledged");
  cr_assert_eq(
      nghttp2_session_get_remote_settings(cli, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
      128);
  cr_assert_eq(
      nghttp2_session_get_remote_settings(cli, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE),
      16 * 1024 * 1024);
  cr_assert_eq(
      nghttp2_session_get_remote_settings(cli, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE),
      4096);
  /* The connection window was raised from 65535 with WINDOW_UPDATE. */
  cr_assert_eq(nghttp2_session_get_remote_window_size(cli), 32 * 1024 * 1024);
  cr_assert_eq(h2_session_alive(srv), 1);
}

Test(h2, request_headers_reach_on_request_pseudo_first) {
  int32_t id = submit_request(NULL);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.requests, 1);
  cr_assert_eq(S.st[0].id, id);
  cr_assert_eq(S.nhdr, NREQ);
  /* Every header, in the order sent; pseudo-headers come first. */
  int seen_regular = 0;
  for (size_t i = 0; i < NREQ; i++) {
    cr_assert_str_eq(S.names[i], (const char *)req_nv[i].name);
    cr_assert_str_eq(S.values[i], (const char *)req_nv[i].value);
    if (S.names[i][0] != ':')
      seen_regular = 1;
    else
      cr_assert_not(seen_regular, "pseudo-header %s after a regular one", S.names[i]);
  }
  /* END_STREAM on the HEADERS frame is an end too. */
  cr_assert_eq(S.ends, 1);
  cr_assert_eq(S.datas, 0);
}

Test(h2, data_split_across_frames_arrives_whole_then_end) {
  uint8_t body[1000];
  for (size_t i = 0; i < sizeof body; i++)
    body[i] = (uint8_t)(i * 31 + 7);
  body_src src = {body, sizeof body, 0, 7};
  submit_request(&src);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.requests, 1);
  cr_assert_geq(S.st[0].ndata, (int)(sizeof body / 7), "one on_data per DATA frame");
  cr_assert_eq(S.st[0].body.len, sizeof body);
  cr_assert_arr_eq(S.st[0].body.data, body, sizeof body);
  cr_assert_eq(S.st[0].ends, 1);
  cr_assert_eq(S.closes, 0, "the stream is half-closed, not closed");
}

Test(h2, end_stream_on_an_empty_data_frame_is_an_end) {
  int32_t id = submit_open_request();
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.requests, 1);
  cr_assert_eq(S.ends, 0);
  uint8_t five[] = {0, 0, 0, 0, 0};
  body_src src = {five, sizeof five, 0, 0};
  nghttp2_data_provider prd = {.source.ptr = &src, .read_callback = read_src};
  cr_assert_eq(nghttp2_submit_data(cli, NGHTTP2_FLAG_NONE, id, &prd), 0);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.st[0].body.len, 5);
  cr_assert_eq(S.ends, 0);
  body_src empty = {five, 0, 0, 0};
  prd.source.ptr = &empty;
  cr_assert_eq(nghttp2_submit_data(cli, NGHTTP2_FLAG_END_STREAM, id, &prd), 0);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.ends, 1);
}

Test(h2, response_headers_body_and_trailers_with_end_stream_on_trailers) {
  uint8_t req[] = {0, 0, 0, 0, 0};
  body_src src = {req, sizeof req, 0, 0};
  int32_t id = submit_request(&src);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.ends, 1);

  uint8_t body[300];
  for (size_t i = 0; i < sizeof body; i++)
    body[i] = (uint8_t)i;
  respond_full(id, body, sizeof body);
  cr_assert_eq(pump(), 0);

  cstream *c = cs(id);
  cr_assert_str_eq(c->status, "200");
  cr_assert_str_eq(c->content_type, "application/grpc");
  cr_assert_eq(c->headers_frames, 1);
  cr_assert_eq(c->body.len, sizeof body);
  cr_assert_arr_eq(c->body.data, body, sizeof body);
  cr_assert_eq(c->trailer_frames, 1, "no trailers HEADERS frame");
  cr_assert_str_eq(c->trailer_grpc_status, "0");
  cr_assert_eq(c->end_on_trailers, 1, "END_STREAM is not on the trailers");
  cr_assert_eq(c->end_on_data, 0, "END_STREAM rode on a DATA frame");
  cr_assert_eq(c->end_on_headers, 0);
  cr_assert_eq(c->closed, 1);
  cr_assert_eq(c->close_code, NGHTTP2_NO_ERROR);
  /* The trailers are the last frame of the stream. */
  int32_t last_type = -1;
  for (size_t i = 0; i < C.nframes; i++)
    if (C.frames[i].stream_id == id)
      last_type = C.frames[i].type;
  cr_assert_eq(last_type, NGHTTP2_HEADERS);
  /* Both sides closed: the server reports a clean close, once. */
  cr_assert_eq(S.st[0].closes, 1);
  cr_assert_eq(S.st[0].close_code, H2_NO_ERROR);
}

Test(h2, data_submitted_later_resumes_the_deferred_provider) {
  int32_t id = submit_request(NULL);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(h2_respond(srv, id, resp_hdrs, 2, 0), 0);
  cr_assert_eq(pump(), 0);
  cstream *c = cs(id);
  cr_assert_str_eq(c->status, "200");
  cr_assert_eq(c->body.len, 0);

  /* The provider is parked now; new bytes must wake it. */
  cr_assert_eq(h2_send_data(srv, id, (const uint8_t *)"first", 5), 0);
  cr_assert_eq(h2_stream_pending(srv, id), 5);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(h2_stream_pending(srv, id), 0);
  cr_assert_eq(c->body.len, 5, "deferred data never went out");
  cr_assert_arr_eq(c->body.data, "first", 5);
  cr_assert_eq(c->closed, 0);

  cr_assert_eq(h2_send_data(srv, id, (const uint8_t *)"second", 6), 0);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(c->body.len, 11);
  cr_assert_arr_eq(c->body.data, "firstsecond", 11);

  cr_assert_eq(h2_send_trailers(srv, id, ok_trailers, 1), 0);
  cr_assert_eq(pump(), 0);
  cr_assert_str_eq(c->trailer_grpc_status, "0");
  cr_assert_eq(c->end_on_trailers, 1);
  cr_assert_eq(c->end_on_data, 0);
  cr_assert_eq(c->closed, 1);
  cr_assert_eq(S.st[0].closes, 1);
}

Test(h2, trailers_only_is_one_headers_frame_with_end_stream) {
  int32_t id = submit_request(NULL);
  cr_assert_eq(pump(), 0);
  hdr h[] = {HDR_LIT(":status", "200"), HDR_LIT("content-type", "application/grpc"),
             HDR_LIT("grpc-status", "12")};
  cr_assert_eq(h2_respond(srv, id, h, 3, 1), 0);
  cr_assert_eq(pump(), 0);
  cstream *c = cs(id);
  cr_assert_eq(c->headers_frames, 1);
  cr_assert_eq(c->end_on_headers, 1);
  cr_assert_eq(c->data_frames, 0);
  cr_assert_eq(c->trailer_frames, 0);
  cr_assert_str_eq(c->status, "200");
  cr_assert_str_eq(c->resp_grpc_status, "12");
  cr_assert_eq(c->closed, 1);
  cr_assert_eq(S.st[0].closes, 1);
  /* Nothing more may be sent on it. */
  cr_assert_eq(h2_send_data(srv, id, (const uint8_t *)"x", 1), ERR_INVAL);
}

Test(h2, api_misuse_is_einval) {
  cr_assert_eq(h2_respond(srv, 1, resp_hdrs, 2, 0), ERR_INVAL);
  int32_t id = submit_open_request();
  cr_assert_eq(pump(), 0);
  cr_assert_eq(h2_send_data(srv, id, (const uint8_t *)"x", 1), ERR_INVAL,
               "data before headers");
  cr_assert_eq(h2_send_trailers(srv, id, ok_trailers, 1), ERR_INVAL);
  cr_assert_eq(h2_respond(srv, id, resp_hdrs, 2, 0), 0);
  cr_assert_eq(h2_respond(srv, id, resp_hdrs, 2, 0), ERR_INVAL, "headers twice");
  cr_assert_eq(h2_send_trailers(srv, id, ok_trailers, 1), 0);
  cr_assert_eq(h2_send_trailers(srv, id, ok_trailers, 1), ERR_INVAL, "trailers twice");
  cr_assert_eq(h2_send_data(srv, id, (const uint8_t *)"x", 1), ERR_INVAL,
               "data after trailers");
  cr_assert_eq(h2_reset(srv, 99, H2_CANCEL), ERR_INVAL);
}

Test(h2, client_rst_stream_closes_with_cancel) {
  int32_t id = submit_open_request();
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.requests, 1);
  cr_assert_eq(nghttp2_submit_rst_stream(cli, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL), 0);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.st[0].closes, 1);
  cr_assert_eq(S.st[0].close_code, H2_CANCEL);
  cr_assert_eq(S.ends, 0);
  /* The stream id is gone for the upper layer. */
  cr_assert_eq(h2_respond(srv, id, resp_hdrs, 2, 0), ERR_INVAL);
}

Test(h2, server_reset_reaches_the_client) {
  int32_t id = submit_open_request();
  cr_assert_eq(pump(), 0);
  cr_assert_eq(h2_reset(srv, id, H2_CANCEL), 0);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(cs(id)->closed, 1);
  cr_assert_eq(cs(id)->close_code, NGHTTP2_CANCEL);
  cr_assert_eq(S.st[0].closes, 1);
  cr_assert_eq(S.st[0].close_code, H2_CANCEL);
}

Test(h2, free_with_an_open_stream_reports_connection_gone) {
  submit_open_request();
  submit_request(NULL);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.requests, 2);
  cr_assert_eq(S.closes, 0);
  h2_session_free(srv);
  srv = NULL;
  cr_assert_eq(S.closes, 2);
  cr_assert_eq(S.st[0].closes, 1);
  cr_assert_eq(S.st[0].close_code, H2_CONNECTION_GONE);
  cr_assert_eq(S.st[1].closes, 1);
  cr_assert_eq(S.st[1].close_code, H2_CONNECTION_GONE);
  h2_session_free(NULL);
}

Test(h2, garbage_instead_of_preface_is_a_protocol_error_with_goaway) {
  static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(h2_session_feed(srv, (const uint8_t *)junk, sizeof junk - 1), ERR_PROTOCOL);
  /* Parse what the server wants to write: frame headers are 9 bytes. */
  buf out = BUF_INIT;
  const uint8_t *d;
  ssize_t n;
  while ((n = h2_session_pull(srv, &d)) > 0)
    buf_append(&out, d, (size_t)n);
  int goaway = 0;
  uint32_t code = 0xffffffff;
  for (size_t off = 0; off + 9 <= out.len;) {
    const uint8_t *f = out.data + off;
    size_t len = (size_t)f[0] << 16 | (size_t)f[1] << 8 | f[2];
    cr_assert_leq(off + 9 + len, out.len, "truncated frame");
    if (f[3] == NGHTTP2_GOAWAY) {
      goaway++;
      const uint8_t *p = f + 9;
      code = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    }
    off += 9 + len;
  }
  cr_assert_eq(goaway, 1, "no GOAWAY queued");
  cr_assert_eq(code, NGHTTP2_PROTOCOL_ERROR);
  buf_free(&out);
  cr_assert_eq(h2_session_alive(srv), 0, "the session should be finished");
}

Test(h2, on_request_failure_resets_the_stream) {
  S.fail_request = 1;
  int32_t id = submit_open_request();
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.requests, 1);
  cr_assert_eq(cs(id)->closed, 1);
  cr_assert_eq(cs(id)->close_code, NGHTTP2_INTERNAL_ERROR);
  cr_assert_eq(C.goaways, 0);
}

Test(h2, header_list_over_the_limit_resets_only_that_stream) {
  cr_assert_eq(pump(), 0);
  static char big[5000];
  memset(big, 'b', sizeof big);
  nghttp2_nv nv[NREQ + 1];
  memcpy(nv, req_nv, sizeof req_nv);
  nv[NREQ] =
      (nghttp2_nv){(uint8_t *)"x-big", (uint8_t *)big, 5, sizeof big, NGHTTP2_NV_FLAG_NONE};
  int32_t id = nghttp2_submit_headers(cli, NGHTTP2_FLAG_NONE, -1, NULL, nv, NREQ + 1, NULL);
  cr_assert_gt(id, 0);
  cr_assert_eq(pump(), 0);
  /* Delivered marked, with the fields that fit, so the upper layer can
   * answer it (RESOURCE_EXHAUSTED) before the reset. */
  cr_assert_eq(S.requests, 1, "an oversized header list was not delivered marked");
  cr_assert_eq(S.overflows, 1);
  cr_assert_eq(C.goaways, 0, "the whole connection was dropped");
  int32_t id2 = submit_request(NULL);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.requests, 2);
  cr_assert_eq(S.overflows, 1);
  respond_full(id2, (const uint8_t *)"ok", 2);
  cr_assert_eq(pump(), 0);
  cr_assert_str_eq(cs(id2)->status, "200");
  cr_assert_str_eq(cs(id2)->trailer_grpc_status, "0");
  cr_assert_eq(S.st[1].closes, 1);
  cr_assert_eq(S.st[1].close_code, H2_NO_ERROR);
}

/* The limit is "name + value + 32 per field" (RFC 9113 6.5.2, h2.h): many
 * small fields count their 32-byte overhead each. 150 fields of ~10 bytes
 * make a list of about 6 KB against a 4 KB limit. */
Test(h2, header_list_limit_counts_32_bytes_per_field) {
  cr_assert_eq(pump(), 0);
  enum { NEXTRA = 150 };
  static char names[NEXTRA][16];
  nghttp2_nv nv[NREQ + NEXTRA];
  memcpy(nv, req_nv, sizeof req_nv);
  for (int i = 0; i < NEXTRA; i++) {
    int len = snprintf(names[i], sizeof names[i], "x-h-%03d", i);
    nv[NREQ + i] = (nghttp2_nv){(uint8_t *)names[i], (uint8_t *)"v", (size_t)len, 1,
                                NGHTTP2_NV_FLAG_NONE};
  }
  size_t list = 0;
  for (size_t i = 0; i < NREQ + NEXTRA; i++)
    list += nv[i].namelen + nv[i].valuelen + 32;
  cr_assert_gt(list, 4096);
  int32_t id =
      nghttp2_submit_headers(cli, NGHTTP2_FLAG_NONE, -1, NULL, nv, NREQ + NEXTRA, NULL);
  cr_assert_gt(id, 0);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.overflows, 1, "a header list of %zu bytes (limit 4096) was not marked",
               list);
}

/* Far over the limit (an HPACK bomb: references to one big table entry),
 * the stream is reset with ENHANCE_YOUR_CALM as the fields arrive, never
 * delivered; the connection lives. */
Test(h2, header_block_far_over_the_limit_is_reset_enhance_your_calm) {
  cr_assert_eq(pump(), 0);
  enum { NEXTRA = 20 };
  static char big[1000];
  memset(big, 'b', sizeof big);
  nghttp2_nv nv[NREQ + NEXTRA];
  memcpy(nv, req_nv, sizeof req_nv);
  for (int i = 0; i < NEXTRA; i++)
    nv[NREQ + i] = (nghttp2_nv){(uint8_t *)"x-big", (uint8_t *)big, 5, sizeof big,
                                NGHTTP2_NV_FLAG_NONE};
  int32_t id =
      nghttp2_submit_headers(cli, NGHTTP2_FLAG_NONE, -1, NULL, nv, NREQ + NEXTRA, NULL);
  cr_assert_gt(id, 0);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.requests, 0, "a 20 KB header list (limit 4096) was delivered");
  cr_assert_eq(cs(id)->closed, 1, "the stream was not reset");
  cr_assert_eq(cs(id)->close_code, NGHTTP2_ENHANCE_YOUR_CALM);
  cr_assert_eq(C.goaways, 0, "the whole connection was dropped");
}

Test(h2, hundred_concurrent_streams_are_each_answered) {
  cr_assert_eq(pump(), 0);
  enum { N = 100 };
  int32_t ids[N];
  static uint8_t bodies[N][5];
  static body_src srcs[N];
  for (int i = 0; i < N; i++) {
    bodies[i][4] = (uint8_t)i;
    srcs[i] = (body_src){bodies[i], 5, 0, 0};
    ids[i] = submit_request(&srcs[i]);
  }
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.requests, N);
  cr_assert_eq(S.ends, N);
  /* Answer in reverse order, each with its own body. */
  for (int i = N - 1; i >= 0; i--) {
    tstream *t = NULL;
    for (int k = 0; k < S.nst; k++)
      if (S.st[k].id == ids[i])
        t = &S.st[k];
    cr_assert_not_null(t);
    cr_assert_eq(t->body.len, 5);
    cr_assert_eq(t->body.data[4], (uint8_t)i);
    char reply[32];
    int len = snprintf(reply, sizeof reply, "reply %d", i);
    respond_full(ids[i], (const uint8_t *)reply, (size_t)len);
  }
  cr_assert_eq(pump(), 0);
  for (int i = 0; i < N; i++) {
    cstream *c = cs(ids[i]);
    char reply[32];
    int len = snprintf(reply, sizeof reply, "reply %d", i);
    cr_assert_str_eq(c->status, "200", "stream %d", ids[i]);
    cr_assert_eq(c->body.len, (size_t)len, "stream %d", ids[i]);
    cr_assert_arr_eq(c->body.data, reply, (size_t)len);
    cr_assert_str_eq(c->trailer_grpc_status, "0");
    cr_assert_eq(c->end_on_trailers, 1);
    cr_assert_eq(c->closed, 1);
    cr_assert_eq(c->close_code, NGHTTP2_NO_ERROR);
  }
  cr_assert_eq(S.closes, N);
}

Test(h2, one_mib_body_flows_without_further_window_updates) {
  cr_assert_eq(pump(), 0); /* SETTINGS and the connection WINDOW_UPDATE */
  size_t len = 1024 * 1024;
  uint8_t *body = malloc(len);
  cr_assert_not_null(body);
  for (size_t i = 0; i < len; i++)
    body[i] = (uint8_t)(i ^ (i >> 8));
  body_src src = {body, len, 0, 0};
  submit_request(&src);
  /* Only client -> server: the server's WINDOW_UPDATEs are never delivered. */
  const uint8_t *d;
  ssize_t n;
  while ((n = nghttp2_session_mem_send(cli, &d)) > 0)
    cr_assert_eq(h2_session_feed(srv, d, (size_t)n), 0);
  cr_assert_eq(n, 0);
  cr_assert_eq(S.requests, 1);
  cr_assert_eq(S.st[0].body.len, len,
               "only %zu of %zu bytes arrived before the client "
               "had to wait for a window update",
               S.st[0].body.len, len);
  cr_assert_eq(memcmp(S.st[0].body.data, body, len), 0);
  cr_assert_eq(S.st[0].ends, 1);
  free(body);
}

Test(h2, goaway_names_the_last_stream) {
  int32_t id = submit_request(NULL);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(h2_session_goaway(srv, H2_NO_ERROR, "bye"), 0);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(C.goaways, 1);
  cr_assert_eq(C.goaway_error, NGHTTP2_NO_ERROR);
  cr_assert_eq(C.goaway_last, id);
  /* The open stream still finishes. */
  respond_full(id, (const uint8_t *)"x", 1);
  cr_assert_eq(pump(), 0);
  cr_assert_str_eq(cs(id)->trailer_grpc_status, "0");
}

/* The drain waits on h2_session_shutdown_pending: it must stay 1 until the
 * peer has acknowledged the shutdown PING (proof that it read what came
 * before), then the real GOAWAY follows. */
Test(h2, shutdown_is_pending_until_the_ping_ack) {
  int32_t id = submit_request(NULL);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(h2_session_shutdown_pending(srv), 0);
  cr_assert_eq(h2_session_shutdown(srv), 0);
  cr_assert_eq(h2_session_shutdown_pending(srv), 1);
  /* The notice and the PING reach the client; its ACK does not come back. */
  const uint8_t *d;
  ssize_t n;
  while ((n = h2_session_pull(srv, &d)) > 0)
    cr_assert_eq(nghttp2_session_mem_recv(cli, d, (size_t)n), n);
  cr_assert_eq(C.goaways, 1);
  cr_assert_eq(h2_session_shutdown_pending(srv), 1);
  cr_assert_eq(pump(), 0); /* the ACK arrives */
  cr_assert_eq(h2_session_shutdown_pending(srv), 0);
  cr_assert_eq(C.goaways, 2);
  cr_assert_eq(C.goaway_last, id);
}

/* Index in the client's frame log of the first frame of `type` on stream
 * id at or after `from`, with END_STREAM if `end`; -1 if none. */
static long find_frame(int32_t id, uint8_t type, int end, size_t from) {
  for (size_t i = from; i < C.nframes; i++)
    if (C.frames[i].stream_id == id && C.frames[i].type == type &&
        (!end || (C.frames[i].flags & NGHTTP2_FLAG_END_STREAM)))
      return (long)i;
  return -1;
}

/* grpc doc/PROTOCOL-HTTP2.md: a server that finishes before the client's
 * END_STREAM sends its trailers, then RST_STREAM(NO_ERROR), so the client
 * stops uploading and both sides free the stream. */
Test(h2, finishing_before_the_client_ends_resets_with_no_error) {
  int32_t a = submit_open_request();
  int32_t b = submit_open_request();
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.requests, 2);
  hdr h[] = {HDR_LIT(":status", "200"), HDR_LIT("content-type", "application/grpc"),
             HDR_LIT("grpc-status", "8")};
  cr_assert_eq(h2_respond(srv, a, h, 3, 1), 0); /* Trailers-Only */
  respond_full(b, (const uint8_t *)"x", 1);     /* a whole response */
  cr_assert_eq(pump(), 0);
  int32_t ids[] = {a, b};
  for (int k = 0; k < 2; k++) {
    int32_t id = ids[k];
    long end = find_frame(id, NGHTTP2_HEADERS, 1, 0);
    cr_assert_geq(end, 0, "stream %d: no HEADERS with END_STREAM", id);
    long rst = find_frame(id, NGHTTP2_RST_STREAM, 0, 0);
    cr_assert_geq(rst, 0, "stream %d: no RST_STREAM after the server finished", id);
    cr_assert_gt(rst, end, "stream %d: RST_STREAM before the trailers", id);
    cr_assert_eq(C.frames[rst].error_code, NGHTTP2_NO_ERROR);
    cr_assert_eq(cs(id)->closed, 1);
    cr_assert_eq(cs(id)->close_code, NGHTTP2_NO_ERROR);
  }
  cr_assert_eq(S.closes, 2, "the server still holds the streams");
  cr_assert_eq(S.ends, 0);
}

Test(h2, notify_drain_reports_once_the_body_is_handed_over) {
  int32_t id = submit_request(NULL);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(h2_respond(srv, id, resp_hdrs, 2, 0), 0);
  size_t len = 100 * 1024; /* several frames and more than the client's window */
  uint8_t *body = malloc(len);
  cr_assert_not_null(body);
  for (size_t i = 0; i < len; i++)
    body[i] = (uint8_t)(i * 3);
  cr_assert_eq(h2_send_data(srv, id, body, len), 0);
  h2_stream_notify_drain(srv, id);
  cr_assert_eq(S.drains, 0, "reported before anything was written");
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.drains, 1);
  cr_assert_eq(h2_stream_pending(srv, id), 0);
  cr_assert_eq(cs(id)->body.len, len);
  cr_assert_eq(memcmp(cs(id)->body.data, body, len), 0);
  /* Not asked again: not reported again. */
  cr_assert_eq(h2_send_data(srv, id, body, 10), 0);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.drains, 1);
  /* Asked while already empty: reported at the next pull. */
  h2_stream_notify_drain(srv, id);
  cr_assert_eq(pump(), 0);
  cr_assert_eq(S.drains, 2);
  cr_assert_eq(h2_send_trailers(srv, id, ok_trailers, 1), 0);
  cr_assert_eq(pump(), 0);
  cr_assert_str_eq(cs(id)->trailer_grpc_status, "0");
  free(body);
}
