"""A/B of HANTokenizer's word-level encoding between two source trees of hf-han, on the 50,000 IMDB reviews, in
fresh processes, interleaved. Each process builds the tokenizer from the same saved vocabulary and encodes every
review three times: with offsets (first call), with offsets again, without offsets.

    git archive b5d9a11 src | tar -x -C /tmp/old_tree
    python benchmarks/ab_tokenizer.py --old /tmp/old_tree/src --new src [--rounds 5]

Run it alone: on 2 cores any other job distorts the figures. Prints every process's documents/s, the medians and
new/old ratios.
"""

import argparse
import csv
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CALLS = ("offsets, first call", "offsets, again", "no offsets")


def child(source: str, vocabulary: str) -> dict:
    sys.path[:0] = [source, str(EXAMPLES)]
    import hf_han
    from hf_han import HANTokenizer

    from offline_datasets import download_imdb_csv

    assert hf_han.__file__.startswith(str(Path(source).resolve())), hf_han.__file__
    with open(download_imdb_csv(), encoding="utf-8", newline="") as handle:
        documents = [row["review"] for row in csv.DictReader(handle)]
    tokenizer = HANTokenizer(vocab=json.loads(Path(vocabulary).read_text()))
    rates = {}
    for name, options in zip(CALLS, ({"return_offsets_mapping": True}, {"return_offsets_mapping": True}, {})):
        gc.collect()
        start = time.perf_counter()
        tokenizer(documents, **options)
        rates[name] = len(documents) / (time.perf_counter() - start)
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", required=True, help="the `src` folder of the old tree")
    parser.add_argument("--new", required=True, help="the `src` folder of the new tree")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("SOURCE", "VOCABULARY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    sys.path.insert(0, args.new)
    sys.path.insert(0, str(EXAMPLES))
    from hf_han import HANTokenizer

    from offline_datasets import prepare_imdb_splits, read_split

    texts = read_split(prepare_imdb_splits()["train"])[0]
    vocabulary = HANTokenizer().train_new_from_iterator(texts, 100000, min_frequency=6, show_progress=False)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(vocabulary.get_vocab(), handle)
    rates = {"old": [], "new": []}
    for _ in range(args.rounds):
        for side in ("old", "new"):
            command = [sys.executable, __file__, "--old", args.old, "--new", args.new]
            command += ["--child", getattr(args, side), handle.name]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rates[side].append(json.loads(output.strip().splitlines()[-1]))
            print(side, ", ".join(f"{name} {rate:.0f}" for name, rate in rates[side][-1].items()), flush=True)
    for name in CALLS:
        old, new = (statistics.median(run[name] for run in rates[side]) for side in ("old", "new"))
        print(f"{name}: old {old:.0f}, new {new:.0f} docs/s, new/old {new / old:.2f}")


if __name__ == "__main__":
    main()
