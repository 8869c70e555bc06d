"""The converter's CPU per mail with raw mail as files against rows of the store, same code:
`POSTROOM_STORE_SMALL_BLOB_MAX_BYTES=0` and the default, one import of the bench corpus each
(`bench_e2e.import_run`), one after the other, on the stack bench_e2e starts.

Prints the converter's process tree CPU per mail and its main process's user and system time
(the blob is written there; the analysis workers do not touch it).

    .venv/bin/python bench/bench_blob_limit.py [--mails 1000] [--rounds 2]
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_e2e  # the bench's own stack and corpus

TICK = os.sysconf("SC_CLK_TCK")


def _user_system_s(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for _ in range(args.rounds):
        for limit in ("0", "262144"):
            os.environ["POSTROOM_STORE_SMALL_BLOB_MAX_BYTES"] = limit  # run.sh passes it on
            extra = {"POSTROOM_AUTOMAIL_MAX_PER_HOUR": "1000000"}
            stack = bench_e2e.start(bench_e2e.bench_env(), extra)
            try:
                time.sleep(5)
                pid = stack.pid("converter")
                user, system = _user_system_s(pid)
                result = bench_e2e.import_run(stack, 1, args.mails, 1, True)
                user_after, system_after = _user_system_s(pid)
            finally:
                bench_e2e.stop(stack)
            per_mail = 1000 / args.mails
            print(
                f"limit {limit:>6}: converter {result.cpu_ms['converter']:.2f} ms/mail (main"
                f" process user {(user_after - user) * per_mail:.2f}, system"
                f" {(system_after - system) * per_mail:.2f}); load {os.getloadavg()[0]:.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
