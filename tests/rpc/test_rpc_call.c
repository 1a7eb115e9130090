/* SPDX-License-Identifier: MIT */
/* One gRPC call over the fake transport: request validation (method,
 * content-type, path, encoding), message reassembly and the status each
 * kind of bad request gets, answered Trailers-Only. */
#include <criterion/criterion.h>
#include <pb_decode.h>
#include <string.h>

#include "base/err.h"
#include "ocr.pb.h"
#include "rpc_internal.h"
#include "rpc_test_util.h"

#define HEALTH "/ocr.OCRService/CheckHealth"
#define EXTRACT "/ocr.OCRService/ExtractText"

static rpc_env env;
static char msg[1024];

static void setup(void) { rpc_env_init(&env, 1); }
static void teardown(void) { rpc_env_free(&env); }

TestSuite(rpc_call, .init = setup, .fini = teardown);

/* The stream was answered with one Trailers-Only HEADERS: that event. */
static const fake_event *trailers_only(int32_t id) {
  fake_stream *s = fake_stream_get(&env.conn, id);
  cr_assert_eq(s->nev, 1, "expected one write, got %zu", s->nev);
  const fake_event *e = &s->ev[0];
  cr_assert_eq(e->kind, EV_RESPOND);
  cr_assert_eq(e->end_stream, 1, "the response does not end the stream");
  return e;
}

static void expect_trailers_only(int32_t id, const char *http, int grpc_status) {
  const fake_event *e = trailers_only(id);
  cr_assert_str_eq(fake_hdr(e, ":status"), http);
  cr_assert_eq(e->names[0][0], ':', "pseudo-header first");
  cr_assert_not_null(fake_hdr(e, "content-type"));
  cr_assert_not_null(fake_hdr(e, "grpc-status"), "no grpc-status");
  cr_assert_eq(stream_grpc_status(fake_stream_get(&env.conn, id)), grpc_status);
}

static const char *message_of(int32_t id) {
  return stream_grpc_message(fake_stream_get(&env.conn, id), msg, sizeof msg);
}

/* A successful CheckHealth answer on stream id: headers, one message,
 * trailers with grpc-status 0. */
static void expect_health_ok(int32_t id) {
  fake_stream *s = fake_stream_get(&env.conn, id);
  cr_assert_eq(s->nev, 3, "writes: %zu", s->nev);
  cr_assert_eq(s->ev[0].kind, EV_RESPOND);
  cr_assert_eq(s->ev[0].end_stream, 0);
  cr_assert_str_eq(fake_hdr(&s->ev[0], ":status"), "200");
  cr_assert_str_eq(fake_hdr(&s->ev[0], "content-type"), "application/grpc");
  cr_assert_eq(s->ev[1].kind, EV_DATA);
  cr_assert_eq(s->ev[2].kind, EV_TRAILERS);
  cr_assert_str_eq(fake_hdr(&s->ev[2], "grpc-status"), "0");
  ocr_HealthCheckResponse r = ocr_HealthCheckResponse_init_zero;
  stream_decode_one(s, ocr_HealthCheckResponse_fields, &r);
  cr_assert_eq(r.status, common_Status_STATUS_SUCCESS);
  pb_release(ocr_HealthCheckResponse_fields, &r);
}

static void health_request(buf *wire) {
  ocr_HealthCheckRequest req = ocr_HealthCheckRequest_init_zero;
  req.service_name = "ocr";
  frame_pb(wire, ocr_HealthCheckRequest_fields, &req);
}

Test(rpc_call, unary_request_split_byte_by_byte) {
  rpc_call *c = start_call(&env, 1, HEALTH, NULL, 0);
  buf wire = BUF_INIT;
  health_request(&wire);
  for (size_t i = 0; i < wire.len; i++)
    cr_assert_eq(rpc_call_data(c, wire.data + i, 1), 0);
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 0, "answered before END_STREAM");
  rpc_call_end(c);
  expect_health_ok(1);
  close_call(&env, c, 1, 0);
  cr_assert_eq(env.conn.late_writes, 0);
  buf_free(&wire);
}

Test(rpc_call, grpc_proto_content_type_is_accepted) {
  hdr h[] = {HDR_LIT(":method", "POST"), HDR_LIT(":path", HEALTH),
             HDR_LIT("content-type", "application/grpc+proto"), HDR_LIT("te", "trailers")};
  rpc_call *c = start_call_hdrs(&env, 1, h, 4);
  buf wire = BUF_INIT;
  health_request(&wire);
  rpc_call_data(c, wire.data, wire.len);
  rpc_call_end(c);
  expect_health_ok(1);
  close_call(&env, c, 1, 0);
  buf_free(&wire);
}

