/* SPDX-License-Identifier: MIT */
/* err_name / err_text: every code in the table has its own stable name and
 * a text; codes outside the table are "UNKNOWN". */
#include <criterion/criterion.h>
#include <string.h>

#include "base/err.h"

Test(err, ok_is_zero_and_named) {
  cr_assert_eq(ERR_OK, 0);
  cr_assert_str_eq(err_name(0), "OK");
  cr_assert_str_eq(err_text(0), "ok");
}

Test(err, every_code_is_negative_with_a_distinct_name_and_a_text) {
  int n = 0;
  for (int a = ERR__BASE + 1; a < ERR__END; a++, n++) {
    cr_assert_lt(a, 0, "code %d is not negative", a);
    const char *name = err_name(a);
    cr_assert_not_null(name);
    cr_assert_str_neq(name, "UNKNOWN", "code %d has no name", a);
    cr_assert_str_neq(name, "OK", "code %d is named OK", a);
    cr_assert_str_neq(err_text(a), "unknown error", "code %d has no text", a);
    cr_assert_gt(strlen(err_text(a)), 0);
    for (int b = ERR__BASE + 1; b < a; b++)
      cr_assert_str_neq(err_name(b), name, "codes %d and %d share the name %s", a, b, name);
  }
  cr_assert_eq(n, 20, "the table has %d codes", n);
}

Test(err, names_that_responses_carry) {
  /* ErrorInfo.details carries these; clients match on them. */
  cr_assert_str_eq(err_name(ERR_INVAL), "INVALID_ARGUMENT");
  cr_assert_str_eq(err_name(ERR_NOT_FOUND), "NOT_FOUND");
  cr_assert_str_eq(err_name(ERR_FORBIDDEN_PATH), "FORBIDDEN_PATH");
  cr_assert_str_eq(err_name(ERR_DECODE), "DECODE_ERROR");
  cr_assert_str_eq(err_name(ERR_TOO_LARGE), "TOO_LARGE");
  cr_assert_str_eq(err_name(ERR_LANGUAGE), "UNSUPPORTED_LANGUAGE");
  cr_assert_str_eq(err_name(ERR_CANCELLED), "CANCELLED");
  cr_assert_str_eq(err_name(ERR_CONFIG), "CONFIG_ERROR");
  cr_assert_str_eq(err_name(ERR_UNSUPPORTED_FORMAT), "UNSUPPORTED_FORMAT");
  cr_assert_str_eq(err_name(ERR_PDF), "PDF_ERROR");
  cr_assert_str_eq(err_name(ERR_PDF_ENCRYPTED), "PDF_ENCRYPTED");
  cr_assert_str_eq(err_name(ERR_INTERNAL), "INTERNAL_ERROR");
}

Test(err, unknown_codes) {
  int unknown[] = {1, -1, ERR__BASE, ERR__END, -100000, 42};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    cr_assert_str_eq(err_name(unknown[i]), "UNKNOWN", "code %d", unknown[i]);
    cr_assert_str_eq(err_text(unknown[i]), "unknown error", "code %d", unknown[i]);
  }
}
