/* SPDX-License-Identifier: MIT */
/* gRPC over an abstract stream transport: request validation, the method
 * table keyed by :path, 5-byte message framing, status and trailers, and
 * the services (OCRService, LLMService, health, reflection). rpc performs
 * no I/O and starts no threads: responses go out through the
 * rpc_transport it is handed (src/conn's, over an h2 session), and
 * blocking work through the exec it is handed. Loop thread only. */
#ifndef OCRPC_RPC_H
#define OCRPC_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/exec.h"
#include "base/hdr.h"
#include "base/timer.h"
#include "rpc_wire.h"

typedef struct rpc_server rpc_server;
typedef struct rpc_call rpc_call;
typedef struct ocr_engine ocr_engine;

/* How rpc writes to a stream. `conn` is the connection (src/conn's); every call
 * copies what it is given. Each returns 0 or a negative ERR_*. */
typedef struct rpc_transport {
  int (*respond)(void *conn, int32_t stream_id, const hdr *hdrs, size_t n, int end_stream);
  int (*send_data)(void *conn, int32_t stream_id, const uint8_t *data, size_t len);
  /* Optional: like send_data, but may take the bytes of *b over instead
   * of copying them, leaving *b an empty buffer the caller frees. */
  int (*send_buf)(void *conn, int32_t stream_id, buf *b);
  int (*send_trailers)(void *conn, int32_t stream_id, const hdr *hdrs, size_t n);
  int (*reset)(void *conn, int32_t stream_id, uint32_t h2_error_code);
  /* Bytes queued on the stream and not yet written to the socket. */
  size_t (*pending)(void *conn, int32_t stream_id);
  /* Asks for one rpc_call_drained when the stream's queue empties. */
  void (*notify_drain)(void *conn, int32_t stream_id);
  /* Optional: the client's "address:port", for the access log (borrowed
   * while the connection lives). */
  const char *(*peer)(void *conn);
  /* Optional: stops (paused != 0) or restarts the client's sending on the
   * stream, through HTTP/2 flow control. */
  void (*pause_read)(void *conn, int32_t stream_id, int paused);
} rpc_transport;

/* Creates the server. cfg, engine, ex and tr are borrowed and must outlive
 * the server. Returns 0 or ERR_NOMEM. */
int rpc_server_new(const config *cfg, ocr_engine *engine, exec *ex, const rpc_transport *tr,
                   rpc_server **out);

/* Hands the server a timer source for grpc-timeout deadlines (borrowed,
 * must outlive the server). Without one, deadlines are not enforced. */
void rpc_server_set_timers(rpc_server *srv, timer_src *timers);

struct auth_tokens;
/* Requires `authorization: Bearer TOKEN` (base/auth.h) on every call but
 * health (grpc.health.v1 and the guide's CheckHealth) and, when the
 * config's auth_reflection is "off", reflection: others end at once with
 * UNAUTHENTICATED "missing or invalid token", whatever was wrong. tokens
 * is borrowed until it is replaced (SIGHUP reload) or the server freed;
 * it is only read when a call starts, so the old set may be freed as soon
 * as this returns. NULL (the default) turns the check off. */
void rpc_server_set_auth(rpc_server *srv, const struct auth_tokens *tokens);

typedef struct jobs_store jobs_store;
struct llm_service;

/* Hands the server the analysis service behind llm.LLMService (borrowed,
 * must outlive the server; its health changes are passed on to health
 * Watch streams). Without one, the service's methods answer
 * UNIMPLEMENTED and its health is NOT_SERVING. */
void rpc_server_set_llm(rpc_server *srv, struct llm_service *llm);

/* With on != 0, ExtractText runs an engine that never blocks (the mock)
 * on the loop thread instead of through the executor. Off by default. */
void rpc_server_set_inline(rpc_server *srv, int on);

/* Hands the server the job store (borrowed, must outlive the server).
 * Required for batches and GetBatchStatus. */
void rpc_server_set_jobs(rpc_server *srv, jobs_store *jobs);

typedef struct metrics metrics;

/* Registers the server's families in m (borrowed, must outlive the
 * server): grpc_requests_total{method,status},
 * grpc_request_duration_seconds{method}, ocr_images_total{language,result},
 * ocr_recognition_seconds, ocr_queue_wait_seconds,
 * ocr_result_cache_hits_total, ocr_result_cache_misses_total,
 * ocr_batches_in_flight. Without a call to this, nothing is counted.
 * Returns 0 or ERR_NOMEM. */
int rpc_server_set_metrics(rpc_server *srv, metrics *m);

struct app;

/* The recognition path this server runs its calls through (engine,
 * executor, job store, result cache), for other front doors (REST) to
 * share. Owned by the server; valid until rpc_server_free. */
struct app *rpc_server_app(rpc_server *srv);

/* Result cache outcomes since the server started: reads that found a
 * result (hits) and reads that did not (misses, including reads while the
 * store was unreachable). Loop thread. */
void rpc_server_cache_stats(const rpc_server *srv, uint64_t *hits, uint64_t *misses);

/* Starts draining: health turns NOT_SERVING (Watch streams are told),
 * new calls other than health checks and status polls are refused with
 * UNAVAILABLE; calls in flight go on. */
void rpc_server_drain(rpc_server *srv);

/* Frees the server; every call must be closed first. NULL is a no-op. */
void rpc_server_free(rpc_server *srv);

/* A request's headers arrived on `conn`/`stream_id` (headers borrowed for
 * the call). Validates them and returns the call, which the caller passes
 * to the functions below until rpc_call_close. A request that is refused
 * at once (unknown method, bad content-type) is answered here; its call
 * still lives until rpc_call_close. Returns NULL only when out of memory
 * (the caller then resets the stream). */
rpc_call *rpc_call_start(rpc_server *srv, void *conn, int32_t stream_id, const hdr *hdrs,
                         size_t n);

/* Like rpc_call_start for a request whose header block passed the header
 * list limit (`hdrs`: the fields that fit): answers RESOURCE_EXHAUSTED at
 * once. Returns NULL only when out of memory. */
rpc_call *rpc_call_start_oversized(rpc_server *srv, void *conn, int32_t stream_id,
                                   const hdr *hdrs, size_t n);

/* Request body bytes (borrowed). Returns 0; errors are answered on the
 * stream, never returned. */
int rpc_call_data(rpc_call *c, const uint8_t *data, size_t len);

/* The client half-closed: a unary call runs now. */
void rpc_call_end(rpc_call *c);

/* The stream's queued output was written (after notify_drain): a paused
 * server stream may send more. */
void rpc_call_drained(rpc_call *c);

/* The stream is gone (finished or reset; h2_error_code says why). Frees
 * the call; work in flight for it is cancelled and its result dropped. */
void rpc_call_close(rpc_call *c, uint32_t h2_error_code);

/* Number of calls alive (for tests and drain). */
size_t rpc_server_calls(const rpc_server *srv);

/* Calls alive that a drain waits for: all but health Watch streams, which
 * never end by themselves. */
size_t rpc_server_busy(const rpc_server *srv);

#endif
