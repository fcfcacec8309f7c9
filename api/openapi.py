"""The OpenAPI document of the public API, built from the same pydantic models that validate requests.

It is complete enough to test the API from: every route, parameter, body and answer, errors
included, is described, and ``tests/api/test_fuzz.py`` generates requests from it
(schemathesis) and checks that none gets a 5xx or an answer the document does not list.
"""

from __future__ import annotations

from typing import Any

from api.logs import HEADER as REQUEST_ID
from api.logs import MAX_REQUEST_ID
from api.schemas import MAX_ID_BYTES, EventsBody, SavedSearchBody, SearchBody


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_REQUEST_ID = {REQUEST_ID: {"description": "The request's id, as in the API's log", "schema": {"type": "string", "maxLength": MAX_REQUEST_ID}}}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer", "minimum": 0}}}


def _answer(description: str, schema: dict[str, Any] | None = None, media: str = "application/json", retry: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "headers": {**_REQUEST_ID, **(_RETRY_AFTER if retry else {})}}
    if schema is not None:
        answer["content"] = {media: {"schema": schema}}
    return answer


def _errors(*statuses: int) -> dict[str, Any]:
    """The error answers of a route: the JSON error body, with Retry-After where waiting may help."""
    described = {
        400: "A parameter or the body is invalid; ``error.field`` names it",
        404: "No such product, thumbnail or ranking version",
        410: "The product, or this photo, was taken down as infringing (``error.code`` taken_down)",
        413: "The body or the photo is too large",
        415: "The body is neither JSON nor a form, or the photo is not an image",
        422: "The photo cannot be used (corrupt, too small, or its URL failed)",
        429: "Too many requests from this client",
        502: "The search cluster could not run the search",
        503: "The search cluster is unavailable, starting or overloaded, or holds another model's vectors",
    }
    return {str(status): _answer(described[status], _ref("Error"), retry=status in (429, 503)) for status in statuses}


def _schemas() -> dict[str, Any]:
    body = SearchBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = body.pop("$defs", {})
    components["SearchBody"] = body
    events = EventsBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components |= events.pop("$defs", {})
    components["EventsBody"] = events
    saved = SavedSearchBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components |= saved.pop("$defs", {})
    components["SavedSearchBody"] = saved
    components["Error"] = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}},
                "required": ["code", "message"],
            }
        },
        "required": ["error"],
    }
    components["Image"] = {
        "type": "object",
        "description": "A product photo; ``url`` only for photos on the web (the thumbnail serves every photo)",
        "properties": {
            "fingerprint": {"type": "string"},
            "url": {"type": "string"},
            "licence": {"type": "string", "description": "the photo's licence, as the catalogue gives it"},
            "credit": {"type": "string", "description": "who to credit for the photo"},
            "source_url": {"type": "string", "description": "where the photo was published"},
        },
    }
    components["Product"] = {
        "type": "object",
        "properties": {
            "product_id": {"type": "string"},
            "title": {"type": "string"},
            "brand": {"type": ["string", "null"]},
            "category": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "price": {"type": ["number", "null"]},
            "currency": {"type": ["string", "null"]},
            "in_stock": {"type": ["boolean", "null"]},
            "rating": {"type": ["number", "null"]},
            "product_url": {"type": ["string", "null"]},
            "images": {"type": "array", "items": _ref("Image")},
            "thumbnails": {"type": "array", "items": {"type": "string"}, "description": "``/thumbnails/<fingerprint>`` of each photo"},
            "score": {"type": "number", "description": "The fused relevance (searches only)"},
            "explain": {"type": "object", "description": "Each signal's part in the score, when asked"},
        },
        "required": ["product_id", "thumbnails"],
    }
    fractions = {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}, "minItems": 4, "maxItems": 4}
    box_properties = {
        "box": {**fractions, "description": "left, top, right, bottom as fractions of the photo's width and height"},
        "score": {"type": "number", "description": "The detector's confidence"},
        "label": {"type": "string", "description": "A COCO class name (weak: the box is what counts)"},
    }
    components["SearchResult"] = {
        "type": "object",
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "size": {"type": "integer", "minimum": 1},
            "hits": {"type": "array", "items": _ref("Product")},
            "facets": {"type": "object", "description": "Counts by tag, brand, category and price range, when asked"},
            "detection": _ref("Detection"),
            "groups": {
                "type": "array",
                "description": "``detect: all``: one list of results per object found in the photo",
                "items": {
                    "type": "object",
                    "properties": {
                        **box_properties,
                        "index": {"type": "integer", "minimum": 0, "description": "The object's index in ``detection.boxes``"},
                        "total": {"type": "integer", "minimum": 0},
                        "hits": {"type": "array", "items": _ref("Product")},
                    },
                    "required": ["box", "index", "total", "hits"],
                },
            },
        },
        "required": ["total", "page", "size", "hits"],
    }
    components["Detection"] = {
        "type": "object",
        "description": "A photo search's objects: what the detector found and which part of the photo found the first result",
        "properties": {
            "mode": {"type": "string", "enum": ["auto", "off", "all"]},
            "boxes": {"type": "array", "items": {"type": "object", "properties": box_properties, "required": ["box", "score", "label"]}},
            "searched": {"type": ["integer", "null"], "description": "The index in ``boxes`` of the object whose region found the first result"},
            "searched_region": {**fractions, "description": "The region of the photo that found the first result"},
            "regions": {"type": "array", "items": {"type": "object"}, "description": "Every region searched, with ``explain``"},
            "reason": {"type": "string", "description": "Why the photo was searched whole without looking for objects"},
        },
        "required": ["mode", "boxes", "searched"],
    }
    components["Health"] = {
        "type": "object",
        "properties": {
            "status": {"enum": ["ok", "no_index", "model_mismatch"]},
            "opensearch": {"type": "string"},
            "index": {"type": ["string", "null"]},
            "model": {"type": "object", "properties": {"name": {"type": "string"}, "version": {"type": ["string", "integer"]}}},
            "problem": {"type": "string"},
        },
        "required": ["status", "opensearch", "index", "model"],
    }
    return components


