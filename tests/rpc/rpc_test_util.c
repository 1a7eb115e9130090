/* SPDX-License-Identifier: MIT */
/* Test doubles for the rpc layer: see rpc_test_util.h. */
#include "rpc_test_util.h"

#include <criterion/criterion.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "exec_now.h"
#include "ocr/ocr.h"

fake_stream *fake_stream_get(fake_conn *fc, int32_t id) {
  for (size_t i = 0; i < fc->nstreams; i++)
    if (fc->streams[i].id == id)
      return &fc->streams[i];
  cr_assert_lt(fc->nstreams, FAKE_MAX_STREAMS);
  fake_stream *s = &fc->streams[fc->nstreams++];
  s->id = id;
  return s;
}

static fake_event *add_event(void *conn, int32_t id, int kind) {
  fake_conn *fc = conn;
  fake_stream *s = fake_stream_get(fc, id);
  if (s->closed)
    fc->late_writes++;
  cr_assert_lt(s->nev, FAKE_MAX_EVENTS);
  fake_event *e = &s->ev[s->nev++];
  e->kind = kind;
  return e;
}

static void copy_hdrs(fake_event *e, const hdr *h, size_t n) {
  cr_assert_leq(n, FAKE_MAX_HDRS);
  e->nhdrs = n;
  for (size_t i = 0; i < n; i++) {
    cr_assert_lt(h[i].name_len, sizeof e->names[i]);
    cr_assert_lt(h[i].value_len, sizeof e->values[i]);
    memcpy(e->names[i], h[i].name, h[i].name_len);
    e->names[i][h[i].name_len] = 0;
    memcpy(e->values[i], h[i].value, h[i].value_len);
    e->values[i][h[i].value_len] = 0;
  }
}

static int f_respond(void *conn, int32_t id, const hdr *h, size_t n, int end) {
  fake_event *e = add_event(conn, id, EV_RESPOND);
  copy_hdrs(e, h, n);
  e->end_stream = end;
  return 0;
}

static int f_send_data(void *conn, int32_t id, const uint8_t *d, size_t n) {
  fake_event *e = add_event(conn, id, EV_DATA);
  buf_append(&e->data, d, n);
  return 0;
}

static int f_send_trailers(void *conn, int32_t id, const hdr *h, size_t n) {
  fake_event *e = add_event(conn, id, EV_TRAILERS);
  copy_hdrs(e, h, n);
  e->end_stream = 1;
  return 0;
}

static int f_reset(void *conn, int32_t id, uint32_t code) {
  fake_event *e = add_event(conn, id, EV_RESET);
  e->code = code;
  return 0;
}

static size_t f_pending(void *conn, int32_t id) {
  (void)id;
  return ((fake_conn *)conn)->pending; /* 0: everything written at once */
}

static void f_notify_drain(void *conn, int32_t id) {
  (void)id;
  ((fake_conn *)conn)->drain_requests++;
}

const rpc_transport fake_transport = {
    .respond = f_respond,
    .send_data = f_send_data,
    .send_trailers = f_send_trailers,
    .reset = f_reset,
    .pending = f_pending,
    .notify_drain = f_notify_drain,
};

const char *fake_hdr(const fake_event *e, const char *name) {
  for (size_t i = 0; i < e->nhdrs; i++)
    if (strcmp(e->names[i], name) == 0)
      return e->values[i];
  return NULL;
}

void fake_conn_free(fake_conn *fc) {
  for (size_t i = 0; i < fc->nstreams; i++)
    for (size_t j = 0; j < fc->streams[i].nev; j++)
      buf_free(&fc->streams[i].ev[j].data);
  memset(fc, 0, sizeof *fc);
}

/* ---- executors ---- */

void exec_run_now_init(exec *ex) {
  ex->submit = exec_now_submit;
  ex->cancel = exec_now_cancel;
  ex->ud = NULL;
}

static int q_submit(exec *ex, exec_job *job) {
  exec_queue *q = ex->ud;
  cr_assert_lt(q->n, 64);
  q->cancelled[q->n] = 0;
  q->jobs[q->n++] = job;
  q->submitted++;
  return 0;
}

static int q_cancel(exec *ex, exec_job *job) {
  exec_queue *q = ex->ud;
  for (size_t i = 0; i < q->n; i++) {
    if (q->jobs[i] == job && !q->cancelled[i]) {
      q->cancelled[i] = 1;
      q->cancels_ok++;
      return 0;
    }
  }
  return ERR_INVAL;
}

void exec_queued_init(exec *ex, exec_queue *q) {
  memset(q, 0, sizeof *q);
  ex->submit = q_submit;
  ex->cancel = q_cancel;
  ex->ud = q;
}

void exec_queue_round(exec_queue *q) {
  /* Like libuv: done comes later, on the loop thread, once per job. Jobs
   * submitted by a done callback wait for the next round. */
  size_t n = q->n;
  exec_job *jobs[64];
  int cancelled[64];
  memcpy(jobs, q->jobs, n * sizeof jobs[0]);
  memcpy(cancelled, q->cancelled, n * sizeof cancelled[0]);
  q->n = 0;
  for (size_t i = 0; i < n; i++) {
    if (cancelled[i]) {
      jobs[i]->done(jobs[i], ERR_CANCELLED);
    } else {
      q->ran++;
      jobs[i]->work(jobs[i]);
      jobs[i]->done(jobs[i], 0);
    }
  }
}

void exec_queue_drain(exec_queue *q) {
  while (q->n)
    exec_queue_round(q);
}

/* ---- environment ---- */

