/* SPDX-License-Identifier: MIT */
/* The gRPC vocabulary shared by server and client (src/rpc/rpc_wire.h):
 * status names, the HTTP and RST_STREAM mappings, grpc-timeout parsing and
 * formatting (grpc doc/PROTOCOL-HTTP2.md: TimeoutValue is 1-8 ASCII digits,
 * TimeoutUnit one of H M S m u n) and the content-type check. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"
#include "rpc_wire.h"

Test(rpc_wire, status_names_follow_statuscodes_md) {
  static const char *const want[] = {"OK",
                                     "CANCELLED",
                                     "UNKNOWN",
                                     "INVALID_ARGUMENT",
                                     "DEADLINE_EXCEEDED",
                                     "NOT_FOUND",
                                     "ALREADY_EXISTS",
                                     "PERMISSION_DENIED",
                                     "RESOURCE_EXHAUSTED",
                                     "FAILED_PRECONDITION",
                                     "ABORTED",
                                     "OUT_OF_RANGE",
                                     "UNIMPLEMENTED",
                                     "INTERNAL",
                                     "UNAVAILABLE",
                                     "DATA_LOSS",
                                     "UNAUTHENTICATED"};
  cr_assert_eq(RPC_STATUS_COUNT, 17);
  for (int i = 0; i < RPC_STATUS_COUNT; i++)
    cr_assert_str_eq(rpc_status_name((rpc_status)i), want[i], "code %d", i);
  cr_assert_eq(RPC_DEADLINE_EXCEEDED, 4);
  cr_assert_eq(RPC_UNAUTHENTICATED, 16);
  cr_assert_str_eq(rpc_status_name((rpc_status)17), "UNKNOWN");
  cr_assert_str_eq(rpc_status_name((rpc_status)99), "UNKNOWN");
  cr_assert_str_eq(rpc_status_name((rpc_status)-1), "UNKNOWN");
}

Test(rpc_wire, http_status_mapping) {
  cr_assert_eq(rpc_status_from_http(400), RPC_INTERNAL);
  cr_assert_eq(rpc_status_from_http(401), RPC_UNAUTHENTICATED);
  cr_assert_eq(rpc_status_from_http(403), RPC_PERMISSION_DENIED);
  cr_assert_eq(rpc_status_from_http(404), RPC_UNIMPLEMENTED);
  cr_assert_eq(rpc_status_from_http(429), RPC_UNAVAILABLE);
  cr_assert_eq(rpc_status_from_http(502), RPC_UNAVAILABLE);
  cr_assert_eq(rpc_status_from_http(503), RPC_UNAVAILABLE);
  cr_assert_eq(rpc_status_from_http(504), RPC_UNAVAILABLE);
  cr_assert_eq(rpc_status_from_http(415), RPC_UNKNOWN);
  cr_assert_eq(rpc_status_from_http(500), RPC_UNKNOWN);
}

Test(rpc_wire, rst_stream_mapping) {
  cr_assert_eq(rpc_status_from_h2_error(0x7), RPC_UNAVAILABLE);
  cr_assert_eq(rpc_status_from_h2_error(0x8), RPC_CANCELLED);
  cr_assert_eq(rpc_status_from_h2_error(0xb), RPC_RESOURCE_EXHAUSTED);
  cr_assert_eq(rpc_status_from_h2_error(0xc), RPC_PERMISSION_DENIED);
  cr_assert_eq(rpc_status_from_h2_error(0x0), RPC_INTERNAL);
  cr_assert_eq(rpc_status_from_h2_error(0x1), RPC_INTERNAL);
  cr_assert_eq(rpc_status_from_h2_error(0x2), RPC_INTERNAL);
}

Test(rpc_wire, errors_our_own_code_makes_are_internal) {
  cr_assert_eq(rpc_status_from_err(ERR_INTERNAL), RPC_INTERNAL);
  cr_assert_eq(rpc_status_from_err(ERR_PROTOCOL), RPC_INTERNAL);
}

static uint64_t parse(const char *v) {
  uint64_t ms = 777;
  cr_assert_eq(rpc_timeout_parse(v, strlen(v), &ms), 0, "%s refused", v);
  return ms;
}

static void refused(const char *v, size_t len) {
  uint64_t ms = 777;
  cr_assert_eq(rpc_timeout_parse(v, len, &ms), ERR_INVAL, "%.*s accepted", (int)len, v);
  cr_assert_eq(ms, 777, "%.*s wrote *ms", (int)len, v);
}

Test(rpc_wire, timeout_units) {
  cr_assert_eq(parse("2H"), 7200000);
  cr_assert_eq(parse("3M"), 180000);
  cr_assert_eq(parse("5S"), 5000);
  cr_assert_eq(parse("250m"), 250);
  cr_assert_eq(parse("1000u"), 1);
  cr_assert_eq(parse("1000000n"), 1);
  cr_assert_eq(parse("0m"), 0);
  cr_assert_eq(parse("00000005S"), 5000, "leading zeros are digits");
}

Test(rpc_wire, timeout_sub_millisecond_rounds_up) {
  /* A deadline never shrinks: 1 us is 1 ms, not 0 (which would expire at
   * once). */
  cr_assert_eq(parse("1u"), 1);
  cr_assert_eq(parse("1n"), 1);
  cr_assert_eq(parse("1001u"), 2);
  cr_assert_eq(parse("999999n"), 1);
  cr_assert_eq(parse("1000001n"), 2);
  cr_assert_eq(parse("0n"), 0);
}

