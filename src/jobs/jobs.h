/* SPDX-License-Identifier: MIT */
/* The job status store: what a batch (or a single call with an
 * x-request-id) is doing, so that any worker can poll it. One interface,
 * two backends: in-process (this process only) and Redis (shared by every
 * server using the same Redis). Writes are fire-and-forget: a store that
 * cannot write now keeps them and retries; the gRPC stream never fails
 * because of the store. Loop thread only. */
#ifndef OCRPC_JOBS_H
#define OCRPC_JOBS_H

#include <stddef.h>
#include <stdint.h>

typedef enum jobs_state {
  JOBS_PENDING = 0,
  JOBS_IN_PROGRESS,
  JOBS_SUCCESS,
  JOBS_FAILURE,
  JOBS_CANCELLED,
  /* Read only, never written: PENDING or IN_PROGRESS in Redis, but the
   * server running it stopped renewing its lease (killed, or cut off from
   * Redis for longer than the lease), so it will never finish. */
  JOBS_ABANDONED
} jobs_state;

/* "PENDING", "IN_PROGRESS", "SUCCESS", "FAILURE", "CANCELLED",
 * "ABANDONED". */
const char *jobs_state_name(jobs_state st);
/* The inverse; -1 if unknown. */
int jobs_state_parse(const char *name);

/* One image's outcome. Strings borrowed for the call that passes them. */
typedef struct jobs_result {
  int32_t index;
  int ok;
  const char *text;       /* when ok */
  float confidence;       /* when ok */
  const char *error_code; /* when !ok: "OCR_ERROR" */
  const char *error_message;
  const char *error_details; /* "NOT_FOUND", "DECODE_ERROR", ... */
} jobs_result;

/* A batch as read back. Borrowed for the duration of the get callback. */
typedef struct jobs_batch {
  const char *id;
  jobs_state state;
  int32_t total, processed, failed;
  int64_t created_ms, updated_ms; /* Unix epoch milliseconds */
  const jobs_result *results;     /* the results stored so far */
  size_t nresults;
} jobs_batch;

/* err: 0 (b set), ERR_NOT_FOUND, or ERR_UNAVAILABLE (store unreachable). */
typedef void (*jobs_get_cb)(void *arg, int err, const jobs_batch *b);

/* A result cache read. err: 0 (data, len: the stored value, borrowed until
 * cb returns), ERR_NOT_FOUND (a miss: never stored, or expired), or
 * ERR_UNAVAILABLE (store unreachable; callers treat it as a miss). */
typedef void (*jobs_cache_cb)(void *arg, int err, const uint8_t *data, size_t len);

typedef struct jobs_store jobs_store;

typedef struct jobs_ops {
  int (*create)(jobs_store *s, const char *id, int32_t total);
  int (*put_result)(jobs_store *s, const char *id, const jobs_result *r, int32_t processed,
                    int32_t failed);
  int (*finish)(jobs_store *s, const char *id, jobs_state st, int32_t processed,
                int32_t failed);
  /* Returns a request handle for jobs_get_cancel, or NULL when cb already
   * ran (a synchronous answer) or could not be queued (cb ran with the
   * error). */
  void *(*get)(jobs_store *s, const char *id, jobs_get_cb cb, void *arg);
  void (*get_cancel)(jobs_store *s, void *req);
  void (*free)(jobs_store *s);
  /* The result cache: see jobs_cache_get and jobs_cache_put. */
  void *(*cache_get)(jobs_store *s, const char *key, jobs_cache_cb cb, void *arg);
  void (*cache_cancel)(jobs_store *s, void *req);
  void (*cache_put)(jobs_store *s, const char *key, const uint8_t *data, size_t len,
                    uint64_t ttl_ms);
} jobs_ops;

struct jobs_store {
  const jobs_ops *ops;
};

/* Records a new batch as IN_PROGRESS with `total` images. 0 or ERR_NOMEM. */
static inline int jobs_create(jobs_store *s, const char *id, int32_t total) {
  return s->ops->create(s, id, total);
}
/* Records one image's result and the batch's new counters. */
static inline int jobs_put_result(jobs_store *s, const char *id, const jobs_result *r,
                                  int32_t processed, int32_t failed) {
  return s->ops->put_result(s, id, r, processed, failed);
}
/* Records the batch's final state. */
static inline int jobs_finish(jobs_store *s, const char *id, jobs_state st,
                              int32_t processed, int32_t failed) {
  return s->ops->finish(s, id, st, processed, failed);
}
/* Reads a batch; cb runs exactly once unless jobs_get_cancel is called on
 * the returned handle first. */
