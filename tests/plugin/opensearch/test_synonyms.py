"""The shop's synonyms: read from a Solr-format file, checked line by line, and used by the real node."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from opensearchpy import OpenSearch, helpers

from plugin.config import Config
from plugin.errors import ConfigError
from plugin.opensearch import indices
from plugin.opensearch.synonyms import read_synonyms
from plugin.search.request import Query
from plugin.search.service import search
from tests.support.models import TINY_SPEC, hand_made_document


def test_rules_are_read_without_comments_or_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "synonyms.txt"
    path.write_text("# the shop's words\nsofa, couch, settee\n\ntv => television  # one way\n", encoding="utf-8")

    assert read_synonyms(path) == ["sofa, couch, settee", "tv => television"]
    assert read_synonyms(None) == []


@pytest.mark.parametrize(
    ("line", "problem"),
    [("sofa", "at least two"), ("a => b => c", "at most one '=>'"), ("sofa, , couch", "non-empty"), ("=> television", "non-empty")],
)
def test_a_bad_rule_is_reported_with_its_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "synonyms.txt"
    path.write_text(f"sofa, couch\n{line}\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=f"synonyms.txt:2: .*{problem}"):
        read_synonyms(path)


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        read_synonyms(tmp_path / "nope.txt")


def test_the_index_searches_with_the_shops_synonyms(client: OpenSearch, config: Config, tmp_path: Path) -> None:
    path = tmp_path / "synonyms.txt"
    path.write_text("sofa, couch\n", encoding="utf-8")
    config = dataclasses.replace(config, synonyms_file=path)
    indices.ensure_product_index(client, config, TINY_SPEC)
    source = hand_made_document({"id": "couch-1", "title": "Grey fabric couch"}, [([1.0, 0.0, 0.0, 0.0], "c1")], [1.0, 0.0, 0.0])
    helpers.bulk(client, [{"_index": config.index_alias, "_id": "couch-1", "_source": source}], refresh=True)

    found = search(client, config.index_alias, Query(text="sofa", weights={"keywords": 1.0}))

    assert [hit["product_id"] for hit in found.hits] == ["couch-1"]
