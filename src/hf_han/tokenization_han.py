"""Tokenizer for Hierarchical Attention Networks: raw documents to `(batch, sentences, words)` word ids."""

import copy
import gc
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import chain, pairwise

import numpy as np
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from transformers.tokenization_utils_base import BatchEncoding, PaddingStrategy, TruncationStrategy
from transformers.tokenization_utils_tokenizers import TokenizersBackend
from transformers.utils import logging

logger = logging.get_logger(__name__)

VOCAB_FILES_NAMES = {"tokenizer_file": "tokenizer.json"}

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
_CHUNK_DOCUMENTS = 1024  # documents encoded together by the bulk encoder
_BULK_MIN_DOCUMENTS = 8  # batches with offsets from this size on go through the bulk encoder


class _Vocabulary(dict):
    """Word to id, giving `unk_id` for any other word: `map(vocabulary.__getitem__, words)` runs at C speed."""

    unk_id: int

    def __missing__(self, word: str) -> int:
        return self.unk_id


class HANTokenizer(TokenizersBackend):
    r"""
    Turns raw documents into hierarchical word ids `(batch, sentences, words)` for a Hierarchical Attention Network.

    A document is split into sentences by a fast rule-based splitter (terminal punctuation followed by white space,
    newlines and HTML line breaks; abbreviations such as "Mr." and decimals such as "3.5" do not split), then into
    words (runs of word characters, every other visible character on its own), normalised (NFKC, lower case) and
    looked up in a word-level vocabulary with `[PAD]` = 0 and `[UNK]`. The vocabulary lives in a `tokenizers`
    `WordLevel` model with the same normaliser and pre-tokeniser, so `tokenize`, `convert_tokens_to_ids`,
    `save_pretrained` and the Hub behave as for any fast tokenizer; the hierarchical encoder itself runs the same
    rules in Python regular expressions, which is faster here than one Rust call per sentence.

    Args:
        vocab (`dict[str, int]`, *optional*):
            Word to id. Defaults to `{pad_token: 0, unk_token: 1}`; train one with [`train_new_from_iterator`].
        unk_token (`str`, *optional*, defaults to `"[UNK]"`):
            Stands for every word outside the vocabulary, and for an empty document.
        pad_token (`str`, *optional*, defaults to `"[PAD]"`):
            Padding word; it must have id 0.
        max_sentences (`int`, *optional*, defaults to 30):
            Sentences kept per document when truncating, and the sentence length of `padding="max_length"`.
        max_words (`int`, *optional*, defaults to 50):
            Words per sentence: longer sentences are wrapped or cut (see `long_sentences`); the word length of
            `padding="max_length"`.
        long_sentences (`str`, *optional*, defaults to `"wrap"`):
            `"wrap"` continues a sentence longer than `max_words` in further sentences, so no text is lost (this is
            what makes unpunctuated text usable); `"cut"` keeps its first `max_words` words when truncating.
        abbreviations (`list[str]`, *optional*):
            Lower-cased words after which a "." does not end a sentence ("mr", "e.g", "u.s", ...).
        lowercase (`bool`, *optional*, defaults to `True`):
            Lower-case words before the vocabulary lookup.

    Example:

    ```python
    >>> from hf_han import HANTokenizer

    >>> tokenizer = HANTokenizer().train_new_from_iterator(["A good film. I liked it!", "A bad film."], vocab_size=100)
    >>> encoding = tokenizer(["A good film. I liked it!"], return_tensors="pt")
    >>> encoding["input_ids"].shape
    torch.Size([1, 2, 4])
    ```
    """

    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "attention_mask"]
    # without it, a reload rebuilds the vocabulary as another model type and silently changes the ids
    model = WordLevel

    def __init__(
        self,
        vocab: dict[str, int] | None = None,
        unk_token: str = "[UNK]",
        pad_token: str = "[PAD]",
        max_sentences: int = 30,
        max_words: int = 50,
        long_sentences: str = "wrap",
        abbreviations: Sequence[str] | None = None,
        lowercase: bool = True,
        **kwargs,
    ):
        _check_settings(max_sentences=max_sentences, max_words=max_words, long_sentences=long_sentences)
        unk_token, pad_token = str(unk_token), str(pad_token)
        if vocab is None:
            vocab = {pad_token: 0, unk_token: 1}
        if vocab.get(pad_token) != 0 or unk_token not in vocab:
            raise ValueError(f"The vocabulary must map {pad_token!r} to 0 and contain {unk_token!r}.")

        self.max_sentences = max_sentences
        self.max_words = max_words
        self.long_sentences = long_sentences
        abbreviations = DEFAULT_ABBREVIATIONS if abbreviations is None else abbreviations
        self.abbreviations = sorted({word.lower().rstrip(".") for word in abbreviations})
        self.lowercase = lowercase
        self._boundary = _boundary_pattern(tuple(self.abbreviations))
        # The whole pipeline is rebuilt from these settings: a reload passes only the vocabulary.
        self._tokenizer = Tokenizer(WordLevel(vocab=dict(vocab), unk_token=unk_token))
        self._tokenizer.normalizer = normalizers.Sequence(
            [normalizers.NFKC(), normalizers.Lowercase()] if lowercase else [normalizers.NFKC()]
        )
        self._tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(WORD_PATTERN), behavior="isolated")]
        )
        self._lookup_cache = None
        kwargs.pop("tokenizer_object", None)  # the backend is built above, from `vocab`
        super().__init__(
            unk_token=unk_token,
            pad_token=pad_token,
            max_sentences=max_sentences,
            max_words=max_words,
            long_sentences=long_sentences,
            abbreviations=self.abbreviations,
            lowercase=lowercase,
            **kwargs,
        )

    # ------------------------------------------------------------------ documents -> sentences -> words

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

    def _prepare(self, document: str, truncate: bool) -> tuple[str, list[int], bool]:
        """
        Read `document` for encoding. Returns the text that words are matched in, the end offset of every sentence
        in it, and whether each word must be normalised on its own. The text keeps every character of `document`
        at its offset: it is lower-cased only where that moves no character, line-break markup is blanked out, and
        with `truncate` it stops after the last sentence that truncation can keep.
        """
        if not isinstance(document, str):
            raise TypeError(f"HANTokenizer encodes documents given as `str`, got {type(document).__name__}.")
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

    def _document_words(
        self, document: str, truncate: bool, with_matches: bool = False
    ) -> tuple[list[list[str]], list[list[re.Match]] | None]:
        """
        The normalised words of `document`, sentence by sentence, after wrapping and truncation; with
        `with_matches`, also their regular-expression matches (for character spans). This is the plain,
        document-by-document form of the rules that `_encode_columns` applies to whole batches.
        """
        text, sentence_ends, per_word = self._prepare(document, truncate)
        pattern = _ASCII_WORD if text.isascii() else _WORD
        wrap = self.long_sentences == "wrap"
        limit = self.max_words if (wrap or truncate) else None
        max_sentences = self.max_sentences if truncate else None
        sentence_words, sentence_matches, start = [], [], 0
        for end in sentence_ends:
            if with_matches:
                matches = list(pattern.finditer(text, start, end))
                words = list(map(re.Match.group, matches))
            else:
                words = pattern.findall(text, start, end)
            start = end
            if not words:
                continue  # an empty line, or punctuation-free markup
            if per_word:
                words = [self._normalize(word) for word in words]
            if limit is None or len(words) <= limit:  # the common case: the sentence as it is
                sentence_words.append(words)
                if with_matches:
                    sentence_matches.append(matches)
            else:  # wrapped into pieces of `limit` words, or cut to the first piece
                firsts = range(0, len(words), limit) if wrap else [0]
                sentence_words += [words[first : first + limit] for first in firsts]
                if with_matches:
                    sentence_matches += [matches[first : first + limit] for first in firsts]
            if max_sentences is not None and len(sentence_words) >= max_sentences:
                del sentence_words[max_sentences:], sentence_matches[max_sentences:]
                break
        return sentence_words, sentence_matches if with_matches else None

    def _normalize(self, word: str) -> str:
        word = unicodedata.normalize("NFKC", word)
        return word.lower() if self.lowercase else word

    def _word_to_id(self) -> "_Vocabulary":
        size = self._tokenizer.get_vocab_size(with_added_tokens=True)
        if self._lookup_cache is None or self._lookup_cache[0] != size:
            vocabulary = _Vocabulary(self._tokenizer.get_vocab(with_added_tokens=True))
            vocabulary.unk_id = self.unk_token_id
            self._lookup_cache = (size, vocabulary)
        return self._lookup_cache[1]

    def encode_document(
        self, document: str, truncation: bool = True, return_offsets: bool = True
    ) -> tuple[list[list[int]], list[list[tuple[int, int]]] | None]:
        """
        Ids `(sentences, words)` of one document and (with `return_offsets`) the character span of every word in
        it. An empty or whitespace-only document is one sentence holding `[UNK]`, spanning `(0, 0)`.
        """
        sentence_words, sentence_matches = self._document_words(document, truncation, with_matches=return_offsets)
        vocabulary = self._word_to_id()
        if not sentence_words:
            return [[vocabulary.unk_id]], [[(0, 0)]] if return_offsets else None
        ids = [list(map(vocabulary.__getitem__, words)) for words in sentence_words]  # [UNK] outside the vocabulary
        if not return_offsets:
            return ids, None
        return ids, [list(map(re.Match.span, matches)) for matches in sentence_matches]

    def _encode_columns(self, documents: Sequence[str], truncate: bool) -> tuple[dict[str, np.ndarray], list] | None:
        """
        Encode a batch in bulk: one regular-expression pass and one vocabulary pass over all its words, then numpy
        for sentences, wrapping, truncation and offsets.

        Returns columns with one entry per kept word, ordered by document, sentence and word: `document` (index in
        the batch), `sentence` (in its document), `position` (in its sentence), `start` and `end` (character span in
        its document) and `index` into the returned list of ids, in which every sentence's words are consecutive. A
        document without words holds one `[UNK]` spanning `(0, 0)`. Returns `None` if the bulk word spans disagree
        with the regular expression, which would be a bug: the caller then encodes document by document.
        """
        texts, text_starts, sentence_ends, sentence_counts, normalize_each, offset = [], [], [], [], [], 0
        for index, document in enumerate(documents):
            text, ends, per_word = self._prepare(document, truncate)
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
        vocabulary = self._word_to_id()
        ids = list(map(vocabulary.__getitem__, words))  # [UNK] for a word outside the vocabulary
        for index in normalize_each:
            first, last = first_words[index], first_words[index + 1] if index + 1 < len(documents) else len(ids)
            ids[first:last] = map(vocabulary.__getitem__, map(self._normalize, words[first:last]))
        ids.append(vocabulary.unk_id)  # what a document without words holds
        del words

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
            columns["index"][at + np.arange(len(empty))] = len(ids) - 1
            columns["document"][at + np.arange(len(empty))] = empty
        return columns, ids

    def sentence_words(self, document: str, truncation: bool = False) -> list[list[str]]:
        """The normalised words of `document`, sentence by sentence."""
        return self._document_words(document, truncation)[0]

    # ------------------------------------------------------------------ the transformers entry points

    def tokenize(self, text: str, **kwargs) -> list[str]:
        """The normalised words of `text`, all sentences in a row, without truncation."""
        return [word for words in self._document_words(text, truncate=False)[0] for word in words]

    def __call__(
        self, text=None, *args, padding: bool | str = False, truncation: bool | str | None = None, **kwargs
    ) -> BatchEncoding:
        """
        Encode one document (`str`) or a batch (`list[str]`) into `input_ids` and `attention_mask` of shape
        `(batch, sentences, words)`; a single document gets a batch axis of 1 only with `return_tensors`.

        Beyond the usual `padding` (`True`/`"longest"`: the batch's own maxima; `"max_length"`: `max_sentences` x
        `max_words`; `False`: ragged lists), `return_tensors` (`"pt"`, `"np"` or `None`), `return_length` (real
        words per document) and `return_offsets_mapping` (a `(start, end)` character span per word),
        `truncation` defaults to `True`: at most `max_sentences` sentences of at most `max_words` words.
        `max_sentences`, `max_words` and `long_sentences` may be overridden per call. One document (a `str`)
        encoded to tensors with `"longest"` padding has `max_words` words per sentence, so that the encodings of
        different documents stack, as the `transformers` pipelines need when they batch.
        """
        if isinstance(text, (list, tuple)):
            for document in text:
                if not isinstance(document, str):
                    raise TypeError(
                        f"HANTokenizer encodes documents given as `str`, got {type(document).__name__} in the batch."
                    )
        elif not isinstance(text, str):
            raise TypeError(
                f"HANTokenizer encodes a document (`str`) or a batch of them (`list[str]`), got {type(text).__name__}."
            )
        # `transformers` reads padding and truncation against a flat `max_length`; the caps here are
        # `max_sentences` x `max_words`, so both are decided here and handed to `_encode_plus` as they are.
        truncate = truncation is None or truncation not in (
            False,
            "do_not_truncate",
            TruncationStrategy.DO_NOT_TRUNCATE,
        )
        if isinstance(padding, str):  # PaddingStrategy is a str enum too
            padding = PaddingStrategy(padding)
        else:
            padding = PaddingStrategy.LONGEST if padding else PaddingStrategy.DO_NOT_PAD
        return super().__call__(
            text,
            *args,
            padding=False,
            truncation=False,
            truncate_documents=truncate,
            document_padding=padding,
            **kwargs,
        )

    def _encode_plus(
        self,
        text: str | list[str],
        text_pair=None,
        document_padding: PaddingStrategy = PaddingStrategy.DO_NOT_PAD,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        return_tensors=None,
        return_attention_mask: bool | None = None,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        max_sentences: int | None = None,
        max_words: int | None = None,
        long_sentences: str | None = None,
        truncate_documents: bool = True,
        **kwargs,
    ) -> BatchEncoding:
        if text_pair is not None:
            raise ValueError("HANTokenizer encodes single documents; pairs of texts are not supported.")
        if is_split_into_words:
            raise ValueError("HANTokenizer splits documents itself; pass raw text, not `is_split_into_words=True`.")
        overrides = {"max_sentences": max_sentences, "max_words": max_words, "long_sentences": long_sentences}
        overrides = {name: value for name, value in overrides.items() if value is not None}
        if overrides:
            # a per-call setting: encode with a shallow copy (sharing the vocabulary) rather than mutate this one
            _check_settings(**overrides)
            configured = copy.copy(self)
            for name, value in overrides.items():
                setattr(configured, name, value)
            return configured._encode_plus(
                text,
                document_padding=document_padding,
                truncate_documents=truncate_documents,
                pad_to_multiple_of=pad_to_multiple_of,
                return_tensors=return_tensors,
                return_attention_mask=return_attention_mask,
                return_offsets_mapping=return_offsets_mapping,
                return_length=return_length,
            )

        single = isinstance(text, str)
        documents = [text] if single else list(text)
        if document_padding == PaddingStrategy.DO_NOT_PAD and return_tensors is not None:
            document_padding = PaddingStrategy.LONGEST  # a tensor needs one shape; padding never changes the logits
        padded = document_padding != PaddingStrategy.DO_NOT_PAD
        # The cyclic garbage collector would rescan the growing result lists again and again while nothing built
        # here can form a cycle; pausing it makes ragged encoding with offsets about 1.6x faster (IMDB).
        collecting = gc.isenabled()
        gc.disable()
        try:
            chunks, ragged, one_document = [], {"input_ids": [], "attention_mask": [], "offset_mapping": []}, None
            # in chunks, so that the words of a huge batch never all exist as Python strings at once
            for first in range(0, len(documents), _CHUNK_DOCUMENTS):
                chunk = documents[first : first + _CHUNK_DOCUMENTS]
                # Offsets need a span per word: the bulk encoder finds them for a whole chunk at once, without a
                # match object per word. Without offsets, or for a few documents (where numpy's cost per call is
                # not repaid), the document-by-document rules are as fast.
                encoded = None
                if return_offsets_mapping and len(chunk) >= _BULK_MIN_DOCUMENTS:
                    encoded = self._encode_columns(chunk, truncate_documents)
                    if encoded is None:
                        logger.warning_once("Bulk word spans disagree with the word pattern; encoding one by one.")
                if encoded is None:
                    plain = [
                        self.encode_document(document, truncate_documents, return_offsets_mapping)
                        for document in chunk
                    ]
                    if padded and single:  # the pipelines' call, one document at a time: padded row by row below
                        one_document = plain[0]
                    elif padded:
                        columns = _columns_from_ragged([ids for ids, _ in plain], [spans for _, spans in plain])
                        columns["document"] += first
                        chunks.append(columns)
                    else:
                        ragged["input_ids"] += [ids for ids, _ in plain]
                        ragged["attention_mask"] += [[[1] * len(words) for words in ids] for ids, _ in plain]
                        ragged["offset_mapping"] += [spans for _, spans in plain]
                    continue
                columns, ids = encoded
                if padded:
                    columns["input_ids"] = np.fromiter(ids, np.int64, len(ids))[columns.pop("index")]
                    columns["document"] += first
                    chunks.append(columns)
                else:
                    for key, values in zip(ragged, _ragged_from_columns(columns, ids, len(chunk))):
                        ragged[key].extend(values)
        finally:
            if collecting:
                gc.enable()

        if not padded:
            encoded = {"input_ids": ragged["input_ids"]}
            if return_attention_mask is not False:
                encoded["attention_mask"] = ragged["attention_mask"]
            if return_offsets_mapping:
                encoded["offset_mapping"] = ragged["offset_mapping"]
            if return_length:
                encoded["length"] = [sum(map(len, document)) for document in ragged["input_ids"]]
            if single:
                encoded = {key: value[0] for key, value in encoded.items()}
            return BatchEncoding(encoded, tensor_type=return_tensors)

        keys = ["input_ids"]
        keys += ["attention_mask"] if return_attention_mask is not False else []
        keys += ["offset_mapping"] if return_offsets_mapping else []
        # One document's tensors padded to `max_words` words stack with any other document's along the sentence
        # axis, which is how the `transformers` pipelines batch; the padding costs the model nothing, since it reads
        # only real words.
        pipeline_shape = single and return_tensors is not None and not pad_to_multiple_of
        shape = (self.max_sentences, self.max_words) if document_padding == PaddingStrategy.MAX_LENGTH else None
        if one_document is not None:
            ids, spans = one_document
            if pipeline_shape and shape is None:
                shape = (len(ids), max(self.max_words, *map(len, ids)))
            encoded = _pad_document(ids, spans, shape, pad_to_multiple_of, self.pad_token_id, keys)
            lengths = [sum(map(len, ids))]
        else:
            columns = {key: np.concatenate([chunk[key] for chunk in chunks]) for key in chunks[0]}
            if pipeline_shape and shape is None:
                shape = (int(columns["sentence"].max()) + 1, max(self.max_words, int(columns["position"].max()) + 1))
            encoded = _pad_columns(columns, len(documents), shape, pad_to_multiple_of, self.pad_token_id, keys)
            lengths = np.bincount(columns["document"], minlength=len(documents)).tolist()
        if return_length:
            encoded["length"] = lengths
        if return_tensors == "pt":  # shared with the arrays, not copied
            import torch

            encoded = {
                key: torch.from_numpy(value) if isinstance(value, np.ndarray) else value
                for key, value in encoded.items()
            }
        return BatchEncoding(encoded, tensor_type=return_tensors)

    def pad(
        self, encoded_inputs, padding=True, max_length=None, pad_to_multiple_of=None, return_tensors=None, **kwargs
    ):
        """
        Pad hierarchical encodings (a list of per-document dicts, or a dict of per-document lists) to the batch's
        maxima, or to `max_sentences` x `max_words` with `padding="max_length"`. Used by the data collators.
        """
        if isinstance(encoded_inputs, (list, tuple)):
            encoded_inputs = {key: [example[key] for example in encoded_inputs] for key in encoded_inputs[0]}
        shape = (self.max_sentences, self.max_words) if padding == "max_length" else None
        return BatchEncoding(
            pad_documents(dict(encoded_inputs), shape=shape, pad_to_multiple_of=pad_to_multiple_of),
            tensor_type=return_tensors,
        )

    def decode(self, token_ids, skip_special_tokens: bool = True, **kwargs):
        """
        Ids back to text: one document `(sentences, words)` gives a list of sentences (words joined by spaces),
        one sentence `(words,)` a string. Padding is dropped; `[UNK]` is kept unless `skip_special_tokens`.
        """
        token_ids = _to_list(token_ids)
        if token_ids and isinstance(token_ids[0], list):
            sentences = [self.decode(sentence, skip_special_tokens=skip_special_tokens) for sentence in token_ids]
            return [
                sentence for sentence, ids in zip(sentences, token_ids) if any(i != self.pad_token_id for i in ids)
            ]
        skip = {self.pad_token_id, self.unk_token_id} if skip_special_tokens else {self.pad_token_id}
        return " ".join(self._tokenizer.id_to_token(i) or self.unk_token for i in token_ids if i not in skip)

    def batch_decode(self, sequences, skip_special_tokens: bool = True, **kwargs) -> list:
        return [self.decode(document, skip_special_tokens=skip_special_tokens) for document in _to_list(sequences)]

    # ------------------------------------------------------------------ vocabulary

    def train_new_from_iterator(
        self,
        text_iterator: Iterable[str] | Iterable[list[str]],
        vocab_size: int,
        length: int | None = None,
        min_frequency: int = 1,
        show_progress: bool = True,
        **kwargs,
    ) -> "HANTokenizer":
        """
        A new `HANTokenizer` with this one's settings and a vocabulary learnt from `text_iterator`.

        Words are counted with exactly the rules used for encoding. The vocabulary holds `[PAD]` (0), `[UNK]` (1)
        and then the most frequent words seen at least `min_frequency` times (as in `tokenizers`; the paper keeps
        words seen more than 5 times: `min_frequency=6`), `vocab_size` entries at most, ties broken
        alphabetically so that training is deterministic.

        Args:
            text_iterator (`Iterable[str]` or `Iterable[list[str]]`): documents, or batches of documents.
            vocab_size (`int`): the largest vocabulary, special tokens included.
            length (`int`, *optional*): the number of items in `text_iterator`, for the progress bar.
            min_frequency (`int`, *optional*, defaults to 1): the fewest occurrences a word needs.
            show_progress (`bool`, *optional*, defaults to `True`): show a progress bar.
        """
        from tqdm.auto import tqdm

        if vocab_size < 3:
            raise ValueError(f"`vocab_size` must leave room for a word beside [PAD] and [UNK], got {vocab_size}.")
        counts = Counter()
        for item in tqdm(text_iterator, total=length, desc="Counting words", unit="doc", disable=not show_progress):
            for document in [item] if isinstance(item, str) else item:
                for words in self._document_words(document, truncate=False)[0]:
                    counts.update(words)
        specials = [self.pad_token, self.unk_token]
        for special in specials:
            counts.pop(special, None)
        kept = sorted((item for item in counts.items() if item[1] >= min_frequency), key=lambda kv: (-kv[1], kv[0]))
        vocab = {token: i for i, token in enumerate(specials + [word for word, _ in kept[: vocab_size - 2]])}
        logger.info(
            f"Vocabulary of {len(vocab)} words from {len(counts)} distinct words (min_frequency={min_frequency})."
        )
        return self.__class__(vocab=vocab, **{**self._settings(), **kwargs})

    def _settings(self) -> dict:
        return {
            "unk_token": self.unk_token,
            "pad_token": self.pad_token,
            "max_sentences": self.max_sentences,
            "max_words": self.max_words,
            "long_sentences": self.long_sentences,
            "abbreviations": list(self.abbreviations),
            "lowercase": self.lowercase,
        }

    def check_model_compatibility(self, config) -> None:
        """Raise a `ValueError` unless a model with `config` (or a model) can read this tokenizer's ids."""
        config = getattr(config, "config", config)
        if config.vocab_size != len(self):
            raise ValueError(
                f"The tokenizer has {len(self)} words but the model's embedding has config.vocab_size="
                f"{config.vocab_size} rows: they were not trained together."
            )
        if getattr(config, "pad_token_id", 0) != self.pad_token_id:
            raise ValueError(
                f"The tokenizer pads with id {self.pad_token_id}, the model with config.pad_token_id="
                f"{config.pad_token_id}."
            )


