/* SPDX-License-Identifier: MIT */
/* ocr.OCRService/ExtractTextBatch and GetBatchStatus over the fake
 * transport, the mock engine and the hand-drained executor: images run at
 * most `parallelism` at a time, progress streams in input order (or in
 * completion order on request) with processed_images 1..N, a batch_id
 * still running is refused, a slow reader pauses the batch until the stream
 * drains, per-image failures are results, and a closed call cancels the
 * queued images and leaves CANCELLED in the job store. */
#include <criterion/criterion.h>
#include <pb_decode.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "ocr.pb.h"
#include "rpc_internal.h"
#include "rpc_test_util.h"

#define BATCH "/ocr.OCRService/ExtractTextBatch"
#define STATUS "/ocr.OCRService/GetBatchStatus"

static rpc_env env;

static void setup(void) {
  rpc_env_init(&env, 1);
  env.cfg.batch_parallelism = 2;
}
static void teardown(void) { rpc_env_free(&env); }

TestSuite(svc_batch, .init = setup, .fini = teardown);

/* Starts a batch of n images; image i is a path unless i is in `empty`
 * (an ImagePath with nothing in it). */
static rpc_call *start_batch_order(int32_t id, int n, const char *batch_id, int empty,
                                   int completion_order) {
  ocr_ImagePath paths[32];
  cr_assert_leq(n, 32);
  memset(paths, 0, sizeof paths);
  for (int i = 0; i < n; i++)
    paths[i].private_path = i == empty ? NULL : (char *)"page.png";
  ocr_OCRBatchRequest req = ocr_OCRBatchRequest_init_zero;
  req.image_paths = paths;
  req.image_paths_count = (pb_size_t)n;
  req.batch_id = (char *)batch_id;
  req.completion_order = completion_order;
  rpc_call *c = start_call(&env, id, BATCH, NULL, 0);
  buf wire = BUF_INIT;
  frame_pb(&wire, ocr_OCRBatchRequest_fields, &req);
  rpc_call_data(c, wire.data, wire.len);
  buf_free(&wire);
  rpc_call_end(c);
  return c;
}

static rpc_call *start_batch(int32_t id, int n, const char *batch_id, int empty) {
  return start_batch_order(id, n, batch_id, empty, 0);
}

/* Runs the k-th queued job alone (work, then done), out of queue order. */
static void run_queued(size_t k) {
  cr_assert_lt(k, env.q.n);
  exec_job *j = env.q.jobs[k];
  memmove(&env.q.jobs[k], &env.q.jobs[k + 1], (env.q.n - k - 1) * sizeof env.q.jobs[0]);
  memmove(&env.q.cancelled[k], &env.q.cancelled[k + 1],
          (env.q.n - k - 1) * sizeof env.q.cancelled[0]);
  env.q.n--;
  env.q.ran++;
  j->work(j);
  j->done(j, 0);
}

/* Decodes every progress message sent on the stream into out[]. */
static size_t progress(int32_t id, ocr_OCRBatchProgress *out, size_t max) {
  fake_stream *s = fake_stream_get(&env.conn, id);
  size_t n = 0;
  for (size_t i = 0; i < s->nev; i++) {
    if (s->ev[i].kind != EV_DATA)
      continue;
    const buf *b = &s->ev[i].data;
    size_t off = 0;
    while (off + 5 <= b->len) {
      uint32_t len = (uint32_t)b->data[off + 1] << 24 | (uint32_t)b->data[off + 2] << 16 |
                     (uint32_t)b->data[off + 3] << 8 | b->data[off + 4];
      cr_assert_lt(n, max);
      memset(&out[n], 0, sizeof out[n]);
      pb_istream_t is = pb_istream_from_buffer(b->data + off + 5, len);
      cr_assert(pb_decode(&is, ocr_OCRBatchProgress_fields, &out[n]), "%s",
                PB_GET_ERROR(&is));
      n++;
      off += 5 + len;
    }
  }
  return n;
}

static void release_all(ocr_OCRBatchProgress *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    pb_release(ocr_OCRBatchProgress_fields, &p[i]);
}

static void expect_stream(int32_t id, int total, int failed_index) {
  ocr_OCRBatchProgress p[40];
  size_t n = progress(id, p, 40);
  cr_assert_eq(n, (size_t)total);
  int seen[40] = {0};
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq(p[i].total_images, total);
    cr_assert_eq(p[i].processed_images, (int)i + 1, "processed strictly 1..N");
    cr_assert_eq(p[i].index, (int)i, "input order by default");
    cr_assert_eq(seen[p[i].index]++, 0, "index %d twice", p[i].index);
    cr_assert(p[i].has_current_result);
    if (p[i].index == failed_index) {
      cr_assert_eq(p[i].current_result.status, common_Status_STATUS_FAILURE);
      cr_assert_str_eq(p[i].current_result.error.details, "INVALID_ARGUMENT");
    } else {
      cr_assert_eq(p[i].current_result.status, common_Status_STATUS_SUCCESS);
      cr_assert_str_eq(p[i].current_result.text, "mock text");
    }
  }
  cr_assert_float_eq(p[n - 1].progress_percentage, 100.0f, 1e-4);
  release_all(p, n);
  cr_assert_eq(stream_grpc_status(fake_stream_get(&env.conn, id)), 0);
}

