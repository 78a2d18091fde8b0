"""Words and sentences in any script (rules version 2), the rules of hf-han 0.1 kept for old tokenizers, and ids."""

import json
import time
import unicodedata

import pytest
import regex

from hf_han import HANSegmenter, HANTokenizer
from hf_han.text_rules_han import SENTENCE_TERMINALS, word_matcher


def words(text: str, **settings) -> list[str]:
    return [word for sentence in HANSegmenter(**settings).document_words(text)[0] for word in sentence]


def sentences(text: str, **settings) -> list[str]:
    return [text[start:end].strip() for start, end in HANSegmenter(**settings).split_sentences(text)]


# ---------------------------------------------------------------- words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("मुझे कहना है", ["मुझे", "कहना", "है"]),  # Devanagari vowel signs stay in their word
        ("كَتَبَ الولد", ["كَتَبَ", "الولد"]),  # Arabic with vowel marks
        ("می\u200cخواهم بروم", ["می\u200cخواهم", "بروم"]),  # Persian: a zero-width non-joiner inside a word
        ("ภาษาไทย", ["ภ", "า", "ษ", "า", "ไ", "ท", "ย"]),  # Thai, written without spaces: a token per character
        ("我喜欢这部电影", ["我", "喜", "欢", "这", "部", "电", "影"]),  # Han: a token per character
        ("👨\u200d👩\u200d👧 🇫🇷 👍🏽!", ["👨\u200d👩\u200d👧", "🇫🇷", "👍🏽", "!"]),  # emoji sequences stay whole
        ("שָׁלוֹם עולם", ["שָׁלוֹם", "עולם"]),  # Hebrew with points
        ("Don't stop, it's 3.5!", ["don't", "stop", ",", "it's", "3", ".", "5", "!"]),  # ASCII as in version 1
    ],
)
def test_words_by_unicode_rules(text, expected):
    assert words(text) == [unicodedata.normalize("NFKC", word) for word in expected]


def test_canonically_equivalent_spellings_get_the_same_ids():
    tokenizer = HANTokenizer().train_new_from_iterator(["café crème", "naïve"], 100, show_progress=False)
    composed, decomposed = "café naïve", unicodedata.normalize("NFD", "café naïve")
    assert decomposed != composed
    assert tokenizer(decomposed)["input_ids"] == tokenizer(composed)["input_ids"]
    assert tokenizer.unk_token_id not in tokenizer(decomposed)["input_ids"][0]
    spans = tokenizer(decomposed, return_offsets_mapping=True)["offset_mapping"][0]
    assert [decomposed[start:end] for start, end in spans] == decomposed.split()  # offsets slice the original


def test_version_1_keeps_the_words_of_hf_han_0_1():
    assert words("मुझे 我喜欢", rules_version=1) == ["म", "ु", "झ", "े", "我喜欢"]


@pytest.mark.parametrize(
    "text",
    ["मुझे कहना है। अच्छा!", "我喜欢这部电影。好！", "كَتَبَ؟ نعم", "👨\u200d👩\u200d👧 café\u0301 naïve", "ภาษาไทย ok"],
)
def test_the_tokenizers_backend_finds_the_same_words(text):
    tokenizer = HANTokenizer()
    backend = tokenizer.backend_tokenizer
    expected = [word for word, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))]
    assert tokenizer.tokenize(text) == expected


# ---------------------------------------------------------------- sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我们明天一起去看《摔跤吧！爸爸》好吗？好！", ["我们明天一起去看《摔跤吧！爸爸》好吗？", "好！"]),
        ("これはペンです。それはマーカーです。", ["これはペンです。", "それはマーカーです。"]),
        ("كيف حالك؟ أنا بخير.", ["كيف حالك؟", "أنا بخير."]),
        ("सच्चाई यह है। हो सकता है", ["सच्चाई यह है।", "हो सकता है"]),
        ("እንደምን አለህ፧መልካም ቀን ይሁንልህ።", ["እንደምን አለህ፧", "መልካም ቀን ይሁንልህ።"]),  # Amharic, no spaces
        ("کیا حال ہے؟ ميرا نام ہے۔ اچھا", ["کیا حال ہے؟", "ميرا نام ہے۔", "اچھا"]),
        ("My name is Jonas E. Smith. Hello!", ["My name is Jonas E. Smith.", "Hello!"]),  # an initial
        ("Mr. Smith paid 3.5 dollars. Then he left.", ["Mr. Smith paid 3.5 dollars.", "Then he left."]),
    ],
)
def test_sentences_in_any_script(text, expected):
    assert sentences(text) == expected


def test_the_sentence_terminals_are_unicode_s():
    terminal = regex.compile(r"\p{Sentence_Terminal}")
    listed = set(regex.findall(f"[{SENTENCE_TERMINALS}]", "".join(map(chr, range(0x110000)))))
    unicode_terminals = {chr(code) for code in range(0x110000) if terminal.match(chr(code))}
    # The installed regex may know an older Unicode than the list: compare on what it has assigned.
    unassigned = regex.compile(r"\p{Cn}")
    listed = {character for character in listed if not unassigned.match(character)}
    # the Myanmar little section is a comma; "…" and the Greek question mark end sentences too
    assert listed == (unicode_terminals - {"\u104a"}) | {"\u2026", "\u037e"}


