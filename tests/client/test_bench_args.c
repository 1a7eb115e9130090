/* SPDX-License-Identifier: MIT */
/* ocrpc-bench's command line: defaults, every flag, and the errors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "bench_args.h"

static bench_opts o;
static char err[256];

#define PARSE(env, ...)                                                                    \
  ({                                                                                       \
    char *argv_[] = {"ocrpc-bench", __VA_ARGS__, NULL};                                    \
    err[0] = '\0';                                                                         \
    bench_args_parse((int)(sizeof argv_ / sizeof argv_[0]) - 1, argv_, env, &o, stdout,    \
                     err, sizeof err);                                                     \
  })

Test(args, defaults) {
  char *argv[] = {"ocrpc-bench", NULL};
  cr_assert_eq(bench_args_parse(1, argv, NULL, &o, stdout, err, sizeof err), 0);
  cr_assert_str_eq(o.target, "localhost:50051");
  cr_assert_eq(o.method, BENCH_EXTRACT);
  cr_assert_eq(o.conns, 1);
  cr_assert_eq(o.streams, 1);
  cr_assert_eq(o.threads, 1);
  cr_assert_eq(o.duration_ms, 10000);
  cr_assert_eq(o.requests, 0);
  cr_assert_eq(o.rate, 0);
  cr_assert_eq(o.timeout_ms, 30000);
  cr_assert_eq(o.progress, -1);
}

Test(args, every_flag) {
  cr_assert_eq(PARSE("envhost:1", "-c", "16", "-m", "10", "-t", "2", "-d", "5s",
                     "--rate=1000", "-M", "CheckHealth", "--language", "eng", "--angle",
                     "--timeout", "250ms", "--allow-failure", "--json", "--path", "x.png",
                     "[::1]:7000"),
               0, "%s", err);
  cr_assert_str_eq(o.target, "[::1]:7000");
  cr_assert_eq(o.conns, 16);
  cr_assert_eq(o.streams, 10);
  cr_assert_eq(o.threads, 2);
  cr_assert_eq(o.duration_ms, 5000);
  cr_assert_eq(o.rate, 1000);
  cr_assert_eq(o.method, BENCH_HEALTH);
  cr_assert_str_eq(o.language, "eng");
  cr_assert(o.angle);
  cr_assert_eq(o.timeout_ms, 250);
  cr_assert(o.allow_failure);
  cr_assert(o.json);
  cr_assert_eq(o.progress, 0); /* --json turns the progress line off */
  cr_assert_str_eq(o.path, "x.png");
}

Test(args, env_target_and_override) {
  cr_assert_eq(PARSE("envhost:1", "-n", "5"), 0);
  cr_assert_str_eq(o.target, "envhost:1");
  cr_assert_eq(o.requests, 5);
  cr_assert_eq(o.duration_ms, 0);
  cr_assert_eq(PARSE("envhost:1", "-s", "other:2", "-M", "batch", "--batch-size", "3"), 0);
  cr_assert_str_eq(o.target, "other:2");
  cr_assert_eq(o.method, BENCH_BATCH);
  cr_assert_eq(o.batch_size, 3);
}

Test(args, errors_name_the_flag) {
  static const struct {
    const char *a, *b, *c;
    const char *want;
  } cases[] = {
      {"-c", "0", NULL, "-c"},
      {"-c", "many", NULL, "-c"},
      {"-m", "-3", NULL, "-m"},
      {"-n", "0", NULL, "-n"},
      {"-d", "forever", NULL, "-d"},
      {"-d", "0s", NULL, "-d"},
      {"--rate", "fast", NULL, "--rate"},
      {"--rate", "0", NULL, "--rate"},
      {"-M", "Nope", NULL, "--method"},
      {"--timeout", "x", NULL, "--timeout"},
      {"--frobnicate", NULL, NULL, "unknown option --frobnicate"},
      {"-c", NULL, NULL, "-c needs a value"},
      {"-n", "5", "-d", "needs a value"},
      {"host:1", "host:2", NULL, "unexpected argument"},
      {"-s", "nohost:", NULL, "bad server address"},
      {"-t", "3", NULL, "more threads than connections"},
      {"--batch-size", "2", NULL, "--batch-size needs --method"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *argv[] = {"ocrpc-bench", (char *)cases[i].a, (char *)cases[i].b,
                    (char *)cases[i].c, NULL};
    int argc = 2 + (cases[i].b != NULL) + (cases[i].c != NULL);
    err[0] = '\0';
    cr_assert_eq(bench_args_parse(argc, argv, NULL, &o, stdout, err, sizeof err), -1,
                 "case %zu accepted", i);
    cr_assert(strstr(err, cases[i].want), "case %zu: \"%s\" lacks \"%s\"", i, err,
              cases[i].want);
  }
  cr_assert_eq(PARSE(NULL, "-n", "5", "-d", "1s"), -1);
  cr_assert(strstr(err, "exclude"));
  cr_assert_eq(PARSE(NULL, "--path", "a", "--file", "b"), -1);
  cr_assert(strstr(err, "exclude"));
}

Test(args, help) {
  char out[4096] = {0};
  FILE *f = fmemopen(out, sizeof out - 1, "w");
  char *argv[] = {"ocrpc-bench", "--help", NULL};
  cr_assert_eq(bench_args_parse(2, argv, NULL, &o, f, err, sizeof err), 1);
  fclose(f);
  cr_assert(strstr(out, "--rate"));
  cr_assert(strstr(out, "intended"));
}
