/* SPDX-License-Identifier: MIT */
/* Shared inside src/rpc (and its tests): the call and server structs, the
 * message deframer, the method table and the services' entry points. */
#ifndef OCRPC_RPC_INTERNAL_H
#define OCRPC_RPC_INTERNAL_H

#include <pb.h>
#include <stdint.h>

#include "app/app.h"
#include "base/access_log.h"
#include "base/buf.h"
#include "base/metrics.h"
#include "base/timer.h"
#include "jobs/jobs.h"
#include "ocr.pb.h"
#include "ocr/ocr.h"
#include "rpc.h"

typedef void (*rpc_unary_fn)(rpc_call *c, void *req);

/* Counts the occurrences of length-delimited field `field` in protobuf
 * wire bytes, or with sub != 0 the occurrences of field `sub` inside each
 * of them (map entries). Stops once the count passes `stop`. Returns the
 * count, or -1 when the bytes are not well-formed (pb_decode then says
 * why). */
ssize_t rpc__pb_count(const uint8_t *data, size_t len, uint32_t field, uint32_t sub,
                      size_t stop);

/* Entries one ExtractText request may put in its `options` map. */
#define RPC_MAX_OPTIONS 64

/* Inflates a gzip (or zlib) message into out, failing with
 * ERR_MSG_TOO_LARGE as soon as it passes `limit`, ERR_PROTOCOL when the
 * bytes are not a complete stream (the peer broke grpc-encoding), ERR_NOMEM. */
int rpc__gunzip(const uint8_t *in, size_t len, uint64_t limit, buf *out);
/* Appends the gzip form of in to out. */
void rpc__gzip(const uint8_t *in, size_t len, buf *out);

/* Responses smaller than this are sent uncompressed: gzip would not pay. */
#define RPC_GZIP_MIN_BYTES 1024

/* One request metadata entry; -bin values are stored decoded. */
typedef struct rpc_md {
  char *name;
  uint8_t *value;
  size_t value_len;
} rpc_md;

typedef struct rpc_watcher rpc_watcher;

/* Entries in the method table; rpc__method_index gives 0..RPC_NMETHODS-1,
 * and RPC_NMETHODS for an unknown method (NULL). */
#define RPC_NMETHODS 10
struct rpc_method;
size_t rpc__method_index(const struct rpc_method *m);
/* The :path of method i; "unknown" for RPC_NMETHODS. */
const char *rpc__method_name(size_t i);

/* llm.LLMService's families (svc_llm_metrics.c), by engine index (rules,
 * openai, unknown) and status (gRPC codes 0..16, then BACKEND_REJECTED,
 * CONTEXT_TOO_LONG). */
#define RPC_LLM_NENGINES 3
typedef struct rpc_llm_metrics {
  int on;
  metric_family *requests, *duration, *ttft;
  metric *requests_s[RPC_LLM_NENGINES][19];
  metric *duration_s[RPC_LLM_NENGINES], *ttft_s[RPC_LLM_NENGINES];
  metric *prompt_tokens, *completion_tokens;
} rpc_llm_metrics;

/* The server's metrics (rpc_metrics.c): series looked up once per method
 * and status, so a call costs two array reads, an add and a bucket search. */
typedef struct rpc_metrics {
  metrics *reg; /* NULL: nothing is counted */
  metric_family *requests, *duration;
  metric *requests_s[RPC_NMETHODS + 1][17];
  metric *duration_s[RPC_NMETHODS + 1];
  metric *batches;
  size_t alive[RPC_NMETHODS + 1]; /* calls alive per method */
  rpc_llm_metrics llm;
} rpc_metrics;

/* rpc_method.flags: one bit each. */
#define RPC_M_WHILE_DRAINING 1 /* still served while the server drains */
#define RPC_M_CLIENT_STREAM 2  /* handler per request message; on_end at half-close */
#define RPC_M_ADMIT 4          /* runs recognitions: refused when the queue is full */
#define RPC_M_REFLECTION 8     /* needs the token unless --auth-reflection off */
#define RPC_M_NO_AUTH 16       /* health: answered without a token */

