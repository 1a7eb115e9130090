/* SPDX-License-Identifier: MIT */
/* Pure helpers the client uses: grpc-message percent-decoding and the
 * response deframer as the client meets them, durations and host:port
 * targets. (grpc-timeout and status codes: tests/rpc/test_rpc_wire.c.) */
#include <criterion/criterion.h>
#include <string.h>

#include "base/err.h"
#include "client.h"
#include "client_internal.h"

static size_t dec(const char *in, char *out, size_t outlen) {
  return rpc_percent_decode(in, strlen(in), out, outlen);
}

Test(percent, plain_text_unchanged) {
  char out[64];
  cr_assert_eq(dec("no such batch", out, sizeof out), 13);
  cr_assert_str_eq(out, "no such batch");
}

Test(percent, escapes_decode_to_bytes) {
  char out[64];
  dec("a%20b%25c%0A", out, sizeof out);
  cr_assert_str_eq(out, "a b%c\n");
  /* UTF-8 "☺" and lower-case hex. */
  dec("smile %E2%98%ba!", out, sizeof out);
  cr_assert_str_eq(out, "smile \xe2\x98\xba!");
}

Test(percent, interop_special_status_message) {
  /* grpc interop special_status_message, as the server encodes it. */
  char out[128];
  dec("%09%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA and non-BMP "
      "%F0%9F%98%88%09%0A",
      out, sizeof out);
  cr_assert_str_eq(out, "\t\ntest with whitespace\r\nand Unicode BMP \xe2\x98\xba and "
                        "non-BMP \xf0\x9f\x98\x88\t\n");
}

Test(percent, invalid_escapes_kept) {
  char out[64];
  dec("100% sure %zz %4", out, sizeof out);
  cr_assert_str_eq(out, "100% sure %zz %4");
  dec("%", out, sizeof out);
  cr_assert_str_eq(out, "%");
}

Test(percent, truncates_to_buffer) {
  char out[4];
  cr_assert_eq(dec("abcdef", out, sizeof out), 3);
  cr_assert_str_eq(out, "abc");
  cr_assert_eq(rpc_percent_decode("x", 1, out, 0), 0);
}

typedef struct msgs {
  int n;
  size_t lens[8];
  char data[8][64];
} msgs;

static int collect(void *ud, const uint8_t *data, size_t len, int compressed) {
  msgs *m = ud;
  (void)compressed;
  m->lens[m->n] = len;
  memcpy(m->data[m->n], data, len);
  m->n++;
  return 0;
}

Test(deframer, messages_split_anywhere) {
  const uint8_t wire[] = {0, 0, 0, 0, 3, 'a', 'b', 'c', 0,   0,
                          0, 0, 0, 0, 0, 0,   0,   2,   'x', 'y'};
  for (size_t cut = 0; cut <= sizeof wire; cut++) {
    rpc_deframer d;
    msgs m = {0};
    rpc_deframer_init(&d, 100);
    cr_assert_eq(rpc_deframe_feed(&d, wire, cut, collect, &m), 0);
    cr_assert_eq(rpc_deframe_feed(&d, wire + cut, sizeof wire - cut, collect, &m), 0);
    cr_assert_eq(m.n, 3, "cut %zu", cut);
    cr_assert_eq(m.lens[0], 3);
    cr_assert_eq(memcmp(m.data[0], "abc", 3), 0);
    cr_assert_eq(m.lens[1], 0);
    cr_assert_eq(m.lens[2], 2);
    cr_assert_not(rpc_deframer_partial(&d));
    rpc_deframer_free(&d);
  }
}

Test(deframer, limit_checked_before_buffering) {
  const uint8_t wire[] = {0, 0, 0, 1, 0}; /* 256 bytes announced */
  rpc_deframer d;
  msgs m = {0};
  rpc_deframer_init(&d, 255);
  cr_assert_eq(rpc_deframe_feed(&d, wire, sizeof wire, collect, &m), ERR_MSG_TOO_LARGE);
  cr_assert_eq(d.msg.cap, 0);
  rpc_deframer_free(&d);
}

Test(deframer, partial_detected) {
  const uint8_t wire[] = {0, 0, 0, 0, 4, 'a'};
  rpc_deframer d;
  msgs m = {0};
  rpc_deframer_init(&d, 100);
  rpc_deframe_feed(&d, wire, sizeof wire, collect, &m);
  cr_assert_eq(m.n, 0);
  cr_assert(rpc_deframer_partial(&d));
  rpc_deframer_free(&d);
}

Test(duration, parses_units) {
  uint64_t ms;
  cr_assert_eq(client_duration_parse("10s", &ms), 0);
  cr_assert_eq(ms, 10000);
  cr_assert_eq(client_duration_parse("250ms", &ms), 0);
  cr_assert_eq(ms, 250);
  cr_assert_eq(client_duration_parse("1.5", &ms), 0);
  cr_assert_eq(ms, 1500);
  cr_assert_eq(client_duration_parse("2m", &ms), 0);
  cr_assert_eq(ms, 120000);
  cr_assert_eq(client_duration_parse("1h", &ms), 0);
  cr_assert_eq(ms, 3600000);
  cr_assert_eq(client_duration_parse("10us", &ms), 0);
  cr_assert_eq(ms, 1);
  cr_assert_eq(client_duration_parse("", &ms), ERR_INVAL);
  cr_assert_eq(client_duration_parse("soon", &ms), ERR_INVAL);
  cr_assert_eq(client_duration_parse("5 s", &ms), ERR_INVAL);
  cr_assert_eq(client_duration_parse("-1s", &ms), ERR_INVAL);
  cr_assert_eq(client_duration_parse("3d", &ms), ERR_INVAL);
}

Test(target, forms) {
  char h[64], p[8];
  cr_assert_eq(client_target_parse("localhost:50051", h, sizeof h, p, sizeof p), 0);
  cr_assert_str_eq(h, "localhost");
  cr_assert_str_eq(p, "50051");
  cr_assert_eq(client_target_parse("[::1]:8080", h, sizeof h, p, sizeof p), 0);
  cr_assert_str_eq(h, "::1");
  cr_assert_str_eq(p, "8080");
  cr_assert_eq(client_target_parse("example.org", h, sizeof h, p, sizeof p), 0);
  cr_assert_str_eq(p, "50051");
  cr_assert_eq(client_target_parse("::1", h, sizeof h, p, sizeof p), 0);
  cr_assert_str_eq(h, "::1");
  const char *bad[] = {"",         ":50051", "host:",  "host:0", "host:65536",
                       "host:12a", "[::1",   "[::1]x", "[]:1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(client_target_parse(bad[i], h, sizeof h, p, sizeof p), ERR_INVAL, "%s",
                 bad[i]);
}
