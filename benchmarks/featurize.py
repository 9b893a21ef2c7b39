"""Benchmark: Molecular Graph and Coulomb-family features for QM9, on this machine's cores.

Writes throughput (molecules per second), wall times, peak memory and the machine (cores, CPU
model, date) to benchmarks/results/featurize.json. Goal: all of QM9 MG-featurised in under
3 minutes on 2 cores. ``--limit N`` measures the first N molecules and extrapolates linearly
to all of QM9 (said so in the output).

    nice -n 10 python benchmarks/featurize.py [--limit 20000] [--n-jobs 2]
"""
from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import rdkit

from course.data import qm9
from course.machine import stamp
from course.features import coulomb, graph

RESULTS = Path(__file__).parent / "results" / "featurize.json"


def machine_now() -> dict:
    """The machine, plus what else was running on it (wall times depend on that)."""
    return stamp(numpy=np.__version__, rdkit=rdkit.__version__)


def peak_rss_mb() -> dict:
    """Peak resident memory of this process and of its (finished) worker processes."""
    return {who: round(resource.getrusage(flag).ru_maxrss / 1024, 1)
            for who, flag in (("main", resource.RUSAGE_SELF), ("largest_worker", resource.RUSAGE_CHILDREN))}


def cpu_s() -> float:
    """CPU seconds used so far by this process and its finished children (workers)."""
    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N molecules only (extrapolated)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--source", default="course.data.qm9.load()", help="how the molecules were obtained")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    info = {"machine": machine_now(), "molecule_source": args.source, "n_jobs": args.n_jobs}
    data, t_load = timed(qm9.load)
    total = len(data.offsets) - 1
    m = min(total, args.limit or total)
    info.update(qm9_molecules=total, measured_molecules=m, load_s=round(t_load, 2))
    scale = total / m  # linear extrapolation to all of QM9

    # --- Molecular Graph
    # Excluded molecules (counted by the loader, with reasons) have no RDKit molecule to featurize.
    usable = data.table.index[data.usable.to_numpy()].to_numpy()[:m]
    failed = [f"{i}: {r}" for i, r in data.table["excluded_reason"].iloc[:m].items() if r]
    start = time.perf_counter()
    mols = [data.mol(i) for i in usable]
    t_mols = time.perf_counter() - start
    cpu_before = cpu_s()
    batch, t_mg = timed(graph.featurize_many, mols, n_jobs=args.n_jobs, progress=True)
    cpu_mg = cpu_s() - cpu_before  # wall time suffers when others share the cores; CPU time does not
    with tempfile.TemporaryDirectory() as tmp:
        _, t_save = timed(batch.save, Path(tmp) / "mg.npz")
        npz_mb = (Path(tmp) / "mg.npz").stat().st_size / 2**20
    info["molecular_graph"] = {
        "mols_built": len(mols), "mols_failed_to_build": len(failed), "first_failures": failed[:5],
        "build_mols_s": round(t_mols, 2), "featurize_s": round(t_mg, 2),
        "featurize_mol_per_s": round(len(mols) / t_mg, 1),
        "featurize_cpu_ms_per_mol": round(cpu_mg / len(mols) * 1e3, 3),
        "featurize_all_qm9_s_if_cores_idle": round(cpu_mg * scale / args.n_jobs, 1),
        "featurize_all_qm9_s_extrapolated" if scale > 1 else "featurize_all_qm9_s": round(t_mg * scale, 1),
        "stored_mb": round(batch.nbytes / 2**20, 1), "stored_all_qm9_mb_extrapolated": round(batch.nbytes * scale / 2**20, 1),
        "npz_mb": round(npz_mb, 1), "save_npz_s": round(t_save, 2),
        "mean_atoms": round(float(batch.n_atoms.mean()), 2), "max_atoms": int(batch.n_atoms.max()),
    }
    padded, t_pad = timed(batch.padded, np.arange(min(128, len(batch))))
    info["molecular_graph"]["pad_batch_of_128_ms"] = round(t_pad * 1e3, 2)
    del mols, batch, padded

    # --- Coulomb family, on the raw structures of the same molecules
    end = data.offsets[m]
    Z, R, offsets = data.Z[:end], data.R[:end], data.offsets[:m + 1]
    cm, t_cm = timed(coulomb.coulomb_matrices, Z, R, offsets, sort=True)
    eig, t_eig = timed(coulomb.coulomb_eigenvalues, Z, R, offsets)
    bob, t_fit = timed(coulomb.BagOfBonds().fit, Z, offsets)
    vec, t_bob = timed(bob.transform, Z, R, offsets)
    info["coulomb"] = {
        "sorted_matrices_s": round(t_cm, 2), "eigenvalues_s": round(t_eig, 2),
        "bob_fit_s": round(t_fit, 2), "bob_transform_s": round(t_bob, 2),
        "bob_features": bob.n_features, "bob_bags": ["-".join(map(str, b)) for b in bob.bags],
        "sorted_matrices_mb": round(cm.nbytes / 2**20, 1), "bob_mb": round(vec.nbytes / 2**20, 1),
        "total_all_qm9_s" + ("_extrapolated" if scale > 1 else ""): round((t_cm + t_eig + t_fit + t_bob) * scale, 1),
    }
    info["peak_rss_mb"] = peak_rss_mb()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
