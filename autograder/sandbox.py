"""Start the worker that runs a submission's code, in a sandbox it cannot leave.

The worker (``autograder.worker``) runs under bubblewrap (``bwrap``), in new PID, network, IPC and
UTS namespaces:
- it sees a read-only system (``/usr``, ``/etc``, the Python installation and its packages), the
  student edition of ``tinytorch``, a copy of the worker's two modules, and one writable scratch
  directory, at the same path as outside (so a path means the same file to the judge and the
  worker), which is also its ``$HOME`` and, through a sub-directory, its ``/tmp``; the course, its checks, solutions, gradebook and the
  other submissions are not in its file system at all;
- it has no network (only its own loopback);
- when the grader runs as root (CI, a grading server) it runs as the unprivileged user
  ``WORKER_UID`` with no capabilities; otherwise bwrap maps it into a user namespace;
- resource limits cap its memory, CPU time, file sizes, open files and (as its own user) processes;
- it dies with the judge that started it, and so does every process it started (they live in its
  PID namespace, which ends with it).
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder.protocol import Peer, Policy

WORKER_UID = 65534  # "nobody": owns nothing on the machine
GRADER_MODULES = ("protocol.py", "worker.py", "probes.py")
HERE = Path(__file__).resolve().parent


class SandboxUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 4 * 2**30
    cpu_seconds: int = 900
    file_bytes: int = 256 * 2**20
    open_files: int = 1024
    processes: int = 256


def _bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(
            "grading runs students' code in a bubblewrap sandbox, and `bwrap` is not installed: "
            "install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)")
    return path


def _readable(root: Path) -> None:
    """Let the worker's user read (never write) everything under ``root``."""
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | 0o444 | (0o111 if path.is_dir() else 0))


def prepared_tree(cache: Path, key: str, fill) -> Path:
    """A read-only directory ``cache/key`` made once by ``fill(dir)``; later calls reuse it."""
    target = cache / key
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=cache))
        fill(building)
        _readable(building)
        try:
            building.rename(target)
        except OSError:  # another judge built it first
            shutil.rmtree(building, ignore_errors=True)
    return target


def grader_tree(cache: Path) -> Path:
    """The worker's own code: ``autograder/protocol.py``, ``worker.py`` and the public ``probes.py``, nothing else."""
    sources = {name: (HERE / name).read_bytes() for name in GRADER_MODULES}
    key = "worker-" + hashlib.sha256(b"".join(sources.values())).hexdigest()[:16]

    def fill(directory: Path) -> None:
        (directory / "autograder").mkdir()
        for name, data in sources.items():
            (directory / "autograder" / name).write_bytes(data)

    return prepared_tree(cache, key, fill)


def _python_roots() -> list[str]:
    """The directories the worker's Python needs: the installation and the virtual environment."""
    roots = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable)))}
    return sorted(r for r in roots if not r.startswith(("/usr/", "/bin", "/lib")))


def _parents(path: str) -> list[str]:
    """bwrap options that create ``path``'s missing parents readable by all (bwrap's default is 0700)."""
    options = []
    parts = Path(path).parts
    for i in range(2, len(parts)):
        parent = str(Path(*parts[:i]))
        if parent != "/tmp":  # the worker's own /tmp, writable by it: keep its mode
            options += ["--perms", "0755", "--dir", parent]
    return options


