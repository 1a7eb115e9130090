/* SPDX-License-Identifier: MIT */
/* h1_session fed bytes as a socket would give them (whole, split, one at
 * a time), answering from the request callback or later, and reading the
 * output back as bytes. No sockets, no threads. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "h1/h1.h"

typedef struct ud {
  h1_session *s;
  int nreq;
  int answer_now; /* respond from inside on_request */
  char method[16], path[256], query[256], body[4096], ctype[64];
  size_t body_len;
  int http_minor;
} ud;

static void on_request(void *arg, const h1_request *r) {
  ud *u = arg;
  u->nreq++;
  snprintf(u->method, sizeof u->method, "%s", r->method);
  snprintf(u->path, sizeof u->path, "%s", r->path);
  snprintf(u->query, sizeof u->query, "%s", r->query);
  u->body_len = r->body_len;
  memcpy(u->body, r->body ? (const char *)r->body : "",
         r->body_len < 4095 ? r->body_len : 4095);
  u->body[r->body_len < 4095 ? r->body_len : 4095] = 0;
  u->ctype[0] = 0;
  for (size_t i = 0; i < r->nheaders; i++)
    if (HDR_IS(&r->headers[i], "content-type"))
      snprintf(u->ctype, sizeof u->ctype, "%.*s", (int)r->headers[i].value_len,
               r->headers[i].value);
  u->http_minor = r->http_minor;
  if (u->answer_now) {
    char b[300];
    int n = snprintf(b, sizeof b, "%s", u->path);
    cr_assert_eq(h1_session_respond(u->s, 200, NULL, 0, (const uint8_t *)b, (size_t)n), 0);
  }
}

static ud u;
static const h1_callbacks cbs = {on_request, NULL};

static void setup(void) {
  memset(&u, 0, sizeof u);
  h1_settings st = {.max_header_bytes = 1024, .max_body_bytes = 100};
  cr_assert_eq(h1_session_new(&st, &cbs, &u, &u.s), 0);
}

static void teardown(void) { h1_session_free(u.s); }

static int feed(const char *s) {
  return h1_session_feed(u.s, (const uint8_t *)s, strlen(s));
}

/* The output so far, NUL-terminated (static storage). */
static const char *output(void) {
  static buf b;
  buf_reset(&b);
  cr_assert_eq(h1_session_pull(u.s, &b), 0);
  buf_append(&b, "", 1);
  return (const char *)b.data;
}

TestSuite(h1, .init = setup, .fini = teardown);

