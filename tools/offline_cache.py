#!/usr/bin/env python3
"""Copy offline copies of the course's downloads into Keras's cache, where the real
download code looks for them first.

    python tools/offline_cache.py SOURCE [--keras-home DIR]

SOURCE is a folder laid out like ``../shared/offline-data``::

    mnist/*.gz            -> $KERAS_HOME/datasets/mnist/         (utils.load_mnist)
    fashion-mnist/*.gz    -> $KERAS_HOME/datasets/fashion-mnist/ (keras.datasets.fashion_mnist)
    keras-models/*.h5     -> $KERAS_HOME/models/                 (keras.applications)

A ``SHA256SUMS`` file in SOURCE is checked before anything is copied. SOURCE is only
read, never written. Standard library only, so it runs before the course is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
from pathlib import Path

LAYOUT = {
    "mnist": Path("datasets") / "mnist",
    "fashion-mnist": Path("datasets") / "fashion-mnist",
    "keras-models": Path("models"),
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(source: Path) -> None:
    sums = source / "SHA256SUMS"
    if not sums.exists():
        return
    for line in sums.read_text().splitlines():
        if not line.strip():
            continue
        expected, name = line.split(maxsplit=1)
        path = source / name.lstrip("*")
        if not path.exists():
            raise SystemExit(f"offline_cache: {path} is listed in SHA256SUMS but missing")
        if sha256_of(path) != expected:
            raise SystemExit(f"offline_cache: {path} does not match its sha256 in SHA256SUMS")


def populate(source: Path, keras_home: Path) -> list[Path]:
    """Copy every known file from ``source`` into ``keras_home``; return the copies."""
    source, keras_home = source.resolve(), keras_home.resolve()
    if keras_home == source or source in keras_home.parents:
        raise SystemExit("offline_cache: KERAS_HOME must not be inside the source folder")
    verify(source)
    copied = []
    for folder, subdir in LAYOUT.items():
        for path in sorted((source / folder).glob("*")):
            if path.is_file():
                dest = keras_home / subdir / path.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)  # contents only: the copies stay writable
                copied.append(dest)
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="folder laid out like ../shared/offline-data")
    parser.add_argument("--keras-home", type=Path,
                        default=Path(os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras"))),
                        help="Keras's cache folder (default: $KERAS_HOME or ~/.keras)")
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        print(f"offline_cache: {args.source} is not a folder; nothing copied", file=sys.stderr)
        return 1
    copied = populate(args.source, args.keras_home)
    print(f"offline_cache: {len(copied)} files from {args.source} into {args.keras_home}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
