"""Tokenizer for Hierarchical Attention Networks: raw documents to `(batch, sentences, words)` word ids."""

import copy
import gc
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import chain, repeat

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
# follows their point.
# The pattern is matched on lower-cased text, and a sentence ends where a match ends.
_TERMINAL_TEMPLATE = (
    r"""\n|<br\s*/?>"""  # line breaks
    r"""|[!?…][.!?…"'”’»)\]]*(?=\s)"""  # "!", "?!", "…"
    r"""|\.[.!?…]+["'”’»)\]]*(?=\s)"""  # "...", ".!"
    r"""|\.{not_after_abbreviation}["'”’»)\]]*(?=\s)"""  # a single "."
)
_LINE_BREAK_TAG = re.compile(r"<[bB][rR]\s*/?>")


@lru_cache(maxsize=16)
def _boundary_pattern(abbreviations: tuple[str, ...]) -> re.Pattern:
    # one fixed-width negative look-behind per abbreviation, tried only at a ".": "mr." and "e.g." end no sentence
    not_after = "".join(rf"(?<!\b{re.escape(abbreviation)}\.)" for abbreviation in abbreviations)
    return re.compile(_TERMINAL_TEMPLATE.format(not_after_abbreviation=not_after))


DEFAULT_ABBREVIATIONS = (
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "cf", "al", "approx",
    "inc", "ltd", "co", "corp", "vol", "fig", "u.s", "u.k", "a.m", "p.m", "ph.d",
)  # fmt: skip
LONG_SENTENCE_MODES = ("wrap", "cut")


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

    def _document_words(
        self, document: str, truncate: bool, with_matches: bool = False
    ) -> tuple[list[list[str]], list[list[re.Match]] | None]:
        """
        The normalised words of `document`, sentence by sentence, after wrapping and truncation; with
        `with_matches`, also their regular-expression matches (for character spans).
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
            text = _LINE_BREAK_TAG.sub(_blank, text)

        wrap = self.long_sentences == "wrap"
        limit = self.max_words if (wrap or truncate) else None
        max_sentences = self.max_sentences if truncate else None
        sentence_words, sentence_matches, start = [], [], 0
        for end in sentence_ends:
            if with_matches:
                matches = list(_WORD.finditer(text, start, end))
                words = list(map(re.Match.group, matches))
            else:
                words = _WORD.findall(text, start, end)
            start = end
            if not words:
                continue  # an empty line, or punctuation-free markup
            if per_word:
                words = [self._normalize(word) for word in words]
            if limit is None or len(words) <= limit:
                pieces = [(0, len(words))]
            elif wrap:
                pieces = [(first, first + limit) for first in range(0, len(words), limit)]
            else:
                pieces = [(0, limit)]
            for first, last in pieces:
                sentence_words.append(words[first:last])
                if with_matches:
                    sentence_matches.append(matches[first:last])
            if max_sentences is not None and len(sentence_words) >= max_sentences:
                del sentence_words[max_sentences:], sentence_matches[max_sentences:]
                break  # the rest of the document is never read
        return sentence_words, sentence_matches if with_matches else None

    def _normalize(self, word: str) -> str:
        word = unicodedata.normalize("NFKC", word)
        return word.lower() if self.lowercase else word

    def _word_to_id(self) -> dict[str, int]:
        size = self._tokenizer.get_vocab_size(with_added_tokens=True)
        if self._lookup_cache is None or self._lookup_cache[0] != size:
            self._lookup_cache = (size, self._tokenizer.get_vocab(with_added_tokens=True))
        return self._lookup_cache[1]

    def encode_document(
        self, document: str, truncation: bool = True, return_offsets: bool = True
    ) -> tuple[list[list[int]], list[list[tuple[int, int]]] | None]:
        """
        Ids `(sentences, words)` of one document and (with `return_offsets`) the character span of every word in
        it. An empty or whitespace-only document is one sentence holding `[UNK]`, spanning `(0, 0)`.
        """
        return self._encode_document(document, truncation, return_offsets, self._word_to_id().get, self.unk_token_id)

    def _encode_document(self, document, truncation, return_offsets, lookup, unk):
        sentence_words, sentence_matches = self._document_words(document, truncation, with_matches=return_offsets)
        if not sentence_words:
            return [[unk]], [[(0, 0)]] if return_offsets else None
        ids = [list(map(lookup, words, repeat(unk, len(words)))) for words in sentence_words]
        if not return_offsets:
            return ids, None
        return ids, [list(map(re.Match.span, matches)) for matches in sentence_matches]

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
        input_ids, attention_mask, offsets = [], [], []
        # The cyclic garbage collector would rescan the growing result lists again and again while nothing built
        # here can form a cycle; pausing it makes batch encoding about twice as fast.
        collecting = gc.isenabled()
        gc.disable()
        lookup, unk = self._word_to_id().get, self.unk_token_id
        try:
            for document in documents:
                ids, spans = self._encode_document(document, truncate_documents, return_offsets_mapping, lookup, unk)
                input_ids.append(ids)
                attention_mask.append([[1] * len(sentence) for sentence in ids])
                offsets.append(spans)
        finally:
            if collecting:
                gc.enable()

        encoded = {"input_ids": input_ids}
        if return_attention_mask is not False:
            encoded["attention_mask"] = attention_mask
        if return_offsets_mapping:
            encoded["offset_mapping"] = offsets
        if return_length:
            encoded["length"] = [sum(map(len, document)) for document in input_ids]

        if document_padding == PaddingStrategy.DO_NOT_PAD and return_tensors is not None:
            document_padding = PaddingStrategy.LONGEST  # a tensor needs one shape; padding never changes the logits
        if document_padding != PaddingStrategy.DO_NOT_PAD:
            shape = None
            if document_padding == PaddingStrategy.MAX_LENGTH:
                shape = (self.max_sentences, self.max_words)
            elif single and return_tensors is not None and not pad_to_multiple_of:
                # One document's tensors padded to `max_words` words stack with any other document's along the
                # sentence axis, which is how the `transformers` pipelines batch; the padding costs the model
                # nothing, since it reads only real words.
                longest = max(map(len, input_ids[0]), default=1)
                shape = (len(input_ids[0]), max(self.max_words, longest))
            encoded = pad_documents(encoded, shape=shape, pad_to_multiple_of=pad_to_multiple_of)
        elif single:
            encoded = {key: value[0] for key, value in encoded.items()}
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
    `pad_token_id`, `attention_mask` with 0, `offset_mapping` with `(0, 0)` (shape `(batch, sentences, words, 2)`).
    Other keys are stacked as they are. `shape` fixes `(sentences, words)` (longer documents are an error there:
    truncate them first); otherwise the batch's maxima are used, rounded up to `pad_to_multiple_of`.
    """
    documents = encoded["input_ids"]
    if not documents:
        raise ValueError("Cannot pad an empty batch of documents.")
    sentences_per_document = np.fromiter(map(len, documents), dtype=np.int64, count=len(documents))
    words_per_sentence = np.fromiter(chain.from_iterable(map(len, document) for document in documents), dtype=np.int64)
    num_sentences = int(sentences_per_document.max())
    num_words = int(words_per_sentence.max(initial=1))
    if shape is not None:
        if num_sentences > shape[0] or num_words > shape[1]:
            raise ValueError(
                f"A document of {num_sentences} sentences or {num_words} words does not fit the padding shape "
                f"{shape}; encode with truncation=True."
            )
        num_sentences, num_words = shape
    elif pad_to_multiple_of:
        num_sentences = -(-num_sentences // pad_to_multiple_of) * pad_to_multiple_of
        num_words = -(-num_words // pad_to_multiple_of) * pad_to_multiple_of

    # Where every real word goes, computed once for all features: (document, sentence, position) per word.
    sentence_document = np.repeat(np.arange(len(documents)), sentences_per_document)
    sentence_position = _positions_within(sentences_per_document)
    word_document = np.repeat(sentence_document, words_per_sentence)
    word_sentence = np.repeat(sentence_position, words_per_sentence)
    word_position = _positions_within(words_per_sentence)
    num_real_words = len(word_position)

    padded = {}
    for key, values in encoded.items():
        if key not in ("input_ids", "attention_mask", "offset_mapping"):
            padded[key] = values
            continue
        flat = chain.from_iterable(chain.from_iterable(values))  # every word's value, in order
        if key == "offset_mapping":
            array = np.zeros((len(documents), num_sentences, num_words, 2), dtype=np.int64)
            flat = np.fromiter(chain.from_iterable(flat), dtype=np.int64, count=2 * num_real_words)
            array[word_document, word_sentence, word_position] = flat.reshape(-1, 2)
        else:
            fill = pad_token_id if key == "input_ids" else 0
            array = np.full((len(documents), num_sentences, num_words), fill, dtype=np.int64)
            array[word_document, word_sentence, word_position] = np.fromiter(flat, np.int64, count=num_real_words)
        padded[key] = array
    return padded


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
