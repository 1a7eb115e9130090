/* SPDX-License-Identifier: MIT */
/* The executor backed by libuv's thread pool. A job's uv_work_t lives in
 * the job's own _impl storage, so submitting allocates nothing; libuv
 * always calls after_work, with UV_ECANCELED when uv_cancel took the job
 * back before a worker picked it up. */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "base/err.h"
#include "loop.h"

_Static_assert(sizeof(uv_work_t) <= sizeof(((exec_job *)0)->_impl),
               "exec_job._impl too small for uv_work_t");

/* Worker thread. */
static void on_work(uv_work_t *w) {
  exec_job *job = w->data;
  job->work(job);
}

static void on_after_work(uv_work_t *w, int status) {
  exec_job *job = w->data;
  job->done(job, status == UV_ECANCELED ? ERR_CANCELLED : 0);
}

static int submit(exec *ex, exec_job *job) {
  uv_work_t *w = (uv_work_t *)job->_impl;
  w->data = job;
  return uv_queue_work(ex->ud, w, on_work, on_after_work) ? ERR_UNAVAILABLE : 0;
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
