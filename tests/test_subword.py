"""Subword vocabularies: trained on the user's corpus, or any pretrained tokenizer wrapped sentence by sentence."""

import copy
import json
import os
import pickle
import random
import re
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, BertTokenizer, PreTrainedTokenizerFast, pipeline

from hf_han import HANConfig, HANForDocumentClassification, HANTokenizer
from hf_han.chunk_pieces_han import chunks_are_independent
from hf_han.visualization_han import attention_to_html, attention_to_markdown


CORPUS = [
    "A wonderful film. The hyperparameterization of everything was superb!",
    "I did not like it.<br /><br />The plot was thin, the acting worse. Would I watch it again? No.",
    "Great fun. Great cast. Great music, and a great director.",
    "我喜欢这部电影。好！",
    "",
]


def _bert_folder(tmp_path_factory) -> str:
    """A tiny BERT WordPiece tokenizer, saved as transformers saves BERT's."""
    folder = tmp_path_factory.mktemp("bert")
    words = sorted({word.lower() for text in CORPUS for word in text.replace("<br />", " ").split()})
    words = [word for word in words if not word.startswith("hyperparameterization")]  # read as pieces
    pieces = [
        "hyper",
        "##para",
        "##meter",
        "##ization",
        "wonder",
        "##ful",
        "!",
        ".",
        ",",
        "?",
        "我",
        "喜",
        "好",
        "！",
        "。",
    ]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(pieces + [w.strip(".,!?") for w in words])]
    BertTokenizer(vocab={token: i for i, token in enumerate(vocab)}).save_pretrained(folder)
    return str(folder)


def _byte_level_folder(tmp_path_factory) -> str:
    """A tiny byte-level BPE tokenizer with RoBERTa's special tokens and template."""
    folder = tmp_path_factory.mktemp("roberta")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>"])
    backend.train_from_iterator(CORPUS * 4, trainer=trainer)
    backend.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    wrapped.save_pretrained(folder)
    return str(folder)


def _sentencepiece_folder(tmp_path_factory) -> str:
    """A tiny SentencePiece-style Unigram tokenizer (Metaspace "▁" words, XLM-R's special tokens and template)."""
    folder = tmp_path_factory.mktemp("unigram")
    backend = Tokenizer(models.Unigram())
    backend.normalizer = normalizers.NFKC()
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=120, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], unk_token="<unk>", show_progress=False
    )
    backend.train_from_iterator(CORPUS * 4, trainer=trainer)
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    wrapped.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory):
    return _bert_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def byte_level_folder(tmp_path_factory):
    return _byte_level_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def sentencepiece_folder(tmp_path_factory):
    return _sentencepiece_folder(tmp_path_factory)


# ---------------------------------------------------------------- trained subword vocabularies


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "unigram"])
def test_trained_subword_vocabularies_encode_save_and_reload(kind, tmp_path):
    tokenizer = HANTokenizer(max_words=8).train_new_from_iterator(CORPUS * 3, 80, subword=kind, show_progress=False)
    assert tokenizer.is_subword and (tokenizer.pad_token_id, tokenizer.unk_token_id) == (0, 1)
    encoding = tokenizer(CORPUS, return_offsets_mapping=True)
    for document, ids, spans in zip(CORPUS, encoding["input_ids"], encoding["offset_mapping"]):
        assert all(1 <= len(sentence) <= 8 for sentence in ids)
        if document:  # the pieces lie inside the words of the text, in order
            flat = [span for sentence in spans for span in sentence]
            assert all(start < end and not document[start:end].isspace() for start, end in flat)
            assert [start for start, _ in flat] == sorted(start for start, _ in flat)
    assert encoding["input_ids"][-1] == [[tokenizer.unk_token_id]]  # an empty document
    # with and without offsets, the same ids
    assert tokenizer(CORPUS)["input_ids"] == encoding["input_ids"]
    tokenizer.save_pretrained(tmp_path)
    for loader in (HANTokenizer, AutoTokenizer):
        loaded = loader.from_pretrained(tmp_path)
        assert type(loaded) is HANTokenizer and loaded.is_subword
        assert loaded(CORPUS, return_offsets_mapping=True) == encoding


def test_a_trained_vocabulary_splits_unseen_words_into_pieces():
    corpus = ["the film was good", "the films were goodness itself", "a filmmaker", "good films"] * 5
    tokenizer = HANTokenizer().train_new_from_iterator(corpus, 60, subword="wordpiece", show_progress=False)
    assert tokenizer.unk_token_id not in tokenizer("filmness")["input_ids"][0]
    pieces = tokenizer.tokenize("filmness")
    assert len(pieces) > 1 and "".join(piece.removeprefix("##") for piece in pieces) == "filmness"


# ---------------------------------------------------------------- wrapped pretrained tokenizers


