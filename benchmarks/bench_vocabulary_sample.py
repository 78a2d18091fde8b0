"""
The vocabulary counted from a corpus's first words (`--vocabulary_max_words`) against the one counted from all of
it: their sizes, the words they share, and the share of the words of the corpus's last documents that each misses.

    python benchmarks/bench_scale.py --docs 1000000 --max_steps 1      # writes the corpus, if it is not there yet
    python benchmarks/bench_vocabulary_sample.py --corpus outputs/bench-scale/corpus-1000000.csv

The whole count has seen the last documents, the sample has not: the comparison favours the whole count.
"""

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from hf_han import HANTokenizer


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
from corpus_preparation import VOCABULARY_MAX_WORDS  # noqa: E402


def texts(path: Path, first: int = 0, last: int | None = None):
    """The `text` column of rows [first, last) of a CSV corpus, read as a stream."""
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="", encoding="utf-8") as handle:
        for index, row in enumerate(csv.DictReader(handle)):
            if last is not None and index >= last:
                return
            if index >= first:
                yield row["text"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="A CSV file with a `text` column.")
    parser.add_argument("--max_words", type=int, default=VOCABULARY_MAX_WORDS)
    parser.add_argument("--held_out", type=int, default=100_000, help="The last documents, scored.")
    parser.add_argument("--vocab_size", type=int, default=50_000)
    parser.add_argument("--min_frequency", type=int, default=6)
    args = parser.parse_args()

    documents = sum(1 for _ in texts(args.corpus))
    base = HANTokenizer(max_sentences=30, max_words=50, long_sentences="wrap")
    options = dict(vocab_size=args.vocab_size, min_frequency=args.min_frequency, show_progress=False)
    started = time.perf_counter()
    whole = base.train_new_from_iterator(texts(args.corpus), **options).get_vocab()
    whole_seconds = time.perf_counter() - started
    started = time.perf_counter()
    sample = base.train_new_from_iterator(texts(args.corpus), max_words=args.max_words, **options).get_vocab()
    sample_seconds = time.perf_counter() - started
    words = missed_whole = missed_sample = 0
    for text in texts(args.corpus, first=max(0, documents - args.held_out)):
        for sentence in base.sentence_words(text):
            for word in sentence:
                words += 1
                missed_whole += word not in whole
                missed_sample += word not in sample
    print(
        json.dumps(
            {
                "corpus": str(args.corpus),
                "documents": documents,
                "max_words": args.max_words,
                "whole": {"words": len(whole), "seconds": round(whole_seconds, 1)},
                "sample": {"words": len(sample), "seconds": round(sample_seconds, 1)},
                "shared_words": len(set(whole) & set(sample)),
                "held_out_documents": min(args.held_out, documents),
                "held_out_words": words,
                "missed_by_whole_%": round(100 * missed_whole / max(1, words), 3),
                "missed_by_sample_%": round(100 * missed_sample / max(1, words), 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
