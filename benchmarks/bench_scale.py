"""Corpus size: wall time and peak resident memory of the example, phase by phase, from 100k documents to millions.

    python benchmarks/bench_scale.py --docs 100000 1000000 [--max_steps 20] [--output_dir outputs/bench-scale]
    python benchmarks/bench_scale.py --docs 1000000 --predict       # and bulk prediction over the same corpus
    python benchmarks/bench_scale.py --docs 5000000 --streaming --label streaming    # the --streaming mode

1. A corpus of N IMDB-like documents (`--docs`, any N): each takes as many sentences as a real IMDB review has
   (drawn from the reviews' own counts), each sentence drawn from the sentences of the 50,000 real reviews, and a
   random label; written once as CSV under `--output_dir`.
2. `examples/run_classification.py` with its defaults (word-level vocabulary, skip-gram vectors, the fitted
   schedule) trains on it for `--max_steps` steps. While it runs, the resident memory of the process and all of
   its children is sampled every 0.2 s (RSS, the anonymous part of it: RSS counts the pages of the Arrow files
   that `datasets` maps, which grow with the corpus but are the kernel's to drop; and with several processes the
   PSS, which counts the pages a forked data loader worker shares with the trainer once), and the log's lines mark the
   phases: reading (to the labels), vocabulary, vectors and model, tokenizing, time to the first step, and
   training (docs/s over the steps after the first).
   With `--memory_limit_mb`, the example runs in a cgroup of that much memory, page cache included, as on a machine
   that small: the kernel drops the pages of mapped files to stay under it, and whether it ran out is reported.
3. With `--predict`, `python -m hf_han.predict` classifies the corpus with the trained model: docs/s and peak RSS.

Each row is printed as JSON and appended to `<output_dir>/results.jsonl`. Run it alone: on 2 cores anything else
distorts the figures.
"""

import argparse
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))  # offline_datasets.py
from offline_datasets import prepare_imdb_splits, read_split  # noqa: E402


PHASES = [  # (phase that ends, a log line that ends it)
    ("reading", re.compile(r"Problem type")),
    ("vocabulary", re.compile(r"Ready: the tokenizer")),
    ("vectors and model", re.compile(r"Ready: the model")),
    ("tokenizing", re.compile(r"Ready: the train (split tokenized|stream)")),  # a stream: on the fly, later
    ("to the first step", re.compile(r"'loss'|\"loss\"|\{'loss")),
]
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def make_corpus(path: Path, documents: int, seed: int = 0) -> None:
    """`documents` IMDB-like reviews from the sentences of the real ones (see the module's docstring)."""
    if path.exists():
        return
    texts = []
    for split in prepare_imdb_splits().values():
        texts += read_split(split)[0]
    pool, counts = [], []
    for text in texts:
        sentences = [sentence for sentence in SENTENCE_END.split(text) if sentence.strip()]
        pool += sentences
        counts.append(max(1, len(sentences)))
    generator = random.Random(seed)
    partial = path.with_suffix(".partial")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for _ in range(documents):
            count = generator.choice(counts)
            writer.writerow([" ".join(generator.choices(pool, k=count)), generator.choice(("positive", "negative"))])
    partial.replace(path)


