/* SPDX-License-Identifier: MIT */
/* The one recognition path of every front door. Without the result cache
 * a recognition is one trip to a worker; with it, up to four steps: read
 * and hash the image on a worker, ask the job store on the loop, on a miss
 * recognise the bytes already read on a worker, then store the result.
 * Loop thread, except recog_work and read_work (worker thread). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

void app_init(app *a, const config *cfg, ocr_engine *engine, exec *ex) {
  memset(a, 0, sizeof *a);
  a->cfg = cfg;
  a->engine = engine;
  a->ex = ex;
  a->cache_on = config_result_cache_on(cfg);
  a->cache_ttl_ms = cfg->result_cache_ttl_seconds * 1000;
}

void app_recog_init(app_recog *r) {
  memset(r, 0, sizeof *r);
  ocr_result_init(&r->out);
  r->in.psm = -1;
  r->in.cancel = &r->_cancel;
}

void app_recog_clear(app_recog *r) {
  ocr_result_clear(&r->out);
  free(r->_bytes);
  r->_bytes = NULL;
  r->_len = 0;
}

double app_recog_queue_ms(const app_recog *r) {
  if (!r->_t_started_ns)
    return 0;
  return (double)(r->_t_started_ns - r->_t_queued_ns + r->_waited_ns) / 1e6;
}

void app_jobs_result(const ocr_result *r, int32_t index, jobs_result *jr) {
  memset(jr, 0, sizeof *jr);
  jr->index = index;
  jr->ok = r->err == 0;
  if (r->err == 0) {
    jr->text = r->text ? r->text : "";
    jr->confidence = r->confidence;
  } else {
    jr->error_code = "OCR_ERROR";
    jr->error_message = r->error_message ? r->error_message : err_text(r->err);
    jr->error_details = err_name(r->err);
  }
}

/* ---- the result cache ---------------------------------------------------- */

/* Worker thread. */
int app__cache_read(ocr_engine *eng, app_recog *r) {
  const ocr_request *in = &r->in;
  ocr_result *out = &r->out;
  int rc = ocr_engine_read(eng, in, &r->_bytes, &r->_len, out);
  if (rc)
    return rc;
  const uint8_t *data = r->_bytes ? r->_bytes : in->data;
  size_t len = r->_bytes ? r->_len : in->data_len;
  /* The options as the engine will use them, so that requests that differ
   * only in spelling ("korean" and "kor", threshold 0 and 0.5) share an
   * entry, and the engine and its version, so that servers of another
   * engine sharing the store never answer for this one. The image length
   * comes last: the suffix is then read unambiguously from the end. */
  float threshold = in->confidence_threshold > 0 ? in->confidence_threshold : 0.5f;
  char suffix[256];
  int n = snprintf(suffix, sizeof suffix,
                   "\n"
                   "ocrpc-cache-2 engine=%s/%s lang=%s threshold=%.9g angle=%d psm=%d "
                   "pdf_text=%d bytes=%zu",
                   ocr_engine_name(eng), ocr_engine_version(eng), out->language,
                   (double)threshold, in->use_angle_cls ? 1 : 0, in->psm,
                   in->pdf_text ? 1 : 0, len);
  sha256_ctx h;
  uint8_t digest[SHA256_DIGEST_LEN];
  sha256_init(&h);
  sha256_update(&h, data, len);
  sha256_update(&h, suffix, n > 0 && (size_t)n < sizeof suffix ? (size_t)n : 0);
  sha256_final(&h, digest);
  sha256_hex(digest, r->_key);
  return 0;
}

void app__cache_store(app *a, const app_recog *r) {
  if (r->out.err || r->cache != APP_CACHE_MISS || !a->jobs)
    return;
  uint8_t *data;
  size_t len;
  if (ocr_result_pack(&r->out, &data, &len) == 0)
    jobs_cache_put(a->jobs, r->_key, data, len, a->cache_ttl_ms);
  free(data);
}

/* ---- the steps ------------------------------------------------------------ */

/* Hands the outcome to the owner; a fresh result of a miss is stored
 * first, unless the owner has gone. */
static void finish(app_recog *r, int status) {
  if (status == 0 && !r->_cancel && r->cache == APP_CACHE_MISS)
    app__cache_store(r->_app, r);
  if (status == 0)
    app_metrics_image(r->_app, &r->out,
                      r->cache == APP_CACHE_HIT ? -1 : app_recog_queue_ms(r));
  r->_done(r, status);
}

