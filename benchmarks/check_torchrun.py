"""Distributed training with the example's defaults, again and again: `torchrun --nproc_per_node 2` on the CPU.

    python benchmarks/check_torchrun.py [--runs 10] [--documents 1555] [--max_steps 5]

Each run trains a new HAN with `examples/run_classification.py`'s defaults (a word-level vocabulary and skip-gram
vectors trained on the training split) in two processes, in a new output folder, and passes when:

- both processes exit with 0 (no `FileNotFoundError` of the vectors' `.partial` file, no hang: each run has
  `--timeout` seconds);
- the vocabulary and the vectors were trained once, by process 0, and read by process 1 (the log says which);
- both took the same `--max_steps` steps (the saved `trainer_state.json`).

The documents are the first `--documents` IMDB training reviews (examples/offline_datasets.py). Exits with 1 unless
every run passed; prints one JSON line per run and a summary.
"""

import argparse
import csv
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
from offline_datasets import prepare_imdb_splits  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_run(train: Path, out: Path, max_steps: int, timeout: int) -> dict:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
        str(ROOT / "examples" / "run_classification.py"), "--train_file", str(train), "--output_dir", str(out),
        "--do_train", "--max_steps", str(max_steps), "--ddp_backend", "gloo", "--use_cpu", "true",
        "--log_level", "info", "--log_level_replica", "info", "--disable_tqdm", "true", "--report_to", "none",
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    started = time.monotonic()
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
        log, code = result.stdout + result.stderr, result.returncode
    except subprocess.TimeoutExpired as error:
        log, code = f"{error.stdout or ''}{error.stderr or ''}", "timeout"
    (out.parent / f"{out.name}.log").write_text(log if isinstance(log, str) else str(log))
    state_path = out / "trainer_state.json"
    steps = json.loads(state_path.read_text())["global_step"] if state_path.exists() else None
    checks = {
        "exit code 0": code == 0,
        "vocabulary trained once": "Process 1 read the vocabulary" in log,
        "vectors trained once": log.count("skip-gram vectors on") == 1
        and "Process 1 read the skip-gram vectors" in log,
        f"{max_steps} steps": steps == max_steps,
    }
    return {"seconds": round(time.monotonic() - started, 1), "exit": code, "steps": steps, **checks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--documents", type=int, default=1555)
    parser.add_argument("--max_steps", type=int, default=5)
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the runs' folders and logs here.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        train = folder / "train.csv"
        with open(prepare_imdb_splits()["train"], encoding="utf-8", newline="") as source:
            rows = list(itertools.islice(csv.reader(source), args.documents + 1))  # the header and the reviews
        with open(train, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(rows)
        results = []
        for run in range(args.runs):
            result = check_run(train, folder / f"run-{run}", args.max_steps, args.timeout)
            result["passed"] = all(value for key, value in result.items() if key[0].isalpha() and " " in key)
            results.append(result)
            print(json.dumps({"run": run, **result}), flush=True)
        passed = sum(result["passed"] for result in results)
        print(f"{passed} of {args.runs} runs passed in a row" if passed == args.runs else f"{passed} of {args.runs}")
    sys.exit(0 if passed == args.runs else 1)


if __name__ == "__main__":
    main()
