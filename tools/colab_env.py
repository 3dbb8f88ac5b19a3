"""Helpers for `make test-colab` (tools/test_colab.sh): the setup cell's install, compared.

    python tools/colab_env.py requirement --source URL   the setup cell's pip arguments, with
                                                         the repository URL replaced by URL
    python tools/colab_env.py extra NAME                 an extra's requirements, one a line
    python tools/colab_env.py compare BEFORE AFTER       what an install changed (pip list
                                                         --format=freeze files); exit 1 when
                                                         a package was upgraded, downgraded
                                                         or removed

On Colab, every lesson's setup cell runs ``pip install`` of the course's helper package on
top of the packages Colab ships. That install must leave those packages as they are:
`make test-colab` installs Colab's versions (constraints-colab.txt), runs the setup cell's
own install command (read from the lesson notebooks, with the repository address replaced
by the local checkout), and compares the two package lists with this tool.
Standard library only: it runs with any Python 3.11+, before the course is installed.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PIP_CALL = re.compile(r'"-m",\s*"pip",\s*"install",\s*(.*?)\]', flags=re.S)
_FREEZE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==|@)\s*(\S.*?)\s*$")


def normalize(name: str) -> str:
    """A distribution name in PEP 503 form: ``Scikit_Learn`` -> ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def setup_cell(notebook: Path) -> str:
    """The source of a lesson's setup cell: its first code cell."""
    cells = json.loads(notebook.read_text())["cells"]
    cell = next(c for c in cells if c["cell_type"] == "code")
    return "".join(cell["source"])


def setup_install_args(source: str) -> list[str]:
    """The arguments after ``pip install`` in a setup cell's Colab branch, e.g.
    ``["-q", "cnn-keras-course @ git+https://github.com/..."]``."""
    match = _PIP_CALL.search(source)
    if not match:
        raise ValueError("no `pip install` call found in the setup cell")
    return list(ast.literal_eval("[" + match.group(1) + "]"))


def with_source(args: list[str], source: str) -> list[str]:
    """``args`` with the course's ``git+URL`` replaced by ``source`` (e.g. ``git+file:///repo``)."""
    replaced = [re.sub(r"git\+\S+", source, arg) if "cnn-keras-course" in arg else arg for arg in args]
    if replaced == args:
        raise ValueError(f"no `cnn-keras-course @ git+...` requirement among {args}")
    return replaced


def extra_requirements(name: str, pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The requirement strings of one extra of ``pyproject.toml``."""
    extras = tomllib.loads(pyproject.read_text())["project"].get("optional-dependencies", {})
    if name not in extras:
        raise SystemExit(f"colab_env: no extra {name!r}; there are {sorted(extras)}")
    return list(extras[name])


def read_freeze(text: str) -> dict[str, str]:
    """``pip list --format=freeze`` (or ``pip freeze``) output as {normalized name: version}."""
    packages = {}
    for line in text.splitlines():
        if line.lstrip().startswith(("#", "-")):  # comments, options (-e ...)
            continue
        match = _FREEZE.match(line)
        if match:
            packages[normalize(match.group(1))] = match.group(2)
    return packages


def compare(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    """What changed between two package lists: ``changed`` (``name: old -> new``),
    ``removed`` and ``added`` (``name==version``), each sorted."""
    return {
        "changed": sorted(f"{n}: {before[n]} -> {after[n]}" for n in before.keys() & after.keys()
                          if before[n] != after[n]),
        "removed": sorted(f"{n}=={before[n]}" for n in before.keys() - after.keys()),
        "added": sorted(f"{n}=={after[n]}" for n in after.keys() - before.keys()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_req = sub.add_parser("requirement", help="the setup cell's pip arguments, one a line")
    p_req.add_argument("--source", required=True, help="replaces git+URL, e.g. git+file:///path/to/clone")
    p_req.add_argument("--notebook", type=Path, default=None, help="default: the first lesson")
    p_extra = sub.add_parser("extra", help="an extra's requirements, one a line")
    p_extra.add_argument("name")
    p_cmp = sub.add_parser("compare", help="fail when an install changed or removed a package")
    p_cmp.add_argument("before", type=Path)
    p_cmp.add_argument("after", type=Path)
    p_cmp.add_argument("--label", default="the install")
    args = parser.parse_args(argv)

    if args.command == "requirement":
        notebook = args.notebook or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))[0]
        print("\n".join(with_source(setup_install_args(setup_cell(notebook)), args.source)))
        return 0
    if args.command == "extra":
        print("\n".join(extra_requirements(args.name)))
        return 0
    diff = compare(read_freeze(args.before.read_text()), read_freeze(args.after.read_text()))
    print(f"{args.label} added {len(diff['added'])} package(s): {', '.join(diff['added']) or '-'}")
    if diff["changed"] or diff["removed"]:
        for line in diff["changed"]:
            print(f"  CHANGED  {line}")
        for line in diff["removed"]:
            print(f"  REMOVED  {line}")
        print(f"colab_env: {args.label} changed {len(diff['changed'])} and removed "
              f"{len(diff['removed'])} of the packages that were there before", file=sys.stderr)
        return 1
    print(f"{args.label} changed none of the {len(read_freeze(args.before.read_text()))} "
          "packages that were there before.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
