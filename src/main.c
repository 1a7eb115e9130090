/* SPDX-License-Identifier: MIT */
/* ocrpc-server: reads the configuration (defaults, environment, flags) and
 * hands it to the loop, which wires the layers together. */
#include <stdio.h>

#include "base/config.h"
#include "base/log.h"
#include "loop/loop.h"

extern char **environ;

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
  return loop_run(&cfg);
}
