"""The settings loader shared by the servers and the satellite: merge YAML files,
environment variables and flags, then validate into frozen dataclasses.

Every value keeps where it came from, so an unknown key, a wrong type or a bad value
raises ConfigError naming the dotted key and its file, "environment" or "command line".
"""

import dataclasses
import math
import types
import typing
from dataclasses import field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

import yaml


class ConfigError(ValueError):
    """A setting is unknown, of the wrong type or out of range."""


def _check(minimum: Optional[float] = None, maximum: Optional[float] = None, choices=None):
    """Field metadata checked by the loader."""
    return {"min": minimum, "max": maximum, "choices": choices}


def setting(default: Any, **checks: Any) -> Any:
    """A dataclass field with a default and optional range / choice checks."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=_check(**checks))
    return field(default=default, metadata=_check(**checks))


def load_settings(
    cls: type,
    files: Iterable[Optional[Path]],
    environment: Optional[Mapping[str, Any]] = None,
    overrides: Optional[Mapping[str, Any]] = None,
) -> Any:
    """`cls` from its defaults, then each YAML file, an environment tree, dotted flag overrides."""
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for path in files:
        if path is not None:
            _merge(merged, _read_yaml(Path(path)), origins, str(path), "")
    if environment:
        _merge(merged, environment, origins, "environment", "")
    flags = {key: value for key, value in (overrides or {}).items() if value is not None}
    if flags:
        _merge(merged, dotted_tree(flags, "command line"), origins, "command line", "")
    return _build(cls, merged, "", origins)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml_text(path: Path, what: str = "config file") -> Any:
    """A YAML file as data; ConfigError for an unreadable, non-UTF-8 or invalid file or a duplicate key."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except OSError as err:
        raise ConfigError(f"cannot read {what} {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start})") from err
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: invalid YAML{where}: {err.problem or err.context}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from err


def _read_yaml(path: Path) -> dict[str, Any]:
    loaded = read_yaml_text(path)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return loaded


class EnvText(str):
    """A value from the environment: parsed as YAML scalar when the field needs it.

    `origin` names its variable, so an error says which one to fix.
    """

    origin: str = "environment"

    @classmethod
    def named(cls, value: str, variable: str) -> "EnvText":
        """The value of environment variable `variable`."""
        text = cls(value)
        text.origin = f"environment variable {variable}"
        return text


def dotted_tree(flat: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """{"tts.uri": x} → {"tts": {"uri": x}}; a key used both as value and section is an error."""
    tree: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = tree
        *parents, leaf = dotted.split(".")
        for depth, part in enumerate(parents):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                section = ".".join(parents[: depth + 1])
                raise ConfigError(f"{section}: set both as a value and as a section ({dotted}) (in {origin})")
        if isinstance(node.get(leaf), dict):
            raise ConfigError(f"{dotted}: set both as a value and as a section (in {origin})")
        node[leaf] = value
    return tree


def _merge(into: dict, new: Mapping, origins: dict, origin: str, prefix: str) -> None:
    for key, value in new.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value, origins, origin, dotted + ".")
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value
            origins[dotted] = _origin_of(value, origin)
            if isinstance(value, Mapping):
                _mark(value, origins, origin, dotted + ".")


def _mark(tree: Mapping, origins: dict, origin: str, prefix: str) -> None:
    for key, value in tree.items():
        origins[f"{prefix}{key}"] = _origin_of(value, origin)
        if isinstance(value, Mapping):
            _mark(value, origins, origin, f"{prefix}{key}.")


def _origin_of(value: Any, origin: str) -> str:
    """Where a value came from: its variable for one from the environment (a section: its only leaf's)."""
    while isinstance(value, Mapping) and len(value) == 1:
        value = next(iter(value.values()))
    return getattr(value, "origin", origin)


def _where(origins: Mapping[str, str], dotted: str) -> str:
    dotted = dotted.split("[", 1)[0]
    while dotted:
        if dotted in origins:
            return origins[dotted]
        dotted = dotted.rpartition(".")[0]
    return "defaults"


def _build(cls: type, raw: Any, prefix: str, origins: Mapping[str, str]) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping "
                          f"(in {_where(origins, prefix.rstrip('.'))})")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(f"{dotted}: unknown key (in {_where(origins, dotted)})")
        kwargs[key] = _value(hints[key], value, dotted, origins)
        _check_range(fields[key].metadata, kwargs[key], dotted, origins)
    return cls(**kwargs)


def _value(hint: Any, value: Any, dotted: str, origins: Mapping[str, str]) -> Any:
    where = _where(origins, dotted)
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None or (isinstance(value, EnvText) and value.lower() in ("", "null", "none")):
            return None
        return _value(args[0], value, dotted, origins)
    if dataclasses.is_dataclass(hint):
        return _build(hint, {} if value is None else value, dotted + ".", origins)
    if isinstance(value, EnvText) and hint is not str:
        value = yaml.safe_load(value) if value else None
    if origin is dict:
        key_hint, item_hint = typing.get_args(hint)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{dotted}: expected a mapping, got {value!r} (in {where})")
        return {
            _value(key_hint, str(k) if isinstance(k, int) and not isinstance(k, bool) else k, f"{dotted}.{k}", origins):
            _value(item_hint, v, f"{dotted}.{k}", origins)
            for k, v in value.items()
        }
    if origin is list:
        (item,) = typing.get_args(hint)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{dotted}: expected a list, got {value!r} (in {where})")
        return [_value(item, v, f"{dotted}[{i}]", origins) for i, v in enumerate(value)]
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(
            f"{dotted}: expected {hint.__name__}, got {value!r} (in {where})"
        )
    return str(value) if hint is str else value


def _check_range(meta: Mapping[str, Any], value: Any, dotted: str, origins) -> None:
    if value is None or not meta:
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_range(meta, item, f"{dotted}[{i}]", origins)
        return
    where = _where(origins, dotted)
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{dotted}: {value!r} is not a valid value: give a finite number (in {where})")
    if meta.get("choices") is not None and value not in meta["choices"]:
        raise ConfigError(f"{dotted}: {value!r} is not one of {meta['choices']} (in {where})")
    if meta.get("min") is not None and value < meta["min"]:
        raise ConfigError(f"{dotted}: {value!r} is below the minimum {meta['min']} (in {where})")
    if meta.get("max") is not None and value > meta["max"]:
        raise ConfigError(f"{dotted}: {value!r} is above the maximum {meta['max']} (in {where})")


def parse_settings(cls: type, raw: Any, name: str, origin: str) -> Any:
    """A settings dataclass from a mapping read elsewhere (e.g. the modes file), checked like the config."""
    return _build(cls, raw, f"{name}.", {name: origin})
