/* SPDX-License-Identifier: MIT */
/* config_load: defaults, then environment, then flags; every bad value is
 * ERR_CONFIG with a message naming the setting; --help lists everything. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/err.h"
#include "base/log.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static config cfg;
static char err[512];

static int load(int argc, char **argv, char **env) {
  err[0] = 0;
  return config_load(&cfg, argc, argv, env, stdout, err, sizeof err);
}

static void expect_error(int argc, char **argv, char **env, const char *must_name,
                         const char *must_name2) {
  cr_assert_eq(load(argc, argv, env), ERR_CONFIG, "accepted; err='%s'", err);
  cr_assert_gt(strlen(err), 0, "no message");
  cr_assert_not_null(strstr(err, must_name), "message '%s' does not name '%s'", err,
                     must_name);
  if (must_name2)
    cr_assert_not_null(strstr(err, must_name2), "message '%s' does not name '%s'", err,
                       must_name2);
}

Test(config, defaults) {
  char *argv[] = {"ocrpc-server", NULL};
  cr_assert_eq(config_load(&cfg, 1, argv, NULL, stdout, err, sizeof err), 0);
  cr_assert_str_eq(cfg.host, "::");
  cr_assert_eq(cfg.port, 50051);
  cr_assert_str_eq(cfg.engine, "tesseract");
  cr_assert_str_eq(cfg.image_root, ".");
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  cr_assert_eq(cfg.workers, cores > 0 ? (int)cores : 1);
  cr_assert_str_eq(cfg.language, "korean");
  cr_assert_str_eq(cfg.redis_url, "");
  cr_assert_eq(cfg.max_message_bytes, 100u * 1024 * 1024);
  cr_assert_eq(cfg.log_level, LOG_INFO);
  cr_assert_eq(cfg.max_pixels, 100000000u);
  cr_assert_eq(cfg.max_concurrent_streams, 256);
  cr_assert_eq(cfg.max_header_list_bytes, 65536u);
  cr_assert_eq(cfg.initial_window_bytes, 16u * 1024 * 1024);
  cr_assert_eq(cfg.batch_parallelism, 0);
  cr_assert_eq(cfg.job_ttl_seconds, 86400u);
}

Test(config, environment_overrides_defaults) {
  char *argv[] = {"ocrpc-server"};
  char *env[] = {"PATH=/usr/bin",
                 "GRPC_PORT=6000",
                 "GRPC_HOST=127.0.0.1",
                 "OCR_ENGINE=mock",
                 "OCR_IMAGE_ROOT=/srv/images",
                 "OCR_WORKERS=3",
                 "OCR_DEFAULT_LANGUAGE=eng",
                 "REDIS_URL=redis://localhost:6379/0",
                 "GRPC_MAX_MESSAGE_BYTES=1048576",
                 "LOG_LEVEL=debug",
                 "OCR_MAX_PIXELS=1000",
                 "GRPC_MAX_CONCURRENT_STREAMS=7",
                 "GRPC_MAX_HEADER_LIST_BYTES=2048",
                 "GRPC_INITIAL_WINDOW_BYTES=65535",
                 NULL};
  cr_assert_eq(load(ARGC(argv), argv, env), 0, "%s", err);
  cr_assert_eq(cfg.port, 6000);
  cr_assert_str_eq(cfg.host, "127.0.0.1");
  cr_assert_str_eq(cfg.engine, "mock");
  cr_assert_str_eq(cfg.image_root, "/srv/images");
  cr_assert_eq(cfg.workers, 3);
  cr_assert_str_eq(cfg.language, "eng");
  cr_assert_str_eq(cfg.redis_url, "redis://localhost:6379/0");
  cr_assert_eq(cfg.max_message_bytes, 1048576u);
  cr_assert_eq(cfg.log_level, LOG_DEBUG);
  cr_assert_eq(cfg.max_pixels, 1000u);
  cr_assert_eq(cfg.max_concurrent_streams, 7);
  cr_assert_eq(cfg.max_header_list_bytes, 2048u);
  cr_assert_eq(cfg.initial_window_bytes, 65535u);
}

Test(config, environment_names_match_exactly) {
  char *argv[] = {"ocrpc-server"};
  /* A longer name sharing the prefix, and an empty value, change nothing. */
  char *env[] = {"GRPC_PORTX=1", "GRPC_PORT_=2", "GRPC_HOST=", NULL};
  cr_assert_eq(load(ARGC(argv), argv, env), 0, "%s", err);
  cr_assert_eq(cfg.port, 50051);
  cr_assert_str_eq(cfg.host, "::");
}

