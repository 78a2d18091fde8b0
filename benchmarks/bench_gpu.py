"""Training and inference docs/s on a GPU: hf-han (length-bucketed `nn.GRU`) against a padded cuDNN HAN.

    python benchmarks/bench_gpu.py --prepare outputs/gpu-batches.pt       # here, on the CPU: real IMDB batches
    python benchmarks/bench_gpu.py --batches_file outputs/gpu-batches.pt  # there, on the GPU (gpu_check.sh)

Workload: batches of real IMDB reviews at the paper's settings (embeddings 200, GRU 50 per direction, attention
100), at most 30 sentences x 50 words, each batch padded to its own maxima, tokenized here and carried to the GPU
machine (which reaches no registry). The reference is `bench_model.PaddedReferenceHAN`: the whole padded
`(batch * sentences, words)` tensor through a bidirectional cuDNN `nn.GRU`, masked softmax, the same at sentence
level. Both read the same batches, interleaved, in float32 (TF32 allowed, as PyTorch's default for cuDNN) and under
bf16 autocast; `--batch_sizes` joins the prepared batches of 64 into larger ones. Medians of `--repeats` passes
after a warm-up pass, timed with `torch.cuda.synchronize()`.
"""

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path

import torch


sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_model import PAPER, PaddedReferenceHAN, run_pass  # noqa: E402

from hf_han import HANConfig, HANForDocumentClassification  # noqa: E402


def prepare(path: Path, batches: int) -> None:
    from bench_model import load_batches

    tokenizer, prepared = load_batches(batches)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "vocab_size": len(tokenizer),
            "batches": [
                {
                    "input_ids": b["input_ids"].to(torch.int32),
                    "attention_mask": b["attention_mask"].to(torch.int8),
                    "labels": b["labels"],
                }
                for b in prepared
            ],  # fmt: skip
        },
        path,
    )
    print(f"{len(prepared)} batches of real IMDB reviews saved to {path} ({path.stat().st_size / 2**20:.1f} MiB)")


def join(batches: list[dict], size: int) -> list[dict]:
    """Batches of 64 joined into batches of `size` documents, padded to the joined maxima."""
    per = size // len(batches[0]["labels"])
    joined = []
    for start in range(0, len(batches) - per + 1, per):
        group = batches[start : start + per]
        sentences = max(b["input_ids"].shape[1] for b in group)
        words = max(b["input_ids"].shape[2] for b in group)

        def pad(tensor, sentences=sentences, words=words):
            return torch.nn.functional.pad(tensor, (0, words - tensor.shape[2], 0, sentences - tensor.shape[1]))

        joined.append(
            {
                "input_ids": torch.cat([pad(b["input_ids"]) for b in group]),
                "attention_mask": torch.cat([pad(b["attention_mask"]) for b in group]),
                "labels": torch.cat([b["labels"] for b in group]),
            }
        )
    return joined


def build(variant: str, vocab_size: int) -> torch.nn.Module:
    torch.manual_seed(0)
    if variant == "hf_han":
        config = HANConfig(vocab_size=vocab_size, num_labels=2, hidden_dropout=0.0, classifier_dropout=0.0, **PAPER)
        return HANForDocumentClassification(config)
    return PaddedReferenceHAN(vocab_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prepare", type=Path, help="Tokenize real IMDB batches here and save them to this file.")
    parser.add_argument("--batches", type=int, default=32, help="With --prepare: batches of 64 reviews.")
    parser.add_argument("--batches_file", type=Path, default=Path("outputs/gpu-batches.pt"))
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--device", default="cuda", help="cuda; cpu only to check the script itself")
    parser.add_argument("--limit", type=int, help="Use the first N prepared batches (a quick check).")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare, args.batches)
        return
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_gpu.py measures on a CUDA device; none is here (prepare batches with --prepare).")
    saved = torch.load(args.batches_file)
    saved["batches"] = saved["batches"][: args.limit]
    name = torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu"
    results = {"device": name, "torch": torch.__version__, "python": platform.python_version(), "rows": []}
    for batch_size in args.batch_sizes:
        batches = join(saved["batches"], batch_size) if batch_size != 64 else saved["batches"]
        batches = [{k: v.to(device).long() for k, v in b.items()} for b in batches]
        documents = sum(len(b["labels"]) for b in batches)
        for dtype in (None, torch.bfloat16):
            models = {variant: build(variant, saved["vocab_size"]).to(device) for variant in ("hf_han", "padded")}
            optimizers = {v: torch.optim.Adam(m.parameters(), lr=1e-3) for v, m in models.items()}
            times = {(variant, train): [] for variant in models for train in (False, True)}
            for repeat in range(args.repeats + 1):  # the first pass warms up (cuDNN plans, allocator)
                for variant, model in models.items():  # interleaved
                    for train in (False, True):
                        model.train(train)
                        seconds = run_pass(model, batches, train, optimizers[variant], dtype)
                        if repeat:
                            times[(variant, train)].append(seconds)
            row = {"batch_size": batch_size, "dtype": "bf16 autocast" if dtype else "float32", "documents": documents}
            for (variant, train), seconds in times.items():
                row[f"{variant}_{'train' if train else 'inference'}_docs_per_s"] = round(
                    documents / statistics.median(seconds), 1
                )
            for phase in ("train", "inference"):
                row[f"{phase}_speedup"] = round(
                    row[f"hf_han_{phase}_docs_per_s"] / row[f"padded_{phase}_docs_per_s"], 2
                )
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
    if args.output:
        args.output.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
