"""What a search asks for: the query vectors and words, filters, fusion, sorting, a profile, a page.

One set of pydantic models, validated here only: the API's request body embeds them, the
OpenAPI document is generated from them, and Python callers build them directly. A bad
value raises :class:`pydantic.ValidationError` (a :class:`ValueError`) naming the field.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from plugin.search.profiles import PROFILES, unknown_params


class Sort(str, enum.Enum):
    """Result orders: by relevance, or by a product field over the relevant set."""

    relevance = "relevance"
    price_asc = "price_asc"
    price_desc = "price_desc"
    popularity = "popularity"
    rating = "rating"
    newest = "newest"


class Fusion(str, enum.Enum):
    """How the signals' ranked lists become one (:mod:`plugin.search.fusion`)."""

    adaptive = "adaptive"
    rrf = "rrf"
    weighted = "weighted"


class QueryKind(str, enum.Enum):
    """What a query holds, which decides its default weights (:mod:`plugin.search.ranking`)."""

    text = "text"
    photo = "photo"
    photo_and_text = "photo_and_text"


SIGNALS = ("image", "text", "text_image", "keywords")
#: A pseudonymous shopper or session id: the page's own random id, never a name or an address.
PSEUDONYM = r"^[A-Za-z0-9._:-]{1,128}$"
#: Candidates each signal contributes, and the deepest result a page can reach. k-NN cost
#: grows with it: on 60,000 products a photo search took 20 ms at 100 and 32 ms at 200.
WINDOW = 100
#: Candidates the HNSW search keeps while it walks the graph (Lucene's default is k). With
#: k = 100, the evaluation catalogue (334 products, 200 of them near-identical titles) lost 2
#: of its 54 products' own text vectors from the top 100; 200 lost 1, 256 none.
EF_SEARCH = 256


