"""Every key Settings accepts is in config.yaml (as a key or a commented example) and in the README's
configuration reference, and neither names a key that Settings refuses."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from monitor.config import CampaignSettings, Settings, SourceSettings
from monitor.sources.presets import PRESETS
from monitor.sources.registry import BUILTIN_KINDS

ROOT = Path(__file__).resolve().parents[1]
# Built-in kinds that are not for users, so neither file describes them (say why).
UNDOCUMENTED_KINDS = {"fake": "photos written inline in the config, for tests and the demo"}
# A commented-out example line: `  # - name: feed` or `  #   kind: rss` (prose comments have no `key:` start).
COMMENTED_KEY = re.compile(r"^(\s*)#\s?(\s*(?:- )?[a-z_][a-z0-9_]*:(?:\s.*)?)$")


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (Optional[M], list[M], M), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, tuple):
        for arg in typing.get_args(annotation):
            found = _submodel(arg)
            if found:
                return found
    return None


def _kinds() -> dict[str, type[BaseModel]]:
    return {cls.kind: cls.Options for cls in BUILTIN_KINDS if cls.kind not in UNDOCUMENTED_KINDS}


def _children(model: type[BaseModel]) -> dict[str, type[BaseModel] | None]:
    """A model's keys and, for each, the model its value is made of (None for a plain value)."""
    return {name: _submodel(field.annotation) for name, field in model.model_fields.items() if not field.exclude}


def accepted_keys(model: type[BaseModel] = Settings, prefix: str = "", seen: set | None = None) -> dict[str, bool]:
    """Every dotted key path Settings accepts -> whether the files must describe it (a leaf; a block of keys that
    is described at its first path, such as `mail`, only needs its own key elsewhere); source options as
    sources.<kind>.<key>."""
    seen = set() if seen is None else seen
    keys: dict[str, bool] = {}
    for name, sub in _children(model).items():
        path = prefix + name
        keys[path] = sub is None or sub in seen
        if sub is not None:
            first = sub not in seen
            seen.add(sub)
            below = accepted_keys(sub, path + ".", seen)
            keys.update(below if first else dict.fromkeys(below, False))
        if model is Settings and name == "sources":
            for kind, options in _kinds().items():
                keys[f"sources.{kind}"] = False
                keys.update(accepted_keys(options, f"sources.{kind}.", seen))
    return keys


def _paths_in(data: Any, model: type[BaseModel] | None, prefix: str) -> set[str]:
    """The dotted key paths written in a YAML mapping (or list of mappings) read against `model`."""
    if isinstance(data, list):
        return set().union(*(_paths_in(item, model, prefix) for item in data)) if data else set()
    if not isinstance(data, dict) or model is None:
        return set()
    found: set[str] = set()
    children = _children(model)
    for key, value in data.items():
        if model is SourceSettings and key not in children:
            kind = data.get("kind") or PRESETS.get(data.get("preset"), {}).get("kind")
            path = f"{prefix}{kind}.{key}"
            found |= {path} | _paths_in(value, _children(_kinds().get(kind, BaseModel)).get(key), path + ".")
            continue
        found.add(prefix + str(key))
        found |= _paths_in(value, children.get(key), f"{prefix}{key}.")
    return found


def config_yaml_keys(text: str) -> set[str]:
    """Key paths in a config file, its commented-out examples included."""
    uncommented = "\n".join(COMMENTED_KEY.sub(r"\1\2", line) for line in text.splitlines())
    return _paths_in(yaml.safe_load(uncommented), Settings, "")


def readme_keys(text: str) -> set[str]:
    """`section.key` paths written in the README's "Configuration reference" section."""
    section = text.split("\n## Configuration reference\n", 1)[1].split("\n## ", 1)[0]
    tops = tuple(_children(Settings))
    return {token for token in re.findall(r"`([a-z_][a-z0-9_.]*)`", section) if token.split(".")[0] in tops}


def _check(where: str, written: set[str]) -> list[str]:
    keys = accepted_keys()
    missing = sorted(path for path, needed in keys.items() if needed and path not in written)
    refused = sorted(written - set(keys))
    return [f"{where} does not describe {path}" for path in missing] + [
        f"{where} names {path}, which Settings does not accept" for path in refused
    ]


def test_config_yaml_describes_exactly_the_keys_settings_accepts() -> None:
    problems = _check("config.yaml", config_yaml_keys((ROOT / "config.yaml").read_text(encoding="utf-8")))
    assert not problems, "\n".join(problems)


def test_readme_configuration_reference_describes_exactly_the_keys_settings_accepts() -> None:
    problems = _check("README.md", readme_keys((ROOT / "README.md").read_text(encoding="utf-8")))
    assert not problems, "\n".join(problems)


def test_the_key_walk_sees_nested_models_source_kinds_and_commented_examples() -> None:
    keys = accepted_keys()
    assert keys["classifier.tiling.grid"] and keys["sources.json.fields.image"] and keys["campaigns.end"]
    assert not keys["classifier.tiling"] and "config_path" not in keys
    assert keys["alerts.mail.host"] and keys["reports.mail"] and not keys["reports.mail.host"]  # one block, once
    assert set(CampaignSettings.model_fields) == {k.split(".")[1] for k in keys if k.startswith("campaigns.")}
    text = (
        "ingest:\n  retries: 2\n  # user_agent: x\n# Note the prose: it is not a key\n"
        "sources:\n  # - name: feed\n  #   kind: json\n  #   fields: {image: a.b, colour: c}\n"
        "  - {name: f, kind: rss, urll: u}\n  - {name: g, preset: youtube, html_images: false}\n"
    )
    assert config_yaml_keys(text) == {
        "ingest",
        "ingest.retries",
        "ingest.user_agent",
        "sources",
        "sources.name",
        "sources.kind",
        "sources.json.fields",
        "sources.json.fields.image",
        "sources.json.fields.colour",
        "sources.rss.urll",
        "sources.preset",
        "sources.rss.html_images",
    }
    problems = _check("x", config_yaml_keys(text))
    assert "x names sources.rss.urll, which Settings does not accept" in problems
    assert "x names sources.json.fields.colour, which Settings does not accept" in problems
    assert "x does not describe classifier.input_size" in problems
    readme = (
        "# T\n\n## Configuration reference\n\n`ingest.retries` `config.yaml` `ingest.retriez`\n\n"
        "## Next\n`paths.inbox`\n"
    )
    assert readme_keys(readme) == {"ingest.retries", "ingest.retriez"}


@pytest.mark.parametrize("kind", sorted(UNDOCUMENTED_KINDS))
def test_undocumented_kinds_exist(kind: str) -> None:
    assert kind in {cls.kind for cls in BUILTIN_KINDS}
