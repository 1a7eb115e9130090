/* SPDX-License-Identifier: MIT */
/* REDIS_URL parsing: redis://[[user]:password@]host[:port][/db],
 * redis+sentinel://[[user]:password@]host:port,.../mastername[/db] and
 * unix:///path[?db=N]. A malformed URL is a configuration error reported
 * at start, with the part that is wrong, never a silent default. Runs once
 * on the loop thread when the store is built; pure function.
 * Not libcurl's URL API (curl_url, already linked), tried with libcurl
 * 7.88 and CURLU_NON_SUPPORT_SCHEME | CURLU_NO_AUTHORITY: it refuses the
 * sentinel list ("h1:26380,h2/master": bad port), reads unix:///tmp/r.sock
 * as host "tmp" and path "/r.sock", refuses an unencoded '@' in a password
 * (accepted here, as redis-py does) and accepts an empty port ("h:"). Only
 * the host:port of redis:// would fit, so it would be a second parser for
 * one setting rather than a replacement. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/text.h"
#include "jobs_redis_internal.h"

static int fail(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errsize, const char *fmt, ...) {
  if (errsize) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
  }
  return ERR_CONFIG;
}

/* Copies s[0..n) into out (size outsize) with %XX decoded. -1 when a %
 * escape is malformed, decodes to NUL, or the result does not fit. */
static int pct_decode(const char *s, size_t n, char *out, size_t outsize) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '%') {
      int hi, lo;
      if (i + 2 >= n || (hi = text_hex_digit(s[i + 1])) < 0 ||
          (lo = text_hex_digit(s[i + 2])) < 0)
        return -1;
      c = (char)(hi * 16 + lo);
      if (c == 0)
        return -1;
      i += 2;
    }
    if (o + 1 >= outsize)
      return -1;
    out[o++] = c;
  }
  out[o] = 0;
  return 0;
}

/* A decimal number in [min, max] made of all n bytes at s; -1 otherwise. */
static long parse_uint(const char *s, size_t n, long min, long max) {
  if (n == 0 || n > 10)
    return -1;
  long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v >= min && v <= max ? v : -1;
}

static int parse_unix(const char *url, const char *rest, jobs__redis_url *u, char *err,
                      size_t errsize) {
  if (rest[0] != '/')
    return fail(err, errsize, "REDIS_URL %s: unix:// needs an absolute path (unix:///path)",
                url);
  const char *q = strchr(rest, '?');
  size_t plen = q ? (size_t)(q - rest) : strlen(rest);
  if (plen < 2)
    return fail(err, errsize, "REDIS_URL %s: empty socket path", url);
  if (plen >= sizeof u->path)
    return fail(err, errsize, "REDIS_URL %s: socket path longer than %zu bytes", url,
                sizeof u->path - 1);
  memcpy(u->path, rest, plen);
  u->path[plen] = 0;
  if (q) {
    long db;
    if (strncmp(q + 1, "db=", 3) != 0 ||
        (db = parse_uint(q + 4, strlen(q + 4), 0, 1000000)) < 0)
      return fail(err, errsize, "REDIS_URL %s: the only query allowed is ?db=N", url);
    u->db = (int)db;
  }
  u->is_unix = 1;
  return 0;
}

/* host[:port] in [p, end) into host and *port (left as is when absent);
 * host may be an [IPv6] literal. */
static int parse_hostport(const char *url, const char *p, const char *hp_end, char *hostout,
                          size_t hostsize, int *portout, char *err, size_t errsize) {
  const char *host = p, *host_end, *port = NULL;
  if (*p == '[') {
    host = p + 1;
    host_end = memchr(host, ']', (size_t)(hp_end - host));
    if (!host_end)
      return fail(err, errsize, "REDIS_URL %s: unterminated [IPv6] host", url);
    if (host_end + 1 < hp_end) {
      if (host_end[1] != ':')
        return fail(err, errsize, "REDIS_URL %s: junk after ]", url);
      port = host_end + 2;
    }
  } else {
    host_end = memchr(p, ':', (size_t)(hp_end - p));
    if (host_end)
      port = host_end + 1;
    else
      host_end = hp_end;
  }
  size_t hlen = (size_t)(host_end - host);
  if (hlen == 0)
    return fail(err, errsize, "REDIS_URL %s: the host is missing", url);
  if (hlen >= hostsize)
    return fail(err, errsize, "REDIS_URL %s: host name too long", url);
  for (size_t i = 0; i < hlen; i++) {
    char c = host[i];
    if (!(c == '.' || c == '-' || c == '_' || c == ':' || (c >= '0' && c <= '9') ||
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) ||
        (c == ':' && *p != '['))
      return fail(err, errsize, "REDIS_URL %s: bad character in the host", url);
  }
  memcpy(hostout, host, hlen);
  hostout[hlen] = 0;
  if (port) {
    long v = parse_uint(port, (size_t)(hp_end - port), 1, 65535);
    if (v < 0)
      return fail(err, errsize, "REDIS_URL %s: the port must be a number in 1..65535", url);
    *portout = (int)v;
  }
  return 0;
}

