"""
Word-level vocabularies: the `tokenizers` backend that holds one (HAN's normaliser and word rules around a
`WordLevel` model), learning one from documents, and reading one back from a saved folder exactly as saved.
"""

import json
import os
from collections import Counter
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from transformers.utils import logging

from .segmentation_han import HANSegmenter
from .text_rules_han import word_pattern


logger = logging.get_logger(__name__)


def word_level_backend(vocab: dict[str, int], unk_token: str, lowercase: bool, rules_version: int) -> Tokenizer:
    """
    A `tokenizers` backend for `vocab` that reads words as HAN does (NFKC, optionally lower case, the word pattern of
    `rules_version`), so that `tokenize`, `convert_tokens_to_ids` and the saved `tokenizer.json` agree with HAN.
    """
    backend = Tokenizer(WordLevel(vocab=dict(vocab), unk_token=unk_token))
    backend.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Lowercase()] if lowercase else [normalizers.NFKC()]
    )
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Split(Regex(word_pattern(rules_version)), behavior="isolated"),
        ]
    )
    return backend


def learn_word_vocabulary(
    documents: Iterable[str] | Iterable[list[str]],
    segmenter: HANSegmenter,
    specials: list[str],
    vocab_size: int,
    min_frequency: int,
    max_words: int | None = None,
) -> dict[str, int]:
    """
    `specials` (ids 0, 1, ...), then the words of `documents` (or of batches of documents) seen at least
    `min_frequency` times, most frequent first, ties alphabetically (deterministic), `vocab_size` entries at most.
    Words are counted with `segmenter`, the rules used for encoding. With `max_words`, counting stops after the
    document in which the count reaches it (the rest of `documents` is not read).
    """
    if max_words is not None and (isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 0):
        raise ValueError(f"`max_words` must be a number of words (0 or None: every document), got {max_words!r}.")
    counts, seen = Counter(), 0
    for document in each_document(documents):
        for words in segmenter.document_words(document)[0]:
            counts.update(words)
            seen += len(words)
        if max_words and seen >= max_words:
            logger.info(f"Vocabulary counted from the first {seen:,} words (max_words={max_words:,}).")
            break
    for special in specials:
        counts.pop(special, None)
    # a lone surrogate (from a "\ud800" escape) is no Unicode text: no vocabulary file can hold it
    invalid = [word for word in counts if not is_unicode_text(word)]
    for word in invalid:
        del counts[word]
    if invalid:
        logger.warning(f"{len(invalid)} words with lone surrogates (not Unicode text) left out: they read as [UNK].")
    kept = sorted((item for item in counts.items() if item[1] >= min_frequency), key=lambda kv: (-kv[1], kv[0]))
    words = specials + [word for word, _ in kept[: vocab_size - len(specials)]]
    logger.info(f"Vocabulary of {len(words)} words from {len(counts)} distinct words (min_frequency={min_frequency}).")
    return {token: i for i, token in enumerate(words)}


def each_document(items: Iterable[str] | Iterable[list[str]]):
    """The documents of `items`, which holds documents or batches (lists) of documents."""
    for item in items:
        yield from [item] if isinstance(item, str) else item


def saved_vocabulary(vocabulary: dict, path: str) -> dict[str, int]:
    """A saved word-level vocabulary as it is: ids 0 .. n-1, each once; anything else is refused."""
    ids = sorted(vocabulary.values())
    if any(not isinstance(i, int) or isinstance(i, bool) for i in ids) or ids != list(range(len(ids))):
        repeated = sorted({i for i in ids if ids.count(i) > 1})[:5] if len(set(ids)) < len(ids) else []
        missing = sorted(set(range(len(ids))) - set(ids))[:5]
        raise ValueError(
            f"{path}: the vocabulary's ids must be 0 .. {len(ids) - 1}, each once"
            + (f"; ids {repeated} are given to several words" if repeated else "")
            + (f"; ids {missing} are missing" if missing else "")
            + ". Fix the file: a renumbered vocabulary would give the model other words than it learnt."
        )
    return dict(vocabulary)


def is_unicode_text(word: str) -> bool:
    try:
        word.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def saved_model_config(location, resolved_vocab_files: dict, options: dict) -> dict | None:
    """The `config.json` saved beside a tokenizer being loaded, as a dict, or `None` where there is none."""
    from transformers.utils import cached_file

    folder = os.path.dirname(next((path for path in resolved_vocab_files.values() if path), ""))
    path = os.path.join(folder, "config.json") if folder else None
    if path is None or not os.path.isfile(path):
        try:  # a repository whose config.json is not downloaded yet
            path = cached_file(
                location,
                "config.json",
                cache_dir=options.get("cache_dir"),
                token=options.get("token"),
                local_files_only=options.get("local_files_only", False),
                revision=options.get("_commit_hash"),
                subfolder=options.get("subfolder", ""),
                _raise_exceptions_for_missing_entries=False,
            )
        except Exception as error:  # no network, no such repository: nothing to compare with
            logger.debug(f"No model config beside the tokenizer at {location}: {error}")
            return None
    if path is None or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
