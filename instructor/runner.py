"""Runs inside the grading sandbox: a student's notebook, then the grader's probes.

    python runner.py NOTEBOOK OUT_JSON  < probes.json

1. Execute the notebook's code cells in order in one IPython shell (no Jupyter kernel),
   going on after a cell that raises, as Jupyter's "run all" with errors allowed would.
2. Read the probes from standard input only then, so no cell of the notebook can read
   them before it runs; run each probe in the notebook's namespace with ``rng`` set to
   a generator seeded by the grader; the probe leaves its answer in ``result``.
3. Write every probe's ``result`` as plain data (JSON: numbers, strings, lists, dicts and
   tagged numeric arrays) to OUT_JSON.

Nothing this process writes is trusted: the grader outside the sandbox parses OUT_JSON
strictly, as data, and compares it there with the reference solution's results.
This file uses only the standard library, NumPy and IPython.
"""

from __future__ import annotations

import json
import math
import sys
import traceback


def to_plain(value, depth=0):
    """``value`` as JSON-able plain data; arrays become {"__ndarray__": ..., "dtype", "shape"}."""
    import numpy as np

    if depth > 20:
        raise TypeError("result nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): to_plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v, depth + 1) for v in value]
    if hasattr(value, "__array__") or isinstance(value, np.ndarray):
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"array of dtype {array.dtype} is not plain data")
        kind = "bool" if array.dtype.kind == "b" else ("int64" if array.dtype.kind in "iu" else "float64")
        flat = array.astype(kind).ravel().tolist()
        return {"__ndarray__": flat, "dtype": kind, "shape": list(array.shape)}
    raise TypeError(f"a {type(value).__name__} is not plain data (numbers, strings, lists, dicts, arrays)")


def _error_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:300]


def main(argv: list[str]) -> int:
    notebook_path, out_path = argv[1], argv[2]
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    nb = nbformat.read(notebook_path, as_version=4)
    shell = InteractiveShell.instance()
    cell_errors = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        outcome = shell.run_cell(cell.source, store_history=False)
        error = outcome.error_before_exec or outcome.error_in_exec
        if error is not None:
            cell_errors.append(f"cell {index}: {_error_line(error)}")

    request = json.loads(sys.stdin.read())
    import numpy as np

    namespace = shell.user_ns
    answers = {}
    for probe in request["probes"]:
        namespace.pop("result", None)
        namespace["rng"] = np.random.default_rng([request["seed"], probe["index"]])
        try:
            exec(compile(probe["code"], f"<probe {probe['id']}>", "exec"), namespace)
            if "result" not in namespace:
                raise NameError("the probe set no `result`")
            answer = {"result": to_plain(namespace["result"])}
        except BaseException as err:  # noqa: BLE001 - a probe must never stop the others
            if isinstance(err, (KeyboardInterrupt, SystemExit)):
                answer = {"error": f"the notebook stopped the grader ({type(err).__name__})"}
            else:
                tb = traceback.extract_tb(err.__traceback__)
                answer = {"error": _error_line(err), "line": tb[-1].lineno if tb else None}
        answers[probe["id"]] = answer
    with open(out_path, "w") as f:
        json.dump({"nonce": request["nonce"], "answers": answers, "cell_errors": cell_errors[:20]},
                  f, allow_nan=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