@pytest.mark.parametrize("run", ["!", ".", "?", "…", "。", "a。", ". ", "!?"])
def test_a_megabyte_of_punctuation_encodes_in_well_under_a_second(run):
    tokenizer = HANTokenizer()
    text = run * (1_000_000 // len(run))
    start = time.perf_counter()
    tokenizer(text, return_offsets_mapping=True)
    assert time.perf_counter() - start < 0.75, run


def test_a_language_reads_sentences_by_its_rules_within_lines():
    pytest.importorskip("sentencex")
    assert sentences("Das ist z. B. gut. Ja.\nNeue Zeile! Ok", language="de") == [
        "Das ist z. B. gut.",
        "Ja.",
        "Neue Zeile!",
        "Ok",
    ]
    assert sentences("Ի՞նչ ես մտածում: Ոչինչ:", language="hy") == ["Ի՞նչ ես մտածում:", "Ոչինչ:"]
    tokenizer = HANTokenizer(language="de")
    assert len(tokenizer("Das ist z. B. gut. Ja.")["input_ids"]) == 2


def test_white_space_beside_a_capital_s_period_does_not_crash_a_language_s_rules():
    # sentencex 1.0.32 panics (a Rust panic, a BaseException) on "M\xa0." and on 18 other white-space characters
    pytest.importorskip("sentencex")
    for space in "\xa0\x85\u2009\u202f\u3000":
        document = f"Il a vu M{space}. Dupont hier. Puis il est parti{space}!"
        tokenizer = HANTokenizer(language="fr")
        spans = tokenizer.split_sentences(document)
        assert len(spans) >= 2 and document[spans[-1][0] : spans[-1][1]].endswith("!")
        assert len(tokenizer(document, return_offsets_mapping=True)["input_ids"]) == len(spans)


def test_a_language_without_sentencex_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def without_sentencex(name, *args, **kwargs):
        if name == "sentencex":
            raise ImportError("No module named 'sentencex'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_sentencex)
    with pytest.raises(ImportError, match="pip install sentencex"):
        HANSegmenter(language="de")


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"rules_version": 3}, "rules_version"), ({"language": "German"}, "ISO 639"), ({"language": 5}, "ISO 639")],
)
def test_bad_rule_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        HANSegmenter(**settings)


# ---------------------------------------------------------------- versions and saved ids


def test_new_tokenizers_save_their_rules_and_old_ones_keep_version_1(tmp_path):
    HANTokenizer().save_pretrained(tmp_path)
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["rules_version"] == 2
    assert HANTokenizer.from_pretrained(tmp_path).rules_version == 2
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    del config["rules_version"]  # as hf-han 0.1 saved it
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    assert HANTokenizer.from_pretrained(tmp_path).rules_version == 1


@pytest.mark.parametrize(
    ("vocabulary", "message"),
    [
        ({"the": 0, "[UNK]": 1, "film": 2, "[PAD]": 3}, r"must map '\[PAD\]' to 0.*maps '\[PAD\]' to 3"),
        ({"[PAD]": 0, "[UNK]": 1, "film": 3, "the": 7}, r"ids must be 0 \.\. 3, each once; ids \[2\] are missing"),
        ({"[PAD]": 0, "[UNK]": 1, "the": 1, "film": 2}, r"ids \[1\] are given to several words"),
    ],
)
def test_a_saved_vocabulary_loads_with_its_own_ids_or_not_at_all(tmp_path, vocabulary, message):
    HANTokenizer(vocab={"[PAD]": 0, "[UNK]": 1, "the": 2, "film": 3}).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "tokenizer.json").read_text())
    saved["model"]["vocab"] = vocabulary
    (tmp_path / "tokenizer.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match=message):
        HANTokenizer.from_pretrained(tmp_path)


def test_a_saved_vocabulary_in_any_key_order_keeps_its_ids(tmp_path):
    HANTokenizer(vocab={"[PAD]": 0, "[UNK]": 1, "the": 2, "film": 3}).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "tokenizer.json").read_text())
    saved["model"]["vocab"] = {"film": 2, "the": 3, "[UNK]": 1, "[PAD]": 0}  # transformers would renumber these
    (tmp_path / "tokenizer.json").write_text(json.dumps(saved))
    loaded = HANTokenizer.from_pretrained(tmp_path)
    assert loaded("film the")["input_ids"] == [[2, 3]]


def test_the_word_matcher_is_the_fastest_that_agrees():
    assert word_matcher("plain ascii", 2) is word_matcher("other ascii", 1)
    assert word_matcher("café", 2) is word_matcher("naïve", 1)  # no mark, joiner or unspaced script: version 1's
    assert word_matcher("cafe\u0301", 2) is not word_matcher("cafe\u0301", 1)
