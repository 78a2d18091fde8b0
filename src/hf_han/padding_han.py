"""
Padding of hierarchical encodings: ragged `(documents, sentences, words)` lists, or one entry per word ("columns"),
to `(batch, sentences, words)` arrays. Shared by `HANTokenizer` and `DataCollatorForDocumentClassification`.
"""

from collections.abc import Sequence
from itertools import chain, pairwise

import numpy as np


def pad_documents(
    encoded: dict[str, list],
    shape: tuple[int, int] | None = None,
    pad_to_multiple_of: int | None = None,
    pad_token_id: int = 0,
    min_words: int | None = None,
) -> dict[str, np.ndarray]:
    """
    Right-pad ragged hierarchical features to one `(batch, sentences, words)` array each: `input_ids` with
    `pad_token_id`, `attention_mask` with 0 (all real words get 1 when `encoded` has no mask), `offset_mapping`
    with `(0, 0)` (shape `(batch, sentences, words, 2)`). Other keys are kept as they are. See `padded_shape` for
    `shape`, `pad_to_multiple_of` and `min_words`.
    """
    if not encoded["input_ids"]:
        raise ValueError("Cannot pad an empty batch of documents.")
    columns = columns_from_ragged(encoded["input_ids"], encoded.get("offset_mapping"), encoded.get("attention_mask"))
    keys = ["input_ids", "attention_mask"] + (["offset_mapping"] if "offset_mapping" in encoded else [])
    padded = pad_columns(
        columns,
        len(encoded["input_ids"]),
        keys,
        pad_token_id,
        shape=shape,
        min_words=min_words,
        pad_to_multiple_of=pad_to_multiple_of,
    )
    return {**encoded, **padded}


