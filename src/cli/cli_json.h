/* SPDX-License-Identifier: MIT */
/* JSON output of the `ocrpc` CLI: responses in protobuf's JSON mapping
 * (lowerCamelCase names, enums by name), so scripts can read them as they
 * would grpcurl's. Each writes one JSON value without a newline; out of
 * memory, nothing. Main thread. */
#ifndef OCRPC_CLI_JSON_H
#define OCRPC_CLI_JSON_H

#include <stdio.h>

#include "ocr.pb.h"

void cli_json_ocr_response(FILE *f, const ocr_OCRResponse *r);
void cli_json_health(FILE *f, const ocr_HealthCheckResponse *r);
void cli_json_batch_status(FILE *f, const ocr_BatchStatusResponse *r);
/* One progress message; `file` (may be NULL) names the input image. */
void cli_json_progress(FILE *f, const ocr_OCRBatchProgress *p, const char *file);
const char *cli_status_name(common_Status s);

#endif
