/* SPDX-License-Identifier: MIT */
/* ocr.OCRService over the fake transport with the mock engine: ExtractText
 * runs through the executor and answers from its done callback;
 * CheckHealth answers at once; a call closed while its job waits cancels
 * the job and nothing reaches the transport afterwards. */
#include <criterion/criterion.h>
#include <math.h>
#include <pb_decode.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/version.h"
#include "health.pb.h"
#include "ocr.pb.h"
#include "rpc_internal.h"
#include "rpc_test_util.h"

#define HEALTH "/ocr.OCRService/CheckHealth"
#define EXTRACT "/ocr.OCRService/ExtractText"

static rpc_env env;

static void setup_queued(void) { rpc_env_init(&env, 1); }
static void teardown(void) { rpc_env_free(&env); }

TestSuite(svc_ocr, .init = setup_queued, .fini = teardown);

/* Starts ExtractText with req and half-closes. */
static rpc_call *extract(int32_t id, const ocr_OCRRequest *req) {
  rpc_call *c = start_call(&env, id, EXTRACT, NULL, 0);
  buf wire = BUF_INIT;
  frame_pb(&wire, ocr_OCRRequest_fields, req);
  cr_assert_eq(rpc_call_data(c, wire.data, wire.len), 0);
  buf_free(&wire);
  rpc_call_end(c);
  return c;
}

/* Headers, exactly one message, trailers grpc-status 0; decodes it. */
static void expect_ok_response(int32_t id, ocr_OCRResponse *r) {
  fake_stream *s = fake_stream_get(&env.conn, id);
  cr_assert_eq(s->nev, 3, "writes: %zu", s->nev);
  cr_assert_eq(s->ev[0].kind, EV_RESPOND);
  cr_assert_eq(s->ev[0].end_stream, 0);
  cr_assert_str_eq(fake_hdr(&s->ev[0], ":status"), "200");
  cr_assert_str_eq(fake_hdr(&s->ev[0], "content-type"), "application/grpc");
  cr_assert_eq(s->ev[1].kind, EV_DATA);
  cr_assert_eq(s->ev[2].kind, EV_TRAILERS);
  cr_assert_str_eq(fake_hdr(&s->ev[2], "grpc-status"), "0");
  stream_decode_one(s, ocr_OCRResponse_fields, r);
}

static void expect_mock_success(int32_t id) {
  ocr_OCRResponse r = ocr_OCRResponse_init_zero;
  expect_ok_response(id, &r);
  cr_assert_eq(r.status, common_Status_STATUS_SUCCESS);
  cr_assert_str_eq(r.text, "mock text");
  cr_assert(fabsf(r.overall_confidence - 0.99f) < 1e-4f, "confidence %f",
            (double)r.overall_confidence);
  cr_assert_eq(r.text_boxes_count, 1);
  cr_assert_str_eq(r.text_boxes[0].text, "mock text");
  cr_assert(r.text_boxes[0].has_bbox);
  cr_assert_eq(r.text_boxes[0].bbox.coordinates_count, 8);
  cr_assert_not(r.has_error);
  cr_assert(r.has_metadata);
  cr_assert_str_eq(ocr_response_meta(&r, "engine"), "mock");
  cr_assert_not_null(ocr_response_meta(&r, "ocr_ms"));
  pb_release(ocr_OCRResponse_fields, &r);
}

Test(svc_ocr, extract_text_answers_from_the_done_callback) {
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  req.public_image_path = "page.png";
  rpc_call *c = extract(1, &req);
  cr_assert_eq(env.q.submitted, 1, "the handler did not hand the work to the executor");
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 0, "answered before the work ran");
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 1);
  expect_mock_success(1);
  close_call(&env, c, 1, 0);
  cr_assert_eq(env.conn.late_writes, 0);
}

