/* SPDX-License-Identifier: MIT */
/* The Redis job store's connection: connect (to the master a sentinel
 * names, in sentinel mode), the handshake (AUTH, SELECT, ROLE, INFO run_id,
 * PING), and what hiredis lacks: a connect timer, a reply watchdog and a
 * reconnect backoff. A ready connection replays the queued writes, and
 * the journals when Redis restarted or the master changed. Loop thread. */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "jobs_redis_store.h"

static void conn_gone(redis_store *s, const char *why);

void jobs__redis_report(redis_store *s, jobs_redis_event ev, const char *detail) {
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

int jobs__redis_ready(const redis_store *s) {
  return s->state == S_READY && s->ac &&
         !(s->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING));
}

void jobs__redis_stop_timer(redis_store *s, timer **t) {
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
void jobs__redis_expect_reply(redis_store *s) {
  if (s->outstanding++ == 0)
    s->last_progress_ms = now_ms(s);
  if (!s->watchdog)
    s->watchdog =
        s->env.timers.start(&s->env.timers, s->env.command_timeout_ms, on_watchdog, s);
}

/* A reply arrived on the ready connection. */
void jobs__redis_got_reply(redis_store *s) {
  if (s->outstanding)
    s->outstanding--;
  s->last_progress_ms = now_ms(s);
}

static void on_retry(void *arg) {
  redis_store *s = arg;
  s->retry_timer = NULL;
  jobs__redis_connect_now(s);
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
  jobs__redis_stop_timer(s, &s->connect_timer);
  jobs__redis_stop_timer(s, &s->watchdog);
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
      jobs__redis_report(s, JOBS_REDIS_LOST, detail);
    } else {
      snprintf(detail, sizeof detail, "%s: %s", where(s, tmp, sizeof tmp), why);
      jobs__redis_report(s, JOBS_REDIS_UNREACHABLE, detail);
    }
  }
  schedule_retry(s);
}

static void become_ready(redis_store *s) {
  char tmp[300], detail[400];
  char master[300];
  snprintf(master, sizeof master, "%s:%d", s->url.host, s->url.port);
  if (s->master[0] && strcmp(s->master, master) != 0)
    jobs__redis_rewrite_journals(s, "the master changed");
  else if (s->run_id[0] && strcmp(s->run_id, s->new_run_id) != 0)
    jobs__redis_rewrite_journals(s, "Redis restarted (run_id changed)");
  snprintf(s->run_id, sizeof s->run_id, "%s", s->new_run_id);
  snprintf(s->master, sizeof s->master, "%s", master);
  jobs__redis_stop_timer(s, &s->connect_timer);
  s->state = S_READY;
  s->backoff_ms = s->env.backoff_min_ms;
  s->stats.connects++;
  s->overflow_reported = 0;
  snprintf(detail, sizeof detail, "%s, db %d; %zu buffered writes to replay",
           where(s, tmp, sizeof tmp), s->url.db, s->pending);
  jobs__redis_report(
      s, s->stats.connects == 1 ? JOBS_REDIS_CONNECTED : JOBS_REDIS_RECONNECTED, detail);
  s->down_reported = 0;
  for (wcmd *w = s->head; w && jobs__redis_ready(s); w = w->next)
    jobs__redis_send_write(s, w);
  /* Leases may have run out during the outage: renew them behind the
   * replayed writes, which recreate any hash Redis lost. */
  jobs__redis_renew_leases(s, NULL);
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
void jobs__redis_drop_conn(redis_store *s, redisAsyncContext *ac, const char *why) {
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
    jobs__redis_drop_conn(s, ac, "not a master (ROLE): asking the sentinels again");
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
    jobs__redis_drop_conn(s, ac, "the sentinel knows no such master");
    return;
  }
  memcpy(s->url.host, reply->element[0]->str, reply->element[0]->len + 1);
  s->url.port = atoi(reply->element[1]->str);
  s->ac = NULL;
  redisAsyncFree(ac); /* freed on return; its disconnect is ignored */
  jobs__redis_stop_timer(s, &s->connect_timer);
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
void jobs__redis_connect_now(redis_store *s) {
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