def test_a_wrapped_wordpiece_tokenizer_reads_each_sentence_as_it_does(bert_folder):
    inner = AutoTokenizer.from_pretrained(bert_folder)
    tokenizer = HANTokenizer.from_pretrained_tokenizer(bert_folder, max_words=12)
    assert tokenizer.is_subword and len(tokenizer) == len(inner) and tokenizer.pad_token_id == inner.pad_token_id
    encoding = tokenizer(CORPUS, return_offsets_mapping=True, truncation=False)
    for document, ids, spans in zip(CORPUS[:3], encoding["input_ids"], encoding["offset_mapping"]):
        for (start, end), sentence, sentence_spans in zip(tokenizer.split_sentences(document), ids, spans):
            text = document[start:end].replace("<br />", "      ")
            expected = inner(text)["input_ids"]  # "[CLS] ... [SEP]", as the tokenizer reads a sentence alone
            if len(expected) <= 12:
                assert sentence == expected
                assert sentence_spans[0] == sentence_spans[-1] == (0, 0)  # the special tokens cover no text
    # a word the vocabulary lacks is read as pieces, not as [UNK]
    pieces = tokenizer.tokenize("hyperparameterization")
    assert pieces == ["hyper", "##para", "##meter", "##ization"]


def test_a_large_batch_encodes_as_its_documents_do_one_by_one(bert_folder):
    # one backend call for the whole batch, cut into sentences afterwards: the same as one document at a time
    tokenizer = HANTokenizer.from_pretrained_tokenizer(bert_folder, max_words=12)
    documents = [f"{CORPUS[i % len(CORPUS)]} Film {i}." for i in range(600)]
    batch = tokenizer(documents, return_offsets_mapping=True)
    for i in (0, 255, 256, 257, 511, 599):
        alone = tokenizer(documents[i], return_offsets_mapping=True)
        assert batch["input_ids"][i] == alone["input_ids"] and batch["offset_mapping"][i] == alone["offset_mapping"]


def test_max_words_counts_the_special_tokens_and_long_sentences_wrap(bert_folder):
    tokenizer = HANTokenizer.from_pretrained_tokenizer(bert_folder, max_words=5)
    ids = tokenizer("great fun great cast great music and a great director")["input_ids"]
    assert all(len(sentence) <= 5 and sentence[0] == 2 and sentence[-1] == 3 for sentence in ids)
    assert sum(len(sentence) - 2 for sentence in ids) == 10  # every word kept, three per wrapped sentence
    with pytest.raises(ValueError, match="must leave room for a piece beside the 2 special tokens"):
        HANTokenizer.from_pretrained_tokenizer(bert_folder, max_words=2)("great fun")


def test_a_wrapped_byte_level_tokenizer_keeps_its_ids_and_pad_token(byte_level_folder, tmp_path):
    inner = AutoTokenizer.from_pretrained(byte_level_folder)
    tokenizer = HANTokenizer.from_pretrained_tokenizer(byte_level_folder)
    assert (tokenizer.pad_token, tokenizer.pad_token_id) == ("<pad>", inner.pad_token_id) == ("<pad>", 1)
    document = "A wonderful film. Great fun."
    ids = tokenizer(document)["input_ids"]
    assert [sentence[0] for sentence in ids] == [0, 0] and [sentence[-1] for sentence in ids] == [2, 2]
    # the pieces are those of running text: the second sentence's first word keeps its leading-space marker
    running = inner(document, add_special_tokens=False)["input_ids"]
    assert ids[0][1:-1] + ids[1][1:-1] == running
    padded = tokenizer([document, "Great."], padding=True, return_tensors="pt")
    assert torch.all(padded["input_ids"][padded["attention_mask"] == 0] == 1)  # padded with <pad>
    tokenizer.save_pretrained(tmp_path)
    assert HANTokenizer.from_pretrained(tmp_path)([document]) == tokenizer([document])


def test_a_wrapped_sentencepiece_tokenizer_reads_sentences_with_their_word_markers(sentencepiece_folder, tmp_path):
    inner = AutoTokenizer.from_pretrained(sentencepiece_folder)
    tokenizer = HANTokenizer.from_pretrained_tokenizer(sentencepiece_folder)
    document = "Great fun. I did not like it."
    encoding = tokenizer(document, return_offsets_mapping=True)
    ids, spans = encoding["input_ids"], encoding["offset_mapping"]
    assert len(ids) == 2 and all(sentence[0] == 0 and sentence[-1] == 2 for sentence in ids)
    # each sentence holds the pieces that the tokenizer gives that sentence alone, between <s> and </s>
    for (start, end), sentence, sentence_spans in zip(tokenizer.split_sentences(document), ids, spans):
        assert sentence == inner(document[start:end])["input_ids"]
        pieces = [(a, b) for a, b in sentence_spans if (a, b) != (0, 0)]
        assert document[pieces[0][0] : pieces[-1][1]].strip() == document[start:end].strip()
    tokenizer.save_pretrained(tmp_path)
    assert AutoTokenizer.from_pretrained(tmp_path)(document) == tokenizer(document)


