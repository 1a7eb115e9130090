/* SPDX-License-Identifier: MIT */
/* The server object and the method table keyed by :path. Loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "base/ocrpc_assert.h"
#include "health.pb.h"
#include "llm.pb.h"
#include "llm/llm_backend.h"
#include "reflection.pb.h"
#include "rpc_internal.h"

/* OCRBatchRequest.image_paths (1): each entry costs an ImagePath and a
 * batch item however small it is on the wire. */
static int check_batch(const config *cfg, const uint8_t *data, size_t len, char *msg,
                       size_t msg_size) {
  uint64_t max = cfg->max_batch_images;
  ssize_t n = rpc__pb_count(data, len, 1, 0, max);
  if (n < 0 || (uint64_t)n <= max)
    return 0;
  snprintf(msg, msg_size, "batch has more than %llu images (--max-batch-images)",
           (unsigned long long)max);
  return ERR_MSG_TOO_LARGE;
}

/* Refuses a request whose options map (field `field`, a map<string,string>
 * whose entries are that field repeated) has more than RPC_MAX_OPTIONS
 * entries, counted on the wire before decoding. */
static int check_options_field(const uint8_t *data, size_t len, uint32_t field, char *msg,
                               size_t msg_size) {
  ssize_t n = rpc__pb_count(data, len, field, 1, RPC_MAX_OPTIONS);
  if (n < 0 || n <= RPC_MAX_OPTIONS)
    return 0;
  snprintf(msg, msg_size, "options has more than %d entries", RPC_MAX_OPTIONS);
  return ERR_MSG_TOO_LARGE;
}

/* OCRRequest.options is field 6. */
static int check_options(const config *cfg, const uint8_t *data, size_t len, char *msg,
                         size_t msg_size) {
  (void)cfg;
  return check_options_field(data, len, 6, msg, msg_size);
}

/* LLMRequest.options is field 3. */
static int check_llm_options(const config *cfg, const uint8_t *data, size_t len, char *msg,
                             size_t msg_size) {
  (void)cfg;
  return check_options_field(data, len, 3, msg, msg_size);
}

static const rpc_method methods[] = {
    {"/ocr.OCRService/ExtractText", RPC_M_ADMIT, ocr_OCRRequest_fields,
     sizeof(ocr_OCRRequest), rpc__ocr_extract_text, NULL, check_options},
    {"/ocr.OCRService/CheckHealth", RPC_M_WHILE_DRAINING | RPC_M_NO_AUTH,
     ocr_HealthCheckRequest_fields, sizeof(ocr_HealthCheckRequest), rpc__ocr_check_health,
     NULL, NULL},
    {"/ocr.OCRService/ExtractTextBatch", RPC_M_ADMIT, ocr_OCRBatchRequest_fields,
     sizeof(ocr_OCRBatchRequest), rpc__ocr_extract_batch, NULL, check_batch},
    {"/ocr.OCRService/GetBatchStatus", RPC_M_WHILE_DRAINING, ocr_BatchStatusRequest_fields,
     sizeof(ocr_BatchStatusRequest), rpc__ocr_batch_status, NULL, NULL},
    {"/llm.LLMService/AnalyzeText", 0, llm_LLMRequest_fields, sizeof(llm_LLMRequest),
     rpc__llm_analyze, NULL, check_llm_options},
    {"/llm.LLMService/AnalyzeTextStream", 0, llm_LLMRequest_fields, sizeof(llm_LLMRequest),
     rpc__llm_analyze_stream, NULL, check_llm_options},
    {"/grpc.health.v1.Health/Check", RPC_M_WHILE_DRAINING | RPC_M_NO_AUTH,
     grpc_health_v1_HealthCheckRequest_fields, sizeof(grpc_health_v1_HealthCheckRequest),
     rpc__health_check, NULL, NULL},
    {"/grpc.health.v1.Health/Watch", RPC_M_WHILE_DRAINING | RPC_M_NO_AUTH,
     grpc_health_v1_HealthCheckRequest_fields, sizeof(grpc_health_v1_HealthCheckRequest),
     rpc__health_watch, NULL, NULL},
    {"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
     RPC_M_WHILE_DRAINING | RPC_M_CLIENT_STREAM | RPC_M_REFLECTION,
     grpc_reflection_v1_ServerReflectionRequest_fields,
     sizeof(grpc_reflection_v1_ServerReflectionRequest), rpc__reflection_info,
     rpc__reflection_end, NULL},
    /* v1alpha: the same messages on the wire, still what many clients ask. */
    {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
     RPC_M_WHILE_DRAINING | RPC_M_CLIENT_STREAM | RPC_M_REFLECTION,
     grpc_reflection_v1_ServerReflectionRequest_fields,
     sizeof(grpc_reflection_v1_ServerReflectionRequest), rpc__reflection_info,
     rpc__reflection_end, NULL},
};

