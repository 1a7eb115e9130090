/* SPDX-License-Identifier: MIT */
/* llm.LLMService at the rpc level, over the fake transport: the rules
 * engine answering whole and streamed on the loop thread, and the openai
 * engine over a fake llm_http the test drives by hand (body bytes, pauses,
 * the transfer's end), so every error row's mapping to an in-band answer
 * or a gRPC status is checked without a network; also the llm_* metrics
 * each call leaves behind, and a cancel aborting the backend request. */
#include <criterion/criterion.h>
#include <pb_decode.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/access_log.h"
#include "base/err.h"
#include "base/metrics.h"
#include "llm.pb.h"
#include "llm/llm_backend.h"
#include "rpc_internal.h"
#include "rpc_test_util.h"

#define ANALYZE "/llm.LLMService/AnalyzeText"
#define STREAM "/llm.LLMService/AnalyzeTextStream"

/* ---- a backend HTTP client driven by the test ---- */
struct llm_http_req {
  llm_http_cbs cbs;
  void *arg;
  char url[256];
  buf body;
  int live;
};

typedef struct fake_http {
  llm_http http;
  struct llm_http_req reqs[32];
  size_t n;
  int aborts, resumes;
} fake_http;

static int h_start(llm_http *h, const char *url, const char *const *headers, size_t nh,
                   const char *body, size_t body_len, uint64_t timeout_ms,
                   const llm_http_cbs *cbs, void *arg, llm_http_req **out) {
  (void)headers;
  (void)nh;
  (void)timeout_ms;
  fake_http *f = h->ud;
  cr_assert_lt(f->n, 32);
  llm_http_req *r = &f->reqs[f->n++];
  memset(r, 0, sizeof *r);
  r->cbs = *cbs;
  r->arg = arg;
  r->live = 1;
  snprintf(r->url, sizeof r->url, "%s", url);
  if (body)
    buf_append(&r->body, body, body_len);
  *out = r;
  return 0;
}

static void h_resume(llm_http *h, llm_http_req *r) {
  (void)r;
  ((fake_http *)h->ud)->resumes++;
}

static void h_abort(llm_http *h, llm_http_req *r) {
  ((fake_http *)h->ud)->aborts++;
  r->live = 0;
}

static fake_http fh;
static rpc_env env;
static llm_service *svc;
static metrics *reg;

/* Ends request i: body (may be NULL) with HTTP status st, then on_done. */
static void backend_answer(size_t i, int st, const char *body) {
  llm_http_req *r = &fh.reqs[i];
  cr_assert(r->live);
  if (body)
    r->cbs.on_body(r->arg, st, body, strlen(body));
  r->live = 0;
  r->cbs.on_done(r->arg, LLM_HTTP_OK, st, "done");
}

static void setup(void) {
  rpc_env_init(&env, 1);
  memset(&fh, 0, sizeof fh);
  fh.http = (llm_http){h_start, h_resume, h_abort, &fh};
  llm_service_config cfg = {.engine = "",
                            .base_url = "http://backend.test/v1",
                            .model = "m",
                            .api_key = "",
                            .timeout_ms = 0,
                            .max_concurrent = 4,
                            .max_queued = 4};
  char err[128];
  cr_assert_eq(llm_service_new(&cfg, &fh.http, NULL, &svc, err, sizeof err), 0, "%s", err);
  /* The start probe (GET /models) answers: the backend is up. */
  cr_assert_eq(fh.n, 1);
  cr_assert(strstr(fh.reqs[0].url, "/models"));
  backend_answer(0, 200, "{\"data\":[]}");
  cr_assert(llm_service_serving(svc));
  rpc_server_set_llm(env.srv, svc);
  reg = metrics_new();
  cr_assert_eq(rpc_server_set_metrics(env.srv, reg), 0);
}

static void teardown(void) {
  rpc_env_free(&env);
  llm_service_free(svc);
  metrics_free(reg);
  for (size_t i = 0; i < 32; i++)
    buf_free(&fh.reqs[i].body);
}

