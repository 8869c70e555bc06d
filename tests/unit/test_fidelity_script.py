"""`make fidelity` (bench/fidelity.py) on a small corpus made here: it never needs ../shared."""

from pathlib import Path

import pytest

from bench import fidelity
from bench.fidelity_reference import normalise_text, reference_fields

MAIL = Path(__file__).parent.parent / "fixtures" / "mail"
PLAIN = b"From: Ann <ann@example.test>\r\nSubject: Hello\r\n\r\nThe printer is on fire.\r\n"
COMMENT = b"From: ann@example.test (Ann Example)\r\nSubject: Hi\r\n\r\nBody.\r\n"


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "plain.eml").write_bytes(PLAIN)
    (corpus / "sub" / "comment.eml").write_bytes(COMMENT)
    (corpus / "README.md").write_text("not a mail")
    return corpus


def test_agreeing_corpus_passes_and_prints_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = _corpus(tmp_path)
    (corpus / "sub" / "comment.eml").unlink()
    assert fidelity.run(corpus, {}, show_all=False) == 0
    out = capsys.readouterr().out
    assert "1 mails compared" in out
    assert "subject          1/1 agree (100.0%)" in out
    assert "0 unexplained, 0 reviewed" in out


def test_disagreement_is_listed_until_reviewed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = _corpus(tmp_path)
    assert fidelity.run(corpus, {}, show_all=False) == 1
    out = capsys.readouterr().out
    assert "- sub/comment.eml [name]" in out
    assert "postroom : 'Ann Example'" in out and "reference: ''" in out
    reviewed = {("sub/comment.eml", "name"): "comment names"}
    assert fidelity.run(corpus, reviewed, show_all=False) == 0
    assert "0 unexplained, 1 reviewed" in capsys.readouterr().out


def test_stale_reviewed_entry_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _corpus(tmp_path)
    reviewed = {("sub/comment.eml", "name"): "x", ("plain.eml", "subject"): "y"}
    assert fidelity.run(corpus, reviewed, show_all=False) == 1
    assert "no longer disagrees (remove it): plain.eml [subject]" in capsys.readouterr().out


def test_reviewed_list_file_is_read(tmp_path: Path) -> None:
    listed = tmp_path / "reviewed.toml"
    listed.write_text('[[reviewed]]\nfile = "a.eml"\nfield = "body"\nwhy = "because"\n')
    assert fidelity.load_reviewed(listed) == {("a.eml", "body"): "because"}
    assert fidelity.load_reviewed(fidelity.REVIEWED)  # the committed list parses


def test_no_corpus_says_so_and_compares_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POSTROOM_FIDELITY_CORPUS", raising=False)
    monkeypatch.setattr(fidelity, "DEFAULT_CORPUS", tmp_path / "missing")
    assert fidelity.main([]) == 0
    assert "no corpus" in capsys.readouterr().out
    assert fidelity.main([str(tmp_path / "missing")]) == 2
    monkeypatch.setenv("POSTROOM_FIDELITY_CORPUS", str(_corpus(tmp_path)))
    assert fidelity.main([]) == 1  # the comment name is unreviewed there


def test_comparison_rules() -> None:
    # body: the reference's one part within Postroom's merged parts, as words
    assert fidelity.agrees("body", "Intro\n\n- Printer: on fire!", "printer on FIRE")
    assert not fidelity.agrees("body", "Intro", "printer")
    # where the reference shows U+FFFD, only ASCII words compare
    assert fidelity.agrees("body", "Grüße aus Köln", "Gr\ufffd\ufffde aus K\ufffdln")
    # subject: equal up to Postroom's cap; attachments: each reference name among Postroom's
    assert fidelity.agrees("subject", "Hello ", "Hello")
    assert fidelity.agrees("attachments", "a.pdf | attachment.bin", "a.pdf")
    assert not fidelity.agrees("attachments", "a.pdf", "b.pdf")
    assert normalise_text("Re: A-B  c") == "re a b c"


def test_reference_reads_html_and_return_path() -> None:
    html = (
        b"Return-Path: <bounce@example.test>\r\nSubject: x\r\n"
        b"Content-Type: text/html\r\n\r\n<html><head><title>T</title></head>"
        b"<body><p>One</p><script>x()</script><p>Two &amp; three</p></body></html>\r\n"
    )
    fields = reference_fields(html)
    assert fields["sender"] == "bounce@example.test"
    assert normalise_text(fields["body"]) == "one two three"


def test_corpus_walk_skips_notes_and_licences() -> None:
    found = fidelity.mail_files(MAIL / "django-helpdesk")
    assert [p.name for p in found] == sorted(
        p.name for p in (MAIL / "django-helpdesk").glob("*.eml")
    )
