/* SPDX-License-Identifier: MIT */
/* OCRResponse written straight from an ocr_result: nanopb's table-driven
 * encoder (and its sizing pass for every nested message) was the largest
 * cost of a mock-engine call in the profile (bench/RESULTS.md). Field
 * numbers and proto3 default omission follow protos/ocr.proto and
 * common.proto; tests/rpc checks the bytes against nanopb's. Loop thread. */
#include <string.h>

#include "base/err.h"
#include "rpc_internal.h"

enum { WT_VARINT = 0, WT_I32 = 5, WT_LEN = 2 };

static size_t vsize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

/* Every field number here is below 16: a tag is one byte. */
static uint8_t *put_tag(uint8_t *p, unsigned field, unsigned wt) {
  *p++ = (uint8_t)(field << 3 | wt);
  return p;
}

static uint8_t *put_float(uint8_t *p, unsigned field, float f) {
  p = put_tag(p, field, WT_I32);
  memcpy(p, &f, 4); /* little-endian hosts only, as nanopb assumes here */
  return p + 4;
}

static uint8_t *put_bytes(uint8_t *p, unsigned field, const void *s, size_t n) {
  p = put_tag(p, field, WT_LEN);
  p = put_varint(p, n);
  memcpy(p, s, n);
  return p + n;
}

/* Size of a string field of n bytes. Like nanopb with FT_POINTER
 * strings, a NULL string is omitted and an empty one is written (both
 * read back as ""). Lengths are taken once per string and passed along:
 * strlen three times per metadata string was ~650 instructions a call. */
static size_t str_field_n(const char *s, size_t n) { return s ? 1 + vsize(n) + n : 0; }

static size_t str_field(const char *s) { return s ? str_field_n(s, strlen(s)) : 0; }

static uint8_t *put_str_n(uint8_t *p, unsigned field, const char *s, size_t n) {
  return s ? put_bytes(p, field, s, n) : p;
}

static uint8_t *put_str(uint8_t *p, unsigned field, const char *s) {
  return s ? put_bytes(p, field, s, strlen(s)) : p;
}

/* proto3 omits a float whose bits are all zero (nanopb's test too). */
static int float_set(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u != 0;
}

/* A TextBox whose text is tlen bytes. */
static size_t box_size(const ocr_box *b, size_t tlen) {
  size_t bbox = 1 + vsize(32) + 32; /* packed 8 floats */
  return str_field_n(b->text, tlen) + (float_set(b->confidence) ? 5 : 0) + 1 + vsize(bbox) +
         bbox + (b->page != 0 ? 1 + vsize((uint64_t)(int64_t)b->page) : 0);
}

static size_t entry_size(const rpc_kv *kv, size_t i) {
  return str_field_n(kv->e[i].key, kv->klen[i]) + str_field_n(kv->e[i].value, kv->vlen[i]);
}

int rpc__ocr_response_encode(const ocr_result *r, const rpc_kv *kv, buf *out,
                             uint64_t limit) {
  const char *code = NULL, *message = NULL, *details = NULL;
  size_t err_in = 0, md_in = 0, size = 0, text_len = r->text ? strlen(r->text) : 0;
  int status = r->err ? common_Status_STATUS_FAILURE : common_Status_STATUS_SUCCESS;

  size += 1 + vsize((uint64_t)status);
  if (r->err) {
    code = "OCR_ERROR";
    message = r->error_message ? r->error_message : err_text(r->err);
    details = err_name(r->err);
    err_in = str_field(code) + str_field(message) + str_field(details);
  } else {
    size += str_field_n(r->text, text_len);
    size += float_set(r->confidence) ? 5 : 0;
    for (size_t i = 0; i < r->nboxes; i++) {
      const ocr_box *bx = &r->boxes[i];
      size_t b = box_size(bx, bx->text ? strlen(bx->text) : 0);
      size += 1 + vsize(b) + b;
    }
  }
  size_t esize[sizeof kv->e / sizeof kv->e[0]]; /* sized once, written below */
  for (size_t i = 0; i < kv->n; i++) {
    esize[i] = entry_size(kv, i);
    md_in += 1 + vsize(esize[i]) + esize[i];
  }
  size += 1 + vsize(md_in) + md_in;
  if (r->err)
    size += 1 + vsize(err_in) + err_in;
  if (size > limit)
    return ERR_MSG_TOO_LARGE;
  if (buf_reserve(out, 5 + size))
    return ERR_NOMEM;

  uint8_t *start = out->data + out->len, *p = start;
  *p++ = 0;
  *p++ = (uint8_t)(size >> 24);
  *p++ = (uint8_t)(size >> 16);
  *p++ = (uint8_t)(size >> 8);
  *p++ = (uint8_t)size;
  p = put_tag(p, 1, WT_VARINT);
  p = put_varint(p, (uint64_t)status);
  if (!r->err) {
    p = put_str_n(p, 2, r->text, text_len);
    if (float_set(r->confidence))
      p = put_float(p, 3, r->confidence);
    for (size_t i = 0; i < r->nboxes; i++) {
      const ocr_box *b = &r->boxes[i];
      size_t tlen = b->text ? strlen(b->text) : 0;
      p = put_tag(p, 4, WT_LEN);
      p = put_varint(p, box_size(b, tlen));
      p = put_str_n(p, 1, b->text, tlen);
      if (float_set(b->confidence))
        p = put_float(p, 2, b->confidence);
      size_t bbox = 1 + vsize(32) + 32;
      p = put_tag(p, 3, WT_LEN);
      p = put_varint(p, bbox);
      p = put_bytes(p, 1, b->quad, 32);
      if (b->page != 0) { /* int32: negative values would be 10 bytes */
        p = put_tag(p, 4, WT_VARINT);
        p = put_varint(p, (uint64_t)(int64_t)b->page);
      }
    }
  }
  p = put_tag(p, 5, WT_LEN);
  p = put_varint(p, md_in);
  for (size_t i = 0; i < kv->n; i++) {
    p = put_tag(p, 1, WT_LEN);
    p = put_varint(p, esize[i]);
    p = put_str_n(p, 1, kv->e[i].key, kv->klen[i]);
    p = put_str_n(p, 2, kv->e[i].value, kv->vlen[i]);
  }
  if (r->err) {
    p = put_tag(p, 6, WT_LEN);
    p = put_varint(p, err_in);
    p = put_str(p, 1, code);
    p = put_str(p, 2, message);
    p = put_str(p, 3, details);
  }
  out->len += (size_t)(p - start);
  return 0;
}
