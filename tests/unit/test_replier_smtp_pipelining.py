"""The pure parts of pipelined SMTP: the message on the wire and its SIZE, and command lines
that an address cannot break."""

import pytest

from postroom_replier.adapters.smtp_pipelining import command_line, message_payload


def test_the_payload_has_crlf_line_ends_doubled_leading_dots_and_the_final_dot() -> None:
    payload, size = message_payload(b"Subject: x\n\n.hidden\r\nlone\rcr\n..two")
    assert payload == b"Subject: x\r\n\r\n..hidden\r\nlone\r\ncr\r\n...two\r\n.\r\n"
    assert size == len(b"Subject: x\r\n\r\n.hidden\r\nlone\r\ncr\r\n..two\r\n")


def test_a_message_already_on_crlf_keeps_its_bytes() -> None:
    data = b"Subject: x\r\n\r\nbody\r\n"
    assert message_payload(data) == (data + b".\r\n", len(data))


def test_command_lines_refuse_line_breaks_and_controls() -> None:
    assert command_line(b"RCPT", b"TO:<a@b.test>") == b"RCPT TO:<a@b.test>\r\n"
    for bad in (b"TO:<a@b.test>\r\nRCPT TO:<c@d.test>", b"TO:<a\x00@b.test>"):
        with pytest.raises(ValueError, match="control character"):
            command_line(b"RCPT", bad)
