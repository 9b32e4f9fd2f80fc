#!/usr/bin/env python3
"""The shape of the Rust code, measured the same way every time (issue 25).

    scripts/code-shape.py cycles [DIR]   import cycles among the modules of a crate (default stages/src)
    scripts/code-shape.py long  [DIRS]   product .rs files over 500 lines, functions over 100 (default src stages/src)
    scripts/code-shape.py               both

`cycles` reads every `crate::`/`$crate::`/`super::` path of the crate's files (comments,
strings and `#[cfg(test)]` items left out), resolves each to the file that defines it
(following `pub use` re-exports), and prints each strongly connected group of files of
more than one file, with one shortest loop through it. Standard library only.
"""

import re
import sys
from collections import defaultdict, deque
from pathlib import Path

FILE_LIMIT = 500
FN_LIMIT = 100


def strip(text):
    """The text with comments, strings and char literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif re.match(r'(b?r#*")', text[i : i + 12]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'b?r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""' + "\n" * text.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            if m:
                out.append("' '")
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def block_end(text, open_at):
    """Index just past the `}` closing the `{` at `open_at` (text already stripped)."""
    depth = 0
    for j in range(open_at, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(text)


def drop_test_items(text):
    """Blank every item behind `#[cfg(test)]` (the unit tests' imports are not the crate's)."""
    while True:
        m = re.search(r"#\[cfg\(test\)\]", text)
        if not m:
            return text
        brace = text.find("{", m.end())
        semi = text.find(";", m.end())
        end = semi + 1 if 0 <= semi < brace or brace < 0 else block_end(text, brace)
        text = text[: m.start()] + "\n" * text.count("\n", m.start(), end) + text[end:]


def modules(root):
    """{module path tuple: file} for every .rs file under the crate root."""
    found = {}
    for path in sorted(root.rglob("*.rs")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        found[tuple(parts)] = path
    return found


def use_paths(text):
    """Every path of the text's `use` trees and inline `crate::`/`super::` paths."""
    paths = []

    def expand(prefix, tree):
        tree = tree.strip()
        if not tree:
            return
        if "{" in tree and tree.endswith("}"):
            head, body = tree.split("{", 1)
            head = [p for p in head.strip().rstrip(":").split("::") if p]
            body = body[:-1]
            depth, start = 0, 0
            for k, ch in enumerate(body + ","):
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                elif ch == "," and depth == 0:
                    expand(prefix + head, body[start:k])
                    start = k + 1
        else:
            tree = tree.split(" as ")[0].strip()
            paths.append(prefix + [p for p in tree.split("::") if p])

    for m in re.finditer(r"\buse\s+([^;]+);", text):
        expand([], m.group(1))
    rest = re.sub(r"\buse\s+[^;]+;", "", text)
    for m in re.finditer(r"(?<![\w:])(\$?crate|super|self)((?:::\w+)+)", rest):
        paths.append([m.group(1)] + m.group(2).split("::")[1:])
    return [["crate"] + p[1:] if p and p[0] == "$crate" else p for p in paths]


def reexports(mods, texts):
    """{(module, name): module path it comes from} for every `pub use`."""
    found = {}
    for mod, text in texts.items():
        for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", text):
            for path in use_paths("use " + m.group(1) + ";"):
                target = absolute(mod, path, mods)
                if target and path:
                    found[(mod, path[-1])] = target
    return found


def absolute(mod, path, mods):
    """The path as a module path from the crate root, or None when outside the crate."""
    if not path:
        return None
    if path[0] == "crate":
        return tuple(path[1:])
    if path[0] in ("super", "self"):
        base = list(mod)
        while path and path[0] in ("super", "self"):
            if path[0] == "super":
                base = base[:-1]
            path = path[1:]
        return tuple(base + list(path))
    if (mod + (path[0],)) in mods:  # `use submodule::...`
        return mod + tuple(path)
    return None


