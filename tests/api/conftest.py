"""The API under test: the demo shop behind an app with an admin key, one allowed origin and no broker."""

from __future__ import annotations

import dataclasses

import pytest
from flask.testing import FlaskClient

from api.app import create_app
from plugin.config import Config
from tests.support.api import KEY, SHOP
from tests.support.cli import free_port


@pytest.fixture(scope="module")
def app_config(shop_config: Config) -> Config:
    # A broker nobody listens on: the admin must answer 503, not 500, when it is down.
    ingest = dataclasses.replace(shop_config.ingest, broker_url=f"redis://127.0.0.1:{free_port()}/0")
    return dataclasses.replace(shop_config, admin_key=KEY, cors_origins=(SHOP,), ingest=ingest)


@pytest.fixture(scope="module")
def api(app_config: Config) -> FlaskClient:
    return create_app(app_config, warm=False).test_client()
