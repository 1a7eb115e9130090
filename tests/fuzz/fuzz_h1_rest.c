/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the bytes a client sends on an HTTP/1.1 connection,
 * through the connection glue src/loop runs (src/conn: the h1 session,
 * pipelining, reading paused and resumed, rest's transport with request
 * ids and accounting) into a real rest server, in memory
 * (tests/conn/conn_fake.c): request parsing, limits, routing, JSON and
 * query decoding, the mock OCR engine through the app layer with an
 * executor that runs each job at once, the in-process job store. The
 * first byte picks the size of the pieces input is fed in (as socket
 * reads would split it) and, with its top bit, the gRPC port (first-bytes
 * sniffing) over the HTTP port. Single thread. */
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "base/log.h"
#include "conn_fake.h"
#include "rest/rest.h"
#include "rpc/rpc.h"

static char *args[] = {"fuzz_h1_rest", "--engine=mock", "--max-message-bytes=65536",
                       "--max-header-list-bytes=4096", NULL};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *lv = getenv("OCRPC_FUZZ_LOG");
  log_set_level(lv && *lv == '1' ? LOG_DEBUG : LOG_ERROR + 1);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  size_t chunk = (size_t)data[0] % 64 + 1;
  conn_proto how = data[0] & 0x80 ? CONN_SNIFF : CONN_H1;
  data++;
  size--;
  static fake_server fs;
  fake_server_init(&fs, 4, args, 0);
  rpc_server_app(fs.rpc)->cache_on = size % 2; /* both recognition paths */
  fake_conn fc;
  fake_conn_open(&fc, &fs, how);
  for (size_t off = 0; off < size && !fc.closed; off += chunk) {
    size_t n = size - off < chunk ? size - off : chunk;
    if (!fc.reading)
      break; /* a refused request: its answer goes out, nothing more is read */
    conn_feed(fc.c, data + off, n);
    /* Everything here answers at once: the executor and the store do. */
    FAKE_CHECK(rest_server_busy(fs.rest) == 0);
    fake_conn_flush(&fc);
  }
  if (!fc.closed) {
    conn_eof(fc.c);
    fake_conn_flush(&fc);
  }
  /* Every answer starts with a status line (HTTP/1.1 input that sniffing
   * took for HTTP/2 gets frames instead). */
  if (conn_protocol(fc.c) == CONN_H1)
    FAKE_CHECK(fc.written.len == 0 || memcmp(fc.written.data, "HTTP/1.1 ", 9) == 0);
  fake_conn_free(&fc);
  fake_server_free(&fs);
  return 0;
}
