"""Serve a saved model as a standalone process:

    python -m tinytorch.core.mlops.serving --model digits.ttm --port 8080
"""

import argparse

from .server import ModelServer


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinytorch.core.mlops.serving", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model file written by tinytorch.core.serialization.save_model")
    parser.add_argument("--name", default="model", help="model name in the URL /v2/models/<name> (default: model)")
    parser.add_argument("--version", default="1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--max-batch-size", type=int, default=64)
    parser.add_argument("--max-latency-ms", type=float, default=100.0)
    parser.add_argument("--max-queue-size", type=int, default=1024)
    args = parser.parse_args(argv)

    from tinytorch.core.serialization import load_model

    server = ModelServer(load_model(args.model), name=args.name, version=args.version, host=args.host,
                         port=args.port, max_batch_size=args.max_batch_size,
                         max_latency_ms=args.max_latency_ms, max_queue_size=args.max_queue_size)
    server.run()


if __name__ == "__main__":
    main()
