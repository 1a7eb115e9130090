/* SPDX-License-Identifier: MIT */
/* hiredis <-> libuv glue for the Redis job store: attaches a hiredis async
 * context to the loop with a uv_poll_t, builds the store from the config,
 * and logs the store's connection state changes (src/jobs may not log).
 * Loop thread. */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <uv.h>

#include "base/err.h"
#include "base/log.h"
#include "base/ocrpc_alloc.h"
#include "jobs/jobs.h"
#include "loop.h"

/* Modelled on hiredis' adapters/libuv.h (0.14.1), with two differences
 * that matter here. That adapter drops poll errors, so a refused connect
 * (POLLERR) is never seen and the attempt hangs until some timer gives up;
 * this one hands errors to hiredis, whose read/connect path then finds the
 * socket error and closes the context at once. And it only installs its
 * hooks once the handle exists, so a failed attach leaves a context that
 * can simply be freed. */
typedef struct redis_poll {
  redisAsyncContext *ac; /* NULL once hiredis let go of the context */
  uv_poll_t handle;
  int events;
} redis_poll;

static void on_poll(uv_poll_t *h, int status, int events) {
  redis_poll *p = h->data;
  if (status < 0) {
    /* libuv stopped the handle. A connecting context learns the error
     * through its write path (SO_ERROR), a connected one through read. */
    if (p->ac && (p->ac->c.flags & REDIS_CONNECTED))
      redisAsyncHandleRead(p->ac);
    else if (p->ac)
      redisAsyncHandleWrite(p->ac);
    return;
  }
  if (p->ac && (events & UV_READABLE))
    redisAsyncHandleRead(p->ac);
  if (p->ac && (events & UV_WRITABLE))
    redisAsyncHandleWrite(p->ac);
}

static void update(redis_poll *p) {
  if (p->events)
    uv_poll_start(&p->handle, p->events, on_poll);
  else
    uv_poll_stop(&p->handle);
}

static void add_read(void *d) {
  redis_poll *p = d;
  p->events |= UV_READABLE;
  update(p);
}

static void del_read(void *d) {
  redis_poll *p = d;
  p->events &= ~UV_READABLE;
  update(p);
}

static void add_write(void *d) {
  redis_poll *p = d;
  p->events |= UV_WRITABLE;
  update(p);
}

static void del_write(void *d) {
  redis_poll *p = d;
  p->events &= ~UV_WRITABLE;
  update(p);
}

static void on_closed(uv_handle_t *h) { free(h->data); }

/* hiredis calls this as it frees the context; the handle closes on the
 * loop's next turn, which is why the loop must run once more after the
 * store is freed. */
static void cleanup(void *d) {
  redis_poll *p = d;
  p->ac = NULL;
  uv_close((uv_handle_t *)&p->handle, on_closed);
}

int loop_redis_attach(void *loop, struct redisAsyncContext *ac) {
  if (ac->ev.data)
    return ERR_INVAL;
  redis_poll *p = ocrpc_calloc(1, sizeof *p);
  if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
    free(p);
    return ERR_IO;
  }
  /* The store must not keep a stopping server's loop alive. */
  uv_unref((uv_handle_t *)&p->handle);
  p->handle.data = p;
  p->ac = ac;
  ac->ev.data = p;
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->ev.cleanup = cleanup;
  return 0;
}

/* Whether Redis answered last (for /readyz): one store per process. */
static int redis_up;

int loop_redis_up(void *ud) {
  (void)ud;
  return redis_up;
}

/* One line per state change, never per command. */
static void on_event(void *ud, jobs_redis_event ev, const char *detail) {
  (void)ud;
  if (ev == JOBS_REDIS_CONNECTED || ev == JOBS_REDIS_RECONNECTED)
    redis_up = 1;
  else if (ev == JOBS_REDIS_UNREACHABLE || ev == JOBS_REDIS_LOST)
    redis_up = 0;
  switch (ev) {
  case JOBS_REDIS_CONNECTED:
    log_info("redis: connected (%s)", detail);
    break;
  case JOBS_REDIS_UNREACHABLE:
    log_warn("redis: cannot connect (%s); job status unavailable, retrying", detail);
    break;
  case JOBS_REDIS_LOST:
    log_warn("redis: connection lost (%s); retrying", detail);
    break;
  case JOBS_REDIS_RECONNECTED:
    log_info("redis: reconnected (%s)", detail);
    break;
  case JOBS_REDIS_OVERFLOW:
    log_warn("redis: write buffer full (%s)", detail);
    break;
  case JOBS_REDIS_WRITE_FAILED:
    log_warn("redis: a job status write failed: %s", detail);
    break;
  case JOBS_REDIS_REWRITE:
    log_warn("redis: %s", detail);
    break;
  }
}

/* The store's timers (connect, reply watchdog, reconnect backoff), as in
 * loop_timer.c but unreferenced: a reconnect pending when the server stops
 * must not hold up uv_run. Each timer is freed in its close callback. */
struct timer {
  uv_timer_t h;
  timer_cb cb;
  void *arg;
};

static void on_timer_closed(uv_handle_t *h) { free(h->data); }

static void on_timer_fire(uv_timer_t *h) {
  struct timer *t = h->data;
  timer_cb cb = t->cb;
  void *arg = t->arg;
  uv_close((uv_handle_t *)h, on_timer_closed);
  cb(arg);
}

static timer *timer_start(timer_src *src, uint64_t ms, timer_cb cb, void *arg) {
  struct timer *t = ocrpc_malloc(sizeof *t);
  uv_timer_init(src->ud, &t->h);
  uv_unref((uv_handle_t *)&t->h);
  t->h.data = t;
  t->cb = cb;
  t->arg = arg;
  uv_timer_start(&t->h, on_timer_fire, ms, 0);
  return t;
}

static void timer_stop(timer_src *src, timer *t) {
  (void)src;
  if (!t)
    return;
  uv_timer_stop(&t->h);
  uv_close((uv_handle_t *)&t->h, on_timer_closed);
}

static uint64_t timer_now(timer_src *src) { return uv_now(src->ud); }

void loop_redis_env_init(struct jobs_redis_env *env, uv_loop_t *loop) {
  *env = (jobs_redis_env){0};
  env->attach = loop_redis_attach;
  env->loop = loop;
  env->timers.start = timer_start;
  env->timers.stop = timer_stop;
  env->timers.now_ms = timer_now;
  env->timers.ud = loop;
  env->on_event = on_event;
}

int loop_redis_jobs_new(const config *cfg, uv_loop_t *loop, struct jobs_store **out) {
  jobs_redis_env env;
  char err[512];
  loop_redis_env_init(&env, loop);
  env.lease_ms = (uint64_t)cfg->job_lease_seconds * 1000;
  int rc = jobs_redis_new(cfg->redis_url, cfg->job_ttl_seconds * 1000, &env, out, err,
                          sizeof err);
  if (rc == ERR_CONFIG)
    log_error("%s", err);
  else if (rc)
    log_error("cannot create the Redis job store: %s", err_text(rc));
  return rc;
}
