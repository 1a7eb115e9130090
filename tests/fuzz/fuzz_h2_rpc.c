/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the bytes a client sends on a gRPC-port connection
 * after the HTTP/2 preface, through the connection glue src/loop runs
 * (src/conn: sniffing, the h2 session, rpc's transport, timers' decisions)
 * into a real rpc_server, in memory (tests/conn/conn_fake.c): the mock OCR
 * engine, the in-process job store, a virtual clock for grpc-timeout and
 * the connection's timers, and an executor that runs each job at once
 * inside submit (src/base/exec.h allows it). Single thread.
 *
 * OCRPC_FUZZ_EXEC=queued switches to an executor that queues jobs and runs
 * them after each feed, the order libuv gives; OCRPC_FUZZ_LOG=1 turns the
 * server's debug log on. */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "conn_fake.h"
#include "rpc/rpc.h"

/* Input is fed in pieces of this size, as reads of a socket would hand it;
 * the virtual clock advances one millisecond per piece. */
#define FEED_CHUNK 512
#define CLOCK_STEP_MS 1

static const uint8_t client_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static int queued_exec;
static char *args[] = {"fuzz_h2_rpc", "--engine=mock", "--max-message-bytes=1048576",
                       "--workers=2", NULL};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *lv = getenv("OCRPC_FUZZ_LOG");
  log_set_level(lv && *lv == '1' ? LOG_DEBUG : LOG_ERROR + 1);
  const char *ex = getenv("OCRPC_FUZZ_EXEC");
  queued_exec = ex && strcmp(ex, "queued") == 0;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static fake_server fs;
  fake_server_init(&fs, 4, args, queued_exec);
  fake_conn fc;
  fake_conn_open(&fc, &fs, CONN_SNIFF);

  /* The preface makes it HTTP/2; our SETTINGS go out first. */
  conn_feed(fc.c, client_preface, sizeof client_preface - 1);
  fake_conn_settle(&fc);
  for (size_t off = 0; off < size && fc.reading && !fc.closed; off += FEED_CHUNK) {
    size_t n = size - off < FEED_CHUNK ? size - off : FEED_CHUNK;
    conn_feed(fc.c, data + off, n); /* an error: the GOAWAY goes out, reading stops */
    fake_conn_settle(&fc);
    fake_conn_advance(&fc, CLOCK_STEP_MS);
  }

  if (fc.reading && !fc.closed) {
    /* A graceful shutdown, as on SIGTERM: health turns NOT_SERVING (Watch
     * streams hear it), GOAWAY and PING go out. */
    rpc_server_drain(fs.rpc);
    conn_shutdown(fc.c);
    fake_conn_settle(&fc);
    /* Every deadline passes while the connection is still up. */
    fake_conn_advance(&fc, UINT64_MAX);
  }

  /* The connection closes: every open stream hears H2_CONNECTION_GONE. */
  fake_conn_free(&fc);
  fake_server_free(&fs); /* checks no call and no timer is left */
  return 0;
}
