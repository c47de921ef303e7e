"""Every id a request carries is bounded to what a row id can be, so an out-of-range id is a 422 naming
the field, never a database driver's overflow (a 500). Found by walking the API's own OpenAPI schema:
every integer path parameter, id, paging key or offset in a query, and every integer property named `id` or `*_id` (or a list of
them) in a request body. (tests/web/test_out_of_range_ids.py sends such ids to every route, pages too.)"""

from __future__ import annotations

import math
from typing import Any

from fastapi.testclient import TestClient

from meshclaw.metering.queries import MAX_ID


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return components[ref.rsplit("/", 1)[1]] if ref else schema


def _integers(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The integer schemas among a property's alternatives (`int | None`, lists of ints)."""
    found = []
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "integer":
            found.append(option)
        elif option.get("type") == "array" and option.get("items", {}).get("type") == "integer":
            found.append(option["items"])
    return found


def _unbounded(integer: dict[str, Any]) -> bool:
    # The served schema writes the bound as a JSON float (9.223372036854776e+18, i.e. 2**63), so compare as one.
    return bool(integer.get("maximum", math.inf) > float(MAX_ID) or integer.get("minimum", 0) < 1)


def unbounded_ids(openapi: dict[str, Any]) -> list[str]:
    components = openapi["components"]["schemas"]
    bodies: set[str] = set()
    for operations in openapi["paths"].values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                ref = media.get("schema", {}).get("$ref")
                if ref:
                    bodies.add(ref.rsplit("/", 1)[1])
    wrong = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                name = parameter["name"]
                # Ids, paging keys and offsets go into SQL as they are (a page size is checked in code).
                positional = parameter["in"] == "path" or name.endswith("_id") or name in ("before", "offset")
                for integer in _integers(parameter.get("schema", {})):
                    if positional and integer.get("maximum", math.inf) > float(MAX_ID):
                        wrong.append(f"{method.upper()} {path} ?{parameter['name']}")
    for name in sorted(bodies):
        for field, schema in components[name].get("properties", {}).items():
            if field != "id" and not field.endswith("_id") and not field.endswith("_ids"):
                continue
            for integer in _integers(_resolve(schema, components)):
                if _unbounded(integer):
                    wrong.append(f"{name}.{field}")
    return wrong


def test_every_id_in_a_request_body_is_bounded(client: TestClient) -> None:
    openapi = client.get("/api/v1/openapi.json").json()
    assert len(openapi["paths"]) > 50
    wrong = unbounded_ids(openapi)
    assert wrong == [], ", ".join(wrong)
