/* SPDX-License-Identifier: MIT */
/* gzip for gRPC messages (grpc-encoding: gzip). Inflation stops at the
 * message-size limit, so a small compressed message cannot expand into an
 * unbounded allocation (a zip bomb). Loop thread. */
#include <zlib.h>

#include "base/err.h"
#include "rpc_internal.h"

int rpc__gunzip(const uint8_t *in, size_t len, uint64_t limit, buf *out) {
  z_stream z = {0};
  if (inflateInit2(&z, 15 + 32) != Z_OK) /* +32: gzip or zlib header */
    return ERR_NOMEM;
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)len;
  int rc = 0;
  for (;;) {
    size_t room = len * 4 + 1024;
    if (room > limit + 1 - out->len)
      room = limit + 1 - out->len; /* one byte past the limit detects overflow */
    if (buf_reserve(out, room)) {
      rc = ERR_NOMEM;
      break;
    }
    z.next_out = out->data + out->len;
    z.avail_out = (uInt)room;
    int zr = inflate(&z, Z_NO_FLUSH);
    out->len += room - z.avail_out;
    if (out->len > limit) {
      rc = ERR_MSG_TOO_LARGE;
      break;
    }
    if (zr == Z_STREAM_END)
      break;
    if (zr != Z_OK && zr != Z_BUF_ERROR) {
      rc = ERR_PROTOCOL;
      break;
    }
    if (zr == Z_BUF_ERROR && z.avail_in == 0) {
      rc = ERR_PROTOCOL; /* truncated stream */
      break;
    }
  }
  inflateEnd(&z);
  return rc;
}

int rpc__gzip(const uint8_t *in, size_t len, buf *out) {
  z_stream z = {0};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    return ERR_NOMEM;
  size_t bound = deflateBound(&z, (uLong)len);
  int rc = buf_reserve(out, bound);
  if (rc == 0) {
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out->data + out->len;
    z.avail_out = (uInt)bound;
    if (deflate(&z, Z_FINISH) == Z_STREAM_END)
      out->len += bound - z.avail_out;
    else
      rc = ERR_NOMEM;
  }
  deflateEnd(&z);
  return rc;
}