def pad_documents(
    encoded: dict[str, list],
    shape: tuple[int, int] | None = None,
    pad_to_multiple_of: int | None = None,
    pad_token_id: int = 0,
) -> dict[str, np.ndarray]:
    """
    Right-pad ragged hierarchical features to one `(batch, sentences, words)` array each: `input_ids` with
    `pad_token_id`, `attention_mask` with 0 (all real words get 1 when `encoded` has no mask), `offset_mapping`
    with `(0, 0)` (shape `(batch, sentences, words, 2)`). Other keys are kept as they are. `shape` fixes
    `(sentences, words)` (longer documents are an error there: truncate them first); otherwise the batch's maxima
    are used, rounded up to `pad_to_multiple_of`.
    """
    if not encoded["input_ids"]:
        raise ValueError("Cannot pad an empty batch of documents.")
    columns = _columns_from_ragged(encoded["input_ids"], encoded.get("offset_mapping"), encoded.get("attention_mask"))
    keys = ["input_ids", "attention_mask"] + (["offset_mapping"] if "offset_mapping" in encoded else [])
    padded = _pad_columns(columns, len(encoded["input_ids"]), shape, pad_to_multiple_of, pad_token_id, keys)
    return {**encoded, **padded}


# The two encoders meet in columns: one entry per real word, ordered by document, sentence and word, holding
# `input_ids`, `document`, `sentence`, `position` and, with offsets, `start` and `end`.


