"""Start the worker that runs a submission's code, in a sandbox it cannot leave.

The worker (``autograder.grading.worker``) runs under bubblewrap (``bwrap``), in new PID, network, IPC and
UTS namespaces:
- it sees a read-only system (``/usr``, ``/etc``, the Python installation and its packages), the
  student edition of ``tinytorch``, a copy of the worker's two modules, and one writable scratch
  directory, at the same path as outside (so a path means the same file to the judge and the
  worker), which is also its ``$HOME``, and its own ``/tmp`` (a small tmpfs); the course, its checks,
  solutions, gradebook and the other submissions are not in its file system at all;
- it has no network (only its own loopback);
- when the grader runs as root (CI, a grading server) every job slot has a user of its own
  (``Slot.uid``): the judge of that slot runs as it (``autograder.grading.engine``) and maps the worker
  into a user namespace as the same user; a root judge (where the slot's user cannot read the
  course or Python, or has no user namespaces) starts it as that user with no capabilities. A
  grader that is not root maps the worker to its own user;
- resource limits cap its memory, CPU time, file sizes and open files, and, when the slot's user
  is its own, its processes; as root, the slot's scratch is a tmpfs of fixed size and inode count,
  and, where cgroups allow (``autograder.grading.cgroups``), all of the slot's workers together share one
  memory and process limit; the worker's ``/tmp`` is a tmpfs of fixed size;
- it dies with the judge that started it, and so does every process it started (they live in its
  PID namespace, which ends with it).

The process bubblewrap starts is a template (``Template``): it imports what the notebooks import
once, and forks a fresh worker per notebook (``ForkedWorker``). A template serves one submission,
and ends with it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import resource
import select
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder.grading import cgroups
from autograder.grading.protocol import Peer, PeerGone, Policy

# slot N grades as uid BASE + N: users no one else on the machine has (a container whose user
# namespace maps fewer uids, e.g. 65536, needs TINYTORCH_GRADING_UID_BASE inside its range)
GRADING_UID_BASE = int(os.environ.get("TINYTORCH_GRADING_UID_BASE") or 1_900_000_000)
SLOTS = 256
# the worker's own code, as paths under autograder/: copied into its sandbox in the same layout
GRADER_MODULES = ("grading/protocol/__init__.py", "grading/protocol/errors.py", "grading/protocol/framing.py",
                  "grading/protocol/handles.py", "grading/protocol/values.py", "grading/protocol/policy.py",
                  "grading/protocol/peer.py", "grading/heap.py", "grading/worker.py", "grading/probes.py")
PACKAGE = Path(__file__).resolve().parents[1]
TMP_BYTES = 256 * 2**20  # the worker's /tmp


class SandboxUnavailable(RuntimeError):
    pass


def grading_key() -> str:
    """A short name of the grading directory, the same in every process that grades in it."""
    return hashlib.sha256(str(grading_dir()).encode()).hexdigest()[:8]


def grading_dir() -> Path:
    """The grading user's own directory (``TINYTORCH_GRADING_DIR``, else
    ``/var/tmp/tinytorch-grader-<uid>``): caches, slots, scratch, the judge's working directory.
    Never a shared temporary directory itself, where another user could plant files first."""
    return private_directory(Path(os.environ.get("TINYTORCH_GRADING_DIR") or f"/var/tmp/tinytorch-grader-{os.geteuid()}"),
                             mode=0o711)


def private_directory(path: Path, mode: int = 0o700, owners: tuple[int, ...] = ()) -> Path:
    """``path``, created with ``mode`` if missing, and verified: a directory (not a symlink) owned
    by this user (or one of ``owners``) that no one else can write."""
    try:
        path.mkdir(mode=mode)
    except FileExistsError:
        pass
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (os.geteuid(), *owners) or info.st_mode & 0o022:
        raise SandboxUnavailable(
            f"{path} must be a directory owned by uid {os.geteuid()} that only it can write (it is "
            f"{'a symlink' if stat.S_ISLNK(info.st_mode) else f'owned by uid {info.st_uid}, mode {stat.S_IMODE(info.st_mode):o}'}"
            "): someone else may have made it to plant files there. Remove it, or set TINYTORCH_GRADING_DIR "
            "to a directory of your own")
    return path


class Slot:
    """One of ``SLOTS`` job slots, held (an exclusive lock) while a judge grades in it; slot N's
    sandboxes run as uid ``GRADING_UID_BASE + N`` when grading as root, so one slot's processes
    count against its own limit only."""

    def __init__(self):
        locks = private_directory(grading_dir() / "slots")
        for number in range(SLOTS):
            fd = os.open(locks / f"{number}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.number, self.fd = number, fd
            return
        raise SandboxUnavailable(f"all {SLOTS} grading slots are in use ({locks})")

    @property
    def uid(self) -> int:
        return GRADING_UID_BASE + self.number

    @property
    def key(self) -> str:
        """The slot's name machine-wide: its grading directory and number (a cgroup's name)."""
        return f"{grading_key()}-{self.number}"

    def release(self) -> None:
        os.close(self.fd)


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


def others_can_read(path: Path) -> bool:
    """Whether a user with no special rights can reach ``path`` (every parent searchable by others)
    and read it: a judge running as a slot's user needs the course and Python so."""
    path = Path(os.path.realpath(path))
    parents_ok = all(os.stat(parent).st_mode & 0o001 for parent in path.parents)
    return parents_ok and bool(os.stat(path).st_mode & 0o004)


