/* SPDX-License-Identifier: MIT */
/* The process around the layers: the TCP listener, connections that move
 * bytes between sockets and h2 sessions, the work-queue executor, and
 * signals. The only module that includes uv.h. Loop thread. */
#ifndef OCRPC_LOOP_H
#define OCRPC_LOOP_H

#include "base/config.h"
#include "base/exec.h"
#include "base/timer.h"

typedef struct uv_loop_s uv_loop_t;

/* Sets libuv's pool size to `workers`. Must run before anything uses the
 * pool (libuv reads UV_THREADPOOL_SIZE once, at first use). */
void loop_pool_size(int workers);

/* Initialises an executor backed by uv_queue_work on `loop`. Loop thread;
 * ex must outlive every job submitted to it. */
void loop_exec_init(exec *ex, uv_loop_t *loop);

/* Initialises a timer source over uv timers on `loop`. Loop thread. */
void loop_timer_init(timer_src *src, uv_loop_t *loop);

/* Runs the server with cfg until SIGINT or SIGTERM, then closes every
 * handle and frees everything. Returns the process exit status: 0 after a
 * clean stop, 1 when the server could not start (reason logged). */
int loop_run(const config *cfg);

#endif
