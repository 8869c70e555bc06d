"""The real servers of `deploy/local/stack.sh` (RabbitMQ, Dovecot, Postfix) for a bench that
drives them itself, without Postroom's services: started on a port block of the bench's own
(POSTROOM_BENCH_PORT_BASE, else `default_base` + POSTROOM_TEST_PORT_OFFSET, so a bench beside
the tests or another bench does not collide) and stopped when the bench is done."""

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.stack_env import PORT_OFFSET, StackEnv

__all__ = ["servers"]

STACK_SH = Path(__file__).resolve().parent.parent / "deploy/local/stack.sh"


@contextmanager
def servers(name: str, *, users: str, default_base: int) -> Iterator[StackEnv]:
    """The stack's servers, state under /tmp/pr-<name>-<base> (short: unix sockets live there),
    with mail users `users` (each one's password is its name)."""
    base = int(os.environ.get("POSTROOM_BENCH_PORT_BASE", str(default_base + PORT_OFFSET)))
    env = StackEnv(
        state_dir=Path(tempfile.gettempdir()) / f"pr-{name}-{base}",
        base=base,
        node=f"rabbit-{name}{base}@localhost",
        users=users,
    )
    environ = env.environ()
    print(f"starting RabbitMQ, Dovecot and Postfix (stack.sh) in {env.state_dir}", flush=True)
    subprocess.run([STACK_SH, "start"], env=environ, check=True, stdout=subprocess.DEVNULL)
    try:
        yield env
    finally:
        subprocess.run([STACK_SH, "stop"], env=environ, check=False, stdout=subprocess.DEVNULL)
