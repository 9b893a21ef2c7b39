"""Measure QM9 loading: first load (cache build), later load, exclusions and cache size.

Usage: python benchmarks/qm9_load.py [--cache-dir DIR]
Writes benchmarks/results/qm9_load.json. The first load is forced with ``rebuild=True``.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from course.data.qm9 import load
from course.data.qm9_cache import resolve_cache_dir
from course.machine import stamp

RESULT = Path(__file__).parent / "results" / "qm9_load.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache-dir", default=None, help="cache folder (default: a new temporary one)")
    args = parser.parse_args()
    machine = stamp(note="cores shared with other jobs while measuring")
    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="qm9-bench-")
    start = time.perf_counter()
    data = load(cache_dir, rebuild=True)
    first = time.perf_counter() - start
    start = time.perf_counter()
    data = load(cache_dir, verbose=False)
    later = time.perf_counter() - start
    folder = resolve_cache_dir(cache_dir)
    size = sum(f.stat().st_size for f in folder.iterdir())
    excluded = data.excluded()
    start = time.perf_counter()
    for idx in data.table.index[data.usable][:2000]:
        data.mol(idx)
    mol_ms = (time.perf_counter() - start) / 2000 * 1000
    result = {
        "machine": machine,
        "first_load_seconds": round(first, 1),
        "later_load_seconds": round(later, 2),
        "cache_bytes": size,
        "n_molecules": len(data),
        "n_usable": int(data.usable.sum()),
        "n_excluded": len(excluded),
        "excluded_by_category": excluded["category"].value_counts().to_dict(),
        "smiles_check": data.report["smiles_check"],
        "n_freq_listed_twice": data.report["n_freq_listed_twice"],
        "perception_workers": 2,
        "mol_ms_per_molecule": round(mol_ms, 2),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
