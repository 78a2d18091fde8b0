"""Pre-trained word vectors (word2vec or GloVe text files, or a mapping) as HAN's initial word embeddings."""

import os
from collections.abc import Mapping, Sequence

import torch
from transformers.utils import logging


logger = logging.get_logger(__name__)


def load_word_vectors(
    model,
    vectors: Mapping[str, Sequence[float]] | str | os.PathLike,
    vocabulary,
    freeze: bool = False,
    encoding: str = "utf-8",
) -> int:
    """
    Initialise the word embeddings from pre-trained vectors.

    Args:
        vectors (`Mapping[str, Sequence[float]]` or `str` or `os.PathLike`):
            A `{word: vector}` mapping, or the path of a word2vec (with its `count dim` header line) or GloVe
            text file. Only the vocabulary's words are read from a file.
        vocabulary (`Mapping[str, int]` or a tokenizer):
            Word to embedding row; a tokenizer's `get_vocab()` is used when given a tokenizer.
        freeze (`bool`, *optional*, defaults to `False`):
            Keep the embeddings fixed during training; stored in `config.freeze_word_embeddings`.
        encoding (`str`, *optional*, defaults to `"utf-8"`):
            Encoding of a vector file.

    Returns:
        `int`: the number of vocabulary words that received a vector. Words without one keep their
        initialisation; their count is logged.
    """
    if hasattr(vocabulary, "get_vocab"):
        vocabulary = vocabulary.get_vocab()
    embeddings = model.get_input_embeddings().weight
    num_rows, dim = embeddings.shape
    out_of_range = [word for word, row in vocabulary.items() if not 0 <= row < num_rows]
    if out_of_range:
        raise ValueError(
            f"The vocabulary has ids outside the embedding matrix of {num_rows} rows (e.g. {out_of_range[0]!r}): "
            "the tokenizer does not match this model."
        )
    if isinstance(vectors, (str, os.PathLike)):
        vectors = read_word_vector_file(vectors, set(vocabulary), dim, encoding)

    found = 0
    with torch.no_grad():
        for word, row in vocabulary.items():
            if word not in vectors or row == model.config.pad_token_id:
                continue
            vector = torch.as_tensor(vectors[word], dtype=embeddings.dtype)
            if vector.shape != (dim,):
                raise ValueError(
                    f"The vector of {word!r} has shape {tuple(vector.shape)}, the embeddings expect ({dim},)."
                )
            embeddings[row] = vector.to(embeddings.device)
            found += 1
    missing = len(vocabulary) - found
    logger.info(
        f"Initialised {found} of {len(vocabulary)} word embeddings from pre-trained vectors; "
        f"{missing} words without a vector keep their random initialisation."
    )
    model.config.freeze_word_embeddings = freeze
    embeddings.requires_grad_(not freeze)
    return found


def read_word_vector_file(path, words: set[str], dim: int, encoding: str) -> dict[str, list[float]]:
    vectors = {}
    with open(path, encoding=encoding, errors="replace") as handle:
        for line_number, line in enumerate(handle, start=1):
            parts = line.rstrip().split(" ")
            if line_number == 1 and len(parts) == 2 and all(part.isdigit() for part in parts):
                # word2vec text header: "<count> <dim>"
                if int(parts[1]) != dim:
                    raise ValueError(f"{path} holds {parts[1]}-dimensional vectors, the embeddings have {dim}.")
                continue
            word = parts[0]
            if word not in words or word in vectors:
                continue
            if len(parts) != dim + 1:
                raise ValueError(
                    f"{path}, line {line_number}: {len(parts) - 1} values for {word!r}, the embeddings have {dim}."
                )
            vectors[word] = [float(value) for value in parts[1:]]
    return vectors


__all__ = ["load_word_vectors", "read_word_vector_file"]
