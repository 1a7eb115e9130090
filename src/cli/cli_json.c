/* SPDX-License-Identifier: MIT */
/* JSON writers for the CLI's --json output (see cli_json.h): each answer
 * built as a cJSON tree (Debian libcjson, as the REST front door uses) and
 * printed in one piece. */
#include "cli_json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

const char *cli_status_name(common_Status s) {
  switch (s) {
  case common_Status_STATUS_SUCCESS:
    return "STATUS_SUCCESS";
  case common_Status_STATUS_FAILURE:
    return "STATUS_FAILURE";
  case common_Status_STATUS_PENDING:
    return "STATUS_PENDING";
  case common_Status_STATUS_IN_PROGRESS:
    return "STATUS_IN_PROGRESS";
  default:
    return "STATUS_UNKNOWN";
  }
}

/* ---- building with cJSON (Debian libcjson), printed in one piece ---- */

/* cJSON's string escaping (quotes, backslash, control characters as
 * \uXXXX; UTF-8 passes through). NULL is "". */
static void add_str(cJSON *o, const char *name, const char *s) {
  cJSON_AddItemToObject(o, name, cJSON_CreateString(s ? s : ""));
}

/* Floats as the protobuf JSON mapping shows them: six significant digits
 * (0.9, not the 0.899999976 a float widened to double would print), put
 * in as raw JSON text: cJSON's own number printing (printf, then scanf to
 * check the round trip) tripled the instructions per batch progress line
 * (bench/RESULTS.md, "CLI JSON"). NaN and infinities have no JSON form
 * and print as null. */
static cJSON *num(double v) {
  if (!isfinite(v))
    return cJSON_CreateNull();
  char b[32];
  snprintf(b, sizeof b, "%.6g", v);
  return cJSON_CreateRaw(b);
}

static void add_num(cJSON *o, const char *name, double v) {
  cJSON_AddItemToObject(o, name, num(v));
}

/* Prints o on f and frees it. Out of memory (a NULL anywhere in the tree
 * makes cJSON_Print return NULL) prints nothing; the caller's output then
 * lacks the line, as when stdout fails. */
static void emit(FILE *f, cJSON *o) {
  char *text = o ? cJSON_PrintUnformatted(o) : NULL;
  if (text)
    fputs(text, f);
  free(text);
  cJSON_Delete(o);
}

static cJSON *error_info(const common_ErrorInfo *e) {
  cJSON *o = cJSON_CreateObject();
  add_str(o, "code", e->code);
  add_str(o, "message", e->message);
  add_str(o, "details", e->details);
  return o;
}

static cJSON *ocr_response(const ocr_OCRResponse *r) {
  cJSON *o = cJSON_CreateObject();
  add_str(o, "status", cli_status_name(r->status));
  add_str(o, "text", r->text);
  add_num(o, "overallConfidence", r->overall_confidence);
  cJSON *boxes = cJSON_AddArrayToObject(o, "textBoxes");
  for (pb_size_t i = 0; boxes && i < r->text_boxes_count; i++) {
    const ocr_TextBox *b = &r->text_boxes[i];
    cJSON *box = cJSON_CreateObject();
    cJSON_AddItemToArray(boxes, box);
    add_str(box, "text", b->text);
    add_num(box, "confidence", b->confidence);
    cJSON *coords =
        cJSON_AddArrayToObject(cJSON_AddObjectToObject(box, "bbox"), "coordinates");
    for (pb_size_t k = 0; coords && b->has_bbox && k < b->bbox.coordinates_count; k++)
      cJSON_AddItemToArray(coords, num(b->bbox.coordinates[k]));
  }
  cJSON *data = cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "metadata"), "data");
  for (pb_size_t i = 0; data && r->has_metadata && i < r->metadata.data_count; i++)
    add_str(data, r->metadata.data[i].key ? r->metadata.data[i].key : "",
            r->metadata.data[i].value);
  if (r->has_error)
    cJSON_AddItemToObject(o, "error", error_info(&r->error));
  return o;
}

void cli_json_ocr_response(FILE *f, const ocr_OCRResponse *r) { emit(f, ocr_response(r)); }

void cli_json_health(FILE *f, const ocr_HealthCheckResponse *r) {
  cJSON *o = cJSON_CreateObject();
  add_str(o, "status", cli_status_name(r->status));
  add_str(o, "engineType", r->engine_type);
  cJSON_AddBoolToObject(o, "modelLoaded", r->model_loaded);
  add_str(o, "version", r->version);
  emit(f, o);
}

static void timestamp(cJSON *o, const char *name, int has, const common_Timestamp *t) {
  if (!has)
    return;
  cJSON *ts = cJSON_AddObjectToObject(o, name);
  cJSON_AddNumberToObject(ts, "seconds", (double)t->seconds);
  cJSON_AddNumberToObject(ts, "nanos", t->nanos);
}

void cli_json_batch_status(FILE *f, const ocr_BatchStatusResponse *r) {
  cJSON *o = cJSON_CreateObject();
  add_str(o, "batchId", r->batch_id);
  add_str(o, "status", cli_status_name(r->status));
  add_str(o, "state", r->state);
  cJSON_AddNumberToObject(o, "totalImages", r->total_images);
  cJSON_AddNumberToObject(o, "processedImages", r->processed_images);
  cJSON_AddNumberToObject(o, "failedImages", r->failed_images);
  timestamp(o, "createdAt", r->has_created_at, &r->created_at);
  timestamp(o, "updatedAt", r->has_updated_at, &r->updated_at);
  cJSON *results = cJSON_AddArrayToObject(o, "results");
  for (pb_size_t i = 0; results && i < r->results_count; i++) {
    const ocr_BatchImageResult *x = &r->results[i];
    cJSON *item = cJSON_CreateObject();
    cJSON_AddItemToArray(results, item);
    cJSON_AddNumberToObject(item, "index", x->index);
    add_str(item, "status", cli_status_name(x->status));
    add_str(item, "text", x->text);
    add_num(item, "confidence", x->confidence);
    if (x->has_error)
      cJSON_AddItemToObject(item, "error", error_info(&x->error));
  }
  emit(f, o);
}

void cli_json_progress(FILE *f, const ocr_OCRBatchProgress *p, const char *file) {
  cJSON *o = cJSON_CreateObject();
  add_str(o, "batchId", p->batch_id);
  cJSON_AddNumberToObject(o, "index", p->index);
  add_str(o, "file", file);
  cJSON_AddNumberToObject(o, "totalImages", p->total_images);
  cJSON_AddNumberToObject(o, "processedImages", p->processed_images);
  add_num(o, "progressPercentage", p->progress_percentage);
  if (p->has_current_result)
    cJSON_AddItemToObject(o, "currentResult", ocr_response(&p->current_result));
  emit(f, o);
}
