"""The lecture decks' JavaScript from npm: reveal.js and KaTeX, pinned, fetched once, unpacked;
and axe-core, the accessibility audit the browser tests inject into every page and deck.

All are npm packages pinned by version and sha512 (:data:`VENDORED`, :data:`AXE`), fetched
once with ``npm pack`` into a cache (:func:`vendor_cache`). reveal.js and KaTeX are unpacked
beside the decks (:func:`install_vendored`, used by :mod:`instructor.slides`), so that the
decks work offline; axe-core is read from its tarball by the tests (:func:`axe_source`) and
never shipped with the site or the decks.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class NpmPackage:
    """An npm package pinned by version and by its tarball's sha512 (npm's "integrity"),
    and the files of it that the decks need (``fnmatch`` patterns inside the tarball's
    ``package/``)."""
    name: str
    version: str
    integrity: str
    files: tuple[str, ...]
    folder: str            # where under _static/ it is unpacked

    @property
    def tarball(self) -> str:
        return f"{self.name.replace('/', '-').lstrip('@')}-{self.version}.tgz"


VENDORED = (
    NpmPackage("reveal.js", "5.2.1",
               "sha512-r7//6mIM5p34hFiDMvYfXgyjXqGRta+/psd9YtytsgRlrpRzFv4RbH76TXd2qD+7ZPZEbpBDhdRhJaFgfQ7zNQ==",
               ("dist/reveal.js", "dist/reveal.css", "dist/theme/white.css",
                "dist/theme/fonts/source-sans-pro/*", "plugin/notes/notes.js", "LICENSE"),
               "reveal.js"),
    NpmPackage("katex", "0.16.47",
               "sha512-Eeo8Ys1doU1z+x8AZsPpQu+p/QcZBI5PeOo7QGQdy2x2m0MU/hYagBbGOmXwr5KVbEfVuWv9LpnQWeehogurjg==",
               ("dist/katex.min.js", "dist/katex.min.css", "dist/contrib/auto-render.min.js",
                "dist/fonts/*.woff2", "LICENSE"),
               "katex"),
)


# Deque's axe-core (MPL-2.0): tests/web/test_site.py and test_slides.py run it (helper in
# tests/web/conftest.py) on every page of the site and every deck (WCAG 2.1 A and AA rules).
# Not copied into the site or the decks.
AXE = NpmPackage("axe-core", "4.14.1",
                 "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
                 ("axe.min.js", "LICENSE"), "axe-core")


def vendor_cache() -> Path:
    """Where the pinned npm tarballs are kept: ``$COURSE_VENDOR_CACHE``, else
    ``$XDG_CACHE_HOME/cnn-keras-course/npm`` (``~/.cache/...``)."""
    if os.environ.get("COURSE_VENDOR_CACHE"):
        return Path(os.environ["COURSE_VENDOR_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "cnn-keras-course" / "npm"


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def fetch_tarball(package: NpmPackage, cache: Path | None = None) -> Path:
    """The package's tarball from the cache, or fetched with ``npm pack`` (from the npm
    registry) into it; refused unless its sha512 is the pinned one."""
    cache = cache or vendor_cache()
    path = cache / package.tarball
    if path.exists() and _integrity(path) == package.integrity:
        return path
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"course slides needs {package.name}@{package.version} from the npm registry and "
            f"npm is not installed (Debian/Ubuntu: apt install npm), or place {package.tarball} "
            f"(sha512 {package.integrity}) in {cache}")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        result = subprocess.run(
            [npm, "pack", f"{package.name}@{package.version}", "--pack-destination", tmp,
             "--silent"], capture_output=True, text=True, cwd=tmp)
        fetched = Path(tmp) / package.tarball
        if result.returncode != 0 or not fetched.exists():
            raise RuntimeError(f"npm pack {package.name}@{package.version} failed:\n"
                               f"{result.stdout}{result.stderr}")
        got = _integrity(fetched)
        if got != package.integrity:
            raise RuntimeError(f"{package.name}@{package.version} from npm has {got}, "
                               f"not the pinned {package.integrity}: not used")
        os.replace(fetched, path)
    return path


def install_vendored(static: Path, cache: Path | None = None) -> None:
    """Unpack the decks' JavaScript and CSS (:data:`VENDORED`) into ``static``."""
    for package in VENDORED:
        dest = static / package.folder
        if dest.exists():
            shutil.rmtree(dest)
        with tarfile.open(fetch_tarball(package, cache)) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and any(
                fnmatch.fnmatch(m.name, "package/" + pattern) for pattern in package.files)]
            missing = [pattern for pattern in package.files if not any(
                fnmatch.fnmatch(m.name, "package/" + pattern) for m in members)]
            if missing:
                raise RuntimeError(f"{package.tarball} has no {missing}")
            for member in members:
                target = dest / member.name.removeprefix("package/")
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)


def axe_source(cache: Path | None = None) -> str:
    """The text of axe-core's ``axe.min.js`` (:data:`AXE`), from the cached, checked tarball."""
    with tarfile.open(fetch_tarball(AXE, cache)) as tar:
        with tar.extractfile("package/axe.min.js") as src:
            return src.read().decode("utf-8")