TestSuite(svc_llm, .init = setup, .fini = teardown);

/* Starts a call with text and options "k=v" pairs (NULL ended), sends the
 * request and half-closes. */
static rpc_call *call(int32_t id, const char *path, const char *text, ...) {
  common_Metadata_DataEntry ents[4];
  common_Metadata md = {0, ents};
  va_list ap;
  va_start(ap, text);
  const char *k;
  while ((k = va_arg(ap, const char *))) {
    cr_assert_lt(md.data_count, 4);
    ents[md.data_count].key = (char *)k;
    ents[md.data_count++].value = va_arg(ap, char *);
  }
  va_end(ap);
  llm_LLMRequest req = {(char *)text, NULL, md.data_count ? &md : NULL};
  rpc_call *c = start_call(&env, id, path, NULL, 0);
  buf wire = BUF_INIT;
  frame_pb(&wire, llm_LLMRequest_fields, &req);
  cr_assert_eq(rpc_call_data(c, wire.data, wire.len), 0);
  buf_free(&wire);
  rpc_call_end(c);
  return c;
}

/* The stream's messages, decoded one after another across DATA writes:
 * the tokens joined into out, the count returned; *complete says whether
 * the last one had is_complete. */
static size_t stream_tokens(int32_t id, char *out, size_t size, int *complete) {
  const fake_stream *s = fake_stream_get(&env.conn, id);
  buf all = BUF_INIT;
  for (size_t i = 0; i < s->nev; i++)
    if (s->ev[i].kind == EV_DATA)
      buf_append(&all, s->ev[i].data.data, s->ev[i].data.len);
  size_t n = 0, off = 0;
  out[0] = 0;
  *complete = 0;
  while (off < all.len) {
    cr_assert_geq(all.len - off, 5);
    const uint8_t *p = all.data + off;
    size_t len = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
    cr_assert_leq(off + 5 + len, all.len);
    llm_LLMStreamResponse m = llm_LLMStreamResponse_init_zero;
    pb_istream_t is = pb_istream_from_buffer(p + 5, len);
    cr_assert(pb_decode(&is, llm_LLMStreamResponse_fields, &m));
    cr_assert_not(*complete, "a message after is_complete");
    if (m.token)
      strncat(out, m.token, size - strlen(out) - 1);
    *complete = m.is_complete;
    pb_release(llm_LLMStreamResponse_fields, &m);
    off += 5 + len;
    n++;
  }
  buf_free(&all);
  return n;
}

static const char *entity(const llm_LLMResponse *r, const char *key) {
  for (pb_size_t i = 0; i < r->entities_count; i++)
    if (!strcmp(r->entities[i].key, key))
      return r->entities[i].value;
  return NULL;
}

static const char *meta(const llm_LLMResponse *r, const char *key) {
  for (pb_size_t i = 0; i < r->metadata.data_count; i++)
    if (!strcmp(r->metadata.data[i].key, key))
      return r->metadata.data[i].value;
  return NULL;
}

static double requests(const char *engine, const char *status) {
  size_t e = rpc__llm_engine_index(engine);
  for (size_t s = 0; s < 19; s++) {
    metric *m = env.srv->m.llm.requests_s[e][s];
    if (m && !strcmp(s < 17    ? rpc_status_name((rpc_status)s)
                     : s == 17 ? "BACKEND_REJECTED"
                               : "CONTEXT_TOO_LONG",
                     status))
      return metric_value(m);
  }
  return 0;
}

#define RECEIPT "Receipt 2024년 3월 5일 합계 12,000원 RRN 900101-1234567 tel 010-1234-5678"

