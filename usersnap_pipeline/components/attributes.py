"""The kinds of value the Usersnap component's attributes take, each checked where it enters.

Every type here says two things: how Python checks a value (pydantic, when the code location loads,
after templates such as ``{{ env.USERSNAP_PROJECT_IDS }}`` are rendered) and how YAML may spell it (the
JSON schema ``dg check yaml`` validates ``defs.yaml`` against, before anything loads). A literal value
is checked by both; a template only once rendered, as ``dg check yaml`` cannot know the environment.

Attributes that may hold a secret by mistake (a password in a URL, a key in a variable's name) have no
pattern in the schema: jsonschema's messages repeat the value, so they are checked at load only, by
messages that never show it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from ..orchestration.resources import WarehouseResource
from ..usersnap import UsersnapConfigError, validate_api_url

# A value still to be rendered when the code location loads: any attribute may be one.
TEMPLATE_SCHEMA = {"type": "string", "pattern": r"\{\{.*\}\}",
                   "description": "a template rendered when the code location loads, e.g. {{ env.NAME }}"}

_DAY = r"^\d{4}-\d{2}-\d{2}$"
_CRON_FIELD = r"[0-9A-Za-z*/,?#-]+"
_CRON = rf"^\s*{_CRON_FIELD}(\s+{_CRON_FIELD}){{4}}\s*$"
_PROJECT_ID = r"[A-Za-z0-9][A-Za-z0-9_-]*"
_PROJECT_LIST = rf"^\s*({_PROJECT_ID}\s*(,\s*{_PROJECT_ID}\s*)*)?$"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOOPBACK_HOSTS = r"(localhost|127\.\d+\.\d+\.\d+|\[::1\])"
_API_URL = rf"^(https://[^/\s]+|http://{_LOOPBACK_HOSTS}(:\d+)?)(/\S*)?$"
KEY_PREFIX = r"^[a-z][a-z0-9_]{0,39}$"


def _first_day(value: Any) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.match(_DAY, value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a date like 2026-05-01")


def _not_in_the_future(day: date) -> date:
    if day > date.today():
        raise ValueError(f"{day} is in the future; pick a day up to today")
    return day


def _whole_number(value: Any) -> Any:
    # "4" from a template or quoted YAML is a number; 4.5, True and "four" are not.
    if isinstance(value, str) and re.match(r"^\s*-?\d+\s*$", value):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    return value


def _project_ids(value: Any) -> tuple[str, ...]:
    # A list from YAML, or the comma-separated string a template renders; a template rendering one
    # numeric id yields an int, several a tuple.
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError("give a list of project ids, or one string of comma-separated ids")
    ids = tuple(str(item).strip() for item in value)
    bad = [item for item in ids if not re.fullmatch(_PROJECT_ID, item)]
    if bad:
        raise ValueError(f"{', '.join(map(repr, bad))} {'is not a project id' if len(bad) == 1 else 'are not project ids'}"
                         "; give the ids from Usersnap (or none for every project)")
    if len(set(ids)) != len(ids):
        raise ValueError("a project is listed twice")
    return ids


def _cron(value: str) -> str:
    if not re.match(_CRON, value):
        raise ValueError(f"{value!r} is not a cron expression of 5 fields, e.g. '5 * * * *'")
    return " ".join(value.split())


def _api_url(value: str) -> str:
    try:
        return validate_api_url(value.strip())
    except UsersnapConfigError as exc:  # its message names the environment variable; here it is the attribute
        raise ValueError(str(exc).removeprefix("USERSNAP_API_URL ")) from None


def _variable_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError("must be the name of an environment variable (letters, digits and underscores), never "
                         "its value: the value is read from the environment at run time (not shown here)")
    return value


def _warehouse_url(value: str) -> str:
    # The value is never part of a message: a URL may hold a password.
    if not WarehouseResource.accepts(value):
        raise ValueError("must be a SQLAlchemy URL starting with sqlite:// or postgresql:// (the value is not shown)")
    if _holds_password(value):
        raise ValueError("holds a password: put the URL in an environment variable and give its name as "
                         "warehouse_url_env instead (the value is not shown)")
    return value


def _holds_password(url: str) -> bool:
    try:
        return sa.make_url(url).password is not None
    except sa.exc.ArgumentError:
        return False


FirstDay = Annotated[date, BeforeValidator(_first_day), AfterValidator(_not_in_the_future),
                     WithJsonSchema({"type": "string", "pattern": _DAY})]
PositiveInt = Annotated[int, BeforeValidator(_whole_number), Field(ge=1),
                        WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1},
                                                  {"type": "string", "pattern": r"^\s*0*[1-9]\d*\s*$"}]})]
Flag = Annotated[bool, WithJsonSchema({"anyOf": [{"type": "boolean"}, {
    "type": "string", "pattern": r"(?i)^\s*(true|false|yes|no|on|off|1|0)\s*$"}]})]
ProjectIds = Annotated[tuple[str, ...], BeforeValidator(_project_ids), WithJsonSchema({"anyOf": [
    {"type": "array", "items": {"type": "string", "pattern": rf"^{_PROJECT_ID}$"}, "uniqueItems": True},
    {"type": "string", "pattern": _PROJECT_LIST}]})]
Cron = Annotated[str, AfterValidator(_cron), WithJsonSchema({"type": "string", "pattern": _CRON})]
ApiUrl = Annotated[str, AfterValidator(_api_url), WithJsonSchema({"type": "string", "pattern": _API_URL})]
VariableName = Annotated[str, AfterValidator(_variable_name), WithJsonSchema({"type": "string"})]
WarehouseUrl = Annotated[str, AfterValidator(_warehouse_url), WithJsonSchema({"type": "string"})]
# Whether a schedule or the sensor runs once the code location is deployed; either way it can be
# turned on or off in the UI (Automation), which then wins.
AutomationStatus = Literal["running", "stopped"]
