"""pytest hooks for the whole repository: one wall-time line per executed notebook."""

import time
from collections import defaultdict

_notebook_times = defaultdict(lambda: [float("inf"), 0.0])


def _notebook_of(nodeid: str):
    path = nodeid.split("::", 1)[0]
    return path if path.endswith(".ipynb") else None


def pytest_runtest_logstart(nodeid, location):
    nb = _notebook_of(nodeid)
    if nb:
        span = _notebook_times[nb]
        span[0] = min(span[0], time.perf_counter())


def pytest_runtest_logfinish(nodeid, location):
    nb = _notebook_of(nodeid)
    if nb:
        _notebook_times[nb][1] = time.perf_counter()


def pytest_terminal_summary(terminalreporter):
    if not _notebook_times:
        return
    terminalreporter.section("notebook wall time (kernel start to last cell)")
    total = 0.0
    for nb, (start, end) in sorted(_notebook_times.items()):
        total += end - start
        terminalreporter.write_line(f"{nb}: {end - start:.1f} s")
    terminalreporter.write_line(f"all notebooks: {total:.1f} s")
