"""``aicoe redact IN OUT``: a de-identified copy of a file in the same format; ``--decrypt`` reverses ``encrypt``.

Keys are read from an environment variable named with ``--key-env``, never from the command line, where they
would land in shell history and process listings. Exit codes: 0 done, 1 the file could not be rewritten (refused
target, unreadable input, a token that does not decrypt), 2 bad options or key.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from aicoe.cli.common import console, err_console
from aicoe.engines.sensitive import analyzer as analyzer_module
from aicoe.engines.sensitive import io as sensitive_io
from aicoe.engines.sensitive.redact import DecryptionError, Encrypt, Hash, Mask, Operator, Redact, Replace, parse_key
from aicoe.engines.sensitive.rewrite import Decrypt, Deidentify, RewriteError, RewriteResult, rewrite_file
from aicoe.sensitive.compiled import keep_compiled_filters

KEY_ENV_NEEDED = "{what} needs a key: name an environment variable holding it with --key-env"
KEY_ENV_UNSET = "the environment variable {var} is not set"
KEY_INVALID = "the key in {var}: {reason}"
KEY_ENV_NOT_APPLICABLE = "--key-env applies to --operator hash or encrypt and to --decrypt only"
KEEP_LAST_NOT_APPLICABLE = "--keep-last applies to --operator mask only"
DECRYPT_OPTIONS = "--decrypt takes no --operator, --entities, --keep-last or --min-score"


T = TypeVar("T")


class OperatorName(StrEnum):
    mask = "mask"
    redact = "redact"
    replace = "replace"
    hash = "hash"
    encrypt = "encrypt"


def register(app: typer.Typer) -> None:
    app.command("redact")(redact)


def _fail(message: str, code: int) -> typer.Exit:
    err_console.print(f"[red]{escape(message)}[/red]", soft_wrap=True, highlight=False)
    return typer.Exit(code)


def _keyed(make: Callable[[bytes], T], var: str | None, what: str) -> T:
    """``make(key)`` with the key from the environment variable ``var``; any problem is a usage error."""
    if var is None:
        raise _fail(KEY_ENV_NEEDED.format(what=what), 2)
    text = os.environ.get(var)
    if not text:
        raise _fail(KEY_ENV_UNSET.format(var=var), 2)
    try:
        return make(parse_key(text))
    except ValueError as exc:
        raise _fail(KEY_INVALID.format(var=var, reason=exc), 2) from None


def _operator(name: OperatorName, keep_last: int | None, key_env: str | None) -> Operator:
    if keep_last is not None and name is not OperatorName.mask:
        raise _fail(KEEP_LAST_NOT_APPLICABLE, 2)
    if key_env is not None and name not in (OperatorName.hash, OperatorName.encrypt):
        raise _fail(KEY_ENV_NOT_APPLICABLE, 2)
    if name is OperatorName.hash:
        return _keyed(Hash, key_env, "--operator hash")
    if name is OperatorName.encrypt:
        return _keyed(Encrypt, key_env, "--operator encrypt")
    if name is OperatorName.mask:
        return Mask(keep_last=4 if keep_last is None else keep_last)
    return Redact() if name is OperatorName.redact else Replace()


def _summary(result: RewriteResult, verb: str) -> None:
    table = Table("entity", f"values {verb}")
    for entity, count in result.counts.items():
        table.add_row(entity, str(count))
    if result.counts:
        console.print(table)
    unit = "line" if result.format.kind in ("jsonl", "text") else "row"
    console.print(f"{_count(result.total, 'value')} {verb} in {_count(result.records, unit)}; "
                  f"wrote {escape(str(result.target))} ({result.format.label})", soft_wrap=True, highlight=False)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def redact(
    source: Annotated[Path, typer.Argument(metavar="IN", help="the file to de-identify (or decrypt)")],
    target: Annotated[Path, typer.Argument(metavar="OUT", help="the copy to write, in the same format")],
    operator: Annotated[OperatorName, typer.Option("--operator", help="what replaces each value found")]
    = OperatorName.replace,
    entities: Annotated[str | None, typer.Option("--entities", metavar="E,...",
                                                 help="only these entity types (default: all)")] = None,
    keep_last: Annotated[int | None, typer.Option("--keep-last", min=0,
                                                  help="mask: characters left visible at the end (default 4)")]
    = None,
    key_env: Annotated[str | None, typer.Option("--key-env", metavar="VAR",
                                                help="environment variable holding the key (hex or base64)")] = None,
    min_score: Annotated[float | None, typer.Option("--min-score", min=0.0, max=1.0,
                                                    help="replace values scored at least this (default 0.5)")]
    = None,
    decrypt: Annotated[bool, typer.Option("--decrypt", help="turn encrypt tokens back into their values")] = False,
    force: Annotated[bool, typer.Option("--force", help="replace OUT if it exists (never IN)")] = False,
) -> None:
    """Write a de-identified copy of IN to OUT in the same format (CSV, TSV, Parquet, JSON Lines, JSON, Excel, text;
    gzip)."""
    if decrypt:
        if operator is not OperatorName.replace or entities is not None or keep_last is not None \
                or min_score is not None:
            raise _fail(DECRYPT_OPTIONS, 2)
        transform: Decrypt | Deidentify = _keyed(Decrypt, key_env, "--decrypt")
    else:
        chosen = [e.strip().upper() for e in entities.split(",") if e.strip()] if entities is not None else None
        try:
            transform = Deidentify(default=_operator(operator, keep_last, key_env), entities=chosen,
                                   min_score=analyzer_module.DEFAULT_MIN_SCORE if min_score is None else min_score)
        except ValueError as exc:
            raise _fail(str(exc), 2) from None
    keep_compiled_filters()
    try:
        result = rewrite_file(source, target, transform, force=force)
    except (RewriteError, DecryptionError) as exc:
        raise _fail(str(exc), 1) from None
    except sensitive_io.UnreadableFile as exc:
        raise _fail(f"cannot read {exc.path}: {exc.reason}", 1) from None
    _summary(result, "decrypted" if decrypt else "replaced")
