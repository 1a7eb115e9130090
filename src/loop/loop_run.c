/* SPDX-License-Identifier: MIT */
/* Process lifetime: builds the engine, the rpc server and the listener,
 * runs the loop until SIGINT/SIGTERM, then closes every handle, lets the
 * work in flight come back (cancelled), and frees everything so that
 * uv_loop_close succeeds. Loop thread. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/access_log.h"
#include "base/auth.h"
#include "base/err.h"
#include "base/log.h"
#include "base/ocrpc_alloc.h"
#include "base/ocrpc_assert.h"
#include "loop_internal.h"
#include "loop_parts.h"
#include "loop_tls.h"
#include "jobs/jobs.h"
#include "llm/llm.h"
#include "ocr/ocr.h"
#include "loop_curl.h"

static void close_handle(uv_handle_t *h) {
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void stop(loop_server *srv) {
  if (srv->stopping)
    return;
  srv->stopping = 1;
  close_handle((uv_handle_t *)&srv->listener);
  if (srv->http_listening)
    close_handle((uv_handle_t *)&srv->http_listener);
  loop__close_all(srv);
  /* Every call is closed: the LLM calls were cancelled with them. */
  if (srv->rpc)
    rpc_server_set_llm(srv->rpc, NULL);
  llm_service_free(srv->llm);
  srv->llm = NULL;
  loop_curl_close(srv->curl);
  srv->curl = NULL;
  close_handle((uv_handle_t *)&srv->flush_check);
  close_handle((uv_handle_t *)&srv->flush_idle);
  close_handle((uv_handle_t *)&srv->sigint);
  close_handle((uv_handle_t *)&srv->sigterm);
  close_handle((uv_handle_t *)&srv->sighup);
  close_handle((uv_handle_t *)&srv->drain_timer);
  loop_parts_close(srv->parts);
  loop__metrics_stop(srv);
}

/* How long a drain whose calls all ended waits for PING ACKs (below). */
#define SHUTDOWN_ACK_GRACE_MS 5000

static void on_drain_timeout(uv_timer_t *t) {
  loop_server *srv = t->data;
  size_t busy = rpc_server_busy(srv->rpc) + rest_server_busy(srv->rest);
  if (busy)
    log_warn("drain deadline passed with %zu calls in flight: stopping them", busy);
  else
    log_info("drained; %zu connections did not acknowledge the shutdown PING: closing them",
             loop__h2_shutdown_pending(srv));
  stop(srv);
}

/* The last calls' responses are not enough to close on: a peer that read
 * the shutdown notice's PING together with its response still has the
 * PING ACK to write, and nginx (ngx_http_grpc_module) holds a finished
 * response until its control frames are out, so a close before then is
 * "upstream prematurely closed connection", RST_STREAM(INTERNAL_ERROR)
 * to its client. The ACK (or the peer's close) shows it read everything
 * we sent. A peer that does not read (an idle raw socket) must not hold
 * the drain: once the calls ended, the ACKs get SHUTDOWN_ACK_GRACE_MS
 * (within the drain deadline). */
void loop__after_flush(loop_server *srv) {
  if (!srv->draining || srv->stopping || rpc_server_busy(srv->rpc) != 0 ||
      rest_server_busy(srv->rest) != 0 || loop__h1_busy(srv) != 0)
    return;
  if (loop__h2_shutdown_pending(srv) == 0) {
    log_info("drained: every call finished");
    stop(srv);
    return;
  }
  if (!srv->ack_grace) {
    srv->ack_grace = 1;
    uint64_t left = uv_timer_get_due_in(&srv->drain_timer);
    uv_timer_start(&srv->drain_timer, on_drain_timeout,
                   left < SHUTDOWN_ACK_GRACE_MS ? left : SHUTDOWN_ACK_GRACE_MS, 0);
  }
}

/* First SIGTERM/SIGINT: stop accepting, turn health NOT_SERVING, tell
 * clients with GOAWAY, let calls in flight finish. A second one, or a
 * drain of 0 seconds, stops at once. */
