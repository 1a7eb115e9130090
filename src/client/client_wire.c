/* SPDX-License-Identifier: MIT */
/* Checks that a response message is well-formed protobuf of the expected
 * type without decoding it into memory: every field's wire type matches
 * the schema and every submessage checks recursively. A load generator
 * must check every answer, and nanopb's allocating decode cost more than
 * the rest of the client (bench/RESULTS.md). The per-message tables are
 * built from nanopb's descriptors, so protos/ stays the only schema. Build
 * them (client_wire_schema) before threads start; checking is thread-safe. */
#include <pb_common.h>
#include <string.h>

#include "base/err.h"
#include "client_pb.h"

#define MAX_SCHEMAS 32

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

struct client_schema {
  const pb_msgdesc_t *desc;
  /* By field number: expected wire type + 1 (0: unknown field), and the
   * schema of a submessage field. */
  uint8_t wt[CLIENT_WIRE_MAX_TAG + 1];
  uint8_t packable[CLIENT_WIRE_MAX_TAG + 1];
  const client_schema *sub[CLIENT_WIRE_MAX_TAG + 1];
};

static client_schema schemas[MAX_SCHEMAS];
static size_t nschemas;

static int wire_type(pb_type_t type) {
  switch (PB_LTYPE(type)) {
  case PB_LTYPE_BOOL:
  case PB_LTYPE_VARINT:
  case PB_LTYPE_UVARINT:
  case PB_LTYPE_SVARINT:
    return WT_VARINT;
  case PB_LTYPE_FIXED32:
    return WT_I32;
  case PB_LTYPE_FIXED64:
    return WT_I64;
  default:
    return WT_LEN;
  }
}

const client_schema *client_wire_schema(const pb_msgdesc_t *desc) {
  for (size_t i = 0; i < nschemas; i++)
    if (schemas[i].desc == desc)
      return &schemas[i];
  if (nschemas == MAX_SCHEMAS)
    return NULL;
  client_schema *s = &schemas[nschemas++];
  memset(s, 0, sizeof *s);
  s->desc = desc;
  pb_field_iter_t it;
  if (!pb_field_iter_begin_const(&it, desc, NULL))
    return s; /* a message without fields */
  do {
    if (it.tag > CLIENT_WIRE_MAX_TAG)
      return NULL;
    s->wt[it.tag] = (uint8_t)(wire_type(it.type) + 1);
    s->packable[it.tag] = PB_HTYPE(it.type) == PB_HTYPE_REPEATED &&
                          PB_LTYPE(it.type) <= PB_LTYPE_LAST_PACKABLE;
    if (PB_LTYPE_IS_SUBMSG(it.type)) {
      s->sub[it.tag] = client_wire_schema(it.submsg_desc);
      if (!s->sub[it.tag])
        return NULL;
    }
  } while (pb_field_iter_next(&it));
  return s;
}

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p == end)
      return -1;
    uint8_t b = *(*p)++;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return 0;
    }
  }
  return -1;
}

static int check(const uint8_t *p, const uint8_t *end, const client_schema *s, int depth,
                 uint32_t want, uint64_t *value) {
  if (depth > 16)
    return ERR_PARSE;
  while (p < end) {
    uint64_t key, v = 0;
    if (read_varint(&p, end, &key))
      return ERR_PARSE;
    uint32_t num = (uint32_t)(key >> 3);
    int wt = (int)(key & 7);
    if (num == 0)
      return ERR_PARSE;
    const uint8_t *body = p;
    switch (wt) {
    case WT_VARINT:
      if (read_varint(&p, end, &v))
        return ERR_PARSE;
      break;
    case WT_I64:
    case WT_I32: {
      size_t n = wt == WT_I64 ? 8 : 4;
      if ((size_t)(end - p) < n)
        return ERR_PARSE;
      p += n;
      break;
    }
    case WT_LEN:
      if (read_varint(&p, end, &v) || v > (uint64_t)(end - p))
        return ERR_PARSE;
      body = p;
      p += v;
      break;
    default:
      return ERR_PARSE; /* groups are not proto3 */
    }
    if (num > CLIENT_WIRE_MAX_TAG || !s->wt[num])
      continue; /* unknown fields are legal: skipped */
    int expect = s->wt[num] - 1;
    if (wt != expect && !(wt == WT_LEN && s->packable[num]))
      return ERR_PARSE;
    if (s->sub[num] && check(body, p, s->sub[num], depth + 1, 0, NULL))
      return ERR_PARSE;
    if (num == want && wt == WT_VARINT && value)
      *value = v;
  }
  return p == end ? 0 : ERR_PARSE;
}

int client_wire_check(const uint8_t *data, size_t len, const client_schema *s,
                      uint32_t field, uint64_t *value) {
  if (!s)
    return ERR_PARSE;
  return check(data, data + len, s, 0, field, value);
}
