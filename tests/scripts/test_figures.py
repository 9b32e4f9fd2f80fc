"""scripts/figures: the docs' FIGURES lines checked against a test log, durations aside."""

import importlib.machinery
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load(root):
    loader = importlib.machinery.SourceFileLoader("figures", str(ROOT / "scripts" / "figures"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("figures", loader))
    loader.exec_module(module)
    module.ROOT = root
    return module


LOG = """
---- reliability::up stdout ----
FIGURES up: each of the 23 writes of a clean up faulted once (16 resources), 23 converged on the next run, in 140s
FIGURES Ctrl-C during up: exit 130 after 9 writes, 3 resources recorded
---- browser::plays stdout ----
FIGURES browser: videos listed 4
"""


def test_a_stale_count_fails_the_check_and_is_rewritten(tmp_path):
    figures = load(tmp_path)
    (tmp_path / "README.md").write_text(
        "```text\n"
        "FIGURES up: each of the 22 writes of a clean up faulted once (12 resources), 22 converged on the next run, in 155s\n"
        "FIGURES Ctrl-C during up: exit 130 after 12 writes, 4 resources recorded\n"
        "```\n")
    (tmp_path / "log").write_text(LOG)
    assert figures.main(["--check", str(tmp_path / "log")]) == 1
    assert figures.main([str(tmp_path / "log")]) == 0
    assert "(16 resources), 23 converged on the next run, in 140s" in (tmp_path / "README.md").read_text()
    assert figures.main(["--check", str(tmp_path / "log")]) == 0


def test_durations_and_what_varies_are_not_compared(tmp_path):
    figures = load(tmp_path)
    (tmp_path / "README.md").write_text(
        "FIGURES up: each of the 23 writes of a clean up faulted once (16 resources), 23 converged on the next run, in 90s\n"
        "FIGURES Ctrl-C during up: exit 130 after 12 writes, 4 resources recorded\n")
    (tmp_path / "log").write_text(LOG)
    assert figures.main(["--check", str(tmp_path / "log")]) == 0


def test_a_figure_printed_but_not_shown_or_shown_but_not_printed_fails(tmp_path):
    figures = load(tmp_path)
    (tmp_path / "log").write_text(LOG)
    (tmp_path / "README.md").write_text(
        "FIGURES up: each of the 23 writes of a clean up faulted once (16 resources), 23 converged on the next run, in 1s\n")
    assert figures.main(["--check", str(tmp_path / "log")]) == 1  # Ctrl-C not shown
    (tmp_path / "README.md").write_text(
        "FIGURES up: each of the 23 writes of a clean up faulted once (16 resources), 23 converged on the next run, in 1s\n"
        "FIGURES Ctrl-C during up: exit 130 after 12 writes, 4 resources recorded\n"
        "FIGURES lost state: 12/12 found\n")
    assert figures.main(["--check", str(tmp_path / "log")]) == 1  # lost state printed by none
