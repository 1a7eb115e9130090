/* SPDX-License-Identifier: MIT */
/* Admission control shared by the front doors: a recognition is refused at
 * once when the executor's queue is full (--max-queued-jobs), or when the
 * work queued ahead would outlast the caller's deadline, rather than left
 * to wait past any useful answer. gRPC answers UNAVAILABLE, REST 503 with
 * Retry-After; both are retried by the guide's clients. Loop thread. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "base/clock.h"
#include "base/metrics.h"

/* Counts a refusal; returns 1 for app_admit to return. */
static int shed(app *a, app_door door, app_shed_reason why) {
  if (a->m_shed[door][why])
    metric_inc(a->m_shed[door][why]);
  return 1;
}

int app_admit(app *a, app_door door, uint64_t deadline_ns, char *msg, size_t size) {
  const exec *ex = a->ex;
  const config *cfg = a->cfg;
  size_t workers = cfg->workers > 0 ? (size_t)cfg->workers : 1;
  size_t max_queued = cfg->max_queued_jobs > 0 ? (size_t)cfg->max_queued_jobs : 4 * workers;
  size_t queued = ex->in_flight > workers ? ex->in_flight - workers : 0;
  if (queued >= max_queued) {
    snprintf(msg, size, "overloaded: %zu recognitions queued (--max-queued-jobs %zu)",
             queued, max_queued);
    return shed(a, door, APP_SHED_QUEUE_FULL);
  }
  if (!deadline_ns || !queued || ex->service_ms <= 0 ||
      strcmp(cfg->shed_by_deadline, "on") != 0)
    return 0;
  /* Time until a worker is free for us (the mean run time per queued job
   * per worker). Our own run is not counted: its image may be far from
   * the mean, and a call that only its own run makes late ends in
   * DEADLINE_EXCEEDED as before. */
  double need_ms = (double)queued / (double)workers * ex->service_ms;
  uint64_t now = clock_mono_ns();
  double left_ms = deadline_ns > now ? (double)(deadline_ns - now) / 1e6 : 0;
  if (left_ms >= need_ms)
    return 0;
  snprintf(msg, size,
           "overloaded: the deadline leaves %.0f ms, the %zu recognitions queued ahead "
           "take about %.0f ms",
           left_ms, queued, need_ms);
  return shed(a, door, APP_SHED_DEADLINE);
}
