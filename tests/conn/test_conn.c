/* SPDX-License-Identifier: MIT */
/* src/conn on its own: bytes in, bytes out, through a fake socket
 * (conn_fake.c). An nghttp2 client session makes the HTTP/2 side's bytes
 * and reads the answers; HTTP/1.1 is written by hand. A gRPC call end to
 * end, first-bytes sniffing, GOAWAY on drain, reading paused while output
 * is not written, timers, and a close with calls in flight (ASan checks
 * that nothing leaks). */
#include <criterion/criterion.h>
#include <nghttp2/nghttp2.h>
#include <pb_decode.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "conn_fake.h"
#include "ocr.pb.h"
#include "rpc/rpc.h"

static char *args[] = {"test_conn", "--engine=mock", "--image-root=/tmp", NULL};

/* ---- an HTTP/2 client ---- */

typedef struct client {
  nghttp2_session *s;
  char grpc_status[8]; /* of the last stream that sent one */
  buf data;            /* DATA of every stream, in order */
  int closed;          /* streams closed */
  int goaways;
  int pings;       /* PINGs received (ACKed by nghttp2) */
  size_t read_off; /* how much of the connection's output it has read */
} client;

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud) {
  (void)s, (void)f, (void)flags;
  client *cl = ud;
  if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0 &&
      valuelen < sizeof cl->grpc_status) {
    memcpy(cl->grpc_status, value, valuelen);
    cl->grpc_status[valuelen] = 0;
  }
  return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *d,
                   size_t n, void *ud) {
  (void)s, (void)flags, (void)sid;
  client *cl = ud;
  buf_append(&cl->data, d, n);
  return 0;
}

static int on_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud) {
  (void)s, (void)sid;
  client *cl = ud;
  cr_assert_eq(code, 0, "stream reset with %u", code);
  cl->closed++;
  return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  (void)s;
  client *cl = ud;
  cl->goaways += f->hd.type == NGHTTP2_GOAWAY;
  cl->pings += f->hd.type == NGHTTP2_PING && !(f->hd.flags & NGHTTP2_FLAG_ACK);
  return 0;
}

