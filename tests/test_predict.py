"""Bulk prediction (`python -m hf_han.predict`): order, bad rows, resuming after a kill, workers, several processes."""

import csv
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from transformers import pipeline

from hf_han.predict import main

from conftest import CORPUS, save_tiny_han


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return save_tiny_han(tmp_path_factory.mktemp("han"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("inputs")
    rows = [{"id": i, "review": CORPUS[i % 4] + " " * (i % 3) + f"Scene {i}."} for i in range(150)]
    rows[7]["review"] = ""
    with open(folder / "a.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "review"])
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        json.dumps({"text": CORPUS[1]}),
        "{broken",
        json.dumps({"text": ["a list"]}),
        json.dumps({"text": CORPUS[2]}),
    ]
    (folder / "b.jsonl").write_text("\n".join(lines) + "\n")
    return [str(folder / "a.csv"), str(folder / "b.jsonl")]


def _read(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def _run(folder, inputs, output, *options):
    return main(["--model", str(folder), "--input", *inputs, "--output", str(output), "--quiet", *options])


@pytest.fixture(scope="module")
def reference(folder, inputs, tmp_path_factory) -> list[dict]:
    output = tmp_path_factory.mktemp("reference") / "predictions.jsonl"
    summary = _run(folder, inputs, output, "--batch_size", "16", "--top_sentences", "1")
    assert summary["rows"] == 154 and summary["classified"] == 151
    assert summary["bad_rows"] == {"empty": 1, "not JSON": 1, "not text (list)": 1}
    assert summary["first_bad_rows"] == [["a.csv", 8], ["b.jsonl", 2], ["b.jsonl", 3]]
    return _read(output)


def test_every_row_in_input_order_with_the_pipeline_s_labels(folder, inputs, reference):
    assert [(r["file"], r["row"]) for r in reference] == [("a.csv", i) for i in range(1, 151)] + [
        ("b.jsonl", i) for i in range(1, 5)
    ]
    assert reference[7] == {"file": "a.csv", "row": 8, "error": "empty"}
    texts = [row["review"] for row in csv.DictReader(open(inputs[0], newline="", encoding="utf-8"))]
    expected = pipeline("document-classification", model=str(folder))(texts, batch_size=8)
    for index, (record, prediction) in enumerate(zip(reference[:150], expected)):
        if index != 7:
            assert record["label"] == prediction["label"], index
            assert record["score"] == pytest.approx(prediction["score"], abs=1e-5)
            (sentence,) = record["sentences"]  # --top_sentences 1: the sentence weighed most, as written
            assert sentence["text"] in texts[index] and 0 < sentence["attention"] <= 1


def test_a_killed_run_continues_without_duplicating_or_losing_a_row(folder, inputs, reference, tmp_path):
    output = tmp_path / "predictions.jsonl"
    _run(folder, inputs, output, "--batch_size", "16", "--top_sentences", "1")
    lines = output.read_text().splitlines(keepends=True)
    # as a kill leaves it: 37 complete lines and half of the next, and the state of an unfinished run
    output.write_text("".join(lines[:37]) + lines[37][: len(lines[37]) // 2])
    state = output.with_name(output.name + ".state.json")
    state.write_text(json.dumps(dict(json.loads(state.read_text()), complete=False)))
    _run(folder, inputs, output, "--batch_size", "16", "--top_sentences", "1")
    assert _read(output) == reference
    assert json.loads(state.read_text())["complete"]
    # a finished run started again changes nothing
    before = output.read_bytes()
    _run(folder, inputs, output, "--batch_size", "16", "--top_sentences", "1")
    assert output.read_bytes() == before


def test_a_real_kill_and_restart(folder, inputs, reference, tmp_path):
    output = tmp_path / "predictions.jsonl"
    command = [sys.executable, "-m", "hf_han.predict", "--model", str(folder), "--input", *inputs, "--output",
               str(output), "--batch_size", "16", "--top_sentences", "1", "--quiet"]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    while process.poll() is None and (not output.exists() or output.stat().st_size < 2000):
        time.sleep(0.01)
    process.kill()
    process.wait()
    subprocess.run(command, check=True, capture_output=True)
    assert _read(output) == reference


def test_other_settings_never_append_to_an_output(folder, inputs, reference, tmp_path):
    output = tmp_path / "predictions.jsonl"
    _run(folder, inputs, output, "--batch_size", "16", "--top_sentences", "1")
    with pytest.raises(SystemExit, match="written with other settings"):
        _run(folder, inputs, output, "--batch_size", "16")
    _run(folder, inputs, output, "--batch_size", "16", "--overwrite")
    assert "sentences" not in _read(output)[0]
    changed = tmp_path / "changed.csv"  # an input edited since: its rows may have moved
    changed.write_text("text\nA film.\n")
    _run(folder, [str(changed)], tmp_path / "c.jsonl")
    changed.write_text("text\nA film.\nAnother.\n")
    with pytest.raises(SystemExit, match="unchanged inputs"):
        _run(folder, [str(changed)], tmp_path / "c.jsonl")
    theirs = tmp_path / "theirs.jsonl"
    theirs.write_text("a file of someone else's\n")
    with pytest.raises(SystemExit, match="not written by hf_han.predict"):
        _run(folder, inputs, theirs)
    with pytest.raises(SystemExit, match="no `text` column"):
        bad = tmp_path / "bad.csv"
        bad.write_text("title,body_text\nA,B\n")
        _run(folder, [str(bad)], tmp_path / "out.jsonl")


def test_workers_read_and_tokenize_in_order(folder, inputs, reference, tmp_path):
    output = tmp_path / "predictions.jsonl"
    _run(folder, inputs, output, "--batch_size", "16", "--top_sentences", "1", "--num_workers", "2")
    assert _read(output) == reference


@pytest.mark.parametrize("problem_type", ["multi_label_classification", "regression"])
def test_other_problem_types(tmp_path, inputs, problem_type):
    model = save_tiny_han(tmp_path / "model", problem_type)
    output = tmp_path / "predictions.jsonl"
    _run(model, inputs, output)
    record = _read(output)[0]
    if problem_type == "regression":
        assert isinstance(record["value"], float) and "label" not in record
    else:
        assert isinstance(record["labels"], list) and all(item["score"] >= 0.5 for item in record["labels"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_each_take_a_shard_and_the_output_is_merged_in_order(folder, inputs, reference, tmp_path):
    output = tmp_path / "predictions.jsonl"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
               str(_free_port()), "-m", "hf_han.predict", "--model", str(folder), "--input", *inputs, "--output",
               str(output), "--batch_size", "16", "--top_sentences", "1", "--quiet"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert _read(output) == reference
    assert not list(tmp_path.glob("predictions.jsonl.rank*"))  # shards merged and removed


def test_two_processes_killed_halfway_continue_their_shards(folder, inputs, reference, tmp_path):
    output = tmp_path / "predictions.jsonl"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
               str(_free_port()), "-m", "hf_han.predict", "--model", str(folder), "--input", *inputs, "--output",
               str(output), "--batch_size", "4", "--top_sentences", "1", "--quiet"]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    shards = [tmp_path / f"predictions.jsonl.rank{rank}" for rank in range(2)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    while process.poll() is None and not all(shard.exists() and shard.stat().st_size > 1500 for shard in shards):
        time.sleep(0.01)
    os.killpg(process.pid, 9)  # the launcher and both processes, mid-write
    process.wait()
    assert all(shard.exists() for shard in shards) and not output.exists(), "the run ended before it was killed"
    command[command.index("--master_port") + 1] = str(_free_port())
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _read(output) == reference
