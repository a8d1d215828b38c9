"""`nexus-wyoming config --print-defaults`: every setting with its default and limits,
generated from the config dataclasses so the reference can never drift from the code."""

import dataclasses
import types
import typing
from typing import Any

import yaml

from .config import Config


def _type_name(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return f"{_type_name(args[0])} or null"
    if typing.get_origin(hint) is not None:
        inner = ", ".join(_type_name(a) for a in typing.get_args(hint))
        return f"{typing.get_origin(hint).__name__}[{inner}]"
    return getattr(hint, "__name__", str(hint))


def _limits(meta: typing.Mapping[str, Any]) -> str:
    parts = []
    if meta.get("choices") is not None:
        parts.append("one of " + ", ".join(map(str, meta["choices"])))
    if meta.get("min") is not None:
        parts.append(f">= {meta['min']}")
    if meta.get("max") is not None:
        parts.append(f"<= {meta['max']}")
    return "; ".join(parts)


def _scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def reference(cls: type = Config, indent: int = 0) -> list[str]:
    """YAML lines for a settings dataclass: `key: default  # type; limits; what for`."""
    lines: list[str] = []
    hints = typing.get_type_hints(cls)
    defaults = cls()
    pad = "  " * indent
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if dataclasses.is_dataclass(hint):
            doc = (hint.__doc__ or "").strip().splitlines()[0]
            lines.append(f"{pad}{field.name}:  # {doc}")
            lines += reference(hint, indent + 1)
            continue
        notes = "; ".join(n for n in (_type_name(hint), _limits(field.metadata)) if n)
        lines.append(f"{pad}{field.name}: {_scalar(getattr(defaults, field.name))}  # {notes}")
    return lines


def print_defaults() -> str:
    """The whole reference as one YAML document."""
    header = "# Nexus Wyoming settings: defaults, types and limits (generated from the code).\n"
    return header + "\n".join(reference()) + "\n"
