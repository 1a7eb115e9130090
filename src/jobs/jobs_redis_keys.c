/* SPDX-License-Identifier: MIT */
/* The Redis job store's key layout (README "Redis keys"): a batch is the
 * hash ocrpc:batch:ID (status, total, processed, failed, created_at,
 * updated_at, lease_until) and the hash ocrpc:batch:ID:results (index ->
 * result JSON), both with the store's TTL; what each jobs_ops call writes
 * there, the lease renewals, and reading a batch back. Loop thread. */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "jobs_redis_store.h"

#define KEY_PREFIX "ocrpc:batch:"
#define RESULTS_SUFFIX ":results"

/* A pending read. Owned by hiredis' callback list until its reply (or the
 * NULL of a dying connection) arrives; cancel only clears cb. */
typedef struct get_req {
  redis_store *s;
  jobs_get_cb cb; /* NULL once cancelled */
  void *arg;
  char id[];
} get_req;

/* "ocrpc:batch:ID" or with ":results"; NULL when out of memory. */
static char *key_of(const char *id, int results) {
  size_t n = strlen(KEY_PREFIX) + strlen(id) + strlen(RESULTS_SUFFIX) + 1;
  char *k = malloc(n);
  if (k)
    snprintf(k, n, "%s%s%s", KEY_PREFIX, id, results ? RESULTS_SUFFIX : "");
  return k;
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
  jobs__redis_add_cmd(bd, argc, argv, NULL);
}

static void add_expire(redis_store *s, builder *bd, const char *key) {
  char ttl[24];
  snprintf(ttl, sizeof ttl, "%" PRIu64, s->ttl_ms);
  const char *argv[] = {"PEXPIRE", key, ttl};
  jobs__redis_add_cmd(bd, 3, argv, NULL);
}

int jobs__redis_create(jobs_store *js, const char *id, int32_t total) {
  redis_store *s = (redis_store *)js;
  int64_t now = clock_wall_ms();
  active *a = find_active(s, id, NULL);
  if (!a) {
    a = malloc(sizeof *a + strlen(id) + 1);
    if (!a)
      return ERR_NOMEM;
    strcpy(a->id, id);
    a->next = s->active;
    s->active = a;
  }
  a->total = total;
  a->created_ms = now;
  journal *j = jobs__redis_journal_find(s, id);
  if (!j) {
    j = calloc(1, sizeof *j + strlen(id) + 1);
    if (!j)
      return ERR_NOMEM;
    strcpy(j->id, id);
    j->next = s->journals;
    s->journals = j;
  }
  jobs__redis_journal_clear(s, j); /* a reused id starts afresh */
  j->finished_ms = 0;
  char *k = key_of(id, 0), *rk = key_of(id, 1);
  builder bd = {BUF_INIT, 0, {0}, !k || !rk};
  jobs__redis_add1(&bd, "MULTI");
  /* A client reusing its batch id starts afresh, as in-process. */
  const char *del[] = {"DEL", k, rk};
  jobs__redis_add_cmd(&bd, 3, del, NULL);
  add_hset(s, &bd, k, id, JOBS_IN_PROGRESS, 0, 0, now);
  add_expire(s, &bd, k);
  add_expire(s, &bd, rk);
  free(k);
  free(rk);
  int rc = jobs__redis_enqueue(s, &bd, j);
  if (rc == 0)
    jobs__redis_renew_leases(s, id);
  return rc;
}

int jobs__redis_put_result(jobs_store *js, const char *id, const jobs_result *r,
                           int32_t processed, int32_t failed) {
  redis_store *s = (redis_store *)js;
  char *k = key_of(id, 0), *rk = key_of(id, 1);
  builder bd = {BUF_INIT, 0, {0}, !k || !rk};
  buf json = BUF_INIT;
  char idx[16];
  snprintf(idx, sizeof idx, "%" PRId32, r->index);
  if (jobs__result_json(&json, r))
    bd.nomem = 1;
  jobs__redis_add1(&bd, "MULTI");
  add_hset(s, &bd, k, id, JOBS_IN_PROGRESS, processed, failed, clock_wall_ms());
  const char *hset[] = {"HSET", rk, idx, (const char *)json.data};
  size_t hlen[] = {4, rk ? strlen(rk) : 0, strlen(idx), json.len};
  if (!bd.nomem)
    jobs__redis_add_cmd(&bd, 4, hset, hlen);
  add_expire(s, &bd, k);
  add_expire(s, &bd, rk);
  buf_free(&json);
  free(k);
  free(rk);
  return jobs__redis_enqueue(s, &bd, jobs__redis_journal_find(s, id));
}

