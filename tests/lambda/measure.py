#!/usr/bin/python3
"""Measures otpd as a Lambda runtime against the Runtime API emulator (never part of the
tests: speed is measured, not asserted).

- cold start: exec of the runtime -> its answer to the first event (GET /healthz) posted
  back, on a fresh store (schema created) and on an existing one;
- warm invocations: an event queued -> its answer posted, for /healthz, send (inline
  webhook delivery included) and verify.

Usage: tests/lambda/measure.py [--otpd build/bin/otpd] [--runs 7] [--warm 200]
   or: tests/lambda/measure.py --zip build/otpd-lambda.zip   (runs the packaged bootstrap,
       unpacked to /var/task in an empty root under chroot; needs root)
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import tempfile
import time
import zipfile

from lambda_process import LambdaFunction
import events


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summary(name, ms):
    return (f"{name:<28} median {statistics.median(ms):7.2f} ms   p90 {percentile(ms, 90):7.2f} ms"
            f"   min {min(ms):7.2f} ms   (n={len(ms)})")


def start(binary, workdir, zip_root, fresh):
    f = LambdaFunction(binary, workdir, start=False, config_in_env=True,
                       config={"store": "sqlite:///tmp/otpd-measure.db" if zip_root else
                               f"sqlite://{workdir}/data/otpd.db"})
    if zip_root:
        if fresh and (zip_root / "tmp" / "otpd-measure.db").exists():
            for p in (zip_root / "tmp").iterdir():
                p.unlink()
        f.env.pop("PATH")
        f.start(command=[shutil.which("chroot"), str(zip_root), "/var/task/bootstrap"])
    else:
        if fresh:
            shutil.rmtree(workdir / "data", ignore_errors=True)
        f.start()
    return f


def cold(binary, tmp, zip_root, runs, fresh):
    """Exec -> first answer, and its init part: exec -> the first /next (Lambda's Init
    Duration; the rest is the first invocation's Duration)."""
    ms, init = [], []
    for i in range(runs):
        workdir = tmp / ("cold-fresh" if fresh else "cold-existing")
        f = start(binary, workdir, zip_root, fresh)
        # Queued before the process runs: the first /next returns it at once.
        inv = f.api.queue(events.http_v2("GET", "/healthz"))
        result = f.api.wait_result(inv, 30)
        assert json.loads(result.body)["statusCode"] == 200, result.body
        ms.append((result.received - f.started_at) * 1000)
        init.append((f.api.next_times[0] - f.started_at) * 1000)
        f.close()
    return ms, init


def warm(binary, tmp, zip_root, n):
    f = start(binary, tmp / "warm", zip_root, True)
    out = {"GET /healthz": [], "POST /v1/otp/send (+ delivery)": [], "POST /v1/otp/verify": []}
    f.invoke(events.http_v2("GET", "/healthz"))
    for i in range(n):
        inv = f.api.queue(events.http_v2("GET", "/healthz"))
        r = f.api.wait_result(inv)
        out["GET /healthz"].append((r.received - inv.queued) * 1000)

        send = events.http_v2("POST", "/v1/otp/send", headers=[f.auth(), ("content-type", "application/json")],
                              body=json.dumps({"to": f"user{i}@example.com"}))
        inv = f.api.queue(send)
        r = f.api.wait_result(inv)
        out["POST /v1/otp/send (+ delivery)"].append((r.received - inv.queued) * 1000)
        vid = json.loads(json.loads(r.body)["body"])["id"]
        code = f.code_for(vid)

        verify = events.http_v2("POST", "/v1/otp/verify", headers=[f.auth(), ("content-type", "application/json")],
                                body=json.dumps({"id": vid, "code": code}))
        inv = f.api.queue(verify)
        r = f.api.wait_result(inv)
        assert json.loads(r.body)["statusCode"] == 200, r.body
        out["POST /v1/otp/verify"].append((r.received - inv.queued) * 1000)
    f.close()
    return out


def main():
    repo = pathlib.Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--otpd", default=str(repo / "build" / "bin" / "otpd"))
    parser.add_argument("--zip", help="measure the packaged bootstrap in an empty root instead")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warm", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        zip_root = None
        if args.zip:
            zip_root = tmp / "root"
            with zipfile.ZipFile(args.zip) as z:
                for info in z.infolist():
                    target = zip_root / "var" / "task" / info.filename
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(z.read(info))
                    target.chmod((info.external_attr >> 16) & 0o777)
            (zip_root / "tmp").mkdir()
        what = f"packaged {args.zip} under chroot" if zip_root else args.otpd
        print(f"otpd as a Lambda runtime ({what}), load average {os.getloadavg()[0]:.2f}")
        for fresh in (True, False):
            store = "fresh store" if fresh else "existing store"
            total, init = cold(args.otpd, tmp, zip_root, args.runs, fresh)
            print(summary(f"cold start, {store}", total))
            print(summary(f"  of which init ({store})", init))
        for name, ms in warm(args.otpd, tmp, zip_root, args.warm).items():
            print(summary("warm " + name, ms))


if __name__ == "__main__":
    main()
