/* SPDX-License-Identifier: MIT */
/* Leveled logging to stderr, as text or as one JSON object per line
 * (--log-format). Each line is written with one write(2), so lines from
 * worker threads never interleave. Level and format are set once at start
 * (before threads exist) and only read afterwards. The access log
 * (access_log.h) shares the format and the level. */
#ifndef OCRPC_BASE_LOG_H
#define OCRPC_BASE_LOG_H

#include <stddef.h>

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

enum { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

extern int log_level_;
extern int log_format_;

/* Sets the format (LOG_FORMAT_*); call before any thread starts. */
void log_set_format(int format);

/* Parses "text" or "json"; returns LOG_FORMAT_* or -1. */
int log_format_parse(const char *s);

/* Writes the line's opening into out (at least LOG_PREFIX_MAX bytes) for
 * `level` at the current time: "2026-01-02T03:04:05.678Z info  " as text,
 * `{"time":"...","level":"info",` as JSON (the caller adds "msg" and the
 * rest). Returns its length. Any thread. */
#define LOG_PREFIX_MAX 64
size_t log_prefix(int level, char *out);

/* Appends s to out (room for 6 * len bytes) with JSON string escapes,
 * without quotes. Returns the bytes written. Any thread. */
size_t log_json_escape(char *out, const char *s, size_t len);

/* Sets the level; call before any thread starts. */
void log_set_level(int level);

/* Parses "debug", "info", "warn", "error"; returns the level or -1. */
int log_level_parse(const char *s);

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The level is checked before the arguments are evaluated. */
#define log_debug(...)                                                                     \
  do {                                                                                     \
    if (log_level_ <= LOG_DEBUG)                                                           \
      log_write(LOG_DEBUG, __VA_ARGS__);                                                   \
  } while (0)
#define log_info(...)                                                                      \
  do {                                                                                     \
    if (log_level_ <= LOG_INFO)                                                            \
      log_write(LOG_INFO, __VA_ARGS__);                                                    \
  } while (0)
#define log_warn(...)                                                                      \
  do {                                                                                     \
    if (log_level_ <= LOG_WARN)                                                            \
      log_write(LOG_WARN, __VA_ARGS__);                                                    \
  } while (0)
#define log_error(...)                                                                     \
  do {                                                                                     \
    if (log_level_ <= LOG_ERROR)                                                           \
      log_write(LOG_ERROR, __VA_ARGS__);                                                   \
  } while (0)

#endif
