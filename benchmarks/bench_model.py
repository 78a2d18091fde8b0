"""Training and inference throughput of HANForDocumentClassification against a padded reference HAN.

    python benchmarks/bench_model.py [--batches 10] [--repeats 3]

Workload: batches of 64 real IMDB reviews at the paper's settings (embeddings 200, GRU 50 per direction,
attention 100), at most 30 sentences x 50 words, padded to each batch's own maxima. The reference is the
straightforward implementation written below: the whole padded `(batch * sentences, words)` tensor through a
bidirectional `nn.GRU` without packing, masked softmax, the same at sentence level. Both read the same batches
and are interleaved; medians of the repeats are printed. Peak memory is measured in a fresh process per variant
(growth of the peak resident set over the set-up). Run it alone: on 2 cores any other job distorts the figures.
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import transformers
from torch import nn

from hf_han import DataCollatorForDocumentClassification, HANConfig, HANForDocumentClassification, HANTokenizer


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))  # offline_datasets.py
from offline_datasets import prepare_imdb_splits, read_split  # noqa: E402


BATCH_SIZE = 64
PAPER = dict(embedding_dim=200, word_hidden_size=50, sentence_hidden_size=50, attention_dim=100)


class PaddedReferenceHAN(nn.Module):
    """HAN computed on the padded tensors as they come: no packing, no gathering of real sentences."""

    def __init__(self, vocab_size: int, num_labels: int = 2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, PAPER["embedding_dim"], padding_idx=0)
        self.word_gru = nn.GRU(PAPER["embedding_dim"], 50, batch_first=True, bidirectional=True)
        self.word_projection = nn.Linear(100, PAPER["attention_dim"])
        self.word_context = nn.Parameter(torch.randn(PAPER["attention_dim"]) * 0.1)
        self.sentence_gru = nn.GRU(100, 50, batch_first=True, bidirectional=True)
        self.sentence_projection = nn.Linear(100, PAPER["attention_dim"])
        self.sentence_context = nn.Parameter(torch.randn(PAPER["attention_dim"]) * 0.1)
        self.classifier = nn.Linear(100, num_labels)

    @staticmethod
    def attend(states, mask, projection, context):
        scores = torch.tanh(projection(states)) @ context
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)  # an all-padding row becomes uniform
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1)

    def forward(self, input_ids, attention_mask, labels=None):
        batch, sentences, words = input_ids.shape
        mask = attention_mask.bool()
        word_states = self.word_gru(self.embedding(input_ids.view(batch * sentences, words)))[0]
        sentence_vectors = self.attend(
            word_states, mask.view(batch * sentences, words), self.word_projection, self.word_context
        ).view(batch, sentences, -1)
        sentence_states = self.sentence_gru(sentence_vectors)[0]
        document = self.attend(sentence_states, mask.any(-1), self.sentence_projection, self.sentence_context)
        logits = self.classifier(document)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return loss, logits


def load_batches(num_batches: int):
    paths = prepare_imdb_splits()
    texts, labels = read_split(paths["train"])
    tokenizer = HANTokenizer(max_sentences=30, max_words=50).train_new_from_iterator(
        texts, vocab_size=100000, min_frequency=6, show_progress=False
    )
    collator = DataCollatorForDocumentClassification(tokenizer=tokenizer)
    batches = []
    for start in range(0, num_batches * BATCH_SIZE, BATCH_SIZE):
        encodings = tokenizer(texts[start : start + BATCH_SIZE])
        examples = [
            {"input_ids": ids, "label": int(label == "positive")}
            for ids, label in zip(encodings["input_ids"], labels[start : start + BATCH_SIZE])
        ]
        batches.append(collator(examples))
    return tokenizer, batches


def build(variant: str, vocab_size: int) -> nn.Module:
    torch.manual_seed(0)
    if variant == "hf_han":
        config = HANConfig(vocab_size=vocab_size, num_labels=2, hidden_dropout=0.0, classifier_dropout=0.0, **PAPER)
        return HANForDocumentClassification(config)
    return PaddedReferenceHAN(vocab_size)


def run_pass(model: nn.Module, batches, train: bool, optimizer=None, dtype: torch.dtype | None = None) -> float:
    """Seconds for one pass over `batches` (on their device; under autocast to `dtype` when given)."""
    device = batches[0]["input_ids"].device
    synchronize = torch.cuda.synchronize if device.type == "cuda" else lambda: None  # GPU work is asynchronous
    synchronize()
    start = time.perf_counter()
    for batch in batches:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            if train:
                optimizer.zero_grad(set_to_none=True)
                output = model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"])
                loss = output.loss if hasattr(output, "loss") else output[0]
                loss.backward()
                optimizer.step()
            else:
                with torch.inference_mode():
                    model(batch["input_ids"], batch["attention_mask"])
    synchronize()
    return time.perf_counter() - start


def measure_memory(variant: str, batches_file: str) -> None:
    """Child process: print the growth of peak resident memory over the set-up during one training pass."""
    saved = torch.load(batches_file)
    batches = saved["batches"]
    model = build(variant, saved["vocab_size"])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    run_pass(model, batches[:1], train=False)
    # A child started from a large parent inherits its peak in ru_maxrss; reset the peak (Linux) and read VmHWM.
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    baseline = _status_kb("VmRSS")
    model.train()
    run_pass(model, batches, train=True, optimizer=optimizer)
    print(json.dumps({"train_mb": (_status_kb("VmHWM") - baseline) / 1024}))


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(field + ":"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-child", nargs=2, metavar=("VARIANT", "BATCHES_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        measure_memory(*args.memory_child)
        return

    tokenizer, batches = load_batches(args.batches)
    documents = args.batches * BATCH_SIZE
    real = sum(int(b["attention_mask"].sum()) for b in batches) / sum(b["attention_mask"].numel() for b in batches)
    shapes = sorted({tuple(b["input_ids"].shape) for b in batches})
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, python {platform.python_version()}, "
        f"{torch.get_num_threads()} threads, {platform.machine()}"
    )
    print(
        f"{len(batches)} batches of {BATCH_SIZE} IMDB reviews, shapes {shapes[:3]}..., "
        f"{100 * real:.0f}% of padded positions are real words, vocabulary {len(tokenizer)}"
    )

    models = {variant: build(variant, len(tokenizer)) for variant in ("hf_han", "reference")}
    optimizers = {variant: torch.optim.Adam(model.parameters(), lr=1e-3) for variant, model in models.items()}
    for model in models.values():  # warm-up
        model.train()
        run_pass(model, batches[:1], train=True, optimizer=torch.optim.SGD(model.parameters(), lr=0.0))
    rates = {(variant, mode): [] for variant in models for mode in ("train", "inference")}
    for repeat in range(args.repeats):
        for variant, model in models.items():
            model.train()
            rates[variant, "train"].append(documents / run_pass(model, batches, True, optimizers[variant]))
            model.eval()
            rates[variant, "inference"].append(documents / run_pass(model, batches, False))
        print(
            f"repeat {repeat + 1}/{args.repeats}: " + ", ".join(f"{v} {m} {r[-1]:.0f}" for (v, m), r in rates.items())
        )

    memory = {}
    with tempfile.TemporaryDirectory() as scratch:
        batches_file = f"{scratch}/batches.pt"
        torch.save({"batches": batches, "vocab_size": len(tokenizer)}, batches_file)
        for variant in models:
            child = subprocess.run(
                [sys.executable, __file__, "--memory-child", variant, batches_file],
                capture_output=True,
                text=True,
                check=True,
            )
            memory[variant] = json.loads(child.stdout.strip().splitlines()[-1])["train_mb"]

    print(f"\n{'variant':12s} {'train docs/s':>13s} {'inference docs/s':>17s} {'train peak MB':>14s}")
    for variant in models:
        print(
            f"{variant:12s} {statistics.median(rates[variant, 'train']):13.0f} "
            f"{statistics.median(rates[variant, 'inference']):17.0f} {memory[variant]:14.0f}"
        )
    for mode in ("train", "inference"):
        ratio = statistics.median(rates["hf_han", mode]) / statistics.median(rates["reference", mode])
        print(f"hf_han / reference, {mode}: {ratio:.2f}x")
    print(f"peak memory hf_han / reference: {memory['hf_han'] / memory['reference']:.2f}x")


if __name__ == "__main__":
    main()
