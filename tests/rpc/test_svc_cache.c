/* SPDX-License-Identifier: MIT */
/* The result cache over the fake transport, the mock engine, the in-process
 * store and the hand-drained executor: a first ExtractText reads and hashes
 * on a worker, misses, recognises on a worker and stores; the same image
 * again takes one worker trip and answers from the cache; other options
 * miss; failures are never stored; a call closed between steps is freed
 * without writing anything (LeakSanitizer in the ASan tree); batches use
 * the same steps per image. */
#include <criterion/criterion.h>
#include <pb_decode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "ocr.pb.h"
#include "rpc_internal.h"
#include "rpc_test_util.h"

#define EXTRACT "/ocr.OCRService/ExtractText"
#define BATCH "/ocr.OCRService/ExtractTextBatch"

/* A PNG signature and IHDR (321 x 45): the mock engine reads the size. */
static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0,    0,
                              0,    13,  'I', 'H', 'D',  'R',  0,    0,    0x01, 0x41,
                              0,    0,   0,   45,  8,    0,    0,    0,    0,    0,
                              0,    0,   0,   0,   0,    0,    0,    0,    0,    0};

static rpc_env env;
static char img_path[64]; /* a file under /tmp (the image root) holding png */

/* ---- a store whose cache reads wait for the test to answer them ---- */

typedef struct slow_store {
  jobs_store base;
  jobs_store *inner; /* in-process: everything else goes there */
  jobs_ops ops;
  int pending, cancelled;
  jobs_cache_cb cb;
  void *arg;
  char key[80];
} slow_store;

static slow_store slow;

static int s_create(jobs_store *s, const char *id, int32_t total) {
  return jobs_create(((slow_store *)s)->inner, id, total);
}
static int s_put_result(jobs_store *s, const char *id, const jobs_result *r, int32_t p,
                        int32_t f) {
  return jobs_put_result(((slow_store *)s)->inner, id, r, p, f);
}
static int s_finish(jobs_store *s, const char *id, jobs_state st, int32_t p, int32_t f) {
  return jobs_finish(((slow_store *)s)->inner, id, st, p, f);
}
static void *s_get(jobs_store *s, const char *id, jobs_get_cb cb, void *arg) {
  return jobs_get(((slow_store *)s)->inner, id, cb, arg);
}
static void s_get_cancel(jobs_store *s, void *req) {
  jobs_get_cancel(((slow_store *)s)->inner, req);
}
static void s_free(jobs_store *s) { jobs_free(((slow_store *)s)->inner); }
static void *s_cache_get(jobs_store *s, const char *key, jobs_cache_cb cb, void *arg) {
  slow_store *ss = (slow_store *)s;
  cr_assert_eq(ss->pending, 0, "one read at a time in these tests");
  ss->pending = 1;
  ss->cb = cb;
  ss->arg = arg;
  snprintf(ss->key, sizeof ss->key, "%s", key);
  return ss;
}
static void s_cache_cancel(jobs_store *s, void *req) {
  slow_store *ss = (slow_store *)s;
  cr_assert_eq(req, ss);
  cr_assert_eq(ss->pending, 1);
  ss->pending = 0;
  ss->cancelled++;
}
static void s_cache_put(jobs_store *s, const char *key, const uint8_t *d, size_t len,
                        uint64_t ttl) {
  jobs_cache_put(((slow_store *)s)->inner, key, d, len, ttl);
}

/* Answers the pending read from the in-process store. */
static void slow_answer(void) {
  cr_assert_eq(slow.pending, 1);
  slow.pending = 0;
  void *h = jobs_cache_get(slow.inner, slow.key, slow.cb, slow.arg);
  cr_assert_null(h);
}

/* Puts the slow store in front of the environment's in-process store. */
static void use_slow_store(void) {
  memset(&slow, 0, sizeof slow);
  slow.inner = env.jobs;
  slow.ops = (jobs_ops){s_create, s_put_result, s_finish,       s_get,      s_get_cancel,
                        s_free,   s_cache_get,  s_cache_cancel, s_cache_put};
  slow.base.ops = &slow.ops;
  rpc_server_set_jobs(env.srv, &slow.base);
}

