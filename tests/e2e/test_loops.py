"""Real-world mail loops, end to end on the real mail stack (issue: loop tests).

One `deploy/local/run.sh` stack for the module (ports 23xxx), real Postfix -> LMTP -> Dovecot,
RabbitMQ and the four services. Each scenario tags its subjects and senders, waits until the
system is quiet (no new mail in any watched mailbox and no new fetcher/converter/replier log
line for QUIET_S seconds, after its expected mails arrived) and then asserts EXACT counts:

1. a Dovecot Sieve vacation responder on the customer's mailbox;
2. two Postroom accounts (support and alice) that would auto-reply to each other;
3. a sender that does not exist (the auto-reply is refused) and a storm of DSNs;
4. a mailing-list mail and a no-reply sender;
5. a burst of ordinary mails converted at the same moment: still one auto-reply per mail;
6. a mail over the account's size limit (the sender is told once; a large bounce of it and the
   same mail sent again get nothing; the customer's vacation stays silent);
7. a customer-side auto-responder that answers every mail from support with a FRESH subject, no
   threading headers and no automatic-mail header: recognised by its text (one auto-reply,
   then silence), or, when its text says nothing, stopped by the loop breaker (three).
"""

import asyncio
import dataclasses
import json
import smtplib
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from postroom_shared.models import (
    AfterRead,
    AutoReplySettings,
    EmailAccount,
    ItemType,
    MailboxSettings,
    Security,
)
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import open_store
from tests.e2e.event_tap import announce_config
from tests.e2e.runstack import RunningStack, mailbox, running_stack, send
from tests.stack_env import StackEnv, e2e_stack_env, short_state_dir

pytestmark = pytest.mark.e2e

QUIET_S = 4.0  # nothing new anywhere for this long = the system is quiet
SETTLE_TIMEOUT_S = 90.0
MAILBOXES = ("support", "customer", "alice", "outbound", "dave", "erin")
SERVICE_LOGS = ("fetcher", "converter", "replier")
ALICE_ACCOUNT_ID = "acc_loop_alice"


# --- the stack -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    env = e2e_stack_env(short_state_dir("pr-loop-"), index=2, with_mongo=False)
    env = dataclasses.replace(env, users=f"{env.users} dave erin")  # scenario 7's customers
    with running_stack(env, {"POSTROOM_ACCOUNTS_REFRESH_S": "2"}) as running:
        yield running


# --- what the test watches -------------------------------------------------------------------


def tagged(messages: list[EmailMessage], tag: str) -> list[EmailMessage]:
    return [m for m in messages if tag in str(m.get("Subject", ""))]


def log_events(env: StackEnv, service: str) -> list[dict[str, Any]]:
    path = env.state_dir / "log" / f"{service}.log"
    events = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            events.append(entry)
    return events


def replier_events(env: StackEnv, event: str, recipient: str) -> list[dict[str, Any]]:
    return [
        e
        for e in log_events(env, "replier")
        if e.get("event") == event and e.get("recipient") == recipient
    ]