int jobs__redis_url_parse(const char *url, jobs__redis_url *u, char *err, size_t errsize) {
  memset(u, 0, sizeof *u);
  if (errsize)
    err[0] = 0;
  u->port = 6379;
  if (!url || !*url)
    return fail(err, errsize, "REDIS_URL is empty");
  for (const char *c = url; *c; c++)
    if ((unsigned char)*c <= 0x20 || *c == 0x7f)
      return fail(err, errsize, "REDIS_URL contains a space or control character");
  if (strncmp(url, "unix://", 7) == 0)
    return parse_unix(url, url + 7, u, err, errsize);
  int sentinel = strncmp(url, "redis+sentinel://", 17) == 0;
  if (!sentinel && strncmp(url, "redis://", 8) != 0)
    return fail(err, errsize,
                "REDIS_URL %s: expected redis://[:password@]host:port/db, "
                "redis+sentinel://host:port,host:port/mastername or unix:///path",
                url);
  const char *p = url + (sentinel ? 17 : 8);
  const char *slash = strchr(p, '/');
  const char *auth_end = NULL;
  /* The userinfo ends at the last '@' before the path: passwords may hold
   * an '@' even unencoded. */
  for (const char *c = p; *c && c != slash; c++)
    if (*c == '@')
      auth_end = c;
  if (auth_end) {
    const char *colon = memchr(p, ':', (size_t)(auth_end - p));
    if (!colon)
      return fail(err, errsize,
                  "REDIS_URL: userinfo must be [user]:password@ (a colon is missing)");
    if (pct_decode(p, (size_t)(colon - p), u->user, sizeof u->user))
      return fail(err, errsize, "REDIS_URL: bad user name (length or %% escape)");
    if (pct_decode(colon + 1, (size_t)(auth_end - colon - 1), u->password,
                   sizeof u->password))
      return fail(err, errsize, "REDIS_URL: bad password (length or %% escape)");
    u->has_password = 1;
    p = auth_end + 1;
  }
  const char *hp_end = slash ? slash : p + strlen(p);
  if (sentinel) {
    if (!slash || !slash[1])
      return fail(err, errsize, "REDIS_URL %s: the master name is missing (/mastername)",
                  url);
    const char *h = p;
    for (;;) {
      const char *comma = memchr(h, ',', (size_t)(hp_end - h));
      const char *e = comma ? comma : hp_end;
      if (e == h)
        return fail(err, errsize, "REDIS_URL %s: an empty sentinel address", url);
      if (u->nsentinels == JOBS_REDIS_MAX_SENTINELS)
        return fail(err, errsize, "REDIS_URL %s: more than %d sentinels", url,
                    JOBS_REDIS_MAX_SENTINELS);
      u->sentinels[u->nsentinels].port = 26379;
      int rc = parse_hostport(url, h, e, u->sentinels[u->nsentinels].host,
                              sizeof u->sentinels[0].host,
                              &u->sentinels[u->nsentinels].port, err, errsize);
      if (rc)
        return rc;
      u->nsentinels++;
      if (!comma)
        break;
      h = comma + 1;
    }
    const char *name = slash + 1, *name_end = strchr(name, '/');
    size_t nlen = name_end ? (size_t)(name_end - name) : strlen(name);
    if (nlen == 0 || nlen >= sizeof u->master_name)
      return fail(err, errsize, "REDIS_URL %s: bad master name", url);
    for (size_t i = 0; i < nlen; i++)
      if (name[i] == '%' || name[i] == '?')
        return fail(err, errsize, "REDIS_URL %s: bad character in the master name", url);
    memcpy(u->master_name, name, nlen);
    u->master_name[nlen] = 0;
    u->sentinel = 1;
    /* The master's address comes from the sentinels. */
    snprintf(u->host, sizeof u->host, "%s", u->sentinels[0].host);
    slash = name_end;
  } else {
    int rc =
        parse_hostport(url, p, hp_end, u->host, sizeof u->host, &u->port, err, errsize);
    if (rc)
      return rc;
  }
  if (slash && slash[1]) {
    long db = parse_uint(slash + 1, strlen(slash + 1), 0, 1000000);
    if (db < 0)
      return fail(err, errsize, "REDIS_URL %s: the database after / must be a number", url);
    u->db = (int)db;
  }
  return 0;
}
