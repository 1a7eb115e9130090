/* SPDX-License-Identifier: MIT */
/* The gRPC client used by the `ocrpc` CLI and `ocrpc-bench`: HTTP/2 with
 * prior knowledge (h2c) over TCP, many concurrent calls per connection,
 * unary and server-streaming calls, per-call deadlines. One client_loop
 * runs on one thread; every function here must be
 * called on the thread that runs that loop. Programs that want more threads
 * run one loop per thread. No third-party header is included. Statuses
 * are gRPC's codes as src/rpc/rpc_wire.h defines them for both sides. */
#ifndef OCRPC_CLIENT_H
#define OCRPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/timer.h"
#include "rpc/rpc_wire.h" /* the status codes (RPC_OK ...) and rpc_status_name */

typedef struct client_loop client_loop;
typedef struct client_conn client_conn;
typedef struct client_call client_call;

/* How a call ended. */
typedef struct client_status {
  int code; /* RPC_OK ... RPC_UNAUTHENTICATED */
  /* The server's grpc-message, percent-decoded, or the client's own
   * description ("connection refused", "deadline of 5 ms exceeded"); ""
   * when there is none. Borrowed until on_done returns. */
  const char *message;
  /* 1 when this client produced the status (connection failure, deadline,
   * protocol error, malformed response), 0 when the server sent it. */
  int local;
} client_status;

typedef struct client_call_cbs {
  /* One response message (already deframed, uncompressed), borrowed until
   * the callback returns. Return 0 to go on; a non-zero ERR_* code cancels
   * the call, which then ends with INTERNAL and err_text(code). May be
   * NULL. */
  int (*on_message)(void *ud, const uint8_t *data, size_t len);
  /* Called exactly once per started call, with the final status. The
   * call handle is freed when this returns. The callback may start new
   * calls and close the connection. */
  void (*on_done)(void *ud, const client_status *st);
} client_call_cbs;

/* client_call_start flags */
#define CLIENT_CALL_UNARY                                                                  \
  1 /* an OK status needs exactly one message,                                             \
       otherwise the call ends with INTERNAL */

typedef struct client_conn_opts {
  /* Our HTTP/2 receive window, per stream and for the connection; 0 means
   * 16 MiB, so large responses are not throttled by round trips. */
  uint32_t window;
  /* Largest response message accepted (RESOURCE_EXHAUSTED beyond it); 0
   * means 100 MiB (the guide's limit). */
  uint64_t max_recv_message;
  /* The `authorization` header of every call ("Bearer TOKEN"), or NULL for
   * none. Copied. */
  const char *authorization;
} client_conn_opts;

/* Creates a loop. 0 or ERR_NOMEM. */
int client_loop_new(client_loop **out);

/* Runs the loop until nothing is left to do: every connection closed and
 * every timer fired or stopped. Returns 0. */
int client_loop_run(client_loop *l);

/* Frees a loop whose run returned. NULL is a no-op. */
void client_loop_free(client_loop *l);

/* One-shot timers on this loop (base/timer.h), for the programs' pacing,
 * progress display and run length. Owned by the loop. */
timer_src *client_loop_timers(client_loop *l);

/* Calls cb(arg) once per loop iteration, with the loop polling without
 * blocking, until set again with cb NULL. For pacing finer than the
 * timers' millisecond: an open-loop load generator sends each call when it
 * is due, not at the next millisecond tick. Spins its thread's core while
 * set. */
void client_loop_set_spin(client_loop *l, void (*cb)(void *arg), void *arg);

/* Splits "host:port", "[v6]:port", or "host" (port 50051) into host and
 * port strings. Returns 0 or ERR_INVAL (empty host, bad port, too long). */
int client_target_parse(const char *target, char *host, size_t hostlen, char *port,
                        size_t portlen);

/* Starts connecting to target ("host:port"; names are resolved, IPv4 and
 * IPv6, each address tried in turn). Calls may be started at once: they
 * wait until the server's SETTINGS arrive. opts may be NULL. Returns 0,
 * ERR_INVAL (bad target) or ERR_NOMEM. A failed connection is reported
 * through the calls (UNAVAILABLE, with the reason). */
int client_conn_new(client_loop *l, const char *target, const client_conn_opts *opts,
                    client_conn **out);

/* Closes the connection: calls still in flight end with CANCELLED
 * ("connection closed by the client") and the memory is freed once its
 * handles have closed, after this returns. The handle must not be used
 * again. Safe inside any callback. NULL is a no-op. */
void client_conn_close(client_conn *c);

/* 1 while new calls can be started on the connection: not closed, no
 * GOAWAY received, no transport error. */
int client_conn_usable(const client_conn *c);

/* The server's SETTINGS_MAX_CONCURRENT_STREAMS (0 before its SETTINGS
 * arrived). Calls beyond it wait in a queue, in order, for a stream. */
uint32_t client_conn_max_streams(const client_conn *c);

/* Starts a call of `path` ("/ocr.OCRService/ExtractText") with `body`, the
 * already framed request message(s) (see client_pb.h), borrowed until
 * on_done returns; the request side is half-closed after it. timeout_ms >
 * 0 sets a deadline: sent as grpc-timeout and enforced by a local timer
 * (the call then ends with DEADLINE_EXCEEDED). cbs is copied; ud is passed
 * to the callbacks. *out (may be NULL) is valid until on_done returns.
 * Returns 0, or ERR_UNAVAILABLE when the connection is not usable,
 * ERR_INVAL, ERR_NOMEM; on_done is not called when it fails. */
int client_call_start(client_conn *c, const char *path, const uint8_t *body, size_t len,
                      uint64_t timeout_ms, int flags, const client_call_cbs *cbs, void *ud,
                      client_call **out);

/* Cancels a call: RST_STREAM(CANCEL) and on_done with CANCELLED, before
 * this returns. Must not be called from that call's own callbacks. */
void client_call_cancel(client_call *call);

/* Parses a duration: a number with an optional unit "us", "ms", "s"
 * (the default), "m" or "min", "h" ("1.5s", "200ms", "10"). Rounds up to
 * whole milliseconds (a positive value is at least 1). Returns 0 or
 * ERR_INVAL. Any thread. */
int client_duration_parse(const char *s, uint64_t *ms);

#endif