Test(config, flag_overrides_environment) {
  char *argv[] = {"ocrpc-server", "--port", "7000", "--engine=tesseract",
                  "--log-level=ERROR"};
  char *env[] = {"GRPC_PORT=6000", "OCR_ENGINE=mock", "LOG_LEVEL=debug", NULL};
  cr_assert_eq(load(ARGC(argv), argv, env), 0, "%s", err);
  cr_assert_eq(cfg.port, 7000);
  cr_assert_str_eq(cfg.engine, "tesseract");
  cr_assert_eq(cfg.log_level, LOG_ERROR);
}

Test(config, flag_equals_and_separate_value_forms) {
  char *argv[] = {"ocrpc-server",
                  "--host=0.0.0.0",
                  "--port",
                  "0",
                  "--image-root",
                  "/tmp",
                  "--workers=2",
                  "--language",
                  "kor+eng",
                  "--redis-url=unix:///r",
                  "--max-pixels",
                  "5",
                  "--max-message-bytes=16",
                  "--max-concurrent-streams",
                  "1",
                  "--max-header-list-bytes=1024",
                  "--initial-window-bytes",
                  "2147483647"};
  cr_assert_eq(load(ARGC(argv), argv, NULL), 0, "%s", err);
  cr_assert_str_eq(cfg.host, "0.0.0.0");
  cr_assert_eq(cfg.port, 0);
  cr_assert_str_eq(cfg.image_root, "/tmp");
  cr_assert_eq(cfg.workers, 2);
  cr_assert_str_eq(cfg.language, "kor+eng");
  cr_assert_str_eq(cfg.redis_url, "unix:///r");
  cr_assert_eq(cfg.max_pixels, 5u);
  cr_assert_eq(cfg.max_message_bytes, 16u);
  cr_assert_eq(cfg.max_concurrent_streams, 1);
  cr_assert_eq(cfg.max_header_list_bytes, 1024u);
  cr_assert_eq(cfg.initial_window_bytes, 2147483647u);
}

Test(config, value_may_contain_equals_and_last_flag_wins) {
  char *argv[] = {"ocrpc-server", "--redis-url=redis://:p=w@h:1/0", "--port=1", "--port",
                  "2"};
  cr_assert_eq(load(ARGC(argv), argv, NULL), 0, "%s", err);
  cr_assert_str_eq(cfg.redis_url, "redis://:p=w@h:1/0");
  cr_assert_eq(cfg.port, 2);
}

Test(config, unknown_flag_is_named) {
  char *argv[] = {"ocrpc-server", "--port=1", "--bogus-flag=3"};
  expect_error(ARGC(argv), argv, NULL, "--bogus-flag", NULL);
  char *argv2[] = {"ocrpc-server", "positional"};
  expect_error(ARGC(argv2), argv2, NULL, "positional", NULL);
  /* A prefix of a real flag is not that flag. */
  char *argv3[] = {"ocrpc-server", "--po=1"};
  expect_error(ARGC(argv3), argv3, NULL, "--po", NULL);
}

Test(config, bad_numbers_name_the_setting) {
  char *a1[] = {"ocrpc-server", "--port=abc"};
  expect_error(ARGC(a1), a1, NULL, "--port", "abc");
  char *a2[] = {"ocrpc-server", "--port", "12x"};
  expect_error(ARGC(a2), a2, NULL, "--port", NULL);
  char *a3[] = {"ocrpc-server", "--port="};
  expect_error(ARGC(a3), a3, NULL, "--port", NULL);
  char *a4[] = {"ocrpc-server", "--max-message-bytes=99999999999999999999999"};
  expect_error(ARGC(a4), a4, NULL, "--max-message-bytes", NULL);
  char *e1[] = {"OCR_WORKERS=many", NULL};
  char *a5[] = {"ocrpc-server"};
  expect_error(ARGC(a5), a5, e1, "OCR_WORKERS", NULL);
}

