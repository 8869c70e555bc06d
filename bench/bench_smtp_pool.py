"""The replier's CPU per auto-reply in SMTP alone: `SmtpPool.send` to the real Postfix.

    POSTROOM_TEST_PORT_OFFSET=... .venv/bin/python bench/bench_smtp_pool.py --mails 2000

Starts the servers of `deploy/local/stack.sh` (a port block of its own, like bench_floor.py),
then sends `--mails` composed auto-replies through one `SmtpPool`, `--in-flight` at a time as
the replier's concurrent handlers do, and prints this process's CPU µs per mail (user+system,
`time.process_time`: meaningful on a busy machine, unlike the rate) and the sessions opened.
bench_e2e.py gives the whole replier; this isolates what the SMTP conversation costs, so two
versions of `adapters/smtp*.py` can be compared run against run.
"""

import argparse
import asyncio
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.servers import servers  # noqa: E402
from postroom_replier.adapters.smtp import SmtpTarget  # noqa: E402
from postroom_replier.adapters.smtp_pool import SmtpPool  # noqa: E402
from postroom_replier.domain.compose import compose_test_mail  # noqa: E402
from postroom_shared.models import Security  # noqa: E402
from tests.stack_env import StackEnv  # noqa: E402

USER = "smtpbench"


async def send_all(env: StackEnv, mails: int, in_flight: int) -> tuple[float, int]:
    target = SmtpTarget(host="127.0.0.1", port=env.smtp_port, security=Security.NONE, timeout_s=30)
    outbound = [
        compose_test_mail(
            sender="support@example.test",
            recipient=f"{USER}@example.test",
            message_id=f"<smtpbench-{n}@example.test>",
            instance="smtp bench",
        )
        for n in range(mails + in_flight)
    ]
    pool = SmtpPool(idle_s=60)
    try:
        # warm up: the sessions are open before the clock starts
        await asyncio.gather(*(pool.send(m, target) for m in outbound[:in_flight]))
        started = time.process_time()
        for start in range(in_flight, len(outbound), in_flight):
            await asyncio.gather(
                *(pool.send(m, target) for m in outbound[start : start + in_flight])
            )
        return (time.process_time() - started) * 1e6 / mails, pool.opened
    finally:
        await pool.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=8, help="concurrent sends")
    parser.add_argument("--rounds", type=int, default=3, help="figures, one per round")
    args = parser.parse_args()
    with servers("smtpbench", users=USER, default_base=21000) as env:
        for _ in range(args.rounds):
            cpu, opened = asyncio.run(send_all(env, args.mails, args.in_flight))
            print(
                f"SmtpPool.send: {cpu:.0f} µs CPU per mail ({args.mails} mails,"
                f" {args.in_flight} in flight, {opened} sessions)",
                flush=True,
            )


if __name__ == "__main__":
    main()
