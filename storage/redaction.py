"""Secrets out of URLs and messages: userinfo passwords and secret-looking query values become `***`."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

MASK = "***"
# Query keys whose values are credentials (compared lower-cased, with - and . read as _).
SECRET_KEYS = frozenset(
    {
        "key",
        "token",
        "api_key",
        "apikey",
        "access_token",
        "refresh_token",
        "id_token",
        "auth",
        "authorization",
        "sig",
        "signature",
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "credential",
        "credentials",
        "session",
        "sessionid",
        "code",
    }
)
# A key ending in one of these words is secret too (x_api_key, x_amz_signature, my_token).
_SECRET_ENDINGS = ("key", "token", "secret", "password", "passwd", "sig", "signature", "credential", "auth")
_AUTHORITY = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#]*)")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")


def secret_key(name: str) -> bool:
    """Whether a query parameter of this name carries a credential."""
    key = re.sub(r"[-.]", "_", name.strip().lower())
    if key in SECRET_KEYS or key.replace("_", "") in SECRET_KEYS:
        return True
    return key.rsplit("_", 1)[-1] in _SECRET_ENDINGS and "_" in key


def redact_url(url: Any) -> str:
    """The URL with its userinfo password and secret query values replaced by `***`; the rest unchanged."""
    if hasattr(url, "render_as_string"):  # a SQLAlchemy URL: render it whole first, then mask it here
        url = url.render_as_string(hide_password=False)
    text = str(url)
    rest, hash_, fragment = text.partition("#")
    rest, mark, query = rest.partition("?")
    authority = _AUTHORITY.match(rest)
    if authority and "@" in authority.group(2):
        userinfo, _, host = authority.group(2).rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + MASK
        rest = f"{authority.group(1)}{userinfo}@{host}{rest[authority.end() :]}"
    fragment = _mask_query(fragment) if "=" in fragment else fragment
    return f"{rest}{mark}{_mask_query(query)}{hash_}{fragment}"


def _mask_query(query: str) -> str:
    if not query:
        return query
    pairs = []
    for piece in query.split("&"):
        name, equals, value = piece.partition("=")
        if equals and secret_key(_unquote(name)):
            value = MASK
        pairs.append(f"{name}{equals}{value}")
    return "&".join(pairs)


def _unquote(name: str) -> str:
    parsed = parse_qsl(f"{name}=x", keep_blank_values=True)
    return parsed[0][0] if parsed else name


def redact_text(text: Any) -> Any:
    """Free text (an error message) with every URL in it redacted; None stays None."""
    if text is None:
        return None

    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        core = url.rstrip(".,;:!?)]}")  # sentence punctuation after a URL is not part of it
        return redact_url(core) + url[len(core) :]

    return _URL_IN_TEXT.sub(one, str(text))