# ---------------------------------------------------------------- kept chunk pieces (the fast path)

HARD_CHARACTERS = list("ab cdé.!?。\t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u2028\u3000\u200b\u0301ःक्ष👍🏽\u200dقَ##-'")
HARD_CHARACTERS += ["[MASK]", "<br />", "Mr. ", "e.g. ", "hyperparameterization ", "Great fun. "]


def _hard_texts(count: int, seed: int = 0) -> list[str]:
    """Random text of every kind of white space, control characters, combining marks, joiners and terminals."""
    rng = random.Random(seed)
    return ["".join(rng.choice(HARD_CHARACTERS) for _ in range(rng.randint(0, 60))) for _ in range(count)]


def _without_kept_pieces(tokenizer: HANTokenizer) -> HANTokenizer:
    """A copy that encodes every document with the backend itself."""
    plain = copy.deepcopy(tokenizer)
    plain._encoder().chunk_pieces = None
    return plain


def _subword_tokenizers(bert_folder) -> dict[str, HANTokenizer]:
    texts = CORPUS * 4 + _hard_texts(200, seed=1)
    tokenizers = {"bert": HANTokenizer.from_pretrained_tokenizer(bert_folder)}
    for kind in ("wordpiece", "bpe", "unigram"):
        tokenizers[kind] = HANTokenizer().train_new_from_iterator(texts, 200, subword=kind, show_progress=False)
    return tokenizers


@pytest.mark.parametrize(
    "settings",
    [{}, {"max_words": 6, "long_sentences": "cut", "max_sentences": 3}, {"max_words": 5, "max_sentences": 2}],
)
def test_kept_chunk_pieces_give_what_the_backend_gives_whole_documents(bert_folder, settings):
    documents = CORPUS + _hard_texts(300)
    for name, tokenizer in _subword_tokenizers(bert_folder).items():
        for key, value in settings.items():
            setattr(tokenizer, key, value)
        assert tokenizer._encoder().chunk_pieces is not None, name  # these backends cut at white space first
        plain = _without_kept_pieces(tokenizer)
        for truncation in (True, False):
            for offsets in (True, False):
                options = {"truncation": truncation, "return_offsets_mapping": offsets}
                expected = plain(documents, **options)
                assert tokenizer(documents, **options) == expected, (name, options)
                assert tokenizer(documents, **options) == expected, (name, options)  # again, from what was kept
                for i in (0, 3, 7, 11):
                    assert tokenizer(documents[i], **options)["input_ids"] == expected["input_ids"][i]


def test_which_backends_keep_chunk_pieces(bert_folder, byte_level_folder, sentencepiece_folder):
    assert chunks_are_independent(HANTokenizer.from_pretrained_tokenizer(bert_folder).backend_tokenizer)
    # a leading-space marker ("Ġ", "▁") depends on what stands before a word
    for folder in (byte_level_folder, sentencepiece_folder):
        assert HANTokenizer.from_pretrained_tokenizer(folder)._encoder().chunk_pieces is None
    # an added token across white space, or taking in the white space beside it, joins chunks
    for token in (AddedToken("great fun"), AddedToken("<mask>", lstrip=True)):
        tokenizer = HANTokenizer.from_pretrained_tokenizer(bert_folder)
        tokenizer.add_tokens([token])
        assert tokenizer._encoder().chunk_pieces is None, token
        document = "It was great fun. Great <mask> fun."
        assert tokenizer(document)["input_ids"] == _without_kept_pieces(tokenizer)(document)["input_ids"]


def test_kept_chunk_pieces_are_bounded_copied_pickled_and_shared_by_threads(bert_folder):
    tokenizer = HANTokenizer.from_pretrained_tokenizer(bert_folder)
    documents = CORPUS + _hard_texts(200)
    expected = _without_kept_pieces(tokenizer)(documents, return_offsets_mapping=True)
    kept = tokenizer._encoder().chunk_pieces
    kept.max_chunks = 50  # forgets everything whenever a batch would pass 50 chunks
    assert tokenizer(documents, return_offsets_mapping=True) == expected
    assert len(kept._index) <= len(set(" ".join(documents).split())) + 50
    kept.max_chunks = 1 << 20
    restored = pickle.loads(pickle.dumps(tokenizer))
    assert restored(documents, return_offsets_mapping=True) == expected
    assert copy.deepcopy(tokenizer)(documents, return_offsets_mapping=True) == expected
    batches = [documents[i : i + 16] for i in range(0, len(documents), 16)] * 4
    fresh = HANTokenizer.from_pretrained_tokenizer(bert_folder)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda batch: fresh(batch, return_offsets_mapping=True), batches))
    for batch, result in zip(batches, results):
        first = documents.index(batch[0])
        assert result["input_ids"] == expected["input_ids"][first : first + len(batch)]
        assert result["offset_mapping"] == expected["offset_mapping"][first : first + len(batch)]


