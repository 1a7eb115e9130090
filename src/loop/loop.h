/* SPDX-License-Identifier: MIT */
/* The process around the layers: the TCP listeners (gRPC, HTTP), connection
 * sockets that move bytes to and from src/conn (which decides what they
 * mean), TLS, the work-queue executor, and signals. The only server module
 * that includes uv.h. Loop thread. */
#ifndef OCRPC_LOOP_H
#define OCRPC_LOOP_H

#include <stdint.h>

#include "base/config.h"
#include "base/exec.h"
#include "base/timer.h"
#include "loop/loop_timer.h"

typedef struct uv_loop_s uv_loop_t;

/* Sets libuv's pool size to `workers`. Must run before anything uses the
 * pool (libuv reads UV_THREADPOOL_SIZE once, at first use). */
void loop_pool_size(int workers);

/* Initialises an executor backed by uv_queue_work on `loop`. Loop thread;
 * ex must outlive every job submitted to it. */
void loop_exec_init(exec *ex, uv_loop_t *loop);

/* Jobs the executors have queued and not started, and jobs running on a
 * worker now, over the process (libuv's pool is process-wide). Workers
 * count the starts with one atomic add per job. Loop thread. */
void loop_exec_counts(uint64_t *queued, uint64_t *running);

/* ---- hiredis glue (loop_redis.c) ---- */
struct redisAsyncContext;
struct jobs_redis_env;
struct jobs_store;

/* Attaches a hiredis async context to `loop` (a uv_loop_t *) with a
 * uv_poll_t that does not keep the loop alive and that passes poll errors
 * to hiredis (a refused connect fails at once); the handle closes when
 * hiredis frees the context, on the loop's next turn. Returns 0, ERR_INVAL (already
 * attached) or ERR_IO; on error nothing is attached and the context may be
 * freed. Loop thread. */
int loop_redis_attach(void *loop, struct redisAsyncContext *ac);

/* Fills env for jobs_redis_new: this loop, timers that (like the poll
 * handles) do not keep the loop alive, so that the store never holds up
 * shutdown, default limits, and state changes logged once each. Loop
 * thread. */
void loop_redis_env_init(struct jobs_redis_env *env, uv_loop_t *loop);

/* Builds the Redis job store for cfg->redis_url with cfg->job_ttl_seconds.
 * Returns 0 or ERR_CONFIG (malformed URL); the reason is logged.
 * Free it (jobs_free) before the loop's last run. Loop thread. */
int loop_redis_jobs_new(const config *cfg, uv_loop_t *loop, struct jobs_store **out);
/* 1 while the Redis job store is connected, 0 while it is not (or not
 * connected yet). ud is unused (the probe shape /readyz takes). Loop
 * thread. */
int loop_redis_up(void *ud);

/* Runs the server with cfg until SIGINT or SIGTERM, then closes every
 * handle and frees everything. Returns the process exit status: 0 after a
 * clean stop, 1 when the server could not start (reason logged). */
int loop_run(const config *cfg);

#endif
