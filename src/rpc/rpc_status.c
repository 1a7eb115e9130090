/* SPDX-License-Identifier: MIT */
/* gRPC status codes: names, the one mapping from internal errors, the
 * mappings from HTTP :status and RST_STREAM codes, and grpc-message
 * percent-encoding. Pure functions, shared by server and client. */
#include <stdio.h>

#include "base/err.h"
#include "base/text.h"
#include "rpc_wire.h"

const char *rpc_status_name(rpc_status st) {
  static const char *const names[] = {
#define RPC_STATUS_NAME(name, v) [v] = #name,
      RPC_STATUS_MAP(RPC_STATUS_NAME)
#undef RPC_STATUS_NAME
  };
  return (unsigned)st < RPC_STATUS_COUNT ? names[st] : "UNKNOWN";
}

rpc_status rpc_status_from_err(int err) {
  switch (err) {
  case 0:
    return RPC_OK;
  case ERR_CANCELLED:
    return RPC_CANCELLED;
  case ERR_INVAL:
  case ERR_PARSE:
    return RPC_INVALID_ARGUMENT;
  case ERR_NOT_FOUND:
    return RPC_NOT_FOUND;
  case ERR_MSG_TOO_LARGE:
  case ERR_NOMEM:
    return RPC_RESOURCE_EXHAUSTED;
  case ERR_UNIMPLEMENTED:
    return RPC_UNIMPLEMENTED;
  case ERR_UNAVAILABLE:
    return RPC_UNAVAILABLE;
  default:
    return RPC_INTERNAL;
  }
}

rpc_status rpc_status_from_http(int http_status) {
  switch (http_status) {
  case 400:
    return RPC_INTERNAL;
  case 401:
    return RPC_UNAUTHENTICATED;
  case 403:
    return RPC_PERMISSION_DENIED;
  case 404:
    return RPC_UNIMPLEMENTED;
  case 429:
  case 502:
  case 503:
  case 504:
    return RPC_UNAVAILABLE;
  default:
    return RPC_UNKNOWN;
  }
}

rpc_status rpc_status_from_h2_error(uint32_t h2_error) {
  switch (h2_error) {
  case 0x7: /* REFUSED_STREAM: not processed, safe to retry */
    return RPC_UNAVAILABLE;
  case 0x8: /* CANCEL */
    return RPC_CANCELLED;
  case 0xb: /* ENHANCE_YOUR_CALM */
    return RPC_RESOURCE_EXHAUSTED;
  case 0xc: /* INADEQUATE_SECURITY */
    return RPC_PERMISSION_DENIED;
  default:
    return RPC_INTERNAL;
  }
}

size_t rpc_percent_encode(const char *in, size_t len, char *out, size_t outsize) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  if (outsize == 0)
    return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)in[i];
    if (ch >= 0x20 && ch <= 0x7e && ch != '%') {
      if (o + 1 >= outsize)
        break;
      out[o++] = (char)ch;
    } else {
      if (o + 3 >= outsize)
        break;
      out[o++] = '%';
      out[o++] = hex[ch >> 4];
      out[o++] = hex[ch & 15];
    }
  }
  out[o] = 0;
  return o;
}

size_t rpc_percent_decode(const char *in, size_t len, char *out, size_t outsize) {
  size_t o = 0;
  for (size_t i = 0; i < len && o + 1 < outsize; i++) {
    int hi, lo;
    if (in[i] == '%' && i + 2 < len + 0 && (hi = text_hex_digit(in[i + 1])) >= 0 &&
        (lo = text_hex_digit(in[i + 2])) >= 0) {
      out[o++] = (char)(hi << 4 | lo);
      i += 2;
    } else {
      out[o++] = in[i];
    }
  }
  if (outsize)
    out[o] = 0;
  return o;
}
