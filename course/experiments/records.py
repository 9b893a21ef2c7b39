"""The results file of a run that may be made in several processes, one representation each."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path


def write_merged(record: dict, path: Path, protocol_keys: Sequence[str], order: Sequence[str] | None = None) -> dict:
    """Write ``record`` to ``path`` as JSON, keeping the ``results`` and ``runs`` of the run already
    there when its ``protocol_keys`` agree; ``order`` sorts the merged results. Returns what it wrote.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "run.json"
    >>> _ = write_merged({"n": 1, "results": {"bob": 2}, "runs": {"bob": 9}}, path, ["n"])
    >>> write_merged({"n": 1, "results": {"cm": 1}, "runs": {"cm": 8}}, path, ["n"], order=["cm", "bob"])["results"]
    {'cm': 1, 'bob': 2}
    """
    if path.is_file():
        earlier = json.loads(path.read_text())
        if all(earlier.get(key) == record[key] for key in protocol_keys):
            record = {**record, "results": {**earlier["results"], **record["results"]},
                      "runs": {**earlier.get("runs", {}), **record["runs"]}}
    if order is not None:
        record = {**record, "results": {key: record["results"][key] for key in order if key in record["results"]}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return record
