/* SPDX-License-Identifier: MIT */
/* Calls to an OpenAI-compatible backend over the loop's llm_http: builds
 * the request, reads the answer whole or as server-sent events, limits the
 * calls in flight (a FIFO wait queue behind them, bounded) and keeps the
 * backend's health from the outcome of calls and probes. Loop thread. */
#define _GNU_SOURCE /* strcasestr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "llm_backend.h"

/* An answer body larger than this is not a chat completion. */
#define MAX_BODY (16u * 1024u * 1024u)
#define MAX_ERROR_BODY (64u * 1024u)
#define MAX_EVENT (1024u * 1024u)
#define PROBE_MIN_MS 500
#define PROBE_MAX_MS 30000

struct llm_call {
  llm_service *svc;
  llm_call_cbs cbs;
  void *arg;
  int stream;
  char *body;
  size_t body_len;
  char *model;
  llm_http_req *req; /* NULL while queued */
  llm_call *next;    /* wait queue */
  buf answer;        /* whole answer, or an error body */
  llm_sse sse;
  llm_completion comp;
  int saw_done, paused, cancelled, in_token;
  int read_tokens; /* tokens handed to on_token during this read */
  int http_status;
};

struct llm_service {
  char engine[16];
  char *base_url, *model, *auth;
  uint64_t timeout_ms;
  int max_concurrent, max_queued;
  llm_http *http;
  timer_src *timers;
  int inflight, nqueued;
  llm_call *qhead, *qtail;
  int serving;
  void (*health_cb)(void *);
  void *health_arg;
  /* the health probe */
  llm_http_req *probe;
  timer *probe_timer;
  uint64_t probe_backoff_ms;
};

static void set_serving(llm_service *s, int on) {
  if (s->serving == on)
    return;
  s->serving = on;
  if (s->health_cb)
    s->health_cb(s->health_arg);
}

static int probe_body(void *arg, int st, const char *d, size_t n) {
  (void)arg, (void)st, (void)d, (void)n;
  return 0;
}

static void start_probe(llm_service *s);

static void on_probe_timer(void *arg) {
  llm_service *s = arg;
  s->probe_timer = NULL;
  start_probe(s);
}

static void schedule_probe(llm_service *s) {
  if (s->probe || s->probe_timer || !s->timers)
    return;
  s->probe_backoff_ms = s->probe_backoff_ms ? s->probe_backoff_ms * 2 : PROBE_MIN_MS;
  if (s->probe_backoff_ms > PROBE_MAX_MS)
    s->probe_backoff_ms = PROBE_MAX_MS;
  s->probe_timer = s->timers->start(s->timers, s->probe_backoff_ms, on_probe_timer, s);
}

/* Any HTTP answer below 500 means the backend is there. */
static void probe_done(void *arg, llm_http_err err, int st, const char *msg) {
  (void)msg;
  llm_service *s = arg;
  s->probe = NULL;
  if (err == LLM_HTTP_OK && st < 500) {
    s->probe_backoff_ms = 0;
    set_serving(s, 1);
  } else {
    set_serving(s, 0);
    schedule_probe(s);
  }
}

static const llm_http_cbs probe_cbs = {probe_body, probe_done};

static size_t auth_headers(const llm_service *s, const char **h) {
  size_t n = 0;
  if (s->auth)
    h[n++] = s->auth;
  return n;
}

static void start_probe(llm_service *s) {
  if (s->probe)
    return;
  char url[4200];
  snprintf(url, sizeof url, "%s/models", s->base_url);
  const char *h[2];
  size_t n = auth_headers(s, h);
  if (s->http->start(s->http, url, h, n, NULL, 0,
                     s->timeout_ms < 10000 ? s->timeout_ms : 10000, &probe_cbs, s,
                     &s->probe))
    schedule_probe(s);
}

/* The backend failed a call: mark it down and probe until it is back. */
static void backend_down(llm_service *s) {
  set_serving(s, 0);
  schedule_probe(s);
}

