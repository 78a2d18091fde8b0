"""
The explanation of one prediction: what `pipeline("document-classification")(text, explain=True)` returns for each
document, what the attention pictures draw, and what the model card shows. One contract for all three.
"""

from typing import TypedDict

import numpy as np


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
) -> list[SentenceAttention]:
    """
    One document's attention as a list of sentences with their words, each with its character span in `document`.

    Args:
        document (`str`): the text as given to the tokenizer.
        offsets (array-like of shape `(sentences, words, 2)`): each word's `(start, end)` in `document`.
        attention_mask (array-like of shape `(sentences, words)`): 1 for real words.
        word_attentions (array-like of shape `(sentences, words)`): word weights within each sentence.
        sentence_attentions (array-like of shape `(sentences,)`): sentence weights in the document.
    """
    mask = np.asarray(attention_mask, dtype=bool)
    offsets = np.asarray(offsets)
    word_weights = np.asarray(word_attentions, dtype=np.float64)
    sentence_weights = np.asarray(sentence_attentions, dtype=np.float64)
    sentences = []
    for index in np.flatnonzero(mask.any(axis=1)):
        real = mask[index]
        spans = offsets[index][real]
        start, end = int(spans[0, 0]), int(spans[-1, 1])
        sentences.append(
            SentenceAttention(
                text=document[start:end],
                start=start,
                end=end,
                attention=float(sentence_weights[index]),
                words=[
                    WordAttention(word=document[s:e], start=int(s), end=int(e), attention=float(weight))
                    for (s, e), weight in zip(spans.tolist(), word_weights[index][real].tolist())
                ],
            )
        )
    return sentences


__all__ = ["Explanation", "LabelScore", "SentenceAttention", "WordAttention", "align_attentions"]
