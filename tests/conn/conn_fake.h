/* SPDX-License-Identifier: MIT */
/* The in-memory world src/conn runs in for its unit tests and the fuzz
 * targets (no Criterion, so libFuzzer binaries link it too): executors that
 * run jobs at once or queue them, a virtual clock for rpc deadlines and the
 * connection's timers, a fake socket (conn_io) that records what the
 * connection asked for, and a server (config, mock engine, in-process
 * store, rpc and rest over src/conn's transports) as src/loop builds it.
 * Single thread. */
#ifndef OCRPC_TESTS_CONN_FAKE_H
#define OCRPC_TESTS_CONN_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/exec.h"
#include "base/timer.h"
#include "conn/conn.h"

struct ocr_engine;
struct jobs_store;

/* ---- executors ---- */

/* Runs each job inside submit (src/base/exec.h allows it). */
extern exec fake_exec_now;
/* Queues jobs; fake_exec_drain runs them and the ones their done
 * callbacks queue, each done after its work and outside submit, the order
 * libuv gives. A cancelled job's done comes with ERR_CANCELLED. */
extern exec fake_exec_queued;
void fake_exec_drain(void);

/* ---- virtual clock ---- */

/* rpc's timers, on fake_now_ms. */
extern timer_src fake_timers;
extern uint64_t fake_now_ms;
/* Fires rpc's timers due by fake_now_ms, one at a time. */
void fake_timers_fire(void);
/* 1 when no rpc timer is left. */
int fake_timers_idle(void);

/* ---- a server as src/loop builds it ---- */

typedef struct fake_server {
  config cfg;
  struct ocr_engine *engine;
  struct jobs_store *jobs;
  rpc_server *rpc;
  rest_server *rest;
  conn_ctx ctx;
  int queued;  /* jobs go through fake_exec_queued */
  int answers; /* HTTP/1.1 answers so far */
} fake_server;

/* Loads cfg from argv (argv[0] a program name; an error aborts), makes the
 * mock engine and the in-process store, rpc (with fake_timers) and rest.
 * queued picks fake_exec_queued over fake_exec_now. */
void fake_server_init(fake_server *fs, int argc, char **argv, int queued);
/* Checks that no call is left and no rpc timer runs (aborts otherwise),
 * then frees everything. */
void fake_server_free(fake_server *fs);

/* ---- a connection over a fake socket ---- */

typedef struct fake_conn {
  fake_server *fs;
  conn *c;
  int reading;     /* what io->read said last */
  int closed;      /* io->close was called (conn_close ran) */
  int want_writes; /* io->want_write calls */
  int timer_on[CONN_NTIMERS];
  uint64_t timer_due[CONN_NTIMERS]; /* on fake_now_ms */
  buf written;                      /* what the socket took, in order */
  size_t take;                      /* bytes the socket takes per write; SIZE_MAX: all */
} fake_conn;

/* Opens a connection on fs and starts it as `how`. */
void fake_conn_open(fake_conn *fc, fake_server *fs, conn_proto how);
/* What src/loop does once per iteration: pull, hand the socket what it
 * takes (fc->take), and when everything went out, conn_written. Returns
 * the bytes written by this call. */
size_t fake_conn_flush(fake_conn *fc);
/* Runs queued jobs, flushes. */
void fake_conn_settle(fake_conn *fc);
/* Advances the clock by ms: rpc's timers fire, then the connection's
 * timers due (each at most once), then a settle. */
void fake_conn_advance(fake_conn *fc, uint64_t ms);
/* Closes (if not yet) and frees the connection; queued jobs come back
 * cancelled. */
void fake_conn_free(fake_conn *fc);

#define FAKE_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond))                                                                           \
      fake_check_failed(__FILE__, __LINE__, #cond);                                        \
  } while (0)
void fake_check_failed(const char *file, int line, const char *what);

#endif
