# SPDX-License-Identifier: MIT
"""Character error rate as the benchmarks report it (bench/quality.sh,
bench/split.sh): the Levenshtein distance between the recognised text and
the ground truth, both without white space, divided by the ground truth's
length. Imported by the scripts' Python (PYTHONPATH=bench); run alone,
`cer.py TRUTH.txt TEXT.txt...` prints each text file's CER."""

import sys


def levenshtein(a, b):
    """Edits (insert, delete, substitute one character) from a to b."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def squeeze(s):
    """s without any white space: layout is not judged, only characters."""
    return "".join(s.split())


def cer(text, truth):
    t = squeeze(truth)
    return levenshtein(squeeze(text), t) / max(1, len(t))


def read_truth(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: cer.py TRUTH.txt TEXT.txt...")
    gt = read_truth(sys.argv[1])
    for p in sys.argv[2:]:
        print("%s %.4f" % (p, cer(read_truth(p), gt)))
