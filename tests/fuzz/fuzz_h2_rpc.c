/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the bytes a client sends on a connection after the
 * HTTP/2 preface, fed into a server h2_session wired to a real rpc_server
 * exactly as src/loop/loop_conn.c wires them, but in memory: the mock OCR
 * engine, the in-process job store, a virtual clock for grpc-timeout and an
 * executor that runs each job at once inside submit (src/base/exec.h allows
 * it). Single thread.
 *
 * OCRPC_FUZZ_EXEC=queued switches to an executor that queues jobs and runs
 * them after each feed, the order libuv gives; OCRPC_FUZZ_LOG=1 turns the
 * server's debug log on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/err.h"
#include "base/exec.h"
#include "base/log.h"
#include "base/timer.h"
#include "h2/h2.h"
#include "jobs/jobs.h"
#include "ocr/ocr.h"
#include "ocr/ocr_internal.h" /* ocr__image_quiet */
#include "rpc/rpc.h"

/* Input is fed in pieces of this size, as reads of a socket would hand it;
 * the virtual clock advances one millisecond per piece. */
#define FEED_CHUNK 512
#define CLOCK_STEP_MS 1

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);             \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

static const uint8_t client_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static config cfg;
static ocr_engine *engine;
static h2_settings settings;
static int queued_exec;

/* ---- the connection: what loop_conn.c keeps, minus the socket ---- */

typedef struct fconn {
  h2_session *h2;
  int closing; /* the session reported a protocol error: stop reading */
} fconn;

static int tr_respond(void *conn, int32_t sid, const hdr *h, size_t n, int end) {
  fconn *c = conn;
  return h2_respond(c->h2, sid, h, n, end);
}

static int tr_send_data(void *conn, int32_t sid, const uint8_t *d, size_t n) {
  fconn *c = conn;
  return h2_send_data(c->h2, sid, d, n);
}

static int tr_send_trailers(void *conn, int32_t sid, const hdr *h, size_t n) {
  fconn *c = conn;
  return h2_send_trailers(c->h2, sid, h, n);
}

static int tr_reset(void *conn, int32_t sid, uint32_t code) {
  fconn *c = conn;
  return h2_reset(c->h2, sid, code);
}

static size_t tr_pending(void *conn, int32_t sid) {
  fconn *c = conn;
  return h2_stream_pending(c->h2, sid); /* output is written at once */
}

static void tr_notify_drain(void *conn, int32_t sid) {
  fconn *c = conn;
  h2_stream_notify_drain(c->h2, sid);
}

/* As src/loop does: the body handed over without a copy. */
static int tr_send_buf(void *conn, int32_t sid, buf *b) {
  fconn *c = conn;
  return h2_send_buf(c->h2, sid, b);
}

static const rpc_transport transport = {
    .respond = tr_respond,
    .send_data = tr_send_data,
    .send_buf = tr_send_buf,
    .send_trailers = tr_send_trailers,
    .reset = tr_reset,
    .pending = tr_pending,
    .notify_drain = tr_notify_drain,
};

static rpc_server *rpc; /* of the input being run */

static int on_request(void *ud, int32_t sid, const hdr *hdrs, size_t n, void **sud) {
  rpc_call *call = rpc_call_start(rpc, ud, sid, hdrs, n);
  if (!call)
    return ERR_NOMEM;
  *sud = call;
  return 0;
}

static int on_data(void *ud, void *sud, const uint8_t *data, size_t len) {
  (void)ud;
  return rpc_call_data(sud, data, len);
}

static void on_end(void *ud, void *sud) {
  (void)ud;
  rpc_call_end(sud);
}

static void on_stream_close(void *ud, void *sud, uint32_t code) {
  (void)ud;
  rpc_call_close(sud, code);
}

static void on_drain(void *ud, void *sud) {
  (void)ud;
  rpc_call_drained(sud);
}

static const h2_callbacks h2_cbs = {on_request, on_data, on_end, on_stream_close, on_drain};

/* ---- executors ---- */

static int now_submit(exec *ex, exec_job *job) {
  (void)ex;
  job->work(job);
  job->done(job, 0);
  return 0;
}

static int now_cancel(exec *ex, exec_job *job) {
  (void)ex;
  (void)job;
  return ERR_INVAL; /* it already ran */
}

typedef struct qjob {
  exec_job *job;
  int cancelled;
} qjob;

typedef struct jobq {
  qjob *v;
  size_t head, n, cap;
} jobq;

static jobq queue;

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

/* Runs every queued job, and those their done callbacks queue, in order:
 * each done comes after its work and outside submit, as with libuv. */
static void q_drain(void) {
  while (queue.head < queue.n) {
    qjob q = queue.v[queue.head++];
    if (!q.cancelled)
      q.job->work(q.job);
    q.job->done(q.job, q.cancelled ? ERR_CANCELLED : 0);
  }
  queue.head = queue.n = 0;
}

