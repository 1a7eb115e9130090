/* SPDX-License-Identifier: MIT */
/* The JSON form of one image's result in the Redis results hash: a strict
 * string escaper (OCR text is arbitrary UTF-8 and may hold any control
 * character), the writer, and a small parser for reading results back.
 * Pure functions; any thread (the store calls them on the loop thread). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "jobs_redis_internal.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when the
 * bytes there are not one (overlong forms, surrogates and code points past
 * U+10FFFF are invalid, as RFC 3629 says). */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  unsigned cp, min;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2, cp = c & 0x1f, min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3, cp = c & 0x0f, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return len;
}

int jobs__json_escape(buf *b, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  buf_reserve(b, n + 2);
  buf_append(b, "\"", 1);
  size_t run = 0; /* bytes at p[i - run .. i) that need no escaping */
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i];
    const char *esc = NULL;
    char tmp[8];
    size_t len = 1;
    if (c == '"') {
      esc = "\\\"";
    } else if (c == '\\') {
      esc = "\\\\";
    } else if (c < 0x20) {
      switch (c) {
      case '\b':
        esc = "\\b";
        break;
      case '\f':
        esc = "\\f";
        break;
      case '\n':
        esc = "\\n";
        break;
      case '\r':
        esc = "\\r";
        break;
      case '\t':
        esc = "\\t";
        break;
      default:
        snprintf(tmp, sizeof tmp, "\\u%04x", c);
        esc = tmp;
      }
    } else if (c >= 0x80) {
      len = utf8_len(p + i, n - i);
      if (len == 0) {
        esc = "\\ufffd";
        len = 1;
      }
    }
    if (!esc) {
      run += len;
      i += len;
      continue;
    }
    buf_append(b, p + i - run, run);
    buf_append(b, esc, strlen(esc));
    run = 0;
    i += len;
  }
  buf_append(b, p + i - run, run);
  buf_append(b, "\"", 1);
  return 0;
}

static int put_str(buf *b, const char *s) {
  buf_append(b, s, strlen(s));
  return 0;
}

static int put_member(buf *b, const char *name, const char *value) {
  const char *v = value ? value : "";
  if (put_str(b, ",\"") || put_str(b, name) || put_str(b, "\":"))
    return ERR_NOMEM;
  return jobs__json_escape(b, v, strlen(v));
}

int jobs__result_json(buf *b, const jobs_result *r) {
  char num[64];
  snprintf(num, sizeof num, "{\"index\":%ld,\"ok\":%s", (long)r->index,
           r->ok ? "true" : "false");
  if (put_str(b, num))
    return ERR_NOMEM;
  if (r->ok) {
    /* NaN and infinities have no JSON form. */
    double conf = isfinite(r->confidence) ? (double)r->confidence : 0.0;
    if (put_member(b, "text", r->text))
      return ERR_NOMEM;
    snprintf(num, sizeof num, ",\"confidence\":%.6g}", conf);
    return put_str(b, num);
  }
  if (put_str(b, ",\"error\":{\"code\":") ||
      jobs__json_escape(b, r->error_code ? r->error_code : "",
                        r->error_code ? strlen(r->error_code) : 0) ||
      put_member(b, "message", r->error_message) ||
      put_member(b, "details", r->error_details) || put_str(b, "}}"))
    return ERR_NOMEM;
  return 0;
}

/* ---- parsing ---------------------------------------------------------- */

typedef struct parser {
  const char *p, *end;
  int nomem;
} parser;

static void skip_ws(parser *ps) {
  while (ps->p < ps->end &&
         (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

static int eat(parser *ps, char c) {
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == c) {
    ps->p++;
    return 1;
  }
  return 0;
}

static int hex4(const char *s, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return -1;
  }
  *out = v;
  return 0;
}

static int put_utf8(buf *b, unsigned cp) {
  unsigned char u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (unsigned char)cp, n = 1;
  } else if (cp < 0x800) {
    u[0] = (unsigned char)(0xc0 | cp >> 6), u[1] = (unsigned char)(0x80 | (cp & 0x3f)),
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (unsigned char)(0xe0 | cp >> 12);
    u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    u[2] = (unsigned char)(0x80 | (cp & 0x3f)), n = 3;
  } else {
    u[0] = (unsigned char)(0xf0 | cp >> 18);
    u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    u[3] = (unsigned char)(0x80 | (cp & 0x3f)), n = 4;
  }
  buf_append(b, u, n);
  return 0;
}

/* Parses a string literal into a heap copy (NULL on error; sets nomem when
 * that was the cause). */
