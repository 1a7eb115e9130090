/* SPDX-License-Identifier: MIT */
/* Bearer tokens (src/base/auth.c): the token file's rules, and which
 * authorization values are accepted. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/auth.h"
#include "base/err.h"

static char path[64];

static void write_file(const char *text) {
  snprintf(path, sizeof path, "/tmp/ocrpc-test-auth-%ld", (long)getpid());
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

static void cleanup(void) { unlink(path); }

TestSuite(auth, .fini = cleanup);

static int check(const auth_tokens *t, const char *v) {
  return auth_check_bearer(t, v, strlen(v));
}

Test(auth, file_rules_and_accepted_values) {
  write_file("# comment\n\n  alpha-1  \r\nbravo\n#notatoken\n");
  auth_tokens *t = NULL;
  char err[256] = "";
  cr_assert_eq(auth_tokens_load(path, &t, err, sizeof err), 0, "%s", err);
  cr_assert_eq(auth_tokens_count(t), 2);
  cr_assert(check(t, "Bearer alpha-1"));
  cr_assert(check(t, "bearer bravo"));
  cr_assert(check(t, "BEARER  bravo"));
  cr_assert_not(check(t, "Bearer alpha-"));
  cr_assert_not(check(t, "Bearer alpha-12"));
  cr_assert_not(check(t, "Bearer #notatoken"));
  cr_assert_not(check(t, "Basic alpha-1"));
  cr_assert_not(check(t, "alpha-1"));
  cr_assert_not(check(t, "Bearer "));
  cr_assert_not(check(t, ""));
  cr_assert_not(auth_check_bearer(NULL, "Bearer bravo", 12));
  /* Exactly the header's bytes: the value is not NUL-terminated. */
  cr_assert(auth_check_bearer(t, "Bearer bravoXYZ", 12));
  auth_tokens_free(t);
  auth_tokens_free(NULL);
}

Test(auth, bad_files_name_the_file_and_never_show_a_token) {
  auth_tokens *t = NULL;
  char err[512];
  cr_assert_eq(auth_tokens_load("/nonexistent/tokens", &t, err, sizeof err), ERR_IO);
  cr_assert(strstr(err, "/nonexistent/tokens"), "%s", err);
  write_file("# only a comment\n\n");
  cr_assert_eq(auth_tokens_load(path, &t, err, sizeof err), ERR_CONFIG);
  cr_assert(strstr(err, "no token"), "%s", err);
  write_file("good\nsecret with-blank\n");
  cr_assert_eq(auth_tokens_load(path, &t, err, sizeof err), ERR_CONFIG);
  cr_assert(strstr(err, "line 2"), "%s", err);
  cr_assert_null(strstr(err, "secret"), "%s", err);
  char *big = malloc(5000);
  cr_assert_not_null(big);
  memset(big, 'x', 4999);
  big[4999] = '\0';
  write_file(big);
  free(big);
  cr_assert_eq(auth_tokens_load(path, &t, err, sizeof err), ERR_CONFIG);
  cr_assert(strstr(err, "longer than"), "%s", err);
  cr_assert_null(t);
}