int llm_service_new(const llm_service_config *cfg, llm_http *http, timer_src *timers,
                    llm_service **out, char *err, size_t errsize) {
  const char *engine = cfg->engine && *cfg->engine       ? cfg->engine
                       : cfg->base_url && *cfg->base_url ? "openai"
                                                         : "rules";
  if (strcmp(engine, "rules") && strcmp(engine, "openai")) {
    snprintf(err, errsize, "--llm-engine: '%s' is not rules or openai", engine);
    return ERR_CONFIG;
  }
  if (!strcmp(engine, "openai") && !(cfg->base_url && *cfg->base_url)) {
    snprintf(err, errsize, "--llm-engine openai needs LLM_BASE_URL (--llm-base-url)");
    return ERR_CONFIG;
  }
  if (cfg->base_url && *cfg->base_url && !http) {
    snprintf(err, errsize, "no HTTP client for LLM_BASE_URL");
    return ERR_CONFIG;
  }
  llm_service *s = ocrpc_calloc(1, sizeof *s);
  snprintf(s->engine, sizeof s->engine, "%s", engine);
  s->timeout_ms = cfg->timeout_ms;
  s->max_concurrent = cfg->max_concurrent > 0 ? cfg->max_concurrent : 1;
  s->max_queued = cfg->max_queued >= 0 ? cfg->max_queued : 0;
  s->timers = timers;
  s->model = ocrpc_strdup(cfg->model ? cfg->model : "");
  if (cfg->base_url && *cfg->base_url) {
    size_t n = strlen(cfg->base_url);
    while (n > 0 && cfg->base_url[n - 1] == '/')
      n--;
    s->base_url = ocrpc_strndup(cfg->base_url, n);
    s->http = http;
    if (cfg->api_key && *cfg->api_key) {
      size_t kl = strlen(cfg->api_key) + 32;
      s->auth = ocrpc_malloc(kl);
      snprintf(s->auth, kl, "Authorization: Bearer %s", cfg->api_key);
    }
    start_probe(s);
  } else {
    s->serving = 1;
  }
  *out = s;
  return 0;
}

static void call_free(llm_call *c) {
  free(c->body);
  free(c->model);
  buf_free(&c->answer);
  llm_sse_free(&c->sse);
  llm_completion_clear(&c->comp);
  free(c);
}

void llm_service_free(llm_service *s) {
  if (!s)
    return;
  if (s->probe)
    s->http->abort(s->http, s->probe);
  if (s->probe_timer)
    s->timers->stop(s->timers, s->probe_timer);
  while (s->qhead) {
    llm_call *c = s->qhead;
    s->qhead = c->next;
    call_free(c);
  }
  if (s->auth) { /* the key leaves no copy behind in freed memory */
    memset(s->auth, 0, strlen(s->auth));
    free(s->auth);
  }
  free(s->base_url);
  free(s->model);
  free(s);
}

const char *llm_service_default_engine(const llm_service *s) { return s->engine; }

int llm_service_has_engine(const llm_service *s, const char *engine) {
  return !strcmp(engine, "rules") || (!strcmp(engine, "openai") && s->base_url);
}

const char *llm_service_model(const llm_service *s) { return s->model; }

int llm_service_serving(const llm_service *s) { return s->serving; }

void llm_service_on_health(llm_service *s, void (*cb)(void *), void *arg) {
  s->health_cb = cb;
  s->health_arg = arg;
}

llm_status llm_status_from_http(int st, const char *message) {
  if (st >= 500 || st == 429 || st < 400)
    return LLM_UNAVAILABLE;
  if (st == 413)
    return LLM_CONTEXT_TOO_LONG;
  if (message &&
      (strcasestr(message, "context length") || strcasestr(message, "context_length") ||
       strcasestr(message, "context window") || strcasestr(message, "too many tokens")))
    return LLM_CONTEXT_TOO_LONG;
  return LLM_REJECTED;
}

/* ---- a call ---- */
static void pump_queue(llm_service *s);

static void finish(llm_call *c, llm_status st, const char *msg, llm_result *res) {
  llm_service *s = c->svc;
  if (c->req) {
    s->inflight--;
    c->req = NULL;
  }
  llm_outcome o = {st, msg, res, c->comp.prompt_tokens, c->comp.completion_tokens};
  c->cbs.on_done(c->arg, &o);
  call_free(c);
  pump_queue(s);
}

