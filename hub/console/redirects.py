"""Where a redirect may go: only a path on this site.

A `next=` value comes from whoever wrote the link, so it is an attacker's choice. Browsers
read `//host`, `/\\host` and `\\\\host` as another site, drop tabs and line breaks inside a
URL before parsing it (`/\\t/host` is `//host`), and some proxies decode `%5C` to a
backslash: a value is accepted only when it is a plain path of printable ASCII that starts
with one `/` and holds no backslash, encoded or not.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# a path (with its query and fragment) in the URL characters of RFC 3986, no backslash
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?#\[\]]*", re.ASCII)
# a percent-encoded backslash, control character or slash right after the first one
_ENCODED_TRAPS = re.compile(r"%5c|%[01][0-9a-f]|%7f|^/%2f", re.IGNORECASE)


def safe_next(value: str | None, fallback: str) -> str:
    """`value` if it is a path on this site, else `fallback`."""
    if not value or not _PLAIN_PATH.fullmatch(value) or value.startswith("//"):
        return fallback
    if _ENCODED_TRAPS.search(value):
        return fallback
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return fallback
    return value


__all__ = ["safe_next"]
