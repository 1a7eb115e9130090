/* SPDX-License-Identifier: MIT */
/* The Redis job store: one hiredis async connection driven by the loop
 * (attached through env->attach), writes queued as MULTI/EXEC
 * transactions and kept until Redis acknowledges them, so that a Redis
 * restart loses no final state, and reads answered from Redis. hiredis
 * has no reconnect and no timeouts: this file adds a connect timer, a
 * reply watchdog and a reconnect backoff. Loop thread only. */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "base/ocrpc_assert.h"
#include "base/timer.h"
#include "jobs.h"
#include "jobs_redis_internal.h"

#define KEY_PREFIX "ocrpc:batch:"
#define RESULTS_SUFFIX ":results"
#define CACHE_PREFIX "ocrpc:cache:"
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

/* A pending read. Owned by hiredis' callback list until its reply (or the
 * NULL of a dying connection) arrives; cancel only clears cb. */
typedef struct get_req {
  redis_store *s;
  jobs_get_cb cb; /* NULL once cancelled */
  void *arg;
  char id[];
} get_req;

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

static void connect_now(redis_store *s);
static void conn_gone(redis_store *s, const char *why);
static void renew_leases(redis_store *s, const char *only_id);

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(redis_store *s, jobs_redis_event ev, const char *detail) {
  if (s->env.on_event)
    s->env.on_event(s->env.ud, ev, detail);
}

static const char *where(redis_store *s, char *tmp, size_t n) {
  if (s->url.sentinel && s->state == S_DISCOVER)
    snprintf(tmp, n, "sentinel %.150s:%d (master %.100s)",
             s->url.sentinels[s->sentinel_i].host, s->url.sentinels[s->sentinel_i].port,
             s->url.master_name);
  else if (s->url.sentinel)
    snprintf(tmp, n, "%.150s:%d (master %.100s)", s->url.host, s->url.port,
             s->url.master_name);
  else if (s->url.is_unix)
    snprintf(tmp, n, "unix:%s", s->url.path);
  else
    snprintf(tmp, n, "%s:%d", s->url.host, s->url.port);
  return tmp;
}

/* ---- RESP formatting ---------------------------------------------------- */

typedef struct builder {
  buf b;
  int n;
  size_t lens[MAX_CMDS];
  int nomem;
} builder;

static void add_cmd(builder *bd, int argc, const char *const *argv, const size_t *argl) {
  char hdr[32];
  size_t start = bd->b.len;
  if (bd->nomem || bd->n == MAX_CMDS) {
    bd->nomem = 1;
    return;
  }
  int n = snprintf(hdr, sizeof hdr, "*%d\r\n", argc);
  buf_append(&bd->b, hdr, (size_t)n);
  for (int i = 0; i < argc; i++) {
    size_t l = argl ? argl[i] : strlen(argv[i]);
    n = snprintf(hdr, sizeof hdr, "$%zu\r\n", l);
    buf_append(&bd->b, hdr, (size_t)n);
    buf_append(&bd->b, argv[i], l);
    buf_append(&bd->b, "\r\n", 2);
  }
  bd->lens[bd->n++] = bd->b.len - start;
}

static void add1(builder *bd, const char *a) { add_cmd(bd, 1, &a, NULL); }

/* "ocrpc:batch:ID" or with ":results" (heap; caller frees). */
static char *key_of(const char *id, int results) {
  size_t n = strlen(KEY_PREFIX) + strlen(id) + strlen(RESULTS_SUFFIX) + 1;
  char *k = ocrpc_malloc(n);
  snprintf(k, n, "%s%s%s", KEY_PREFIX, id, results ? RESULTS_SUFFIX : "");
  return k;
}

/* ---- the connection ------------------------------------------------------ */

static int ready(const redis_store *s) {
  return s->state == S_READY && s->ac &&
         !(s->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING));
}

static void stop_timer(redis_store *s, timer **t) {
  if (*t) {
    s->env.timers.stop(&s->env.timers, *t);
    *t = NULL;
  }
}

static uint64_t now_ms(redis_store *s) { return s->env.timers.now_ms(&s->env.timers); }

static void on_watchdog(void *arg) {
  redis_store *s = arg;
  s->watchdog = NULL;
  if (s->state != S_READY || s->outstanding == 0)
    return;
  uint64_t idle = now_ms(s) - s->last_progress_ms;
  uint64_t limit = s->env.command_timeout_ms;
  if (idle >= limit) {
    char why[96];
    snprintf(why, sizeof why, "no reply from Redis within %" PRIu64 " ms", limit);
    redisAsyncContext *ac = s->ac;
    s->ac = NULL;
    conn_gone(s, why);
    redisAsyncFree(ac);
    return;
  }
  s->watchdog = s->env.timers.start(&s->env.timers, limit - idle, on_watchdog, s);
}