def command(library: Path, grader: Path, scratch: Path) -> list[str]:
    as_root = os.geteuid() == 0
    cmd = [_bwrap(), "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
           "--unshare-uts", "--unshare-cgroup-try"]
    if not as_root:
        cmd.append("--unshare-user")
    for path in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc"):
        cmd += ["--ro-bind-try", path, path]
    # /tmp first: a Python or a course that lives under /tmp (a CI clone) is mounted on top of it
    cmd += ["--bind", str(scratch / "tmp"), "/tmp"]
    for path in _python_roots():
        cmd += _parents(path) + ["--ro-bind", path, path]
    cmd += ["--perms", "0755", "--dir", "/opt", "--ro-bind", str(library), "/opt/student", "--ro-bind", str(grader),
            "/opt/grader", *_parents(str(scratch)), "--bind", str(scratch), str(scratch),
            "--proc", "/proc", "--dev", "/dev", "--chdir", str(scratch), "--clearenv"]
    # TMPDIR: /tmp seen through the scratch's own mount, so a file made there can be renamed into a
    # folder the judge made in the scratch (as in a notebook, where both are under /tmp)
    env = {"HOME": str(scratch), "TMPDIR": f"{scratch}/tmp", "PATH": "/usr/local/bin:/usr/bin:/bin",
           "PYTHONPATH": "/opt/student:/opt/grader", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
           "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{scratch}/.matplotlib", "TINYTORCH_ANSWERS": f"{scratch}/answers", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8"}
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # some CPUs need these for correct results
        if name in os.environ:
            env[name] = os.environ[name]
    for name, value in env.items():
        cmd += ["--setenv", name, value]
    if as_root:
        cmd += [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={WORKER_UID}", f"--regid={WORKER_UID}",
                "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return cmd + [worker_python(), "-m", "autograder.worker"]


def worker_python() -> str:
    """This interpreter by a path that exists in the sandbox: the virtual environment's own folder
    with symlinks resolved (a ``.venv`` linked from elsewhere is not bound), but not the executable
    itself (resolved, it would be the system Python, without the environment's packages)."""
    return os.path.join(os.path.realpath(os.path.dirname(sys.executable)), os.path.basename(sys.executable))


def _limit(limits: Limits):
    def apply() -> None:
        os.setpgid(0, 0)
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        if os.geteuid() == 0:  # counted per user: only meaningful for the worker's own user
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))

    return apply


def end_process_group(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and every process of its group, reap it and close the pipes to it."""
    try:
        os.killpg(proc.pid, 9)
    except ProcessLookupError:
        pass
    proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


class Sandbox:
    """One worker process and the judge's end of its connection; ``restart`` gives a fresh one."""

    def __init__(self, library: Path, grader: Path, scratch: Path, limits: Limits = Limits()):
        """``scratch``: the worker's writable directory; it outlives restarts, and several
        sandboxes may share one."""
        self.library, self.grader, self.scratch, self.limits = library, grader, scratch, limits
        self.proc: subprocess.Popen | None = None
        self.peer: Peer | None = None

    def start(self) -> Peer:
        self.proc = subprocess.Popen(command(self.library, self.grader, self.scratch), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=_limit(self.limits))
        self.peer = Peer(self.proc.stdout.fileno(), self.proc.stdin.fileno(), Policy(public_only=True, setattr=False))
        return self.peer

    def stop(self) -> None:
        if self.proc is not None:
            end_process_group(self.proc)
            self.proc = self.peer = None

    def restart(self) -> Peer:
        self.stop()
        return self.start()

    def __enter__(self) -> "Sandbox":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


class Scratch:
    """A worker's writable directory, shared with the judge: a check's files live here, and the
    worker and the judge reach them by the same path. Whatever the judge
    creates in it the worker may change (the judge grades with ``umask`` 0)."""

    # not under /tmp: the worker's /tmp is a folder of it
    ROOT = Path(os.environ.get("TINYTORCH_GRADING_SCRATCH", "/var/tmp/tinytorch-grading"))

    def __init__(self):
        self.ROOT.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix="worker-", dir=self.ROOT))
        (self.path / "tmp").mkdir()
        for path in (self.path, self.path / "tmp"):
            path.chmod(0o777)
        os.umask(0)

    def directory(self, prefix: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=self.path))
        path.chmod(0o777)
        return path

    def remove(self) -> None:
        for directory, _, _ in os.walk(self.path):  # the worker may have left read-only folders
            try:
                os.chmod(directory, 0o700)
            except OSError:
                pass
        shutil.rmtree(self.path, ignore_errors=True)
