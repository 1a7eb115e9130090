/* SPDX-License-Identifier: MIT */
/* Durations as the client's users write them ("1.5s", "200ms"); the gRPC
 * vocabulary itself (statuses, grpc-timeout, framing) is src/rpc/rpc_wire.h,
 * shared with the server. Pure functions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "client_internal.h"

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
