/* SPDX-License-Identifier: MIT */
/* The client session (src/client/client_session.c) against the server's own
 * h2 session (src/h2) in memory: what one side pulls is fed to the other,
 * the server's answers are scripted per test, and deadlines run on a
 * manual clock. No sockets, no threads. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "client_internal.h"
#include "h2/h2.h"

#define MAXS 16

/* ---- a manual timer source ---- */

struct timer {
  timer_cb cb;
  void *arg;
  uint64_t ms;
  int live;
};

static struct timer timers[64];
static int ntimers;

static timer *t_start(timer_src *src, uint64_t ms, timer_cb cb, void *arg) {
  (void)src;
  cr_assert_lt(ntimers, 64);
  struct timer *t = &timers[ntimers++];
  t->cb = cb;
  t->arg = arg;
  t->ms = ms;
  t->live = 1;
  return t;
}

static void t_stop(timer_src *src, timer *t) {
  (void)src;
  if (t)
    t->live = 0;
}

static uint64_t t_now(timer_src *src) {
  (void)src;
  return 0;
}

static timer_src TS = {t_start, t_stop, t_now, NULL};

static void fire_all(void) {
  for (int i = 0; i < ntimers; i++) {
    if (timers[i].live) {
      timers[i].live = 0;
      timers[i].cb(timers[i].arg);
    }
  }
}

/* ---- the server side ---- */

enum {
  ANSWER_OK,
  ANSWER_NONE,
  ANSWER_TRAILERS_ONLY,
  ANSWER_RESET,
  ANSWER_HTTP_503,
  ANSWER_NO_MESSAGE,
  ANSWER_BIG
};

typedef struct sstream {
  int32_t id;
  int ended, answered, closed;
  uint32_t close_code;
  size_t body_len;
  char path[64];
  char timeout[16];
  char te[16];
  char ctype[32];
  char authz[64];
} sstream;

static struct {
  h2_session *h2;
  sstream st[MAXS];
  int nst;
  int open, max_open;
  int answer;
} S;

/* The client's authorization setting for the next setup_with. */
static const char *authz_setting;

static int s_on_request(void *ud, int32_t id, const hdr *hdrs, size_t n, void **sud) {
  (void)ud;
  cr_assert_lt(S.nst, MAXS);
  sstream *t = &S.st[S.nst++];
  memset(t, 0, sizeof *t);
  t->id = id;
  for (size_t i = 0; i < n; i++) {
    char *dst = NULL;
    size_t cap = 0;
    if (hdr_is(&hdrs[i], ":path"))
      dst = t->path, cap = sizeof t->path;
    else if (hdr_is(&hdrs[i], "grpc-timeout"))
      dst = t->timeout, cap = sizeof t->timeout;
    else if (hdr_is(&hdrs[i], "te"))
      dst = t->te, cap = sizeof t->te;
    else if (hdr_is(&hdrs[i], "content-type"))
      dst = t->ctype, cap = sizeof t->ctype;
    else if (hdr_is(&hdrs[i], "authorization"))
      dst = t->authz, cap = sizeof t->authz;
    if (dst)
      snprintf(dst, cap, "%.*s", (int)hdrs[i].value_len, hdrs[i].value);
  }
  S.open++;
  if (S.open > S.max_open)
    S.max_open = S.open;
  *sud = t;
  return 0;
}

static int s_on_data(void *ud, void *sud, const uint8_t *data, size_t len) {
  (void)ud;
  (void)data;
  ((sstream *)sud)->body_len += len;
  return 0;
}

static void s_on_end(void *ud, void *sud) {
  (void)ud;
  ((sstream *)sud)->ended = 1;
}

static void s_on_close(void *ud, void *sud, uint32_t code) {
  (void)ud;
  sstream *t = sud;
  t->closed = 1;
  t->close_code = code;
  S.open--;
}

static void s_on_drain(void *ud, void *sud) {
  (void)ud;
  (void)sud;
}

static const hdr ok_headers[] = {HDR_LIT(":status", "200"),
                                 HDR_LIT("content-type", "application/grpc")};
static const hdr ok_trailers[] = {HDR_LIT("grpc-status", "0")};