Test(svc_ocr, extract_text_with_inline_image_bytes) {
  /* A PNG signature and IHDR (321 x 45): the mock engine reads the size
   * from the header of the bytes it was handed. */
  static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0,    0,
                                0,    13,  'I', 'H', 'D',  'R',  0,    0,    0x01, 0x41,
                                0,    0,   0,   45,  8,    0,    0,    0,    0,    0,
                                0,    0,   0,   0,   0,    0,    0,    0,    0,    0};
  pb_bytes_array_t *img = malloc(PB_BYTES_ARRAY_T_ALLOCSIZE(sizeof png));
  cr_assert_not_null(img);
  img->size = sizeof png;
  memcpy(img->bytes, png, sizeof png);
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  req.image_data = img;
  rpc_call *c = extract(1, &req);
  free(img);
  exec_queue_drain(&env.q);
  expect_mock_success(1);
  ocr_OCRResponse r = ocr_OCRResponse_init_zero;
  stream_decode_one(fake_stream_get(&env.conn, 1), ocr_OCRResponse_fields, &r);
  cr_assert_str_eq(ocr_response_meta(&r, "image_width"), "321");
  cr_assert_str_eq(ocr_response_meta(&r, "image_height"), "45");
  pb_release(ocr_OCRResponse_fields, &r);
  close_call(&env, c, 1, 0);
}

Test(svc_ocr, engine_failure_is_a_failure_response_with_the_error_name) {
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  req.public_image_path = "page.png";
  req.language = "../../etc/passwd";
  rpc_call *c = extract(1, &req);
  exec_queue_drain(&env.q);
  ocr_OCRResponse r = ocr_OCRResponse_init_zero;
  expect_ok_response(1, &r);
  cr_assert_eq(r.status, common_Status_STATUS_FAILURE);
  cr_assert(r.has_error);
  cr_assert_str_eq(r.error.details, "UNSUPPORTED_LANGUAGE");
  cr_assert_not_null(r.error.message);
  pb_release(ocr_OCRResponse_fields, &r);
  close_call(&env, c, 1, 0);
}

Test(svc_ocr, empty_request_is_a_failure_with_invalid_argument) {
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  rpc_call *c = extract(1, &req);
  cr_assert_eq(env.q.submitted, 0, "an empty request reached the engine");
  ocr_OCRResponse r = ocr_OCRResponse_init_zero;
  expect_ok_response(1, &r);
  cr_assert_eq(r.status, common_Status_STATUS_FAILURE);
  cr_assert(r.has_error);
  cr_assert_str_eq(r.error.details, "INVALID_ARGUMENT");
  cr_assert_not_null(r.error.message);
  cr_assert_gt(strlen(r.error.message), 0);
  pb_release(ocr_OCRResponse_fields, &r);
  close_call(&env, c, 1, 0);
}

Test(svc_ocr, check_health_answers_at_once) {
  rpc_call *c = start_call(&env, 1, HEALTH, NULL, 0);
  buf wire = BUF_INIT;
  frame_append(&wire, NULL, 0, 0);
  rpc_call_data(c, wire.data, wire.len);
  buf_free(&wire);
  rpc_call_end(c);
  cr_assert_eq(env.q.submitted, 0);
  fake_stream *s = fake_stream_get(&env.conn, 1);
  cr_assert_eq(s->nev, 3);
  cr_assert_str_eq(fake_hdr(&s->ev[2], "grpc-status"), "0");
  ocr_HealthCheckResponse r = ocr_HealthCheckResponse_init_zero;
  stream_decode_one(s, ocr_HealthCheckResponse_fields, &r);
  cr_assert_eq(r.status, common_Status_STATUS_SUCCESS);
  cr_assert_str_eq(r.engine_type, "mock");
  cr_assert(r.model_loaded);
  cr_assert_str_eq(r.version, OCRPC_VERSION);
  pb_release(ocr_HealthCheckResponse_fields, &r);
  close_call(&env, c, 1, 0);
}

