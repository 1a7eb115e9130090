/* SPDX-License-Identifier: MIT */
/* libFuzzer target: nanopb decoding of every request message the server
 * (or its generated code) knows, picked by the first byte; the rest is the
 * message. A successful decode is re-encoded (the size must be computable
 * and the encoding must decode again) and released with pb_release, so
 * LeakSanitizer sees every heap field freed. Single thread. */
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.pb.h"
#include "llm.pb.h"
#include "ocr.pb.h"
#if __has_include("reflection.pb.h")
#include "reflection.pb.h"
#endif

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);             \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

typedef struct msg_type {
  const char *name;
  const pb_msgdesc_t *fields;
  size_t size;
} msg_type;

#define MSG(t)                                                                             \
  { #t, t##_fields, sizeof(t) }

/* Every *Request in gen/, and the messages nested in them. */
static const msg_type types[] = {
    MSG(ocr_OCRRequest),
    MSG(ocr_OCRBatchRequest),
    MSG(ocr_HealthCheckRequest),
    MSG(ocr_BatchStatusRequest),
    MSG(grpc_health_v1_HealthCheckRequest),
    MSG(llm_LLMRequest),
    MSG(ocr_ImagePath),
    MSG(common_Metadata),
#ifdef PB_GRPC_REFLECTION_V1_REFLECTION_PB_H_INCLUDED
    MSG(grpc_reflection_v1_ServerReflectionRequest),
    MSG(grpc_reflection_v1_ExtensionRequest),
#endif
};
#define NTYPES (sizeof types / sizeof types[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  const msg_type *t = &types[data[0] % NTYPES];
  /* Heap-allocated at its exact size, so ASan catches any write past the
   * struct. */
  void *msg = calloc(1, t->size);
  CHECK(msg != NULL);
  pb_istream_t is = pb_istream_from_buffer(data + 1, size - 1);
  if (!pb_decode(&is, t->fields, msg)) {
    /* nanopb releases what it allocated on failure. */
    free(msg);
    return 0;
  }

  size_t enc_size = 0;
  CHECK(pb_get_encoded_size(&enc_size, t->fields, msg));
  /* The encoding (unknown fields dropped, last value of repeats kept) must
   * decode again to the same encoding. */
  uint8_t *enc = malloc(enc_size ? enc_size : 1);
  CHECK(enc != NULL);
  pb_ostream_t os = pb_ostream_from_buffer(enc, enc_size);
  CHECK(pb_encode(&os, t->fields, msg));
  CHECK(os.bytes_written == enc_size);

  void *again = calloc(1, t->size);
  CHECK(again != NULL);
  is = pb_istream_from_buffer(enc, enc_size);
  CHECK(pb_decode(&is, t->fields, again));
  size_t again_size = 0;
  CHECK(pb_get_encoded_size(&again_size, t->fields, again));
  CHECK(again_size == enc_size);

  pb_release(t->fields, again);
  free(again);
  free(enc);
  pb_release(t->fields, msg);
  free(msg);
  return 0;
}
