/* SPDX-License-Identifier: MIT */
/* Leveled logging: timestamp, level, message, one write(2) per line; as
 * text or as a JSON object ({"time", "level", "msg"}) per line. Any
 * thread. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int log_level_ = LOG_INFO;
int log_format_ = LOG_FORMAT_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(int level) { log_level_ = level; }
void log_set_format(int format) { log_format_ = format; }

int log_level_parse(const char *s) {
  for (int i = 0; i < 4; i++)
    if (strcasecmp(s, level_names[i]) == 0)
      return i;
  return -1;
}

int log_format_parse(const char *s) {
  if (strcasecmp(s, "text") == 0)
    return LOG_FORMAT_TEXT;
  if (strcasecmp(s, "json") == 0)
    return LOG_FORMAT_JSON;
  return -1;
}

static void put2(char *p, int v) {
  p[0] = (char)('0' + v / 10 % 10);
  p[1] = (char)('0' + v % 10);
}

/* The access log asks for a prefix per call: the date and time are
 * formatted once per second (per thread), the milliseconds each time. */
size_t log_prefix(int level, char *out) {
  static __thread time_t cached_sec = -1;
  static __thread char cached[24]; /* "2026-01-02T03:04:05." */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (ts.tv_sec != cached_sec) {
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int y = tm.tm_year + 1900;
    put2(cached, y / 100);
    put2(cached + 2, y);
    cached[4] = '-';
    put2(cached + 5, tm.tm_mon + 1);
    cached[7] = '-';
    put2(cached + 8, tm.tm_mday);
    cached[10] = 'T';
    put2(cached + 11, tm.tm_hour);
    cached[13] = ':';
    put2(cached + 14, tm.tm_min);
    cached[16] = ':';
    put2(cached + 17, tm.tm_sec);
    cached[19] = '.';
    cached_sec = ts.tv_sec;
  }
  int ms = (int)(ts.tv_nsec / 1000000);
  char *p = out;
  if (log_format_ == LOG_FORMAT_JSON) {
    memcpy(p, "{\"time\":\"", 9);
    p += 9;
  }
  memcpy(p, cached, 20);
  p += 20;
  *p++ = (char)('0' + ms / 100);
  put2(p, ms);
  p += 2;
  *p++ = 'Z';
  /* The level part, padded for text ("info  "), or JSON's next key. */
  static const char *const text_levels[] = {" debug ", " info  ", " warn  ", " error "};
  static const char *const json_levels[] = {
      "\",\"level\":\"debug\",", "\",\"level\":\"info\",", "\",\"level\":\"warn\",",
      "\",\"level\":\"error\","};
  if (log_format_ == LOG_FORMAT_JSON) {
    size_t n = strlen(json_levels[level & 3]);
    memcpy(p, json_levels[level & 3], n);
    p += n;
  } else {
    memcpy(p, text_levels[level & 3], 7);
    p += 7;
  }
  return (size_t)(p - out);
}

size_t log_json_escape(char *out, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  char *p = out;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      *p++ = '\\';
      *p++ = (char)c;
    } else if (c == '\n') {
      *p++ = '\\';
      *p++ = 'n';
    } else if (c < 0x20 || c == 0x7f) {
      memcpy(p, "\\u00", 4);
      p[4] = hex[c >> 4];
      p[5] = hex[c & 15];
      p += 6;
    } else {
      *p++ = (char)c; /* UTF-8 passes through */
    }
  }
  return (size_t)(p - out);
}

void log_write(int level, const char *fmt, ...) {
  char line[LOG_PREFIX_MAX + 6 * 1536 + 16], msg[1536];
  size_t n = log_prefix(level, line);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t mlen = m < 0 ? 0 : (size_t)m >= sizeof msg ? sizeof msg - 1 : (size_t)m;
  if (log_format_ == LOG_FORMAT_JSON) {
    /* The escaped message may be up to 6x longer: cut it to fit. */
    size_t room = (sizeof line - n - 16) / 6;
    memcpy(line + n, "\"msg\":\"", 7);
    n += 7;
    n += log_json_escape(line + n, msg, mlen < room ? mlen : room);
    memcpy(line + n, "\"}", 2);
    n += 2;
  } else {
    if (mlen > sizeof line - n - 2)
      mlen = sizeof line - n - 2;
    memcpy(line + n, msg, mlen);
    n += mlen;
  }
  line[n++] = '\n';
  /* A short write to stderr is not worth retrying: logging never blocks
   * the loop on a full pipe beyond one attempt. */
  ssize_t w = write(STDERR_FILENO, line, n);
  (void)w;
}