/* Worker thread. */
static void recog_work(exec_job *ej) {
  app_recog *r = (app_recog *)ej;
  r->_t_started_ns = clock_mono_ns();
  ocr_engine_run(r->_app->engine, &r->in, &r->out);
}

static void recog_done(exec_job *ej, int status) { finish((app_recog *)ej, status); }

/* Worker thread. Step 1 of a cached recognition. */
static void read_work(exec_job *ej) {
  app_recog *r = (app_recog *)ej;
  r->_t_started_ns = clock_mono_ns();
  app__cache_read(r->_app->engine, r);
}

/* Counts and logs (debug) the store's answer: 1 for a hit whose value
 * unpacked into r->out, 0 for a miss (not stored, unreadable, or the store
 * unreachable: the recognition then runs as without the cache). */
static int cache_answer(app_recog *r, int err, const uint8_t *data, size_t len) {
  app *a = r->_app;
  r->_store_req = NULL;
  if (err == 0 && ocr_result_unpack(data, len, &r->out) == 0) {
    a->cache_hits++;
    r->cache = APP_CACHE_HIT;
    log_debug("result cache hit %.16s (%zu bytes)", r->_key, len);
    return 1;
  }
  a->cache_misses++;
  r->cache = APP_CACHE_MISS;
  log_debug("result cache miss %.16s (%s)", r->_key,
            err ? err_name(err) : "unreadable value");
  return 0;
}

/* Step 2's answer; may run inside jobs_cache_get. */
static void on_cache(void *arg, int err, const uint8_t *data, size_t len) {
  app_recog *r = arg;
  if (cache_answer(r, err, data, len) || r->_cancel) {
    finish(r, r->_cancel ? ERR_CANCELLED : 0);
    return;
  }
  /* Step 3: recognise exactly the bytes step 1 read and hashed (and read
   * no file again). */
  ocr_result_init(&r->out);
  if (r->_bytes) {
    r->in.data = r->_bytes;
    r->in.data_len = r->_len;
    r->in.path = NULL;
  }
  r->_waited_ns += r->_t_started_ns - r->_t_queued_ns;
  r->_t_queued_ns = clock_mono_ns();
  r->_ej.work = recog_work;
  r->_ej.done = recog_done;
  if (r->_app->ex->submit(r->_app->ex, &r->_ej))
    finish(r, ERR_UNAVAILABLE);
}

/* Step 1 is back: a failure (the image cannot be read) is the answer as
 * without the cache; otherwise step 2 asks the store. */
static void read_done(exec_job *ej, int status) {
  app_recog *r = (app_recog *)ej;
  if (r->_cancel || status || r->out.err) {
    finish(r, status);
    return;
  }
  /* The store may answer inside jobs_cache_get (and the owner free r):
   * the handle is kept only when the answer is still to come. */
  void *req = jobs_cache_get(r->_app->jobs, r->_key, on_cache, r);
  if (req)
    r->_store_req = req;
}

int app_recog_start(app *a, app_recog *r, int flags, app_recog_cb done) {
  r->_app = a;
  r->_done = done;
  r->_t_queued_ns = clock_mono_ns();
  if (a->cache_on && a->jobs && !(flags & APP_RECOG_NO_CACHE)) {
    r->_ej.work = read_work;
    r->_ej.done = read_done;
  } else {
    r->_ej.work = recog_work;
    r->_ej.done = recog_done;
    if ((flags & APP_RECOG_INLINE) && a->inline_instant &&
        ocr_engine_is_instant(a->engine)) {
      /* The mock engine never blocks: a trip through the worker pool
       * would only measure thread hand-off, not the front door. */
      recog_work(&r->_ej);
      finish(r, 0);
      return 0;
    }
  }
  return a->ex->submit(a->ex, &r->_ej) ? ERR_UNAVAILABLE : 0;
}

int app_recog_cancel(app_recog *r) {
  r->_cancel = 1;
  if (r->_store_req) {
    /* Waiting for the store, not for a worker: nothing else will hand
     * the recognition back, so it ends here. */
    jobs_cache_cancel(r->_app->jobs, r->_store_req);
    r->_store_req = NULL;
    return 1;
  }
  r->_app->ex->cancel(r->_app->ex, &r->_ej);
  return 0;
}
