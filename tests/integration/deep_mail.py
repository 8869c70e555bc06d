"""A mail the converter quarantines, for tests that need quarantine entries made the real way
(pushed or fetched, then converted), not written into the store."""

__all__ = ["too_deep_mail"]


def too_deep_mail(subject: str) -> bytes:
    """A mail nested past the converter's MIME depth cap: it goes to the quarantine, which
    keeps the quarantine operations supplied while the run discards entries."""
    levels = b"".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode()
        for i in range(150)
    )
    head = f"From: a@example.org\r\nSubject: {subject}\r\n".encode("utf-8", "surrogatepass")
    return head + levels + b"Content-Type: text/plain\r\n\r\nhi\r\n"
