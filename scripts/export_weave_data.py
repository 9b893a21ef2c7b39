"""Export the MG features of QM9 for the GPU machine: one compact .npz that needs numpy only.

Run here (it needs RDKit's QM9 caches: ``course featurize`` builds them once):

    PYTHONPATH=. nice -n 10 python scripts/export_weave_data.py build/weave/qm9_weave.npz

The file holds every usable QM9 molecule (130,827) in the form of ``course.models.weave_data``
(features, coordinates, α and ZPVE, canonical fold of each molecule) and takes 35.2 MiB (61 s, 4 GB of memory, measured); the
device side trains from it with ``scripts/run_weave_device.sh``. ``--check N`` compares N random
molecules padded from the file with ``GraphBatch.padded`` of the cache before finishing.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from course.data import qm9
from course.features import qm9_graphs
from course.models.weave_data import WeaveData


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="the .npz to write")
    parser.add_argument("--check", type=int, default=2000, help="molecules to compare after writing (0: none)")
    args = parser.parse_args()
    started = time.perf_counter()
    graphs = qm9_graphs.load(verbose=False)
    data = WeaveData.from_qm9(graphs, qm9.load(verbose=False))
    args.path.parent.mkdir(parents=True, exist_ok=True)
    data.save(args.path)
    print(f"{len(data)} molecules, {len(data.atom_vocab)} distinct atom and {len(data.pair_vocab)} distinct pair "
          f"feature rows; {args.path}: {args.path.stat().st_size / 2**20:.1f} MiB in "
          f"{time.perf_counter() - started:.0f} s")
    if args.check:
        loaded = WeaveData.load(args.path)
        rows = np.sort(np.random.default_rng(0).choice(len(loaded), size=min(args.check, len(loaded)), replace=False))
        ours, cached = loaded.padded(rows), graphs.batch.padded(graphs.rows(loaded.qm9_index[rows]))
        for key, value in ours.items():
            tolerance = 1e-5 if key == "pairs" else 0.0  # pairs hold the recomputed distances
            error = np.abs(value - cached[key]).max()
            if error > tolerance:
                raise SystemExit(f"check failed: {key} differs by {error:.3g}")
        print(f"check: {len(rows)} molecules pad to the cached features (distances within 1e-5 Å)")


if __name__ == "__main__":
    main()
