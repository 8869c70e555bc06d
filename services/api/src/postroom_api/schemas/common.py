"""Bounded value types every request model is built from, and the input model base.

Every string a client sends has a length limit and, where it names something, a pattern, so
no input can make a route slow or crash. NUL characters and lone UTF-16 surrogates (JSON allows
`"\\ud800"`; neither the stores nor a JSON response can carry one) are refused as 422 anywhere
in a request body.
"""

from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    model_validator,
)

from postroom_shared.mail.address import MAX_ADDRESS_CHARS, normalize_address

__all__ = [
    "ID_PATTERN",
    "Address",
    "Host",
    "HttpsUrl",
    "Id",
    "In",
    "Label",
    "LongText",
    "Name",
    "Problem",
    "Secret",
    "Text",
    "Url",
    "View",
    "unfit_text",
]

Problem = tuple[tuple[str | int, ...], str]
"""A field (`loc`, without "body") and what is wrong with it."""

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"


def unfit_text(value: str) -> str | None:
    """Why `value` cannot be stored or returned, or None when it can."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (no lone surrogates)"
    return None


def _first_unfit(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        why = unfit_text(value)
        return f"{path or 'value'}: {why}" if why else None
    if isinstance(value, SecretStr):
        return _first_unfit(value.get_secret_value(), path)
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            found = _first_unfit(str(key), sub) or _first_unfit(item, sub)
            if found:
                return found
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _first_unfit(item, f"{path}[{index}]")
            if found:
                return found
    return None


Id = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN),
    Field(description="An id: letters, digits and `_.:-`, at most 100 characters."),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Label = Annotated[str, StringConstraints(max_length=200)]
Text = Annotated[str, StringConstraints(max_length=1000)]
LongText = Annotated[str, StringConstraints(max_length=200_000)]
Host = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]_-]+$"
    ),
    Field(description="Host name or IP address.", examples=["imap.example.com"]),
]
Address = Annotated[
    str,
    StringConstraints(max_length=MAX_ADDRESS_CHARS),
    AfterValidator(normalize_address),
    Field(
        description="A mail address: ASCII local part, domain name (internationalised domains"
        " are kept in their xn-- form), at most 254 characters; kept lower-cased.",
        examples=["support@example.com"],
        json_schema_extra={"format": "email"},
    ),
]
Url = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2000, pattern=r"^https?://\S+$")
]
HttpsUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2000, pattern=r"^https://[^\s/]+(/\S*)?$"),
    Field(description="An https URL: identity provider endpoints get secrets, never over http."),
]
Secret = Annotated[
    SecretStr,
    Field(
        min_length=1, max_length=4000, description="Write-only: stored encrypted, never returned."
    ),
]


class View(BaseModel):
    """Base of response bodies read off a stored model (or any object) by field name.

    `read` takes exactly the fields the view declares, so a secret the view does not name (an
    encrypted password, a key hash) can never leave by accident; the caller names only the
    fields that are computed or called differently."""

    @classmethod
    def read(cls, source: object, **different: Any) -> Self:
        values = {
            name: getattr(source, name)
            for name in cls.model_fields
            if name not in different and hasattr(source, name)
        }
        return cls.model_validate({**values, **different}, from_attributes=True)


class In(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped, so a typo in
    an option name is reported instead of leaving the option at its default."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        found = _first_unfit(data, "")
        if found:
            raise ValueError(found)
        return data