def cache_dir() -> Path:
    """Trees built once and read by every judge and worker (readable by all, writable by the
    grading user only; a judge running as a slot's user is given its path in ``TINYTORCH_GRADING_CACHE``)."""
    given = os.environ.get("TINYTORCH_GRADING_CACHE")
    return private_directory(Path(given), owners=(0,)) if given else private_directory(grading_dir() / "cache", mode=0o755)


SLOT_BYTES, SLOT_INODES = 2**30, 50_000  # a root grader's per-slot scratch (a tmpfs)
# all of a root grader's slot's workers together (its cgroup, ``autograder.grading.cgroups``): one worker's
# address space, plus the slot's tmpfs and /tmp, which are charged to the group as they fill, plus 1 GiB
SLOT_MEMORY = Limits.memory_bytes + SLOT_BYTES + TMP_BYTES + 2**30


def fresh_slot_directory(slot: Slot) -> Path:
    """Slot N's own directory, emptied: the judge's working directory, its files and its workers'
    scratch. As root: a tmpfs of ``SLOT_BYTES`` and ``SLOT_INODES`` owned by the slot's user, so
    a submission that fills it costs only its own grading; otherwise a directory of this user."""
    path = grading_dir() / f"slot-{slot.number}"
    release_slot_directory(slot)
    private_directory(path)
    if os.geteuid() == 0:
        options = f"size={SLOT_BYTES},nr_inodes={SLOT_INODES},mode=0700,uid={slot.uid},gid={slot.uid},nosuid,nodev"
        mount = shutil.which("mount")
        if mount is None or subprocess.run([mount, "-t", "tmpfs", "-o", options, "tinytorch-slot", str(path)],
                                           capture_output=True).returncode != 0:  # none here (a container): a plain folder
            os.chown(path, slot.uid, slot.uid)
    return path


def release_slot_directory(slot: Slot) -> None:
    path = grading_dir() / f"slot-{slot.number}"
    if os.path.ismount(path):
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)


def prepared_tree(cache: Path, key: str, fill) -> Path:
    """A read-only directory ``cache/key`` made once by ``fill(dir)``; later calls reuse it."""
    target = cache / key
    if not target.exists():
        building = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=cache))
        fill(building)
        _readable(building)
        try:
            building.rename(target)
        except OSError:  # another judge built it first
            shutil.rmtree(building, ignore_errors=True)
    return target


def grader_tree(cache: Path) -> Path:
    """The worker's own code (``GRADER_MODULES``: the protocol, the worker and the public probes),
    nothing else, at the same paths under ``autograder/`` as in the course."""
    sources = {name: (PACKAGE / name).read_bytes() for name in GRADER_MODULES}
    digest = hashlib.sha256(b"".join(name.encode() + b"\0" + data for name, data in sources.items()))
    key = "worker-" + digest.hexdigest()[:16]

    def fill(directory: Path) -> None:
        for name, data in sources.items():
            target = directory / "autograder" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    return prepared_tree(cache, key, fill)


ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")  # variables that set BLAS's threads
FONT_DIRECTORIES = ("/usr/share/fonts", "/usr/local/share/fonts")