static inline void *jobs_get(jobs_store *s, const char *id, jobs_get_cb cb, void *arg) {
  return s->ops->get(s, id, cb, arg);
}
static inline void jobs_get_cancel(jobs_store *s, void *req) {
  if (req)
    s->ops->get_cancel(s, req);
}
/* Reads the cached value under key (the 64 hex digits of a SHA-256; the
 * store adds its own prefix). cb runs exactly once unless
 * jobs_cache_cancel is called on the returned handle first. Returns the
 * handle, or NULL when cb already ran: the in-process store answers at
 * once, the Redis store answers ERR_UNAVAILABLE at once while Redis is
 * down. key is copied. */
static inline void *jobs_cache_get(jobs_store *s, const char *key, jobs_cache_cb cb,
                                   void *arg) {
  return s->ops->cache_get(s, key, cb, arg);
}
/* Drops a pending cache read: its cb will not run. req may be NULL. */
static inline void jobs_cache_cancel(jobs_store *s, void *req) {
  if (req)
    s->ops->cache_cancel(s, req);
}
/* Stores len bytes under key for ttl_ms (data copied). Fire-and-forget:
 * nothing reports whether it was kept; a value that cannot be stored now
 * is dropped, never retried (a cache entry is only worth something while
 * the same image may come again, and must not crowd out status writes). */
static inline void jobs_cache_put(jobs_store *s, const char *key, const uint8_t *data,
                                  size_t len, uint64_t ttl_ms) {
  s->ops->cache_put(s, key, data, len, ttl_ms);
}

/* Frees the store; NULL is a no-op. */
static inline void jobs_free(jobs_store *s) {
  if (s)
    s->ops->free(s);
}

/* The in-process store: entries expire ttl_ms after their last update
 * (checked whenever the store is touched). Its result cache holds at most
 * JOBS_MEMORY_CACHE_MAX entries, each expiring after its own ttl; when
 * full, the least recently used entry makes room. Returns 0 or
 * ERR_NOMEM. */
int jobs_memory_new(uint64_t ttl_ms, jobs_store **out);

#define JOBS_MEMORY_CACHE_MAX 10000

/* Bounds the in-process store's batches: at most max_batches of them and
 * max_bytes of what they hold (ids, results and their strings); past
 * either, the least recently updated batches are evicted, oldest first
 * (GetBatchStatus then answers NOT_FOUND for them). A batch that alone
 * passes max_bytes is kept whole. 0: no bound. Loop thread. */
void jobs_memory_set_limits(jobs_store *s, size_t max_batches, size_t max_bytes);

/* The in-process store's batches, the bytes counted against max_bytes,
 * and the batches evicted so far (tests, logs). */
void jobs_memory_usage(const jobs_store *s, size_t *batches, size_t *bytes,
                       uint64_t *evicted);

/* Same with another cache bound (tests). */
int jobs_memory_new_bounded(uint64_t ttl_ms, size_t cache_max, jobs_store **out);

/* Entries in the in-process store's result cache, expired ones included
 * until something touches them (tests). */
size_t jobs_memory_cache_count(const jobs_store *s);

/* ---- the Redis store (jobs_redis*.c) ---- */
/* Keys, each with a TTL of ttl_ms refreshed on every write:
 *   ocrpc:batch:ID          hash: status, total, processed, failed,
 *                           created_at, updated_at (Unix ms), lease_until
 *                           (Unix ms, see below)
 *   ocrpc:batch:ID:results  hash: image index -> JSON result object
 *   ocrpc:cache:HEX         string: a cached OCR result (ocr_result_pack),
 *                           SET ... PX with the TTL cache_put is given
 * Each write is one MULTI/EXEC. Writes are queued (bounded; the oldest is
 * dropped when full) and replayed in order after a reconnect. Reads go to
 * Redis; while it is unreachable they fail at once with ERR_UNAVAILABLE.
 * Cache writes are not queued: sent at once when connected, dropped while
 * Redis is down.
 * Leases: while this store has a batch created and not finished, it sets
 * the batch's lease_until to now + lease_ms every lease_ms / 3 (at once
 * after a create and after a reconnect; only on a hash that exists, never
 * queued). A read of a PENDING or IN_PROGRESS batch whose lease_until has
 * passed (on the reader's clock) answers JOBS_ABANDONED: its server died.
 * Servers sharing a Redis need clocks within a fraction of lease_ms.
 * Sentinel (redis+sentinel://): before every connection the store asks the
 * sentinels in turn for the master (SENTINEL get-master-addr-by-name) and
 * checks ROLE; a write answered READONLY (a demoted master) stays queued
 * and the store reconnects through the sentinels.
 * Redis that lost data: the store keeps the acknowledged writes of every
 * running batch and of batches finished in the last 15 minutes (64 MiB at
 * most, the oldest finished ones dropped first). When it reconnects to a
 * Redis whose run_id changed (a restart) or to another master (a
 * failover), it queues them again ahead of the unacknowledged writes and
 * reports JOBS_REDIS_REWRITE, so no batch in that window is lost. */