def padded_shape(
    num_sentences: int,
    num_words: int,
    shape: tuple[int, int] | None = None,
    min_words: int | None = None,
    pad_to_multiple_of: int | None = None,
) -> tuple[int, int]:
    """
    The padded `(sentences, words)` of a batch whose longest document has `num_sentences` sentences and whose
    longest sentence has `num_words` words: `shape` when given (a longer batch is an error: truncate it first);
    otherwise these maxima, with at least `min_words` words, rounded up to a multiple of `pad_to_multiple_of`.
    """
    if shape is not None:
        if num_sentences > shape[0] or num_words > shape[1]:
            raise ValueError(
                f"A document of {num_sentences} sentences or {num_words} words does not fit the padding shape "
                f"{shape}; encode with truncation=True."
            )
        return shape
    num_words = max(num_words, min_words or 0)
    if pad_to_multiple_of:
        num_sentences = -(-num_sentences // pad_to_multiple_of) * pad_to_multiple_of
        num_words = -(-num_words // pad_to_multiple_of) * pad_to_multiple_of
    return num_sentences, num_words


# Encodings meet in columns: one entry per real word, ordered by document, sentence and word, holding `input_ids`,
# `document`, `sentence`, `position` and, with offsets, `start` and `end`.


def columns_from_ragged(
    input_ids: Sequence[list],
    offset_mapping: Sequence[list] | None = None,
    attention_mask: Sequence[list] | None = None,
) -> dict:
    """Columns of ragged `(documents, sentences, words)` ids and, optionally, `(start, end)` spans and mask values."""
    sentences_per_document = np.fromiter(map(len, input_ids), dtype=np.int64, count=len(input_ids))
    words_per_sentence = np.fromiter(chain.from_iterable(map(len, document) for document in input_ids), np.int64)
    num_words = int(words_per_sentence.sum())
    columns = {
        "input_ids": _integers(chain.from_iterable(chain.from_iterable(input_ids)), num_words, "input_ids"),
        "document": np.repeat(np.repeat(np.arange(len(input_ids)), sentences_per_document), words_per_sentence),
        "sentence": np.repeat(_positions_within(sentences_per_document), words_per_sentence),
        "position": _positions_within(words_per_sentence),
    }
    if offset_mapping is not None and all(spans is not None for spans in offset_mapping):
        spans = chain.from_iterable(chain.from_iterable(chain.from_iterable(offset_mapping)))
        spans = np.fromiter(spans, np.int64, count=2 * num_words).reshape(-1, 2)
        columns["start"], columns["end"] = spans[:, 0], spans[:, 1]
    if attention_mask is not None:
        mask = np.array(list(chain.from_iterable(chain.from_iterable(attention_mask))))
        if len(mask) != num_words:
            raise ValueError(f"`attention_mask` has {len(mask)} values for {num_words} words in `input_ids`.")
        if mask.dtype.kind not in "iufb" or not np.isin(mask, (0, 1)).all():
            values = mask[~np.isin(mask, (0, 1))][:5].tolist() if mask.dtype.kind in "iuf" else mask[:5].tolist()
            raise ValueError(f"`attention_mask` must hold 1 for real words and 0 for padding, got also {values}.")
        mask = mask.astype(np.int64)
        columns["attention_mask"] = mask
    return columns


def ragged_from_columns(columns: dict, ids: list[int], num_documents: int) -> tuple[list, list, list]:
    """Ragged `(documents, sentences, words)` lists of ids, attention mask and `(start, end)` offsets."""
    firsts = np.flatnonzero(columns["position"] == 0)  # (n_sentences,) each sentence's first entry
    lengths = np.diff(firsts, append=len(columns["position"]))
    document_bounds = np.searchsorted(columns["document"][firsts], np.arange(num_documents + 1)).tolist()
    # a sentence's ids are consecutive in `ids`: slicing shares the vocabulary's int objects
    id_starts = columns["index"][firsts]
    sentences = list(map(ids.__getitem__, map(slice, id_starts.tolist(), (id_starts + lengths).tolist())))
    ones = [1] * int(lengths.max(initial=0))
    masks = [ones[:length] for length in lengths.tolist()]
    spans = span_tuples(columns["start"], columns["end"])
    bounds = firsts.tolist() + [len(spans)]
    offsets = list(map(spans.__getitem__, map(slice, bounds, bounds[1:])))
    return tuple(
        [values[start:end] for start, end in pairwise(document_bounds)] for values in (sentences, masks, offsets)
    )


# Word spans repeat from document to document (IMDB: 12.8 million words, 67 thousand distinct spans), so ragged
# offsets share one immutable `(start, end)` tuple per span, as CPython shares small ints. A tuple per word cost
# more than the rest of the encoding (allocation, then a garbage-collector pass) and about 800 MB for IMDB.
_SHARED_SPAN_STARTS, _SHARED_SPAN_LENGTHS = 1 << 13, 1 << 5
_shared_spans = None  # (tuples, filled) over keys start * _SHARED_SPAN_LENGTHS + length, filled on first use


def span_tuples(starts: np.ndarray, ends: np.ndarray) -> list[tuple[int, int]]:
    """`list(zip(starts.tolist(), ends.tolist()))`, with the tuples of short spans near the start shared."""
    global _shared_spans
    if _shared_spans is None:
        size = _SHARED_SPAN_STARTS * _SHARED_SPAN_LENGTHS
        _shared_spans = (np.empty(size, dtype=object), np.zeros(size, dtype=bool))
    tuples, filled = _shared_spans
    lengths = ends - starts
    shared = (starts < _SHARED_SPAN_STARTS) & (lengths < _SHARED_SPAN_LENGTHS)
    keys = np.where(shared, starts * _SHARED_SPAN_LENGTHS + lengths, 0)
    new_keys = np.unique(keys[shared & ~filled[keys]])
    for key in new_keys.tolist():
        start, length = divmod(key, _SHARED_SPAN_LENGTHS)
        tuples[key] = (start, start + length)
    filled[new_keys] = True
    spans = tuples[keys].tolist()
    for i in np.flatnonzero(~shared).tolist():  # long words, or far into a long document
        spans[i] = (int(starts[i]), int(ends[i]))
    return spans


def pad_columns(
    columns: dict,
    num_documents: int,
    keys: Sequence[str],
    pad_token_id: int,
    **shape_options,
) -> dict[str, np.ndarray]:
    """
    Scatter columns into padded `(documents, sentences, words)` arrays of the features named in `keys`, shaped by
    `padded_shape(..., **shape_options)`.
    """
    num_sentences, num_words = padded_shape(
        int(columns["sentence"].max(initial=-1)) + 1, int(columns["position"].max(initial=-1)) + 1, **shape_options
    )
    where = (columns["document"], columns["sentence"], columns["position"])
    padded = {}
    for key in keys:
        if key == "offset_mapping":
            padded[key] = np.zeros((num_documents, num_sentences, num_words, 2), dtype=np.int64)
            padded[key][where] = np.stack([columns["start"], columns["end"]], axis=1)
        else:
            fill, values = (pad_token_id, columns["input_ids"]) if key == "input_ids" else (0, columns.get(key, 1))
            padded[key] = np.full((num_documents, num_sentences, num_words), fill, dtype=np.int64)
            padded[key][where] = values
    return padded


def pad_document(
    ids: list[list[int]],
    spans: list[list[tuple[int, int]]] | None,
    keys: Sequence[str],
    pad_token_id: int,
    **shape_options,
) -> dict[str, np.ndarray]:
    """
    One document's ragged ids (and spans) as padded `(1, sentences, words)` arrays of the features in `keys`: what
    `pad_columns` gives for one document, without building columns (the pipelines encode documents one by one).
    """
    lengths = np.fromiter(map(len, ids), np.int64, len(ids))
    num_sentences, num_words = padded_shape(len(ids), int(lengths.max()), **shape_options)
    real = np.zeros((1, num_sentences, num_words), dtype=bool)
    real[0, : len(ids)] = np.arange(num_words) < lengths[:, None]  # row-major, as the words come
    num_real = int(lengths.sum())
    padded = {}
    for key in keys:
        if key == "input_ids":
            padded[key] = np.full(real.shape, pad_token_id, dtype=np.int64)
            padded[key][real] = np.fromiter(chain.from_iterable(ids), np.int64, num_real)
        elif key == "attention_mask":
            padded[key] = real.astype(np.int64)
        else:
            padded[key] = np.zeros(real.shape + (2,), dtype=np.int64)
            spans_flat = np.fromiter(chain.from_iterable(chain.from_iterable(spans)), np.int64, 2 * num_real)
            padded[key][real] = spans_flat.reshape(-1, 2)
    return padded


def _integers(values, count: int | None, name: str) -> np.ndarray:
    """
    `values` as int64. Whole numbers given as floats are taken as they are; anything else is refused, since
    truncating a float id (3.7 -> 3) would read another word and a string would fail far from its cause.
    """
    array = np.array(list(values))
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind == "f" and np.isfinite(array).all() and (array == np.round(array)).all():
        array = array.astype(np.int64)
    if array.dtype.kind not in "iub":
        if array.dtype.kind == "f":
            example = array[~np.isfinite(array) | (array != np.round(array))][0].item()
        else:
            example = next(value for value in array.tolist() if not isinstance(value, (int, float)))
        raise ValueError(f"`{name}` must hold integers, got {type(example).__name__} values such as {example!r}.")
    if count is not None and len(array) != count:  # nested deeper than (documents, sentences, words)
        raise ValueError(f"`{name}` must be lists of sentences of words, got nested values of another shape.")
    return array.astype(np.int64, copy=False)


def _positions_within(group_sizes: np.ndarray) -> np.ndarray:
    """For groups of the given sizes laid end to end, each element's position inside its group."""
    group_starts = np.cumsum(group_sizes) - group_sizes
    return np.arange(int(group_sizes.sum())) - np.repeat(group_starts, group_sizes)


__all__ = [
    "columns_from_ragged",
    "pad_columns",
    "pad_document",
    "pad_documents",
    "padded_shape",
    "ragged_from_columns",
    "span_tuples",
]
