"""A minimal, strict HTTP/1.1 request-head parser for the live server (RFC 9112).

The live server answers a few GET routes and never reads a body, so only the request line and
the headers are parsed; whatever is not plainly valid is refused rather than guessed at
(request smuggling lives in the guesses).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field

MAX_HEAD = 8192
# tchar (RFC 9110 5.6.2)
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
TARGET = re.compile(rb"/[!-~]*")  # origin-form: visible ASCII, no spaces
VERSION = re.compile(rb"HTTP/(\d)\.(\d)")
# field-value: visible characters, spaces and tabs, obs-text (bytes >= 0x80)
FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
HEAD_END = re.compile(rb"\r?\n\r?\n")


class HttpError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    version: str = "HTTP/1.1"


def head_length(buffer: bytes) -> int:
    """Length of the request head in ``buffer`` (blank line included), 0 while incomplete.
    Raises HttpError 431 when it does not fit in MAX_HEAD bytes."""
    match = HEAD_END.search(buffer, 0, MAX_HEAD + 4)
    if match is None:
        if len(buffer) > MAX_HEAD:
            raise HttpError(431, "request head too large")
        return 0
    if match.end() > MAX_HEAD + 4:
        raise HttpError(431, "request head too large")
    return match.end()


def parse(head: bytes) -> Request:
    """Parses a complete request head; raises HttpError (400, 431 or 505)."""
    if len(head) > MAX_HEAD + 4:
        raise HttpError(431, "request head too large")
    lines = head.split(b"\n")
    # Lines end with CRLF; a bare LF is accepted (RFC 9112 2.2), a stray CR is not.
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    while lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise HttpError(400, "empty request")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if not TOKEN.fullmatch(method):
        raise HttpError(400, "malformed method")
    if not TARGET.fullmatch(target):
        raise HttpError(400, "malformed request target")
    version_match = VERSION.fullmatch(version)
    if version_match is None:
        raise HttpError(400, "malformed HTTP version")
    if version_match.group(1) != b"1":
        raise HttpError(505, "HTTP version not supported")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            raise HttpError(400, "obsolete line folding")
        name, colon, value = line.partition(b":")
        if not colon or not TOKEN.fullmatch(name):
            raise HttpError(400, "malformed header field")
        value = value.strip(b" \t")
        if not FIELD_VALUE.fullmatch(value):
            raise HttpError(400, "malformed header value")
        key = name.decode("ascii").lower()
        text = value.decode("latin-1")
        if key in headers:
            if key in {"host", "content-length", "transfer-encoding", "last-event-id"}:
                raise HttpError(400, f"duplicate {key} header")
            headers[key] = f"{headers[key]}, {text}"
        else:
            headers[key] = text
    if version == b"HTTP/1.1" and "host" not in headers:
        raise HttpError(400, "missing Host header")
    # No route takes a body: one announced is refused rather than left in the stream.
    if "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
        raise HttpError(400, "request body not accepted")
    raw_path, _question, raw_query = target.decode("ascii").partition("?")
    query: dict[str, str] = {}
    if raw_query:
        try:
            pairs = urllib.parse.parse_qsl(
                raw_query, keep_blank_values=True, strict_parsing=False, max_num_fields=20
            )
        except ValueError as error:
            raise HttpError(400, "malformed query string") from error
        for query_name, query_value in pairs:
            query.setdefault(query_name, query_value)
    return Request(
        method=method.decode("ascii"),
        path=raw_path,
        query=query,
        headers=headers,
        version=version.decode("ascii"),
    )
