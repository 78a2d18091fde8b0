"""
Files of documents, read as a stream for classifying many at once (the demo's upload, `python -m hf_han.predict`):
CSV or TSV with a header, or JSON lines, the documents in a `text` column (or a usual name for one, or the only
column). Every row is numbered and kept: a row whose value cannot be classified (empty, not text, not UTF-8, not
JSON, binary data) comes with the reason instead of a text, so that outputs stay row for row with the input.
"""

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import regex

from .safe_text_han import neutralise


DOCUMENT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json")
TEXT_COLUMNS = ("text", "document", "review", "content", "body", "sentence")
# a document may be longer than the csv module's default field limit (128 KiB)
CSV_FIELD_LIMIT = 64 * 2**20


# controls other than white space, unassigned and private-use code points, lone surrogates, replacement characters
_STRANGE = regex.compile(r"[[\p{Cc}\p{Cn}\p{Co}\p{Cs}\uFFFD]--[\t\n\r]]", regex.V1)
_UNDECODED = regex.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by errors="surrogateescape"


def looks_binary(text: str) -> bool:
    """Mostly control or unassigned characters: bytes read as text, not a document."""
    sample = text[:10_000]
    return len(_STRANGE.findall(sample)) > 0.1 * len(sample)


def check_suffix(path: str | Path) -> None:
    """`ValueError` unless `path` names a file of a kind `read_documents` reads."""
    path = Path(path)
    if path.suffix.lower() not in DOCUMENT_SUFFIXES:
        raise ValueError(
            f"`{neutralise(path.suffix or path.name).replace('`', chr(39))}` files are not read: give a CSV (.csv, "
            ".tsv) or JSON lines (.jsonl)."
        )


def inspect_documents(path: str | Path, limit: int | None = None) -> tuple[str, int]:
    """
    The text column of a file and its number of data rows, counted as a stream (stopping past `limit` when given);
    `ValueError` with the reason when the file cannot be read as documents.
    """
    path = Path(path)
    check_suffix(path)
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    if path.suffix.lower() in (".csv", ".tsv"):
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            try:
                header = next(reader, None)
                if not header:
                    raise ValueError("The file is empty: give a CSV with a header row and a `text` column.")
                if looks_binary(",".join(header)):
                    raise ValueError("The file looks like binary data, not a CSV of documents.")
                column = text_column(header)
                total = 0
                for _ in reader:
                    total += 1
                    if limit is not None and total > limit:
                        break
            except csv.Error as error:
                raise ValueError(f"The file is not a readable CSV (line {reader.line_num}): {error}.") from error
        return column, total
    total, keys = 0, None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            total += 1
            if keys is None:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    record = None
                if isinstance(record, dict):
                    keys = list(record)
            if limit is not None and total > limit:
                break
    if not total:
        raise ValueError("The file is empty: give JSON lines, one object with a `text` field per line.")
    if keys is None:
        raise ValueError(
            "No line of the file is a JSON object: give JSON lines, one object with a `text` field per line."
        )
    return text_column(keys), total


def read_documents(path: str | Path, column: str) -> Iterator[tuple[int, str | None, str | None]]:
    """`(row, text, None)` or `(row, None, why)` for every data row of the file, in order (rows from 1), streamed."""
    path = Path(path)
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    if path.suffix.lower() in (".csv", ".tsv"):
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            for row, record in enumerate(reader, start=1):
                yield (row, *usable(record.get(column)))
        return
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        row = 0
        for line in handle:
            if not line.strip():
                continue
            row += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                yield row, None, "not JSON"
                continue
            if not isinstance(record, dict):
                yield row, None, "not a JSON object"
                continue
            yield (row, *usable(record.get(column)))


def text_column(columns: list[str]) -> str:
    """The column holding the documents: `text`, else a usual name, else the only column; `ValueError` otherwise."""
    by_name = {str(column).strip().lower(): column for column in columns}
    for name in TEXT_COLUMNS:
        if name in by_name:
            return by_name[name]
    if len(columns) == 1:
        return columns[0]
    # the names are the file's: shown as code, without a backtick that could end it
    shown = ", ".join(f"`{neutralise(column)[:40].replace('`', chr(39))}`" for column in columns[:20])
    raise ValueError(f"The file has no `text` column (columns found: {shown}). Name the documents' column `text`.")


def usable(value) -> tuple[str | None, str | None]:
    """(the text, None) or (None, why the value cannot be classified)."""
    if value is None:
        return None, "no text"
    if not isinstance(value, str):
        return None, f"not text ({type(value).__name__})"
    if _UNDECODED.search(value):
        return None, "not UTF-8"
    if not value.strip():
        return None, "empty"
    if looks_binary(value):
        return None, "binary data"
    return value, None


__all__ = ["check_suffix", "inspect_documents", "looks_binary", "read_documents", "text_column", "usable"]
