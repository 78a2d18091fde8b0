"""
`run_classification.py --streaming`: the training data read as a stream (`datasets.IterableDataset`), for corpora of
any size. Nothing is read whole: the labels, the vocabulary and the skip-gram vectors come from the first
`--stream_sample_documents` training documents, the validation documents are a few thousand held in memory, and
training tokenizes the stream on the fly (`hf_han.HANDocumentStream`: a shuffle buffer, then batches of similar
length from a buffer of batches, each process its own part of the stream).
"""

import json
import logging
import math
import os

from datasets import Dataset, DatasetDict, IterableDataset

from hf_han import HANDocumentStream


logger = logging.getLogger(__name__)

# The first documents of the stream that give the labels, the vocabulary and the skip-gram vectors. 10,000 IMDB-like
# reviews are 2.7M words: 16,735 words seen 6 times or more, and skip-gram vectors in 44-48 s on 2 cores (5 passes),
# so that training started 51-56 s after the command at 1M and 5M documents (docs/benchmarks.md, "Corpus size").
STREAM_SAMPLE_DOCUMENTS = 10_000
# Validation documents held out from the start of a training stream that has no validation split, or read from the
# validation stream (when --max_eval_samples does not say): they are held in memory and read at each evaluation.
STREAM_VALIDATION_DOCUMENTS = 2_000
# A stream has no epochs to evaluate at: a run evaluates (and saves) about this many times over its --max_steps.
STREAM_EVALUATIONS = 10


def take_rows(stream: IterableDataset, count: int) -> Dataset:
    """The first `count` rows of `stream`, in memory (with the stream's features where it knows them)."""
    rows = list(stream.take(count))
    if not rows:
        return Dataset.from_dict({})
    features = stream.features
    return Dataset.from_list(rows, features=features) if features is not None else Dataset.from_list(rows)


def prepare_streams(raw: DatasetDict, data_args, training_args) -> tuple[DatasetDict, DatasetDict]:
    """
    From the raw streams: the streams to read (train without its held-out documents; validation where the data
    has it) and the in-memory splits the example reads whole: `train` (the sample for labels, vocabulary and vectors)
    and `validation` (held out from the training stream when there is no validation split).
    """
    if training_args.do_predict:
        raise ValueError(
            "--do_predict with --streaming: classify a corpus of any size with `python -m hf_han.predict --model "
            "OUTPUT_DIR --input FILES --output predictions.jsonl` after training (streamed, resumable, in parallel)."
        )
    streams, in_memory = DatasetDict(), DatasetDict()
    count = data_args.max_eval_samples or STREAM_VALIDATION_DOCUMENTS
    if "train" in raw:
        train = raw["train"]
        if data_args.max_train_samples is not None:
            train = train.take(data_args.max_train_samples)
        if "validation" not in raw and (training_args.do_train or training_args.do_eval):
            if data_args.validation_split_percentage == 0:
                logger.warning("No validation split (--validation_split_percentage 0): nothing is evaluated.")
            else:
                in_memory["validation"] = take_rows(train, count)
                train = train.skip(count)
                logger.warning(
                    f"No validation split: held out the first {len(in_memory['validation']):,} documents of the "
                    f"training stream (--max_eval_samples, default {STREAM_VALIDATION_DOCUMENTS:,} with --streaming) "
                    "to choose the best model and stop early on."
                )
        streams["train"] = train
        in_memory["train"] = take_rows(train, data_args.stream_sample_documents)
        logger.warning(
            f"Streaming: the labels, the vocabulary and the word vectors come from the first "
            f"{len(in_memory['train']):,} training documents (--stream_sample_documents "
            f"{data_args.stream_sample_documents:,})."
        )
        if len(in_memory["train"]) == 0:
            raise ValueError("The training stream is empty.")
    if "validation" in raw:
        streams["validation"] = raw["validation"]
        in_memory["validation"] = take_rows(raw["validation"], count)
        logger.info(f"Validation: the first {len(in_memory['validation']):,} documents of the validation stream.")
    return streams, in_memory