def items_tagged(stack: RunningStack, tag: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = stack.get("/v1/items", params={"limit": 500}).json()["items"]
    return [i for i in items if tag in i["title"]]


def thread(stack: RunningStack, item_id: str) -> list[dict[str, Any]]:
    detail: dict[str, Any] = stack.get(f"/v1/items/{item_id}").json()
    messages: list[dict[str, Any]] = detail["thread"]
    return messages


def _snapshot(env: StackEnv) -> tuple[tuple[int, ...], tuple[int, ...]]:
    counts = tuple(len(mailbox(env, user)) for user in MAILBOXES)
    sizes = tuple((env.state_dir / "log" / f"{name}.log").stat().st_size for name in SERVICE_LOGS)
    return counts, sizes


def settle(env: StackEnv, expected: Callable[[], bool], what: str) -> float:
    """Wait until `expected()` holds and then nothing changes for QUIET_S seconds.

    Returns the seconds it took. Fails after SETTLE_TIMEOUT_S; the caller asserts exact counts
    afterwards, so an overshoot (a loop) shows up there, or as a system that never goes quiet.
    """
    start = time.monotonic()
    deadline = start + SETTLE_TIMEOUT_S
    last = _snapshot(env)
    since = time.monotonic()
    while True:
        time.sleep(0.5)
        now = _snapshot(env)
        if now != last:
            last, since = now, time.monotonic()
            continue
        if time.monotonic() - since >= QUIET_S and expected():
            return time.monotonic() - start
        if time.monotonic() > deadline:
            pytest.fail(
                f"not quiet after {SETTLE_TIMEOUT_S} s ({what}); expected reached:"
                f" {expected()}; mailboxes {dict(zip(MAILBOXES, last[0], strict=True))}"
            )


def person_mail(sender: str, to: str, subject: str, msgid: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = msgid
    msg.set_content(body)
    return msg


# --- 1. Sieve vacation on the customer's mailbox ---------------------------------------------

VACATION = """require ["vacation"];
vacation :days 1 :addresses ["customer@example.test"]
  "I am away until Monday and will read your message when I am back.";
"""


def _vacations_sent(env: StackEnv) -> int:
    log = env.state_dir / "stack" / "dovecot" / "log" / "dovecot.log"
    return log.read_text(errors="replace").count("sent vacation response")


@pytest.mark.timeout(420)
def test_sieve_vacation_is_threaded_and_never_answered(stack: RunningStack) -> None:
    env = stack.env
    tag = "S1-vacation"
    conf = env.state_dir / "stack" / "dovecot" / "dovecot.conf"
    subprocess.run(
        [
            "doveadm",
            "-c",
            str(conf),
            "sieve",
            "put",
            "-u",
            "customer@example.test",
            "-a",
            "vacation",
        ],
        input=VACATION,
        text=True,
        check=True,
        timeout=30,
    )
    listed = subprocess.run(
        ["doveadm", "-c", str(conf), "sieve", "list", "-u", "customer@example.test"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert "vacation ACTIVE" in listed.stdout

    # 1a. the customer writes; Postroom auto-replies; the vacation must not answer an auto-reply
    first = "<s1-first@example.test>"
    send(
        env,
        person_mail(
            "Casey Customer <customer@example.test>",
            "support@example.test",
            f"Printer jam {tag}",
            first,
            "The printer on floor 3 jams on every page.",
        ),
    )
    took = settle(
        env,
        lambda: bool(items_tagged(stack, tag)) and len(tagged(mailbox(env, "customer"), tag)) >= 1,
        "customer mail + auto-reply",
    )
    (item,) = items_tagged(stack, tag)
    inbox = tagged(mailbox(env, "customer"), tag)
    assert len(inbox) == 1, [str(m["Subject"]) for m in inbox]
    auto = inbox[0]
    assert auto["Auto-Submitted"] == "auto-replied" and auto["In-Reply-To"] == first
    assert f"[{item['token']}]" in str(auto["Subject"])
    assert _vacations_sent(env) == 0  # RFC 5230: vacation never answers Auto-Submitted mail
    assert [(m["direction"], m["kind"]) for m in thread(stack, item["id"])] == [
        ("in", "normal"),
        ("out", "auto_reply"),
    ]
    assert tagged(mailbox(env, "support"), tag) == []
    assert len(replier_events(env, "auto-reply sent", "customer@example.test")) == 1
    print(f"S1a quiet after {took:.1f} s: customer INBOX 1, vacation responses 0")

    # 1b. a person at support answers by hand (no Auto-Submitted): now the vacation answers
    # support, and Postroom threads the out-of-office reply and stays silent.
    agent = person_mail(
        "Support Desk <support@example.test>",
        "customer@example.test",
        f"Re: [{item['token']}] Printer jam {tag}",
        "<s1-agent@example.test>",
        "Have you tried turning it off and on again?",
    )
    agent["In-Reply-To"] = first
    agent["References"] = f"{first} {auto['Message-ID']}"
    send(env, agent)

    def ooo_threaded() -> bool:
        return len(thread(stack, item["id"])) >= 3 and _vacations_sent(env) >= 1

    took = settle(env, ooo_threaded, "vacation reply threaded")
    messages = thread(stack, item["id"])
    assert [m["direction"] for m in messages] == ["in", "out", "in"], messages
    assert messages[2]["kind"] in {"out_of_office", "auto_reply"}, messages[2]
    assert messages[2]["sender"]["address"] == "customer@example.test"
    assert _vacations_sent(env) == 1
    inbox = tagged(mailbox(env, "customer"), tag)
    assert len(inbox) == 2  # Postroom's one auto-reply + the agent's hand-written answer
    assert sum(1 for m in inbox if m["Auto-Submitted"] == "auto-replied") == 1
    assert tagged(mailbox(env, "support"), tag) == []  # the fetcher consumed the vacation reply
    assert len(items_tagged(stack, tag)) == 1
    assert len(replier_events(env, "auto-reply sent", "customer@example.test")) == 1
    print(
        f"S1b quiet after {took:.1f} s: vacation responses 1 (kind {messages[2]['kind']}),"
        f" customer INBOX {len(inbox)} (1 auto-reply), items 1, thread in/out/in"
    )


# --- 2. two Postroom accounts that auto-reply -------------------------------------------------


async def _add_alice(env: StackEnv) -> None:
    box = SecretBox((env.state_dir / "secret-key").read_text().strip())
    store = await open_store(f"sqlite:///{env.state_dir / 'data' / 'postroom.db'}")
    try:
        await store.put_account(
            EmailAccount(
                id=ALICE_ACCOUNT_ID,
                name="Alice desk",
                address="alice@example.test",
                mailbox=MailboxSettings(
                    host="127.0.0.1",
                    port=env.imap_port,
                    security=Security.NONE,
                    verify_tls=False,
                    username="alice@example.test",
                    password_enc=box.encrypt("alice"),
                    folder="INBOX",
                ),
                after_read=AfterRead.DELETE,
                poll_interval_s=1.0,
                item_type=ItemType.USER_STORY,  # its own number space (US-n)
                project="Alice",
                auto_reply=AutoReplySettings(enabled=True, send_to_cc=False, first_mail_only=True),
            )
        )
    finally:
        await store.close()
    await announce_config(env.amqp_url, "account", ALICE_ACCOUNT_ID)


@pytest.mark.timeout(420)
def test_two_postroom_accounts_do_not_ping_pong(stack: RunningStack) -> None:
    env = stack.env
    tag = "S2-pingpong"

    def sent_to_alice() -> list[dict[str, Any]]:
        return replier_events(env, "auto-reply sent", "alice@example.test")

    # 2a. alice (a person, not yet a Postroom account) writes to support: one auto-reply to her
    send(
        env,
        person_mail(
            "Alice <alice@example.test>",
            "support@example.test",
            f"VPN down {tag}-a",
            "<s2-a@example.test>",
            "The VPN drops every five minutes.",
        ),
    )
    took = settle(env, lambda: len(tagged(mailbox(env, "alice"), tag)) >= 1, "auto-reply to alice")
    (item_a,) = items_tagged(stack, f"{tag}-a")
    assert item_a["project"] == "Support"
    alice_inbox = tagged(mailbox(env, "alice"), tag)
    assert len(alice_inbox) == 1 and alice_inbox[0]["Auto-Submitted"] == "auto-replied"
    assert len(sent_to_alice()) == 1
    print(f"S2a quiet after {took:.1f} s: alice INBOX 1 auto-reply, support items 1")

    # 2b. alice's mailbox becomes a Postroom account (auto-reply on); it reads support's
    # auto-reply, which must neither open an item nor be answered.
    asyncio.run(_add_alice(env))
    took = settle(
        env,
        lambda: (
            not mailbox(env, "alice")
            and any(e.get("account") == "Alice desk" for e in log_events(env, "fetcher"))
        ),
        "alice's account consumes the auto-reply",
    )
    converted = [
        e
        for e in log_events(env, "converter")
        if e.get("event") == "mail converted" and "our own mail" in str(e.get("outcome", ""))
    ]
    assert len(converted) == 1, converted
    assert mailbox(env, "alice") == []
    assert items_tagged(stack, tag) == [item_a]  # nothing new in either number space
    assert [i for i in stack.get("/v1/items").json()["items"] if i["project"] == "Alice"] == []
    assert len(sent_to_alice()) == 1
    assert tagged(mailbox(env, "support"), tag) == []
    assert [(m["direction"], m["kind"]) for m in thread(stack, item_a["id"])] == [
        ("in", "normal"),
        ("out", "auto_reply"),
    ]
    print(f"S2b quiet after {took:.1f} s: alice's account ignored it (own loop); 0 new items")

    # 2c. alice, now one of Postroom's own addresses, writes again: an item, no auto-reply.
    send(
        env,
        person_mail(
            "Alice <alice@example.test>",
            "support@example.test",
            f"VPN still down {tag}-c",
            "<s2-c@example.test>",
            "Still dropping.",
        ),
    )

    def suppressed_own() -> bool:
        return any(
            "own addresses" in str(e.get("why"))
            for e in replier_events(env, "auto-reply suppressed", "alice@example.test")
        )

    took = settle(env, lambda: bool(items_tagged(stack, f"{tag}-c")) and suppressed_own(), "2c")
    (item_c,) = items_tagged(stack, f"{tag}-c")
    assert [(m["direction"], m["kind"]) for m in thread(stack, item_c["id"])] == [("in", "normal")]
    assert len(items_tagged(stack, tag)) == 2
    assert len(sent_to_alice()) == 1  # exactly one auto-reply in the whole scenario
    assert mailbox(env, "alice") == []
    assert [i for i in stack.get("/v1/items").json()["items"] if i["project"] == "Alice"] == []
    print(f"S2c quiet after {took:.1f} s: support items 2, auto-replies to alice 1 in total")


# --- 3. a sender that does not exist, and a bounce storm -------------------------------------


def dsn(returned_msgid: str, tag: str, n: int) -> bytes:
    """An RFC 3464 delivery status notification, laid out as Postfix writes one."""
    return (
        "From: MAILER-DAEMON@example.test (Mail Delivery System)\r\n"
        "To: support@example.test\r\n"
        f"Subject: Undelivered Mail Returned to Sender {tag} #{n}\r\n"
        f"Message-ID: <s3-dsn-{n}@example.test>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n"
        "--B\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host example.test.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n\r\n"
        "<nobody@example.test>: host 127.0.0.1 said: 550 5.1.1 User unknown\r\n\r\n"
        "--B\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; example.test\r\n\r\n"
        "Final-Recipient: rfc822; nobody@example.test\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.test>: User unknown\r\n\r\n"
        "--B\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        "From: Support Desk <support@example.test>\r\n"
        "To: nobody@example.test\r\n"
        f"Subject: Re: Refund please {tag}\r\n"
        f"Message-ID: {returned_msgid}\r\n"
        "Auto-Submitted: auto-replied\r\n\r\n"
        "--B--\r\n"
    ).encode()


@pytest.mark.timeout(420)
def test_unknown_sender_and_bounce_storm_get_no_reply(stack: RunningStack) -> None:
    env = stack.env
    tag = "S3-bounce"
    nobody = "nobody@example.test"
    first = "<s3-first@example.test>"
    send(
        env,
        person_mail(
            f"Nobody <{nobody}>", "support@example.test", f"Refund please {tag}", first, "Hi."
        ),
    )

    def attempted() -> bool:
        return bool(
            replier_events(env, "auto-reply failed permanently", nobody)
            or replier_events(env, "auto-reply sent", nobody)
        )

    took = settle(env, lambda: bool(items_tagged(stack, tag)) and attempted(), "auto-reply attempt")
    (item,) = items_tagged(stack, tag)
    failed = replier_events(env, "auto-reply failed permanently", nobody)
    sent = replier_events(env, "auto-reply sent", nobody)
    assert len(failed) + len(sent) == 1, (failed, sent)
    returned = sent[0]["message_id"] if sent else first
    path = "550 at RCPT (reply.failed)" if failed else "accepted, then a DSN"
    print(f"S3a quiet after {took:.1f} s: one attempt, {path}: {(failed or sent)[0]}")
    before = [(m["direction"], m["kind"]) for m in thread(stack, item["id"])]
    if failed:
        assert "550" in str(failed[0].get("error")), failed[0]
        assert before == [("in", "normal")]
    else:  # Postfix accepted it and sent a DSN back to support: threaded as a bounce
        assert before == [("in", "normal"), ("out", "auto_reply"), ("in", "bounce")]

    # 3b. a storm of DSNs (null return path) about the item's mail: all threaded, none answered
    storm = 5
    for n in range(storm):
        with smtplib.SMTP("127.0.0.1", env.smtp_port, timeout=10) as smtp:
            smtp.sendmail("", ["support@example.test"], dsn(returned, tag, n))
    took = settle(
        env, lambda: len(thread(stack, item["id"])) >= len(before) + storm, "the bounce storm"
    )
    after = [(m["direction"], m["kind"]) for m in thread(stack, item["id"])]
    assert after == before + [("in", "bounce")] * storm, after
    assert len(items_tagged(stack, tag)) == 1
    assert len(replier_events(env, "auto-reply failed permanently", nobody)) == len(failed)
    assert len(replier_events(env, "auto-reply sent", nobody)) == len(sent)
    daemon_replies = [
        e
        for e in log_events(env, "replier")
        if "daemon" in str(e.get("recipient", "")).lower() and e.get("event") == "auto-reply sent"
    ]
    assert daemon_replies == []
    assert tagged(mailbox(env, "support"), tag) == []
    assert tagged(mailbox(env, "outbound"), tag) == []
    print(f"S3b quiet after {took:.1f} s: {storm} DSNs threaded as bounce, 0 replies")


# --- 4. a mailing list and a no-reply sender -------------------------------------------------


@pytest.mark.timeout(420)
def test_list_and_noreply_mail_become_items_without_reply(stack: RunningStack) -> None:
    env = stack.env
    tag = "S4-list"
    outbound_before = len(mailbox(env, "outbound"))
    listed = person_mail(
        "Project News <news@lists.example.org>",
        "support@example.test",
        f"[news] Release 2.0 is out {tag}",
        "<s4-list@lists.example.org>",
        "Release notes inside.",
    )
    listed["List-Id"] = "Project news <news.lists.example.org>"
    listed["List-Unsubscribe"] = "<mailto:news-leave@lists.example.org>"
    listed["Precedence"] = "list"
    send(env, listed)
    send(
        env,
        person_mail(
            "Shop <noreply@example.org>",
            "support@example.test",
            f"Your order has shipped {tag}",
            "<s4-noreply@example.org>",
            "Your order 1234 has shipped.",
        ),
    )

    def decided() -> bool:
        events = log_events(env, "replier")
        return len(items_tagged(stack, tag)) >= 2 and all(
            any(
                e.get("event") == "auto-reply suppressed" and e.get("recipient") == who
                for e in events
            )
            for who in ("news@lists.example.org", "noreply@example.org")
        )

    took = settle(env, decided, "list + noreply mail")
    items = {i["title"]: i for i in items_tagged(stack, tag)}
    assert len(items) == 2, items
    (news,) = [i for t, i in items.items() if "Release" in t]
    (shop,) = [i for t, i in items.items() if "shipped" in t]
    assert [(m["direction"], m["kind"]) for m in thread(stack, news["id"])] == [("in", "list")]
    assert [(m["direction"], m["kind"]) for m in thread(stack, shop["id"])] == [("in", "normal")]
    for who in ("news@lists.example.org", "noreply@example.org"):
        assert replier_events(env, "auto-reply sent", who) == []
        # one decision per mail (a duplicated item event may log it twice: see scenario 5)
        decisions = {e["mail_key"] for e in replier_events(env, "auto-reply suppressed", who)}
        assert len(decisions) == 1, decisions
    assert len(mailbox(env, "outbound")) == outbound_before
    assert tagged(mailbox(env, "outbound"), tag) == []
    assert tagged(mailbox(env, "support"), tag) == []
    print(f"S4 quiet after {took:.1f} s: items 2 (list, normal), auto-replies 0, outbound +0")


# --- 5. mails converted at the same moment -----------------------------------------------------


@pytest.mark.timeout(420)
def test_simultaneous_mails_get_exactly_one_auto_reply_each(stack: RunningStack) -> None:
    """Mails that one poll fetches are converted concurrently; each still gets ONE auto-reply.

    (Found while writing scenario 4: two concurrent conversions each relay the whole outbox,
    so an item event can reach the replier twice, and its two handlers race on the ledger.)
    """
    env = stack.env
    tag = "S5-burst"
    senders = ("customer", "bob")
    per_sender = 3
    with smtplib.SMTP("127.0.0.1", env.smtp_port, timeout=10) as smtp:
        for n in range(per_sender):
            for who in senders:
                smtp.send_message(
                    person_mail(
                        f"{who.title()} <{who}@example.test>",
                        "support@example.test",
                        f"Question {n} from {who} {tag}",
                        f"<s5-{who}-{n}@example.test>",
                        "Hello?",
                    )
                )

    def arrived() -> bool:
        return all(len(tagged(mailbox(env, who), tag)) >= per_sender for who in senders)

    took = settle(env, arrived, "one auto-reply per mail")
    items = items_tagged(stack, tag)
    assert len(items) == per_sender * len(senders)
    observed = {who: len(tagged(mailbox(env, who), tag)) for who in senders}
    tokens = {
        who: sorted(str(m["Subject"]).split("]")[0] for m in tagged(mailbox(env, who), tag))
        for who in senders
    }
    print(f"S5 quiet after {took:.1f} s: auto-replies per INBOX {observed}; tokens {tokens}")
    assert observed == dict.fromkeys(senders, per_sender), tokens
    for item in items:
        kinds = [(m["direction"], m["kind"]) for m in thread(stack, item["id"])]
        assert kinds == [("in", "normal"), ("out", "auto_reply")], (item["token"], kinds)


# --- 6. mail over the account's size limit -----------------------------------------------------

DEMO_ACCOUNT_ID = "acc_demo_support"  # what `postroom seed-demo` (run.sh) creates


async def _set_size_limit(env: StackEnv, limit: int) -> None:
    store = await open_store(f"sqlite:///{env.state_dir / 'data' / 'postroom.db'}")
    try:
        account = await store.get_account(DEMO_ACCOUNT_ID)
        assert account is not None
        await store.put_account(account.model_copy(update={"max_mail_bytes": limit}))
    finally:
        await store.close()
    await announce_config(env.amqp_url, "account", DEMO_ACCOUNT_ID)


def big_mail(sender: str, subject: str, msgid: str, size: int) -> EmailMessage:
    msg = person_mail(sender, "support@example.test", subject, msgid, "Scans attached.")
    blob = b"\x00" * size
    msg.add_attachment(blob, maintype="application", subtype="octet-stream", filename="scan.bin")
    return msg


@pytest.mark.timeout(420)
def test_too_large_mail_tells_its_sender_once(stack: RunningStack) -> None:
    env = stack.env
    tag = "S6-large"
    asyncio.run(_set_size_limit(env, 100_000))
    time.sleep(3)  # the fetcher re-reads accounts every 2 s (POSTROOM_ACCOUNTS_REFRESH_S)
    vacations_before = _vacations_sent(env)
    outbound_before = len(mailbox(env, "outbound"))

    def notices(recipient: str, event: str = "sent") -> list[dict[str, Any]]:
        return replier_events(env, f"too-large notice {event}", recipient)

    try:
        # 6a. the customer sends 300 KB: quarantined with its headers, the customer told once
        send(
            env, big_mail("Casey <customer@example.test>", f"Scans {tag}", "<s6-a@x.test>", 300_000)
        )
        took = settle(env, lambda: len(tagged(mailbox(env, "customer"), tag)) >= 1, "notice")
        [notice] = tagged(mailbox(env, "customer"), tag)
        assert str(notice["Subject"]) == f"Not processed (too large): Scans {tag}"
        assert notice["Auto-Submitted"] == "auto-replied"
        assert notice["X-Auto-Response-Suppress"] == "All"
        assert notice["X-Postroom-Loop"]
        body = notice.get_body(("plain",))
        assert body is not None and "exceeds the limit of 0.1 MB" in str(body.get_content())
        assert items_tagged(stack, tag) == []  # not imported
        # handled, yet left in the mailbox: only its headers were kept, it is the one copy
        assert len(tagged(mailbox(env, "support"), tag)) == 1
        assert len(notices("customer@example.test")) == 1
        assert _vacations_sent(env) == vacations_before  # RFC 5230: never answers auto-replied
        print(
            f"S6a quiet after {took:.1f} s: customer INBOX 1 notice, items 0, support mailbox"
            " keeps the mail 1, vacations +0"
        )

        # 6b. a large bounce quoting it (from the daemon) and the same mail sent again
        bounce = big_mail(
            "Mail Delivery System <MAILER-DAEMON@example.test>",
            f"Undelivered Mail Returned to Sender {tag}",
            "<s6-b@x.test>",
            300_000,
        )
        send(env, bounce)
        send(
            env, big_mail("Casey <customer@example.test>", f"Scans {tag}", "<s6-c@x.test>", 300_000)
        )

        def decided() -> bool:
            daemon = notices("mailer-daemon@example.test", "suppressed")
            again = notices("customer@example.test", "suppressed")
            return bool(daemon) and bool(again)

        took = settle(env, decided, "bounce + resend decided")
        assert len(tagged(mailbox(env, "customer"), tag)) == 1  # still the one notice
        assert notices("mailer-daemon@example.test") == []
        [daemon] = notices("mailer-daemon@example.test", "suppressed")
        [again] = notices("customer@example.test", "suppressed")
        assert "daemon" in daemon["why"] and "identical" in again["why"]
        assert len(notices("customer@example.test")) == 1
        assert len(mailbox(env, "outbound")) == outbound_before
        assert items_tagged(stack, tag) == []
        assert len(tagged(mailbox(env, "support"), tag)) == 3  # all three stay, untouched
        assert _vacations_sent(env) == vacations_before
        print(
            f"S6b quiet after {took:.1f} s: customer INBOX still 1 notice (resend: identical,"
            " suppressed), daemon bounce: 0 notices, support mailbox keeps all 3, outbound +0,"
            " vacations +0"
        )
    finally:
        asyncio.run(_set_size_limit(env, 25 * 1024 * 1024))


# --- 7. an auto-responder with fresh subjects and no threading headers --------------------------


class FreshSubjectResponder:
    """A customer's badly made auto-responder (a mail rule, a helpdesk of theirs): it answers
    every mail from support with a new subject, no In-Reply-To/References and no
    Auto-Submitted or other automatic-mail header, so nothing threads it and no header gives
    it away. It runs until stopped (at most `most` answers, a safety net for the test)."""

    def __init__(self, env: StackEnv, user: str, tag: str, body: str, most: int = 40) -> None:
        self.env, self.user, self.tag, self.body, self.most = env, user, tag, body, most
        self.answered: list[str] = []  # Message-IDs of the mails it answered
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "FreshSubjectResponder":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(0.3) and len(self.answered) < self.most:
            for mail in mailbox(self.env, self.user):
                message_id = str(mail.get("Message-ID", ""))
                from_support = "support@example.test" in str(mail.get("From", "")).lower()
                if from_support and message_id not in self.answered:
                    self.answered.append(message_id)
                    n = len(self.answered)
                    send(
                        self.env,
                        person_mail(
                            f"{self.user.title()} <{self.user}@example.test>",
                            "support@example.test",
                            f"Your message has reached us {self.tag} #{n}",
                            f"<{self.tag}-answer-{n}@example.test>",
                            self.body,
                        ),
                    )


def _replier_metric(env: StackEnv, why: str) -> float:
    port = env.api_port + 1023  # run.sh: the services' metrics ports follow the API port
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    name = f'postroom_replies_suppressed_total{{reason="auto_reply",why="{why}"}}'
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


def _duel(
    stack: RunningStack, user: str, tag: str, body: str, over: Callable[[], bool]
) -> FreshSubjectResponder:
    """The customer writes once, by hand; their auto-responder then answers whatever comes from
    support. Returns the responder once `over()` holds and the system has been quiet since
    (every count is final)."""
    env = stack.env
    address = f"{user}@example.test"
    with FreshSubjectResponder(env, user, tag, body) as responder:
        send(
            env,
            person_mail(
                f"{user.title()} <{address}>",
                "support@example.test",
                f"Invoice 4711 is wrong {tag}",
                f"<{tag}-first@example.test>",
                "The amount on invoice 4711 is wrong, please correct it.",
            ),
        )
        took = settle(env, lambda: bool(responder.answered) and over(), f"duel {tag}")
    print(f"{tag} quiet after {took:.1f} s: responder answered {len(responder.answered)}")
    return responder


@pytest.mark.timeout(420)
def test_fresh_subject_auto_responder_recognised_by_its_text(stack: RunningStack) -> None:
    """7a: its answer says "This is an automatic answer": no item, no auto-reply to it."""
    env = stack.env
    tag = "S7a-ooo"

    def ignored() -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = stack.get("/v1/log", params={"limit": 200}).json()
        return [e for e in entries if e["action"] == "ignored" and "out_of_office" in e["reason"]]

    body = "I am out of the office. This is an automatic answer."
    responder = _duel(stack, "dave", tag, body, lambda: bool(ignored()))
    sent = replier_events(env, "auto-reply sent", "dave@example.test")
    inbox = tagged(mailbox(env, "dave"), "Invoice 4711")
    items = items_tagged(stack, tag)
    print(
        f"S7a: Postroom auto-replies {len(sent)}, responder answers {len(responder.answered)},"
        f" items {len(items)}, answers ignored as out_of_office {len(ignored())}"
    )
    assert len(sent) == 1 and len(inbox) == 1  # the one auto-reply to the person's mail
    assert len(responder.answered) == 1
    assert [i["title"] for i in items] == [f"Invoice 4711 is wrong {tag}"]
    [why] = ignored()
    assert "automatic-answer text" in why["reason"], why
    assert tagged(mailbox(env, "support"), tag) == []


@pytest.mark.timeout(420)
def test_fresh_subject_auto_responder_is_stopped_by_the_loop_breaker(stack: RunningStack) -> None:
    """7b: its answer reads like a person's: each opens an item; after three answered new items
    within ten minutes the loop breaker silences Postroom towards it (then the duel is over)."""
    env = stack.env
    tag = "S7b-duel"
    before = _replier_metric(env, "loop_breaker")

    def held() -> list[dict[str, Any]]:
        return [
            e
            for e in replier_events(env, "auto-reply suppressed", "erin@example.test")
            if str(e.get("why", "")).startswith("loop_breaker:")
        ]

    body = "Thank you for your message. We will get back to you shortly."
    responder = _duel(stack, "erin", tag, body, lambda: bool(held()))
    sent = replier_events(env, "auto-reply sent", "erin@example.test")
    items = items_tagged(stack, tag)
    state = stack.get("/v1/accounts/acc_demo_support/state").json()
    breakers = [b for b in state["loop_breakers"] if b["recipient"] == "erin@example.test"]
    counted = _replier_metric(env, "loop_breaker") - before
    print(
        f"S7b: Postroom auto-replies {len(sent)}, responder answers {len(responder.answered)},"
        f" items {len(items)}, suppressed by the loop breaker {len(held())}"
        f" (metric +{counted:g}), account state breakers {breakers}"
    )
    assert len(sent) == 3  # the person's mail and the responder's first two answers
    assert len(mailbox(env, "erin")) == 3
    assert len(responder.answered) == 3
    assert len(items) == 4  # the person's mail + three answers, each a new item
    [stop] = held()
    assert "got auto-replies to 3 new items" in stop["why"], stop
    assert counted == 1
    assert len(breakers) == 1 and breakers[0]["items"] == 3