/* ---- set-up and helpers ---- */

static void setup(void) {
  rpc_env_init(&env, 1);
  env.srv->app.cache_on = 1;
  env.srv->app.cache_ttl_ms = 3600 * 1000;
  env.cfg.batch_parallelism = 2;
  snprintf(img_path, sizeof img_path, "/tmp/ocrpc-cache-test-%d.png", (int)getpid());
  FILE *f = fopen(img_path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(png, 1, sizeof png, f), sizeof png);
  fclose(f);
}

static void teardown(void) {
  unlink(img_path);
  rpc_env_free(&env);
}

TestSuite(svc_cache, .init = setup, .fini = teardown);

static pb_bytes_array_t *bytes_of(const uint8_t *d, size_t n) {
  pb_bytes_array_t *b = malloc(PB_BYTES_ARRAY_T_ALLOCSIZE(n));
  cr_assert_not_null(b);
  b->size = (pb_size_t)n;
  memcpy(b->bytes, d, n);
  return b;
}

/* ExtractText of the test image: inline bytes, or its path. */
static rpc_call *extract_opt(int32_t id, int inline_bytes, const char *language,
                             int cache_off) {
  common_Metadata_DataEntry off = {.key = (char *)"cache", .value = (char *)"off"};
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  if (cache_off) {
    req.has_options = true;
    req.options.data = &off;
    req.options.data_count = 1;
  }
  pb_bytes_array_t *img = NULL;
  if (inline_bytes)
    req.image_data = img = bytes_of(png, sizeof png);
  else
    req.private_image_path = img_path + strlen("/tmp/");
  req.language = (char *)language;
  rpc_call *c = start_call(&env, id, EXTRACT, NULL, 0);
  buf wire = BUF_INIT;
  frame_pb(&wire, ocr_OCRRequest_fields, &req);
  cr_assert_eq(rpc_call_data(c, wire.data, wire.len), 0);
  buf_free(&wire);
  free(img);
  rpc_call_end(c);
  return c;
}

static rpc_call *extract(int32_t id, int inline_bytes, const char *language) {
  return extract_opt(id, inline_bytes, language, 0);
}

/* The answer on stream id: success, mock text, the cache outcome. */
static void expect_answer(int32_t id, const char *cache) {
  fake_stream *s = fake_stream_get(&env.conn, id);
  cr_assert_eq(stream_grpc_status(s), 0);
  ocr_OCRResponse r = ocr_OCRResponse_init_zero;
  stream_decode_one(s, ocr_OCRResponse_fields, &r);
  cr_assert_eq(r.status, common_Status_STATUS_SUCCESS);
  cr_assert_str_eq(r.text, "mock text");
  cr_assert_eq(r.text_boxes_count, 1);
  cr_assert_eq(r.text_boxes[0].bbox.coordinates_count, 8);
  cr_assert_eq(r.text_boxes[0].bbox.coordinates[2], 321.0f, "box from the image size");
  cr_assert_str_eq(ocr_response_meta(&r, "cache"), cache);
  cr_assert_str_eq(ocr_response_meta(&r, "image_width"), "321");
  cr_assert_str_eq(ocr_response_meta(&r, "image_height"), "45");
  cr_assert_str_eq(ocr_response_meta(&r, "language"), "kor");
  if (strcmp(cache, "hit") == 0)
    cr_assert_str_eq(ocr_response_meta(&r, "ocr_ms"), "0.000");
  pb_release(ocr_OCRResponse_fields, &r);
}

static void stats(uint64_t hits, uint64_t misses) {
  uint64_t h, m;
  rpc_server_cache_stats(env.srv, &h, &m);
  cr_assert_eq(h, hits, "hits %llu", (unsigned long long)h);
  cr_assert_eq(m, misses, "misses %llu", (unsigned long long)m);
}

/* ---- ExtractText ---- */

