"""
The explanation of one prediction: what `pipeline("document-classification")(text, explain=True)` returns for each
document, what the attention pictures draw, and what the model card shows. One contract for all three.
"""

from typing import TypedDict

import numpy as np

from .text_rules_han import word_matcher


class WordAttention(TypedDict):
    """One word as the user wrote it, with its weight within its sentence (the sentence's words sum to 1)."""

    word: str
    start: int  # character offsets in the document: `document[start:end] == word`
    end: int
    attention: float


class SentenceAttention(TypedDict):
    """One sentence the model read, with its weight in the document (the document's sentences sum to 1)."""

    text: str
    start: int  # character offsets in the document: `document[start:end] == text`
    end: int
    attention: float
    words: list[WordAttention]


class LabelScore(TypedDict):
    label: str
    score: float


class Explanation(TypedDict):
    """
    A prediction with where the model looked. `label` and `score` are the top class (as without `explain`),
    `labels` every class with its score, best first (cut to `top_k` when given), and `sentences` the attention.
    With structured attention (several hops) the weights are the mean over the hops.
    """

    label: str
    score: float
    labels: list[LabelScore]
    sentences: list[SentenceAttention]


def align_attentions(
    document: str,
    offsets,
    attention_mask,
    word_attentions,
    sentence_attentions,
    merge_pieces: bool = False,
) -> list[SentenceAttention]:
    """
    One document's attention as a list of sentences with their words, each with its character span in `document`.

    Args:
        document (`str`): the text as given to the tokenizer.
        offsets (array-like of shape `(sentences, words, 2)`): each word's `(start, end)` in `document`.
        attention_mask (array-like of shape `(sentences, words)`): 1 for real words.
        word_attentions (array-like of shape `(sentences, words)`): word weights within each sentence.
        sentence_attentions (array-like of shape `(sentences,)`): sentence weights in the document.
        merge_pieces (`bool`, *optional*): the "words" are subword pieces: show the words the user wrote instead,
            each with the summed weight of its pieces, and leave out special tokens ("[CLS]"), which cover no text.
    """
    mask = np.asarray(attention_mask, dtype=bool)
    offsets = np.asarray(offsets)
    word_weights = np.asarray(word_attentions, dtype=np.float64)
    sentence_weights = np.asarray(sentence_attentions, dtype=np.float64)
    sentences = []
    for index in np.flatnonzero(mask.any(axis=1)):
        real = mask[index]
        spans, weights = offsets[index][real], word_weights[index][real]
        if merge_pieces:
            pieces = _merge_pieces(document, spans, weights)
            # only special tokens and [UNK]: an empty document, shown as one empty word as without pieces
            spans, weights = (
                pieces if len(pieces[0]) else (np.zeros((1, 2), dtype=np.int64), weights.sum(keepdims=True))
            )
        start, end = int(spans[0, 0]), int(spans[-1, 1])
        sentences.append(
            SentenceAttention(
                text=document[start:end],
                start=start,
                end=end,
                attention=float(sentence_weights[index]),
                words=[
                    WordAttention(word=document[s:e], start=int(s), end=int(e), attention=float(weight))
                    for (s, e), weight in zip(spans.tolist(), weights.tolist())
                ],
            )
        )
    return sentences


def _merge_pieces(document: str, spans: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pieces `(n, 2)` and their weights `(n,)` to the words that hold them (HAN's word rules), weights summed."""
    text_pieces = spans[:, 1] > spans[:, 0]  # special tokens cover no text
    spans, weights = spans[text_pieces], weights[text_pieces]
    if not len(spans):
        return spans, weights
    start, end = int(spans[0, 0]), int(spans[-1, 1])
    words = np.array(
        [match.span() for match in word_matcher(document, 2).finditer(document, start, end)], dtype=np.int64
    ).reshape(-1, 2)
    # a piece belongs to the word it starts in (pieces of one word are consecutive)
    owner = np.searchsorted(words[:, 0], spans[:, 0], side="right") - 1 if len(words) else np.arange(len(spans))
    first = np.flatnonzero(np.diff(owner, prepend=owner[0] - 1))  # each new word's first piece
    merged = np.stack([spans[first, 0], np.maximum.reduceat(spans[:, 1], first)], axis=1)
    return merged, np.add.reduceat(weights, first)


__all__ = ["Explanation", "LabelScore", "SentenceAttention", "WordAttention", "align_attentions"]
