"""Billing tests are about plan limits: billing is on for all of them (see tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _billing_on(billing_on: None) -> None:
    """Every test here runs with LINKFLOW_BILLING=on."""
