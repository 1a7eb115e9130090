/* SPDX-License-Identifier: MIT */
/* Names of job states, as stored in Redis and shown to pollers. */
#include <string.h>

#include "jobs.h"

static const char *const names[] = {"PENDING", "IN_PROGRESS", "SUCCESS",
                                    "FAILURE", "CANCELLED",   "ABANDONED"};

const char *jobs_state_name(jobs_state st) {
  return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "UNKNOWN";
}

int jobs_state_parse(const char *name) {
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(names[i], name) == 0)
      return (int)i;
  return -1;
}