def anonymous_rss(pid: int) -> int:
    """Resident memory that is not a mapped file (Linux `RssAnon`): what grows with Python objects, not with the
    Arrow files that `datasets` maps (those pages count in RSS, and the kernel drops them under pressure)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            return next(int(line.split()[1]) * 1024 for line in handle if line.startswith("RssAnon:"))
    except (OSError, StopIteration):
        return 0


class Sampler(threading.Thread):
    """
    Samples the memory of a process tree: the peak of the summed RSS and of the summed anonymous RSS, and each
    process's own peak RSS.
    """

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.root, self.interval, self.running = psutil.Process(pid), interval, True
        self.peak_total, self.peak_anonymous, self.peak_proportional, self.peaks, self.marks = 0, 0, 0, {}, []

    def run(self):
        while self.running:
            try:
                processes = [self.root, *self.root.children(recursive=True)]
                total = anonymous = proportional = 0
                for process in processes:
                    try:
                        rss = process.memory_info().rss
                        # PSS: pages shared by processes (a data loader worker forked from the trainer) counted once
                        pss = process.memory_full_info().pss if len(processes) > 1 else rss
                    except psutil.Error:
                        continue
                    total += rss
                    proportional += pss
                    anonymous += anonymous_rss(process.pid)
                    key = f"{process.pid} {' '.join(process.cmdline()[1:3])[:60]}"
                    self.peaks[key] = max(self.peaks.get(key, 0), rss)
                self.peak_total = max(self.peak_total, total)
                self.peak_anonymous = max(self.peak_anonymous, anonymous)
                self.peak_proportional = max(self.peak_proportional, proportional)
                self.marks.append((time.monotonic(), total, anonymous))
            except psutil.Error:
                pass
            time.sleep(self.interval)


class MemoryLimit:
    """
    A cgroup (v1 memory controller, or v2) that holds a process tree to `megabytes` of memory, page cache included:
    the kernel then drops the pages of mapped files to stay under it, as it would on a machine that small, and a
    process that needs more is killed (reported as `oom_kills`).
    """

    def __init__(self, megabytes: int):
        self.v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
        base = Path("/sys/fs/cgroup") if self.v2 else Path("/sys/fs/cgroup/memory")
        self.path = base / f"bench-scale-{os.getpid()}"
        self.path.mkdir()
        limit = str(megabytes * 2**20)
        (self.path / ("memory.max" if self.v2 else "memory.limit_in_bytes")).write_text(limit)

    def enter(self) -> None:  # in the child, before it starts the command
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def report(self) -> dict:
        if self.v2:
            events = dict(line.split() for line in (self.path / "memory.events").read_text().splitlines())
            peak = self.path / "memory.peak"
            return {
                "limit_mb": int((self.path / "memory.max").read_text()) // 2**20,
                "peak_mb": int(peak.read_text()) // 2**20 if peak.exists() else None,
                "oom_kills": int(events.get("oom_kill", 0)),
            }
        oom = dict(line.split() for line in (self.path / "memory.oom_control").read_text().splitlines())
        return {
            "limit_mb": int((self.path / "memory.limit_in_bytes").read_text()) // 2**20,
            "peak_mb": int((self.path / "memory.max_usage_in_bytes").read_text()) // 2**20,
            "oom_kills": int(oom.get("oom_kill", 0)),
        }

    def remove(self) -> None:
        self.path.rmdir()


def run_and_watch(command: list[str], env: dict, log_path: Path, memory_limit_mb: int | None = None) -> dict:
    """Run `command` (within `memory_limit_mb`), mark the phases from its log, sample its memory; return times and
    peaks."""
    limit = MemoryLimit(memory_limit_mb) if memory_limit_mb else None
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=limit.enter if limit else None,
    )
    sampler = Sampler(process.pid)
    sampler.start()
    ends, phase, steps = {}, 0, []
    with open(log_path, "w") as log:
        for line in process.stdout:
            log.write(line)
            if PHASES[-1][1].search(line):  # a step's log line (--logging_steps 1)
                steps.append(time.monotonic())
            # a phase whose line never comes (a run that fails, or skips it) does not hide the ones after it
            matched = next((i for i in range(phase, len(PHASES)) if PHASES[i][1].search(line)), None)
            if matched is not None:
                ends[PHASES[matched][0]] = time.monotonic() - started
                phase = matched + 1
    process.wait()
    sampler.running = False
    sampler.join()
    total = time.monotonic() - started
    limited = None
    if limit is not None:
        limited = limit.report()
        limit.remove()
    phases, previous = {}, 0.0
    for name, _ in PHASES:
        if name in ends:
            phases[name] = round(ends[name] - previous, 1)
            # the peak of the process tree within this phase
            window = [(rss, anon) for moment, rss, anon in sampler.marks if previous <= moment - started <= ends[name]]
            phases[f"{name} peak MB"] = round(max((rss for rss, _ in window), default=0) / 2**20)
            phases[f"{name} peak anonymous MB"] = round(max((anon for _, anon in window), default=0) / 2**20)
            previous = ends[name]
    return {
        "returncode": process.returncode,
        "seconds": round(total, 1),
        "phases_s": phases,
        "peak_rss_mb_all_processes": round(sampler.peak_total / 2**20),
        "peak_anonymous_rss_mb_all_processes": round(sampler.peak_anonymous / 2**20),
        "peak_pss_mb_all_processes": round(sampler.peak_proportional / 2**20),
        "peak_rss_mb_by_process": {key: round(value / 2**20) for key, value in sampler.peaks.items()},
        # training speed after the first step: steps logged, and seconds from the first step's line to the last's
        "steps_after_the_first": max(0, len(steps) - 1),
        "seconds_after_the_first_step": round(steps[-1] - steps[0], 2) if len(steps) > 1 else None,
        **({"memory_limit": limited} if limited else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, nargs="+", default=[100_000])
    parser.add_argument("--max_steps", type=int, default=20)
    parser.add_argument("--output_dir", type=Path, default=ROOT / "outputs" / "bench-scale")
    parser.add_argument("--predict", action="store_true", help="Also classify the corpus with hf_han.predict.")
    parser.add_argument("--streaming", action="store_true", help="Train with the example's --streaming mode.")
    parser.add_argument(
        "--memory_limit_mb",
        type=int,
        default=None,
        help="Run the example in a cgroup of this much memory, page cache included (root, Linux).",
    )
    parser.add_argument("--label", default="", help="A name for the run's files, to keep several modes apart.")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="More options for the example.")
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    for documents in args.docs:
        corpus = args.output_dir / f"corpus-{documents}.csv"
        started = time.monotonic()
        make_corpus(corpus, documents)
        row = {
            "docs": documents,
            "corpus_mb": round(corpus.stat().st_size / 2**20),
            "corpus_written_s": round(time.monotonic() - started, 1),
            "max_steps": args.max_steps,
            "mode": "streaming" if args.streaming else "default",
            "label": args.label,
            "extra": args.extra,
        }
        name = f"{documents}{'-' + args.label if args.label else ''}"
        out = args.output_dir / f"run-{name}"
        shutil.rmtree(out, ignore_errors=True)  # a fresh run, not a resumed one
        command = [sys.executable, str(ROOT / "examples" / "run_classification.py"), "--train_file", str(corpus),
                   "--output_dir", str(out), "--do_train", "--max_steps",
                   str(args.max_steps), "--logging_steps", "1", "--save_strategy", "no", "--eval_strategy", "no",
                   "--validation_split_percentage", "0", "--log_level", "info", "--disable_tqdm", "true",
                   "--report_to", "none", *(["--streaming"] if args.streaming else []),
                   "--overwrite_cache", *args.extra]  # tokenized again: never an earlier run's cache  # fmt: skip
        row["example"] = run_and_watch(command, env, args.output_dir / f"run-{name}.log", args.memory_limit_mb)
        state = out / "trainer_state.json"
        if state.exists():
            history = json.loads(state.read_text())["log_history"]
            runtime = next((entry["train_runtime"] for entry in history if "train_runtime" in entry), None)
            batch = json.loads(state.read_text()).get("train_batch_size")
            if runtime and batch:
                row["example"]["training_docs_per_s"] = round(args.max_steps * batch / runtime, 1)
            watched = row["example"]
            if batch and watched["seconds_after_the_first_step"]:
                watched["training_docs_per_s_after_the_first_step"] = round(
                    watched["steps_after_the_first"] * batch / watched["seconds_after_the_first_step"], 1
                )
        if args.predict and row["example"]["returncode"] == 0:
            command = [sys.executable, "-m", "hf_han.predict", "--model", str(out), "--input", str(corpus),
                       "--output", str(args.output_dir / f"predictions-{name}.jsonl"), "--overwrite",
                       "--quiet", "--batch_size", "64"]  # fmt: skip
            watched = run_and_watch(command, env, args.output_dir / f"predict-{name}.log")
            watched["docs_per_s"] = round(documents / watched["seconds"], 1)
            row["predict"] = watched
        print(json.dumps(row, indent=2), flush=True)
        with open(args.output_dir / "results.jsonl", "a") as handle:
            handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
