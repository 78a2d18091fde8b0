"""Careless or hostile input at every entry point ends in a defined result or an error that names the cause."""

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from huggingface_hub import ModelCard
from transformers import pipeline

from hf_han import DataCollatorForDocumentClassification, HANConfig, HANForDocumentClassification, HANTokenizer
from hf_han.visualization_han import attention_to_html, attention_to_markdown, save_attention_png


ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["A good film. I loved it!", "A bad film. I hated it.", "Good acting, bad plot.", "Loved the plot."] * 4


def tiny_model(vocab_size: int, **overrides) -> HANForDocumentClassification:
    torch.manual_seed(0)
    config = dict(vocab_size=vocab_size, embedding_dim=8, word_hidden_size=4, sentence_hidden_size=4, attention_dim=4)
    return HANForDocumentClassification(HANConfig(**{**config, "num_labels": 2, **overrides})).eval()


@pytest.fixture(scope="module")
def tokenizer() -> HANTokenizer:
    return HANTokenizer(max_sentences=4, max_words=6).train_new_from_iterator(TEXTS, 100, show_progress=False)


@pytest.fixture(scope="module")
def folder(tokenizer, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("han")
    tiny_model(len(tokenizer)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


# ---------------------------------------------------------------- the tokenizer must be the model's


def test_a_model_folder_without_its_tokenizer_is_refused(tokenizer, tmp_path):
    tiny_model(len(tokenizer)).save_pretrained(tmp_path)
    for task in ("text-classification", "document-classification"):
        with pytest.raises(OSError, match="has no tokenizer files.*save the tokenizer with the model"):
            pipeline(task, model=str(tmp_path))
    with pytest.raises(OSError, match="has no tokenizer files"):
        HANTokenizer.from_pretrained(tmp_path)


@pytest.mark.parametrize("words", [2, 10, 300], ids=["blank", "smaller", "larger"])
def test_a_tokenizer_that_does_not_match_the_model_is_refused(tokenizer, tmp_path, words):
    tiny_model(len(tokenizer)).save_pretrained(tmp_path)
    vocabulary = {"[PAD]": 0, "[UNK]": 1, **{f"word{i}": i for i in range(2, words)}}
    HANTokenizer(vocab=vocabulary).save_pretrained(tmp_path)
    message = f"has {words} words but the model's vocab_size is {len(tokenizer)}"
    for task in ("text-classification", "document-classification"):
        with pytest.raises(ValueError, match=message):
            pipeline(task, model=str(tmp_path))
    # a tokenizer object given to the pipeline is checked too
    model = tiny_model(len(tokenizer))
    with pytest.raises(ValueError, match=message):
        pipeline("document-classification", model=model, tokenizer=HANTokenizer(vocab=vocabulary))


MISMATCH_SCRIPT = textwrap.dedent(
    """
    import sys
    if sys.argv[1] == "without":
        sys.modules["hf_han"] = None
    else:
        import hf_han
    from transformers import pipeline
    remote = {"trust_remote_code": True} if sys.argv[1] == "without" else {}
    for task in ("text-classification", "document-classification"):
        try:
            pipeline(task, model="org/han-mismatch", **remote)
        except ValueError as error:
            print("refused:", error)
        else:
            print("accepted")
    """
)


def test_a_mismatched_repository_is_refused_with_and_without_the_package(tokenizer, tmp_path, fake_hub):
    tiny_model(len(tokenizer)).push_to_hub("org/han-mismatch")
    HANTokenizer(vocab={"[PAD]": 0, "[UNK]": 1, "film": 2}).push_to_hub("org/han-mismatch")
    fake_hub.write_cache(tmp_path / "hf_home", "org/han-mismatch")
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf_home"), HF_HUB_OFFLINE="1")
    env["HF_MODULES_CACHE"] = str(tmp_path / "modules")
    for mode in ("with", "without"):
        result = subprocess.run(
            [sys.executable, "-c", MISMATCH_SCRIPT, mode], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr[-3000:]
        lines = [line for line in result.stdout.splitlines() if line.startswith(("refused", "accepted"))]
        assert len(lines) == 2 and all("has 3 words but the model's vocab_size" in line for line in lines), lines


# ---------------------------------------------------------------- options: honoured or refused


def test_one_explained_document_is_a_list_of_one_whatever_top_k(folder):
    explainer = pipeline("document-classification", model=str(folder))
    for options in ({}, {"top_k": 1}, {"top_k": None}, {"top_k": 2}):
        result = explainer("A good film. I loved it!", explain=True, **options)
        assert isinstance(result, list) and len(result) == 1, options
        assert set(result[0]) == {"label", "score", "labels", "sentences"}
        assert len(result[0]["labels"]) == (1 if options.get("top_k") == 1 else 2)


def test_misspelt_and_misplaced_options_are_errors(folder, tokenizer):
    explainer = pipeline("document-classification", model=str(folder))
    with pytest.raises(TypeError, match="unexpected argument `explian`. Did you mean `explain`"):
        explainer("A good film.", explian=True)
    classifier = pipeline("text-classification", model=str(folder))
    with pytest.raises(TypeError, match=r"`explain`.*pipeline\('document-classification'"):
        classifier("A good film.", explain=True)
    with pytest.raises(TypeError, match="unexpected argument `max_sentence`. Did you mean `max_sentences`"):
        tokenizer("A good film.", max_sentence=2)
    with pytest.raises(ValueError, match="`max_length=512`.*max_sentences"):
        tokenizer("A good film.", max_length=512)
    # the options that do apply still work through the pipeline
    assert explainer("A good film. I loved it!", explain=True, max_sentences=1)[0]["sentences"][0]["text"] == (
        "A good film."
    )
    assert len(explainer("A good film. I loved it!", explain=True, max_sentences=1)[0]["sentences"]) == 1


# ---------------------------------------------------------------- inputs the model and collator refuse or define


@pytest.mark.parametrize("value", [-1, 2, 0.5])
def test_attention_mask_values_other_than_0_and_1_are_errors(value):
    model = tiny_model(20)
    input_ids = torch.randint(1, 20, (2, 3, 4))
    mask = torch.ones(2, 3, 4, dtype=torch.long if isinstance(value, int) else torch.float)
    mask[0, 1, 2] = value
    with pytest.raises(ValueError, match=rf"must hold 1 for real words and 0 for padding, got also \[{value}\]"):
        model(input_ids, mask)
    with pytest.raises(ValueError, match="must hold 1 for real words and 0 for padding"):
        DataCollatorForDocumentClassification()([{"input_ids": [[3, 4]], "attention_mask": [[1, value]]}])


def test_any_integer_dtype_gives_the_same_logits():
    model = tiny_model(20)
    input_ids = torch.randint(1, 20, (2, 3, 4))
    with torch.no_grad():
        expected = model(input_ids).logits
        for dtype in (torch.uint8, torch.int16, torch.int32):
            torch.testing.assert_close(model(input_ids.to(dtype)).logits, expected, rtol=0, atol=0)


def test_the_collator_refuses_ids_that_are_not_whole_numbers():
    collator = DataCollatorForDocumentClassification()
    with pytest.raises(ValueError, match="`input_ids` must hold integers, got float values such as 3.7"):
        collator([{"input_ids": [[3.7, 2]]}])
    with pytest.raises(ValueError, match="`input_ids` must hold integers, got str values such as 'a'"):
        collator([{"input_ids": [["a", 2]]}])
    assert collator([{"input_ids": [[3.0, 2.0]]}])["input_ids"].tolist() == [[[3, 2]]]  # whole numbers are ids


def test_an_empty_batch_encodes_to_empty_arrays(tokenizer):
    assert tuple(tokenizer([], padding=True, return_tensors="pt")["input_ids"].shape) == (0, 0, 0)
    assert tokenizer([], padding="max_length", return_tensors="np")["input_ids"].shape == (0, 4, 6)
    assert tokenizer([])["input_ids"] == []


def test_lone_surrogates_read_as_unknown_and_stay_out_of_the_vocabulary():
    trained = HANTokenizer().train_new_from_iterator(["good \ud800 film.", "good film"], 100, show_progress=False)
    assert "\ud800" not in trained.get_vocab()
    good, film = trained.convert_tokens_to_ids(["good", "film"])
    assert trained("good \ud800 film")["input_ids"] == [[good, trained.unk_token_id, film]]
    with pytest.raises(ValueError, match="not Unicode text"):
        HANTokenizer(vocab={"[PAD]": 0, "[UNK]": 1, "\udc80": 2})


# ---------------------------------------------------------------- hostile text in pictures and cards

HOSTILE = "<img src=x onerror=alert(1)>"
OVERRIDE = "\u202e"


def _hostile_explanation() -> dict:
    words = [f"{HOSTILE}", "a|b", f"{OVERRIDE}evil", "*bold*", "$x$"]
    spans = [{"word": word, "start": 0, "end": 1, "attention": 0.2} for word in words]
    return {
        "label": f"pos{HOSTILE}|{OVERRIDE}",
        "score": 0.9,
        "labels": [],
        "sentences": [{"text": "t", "start": 0, "end": 1, "attention": 1.0, "words": spans}],
    }


def test_pictures_escape_markup_and_drop_direction_overrides(tmp_path):
    explanation = _hostile_explanation()
    page = attention_to_html(explanation)
    markdown = attention_to_markdown(explanation)
    for rendered in (page, markdown):
        assert "<img" not in rendered and OVERRIDE not in rendered
        assert "&lt;img" in rendered
    assert "a\\|b" in markdown and "\\*bold\\*" in markdown
    assert save_attention_png(explanation, tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"  # "$x$" is text


def test_model_cards_escape_labels_dataset_names_and_metrics(tmp_path):
    hostile_labels = {0: f"neg{HOSTILE}", 1: f"pos|{OVERRIDE}x"}
    model = tiny_model(20, id2label=hostile_labels, label2id={v: k for k, v in hostile_labels.items()})
    card_data = model.model_card_data
    card_data.dataset_name = f"reviews {HOSTILE}{OVERRIDE}"
    card_data.dataset_id = "org/reviews"
    card_data.eval_results = {"test": {f"acc|{HOSTILE}": 0.5}}
    card_data.model_id = 'org/han"```\nimport os'
    card_data.example_text = "``` escape attempt"
    card_data.training_log = [{"epoch": 1, f"loss{HOSTILE}": f"0.5{OVERRIDE}"}]
    model.save_pretrained(tmp_path)
    text = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "<img" not in text and OVERRIDE not in text
    assert "pos\\|x" in text and "acc\\|&lt;img" in text
    # the code blocks stay closed: the only ``` of the body are the template's own fences
    _, front_matter, body = text.split("---\n", 2)
    assert body.count("```") == 6
    metadata = yaml.safe_load(front_matter)
    flat = json.dumps(metadata)
    assert "<img" not in flat and "\\u202e" not in flat.lower()
    card = ModelCard(text)  # valid card metadata
    (result,) = card.data.eval_results
    assert result.dataset_type == "org/reviews" and result.dataset_name.startswith("reviews &lt;img")


# ---------------------------------------------------------------- run_classification.py on bad data

sys.path.insert(0, str(ROOT / "examples"))
import run_classification  # noqa: E402


TINY = ["--embedding_dim", "8", "--word_hidden_size", "4", "--sentence_hidden_size", "4", "--attention_dim", "4",
        "--min_frequency", "1", "--per_device_train_batch_size", "8", "--disable_tqdm", "true",
        "--dataloader_pin_memory", "false", "--warmup_steps", "0", "--max_steps", "1"]  # fmt: skip


def _csv(path: Path, rows: list[dict], encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _run(tmp_path: Path, *arguments: str) -> dict:
    return run_classification.main(["--output_dir", str(tmp_path / "out"), *TINY, *arguments])


def _labelled(texts: list, labels=("positive", "negative")) -> list[dict]:
    return [{"text": text, "label": labels[i % len(labels)]} for i, text in enumerate(texts)]


def test_an_empty_test_cell_is_predicted_as_an_empty_document(tmp_path):
    train = _csv(tmp_path / "train.csv", _labelled(TEXTS))
    test = _csv(tmp_path / "test.csv", _labelled(["", "A good film."]))
    _run(tmp_path, "--train_file", str(train), "--test_file", str(test), "--do_train", "--do_predict")
    predictions = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert [prediction["text"] for prediction in predictions] == ["", "A good film."]
    assert (tmp_path / "out" / "README.md").is_file()


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        (list(range(20)), ("a", "b"), r"text column 'text' of the train split holds int64 values, not text"),
        ([""] * 20, ("a", "b"), r"text column 'text' of the train split is empty"),
        (
            [f"word{i}" for i in range(18)] + ["", ""],
            ("a", "b"),
            "No word of the training split's column 'text' is seen",
        ),
        (TEXTS, ("a",), r"hold 1 class\(es\) \['a'\]; a classifier needs at least two"),
        (TEXTS[:1], ("a", "b"), r"training split has 1 document\(s\): too few to hold out a validation split"),
    ],
    ids=["numbers", "empty", "no-words", "one-class", "one-row"],
)
def test_bad_training_data_names_the_cause(tmp_path, texts, labels, message):
    train = _csv(tmp_path / "train.csv", _labelled(texts, labels))
    with pytest.raises(ValueError, match=message):
        _run(tmp_path, "--train_file", str(train), "--do_train", "--do_eval", "--min_frequency", "2")


def test_a_file_in_another_encoding_names_the_option_and_loads_with_it(tmp_path):
    train = _csv(tmp_path / "train.csv", _labelled([f"Un café {i}. Très bon!" for i in range(16)]), "latin-1")
    with pytest.raises(ValueError, match="could not be read as csv: 'utf-8' codec.*give its encoding with --encoding"):
        _run(tmp_path, "--train_file", str(train), "--do_train")
    _run(tmp_path, "--train_file", str(train), "--do_train", "--encoding", "latin-1")
    assert "café" in HANTokenizer.from_pretrained(tmp_path / "out").get_vocab()


def test_a_lone_surrogate_in_a_json_file_is_named(tmp_path):
    rows = [{"text": "good \ud800 film." if i == 0 else f"film {i}.", "label": "ab"[i % 2]} for i in range(16)]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(ValueError, match=r"could not be read as json: .*lone UTF-16 surrogate"):
        _run(tmp_path, "--train_file", str(train), "--do_train")
