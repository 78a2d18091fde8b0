"""
How HAN reads a document: sentences (terminal punctuation, line breaks, abbreviations; or, given a language, the
`sentencex` library's rules for it), then words (see `text_rules_han.py`), normalised, with their character spans;
wrapped and truncated to `max_sentences` x `max_words`. Plain Python and numpy: no `transformers` here, and no
vocabulary.
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import chain, islice
from operator import methodcaller

import numpy as np
from transformers.utils import logging

from .text_rules_han import (
    LINE_BREAK,
    RULES_VERSIONS,
    SUPPLEMENTARY_CHARACTER,
    boundary_pattern,
    find_boundaries,
    needs_version_2_pattern,
    word_matcher,
    word_spans,
)


logger = logging.get_logger(__name__)

_LINE_BREAK_TAG = re.compile(r"<[bB][rR]\s*/?>")
_VISIBLE = re.compile(r"\S")
_GROUP, _SPAN = methodcaller("group"), methodcaller("span")  # of `re` and `regex` matches alike
# sentencex's language codes: ISO 639 ones, optionally with a region or script ("pt-br", "zh-hant")
# sentencex 1.0.32 panics on a multi-byte white-space character between a capital and a "." ("M\xa0."): it reads
# every white-space character as a plain space, one character for one, so its sentences keep their lengths
_PLAIN_SPACES = {code: " " for code in range(0x80, 0x3001) if chr(code).isspace()}
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:[-_][a-z0-9]{2,8})*")


DEFAULT_ABBREVIATIONS = (
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "cf", "al", "approx",
    "inc", "ltd", "co", "corp", "vol", "fig", "u.s", "u.k", "a.m", "p.m", "ph.d",
)  # fmt: skip
LONG_SENTENCE_MODES = ("wrap", "cut")


@dataclass(frozen=True)
class HANSegmenter:
    """
    The rules that cut documents into sentences of normalised words, with their caps.

    Args:
        max_sentences (`int`, defaults to 30): sentences kept per document when truncating.
        max_words (`int`, defaults to 50): words per sentence; longer sentences are wrapped or cut.
        long_sentences (`str`, defaults to `"wrap"`): `"wrap"` continues a sentence longer than `max_words` in
            further sentences; `"cut"` keeps its first `max_words` words when truncating.
        abbreviations (`Sequence[str]`): lower-cased words after which a "." does not end a sentence.
        lowercase (`bool`, defaults to `True`): lower-case words (after NFKC normalisation).
        rules_version (`int`, defaults to 2): the word and sentence rules (see `text_rules_han.py`): 2, by Unicode,
            or 1, those of hf-han 0.1, which tokenizers saved before keep.
        language (`str`, *optional*): an ISO 639 code ("de", "ja", "pt-br"); sentences are then found by the rules
            `sentencex` holds for that language (its abbreviations, its punctuation), within the lines that line
            breaks make. Needs `pip install sentencex`. Without it, the rules are language-agnostic.
    """

    max_sentences: int = 30
    max_words: int = 50
    long_sentences: str = "wrap"
    abbreviations: Sequence[str] = DEFAULT_ABBREVIATIONS
    lowercase: bool = True
    rules_version: int = 2
    language: str | None = None
    _boundary: re.Pattern = field(init=False, repr=False, compare=False)
    _boundary_supplementary: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        check_settings(
            max_sentences=self.max_sentences,
            max_words=self.max_words,
            long_sentences=self.long_sentences,
            rules_version=self.rules_version,
            language=self.language,
        )
        abbreviations = tuple(sorted({word.lower().rstrip(".") for word in self.abbreviations}))
        object.__setattr__(self, "abbreviations", abbreviations)
        # kept here: the per-document call then costs no cache look-up (the supplementary pattern tests the
        # terminals beyond the Basic Multilingual Plane, for the rare texts that hold such characters)
        object.__setattr__(self, "_boundary", boundary_pattern(abbreviations, self.rules_version))
        object.__setattr__(self, "_boundary_supplementary", boundary_pattern(abbreviations, self.rules_version, True))
        if self.language is not None:
            _sentencex()  # fails now, not at the first document, where the library is missing

    def with_settings(self, **settings) -> "HANSegmenter":
        """A copy with some settings changed (validated); `None` values keep this one's."""
        settings = {name: value for name, value in settings.items() if value is not None}
        return replace(self, **settings) if settings else self

    def split_sentences(self, document: str) -> list[tuple[int, int]]:
        """
        Character spans `(start, end)` of the sentences of `document`, before any `max_words` wrapping. A span may
        include white space around its sentence; a span without a word is left out when encoding.
        """
        spans, start = [], 0
        lowered = document.lower()
        for boundary_start, boundary_end, line_break in self._boundaries(document, lowered):
            # a sentence keeps its final punctuation and closing quotes, not a line break
            end = boundary_start if line_break else boundary_end
            if end > start:
                spans.append((start, end))
            start = boundary_end
        if start < len(document):
            spans.append((start, len(document)))
        return spans

    def _boundaries(self, document: str, source: str):
        """`(start, end, is_line_break)` of the sentence boundaries found in `source` (`document`, maybe lowered)."""
        if self.language is None:
            for boundary in find_boundaries(source, self.abbreviations, self.rules_version):
                yield boundary.start(), boundary.end(), boundary.group()[0] in "\n<"
            return
        segment, start = _sentencex().segment, 0
        for line_break in [*LINE_BREAK.finditer(source), None]:
            line_end = len(document) if line_break is None else line_break.start()
            position = start
            # sentencex keeps every character: its sentences laid end to end are the line
            line = document[start:line_end].translate(_PLAIN_SPACES)
            try:
                sentences = segment(self.language, line)
            except BaseException as error:  # a Rust panic derives from BaseException
                if type(error).__name__ != "PanicException":
                    raise
                logger.warning_once(f"sentencex failed on a line ({error}); that line is read as one sentence.")
                sentences = [line]
            for sentence in sentences:
                position += len(sentence)
                if position < line_end:
                    yield position, position, False
            if line_break is not None:
                yield line_break.start(), line_break.end(), True
                start = line_break.end()

    def normalize(self, word: str) -> str:
        word = unicodedata.normalize("NFKC", word)
        return word.lower() if self.lowercase else word

    def prepare(self, document: str, truncate: bool) -> tuple[str, list[int], bool]:
        """
        Read `document` for encoding. Returns the text that words are matched in, the end offset of every sentence
        in it, and whether each word must be normalised on its own. The text keeps every character of `document`
        at its offset: it is lower-cased only where that moves no character, line-break markup is blanked out, and
        with `truncate` it stops after the last sentence that truncation can keep.
        """
        if not isinstance(document, str):
            raise TypeError(f"Documents must be given as `str`, got {type(document).__name__}.")
        # Normalising the whole document at once is exact when it keeps every character in place (always for
        # ASCII, nearly always otherwise): words and offsets are then read straight from it. Other documents are
        # matched as written and each word is normalised on its own.
        lowered, ascii = document.lower(), document.isascii()
        moved = len(lowered) != len(document)  # rare: lower case changes the text's length
        text = document if (moved or not self.lowercase) else lowered
        per_word = (moved and self.lowercase) or not (ascii or unicodedata.is_normalized("NFKC", text))
        if per_word:
            text = document
        if "<br" in lowered:
            # line-break markup is a sentence boundary, not words: blank it out, keeping every offset in place
            if text is lowered:
                text = text.replace("<br />", "      ")  # the common form, without a call per tag
            if "<br" in text or text is not lowered:
                text = _LINE_BREAK_TAG.sub(_blank, text)
        # boundaries are found on lower-cased text, so that "Mr." and "mr." are both abbreviations
        source = document if moved else lowered
        if self.language is None:
            boundary = self._boundary
            if not ascii and SUPPLEMENTARY_CHARACTER.search(source):
                boundary = self._boundary_supplementary
            ends = map(re.Match.end, boundary.finditer(source))
        else:
            ends = (end for _, end, _ in self._boundaries(document, source))
        if not truncate:
            return text, [*ends, len(document)], per_word
        # Truncation keeps words of the first `max_sentences` sentences that hold one (wrapping only adds
        # sentences), so the text after them is never read, nor searched for boundaries: a huge document costs
        # what a short one does.
        sentence_ends = list(islice(ends, 4 * self.max_sentences))
        if len(sentence_ends) < self.max_sentences:  # the common case: fewer boundaries than sentences kept
            sentence_ends.append(len(document))
        else:
            read, sentence_ends, kept, start = sentence_ends, [], 0, 0
            for end in chain(read, ends, [len(document)]):
                sentence_ends.append(end)
                if _VISIBLE.search(text, start, end):  # every visible character belongs to a word
                    kept += 1
                    if kept == self.max_sentences:
                        text = text[:end]
                        break
                start = end
        if truncate and len(text) > 16 * self.max_sentences * self.max_words:
            # A sentence may hold more words than truncation keeps (a megabyte without a sentence end): the text
            # stops after the last word that can be kept, found by counting words, not by reading them all. (Only
            # for texts far longer than what is kept: for the others, reading every word costs less than counting.)
            text, sentence_ends = self._cut_after_kept_words(text, sentence_ends)
        return text, sentence_ends, per_word

    def _cut_after_kept_words(self, text: str, sentence_ends: list[int]) -> tuple[str, list[int]]:
        """`text` and `sentence_ends` cut after the last word that truncation keeps (as `document_words` does)."""
        pattern, wrap = word_matcher(text, self.rules_version), self.long_sentences == "wrap"
        budget, start = self.max_sentences, 0  # the sentences that may still be kept
        for index, end in enumerate(sentence_ends):
            # at most the words that the rest of the budget can hold, without reading further
            limit = budget * self.max_words if wrap else self.max_words
            spans = [match.end() for match in islice(pattern.finditer(text, start, end), limit)]
            if spans:
                pieces = -(-len(spans) // self.max_words) if wrap else 1
                if pieces >= budget:
                    last = spans[min(len(spans), budget * self.max_words) - 1] if wrap else spans[-1]
                    return text[:last], sentence_ends[:index] + [last]
                budget -= pieces
            start = end
        return text, sentence_ends

    def document_words(
        self, document: str, truncate: bool = False, with_spans: bool = False
    ) -> tuple[list[list[str]], list[list[tuple[int, int]]] | None]:
        """
        The normalised words of `document`, sentence by sentence, after wrapping (and with `truncate`, truncation);
        with `with_spans`, also the character span of each word in `document`. This is the plain,
        document-by-document form of the rules that `word_columns` applies to whole batches.
        """
        text, sentence_ends, per_word = self.prepare(document, truncate)
        pattern = word_matcher(text, self.rules_version)
        wrap = self.long_sentences == "wrap"
        limit = self.max_words if (wrap or truncate) else None
        max_sentences = self.max_sentences if truncate else None
        sentence_words, sentence_spans, start = [], [], 0
        for end in sentence_ends:
            if with_spans:
                matches = list(pattern.finditer(text, start, end))
                words, spans = list(map(_GROUP, matches)), list(map(_SPAN, matches))
            else:
                words = pattern.findall(text, start, end)
            start = end
            if not words:
                continue  # an empty line, or punctuation-free markup
            if per_word:
                words = [self.normalize(word) for word in words]
            if limit is None or len(words) <= limit:  # the common case: the sentence as it is
                sentence_words.append(words)
                if with_spans:
                    sentence_spans.append(spans)
            else:  # wrapped into pieces of `limit` words, or cut to the first piece
                firsts = range(0, len(words), limit) if wrap else [0]
                sentence_words += [words[first : first + limit] for first in firsts]
                if with_spans:
                    sentence_spans += [spans[first : first + limit] for first in firsts]
            if max_sentences is not None and len(sentence_words) >= max_sentences:
                del sentence_words[max_sentences:], sentence_spans[max_sentences:]
                break
        return sentence_words, sentence_spans if with_spans else None

    def word_columns(self, documents: Sequence[str], truncate: bool) -> tuple[dict[str, np.ndarray], list[str]] | None:
        """
        The words of a batch in bulk: one regular-expression pass over all its words, then numpy for sentences,
        wrapping, truncation and offsets.

        Returns columns with one entry per kept word, ordered by document, sentence and word: `document` (index in
        the batch), `sentence` (in its document), `position` (in its sentence), `start` and `end` (character span in
        its document) and `index` into the returned list of normalised words, in which every sentence's words are
        consecutive. A document without words holds one entry with index `len(words)` (one past the last word)
        spanning `(0, 0)`. Returns `None` if the bulk word spans disagree with the regular expression, which would be
        a bug: the caller then reads the documents one by one with `document_words`.
        """
        texts, text_starts, sentence_ends, sentence_counts, normalize_each, offset = [], [], [], [], [], 0
        for index, document in enumerate(documents):
            text, ends, per_word = self.prepare(document, truncate)
            if per_word:
                normalize_each.append(index)
            texts.append(text)
            sentence_ends.append(ends)
            sentence_counts.append(len(ends))
            text_starts.append(offset)
            offset += len(text) + 1  # joined by a line break, which no word crosses
        words = []
        for text in texts:
            words += word_matcher(text, self.rules_version).findall(text)
        joined = "\n".join(texts)
        starts, ends = word_spans(joined)  # (n_words,) each, offsets in `joined`
        text_starts = np.array(text_starts, dtype=np.int64)
        if self.rules_version == 2:  # texts that version 2 reads otherwise than `word_spans`: their own spans
            starts, ends = _with_version_2_spans(texts, text_starts, starts, ends)
        if len(starts) != len(words):
            return None
        first_words = np.searchsorted(starts, text_starts)  # (documents,) each document's first word
        for index in normalize_each:
            first, last = first_words[index], first_words[index + 1] if index + 1 < len(documents) else len(words)
            words[first:last] = map(self.normalize, words[first:last])

        document = np.repeat(np.arange(len(documents)), np.diff(first_words, append=len(starts)))  # (n_words,)
        sentence_ends = np.fromiter(chain.from_iterable(sentence_ends), np.int64, sum(sentence_counts))
        sentence_ends += np.repeat(text_starts, sentence_counts)
        # a word belongs to the first sentence that ends after its start; sentences without words simply vanish
        raw_sentence = np.searchsorted(sentence_ends, starts, side="right")
        sentence_start = np.ones(len(starts), dtype=bool)
        sentence_start[1:] = raw_sentence[1:] != raw_sentence[:-1]
        position = np.arange(len(starts)) - np.flatnonzero(sentence_start)[np.cumsum(sentence_start) - 1]
        columns = {
            "index": np.arange(len(starts)),
            "document": document,
            "position": position,
            "start": starts - text_starts[document],
            "end": ends - text_starts[document],
        }
        if self.long_sentences == "wrap":  # a sentence longer than max_words goes on in the next sentence
            columns["position"] = position % self.max_words
        elif truncate:
            columns = _select(columns, position < self.max_words)
        sentence_start = columns["position"] == 0
        sentence_document = columns["document"][sentence_start]  # (n_sentences,), sorted
        sentence_rank = np.arange(len(sentence_document)) - np.searchsorted(sentence_document, sentence_document)
        columns["sentence"] = sentence_rank[np.cumsum(sentence_start) - 1]
        if truncate:
            columns = _select(columns, columns["sentence"] < self.max_sentences)

        empty = np.flatnonzero(np.bincount(columns["document"], minlength=len(documents)) == 0)
        if len(empty):
            at = np.searchsorted(columns["document"], empty)
            columns = {key: np.insert(values, at, 0) for key, values in columns.items()}
            columns["index"][at + np.arange(len(empty))] = len(words)
            columns["document"][at + np.arange(len(empty))] = empty
        return columns, words


def check_settings(**settings) -> None:
    """Validate `max_sentences`, `max_words`, `long_sentences`, `rules_version` and `language`, those given."""
    for name in ("max_sentences", "max_words"):
        value = settings.get(name, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
    if settings.get("long_sentences", "wrap") not in LONG_SENTENCE_MODES:
        raise ValueError(f"`long_sentences` must be one of {LONG_SENTENCE_MODES}, got {settings['long_sentences']!r}.")
    version = settings.get("rules_version", 2)
    if isinstance(version, bool) or version not in RULES_VERSIONS:
        raise ValueError(f"`rules_version` must be one of {RULES_VERSIONS}, got {version!r}.")
    language = settings.get("language")
    if language is not None:
        if not isinstance(language, str) or not _LANGUAGE_CODE.fullmatch(language):
            raise ValueError(f"`language` must be an ISO 639 code such as 'de' or 'pt-br', or None, got {language!r}.")
        if version == 1:
            raise ValueError("`language` needs rules_version=2; the rules of version 1 are English-shaped.")


def _sentencex():
    try:
        import sentencex
    except ImportError as error:
        raise ImportError(
            "Sentences by a language's rules (`language=...`) need the sentencex library: pip install sentencex"
        ) from error
    return sentencex


def _with_version_2_spans(texts, text_starts, starts, ends) -> tuple[np.ndarray, np.ndarray]:
    """The spans of `word_spans` (version 1) over the joined texts, with those of the texts that version 2 reads
    otherwise replaced by version 2's."""
    special = [index for index, text in enumerate(texts) if needs_version_2_pattern(text)]
    if not special:
        return starts, ends
    firsts = np.searchsorted(starts, text_starts)  # each text's first span
    lasts = np.append(firsts[1:], len(starts))
    pieces, cursor = [], 0
    for index in special:
        spans = [match.span() for match in word_matcher(texts[index], 2).finditer(texts[index])]
        spans = np.array(spans, dtype=np.int64).reshape(-1, 2) + text_starts[index]
        pieces += [np.stack([starts[cursor : firsts[index]], ends[cursor : firsts[index]]], axis=1), spans]
        cursor = lasts[index]
    pieces.append(np.stack([starts[cursor:], ends[cursor:]], axis=1))
    spans = np.concatenate(pieces)
    return spans[:, 0], spans[:, 1]


def _select(columns: dict, keep: np.ndarray) -> dict:
    return {key: values[keep] for key, values in columns.items()}


def _blank(match: re.Match) -> str:
    return " " * (match.end() - match.start())


__all__ = ["DEFAULT_ABBREVIATIONS", "LONG_SENTENCE_MODES", "HANSegmenter", "check_settings"]
