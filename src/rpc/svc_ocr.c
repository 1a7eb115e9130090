/* SPDX-License-Identifier: MIT */
/* ocr.OCRService: ExtractText runs one recognition on a worker thread
 * through the executor and answers from the done callback; CheckHealth
 * answers at once. With the result cache on, the image is first read and
 * hashed on a worker, the store is asked on the loop, and only a miss is
 * recognised (the steps are shared with batches: rpc__cache_*). Loop
 * thread, except extract_work, read_work and rpc__cache_read (worker
 * thread). */
#include <pb_decode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "base/version.h"
#include "rpc_internal.h"

/* Ownership: created by the handler on the loop thread; `in` and `req` are
 * only read by the worker, `out` (and cd's bytes and key) only written by
 * it until done; freed in extract_done, the one place, whether or not the
 * call still exists. With the cache on, the job goes to a worker up to
 * twice (read, then recognise) and waits for the store in between
 * (cd->req set): whoever holds it when it ends calls extract_done. */
typedef struct extract_job {
  exec_job ej;    /* first: the executor hands back &ej */
  rpc_call *call; /* NULL once the call has gone */
  rpc_server *srv;
  ocr_OCRRequest *req;
  ocr_request in;
  ocr_result out;
  volatile int cancel;
  uint64_t t_queued_ns, t_started_ns;
  /* With the result cache on only (NULL otherwise: the path without the
   * cache stays as it was). */
  rpc_cached *cd;
  /* x-request-id: the call is recorded in the job store under it, as a
   * batch of one, so a worker that lost the answer can poll it. */
  char request_id[129];
} extract_job;

uint64_t rpc__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Worker thread. */
static void extract_work(exec_job *ej) {
  extract_job *job = (extract_job *)ej;
  job->t_started_ns = rpc__now_ns();
  ocr_engine_run(job->srv->engine, &job->in, &job->out);
}

static void job_free(extract_job *job) {
  pb_release(ocr_OCRRequest_fields, job->req);
  free(job->req);
  ocr_result_clear(&job->out);
  if (job->cd) {
    rpc__cache_clear(job->cd);
    free(job->cd);
  }
  free(job);
}

static void kv_add(rpc_kv *kv, const char *key, const char *value) {
  kv->e[kv->n].key = (char *)key;
  kv->e[kv->n].value = (char *)value;
  kv->n++;
}

void rpc__kv_add(rpc_kv *kv, const char *key, const char *value) { kv_add(kv, key, value); }

/* ---- the result cache, shared with batches ------------------------------ */

/* Worker thread. */
int rpc__cache_read(ocr_engine *eng, const ocr_request *in, rpc_cached *cd,
                    ocr_result *out) {
  int rc = ocr_engine_read(eng, in, &cd->bytes, &cd->len, out);
  if (rc)
    return rc;
  const uint8_t *data = cd->bytes ? cd->bytes : in->data;
  size_t len = cd->bytes ? cd->len : in->data_len;
  /* The options as the engine will use them, so that requests that differ
   * only in spelling ("korean" and "kor", threshold 0 and 0.5) share an
   * entry, and the engine and its version, so that servers of another
   * engine sharing the store never answer for this one. The image length
   * comes last: the suffix is then read unambiguously from the end. */
  float threshold = in->confidence_threshold > 0 ? in->confidence_threshold : 0.5f;
  char suffix[256];
  int n = snprintf(suffix, sizeof suffix,
                   "\n"
                   "ocrpc-cache-1 engine=%s/%s lang=%s threshold=%.9g angle=%d psm=%d "
                   "bytes=%zu",
                   ocr_engine_name(eng), ocr_engine_version(eng), out->language,
                   (double)threshold, in->use_angle_cls ? 1 : 0, in->psm, len);
  sha256_ctx h;
  uint8_t digest[SHA256_DIGEST_LEN];
  sha256_init(&h);
  sha256_update(&h, data, len);
  sha256_update(&h, suffix, n > 0 && (size_t)n < sizeof suffix ? (size_t)n : 0);
  sha256_final(&h, digest);
  sha256_hex(digest, cd->key);
  return 0;
}

void rpc__cache_use_bytes(rpc_cached *cd, ocr_request *in) {
  if (cd->bytes) {
    in->data = cd->bytes;
    in->data_len = cd->len;
    in->path = NULL;
  }
}

