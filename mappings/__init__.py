"""Versioned index templates, kept as JSON data.

A template is ``<name>.v<version>.json`` with ``"${variable}"`` placeholders for what
depends on the deployment (shards, replicas) and on the embedding model (vector sizes,
name, version). :func:`render` fills them in; ``plugin.opensearch.indices`` creates indices
from the result. A new mapping version is a new file, never an edit of a released one,
so an index always matches the template it was created from.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

#: The product template version that new indices are created from.
CURRENT_PRODUCT_VERSION = 5

#: Product mapping versions an index may have to go live behind the alias. Version 1 stores
#: the same fields but lacks the sub-fields and analyzers the keyword signal searches
#: (``category.text``, ``tags.text``, stems, synonyms): live, it would answer without them.
#: Versions 2 to 4 search as version 5 does. Version 2 has no room for gallery views
#: (``images.view``), which ingest refuses to write into it; versions 2 and 3 have none for an
#: image's licence, credit, source and Content Credentials, which ingest leaves out of them;
#: versions 2 to 4 have none for predicted categories and tags, which are then not stored.
LIVE_PRODUCT_VERSIONS = frozenset({2, 3, 4, CURRENT_PRODUCT_VERSION})

#: The first product mapping version with room for gallery views.
GALLERY_VIEWS_VERSION = 3

#: The first product mapping version with room for an image's rights and provenance
#: (``images.licence``, ``images.credit``, ``images.source_url``, ``images.provenance``).
IMAGE_RIGHTS_VERSION = 4

#: The first product mapping version with room for predicted categories and tags
#: (``predicted_category``, ``predicted_tags``, ``predicted``: see :mod:`plugin.tagging.store`).
PREDICTIONS_VERSION = 5

_PLACEHOLDER = re.compile(r"^\$\{([a-z_]+)\}$")


def load(name: str, version: int) -> dict[str, Any]:
    """Return the raw template ``<name>.v<version>.json`` (placeholders left in)."""
    source = resources.files(__name__).joinpath(f"{name}.v{version}.json")
    if not source.is_file():
        raise FileNotFoundError(f"no mapping template {name}.v{version}.json in {__name__}")
    return json.loads(source.read_text(encoding="utf-8"))


def render(template: Any, variables: dict[str, Any]) -> Any:
    """Replace every ``"${name}"`` string in *template* by ``variables[name]``, keeping its type.

    A placeholder without a value raises ``KeyError`` naming it, so a template and its
    renderer cannot drift apart silently.
    """
    if isinstance(template, dict):
        return {key: render(value, variables) for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, variables) for value in template]
    if isinstance(template, str):
        match = _PLACEHOLDER.match(template)
        if match:
            name = match.group(1)
            if name not in variables:
                raise KeyError(f"mapping placeholder ${{{name}}} has no value")
            return variables[name]
    return template
