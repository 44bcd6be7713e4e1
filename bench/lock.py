"""One driver per suite: an exclusive lock on ``results/<suite>/``.

The lock is an advisory ``flock`` on ``results/<suite>/.driver.lock``, so it dies with the process
that holds it (a SIGKILLed driver leaves no lock behind). The file also holds who took it (host,
pid, start time, command line), so a second driver can say who holds the suite. On a shared
filesystem where ``flock`` is not honoured across machines (some NFS set-ups), the file's content is
the fallback: a lock whose holder on another host wrote its heartbeat less than ``stale_after_s``
ago, or held on this host by a live process, counts as held; older or dead ones are stale and taken
over (and said so). The holder refreshes the heartbeat every ``heartbeat_s`` from a daemon thread,
so a driver running for days never looks stale.

Readers (``ganbench report``, ``status``, ``collect``) take no lock."""
from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Optional

from .errors import SuiteLocked

LOCK_NAME = ".driver.lock"
STALE_AFTER_S = 24 * 3600.0  # another host's lock whose heartbeat is older than this is abandoned
HEARTBEAT_S = 600.0  # how often the holder refreshes the heartbeat

__all__ = ["SuiteLock", "LOCK_NAME", "holder", "driver_running"]


def holder(sdir: Path) -> Optional[Dict[str, Any]]:
    """What the lock file of ``sdir`` says about its holder (None when absent or unreadable)."""
    try:
        return json.loads((Path(sdir) / LOCK_NAME).read_text())
    except (OSError, ValueError):
        return None


def driver_running(sdir: Path) -> Optional[Dict[str, Any]]:
    """Who drives ``sdir`` now (its lock note, ``{}`` if unreadable), or None when nobody does.
    Takes no lock: it only tests whether one is held."""
    path = Path(sdir) / LOCK_NAME
    if not path.exists():
        return None
    with open(path, "r") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return holder(sdir) or {}
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _describe(h: Optional[Dict[str, Any]]) -> str:
    if not h:
        return "another process"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h.get("started", 0)))
    return f"pid {h.get('pid')} on host {h.get('host')} (started {started}: {h.get('command', '?')})"


class SuiteLock:
    """``with SuiteLock(sdir, wait=False): ...`` -- raises ``SuiteLocked`` naming the holder, or
    with ``wait=True`` waits (polling every ``poll_s``) until the holder is gone."""

    def __init__(self, sdir: Path, wait: bool = False, poll_s: float = 2.0, log=None,
                 stale_after_s: float = STALE_AFTER_S, heartbeat_s: float = HEARTBEAT_S):
        self.path = Path(sdir) / LOCK_NAME
        self.wait, self.poll_s, self.stale_after_s, self.heartbeat_s = wait, poll_s, stale_after_s, heartbeat_s
        self.log = log or (lambda m: print(m, file=sys.stderr, flush=True))
        self._fh = None
        self._info: Dict[str, Any] = {}
        self._io = threading.Lock()  # the heartbeat thread and release() both write the file
        self._stop = threading.Event()
        self._beat: Optional[threading.Thread] = None

    def _held_elsewhere(self, h: Optional[Dict[str, Any]]) -> bool:
        """The file's content says a live driver on another host holds it (flock cannot see it)."""
        if not h or h.get("host") == socket.gethostname():
            return False  # on this host flock is authoritative
        return time.time() - float(h.get("heartbeat", h.get("started", 0))) < self.stale_after_s

    def acquire(self) -> "SuiteLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        said_waiting = False
        while True:
            fh = open(self.path, "a+")
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                h = holder(self.path.parent)
                if not self.wait:
                    raise SuiteLocked(f"{self.path.parent}: suite is being run by {_describe(h)}; wait for it to "
                                      f"finish, or rerun with --wait to start when it does") from None
                if not said_waiting:
                    self.log(f"{self.path.parent}: waiting for {_describe(h)} to finish")
                    said_waiting = True
                time.sleep(self.poll_s)
                continue
            h = holder(self.path.parent)
            if self._held_elsewhere(h):
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
                fh.close()
                if not self.wait:
                    raise SuiteLocked(f"{self.path.parent}: suite is being run by {_describe(h)} (lock file on a "
                                      f"shared filesystem); rerun with --wait, or remove {self.path} if that "
                                      f"driver is gone")
                time.sleep(self.poll_s)
                continue
            if h and h.get("host") == socket.gethostname() and h.get("pid") != os.getpid():
                state = "dead" if not _pid_alive(int(h.get("pid", -1))) else "gone"
                self.log(f"{self.path.parent}: previous driver {_describe(h)} is {state}; its lock is stale, "
                         f"taking over (finished runs are kept)")
            self._fh = fh
            now = time.time()
            self._info = {"host": socket.gethostname(), "pid": os.getpid(), "started": now, "heartbeat": now,
                          "command": " ".join(sys.argv)[:300]}
            self._write()
            self._stop.clear()
            self._beat = threading.Thread(target=self._heartbeat, name="suite-lock-heartbeat", daemon=True)
            self._beat.start()
            return self

    def _write(self) -> None:
        with self._io:
            if self._fh is None:
                return
            data = json.dumps(self._info).encode()
            fd = os.open(self.path, os.O_WRONLY)  # not the lock's append-mode handle: write from offset 0
            try:
                os.write(fd, data)  # overwrite, then cut: a reader never sees an empty note
                os.ftruncate(fd, len(data))
                os.fsync(fd)
            finally:
                os.close(fd)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            self._info["heartbeat"] = time.time()
            try:
                self._write()
            except OSError as e:  # a full or vanished disk: the flock still holds; say it once and stop
                self.log(f"{self.path}: cannot refresh the lock's heartbeat ({e})")
                return

    def release(self) -> None:
        if self._fh is None:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        with self._io:
            try:
                self._fh.seek(0)
                self._fh.truncate()  # an empty file: nobody holds the suite
                self._fh.flush()
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            finally:
                self._fh.close()
                self._fh = None

    def __enter__(self) -> "SuiteLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
