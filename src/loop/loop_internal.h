/* SPDX-License-Identifier: MIT */
/* Shared inside src/loop: the server and connection structs. */
#ifndef OCRPC_LOOP_INTERNAL_H
#define OCRPC_LOOP_INTERNAL_H

#include <uv.h>

#include "base/buf.h"
#include "h1/h1.h"
#include "h2/h2.h"
#include "loop.h"
#include "rest/rest.h"
#include "rpc/rpc.h"

typedef struct loop_conn loop_conn;

typedef struct loop_server {
  uv_loop_t *loop;
  const config *cfg;
  uv_tcp_t listener;      /* gRPC, and HTTP/1.1 by first-bytes sniffing */
  uv_tcp_t http_listener; /* HTTP/1.1 only (HTTP_PORT); unused when off */
  int http_listening;
  uv_check_t flush_check; /* writes what the iteration produced, once */
  uv_idle_t flush_idle;   /* keeps poll from blocking while conns are dirty */
  uv_signal_t sigint, sigterm;
  uv_signal_t sighup;       /* reloads the auth tokens (loop_auth.c) */
  struct auth_tokens *auth; /* --auth-token-file; NULL: none */
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
  int draining;
  int stopping;
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
  buf wbuf; /* bytes pulled from h2, not yet handed to the socket */
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

/* The rpc transport implemented over h2 sessions. */
extern const rpc_transport loop__transport;

/* loop_auth.c: initialises the SIGHUP handle and, with --auth-token-file,
 * loads the tokens, hands them to srv->rpc and starts the reload on
 * SIGHUP. 0, or -1 (logged) when the file cannot be used. */
int loop__auth_start(loop_server *srv);

#endif