@pytest.mark.parametrize("folder", ["bert_folder", "byte_level_folder"])
def test_a_hundred_thousand_sentences_encode_in_linear_time(folder, request):
    # finding each sentence's first piece once asked the backend per boundary, in time that grew with the
    # document: 500,000 sentences took 109 s; now one search over all pieces
    tokenizer = HANTokenizer.from_pretrained_tokenizer(request.getfixturevalue(folder))
    text = "a。" * 100_000
    start = time.perf_counter()
    ids = tokenizer(text, truncation=False)["input_ids"]
    assert time.perf_counter() - start < 4 and len(ids) == 100_000


def test_from_pretrained_on_another_library_s_folder_wraps_it(bert_folder):
    tokenizer = HANTokenizer.from_pretrained(bert_folder, max_sentences=4)
    assert tokenizer.is_subword and tokenizer.sentence_special_tokens and tokenizer.max_sentences == 4
    assert tokenizer.tokenize("hyperparameterization") == ["hyper", "##para", "##meter", "##ization"]


REMOTE = textwrap.dedent(
    """
    import json, sys
    sys.modules["hf_han"] = None
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(sys.argv[1], trust_remote_code=True)
    print(json.dumps(tokenizer(json.loads(sys.argv[2]))["input_ids"]))
    """
)


def test_a_wrapped_tokenizer_loads_as_remote_code(bert_folder, tmp_path):
    tokenizer = HANTokenizer.from_pretrained_tokenizer(bert_folder)
    tokenizer.save_pretrained(tmp_path)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    result = subprocess.run(
        [sys.executable, "-c", REMOTE, str(tmp_path), json.dumps(CORPUS)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == tokenizer(CORPUS)["input_ids"]


def test_explanations_merge_pieces_into_the_words_the_user_wrote(bert_folder, tmp_path):
    tokenizer = HANTokenizer.from_pretrained_tokenizer(bert_folder)
    config = HANConfig(
        vocab_size=len(tokenizer), embedding_dim=8, word_hidden_size=4, sentence_hidden_size=4, attention_dim=4,
        pad_token_id=tokenizer.pad_token_id, num_labels=2,
    )  # fmt: skip
    HANForDocumentClassification(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    document = "A wonderful film. The hyperparameterization of everything was superb!"
    explanation = pipeline("document-classification", model=str(tmp_path))(document, explain=True)[0]
    words = [[word["word"] for word in sentence["words"]] for sentence in explanation["sentences"]]
    assert words == [["A", "wonderful", "film", "."], ["The", "hyperparameterization", "of", "everything", "was",
                     "superb", "!"]]  # fmt: skip
    for sentence in explanation["sentences"]:
        assert sentence["text"] == document[sentence["start"] : sentence["end"]]
        # the pieces' weights are summed; [CLS] and [SEP] hold the rest
        assert 0 < sum(word["attention"] for word in sentence["words"]) <= 1 + 1e-6
    # the pictures show the words as written: punctuation attached, one word for its pieces
    markdown = attention_to_markdown(explanation, top_words=0)
    assert "A wonderful film." in markdown and "hyperparameterization of everything was superb!" in markdown
    visible = re.sub(r"<[^>]+>", "", attention_to_html(explanation))
    assert "A wonderful film." in visible and "was superb!" in visible


def test_run_classification_trains_on_a_pretrained_tokenizer_s_ids(bert_folder, tmp_path):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
    import run_classification

    rows = [{"text": text, "label": "ab"[i % 2]} for i, text in enumerate(CORPUS[:3] * 8)]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out"
    run_classification.main(
        ["--output_dir", str(out), "--train_file", str(train), "--do_train", "--max_steps", "2",
         "--tokenizer_name", bert_folder, "--embedding_dim", "8", "--word_hidden_size", "4",
         "--sentence_hidden_size", "4", "--attention_dim", "4", "--disable_tqdm", "true"]
    )  # fmt: skip
    tokenizer = HANTokenizer.from_pretrained(out)
    model = HANForDocumentClassification.from_pretrained(out)
    assert tokenizer.is_subword and model.config.vocab_size == len(tokenizer) == len(
        AutoTokenizer.from_pretrained(bert_folder)
    )
    assert tokenizer.tokenize("hyperparameterization") == ["hyper", "##para", "##meter", "##ization"]
