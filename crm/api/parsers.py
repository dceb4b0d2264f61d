"""The API's JSON parser: DRF's, answering 400 for a body nested too deeply to decode.

Python's decoder recurses once per level: 100,000 nested `[` raise RecursionError, which DRF does
not catch (a 500). No request of this API nests more than a few levels.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class JSONBodyParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
