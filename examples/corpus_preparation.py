"""
A new word-level vocabulary for `run_classification.py`, counted from the training split's first documents (a bounded
sample, as skip-gram's vectors are), so that its time does not grow with the corpus.
"""

import logging

import pyarrow.compute as pc

from hf_han import HANTokenizer

import skipgram_vectors


logger = logging.getLogger(__name__)

# A new vocabulary counts the words of the training split's first documents, up to this many words, so that its time
# does not grow with the corpus: counting all 267M words of 1M IMDB-like documents took 2 minutes on 2 cores, the
# first 20M 10 s, and on the last 100,000 of those documents the sampled vocabulary missed 0.76% of the words against
# 0.63% for the whole count's (docs/benchmarks.md, "Corpus size"). IMDB's training reviews (6.06M words) are counted
# whole, as before.
VOCABULARY_MAX_WORDS = 20_000_000


def train_vocabulary(train, text_column: str, settings: dict, data_args, training_args) -> HANTokenizer:
    """A new word-level HANTokenizer with the vocabulary of the training split's texts (read a batch at a time)."""
    settings = {"max_sentences": 30, "max_words": 50, "long_sentences": "wrap", **settings}
    tokenizer = HANTokenizer(**settings).train_new_from_iterator(
        (text or "" for text in skipgram_vectors.iterate_texts(train, text_column)),
        vocab_size=data_args.vocab_size,
        min_frequency=data_args.min_frequency,
        length=len(train),
        show_progress=training_args.process_index == 0 and not training_args.disable_tqdm,
        max_words=data_args.vocabulary_max_words,
    )
    empty = empty_texts(train, text_column)
    if len(tokenizer) <= 2:  # [PAD] and [UNK] alone: every document would read as [UNK]
        raise ValueError(
            f"No word of the training split's column {text_column!r} is seen --min_frequency "
            f"{data_args.min_frequency} times ({empty} of its {len(train)} documents are empty): check "
            "--text_column_name, or lower --min_frequency."
        )
    if empty:
        logger.warning(f"{empty} of the {len(train)} training documents are empty; they read as one [UNK].")
    return tokenizer


def empty_texts(dataset, text_column: str) -> int:
    """Documents of `dataset` whose text is missing or white space alone, counted by Arrow a batch at a time."""
    empty = 0
    for batch in dataset.select_columns([text_column]).with_format("arrow").iter(batch_size=10_000):
        texts = batch.column(0)
        blank = pc.sum(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(texts)), 0)).as_py()  # None: no text
        empty += texts.null_count + (blank or 0)
    return empty
