"""The held-out catalogue: Tux Paint stamps become catalogue rows with a name, a group and a photo.

The real package is fetched by ``lookalike eval heldout``; here a stamps tree laid out as the
package lays it out checks what is kept, what is left out and how captions become names.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from plugin.catalogue.reader import Product
from sample_data.heldout import convert_stamps


def stamp(stamps: Path, key: str, caption: str | None) -> None:
    path = stamps / f"{key}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", (40, 30), (200, 30, 30, 255)).save(path)
    if caption is not None:
        path.with_suffix(".txt").write_text(f"{caption}\nOther languages follow.\n", encoding="utf-8")


def test_photo_stamps_of_everyday_goods_become_rows_and_the_rest_is_left_out(tmp_path: Path) -> None:
    stamps, images = tmp_path / "stamps", tmp_path / "images"
    images.mkdir()
    stamp(stamps, "food/fruit/apple_fuji", "A “Fuji” apple.")
    stamp(stamps, "household/toilet", "Flush it! A toilet with its lid up.")  # a sentence: its name is set by hand
    stamp(stamps, "food/fruit/apple_fuji_mirror", "A “Fuji” apple.")  # a mirrored duplicate
    stamp(stamps, "food/cartoon/pie", "A pie.")  # a drawing
    stamp(stamps, "food/pizza", "Pizza.")  # listed as not a photo
    stamp(stamps, "animals/cat", "A cat.")  # not a folder of goods
    stamp(stamps, "sports/ball", None)  # no caption

    rows = convert_stamps(stamps, images)

    assert [(row["id"], row["title"], row["category"]) for row in rows] == [
        ("tuxpaint-food-fruit-apple-fuji", "Fuji apple", "Food > Fruit"),
        ("tuxpaint-household-toilet", "Toilet", "Household"),
    ]
    assert rows[0]["description"] == "A “Fuji” apple."
    for row in rows:
        Product.model_validate(row)  # a valid catalogue row
        assert Path(str(row["images"][0])).parent == images and Image.open(row["images"][0]).size == (40, 30)
