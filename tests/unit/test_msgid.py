"""Signed Message-IDs: ours verify, forgeries and other secrets do not."""

from postroom_shared.mail.msgid import MessageIdSigner

KEY = "k" * 40


def test_made_ids_verify_to_their_item() -> None:
    signer = MessageIdSigner(KEY, "example.test")
    mid = signer.make("it_abc123", "n0nce")
    assert mid.startswith("<pr.it_abc123.n0nce.") and mid.endswith("@example.test>")
    assert signer.verify(mid) == "it_abc123"
    assert signer.verify(mid.strip("<>")) == "it_abc123"


def test_domain_override_does_not_change_validity() -> None:
    signer = MessageIdSigner(KEY, "a.test")
    assert signer.verify(signer.make("it_1", "x", domain="b.test")) == "it_1"


def test_forged_or_foreign_ids_are_rejected() -> None:
    signer = MessageIdSigner(KEY, "example.test")
    other = MessageIdSigner("z" * 40, "example.test")
    mid = other.make("it_1", "abc")
    assert signer.verify(mid) is None
    tampered = signer.make("it_1", "abc").replace("it_1", "it_2")
    assert signer.verify(tampered) is None
    assert signer.verify("<CAB123@mail.gmail.com>") is None
    assert signer.verify("") is None


def test_the_checking_signer_verifies_what_the_sending_one_makes() -> None:
    sending = MessageIdSigner(KEY, "example.test")
    checking = MessageIdSigner.checking(KEY)
    assert checking.verify(sending.make("it_7", "n1")) == "it_7"
    assert checking == MessageIdSigner(KEY, "")  # one analyser pool per secret
    assert MessageIdSigner.checking("z" * 40).verify(sending.make("it_7", "n1")) is None
