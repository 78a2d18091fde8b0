"""The Gradio demo (`python -m hf_han.demo`): its answers, bad input, its app through gradio_client and a browser,
and the Space it writes, run in a fresh process where hf-han is absent."""

import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from transformers import pipeline

from hf_han import HANConfig, HANForDocumentClassification, HANTokenizer
from hf_han.demo import HANDemo, build_demo

from conftest import CORPUS, save_tiny_han


os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from the test machine
gradio = pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return save_tiny_han(tmp_path_factory.mktemp("han"))


@pytest.fixture(scope="module")
def demo(folder) -> HANDemo:
    return build_demo(str(folder))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- one document


def test_a_document_gets_its_labels_and_its_attention_in_its_own_spacing(demo, folder):
    assert demo.title == "tiny reviews" and demo.examples == CORPUS[:2]  # from the card
    labels, page, message = demo.classify(CORPUS[0])
    expected = pipeline("document-classification", model=str(folder))(CORPUS[0], top_k=None)
    assert labels == pytest.approx({item["label"]: item["score"] for item in expected})
    assert sum(labels.values()) == pytest.approx(1.0)
    assert page.count('class="row"') == 2 and page.count('class="w"') == 11  # 2 sentences, 11 words
    assert "</span>.</span>" not in page and ">film</span>" in page and ">.</span>" in page
    assert message == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Paste or type a document"),
        ("   \n ", "Paste or type a document"),
        (None, "Paste or type a document"),
        ("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f" * 50, "binary data"),
    ],
)
def test_no_document_gets_a_message_and_no_prediction(demo, text, expected):
    labels, page, message = demo.classify(text)
    assert labels is None and page == "" and expected in message


def test_a_very_long_document_is_cut_and_said_so(demo):
    text = "A wonderful film. " * 120_000  # 2 MB
    started = time.perf_counter()
    labels, page, message = demo.classify(text)
    assert labels is not None and "first 100,000" in message and "2,160,000 characters" in message
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize("problem_type", ["multi_label_classification", "regression"])
def test_other_problem_types_are_answered_as_fits_them(tmp_path, problem_type):
    demo = build_demo(str(save_tiny_han(tmp_path, problem_type)))
    labels, page, message = demo.classify(CORPUS[1])
    if problem_type == "regression":
        assert labels is None and message.startswith("Predicted value: ") and "Predicted value" in page
    else:
        assert set(labels) == {"acting", "plot", "pace"} and "each probability is that label's own" in message
        assert sum(labels.values()) != pytest.approx(1.0)  # independent sigmoids
    path, summary = demo.classify_file(str(_write_csv(tmp_path / "docs.csv", [{"text": CORPUS[0]}])))
    assert "Classified 1 documents" in summary and path is not None


def _save_kind(folder: Path, kind: str) -> Path:
    """A tiny model of each kind the package saves: subword vocabulary, pretrained word encoder, the variants."""
    sizes = dict(embedding_dim=8, word_hidden_size=4, sentence_hidden_size=4, attention_dim=8, num_labels=2)
    torch.manual_seed(0)
    if kind == "pretrained_encoder":
        from transformers import BertConfig, BertModel, BertTokenizer

        vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted({w.strip(".,!").lower() for t in CORPUS
                 for w in t.split()}), ".", ",", "!"]  # fmt: skip
        BertTokenizer(vocab={token: i for i, token in enumerate(vocab)}).save_pretrained(folder / "bert")
        bert = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=20, max_position_embeddings=64)  # fmt: skip
        BertModel(bert).save_pretrained(folder / "bert")
        tokenizer = HANTokenizer.from_pretrained_tokenizer(str(folder / "bert"), max_words=16)
        model = HANForDocumentClassification.from_word_encoder(
            str(folder / "bert"), num_labels=2, sentence_hidden_size=4, attention_dim=8
        )
    else:
        subword = "bpe" if kind == "subword" else None
        tokenizer = HANTokenizer(max_words=16).train_new_from_iterator(
            CORPUS * 4, 120, subword=subword, show_progress=False
        )
        variant = {"cahan": {"context": "bidirectional", "context_gate": True},
                   "structured": {"attention": "structured", "attention_hops": 2}}.get(kind, {})  # fmt: skip
        config = HANConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **sizes, **variant)
        model = HANForDocumentClassification(config)
    model.eval().save_pretrained(folder / "han")
    tokenizer.save_pretrained(folder / "han")
    return folder / "han"


