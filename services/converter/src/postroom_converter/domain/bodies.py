"""A mail's readable body (text and HTML) and its attachments, from the leaves of its tree.

Why a module of its own: the body of real mail is not one part. Apple Mail sends text, an
image, more text as siblings in a multipart/mixed, or puts html, image, html on the HTML side
of a multipart/alternative; forwarding gateways append a text part after an HTML one. Mail
clients show all of it, in order; so does Postroom (docs/decisions.md, "Parsing fidelity"):
- each multipart/alternative (the outermost one) is one piece of the body: its text is the
  text/plain leaves of the first alternative that has any, its HTML the text/html leaves of
  the first alternative that has any;
- every other text/plain or text/html leaf is a piece of its own;
- the description is the pieces in order, an HTML-only piece rendered as text; the HTML view
  is the pieces in order, a text-only piece escaped, when any piece has HTML.
"""

import html as stdlib_html
from dataclasses import dataclass, field
from email.message import Message

from postroom_converter.domain.attachments import Attachment, attachments_of, is_attachment
from postroom_converter.domain.bigparts import Hollowed
from postroom_converter.domain.html import html_to_text
from postroom_converter.domain.mime_tree import Branch, decoded_body, leaves

__all__ = ["Contents", "contents_of"]


@dataclass
class _Piece:
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    text_branch: int | None = None
    html_branch: int | None = None

    def add(self, kind: str, body: str, branch: Branch | None) -> None:
        index = branch[1] if branch else 0
        if kind == "text" and self.text_branch in (None, index):
            self.text_branch = index
            self.texts.append(body)
        elif kind == "html" and self.html_branch in (None, index):
            self.html_branch = index
            self.htmls.append(body)

    def text(self) -> str:
        plain = "\n\n".join(t.strip() for t in self.texts if t.strip())
        return plain or (html_to_text("\n".join(self.htmls)) if self.htmls else "")

    def html(self) -> str:
        if self.htmls:
            return "\n".join(self.htmls)
        plain = "\n\n".join(t.strip() for t in self.texts if t.strip())
        return f"<pre>{stdlib_html.escape(plain)}</pre>"


@dataclass(frozen=True)
class Contents:
    text: str
    source_html: str  # not yet sanitised; '' when no piece has HTML
    attachments: list[Attachment]


def contents_of(
    msg: Message, defects: list[str], hollowed: Hollowed, raw: bytes, hints: tuple[str, ...]
) -> Contents:
    pieces: list[_Piece] = []
    by_group: dict[int, _Piece] = {}
    attachments: list[Attachment] = []
    for part, branch in leaves(msg):
        ctype = part.get_content_type()
        if ctype.startswith("multipart/"):  # no usable boundary: the email package kept text
            ctype = "text/plain"
        try:
            if is_attachment(part):
                big = hollowed.data_for(part.get_payload(), raw) if hollowed.spans else None
                attachments.extend(attachments_of(part, defects, data=big, hints=hints))
            elif ctype in ("text/plain", "text/html"):
                if branch is None:
                    piece = _Piece()
                    pieces.append(piece)
                elif branch[0] not in by_group:
                    piece = by_group[branch[0]] = _Piece()
                    pieces.append(piece)
                else:
                    piece = by_group[branch[0]]
                kind = "text" if ctype == "text/plain" else "html"
                piece.add(kind, decoded_body(part, defects), branch)
        except Exception as exc:  # last resort: one undecodable part must not cost the mail
            defects.append(f"{ctype} part skipped: {type(exc).__name__}: {str(exc)[:100]}")
    text = "\n\n".join(t for t in (p.text() for p in pieces) if t)
    has_html = any(p.htmls for p in pieces)
    source_html = "\n".join(p.html() for p in pieces if p.htmls or p.texts) if has_html else ""
    return Contents(text=text, source_html=source_html, attachments=attachments)