Test(svc_llm, rules_whole_answer_on_the_loop_thread) {
  rpc_call *c = call(1, ANALYZE, RECEIPT, "engine", "rules", NULL);
  cr_assert_eq(env.q.submitted, 0, "a small text goes to no worker");
  cr_assert_eq(stream_grpc_status(fake_stream_get(&env.conn, 1)), 0);
  llm_LLMResponse r = llm_LLMResponse_init_zero;
  stream_decode_one(fake_stream_get(&env.conn, 1), llm_LLMResponse_fields, &r);
  cr_assert_eq(r.status, common_Status_STATUS_SUCCESS);
  cr_assert_str_eq(entity(&r, "date"), "2024-03-05");
  cr_assert_str_eq(entity(&r, "phone"), "010-1234-5678");
  cr_assert_str_eq(entity(&r, "resident_registration_number"), "900101-1******");
  cr_assert_null(strstr(r.analysis, "1234567"), "analysis: %s", r.analysis);
  cr_assert_str_eq(meta(&r, "engine"), "rules");
  pb_release(llm_LLMResponse_fields, &r);
  close_call(&env, c, 1, 0);
  cr_assert_eq(requests("rules", "OK"), 1);
  cr_assert_eq(fh.n, 1, "rules called the backend");
}

Test(svc_llm, rules_stream_sends_the_words_then_is_complete) {
  rpc_call *w = call(1, ANALYZE, RECEIPT, "engine", "rules", NULL);
  llm_LLMResponse r = llm_LLMResponse_init_zero;
  stream_decode_one(fake_stream_get(&env.conn, 1), llm_LLMResponse_fields, &r);
  rpc_call *c = call(3, STREAM, RECEIPT, "engine", "rules", NULL);
  char text[4096];
  int complete;
  size_t n = stream_tokens(3, text, sizeof text, &complete);
  cr_assert(complete);
  cr_assert_gt(n, 3, "one message per word: %zu", n);
  cr_assert_str_eq(text, r.analysis, "the tokens joined are the analysis");
  cr_assert_eq(stream_grpc_status(fake_stream_get(&env.conn, 3)), 0);
  pb_release(llm_LLMResponse_fields, &r);
  close_call(&env, w, 1, 0);
  close_call(&env, c, 3, 0);
  cr_assert_eq(env.srv->m.llm.ttft_s[0]->count, 1);
}

Test(svc_llm, empty_text_and_bad_options) {
  char msg[256];
  rpc_call *a = call(1, ANALYZE, "", "engine", "rules", NULL);
  llm_LLMResponse r = llm_LLMResponse_init_zero;
  stream_decode_one(fake_stream_get(&env.conn, 1), llm_LLMResponse_fields, &r);
  cr_assert_eq(r.status, common_Status_STATUS_FAILURE);
  cr_assert_str_eq(r.error.code, "LLM_ERROR");
  cr_assert_str_eq(r.error.details, "INVALID_ARGUMENT");
  pb_release(llm_LLMResponse_fields, &r);
  rpc_call *b = call(3, STREAM, "", NULL);
  cr_assert_eq(stream_grpc_status(fake_stream_get(&env.conn, 3)), RPC_INVALID_ARGUMENT);
  rpc_call *d = call(5, STREAM, "x", "engine", "nope", NULL);
  cr_assert_eq(stream_grpc_status(fake_stream_get(&env.conn, 5)), RPC_INVALID_ARGUMENT);
  cr_assert(strstr(stream_grpc_message(fake_stream_get(&env.conn, 5), msg, sizeof msg),
                   "not a configured engine"),
            "%s", msg);
  rpc_call *e = call(7, ANALYZE, "x", "temperature", "9", NULL);
  stream_decode_one(fake_stream_get(&env.conn, 7), llm_LLMResponse_fields, &r);
  cr_assert_str_eq(r.error.details, "INVALID_ARGUMENT");
  cr_assert(strstr(r.error.message, "temperature"));
  pb_release(llm_LLMResponse_fields, &r);
  close_call(&env, a, 1, 0);
  close_call(&env, b, 3, 0);
  close_call(&env, d, 5, 0);
  close_call(&env, e, 7, 0);
  cr_assert_eq(requests("rules", "INVALID_ARGUMENT"), 1);
  cr_assert_eq(requests("openai", "INVALID_ARGUMENT"), 2);
  cr_assert_eq(requests("unknown", "INVALID_ARGUMENT"), 1);
  cr_assert_eq(fh.n, 1, "a refused call reached the backend");
}

