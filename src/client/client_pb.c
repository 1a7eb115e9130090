/* SPDX-License-Identifier: MIT */
/* nanopb helpers: framing a request, decoding a response. Any thread. */
#include "client_pb.h"

#include <errno.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "rpc/rpc_wire.h"

int client_pb_frame(buf *out, const pb_msgdesc_t *fields, const void *msg) {
  return rpc_encode_message(out, fields, msg, UINT32_MAX);
}

int client_pb_decode(const uint8_t *data, size_t len, const pb_msgdesc_t *fields,
                     void *msg) {
  pb_istream_t is = pb_istream_from_buffer(data, len);
  /* pb_decode zeroes the struct first; on failure it releases what it
   * allocated. */
  return pb_decode(&is, fields, msg) ? 0 : ERR_PARSE;
}

int client_pb_read_file(const char *path, uint64_t limit, pb_bytes_array_t **out) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return errno == ENOENT || errno == ENOTDIR ? ERR_NOT_FOUND : ERR_IO;
  int rc = ERR_IO;
  struct stat st;
  if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode))
    goto done;
  if ((uint64_t)st.st_size > limit) {
    rc = ERR_TOO_LARGE;
    goto done;
  }
  size_t n = (size_t)st.st_size;
  pb_bytes_array_t *b = ocrpc_malloc(PB_BYTES_ARRAY_T_ALLOCSIZE(n));
  if (fread(b->bytes, 1, n, f) != n) {
    free(b);
    goto done;
  }
  b->size = (pb_size_t)n;
  *out = b;
  rc = 0;
done:
  fclose(f);
  return rc;
}
