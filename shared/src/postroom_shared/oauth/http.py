"""The HTTP session msal and google-auth talk to the identity provider through.

Why a subclass: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment override
a session's `verify`, so a configured CA bundle would be silently ignored (this is the case on
machines that export those variables). An explicit bundle must win; proxies from the
environment still apply. Every request also gets a timeout, which neither library sets by
default everywhere.
"""

from typing import Any

import requests

from postroom_shared.oauth.endpoints import OAuthEndpoints

__all__ = ["IdpSession"]


class IdpSession(requests.Session):
    def __init__(self, endpoints: OAuthEndpoints) -> None:
        super().__init__()
        self._ca_bundle = endpoints.ca_bundle
        self._timeout_s = endpoints.timeout_s
        if self._ca_bundle is not None:
            self.verify = self._ca_bundle
        # google-auth hides the status of a non-JSON error answer; the caller needs it to tell
        # an outage (5xx) from a refusal
        self.last_status: int | None = None
        self.hooks["response"].append(self._remember_status)

    def _remember_status(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.last_status = response.status_code

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self._ca_bundle is not None and verify in (None, True):
            settings["verify"] = self._ca_bundle
        return settings

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        timeout = kwargs.get("timeout")
        if not isinstance(timeout, int | float) or timeout > self._timeout_s:
            kwargs["timeout"] = self._timeout_s
        return super().request(method, url, *args, **kwargs)