#define COMPLETION                                                                         \
  "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{"           \
  "\"index\":0,\"finish_reason\":\"stop\",\"message\":{\"role\":\"assistant\","            \
  "\"content\":\"{\\\"analysis\\\":\\\"a receipt\\\",\\\"confidence\\\":0.8,"              \
  "\\\"entities\\\":{\\\"total\\\":\\\"12000 KRW\\\"}}\"}}],\"usage\":{"                   \
  "\"prompt_tokens\":42,\"completion_tokens\":17}}"

Test(svc_llm, openai_whole_answer_parsed_with_usage) {
  rpc_call *c = call(1, ANALYZE, RECEIPT, NULL);
  cr_assert_eq(fh.n, 2);
  cr_assert(strstr(fh.reqs[1].url, "/chat/completions"));
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 0, "answered before the backend");
  backend_answer(1, 200, COMPLETION);
  llm_LLMResponse r = llm_LLMResponse_init_zero;
  stream_decode_one(fake_stream_get(&env.conn, 1), llm_LLMResponse_fields, &r);
  cr_assert_eq(r.status, common_Status_STATUS_SUCCESS);
  cr_assert_str_eq(r.analysis, "a receipt");
  cr_assert_str_eq(entity(&r, "total"), "12000 KRW");
  cr_assert_str_eq(meta(&r, "engine"), "openai");
  cr_assert_str_eq(meta(&r, "prompt_tokens"), "42");
  cr_assert_str_eq(meta(&r, "completion_tokens"), "17");
  pb_release(llm_LLMResponse_fields, &r);
  close_call(&env, c, 1, 0);
  cr_assert_eq(requests("openai", "OK"), 1);
  cr_assert_eq(metric_value(env.srv->m.llm.prompt_tokens), 42);
  cr_assert_eq(metric_value(env.srv->m.llm.completion_tokens), 17);
}

/* One backend failure: how AnalyzeText answers it (in-band details, or a
 * gRPC status) and how the stream ends (always a gRPC status). */
typedef struct error_row {
  llm_http_err err;
  int http_status;
  const char *body;
  const char *inband; /* AnalyzeText: in-band details, or NULL */
  int grpc;           /* AnalyzeText's status when not in-band; the stream's */
  const char *label;  /* llm_requests_total's status */
} error_row;

