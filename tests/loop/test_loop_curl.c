/* SPDX-License-Identifier: MIT */
/* The libcurl multi glue (src/loop/loop_curl.c) on a real libuv loop
 * against a tiny HTTP/1.1 server the test runs on the same loop (libuv TCP
 * on 127.0.0.1, a free port): a whole answer with its POST body, a chunked
 * answer paused by on_body (no bytes while paused, all of them in order
 * after resume), two requests on one reused connection, an abort inside
 * and outside on_body closing the connection (the server sees the close),
 * and a transfer timeout. Every wait is for an event, under a ceiling
 * timer only a hang reaches. */
#define _GNU_SOURCE /* strcasestr */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "base/buf.h"
#include "loop/loop_curl.h"

#define CEILING_MS 30000

/* ---- the server ---- */
typedef struct server server;
typedef struct sconn {
  uv_tcp_t tcp;
  server *srv;
  buf in;
  int answered;
} sconn;

struct server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  int port;
  int accepted;  /* connections accepted */
  int requests;  /* requests read whole */
  int closed;    /* connections the client closed (EOF or reset) */
  int writes_ok; /* responses written whole */
  char body[64]; /* the last request's body */
  /* Answers one request on c (the raw response). */
  const char *response;
};

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *b) {
  (void)h;
  b->base = malloc(size);
  b->len = size;
}

static void on_sconn_closed(uv_handle_t *h) {
  sconn *c = h->data;
  buf_free(&c->in);
  free(c);
}

static void on_write(uv_write_t *w, int status) {
  server *s = w->data;
  if (status == 0)
    s->writes_ok++;
  free(w);
}

static void respond(sconn *c) {
  server *s = c->srv;
  uv_write_t *w = malloc(sizeof *w);
  w->data = s;
  uv_buf_t b = uv_buf_init((char *)s->response, (unsigned)strlen(s->response));
  cr_assert_eq(uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_write), 0);
}

/* Reads whole requests (headers, then Content-Length bytes) and answers
 * each one with s->response. */
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  sconn *c = st->data;
  server *s = c->srv;
  if (n < 0) {
    s->closed++;
    uv_close((uv_handle_t *)&c->tcp, on_sconn_closed);
  } else if (n > 0) {
    cr_assert_eq(buf_append(&c->in, b->base, (size_t)n), 0);
    for (;;) {
      cr_assert_eq(buf_reserve(&c->in, 1), 0);
      c->in.data[c->in.len] = 0;
      char *end = strstr((char *)c->in.data, "\r\n\r\n");
      if (!end)
        break;
      size_t head = (size_t)(end + 4 - (char *)c->in.data), clen = 0;
      char *cl = strcasestr((char *)c->in.data, "\r\ncontent-length:");
      if (cl && cl < end)
        clen = strtoul(cl + 17, NULL, 10);
      if (c->in.len < head + clen)
        break;
      snprintf(s->body, sizeof s->body, "%.*s", (int)clen, (char *)c->in.data + head);
      buf_consume(&c->in, head + clen);
      s->requests++;
      respond(c);
    }
  }
  free(b->base);
}

