/* SPDX-License-Identifier: MIT */
/* gRPC message framing: the deframer reassembles messages from arbitrary
 * pieces and checks the length prefix before buffering; the encoder frames
 * nanopb messages, including bytes fields over 64 KiB. */
#include <criterion/criterion.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "ocr.pb.h"
#include "rpc_internal.h"
#include "rpc_test_util.h"

/* What the callback saw. */
typedef struct seen {
  int n;
  size_t lens[32];
  int compressed[32];
  buf all;     /* payloads concatenated */
  int fail_at; /* 1-based message index whose callback returns an error */
} seen;

static int on_msg(void *ud, const uint8_t *data, size_t len, int compressed) {
  seen *s = ud;
  cr_assert_lt(s->n, 32);
  s->lens[s->n] = len;
  s->compressed[s->n] = compressed;
  s->n++;
  if (len)
    buf_append(&s->all, data, len);
  if (s->fail_at && s->n == s->fail_at)
    return ERR_PARSE;
  return 0;
}

static void payload(uint8_t *p, size_t len, int seed) {
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t)(seed * 13 + i * 7);
}

Test(rpc_frame, message_split_byte_by_byte) {
  uint8_t msg[300];
  payload(msg, sizeof msg, 1);
  buf wire = BUF_INIT;
  frame_append(&wire, msg, sizeof msg, 0);
  frame_append(&wire, msg, 17, 0);
  rpc_deframer d;
  rpc_deframer_init(&d, 1024);
  seen s = {0};
  for (size_t i = 0; i < wire.len; i++) {
    cr_assert_eq(rpc_deframe_feed(&d, wire.data + i, 1, on_msg, &s), 0);
    /* The first message is delivered exactly when its last byte arrives. */
    if (i < 5 + sizeof msg - 1)
      cr_assert_eq(s.n, 0, "delivered early at byte %zu", i);
  }
  cr_assert_eq(s.n, 2);
  cr_assert_eq(s.lens[0], sizeof msg);
  cr_assert_eq(s.lens[1], 17);
  cr_assert_arr_eq(s.all.data, msg, sizeof msg);
  cr_assert_arr_eq(s.all.data + sizeof msg, msg, 17);
  cr_assert_eq(rpc_deframer_partial(&d), 0);
  rpc_deframer_free(&d);
  buf_free(&wire);
  buf_free(&s.all);
}

Test(rpc_frame, every_split_point_of_two_messages) {
  uint8_t a[40], b[9];
  payload(a, sizeof a, 2);
  payload(b, sizeof b, 3);
  buf wire = BUF_INIT;
  frame_append(&wire, a, sizeof a, 0);
  frame_append(&wire, b, sizeof b, 0);
  for (size_t cut = 0; cut <= wire.len; cut++) {
    rpc_deframer d;
    rpc_deframer_init(&d, 1024);
    seen s = {0};
    cr_assert_eq(rpc_deframe_feed(&d, wire.data, cut, on_msg, &s), 0);
    cr_assert_eq(rpc_deframe_feed(&d, wire.data + cut, wire.len - cut, on_msg, &s), 0);
    cr_assert_eq(s.n, 2, "cut at %zu", cut);
    cr_assert_arr_eq(s.all.data, a, sizeof a, "cut at %zu", cut);
    cr_assert_arr_eq(s.all.data + sizeof a, b, sizeof b, "cut at %zu", cut);
    rpc_deframer_free(&d);
    buf_free(&s.all);
  }
  buf_free(&wire);
}

Test(rpc_frame, several_messages_in_one_chunk) {
  buf wire = BUF_INIT;
  uint8_t m[5][20];
  for (int i = 0; i < 5; i++) {
    payload(m[i], (size_t)(i * 4), i);
    frame_append(&wire, m[i], (size_t)(i * 4), i == 3);
  }
  rpc_deframer d;
  rpc_deframer_init(&d, 1024);
  seen s = {0};
  cr_assert_eq(rpc_deframe_feed(&d, wire.data, wire.len, on_msg, &s), 0);
  cr_assert_eq(s.n, 5);
  size_t off = 0;
  for (int i = 0; i < 5; i++) {
    cr_assert_eq(s.lens[i], (size_t)(i * 4));
    cr_assert_eq(s.compressed[i], i == 3, "compressed flag of message %d", i);
    if (i)
      cr_assert_arr_eq(s.all.data + off, m[i], (size_t)(i * 4));
    off += (size_t)(i * 4);
  }
  rpc_deframer_free(&d);
  buf_free(&wire);
  buf_free(&s.all);
}

