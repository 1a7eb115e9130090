/* SPDX-License-Identifier: MIT */
/* Shared inside src/loop: the server and connection structs. */
#ifndef OCRPC_LOOP_INTERNAL_H
#define OCRPC_LOOP_INTERNAL_H

#include <uv.h>

#include "base/buf.h"
#include "base/metrics.h"
#include "conn/conn.h"
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
  conn_ctx cc;      /* what every connection shares (src/conn) */
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
  metric *m_conns_h2, *m_conns_h1, *m_conns_unknown, *m_queue_depth, *m_workers_busy,
      *m_store_up;
  struct jobs_store *jobs;
  struct loop_parts *parts; /* --split-pages auto; NULL: pages read whole */
  uv_timer_t access_timer; /* flushes the access log buffer */
  uint8_t rbuf[64 * 1024]; /* one read buffer: reads are consumed at once */
} loop_server;

struct loop_conn {
  uv_tcp_t tcp;
  uv_timer_t keepalive; /* CONN_TIMER_KEEPALIVE */
  uv_timer_t idle;      /* CONN_TIMER_IDLE */
  int handles;          /* open handles: the last close callback frees */
  loop_server *srv;
  conn *conn; /* the protocols over the socket (src/conn) */
  uint64_t id;
  loop_conn *prev, *next;
  loop_conn *dirty_next;
  int is_dirty;
  int closing;
  int writing;
  struct loop_tls *tls; /* NULL: plaintext */
};

/* What src/conn asks of a loop_conn's socket and timers. */
extern const conn_io loop__conn_io;

/* HTTP/1.1 connections with a request under way (a drain waits for
 * them). Walks the connection list: for the drain only. */
size_t loop__h1_busy(const loop_server *srv);

/* HTTP/2 connections sent the shutdown notice whose PING is not yet
 * acknowledged (a drain waits for them, see loop__after_flush). */
size_t loop__h2_shutdown_pending(const loop_server *srv);

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
 * nothing to close on failure). 0 or ERR_NOMEM. */
int loop__metrics_init(loop_server *srv);

/* Starts the access log's flush timer handle (closed by
 * loop__metrics_stop, from stop()). */
void loop__metrics_start(loop_server *srv);

/* Flushes the access log and closes its timer (the registry stays until
 * loop_run frees it). */
void loop__metrics_stop(loop_server *srv);

/* loop_auth.c: with --auth-token-file, loads the tokens and hands them to
 * srv->rpc and srv->rest. 0, or -1 (logged) when the file cannot be used.
 * Loop thread, once at start. */
int loop__auth_start(loop_server *srv);
/* Reads the token file again (SIGHUP); a bad file keeps the tokens in use.
 * No-op without --auth-token-file. Loop thread. */
void loop__auth_reload(loop_server *srv);

#endif
