/* SPDX-License-Identifier: MIT */
/* Idle "workers" for OCR tests of the page split (ocr_split.c): an
 * ocr_post_fn that starts one thread per posted helper, as an idle worker
 * of the server would take it, and a join for the end of a test. Shared by
 * test_ocr_split and test_ocr_scale. */
#ifndef OCRPC_TESTS_OCR_TEST_PARTS_H
#define OCRPC_TESTS_OCR_TEST_PARTS_H

#include "ocr.h"

/* ocr_post_fn for ocr_engine_set_parts (ud unused). Any thread. Starts a
 * thread that runs fn(arg, 1) and returns once that helper has claimed a
 * part or ended without one (every part taken), so that each helper posted
 * reads at least one part whatever the scheduler does; the wait is bounded
 * by a ceiling only a hang reaches (300 s). At most 16 helpers between two
 * joins. Returns 0, ERR_NOMEM, or ERR_UNAVAILABLE (no more threads). */
int otp_post(void *ud, ocr_part_fn fn, void *arg);

/* Joins every helper thread started since the last join. Test thread. */
void otp_join(void);

/* Helper threads started since the last join. Any thread. */
int otp_posted(void);

#endif
