"""Training on a stream: `HANDocumentStream` (each process its part, batches of similar length, replayable) and
`run_classification.py --streaming` (sample, schedule, resume, errors, two processes)."""

import json
import os
import subprocess
import threading

import datasets
import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from hf_han import HANDocumentStream, HANTokenizer

from test_run_classification import LAUNCHERS, ROOT, TINY_MODEL, _free_port, run, sentiment_rows, write_rows


def numbered_stream(count: int) -> datasets.IterableDataset:
    """Rows `i` with a text of i % 13 + 1 words, so that lengths vary."""
    rows = {"i": list(range(count)), "text": [" ".join(["w"] * (i % 13 + 1)) for i in range(count)]}
    return datasets.Dataset.from_dict(rows).to_iterable_dataset()


def word_count(batch: dict) -> dict:
    return {"i": batch["i"], "length": [len(text.split()) for text in batch["text"]]}


def read(stream, batch_size: int, workers: int = 0) -> list[list[int]]:
    loader = DataLoader(stream, batch_size=batch_size, num_workers=workers, collate_fn=lambda rows: rows)
    return [[row["i"] for row in batch] for batch in loader]


def test_each_process_reads_its_own_documents_and_together_they_read_all():
    count, parts = 203, []
    for rank in range(2):
        stream = HANDocumentStream(numbered_stream(count), word_count, batch_size=4, buffer_batches=3,
                                   process_index=rank, num_processes=2)  # fmt: skip
        parts.append([i for batch in read(stream, 4) for i in batch])
    assert not set(parts[0]) & set(parts[1])
    assert sorted(parts[0] + parts[1]) == list(range(count))
    assert abs(len(parts[0]) - len(parts[1])) <= 1


def test_batches_are_grouped_by_length_within_a_buffer_and_replay_in_the_same_order():
    stream = HANDocumentStream(numbered_stream(240), word_count, batch_size=8, buffer_batches=10, seed=3)
    batches = read(stream, 8)
    assert sorted(i for batch in batches for i in batch) == list(range(240))
    lengths = [[i % 13 + 1 for i in batch] for batch in batches]
    # each buffer of 80 rows, sorted, spans 13 lengths in 10 batches: a batch spans at most 3 of them
    assert max(max(batch) - min(batch) for batch in lengths) <= 2
    # ... against a random order, where a batch of 8 spans most of them
    plain = HANDocumentStream(numbered_stream(240), word_count, batch_size=8, group_by_length=False)
    assert np.mean([max(b) - min(b) for b in [[i % 13 + 1 for i in batch] for batch in read(plain, 8)]]) > 6
    # the batches come in a random order, not shortest first, and the same one when read again (a resumed run)
    firsts = [batch[0] for batch in lengths[:10]]
    assert firsts != sorted(firsts)
    assert read(stream, 8) == batches
    assert (
        read(HANDocumentStream(numbered_stream(240), word_count, batch_size=8, buffer_batches=10, seed=4), 8)
        != batches
    )


def test_a_short_last_batch_stays_last_and_workers_read_the_buffers_in_turns():
    stream = HANDocumentStream(numbered_stream(45), word_count, batch_size=4, buffer_batches=5)
    batches = read(stream, 4)
    assert [len(batch) for batch in batches] == [4] * 11 + [1]
    # two data loader workers: each tokenizes every other buffer, and every document comes once
    with_workers = read(stream, 4, workers=2)
    assert sorted(i for batch in with_workers for i in batch) == list(range(45))
    assert all(len(batch) == 4 for batch in with_workers[:-1])


