/* SPDX-License-Identifier: MIT */
/* Test helpers: temporary directories, ImageMagick renders, file I/O and
 * a thread count. Run on the test's main thread; nothing here is used by
 * the server. */
#define _GNU_SOURCE
#include "ocr_test_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *otu_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  char tmpl[4096];

  if (base == NULL || base[0] == '\0')
    base = "/tmp";
  snprintf(tmpl, sizeof(tmpl), "%s/ocrpc-test.XXXXXX", base);
  if (mkdtemp(tmpl) == NULL)
    return NULL;
  return strdup(tmpl);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

void otu_rmtree(const char *dir) {
  if (dir == NULL)
    return;
  /* FTW_PHYS: a symlink a test planted is removed, never followed. */
  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *otu_join(char *buf, size_t size, const char *dir, const char *name) {
  snprintf(buf, size, "%s/%s", dir, name);
  return buf;
}

int otu_run(const char *const argv[]) {
  pid_t pid;
  int status;

  fflush(NULL);
  pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
      dup2(null, 1);
      close(null);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char *otu_font(const char *name) {
  static char found[2][4096];
  static const char *names[2];
  char cmd[256];
  FILE *p;
  int i;

  for (i = 0; i < 2; i++)
    if (names[i] != NULL && strcmp(names[i], name) == 0)
      return found[i];
  for (i = 0; i < 2 && names[i] != NULL; i++)
    ;
  if (i == 2)
    i = 0;
  snprintf(cmd, sizeof(cmd), "/usr/bin/fc-match -f '%%{file}' '%s'", name);
  p = popen(cmd, "r");
  if (p == NULL)
    return NULL;
  if (fgets(found[i], sizeof(found[i]), p) == NULL) {
    pclose(p);
    return NULL;
  }
  pclose(p);
  if (access(found[i], R_OK) != 0)
    return NULL;
  names[i] = name;
  return found[i];
}

int otu_render(const char *out, const char *size, const char *font, int pointsize, int x,
               int y, const char *text) {
  char ps[16], pos[32];
  const char *argv[] = {OTU_CONVERT, "-size",      size, "xc:white", "-font",
                        font,        "-pointsize", ps,   "-fill",    "black",
                        "-annotate", pos,          text, out,        NULL};

  if (font == NULL)
    return -1;
  snprintf(ps, sizeof(ps), "%d", pointsize);
  snprintf(pos, sizeof(pos), "+%d+%d", x, y);
  return otu_run(argv);
}

int otu_convert(const char *in, const char *out, const char *const extra[]) {
  const char *argv[32];
  int n = 0, i;

  argv[n++] = OTU_CONVERT;
  argv[n++] = in;
  for (i = 0; extra != NULL && extra[i] != NULL && n < 29; i++)
    argv[n++] = extra[i];
  argv[n++] = out;
  argv[n] = NULL;
  return otu_run(argv);
}

uint8_t *otu_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long n;

  if (f == NULL)
    return NULL;
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return NULL;
  }
  buf = malloc((size_t)n + 1);
  if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    fclose(f);
    return NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

int otu_write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  int rc = 0;

  if (f == NULL)
    return -1;
  if (len > 0 && fwrite(data, 1, len, f) != len)
    rc = -1;
  if (fclose(f) != 0)
    rc = -1;
  return rc;
}

int otu_thread_count(void) {
  DIR *d = opendir("/proc/self/task");
  struct dirent *de;
  int n = 0;

  if (d == NULL)
    return -1;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}
