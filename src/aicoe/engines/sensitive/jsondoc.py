"""A JSON document that is one array (the usual shape of a JSON export of records), read an element at a time.

The document is read in blocks and each element parsed by the standard library's C decoder (``raw_decode``), so
memory holds about one element and one block, never the whole document. Each element comes with the text before
it (the "[", a comma, white space, a byte order mark) and the reader keeps what follows the last one, so a rewriter
can copy everything it does not change byte for byte.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

READ_BYTES = 1 << 20
# A number's digits can go on with at most this many more characters before the decoder takes them ("e-5").
_NUMBER_LOOKAHEAD = 3
_WHITESPACE = frozenset(" \t\r\n")
_DECODER = json.JSONDecoder()


class DocumentError(ValueError):
    """Not one well-formed array: the fault is on ``line``, or (``byte`` set) a byte at ``offset`` is not UTF-8."""

    def __init__(self, line: int | None = None, *, byte: int | None = None, offset: int | None = None) -> None:
        super().__init__(f"invalid JSON on line {line}" if byte is None else f"byte {byte:#04x} at {offset}")
        self.line, self.byte, self.offset = line, byte, offset


@dataclass(frozen=True, slots=True)
class Element:
    """The ``number``-th element (from 1), starting on ``line`` of the document; ``before`` is the text between
    the previous element (or the start of the document) and ``text``, the element's own JSON."""

    number: int
    line: int
    before: str
    text: str
    value: Any


class ArrayReader:
    """Iterate over the elements of the JSON array in ``stream`` (bytes, UTF-8); ``tail`` is the text after the
    last element (its "]" and white space), once the iteration has ended. A document that is not one well-formed
    array raises ``DocumentError`` after the elements before the fault."""

    def __init__(self, stream: IO[bytes], *, read_bytes: int = READ_BYTES) -> None:
        self._stream = stream
        self._read_bytes = read_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._fed = 0
        self._eof = False
        self._text = ""
        self._counted, self._line = 0, 1  # line breaks are counted up to self._text[self._counted], on this line
        self.tail = ""

    def __iter__(self) -> Iterator[Element]:
        position = self._skip(1 if self._fill_until(1) and self._text.startswith("\ufeff") else 0)
        if not self._text.startswith("[", position):
            self._fail(position)
        mark, position, number = 0, position + 1, 0
        while True:
            position = self._skip(position)
            if self._text.startswith("]", position):
                break
            if number:
                if not self._text.startswith(",", position):
                    self._fail(position)
                position = self._skip(position + 1)
            value, end = self._parse(position)
            number += 1
            yield Element(number, self._line_at(position), self._text[mark:position], self._text[position:end], value)
            mark = position = self._forget(end)
        end = self._skip(position + 1)
        if end < len(self._text):
            self._fail(end)
        self.tail = self._text[mark:]

    def _parse(self, position: int) -> tuple[Any, int]:
        """The value at ``position`` and where it ends, reading more until it is whole. An object, array or string
        ends with its closing character; a number read to within two characters of what was read may go on
        ("1" of "1.5", "2e" of "2e-3"). Each retry reads twice as much: linear overall."""
        want = self._read_bytes
        while True:
            try:
                value, end = _DECODER.raw_decode(self._text, position)
            except json.JSONDecodeError as exc:
                if self._eof:
                    self._fail(exc.pos)
            else:
                if self._eof or isinstance(value, (dict, list, str)) or len(self._text) - end >= _NUMBER_LOOKAHEAD:
                    return value, end
            self._more(want)
            want *= 2

    def _skip(self, position: int) -> int:
        """The first position from ``position`` that is not JSON white space (reading on as needed)."""
        while True:
            while position < len(self._text) and self._text[position] in _WHITESPACE:
                position += 1
            if position < len(self._text) or not self._fill_until(position + 1):
                return position

    def _fill_until(self, size: int) -> bool:
        """Read until the text holds ``size`` characters; False at the end of the document before that."""
        while len(self._text) < size:
            if self._eof:
                return False
            self._more(self._read_bytes)
        return True

    def _more(self, size: int) -> None:
        block = self._stream.read(size)
        pending = len(self._decoder.getstate()[0])
        try:
            self._text += self._decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            data = exc.object
            bad = data[exc.start] if exc.start < len(data) else 0
            raise DocumentError(byte=bad, offset=self._fed - pending + exc.start) from None
        self._fed += len(block)
        self._eof = not block

    def _line_at(self, position: int) -> int:
        """The line ``position`` is on (positions asked for only grow, so each line break is counted once)."""
        self._line += self._text.count("\n", self._counted, position)
        self._counted = position
        return self._line

    def _forget(self, position: int) -> int:
        """Drop the text before ``position`` once it is long; the position, shifted."""
        if position < self._read_bytes:
            return position
        self._line_at(position)
        self._text, self._counted = self._text[position:], 0
        return 0

    def _fail(self, position: int) -> None:
        raise DocumentError(self._line_at(max(position, self._counted)))
