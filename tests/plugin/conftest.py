"""The hand-made shop the search and recommendation tests query: six products whose right answers are known."""

from __future__ import annotations

import pytest
from opensearchpy import OpenSearch, helpers

from plugin.config import Config
from plugin.opensearch import indices
from tests.support.models import TINY_SPEC, hand_made_document

# id: (image vectors, text vector, title, category, brand, tags, price, in stock, rating, popularity)
PRODUCTS: dict[str, tuple[list[list[float]], list[float], str, str, str, list[str], float, bool, float, float]] = {
    "red-sneaker": ([[1, 0, 0, 0]], [1, 0, 0], "Red leather sneaker", "Women > Shoes > Sneakers", "Acme", ["red", "leather"], 80, True, 4.5, 10),
    "red-boot": ([[0.9, 0.3, 0, 0], [0, 0, 0, 1]], [0.8, 0.2, 0], "Red ankle boot", "Women > Shoes > Boots", "Acme", ["red"], 120, True, 4.0, 50),
    "blue-sneaker": ([[0.7, 0.7, 0, 0]], [0.9, 0, 0.1], "Blue canvas sneaker", "Men > Shoes > Sneakers", "Zeta", ["blue", "canvas"], 60, False, 3.5, 30),
    "red-bag": ([[0.95, 0, 0.1, 0]], [0, 1, 0], "Red leather bag", "Women > Bags", "Acme", ["red", "leather"], 200, True, 5.0, 5),
    "green-scarf": ([[0, 0, 1, 0]], [0, 0, 1], "Green wool scarf", "Women > Accessories", "Zeta", ["green", "wool"], 30, True, 4.8, 70),
    "grey-sock": ([[0, 0.2, 0.9, 0]], [0.1, 0.1, 0.9], "Grey wool sock", "Men > Accessories", "Zeta", ["grey", "wool"], 10, True, 3.0, 90),
}
#: The red sneaker and the red bag share a (pretend) main photo: near duplicates.
SHARED_MAIN_PHOTO = {"red-sneaker": "ff00", "red-bag": "ff00"}


@pytest.fixture
def shop(client: OpenSearch, config: Config) -> str:
    """The six products, indexed behind this test's alias; returns the alias."""
    indices.ensure_product_index(client, config, TINY_SPEC)
    actions = []
    for pid, (images, text, title, category, brand, tags, price, stock, rating, popularity) in PRODUCTS.items():
        fields = {
            "id": pid, "title": title, "category": category, "brand": brand, "tags": tags, "price": price,
            "in_stock": stock, "rating": rating, "popularity": popularity,
        }
        # The main photo's hash is the product's near-duplicate group (dup_group); other photos' hashes are their own.
        hashes = [SHARED_MAIN_PHOTO.get(pid, pid), *(f"{pid}-{i}" for i in range(1, len(images)))]
        source = hand_made_document(fields, list(zip(images, hashes)), text)
        actions.append({"_index": config.index_alias, "_id": pid, "_source": source})
    helpers.bulk(client, actions, refresh=True)
    return config.index_alias