Test(svc_ocr, close_while_queued_cancels_the_job_and_writes_nothing) {
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  req.public_image_path = "page.png";
  rpc_call *c = extract(1, &req);
  cr_assert_eq(env.q.submitted, 1);
  close_call(&env, c, 1, 0x8 /* CANCEL */);
  cr_assert_eq(env.q.cancels_ok, 1, "the queued job was not taken back");
  cr_assert_eq(rpc_server_calls(env.srv), 0);
  /* The executor reports the cancellation later, as libuv does; the job is
   * freed there (LeakSanitizer checks), and the gone call is not written. */
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 0, "a cancelled job ran");
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 0);
  cr_assert_eq(env.conn.late_writes, 0);
}

Test(svc_ocr, many_calls_closed_in_any_order_while_queued) {
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  req.public_image_path = "page.png";
  rpc_call *c[4];
  for (int i = 0; i < 4; i++)
    c[i] = extract(1 + 2 * i, &req);
  close_call(&env, c[2], 5, 0x8);
  close_call(&env, c[0], 1, 0x8);
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 2);
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 0);
  cr_assert_eq(fake_stream_get(&env.conn, 5)->nev, 0);
  expect_mock_success(3);
  expect_mock_success(7);
  close_call(&env, c[1], 3, 0);
  close_call(&env, c[3], 7, 0);
  cr_assert_eq(env.conn.late_writes, 0);
}

Test(svc_ocr, job_cancelled_by_the_executor_is_unavailable) {
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  req.public_image_path = "page.png";
  rpc_call *c = extract(1, &req);
  /* The loop takes queued work back at shutdown. */
  cr_assert_eq(env.ex.cancel(&env.ex, env.q.jobs[0]), 0);
  exec_queue_drain(&env.q);
  cr_assert_eq(stream_grpc_status(fake_stream_get(&env.conn, 1)), RPC_UNAVAILABLE);
  close_call(&env, c, 1, 0);
}

static int refuse_submit(exec *ex, exec_job *job) {
  (void)ex;
  (void)job;
  return ERR_UNAVAILABLE;
}

Test(svc_ocr, executor_refusing_work_is_unavailable) {
  env.ex.submit = refuse_submit;
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  req.public_image_path = "page.png";
  rpc_call *c = extract(1, &req);
  fake_stream *s = fake_stream_get(&env.conn, 1);
  cr_assert_eq(s->nev, 1);
  cr_assert_eq(s->ev[0].end_stream, 1);
  cr_assert_eq(stream_grpc_status(s), RPC_UNAVAILABLE);
  close_call(&env, c, 1, 0);
}

/* The executor tests use: work and done run inside submit. The call must
 * not keep a pointer to the job freed in done. */
Test(svc_ocr, extract_text_with_a_run_at_once_executor) {
  exec_run_now_init(&env.ex);
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  req.public_image_path = "page.png";
  rpc_call *c = extract(1, &req);
  expect_mock_success(1);
  cr_assert_null(c->work, "the call still points at the job freed in its done callback");
  close_call(&env, c, 1, 0);
  cr_assert_eq(env.conn.late_writes, 0);
}

/* Out-of-range options are in-band INVALID_ARGUMENT answers naming the
 * field, not silently ignored. */
static void expect_invalid_option(int32_t id, const char *psm, float threshold,
                                  const char *field) {
  common_Metadata_DataEntry e = {.key = (char *)"psm", .value = (char *)psm};
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  req.public_image_path = "page.png";
  req.confidence_threshold = threshold;
  if (psm) {
    req.has_options = true;
    req.options.data = &e;
    req.options.data_count = 1;
  }
  rpc_call *c = extract(id, &req);
  exec_queue_drain(&env.q);
  ocr_OCRResponse r = ocr_OCRResponse_init_zero;
  expect_ok_response(id, &r);
  cr_assert_eq(r.status, common_Status_STATUS_FAILURE);
  cr_assert_str_eq(r.error.details, "INVALID_ARGUMENT");
  cr_assert(strstr(r.error.message, field), "%s", r.error.message);
  pb_release(ocr_OCRResponse_fields, &r);
  close_call(&env, c, id, 0);
}

