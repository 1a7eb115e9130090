/* SPDX-License-Identifier: MIT */
/* The Redis job store: one hiredis async connection driven by the loop
 * (attached through env->attach), writes queued as MULTI/EXEC
 * transactions and kept until Redis acknowledges them, so that a Redis
 * restart loses no final state, and reads answered from Redis. Split as
 * hiredis splits itself: the connection and its timers
 * (jobs_redis_conn.c), the write queue and journals (jobs_redis_queue.c),
 * the key layout (jobs_redis_keys.c), the result cache
 * (jobs_redis_cache.c); this file creates and frees the store. Loop thread
 * only. */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "jobs_redis_store.h"

static void redis_free(jobs_store *js) {
  redis_store *s = (redis_store *)js;
  s->freeing = 1;
  jobs__redis_stop_timer(s, &s->connect_timer);
  jobs__redis_stop_timer(s, &s->retry_timer);
  jobs__redis_stop_timer(s, &s->watchdog);
  jobs__redis_stop_timer(s, &s->lease_timer);
  redisAsyncContext *ac = s->ac;
  if (ac) {
    if (jobs__redis_ready(s)) {
      /* Hand what is already formatted (the CANCELLED of streams closed at
       * shutdown) to the kernel without waiting for the socket. */
      int done = 0;
      for (int i = 0; i < 16 && !done; i++)
        if (redisBufferWrite(&ac->c, &done) == REDIS_ERR)
          break;
    }
    s->ac = NULL;
    s->state = S_DOWN;
    /* Pending reads get their NULL reply (ERR_UNAVAILABLE) here; the
     * adapter's poll handle closes on the loop's next turn. */
    redisAsyncFree(ac);
  }
  jobs__redis_queue_free(s);
  jobs__redis_active_free(s);
  free(s);
}

static const jobs_ops redis_ops = {
    jobs__redis_create,    jobs__redis_put_result,   jobs__redis_finish,
    jobs__redis_get,       jobs__redis_get_cancel,   redis_free,
    jobs__redis_cache_get, jobs__redis_cache_cancel, jobs__redis_cache_put};

void jobs_redis_get_stats(const jobs_store *js, jobs_redis_stats *out) {
  const redis_store *s = (const redis_store *)js;
  *out = s->stats;
  out->ready = jobs__redis_ready(s);
  out->pending = s->pending;
}

int jobs_redis_new(const char *url, uint64_t ttl_ms, const jobs_redis_env *env,
                   jobs_store **out, char *err, size_t errsize) {
  jobs__redis_url u;
  int rc = jobs__redis_url_parse(url, &u, err, errsize);
  if (rc)
    return rc;
  if (!env || !env->attach || !env->timers.start) {
    if (errsize)
      snprintf(err, errsize, "the Redis store needs an event loop and timers");
    return ERR_INVAL;
  }
  redis_store *s = calloc(1, sizeof *s);
  if (!s)
    return ERR_NOMEM;
  s->base.ops = &redis_ops;
  s->env = *env;
  if (!s->env.connect_timeout_ms)
    s->env.connect_timeout_ms = 2000;
  if (!s->env.command_timeout_ms)
    s->env.command_timeout_ms = 5000;
  if (!s->env.backoff_min_ms)
    s->env.backoff_min_ms = 100;
  if (!s->env.backoff_max_ms)
    s->env.backoff_max_ms = 5000;
  if (s->env.backoff_max_ms < s->env.backoff_min_ms)
    s->env.backoff_max_ms = s->env.backoff_min_ms;
  if (!s->env.max_pending)
    s->env.max_pending = 10000;
  if (!s->env.lease_ms)
    s->env.lease_ms = 15000;
  /* What the store keeps of each batch it wrote, to write it again when
   * Redis comes back without it (jobs.h: "Redis that lost data"). */
  if (!s->env.journal_window_ms)
    s->env.journal_window_ms = 15 * 60 * 1000;
  if (!s->env.journal_max_bytes)
    s->env.journal_max_bytes = (size_t)64 << 20;
  s->url = u;
  /* A TTL of 0 would make PEXPIRE delete the keys at once. */
  s->ttl_ms = ttl_ms ? ttl_ms : 1;
  s->backoff_ms = s->env.backoff_min_ms;
  s->state = S_DOWN;
  jobs__redis_connect_now(s);
  s->lease_timer =
      s->env.timers.start(&s->env.timers, s->env.lease_ms / 3 ? s->env.lease_ms / 3 : 1,
                          jobs__redis_on_lease_timer, s);
  *out = &s->base;
  return 0;
}
