"""Behaviour of HANTokenizer and DataCollatorForDocumentClassification that users rely on."""

import gc
import json
import os
import subprocess
import sys
import textwrap
import weakref

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from hf_han import DataCollatorForDocumentClassification, HANConfig, HANForDocumentClassification, HANTokenizer
from hf_han.padding_han import pad_documents


CORPUS = [
    "Mr. Smith paid 3.5 dollars for the ticket. The film was great!",
    "I did not like it.<br /><br />The plot was thin, the acting worse. Would I watch it again? No.",
    "A good film. A bad film. A film about films.\nSeen in the U.S. in 2019.",
    "it's a film it's good it's fun and the plot is great and the acting is fine",
]


@pytest.fixture(scope="module")
def tokenizer() -> HANTokenizer:
    return HANTokenizer(max_sentences=6, max_words=8).train_new_from_iterator(
        CORPUS, vocab_size=200, show_progress=False
    )


def sentences_of(tokenizer: HANTokenizer, document: str) -> list[str]:
    return [document[start:end].strip() for start, end in tokenizer.split_sentences(document)]


# ---------------------------------------------------------------- sentence splitting


def test_terminal_punctuation_splits_but_abbreviations_and_decimals_do_not(tokenizer):
    document = "Mr. Smith paid 3.5 dollars. Dr. Jones e.g. did not! Did the U.S. Army care? Yes."
    assert sentences_of(tokenizer, document) == [
        "Mr. Smith paid 3.5 dollars.",
        "Dr. Jones e.g. did not!",
        "Did the U.S. Army care?",
        "Yes.",
    ]


def test_newlines_and_html_line_breaks_split_and_markup_is_not_a_word(tokenizer):
    document = "First line\nsecond line<br />third line<br/><BR>fourth"
    assert sentences_of(tokenizer, document) == ["First line", "second line", "third line", "fourth"]
    assert tokenizer.sentence_words(document) == [["first", "line"], ["second", "line"], ["third", "line"], ["fourth"]]


def test_closing_quotes_and_brackets_stay_with_their_sentence(tokenizer):
    document = '"Great!" she said. (Really.) Yes... no?! Ok'
    assert sentences_of(tokenizer, document) == ['"Great!"', "she said.", "(Really.)", "Yes...", "no?!", "Ok"]


def test_abbreviations_are_configurable_and_saved(tmp_path):
    custom = HANTokenizer(abbreviations=["approx", "Fig."])
    assert sentences_of(custom, "See fig. 3 for it. Mr. X came.") == ["See fig. 3 for it.", "Mr.", "X came."]
    custom.save_pretrained(tmp_path)
    reloaded = HANTokenizer.from_pretrained(tmp_path)
    assert reloaded.abbreviations == ["approx", "fig"]
    assert sentences_of(reloaded, "See fig. 3 for it. Mr. X came.") == ["See fig. 3 for it.", "Mr.", "X came."]


def test_text_without_punctuation_is_wrapped_into_sentences_by_default():
    words = " ".join(f"w{i}" for i in range(23))
    wrap = HANTokenizer(max_words=10)
    assert [len(sentence) for sentence in wrap.sentence_words(words)] == [10, 10, 3]
    cut = HANTokenizer(max_words=10, long_sentences="cut")
    assert [len(sentence) for sentence in cut.sentence_words(words, truncation=True)] == [10]
    assert [len(sentence) for sentence in cut.sentence_words(words, truncation=False)] == [23]  # keeps the text


def test_unicode_and_emoji_are_words_and_normalised(tokenizer):
    document = "Ｆｕｌｌ width CAFÉ 😀 naïve. ÉTÉ!"
    assert tokenizer.sentence_words(document) == [["full", "width", "café", "😀", "naïve", "."], ["été", "!"]]
    encoding = tokenizer(document, return_offsets_mapping=True)
    spans = [span for sentence in encoding["offset_mapping"] for span in sentence]
    assert [document[start:end] for start, end in spans] == [
        "Ｆｕｌｌ",
        "width",
        "CAFÉ",
        "😀",
        "naïve",
        ".",
        "ÉTÉ",
        "!",
    ]