/* A command that expects a reply went out on the ready connection. */
static void expect_reply(redis_store *s) {
  if (s->outstanding++ == 0)
    s->last_progress_ms = now_ms(s);
  if (!s->watchdog)
    s->watchdog =
        s->env.timers.start(&s->env.timers, s->env.command_timeout_ms, on_watchdog, s);
}

/* A reply arrived on the ready connection. */
static void got_reply(redis_store *s) {
  if (s->outstanding)
    s->outstanding--;
  s->last_progress_ms = now_ms(s);
}

static void on_retry(void *arg) {
  redis_store *s = arg;
  s->retry_timer = NULL;
  connect_now(s);
}

static void schedule_retry(redis_store *s) {
  if (s->freeing || s->retry_timer)
    return;
  uint64_t delay = s->backoff_ms;
  s->backoff_ms =
      s->backoff_ms * 2 > s->env.backoff_max_ms ? s->env.backoff_max_ms : s->backoff_ms * 2;
  s->retry_timer = s->env.timers.start(&s->env.timers, delay, on_retry, s);
}

/* The connection is gone (s->ac already cleared): every queued write is
 * unsent again, and the next attempt is scheduled. */
static void conn_gone(redis_store *s, const char *why) {
  int was_ready = s->state == S_READY;
  if (s->url.sentinel && s->state == S_DISCOVER)
    s->sentinel_i = (s->sentinel_i + 1) % s->url.nsentinels;
  s->state = S_DOWN;
  stop_timer(s, &s->connect_timer);
  stop_timer(s, &s->watchdog);
  for (wcmd *w = s->head; w; w = w->next)
    w->sent = 0;
  s->acks_to_skip = 0;
  s->outstanding = 0;
  if (!s->freeing && !s->down_reported) {
    char tmp[300], detail[512];
    s->down_reported = 1;
    if (was_ready) {
      snprintf(detail, sizeof detail, "%s: %s; %zu writes buffered",
               where(s, tmp, sizeof tmp), why, s->pending);
      report(s, JOBS_REDIS_LOST, detail);
    } else {
      snprintf(detail, sizeof detail, "%s: %s", where(s, tmp, sizeof tmp), why);
      report(s, JOBS_REDIS_UNREACHABLE, detail);
    }
  }
  schedule_retry(s);
}

static void send_write(redis_store *s, wcmd *w);

static void rewrite_journals(redis_store *s, const char *why);

static void become_ready(redis_store *s) {
  char tmp[300], detail[400];
  char master[300];
  snprintf(master, sizeof master, "%s:%d", s->url.host, s->url.port);
  if (s->master[0] && strcmp(s->master, master) != 0)
    rewrite_journals(s, "the master changed");
  else if (s->run_id[0] && strcmp(s->run_id, s->new_run_id) != 0)
    rewrite_journals(s, "Redis restarted (run_id changed)");
  snprintf(s->run_id, sizeof s->run_id, "%s", s->new_run_id);
  snprintf(s->master, sizeof s->master, "%s", master);
  stop_timer(s, &s->connect_timer);
  s->state = S_READY;
  s->backoff_ms = s->env.backoff_min_ms;
  s->stats.connects++;
  s->overflow_reported = 0;
  snprintf(detail, sizeof detail, "%s, db %d; %zu buffered writes to replay",
           where(s, tmp, sizeof tmp), s->url.db, s->pending);
  report(s, s->stats.connects == 1 ? JOBS_REDIS_CONNECTED : JOBS_REDIS_RECONNECTED, detail);
  s->down_reported = 0;
  for (wcmd *w = s->head; w && ready(s); w = w->next)
    send_write(s, w);
  /* Leases may have run out during the outage: renew them behind the
   * replayed writes, which recreate any hash Redis lost. */
  renew_leases(s, NULL);
}

static void on_handshake(redisAsyncContext *ac, void *r, void *priv) {
  redis_store *s = priv;
  redisReply *reply = r;
  if (!reply || ac != s->ac || s->state != S_HANDSHAKE)
    return; /* the connection is going away; its disconnect is handled */
  if (reply->type == REDIS_REPLY_ERROR) {
    char why[256];
    snprintf(why, sizeof why, "handshake refused: %s", reply->str);
    s->ac = NULL;
    conn_gone(s, why);
    redisAsyncFree(ac); /* inside a callback: hiredis frees it on return */
    return;
  }
  if (--s->hs_left == 0)
    become_ready(s);
}

/* Replaces the connection by nothing and schedules the next attempt; for
 * use inside a reply callback of ac (hiredis frees it on return). */
static void drop_conn(redis_store *s, redisAsyncContext *ac, const char *why) {
  s->ac = NULL;
  conn_gone(s, why);
  redisAsyncFree(ac);
}

