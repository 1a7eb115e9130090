/* SPDX-License-Identifier: MIT */
/* The out-of-memory and failed-invariant exits (ocrpc_alloc.h,
 * ocrpc_assert.h), and the function forms of the allocators that library
 * hooks take. Both exits write one log line from the stack and abort:
 * nothing here allocates. */
#include "ocrpc_alloc.h"

#include "log.h"
#include "ocrpc_assert.h"

void ocrpc__oom(size_t n, const char *file, int line) {
  if (n == 0) /* a library's constructor failed: it does not say the size */
    log_write(LOG_ERROR, "out of memory at %s:%d", file, line);
  else
    log_write(LOG_ERROR, "out of memory allocating %zu bytes at %s:%d", n, file, line);
  abort();
}

void ocrpc__assert_fail(const char *expr, const char *file, int line, const char *func) {
  log_write(LOG_ERROR, "assertion failed: %s in %s (%s:%d)", expr, func, file, line);
  abort();
}

void *ocrpc_malloc_fn(size_t n) { return ocrpc_malloc(n); }
void *ocrpc_calloc_fn(size_t count, size_t size) { return ocrpc_calloc(count, size); }
void *ocrpc_realloc_fn(void *ptr, size_t n) { return ocrpc_realloc(ptr, n); }
char *ocrpc_strdup_fn(const char *s) { return ocrpc_strdup(s); }

void *ocrpc_malloc_ud(size_t n, void *ud) {
  (void)ud;
  return ocrpc_malloc(n);
}
void ocrpc_free_ud(void *p, void *ud) {
  (void)ud;
  free(p);
}
void *ocrpc_calloc_ud(size_t count, size_t size, void *ud) {
  (void)ud;
  return ocrpc_calloc(count, size);
}
void *ocrpc_realloc_ud(void *ptr, size_t n, void *ud) {
  (void)ud;
  return ocrpc_realloc(ptr, n);
}
