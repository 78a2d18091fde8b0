"""
The training schedule of `run_classification.py` fitted to the training set's size, where the command line leaves
it open: enough optimisation steps for a small set, evaluations often enough for early stopping to keep the best
model, and the batch size that trains best at that size. Every choice is logged in one line and saved as
`schedule.json` in the output folder; an option given on the command line is never changed.

Why: with the paper's batch of 64 and 5 epochs, 1,000 documents are 80 optimisation steps, after which a new HAN
still predicts nearly one class (14.7% on 1,000 posts of 20 Newsgroups, 20 classes). The figures behind each number
below are in docs/benchmarks.md ("Learning curves").
"""

import json
import logging
import math
import os


logger = logging.getLogger(__name__)

# The schedule changes only sets of fewer than SMALL_SET documents: the whole 20 Newsgroups split (10,164 posts, 795
# steps in 5 epochs) stretched to 7 epochs reached 79.70% against 80.25% with the usual 5.
SMALL_SET = 5000
# Fewest optimisation steps of a small set's run whose epochs are not given: a new HAN from scratch learns its
# embeddings too, a pretrained word encoder starts from what it knows.
MIN_STEPS = {"scratch": 1000, "pretrained": 200}
# A new HAN from scratch on fewer than SMALL_BATCH_SET documents trains in batches of SMALL_BATCH per device instead
# of 64 (more, noisier steps: 48.1% against 40.4% with batches of 32 on 1,000 posts of 20 Newsgroups); over a
# pretrained encoder the batch is 16 at any size.
SMALL_BATCH_SET = 2000
SMALL_BATCH = 16
# Dropout on the word embeddings of a new HAN on a small set: on 500 IMDB reviews 80.8% against 77.0% without, on
# 2,000 85.8% against 84.4%, on 2,000 posts of 20 Newsgroups 69.8% against 66.3% (one seed each).
EMBEDDING_DROPOUT = 0.3
# A handful of documents (16 reviews: a step an epoch) stops short of MIN_STEPS rather than go round them more often.
MAX_EPOCHS = 200
# A run stretched to MIN_STEPS evaluates (and saves) about this many times instead of once per epoch (a pretrained
# encoder reads the validation documents 30-50 times slower) ...
EVALUATIONS = {"scratch": 20, "pretrained": 10}
# ... and stops after this many evaluations without improvement, where early stopping is on by default.
STRETCHED_PATIENCE = 5


def fit_model_settings(model_args, given: set[str], train_documents: int) -> dict:
    """
    The settings of a new HAN trained from scratch that depend on the training set's size (where `given` leaves them
    open): dropout on the word embeddings below SMALL_SET documents. Set them in `model_args`; return them.
    """
    chosen = {}
    if "embedding_dropout" not in given and train_documents < SMALL_SET:
        chosen["embedding_dropout"] = EMBEDDING_DROPOUT
    for name, value in chosen.items():
        setattr(model_args, name, value)
    return chosen


def fit_schedule(training_args, data_args, given: set[str], train_documents: int, pretrained: bool) -> dict:
    """
    Set the schedule options of `training_args` (and `data_args.early_stopping_patience`) that `given` (the options
    named on the command line) leaves open, for `train_documents` training documents; return what was chosen.

    Sets of SMALL_SET documents or more, and runs of the default epochs that already take MIN_STEPS steps, are left
    as they are.
    """
    kind = "pretrained" if pretrained else "scratch"
    chosen = {}
    if train_documents >= SMALL_SET or (training_args.max_steps is not None and training_args.max_steps > 0):
        return chosen  # a large set, or a fixed number of steps: nothing to stretch
    if (
        not pretrained
        and train_documents < SMALL_BATCH_SET
        and "per_device_train_batch_size" not in given
        and training_args.per_device_train_batch_size > SMALL_BATCH
    ):
        chosen["per_device_train_batch_size"] = SMALL_BATCH
    batch = chosen.get("per_device_train_batch_size", training_args.per_device_train_batch_size)
    steps_per_epoch = _steps_per_epoch(train_documents, batch, training_args)
    stretched = False
    if "num_train_epochs" not in given:
        steps = steps_per_epoch * training_args.num_train_epochs
        if steps < MIN_STEPS[kind]:
            chosen["num_train_epochs"] = float(min(MAX_EPOCHS, math.ceil(MIN_STEPS[kind] / steps_per_epoch)))
            stretched = True
    epochs = chosen.get("num_train_epochs", training_args.num_train_epochs)
    evaluating = training_args.eval_strategy != "no"
    if stretched and evaluating and not given & {"eval_strategy", "save_strategy", "eval_steps", "save_steps"}:
        total = math.ceil(steps_per_epoch * epochs)
        every = max(steps_per_epoch, math.ceil(total / EVALUATIONS[kind]))
        if every > steps_per_epoch:  # evaluating every epoch would be too often
            chosen.update(eval_strategy="steps", eval_steps=every, save_strategy="steps", save_steps=every)
        if "early_stopping_patience" not in given and data_args.early_stopping_patience is not None:
            chosen["early_stopping_patience"] = STRETCHED_PATIENCE
    for name, value in chosen.items():
        setattr(data_args if name == "early_stopping_patience" else training_args, name, value)
    return chosen


def report_schedule(chosen: dict, train_documents: int, training_args, path: str | None) -> None:
    """The one log line, and `schedule.json` (when `path` is given) with the choices and what they were made for."""
    steps_per_epoch = _steps_per_epoch(train_documents, training_args.per_device_train_batch_size, training_args)
    total = training_args.max_steps
    if total <= 0:
        total = math.ceil(steps_per_epoch * training_args.num_train_epochs)
    if chosen:
        settings = ", ".join(f"--{name} {value}" for name, value in chosen.items())
        logger.warning(
            f"Schedule for {train_documents:,} training documents: {settings} ({total:,} steps at most, "
            f"{steps_per_epoch:,} per epoch); chosen for the set's size, an option given on the command line is kept."
        )
    else:
        logger.info(f"Schedule as given: {total:,} steps at most ({steps_per_epoch:,} per epoch).")
    if path is not None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        record = {"train_documents": train_documents, "steps_per_epoch": steps_per_epoch, "chosen": chosen}
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=2)


def _steps_per_epoch(train_documents: int, batch: int, training_args) -> int:
    per_step = batch * max(1, training_args.world_size) * max(1, training_args.gradient_accumulation_steps)
    return max(1, math.ceil(train_documents / per_step))