_Static_assert(sizeof methods / sizeof methods[0] == RPC_NMETHODS,
               "RPC_NMETHODS matches the method table");

size_t rpc__method_index(const rpc_method *m) {
  return m ? (size_t)(m - methods) : RPC_NMETHODS;
}

const char *rpc__method_name(size_t i) {
  return i < RPC_NMETHODS ? methods[i].path : "unknown";
}

const rpc_method *rpc__method_find(const char *path, size_t len, int *service_known) {
  const char *slash = len > 1 ? memchr(path + 1, '/', len - 1) : NULL;
  size_t svc_len = slash ? (size_t)(slash - path) + 1 : 0;
  if (service_known)
    *service_known = 0;
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    const char *p = methods[i].path;
    if (strlen(p) == len && memcmp(p, path, len) == 0)
      return &methods[i];
    if (service_known && svc_len && strncmp(p, path, svc_len) == 0)
      *service_known = 1;
  }
  return NULL;
}

rpc_server *rpc_server_new(const config *cfg, ocr_engine *engine, exec *ex,
                           const rpc_transport *tr) {
  rpc_server *srv = ocrpc_calloc(1, sizeof *srv);
  srv->cfg = cfg;
  app_init(&srv->app, cfg, engine, ex);
  srv->tr = tr;
  return srv;
}

void rpc_server_set_inline(rpc_server *srv, int on) { srv->app.inline_instant = on; }

void rpc_server_set_jobs(rpc_server *srv, jobs_store *jobs) { srv->app.jobs = jobs; }

struct app *rpc_server_app(rpc_server *srv) {
  return &srv->app;
}

static void on_llm_health(void *arg) { rpc__health_changed(arg); }

void rpc_server_set_llm(rpc_server *srv, struct llm_service *llm) {
  srv->llm = llm;
  if (llm)
    llm_service_on_health(llm, on_llm_health, srv);
}

void rpc_server_set_timers(rpc_server *srv, timer_src *timers) { srv->timers = timers; }

void rpc_server_set_decoder(rpc_server *srv, exec *decoder) {
  srv->decoder = decoder;
  srv->decode_over = RPC_DECODE_INLINE_MAX;
  srv->decode_over_gzip = RPC_DECODE_INLINE_MAX_GZIP;
}

void rpc_server_set_auth(rpc_server *srv, const struct auth_tokens *tokens) {
  srv->auth = tokens;
}

void rpc_server_cache_stats(const rpc_server *srv, uint64_t *hits, uint64_t *misses) {
  *hits = srv->app.cache_hits;
  *misses = srv->app.cache_misses;
}

void rpc_server_drain(rpc_server *srv) {
  if (srv->draining)
    return;
  srv->draining = 1;
  rpc__health_changed(srv);
}

void rpc_server_free(rpc_server *srv) {
  if (!srv)
    return;
  /* Teardown: every call was closed by its transport first. */
  OCRPC_ASSERT(srv->ncalls == 0);
  OCRPC_ASSERT(srv->watchers == NULL && srv->nwatchers == 0);
  OCRPC_ASSERT(srv->running_batches == NULL);
  free(srv);
}

size_t rpc_server_calls(const rpc_server *srv) { return srv->ncalls; }

size_t rpc_server_busy(const rpc_server *srv) {
  OCRPC_ASSERT(srv->nwatchers <= srv->ncalls); /* every watcher is a call */
  return srv->ncalls - srv->nwatchers;
}