Test(h1, get_keep_alive_then_answer_later) {
  cr_assert_eq(feed("GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
  cr_assert_eq(u.nreq, 1);
  cr_assert_str_eq(u.method, "GET");
  cr_assert_str_eq(u.path, "/healthz");
  cr_assert_str_eq(u.query, "x=1");
  cr_assert_eq(h1_session_phase(u.s), H1_WAITING);
  hdr h = HDR_LIT("content-type", "text/plain");
  cr_assert_eq(h1_session_respond(u.s, 200, &h, 1, (const uint8_t *)"ok", 2), 0);
  cr_assert_str_eq(output(), "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
                             "content-length: 2\r\n\r\nok");
  cr_assert_not(h1_session_want_close(u.s));
  cr_assert_eq(h1_session_phase(u.s), H1_IDLE);
  cr_assert_eq(h1_session_respond(u.s, 200, NULL, 0, NULL, 0), ERR_INVAL,
               "nothing waits for an answer");
}

Test(h1, pipelined_requests_are_answered_in_order) {
  cr_assert_eq(
      feed("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n"), 0);
  cr_assert_eq(u.nreq, 1, "the next request waits for the answer");
  cr_assert(h1_session_has_input(u.s));
  h1_session_respond(u.s, 200, NULL, 0, (const uint8_t *)"a", 1);
  u.answer_now = 1;
  cr_assert_eq(h1_session_feed(u.s, NULL, 0), 0);
  cr_assert_eq(u.nreq, 3);
  cr_assert_str_eq(output(), "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na"
                             "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n/b"
                             "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n/c");
}

Test(h1, byte_at_a_time_with_content_length_body) {
  u.answer_now = 1;
  const char *req = "POST /ocr/extract HTTP/1.1\r\nContent-Type: application/json\r\n"
                    "Content-Length: 7\r\n\r\n{\"a\":1}";
  for (const char *p = req; *p; p++) {
    cr_assert_eq(u.nreq, 0);
    cr_assert_eq(h1_session_feed(u.s, (const uint8_t *)p, 1), 0);
    if (p[1])
      cr_assert_neq(h1_session_phase(u.s), H1_IDLE);
  }
  cr_assert_eq(u.nreq, 1);
  cr_assert_str_eq(u.body, "{\"a\":1}");
  cr_assert_str_eq(u.ctype, "application/json");
}

Test(h1, chunked_body) {
  u.answer_now = 1;
  cr_assert_eq(feed("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"),
               0);
  cr_assert_eq(u.nreq, 1);
  cr_assert_eq(u.body_len, 7);
  cr_assert_str_eq(u.body, "abcdefg");
}

Test(h1, expect_100_continue_before_the_body) {
  cr_assert_eq(
      feed("POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"), 0);
  cr_assert_str_eq(output(), "HTTP/1.1 100 Continue\r\n\r\n");
  cr_assert_eq(h1_session_phase(u.s), H1_BODY);
  u.answer_now = 1;
  cr_assert_eq(feed("abc"), 0);
  cr_assert_eq(u.nreq, 1);
}

Test(h1, declared_body_over_the_limit_is_refused_before_it_is_read) {
  cr_assert_eq(
      feed("POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 101\r\n\r\n"),
      ERR_PROTOCOL);
  cr_assert_eq(u.nreq, 0);
  const char *o = output();
  cr_assert(strncmp(o, "HTTP/1.1 413 Content Too Large\r\n", 32) == 0, "%s", o);
  cr_assert_null(strstr(o, "100 Continue"), "never invited the body");
  cr_assert(h1_session_want_close(u.s));
}

Test(h1, chunked_body_over_the_limit) {
  char req[512];
  snprintf(
      req, sizeof req,
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n%0100d\r\n1\r\nz\r\n",
      0);
  cr_assert_eq(feed(req), ERR_PROTOCOL);
  cr_assert(strncmp(output(), "HTTP/1.1 413 ", 13) == 0);
}

Test(h1, header_block_over_the_limit) {
  char req[2048];
  snprintf(req, sizeof req, "GET / HTTP/1.1\r\nX-Big: %01100d\r\n\r\n", 0);
  cr_assert_eq(feed(req), ERR_PROTOCOL);
  cr_assert(strncmp(output(), "HTTP/1.1 431 ", 13) == 0);
  cr_assert(h1_session_want_close(u.s));
  cr_assert_eq(feed("GET / HTTP/1.1\r\n\r\n"), ERR_PROTOCOL,
               "a failed session reads no more");
}

Test(h1, malformed_request_line) {
  cr_assert_eq(feed("GARBAGE\r\n\r\n"), ERR_PROTOCOL);
  cr_assert(strncmp(output(), "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
}

Test(h1, http10_closes_unless_keep_alive) {
  u.answer_now = 1;
  cr_assert_eq(feed("GET /a HTTP/1.0\r\n\r\n"), 0);
  cr_assert_eq(u.http_minor, 0);
  const char *o = output();
  cr_assert_not_null(strstr(o, "connection: close\r\n"), "%s", o);
  cr_assert(h1_session_want_close(u.s));
}

Test(h1, http10_keep_alive) {
  u.answer_now = 1;
  cr_assert_eq(feed("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
  cr_assert_not_null(strstr(output(), "connection: keep-alive\r\n"));
  cr_assert_not(h1_session_want_close(u.s));
}

Test(h1, connection_close_drops_what_follows) {
  u.answer_now = 1;
  cr_assert_eq(feed("GET /a HTTP/1.1\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
               0);
  cr_assert_eq(u.nreq, 1);
  cr_assert_not_null(strstr(output(), "connection: close\r\n"));
  cr_assert(h1_session_want_close(u.s));
}

Test(h1, head_has_no_body) {
  u.answer_now = 1;
  cr_assert_eq(feed("HEAD /abc HTTP/1.1\r\n\r\n"), 0);
  cr_assert_str_eq(output(), "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n");
}

Test(h1, eof_after_a_request_closes_once_answered) {
  cr_assert_eq(feed("GET /a HTTP/1.1\r\n\r\n"), 0);
  h1_session_eof(u.s);
  cr_assert_not(h1_session_want_close(u.s), "the answer is still to go out");
  h1_session_respond(u.s, 200, NULL, 0, NULL, 0);
  cr_assert(h1_session_want_close(u.s));
}

Test(h1, drain_closes_idle_at_once_and_busy_after_the_answer) {
  h1_session_drain(u.s);
  cr_assert(h1_session_want_close(u.s), "idle: close now");
  teardown();
  setup();
  cr_assert_eq(feed("GET /readyz HTTP/1.1\r\n"), 0);
  h1_session_drain(u.s);
  cr_assert_not(h1_session_want_close(u.s), "a request is under way");
  u.answer_now = 1;
  cr_assert_eq(feed("\r\n"), 0);
  cr_assert_eq(u.nreq, 1);
  cr_assert_not_null(strstr(output(), "connection: close\r\n"));
  cr_assert(h1_session_want_close(u.s));
}

Test(h1, eof_mid_request_closes) {
  cr_assert_eq(feed("GET /a HTTP/1.1\r\nHost"), 0);
  h1_session_eof(u.s);
  cr_assert(h1_session_want_close(u.s));
}

Test(h1, phases_drive_the_timers) {
  cr_assert_eq(h1_session_phase(u.s), H1_IDLE);
  feed("GET / HT");
  cr_assert_eq(h1_session_phase(u.s), H1_HEADERS);
  feed("TP/1.1\r\nContent-Length: 2\r\n\r\na");
  cr_assert_eq(h1_session_phase(u.s), H1_BODY);
  feed("b");
  cr_assert_eq(h1_session_phase(u.s), H1_WAITING);
}

/* ---- on_refused: what the session refuses itself is told, for metrics
 * and the access log, with what was read of the request ---- */

typedef struct refused {
  int n, status;
  size_t body_len;
  char method[16], path[256], request_id[64];
  int has_method, has_path;
  size_t nheaders;
} refused;

static refused rf;

static void on_refused(void *arg, int status, const h1_request *r, size_t body_len) {
  (void)arg;
  rf.n++;
  rf.status = status;
  rf.body_len = body_len;
  rf.has_method = r->method != NULL;
  rf.has_path = r->path != NULL;
  snprintf(rf.method, sizeof rf.method, "%s", r->method ? r->method : "");
  snprintf(rf.path, sizeof rf.path, "%s", r->path ? r->path : "");
  rf.nheaders = r->nheaders;
  rf.request_id[0] = 0;
  for (size_t i = 0; i < r->nheaders; i++)
    if (HDR_IS(&r->headers[i], "x-request-id"))
      snprintf(rf.request_id, sizeof rf.request_id, "%.*s", (int)r->headers[i].value_len,
               r->headers[i].value);
  cr_assert_null(r->body);
}

static const h1_callbacks cbs_refused = {on_request, on_refused};

static void setup_refused(void) {
  memset(&u, 0, sizeof u);
  memset(&rf, 0, sizeof rf);
  h1_settings st = {.max_header_bytes = 1024, .max_body_bytes = 100};
  cr_assert_eq(h1_session_new(&st, &cbs_refused, &u, &u.s), 0);
}

TestSuite(h1_refused, .init = setup_refused, .fini = teardown);

/* The body length told is the one of the answer queued right after. */
static void expect_answer_len(int status) {
  const char *out = output();
  char want[64];
  snprintf(want, sizeof want, "HTTP/1.1 %d ", status);
  cr_assert(strncmp(out, want, strlen(want)) == 0, "%s", out);
  char cl[64];
  snprintf(cl, sizeof cl, "content-length: %zu\r\n", rf.body_len);
  cr_assert_not_null(strstr(out, cl), "%s", out);
}

Test(h1_refused, declared_body_too_large_names_path_method_and_request_id) {
  cr_assert_eq(feed("POST /ocr/extract?lang=en HTTP/1.1\r\nX-Request-Id: rid-7\r\n"
                    "Content-Length: 101\r\n\r\n"),
               ERR_PROTOCOL);
  cr_assert_eq(rf.n, 1);
  cr_assert_eq(rf.status, 413);
  cr_assert_str_eq(rf.method, "POST");
  cr_assert_str_eq(rf.path, "/ocr/extract", "the query is not part of the path");
  cr_assert_str_eq(rf.request_id, "rid-7");
  cr_assert_eq(u.nreq, 0, "never delivered");
  expect_answer_len(413);
}

Test(h1_refused, header_block_too_large_has_the_path_but_no_headers) {
  char req[2048];
  snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nX-Big: %01500d\r\n\r\n", 0);
  cr_assert_eq(feed(req), ERR_PROTOCOL);
  cr_assert_eq(rf.n, 1);
  cr_assert_eq(rf.status, 431);
  cr_assert_str_eq(rf.path, "/healthz");
  cr_assert_str_eq(rf.method, "GET");
  cr_assert_eq(rf.nheaders, 0, "the block was not read whole");
  expect_answer_len(431);
}

Test(h1_refused, malformed_request_line_has_no_method_or_path) {
  cr_assert_eq(feed("GARBAGE\r\n\r\n"), ERR_PROTOCOL);
  cr_assert_eq(rf.n, 1);
  cr_assert_eq(rf.status, 400);
  cr_assert_not(rf.has_method);
  cr_assert_not(rf.has_path);
  expect_answer_len(400);
}

Test(h1_refused, a_request_line_over_the_limit_has_no_path) {
  char req[2048];
  snprintf(req, sizeof req, "GET /%01500d HTTP/1.1\r\n\r\n", 0);
  cr_assert_eq(feed(req), ERR_PROTOCOL);
  cr_assert_eq(rf.status, 431);
  cr_assert_not(rf.has_path, "the request line was not read whole");
}

Test(h1_refused, answered_requests_are_not_refusals) {
  u.answer_now = 1;
  cr_assert_eq(feed("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nConnection: close\r\n\r\n"),
               0);
  cr_assert_eq(u.nreq, 2);
  cr_assert_eq(rf.n, 0);
  /* A pipelined request after answered ones is refused alone. */
  h1_session_free(u.s);
  setup_refused();
  u.answer_now = 1;
  cr_assert_eq(
      feed("GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 500\r\n\r\n"),
      ERR_PROTOCOL);
  cr_assert_eq(u.nreq, 1);
  cr_assert_eq(rf.n, 1);
  cr_assert_eq(rf.status, 413);
  cr_assert_str_eq(rf.path, "/b");
}