def test_the_python_encoder_agrees_with_the_tokenizers_pipeline(tokenizer):
    """`tokenize` (the fast Python path) and the saved `tokenizers` pipeline give the same words."""
    backend = tokenizer.backend_tokenizer
    for document in CORPUS + ["Ｆｕｌｌ width CAFÉ 😀 naïve. ÉTÉ! don't (x) 1,000"]:
        text = document.replace("<br />", " ")
        normalized = backend.normalizer.normalize_str(text)
        expected = [word for word, _ in backend.pre_tokenizer.pre_tokenize_str(normalized)]
        assert tokenizer.tokenize(document) == expected


def test_very_long_documents_are_truncated_quickly(tokenizer):
    import time

    document = "This sentence is here. " * 200_000  # 4.6 MB
    start = time.perf_counter()
    ids = tokenizer(document)["input_ids"]
    assert time.perf_counter() - start < 2.0  # words past the kept sentences are never read
    assert len(ids) == tokenizer.max_sentences and all(len(sentence) == 5 for sentence in ids)
    untruncated = tokenizer(document[: 23 * 1000], truncation=False)["input_ids"]
    assert len(untruncated) == 1000


# ---------------------------------------------------------------- encoding


def test_batch_encoding_shapes_and_tensor_types(tokenizer):
    pt = tokenizer(CORPUS, padding=True, return_tensors="pt")
    assert set(pt) == {"input_ids", "attention_mask"}
    assert pt["input_ids"].dim() == 3 and pt["input_ids"].dtype == torch.long
    assert pt["input_ids"].shape == pt["attention_mask"].shape
    assert pt["input_ids"].shape[1] <= tokenizer.max_sentences and pt["input_ids"].shape[2] <= tokenizer.max_words
    np_encoding = tokenizer(CORPUS, padding="max_length", return_tensors="np")
    assert isinstance(np_encoding["input_ids"], np.ndarray)
    assert np_encoding["input_ids"].shape == (len(CORPUS), tokenizer.max_sentences, tokenizer.max_words)
    ragged = tokenizer(CORPUS)
    assert isinstance(ragged["input_ids"], list) and isinstance(ragged["input_ids"][0][0], list)
    single = tokenizer(CORPUS[0])
    assert single["input_ids"] == ragged["input_ids"][0]
    # padding is 0 with a 0 mask, and the mask marks exactly the real words
    assert torch.all(pt["input_ids"][pt["attention_mask"] == 0] == tokenizer.pad_token_id)
    assert pt["attention_mask"].sum().item() == sum(len(s) for d in ragged["input_ids"] for s in d)


def test_one_document_and_a_one_document_batch_encode_alike(tokenizer):
    document = "A good film. The plot was thin!"
    for options in ({"return_tensors": "pt"}, {"return_tensors": "np", "padding": True}, {"padding": "max_length"}):
        single, batch = tokenizer(document, **options), tokenizer([document], **options)
        assert set(single) == set(batch)
        for key in single:
            assert np.asarray(single[key]).shape == np.asarray(batch[key]).shape, (options, key)
            assert np.array_equal(np.asarray(single[key]), np.asarray(batch[key]))
    # without padding, tensors have a fixed word width, so that separate calls stack (as the pipelines batch)
    assert tokenizer(document, return_tensors="pt")["input_ids"].shape == (1, 2, tokenizer.max_words)
    assert tokenizer(CORPUS, return_tensors="pt")["input_ids"].shape[2] == tokenizer.max_words
    assert tokenizer(CORPUS, padding=True, return_tensors="pt")["input_ids"].shape[2] <= tokenizer.max_words
    # without tensors, one document is one document's lists
    assert tokenizer(document)["input_ids"] == tokenizer([document])["input_ids"][0]


def test_settings_set_on_the_tokenizer_are_validated_and_saved(tokenizer, tmp_path):
    configured = HANTokenizer(vocab=tokenizer.get_vocab())
    configured.max_words, configured.abbreviations = 3, ["Approx."]
    assert configured.segmenter.max_words == 3 and configured.abbreviations == ["approx"]
    assert all(len(sentence) <= 3 for sentence in configured("One two three four five.")["input_ids"])
    with pytest.raises(ValueError, match="max_sentences"):
        configured.max_sentences = 0
    configured.save_pretrained(tmp_path)
    reloaded = HANTokenizer.from_pretrained(tmp_path)
    assert (reloaded.max_words, reloaded.abbreviations) == (3, ["approx"])


