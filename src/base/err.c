/* SPDX-License-Identifier: MIT */
/* Names and texts of the ERR_* codes. Pure functions, any thread. */
#include "err.h"

const char *err_name(int code) {
  switch (code) {
  case ERR_OK:
    return "OK";
#define ERR_NAME(sym, name, text)                                                          \
  case ERR_##sym:                                                                          \
    return name;
    ERR_MAP(ERR_NAME)
#undef ERR_NAME
  default:
    return "UNKNOWN";
  }
}

const char *err_text(int code) {
  switch (code) {
  case ERR_OK:
    return "ok";
#define ERR_TEXT(sym, name, text)                                                          \
  case ERR_##sym:                                                                          \
    return text;
    ERR_MAP(ERR_TEXT)
#undef ERR_TEXT
  default:
    return "unknown error";
  }
}