def test_the_next_buffer_is_tokenized_in_a_thread_with_the_same_batches_and_errors():
    stream = HANDocumentStream(numbered_stream(130), word_count, batch_size=4, buffer_batches=5, seed=1,
                               shuffle_buffer_size=30)  # fmt: skip
    inline = HANDocumentStream(numbered_stream(130), word_count, batch_size=4, buffer_batches=5, seed=1,
                               shuffle_buffer_size=30, prefetch=False)  # fmt: skip
    assert read(stream, 4) == read(inline, 4)
    assert read(stream, 4, workers=2) == read(inline, 4, workers=2)

    calls = []

    def fails_on_the_third_buffer(batch: dict) -> dict:
        calls.append(len(batch["i"]))
        if len(calls) == 3:
            raise RuntimeError("a bad buffer")
        return word_count(batch)

    rows = iter(HANDocumentStream(numbered_stream(130), fails_on_the_third_buffer, batch_size=4, buffer_batches=5))
    with pytest.raises(RuntimeError, match="a bad buffer"):  # raised where the batches are read
        for _ in range(60):
            next(rows)

    # a reader that stops early (Trainer at max_steps) stops the thread: it reads no further buffer
    threads = threading.active_count()
    calls.clear()
    rows = iter(HANDocumentStream(numbered_stream(130), fails_on_the_third_buffer, batch_size=4, buffer_batches=5))
    next(rows)
    rows.close()
    assert threading.active_count() == threads and len(calls) <= 2


def test_the_shuffled_stream_takes_another_order_in_each_epoch():
    stream = HANDocumentStream(numbered_stream(120), word_count, batch_size=8, group_by_length=False,
                               shuffle_buffer_size=50)  # fmt: skip
    assert read(stream, 8) != read(HANDocumentStream(numbered_stream(120), word_count, batch_size=8), 8)
    stream.set_epoch(0)
    first = read(stream, 8)
    stream.set_epoch(1)
    second = read(stream, 8)
    assert first != second and sorted(sum(first, [])) == sorted(sum(second, [])) == list(range(120))


def test_stream_arguments_are_checked():
    with pytest.raises(TypeError, match="datasets.IterableDataset"):
        HANDocumentStream([{"text": "a"}], word_count, batch_size=2)
    with pytest.raises(ValueError, match="process_index 2"):
        HANDocumentStream(numbered_stream(4), word_count, batch_size=2, process_index=2, num_processes=2)
    no_length = HANDocumentStream(numbered_stream(4), lambda batch: {"i": batch["i"]}, batch_size=2)
    with pytest.raises(ValueError, match="'length' feature"):
        read(no_length, 2)


# ---------------------------------------------------------------------------------------------------- the example

STREAM = ["--streaming", "--stream_sample_documents", "40", "--max_eval_samples", "16"]


def test_streaming_trains_from_a_sample_and_saves_a_working_model(tmp_path):
    rows = sentiment_rows(120, 0)
    rows[-1]["text"] = "zyzzyva " * 3 + rows[-1]["text"]  # a word seen only after the sample
    train = write_rows(tmp_path / "train.csv", rows)
    out = tmp_path / "out"
    results = run(out, "--train_file", str(train), "--do_train", "--do_eval", "--max_steps", "20",
                  "--early_stopping_patience", "100", *STREAM)  # fmt: skip
    # 20 steps of 8 documents from the 104 after the 16 held out: the stream is read round once and more
    assert results["train_samples"] == 160 and results["eval_samples"] == 16
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 20
    assert any("eval_accuracy" in entry for entry in state["log_history"])  # evaluated every 2 steps, not at epochs
    tokenizer = HANTokenizer.from_pretrained(out)
    assert "film" in tokenizer.get_vocab() and "zyzzyva" not in tokenizer.get_vocab()
    assert "160 documents" in (out / "README.md").read_text()


def test_streaming_needs_max_steps_and_step_strategies(tmp_path):
    train = write_rows(tmp_path / "train.csv", sentiment_rows(60, 0))
    with pytest.raises(ValueError, match="give --max_steps"):
        run(tmp_path / "a", "--train_file", str(train), "--do_train", *STREAM)
    with pytest.raises(ValueError, match="--eval_strategy epoch with --streaming"):
        run(tmp_path / "b", "--train_file", str(train), "--do_train", "--max_steps", "4", "--eval_strategy", "epoch",
            *STREAM)  # fmt: skip
    with pytest.raises(ValueError, match="python -m hf_han.predict"):
        run(tmp_path / "c", "--train_file", str(train), "--test_file", str(train), "--do_train", "--do_predict",
            "--max_steps", "4", *STREAM)  # fmt: skip


