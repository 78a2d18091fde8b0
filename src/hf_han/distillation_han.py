"""
Static word vectors from a pretrained encoder, for HAN's embedding matrix: HAN keeps its speed (no encoder runs at
training or inference time) and starts from the encoder's knowledge. Two ways:

- `"distilled"` (the Model2Vec approach, Tulkens and van Dongen 2024): every vocabulary item is read by the
  encoder on its own, between its special tokens, and its output states are averaged; principal components then
  reduce the vectors to `dimensions`.
- `"input_embeddings"`: the average of the encoder's input embeddings of the item's pieces, reduced the same way.

The `model2vec` package implements the first for its own models, but its distillation requires transformers < 5.4
(it cannot be installed beside transformers 5), and HAN needs vectors for its own vocabulary (words, or the pieces
of a wrapped tokenizer), so the few steps are done here.
"""

import numpy as np
import torch
from transformers.utils import logging

from .subword_han import SentenceTemplate


logger = logging.get_logger(__name__)

METHODS = ("distilled", "input_embeddings")


def distill_word_vectors(
    tokenizer,
    encoder_name_or_path,
    dimensions: int | None = 256,
    method: str = "distilled",
    batch_size: int = 512,
    **loading,
) -> dict[str, np.ndarray]:
    """
    A vector for every item of `tokenizer`'s vocabulary (a `HANTokenizer`, word-level or subword) but its padding and
    unknown tokens, from the pretrained encoder at `encoder_name_or_path`. Load them with
    `model.load_word_vectors(vectors, tokenizer)` into a HAN whose `embedding_dim` is `dimensions`.

    Args:
        tokenizer (`HANTokenizer`): the vocabulary.
        encoder_name_or_path (`str` or `os.PathLike`): a folder or Hub id that `AutoModel` and `AutoTokenizer` load.
        dimensions (`int`, *optional*, defaults to 256): the vectors' size after principal component analysis, at
            most the encoder's width; `None` keeps the encoder's width.
        method (`str`, *optional*, defaults to `"distilled"`): `"distilled"` or `"input_embeddings"` (see above).
        batch_size (`int`, *optional*, defaults to 512): items read by the encoder at once.
        loading: options of `from_pretrained` (`cache_dir`, `token`, `revision`, `local_files_only`).

    Returns:
        `dict[str, np.ndarray]`: item to a float32 vector of `dimensions` values, scaled so that each of its
        components has a standard deviation of `dimensions ** -0.5` (the scale of HAN's own initialisation).
    """
    from transformers import AutoModel, AutoTokenizer

    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}.")
    encoder_tokenizer = AutoTokenizer.from_pretrained(encoder_name_or_path, **loading)
    if getattr(encoder_tokenizer, "backend_tokenizer", None) is None:
        raise ValueError(f"{encoder_name_or_path} has no fast (`tokenizers`) tokenizer; distillation reads with one.")
    encoder = AutoModel.from_pretrained(encoder_name_or_path, dtype=torch.float32, **loading).eval()
    width = encoder.config.hidden_size
    if dimensions is not None and not (isinstance(dimensions, int) and 0 < dimensions <= width):
        raise ValueError(
            f"`dimensions` must be an int in [1, {width}] (the encoder's width) or None, got {dimensions!r}."
        )
    skipped = {tokenizer.pad_token, tokenizer.unk_token}
    items = [
        item for item, _ in sorted(tokenizer.get_vocab().items(), key=lambda pair: pair[1]) if item not in skipped
    ]
    if dimensions is not None and len(items) < dimensions:
        raise ValueError(
            f"{len(items)} vocabulary items cannot span {dimensions} principal components: ask for at most "
            f"{len(items)} `dimensions`."
        )
    pieces = [_pieces_of(item, tokenizer, encoder_tokenizer) for item in items]
    empty = sum(1 for ids in pieces if not ids)
    pieces = [ids or [encoder_tokenizer.unk_token_id] for ids in pieces]
    if empty:
        logger.info(
            f"{empty} vocabulary items have no piece in the encoder's vocabulary; they get its [UNK]'s vector."
        )
    if method == "input_embeddings":
        table = encoder.get_input_embeddings().weight.detach()
        vectors = torch.stack([table[ids].mean(dim=0) for ids in pieces])
    else:
        vectors = _read_alone(encoder, encoder_tokenizer, pieces, batch_size)
    vectors = _reduce(vectors.double(), dimensions)
    return {item: vector for item, vector in zip(items, vectors.numpy().astype(np.float32))}


def _pieces_of(item: str, tokenizer, encoder_tokenizer) -> list[int]:
    """The encoder's piece ids of one vocabulary item: itself when it is one of the encoder's pieces (a wrapped
    tokenizer's "##ing"), else the pieces the encoder's tokenizer reads in it (a word)."""
    if getattr(tokenizer, "is_subword", False):
        own = encoder_tokenizer.convert_tokens_to_ids(item)
        if own is not None and own != encoder_tokenizer.unk_token_id:
            return [own]
    return encoder_tokenizer(item, add_special_tokens=False)["input_ids"]


@torch.no_grad()
def _read_alone(encoder, encoder_tokenizer, pieces: list[list[int]], batch_size: int) -> torch.Tensor:
    """The mean of the encoder's output states over each item's pieces, each item read alone between the special
    tokens of a single sequence; items of similar length are batched together."""
    template = SentenceTemplate.of(encoder_tokenizer.backend_tokenizer)  # "[CLS]" and "[SEP]", or "<s>" and "</s>"
    with_specials = [template.prefix + ids + template.suffix for ids in pieces]
    prefix = len(template.prefix)
    pad = encoder_tokenizer.pad_token_id if encoder_tokenizer.pad_token_id is not None else 0
    order = sorted(range(len(pieces)), key=lambda index: len(with_specials[index]))
    vectors = torch.empty(len(pieces), encoder.config.hidden_size)
    for first in range(0, len(order), batch_size):
        rows = order[first : first + batch_size]
        width = max(len(with_specials[row]) for row in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        own = torch.zeros(len(rows), width)  # the item's own pieces, not the special tokens
        for slot, row in enumerate(rows):
            ids[slot, : len(with_specials[row])] = torch.tensor(with_specials[row])
            mask[slot, : len(with_specials[row])] = 1
            own[slot, prefix : prefix + len(pieces[row])] = 1
        states = encoder(input_ids=ids, attention_mask=mask).last_hidden_state  # (rows, width, hidden)
        vectors[rows] = (states * own.unsqueeze(-1)).sum(dim=1) / own.sum(dim=1, keepdim=True)
    return vectors


def _reduce(vectors: torch.Tensor, dimensions: int | None) -> torch.Tensor:
    """Centred, rotated onto the principal components (the first `dimensions` kept), and scaled."""
    centred = vectors - vectors.mean(dim=0)
    if dimensions is not None:
        # the right singular vectors are the principal directions, largest variance first
        _, _, directions = torch.linalg.svd(centred, full_matrices=False)
        centred = centred @ directions[:dimensions].T
    size = centred.size(1)
    return (centred / centred.std().clamp_min(1e-12) * size**-0.5).float()
