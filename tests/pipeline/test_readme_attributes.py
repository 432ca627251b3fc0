"""The README's tables of the component's attributes and of the project's environment variables are the
model's and defs.yaml's own: an attribute added, renamed or re-described in code and not in the README
fails here (the message holds the table to paste)."""

from __future__ import annotations

import re
from pathlib import Path

from usersnap_pipeline.components import UsersnapFeedbackComponent, UsersnapTranslation

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _kind(prop: dict) -> str:
    branches = prop.get("anyOf", [prop])
    types = {branch.get("type") for branch in branches}
    if "enum" in prop:
        return " \\| ".join(prop["enum"])
    if "boolean" in types:
        return "true \\| false"
    if "integer" in types:
        return "whole number ≥ 1"
    if "array" in types:
        return "project ids (list or comma-separated)"
    if "object" in types or "$ref" in prop:
        return "mapping"
    if prop.get("format") == "path":
        return "folder"
    pattern = next((branch.get("pattern", "") for branch in branches), "")
    return {r"^\d{4}-\d{2}-\d{2}$": "date"}.get(pattern, "cron" if "{4}" in pattern else
                                                  "URL" if "https" in pattern else "text")


def _default(name: str, model: type) -> str:
    field = model.model_fields[name]
    if field.is_required():
        return "(required)"
    value = field.get_default(call_default_factory=True)
    if value in ((), {}, None, ""):
        return "(none)" if value is None else "(empty)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`" if not isinstance(value, UsersnapTranslation) else "(below)"


def attribute_table() -> str:
    rows = ["| attribute | kind | default | meaning |", "|---|---|---|---|"]
    for model, prefix in ((UsersnapFeedbackComponent, ""), (UsersnapTranslation, "translation.")):
        properties = model.model_json_schema()["properties"]
        for name, field in model.model_fields.items():
            if name == "translation":
                continue
            kind = "variable name" if name.endswith("_env") else _kind(properties[name])
            rows.append(f"| `{prefix}{name}` | {kind} | {_default(name, model)} | {field.description} |")
    return "\n".join(rows)


def _readme_block(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\n(.*?)\n<!-- /{marker} -->", README.read_text(), re.DOTALL)
    assert match, f"README.md has no <!-- {marker} --> block"
    return match.group(1).strip()


def test_the_readme_lists_every_attribute_as_the_model_defines_it():
    expected = attribute_table()
    assert _readme_block("attributes") == expected, f"paste into README.md:\n{expected}"


def test_the_readme_names_every_variable_the_projects_defs_yaml_reads():
    defs_yaml = (ROOT / "usersnap_pipeline" / "defs" / "usersnap" / "defs.yaml").read_text()
    read = dict(re.findall(r"^  (\w+): \"\{\{ env\.(\w+) \}\}\"", defs_yaml, re.MULTILINE))
    named = dict(re.findall(r"^  (\w+_env): (\w+)$", defs_yaml, re.MULTILINE))
    table = _readme_block("variables")
    rows = dict(re.findall(r"^\| `(\w+)` \| `(\w+)` \|", table, re.MULTILINE))
    assert rows == {variable: attribute for attribute, variable in {**read, **named}.items()}
