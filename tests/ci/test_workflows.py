"""The CI example (examples/ci): linted by actionlint, and doing what the README says."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "ci"
WORKFLOWS = sorted(EXAMPLES.glob("*.yml"))
# The linter installed into the venv by requirements-dev.txt, beside this Python.
ACTIONLINT = Path(sys.executable).parent / "actionlint"


def lint(*paths):
    return subprocess.run([str(ACTIONLINT), "-no-color", *map(str, paths)],
                          capture_output=True, text=True)


def load(name):
    doc = yaml.safe_load((EXAMPLES / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    doc["on"] = doc.pop(True)
    return doc


def runs(doc):
    return [step.get("run", "") for job in doc["jobs"].values() for step in job["steps"]]


def test_the_three_workflows_are_there():
    assert [p.name for p in WORKFLOWS] == ["deploy.yml", "destroy.yml", "gc.yml"]


def test_actionlint_passes():
    result = lint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The linter really reads the files: an unknown runner key and a bad expression fail."""
    broken = tmp_path / "broken.yml"
    text = (EXAMPLES / "deploy.yml").read_text()
    broken.write_text(text.replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest")
                      .replace("steps.outputs.outputs", "steps.outputs.output"))
    result = lint(broken)
    assert result.returncode == 1, result.stdout
    assert "runs_on" in result.stdout


def test_deploy_runs_up_with_a_ttl_on_pull_request_open_and_push():
    doc = load("deploy.yml")
    assert set(doc["on"]["pull_request"]["types"]) >= {"opened", "synchronize"}
    assert any(r.startswith("cattube up --ttl ") for r in runs(doc))
    assert any("cattube output >> \"$GITHUB_OUTPUT\"" in r for r in runs(doc))


def test_destroy_runs_down_without_waiting_when_the_pull_request_closes():
    doc = load("destroy.yml")
    assert doc["on"]["pull_request"]["types"] == ["closed"]
    assert "cattube down --no-wait --yes" in runs(doc)


def test_gc_is_scheduled():
    doc = load("gc.yml")
    assert doc["on"]["schedule"][0]["cron"]
    assert "cattube gc --yes" in runs(doc)


@pytest.mark.parametrize("name", ["deploy.yml", "destroy.yml", "gc.yml"])
def test_every_workflow_has_remote_state_an_oidc_role_and_a_cached_binary(name):
    doc = load(name)
    assert doc["env"]["CATTUBE_STATE"].startswith("s3://")
    assert doc["permissions"]["id-token"] == "write"
    steps = [s for job in doc["jobs"].values() for s in job["steps"]]
    uses = [s.get("uses", "") for s in steps]
    credentials = next(s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
    assert "role-to-assume" in credentials["with"]
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == "~/.cargo/bin/cattube"
    build = next(s for s in steps if "cargo install" in s.get("run", ""))
    # Built only when the cache missed, and before the first cattube command.
    assert build["if"] == f"steps.{cache['id']}.outputs.cache-hit != 'true'"
    first = next(i for i, s in enumerate(steps) if s.get("run", "").startswith("cattube "))
    assert steps.index(build) < first and uses.index(credentials["uses"]) < first
