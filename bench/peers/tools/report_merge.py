# SPDX-License-Identifier: MIT
"""Writes compare.py's report into an existing RESULTS.md without losing
the sections written there by hand or by other benchmarks (4b, 7, 8, REST,
LLM, overload, TLS, ...): only the sections compare.py generates are
replaced, each where it already stands; one it generates that the file
lacks goes right after the generated section before it.

A section is a level-2 Markdown heading ("## ") and what follows up to the
next one, headings inside ``` fences not counted. Generated sections are
known by their heading: the numbered scenarios by their number ("## 1.",
since "## 5." names the idle connection count), the others by the whole
heading line. The title and the lines before the first section are
compare.py's own (machine, load, rounds)."""


def split(text):
    """(preamble, [(key, block)]) of a Markdown text; blocks keep their
    heading and trailing lines, so joining them gives the text back."""
    pre, blocks = [], []
    fenced = False
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            blocks.append([key(line), [line]])
        elif blocks:
            blocks[-1][1].append(line)
        else:
            pre.append(line)
    return "".join(pre), [(k, "".join(b)) for k, b in blocks]


def key(heading):
    """The name a section is known by: "## 5. 10000 idle ..." -> "5."."""
    words = heading[3:].split()
    if words and words[0].endswith(".") and words[0][:-1].isalnum():
        return words[0]
    return heading.strip()


def _ends_blank(block):
    return block if block.endswith("\n\n") else block.rstrip("\n") + "\n\n"


def merge(old, new):
    """The text of `old` with the preamble and every section `new` has
    replaced by new's; the rest of `old` kept as it is, in its place."""
    if not old.strip():
        return new
    _, old_blocks = split(old)
    new_pre, new_blocks = split(new)
    out = [[k, b] for k, b in old_blocks]
    prev = None  # key of the last generated block placed
    for k, b in new_blocks:
        at = next((i for i, (ok, _) in enumerate(out) if ok == k), None)
        if at is not None:
            out[at][1] = b
        else:
            after = next((i for i, (ok, _) in enumerate(out) if ok == prev), -1)
            out.insert(after + 1, [k, b])
        prev = k
    # Sections are separated by a blank line whichever file they came from.
    body = [_ends_blank(b) for _, b in out[:-1]] + [b for _, b in out[-1:]]
    return _ends_blank(new_pre) + "".join(body)


def write_merged(path, new):
    """Merges `new` into the file at path (created when missing)."""
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        old = ""
    with open(path, "w") as f:
        f.write(merge(old, new))
