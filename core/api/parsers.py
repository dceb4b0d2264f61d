"""The API's JSON parser: DRF's, answering 400 for a body it would otherwise turn into a 500.

- Python's decoder recurses once per level: 100,000 nested `[` raise RecursionError, which DRF
  does not catch. No request of this API nests more than a few levels.
- A number too large for a float (`1e999`) decodes as infinity: as an id it overflows the
  database lookup (OverflowError), as text it is stored as "inf". No field of this API takes
  an infinite number, so the body is refused whatever field holds it.
"""

from __future__ import annotations

import math
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class JSONBodyParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        if _holds_an_infinite_number(data):
            raise ParseError("JSON parse error - a number is too large (it does not fit in a float).")
        return data


def _holds_an_infinite_number(data: Any) -> bool:
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return True
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False
