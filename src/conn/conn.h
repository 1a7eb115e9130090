/* SPDX-License-Identifier: MIT */
/* One client connection's protocol glue, without I/O: the first bytes
 * decide HTTP/2 or HTTP/1.1, bytes read go to the h2 or h1 session,
 * requests to rpc or rest, their answers back through the transports
 * below, and the connection's timers (handshake, keepalive PING, idle,
 * HTTP/1.1 header and body) are decided here and run by the owner of the
 * socket through conn_io. src/loop owns the sockets; tests and fuzz
 * targets drive the same code with a fake conn_io. Loop thread only. */
#ifndef OCRPC_CONN_H
#define OCRPC_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/metrics.h"
#include "h2/h2.h"
#include "rest/rest.h"
#include "rpc/rpc.h"

typedef struct conn conn;

/* What a connection speaks: decided by its first bytes (the HTTP/2 client
 * preface or not), or from the start (HTTP port: HTTP/1.1; TLS: h2). */
typedef enum conn_proto { CONN_SNIFF = 0, CONN_H2, CONN_H1 } conn_proto;

/* The two timers each connection has; the owner of the socket runs them
 * and calls conn_timeout when one fires. */
typedef enum conn_timer {
  CONN_TIMER_IDLE = 0,  /* sniff, h2 idle, h1 header/body/keep-alive */
  CONN_TIMER_KEEPALIVE, /* the handshake bound, then the PING cycle */
  CONN_NTIMERS
} conn_timer;

/* What a connection asks of the code that owns its socket. `io` is the
 * pointer given to conn_new. Each is called on the loop thread, from
 * inside a conn_* call or a transport call. */
typedef struct conn_io {
  /* Output waits: call conn_pull soon (once per loop iteration is
   * enough). Repeated calls before the next conn_pull are elided. */
  void (*want_write)(void *io);
  /* Stop (on == 0) or resume (on == 1) reading the socket. */
  void (*read)(void *io, int on);
  /* (Re)start timer t to fire once, ms milliseconds from now. */
  void (*timer_start)(void *io, conn_timer t, uint64_t ms);
  void (*timer_stop)(void *io, conn_timer t);
  /* Close the connection now: the owner calls conn_close at once and
   * conn_free once its socket is gone (never from inside this call:
   * the caller goes on touching the connection until it returns). */
  void (*close)(void *io);
  /* Monotonic nanoseconds, for HTTP/1.1 request durations. */
  uint64_t (*now_ns)(void *io);
} conn_io;

/* What every connection of a server shares, borrowed by each for its
 * lifetime. rpc must be made with conn_rpc_transport and rest with
 * conn_rest_transport. */
typedef struct conn_ctx {
  const config *cfg;
  h2_settings h2;
  rpc_server *rpc;
  rest_server *rest;
  /* http_requests_total{route,code} and
   * http_request_duration_seconds{route}; NULL: not counted. */
  metric_family *http_requests, *http_duration;
  const conn_io *io;
} conn_ctx;

/* Fills ctx from cfg (borrowed for ctx's lifetime): the h2 settings, the
 * io; rpc, rest and the metric families stay NULL for the caller to set. */
void conn_ctx_init(conn_ctx *ctx, const config *cfg, const conn_io *io);

/* The transports rpc and rest answer through; their `conn` is a conn *. */
extern const rpc_transport conn_rpc_transport;
extern const rest_transport conn_rest_transport;

/* A new connection, not yet started. ctx is borrowed for its lifetime; id
 * names it in the log; peer ("address:port", for the access log) is
 * copied. The owner is reading the socket. Never NULL (out of memory
 * aborts, base/ocrpc_alloc.h). */
conn *conn_new(const conn_ctx *ctx, void *io, uint64_t id, const char *peer);

/* Starts the connection as `how`: CONN_SNIFF waits for the first bytes
 * under the HTTP header timeout; CONN_H2 sends our SETTINGS and bounds the
 * handshake; CONN_H1 waits for a request. Failure (the h2 session could
 * not queue its SETTINGS) is logged and asks io->close. */
void conn_start(conn *c, conn_proto how);

/* Bytes read from the socket (plaintext), borrowed until it returns. 0, or
 * the h2 session's error: the GOAWAY it queued is still to be written,
 * reading has stopped, and the connection closes once output is written.
 * The owner may ask for conn_pull early (protocol decided, h2 output). */
int conn_feed(conn *c, const uint8_t *data, size_t len);

/* The peer sent EOF: HTTP/1.1 answers what was asked, then closes; the
 * others close now (io->close). */
void conn_eof(conn *c);

/* Stop reading; close once output is written (a TLS failure: its alert
 * goes out first). Returns 1, or 0 when the connection was already set
 * to close this way (the cause was logged then). */
int conn_close_after_flush(conn *c);

/* Moves output into conn_output(c), up to a high-water mark (the rest
 * stays queued in the session until the socket drains). hold != 0 holds
 * HTTP/2 frames back (a TLS handshake comes first). 0, or -1 when the
 * connection closed (io->close was called: stop using it). */
int conn_pull(conn *c, int hold);

/* The bytes to write; the owner consumes what the socket took (buf_consume,
 * buf_steal) and may encrypt them in place. Valid until conn_free. */
buf *conn_output(conn *c);

/* Everything pulled so far has been written and conn_pull gave nothing
 * more: closes (io->close) when the protocol is done with the connection,
 * else resumes reading and restarts the timers HTTP/1.1 wants. */
void conn_written(conn *c);

/* Timer t fired. */
void conn_timeout(conn *c, conn_timer t);

/* Graceful drain: HTTP/2 gets GOAWAY and a PING, HTTP/1.1 closes when idle
 * and after the answer under way, a connection still sniffing closes. */
void conn_shutdown(conn *c);

/* Closes the sessions: calls in flight are cancelled (no write reaches the
 * connection after this), no callback to io follows. Idempotent. */
void conn_close(conn *c);

/* Frees the memory, after conn_close. NULL is a no-op. */
void conn_free(conn *c);

conn_proto conn_protocol(const conn *c);

/* HTTP/2 and sent the shutdown notice whose PING is not yet acknowledged
 * (a drain waits for it). */
int conn_shutdown_pending(const conn *c);

/* HTTP/1.1 with a request under way (a drain waits for it). */
int conn_h1_busy(const conn *c);

#endif
