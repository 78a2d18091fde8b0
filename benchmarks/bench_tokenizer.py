"""Throughput of HANTokenizer on the 50,000 IMDB reviews against a plain-Python reference and NLTK: word-level
(the default rules, and those of hf-han 0.1), MiniLM's WordPiece wrapped, and a WordPiece vocabulary trained here.
The subword rows keep each distinct chunk's pieces (`chunk_pieces_han.py`): "first pass" starts each repeat from a
new tokenizer (nothing kept), "again" reuses one that has read the reviews before, and "whole documents" encodes
every review with the backend itself, as tokenizers whose pieces depend on their neighbours (byte-level BPE,
SentencePiece) are.

    pip install nltk   # only for the NLTK row
    python benchmarks/bench_tokenizer.py [--repeats 3] [--nltk-docs 5000]

Run it alone: on 2 cores any other job distorts the figures. The variants are interleaved and the median of the
repeats is reported.
"""

import argparse
import gc
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import tokenizers
import transformers

from hf_han import HANTokenizer


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))  # offline_datasets.py
from offline_datasets import download_imdb_csv, prepare_imdb_splits, prepare_minilm, read_split  # noqa: E402


# The straightforward code users write by hand: regex sentence split, regex word split, dict lookup.
# No normalisation, no offsets.
REFERENCE_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+|<br\s*/?>")
REFERENCE_WORD = re.compile(r"\w+|[^\w\s]")


def reference_encode(documents, vocab, unk_id):
    encoded = []
    for document in documents:
        sentences = [REFERENCE_WORD.findall(sentence) for sentence in REFERENCE_SENTENCE.split(document)]
        encoded.append([[vocab.get(word, unk_id) for word in words] for words in sentences if words])
    return encoded


def nltk_encode(documents, vocab, unk_id):
    from nltk.tokenize import PunktSentenceTokenizer, TreebankWordTokenizer

    sentence_tokenizer, word_tokenizer = PunktSentenceTokenizer(), TreebankWordTokenizer()
    encoded = []
    for document in documents:
        sentences = [word_tokenizer.tokenize(sentence) for sentence in sentence_tokenizer.tokenize(document)]
        encoded.append([[vocab.get(word.lower(), unk_id) for word in words] for words in sentences if words])
    return encoded


