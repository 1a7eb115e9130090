/* SPDX-License-Identifier: MIT */
/* Values of gRPC's own headers, for both sides: grpc-timeout (digits then
 * one unit H M S m u n) parsed by the server and written by the client,
 * and the application/grpc content-type check. The spec allows 8 digits;
 * clients have sent more (grpc#17079), so longer values are read with
 * saturation and clamped rather than refused. Pure functions. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "rpc_wire.h"

/* The largest deadline honoured: 8 digits of hours, as the spec allows. */
#define MAX_TIMEOUT_MS (99999999ull * 3600000ull)

int rpc_timeout_parse(const char *v, size_t len, uint64_t *ms) {
  if (len < 2)
    return ERR_INVAL;
  uint64_t n = 0;
  int saturated = 0;
  size_t i;
  for (i = 0; i + 1 < len; i++) {
    if (v[i] < '0' || v[i] > '9')
      return ERR_INVAL;
    if (n < UINT64_MAX / 100)
      n = n * 10 + (uint64_t)(v[i] - '0');
    else
      saturated = 1;
  }
  uint64_t mul_num, div;
  switch (v[len - 1]) {
  case 'H':
    mul_num = 3600000;
    div = 1;
    break;
  case 'M':
    mul_num = 60000;
    div = 1;
    break;
  case 'S':
    mul_num = 1000;
    div = 1;
    break;
  case 'm':
    mul_num = 1;
    div = 1;
    break;
  case 'u':
    mul_num = 1;
    div = 1000;
    break;
  case 'n':
    mul_num = 1;
    div = 1000000;
    break;
  default:
    return ERR_INVAL;
  }
  uint64_t out;
  if (saturated || n / div > MAX_TIMEOUT_MS / mul_num)
    out = MAX_TIMEOUT_MS;
  else
    out = (n * mul_num + div - 1) / div; /* round sub-millisecond up */
  *ms = out > MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS : out;
  return 0;
}

size_t rpc_timeout_format(uint64_t ms, char *out) {
  /* Eight digits at most (grpc PROTOCOL-HTTP2.md); pick the finest unit
   * that fits and round up. */
  static const struct {
    uint64_t per;
    char unit;
  } units[] = {{1, 'm'}, {1000, 'S'}, {60000, 'M'}, {3600000, 'H'}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    uint64_t v = ms / units[i].per + (ms % units[i].per != 0);
    if (v <= 99999999)
      return (size_t)snprintf(out, RPC_TIMEOUT_MAX_LEN + 1, "%llu%c", (unsigned long long)v,
                              units[i].unit);
  }
  memcpy(out, "99999999H", RPC_TIMEOUT_MAX_LEN + 1);
  return RPC_TIMEOUT_MAX_LEN;
}

int rpc_content_type_is_grpc(const char *v, size_t len, const char **sub, size_t *sublen) {
  static const char base[] = "application/grpc";
  const size_t n = sizeof base - 1;
  if (len < n || memcmp(v, base, n) != 0 || (len > n && v[n] != '+' && v[n] != ';'))
    return 0;
  const char *s = NULL, *end = NULL;
  if (len > n && v[n] == '+') {
    end = v + len;
    s = v + n + 1;
    const char *semi = memchr(s, ';', (size_t)(end - s));
    if (semi)
      end = semi;
  }
  if (sub)
    *sub = s;
  if (sublen)
    *sublen = (size_t)(end - s);
  return 1;
}