Test(rpc_call, bad_content_type_is_http_415_trailers_only) {
  const char *types[] = {"application/json", "text/plain", "application/grpcx",
                         "application/grp"};
  for (int i = 0; i < 4; i++) {
    int32_t id = 1 + 2 * i;
    hdr h[] = {HDR_LIT(":method", "POST"), HDR_LIT(":path", HEALTH),
               hdr_make("content-type", types[i], strlen(types[i]))};
    rpc_call *c = start_call_hdrs(&env, id, h, 3);
    expect_trailers_only(id, "415", RPC_INTERNAL);
    /* The call ignores the rest of the stream. */
    rpc_call_data(c, (const uint8_t *)"\0\0\0\0\0", 5);
    rpc_call_end(c);
    cr_assert_eq(fake_stream_get(&env.conn, id)->nev, 1, "content-type %s", types[i]);
    close_call(&env, c, id, 0);
  }
  /* A missing content-type too. */
  hdr h[] = {HDR_LIT(":method", "POST"), HDR_LIT(":path", HEALTH)};
  rpc_call *c = start_call_hdrs(&env, 11, h, 2);
  expect_trailers_only(11, "415", RPC_INTERNAL);
  close_call(&env, c, 11, 0);
}

Test(rpc_call, non_post_is_405) {
  hdr h[] = {HDR_LIT(":method", "GET"), HDR_LIT(":path", HEALTH),
             HDR_LIT("content-type", "application/grpc")};
  rpc_call *c = start_call_hdrs(&env, 1, h, 3);
  expect_trailers_only(1, "405", RPC_UNIMPLEMENTED);
  rpc_call_end(c);
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 1);
  close_call(&env, c, 1, 0);
}

Test(rpc_call, unknown_method_and_unknown_service_are_unimplemented) {
  rpc_call *c = start_call(&env, 1, "/ocr.OCRService/NoSuchMethod", NULL, 0);
  expect_trailers_only(1, "200", RPC_UNIMPLEMENTED);
  cr_assert(strstr(message_of(1), "unknown method") != NULL, "message: '%s'", msg);
  close_call(&env, c, 1, 0);

  c = start_call(&env, 3, "/no.Such/CheckHealth", NULL, 0);
  expect_trailers_only(3, "200", RPC_UNIMPLEMENTED);
  cr_assert(strstr(message_of(3), "unknown service") != NULL, "message: '%s'", msg);
  close_call(&env, c, 3, 0);

  /* Paths are case-sensitive. */
  c = start_call(&env, 5, "/ocr.OCRService/checkhealth", NULL, 0);
  expect_trailers_only(5, "200", RPC_UNIMPLEMENTED);
  cr_assert(strstr(message_of(5), "unknown method") != NULL, "message: '%s'", msg);
  close_call(&env, c, 5, 0);
}

Test(rpc_call, unsupported_encoding_lists_what_is_accepted) {
  hdr extra[] = {HDR_LIT("grpc-encoding", "br")};
  rpc_call *c = start_call(&env, 1, HEALTH, extra, 1);
  expect_trailers_only(1, "200", RPC_UNIMPLEMENTED);
  const fake_event *e = trailers_only(1);
  const char *accept = fake_hdr(e, "grpc-accept-encoding");
  cr_assert_not_null(accept, "no grpc-accept-encoding");
  cr_assert(strstr(accept, "identity") != NULL);
  cr_assert(strstr(accept, "br") == NULL, "claims br while refusing it");
  close_call(&env, c, 1, 0);

  /* identity is fine. */
  hdr ident[] = {HDR_LIT("grpc-encoding", "identity")};
  c = start_call(&env, 3, HEALTH, ident, 1);
  buf wire = BUF_INIT;
  health_request(&wire);
  rpc_call_data(c, wire.data, wire.len);
  rpc_call_end(c);
  expect_health_ok(3);
  close_call(&env, c, 3, 0);
  buf_free(&wire);
}

Test(rpc_call, compressed_flag_without_encoding_is_internal) {
  rpc_call *c = start_call(&env, 1, HEALTH, NULL, 0);
  buf wire = BUF_INIT;
  frame_append(&wire, "\x0a\x01x", 3, 1);
  rpc_call_data(c, wire.data, wire.len);
  expect_trailers_only(1, "200", RPC_INTERNAL);
  rpc_call_end(c);
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 1);
  close_call(&env, c, 1, 0);
  buf_free(&wire);
}

