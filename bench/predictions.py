"""Batch predictions: the service's chunked path vs ``predict`` on the loaded pipeline, 1,000,000 rows.

One model per family is trained through the engine (impute -> one-hot encode -> scale on
a mixed frame with a text column and gaps) and saved as the service saves it. The same
Parquet file of ``--rows`` rows is then predicted two ways, each in a fresh process so
that its peak RSS is its own:

- ``service``: ``actors.ml.batch_predictions.predict_file``, the path of a predictions job:
  the file read one record batch at a time, each batch predicted (labels and class
  probabilities) and appended to a Parquet output with the input's columns;
- ``direct``: what a user does with the downloaded artifact: ``pandas.read_parquet`` of
  the whole file and ``joblib.load(artifact).predict(frame)``.

Printed per family: rows per second of each, the throughput ratio (service / direct,
higher is better), peak RSS of each, and peak RSS above a process that only imported the
libraries and loaded the model (the floor), with the ratio of those (service / direct,
lower is better). Sides alternate over ``--rounds`` rounds; medians are reported.

Usage: ``python bench/predictions.py [--rows 1000000] [--rounds 3] [--families lightgbm ...]``
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FAMILIES = ("logistic_regression", "random_forest", "xgboost", "lightgbm")
HYPERPARAMETERS = {"random_forest": {"n_estimators": 50, "max_depth": 12}, "xgboost": {"n_estimators": 100},
                   "lightgbm": {"n_estimators": 100}, "logistic_regression": {}}


def _frame(rows: int, seed: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    city = rng.choice(np.array(["Paris", "Lyon", "Nice", "Brest", "Lille", None], dtype=object), size=rows)
    numbers = rng.normal(size=(rows, 8))
    numbers[rng.random(size=(rows, 8)) < 0.03] = np.nan
    frame = pd.DataFrame(numbers, columns=[f"x{i}" for i in range(8)])
    frame.insert(0, "age", rng.integers(18, 90, size=rows))
    frame.insert(1, "city", city)
    signal = np.nan_to_num(numbers[:, 0]) + 0.5 * np.nan_to_num(numbers[:, 1]) + (city == "Nice")
    frame["label"] = np.where(signal + rng.normal(0, 0.5, rows) > 0.3, "yes", "no")
    return frame


def _train(directory: Path, family: str) -> str:
    from actors.ml.artifacts import save_artifact
    from actors.ml.fit import run_training
    from actors.ml.options import DatasetRef, FitOptions
    from store.blobs import LocalBlobStore

    source = directory / "train.parquet"
    if not source.exists():
        _frame(20_000, 1).to_parquet(source, index=False)

    def node(node_id: str, node_type: str, **config: Any) -> dict[str, Any]:
        return {"id": node_id, "type": node_type, "data": {"config": config}}

    nodes = [node("src", "dataset_source"), node("split", "train_test_split", test_size=0.2),
             node("imp", "impute", strategy="median"), node("enc", "encode", method="onehot"), node("sc", "scale"),
             node("train", "train_model", model_type=family, target="label", hyperparameters=HYPERPARAMETERS[family])]
    pairs = enumerate(itertools.pairwise(nodes))
    edges = [{"id": f"e{i}", "source": a["id"], "target": b["id"]} for i, (a, b) in pairs]
    result = run_training({"nodes": nodes, "edges": edges}, "train", DatasetRef(str(source), "parquet"),
                          FitOptions(curves=False, explain=False), should_stop=lambda: None,
                          on_progress=lambda _: None)
    path = directory / f"{family}.joblib"
    save_artifact(result.artifact, LocalBlobStore(directory), path.name)
    return str(path)


def _child(kind: str, artifact: str, data: str, output: str, queue: Any) -> None:
    import joblib
    import pandas as pd

    from actors.ml.batch_predictions import predict_file
    from actors.ml.checkpoints import Checkpoint
    from store.blobs import LocalBlobStore

    model = joblib.load(artifact)
    rows = 0
    started = time.perf_counter()
    if kind == "service":
        out = Path(output)
        rows = predict_file(model, data, "parquet", LocalBlobStore(out.parent), out.name, "parquet", Checkpoint()).rows
    elif kind == "direct":
        frame = pd.read_parquet(data)
        rows = len(model.predict(frame))
    elapsed = time.perf_counter() - started
    queue.put((rows, elapsed, _peak_mb()))


def _peak_mb() -> float:
    """This process's peak resident memory since it started its interpreter.

    ``VmHWM`` belongs to the process's current address space; ``ru_maxrss`` would also
    carry the parent's resident size from before the child's ``exec``.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure(kind: str, artifact: str, data: str, output: str) -> tuple[int, float, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(kind, artifact, data, output, queue))
    process.start()
    result = queue.get()
    process.join()
    return result  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per family."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--families", nargs="*", default=list(FAMILIES), choices=FAMILIES)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        data = str(directory / "score.parquet")
        _frame(args.rows, 2).drop(columns="label").to_parquet(data, index=False, row_group_size=65_536)
        output = str(directory / "out.parquet")
        print(f"rows={args.rows} rounds={args.rounds} (medians); service = chunked predict_file to Parquet, "
              "direct = read_parquet + predict")
        print(f"{'family':<20} {'direct r/s':>11} {'service r/s':>12} {'speed':>6} {'floor MB':>9} "
              f"{'direct MB':>10} {'service MB':>11} {'mem above floor':>16}")
        for family in args.families:
            artifact = _train(directory, family)
            direct: list[tuple[int, float, float]] = []
            service: list[tuple[int, float, float]] = []
            floor = _measure("floor", artifact, data, output)[2]
            for round_no in range(args.rounds):
                order = ("direct", "service") if round_no % 2 == 0 else ("service", "direct")
                for kind in order:
                    (direct if kind == "direct" else service).append(_measure(kind, artifact, data, output))
            assert all(rows == args.rows for rows, _, _ in direct + service)
            direct_rate = statistics.median(args.rows / s for _, s, _ in direct)
            service_rate = statistics.median(args.rows / s for _, s, _ in service)
            direct_mb = statistics.median(mb for _, _, mb in direct)
            service_mb = statistics.median(mb for _, _, mb in service)
            above = (service_mb - floor) / max(direct_mb - floor, 1.0)
            print(f"{family:<20} {direct_rate:>11,.0f} {service_rate:>12,.0f} {service_rate / direct_rate:>6.2f} "
                  f"{floor:>9.0f} {direct_mb:>10.0f} {service_mb:>11.0f} {above:>16.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