class Weights(BaseModel):
    """How loudly each signal votes; a signal weighted 0 is not queried at all.

    A signal left out keeps the shop's weight for this kind of query (text, photo, or both;
    :class:`plugin.search.ranking.RankingSettings`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: float | None = Field(default=None, ge=0, le=100)
    text: float | None = Field(default=None, ge=0, le=100)
    text_image: float | None = Field(default=None, ge=0, le=100)
    keywords: float | None = Field(default=None, ge=0, le=100)

    def given(self) -> dict[str, float]:
        """Only the weights that were set."""
        return {name: value for name, value in self.model_dump().items() if value is not None}


class RegionVector(BaseModel):
    """A part of the query photo searched beside the whole (:mod:`plugin.search.regions`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vector: list[float]
    #: Its matches' scores are multiplied by this: a part of a photo is less sure evidence than the whole.
    weight: float = Field(default=1.0, gt=0, le=1)


class Filters(BaseModel):
    """Which products may be returned; every signal applies them inside its own search."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: A category and everything below it, e.g. ``Women > Shoes``.
    category: str | None = Field(default=None, max_length=500)
    brands: tuple[str, ...] = Field(default=(), max_length=50)
    tags_any: tuple[str, ...] = Field(default=(), max_length=50)
    tags_all: tuple[str, ...] = Field(default=(), max_length=50)
    tags_none: tuple[str, ...] = Field(default=(), max_length=50)
    price_min: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    price_max: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    in_stock: bool | None = None
    rating_min: float | None = Field(default=None, ge=0, le=5)
    #: The category and tags predicted from the shop's tagged products (:mod:`plugin.tagging.store`),
    #: when the shop lets searches use them (``LOOKALIKE_PREDICTED_FILTERS``).
    predicted_category: str | None = Field(default=None, max_length=500)
    predicted_tags_any: tuple[str, ...] = Field(default=(), max_length=50)
    #: Products never to return (the product itself, for "more like this"). OpenSearch refuses an
    #: empty id, and ids over 512 bytes exist nowhere (512 characters bound them loosely).
    exclude_ids: tuple[Annotated[str, Field(min_length=1, max_length=512)], ...] = Field(default=(), max_length=1000)

    @model_validator(mode="after")
    def _price_order(self) -> Filters:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise PydanticCustomError("price_order", "price_min must not exceed price_max")
        return self

    def clause(self) -> dict[str, Any]:
        """One ``bool`` query that every signal applies inside its own search."""
        must: list[dict[str, Any]] = []
        must_not: list[dict[str, Any]] = []
        if self.category:
            must.append({"term": {"category_path": self.category}})
        if self.brands:
            must.append({"terms": {"brand": list(self.brands)}})
        if self.tags_any:
            must.append({"terms": {"tags": [t.lower() for t in self.tags_any]}})
        must.extend({"term": {"tags": t.lower()}} for t in self.tags_all)
        if self.tags_none:
            must_not.append({"terms": {"tags": [t.lower() for t in self.tags_none]}})
        if self.price_min is not None or self.price_max is not None:
            bounds = {k: v for k, v in (("gte", self.price_min), ("lte", self.price_max)) if v is not None}
            must.append({"range": {"price": bounds}})
        if self.in_stock is not None:
            must.append({"term": {"in_stock": self.in_stock}})
        if self.rating_min is not None:
            must.append({"range": {"rating": {"gte": self.rating_min}}})
        if self.predicted_category:
            must.append({"term": {"predicted_category": self.predicted_category}})
        if self.predicted_tags_any:
            must.append({"terms": {"predicted_tags": [t.lower() for t in self.predicted_tags_any]}})
        if self.exclude_ids:
            must_not.append({"ids": {"values": list(self.exclude_ids)}})
        return {"bool": {"filter": must, "must_not": must_not}}

    def knn_parts(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The positive clauses, to run inside k-NN, and the exclusions, to apply after it.

        Inside k-NN (nested image vectors above all), exclusions do not work on OpenSearch
        2.19: a filter made only of ``must_not`` clauses filters nothing, and adding a
        positive clause that every product matches removes everything. Exclusions are
        rarely selective, so applying them to the k-NN result costs little recall.
        """
        clause = self.clause()["bool"]
        inside = {"bool": {"filter": clause["filter"]}} if clause["filter"] else None
        return inside, clause["must_not"]


class SearchOptions(BaseModel):
    """How results are filtered, fused, ranked and paged: what every search request shares."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)

    filters: Filters = Filters()
    #: None: the shop's ranking settings decide (adaptive unless tuned otherwise).
    fusion: Fusion | None = None
    sort: Sort = Sort.relevance
    page: int = Field(default=1, ge=1)
    size: int = Field(default=20, ge=1, le=100)
    min_score: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    facets: bool = False
    explain: bool = False
    #: A ranking profile (:mod:`plugin.search.profiles`) and parameters overriding its defaults.
    profile: str | None = None
    #: Finite and non-negative: the scripts multiply scores by them, and OpenSearch refuses a negative or NaN score.
    profile_params: dict[str, Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]] | None = Field(default=None, max_length=10)
    #: Show one product per near-duplicate group (same perceptual hash of the main photo).
    collapse_duplicates: bool = False
    #: The searching shopper's pseudonymous id (the one their events carry), for the ``personal`` profile.
    shopper: str | None = Field(default=None, pattern=PSEUDONYM)

    @field_validator("sort", mode="before")
    @classmethod
    def _known_sort(cls, value: Any) -> Any:
        if not isinstance(value, str) or value not in {sort.value for sort in Sort}:
            raise ValueError(f"sort must be one of {', '.join(sort.value for sort in Sort)}")
        return value

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str | None) -> str | None:
        if value is not None and value not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}")
        return value

    @model_validator(mode="after")
    def _shopper_named(self) -> SearchOptions:
        if self.profile is not None and PROFILES[self.profile].needs_shopper and not self.shopper:
            raise PydanticCustomError("shopper", "profile {profile} needs the shopper's id (shopper)", {"profile": self.profile})
        return self

    @model_validator(mode="after")
    def _profile_params(self) -> SearchOptions:
        if self.profile_params:
            unknown = unknown_params(self.profile, self.profile_params)
            if unknown:
                raise PydanticCustomError("profile_params", "unknown parameter {names}", {"names": ", ".join(unknown)})
        return self

    @model_validator(mode="after")
    def _window(self) -> SearchOptions:
        window = getattr(self, "window", WINDOW)  # a Query may narrow or widen it
        if self.page * self.size > window:
            raise PydanticCustomError("window", "page * size must not exceed {window}", {"window": window})
        return self

    @property
    def uses_predictions(self) -> bool:
        """Whether these options filter by predicted categories or tags."""
        return bool(self.filters.predicted_category or self.filters.predicted_tags_any)

    def options(self) -> dict[str, Any]:
        """These options alone, to build a :class:`Query` from a request that holds more."""
        return {name: getattr(self, name) for name in SearchOptions.model_fields}


class Query(SearchOptions):
    """One search: the vectors and words of each signal, with the options above."""

    image_vector: list[float] | None = None
    #: Further vectors of parts of the same photo (:mod:`plugin.search.regions`): the image signal
    #: scores a product by the best match of any of them and :attr:`image_vector`.
    image_regions: list[RegionVector] = Field(default_factory=list, max_length=32)
    text: str | None = None
    text_vector: list[float] | None = None
    #: The text mapped into the image space (CLIP's own text vector, or the offline bridge).
    text_image_vector: list[float] | None = None
    #: How closely the words name something the image model knows (1 for CLIP-like models):
    #: the bridge's confidence (:class:`plugin.search.fusion.FusionParams`).
    text_image_similarity: float | None = None
    #: Per signal, over the shop's weights for this kind of query; 0 turns a signal off.
    weights: dict[str, float] = Field(default_factory=dict)
    window: int = Field(default=WINDOW, ge=1, le=10_000)
    #: HNSW's search breadth; never below the window.
    ef_search: int = Field(default=EF_SEARCH, ge=1, le=10_000)
    #: Count the predicted categories and tags too: the API sets it where the shop allows them.
    predicted_facets: bool = False

    @property
    def kind(self) -> QueryKind:
        has_photo, has_text = self.image_vector is not None, bool(self.text)
        if has_photo and has_text:
            return QueryKind.photo_and_text
        return QueryKind.photo if has_photo else QueryKind.text

    @field_validator("weights")
    @classmethod
    def _known_signals(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(SIGNALS))
        if unknown:
            raise ValueError(f"weights name unknown signals {', '.join(unknown)}; use {', '.join(SIGNALS)}")
        if any(not 0 <= weight <= 100 for weight in value.values()):
            raise ValueError("each weight must be from 0 to 100")
        return value