Test(rpc_frame, zero_length_messages) {
  /* Alone; then a prefix that ends a chunk; then between two messages. */
  rpc_deframer d;
  rpc_deframer_init(&d, 1024);
  seen s = {0};
  buf wire = BUF_INIT;
  frame_append(&wire, NULL, 0, 0);
  cr_assert_eq(rpc_deframe_feed(&d, wire.data, wire.len, on_msg, &s), 0);
  cr_assert_eq(s.n, 1);
  cr_assert_eq(s.lens[0], 0);
  cr_assert_eq(rpc_deframer_partial(&d), 0);

  buf_reset(&wire);
  frame_append(&wire, "ab", 2, 0);
  frame_append(&wire, NULL, 0, 0);
  frame_append(&wire, "cd", 2, 0);
  cr_assert_eq(rpc_deframe_feed(&d, wire.data, wire.len, on_msg, &s), 0);
  cr_assert_eq(s.n, 4);
  cr_assert_eq(s.lens[1], 2);
  cr_assert_eq(s.lens[2], 0);
  cr_assert_eq(s.lens[3], 2);
  cr_assert_arr_eq(s.all.data, "abcd", 4);

  buf_reset(&wire);
  frame_append(&wire, NULL, 0, 0);
  cr_assert_eq(rpc_deframe_feed(&d, wire.data, 4, on_msg, &s), 0);
  cr_assert_eq(s.n, 4);
  cr_assert_eq(rpc_deframer_partial(&d), 1);
  cr_assert_eq(rpc_deframe_feed(&d, wire.data + 4, 1, on_msg, &s), 0);
  cr_assert_eq(s.n, 5, "a zero-length message whose prefix ends a chunk was lost");
  cr_assert_eq(s.lens[4], 0);
  rpc_deframer_free(&d);
  buf_free(&wire);
  buf_free(&s.all);
}

Test(rpc_frame, oversized_prefix_is_refused_before_buffering) {
  rpc_deframer d;
  rpc_deframer_init(&d, 1000);
  seen s = {0};
  /* A 1001-byte message with 600 of its bytes already in this chunk. */
  uint8_t chunk[605] = {0, 0, 0, 0x03, 0xe9};
  cr_assert_eq(rpc_deframe_feed(&d, chunk, sizeof chunk, on_msg, &s), ERR_MSG_TOO_LARGE);
  cr_assert_eq(s.n, 0);
  cr_assert_eq(d.msg_len, 1001);
  cr_assert_null(d.msg.data, "the deframer buffered part of an oversized message");
  cr_assert_eq(d.msg.cap, 0);
  rpc_deframer_free(&d);

  /* A 4 GiB claim, prefix split: refused when the prefix completes. */
  rpc_deframer_init(&d, 1000);
  uint8_t huge[5] = {0, 0xff, 0xff, 0xff, 0xff};
  cr_assert_eq(rpc_deframe_feed(&d, huge, 3, on_msg, &s), 0);
  cr_assert_eq(rpc_deframe_feed(&d, huge + 3, 2, on_msg, &s), ERR_MSG_TOO_LARGE);
  cr_assert_null(d.msg.data);
  rpc_deframer_free(&d);
}

Test(rpc_frame, message_at_the_limit_is_accepted) {
  rpc_deframer d;
  rpc_deframer_init(&d, 100);
  seen s = {0};
  uint8_t m[100];
  payload(m, sizeof m, 9);
  buf wire = BUF_INIT;
  frame_append(&wire, m, sizeof m, 0);
  /* In two pieces, so it is buffered. */
  cr_assert_eq(rpc_deframe_feed(&d, wire.data, 50, on_msg, &s), 0);
  cr_assert_eq(rpc_deframe_feed(&d, wire.data + 50, wire.len - 50, on_msg, &s), 0);
  cr_assert_eq(s.n, 1);
  cr_assert_arr_eq(s.all.data, m, sizeof m);
  rpc_deframer_free(&d);
  buf_free(&wire);
  buf_free(&s.all);
}

