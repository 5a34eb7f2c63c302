"""Does watching the dashboard slow the infer path? Measured two ways in the same run.

1. Event-loop time: the server answers ``/dashboard/data`` on the loop that serves inference, so
   what matters is the CPU one sample costs there, against the CPU of one single-row infer request
   (validate, predict, encode) timed in the same process. Measured on a fresh server and again
   after 100,000 recorded requests: a sample only reads fixed-size counters, so its cost must
   not grow with traffic.
2. End to end: one ModelServer (digits MLP, in this process) receives single-row v2 requests from the package's
load generator (another process, 16 connections). In the "watched" rounds, a second process also
polls ``/dashboard/data`` 20 times a second: twenty open dashboards at the page's refresh rate of
once a second. Rounds alternate, so background load on a shared machine affects both alike;
medians are printed with their ratio. Target: the watched server keeps >= 0.95x the requests/s
of the unwatched one, at a p99 no worse than 1.1x (the data endpoint only reads counters).

    .venv/bin/python benchmarks/serving_dashboard.py [--seconds 2] [--rounds 3]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

VIEWERS = '''
import http.client, sys, time
host, port, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
conn = http.client.HTTPConnection(host, port, timeout=10)
polls = 0
while True:
    started = time.perf_counter()
    conn.request("GET", "/dashboard/data")
    conn.getresponse().read()
    polls += 1
    time.sleep(max(0.0, interval - (time.perf_counter() - started)))
'''


def per_call_seconds(fn, repeat=2000):
    """Best of five timings of ``repeat`` calls (the least disturbed by other processes)."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - started) / repeat)
    return best


def event_loop_costs(server, body):
    """Seconds per dashboard sample (fresh, then after 100,000 requests) and per infer request."""
    import orjson

    from tinytorch.core.mlops.serving.protocol import encode_infer_response

    served = server.served

    def infer_work():  # what the infer route does for one request, minus the socket
        request = orjson.loads(body)
        x = server.parse_request(request, served.input_shape)
        encode_infer_response(served.name, served.version, None, {"predict": served.predict_batch(x)["predict"]})

    fresh = per_call_seconds(lambda: server._dashboard_data({}))
    for i in range(100_000):
        server.metrics.requests.inc(status="200" if i % 50 else "400")
        server.metrics.latency.observe(0.0005 + (i % 997) * 1e-5)
        server.metrics.batch_size.observe(1 + i % 7)
    busy = per_call_seconds(lambda: server._dashboard_data({}))
    return fresh, busy, per_call_seconds(infer_work)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="load per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--polls-per-second", type=float, default=20.0, help="dashboard samples per second")
    args = parser.parse_args()

    from tinytorch.core.data import load_digits
    from tinytorch.core.mlops.serving import ModelServer
    from tinytorch.core.mlops.serving.loadtest import run_load
    from tinytorch.core.mlops.serving.protocol import encode_infer_request
    from tinytorch.core.training import train_digits_classifier

    model, _ = train_digits_classifier(hidden=(128,), epochs=3, seed=0)
    body = encode_infer_request(load_digits().test[0][:1], outputs=["predict"])
    print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    probe = ModelServer(model, name="digits", port=0)
    fresh, busy, infer = event_loop_costs(probe, body)
    print(f"one infer request (validate, predict, encode): {infer * 1e6:7.1f} us")
    print(f"one dashboard sample, fresh server:             {fresh * 1e6:7.1f} us = {fresh / infer:.2f} infer requests")
    print(f"one dashboard sample, after 100,000 requests:   {busy * 1e6:7.1f} us = {busy / infer:.2f} infer requests")
    print(f"ten open pages (10 samples/s) take {10 * busy * 100:.4f} % of the event loop\n")

    results = {"unwatched": [], "watched": []}
    with ModelServer(model, name="digits", port=0) as server:
        run_load(server.url, "/v2/models/digits/infer", body, 16, 0.5)  # warm-up
        for round_number in range(args.rounds):
            for name in ("unwatched", "watched"):
                viewers = None
                if name == "watched":
                    viewers = subprocess.Popen([sys.executable, "-c", VIEWERS, server.host, str(server.port),
                                                str(1 / args.polls_per_second)])
                try:
                    load = run_load(server.url, "/v2/models/digits/infer", body, 16, args.seconds)
                finally:
                    if viewers is not None:
                        viewers.terminate()
                        viewers.wait()
                assert load.errors == 0, f"{load.errors} infer requests failed"
                results[name].append(load)
                print(f"round {round_number + 1} {name:9s}: {load}")
        polled = server.metrics.requests.values  # infer requests only; the dashboard is not counted

    def median(name, value):
        return statistics.median(value(load) for load in results[name])

    rps = {name: median(name, lambda load: load.requests_per_second) for name in results}
    p99 = {name: median(name, lambda load: load.percentile_ms(99)) for name in results}
    for name in results:
        print(f"{name:9s} median: {rps[name]:8,.0f} req/s  p99 {p99[name]:6.2f} ms")
    print(f"infer requests answered: {sum(polled.values()):,}")
    print(f"\nwatched / unwatched: {rps['watched'] / rps['unwatched']:.3f}x req/s, "
          f"{p99['watched'] / p99['unwatched']:.3f}x p99 "
          f"({args.polls_per_second:g} dashboard polls/s)")
    checks = {"a sample costs < 10 infer requests": busy < 10 * infer,
              "a sample after 100,000 requests costs < 1.5x a fresh one": busy < 1.5 * fresh,
              "watched requests/s >= 0.95x unwatched": rps["watched"] >= 0.95 * rps["unwatched"]}
    for check, passed in checks.items():
        print(f"  [{'x' if passed else ' '}] {check}")


if __name__ == "__main__":
    main()
