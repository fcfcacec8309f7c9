"""``lookalike bench embed``: the model on ONNX Runtime beside PyTorch, in one process, on real photos.

The 54 demo photos (JPEGs of 800 to 1,600 pixels) and their titles, embedded one at a time
as a query is, with decoding and letterboxing included in the photo figure, and in batches
of 16 as ingest does. Both runtimes run in this process with the same thread count, one
after the other, so the machine's load affects them alike; their vectors are compared
photo by photo and text by text. The stages of a photo's preprocessing are timed on their
own, and JPEG draft decoding is measured on 4,032 x 3,024 copies of the photos, the size a
phone camera gives, against decoding every pixel.
"""

from __future__ import annotations

import io
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from evaluation.report import write_json
from plugin.config import Config
from plugin.images.decode import DecodePolicy, decode_image
from plugin.models.base import EmbeddingBackend
from plugin.models.pooling import letterbox
from plugin.models.registry import load_backend, usable_cores
from plugin.models.runtime import RUNTIMES
from sample_data.vendure import prepare_vendure

#: Passes over the photos and titles for each timed figure; medians over all calls.
ROUNDS = 3
#: The side a phone camera's photo has, for the draft-decoding figures.
PHONE_SIZE = (4032, 3024)
NETWORK_SIDE = 224


def run(config: Config, report: Path, rounds: int = ROUNDS) -> dict[str, Any]:
    products = [json.loads(line) for line in prepare_vendure(config.data_dir).read_text(encoding="utf-8").splitlines()]
    photos = [Path(product["images"][0]).read_bytes() for product in products]
    titles = [str(product["title"]) for product in products]
    threads = config.inference_threads or usable_cores()
    backends = {runtime: load_backend(config.model, threads, runtime, config.models_dir) for runtime in RUNTIMES}
    decoded = [decode_image(data, config.decode) for data in photos]

    photo_ms, text_ms, batch16 = {}, {}, {}
    for runtime, backend in backends.items():
        backend.embed_images(decoded[:2])  # first calls allocate; they are not what a shopper waits for
        backend.embed_texts(["warm up"])
        photo_ms[runtime] = _median_ms([lambda data=data: backend.embed_images([decode_image(data, config.decode)]) for data in photos] * rounds)
        # Each text new to the backend, so no cache of recent texts answers.
        text_ms[runtime] = _median_ms(
            [lambda text=f"{title} {i}": backend.embed_texts([text]) for i in range(rounds) for title in titles]
        )
        batch16[runtime] = _images_per_s(backend, decoded, rounds)

    image_cosines = _cosines(backends, lambda backend: backend.embed_images(decoded))
    text_cosines = _cosines(backends, lambda backend: backend.embed_texts(titles))
    decode_ms = _median_ms([lambda data=data: decode_image(data, config.decode) for data in photos] * rounds)
    letterbox_ms = _median_ms([lambda image=image: letterbox(image, NETWORK_SIDE) for image in decoded] * rounds)
    result: dict[str, Any] = {
        "benchmark": "embed",
        "model": backends["onnx"].spec.name,
        "photos": len(photos),
        "texts": len(titles),
        "threads": threads,
        "photo_ms_p50": photo_ms,
        "text_ms_p50": text_ms,
        "batch16_images_per_s": batch16,
        "preprocess_ms_p50": round(decode_ms + letterbox_ms, 2),
        "preprocess_stages_ms_p50": {"decode": decode_ms, "letterbox": letterbox_ms},
        "min_cosine": {"image": round(float(image_cosines.min()), 7), "text": round(float(text_cosines.min()), 7)},
        "onnx_to_torch": {
            "photo": round(photo_ms["onnx"] / photo_ms["torch"], 3),
            "text": round(text_ms["onnx"] / text_ms["torch"], 3),
            "batch16": round(batch16["onnx"] / batch16["torch"], 3),
        },
        "draft_decoding": _draft_figures(backends["onnx"], decoded, rounds),
        "machine": {"cores": usable_cores(), "python": platform.python_version(), "processor": platform.processor() or platform.machine()},
        "notes": (
            "photo: one JPEG's bytes to its vector (decode, letterbox, forward pass, pooling) at batch 1; "
            "text: one new title to its vector; batch16: decoded photos to vectors in batches of 16; "
            "min_cosine: between the two runtimes' vectors of the same photo or text"
        ),
        "command": "lookalike bench embed",
    }
    write_json(report, result)
    return result


def _median_ms(calls: list[Callable[[], object]]) -> float:
    times = []
    for call in calls:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return round(float(np.median(times)) * 1000, 2)


def _images_per_s(backend: EmbeddingBackend, images: list[Image.Image], rounds: int) -> float:
    usable = images[: len(images) // 16 * 16]
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        backend.embed_images(usable)
        rates.append(len(usable) / (time.perf_counter() - start))
    return round(float(np.median(rates)), 1)


def _cosines(backends: dict[str, EmbeddingBackend], embed: Callable[[EmbeddingBackend], np.ndarray]) -> np.ndarray:
    return (embed(backends["onnx"]) * embed(backends["torch"])).sum(axis=1)


def _draft_figures(backend: EmbeddingBackend, images: list[Image.Image], rounds: int) -> dict[str, Any]:
    """Decoding phone-sized JPEGs at a reduced DCT scale against decoding every pixel: time and vectors."""
    phone = []
    for image in images:
        size = PHONE_SIZE if image.width >= image.height else PHONE_SIZE[::-1]
        buffer = io.BytesIO()
        image.resize(size, Image.BICUBIC).save(buffer, "JPEG", quality=90)
        phone.append(buffer.getvalue())
    draft, whole = DecodePolicy(), DecodePolicy(draft_side=0)
    drafted = [decode_image(data, draft) for data in phone]
    similarity = (backend.embed_images(drafted) * backend.embed_images([decode_image(data, whole) for data in phone])).sum(axis=1)
    return {
        "photo_size": list(PHONE_SIZE),
        "decoded_size": list(drafted[0].size),
        "decode_ms_p50": {
            "draft": _median_ms([lambda data=data: decode_image(data, draft) for data in phone] * rounds),
            "whole": _median_ms([lambda data=data: decode_image(data, whole) for data in phone] * rounds),
        },
        "vector_cosine_to_whole": {"min": round(float(similarity.min()), 4), "mean": round(float(similarity.mean()), 4)},
    }
