/* SPDX-License-Identifier: MIT */
/* Parsing of the options map shared by ExtractText and ExtractTextBatch
 * (rpc_options.h). A value that is present but not understood is passed on
 * as invalid rather than dropped, so the caller hears about it. */
#include "rpc_options.h"

#include <stdlib.h>
#include <string.h>

#include "ocr/ocr.h"

static const char *option(const common_Metadata *m, int has, const char *key) {
  if (!has || !m)
    return NULL;
  for (pb_size_t i = 0; i < m->data_count; i++) {
    const common_Metadata_DataEntry *e = &m->data[i];
    if (e->key && e->value && strcmp(e->key, key) == 0)
      return e->value;
  }
  return NULL;
}

int rpc_option_psm(const common_Metadata *options, int has_options) {
  const char *v = option(options, has_options, "psm");
  if (!v)
    return -1;
  char *end;
  long n = strtol(v, &end, 10);
  if (end == v || *end != 0 || n < 0 || n > 1000)
    return OCR_PSM_INVALID;
  return (int)n;
}

int rpc_option_cache_off(const common_Metadata *options, int has_options) {
  const char *v = option(options, has_options, "cache");
  return v && strcmp(v, "off") == 0;
}

int rpc_option_pdf_text(const common_Metadata *options, int has_options) {
  const char *v = option(options, has_options, "pdf_text");
  return v && strcmp(v, "use") == 0;
}
