/* SPDX-License-Identifier: MIT */
/* The process_* metrics every Prometheus client library exports (the
 * names and units of client_golang's process collector), read from /proc
 * when /metrics is rendered: nothing is counted between scrapes. Linux
 * only. Loop thread. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "err.h"
#include "ocrpc_alloc.h"
#include "metrics.h"

typedef struct proc_metrics {
  metric *cpu, *open_fds, *max_fds, *vsize, *rss, *start;
  double start_time; /* Unix seconds, read once */
} proc_metrics;

/* The fields after "(comm)" in /proc/self/stat; the command name may hold
 * spaces and parentheses, so the scan starts after the last ')'. Fields 14,
 * 15 (utime, stime: clock ticks), 22 (starttime: ticks after boot), 23
 * (vsize: bytes), 24 (rss: pages). Returns 0 or ERR_IO. */
static int read_stat(unsigned long long *utime, unsigned long long *stime,
                     unsigned long long *starttime, unsigned long long *vsize,
                     long long *rss) {
  char line[1024];
  FILE *f = fopen("/proc/self/stat", "re");
  if (!f)
    return ERR_IO;
  size_t n = fread(line, 1, sizeof line - 1, f);
  fclose(f);
  line[n] = 0;
  char *p = strrchr(line, ')');
  if (!p)
    return ERR_IO;
  /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
   * utime stime cutime cstime priority nice threads itreal starttime vsize
   * rss */
  int got = sscanf(p + 1,
                   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                   "%*d %*d %llu %llu %lld",
                   utime, stime, starttime, vsize, rss);
  return got == 5 ? 0 : ERR_IO;
}

/* Boot time (Unix seconds) from /proc/stat's btime line; 0 if unknown. */
static double boot_time(void) {
  FILE *f = fopen("/proc/stat", "re");
  if (!f)
    return 0;
  char line[256];
  double bt = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long long v;
    if (sscanf(line, "btime %llu", &v) == 1) {
      bt = (double)v;
      break;
    }
  }
  fclose(f);
  return bt;
}

static double count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return 0;
  double n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1; /* the directory's own descriptor */
}

static void collect(void *ud) {
  proc_metrics *pm = ud;
  long tck = sysconf(_SC_CLK_TCK);
  long page = sysconf(_SC_PAGESIZE);
  unsigned long long ut, st, start, vsize;
  long long rss;
  if (tck > 0 && read_stat(&ut, &st, &start, &vsize, &rss) == 0) {
    metric_set(pm->cpu, (double)(ut + st) / (double)tck);
    metric_set(pm->vsize, (double)vsize);
    metric_set(pm->rss, (double)rss * (double)(page > 0 ? page : 4096));
  }
  metric_set(pm->open_fds, count_fds());
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    metric_set(pm->max_fds, rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
  metric_set(pm->start, pm->start_time);
}

int metrics_process_register(metrics *m) {
  proc_metrics *pm = ocrpc_calloc(1, sizeof *pm);
  struct {
    metric **slot;
    metric_type type;
    const char *name, *help;
  } fams[] = {
      {&pm->cpu, METRIC_COUNTER, "process_cpu_seconds_total",
       "Total user and system CPU time spent in seconds."},
      {&pm->open_fds, METRIC_GAUGE, "process_open_fds", "Number of open file descriptors."},
      {&pm->max_fds, METRIC_GAUGE, "process_max_fds",
       "Maximum number of open file descriptors."},
      {&pm->vsize, METRIC_GAUGE, "process_virtual_memory_bytes",
       "Virtual memory size in bytes."},
      {&pm->rss, METRIC_GAUGE, "process_resident_memory_bytes",
       "Resident memory size in bytes."},
      {&pm->start, METRIC_GAUGE, "process_start_time_seconds",
       "Start time of the process since unix epoch in seconds."},
  };
  for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
    metric_family *f =
        metrics_family(m, fams[i].type, fams[i].name, fams[i].help, 0, NULL, NULL, 0);
    *fams[i].slot = metrics_series(f, NULL);
    if (!*fams[i].slot)
      goto fail;
  }
  unsigned long long ut, st, start, vsize;
  long long rss;
  long tck = sysconf(_SC_CLK_TCK);
  if (tck > 0 && read_stat(&ut, &st, &start, &vsize, &rss) == 0)
    pm->start_time = boot_time() + (double)start / (double)tck;
  /* The registry frees pm with itself. */
  if (metrics_on_collect(m, collect, pm, free))
    goto fail;
  return 0;
fail:
  free(pm);
  return ERR_INVAL;
}
