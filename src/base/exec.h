/* SPDX-License-Identifier: MIT */
/* The executor: how upper layers hand blocking work to worker threads
 * without knowing about libuv. src/loop passes one backed by
 * uv_queue_work; tests pass one that runs the job at once. */
#ifndef OCRPC_BASE_EXEC_H
#define OCRPC_BASE_EXEC_H

#include <stddef.h>

typedef struct exec_job exec_job;

/* Worker thread: does the blocking part. Touches only the job's memory. */
typedef void (*exec_work_cb)(exec_job *job);
/* Loop thread: called exactly once per submitted job, after work_cb has run
 * (status 0) or instead of it when the job was taken back before it started
 * (status ERR_CANCELLED). The job may be freed inside this callback. */
typedef void (*exec_done_cb)(exec_job *job, int status);

struct exec_job {
  exec_work_cb work;
  exec_done_cb done;
  /* Executor-private storage (the loop keeps its uv_work_t and run times here, so a job
   * costs no extra allocation). */
  _Alignas(max_align_t) unsigned char _impl[160];
};

typedef struct exec {
  /* Queues the job. Returns 0, or a negative ERR_* (the job is then not
   * queued and done will not be called). Loop thread. */
  int (*submit)(struct exec *ex, exec_job *job);
  /* Takes back a queued job: returns 0 if it will not run (done then comes
   * with ERR_CANCELLED), or a negative ERR_* if it already runs or ran.
   * Loop thread. */
  int (*cancel)(struct exec *ex, exec_job *job);
  void *ud;
  /* Kept by the executor for admission control (0 when it does not):
   * jobs submitted and not yet done (queued or running), and the mean
   * time a job runs on a worker (moving average, milliseconds). Loop
   * thread. */
  size_t in_flight;
  double service_ms;
} exec;

#endif