def fit_stream_schedule(training_args, given: set[str], stream: IterableDataset, held_out: int) -> dict:
    """
    --max_steps for a stream (required, or derived where the dataset says its size) and evaluation / saving every
    so many steps instead of at epochs, which a stream read by several processes does not end together. Returns
    what was chosen.
    """
    chosen = {}
    per_step = (
        training_args.per_device_train_batch_size
        * max(1, training_args.world_size)
        * max(1, training_args.gradient_accumulation_steps)
    )
    if training_args.max_steps is None or training_args.max_steps <= 0:
        splits = getattr(stream.info, "splits", None) or {}
        known = splits.get("train").num_examples if "train" in splits else None
        if not known:
            raise ValueError(
                "--streaming reads the training data as a stream whose length is not known ahead: give --max_steps "
                f"(documents x epochs / {per_step}, the documents of a step: batch x processes x accumulation)."
            )
        chosen["max_steps"] = math.ceil(max(1, known - held_out) * training_args.num_train_epochs / per_step)
        training_args.max_steps = chosen["max_steps"]
    every = max(1, math.ceil(training_args.max_steps / STREAM_EVALUATIONS))
    for kind in ("eval", "save", "logging"):
        strategy = getattr(training_args, f"{kind}_strategy")
        if getattr(strategy, "value", strategy) != "epoch":
            continue
        if f"{kind}_strategy" in given:
            raise ValueError(
                f"--{kind}_strategy epoch with --streaming: the processes reach the end of their parts of a stream at "
                f"different steps, so there are no common epochs. Use --{kind}_strategy steps."
            )
        steps_name = f"{kind}_steps"
        chosen[f"{kind}_strategy"] = "steps"
        setattr(training_args, f"{kind}_strategy", "steps")
        if steps_name not in given:
            chosen[steps_name] = every
            setattr(training_args, steps_name, every)
    logger.warning(
        f"Streaming schedule: {training_args.max_steps:,} steps of {per_step:,} documents "
        f"({training_args.max_steps * per_step:,} documents read)"
        + (f"; chosen: {', '.join(f'--{k} {v}' for k, v in chosen.items())}" if chosen else "")
    )
    return chosen


def check_stream_checkpoint(checkpoint: str | None, training_args) -> None:
    """
    A resumed stream is read again from its start up to the checkpoint's step (`Trainer` skips the batches), which
    continues where it stopped as long as the run had not gone round the stream: past its end the skipped batches
    would be counted from the wrong epoch. Say so instead of continuing elsewhere.
    """
    if not checkpoint or not isinstance(checkpoint, str) or training_args.ignore_data_skip:
        return
    path = os.path.join(checkpoint, "trainer_state.json")
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as handle:
        state = json.load(handle)
    # Trainer counts a stream's epoch as its steps over max_steps, plus one each time the stream ended
    step, epoch, max_steps = state.get("global_step", 0), state.get("epoch") or 0.0, state.get("max_steps") or 0
    if max_steps > 0 and epoch > step / max_steps + 1e-6:
        raise ValueError(
            f"{checkpoint} was saved after the training stream had been read to its end (step {step:,}, epoch "
            f"{epoch:.2f}): resuming cannot find where it stopped. Start again, or pass --ignore_data_skip to resume "
            "the weights and read the stream from its start."
        )
    logger.warning(
        f"Resuming from step {state.get('global_step', 0):,}: the training stream is read again up to there (its "
        "batches are tokenized and skipped), then training continues where it stopped."
    )


def training_stream(documents: IterableDataset, preprocess, data_args, training_args):
    """
    This process's part of the training stream (a `HANDocumentStream`): shuffled in a buffer, tokenized on the fly
    (the next buffer in a thread while this one trains; in --dataloader_num_workers worker processes where given: on
    2 cores a worker slowed training from 540 to 400-470 docs/s, competing with PyTorch's threads), grouped by length.
    """
    return HANDocumentStream(
        documents,
        preprocess,
        batch_size=training_args.per_device_train_batch_size,
        buffer_batches=data_args.length_grouping_batches,
        shuffle_buffer_size=data_args.shuffle_buffer_size,
        seed=training_args.seed,
        group_by_length=training_args.train_sampling_strategy == "group_by_length",
        process_index=training_args.process_index,
        num_processes=training_args.world_size,
    )
