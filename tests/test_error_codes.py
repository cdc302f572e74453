"""The error codes clients branch on: each domain owns its own (the ``error_codes.py`` of
its app, the generic ones in linkflow.core.errors), no two share a value, and
docs/api.md's error table lists every one."""

import importlib
import importlib.util
import re
from enum import StrEnum
from pathlib import Path

from django.apps import apps

from linkflow.core.errors import ErrorCode

API_DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def domain_enums() -> list[type[StrEnum]]:
    """ErrorCode and every StrEnum of an installed app's ``error_codes`` module."""
    found: list[type[StrEnum]] = [ErrorCode]
    for config in apps.get_app_configs():
        name = f"{config.name}.error_codes"
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        found += [
            value
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum
        ]
    return list(dict.fromkeys(found))


def domain_codes() -> list[tuple[str, StrEnum]]:
    """(enum name, member) of every code of every domain."""
    return [(enum.__name__, member) for enum in domain_enums() for member in enum]


def documented_codes() -> set[str]:
    text = API_DOC.read_text()
    table = text[text.index("| status | code | when | details |") :].split("\n\n", 1)[0]
    codes = set()
    for line in table.splitlines()[2:]:
        codes |= set(re.findall(r"`([a-z0-9_]+)`", line.split("|")[2]))
    return codes


def test_every_domain_of_the_design_owns_an_error_codes_module():
    owners = {enum.__module__ for enum in domain_enums()}

    assert {
        "linkflow.core.errors",
        "linkflow.accounts.error_codes",
        "workflows.error_codes",
        "executions.error_codes",
        "credentials.error_codes",
        "billing.error_codes",
    } <= owners


def test_no_two_codes_share_a_value_across_the_domains():
    owners: dict[str, list[str]] = {}
    for enum_name, member in domain_codes():
        owners.setdefault(member.value, []).append(enum_name)

    assert {value: names for value, names in owners.items() if len(names) > 1} == {}


def test_the_api_doc_lists_every_code_and_no_other():
    codes = {member.value for _, member in domain_codes()}

    assert documented_codes() == codes
