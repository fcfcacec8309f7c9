"""What the index needs to know about an embedding model: its identity and vector sizes.

Every indexed vector records the model's name and version, so a model change can be
detected and re-embedded into a new index instead of mixing incompatible vectors.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class EmbeddingSpec:
    name: str
    version: str
    image_dims: int
    text_dims: int
    #: True when image and text vectors live in one space (CLIP), so text can search images directly.
    shared_space: bool = False

    def __post_init__(self) -> None:
        # The Lucene HNSW engine accepts 1..16000 dimensions.
        for field in ("image_dims", "text_dims"):
            dims = getattr(self, field)
            if not 1 <= dims <= 16000:
                raise ValueError(f"{field} must be between 1 and 16000, got {dims}")


#: The packaged offline default: EfficientNet-Lite0 image features (1280-d) and
#: all-MiniLM-L6-v2 sentence embeddings (384-d), both shipped inside PyPI packages.
#: Version 2: letterboxed input and GeM pooling (version 1 stretched photos and average-pooled).
OFFLINE_DEFAULT = EmbeddingSpec(
    name="efficientnet-lite0+all-minilm-l6-v2",
    version="2",
    image_dims=1280,
    text_dims=384,
    shared_space=False,
)