/* Answers ended streams the way the test asked; outside h2's callbacks. */
static void answer(void) {
  for (int i = 0; i < S.nst; i++) {
    sstream *t = &S.st[i];
    if (!t->ended || t->answered || t->closed || S.answer == ANSWER_NONE)
      continue;
    t->answered = 1;
    switch (S.answer) {
    case ANSWER_OK: {
      static const uint8_t msg[] = {0, 0, 0, 0, 3, 'a', 'b', 'c'};
      cr_assert_eq(h2_respond(S.h2, t->id, ok_headers, 2, 0), 0);
      cr_assert_eq(h2_send_data(S.h2, t->id, msg, sizeof msg), 0);
      cr_assert_eq(h2_send_trailers(S.h2, t->id, ok_trailers, 1), 0);
      break;
    }
    case ANSWER_BIG: {
      static const uint8_t msg[] = {0, 0, 0, 0, 20, 'x'};
      cr_assert_eq(h2_respond(S.h2, t->id, ok_headers, 2, 0), 0);
      cr_assert_eq(h2_send_data(S.h2, t->id, msg, sizeof msg), 0);
      break;
    }
    case ANSWER_NO_MESSAGE:
      cr_assert_eq(h2_respond(S.h2, t->id, ok_headers, 2, 0), 0);
      cr_assert_eq(h2_send_trailers(S.h2, t->id, ok_trailers, 1), 0);
      break;
    case ANSWER_TRAILERS_ONLY: {
      const hdr h[] = {HDR_LIT(":status", "200"),
                       HDR_LIT("content-type", "application/grpc"),
                       HDR_LIT("grpc-status", "5"),
                       HDR_LIT("grpc-message", "no%20such%20batch %E2%98%BA%zz")};
      cr_assert_eq(h2_respond(S.h2, t->id, h, 4, 1), 0);
      break;
    }
    case ANSWER_HTTP_503: {
      const hdr h[] = {HDR_LIT(":status", "503")};
      cr_assert_eq(h2_respond(S.h2, t->id, h, 1, 1), 0);
      break;
    }
    case ANSWER_RESET:
      cr_assert_eq(h2_reset(S.h2, t->id, H2_REFUSED_STREAM), 0);
      break;
    default:
      break;
    }
  }
}

/* ---- the client side ---- */

typedef struct result {
  int done;
  int code;
  int local;
  char msg[256];
  int nmsg;
  size_t msg_len;
  int order;
} result;

static int done_seq;

static int c_on_message(void *ud, const uint8_t *data, size_t len) {
  result *r = ud;
  (void)data;
  r->nmsg++;
  r->msg_len = len;
  return 0;
}

static void c_on_done(void *ud, const client_status *st) {
  result *r = ud;
  cr_assert_not(r->done, "on_done twice");
  r->done = 1;
  r->code = st->code;
  r->local = st->local;
  r->order = done_seq++;
  snprintf(r->msg, sizeof r->msg, "%s", st->message);
}

static const client_call_cbs CBS = {c_on_message, c_on_done};
static const uint8_t REQ[] = {0, 0, 0, 0, 2, 0x0a, 0x00};

static client_session *cs;

static void setup_with(uint32_t max_streams, uint64_t max_recv) {
  memset(&S, 0, sizeof S);
  memset(timers, 0, sizeof timers);
  ntimers = 0;
  done_seq = 0;
  h2_settings hs;
  memset(&hs, 0, sizeof hs);
  hs.max_concurrent_streams = max_streams;
  hs.initial_window_size = 1 << 20;
  hs.connection_window_size = 1 << 20;
  hs.max_header_list_size = 65536;
  h2_callbacks hc = {s_on_request, s_on_data, s_on_end, s_on_close, s_on_drain};
  cr_assert_eq(h2_session_new(&hs, &hc, NULL, &S.h2), 0);
  client_session_cfg cfg = {"test:1", 0, max_recv, &TS, authz_setting};
  cr_assert_eq(client__session_new(&cfg, &cs), 0);
}

static void setup(void) { setup_with(100, 0); }

static void teardown(void) {
  client__session_free(cs, RPC_CANCELLED, "test over");
  h2_session_free(S.h2);
}

/* Moves bytes both ways until neither side has anything to say. */
static void pump(void) {
  for (int round = 0; round < 1000; round++) {
    int moved = 0;
    const uint8_t *p;
    ssize_t n;
    while ((n = client__session_pull(cs, &p)) > 0) {
      cr_assert_eq(h2_session_feed(S.h2, p, (size_t)n), 0);
      moved = 1;
    }
    cr_assert_geq(n, 0);
    answer();
    while ((n = h2_session_pull(S.h2, &p)) > 0) {
      cr_assert_eq(client__session_feed(cs, p, (size_t)n), 0);
      moved = 1;
    }
    cr_assert_geq(n, 0);
    if (!moved)
      return;
  }
  cr_assert_fail("pump did not settle");
}

