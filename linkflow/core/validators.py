"""Input checks shared by the API's serializers."""

import json
from typing import Any

from rest_framework import serializers


def storable_json(value: Any) -> Any:
    """Refuse JSON that PostgreSQL cannot store: NUL characters and unpaired surrogates.

    Without this such input would pass validation and fail at INSERT with a 500.
    """
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise serializers.ValidationError("Text may not contain unpaired surrogates.") from None
    if "\\u0000" in text:
        raise serializers.ValidationError("Text may not contain NUL (\\u0000) characters.")
    return value