@pytest.mark.parametrize("kind", ["subword", "pretrained_encoder", "cahan", "structured"])
def test_every_kind_of_saved_model_is_served(tmp_path, kind):
    demo = build_demo(str(_save_kind(tmp_path, kind)))
    labels, page, message = demo.classify(CORPUS[0])
    assert len(labels) == 2 and sum(labels.values()) == pytest.approx(1.0)
    visible = re.sub(r"<[^>]+>", "", page)
    assert "A wonderful film." in visible and "I loved every minute of it!" in visible  # words, not pieces


# ---------------------------------------------------------------- files


def _write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _read_predictions(path: str) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_a_csv_is_classified_in_order_and_bad_rows_are_reported(demo, folder, tmp_path):
    rows = [{"id": i, "review": CORPUS[i % 4]} for i in range(70)]
    rows[3]["review"] = "   "
    rows[5]["review"] = "A wonderful film. " * 12_000  # 216,000 characters: past the csv module's default limit
    path = _write_csv(tmp_path / "reviews.csv", rows)
    # row 6 holds bytes that are not UTF-8
    data = path.read_bytes().replace(CORPUS[2].encode(), b"Great \xff\xfe story.", 1)
    path.write_bytes(data)
    calls = []
    output, message = demo.classify_file(str(path), progress=lambda fraction, desc: calls.append((fraction, desc)))
    predictions = _read_predictions(output)
    assert [int(p["row"]) for p in predictions] == list(range(1, 71))
    assert predictions[3]["error"] == "empty" and predictions[2]["error"] == "not UTF-8"
    assert "68 documents" in message and "2 rows were not classified" in message and "rows 3, 4" in message
    classifier = pipeline("document-classification", model=str(folder))
    expected = classifier([row["review"][:100_000] for row in rows], top_k=1)
    for index, prediction in enumerate(predictions):
        if index not in (2, 3):
            assert prediction["label"] == expected[index][0]["label"], index
    assert calls and calls[-1][0] == pytest.approx(1.0) and "docs/s" in calls[-1][1]


