"""The bytes of the mail the replier sends, written directly (RFC 5322, RFC 2045-2047, 2231).

`email.message.EmailMessage` under `email.policy.default` parses every header it is given into
a token tree and folds it again when the message is flattened: about a third of the replier's
CPU per auto-reply went there (py-spy during `make bench-e2e`), for the dozen headers Postroom
writes itself. Here each header is written once, in its final form:

- control characters (CR and LF above all) in any value become a space before anything else
  (`clean_header_value`), so no input can end a header and start another;
- printable ASCII is folded at spaces into lines of at most 78 characters;
- anything else in unstructured text and display names (non-ASCII, text that looks like an
  encoded word, a word too long to fold) becomes RFC 2047 encoded words (UTF-8, base64), split
  between characters, never inside one;
- message ids that are not printable ASCII without spaces are left out of In-Reply-To and
  References (an encoded word there is no message id to any reader);
- bodies are 7-bit clean (7bit, quoted-printable or base64, whichever is shorter), so no
  server needs 8BITMIME; only a non-ASCII address makes a mail need SMTPUTF8.
"""

import base64
import binascii
import re
import secrets
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from postroom_shared.mail.headers import clean_header_value

__all__ = [
    "OutboundMail",
    "Part",
    "address_header",
    "attachment_part",
    "header",
    "ids_header",
    "message_bytes",
    "multipart",
    "text_part",
]

_LINE = 78  # RFC 5322's recommended line length (998 is the limit)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+")
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~]+")  # RFC 2045 token: MIME types
_MSG_ID = re.compile(r"[\x21-\x7e]{1,900}")
_WORDS = re.compile(r" *[^ ]+")
_LONGEST_WORD = 900  # a word longer than this cannot be folded: encoded words instead
_EW_OVERHEAD = len("=?utf-8?b??=")
_EW_MAX = 75  # RFC 2047: an encoded word is at most 75 characters long


@dataclass(frozen=True)
class Part:
    """One MIME entity: its header lines (folded, no CRLF at the end) and its body, which ends
    with CRLF."""

    headers: tuple[str, ...]
    body: bytes

    def as_bytes(self) -> bytes:
        # UTF-8 only where an address is not ASCII (RFC 6532: the mail then needs SMTPUTF8)
        return "\r\n".join([*self.headers, "", ""]).encode("utf-8") + self.body


@dataclass(frozen=True)
class OutboundMail:
    """A mail ready for SMTP: the envelope (`sender`, `recipient`), what the limits look at
    (`subject` as readers decode it, `body`: the text and HTML as readers decode them, for the
    identical-reply fingerprint) and the message itself (`data`, CRLF line ends)."""

    sender: str
    recipient: str
    subject: str
    body: str
    data: bytes
    utf8: bool = False  # an address is not ASCII: only for a server that offers SMTPUTF8


def _clean(value: str) -> str:
    return clean_header_value(value, max_length=len(value))


def _fold(name: str, tokens: Iterable[str]) -> str:
    """`name:` then `tokens` (each starting with its whitespace), a line break before a token
    that would pass the line length; unfolding (dropping each CRLF) gives the text back."""
    lines = [f"{name}:"]
    for index, token in enumerate(tokens):
        if index and len(lines[-1]) + len(token) > _LINE:
            lines.append(token)
        else:
            lines[-1] += token
    return "\r\n".join(lines)


def _encoded_words(text: str, room: int) -> list[str]:
    """`text` as encoded words of at most 75 characters, each with a space before it, the first
    at most `room` long with its space. Adjacent encoded words read as one text (RFC 2047 6.2:
    the whitespace between them is no part of it), so `text` is split between characters."""
    chunks: list[bytes] = []
    chunk, limit = b"", _ew_bytes(min(room - 1, _EW_MAX))
    for char in text:
        data = char.encode("utf-8", "replace")
        if chunk and len(chunk) + len(data) > limit:
            chunks.append(chunk)
            chunk, limit = b"", _ew_bytes(_EW_MAX)
        chunk += data
    chunks.append(chunk)
    return [f" =?utf-8?b?{base64.b64encode(c).decode('ascii')}?=" for c in chunks]


def _ew_bytes(length: int) -> int:
    """How many bytes an encoded word of `length` characters carries in base64."""
    return max(length - _EW_OVERHEAD, 4) // 4 * 3


def _plain(value: str) -> bool:
    """Printable ASCII in foldable words that no reader takes for an encoded word."""
    return (
        _PRINTABLE.fullmatch(value) is not None
        and "=?" not in value
        and value == value.strip()
        and all(len(word) <= _LONGEST_WORD for word in value.split(" "))
    )


def header(name: str, value: str) -> str:
    """An unstructured header (Subject, X-Postroom-Loop, ...), folded, without its CRLF."""
    value = _clean(value)
    if _plain(value):
        words = _WORDS.findall(value)
        return _fold(name, [f" {words[0]}", *words[1:]] if words else [])
    return _fold(name, _encoded_words(value, _LINE - len(name) - 1))


def _address(address: str) -> str:
    if not address or _CONTROL.search(address) or any(c in address for c in " <>"):
        raise ValueError(f"not a mail address: {address!r}")
    return address


