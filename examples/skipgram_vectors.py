"""
Word vectors for a new word-level HAN in `run_classification.py`: `--word_vectors` from a file, or skip-gram
vectors trained on the training split (the paper's recipe; gensim).
"""

import logging
import os


logger = logging.getLogger(__name__)


def wants_skipgram_vectors(model_args, tokenizer) -> bool:
    """--train_word_vectors (on by default): for a new word-level HAN that gets no other vectors."""
    if not model_args.train_word_vectors:
        return False
    new_word_level = not (
        model_args.model_name_or_path or model_args.word_encoder_name_or_path or tokenizer.is_subword
    )
    return new_word_level and not (model_args.word_vectors or model_args.distill_word_vectors_from)


def initialise_word_vectors(model, tokenizer, raw_datasets, text_column, model_args, training_args) -> None:
    """Load `--word_vectors`, or train skip-gram vectors on the training split (rank 0 trains, the others read)."""
    path = model_args.word_vectors
    if path is None:
        path = os.path.join(training_args.output_dir, "_word_vectors", "skipgram.txt")
        with training_args.main_process_first(desc="training word vectors"):
            if not os.path.exists(path):
                train_skipgram_vectors(
                    tokenizer,
                    raw_datasets["train"][text_column],
                    model.config.embedding_dim,
                    model_args.word_vectors_epochs,
                    training_args.seed,
                    path,
                )
    model.load_word_vectors(path, tokenizer, freeze=model_args.freeze_word_embeddings)


def train_skipgram_vectors(tokenizer, texts: list[str], dim: int, epochs: int, seed: int, path: str) -> None:
    try:
        from gensim.models import Word2Vec
    except ImportError as error:
        raise ImportError(
            "Skip-gram word vectors (--train_word_vectors, on by default for a new HAN) need gensim: pip install "
            "gensim, or pass --train_word_vectors false."
        ) from error
    sentences = [words for text in texts for words in tokenizer.sentence_words(text or "")]
    logger.info(f"Training {dim}-dimensional skip-gram vectors on {len(sentences)} sentences ({epochs} epochs)")
    word2vec = Word2Vec(
        sentences,
        vector_size=dim,
        window=5,
        min_count=1,
        sg=1,
        workers=max(1, (os.cpu_count() or 1)),
        epochs=epochs,
        seed=seed,
    )
    vocabulary = [word for word in tokenizer.get_vocab() if word in word2vec.wv]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(f"{len(vocabulary)} {dim}\n")
        handle.writelines(
            word + " " + " ".join(f"{value:.6f}" for value in word2vec.wv[word]) + "\n" for word in vocabulary
        )
    os.replace(partial, path)
