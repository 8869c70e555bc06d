"""What other services may ask of the fetcher: the mailbox probes the config API runs (folder
list, waiting count, connection test, "fetch now" and the seen-keys namespace its flag is
stored under) and the error they raise, and the MTA pipe
that `postroom deliver` runs. Anything else in
this package is the fetcher's own and may change without notice."""

from postroom_fetcher.deliver import main as deliver_from_stdin
from postroom_fetcher.domain.errors import MailboxError
from postroom_fetcher.domain.leases import FETCH_NOW_NAMESPACE
from postroom_fetcher.probe import count_waiting, list_folders, request_fetch_now, test_connection

__all__ = [
    "FETCH_NOW_NAMESPACE",
    "MailboxError",
    "count_waiting",
    "deliver_from_stdin",
    "list_folders",
    "request_fetch_now",
    "test_connection",
]
