"""What the API's tests share besides fixtures: the admin key, the shop's origin, request helpers."""

from __future__ import annotations

import io
import re
from typing import Any

from flask.testing import FlaskClient

#: The admin key of the test app (``tests/api/conftest.py:app_config``).
KEY = "k3y-for-tests"
#: The one origin the test app lets read its public routes.
SHOP = "https://shop.example"


def upload(api: FlaskClient, data: bytes, **fields: str) -> Any:
    """``POST /search`` with *data* as the uploaded photo and *fields* as the form's other fields."""
    return api.post("/search", data={"image": (io.BytesIO(data), "query.jpg"), **fields}, content_type="multipart/form-data")


def titles(response: Any) -> list[str]:
    """The titles of a successful search's hits, in order."""
    assert response.status_code == 200, response.get_json()
    return [hit["title"] for hit in response.get_json()["hits"]]


def page_token(response: Any) -> str:
    """The anti-forgery token an admin page (or the login form) was served with."""
    found = re.search(r'name="csrf[-_]token" (?:value|content)="([^"]*)"', response.get_data(as_text=True))
    assert found, "the page carries no anti-forgery token"
    return found.group(1)


def log_in(api: FlaskClient, key: str = KEY, next_path: str = "/admin/") -> Any:
    """Log *api* in through the login form, as a browser does: the form first, then its POST with the token."""
    form = api.get("/admin/login")
    return api.post("/admin/login", data={"key": key, "next": next_path, "csrf_token": page_token(form)})
