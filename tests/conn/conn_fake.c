/* SPDX-License-Identifier: MIT */
/* The in-memory world of conn_fake.h: executors, a virtual clock, a fake
 * socket and a server wired as src/loop wires it. Single thread. */
#include "conn_fake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "exec_now.h"
#include "jobs/jobs.h"
#include "ocr/ocr.h"
#include "rest/rest.h"
#include "rpc/rpc.h"

void fake_check_failed(const char *file, int line, const char *what) {
  fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  abort();
}

/* ---- executors ---- */

typedef struct qjob {
  exec_job *job;
  int cancelled;
} qjob;

static struct {
  qjob *v;
  size_t head, n, cap;
} queue;

static int q_submit(exec *ex, exec_job *job) {
  (void)ex;
  if (queue.n == queue.cap) {
    size_t cap = queue.cap ? queue.cap * 2 : 16;
    qjob *v = realloc(queue.v, cap * sizeof *v);
    if (!v)
      return ERR_NOMEM;
    queue.v = v;
    queue.cap = cap;
  }
  queue.v[queue.n].job = job;
  queue.v[queue.n].cancelled = 0;
  queue.n++;
  return 0;
}

static int q_cancel(exec *ex, exec_job *job) {
  (void)ex;
  for (size_t i = queue.head; i < queue.n; i++) {
    if (queue.v[i].job == job && !queue.v[i].cancelled) {
      queue.v[i].cancelled = 1;
      return 0;
    }
  }
  return ERR_INVAL;
}

void fake_exec_drain(void) {
  while (queue.head < queue.n) {
    qjob q = queue.v[queue.head++];
    if (!q.cancelled)
      q.job->work(q.job);
    q.job->done(q.job, q.cancelled ? ERR_CANCELLED : 0);
  }
  queue.head = queue.n = 0;
}

exec fake_exec_now = EXEC_NOW_INIT;
exec fake_exec_queued = {q_submit, q_cancel, NULL, 0, 0};

/* ---- virtual clock ---- */

struct timer {
  uint64_t due;
  timer_cb cb;
  void *arg;
  timer *next;
};

static timer *timers;
uint64_t fake_now_ms;

static timer *t_start(timer_src *src, uint64_t ms, timer_cb cb, void *arg) {
  (void)src;
  timer *t = malloc(sizeof *t);
  if (!t)
    return NULL;
  t->due = ms > UINT64_MAX - fake_now_ms ? UINT64_MAX : fake_now_ms + ms;
  t->cb = cb;
  t->arg = arg;
  t->next = timers;
  timers = t;
  return t;
}

static void t_stop(timer_src *src, timer *t) {
  (void)src;
  if (!t)
    return;
  for (timer **p = &timers; *p; p = &(*p)->next) {
    if (*p == t) {
      *p = t->next;
      free(t);
      return;
    }
  }
  FAKE_CHECK(!"timer stopped twice or after it fired");
}

static uint64_t t_now(timer_src *src) {
  (void)src;
  return fake_now_ms;
}

timer_src fake_timers = {t_start, t_stop, t_now, NULL};

void fake_timers_fire(void) {
  for (;;) {
    timer **p = &timers, *t = NULL;
    for (; *p; p = &(*p)->next) {
      if ((*p)->due <= fake_now_ms) {
        t = *p;
        *p = t->next;
        break;
      }
    }
    if (!t)
      return;
    t->cb(t->arg);
    free(t); /* the timer frees itself after firing */
  }
}

int fake_timers_idle(void) { return timers == NULL; }

/* ---- the fake socket ---- */

static void io_want_write(void *io) {
  fake_conn *fc = io;
  fc->want_writes++;
}

static void io_read(void *io, int on) {
  fake_conn *fc = io;
  fc->reading = on;
}

static void io_timer_start(void *io, conn_timer t, uint64_t ms) {
  fake_conn *fc = io;
  fc->timer_on[t] = 1;
  fc->timer_due[t] = ms > UINT64_MAX - fake_now_ms ? UINT64_MAX : fake_now_ms + ms;
}

static void io_timer_stop(void *io, conn_timer t) {
  fake_conn *fc = io;
  fc->timer_on[t] = 0;
}

/* As src/loop: conn_close at once, the memory later (fake_conn_free). */
static void io_close(void *io) {
  fake_conn *fc = io;
  if (fc->closed)
    return;
  fc->closed = 1;
  fc->timer_on[CONN_TIMER_IDLE] = fc->timer_on[CONN_TIMER_KEEPALIVE] = 0;
  conn_close(fc->c);
}

static uint64_t io_now_ns(void *io) {
  (void)io;
  return fake_now_ms * 1000000u;
}

static const conn_io fake_io = {io_want_write, io_read,  io_timer_start,
                                io_timer_stop, io_close, io_now_ns};

/* ---- the server ---- */