def test_per_call_caps_and_lengths(tokenizer):
    encoding = tokenizer(CORPUS, max_sentences=2, max_words=3, return_length=True)
    assert all(len(document) <= 2 for document in encoding["input_ids"])
    assert all(len(sentence) <= 3 for document in encoding["input_ids"] for sentence in document)
    assert encoding["length"] == [sum(map(len, document)) for document in encoding["input_ids"]]
    assert tokenizer.max_sentences == 6  # the call did not change the tokenizer
    with pytest.raises(ValueError, match="long_sentences"):
        tokenizer(CORPUS, long_sentences="fold")


def test_decode_round_trip_for_in_vocabulary_text(tokenizer):
    document = "A good film. The plot was thin!"
    ids = tokenizer(document)["input_ids"]
    assert tokenizer.decode(ids) == ["a good film .", "the plot was thin !"]
    padded = tokenizer([document, "A film."], padding=True, return_tensors="pt")["input_ids"]
    assert tokenizer.batch_decode(padded) == [["a good film .", "the plot was thin !"], ["a film ."]]
    assert tokenizer.decode(ids[0]) == "a good film ."
    unknown = tokenizer("A zyzzyva film.")["input_ids"]
    assert tokenizer.decode(unknown) == ["a film ."]
    assert tokenizer.decode(unknown, skip_special_tokens=False) == ["a [UNK] film ."]


def test_offsets_slice_the_original_text(tokenizer):
    for document in CORPUS:
        encoding = tokenizer(document, return_offsets_mapping=True, truncation=False)
        words = tokenizer.sentence_words(document)
        spans = encoding["offset_mapping"]
        assert [[document[s:e].lower() for s, e in sentence] for sentence in spans] == words
    padded = tokenizer(CORPUS, return_offsets_mapping=True, padding=True, return_tensors="np")
    assert padded["offset_mapping"].shape == padded["input_ids"].shape + (2,)
    assert np.all(padded["offset_mapping"][padded["attention_mask"] == 0] == 0)


# Text that exercises every rule: abbreviations, decimals, markup in several spellings, quotes after punctuation,
# apostrophes inside and around words, characters whose lower case is longer ("İ"), compatibility forms ("ﬁ", "Ｆ"),
# combining marks, emoji, Python-only white space (\x1c), no punctuation at all, empty documents, and words too long
# or too far into their document for the shared offset tuples.
HARD_DOCUMENTS = [
    "Mr. Smith paid 3.5 dollars. Dr. Jones e.g. did not! Did the U.S. Army care? Yes...",
    "Line one<br />line two<BR>line three<br/>  <Br  />four\n\nfive",
    "\"Great!\" she said. (Really.) Yes... no?! Ok 'quoted' don't rock'n'roll 'tis dogs' ’twas o’clock",
    "İstanbul İS big. ﬁne ｆｕｌｌ Ｗｉｄｔｈ café naïve e\u0301 😀😀 ok.",
    "no punctuation at all " * 9,
    "",
    "   \t\n ",
    "<br /><br />",
    "a\x1cb c\u2028d. E\u00a0f! \ud800 x",
    "One. Two. Three. Four. Five. Six. Seven. Eight. Nine.",
    "A " + "very" * 10 + " long word, and words far into a long document: " + "filler " * 1300 + "end.",
]


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"max_sentences": 3, "max_words": 4},
        {"max_sentences": 3, "max_words": 4, "long_sentences": "cut"},
        {"lowercase": False, "max_words": 5},
        {"abbreviations": []},
    ],
)
def test_batch_encoder_equals_the_document_by_document_rules(tokenizer, settings, monkeypatch):
    """The bulk encoder (all documents at once) gives what the plain per-document rules give, offsets included."""
    configured = HANTokenizer(vocab=tokenizer.get_vocab(), **settings)
    # small chunks, so that documents and their sentences also straddle chunk boundaries
    monkeypatch.setattr("hf_han.encoding_han.CHUNK_DOCUMENTS", 3)
    monkeypatch.setattr("hf_han.encoding_han.BULK_MIN_DOCUMENTS", 1)
    bulk_results = _spy_on_bulk_encoder(monkeypatch)
    for truncation in (True, False):
        plain = [configured.encode_document(document, truncation) for document in HARD_DOCUMENTS]
        ragged = configured(HARD_DOCUMENTS, return_offsets_mapping=True, truncation=truncation)
        assert ragged["input_ids"] == [ids for ids, _ in plain]
        assert ragged["offset_mapping"] == [spans for _, spans in plain]
        assert ragged["attention_mask"] == [[[1] * len(sentence) for sentence in ids] for ids, _ in plain]
        padded = configured(HARD_DOCUMENTS, return_offsets_mapping=True, truncation=truncation, return_tensors="np")
        expected = pad_documents({"input_ids": [ids for ids, _ in plain], "offset_mapping": [s for _, s in plain]})
        for key in ("input_ids", "attention_mask", "offset_mapping"):
            np.testing.assert_array_equal(padded[key], expected[key])
        assert bulk_results and None not in bulk_results  # the bulk path ran; no fallback hid a difference
        for document, (ids, spans) in zip(HARD_DOCUMENTS, plain):
            words = [word for sentence in configured.sentence_words(document, truncation) for word in sentence]
            if ids != [[configured.unk_token_id]]:  # offsets slice the words out of the original text
                normalized = [
                    configured.segmenter.normalize(document[start:end])
                    for sentence in spans
                    for start, end in sentence
                ]
                assert normalized == words