static exec ex_now = {now_submit, now_cancel, NULL, 0, 0};
static exec ex_queued = {q_submit, q_cancel, NULL, 0, 0};

/* ---- a virtual clock for deadlines ---- */

struct timer {
  uint64_t due;
  timer_cb cb;
  void *arg;
  timer *next;
};

static timer *timers;
static uint64_t now_ms;

static timer *t_start(timer_src *src, uint64_t ms, timer_cb cb, void *arg) {
  (void)src;
  timer *t = malloc(sizeof *t);
  if (!t)
    return NULL;
  t->due = ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + ms;
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
  CHECK(!"timer stopped twice or after it fired");
}

static uint64_t t_now(timer_src *src) {
  (void)src;
  return now_ms;
}

static timer_src timer_source = {t_start, t_stop, t_now, NULL};

/* Fires the timers due by now, one at a time: a callback may stop others. */
static void fire_due(void) {
  for (;;) {
    timer **p = &timers, *t = NULL;
    for (; *p; p = &(*p)->next) {
      if ((*p)->due <= now_ms) {
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

/* ---- one connection ---- */

/* What the loop does after a read: run finished work, then write. */
static void settle(fconn *c) {
  if (queued_exec)
    q_drain();
  const uint8_t *out;
  ssize_t n;
  while ((n = h2_session_pull(c->h2, &out)) > 0)
    ; /* the client reads everything */
  if (n < 0)
    c->closing = 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  char *args[] = {"fuzz_h2_rpc", "--engine=mock", "--max-message-bytes=1048576",
                  "--workers=2", NULL};
  char *env[] = {NULL};
  char err[256];
  if (config_load(&cfg, 4, args, env, stderr, err, sizeof err)) {
    fprintf(stderr, "config: %s\n", err);
    abort();
  }
  const char *lv = getenv("OCRPC_FUZZ_LOG");
  log_set_level(lv && *lv == '1' ? LOG_DEBUG : LOG_ERROR + 1);
  const char *ex = getenv("OCRPC_FUZZ_EXEC");
  queued_exec = ex && strcmp(ex, "queued") == 0;

  ocr_config oc = {.kind = OCR_KIND_MOCK,
                   .image_root = cfg.image_root,
                   .default_language = cfg.language,
                   .max_pixels = cfg.max_pixels};
  CHECK(ocr_engine_new(&oc, &engine) == 0);
  /* The mock engine reads image headers with leptonica, which would print
   * every bad header to stderr. */
  ocr__image_quiet();
  settings.max_concurrent_streams = (uint32_t)cfg.max_concurrent_streams;
  settings.initial_window_size = (uint32_t)cfg.initial_window_bytes;
  settings.connection_window_size = (uint32_t)cfg.initial_window_bytes;
  settings.max_header_list_size = (uint32_t)cfg.max_header_list_bytes;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  jobs_store *jobs = NULL;
  CHECK(jobs_memory_new(cfg.job_ttl_seconds * 1000, &jobs) == 0);
  rpc = rpc_server_new(&cfg, engine, queued_exec ? &ex_queued : &ex_now, &transport);
  rpc_server_set_timers(rpc, &timer_source);
  rpc_server_set_jobs(rpc, jobs);
  now_ms = 0;

  fconn c = {0};
  CHECK(h2_session_new(&settings, &h2_cbs, &c, &c.h2) == 0);
  settle(&c); /* our SETTINGS go out first */

  if (h2_session_feed(c.h2, client_preface, sizeof client_preface - 1))
    c.closing = 1;
  settle(&c);
  for (size_t off = 0; off < size && !c.closing; off += FEED_CHUNK) {
    size_t n = size - off < FEED_CHUNK ? size - off : FEED_CHUNK;
    if (h2_session_feed(c.h2, data + off, n))
      c.closing = 1; /* write the GOAWAY, read no more */
    settle(&c);
    now_ms += CLOCK_STEP_MS;
    fire_due();
    settle(&c);
  }

  if (!c.closing) {
    /* A graceful shutdown, as on SIGTERM: health turns NOT_SERVING (Watch
     * streams hear it), GOAWAY and PING go out. */
    rpc_server_drain(rpc);
    h2_session_shutdown(c.h2);
    settle(&c);
    /* Every deadline passes while the connection is still up. */
    now_ms = UINT64_MAX;
    fire_due();
    settle(&c);
  }

  /* The connection closes: every open stream hears H2_CONNECTION_GONE. */
  h2_session_free(c.h2);
  if (queued_exec)
    q_drain(); /* cancelled work comes back, like libuv's after_work */
  CHECK(rpc_server_calls(rpc) == 0);
  CHECK(timers == NULL);
  rpc_server_free(rpc);
  rpc = NULL;
  jobs_free(jobs);
  return 0;
}
