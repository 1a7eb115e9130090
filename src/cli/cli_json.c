/* SPDX-License-Identifier: MIT */
/* JSON writers for the CLI's --json output (see cli_json.h). */
#include "cli_json.h"

#include <math.h>

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

void cli_json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    switch (c) {
    case '"':
      fputs("\\\"", f);
      break;
    case '\\':
      fputs("\\\\", f);
      break;
    case '\n':
      fputs("\\n", f);
      break;
    case '\r':
      fputs("\\r", f);
      break;
    case '\t':
      fputs("\\t", f);
      break;
    default:
      if (c < 0x20)
        fprintf(f, "\\u%04x", c);
      else
        fputc(c, f); /* UTF-8 passes through */
    }
  }
  fputc('"', f);
}

static void num(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "%.6g", v);
  else
    fputs("null", f);
}

static void error_info(FILE *f, const common_ErrorInfo *e) {
  fputs("{\"code\":", f);
  cli_json_str(f, e->code);
  fputs(",\"message\":", f);
  cli_json_str(f, e->message);
  fputs(",\"details\":", f);
  cli_json_str(f, e->details);
  fputc('}', f);
}

void cli_json_ocr_response(FILE *f, const ocr_OCRResponse *r) {
  fprintf(f, "{\"status\":\"%s\",\"text\":", cli_status_name(r->status));
  cli_json_str(f, r->text);
  fputs(",\"overallConfidence\":", f);
  num(f, r->overall_confidence);
  fputs(",\"textBoxes\":[", f);
  for (pb_size_t i = 0; i < r->text_boxes_count; i++) {
    const ocr_TextBox *b = &r->text_boxes[i];
    fputs(i ? ",{\"text\":" : "{\"text\":", f);
    cli_json_str(f, b->text);
    fputs(",\"confidence\":", f);
    num(f, b->confidence);
    fputs(",\"bbox\":{\"coordinates\":[", f);
    for (pb_size_t k = 0; b->has_bbox && k < b->bbox.coordinates_count; k++) {
      if (k)
        fputc(',', f);
      num(f, b->bbox.coordinates[k]);
    }
    fputs("]}}", f);
  }
  fputs("],\"metadata\":{\"data\":{", f);
  for (pb_size_t i = 0; r->has_metadata && i < r->metadata.data_count; i++) {
    if (i)
      fputc(',', f);
    cli_json_str(f, r->metadata.data[i].key);
    fputc(':', f);
    cli_json_str(f, r->metadata.data[i].value);
  }
  fputs("}}", f);
  if (r->has_error) {
    fputs(",\"error\":", f);
    error_info(f, &r->error);
  }
  fputc('}', f);
}

void cli_json_health(FILE *f, const ocr_HealthCheckResponse *r) {
  fprintf(f, "{\"status\":\"%s\",\"engineType\":", cli_status_name(r->status));
  cli_json_str(f, r->engine_type);
  fprintf(f, ",\"modelLoaded\":%s,\"version\":", r->model_loaded ? "true" : "false");
  cli_json_str(f, r->version);
  fputc('}', f);
}

static void timestamp(FILE *f, const char *name, int has, const common_Timestamp *t) {
  if (!has)
    return;
  fprintf(f, ",\"%s\":{\"seconds\":%lld,\"nanos\":%d}", name, (long long)t->seconds,
          (int)t->nanos);
}

void cli_json_batch_status(FILE *f, const ocr_BatchStatusResponse *r) {
  fputs("{\"batchId\":", f);
  cli_json_str(f, r->batch_id);
  fprintf(f, ",\"status\":\"%s\",\"state\":", cli_status_name(r->status));
  cli_json_str(f, r->state);
  fprintf(f, ",\"totalImages\":%d,\"processedImages\":%d,\"failedImages\":%d",
          (int)r->total_images, (int)r->processed_images, (int)r->failed_images);
  timestamp(f, "createdAt", r->has_created_at, &r->created_at);
  timestamp(f, "updatedAt", r->has_updated_at, &r->updated_at);
  fputs(",\"results\":[", f);
  for (pb_size_t i = 0; i < r->results_count; i++) {
    const ocr_BatchImageResult *x = &r->results[i];
    fprintf(f, "%s{\"index\":%d,\"status\":\"%s\",\"text\":", i ? "," : "", (int)x->index,
            cli_status_name(x->status));
    cli_json_str(f, x->text);
    fputs(",\"confidence\":", f);
    num(f, x->confidence);
    if (x->has_error) {
      fputs(",\"error\":", f);
      error_info(f, &x->error);
    }
    fputc('}', f);
  }
  fputs("]}", f);
}

void cli_json_progress(FILE *f, const ocr_OCRBatchProgress *p, const char *file) {
  fputs("{\"batchId\":", f);
  cli_json_str(f, p->batch_id);
  fprintf(f, ",\"index\":%d,\"file\":", (int)p->index);
  cli_json_str(f, file);
  fprintf(f, ",\"totalImages\":%d,\"processedImages\":%d,\"progressPercentage\":",
          (int)p->total_images, (int)p->processed_images);
  num(f, p->progress_percentage);
  if (p->has_current_result) {
    fputs(",\"currentResult\":", f);
    cli_json_ocr_response(f, &p->current_result);
  }
  fputc('}', f);
}