def _columns_from_ragged(
    input_ids: Sequence[list],
    offset_mapping: Sequence[list] | None = None,
    attention_mask: Sequence[list] | None = None,
) -> dict:
    """Columns of ragged `(documents, sentences, words)` ids and, optionally, `(start, end)` spans and mask values."""
    sentences_per_document = np.fromiter(map(len, input_ids), dtype=np.int64, count=len(input_ids))
    words_per_sentence = np.fromiter(chain.from_iterable(map(len, document) for document in input_ids), np.int64)
    num_words = int(words_per_sentence.sum())
    columns = {
        "input_ids": np.fromiter(chain.from_iterable(chain.from_iterable(input_ids)), np.int64, count=num_words),
        "document": np.repeat(np.repeat(np.arange(len(input_ids)), sentences_per_document), words_per_sentence),
        "sentence": np.repeat(_positions_within(sentences_per_document), words_per_sentence),
        "position": _positions_within(words_per_sentence),
    }
    if offset_mapping is not None and all(spans is not None for spans in offset_mapping):
        spans = chain.from_iterable(chain.from_iterable(chain.from_iterable(offset_mapping)))
        spans = np.fromiter(spans, np.int64, count=2 * num_words).reshape(-1, 2)
        columns["start"], columns["end"] = spans[:, 0], spans[:, 1]
    if attention_mask is not None:
        mask = np.fromiter(chain.from_iterable(chain.from_iterable(attention_mask)), np.int64)
        if len(mask) != num_words:
            raise ValueError(f"`attention_mask` has {len(mask)} values for {num_words} words in `input_ids`.")
        columns["attention_mask"] = mask
    return columns