typedef struct rpc_method {
  const char *path; /* "/pkg.Service/Method" */
  int flags;
  const pb_msgdesc_t *req_fields;
  size_t req_size;
  rpc_unary_fn handler;        /* takes ownership of req (pb_release + free) */
  void (*on_end)(rpc_call *c); /* RPC_M_CLIENT_STREAM only */
  /* Before decoding: refuses a request whose repeated fields pass the
   * method's limits (what decoding them would cost), writing why into msg
   * (the RESOURCE_EXHAUSTED message). NULL: no repeated field to bound.
   * Returns 0 or ERR_MSG_TOO_LARGE. Any thread (reads only cfg). */
  int (*check)(const config *cfg, const uint8_t *data, size_t len, char *msg,
               size_t msg_size);
} rpc_method;

struct rpc_server {
  const config *cfg;
  struct llm_service *llm; /* NULL: llm.LLMService not configured */
  /* The recognition path (engine, executor, job store, result cache),
   * shared with the other front doors through rpc_server_app. */
  app app;
  const rpc_transport *tr;
  timer_src *timers; /* NULL: deadlines are not enforced */
  size_t ncalls;
  int draining;
  rpc_watcher *watchers; /* health Watch streams */
  size_t nwatchers;
  const struct auth_tokens *auth; /* NULL: no token needed */
  /* Batches of this server still running (svc_batch.c's list), so that a
   * second batch with the same batch_id is refused. */
  void *running_batches;
  rpc_metrics m;
  exec *decoder; /* NULL: every message is decoded on the loop */
  /* Messages over these sizes go to the decoder (RPC_DECODE_INLINE_MAX*;
   * the fuzz target lowers them to reach the decoder's paths). */
  size_t decode_over, decode_over_gzip;
};

typedef enum call_state {
  CALL_RECEIVING = 0, /* waiting for the request */
  CALL_RUNNING,       /* handler dispatched, answer pending */
  CALL_DONE           /* status sent */
} call_state;

struct rpc_call {
  rpc_server *srv;
  void *conn;
  int32_t stream_id;
  call_state state;
  const rpc_method *method;
  rpc_deframer deframer;
  void *req;     /* decoded request, until handed to the handler */
  int nmessages; /* request messages received */
  int headers_sent;
  int gzip_in;          /* request messages may be gzip-compressed */
  int gzip_out;         /* the client accepts gzip responses */
  char request_id[129]; /* x-request-id, echoed; "" when absent */
  /* The client half-closed behind the held bytes (see `held`); a char
   * here, in request_id's padding, leaves room for `decoding` without
   * growing the call (424 bytes, allocated per call). */
  char end_held;
  rpc_md *md;           /* custom metadata (not pseudo, not grpc-*) */
  size_t nmd;
  timer *deadline;
  uint64_t deadline_ns; /* rpc__now_ns() when it passes; 0: none */
  /* The service's work in flight for this call, detached on close or
   * when the deadline passes. */
  void *work;
  void (*detach)(void *work);
  /* A paused server stream's resume hook (after notify_drain). */
  void (*drained)(void *work);
  /* For the metrics and the access log. */
  uint64_t t_start_ns;
  uint64_t bytes_in, bytes_out;       /* message bytes as framed on the wire */
  char gen_id[ACCESS_LOG_ID_LEN + 1]; /* generated request id when none came */
  int accounted;                      /* counted and logged (once per call) */
  int alive_counted;                  /* in srv->m.alive[] until close */
  /* The in-band outcome of an OCR answer (ExtractText) or an LLM
   * failure, for the log. */
  const char *ocr_status, *ocr_details; /* static strings; NULL: none */
  double queue_ms, ocr_ms;              /* < 0: no recognition */
  /* llm.LLMService calls (svc_llm.c), for llm_requests_total: the engine
   * ("rules", "openai"; NULL: none chosen) and the outcome when the gRPC
   * status does not tell it (an in-band error's details); static strings. */
  const char *llm_engine, *llm_outcome;
  /* Client streams: request bytes held back, unread, while the responses
   * already sent wait for the client to read them (RPC_STREAM_HIGH_WATER);
   * the client's flow-control window is shut meanwhile. */
  buf held;
  /* A large request message being decoded by the decoder (rpc_decode.c):
   * later bytes are held meanwhile, in order. */
  struct rpc_decode_job *decoding;
};

