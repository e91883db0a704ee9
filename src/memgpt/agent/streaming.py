"""What a reply says while it streams in: the text of a ``send_message`` call before its JSON is complete.

The user sees ``send_message(message=...)``; the model writes it as the JSON arguments of a function call,
token by token. :class:`StringField` decodes the value of one field of that JSON as its text arrives, so the
reply reaches the user as it is generated (the stored call, parsed whole at the end, stays the truth).
"""

from __future__ import annotations

import re

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class StringField:
    """The string value of ``field`` in a JSON object whose text is fed piece by piece.

    :meth:`feed` returns the part of the value decoded since the last call (escapes resolved, a ``\\u``
    escape or a surrogate pair split across pieces held back until complete). A value that is not a
    string, or text that is not such an object, yields nothing.
    """

    def __init__(self, field: str = "message") -> None:
        self._start = re.compile(r'"' + re.escape(field) + r'"\s*:\s*"')
        self._text = ""
        self._at: int | None = None  # where the value's next undecoded character is
        self.done = False

    def feed(self, piece: str) -> str:
        self._text += piece
        if self.done:
            return ""
        if self._at is None:
            found = self._start.search(self._text)
            if found is None:
                return ""
            self._at = found.end()
        return self._decode()

    def _decode(self) -> str:
        assert self._at is not None
        out: list[str] = []
        text, at = self._text, self._at
        while at < len(text):
            ch = text[at]
            if ch == '"':
                self.done = True
                at += 1
                break
            if ch != "\\":
                out.append(ch)
                at += 1
                continue
            decoded, used = _escape(text, at)
            if used == 0:  # the escape is not complete yet
                break
            out.append(decoded)
            at += used
        self._at = at
        return "".join(out)


def _escape(text: str, at: int) -> tuple[str, int]:
    """The character of the escape at ``text[at]`` and its length in ``text``; (\"\", 0) if incomplete."""
    if at + 1 >= len(text):
        return "", 0
    kind = text[at + 1]
    if kind != "u":
        return _ESCAPES.get(kind, kind), 2
    code = _hex(text, at + 2)
    if code is None:
        return "", 0
    if 0xD800 <= code < 0xDC00:  # a high surrogate: its low half follows as another \u escape
        follow = text[at + 6 : at + 8]
        if not "\\u".startswith(follow):  # something else follows: a lone high surrogate
            return "\ufffd", 6
        if at + 12 > len(text):
            return "", 0
        low = _hex(text, at + 8) if text[at + 6 : at + 8] == "\\u" else None
        if low is not None and 0xDC00 <= low < 0xE000:
            return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), 12
        return "\ufffd", 6
    if 0xDC00 <= code < 0xE000:
        return "\ufffd", 6
    return chr(code), 6


def _hex(text: str, at: int) -> int | None:
    digits = text[at : at + 4]
    if len(digits) < 4:
        return None
    try:
        return int(digits, 16)
    except ValueError:
        return 0xFFFD
