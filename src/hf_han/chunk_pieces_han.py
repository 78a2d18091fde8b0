"""
Subword pieces of a batch without encoding every word again. A backend that cuts text at white space before anything
else (BERT's WordPiece, HAN's own trained subword vocabularies) gives a white-space-free chunk of text the same pieces
wherever the chunk stands. So the pieces of each distinct chunk are computed once, by the backend, and kept; a batch
is cut into chunks, and its pieces are gathered from the kept ones with numpy. IMDB's 50,000 reviews (truncated at 30
x 50) hold 11.0 million chunks, only 3.7% of them distinct.

Which backends qualify is read from their saved form (`chunks_are_independent`); the others (byte-level BPE,
SentencePiece: a word's first piece depends on what stands before it) encode whole documents (`Pieces.of_backend`).
The tests hold both ways equal. Either way, each sentence's first piece is found for the whole batch at once
(`Pieces.sentence_cuts`).
"""

import json
import re
import threading
from dataclasses import dataclass
from itertools import chain

import numpy as np
from tokenizers import Tokenizer

from .padding_han import span_tuples


# Characters `str.split()` cuts at, but which a backend may delete instead (BERT deletes control characters, and so
# joins the text around them): a document holding one is cut at " \t\n\r" only, which every qualifying backend keeps
# as white space and cuts at.
_DELETABLE_SPACES = re.compile(r"[\x0b\x0c\x1c-\x1f\x85]")
_SAFE_SPACES = re.compile(r"[ \t\n\r]+")
_ENCODE_GROUPS = 16  # texts that a batch's new chunks are encoded as
_TABLE_SIZE = 0x3001  # U+3000 is the last white-space character
_SPLIT_SPACE = np.zeros(_TABLE_SIZE + 1, dtype=bool)
_SPLIT_SPACE[[code for code in range(_TABLE_SIZE) if chr(code).isspace()]] = True
_SAFE_SPACE = np.zeros(_TABLE_SIZE + 1, dtype=bool)
_SAFE_SPACE[[ord(character) for character in " \t\n\r"]] = True

