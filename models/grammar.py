"""Make a JSON schema's numeric bounds enforceable by llama.cpp's grammar.

llama-cpp-python's schema-to-GBNF converter ignores minimum/maximum, so a
small model can answer `"confidence": 1000000000000000` and burn its token
budget doing so. Bounded numbers in a small range are rewritten as an enum
of allowed values (confidence 0-1 in steps of 0.05; small integer ranges
value by value), which the grammar does enforce. Pydantic still validates
the result against the original schema.
"""

from __future__ import annotations

from typing import Any

MAX_ENUM = 101


def _bounds(node: dict[str, Any]) -> tuple[float, float] | None:
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum", node.get("exclusiveMaximum"))
    if low is None or high is None or "exclusiveMinimum" in node or "exclusiveMaximum" in node:
        return None
    return float(low), float(high)


def _enum_for(node: dict[str, Any]) -> list[int | float] | None:
    bounds = _bounds(node)
    if bounds is None:
        return None
    low, high = bounds
    if node.get("type") == "integer" and high - low < MAX_ENUM:
        return list(range(int(low), int(high) + 1))
    if node.get("type") == "number" and 0 <= low and high <= 1:
        steps = [round(i * 0.05, 2) for i in range(21)]
        return [v for v in steps if low <= v <= high]
    return None


def grammar_schema(schema: Any) -> Any:
    """A copy of `schema` with small bounded numbers turned into enums."""
    if isinstance(schema, list):
        return [grammar_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if (values := _enum_for(schema)) is not None:
        return {k: v for k, v in schema.items() if k not in ("type", "minimum", "maximum")} | {"enum": values}
    return {key: grammar_schema(value) for key, value in schema.items()}
