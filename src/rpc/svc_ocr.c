/* SPDX-License-Identifier: MIT */
/* ocr.OCRService: ExtractText translates the request into one
 * recognition of the app layer (src/app: read, cache, engine, store) and
 * its result into an OCRResponse; CheckHealth answers at once. Also the
 * response helpers batches share (metadata, OCRResponse). Loop thread. */
#include <pb_decode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "base/version.h"
#include "base/ocrpc_alloc.h"
#include "base/text.h"
#include "health.pb.h"
#include "llm/llm_backend.h"
#include "rpc_internal.h"
#include "rpc_options.h"

/* Ownership: created by the handler on the loop thread; `r.in` points
 * into `req`; freed in extract_done, the one place, whether or not the
 * call still exists. */
typedef struct extract_job {
  app_recog r;    /* first: app hands back &r */
  rpc_call *call; /* NULL once the call has gone */
  rpc_server *srv;
  ocr_OCRRequest *req;
  /* x-request-id: the call is recorded in the job store under it, as a
   * batch of one, so a worker that lost the answer can poll it. */
  char request_id[129];
} extract_job;

static void job_free(extract_job *job) {
  pb_release(ocr_OCRRequest_fields, job->req);
  free(job->req);
  app_recog_clear(&job->r);
  free(job);
}

static void kv_add_n(rpc_kv *kv, const char *key, size_t klen, const char *value,
                     size_t vlen) {
  kv->e[kv->n].key = (char *)key;
  kv->e[kv->n].value = (char *)value;
  kv->klen[kv->n] = klen;
  kv->vlen[kv->n] = vlen;
  kv->n++;
}

static size_t slen(const char *s) { return s ? strlen(s) : 0; }

/* Keys are literals here: their length is a constant. */
#define kv_add(kv, key, value) kv_add_n((kv), (key), sizeof(key) - 1, (value), slen(value))

void rpc__kv_add(rpc_kv *kv, const char *key, const char *value) {
  kv_add_n(kv, key, slen(key), value, slen(value));
}

#define kv_addi(kv, key, v) kv_addi_n((kv), (key), sizeof(key) - 1, (v))
#define kv_add_ms(kv, key, ms) kv_add_ms_n((kv), (key), sizeof(key) - 1, (ms))

_Static_assert(sizeof(((rpc_kv *)0)->buf[0]) > TEXT_MS_MAX, "a number and its NUL fit");

static void kv_addi_n(rpc_kv *kv, const char *key, size_t klen, int v) {
  char *b = kv->buf[kv->nbuf++];
  char *p = b;
  if (v < 0)
    *p++ = '-';
  p = text_put_u64(p, v < 0 ? 0u - (unsigned)v : (unsigned)v);
  *p = 0;
  kv_add_n(kv, key, klen, b, (size_t)(p - b));
}

static void kv_add_ms_n(rpc_kv *kv, const char *key, size_t klen, double ms) {
  char *b = kv->buf[kv->nbuf++];
  char *p = text_put_ms(b, ms);
  *p = 0;
  kv_add_n(kv, key, klen, b, (size_t)(p - b));
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
  if (r->pages > 1)
    kv_addi(kv, "pages", r->pages);
  if (r->orientation > 1)
    kv_addi(kv, "exif_orientation", r->orientation);
  if (r->parts > 0) {
    kv_addi(kv, "parts", r->parts);
    kv_addi(kv, "part_workers", r->part_workers);
  }
  if (r->timed) {
    kv_add_ms(kv, "decode_ms", r->decode_ms);
    kv_add_ms(kv, "orientation_ms", r->orientation_ms);
    kv_add_ms(kv, "layout_ms", r->layout_ms);
    kv_add_ms(kv, "recognition_ms", r->recognition_ms);
    kv_add_ms(kv, "encode_ms", r->encode_ms);
  }
}

void rpc__ocr_response(const ocr_result *r, ocr_engine *eng, double queue_ms,
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
    return;
  }
  resp->status = common_Status_STATUS_SUCCESS;
  resp->text = r->text;
  resp->overall_confidence = r->confidence;
  if (r->nboxes) {
    ocr_TextBox *tb = ocrpc_calloc(r->nboxes, sizeof *tb);
    for (size_t i = 0; i < r->nboxes; i++) {
      tb[i].text = r->boxes[i].text;
      tb[i].confidence = r->boxes[i].confidence;
      tb[i].has_bbox = true;
      tb[i].bbox.coordinates = (float *)r->boxes[i].quad;
      tb[i].bbox.coordinates_count = 8;
      tb[i].page = r->boxes[i].page;
    }
    resp->text_boxes = tb;
    resp->text_boxes_count = (pb_size_t)r->nboxes;
  }
}

static void record(extract_job *job, int delivered) {
  if (!job->request_id[0])
    return;
  jobs_store *js = job->srv->app.jobs;
  if (!delivered) {
    jobs_finish(js, job->request_id, JOBS_CANCELLED, 0, 0);
    return;
  }
  jobs_result jr;
  int failed = job->r.out.err != 0;
  app_jobs_result(&job->r.out, 0, &jr);
  jobs_put_result(js, job->request_id, &jr, 1, failed);
  jobs_finish(js, job->request_id, failed ? JOBS_FAILURE : JOBS_SUCCESS, 1, failed);
}

