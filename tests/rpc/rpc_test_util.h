/* SPDX-License-Identifier: MIT */
/* Shared by the rpc tests: a fake transport that records every write per
 * stream, two executors (run-at-once, and queued and drained by hand), and
 * helpers to build requests and decode answers. Test thread only. */
#ifndef OCRPC_TESTS_RPC_UTIL_H
#define OCRPC_TESTS_RPC_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/exec.h"
#include "base/hdr.h"
#include "ocr.pb.h"
#include "rpc.h"
#include "rpc_internal.h"

enum { EV_RESPOND = 1, EV_DATA, EV_TRAILERS, EV_RESET };

#define FAKE_MAX_HDRS 16
#define FAKE_MAX_EVENTS 64
#define FAKE_MAX_STREAMS 8

typedef struct fake_event {
  int kind;
  int end_stream;
  size_t nhdrs;
  char names[FAKE_MAX_HDRS][64];
  char values[FAKE_MAX_HDRS][1024];
  buf data;
  uint32_t code;
} fake_event;

typedef struct fake_stream {
  int32_t id;
  int closed; /* rpc_call_close was called for it */
  size_t nev;
  fake_event ev[FAKE_MAX_EVENTS];
} fake_stream;

typedef struct fake_conn {
  fake_stream streams[FAKE_MAX_STREAMS];
  size_t nstreams;
  int late_writes; /* writes to a stream after its call was closed */
  int drain_requests;
  size_t pending; /* what pending() reports: a slow reader when large */
} fake_conn;

extern const rpc_transport fake_transport;

/* The recorded stream (created on first use). */
fake_stream *fake_stream_get(fake_conn *fc, int32_t id);
/* Value of a header in an event, or NULL. */
const char *fake_hdr(const fake_event *e, const char *name);
void fake_conn_free(fake_conn *fc);

/* Executors. run_now: submit runs work and done before returning.
 * queued: submit appends; exec_queue_drain runs (or cancels) every job,
 * exec_queue_round only those queued now (jobs they submit stay queued). */
typedef struct exec_queue {
  exec_job *jobs[64];
  int cancelled[64];
  size_t n;
  int submitted, ran, cancels_ok;
} exec_queue;

void exec_run_now_init(exec *ex);
void exec_queued_init(exec *ex, exec_queue *q);
void exec_queue_round(exec_queue *q);
void exec_queue_drain(exec_queue *q);

/* A server with the mock engine over the fake transport; cfg has defaults
 * (engine "mock", image root "/tmp"). */
typedef struct rpc_env {
  config cfg;
  ocr_engine *engine;
  exec ex;
  exec_queue q;
  rpc_server *srv;
  jobs_store *jobs; /* in-process */
  fake_conn conn;
} rpc_env;

void rpc_env_init(rpc_env *env, int queued);
void rpc_env_free(rpc_env *env);

/* Starts a call with a valid gRPC request head for `path`; extra headers
 * (may be NULL) are appended. */
rpc_call *start_call(rpc_env *env, int32_t stream_id, const char *path, const hdr *extra,
                     size_t nextra);
/* Starts a call with exactly these headers. */
rpc_call *start_call_hdrs(rpc_env *env, int32_t stream_id, const hdr *hdrs, size_t n);
/* Marks the stream closed in the fake, then rpc_call_close. */
void close_call(rpc_env *env, rpc_call *c, int32_t stream_id, uint32_t code);

/* Appends one gRPC frame (flag byte, big-endian length, payload). */
void frame_append(buf *out, const void *payload, size_t len, int compressed);
/* Encodes msg with nanopb and frames it. */
void frame_pb(buf *out, const pb_msgdesc_t *fields, const void *msg);

/* The status a stream ended with: grpc-status of the Trailers-Only
 * response or of the trailers; -1 if it has not ended. */
int stream_grpc_status(const fake_stream *s);
/* The (percent-decoded) grpc-message it ended with, or "" . */
const char *stream_grpc_message(const fake_stream *s, char *out, size_t outsize);
/* Decodes the one response message of a stream (asserts there is exactly
 * one DATA write holding exactly one message). Caller pb_releases. */
void stream_decode_one(const fake_stream *s, const pb_msgdesc_t *fields, void *msg);
/* The value of a response metadata entry, or NULL. */
const char *ocr_response_meta(const ocr_OCRResponse *r, const char *key);

#endif
