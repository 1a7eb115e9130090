/* SPDX-License-Identifier: MIT */
/* libFuzzer target: REDIS_URL parsing (jobs__redis_url_parse), every form:
 * redis://, redis+sentinel:// and unix://. The input, cut at 4 KiB and NUL
 * terminated, is parsed; an accepted URL must give bounded, terminated
 * fields, a rejected one a message. Single thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "jobs_redis_internal.h"

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);             \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char url[4097];
  size_t n = size < sizeof url - 1 ? size : sizeof url - 1;
  memcpy(url, data, n);
  url[n] = 0;
  jobs__redis_url u;
  char err[256];
  int rc = jobs__redis_url_parse(url, &u, err, sizeof err);
  if (rc) {
    CHECK(rc == ERR_CONFIG);
    CHECK(err[0] != 0 && memchr(err, 0, sizeof err) != NULL);
    return 0;
  }
  CHECK(memchr(u.host, 0, sizeof u.host) && memchr(u.path, 0, sizeof u.path));
  CHECK(memchr(u.password, 0, sizeof u.password) && memchr(u.user, 0, sizeof u.user));
  CHECK(u.db >= 0);
  if (u.is_unix) {
    CHECK(u.path[0] == '/');
  } else if (u.sentinel) {
    CHECK(u.nsentinels >= 1 && u.nsentinels <= JOBS_REDIS_MAX_SENTINELS);
    CHECK(u.master_name[0] != 0 && memchr(u.master_name, 0, sizeof u.master_name));
    for (int i = 0; i < u.nsentinels; i++) {
      CHECK(u.sentinels[i].host[0] != 0);
      CHECK(u.sentinels[i].port >= 1 && u.sentinels[i].port <= 65535);
    }
  } else {
    CHECK(u.host[0] != 0 && u.port >= 1 && u.port <= 65535);
  }
  return 0;
}
