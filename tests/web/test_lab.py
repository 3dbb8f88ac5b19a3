"""The README's start command, `make lab`, run as a newcomer would: it starts JupyterLab on
the lessons (as root too: the Makefile adds --allow-root there), the server answers on its
port with the lessons and the slideshow extension, and it stops cleanly.

Needs the course's .venv (make setup); `make test-web` and `.ci/run` have it. The test uses
`make` from the repository root, so it runs what the README tells students to type.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CI = os.environ.get("CI") == "true"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_make_lab_starts_answers_and_stops(tmp_path):
    if shutil.which("make") is None or not (ROOT / ".venv" / "bin" / "jupyter").exists():
        if CI:
            pytest.fail("make lab needs make and the course's .venv (make setup)")
        pytest.skip("make lab needs make and the course's .venv (make setup)")
    port, token = free_port(), uuid.uuid4().hex
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"))   # nothing of the user's Jupyter set-up
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    log = open(tmp_path / "lab.log", "wb")
    # A terminal's make lab hears Ctrl+C. This test may itself run as a background job (a CI
    # script started with &), which inherits SIGINT as ignored, and Python and make keep an
    # inherited ignore: give the server the default disposition, as a terminal would.
    lab = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=ROOT, env=env,
                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and lab.poll() is None:
            try:
                status, body = get(f"http://127.0.0.1:{port}/api/status?token={token}")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(1)
        output = (tmp_path / "lab.log").read_text(errors="replace")
        assert status == 200, f"JupyterLab did not answer on port {port} (exit code {lab.poll()}):\n{output[-3000:]}"

        # The server's root is notebooks/: the lessons are there.
        status, body = get(f"http://127.0.0.1:{port}/api/contents?token={token}")
        names = {item["name"] for item in json.loads(body)["content"]}
        assert status == 200 and "01_convolution_basics.ipynb" in names, names
        # JupyterLab itself, with the slideshow extension (RISE) that README's "Presenting" promises.
        status, page = get(f"http://127.0.0.1:{port}/lab?token={token}")
        assert status == 200 and b"JupyterLab" in page
        status, body = get(f"http://127.0.0.1:{port}/lab/api/extensions?token={token}")
        extensions = {e["name"]: e for e in json.loads(body)} if status == 200 else {}
        assert "jupyterlab-rise" in extensions and extensions["jupyterlab-rise"].get("enabled", True), sorted(extensions)
    finally:
        os.killpg(lab.pid, signal.SIGINT)    # what Ctrl+C in the terminal sends
        try:
            os.killpg(lab.pid, signal.SIGINT)  # Jupyter asks to confirm a first Ctrl+C; a second one stops it
        except ProcessLookupError:
            pass
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
            pytest.fail("make lab did not stop within 30 s of Ctrl+C")
        log.close()
    with pytest.raises(OSError):   # the port is free again: nothing keeps running
        get(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