def address_header(name: str, address: str, display_name: str = "") -> str:
    """`From: Name <address>` (or only the address): the name as atoms, as one quoted string
    when it needs quoting and fits a line, else as encoded words. ValueError for an address
    that is none."""
    shown, address = _clean(display_name).strip(), _address(address)
    if not shown:
        return f"{name}: {address}"
    if _plain(shown) and all(_ATOM.fullmatch(word) for word in shown.split(" ")):
        return _fold(name, [*(f" {word}" for word in shown.split(" ")), f" <{address}>"])
    quoted = '"{}" <{}>'.format(shown.replace("\\", "\\\\").replace('"', '\\"'), address)
    if _PRINTABLE.fullmatch(shown) and "=?" not in shown and len(name) + 2 + len(quoted) <= _LINE:
        return f"{name}: {quoted}"
    return _fold(name, [*_encoded_words(shown, _LINE - len(name) - 1), f" <{address}>"])


def ids_header(name: str, ids: Sequence[str]) -> str | None:
    """Message-ID, In-Reply-To or References: the ids that are printable ASCII without spaces,
    folded between ids; None when none is."""
    kept = [mid for mid in ids if _MSG_ID.fullmatch(mid)]
    return _fold(name, (f" {mid}" for mid in kept)) if kept else None


def _lines(text: str) -> list[bytes]:
    # as email's content manager splits text: \r\n, \r and \n end a line, nothing else
    return text.encode("utf-8", "replace").splitlines()


def text_part(subtype: str, text: str) -> tuple[Part, str]:
    """A text/`subtype` part in UTF-8, and its text as a reader decodes it (every line ending
    a \\n, one at the end)."""
    lines = _lines(text)
    decoded, canonical = b"\n".join(lines) + b"\n", b"\r\n".join(lines) + b"\r\n"
    if all(len(line) <= _LINE and line.isascii() for line in lines):
        cte, body = "7bit", canonical
    else:
        quoted = binascii.b2a_qp(decoded, istext=True).replace(b"\n", b"\r\n")
        # RFC 2045: text is base64-encoded in its canonical form, CRLF line ends
        encoded = base64.encodebytes(canonical).replace(b"\n", b"\r\n")
        cte, body = (
            ("base64", encoded) if len(encoded) < len(quoted) else ("quoted-printable", quoted)
        )
    part = Part(
        (
            f'Content-Type: text/{subtype}; charset="utf-8"',
            f"Content-Transfer-Encoding: {cte}",
        ),
        body,
    )
    return part, decoded.decode("utf-8")


def multipart(subtype: str, parts: Sequence[Part]) -> Part:
    """A multipart/`subtype` of `parts`, with a boundary none of them contains."""
    inner = [part.as_bytes() for part in parts]
    boundary = f"=_pr_{secrets.token_hex(16)}"
    while any(boundary.encode("ascii") in data for data in inner):  # practically never
        boundary = f"=_pr_{secrets.token_hex(16)}"
    mark = f"--{boundary}".encode("ascii")
    body = b"".join(mark + b"\r\n" + data + b"\r\n" for data in inner) + mark + b"--\r\n"
    return Part((f'Content-Type: multipart/{subtype};\r\n boundary="{boundary}"',), body)


def _disposition(filename: str) -> str:
    room = _LINE - len('Content-Disposition: attachment; filename=""')
    if _plain(filename) and not any(c in filename for c in '"\\<>') and len(filename) <= room:
        return f'Content-Disposition: attachment; filename="{filename}"'
    # RFC 2231: percent-encoded UTF-8 in continuations, each on a line of its own
    encoded = "utf-8''" + urllib.parse.quote(filename, safe="")
    pieces, rest = [], encoded
    while rest:
        cut = min(len(rest), 60)
        while cut < len(rest) and "%" in rest[cut - 2 : cut]:  # never split a %XX
            cut -= 1
        pieces.append(rest[:cut])
        rest = rest[cut:]
    params = [f" filename*{n}*={piece}" for n, piece in enumerate(pieces)]
    return "Content-Disposition: attachment;\r\n" + ";\r\n".join(params)


def attachment_part(filename: str, content_type: str, data: bytes) -> Part:
    """A file, base64; a content type that is not `type/subtype` of tokens, or that would make
    the part a container (multipart, message), is sent as application/octet-stream."""
    maintype, _, subtype = content_type.partition("/")
    if not (_TOKEN.fullmatch(maintype) and _TOKEN.fullmatch(subtype)) or maintype.lower() in (
        "multipart",
        "message",
    ):
        maintype, subtype = "application", "octet-stream"
    return Part(
        (
            f"Content-Type: {maintype}/{subtype}",
            "Content-Transfer-Encoding: base64",
            _disposition(_clean(filename)),
        ),
        base64.encodebytes(data).replace(b"\n", b"\r\n"),
    )


def message_bytes(headers: Iterable[str | None], content: Part) -> bytes:
    """The whole message: `headers` (None: left out), MIME-Version, then `content`."""
    lines = [line for line in headers if line is not None]
    return Part((*lines, "MIME-Version: 1.0", *content.headers), content.body).as_bytes()
