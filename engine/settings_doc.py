"""docs/settings.md, generated from the Settings model so that it cannot drift (tests/unit/test_settings.py checks).

Regenerate with `python -m engine.settings_doc`.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from engine.settings import ROOT, Settings

DOC_FILE = ROOT / "docs" / "settings.md"
_BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"), ("min_length", "min length"),
           ("max_length", "max length"))


def _type(annotation: Any, metadata: list[Any]) -> str:
    args = get_args(annotation)
    if get_origin(annotation) in (Union, types.UnionType) and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        text = " or ".join(_type(a, []) for a in inner) + " (optional)"
    else:
        text = getattr(annotation, "__name__", str(annotation))
    for m in metadata:
        for attr, sign in _BOUNDS:
            if getattr(m, attr, None) is not None:
                text += f", {sign} {getattr(m, attr)}"
        if getattr(m, "pattern", None):
            text += f", pattern `{m.pattern}`"
    return text


def _default(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, Path):
        value = value.relative_to(ROOT).as_posix() if value.is_relative_to(ROOT) else value.as_posix()
    return f"`{value}`"


def settings_markdown() -> str:
    """The settings reference: one table row per field of Settings, in declaration order."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    lines = [
        "# Settings",
        "",
        "<!-- Generated from engine/settings.py by `python -m engine.settings_doc`; do not edit by hand. -->",
        "",
        f"Each setting is read from the environment variable `{prefix}<NAME>` first, then from the key of the same",
        "name in `.streamlit/secrets.toml`, then falls back to its default. Defaults inside the repository are",
        "shown relative to its root.",
        "",
        "| name | env var | type | default | description |",
        "|---|---|---|---|---|",
    ]
    for name, f in Settings.model_fields.items():
        description = (f.description or "").replace("|", "\\|")
        lines.append(f"| `{name}` | `{prefix}{name.upper()}` | {_type(f.annotation, f.metadata)} | "
                     f"{_default(f.default)} | {description} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    DOC_FILE.write_text(settings_markdown(), encoding="utf-8")
    print(f"wrote {DOC_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