static fake_server *current; /* for rest's transport (single thread) */

/* rest answers through src/conn's transport; counted on the way. */
static int rest_respond(void *ud, int status, const hdr *h, size_t n, const uint8_t *body,
                        size_t len) {
  FAKE_CHECK(status >= 100 && status < 600);
  current->answers++;
  return conn_rest_transport.respond(ud, status, h, n, body, len);
}

static void rest_note(void *ud, const char *ocr_status, const char *details,
                      double queue_ms, double ocr_ms) {
  conn_rest_transport.note(ud, ocr_status, details, queue_ms, ocr_ms);
}

static const rest_transport rest_tr = {.respond = rest_respond, .note = rest_note};

void fake_server_init(fake_server *fs, int argc, char **argv, int queued) {
  memset(fs, 0, sizeof *fs);
  char *env[] = {NULL};
  char err[256];
  if (config_load(&fs->cfg, argc, argv, env, stderr, err, sizeof err)) {
    fprintf(stderr, "config: %s\n", err);
    abort();
  }
  ocr_config oc = {.kind = OCR_KIND_MOCK,
                   .image_root = fs->cfg.image_root,
                   .default_language = fs->cfg.language,
                   .max_pixels = fs->cfg.max_pixels};
  FAKE_CHECK(ocr_engine_new(&oc, &fs->engine) == 0);
  /* The mock engine reads image headers with leptonica, which would print
   * every bad header to stderr. */
  ocr_quiet();
  FAKE_CHECK(jobs_memory_new(fs->cfg.job_ttl_seconds * 1000, &fs->jobs) == 0);
  fs->queued = queued;
  fs->rpc = rpc_server_new(&fs->cfg, fs->engine, queued ? &fake_exec_queued : &fake_exec_now,
                           &conn_rpc_transport);
  rpc_server_set_timers(fs->rpc, &fake_timers);
  rpc_server_set_jobs(fs->rpc, fs->jobs);
  fs->rest = rest_server_new(&fs->cfg, rpc_server_app(fs->rpc), &rest_tr);
  conn_ctx_init(&fs->ctx, &fs->cfg, &fake_io);
  fs->ctx.rpc = fs->rpc;
  fs->ctx.rest = fs->rest;
  fake_now_ms = 0;
  current = fs;
}

void fake_server_free(fake_server *fs) {
  FAKE_CHECK(rpc_server_calls(fs->rpc) == 0);
  FAKE_CHECK(rest_server_busy(fs->rest) == 0);
  FAKE_CHECK(fake_timers_idle());
  rest_server_free(fs->rest);
  rpc_server_free(fs->rpc);
  jobs_free(fs->jobs);
  ocr_engine_free(fs->engine);
  current = NULL;
}

/* ---- a connection ---- */

void fake_conn_open(fake_conn *fc, fake_server *fs, conn_proto how) {
  memset(fc, 0, sizeof *fc);
  fc->fs = fs;
  fc->reading = 1;
  fc->take = SIZE_MAX;
  fc->written = (buf)BUF_INIT;
  fc->c = conn_new(&fs->ctx, fc, 1, "127.0.0.1:40000");
  conn_start(fc->c, how);
}

size_t fake_conn_flush(fake_conn *fc) {
  size_t total = 0;
  buf *out = conn_output(fc->c);
  while (!fc->closed) {
    if (conn_pull(fc->c, 0))
      break;
    if (out->len == 0) {
      conn_written(fc->c);
      break;
    }
    size_t n = out->len < fc->take ? out->len : fc->take;
    if (n == 0)
      break; /* the peer reads nothing: the rest waits */
    buf_append(&fc->written, out->data, n);
    buf_consume(out, n);
    total += n;
    if (fc->take != SIZE_MAX)
      break; /* a partial write: the socket is full until the next flush */
  }
  return total;
}

void fake_conn_settle(fake_conn *fc) {
  if (fc->fs->queued)
    fake_exec_drain();
  fake_conn_flush(fc);
}

void fake_conn_advance(fake_conn *fc, uint64_t ms) {
  fake_now_ms = ms > UINT64_MAX - fake_now_ms ? UINT64_MAX : fake_now_ms + ms;
  fake_timers_fire();
  /* Each at most once: a timer restarted at the end of time is due again. */
  for (int t = 0; t < CONN_NTIMERS && !fc->closed; t++) {
    if (fc->timer_on[t] && fc->timer_due[t] <= fake_now_ms) {
      fc->timer_on[t] = 0;
      conn_timeout(fc->c, (conn_timer)t);
    }
  }
  fake_conn_settle(fc);
}

void fake_conn_free(fake_conn *fc) {
  io_close(fc);
  if (fc->fs->queued)
    fake_exec_drain(); /* cancelled work comes back, like libuv's after_work */
  conn_free(fc->c);
  fc->c = NULL;
  buf_free(&fc->written);
}