/* Sentinel mode: a replica (an old master that came back demoted) takes
 * no writes; ask the sentinels again. */
static void on_role(redisAsyncContext *ac, void *r, void *priv) {
  redis_store *s = priv;
  redisReply *reply = r;
  if (!reply || ac != s->ac || s->state != S_HANDSHAKE)
    return;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
      reply->element[0]->type != REDIS_REPLY_STRING ||
      strcmp(reply->element[0]->str, "master") != 0) {
    drop_conn(s, ac, "not a master (ROLE): asking the sentinels again");
    return;
  }
  on_handshake(ac, r, priv);
}

/* INFO server: the run_id, which changes at every restart of Redis. */
static void on_info(redisAsyncContext *ac, void *r, void *priv) {
  redis_store *s = priv;
  redisReply *reply = r;
  if (!reply || ac != s->ac || s->state != S_HANDSHAKE)
    return;
  s->new_run_id[0] = 0;
  if (reply->type == REDIS_REPLY_STRING) { /* RESP2: INFO is a bulk string */
    const char *p = strstr(reply->str, "run_id:");
    if (p) {
      p += 7;
      size_t n = strcspn(p, "\r\n");
      if (n >= sizeof s->new_run_id)
        n = sizeof s->new_run_id - 1;
      memcpy(s->new_run_id, p, n);
      s->new_run_id[n] = 0;
    }
  }
  on_handshake(ac, r, priv);
}

static void connect_to(redis_store *s, const char *host, int port, int state);

/* The sentinel's answer: [ip, port] of the master, or nil. */
static void on_sentinel_reply(redisAsyncContext *ac, void *r, void *priv) {
  redis_store *s = priv;
  redisReply *reply = r;
  if (!reply || ac != s->ac || s->state != S_DISCOVER)
    return;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
      reply->element[0]->type != REDIS_REPLY_STRING ||
      reply->element[1]->type != REDIS_REPLY_STRING ||
      reply->element[0]->len >= sizeof s->url.host) {
    drop_conn(s, ac, "the sentinel knows no such master");
    return;
  }
  memcpy(s->url.host, reply->element[0]->str, reply->element[0]->len + 1);
  s->url.port = atoi(reply->element[1]->str);
  s->ac = NULL;
  redisAsyncFree(ac); /* freed on return; its disconnect is ignored */
  stop_timer(s, &s->connect_timer);
  connect_to(s, s->url.host, s->url.port, S_CONNECTING);
}

static void on_connect(const redisAsyncContext *cac, int status) {
  redis_store *s = cac->data;
  if (cac != s->ac)
    return;
  if (status != REDIS_OK) {
    s->ac = NULL; /* hiredis frees the context after this returns */
    conn_gone(s, cac->errstr[0] ? cac->errstr : "connect failed");
    return;
  }
  redisAsyncContext *ac = s->ac;
  if (s->state == S_DISCOVER) {
    redisAsyncCommand(ac, on_sentinel_reply, s, "SENTINEL get-master-addr-by-name %s",
                      s->url.master_name);
    return;
  }
  s->state = S_HANDSHAKE;
  s->hs_left = 0;
  if (s->url.has_password) {
    if (s->url.user[0])
      redisAsyncCommand(ac, on_handshake, s, "AUTH %s %s", s->url.user, s->url.password);
    else
      redisAsyncCommand(ac, on_handshake, s, "AUTH %s", s->url.password);
    s->hs_left++;
  }
  if (s->url.db) {
    redisAsyncCommand(ac, on_handshake, s, "SELECT %d", s->url.db);
    s->hs_left++;
  }
  if (s->url.sentinel) {
    redisAsyncCommand(ac, on_role, s, "ROLE");
    s->hs_left++;
  }
  redisAsyncCommand(ac, on_info, s, "INFO server");
  s->hs_left++;
  /* PING proves the server speaks Redis and answers before any write is
   * trusted to this connection. */
  redisAsyncCommand(ac, on_handshake, s, "PING");
  s->hs_left++;
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  (void)status;
  redis_store *s = ac->data;
  if (ac != s->ac)
    return; /* freed by this store, which already handled it */
  s->ac = NULL;
  conn_gone(s, ac->errstr && ac->errstr[0] ? ac->errstr : "connection closed");
}

static void on_connect_timeout(void *arg) {
  redis_store *s = arg;
  s->connect_timer = NULL;
  char why[96];
  snprintf(why, sizeof why, "no connection within %" PRIu64 " ms",
           s->env.connect_timeout_ms);
  redisAsyncContext *ac = s->ac;
  s->ac = NULL;
  conn_gone(s, why);
  if (ac)
    redisAsyncFree(ac);
}

/* Sentinel mode asks a sentinel for the master first, every time: after a
 * failover the old address is the wrong one. */
