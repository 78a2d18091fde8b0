"""Tokenizer for Hierarchical Attention Networks: raw documents to `(batch, sentences, words)` word ids."""

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from transformers.tokenization_utils_base import BatchEncoding, PaddingStrategy, TruncationStrategy
from transformers.tokenization_utils_tokenizers import TokenizersBackend
from transformers.utils import logging

from .call_options_han import CALL_ARGUMENTS, check_call_options
from .encoding_han import DocumentEncoder
from .padding_han import pad_documents
from .segmentation_han import DEFAULT_ABBREVIATIONS, HANSegmenter
from .subword_han import SentenceTemplate, train_subword_backend
from .vocabulary_han import (
    each_document,
    is_unicode_text,
    learn_word_vocabulary,
    saved_model_config,
    saved_vocabulary,
    word_level_backend,
)


logger = logging.get_logger(__name__)

VOCAB_FILES_NAMES = {"tokenizer_file": "tokenizer.json"}
# The settings of the sentence and word rules, saved in `tokenizer_config.json` and overridable per call.
SEGMENTATION_SETTINGS = (
    "max_sentences", "max_words", "long_sentences", "abbreviations", "lowercase", "rules_version", "language",
)  # fmt: skip


def _segmenter_setting(name: str) -> property:
    def get(self):
        value = getattr(self.segmenter, name)
        return list(value) if isinstance(value, tuple) else value

    def set(self, value) -> None:
        self.segmenter = self.segmenter.with_settings(**{name: value})

    return property(get, set, doc=f"The segmenter's `{name}` (see `HANSegmenter`).")


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
        rules_version (`int`, *optional*, defaults to 2):
            The word and sentence rules: 2 reads any script by Unicode (see `text_rules_han.py`); 1 is the rules
            of hf-han 0.1, which a tokenizer saved by it keeps when loaded, so that its model reads what it learnt.
        language (`str`, *optional*):
            An ISO 639 code ("de", "ja"): sentences are then found by the rules `sentencex` holds for that
            language (needs `pip install sentencex`); by default the rules are language-agnostic.

    Example:

    ```python
    >>> from hf_han import HANTokenizer

    >>> tokenizer = HANTokenizer().train_new_from_iterator(["A good film. I liked it!", "A bad film."], vocab_size=100)
    >>> encoding = tokenizer(["A good film. I liked it!"], padding=True, return_tensors="pt")
    >>> encoding["input_ids"].shape
    torch.Size([1, 2, 4])
    ```

    Subword vocabularies: `train_new_from_iterator(..., subword="wordpiece")` (or `"bpe"`, `"unigram"`) trains pieces
    of HAN's words; [`from_pretrained_tokenizer`] wraps any pretrained tokenizer (a folder or a Hub id), sentence by
    sentence, with its special tokens around each sentence for a pretrained encoder. Each "word" of
    `(batch, sentences, words)` is then a piece; explanations merge pieces back into words.
    """

    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "attention_mask"]
    call_arguments = CALL_ARGUMENTS  # what `__call__` takes besides the documents
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
        rules_version: int = 2,
        language: str | None = None,
        tokenizer_object: Tokenizer | None = None,
        sentence_special_tokens: bool = False,
        **kwargs,
    ):
        abbreviations = DEFAULT_ABBREVIATIONS if abbreviations is None else abbreviations
        unk_token, pad_token = str(unk_token), str(pad_token)
        self._encoder_cache = None
        self._template = SentenceTemplate.none()
        if tokenizer_object is not None and not isinstance(tokenizer_object.model, WordLevel):
            # Pieces of a subword model: the backend normalises the text itself, so sentences are found in it as
            # written (`lowercase` is for word-level vocabularies).
            self.segmenter = HANSegmenter(
                max_sentences, max_words, long_sentences, abbreviations, False, rules_version, language
            )
            self._tokenizer = Tokenizer.from_str(tokenizer_object.to_str())  # a copy: its settings change below
            self._tokenizer.no_truncation()
            self._tokenizer.no_padding()
            for name, token in (("pad_token", pad_token), ("unk_token", unk_token)):
                if self._tokenizer.token_to_id(token) is None:
                    raise ValueError(f"The subword vocabulary has no {name} {token!r}; name one it holds.")
            self.sentence_special_tokens = bool(sentence_special_tokens)
            self._template = SentenceTemplate.of(self._tokenizer) if sentence_special_tokens else None
            self._template = self._template or SentenceTemplate.none()
            super().__init__(
                unk_token=unk_token,
                pad_token=pad_token,
                sentence_special_tokens=self.sentence_special_tokens,
                **self._segmentation_settings(),
                **kwargs,
            )
            return
        if sentence_special_tokens:
            raise ValueError("`sentence_special_tokens` needs a subword vocabulary; a word-level one has none.")
        self.sentence_special_tokens = False
        self.segmenter = HANSegmenter(
            max_sentences, max_words, long_sentences, abbreviations, lowercase, rules_version, language
        )
        if vocab is None:
            vocab = {pad_token: 0, unk_token: 1}
        if vocab.get(pad_token) != 0 or unk_token not in vocab:
            raise ValueError(
                f"The vocabulary must map {pad_token!r} to 0 and contain {unk_token!r}; it maps {pad_token!r} to "
                f"{vocab.get(pad_token)} and {unk_token!r} to {vocab.get(unk_token)}."
            )
        invalid = [word for word in vocab if not is_unicode_text(word)]
        if invalid:
            raise ValueError(
                f"The vocabulary holds words that are not Unicode text (lone surrogates): {invalid[:3]!r}."
            )

        # The whole pipeline is rebuilt from these settings: a reload passes only the vocabulary.
        self._tokenizer = word_level_backend(vocab, unk_token, lowercase, rules_version)
        if tokenizer_object is not None:  # a word-level backend, as `tokenizers` loaded it: the vocabulary holds
            self._tokenizer = Tokenizer.from_str(tokenizer_object.to_str())
        super().__init__(unk_token=unk_token, pad_token=pad_token, **self._segmentation_settings(), **kwargs)

    # The settings live in the segmenter; setting one here rebuilds it (validated), and it is saved with the tokenizer.
    max_sentences = _segmenter_setting("max_sentences")
    max_words = _segmenter_setting("max_words")
    long_sentences = _segmenter_setting("long_sentences")
    abbreviations = _segmenter_setting("abbreviations")
    language = _segmenter_setting("language")

    # read-only: the saved `tokenizers` normaliser and pre-tokeniser depend on them
    @property
    def lowercase(self) -> bool:
        return self.segmenter.lowercase

    @property
    def rules_version(self) -> int:
        return self.segmenter.rules_version

    @property
    def is_subword(self) -> bool:
        """Whether the vocabulary holds subword pieces (each "word" of an encoding is then a piece)."""
        return not isinstance(self._tokenizer.model, WordLevel)

    # ------------------------------------------------------------------ documents -> sentences -> words

    def split_sentences(self, document: str) -> list[tuple[int, int]]:
        """Character spans `(start, end)` of the sentences of `document` (see `HANSegmenter.split_sentences`)."""
        return self.segmenter.split_sentences(document)

    def sentence_words(self, document: str, truncation: bool = False) -> list[list[str]]:
        """The normalised words of `document`, sentence by sentence."""
        return self.segmenter.document_words(document, truncation)[0]

    def tokenize(self, text: str, **kwargs) -> list[str]:
        """The normalised words (or subword pieces) of `text`, all sentences in a row, without truncation."""
        if self.is_subword:
            return self._tokenizer.encode(text, add_special_tokens=False).tokens
        return [word for words in self.segmenter.document_words(text)[0] for word in words]

    def _encoder(self) -> DocumentEncoder:
        # rebuilt when tokens are added: the lookup must know them
        size = self._tokenizer.get_vocab_size(with_added_tokens=True)
        if self._encoder_cache is None or self._encoder_cache[0] != size:
            encoder = DocumentEncoder(
                self._tokenizer, self.unk_token_id, self.pad_token_id, self.is_subword, self._template
            )
            self._encoder_cache = (size, encoder)
        return self._encoder_cache[1]

    def encode_document(
        self, document: str, truncation: bool = True, return_offsets: bool = True
    ) -> tuple[list[list[int]], list[list[tuple[int, int]]] | None]:
        """
        Ids `(sentences, words)` of one document and (with `return_offsets`) the character span of every word in
        it. An empty or whitespace-only document is one sentence holding `[UNK]`, spanning `(0, 0)`.
        """
        return self._encoder().document(document, self.segmenter, truncation, return_offsets)

    # ------------------------------------------------------------------ the transformers entry points

    def __call__(
        self,
        text: str | list[str] | None = None,
        text_pair=None,
        *,
        padding: bool | str | PaddingStrategy = False,
        truncation: bool | str | TruncationStrategy | None = None,
        return_tensors: str | None = None,
        return_attention_mask: bool | None = None,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        pad_to_multiple_of: int | None = None,
        max_sentences: int | None = None,
        max_words: int | None = None,
        long_sentences: str | None = None,
        **kwargs,
    ) -> BatchEncoding:
        """
        Encode one document (`str`) or a batch (`list[str]`) into `input_ids` and `attention_mask` of shape
        `(batch, sentences, words)`; without `return_tensors`, one document gives one document's lists.

        Args:
            padding (`bool` or `str`, *optional*, defaults to `False`):
                `True` or `"longest"`: to the batch's largest sentence count and longest sentence;
                `"max_length"`: to `max_sentences` x `max_words`; `False`: ragged lists. Tensors need one shape:
                with `return_tensors` and no `padding`, sentences are padded to the batch's largest count and
                words to `max_words` (or the longest sentence, if longer), so that the tensors of separate calls
                concatenate along the sentence axis, as the `transformers` pipelines batch. Padding never changes
                a HAN's logits.
            truncation (`bool`, *optional*, defaults to `True`):
                Keep at most `max_sentences` sentences of at most `max_words` words (see `long_sentences`).
            return_tensors (`str`, *optional*): `"pt"`, `"np"` or `None` (lists).
            return_offsets_mapping (`bool`, *optional*): a `(start, end)` character span per word.
            return_length (`bool`, *optional*): real words per document (for `group_by_length`).
            max_sentences, max_words, long_sentences (*optional*): this call's settings instead of the
                tokenizer's.
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
        if text_pair is not None:
            raise ValueError("HANTokenizer encodes single documents; pairs of texts are not supported.")
        check_call_options(kwargs)
        if return_tensors not in (None, "pt", "np"):
            raise ValueError(f"`return_tensors` must be 'pt', 'np' or None, got {return_tensors!r}.")
        segmenter = self.segmenter.with_settings(
            max_sentences=max_sentences, max_words=max_words, long_sentences=long_sentences
        )
        # `transformers` reads padding and truncation against a flat `max_length`; the caps here are
        # `max_sentences` x `max_words`, so both are decided here.
        truncate = truncation is None or truncation not in (
            False,
            "do_not_truncate",
            TruncationStrategy.DO_NOT_TRUNCATE,
        )
        if isinstance(padding, str):  # PaddingStrategy is a str enum too
            padding = PaddingStrategy(padding)
        else:
            padding = PaddingStrategy.LONGEST if padding else PaddingStrategy.DO_NOT_PAD
        return self._encode(
            [text] if isinstance(text, str) else list(text),
            segmenter,
            truncate=truncate,
            padding=padding,
            return_tensors=return_tensors,
            return_attention_mask=return_attention_mask is not False,
            return_offsets_mapping=return_offsets_mapping,
            return_length=return_length,
            pad_to_multiple_of=pad_to_multiple_of,
            single=isinstance(text, str),
        )

    def _encode_plus(self, text, text_pair=None, return_tensors=None, **kwargs) -> BatchEncoding:
        # what `PreTrainedTokenizerBase.encode` calls; their flat `max_length` strategies do not apply here
        return self(text, text_pair, return_tensors=return_tensors)

    def _encode(
        self,
        documents: list[str],
        segmenter: HANSegmenter,
        truncate: bool,
        padding: PaddingStrategy,
        return_tensors: str | None,
        return_attention_mask: bool,
        return_offsets_mapping: bool,
        return_length: bool,
        pad_to_multiple_of: int | None,
        single: bool,
    ) -> BatchEncoding:
        keys = ["input_ids"] + ["attention_mask"] * return_attention_mask
        keys += ["offset_mapping"] * return_offsets_mapping
        if padding == PaddingStrategy.DO_NOT_PAD and return_tensors is None:
            ragged = self._encoder().ragged(documents, segmenter, truncate, return_offsets_mapping)
            encoded = {key: ragged[key] for key in keys}
            if return_length:
                encoded["length"] = [sum(map(len, document)) for document in ragged["input_ids"]]
            if single:
                encoded = {key: value[0] for key, value in encoded.items()}
            return BatchEncoding(encoded)

        if padding == PaddingStrategy.MAX_LENGTH:
            shape_options = {"shape": (segmenter.max_sentences, segmenter.max_words)}
        else:  # the batch's maxima; without an explicit padding, a fixed word width (see `__call__`)
            min_words = segmenter.max_words if padding == PaddingStrategy.DO_NOT_PAD else None
            shape_options = {"min_words": min_words, "pad_to_multiple_of": pad_to_multiple_of}
        encoded, lengths = self._encoder().padded(
            documents, segmenter, truncate, return_offsets_mapping, keys, shape_options
        )
        if return_length:
            encoded["length"] = lengths
        if return_tensors == "pt":  # shared with the arrays, not copied
            try:  # (in a `try`, so that remote code needs no PyTorch where tensors are asked for as numpy)
                import torch
            except ImportError as error:
                raise ImportError("return_tensors='pt' needs PyTorch; ask for 'np' arrays without it.") from error
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
        padded = pad_documents(
            dict(encoded_inputs), shape=shape, pad_to_multiple_of=pad_to_multiple_of, pad_token_id=self.pad_token_id
        )
        return BatchEncoding(padded, tensor_type=return_tensors)

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
        if self.is_subword:  # the backend's decoder joins its pieces
            ids = [i for i in token_ids if i != self.pad_token_id]
            return self._tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
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
        subword: str | None = None,
        max_words: int | None = None,
        **kwargs,
    ) -> "HANTokenizer":
        """
        A new `HANTokenizer` with this one's settings and a vocabulary learnt from `text_iterator`.

        Words are counted with exactly the rules used for encoding. The vocabulary holds `[PAD]` (0), `[UNK]` (1)
        and then the most frequent words seen at least `min_frequency` times (as in `tokenizers`; the paper keeps
        words seen more than 5 times: `min_frequency=6`), `vocab_size` entries at most, ties broken
        alphabetically so that training is deterministic. With `subword`, a subword model of that kind learns
        pieces of the same words (`tokenizers`' trainer, with the same normalisation and word rules).

        Args:
            text_iterator (`Iterable[str]` or `Iterable[list[str]]`): documents, or batches of documents.
            vocab_size (`int`): the largest vocabulary, special tokens included.
            length (`int`, *optional*): the number of items in `text_iterator`, for the progress bar.
            min_frequency (`int`, *optional*, defaults to 1): the fewest occurrences a word (or merged pair) needs.
            show_progress (`bool`, *optional*, defaults to `True`): show a progress bar.
            subword (`str`, *optional*): `"bpe"`, `"wordpiece"` or `"unigram"` for a subword vocabulary.
            max_words (`int`, *optional*): word-level only: count the first documents' words, until this many.
        """
        from tqdm.auto import tqdm

        if vocab_size < 3:
            raise ValueError(f"`vocab_size` must leave room for a word beside [PAD] and [UNK], got {vocab_size}.")
        if subword is not None and max_words:
            raise ValueError("`max_words` applies to word-level vocabularies; a subword trainer reads every document.")
        if subword is not None:
            segmenter = replace(self.segmenter, lowercase=False)  # the backend normalises
            items = tqdm(text_iterator, total=length, desc="Training", unit="doc", disable=not show_progress)
            # documents as the encoder reads them: markup blanked, every character where it was
            texts = (segmenter.prepare(document, truncate=False)[0] for document in each_document(items))
            backend = train_subword_backend(
                subword, texts, vocab_size, min_frequency, self.pad_token, self.unk_token,
                lowercase=self.lowercase, rules_version=self.rules_version, show_progress=False,
            )  # fmt: skip
            return self.__class__(tokenizer_object=backend, **{**self._settings(), **kwargs})
        if self.is_subword:
            raise ValueError(
                "This tokenizer holds subword pieces: train a new one with `subword=...`, or a word-level one from "
                "HANTokenizer()."
            )
        with tqdm(text_iterator, total=length, desc="Counting words", unit="doc", disable=not show_progress) as items:
            specials = [self.pad_token, self.unk_token]
            vocab = learn_word_vocabulary(items, self.segmenter, specials, vocab_size, min_frequency, max_words)
        return self.__class__(vocab=vocab, **{**self._settings(), **kwargs})

    def _settings(self) -> dict:
        return {"unk_token": self.unk_token, "pad_token": self.pad_token, **self._segmentation_settings()}

    @classmethod
    def from_pretrained_tokenizer(
        cls, pretrained_model_name_or_path, sentence_special_tokens: bool = True, **kwargs
    ) -> "HANTokenizer":
        """
        A `HANTokenizer` over any pretrained tokenizer (a folder or a Hub id, loaded with `AutoTokenizer`:
        WordPiece, byte-level BPE, SentencePiece): HAN's sentences, each read by that tokenizer as it reads
        running text, with its special tokens around every sentence (`sentence_special_tokens`), as a pretrained
        encoder reading one sentence at a time expects them. Its vocabulary, ids and special tokens are kept.

        Args:
            pretrained_model_name_or_path (`str` or `os.PathLike`): the tokenizer to wrap.
            sentence_special_tokens (`bool`, *optional*, defaults to `True`): add "[CLS] ... [SEP]" (or that
                tokenizer's equivalent) around each sentence.
            kwargs: HAN's settings (`max_sentences`, `max_words`, ...) and `AutoTokenizer.from_pretrained`'s
                (`cache_dir`, `token`, `revision`, `trust_remote_code`, ...).
        """
        from transformers import AutoTokenizer

        settings = {name: kwargs.pop(name) for name in SEGMENTATION_SETTINGS if name in kwargs}
        inner = AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **kwargs)
        backend = getattr(inner, "backend_tokenizer", None)
        if backend is None:
            raise ValueError(
                f"{pretrained_model_name_or_path} has no fast (`tokenizers`) tokenizer ({type(inner).__name__}); "
                "HANTokenizer wraps fast tokenizers only."
            )
        if inner.pad_token is None or inner.unk_token is None:
            raise ValueError(
                f"{pretrained_model_name_or_path}'s tokenizer has no "
                f"{'padding' if inner.pad_token is None else 'unknown'} token, which HAN's batches need."
            )
        return cls(
            tokenizer_object=backend,
            unk_token=inner.unk_token,
            pad_token=inner.pad_token,
            sentence_special_tokens=sentence_special_tokens,
            **settings,
        )

    def save_pretrained(self, save_directory, *args, **kwargs):
        """As `transformers` saves a tokenizer, with its code for `trust_remote_code=True` in one file."""
        files = super().save_pretrained(save_directory, *args, **kwargs)
        if self._auto_class is not None and os.path.isdir(save_directory):
            from .remote_code_han import fold_saved_code

            fold_saved_code(save_directory)
        return files

    def _segmentation_settings(self) -> dict:
        return {name: getattr(self, name) for name in SEGMENTATION_SETTINGS}

    def check_model_compatibility(self, config) -> None:
        """
        Raise a `ValueError` unless a model with `config` (a config, a config dict or a model) reads this tokenizer's
        ids: the same number of words as its embedding rows, and the same padding id.
        """
        config = getattr(config, "config", config)
        get = config.get if isinstance(config, dict) else lambda name, default=None: getattr(config, name, default)
        if get("vocab_size") != len(self):
            raise ValueError(
                f"The tokenizer has {len(self):,} words but the model's vocab_size is {get('vocab_size'):,}: they "
                "were not trained together. Use the tokenizer saved with the model (tokenizer.save_pretrained in "
                "the model's folder)."
            )
        if get("pad_token_id", 0) != self.pad_token_id:
            raise ValueError(
                f"The tokenizer pads with id {self.pad_token_id}, the model with config.pad_token_id="
                f"{get('pad_token_id')}: they were not trained together."
            )

    @classmethod
    def convert_to_native_format(cls, trust_remote_code=False, **kwargs):
        # `transformers` renumbers a word-level vocabulary by the order of its keys on load, which would silently
        # change the ids the model was trained with: they are read from the file as they are, and checked.
        path = kwargs.get("tokenizer_file")
        model = {}
        if isinstance(path, str) and os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                model = json.load(handle).get("model", {})
        if model and model.get("type") != "WordLevel":
            # a subword model is used whole, as saved: `transformers` would rebuild it as its own class expects
            options = {name: value for name, value in kwargs.items() if name != "tokenizer_file"}
            return {**options, "tokenizer_object": Tokenizer.from_file(path)}
        converted = super().convert_to_native_format(trust_remote_code=trust_remote_code, **kwargs)
        if model:
            converted["vocab"] = saved_vocabulary(model.get("vocab", {}), path)
        return converted

    @classmethod
    def _from_pretrained(cls, resolved_vocab_files, pretrained_model_name_or_path, *args, **kwargs):
        # Without its vocabulary file the base class would build an empty tokenizer (2 words) and every document
        # would read as [UNK]: a model folder saved without its tokenizer must fail here, not predict.
        if resolved_vocab_files.get("tokenizer_file") is None:
            raise OSError(
                f"{pretrained_model_name_or_path} has no tokenizer files (tokenizer.json): save the tokenizer with "
                "the model (tokenizer.save_pretrained(folder)), or load it from where it was saved."
            )
        saved = {}
        if resolved_vocab_files.get("tokenizer_config_file") is not None:
            with open(resolved_vocab_files["tokenizer_config_file"], encoding="utf-8") as handle:
                saved = json.load(handle)
        if saved.get("tokenizer_class", "HANTokenizer") != "HANTokenizer" and "max_sentences" not in saved:
            # another library's tokenizer (BERT's WordPiece, a SentencePiece model): read as its own pieces, not as
            # a word-level vocabulary of its entries
            logger.info(f"{pretrained_model_name_or_path} holds a {saved['tokenizer_class']}: HANTokenizer wraps it.")
            options = {
                name: kwargs[name] for name in (*SEGMENTATION_SETTINGS, "sentence_special_tokens") if name in kwargs
            }
            for name in ("token", "cache_dir", "local_files_only", "revision", "subfolder"):
                if kwargs.get(name) is not None:
                    options[name] = kwargs[name]
            return cls.from_pretrained_tokenizer(pretrained_model_name_or_path, **options)
        # A tokenizer saved before the rules had versions read text by version 1; it keeps doing so.
        if saved and "rules_version" not in saved and "rules_version" not in kwargs:
            kwargs["rules_version"] = 1
        tokenizer = super()._from_pretrained(resolved_vocab_files, pretrained_model_name_or_path, *args, **kwargs)
        # A HAN saved beside the tokenizer must read its ids; this covers every loader of the pair (the pipelines,
        # AutoTokenizer, remote code), whether by folder or repository id.
        config = saved_model_config(pretrained_model_name_or_path, resolved_vocab_files, kwargs)
        if config is not None and config.get("model_type") == "han":
            try:
                tokenizer.check_model_compatibility(config)
            except ValueError as error:
                raise ValueError(f"{pretrained_model_name_or_path}: {error}") from None
        return tokenizer


def _to_list(ids):
    if hasattr(ids, "tolist"):
        return ids.tolist()
    return [_to_list(item) for item in ids] if isinstance(ids, (list, tuple)) else ids


__all__ = ["HANTokenizer", "pad_documents"]
