/* SPDX-License-Identifier: MIT */
/* Allocation that cannot fail: h2o's policy. On Linux with overcommit
 * malloc almost never returns NULL, so a NULL branch is code no test
 * reaches; sizes a client chooses are bounded by the configured limits
 * before anything is allocated (that check stays the defence), and a
 * server that does run out is restarted by systemd while clients retry.
 * So these log "out of memory allocating N bytes at file:line" and abort
 * instead of returning NULL. Any thread. */
#ifndef OCRPC_BASE_OCRPC_ALLOC_H
#define OCRPC_BASE_OCRPC_ALLOC_H

#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Logs the failed size (0: unknown, for a library's constructor that only
 * reports failure) and call site, then aborts. Any thread. */
__attribute__((noreturn, cold)) void ocrpc__oom(size_t n, const char *file, int line);

static inline void *ocrpc__malloc(size_t n, const char *file, int line) {
  void *p = malloc(n);
  if (__builtin_expect(!p, 0) && n)
    ocrpc__oom(n, file, line);
  return p;
}

static inline void *ocrpc__calloc(size_t count, size_t size, const char *file, int line) {
  void *p = calloc(count, size);
  if (__builtin_expect(!p, 0) && count && size)
    ocrpc__oom(size && count > (size_t)-1 / size ? (size_t)-1 : count * size, file, line);
  return p;
}

static inline void *ocrpc__realloc(void *ptr, size_t n, const char *file, int line) {
  void *p = realloc(ptr, n);
  if (__builtin_expect(!p, 0) && n)
    ocrpc__oom(n, file, line);
  return p;
}

static inline char *ocrpc__copy_str(const char *s, size_t n, const char *file, int line) {
  char *p = (char *)malloc(n + 1);
  if (__builtin_expect(!p, 0))
    ocrpc__oom(n + 1, file, line);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

static inline char *ocrpc__strdup(const char *s, const char *file, int line) {
  return ocrpc__copy_str(s, strlen(s), file, line);
}

static inline char *ocrpc__strndup(const char *s, size_t max, const char *file, int line) {
  return ocrpc__copy_str(s, strnlen(s, max), file, line);
}

static inline void *ocrpc__memdup(const void *src, size_t n, const char *file, int line) {
  void *p = ocrpc__malloc(n ? n : 1, file, line);
  if (n)
    memcpy(p, src, n);
  return p;
}

/* malloc/calloc/realloc/strdup/strndup that never return NULL (except
 * malloc(0) and realloc(p, 0) as libc does); free with free(). memdup
 * copies n bytes into a new block (at least 1 byte). */
#define ocrpc_malloc(n) ocrpc__malloc((n), __FILE__, __LINE__)
#define ocrpc_calloc(count, size) ocrpc__calloc((count), (size), __FILE__, __LINE__)
#define ocrpc_realloc(ptr, n) ocrpc__realloc((ptr), (n), __FILE__, __LINE__)
#define ocrpc_strdup(s) ocrpc__strdup((s), __FILE__, __LINE__)
#define ocrpc_strndup(s, max) ocrpc__strndup((s), (max), __FILE__, __LINE__)
#define ocrpc_memdup(src, n) ocrpc__memdup((src), (n), __FILE__, __LINE__)

/* Plain-function forms with the library signatures, for allocator hooks
 * (nghttp2_mem, cJSON_Hooks, hiredisAllocFuncs, curl_global_init_mem):
 * the call site is the library's, so the log names this file. */
void *ocrpc_malloc_fn(size_t n);
void *ocrpc_calloc_fn(size_t count, size_t size);
void *ocrpc_realloc_fn(void *ptr, size_t n);
char *ocrpc_strdup_fn(const char *s);
/* The same with a trailing user-data pointer, ignored (nghttp2_mem). */
void *ocrpc_malloc_ud(size_t n, void *ud);
void ocrpc_free_ud(void *p, void *ud);
void *ocrpc_calloc_ud(size_t count, size_t size, void *ud);
void *ocrpc_realloc_ud(void *ptr, size_t n, void *ud);

#ifdef __cplusplus
}
#endif

#endif
