/* SPDX-License-Identifier: MIT */
/* Large request messages go to the server's decoder (here a queue the test
 * runs by hand) instead of being decoded inline: the call waits for it,
 * bytes that come meanwhile are held in order, a call that goes away drops
 * the result, and small messages never leave the inline path. */
#include <criterion/criterion.h>
#include <pb_encode.h>
#include <string.h>

#include "base/err.h"
#include "ocr.pb.h"
#include "rpc_internal.h"
#include "rpc_test_util.h"

#define HEALTH "/ocr.OCRService/CheckHealth"
#define BATCH "/ocr.OCRService/ExtractTextBatch"

static rpc_env env;
static exec dec;
static exec_queue dq;
static char msg[1024];

static void setup(void) {
  rpc_env_init(&env, 1);
  exec_queued_init(&dec, &dq);
  rpc_server_set_decoder(env.srv, &dec);
}
static void teardown(void) { rpc_env_free(&env); }

TestSuite(rpc_decode, .init = setup, .fini = teardown);

/* A framed CheckHealth request padded with `pad` bytes of unknown field 15
 * (varint 0, two bytes each), which nanopb skips. */
static void health_padded(buf *wire, size_t pad) {
  uint8_t head[64];
  ocr_HealthCheckRequest req = ocr_HealthCheckRequest_init_zero;
  req.service_name = "ocr";
  pb_ostream_t os = pb_ostream_from_buffer(head, sizeof head);
  cr_assert(pb_encode(&os, ocr_HealthCheckRequest_fields, &req));
  buf payload = BUF_INIT;
  buf_append(&payload, head, os.bytes_written);
  for (size_t i = 0; i < pad / 2; i++)
    buf_append(&payload, "\x78\x00", 2);
  frame_append(wire, payload.data, payload.len, 0);
  buf_free(&payload);
}

/* Feeds wire in pieces the size of HTTP/2 DATA frames. */
static void feed(rpc_call *c, const buf *wire) {
  for (size_t off = 0; off < wire->len; off += 16384) {
    size_t n = wire->len - off < 16384 ? wire->len - off : 16384;
    cr_assert_eq(rpc_call_data(c, wire->data + off, n), 0);
  }
}

static int status_of(int32_t id) {
  return stream_grpc_status(fake_stream_get(&env.conn, id));
}

Test(rpc_decode, large_message_is_answered_after_the_decoder_ran) {
  rpc_call *c = start_call(&env, 1, HEALTH, NULL, 0);
  buf wire = BUF_INIT;
  health_padded(&wire, 2 * RPC_DECODE_INLINE_MAX);
  feed(c, &wire);
  rpc_call_end(c);
  cr_assert_eq(dq.submitted, 1, "not handed to the decoder");
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 0, "answered before it was decoded");
  exec_queue_drain(&dq);
  cr_assert_eq(status_of(1), 0, "%s",
               stream_grpc_message(fake_stream_get(&env.conn, 1), msg, sizeof msg));
  close_call(&env, c, 1, 0);
  cr_assert_eq(env.conn.late_writes, 0);
  buf_free(&wire);
}

Test(rpc_decode, small_message_stays_inline) {
  rpc_call *c = start_call(&env, 1, HEALTH, NULL, 0);
  buf wire = BUF_INIT;
  health_padded(&wire, 1024);
  feed(c, &wire);
  rpc_call_end(c);
  cr_assert_eq(dq.submitted, 0);
  cr_assert_eq(status_of(1), 0);
  close_call(&env, c, 1, 0);
  buf_free(&wire);
}

Test(rpc_decode, bytes_after_the_message_are_held_in_order) {
  /* A second message comes while the first is being decoded: held, then
   * fed once it is decoded, and refused as inline (two messages on a
   * unary call). */
  rpc_call *c = start_call(&env, 1, HEALTH, NULL, 0);
  buf wire = BUF_INIT, second = BUF_INIT;
  health_padded(&wire, 2 * RPC_DECODE_INLINE_MAX);
  health_padded(&second, 0);
  feed(c, &wire);
  feed(c, &second);
  rpc_call_end(c);
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 0, "not held behind the decode");
  exec_queue_drain(&dq);
  cr_assert_eq(status_of(1), RPC_UNIMPLEMENTED);
  close_call(&env, c, 1, 0);
  buf_free(&wire);
  buf_free(&second);
}

