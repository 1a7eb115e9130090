/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the server-sent events parser. The input is fed whole
 * and again split at a position the first two bytes choose; both must give
 * the same events (the parser's state carries across feeds), each event's
 * data must be NUL terminated at its length, and the per-event limit must
 * hold. Single thread. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm.h"

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);             \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

#define LIMIT 4096

typedef struct sink {
  uint64_t hash;
  size_t n;
} sink;

static int on_event(void *arg, const char *data, size_t len) {
  sink *s = arg;
  CHECK(len <= LIMIT && data[len] == 0);
  for (size_t i = 0; i < len; i++)
    s->hash = (s->hash ^ (uint8_t)data[i]) * 1099511628211ull;
  s->hash = (s->hash ^ 0x100) * 1099511628211ull;
  s->n++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t at = ((size_t)data[0] << 8 | data[1]) % (size - 1);
  const char *in = (const char *)data + 2;
  size_t len = size - 2;
  if (at > len)
    at = len;
  sink whole = {14695981039346656037ull, 0}, split = whole;
  llm_sse p;
  llm_sse_init(&p, LIMIT);
  int r1 = llm_sse_feed(&p, in, len, on_event, &whole);
  llm_sse_free(&p);
  llm_sse_init(&p, LIMIT);
  int r2 = llm_sse_feed(&p, in, at, on_event, &split);
  if (r2 == 0)
    r2 = llm_sse_feed(&p, in + at, len - at, on_event, &split);
  llm_sse_free(&p);
  CHECK(r1 == r2);
  if (r1 == 0)
    CHECK(whole.n == split.n && whole.hash == split.hash);
  return 0;
}
