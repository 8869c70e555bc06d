"""Schemathesis hooks for test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS): raw mail
bodies (message/rfc822) are sent as the bytes schemathesis generates for binary strings."""

import schemathesis

schemathesis.serializer.alias("message/rfc822", "application/octet-stream")
