"""Ports and environment of the servers the tests start, kept apart from a `make run` stack.

Each stack gets a block of 1,000 ports below the kernel's ephemeral range (32768+), so no
outgoing connection can be holding one of them when a server starts. POSTROOM_TEST_PORT_OFFSET
(a multiple of 4000, e.g. -12000, -8000, -4000, 4000) moves every block, so several checkouts
can run their suites side by side on one machine.
"""

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PORT_OFFSET = int(os.environ.get("POSTROOM_TEST_PORT_OFFSET", "0"))
_NODE_TAG = "" if PORT_OFFSET == 0 else f"o{PORT_OFFSET + 20000}"


@dataclass(frozen=True)
class StackEnv:
    state_dir: Path
    base: int
    node: str
    users: str = "support customer alice bob"
    with_mongo: bool = False

    amqp_port = property(lambda self: self.base + 672)
    amqp_dist_port = property(lambda self: self.base + 673)  # rabbitmqctl takes the next ten
    smtp_port = property(lambda self: self.base + 525)
    imap_port = property(lambda self: self.base + 143)
    imaps_port = property(lambda self: self.base + 993)
    pop3_port = property(lambda self: self.base + 110)
    pop3s_port = property(lambda self: self.base + 995)
    sieve_port = property(lambda self: self.base + 190)
    api_port = property(lambda self: self.base + 80)
    mongo_port = property(lambda self: self.base + 17)
    oauth_port = property(lambda self: self.base + 180)  # test IdP (tests/idp.py), plain HTTP
    oauth_tls_port = property(lambda self: self.base + 181)  # the same IdP over HTTPS

    def environ(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            POSTROOM_STATE_DIR=str(self.state_dir),
            POSTROOM_AMQP_PORT=str(self.amqp_port),
            POSTROOM_AMQP_DIST_PORT=str(self.amqp_dist_port),
            POSTROOM_RABBIT_NODENAME=self.node,
            POSTROOM_SMTP_PORT=str(self.smtp_port),
            POSTROOM_IMAP_PORT=str(self.imap_port),
            POSTROOM_IMAPS_PORT=str(self.imaps_port),
            POSTROOM_POP3_PORT=str(self.pop3_port),
            POSTROOM_POP3S_PORT=str(self.pop3s_port),
            POSTROOM_SIEVE_PORT=str(self.sieve_port),
            POSTROOM_API_PORT=str(self.api_port),
            POSTROOM_MONGO_PORT=str(self.mongo_port),
            # Dovecot's oauth2 passdb validates XOAUTH2/OAUTHBEARER tokens here (the `idp` fixture)
            POSTROOM_OAUTH_URL=f"http://127.0.0.1:{self.oauth_port}",
            POSTROOM_WITH_MONGO="1" if self.with_mongo else "0",
            POSTROOM_MAIL_USERS=self.users,
            POSTROOM_NO_DOCKER="1",
        )
        for key in (
            "POSTROOM_ADMIN_API_KEY",
            "POSTROOM_SECRET_KEY",
            "POSTROOM_STORE_URL",
            "POSTROOM_BROKER_URL",
        ):
            env.pop(key, None)
        env.update(extra)
        return env

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"


def session_stack_env(state_dir: Path) -> StackEnv:
    """The session stack used by integration tests (ports 20xxx)."""
    return StackEnv(
        state_dir=state_dir, base=20000 + PORT_OFFSET, node=f"rabbit-test{_NODE_TAG}@localhost"
    )


def e2e_stack_env(state_dir: Path, *, index: int, with_mongo: bool) -> StackEnv:
    """A whole `make run` stack for one e2e run (ports 21xxx, 22xxx, ...)."""
    return StackEnv(
        state_dir=state_dir,
        base=21000 + 1000 * index + PORT_OFFSET,
        node=f"rabbit-e2e{index}{_NODE_TAG}@localhost",
        with_mongo=with_mongo,
    )


def short_state_dir(prefix: str) -> Path:
    """A new state directory for a stack: short, because Dovecot's and Postfix's unix sockets
    live under it (108-byte limit), and readable, because Dovecot's vmail user must reach the
    mail below it."""
    state = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    state.chmod(0o755)
    return state
