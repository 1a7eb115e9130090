/* SPDX-License-Identifier: MIT */
/* The process's metrics registry and access log plumbing: builds the
 * registry, registers what only the loop can see (connections open,
 * worker pool occupancy, the job store's connection, process_*), and runs
 * the access log's flush timer, started when a line lands in an empty
 * buffer so an idle server never wakes up for it. Loop thread. */
#include <stdatomic.h>
#include <stdio.h>

#include "base/access_log.h"
#include "base/err.h"
#include "jobs/jobs.h"
#include "loop_internal.h"

/* How long an access log line may wait in the buffer. */
#define ACCESS_FLUSH_MS 200

/* As grpc_request_duration_seconds: 0.1 ms to 5 minutes. */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
                                 5,      10,      30,     60,    120,    300};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

static void collect(void *ud) {
  loop_server *srv = ud;
  size_t h2 = 0, h1 = 0, sniff = 0;
  for (loop_conn *c = srv->conns; c; c = c->next) {
    h2 += conn_protocol(c->conn) == CONN_H2;
    h1 += conn_protocol(c->conn) == CONN_H1;
    sniff += conn_protocol(c->conn) == CONN_SNIFF;
  }
  metric_set(srv->m_conns_h2, (double)h2);
  metric_set(srv->m_conns_h1, (double)h1);
  metric_set(srv->m_conns_unknown, (double)sniff);
  uint64_t queued, running;
  loop_exec_counts(&queued, &running);
  metric_set(srv->m_queue_depth, (double)queued);
  metric_set(srv->m_workers_busy, (double)running);
  int up = 1;
  if (srv->cfg->redis_url[0] && srv->jobs) {
    jobs_redis_stats st;
    jobs_redis_get_stats(srv->jobs, &st);
    up = st.ready;
  }
  metric_set(srv->m_store_up, up);
}

static void on_flush_timer(uv_timer_t *t) {
  (void)t;
  access_log_flush();
}

static void arm_flush(void *ud) {
  loop_server *srv = ud;
  if (!srv->stopping && !uv_is_active((uv_handle_t *)&srv->access_timer))
    uv_timer_start(&srv->access_timer, on_flush_timer, ACCESS_FLUSH_MS, 0);
}

int loop__metrics_init(loop_server *srv) {
  if (metrics_new(&srv->metrics))
    return ERR_NOMEM;
  metrics *m = srv->metrics;
  const char *proto[] = {"protocol"};
  metric_family *conns = metrics_family(
      m, METRIC_GAUGE, "ocrpc_connections_open",
      "Client connections open now, by protocol (http2, http1; unknown while the "
      "gRPC port waits for a connection's first bytes).",
      1, proto, NULL, 0);
  srv->m_conns_h2 = metrics_series(conns, (const char *[]){"http2"});
  srv->m_conns_h1 = metrics_series(conns, (const char *[]){"http1"});
  srv->m_conns_unknown = metrics_series(conns, (const char *[]){"unknown"});
  const char *rc[] = {"route", "code"}, *r[] = {"route"};
  srv->cc.http_requests = metrics_family(
      m, METRIC_COUNTER, "http_requests_total",
      "REST requests answered, by route and HTTP status code.", 2, rc, NULL, 0);
  srv->cc.http_duration = metrics_family(
      m, METRIC_HISTOGRAM, "http_request_duration_seconds",
      "REST request duration: request received to answer queued.", 1, r, buckets, NBUCKETS);
  srv->m_queue_depth = metrics_series(
      metrics_family(m, METRIC_GAUGE, "ocr_queue_depth",
                     "Jobs submitted to the worker pool and not yet started.", 0, NULL,
                     NULL, 0),
      NULL);
  srv->m_workers_busy =
      metrics_series(metrics_family(m, METRIC_GAUGE, "ocr_workers_busy",
                                    "Worker threads running a job now.", 0, NULL, NULL, 0),
                     NULL);
  srv->m_store_up = metrics_series(
      metrics_family(m, METRIC_GAUGE, "ocrpc_job_store_connected",
                     "1 when the job store is usable (always for the in-process store; "
                     "Redis: connected and authenticated), else 0.",
                     0, NULL, NULL, 0),
      NULL);
  if (!srv->m_conns_h2 || !srv->m_conns_h1 || !srv->m_conns_unknown ||
      !srv->cc.http_requests || !srv->cc.http_duration || !srv->m_queue_depth ||
      !srv->m_workers_busy || !srv->m_store_up ||
      metrics_on_collect(m, collect, srv, NULL) || metrics_process_register(m))
    return ERR_NOMEM;
  return 0;
}

void loop__metrics_start(loop_server *srv) {
  uv_timer_init(srv->loop, &srv->access_timer);
  srv->access_timer.data = srv;
  access_log_set_arm(arm_flush, srv);
}

void loop__metrics_stop(loop_server *srv) {
  access_log_set_arm(NULL, NULL);
  access_log_flush();
  if (!uv_is_closing((uv_handle_t *)&srv->access_timer))
    uv_close((uv_handle_t *)&srv->access_timer, NULL);
}