def owner(path, mods, exports, seen=()):
    """The module (file) that defines the item at `path`."""
    for cut in range(len(path), -1, -1):
        if path[:cut] in mods:
            mod = path[:cut]
            if cut < len(path) and (mod, path[cut]) in exports and (mod, path[cut]) not in seen:
                return owner(exports[(mod, path[cut])] + path[cut + 1 :], mods, exports, seen + ((mod, path[cut]),))
            return mod
    return ()


def graph(root):
    mods = modules(root)
    texts = {m: drop_test_items(strip(p.read_text())) for m, p in mods.items()}
    exports = reexports(mods, texts)
    edges = defaultdict(set)
    for mod, text in texts.items():
        # lib.rs's own `pub use` only forwards names; who uses them depends on the source.
        body = re.sub(r"\bpub(?:\([^)]*\))?\s+use\s+[^;]+;", "", text) if mod == () else text
        # Inline paths through a child module (`source_bucket::SourceBucket` in lib.rs).
        children = [["self"] + [m.group(1)] + m.group(2).split("::")[1:]
                    for m in re.finditer(r"(?<![\w:$])(\w+)((?:::\w+)+)", re.sub(r"\buse\s+[^;]+;", "", body))
                    if mod + (m.group(1),) in mods]
        for path in use_paths(body) + children:
            target = absolute(mod, path, mods)
            if target is None:
                continue
            dest = owner(target, mods, exports)
            if dest != mod and not (dest and mod[: len(dest)] == dest and dest != ()):
                edges[mod].add(dest)
    return mods, edges


def sccs(nodes, edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            out.append(group)

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return out


def shortest_loop(start, group, edges):
    prev, queue = {start: None}, deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(edges.get(v, ())):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w in group and w not in prev:
                prev[w] = v
                queue.append(w)
    return [start]


def cycles(root):
    mods, edges = graph(root)
    name = lambda m: str(mods[m].relative_to(root))
    groups = [g for g in sccs(sorted(mods), edges) if len(g) > 1]
    print(f"import cycles among {root}: {len(groups)} group(s) of files importing each other")
    for group in sorted(groups, key=len, reverse=True):
        members = set(group)
        print(f"- {len(group)} files: " + ", ".join(sorted(name(m) for m in group)))
        print("  e.g. " + " -> ".join(name(m) for m in shortest_loop(min(group), members, edges)))
    return groups


def long_code(dirs):
    files, fns = [], []
    for d in dirs:
        for path in sorted(Path(d).rglob("*.rs")):
            raw = path.read_text()
            lines = raw.count("\n") + (0 if raw.endswith("\n") else 1)
            if lines > FILE_LIMIT:
                files.append((lines, path))
            text = strip(raw)
            for m in re.finditer(r"\bfn\s+(\w+)[^;{]*\{", text):
                if re.search(r"\)\s*->[^{]*$|\)\s*(where[^{]*)?$", text[m.start() : m.end() - 1].rstrip()) is None:
                    continue
                end = block_end(text, m.end() - 1)
                start_line = text.count("\n", 0, m.start()) + 1
                length = text.count("\n", m.start(), end) + 1
                if length > FN_LIMIT:
                    fns.append((length, f"{path}:{start_line}", m.group(1)))
    print(f"product .rs files over {FILE_LIMIT} lines: {len(files)}")
    for lines, path in sorted(files, reverse=True):
        print(f"  {lines:5} {path}")
    print(f"product functions over {FN_LIMIT} lines: {len(fns)}")
    for length, where, name in sorted(fns, reverse=True):
        print(f"  {length:5} {where} {name}")


def main(args):
    what = args[0] if args else "all"
    if what in ("cycles", "all"):
        cycles(Path(args[1] if len(args) > 1 and what == "cycles" else "stages/src"))
    if what in ("long", "all"):
        long_code(args[1:] if what == "long" and len(args) > 1 else ["src", "stages/src"])


if __name__ == "__main__":
    main(sys.argv[1:])