Test(svc_cache, first_call_misses_second_hits_with_one_worker_trip) {
  rpc_call *c = extract(1, 1, NULL);
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 2, "miss: read+hash, then OCR");
  expect_answer(1, "miss");
  close_call(&env, c, 1, 0);
  cr_assert_eq(jobs_memory_cache_count(env.jobs), 1, "the result was stored");
  stats(0, 1);

  c = extract(3, 1, NULL);
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 3, "hit: read+hash only");
  expect_answer(3, "hit");
  close_call(&env, c, 3, 0);
  stats(1, 1);

  /* The same bytes named by a path: the key is the bytes, not the name. */
  c = extract(5, 0, "korean");
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 4);
  expect_answer(5, "hit");
  close_call(&env, c, 5, 0);
  /* "kor" is "korean" once mapped. */
  c = extract(7, 1, "kor");
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 5);
  expect_answer(7, "hit");
  close_call(&env, c, 7, 0);
  stats(3, 1);
  cr_assert_eq(env.conn.late_writes, 0);
}

Test(svc_cache, another_language_misses) {
  rpc_call *c = extract(1, 1, "korean");
  exec_queue_drain(&env.q);
  close_call(&env, c, 1, 0);
  c = extract(3, 1, "english");
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 4, "two misses");
  fake_stream *s = fake_stream_get(&env.conn, 3);
  ocr_OCRResponse r = ocr_OCRResponse_init_zero;
  stream_decode_one(s, ocr_OCRResponse_fields, &r);
  cr_assert_str_eq(ocr_response_meta(&r, "cache"), "miss");
  cr_assert_str_eq(ocr_response_meta(&r, "language"), "eng");
  pb_release(ocr_OCRResponse_fields, &r);
  close_call(&env, c, 3, 0);
  stats(0, 2);
  cr_assert_eq(jobs_memory_cache_count(env.jobs), 2);
}

Test(svc_cache, failures_are_answered_as_without_the_cache_and_never_stored) {
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  req.private_image_path = "no-such-file.png";
  rpc_call *c = start_call(&env, 1, EXTRACT, NULL, 0);
  buf wire = BUF_INIT;
  frame_pb(&wire, ocr_OCRRequest_fields, &req);
  rpc_call_data(c, wire.data, wire.len);
  buf_free(&wire);
  rpc_call_end(c);
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 1, "the read failed: no lookup, no recognition");
  ocr_OCRResponse r = ocr_OCRResponse_init_zero;
  stream_decode_one(fake_stream_get(&env.conn, 1), ocr_OCRResponse_fields, &r);
  cr_assert_eq(r.status, common_Status_STATUS_FAILURE);
  cr_assert_str_eq(r.error.details, "NOT_FOUND");
  cr_assert_null(ocr_response_meta(&r, "cache"));
  pb_release(ocr_OCRResponse_fields, &r);
  close_call(&env, c, 1, 0);
  stats(0, 0);

  /* A result with an error is never stored, whatever the caller says. */
  app_recog bad;
  app_recog_init(&bad);
  bad.cache = APP_CACHE_MISS;
  snprintf(bad._key, sizeof bad._key, "%064d", 7);
  bad.out.err = ERR_DECODE;
  app__cache_store(&env.srv->app, &bad);
  cr_assert_eq(jobs_memory_cache_count(env.jobs), 0);
}

Test(svc_cache, close_while_reading_writes_nothing) {
  rpc_call *c = extract(1, 0, NULL);
  cr_assert_eq(env.q.n, 1);
  close_call(&env, c, 1, 0x8);
  cr_assert_eq(env.q.cancels_ok, 1, "the queued read was taken back");
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 0);
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 0);
  cr_assert_eq(jobs_memory_cache_count(env.jobs), 0);
  cr_assert_eq(env.conn.late_writes, 0);
}

Test(svc_cache, close_while_recognising_writes_nothing) {
  rpc_call *c = extract(1, 0, NULL);
  exec_queue_round(&env.q); /* read, miss, recognition queued */
  cr_assert_eq(env.q.ran, 1);
  cr_assert_eq(env.q.n, 1);
  close_call(&env, c, 1, 0x8);
  cr_assert_eq(env.q.cancels_ok, 1, "the queued recognition was taken back");
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 1);
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 0);
  cr_assert_eq(jobs_memory_cache_count(env.jobs), 0, "nothing stored for a gone call");
  cr_assert_eq(env.conn.late_writes, 0);
}

