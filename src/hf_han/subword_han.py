"""
Sentences as subword pieces: HAN's sentences (see `segmentation_han.py`) read by a `tokenizers` subword model (BPE,
WordPiece, Unigram), trained on the user's corpus or taken from any pretrained tokenizer, optionally with that
tokenizer's special tokens around every sentence ("[CLS] ... [SEP]"), as a pretrained encoder reading sentences
expects them.

A document is encoded in one call of the backend (its own normalisation and pre-tokenisation, as over running text),
then cut into HAN's sentences by the characters its pieces cover: a piece never crosses a sentence boundary, which
lies between words. The `max_words` of a sentence counts its pieces, special tokens included.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from .segmentation_han import HANSegmenter
from .text_rules_han import word_pattern


SUBWORD_MODELS = ("bpe", "wordpiece", "unigram")
_VISIBLE = re.compile(r"\S")


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
) -> tuple[list[list[list[int]]], list[list[list[tuple[int, int]]]] | None]:
    """
    Ragged ids `(documents, sentences, pieces)` of `documents` and, with `with_offsets`, each piece's character span
    in its document (`(0, 0)` for special tokens). A document without pieces holds one sentence with `[UNK]`.
    """
    content = segmenter.max_words - len(template.prefix) - len(template.suffix)
    if content < 1:
        raise ValueError(
            f"`max_words` ({segmenter.max_words}) must leave room for a piece beside the "
            f"{len(template.prefix) + len(template.suffix)} special tokens around each sentence."
        )
    wrap = segmenter.long_sentences == "wrap"
    limit = content if (truncate or wrap) else None
    prefix_spans, suffix_spans = [(0, 0)] * len(template.prefix), [(0, 0)] * len(template.suffix)
    all_ids, all_spans = [], [] if with_offsets else None
    prepared = [segmenter.prepare(document, truncate) for document in documents]
    # one call for the whole batch: the backend encodes in its own threads (encoding sub-batches in a thread while
    # Python assembles the previous ones measured at most 3% faster on 2 cores)
    encodings = backend.encode_batch([text for text, _, _ in prepared], add_special_tokens=False)
    for (text, sentence_ends, _), encoding in zip(prepared, encodings):
        ids = encoding.ids
        spans = encoding.offsets if with_offsets else None
        cuts = _first_pieces(encoding, text, sentence_ends[:-1], len(ids))
        sentences, sentence_spans = [], []
        for first, last in zip([0, *cuts], [*cuts, len(ids)]):
            if first >= last:
                continue  # a sentence without pieces
            pieces = range(first, last, limit) if wrap and limit else [first]
            for start in pieces:
                end = min(last, start + limit) if limit else last
                sentences.append(template.prefix + ids[start:end] + template.suffix)
                if with_offsets:
                    sentence_spans.append(prefix_spans + spans[start:end] + suffix_spans)
            if truncate and len(sentences) >= segmenter.max_sentences:
                del sentences[segmenter.max_sentences :], sentence_spans[segmenter.max_sentences :]
                break
        if not sentences:
            sentences = [template.prefix + [unk_id] + template.suffix]
            sentence_spans = [prefix_spans + [(0, 0)] + suffix_spans]
        all_ids.append(sentences)
        if with_offsets:
            all_spans.append(sentence_spans)
    return all_ids, all_spans


def _first_pieces(encoding, text: str, boundaries: list[int], num_pieces: int) -> list[int]:
    """
    The first piece of each next sentence, asking the encoding only about the first visible character after each
    boundary (the offsets of every piece, as Python tuples, cost half as much as the whole encoding). A piece of
    white space just before it (SentencePiece's word marker "▁" alone) belongs to the word it marks.
    """
    cuts, floor = [], 0
    for boundary in boundaries:
        match = _VISIBLE.search(text, boundary)
        piece = None
        while match is not None and piece is None:
            piece = encoding.char_to_token(match.start())
            if piece is None:  # a character the tokenizer drops (a control character): try the next one
                match = _VISIBLE.search(text, match.start() + 1)
        if piece is None:
            piece = num_pieces
        while piece > floor and _white_space_piece(encoding, text, piece - 1):
            piece -= 1
        cuts.append(piece)
        floor = piece
    return cuts


def _white_space_piece(encoding, text: str, piece: int) -> bool:
    span = encoding.token_to_chars(piece)
    return span is not None and (span[0] == span[1] or text[span[0] : span[1]].isspace())


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
