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

import contextlib
import fcntl
import os
import resource
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534
# Sandboxes running at once (course grade --jobs, two graders, two test workers) run under
# different users, so that the per-user process limit of one (a fork bomb) never starves
# another: each run claims a user that no other running sandbox on this machine holds (a
# lock file per uid, held for the run): nobody first, then the unnamed, unprivileged uids
# SANDBOX_UID_BASE + 1, + 2, ... (no account, own nothing).
SANDBOX_UID_BASE = 4_000_000
_UID_POOL = 4096


def _lock_folder() -> Path:
    """A root-owned folder for the uid locks, shared by every grader on this machine."""
    base = Path("/run") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
    folder = base / "course-sandbox-users"
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise RuntimeError(f"{folder} is not a private folder of this user; remove it")
    return folder


@contextlib.contextmanager
def _claim_user():
    """Hold a uid that no other running sandbox holds: nobody when it is free."""
    folder = _lock_folder()
    for uid in [NOBODY] + [SANDBOX_UID_BASE + k for k in range(1, _UID_POOL)]:
        fd = os.open(folder / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield uid
        finally:
            os.close(fd)   # releases the lock
        return
    raise RuntimeError(f"all {_UID_POOL} sandbox users are busy")


SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
WORK = "/tmp/work"   # the private writable folder, inside the sandbox


@dataclass
class Limits:
    wall_seconds: float = 600
    memory_bytes: int = 6 * 2**30       # address space per process; TensorFlow runs within 4 GiB
    processes: int = 512                # threads count too (TensorFlow starts dozens)
    file_bytes: int = 256 * 2**20
    open_files: int = 1024
    # Totals for the whole sandbox, where the machine allows them (root; see bounds()):
    total_memory_bytes: int = 8 * 2**30  # all its processes together (a memory cgroup)
    disk_bytes: int = 1 * 2**30          # its writable folder (a tmpfs of this size)


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


# ------------------------------------------------------------- totals per sandbox
_CGROUP_ROOT = Path("/sys/fs/cgroup")
_warned: set = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        print(f"course: WARNING: {message}", file=sys.stderr)


def _own_cgroup() -> tuple[Path, str] | None:
    """The folder of this process's memory cgroup and the file that limits it: the unified
    hierarchy (cgroup v2, memory.max) or the v1 memory controller (memory.limit_in_bytes)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return _CGROUP_ROOT / "memory" / path.lstrip("/"), "memory.limit_in_bytes"
    if (_CGROUP_ROOT / "cgroup.controllers").exists():
        for line in lines:
            if line.startswith("0::"):
                return _CGROUP_ROOT / line[3:].lstrip("/"), "memory.max"
    return None


def _make_cgroup(limits: Limits) -> Path | None:
    """A fresh memory cgroup holding at most ``limits.total_memory_bytes`` for one sandbox,
    or None (with a warning, once) where this machine does not let us make one."""
    if os.geteuid() != 0:
        _warn_once("the sandbox's total memory is not bounded (a memory cgroup needs root); "
                   "each process is still limited")
        return None
    own = _own_cgroup()
    try:
        if own is None:
            raise OSError("no memory controller")
        parent, limit_file = own
        group = parent / f"course-sandbox-{os.getpid()}-{secrets.token_hex(4)}"
        group.mkdir()
        try:
            (group / limit_file).write_text(str(limits.total_memory_bytes))
            swap = group / "memory.memsw.limit_in_bytes"
            if swap.exists():
                try:
                    swap.write_text(str(limits.total_memory_bytes))
                except OSError:
                    pass
        except OSError:
            group.rmdir()
            raise
        return group
    except OSError as err:
        _warn_once(f"the sandbox's total memory is not bounded (no memory cgroup here: {err}); "
                   "each process is still limited")
        return None


def _remove_cgroup(group: Path | None) -> None:
    if group is None:
        return
    for _ in range(50):     # the killed processes leave the group within moments
        try:
            group.rmdir()
            return
        except OSError:
            time.sleep(0.1)


@contextlib.contextmanager
def _bounded_folder(work: Path, limits: Limits, keep: tuple[str, ...]):
    """``work``'s contents on a tmpfs of ``limits.disk_bytes`` (root only; else ``work``
    itself, with a warning once). Afterwards the regular files named in ``keep`` are copied
    back into ``work``, and the tmpfs goes."""
    if os.geteuid() != 0:
        _warn_once("the sandbox's writable folder is bounded per file, not in total "
                   "(a size-limited tmpfs needs root)")
        yield work
        return
    disk = work.parent / (work.name + ".disk")
    disk.mkdir(mode=0o700)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={limits.disk_bytes},mode=0755",
                        "course-sandbox", str(disk)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as err:
        disk.rmdir()
        detail = getattr(err, "stderr", b"") or str(err)
        _warn_once("the sandbox's writable folder is bounded per file, not in total (no tmpfs "
                   f"here: {detail.decode(errors='replace').strip() if isinstance(detail, bytes) else detail})")
        yield work
        return
    try:
        shutil.copytree(work, disk, symlinks=True, dirs_exist_ok=True)
        yield disk
        for name in keep:
            source = disk / name
            if source.is_file() and not source.is_symlink():
                shutil.copyfile(source, work / name)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
        try:
            disk.rmdir()
        except OSError:
            pass


def _limit(limits: Limits, nproc: int, cgroup: Path | None = None):
    def apply():
        if cgroup is not None:   # join the sandbox's cgroup before anything else runs
            with open(cgroup / "cgroup.procs", "w") as f:
                f.write(str(os.getpid()))
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
        stdin: bytes = b"", limits: Limits = Limits(), log_name: str = ".log",
        keep: tuple[str, ...] = ()) -> Outcome:
    """Run ``argv`` in the sandbox with a copy of ``work`` as its writable ``/tmp/work``.

    Output goes to ``log_name`` there (bounded by the file-size limit); the last lines come
    back in :class:`Outcome`. ``ro_binds`` are (host path, sandbox path) pairs. Where the
    machine allows (root), the folder is a tmpfs of ``limits.disk_bytes`` and all the
    sandbox's processes share one memory cgroup of ``limits.total_memory_bytes``; the
    regular files named in ``keep`` come back into ``work`` afterwards (with a bounded
    folder, nothing else does).
    """
    work = Path(work)
    with _bounded_folder(work, limits, keep) as live:
        return _run_in(argv, live, ro_binds, env, stdin, limits, log_name)


def _run_in(argv, work: Path, ro_binds, env, stdin, limits: Limits, log_name: str) -> Outcome:
    env = {"HOME": f"{WORK}/home", "TMPDIR": WORK, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           **(env or {})}
    binds = [(d, str(d)) for d in python_dirs()] + list(ro_binds)
    cmd = _bwrap_prefix(binds, work, env)
    with contextlib.ExitStack() as stack:
        if os.geteuid() == 0:
            # Root: become a user of its own inside, which drops every capability and makes
            # the process limit count (the kernel exempts root from RLIMIT_NPROC).
            uid = stack.enter_context(_claim_user())
            os.chown(work, uid, uid)
            for p in work.rglob("*"):
                os.chown(p, uid, uid, follow_symlinks=False)
            cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                    "--no-new-privs", "--"]
            nproc = limits.processes + _processes_of(uid)
        else:
            # Every sandbox runs as this user: leave room for the others running now, so that
            # one submission's threads do not count against another's limit.
            nproc = limits.processes * (1 + len(_RUNNING)) + _processes_of(os.getuid())
        cgroup = _make_cgroup(limits)
        try:
            return _execute(cmd + list(argv), work, None, stdin, limits, nproc, log_name, cgroup)
        finally:
            _remove_cgroup(cgroup)


_RUNNING: set = set()      # the sandboxes running now, for stop_all


def stop_all() -> None:
    """Kill every sandboxed command still running (a grader interrupted with Ctrl+C: their
    own sessions do not get the terminal's signal). Each one's run then returns."""
    for proc in list(_RUNNING):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _execute(cmd, work: Path, env, stdin: bytes, limits: Limits, nproc: int, log_name: str,
             cgroup: Path | None = None) -> Outcome:
    log = work / log_name
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, cwd=work, env=env,
                                stderr=subprocess.STDOUT, preexec_fn=_limit(limits, nproc, cgroup))
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