static void on_signal(uv_signal_t *h, int signum) {
  loop_server *srv = h->data;
  if (srv->draining || srv->cfg->drain_seconds == 0) {
    log_info("signal %d: stopping now", signum);
    stop(srv);
    return;
  }
  srv->draining = 1;
  log_info("signal %d: draining %zu calls (up to %d s; signal again to stop now)", signum,
           rpc_server_busy(srv->rpc), srv->cfg->drain_seconds);
  close_handle((uv_handle_t *)&srv->listener);
  if (srv->http_listening)
    close_handle((uv_handle_t *)&srv->http_listener);
  rpc_server_drain(srv->rpc);
  rest_server_drain(srv->rest);
  loop__shutdown_all(srv);
  uv_timer_start(&srv->drain_timer, on_drain_timeout,
                 (uint64_t)srv->cfg->drain_seconds * 1000, 0);
}

/* Certificate and key (and client CA) read again into a new context for
 * new connections; open ones keep theirs, so none drops. A bad file keeps
 * the previous context. */
static void reload_tls(loop_server *srv) {
  if (!srv->tls_ctx)
    return;
  SSL_CTX *ctx = loop__tls_ctx_new(srv->cfg);
  if (!ctx) {
    log_error("SIGHUP: TLS files not reloaded; the previous certificate stays in use");
    return;
  }
  loop__tls_ctx_free(srv->tls_ctx);
  srv->tls_ctx = ctx;
  log_info("SIGHUP: TLS certificate %s reloaded", srv->cfg->tls_cert);
}

/* SIGHUP reloads every file the server was started with: the TLS
 * certificate and key, and the auth tokens. Without either, it does
 * nothing (and never ends the process, as the default action would). */
static void on_sighup(uv_signal_t *h, int signum) {
  (void)signum;
  loop_server *srv = h->data;
  reload_tls(srv);
  loop__auth_reload(srv);
}

/* Reads the first line of the API key file into key (the key itself is
 * never logged). 0, or 1 with the reason logged. */
static int read_key_file(const char *path, char *key, size_t size) {
  FILE *f = fopen(path, "r");
  if (!f) {
    log_error("LLM_API_KEY_FILE %s: cannot open", path);
    return 1;
  }
  if (!fgets(key, (int)size, f))
    key[0] = 0;
  fclose(f);
  key[strcspn(key, "\r\n")] = 0;
  return 0;
}

/* The analysis service: the rules engine, plus the openai engine over
 * libcurl when a base URL is set. 0, or 1 with the reason logged. */
static int start_llm(loop_server *srv, timer_src *timers) {
  const config *cfg = srv->cfg;
  char key[1024];
  snprintf(key, sizeof key, "%s", cfg->llm_api_key);
  if (cfg->llm_api_key_file[0] && read_key_file(cfg->llm_api_key_file, key, sizeof key))
    return 1;
  if (cfg->llm_base_url[0] && loop_curl_new(srv->loop, &srv->curl)) {
    log_error("cannot initialise libcurl for LLM_BASE_URL");
    return 1;
  }
  llm_service_config lc = {
      .engine = strcmp(cfg->llm_engine, "auto") ? cfg->llm_engine : "",
      .base_url = cfg->llm_base_url,
      .model = cfg->llm_model,
      .api_key = key,
      .timeout_ms = cfg->llm_timeout_ms,
      .max_concurrent = cfg->llm_max_concurrent,
      .max_queued = cfg->llm_max_queued,
  };
  char err[256];
  int rc = llm_service_new(&lc, srv->curl ? loop_curl_http(srv->curl) : NULL, timers,
                           &srv->llm, err, sizeof err);
  memset(key, 0, sizeof key);
  if (rc) {
    log_error("llm: %s", rc == ERR_CONFIG ? err : err_text(rc));
    return 1;
  }
  rpc_server_set_llm(srv->rpc, srv->llm);
  if (cfg->llm_base_url[0])
    log_info(
        "llm: engine %s, backend %s, model %s, %d in flight, %d waiting, timeout %llu ms",
        llm_service_default_engine(srv->llm), cfg->llm_base_url,
        cfg->llm_model[0] ? cfg->llm_model : "(backend default)", cfg->llm_max_concurrent,
        cfg->llm_max_queued, (unsigned long long)cfg->llm_timeout_ms);
  else
    log_info("llm: engine rules");
  return 0;
}

