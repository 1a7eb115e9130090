/* SPDX-License-Identifier: MIT */
/* Error codes shared by every module: 0 or a negative ERR_* from one table,
 * as libuv's UV_ERRNO_MAP does. err_name() gives the stable name that also
 * appears in OCR failure responses (ErrorInfo.details). Any thread. */
#ifndef OCRPC_BASE_ERR_H
#define OCRPC_BASE_ERR_H

#define ERR_MAP(X)                                                                         \
  X(NOMEM, "NO_MEMORY", "out of memory")                                                   \
  X(INVAL, "INVALID_ARGUMENT", "invalid argument")                                         \
  X(NOT_FOUND, "NOT_FOUND", "file not found")                                              \
  X(FORBIDDEN_PATH, "FORBIDDEN_PATH", "path outside the image root")                       \
  X(DECODE, "DECODE_ERROR", "image could not be decoded")                                  \
  X(TOO_LARGE, "TOO_LARGE", "image exceeds the pixel limit")                               \
  X(LANGUAGE, "UNSUPPORTED_LANGUAGE", "language not available")                            \
  X(CANCELLED, "CANCELLED", "cancelled")                                                   \
  X(ENGINE, "ENGINE_ERROR", "OCR engine failure")                                          \
  X(IO, "IO_ERROR", "input/output error")                                                  \
  X(PROTOCOL, "PROTOCOL_ERROR", "protocol error")                                          \
  X(MSG_TOO_LARGE, "MESSAGE_TOO_LARGE", "message exceeds the size limit")                  \
  X(PARSE, "PARSE_ERROR", "message does not parse")                                        \
  X(UNIMPLEMENTED, "UNIMPLEMENTED", "not implemented")                                     \
  X(UNAVAILABLE, "UNAVAILABLE", "unavailable")                                             \
  X(CONFIG, "CONFIG_ERROR", "bad configuration")                                           \
  X(UNSUPPORTED_FORMAT, "UNSUPPORTED_FORMAT", "valid image in an unsupported encoding")    \
  X(PDF, "PDF_ERROR", "PDF could not be read")                                             \
  X(PDF_ENCRYPTED, "PDF_ENCRYPTED", "PDF is password-protected")                          \
  X(INTERNAL, "INTERNAL_ERROR", "internal error")

enum {
  ERR_OK = 0,
  ERR__BASE = -1000,
#define ERR_ENUM(sym, name, text) ERR_##sym,
  ERR_MAP(ERR_ENUM)
#undef ERR_ENUM
      ERR__END
};

/* Stable upper-case name of an error code ("NOT_FOUND"); "OK" for 0 and
 * "UNKNOWN" for a code not in the table. Static storage. */
const char *err_name(int code);

/* Human-readable text for an error code. Static storage. */
const char *err_text(int code);

#endif