static const error_row rows[] = {
    {LLM_HTTP_OK, 503, "{\"error\":{\"message\":\"overloaded\"}}", NULL, RPC_UNAVAILABLE,
     "UNAVAILABLE"},
    {LLM_HTTP_OK, 429, "{}", NULL, RPC_UNAVAILABLE, "UNAVAILABLE"},
    {LLM_HTTP_OK, 400, "{\"error\":{\"message\":\"The model `x` does not exist\"}}",
     "BACKEND_REJECTED", RPC_INVALID_ARGUMENT, "BACKEND_REJECTED"},
    {LLM_HTTP_OK, 400,
     "{\"error\":{\"message\":\"This model's maximum context length is 4096 tokens\"}}",
     "CONTEXT_TOO_LONG", RPC_INVALID_ARGUMENT, "CONTEXT_TOO_LONG"},
    {LLM_HTTP_OK, 413, "", "CONTEXT_TOO_LONG", RPC_INVALID_ARGUMENT, "CONTEXT_TOO_LONG"},
    {LLM_HTTP_CONNECT, 0, NULL, NULL, RPC_UNAVAILABLE, "UNAVAILABLE"},
    {LLM_HTTP_TIMEOUT, 0, NULL, NULL, RPC_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
    {LLM_HTTP_OK, 200, "not json", NULL, RPC_UNAVAILABLE, "UNAVAILABLE"},
};

static void fail_backend(size_t i, const error_row *row) {
  llm_http_req *r = &fh.reqs[i];
  if (row->body && *row->body)
    r->cbs.on_body(r->arg, row->http_status, row->body, strlen(row->body));
  r->live = 0;
  r->cbs.on_done(r->arg, row->err, row->http_status, "failed");
}

Test(svc_llm, openai_error_rows_map_to_inband_or_grpc_status) {
  char msg[512];
  for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
    const error_row *row = &rows[k];
    /* Each row's stream is ended whole: a 200 "not json" answer to a
     * stream is an SSE body without [DONE]. */
    int32_t ida = (int32_t)(4 * k + 1), ids = (int32_t)(4 * k + 3);
    rpc_env_free(&env);
    rpc_env_init(&env, 1);
    rpc_server_set_llm(env.srv, svc);
    metrics_free(reg);
    reg = metrics_new();
    cr_assert_eq(rpc_server_set_metrics(env.srv, reg), 0);
    size_t first = fh.n;
    rpc_call *a = call(ida, ANALYZE, "text", NULL);
    rpc_call *s = call(ids, STREAM, "text", NULL);
    cr_assert_eq(fh.n, first + 2);
    fail_backend(first, row);
    fail_backend(first + 1, row);
    const fake_stream *fa = fake_stream_get(&env.conn, ida);
    if (row->inband) {
      llm_LLMResponse r = llm_LLMResponse_init_zero;
      stream_decode_one(fa, llm_LLMResponse_fields, &r);
      cr_assert_eq(stream_grpc_status(fa), 0);
      cr_assert_eq(r.status, common_Status_STATUS_FAILURE, "row %zu", k);
      cr_assert_str_eq(r.error.code, "LLM_ERROR");
      cr_assert_str_eq(r.error.details, row->inband, "row %zu", k);
      pb_release(llm_LLMResponse_fields, &r);
    } else {
      cr_assert_eq(stream_grpc_status(fa), row->grpc, "row %zu: AnalyzeText %d", k,
                   stream_grpc_status(fa));
    }
    const fake_stream *fs = fake_stream_get(&env.conn, ids);
    cr_assert_eq(stream_grpc_status(fs), row->grpc, "row %zu: stream %d", k,
                 stream_grpc_status(fs));
    if (row->inband)
      cr_assert(strstr(stream_grpc_message(fs, msg, sizeof msg), row->inband), "%s", msg);
    close_call(&env, a, ida, 0);
    close_call(&env, s, ids, 0);
    cr_assert_eq(requests("openai", row->label), 2, "row %zu: %s", k, row->label);
    /* The health probe a failure may have started: answered, backend up. */
    for (size_t i = first + 2; i < fh.n; i++)
      if (fh.reqs[i].live)
        backend_answer(i, 200, "{}");
  }
}

static void sse(size_t i, const char *events) {
  llm_http_req *r = &fh.reqs[i];
  r->cbs.on_body(r->arg, 200, events, strlen(events));
}

#define DELTA(t) "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" t "\"}}]}\n\n"

Test(svc_llm, openai_stream_tokens_pause_until_drained) {
  rpc_call *c = call(1, STREAM, "text", NULL);
  cr_assert_eq(fh.n, 2);
  llm_http_req *r = &fh.reqs[1];
  int rc = r->cbs.on_body(r->arg, 200, DELTA("Hello") DELTA(" world"),
                          strlen(DELTA("Hello") DELTA(" world")));
  cr_assert_eq(rc, 1, "the backend is not paused after tokens");
  cr_assert_eq(env.conn.drain_requests, 1);
  char text[256];
  int complete;
  cr_assert_eq(stream_tokens(1, text, sizeof text, &complete), 2,
               "the tokens were not sent as they came");
  cr_assert_str_eq(text, "Hello world");
  cr_assert_not(complete);
  rpc_call_drained(c);
  cr_assert_eq(fh.resumes, 1, "the drain did not resume the backend");
  /* A number is held back until a character ends it (masking needs it
   * whole), however the model splits it. */
  sse(1, DELTA(" RRN 900101-") DELTA("1234567") DELTA(" ok"));
  rpc_call_drained(c);
  sse(1, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":5}}"
         "\n\ndata: [DONE]\n\n");
  r->live = 0;
  r->cbs.on_done(r->arg, LLM_HTTP_OK, 200, "done");
  stream_tokens(1, text, sizeof text, &complete);
  cr_assert(complete);
  cr_assert_str_eq(text, "Hello world RRN 900101-1****** ok");
  cr_assert_eq(stream_grpc_status(fake_stream_get(&env.conn, 1)), 0);
  close_call(&env, c, 1, 0);
  cr_assert_eq(requests("openai", "OK"), 1);
  cr_assert_eq(env.srv->m.llm.ttft_s[1]->count, 1);
  cr_assert_eq(metric_value(env.srv->m.llm.completion_tokens), 5);
}

