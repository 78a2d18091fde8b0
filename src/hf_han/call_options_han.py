"""
What `HANTokenizer.__call__` takes besides the documents, and the refusal of everything else: an option that
`transformers` defines for flat sequences is accepted only at the value that means "nothing to do", and a misspelt
one is an error that names the closest right one, so that no option is silently ignored.
"""

import difflib


# Arguments of `PreTrainedTokenizerBase.__call__` about flat sequences: accepted at the value that means "nothing to
# do", refused otherwise with the reason. Generic code passes some of them (`encode`, pipelines).
_FLAT_SEQUENCE_OPTIONS = {
    "max_length": ((None,), "HAN documents are capped by `max_sentences` and `max_words`; pass those instead"),
    "stride": ((0,), "HAN truncates documents by sentences; there are no overflowing windows"),
    "is_split_into_words": ((False,), "HANTokenizer splits documents itself; pass raw text"),
    "return_overflowing_tokens": ((False,), "HAN truncates documents by sentences; there are no overflowing windows"),
    "return_special_tokens_mask": ((False,), "HAN word ids hold no special tokens"),
    "return_token_type_ids": ((None, False), "HAN inputs have no token types"),
    "padding_side": ((None, "right"), "HAN pads on the right; the model ignores padding anywhere"),
    "text_target": ((None,), "HANTokenizer encodes documents, not targets"),
    "text_pair_target": ((None,), "HANTokenizer encodes single documents"),
}
_IGNORED_OPTIONS = ("add_special_tokens", "verbose", "split_special_tokens")  # nothing to add, nothing to say
CALL_ARGUMENTS = (
    "padding", "truncation", "return_tensors", "return_attention_mask", "return_offsets_mapping", "return_length",
    "pad_to_multiple_of", "max_sentences", "max_words", "long_sentences",
)  # fmt: skip


def check_call_options(options: dict) -> None:
    """Refuse what `HANTokenizer.__call__` would otherwise ignore: unknown or misspelt options, flat-sequence ones."""
    for name, value in options.items():
        if name in _IGNORED_OPTIONS:
            continue
        if name in _FLAT_SEQUENCE_OPTIONS:
            allowed, reason = _FLAT_SEQUENCE_OPTIONS[name]
            if value not in allowed:
                raise ValueError(f"HANTokenizer does not take `{name}={value!r}`: {reason}.")
            continue
        hint = ""
        if name == "explain":
            hint = " Explanations come from pipeline('document-classification', ...)(text, explain=True)."
        elif close := difflib.get_close_matches(name, CALL_ARGUMENTS, n=1):
            hint = f" Did you mean `{close[0]}`?"
        raise TypeError(
            f"HANTokenizer got an unexpected argument `{name}`.{hint} It takes the documents and "
            + ", ".join(f"`{argument}`" for argument in CALL_ARGUMENTS)
            + "."
        )