Test(rpc_call, garbage_protobuf_is_invalid_argument) {
  rpc_call *c = start_call(&env, 1, EXTRACT, NULL, 0);
  buf wire = BUF_INIT;
  /* Field 1, length 16, but only three bytes follow. */
  frame_append(&wire,
               "\x0a\x10"
               "abc",
               5, 0);
  rpc_call_data(c, wire.data, wire.len);
  expect_trailers_only(1, "200", RPC_INVALID_ARGUMENT);
  rpc_call_end(c);
  cr_assert_eq(env.q.submitted, 0, "a request that does not parse reached the engine");
  close_call(&env, c, 1, 0);
  buf_free(&wire);
}

Test(rpc_call, two_messages_on_a_unary_call_is_unimplemented) {
  rpc_call *c = start_call(&env, 1, HEALTH, NULL, 0);
  buf wire = BUF_INIT;
  health_request(&wire);
  health_request(&wire);
  rpc_call_data(c, wire.data, wire.len);
  rpc_call_end(c);
  expect_trailers_only(1, "200", RPC_UNIMPLEMENTED);
  close_call(&env, c, 1, 0);
  buf_free(&wire);
}

Test(rpc_call, end_stream_without_a_message_is_unimplemented) {
  rpc_call *c = start_call(&env, 1, HEALTH, NULL, 0);
  rpc_call_end(c);
  expect_trailers_only(1, "200", RPC_UNIMPLEMENTED);
  close_call(&env, c, 1, 0);
}

Test(rpc_call, end_stream_inside_a_message_is_not_ok) {
  rpc_call *c = start_call(&env, 1, HEALTH, NULL, 0);
  buf wire = BUF_INIT;
  health_request(&wire);
  rpc_call_data(c, wire.data, wire.len - 1);
  rpc_call_end(c);
  int st = stream_grpc_status(fake_stream_get(&env.conn, 1));
  cr_assert(st > 0, "a truncated message got status %d", st);
  close_call(&env, c, 1, 0);
  buf_free(&wire);
}

Test(rpc_call, zero_length_message_is_a_valid_empty_request) {
  /* CheckHealth with every field at its default encodes to nothing. */
  rpc_call *c = start_call(&env, 1, HEALTH, NULL, 0);
  buf wire = BUF_INIT;
  frame_append(&wire, NULL, 0, 0);
  rpc_call_data(c, wire.data, wire.len);
  rpc_call_end(c);
  expect_health_ok(1);
  close_call(&env, c, 1, 0);
  buf_free(&wire);
}

Test(rpc_call, oversized_message_is_resource_exhausted_from_the_prefix) {
  env.cfg.max_message_bytes = 64;
  rpc_call *c = start_call(&env, 1, HEALTH, NULL, 0);
  uint8_t prefix[5] = {0, 0, 0, 0, 65};
  rpc_call_data(c, prefix, 5);
  expect_trailers_only(1, "200", RPC_RESOURCE_EXHAUSTED);
  cr_assert_eq(c->deframer.msg.cap, 0, "bytes of the oversized message were buffered");
  uint8_t more[65] = {0};
  rpc_call_data(c, more, sizeof more);
  rpc_call_end(c);
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 1);
  close_call(&env, c, 1, 0);
}

Test(rpc_call, wrong_te_is_refused) {
  hdr extra[] = {HDR_LIT("te", "gzip")};
  hdr h[] = {HDR_LIT(":method", "POST"), HDR_LIT(":path", HEALTH),
             HDR_LIT("content-type", "application/grpc"), extra[0]};
  rpc_call *c = start_call_hdrs(&env, 1, h, 4);
  const fake_event *e = trailers_only(1);
  cr_assert_str_neq(fake_hdr(e, ":status"), "200");
  close_call(&env, c, 1, 0);
}

Test(rpc_call, calls_are_counted_until_closed) {
  rpc_call *a = start_call(&env, 1, HEALTH, NULL, 0);
  rpc_call *b = start_call(&env, 3, "/x.Y/Z", NULL, 0);
  cr_assert_eq(rpc_server_calls(env.srv), 2);
  close_call(&env, a, 1, 0x8);
  cr_assert_eq(rpc_server_calls(env.srv), 1);
  close_call(&env, b, 3, 0);
  cr_assert_eq(rpc_server_calls(env.srv), 0);
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 0, "a cancelled call wrote");
}
