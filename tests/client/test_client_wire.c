/* SPDX-License-Identifier: MIT */
/* client_wire_check: a response nanopb encodes is accepted and its status
 * read; truncated bytes, a known field with the wrong wire type, a broken
 * submessage and field number 0 are refused; unknown fields are skipped;
 * packed and unpacked repeated floats are both accepted. */
#include <criterion/criterion.h>
#include <pb_encode.h>
#include <string.h>

#include "base/err.h"
#include "client_pb.h"
#include "ocr.pb.h"

static size_t encode_response(uint8_t *out, size_t cap, int status) {
  float quad[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  ocr_TextBox box = {.text = (char *)"hello", .confidence = 0.5f, .has_bbox = true};
  box.bbox.coordinates = quad;
  box.bbox.coordinates_count = 8;
  common_Metadata_DataEntry md = {.key = (char *)"engine", .value = (char *)"mock"};
  ocr_OCRResponse r = ocr_OCRResponse_init_zero;
  r.status = (common_Status)status;
  r.text = (char *)"hello";
  r.overall_confidence = 0.5f;
  r.text_boxes = &box;
  r.text_boxes_count = 1;
  r.has_metadata = true;
  r.metadata.data = &md;
  r.metadata.data_count = 1;
  pb_ostream_t os = pb_ostream_from_buffer(out, cap);
  cr_assert(pb_encode(&os, ocr_OCRResponse_fields, &r));
  return os.bytes_written;
}

static const client_schema *schema(void) {
  const client_schema *s = client_wire_schema(ocr_OCRResponse_fields);
  cr_assert_not_null(s);
  return s;
}

Test(client_wire, accepts_what_nanopb_encodes_and_reads_the_status) {
  uint8_t b[512];
  size_t n = encode_response(b, sizeof b, common_Status_STATUS_SUCCESS);
  uint64_t st = 99;
  cr_assert_eq(client_wire_check(b, n, schema(), 1, &st), 0);
  cr_assert_eq(st, common_Status_STATUS_SUCCESS);
  n = encode_response(b, sizeof b, common_Status_STATUS_FAILURE);
  cr_assert_eq(client_wire_check(b, n, schema(), 1, &st), 0);
  cr_assert_eq(st, common_Status_STATUS_FAILURE);
  /* An empty message is valid proto3: the status stays at its default. */
  st = 0;
  cr_assert_eq(client_wire_check(b, 0, schema(), 1, &st), 0);
  cr_assert_eq(st, 0);
}

Test(client_wire, refuses_every_truncation) {
  uint8_t b[512];
  size_t n = encode_response(b, sizeof b, common_Status_STATUS_SUCCESS);
  int refused = 0;
  for (size_t cut = 1; cut < n; cut++)
    refused += client_wire_check(b, cut, schema(), 0, NULL) != 0;
  /* A cut that falls between two top-level fields is itself a valid
   * (shorter) message; every other cut must be refused. */
  cr_assert_geq(refused, (int)n - 6, "refused %d of %zu cuts", refused, n - 1);
}

Test(client_wire, refuses_wrong_wire_types_and_broken_submessages) {
  /* status (1) sent as length-delimited */
  const uint8_t wrong_type[] = {0x0a, 0x01, 0x01};
  cr_assert_eq(client_wire_check(wrong_type, sizeof wrong_type, schema(), 0, NULL),
               ERR_PARSE);
  /* text_boxes (4) holding a TextBox whose text (1) is a varint */
  const uint8_t bad_sub[] = {0x22, 0x02, 0x08, 0x01};
  cr_assert_eq(client_wire_check(bad_sub, sizeof bad_sub, schema(), 0, NULL), ERR_PARSE);
  /* field number 0 */
  const uint8_t zero[] = {0x00, 0x01};
  cr_assert_eq(client_wire_check(zero, sizeof zero, schema(), 0, NULL), ERR_PARSE);
  /* a length running past the end */
  const uint8_t overrun[] = {0x12, 0x10, 'a'};
  cr_assert_eq(client_wire_check(overrun, sizeof overrun, schema(), 0, NULL), ERR_PARSE);
}

Test(client_wire, skips_unknown_fields_and_accepts_unpacked_floats) {
  /* field 15 (unknown) as a varint and as bytes, then status 1 */
  const uint8_t unknown[] = {0x78, 0x05, 0x7a, 0x02, 'h', 'i', 0x08, 0x01};
  uint64_t st = 0;
  cr_assert_eq(client_wire_check(unknown, sizeof unknown, schema(), 1, &st), 0);
  cr_assert_eq(st, 1);
  /* a TextBox whose bbox has two unpacked float coordinates */
  const uint8_t unpacked[] = {0x22, 0x0c, 0x1a, 0x0a, 0x0d, 0, 0,
                              0x80, 0x3f, 0x0d, 0,    0,    0, 0x40};
  cr_assert_eq(client_wire_check(unpacked, sizeof unpacked, schema(), 0, NULL), 0);
}
