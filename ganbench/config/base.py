"""The schema's building blocks: strict frozen models, pydantic errors as :class:`ConfigError`,
the deep merge of variants into a recipe, and the YAML 1.2 loader.

Every params model derives from :class:`Block`: unknown keys are refused (``extra="forbid"``),
types are strict (``"5"`` is not an int, ``true`` is not a number) and values are frozen.
:func:`validate` is the one adapter from pydantic's error location to our one-line message naming
the full key, the value and what is allowed.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from ganbench.errors import ConfigError, UserError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


#: A YAML list read as a tuple (strict mode alone refuses lists for tuple fields).
Seq = Annotated[tuple[T, ...], BeforeValidator(_tuple)]
#: Names of studies, variants and datasets: they name stages and files.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_]*$"
NAME_RULE = "a name of lowercase letters, digits and _ (it names stages and files)"


class FieldError(ValueError):
    """Raised by a cross-field validator: names the field it refuses (pydantic reports such
    errors at the model's location; :func:`validate` moves them to the field)."""

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        super().__init__(allowed)
        self.field, self.value, self.allowed = field, value, allowed


class Block(BaseModel):
    """A params section: strict, frozen, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class NamedBlock(BaseModel):
    """``{name: ..., **fields}``: an entry of a registry (architecture, objective, penalty) with
    its own fields, which the entry's own model validates (see ganbench.plan)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)
    name: str

    def fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


_PHRASES = {
    "int_type": "an int",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "missing": "a value (the key is required)",
}


def _allowed(err: dict, model: type[BaseModel] | None) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        if model is None or not model.model_fields:
            return "no keys: this entry has no parameters of its own"
        return "known keys " + ", ".join(model.model_fields)
    if kind == "too_short":
        return f"at least {ctx.get('min_length')} item(s)"
    if kind == "literal_error":
        return "one of " + ctx.get("expected", "").replace("'", "")
    bounds = {
        "greater_than_equal": ">= {ge}",
        "greater_than": "> {gt}",
        "less_than_equal": "<= {le}",
        "less_than": "< {lt}",
    }
    if kind in bounds:
        return bounds[kind].format(**ctx)
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NAME_PATTERN:
        return NAME_RULE
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return _PHRASES.get(kind, err["msg"])


def _parent_model(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class that holds the last element of ``loc`` (for 'known keys ...')."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            current = field.annotation if field else None
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> X; anything else unchanged."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, __import__("types").UnionType) and args:
        return args[0]
    return annotation


def join(key: str, *parts: Any) -> str:
    for part in parts:
        key = f"{key}[{part}]" if isinstance(part, int) else (f"{key}.{part}" if key else part)
    return key


def validate(
    model: type[M], data: Any, key: str, error: Callable[[str, Any, str], Exception] = ConfigError
) -> M:
    """``model`` built from ``data`` found at params ``key``; the first problem becomes one
    ``error(full key, value, allowed)`` (a :class:`ConfigError` naming e.g.
    ``studies.lucic.recipe.training.steps``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if p not in ("function-after", "function-before"))
        value = "<missing>" if err["type"] == "missing" else err["input"]
        if loc[-1:] == ("[key]",):  # a bad mapping key (a name): the mapping's key, the name
            loc, value = loc[:-2], loc[-2]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            raise error(join(key, *loc, cause.field), cause.value, cause.allowed) from None
        raise error(join(key, *loc), value, _allowed(err, _parent_model(model, loc))) from None


def deep_merge(base: dict, override: dict) -> dict:
    """``override`` merged into ``base`` key by key; nested mappings merge, anything else replaces.
    A mapping whose ``name`` changes (another architecture, objective or penalty) replaces the
    base block whole, since the old entry's fields mean nothing to the new one."""
    out = dict(base)
    for k, v in override.items():
        old = out.get(k)
        same_entry = not (isinstance(v, dict) and "name" in v and isinstance(old, dict))
        same_entry = same_entry or old.get("name") == v["name"]
        if isinstance(v, dict) and isinstance(old, dict) and same_entry:
            out[k] = deep_merge(old, v)
        else:
            out[k] = v
    return out


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader that reads YAML 1.2 floats such as ``5e-5`` (YAML 1.1 needs ``5.0e-5``)."""


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def read_yaml(path: str | Path) -> dict:
    """A params file as a mapping; a missing file or bad YAML is a :class:`UserError`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"params file not found: {path}")
    try:
        raw = yaml.load(path.read_text(), Loader=_Yaml12Loader) or {}
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    return raw
