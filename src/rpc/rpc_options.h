/* SPDX-License-Identifier: MIT */
/* The engine options a request carries in its `options` map (OCRRequest
 * and OCRBatchRequest): "psm" (page segmentation mode) and "cache" ("off":
 * bypass the result cache). Parsing only; the engine checks the ranges and
 * answers an out-of-range value with INVALID_ARGUMENT naming the field.
 * Any thread; the map is borrowed for the call. */
#ifndef OCRPC_RPC_OPTIONS_H
#define OCRPC_RPC_OPTIONS_H

#include "common.pb.h"

/* options["psm"] as an integer: -1 when absent (automatic), the value when
 * it is an integer 0..1000, else OCR_PSM_INVALID (ocr.h). The engine
 * refuses everything but -1 and 1..13. */
int rpc_option_psm(const common_Metadata *options, int has_options);

/* 1 when options["cache"] is "off": the image is neither looked up in the
 * result cache nor stored in it (benchmarks that measure recognition). */
int rpc_option_cache_off(const common_Metadata *options, int has_options);

/* 1 when options["pdf_text"] is "use": PDF pages with a text layer are
 * answered from it instead of by OCR (ocr_request.pdf_text). */
int rpc_option_pdf_text(const common_Metadata *options, int has_options);

/* 1 when options["timings"] is "1": the answer's metadata carries the
 * per-phase times decode_ms, orientation_ms, layout_ms, recognition_ms and
 * encode_ms (ocr_request.timings). */
int rpc_option_timings(const common_Metadata *options, int has_options);

#endif
