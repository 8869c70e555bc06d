"""A service loads only what it runs: the OAuth providers' libraries (msal, google-auth,
requests: about 25 MB of resident memory) and the MongoDB driver load when an account signs in
with OAuth or the store URL says mongodb, cryptography (about 9 MB) with the first stored
secret a service encrypts (decrypting needs none of it: postroom_shared/fernet_open.py), Jinja
(about 4 MB) in the replier with the first mail it renders, nh3 (about 1.5 MB) in the
converter's main process and the API with the first HTML they clean, not when the service
starts (docs/performance.md)."""

import subprocess
import sys

import pytest

HEAVY = ("msal", "google.auth", "requests", "pymongo", "cryptography")
# FastStream imports uvicorn (and click) when installed; only the API serves HTTP, the other
# services start without them (postroom_shared/optional_imports.py).
NO_HTTP = ("uvicorn", "click")
# The API's console pages (and Jinja) load with the first request under /ui, the mailbox
# adapters (imapclient, poplib) with the first mailbox probe.
HEAVY_FOR = {
    "fetcher": NO_HTTP,
    "replier": ("jinja2", *NO_HTTP),
    "converter": ("nh3", *NO_HTTP),
    "api": ("nh3", "jinja2", "postroom_api.console.pages", "imapclient", "poplib"),
}


def _run(probe: str) -> list[str]:
    """What `probe` prints, word by word, run in a fresh interpreter (nothing imported yet)."""
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()


@pytest.mark.parametrize("service", ["fetcher", "converter", "replier", "api"])
def test_starting_a_service_loads_no_oauth_library_nor_mongodb_driver(service: str) -> None:
    heavy = HEAVY + HEAVY_FOR.get(service, ())
    probe = (
        "import sys\n"
        f"import postroom_{service}.__main__ as entry\n"
        "entry.load()\n"
        f"print(' '.join(m for m in {heavy!r} if m in sys.modules))\n"
    )
    loaded = _run(probe)
    assert loaded == [], f"postroom-{service} loads {loaded} at start"


def test_the_token_source_loads_the_providers_when_it_refreshes() -> None:
    probe = (
        "import sys\n"
        "from postroom_shared.oauth import TokenSource, GOOGLE_SCOPES\n"
        "print('msal' in sys.modules)\n"
        "from postroom_shared.oauth import google, microsoft\n"
        "print(google.GOOGLE_SCOPES == GOOGLE_SCOPES, 'msal' in sys.modules)\n"
    )
    out = _run(probe)
    assert out == ["False", "True", "True"]


def test_the_secret_box_loads_cryptography_with_the_first_secret() -> None:
    probe = (
        "import sys\n"
        "from postroom_shared.secretbox import SecretBox\n"
        "box = SecretBox('k' * 32, ['o' * 32])\n"
        "print('cryptography' in sys.modules)\n"
        "token = box.encrypt('pw')\n"
        "print('cryptography' in sys.modules, box.decrypt(token) == 'pw')\n"
        "print(box.is_current(token))\n"
    )
    out = _run(probe)
    assert out == ["False", "True", "True", "True"]


def test_decrypting_a_stored_secret_loads_no_cryptography() -> None:
    # the fetcher and the replier only decrypt (mailbox and SMTP passwords): fernet_open does it
    # with the stdlib and the interpreter's OpenSSL, about 9 MB less than cryptography
    from postroom_shared.secretbox import SecretBox

    token = SecretBox("o" * 32).encrypt("pw")
    probe = (
        "import sys\n"
        "from postroom_shared.secretbox import SecretBox\n"
        "box = SecretBox('k' * 32, ['o' * 32])\n"
        f"print(box.decrypt({token!r}) == 'pw', 'cryptography' in sys.modules)\n"
    )
    assert _run(probe) == ["True", "False"]


def test_the_api_loads_its_console_with_the_first_page() -> None:
    probe = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from postroom_api.app import create_app\n"
        "from postroom_api.settings import ApiSettings\n"
        "app = create_app(ApiSettings(secret_key='k' * 32, store_url='sqlite:///:memory:',"
        " admin_api_key='a' * 32))\n"
        "print('jinja2' in sys.modules)\n"
        "client = TestClient(app)\n"
        "print(client.get('/healthz').status_code, 'jinja2' in sys.modules)\n"
        "page = client.get('/ui/login')\n"
        "print(page.status_code, page.headers['X-Frame-Options'], 'jinja2' in sys.modules)\n"
        "missing = client.get('/ui/nowhere')\n"
        "print(missing.status_code, missing.headers['content-type'].split(';')[0])\n"
        "print(client.get('/v1/nowhere').headers['content-type'])\n"
    )
    out = _run(probe)
    assert out == [
        "False",
        "200",
        "False",
        "200",
        "DENY",
        "True",
        "404",
        "text/html",
        "application/json",
    ]


def test_the_replier_loads_jinja_with_the_first_render() -> None:
    probe = (
        "import sys\n"
        "from postroom_replier.domain.templates import render\n"
        "from postroom_shared.models import NotificationTemplate\n"
        "print('jinja2' in sys.modules)\n"
        "hello = NotificationTemplate(id='t', name='t', subject='Hi {{ x }}', text='{{ x }}')\n"
        "print(render(hello, {'x': 'you'}).subject == 'Hi you', 'jinja2' in sys.modules)\n"
    )
    out = _run(probe)
    assert out == ["False", "True", "True"]