static void connect_now(redis_store *s) {
  s->stats.attempts++;
  if (s->url.sentinel)
    connect_to(s, s->url.sentinels[s->sentinel_i].host,
               s->url.sentinels[s->sentinel_i].port, S_DISCOVER);
  else
    connect_to(s, s->url.host, s->url.port, S_CONNECTING);
}

static void connect_to(redis_store *s, const char *host, int port, int state) {
  redisAsyncContext *ac =
      s->url.is_unix ? redisAsyncConnectUnix(s->url.path) : redisAsyncConnect(host, port);
  if (!ac) {
    conn_gone(s, "out of memory");
    return;
  }
  if (ac->err) {
    /* Failed before anything was attached (refused at once, unknown
     * host): freeing is safe and no callback runs. */
    char why[256];
    snprintf(why, sizeof why, "%s", ac->errstr);
    redisAsyncFree(ac);
    conn_gone(s, why);
    return;
  }
  ac->data = s;
  if (s->env.attach(s->env.loop, ac)) {
    redisAsyncFree(ac);
    conn_gone(s, "cannot attach the connection to the event loop");
    return;
  }
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  s->ac = ac;
  s->state = state;
  s->connect_timer =
      s->env.timers.start(&s->env.timers, s->env.connect_timeout_ms, on_connect_timeout, s);
}

/* ---- journals -------------------------------------------------------------- */

static journal *journal_find(redis_store *s, const char *id) {
  for (journal *j = s->journals; j; j = j->next)
    if (strcmp(j->id, id) == 0)
      return j;
  return NULL;
}

static void journal_clear(redis_store *s, journal *j) {
  while (j->head) {
    wcmd *w = j->head;
    j->head = w->next;
    free(w);
  }
  j->tail = NULL;
  s->journal_bytes -= j->bytes;
  j->bytes = 0;
}

/* An acknowledged write: kept in its batch's journal, or freed. */
static void journal_take(redis_store *s, wcmd *w) {
  journal *j = w->j;
  if (!j) {
    free(w);
    return;
  }
  j->queued--;
  w->next = NULL;
  w->sent = 0;
  if (j->tail)
    j->tail->next = w;
  else
    j->head = w;
  j->tail = w;
  j->bytes += w->size;
  s->journal_bytes += w->size;
}

/* Forgets finished batches past the window, then the oldest finished ones
 * while over the byte bound. Running batches, and batches with writes
 * still queued, are always kept. */
static void journal_prune(redis_store *s) {
  int64_t now = wall_ms();
  for (;;) {
    journal **victim = NULL;
    for (journal **p = &s->journals; *p; p = &(*p)->next) {
      journal *j = *p;
      if (!j->finished_ms || j->queued)
        continue;
      if (now - j->finished_ms > (int64_t)s->env.journal_window_ms) {
        victim = p;
        break;
      }
      if (s->journal_bytes > s->env.journal_max_bytes)
        victim = p; /* the last such one is the oldest */
    }
    if (!victim)
      return;
    journal *j = *victim;
    *victim = j->next;
    journal_clear(s, j);
    free(j);
  }
}

/* Queues a copy of every acknowledged write of every batch in the
 * journals ahead of the writes not yet acknowledged (which are newer), so
 * that a Redis that lost them gets each batch's current state back. */
static void rewrite_journals(redis_store *s, const char *why) {
  wcmd *head = NULL, *tail = NULL;
  size_t n = 0, batches = 0;
  for (journal *j = s->journals; j; j = j->next) {
    batches += j->head != NULL;
    for (wcmd *w = j->head; w; w = w->next) {
      wcmd *c = ocrpc_memdup(w, sizeof *c + w->size);
      c->next = NULL;
      c->j = NULL;
      c->sent = 0;
      if (tail)
        tail->next = c;
      else
        head = c;
      tail = c;
      n++;
    }
  }
  if (!n)
    return;
  tail->next = s->head;
  s->head = head;
  if (!s->tail)
    s->tail = tail;
  s->pending += n;
  s->stats.rewrites++;
  char detail[256];
  snprintf(detail, sizeof detail, "%s: writing %zu batches again (%zu writes)", why,
           batches, n);
  report(s, JOBS_REDIS_REWRITE, detail);
}

/* ---- writes -------------------------------------------------------------- */

