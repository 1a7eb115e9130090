/* SPDX-License-Identifier: MIT */
/* ocrpc-server: reads the configuration (defaults, environment, flags) and
 * hands it to the loop, which wires the layers together. */
#include <malloc.h>
#include <stdio.h>

#include "base/access_log.h"
#include "base/config.h"
#include "base/log.h"
#include "loop/loop.h"

extern char **environ;

/* A large request is reassembled into one buffer and decoded into a
 * second: with glibc's defaults both were fresh mmaps (or the heap was
 * trimmed after each call), and a quarter of a 20 MiB upload's server
 * time went to page faults and zeroing new pages (bench/OPTIMISATIONS.md).
 * Serving such buffers from the heap, and keeping up to 256 MiB of free
 * heap, reuses the pages. A threshold glibc refuses stays its default. */
static void tune_malloc(void) {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

int main(int argc, char **argv) {
  static config cfg;
  char err[512];
  int rc = config_load(&cfg, argc, argv, environ, stdout, err, sizeof err);
  if (rc == 1)
    return 0;
  if (rc) {
    fprintf(stderr, "ocrpc-server: %s\n", err);
    return 2;
  }
  log_set_level(cfg.log_level);
  log_set_format(log_format_parse(cfg.log_format));
  access_log_enable(access_log_parse(cfg.access_log));
  tune_malloc();
  return loop_run(&cfg);
}