static int on_event(void *arg, const char *data, size_t len) {
  llm_call *c = arg;
  char *tok = NULL;
  int done = 0;
  int rc = llm_openai_chunk(data, len, &tok, &done, &c->comp);
  if (rc)
    return rc;
  if (done) {
    c->saw_done = 1;
    return 0;
  }
  if (tok) {
    c->read_tokens++;
    c->in_token = 1;
    if (c->cbs.on_token(c->arg, tok, strlen(tok)))
      c->paused = 1;
    c->in_token = 0;
    free(tok);
    if (c->cancelled)
      return 1;
  }
  return 0;
}

static int call_body(void *arg, int st, const char *data, size_t len) {
  llm_call *c = arg;
  c->http_status = st;
  if (st < 200 || st >= 300 || !c->stream) {
    size_t cap = st >= 200 && st < 300 ? MAX_BODY : MAX_ERROR_BODY;
    if (c->answer.len + len > cap)
      return st >= 200 && st < 300 ? -1 : 0; /* error bodies: keep the start */
    buf_append(&c->answer, data, len);
    return 0;
  }
  c->paused = 0;
  c->read_tokens = 0;
  int rc = llm_sse_feed(&c->sse, data, len, on_event, c);
  if (!rc && !c->cancelled && c->read_tokens && c->cbs.on_read_end) {
    c->in_token = 1; /* a cancel inside is deferred as in on_token */
    if (c->cbs.on_read_end(c->arg))
      c->paused = 1;
    c->in_token = 0;
  }
  if (c->cancelled) { /* cancelled inside a callback: the transfer is aborted */
    call_free(c);
    return -1;
  }
  if (rc)
    return -1;
  return c->paused ? 1 : 0;
}

static void whole_answer(llm_call *c) {
  llm_completion *cp = &c->comp;
  if (llm_openai_completion((const char *)c->answer.data, c->answer.len, cp)) {
    finish(c, LLM_UNAVAILABLE, "the backend's answer is not a chat completion", NULL);
    return;
  }
  llm_result r;
  llm_result_init(&r);
  int json = llm_openai_answer(cp->content, strlen(cp->content), &r) == 0;
  int rc = 0;
  if (!json) {
    /* Not the JSON we asked for: the text is the analysis, the entities
     * come from the rules engine (on the document, not the answer). */
    llm_result_clear(&r);
    r.analysis = ocrpc_strdup(cp->content);
  }
  rc = rc ? rc : llm_result_meta(&r, "answer_format", json ? "json" : "text");
  rc = rc ? rc : llm_result_meta(&r, "model", cp->model ? cp->model : c->model);
  if (cp->finish_reason && !rc)
    rc = llm_result_meta(&r, "finish_reason", cp->finish_reason);
  if (rc) {
    llm_result_clear(&r);
    finish(c, LLM_UNAVAILABLE, "out of memory", NULL);
    return;
  }
  finish(c, LLM_OK, NULL, &r);
  llm_result_clear(&r);
}

static void call_done(void *arg, llm_http_err err, int st, const char *msg) {
  llm_call *c = arg;
  llm_service *s = c->svc;
  char m[512];
  if (err == LLM_HTTP_TIMEOUT) {
    finish(c, LLM_TIMEOUT, "the LLM backend did not answer within LLM_TIMEOUT_MS", NULL);
    return;
  }
  if (err == LLM_HTTP_CONNECT || (err == LLM_HTTP_BROKEN && !c->answer.len && !st)) {
    snprintf(m, sizeof m, "LLM backend unreachable: %s", msg ? msg : "connection failed");
    backend_down(s);
    finish(c, LLM_UNAVAILABLE, m, NULL);
    return;
  }
  if (err == LLM_HTTP_OK && (st < 200 || st >= 300)) {
    char *em = llm_openai_error_message((const char *)c->answer.data, c->answer.len);
    llm_status ls = llm_status_from_http(st, em);
    snprintf(m, sizeof m, "LLM backend answered HTTP %d: %s", st, em ? em : "(no message)");
    free(em);
    if (st >= 500)
      backend_down(s);
    finish(c, ls, m, NULL);
    return;
  }
  set_serving(s, 1);
  if (err != LLM_HTTP_OK) {
    snprintf(m, sizeof m, "LLM backend connection lost: %s", msg ? msg : "broken");
    finish(c, LLM_UNAVAILABLE, m, NULL);
    return;
  }
  if (!c->stream) {
    whole_answer(c);
    return;
  }
  if (!c->saw_done) {
    finish(c, LLM_UNAVAILABLE, "the LLM backend's stream ended before [DONE]", NULL);
    return;
  }
  finish(c, LLM_OK, NULL, NULL);
}