static int start(result *r, uint64_t timeout_ms, int flags, client_call **out) {
  return client__session_call(cs, "/ocr.OCRService/CheckHealth", REQ, sizeof REQ,
                              timeout_ms, flags, &CBS, r, out);
}

TestSuite(session, .init = setup, .fini = teardown);
/* Tests that build their own session configuration. */
TestSuite(session_cfg, .fini = teardown);

Test(session, unary_ok) {
  result r = {0};
  cr_assert_eq(start(&r, 0, CLIENT_CALL_UNARY, NULL), 0);
  pump();
  cr_assert(r.done);
  cr_assert_eq(r.code, RPC_OK, "%d %s", r.code, r.msg);
  cr_assert_eq(r.local, 0);
  cr_assert_eq(r.nmsg, 1);
  cr_assert_eq(r.msg_len, 3);
  cr_assert_eq(S.nst, 1);
  cr_assert_str_eq(S.st[0].path, "/ocr.OCRService/CheckHealth");
  cr_assert_str_eq(S.st[0].te, "trailers");
  cr_assert_str_eq(S.st[0].ctype, "application/grpc");
  cr_assert_str_eq(S.st[0].timeout, ""); /* no deadline, no header */
  cr_assert_eq(S.st[0].body_len, sizeof REQ);
  cr_assert_eq(client__session_ncalls(cs), 0);
  cr_assert_eq(client__session_max_streams(cs), 100);
}

Test(session, trailers_only_status_and_decoded_message) {
  result r = {0};
  S.answer = ANSWER_TRAILERS_ONLY;
  cr_assert_eq(start(&r, 0, CLIENT_CALL_UNARY, NULL), 0);
  pump();
  cr_assert(r.done);
  cr_assert_eq(r.code, RPC_NOT_FOUND);
  cr_assert_eq(r.local, 0);
  cr_assert_str_eq(r.msg, "no such batch \xe2\x98\xba%zz");
  cr_assert_eq(r.nmsg, 0);
}

Test(session_cfg, respects_max_concurrent_streams) {
  setup_with(2, 0);
  result r[6] = {0};
  for (int i = 0; i < 6; i++)
    cr_assert_eq(start(&r[i], 0, CLIENT_CALL_UNARY, NULL), 0);
  S.answer = ANSWER_NONE;
  pump();
  cr_assert_eq(S.nst, 2, "the server's limit is 2, %d streams opened", S.nst);
  S.answer = ANSWER_OK;
  pump();
  cr_assert_eq(S.nst, 6);
  cr_assert_leq(S.max_open, 2);
  for (int i = 0; i < 6; i++) {
    cr_assert(r[i].done);
    cr_assert_eq(r[i].code, RPC_OK);
  }
  /* Queued calls start in order. */
  for (int i = 0; i + 1 < S.nst; i++)
    cr_assert_lt(S.st[i].id, S.st[i + 1].id);
}

Test(session, deadline_sends_timeout_and_cancels) {
  result r = {0};
  S.answer = ANSWER_NONE;
  cr_assert_eq(start(&r, 1500, CLIENT_CALL_UNARY, NULL), 0);
  pump();
  cr_assert_str_eq(S.st[0].timeout, "1500m");
  cr_assert_not(r.done);
  cr_assert_eq(ntimers, 1);
  cr_assert_eq(timers[0].ms, 1500);
  fire_all();
  cr_assert(r.done);
  cr_assert_eq(r.code, RPC_DEADLINE_EXCEEDED);
  cr_assert(r.local);
  cr_assert(strstr(r.msg, "1500 ms"), "%s", r.msg);
  pump();
  cr_assert(S.st[0].closed);
  cr_assert_eq(S.st[0].close_code, H2_CANCEL);
}

Test(session_cfg, deadline_while_queued) {
  setup_with(1, 0);
  result a = {0}, b = {0};
  S.answer = ANSWER_NONE;
  cr_assert_eq(start(&a, 0, CLIENT_CALL_UNARY, NULL), 0);
  cr_assert_eq(start(&b, 10, CLIENT_CALL_UNARY, NULL), 0);
  pump();
  cr_assert_eq(S.nst, 1);
  fire_all(); /* b's deadline, b never got a stream */
  cr_assert(b.done);
  cr_assert_eq(b.code, RPC_DEADLINE_EXCEEDED);
  S.answer = ANSWER_OK;
  pump();
  cr_assert(a.done);
  cr_assert_eq(a.code, RPC_OK);
  cr_assert_eq(S.nst, 1);
}