/* GetBatchStatus on stream `sid`; returns the decoded answer. */
static void batch_status(int32_t sid, const char *id, ocr_BatchStatusResponse *r) {
  ocr_BatchStatusRequest req = {.batch_id = (char *)id};
  rpc_call *c = start_call(&env, sid, STATUS, NULL, 0);
  buf wire = BUF_INIT;
  frame_pb(&wire, ocr_BatchStatusRequest_fields, &req);
  rpc_call_data(c, wire.data, wire.len);
  buf_free(&wire);
  rpc_call_end(c);
  memset(r, 0, sizeof *r);
  stream_decode_one(fake_stream_get(&env.conn, sid), ocr_BatchStatusResponse_fields, r);
  close_call(&env, c, sid, 0);
}

Test(svc_batch, runs_at_most_parallelism_images_and_streams_every_result) {
  rpc_call *c = start_batch(1, 10, "b-1", 4);
  /* Image 4 has no image: it fails without reaching a worker. */
  cr_assert_eq(env.q.n, 2, "in flight: %zu", env.q.n);
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 9);
  expect_stream(1, 10, 4);
  close_call(&env, c, 1, 0);

  ocr_BatchStatusResponse st;
  batch_status(3, "b-1", &st);
  cr_assert_str_eq(st.state, "SUCCESS");
  cr_assert_eq(st.total_images, 10);
  cr_assert_eq(st.processed_images, 10);
  cr_assert_eq(st.failed_images, 1);
  cr_assert_eq(st.results_count, 10);
  pb_release(ocr_BatchStatusResponse_fields, &st);
}

Test(svc_batch, slow_reader_pauses_the_batch_until_the_stream_drains) {
  env.conn.pending = (size_t)1 << 30; /* nothing gets written */
  rpc_call *c = start_batch(1, 10, "b-slow", -1);
  exec_queue_drain(&env.q);
  /* Two finished, nothing sent, nothing new started: the batch waits. */
  cr_assert_eq(env.q.ran, 2);
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 0);
  cr_assert_geq(env.conn.drain_requests, 1);

  env.conn.pending = 0;
  rpc_call_drained(c);
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 10);
  expect_stream(1, 10, -1);
  close_call(&env, c, 1, 0);
}

Test(svc_batch, closed_call_cancels_queued_images_and_records_cancelled) {
  rpc_call *c = start_batch(1, 10, "b-cancel", -1);
  cr_assert_eq(env.q.n, 2);
  close_call(&env, c, 1, 8 /* CANCEL */);
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 0, "cancelled images must not run");
  cr_assert_eq(env.conn.late_writes, 0);

  ocr_BatchStatusResponse st;
  batch_status(3, "b-cancel", &st);
  cr_assert_str_eq(st.state, "CANCELLED");
  cr_assert_eq(st.processed_images, 0);
  pb_release(ocr_BatchStatusResponse_fields, &st);
}

Test(svc_batch, empty_batch_ends_ok_and_unknown_status_is_not_found) {
  rpc_call *c = start_batch(1, 0, NULL, -1);
  fake_stream *s = fake_stream_get(&env.conn, 1);
  cr_assert_eq(stream_grpc_status(s), 0);
  close_call(&env, c, 1, 0);

  ocr_BatchStatusRequest req = {.batch_id = (char *)"no-such-batch"};
  rpc_call *q = start_call(&env, 3, STATUS, NULL, 0);
  buf wire = BUF_INIT;
  frame_pb(&wire, ocr_BatchStatusRequest_fields, &req);
  rpc_call_data(q, wire.data, wire.len);
  buf_free(&wire);
  rpc_call_end(q);
  cr_assert_eq(stream_grpc_status(fake_stream_get(&env.conn, 3)), RPC_NOT_FOUND);
  close_call(&env, q, 3, 0);
}

Test(svc_batch, server_makes_a_uuid_when_the_client_gives_no_id) {
  rpc_call *c = start_batch(1, 1, NULL, -1);
  exec_queue_drain(&env.q);
  ocr_OCRBatchProgress p[2];
  cr_assert_eq(progress(1, p, 2), 1);
  cr_assert_eq(strlen(p[0].batch_id), 36);
  cr_assert_eq(p[0].batch_id[14], '4', "version 4 UUID: %s", p[0].batch_id);
  release_all(p, 1);
  close_call(&env, c, 1, 0);
}

