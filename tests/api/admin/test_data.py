"""What the admin views show (``api/admin/data.py``), read from the demo shop's index."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from opensearchpy import OpenSearch

from api.admin.data import catalogue_page, index_overview, product_detail
from plugin.config import Config
from plugin.models.registry import backend_for, spec_for_model
from plugin.opensearch.client import connect


@pytest.fixture(scope="module")
def embed_text(shop_config: Config) -> Callable[[str], list[float]]:
    """The shop's text model, as the admin's product page embeds a product's words."""
    backend = backend_for(shop_config)
    return lambda text: list(backend.embed_texts([text])[0])


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


def test_a_products_detail_has_its_look_alikes_but_not_itself(shop: OpenSearch, shop_config: Config, embed_text: Callable[[str], list[float]]) -> None:
    detail = product_detail(shop, shop_config.index_alias, "laptop", embed_text, neighbours=4)

    assert detail is not None and detail["product"]["title"] == "Laptop"
    assert len(detail["similar"]) == 4 and all(s["product_id"] != "laptop" and s["similarity"] is not None for s in detail["similar"])
    assert product_detail(shop, shop_config.index_alias, "no-such-product", embed_text) is None


def test_a_products_detail_suggests_categories_in_the_shops_own_words_mostly_its_own(
    shop: OpenSearch, shop_config: Config, embed_text: Callable[[str], list[float]]
) -> None:
    products = catalogue_page(shop, shop_config.index_alias, 1, 10, None)["products"]
    # Suggested from each product's words without its category (which its stored text vector holds).
    details = [product_detail(shop, shop_config.index_alias, p["product_id"], embed_text, neighbours=1) for p in products]

    vocabulary = {p["category"] for p in catalogue_page(shop, shop_config.index_alias, 1, 100, None)["products"]}
    suggested = [detail["predicted"] for detail in details if detail is not None]
    assert len(suggested) == 10 and all(s["category"] in vocabulary and 0.0 < s["confidence"] <= 1.0 for s in suggested)
    assert all(s["category_agrees"] == (s["category"] == d["product"]["category"]) for s, d in zip(suggested, details) if d)
    assert sum(s["category_agrees"] for s in suggested) >= 8  # the evaluation's demo-shop micro-F1 is 0.91
    assert all("labels" not in detail for detail in details if detail)