def test_json_lines_with_bad_records(demo, tmp_path):
    lines = [json.dumps({"text": CORPUS[0]}), "{not json", json.dumps({"text": 42}), json.dumps([1, 2]),
             json.dumps({"title": "no text"}), "", json.dumps({"text": CORPUS[1]})]  # fmt: skip
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    output, message = demo.classify_file(str(path))
    errors = [p["error"] for p in _read_predictions(output)]
    assert errors == ["", "not JSON", "not text (int)", "not a JSON object", "no text", ""]
    assert "Classified 2 documents" in message and "4 rows were not classified" in message


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("docs.csv", "title,body_text\nA,B\n", "no `text` column (columns found: `title`, `body_text`)"),
        ("docs.csv", "", "The file is empty"),
        ("docs.jsonl", "[1]\n[2]\n", "No line of the file is a JSON object"),
        ("docs.pdf", "%PDF", "give a CSV"),
    ],
)
def test_unusable_files_get_a_clear_message(demo, tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    output, message = demo.classify_file(str(path))
    assert output is None and expected in message
    assert demo.classify_file(None)[0] is None


def test_binary_junk_and_a_million_rows_are_answered_without_reading_them_all(demo, tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 400)
    output, message = demo.classify_file(str(junk))
    assert output is None and "binary data, not a CSV" in message
    big = tmp_path / "big.csv"
    with open(big, "w") as handle:
        handle.write("text\n" + "A wonderful film.\n" * 1_000_000)
    started = time.perf_counter()
    output, message = demo.classify_file(str(big))
    assert output is None and "more than 20,000 rows" in message
    assert time.perf_counter() - started < 5  # refused after counting past the limit, not after reading it all


# ---------------------------------------------------------------- the app, through gradio_client


@pytest.fixture(scope="module")
def running_app(demo):
    app = demo.build()
    _, url, _ = app.queue().launch(
        server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True
    )
    yield url
    app.close()


def test_the_app_answers_through_gradio_client(running_app, tmp_path):
    client = gradio_client.Client(running_app, verbose=False)
    labels, page, message = client.predict(CORPUS[1], api_name="/classify")
    assert labels["label"] in {"negative", "positive"} and len(labels["confidences"]) == 2
    visible = re.sub(r"<[^>]+>", "", page)  # as written, shaded word by word, a row per sentence
    assert "Prediction: " in page and "Awful acting." in visible and "The plot was boring and I left early." in visible
    output, summary = client.predict(
        gradio_client.handle_file(str(_write_csv(tmp_path / "d.csv", [{"text": t} for t in CORPUS]))),
        api_name="/classify_file",
    )
    assert "Classified 4 documents" in summary and len(_read_predictions(output)) == 4
    labels, page, message = client.predict("", api_name="/classify")
    assert "Paste or type a document" in message


# ---------------------------------------------------------------- a Space, run where hf-han is absent

RUN_WITHOUT_HF_HAN = textwrap.dedent(
    """
    import runpy, sys
    sys.modules["hf_han"] = None  # hf_han must not be importable: the Space has only its own files
    sys.argv = [sys.argv[1]]
    runpy.run_path(sys.argv[0], run_name="__main__")
    """
)


def test_the_written_space_runs_in_a_fresh_process_without_hf_han(folder, tmp_path):
    model = tmp_path / "model-folder"
    shutil.copytree(folder, model)
    space = tmp_path / "space"
    subprocess.run(
        [sys.executable, "-m", "hf_han.demo", "--model", str(model), "--write_space", str(space),
         "--space_id", "org/tiny-demo"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert {path.name for path in space.iterdir()} == {"app.py", "requirements.txt", "README.md", "model"}
    readme = (space / "README.md").read_text()
    assert "sdk: gradio" in readme and "app_file: app.py" in readme and f"sdk_version: {gradio.__version__}" in readme
    assert "gradio==" in (space / "requirements.txt").read_text()
    assert "from ." not in (space / "app.py").read_text()  # one self-contained file
    assert "huggingface.co/spaces/org/tiny-demo" in (model / "README.md").read_text()  # the card links the Space
    assert {p.name for p in (space / "model").iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json"}

    port = _free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1",
               HF_MODULES_CACHE=str(tmp_path / "modules"))  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-c", RUN_WITHOUT_HF_HAN, str(space / "app.py")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        client = _wait_for(f"http://127.0.0.1:{port}/", server)
        labels, page, message = client.predict(CORPUS[0], api_name="/classify")
        assert labels["label"] in {"negative", "positive"} and 'class="w"' in page
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "transformers_modules" not in output or "Traceback" not in output, output[-3000:]


def _wait_for(url: str, server: subprocess.Popen, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the app exited: {server.stdout.read()[-3000:]}")
        try:
            return gradio_client.Client(url, verbose=False)
        except Exception:  # not listening yet
            time.sleep(1)
    raise AssertionError(f"the app did not start within {timeout} s")


# ---------------------------------------------------------------- a real browser


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("no browser: Debian's chromium and chromium-driver are not installed (apt-get install ...)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(argument)
    from selenium.webdriver.chrome.service import Service

    return webdriver.Chrome(service=Service(driver), options=options)


def test_a_browser_submits_a_document_and_sees_labels_and_shaded_words(running_app):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser = _browser()
    try:
        browser.get(running_app)
        wait = WebDriverWait(browser, 60)
        box = wait.until(expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "textarea")))
        box.send_keys(CORPUS[0])
        browser.find_element(By.XPATH, "//button[normalize-space()='Classify']").click()
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, ".han-attention span.w"))
        words = [span.text for span in browser.find_elements(By.CSS_SELECTOR, ".han-attention span.w")]
        assert words[:4] == ["A", "wonderful", "film", "."]
        shades = [span.get_attribute("style") for span in browser.find_elements(By.CSS_SELECTOR, "span.w")]
        assert all(re.search(r"rgba?\(220, 38, 38", shade) for shade in shades), shades  # rgb() where opaque
        assert len(set(shades)) > 1  # shaded by attention, not all alike
        rows = browser.find_element(By.CSS_SELECTOR, ".han-attention").text
        assert "A wonderful film." in rows  # the text's own spacing, in the page as read
        page = browser.find_element(By.TAG_NAME, "body").text
        assert "positive" in page and "negative" in page  # the labels with their probabilities
    finally:
        browser.quit()
