/* SPDX-License-Identifier: MIT */
/* ocr.OCRService/ExtractTextBatch: the images of a batch run in parallel
 * on the worker pool, at most `parallelism` of them unsent at a time, and
 * each result is streamed as one OCRBatchProgress in input order (a result
 * waits in the reorder buffer, rpc_reorder.h, until its predecessors are
 * sent), or as soon as it is done when the request sets completion_order.
 * A slow reader pauses the batch: results wait (bounded by the window)
 * until the stream drains, and no new image starts meanwhile. Each image
 * is one recognition of the app layer (src/app: read, cache, engine,
 * store), as ExtractText's. Batch ids still running are refused
 * (ALREADY_EXISTS). Loop thread. */
#include <pb_decode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "rpc_internal.h"
#include "rpc_options.h"
#include "rpc_reorder.h"

/* Stop sending once this much is queued on the stream and unwritten. */
#define BATCH_HIGH_WATER (256u * 1024u)

typedef struct batch batch;

/* One image. Ownership: lives in its batch's array; `r.in` points into
 * the request. An image counts as in flight (b->inflight) from its
 * submission until item_done, or until app_recog_cancel says it ended. */
typedef struct batch_item {
  app_recog r; /* first: app hands back &r */
  batch *b;
  int32_t index;
  int submitted, completed;
} batch_item;

/* Freed when both the call has gone (or finished) and no item is in
 * flight: whichever happens last frees it. */
struct batch {
  rpc_call *call; /* NULL once the call has gone */
  rpc_server *srv;
  ocr_OCRBatchRequest *req;
  char id[80];
  int32_t total, next, inflight, completed, failed, sent;
  int32_t parallelism;
  int cache_off; /* options{cache: off} */
  batch_item *items;
  rpc_reorder order; /* finished, unsent items and which one goes next */
  int finished, paused;
  int pumping, repump;        /* see pump() */
  batch *run_prev, *run_next; /* srv->running_batches while running */
  int running;
};

/* Batch ids are unique among the batches running on this server: a
 * second batch under the id of one still running would overwrite its
 * record (and its results) in the job store. */
static batch *find_running(rpc_server *srv, const char *id) {
  for (batch *b = srv->running_batches; b; b = b->run_next)
    if (strcmp(b->id, id) == 0)
      return b;
  return NULL;
}

static void set_running(batch *b) {
  b->running = 1;
  b->run_next = b->srv->running_batches;
  if (b->run_next)
    b->run_next->run_prev = b;
  b->srv->running_batches = b;
}

static void clear_running(batch *b) {
  if (!b->running)
    return;
  b->running = 0;
  if (b->run_prev)
    b->run_prev->run_next = b->run_next;
  else
    b->srv->running_batches = b->run_next;
  if (b->run_next)
    b->run_next->run_prev = b->run_prev;
  b->run_prev = b->run_next = NULL;
}

static void batch_free(batch *b) {
  clear_running(b);
  for (int32_t i = 0; i < b->total; i++)
    app_recog_clear(&b->items[i].r);
  free(b->items);
  rpc_reorder_free(&b->order);
  pb_release(ocr_OCRBatchRequest_fields, b->req);
  free(b->req);
  free(b);
}

static void make_uuid(char *out, size_t size) {
  uint8_t r[16];
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
    uint64_t t = clock_mono_ns();
    for (size_t i = 0; i < sizeof r; i++)
      r[i] = (uint8_t)(t >> (i % 8 * 8)) ^ (uint8_t)(i * 37);
  }
  r[6] = (r[6] & 0x0f) | 0x40; /* version 4 */
  r[8] = (r[8] & 0x3f) | 0x80; /* RFC 4122 variant */
  snprintf(out, size,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
           r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
           r[14], r[15]);
}

static void store_result(batch *b, batch_item *it) {
  jobs_result jr;
  app_jobs_result(&it->r.out, it->index, &jr);
  jobs_put_result(b->srv->app.jobs, b->id, &jr, b->completed, b->failed);
}

