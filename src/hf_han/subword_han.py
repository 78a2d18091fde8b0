"""
Sentences as subword pieces: HAN's sentences (see `segmentation_han.py`) read by a `tokenizers` subword model (BPE,
WordPiece, Unigram), trained on the user's corpus or taken from any pretrained tokenizer, optionally with that
tokenizer's special tokens around every sentence ("[CLS] ... [SEP]"), as a pretrained encoder reading sentences
expects them.

A batch's documents are encoded by the backend as running text (its own normalisation and pre-tokenisation), or for a
backend that cuts at white space first, gathered from the pieces it gave each distinct chunk (`chunk_pieces_han.py`,
the same pieces), then cut into HAN's sentences by the characters their pieces cover: a piece never crosses a
sentence boundary, which lies between words. The `max_words` of a sentence counts its pieces, special tokens
included.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from .chunk_pieces_han import ChunkPieces, JoinedTexts, Pieces
from .segmentation_han import HANSegmenter
from .text_rules_han import word_pattern


SUBWORD_MODELS = ("bpe", "wordpiece", "unigram")


@dataclass
class SentenceTemplate:
    """The special tokens a tokenizer puts around one sequence: `prefix` and `suffix` ids and tokens."""

    prefix: list[int]
    suffix: list[int]

    @classmethod
    def none(cls) -> "SentenceTemplate":
        return cls([], [])

    @classmethod
    def of(cls, backend: Tokenizer) -> "SentenceTemplate":
        """What `backend`'s post-processor adds to a single sequence (nothing, for a tokenizer without one)."""
        plain = backend.encode("a", add_special_tokens=False).ids
        special = backend.encode("a", add_special_tokens=True).ids
        for start in range(len(special) - len(plain) + 1):
            if special[start : start + len(plain)] == plain:
                return cls(special[:start], special[start + len(plain) :])
        return cls([], [])


def encode_subword_documents(
    backend: Tokenizer,
    segmenter: HANSegmenter,
    documents: Sequence[str],
    truncate: bool,
    with_offsets: bool,
    template: SentenceTemplate,
    unk_id: int,
    chunk_pieces: ChunkPieces | None = None,
) -> tuple[list[list[list[int]]], list[list[list[tuple[int, int]]]] | None]:
    """
    Ragged ids `(documents, sentences, pieces)` of `documents` and, with `with_offsets`, each piece's character span
    in its document (`(0, 0)` for special tokens). A document without pieces holds one sentence with `[UNK]`.
    `chunk_pieces` (for a backend whose chunks are independent) gives the same pieces as the backend, faster.
    """
    content = segmenter.max_words - len(template.prefix) - len(template.suffix)
    if content < 1:
        raise ValueError(
            f"`max_words` ({segmenter.max_words}) must leave room for a piece beside the "
            f"{len(template.prefix) + len(template.suffix)} special tokens around each sentence."
        )
    if not documents:
        return [], [] if with_offsets else None
    prepared = [segmenter.prepare(document, truncate) for document in documents]
    joined = JoinedTexts.of([text for text, _, _ in prepared])
    if chunk_pieces is not None:
        pieces = chunk_pieces.pieces(joined)
    else:
        pieces = Pieces.of_backend(backend, joined.texts, joined.starts)
    cuts, per_text = pieces.sentence_cuts(joined, [ends for _, ends, _ in prepared])
    ids = pieces.ids.tolist()
    spans = pieces.spans(joined) if with_offsets else None
    wrap = segmenter.long_sentences == "wrap"
    limit = content if (truncate or wrap) else None
    firsts, lasts, per_document = _sentence_parts(
        pieces.text_first, cuts, per_text, limit, wrap, segmenter.max_sentences if truncate else None
    )

    prefix, suffix = template.prefix, template.suffix
    prefix_spans, suffix_spans = [(0, 0)] * len(prefix), [(0, 0)] * len(suffix)
    if prefix or suffix:
        sentences = [prefix + ids[first:last] + suffix for first, last in zip(firsts, lasts)]
    else:
        sentences = [ids[first:last] for first, last in zip(firsts, lasts)]
    if with_offsets:
        sentence_spans = [prefix_spans + spans[first:last] + suffix_spans for first, last in zip(firsts, lasts)]
    all_ids, all_spans = [], [] if with_offsets else None
    at = 0
    for count in per_document:
        if count:
            all_ids.append(sentences[at : at + count])
            if with_offsets:
                all_spans.append(sentence_spans[at : at + count])
            at += count
        else:  # no pieces at all
            all_ids.append([prefix + [unk_id] + suffix])
            if with_offsets:
                all_spans.append([prefix_spans + [(0, 0)] + suffix_spans])
    return all_ids, all_spans


