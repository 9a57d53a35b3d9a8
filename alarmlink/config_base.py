"""The base of every config model, and validation errors in words an installer understands.

- :class:`StrictModel`: unknown keys are errors (a misspelt key must not silently fall
  back to a default).
- :class:`ConfigError`: a config that cannot be used; one ``file: key.path: reason`` per
  line.
- :func:`describe_errors`: pydantic errors as those lines. Generic over the root model,
  so the agent config, central's config, the registry, the simulators' scenario files,
  the wire codec and the HTTP API's 422 bodies all speak the same way. Unknown keys get a
  "did you mean" hint, a missing table is called a section, and the discriminator tag that
  pydantic inserts into the location of a tagged union (``inputs.0.button.pin``) is
  dropped.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo

Loc = tuple[int | str, ...]


class ConfigError(ValueError):
    """A config that cannot be used. ``str()`` has one ``file: key: reason`` per line."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class StrictModel(BaseModel):
    """A config section: unknown keys are rejected, never ignored."""

    model_config = ConfigDict(extra="forbid")


class FrozenStrictModel(StrictModel):
    """A :class:`StrictModel` whose instances cannot be changed after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def resolve_config_path(value: Path | None, info: ValidationInfo) -> Path | None:
    """For a field validator: a relative path is relative to the config file's folder.

    The folder comes from the validation context (``{"base_dir": ...}``); without one,
    the path is left as given. ``~`` is expanded.
    """
    if value is None:
        return None
    value = value.expanduser()
    base = (info.context or {}).get("base_dir")
    if not value.is_absolute() and base is not None:
        return Path(base) / value
    return value


def describe_errors(exc: ValidationError, root: type[BaseModel] | None = None, *,
                    data: Mapping[str, Any] | None = None,
                    tags: Mapping[str, type[BaseModel]] | None = None) -> list[str]:
    """One ``key.path: reason`` line per pydantic error.

    ``root`` is the validated model (for "did you mean" hints; without it the hint is
    left out); ``data`` (the parsed TOML) lets list items be labelled with their zone;
    ``tags`` maps the discriminator values of a tagged union to their models.
    """
    return describe_error_list(exc.errors(), root, data=data, tags=tags)


def describe_error_list(errors: Sequence[Mapping[str, Any]],
                        root: type[BaseModel] | None = None, *,
                        data: Mapping[str, Any] | None = None,
                        tags: Mapping[str, type[BaseModel]] | None = None) -> list[str]:
    """:func:`describe_errors` for a list of pydantic-shaped error dicts.

    FastAPI's ``RequestValidationError.errors()`` has this shape, so the API's 422
    bodies are worded like config errors.
    """
    helper = _Describer(root, dict(tags or {}))
    lines: list[str] = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        where = helper.format_loc(helper.strip_tags(loc), data)
        reason = helper.reason(err, loc, _node(data, helper.strip_tags(loc)))
        lines.append(f"{where}: {reason}" if where else reason)
    return lines


class _Describer:
    def __init__(self, root: type[BaseModel] | None,
                 tags: dict[str, type[BaseModel]]) -> None:
        self.root = root
        self.tags = tags

    def strip_tags(self, loc: Loc) -> Loc:
        return tuple(part for index, part in enumerate(loc)
                     if not (index > 0 and isinstance(loc[index - 1], int)
                             and isinstance(part, str) and part in self.tags))

    @staticmethod
    def format_loc(loc: Loc, data: Mapping[str, Any] | None) -> str:
        text = ""
        node: Any = data
        for part in loc:
            if isinstance(part, int):
                text += f"[{part}]"
                node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
                if isinstance(node, dict) and isinstance(node.get("zone"), str):
                    text += f" (zone {node['zone']!r})"
            else:
                text += f".{part}" if text else part
                node = node.get(part) if isinstance(node, dict) else None
        return text

    def reason(self, err: Any, loc: Loc, node: Any = None) -> str:
        kind = err["type"]
        ctx = err.get("ctx") or {}
        key = str(ctx.get("discriminator", "type")).strip("'")
        if kind == "extra_forbidden":
            known = self.fields_at(loc[:-1])
            guess = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            if guess:
                return f"unknown key (did you mean {guess[0]!r}?)"
            return f"unknown key (known keys: {', '.join(known)})" if known else "unknown key"
        if kind == "missing":
            return "required section missing" if self.is_section(loc) else "required key missing"
        if kind == "union_tag_invalid":
            return (f"unknown {key} {ctx.get('tag')!r} "
                    f"(expected one of {', '.join(self.tags)})")
        if kind == "union_tag_not_found":
            text = f"required key {key!r} missing (one of {', '.join(self.tags)})"
            typos = difflib.get_close_matches(key, list(node), n=1, cutoff=0.6) \
                if isinstance(node, dict) else []
            return text + (f"; is {typos[0]!r} a misspelling of {key!r}?" if typos else "")
        message = str(err["msg"])
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        return message

    def walk(self, loc: Loc) -> tuple[type[BaseModel] | None, bool]:
        """The model at ``loc`` (None if unknown or ambiguous); True if loc names a field."""
        model: type[BaseModel] | None = self.root
        named = False
        for part in loc:
            if isinstance(part, int):
                continue
            if part in self.tags and (model is None or part not in model.model_fields):
                model, named = self.tags[part], False
                continue
            if model is None or part not in model.model_fields:
                return None, False
            model, named = _model_of(model.model_fields[part].annotation), True
        return model, named

    def fields_at(self, loc: Loc) -> list[str]:
        model, _ = self.walk(loc)
        if model is not None:
            return list(model.model_fields)
        names: list[str] = []  # inside a tagged union whose tag is wrong or missing
        if loc and isinstance(loc[-1], int):
            for tagged in self.tags.values():
                names += [n for n in tagged.model_fields if n not in names]
        return names

    def is_section(self, loc: Loc) -> bool:
        model, named = self.walk(loc)
        return model is not None and named


def _node(data: Any, loc: Loc) -> Any:
    """The raw value at ``loc`` in the parsed file, or None."""
    node = data
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
    return node


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The one pydantic model inside ``X``, ``X | None``, ``list[X]``, ``Annotated[X, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin is Annotated:
        return _model_of(get_args(annotation)[0])
    if origin is list:
        return _model_of(get_args(annotation)[0])
    if origin in (Union, UnionType):
        found = {m for m in map(_model_of, get_args(annotation)) if m is not None}
        return found.pop() if len(found) == 1 else None
    return None
