"""How long the local MediaConvert takes to convert a clip with each of cattube's profiles.

    .venv/bin/python local/mediaconvert/bench.py [--runs 3] [--seconds 10] [--size 1920x1080]

Starts moto and server.py --convert on loopback ports (the tests' harness, test_convert.py),
uploads a testsrc2 + sine clip, and runs each profile's job --runs times, one after the
other. Per profile: the median time from CreateJob to COMPLETE as GetJob shows it (polled
every 50 ms), and the median time it spent PROGRESSING (read the input, transcode, upload).
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_convert as harness  # noqa: E402


def timed_job(mc, stack, profile):
    started = time.monotonic()
    job_id = harness.submit(mc, stack, profile)["Id"]
    progressing = None
    while True:
        job = mc.get_job(Id=job_id)["Job"]
        now = time.monotonic()
        if job["Status"] == "PROGRESSING" and progressing is None:
            progressing = now
        if job["Status"] in ("COMPLETE", "ERROR", "CANCELED"):
            if job["Status"] != "COMPLETE":
                sys.exit(f"{profile}: job {job_id} {job['Status']}: {job.get('ErrorMessage')}")
            return now - started, now - (progressing or started)
        time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--profiles", default="tutorial,web,hls")
    args = ap.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    harness.CLIP.update(width=width, height=height, seconds=args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        moto, env = harness.start_moto(tmp)
        standin, endpoint = harness.start_standin(env, tmp / "standin.log")
        try:
            aws = harness.clients(env)
            s3, iam = aws("s3"), aws("iam")
            for bucket in (harness.SOURCE, harness.DEST):
                s3.create_bucket(Bucket=bucket)
            role = iam.create_role(RoleName="MediaConvert_Default_Role",
                                   AssumeRolePolicyDocument=harness.json.dumps(harness.ROLE_TRUST))["Role"]["Arn"]
            s3.upload_file(str(harness.make_clip(tmp)), harness.SOURCE, harness.KEY)
            mc = harness.mediaconvert(endpoint)
            print(f"clip: {args.seconds} s {width}x{height} 24 fps; {args.runs} runs per profile; "
                  "median seconds")
            print("| profile | CreateJob -> COMPLETE | of which PROGRESSING | x clip duration |")
            print("| --- | --- | --- | --- |")
            for profile in args.profiles.split(","):
                runs = [timed_job(mc, {"role": role}, profile) for _ in range(args.runs)]
                total = statistics.median(r[0] for r in runs)
                busy = statistics.median(r[1] for r in runs)
                print(f"| {profile} | {total:.1f} | {busy:.1f} | {total / args.seconds:.2f} |", flush=True)
        finally:
            harness.stop(standin)
            harness.stop(moto)


if __name__ == "__main__":
    main()