static void extract_done(app_recog *r, int status) {
  extract_job *job = (extract_job *)r;
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
      rpc__ocr_kv(&r->out, job->srv->app.engine, app_recog_queue_ms(r), &kv);
      if (r->cache)
        kv_add(&kv, "cache", r->cache == APP_CACHE_HIT ? "hit" : "miss");
      rpc__call_note_ocr(c, &r->out, app_recog_queue_ms(r));
      buf out = BUF_INIT;
      int rc =
          rpc__ocr_response_encode(&r->out, &kv, &out, job->srv->cfg->max_message_bytes);
      if (rc)
        rpc__call_fail_err(
            c, rc,
            rc == ERR_MSG_TOO_LARGE ? "response exceeds the message size limit" : NULL);
      else if (rpc__call_send_framed(c, &out) == 0)
        rpc__call_finish(c);
      buf_free(&out);
    }
  }
  job_free(job);
}

/* The call went away: stop the work, keep the job until extract_done. */
static void extract_detach(void *work) {
  extract_job *job = work;
  /* Recorded now, while the store surely exists: at shutdown the store is
   * freed before cancelled jobs come back. */
  record(job, 0);
  job->request_id[0] = 0;
  job->call = NULL;
  if (app_recog_cancel(&job->r))
    extract_done(&job->r, ERR_CANCELLED);
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
  extract_job *job = ocrpc_calloc(1, sizeof *job);
  app_recog_init(&job->r);
  job->req = req;
  job->srv = c->srv;
  ocr_request *in = &job->r.in;
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
    ocr_result none;
    ocr_result_init(&none);
    none.err = ERR_INVAL;
    app_metrics_image(&c->srv->app, &none, -1);
    reply_invalid(c, "no image: set private_image_path, public_image_path or image_data");
    return;
  }
  in->language = req->language;
  in->confidence_threshold = req->confidence_threshold;
  in->use_angle_cls = req->use_angle_cls;
  in->psm = rpc_option_psm(&req->options, req->has_options);
  in->pdf_text = rpc_option_pdf_text(&req->options, req->has_options);
  in->timings = rpc_option_timings(&req->options, req->has_options);

  job->call = c;
  if (c->request_id[0] && c->srv->app.jobs) {
    memcpy(job->request_id, c->request_id, sizeof job->request_id);
    jobs_create(c->srv->app.jobs, job->request_id, 1);
  }
  /* Attached before starting: the recognition may end inside
   * app_recog_start, and extract_done then detaches it. */
  c->work = job;
  c->detach = extract_detach;
  int flags = APP_RECOG_INLINE;
  if (rpc_option_cache_off(&req->options, req->has_options))
    flags |= APP_RECOG_NO_CACHE;
  if (app_recog_start(&c->srv->app, &job->r, flags, extract_done)) {
    c->work = NULL;
    job_free(job);
    rpc__call_fail(c, RPC_UNAVAILABLE, "the server cannot take work now");
  }
}

/* The guide's CheckHealth answers from grpc.health.v1's state, so the two
 * agree (during a drain, for llm.LLMService). The guide's short names
 * ("OCRService", "LLMService") are its package-qualified ones; a name
 * grpc.health.v1 does not know gets the whole server's state, as the
 * guide's servicer, which ignores the name, would. */
static int check_health_status(const rpc_server *srv, const char *name) {
  char full[80];
  if (name && (strcmp(name, "OCRService") == 0 || strcmp(name, "LLMService") == 0)) {
    snprintf(full, sizeof full, "%s.%s", name[0] == 'O' ? "ocr" : "llm", name);
    name = full;
  }
  int st = rpc__service_status(srv, name ? name : "");
  if (st == grpc_health_v1_HealthCheckResponse_ServingStatus_SERVICE_UNKNOWN)
    st = rpc__service_status(srv, "");
  return st == grpc_health_v1_HealthCheckResponse_ServingStatus_SERVING
             ? common_Status_STATUS_SUCCESS
             : common_Status_STATUS_FAILURE;
}

void rpc__ocr_check_health(rpc_call *c, void *reqp) {
  ocr_HealthCheckRequest *hreq = reqp;
  int status = check_health_status(c->srv, hreq->service_name);
  ocr_HealthCheckResponse resp = ocr_HealthCheckResponse_init_zero;
  resp.status = (common_Status)status;
  resp.engine_type = (char *)ocr_engine_name(c->srv->app.engine);
  resp.model_loaded = true;
  resp.version = (char *)OCRPC_VERSION;
  /* service_name "llm.LLMService" (or "LLMService"): the analysis
   * service's engine, and whether it can answer. */
  const char *name = hreq->service_name ? hreq->service_name : "";
  if (!strcmp(name, "llm.LLMService") || !strcmp(name, "LLMService")) {
    resp.engine_type =
        (char *)(c->srv->llm ? llm_service_default_engine(c->srv->llm) : "none");
    resp.model_loaded = status == common_Status_STATUS_SUCCESS;
  }
  rpc__call_reply(c, ocr_HealthCheckResponse_fields, &resp);
  pb_release(ocr_HealthCheckRequest_fields, reqp);
  free(reqp);
}
