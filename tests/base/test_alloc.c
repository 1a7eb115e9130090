/* SPDX-License-Identifier: MIT */
/* The two exits of src/base/ocrpc_alloc.h and ocrpc_assert.h: an allocation
 * that fails and a broken invariant each abort with one log line naming
 * what failed and where. Each case runs in a child whose stderr is read
 * back. Assertions are forced on here so both trees test the failure path. */
#define OCRPC_ASSERTIONS 1
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/ocrpc_alloc.h"
#include "base/ocrpc_assert.h"

/* Under ASan, a size no allocator can meet returns NULL (as glibc does)
 * instead of ASan's own report, so the policy's path is what runs. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* Runs fn in a child; returns its stderr (static storage) and asserts it
 * died of SIGABRT. */
static const char *run_and_abort(void (*fn)(void)) {
  static char text[4096];
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    fn();
    _exit(0);
  }
  close(fds[1]);
  size_t n = 0;
  ssize_t r;
  while (n < sizeof text - 1 && (r = read(fds[0], text + n, sizeof text - 1 - n)) > 0)
    n += (size_t)r;
  text[n] = '\0';
  close(fds[0]);
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "child did not abort: %s",
            text);
  return text;
}

/* volatile: sizes the compiler cannot see, so it neither warns nor folds. */
static volatile size_t half = SIZE_MAX / 2, quarter = SIZE_MAX / 4;

static void huge_malloc(void) {
  void *p = ocrpc_malloc(half);
  free(p);
}

static void huge_calloc(void) {
  void *p = ocrpc_calloc(quarter, 8);
  free(p);
}

static void huge_realloc(void) {
  void *p = ocrpc_malloc(16);
  p = ocrpc_realloc(p, half);
  free(p);
}

static int two = 2;
static void broken_invariant(void) { OCRPC_ASSERT(two == 3); }

Test(alloc, malloc_failure_logs_size_and_call_site_then_aborts) {
  const char *t = run_and_abort(huge_malloc);
  char want[64];
  snprintf(want, sizeof want, "out of memory allocating %zu bytes at ", SIZE_MAX / 2);
  cr_assert(strstr(t, want), "%s", t);
  cr_assert(strstr(t, "test_alloc.c:"), "%s", t);
}

Test(alloc, calloc_failure_reports_the_product_capped_at_size_max) {
  const char *t = run_and_abort(huge_calloc);
  char want[64];
  snprintf(want, sizeof want, "out of memory allocating %zu bytes at ", SIZE_MAX);
  cr_assert(strstr(t, want), "%s", t);
}

Test(alloc, realloc_failure_aborts) {
  const char *t = run_and_abort(huge_realloc);
  cr_assert(strstr(t, "out of memory allocating"), "%s", t);
  cr_assert(strstr(t, "test_alloc.c:"), "%s", t);
}

Test(alloc, success_returns_usable_zeroed_and_copied_memory) {
  char *s = ocrpc_strdup("invariant");
  cr_assert_str_eq(s, "invariant");
  char *t = ocrpc_strndup("invariant", 3);
  cr_assert_str_eq(t, "inv");
  int *z = ocrpc_calloc(4, sizeof *z);
  cr_assert(z[0] == 0 && z[3] == 0);
  char *d = ocrpc_memdup("ab", 2);
  cr_assert_arr_eq(d, "ab", 2);
  free(s);
  free(t);
  free(z);
  free(d);
}

Test(assert, failure_names_the_invariant_function_and_line) {
  const char *t = run_and_abort(broken_invariant);
  cr_assert(strstr(t, "assertion failed: two == 3 in broken_invariant (") != NULL, "%s", t);
  cr_assert(strstr(t, "test_alloc.c:"), "%s", t);
}

Test(assert, holding_invariant_is_silent) { OCRPC_ASSERT(two == 2); }
