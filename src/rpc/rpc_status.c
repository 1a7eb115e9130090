/* SPDX-License-Identifier: MIT */
/* gRPC status mapping and grpc-message percent-encoding. Pure functions. */
#include <stdio.h>

#include "base/err.h"
#include "base/text.h"
#include "rpc.h"

const char *rpc_status_name(rpc_status st) {
  static const char *const names[] = {"OK",
                                      "CANCELLED",
                                      "UNKNOWN",
                                      "INVALID_ARGUMENT",
                                      "DEADLINE_EXCEEDED",
                                      "NOT_FOUND",
                                      "ALREADY_EXISTS",
                                      "PERMISSION_DENIED",
                                      "RESOURCE_EXHAUSTED",
                                      "FAILED_PRECONDITION",
                                      "ABORTED",
                                      "OUT_OF_RANGE",
                                      "UNIMPLEMENTED",
                                      "INTERNAL",
                                      "UNAVAILABLE",
                                      "DATA_LOSS",
                                      "UNAUTHENTICATED"};
  return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "UNKNOWN";
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
