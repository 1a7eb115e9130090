/* SPDX-License-Identifier: MIT */
/* The executor backed by libuv's thread pool. A job's uv_work_t lives in
 * the job's own _impl storage, so submitting allocates nothing; libuv
 * always calls after_work, with UV_ECANCELED when uv_cancel took the job
 * back before a worker picked it up. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "base/err.h"
#include "loop.h"

_Static_assert(sizeof(uv_work_t) <= sizeof(((exec_job *)0)->_impl),
               "exec_job._impl too small for uv_work_t");

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
  exec_job *job = w->data;
  atomic_fetch_add_explicit(&n_started, 1, memory_order_relaxed);
  job->work(job);
}

static void on_after_work(uv_work_t *w, int status) {
  exec_job *job = w->data;
  if (status == UV_ECANCELED)
    n_cancelled++;
  else
    n_finished++;
  job->done(job, status == UV_ECANCELED ? ERR_CANCELLED : 0);
}

static int submit(exec *ex, exec_job *job) {
  uv_work_t *w = (uv_work_t *)job->_impl;
  w->data = job;
  if (uv_queue_work(ex->ud, w, on_work, on_after_work))
    return ERR_UNAVAILABLE;
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
}

void loop_pool_size(int workers) {
  char v[16];
  snprintf(v, sizeof v, "%d", workers);
  setenv("UV_THREADPOOL_SIZE", v, 1);
}
