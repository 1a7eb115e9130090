/* SPDX-License-Identifier: MIT */
/* Shared inside src/loop: the server and connection structs. */
#ifndef OCRPC_LOOP_INTERNAL_H
#define OCRPC_LOOP_INTERNAL_H

#include <uv.h>

#include "base/buf.h"
#include "h2/h2.h"
#include "loop.h"
#include "rpc/rpc.h"

typedef struct loop_conn loop_conn;

typedef struct loop_server {
  uv_loop_t *loop;
  const config *cfg;
  uv_tcp_t listener;
  uv_check_t flush_check; /* writes what the iteration produced, once */
  uv_idle_t flush_idle;   /* keeps poll from blocking while conns are dirty */
  uv_signal_t sigint, sigterm;
  uv_signal_t sighup;       /* reloads the auth tokens (loop_auth.c) */
  struct auth_tokens *auth; /* --auth-token-file; NULL: none */
  uv_timer_t drain_timer;
  rpc_server *rpc;
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

struct loop_conn {
  uv_tcp_t tcp;
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
