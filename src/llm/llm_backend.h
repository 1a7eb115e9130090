/* SPDX-License-Identifier: MIT */
/* The analysis service behind llm.LLMService: which engines are
 * configured, calls to an OpenAI-compatible backend (whole or streamed),
 * the limit on calls in flight with its bounded wait queue, and the
 * backend's health. HTTP goes through llm_http, which src/loop implements
 * with libcurl's multi interface; timers through base/timer.h. Loop thread
 * only. */
#ifndef OCRPC_LLM_BACKEND_H
#define OCRPC_LLM_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "base/timer.h"
#include "llm.h"

/* ---- the HTTP client the loop hands in ---- */
typedef struct llm_http llm_http;
typedef struct llm_http_req llm_http_req;

/* How a transfer ended (llm_http_cbs.on_done). */
typedef enum llm_http_err {
  LLM_HTTP_OK = 0,       /* a complete response (any HTTP status) */
  LLM_HTTP_CONNECT,      /* could not connect (refused, unresolved) */
  LLM_HTTP_BROKEN,       /* connection lost or response malformed midway */
  LLM_HTTP_TIMEOUT,      /* the transfer's timeout passed */
  LLM_HTTP_WRITE_REFUSED /* on_body refused the bytes */
} llm_http_err;

typedef struct llm_http_cbs {
  /* Body bytes as they arrive (borrowed for the call). Returns 0 to take
   * them, 1 to take them and pause the transfer before the next bytes
   * (until llm_http.resume), -1 to stop the transfer (on_done then comes
   * with LLM_HTTP_WRITE_REFUSED). */
  int (*on_body)(void *arg, int http_status, const char *data, size_t len);
  /* Exactly once, unless aborted; never from inside llm_http.start. The
   * request may be freed inside. msg: a short reason, borrowed. */
  void (*on_done)(void *arg, llm_http_err err, int http_status, const char *msg);
} llm_http_cbs;

struct llm_http {
  /* Starts a request: POST with body (borrowed until on_done or abort)
   * when body is non-NULL, else GET. headers: "Name: value" strings
   * (copied). timeout_ms 0: none. Returns 0, ERR_UNAVAILABLE (closing),
   * ERR_IO (the HTTP library refused the transfer) or ERR_INVAL. */
  int (*start)(llm_http *h, const char *url, const char *const *headers, size_t nheaders,
               const char *body, size_t body_len, uint64_t timeout_ms,
               const llm_http_cbs *cbs, void *arg, llm_http_req **out);
  /* Resumes a transfer paused by on_body. */
  void (*resume)(llm_http *h, llm_http_req *r);
  /* Stops the transfer and closes its connection at once; no callback
   * follows. Safe inside on_body. */
  void (*abort)(llm_http *h, llm_http_req *r);
  void *ud;
};

/* ---- the service ---- */
typedef struct llm_service llm_service;

typedef struct llm_service_config {
  const char *engine;   /* "rules", "openai", or "" (openai when base_url is set) */
  const char *base_url; /* e.g. http://127.0.0.1:8080/v1; "" when none */
  const char *model;
  const char *api_key; /* "" when none; sent only as the Authorization header */
  uint64_t timeout_ms; /* one backend request, whole or streamed */
  int max_concurrent;  /* requests in flight to the backend */
  int max_queued;      /* callers waiting beyond that; more: ERR_UNAVAILABLE */
} llm_service_config;

/* Creates the service. cfg's strings are copied; http and timers are
 * borrowed (http may be NULL when no base_url is set) and must outlive
 * the service. Returns 0, ERR_CONFIG (openai without base_url; reason in
 * err). With openai, a first health probe (GET /models) is
 * sent at once. */
int llm_service_new(const llm_service_config *cfg, llm_http *http, timer_src *timers,
                    llm_service **out, char *err, size_t errsize);
/* Aborts every call and probe (no callbacks) and frees. NULL: no-op. */
void llm_service_free(llm_service *s);

const char *llm_service_default_engine(const llm_service *s);
/* 1 when `engine` ("rules" or "openai") is configured. */
int llm_service_has_engine(const llm_service *s, const char *engine);
/* The default model name ("" when none). */
const char *llm_service_model(const llm_service *s);
/* 1 while the service can answer: always with rules; with openai, once
 * the backend answered the start probe and until it fails (unreachable or
 * 5xx), then again after a probe or a call succeeds. */
int llm_service_serving(const llm_service *s);
/* cb(arg) after every change of llm_service_serving. */
void llm_service_on_health(llm_service *s, void (*cb)(void *), void *arg);

/* ---- one call to the openai engine ---- */
typedef enum llm_status {
  LLM_OK = 0,
  LLM_UNAVAILABLE,      /* unreachable, 5xx, 429, broken answer: retryable */
  LLM_TIMEOUT,          /* LLM_TIMEOUT_MS passed */
  LLM_REJECTED,         /* 4xx: bad model, bad parameters */
  LLM_CONTEXT_TOO_LONG, /* 4xx naming the context length, or 413 */
} llm_status;

/* The end of a call: status, a message (borrowed, for the caller's error
 * text; never contains the API key) and, for a whole answer with LLM_OK,
 * the result (borrowed; the callee may take its contents). */
typedef struct llm_outcome {
  llm_status status;
  const char *message;
  llm_result *result;
  long prompt_tokens, completion_tokens; /* -1: not reported */
} llm_outcome;

typedef struct llm_call llm_call;

typedef struct llm_call_cbs {
  /* Streamed calls: one token (borrowed, len bytes, NUL terminated).
   * Returns 1 to pause the backend until llm_call_resume, else 0. */
  int (*on_token)(void *arg, const char *token, size_t len);
  /* Exactly once, unless cancelled; never from inside llm_call_start.
   * The call is freed after it returns. */
  void (*on_done)(void *arg, const llm_outcome *o);
  /* Streamed calls, optional (NULL: none): after each read of the
   * backend's answer that brought tokens, once on_token has had them all,
   * so the caller can send together what arrived together. Returns 1 to
   * pause the backend until llm_call_resume, else 0. May cancel the call
   * (llm_call_cancel) as on_token may. */
  int (*on_read_end)(void *arg);
} llm_call_cbs;

/* Starts (or queues) a call to the openai engine with p (copied). For
 * p->stream == 0 the outcome carries the parsed answer; with 1, tokens
 * come through on_token. Returns 0, ERR_UNAVAILABLE (queue full, the
 * engine not configured, or the HTTP client closing), or the HTTP
 * client's refusal of the transfer (ERR_IO, ERR_INVAL). */
int llm_call_start(llm_service *s, const llm_params *p, const llm_call_cbs *cbs, void *arg,
                   llm_call **out);
/* Resumes a call that on_token paused. */
void llm_call_resume(llm_call *c);
/* Stops the call: the backend request is aborted (its connection closed)
 * or taken out of the queue; no callback follows. */
void llm_call_cancel(llm_call *c);

/* Maps an HTTP error answer to a status: 5xx and 429 unavailable, 413 or
 * a message about the context length too long, other 4xx rejected. */
llm_status llm_status_from_http(int http_status, const char *message);

#endif
