"""scripts/try-local as a new user meets it (issue 28): the commands it shows can be
pasted, and its build is the one `scripts/test` reuses (no second AWS SDK build)."""

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRY_LOCAL = (ROOT / "scripts" / "try-local").read_text()


def shell_quoted(*args: str) -> str:
    """What try-local's own `shell_quoted` prints for `args`."""
    match = re.search(r"^shell_quoted\(\) \{\n.*?^\}\n", TRY_LOCAL, re.S | re.M)
    assert match, "scripts/try-local defines no shell_quoted function"
    out = subprocess.run(
        ["bash", "-c", match.group(0) + 'shell_quoted "$@"', "bash", *args],
        check=True, capture_output=True, text=True,
    )
    return out.stdout


def test_shown_commands_paste_back_to_the_same_arguments():
    for args in [
        ["upload", "--prefix", "cats", "tabby cat.mp4"],
        ["url", "cats/tabby cat.mp4"],
        ["upload", "it's here.mp4", "$HOME", "a*b", "", "semi;colon", "back\\slash"],
        ["down", "--yes"],
    ]:
        shown = shell_quoted(*args)
        assert shlex.split(shown) == args, shown
    # Plain words stay plain: the walk-through reads as typed.
    assert shell_quoted("down", "--yes") == "down --yes"
    assert shell_quoted("url", "cats/tabby cat.mp4") == "url 'cats/tabby cat.mp4'"


def cargo_units(args):
    """(package, features) of every dependency artifact a cargo command builds or finds
    fresh, from cargo's own JSON messages."""
    env = dict(os.environ)
    out = subprocess.run(
        ["cargo", *args, "--message-format=json"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )
    units = set()
    for line in out.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") != "compiler-artifact":
            continue
        package = message["package_id"]
        if "path+file" in package:  # the workspace's own crates
            continue
        units.add((message["target"]["name"], tuple(message["features"])))
    return units


def test_try_local_builds_the_sdk_as_the_tests_build_it():
    # The build runs under `ticking "what" cargo build ...` (a progress note every 8 s).
    build = re.search(r"^(?:ticking \"[^\"]*\" )?(cargo build .*)$", TRY_LOCAL, re.M)
    assert build, "scripts/try-local has no `cargo build` line"
    try_local = cargo_units(build.group(1).split()[1:])
    tests = cargo_units(["test", "--workspace", "--locked", "--no-run"])
    sdk = {u for u in try_local if u[0].startswith("aws_sdk_")}
    assert len(sdk) >= 9, sorted(try_local)
    # Every dependency try-local builds is one `cargo test` reuses: same crate, same features.
    assert try_local - tests == set(), sorted(try_local - tests)
