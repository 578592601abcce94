"""Splitting a big uncompressed CSV, TSV, JSON Lines or text file into byte ranges that start at record starts.

Each range is read on its own (a CSV range with the file's header names) and the results, taken in order, are
those of reading the whole file: a scan of the ranges on several workers equals a one-pass scan. Where a range
may start depends on the format:

- Text: any line start.
- JSON Lines: a line start with a multiple of ``io.JSONL_BATCH_ROWS`` records before it, because the reader
  types each batch's columns from the values in it (a column of numbers stays numeric), so a batch must be the
  same rows whichever range it is read in.
- CSV/TSV: a line start outside any quoted field. The quotes before a position say whether it is inside one
  (an odd count: inside; a doubled quote inside a field counts two), which holds when every quote sits where the
  grammar puts one: an opening quote at a field's start or a closing one at its end, each quote of a doubled
  pair next to the other. One pass over the file with numpy checks that; a file where it fails (a stray quote
  in an unquoted field such as ``12" pizza``) stays one range, as does a gzip file, which cannot be entered
  in the middle.
"""

from __future__ import annotations

import codecs
import os

import numpy as np

from aicoe.engines.sensitive import io

BLOCK_BYTES = 16 << 20
_QUOTE, _LF, _CR = ord('"'), ord("\n"), ord("\r")


def split_lines(path: str | os.PathLike[str], fmt: io.FileFormat, size: int, target: int) -> list[io.ByteRange] | None:
    """Ranges of about ``target`` bytes covering the file, or None when it stays whole (compressed, a table
    format other than CSV/TSV/JSON Lines, no record start past the first ``target`` bytes, irregular CSV
    quoting, unreadable)."""
    if fmt.compressed or fmt.kind not in ("csv", "tsv", "jsonl", "text") or size <= target:
        return None
    try:
        if fmt.kind == "jsonl":
            starts, lines = _jsonl_starts(path, target)
        else:
            found = (_text_starts(path, size, target) if fmt.kind == "text"
                     else _csv_starts(path, size, target, ord(fmt.separator)))
            if found is None:
                return None
            starts, lines = found, _lines_before(path, found[1:])
    except (OSError, ValueError):  # ValueError: numpy cannot map a file that shrank since it was measured
        return None  # the unit reading the whole file reports it
    if len(starts) < 2:
        return None
    return [io.ByteRange(start, end, line)
            for start, end, line in zip(starts, [*starts[1:], size], lines, strict=True)]


def _text_starts(path: str | os.PathLike[str], size: int, target: int) -> list[int]:
    """The first line start at or after every ``target`` bytes from the previous range's start."""
    starts = [0]
    with open(path, "rb") as file:
        want = target
        while want < size:
            file.seek(want - 1)  # a line start at ``want`` follows a newline at ``want - 1``
            found, position = -1, want - 1
            while found < 0:
                block = file.read(1 << 16)
                if not block:
                    return starts
                found = block.find(b"\n")
                if found < 0:
                    position += len(block)
            start = position + found + 1
            if start >= size:
                break
            starts.append(start)
            want = start + target
    return starts


def _jsonl_starts(path: str | os.PathLike[str], target: int) -> tuple[list[int], list[int]]:
    """Line starts at least ``target`` bytes apart with a whole number of reader batches before them, and the
    number of lines before each (JSON Lines messages name a line)."""
    starts, lines = [0], [0]
    offset = records = number = 0
    with open(path, "rb") as file:
        for line in file:
            if offset - starts[-1] >= target and records % io.JSONL_BATCH_ROWS == 0 and records:
                starts.append(offset)
                lines.append(number)
            offset += len(line)
            number += 1
            records += not line.isspace()  # blank lines are not records, as when reading
    return starts, lines


def _csv_starts(path: str | os.PathLike[str], size: int, target: int, delimiter: int) -> list[int] | None:
    """Line starts outside quoted fields, each the first at or after ``target`` bytes from the previous one;
    None when a quote is out of place, so quote parity would not tell inside from outside."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    bom = len(codecs.BOM_UTF8) if data[:3].tobytes() == codecs.BOM_UTF8 else 0
    edge = np.zeros(256, dtype=bool)  # what may precede an opening quote or follow a closing one
    edge[[delimiter, _LF, _CR, _QUOTE]] = True
    starts, want, before = [0], target, 0
    for lo in range(0, size, BLOCK_BYTES):
        hi = min(lo + BLOCK_BYTES, size)
        block = data[lo:hi]
        quotes = np.flatnonzero(block == _QUOTE) + lo
        inside = ((before + np.arange(quotes.size)) & 1).astype(bool)  # the quote closes (or doubles) a field
        opening, closing = quotes[~inside], quotes[inside]
        if not edge[data[opening[opening > bom] - 1]].all():  # a quote at the file's start opens a field
            return None
        if not edge[data[closing[closing < size - 1] + 1]].all():
            return None
        if hi > want:
            line_starts = np.flatnonzero(block == _LF) + lo + 1
            outside = (before + np.searchsorted(quotes, line_starts)) % 2 == 0
            candidates = line_starts[outside & (line_starts < size)]
            at = np.searchsorted(candidates, want)
            while at < candidates.size:
                starts.append(int(candidates[at]))
                want = starts[-1] + target
                at = np.searchsorted(candidates, want)
        before += quotes.size
    return starts


def _lines_before(path: str | os.PathLike[str], offsets: list[int]) -> list[int]:
    """The number of newlines before 0 and each of ``offsets`` (ascending), counted block by block."""
    counts, total, position = [0], 0, 0
    with open(path, "rb") as file:
        for offset in offsets:
            while position < offset:
                block = file.read(min(BLOCK_BYTES, offset - position))
                total += block.count(b"\n")
                position += len(block)
            counts.append(total)
    return counts