Test(config, out_of_range_names_the_setting) {
  struct {
    const char *arg, *name;
  } cases[] = {
      {"--port=65536", "--port"},
      {"--port=-1", "--port"},
      {"--workers=0", "--workers"},
      {"--workers=1025", "--workers"},
      {"--max-message-bytes=15", "--max-message-bytes"},
      {"--max-message-bytes=2147483648", "--max-message-bytes"},
      {"--max-pixels=0", "--max-pixels"},
      {"--max-concurrent-streams=0", "--max-concurrent-streams"},
      {"--max-header-list-bytes=1023", "--max-header-list-bytes"},
      {"--initial-window-bytes=65534", "--initial-window-bytes"},
      {"--initial-window-bytes=2147483648", "--initial-window-bytes"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *argv[] = {"ocrpc-server", (char *)cases[i].arg};
    expect_error(2, argv, NULL, cases[i].name, NULL);
  }
  char *env[] = {"GRPC_PORT=70000", NULL};
  char *argv[] = {"ocrpc-server"};
  expect_error(1, argv, env, "GRPC_PORT", NULL);
}

Test(config, bad_enum_names_the_setting) {
  char *a1[] = {"ocrpc-server", "--engine=paddle"};
  expect_error(ARGC(a1), a1, NULL, "--engine", "paddle");
  char *env[] = {"OCR_ENGINE=MOCK", NULL}; /* choices are exact */
  char *a2[] = {"ocrpc-server"};
  expect_error(ARGC(a2), a2, env, "OCR_ENGINE", NULL);
}

Test(config, bad_log_level_names_the_setting) {
  char *a1[] = {"ocrpc-server", "--log-level", "loud"};
  expect_error(ARGC(a1), a1, NULL, "--log-level", "loud");
  char *env[] = {"LOG_LEVEL=verbose", NULL};
  char *a2[] = {"ocrpc-server"};
  expect_error(ARGC(a2), a2, env, "LOG_LEVEL", NULL);
  char *a3[] = {"ocrpc-server", "--log-level=warn"};
  cr_assert_eq(load(ARGC(a3), a3, NULL), 0);
  cr_assert_eq(cfg.log_level, LOG_WARN);
}

Test(config, string_too_long_names_the_setting) {
  char big[300];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  char arg[320];
  snprintf(arg, sizeof arg, "--host=%s", big);
  char *argv[] = {"ocrpc-server", arg};
  expect_error(ARGC(argv), argv, NULL, "--host", NULL);
}

Test(config, flag_missing_its_value) {
  char *argv[] = {"ocrpc-server", "--port"};
  expect_error(ARGC(argv), argv, NULL, "--port", NULL);
  char *argv2[] = {"ocrpc-server", "--engine=mock", "--image-root"};
  expect_error(ARGC(argv2), argv2, NULL, "--image-root", NULL);
}

Test(config, help_prints_every_flag_and_environment_name) {
  static const char *names[] = {"--host",
                                "GRPC_HOST",
                                "--port",
                                "GRPC_PORT",
                                "--engine",
                                "OCR_ENGINE",
                                "--image-root",
                                "OCR_IMAGE_ROOT",
                                "--workers",
                                "OCR_WORKERS",
                                "--language",
                                "OCR_DEFAULT_LANGUAGE",
                                "--redis-url",
                                "REDIS_URL",
                                "--max-message-bytes",
                                "GRPC_MAX_MESSAGE_BYTES",
                                "--log-level",
                                "LOG_LEVEL",
                                "--max-pixels",
                                "OCR_MAX_PIXELS",
                                "--max-concurrent-streams",
                                "GRPC_MAX_CONCURRENT_STREAMS",
                                "--max-header-list-bytes",
                                "GRPC_MAX_HEADER_LIST_BYTES",
                                "--initial-window-bytes",
                                "GRPC_INITIAL_WINDOW_BYTES",
                                "--batch-parallelism",
                                "OCR_BATCH_PARALLELISM",
                                "--job-ttl-seconds",
                                "OCR_JOB_TTL_SECONDS",
                                "--help"};
  const char *forms[] = {"--help", "-h"};
  for (size_t f = 0; f < 2; f++) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cr_assert_not_null(out);
    char *argv[] = {"ocrpc-server", "--port=1", (char *)forms[f], "--bogus"};
    /* --help wins over what follows it. */
    int rc = config_load(&cfg, ARGC(argv), argv, NULL, out, err, sizeof err);
    fclose(out);
    cr_assert_eq(rc, 1, "%s returned %d", forms[f], rc);
    cr_assert_not_null(strstr(text, "ocrpc-server"), "usage names the program");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      cr_assert_not_null(strstr(text, names[i]), "--help does not mention %s", names[i]);
    free(text);
  }
}

