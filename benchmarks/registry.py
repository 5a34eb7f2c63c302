"""What crash safety and integrity checks cost: registry operations against plain file I/O.

Baseline, measured in the same run on the same model bytes: `save` = open/write/close of the
artifact (no fsync, no hash, no lock); `load` = read + model_from_bytes. The registry adds
hashing, an flock, an exclusive-create reservation, atomic write (fsync file + rename + fsync
directory) of the artifact and of the metadata, two fsynced ledger lines (the record's seal,
then "written"), and on load the ledger lookup, the record's field checks, a sha256 check of
the artifact and a signature check.

    .venv/bin/python benchmarks/registry.py
"""

import os
import statistics
import tempfile
import time
from pathlib import Path

from tinytorch.core.mlops.registry import ModelRegistry
from tinytorch.core.serialization import model_from_bytes, model_to_bytes
from tinytorch.core.training import train_digits_classifier


def median_seconds(fn, repeats):
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(repeats=60):
    model, _ = train_digits_classifier(hidden=(64,), epochs=10, seed=0)
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent) as tmp:
        tmp = Path(tmp)
        registry = ModelRegistry(tmp / "production")
        plain = tmp / "plain"
        plain.mkdir()

        def plain_save(i):
            (plain / f"{i}.bin").write_bytes(model_to_bytes(model))

        def fsynced_save(i):
            with open(plain / f"f{i}.bin", "wb") as f:
                f.write(model_to_bytes(model))
                f.flush()
                os.fsync(f.fileno())

        base_save = median_seconds(plain_save, repeats)
        fsync_save = median_seconds(fsynced_save, repeats)
        reg_save = median_seconds(lambda i: registry.register_model(model), repeats)
        base_load = median_seconds(lambda i: model_from_bytes((plain / "0.bin").read_bytes()), repeats)
        reg_load = median_seconds(lambda i: registry.load_model("1"), repeats)
        blobs = len(list((tmp / "production" / "blobs").iterdir()))

    print(f"model: {model.num_parameters} parameters, {len(model_to_bytes(model))} bytes")
    print(f"save: plain write {base_save * 1e3:.2f} ms | register_model {reg_save * 1e3:.2f} ms "
          f"| ratio {reg_save / base_save:.1f}x")
    print(f"      plain write + one fsync {fsync_save * 1e3:.2f} ms: register_model is "
          f"{reg_save / fsync_save:.1f}x that (fsyncs of the metadata file, its directory and two ledger lines, three locks, a re-hash of "
          "the stored artifact)")
    print(f"load: plain read  {base_load * 1e3:.2f} ms | load_model     {reg_load * 1e3:.2f} ms "
          f"| ratio {reg_load / base_load:.1f}x")
    print(f"{repeats} registrations of identical weights stored {blobs} artifact file(s)")


if __name__ == "__main__":
    main()
