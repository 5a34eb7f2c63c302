"""Helpers the hidden checks run inside the worker, where the submission runs: public.

Some behaviour can only be observed in the process that runs the code (a write killed at its
fsync, eight processes allocating versions at one moment, thousands of calls in one round trip).
These helpers do that, and are shipped into the sandbox as they are: a submission may read them,
print them or patch them, and learns nothing by it (no check's inputs or expected values are
here; the judge passes the inputs and checks the files and results itself). Like any answer of the
worker, what they report is the submission's to forge, and each check treats it so.

``autograder.grading.judge.Session.probes`` returns this module's public functions as a handle.
"""

import json, os, resource, signal, stat, time
from pathlib import Path


def _status(pid):
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _child(body):
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            code = body()
        finally:
            os._exit(code)
    return pid


def write_under_size_limit(write, target, data, limit):
    """0: the write raised OSError; 1: it returned; 2: it raised something else."""
    def body():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # exceeding the limit raises OSError instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        try:
            write(target, data)
        except OSError:
            return 0
        except BaseException:
            return 2
        return 1
    return _status(_child(body))


def write_killed_at_fsync(write, target, data):
    def body():
        def die(fd):
            os.kill(os.getpid(), signal.SIGKILL)
        os.fsync = os.fdatasync = die
        write(target, data)
        return 0
    return _status(_child(body))


def torn_reads_during_rewrites(write, target, size, rewrites):
    """1 if a reader polling ``target`` saw a file that is not ``size`` equal bytes, else 0."""
    done = Path(str(target) + ".done")
    def reader():
        torn = 0
        while not done.exists():
            data = target.read_bytes()
            torn += not (len(data) == size and data.count(data[:1]) == size)
        return min(torn, 1)
    pid = _child(reader)
    fsync, os.fsync = os.fsync, lambda fd: None  # the reader checks atomicity, not durability
    try:
        time.sleep(0.05)
        for i in range(rewrites):
            write(target, (b"B" if i % 2 == 0 else b"A") * size)
    finally:
        os.fsync = fsync
        done.touch()
    return _status(pid)


def _at_once(calls):
    """Run each of ``calls`` in its own child, all starting at one moment; each child's result, or
    the error it raised (as text)."""
    start = time.time() + 0.3
    children = []
    for call in calls:
        read, write = os.pipe()
        def body(call=call):
            os.close(read)
            time.sleep(max(0.0, start - time.time()))  # all start together
            try:
                message = json.dumps(call())
            except BaseException as error:
                message = json.dumps(f"{type(error).__name__}: {error}")
            os.write(write, message.encode())
            return 0
        pid = _child(body)
        os.close(write)
        children.append((pid, read))
    results = []
    for pid, read in children:
        with os.fdopen(read, "rb") as f:
            results.append(json.loads(f.read() or b'"no answer"'))
        _status(pid)
    return results


def allocate_at_once(allocate, versions, workers, each):
    """Each child's list of versions, or the error it raised (as text)."""
    return _at_once([lambda: [allocate(versions) for _ in range(each)]] * workers)


def rollbacks_at_once(AliasHistory, log, alias, workers):
    """What ``rollback(alias)`` returned in each of ``workers`` children (or the error, as text)."""
    return _at_once([lambda: AliasHistory(log).rollback(alias)] * workers)


def sets_at_once(AliasHistory, log, alias, versions):
    """One child per version in ``versions`` runs ``set(alias, version)``."""
    return _at_once([lambda v=v: AliasHistory(log).set(alias, v) for v in versions])


def steps_of(write, target, data, durable=True):
    """The fsyncs (with the file's size at that moment) and renames, in order, while
    ``write(target, data)`` runs, and then ("raised", error) if it raised."""
    events, originals = [], {n: getattr(os, n) for n in ("fsync", "fdatasync", "replace", "rename")}
    def sync(original):
        def fsync(fd):
            fd = fd if isinstance(fd, int) else fd.fileno()
            info = os.fstat(fd)
            kind = "dir" if stat.S_ISDIR(info.st_mode) else "file"
            events.append(("fsync", kind, Path(os.readlink(f"/proc/self/fd/{fd}")), info.st_size))
            return original(fd) if durable else None
        return fsync
    def move(original):
        def rename(src, dst, *args, **kwargs):
            events.append(("rename", Path(os.path.realpath(src)), Path(os.path.realpath(dst))))
            return original(src, dst, *args, **kwargs)
        return rename
    for name, original in originals.items():
        setattr(os, name, sync(original) if "sync" in name else move(original))
    try:
        write(target, data)
    except Exception as error:
        events.append(("raised", f"{type(error).__name__}: {error}"))
    finally:
        for name, original in originals.items():
            setattr(os, name, original)
    return events


def descriptors_left_open(write, target, data):
    """What the file descriptors opened by ``write(target, data)`` and still open point at."""
    def open_now():
        found = {}
        for fd in os.listdir("/proc/self/fd"):
            try:
                found[fd] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:  # the descriptor listdir itself used, closed by now
                pass
        return found
    before = open_now()
    write(target, data)
    return sorted(path for fd, path in open_now().items() if before.get(fd) != path)


def call_each(function, calls, *shared):
    """``[function(*arguments, *shared) for arguments in calls]``, in one request: a check that
    calls a function thousands of times pays one round trip, not thousands (and the arguments
    every call shares cross once)."""
    return [function(*arguments, *shared) for arguments in calls]