Test(svc_ocr, out_of_range_options_are_invalid_argument_naming_the_field) {
  expect_invalid_option(1, "99", 0, "options.psm");
  expect_invalid_option(3, "six", 0, "options.psm");
  expect_invalid_option(5, "0", 0, "options.psm");
  expect_invalid_option(7, NULL, 5.0f, "confidence_threshold");
  expect_invalid_option(9, NULL, -0.5f, "confidence_threshold");
}

static int check_health(int32_t id, const char *name) {
  ocr_HealthCheckRequest req = {.service_name = (char *)name};
  rpc_call *c = start_call(&env, id, HEALTH, NULL, 0);
  buf wire = BUF_INIT;
  frame_pb(&wire, ocr_HealthCheckRequest_fields, &req);
  rpc_call_data(c, wire.data, wire.len);
  buf_free(&wire);
  rpc_call_end(c);
  ocr_HealthCheckResponse r = ocr_HealthCheckResponse_init_zero;
  stream_decode_one(fake_stream_get(&env.conn, id), ocr_HealthCheckResponse_fields, &r);
  int st = r.status;
  pb_release(ocr_HealthCheckResponse_fields, &r);
  close_call(&env, c, id, 0);
  return st;
}

static int expected(const char *health_name) {
  return rpc__service_status(env.srv, health_name) ==
                 grpc_health_v1_HealthCheckResponse_ServingStatus_SERVING
             ? common_Status_STATUS_SUCCESS
             : common_Status_STATUS_FAILURE;
}

Test(svc_ocr, check_health_agrees_with_grpc_health_v1) {
  cr_assert_eq(check_health(1, ""), common_Status_STATUS_SUCCESS);
  cr_assert_eq(check_health(3, "OCRService"), expected("ocr.OCRService"));
  cr_assert_eq(check_health(5, "ocr.OCRService"), expected("ocr.OCRService"));
  cr_assert_eq(check_health(7, "llm.LLMService"), expected("llm.LLMService"));
  cr_assert_eq(check_health(9, "LLMService"), expected("llm.LLMService"));
  cr_assert_eq(check_health(11, "no.Such"), expected(""));
  env.srv->draining = 1;
  cr_assert_eq(check_health(13, ""), common_Status_STATUS_FAILURE);
  cr_assert_eq(check_health(15, "OCRService"), common_Status_STATUS_FAILURE);
  env.srv->draining = 0;
}

/* options["timings"]="1" adds the five per-phase times to the metadata;
 * without it they are absent (the mock engine measures nothing, so they
 * read "0.000"). */
Test(svc_ocr, timings_option_adds_per_phase_times_to_metadata) {
  static const char *const phases[] = {"decode_ms", "orientation_ms", "layout_ms",
                                       "recognition_ms", "encode_ms"};
  common_Metadata_DataEntry e = {.key = (char *)"timings", .value = (char *)"1"};
  for (int asked = 0; asked < 2; asked++) {
    ocr_OCRRequest req = ocr_OCRRequest_init_zero;
    req.public_image_path = "page.png";
    if (asked) {
      req.has_options = true;
      req.options.data = &e;
      req.options.data_count = 1;
    }
    rpc_call *c = extract(1 + 2 * asked, &req);
    exec_queue_drain(&env.q);
    ocr_OCRResponse r = ocr_OCRResponse_init_zero;
    expect_ok_response(1 + 2 * asked, &r);
    cr_assert_eq(r.status, common_Status_STATUS_SUCCESS);
    for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++) {
      const char *v = ocr_response_meta(&r, phases[i]);
      if (asked)
        cr_assert(v && strchr(v, '.'), "%s: %s", phases[i], v ? v : "(absent)");
      else
        cr_assert_null(v, "%s present without the option", phases[i]);
    }
    pb_release(ocr_OCRResponse_fields, &r);
    close_call(&env, c, 1 + 2 * asked, 0);
  }
}
