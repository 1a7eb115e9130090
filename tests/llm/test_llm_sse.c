/* SPDX-License-Identifier: MIT */
/* The SSE parser: events split across feeds at every byte position give
 * the same events; `data:` with and without the space, comments, [DONE],
 * CRLF / CR / LF line ends, multi-line data, the per-event limit. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "llm/llm.h"

typedef struct events {
  char all[4096];
  int n;
} events;

static int collect(void *arg, const char *data, size_t len) {
  events *e = arg;
  cr_assert_eq(strlen(data), len, "data is NUL terminated at len");
  strncat(e->all, data, sizeof e->all - strlen(e->all) - 2);
  strcat(e->all, "|");
  e->n++;
  return 0;
}

static void parse_split(const char *in, size_t at, events *e) {
  llm_sse p;
  llm_sse_init(&p, 1 << 16);
  memset(e, 0, sizeof *e);
  size_t len = strlen(in);
  cr_assert_eq(llm_sse_feed(&p, in, at, collect, e), 0);
  cr_assert_eq(llm_sse_feed(&p, in + at, len - at, collect, e), 0);
  llm_sse_free(&p);
}

static const char *stream_lf = ": keep-alive\n\n"
                               "data: {\"a\":1}\n\n"
                               "data:{\"b\":2}\n\n"
                               "event: message\nid: 7\nretry: 10\ndata: x\ndata:  y\n\n"
                               "data\n\n"
                               "data: [DONE]\n\n";
static const char *expect = "{\"a\":1}|{\"b\":2}|x\n y||[DONE]|";

Test(llm_sse, every_split_position_lf) {
  size_t len = strlen(stream_lf);
  for (size_t at = 0; at <= len; at++) {
    events e;
    parse_split(stream_lf, at, &e);
    cr_assert_str_eq(e.all, expect, "split at %zu", at);
    cr_assert_eq(e.n, 5);
  }
}

Test(llm_sse, every_split_position_crlf_and_cr) {
  const char *crlf = ": c\r\n\r\ndata: {\"a\":1}\r\n\r\ndata:{\"b\":2}\r\n\r\n"
                     "event: message\r\nid: 7\r\nretry: 10\r\ndata: x\r\ndata:  y\r\n\r\n"
                     "data\r\n\r\ndata: [DONE]\r\n\r\n";
  const char *cr = ": c\r\rdata: {\"a\":1}\r\rdata:{\"b\":2}\r\r"
                   "event: message\rid: 7\rretry: 10\rdata: x\rdata:  y\r\r"
                   "data\r\rdata: [DONE]\r\r";
  for (int k = 0; k < 2; k++) {
    const char *in = k ? cr : crlf;
    size_t len = strlen(in);
    for (size_t at = 0; at <= len; at++) {
      events e;
      parse_split(in, at, &e);
      cr_assert_str_eq(e.all, expect, "%s split at %zu", k ? "CR" : "CRLF", at);
    }
  }
}

Test(llm_sse, byte_at_a_time) {
  llm_sse p;
  llm_sse_init(&p, 1 << 16);
  events e = {0};
  for (const char *c = stream_lf; *c; c++)
    cr_assert_eq(llm_sse_feed(&p, c, 1, collect, &e), 0);
  cr_assert_str_eq(e.all, expect);
  llm_sse_free(&p);
}

Test(llm_sse, no_event_without_blank_line) {
  llm_sse p;
  llm_sse_init(&p, 1 << 16);
  events e = {0};
  cr_assert_eq(llm_sse_feed(&p, "data: half\n", 11, collect, &e), 0);
  cr_assert_eq(e.n, 0);
  cr_assert_eq(llm_sse_feed(&p, "\n", 1, collect, &e), 0);
  cr_assert_str_eq(e.all, "half|");
  llm_sse_free(&p);
}

Test(llm_sse, event_limit) {
  llm_sse p;
  llm_sse_init(&p, 16);
  events e = {0};
  const char *big = "data: 0123456789abcdefghij\n\n";
  cr_assert_eq(llm_sse_feed(&p, big, strlen(big), collect, &e), ERR_MSG_TOO_LARGE);
  llm_sse_free(&p);
  llm_sse_init(&p, 16);
  /* Many short lines adding up past the limit. */
  const char *many = "data: 0123456\ndata: 0123456\ndata: 0123456\n\n";
  cr_assert_eq(llm_sse_feed(&p, many, strlen(many), collect, &e), ERR_MSG_TOO_LARGE);
  llm_sse_free(&p);
}

static int stop_cb(void *arg, const char *data, size_t len) {
  (void)data, (void)len;
  (*(int *)arg)++;
  return 42;
}

Test(llm_sse, callback_stops) {
  llm_sse p;
  llm_sse_init(&p, 1 << 16);
  int n = 0;
  const char *two = "data: a\n\ndata: b\n\n";
  cr_assert_eq(llm_sse_feed(&p, two, strlen(two), stop_cb, &n), 42);
  cr_assert_eq(n, 1);
  llm_sse_free(&p);
}
