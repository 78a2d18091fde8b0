"""
The rules that find words and sentence boundaries in raw text, by version. A saved tokenizer names its version, so
that text always reads as it did when its model was trained.

- Version 1 (hf-han 0.1): words are runs of `\\w` with inner apostrophes, every other visible character is a word of
  its own; sentences end at ".", "!", "?" or "…" followed by white space (except a "." after an abbreviation), at
  line breaks and at HTML line breaks.
- Version 2 (the default): the same on ASCII text, and by Unicode beyond it. A word keeps its combining marks and
  joiners ("मुझे", "كَتَبَ", "می‌خواهم"), emoji sequences stay whole, and Han, kana, Thai, Lao, Khmer, Myanmar and
  Tibetan, written without spaces, give one token per character. Sentences end at every Unicode sentence terminal
  (`Sentence_Terminal`: "。", "؟", "।", "։", "።", "။", ...), the full-width and unspaced ones without a space after
  them, and not after a single-letter initial ("J. Smith"). Every pattern runs in linear time, also on runs of
  punctuation.
"""

import re
import unicodedata
from functools import lru_cache

import numpy as np


RULES_VERSIONS = (1, 2)

# ---------------------------------------------------------------------------------------------------- words

# Version 1; on text without the characters of `_version_2_differs`, version 2 finds exactly these words.
WORD_PATTERN = r"\w+(?:['’]\w+)*|[^\w\s]"
_WORD = re.compile(WORD_PATTERN)

# Python's white space (`str.isspace`), spelled out so that both regular-expression engines below agree with `re`.
_WHITE_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# What stays with the character before it: combining marks, the zero-width (non-)joiners, variation selectors and
# emoji skin tones.
_EXTEND = "\\p{M}\u200c\u200d\ufe0e\ufe0f\U0001f3fb-\U0001f3ff"
_EXTEND_EMOJI = _EXTEND.replace("\u200d", "")  # within an emoji sequence the joiner links to the next emoji
# Scripts written without spaces between words: one token per character (with its marks).
_UNSPACED = "\\p{Han}\\p{Hiragana}\\p{Katakana}\\p{Thai}\\p{Lao}\\p{Khmer}\\p{Myanmar}\\p{Tibetan}"
_LETTER = f"[[\\p{{L}}\\p{{N}}_]&&[^{_UNSPACED}]][{_EXTEND}]*"
# Version 2, in a syntax that both the `regex` module (with its VERSION1 flag) and the `tokenizers` library
# (Oniguruma) read the same way: a word, an unspaced character, an emoji (sequence) or any other visible character.
WORD_PATTERN_V2 = (
    f"(?:{_LETTER})+(?:['’](?:{_LETTER})+)*"
    f"|[{_UNSPACED}][{_EXTEND}]*"
    f"|\\p{{Regional_Indicator}}{{2}}"
    f"|\\p{{Extended_Pictographic}}[{_EXTEND_EMOJI}]*(?:\u200d\\p{{Extended_Pictographic}}[{_EXTEND_EMOJI}]*)*"
    f"|[^{_WHITE_SPACE}][{_EXTEND}]*"
)


def word_pattern(version: int) -> str:
    """The word pattern of a rules version, as the `tokenizers` pre-tokeniser reads it."""
    return WORD_PATTERN if version == 1 else WORD_PATTERN_V2


@lru_cache(maxsize=1)
def _word_v2():
    import regex  # a dependency of transformers; its Unicode properties are what `re` lacks

    return regex.compile(WORD_PATTERN_V2, flags=regex.VERSION1)


@lru_cache(maxsize=1)
def _version_2_differs() -> re.Pattern:
    """
    The characters on which the two versions may find different words: marks, joiners, variation selectors, skin
    tones, regional indicators and the unspaced scripts. Text without them is read with the faster `re` pattern of
    version 1, which then finds the same words. A superset is harmless (it only costs speed), so the scripts are
    taken by their Unicode blocks.
    """
    marks = [code for code in range(0x300, 0x20000) if unicodedata.category(chr(code)).startswith("M")]
    marks += list(range(0xE0100, 0xE01F0))  # variation selectors supplement
    ranges, start, previous = [], marks[0], marks[0]
    for code in marks[1:] + [-1]:
        if code != previous + 1:
            ranges.append((start, previous))
            start = code
        previous = code
    characters = "".join(
        f"{re.escape(chr(low))}-{re.escape(chr(high))}" if high > low else re.escape(chr(low))
        for low, high in ranges
        if high < 0x10000
    )
    blocks = (
        "\u200c\u200d\ufe00-\ufe0f"  # joiners, variation selectors
        "\u0e00-\u0fff\u1000-\u109f\u1780-\u17ff\u19e0-\u19ff\ua9e0-\ua9ff\uaa60-\uaa7f"  # Thai ... Myanmar, Khmer
        "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303b\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
        "\uf900-\ufaff\uff66-\uff9f"  # Han, kana
    )
    # `re` tests characters beyond the Basic Multilingual Plane slowly: a text is searched for those only when it
    # holds any (the search for that one range is fast)
    return re.compile(f"[{characters}{blocks}]|[\U00010000-\U0010ffff]")