Test(config, result_cache_is_auto_on_with_redis_and_can_be_forced) {
  char *argv[] = {"ocrpc-server", NULL};
  cr_assert_eq(config_load(&cfg, 1, argv, NULL, stdout, err, sizeof err), 0);
  cr_assert_str_eq(cfg.result_cache, "auto");
  cr_assert_eq(cfg.result_cache_ttl_seconds, 86400u);
  cr_assert_not(config_result_cache_on(&cfg), "auto without Redis is off");

  char *env[] = {"REDIS_URL=redis://localhost:6379/0", NULL};
  cr_assert_eq(config_load(&cfg, 1, argv, env, stdout, err, sizeof err), 0);
  cr_assert(config_result_cache_on(&cfg), "auto with Redis is on");

  char *off[] = {"ocrpc-server", "--result-cache", "off", "--result-cache-ttl-seconds=60"};
  cr_assert_eq(config_load(&cfg, ARGC(off), off, env, stdout, err, sizeof err), 0, "%s",
               err);
  cr_assert_not(config_result_cache_on(&cfg));
  cr_assert_eq(cfg.result_cache_ttl_seconds, 60u);

  char *on_env[] = {"OCR_RESULT_CACHE=on", NULL};
  cr_assert_eq(config_load(&cfg, 1, argv, on_env, stdout, err, sizeof err), 0);
  cr_assert(config_result_cache_on(&cfg), "forced on without Redis");

  char *bad[] = {"ocrpc-server", "--result-cache=maybe"};
  expect_error(ARGC(bad), bad, NULL, "--result-cache", NULL);
  char *bad_ttl[] = {"ocrpc-server", "--result-cache-ttl-seconds=0"};
  expect_error(ARGC(bad_ttl), bad_ttl, NULL, "--result-cache-ttl-seconds", NULL);
}

/* The default image root (the working directory) on a non-loopback
 * address is reported for the start-up warning; loopback, or another
 * root, is not. */
Test(config, workdir_exposed_on_non_loopback_only) {
  char root[4096];
  char *any[] = {"ocrpc-server", "--host", "::", NULL};
  cr_assert_eq(config_load(&cfg, 3, any, NULL, stdout, err, sizeof err), 0);
  cr_assert_eq(config_workdir_exposed(&cfg, root, sizeof root), 1);
  char *v4[] = {"ocrpc-server", "--host", "0.0.0.0", NULL};
  cr_assert_eq(config_load(&cfg, 3, v4, NULL, stdout, err, sizeof err), 0);
  cr_assert_eq(config_workdir_exposed(&cfg, root, sizeof root), 1);
  const char *loopbacks[] = {"127.0.0.1", "::1", "127.1.2.3", "::ffff:127.0.0.1"};
  for (size_t i = 0; i < 4; i++) {
    char *lo[] = {"ocrpc-server", "--host", (char *)loopbacks[i], NULL};
    cr_assert_eq(config_load(&cfg, 3, lo, NULL, stdout, err, sizeof err), 0);
    cr_assert_eq(config_workdir_exposed(&cfg, root, sizeof root), 0, "%s", loopbacks[i]);
  }
  char *other[] = {"ocrpc-server", "--host", "::", "--image-root", "/", NULL};
  cr_assert_eq(config_load(&cfg, 5, other, NULL, stdout, err, sizeof err), 0);
  char cwd[4096];
  cr_assert_not_null(getcwd(cwd, sizeof cwd));
  if (strcmp(cwd, "/") != 0)
    cr_assert_eq(config_workdir_exposed(&cfg, root, sizeof root), 0);
}