int rpc__cache_answer(rpc_server *srv, rpc_cached *cd, int err, const uint8_t *data,
                      size_t len, ocr_result *out) {
  cd->req = NULL;
  if (err == 0 && ocr_result_unpack(data, len, out) == 0) {
    srv->cache_hits++;
    cd->state = RPC_CACHE_HIT;
    log_debug("result cache hit %.16s (%zu bytes)", cd->key, len);
    return 1;
  }
  /* An unreachable store or a value this version cannot read is a miss:
   * the recognition runs as without the cache. */
  srv->cache_misses++;
  cd->state = RPC_CACHE_MISS;
  log_debug("result cache miss %.16s (%s)", cd->key,
            err ? err_name(err) : "unreadable value");
  return 0;
}

void rpc__cache_store(rpc_server *srv, const rpc_cached *cd, const ocr_result *r) {
  if (r->err || cd->state != RPC_CACHE_MISS || !srv->jobs)
    return;
  uint8_t *data;
  size_t len;
  if (ocr_result_pack(r, &data, &len) == 0)
    jobs_cache_put(srv->jobs, cd->key, data, len, srv->cache_ttl_ms);
  free(data);
}

void rpc__cache_clear(rpc_cached *cd) {
  free(cd->bytes);
  cd->bytes = NULL;
  cd->len = 0;
}

/* Writes v in decimal at dst; returns the length. Formats without
 * printf: this runs for every response. */
static size_t fmt_ulong(char *dst, unsigned long v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++)
    dst[i] = tmp[n - 1 - i];
  return n;
}

static void kv_addi(rpc_kv *kv, const char *key, int v) {
  char *b = kv->buf[kv->nbuf++];
  size_t n = 0;
  if (v < 0)
    b[n++] = '-';
  n += fmt_ulong(b + n, v < 0 ? 0u - (unsigned)v : (unsigned)v);
  b[n] = 0;
  kv_add(kv, key, b);
}

/* Milliseconds with three decimals: "12.345". */
static void kv_add_ms(rpc_kv *kv, const char *key, double ms) {
  unsigned long us = ms > 0 ? (unsigned long)(ms * 1000.0 + 0.5) : 0;
  char *b = kv->buf[kv->nbuf++];
  size_t n = fmt_ulong(b, us / 1000);
  unsigned frac = (unsigned)(us % 1000);
  b[n++] = '.';
  b[n++] = (char)('0' + frac / 100);
  b[n++] = (char)('0' + frac / 10 % 10);
  b[n++] = (char)('0' + frac % 10);
  b[n] = 0;
  kv_add(kv, key, b);
}

void rpc__ocr_kv(const ocr_result *r, ocr_engine *eng, double queue_ms, rpc_kv *kv) {
  kv_add(kv, "engine", ocr_engine_name(eng));
  kv_add(kv, "engine_version", ocr_engine_version(eng));
  if (r->language[0])
    kv_add(kv, "language", r->language);
  kv_addi(kv, "image_width", r->width);
  kv_addi(kv, "image_height", r->height);
  kv_add_ms(kv, "queue_ms", queue_ms);
  kv_add_ms(kv, "ocr_ms", r->ocr_ms);
  kv_addi(kv, "rotation", r->rotation);
}

int rpc__ocr_response(const ocr_result *r, ocr_engine *eng, double queue_ms,
                      ocr_OCRResponse *resp, rpc_kv *kv) {
  rpc__ocr_kv(r, eng, queue_ms, kv);
  resp->has_metadata = true;
  resp->metadata.data = kv->e;
  resp->metadata.data_count = (pb_size_t)kv->n;

  if (r->err) {
    resp->status = common_Status_STATUS_FAILURE;
    resp->has_error = true;
    resp->error.code = (char *)"OCR_ERROR";
    resp->error.message = r->error_message ? r->error_message : (char *)err_text(r->err);
    resp->error.details = (char *)err_name(r->err);
    return 0;
  }
  resp->status = common_Status_STATUS_SUCCESS;
  resp->text = r->text;
  resp->overall_confidence = r->confidence;
  if (r->nboxes) {
    ocr_TextBox *tb = calloc(r->nboxes, sizeof *tb);
    if (!tb)
      return ERR_NOMEM;
    for (size_t i = 0; i < r->nboxes; i++) {
      tb[i].text = r->boxes[i].text;
      tb[i].confidence = r->boxes[i].confidence;
      tb[i].has_bbox = true;
      tb[i].bbox.coordinates = (float *)r->boxes[i].quad;
      tb[i].bbox.coordinates_count = 8;
    }
    resp->text_boxes = tb;
    resp->text_boxes_count = (pb_size_t)r->nboxes;
  }
  return 0;
}

