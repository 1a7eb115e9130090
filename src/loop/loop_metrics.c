/* SPDX-License-Identifier: MIT */
/* The process's metrics registry and access log plumbing: builds the
 * registry, registers what only the loop can see (connections open,
 * worker pool occupancy, the job store's connection, process_*), and runs
 * the access log's flush timer, started when a line lands in an empty
 * buffer so an idle server never wakes up for it. Loop thread. */
#include <stdatomic.h>

#include "base/access_log.h"
#include "base/err.h"
#include "jobs/jobs.h"
#include "loop_internal.h"

/* How long an access log line may wait in the buffer. */
#define ACCESS_FLUSH_MS 200

static void collect(void *ud) {
  loop_server *srv = ud;
  size_t open = 0;
  for (loop_conn *c = srv->conns; c; c = c->next)
    open++;
  metric_set(srv->m_conns_h2, (double)open);
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
      "Client connections open now, by protocol (http2, http1).", 1, proto, NULL, 0);
  srv->m_conns_h2 = metrics_series(conns, (const char *[]){"http2"});
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
  if (!srv->m_conns_h2 || !srv->m_queue_depth || !srv->m_workers_busy || !srv->m_store_up ||
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
