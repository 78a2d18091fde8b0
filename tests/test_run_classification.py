"""examples/run_classification.py end to end on tiny on-the-fly datasets: outputs, labels, errors, resume, DDP, push"""

import argparse
import csv
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from unittest.mock import PropertyMock, patch

import pytest
import torch
from huggingface_hub import ModelCard
from safetensors.torch import load_file, save_file
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from hf_han import HANForDocumentClassification, HANTokenizer


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
import corpus_preparation  # noqa: E402
import run_classification  # noqa: E402
import skipgram_vectors  # noqa: E402
import training_schedule  # noqa: E402
from training_schedule import fit_schedule  # noqa: E402


GOOD = ["great film.", "i loved it!", "wonderful acting.", "a superb story.", "brilliant and moving."]
BAD = ["awful film.", "i hated it!", "terrible acting.", "a boring story.", "dull and dreadful."]
NEUTRAL = ["it was a film.", "the story is set in paris.", "it lasts two hours.", "there are four actors."]
TINY_MODEL = [
    "--embedding_dim", "16", "--word_hidden_size", "8", "--sentence_hidden_size", "8", "--attention_dim", "8",
    "--min_frequency", "1", "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "16",
    "--disable_tqdm", "true", "--dataloader_pin_memory", "false", "--warmup_steps", "0",
]  # fmt: skip


