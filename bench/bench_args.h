/* SPDX-License-Identifier: MIT */
/* Command line of ocrpc-bench: parsed once into bench_opts, validated,
 * then read-only (shared by the load threads). */
#ifndef OCRPC_BENCH_ARGS_H
#define OCRPC_BENCH_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { BENCH_EXTRACT = 0, BENCH_HEALTH, BENCH_BATCH };

typedef struct bench_opts {
  const char *target;   /* host:port */
  int method;           /* BENCH_* */
  int conns;            /* -c */
  int streams;          /* -m, per connection */
  int threads;          /* -t */
  uint64_t requests;    /* -n; 0 when running for a duration */
  uint64_t duration_ms; /* -d; 0 when counting requests */
  double rate;          /* --rate, total req/s; 0: closed loop */
  const char *path;     /* --path: server-side image path */
  const char *file;     /* --file: image sent inline */
  const char *list;     /* --list: server-side paths, one per line */
  const char *language;
  int angle;
  int batch_size;      /* images per ExtractTextBatch request */
  uint64_t timeout_ms; /* per call */
  int allow_failure;
  int use_cache; /* --use-cache: requests may be answered from the result cache */
  int json;
  int progress; /* -1: when stdout is a TTY; 0 off */
} bench_opts;

/* Parses argv into o (defaults first; `env_target` is $OCRPC_TARGET or
 * NULL). Returns 0; 1 when --help or --version was printed to `help`; -1 with a
 * message in err for a usage error. argv strings are borrowed. */
int bench_args_parse(int argc, char **argv, const char *env_target, bench_opts *o,
                     FILE *help, char *err, size_t errlen);

/* "ExtractText", "CheckHealth", "ExtractTextBatch". */
const char *bench_method_name(int method);

#endif
