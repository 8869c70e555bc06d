"""The API's OAuth 2.0 sign-in: the authorisation-code flow with PKCE (`flow`) and the sealed
state and sign-in link that carry it through the browser (`state`). Only the API runs a sign-in;
what the other services share (providers, token source, errors) is `postroom_shared.oauth`."""
