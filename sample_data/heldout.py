"""A held-out catalogue: about 115 real object photos from Tux Paint's stamp collection.

Nothing here was used to build or tune lookalike, so it checks how search does on photos it has
never seen. The photos (GPL-2+, Bill Kendrick and the Tux Paint contributors) are not
committed: ``prepare_heldout`` downloads Debian's ``tuxpaint-stamps-default`` package once, at
set-up time, unpacks it and writes a lookalike JSONL catalogue whose images are local files.

Each stamp is one object photographed and cut out on a transparent background, much like a
shop's packshot, with an English caption (the title and description here) and a folder that
groups it (the category, e.g. ``Food > Fruit``). Only the folders of everyday goods are taken;
cartoon folders, mirrored duplicates and the stamps that are drawings rather than photos are
left out.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from plugin.errors import DatasetMissing

HELDOUT_PACKAGE = "tuxpaint-stamps-default"
#: Pinned so the held-out set never changes under a report; Debian 12 (bookworm) has this version.
HELDOUT_VERSION = "2022.06.04-1"
#: Stamp folders (under ``/usr/share/tuxpaint/stamps``) whose photos are everyday goods.
_FOLDERS = ("food", "household", "hobbies", "sports", "medical", "clothes", "vehicles")
#: Stamps in those folders that are drawings, not photos, or not one whole object.
_NOT_PHOTOS = frozenset(
    {
        "clothes/button",
        *(f"clothes/hats/{hat}" for hat in ("blue_fedora", "feathered_hat", "green_fedora", "propeller_hat")),
        *(f"clothes/hats/{hat}" for hat in ("sombrero", "tophat")),
        *(f"clothes/t_{garment}" for garment in ("baseballcap", "glove", "jacket", "pants", "poloshirt")),
        *(f"clothes/t_{garment}" for garment in ("scarf", "shirt", "sock", "tshirt")),
        "food/pizza",
        "household/dishes/glass",  # a clear glass: next to nothing is left once the background is gone
        "medical/tooth",
        "sports/rugby_goal_posts",
        "vehicles/emergency/sedan_police",  # only the emblems to put on a car
    }
)
#: Titles for the stamps whose caption is a sentence rather than a name.
_TITLES = {
    "food/vegetables/broccoli": "Broccoli",
    "food/fruit/orange_seville": "Seville orange",
    "household/toilet": "Toilet",
    "medical/stethoscope": "Stethoscope",
    "vehicles/7spoke256": "Car wheel",
}
_ARTICLE = re.compile(r"^(a|an|the)\s+", re.IGNORECASE)


def prepare_heldout(data_dir: Path) -> Path:
    """Return the held-out catalogue (``data_dir/heldout/catalogue.jsonl``), fetching it the first time."""
    target = data_dir.resolve() / "heldout"
    catalogue = target / "catalogue.jsonl"
    if catalogue.is_file():
        return catalogue
    apt_get, dpkg_deb = shutil.which("apt-get"), shutil.which("dpkg-deb")
    if apt_get is None or dpkg_deb is None:
        raise DatasetMissing("apt-get and dpkg-deb (Debian or Ubuntu) are needed once to fetch the held-out photos.")
    with tempfile.TemporaryDirectory() as scratch:
        fetched = subprocess.run(
            [apt_get, "download", f"{HELDOUT_PACKAGE}={HELDOUT_VERSION}"], cwd=scratch, capture_output=True, text=True
        )
        packages = sorted(Path(scratch).glob(f"{HELDOUT_PACKAGE}_*.deb"))
        if fetched.returncode != 0 or not packages:
            raise DatasetMissing(
                f"apt-get download {HELDOUT_PACKAGE}={HELDOUT_VERSION} failed (run apt-get update first): "
                f"{fetched.stderr.strip()[-500:]}"
            )
        unpacked = Path(scratch) / "unpacked"
        extracted = subprocess.run([dpkg_deb, "-x", str(packages[0]), str(unpacked)], capture_output=True, text=True)
        if extracted.returncode != 0:
            raise DatasetMissing(f"dpkg-deb -x {packages[0].name} failed: {extracted.stderr.strip()[-500:]}")
        images = target / "images"
        images.mkdir(parents=True, exist_ok=True)
        rows = convert_stamps(unpacked / "usr" / "share" / "tuxpaint" / "stamps", images)
        shutil.copyfile(unpacked / "usr" / "share" / "doc" / HELDOUT_PACKAGE / "copyright", target / "COPYRIGHT")
    partial = catalogue.with_suffix(".partial")
    partial.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    partial.replace(catalogue)  # only a complete catalogue counts as prepared
    return catalogue


def convert_stamps(stamps: Path, images: Path) -> list[dict[str, object]]:
    """The photo stamps of the chosen folders as lookalike catalogue rows, their PNGs copied into ``images``."""
    rows: list[dict[str, object]] = []
    for folder in _FOLDERS:
        for photo in sorted((stamps / folder).rglob("*.png")):
            key = photo.relative_to(stamps).with_suffix("").as_posix()
            caption_file = photo.with_suffix(".txt")
            skipped = "cartoon" in key.split("/") or key.endswith("_mirror") or key in _NOT_PHOTOS
            if skipped or not caption_file.is_file():
                continue
            caption = caption_file.read_text(encoding="utf-8").splitlines()[0].strip()
            local = images / (key.replace("/", "-") + ".png")
            shutil.copyfile(photo, local)
            rows.append(
                {
                    "id": "tuxpaint-" + re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-"),
                    "title": _TITLES.get(key) or _title(caption),
                    "description": caption,
                    "category": " > ".join(level.replace("_", " ").title() for level in key.split("/")[:-1]),
                    "tags": [],
                    "images": [str(local)],
                    "in_stock": True,
                }
            )
    return rows


def _title(caption: str) -> str:
    """A product name from a stamp's caption: 'A “Fuji” apple.' becomes 'Fuji apple'."""
    first = re.split(r"(?<=[.!?])\s", caption, maxsplit=1)[0].rstrip(".!?").strip()
    name = _ARTICLE.sub("", first).translate(str.maketrans("", "", "“”\"'"))
    return name[:1].upper() + name[1:]
