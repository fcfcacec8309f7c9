"""What the admin views show (``api/admin/data.py``), read from the demo shop's index."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch

from api.admin.data import catalogue_page, index_overview, product_detail
from plugin.config import Config
from plugin.models.registry import spec_for_model
from plugin.opensearch.client import connect


@pytest.fixture(scope="module")
def shop(shop_config: Config) -> Iterator[OpenSearch]:
    client = connect(shop_config)
    yield client
    client.close()


def test_the_overview_names_the_live_index_its_model_and_its_size(shop: OpenSearch, shop_config: Config) -> None:
    overview = index_overview(shop, shop_config)

    spec = spec_for_model(shop_config.model)
    assert overview["alias"] == shop_config.index_alias and overview["index"] in overview["indices"]
    assert overview["model"] == {"name": spec.name, "version": spec.version}
    assert overview["documents"] == catalogue_page(shop, shop_config.index_alias, 1, 1, None)["total"] > 0
    assert overview["size_bytes"] > 0 and "images" in overview["mapping"]["properties"]


def test_the_catalogue_pages_by_title_and_finds_by_words(shop: OpenSearch, shop_config: Config) -> None:
    first, second = (catalogue_page(shop, shop_config.index_alias, page, 5, None) for page in (1, 2))

    names = [p["title"] for p in first["products"] + second["products"]]
    assert names == sorted(names) and len(set(names)) == 10
    assert all(p["thumbnails"] for p in first["products"])
    assert catalogue_page(shop, shop_config.index_alias, 1, 5, "laptop")["products"][0]["title"] == "Laptop"


def test_an_alias_without_an_index_has_an_empty_catalogue(shop: OpenSearch) -> None:
    assert catalogue_page(shop, f"test-none-{uuid.uuid4().hex[:8]}", 1, 5, None) == {"total": 0, "page": 1, "size": 5, "products": []}


def test_a_products_detail_has_its_look_alikes_but_not_itself(shop: OpenSearch, shop_config: Config) -> None:
    detail = product_detail(shop, shop_config.index_alias, "laptop", neighbours=4)

    assert detail is not None and detail["product"]["title"] == "Laptop"
    assert len(detail["similar"]) == 4 and all(s["product_id"] != "laptop" and s["similarity"] is not None for s in detail["similar"])
    assert product_detail(shop, shop_config.index_alias, "no-such-product") is None


def test_a_products_detail_suggests_the_shops_own_category_from_its_nearest_tagged_products(shop: OpenSearch, shop_config: Config) -> None:
    details = [product_detail(shop, shop_config.index_alias, product_id, neighbours=1) for product_id in ("laptop", "tent", "orchid")]

    for detail in details:
        assert detail is not None
        predicted = detail["predicted"]
        # The shop's vocabulary, not the model's ImageNet classes.
        assert predicted["category"] == detail["product"]["category"] and predicted["category_agrees"] is True
        assert 0.0 < predicted["confidence"] <= 1.0
        assert "labels" not in detail
