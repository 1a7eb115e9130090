/* SPDX-License-Identifier: MIT */
/* What llm.LLMService counts: llm_requests_total{engine,status},
 * llm_tokens_total{direction}, llm_request_duration_seconds{engine} and
 * llm_time_to_first_token_seconds{engine}. Series are looked up once and
 * kept, so a call costs a few array reads and adds on the loop thread.
 * svc_llm.c notes the engine, the in-band outcome, the first token and the
 * backend's usage on the call; the request is counted where every call
 * ends (rpc__call_account), so calls refused before the handler, cancelled
 * or past their deadline are counted too. */
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "rpc_internal.h"

/* 0.1 ms to 5 minutes, as grpc_request_duration_seconds: both a rules
 * call on the loop and a long model answer are visible. */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
                                 5,      10,      30,     60,    120,    300};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

static const char *const engines[RPC_LLM_NENGINES] = {"rules", "openai", "unknown"};

/* The status label: a gRPC status code name (0..16), then the backend's
 * 4xx answers, which AnalyzeText answers in-band (gRPC OK) and the stream
 * as INVALID_ARGUMENT; counted by what happened, the same for both. */
static const char *const outcomes[] = {"BACKEND_REJECTED", "CONTEXT_TOO_LONG"};

size_t rpc__llm_engine_index(const char *engine) {
  for (size_t i = 0; i + 1 < RPC_LLM_NENGINES; i++)
    if (engine && !strcmp(engine, engines[i]))
      return i;
  return RPC_LLM_NENGINES - 1;
}

int rpc__llm_metrics_register(rpc_server *srv, metrics *m) {
  rpc_llm_metrics *lm = &srv->m.llm;
  const char *es[] = {"engine", "status"}, *e[] = {"engine"}, *d[] = {"direction"};
  lm->requests = metrics_family(
      m, METRIC_COUNTER, "llm_requests_total",
      "llm.LLMService calls, by engine (rules, openai; unknown when refused before "
      "one was chosen) and outcome: OK, a gRPC status code name, or BACKEND_REJECTED / "
      "CONTEXT_TOO_LONG for the backend's 4xx answers.",
      2, es, NULL, 0);
  metric_family *tokens = metrics_family(
      m, METRIC_COUNTER, "llm_tokens_total",
      "Model tokens reported by the openai backend's usage, by direction (prompt, "
      "completion); the rules engine adds none.",
      1, d, NULL, 0);
  lm->duration = metrics_family(
      m, METRIC_HISTOGRAM, "llm_request_duration_seconds",
      "llm.LLMService call duration, request headers received to status sent, by engine.",
      1, e, buckets, NBUCKETS);
  lm->ttft = metrics_family(
      m, METRIC_HISTOGRAM, "llm_time_to_first_token_seconds",
      "AnalyzeTextStream: request headers received to the first token handed to the "
      "HTTP/2 layer, by engine.",
      1, e, buckets, NBUCKETS);
  if (!lm->requests || !tokens || !lm->duration || !lm->ttft)
    return ERR_NOMEM;
  const char *pv[] = {"prompt"}, *cv[] = {"completion"};
  lm->prompt_tokens = metrics_series(tokens, pv);
  lm->completion_tokens = metrics_series(tokens, cv);
  for (size_t i = 0; i < RPC_LLM_NENGINES; i++) {
    const char *v[] = {engines[i]};
    lm->duration_s[i] = metrics_series(lm->duration, v);
    lm->ttft_s[i] = metrics_series(lm->ttft, v);
    if (!lm->duration_s[i] || !lm->ttft_s[i])
      return ERR_NOMEM;
  }
  if (!lm->prompt_tokens || !lm->completion_tokens)
    return ERR_NOMEM;
  lm->on = 1;
  return 0;
}

void rpc__llm_account(rpc_call *c, rpc_status status, double seconds) {
  rpc_llm_metrics *lm = &c->srv->m.llm;
  if (!lm->on)
    return;
  size_t e = rpc__llm_engine_index(c->llm_engine);
  size_t st = (unsigned)status <= 16 ? (size_t)status : (size_t)RPC_UNKNOWN;
  for (size_t i = 0; c->llm_outcome && i < sizeof outcomes / sizeof outcomes[0]; i++)
    if (!strcmp(c->llm_outcome, outcomes[i]))
      st = 17 + i;
  if (c->llm_outcome && !strcmp(c->llm_outcome, "INVALID_ARGUMENT"))
    st = RPC_INVALID_ARGUMENT;
  metric **slot = &lm->requests_s[e][st];
  if (!*slot) {
    const char *v[] = {engines[e],
                       st < 17 ? rpc_status_name((rpc_status)st) : outcomes[st - 17]};
    *slot = metrics_series(lm->requests, v);
  }
  metric_inc(*slot);
  metric_observe(lm->duration_s[e], seconds);
}

void rpc__llm_note_first_token(rpc_call *c) {
  rpc_llm_metrics *lm = &c->srv->m.llm;
  if (!lm->on)
    return;
  double s = (double)(clock_mono_ns() - c->t_start_ns) / 1e9;
  metric_observe(lm->ttft_s[rpc__llm_engine_index(c->llm_engine)], s);
}

void rpc__llm_note_tokens(rpc_server *srv, long prompt, long completion) {
  rpc_llm_metrics *lm = &srv->m.llm;
  if (prompt > 0)
    metric_add(lm->prompt_tokens, (double)prompt);
  if (completion > 0)
    metric_add(lm->completion_tokens, (double)completion);
}
