"""The local QM9 cache: one uncompressed ``.npz`` plus a JSON manifest that proves it is current.

The manifest records the cache format version, the size and SHA-256 of every source CSV and the
SHA-256 of the ``.npz``. A cache is used only if all of these match; otherwise
:func:`read_cache` raises :class:`StaleCache` with the reason and the caller rebuilds.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import platformdirs

from course.data.qm9_source import SOURCE_FILES

FORMAT_VERSION = 1
_NPZ = f"qm9_v{FORMAT_VERSION}.npz"
MANIFEST = f"qm9_v{FORMAT_VERSION}.json"
STRING_KEYS = ("smiles", "inchi", "smiles_relaxed", "smiles_check", "excluded_reason")


class StaleCache(Exception):
    """The cache is missing, out of date or damaged; the message says which.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     read_cache(Path(folder), {})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    course.data.qm9_cache.StaleCache: no cache manifest at ...qm9_v1.json
    """


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The argument, else ``$COURSE_CACHE_DIR``, else the user cache folder of the course.

    The QM9 cache is the ``qm9`` folder inside it.

    >>> resolve_cache_dir("/tmp/course-cache").as_posix()
    '/tmp/course-cache/qm9'
    """
    if cache_dir is None:
        cache_dir = os.environ.get("COURSE_CACHE_DIR") or platformdirs.user_cache_dir("mlchem-course")
    return Path(cache_dir).expanduser() / "qm9"


def cache_checksum(cache_dir: str | Path | None = None) -> str:
    """SHA-256 of the cached QM9 arrays, from the manifest: the key for caches derived from them.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     npz = write_cache(resolve_cache_dir(folder), {"index": np.arange(2)}, {}, {})
    ...     cache_checksum(folder) == sha256(npz)
    True
    """
    return json.loads((resolve_cache_dir(cache_dir) / MANIFEST).read_text())["npz_sha256"]


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 8 MiB blocks (the source CSVs and the cache are large).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (Path(folder) / "f").write_bytes(b"abc")
    ...     sha256(Path(folder) / "f") == hashlib.sha256(b"abc").hexdigest()
    True
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def source_fingerprint(source_dir: Path) -> dict[str, dict[str, object]]:
    """Size and SHA-256 of each source CSV: a different qm9pack gives a different fingerprint.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for name in SOURCE_FILES:
    ...         _ = (Path(folder) / name).write_text("Index\\n")
    ...     print(source_fingerprint(Path(folder))["qm9_part1.csv"]["size"])
    6
    """
    return {name: {"size": (source_dir / name).stat().st_size, "sha256": sha256(source_dir / name)}
            for name in SOURCE_FILES}


def _encode(strings: list[str]) -> np.ndarray:
    for s in strings:
        if "\n" in s:
            raise ValueError(f"cannot store a string with a line break: {s!r}")
    return np.frombuffer("\n".join(strings).encode("utf-8"), dtype=np.uint8)


def _decode(blob: np.ndarray, n: int) -> list[str]:
    strings = blob.tobytes().decode("utf-8").split("\n") if n else []
    if len(strings) != n:
        raise StaleCache(f"string column holds {len(strings)} entries, expected {n}")
    return strings


def write_cache(folder: Path, arrays: dict[str, object], fingerprint: dict, report: dict) -> Path:
    """Write the arrays (strings as UTF-8 blobs), then the manifest; both atomically.

    A reader never sees a half-written cache: :func:`read_cache` gives the arrays back only
    while the manifest still matches.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = write_cache(Path(folder), {"index": np.array([1, 2]), "smiles": ["C", "N"]}, {"a.csv": 1}, {"n": 2})
    ...     arrays, report = read_cache(Path(folder), {"a.csv": 1})
    ...     read_cache(Path(folder), {"a.csv": 2})
    Traceback (most recent call last):
    ...
    course.data.qm9_cache.StaleCache: the qm9pack source files differ from those the cache was built from
    >>> arrays["index"].tolist(), arrays["smiles"], report
    ([1, 2], ['C', 'N'], {'n': 2})
    """
    folder.mkdir(parents=True, exist_ok=True)
    stored = {k: (_encode(v) if k in STRING_KEYS else np.asarray(v)) for k, v in arrays.items()}
    tmp = folder / (_NPZ + ".tmp")
    with open(tmp, "wb") as handle:
        np.savez(handle, **stored)
    os.replace(tmp, folder / _NPZ)
    manifest = {"format_version": FORMAT_VERSION, "sources": fingerprint, "npz": _NPZ,
                "npz_size": (folder / _NPZ).stat().st_size, "npz_sha256": sha256(folder / _NPZ),
                "n_molecules": int(len(arrays["index"])), "report": report}
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, folder / MANIFEST)
    return folder / _NPZ


def read_cache(folder: Path, fingerprint: dict) -> tuple[dict[str, object], dict]:
    """Arrays and build report from a verified cache; raises :class:`StaleCache` otherwise.

    See :func:`write_cache` for an example.
    """
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise StaleCache(f"no cache manifest at {manifest_path}")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StaleCache(f"unreadable manifest {manifest_path}: {exc}") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise StaleCache(f"cache format {manifest.get('format_version')}, this code needs {FORMAT_VERSION}")
    if manifest.get("sources") != fingerprint:
        raise StaleCache("the qm9pack source files differ from those the cache was built from")
    npz = folder / _NPZ
    if not npz.exists() or npz.stat().st_size != manifest.get("npz_size"):
        raise StaleCache(f"{npz} is missing or has the wrong size (truncated?)")
    if sha256(npz) != manifest.get("npz_sha256"):
        raise StaleCache(f"{npz} fails its checksum")
    n = manifest["n_molecules"]
    try:
        with np.load(npz, allow_pickle=False) as data:
            arrays = {k: (_decode(data[k], n) if k in STRING_KEYS else data[k]) for k in data.files}
    except (OSError, ValueError, KeyError) as exc:
        raise StaleCache(f"{npz} cannot be read: {exc}") from None
    return arrays, manifest["report"]