Test(session, cancel) {
  result r = {0};
  client_call *call;
  S.answer = ANSWER_NONE;
  cr_assert_eq(start(&r, 0, CLIENT_CALL_UNARY, &call), 0);
  pump();
  client__call_cancel(call);
  cr_assert(r.done);
  cr_assert_eq(r.code, RPC_CANCELLED);
  pump();
  cr_assert_eq(S.st[0].close_code, H2_CANCEL);
}

Test(session, reset_by_server_is_unavailable) {
  result r = {0};
  S.answer = ANSWER_RESET;
  cr_assert_eq(start(&r, 0, CLIENT_CALL_UNARY, NULL), 0);
  pump();
  cr_assert(r.done);
  cr_assert_eq(r.code, RPC_UNAVAILABLE);
  cr_assert(r.local);
  cr_assert(strstr(r.msg, "reset"), "%s", r.msg);
}

/* GOAWAY (graceful shutdown, RFC 9113 section 6.8): calls the server took
 * (ids up to the last stream id) finish normally; the connection takes no
 * new call; a call the server did not take ends UNAVAILABLE, saying why. */
Test(session, goaway_lets_taken_calls_finish_and_refuses_new_ones) {
  result r[2] = {0};
  S.answer = ANSWER_NONE;
  cr_assert_eq(start(&r[0], 0, CLIENT_CALL_UNARY, NULL), 0);
  pump();
  cr_assert_eq(S.nst, 1);
  cr_assert_eq(h2_session_goaway(S.h2, H2_NO_ERROR, NULL), 0);
  pump();
  cr_assert_not(client__session_usable(cs));
  cr_assert_eq(start(&r[1], 0, CLIENT_CALL_UNARY, NULL), ERR_UNAVAILABLE);
  cr_assert_not(r[0].done);
  S.answer = ANSWER_OK;
  pump();
  cr_assert(r[0].done);
  cr_assert_eq(r[0].code, RPC_OK);
  cr_assert_eq(r[0].nmsg, 1);
}

Test(session, goaway_before_the_request_is_unavailable) {
  result r = {0};
  cr_assert_eq(start(&r, 0, CLIENT_CALL_UNARY, NULL), 0);
  /* The server says GOAWAY (last stream id 0) before it reads anything. */
  cr_assert_eq(h2_session_goaway(S.h2, H2_NO_ERROR, NULL), 0);
  const uint8_t *p;
  ssize_t n;
  while ((n = h2_session_pull(S.h2, &p)) > 0)
    cr_assert_eq(client__session_feed(cs, p, (size_t)n), 0);
  pump();
  cr_assert(r.done);
  cr_assert_eq(r.code, RPC_UNAVAILABLE);
  cr_assert(r.local);
  cr_assert(strstr(r.msg, "GOAWAY"), "%s", r.msg);
  cr_assert_eq(S.nst, 0, "the server saw a request it had refused");
}

Test(session, goaway_crossing_the_request_is_unavailable) {
  result r = {0};
  pump(); /* prefaces and SETTINGS */
  cr_assert_eq(start(&r, 0, CLIENT_CALL_UNARY, NULL), 0);
  /* The request is on the wire when the server's GOAWAY (last stream id
   * 0) arrives: nghttp2 closes the stream with REFUSED_STREAM. */
  const uint8_t *p;
  ssize_t n;
  uint8_t held[4096];
  size_t nheld = 0;
  while ((n = client__session_pull(cs, &p)) > 0) {
    cr_assert_leq(nheld + (size_t)n, sizeof held);
    memcpy(held + nheld, p, (size_t)n);
    nheld += (size_t)n;
  }
  cr_assert_gt(nheld, 0);
  cr_assert_eq(h2_session_goaway(S.h2, H2_NO_ERROR, NULL), 0);
  while ((n = h2_session_pull(S.h2, &p)) > 0)
    cr_assert_eq(client__session_feed(cs, p, (size_t)n), 0);
  cr_assert(r.done);
  cr_assert_eq(r.code, RPC_UNAVAILABLE);
  cr_assert(strstr(r.msg, "GOAWAY"), "%s", r.msg);
  cr_assert(strstr(r.msg, "not processed"), "%s", r.msg);
  cr_assert_eq(h2_session_feed(S.h2, held, nheld), 0);
  pump();
  cr_assert_eq(S.nst, 0, "the server took a request after its GOAWAY");
}

