/* SPDX-License-Identifier: MIT */
/* text_hex_digit and text_split_flag, as the URL and grpc-message decoders
 * and the programs' argument parsers use them. */
#include <criterion/criterion.h>
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