void rpc_env_init(rpc_env *env, int queued) {
  memset(env, 0, sizeof *env);
  char *argv[] = {"ocrpc-server", NULL};
  char err[256] = "";
  cr_assert_eq(config_load(&env->cfg, 1, argv, NULL, NULL, err, sizeof err), 0, "%s", err);
  snprintf(env->cfg.engine, sizeof env->cfg.engine, "mock");
  snprintf(env->cfg.image_root, sizeof env->cfg.image_root, "/tmp");
  ocr_config oc = {.kind = OCR_KIND_MOCK,
                   .image_root = env->cfg.image_root,
                   .default_language = env->cfg.language};
  cr_assert_eq(ocr_engine_new(&oc, &env->engine), 0);
  if (queued)
    exec_queued_init(&env->ex, &env->q);
  else
    exec_run_now_init(&env->ex);
  env->srv = rpc_server_new(&env->cfg, env->engine, &env->ex, &fake_transport);
  cr_assert_eq(jobs_memory_new(3600 * 1000, &env->jobs), 0);
  rpc_server_set_jobs(env->srv, env->jobs);
}

void rpc_env_free(rpc_env *env) {
  if (env->srv)
    cr_assert_eq(rpc_server_calls(env->srv), 0, "%zu calls were never closed",
                 rpc_server_calls(env->srv));
  rpc_server_free(env->srv);
  jobs_free(env->jobs);
  ocr_engine_free(env->engine);
  fake_conn_free(&env->conn);
}

rpc_call *start_call_hdrs(rpc_env *env, int32_t stream_id, const hdr *hdrs, size_t n) {
  rpc_call *c = rpc_call_start(env->srv, &env->conn, stream_id, hdrs, n);
  cr_assert_not_null(c);
  return c;
}

rpc_call *start_call(rpc_env *env, int32_t stream_id, const char *path, const hdr *extra,
                     size_t nextra) {
  hdr h[16] = {
      HDR_LIT(":method", "POST"),
      HDR_LIT(":scheme", "http"),
      hdr_make(":path", path, strlen(path)),
      HDR_LIT(":authority", "localhost:50051"),
      HDR_LIT("content-type", "application/grpc"),
      HDR_LIT("te", "trailers"),
  };
  size_t n = 6;
  cr_assert_leq(n + nextra, 16);
  for (size_t i = 0; i < nextra; i++)
    h[n++] = extra[i];
  return start_call_hdrs(env, stream_id, h, n);
}

void close_call(rpc_env *env, rpc_call *c, int32_t stream_id, uint32_t code) {
  fake_stream_get(&env->conn, stream_id)->closed = 1;
  rpc_call_close(c, code);
}

void frame_append(buf *out, const void *payload, size_t len, int compressed) {
  uint8_t p[5] = {(uint8_t)(compressed ? 1 : 0), (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                  (uint8_t)(len >> 8), (uint8_t)len};
  buf_append(out, p, 5);
  if (len)
    buf_append(out, payload, len);
}

void frame_pb(buf *out, const pb_msgdesc_t *fields, const void *msg) {
  size_t size;
  cr_assert(pb_get_encoded_size(&size, fields, msg));
  uint8_t *tmp = malloc(size ? size : 1);
  cr_assert_not_null(tmp);
  pb_ostream_t os = pb_ostream_from_buffer(tmp, size);
  cr_assert(pb_encode(&os, fields, msg), "%s", PB_GET_ERROR(&os));
  cr_assert_eq(os.bytes_written, size);
  frame_append(out, tmp, size, 0);
  free(tmp);
}

static const fake_event *last_hdr_event(const fake_stream *s) {
  for (size_t i = s->nev; i-- > 0;) {
    const fake_event *e = &s->ev[i];
    if ((e->kind == EV_RESPOND || e->kind == EV_TRAILERS) && e->end_stream)
      return e;
  }
  return NULL;
}

int stream_grpc_status(const fake_stream *s) {
  const fake_event *e = last_hdr_event(s);
  if (!e)
    return -1;
  const char *v = fake_hdr(e, "grpc-status");
  return v ? atoi(v) : -1;
}

const char *stream_grpc_message(const fake_stream *s, char *out, size_t outsize) {
  const fake_event *e = last_hdr_event(s);
  const char *v = e ? fake_hdr(e, "grpc-message") : NULL;
  if (!v) {
    out[0] = 0;
    return out;
  }
  rpc_percent_decode(v, strlen(v), out, outsize);
  return out;
}

void stream_decode_one(const fake_stream *s, const pb_msgdesc_t *fields, void *msg) {
  const fake_event *data = NULL;
  for (size_t i = 0; i < s->nev; i++) {
    if (s->ev[i].kind == EV_DATA) {
      cr_assert_null(data, "more than one DATA write");
      data = &s->ev[i];
    }
  }
  cr_assert_not_null(data, "no response message");
  const uint8_t *p = data->data.data;
  cr_assert_geq(data->data.len, 5);
  cr_assert_eq(p[0], 0, "response marked compressed");
  size_t len = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
  cr_assert_eq(len + 5, data->data.len, "not exactly one message");
  pb_istream_t is = pb_istream_from_buffer(p + 5, len);
  cr_assert(pb_decode(&is, fields, msg), "response does not decode: %s", PB_GET_ERROR(&is));
}

const char *ocr_response_meta(const ocr_OCRResponse *r, const char *key) {
  for (pb_size_t i = 0; i < r->metadata.data_count; i++)
    if (r->metadata.data[i].key && strcmp(r->metadata.data[i].key, key) == 0)
      return r->metadata.data[i].value;
  return NULL;
}
