/* SPDX-License-Identifier: MIT */
/* Internal error -> gRPC status mapping, and grpc-message percent-encoding
 * (grpc doc/PROTOCOL-HTTP2.md: 0x20-0x7E except '%' stay literal). */
#include <criterion/criterion.h>
#include <string.h>

#include "base/err.h"
#include "rpc.h"

Test(rpc_status, mapping_from_internal_errors) {
  cr_assert_eq(rpc_status_from_err(0), RPC_OK);
  cr_assert_eq(rpc_status_from_err(ERR_CANCELLED), RPC_CANCELLED);
  cr_assert_eq(rpc_status_from_err(ERR_INVAL), RPC_INVALID_ARGUMENT);
  cr_assert_eq(rpc_status_from_err(ERR_PARSE), RPC_INVALID_ARGUMENT);
  cr_assert_eq(rpc_status_from_err(ERR_NOT_FOUND), RPC_NOT_FOUND);
  cr_assert_eq(rpc_status_from_err(ERR_MSG_TOO_LARGE), RPC_RESOURCE_EXHAUSTED);
  cr_assert_eq(rpc_status_from_err(ERR_NOMEM), RPC_RESOURCE_EXHAUSTED);
  cr_assert_eq(rpc_status_from_err(ERR_UNIMPLEMENTED), RPC_UNIMPLEMENTED);
  cr_assert_eq(rpc_status_from_err(ERR_UNAVAILABLE), RPC_UNAVAILABLE);
  cr_assert_eq(rpc_status_from_err(ERR_ENGINE), RPC_INTERNAL);
  cr_assert_eq(rpc_status_from_err(ERR_PROTOCOL), RPC_INTERNAL);
  cr_assert_eq(rpc_status_from_err(-123456), RPC_INTERNAL, "an unknown code");
  /* No internal failure is ever reported as success. */
  for (int e = ERR__BASE + 1; e < ERR__END; e++)
    cr_assert_neq(rpc_status_from_err(e), RPC_OK, "%s maps to OK", err_name(e));
}

static const char interop[] =
    "\t\ntest with whitespace\r\nand Unicode BMP \xe2\x98\xba and non-BMP "
    "\xf0\x9f\x98\x88\t\n";

Test(rpc_status, percent_encoding_round_trips_the_interop_string) {
  char enc[512], dec[512];
  size_t n = rpc_percent_encode(interop, sizeof interop - 1, enc, sizeof enc);
  cr_assert_eq(n, strlen(enc));
  cr_assert_str_eq(enc, "%09%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA "
                        "and non-BMP %F0%9F%98%88%09%0A");
  size_t m = rpc_percent_decode(enc, n, dec, sizeof dec);
  cr_assert_eq(m, sizeof interop - 1);
  cr_assert_arr_eq(dec, interop, m);
  cr_assert_eq(dec[m], 0);
}

Test(rpc_status, only_printable_ascii_but_percent_stays_literal) {
  for (int ch = 0; ch < 256; ch++) {
    char in[1] = {(char)ch}, out[8];
    size_t n = rpc_percent_encode(in, 1, out, sizeof out);
    int literal = ch >= 0x20 && ch <= 0x7e && ch != '%';
    if (literal) {
      cr_assert_eq(n, 1, "0x%02x escaped", ch);
      cr_assert_eq((unsigned char)out[0], ch);
    } else {
      cr_assert_eq(n, 3, "0x%02x not escaped", ch);
      char want[4];
      snprintf(want, sizeof want, "%%%02X", ch);
      cr_assert_str_eq(out, want);
    }
    char back[4];
    cr_assert_eq(rpc_percent_decode(out, n, back, sizeof back), 1);
    cr_assert_eq((unsigned char)back[0], ch, "0x%02x does not round-trip", ch);
  }
}

Test(rpc_status, encoding_never_splits_an_escape) {
  char out[6];
  /* "ab" + "\n" needs 2 + 3 + NUL = 6: fits exactly. */
  cr_assert_eq(rpc_percent_encode("ab\ncd", 5, out, 6), 5);
  cr_assert_str_eq(out, "ab%0A");
  /* One byte less: the escape is dropped whole. */
  cr_assert_eq(rpc_percent_encode("ab\ncd", 5, out, 5), 2);
  cr_assert_str_eq(out, "ab");
  cr_assert_eq(rpc_percent_encode("abc", 3, out, 1), 0);
  cr_assert_str_eq(out, "");
  cr_assert_eq(rpc_percent_encode("abc", 3, out, 0), 0);
}

Test(rpc_status, decoding_keeps_invalid_escapes) {
  char out[32];
  cr_assert_eq(rpc_percent_decode("100%", 4, out, sizeof out), 4);
  cr_assert_str_eq(out, "100%");
  cr_assert_eq(rpc_percent_decode("%zz%4", 5, out, sizeof out), 5);
  cr_assert_str_eq(out, "%zz%4");
  cr_assert_eq(rpc_percent_decode("%41%4a%4A", 9, out, sizeof out), 3);
  cr_assert_str_eq(out, "AJJ");
}