def word_matcher(text: str, version: int):
    """
    The compiled word pattern to read `text` by the rules of `version` (`findall`, `finditer` with positions): the
    fastest one that finds the words that version defines.
    """
    if text.isascii():
        return _ASCII_WORD
    if version == 2 and _version_2_differs().search(text):
        return _word_v2()
    return _WORD


def needs_version_2_pattern(text: str) -> bool:
    """Whether version 2 may read `text` differently from version 1 (so that `word_spans` does not apply)."""
    return not text.isascii() and _version_2_differs().search(text) is not None


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
    Start and end offsets `(n,)` of the matches of `WORD_PATTERN` (version 1) in `text`, in order: the spans
    `re.finditer` would give, computed in bulk from character classes.
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


# ---------------------------------------------------------------------------------------------------- sentences

# Both versions are matched on lower-cased text (so that "Mr." and "mr." are both abbreviations), and a sentence ends
# where a match ends. Every alternative starts with a literal or a small character class, so that the engine skips
# ahead to candidate characters, and the abbreviations are checked only at a "." that is followed by white space.

# Version 1: newlines, HTML line breaks, and ".", "!", "?", "…" (with closing quotes or brackets) followed by white
# space, except a single "." after an abbreviation. Decimals ("3.5") never match: no space follows their point.
_CLOSERS = r"""["'”’»)\]]*"""
_TERMINAL_TEMPLATE = (
    r"""\n|<br\s*/?>"""  # line breaks
    r"""|![.!?…"'”’»)\]]*(?=\s)|\?[.!?…"'”’»)\]]*(?=\s)|…[.!?…"'”’»)\]]*(?=\s)"""  # "!", "?!", "…"
    rf"|\.[.!?…]+{_CLOSERS}(?=\s)"  # "...", ".!"
    rf"|\.(?={_CLOSERS}\s){{not_after_abbreviation}}{_CLOSERS}"  # a single "."
)

# Version 2. The sentence terminals of Unicode (the property Sentence_Terminal, Unicode 16), with "…" and the Greek
# question mark, without the Myanmar little section (a comma); `tests/test_text_rules.py` checks the list against the
# `regex` module's property.
SENTENCE_TERMINALS = (
    "!.?\u037e\u0589\u061d-\u061f\u06d4\u0700-\u0702\u07f9\u0837\u0839\u083d\u083e\u0964\u0965\u104b\u1362"
    "\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5\u1803\u1809\u1944\u1945\u1aa8-\u1aab\u1b4e\u1b4f\u1b5a\u1b5b"
    "\u1b5e\u1b5f\u1b7d-\u1b7f\u1c3b\u1c3c\u1c7e\u1c7f\u2024\u2026\u203c\u203d\u2047-\u2049\u2cf9-\u2cfb\u2e2e"
    "\u2e3c\u2e53\u2e54\u2e60\u2e61\u3002\ua4ff\ua60e\ua60f\ua6f3\ua6f7\ua876\ua877\ua8ce\ua8cf\ua92f\ua9c8\ua9c9"
    "\uaa5d-\uaa5f\uaaf0\uaaf1\uabeb\ufe12\ufe15\ufe16\ufe52\ufe56\ufe57\uff01\uff0e\uff1f\uff61"
    "\U00010a56\U00010a57\U00010f55-\U00010f59\U00010f86-\U00010f89\U00011047\U00011048\U000110be-\U000110c1"
    "\U00011141-\U00011143\U000111c5\U000111c6\U000111cd\U000111de\U000111df\U00011238\U00011239"
    "\U0001123b\U0001123c\U000112a9\U000113d4\U000113d5\U0001144b\U0001144c\U000115c2\U000115c3"
    "\U000115c9-\U000115d7\U00011641\U00011642\U0001173c-\U0001173e\U00011944\U00011946\U00011a42\U00011a43"
    "\U00011a9b\U00011a9c\U00011c41\U00011c42\U00011ef7\U00011ef8\U00011f43\U00011f44\U00016a6e\U00016a6f"
    "\U00016af5\U00016b37\U00016b38\U00016b44\U00016d6e\U00016d6f\U00016e98\U0001bc9f\U0001da88"
)
# Terminals of scripts written without spaces (Chinese, Japanese, Amharic, Burmese): a sentence ends there whatever
# follows, unless inside brackets (《摔跤吧！爸爸》 is a title, not two sentences).
_UNSPACED_TERMINALS = "\u3002\uff01\uff1f\uff61\ufe12\ufe56\ufe57\u1362\u1367\u1368\u104b"
_CJK_BRACKETS = "\u300a\u300c\u300e\uff08\u3010\u3008\u3014\u3016\u3018\u301a\uff62"
_CJK_CLOSING = "\u300b\u300d\u300f\uff09\u3011\u3009\u3015\u3017\u3019\u301b\uff63"
_CLOSERS_V2 = "\"'\u201c\u201d\u2019\u00bb\u203a)\\]}" + _CJK_CLOSING


