/* SPDX-License-Identifier: MIT */
/* Names and texts of the ERR_* codes, from one table. Pure functions, any
 * thread. */
#include "err.h"

static const struct {
  const char *name, *text;
} table[] = {
#define ERR_ROW(sym, name, text) [ERR_##sym - ERR__BASE - 1] = {name, text},
    ERR_MAP(ERR_ROW)
#undef ERR_ROW
};

const char *err_name(int code) {
  if (code == ERR_OK)
    return "OK";
  return code > ERR__BASE && code < ERR__END ? table[code - ERR__BASE - 1].name : "UNKNOWN";
}

const char *err_text(int code) {
  if (code == ERR_OK)
    return "ok";
  return code > ERR__BASE && code < ERR__END ? table[code - ERR__BASE - 1].text
                                             : "unknown error";
}