static void on_write_reply(redisAsyncContext *ac, void *r, void *priv) {
  redis_store *s = priv;
  redisReply *reply = r;
  if (!reply || ac != s->ac)
    return; /* connection lost: the write stays queued and is sent again */
  got_reply(s);
  if (s->url.sentinel && reply->type == REDIS_REPLY_ERROR &&
      (strncmp(reply->str, "READONLY", 8) == 0 ||
       strncmp(reply->str, "EXECABORT", 9) == 0)) {
    /* A master demoted under us: the write stays queued for the new one. */
    drop_conn(s, ac, "the master became a replica");
    return;
  }
  if (s->acks_to_skip) {
    s->acks_to_skip--;
  } else if (s->head && s->head->sent) {
    wcmd *w = s->head;
    s->head = w->next;
    if (!s->head)
      s->tail = NULL;
    s->pending--;
    journal_take(s, w);
  }
  int failed = reply->type != REDIS_REPLY_ARRAY;
  for (size_t i = 0; !failed && i < reply->elements; i++)
    failed = reply->element[i]->type == REDIS_REPLY_ERROR;
  if (failed) {
    s->stats.failed++;
    if (!s->failed_reported) {
      s->failed_reported = 1;
      report(s, JOBS_REDIS_WRITE_FAILED,
             reply->type == REDIS_REPLY_ERROR ? reply->str : "a command in EXEC failed");
    }
  }
}

static void send_write(redis_store *s, wcmd *w) {
  size_t off = 0;
  for (int i = 0; i < w->ncmds; i++) {
    redisAsyncFormattedCommand(s->ac, i == w->ncmds - 1 ? on_write_reply : NULL, s,
                               w->data + off, w->lens[i]);
    off += w->lens[i];
  }
  w->sent = 1;
  expect_reply(s);
}

/* Queues the transaction in bd (MULTI already first, EXEC added here) and
 * sends it when connected. */
static int enqueue(redis_store *s, builder *bd, journal *j) {
  add1(bd, "EXEC");
  if (bd->nomem) { /* more commands than a transaction holds: a bug */
    buf_free(&bd->b);
    return ERR_INVAL;
  }
  wcmd *w = ocrpc_malloc(sizeof *w + bd->b.len);
  w->next = NULL;
  w->j = j;
  if (j)
    j->queued++;
  w->sent = 0;
  w->ncmds = bd->n;
  memcpy(w->lens, bd->lens, sizeof w->lens);
  w->size = bd->b.len;
  memcpy(w->data, bd->b.data, bd->b.len);
  buf_free(&bd->b);
  if (s->pending >= s->env.max_pending) {
    wcmd *old = s->head;
    /* The bounded write queue: its count is its length, never past the
     * bound, and a dropped journal write was counted in its journal. */
    OCRPC_ASSERT(old != NULL && s->pending > 0);
    OCRPC_ASSERT(!old->j || old->j->queued > 0);
    s->head = old->next;
    if (!s->head)
      s->tail = NULL;
    s->pending--;
    if (old->sent)
      s->acks_to_skip++;
    if (old->j)
      old->j->queued--;
    free(old);
    s->stats.dropped++;
    if (!s->overflow_reported) {
      char detail[96];
      s->overflow_reported = 1;
      snprintf(detail, sizeof detail, "%zu writes buffered; dropping the oldest",
               s->env.max_pending);
      report(s, JOBS_REDIS_OVERFLOW, detail);
    }
  }
  if (s->tail)
    s->tail->next = w;
  else
    s->head = w;
  s->tail = w;
  s->pending++;
  OCRPC_ASSERT(s->pending <= s->env.max_pending || s->env.max_pending == 0);
  if (ready(s))
    send_write(s, w);
  return 0;
}

static active *find_active(redis_store *s, const char *id, active ***link) {
  active **p = &s->active;
  while (*p && strcmp((*p)->id, id) != 0)
    p = &(*p)->next;
  if (link)
    *link = p;
  return *p;
}

static void drop_active(redis_store *s, const char *id) {
  active **p;
  active *a = find_active(s, id, &p);
  if (a) {
    *p = a->next;
    free(a);
  }
}

/* Appends "HSET key status S ... updated_at now" with total and
 * created_at when this store created the batch. */
static void add_hset(redis_store *s, builder *bd, const char *key, const char *id,
                     jobs_state st, int32_t processed, int32_t failed, int64_t now) {
  char p[16], f[16], u[24], t[16], c[24];
  const char *argv[14] = {"HSET", key,      "status", jobs_state_name(st), "processed",
                          p,      "failed", f,        "updated_at",        u};
  int argc = 10;
  snprintf(p, sizeof p, "%" PRId32, processed);
  snprintf(f, sizeof f, "%" PRId32, failed);
  snprintf(u, sizeof u, "%" PRId64, now);
  active *a = find_active(s, id, NULL);
  if (a) {
    snprintf(t, sizeof t, "%" PRId32, a->total);
    snprintf(c, sizeof c, "%" PRId64, a->created_ms);
    argv[argc++] = "total";
    argv[argc++] = t;
    argv[argc++] = "created_at";
    argv[argc++] = c;
  }
  add_cmd(bd, argc, argv, NULL);
}

static void add_expire(redis_store *s, builder *bd, const char *key) {
  char ttl[24];
  snprintf(ttl, sizeof ttl, "%" PRIu64, s->ttl_ms);
  const char *argv[] = {"PEXPIRE", key, ttl};
  add_cmd(bd, 3, argv, NULL);
}

