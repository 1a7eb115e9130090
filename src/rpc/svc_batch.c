/* SPDX-License-Identifier: MIT */
/* ocr.OCRService/ExtractTextBatch: the images of a batch run in parallel
 * on the worker pool, at most `parallelism` of them unsent at a time, and
 * each result is streamed as soon as it is done (completion order) as one
 * OCRBatchProgress. A slow reader pauses the batch: results wait in a
 * bounded queue until the stream drains, and no new image starts while the
 * queue is full. With the result cache on, each image goes through the
 * same steps as ExtractText (rpc__cache_*): read and hash on a worker,
 * look up on the loop, recognise only a miss. Loop thread, except
 * item_work and item_read_work (worker thread). */
#include <pb_decode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/err.h"
#include "base/log.h"
#include "rpc_internal.h"

/* Stop sending once this much is queued on the stream and unwritten. */
#define BATCH_HIGH_WATER (256u * 1024u)

typedef struct batch batch;

/* One image. Ownership: lives in its batch's array; `in` is written by the
 * loop before submitting and only read by the worker, `out` (and cd's
 * bytes and key) is written by the worker and read after item_done. An
 * image counts as in flight (b->inflight) from its submission until
 * item_done, including while it waits for the store between its two
 * trips to a worker (cd.req set). */
typedef struct batch_item {
  exec_job ej; /* first: the executor hands back &ej */
  batch *b;
  int32_t index;
  int submitted, completed;
  ocr_request in;
  ocr_result out;
  volatile int cancel;
  uint64_t t_queued_ns, t_started_ns;
  rpc_cached cd;
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
  batch_item *items;
  int32_t *queue; /* ring of finished, unsent item indexes */
  int32_t q_head, q_len;
  int finished, paused;
  int pumping, repump; /* see pump() */
};

static void batch_free(batch *b) {
  for (int32_t i = 0; i < b->total; i++) {
    ocr_result_clear(&b->items[i].out);
    rpc__cache_clear(&b->items[i].cd);
  }
  free(b->items);
  free(b->queue);
  pb_release(ocr_OCRBatchRequest_fields, b->req);
  free(b->req);
  free(b);
}