static void client_init(client *cl) {
  memset(cl, 0, sizeof *cl);
  cl->data = (buf)BUF_INIT;
  nghttp2_session_callbacks *cbs;
  cr_assert_eq(nghttp2_session_callbacks_new(&cbs), 0);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame);
  cr_assert_eq(nghttp2_session_client_new(&cl->s, cbs, cl), 0);
  nghttp2_session_callbacks_del(cbs);
  cr_assert_eq(nghttp2_submit_settings(cl->s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

static void client_free(client *cl) {
  nghttp2_session_del(cl->s);
  buf_free(&cl->data);
}

static ssize_t body_read(nghttp2_session *s, int32_t sid, uint8_t *out, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud) {
  (void)s, (void)sid, (void)ud;
  buf *b = src->ptr;
  size_t n = b->len < len ? b->len : len;
  memcpy(out, b->data, n);
  buf_consume(b, n);
  if (b->len == 0)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

/* A gRPC call: path and one framed message (body is read as it goes). */
static int32_t client_call(client *cl, const char *path, buf *body) {
  nghttp2_nv nv[] = {
#define NV(n, v) {(uint8_t *)n, (uint8_t *)v, strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
      NV(":method", "POST"),
      NV(":scheme", "http"),
      NV(":path", path),
      NV(":authority", "localhost"),
      NV("content-type", "application/grpc"),
      NV("te", "trailers"),
#undef NV
  };
  nghttp2_data_provider dp = {.source.ptr = body, .read_callback = body_read};
  int32_t sid =
      nghttp2_submit_request(cl->s, NULL, nv, sizeof nv / sizeof nv[0], &dp, NULL);
  cr_assert_gt(sid, 0);
  return sid;
}

/* Moves the client's output into the connection and the connection's
 * output into the client, until neither has anything to say. */
static void exchange(client *cl, fake_conn *fc) {
  for (int round = 0; round < 1000; round++) {
    const uint8_t *d;
    ssize_t n;
    size_t moved = 0;
    while ((n = nghttp2_session_mem_send(cl->s, &d)) > 0 && !fc->closed) {
      conn_feed(fc->c, d, (size_t)n);
      moved += (size_t)n;
    }
    fake_conn_settle(fc);
    size_t got = fc->written.len - cl->read_off;
    if (got) {
      cr_assert_eq(nghttp2_session_mem_recv(cl->s, fc->written.data + cl->read_off, got),
                   (ssize_t)got);
      cl->read_off += got;
      moved += got;
    }
    if (!moved)
      return;
  }
  cr_assert_fail("the exchange did not settle");
}

/* ExtractText{private_image_path: "missing.png"}, framed: the mock engine
 * answers "mock text" without reading it, through a job. */
static void extract_missing(buf *body) {
  static const uint8_t msg[] = {0,   0,   0,   0,   13,  0x12, 11,  'm', 'i',
                                's', 's', 'i', 'n', 'g', '.',  'p', 'n', 'g'};
  *body = (buf)BUF_INIT;
  buf_append(body, msg, sizeof msg);
}

static void quiet(void) { log_set_level(LOG_ERROR + 1); }

TestSuite(conn, .init = quiet);

Test(conn, grpc_call_end_to_end_through_a_queued_executor) {
  fake_server fs;
  fake_server_init(&fs, 3, args, 1);
  fake_conn fc;
  fake_conn_open(&fc, &fs, CONN_SNIFF);
  client cl;
  client_init(&cl);
  buf body;
  extract_missing(&body);
  client_call(&cl, "/ocr.OCRService/ExtractText", &body);
  /* In goes the request; out comes nothing but SETTINGS while the job
   * waits in the executor. */
  const uint8_t *d;
  ssize_t n;
  while ((n = nghttp2_session_mem_send(cl.s, &d)) > 0)
    conn_feed(fc.c, d, (size_t)n);
  cr_assert_eq(conn_protocol(fc.c), CONN_H2);
  fake_conn_flush(&fc);
  cr_assert_eq(nghttp2_session_mem_recv(cl.s, fc.written.data, fc.written.len),
               (ssize_t)fc.written.len);
  cl.read_off = fc.written.len;
  cr_assert_eq(rpc_server_calls(fs.rpc), 1);
  cr_assert_eq(cl.closed, 0);
  exchange(&cl, &fc);
  cr_assert_eq(cl.closed, 1);
  cr_assert_str_eq(cl.grpc_status, "0");
  /* One framed OCRResponse. */
  cr_assert_geq(cl.data.len, 5);
  cr_assert_eq(cl.data.data[0], 0);
  uint32_t len = (uint32_t)cl.data.data[1] << 24 | (uint32_t)cl.data.data[2] << 16 |
                 (uint32_t)cl.data.data[3] << 8 | cl.data.data[4];
  cr_assert_eq(cl.data.len, 5 + len);
  ocr_OCRResponse r = ocr_OCRResponse_init_zero;
  pb_istream_t in = pb_istream_from_buffer(cl.data.data + 5, len);
  cr_assert(pb_decode(&in, ocr_OCRResponse_fields, &r));
  cr_assert_not(r.has_error);
  cr_assert_str_eq(r.text, "mock text");
  cr_assert_eq(r.text_boxes_count, 1);
  pb_release(ocr_OCRResponse_fields, &r);
  /* No stream left: the keepalive timer runs, the connection stays. */
  cr_assert(fc.timer_on[CONN_TIMER_KEEPALIVE]);
  cr_assert_not(fc.closed);
  buf_free(&body);
  client_free(&cl);
  fake_conn_free(&fc);
  fake_server_free(&fs);
}

Test(conn, http11_is_sniffed_on_the_grpc_port) {
  fake_server fs;
  fake_server_init(&fs, 3, args, 0);
  fake_conn fc;
  fake_conn_open(&fc, &fs, CONN_SNIFF);
  cr_assert(fc.timer_on[CONN_TIMER_IDLE], "the header timeout runs until bytes come");
  /* "PRI" could still be the preface: undecided. */
  conn_feed(fc.c, (const uint8_t *)"PRI", 3);
  cr_assert_eq(conn_protocol(fc.c), CONN_SNIFF);
  static const char req[] = " /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  conn_feed(fc.c, (const uint8_t *)req, sizeof req - 1);
  cr_assert_eq(conn_protocol(fc.c), CONN_H1);
  fake_conn_settle(&fc);
  /* "PRI" is no HTTP/1.1 method: h1 refuses it, in HTTP/1.1. */
  cr_assert_geq(fc.written.len, 10);
  cr_assert_eq(memcmp(fc.written.data, "HTTP/1.1 4", 10), 0);
  cr_assert_eq(fs.answers, 0);
  fake_conn_free(&fc);

  /* A GET, a byte at a time. */
  fake_conn_open(&fc, &fs, CONN_SNIFF);
  static const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t i = 0; i < sizeof get - 1; i++)
    conn_feed(fc.c, (const uint8_t *)get + i, 1);
  fake_conn_settle(&fc);
  cr_assert_eq(conn_protocol(fc.c), CONN_H1);
  cr_assert_geq(fc.written.len, 12);
  cr_assert_eq(memcmp(fc.written.data, "HTTP/1.1 200", 12), 0);
  fake_conn_free(&fc);

  /* The HTTP/2 preface, a byte at a time, is HTTP/2 once whole. */
  fake_conn_open(&fc, &fs, CONN_SNIFF);
  static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  for (size_t i = 0; i < sizeof preface - 1; i++) {
    cr_assert_eq(conn_protocol(fc.c), CONN_SNIFF);
    conn_feed(fc.c, (const uint8_t *)preface + i, 1);
  }
  cr_assert_eq(conn_protocol(fc.c), CONN_H2);
  fake_conn_settle(&fc);
  cr_assert_geq(fc.written.len, 9);
  cr_assert_eq(fc.written.data[3], NGHTTP2_SETTINGS, "our SETTINGS go out first");
  fake_conn_free(&fc);
  fake_server_free(&fs);
}

Test(conn, drain_sends_goaway_and_lets_the_call_in_flight_finish) {
  fake_server fs;
  fake_server_init(&fs, 3, args, 1);
  fake_conn fc;
  fake_conn_open(&fc, &fs, CONN_SNIFF);
  client cl;
  client_init(&cl);
  buf body;
  extract_missing(&body);
  client_call(&cl, "/ocr.OCRService/ExtractText", &body);
  /* The request goes in; its job stays queued. */
  const uint8_t *d;
  ssize_t n;
  while ((n = nghttp2_session_mem_send(cl.s, &d)) > 0)
    conn_feed(fc.c, d, (size_t)n);
  cr_assert_eq(rpc_server_calls(fs.rpc), 1);
  rpc_server_drain(fs.rpc);
  conn_shutdown(fc.c);
  cr_assert(conn_shutdown_pending(fc.c));
  fake_conn_flush(&fc);
  cr_assert_eq(nghttp2_session_mem_recv(cl.s, fc.written.data, fc.written.len),
               (ssize_t)fc.written.len);
  cl.read_off = fc.written.len;
  cr_assert_eq(cl.goaways, 1, "the shutdown notice");
  cr_assert_eq(cl.pings, 1, "with its PING");
  cr_assert_eq(cl.closed, 0);
  /* The job comes back, the answer goes out, the PING is acknowledged. */
  exchange(&cl, &fc);
  cr_assert_eq(cl.closed, 1);
  cr_assert_str_eq(cl.grpc_status, "0");
  cr_assert_not(conn_shutdown_pending(fc.c));
  cr_assert_geq(cl.goaways, 2, "the final GOAWAY");
  cr_assert(fc.closed, "no stream left after the final GOAWAY: the connection closes");
  buf_free(&body);
  client_free(&cl);
  fake_conn_free(&fc);
  fake_server_free(&fs);
}

static size_t count(const buf *b, const char *what) {
  size_t n = 0, w = strlen(what);
  for (size_t i = 0; i + w <= b->len; i++)
    n += memcmp(b->data + i, what, w) == 0;
  return n;
}

Test(conn, pipelined_input_stops_reading_until_the_answers_are_written) {
  fake_server fs;
  fake_server_init(&fs, 3, args, 1);
  fake_conn fc;
  fake_conn_open(&fc, &fs, CONN_H1);
  static const char body[] = "{\"private_image_path\": \"missing.png\"}";
  char req[256];
  int len = snprintf(req, sizeof req,
                     "POST /ocr/extract HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     sizeof body - 1, body);
  /* More than h1 keeps (256 KiB) behind the request being answered. */
  size_t n = 300 * 1024 / (size_t)len + 1;
  buf in = BUF_INIT;
  for (size_t i = 0; i < n; i++)
    buf_append(&in, req, (size_t)len);
  fc.take = 0; /* the client reads nothing */
  conn_feed(fc.c, in.data, in.len);
  cr_assert_eq(fc.reading, 0, "more than a request's worth kept: reading stops");
  fake_conn_settle(&fc);
  cr_assert_eq(fc.written.len, 0);
  cr_assert_gt(conn_output(fc.c)->len, 0, "the answer waits for the socket");
  cr_assert_eq(fc.reading, 0, "and reading stays stopped while it waits");
  /* The client reads: every answer comes, and reading resumes. */
  fc.take = SIZE_MAX;
  for (size_t i = 0; i < 2 * n; i++) {
    fake_exec_drain();
    if (!fake_conn_flush(&fc))
      break;
  }
  cr_assert_eq(count(&fc.written, "HTTP/1.1 200"), n);
  cr_assert_eq(fs.answers, (int)n);
  cr_assert_eq(fc.reading, 1);
  cr_assert(fc.timer_on[CONN_TIMER_IDLE], "keep-alive idle timeout");
  buf_free(&in);
  fake_conn_free(&fc);
  fake_server_free(&fs);
}

Test(conn, close_with_calls_in_flight_cancels_them) {
  fake_server fs;
  fake_server_init(&fs, 3, args, 1);
  fake_conn fc;
  fake_conn_open(&fc, &fs, CONN_SNIFF);
  client cl;
  client_init(&cl);
  buf body[3];
  for (int i = 0; i < 3; i++) {
    extract_missing(&body[i]);
    client_call(&cl, "/ocr.OCRService/ExtractText", &body[i]);
  }
  const uint8_t *d;
  ssize_t n;
  while ((n = nghttp2_session_mem_send(cl.s, &d)) > 0)
    conn_feed(fc.c, d, (size_t)n);
  cr_assert_eq(rpc_server_calls(fs.rpc), 3);
  /* The peer goes away with three jobs queued. */
  conn_eof(fc.c);
  cr_assert(fc.closed);
  fake_exec_drain(); /* they come back cancelled */
  cr_assert_eq(rpc_server_calls(fs.rpc), 0);
  for (int i = 0; i < 3; i++)
    buf_free(&body[i]);
  client_free(&cl);
  fake_conn_free(&fc);
  fake_server_free(&fs);
}

Test(conn, timers_bound_the_sniff_the_handshake_and_idle_time) {
  char *a[] = {"test_conn", "--engine=mock", "--max-connection-idle-ms=1000", NULL};
  fake_server fs;
  fake_server_init(&fs, 3, a, 0);
  fake_conn fc;
  /* No byte within the header timeout. */
  fake_conn_open(&fc, &fs, CONN_SNIFF);
  fake_conn_advance(&fc, fs.cfg.http_header_timeout_ms);
  cr_assert(fc.closed);
  fake_conn_free(&fc);
  /* TLS-style HTTP/2 from the start, but no preface and SETTINGS. */
  fake_conn_open(&fc, &fs, CONN_H2);
  fake_conn_advance(&fc, fs.cfg.handshake_timeout_ms);
  cr_assert(fc.closed);
  fake_conn_free(&fc);
  /* A handshake, then no stream for --max-connection-idle-ms: GOAWAY, close. */
  fake_conn_open(&fc, &fs, CONN_SNIFF);
  client cl;
  client_init(&cl);
  exchange(&cl, &fc);
  cr_assert(fc.timer_on[CONN_TIMER_IDLE]);
  cr_assert_not(fc.closed);
  fake_conn_advance(&fc, 1000);
  exchange(&cl, &fc);
  cr_assert_eq(cl.goaways, 1);
  cr_assert(fc.closed);
  client_free(&cl);
  fake_conn_free(&fc);
  fake_server_free(&fs);
}

/* src/loop asks for close-after-flush when TLS fails under a connection
 * (a bad record, a failed handshake): HTTP/1.1 ones (REST over TLS) must
 * close once the output is out, as HTTP/2 ones do — they stayed open. */
Test(conn, close_after_flush_closes_http11_and_sniffing_connections) {
  fake_server fs;
  fake_server_init(&fs, 3, args, 0);
  fake_conn fc;
  fake_conn_open(&fc, &fs, CONN_H1);
  cr_assert_eq(conn_close_after_flush(fc.c), 1);
  cr_assert_eq(fc.reading, 0, "nothing more is read");
  fake_conn_settle(&fc);
  cr_assert(fc.closed, "an HTTP/1.1 connection stayed open after close-after-flush");
  fake_conn_free(&fc);

  fake_conn_open(&fc, &fs, CONN_SNIFF);
  cr_assert_eq(conn_close_after_flush(fc.c), 1);
  fake_conn_settle(&fc);
  cr_assert(fc.closed, "a connection still sniffing stayed open");
  fake_conn_free(&fc);
  fake_server_free(&fs);
}