# Steps that work inside one white-space-free piece of text, never across white space.
_LOCAL_NORMALIZERS = {"BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "StripAccents"}
_WHITE_SPACE_SPLITS = {"BertPreTokenizer", "Whitespace", "WhitespaceSplit"}
_LOCAL_PRE_TOKENIZERS = _WHITE_SPACE_SPLITS | {"Split", "Punctuation", "Digits"}
_PER_WORD_MODELS = {"WordPiece", "BPE", "Unigram"}


def chunks_are_independent(backend: Tokenizer) -> bool:
    """
    Whether `backend` encodes a text as the concatenation of its white-space-free chunks, each encoded alone: it
    cuts at white space first, normalises and splits only within what it cut, and has no added token that spans
    white space or takes in the white space beside it.
    """
    saved = json.loads(backend.to_str())
    normalizer, pre_tokenizer, model = saved.get("normalizer"), saved.get("pre_tokenizer"), saved.get("model") or {}
    if normalizer is None:
        normalizers = []
    else:
        normalizers = normalizer["normalizers"] if normalizer["type"] == "Sequence" else [normalizer]
    if any(step["type"] not in _LOCAL_NORMALIZERS for step in normalizers):
        return False
    if pre_tokenizer is None:
        return False
    steps = pre_tokenizer["pretokenizers"] if pre_tokenizer["type"] == "Sequence" else [pre_tokenizer]
    if not steps or steps[0]["type"] not in _WHITE_SPACE_SPLITS:
        return False
    if any(step["type"] not in _LOCAL_PRE_TOKENIZERS for step in steps):
        return False
    if model.get("type") not in _PER_WORD_MODELS or model.get("dropout"):
        return False
    for token in saved.get("added_tokens") or []:
        if token.get("lstrip") or token.get("rstrip") or any(character.isspace() for character in token["content"]):
            return False
    return True


class ChunkPieces:
    """
    The pieces of every distinct chunk `backend` has seen, as numpy tables: a chunk's index, then its first piece
    and count; each piece's id and character span within the chunk. Forgotten all at once past `max_chunks` chunks
    or `max_characters` characters, so memory stays bounded on any stream of text.
    """

    def __init__(self, backend: Tokenizer, max_chunks: int = 1 << 20, max_characters: int = 1 << 25):
        self.backend, self.max_chunks, self.max_characters = backend, max_chunks, max_characters
        self._lock = threading.Lock()  # the tables grow together: one batch at a time
        self._forget()

    def __getstate__(self):  # copies and pickles start empty: the tables are only a memo
        return {"backend": self.backend, "max_chunks": self.max_chunks, "max_characters": self.max_characters}

    def __setstate__(self, state):
        self.__init__(**state)

    def _forget(self):
        self._index = _ChunkIndex()
        self._characters = 0
        self._first = self._count = np.zeros(0, np.int64)
        self._ids = self._starts = self._ends = np.zeros(0, np.int64)

    def pieces(self, joined: "JoinedTexts") -> "Pieces":
        """The backend's pieces of `joined`'s texts, gathered from those kept of each white-space-free chunk."""
        separator = joined.space.copy()
        chunks = joined.text.split()
        chunk_starts = _run_starts(separator)
        deletable = [match.start() for match in _DELETABLE_SPACES.finditer(joined.text)]
        if deletable:  # rare: those texts are cut at the safe white space only
            for text in sorted(set(np.searchsorted(joined.starts, deletable, side="right") - 1), reverse=True):
                start, end = int(joined.starts[text]), int(joined.starts[text] + joined.lengths[text])
                first, last = np.searchsorted(chunk_starts, [start, end])
                chunks[first:last] = [chunk for chunk in _SAFE_SPACES.split(joined.texts[text]) if chunk]
                separator[start:end] = _SAFE_SPACE[joined.codes[start:end]]
            chunk_starts = _run_starts(separator)
        with self._lock:
            known = self._look_up(chunks)
            first, counts = self._first[known], self._count[known]
            # every piece of the batch, as an index into the tables
            total = int(counts.sum())
            pieces = np.repeat(first - (np.cumsum(counts) - counts), counts) + np.arange(total)
            ids, starts, ends = self._ids[pieces], self._starts[pieces], self._ends[pieces]
        piece_chunk_starts = np.repeat(chunk_starts, counts)
        pieces_before = np.concatenate([[0], np.cumsum(counts)])
        text_first = pieces_before[np.searchsorted(chunk_starts, [*joined.starts, len(joined.text) + 1])]
        return Pieces(ids, piece_chunk_starts + starts, piece_chunk_starts + ends, text_first)

    def _look_up(self, chunks: list[str]) -> np.ndarray:
        # one dict lookup per chunk; the chunks never seen are encoded by the backend in one call, in its threads
        if len(self._index) + len(chunks) > self.max_chunks or self._characters > self.max_characters:
            self._forget()
        known = np.fromiter(map(self._index.__getitem__, chunks), np.int64, len(chunks))
        new = self._index.new
        if not new:
            return known
        self._index.new = []
        lengths = np.fromiter(map(len, new), np.int64, len(new))
        self._characters += int(lengths.sum())
        # The new chunks are encoded as a few texts of chunks between spaces (what makes them independent makes
        # this exact): a few long encodings cost Python far less than one small encoding per chunk. Several texts
        # keep the backend's threads busy.
        groups = np.array_split(np.arange(len(new)), min(len(new), _ENCODE_GROUPS))
        texts = [" ".join(new[group[0] : group[-1] + 1]) for group in groups]
        # where each chunk starts if the groups' texts are laid end to end, one space apart; then each piece's chunk
        chunk_starts = np.cumsum(lengths + 1) - lengths - 1
        encoded = Pieces.of_backend(self.backend, texts, chunk_starts[[group[0] for group in groups]])
        ids, starts, ends = encoded.ids, encoded.starts, encoded.ends
        chunk_of_piece = np.searchsorted(chunk_starts, starts, side="right") - 1
        starts -= chunk_starts[chunk_of_piece]
        ends -= chunk_starts[chunk_of_piece]
        counts = np.bincount(chunk_of_piece, minlength=len(new))
        self._first = np.concatenate([self._first, len(self._ids) + np.cumsum(counts) - counts])
        self._count = np.concatenate([self._count, counts])
        self._ids = np.concatenate([self._ids, ids])
        self._starts = np.concatenate([self._starts, starts])
        self._ends = np.concatenate([self._ends, ends])
        return known


@dataclass
class JoinedTexts:
    """A batch's texts laid end to end, one line break apart, with each character's code and white-space flag."""

    texts: list[str]
    text: str
    codes: np.ndarray  # code points, capped at the table size
    space: np.ndarray  # what `str.isspace` says: the rest is visible
    starts: np.ndarray  # where each text starts in `text`
    lengths: np.ndarray

    @classmethod
    def of(cls, texts: list[str]) -> "JoinedTexts":
        text = "\n".join(texts)  # a separator: no chunk crosses two texts
        codes = np.minimum(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), _TABLE_SIZE)
        lengths = np.fromiter(map(len, texts), np.int64, len(texts))
        starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)
        return cls(texts, text, codes, _SPLIT_SPACE[codes], starts, lengths)