static int send_progress(batch *b, batch_item *it) {
  ocr_OCRResponse resp = ocr_OCRResponse_init_zero;
  rpc_kv kv = {0};
  if (rpc__ocr_response(&it->r.out, b->srv->app.engine, app_recog_queue_ms(&it->r), &resp,
                        &kv))
    return ERR_NOMEM;
  if (it->r.cache) {
    rpc__kv_add(&kv, "cache", it->r.cache == APP_CACHE_HIT ? "hit" : "miss");
    resp.metadata.data_count = (pb_size_t)kv.n;
  }
  b->sent++;
  ocr_OCRBatchProgress p = ocr_OCRBatchProgress_init_zero;
  p.batch_id = b->id;
  p.total_images = b->total;
  p.processed_images = b->sent;
  p.has_current_result = true;
  p.current_result = resp;
  p.progress_percentage = (float)b->sent * 100.0f / (float)b->total;
  p.index = it->index;
  int rc = rpc__call_send(b->call, ocr_OCRBatchProgress_fields, &p);
  free(resp.text_boxes);
  ocr_result_clear(&it->r.out); /* sent: the store has its own copy */
  return rc;
}

static void complete_item(batch *b, batch_item *it) {
  it->completed = 1;
  b->completed++;
  if (it->r.out.err)
    b->failed++;
  store_result(b, it);
  rpc_reorder_push(&b->order, it->index);
}

static void item_done(app_recog *r, int status);

static void submit_item(batch *b, batch_item *it) {
  it->submitted = 1;
  if (!it->r.in.path && !it->r.in.data_len) {
    it->r.out.err = ERR_INVAL;
    it->r.out.error_message = strdup("no image: set private_path, public_path or data");
    app_metrics_image(&b->srv->app, &it->r.out, -1);
    complete_item(b, it);
    return;
  }
  /* Counted before starting: the recognition may end inside. */
  b->inflight++;
  if (app_recog_start(&b->srv->app, &it->r, b->cache_off ? APP_RECOG_NO_CACHE : 0,
                      item_done)) {
    b->inflight--;
    it->r.out.err = ERR_ENGINE;
    it->r.out.error_message = strdup("the server cannot take work now");
    complete_item(b, it);
  }
}

static void finish(batch *b) {
  b->finished = 1;
  clear_running(b);
  jobs_state st = b->total > 0 && b->failed == b->total ? JOBS_FAILURE : JOBS_SUCCESS;
  jobs_finish(b->srv->app.jobs, b->id, st, b->completed, b->failed);
  rpc_call *c = b->call;
  c->work = NULL;
  b->call = NULL;
  rpc__call_finish(c);
  log_debug("batch %s: %d images, %d failed", b->id, b->total, b->failed);
  batch_free(b); /* every image is done: nothing else refers to it */
}

/* Sends what is ready while the stream has room, then starts images while
 * fewer than `parallelism` are running or waiting to be sent. May free b
 * (when the batch finishes): callers must not touch b afterwards. */
static void pump(batch *b) {
  if (!b->call)
    return;
  /* An executor may finish an item inside submit, whose done callback
   * pumps again: the inner call only asks the outer one for another pass,
   * so that only the outermost pump can finish (and free) the batch. */
  if (b->pumping) {
    b->repump = 1;
    return;
  }
  b->pumping = 1;
  const rpc_transport *tr = b->srv->tr;
  rpc_call *c = b->call;
  for (;;) {
    b->repump = 0;
    int32_t ready;
    while ((ready = rpc_reorder_peek(&b->order)) >= 0 &&
           tr->pending(c->conn, c->stream_id) < BATCH_HIGH_WATER) {
      rpc_reorder_pop(&b->order);
      if (send_progress(b, &b->items[ready])) {
        b->pumping = 0;
        return; /* the call failed and will be closed */
      }
    }
    /* Paused only for the reader: results held back for a predecessor
     * still running wait for that one, not for the stream. */
    b->paused = ready >= 0;
    if (b->paused) {
      b->pumping = 0;
      tr->notify_drain(c->conn, c->stream_id);
      return;
    }
    int started = 0;
    while (b->next < b->total &&
           b->inflight + rpc_reorder_held(&b->order) < b->parallelism) {
      submit_item(b, &b->items[b->next++]);
      started = 1;
    }
    if (b->completed == b->total && rpc_reorder_held(&b->order) == 0) {
      b->pumping = 0;
      finish(b);
      return;
    }
    /* Items that failed before reaching a worker, or finished inside
     * submit, are ready now: go round again. */
    if (!b->repump && (!started || rpc_reorder_peek(&b->order) < 0)) {
      b->pumping = 0;
      return;
    }
  }
}

