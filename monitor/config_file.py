"""Reading a config file: safe YAML (dates left as text, alias expansion bounded), `${NAME}` from the environment,
and validation errors as one line naming the key path (with a did-you-mean for an unknown key)."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from monitor.errors import ConfigError
from storage.redaction import MASK, redact_text, redact_url, secret_key

MAX_YAML_NODES = 100_000  # a config expands to far fewer; aliases nested to expand past this are refused
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Loader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text, so pydantic reports a bad date with its key path."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Path) -> Any:
    """The file's YAML data; a missing, unreadable or malformed file is a one-line ConfigError."""
    if not path.exists():
        raise ConfigError(f"{path}: config file not found (give --config PATH or set MONITOR_CONFIG)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None


def check_expansion(data: Any, origin: str, limit: int = MAX_YAML_NODES) -> None:
    """Refuse data whose aliases expand past `limit` values (a "billion laughs" file) or refer to themselves;
    counted without expanding anything."""
    sizes: dict[int, int] = {}
    busy: set[int] = set()

    def size(value: Any) -> int:
        if not isinstance(value, (dict, list)):
            return 1
        key = id(value)
        if key in sizes:
            return sizes[key]
        if key in busy:
            raise ConfigError(f"{origin}: the YAML refers to itself through an alias (a recursive anchor)")
        busy.add(key)
        children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        total = 1
        for child in children:
            total += size(child)
            if total > limit:
                break
        busy.discard(key)
        sizes[key] = total
        return total

    if size(data) > limit:
        raise ConfigError(
            f"{origin}: the YAML expands to over {limit} values through its aliases "
            '(a "billion laughs" file?); write the values out instead'
        )


def expand_env(value: Any, where: str, environ: dict[str, str], origin: str = "<config>") -> Any:
    """The data with every `${NAME}` in its text replaced from `environ` (an unset name is a ConfigError)."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise ConfigError(
                    f"{origin}: {where}: environment variable {name} is not set (referenced as ${{{name}}})"
                )
            return environ[name]

        return _ENV_REF.sub(replace, value)
    if isinstance(value, dict):
        return {k: expand_env(v, f"{where}.{k}" if where else str(k), environ, origin) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, f"{where}[{i}]", environ, origin) for i, v in enumerate(value)]
    return value


def _loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _model_at(root: type[BaseModel] | None, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        annotation = field.annotation
        for arg in getattr(annotation, "__args__", ()) or ():
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                annotation = arg
        model = annotation
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def describe_problem(error: dict[str, Any], root: type[BaseModel] | None = None) -> str:
    """One pydantic error as `key.path: what is wrong (got value)`; an unknown key lists the valid ones of `root`."""
    loc = tuple(error["loc"])
    where = _loc(loc)
    if error["type"] == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        valid = sorted(parent.model_fields) if parent else []
        valid = [v for v in valid if v != "config_path"]
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{where}: unknown key{hint} (valid keys: {', '.join(valid)})"
    if error["type"] == "missing":
        return f"{where}: required key is missing"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    secret = is_secret(loc, value)  # a bad secret is named, never echoed
    if secret and isinstance(value, str) and value:
        message = message.replace(value, MASK)  # a validator may quote what it got
    hidden = isinstance(value, (dict, list)) or value is None or secret or repr(value) in message
    shown = "" if hidden else f" (got {value!r})"
    return f"{where}: {redact_text(message)}{shown}"


def is_secret(loc: tuple[Any, ...], value: Any = None) -> bool:
    """Whether the value at this config path may be a credential, so an error must not show it."""
    names = [str(part).lower() for part in loc if not isinstance(part, int)]
    if names[:1] in (["alerts"], ["reports"]) and ("webhook" in names or "mail" in names):
        return True  # delivery: webhook URLs carry their token, mail blocks a username and password
    if names[:2] in (["database", "url"], ["executor", "broker_url"]) or "headers" in names:
        return True
    if names and (names[-1] in _SECRET_NAMES or secret_key(names[-1])):
        return True
    # Any key: a URL with a user in it or a secret-looking query value (?api_key=...).
    return isinstance(value, str) and (_URL_USERINFO.match(value) is not None or redact_url(value) != value)


_SECRET_NAMES = frozenset({"username", "user", "webhook"})
_URL_USERINFO = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*@")