def _version_2_template(terminal_characters: str) -> str:
    """
    Version 2's boundaries as one character class of every possible first character (a line break, "<", a
    terminal), then the alternatives for the rest, each looking behind at the character that began the match. A
    pattern that starts with a class lets `re` search for its characters in C and try the rest only there; one that
    starts with a look-behind or an alternation of classes is tried at every position (100 times slower on IMDB).
    The look-behind `not_after_terminal` starts a run of terminals at its first character only, which keeps the
    search linear on runs of punctuation.
    """
    # (the terminals of the Basic Multilingual Plane, or all: a class with characters beyond it is slower to test)
    terminals, closers = f"[{terminal_characters}]", f"[{_CLOSERS_V2}]*"
    not_after_terminal = f"(?<!{terminals}.)"
    unspaced = f"[{_UNSPACED_TERMINALS}]"
    inside_brackets = f"[^{_CJK_BRACKETS}{_CJK_CLOSING}{_UNSPACED_TERMINALS}\\n]{{0,80}}[{_CJK_CLOSING}]"
    # the alternatives exclude each other (by the character that began the match): the most frequent go first
    return (
        f"[\\n<{terminal_characters}](?:"
        # a single ".", not after an abbreviation nor after a one-letter initial ("j. smith"; "i." is the pronoun)
        f"(?<=\\.){not_after_terminal}(?=[{_CLOSERS_V2}]*\\s){{not_after_abbreviation}}(?<!\\b[^\\W\\d_i]\\.)"
        f"{closers}"
        # "..." or ".!" before white space
        f"|(?<=\\.){not_after_terminal}{terminals}+{closers}(?=\\s)"
        "|(?<=\\n)"
        # any other terminal (and the run it starts) before white space
        f"|(?<=[{terminal_characters.replace('!.?', '!?')}]){not_after_terminal}{terminals}*{closers}(?=\\s)"
        "|(?<=<)br\\s*/?>"
        # unspaced terminals: whatever follows, but not inside brackets (looking at most 80 characters ahead)
        f"|(?<={unspaced}){not_after_terminal}{terminals}*{closers}(?!{inside_brackets})"
        ")"
    )


# the terminals and ranges of terminals that lie in the Basic Multilingual Plane
_BASIC_PLANE_TERMINALS = "".join(
    part for part in re.findall(".-.|.", SENTENCE_TERMINALS, flags=re.DOTALL) if part[0] <= "\uffff"
)


@lru_cache(maxsize=16)
def boundary_pattern(abbreviations: tuple[str, ...], version: int, supplementary: bool = False) -> re.Pattern:
    """
    The sentence-boundary pattern of `version`, with these lower-cased abbreviations. Version 2 searches faster
    without the terminals beyond the Basic Multilingual Plane (`re` tests those slowly); `supplementary` adds them,
    for the texts that hold such characters (see `find_boundaries`).
    """
    # "mr." and "e.g." end no sentence: one fixed-width negative look-behind per abbreviation length
    by_length = {}
    for abbreviation in abbreviations:
        by_length.setdefault(len(abbreviation), []).append(re.escape(abbreviation))
    not_after = "".join(rf"(?<!\b(?:{'|'.join(group)})\.)" for _, group in sorted(by_length.items()))
    if version == 1:
        template = _TERMINAL_TEMPLATE
    else:
        template = _version_2_template(SENTENCE_TERMINALS if supplementary else _BASIC_PLANE_TERMINALS)
    return re.compile(template.replace("{not_after_abbreviation}", not_after))


SUPPLEMENTARY_CHARACTER = re.compile("[\U00010000-\U0010ffff]")


def find_boundaries(text: str, abbreviations: tuple[str, ...], version: int):
    """The sentence boundaries (matches) in lower-cased `text`, by the rules of `version`."""
    if version == 2 and not text.isascii() and SUPPLEMENTARY_CHARACTER.search(text) is not None:
        return boundary_pattern(abbreviations, version, True).finditer(text)
    return boundary_pattern(abbreviations, version).finditer(text)


LINE_BREAK = re.compile(r"\n|<br\s*/?>")  # boundaries of every version, also where a language's rules decide


__all__ = [
    "LINE_BREAK",
    "RULES_VERSIONS",
    "SENTENCE_TERMINALS",
    "SUPPLEMENTARY_CHARACTER",
    "WORD_PATTERN",
    "WORD_PATTERN_V2",
    "boundary_pattern",
    "find_boundaries",
    "needs_version_2_pattern",
    "word_matcher",
    "word_pattern",
    "word_spans",
]
