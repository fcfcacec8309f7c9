"""Child processes of the local services: whether one still runs, and tying one's life to its starter."""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    """A ``preexec_fn`` that makes the kernel send the child SIGTERM when its parent dies.

    Why PR_SET_PDEATHSIG rather than a watchdog process: the kernel delivers it even when
    the parent is SIGKILLed, with no extra process that could itself be killed or orphaned,
    no polling and no pid-reuse race; it survives the exec of ``java`` (not set-user-ID).
    Its one catch: it fires when the parent *thread* that forked exits, so start the node
    from a thread that lives as long as the node should. pytest runs its fixtures on the
    main thread, which Python keeps until the process exits, so that holds for test runs.
    SIGTERM (not SIGKILL) lets OpenSearch flush and close its shards.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork; the child only calls it

    def bind_to_parent() -> None:
        if prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent_pid:  # the parent died between fork and prctl: the signal will never come
            os._exit(1)

    return bind_to_parent


def is_alive(pid: int) -> bool:
    """True while *pid* runs (an exited, unreaped child counts as gone)."""
    if _is_zombie(pid):
        return False
    try:
        # Reap the process if it is our child, otherwise a zombie looks alive to kill(0).
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_zombie(pid: int) -> bool:
    """An exited process that its parent (maybe another program) has not reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"
