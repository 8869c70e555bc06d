"""The largest mail Postroom takes in, in a module that imports nothing.

Why apart from `models/accounts.py`, which re-exports it for the account settings' bounds: the
converter's analysis worker checks mail against it and stays free of pydantic and the models,
which would more than double the time a worker takes to start.
"""

__all__ = ["MAIL_BYTES_CEILING"]

#: The largest mail Postroom takes in, however it comes: fetched, pushed over HTTP or piped to
#: `postroom deliver`. The converter parses mail up to this size; POSTROOM_MAX_MAIL_BYTES and an
#: account's max_mail_bytes may only lower it, so mail let in is never too large to convert.
MAIL_BYTES_CEILING = 25 * 1024 * 1024