static void on_walk_close(uv_handle_t *h, void *arg) {
  (void)arg;
  close_handle(h);
}

/* The defaults serve the working directory to every interface: fine on a
 * laptop, not on a host with other files and other users. Said once, at
 * start, with the way out. */
static void warn_exposed_workdir(const config *cfg) {
  char root[PATH_MAX];
  if (!config_workdir_exposed(cfg, root, sizeof root))
    return;
  log_warn("the image root is the working directory (%s) and --host %s is not loopback: "
           "any client that reaches this port can read any image under it; set "
           "--image-root to a directory of images only (README: Running it in production)",
           root, cfg->host);
}

int loop_run(const config *cfg) {
  int status = 1;
  loop_pool_size(cfg->workers);
  llm_json_hooks(); /* before any thread: cJSON's allocator is global */

  loop_server *srv = ocrpc_calloc(1, sizeof *srv);
  srv->cfg = cfg;
  conn_ctx_init(&srv->cc, cfg, &loop__conn_io);

  uv_loop_t loop;
  if (uv_loop_init(&loop))
    goto fail_srv;
  srv->loop = &loop;
  if (loop__metrics_init(srv)) {
    log_error("cannot set up the metrics");
    goto fail_loop;
  }

  ocr_config oc = {
      .kind = strcmp(cfg->engine, "mock") == 0 ? OCR_KIND_MOCK : OCR_KIND_TESSERACT,
      .image_root = cfg->image_root,
      .default_language = cfg->language,
      .max_pixels = cfg->max_pixels,
      .tessdata_dir = cfg->tessdata_dir,
      .max_pages = cfg->max_pages,
      .pdf_dpi = cfg->pdf_dpi,
  };
  ocr_engine *engine = NULL;
  int rc = ocr_engine_new(&oc, &engine);
  if (rc) {
    log_error("cannot start the %s engine (image root %s, language %s): %s", cfg->engine,
              cfg->image_root, cfg->language, err_text(rc));
    goto fail_loop;
  }

  jobs_store *jobs = NULL;
  /* Redis when REDIS_URL is set (a malformed one is logged). */
  if (cfg->redis_url[0] ? loop_redis_jobs_new(cfg, &loop, &jobs)
                        : jobs_memory_new(cfg->job_ttl_seconds * 1000, &jobs))
    goto fail_engine;
  if (!cfg->redis_url[0])
    jobs_memory_set_limits(jobs, cfg->job_store_max_batches, cfg->job_store_max_bytes);

  exec ex;
  timer_src timers;
  loop_exec_init(&ex, &loop);
  /* --split-pages auto: a page read while workers are idle is read in
   * parts on them (ocr_split.c); the hook hands parts to the pool. */
  if (strcmp(cfg->split_pages, "auto") == 0 && cfg->workers > 1 &&
      !ocr_engine_is_instant(engine)) {
    if (loop_parts_new(&loop, &ex, &srv->parts))
      goto fail_jobs;
    ocr_engine_set_parts(engine, cfg->workers, loop_parts_post, srv->parts);
  }
  loop_timer_init(&timers, &loop);
  srv->rpc = rpc_server_new(cfg, engine, &ex, &conn_rpc_transport);
  rpc_server_set_timers(srv->rpc, &timers);
  rpc_server_set_inline(srv->rpc, 1);
  rpc_server_set_jobs(srv->rpc, jobs);
  srv->rest = rest_server_new(cfg, rpc_server_app(srv->rpc), &conn_rest_transport);
  srv->cc.rpc = srv->rpc;
  srv->cc.rest = srv->rest;
  if (cfg->redis_url[0])
    rest_server_set_store_probe(srv->rest, loop_redis_up, NULL);
  srv->jobs = jobs;
  rest_server_set_metrics(srv->rest, srv->metrics);
  if (rpc_server_set_metrics(srv->rpc, srv->metrics)) {
    log_error("cannot set up the metrics");
    rest_server_free(srv->rest);
    rpc_server_free(srv->rpc);
    goto fail_timers;
  }
  if (start_llm(srv, &timers)) {
    loop_curl_close(srv->curl); /* its close callback runs in the last uv_run */
    srv->curl = NULL;
    rest_server_free(srv->rest);
    rpc_server_free(srv->rpc);
    goto fail_timers;
  }

  uv_timer_init(&loop, &srv->drain_timer);
  srv->drain_timer.data = srv;
  uv_signal_init(&loop, &srv->sigint);
  uv_signal_init(&loop, &srv->sigterm);
  srv->sigint.data = srv->sigterm.data = srv;
  uv_signal_start(&srv->sigint, on_signal, SIGINT);
  uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
  uv_signal_init(&loop, &srv->sighup);
  srv->sighup.data = srv;
  uv_signal_start(&srv->sighup, on_sighup, SIGHUP);
  int tls_ok = 1;
  if (cfg->tls_cert[0]) {
    tls_ok = (srv->tls_ctx = loop__tls_ctx_new(cfg)) != NULL;
    if (tls_ok)
      log_info("TLS on: TLS 1.2+, ALPN h2 and http/1.1%s",
               cfg->tls_client_ca[0] ? ", client certificates required" : "");
  }
  loop__metrics_start(srv);
  /* Large request messages are decoded on a thread of their own. */
  exec decoder = {0};
  if (loop__decoder_init(&decoder, &loop) == 0)
    rpc_server_set_decoder(srv->rpc, &decoder);
  else
    log_warn("no decoder thread: large messages are decoded on the event loop");

  if (tls_ok && loop__auth_start(srv) == 0 && loop__listen(srv) == 0) {
    log_info("ocrpc-server: engine %s %s, %d workers, image root %s",
             ocr_engine_name(engine), ocr_engine_version(engine), cfg->workers,
             cfg->image_root);
    warn_exposed_workdir(cfg);
    if (config_result_cache_on(cfg))
      log_info("result cache on: %s store, entries kept %llu s",
               cfg->redis_url[0] ? "Redis" : "in-process",
               (unsigned long long)cfg->result_cache_ttl_seconds);
    uv_run(&loop, UV_RUN_DEFAULT);
    status = 0;
  }
  stop(srv);
  loop__decoder_close(&decoder); /* every call is closed: results dropped */
  /* The job store: no call refers to the store after stop(); freed before
   * the last run, which completes the close of Redis' poll handle. */
  jobs_free(jobs);
  jobs = NULL;
  srv->jobs = NULL;
  loop_timer_close(&timers);
  /* Close anything left (a failed listen) and let cancelled work and close
   * callbacks run to the end. */
  uv_walk(&loop, on_walk_close, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (config_result_cache_on(cfg)) {
    uint64_t hits, misses;
    rpc_server_cache_stats(srv->rpc, &hits, &misses);
    log_info("result cache: %llu hits, %llu misses", (unsigned long long)hits,
             (unsigned long long)misses);
  }
  /* Teardown: every connection closed, nothing left to flush, every job
   * the executor took has ended. */
  OCRPC_ASSERT(srv->conns == NULL && srv->nconns == 0);
  OCRPC_ASSERT(srv->dirty == NULL && srv->dirty_tail == NULL);
  OCRPC_ASSERT(ex.in_flight == 0);
  rest_server_free(srv->rest);
  rpc_server_free(srv->rpc);
  loop__tls_ctx_free(srv->tls_ctx);
  if (0) {
  fail_timers:
    loop_timer_close(&timers);
  }
fail_jobs:
  loop_parts_close(srv->parts);
  jobs_free(jobs);
  uv_run(&loop, UV_RUN_DEFAULT); /* close callbacks of what was freed */
fail_engine:
  ocr_engine_free(engine);
fail_loop:
  if (uv_loop_close(&loop)) {
    log_error("event loop still had open handles at exit");
    status = 1;
  }
  /* Every worker has ended: none can post a part any more. */
  loop_parts_free(srv->parts);
fail_srv:
  access_log_flush(); /* calls cancelled by the last runs */
  metrics_free(srv->metrics);
  auth_tokens_free(srv->auth);
  free(srv);
  return status;
}
