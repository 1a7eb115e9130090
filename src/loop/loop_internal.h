/* SPDX-License-Identifier: MIT */
/* Shared inside src/loop: the server and connection structs. */
#ifndef OCRPC_LOOP_INTERNAL_H
#define OCRPC_LOOP_INTERNAL_H

#include <uv.h>

#include "base/buf.h"
#include "base/metrics.h"
#include "h1/h1.h"
#include "h2/h2.h"
#include "loop.h"
#include "rest/rest.h"
#include "rpc/rpc.h"

typedef struct loop_conn loop_conn;
struct ssl_ctx_st;
struct loop_tls;

typedef struct loop_server {
  uv_loop_t *loop;
  const config *cfg;
  uv_tcp_t listener;      /* gRPC, and HTTP/1.1 by first-bytes sniffing */
  uv_tcp_t http_listener; /* HTTP/1.1 only (HTTP_PORT); unused when off */
  int http_listening;
  uv_check_t flush_check; /* writes what the iteration produced, once */
  uv_idle_t flush_idle;   /* keeps poll from blocking while conns are dirty */
  uv_signal_t sigint, sigterm, sighup;
  struct ssl_ctx_st *tls_ctx; /* NULL: plaintext; replaced on SIGHUP */
  struct auth_tokens *auth;   /* --auth-token-file; NULL: none */
  uv_timer_t drain_timer;
  rpc_server *rpc;
  struct llm_service *llm; /* llm.LLMService; freed by stop() */
  struct loop_curl *curl;  /* the LLM backend's HTTP (NULL without LLM_BASE_URL) */
  rest_server *rest;
  h2_settings h2;
  loop_conn *conns; /* every open connection */
  loop_conn *dirty; /* connections with output to flush */
  loop_conn *dirty_tail;
  int reads_unflushed; /* reads since the dirty list was last written */
  uint64_t next_conn_id;
  int nconns;        /* open connections, for --max-connections */
  int conns_refused; /* refusing now: logged once per episode */
  int draining;
  int ack_grace; /* calls ended; waiting (bounded) for shutdown PING ACKs */
  int stopping;
  /* Metrics (loop_metrics.c); the registry is also /metrics' source. */
  metrics *metrics;
  metric *m_conns_h2, *m_conns_h1, *m_queue_depth, *m_workers_busy, *m_store_up;
  metric_family *m_http_requests, *m_http_duration;
  struct jobs_store *jobs;
  uv_timer_t access_timer; /* flushes the access log buffer */
  uint8_t rbuf[64 * 1024]; /* one read buffer: reads are consumed at once */
} loop_server;

/* What a connection speaks: decided by its first bytes on the gRPC
 * port (the HTTP/2 client preface or not), HTTP/1.1 on the HTTP port. */
typedef enum conn_proto { CONN_SNIFF = 0, CONN_H2, CONN_H1 } conn_proto;

struct loop_conn {
  uv_tcp_t tcp;
  conn_proto proto;
  uint8_t sniffed[24]; /* first bytes while still undecided */
  size_t nsniffed;
  h1_session *h1;
  rest_work *rest_work;  /* the h1 request being answered, if async */
  int h1_timer_phase;    /* the h1_phase the idle timer was started for */
  uint64_t h1_timer_req; /* and the request it was started in */
  int reading;
  uv_timer_t keepalive; /* ping every keepalive_time, then wait for the ack */
  uv_timer_t idle;      /* runs while the connection has no stream */
  int handles;          /* open handles: the last close callback frees */
  int awaiting_ack;
  loop_server *srv;
  h2_session *h2;
  uint64_t id;
  loop_conn *prev, *next;
  loop_conn *dirty_next;
  int is_dirty;
  int closing;
  int writing;
  int close_after_flush;
  char peer[64]; /* "address:port", for the access log */
  /* The HTTP/1.1 request being answered (one at a time per connection),
   * for http_* metrics and its access log line (loop_h1.c). */
  struct {
    uint64_t t0_ns;
    const char *route;  /* rest_route_name */
    const char *method; /* static (h1) */
    uint64_t bytes_in;
    char request_id[129];
    int id_generated;
    const char *ocr_status, *details;
    double queue_ms, ocr_ms;
  } req;
  int handshake_done;   /* preface + SETTINGS received; keepalive runs after */
  buf wbuf;             /* bytes pulled from h2, not yet handed to the socket */
  struct loop_tls *tls; /* NULL: plaintext */
};

/* ---- shared by loop_conn.c and loop_h1.c ---- */
void loop__mark_dirty(loop_conn *c);
void loop__conn_close(loop_conn *c);
void loop__conn_flush(loop_conn *c);
/* Makes c an HTTP/1.1 connection and feeds it what was read so far. */
void loop__h1_start(loop_conn *c, const uint8_t *data, size_t len);
/* Bytes read on an HTTP/1.1 connection; len 0 with eof at end of input. */
void loop__h1_read(loop_conn *c, const uint8_t *data, size_t len, int eof);
/* Before a flush: goes on with pipelined input; moves h1's output to
 * c->wbuf. Returns 0, or -1 when the connection was closed. */
int loop__h1_pull(loop_conn *c);
/* Once the output is written: whether to close, and the timers. */
void loop__h1_after_write(loop_conn *c);
/* Frees the session and cancels the request in flight. */
void loop__h1_close(loop_conn *c);
/* Drain: close idle HTTP/1.1 connections, the rest after their answer. */
void loop__h1_shutdown(loop_conn *c);

/* HTTP/1.1 connections with a request under way (a drain waits for
 * them). Walks the connection list: for the drain only. */
size_t loop__h1_busy(const loop_server *srv);

/* HTTP/2 connections sent the shutdown notice whose PING is not yet
 * acknowledged (a drain waits for them, see loop__after_flush). */
size_t loop__h2_shutdown_pending(const loop_server *srv);

extern const rest_transport loop__rest_transport;

/* Starts listening; logs the bound address. Returns 0 or a uv error. */
int loop__listen(loop_server *srv);

/* Closes every connection (their streams' work is cancelled). */
void loop__close_all(loop_server *srv);

/* Sends every connection the graceful-shutdown GOAWAY sequence. */
void loop__shutdown_all(loop_server *srv);

/* Called once per loop iteration, after output is flushed: ends a drain
 * when no call is left. */
void loop__after_flush(loop_server *srv);

/* Builds srv->metrics with the loop's families and process_* (no handle:
 * nothing to close on failure). 0, or ERR_INVAL when a family could not
 * be registered (a name clash: a bug). */
int loop__metrics_init(loop_server *srv);

/* Starts the access log's flush timer handle (closed by
 * loop__metrics_stop, from stop()). */
void loop__metrics_start(loop_server *srv);

/* Counts one HTTP/1.1 answer (http_requests_total{route,code} and
 * http_request_duration_seconds{route}) and writes its access log line. */
void loop__h1_account(loop_conn *c, int status, uint64_t bytes_out);

/* Flushes the access log and closes its timer (the registry stays until
 * loop_run frees it). */
void loop__metrics_stop(loop_server *srv);

/* The rpc transport implemented over h2 sessions. */
extern const rpc_transport loop__transport;

/* loop_auth.c: with --auth-token-file, loads the tokens and hands them to
 * srv->rpc and srv->rest. 0, or -1 (logged) when the file cannot be used.
 * Loop thread, once at start. */
int loop__auth_start(loop_server *srv);
/* Reads the token file again (SIGHUP); a bad file keeps the tokens in use.
 * No-op without --auth-token-file. Loop thread. */
void loop__auth_reload(loop_server *srv);

#endif