static void on_connection(uv_stream_t *l, int status) {
  cr_assert_eq(status, 0);
  server *s = l->data;
  sconn *c = calloc(1, sizeof *c);
  c->srv = s;
  c->in = (buf)BUF_INIT;
  uv_tcp_init(s->loop, &c->tcp);
  c->tcp.data = c;
  cr_assert_eq(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
  s->accepted++;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void server_start(server *s, uv_loop_t *loop, const char *response) {
  memset(s, 0, sizeof *s);
  s->loop = loop;
  s->response = response;
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  cr_assert_eq(uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0), 0);
  cr_assert_eq(uv_listen((uv_stream_t *)&s->listener, 16, on_connection), 0);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
  s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static server S; /* the test's server */

/* Closes what is left at the end of a test: the listener, the server's
 * connections, the ceiling timer. */
static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (uv_is_closing(h))
    return;
  if (h == (uv_handle_t *)&S.listener || h->type != UV_TCP)
    uv_close(h, NULL);
  else
    uv_close(h, on_sconn_closed);
}

/* ---- the client side ---- */
typedef struct client {
  llm_http *http;
  llm_http_req *req;
  buf body;
  int nbody;    /* on_body calls */
  int pause_at; /* on_body returns 1 (pause) on this call (1-based); 0 never */
  int abort_at; /* aborts inside on_body on this call; 0 never */
  int done;     /* on_done calls */
  llm_http_err err;
  int status;
} client;

static int c_body(void *arg, int st, const char *d, size_t n) {
  client *c = arg;
  c->status = st;
  c->nbody++;
  cr_assert_eq(buf_append(&c->body, d, n), 0);
  if (c->nbody == c->abort_at) {
    c->http->abort(c->http, c->req);
    return 0;
  }
  return c->nbody == c->pause_at ? 1 : 0;
}

static void c_done(void *arg, llm_http_err err, int st, const char *msg) {
  (void)msg;
  client *c = arg;
  c->done++;
  c->err = err;
  c->status = st;
}

static const llm_http_cbs cbs = {c_body, c_done};

static uv_loop_t loop;
static loop_curl *glue;
static uv_timer_t ceiling;
static int hung;

static void on_ceiling(uv_timer_t *t) {
  (void)t;
  hung = 1;
}

static void setup(void) {
  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(loop_curl_new(&loop, &glue), 0);
  uv_timer_init(&loop, &ceiling);
  hung = 0;
}

static void teardown(void) {
  loop_curl_close(glue);
  uv_walk(&loop, close_walk, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

TestSuite(loop_curl, .init = setup, .fini = teardown);

/* Runs the loop until *flag becomes nonzero; a hang fails at the ceiling. */
static void run_until(const int *flag) {
  uv_timer_start(&ceiling, on_ceiling, CEILING_MS, 0);
  while (!*flag && !hung)
    uv_run(&loop, UV_RUN_ONCE);
  uv_timer_stop(&ceiling);
  cr_assert_not(hung, "the event never came");
}

static void start(client *c, server *s, const char *body, uint64_t timeout_ms) {
  memset(c, 0, sizeof *c);
  c->body = (buf)BUF_INIT;
  c->http = loop_curl_http(glue);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", s->port);
  const char *h[] = {"Content-Type: application/json"};
  cr_assert_eq(c->http->start(c->http, url, h, 1, body, body ? strlen(body) : 0, timeout_ms,
                              &cbs, c, &c->req),
               0);
}

static void body_is(client *c, const char *want) {
  cr_assert_eq(buf_reserve(&c->body, 1), 0);
  c->body.data[c->body.len] = 0;
  cr_assert_str_eq((char *)c->body.data, want);
}

#define WHOLE "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

Test(loop_curl, whole_answer_and_the_connection_reused) {
  server_start(&S, &loop, WHOLE);
  client c;
  start(&c, &S, "{\"q\":1}", 0);
  run_until(&c.done);
  cr_assert_eq(c.err, LLM_HTTP_OK);
  cr_assert_eq(c.status, 200);
  body_is(&c, "hello");
  cr_assert_str_eq(S.body, "{\"q\":1}", "the POST body: %s", S.body);
  client d;
  start(&d, &S, "{\"q\":2}", 0);
  run_until(&d.done);
  cr_assert_eq(d.err, LLM_HTTP_OK);
  body_is(&d, "hello");
  cr_assert_eq(S.requests, 2);
  cr_assert_eq(S.accepted, 1, "the second request opened a new connection");
  buf_free(&c.body);
  buf_free(&d.body);
}

#define CHUNKED                                                                            \
  "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"   \
  "\r\n5\r\none, \r\n5\r\ntwo, \r\n5\r\nthree\r\n0\r\n\r\n"

/* Turns the loop without blocking: whatever is ready now runs. */
static void turn_loop(int n) {
  for (int i = 0; i < n; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
}

Test(loop_curl, chunked_answer_paused_then_resumed) {
  server_start(&S, &loop, CHUNKED);
  client c;
  start(&c, &S, NULL, 0);
  c.pause_at = 1;
  run_until(&c.nbody);
  /* The server has written the whole answer: on loopback it is in the
   * client's socket once the write completed. */
  run_until(&S.writes_ok);
  turn_loop(20);
  cr_assert_eq(c.nbody, 1, "bytes came while paused");
  cr_assert_eq(c.done, 0);
  body_is(&c, "one, ");
  c.http->resume(c.http, c.req);
  run_until(&c.done);
  cr_assert_eq(c.err, LLM_HTTP_OK);
  body_is(&c, "one, two, three");
  buf_free(&c.body);
}

#define HOLD                                                                               \
  "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"   \
  "\r\n5\r\nfirst\r\n"

Test(loop_curl, abort_inside_on_body_closes_the_connection) {
  server_start(&S, &loop, HOLD);
  client c;
  start(&c, &S, NULL, 0);
  c.abort_at = 1;
  run_until(&S.closed);
  cr_assert_eq(c.nbody, 1);
  cr_assert_eq(c.done, 0, "on_done after an abort");
  turn_loop(5);
  cr_assert_eq(c.done, 0, "on_done after an abort");
  buf_free(&c.body);
}

Test(loop_curl, abort_between_reads_closes_the_connection) {
  server_start(&S, &loop, HOLD);
  client c;
  start(&c, &S, NULL, 0);
  run_until(&c.nbody);
  cr_assert_eq(S.closed, 0);
  c.http->abort(c.http, c.req);
  run_until(&S.closed);
  cr_assert_eq(c.done, 0, "on_done after an abort");
  /* The glue still works for the next request, on a new connection. */
  S.response = WHOLE;
  client d;
  start(&d, &S, NULL, 0);
  run_until(&d.done);
  cr_assert_eq(d.err, LLM_HTTP_OK);
  cr_assert_eq(S.accepted, 2);
  buf_free(&c.body);
  buf_free(&d.body);
}

Test(loop_curl, transfer_timeout) {
  server_start(&S, &loop, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
  client c;
  start(&c, &S, NULL, 200);
  run_until(&c.done);
  cr_assert_eq(c.err, LLM_HTTP_TIMEOUT);
  body_is(&c, "partial");
  run_until(&S.closed);
  buf_free(&c.body);
}
