/* SPDX-License-Identifier: MIT */
/* What the gRPC front door counts and logs: grpc_requests_total and
 * grpc_request_duration_seconds (the guide's names), the OCR outcome of
 * each image, and one access log line per call. Runs where the call ends,
 * on the loop thread; worker timings arrive inside the result. */
#include <string.h>

#include "base/access_log.h"
#include "base/clock.h"
#include "base/err.h"
#include "rpc_internal.h"

/* Seconds from 0.1 ms (a mock call) to 5 minutes (the guide's client
 * timeout), so both the RPC overhead and a long recognition are visible. */
static const double duration_buckets[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25,   0.5,     1,      2.5,   5,      10,    30,   60,    120,  300};
#define NBUCKETS (sizeof duration_buckets / sizeof duration_buckets[0])

static void collect(void *ud) {
  rpc_server *srv = ud;
  size_t batch = rpc__method_index(
      rpc__method_find("/ocr.OCRService/ExtractTextBatch",
                       sizeof "/ocr.OCRService/ExtractTextBatch" - 1, NULL));
  metric_set(srv->m.batches, (double)srv->m.alive[batch]);
}

static metric *single(metrics *m, metric_type t, const char *name, const char *help) {
  return metrics_series(
      metrics_family(m, t, name, help, 0, NULL, duration_buckets, NBUCKETS), NULL);
}

int rpc_server_set_metrics(rpc_server *srv, metrics *m) {
  rpc_metrics *rm = &srv->m;
  const char *ms[] = {"method", "status"}, *mm[] = {"method"};
  rm->requests = metrics_family(m, METRIC_COUNTER, "grpc_requests_total",
                                "Total gRPC requests, by method and gRPC status code name.",
                                2, ms, NULL, 0);
  rm->duration =
      metrics_family(m, METRIC_HISTOGRAM, "grpc_request_duration_seconds",
                     "gRPC request duration: request headers received to status sent.", 1,
                     mm, duration_buckets, NBUCKETS);
  rm->batches = single(m, METRIC_GAUGE, "ocr_batches_in_flight",
                       "ExtractTextBatch streams open now.");
  if (!rm->requests || !rm->duration || !rm->batches ||
      metrics_on_collect(m, collect, srv, NULL) || app_metrics_register(&srv->app, m) ||
      rpc__llm_metrics_register(srv, m))
    return ERR_INVAL;
  rm->reg = m;
  return 0;
}

void rpc__call_note_ocr(rpc_call *c, const ocr_result *r, double queue_ms) {
  c->ocr_status = r->err ? "FAILURE" : "SUCCESS";
  c->ocr_details = r->err ? err_name(r->err) : NULL;
  c->queue_ms = queue_ms;
  c->ocr_ms = r->ocr_ms;
}

void rpc__call_note_inband_failure(rpc_call *c, const char *details) {
  c->ocr_status = "FAILURE";
  c->ocr_details = details;
  c->queue_ms = c->ocr_ms = -1;
}

void rpc__call_account(rpc_call *c, rpc_status status, const char *msg) {
  if (c->accounted)
    return;
  c->accounted = 1;
  rpc_server *srv = c->srv;
  rpc_metrics *rm = &srv->m;
  uint64_t now = clock_mono_ns();
  double seconds = (double)(now - c->t_start_ns) / 1e9;
  size_t mi = rpc__method_index(c->method);
  if (rm->reg) {
    unsigned st = (unsigned)status <= 16 ? (unsigned)status : (unsigned)RPC_UNKNOWN;
    metric **slot = &rm->requests_s[mi][st];
    if (!*slot) {
      const char *v[] = {rpc__method_name(mi), rpc_status_name((rpc_status)st)};
      *slot = metrics_series(rm->requests, v);
    }
    metric_inc(*slot);
    if (!rm->duration_s[mi]) {
      const char *v[] = {rpc__method_name(mi)};
      rm->duration_s[mi] = metrics_series(rm->duration, v);
    }
    metric_observe(rm->duration_s[mi], seconds);
    if (c->method && !strncmp(c->method->path, "/llm.", 5))
      rpc__llm_account(c, status, seconds);
  }
  if (!access_log_on_)
    return;
  const rpc_transport *tr = srv->tr;
  access_entry e = {
      .protocol = "grpc",
      .peer = tr->peer ? tr->peer(c->conn) : NULL,
      .method = rpc__method_name(mi),
      .status = (int)status,
      .status_name = rpc_status_name(status),
      .message = msg && *msg ? msg : NULL,
      .ocr_status = c->ocr_status,
      .details = c->ocr_details,
      .queue_ms = c->ocr_status ? c->queue_ms : -1,
      .ocr_ms = c->ocr_status ? c->ocr_ms : -1,
      .bytes_in = c->bytes_in,
      .bytes_out = c->bytes_out,
      .duration_ms = seconds * 1000.0,
      .request_id = c->request_id[0] ? c->request_id
                    : c->gen_id[0]   ? c->gen_id
                                     : NULL,
      .request_id_trusted = !c->request_id[0],
      .failed = status != RPC_OK || c->ocr_details != NULL,
  };
  access_log_write(&e);
}
