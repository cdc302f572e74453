"""Serializer fields that take exactly the JSON types the OpenAPI schema documents.

DRF's own fields coerce: ``CharField`` turns ``0`` into ``"0"``, ``BooleanField`` reads
``1``, ``"yes"`` and ``"on"`` as true, ``UUIDField`` reads an integer as a UUID. A client
that sends what the schema forbids must get a 400 naming the field, not a silent guess, so
the API's input serializers use these instead.
"""

import uuid
from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string, and only a string (DRF would take a number and store its digits).

    The length limit applies to the text as sent, as the schema's ``maxLength`` does:
    DRF would measure it after trimming spaces.
    """

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true`` or ``false`` (DRF would also take 1, "yes", "on" and the like)."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class QueryBooleanField(serializers.BooleanField):
    """A query parameter spelt exactly ``true`` or ``false``, as the schema says."""

    default_error_messages = {"invalid": "Use true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if data == "true":
            return True
        if data == "false":
            return False
        self.fail("invalid")


class StrictUUIDField(serializers.UUIDField):
    """A UUID written as a string (DRF would read the integer 0 as a UUID)."""

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if not isinstance(data, (str, uuid.UUID)):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)
