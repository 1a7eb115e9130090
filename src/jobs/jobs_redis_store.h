/* SPDX-License-Identifier: MIT */
/* Shared by the files of the Redis job store (hiredis' split: the
 * connection, the write queue, the key layout, the result cache, and the
 * lifetime in jobs_redis.c): the store's struct and the functions one part
 * calls in another. Loop thread only, like the store. */
#ifndef OCRPC_JOBS_REDIS_STORE_H
#define OCRPC_JOBS_REDIS_STORE_H

#include <hiredis/async.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/timer.h"
#include "jobs.h"
#include "jobs_redis_internal.h"

#define MAX_CMDS 8

enum { S_DOWN, S_DISCOVER, S_CONNECTING, S_HANDSHAKE, S_READY };

/* One write: a MULTI ... EXEC transaction, formatted once as RESP and kept
 * until the EXEC reply arrives, so it can be sent again on a new
 * connection. */
typedef struct journal journal;
typedef struct wcmd wcmd;
struct wcmd {
  wcmd *next;
  journal *j; /* the batch's journal, which takes it once acknowledged */
  int sent;   /* sent on the current connection, reply not yet read */
  int ncmds;  /* commands, the last being EXEC */
  size_t lens[MAX_CMDS];
  size_t size;
  char data[]; /* the commands back to back */
};

/* A batch created by this store and not finished yet: later writes repeat
 * its total and creation time, so that they rebuild the whole hash if
 * Redis lost it (restart without persistence) or a full buffer dropped
 * the create. */
typedef struct active active;
struct active {
  active *next;
  int32_t total;
  int64_t created_ms;
  char id[];
};

/* The acknowledged writes of one batch, in order: replaying them rebuilds
 * the batch's hashes exactly (the first is the create, which deletes). */
struct journal {
  journal *next;
  int64_t finished_ms; /* 0 while running */
  int queued;          /* its writes still in the queue (which point here) */
  wcmd *head, *tail;
  size_t bytes;
  char id[];
};

typedef struct redis_store redis_store;

struct redis_store {
  jobs_store base;
  jobs_redis_env env;
  jobs__redis_url url;
  uint64_t ttl_ms;

  redisAsyncContext *ac; /* NULL while down */
  int state;
  int hs_left; /* handshake replies still expected */
  timer *connect_timer, *retry_timer, *watchdog, *lease_timer;
  uint64_t backoff_ms;
  int down_reported;     /* UNREACHABLE or LOST reported since the last ready */
  int overflow_reported; /* since the last ready */
  int failed_reported;   /* on this connection */
  int freeing;

  /* Replies expected on the ready connection (EXEC of writes and reads)
   * and when the last one arrived, for the watchdog. */
  uint64_t outstanding;
  uint64_t last_progress_ms;
  /* Sent writes dropped from the queue by overflow whose EXEC replies are
   * still to come: those replies must not pop the queue. */
  uint64_t acks_to_skip;

  wcmd *head, *tail;
  size_t pending;
  active *active;
  jobs_redis_stats stats;

  journal *journals; /* newest first */
  size_t journal_bytes;
  /* Who answered last: a different run_id (Redis restarted) or master
   * (failover) may have lost acknowledged writes. */
  char run_id[48], new_run_id[48];
  char master[300];
  int sentinel_i; /* the sentinel to ask next */
};

/* RESP commands being formatted into one transaction. */
typedef struct builder {
  buf b;
  int n;
  size_t lens[MAX_CMDS];
  int nomem;
} builder;

/* ---- the connection (jobs_redis_conn.c) ---- */

/* 1 when the connection is ready for commands. */
int jobs__redis_ready(const redis_store *s);
/* Stops *t if running and clears it. */
void jobs__redis_stop_timer(redis_store *s, timer **t);
/* Tells the store's owner (env.on_event). */
void jobs__redis_report(redis_store *s, jobs_redis_event ev, const char *detail);
/* A command that expects a reply went out on the ready connection (arms
 * the reply watchdog). */
void jobs__redis_expect_reply(redis_store *s);
/* A reply arrived on the ready connection. */
void jobs__redis_got_reply(redis_store *s);
/* Replaces the connection by nothing and schedules the next attempt; for
 * use inside a reply callback of ac (hiredis frees it on return). */
void jobs__redis_drop_conn(redis_store *s, redisAsyncContext *ac, const char *why);
/* Starts a connection attempt (sentinel mode: asks a sentinel first). */
void jobs__redis_connect_now(redis_store *s);

/* ---- the write queue and journals (jobs_redis_queue.c) ---- */

/* Appends one command (argl NULL: strlen of each argv) to bd; sets
 * bd->nomem when out of memory or past MAX_CMDS. */
void jobs__redis_add_cmd(builder *bd, int argc, const char *const *argv,
                         const size_t *argl);
void jobs__redis_add1(builder *bd, const char *a);
/* Queues the transaction in bd (MULTI already first, EXEC added here),
 * owned by journal j when not NULL, and sends it when connected. bd's
 * buffer is freed. 0 or ERR_NOMEM. */
int jobs__redis_enqueue(redis_store *s, builder *bd, journal *j);
/* Sends a queued write on the ready connection. */
void jobs__redis_send_write(redis_store *s, wcmd *w);
/* The journal of batch id, or NULL. */
journal *jobs__redis_journal_find(redis_store *s, const char *id);
/* Frees a journal's writes (the journal stays). */
void jobs__redis_journal_clear(redis_store *s, journal *j);
/* Forgets finished batches past the window or over the byte bound. */
void jobs__redis_journal_prune(redis_store *s);
/* Queues every journaled write again ahead of the queue (Redis lost
 * them: restart, failover); why goes into the REWRITE event. */
void jobs__redis_rewrite_journals(redis_store *s, const char *why);
/* Frees the queue and every journal (store teardown). */
void jobs__redis_queue_free(redis_store *s);

/* ---- the key layout: batch writes, leases, reads (jobs_redis_keys.c) ---- */

int jobs__redis_create(jobs_store *js, const char *id, int32_t total);
int jobs__redis_put_result(jobs_store *js, const char *id, const jobs_result *r,
                           int32_t processed, int32_t failed);
int jobs__redis_finish(jobs_store *js, const char *id, jobs_state st, int32_t processed,
                       int32_t failed);
void *jobs__redis_get(jobs_store *js, const char *id, jobs_get_cb cb, void *arg);
void jobs__redis_get_cancel(jobs_store *js, void *r);
/* Renews the lease of every active batch (only_id NULL) or of one. */
void jobs__redis_renew_leases(redis_store *s, const char *only_id);
/* The lease timer's callback (arg: the store): renews and re-arms. */
void jobs__redis_on_lease_timer(void *arg);
/* Frees the list of batches this store created and has not finished. */
void jobs__redis_active_free(redis_store *s);

/* ---- the result cache (jobs_redis_cache.c) ---- */

void *jobs__redis_cache_get(jobs_store *js, const char *key, jobs_cache_cb cb, void *arg);
void jobs__redis_cache_cancel(jobs_store *js, void *r);
void jobs__redis_cache_put(jobs_store *js, const char *key, const uint8_t *data, size_t len,
                           uint64_t ttl_ms);

#endif
