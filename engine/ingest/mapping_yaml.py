"""Column mappings as YAML files (`python -m engine mapping save|show`): what `show --yaml` prints, `save` reads.

A refusal names the file, the line and what was expected there: YAML syntax errors carry their own position; a
profile that does not validate is traced back to the line of the offending key through the composed node tree.
Only PyYAML's safe loader is used (no tags, no objects).
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from engine.errors import InputError
from engine.ingest.contract.mapping import MappingProfile
from engine.ingest.mapping_profiles import check_tag_keys

KEYS = tuple(MappingProfile.model_fields)


def to_yaml(profile: MappingProfile) -> str:
    """The profile's non-default fields in the model's order; `from_yaml` reads it back to the same profile."""
    body = profile.model_dump(mode="json", exclude_defaults=True)
    body = {"name": profile.name, "target_table": profile.target_table, **body}
    return str(yaml.safe_dump(body, sort_keys=False, allow_unicode=True, default_flow_style=False, width=120))


def _line_of(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int:
    """1-based line of the deepest node on `loc` that exists (the document's first line when none does)."""
    node, line = root, (root.start_mark.line + 1 if root is not None else 1)
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                line, node = key.start_mark.line + 1, value
                break
        else:
            break
    return line


def from_yaml(text: str, file_name: str = "<yaml>") -> MappingProfile:
    """A profile from YAML text, or an InputError: `FILE:LINE: expected …`, one line per problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise InputError(f"{file_name}:{line}: expected valid YAML ({exc.problem or exc.context})") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{file_name}: expected valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{file_name}:{_line_of(root, ())}: expected a mapping with the keys "
                         f"{', '.join(KEYS)} (got {type(data).__name__})")
    try:
        profile = MappingProfile.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = ".".join(str(p) for p in loc) or "mapping"
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"expected one of the keys {', '.join(KEYS)} here" if len(loc) == 1 else "not a key here"
            lines.append(f"{file_name}:{_line_of(root, loc)}: {where}: {msg}")
        raise InputError("\n".join(lines)) from None
    try:
        check_tag_keys(profile)
    except InputError as exc:
        raise InputError(f"{file_name}:{_line_of(root, ('tags',))}: tags: {exc}") from None
    return profile
