"""Fixtures of the JSON API tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def sup(factory):
    """A supervisor with an API token."""
    return factory.staff("supervisor")


@pytest.fixture
def api(client, sup):
    """The supervisor's API client."""
    from .helpers import Api

    return Api(client, sup)