static int redis_create(jobs_store *js, const char *id, int32_t total) {
  redis_store *s = (redis_store *)js;
  int64_t now = wall_ms();
  active *a = find_active(s, id, NULL);
  if (!a) {
    a = ocrpc_malloc(sizeof *a + strlen(id) + 1);
    strcpy(a->id, id);
    a->next = s->active;
    s->active = a;
  }
  a->total = total;
  a->created_ms = now;
  journal *j = journal_find(s, id);
  if (!j) {
    j = ocrpc_calloc(1, sizeof *j + strlen(id) + 1);
    strcpy(j->id, id);
    j->next = s->journals;
    s->journals = j;
  }
  journal_clear(s, j); /* a reused id starts afresh */
  j->finished_ms = 0;
  char *k = key_of(id, 0), *rk = key_of(id, 1);
  builder bd = {BUF_INIT, 0, {0}, 0};
  add1(&bd, "MULTI");
  /* A client reusing its batch id starts afresh, as in-process. */
  const char *del[] = {"DEL", k, rk};
  add_cmd(&bd, 3, del, NULL);
  add_hset(s, &bd, k, id, JOBS_IN_PROGRESS, 0, 0, now);
  add_expire(s, &bd, k);
  add_expire(s, &bd, rk);
  free(k);
  free(rk);
  int rc = enqueue(s, &bd, j);
  if (rc == 0)
    renew_leases(s, id);
  return rc;
}

static int redis_put_result(jobs_store *js, const char *id, const jobs_result *r,
                            int32_t processed, int32_t failed) {
  redis_store *s = (redis_store *)js;
  char *k = key_of(id, 0), *rk = key_of(id, 1);
  builder bd = {BUF_INIT, 0, {0}, 0};
  buf json = BUF_INIT;
  char idx[16];
  snprintf(idx, sizeof idx, "%" PRId32, r->index);
  if (jobs__result_json(&json, r))
    bd.nomem = 1;
  add1(&bd, "MULTI");
  add_hset(s, &bd, k, id, JOBS_IN_PROGRESS, processed, failed, wall_ms());
  const char *hset[] = {"HSET", rk, idx, (const char *)json.data};
  size_t hlen[] = {4, rk ? strlen(rk) : 0, strlen(idx), json.len};
  if (!bd.nomem)
    add_cmd(&bd, 4, hset, hlen);
  add_expire(s, &bd, k);
  add_expire(s, &bd, rk);
  buf_free(&json);
  free(k);
  free(rk);
  return enqueue(s, &bd, journal_find(s, id));
}

static int redis_finish(jobs_store *js, const char *id, jobs_state st, int32_t processed,
                        int32_t failed) {
  redis_store *s = (redis_store *)js;
  char *k = key_of(id, 0), *rk = key_of(id, 1);
  builder bd = {BUF_INIT, 0, {0}, 0};
  add1(&bd, "MULTI");
  add_hset(s, &bd, k, id, st, processed, failed, wall_ms());
  add_expire(s, &bd, k);
  add_expire(s, &bd, rk);
  free(k);
  free(rk);
  drop_active(s, id);
  journal *j = journal_find(s, id);
  if (j)
    j->finished_ms = wall_ms();
  int rc = enqueue(s, &bd, j);
  journal_prune(s);
  return rc;
}

/* ---- leases --------------------------------------------------------------- */

/* Sets lease_until on a batch hash that exists: a lease alone must never
 * create a hash without status and total (after Redis lost the batch, the
 * queued writes recreate it). */
static const char lease_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then "
    "redis.call('HSET', KEYS[1], 'lease_until', ARGV[1]) end return 0";

static void on_lease_reply(redisAsyncContext *ac, void *r, void *priv) {
  redis_store *s = priv;
  if (r && ac == s->ac)
    got_reply(s);
}

/* Renews the lease of every active batch (only_id NULL) or of one. Sent
 * at once, never queued: a lease replayed after an outage would be stale,
 * and the next renewal follows within lease_ms / 3 anyway. */
static void renew_leases(redis_store *s, const char *only_id) {
  if (!ready(s))
    return;
  char until[24];
  snprintf(until, sizeof until, "%" PRId64, wall_ms() + (int64_t)s->env.lease_ms);
  for (active *a = s->active; a && ready(s); a = a->next) {
    if (only_id && strcmp(a->id, only_id) != 0)
      continue;
    char *k = key_of(a->id, 0);
    const char *argv[] = {"EVAL", lease_script, "1", k, until};
    redisAsyncCommandArgv(s->ac, on_lease_reply, s, 5, argv, NULL);
    expect_reply(s);
    s->stats.leases++;
    free(k);
  }
}

