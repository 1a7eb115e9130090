/* SPDX-License-Identifier: MIT */
/* The executor backed by libuv's thread pool. A job's uv_work_t lives in
 * the job's own _impl storage, so submitting allocates nothing; libuv
 * always calls after_work, with UV_ECANCELED when uv_cancel took the job
 * back before a worker picked it up. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

#include "base/clock.h"
#include "base/err.h"
#include "loop.h"

/* What the executor keeps in a job's _impl: the libuv request, the
 * executor it went through and when a worker started it. */
typedef struct work {
  uv_work_t req;
  exec *ex;
  uint64_t started_ns, ended_ns; /* written by the worker, read after */
} work;

_Static_assert(sizeof(work) <= sizeof(((exec_job *)0)->_impl),
               "exec_job._impl too small for the executor's work");

/* For ocr_queue_depth and ocr_workers_busy: the loop counts submissions
 * and completions, workers count starts (the one shared counter). */
static uint64_t n_submitted, n_cancelled, n_finished;
static _Atomic uint64_t n_started;

void loop_exec_counts(uint64_t *queued, uint64_t *running) {
  uint64_t started = atomic_load_explicit(&n_started, memory_order_relaxed);
  *queued = n_submitted - n_cancelled > started ? n_submitted - n_cancelled - started : 0;
  *running = started > n_finished ? started - n_finished : 0;
}

/* Worker thread. */
static void on_work(uv_work_t *w) {
  work *wk = (work *)w;
  exec_job *job = w->data;
  wk->started_ns = clock_mono_ns();
  atomic_fetch_add_explicit(&n_started, 1, memory_order_relaxed);
  job->work(job);
  wk->ended_ns = clock_mono_ns();
}

static void on_after_work(uv_work_t *w, int status) {
  work *wk = (work *)w;
  exec *ex = wk->ex;
  exec_job *job = w->data;
  if (status == UV_ECANCELED)
    n_cancelled++;
  else
    n_finished++;
  ex->in_flight--;
  if (status != UV_ECANCELED) {
    /* Moving average of run time, for refusing calls whose deadline the
     * queue ahead would miss (rpc admission). */
    double ms = (double)(wk->ended_ns - wk->started_ns) / 1e6;
    ex->service_ms = ex->service_ms > 0 ? 0.8 * ex->service_ms + 0.2 * ms : ms;
  }
  job->done(job, status == UV_ECANCELED ? ERR_CANCELLED : 0);
}

static int submit(exec *ex, exec_job *job) {
  work *wk = (work *)job->_impl;
  wk->req.data = job;
  wk->ex = ex;
  if (uv_queue_work(ex->ud, &wk->req, on_work, on_after_work))
    return ERR_UNAVAILABLE;
  ex->in_flight++;
  n_submitted++;
  return 0;
}

static int cancel(exec *ex, exec_job *job) {
  (void)ex;
  return uv_cancel((uv_req_t *)job->_impl) ? ERR_INVAL : 0;
}

void loop_exec_init(exec *ex, uv_loop_t *loop) {
  ex->submit = submit;
  ex->cancel = cancel;
  ex->ud = loop;
  ex->in_flight = 0;
  ex->service_ms = 0;
}

void loop_pool_size(int workers) {
  char v[16];
  snprintf(v, sizeof v, "%d", workers);
  setenv("UV_THREADPOOL_SIZE", v, 1);
}
