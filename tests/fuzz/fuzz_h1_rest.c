/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the bytes a client sends on an HTTP/1.1 connection,
 * fed into an h1 session wired to a real rest server exactly as
 * src/loop/loop_h1.c wires them, but in memory: request parsing, limits,
 * routing, JSON and query decoding, the mock OCR engine through the app
 * layer with an executor that runs each job at once, the in-process job
 * store. Input is fed in pieces whose size the first byte picks, as
 * socket reads would split it. Single thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "base/config.h"
#include "base/err.h"
#include "base/exec.h"
#include "base/log.h"
#include "h1/h1.h"
#include "jobs/jobs.h"
#include "ocr/ocr.h"
#include "ocr/ocr_internal.h" /* ocr__image_quiet */
#include "rest/rest.h"

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);             \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

static config cfg;
static ocr_engine *engine;

typedef struct fconn {
  h1_session *h1;
  rest_server *rest;
  int answers;
} fconn;

static int tr_respond(void *conn, int status, const hdr *h, size_t n, const uint8_t *body,
                      size_t len) {
  fconn *c = conn;
  CHECK(status >= 100 && status < 600);
  c->answers++;
  return h1_session_respond(c->h1, status, h, n, body, len);
}

static const rest_transport transport = {.respond = tr_respond};

static void on_request(void *ud, const h1_request *r) {
  fconn *c = ud;
  rest_request rr = {.method = r->method,
                     .path = r->path,
                     .query = r->query,
                     .headers = r->headers,
                     .nheaders = r->nheaders,
                     .body = r->body,
                     .body_len = r->body_len};
  int before = c->answers;
  rest_work *w = rest_handle(c->rest, c, &rr);
  /* Everything here answers at once: the executor and the store do. */
  CHECK(w == NULL);
  CHECK(c->answers == before + 1);
}

static const h1_callbacks h1_cbs = {on_request};

static int run_now(exec *ex, exec_job *job) {
  (void)ex;
  job->work(job);
  job->done(job, 0);
  return 0;
}

static int cancel_none(exec *ex, exec_job *job) {
  (void)ex;
  (void)job;
  return ERR_INVAL;
}

static exec ex_now = {run_now, cancel_none, NULL, 0, 0};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  char *args[] = {"fuzz_h1_rest", "--engine=mock", "--max-message-bytes=65536",
                  "--max-header-list-bytes=4096", NULL};
  char *env[] = {NULL};
  char err[256];
  if (config_load(&cfg, 4, args, env, stderr, err, sizeof err)) {
    fprintf(stderr, "config: %s\n", err);
    abort();
  }
  const char *lv = getenv("OCRPC_FUZZ_LOG");
  log_set_level(lv && *lv == '1' ? LOG_DEBUG : LOG_ERROR + 1);
  ocr_config oc = {.kind = OCR_KIND_MOCK,
                   .image_root = cfg.image_root,
                   .default_language = cfg.language,
                   .max_pixels = cfg.max_pixels};
  CHECK(ocr_engine_new(&oc, &engine) == 0);
  ocr__image_quiet();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  size_t chunk = (size_t)data[0] % 64 + 1;
  data++;
  size--;
  jobs_store *jobs = NULL;
  CHECK(jobs_memory_new(3600 * 1000, &jobs) == 0);
  app a;
  app_init(&a, &cfg, engine, &ex_now);
  a.jobs = jobs;
  a.cache_on = size % 2; /* both recognition paths */
  fconn c = {0};
  c.rest = rest_server_new(&cfg, &a, &transport);
  h1_settings st = {.max_header_bytes = cfg.max_header_list_bytes,
                    .max_body_bytes = cfg.max_message_bytes};
  c.h1 = h1_session_new(&st, &h1_cbs, &c);
  buf out = BUF_INIT;
  int failed = 0;
  for (size_t off = 0; off < size && !failed; off += chunk) {
    size_t n = size - off < chunk ? size - off : chunk;
    failed = h1_session_feed(c.h1, data + off, n) != 0;
    while (!failed && h1_session_has_input(c.h1) && h1_session_phase(c.h1) != H1_WAITING) {
      size_t before = out.len;
      failed = h1_session_feed(c.h1, NULL, 0) != 0;
      h1_session_pull(c.h1, &out);
      if (out.len == before)
        break; /* a partial request kept: wait for more bytes */
    }
    h1_session_pull(c.h1, &out);
    if (h1_session_want_close(c.h1))
      break;
  }
  /* Every answer starts with a status line. */
  CHECK(out.len == 0 || memcmp(out.data, "HTTP/1.1 ", 9) == 0);
  CHECK(h1_session_phase(c.h1) != H1_WAITING);
  CHECK(rest_server_busy(c.rest) == 0);
  buf_free(&out);
  h1_session_free(c.h1);
  rest_server_free(c.rest);
  jobs_free(jobs);
  return 0;
}