void rpc__jobs_result(const ocr_result *r, int32_t index, jobs_result *jr) {
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

static void record(extract_job *job, int delivered) {
  if (!job->request_id[0])
    return;
  jobs_store *js = job->srv->jobs;
  if (!delivered) {
    jobs_finish(js, job->request_id, JOBS_CANCELLED, 0, 0);
    return;
  }
  jobs_result jr;
  int failed = job->out.err != 0;
  rpc__jobs_result(&job->out, 0, &jr);
  jobs_put_result(js, job->request_id, &jr, 1, failed);
  jobs_finish(js, job->request_id, failed ? JOBS_FAILURE : JOBS_SUCCESS, 1, failed);
}

static void extract_done(exec_job *ej, int status) {
  extract_job *job = (extract_job *)ej;
  rpc_call *c = job->call;
  record(job, c && status == 0);
  if (c) {
    c->work = NULL;
    if (status) {
      rpc__call_fail(c, RPC_UNAVAILABLE,
                     status == ERR_CANCELLED ? "the server is shutting down"
                                             : "the server cannot take work now");
    } else {
      rpc_kv kv = {0};
      double queue_ms = (double)(job->t_started_ns - job->t_queued_ns) / 1e6;
      if (job->cd && job->cd->state) {
        queue_ms += (double)job->cd->queued_ns / 1e6;
        rpc__ocr_kv(&job->out, job->srv->engine, queue_ms, &kv);
        kv_add(&kv, "cache", job->cd->state == RPC_CACHE_HIT ? "hit" : "miss");
        rpc__cache_store(job->srv, job->cd, &job->out); /* misses that succeeded */
      } else {
        rpc__ocr_kv(&job->out, job->srv->engine, queue_ms, &kv);
      }
      rpc__call_note_ocr(c, &job->out, queue_ms);
      rpc__metrics_image(job->srv, &job->out, queue_ms,
                         job->cd && job->cd->state == RPC_CACHE_HIT);
      buf out = BUF_INIT;
      int rc =
          rpc__ocr_response_encode(&job->out, &kv, &out, job->srv->cfg->max_message_bytes);
      if (rc)
        rpc__call_fail(c, rc == ERR_MSG_TOO_LARGE ? RPC_RESOURCE_EXHAUSTED : RPC_INTERNAL,
                       rc == ERR_MSG_TOO_LARGE ? "response exceeds the message size limit"
                                               : "out of memory");
      else if (rpc__call_send_framed(c, &out) == 0)
        rpc__call_finish(c);
      buf_free(&out);
    }
  }
  job_free(job);
}

/* Worker thread. Step 1 of a cached recognition. */
static void read_work(exec_job *ej) {
  extract_job *job = (extract_job *)ej;
  job->t_started_ns = rpc__now_ns();
  rpc__cache_read(job->srv->engine, &job->in, job->cd, &job->out);
}

/* Step 2's answer; may run inside jobs_cache_get. */
static void on_cache(void *arg, int err, const uint8_t *data, size_t len) {
  extract_job *job = arg;
  rpc_call *c = job->call;
  if (rpc__cache_answer(job->srv, job->cd, err, data, len, &job->out) || !c) {
    extract_done(&job->ej, c ? 0 : ERR_CANCELLED);
    return;
  }
  /* Step 3: recognise the bytes step 1 read. */
  ocr_result_init(&job->out);
  rpc__cache_use_bytes(job->cd, &job->in);
  job->cd->queued_ns += job->t_started_ns - job->t_queued_ns;
  job->t_queued_ns = rpc__now_ns();
  job->ej.work = extract_work;
  job->ej.done = extract_done;
  if (job->srv->ex->submit(job->srv->ex, &job->ej))
    extract_done(&job->ej, ERR_UNAVAILABLE);
}

/* Step 1 is back: a failure (the image cannot be read) is answered as
 * without the cache; otherwise step 2 asks the store. */
static void read_done(exec_job *ej, int status) {
  extract_job *job = (extract_job *)ej;
  if (!job->call || status || job->out.err) {
    extract_done(ej, status);
    return;
  }
  /* The store may answer inside jobs_cache_get (and on_cache free the
   * job): the handle is kept only when the answer is still to come. */
  void *req = jobs_cache_get(job->srv->jobs, job->cd->key, on_cache, job);
  if (req)
    job->cd->req = req;
}

/* The call went away: stop the work, keep the job until extract_done. */
static void extract_detach(void *work) {
  extract_job *job = work;
  /* Recorded now, while the store surely exists: at shutdown the store is
   * freed before cancelled jobs come back. */
  record(job, 0);
  job->request_id[0] = 0;
  job->call = NULL;
  job->cancel = 1;
  if (job->cd && job->cd->req) {
    /* Waiting for the store, not for a worker: nothing else will hand the
     * job back, so it ends here. */
    jobs_cache_cancel(job->srv->jobs, job->cd->req);
    job->cd->req = NULL;
    extract_done(&job->ej, ERR_CANCELLED);
    return;
  }
  job->srv->ex->cancel(job->srv->ex, &job->ej);
}

static int option_int(const ocr_OCRRequest *req, const char *key, int def) {
  if (!req->has_options)
    return def;
  for (pb_size_t i = 0; i < req->options.data_count; i++) {
    const common_Metadata_DataEntry *e = &req->options.data[i];
    if (e->key && e->value && strcmp(e->key, key) == 0) {
      char *end;
      long v = strtol(e->value, &end, 10);
      if (end != e->value && *end == 0 && v >= 0 && v <= 13)
        return (int)v;
    }
  }
  return def;
}

static void reply_invalid(rpc_call *c, const char *message) {
  ocr_OCRResponse resp = ocr_OCRResponse_init_zero;
  resp.status = common_Status_STATUS_FAILURE;
  resp.has_error = true;
  resp.error.code = (char *)"OCR_ERROR";
  resp.error.message = (char *)message;
  resp.error.details = (char *)err_name(ERR_INVAL);
  rpc__call_reply(c, ocr_OCRResponse_fields, &resp);
}

void rpc__ocr_extract_text(rpc_call *c, void *reqp) {
  ocr_OCRRequest *req = reqp;
  extract_job *job = calloc(1, sizeof *job);
  if (!job) {
    pb_release(ocr_OCRRequest_fields, req);
    free(req);
    rpc__call_fail(c, RPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  job->req = req;
  job->srv = c->srv;
  ocr_result_init(&job->out);
  ocr_request *in = &job->in;
  if (req->image_data && req->image_data->size > 0) {
    in->data = req->image_data->bytes;
    in->data_len = req->image_data->size;
  } else if (req->private_image_path && *req->private_image_path) {
    in->path = req->private_image_path;
  } else if (req->public_image_path && *req->public_image_path) {
    in->path = req->public_image_path;
  } else {
    job_free(job);
    c->ocr_status = "FAILURE";
    c->ocr_details = err_name(ERR_INVAL);
    reply_invalid(c, "no image: set private_image_path, public_image_path or image_data");
    return;
  }
  in->language = req->language;
  in->confidence_threshold = req->confidence_threshold;
  in->use_angle_cls = req->use_angle_cls;
  in->psm = option_int(req, "psm", -1);
  in->cancel = &job->cancel;

  job->ej.work = extract_work;
  job->ej.done = extract_done;
  job->call = c;
  job->t_queued_ns = rpc__now_ns();
  if (c->request_id[0] && c->srv->jobs) {
    memcpy(job->request_id, c->request_id, sizeof job->request_id);
    jobs_create(c->srv->jobs, job->request_id, 1);
  }
  /* Attached before submitting: an executor may finish the job inside
   * submit, and extract_done then detaches it. */
  c->work = job;
  c->detach = extract_detach;
  /* Without memory for the cache state the call simply runs uncached. */
  if (c->srv->cache_on && c->srv->jobs && (job->cd = calloc(1, sizeof *job->cd))) {
    job->ej.work = read_work;
    job->ej.done = read_done;
  } else if (c->srv->inline_instant && ocr_engine_is_instant(c->srv->engine)) {
    /* The mock engine never blocks: a trip through the worker pool would
     * only measure thread hand-off, not RPC overhead. */
    extract_work(&job->ej);
    extract_done(&job->ej, 0);
    return;
  }
  int rc = c->srv->ex->submit(c->srv->ex, &job->ej);
  if (rc) {
    c->work = NULL;
    job_free(job);
    rpc__call_fail(c, RPC_UNAVAILABLE, "the server cannot take work now");
  }
}

void rpc__ocr_check_health(rpc_call *c, void *reqp) {
  pb_release(ocr_HealthCheckRequest_fields, reqp);
  free(reqp);
  ocr_HealthCheckResponse resp = ocr_HealthCheckResponse_init_zero;
  resp.status = common_Status_STATUS_SUCCESS;
  resp.engine_type = (char *)ocr_engine_name(c->srv->engine);
  resp.model_loaded = true;
  resp.version = (char *)OCRPC_VERSION;
  rpc__call_reply(c, ocr_HealthCheckResponse_fields, &resp);
}