def font_cache(cache: Path) -> Path:
    """matplotlib's list of the machine's fonts (``fontlist-*.json``), built once by the worker's
    Python with nothing of a submission in reach, and copied into each submission's config folder
    (``MPLCONFIGDIR``, which matplotlib needs writable): every template imports pyplot, and a
    fresh folder would have it scan the fonts again (about 0.06 s a submission). Keyed by the
    matplotlib version and the font files, so a font installed later makes a new list."""
    from importlib.metadata import version

    fonts = sorted(str(path) for root in FONT_DIRECTORIES for path in Path(root).rglob("*") if path.is_file())
    digest = hashlib.sha256("\0".join([version("matplotlib"), *fonts]).encode()).hexdigest()[:16]

    def fill(directory: Path) -> None:
        subprocess.run([worker_python(), "-I", "-c", "import matplotlib.font_manager"], check=True, timeout=300,
                       capture_output=True, env={"MPLCONFIGDIR": str(directory), "HOME": str(directory),
                                                 "MPLBACKEND": "Agg", "PATH": "/usr/local/bin:/usr/bin:/bin"})

    return prepared_tree(cache, f"fonts-{digest}", fill)


def font_lists() -> list[Path]:
    """The font list's files, or none if it cannot be had: the grader builds it before the judge
    starts (a judge cannot write the cache), and without it matplotlib only scans the fonts."""
    try:
        return list(font_cache(cache_dir()).glob("fontlist-*.json"))
    except (OSError, subprocess.SubprocessError):
        return []


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


_OWN_SLOT: "Slot | None" = None  # the slot of a root judge started without one (tests, pytest on the checks)


def sandbox_uid() -> int | None:
    """The user a root judge starts its workers as: its slot's (``TINYTORCH_SANDBOX_UID``, or a
    slot it takes for its own life); None when the grader is not root."""
    global _OWN_SLOT
    value = os.environ.get("TINYTORCH_SANDBOX_UID")
    if value:
        return int(value)
    if os.geteuid() != 0:
        return None
    if _OWN_SLOT is None:
        _OWN_SLOT = Slot()
    return _OWN_SLOT.uid


