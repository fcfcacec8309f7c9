"""The demo catalogue: the 54 products of Vendure's sample shop, with their real photos.

The photos (Unsplash licence) are not committed: ``prepare_vendure`` fetches the
``@vendure/create`` package from the npm registry once, at set-up time, and converts its
``assets/products.csv`` into a lookalike JSONL catalogue whose images are local files.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from plugin.errors import DatasetMissing

VENDURE_PACKAGE = "@vendure/create@3.7.3"


def prepare_vendure(data_dir: Path) -> Path:
    """Return the demo catalogue (``data_dir/vendure/catalogue.jsonl``), fetching it the first time."""
    target = data_dir.resolve() / "vendure"
    catalogue = target / "catalogue.jsonl"
    if catalogue.is_file():
        return catalogue
    npm = shutil.which("npm")
    if npm is None:
        raise DatasetMissing("npm is needed once to fetch the demo catalogue (apt-get install npm).")
    with tempfile.TemporaryDirectory() as scratch:
        packed = subprocess.run([npm, "pack", VENDURE_PACKAGE, "--silent"], cwd=scratch, capture_output=True, text=True)
        if packed.returncode != 0:
            raise DatasetMissing(f"npm pack {VENDURE_PACKAGE} failed: {packed.stderr.strip()[-500:]}")
        with tarfile.open(Path(scratch) / packed.stdout.strip().splitlines()[-1]) as archive:
            archive.extractall(scratch, filter="data")
        assets = Path(scratch) / "package" / "assets"
        images = target / "images"
        images.mkdir(parents=True, exist_ok=True)
        for photo in (assets / "images").iterdir():
            shutil.copyfile(photo, images / photo.name)
        rows = convert_vendure_csv(assets / "products.csv", images)
    partial = catalogue.with_suffix(".partial")
    partial.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    partial.replace(catalogue)  # only a complete catalogue counts as prepared
    return catalogue


def convert_vendure_csv(products_csv: Path, images: Path) -> list[dict[str, object]]:
    """Vendure's product rows (variant rows folded in) as lookalike catalogue rows."""
    with open(products_csv, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader)]
        records = [{key: value.strip() for key, value in zip(header, values)} for values in reader]
    products: list[dict[str, object]] = []
    for record in records:
        if not record["name"]:
            if products:  # a further variant of the product above
                products[-1]["stock"] = int(products[-1]["stock"]) + int(record["stockOnHand"] or 0)  # type: ignore[call-overload]
            continue
        facets = [facet.split(":", 1) for facet in record["facets"].split("|") if ":" in facet]
        products.append(
            {
                "id": record["slug"],
                "title": record["name"],
                "description": record["description"],
                "brand": next((value for key, value in facets if key == "brand"), None),
                "category": " > ".join(value for key, value in facets if key == "category"),
                "tags": [f"{key}:{value}" for key, value in facets if key not in ("category", "brand")],
                "price": record["price"],
                "currency": "USD",
                "stock": int(record["stockOnHand"] or 0),
                "images": [str(images / name.strip()) for name in record["assets"].split("|") if name.strip()],
            }
        )
    for product in products:
        product["in_stock"] = int(product["stock"]) > 0  # type: ignore[call-overload]
        if product["brand"] is None:
            del product["brand"]
    return products
