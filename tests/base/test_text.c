/* SPDX-License-Identifier: MIT */
/* text_hex_digit and text_split_flag, as the URL and grpc-message decoders
 * and the programs' argument parsers use them; text_put_u64 and
 * text_put_ms, as the access log and the OCR response metadata write
 * numbers. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/text.h"

Test(text, hex_digits_in_either_case) {
  cr_assert_eq(text_hex_digit('0'), 0);
  cr_assert_eq(text_hex_digit('9'), 9);
  cr_assert_eq(text_hex_digit('a'), 10);
  cr_assert_eq(text_hex_digit('F'), 15);
  cr_assert_eq(text_hex_digit('g'), -1);
  cr_assert_eq(text_hex_digit('%'), -1);
  cr_assert_eq(text_hex_digit('\0'), -1);
}

Test(text, long_flag_with_value_is_split) {
  char name[16];
  const char *v;
  const char *a = text_split_flag("--timeout=5s", name, sizeof name, &v);
  cr_assert_str_eq(a, "--timeout");
  cr_assert_str_eq(v, "5s");
  a = text_split_flag("--language=", name, sizeof name, &v);
  cr_assert_str_eq(a, "--language");
  cr_assert_str_eq(v, "", "an empty value is a value");
}

Test(text, other_arguments_are_left_alone) {
  char name[8];
  const char *v;
  cr_assert_str_eq(text_split_flag("--json", name, sizeof name, &v), "--json");
  cr_assert_null(v);
  cr_assert_str_eq(text_split_flag("-c=4", name, sizeof name, &v), "-c=4", "short flags");
  cr_assert_null(v);
  cr_assert_str_eq(text_split_flag("a=b", name, sizeof name, &v), "a=b", "positional");
  cr_assert_null(v);
  cr_assert_str_eq(text_split_flag("--much-too-long=1", name, sizeof name, &v),
                   "--much-too-long=1", "a name that does not fit stays whole");
  cr_assert_null(v);
}

/* Writes with f into a buffer full of '#' and checks the text, its length
 * and that nothing past the returned end was touched. */
#define CHECK_PUT(call, want)                                                              \
  do {                                                                                     \
    char buf_[64];                                                                         \
    memset(buf_, '#', sizeof buf_);                                                        \
    char *p = buf_;                                                                        \
    char *end_ = (call);                                                                   \
    cr_assert_eq((size_t)(end_ - buf_), strlen(want), "length of %s", want);               \
    cr_assert_arr_eq(buf_, want, strlen(want));                                            \
    for (size_t i_ = strlen(want); i_ < sizeof buf_; i_++)                                 \
      cr_assert_eq(buf_[i_], '#', "nothing written after the end");                        \
  } while (0)

Test(text, u64_in_decimal) {
  CHECK_PUT(text_put_u64(p, 0), "0");
  CHECK_PUT(text_put_u64(p, 7), "7");
  CHECK_PUT(text_put_u64(p, 10), "10");
  CHECK_PUT(text_put_u64(p, 1000000), "1000000");
  CHECK_PUT(text_put_u64(p, UINT64_MAX), "18446744073709551615");
  cr_assert_eq(strlen("18446744073709551615"), TEXT_U64_MAX);
  /* Every power of ten and its neighbours, against printf. */
  for (uint64_t v = 1; v <= UINT64_MAX / 10; v *= 10) {
    uint64_t vs[] = {v - 1, v, v + 1};
    for (size_t i = 0; i < 3; i++) {
      char want[32];
      snprintf(want, sizeof want, "%" PRIu64, vs[i]);
      CHECK_PUT(text_put_u64(p, vs[i]), want);
    }
  }
}

Test(text, ms_with_three_decimals) {
  CHECK_PUT(text_put_ms(p, 0), "0.000");
  CHECK_PUT(text_put_ms(p, 12.345), "12.345");
  CHECK_PUT(text_put_ms(p, 0.25), "0.250");
  CHECK_PUT(text_put_ms(p, 1), "1.000");
  CHECK_PUT(text_put_ms(p, 86400000), "86400000.000");
  /* Rounded to the nearest microsecond. */
  CHECK_PUT(text_put_ms(p, 0.0004), "0.000");
  CHECK_PUT(text_put_ms(p, 0.0006), "0.001");
  CHECK_PUT(text_put_ms(p, 999.9996), "1000.000");
  /* Nothing below zero: a clock step or an unset value reads as 0. */
  CHECK_PUT(text_put_ms(p, -3.5), "0.000");
  CHECK_PUT(text_put_ms(p, NAN), "0.000");
  /* Every microsecond count up to 2.5 s, and a spread above, read back
   * exactly: the fraction table has no gap. */
  for (uint64_t us = 0; us < 2500000; us += us < 5000 ? 1 : 997) {
    char want[48];
    snprintf(want, sizeof want, "%" PRIu64 ".%03" PRIu64, us / 1000, us % 1000);
    CHECK_PUT(text_put_ms(p, (double)us / 1000.0), want);
  }
}
