/* SPDX-License-Identifier: MIT */
/* Server reflection (grpc.reflection.v1 and v1alpha, the same messages on
 * the wire): a bidirectional stream answering one response per request
 * from the descriptor tables generated at build time. A file is sent with
 * those of its imports not yet sent on this stream, requested file first,
 * as reflection clients (grpcurl) build their descriptor pool from it.
 * Unknown names get an ErrorResponse and the stream stays open. Loop
 * thread. */
#include <pb_decode.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "reflection.pb.h"
#include "rpc_internal.h"
#include "rpc_reflection_data.h"

/* The services this server answers. */
static const char *const served[] = {
    "ocr.OCRService",
    "llm.LLMService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
};
#define NSERVED (sizeof served / sizeof served[0])

/* Per stream: which files were already sent. */
typedef struct refl_stream {
  uint8_t *sent;
} refl_stream;

static long find_file(const char *name) {
  for (size_t i = 0; i < rpc__refl_nfiles; i++)
    if (strcmp(rpc__refl_files[i].name, name) == 0)
      return (long)i;
  return -1;
}

static long find_symbol(const char *sym) {
  for (size_t i = 0; i < rpc__refl_nfiles; i++)
    for (const char *const *s = rpc__refl_files[i].symbols; *s; s++)
      if (strcmp(*s, sym) == 0)
        return (long)i;
  return -1;
}

/* Appends file i, then its imports not yet sent, depth first. */
static void collect(refl_stream *rs, size_t i, int force, const pb_bytes_array_t **out,
                    size_t *n) {
  if (rs->sent[i] && !force)
    return;
  rs->sent[i] = 1;
  out[(*n)++] = rpc__refl_files[i].proto;
  for (const char *const *d = rpc__refl_files[i].deps; *d; d++) {
    long j = find_file(*d);
    if (j >= 0)
      collect(rs, (size_t)j, 0, out, n);
  }
}

static void set_error(grpc_reflection_v1_ServerReflectionResponse *resp, int code,
                      const char *msg) {
  resp->which_message_response =
      grpc_reflection_v1_ServerReflectionResponse_error_response_tag;
  resp->message_response.error_response.error_code = code;
  resp->message_response.error_response.error_message = (char *)msg;
}

static void reflection_detach(void *work) {
  refl_stream *rs = work;
  free(rs->sent);
  free(rs);
}

void rpc__reflection_info(rpc_call *c, void *reqp) {
  grpc_reflection_v1_ServerReflectionRequest *req = reqp;
  refl_stream *rs = c->work;
  if (!rs) {
    rs = ocrpc_calloc(1, sizeof *rs);
    rs->sent = ocrpc_calloc(rpc__refl_nfiles + 1, 1);
    c->work = rs;
    c->detach = reflection_detach;
  }

  grpc_reflection_v1_ServerReflectionResponse resp =
      grpc_reflection_v1_ServerReflectionResponse_init_zero;
  resp.valid_host = req->host;
  resp.has_original_request = true;
  resp.original_request = *req;

  const pb_bytes_array_t *files[64];
  size_t nfiles = 0;
  grpc_reflection_v1_ServiceResponse services[NSERVED];
  long idx = -1;
  switch (req->which_message_request) {
  case grpc_reflection_v1_ServerReflectionRequest_list_services_tag:
    for (size_t i = 0; i < NSERVED; i++)
      services[i].name = (char *)served[i];
    resp.which_message_response =
        grpc_reflection_v1_ServerReflectionResponse_list_services_response_tag;
    resp.message_response.list_services_response.service = services;
    resp.message_response.list_services_response.service_count = NSERVED;
    break;
  case grpc_reflection_v1_ServerReflectionRequest_file_by_filename_tag:
  case grpc_reflection_v1_ServerReflectionRequest_file_containing_symbol_tag: {
    int by_name = req->which_message_request ==
                  grpc_reflection_v1_ServerReflectionRequest_file_by_filename_tag;
    const char *key = by_name ? req->message_request.file_by_filename
                              : req->message_request.file_containing_symbol;
    idx = key ? (by_name ? find_file(key) : find_symbol(key)) : -1;
    if (idx < 0) {
      set_error(&resp, RPC_NOT_FOUND, by_name ? "file not found" : "symbol not found");
      break;
    }
    collect(rs, (size_t)idx, 1, files, &nfiles);
    resp.which_message_response =
        grpc_reflection_v1_ServerReflectionResponse_file_descriptor_response_tag;
    resp.message_response.file_descriptor_response.file_descriptor_proto =
        (pb_bytes_array_t **)files;
    resp.message_response.file_descriptor_response.file_descriptor_proto_count =
        (pb_size_t)nfiles;
    break;
  }
  case grpc_reflection_v1_ServerReflectionRequest_all_extension_numbers_of_type_tag: {
    const char *type = req->message_request.all_extension_numbers_of_type;
    if (!type || find_symbol(type) < 0) {
      set_error(&resp, RPC_NOT_FOUND, "type not found");
      break;
    }
    /* proto3 files declare no extensions: the list is empty. */
    resp.which_message_response =
        grpc_reflection_v1_ServerReflectionResponse_all_extension_numbers_response_tag;
    resp.message_response.all_extension_numbers_response.base_type_name = (char *)type;
    break;
  }
  case grpc_reflection_v1_ServerReflectionRequest_file_containing_extension_tag:
    set_error(&resp, RPC_NOT_FOUND, "extension not found");
    break;
  default:
    set_error(&resp, RPC_INVALID_ARGUMENT, "unknown reflection request");
    break;
  }
  rpc__call_send(c, grpc_reflection_v1_ServerReflectionResponse_fields, &resp);
  pb_release(grpc_reflection_v1_ServerReflectionRequest_fields, req);
  free(req);
}

void rpc__reflection_end(rpc_call *c) { rpc__call_finish(c); }
