/* SPDX-License-Identifier: MIT */
/* The ocr_result an engine fills: initialising, freeing, error messages,
 * appending boxes and the final join of line texts. Worker threads build
 * results; whichever thread owns the job afterwards (the loop thread) clears
 * them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "ocr_internal.h"

void ocr_result_init(ocr_result *r) {
  memset(r, 0, sizeof(*r));
}

void ocr_result_clear(ocr_result *r) {
  size_t i;

  if (r == NULL)
    return;
  for (i = 0; i < r->nboxes; i++)
    free(r->boxes[i].text);
  free(r->boxes);
  free(r->text);
  free(r->error_message);
  ocr_result_init(r);
}

int ocr__fail(ocr_result *out, int err, const char *fmt, ...) {
  va_list ap;
  int n;

  out->err = err;
  free(out->error_message);
  out->error_message = NULL;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return err;
  out->error_message = malloc((size_t)n + 1);
  /* Without memory for the message the code alone still tells the cause;
   * callers map codes, never messages. */
  if (out->error_message == NULL)
    return err;
  va_start(ap, fmt);
  vsnprintf(out->error_message, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return err;
}

int ocr__result_add_box(ocr_result *out, char *text, float confidence,
                        const float quad[8]) {
  ocr_box *boxes;

  /* Capacity is 4, then doubles each time the count reaches a power of
   * two, so it needs no field of its own in the public struct. */
  if (out->nboxes == 0 ||
      (out->nboxes >= 4 && (out->nboxes & (out->nboxes - 1)) == 0)) {
    size_t cap = out->nboxes == 0 ? 4 : out->nboxes * 2;
    boxes = realloc(out->boxes, cap * sizeof(*boxes));
    if (boxes == NULL) {
      free(text);
      return ERR_NOMEM;
    }
    out->boxes = boxes;
  }
  out->boxes[out->nboxes].text = text;
  out->boxes[out->nboxes].confidence = confidence;
  memcpy(out->boxes[out->nboxes].quad, quad, sizeof(float) * 8);
  out->nboxes++;
  return 0;
}

int ocr__result_finish(ocr_result *out) {
  size_t i, len = 0, off = 0;
  double sum = 0;

  for (i = 0; i < out->nboxes; i++) {
    len += strlen(out->boxes[i].text) + 1;
    sum += out->boxes[i].confidence;
  }
  free(out->text);
  out->text = malloc(len + 1);
  if (out->text == NULL)
    return ERR_NOMEM;
  for (i = 0; i < out->nboxes; i++) {
    size_t n = strlen(out->boxes[i].text);
    if (i > 0)
      out->text[off++] = '\n';
    memcpy(out->text + off, out->boxes[i].text, n);
    off += n;
  }
  out->text[off] = '\0';
  out->confidence = out->nboxes > 0 ? (float)(sum / (double)out->nboxes) : 0.0f;
  return 0;
}

double ocr__now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
