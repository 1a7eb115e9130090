/* SPDX-License-Identifier: MIT */
/* ocr.OCRService/GetBatchStatus: the job store's view of a batch (results
 * by image index), for workers that poll instead of (or after losing) the
 * progress stream. The store may answer later (Redis): the pending read is
 * dropped if the call goes first. Loop thread. */
#include <pb_decode.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "rpc_internal.h"

typedef struct status_req {
  rpc_call *call;
  void *store_req; /* the store's handle while a read is pending */
} status_req;

static common_Status wire_status(jobs_state st) {
  switch (st) {
  case JOBS_PENDING:
    return common_Status_STATUS_PENDING;
  case JOBS_IN_PROGRESS:
    return common_Status_STATUS_IN_PROGRESS;
  case JOBS_SUCCESS:
    return common_Status_STATUS_SUCCESS;
  default:
    return common_Status_STATUS_FAILURE; /* FAILURE and CANCELLED */
  }
}

/* Results are listed by image index whatever order the store kept them in
 * (the in-process store appends them as they finish). */
static int by_index(const void *a, const void *b) {
  int32_t x = ((const ocr_BatchImageResult *)a)->index;
  int32_t y = ((const ocr_BatchImageResult *)b)->index;
  return (x > y) - (x < y);
}

static void on_batch(void *arg, int err, const jobs_batch *jb) {
  status_req *sr = arg;
  rpc_call *c = sr->call;
  c->work = NULL;
  free(sr);
  if (err) {
    rpc__call_fail_err(c, err,
                       err == ERR_NOT_FOUND     ? "no such batch (unknown id, or expired)"
                       : err == ERR_UNAVAILABLE ? "the job store is unavailable"
                                                : NULL);
    return;
  }
  ocr_BatchStatusResponse resp = ocr_BatchStatusResponse_init_zero;
  resp.batch_id = (char *)jb->id;
  resp.status = wire_status(jb->state);
  resp.state = (char *)jobs_state_name(jb->state);
  resp.total_images = jb->total;
  resp.processed_images = jb->processed;
  resp.failed_images = jb->failed;
  resp.has_created_at = resp.has_updated_at = true;
  resp.created_at.seconds = jb->created_ms / 1000;
  resp.created_at.nanos = (int32_t)(jb->created_ms % 1000) * 1000000;
  resp.updated_at.seconds = jb->updated_ms / 1000;
  resp.updated_at.nanos = (int32_t)(jb->updated_ms % 1000) * 1000000;
  ocr_BatchImageResult *rs = NULL;
  if (jb->nresults) {
    rs = calloc(jb->nresults, sizeof *rs);
    if (!rs) {
      rpc__call_fail(c, RPC_RESOURCE_EXHAUSTED, "out of memory");
      return;
    }
    for (size_t i = 0; i < jb->nresults; i++) {
      const jobs_result *r = &jb->results[i];
      rs[i].index = r->index;
      rs[i].status = r->ok ? common_Status_STATUS_SUCCESS : common_Status_STATUS_FAILURE;
      rs[i].text = (char *)r->text;
      rs[i].confidence = r->confidence;
      if (!r->ok) {
        rs[i].has_error = true;
        rs[i].error.code = (char *)r->error_code;
        rs[i].error.message = (char *)r->error_message;
        rs[i].error.details = (char *)r->error_details;
      }
    }
    qsort(rs, jb->nresults, sizeof *rs, by_index);
    resp.results = rs;
    resp.results_count = (pb_size_t)jb->nresults;
  }
  rpc__call_reply(c, ocr_BatchStatusResponse_fields, &resp);
  free(rs);
}

static void status_detach(void *work) {
  status_req *sr = work;
  jobs_get_cancel(sr->call->srv->app.jobs, sr->store_req);
  free(sr);
}

void rpc__ocr_batch_status(rpc_call *c, void *reqp) {
  ocr_BatchStatusRequest *req = reqp;
  status_req *sr = calloc(1, sizeof *sr);
  if (!sr) {
    rpc__call_fail(c, RPC_RESOURCE_EXHAUSTED, "out of memory");
  } else if (!req->batch_id || !*req->batch_id) {
    free(sr);
    rpc__call_fail(c, RPC_INVALID_ARGUMENT, "batch_id is required");
  } else {
    sr->call = c;
    c->work = sr;
    c->detach = status_detach;
    /* An in-process store answers inside this call: sr is gone then. */
    void *h = jobs_get(c->srv->app.jobs, req->batch_id, on_batch, sr);
    if (h && c->work == sr)
      sr->store_req = h;
  }
  pb_release(ocr_BatchStatusRequest_fields, req);
  free(req);
}
