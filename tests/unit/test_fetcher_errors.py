"""Error classification on the words real servers send (Gmail, Outlook, Dovecot, Yahoo)."""

import pytest

from postroom_fetcher.domain.errors import (
    TWO_FACTOR_HINT,
    MailboxError,
    classify_response,
    mailbox_error,
)
from postroom_shared.errors import PermanentError, TransientError


@pytest.mark.parametrize(
    ("text", "kind", "permanent", "hinted"),
    [
        # Gmail IMAP, account with 2-step verification and the normal password
        (
            "[ALERT] Application-specific password required:"
            " https://support.google.com/accounts/answer/185833 (Failure)",
            "auth",
            True,
            True,
        ),
        # Gmail POP3, same situation
        (
            "-ERR [AUTH] Application-specific password required:"
            " https://support.google.com/accounts/answer/185833",
            "auth",
            True,
            True,
        ),
        (
            "[ALERT] Please log in via your web browser:"
            " https://support.google.com/mail/accounts/answer/78754 (Failure)",
            "auth",
            True,
            True,
        ),
        ("[AUTHENTICATIONFAILED] Invalid credentials (Failure)", "auth", True, False),
        ("-ERR [AUTH] Username and password not accepted.", "auth", True, False),
        # Dovecot
        ("[AUTHENTICATIONFAILED] Authentication failed.", "auth", True, False),
        ("-ERR [AUTH] Authentication failed.", "auth", True, False),
        (
            "[UNAVAILABLE] Temporary authentication failure. [mail.example:2026-11-24]",
            "network",
            False,
            False,
        ),
        ("select failed: Mailbox doesn't exist: Tickets", "folder", True, False),
        ("[NONEXISTENT] Mailbox doesn't exist: Tickets", "folder", True, False),
        ("-ERR [IN-USE] Couldn't open INBOX: Mailbox is locked", "network", False, False),
        (
            "[PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure"
            " (SSL/TLS) connections.",
            "tls",
            True,
            False,
        ),
        (
            "Maximum number of connections from user+IP exceeded (mail_max_userip_connections=10)",
            "rate_limited",
            False,
            False,
        ),
        # Microsoft 365
        ("AUTHENTICATE failed.", "auth", True, False),
        ("LOGIN failed.", "auth", True, False),
        ("User is authenticated but not connected.", "auth", True, False),
        # Gmail limits
        ("[THROTTLED] System busy, try again later", "rate_limited", False, False),
        (
            "[LIMIT] Account exceeded command or bandwidth limits. (Failure)",
            "rate_limited",
            False,
            False,
        ),
        ("[ALERT] Too many simultaneous connections. (Failure)", "rate_limited", False, False),
        # Yahoo
        ("[AUTHENTICATIONFAILED] LOGIN Invalid credentials", "auth", True, False),
        # OAuth token endpoints (refresh failed)
        (
            "invalid_grant: AADSTS70008: The provided authorization code or refresh token"
            " has expired",
            "consent_revoked",
            True,
            False,
        ),
        ("something nobody has seen before", "protocol", False, False),
        # Dovecot's BYE texts: a server-side failure vs. the connection going away
        (
            "FETCH failed: Internal error occurred. Refer to server log for more information.",
            "protocol",
            False,
            False,
        ),
        ("[SERVERBUG] Internal error occurred.", "protocol", False, False),
        ("Server shutting down.", "network", False, False),
        ("Disconnected for inactivity.", "network", False, False),
        ("Kicked by admin", "network", False, False),
    ],
)
def test_classify_real_server_strings(text: str, kind: str, permanent: bool, hinted: bool) -> None:
    found = classify_response(text)
    assert (found.kind, found.permanent) == (kind, permanent)
    assert (found.hint == TWO_FACTOR_HINT) is hinted


def test_errors_stay_in_the_shared_tree() -> None:
    permanent = mailbox_error("wrong password", kind="auth", permanent=True)
    transient = mailbox_error("down", kind="network", permanent=False)
    assert isinstance(permanent, MailboxError) and isinstance(permanent, PermanentError)
    assert isinstance(transient, MailboxError) and isinstance(transient, TransientError)
    assert permanent.kind == "auth" and not transient.permanent
    assert "app password" in TWO_FACTOR_HINT