def command(library: Path, grader: Path, scratch: Path, preload: bool = True) -> list[str]:
    as_root = os.geteuid() == 0
    cmd = [_bwrap(), "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
           "--unshare-uts", "--unshare-cgroup-try"]
    if not as_root:
        cmd.append("--unshare-user")
    for path in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc"):
        cmd += ["--ro-bind-try", path, path]
    # /tmp first: a Python or a course that lives under /tmp (a CI clone) is mounted on top of it
    cmd += ["--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    for path in _python_roots():
        cmd += _parents(path) + ["--ro-bind", path, path]
    cmd += ["--perms", "0755", "--dir", "/opt", "--ro-bind", str(library), "/opt/student", "--ro-bind", str(grader),
            "/opt/grader", *_parents(str(scratch)), "--bind", str(scratch), str(scratch),
            "--proc", "/proc", "--dev", "/dev", "--chdir", str(scratch), "--clearenv"]
    # TMPDIR: a folder of the scratch, so a temporary file can be renamed into a folder the judge made
    # in the scratch (as in a notebook, where both are under /tmp); /tmp stays for what hard-codes it
    env = {"HOME": str(scratch), "TMPDIR": f"{scratch}/tmp", "PATH": "/usr/local/bin:/usr/bin:/bin",
           "PYTHONPATH": "/opt/student:/opt/grader", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
           "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{scratch}/.matplotlib", "TINYTORCH_ANSWERS": f"{scratch}/answers", "LANG": "C.UTF-8",
           **dict.fromkeys(ONE_THREAD, "1")}
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # some CPUs need these for correct results
        if name in os.environ:
            env[name] = os.environ[name]
    for name, value in env.items():
        cmd += ["--setenv", name, value]
    if as_root:
        cmd += drop_privileges(sandbox_uid())
    # -P: the working directory (the submission's scratch) is not on sys.path; the environment is ours alone
    return cmd + [worker_python(), "-P", "-s", "-m", "autograder.grading.worker", *([] if preload else ["--no-preload"])]


def drop_privileges(uid: int) -> list[str]:
    """The command prefix that runs the rest as ``uid`` (its own group), with no capabilities."""
    return [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


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
        if os.geteuid() == 0 or os.environ.get("TINYTORCH_SANDBOX_OWN_UID"):  # per user: the slot's own only
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        if os.environ.get(cgroups.JOIN_ENV):  # the slot's workers group, before bwrap starts anything
            cgroups.join(os.environ[cgroups.JOIN_ENV].split(os.pathsep))

    return apply


def end_process_group(proc: subprocess.Popen) -> str:
    """Kill ``proc`` and every process of its group, reap it and close the pipes to it; what it
    wrote to its stderr, if that is a pipe."""
    try:
        os.killpg(proc.pid, 9)
    except ProcessLookupError:
        pass
    proc.wait()
    said = proc.stderr.read(64_000) if proc.stderr is not None else b""
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return said.decode(errors="replace") if isinstance(said, bytes) else said


class TemplateLost(PeerGone):
    """The template did not answer in time, or is gone: start a fresh one. ``said``: what bwrap
    or the template wrote to stderr, when it did not start."""

    said = ""


class Template:
    """One sandbox, holding the worker template of one submission (``autograder.grading.worker``):
    it has imported what the notebooks import, and ``fork`` gives a fresh worker from it.

    The workers of a template share its sandbox: its ``/tmp``, its process namespace and its
    ``scratch`` (each works in a directory of its own inside). So one template serves one
    submission only; ``stop`` ends it and everything its workers left running, and ``close``
    removes its scratch too. A restarted template keeps the scratch (its workers' directories)."""

    CONTROL_SECONDS = 20  # a fork or a kill takes milliseconds: a template silent this long is lost

    def __init__(self, library: Path, grader: Path, limits: Limits = Limits(), preload: bool = True):
        """``preload``: import what the notebooks import before the first fork (a preflight's does not)."""
        self.library, self.grader, self.limits, self.preload = library, grader, limits, preload
        self.scratch: Scratch | None = None
        self.proc: subprocess.Popen | None = None
        self.control: socket.socket | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, seconds: float = 120) -> None:
        """A new sandbox with a template that has done its imports; ``TemplateLost``, with what
        bwrap said, if it is not ready within ``seconds``."""
        self.stop()
        if self.scratch is None:
            self.scratch = Scratch(prefix="submission-")
            if self.preload:  # it imports pyplot: give it the machine's font list
                config = self.scratch.directory(".matplotlib-")
                for path in font_lists():
                    shutil.copyfile(path, config / path.name)
                config.rename(self.scratch.path / ".matplotlib")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:  # stderr: bwrap's reason if it fails (the template silences it once ready)
            self.proc = subprocess.Popen(command(self.library, self.grader, self.scratch.path, self.preload), stdin=theirs,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_limit(self.limits))
        self.control = ours
        try:
            self._answer(seconds)
        except TemplateLost as error:
            lost = TemplateLost(str(error))
            lost.said = self.stop()[-3000:].strip()
            raise lost from None

    def fork(self, directory: Path) -> tuple[int, socket.socket]:
        """A fresh worker in ``directory`` (inside ``scratch``): its pid in the sandbox and the
        judge's end of its connection."""
        ours, theirs = socket.socketpair()
        with theirs:
            self._send({"op": "fork", "directory": str(directory)}, theirs.fileno())
        try:
            return int(self._answer(self.CONTROL_SECONDS)["pid"]), ours
        except (KeyError, TypeError, ValueError):
            ours.close()
            raise TemplateLost("the template answered a fork without a pid") from None
        except BaseException:
            ours.close()
            raise

    def kill(self, pid: int) -> None:
        """End the worker ``pid`` and every process of its session."""
        self._send({"op": "kill", "pid": pid})
        self._answer(self.CONTROL_SECONDS)

    def _send(self, message: dict, fd: int | None = None) -> None:
        if not self.running:
            raise TemplateLost("the template has ended")
        try:
            socket.send_fds(self.control, [json.dumps(message).encode()], [] if fd is None else [fd])
        except OSError as error:
            raise TemplateLost(f"the template has ended ({error})") from None

    def _answer(self, seconds: float) -> dict:
        if not select.select([self.control], [], [], seconds)[0]:
            raise TemplateLost(f"the template did not answer within {seconds:g} s")
        try:
            answer = json.loads(self.control.recv(65536) or b"null")
        except (OSError, ValueError) as error:
            raise TemplateLost(f"the template's answer was unreadable ({error})") from None
        if not isinstance(answer, dict) or "error" in answer:
            raise TemplateLost(f"the template has ended or failed ({str(answer)[:200]})")
        return answer

    def stop(self) -> str:
        """End the sandbox and every process in it; what bwrap or the template wrote to stderr."""
        said = ""
        if self.proc is not None:
            said = end_process_group(self.proc)
            self.proc = None
        if self.control is not None:
            self.control.close()
            self.control = None
        return said

    def close(self) -> None:
        """``stop``, and remove the scratch."""
        self.stop()
        if self.scratch is not None:
            self.scratch.remove()
            self.scratch = None


class ForkedWorker:
    """One worker forked from ``template`` to work in ``directory``, and the judge's end of its
    connection (``peer``); ``restart`` gives a fresh one."""

    def __init__(self, template: Template, directory: Path):
        self.template, self.directory = template, directory
        self.pid: int | None = None
        self.connection: socket.socket | None = None
        self.peer: Peer | None = None

    def start(self, fresh_template: bool = False) -> Peer:
        """A new worker; from a new template if ``fresh_template`` or if the template is lost
        (a process a submission left behind may have stopped or killed it)."""
        if fresh_template or not self.template.running:
            self.template.start()
        try:
            self.pid, self.connection = self.template.fork(self.directory)
        except TemplateLost:
            self.template.start()
            self.pid, self.connection = self.template.fork(self.directory)
        self.peer = Peer(self.connection.fileno(), self.connection.fileno(), Policy(public_only=True, setattr=False))
        return self.peer

    def stop(self) -> None:
        if self.pid is not None:
            try:
                self.template.kill(self.pid)
            except TemplateLost:
                self.template.stop()  # the next start makes a new one
            self.pid = None
        if self.connection is not None:
            self.connection.close()
            self.connection = self.peer = None

    def restart(self, fresh_template: bool = False) -> Peer:
        self.stop()
        return self.start(fresh_template)


class Scratch:
    """A worker's writable directory, shared with the judge: a check's files live here, and the
    worker and the judge reach them by the same path. Its root (``TINYTORCH_GRADING_SCRATCH``, set
    per slot by ``autograder.grading.engine``, else ``scratch`` in the grading directory) belongs to the
    grading user alone. The worker runs as the judge's own user (mapped), or, under a root judge,
    as the slot's user: then the scratch's directories belong to the slot's group (set-group-ID,
    so what the judge makes inside stays in it) and the judge's umask is 002: the worker may
    change what the judge writes there, and nothing the grader writes is writable by others."""

    ROOT = Path(os.environ["TINYTORCH_GRADING_SCRATCH"]) if os.environ.get("TINYTORCH_GRADING_SCRATCH") else None

    def __init__(self, parent: "Scratch | None" = None, prefix: str = "worker-"):
        """A new directory in the scratch root, or in ``parent`` (a template's, its workers' own)."""
        self.group = sandbox_uid() if os.geteuid() == 0 else None
        os.umask(0o002 if self.group is not None else 0o022)
        if parent is not None:
            root = parent.path
        else:
            root = private_directory(self.ROOT) if self.ROOT else private_directory(grading_dir() / "scratch")
        self.path = self._share(Path(tempfile.mkdtemp(prefix=prefix, dir=root)))
        (self.path / "tmp").mkdir()
        self._share(self.path / "tmp")

    def directory(self, prefix: str) -> Path:
        return self._share(Path(tempfile.mkdtemp(prefix=prefix, dir=self.path)))

    def _share(self, path: Path) -> Path:
        if self.group is not None:
            os.chown(path, -1, self.group, follow_symlinks=False)
            path.chmod(0o2770)
        return path

    def remove(self) -> None:
        for directory, _, _ in os.walk(self.path):  # the worker may have left read-only folders
            try:
                os.chmod(directory, 0o700)
            except OSError:
                pass
        shutil.rmtree(self.path, ignore_errors=True)
