"""MiniLM's WordPiece wrapped by HANTokenizer on the 50,000 IMDB reviews, with offsets, in fresh processes: each
process loads the tokenizer and encodes every review twice, so that "first pass" is a tokenizer that has kept no
chunk pieces yet and "again" one that has read the reviews before (see `chunk_pieces_han.py`).

    python benchmarks/bench_wrapped_tokenizer.py [--processes 5]

Run it alone: on 2 cores any other job distorts the figures. Prints each process's documents/s and the medians.
"""

import argparse
import csv
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))  # offline_datasets.py
from offline_datasets import download_imdb_csv, prepare_minilm  # noqa: E402


def one_process() -> dict:
    from hf_han import HANTokenizer

    with open(download_imdb_csv(), encoding="utf-8", newline="") as handle:
        documents = [row["review"] for row in csv.DictReader(handle)]  # raw, with <br /> markup
    tokenizer = HANTokenizer.from_pretrained_tokenizer(prepare_minilm())
    rates = {}
    for name in ("first pass", "again"):
        gc.collect()
        start = time.perf_counter()
        tokenizer(documents, return_offsets_mapping=True)
        rates[name] = len(documents) / (time.perf_counter() - start)
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_process()))
        return
    prepare_minilm()  # downloaded once, outside the timed processes
    runs = []
    for _ in range(args.processes):
        output = subprocess.run(
            [sys.executable, __file__, "--child"], check=True, capture_output=True, text=True
        ).stdout.strip()
        runs.append(json.loads(output.splitlines()[-1]))
        print(", ".join(f"{name} {rate:.0f}" for name, rate in runs[-1].items()), "docs/s", flush=True)
    for name in runs[0]:
        print(f"median {name}: {statistics.median(run[name] for run in runs):.0f} docs/s")


if __name__ == "__main__":
    main()
