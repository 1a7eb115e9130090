/* SPDX-License-Identifier: MIT */
/* REDIS_URL parsing: the accepted forms with their defaults, and a clear
 * ERR_CONFIG for each kind of malformed URL. Pure function. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/err.h"
#include "jobs_redis_internal.h"

static jobs__redis_url parse_ok(const char *url) {
  jobs__redis_url u;
  char err[256] = "untouched";
  int rc = jobs__redis_url_parse(url, &u, err, sizeof err);
  cr_assert_eq(rc, 0, "%s: %s", url, err);
  return u;
}

Test(jobs_url, tcp_forms) {
  jobs__redis_url u = parse_ok("redis://127.0.0.1:6380/2");
  cr_assert_not(u.is_unix);
  cr_assert_str_eq(u.host, "127.0.0.1");
  cr_assert_eq(u.port, 6380);
  cr_assert_eq(u.db, 2);
  cr_assert_not(u.has_password);

  u = parse_ok("redis://localhost");
  cr_assert_str_eq(u.host, "localhost");
  cr_assert_eq(u.port, 6379);
  cr_assert_eq(u.db, 0);

  u = parse_ok("redis://redis.internal:7000/");
  cr_assert_str_eq(u.host, "redis.internal");
  cr_assert_eq(u.port, 7000);
  cr_assert_eq(u.db, 0);

  u = parse_ok("redis://[::1]:6390/15");
  cr_assert_str_eq(u.host, "::1");
  cr_assert_eq(u.port, 6390);
  cr_assert_eq(u.db, 15);
}

Test(jobs_url, passwords) {
  jobs__redis_url u = parse_ok("redis://:s3cret@host:1234/5");
  cr_assert(u.has_password);
  cr_assert_str_eq(u.user, "");
  cr_assert_str_eq(u.password, "s3cret");
  cr_assert_str_eq(u.host, "host");
  cr_assert_eq(u.port, 1234);
  cr_assert_eq(u.db, 5);

  u = parse_ok("redis://worker:p%40ss%3Aw0rd@h:1/0");
  cr_assert_str_eq(u.user, "worker");
  cr_assert_str_eq(u.password, "p@ss:w0rd");

  u = parse_ok("redis://:p@ss@h:2"); /* the last @ ends the userinfo */
  cr_assert_str_eq(u.password, "p@ss");
  cr_assert_str_eq(u.host, "h");

  u = parse_ok("redis://:@h"); /* an empty password is still sent */
  cr_assert(u.has_password);
  cr_assert_str_eq(u.password, "");
}

Test(jobs_url, unix_forms) {
  jobs__redis_url u = parse_ok("unix:///var/run/redis/redis.sock");
  cr_assert(u.is_unix);
  cr_assert_str_eq(u.path, "/var/run/redis/redis.sock");
  cr_assert_eq(u.db, 0);
  u = parse_ok("unix:///tmp/r.sock?db=3");
  cr_assert_str_eq(u.path, "/tmp/r.sock");
  cr_assert_eq(u.db, 3);
}

Test(jobs_url, malformed) {
  char longpath[200] = "unix:///";
  memset(longpath + 8, 'a', 150);
  longpath[158] = 0;
  const char *bad[] = {
      "",
      "localhost:6379",
      "http://localhost:6379",
      "rediss://h:1",
      "redis://",
      "redis://:6379",
      "redis:///0",
      "redis://h:0",
      "redis://h:65536",
      "redis://h:abc",
      "redis://h:",
      "redis://h:1/x",
      "redis://h:1/-1",
      "redis://h:1/1/2",
      "redis://h :1",
      "redis://h\t",
      "redis://[::1",
      "redis://[::1]x",
      "redis://::1:6379",
      "redis://pass@h:1",
      "redis://:%zz@h:1",
      "redis://:%0@h:1",
      "redis://:a%00b@h:1",
      "unix://relative.sock",
      "unix:///",
      "unix:///tmp/r.sock?database=1",
      longpath,
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    jobs__redis_url u;
    char err[256] = "";
    cr_assert_eq(jobs__redis_url_parse(bad[i], &u, err, sizeof err), ERR_CONFIG, "'%s'",
                 bad[i]);
    cr_assert(strstr(err, "REDIS_URL") != NULL, "'%s' -> '%s'", bad[i], err);
  }
}

Test(jobs_url, constructor_reports_config_error) {
  jobs_store *st = (jobs_store *)0x1;
  char err[256] = "";
  /* The URL is checked before the environment is looked at. */
  cr_assert_eq(jobs_redis_new("redis://h:notaport", 1000, NULL, &st, err, sizeof err),
               ERR_CONFIG);
  cr_assert_eq(st, (jobs_store *)0x1, "out is untouched on error");
  cr_assert(strstr(err, "port") != NULL, "%s", err);
}

Test(jobs_url, sentinel_forms) {
  jobs__redis_url u = parse_ok("redis+sentinel://10.0.0.1:26380,[::1],s3/mymaster");
  cr_assert(u.sentinel);
  cr_assert_str_eq(u.master_name, "mymaster");
  cr_assert_eq(u.nsentinels, 3);
  cr_assert_str_eq(u.sentinels[0].host, "10.0.0.1");
  cr_assert_eq(u.sentinels[0].port, 26380);
  cr_assert_str_eq(u.sentinels[1].host, "::1");
  cr_assert_eq(u.sentinels[1].port, 26379, "the sentinel port by default");
  cr_assert_str_eq(u.sentinels[2].host, "s3");
  cr_assert_eq(u.db, 0);
  cr_assert_not(u.has_password);

  u = parse_ok("redis+sentinel://:pw@127.0.0.1:5000/m1/4");
  cr_assert(u.has_password);
  cr_assert_str_eq(u.password, "pw");
  cr_assert_eq(u.nsentinels, 1);
  cr_assert_str_eq(u.master_name, "m1");
  cr_assert_eq(u.db, 4);

  const char *bad[] = {
      "redis+sentinel://127.0.0.1:5000",      /* no master name */
      "redis+sentinel://127.0.0.1:5000/",     /* empty master name */
      "redis+sentinel://127.0.0.1:5000,/m",   /* empty sentinel */
      "redis+sentinel://127.0.0.1:99999/m",   /* port */
      "redis+sentinel://127.0.0.1/m/x",       /* db */
      "redis+sentinel://a,b,c,d,e,f,g,h,i/m", /* 9 sentinels */
      "redis+sentinel://127.0.0.1/m%20x",     /* % in the name */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[256] = "";
    cr_assert_eq(jobs__redis_url_parse(bad[i], &u, err, sizeof err), ERR_CONFIG, "'%s'",
                 bad[i]);
    cr_assert_neq(err[0], 0, "'%s' has a message", bad[i]);
  }
}
