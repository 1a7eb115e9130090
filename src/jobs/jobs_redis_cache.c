/* SPDX-License-Identifier: MIT */
/* The Redis job store's result cache: ocrpc:cache:KEY strings with their
 * own TTL, read with GET and written with SET PX outside the write queue.
 * Loop thread. */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "jobs_redis_store.h"

#define CACHE_PREFIX "ocrpc:cache:"

/* A pending cache read, owned like a batch read: by hiredis until its reply. */
typedef struct cache_req {
  redis_store *s;
  jobs_cache_cb cb; /* NULL once cancelled */
  void *arg;
} cache_req;

static char *cache_key_of(const char *key) {
  size_t n = strlen(CACHE_PREFIX) + strlen(key) + 1;
  char *k = malloc(n);
  if (k)
    snprintf(k, n, "%s%s", CACHE_PREFIX, key);
  return k;
}

static void on_cache_reply(redisAsyncContext *ac, void *r, void *priv) {
  cache_req *req = priv;
  redisReply *reply = r;
  redis_store *s = req->s;
  if (reply && ac == s->ac)
    jobs__redis_got_reply(s);
  if (req->cb) {
    if (reply && reply->type == REDIS_REPLY_STRING)
      req->cb(req->arg, 0, (const uint8_t *)reply->str, reply->len);
    else if (reply && reply->type == REDIS_REPLY_NIL)
      req->cb(req->arg, ERR_NOT_FOUND, NULL, 0);
    else /* connection gone, or an error reply (a key of another type) */
      req->cb(req->arg, ERR_UNAVAILABLE, NULL, 0);
  }
  free(req);
}

void *jobs__redis_cache_get(jobs_store *js, const char *key, jobs_cache_cb cb, void *arg) {
  redis_store *s = (redis_store *)js;
  if (!jobs__redis_ready(s)) {
    /* A cache that makes a call wait for a reconnect costs more than the
     * recognition it might save. */
    cb(arg, ERR_UNAVAILABLE, NULL, 0);
    return NULL;
  }
  cache_req *req = malloc(sizeof *req);
  char *k = cache_key_of(key);
  if (!req || !k) {
    free(req);
    free(k);
    cb(arg, ERR_UNAVAILABLE, NULL, 0);
    return NULL;
  }
  req->s = s;
  req->cb = cb;
  req->arg = arg;
  const char *argv[] = {"GET", k};
  size_t argl[] = {3, strlen(k)};
  redisAsyncCommandArgv(s->ac, on_cache_reply, req, 2, argv, argl);
  jobs__redis_expect_reply(s);
  free(k);
  return req;
}

void jobs__redis_cache_cancel(jobs_store *js, void *r) {
  (void)js;
  cache_req *req = r;
  req->cb = NULL; /* freed when the reply (or the connection's end) comes */
}

static void on_cache_put_reply(redisAsyncContext *ac, void *r, void *priv) {
  redis_store *s = priv;
  if (r && ac == s->ac)
    jobs__redis_got_reply(s);
}

/* Sent at once, outside the write queue: a cache entry is not worth
 * replaying after an outage, and megabytes of results must not push
 * batch status out of the bounded buffer. Dropped while Redis is down. */
void jobs__redis_cache_put(jobs_store *js, const char *key, const uint8_t *data, size_t len,
                           uint64_t ttl_ms) {
  redis_store *s = (redis_store *)js;
  if (!jobs__redis_ready(s))
    return;
  char *k = cache_key_of(key);
  if (!k)
    return;
  char px[24];
  snprintf(px, sizeof px, "%" PRIu64, ttl_ms ? ttl_ms : 1);
  const char *argv[] = {"SET", k, (const char *)data, "PX", px};
  size_t argl[] = {3, strlen(k), len, 2, strlen(px)};
  redisAsyncCommandArgv(s->ac, on_cache_put_reply, s, 5, argv, argl);
  jobs__redis_expect_reply(s);
  free(k);
}
