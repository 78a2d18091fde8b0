"""Serving a trained HAN: eager PyTorch against ONNX Runtime fp32 and int8, and the pipelines end to end.

    python benchmarks/bench_export.py --model outputs/bench-pretrained/imdb-full/han \
        --test_file outputs/bench-pretrained/imdb-full/data/test.csv [--documents 1024] [--repeats 3]

The model is one trained on IMDB (for example the `han` row of `bench_pretrained.py`), its tokenizer at the paper's
sizes (at most 30 sentences of 50 words). The script exports it twice with `hf_han.export` (fp32, int8), then:

- speed: the first `--documents` test reviews, tokenized once beforehand, in batches of 32 and of 1, through the
  eager model (the packed path), ONNX Runtime fp32 and int8 (the padded graph); and end to end, from text, through
  `pipeline("text-classification")` and the exported `ONNXDocumentClassifier`. Variants are interleaved, repeats
  give medians of documents/s.
- peak memory: for each variant, a fresh process that loads it and classifies the batches of 32; the growth of its
  peak resident set over the set-up, and the whole peak (the ONNX processes do not import torch).
- accuracy: every test review (or `--accuracy_samples`) through eager, fp32 and int8; the int8 change in points.

Run it alone: on 2 cores any other job distorts the figures. Writes `<output_dir>/results.json`.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))  # offline_datasets.py
from offline_datasets import read_split  # noqa: E402


INPUTS = ("input_ids", "attention_mask")
ORT_VARIANTS = {"onnx_fp32": "fp32", "onnx_int8": "int8"}


def encode_batches(tokenizer, texts: list[str], batch_size: int) -> list[dict[str, np.ndarray]]:
    batches = []
    for start in range(0, len(texts), batch_size):
        encoding = tokenizer(texts[start : start + batch_size], padding=True, return_tensors="np")
        batches.append({name: encoding[name].astype(np.int64) for name in INPUTS})
    return batches


def load_runner(variant: str, model_dir: str, export_dir: str):
    """A function from one batch of numpy inputs to numpy logits; imports torch only for the eager model."""
    if variant in ORT_VARIANTS:
        import onnxruntime

        session = onnxruntime.InferenceSession(
            str(Path(export_dir) / ORT_VARIANTS[variant] / "model.onnx"), providers=["CPUExecutionProvider"]
        )
        return lambda batch: session.run(["logits"], batch)[0]
    import torch

    from hf_han import HANForDocumentClassification

    model = HANForDocumentClassification.from_pretrained(model_dir).eval()

    def run(batch):
        with torch.inference_mode():
            return model(**{name: torch.from_numpy(batch[name]) for name in INPUTS}).logits.numpy()

    return run


def load_end_to_end(variant: str, model_dir: str, export_dir: str):
    """A function from a list of texts to predictions, as a user calls it."""
    if variant == "pipeline":
        from transformers import pipeline

        import hf_han  # noqa: F401  (registers the document-classification pipeline and the Auto classes)

        classifier = pipeline("text-classification", model=model_dir)
        return lambda texts: classifier(texts, batch_size=32)
    sys.path.insert(0, str(Path(export_dir) / "fp32"))
    from onnx_classifier import ONNXDocumentClassifier

    classifier = ONNXDocumentClassifier(Path(export_dir) / "fp32")
    return lambda texts: classifier(texts, batch_size=32)


def seconds(function, items) -> float:
    start = time.perf_counter()
    for item in items:
        function(item)
    return time.perf_counter() - start


def memory_child(variant: str, model_dir: str, export_dir: str, batches_file: str) -> None:
    """Child process: peak resident memory while `variant` classifies the saved batches of 32."""
    saved = np.load(batches_file)
    count = len([key for key in saved.files if key.startswith("input_ids")])
    batches = [{name: saved[f"{name}_{index}"] for name in INPUTS} for index in range(count)]
    run = load_runner(variant, model_dir, export_dir)
    run(batches[0])
    # the peak of the set-up is not the variant's: reset it (Linux) and read the high-water mark afterwards
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    baseline = _status_kb("VmRSS")
    for batch in batches:
        run(batch)
    peak = _status_kb("VmHWM")
    print(json.dumps({"growth_mib": (peak - baseline) / 1024, "peak_mib": peak / 1024}))


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(field + ":"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="outputs/bench-pretrained/imdb-full/han")
    parser.add_argument("--test_file", default="outputs/bench-pretrained/imdb-full/data/test.csv")
    parser.add_argument("--documents", type=int, default=1024, help="test reviews timed in batches of 32")
    parser.add_argument("--single_documents", type=int, default=128, help="test reviews timed one at a time")
    parser.add_argument("--accuracy_samples", type=int, default=0, help="0: every test review")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output_dir", default="outputs/bench-export")
    parser.add_argument("--memory-child", nargs=2, metavar=("VARIANT", "BATCHES_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    export_dir = Path(args.output_dir) / "export"
    if args.memory_child:
        memory_child(args.memory_child[0], args.model, str(export_dir), args.memory_child[1])
        return

    import torch
    from transformers import AutoConfig, AutoTokenizer

    from hf_han.export import export_onnx

    if not (Path(args.model) / "config.json").is_file() or not Path(args.test_file).is_file():
        raise SystemExit(
            f"{args.model} or {args.test_file} is missing: train one first, e.g. "
            "python benchmarks/bench_pretrained.py --dataset imdb --rows han "
            "--output_dir outputs/bench-pretrained/imdb-full"
        )
    texts, labels = read_split(args.test_file)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    results = {
        "command": " ".join(sys.argv),
        "model": args.model,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads "
        f"{torch.get_num_threads()}",
        "export": {},
    }
    for name, quantize in (("fp32", None), ("int8", "int8")):
        start = time.perf_counter()
        report = export_onnx(args.model, export_dir / name, quantize=quantize, validation_documents=texts[:64])
        results["export"][name] = {
            "seconds": round(time.perf_counter() - start, 1),
            "validation": report.get("int8") or report["float32"],
            "onnx_mib": round((export_dir / name / "model.onnx").stat().st_size / 2**20, 2),
        }
        print(name, results["export"][name], flush=True)

    # speed: pre-tokenized batches, then end to end from text
    timed = texts[: args.documents]
    batches = {32: encode_batches(tokenizer, timed, 32)}
    batches[1] = encode_batches(tokenizer, timed[: args.single_documents], 1)
    real_words = sum(int(batch["attention_mask"].sum()) for batch in batches[32])
    padded_words = sum(batch["attention_mask"].size for batch in batches[32])
    results["batches_of_32"] = {"real_words": real_words, "padded_positions": padded_words}
    runners = {variant: load_runner(variant, args.model, str(export_dir)) for variant in ("eager", *ORT_VARIANTS)}
    end_to_end = {variant: load_end_to_end(variant, args.model, str(export_dir)) for variant in ("pipeline", "onnx")}
    text_batches = [timed[start : start + 32] for start in range(0, len(timed), 32)]
    for run in runners.values():  # warm-up
        run(batches[32][0])
    timings = {}
    for _ in range(args.repeats):
        for size in (32, 1):
            for variant, run in runners.items():
                count = sum(len(batch["input_ids"]) for batch in batches[size])
                timings.setdefault(f"{variant}/{size}", []).append(count / seconds(run, batches[size]))
        for variant, classify in end_to_end.items():
            timings.setdefault(f"{variant}_end_to_end/32", []).append(len(timed) / seconds(classify, text_batches))
    results["docs_per_second"] = {key: round(statistics.median(values), 1) for key, values in timings.items()}
    print(json.dumps(results["docs_per_second"], indent=1), flush=True)

    # peak memory, one fresh process per variant
    batches_file = Path(args.output_dir) / "batches.npz"
    np.savez(batches_file, **{f"{name}_{i}": batch[name] for i, batch in enumerate(batches[32]) for name in INPUTS})
    results["memory_mib"] = {}
    for variant in runners:
        command = [sys.executable, __file__, "--model", args.model, "--output_dir", args.output_dir]
        command += ["--memory-child", variant, str(batches_file)]
        completed = subprocess.run(command, capture_output=True, text=True, check=True)
        results["memory_mib"][variant] = json.loads(completed.stdout.strip().splitlines()[-1])
    print(json.dumps(results["memory_mib"], indent=1), flush=True)

    # accuracy of every variant on the test reviews
    evaluated = slice(None) if args.accuracy_samples == 0 else slice(args.accuracy_samples)
    label2id = AutoConfig.from_pretrained(args.model).label2id
    gold = np.array([label2id[label] for label in labels[evaluated]])
    accuracy_batches = encode_batches(tokenizer, texts[evaluated], 32)
    predictions = {
        variant: np.concatenate([run(batch).argmax(-1) for batch in accuracy_batches])
        for variant, run in runners.items()
    }
    results["accuracy"] = {
        "documents": len(gold),
        **{variant: float((prediction == gold).mean()) for variant, prediction in predictions.items()},
        "int8_agreement_with_eager": float((predictions["onnx_int8"] == predictions["eager"]).mean()),
    }
    results["accuracy"]["int8_change_points"] = 100 * (results["accuracy"]["onnx_int8"] - results["accuracy"]["eager"])
    print(json.dumps(results["accuracy"], indent=1))
    (Path(args.output_dir) / "results.json").write_text(json.dumps(results, indent=2))

    speed = results["docs_per_second"]
    print("\n| variant | batch 1 docs/s | batch 32 docs/s | vs eager at 32 | peak growth MiB (process peak) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for variant in runners:
        memory = results["memory_mib"][variant]
        ratio = speed[f"{variant}/32"] / speed["eager/32"]
        print(
            f"| {variant} | {speed[f'{variant}/1']} | {speed[f'{variant}/32']} | {ratio:.2f}x | "
            f"{memory['growth_mib']:.0f} ({memory['peak_mib']:.0f}) |"
        )
    for variant in end_to_end:
        print(f"| {variant} end to end | | {speed[f'{variant}_end_to_end/32']} | | |")


if __name__ == "__main__":
    main()