static void make_uuid(char *out, size_t size) {
  uint8_t r[16];
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
    uint64_t t = rpc__now_ns();
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

/* Worker thread. */
static void item_work(exec_job *ej) {
  batch_item *it = (batch_item *)ej;
  it->t_started_ns = rpc__now_ns();
  ocr_engine_run(it->b->srv->engine, &it->in, &it->out);
}

static void store_result(batch *b, batch_item *it) {
  jobs_result jr;
  rpc__jobs_result(&it->out, it->index, &jr);
  jobs_put_result(b->srv->jobs, b->id, &jr, b->completed, b->failed);
}

static int send_progress(batch *b, batch_item *it) {
  ocr_OCRResponse resp = ocr_OCRResponse_init_zero;
  rpc_kv kv = {0};
  double queue_ms =
      it->t_started_ns ? (double)(it->t_started_ns - it->t_queued_ns) / 1e6 : 0;
  if (rpc__ocr_response(&it->out, b->srv->engine, queue_ms, &resp, &kv))
    return ERR_NOMEM;
  if (it->cd.state) {
    rpc__kv_add(&kv, "cache", it->cd.state == RPC_CACHE_HIT ? "hit" : "miss");
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
  ocr_result_clear(&it->out); /* sent: the store has its own copy */
  return rc;
}

static void complete_item(batch *b, batch_item *it) {
  it->completed = 1;
  rpc__metrics_image(b->srv, &it->out,
                     it->t_started_ns ? (double)(it->t_started_ns - it->t_queued_ns) / 1e6
                                      : -1,
                     it->cd.state == RPC_CACHE_HIT);
  b->completed++;
  if (it->out.err)
    b->failed++;
  store_result(b, it);
  b->queue[(b->q_head + b->q_len) % b->total] = it->index;
  b->q_len++;
}

static void item_done(exec_job *ej, int status);

/* Worker thread. Step 1 of a cached recognition. */
static void item_read_work(exec_job *ej) {
  batch_item *it = (batch_item *)ej;
  it->t_started_ns = rpc__now_ns();
  rpc__cache_read(it->b->srv->engine, &it->in, &it->cd, &it->out);
}

/* Step 2's answer; may run inside jobs_cache_get. */
static void item_on_cache(void *arg, int err, const uint8_t *data, size_t len) {
  batch_item *it = arg;
  batch *b = it->b;
  if (rpc__cache_answer(b->srv, &it->cd, err, data, len, &it->out) || !b->call) {
    item_done(&it->ej, 0);
    return;
  }
  /* Step 3: recognise the bytes step 1 read. Still in flight: item_done
   * comes from the executor. */
  ocr_result_init(&it->out);
  rpc__cache_use_bytes(&it->cd, &it->in);
  it->ej.work = item_work;
  it->ej.done = item_done;
  if (b->srv->ex->submit(b->srv->ex, &it->ej)) {
    it->out.err = ERR_ENGINE;
    it->out.error_message = strdup("the server cannot take work now");
    item_done(&it->ej, 0);
  }
}

/* Step 1 is back: a failure is the image's result as without the cache;
 * otherwise step 2 asks the store. */
static void item_read_done(exec_job *ej, int status) {
  batch_item *it = (batch_item *)ej;
  batch *b = it->b;
  if (!b->call || status || it->out.err) {
    item_done(ej, status);
    return;
  }
  /* The store may answer inside jobs_cache_get, and the batch may then
   * finish and be freed: the handle is kept only when the answer is still
   * to come. */
  void *req = jobs_cache_get(b->srv->jobs, it->cd.key, item_on_cache, it);
  if (req)
    it->cd.req = req;
}

static void submit_item(batch *b, batch_item *it) {
  it->submitted = 1;
  it->t_queued_ns = rpc__now_ns();
  if (!it->in.path && !it->in.data_len) {
    it->out.err = ERR_INVAL;
    it->out.error_message = strdup("no image: set private_path, public_path or data");
    complete_item(b, it);
    return;
  }
  if (b->srv->cache_on && b->srv->jobs) {
    it->ej.work = item_read_work;
    it->ej.done = item_read_done;
  } else {
    it->ej.work = item_work;
    it->ej.done = item_done;
  }
  /* Counted before submitting: an executor may finish the item inside. */
  b->inflight++;
  if (b->srv->ex->submit(b->srv->ex, &it->ej)) {
    b->inflight--;
    it->out.err = ERR_ENGINE;
    it->out.error_message = strdup("the server cannot take work now");
    complete_item(b, it);
  }
}

static void finish(batch *b) {
  b->finished = 1;
  jobs_state st = b->total > 0 && b->failed == b->total ? JOBS_FAILURE : JOBS_SUCCESS;
  jobs_finish(b->srv->jobs, b->id, st, b->completed, b->failed);
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
    while (b->q_len > 0 && tr->pending(c->conn, c->stream_id) < BATCH_HIGH_WATER) {
      batch_item *it = &b->items[b->queue[b->q_head]];
      b->q_head = (b->q_head + 1) % b->total;
      b->q_len--;
      if (send_progress(b, it)) {
        b->pumping = 0;
        return; /* the call failed and will be closed */
      }
    }
    b->paused = b->q_len > 0;
    if (b->paused) {
      b->pumping = 0;
      tr->notify_drain(c->conn, c->stream_id);
      return;
    }
    int started = 0;
    while (b->next < b->total && b->inflight + b->q_len < b->parallelism) {
      submit_item(b, &b->items[b->next++]);
      started = 1;
    }
    if (b->completed == b->total && b->q_len == 0) {
      b->pumping = 0;
      finish(b);
      return;
    }
    /* Items that failed before reaching a worker, or finished inside
     * submit, are ready now: go round again. */
    if (!b->repump && (!started || b->q_len == 0)) {
      b->pumping = 0;
      return;
    }
  }
}

static void item_done(exec_job *ej, int status) {
  batch_item *it = (batch_item *)ej;
  batch *b = it->b;
  b->inflight--;
  if (!b->call) {
    if (b->inflight == 0)
      batch_free(b);
    return;
  }
  if (status == ERR_CANCELLED) {
    it->out.err = ERR_CANCELLED;
  }
  if (status == 0)
    rpc__cache_store(b->srv, &it->cd, &it->out); /* misses that succeeded */
  complete_item(b, it);
  pump(b);
}

static void batch_drained(void *work) { pump(work); }

/* The call went away (cancel, deadline, connection lost): drop queued
 * images, stop running ones, record CANCELLED. */
static void batch_detach(void *work) {
  batch *b = work;
  b->call = NULL;
  if (!b->finished) {
    b->finished = 1;
    jobs_finish(b->srv->jobs, b->id, JOBS_CANCELLED, b->completed, b->failed);
  }
  for (int32_t i = 0; i < b->next; i++) {
    batch_item *it = &b->items[i];
    if (it->submitted && !it->completed) {
      it->cancel = 1;
      if (it->cd.req) {
        /* Waiting for the store, not for a worker: no done callback will
         * come for it, so it stops being in flight here. */
        jobs_cache_cancel(b->srv->jobs, it->cd.req);
        it->cd.req = NULL;
        b->inflight--;
      } else {
        b->srv->ex->cancel(b->srv->ex, &it->ej);
      }
    }
  }
  if (b->inflight == 0)
    batch_free(b);
}

void rpc__ocr_extract_batch(rpc_call *c, void *reqp) {
  ocr_OCRBatchRequest *req = reqp;
  rpc_server *srv = c->srv;
  batch *b = calloc(1, sizeof *b);
  int32_t total = (int32_t)req->image_paths_count;
  if (!b || (total && (!(b->items = calloc((size_t)total, sizeof *b->items)) ||
                       !(b->queue = calloc((size_t)total, sizeof *b->queue))))) {
    if (b) {
      free(b->items);
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
  b->parallelism =
      srv->cfg->batch_parallelism > 0 ? srv->cfg->batch_parallelism : srv->cfg->workers;
  if (req->batch_id && *req->batch_id)
    snprintf(b->id, sizeof b->id, "%.79s", req->batch_id);
  else
    make_uuid(b->id, sizeof b->id);

  for (int32_t i = 0; i < total; i++) {
    batch_item *it = &b->items[i];
    const ocr_ImagePath *ip = &req->image_paths[i];
    it->b = b;
    it->index = i;
    ocr_result_init(&it->out);
    if (ip->data && ip->data->size > 0) {
      it->in.data = ip->data->bytes;
      it->in.data_len = ip->data->size;
    } else if (ip->private_path && *ip->private_path) {
      it->in.path = ip->private_path;
    } else if (ip->public_path && *ip->public_path) {
      it->in.path = ip->public_path;
    }
    it->in.language = req->language;
    it->in.confidence_threshold = req->confidence_threshold;
    it->in.use_angle_cls = req->use_angle_cls;
    it->in.psm = -1;
    it->in.cancel = &it->cancel;
  }
  jobs_create(srv->jobs, b->id, total);
  c->work = b;
  c->detach = batch_detach;
  c->drained = batch_drained;
  log_debug("batch %s: %d images, parallelism %d", b->id, total, b->parallelism);
  pump(b); /* may finish (and free) an empty batch at once */
}