Test(rpc_decode, call_closed_while_decoding_drops_the_result) {
  rpc_call *c = start_call(&env, 1, HEALTH, NULL, 0);
  buf wire = BUF_INIT;
  health_padded(&wire, 2 * RPC_DECODE_INLINE_MAX);
  feed(c, &wire);
  close_call(&env, c, 1, 8);
  exec_queue_drain(&dq); /* cancelled: done frees the job */
  cr_assert_eq(env.conn.late_writes, 0);
  cr_assert_eq(rpc_server_calls(env.srv), 0);
  buf_free(&wire);
}

Test(rpc_decode, repeated_field_limit_is_checked_by_the_decoder) {
  env.cfg.max_batch_images = 10;
  rpc_call *c = start_call(&env, 1, BATCH, NULL, 0);
  buf payload = BUF_INIT, wire = BUF_INIT;
  for (size_t i = 0; i < RPC_DECODE_INLINE_MAX; i++)
    buf_append(&payload, "\x0a\x00", 2); /* empty image_paths */
  frame_append(&wire, payload.data, payload.len, 0);
  feed(c, &wire);
  rpc_call_end(c);
  cr_assert_eq(dq.submitted, 1);
  exec_queue_drain(&dq);
  cr_assert_eq(status_of(1), RPC_RESOURCE_EXHAUSTED);
  cr_assert(strstr(stream_grpc_message(fake_stream_get(&env.conn, 1), msg, sizeof msg),
                   "--max-batch-images"));
  close_call(&env, c, 1, 0);
  buf_free(&payload);
  buf_free(&wire);
}

Test(rpc_decode, garbage_is_invalid_argument_from_the_decoder) {
  rpc_call *c = start_call(&env, 1, HEALTH, NULL, 0);
  buf payload = BUF_INIT, wire = BUF_INIT;
  for (size_t i = 0; i < RPC_DECODE_INLINE_MAX + 1; i++)
    buf_append(&payload, "\xff", 1);
  frame_append(&wire, payload.data, payload.len, 0);
  feed(c, &wire);
  rpc_call_end(c);
  exec_queue_drain(&dq);
  cr_assert_eq(status_of(1), RPC_INVALID_ARGUMENT);
  close_call(&env, c, 1, 0);
  buf_free(&payload);
  buf_free(&wire);
}

Test(rpc_decode, gzip_message_is_inflated_by_the_decoder) {
  /* 64 KiB of unknown field 15 with varying values: its gzip form is over
   * RPC_DECODE_INLINE_MAX_GZIP, so even compressed it leaves the loop. */
  hdr gz = HDR_LIT("grpc-encoding", "gzip");
  rpc_call *c = start_call(&env, 1, HEALTH, &gz, 1);
  buf payload = BUF_INIT, z = BUF_INIT, wire = BUF_INIT;
  uint32_t x = 12345;
  for (size_t i = 0; i < 32768; i++) {
    x = x * 1103515245u + 12345u;
    uint8_t f[2] = {0x78, (uint8_t)((x >> 16) & 0x7f)};
    buf_append(&payload, f, 2);
  }
  rpc__gzip(payload.data, payload.len, &z);
  cr_assert_gt(z.len, RPC_DECODE_INLINE_MAX_GZIP);
  frame_append(&wire, z.data, z.len, 1);
  feed(c, &wire);
  rpc_call_end(c);
  cr_assert_eq(dq.submitted, 1, "not handed to the decoder");
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 0);
  exec_queue_drain(&dq);
  cr_assert_eq(status_of(1), 0);
  close_call(&env, c, 1, 0);
  buf_free(&payload);
  buf_free(&z);
  buf_free(&wire);
}
