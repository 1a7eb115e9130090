/* SPDX-License-Identifier: MIT */
/* Small text helpers shared by layers that may not call each other (the
 * Redis URL parser in jobs, the grpc-message codec in rpc, the programs'
 * argument parsers, the number writers of the access log and of the OCR
 * response metadata). Pure functions: any thread. */
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

/* The most bytes text_put_u64 and text_put_ms write. */
#define TEXT_U64_MAX 20
#define TEXT_MS_MAX (TEXT_U64_MAX + 4)

/* Writes v in decimal at p (no terminator, at most TEXT_U64_MAX bytes) and
 * returns the end. Written without printf: it runs several times for every
 * call on the hot path. */
char *text_put_u64(char *p, uint64_t v);

/* Writes a duration in milliseconds with three decimals ("12.345", rounded
 * to the microsecond; zero, negative and NaN give "0.000") at p (no
 * terminator, at most TEXT_MS_MAX bytes) and returns the end. Values are
 * durations of a process's life: above 2^63 microseconds the result is
 * unspecified. */
char *text_put_ms(char *p, double ms);

#endif