def _ragged_from_columns(columns: dict, ids: list[int], num_documents: int) -> tuple[list, list, list]:
    """Ragged `(documents, sentences, words)` lists of ids, attention mask and `(start, end)` offsets."""
    firsts = np.flatnonzero(columns["position"] == 0)  # (n_sentences,) each sentence's first entry
    lengths = np.diff(firsts, append=len(columns["position"]))
    document_bounds = np.searchsorted(columns["document"][firsts], np.arange(num_documents + 1)).tolist()
    # a sentence's ids are consecutive in `ids`: slicing shares the vocabulary's int objects
    id_starts = columns["index"][firsts]
    sentences = list(map(ids.__getitem__, map(slice, id_starts.tolist(), (id_starts + lengths).tolist())))
    ones = [1] * int(lengths.max(initial=0))
    masks = [ones[:length] for length in lengths.tolist()]
    spans = _span_tuples(columns["start"], columns["end"])
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


def _span_tuples(starts: np.ndarray, ends: np.ndarray) -> list[tuple[int, int]]:
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


def _pad_columns(
    columns: dict,
    num_documents: int,
    shape: tuple[int, int] | None,
    pad_to_multiple_of: int | None,
    pad_token_id: int,
    keys: Sequence[str],
) -> dict[str, np.ndarray]:
    """Scatter columns into padded `(documents, sentences, words)` arrays of the features named in `keys`."""
    num_sentences, num_words = _padded_shape(
        int(columns["sentence"].max(initial=0)) + 1,
        int(columns["position"].max(initial=0)) + 1,
        shape,
        pad_to_multiple_of,
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


def _pad_document(
    ids: list[list[int]],
    spans: list[list[tuple[int, int]]] | None,
    shape: tuple[int, int] | None,
    pad_to_multiple_of: int | None,
    pad_token_id: int,
    keys: Sequence[str],
) -> dict[str, np.ndarray]:
    """One document's ragged ids (and spans) as padded `(1, sentences, words)` arrays of the features in `keys`."""
    lengths = np.fromiter(map(len, ids), np.int64, len(ids))
    num_sentences, num_words = _padded_shape(len(ids), int(lengths.max()), shape, pad_to_multiple_of)
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


def _padded_shape(
    num_sentences: int, num_words: int, shape: tuple[int, int] | None, pad_to_multiple_of: int | None
) -> tuple[int, int]:
    """The padded `(sentences, words)` of a batch with these maxima: `shape` if given, else rounded up."""
    if shape is not None:
        if num_sentences > shape[0] or num_words > shape[1]:
            raise ValueError(
                f"A document of {num_sentences} sentences or {num_words} words does not fit the padding shape "
                f"{shape}; encode with truncation=True."
            )
        return shape
    if pad_to_multiple_of:
        num_sentences = -(-num_sentences // pad_to_multiple_of) * pad_to_multiple_of
        num_words = -(-num_words // pad_to_multiple_of) * pad_to_multiple_of
    return num_sentences, num_words


def _select(columns: dict, keep: np.ndarray) -> dict:
    return {key: values[keep] for key, values in columns.items()}


def _positions_within(group_sizes: np.ndarray) -> np.ndarray:
    """For groups of the given sizes laid end to end, each element's position inside its group."""
    group_starts = np.cumsum(group_sizes) - group_sizes
    return np.arange(int(group_sizes.sum())) - np.repeat(group_starts, group_sizes)


def _check_settings(**settings) -> None:
    for name in ("max_sentences", "max_words"):
        value = settings.get(name, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
    if settings.get("long_sentences", "wrap") not in LONG_SENTENCE_MODES:
        raise ValueError(f"`long_sentences` must be one of {LONG_SENTENCE_MODES}, got {settings['long_sentences']!r}.")


def _blank(match: re.Match) -> str:
    return " " * (match.end() - match.start())


def _to_list(ids):
    if hasattr(ids, "tolist"):
        return ids.tolist()
    return [_to_list(item) for item in ids] if isinstance(ids, (list, tuple)) else ids


__all__ = ["HANTokenizer", "pad_documents"]