int jobs__redis_finish(jobs_store *js, const char *id, jobs_state st, int32_t processed,
                       int32_t failed) {
  redis_store *s = (redis_store *)js;
  char *k = key_of(id, 0), *rk = key_of(id, 1);
  builder bd = {BUF_INIT, 0, {0}, !k || !rk};
  jobs__redis_add1(&bd, "MULTI");
  add_hset(s, &bd, k, id, st, processed, failed, clock_wall_ms());
  add_expire(s, &bd, k);
  add_expire(s, &bd, rk);
  free(k);
  free(rk);
  drop_active(s, id);
  journal *j = jobs__redis_journal_find(s, id);
  if (j)
    j->finished_ms = clock_wall_ms();
  int rc = jobs__redis_enqueue(s, &bd, j);
  jobs__redis_journal_prune(s);
  return rc;
}

void jobs__redis_active_free(redis_store *s) {
  while (s->active) {
    active *a = s->active;
    s->active = a->next;
    free(a);
  }
}

/* Sets lease_until on a batch hash that exists: a lease alone must never
 * create a hash without status and total (after Redis lost the batch, the
 * queued writes recreate it). */
static const char lease_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then "
    "redis.call('HSET', KEYS[1], 'lease_until', ARGV[1]) end return 0";

static void on_lease_reply(redisAsyncContext *ac, void *r, void *priv) {
  redis_store *s = priv;
  if (r && ac == s->ac)
    jobs__redis_got_reply(s);
}

/* Renews the lease of every active batch (only_id NULL) or of one. Sent
 * at once, never queued: a lease replayed after an outage would be stale,
 * and the next renewal follows within lease_ms / 3 anyway. */
void jobs__redis_renew_leases(redis_store *s, const char *only_id) {
  if (!jobs__redis_ready(s))
    return;
  char until[24];
  snprintf(until, sizeof until, "%" PRId64, clock_wall_ms() + (int64_t)s->env.lease_ms);
  for (active *a = s->active; a && jobs__redis_ready(s); a = a->next) {
    if (only_id && strcmp(a->id, only_id) != 0)
      continue;
    char *k = key_of(a->id, 0);
    if (!k)
      return;
    const char *argv[] = {"EVAL", lease_script, "1", k, until};
    redisAsyncCommandArgv(s->ac, on_lease_reply, s, 5, argv, NULL);
    jobs__redis_expect_reply(s);
    s->stats.leases++;
    free(k);
  }
}

void jobs__redis_on_lease_timer(void *arg) {
  redis_store *s = arg;
  uint64_t period = s->env.lease_ms / 3 ? s->env.lease_ms / 3 : 1;
  s->lease_timer =
      s->env.timers.start(&s->env.timers, period, jobs__redis_on_lease_timer, s);
  jobs__redis_renew_leases(s, NULL);
  jobs__redis_journal_prune(s);
}

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
      lease_until < clock_wall_ms())
    b.state = JOBS_ABANDONED;
  jobs_result *results = NULL;
  size_t n = 0;
  if (rs->elements >= 2) {
    results = calloc(rs->elements / 2, sizeof *results);
    if (!results) {
      req->cb(req->arg, ERR_UNAVAILABLE, NULL);
      return;
    }
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
    jobs__redis_got_reply(s);
  if (req->cb) {
    if (reply)
      answer(req, reply);
    else
      req->cb(req->arg, ERR_UNAVAILABLE, NULL);
  }
  free(req);
}

void *jobs__redis_get(jobs_store *js, const char *id, jobs_get_cb cb, void *arg) {
  redis_store *s = (redis_store *)js;
  if (!jobs__redis_ready(s)) {
    /* Do not wait for a reconnect: the poller retries, or asks later. */
    cb(arg, ERR_UNAVAILABLE, NULL);
    return NULL;
  }
  get_req *req = malloc(sizeof *req + strlen(id) + 1);
  char *k = key_of(id, 0), *rk = key_of(id, 1);
  if (!req || !k || !rk) {
    free(req);
    free(k);
    free(rk);
    cb(arg, ERR_UNAVAILABLE, NULL);
    return NULL;
  }
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
  jobs__redis_expect_reply(s);
  free(k);
  free(rk);
  return req;
}

void jobs__redis_get_cancel(jobs_store *js, void *r) {
  (void)js;
  get_req *req = r;
  req->cb = NULL; /* freed when the reply (or the connection's end) comes */
}
