"""A secret, the forms it is commonly passed on in, and looking for them in stored data.

The forms are computed by FORMS_SOURCE, which a test runs itself and also hands to a
``code.python`` node: the node derives them from the secret an echo server sent back, as
user code would, and the test looks for exactly those values wherever the data went.
"""

from collections.abc import Iterator
from typing import Any

# Long enough for every form, with characters that percent-encoding and JSON escape.
SECRET = 'Zx9+Qw/7="L\\p:4k 2026?>>~abc'

FORMS_SOURCE = r"""
import base64
import json

def forms(s):
    b = s.encode()

    def pct(text, hexdigits):
        unreserved = lambda c: (c.isascii() and c.isalnum()) or c in "-_.~"
        return "".join(
            c if unreserved(c) else "".join("%" + format(x, hexdigits) for x in c.encode())
            for c in text
        )

    return {
        "raw": s,
        "b64": base64.b64encode(b).decode(),
        "b64_unpadded": base64.b64encode(b).decode().rstrip("="),
        "b64url": base64.urlsafe_b64encode(b).decode(),
        "b64url_unpadded": base64.urlsafe_b64encode(b).decode().rstrip("="),
        # Basic auth, with user names putting the secret at each of base64's 3 offsets.
        "basic_offset_0": base64.b64encode(b"ab:" + b).decode(),
        "basic_offset_1": base64.b64encode(b"abc:" + b).decode(),
        "basic_offset_2": base64.b64encode(b"user:" + b).decode(),
        "basic_url_offset_2": base64.urlsafe_b64encode(b"a:" + b).decode().rstrip("="),
        "percent_upper": pct(s, "02X"),
        "percent_lower": pct(s, "02x"),
        "percent_plus": pct(s, "02X").replace("%20", "+"),
        "hex_lower": b.hex(),
        "hex_upper": b.hex().upper(),
        "json_escaped": json.dumps(s)[1:-1],
    }
"""

# code.python: the echoed header's forms as one item, plus the secret reversed (a
# transformation redaction cannot know; the child turns it back, see the tests).
COPY_FORMS_CODE = (
    FORMS_SOURCE
    + """
s = items[0]["body"]["headers"]["x-api-key"]
return [{**forms(s), "reversed": s[::-1], "as_json": json.dumps({"key": s})}]
"""
)


def forms_of(secret: str = SECRET) -> dict[str, str]:
    namespace: dict[str, Any] = {}
    exec(FORMS_SOURCE, namespace)  # the test's own constant, also run by a code node
    return namespace["forms"](secret)


def strings_in(value: Any) -> Iterator[str]:
    """Every string in JSON data: values and object keys, at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


def leaks(value: Any, secret: str = SECRET) -> list[str]:
    """The names of the secret's forms found in ``value`` (JSON data or text)."""
    texts = list(strings_in(value))
    return sorted({name for name, form in forms_of(secret).items() for t in texts if form in t})
