/* SPDX-License-Identifier: MIT */
/* gRPC message framing: 1 flag byte, 4-byte big-endian length, payload.
 * DATA frame boundaries are unrelated to message boundaries, so the
 * deframer keeps partial prefixes and messages across calls. */
#include <pb_encode.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "rpc_internal.h"
#include "rpc_wire.h"

void rpc_deframer_init(rpc_deframer *d, uint64_t limit) {
  memset(d, 0, sizeof *d);
  d->limit = limit;
}

void rpc_deframer_free(rpc_deframer *d) { buf_free(&d->msg); }

int rpc_deframer_partial(const rpc_deframer *d) { return d->prefix_len > 0; }

int rpc_deframe_feed(rpc_deframer *d, const uint8_t *data, size_t len, rpc_msg_cb cb,
                     void *ud) {
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
      /* The common case: the whole message sits in this piece, so hand it
       * up without copying. */
      whole = data;
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
    int rc;
    if (whole) {
      data += want;
      len -= want;
      rc = cb(ud, whole, want, d->compressed);
    } else {
      rc = cb(ud, d->msg.data, d->msg.len, d->compressed);
      buf_reset(&d->msg);
    }
    if (rc)
      return rc;
  }
  return 0;
}

int rpc_encode_message(buf *out, const pb_msgdesc_t *fields, const void *msg,
                       uint64_t limit) {
  /* Most responses are small: encode straight into the room the buffer
   * has (at least 4 KiB), the prefix filled in afterwards. Only a message
   * that does not fit pays for nanopb's sizing pass. */
  if (buf_reserve(out, 5 + 4096))
    return ERR_NOMEM;
  size_t room = out->cap - out->len - 5;
  if (room > limit)
    room = (size_t)limit;
  uint8_t *p = out->data + out->len;
  pb_ostream_t os = pb_ostream_from_buffer(p + 5, room);
  size_t size;
  if (pb_encode(&os, fields, msg)) {
    size = os.bytes_written;
  } else {
    if (!pb_get_encoded_size(&size, fields, msg))
      return ERR_INTERNAL;
    if (size > limit)
      return ERR_MSG_TOO_LARGE;
    if (buf_reserve(out, 5 + size))
      return ERR_NOMEM;
    p = out->data + out->len;
    os = pb_ostream_from_buffer(p + 5, size);
    if (!pb_encode(&os, fields, msg))
      return ERR_INTERNAL;
  }
  p[0] = 0;
  p[1] = (uint8_t)(size >> 24);
  p[2] = (uint8_t)(size >> 16);
  p[3] = (uint8_t)(size >> 8);
  p[4] = (uint8_t)size;
  out->len += 5 + size;
  return 0;
}
