/* SPDX-License-Identifier: MIT */
/* Small text helpers shared by layers that may not call each other (the
 * Redis URL parser in jobs, the grpc-message codec in rpc, the programs'
 * argument parsers). */
#ifndef OCRPC_BASE_TEXT_H
#define OCRPC_BASE_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The value of hexadecimal digit c (either case), or -1. */
int text_hex_digit(char c);

/* Splits a "--name=value" argument: copies "--name" into name (namelen
 * bytes) and returns name, with *value pointing after the '='. Any other
 * argument (or a name too long for the buffer) is returned as it is, with
 * *value NULL. */
const char *text_split_flag(const char *arg, char *name, size_t namelen,
                            const char **value);

/* Decodes base64 (standard alphabet, padded or not) into out (at least
 * len*3/4+3 bytes). Returns the decoded length, or -1 on bad input. */
ssize_t text_base64_decode(const char *in, size_t len, uint8_t *out);

#endif