Test(rpc_wire, timeout_longer_than_8_digits_clamps) {
  const uint64_t max = 99999999ull * 3600000ull;
  cr_assert_eq(parse("99999999H"), max);
  cr_assert_eq(parse("999999999H"), max, "9 digits (grpc#17079) clamp, not refused");
  cr_assert_eq(parse("99999999999999999999999999999999S"), max, "saturates");
  cr_assert_eq(parse("123456789012m"), 123456789012ull);
}

Test(rpc_wire, timeout_malformed_is_refused) {
  refused("", 0);
  refused("S", 1);
  refused("5", 1);
  refused("10", 2);  /* no unit */
  refused("10s", 3); /* units are case-sensitive: s is not S */
  refused("10h", 3);
  refused("10x", 3);
  refused("-1S", 3);
  refused("+1S", 3);
  refused(" 1S", 3);
  refused("1 S", 3);
  refused("1.5S", 4);
  refused("1SS", 3);
  refused("1S", 1); /* the parser stays inside len: "1" alone */
}

Test(rpc_wire, timeout_format_units_and_rounding) {
  char out[RPC_TIMEOUT_MAX_LEN + 1];
  cr_assert_eq(rpc_timeout_format(0, out), 2);
  cr_assert_str_eq(out, "0m");
  rpc_timeout_format(1, out);
  cr_assert_str_eq(out, "1m");
  rpc_timeout_format(30000, out);
  cr_assert_str_eq(out, "30000m");
  rpc_timeout_format(99999999, out);
  cr_assert_str_eq(out, "99999999m");
  rpc_timeout_format(100000000, out);
  cr_assert_str_eq(out, "100000S");
  rpc_timeout_format(100000001, out); /* never shorter than asked */
  cr_assert_str_eq(out, "100001S");
  rpc_timeout_format(99999999ull * 60000, out);
  cr_assert_str_eq(out, "99999999M");
  rpc_timeout_format(99999999ull * 60000 + 1, out);
  cr_assert_str_eq(out, "1666667H");
}

Test(rpc_wire, timeout_format_of_huge_values_is_the_largest) {
  /* Rounding up must not wrap: UINT64_MAX once became "0S" (a deadline
   * already past). */
  char out[RPC_TIMEOUT_MAX_LEN + 1];
  const uint64_t huge[] = {UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 998,
                           99999999ull * 3600000ull + 1};
  for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
    cr_assert_eq(rpc_timeout_format(huge[i], out), RPC_TIMEOUT_MAX_LEN);
    cr_assert_str_eq(out, "99999999H");
  }
}

Test(rpc_wire, timeout_format_parse_round_trip) {
  /* What the client writes the server reads back as at least the same
   * deadline, and no longer than one unit of the format chosen. */
  const uint64_t per[] = {1, 1000, 60000, 3600000};
  uint64_t ms = 0;
  for (int step = 0; step < 400; step++) {
    char out[RPC_TIMEOUT_MAX_LEN + 1];
    size_t n = rpc_timeout_format(ms, out);
    cr_assert_eq(n, strlen(out));
    cr_assert_leq(n, RPC_TIMEOUT_MAX_LEN);
    uint64_t back;
    cr_assert_eq(rpc_timeout_parse(out, n, &back), 0, "%s", out);
    cr_assert_geq(back, ms, "%llu ms became %s", (unsigned long long)ms, out);
    const char *units = "mSMH";
    uint64_t unit = per[strchr(units, out[n - 1]) - units];
    cr_assert_lt(back - ms, unit, "%llu ms became %s", (unsigned long long)ms, out);
    ms = ms * 3 / 2 + (uint64_t)step; /* every magnitude up to the clamp */
    if (ms > 99999999ull * 3600000ull)
      ms = (uint64_t)step;
  }
}

static int ct(const char *v, const char **sub, size_t *n) {
  return rpc_content_type_is_grpc(v, strlen(v), sub, n);
}

Test(rpc_wire, content_type_forms) {
  const char *sub = "x";
  size_t n = 9;
  cr_assert(ct("application/grpc", &sub, &n));
  cr_assert_null(sub);
  cr_assert_eq(n, 0);
  cr_assert(ct("application/grpc+proto", &sub, &n));
  cr_assert_eq(n, 5);
  cr_assert_arr_eq(sub, "proto", 5);
  cr_assert(ct("application/grpc+json;charset=utf-8", &sub, &n));
  cr_assert_eq(n, 4);
  cr_assert_arr_eq(sub, "json", 4);
  cr_assert(ct("application/grpc;charset=utf-8", &sub, &n));
  cr_assert_null(sub);
  cr_assert(ct("application/grpc+", &sub, &n));
  cr_assert_not_null(sub, "a bare + is a subtype, empty");
  cr_assert_eq(n, 0);
  cr_assert(ct("application/grpc", NULL, NULL));
}

Test(rpc_wire, content_type_not_grpc) {
  const char *no[] = {"",
                      "application/json",
                      "application/grp",
                      "application/grpcx",
                      "application/grpc-web",
                      "application/grpc-web+proto",
                      "Application/grpc",
                      "text/plain; application/grpc"};
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
    cr_assert_not(ct(no[i], NULL, NULL), "%s", no[i]);
  /* Length, not NUL, ends the value. */
  cr_assert_not(rpc_content_type_is_grpc("application/grpc", 15, NULL, NULL));
}