#include "base/timer.h"

struct redisAsyncContext;

/* Connection state changes, reported once each (not per command). */
typedef enum jobs_redis_event {
  JOBS_REDIS_CONNECTED,    /* first connection ready (after AUTH, SELECT) */
  JOBS_REDIS_UNREACHABLE,  /* cannot connect; retrying (once until connected) */
  JOBS_REDIS_LOST,         /* a ready connection went away; writes buffered */
  JOBS_REDIS_RECONNECTED,  /* ready again; buffered writes are being replayed */
  JOBS_REDIS_OVERFLOW,     /* buffer full, oldest writes dropped (once per outage) */
  JOBS_REDIS_WRITE_FAILED, /* Redis refused a write (once per connection) */
  JOBS_REDIS_REWRITE       /* Redis lost data (restart, failover): batches written again */
} jobs_redis_event;

/* What the store needs from the loop; copied by jobs_redis_new. */
typedef struct jobs_redis_env {
  /* Attaches a fresh context to the event loop (loop_redis_attach). Returns
   * 0, or nonzero when it failed (the store then frees the context). */
  int (*attach)(void *loop, struct redisAsyncContext *ac);
  void *loop;
  /* Copied into the store, whose timers are started on its copy. */
  timer_src timers;
  /* Optional. detail is borrowed for the call. Loop thread. */
  void (*on_event)(void *ud, jobs_redis_event ev, const char *detail);
  void *ud;
  /* 0 means the default: 2000, 5000, 100, 5000 ms and 10000 writes. */
  uint64_t connect_timeout_ms;             /* connect + AUTH/SELECT/PING */
  uint64_t command_timeout_ms;             /* no reply for this long: connection dead */
  uint64_t backoff_min_ms, backoff_max_ms; /* reconnect delay, doubling */
  size_t max_pending;                      /* writes buffered before dropping the oldest */
  uint64_t lease_ms;                       /* batch lease; 0 means 15000 */
  /* Journals of finished batches kept this long / all journals at most
   * this big; 0 means 15 minutes / 64 MiB. */
  uint64_t journal_window_ms;
  size_t journal_max_bytes;
} jobs_redis_env;

/* Builds a Redis store for url (redis://[:password@]host:port/db,
 * redis+sentinel://[:password@]host:port,host:port/mastername[/db] or
 * unix:///path) and starts connecting; an unreachable Redis is not an
 * error (the store keeps trying). Returns 0, ERR_CONFIG for a malformed
 * url (with a one-line reason in err, errsize bytes) or ERR_NOMEM. Loop
 * thread. */
int jobs_redis_new(const char *url, uint64_t ttl_ms, const jobs_redis_env *env,
                   jobs_store **out, char *err, size_t errsize);

typedef struct jobs_redis_stats {
  int ready;         /* connected and past AUTH/SELECT */
  size_t pending;    /* writes not yet acknowledged by Redis */
  uint64_t dropped;  /* writes dropped because the buffer was full */
  uint64_t failed;   /* writes Redis answered with an error */
  uint64_t attempts; /* connection attempts */
  uint64_t connects; /* connections that became ready */
  uint64_t leases;   /* lease renewals sent (one per batch each time) */
  uint64_t rewrites; /* times the journals were written again */
} jobs_redis_stats;

/* Counters of a store made by jobs_redis_new (not another kind). */
void jobs_redis_get_stats(const jobs_store *s, jobs_redis_stats *out);

#endif
