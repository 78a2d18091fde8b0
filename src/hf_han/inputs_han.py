"""
What `HANModel` reads: the checks on `input_ids` and `attention_mask`, and a batch's packed form, its real
sentences and words laid end to end without padding, with the index that puts packed values back where the
caller's `(batch, sentences, words)` layout has them.
"""

from dataclasses import dataclass

import torch


def check_inputs(
    input_ids: torch.Tensor, attention_mask: torch.Tensor | None, pad_token_id: int, vocab_size: int
) -> torch.BoolTensor:
    """
    Validate `input_ids` (any integer dtype) and `attention_mask` (0 or 1, as bool, integers or floats); return the
    word mask as bool `(batch, sentences, words)`. Without a mask, every id other than `pad_token_id` is a word.
    """
    if not isinstance(input_ids, torch.Tensor):
        raise ValueError(f"`input_ids` must be a torch.Tensor, got {type(input_ids).__name__}.")
    if input_ids.dim() != 3:
        hint = (
            " A 2-D input looks like flat token ids; encode documents with HANTokenizer."
            if input_ids.dim() == 2
            else ""
        )
        raise ValueError(
            "`input_ids` must have shape (batch_size, num_sentences, num_words), got a "
            f"{input_ids.dim()}-D tensor of shape {tuple(input_ids.shape)}.{hint}"
        )
    if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
        raise ValueError(f"`input_ids` must hold integer ids, got dtype {input_ids.dtype}.")
    if input_ids.numel() == 0:
        raise ValueError(f"`input_ids` is empty (shape {tuple(input_ids.shape)}); every document needs a word.")
    if attention_mask is None:
        word_mask = input_ids != pad_token_id
    else:
        if not isinstance(attention_mask, torch.Tensor) or attention_mask.shape != input_ids.shape:
            shape = (
                tuple(attention_mask.shape)
                if isinstance(attention_mask, torch.Tensor)
                else type(attention_mask).__name__
            )
            raise ValueError(
                f"`attention_mask` must have the shape of `input_ids` {tuple(input_ids.shape)}, got {shape}."
            )
        if attention_mask.dtype != torch.bool:
            invalid = (attention_mask != 0) & (attention_mask != 1)
            if invalid.any():
                values = attention_mask[invalid].unique()[:5].tolist()
                raise ValueError(f"`attention_mask` must hold 1 for real words and 0 for padding, got also {values}.")
        word_mask = attention_mask.bool()
    low, high = int(input_ids.min()), int(input_ids.max())
    if low < 0 or high >= vocab_size:
        raise ValueError(
            f"`input_ids` must lie in [0, {vocab_size}) (config.vocab_size), got values in [{low}, {high}]. Is the "
            "tokenizer the one this model was trained with?"
        )
    empty_documents = (~word_mask.flatten(1).any(dim=1)).nonzero().flatten().tolist()
    if empty_documents:
        raise ValueError(
            f"Documents {empty_documents} have no real word in `attention_mask`; every document needs at least one "
            "(HANTokenizer encodes an empty document as one sentence holding [UNK])."
        )
    return word_mask


@dataclass
class PackedDocuments:
    """
    The real sentences of a batch (those with a real word), in document order, and their real words. A document's
    sentences are consecutive, as are a sentence's words. `n_sentences` and `n_words` count the real ones.
    """

    shape: tuple[int, int, int]  # the caller's (batch, sentences, words)
    word_ids: torch.LongTensor  # (n_words,)
    word_mask: torch.BoolTensor  # (n_sentences, words): each real sentence's row of the caller's mask
    sentence_lengths: torch.LongTensor  # (n_sentences,): real words per sentence
    word_sentence: torch.LongTensor  # (n_words,): the sentence of each word
    document_lengths: torch.LongTensor  # (batch,): real sentences per document
    sentence_document: torch.LongTensor  # (n_sentences,): the document of each sentence
    sentence_index: tuple[torch.LongTensor, torch.LongTensor]  # (n_sentences,) each: (document, sentence position)
    word_index: tuple[torch.LongTensor, torch.LongTensor, torch.LongTensor]  # (n_words,) each: (doc, sentence, word)

    @property
    def num_sentences(self) -> int:
        return len(self.sentence_lengths)


def pack_documents(input_ids: torch.LongTensor, word_mask: torch.BoolTensor) -> PackedDocuments:
    """The packed form of `input_ids` `(batch, sentences, words)` under `word_mask` (same shape, bool)."""
    batch_size, num_sentences, num_words = input_ids.shape
    sentence_mask = word_mask.any(dim=-1)  # (batch, sentences)
    real_sentences = sentence_mask.flatten().nonzero().squeeze(1)  # (n_sentences,)
    real_word_mask = word_mask.reshape(-1, num_words)[real_sentences]  # (n_sentences, words)
    sentence_lengths = real_word_mask.sum(dim=1)  # (n_sentences,)
    word_ids = input_ids.reshape(-1, num_words)[real_sentences][real_word_mask]  # (n_words,)
    word_sentence = torch.repeat_interleave(
        torch.arange(len(real_sentences), device=input_ids.device), sentence_lengths
    )  # (n_words,)
    sentence_document = torch.div(real_sentences, num_sentences, rounding_mode="floor")  # (n_sentences,)
    sentence_index = (sentence_document, real_sentences % num_sentences)
    word_index = (sentence_document[word_sentence], sentence_index[1][word_sentence], real_word_mask.nonzero()[:, 1])
    return PackedDocuments(
        shape=(batch_size, num_sentences, num_words),
        word_ids=word_ids,
        word_mask=real_word_mask,
        sentence_lengths=sentence_lengths,
        word_sentence=word_sentence,
        document_lengths=sentence_mask.sum(dim=1),
        sentence_document=sentence_document,
        sentence_index=sentence_index,
        word_index=word_index,
    )


def in_layout(packed: torch.Tensor, index: tuple[torch.LongTensor, ...], shape: tuple[int, ...]) -> torch.Tensor:
    """Packed values scattered to `index` (a tuple of index tensors, one per leading axis) of a zero tensor `shape`;
    a last axis of -1 takes the packed values' trailing shape."""
    if shape[-1] == -1:
        shape = shape[:-1] + packed.shape[1:]
    return packed.new_zeros(shape).index_put(index, packed)


def through_layout(
    packed: torch.Tensor, index: tuple[torch.LongTensor, ...], shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    The packed values in the caller's layout (as `in_layout`), and the same values read back from it. Computing on
    with the values read back puts the layout tensor on the path to the outputs, so that gradients reach the hidden
    states and attentions a caller receives (for attribution); the model computes the same numbers either way.
    """
    layout = in_layout(packed, index, shape)
    return layout, layout[index]


def fixed_word_weights(packed: PackedDocuments, pooling: str, dtype: torch.dtype) -> torch.Tensor:
    """Word weights `(n_words, 1)` of mean pooling (1 / length) or [CLS] pooling (1 on each sentence's first word)."""
    lengths = packed.sentence_lengths[packed.word_sentence]  # (n_words,)
    if pooling == "mean":
        return (1.0 / lengths.to(dtype)).unsqueeze(1)
    first = torch.cumsum(packed.sentence_lengths, 0) - packed.sentence_lengths  # (n_sentences,)
    return torch.zeros(len(lengths), 1, dtype=dtype, device=lengths.device).index_fill(0, first, 1.0)
