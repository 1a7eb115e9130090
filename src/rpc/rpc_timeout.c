/* SPDX-License-Identifier: MIT */
/* grpc-timeout parsing: digits then one unit (H M S m u n). The spec
 * allows 8 digits; clients have sent more (grpc#17079), so longer values
 * are read with saturation and clamped rather than refused. */
#include <stdint.h>

#include "base/err.h"
#include "rpc_internal.h"

/* The largest deadline honoured: 8 digits of hours, as the spec allows. */
#define MAX_TIMEOUT_MS (99999999ull * 3600000ull)

int rpc__timeout_parse(const char *v, size_t len, uint64_t *ms) {
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