def test_bulk_word_spans_equal_the_regular_expression():
    import random
    import re

    from hf_han.text_rules_han import WORD_PATTERN, word_spans

    pattern = re.compile(WORD_PATTERN)
    alphabet = list("ab1_ '’.!\n\t\x1c\u00a0\u2028") + ["é", "e\u0301", "😀", "Ｆ", "İ", "ß", "²", "٣", "\ud800"]
    generator = random.Random(0)
    for _ in range(5000):
        text = "".join(generator.choice(alphabet) for _ in range(generator.randint(0, 16)))
        starts, ends = word_spans(text)
        assert list(zip(starts.tolist(), ends.tolist())) == [match.span() for match in pattern.finditer(text)], text


def _spy_on_bulk_encoder(monkeypatch) -> list:
    from hf_han.encoding_han import DocumentEncoder

    results, encode_bulk = [], DocumentEncoder.bulk

    def spy(self, *args):
        results.append(encode_bulk(self, *args))
        return results[-1]

    monkeypatch.setattr(DocumentEncoder, "bulk", spy)
    return results


def test_encoder_falls_back_to_the_plain_rules_if_bulk_spans_disagree(tokenizer, monkeypatch):
    expected = tokenizer(CORPUS, return_offsets_mapping=True)
    monkeypatch.setattr(
        "hf_han.segmentation_han.word_spans", lambda text: (np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64))
    )
    monkeypatch.setattr("hf_han.encoding_han.BULK_MIN_DOCUMENTS", 1)
    bulk_results = _spy_on_bulk_encoder(monkeypatch)
    assert tokenizer(CORPUS, return_offsets_mapping=True) == expected
    assert bulk_results == [None]
    padded = tokenizer(CORPUS, return_offsets_mapping=True, return_tensors="np")
    assert padded["input_ids"].tolist() == pad_documents({"input_ids": expected["input_ids"]})["input_ids"].tolist()


def test_empty_whitespace_and_wrong_type_inputs(tokenizer):
    for empty in ("", "   \n\t ", "<br /><br />"):
        encoding = tokenizer(empty, return_offsets_mapping=True)
        assert encoding["input_ids"] == [[tokenizer.unk_token_id]]
        assert encoding["attention_mask"] == [[1]]
        assert encoding["offset_mapping"] == [[(0, 0)]]
    with pytest.raises(TypeError, match="int"):
        tokenizer(42)
    with pytest.raises(TypeError, match="NoneType"):
        tokenizer(["fine", None])
    with pytest.raises(TypeError, match="bytes"):
        tokenizer(b"bytes")


def test_empty_document_runs_through_the_model(tokenizer):
    model = HANForDocumentClassification(
        HANConfig(
            vocab_size=len(tokenizer), embedding_dim=8, word_hidden_size=4, sentence_hidden_size=4, attention_dim=4
        )
    ).eval()
    with torch.no_grad():
        logits = model(**tokenizer(["", "A good film."], padding=True, return_tensors="pt")).logits
    assert torch.isfinite(logits).all()


# ---------------------------------------------------------------- vocabulary