Test(session_cfg, authorization_is_sent_on_every_call) {
  authz_setting = "Bearer t-1";
  setup_with(100, 0);
  authz_setting = NULL;
  result r[2] = {0};
  cr_assert_eq(start(&r[0], 5000, CLIENT_CALL_UNARY, NULL), 0);
  cr_assert_eq(start(&r[1], 0, CLIENT_CALL_UNARY, NULL), 0);
  pump();
  cr_assert_eq(S.nst, 2);
  for (int i = 0; i < 2; i++)
    cr_assert_str_eq(S.st[i].authz, "Bearer t-1");
  cr_assert_str_eq(S.st[0].timeout, "5000m");
}

Test(session, no_authorization_by_default) {
  result r = {0};
  cr_assert_eq(start(&r, 0, CLIENT_CALL_UNARY, NULL), 0);
  pump();
  cr_assert_eq(S.nst, 1);
  cr_assert_str_eq(S.st[0].authz, "");
}

Test(session, http_503_maps_to_unavailable) {
  result r = {0};
  S.answer = ANSWER_HTTP_503;
  cr_assert_eq(start(&r, 0, CLIENT_CALL_UNARY, NULL), 0);
  pump();
  cr_assert_eq(r.code, RPC_UNAVAILABLE);
  cr_assert(strstr(r.msg, "503"), "%s", r.msg);
}

Test(session, unary_without_message_is_internal) {
  result r = {0};
  S.answer = ANSWER_NO_MESSAGE;
  cr_assert_eq(start(&r, 0, CLIENT_CALL_UNARY, NULL), 0);
  pump();
  cr_assert_eq(r.code, RPC_INTERNAL);
  cr_assert(r.local);
}

Test(session, streaming_call_may_have_no_message) {
  result r = {0};
  S.answer = ANSWER_NO_MESSAGE;
  cr_assert_eq(start(&r, 0, 0, NULL), 0);
  pump();
  cr_assert_eq(r.code, RPC_OK);
}

Test(session_cfg, oversized_response_message) {
  setup_with(100, 10);
  result r = {0};
  S.answer = ANSWER_BIG;
  cr_assert_eq(start(&r, 0, CLIENT_CALL_UNARY, NULL), 0);
  pump();
  cr_assert(r.done);
  cr_assert_eq(r.code, RPC_RESOURCE_EXHAUSTED);
  cr_assert(strstr(r.msg, "larger than 10 bytes"), "%s", r.msg);
  cr_assert_eq(S.st[0].close_code, H2_CANCEL);
}

Test(session, failure_ends_every_call_and_refuses_new_ones) {
  result r[3] = {0};
  S.answer = ANSWER_NONE;
  cr_assert_eq(start(&r[0], 0, 0, NULL), 0);
  pump();
  cr_assert_eq(start(&r[1], 0, 0, NULL), 0); /* queued, never sent */
  client__session_fail(cs, RPC_UNAVAILABLE, "connection reset");
  for (int i = 0; i < 2; i++) {
    cr_assert(r[i].done);
    cr_assert_eq(r[i].code, RPC_UNAVAILABLE);
    cr_assert_str_eq(r[i].msg, "connection reset");
  }
  cr_assert_eq(start(&r[2], 0, 0, NULL), ERR_UNAVAILABLE);
  cr_assert_not(r[2].done);
  cr_assert_not(client__session_usable(cs));
}

Test(session, free_with_calls_in_flight) {
  result r = {0};
  S.answer = ANSWER_NONE;
  cr_assert_eq(start(&r, 100, 0, NULL), 0);
  pump();
  client__session_free(cs, RPC_CANCELLED, "closed");
  cs = NULL;
  cr_assert(r.done);
  cr_assert_eq(r.code, RPC_CANCELLED);
  cr_assert_not(timers[0].live); /* the deadline was stopped */
}

Test(session, bad_arguments) {
  result r = {0};
  cr_assert_eq(client__session_call(cs, "nopath", REQ, sizeof REQ, 0, 0, &CBS, &r, NULL),
               ERR_INVAL);
  cr_assert_eq(client__session_call(cs, "/a/b", NULL, 3, 0, 0, &CBS, &r, NULL), ERR_INVAL);
}