def documents(kind: str, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pool = {"positive": GOOD, "negative": BAD, "neutral": NEUTRAL}[kind]
    return [" ".join(rng.choice(pool) for _ in range(rng.randint(2, 4))) for _ in range(count)]


def write_rows(path: Path, rows: list[dict]) -> Path:
    if path.suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def sentiment_rows(count: int, seed: int, label_of=lambda kind: kind, text_key="text", label_key="label"):
    rows = []
    for i, kind in enumerate(["positive", "negative"] * (count // 2)):
        rows.append({text_key: documents(kind, 1, seed + i)[0], label_key: label_of(kind)})
    return rows


def run(output_dir: Path, *arguments: str) -> dict:
    return run_classification.main(["--output_dir", str(output_dir), *TINY_MODEL, *arguments])


def test_csv_with_string_labels_trains_evaluates_predicts_and_saves_everything(tmp_path):
    train = write_rows(tmp_path / "train.csv", sentiment_rows(64, 0, text_key="review", label_key="sentiment"))
    validation = write_rows(tmp_path / "dev.csv", sentiment_rows(16, 100, text_key="review", label_key="sentiment"))
    test = write_rows(tmp_path / "test.csv", sentiment_rows(16, 200, text_key="review", label_key="sentiment"))
    out = tmp_path / "out"
    results = run(
        out,
        "--train_file", str(train), "--validation_file", str(validation), "--test_file", str(test),
        "--do_train", "--do_eval", "--do_predict", "--num_train_epochs", "6", "--learning_rate", "1e-2",
    )  # fmt: skip

    for name in (
        "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "configuration_han.py",
        "modeling_han.py", "tokenization_han.py", "pipeline_han.py", "all_results.json", "README.md",
        "predictions.jsonl", "attention.png", "training_curves.png", "confusion_matrix.png",
    ):  # fmt: skip
        assert (out / name).is_file(), name
    for picture in ("attention.png", "training_curves.png", "confusion_matrix.png"):
        assert (out / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", picture
    assert not list(out.glob("*.bin")) or list(out.glob("*.bin")) == [out / "training_args.bin"]

    all_results = json.loads((out / "all_results.json").read_text())
    for key in ("train_loss", "eval_accuracy", "eval_macro_f1", "test_accuracy", "test_macro_f1"):
        assert key in all_results
    assert results["test_accuracy"] >= 0.9  # the words decide the label: an easy task

    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert isinstance(model, HANForDocumentClassification)
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert model.config.label2id == {"negative": 0, "positive": 1}
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert isinstance(tokenizer, HANTokenizer)
    tokenizer.check_model_compatibility(model)
    with torch.no_grad():
        logits = model(**tokenizer(["i loved it! wonderful acting.", "i hated it!"], return_tensors="pt")).logits
    assert logits.argmax(-1).tolist() == [1, 0]

    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 16 and {p["label"] for p in predictions} <= {"negative", "positive"}
    # a line per test row, in the file's order (transformers reads evaluation batches grouped by length when
    # training is, which must not reorder them): scored against the file, they give the Trainer's accuracy
    with open(test, newline="") as handle:
        gold = [row["sentiment"] for row in csv.DictReader(handle)]
    correct = [prediction["label"] == label for prediction, label in zip(predictions, gold, strict=True)]
    assert sum(correct) / len(correct) == pytest.approx(results["test_accuracy"])

    card = ModelCard.load(out / "README.md")
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "text-classification"
    assert {"accuracy", "macro_f1"} <= set(card.data.metrics)
    # local files have no Hub dataset id, so the results are in the card's table, not in a model index
    assert card.data.eval_results is None
    assert f"| test | accuracy | {results['test_accuracy']:.4f} |" in card.text
    assert "learning_rate | 0.01" in card.text and "Training results" in card.text
    assert "What the model looks at" in card.text and "![Attention on an example document](attention.png)" in card.text
    assert "![Confusion matrix on the test split](confusion_matrix.png)" in card.text
    assert "(training_curves.png)" in card.text


def test_jsonl_with_integer_labels_and_a_carved_validation_split(tmp_path):
    rows = sentiment_rows(60, 0, label_of={"positive": 2, "negative": 0}.get)
    rows += [{"text": text, "label": 1} for text in documents("neutral", 30, 7)]
    train = write_rows(tmp_path / "train.jsonl", rows)
    out = tmp_path / "out"
    overrides = "attention=structured,attention_hops=2,attention_penalty=0.5,context=left"
    results = run(out, "--train_file", str(train), "--do_train", "--do_eval", "--max_steps", "3",
                  "--config_overrides", overrides)  # fmt: skip
    assert results["eval_samples"] == 9  # 10% of 90, held out with the seed
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "0", "1": "1", "2": "2"}
    assert config["problem_type"] == "single_label_classification"
    assert (config["attention"], config["attention_hops"], config["attention_penalty"], config["context"]) == (
        "structured",
        2,
        0.5,
        "left",
    )
    with pytest.raises(ValueError, match="attention_hops"):  # validated like any HANConfig
        run(tmp_path / "bad", "--train_file", str(train), "--do_train", "--config_overrides", "attention_hops=3")


def test_multi_label_lists(tmp_path):
    rows = []
    for i in range(48):
        labels = [label for label, on in (("action", i % 2 == 0), ("comedy", i % 3 == 0)) if on]
        text = " ".join(["explosions and car chases." if "action" in labels else "a quiet walk.",
                         "jokes and laughter." if "comedy" in labels else "a long silence."])  # fmt: skip
        rows.append({"text": text, "genres": labels})
    train = write_rows(tmp_path / "train.jsonl", rows)
    out = tmp_path / "out"
    results = run(out, "--train_file", str(train), "--do_train", "--do_eval", "--label_column_name", "genres",
                  "--num_train_epochs", "8", "--learning_rate", "1e-2")  # fmt: skip
    config = json.loads((out / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert config["label2id"] == {"action": 0, "comedy": 1}
    assert {"eval_accuracy", "eval_f1", "eval_macro_f1"} <= set(results)
    # no confusion matrix for several labels per document; the curves are drawn all the same
    assert (out / "training_curves.png").is_file() and not (out / "confusion_matrix.png").exists()


def test_a_missing_text_column_names_the_columns_found(tmp_path):
    train = write_rows(
        tmp_path / "train.csv", [{"body_text": "a film.", "label": "x"}, {"body_text": "b.", "label": "y"}]
    )
    with pytest.raises(ValueError, match=r"No text column found among the columns \['body_text', 'label'\]"):
        run(tmp_path / "out", "--train_file", str(train), "--do_train")
    with pytest.raises(ValueError, match=r"--text_column_name 'review' is not a column"):
        run(tmp_path / "out", "--train_file", str(train), "--do_train", "--text_column_name", "review")


def test_the_data_must_be_named(tmp_path):
    with pytest.raises(ValueError, match=r"exactly one of --dataset_name .*--offline_dataset.*; got none"):
        run(tmp_path / "out", "--do_train")
    train = write_rows(tmp_path / "train.csv", sentiment_rows(8, 0))
    with pytest.raises(ValueError, match="got --offline_dataset and --train_file"):
        run(tmp_path / "out", "--do_train", "--offline_dataset", "imdb", "--train_file", str(train))
    with pytest.raises(ValueError, match=r"--offline_dataset must be one of \('imdb', '20newsgroups'\)"):
        run(tmp_path / "out", "--do_train", "--offline_dataset", "yelp")


def test_unknown_test_labels_are_an_error(tmp_path):
    train = write_rows(tmp_path / "train.csv", sentiment_rows(16, 0))
    test = write_rows(tmp_path / "test.csv", [{"text": "a film.", "label": "mixed"}])
    with pytest.raises(ValueError, match=r"Labels \['mixed'\] are not among the model's labels"):
        run(tmp_path / "out", "--train_file", str(train), "--test_file", str(test), "--do_train", "--do_predict",
            "--max_steps", "1")  # fmt: skip


def test_resuming_from_a_checkpoint_continues_where_training_stopped(tmp_path):
    train = write_rows(tmp_path / "train.csv", sentiment_rows(64, 0))
    common = ["--train_file", str(train), "--do_train", "--save_strategy", "steps", "--save_steps", "3",
              "--eval_strategy", "no", "--load_best_model_at_end", "false", "--save_total_limit", "5",
              # a schedule that does not depend on max_steps, so that 3 + 3 steps follow the same one as 6
              "--lr_scheduler_type", "constant"]  # fmt: skip

    straight = tmp_path / "straight"
    run(straight, *common, "--max_steps", "6")
    interrupted = tmp_path / "interrupted"
    run(interrupted, *common, "--max_steps", "3")  # stands for a run stopped after its checkpoint at step 3
    assert (interrupted / "checkpoint-3").is_dir()
    tampered = tmp_path / "tampered"
    shutil.copytree(interrupted, tampered)
    run(interrupted, *common, "--max_steps", "6", "--resume_from_checkpoint", "last")

    state = json.loads((interrupted / "trainer_state.json").read_text())
    assert state["global_step"] == 6
    resumed, reference = load_file(interrupted / "model.safetensors"), load_file(straight / "model.safetensors")
    for name, tensor in reference.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=1e-5, atol=1e-6, msg=name)

    # and the weights do come from the checkpoint: a change made there is still visible after resuming
    weights = load_file(tampered / "checkpoint-3" / "model.safetensors")
    weights["classifier.bias"] += 10.0
    save_file(weights, tampered / "checkpoint-3" / "model.safetensors", metadata={"format": "pt"})
    run(tampered, *common, "--max_steps", "6", "--resume_from_checkpoint", str(tampered / "checkpoint-3"))
    assert (load_file(tampered / "model.safetensors")["classifier.bias"] - reference["classifier.bias"]).min() > 9


def test_push_to_hub_uploads_what_a_fresh_user_needs(tmp_path, fake_hub):
    train = write_rows(tmp_path / "train.csv", sentiment_rows(32, 0))
    out = tmp_path / "out"
    run(out, "--train_file", str(train), "--do_train", "--max_steps", "2", "--push_to_hub",
        "--hub_model_id", "org/han-tiny", "--hub_strategy", "end")  # fmt: skip

    files = fake_hub.repos["org/han-tiny"]
    for name in (
        "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "configuration_han.py",
        "modeling_han.py", "tokenization_han.py", "pipeline_han.py", "README.md",
    ):  # fmt: skip
        assert name in files, name
    assert len([path for path in files if path.endswith(".py")]) == 4
    assert not any(path.startswith(("checkpoint-", "_")) for path in files)
    card = files["README.md"].decode()
    assert "org/han-tiny" in card and "generated by hf-han" in card
    assert json.loads(files["config.json"])["auto_map"]["AutoModelForSequenceClassification"] == (
        "modeling_han.HANForDocumentClassification"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


LAUNCHERS = {
    "torchrun": [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"],
    # `--cpu --num_processes 2` would start one process; this starts two, which the script keeps on the CPU
    "accelerate": [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                   "--num_machines", "1", "--num_cpu_threads_per_process", "1"],
}  # fmt: skip


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_two_process_ddp_on_cpu(tmp_path, launcher):
    train = write_rows(tmp_path / "train.csv", sentiment_rows(64, 0))
    out = tmp_path / "out"
    command = [
        *LAUNCHERS[launcher], "--main_process_port" if launcher == "accelerate" else "--master_port",
        str(_free_port()), str(ROOT / "examples" / "run_classification.py"), "--output_dir", str(out), *TINY_MODEL,
        "--train_file", str(train), "--do_train", "--do_eval", "--max_steps", "4", "--ddp_backend", "gloo",
        "--use_cpu", "true",
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "Process rank 0 of 2" in log and "Process rank 1 of 2" in log
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    # 2 processes x 8 documents per step: the 57 training documents take 4 steps per epoch
    assert state["num_train_epochs"] >= 1 and state["train_batch_size"] == 8
    model = HANForDocumentClassification.from_pretrained(out)
    tokenizer = HANTokenizer.from_pretrained(out)
    with torch.no_grad():
        assert model(**tokenizer(["great film."], return_tensors="pt")).logits.shape == (1, 2)


def test_word_vectors_from_a_file_and_from_skip_gram_training(tmp_path):
    train = write_rows(tmp_path / "train.csv", sentiment_rows(32, 0))
    vectors = tmp_path / "vectors.txt"  # GloVe format: no header line
    vectors.write_text("film " + " ".join(["0.5"] * 16) + "\nunseenword " + " ".join(["1.0"] * 16) + "\n")
    out = tmp_path / "from_file"
    run(out, "--train_file", str(train), "--do_train", "--max_steps", "1", "--learning_rate", "1e-9",
        "--word_vectors", str(vectors), "--freeze_word_embeddings", "true")  # fmt: skip
    model = HANForDocumentClassification.from_pretrained(out)
    tokenizer = HANTokenizer.from_pretrained(out)
    row = model.get_input_embeddings().weight[tokenizer.convert_tokens_to_ids("film")]
    assert torch.equal(row, torch.full((16,), 0.5))  # frozen: unchanged by training
    assert model.config.freeze_word_embeddings

    assert not (out / "_word_vectors").exists()  # the file's vectors, not skip-gram ones

    pytest.importorskip("gensim")
    out = tmp_path / "skipgram"  # skip-gram vectors are the default for a new HAN
    run(out, "--train_file", str(train), "--do_train", "--max_steps", "1", "--word_vectors_epochs", "2")
    learned = (out / "_word_vectors" / "skipgram.txt").read_text().splitlines()
    assert learned[0].split() == [str(len(learned) - 1), "16"] and len(learned) > 10
    assert sorted(path.name for path in (out / "_word_vectors").iterdir()) == ["skipgram.txt"]  # no corpus left
    out = tmp_path / "random"
    run(out, "--train_file", str(train), "--do_train", "--max_steps", "1", "--train_word_vectors", "false")
    assert not (out / "_word_vectors").exists()


def test_continuing_from_a_trained_model_keeps_its_tokenizer_and_labels(tmp_path):
    train = write_rows(tmp_path / "train.csv", sentiment_rows(32, 0))
    first = tmp_path / "first"
    run(first, "--train_file", str(train), "--do_train", "--max_steps", "2", "--max_sentences", "3",
        "--max_words", "6", "--long_sentences", "cut")  # fmt: skip
    second = tmp_path / "second"
    run(second, "--train_file", str(train), "--do_train", "--max_steps", "2", "--model_name_or_path", str(first))
    tokenizer = HANTokenizer.from_pretrained(second)
    assert (tokenizer.max_sentences, tokenizer.max_words, tokenizer.long_sentences) == (3, 6, "cut")
    assert tokenizer.get_vocab() == HANTokenizer.from_pretrained(first).get_vocab()
    config = json.loads((second / "config.json").read_text())
    assert config["label2id"] == {"negative": 0, "positive": 1}


def _schedule_args(**overrides):
    """The example's training defaults (as parsed from an empty command line) with `overrides`."""
    arguments = ("ModelArguments", "DataTrainingArguments", "HANTrainingArguments")
    parser = run_classification.HfArgumentParser([getattr(run_classification, name) for name in arguments])
    _, data_args, training_args = parser.parse_args_into_dataclasses(args=["--output_dir", "unused"])
    for name, value in overrides.items():
        setattr(training_args, name, value)
    return data_args, training_args


def test_the_skip_gram_corpus_is_streamed_to_a_file_once(tmp_path):
    tokenizer = HANTokenizer(max_words=4, long_sentences="wrap").train_new_from_iterator(
        ["A film. It was great fun!"], 50, min_frequency=1, show_progress=False
    )
    texts = iter(["A film. It was great fun!", None, "", "Great."])  # read once, as from a dataset's batches
    sentences, words = skipgram_vectors.write_skipgram_corpus(tokenizer, texts, str(tmp_path / "corpus.txt"))
    lines = (tmp_path / "corpus.txt").read_text().splitlines()
    assert lines == ["a film .", "it was great fun", "!", "great ."]  # sentences as the tokenizer reads them
    assert (sentences, words) == (4, 10)
    # --word_vectors_max_words: no document is read once that many words are written
    texts = iter(["A film. It was great fun!", "Great.", "Fun."])
    sentences, words = skipgram_vectors.write_skipgram_corpus(tokenizer, texts, str(tmp_path / "c.txt"), max_words=5)
    assert (tmp_path / "c.txt").read_text().splitlines() == ["a film .", "it was great fun", "!"]
    assert next(texts) == "Great."


def test_a_new_vocabulary_counts_the_first_words_of_a_large_split(tmp_path):
    rows = sentiment_rows(32, 0) + [{"text": "zebra zebra zebra zebra zebra.", "label": "positive"}] * 4
    train = write_rows(tmp_path / "train.csv", rows)
    out = tmp_path / "sampled"
    run(out, "--train_file", str(train), "--do_train", "--max_steps", "1", "--train_word_vectors", "false",
        "--validation_split_percentage", "0", "--vocabulary_max_words", "100")  # fmt: skip
    vocabulary = HANTokenizer.from_pretrained(out).get_vocab()
    assert "film" in vocabulary and "zebra" not in vocabulary  # the last documents were never counted
    whole = tmp_path / "whole"
    run(whole, "--train_file", str(train), "--do_train", "--max_steps", "1", "--train_word_vectors", "false",
        "--validation_split_percentage", "0")  # fmt: skip
    assert "zebra" in HANTokenizer.from_pretrained(whole).get_vocab()  # the default reads all of a small split


def test_empty_texts_are_counted_by_arrow_through_a_selection():
    import datasets

    dataset = datasets.Dataset.from_dict({"text": ["a film", None, "", " \t\n", "fine", "\u3000"]})
    assert corpus_preparation.empty_texts(dataset, "text") == 4  # missing, empty, white space (ASCII and ideographic)
    assert corpus_preparation.empty_texts(dataset.select([0, 4, 1]), "text") == 1  # the selection's rows only


def test_the_schedule_stretches_a_small_set_and_leaves_a_large_one_or_a_given_option_alone():
    from training_schedule import MIN_STEPS, SMALL_BATCH

    data_args, training_args = _schedule_args()
    chosen = fit_schedule(training_args, data_args, set(), 200, pretrained=False)
    # 200 documents in batches of 16: 13 steps an epoch, stretched to at least MIN_STEPS steps
    assert chosen["per_device_train_batch_size"] == SMALL_BATCH == training_args.per_device_train_batch_size
    assert chosen["num_train_epochs"] == training_args.num_train_epochs == math.ceil(MIN_STEPS["scratch"] / 13)
    # evaluated (and saved) about EVALUATIONS times in all, not after each of the many short epochs
    assert training_args.eval_strategy == training_args.save_strategy == "steps"
    every = math.ceil(13 * chosen["num_train_epochs"] / training_schedule.EVALUATIONS["scratch"])
    assert training_args.eval_steps == training_args.save_steps == every
    assert chosen["early_stopping_patience"] > 2
    assert data_args.early_stopping_patience == chosen["early_stopping_patience"]

    # the whole IMDB split (1,760 steps) and the whole 20 Newsgroups split (795 steps, but a large set) as before
    for documents in (22_500, 10_164):
        data_args, training_args = _schedule_args()
        assert fit_schedule(training_args, data_args, set(), documents, pretrained=False) == {}
        assert (training_args.num_train_epochs, training_args.per_device_train_batch_size) == (5.0, 64)
        assert training_args.eval_strategy == "epoch" and data_args.early_stopping_patience == 2
        model_args = argparse.Namespace(embedding_dropout=0.0)
        assert training_schedule.fit_model_settings(model_args, set(), documents) == {}

    given = {"num_train_epochs", "per_device_train_batch_size"}
    data_args, training_args = _schedule_args(num_train_epochs=2.0, per_device_train_batch_size=64)
    assert fit_schedule(training_args, data_args, given, 200, pretrained=False) == {}
    data_args, training_args = _schedule_args(max_steps=10)
    assert fit_schedule(training_args, data_args, set(), 200, pretrained=False) == {}

    # skip-gram passes: many over a small corpus, gensim's usual 5 over one of 2M words or more (IMDB: 5.2M)
    assert skipgram_vectors.skipgram_epochs(1_000) == skipgram_vectors.SKIPGRAM_EPOCHS[1]
    assert skipgram_vectors.skipgram_epochs(200_000) == 50
    assert skipgram_vectors.skipgram_epochs(2_000_000) == skipgram_vectors.skipgram_epochs(5_200_000) == 5

    # two processes take twice the documents a step: half the steps an epoch, so about twice the epochs
    minimum = MIN_STEPS["pretrained"]
    data_args, training_args = _schedule_args(per_device_train_batch_size=16)
    one = fit_schedule(training_args, data_args, set(), 300, pretrained=True)["num_train_epochs"]
    data_args, training_args = _schedule_args(per_device_train_batch_size=16)
    with patch.object(type(training_args), "world_size", new_callable=PropertyMock, return_value=2):
        two = fit_schedule(training_args, data_args, set(), 300, pretrained=True)["num_train_epochs"]
    assert (one, two) == (math.ceil(minimum / math.ceil(300 / 16)), math.ceil(minimum / math.ceil(300 / 32)))


def test_a_small_set_trains_the_minimum_steps_with_early_stopping_and_given_epochs_are_kept(tmp_path, caplog):
    train = write_rows(tmp_path / "train.csv", sentiment_rows(48, 0))
    validation = write_rows(tmp_path / "dev.csv", sentiment_rows(16, 100))
    data = ["--train_file", str(train), "--validation_file", str(validation), "--do_train", "--learning_rate", "1e-2"]
    out = tmp_path / "fitted"
    with caplog.at_level("WARNING"):
        run(out, *data)
    schedule = json.loads((out / "schedule.json").read_text())
    # batches of 8 (given): 6 steps an epoch, stretched to the minimum number of steps, evaluated 20 times
    assert schedule["steps_per_epoch"] == 6 and schedule["train_documents"] == 48
    epochs = schedule["chosen"]["num_train_epochs"]
    assert epochs == math.ceil(training_schedule.MIN_STEPS["scratch"] / 6)
    assert "per_device_train_batch_size" not in schedule["chosen"]  # given on the command line
    # a new HAN on a small set: dropout on its embeddings, and skip-gram vectors read the few words many times over
    dropout = schedule["chosen"]["embedding_dropout"]
    assert dropout == training_schedule.EMBEDDING_DROPOUT
    assert json.loads((out / "config.json").read_text())["embedding_dropout"] == dropout
    assert schedule["chosen"]["word_vectors_epochs"] == skipgram_vectors.SKIPGRAM_EPOCHS[1]
    every = schedule["chosen"]["eval_steps"]
    assert any("Schedule for 48 training documents" in record.message for record in caplog.records)
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["num_train_epochs"] == epochs and state["eval_steps"] == every
    # an easy task: the validation accuracy stops improving, early stopping ends the run and the best is kept
    assert state["global_step"] < 6 * epochs and state["best_model_checkpoint"] is not None
    assert state["best_metric"] == 1.0

    out = tmp_path / "given"
    run(out, *data, "--num_train_epochs", "2", "--embedding_dropout", "0", "--word_vectors_epochs", "3")
    assert json.loads((out / "schedule.json").read_text())["chosen"] == {}
    assert json.loads((out / "config.json").read_text())["embedding_dropout"] == 0
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 12 and state["num_train_epochs"] == 2


def test_no_validation_split_trains_without_evaluating_and_do_eval_then_names_the_split(tmp_path):
    train = write_rows(tmp_path / "train.csv", sentiment_rows(32, 0))
    # the default --eval_strategy epoch turns TrainingArguments' do_eval on; without a validation split it goes off
    results = run(tmp_path / "out", "--train_file", str(train), "--do_train", "--max_steps", "2",
                  "--validation_split_percentage", "0")  # fmt: skip
    assert results["train_samples"] == 32 and not any(key.startswith("eval_") for key in results)
    with pytest.raises(ValueError, match="--do_eval needs a validation split"):
        run(tmp_path / "eval", "--train_file", str(train), "--do_train", "--do_eval", "--max_steps", "2",
            "--validation_split_percentage", "0")  # fmt: skip