/* ---- coalescing: a timer source the test fires by hand ---- */
struct timer {
  timer_cb cb;
  void *arg;
  int live;
};
static struct timer hand_timers[8];
static size_t nhand;

static timer *ht_start(timer_src *src, uint64_t ms, timer_cb cb, void *arg) {
  (void)src;
  cr_assert_geq(ms, 1, "a hold shorter than the timer's resolution");
  cr_assert_lt(nhand, 8);
  hand_timers[nhand] = (struct timer){cb, arg, 1};
  return &hand_timers[nhand++];
}

static void ht_stop(timer_src *src, timer *t) {
  (void)src;
  cr_assert(t->live, "a timer stopped twice or after it fired");
  t->live = 0;
}

static uint64_t ht_now(timer_src *src) {
  (void)src;
  return 0;
}

static timer_src hand = {ht_start, ht_stop, ht_now, NULL};

static size_t live_timers(void) {
  size_t n = 0;
  for (size_t i = 0; i < nhand; i++)
    n += (size_t)hand_timers[i].live;
  return n;
}

static void fire_timers(void) {
  for (size_t i = 0; i < nhand; i++)
    if (hand_timers[i].live) {
      hand_timers[i].live = 0;
      hand_timers[i].cb(hand_timers[i].arg);
    }
}

/* Coalescing on, with a gap (60 s) no run of this test reaches: what the
 * backend sends after the first message waits for the timer or the end. */
static void coalesce(uint64_t gap_us) {
  nhand = 0;
  env.cfg.llm_stream_coalesce_us = gap_us;
  rpc_server_set_timers(env.srv, &hand);
}

static void end_stream(size_t i) {
  sse(i, "data: [DONE]\n\n");
  fh.reqs[i].live = 0;
  fh.reqs[i].cbs.on_done(fh.reqs[i].arg, LLM_HTTP_OK, 200, "done");
}

#define BURST DELTA("Hello") DELTA(" world") DELTA(",") DELTA(" this")

Test(svc_llm, stream_fast_burst_is_merged_with_the_same_text) {
  coalesce(60000000);
  rpc_call *c = call(1, STREAM, "text", NULL);
  llm_http_req *r = &fh.reqs[1];
  /* The first read's tokens are all there at once: one message, sent at
   * the end of that read. */
  int rc = r->cbs.on_body(r->arg, 200, BURST, strlen(BURST));
  char text[256];
  int complete;
  cr_assert_eq(stream_tokens(1, text, sizeof text, &complete), 1,
               "the first read's tokens did not go at once, together");
  cr_assert_str_eq(text, "Hello world, this");
  cr_assert_eq(rc, 1, "the backend is not paused while a message is unwritten");
  cr_assert_eq(live_timers(), 0);
  rpc_call_drained(c);
  /* Reads within the gap: held (the backend keeps going: nothing is
   * unwritten), one timer for them. */
  cr_assert_eq(r->cbs.on_body(r->arg, 200, DELTA(" is"), strlen(DELTA(" is"))), 0);
  cr_assert_eq(r->cbs.on_body(r->arg, 200, DELTA(" ocrpc"), strlen(DELTA(" ocrpc"))), 0);
  cr_assert_eq(stream_tokens(1, text, sizeof text, &complete), 1);
  cr_assert_eq(live_timers(), 1, "the held tokens have no timer");
  fire_timers(); /* the gap has passed: one message with all held */
  cr_assert_eq(stream_tokens(1, text, sizeof text, &complete), 2);
  cr_assert_str_eq(text, "Hello world, this is ocrpc");
  rpc_call_drained(c);
  /* A number held for masking joins the held text once whole; the end
   * sends what is held at once, before is_complete. */
  sse(1, DELTA(" RRN 900101-"));
  sse(1, DELTA("1234567"));
  sse(1, DELTA(" ok."));
  cr_assert_eq(stream_tokens(1, text, sizeof text, &complete), 2);
  end_stream(1);
  cr_assert_eq(live_timers(), 0, "the end left a timer");
  cr_assert_eq(stream_tokens(1, text, sizeof text, &complete), 4);
  cr_assert(complete);
  cr_assert_str_eq(text, "Hello world, this is ocrpc RRN 900101-1****** ok.");
  cr_assert_eq(stream_grpc_status(fake_stream_get(&env.conn, 1)), 0);
  close_call(&env, c, 1, 0);
}

