"""
Documents to hierarchical ids by one vocabulary: ragged `(documents, sentences, words)` lists or padded arrays,
with each word's character span. A word-level vocabulary is read word by word, or for whole batches at once (the
bulk rules of `HANSegmenter.word_columns`); a subword one through its `tokenizers` backend (`subword_han.py`).
`HANTokenizer` holds one `DocumentEncoder` per vocabulary and calls it with the segmenter of the call.
"""

import gc
from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np
from tokenizers import Tokenizer
from transformers.utils import logging

from .chunk_pieces_han import ChunkPieces, chunks_are_independent
from .padding_han import columns_from_ragged, pad_columns, pad_document, ragged_from_columns
from .segmentation_han import HANSegmenter
from .subword_han import SentenceTemplate, encode_subword_documents


logger = logging.get_logger(__name__)

CHUNK_DOCUMENTS = 1024  # documents encoded together, so that the words of a huge batch never all exist at once
BULK_MIN_DOCUMENTS = 8  # batches with offsets from this size on go through the bulk encoder

Ids = list[list[int]]  # (sentences, words)
Spans = list[list[tuple[int, int]]]  # (sentences, words): a (start, end) character span per word


class _Vocabulary(dict):
    """Word to id, giving `unk_id` for any other word: `map(vocabulary.__getitem__, words)` runs at C speed."""

    unk_id: int

    def __missing__(self, word: str) -> int:
        return self.unk_id


