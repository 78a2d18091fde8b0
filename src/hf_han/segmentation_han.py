"""
How HAN reads a document: sentences (terminal punctuation, line breaks, abbreviations), then words (runs of word
characters, every other visible character on its own), normalised, with their character spans; wrapped and
truncated to `max_sentences` x `max_words`. Plain Python and numpy: no `transformers` here, and no vocabulary.
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import chain

import numpy as np


# A word is a run of letters, digits or underscores, with inner apostrophes ("don't"); any other visible character is
# a word of its own ("!", ","). The same pattern drives the `tokenizers` pre-tokeniser and the encoder below.
WORD_PATTERN = r"\w+(?:['’]\w+)*|[^\w\s]"
_WORD = re.compile(WORD_PATTERN)

# Sentence boundaries: newlines, HTML line breaks, and terminal punctuation (with closing quotes or brackets)
# followed by white space, except a single "." after an abbreviation. Decimals ("3.5") never match: no space
# follows their point. The pattern is matched on lower-cased text, and a sentence ends where a match ends. Every
# alternative starts with a literal, so that the regular-expression engine skips ahead to candidate characters,
# and the abbreviations are checked only at a "." that is followed by white space.
_CLOSERS = r"""["'”’»)\]]*"""
_TERMINAL_TEMPLATE = (
    r"""\n|<br\s*/?>"""  # line breaks
    r"""|![.!?…"'”’»)\]]*(?=\s)|\?[.!?…"'”’»)\]]*(?=\s)|…[.!?…"'”’»)\]]*(?=\s)"""  # "!", "?!", "…"
    rf"|\.[.!?…]+{_CLOSERS}(?=\s)"  # "...", ".!"
    rf"|\.(?={_CLOSERS}\s){{not_after_abbreviation}}{_CLOSERS}"  # a single "."
)
_LINE_BREAK_TAG = re.compile(r"<[bB][rR]\s*/?>")
_VISIBLE = re.compile(r"\S")

# Every character is white space, a word character (`\w`) or another visible character, which is a word of its own;
# an apostrophe between two word characters joins them. So the spans of WORD_PATTERN's matches follow from the
# characters' classes, which numpy computes for a whole batch at once, without a match object per word.
_SPACE, _WORD_CHARACTER, _SYMBOL, _APOSTROPHE = 0, 1, 2, 3


def _character_class(character: str) -> int:
    if character in "'’":
        return _APOSTROPHE
    if re.fullmatch(r"\s", character):
        return _SPACE
    return _WORD_CHARACTER if re.fullmatch(r"\w", character) else _SYMBOL


_ASCII_CLASSES = np.array([_character_class(chr(code)) for code in range(128)], dtype=np.int8)


def _ascii_word_pattern() -> re.Pattern:
    # WORD_PATTERN for ASCII text with explicit classes, which the engine tests faster than Unicode categories
    # (about 20% on IMDB). Built from the classes above, so that its white space is Python's (with \x1c-\x1f).
    word, space = (
        [re.escape(chr(code)) for code in np.flatnonzero(_ASCII_CLASSES == kind)] for kind in (_WORD_CHARACTER, _SPACE)
    )
    word, space = "".join(word), "".join(space)
    return re.compile(rf"[{word}]+(?:'[{word}]+)*|[^{word}{space}]")


_ASCII_WORD = _ascii_word_pattern()


def word_spans(text: str) -> tuple[np.ndarray, np.ndarray]:
    """
    Start and end offsets `(n,)` of the matches of `WORD_PATTERN` in `text`, in order: the spans `re.finditer`
    would give, computed in bulk from character classes.
    """
    if not text:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if text.isascii():
        classes = _ASCII_CLASSES[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    else:
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        classes = _ASCII_CLASSES[np.minimum(codes, 127)]
        beyond_ascii = np.flatnonzero(codes > 127)
        distinct, which = np.unique(codes[beyond_ascii], return_inverse=True)
        distinct_classes = [_character_class(chr(code)) for code in distinct.tolist()]
        classes[beyond_ascii] = np.array(distinct_classes, dtype=np.int8)[which]
    word = classes == _WORD_CHARACTER
    joining = classes == _APOSTROPHE
    joining[1:-1] &= word[:-2] & word[2:]  # "don't" is one word; a leading or trailing apostrophe is a symbol
    joining[[0, -1]] = False
    word |= joining
    symbol = ~word & (classes != _SPACE)
    starts, ends = symbol.copy(), symbol
    starts[0] |= word[0]
    starts[1:] |= word[1:] & ~word[:-1]
    ends[-1] |= word[-1]
    ends[:-1] |= word[:-1] & ~word[1:]
    return np.flatnonzero(starts), np.flatnonzero(ends) + 1


@lru_cache(maxsize=16)
def _boundary_pattern(abbreviations: tuple[str, ...]) -> re.Pattern:
    # "mr." and "e.g." end no sentence: one fixed-width negative look-behind per abbreviation length
    by_length = {}
    for abbreviation in abbreviations:
        by_length.setdefault(len(abbreviation), []).append(re.escape(abbreviation))
    not_after = "".join(rf"(?<!\b(?:{'|'.join(group)})\.)" for _, group in sorted(by_length.items()))
    return re.compile(_TERMINAL_TEMPLATE.format(not_after_abbreviation=not_after))


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
    """

    max_sentences: int = 30
    max_words: int = 50
    long_sentences: str = "wrap"
    abbreviations: Sequence[str] = DEFAULT_ABBREVIATIONS
    lowercase: bool = True
    _boundary: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        check_settings(max_sentences=self.max_sentences, max_words=self.max_words, long_sentences=self.long_sentences)
        abbreviations = tuple(sorted({word.lower().rstrip(".") for word in self.abbreviations}))
        object.__setattr__(self, "abbreviations", abbreviations)
        object.__setattr__(self, "_boundary", _boundary_pattern(abbreviations))

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
        for boundary in self._boundary.finditer(document.lower()):
            # a sentence keeps its final punctuation and closing quotes, not a line break
            end = boundary.start() if boundary.group()[0] in "\n<" else boundary.end()
            if end > start:
                spans.append((start, end))
            start = boundary.end()
        if start < len(document):
            spans.append((start, len(document)))
        return spans

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
        lowered = document.lower()
        moved = len(lowered) != len(document)  # rare: lower case changes the text's length
        text = document if (moved or not self.lowercase) else lowered
        per_word = (moved and self.lowercase) or not (text.isascii() or unicodedata.is_normalized("NFKC", text))
        if per_word:
            text = document
        # boundaries are found on lower-cased text, so that "Mr." and "mr." are both abbreviations
        sentence_ends = list(map(re.Match.end, self._boundary.finditer(document if moved else lowered)))
        sentence_ends.append(len(document))
        if "<br" in lowered:
            # line-break markup is a sentence boundary, not words: blank it out, keeping every offset in place
            if text is lowered:
                text = text.replace("<br />", "      ")  # the common form, without a call per tag
            if "<br" in text or text is not lowered:
                text = _LINE_BREAK_TAG.sub(_blank, text)
        if truncate and len(sentence_ends) > self.max_sentences:
            # Truncation keeps words of the first `max_sentences` sentences that hold one (wrapping only adds
            # sentences), so the text after them is never read: a huge document costs what a short one does.
            kept, start = 0, 0
            for index, end in enumerate(sentence_ends):
                if _VISIBLE.search(text, start, end):  # every visible character belongs to a word
                    kept += 1
                    if kept == self.max_sentences:
                        del sentence_ends[index + 1 :]
                        text = text[:end]
                        break
                start = end
        return text, sentence_ends, per_word

    def document_words(
        self, document: str, truncate: bool = False, with_spans: bool = False
    ) -> tuple[list[list[str]], list[list[tuple[int, int]]] | None]:
        """
        The normalised words of `document`, sentence by sentence, after wrapping (and with `truncate`, truncation);
        with `with_spans`, also the character span of each word in `document`. This is the plain,
        document-by-document form of the rules that `word_columns` applies to whole batches.
        """
        text, sentence_ends, per_word = self.prepare(document, truncate)
        pattern = _ASCII_WORD if text.isascii() else _WORD
        wrap = self.long_sentences == "wrap"
        limit = self.max_words if (wrap or truncate) else None
        max_sentences = self.max_sentences if truncate else None
        sentence_words, sentence_spans, start = [], [], 0
        for end in sentence_ends:
            if with_spans:
                matches = list(pattern.finditer(text, start, end))
                words, spans = list(map(re.Match.group, matches)), list(map(re.Match.span, matches))
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
            words += (_ASCII_WORD if text.isascii() else _WORD).findall(text)
        joined = "\n".join(texts)
        starts, ends = word_spans(joined)  # (n_words,) each, offsets in `joined`
        if len(starts) != len(words):
            return None
        text_starts = np.array(text_starts, dtype=np.int64)
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
    """Validate `max_sentences`, `max_words` and `long_sentences`, those of them given."""
    for name in ("max_sentences", "max_words"):
        value = settings.get(name, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
    if settings.get("long_sentences", "wrap") not in LONG_SENTENCE_MODES:
        raise ValueError(f"`long_sentences` must be one of {LONG_SENTENCE_MODES}, got {settings['long_sentences']!r}.")


def _select(columns: dict, keep: np.ndarray) -> dict:
    return {key: values[keep] for key, values in columns.items()}


def _blank(match: re.Match) -> str:
    return " " * (match.end() - match.start())


__all__ = [
    "DEFAULT_ABBREVIATIONS",
    "LONG_SENTENCE_MODES",
    "WORD_PATTERN",
    "HANSegmenter",
    "check_settings",
    "word_spans",
]
