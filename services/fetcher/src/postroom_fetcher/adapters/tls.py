"""TLS contexts for mailbox connections: verified by default, optionally trusting a private CA.

Turning verification off is an explicit per-account choice (`verify_tls: false`); it never
happens as a fallback.
"""

import ssl

__all__ = ["tls_context"]


def tls_context(*, verify: bool, ca_file: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
