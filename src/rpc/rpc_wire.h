/* SPDX-License-Identifier: MIT */
/* The gRPC vocabulary shared by the server (src/rpc) and the client
 * library (src/client), so that each term has one definition: the status
 * codes and their names, the mappings to a status (from ERR_*, from an
 * HTTP :status, from an RST_STREAM code), grpc-timeout parsing and
 * formatting, the content-type check, length-prefixed message framing and
 * grpc-message percent-encoding. No I/O, no threads: a deframer belongs to
 * one stream on one thread; everything else is a pure function, callable
 * from any thread. Built as its own small library (ocrpc_rpc_wire) so the
 * client does not link the server's services. */
#ifndef OCRPC_RPC_WIRE_H
#define OCRPC_RPC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* gRPC status codes (grpc doc/statuscodes.md), as X(NAME, value). */
#define RPC_STATUS_MAP(X)                                                                  \
  X(OK, 0)                                                                                 \
  X(CANCELLED, 1)                                                                          \
  X(UNKNOWN, 2)                                                                            \
  X(INVALID_ARGUMENT, 3)                                                                   \
  X(DEADLINE_EXCEEDED, 4)                                                                  \
  X(NOT_FOUND, 5)                                                                          \
  X(ALREADY_EXISTS, 6)                                                                     \
  X(PERMISSION_DENIED, 7)                                                                  \
  X(RESOURCE_EXHAUSTED, 8)                                                                 \
  X(FAILED_PRECONDITION, 9)                                                                \
  X(ABORTED, 10)                                                                           \
  X(OUT_OF_RANGE, 11)                                                                      \
  X(UNIMPLEMENTED, 12)                                                                     \
  X(INTERNAL, 13)                                                                          \
  X(UNAVAILABLE, 14)                                                                       \
  X(DATA_LOSS, 15)                                                                         \
  X(UNAUTHENTICATED, 16)

typedef enum rpc_status {
#define RPC_STATUS_ENUM(name, v) RPC_##name = v,
  RPC_STATUS_MAP(RPC_STATUS_ENUM)
#undef RPC_STATUS_ENUM
      RPC_STATUS_COUNT
} rpc_status;

/* The code's name as grpc spells it ("OK", "DEADLINE_EXCEEDED");
 * "UNKNOWN" outside 0..16. Static storage. */
const char *rpc_status_name(rpc_status st);

/* The one mapping of an internal ERR_* (base/err.h) to the status a peer
 * sees: 0 -> OK; CANCELLED; INVAL and PARSE (a request that does not
 * parse) -> INVALID_ARGUMENT; NOT_FOUND; MSG_TOO_LARGE and NOMEM ->
 * RESOURCE_EXHAUSTED; UNIMPLEMENTED; UNAVAILABLE (a backend such as the job
 * store cannot be reached, or no room for the work); everything else
 * (PROTOCOL: the peer broke the gRPC protocol, e.g. invalid gzip or
 * base64; INTERNAL: our own bug, e.g. a response nanopb cannot encode;
 * ENGINE ...) -> INTERNAL. Never OK for an error. */
rpc_status rpc_status_from_err(int err);

/* The status for an HTTP :status other than 200 on a gRPC response (grpc
 * doc/http-grpc-status-mapping.md): 400 INTERNAL, 401 UNAUTHENTICATED,
 * 403 PERMISSION_DENIED, 404 UNIMPLEMENTED, 429/502/503/504 UNAVAILABLE,
 * any other UNKNOWN. */
rpc_status rpc_status_from_http(int http_status);

/* The status for a stream reset with an HTTP/2 error code (grpc
 * PROTOCOL-HTTP2.md "Errors"): REFUSED_STREAM UNAVAILABLE (not processed:
 * safe to retry), CANCEL CANCELLED, ENHANCE_YOUR_CALM RESOURCE_EXHAUSTED,
 * INADEQUATE_SECURITY PERMISSION_DENIED, any other INTERNAL. */
rpc_status rpc_status_from_h2_error(uint32_t h2_error);

/* The longest grpc-timeout value rpc_timeout_format writes, without NUL. */
#define RPC_TIMEOUT_MAX_LEN 9

/* Parses a grpc-timeout value (len bytes, no NUL needed): ASCII digits,
 * then one unit H M S m u n. The spec allows 8 digits; clients have sent
 * more (grpc#17079), so longer values are read with saturation and the
 * result clamped to 99999999 hours rather than refused. Sub-millisecond
 * values round up. Returns 0 and *ms, or ERR_INVAL (empty, no digit, a
 * non-digit, an unknown unit). */
int rpc_timeout_parse(const char *v, size_t len, uint64_t *ms);

/* Writes the grpc-timeout value for ms: at most 8 digits and a unit, the
 * finest unit that fits, rounded up so the peer never sees a shorter
 * deadline (UINT64_MAX gives "99999999H"). out holds at least
 * RPC_TIMEOUT_MAX_LEN + 1 bytes; NUL-terminated. Returns its length. */
size_t rpc_timeout_format(uint64_t ms, char *out);

/* 1 when a content-type value (len bytes) is gRPC: "application/grpc",
 * optionally followed by "+subtype" and/or ";parameters". *sub and
 * *sublen (both may be NULL) receive the subtype, borrowed from v
 * ("proto", "json"; "" after a bare '+'), or NULL and 0 when there is no
 * '+'. 0 otherwise. */
int rpc_content_type_is_grpc(const char *v, size_t len, const char **sub, size_t *sublen);

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
/* Returns 0, ERR_MSG_TOO_LARGE (a prefix over the limit), ERR_NOMEM, or
 * what the callback returned. */
int rpc_deframe_feed(rpc_deframer *d, const uint8_t *data, size_t len, rpc_msg_cb cb,
                     void *ud);
/* 1 when a message is partly received (a half-closed stream then lost
 * bytes). */
int rpc_deframer_partial(const rpc_deframer *d);

/* Encodes msg as one length-prefixed gRPC message appended to out.
 * Returns 0, ERR_MSG_TOO_LARGE (over limit), ERR_NOMEM or ERR_INTERNAL
 * (nanopb cannot encode msg: the caller built it wrong). */
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