Test(svc_llm, stream_gap_zero_sends_one_message_per_event) {
  coalesce(0);
  rpc_call *c = call(1, STREAM, "text", NULL);
  llm_http_req *r = &fh.reqs[1];
  cr_assert_eq(r->cbs.on_body(r->arg, 200, BURST, strlen(BURST)), 1);
  char text[256];
  int complete;
  cr_assert_eq(stream_tokens(1, text, sizeof text, &complete), 4);
  cr_assert_str_eq(text, "Hello world, this");
  cr_assert_eq(nhand, 0, "a timer with coalescing off");
  rpc_call_drained(c);
  end_stream(1);
  cr_assert_eq(stream_tokens(1, text, sizeof text, &complete), 5);
  cr_assert(complete);
  close_call(&env, c, 1, 0);
}

/* --max-message-bytes bounds responses too: coalescing never merges
 * tokens into a message the limit refuses (the burst's text would be 19
 * bytes encoded against a limit of 18; each token alone fits). */
Test(svc_llm, stream_coalescing_keeps_messages_within_the_size_limit) {
  coalesce(60000000);
  env.cfg.max_message_bytes = 18;
  rpc_call *c = call(1, STREAM, "text", NULL);
  llm_http_req *r = &fh.reqs[1];
  r->cbs.on_body(r->arg, 200, BURST, strlen(BURST));
  rpc_call_drained(c);
  fire_timers();
  rpc_call_drained(c);
  end_stream(1);
  char text[256];
  int complete;
  cr_assert_geq(stream_tokens(1, text, sizeof text, &complete), 4);
  cr_assert(complete);
  cr_assert_str_eq(text, "Hello world, this");
  cr_assert_eq(stream_grpc_status(fake_stream_get(&env.conn, 1)), 0,
               "a merged message went over the size limit");
  close_call(&env, c, 1, 0);
}

Test(svc_llm, stream_error_sends_held_tokens_then_the_status) {
  coalesce(60000000);
  rpc_call *c = call(1, STREAM, "text", NULL);
  sse(1, DELTA("partial"));
  sse(1, DELTA(" answer"));
  fh.reqs[1].live = 0;
  fh.reqs[1].cbs.on_done(fh.reqs[1].arg, LLM_HTTP_BROKEN, 200, "connection reset");
  cr_assert_eq(live_timers(), 0);
  char text[64];
  int complete;
  cr_assert_eq(stream_tokens(1, text, sizeof text, &complete), 2);
  cr_assert_str_eq(text, "partial answer");
  cr_assert_not(complete);
  cr_assert_eq(stream_grpc_status(fake_stream_get(&env.conn, 1)), RPC_UNAVAILABLE);
  close_call(&env, c, 1, 0);
}

Test(svc_llm, stream_cancel_with_held_tokens_stops_the_timer) {
  coalesce(60000000);
  rpc_call *c = call(1, STREAM, "text", NULL);
  sse(1, DELTA("one"));
  sse(1, DELTA(" two"));
  cr_assert_eq(live_timers(), 1);
  close_call(&env, c, 1, 8 /* CANCEL */);
  cr_assert_eq(live_timers(), 0, "the timer outlived its call");
  cr_assert_eq(fh.aborts, 1);
}

