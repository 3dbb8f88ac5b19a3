"""Grading throughput: submissions per minute at 1 and 2 jobs, in one run on one machine.

``course grade --jobs N`` grades N submissions at once, each in its own sandbox. This
script makes ``--copies`` identical correct submissions of each lesson (the reference
solution, as a student who solved everything would hand it in), grades them with 1 job
and then with 2, and prints submissions per minute for each, with the machine's facts.
The reference solution runs once per lesson (the same seed gives the same reference
answers), and its time is printed apart, so the rates compare the submissions only.
Compare the numbers of one run: another machine or another load gives other numbers.

    python benchmarks/grading_jobs.py                  # lessons 01 and 02, 4 copies
    python benchmarks/grading_jobs.py --lessons 01 --copies 6 --jobs 1 2 3

Needs bubblewrap (or --unconfined) and, for lesson 02, MNIST in Keras's cache
(tools/offline_cache.py ../shared/offline-data --keras-home DIR, then KERAS_HOME=DIR);
it stops if any cell of a lesson's reference solution raises.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instructor import grading  # noqa: E402
from instructor.course import find_lesson  # noqa: E402
from utils.notebook import cpu_description  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", nargs="+", default=["01", "02"])
    parser.add_argument("--copies", type=int, default=4, help="submissions per lesson")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--unconfined", action="store_true")
    args = parser.parse_args(argv)
    print(f"{platform.node()}: {cpu_description()}, default jobs here: {grading.default_jobs()}")
    references: dict[str, object] = {}
    reference_seconds: dict[str, float] = {}
    run_reference = grading._run_reference

    def reference_once(source, *rest):
        """The reference of a lesson runs once: later batches of the same seed reuse it."""
        if source not in references:
            start = time.perf_counter()
            references[source] = run_reference(source, *rest)
            reference_seconds[source] = time.perf_counter() - start
            if references[source].cell_errors:   # a lesson without its data measures nothing
                sys.exit(f"{source.name}: the reference solution raised in "
                         f"{len(references[source].cell_errors)} cell(s), the first: "
                         f"{references[source].cell_errors[0]}")
        return references[source]

    grading._run_reference = reference_once
    for lesson in args.lessons:
        source = find_lesson(ROOT, lesson)
        submission, _ = grading.solution_notebook(nbformat.read(source, as_version=4))
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "submissions"
            folder.mkdir()
            for i in range(args.copies):
                nbformat.write(submission, folder / f"student{i:02d}.ipynb")
            for jobs in args.jobs:
                start = time.perf_counter()
                before = reference_seconds.get(source, 0.0)
                rows = grading.grade_folder(folder, source, Path(tmp) / f"grades-{jobs}.csv",
                                            timeout=args.timeout, progress=False, seed=1,
                                            unconfined=args.unconfined, jobs=jobs)
                seconds = time.perf_counter() - start - (reference_seconds[source] - before)
                full = sum(r.points >= r.max_points for r in rows) == len(rows)
                print(f"lesson {source.stem}: {args.copies} submissions, {jobs} job(s): "
                      f"{seconds:.0f} s, {60 * args.copies / seconds:.2f} submissions/min"
                      f"{'' if full else '  (NOT all full points: check the reference)'}",
                      flush=True)
            print(f"lesson {source.stem}: the reference solution ran once, in "
                  f"{reference_seconds[source]:.0f} s (not counted above)", flush=True)


if __name__ == "__main__":
    main()