static char *parse_string(parser *ps) {
  if (!eat(ps, '"'))
    return NULL;
  buf b = BUF_INIT;
  while (ps->p < ps->end && *ps->p != '"') {
    unsigned char c = (unsigned char)*ps->p;
    int rc = 0;
    if (c < 0x20)
      goto fail; /* raw control characters are not JSON */
    if (c != '\\') {
      buf_append(&b, ps->p++, 1);
    } else {
      if (ps->end - ps->p < 2)
        goto fail;
      char e = ps->p[1];
      ps->p += 2;
      const char *simple = strchr("\"\\/bfnrt", e);
      if (e && simple) {
        static const char map[] = "\"\\/\b\f\n\r\t";
        buf_append(&b, &map[simple - "\"\\/bfnrt"], 1);
      } else if (e == 'u') {
        unsigned cp, lo;
        if (ps->end - ps->p < 4 || hex4(ps->p, &cp))
          goto fail;
        ps->p += 4;
        if (cp >= 0xd800 && cp <= 0xdbff && ps->end - ps->p >= 6 && ps->p[0] == '\\' &&
            ps->p[1] == 'u' && hex4(ps->p + 2, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          ps->p += 6;
        } else if (cp >= 0xd800 && cp <= 0xdfff) {
          cp = 0xfffd; /* a lone surrogate has no UTF-8 form */
        }
        rc = put_utf8(&b, cp);
      } else {
        goto fail;
      }
    }
    if (rc) {
      ps->nomem = 1;
      goto fail;
    }
  }
  if (ps->p >= ps->end)
    goto fail;
  buf_append(&b, "", 1);
  ps->p++; /* closing quote */
  return (char *)buf_steal(&b, NULL);
fail:
  buf_free(&b);
  return NULL;
}

static int parse_number(parser *ps, double *out) {
  skip_ws(ps);
  char tmp[64];
  size_t n = 0;
  while (ps->p + n < ps->end && n < sizeof tmp - 1 && strchr("+-0123456789.eE", ps->p[n]) &&
         ps->p[n])
    n++;
  if (n == 0)
    return -1;
  memcpy(tmp, ps->p, n);
  tmp[n] = 0;
  char *endp;
  *out = strtod(tmp, &endp);
  if (endp != tmp + n)
    return -1;
  ps->p += n;
  return 0;
}

static int parse_literal(parser *ps, const char *lit) {
  skip_ws(ps);
  size_t n = strlen(lit);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
    return -1;
  ps->p += n;
  return 0;
}

static int skip_value(parser *ps, int depth);

static int skip_container(parser *ps, char close, int depth) {
  if (eat(ps, close))
    return 0;
  do {
    if (close == '}') {
      char *k = parse_string(ps);
      if (!k)
        return -1;
      free(k);
      if (!eat(ps, ':'))
        return -1;
    }
    if (skip_value(ps, depth + 1))
      return -1;
  } while (eat(ps, ','));
  return eat(ps, close) ? 0 : -1;
}

/* Skips one value of a member this reader does not know. */
static int skip_value(parser *ps, int depth) {
  if (depth > 16)
    return -1;
  skip_ws(ps);
  if (ps->p >= ps->end)
    return -1;
  double d;
  switch (*ps->p) {
  case '"': {
    char *s = parse_string(ps);
    free(s);
    return s ? 0 : -1;
  }
  case '{':
    ps->p++;
    return skip_container(ps, '}', depth);
  case '[':
    ps->p++;
    return skip_container(ps, ']', depth);
  case 't':
    return parse_literal(ps, "true");
  case 'f':
    return parse_literal(ps, "false");
  case 'n':
    return parse_literal(ps, "null");
  default:
    return parse_number(ps, &d);
  }
}

static int parse_error_object(parser *ps, jobs_result *r) {
  if (!eat(ps, '{'))
    return -1;
  if (eat(ps, '}'))
    return 0;
  do {
    char *k = parse_string(ps);
    if (!k || !eat(ps, ':')) {
      free(k);
      return -1;
    }
    const char **dst = strcmp(k, "code") == 0      ? &r->error_code
                       : strcmp(k, "message") == 0 ? &r->error_message
                       : strcmp(k, "details") == 0 ? &r->error_details
                                                   : NULL;
    free(k);
    if (dst) {
      char *v = parse_string(ps);
      if (!v)
        return -1;
      free((char *)*dst);
      *dst = v;
    } else if (skip_value(ps, 1)) {
      return -1;
    }
  } while (eat(ps, ','));
  return eat(ps, '}') ? 0 : -1;
}

void jobs__result_clear(jobs_result *r) {
  free((char *)r->text);
  free((char *)r->error_code);
  free((char *)r->error_message);
  free((char *)r->error_details);
  memset(r, 0, sizeof *r);
}

int jobs__result_parse(const char *json, size_t n, jobs_result *r) {
  parser ps = {json, json + n, 0};
  memset(r, 0, sizeof *r);
  int have_index = 0, have_ok = 0;
  if (!eat(&ps, '{'))
    goto fail;
  if (!eat(&ps, '}')) {
    do {
      char *k = parse_string(&ps);
      if (!k || !eat(&ps, ':')) {
        free(k);
        goto fail;
      }
      int rc = 0;
      double d;
      if (strcmp(k, "index") == 0) {
        rc = parse_number(&ps, &d);
        if (rc == 0 && (d < 0 || d > INT32_MAX || d != floor(d)))
          rc = -1;
        r->index = (int32_t)d;
        have_index = 1;
      } else if (strcmp(k, "ok") == 0) {
        r->ok = parse_literal(&ps, "true") == 0;
        rc = r->ok ? 0 : parse_literal(&ps, "false");
        have_ok = 1;
      } else if (strcmp(k, "text") == 0) {
        free((char *)r->text);
        r->text = parse_string(&ps);
        rc = r->text ? 0 : -1;
      } else if (strcmp(k, "confidence") == 0) {
        rc = parse_number(&ps, &d);
        r->confidence = (float)d;
      } else if (strcmp(k, "error") == 0) {
        rc = parse_error_object(&ps, r);
      } else {
        rc = skip_value(&ps, 1);
      }
      free(k);
      if (rc)
        goto fail;
    } while (eat(&ps, ','));
    if (!eat(&ps, '}'))
      goto fail;
  }
  skip_ws(&ps);
  if (ps.p != ps.end || !have_index || !have_ok)
    goto fail;
  return 0;
fail:
  jobs__result_clear(r);
  return ps.nomem ? ERR_NOMEM : ERR_PARSE;
}
