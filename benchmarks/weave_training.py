"""Benchmark: weave-model training throughput, padded against sparse batches, side by side.

The full-budget model (width 64, 3 weave layers) takes train steps (``train_on_batch``, Adam, the
masked MAE loss of ``course.models.weave_training``) on 64-molecule batches of fold-0 training
molecules in three forms: padded to 29 atoms as ``WeaveData.padded`` makes them (Keras's default
on a CPU: no XLA), padded with XLA, and sparse (``WeaveData.sparse``, real atoms and pairs only,
XLA). Each form runs in its own process, which reports molecules per second over its timed steps
(batch assembly included, compilation excluded) and its peak resident memory while training
(reset after loading the data, so it holds the batches, gradients and compiled steps); the forms
alternate over several rounds so that a busy machine slows all of them alike, and the medians and
the sparse/padded ratios are recorded with the machine and its load.

    nice -n 5 python benchmarks/weave_training.py [--rounds 2] [--steps 40]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "weave_training.json"
FORMS = ("padded", "padded+xla", "sparse+xla")
BATCH = 64


def measure(form: str, steps: int) -> dict:
    """Time ``steps`` train steps of ``form`` after two warm-up steps (run in a child process)."""
    import keras
    import numpy as np

    from course.models.weave import build_weave_model
    from course.models.weave_data import Capacity
    from course.models.weave_fold import PLANS, all_molecules
    from course.models.weave_training import masked_loss, fit_reference

    data = all_molecules()
    rows = np.flatnonzero(data.fold != 0)
    rows = rows[np.random.default_rng(0).permutation(len(rows))[:BATCH * (steps + 2)]]
    y = data.targets["alpha_bohr3"]
    keras.utils.set_random_seed(0)
    model = build_weave_model(**PLANS["full"].model)
    model.target_scale.set_reference(*fit_reference(data, rows, y[rows]))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=masked_loss("mae", 1.0), jit_compile=form != "padded")
    capacity = Capacity.for_batches_of(BATCH, data.n_atoms[np.flatnonzero(data.fold != 0)])

    def step(k: int) -> None:
        batch = rows[k * BATCH:(k + 1) * BATCH]
        x = data.sparse(batch, capacity) if form == "sparse+xla" else data.padded(batch)
        target = np.zeros((len(x["molecule_mask"]) if "molecule_mask" in x else BATCH, 2), np.float32)
        target[:BATCH, 0], target[:BATCH, 1] = y[batch], 1.0
        model.train_on_batch(x, target)

    loaded = _rss_mib()
    Path("/proc/self/clear_refs").write_text("5")  # Linux: the peak (VmHWM) restarts from now
    step(0), step(1)
    start = time.perf_counter()
    for k in range(2, steps + 2):
        step(k)
    seconds = time.perf_counter() - start
    return {"form": form, "molecules_per_second": round(BATCH * steps / seconds, 1),
            "rss_before_training_mib": loaded, "peak_rss_while_training_mib": _peak_mib()}


def _peak_mib() -> int:
    """Peak resident memory since the last reset (VmHWM of /proc/self/status)."""
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:"))
    return round(int(line.split()[1]) / 1024)


def _rss_mib() -> int:
    """Resident memory now (Linux): the data set and model, before any batch is made."""
    return round(int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--child", choices=FORMS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.steps)))
        return
    import numpy as np

    from course.machine import stamp
    from course.models.weave_fold import all_molecules

    n_train = int((all_molecules().fold != 0).sum()) - 5000
    machine = stamp(note="cores shared with other work (a niced training run, other agents) while measuring")
    runs = []
    for round_ in range(args.rounds):
        for form in FORMS:
            done = subprocess.run([sys.executable, __file__, "--child", form, "--steps", str(args.steps)],
                                  capture_output=True, text=True, check=True)
            runs.append({"round": round_, **json.loads(done.stdout.strip().splitlines()[-1])})
            print(runs[-1], flush=True)
    summary = {}
    for form in FORMS:
        rates = [r["molecules_per_second"] for r in runs if r["form"] == form]
        summary[form] = {"molecules_per_second_median": float(np.median(rates)),
                         "seconds_per_epoch_of_the_training_fold": round(n_train / float(np.median(rates)), 1),
                         "peak_rss_while_training_mib_max": max(r["peak_rss_while_training_mib"]
                                                                for r in runs if r["form"] == form),
                         "peak_over_loaded_mib_max": max(r["peak_rss_while_training_mib"] - r["rss_before_training_mib"]
                                                         for r in runs if r["form"] == form)}
    base = summary["padded"]["molecules_per_second_median"]
    ratios = {form: round(summary[form]["molecules_per_second_median"] / base, 2) for form in FORMS}
    result = {"machine": machine, "load_average_at_end": os.getloadavg(), "batch_molecules": BATCH,
              "timed_steps_per_run": args.steps, "training_fold_molecules": n_train, "runs": runs,
              "summary": summary, "speed_over_padded": ratios, "goal": "sparse+xla >= 3x padded"}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({"speed_over_padded": ratios, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
