"""One mail size limit for every door: the converter parses what any door lets in. Accounts
may not ask for more than the ceiling, the deployment setting may not raise it, and an account
stored when 200 MB was allowed reads as the ceiling."""

import pytest
from pydantic import ValidationError

from postroom_api.schemas.accounts import AccountIn
from postroom_api.settings import ApiSettings
from postroom_converter.domain.limits import MAX_MAIL_BYTES
from postroom_fetcher.settings import FetcherSettings
from postroom_replier.settings import ReplierSettings
from postroom_shared.models import MAIL_BYTES_CEILING, EmailAccount, mail_size_limit

COMMON = {"store_url": "sqlite:////tmp/x.db", "secret_key": "s" * 40, "admin_api_key": "k" * 30}


def test_the_converter_parses_what_the_doors_let_in() -> None:
    assert MAX_MAIL_BYTES == MAIL_BYTES_CEILING == 25 * 1024 * 1024
    assert mail_size_limit(200 * 1024 * 1024, 200 * 1024 * 1024) == MAIL_BYTES_CEILING
    assert mail_size_limit(10_000, MAIL_BYTES_CEILING) == 10_000
    assert mail_size_limit(MAIL_BYTES_CEILING, 20_000) == 20_000


@pytest.mark.parametrize("settings", [ApiSettings, FetcherSettings, ReplierSettings])
def test_the_deployment_setting_cannot_raise_the_ceiling(settings: type[ApiSettings]) -> None:
    assert settings.model_validate(COMMON).max_mail_bytes == MAIL_BYTES_CEILING
    assert settings.model_validate({**COMMON, "max_mail_bytes": 1024}).max_mail_bytes == 1024
    with pytest.raises(ValidationError, match="max_mail_bytes"):
        settings.model_validate({**COMMON, "max_mail_bytes": MAIL_BYTES_CEILING + 1})


def test_an_account_cannot_ask_for_more() -> None:
    body = {"name": "n", "address": "a@example.test", "project": "p", "provider": "push"}
    assert AccountIn.model_validate(body).max_mail_bytes == MAIL_BYTES_CEILING
    with pytest.raises(ValidationError, match="max_mail_bytes"):
        AccountIn.model_validate({**body, "max_mail_bytes": MAIL_BYTES_CEILING + 1})
    with pytest.raises(ValidationError, match="max_mail_bytes"):
        AccountIn.model_validate({**body, "max_mail_bytes": 200 * 1024 * 1024})


def test_an_account_stored_with_a_larger_limit_reads_as_the_ceiling() -> None:
    stored: dict[str, object] = {"id": "a", "name": "n", "address": "a@x.test", "project": "p"}
    stored |= {"provider": "push", "max_mail_bytes": 200 * 1024 * 1024}
    assert EmailAccount.model_validate(stored).max_mail_bytes == MAIL_BYTES_CEILING