Test(svc_cache, close_while_waiting_for_the_store_cancels_the_read) {
  use_slow_store();
  rpc_call *c = extract(1, 1, NULL);
  exec_queue_drain(&env.q);
  cr_assert_eq(slow.pending, 1, "the read waits for the store");
  close_call(&env, c, 1, 0x8);
  cr_assert_eq(slow.cancelled, 1, "the pending read was cancelled");
  cr_assert_eq(env.q.n, 0);
  cr_assert_eq(fake_stream_get(&env.conn, 1)->nev, 0);
  cr_assert_eq(jobs_memory_cache_count(env.jobs), 0);
  rpc_server_set_jobs(env.srv, env.jobs);
}

Test(svc_cache, store_answering_later_still_answers_the_call) {
  use_slow_store();
  rpc_call *c = extract(1, 1, NULL);
  exec_queue_drain(&env.q);
  slow_answer(); /* a miss: the recognition is queued */
  exec_queue_drain(&env.q);
  expect_answer(1, "miss");
  close_call(&env, c, 1, 0);
  c = extract(3, 1, NULL);
  exec_queue_drain(&env.q);
  slow_answer();
  cr_assert_eq(env.q.n, 0, "a hit queues nothing");
  expect_answer(3, "hit");
  close_call(&env, c, 3, 0);
  cr_assert_eq(env.q.ran, 3);
  rpc_server_set_jobs(env.srv, env.jobs);
}

Test(svc_cache, unreachable_store_is_a_miss) {
  use_slow_store();
  rpc_call *c = extract(1, 1, NULL);
  exec_queue_drain(&env.q);
  cr_assert_eq(slow.pending, 1);
  slow.pending = 0;
  slow.cb(slow.arg, ERR_UNAVAILABLE, NULL, 0);
  exec_queue_drain(&env.q);
  expect_answer(1, "miss");
  close_call(&env, c, 1, 0);
  stats(0, 1);
  rpc_server_set_jobs(env.srv, env.jobs);
}

Test(svc_cache, cache_off_takes_one_worker_trip_and_says_nothing) {
  env.srv->app.cache_on = 0;
  rpc_call *c = extract(1, 1, NULL);
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 1);
  ocr_OCRResponse r = ocr_OCRResponse_init_zero;
  stream_decode_one(fake_stream_get(&env.conn, 1), ocr_OCRResponse_fields, &r);
  cr_assert_null(ocr_response_meta(&r, "cache"));
  pb_release(ocr_OCRResponse_fields, &r);
  close_call(&env, c, 1, 0);
  cr_assert_eq(jobs_memory_cache_count(env.jobs), 0);
  stats(0, 0);
}

Test(svc_cache, request_option_cache_off_bypasses_lookup_and_store) {
  rpc_call *c = extract(1, 1, NULL);
  exec_queue_drain(&env.q);
  close_call(&env, c, 1, 0);
  stats(0, 1);
  c = extract_opt(3, 1, NULL, 1);
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 3, "recognised again, one worker trip");
  ocr_OCRResponse r = ocr_OCRResponse_init_zero;
  stream_decode_one(fake_stream_get(&env.conn, 3), ocr_OCRResponse_fields, &r);
  cr_assert_eq(r.status, common_Status_STATUS_SUCCESS);
  cr_assert_null(ocr_response_meta(&r, "cache"));
  pb_release(ocr_OCRResponse_fields, &r);
  close_call(&env, c, 3, 0);
  stats(0, 1);
}

/* ---- batches ---- */