static void on_lease_timer(void *arg) {
  redis_store *s = arg;
  uint64_t period = s->env.lease_ms / 3 ? s->env.lease_ms / 3 : 1;
  s->lease_timer = s->env.timers.start(&s->env.timers, period, on_lease_timer, s);
  renew_leases(s, NULL);
  journal_prune(s);
}

/* ---- reads --------------------------------------------------------------- */

static int64_t field_num(const redisReply *v) {
  if (v->type != REDIS_REPLY_STRING)
    return 0;
  return strtoll(v->str, NULL, 10);
}

static int cmp_index(const void *a, const void *b) {
  const jobs_result *x = a, *y = b;
  return (x->index > y->index) - (x->index < y->index);
}

/* Answers req from the EXEC reply [HGETALL batch, HGETALL results]. */
static void answer(get_req *req, const redisReply *reply) {
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
      reply->element[0]->type != REDIS_REPLY_ARRAY ||
      reply->element[1]->type != REDIS_REPLY_ARRAY) {
    req->cb(req->arg, ERR_UNAVAILABLE, NULL);
    return;
  }
  const redisReply *h = reply->element[0], *rs = reply->element[1];
  if (h->elements == 0) {
    req->cb(req->arg, ERR_NOT_FOUND, NULL);
    return;
  }
  jobs_batch b = {.id = req->id, .state = JOBS_PENDING};
  int64_t lease_until = 0;
  for (size_t i = 0; i + 1 < h->elements; i += 2) {
    const redisReply *k = h->element[i], *v = h->element[i + 1];
    if (k->type != REDIS_REPLY_STRING)
      continue;
    if (strcmp(k->str, "status") == 0 && v->type == REDIS_REPLY_STRING) {
      int st = jobs_state_parse(v->str);
      b.state = st < 0 ? JOBS_PENDING : (jobs_state)st;
    } else if (strcmp(k->str, "total") == 0) {
      b.total = (int32_t)field_num(v);
    } else if (strcmp(k->str, "processed") == 0) {
      b.processed = (int32_t)field_num(v);
    } else if (strcmp(k->str, "failed") == 0) {
      b.failed = (int32_t)field_num(v);
    } else if (strcmp(k->str, "created_at") == 0) {
      b.created_ms = field_num(v);
    } else if (strcmp(k->str, "updated_at") == 0) {
      b.updated_ms = field_num(v);
    } else if (strcmp(k->str, "lease_until") == 0) {
      lease_until = field_num(v);
    }
  }
  /* No lease (a batch of a server without leases) counts as alive. */
  if ((b.state == JOBS_PENDING || b.state == JOBS_IN_PROGRESS) && lease_until > 0 &&
      lease_until < wall_ms())
    b.state = JOBS_ABANDONED;
  jobs_result *results = NULL;
  size_t n = 0;
  if (rs->elements >= 2) {
    results = ocrpc_calloc(rs->elements / 2, sizeof *results);
    for (size_t i = 0; i + 1 < rs->elements; i += 2) {
      const redisReply *v = rs->element[i + 1];
      /* A value this version cannot read is skipped rather than failing
       * the whole status. */
      if (v->type == REDIS_REPLY_STRING &&
          jobs__result_parse(v->str, v->len, &results[n]) == 0)
        n++;
    }
    qsort(results, n, sizeof *results, cmp_index);
  }
  b.results = results;
  b.nresults = n;
  req->cb(req->arg, 0, &b);
  for (size_t i = 0; i < n; i++)
    jobs__result_clear(&results[i]);
  free(results);
}

static void on_get_reply(redisAsyncContext *ac, void *r, void *priv) {
  get_req *req = priv;
  redisReply *reply = r;
  redis_store *s = req->s;
  if (reply && ac == s->ac)
    got_reply(s);
  if (req->cb) {
    if (reply)
      answer(req, reply);
    else
      req->cb(req->arg, ERR_UNAVAILABLE, NULL);
  }
  free(req);
}

static void *redis_get(jobs_store *js, const char *id, jobs_get_cb cb, void *arg) {
  redis_store *s = (redis_store *)js;
  if (!ready(s)) {
    /* Do not wait for a reconnect: the poller retries, or asks later. */
    cb(arg, ERR_UNAVAILABLE, NULL);
    return NULL;
  }
  get_req *req = ocrpc_malloc(sizeof *req + strlen(id) + 1);
  char *k = key_of(id, 0), *rk = key_of(id, 1);
  req->s = s;
  req->cb = cb;
  req->arg = arg;
  strcpy(req->id, id);
  /* One transaction, so that the status and the results are read at the
   * same point of the write sequence. */
  redisAsyncCommand(s->ac, NULL, NULL, "MULTI");
  redisAsyncCommand(s->ac, NULL, NULL, "HGETALL %s", k);
  redisAsyncCommand(s->ac, NULL, NULL, "HGETALL %s", rk);
  redisAsyncCommand(s->ac, on_get_reply, req, "EXEC");
  expect_reply(s);
  free(k);
  free(rk);
  return req;
}

