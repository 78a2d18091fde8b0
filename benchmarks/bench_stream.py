"""Training docs/s from a stream against the map-style dataset, in one process, on the same documents.

    python benchmarks/bench_stream.py [--corpus outputs/bench-scale/corpus-100000.csv] [--steps 150] [--rounds 3]

The documents of `--corpus` (a CSV of `text,label`, e.g. the one `bench_scale.py` writes) train a new HAN (the
paper's sizes, a 20,000-word vocabulary from the first 10,000 documents) with `HANTrainer` for `--steps` steps of
64, alternately from

- **map**: the documents tokenized first into an Arrow dataset (`datasets.map`, not timed), read through
  `Trainer`'s length-grouped sampler, as `run_classification.py` trains by default;
- **stream**: a `HANDocumentStream` over `load_dataset(..., streaming=True)`, shuffled in a buffer of 10,000,
  tokenized on the fly and grouped by length in buffers of 50 batches, as `run_classification.py --streaming`
  trains.

Each round times both (the order alternating), from the second step's start to the last step's end, so that the
first step's setup is left out; the model starts from the same weights each time. Prints each round and the
medians as JSON. Run it alone: on 2 cores anything else distorts the figures.
"""

import argparse
import json
import statistics
import time

import datasets
import torch
from transformers import TrainerCallback, TrainingArguments

from hf_han import (
    DataCollatorForDocumentClassification,
    HANConfig,
    HANDocumentStream,
    HANForDocumentClassification,
    HANTokenizer,
    HANTrainer,
)


class StepClock(TrainerCallback):
    """The time of each step's end."""

    def __init__(self):
        self.ends = []

    def on_step_end(self, args, state, control, **kwargs):
        self.ends.append(time.perf_counter())


def train_once(model_state, config, tokenizer, dataset, steps: int, output_dir: str) -> float:
    model = HANForDocumentClassification(config)
    model.load_state_dict(model_state)
    args = TrainingArguments(
        output_dir,
        max_steps=steps,
        per_device_train_batch_size=64,
        learning_rate=2e-3,
        train_sampling_strategy="group_by_length",
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        logging_strategy="no",
        use_cpu=True,
        dataloader_pin_memory=False,
    )
    clock = StepClock()
    trainer = HANTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=DataCollatorForDocumentClassification(tokenizer=tokenizer),
        callbacks=[clock],
    )
    trainer.train()
    return (len(clock.ends) - 1) * 64 / (clock.ends[-1] - clock.ends[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="outputs/bench-scale/corpus-100000.csv")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output_dir", default="outputs/bench-stream")
    args = parser.parse_args()
    torch.manual_seed(0)

    stream = datasets.load_dataset("csv", data_files={"train": args.corpus}, streaming=True)["train"]
    sample = [row["text"] for row in stream.take(10_000)]
    tokenizer = HANTokenizer().train_new_from_iterator(sample, vocab_size=20_000, min_frequency=6, show_progress=False)
    labels = {"negative": 0, "positive": 1}

    def preprocess(batch: dict) -> dict:
        encoding = tokenizer(batch["text"], truncation=True, return_length=True, return_attention_mask=False)
        return {**encoding, "labels": [labels[label] for label in batch["label"]]}

    documents = args.steps * 64 * 2  # enough for every step of a round, read from the start each time
    mapped = datasets.Dataset.from_list(list(stream.take(documents))).map(
        preprocess, batched=True, remove_columns=["text", "label"]
    )
    config = HANConfig(vocab_size=len(tokenizer), num_labels=2, pad_token_id=tokenizer.pad_token_id)
    state = HANForDocumentClassification(config).state_dict()
    rates = {"map": [], "stream": []}
    for round_number in range(args.rounds):
        order = ["map", "stream"] if round_number % 2 == 0 else ["stream", "map"]
        for kind in order:
            if kind == "map":
                dataset = mapped
            else:
                dataset = HANDocumentStream(
                    stream.take(documents), preprocess, batch_size=64, shuffle_buffer_size=10_000, seed=round_number
                )
            rates[kind].append(train_once(state, config, tokenizer, dataset, args.steps, args.output_dir))
        print(json.dumps({"round": round_number, **{k: round(v[-1], 1) for k, v in rates.items()}}), flush=True)
    medians = {kind: round(statistics.median(values), 1) for kind, values in rates.items()}
    print(json.dumps({"median_docs_per_s": medians, "stream_over_map": round(medians["stream"] / medians["map"], 3)}))


if __name__ == "__main__":
    main()
