/* SPDX-License-Identifier: MIT */
/* The run-at-once executor of exec_now.h, one copy for the rpc, rest and
 * conn tests and the connection-level fuzz targets. */
#include "exec_now.h"

#include "base/err.h"

int exec_now_submit(exec *ex, exec_job *job) {
  (void)ex;
  job->work(job);
  job->done(job, 0);
  return 0;
}

int exec_now_cancel(exec *ex, exec_job *job) {
  (void)ex;
  (void)job;
  return ERR_INVAL; /* it already ran */
}
