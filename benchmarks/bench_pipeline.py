"""
Pipeline overhead: documents per second through `pipeline("text-classification")` at batch sizes 1 and 32,
against calling the model directly on batches tokenized beforehand (tokenization not timed), on IMDB reviews.

    python benchmarks/bench_pipeline.py [--docs 2048] [--repeats 3]

The model has the paper's sizes and a vocabulary trained on the IMDB training split; its weights are untrained,
which does not change the cost. Runs are interleaved; medians are printed.
"""

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import transformers
from transformers import pipeline

from hf_han import HANConfig, HANForDocumentClassification, HANTokenizer


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))  # offline_datasets.py
from offline_datasets import prepare_imdb_splits, read_split  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"transformers {transformers.__version__}")  # fmt: skip

    paths = prepare_imdb_splits()
    train_texts, _ = read_split(paths["train"])
    texts, _ = read_split(paths["test"])
    texts = texts[: args.docs]
    tokenizer = HANTokenizer(max_sentences=30, max_words=50).train_new_from_iterator(
        train_texts, vocab_size=50000, min_frequency=6, show_progress=False
    )
    model = HANForDocumentClassification(HANConfig(vocab_size=len(tokenizer), num_labels=2)).eval()
    words = sum(sum(map(len, doc)) for doc in tokenizer(texts, return_length=False)["input_ids"])
    print(f"{len(texts)} IMDB test reviews, {words / len(texts):.0f} words each after truncation to 30 x 50")

    classifier = pipeline("text-classification", model=model, tokenizer=tokenizer)
    batches = [tokenizer(texts[i : i + 32], padding=True, return_tensors="pt") for i in range(0, len(texts), 32)]

    def direct():
        with torch.inference_mode():
            for batch in batches:
                model(**batch).logits.softmax(-1)

    runs = {
        "model, pre-tokenized batches of 32": direct,
        "pipeline, batch_size=32": lambda: classifier(texts, batch_size=32),
        "pipeline, batch_size=1": lambda: classifier(texts, batch_size=1),
    }
    timings = {name: [] for name in runs}
    for _ in range(args.repeats):  # interleaved, so that drifts in machine load hit all alike
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - start)
    direct_rate = len(texts) / statistics.median(timings["model, pre-tokenized batches of 32"])
    for name, seconds in timings.items():
        rate = len(texts) / statistics.median(seconds)
        print(f"{name:<38s} {rate:8.0f} docs/s   {direct_rate / rate:5.2f}x the direct call's time")


if __name__ == "__main__":
    main()
