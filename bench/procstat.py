"""CPU time and memory of process trees, read from /proc (Linux).

CPU seconds stay meaningful on a noisy machine where wall-clock rates do not: a process is
charged only for the time it ran. A service's tree counts: its own time, that of its live
descendants (the converter's analysis workers, the replier's render workers, Dovecot's imap and
lmtp processes, Postfix's smtpd/cleanup/qmgr), and through cutime/cstime that of descendants that
already exited and were reaped.
"""

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TreeSample", "sample_tree"]

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class TreeSample:
    cpu_s: float  # user + system of the whole tree, reaped children included
    rss_mb: float  # resident now, summed over the tree
    hwm_mb: float  # the largest resident size each live member ever had, summed


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: split after its last ')'
    return text[text.rindex(")") + 2 :].split()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _memory_mb(pid: int) -> tuple[float, float]:
    rss = hwm = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, hwm


def sample_tree(root: int) -> TreeSample:
    """The tree under `root` (root included) now; zeros when it is gone."""
    tree = _children()
    cpu = rss = hwm = 0.0
    todo = [root]
    while todo:
        pid = todo.pop()
        fields = _stat(pid)
        if fields is None:
            continue
        # fields from index 0 = state (field 3 of proc(5)): utime 11, stime 12, cutime 13, cstime 14
        cpu += sum(int(value) for value in fields[11:15]) / _TICK
        pid_rss, pid_hwm = _memory_mb(pid)
        rss, hwm = rss + pid_rss, hwm + pid_hwm
        todo.extend(tree.get(pid, []))
    return TreeSample(cpu_s=cpu, rss_mb=rss, hwm_mb=hwm)