static const llm_http_cbs call_cbs = {call_body, call_done};

static int send_call(llm_call *c) {
  llm_service *s = c->svc;
  char url[4200];
  snprintf(url, sizeof url, "%s/chat/completions", s->base_url);
  const char *h[4];
  size_t n = auth_headers(s, h);
  h[n++] = "Content-Type: application/json";
  if (c->stream)
    h[n++] = "Accept: text/event-stream";
  int rc = s->http->start(s->http, url, h, n, c->body, c->body_len, s->timeout_ms,
                          &call_cbs, c, &c->req);
  if (rc == 0)
    s->inflight++;
  return rc;
}

static void pump_queue(llm_service *s) {
  while (s->qhead && s->inflight < s->max_concurrent) {
    llm_call *c = s->qhead;
    s->qhead = c->next;
    if (!s->qhead)
      s->qtail = NULL;
    s->nqueued--;
    c->next = NULL;
    if (send_call(c))
      finish(c, LLM_UNAVAILABLE, "cannot start the backend request", NULL);
  }
}

int llm_call_start(llm_service *s, const llm_params *p, const llm_call_cbs *cbs, void *arg,
                   llm_call **out) {
  if (!s->base_url)
    return ERR_UNAVAILABLE;
  if (s->inflight >= s->max_concurrent && s->nqueued >= s->max_queued)
    return ERR_UNAVAILABLE;
  llm_call *c = ocrpc_calloc(1, sizeof *c);
  c->svc = s;
  c->cbs = *cbs;
  c->arg = arg;
  c->stream = p->stream;
  c->answer = (buf)BUF_INIT;
  llm_sse_init(&c->sse, MAX_EVENT);
  llm_completion_clear(&c->comp);
  llm_params q = *p;
  if (!q.model || !*q.model)
    q.model = s->model;
  c->model = ocrpc_strdup(q.model);
  llm_openai_request(&q, &c->body, &c->body_len);
  if (s->inflight < s->max_concurrent) {
    int rc = send_call(c);
    if (rc) {
      call_free(c);
      return rc;
    }
  } else {
    if (s->qtail)
      s->qtail->next = c;
    else
      s->qhead = c;
    s->qtail = c;
    s->nqueued++;
  }
  *out = c;
  return 0;
}

void llm_call_resume(llm_call *c) {
  if (c->req && c->paused) {
    c->paused = 0;
    c->svc->http->resume(c->svc->http, c->req);
  }
}

void llm_call_cancel(llm_call *c) {
  llm_service *s = c->svc;
  if (c->in_token) {
    /* Inside on_token or on_read_end, within the write callback: the
     * transfer is aborted now and call_body frees the call once the
     * parser has returned. */
    c->cancelled = 1;
  }
  if (c->req) {
    s->http->abort(s->http, c->req);
    c->req = NULL;
    s->inflight--;
  } else {
    llm_call **pp = &s->qhead;
    llm_call *prev = NULL;
    while (*pp && *pp != c) {
      prev = *pp;
      pp = &(*pp)->next;
    }
    if (*pp) {
      *pp = c->next;
      if (s->qtail == c)
        s->qtail = prev;
      s->nqueued--;
    }
  }
  if (!c->in_token)
    call_free(c);
  pump_queue(s);
}