def _sentence_parts(
    text_first: np.ndarray,
    cuts: np.ndarray,
    per_text: np.ndarray,
    limit: int | None,
    wrap: bool,
    max_sentences: int | None,
) -> tuple[list[int], list[int], list[int]]:
    """
    The piece ranges `[first, last)` of the sentences of every text, and how many each text holds: its pieces cut at
    `cuts` (`per_text` cuts each), empty ones dropped, longer than `limit` wrapped (`wrap`) or cut, at most
    `max_sentences` kept.
    """
    count = len(per_text)
    segments = per_text + 1
    text_of = np.repeat(np.arange(count), segments)
    opening = np.zeros(len(text_of), dtype=bool)
    opening[np.cumsum(segments) - segments] = True
    closing = np.zeros(len(text_of), dtype=bool)
    closing[np.cumsum(segments) - 1] = True
    firsts, lasts = np.empty(len(text_of), np.int64), np.empty(len(text_of), np.int64)
    firsts[opening], firsts[~opening] = text_first[:-1], cuts
    lasts[closing], lasts[~closing] = text_first[1:], cuts
    kept = lasts > firsts
    firsts, lasts, text_of = firsts[kept], lasts[kept], text_of[kept]
    if limit:
        parts = -(-(lasts - firsts) // limit) if wrap else np.ones(len(firsts), np.int64)
        firsts = np.repeat(firsts, parts) + _ranks(parts) * limit
        lasts = np.minimum(np.repeat(lasts, parts), firsts + limit)
        text_of = np.repeat(text_of, parts)
    per_document = np.bincount(text_of, minlength=count)
    if max_sentences is not None and len(text_of) and per_document.max() > max_sentences:
        kept = _ranks(per_document) < max_sentences
        firsts, lasts, text_of = firsts[kept], lasts[kept], text_of[kept]
        per_document = np.bincount(text_of, minlength=count)
    return firsts.tolist(), lasts.tolist(), per_document.tolist()


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each of the consecutive groups of `counts` entries."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def train_subword_backend(
    kind: str,
    texts: Iterable[str],
    vocab_size: int,
    min_frequency: int,
    pad_token: str,
    unk_token: str,
    lowercase: bool,
    rules_version: int,
    length: int | None = None,
    show_progress: bool = True,
) -> Tokenizer:
    """
    A `tokenizers` subword model of `kind` ("bpe", "wordpiece", "unigram") trained on `texts`, within HAN's words:
    the same normalisation (NFKC, lower case) and word rules as the word-level vocabulary, then pieces of words.
    `[PAD]` gets id 0 and `[UNK]` id 1.
    """
    if kind not in SUBWORD_MODELS:
        raise ValueError(f"`subword` must be one of {SUBWORD_MODELS} or None, got {kind!r}.")
    specials = [pad_token, unk_token]
    if kind == "bpe":
        backend = Tokenizer(models.BPE(unk_token=unk_token, continuing_subword_prefix="##"))
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=specials,
            continuing_subword_prefix="##",
            show_progress=show_progress,
        )
        backend.decoder = decoders.WordPiece(prefix="##")
    elif kind == "wordpiece":
        backend = Tokenizer(models.WordPiece(unk_token=unk_token))
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials, show_progress=show_progress
        )
        backend.decoder = decoders.WordPiece(prefix="##")
    else:
        backend = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=specials, unk_token=unk_token, show_progress=show_progress
        )
    backend.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Lowercase()] if lowercase else [normalizers.NFKC()]
    )
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Split(Regex(word_pattern(rules_version)), behavior="isolated"),
        ]
    )
    backend.train_from_iterator(texts, trainer=trainer, length=length)
    return backend


__all__ = ["SUBWORD_MODELS", "SentenceTemplate", "encode_subword_documents", "train_subword_backend"]
