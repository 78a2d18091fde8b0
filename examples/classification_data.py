"""
The data side of `run_classification.py`: the raw splits (data files, a Hub dataset or an offline real dataset),
the text and label columns, and labels as the model's ids. Every problem with the data is an error that names the
option to change.
"""

import logging
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, LargeList, List, Sequence, Value, load_dataset

from offline_datasets import prepare_imdb_splits, prepare_newsgroups, read_newsgroups  # beside this script


logger = logging.getLogger(__name__)

TEXT_COLUMN_CANDIDATES = ("text", "document", "review", "sentence", "content", "body", "Text")
LABEL_COLUMN_CANDIDATES = ("label", "labels", "sentiment", "category", "class", "target", "Category")
FILE_BUILDERS = {"csv": "csv", "tsv": "csv", "json": "json", "jsonl": "json", "parquet": "parquet"}
OFFLINE_DATASETS = ("imdb", "20newsgroups")


def load_raw_datasets(model_args, data_args, training_args) -> tuple[DatasetDict, str]:
    """The raw splits (train, validation, test when present) and a readable name for the model card."""
    files = {"train": data_args.train_file, "validation": data_args.validation_file, "test": data_args.test_file}
    sources = {
        "--dataset_name": data_args.dataset_name,
        "--offline_dataset": data_args.offline_dataset,
        "--train_file/--validation_file/--test_file": any(files.values()),
    }
    sources = [source for source, given in sources.items() if given]
    streaming = getattr(data_args, "streaming", False)
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
            streaming=streaming,
        )
        name = data_args.dataset_name
    elif data_args.offline_dataset is not None:
        raw, name = load_offline_dataset(data_args.offline_dataset, training_args, streaming)
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
    if streaming:  # a stream's validation documents are held out by streaming_data.py
        return raw, name
    percentage = data_args.validation_split_percentage
    if not 0 <= percentage < 100:
        raise ValueError(f"--validation_split_percentage must be in [0, 100), got {percentage:g}.")
    carve = "validation" not in raw and "train" in raw and (training_args.do_train or training_args.do_eval)
    if carve and percentage == 0:
        logger.warning("No validation split (--validation_split_percentage 0): nothing is evaluated during training.")
    elif carve:
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
        # a choice made for the user (early stopping and the best model are chosen on these documents): say it
        total = len(raw["train"]) + len(raw["validation"])
        logger.warning(
            f"No validation split: held out {len(raw['validation']):,} of the {total:,} training documents "
            f"({data_args.validation_split_percentage:g}%, --validation_split_percentage) to choose the best model "
            "and stop early on."
        )
    return raw, name


def load_data_file(builder: str, split: str, path: str, extension: str, data_args, model_args):
    """One split from a data file; a file that cannot be read is an error that names it and the cause."""
    options = {} if builder == "parquet" else {"encoding": data_args.encoding}
    if getattr(data_args, "streaming", False):  # read as the stream goes; a bad file fails at its first rows
        options["streaming"] = True
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


def load_offline_dataset(name: str, training_args, streaming: bool = False) -> tuple[DatasetDict, str]:
    """`--offline_dataset`: the IMDB split (train / validation / test) or 20 Newsgroups (train / test)."""
    if name not in OFFLINE_DATASETS:
        raise ValueError(f"--offline_dataset must be one of {OFFLINE_DATASETS}, got {name!r}.")
    with training_args.main_process_first(desc=f"preparing {name}"):
        if name == "imdb":
            paths = prepare_imdb_splits()
            raw = DatasetDict(
                {
                    split: load_dataset("csv", data_files={split: str(path)}, streaming=streaming)[split]
                    for split, path in paths.items()
                }
            )
            return raw, "IMDB movie reviews (examples/offline_datasets.py split)"
        raw = DatasetDict()
        for split, path in prepare_newsgroups().items():
            texts, labels = read_newsgroups(path)
            raw[split] = Dataset.from_dict({"text": texts, "label": labels})
            if streaming:
                raw[split] = raw[split].to_iterable_dataset()
        return raw, "20 Newsgroups (examples/offline_datasets.py)"


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
