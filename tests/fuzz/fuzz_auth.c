/* SPDX-License-Identifier: MIT */
/* libFuzzer target: bearer-token authentication (base/auth.h). The first
 * byte picks what the rest is:
 *   even  an `authorization` header value, checked against a fixed set
 *         with auth_check_bearer; it must accept exactly "Bearer " (any
 *         case) + one of the tokens, as a reference check says
 *   odd   a token file, loaded with auth_tokens_load and freed
 * Single thread. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/auth.h"

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);             \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

static const char *const tokens[] = {"tok-alpha", "tok-bravo-2"};
static auth_tokens *set;
static char path[64];

static void write_file(const uint8_t *d, size_t n) {
  FILE *f = fopen(path, "wb");
  CHECK(f);
  CHECK(fwrite(d, 1, n, f) == n);
  CHECK(fclose(f) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(path, sizeof path, "/tmp/ocrpc-fuzz-auth-%ld", (long)getpid());
  const char file[] = "# set\ntok-alpha\n  tok-bravo-2\r\n";
  write_file((const uint8_t *)file, sizeof file - 1);
  char err[256];
  CHECK(auth_tokens_load(path, &set, err, sizeof err) == 0);
  CHECK(auth_tokens_count(set) == 2);
  return 0;
}

/* The rule, written plainly. */
static int reference(const char *v, size_t n) {
  if (n < 7 || strncasecmp(v, "bearer ", 7) != 0)
    return 0;
  size_t i = 7;
  while (i < n && v[i] == ' ')
    i++;
  for (size_t k = 0; k < sizeof tokens / sizeof tokens[0]; k++)
    if (n - i == strlen(tokens[k]) && memcmp(v + i, tokens[k], n - i) == 0)
      return 1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const uint8_t *d = data + 1;
  size_t n = size - 1;
  if ((data[0] & 1) == 0) {
    char *v = malloc(n ? n : 1); /* exact size: ASan sees any overread */
    CHECK(v);
    memcpy(v, d, n);
    CHECK(auth_check_bearer(set, v, n) == reference(v, n));
    free(v);
  } else {
    write_file(d, n);
    auth_tokens *t = NULL;
    char err[512];
    if (auth_tokens_load(path, &t, err, sizeof err) == 0) {
      CHECK(auth_tokens_count(t) > 0);
      auth_tokens_free(t);
    }
  }
  return 0;
}
