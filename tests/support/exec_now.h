/* SPDX-License-Identifier: MIT */
/* The run-at-once executor the tests share: submit runs the job's work and
 * done before it returns, as src/base/exec.h allows, so a test needs no
 * threads and no loop. Criterion-free: the fuzz targets use it too. */
#ifndef OCRPC_TESTS_EXEC_NOW_H
#define OCRPC_TESTS_EXEC_NOW_H

#include "base/exec.h"

/* Runs job->work(job), then job->done(job, 0); returns 0. Never fails. */
int exec_now_submit(exec *ex, exec_job *job);

/* Returns ERR_INVAL: a submitted job has already run. */
int exec_now_cancel(exec *ex, exec_job *job);

/* A static initialiser: `static exec ex = EXEC_NOW_INIT;` (no ud, no
 * admission figures). */
#define EXEC_NOW_INIT                                                                      \
  { exec_now_submit, exec_now_cancel, NULL, 0, 0 }

#endif
