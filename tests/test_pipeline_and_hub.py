"""Pipelines, attention pictures, model cards, and pushing to / loading from the Hub by repository id."""

import json
import os
import re
import subprocess
import sys
import textwrap
import typing

import pytest
import torch
from huggingface_hub import ModelCard
from transformers import pipeline

from hf_han import Explanation, HANConfig, HANForDocumentClassification, HANTokenizer
from hf_han.visualization_han import attention_to_html, attention_to_markdown, save_attention_png, sentence_pieces


POSITIVE = ["a wonderful film.", "i loved every minute!", "the cast is superb.", "great fun."]
NEGATIVE = ["an awful film.", "i hated every minute!", "the cast is dreadful.", "a dull mess."]
FILLER = ["it opens in paris.", "the story follows two brothers.", "it runs for two hours."]
DOCUMENTS = [
    "A wonderful film. It opens in Paris. I loved every minute!",
    "An awful film.\nThe story follows two brothers. I hated every minute!",
    "The cast is superb... great fun. It runs for two hours.",
    "The cast is dreadful. A dull mess.",
    "",
]


def _corpus(count: int, generator: torch.Generator) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for i in range(count):
        pool = POSITIVE if i % 2 else NEGATIVE
        pick = lambda options: options[int(torch.randint(len(options), (1,), generator=generator))]  # noqa: E731
        texts.append(" ".join([pick(FILLER), pick(pool), pick(FILLER)]))
        labels.append(i % 2)
    return texts, labels


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny HAN trained to separate positive from negative documents, saved with its tokenizer."""
    generator = torch.Generator().manual_seed(0)
    texts, labels = _corpus(64, generator)
    tokenizer = HANTokenizer(max_sentences=4, max_words=6).train_new_from_iterator(
        texts + DOCUMENTS, vocab_size=500, show_progress=False
    )
    config = HANConfig(
        vocab_size=len(tokenizer), embedding_dim=16, word_hidden_size=8, sentence_hidden_size=8, attention_dim=8,
        num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1},
    )  # fmt: skip
    torch.manual_seed(0)
    model = HANForDocumentClassification(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    for _ in range(40):
        loss = model(**batch, labels=torch.tensor(labels)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    folder = tmp_path_factory.mktemp("han")
    model.model_card_data.dataset_name = "tiny reviews"
    model.model_card_data.dataset_id = "org/tiny-reviews"
    model.model_card_data.eval_results = {"test": {"accuracy": 0.875, "macro_f1": 0.8}}
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model, tokenizer, folder


def _direct_logits(model, tokenizer, texts):
    with torch.no_grad():
        return model(**tokenizer(texts, padding=True, return_tensors="pt")).logits


# ---------------------------------------------------------------- pipelines


def test_stock_text_classification_pipeline_batches_and_scores(trained):
    model, tokenizer, folder = trained
    classifier = pipeline("text-classification", model=str(folder))
    probabilities = _direct_logits(model, tokenizer, DOCUMENTS).softmax(-1)

    one_by_one = classifier(DOCUMENTS)
    batched = classifier(DOCUMENTS, batch_size=3)
    for single, batch, row in zip(one_by_one, batched, probabilities):
        assert single["label"] == batch["label"] == model.config.id2label[int(row.argmax())]
        assert single["score"] == pytest.approx(float(row.max()), abs=1e-5)
        assert batch["score"] == pytest.approx(single["score"], abs=1e-5)

    every_label = classifier(DOCUMENTS[0], top_k=None)
    assert [entry["label"] for entry in every_label] == sorted(
        ("negative", "positive"), key=lambda label: -float(probabilities[0, model.config.label2id[label]])
    )
    assert sum(entry["score"] for entry in every_label) == pytest.approx(1.0, abs=1e-6)
    assert classifier(DOCUMENTS[0], top_k=1)[0]["label"] == one_by_one[0]["label"]


def test_long_documents_are_truncated_as_configured(trained):
    model, tokenizer, folder = trained
    classifier = pipeline("text-classification", model=str(folder))
    long_document = " ".join(POSITIVE * 50)  # 200 sentences, 4 are read
    first_four = " ".join(POSITIVE)
    assert classifier(long_document)[0]["score"] == pytest.approx(classifier(first_four)[0]["score"], abs=1e-6)


def test_explanations_are_aligned_to_the_text_and_normalised(trained):
    model, tokenizer, folder = trained
    explainer = pipeline("document-classification", model=str(folder))
    plain = pipeline("text-classification", model=str(folder))(DOCUMENTS)
    results = explainer(DOCUMENTS, explain=True)
    batched = explainer(DOCUMENTS, explain=True, batch_size=4)

    for text, result, other, reference in zip(DOCUMENTS, results, batched, plain):
        assert result["label"] == reference["label"]
        assert result["score"] == pytest.approx(reference["score"], abs=1e-5)
        assert sum(entry["score"] for entry in result["labels"]) == pytest.approx(1.0, abs=1e-5)
        expected_words = tokenizer.sentence_words(text, truncation=True) if text else [[""]]
        assert [len(sentence["words"]) for sentence in result["sentences"]] == [len(s) for s in expected_words]
        assert sum(s["attention"] for s in result["sentences"]) == pytest.approx(1.0, abs=1e-5)
        for sentence, batched_sentence in zip(result["sentences"], other["sentences"]):
            assert sentence["text"] == text[sentence["start"] : sentence["end"]]
            assert sum(w["attention"] for w in sentence["words"]) == pytest.approx(1.0, abs=1e-5)
            for word in sentence["words"]:
                assert text[word["start"] : word["end"]] == word["word"]
                assert sentence["start"] <= word["start"] <= word["end"] <= sentence["end"]
            assert batched_sentence["attention"] == pytest.approx(sentence["attention"], abs=1e-5)
    # the words as written, not as normalised
    assert results[0]["sentences"][0]["words"][0]["word"] == "A"
    # every result follows the typed contract that the pictures and the model card read
    for result in results:
        _assert_follows(result, Explanation)

    # without explain the custom pipeline is the stock one
    assert [r["label"] for r in explainer(DOCUMENTS)] == [r["label"] for r in plain]


def _assert_follows(value: dict, contract: type) -> None:
    """`value` has exactly the keys of the TypedDict `contract`, with values of the annotated types."""
    hints = typing.get_type_hints(contract)
    assert set(value) == set(hints), (set(value), set(hints))
    for key, hint in hints.items():
        if typing.get_origin(hint) is list:
            (item,) = typing.get_args(hint)
            assert isinstance(value[key], list)
            for element in value[key]:
                _assert_follows(element, item)
        else:
            assert isinstance(value[key], hint), (key, value[key])


def test_pipeline_input_errors(trained):
    _, _, folder = trained
    explainer = pipeline("document-classification", model=str(folder))
    with pytest.raises(TypeError, match="got int"):
        explainer(42, explain=True)


# ---------------------------------------------------------------- pictures


def test_html_escapes_the_document_and_png_is_written(trained, tmp_path):
    _, _, folder = trained
    explainer = pipeline("document-classification", model=str(folder))
    text = 'A wonderful film. <script>alert("x")</script> & <b>bold</b> claims. I loved every minute!'
    explanation = explainer(text, explain=True)[0]

    page = attention_to_html(explanation)
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;" in page and "&amp;" in page
    assert page.count('class="row"') == len(explanation["sentences"])
    plain = attention_to_html(explanation, word_scale="word")
    assert plain != page

    png = save_attention_png(explanation, tmp_path / "attention.png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000

    markdown = attention_to_markdown(explanation)
    assert markdown.count("\n- ") == len(explanation["sentences"])
    assert "<script>" not in markdown
    with pytest.raises(ValueError, match="word_scale"):
        attention_to_html(explanation, word_scale="log")


def test_pictures_keep_the_text_s_own_spacing(trained, tmp_path):
    _, _, folder = trained
    explainer = pipeline("document-classification", model=str(folder))
    text = "A wonderful film.  I loved it, again!"
    explanation = explainer(text, explain=True)[0]
    markdown = attention_to_markdown(explanation, top_words=0)
    assert "A wonderful film." in markdown and "I loved it, again!" in markdown
    assert "film ." not in markdown and "\\!" not in markdown
    visible = re.sub(r"<[^>]+>", "", attention_to_html(explanation).split("<body>")[1])
    assert "A wonderful film." in visible and "I loved it, again!" in visible and "film ." not in visible
    assert "!" in [word["word"] for sentence in explanation["sentences"] for word in sentence["words"]]
    # a line break inside a sentence stays one; other runs of white space show as one space
    words = [("Two", 0, 3), ("lines", 4, 9), ("here", 12, 16)]
    sentence = {
        "text": "Two\nlines \t here",
        "start": 0,
        "end": 16,
        "attention": 1.0,
        "words": [{"word": w, "start": a, "end": b, "attention": 1 / 3} for w, a, b in words],
    }
    assert [piece for piece, _ in sentence_pieces(sentence)] == ["Two", "\n", "lines", " ", "here"]
    # bold words that touch share their markers ("**movie.**", not "**movie****.**")
    touching = dict(sentence, text="A film.", end=7, words=[
        {"word": "A", "start": 0, "end": 1, "attention": 0.1},
        {"word": "film", "start": 2, "end": 6, "attention": 0.5},
        {"word": ".", "start": 6, "end": 7, "attention": 0.4},
    ])  # fmt: skip
    assert attention_to_markdown({"label": "x", "score": 1.0, "sentences": [touching]}, top_words=2).endswith(
        " A **film.**"
    )
    assert "Two</span><br><span" in attention_to_html({"label": "x", "score": 1.0, "sentences": [sentence]})
    # the spaces come from the text: a word-only explanation (offsets that do not fit) keeps one space between words
    sentence = dict(explanation["sentences"][0], text="")
    assert sentence_pieces(sentence)[1] == (" ", None)
    assert save_attention_png(explanation, tmp_path / "spacing.png").read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------- model cards


def test_model_card_metadata_and_content(trained, tmp_path):
    model, _, folder = trained
    card = ModelCard.load(folder / "README.md")
    data = card.data
    assert data.library_name == "transformers"
    assert data.pipeline_tag == "text-classification"
    assert {"han", "hf-han", "text-classification"} <= set(data.tags)
    assert set(data.metrics) == {"accuracy", "macro_f1"}
    results = {(r.dataset_type, r.dataset_split, r.metric_type): r.metric_value for r in data.eval_results}
    assert results == {("org/tiny-reviews", "test", "accuracy"): 0.875, ("org/tiny-reviews", "test", "macro_f1"): 0.8}
    assert {r.dataset_name for r in data.eval_results} == {"tiny reviews"} and data.datasets == ["org/tiny-reviews"]
    for snippet in ("AutoModelForSequenceClassification.from_pretrained", 'pipeline("text-classification"',
                    "trust_remote_code=True", "| embedding_dim | 16 |"):  # fmt: skip
        assert snippet in card.text, snippet

    # without a Hub dataset id there is no model index (its `dataset.type` must be one); the results stay in the body
    model.model_card_data.dataset_id = None
    try:
        model.save_pretrained(tmp_path / "no-id")
    finally:
        model.model_card_data.dataset_id = "org/tiny-reviews"
    card = ModelCard.load(tmp_path / "no-id" / "README.md")
    assert card.data.eval_results is None and card.data.datasets is None
    assert set(card.data.metrics) == {"accuracy", "macro_f1"} and "| test | accuracy | 0.8750 |" in card.text

    # a README the user wrote is kept
    user_folder = tmp_path / "user"
    user_folder.mkdir()
    (user_folder / "README.md").write_text("# My own card\n")
    model.save_pretrained(user_folder)
    assert (user_folder / "README.md").read_text() == "# My own card\n"


# ---------------------------------------------------------------- the Hub

HUB_SCRIPT = textwrap.dedent(
    """
    import json, sys
    with_package = sys.argv[1] == "with"
    if not with_package:
        sys.modules["hf_han"] = None  # hf_han must not be importable here
    else:
        import hf_han
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer, pipeline
    repo, documents = "org/han-tiny", json.loads(sys.argv[2])
    remote = {} if with_package else {"trust_remote_code": True}
    tokenizer = AutoTokenizer.from_pretrained(repo, **remote)
    model = AutoModelForSequenceClassification.from_pretrained(repo, **remote).eval()
    base = AutoModel.from_pretrained(repo, **remote)
    with torch.no_grad():
        logits = model(**tokenizer(documents, padding=True, return_tensors="pt")).logits
    classifier = pipeline("text-classification", model=repo, **remote)
    explainer = pipeline("document-classification", model=repo, **remote)
    explanation = explainer(documents[0], explain=True)[0]
    result = {
        "model": type(model).__module__, "base": type(base).__name__, "tokenizer": type(tokenizer).__name__,
        "logits": logits.tolist(), "labels": [r["label"] for r in classifier(documents, batch_size=2)],
        "explained_sentences": len(explanation["sentences"]), "pipeline": type(explainer).__module__,
    }
    if not with_package:  # the task comes from the pipeline saved with the model
        result["inferred"] = type(pipeline(model=repo, trust_remote_code=True)).__name__
    print(json.dumps(result))
    """
)


def test_push_to_hub_and_load_by_repository_id(trained, tmp_path, fake_hub):
    model, tokenizer, _ = trained
    model.push_to_hub("org/han-tiny")
    tokenizer.push_to_hub("org/han-tiny")
    files = fake_hub.repos["org/han-tiny"]
    expected = {
        "config.json", "model.safetensors", "configuration_han.py", "modeling_han.py", "pipeline_han.py",
        "tokenization_han.py", "tokenizer.json", "tokenizer_config.json", "README.md",
    }  # fmt: skip
    assert expected <= set(files)
    # the code for trust_remote_code: the four files the configs name, each self-contained (checked below by loading)
    assert {name for name in files if name.endswith(".py")} == {
        "configuration_han.py",
        "modeling_han.py",
        "pipeline_han.py",
        "tokenization_han.py",
    }
    card = ModelCard(files["README.md"].decode())
    assert "generated by hf-han" in card.text and "org/han-tiny" in card.text  # pushing the tokenizer kept it
    assert card.data.pipeline_tag == "text-classification"

    hf_home = tmp_path / "hf_home"
    fake_hub.write_cache(hf_home, "org/han-tiny")
    env = dict(os.environ, HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    reference = _direct_logits(model, tokenizer, DOCUMENTS)
    for mode in ("with", "without"):
        result = subprocess.run(
            [sys.executable, "-c", HUB_SCRIPT, mode, json.dumps(DOCUMENTS)],
            cwd=tmp_path, env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        loaded = json.loads(result.stdout.strip().splitlines()[-1])
        torch.testing.assert_close(torch.tensor(loaded["logits"]), reference, rtol=0, atol=1e-6)
        assert loaded["labels"] == [model.config.id2label[int(i)] for i in reference.argmax(-1)]
        assert loaded["base"] == "HANModel" and loaded["tokenizer"] == "HANTokenizer"
        assert loaded["explained_sentences"] == 3
        if mode == "with":
            assert loaded["model"] == "hf_han.modeling_han" and loaded["pipeline"] == "hf_han.pipeline_han"
        else:
            assert loaded["model"].startswith("transformers_modules")
            assert loaded["pipeline"].startswith("transformers_modules")
            assert loaded["inferred"] == "DocumentClassificationPipeline"


def test_the_explain_example_writes_both_pictures(trained, tmp_path, capsys):
    _, _, folder = trained
    sys.path.insert(0, str(os.path.join(os.path.dirname(__file__), "..", "examples")))
    import explain

    explanation = explain.main(
        ["--model", str(folder), "--text", DOCUMENTS[1], "--output_dir", str(tmp_path), "--name", "picture"]
    )
    assert (tmp_path / "picture.html").read_text().count('class="row"') == len(explanation["sentences"]) == 3
    assert (tmp_path / "picture.png").read_bytes()[:4] == b"\x89PNG"
    assert "Prediction:" in capsys.readouterr().out