def test_train_new_from_iterator_counts_min_frequency_and_keeps_settings():
    base = HANTokenizer(max_words=7, long_sentences="cut", abbreviations=["xyz"])
    texts = ["a a a b b c", "a b d d d d"]
    trained = base.train_new_from_iterator(iter(texts), vocab_size=100, min_frequency=3, show_progress=False)
    assert trained.get_vocab() == {"[PAD]": 0, "[UNK]": 1, "a": 2, "d": 3, "b": 4}
    assert (trained.max_words, trained.long_sentences, trained.abbreviations) == (7, "cut", ["xyz"])
    capped = base.train_new_from_iterator([texts], vocab_size=3, show_progress=False)  # batches work too
    assert capped.get_vocab() == {"[PAD]": 0, "[UNK]": 1, "a": 2}
    assert len(capped) == capped.vocab_size == 3


def test_max_words_counts_the_first_documents_only_and_reads_no_further():
    texts = iter(["a a b", "b c", "d d d d", "e"])  # words counted: 3, then 5 >= max_words
    trained = HANTokenizer().train_new_from_iterator(texts, vocab_size=100, max_words=4, show_progress=False)
    assert trained.get_vocab() == {"[PAD]": 0, "[UNK]": 1, "a": 2, "b": 3, "c": 4}
    assert next(texts) == "d d d d"  # the documents after the one that reached max_words are never read
    whole = HANTokenizer().train_new_from_iterator(["a a b", "b c", "d d d d"], 100, show_progress=False)
    assert whole.get_vocab()["d"] == 2  # without max_words, every document counts
    with pytest.raises(ValueError, match="word-level"):
        HANTokenizer().train_new_from_iterator(["a b"], 100, subword="bpe", max_words=4, show_progress=False)
    with pytest.raises(ValueError, match="a number of words"):
        HANTokenizer().train_new_from_iterator(["a b"], 100, max_words=-1, show_progress=False)


# ---------------------------------------------------------------- persistence


