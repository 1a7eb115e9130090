/* SPDX-License-Identifier: MIT */
/* The gRPC wire format shared by the server (src/rpc) and the client
 * library (src/client): length-prefixed message reassembly and
 * grpc-message percent-encoding. No I/O, no threads: a deframer belongs to
 * one stream on one thread; the codec functions are pure. Built as its own
 * small library (ocrpc_rpc_wire) so the client does not link the server's
 * services. */
#ifndef OCRPC_RPC_WIRE_H
#define OCRPC_RPC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* nanopb's message descriptor, declared here so this header stays free of
 * third-party headers. */
struct pb_msgdesc_s;

/* Reassembles length-prefixed gRPC messages (1 flag byte, 4-byte
 * big-endian length, payload) from DATA bytes that arrive in arbitrary
 * pieces. The length prefix is checked against the limit before a byte of
 * the message is buffered. */
typedef struct rpc_deframer {
  uint8_t prefix[5];
  size_t prefix_len;
  uint32_t msg_len;
  int compressed;
  buf msg;
  uint64_t limit;
} rpc_deframer;

/* Called for every complete message; data borrowed until return. Non-zero
 * stops feeding and is returned from rpc_deframe_feed. */
typedef int (*rpc_msg_cb)(void *ud, const uint8_t *data, size_t len, int compressed);

void rpc_deframer_init(rpc_deframer *d, uint64_t limit);
void rpc_deframer_free(rpc_deframer *d);
/* Returns 0, ERR_MSG_TOO_LARGE (a prefix over the limit), or
 * what the callback returned. */
int rpc_deframe_feed(rpc_deframer *d, const uint8_t *data, size_t len, rpc_msg_cb cb,
                     void *ud);
/* 1 when a message is partly received (a half-closed stream then lost
 * bytes). */
int rpc_deframer_partial(const rpc_deframer *d);

/* Encodes msg as one length-prefixed gRPC message appended to out.
 * Returns 0, ERR_MSG_TOO_LARGE (over limit) or ERR_PARSE. */
int rpc_encode_message(buf *out, const struct pb_msgdesc_s *fields, const void *msg,
                       uint64_t limit);

/* Percent-encodes a grpc-message value: bytes 0x20-0x7E except '%' stay,
 * every other byte becomes %XX. Writes at most outsize-1 bytes plus NUL,
 * never splitting an escape; returns the length written. */
size_t rpc_percent_encode(const char *in, size_t len, char *out, size_t outsize);

/* Decodes a percent-encoded grpc-message into out (outsize >= len+1 holds
 * any input); invalid escapes are kept as they are. Returns the length. */
size_t rpc_percent_decode(const char *in, size_t len, char *out, size_t outsize);

#endif
