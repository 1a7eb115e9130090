/* SPDX-License-Identifier: MIT */
/* The Redis job store against a real redis-server that each test starts on
 * a free port (and kills, restarts, stops or never starts), on a real libuv
 * loop with the loop's hiredis glue and uv timers. What landed in Redis is
 * checked over a second, plain synchronous hiredis connection. Every test
 * ends with all handles closed and uv_loop_close == 0. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "base/err.h"
#include "jobs/jobs.h"
#include "jobs_redis_internal.h"
#include "loop/loop.h"

/* Upper bounds so that a broken store fails the test instead of hanging
 * it; no assertion depends on how fast anything happens. */
#define WAIT_MS 60000 /* a ceiling only a hang reaches (loaded machine, ASan) */

/* ---- redis-server processes ---------------------------------------------- */

static pid_t redis_pid = -1;
static char unix_dir[64];

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(fd, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t len = sizeof a;
  cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A synchronous connection (TCP when port > 0, else the unix socket),
 * authenticated and on db; NULL when Redis does not answer PING. */
static redisContext *sync_conn(int port, const char *sock, const char *password, int db) {
  struct timeval tv = {1, 0};
  redisContext *c = port > 0 ? redisConnectWithTimeout("127.0.0.1", port, tv)
                             : redisConnectUnixWithTimeout(sock, tv);
  if (!c || c->err)
    goto fail;
  redisReply *r;
  if (password) {
    r = redisCommand(c, "AUTH %s", password);
    if (!r || r->type == REDIS_REPLY_ERROR)
      goto fail_reply;
    freeReplyObject(r);
  }
  r = redisCommand(c, "SELECT %d", db);
  if (!r || r->type == REDIS_REPLY_ERROR)
    goto fail_reply;
  freeReplyObject(r);
  r = redisCommand(c, "PING");
  if (!r || r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0)
    goto fail_reply;
  freeReplyObject(r);
  return c;
fail_reply:
  if (r)
    freeReplyObject(r);
fail:
  if (c)
    redisFree(c);
  return NULL;
}

/* Starts redis-server on port (or only on the unix socket sock when port
 * is 0) and polls until it answers PING. */
static void redis_start(int port, const char *sock, const char *password) {
  const char *bin = getenv("OCRPC_REDIS_SERVER");
  if (!bin)
    bin = "redis-server";
  char portstr[16];
  snprintf(portstr, sizeof portstr, "%d", port);
  const char *argv[20] = {bin,      "--port",     portstr,        "--bind", "127.0.0.1",
                          "--save", "",           "--appendonly", "no",     "--daemonize",
                          "no",     "--loglevel", "warning"};
  int argc = 13;
  if (password) {
    argv[argc++] = "--requirepass";
    argv[argc++] = password;
  }
  if (sock) {
    argv[argc++] = "--unixsocket";
    argv[argc++] = sock;
  }
  argv[argc] = NULL;
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    execvp(bin, (char *const *)argv);
    _exit(127);
  }
  redis_pid = pid;
  uint64_t deadline = mono_ms() + WAIT_MS;
  for (;;) {
    redisContext *c = sync_conn(port, sock, password, 0);
    if (c) {
      redisFree(c);
      return;
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "redis-server exited at start");
    cr_assert_lt(mono_ms(), deadline, "redis-server did not answer PING");
    /* Polling interval between connection attempts, not a synchronisation. */
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

static void redis_signal(int sig) {
  cr_assert_gt(redis_pid, 0);
  kill(redis_pid, sig);
}

static void redis_kill(void) {
  if (redis_pid <= 0)
    return;
  kill(redis_pid, SIGCONT);
  kill(redis_pid, SIGKILL);
  waitpid(redis_pid, NULL, 0);
  redis_pid = -1;
}

static void stop_all(void) {
  redis_kill();
  if (unix_dir[0]) {
    char p[128];
    snprintf(p, sizeof p, "%s/redis.sock", unix_dir);
    unlink(p);
    rmdir(unix_dir);
    unix_dir[0] = 0;
  }
}

/* ---- the loop side --------------------------------------------------------- */

typedef struct fixture {
  uv_loop_t loop;
  uv_timer_t guard;
  int guard_fired;
  jobs_store *st;
  int events[JOBS_REDIS_REWRITE + 1];
  char detail[JOBS_REDIS_REWRITE + 1][512];
} fixture;

static fixture F;

static void on_event(void *ud, jobs_redis_event ev, const char *detail) {
  fixture *f = ud;
  f->events[ev]++;
  snprintf(f->detail[ev], sizeof f->detail[ev], "%s", detail);
}

static void setup(void) {
  memset(&F, 0, sizeof F);
  cr_assert_eq(uv_loop_init(&F.loop), 0);
  uv_timer_init(&F.loop, &F.guard);
}

static void teardown(void) {
  /* The fixture's loop is closed by finish(); a failed assertion may leave
   * it open, and then the process ends anyway. */
  stop_all();
}

static jobs_redis_env env_for(size_t max_pending) {
  jobs_redis_env env;
  loop_redis_env_init(&env, &F.loop);
  env.on_event = on_event;
  env.ud = &F;
  env.backoff_min_ms = 20;
  env.backoff_max_ms = 200;
  env.max_pending = max_pending;
  return env;
}

static void open_store(const char *url, jobs_redis_env env) {
  char err[256] = "";
  int rc = jobs_redis_new(url, 60000, &env, &F.st, err, sizeof err);
  cr_assert_eq(rc, 0, "%s: %s", url, err);
}

static void on_guard(uv_timer_t *t) { ((fixture *)t->data)->guard_fired = 1; }

typedef int (*pred_fn)(void *arg);

/* Runs the loop until pred(arg) holds; fails the test after WAIT_MS. */
static void run_until(pred_fn pred, void *arg, const char *what) {
  F.guard.data = &F;
  F.guard_fired = 0;
  uv_timer_start(&F.guard, on_guard, WAIT_MS, 0);
  while (!pred(arg)) {
    cr_assert_not(F.guard_fired, "timed out waiting for %s", what);
    uv_run(&F.loop, UV_RUN_ONCE);
  }
  uv_timer_stop(&F.guard);
}

static jobs_redis_stats stats(void) {
  jobs_redis_stats s;
  jobs_redis_get_stats(F.st, &s);
  return s;
}

static int p_ready_and_flushed(void *arg) {
  (void)arg;
  jobs_redis_stats s = stats();
  return s.ready && s.pending == 0;
}

static int p_event(void *arg) {
  const int *want = arg; /* {event, count} */
  return F.events[want[0]] >= want[1];
}

static void wait_event(jobs_redis_event ev, int count) {
  int want[2] = {(int)ev, count};
  char what[64];
  snprintf(what, sizeof what, "event %d x%d", (int)ev, count);
  run_until(p_event, want, what);
}

static int p_attempts(void *arg) { return stats().attempts >= *(uint64_t *)arg; }

/* Frees the store, closes every handle and checks the loop closes. */
static void finish(void) {
  jobs_free(F.st);
  F.st = NULL;
  uv_close((uv_handle_t *)&F.guard, NULL);
  uv_run(&F.loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&F.loop), 0, "a handle was left open");
}

/* ---- reads through the store ------------------------------------------------ */

typedef struct got {
  int calls;
  int err;
  jobs_batch b;
  size_t n;
  jobs_result r[8];
  char id[64];
} got;

static void on_get(void *arg, int err, const jobs_batch *b) {
  got *g = arg;
  g->calls++;
  g->err = err;
  if (!b)
    return;
  g->b = *b;
  snprintf(g->id, sizeof g->id, "%s", b->id);
  g->n = b->nresults;
  for (size_t i = 0; i < b->nresults && i < 8; i++) {
    const jobs_result *s = &b->results[i];
    jobs_result *d = &g->r[i];
    *d = *s;
    d->text = s->text ? strdup(s->text) : NULL;
    d->error_code = s->error_code ? strdup(s->error_code) : NULL;
    d->error_message = s->error_message ? strdup(s->error_message) : NULL;
    d->error_details = s->error_details ? strdup(s->error_details) : NULL;
  }
}

static void got_clear(got *g) {
  for (size_t i = 0; i < g->n && i < 8; i++)
    jobs__result_clear(&g->r[i]);
  g->n = 0;
}

static int p_called(void *arg) { return ((got *)arg)->calls > 0; }

static void get_sync(const char *id, got *g) {
  memset(g, 0, sizeof *g);
  jobs_get(F.st, id, on_get, g);
  run_until(p_called, g, "the get callback");
  cr_assert_eq(g->calls, 1);
}

/* ---- checks over the plain connection ---------------------------------------- */

static redisReply *cmd(redisContext *c, const char *fmt, const char *key) {
  redisReply *r = redisCommand(c, fmt, key);
  cr_assert_not_null(r, "%s %s: %s", fmt, key, c->errstr);
  return r;
}

/* HGET as a heap string ("" when missing). */
static char *hget(redisContext *c, const char *key, const char *field) {
  redisReply *r = redisCommand(c, "HGET %s %s", key, field);
  cr_assert_not_null(r);
  char *s = strdup(r->type == REDIS_REPLY_STRING ? r->str : "");
  freeReplyObject(r);
  return s;
}

static void assert_field(redisContext *c, const char *key, const char *field,
                         const char *want) {
  char *v = hget(c, key, field);
  cr_assert_str_eq(v, want, "%s %s", key, field);
  free(v);
}

static long long integer(redisContext *c, const char *fmt, const char *key) {
  redisReply *r = cmd(c, fmt, key);
  cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s %s", fmt, key);
  long long v = r->integer;
  freeReplyObject(r);
  return v;
}

static void assert_ttl(redisContext *c, const char *key) {
  long long ttl = integer(c, "PTTL %s", key);
  cr_assert_gt(ttl, 0, "%s has no TTL (%lld)", key, ttl);
}

static jobs_result ok_result(int32_t i, const char *text) {
  return (jobs_result){.index = i, .ok = 1, .text = text, .confidence = 0.93f};
}

static jobs_result bad_result(int32_t i) {
  return (jobs_result){.index = i,
                       .ok = 0,
                       .error_code = "OCR_ERROR",
                       .error_message = "file not found",
                       .error_details = "NOT_FOUND"};
}

TestSuite(jobs_redis, .init = setup, .fini = teardown, .timeout = 120);

/* ---- tests -------------------------------------------------------------------- */

Test(jobs_redis, writes_land_and_read_back) {
  int port = free_port();
  redis_start(port, NULL, "s3cret");
  char url[128];
  snprintf(url, sizeof url, "redis://:s3cret@127.0.0.1:%d/3", port);
  open_store(url, env_for(0));
  wait_event(JOBS_REDIS_CONNECTED, 1);

  jobs_result r0 = ok_result(0, "Hello \"world\"\n\th\xc3\xa9");
  jobs_result r1 = bad_result(1);
  cr_assert_eq(jobs_create(F.st, "b1", 3), 0);
  cr_assert_eq(jobs_put_result(F.st, "b1", &r1, 1, 1), 0);
  cr_assert_eq(jobs_put_result(F.st, "b1", &r0, 2, 1), 0);
  cr_assert_eq(jobs_finish(F.st, "b1", JOBS_SUCCESS, 2, 1), 0);
  run_until(p_ready_and_flushed, NULL, "the writes");

  redisContext *c = sync_conn(port, NULL, "s3cret", 3);
  cr_assert_not_null(c);
  assert_field(c, "ocrpc:batch:b1", "status", "SUCCESS");
  assert_field(c, "ocrpc:batch:b1", "total", "3");
  assert_field(c, "ocrpc:batch:b1", "processed", "2");
  assert_field(c, "ocrpc:batch:b1", "failed", "1");
  char *created = hget(c, "ocrpc:batch:b1", "created_at");
  char *updated = hget(c, "ocrpc:batch:b1", "updated_at");
  cr_assert_gt(atoll(created), 1600000000000LL, "Unix ms: %s", created);
  cr_assert_geq(atoll(updated), atoll(created));
  free(created);
  free(updated);
  cr_assert_eq(integer(c, "HLEN %s", "ocrpc:batch:b1:results"), 2);
  assert_field(c, "ocrpc:batch:b1:results", "0",
               "{\"index\":0,\"ok\":true,\"text\":\"Hello \\\"world\\\"\\n\\th\xc3\xa9\","
               "\"confidence\":0.93}");
  assert_field(c, "ocrpc:batch:b1:results", "1",
               "{\"index\":1,\"ok\":false,\"error\":{\"code\":\"OCR_ERROR\","
               "\"message\":\"file not found\",\"details\":\"NOT_FOUND\"}}");
  assert_ttl(c, "ocrpc:batch:b1");
  assert_ttl(c, "ocrpc:batch:b1:results");
  /* SELECT took effect: nothing in db 0. */
  redisReply *r = redisCommand(c, "SELECT 0");
  freeReplyObject(r);
  cr_assert_eq(integer(c, "EXISTS %s", "ocrpc:batch:b1"), 0);
  redisFree(c);

  got g;
  get_sync("b1", &g);
  cr_assert_eq(g.err, 0);
  cr_assert_str_eq(g.id, "b1");
  cr_assert_eq(g.b.state, JOBS_SUCCESS);
  cr_assert_eq(g.b.total, 3);
  cr_assert_eq(g.b.processed, 2);
  cr_assert_eq(g.b.failed, 1);
  cr_assert_gt(g.b.created_ms, 0);
  cr_assert_eq(g.n, 2);
  cr_assert_eq(g.r[0].index, 0, "results come sorted by index");
  cr_assert(g.r[0].ok);
  cr_assert_str_eq(g.r[0].text, r0.text);
  cr_assert_float_eq(g.r[0].confidence, 0.93f, 1e-6);
  cr_assert_eq(g.r[1].index, 1);
  cr_assert_not(g.r[1].ok);
  cr_assert_str_eq(g.r[1].error_code, "OCR_ERROR");
  cr_assert_str_eq(g.r[1].error_message, "file not found");
  cr_assert_str_eq(g.r[1].error_details, "NOT_FOUND");
  got_clear(&g);

  get_sync("no-such-batch", &g);
  cr_assert_eq(g.err, ERR_NOT_FOUND);

  /* A cancelled read never calls back, even though its reply arrives
   * (replies come in order: it has arrived once the next read answers). */
  got cancelled = {0}, after = {0};
  void *h = jobs_get(F.st, "b1", on_get, &cancelled);
  cr_assert_not_null(h, "a Redis read is pending");
  jobs_get_cancel(F.st, h);
  jobs_get(F.st, "b1", on_get, &after);
  run_until(p_called, &after, "the read after the cancelled one");
  cr_assert_eq(cancelled.calls, 0);
  got_clear(&after);

  /* A read cancelled and then dropped with the store is freed quietly. */
  h = jobs_get(F.st, "b1", on_get, &cancelled);
  jobs_get_cancel(F.st, h);
  cr_assert_eq(stats().failed, 0);
  finish();
  cr_assert_eq(cancelled.calls, 0);
  cr_assert_eq(F.events[JOBS_REDIS_LOST], 0);
}

Test(jobs_redis, restart_mid_batch_replays_buffered_writes) {
  int port = free_port();
  redis_start(port, NULL, NULL);
  char url[128];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
  open_store(url, env_for(0));
  wait_event(JOBS_REDIS_CONNECTED, 1);

  jobs_result r0 = ok_result(0, "zero"), r1 = ok_result(1, "one");
  cr_assert_eq(jobs_create(F.st, "b2", 5), 0);
  cr_assert_eq(jobs_put_result(F.st, "b2", &r0, 1, 0), 0);
  cr_assert_eq(jobs_put_result(F.st, "b2", &r1, 2, 0), 0);
  run_until(p_ready_and_flushed, NULL, "the first writes");

  redis_signal(SIGKILL);
  waitpid(redis_pid, NULL, 0);
  redis_pid = -1;
  wait_event(JOBS_REDIS_LOST, 1);

  jobs_result r2 = ok_result(2, "two"), r3 = ok_result(3, "three"), r4 = bad_result(4);
  cr_assert_eq(jobs_put_result(F.st, "b2", &r2, 3, 0), 0);
  cr_assert_eq(jobs_put_result(F.st, "b2", &r3, 4, 0), 0);
  cr_assert_eq(jobs_put_result(F.st, "b2", &r4, 5, 1), 0);
  cr_assert_eq(jobs_finish(F.st, "b2", JOBS_SUCCESS, 5, 1), 0);
  jobs_redis_stats s = stats();
  cr_assert_not(s.ready);
  cr_assert_eq(s.pending, 4, "writes are buffered while Redis is down");

  /* A read while down fails at once: the callback ran before jobs_get
   * returned, with no handle left pending. */
  got g = {0};
  void *h = jobs_get(F.st, "b2", on_get, &g);
  cr_assert_null(h);
  cr_assert_eq(g.calls, 1);
  cr_assert_eq(g.err, ERR_UNAVAILABLE);

  redis_start(port, NULL, NULL);
  wait_event(JOBS_REDIS_RECONNECTED, 1);
  run_until(p_ready_and_flushed, NULL, "the replay");
  cr_assert_eq(F.events[JOBS_REDIS_LOST], 1, "one line per outage");
  cr_assert_eq(stats().dropped, 0);

  /* redis-server ran without persistence, so what it had acknowledged
   * before the kill was gone: the new run_id made the store write the
   * batch's journal again, ahead of the buffered writes. */
  cr_assert_eq(F.events[JOBS_REDIS_REWRITE], 1);
  cr_assert_eq(stats().rewrites, 1);
  redisContext *c = sync_conn(port, NULL, NULL, 0);
  cr_assert_not_null(c);
  assert_field(c, "ocrpc:batch:b2", "status", "SUCCESS");
  assert_field(c, "ocrpc:batch:b2", "total", "5");
  assert_field(c, "ocrpc:batch:b2", "processed", "5");
  assert_field(c, "ocrpc:batch:b2", "failed", "1");
  char *created = hget(c, "ocrpc:batch:b2", "created_at");
  cr_assert_gt(atoll(created), 0, "the creation time is rewritten too");
  free(created);
  cr_assert_eq(integer(c, "HLEN %s", "ocrpc:batch:b2:results"), 5);
  char *v = hget(c, "ocrpc:batch:b2:results", "4");
  cr_assert(strstr(v, "\"NOT_FOUND\"") != NULL, "%s", v);
  free(v);
  assert_ttl(c, "ocrpc:batch:b2");
  assert_ttl(c, "ocrpc:batch:b2:results");
  redisFree(c);

  get_sync("b2", &g);
  cr_assert_eq(g.err, 0);
  cr_assert_eq(g.b.state, JOBS_SUCCESS);
  cr_assert_eq(g.n, 5);
  cr_assert_eq(g.r[0].index, 0);
  cr_assert_str_eq(g.r[0].text, "zero");
  cr_assert_str_eq(g.r[3].text, "three");
  got_clear(&g);
  finish();
}

Test(jobs_redis, unanswered_command_times_out) {
  int port = free_port();
  redis_start(port, NULL, NULL);
  char url[128];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
  jobs_redis_env env = env_for(0);
  /* Long enough that a redis-server slowed by a loaded machine is not
   * taken for a stopped one (the SIGSTOP below makes the timeout fire). */
  env.command_timeout_ms = 2000;
  env.connect_timeout_ms = 2000;
  open_store(url, env);
  wait_event(JOBS_REDIS_CONNECTED, 1);

  /* A stopped server keeps the socket open but never answers. */
  redis_signal(SIGSTOP);
  cr_assert_eq(jobs_create(F.st, "b3", 1), 0);
  got g = {0};
  cr_assert_not_null(jobs_get(F.st, "b3", on_get, &g));
  run_until(p_called, &g, "the read to time out");
  cr_assert_eq(g.err, ERR_UNAVAILABLE);
  cr_assert_eq(F.events[JOBS_REDIS_LOST], 1);
  cr_assert(strstr(F.detail[JOBS_REDIS_LOST], "no reply") != NULL, "%s",
            F.detail[JOBS_REDIS_LOST]);
  cr_assert_eq(stats().pending, 1);

  redis_signal(SIGCONT);
  wait_event(JOBS_REDIS_RECONNECTED, 1);
  run_until(p_ready_and_flushed, NULL, "the replay");
  redisContext *c = sync_conn(port, NULL, NULL, 0);
  cr_assert_not_null(c);
  assert_field(c, "ocrpc:batch:b3", "status", "IN_PROGRESS");
  assert_field(c, "ocrpc:batch:b3", "total", "1");
  redisFree(c);
  finish();
}

Test(jobs_redis, never_started_keeps_trying_and_bounds_the_buffer) {
  int port = free_port();
  char url[128];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d/1", port);
  open_store(url, env_for(3));
  uint64_t three = 3;
  run_until(p_attempts, &three, "three connection attempts");
  cr_assert_eq(F.events[JOBS_REDIS_UNREACHABLE], 1, "reported once, not per attempt");
  cr_assert_eq(F.events[JOBS_REDIS_CONNECTED], 0);
  cr_assert_not(stats().ready);

  got g = {0};
  cr_assert_null(jobs_get(F.st, "b4", on_get, &g));
  cr_assert_eq(g.calls, 1);
  cr_assert_eq(g.err, ERR_UNAVAILABLE);

  /* Five writes into a buffer of three: the two oldest are dropped. */
  cr_assert_eq(jobs_create(F.st, "b4", 4), 0);
  for (int32_t i = 0; i < 4; i++) {
    char text[8];
    snprintf(text, sizeof text, "t%d", i);
    jobs_result r = ok_result(i, text);
    cr_assert_eq(jobs_put_result(F.st, "b4", &r, i + 1, 0), 0);
  }
  jobs_redis_stats s = stats();
  cr_assert_eq(s.pending, 3);
  cr_assert_eq(s.dropped, 2);
  cr_assert_eq(F.events[JOBS_REDIS_OVERFLOW], 1);

  /* Retrying does not keep the loop alive: a stopping server's uv_run
   * returns with the store still there (its handles are unreferenced). */
  cr_assert_eq(uv_run(&F.loop, UV_RUN_DEFAULT), 0);

  /* Redis appears late: the store connects and writes what it kept. */
  redis_start(port, NULL, NULL);
  wait_event(JOBS_REDIS_CONNECTED, 1);
  run_until(p_ready_and_flushed, NULL, "the replay");
  redisContext *c = sync_conn(port, NULL, NULL, 1);
  cr_assert_not_null(c);
  assert_field(c, "ocrpc:batch:b4", "processed", "4");
  assert_field(c, "ocrpc:batch:b4", "total", "4");
  cr_assert_eq(integer(c, "HLEN %s", "ocrpc:batch:b4:results"), 3);
  cr_assert_eq(integer(c, "HEXISTS ocrpc:batch:b4:results %s", "0"), 0);
  cr_assert_eq(integer(c, "HEXISTS ocrpc:batch:b4:results %s", "3"), 1);
  redisFree(c);
  finish();
}

Test(jobs_redis, silent_server_hits_the_connect_timeout) {
  /* A listener that never accepts: TCP connects (the kernel queues it) but
   * PING is never answered, so only the connect timer can end the attempt. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  cr_assert_eq(listen(fd, 16), 0);
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  char url[128];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", ntohs(a.sin_port));
  jobs_redis_env env = env_for(0);
  env.connect_timeout_ms = 100;
  open_store(url, env);
  uint64_t three = 3;
  run_until(p_attempts, &three, "three connection attempts");
  cr_assert_eq(F.events[JOBS_REDIS_CONNECTED], 0);
  cr_assert_eq(F.events[JOBS_REDIS_UNREACHABLE], 1);
  cr_assert(strstr(F.detail[JOBS_REDIS_UNREACHABLE], "no connection within") != NULL, "%s",
            F.detail[JOBS_REDIS_UNREACHABLE]);
  got g = {0};
  cr_assert_null(jobs_get(F.st, "x", on_get, &g));
  cr_assert_eq(g.err, ERR_UNAVAILABLE);
  finish();
  close(fd);
}

Test(jobs_redis, unix_socket) {
  snprintf(unix_dir, sizeof unix_dir, "/tmp/ocrpc-redis-XXXXXX");
  cr_assert_not_null(mkdtemp(unix_dir));
  char sock[128], url[160];
  snprintf(sock, sizeof sock, "%s/redis.sock", unix_dir);
  /* Port 0 in redis-server means "no TCP listener". */
  redis_start(0, sock, NULL);
  snprintf(url, sizeof url, "unix://%s?db=2", sock);
  open_store(url, env_for(0));
  wait_event(JOBS_REDIS_CONNECTED, 1);
  cr_assert_eq(jobs_create(F.st, "u1", 2), 0);
  cr_assert_eq(jobs_finish(F.st, "u1", JOBS_CANCELLED, 0, 0), 0);
  run_until(p_ready_and_flushed, NULL, "the writes");
  redisContext *c = sync_conn(0, sock, NULL, 2);
  cr_assert_not_null(c);
  assert_field(c, "ocrpc:batch:u1", "status", "CANCELLED");
  redisFree(c);
  finish();
}

Test(jobs_redis, malformed_url_is_a_config_error) {
  jobs_redis_env env = env_for(0);
  char err[256] = "";
  jobs_store *st = NULL;
  cr_assert_eq(jobs_redis_new("redis://127.0.0.1:99999", 1000, &env, &st, err, sizeof err),
               ERR_CONFIG);
  cr_assert_null(st);
  cr_assert(strstr(err, "REDIS_URL") != NULL, "%s", err);
  finish();
}

/* ---- leases ----------------------------------------------------------------- */

static int p_lease_set(void *arg) {
  redisContext *c = arg;
  char *v = hget(c, "ocrpc:batch:lz", "lease_until");
  int set = v[0] != 0;
  free(v);
  return set;
}

static int p_leases(void *arg) { return stats().leases >= *(uint64_t *)arg; }

static int p_abandoned(void *arg) {
  got *g = arg;
  memset(g, 0, sizeof *g);
  jobs_get(F.st, "lz", on_get, g);
  run_until(p_called, g, "the get callback");
  return g->err == 0 && g->b.state == JOBS_ABANDONED;
}

/* A running batch carries a lease its store renews; once nobody renews it
 * (its server died: here, another hash whose lease is in the past) reads
 * answer ABANDONED, and a finished batch never is. */
Test(jobs_redis, lease_renewed_while_running_abandoned_when_not) {
  int port = free_port();
  redis_start(port, NULL, NULL);
  char url[128];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
  jobs_redis_env env = env_for(0);
  env.lease_ms = 300;
  open_store(url, env);
  wait_event(JOBS_REDIS_CONNECTED, 1);
  redisContext *c = sync_conn(port, NULL, NULL, 0);
  cr_assert_not_null(c);

  cr_assert_eq(jobs_create(F.st, "lz", 4), 0);
  run_until(p_ready_and_flushed, NULL, "the create");
  run_until(p_lease_set, c, "the first lease");
  char *first = hget(c, "ocrpc:batch:lz", "lease_until");
  /* Renewed without any write of ours. */
  uint64_t want = stats().leases + 2;
  run_until(p_leases, &want, "two renewals");
  char *later = hget(c, "ocrpc:batch:lz", "lease_until");
  cr_assert_gt(atoll(later), atoll(first));
  got g;
  get_sync("lz", &g);
  cr_assert_eq(g.b.state, JOBS_IN_PROGRESS, "a renewed lease is alive");
  free(first);
  free(later);

  /* The store stops renewing only when the batch ends; simulate a dead
   * owner by setting the lease in the past: the next renewal repairs it,
   * so finish first. */
  cr_assert_eq(jobs_finish(F.st, "lz", JOBS_SUCCESS, 4, 0), 0);
  run_until(p_ready_and_flushed, NULL, "the finish");
  freeReplyObject(redisCommand(c, "HSET ocrpc:batch:lz lease_until 1"));
  get_sync("lz", &g);
  cr_assert_eq(g.b.state, JOBS_SUCCESS, "a finished batch is never abandoned");
  freeReplyObject(redisCommand(c, "HSET ocrpc:batch:lz status IN_PROGRESS"));
  run_until(p_abandoned, &g, "ABANDONED");
  cr_assert_str_eq(jobs_state_name(g.b.state), "ABANDONED");
  /* No lease at all (a server without leases) counts as alive. */
  freeReplyObject(redisCommand(c, "HDEL ocrpc:batch:lz lease_until"));
  get_sync("lz", &g);
  cr_assert_eq(g.b.state, JOBS_IN_PROGRESS);
  /* A lease never creates a hash on its own. */
  cr_assert_eq(jobs_create(F.st, "gone", 1), 0);
  run_until(p_ready_and_flushed, NULL, "the second create");
  freeReplyObject(redisCommand(c, "DEL ocrpc:batch:gone"));
  want = stats().leases + 2;
  run_until(p_leases, &want, "two renewals of the deleted batch");
  cr_assert_eq(integer(c, "EXISTS %s", "ocrpc:batch:gone"), 0);
  redisFree(c);
  finish();
}

/* ---- journals: Redis restarted empty ----------------------------------------- */

static int p_rewritten(void *arg) {
  (void)arg;
  jobs_redis_stats s = stats();
  return s.rewrites >= 1 && s.ready && s.pending == 0;
}

/* Finished batches are written again after Redis came back empty, within
 * the byte bound: the oldest finished journal goes first. */
Test(jobs_redis, empty_restart_rewrites_recent_batches_within_the_bound) {
  int port = free_port();
  redis_start(port, NULL, NULL);
  char url[128];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
  jobs_redis_env env = env_for(0);
  /* Room for about two batches of three writes each (a write is ~300 B). */
  env.journal_max_bytes = 2000;
  open_store(url, env);
  wait_event(JOBS_REDIS_CONNECTED, 1);

  const char *ids[] = {"j1", "j2", "j3"};
  for (int b = 0; b < 3; b++) {
    jobs_result r = ok_result(0, ids[b]);
    cr_assert_eq(jobs_create(F.st, ids[b], 1), 0);
    cr_assert_eq(jobs_put_result(F.st, ids[b], &r, 1, 0), 0);
    cr_assert_eq(jobs_finish(F.st, ids[b], JOBS_SUCCESS, 1, 0), 0);
    run_until(p_ready_and_flushed, NULL, "a batch's writes");
  }
  cr_assert_eq(jobs_create(F.st, "running", 2), 0); /* never pruned */
  run_until(p_ready_and_flushed, NULL, "the running batch");

  redis_signal(SIGKILL);
  waitpid(redis_pid, NULL, 0);
  redis_pid = -1;
  wait_event(JOBS_REDIS_LOST, 1);
  redis_start(port, NULL, NULL); /* empty: no persistence */
  run_until(p_rewritten, NULL, "the rewrite");
  cr_assert_eq(F.events[JOBS_REDIS_REWRITE], 1);

  got g;
  get_sync("j1", &g);
  cr_assert_eq(g.err, ERR_NOT_FOUND, "the oldest finished batch left the bound");
  for (int b = 1; b < 3; b++) {
    get_sync(ids[b], &g);
    cr_assert_eq(g.err, 0, "%s", ids[b]);
    cr_assert_eq(g.b.state, JOBS_SUCCESS);
    cr_assert_eq(g.n, 1);
    cr_assert_str_eq(g.r[0].text, ids[b]);
    got_clear(&g);
  }
  get_sync("running", &g);
  cr_assert_eq(g.err, 0);
  cr_assert_eq(g.b.state, JOBS_IN_PROGRESS);
  cr_assert_eq(g.b.total, 2);
  finish();
}
