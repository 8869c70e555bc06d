"""Ports and environment of the servers the tests start, kept apart from a `make run` stack."""

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StackEnv:
    state_dir: Path
    amqp_port: int
    amqp_dist_port: int
    node: str
    smtp_port: int
    imap_port: int
    imaps_port: int
    pop3_port: int
    pop3s_port: int
    sieve_port: int
    api_port: int
    mongo_port: int
    users: str = "support customer alice bob"
    with_mongo: bool = False

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
    """The session stack used by integration tests (ports 3xxxx)."""
    return StackEnv(
        state_dir=state_dir,
        amqp_port=35672,
        amqp_dist_port=35673,
        node="rabbit-test@localhost",
        smtp_port=32525,
        imap_port=31143,
        imaps_port=31993,
        pop3_port=31110,
        pop3s_port=31995,
        sieve_port=34190,
        api_port=38080,
        mongo_port=37017,
    )


def e2e_stack_env(state_dir: Path, *, index: int, with_mongo: bool) -> StackEnv:
    """A whole `make run` stack for one e2e run (ports 4xxxx/5xxxx, one block per index)."""
    base = 40000 + 10000 * index
    return StackEnv(
        state_dir=state_dir,
        amqp_port=base + 5672,
        amqp_dist_port=base + 5673,
        node=f"rabbit-e2e{index}@localhost",
        smtp_port=base + 2525,
        imap_port=base + 1143,
        imaps_port=base + 1993,
        pop3_port=base + 1110,
        pop3s_port=base + 1995,
        sieve_port=base + 4190,
        api_port=base + 8080,
        mongo_port=base + 7017,
        with_mongo=with_mongo,
    )