/* Messages above these sizes (on the wire) are decoded off the loop when
 * the server has a decoder (the defaults of decode_over*): a message of tiny fields costs some ns per
 * byte to decode, and gzip may inflate ~1000-fold. Below them, decoding
 * stays inline (the hot path pays no thread hop). */
#define RPC_DECODE_INLINE_MAX (64 * 1024)
#define RPC_DECODE_INLINE_MAX_GZIP 512

/* Hands one request message (data: the deframer's buffer, taken over, or
 * bytes copied) to the server's decoder: inflated if compressed, checked,
 * decoded there; the call continues on the loop in rpc__call_decoded.
 * Returns 0, or 1 when the decoder refused the job (decode inline instead;
 * data is untouched). */
int rpc__decode_submit(rpc_call *c, const uint8_t *data, size_t len, int compressed);
/* The call goes away while its message is being decoded: the result is
 * dropped when it comes. */
void rpc__decode_orphan(rpc_call *c);
/* A decoded request for the call (ownership passes): the client stream's
 * handler runs at once, a unary request waits for the half-close. Then
 * the bytes held meanwhile are fed. */
void rpc__call_decoded(rpc_call *c, void *req);
/* The message failed in the decoder: answers status/msg, drops the rest. */
void rpc__call_decode_failed(rpc_call *c, rpc_status status, const char *msg);

/* A client-streaming call stops reading requests while more than this of
 * its responses waits to be written. */
#define RPC_STREAM_HIGH_WATER (256 * 1024)

/* Looks a :path up in the method table; NULL if unknown. *service_known
 * says whether the service part exists (for the error message). */
const rpc_method *rpc__method_find(const char *path, size_t len, int *service_known);

/* The custom metadata value named `name` (lower case), or NULL. For -bin
 * names the value is the decoded bytes. */
const rpc_md *rpc__call_metadata(const rpc_call *c, const char *name);

/* Copies the custom metadata of a request into c->md. 0, or
 * ERR_PROTOCOL for a -bin value that is not base64. */
int rpc__md_collect(rpc_call *c, const hdr *hdrs, size_t n);
void rpc__md_free(rpc_call *c);

/* Decodes base64 (standard alphabet, padded or not) into out (at least
 * len*3/4+3 bytes). Returns the decoded length, or -1 on bad input. */
ssize_t rpc__base64_decode(const char *in, size_t len, uint8_t *out);

/* Sends one response message and OK trailers, ending the call. */
void rpc__call_reply(rpc_call *c, const pb_msgdesc_t *fields, const void *msg);

/* Sends one message of a server stream (headers first if not sent yet).
 * Returns 0, or a negative ERR_* after which the call has failed. */
int rpc__call_send(rpc_call *c, const pb_msgdesc_t *fields, const void *msg);

/* Sends one already framed message (compressed here when the client
 * accepts gzip, which may replace framed's bytes; the caller still frees
 * it). 0, or a negative ERR_* after which the call has failed. */
int rpc__call_send_framed(rpc_call *c, buf *framed);

/* Ends a server stream with OK trailers. */
void rpc__call_finish(rpc_call *c);

/* Ends the call with a status and message (Trailers-Only when no headers
 * were sent yet). msg may be NULL. */
void rpc__call_fail(rpc_call *c, rpc_status status, const char *msg);

/* rpc__call_fail with the status rpc_status_from_err(err) gives: every
 * failure that comes as an ERR_* goes through here, so one table decides
 * what clients see. msg NULL: err_text(err). */
