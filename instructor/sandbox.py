"""Run an untrusted command confined: bubblewrap (``bwrap``) namespaces plus resource limits.

What the sandboxed process gets (Linux, ``bwrap`` installed; Debian package ``bubblewrap``):

- **no network**: a new network namespace with only a loopback device;
- **a read-only view of the system** (``/usr``, ``/etc``, ``/lib*``, ``/bin``, ``/sbin``), of the
  Python installation and virtual environment that run the course, of ``utils/`` and of
  the data folders it is given; nothing else of the host: the instructor's home, the
  course's source notebooks (with the solutions) and the grader's own files are not
  there, because the sandbox is built from an empty root rather than by hiding things;
- **one private writable folder** (its ``/tmp/work``), on the host a fresh temporary folder,
  plus a 256 MiB ``/dev/shm`` for semaphores;
- **its own process namespace**: when the command ends or is killed, every process it
  started dies with it; ``--die-with-parent`` does the same if the grader dies;
- **limits**: wall time (enforced from outside), address space (memory), number of
  processes of its user (a fork bomb stops there), file size, open files, no core dumps.
  When the grader runs as root, the command runs as user ``nobody`` (65534), so that the
  process limit applies (the kernel never enforces it for root) and so that it holds no
  privilege inside the sandbox.

Why bubblewrap: it is the unprivileged sandbox that Flatpak builds on, a Debian package,
small, and needs no daemon (Docker) or root. Its limits are the kernel's own rlimits.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534
# Submissions graded at once (course grade --jobs) run under different users, so that the
# per-user process limit of one (a fork bomb) never starves another: slot 0 is nobody, slot
# k > 0 the unnamed, unprivileged uid SLOT_UID_BASE + k (no account, owns nothing).
SLOT_UID_BASE = 4_000_000


def slot_uid(slot: int) -> int:
    """The user that the sandbox of parallel slot ``slot`` runs as (when grading as root)."""
    return NOBODY if slot == 0 else SLOT_UID_BASE + slot
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
WORK = "/tmp/work"   # the private writable folder, inside the sandbox


@dataclass
class Limits:
    wall_seconds: float = 600
    memory_bytes: int = 6 * 2**30       # address space; TensorFlow runs within 4 GiB
    processes: int = 512                # threads count too (TensorFlow starts dozens)
    file_bytes: int = 256 * 2**20
    open_files: int = 1024


@dataclass
class Outcome:
    returncode: int | None   # None when killed for time
    timed_out: bool
    seconds: float
    log_tail: str

    @property
    def exited_normally(self) -> bool:
        return not self.timed_out and self.returncode == 0


def available() -> str | None:
    """Why the sandbox cannot run here, or None when it can."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux (bubblewrap); this is {sys.platform}"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt install bubblewrap)"
    probe = subprocess.run(_bwrap_prefix([], Path("/tmp"), {}) + ["/bin/true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {probe.stderr.strip()[:200]}"
    return None


def python_dirs() -> list[Path]:
    """The folders the running Python and its packages live in (read-only in the sandbox)."""
    dirs = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix)}
    for entry in sys.path:
        if entry and Path(entry).is_dir() and "site-packages" in entry:
            dirs.add(Path(entry))
    return sorted(d.resolve() for d in dirs)


def _bwrap_prefix(ro_binds: list[tuple[Path, str]], work: Path, env: dict[str, str]) -> list[str]:
    cmd = ["bwrap", "--die-with-parent", "--new-session",
           "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
           "--hostname", "sandbox", "--clearenv"]
    if os.geteuid() != 0:
        cmd += ["--unshare-user"]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            cmd += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            cmd += ["--ro-bind", d, d]
    cmd += ["--proc", "/proc", "--dev", "/dev",
            # POSIX semaphores (multiprocessing); tmpfs lives in RAM, so its size is bounded
            "--perms", "1777", "--size", str(256 * 2**20), "--tmpfs", "/dev/shm",
            "--size", str(64 * 2**20), "--tmpfs", "/tmp",
            "--bind", str(work), WORK, "--chdir", WORK]
    # Parent folders of the mount points, reachable by everyone: bwrap would create them
    # 0700, and the unprivileged user inside could not reach a virtual environment in,
    # say, /tmp/abc/course/.venv. Not /tmp itself (a 1777 tmpfs) nor the system folders
    # (bound from the host as they are).
    parents = sorted({str(p) for _, dest in ro_binds for p in Path(dest).parents
                      if str(p) not in ("/", "/tmp")})
    for parent in parents:
        if not any(parent == d or parent.startswith(d + "/") for d in SYSTEM_DIRS):
            cmd += ["--perms", "0755", "--dir", parent]
    for src, dest in ro_binds:
        cmd += ["--ro-bind", str(src), dest]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd


