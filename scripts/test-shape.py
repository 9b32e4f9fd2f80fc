#!/usr/bin/env python3
"""The shape of the Rust tests, measured the same way every time (issue 25 item 7).

    scripts/test-shape.py [DIRS]   test functions over 150 lines, and the runs of the binary
                                   that bypass the test builder (default tests stages/tests)

A function is measured from its `fn` line to its closing brace (comments and blank lines
count, as they do for a reader), with the brace matching of scripts/code-shape.py. A raw
run is a call of `.cattube()`, `.command()` or `cargo_bin` outside tests/support, which
defines them for the builder (`Sandbox::run`). Standard library only.
"""

import importlib.util
import re
import sys
from pathlib import Path

FN_LIMIT = 150
RAW_RUNS = (r"\.cattube\(\)", r"\.command\(\)", r"\bcargo_bin\b")

_spec = importlib.util.spec_from_file_location("code_shape", Path(__file__).with_name("code-shape.py"))
code_shape = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(code_shape)


def functions(text):
    """(name, first line, lines) of every function with a body in the stripped text."""
    for m in re.finditer(r"\bfn\s+(\w+)[^;{]*\{", text):
        if re.search(r"\)\s*->[^{]*$|\)\s*(where[^{]*)?$", text[m.start() : m.end() - 1].rstrip()) is None:
            continue
        end = code_shape.block_end(text, m.end() - 1)
        yield m.group(1), text.count("\n", 0, m.start()) + 1, text.count("\n", m.start(), end) + 1


def main(dirs):
    long, raw = [], {p: [] for p in RAW_RUNS}
    for d in dirs:
        for path in sorted(Path(d).rglob("*.rs")):
            text = code_shape.strip(path.read_text())
            long += [(n, f"{path}:{line}", name) for name, line, n in functions(text) if n > FN_LIMIT]
            if "support" in path.parts:
                continue
            for pattern in RAW_RUNS:
                for m in re.finditer(pattern, text):
                    raw[pattern].append(f"{path}:{text.count(chr(10), 0, m.start()) + 1}")
    print(f"test functions over {FN_LIMIT} lines: {len(long)}")
    for n, where, name in sorted(long, reverse=True):
        print(f"  {n:5} {where} {name}")
    total = sum(len(v) for v in raw.values())
    print(f"runs of the binary outside the builder: {total}")
    for pattern, places in raw.items():
        shown = pattern.replace("\\b", "").replace("\\", "")
        print(f"  {len(places):4} {shown}")
        for place in places:
            print(f"         {place}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["tests", "stages/tests"])
