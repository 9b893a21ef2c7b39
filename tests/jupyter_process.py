"""A Jupyter server (``jupyter server`` or ``jupyter lab``) on a free localhost port, for tests."""
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running(app: str, folder: Path, token: str, wait_seconds: int = 120) -> Iterator[str]:
    """Start ``jupyter APP`` in ``folder`` (log in ``folder/APP.log``); yield its base URL once it
    answers, stop it afterwards. A test fails naming the app and the log's end if it never answers."""
    log_path = folder / f"{app}.log"
    port = _free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "jupyter", app, "--no-browser", f"--port={port}",
                                    "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", "--allow-root"],
                                   cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                    break
                except OSError:
                    if process.poll() is not None:
                        pytest.fail(f"jupyter {app} exited: {log_path.read_text()[-2000:]}")
                    if time.monotonic() > deadline:
                        pytest.fail(f"jupyter {app} did not answer within {wait_seconds} s")
                    time.sleep(0.5)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=60)
