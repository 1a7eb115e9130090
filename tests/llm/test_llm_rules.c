/* SPDX-License-Identifier: MIT */
/* The rules engine: each entity kind and its normal form, the business
 * number check digit, masking of resident registration and card numbers,
 * confidence, and texts with NUL bytes or nothing recognisable. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm.h"

static llm_result run(const char *text) {
  llm_result r;
  llm_result_init(&r);
  cr_assert_eq(llm_rules_analyze(text, strlen(text), &r), 0);
  return r;
}

Test(llm_rules, dates) {
  llm_result r = run("2024-03-05 / 2024.3.6 / 2024년 3월 7일 / 2024년3월8일 / 03/09/2024\n"
                     "March 10, 2024 and 11 Mar 2024; not 2024-13-01 nor 2023-02-30");
  cr_assert_str_eq(llm_result_get(&r, "date"), "2024-03-05");
  cr_assert_str_eq(llm_result_get(&r, "date_2"), "2024-03-06");
  cr_assert_str_eq(llm_result_get(&r, "date_3"), "2024-03-07");
  cr_assert_str_eq(llm_result_get(&r, "date_4"), "2024-03-08");
  cr_assert_str_eq(llm_result_get(&r, "date_5"), "2024-03-09");
  cr_assert_str_eq(llm_result_get(&r, "date_6"), "2024-03-10");
  cr_assert_str_eq(llm_result_get(&r, "date_7"), "2024-03-11");
  cr_assert_null(llm_result_get(&r, "date_8"));
  llm_result_clear(&r);
}

Test(llm_rules, amounts) {
  llm_result r = run("커피 4,500원\n합계: 12,000 원\nTax USD 3.50\nGrand total $1,234.56\n"
                     "₩ 7,000\n50000 KRW");
  cr_assert_str_eq(llm_result_get(&r, "amount"), "4500 KRW");
  cr_assert_str_eq(llm_result_get(&r, "amount_total"), "12000 KRW");
  cr_assert_str_eq(llm_result_get(&r, "amount_tax"), "3.50 USD");
  cr_assert_str_eq(llm_result_get(&r, "amount_total_2"), "1234.56 USD");
  cr_assert_str_eq(llm_result_get(&r, "amount_2"), "7000 KRW");
  cr_assert_str_eq(llm_result_get(&r, "amount_3"), "50000 KRW");
  llm_result_clear(&r);
}

Test(llm_rules, phones_emails_urls) {
  llm_result r = run("tel 02-123-4567, 010-1234-5678, 01098765432, 1588-1234, "
                     "+82-10-1111-2222, (415) 555-2671\nmail a.b+c@ex-ample.co.kr. "
                     "see https://ex.com/a?b=1). www.naver.com");
  cr_assert_str_eq(llm_result_get(&r, "phone"), "02-123-4567");
  cr_assert_str_eq(llm_result_get(&r, "phone_2"), "010-1234-5678");
  cr_assert_str_eq(llm_result_get(&r, "phone_3"), "01098765432");
  cr_assert_str_eq(llm_result_get(&r, "phone_4"), "1588-1234");
  cr_assert_str_eq(llm_result_get(&r, "phone_5"), "+82-10-1111-2222");
  cr_assert_str_eq(llm_result_get(&r, "phone_6"), "(415) 555-2671");
  cr_assert_str_eq(llm_result_get(&r, "email"), "a.b+c@ex-ample.co.kr");
  cr_assert_str_eq(llm_result_get(&r, "url"), "https://ex.com/a?b=1");
  cr_assert_str_eq(llm_result_get(&r, "url_2"), "www.naver.com");
  llm_result_clear(&r);
}

Test(llm_rules, business_number_check_digit) {
  llm_result r = run("사업자번호 220-81-62517\n다른 번호 220-81-62518");
  cr_assert_str_eq(llm_result_get(&r, "business_number"), "220-81-62517");
  cr_assert_str_eq(llm_result_get(&r, "business_number_invalid"), "220-81-62518");
  llm_result_clear(&r);
}

Test(llm_rules, private_numbers_masked) {
  const char *t = "주민번호 850315-2345678 card 4111 1111 1111 1111 raw 5500005555555559 "
                  "masked 1234-56**-****-4321";
  llm_result r = run(t);
  cr_assert_str_eq(llm_result_get(&r, "resident_registration_number"), "850315-2******");
  cr_assert_str_eq(llm_result_get(&r, "card_number"), "**** **** **** 1111");
  cr_assert_str_eq(llm_result_get(&r, "card_number_2"), "************5559");
  cr_assert_str_eq(llm_result_get(&r, "card_number_3"), "****-****-****-4321");
  for (size_t i = 0; i < r.nentities; i++) {
    cr_assert_null(strstr(r.entities[i].value, "2345678"));
    cr_assert_null(strstr(r.entities[i].value, "4111 1111"));
  }
  cr_assert_null(strstr(r.analysis, "2345678"));
  llm_result_clear(&r);
  char s[] = "x 900101-1234567 y 4111-1111-1111-1111 z";
  llm_mask_private(s);
  cr_assert_str_eq(s, "x 900101-1****** y ****-****-****-1111 z");
}

Test(llm_rules, confidence_and_kind) {
  llm_result r = run("RECEIPT\nTotal $5.00\nthank you\n\n");
  cr_assert_float_eq(r.confidence, 2.0f / 3.0f, 1e-6);
  cr_assert(strstr(r.analysis, "Receipt (English)"));
  llm_result_clear(&r);
  r = run("nothing to see here");
  cr_assert_float_eq(r.confidence, 0.0f, 1e-6);
  cr_assert_eq(r.nentities, 0);
  cr_assert(strstr(r.analysis, "Document (English)"));
  llm_result_clear(&r);
}

Test(llm_rules, nul_bytes_and_long_lines) {
  const char t[] = "2024-03-05\0 $5\0";
  llm_result r;
  llm_result_init(&r);
  cr_assert_eq(llm_rules_analyze(t, sizeof t - 1, &r), 0);
  cr_assert_str_eq(llm_result_get(&r, "date"), "2024-03-05");
  cr_assert_str_eq(llm_result_get(&r, "amount"), "5 USD");
  llm_result_clear(&r);
  /* One long line full of amounts and @s: linear, no crash. */
  size_t n = 200000;
  char *big = malloc(n + 1);
  for (size_t i = 0; i < n; i++)
    big[i] = "1원 a@"[i % 7];
  big[n] = 0;
  llm_result_init(&r);
  cr_assert_eq(llm_rules_analyze(big, n, &r), 0);
  llm_result_clear(&r);
  free(big);
}