def openapi_document() -> dict[str, Any]:
    multipart = {
        "type": "object",
        "properties": {
            "image": {"type": "string", "format": "binary", "description": "the query photo"},
            "query": {"type": "string", "description": "a SearchBody as JSON; plain fields (text, size, ...) also work"},
        },
    }
    shopper = {"name": "shopper", "in": "query", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}}
    recommendation_size = {"name": "size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}}
    product_id = {
        "name": "product_id", "in": "path", "required": True,
        "description": f"at most {MAX_ID_BYTES} bytes of UTF-8",
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_BYTES},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "lookalike search API", "version": "1"},
        "paths": {
            "/search": {
                "post": {
                    "summary": "Search by photo, text, or both, with filters, facets, sorting, profiles and pages",
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": _ref("SearchBody")},
                            "multipart/form-data": {"schema": multipart},
                        }
                    },
                    "responses": {
                        "200": _answer("A page of products, with total, facets and explain when asked", _ref("SearchResult")),
                        **_errors(400, 404, 410, 413, 415, 422, 429, 502, 503),
                    },
                }
            },
            "/events": {
                "post": {
                    "summary": "Store a batch of shopper events (view, click, add_to_cart, purchase) under pseudonymous ids",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("EventsBody")}}},
                    "responses": {
                        "202": _answer("How many events were stored", {"type": "object", "properties": {"accepted": {"type": "integer"}}}),
                        **_errors(400, 415, 429, 503),
                    },
                }
            },
            "/saved-searches": {
                "post": {
                    "summary": "Save a shopper's search (words, a photo, or both) to be told of new products that match it",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": _ref("SavedSearchBody")},
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["shopper"],
                                    "properties": {
                                        "shopper": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
                                        "text": {"type": "string", "maxLength": 500},
                                        "image": {"type": "string", "format": "binary"},
                                        "min_similarity": {"type": "number", "minimum": 0, "maximum": 1},
                                    },
                                }
                            },
                        },
                    },
                    "responses": {"201": _answer("The saved search, with its id"), **_errors(400, 413, 415, 422, 429, 503)},
                },
                "get": {
                    "summary": "A shopper's saved searches, newest first",
                    "parameters": [shopper],
                    "responses": {"200": _answer("The saved searches"), **_errors(400, 503)},
                },
            },
            "/saved-searches/{search_id}": {
                "delete": {
                    "summary": "Forget a shopper's saved search and its matches",
                    "parameters": [{"name": "search_id", "in": "path", "required": True, "schema": {"type": "string"}}, shopper],
                    "responses": {"204": _answer("Forgotten"), **_errors(400, 404, 503)},
                }
            },
            "/saved-searches/matches": {
                "get": {
                    "summary": "New products matching a shopper's saved searches, as server-sent events (one short answer; the page asks again)",
                    "parameters": [shopper, {"name": "after", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"}}],
                    "responses": {"200": _answer("The matches after the last one the page holds", {"type": "string"}, media="text/event-stream"), **_errors(400, 503)},
                }
            },
            "/products/{product_id}": {
                "get": {
                    "summary": "One product",
                    "parameters": [product_id],
                    "responses": {"200": _answer("The product", _ref("Product")), **_errors(400, 404, 410, 503)},
                }
            },
            "/products/{product_id}/similar": {
                "get": {
                    "summary": "More like this product (by its photos), itself excluded",
                    "parameters": [product_id, {"name": "size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}}],
                    "responses": {"200": _answer("A page of products", _ref("SearchResult")), **_errors(400, 404, 410, 422, 429, 502, 503)},
                }
            },
            "/products/{product_id}/recommendations": {
                "get": {
                    "summary": "Products shoppers saw with this one (co-occurrence), and look-alikes where there is little history; each with its reason",
                    "parameters": [product_id, recommendation_size],
                    "responses": {"200": _answer("The recommendations, best first"), **_errors(400, 404, 429, 503)},
                }
            },
            "/users/{user}/recommendations": {
                "get": {
                    "summary": "Products for a shopper (pseudonymous id) from their recent events; the most popular without any",
                    "parameters": [{"name": "user", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}}, recommendation_size],
                    "responses": {"200": _answer("The recommendations, best first"), **_errors(400, 429, 503)},
                }
            },
            "/thumbnails/{fingerprint}": {
                "get": {
                    "summary": "An image's WebP thumbnail",
                    "parameters": [{"name": "fingerprint", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}],
                    "responses": {
                        "200": _answer("The thumbnail", {"type": "string", "format": "binary"}, media="image/webp"),
                        **_errors(400, 404, 410, 503),
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Cluster, index and model",
                    "responses": {"200": _answer("The cluster's health, the live index and the model", _ref("Health")), **_errors(503)},
                }
            },
        },
        "components": {"schemas": _schemas()},
    }
