"""Config validation errors in words an installer understands: ``file: key.path: reason``.

Generic over the root pydantic model, so the agent config and the simulator's
scenario files share it. Unknown keys get a "did you mean" hint, a missing
table is called a section, and the discriminator tag that pydantic inserts
into the location of a tagged union (``inputs.0.button.pin``) is dropped.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

Loc = tuple[int | str, ...]


def describe_errors(exc: ValidationError, root: type[BaseModel], *,
                    data: Mapping[str, Any] | None = None,
                    tags: Mapping[str, type[BaseModel]] | None = None) -> list[str]:
    """One ``key.path: reason`` line per pydantic error.

    ``data`` (the parsed TOML) lets list items be labelled with their zone;
    ``tags`` maps the discriminator values of a tagged union to their models.
    """
    helper = _Describer(root, dict(tags or {}))
    lines: list[str] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = helper.format_loc(helper.strip_tags(loc), data)
        reason = helper.reason(err, loc, _node(data, helper.strip_tags(loc)))
        lines.append(f"{where}: {reason}" if where else reason)
    return lines


class _Describer:
    def __init__(self, root: type[BaseModel], tags: dict[str, type[BaseModel]]) -> None:
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
