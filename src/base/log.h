/* SPDX-License-Identifier: MIT */
/* Leveled logging to stderr. Each line is written with one write(2), so
 * lines from worker threads never interleave. The level is set once at
 * start (before threads exist) and only read afterwards. */
#ifndef OCRPC_BASE_LOG_H
#define OCRPC_BASE_LOG_H

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

extern int log_level_;

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