def test_a_label_missing_from_the_sample_names_the_option(tmp_path):
    rows = sentiment_rows(60, 0)
    rows[-1]["label"] = "neutral"
    train = write_rows(tmp_path / "train.csv", rows)
    with pytest.raises(ValueError, match="raise --stream_sample_documents"):
        run(tmp_path / "out", "--train_file", str(train), "--do_train", "--max_steps", "30",
            "--validation_split_percentage", "0", *STREAM)  # fmt: skip


def test_a_resumed_stream_continues_where_it_stopped(tmp_path):
    train = write_rows(tmp_path / "train.csv", sentiment_rows(200, 0))
    common = ["--train_file", str(train), "--do_train", "--save_strategy", "steps", "--save_steps", "3",
              "--eval_strategy", "no", "--load_best_model_at_end", "false", "--validation_split_percentage", "0",
              "--lr_scheduler_type", "constant", "--save_total_limit", "5", *STREAM]  # fmt: skip
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    run(straight, *common, "--max_steps", "6")
    run(interrupted, *common, "--max_steps", "3")  # stands for a run stopped after its checkpoint at step 3
    run(interrupted, *common, "--max_steps", "6", "--resume_from_checkpoint", "last")
    resumed, reference = load_file(interrupted / "model.safetensors"), load_file(straight / "model.safetensors")
    for name, tensor in reference.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=1e-5, atol=1e-6, msg=name)

    # a checkpoint saved after the stream went round cannot say where it stopped
    wrapped = tmp_path / "wrapped"
    run(wrapped, *common, "--max_steps", "30")  # 200 documents are 25 steps of 8
    with pytest.raises(ValueError, match="read to its end"):
        run(wrapped, *common, "--max_steps", "40", "--resume_from_checkpoint", str(wrapped / "checkpoint-30"))


@pytest.mark.parametrize("launcher", ["torchrun"])
def test_two_processes_read_disjoint_parts_of_a_stream_and_take_the_same_steps(tmp_path, launcher):
    # 121 documents: after 16 held out, the processes' parts are 53 and 52 documents (7 batches of 8 each, the
    # last of different sizes); 20 steps go round each part about three times, ending at different steps
    train = write_rows(tmp_path / "train.csv", sentiment_rows(122, 0)[:121])
    out = tmp_path / "out"
    command = [
        *LAUNCHERS[launcher], "--master_port", str(_free_port()), str(ROOT / "examples" / "run_classification.py"),
        "--output_dir", str(out), *TINY_MODEL, "--train_file", str(train), "--do_train", "--max_steps", "20",
        "--eval_steps", "5", "--save_steps", "5", "--ddp_backend", "gloo", "--use_cpu", "true",
        "--early_stopping_patience", "100", "--log_level", "info", "--log_level_replica", "info", *STREAM,
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    for rank in (0, 1):
        assert f"Process {rank} of 2 reads its own part of the training stream" in log
    assert "Process 1 read the vocabulary from" in log and "Process 1 read the skip-gram vectors from" in log
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 20
    assert state["train_batch_size"] == 8


def test_the_map_style_sampler_reads_the_length_column_in_the_datasets_order(tmp_path):
    from transformers import TrainingArguments
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from hf_han import HANConfig, HANForDocumentClassification, HANTrainer

    rows = {"length": [i % 7 + 1 for i in range(300)], "input_ids": [[[1, 2]]] * 300, "labels": [0, 1] * 150}
    dataset = datasets.Dataset.from_dict(rows).shuffle(seed=0).select(range(200))  # an indices mapping
    model = HANForDocumentClassification(HANConfig(vocab_size=8, embedding_dim=4, word_hidden_size=2,
                                                   sentence_hidden_size=2, attention_dim=2, num_labels=2))  # fmt: skip
    args = TrainingArguments(str(tmp_path), train_sampling_strategy="group_by_length", per_device_train_batch_size=8,
                             report_to="none", use_cpu=True)  # fmt: skip
    trainer = HANTrainer(model=model, args=args, train_dataset=dataset)
    loader = trainer.get_train_dataloader()  # as training builds it: unused columns dropped first
    sampler = loader.batch_sampler.sampler
    assert isinstance(sampler, LengthGroupedSampler) and isinstance(sampler.lengths, list)
    assert sampler.lengths == list(dataset["length"])  # the column, not lengths measured from the token ids
    assert set(next(iter(loader))) == {"input_ids", "labels"}  # the length column is not a model input
