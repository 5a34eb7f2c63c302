"""Serving benchmark: ModelServer against a plain uvicorn + starlette + orjson endpoint.

Both serve the digits MLP (64 -> 128 -> 10, trained here) as separate processes on loopback, and
receive the same single-row v2 JSON request. The load generator is wrk (-t2 -c32 -d10s, as in
the course's measurements) or, without wrk, this package's asyncio load generator in another
process. Printed: requests/s, p50 and p99 for both, their ratio, and the latency of a lone
client (concurrency 1), where batching must cost nothing.

    .venv/bin/python benchmarks/serving.py [--seconds 10] [--connections 32]

Targets (issue 4): >= 1,000 req/s, p99 < 100 ms, >= 1.2x the plain endpoint at equal or lower p99.

Where the gain comes from: on this model the forward pass is about 5% of a request's server CPU;
HTTP parsing, the event loop and the two socket writes per response are most of the rest. The
ModelServer's infer path skips Starlette's router and its Request and Response objects, which
saves more than batching does. "ModelServer, no batching" (max_batch_size 1) still queues: one
model call per event-loop turn, first come first served. That costs throughput, but keeps its
p99 near 13 ms where the plain endpoint's is 40-60 ms.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLAIN_SERVER = '''
import sys
import numpy as np
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from tinytorch.core.mlops.serving.protocol import (InferenceError, encode_infer_response,
                                                   parse_infer_request)
from tinytorch.core.serialization import load_model

model = load_model(sys.argv[1])


async def infer(request):
    try:
        x = parse_infer_request(orjson.loads(await request.body()), model.input_shape)
    except (orjson.JSONDecodeError, InferenceError) as error:
        return Response(orjson.dumps({"error": str(error)}), status_code=400, media_type="application/json")
    labels = model.forward(x).argmax(axis=1).astype(np.int64)
    body = encode_infer_response("model", "1", None, {"predict": labels})
    return Response(body, media_type="application/json")


app = Starlette(routes=[Route("/v2/models/model/infer", infer, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
'''

WRK_SCRIPT = '''
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("{body}"):read("*a")
'''

PATH = "/v2/models/model/infer"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {process.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not come up")


def start(command, port):
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_port(port, process)
    return process


def parse_wrk(output):
    """req/s, p50 ms, p99 ms and non-200 count from ``wrk --latency`` output."""

    def ms(label):
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: .*", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": ms(50), "p99": ms(99),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(0) if socket_errors else "",
    }


def cpu_seconds(pid):
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(port, body_file, threads, connections, seconds):
    url = f"http://127.0.0.1:{port}"
    if shutil.which("wrk"):
        script = Path(body_file).with_suffix(".lua")
        script.write_text(WRK_SCRIPT.format(body=body_file))
        done = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
                               "-s", str(script), url + PATH], capture_output=True, text=True, check=True)
        return parse_wrk(done.stdout)
    from tinytorch.core.mlops.serving.loadtest import run_load

    result = run_load(url, PATH, Path(body_file).read_bytes(), connections, seconds)
    return {"rps": result.requests_per_second, "p50": result.percentile_ms(50),
            "p99": result.percentile_ms(99), "errors": result.errors, "socket_errors": ""}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds the --seconds are split into")
    parser.add_argument("--max-batch-size", type=int, default=64)
    args = parser.parse_args()

    import numpy as np

    from tinytorch.core.data import load_digits
    from tinytorch.core.mlops.serving.protocol import encode_infer_request
    from tinytorch.core.serialization import save_model
    from tinytorch.core.training import train_digits_classifier

    model, _ = train_digits_classifier(hidden=(128,), seed=0)
    x_test, _ = load_digits().test
    tmp = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    save_model(model, tmp / "digits.ttm")
    body_file = tmp / "body.json"
    body_file.write_bytes(encode_infer_request(np.asarray(x_test[:1]), outputs=["predict"]))
    print(f"model: digits MLP 64-128-10, {model.num_parameters:,} parameters; body {body_file.stat().st_size} bytes")
    print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"load: {'wrk' if shutil.which('wrk') else 'python asyncio load generator'} "
          f"-t{args.threads} -c{args.connections}, {args.seconds} s per server in {args.rounds} interleaved rounds, "
          f"single-row POST {PATH}")

    servers = {
        "plain starlette+orjson": lambda port: [sys.executable, "-c", PLAIN_SERVER, str(tmp / "digits.ttm"), str(port)],
        "ModelServer, no batching": lambda port: [
            sys.executable, "-m", "tinytorch.core.mlops.serving", "--model", str(tmp / "digits.ttm"),
            "--port", str(port), "--max-batch-size", "1"],
        "ModelServer": lambda port: [
            sys.executable, "-m", "tinytorch.core.mlops.serving", "--model", str(tmp / "digits.ttm"),
            "--port", str(port), "--max-batch-size", str(args.max_batch_size)],
    }
    ports = {name: free_port() for name in servers}
    processes = {name: start(command(ports[name]), ports[name]) for name, command in servers.items()}
    results = {}
    try:
        # The load is split into rounds, the servers interleaved, so that other work on a shared
        # machine affects them alike; req/s is over all rounds, p50/p99 the median round's.
        rounds = {name: [] for name in servers}
        for name in servers:
            drive(ports[name], body_file, 1, 4, 1)  # warm up
        for _ in range(args.rounds):
            for name in servers:
                cpu_before = cpu_seconds(processes[name].pid)
                load = drive(ports[name], body_file, args.threads, args.connections, args.seconds // args.rounds)
                load["cpu"] = cpu_seconds(processes[name].pid) - cpu_before
                rounds[name].append(load)
        for name in servers:
            runs, seconds = rounds[name], args.seconds // args.rounds * args.rounds
            load = {"rps": sum(r["rps"] for r in runs) / len(runs),
                    "p50": float(np.median([r["p50"] for r in runs])), "p99": float(np.median([r["p99"] for r in runs])),
                    "errors": sum(r["errors"] for r in runs), "socket_errors": " ".join(r["socket_errors"] for r in runs).strip()}
            load["cpu_us"] = sum(r["cpu"] for r in runs) / (load["rps"] * seconds) * 1e6
            results[name] = [load]
            print(f"{name:26s} c={args.connections}: {load['rps']:8,.0f} req/s  p50 {load['p50']:6.2f} ms  "
                  f"p99 {load['p99']:6.2f} ms  server CPU {load['cpu_us']:4.0f} us/req  non-200 {load['errors']} "
                  f"{load['socket_errors']}")
        # A lone client, servers interleaved over several short rounds so that other work on
        # the machine affects them alike; the median round is reported.
        rounds = {name: [] for name in servers}
        for _ in range(5):
            for name in servers:
                rounds[name].append(drive(ports[name], body_file, 1, 1, 1))
        for name in servers:
            lone = sorted(rounds[name], key=lambda r: r["p50"])[2]
            results[name].append(lone)
            print(f"{name:26s} c=1:  {lone['rps']:8,.0f} req/s  p50 {lone['p50']:6.3f} ms  p99 {lone['p99']:6.2f} ms")
    finally:
        for process in processes.values():
            process.terminate()
            process.wait(timeout=10)

    plain, ours = results["plain starlette+orjson"], results["ModelServer"]
    ratio = ours[0]["rps"] / plain[0]["rps"]
    print(f"\nModelServer / plain: {ratio:.2f}x req/s at c={args.connections} "
          f"(p99 {ours[0]['p99']:.2f} vs {plain[0]['p99']:.2f} ms); "
          f"c=1 p50 {ours[1]['p50']:.3f} vs {plain[1]['p50']:.3f} ms "
          f"({ours[1]['p50'] / plain[1]['p50']:.2f}x)")
    checks = {
        ">= 1,000 req/s": ours[0]["rps"] >= 1000,
        "p99 < 100 ms": ours[0]["p99"] < 100,
        ">= 1.2x plain req/s": ratio >= 1.2,
        "p99 <= plain p99": ours[0]["p99"] <= plain[0]["p99"],
        "no failed requests": ours[0]["errors"] == 0,
    }
    for check, passed in checks.items():
        print(f"  [{'x' if passed else ' '}] {check}")


if __name__ == "__main__":
    main()