static void redis_get_cancel(jobs_store *js, void *r) {
  (void)js;
  get_req *req = r;
  req->cb = NULL; /* freed when the reply (or the connection's end) comes */
}

/* ---- the result cache ---------------------------------------------------- */

/* A pending cache read, owned like get_req: by hiredis until its reply. */
typedef struct cache_req {
  redis_store *s;
  jobs_cache_cb cb; /* NULL once cancelled */
  void *arg;
} cache_req;

static char *cache_key_of(const char *key) {
  size_t n = strlen(CACHE_PREFIX) + strlen(key) + 1;
  char *k = ocrpc_malloc(n);
  snprintf(k, n, "%s%s", CACHE_PREFIX, key);
  return k;
}

static void on_cache_reply(redisAsyncContext *ac, void *r, void *priv) {
  cache_req *req = priv;
  redisReply *reply = r;
  redis_store *s = req->s;
  if (reply && ac == s->ac)
    got_reply(s);
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

static void *redis_cache_get(jobs_store *js, const char *key, jobs_cache_cb cb, void *arg) {
  redis_store *s = (redis_store *)js;
  if (!ready(s)) {
    /* A cache that makes a call wait for a reconnect costs more than the
     * recognition it might save. */
    cb(arg, ERR_UNAVAILABLE, NULL, 0);
    return NULL;
  }
  cache_req *req = ocrpc_malloc(sizeof *req);
  char *k = cache_key_of(key);
  req->s = s;
  req->cb = cb;
  req->arg = arg;
  const char *argv[] = {"GET", k};
  size_t argl[] = {3, strlen(k)};
  redisAsyncCommandArgv(s->ac, on_cache_reply, req, 2, argv, argl);
  expect_reply(s);
  free(k);
  return req;
}

static void redis_cache_cancel(jobs_store *js, void *r) {
  (void)js;
  cache_req *req = r;
  req->cb = NULL; /* freed when the reply (or the connection's end) comes */
}

static void on_cache_put_reply(redisAsyncContext *ac, void *r, void *priv) {
  redis_store *s = priv;
  if (r && ac == s->ac)
    got_reply(s);
}

/* Sent at once, outside the write queue: a cache entry is not worth
 * replaying after an outage, and megabytes of results must not push
 * batch status out of the bounded buffer. Dropped while Redis is down. */
static void redis_cache_put(jobs_store *js, const char *key, const uint8_t *data,
                            size_t len, uint64_t ttl_ms) {
  redis_store *s = (redis_store *)js;
  if (!ready(s))
    return;
  char *k = cache_key_of(key);
  char px[24];
  snprintf(px, sizeof px, "%" PRIu64, ttl_ms ? ttl_ms : 1);
  const char *argv[] = {"SET", k, (const char *)data, "PX", px};
  size_t argl[] = {3, strlen(k), len, 2, strlen(px)};
  redisAsyncCommandArgv(s->ac, on_cache_put_reply, s, 5, argv, argl);
  expect_reply(s);
  free(k);
}

/* ---- lifetime ------------------------------------------------------------ */

static void redis_free(jobs_store *js) {
  redis_store *s = (redis_store *)js;
  s->freeing = 1;
  stop_timer(s, &s->connect_timer);
  stop_timer(s, &s->retry_timer);
  stop_timer(s, &s->watchdog);
  stop_timer(s, &s->lease_timer);
  redisAsyncContext *ac = s->ac;
  if (ac) {
    if (ready(s)) {
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
  while (s->head) {
    wcmd *w = s->head;
    s->head = w->next;
    free(w);
  }
  while (s->active) {
    active *a = s->active;
    s->active = a->next;
    free(a);
  }
  while (s->journals) {
    journal *j = s->journals;
    s->journals = j->next;
    journal_clear(s, j);
    free(j);
  }
  free(s);
}

static const jobs_ops redis_ops = {redis_create,    redis_put_result,   redis_finish,
                                   redis_get,       redis_get_cancel,   redis_free,
                                   redis_cache_get, redis_cache_cancel, redis_cache_put};

void jobs_redis_get_stats(const jobs_store *js, jobs_redis_stats *out) {
  const redis_store *s = (const redis_store *)js;
  *out = s->stats;
  out->ready = ready(s);
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
  redis_store *s = ocrpc_calloc(1, sizeof *s);
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
  connect_now(s);
  s->lease_timer = s->env.timers.start(
      &s->env.timers, s->env.lease_ms / 3 ? s->env.lease_ms / 3 : 1, on_lease_timer, s);
  *out = &s->base;
  return 0;
}
