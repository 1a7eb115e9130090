/* SPDX-License-Identifier: MIT */
/* SHA-256 against the NIST examples (FIPS 180-4 example values, "SHA256
 * ShortMsg/LongMsg"): "abc", the empty message, the two-block 448-bit
 * message and one million 'a'; and the same digests whatever the pieces
 * the bytes are fed in. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/sha256.h"

static void digest_hex(const void *data, size_t len, char hex[65]) {
  sha256_ctx c;
  uint8_t d[SHA256_DIGEST_LEN];
  sha256_init(&c);
  sha256_update(&c, data, len);
  sha256_final(&c, d);
  sha256_hex(d, hex);
}

Test(sha256, abc) {
  char hex[65];
  digest_hex("abc", 3, hex);
  cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(sha256, empty_message) {
  char hex[65];
  digest_hex(NULL, 0, hex);
  cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(sha256, message_of_448_bits) {
  char hex[65];
  const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  cr_assert_eq(strlen(m) * 8, 448);
  digest_hex(m, strlen(m), hex);
  cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, one_million_a) {
  static char a[1000000];
  char hex[65];
  memset(a, 'a', sizeof a);
  digest_hex(a, sizeof a, hex);
  cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Test(sha256, pieces_of_any_size_give_the_same_digest) {
  static char a[1000000];
  memset(a, 'a', sizeof a);
  /* Piece sizes that straddle block boundaries in every way. */
  const size_t steps[] = {1, 3, 55, 56, 63, 64, 65, 127, 4096, 99991};
  for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
    sha256_ctx c;
    uint8_t d[SHA256_DIGEST_LEN];
    char hex[65];
    sha256_init(&c);
    for (size_t off = 0; off < sizeof a; off += steps[s])
      sha256_update(&c, a + off, off + steps[s] <= sizeof a ? steps[s] : sizeof a - off);
    sha256_final(&c, d);
    sha256_hex(d, hex);
    cr_assert_str_eq(hex,
                     "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
                     "pieces of %zu bytes", steps[s]);
  }
}

Test(sha256, padding_edges_55_and_56_bytes) {
  /* 55 bytes pad into one block, 56 need a second: both paths of final. */
  char hex[65];
  char m[64];
  memset(m, 'a', sizeof m);
  digest_hex(m, 55, hex);
  cr_assert_str_eq(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  digest_hex(m, 56, hex);
  cr_assert_str_eq(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
}
