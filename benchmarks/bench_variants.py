"""
HAN and its variants on the same budget: test accuracy, training documents per second and peak memory, on the fixed
IMDB split and on 20 Newsgroups, trained on this machine's CPU.

    python benchmarks/bench_variants.py [--datasets imdb 20ng] [--variants han transformer ...] \
        [--imdb_train_docs 8000] [--imdb_test_docs 4000] [--epochs_imdb 2] [--epochs_20ng 4]

Each (dataset, variant) runs in its own process, so that its peak memory (VmHWM, reset before training) is its
own. Every variant has the paper's sizes (embeddings 200, encoders 2 x 50, attention 100), AdamW at 2e-3,
batches of 64 grouped by length, the same epochs and documents. Results: a Markdown table on stdout and
`<output_dir>/variants.json`.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import torch


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))  # offline_datasets.py


VARIANTS = {
    "han": {},
    "transformer": {"word_encoder": "transformer", "sentence_encoder": "transformer"},
    "structured": {
        "attention": "structured",
        "attention_hops": 4,
        "attention_penalty": 1.0,
        "attention_penalty_normalization": "mean",
    },  # fmt: skip
    "cahan_left": {"context": "left"},
    "cahan_bidirectional": {"context": "bidirectional"},
    "cahan_bidirectional_gated_sum": {"context": "bidirectional", "context_aggregation": "sum", "context_gate": True},
}


def load(dataset: str, args) -> tuple[list[str], list[str], list[str], list[str]]:
    if dataset == "imdb":
        from offline_datasets import prepare_imdb_splits, read_split

        paths = prepare_imdb_splits()
        train_texts, train_labels = read_split(paths["train"])
        test_texts, test_labels = read_split(paths["test"])
        return (
            train_texts[: args.imdb_train_docs],
            train_labels[: args.imdb_train_docs],
            test_texts[: args.imdb_test_docs],
            test_labels[: args.imdb_test_docs],
        )
    from offline_datasets import prepare_newsgroups, read_newsgroups

    paths = prepare_newsgroups()
    return (*read_newsgroups(paths["train"]), *read_newsgroups(paths["test"]))


def length_grouped_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of documents of similar length (sorted within mega-batches of 50 batches)."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    for start in range(0, len(order), 50 * batch_size):
        mega = sorted(order[start : start + 50 * batch_size], key=lambda i: -lengths[i])
        batches += [mega[i : i + batch_size] for i in range(0, len(mega), batch_size)]
    rng.shuffle(batches)
    return batches


def peak_memory_mib() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(dataset: str, variant: str, args) -> dict:
    from hf_han import HANConfig, HANForDocumentClassification, HANTokenizer

    torch.manual_seed(args.seed)
    train_texts, train_labels, test_texts, test_labels = load(dataset, args)
    label_names = sorted(set(train_labels))
    label2id = {label: i for i, label in enumerate(label_names)}
    tokenizer = HANTokenizer(max_sentences=30, max_words=50).train_new_from_iterator(
        train_texts, vocab_size=50000, min_frequency=6, show_progress=False
    )
    train = tokenizer(train_texts, return_length=True)
    test = tokenizer(test_texts)
    config = HANConfig(vocab_size=len(tokenizer), num_labels=len(label_names), **VARIANTS[variant])
    model = HANForDocumentClassification(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    train_y = torch.tensor([label2id[label] for label in train_labels])
    rng = random.Random(args.seed)
    epochs = args.epochs_imdb if dataset == "imdb" else args.epochs_20ng

    def batch_of(encoding, indices):
        features = {key: [encoding[key][i] for i in indices] for key in ("input_ids", "attention_mask")}
        return tokenizer.pad(features, return_tensors="pt")

    with open("/proc/self/clear_refs", "w") as handle:  # peak memory from here on
        handle.write("5")
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        for indices in length_grouped_batches(train["length"], 64, rng):
            batch = batch_of(train, indices)
            loss = model(batch["input_ids"], batch["attention_mask"], labels=train_y[indices]).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    train_seconds = time.perf_counter() - start
    peak = peak_memory_mib()

    model.eval()
    correct = 0
    with torch.inference_mode():
        for first in range(0, len(test_texts), 128):
            indices = list(range(first, min(first + 128, len(test_texts))))
            batch = batch_of(test, indices)
            predicted = model(batch["input_ids"], batch["attention_mask"]).logits.argmax(-1)
            correct += sum(int(p) == label2id[test_labels[i]] for p, i in zip(predicted, indices))
    return {
        "dataset": dataset,
        "variant": variant,
        "config": VARIANTS[variant],
        "parameters": model.num_parameters(),
        "train_docs": len(train_texts),
        "test_docs": len(test_texts),
        "epochs": epochs,
        "test_accuracy": correct / len(test_texts),
        "train_docs_per_second": epochs * len(train_texts) / train_seconds,
        "train_seconds": train_seconds,
        "peak_memory_mib": peak,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["imdb", "20ng"], choices=["imdb", "20ng"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--imdb_train_docs", type=int, default=8000)
    parser.add_argument("--imdb_test_docs", type=int, default=4000)
    parser.add_argument("--epochs_imdb", type=int, default=2)
    parser.add_argument("--epochs_20ng", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output_dir", default="outputs/bench-variants")
    parser.add_argument("--worker", nargs=2, metavar=("DATASET", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(worker(*args.worker, args)))
        return

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    results = []
    for dataset in args.datasets:
        for variant in args.variants:
            command = [sys.executable, __file__, "--worker", dataset, variant] + [
                f"--{name}={getattr(args, name)}"
                for name in ("imdb_train_docs", "imdb_test_docs", "epochs_imdb", "epochs_20ng", "seed")
            ]
            completed = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ))
            if completed.returncode != 0:
                print(completed.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"{dataset}/{variant} failed")
            result = json.loads(completed.stdout.strip().splitlines()[-1])
            results.append(result)
            print(
                f"{dataset:<6} {variant:<30} acc {result['test_accuracy']:.4f}  "
                f"{result['train_docs_per_second']:6.1f} docs/s  {result['peak_memory_mib']:7.0f} MiB",
                flush=True,
            )
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.output_dir) / "variants.json").write_text(json.dumps(results, indent=2))
    print("\n| dataset | variant | parameters | test accuracy | train docs/s | peak memory (MiB) |")
    print("|:--|:--|--:|--:|--:|--:|")
    for r in results:
        print(
            f"| {r['dataset']} | {r['variant']} | {r['parameters']:,} | {100 * r['test_accuracy']:.2f}% "
            f"| {r['train_docs_per_second']:.0f} | {r['peak_memory_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()
