/* SPDX-License-Identifier: MIT */
/* Confines request paths to the image root. A path is first normalised
 * lexically, so that "../x" is refused whether or not x exists, and then
 * resolved with realpath(3), so that symlinks leading out of the root are
 * refused too. Pure function of the file system; any thread (worker threads
 * call it per request). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "ocr.h"

/* True when path equals root or lies below it. Comparing on a '/' boundary
 * keeps "/images-private" from passing as inside "/images". */
static int is_inside(const char *root, const char *path) {
  size_t n = strlen(root);

  if (n == 1 && root[0] == '/')
    return path[0] == '/';
  if (strncmp(root, path, n) != 0)
    return 0;
  return path[n] == '\0' || path[n] == '/';
}

/* Normalises an absolute path in place: collapses "//", drops ".", and
 * resolves ".." against the preceding component. Returns -1 when ".."
 * climbs above "/", which no path inside any root does. */
static int normalise(char *p) {
  char *out = p, *in = p;

  while (*in) {
    char *seg;
    size_t len;

    while (*in == '/')
      in++;
    if (!*in)
      break;
    seg = in;
    while (*in && *in != '/')
      in++;
    len = (size_t)(in - seg);
    if (len == 1 && seg[0] == '.')
      continue;
    if (len == 2 && seg[0] == '.' && seg[1] == '.') {
      if (out == p)
        return -1;
      while (out > p && *--out != '/')
        ;
      continue;
    }
    *out++ = '/';
    memmove(out, seg, len);
    out += len;
  }
  if (out == p)
    *out++ = '/';
  *out = '\0';
  return 0;
}

int ocr_path_resolve(const char *root, const char *path, char *out, size_t outsize) {
  char real_root[PATH_MAX], joined[PATH_MAX], real[PATH_MAX];
  int n;

  if (!path || !path[0])
    return ERR_NOT_FOUND;
  if (!root || !root[0])
    root = ".";
  if (!realpath(root, real_root))
    return ERR_NOT_FOUND;

  if (path[0] == '/')
    n = snprintf(joined, sizeof(joined), "%s", path);
  else
    n = snprintf(joined, sizeof(joined), "%s/%s", real_root, path);
  if (n < 0 || (size_t)n >= sizeof(joined))
    return ERR_FORBIDDEN_PATH;
  if (normalise(joined) != 0)
    return ERR_FORBIDDEN_PATH;

  /* An absolute path may name the root the way the configuration spelled
   * it rather than its real path (a root under a symlinked /tmp, say), so
   * the lexical check accepts either spelling; realpath settles it below. */
  if (!is_inside(real_root, joined)) {
    char lexical_root[PATH_MAX];

    if (root[0] != '/' || strlen(root) >= sizeof(lexical_root))
      return ERR_FORBIDDEN_PATH;
    strcpy(lexical_root, root);
    if (normalise(lexical_root) != 0 || !is_inside(lexical_root, joined))
      return ERR_FORBIDDEN_PATH;
  }

  if (!realpath(joined, real))
    return errno == ENOENT || errno == ENOTDIR ? ERR_NOT_FOUND : ERR_FORBIDDEN_PATH;
  if (!is_inside(real_root, real))
    return ERR_FORBIDDEN_PATH;
  if (strlen(real) >= outsize)
    return ERR_FORBIDDEN_PATH;
  strcpy(out, real);
  return 0;
}
