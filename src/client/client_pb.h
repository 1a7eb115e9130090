/* SPDX-License-Identifier: MIT */
/* nanopb helpers for client programs: frame a request message for
 * client_call_start and decode a response message. Kept apart from
 * client.h so that header stays free of third-party headers. Any thread. */
#ifndef OCRPC_CLIENT_PB_H
#define OCRPC_CLIENT_PB_H

#include <pb.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define CLIENT_M_EXTRACT_TEXT "/ocr.OCRService/ExtractText"
#define CLIENT_M_EXTRACT_BATCH "/ocr.OCRService/ExtractTextBatch"
#define CLIENT_M_CHECK_HEALTH "/ocr.OCRService/CheckHealth"
#define CLIENT_M_BATCH_STATUS "/ocr.OCRService/GetBatchStatus"

/* Appends msg as one length-prefixed, uncompressed gRPC message to out.
 * Returns 0, ERR_MSG_TOO_LARGE (over 4 GiB - 1) or ERR_PARSE
 * (nanopb refused the message). */
int client_pb_frame(buf *out, const pb_msgdesc_t *fields, const void *msg);

/* Decodes one message into *msg (zeroed first; heap fields allocated by
 * nanopb: release with pb_release even on failure). Returns 0 or
 * ERR_PARSE. */
int client_pb_decode(const uint8_t *data, size_t len, const pb_msgdesc_t *fields,
                     void *msg);

/* Wire-format checking without decoding (client_wire.c). */
#define CLIENT_WIRE_MAX_TAG 31
typedef struct client_schema client_schema;

/* The checking table of a message type, built from its nanopb descriptor
 * (and those of its submessages) on first use and kept for the process.
 * Not thread-safe: call it for every type before threads start. Returns
 * NULL for a type with a field number over CLIENT_WIRE_MAX_TAG. */
const client_schema *client_wire_schema(const pb_msgdesc_t *desc);

/* Checks that data is a well-formed message of schema s: every known
 * field has its type's wire type (packed repeated scalars accepted) and
 * every submessage checks too; unknown fields are skipped. When `field` is
 * a varint field of the top message, *value gets its last value (left as
 * it was when absent: proto3's default). Returns 0 or ERR_PARSE. Any
 * thread. */
int client_wire_check(const uint8_t *data, size_t len, const client_schema *s,
                      uint32_t field, uint64_t *value);

/* Reads a regular file into a new pb_bytes_array_t (caller frees with
 * free()). Returns 0, ERR_NOT_FOUND, ERR_TOO_LARGE (over limit bytes),
 * or ERR_IO (not a regular file, read error). */
int client_pb_read_file(const char *path, uint64_t limit, pb_bytes_array_t **out);

#endif
