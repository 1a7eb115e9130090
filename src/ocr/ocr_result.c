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

#include "base/buf.h"
#include "base/err.h"
#include "ocr_internal.h"

void ocr_result_init(ocr_result *r) { memset(r, 0, sizeof(*r)); }

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
  if (out->nboxes == 0 || (out->nboxes >= 4 && (out->nboxes & (out->nboxes - 1)) == 0)) {
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
  out->boxes[out->nboxes].page = 1;
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

/* ---- pack / unpack ------------------------------------------------------- */

/* "OCR" and a format version: a server of another version skips values
 * it cannot read rather than misreading them. */
static const uint8_t pack_magic[4] = {'O', 'C', 'R', 2};

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static int pack_u32(buf *out, uint32_t v) {
  uint8_t b[4];
  put_u32(b, v);
  return buf_append(out, b, 4);
}

/* A length-prefixed string; NULL is written as "". */
static int pack_str(buf *out, const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n > UINT32_MAX)
    return ERR_NOMEM;
  if (pack_u32(out, (uint32_t)n) || buf_append(out, s, n))
    return ERR_NOMEM;
  return 0;
}

int ocr_result_pack(const ocr_result *r, uint8_t **data, size_t *len) {
  buf b = BUF_INIT;
  buf *out = &b;

  *data = NULL;
  *len = 0;
  if (r->err != 0)
    return ERR_INVAL;
  if (r->nboxes > UINT32_MAX)
    return ERR_NOMEM;
  if (buf_append(out, pack_magic, 4) || pack_u32(out, (uint32_t)r->width) ||
      pack_u32(out, (uint32_t)r->height) || pack_u32(out, (uint32_t)r->rotation) ||
      pack_u32(out, float_bits(r->confidence)) || pack_u32(out, (uint32_t)r->pages) ||
      pack_u32(out, (uint32_t)r->orientation) || pack_str(out, r->language) ||
      pack_str(out, r->text) || pack_u32(out, (uint32_t)r->nboxes))
    goto fail;
  for (size_t i = 0; i < r->nboxes; i++) {
    const ocr_box *bx = &r->boxes[i];
    if (pack_str(out, bx->text) || pack_u32(out, float_bits(bx->confidence)) ||
        pack_u32(out, (uint32_t)bx->page))
      goto fail;
    for (int k = 0; k < 8; k++)
      if (pack_u32(out, float_bits(bx->quad[k])))
        goto fail;
  }
  *data = buf_steal(out, len);
  return 0;

fail:
  buf_free(out);
  return ERR_NOMEM;
}

typedef struct reader {
  const uint8_t *p;
  size_t left;
} reader;

static int read_u32(reader *rd, uint32_t *v) {
  if (rd->left < 4)
    return ERR_PARSE;
  *v = get_u32(rd->p);
  rd->p += 4;
  rd->left -= 4;
  return 0;
}

/* A heap copy of the next string, NUL-terminated. A string holding a NUL
 * cannot have come from pack_str: refused. */
static int read_str(reader *rd, char **s) {
  uint32_t n;
  if (read_u32(rd, &n) || n > rd->left || memchr(rd->p, 0, n) != NULL)
    return ERR_PARSE;
  *s = malloc((size_t)n + 1);
  if (*s == NULL)
    return ERR_NOMEM;
  memcpy(*s, rd->p, n);
  (*s)[n] = '\0';
  rd->p += n;
  rd->left -= n;
  return 0;
}

int ocr_result_unpack(const uint8_t *data, size_t len, ocr_result *out) {
  reader rd = {data, len};
  uint32_t w, h, rot, conf, pages, orientation, nboxes = 0, v = 0;
  char *lang = NULL;
  int rc;

  ocr_result_init(out);
  if (len < 4 || memcmp(data, pack_magic, 4) != 0)
    return ERR_PARSE;
  rd.p += 4;
  rd.left -= 4;
  if (read_u32(&rd, &w) || read_u32(&rd, &h) || read_u32(&rd, &rot) ||
      read_u32(&rd, &conf) || read_u32(&rd, &pages) || read_u32(&rd, &orientation))
    return ERR_PARSE;
  rc = read_str(&rd, &lang);
  if (rc != 0)
    return rc;
  if (strlen(lang) >= sizeof(out->language)) {
    free(lang);
    return ERR_PARSE;
  }
  memcpy(out->language, lang, strlen(lang) + 1);
  free(lang);
  out->width = (int)w;
  out->height = (int)h;
  out->rotation = (int)rot;
  out->pages = (int)pages;
  out->orientation = (int)orientation;
  out->confidence = bits_float(conf);
  rc = read_str(&rd, &out->text);
  if (rc == 0)
    rc = read_u32(&rd, &nboxes);
  /* Each box takes at least 44 bytes: a count the data cannot hold is
   * refused before anything is allocated for it. */
  if (rc == 0 && nboxes > rd.left / 44)
    rc = ERR_PARSE;
  if (rc == 0 && nboxes > 0) {
    out->boxes = calloc(nboxes, sizeof(*out->boxes));
    if (out->boxes == NULL)
      rc = ERR_NOMEM;
  }
  for (uint32_t i = 0; rc == 0 && i < nboxes; i++) {
    ocr_box *b = &out->boxes[i];
    rc = read_str(&rd, &b->text);
    if (rc != 0)
      break;
    out->nboxes++; /* counted once it owns its text, for ocr_result_clear */
    rc = read_u32(&rd, &v);
    b->confidence = bits_float(v);
    if (rc == 0)
      rc = read_u32(&rd, &v);
    b->page = (int)v;
    for (int k = 0; rc == 0 && k < 8; k++) {
      rc = read_u32(&rd, &v);
      b->quad[k] = bits_float(v);
    }
  }
  if (rc == 0 && rd.left != 0)
    rc = ERR_PARSE;
  if (rc != 0)
    ocr_result_clear(out);
  return rc;
}