def test_save_load_and_auto_tokenizer_round_trip(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    files = set(os.listdir(tmp_path))
    assert {"tokenizer.json", "tokenizer_config.json", "tokenization_han.py"} <= files
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["auto_map"]["AutoTokenizer"][0] == "tokenization_han.HANTokenizer"
    for loaded in (HANTokenizer.from_pretrained(tmp_path), AutoTokenizer.from_pretrained(tmp_path)):
        assert type(loaded) is HANTokenizer
        assert loaded.get_vocab() == tokenizer.get_vocab()
        assert loaded._settings() == tokenizer._settings()
        assert loaded(CORPUS, return_offsets_mapping=True) == tokenizer(CORPUS, return_offsets_mapping=True)
        assert loaded.backend_tokenizer.to_str() == tokenizer.backend_tokenizer.to_str()


REMOTE_TOKENIZER = textwrap.dedent(
    """
    import json, sys
    sys.modules["hf_han"] = None
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(sys.argv[1], trust_remote_code=True)
    assert type(tokenizer).__module__.startswith("transformers_modules"), type(tokenizer).__module__
    documents = json.loads(sys.argv[2])
    print(json.dumps(tokenizer(documents, return_offsets_mapping=True, padding=True, return_tensors="np")
                     ["input_ids"].tolist()))
    """
)


def test_remote_code_tokenizer_without_the_package(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_TOKENIZER, str(tmp_path), json.dumps(CORPUS)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = tokenizer(CORPUS, padding=True, return_tensors="np")["input_ids"].tolist()
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


def test_a_tokenizer_that_does_not_match_the_model_is_caught(tokenizer):
    matching = HANConfig(vocab_size=len(tokenizer))
    tokenizer.check_model_compatibility(matching)
    tokenizer.check_model_compatibility(
        HANForDocumentClassification(
            HANConfig(
                vocab_size=len(tokenizer), embedding_dim=4, word_hidden_size=2, sentence_hidden_size=2, attention_dim=2
            )
        )
    )
    with pytest.raises(ValueError, match=f"{len(tokenizer)} words but the model.s vocab_size is 50,000"):
        tokenizer.check_model_compatibility(HANConfig(vocab_size=50000))


# ---------------------------------------------------------------- collator


def test_collator_pads_to_the_batch_maxima_and_stacks_labels():
    collator = DataCollatorForDocumentClassification()
    batch = collator(
        [
            {"input_ids": [[5, 6, 7], [8]], "label": 1, "length": 4},
            {"input_ids": [[9]], "label": 0, "length": 1},
        ]
    )
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert batch["input_ids"].tolist() == [[[5, 6, 7], [8, 0, 0]], [[9, 0, 0], [0, 0, 0]]]
    assert batch["attention_mask"].tolist() == [[[1, 1, 1], [1, 0, 0]], [[1, 0, 0], [0, 0, 0]]]
    assert batch["labels"].dtype == torch.long and batch["labels"].tolist() == [1, 0]

    multiple = DataCollatorForDocumentClassification(pad_to_multiple_of=4, return_tensors="np")
    batch = multiple([{"input_ids": [[5, 6, 7], [8]], "labels": [1, 0]}, {"input_ids": [[1]], "labels": [0, 1]}])
    assert batch["input_ids"].shape == (2, 4, 4) and batch["labels"].dtype == np.float32
    # a given mask is kept as it is, and must match the ids
    masked = collator(
        [{"input_ids": [[5, 6]], "attention_mask": [[1, 0]]}, {"input_ids": [[7]], "attention_mask": [[1]]}]
    )
    assert masked["attention_mask"].tolist() == [[[1, 0]], [[1, 0]]]
    with pytest.raises(ValueError, match="3 values for 2 words"):
        collator([{"input_ids": [[5, 6]], "attention_mask": [[1, 1, 1]]}])
    regression = collator([{"input_ids": [[5]], "label": 0.5}, {"input_ids": [[6]], "label": 2}])
    assert regression["labels"].dtype == torch.float32
    with pytest.raises(ValueError, match="differ in length"):
        collator([{"input_ids": [[5]], "labels": [1, 0]}, {"input_ids": [[6]], "labels": [1]}])


def test_padded_batch_equals_one_by_one_encodings_padded_by_the_collator(tokenizer):
    batch = tokenizer(CORPUS, padding=True, return_tensors="pt")
    examples = [tokenizer(document) for document in CORPUS]
    collated = DataCollatorForDocumentClassification(tokenizer=tokenizer)(examples)
    assert torch.equal(collated["input_ids"], batch["input_ids"])
    assert torch.equal(collated["attention_mask"], batch["attention_mask"])
    # and the tokenizer's own `pad` agrees
    assert torch.equal(tokenizer.pad(examples, return_tensors="pt")["input_ids"], batch["input_ids"])


def test_datasets_map_and_trainer_with_group_by_length(tokenizer, tmp_path):
    datasets = pytest.importorskip("datasets")
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_pt_utils import LengthGroupedSampler

    dataset = datasets.Dataset.from_dict({"text": CORPUS * 4, "label": [0, 1, 0, 1] * 4})
    dataset = dataset.map(lambda batch: tokenizer(batch["text"], return_length=True), batched=True)
    assert dataset[0]["input_ids"] == tokenizer(CORPUS[0])["input_ids"]  # ragged lists survive Arrow
    assert dataset[0]["length"] == sum(map(len, dataset[0]["input_ids"]))

    model = HANForDocumentClassification(
        HANConfig(
            vocab_size=len(tokenizer),
            embedding_dim=8,
            word_hidden_size=4,
            sentence_hidden_size=4,
            attention_dim=4,
            num_labels=2,
        )
    )
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        max_steps=3,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        train_sampling_strategy="group_by_length",
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        data_collator=DataCollatorForDocumentClassification(tokenizer=tokenizer),
    )
    sampler = trainer._get_train_sampler()
    assert isinstance(sampler, LengthGroupedSampler) and sampler.lengths == dataset["length"]
    result = trainer.train()
    assert np.isfinite(result.training_loss)


def test_encoding_leaves_the_garbage_collector_as_it_found_it():
    # a batch is encoded with the collector paused, then what it allocated moves to the oldest generation: the
    # collector must be on again, and garbage cycles made before, during or after must still be collected
    class Node:
        pass

    def cycle():
        node = Node()
        node.self = node
        return weakref.ref(node)

    tokenizer = HANTokenizer().train_new_from_iterator(["A film. A good one!"] * 4, 50, show_progress=False)
    before = cycle()
    tokenizer(["A film. A good one!"] * 20, return_offsets_mapping=True)
    assert gc.isenabled()
    after = cycle()
    gc.collect()
    assert before() is None and after() is None
    gc.disable()
    try:  # a caller's choice to keep the collector off is kept
        tokenizer(["A film."] * 20, return_offsets_mapping=True)
        assert not gc.isenabled()
    finally:
        gc.enable()
