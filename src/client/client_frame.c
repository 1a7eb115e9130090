/* SPDX-License-Identifier: MIT */
/* gRPC details for the client: grpc-timeout encoding and status
 * mappings (framing and percent-decoding come from src/rpc/rpc_wire.h,
 * shared with the server). Pure functions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "client_internal.h"

const char *client_code_name(int code) {
  switch (code) {
#define CLIENT_CODE_CASE(name, v)                                                          \
  case v:                                                                                  \
    return #name;
    CLIENT_CODE_MAP(CLIENT_CODE_CASE)
#undef CLIENT_CODE_CASE
  default:
    return "UNKNOWN";
  }
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
