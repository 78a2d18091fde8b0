"""
Word vectors for a new word-level HAN in `run_classification.py`: `--word_vectors` from a file, or skip-gram
vectors trained on the training split (the paper's recipe; gensim).
"""

import logging
import math
import os


logger = logging.getLogger(__name__)

# Skip-gram reads a small corpus several times over, until about this many words have gone by: 5 passes over 500
# IMDB reviews (0.14M words) gave vectors that, kept fixed, left HAN at 57.9% on the test reviews; 50 passes, 78.4%
# (docs/benchmarks.md, "Learning curves"). A corpus of 2M words or more keeps gensim's usual 5 passes.
SKIPGRAM_WORDS = 10_000_000
SKIPGRAM_EPOCHS = (5, 100)  # fewest and most passes when --word_vectors_epochs is not given
# gensim splits a corpus file between its threads, which then update the vectors at once in an order that differs
# from run to run; below this many words one thread trains, so that the same data and seed give the same vectors
SKIPGRAM_PARALLEL_WORDS = 2_000_000
# Skip-gram reads at most the first this many words of the training split (--word_vectors_max_words), so that its
# time does not grow with the corpus: all 267M words of 1M documents took 18 minutes a pass on 2 cores, 5 passes over
# the first 20M words 6 minutes; IMDB's 22,500 training reviews (6.06M words) are read whole, as before.
SKIPGRAM_MAX_WORDS = 7_000_000


def skipgram_epochs(corpus_words: int) -> int:
    """Passes over a corpus of `corpus_words` words: enough to read SKIPGRAM_WORDS, within SKIPGRAM_EPOCHS."""
    fewest, most = SKIPGRAM_EPOCHS
    return min(most, max(fewest, math.ceil(SKIPGRAM_WORDS / max(1, corpus_words))))


def wants_skipgram_vectors(model_args, tokenizer) -> bool:
    """--train_word_vectors (on by default): for a new word-level HAN that gets no other vectors."""
    if not model_args.train_word_vectors:
        return False
    new_word_level = not (
        model_args.model_name_or_path or model_args.word_encoder_name_or_path or tokenizer.is_subword
    )
    return new_word_level and not (model_args.word_vectors or model_args.distill_word_vectors_from)


def initialise_word_vectors(model, tokenizer, raw_datasets, text_column, model_args, training_args) -> dict:
    """
    Load `--word_vectors`, or train skip-gram vectors on the training split (the main process trains, the others
    wait and read). Return what was chosen on the user's behalf (the skip-gram epochs where --word_vectors_epochs was
    not given).
    """
    chosen = {}
    path = model_args.word_vectors
    if path is None:
        path = os.path.join(training_args.output_dir, "_word_vectors", "skipgram.txt")
        with training_args.main_process_first(desc="training word vectors"):
            if not os.path.exists(path):
                if training_args.local_process_index != 0:
                    logger.warning(
                        f"Process {training_args.process_index} found no skip-gram vectors after the main process "
                        "trained them; it trains its own (same data and seed)."
                    )
                epochs = train_skipgram_vectors(
                    tokenizer,
                    iterate_texts(raw_datasets["train"], text_column),
                    model.config.embedding_dim,
                    model_args.word_vectors_epochs,
                    training_args.seed,
                    path,
                    max_words=model_args.word_vectors_max_words,
                )
                if model_args.word_vectors_epochs is None:
                    chosen["word_vectors_epochs"] = epochs
            else:
                logger.info(f"Process {training_args.process_index} read the skip-gram vectors from {path}")
    model.load_word_vectors(path, tokenizer, freeze=model_args.freeze_word_embeddings)
    return chosen


def iterate_texts(dataset, text_column: str, batch_size: int = 1024):
    """The column's texts, read from the dataset's Arrow data a batch at a time (never the whole column at once)."""
    for batch in dataset.select_columns([text_column]).iter(batch_size=batch_size):
        yield from batch[text_column]


def write_skipgram_corpus(tokenizer, texts, path: str, max_words: int = 0) -> tuple[int, int]:
    """
    The tokenizer's sentences of `texts` (any iterable, read until `max_words` words are written, unless 0) as
    gensim's corpus file: a sentence per line, its words separated by spaces. Returns the number of sentences and of
    words.
    """
    sentences = words = 0
    with open(path, "w", encoding="utf-8") as handle:
        for text in texts:
            for sentence in tokenizer.sentence_words(text or ""):
                # a word never holds white space (HAN's word rules), except a line or paragraph separator that a
                # normaliser kept; gensim would split there
                line = " ".join(word for word in (" ".join(w.split()) for w in sentence) if word)
                if line:
                    handle.write(line + "\n")
                    sentences += 1
                    words += line.count(" ") + 1
            if max_words and words >= max_words:  # stop before the next text is read
                break
    return sentences, words


def train_skipgram_vectors(
    tokenizer, texts, dim: int, epochs: int | None, seed: int, path: str, max_words: int = SKIPGRAM_MAX_WORDS
) -> int:
    """
    Train skip-gram vectors of the tokenizer's words on `texts` (an iterable, read once, up to `max_words` words
    unless 0) and write them to `path`; return the epochs trained. The sentences go to a corpus file beside `path`,
    which gensim reads in parallel (`corpus_file`), so memory does not grow with the corpus.
    """
    try:
        from gensim.models import Word2Vec
    except ImportError as error:
        raise ImportError(
            "Skip-gram word vectors (--train_word_vectors, on by default for a new HAN) need gensim: pip install "
            "gensim, or pass --train_word_vectors false."
        ) from error
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # this process's own files: another process that trains too (see initialise_word_vectors) never touches them
    corpus = f"{path}.{os.getpid()}.corpus"
    partial = f"{path}.{os.getpid()}.partial"
    try:
        sentence_count, corpus_words = write_skipgram_corpus(tokenizer, texts, corpus, max_words)
        epochs = skipgram_epochs(corpus_words) if epochs is None else epochs
        capped = bool(max_words) and corpus_words >= max_words
        logger.info(
            f"Training {dim}-dimensional skip-gram vectors on {sentence_count:,} sentences, {corpus_words:,} words "
            f"({epochs} epochs{'; the first of the training split, --word_vectors_max_words' if capped else ''})"
        )
        if not corpus_words:
            raise ValueError("The training split has no words to train skip-gram vectors on.")
        word2vec = Word2Vec(
            corpus_file=corpus,
            vector_size=dim,
            window=5,
            min_count=1,
            sg=1,
            workers=1 if corpus_words < SKIPGRAM_PARALLEL_WORDS else max(1, os.cpu_count() or 1),
            epochs=epochs,
            seed=seed,
        )
        vocabulary = [word for word in tokenizer.get_vocab() if word in word2vec.wv]
        with open(partial, "w", encoding="utf-8") as handle:
            handle.write(f"{len(vocabulary)} {dim}\n")
            handle.writelines(
                word + " " + " ".join(f"{value:.6f}" for value in word2vec.wv[word]) + "\n" for word in vocabulary
            )
        os.replace(partial, path)
    finally:
        for leftover in (corpus, partial):
            if os.path.exists(leftover):
                os.remove(leftover)
    return epochs
