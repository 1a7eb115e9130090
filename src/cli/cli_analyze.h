/* SPDX-License-Identifier: MIT */
/* `ocrpc analyze`: text from a file or stdin (or an image OCR'd first)
 * sent to llm.LLMService; the tokens are printed as they arrive, or the
 * whole analysis with its entities. One thread, its own client loop. */
#ifndef OCRPC_CLI_ANALYZE_H
#define OCRPC_CLI_ANALYZE_H

#include <stdint.h>

typedef struct cli_analyze_opts {
  const char *target;
  uint64_t timeout_ms; /* 0: none */
  const char *file;    /* NULL or "-": stdin */
  const char *image;   /* OCR this image first (inline), analyze its text */
  const char *language;
  const char *prompt;
  const char *engine, *model, *temperature, *max_tokens; /* options; NULL: unset */
  int whole;                                             /* AnalyzeText, not the stream */
} cli_analyze_opts;

/* Runs the command; returns the process exit status (0 ok, 1 in-band
 * failure or unreadable input, 3 unavailable, 4 deadline, 5 other). */
int cli_analyze(const cli_analyze_opts *a);

#endif
