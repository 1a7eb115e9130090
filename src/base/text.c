/* SPDX-License-Identifier: MIT */
#include "text.h"

#include <string.h>

int text_hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

const char *text_split_flag(const char *arg, char *name, size_t namelen,
                            const char **value) {
  *value = NULL;
  const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
  if (!eq || (size_t)(eq - arg) >= namelen)
    return arg;
  memcpy(name, arg, (size_t)(eq - arg));
  name[eq - arg] = '\0';
  *value = eq + 1;
  return name;
}
