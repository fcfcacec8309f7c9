"""The OpenAPI document of the API, built from the same pydantic models that validate requests."""

from __future__ import annotations

from typing import Any

from api.schemas import SearchBody

_ERROR = {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi_document() -> dict[str, Any]:
    schema = SearchBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.pop("$defs", {})
    components["SearchBody"] = schema
    components["Error"] = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}},
                "required": ["code", "message"],
            }
        },
    }
    multipart = {
        "type": "object",
        "properties": {
            "image": {"type": "string", "format": "binary", "description": "the query photo"},
            "query": {"type": "string", "description": "a SearchBody as JSON; plain fields (text, size, ...) also work"},
        },
    }
    product_id = {"name": "product_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "lookalike search API", "version": "1"},
        "paths": {
            "/search": {
                "post": {
                    "summary": "Search by photo, text, or both, with filters, facets, sorting, profiles and pages",
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/SearchBody"}},
                            "multipart/form-data": {"schema": multipart},
                        }
                    },
                    "responses": {
                        "200": {"description": "A page of products, with total, facets and explain when asked"},
                        "400": _ERROR, "404": _ERROR, "413": _ERROR, "415": _ERROR, "422": _ERROR,
                        "503": {**_ERROR, "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
                    },
                }
            },
            "/products/{product_id}": {
                "get": {"summary": "One product", "parameters": [product_id], "responses": {"200": {"description": "The product"}, "404": _ERROR}}
            },
            "/products/{product_id}/similar": {
                "get": {
                    "summary": "More like this product (by its photos), itself excluded",
                    "parameters": [product_id, {"name": "size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
                    "responses": {"200": {"description": "A page of products"}, "400": _ERROR, "404": _ERROR},
                }
            },
            "/thumbnails/{fingerprint}": {
                "get": {
                    "summary": "An image's WebP thumbnail",
                    "parameters": [{"name": "fingerprint", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}],
                    "responses": {"200": {"description": "WebP", "content": {"image/webp": {}}}, "400": _ERROR, "404": _ERROR},
                }
            },
            "/health": {"get": {"summary": "Cluster, index and model", "responses": {"200": {"description": "Healthy"}, "503": _ERROR}}},
        },
        "components": {"schemas": components},
    }