void rpc__call_fail_err(rpc_call *c, int err, const char *msg);

/* Metadata key/value storage for one OCRResponse. */
typedef struct rpc_kv {
  char buf[17][32];
  common_Metadata_DataEntry e[19];
  /* Lengths of e[i].key and e[i].value, known when they are added: the
   * encoder would otherwise strlen each three times. */
  size_t klen[19], vlen[19];
  size_t n, nbuf;
} rpc_kv;

/* The response metadata of an OCR result (engine, engine_version,
 * language, image_width, image_height, queue_ms, ocr_ms, rotation, and
 * pages / exif_orientation when they say something, parts / part_workers
 * when Tesseract read a page (ocr_result.parts), the five per-phase
 * *_ms times when the result is timed);
 * values borrowed from r, eng and kv. */
void rpc__ocr_kv(const ocr_result *r, ocr_engine *eng, double queue_ms, rpc_kv *kv);

/* Appends r as one framed OCRResponse to out, written directly (the hot
 * path of ExtractText; the same bytes nanopb would produce from
 * rpc__ocr_response). 0 or ERR_MSG_TOO_LARGE (over limit). */
int rpc__ocr_response_encode(const ocr_result *r, const rpc_kv *kv, buf *out,
                             uint64_t limit);

/* Fills resp from an OCR result: everything is borrowed from r and kv,
 * except resp->text_boxes, which the caller frees. */
void rpc__ocr_response(const ocr_result *r, ocr_engine *eng, double queue_ms,
                       ocr_OCRResponse *resp, rpc_kv *kv);

/* Adds one metadata entry (key and value borrowed; at most 17 in all). */
void rpc__kv_add(rpc_kv *kv, const char *key, const char *value);

/* Records a call's end once: grpc_requests_total, the duration histogram
 * and the access log line. Called when the status is sent, or at close
 * for a call that ended without one (CANCELLED). */
void rpc__call_account(rpc_call *c, rpc_status status, const char *msg);

/* Notes an OCR answer on the call for its access log line. */
void rpc__call_note_ocr(rpc_call *c, const ocr_result *r, double queue_ms);

/* Notes an in-band failure that ran no recognition (an LLMResponse with
 * STATUS_FAILURE; details a static string): the access log line is written
 * at warn with ocr_status FAILURE and these details, and no queue or OCR
 * times, as README's access log section promises. */
void rpc__call_note_inband_failure(rpc_call *c, const char *details);

/* Services. */
void rpc__ocr_extract_text(rpc_call *c, void *req);
void rpc__ocr_check_health(rpc_call *c, void *req);
void rpc__ocr_extract_batch(rpc_call *c, void *req);
void rpc__ocr_batch_status(rpc_call *c, void *req);
void rpc__reflection_info(rpc_call *c, void *req);
void rpc__reflection_end(rpc_call *c);
void rpc__health_check(rpc_call *c, void *req);
void rpc__llm_analyze(rpc_call *c, void *req);
/* svc_llm_metrics.c. Registers the llm_* families: 0 or ERR_NOMEM. */
int rpc__llm_metrics_register(rpc_server *srv, metrics *m);
/* 0 rules, 1 openai, 2 anything else (the "unknown" label). */
size_t rpc__llm_engine_index(const char *engine);
/* Counts an ended llm.LLMService call (from rpc__call_account). */
void rpc__llm_account(rpc_call *c, rpc_status status, double seconds);
/* The first token of a stream is being sent now. */
void rpc__llm_note_first_token(rpc_call *c);
/* The backend's usage of one call (< 0: not reported). */
void rpc__llm_note_tokens(rpc_server *srv, long prompt, long completion);
void rpc__llm_analyze_stream(rpc_call *c, void *req);
void rpc__health_watch(rpc_call *c, void *req);
/* grpc.health.v1 serving status of a service name ("" is the server). */
int rpc__service_status(const rpc_server *srv, const char *name);
/* Tells every Watch stream whose status changed. */
void rpc__health_changed(rpc_server *srv);

#endif