Test(rpc_frame, callback_error_stops_feeding) {
  rpc_deframer d;
  rpc_deframer_init(&d, 100);
  seen s = {.fail_at = 2};
  buf wire = BUF_INIT;
  for (int i = 0; i < 4; i++)
    frame_append(&wire, "xyz", 3, 0);
  cr_assert_eq(rpc_deframe_feed(&d, wire.data, wire.len, on_msg, &s), ERR_PARSE);
  cr_assert_eq(s.n, 2, "messages after the failing one were delivered");
  rpc_deframer_free(&d);
  buf_free(&wire);
  buf_free(&s.all);
}

Test(rpc_frame, encode_message_prefix_and_limit) {
  ocr_HealthCheckResponse resp = ocr_HealthCheckResponse_init_zero;
  resp.status = common_Status_STATUS_SUCCESS;
  resp.engine_type = "mock";
  resp.version = "1.2.3";
  resp.model_loaded = true;
  buf out = BUF_INIT;
  buf_append(&out, "pre", 3);
  cr_assert_eq(rpc_encode_message(&out, ocr_HealthCheckResponse_fields, &resp, 1024), 0);
  size_t size;
  cr_assert(pb_get_encoded_size(&size, ocr_HealthCheckResponse_fields, &resp));
  cr_assert_eq(out.len, 3 + 5 + size, "appends to what is there");
  cr_assert_arr_eq(out.data, "pre", 3);
  const uint8_t *p = out.data + 3;
  cr_assert_eq(p[0], 0);
  cr_assert_eq((size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4], size);
  ocr_HealthCheckResponse back = ocr_HealthCheckResponse_init_zero;
  pb_istream_t is = pb_istream_from_buffer(p + 5, size);
  cr_assert(pb_decode(&is, ocr_HealthCheckResponse_fields, &back));
  cr_assert_str_eq(back.engine_type, "mock");
  cr_assert_str_eq(back.version, "1.2.3");
  cr_assert_eq(back.status, common_Status_STATUS_SUCCESS);
  pb_release(ocr_HealthCheckResponse_fields, &back);

  size_t before = out.len;
  cr_assert_eq(rpc_encode_message(&out, ocr_HealthCheckResponse_fields, &resp, size - 1),
               ERR_MSG_TOO_LARGE);
  cr_assert_eq(out.len, before);
  buf_free(&out);
}

/* image_data is a bytes field on the heap; with a 16-bit pb_size_t it
 * could not exceed 65535 bytes. This proves the runtime and the generated
 * code agree on PB_FIELD_32BIT. */
Test(rpc_frame, bytes_field_over_64k_round_trips) {
  enum { N = 200000 };
  cr_assert_geq(sizeof(pb_size_t), 4, "pb_size_t is %zu bytes", sizeof(pb_size_t));
  pb_bytes_array_t *img = malloc(PB_BYTES_ARRAY_T_ALLOCSIZE(N));
  cr_assert_not_null(img);
  img->size = N;
  payload(img->bytes, N, 5);
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  req.image_data = img;
  req.language = "eng";
  buf out = BUF_INIT;
  cr_assert_eq(rpc_encode_message(&out, ocr_OCRRequest_fields, &req, 1 << 20), 0);

  /* Through the deframer in 4 KiB pieces, then decoded. */
  rpc_deframer d;
  rpc_deframer_init(&d, 1 << 20);
  seen s = {0};
  for (size_t off = 0; off < out.len; off += 4096) {
    size_t n = out.len - off < 4096 ? out.len - off : 4096;
    cr_assert_eq(rpc_deframe_feed(&d, out.data + off, n, on_msg, &s), 0);
  }
  cr_assert_eq(s.n, 1);
  ocr_OCRRequest back = ocr_OCRRequest_init_zero;
  pb_istream_t is = pb_istream_from_buffer(s.all.data, s.all.len);
  cr_assert(pb_decode(&is, ocr_OCRRequest_fields, &back), "decode: %s", PB_GET_ERROR(&is));
  cr_assert_not_null(back.image_data);
  cr_assert_eq(back.image_data->size, N);
  cr_assert_eq(memcmp(back.image_data->bytes, img->bytes, N), 0);
  cr_assert_str_eq(back.language, "eng");
  pb_release(ocr_OCRRequest_fields, &back);
  rpc_deframer_free(&d);
  buf_free(&s.all);
  buf_free(&out);
  free(img);
}
