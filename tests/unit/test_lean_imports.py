"""A service loads only what it runs: the OAuth providers' libraries (msal, google-auth,
requests: about 25 MB of resident memory) and the MongoDB driver load when an account signs in
with OAuth or the store URL says mongodb, not when the service starts (docs/performance.md)."""

import subprocess
import sys

import pytest

HEAVY = ("msal", "google.auth", "requests", "pymongo")


@pytest.mark.parametrize("service", ["fetcher", "converter", "replier", "api"])
def test_starting_a_service_loads_no_oauth_library_nor_mongodb_driver(service: str) -> None:
    probe = (
        "import sys\n"
        f"import postroom_{service}.__main__\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert loaded == [], f"postroom-{service} loads {loaded} at start"


def test_the_token_source_loads_the_providers_when_it_refreshes() -> None:
    probe = (
        "import sys\n"
        "from postroom_shared.oauth import TokenSource, GOOGLE_SCOPES\n"
        "print('msal' in sys.modules)\n"
        "from postroom_shared.oauth import google, microsoft\n"
        "print(google.GOOGLE_SCOPES == GOOGLE_SCOPES, 'msal' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["False", "True", "True"]
