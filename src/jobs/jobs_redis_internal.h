/* SPDX-License-Identifier: MIT */
/* Shared inside the Redis job store and its tests: REDIS_URL parsing and
 * the JSON form of one image's result as stored in the results hash. Pure
 * functions with no I/O; any thread. */
#ifndef OCRPC_JOBS_REDIS_INTERNAL_H
#define OCRPC_JOBS_REDIS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "jobs.h"

#define JOBS_REDIS_MAX_SENTINELS 8

/* A parsed REDIS_URL. Strings are NUL-terminated and owned by the struct. */
typedef struct jobs__redis_url {
  int is_unix;        /* unix:///path */
  char host[256];     /* TCP: host name or address, without IPv6 brackets */
  int port;           /* TCP: 1..65535, default 6379 */
  char path[108];     /* unix: socket path (sun_path's size) */
  char user[128];     /* AUTH user (Redis 6 ACL); empty: AUTH with the password only */
  char password[256]; /* empty: no AUTH */
  int has_password;
  int db; /* SELECT db when not 0 */
  /* redis+sentinel://: host and port above are the master's, filled in by
   * asking the sentinels; the URL names the sentinels and the master. */
  int sentinel;
  char master_name[128];
  int nsentinels;
  struct {
    char host[256];
    int port; /* default 26379 */
  } sentinels[JOBS_REDIS_MAX_SENTINELS];
} jobs__redis_url;

/* Parses `redis://[[user]:password@]host[:port][/db]` (host may be an
 * [IPv6] literal; user and password are percent-decoded),
 * `unix:///path[?db=N]` and
 * `redis+sentinel://[[user]:password@]host[:port],host[:port].../mastername[/db]`
 * (up to JOBS_REDIS_MAX_SENTINELS sentinels, port 26379 by default; the
 * password is the master's). Returns 0, or ERR_CONFIG with a one-line reason in
 * err (errsize bytes, always NUL-terminated when errsize > 0). */
int jobs__redis_url_parse(const char *url, jobs__redis_url *out, char *err, size_t errsize);

/* Appends s (n bytes) to b as a JSON string literal with quotes. Quotes,
 * backslashes and control characters are escaped; valid UTF-8 passes
 * through unchanged; bytes that are not valid UTF-8 become \ufffd, so the
 * output is always valid JSON. 0 or ERR_NOMEM. */
int jobs__json_escape(buf *b, const char *s, size_t n);

/* Appends the JSON object of one result:
 *   {"index":i,"ok":true,"text":"...","confidence":0.93}
 *   {"index":i,"ok":false,"error":{"code":"..","message":"..","details":".."}}
 * NULL strings are written as "". 0 or ERR_NOMEM. */
int jobs__result_json(buf *b, const jobs_result *r);

/* Parses what jobs__result_json wrote (any JSON object with those members,
 * in any order, unknown members skipped). On success the strings in *r are
 * heap copies the caller frees with jobs__result_clear. 0, ERR_PARSE or
 * ERR_NOMEM (*r is cleared on error). */
int jobs__result_parse(const char *json, size_t n, jobs_result *r);

/* Frees the strings of a result filled by jobs__result_parse. */
void jobs__result_clear(jobs_result *r);

#endif
