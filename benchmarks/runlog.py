"""Resumable long runs for the benchmark scripts: one JSON line per finished run, skipped on rerun.

A run is named by a key that includes every condition it was trained under, so a changed
condition is a new run, never a silently reused result. ``append`` writes a whole line,
stamped with the library versions and the code's commit (so two readings that disagree can
be traced to what differed), and flushes it to disk; ``finished`` reads the keys already
there (a torn last line, from a kill mid-write, is ignored). ``save_torch`` writes a
checkpoint under a temporary name and renames it, so a kill never leaves half a checkpoint.
``claim`` lets several processes share one grid: a run another live process is training
is skipped, not trained twice.
"""
import contextlib
import functools
import json
import os
import socket
import statistics
import subprocess
from importlib import metadata
from pathlib import Path

LIBRARIES = ("torch", "transformers", "peft", "spacy", "thinc", "spacy-transformers")


def read(path):
    """The records of a results JSONL file (none when it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line torn by a kill: that run is redone
            continue
    return out


def finished(path):
    return {r["key"] for r in read(path) if "key" in r}


@functools.cache
def environment():
    """The versions of the libraries a run depends on, and the commit of the code it ran."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
                                capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"versions": versions, "commit": commit}


def append(path, record):
    """Write one finished run's record (stamped with ``environment()``) as a whole line."""
    record = {**record, **environment()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _holder(lock):
    """The (host, pid) written in a lock file, or None when it is unreadable."""
    try:
        host, pid = lock.read_text(encoding="utf8").split()
        return host, int(pid)
    except (OSError, ValueError):
        return None


def _alive(holder):
    host, pid = holder
    if host != socket.gethostname():
        return True  # another machine's process: it cannot be checked from here
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def claim(lock):
    """Yield True when this process may train the run ``lock`` stands for (the lock file is
    created, holding this host and pid, and removed at the end), False while another live
    process holds it. A lock left by a killed process is taken over."""
    lock = Path(lock)
    lock.parent.mkdir(parents=True, exist_ok=True)
    me = f"{socket.gethostname()} {os.getpid()}"
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = _holder(lock)
            if holder is not None and _alive(holder):
                yield False
                return
            lock.unlink(missing_ok=True)  # stale (its process is gone) or torn: take it over
            continue
        with os.fdopen(fd, "w", encoding="utf8") as f:
            f.write(me)
        break
    else:
        raise RuntimeError(f"could not take the lock {lock}; delete it if no process is training that run")
    try:
        yield True
    finally:
        if lock.exists() and lock.read_text(encoding="utf8") == me:
            lock.unlink()


def save_torch(obj, path):
    import torch

    from spacy_gner.util import atomic_path

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def write_json(path, obj):
    from spacy_gner.util import write_text_atomic

    write_text_atomic(path, json.dumps(obj, indent=1) + "\n")


def mean_sd(values):
    """``"m ± sd"`` (sd over seeds, n-1), ``"m"`` for one value, ``"-"`` for none."""
    values = list(values)
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"
