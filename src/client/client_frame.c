/* SPDX-License-Identifier: MIT */
/* gRPC framing for the client: the response deframer (a small copy of
 * src/rpc's, because linking ocrpc_rpc would drag the server's services,
 * Tesseract and the job store into the CLI), grpc-timeout encoding,
 * grpc-message percent-decoding and status mappings. Pure functions; the
 * deframer is used on the loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "client_internal.h"

const char *client_code_name(int code) {
  switch (code) {
#define CLIENT_CODE_CASE(name, v) \
  case v:                         \
    return #name;
    CLIENT_CODE_MAP(CLIENT_CODE_CASE)
#undef CLIENT_CODE_CASE
  default:
    return "UNKNOWN";
  }
}

void client__deframer_init(client_deframer *d, uint64_t limit) {
  memset(d, 0, sizeof *d);
  d->limit = limit;
}

void client__deframer_free(client_deframer *d) { buf_free(&d->msg); }

int client__deframer_partial(const client_deframer *d) { return d->prefix_len > 0; }

int client__deframe_feed(client_deframer *d, const uint8_t *data, size_t len,
                         client_msg_cb cb, void *ud) {
  while (len > 0) {
    if (d->prefix_len < 5) {
      size_t take = 5 - d->prefix_len;
      if (take > len)
        take = len;
      memcpy(d->prefix + d->prefix_len, data, take);
      d->prefix_len += take;
      data += take;
      len -= take;
      if (d->prefix_len < 5)
        return 0;
      d->compressed = d->prefix[0] & 1;
      d->msg_len = (uint32_t)d->prefix[1] << 24 | (uint32_t)d->prefix[2] << 16 |
                   (uint32_t)d->prefix[3] << 8 | d->prefix[4];
      if (d->msg_len > d->limit)
        return ERR_MSG_TOO_LARGE;
      buf_reset(&d->msg);
    }
    size_t want = d->msg_len - d->msg.len;
    const uint8_t *whole = NULL;
    if (d->msg.len == 0 && len >= want) {
      /* The whole message sits in this piece: no copy. */
      whole = data;
      data += want;
      len -= want;
    } else {
      size_t take = want < len ? want : len;
      if (buf_append(&d->msg, data, take))
        return ERR_NOMEM;
      data += take;
      len -= take;
      if (d->msg.len < d->msg_len)
        return 0;
    }
    d->prefix_len = 0;
    int rc = whole ? cb(ud, whole, want, d->compressed)
                   : cb(ud, d->msg.data, d->msg.len, d->compressed);
    buf_reset(&d->msg);
    if (rc)
      return rc;
  }
  return 0;
}

size_t client__timeout_format(uint64_t ms, char *out) {
  /* Eight digits at most (grpc PROTOCOL-HTTP2.md); pick the finest unit
   * that fits and round up. */
  static const struct {
    uint64_t per;
    char unit;
  } units[] = {{1, 'm'}, {1000, 'S'}, {60000, 'M'}, {3600000, 'H'}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    uint64_t v = (ms + units[i].per - 1) / units[i].per;
    if (v <= 99999999)
      return (size_t)sprintf(out, "%llu%c", (unsigned long long)v, units[i].unit);
  }
  memcpy(out, "99999999H", 10);
  return 9;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

size_t client_percent_decode(const char *in, size_t len, char *out, size_t outlen) {
  size_t o = 0;
  if (outlen == 0)
    return 0;
  for (size_t i = 0; i < len && o + 1 < outlen; i++) {
    int hi, lo;
    if (in[i] == '%' && i + 2 < len && (hi = hexval(in[i + 1])) >= 0 &&
        (lo = hexval(in[i + 2])) >= 0) {
      out[o++] = (char)(hi << 4 | lo);
      i += 2;
    } else {
      out[o++] = in[i];
    }
  }
  out[o] = '\0';
  return o;
}

int client__http_to_code(int http_status) {
  switch (http_status) {
  case 400:
    return CLIENT_INTERNAL;
  case 401:
    return CLIENT_UNAUTHENTICATED;
  case 403:
    return CLIENT_PERMISSION_DENIED;
  case 404:
    return CLIENT_UNIMPLEMENTED;
  case 429:
  case 502:
  case 503:
  case 504:
    return CLIENT_UNAVAILABLE;
  default:
    return CLIENT_UNKNOWN;
  }
}

int client__h2_error_to_code(uint32_t h2_error) {
  switch (h2_error) {
  case 0x7: /* REFUSED_STREAM: not processed, safe to retry */
    return CLIENT_UNAVAILABLE;
  case 0x8: /* CANCEL */
    return CLIENT_CANCELLED;
  case 0xb: /* ENHANCE_YOUR_CALM */
    return CLIENT_RESOURCE_EXHAUSTED;
  case 0xc: /* INADEQUATE_SECURITY */
    return CLIENT_PERMISSION_DENIED;
  default:
    return CLIENT_INTERNAL;
  }
}

int client_duration_parse(const char *s, uint64_t *ms) {
  if (!s || !*s)
    return ERR_INVAL;
  char *end;
  double v = strtod(s, &end);
  if (end == s || v < 0 || v != v)
    return ERR_INVAL;
  double scale;
  if (*end == '\0' || strcmp(end, "s") == 0)
    scale = 1000;
  else if (strcmp(end, "ms") == 0)
    scale = 1;
  else if (strcmp(end, "us") == 0)
    scale = 0.001;
  else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
    scale = 60000;
  else if (strcmp(end, "h") == 0)
    scale = 3600000;
  else
    return ERR_INVAL;
  double r = v * scale;
  if (r > 1e15)
    return ERR_INVAL;
  uint64_t out = (uint64_t)(r + 0.999999);
  if (v > 0 && out == 0)
    out = 1;
  *ms = out;
  return 0;
}
