/* SPDX-License-Identifier: MIT */
/* gzip for gRPC messages (grpc-encoding: gzip). Inflation stops at the
 * message-size limit, so a small compressed message cannot expand into an
 * unbounded allocation (a zip bomb). Loop thread. */
#include <zlib.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "base/ocrpc_assert.h"
#include "rpc_internal.h"

/* zlib allocates through the out-of-memory policy too; its init then
 * fails only on a library/header version mismatch. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  return ocrpc_calloc(items, size);
}
static void z_free(voidpf opaque, voidpf p) {
  (void)opaque;
  free(p);
}

int rpc__gunzip(const uint8_t *in, size_t len, uint64_t limit, buf *out) {
  z_stream z = {.zalloc = z_alloc, .zfree = z_free};
  if (inflateInit2(&z, 15 + 32) != Z_OK) /* +32: gzip or zlib header */
    return ERR_PARSE;
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)len;
  int rc = 0;
  for (;;) {
    size_t room = len * 4 + 1024;
    if (room > limit + 1 - out->len)
      room = limit + 1 - out->len; /* one byte past the limit detects overflow */
    buf_reserve(out, room);
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

void rpc__gzip(const uint8_t *in, size_t len, buf *out) {
  z_stream z = {.zalloc = z_alloc, .zfree = z_free};
  int zr =
      deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  OCRPC_ASSERT(zr == Z_OK);
  size_t bound = deflateBound(&z, (uLong)len);
  buf_reserve(out, bound);
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)len;
  z.next_out = out->data + out->len;
  z.avail_out = (uInt)bound;
  /* deflateBound's room always takes the whole stream in one call. */
  zr = deflate(&z, Z_FINISH);
  OCRPC_ASSERT(zr == Z_STREAM_END);
  out->len += bound - z.avail_out;
  deflateEnd(&z);
}
