/* SPDX-License-Identifier: MIT */
/* GET /v1/batches/{batch_id}: the job store's view of a batch, the same
 * fields GetBatchStatus returns, as JSON, for dashboards and tools that
 * speak no gRPC. Loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "rest_internal.h"

typedef struct status_work {
  rest_work w;
  void *store_req; /* the pending read; NULL once answered */
  int *answered_now;
} status_work;

/* Unix milliseconds as RFC 3339 UTC ("2026-11-30T13:05:00.123Z"). */
static void add_time(cJSON *o, const char *k, int64_t ms) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  char b[40];
  gmtime_r(&t, &tm);
  size_t n = strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(b + n, sizeof b - n, ".%03dZ", (int)(ms % 1000));
  cJSON_AddStringToObject(o, k, b);
}

static void on_batch(void *arg, int err, const jobs_batch *b) {
  status_work *s = arg;
  rest_server *rs = s->w.rs;
  void *conn = s->w.conn;
  rs->busy--;
  if (s->answered_now)
    *s->answered_now = 1;
  free(s);
  if (err == ERR_NOT_FOUND) {
    rest__error(rs, conn, 404, "NOT_FOUND", "no such batch (or it expired)", "NOT_FOUND");
    return;
  }
  if (err) {
    rest__error(rs, conn, 503, "UNAVAILABLE", "the job store is unreachable",
                err_name(err));
    return;
  }
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "batch_id", b->id);
  cJSON_AddStringToObject(j, "state", jobs_state_name(b->state));
  cJSON_AddNumberToObject(j, "total_images", b->total);
  cJSON_AddNumberToObject(j, "processed_images", b->processed);
  cJSON_AddNumberToObject(j, "failed_images", b->failed);
  add_time(j, "created_at", b->created_ms);
  add_time(j, "updated_at", b->updated_ms);
  cJSON *rsl = cJSON_AddArrayToObject(j, "results");
  for (size_t i = 0; i < b->nresults; i++) {
    const jobs_result *r = &b->results[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", r->index);
    cJSON_AddStringToObject(o, "status", r->ok ? "success" : "failure");
    if (r->ok) {
      cJSON_AddStringToObject(o, "text", r->text ? r->text : "");
      cJSON_AddNumberToObject(o, "confidence", r->confidence);
    } else {
      cJSON *e = cJSON_AddObjectToObject(o, "error");
      cJSON_AddStringToObject(e, "code", r->error_code ? r->error_code : "OCR_ERROR");
      cJSON_AddStringToObject(e, "message", r->error_message ? r->error_message : "");
      cJSON_AddStringToObject(e, "details", r->error_details ? r->error_details : "");
    }
    cJSON_AddItemToArray(rsl, o);
  }
  rest__json(rs, conn, 200, j, NULL, 0);
}

static void cancel(rest_work *w) {
  status_work *s = (status_work *)w;
  jobs_get_cancel(s->w.rs->app->jobs, s->store_req);
  s->w.rs->busy--;
  free(s);
}

rest_work *rest__batch_status(rest_server *rs, void *conn, const char *id) {
  if (!rs->app->jobs || strlen(id) > 128) {
    rest__error(rs, conn, 404, "NOT_FOUND", "no such batch", "NOT_FOUND");
    return NULL;
  }
  status_work *s = ocrpc_calloc(1, sizeof *s);
  s->w.rs = rs;
  s->w.conn = conn;
  s->w.cancel = cancel;
  int now = 0;
  s->answered_now = &now;
  rs->busy++;
  void *req = jobs_get(rs->app->jobs, id, on_batch, s);
  if (now)
    return NULL; /* answered, and s freed */
  s->answered_now = NULL;
  s->store_req = req;
  return &s->w;
}