Test(svc_llm, stream_broken_after_tokens_ends_with_a_grpc_status) {
  rpc_call *c = call(1, STREAM, "text", NULL);
  sse(1, DELTA("partial"));
  fh.reqs[1].live = 0;
  fh.reqs[1].cbs.on_done(fh.reqs[1].arg, LLM_HTTP_BROKEN, 200, "connection reset");
  char text[64];
  int complete;
  cr_assert_eq(stream_tokens(1, text, sizeof text, &complete), 1);
  cr_assert_not(complete);
  cr_assert_eq(stream_grpc_status(fake_stream_get(&env.conn, 1)), RPC_UNAVAILABLE);
  close_call(&env, c, 1, 0);
}

Test(svc_llm, cancel_aborts_the_backend_request) {
  rpc_call *c = call(1, STREAM, "text", NULL);
  sse(1, DELTA("one"));
  cr_assert_eq(fh.aborts, 0);
  close_call(&env, c, 1, 8 /* CANCEL */);
  cr_assert_eq(fh.aborts, 1, "the backend request outlived its call");
  cr_assert_not(fh.reqs[1].live);
  cr_assert_eq(env.conn.late_writes, 0);
  cr_assert_eq(requests("openai", "CANCELLED"), 1);
  rpc_call *w = call(3, ANALYZE, "text", NULL);
  close_call(&env, w, 3, 8);
  cr_assert_eq(fh.aborts, 2);
}

/* The access log (README: a failure, in-band STATUS_FAILURE included, is a
 * warn line): an in-band failure, from the request (empty text) or from
 * the backend (4xx), is written at warn with ocr_status FAILURE and its
 * details; a success stays at info with no in-band fields. */
Test(svc_llm, inband_failure_is_an_access_log_warn_line) {
  FILE *cap = tmpfile();
  cr_assert_not_null(cap);
  cr_assert_geq(dup2(fileno(cap), STDERR_FILENO), 0);
  rpc_call *ok = call(1, ANALYZE, RECEIPT, "engine", "rules", NULL);
  close_call(&env, ok, 1, 0);
  rpc_call *empty = call(3, ANALYZE, "", "engine", "rules", NULL);
  close_call(&env, empty, 3, 0);
  size_t first = fh.n;
  rpc_call *rejected = call(5, ANALYZE, "text", NULL);
  cr_assert_eq(fh.n, first + 1);
  fail_backend(first, &rows[2]); /* 400: the model does not exist */
  close_call(&env, rejected, 5, 0);
  for (size_t i = first + 1; i < fh.n; i++)
    if (fh.reqs[i].live)
      backend_answer(i, 200, "{}");
  access_log_flush();

  static char text[8192];
  ssize_t n = pread(fileno(cap), text, sizeof text - 1, 0);
  cr_assert_gt(n, 0);
  text[n] = 0;
  const char *want[][2] = {
      {"info  access ", "status=OK grpc_code=0 ocr_status=- details=- queue_ms=- ocr_ms=-"},
      {"warn  access ", "status=OK grpc_code=0 ocr_status=FAILURE details=INVALID_ARGUMENT "
                        "queue_ms=- ocr_ms=-"},
      {"warn  access ", "status=OK grpc_code=0 ocr_status=FAILURE details=BACKEND_REJECTED "
                        "queue_ms=- ocr_ms=-"},
  };
  size_t k = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    if (!strstr(line, " access "))
      continue; /* other log lines */
    cr_assert_lt(k, 3, "one access line per call: %s", line);
    cr_assert(strstr(line, want[k][0]), "line %zu: %s", k, line);
    cr_assert(strstr(line, "method=/llm.LLMService/AnalyzeText"), "line %zu: %s", k, line);
    cr_assert(strstr(line, want[k][1]), "line %zu: %s", k, line);
    k++;
  }
  cr_assert_eq(k, 3);
  fclose(cap);
}
