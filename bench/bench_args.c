/* SPDX-License-Identifier: MIT */
/* ocrpc-bench's command line: defaults, then $OCRPC_TARGET, then flags;
 * every bad value is an error naming the flag. Main thread, before the
 * load threads start. */
#include "bench_args.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "base/version.h"
#include "client/client.h"

static const char usage[] =
    "usage: ocrpc-bench [options] [host:port]\n"
    "Load generator for ocrpc's OCRService: -c connections x -m concurrent\n"
    "streams each, closed loop, or open loop at --rate (latency then counts\n"
    "from each request's intended send time). Every response is checked.\n"
    "\n"
    "  -s, --server HOST:PORT  server (default $OCRPC_TARGET or localhost:50051)\n"
    "  -M, --method NAME       ExtractText (default), CheckHealth, ExtractTextBatch\n"
    "                          (also: extract, health, batch)\n"
    "  -c, --connections N     connections (default 1)\n"
    "  -m, --streams N         concurrent calls per connection (default 1)\n"
    "  -t, --threads N         load threads, connections split among them\n"
    "                          (default 1)\n"
    "  -n, --requests N        stop after N requests\n"
    "  -d, --duration D        run for D (e.g. 10s, 500ms, 2m; default 10s)\n"
    "  -r, --rate R            open loop: R requests/s in total\n"
    "      --path P            image path on the server (default: bench.png,\n"
    "                          enough for --engine mock)\n"
    "      --file F            read image F and send it inline (image_data)\n"
    "      --list FILE         server paths, one per line, used in turn\n"
    "      --language L        OCR language (server default when absent)\n"
    "      --angle             use_angle_cls\n"
    "      --batch-size N      images per ExtractTextBatch request (default:\n"
    "                          the --list entries, or 4)\n"
    "      --timeout D         per-call deadline (default 30s)\n"
    "      --allow-failure     an OCR answer with status FAILURE is not an error\n"
    "      --use-cache         let the server answer from its result cache\n"
    "                          (default: requests carry options{cache: off}, so\n"
    "                          every call is recognised)\n"
    "      --json              print the result as one JSON object\n"
    "      --no-progress       no per-second progress line on a TTY\n"
    "  -h, --help              this text\n"
    "      --version           print the version and exit\n"
    "\n"
    "Exit status: 0 no errors, 1 some calls failed, 2 usage error,\n"
    "3 no call succeeded.\n";

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static int parse_int(const char *s, long lo, long hi, long *out) {
  char *end;
  if (!s || !*s)
    return -1;
  long v = strtol(s, &end, 10);
  if (*end || v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}

const char *bench_method_name(int method) {
  switch (method) {
  case BENCH_HEALTH:
    return "CheckHealth";
  case BENCH_BATCH:
    return "ExtractTextBatch";
  default:
    return "ExtractText";
  }
}

static int parse_method(const char *s, int *out) {
  if (!strcmp(s, "ExtractText") || !strcmp(s, "extract"))
    *out = BENCH_EXTRACT;
  else if (!strcmp(s, "CheckHealth") || !strcmp(s, "health"))
    *out = BENCH_HEALTH;
  else if (!strcmp(s, "ExtractTextBatch") || !strcmp(s, "batch"))
    *out = BENCH_BATCH;
  else
    return -1;
  return 0;
}

int bench_args_parse(int argc, char **argv, const char *env_target, bench_opts *o,
                     FILE *help, char *err, size_t errlen) {
  memset(o, 0, sizeof *o);
  o->target = env_target && *env_target ? env_target : "localhost:50051";
  o->conns = o->streams = o->threads = 1;
  o->timeout_ms = 30000;
  o->progress = -1;
  int have_n = 0, have_d = 0, have_target = 0;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v;
    char name[64];
    a = text_split_flag(a, name, sizeof name, &v); /* --name=value too */
#define FLAG(s, l) (!strcmp(a, s) || !strcmp(a, l))
#define VALUE()                                                                            \
  do {                                                                                     \
    if (!v) {                                                                              \
      if (i + 1 >= argc)                                                                   \
        return fail(err, errlen, "%s needs a value", a);                                   \
      v = argv[++i];                                                                       \
    }                                                                                      \
  } while (0)
    long n;
    if (FLAG("-h", "--help")) {
      fputs(usage, help);
      return 1;
    } else if (!strcmp(a, "--version")) {
      fprintf(help, "ocrpc-bench %s\n", OCRPC_VERSION);
      return 1;
    } else if (FLAG("-s", "--server")) {
      VALUE();
      o->target = v;
      have_target = 1;
    } else if (FLAG("-M", "--method")) {
      VALUE();
      if (parse_method(v, &o->method))
        return fail(err, errlen, "--method: unknown method \"%s\"", v);
    } else if (FLAG("-c", "--connections")) {
      VALUE();
      if (parse_int(v, 1, 10000, &n))
        return fail(err, errlen, "-c: \"%s\" is not a number from 1 to 10000", v);
      o->conns = (int)n;
    } else if (FLAG("-m", "--streams")) {
      VALUE();
      if (parse_int(v, 1, 100000, &n))
        return fail(err, errlen, "-m: \"%s\" is not a number from 1 to 100000", v);
      o->streams = (int)n;
    } else if (FLAG("-t", "--threads")) {
      VALUE();
      if (parse_int(v, 1, 256, &n))
        return fail(err, errlen, "-t: \"%s\" is not a number from 1 to 256", v);
      o->threads = (int)n;
    } else if (FLAG("-n", "--requests")) {
      VALUE();
      if (parse_int(v, 1, 2000000000L, &n))
        return fail(err, errlen, "-n: \"%s\" is not a positive number", v);
      o->requests = (uint64_t)n;
      have_n = 1;
    } else if (FLAG("-d", "--duration")) {
      VALUE();
      if (client_duration_parse(v, &o->duration_ms) || o->duration_ms == 0)
        return fail(err, errlen, "-d: \"%s\" is not a duration (e.g. 10s, 500ms)", v);
      have_d = 1;
    } else if (FLAG("-r", "--rate")) {
      VALUE();
      char *end;
      o->rate = strtod(v, &end);
      if (end == v || *end || !(o->rate > 0) || o->rate > 1e7)
        return fail(err, errlen, "--rate: \"%s\" is not a positive rate (req/s)", v);
    } else if (!strcmp(a, "--path")) {
      VALUE();
      o->path = v;
    } else if (!strcmp(a, "--file")) {
      VALUE();
      o->file = v;
    } else if (!strcmp(a, "--list")) {
      VALUE();
      o->list = v;
    } else if (!strcmp(a, "--language")) {
      VALUE();
      o->language = v;
    } else if (!strcmp(a, "--angle")) {
      o->angle = 1;
    } else if (!strcmp(a, "--batch-size")) {
      VALUE();
      if (parse_int(v, 1, 100000, &n))
        return fail(err, errlen, "--batch-size: \"%s\" is not a positive number", v);
      o->batch_size = (int)n;
    } else if (!strcmp(a, "--timeout")) {
      VALUE();
      if (client_duration_parse(v, &o->timeout_ms))
        return fail(err, errlen, "--timeout: \"%s\" is not a duration", v);
    } else if (!strcmp(a, "--allow-failure")) {
      o->allow_failure = 1;
    } else if (!strcmp(a, "--use-cache")) {
      o->use_cache = 1;
    } else if (!strcmp(a, "--json")) {
      o->json = 1;
    } else if (!strcmp(a, "--no-progress")) {
      o->progress = 0;
    } else if (a[0] == '-' && a[1] != '\0') {
      return fail(err, errlen, "unknown option %s", a);
    } else if (!have_target) {
      o->target = a;
      have_target = 1;
    } else {
      return fail(err, errlen, "unexpected argument \"%s\"", a);
    }
#undef FLAG
#undef VALUE
  }
  if (have_n && have_d)
    return fail(err, errlen, "-n and -d exclude each other");
  if (!have_n && !have_d)
    o->duration_ms = 10000;
  int sources = !!o->path + !!o->file + !!o->list;
  if (sources > 1)
    return fail(err, errlen, "--path, --file and --list exclude each other");
  if (o->threads > o->conns)
    return fail(err, errlen, "-t %d: more threads than connections (-c %d)", o->threads,
                o->conns);
  char host[256], port[16];
  if (client_target_parse(o->target, host, sizeof host, port, sizeof port))
    return fail(err, errlen, "bad server address \"%s\" (want host:port)", o->target);
  if (o->batch_size && o->method != BENCH_BATCH)
    return fail(err, errlen, "--batch-size needs --method ExtractTextBatch");
  if (o->json && o->progress < 0)
    o->progress = 0;
  return 0;
}