def _limit(limits: Limits, nproc: int):
    def apply():
        os.setsid()
        for which, value in ((resource.RLIMIT_AS, limits.memory_bytes),
                             (resource.RLIMIT_NPROC, nproc),
                             (resource.RLIMIT_FSIZE, limits.file_bytes),
                             (resource.RLIMIT_NOFILE, limits.open_files),
                             (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(which, (value, value))
    return apply


def _processes_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                pass
    return count


def run_unconfined(argv: list[str], work: Path, *, env: dict | None = None, stdin: bytes = b"",
                   limits: Limits = Limits(), log_name: str = ".log") -> Outcome:
    """Like :func:`run` with the same limits, but without namespaces: the command sees the
    host's files and network as the grading user. For machines without bubblewrap, and
    only when the instructor asks for it explicitly."""
    env = {"HOME": str(Path(work) / "home"), "TMPDIR": str(work), "PATH": "/usr/bin:/bin",
           "LANG": "C.UTF-8", **(env or {})}
    nproc = limits.processes + _processes_of(os.getuid())
    return _execute(list(argv), Path(work), env, stdin, limits, nproc, log_name)


def run(argv: list[str], work: Path, *, ro_binds: list[tuple[Path, str]] = (), env: dict | None = None,
        stdin: bytes = b"", limits: Limits = Limits(), log_name: str = ".log", slot: int = 0) -> Outcome:
    """Run ``argv`` in the sandbox with ``work`` as its writable ``/tmp/work``.

    Output goes to ``work/log_name`` (bounded by the file-size limit); the last lines come
    back in :class:`Outcome`. ``ro_binds`` are (host path, sandbox path) pairs.
    """
    work = Path(work)
    env = {"HOME": f"{WORK}/home", "TMPDIR": WORK, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           **(env or {})}
    binds = [(d, str(d)) for d in python_dirs()] + list(ro_binds)
    cmd = _bwrap_prefix(binds, work, env)
    if os.geteuid() == 0:
        # Root: become nobody inside, which drops every capability and makes the process
        # limit count (the kernel exempts root from RLIMIT_NPROC).
        uid = slot_uid(slot)
        os.chown(work, uid, uid)
        for p in work.rglob("*"):
            os.chown(p, uid, uid, follow_symlinks=False)
        cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--no-new-privs", "--"]
        nproc = limits.processes + _processes_of(uid)
    else:
        nproc = limits.processes + _processes_of(os.getuid())
    return _execute(cmd + list(argv), work, None, stdin, limits, nproc, log_name)


_RUNNING: set = set()      # the sandboxes running now, for stop_all


def stop_all() -> None:
    """Kill every sandboxed command still running (a grader interrupted with Ctrl+C: their
    own sessions do not get the terminal's signal). Each one's run then returns."""
    for proc in list(_RUNNING):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _execute(cmd, work: Path, env, stdin: bytes, limits: Limits, nproc: int, log_name: str) -> Outcome:
    log = work / log_name
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, cwd=work, env=env,
                                stderr=subprocess.STDOUT, preexec_fn=_limit(limits, nproc))
        _RUNNING.add(proc)
        timed_out = False
        try:
            proc.communicate(stdin, timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
        except BrokenPipeError:
            try:
                proc.wait(timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
        if timed_out or proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        _RUNNING.discard(proc)
    seconds = time.monotonic() - start
    try:
        with open(log, "rb") as f:
            f.seek(max(0, log.stat().st_size - 4000))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        tail = ""
    return Outcome(None if timed_out else proc.returncode, timed_out, seconds, tail)