static void item_done(app_recog *r, int status) {
  batch_item *it = (batch_item *)r;
  batch *b = it->b;
  b->inflight--;
  if (!b->call) {
    if (b->inflight == 0)
      batch_free(b);
    return;
  }
  if (status == ERR_CANCELLED) {
    it->r.out.err = ERR_CANCELLED;
  } else if (status) { /* a later step could not be queued */
    ocr_result_clear(&it->r.out);
    it->r.out.err = ERR_ENGINE;
    it->r.out.error_message = strdup("the server cannot take work now");
  }
  complete_item(b, it);
  pump(b);
}

static void batch_drained(void *work) { pump(work); }

/* The call went away (cancel, deadline, connection lost): drop queued
 * images, stop running ones, record CANCELLED. */
static void batch_detach(void *work) {
  batch *b = work;
  b->call = NULL;
  clear_running(b);
  if (!b->finished) {
    b->finished = 1;
    jobs_finish(b->srv->app.jobs, b->id, JOBS_CANCELLED, b->completed, b->failed);
  }
  for (int32_t i = 0; i < b->next; i++) {
    batch_item *it = &b->items[i];
    /* One waiting for the store ends here: no done callback will come
     * for it, so it stops being in flight. */
    if (it->submitted && !it->completed && app_recog_cancel(&it->r))
      b->inflight--;
  }
  if (b->inflight == 0)
    batch_free(b);
}

void rpc__ocr_extract_batch(rpc_call *c, void *reqp) {
  ocr_OCRBatchRequest *req = reqp;
  rpc_server *srv = c->srv;
  batch *b = calloc(1, sizeof *b);
  int32_t total = (int32_t)req->image_paths_count;
  if (!b || (total && !(b->items = calloc((size_t)total, sizeof *b->items))) ||
      rpc_reorder_init(&b->order, total, !req->completion_order)) {
    if (b) {
      free(b->items);
      rpc_reorder_free(&b->order);
      free(b);
    }
    pb_release(ocr_OCRBatchRequest_fields, req);
    free(req);
    rpc__call_fail(c, RPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  b->req = req;
  b->srv = srv;
  b->call = c;
  b->total = total;
  b->cache_off = rpc_option_cache_off(&req->options, req->has_options);
  b->parallelism =
      srv->cfg->batch_parallelism > 0 ? srv->cfg->batch_parallelism : srv->cfg->workers;
  if (req->batch_id && *req->batch_id)
    snprintf(b->id, sizeof b->id, "%.79s", req->batch_id);
  else
    make_uuid(b->id, sizeof b->id);
  if (find_running(srv, b->id)) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "batch_id \"%s\" is still running: wait for it to end or use another id",
             b->id);
    rpc_reorder_free(&b->order);
    free(b->items);
    free(b);
    pb_release(ocr_OCRBatchRequest_fields, req);
    free(req);
    rpc__call_fail(c, RPC_ALREADY_EXISTS, msg);
    return;
  }

  for (int32_t i = 0; i < total; i++) {
    batch_item *it = &b->items[i];
    const ocr_ImagePath *ip = &req->image_paths[i];
    app_recog_init(&it->r);
    it->b = b;
    it->index = i;
    ocr_request *in = &it->r.in;
    if (ip->data && ip->data->size > 0) {
      in->data = ip->data->bytes;
      in->data_len = ip->data->size;
    } else if (ip->private_path && *ip->private_path) {
      in->path = ip->private_path;
    } else if (ip->public_path && *ip->public_path) {
      in->path = ip->public_path;
    }
    in->language = req->language;
    in->confidence_threshold = req->confidence_threshold;
    in->use_angle_cls = req->use_angle_cls;
    in->psm = rpc_option_psm(&req->options, req->has_options);
    in->pdf_text = rpc_option_pdf_text(&req->options, req->has_options);
    in->timings = rpc_option_timings(&req->options, req->has_options);
  }
  jobs_create(srv->app.jobs, b->id, total);
  set_running(b);
  c->work = b;
  c->detach = batch_detach;
  c->drained = batch_drained;
  log_debug("batch %s: %d images, parallelism %d", b->id, total, b->parallelism);
  pump(b); /* may finish (and free) an empty batch at once */
}