def timed(function, *args):
    gc.collect()  # every variant starts from the same heap, not with the garbage of the one before
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nltk-docs", type=int, default=5000, help="NLTK is slow: time it on a prefix")
    args = parser.parse_args()

    import csv

    with open(download_imdb_csv(), encoding="utf-8", newline="") as handle:
        documents = [row["review"] for row in csv.DictReader(handle)]  # raw, with <br /> markup
    train_texts, _ = read_split(prepare_imdb_splits()["train"])
    train_texts = train_texts + read_split(prepare_imdb_splits()["validation"])[0]  # the 25,000 training reviews

    print(
        f"python {platform.python_version()}, transformers {transformers.__version__}, tokenizers "
        f"{tokenizers.__version__}, {platform.processor() or platform.machine()}"
    )
    train_seconds, tokenizer = timed(
        lambda: HANTokenizer().train_new_from_iterator(
            train_texts, vocab_size=100000, min_frequency=6, show_progress=False
        )
    )
    print(f"vocabulary training on {len(train_texts)} reviews: {train_seconds:.1f} s -> {len(tokenizer)} words")
    vocab, unk_id = tokenizer.get_vocab(), tokenizer.unk_token_id
    num_words = sum(len(words) for doc in tokenizer(documents[:2000])["input_ids"] for words in doc) / 2000

    # the rules of hf-han 0.1 (which saved tokenizers keep), the same vocabulary
    version_1 = HANTokenizer(vocab=vocab, rules_version=1)
    # subword vocabularies: MiniLM's WordPiece wrapped ("[CLS] ... [SEP]" per sentence), and one trained here
    minilm = HANTokenizer.from_pretrained_tokenizer(prepare_minilm())
    whole_documents = HANTokenizer.from_pretrained_tokenizer(prepare_minilm())
    whole_documents._encoder().chunk_pieces = None  # the backend encodes each whole review
    wordpiece_seconds, wordpiece = timed(
        lambda: HANTokenizer().train_new_from_iterator(train_texts, 30000, subword="wordpiece", show_progress=False)
    )
    print(f"WordPiece training on {len(train_texts)} reviews: {wordpiece_seconds:.1f} s -> {len(wordpiece)} pieces")
    pieces = {
        name: sum(len(sentence) for doc in encoder(documents[:2000])["input_ids"] for sentence in doc) / 2000
        for name, encoder in (("minilm", minilm), ("wordpiece", wordpiece))
    }

    rows = {
        "hf_han (offsets, ragged)": [],
        "hf_han (no offsets, ragged)": [],
        "hf_han (offsets, padded pt, 64/batch)": [],
        "hf_han rules v1 (offsets, ragged)": [],
        "MiniLM wrapped (offsets, first pass)": [],
        "MiniLM wrapped (offsets, again)": [],
        "MiniLM wrapped (no offsets, again)": [],
        "MiniLM wrapped (offsets, whole documents)": [],
        "trained WordPiece (offsets, again)": [],
        "plain-Python reference": [],
        "NLTK Punkt+Treebank": [],
    }
    nltk_available = True
    for repeat in range(args.repeats):
        rows["plain-Python reference"].append(len(documents) / timed(reference_encode, documents, vocab, unk_id)[0])
        rows["hf_han (offsets, ragged)"].append(
            len(documents) / timed(lambda: tokenizer(documents, return_offsets_mapping=True))[0]
        )
        rows["hf_han (no offsets, ragged)"].append(len(documents) / timed(lambda: tokenizer(documents))[0])
        rows["hf_han rules v1 (offsets, ragged)"].append(
            len(documents) / timed(lambda: version_1(documents, return_offsets_mapping=True))[0]
        )
        fresh = HANTokenizer.from_pretrained_tokenizer(prepare_minilm())
        rows["MiniLM wrapped (offsets, first pass)"].append(
            len(documents) / timed(lambda fresh=fresh: fresh(documents, return_offsets_mapping=True))[0]
        )
        rows["MiniLM wrapped (offsets, again)"].append(
            len(documents) / timed(lambda: minilm(documents, return_offsets_mapping=True))[0]
        )
        rows["MiniLM wrapped (no offsets, again)"].append(len(documents) / timed(lambda: minilm(documents))[0])
        rows["MiniLM wrapped (offsets, whole documents)"].append(
            len(documents) / timed(lambda: whole_documents(documents, return_offsets_mapping=True))[0]
        )
        rows["trained WordPiece (offsets, again)"].append(
            len(documents) / timed(lambda: wordpiece(documents, return_offsets_mapping=True))[0]
        )
        rows["hf_han (offsets, padded pt, 64/batch)"].append(
            len(documents)
            / timed(
                lambda: [
                    tokenizer(documents[i : i + 64], return_offsets_mapping=True, padding=True, return_tensors="pt")
                    for i in range(0, len(documents), 64)
                ]
            )[0]
        )
        if nltk_available:
            try:
                prefix = documents[: args.nltk_docs]
                rows["NLTK Punkt+Treebank"].append(len(prefix) / timed(nltk_encode, prefix, vocab, unk_id)[0])
            except ImportError:
                nltk_available = False
        print(
            f"repeat {repeat + 1}/{args.repeats}: "
            + ", ".join(f"{name} {rates[-1]:.0f}" for name, rates in rows.items() if rates)
        )

    reference = statistics.median(rows["plain-Python reference"])
    print(f"\n{len(documents)} documents, about {num_words:.0f} words each after truncation (30 x 50)")
    print(f"{'encoder':42s} {'docs/s':>9s} {'words/s':>11s} {'vs reference':>13s}")
    for name, rates in rows.items():
        if not rates:
            print(f"{name:42s} {'(not installed)':>9s}")
            continue
        rate = statistics.median(rates)
        units = pieces["minilm"] if "MiniLM" in name else pieces["wordpiece"] if "trained" in name else num_words
        print(f"{name:42s} {rate:9.0f} {rate * units:11.0f} {rate / reference:12.2f}x")
    print(
        f"(words/s counts pieces in the subword rows: {pieces['minilm']:.0f} and {pieces['wordpiece']:.0f} a document)"
    )
    if rows["NLTK Punkt+Treebank"]:
        nltk_rate = statistics.median(rows["NLTK Punkt+Treebank"])
        print(f"hf_han (offsets) vs NLTK: {statistics.median(rows['hf_han (offsets, ragged)']) / nltk_rate:.1f}x")


if __name__ == "__main__":
    main()