static rpc_call *start_batch(int32_t id, int n) {
  ocr_ImagePath paths[16];
  pb_bytes_array_t *imgs[16];
  cr_assert_leq(n, 16);
  memset(paths, 0, sizeof paths);
  for (int i = 0; i < n; i++) {
    /* Images 0 and 1 differ (one byte of padding); the rest repeat 0. */
    uint8_t b[sizeof png + 1];
    memcpy(b, png, sizeof png);
    b[sizeof png] = (uint8_t)(i == 1);
    imgs[i] = bytes_of(b, sizeof b);
    paths[i].data = imgs[i];
  }
  ocr_OCRBatchRequest req = ocr_OCRBatchRequest_init_zero;
  req.image_paths = paths;
  req.image_paths_count = (pb_size_t)n;
  req.batch_id = (char *)"cache-batch";
  rpc_call *c = start_call(&env, id, BATCH, NULL, 0);
  buf wire = BUF_INIT;
  frame_pb(&wire, ocr_OCRBatchRequest_fields, &req);
  rpc_call_data(c, wire.data, wire.len);
  buf_free(&wire);
  for (int i = 0; i < n; i++)
    free(imgs[i]);
  rpc_call_end(c);
  return c;
}

Test(svc_cache, batch_items_hit_and_keep_their_order_and_counts) {
  rpc_call *c = start_batch(1, 6);
  cr_assert_eq(env.q.n, 2, "parallelism 2");
  exec_queue_drain(&env.q);
  /* Items 0 and 1 run together and both miss; 2..5 repeat item 0: hits. */
  cr_assert_eq(env.q.ran, 2 * 2 + 4);
  stats(4, 2);
  fake_stream *s = fake_stream_get(&env.conn, 1);
  int hits = 0, n = 0;
  for (size_t i = 0; i < s->nev; i++) {
    if (s->ev[i].kind != EV_DATA)
      continue;
    const buf *b = &s->ev[i].data;
    for (size_t off = 0; off + 5 <= b->len;) {
      uint32_t len = (uint32_t)b->data[off + 1] << 24 | (uint32_t)b->data[off + 2] << 16 |
                     (uint32_t)b->data[off + 3] << 8 | b->data[off + 4];
      ocr_OCRBatchProgress p = ocr_OCRBatchProgress_init_zero;
      pb_istream_t is = pb_istream_from_buffer(b->data + off + 5, len);
      cr_assert(pb_decode(&is, ocr_OCRBatchProgress_fields, &p));
      n++;
      cr_assert_eq(p.processed_images, n, "processed 1..N");
      cr_assert_eq(p.current_result.status, common_Status_STATUS_SUCCESS);
      cr_assert_str_eq(p.current_result.text, "mock text");
      const char *cache = ocr_response_meta(&p.current_result, "cache");
      cr_assert_not_null(cache);
      if (strcmp(cache, "hit") == 0) {
        hits++;
        cr_assert_geq(p.index, 2, "items 0 and 1 cannot hit");
      }
      pb_release(ocr_OCRBatchProgress_fields, &p);
      off += 5 + len;
    }
  }
  cr_assert_eq(n, 6);
  cr_assert_eq(hits, 4);
  cr_assert_eq(stream_grpc_status(s), 0);
  close_call(&env, c, 1, 0);
}

Test(svc_cache, batch_closed_while_an_item_waits_for_the_store) {
  use_slow_store();
  env.cfg.batch_parallelism = 1;
  rpc_call *c = start_batch(1, 3);
  exec_queue_drain(&env.q);
  cr_assert_eq(slow.pending, 1);
  close_call(&env, c, 1, 0x8);
  cr_assert_eq(slow.cancelled, 1);
  cr_assert_eq(env.q.n, 0);
  cr_assert_eq(env.conn.late_writes, 0);
  cr_assert_eq(jobs_memory_cache_count(env.jobs), 0);
  /* The batch was freed at the close (LeakSanitizer checks). */
  rpc_server_set_jobs(env.srv, env.jobs);
}

Test(svc_cache, batch_closed_while_recognising_stores_nothing) {
  rpc_call *c = start_batch(1, 4);
  exec_queue_round(&env.q); /* two reads, two misses, two recognitions queued */
  cr_assert_eq(env.q.n, 2);
  close_call(&env, c, 1, 0x8);
  exec_queue_drain(&env.q);
  cr_assert_eq(env.q.ran, 2);
  cr_assert_eq(jobs_memory_cache_count(env.jobs), 0);
  cr_assert_eq(env.conn.late_writes, 0);
}