@dataclass
class Pieces:
    """The pieces of a batch, flat: ids, character spans in the joined text, and each text's first piece (and the
    total last)."""

    ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    text_first: np.ndarray

    @classmethod
    def of_backend(cls, backend: Tokenizer, texts: list[str], text_starts: np.ndarray) -> "Pieces":
        """
        `backend`'s encoding of each whole text (one call for the batch: the backend encodes in its threads), spans
        counted from where each text starts (`text_starts`, as in `JoinedTexts`).
        """
        encodings = backend.encode_batch(texts, add_special_tokens=False)
        counts = np.fromiter(map(len, encodings), np.int64, len(encodings))
        ids = np.fromiter(chain.from_iterable(encoding.ids for encoding in encodings), np.int64, int(counts.sum()))
        spans = np.fromiter(
            chain.from_iterable(chain.from_iterable(encoding.offsets for encoding in encodings)), np.int64
        )
        shift = np.repeat(text_starts, counts)
        return cls(ids, spans[0::2] + shift, spans[1::2] + shift, np.concatenate([[0], np.cumsum(counts)]))

    def spans(self, joined: JoinedTexts) -> list[tuple[int, int]]:
        """Each piece's `(start, end)` in its own text (short spans near the start share their tuples)."""
        shift = np.repeat(joined.starts, np.diff(self.text_first))
        return span_tuples(self.starts - shift, self.ends - shift)

    def sentence_cuts(self, joined: JoinedTexts, sentence_ends: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """
        The first piece of each next sentence, for every boundary in `sentence_ends` but the last of each text: the
        first piece that covers or follows the first visible character after the boundary, moved back over pieces
        of only white space just before it (SentencePiece's word marker "▁" alone belongs to the word it marks).
        Returns the cuts, flat, and how many each text has.
        """
        inner = [ends[:-1] for ends in sentence_ends]
        per_text = np.fromiter(map(len, inner), np.int64, len(inner))
        boundaries = np.fromiter(chain.from_iterable(inner), np.int64, int(per_text.sum()))
        boundaries += np.repeat(joined.starts, per_text)
        text_ends = np.repeat(joined.starts + joined.lengths, per_text)
        visible = np.flatnonzero(~joined.space)
        if len(visible):
            after = visible[np.minimum(np.searchsorted(visible, boundaries), len(visible) - 1)]
            after = np.where(after >= boundaries, np.minimum(after, text_ends), text_ends)
        else:
            after = text_ends
        # pieces ending at or before that character stay in the sentence (spans run in text order; the running
        # maximum keeps that true of a backend that reorders them)
        cuts = np.searchsorted(np.maximum.accumulate(self.ends) if len(self.ends) else self.ends, after, side="right")
        solid = np.concatenate([[0], np.cumsum(~joined.space)])
        blank = solid[self.ends] == solid[np.minimum(self.starts, self.ends)]
        if len(cuts) and blank.any():
            last_solid = np.maximum.accumulate(np.where(blank, -1, np.arange(len(blank))))
            previous = np.maximum(cuts - 1, 0)
            moved = np.where((cuts > 0) & blank[previous], last_solid[previous] + 1, cuts)
            cuts = np.maximum.accumulate(np.maximum(moved, np.repeat(self.text_first[:-1], per_text)))
        return cuts, per_text


class _ChunkIndex(dict):
    """Chunk to its row in the tables; a chunk not seen yet gets the next row and waits in `new` to be encoded."""

    def __init__(self):
        super().__init__()
        self.new = []

    def __missing__(self, chunk: str) -> int:
        row = self[chunk] = len(self)
        self.new.append(chunk)
        return row


def _run_starts(separator: np.ndarray) -> np.ndarray:
    """Where each run of non-separator characters starts."""
    edges = np.flatnonzero(np.diff((~separator).view(np.int8), prepend=np.int8(0), append=np.int8(0)))
    return edges[0::2]


__all__ = ["ChunkPieces", "JoinedTexts", "Pieces", "chunks_are_independent"]