class DocumentEncoder:
    """
    Encodes documents with `backend`'s vocabulary: word-level (the words of the segmenter's rules looked up) or
    subword (the backend's pieces of each sentence, between `template`'s special tokens).
    """

    def __init__(self, backend: Tokenizer, unk_id: int, pad_id: int, subword: bool, template: SentenceTemplate):
        self.backend, self.pad_id, self.subword, self.template = backend, pad_id, subword, template
        self.vocabulary = _Vocabulary(backend.get_vocab(with_added_tokens=True))
        self.vocabulary.unk_id = unk_id
        # a subword backend that cuts at white space first: each distinct chunk's pieces are kept, not recomputed
        self.chunk_pieces = ChunkPieces(backend) if subword and chunks_are_independent(backend) else None

    @property
    def unk_id(self) -> int:
        return self.vocabulary.unk_id

    def document(self, document: str, segmenter: HANSegmenter, truncate: bool, with_offsets: bool) -> tuple:
        """`(ids, spans)` of one document; an empty one is a sentence holding `[UNK]` spanning `(0, 0)`."""
        if self.subword:
            return self.plain([document], segmenter, truncate, with_offsets)[0]
        sentence_words, sentence_spans = segmenter.document_words(document, truncate, with_spans=with_offsets)
        if not sentence_words:
            return [[self.unk_id]], [[(0, 0)]] if with_offsets else None
        return [list(map(self.vocabulary.__getitem__, words)) for words in sentence_words], sentence_spans

    def plain(
        self, documents: Sequence[str], segmenter: HANSegmenter, truncate: bool, with_offsets: bool
    ) -> list[tuple[Ids, Spans | None]]:
        """`(ids, spans)` of each document: word by word, or the subword backend's pieces of the whole batch."""
        if not self.subword:
            return [self.document(document, segmenter, truncate, with_offsets) for document in documents]
        ids, spans = encode_subword_documents(
            self.backend, segmenter, documents, truncate, with_offsets, self.template, self.unk_id, self.chunk_pieces
        )
        return list(zip(ids, spans if spans is not None else [None] * len(ids)))

    def bulk(
        self, documents: Sequence[str], segmenter: HANSegmenter, truncate: bool
    ) -> tuple[dict[str, np.ndarray], list[int]] | None:
        """
        The columns of `HANSegmenter.word_columns` and the ids they index (every sentence's ids consecutive), or
        `None` where the bulk rules could not be used.
        """
        result = segmenter.word_columns(documents, truncate)
        if result is None:
            logger.warning_once("Bulk word spans disagree with the word pattern; encoding one by one.")
            return None
        columns, words = result
        ids = list(map(self.vocabulary.__getitem__, words))  # [UNK] for a word outside the vocabulary
        ids.append(self.unk_id)  # what a document without words holds (index `len(words)`)
        return columns, ids

    def _bulk_applies(self, chunk: Sequence[str], with_offsets: bool) -> bool:
        # Offsets need a span per word: the bulk encoder finds them for a whole chunk at once, without a match object
        # per word. Without offsets, or for a few documents (where numpy's cost per call is not repaid), the
        # document-by-document rules are as fast.
        return with_offsets and len(chunk) >= BULK_MIN_DOCUMENTS and not self.subword

    def ragged(
        self, documents: Sequence[str], segmenter: HANSegmenter, truncate: bool, with_offsets: bool
    ) -> dict[str, list]:
        """Ragged `(documents, sentences, words)` lists of `input_ids`, `attention_mask` and `offset_mapping`."""
        ragged = {"input_ids": [], "attention_mask": [], "offset_mapping": []}
        with _garbage_collection_paused():
            for first in range(0, len(documents), CHUNK_DOCUMENTS):
                chunk = documents[first : first + CHUNK_DOCUMENTS]
                bulk = self.bulk(chunk, segmenter, truncate) if self._bulk_applies(chunk, with_offsets) else None
                if bulk is not None:
                    for key, values in zip(ragged, ragged_from_columns(*bulk, len(chunk))):
                        ragged[key] += values
                    continue
                plain = self.plain(chunk, segmenter, truncate, with_offsets)
                ragged["input_ids"] += [ids for ids, _ in plain]
                ragged["attention_mask"] += [[[1] * len(words) for words in ids] for ids, _ in plain]
                ragged["offset_mapping"] += [spans for _, spans in plain]
        return ragged

    def padded(
        self,
        documents: Sequence[str],
        segmenter: HANSegmenter,
        truncate: bool,
        with_offsets: bool,
        keys: list[str],
        shape_options: dict,
    ) -> tuple[dict[str, np.ndarray], list[int]]:
        """
        Padded `(documents, sentences, words)` arrays of the features in `keys` (shaped by `shape_options`, see
        `pad_columns`), and the real words of each document.
        """
        if not documents:  # an empty batch: empty arrays of the shape this padding gives
            columns = {name: np.zeros(0, dtype=np.int64) for name in ("input_ids", "document", "sentence", "position")}
            columns["start"] = columns["end"] = columns["input_ids"]
            return pad_columns(columns, 0, keys, self.pad_id, **shape_options), []
        if len(documents) == 1:  # the pipelines' call, one document at a time: padded row by row
            ids, spans = self.document(documents[0], segmenter, truncate, with_offsets)
            return pad_document(ids, spans, keys, self.pad_id, **shape_options), [sum(map(len, ids))]
        chunks = []
        with _garbage_collection_paused():
            for first in range(0, len(documents), CHUNK_DOCUMENTS):
                chunk = documents[first : first + CHUNK_DOCUMENTS]
                bulk = self.bulk(chunk, segmenter, truncate) if self._bulk_applies(chunk, with_offsets) else None
                if bulk is not None:
                    columns, ids = bulk
                    columns["input_ids"] = np.fromiter(ids, np.int64, len(ids))[columns.pop("index")]
                else:
                    plain = self.plain(chunk, segmenter, truncate, with_offsets)
                    columns = columns_from_ragged([ids for ids, _ in plain], [spans for _, spans in plain])
                columns["document"] += first
                chunks.append(columns)
            columns = {key: np.concatenate([chunk[key] for chunk in chunks]) for key in chunks[0]}
            padded = pad_columns(columns, len(documents), keys, self.pad_id, **shape_options)
        return padded, np.bincount(columns["document"], minlength=len(documents)).tolist()


@contextmanager
def _garbage_collection_paused():
    # The cyclic garbage collector would rescan the growing result lists again and again while nothing built here
    # can form a cycle; pausing it makes ragged encoding with offsets about 1.6x faster (IMDB).
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            # Everything allocated meanwhile sits in the youngest generation, which the next collection would scan
            # whole (and the middle one again later): moved to the oldest instead (`freeze` then `unfreeze`), it is
            # scanned only with the long-lived objects. No object is kept alive by this; a cycle of garbage made
            # meanwhile waits for the next full collection.
            gc.freeze()
            gc.unfreeze()
            gc.enable()
