"""From `cattube upload` to `cattube jobs --wait` returning 0, on the local cloud, per profile.

    .venv/bin/python local/bench_pipeline.py --cattube target/debug/cattube [--runs 3] [--seconds 10] [--size 1920x1080]

Starts scripts/local-cloud, and for each profile (tutorial, web, hls) in a scratch
directory: `cattube up`, then --runs times `cattube upload` of a testsrc2 + sine clip under
a new prefix followed by `cattube jobs --wait KEY` (timed together: S3 event, the function,
MediaConvert converting with ffmpeg, the job events), and `cattube down --yes`. Prints a
Markdown table: the median wall time, the median of MediaConvert's own StartTime ->
FinishTime (GetJob's Timing, whole seconds: the conversion's share), and wall / clip length.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cattube", required=True, help="the cattube binary")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--profiles", default="tutorial,web,hls")
    args = ap.parse_args()
    cattube = str(Path(args.cattube).resolve())
    # A SIGTERM still stops the local cloud (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="cattube-bench-"))
    env_file = work / "env"
    cloud = subprocess.Popen([str(ROOT / "scripts" / "local-cloud"), "--env-file", str(env_file)],
                             stdout=subprocess.DEVNULL, stderr=open(work / "cloud.log", "wb"))
    try:
        while not env_file.exists():
            if cloud.poll() is not None:
                sys.exit((work / "cloud.log").read_text())
            time.sleep(0.2)
        env = dict(os.environ)
        for line in env_file.read_text().splitlines():
            if line.startswith("export "):
                name, _, value = line[7:].partition("=")
                env[name] = value
        env["CATTUBE_PROPAGATION_TIMEOUT"] = "5"
        clip = work / "clip.mp4"
        run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
             f"testsrc2=size={args.size}:rate=24:duration={args.seconds}", "-f", "lavfi", "-i",
             f"sine=frequency=440:duration={args.seconds}", "-c:v", "libx264", "-preset", "veryfast",
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(clip)])
        mediaconvert = boto3.client("mediaconvert", endpoint_url=env["AWS_ENDPOINT_URL_MEDIACONVERT"],
                                    region_name=env["AWS_REGION"], aws_access_key_id="local",
                                    aws_secret_access_key="local")
        print(f"| profile | upload -> jobs --wait (s) | MediaConvert StartTime -> FinishTime (s) "
              f"| x clip ({args.seconds} s) | runs |")
        print("| --- | --- | --- | --- | --- |")
        for profile in args.profiles.split(","):
            scratch = work / profile
            scratch.mkdir()
            (scratch / "cattube.toml").write_text(f'[job]\nprofile = "{profile}"\n')
            run([cattube, "--no-progress", "up"], cwd=scratch, env=env)
            walls, conversions = [], []
            for i in range(args.runs):
                started = time.monotonic()
                run([cattube, "--no-progress", "upload", "--prefix", f"{profile}-run{i}", str(clip)], cwd=scratch, env=env)
                run([cattube, "--no-progress", "jobs", "--wait", f"{profile}-run{i}/clip.mp4"], cwd=scratch, env=env)
                walls.append(time.monotonic() - started)
                jobs = json.loads(run([cattube, "--output", "json", "jobs", f"{profile}-run{i}/clip.mp4"], cwd=scratch,
                                      env=env).stdout)["jobs"]
                timing = mediaconvert.get_job(Id=jobs[0]["id"])["Job"]["Timing"]
                conversions.append((timing["FinishTime"] - timing["StartTime"]).total_seconds())
            run([cattube, "--no-progress", "down", "--yes"], cwd=scratch, env=env)
            wall = statistics.median(walls)
            print(f"| {profile} | {wall:.1f} | {statistics.median(conversions):.0f} | {wall / args.seconds:.2f} "
                  f"| {', '.join(f'{w:.1f}' for w in walls)} |", flush=True)
    finally:
        cloud.send_signal(signal.SIGTERM)
        cloud.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
