"""Schemathesis hooks for test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

- Raw mail bodies (message/rfc822) are sent as the bytes schemathesis generates for binary
  strings, and half of the pushed bodies are shaped like a mail (generated header values and
  body), so the push route and the converter behind it see more than noise.
- OpenAPI links for the stateful phase: what one response names (an account, an item, a
  message, a quarantine entry, an API key, a pushed mail's key), the next request uses:
  create an account, then read, change, copy, activate, push to or delete it; list items, then
  read one and its raw mail and attachments, then change it, note on it, reply to it and set
  its notification list; list the quarantine, then show, reprocess or
  discard an entry; create an API key, then revoke it.
"""

from typing import Any

import schemathesis
from hypothesis import strategies as st

from tests.integration.deep_mail import too_deep_mail

schemathesis.serializer.alias("message/rfc822", "application/octet-stream")

PUSH = ("POST", "/v1/accounts/{account_id}/mail")

_ACCOUNT = "$response.body#/id"
_ACCOUNT_TARGETS = (
    ("get", "/v1/accounts/{account_id}"),
    ("put", "/v1/accounts/{account_id}"),
    ("patch", "/v1/accounts/{account_id}"),
    ("delete", "/v1/accounts/{account_id}"),
    ("post", "/v1/accounts/{account_id}/copy"),
    ("post", "/v1/accounts/{account_id}/activate"),
    ("post", "/v1/accounts/{account_id}/deactivate"),
    ("get", "/v1/accounts/{account_id}/state"),
    ("get", "/v1/accounts/{account_id}/folders"),
    ("get", "/v1/accounts/{account_id}/waiting"),
    ("post", "/v1/accounts/{account_id}/refresh"),
    ("post", "/v1/accounts/{account_id}/oauth/start"),
    ("post", "/v1/accounts/{account_id}/mail"),
)
_QUARANTINE_TARGETS = (
    ("get", "/v1/quarantine/{entry_id}"),
    ("get", "/v1/quarantine/{entry_id}/raw"),
    ("post", "/v1/quarantine/{entry_id}/reprocess"),
    ("delete", "/v1/quarantine/{entry_id}"),
)
_MESSAGE = "/v1/items/{item_id}/messages/{message_id}"
_ITEM_WORK = (
    ("patch", "/v1/items/{item_id}"),
    ("post", "/v1/items/{item_id}/notes"),
    ("post", "/v1/items/{item_id}/replies"),
    ("put", "/v1/items/{item_id}/notify"),
)
_PUSHED = {"mail_key": "$response.body#/mail_key"}

Link = tuple[str, str, str, str, str, dict[str, Any]]


def _links() -> list[Link]:
    """(source method, source path, status, target method, target path, parameters)."""
    links: list[Link] = []
    for source in ("/v1/accounts", "/v1/accounts/{account_id}/copy"):
        for method, path in _ACCOUNT_TARGETS:
            links.append(("post", source, "201", method, path, {"account_id": _ACCOUNT}))
    first_entry = {"entry_id": "$response.body#/entries/0/id"}
    for method, path in _QUARANTINE_TARGETS:
        links.append(("get", "/v1/quarantine", "200", method, path, first_entry))
    first_item = {"item_id": "$response.body#/items/0/id"}
    links.append(("get", "/v1/items", "200", "get", "/v1/items/{item_id}", first_item))
    message = {"item_id": "$request.path.item_id", "message_id": "$response.body#/thread/0/id"}
    links.append(("get", "/v1/items/{item_id}", "200", "get", f"{_MESSAGE}/raw", message))
    attachment = {**message, "index": 0}
    links.append(
        (
            "get",
            "/v1/items/{item_id}",
            "200",
            "get",
            f"{_MESSAGE}/attachments/{{index}}",
            attachment,
        )
    )
    # work the item just read: change it, note on it, reply, set its notification list
    this_item = {"item_id": "$request.path.item_id"}
    for method, path in _ITEM_WORK:
        links.append(("get", "/v1/items/{item_id}", "200", method, path, this_item))
    for path in ("/v1/log/raw", "/v1/log"):
        links.append(("post", PUSH[1], "202", "get", path, _PUSHED))
    revoke = {"key_id": "$response.body#/id"}
    links.append(("post", "/v1/api-keys", "201", "delete", "/v1/api-keys/{key_id}", revoke))
    return links


def _operation_id(raw_schema: dict[str, Any], method: str, path: str) -> str:
    operation_id: str = raw_schema["paths"][path][method]["operationId"]
    return operation_id


@schemathesis.hook
def before_load_schema(context: schemathesis.HookContext, raw_schema: dict[str, Any]) -> None:
    for source_method, source, status, method, path, parameters in _links():
        responses = raw_schema["paths"][source][source_method]["responses"]
        links = responses.setdefault(status, {"description": "OK"}).setdefault("links", {})
        target = _operation_id(raw_schema, method, path)
        name = f"{target}_{len(links)}"
        links[name] = {"operationId": target, "parameters": parameters}


_HEADER_TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=80
)


@st.composite
def _mail(draw: st.DrawFn) -> bytes:
    """A mail-shaped body: real header names, generated values and body bytes."""
    names = ("From", "To", "Subject", "Message-ID", "In-Reply-To", "Content-Type", "Date")
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    head = "".join(f"{name}: {draw(_HEADER_TEXT)}\r\n" for name in chosen)
    return head.encode("utf-8", "surrogatepass") + b"\r\n" + draw(st.binary(max_size=2000))


_NAME = st.uuids().map(lambda u: f"fuzz {u.hex[:12]}")  # account names must not clash (409)


@st.composite
def _account(draw: st.DrawFn) -> dict[str, Any]:
    """A valid account (push, or polled with a mailbox), so that links from POST /v1/accounts
    lead to a real account: random bodies are mostly refused by the provider rules (422)."""
    body: dict[str, Any] = {
        "name": draw(_NAME),
        "address": draw(st.sampled_from(["web@example.test", "desk@example.org"])),
        "project": draw(st.sampled_from(["Support", "Sales"])),
        "active": draw(st.booleans()),
    }
    if draw(st.booleans()):
        body["provider"] = "push"
    else:
        body["provider"] = "imap"
        body["active"] = False  # activation needs a mailbox that answers
        body["mailbox"] = {
            "host": "127.0.0.1",
            "port": 9,
            "security": "none",
            "username": body["address"],
            "password": "x",
        }
    return body


def _raw(body: object) -> bytes | None:
    """The bytes of a generated binary body (schemathesis wraps them as `Binary`)."""
    data = getattr(body, "data", body)
    return data if isinstance(data, bytes) else None


@schemathesis.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    operation = context.operation
    where = (operation.method.upper(), operation.path) if operation is not None else None
    if where == PUSH and _raw(body) is not None:
        return st.one_of(st.just(body), _mail(), _HEADER_TEXT.map(too_deep_mail))
    if where == ("POST", "/v1/accounts"):
        return st.one_of(st.just(body), _account())
    return st.just(body)