Test(svc_batch, input_order_holds_a_result_until_its_predecessors_are_sent) {
  ocr_OCRBatchProgress p[8];
  rpc_call *c = start_batch(1, 4, "b-order", -1);
  cr_assert_eq(env.q.n, 2);
  run_queued(1); /* image 1 finishes before image 0 */
  cr_assert_eq(progress(1, p, 8), 0, "image 1 waits for image 0");
  cr_assert_eq(env.q.n, 1, "a held result counts against the window");
  run_queued(0);
  size_t n = progress(1, p, 8);
  cr_assert_eq(n, 2);
  cr_assert(p[0].index == 0 && p[1].index == 1);
  cr_assert(p[0].processed_images == 1 && p[1].processed_images == 2);
  release_all(p, n);
  cr_assert_eq(env.q.n, 2, "the window refilled");
  exec_queue_drain(&env.q);
  expect_stream(1, 4, -1);
  close_call(&env, c, 1, 0);
}

Test(svc_batch, completion_order_streams_each_result_when_it_is_done) {
  ocr_OCRBatchProgress p[8];
  rpc_call *c = start_batch_order(1, 3, "b-fast", -1, 1);
  run_queued(1);
  size_t n = progress(1, p, 8);
  cr_assert_eq(n, 1);
  cr_assert_eq(p[0].index, 1);
  cr_assert_eq(p[0].processed_images, 1);
  release_all(p, n);
  exec_queue_drain(&env.q);
  n = progress(1, p, 8);
  cr_assert_eq(n, 3);
  cr_assert_float_eq(p[2].progress_percentage, 100.0f, 1e-4);
  release_all(p, n);
  close_call(&env, c, 1, 0);

  /* The job store lists the results by index all the same. */
  ocr_BatchStatusResponse st;
  batch_status(3, "b-fast", &st);
  cr_assert_eq(st.results_count, 3);
  for (pb_size_t i = 0; i < st.results_count; i++)
    cr_assert_eq(st.results[i].index, (int32_t)i);
  pb_release(ocr_BatchStatusResponse_fields, &st);
}

Test(svc_batch, batch_id_still_running_is_already_exists_and_reusable_after) {
  rpc_call *c = start_batch(1, 3, "run-7", -1);
  rpc_call *d = start_batch(3, 1, "run-7", -1);
  fake_stream *s = fake_stream_get(&env.conn, 3);
  cr_assert_eq(stream_grpc_status(s), RPC_ALREADY_EXISTS);
  char msg[256];
  cr_assert(strstr(stream_grpc_message(s, msg, sizeof msg), "run-7"), "%s", msg);
  close_call(&env, d, 3, 0);
  exec_queue_drain(&env.q);
  expect_stream(1, 3, -1);
  close_call(&env, c, 1, 0);

  /* Finished: the id may be used again, and the record is the new batch. */
  c = start_batch(5, 2, "run-7", -1);
  exec_queue_drain(&env.q);
  expect_stream(5, 2, -1);
  close_call(&env, c, 5, 0);
  ocr_BatchStatusResponse st;
  batch_status(7, "run-7", &st);
  cr_assert_eq(st.total_images, 2);
  pb_release(ocr_BatchStatusResponse_fields, &st);

  /* A cancelled batch frees its id too. */
  c = start_batch(9, 4, "run-8", -1);
  close_call(&env, c, 9, 8 /* CANCEL */);
  exec_queue_drain(&env.q);
  c = start_batch(11, 1, "run-8", -1);
  exec_queue_drain(&env.q);
  expect_stream(11, 1, -1);
  close_call(&env, c, 11, 0);
}

Test(svc_batch, out_of_range_psm_fails_every_image_naming_the_field) {
  common_Metadata_DataEntry e = {.key = (char *)"psm", .value = (char *)"99"};
  ocr_ImagePath paths[2] = {{.private_path = (char *)"a.png"},
                            {.private_path = (char *)"b.png"}};
  ocr_OCRBatchRequest req = ocr_OCRBatchRequest_init_zero;
  req.image_paths = paths;
  req.image_paths_count = 2;
  req.has_options = true;
  req.options.data = &e;
  req.options.data_count = 1;
  rpc_call *c = start_call(&env, 1, BATCH, NULL, 0);
  buf wire = BUF_INIT;
  frame_pb(&wire, ocr_OCRBatchRequest_fields, &req);
  rpc_call_data(c, wire.data, wire.len);
  buf_free(&wire);
  rpc_call_end(c);
  exec_queue_drain(&env.q);
  ocr_OCRBatchProgress p[4];
  size_t n = progress(1, p, 4);
  cr_assert_eq(n, 2);
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq(p[i].current_result.status, common_Status_STATUS_FAILURE);
    cr_assert_str_eq(p[i].current_result.error.details, "INVALID_ARGUMENT");
    cr_assert(strstr(p[i].current_result.error.message, "options.psm"));
  }
  release_all(p, n);
  close_call(&env, c, 1, 0);
}
