/* SPDX-License-Identifier: MIT */
/* A header field as the layers pass it between each other: borrowed bytes,
 * not NUL-terminated, valid for the duration of the call that hands them. */
#ifndef OCRPC_BASE_HDR_H
#define OCRPC_BASE_HDR_H

#include <stddef.h>
#include <string.h>

typedef struct hdr {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} hdr;

#define HDR_LIT(n, v)                                                                      \
  { (n), sizeof(n) - 1, (v), sizeof(v) - 1 }

static inline hdr hdr_make(const char *name, const char *value, size_t value_len) {
  hdr h = {name, strlen(name), value, value_len};
  return h;
}

/* 1 if h's name equals the string literal `lit` (length known at compile
 * time: no strlen on the request path). */
#define HDR_IS(h, lit)                                                                     \
  ((h)->name_len == sizeof(lit) - 1 && memcmp((h)->name, (lit), sizeof(lit) - 1) == 0)

/* 1 if h's name equals the NUL-terminated lower-case name. */
static inline int hdr_is(const hdr *h, const char *name) {
  size_t n = strlen(name);
  return h->name_len == n && memcmp(h->name, name, n) == 0;
}

#endif
