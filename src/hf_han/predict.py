"""
Classify a corpus of any size with a saved HAN, in bounded memory, resumably:

    python -m hf_han.predict --model outputs/my-han --input reviews.csv more.jsonl --output predictions.jsonl
    torchrun --nproc_per_node 4 -m hf_han.predict ...        # or accelerate launch: each process its shard

Inputs are CSV/TSV files with a header or JSON lines (`document_files.py`), read as a stream in their order. The
output has one JSON line per input row, in input order: `{"file", "row", "label", "score"}` (a multi-label model:
`labels`, those at or above 0.5 with their scores; a regression model: `value`), with `--top_sentences K` also the
K sentences the model weighed most (`sentences`: text and weight), and for a row that cannot be classified
(empty, not text, not UTF-8, not JSON) `error` with the reason instead. Bad rows are counted and reported with
their row numbers at the end; they never stop the run or shift the output.

The output is written batch by batch. Killed and started again with the same command, the run continues after the
last complete line (a line cut off by the kill is dropped and redone); `OUTPUT.state.json` records the model,
inputs and options, so that a different command refuses to append to an output it did not write (`--overwrite`
starts again). With several processes each writes the batches of its shard to `OUTPUT.rank<r>` and the first
merges them in order at the end.
"""

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import torch

from .document_files import inspect_documents, read_documents
from .explanation_han import align_attentions


MULTI_LABEL_THRESHOLD = 0.5
SHOWN_BAD_ROWS = 1000  # bad rows listed by number in the state file (all are counted)


def load_model(model: str, device: torch.device):
    """The model and tokenizer of a saved HAN (hf-han's classes, or the folder's own code where hf-han is absent)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model_object = AutoModelForSequenceClassification.from_pretrained(model).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(model)
    check = getattr(tokenizer, "check_model_compatibility", None)
    if check is None:
        raise ValueError(f"{model} has no HAN tokenizer (got {type(tokenizer).__name__}).")
    check(model_object)
    return model_object, tokenizer


class DocumentBatches(torch.utils.data.IterableDataset):
    """
    The rows of the inputs in batches of `batch_size` (bad rows included, untokenized), starting after `skip`
    rows, tokenized in the data loader's workers. Batch `b` belongs to process `b % world_size` and, within it, to
    worker `(b // world_size) % num_workers`, so that a loader's round-robin over its workers yields its batches
    in order.
    """

    def __init__(
        self, inputs, tokenizer, batch_size: int, skip: int, rank: int, world_size: int, offsets: bool, skip_own: int
    ):
        self.inputs, self.tokenizer, self.batch_size, self.skip = inputs, tokenizer, batch_size, skip
        self.rank, self.world_size, self.offsets, self.skip_own = rank, world_size, offsets, skip_own

    def _rows(self):
        index = 0
        for path, column in self.inputs:
            for row, text, problem in read_documents(path, column):
                if index >= self.skip:
                    yield Path(path).name, row, text, problem
                index += 1

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)

        def mine(number: int) -> bool:  # this process's and this worker's, and not written before a restart
            own = number // self.world_size
            return number % self.world_size == self.rank and own % workers == worker and own >= self.skip_own

        batch, number = [], 0
        for item in self._rows():
            batch.append(item)
            if len(batch) == self.batch_size:
                if mine(number):
                    yield self._encode(batch)
                batch, number = [], number + 1
        if batch and mine(number):
            yield self._encode(batch)

    def _encode(self, batch):
        texts = [text for _, _, text, _ in batch if text is not None]
        encoding = (
            self.tokenizer(texts, padding=True, return_tensors="pt", return_offsets_mapping=self.offsets)
            if texts
            else None
        )
        return {"rows": batch, "encoding": None if encoding is None else dict(encoding)}


def predict_batch(model, batch: dict, device, top_sentences: int, is_subword: bool) -> list[dict]:
    """The output records of one batch, in its order."""
    config = model.config
    records, scores = [], None
    encoding = batch["encoding"]
    if encoding is not None:
        offsets = encoding.pop("offset_mapping", None)
        inputs = {
            name: tensor.to(device) for name, tensor in encoding.items() if name in ("input_ids", "attention_mask")
        }
        with torch.inference_mode():
            outputs = model(**inputs, output_attentions=top_sentences > 0)
        logits = outputs.logits.float()
        if config.problem_type == "regression" or config.num_labels == 1 and config.problem_type is None:
            scores = logits[:, 0].tolist()
        elif config.problem_type == "multi_label_classification":
            scores = torch.sigmoid(logits).tolist()
        else:
            scores = torch.softmax(logits, dim=-1).tolist()
        if top_sentences:
            word_attentions, sentence_attentions = outputs.word_attentions, outputs.sentence_attentions
            if word_attentions.dim() == 4:  # structured attention: the mean of the hops, as the pipeline shows it
                word_attentions, sentence_attentions = word_attentions.mean(dim=2), sentence_attentions.mean(dim=1)
            word_attentions, sentence_attentions = word_attentions.float().cpu(), sentence_attentions.float().cpu()
            mask = inputs["attention_mask"].cpu()
    position = 0
    for file, row, text, problem in batch["rows"]:
        record = {"file": file, "row": row}
        if problem is not None:
            record["error"] = problem
            records.append(record)
            continue
        values = scores[position]
        if isinstance(values, float):
            record["value"] = values
        elif config.problem_type == "multi_label_classification":
            record["labels"] = [
                {"label": config.id2label[index], "score": round(score, 6)}
                for index, score in sorted(enumerate(values), key=lambda item: -item[1])
                if score >= MULTI_LABEL_THRESHOLD
            ]
        else:
            best = max(range(len(values)), key=values.__getitem__)
            record["label"], record["score"] = config.id2label[best], round(values[best], 6)
        if top_sentences:
            sentences = align_attentions(
                text,
                offsets[position],
                mask[position],
                word_attentions[position],
                sentence_attentions[position],
                merge_pieces=is_subword,
            )
            strongest = sorted(sentences, key=lambda sentence: -sentence["attention"])[:top_sentences]
            record["sentences"] = [{"text": s["text"], "attention": round(s["attention"], 4)} for s in strongest]
        records.append(record)
        position += 1
    return records


def complete_lines(path: Path) -> int:
    """The number of complete lines of `path`, after cutting off a last line without its newline (a kill's)."""
    if not path.exists():
        return 0
    with open(path, "rb+") as handle:
        data_end = handle.seek(0, os.SEEK_END)
        # find the last newline, reading backwards in blocks
        position, cut = data_end, 0
        while position > 0:
            start = max(0, position - (1 << 16))
            handle.seek(start)
            block = handle.read(position - start)
            index = block.rfind(b"\n")
            if index >= 0:
                cut = start + index + 1
                break
            position = start
        if cut != data_end:
            handle.truncate(cut)
        handle.seek(0)
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))


def run(args: argparse.Namespace) -> dict:
    """Classify the inputs into `args.output`; return the summary (also in `OUTPUT.state.json`)."""
    rank, world_size = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if args.device == "auto":
        device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    if world_size > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    output = Path(args.output)
    state_path = output.with_name(output.name + ".state.json")
    inputs = []
    for path in args.input:
        column, total = inspect_documents(path)
        inputs.append((str(Path(path).resolve()), args.text_column or column, total))
    settings = {
        "model": args.model,
        # a changed input (size or modification time) is not continued: its rows may have moved
        "inputs": [[path, column, os.path.getsize(path), os.stat(path).st_mtime_ns] for path, column, _ in inputs],
        "top_sentences": args.top_sentences,
        "batch_size": args.batch_size,
        "world_size": world_size,
    }
    total = sum(count for _, _, count in inputs)
    state = json.loads(state_path.read_text()) if state_path.exists() else None
    if args.overwrite or state is None:
        if output.exists() and state is None and not args.overwrite:
            raise SystemExit(
                f"{output} exists and was not written by hf_han.predict: pass --overwrite or another --output."
            )
        if rank == 0:
            for stale in [output, *output.parent.glob(output.name + ".rank*")]:
                stale.unlink(missing_ok=True)
            state_path.write_text(json.dumps({"settings": settings, "complete": False}, indent=2))
        state = {"settings": settings, "complete": False}
    elif state["settings"] != settings:
        raise SystemExit(
            f"{output} was written with other settings ({state_path}): pass --overwrite to start again, or the "
            "same model, unchanged inputs, --top_sentences, --batch_size and number of processes to continue."
        )
    if world_size > 1:
        torch.distributed.barrier()
    if state.get("complete"):
        if rank == 0:
            print(f"{output} is complete: {state['summary']['rows']:,} rows.", file=sys.stderr)
        return state["summary"]

    # this process's part: the whole output, or its shard of batches
    part = output if world_size == 1 else output.with_name(f"{output.name}.rank{rank}")
    done_lines = complete_lines(part)
    if world_size == 1:
        skip, done_batches = done_lines, 0
    else:  # a shard resumes at whole batches: it holds batches rank, rank + world, ...
        done_batches = done_lines // args.batch_size
        if part.exists():
            with open(part, "rb+") as handle:  # drop a batch that was cut off part-way (it is done again)
                keep = sum(len(line) for _, line in zip(range(done_batches * args.batch_size), handle))
                handle.truncate(keep)
        skip = 0

    model, tokenizer = load_model(args.model, device)
    dataset = DocumentBatches(
        [(path, column) for path, column, _ in inputs],
        tokenizer,
        args.batch_size,
        skip,
        rank,
        world_size,
        offsets=args.top_sentences > 0,
        skip_own=done_batches,
    )
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=None, num_workers=args.num_workers, prefetch_factor=4 if args.num_workers else None
    )
    progress = None
    if rank == 0 and not args.quiet:
        from tqdm.auto import tqdm

        progress = tqdm(total=total, initial=min(total, done_lines * world_size), unit="doc", dynamic_ncols=True)
    started, classified = time.perf_counter(), 0
    is_subword = getattr(tokenizer, "is_subword", False)
    with open(part, "a", encoding="utf-8") as handle:
        for batch in loader:
            records = predict_batch(model, batch, device, args.top_sentences, is_subword)
            handle.write("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))
            handle.flush()
            classified += len(records)
            if progress is not None:
                progress.update(len(records) * world_size)
    if progress is not None:
        progress.close()
    seconds = time.perf_counter() - started

    if world_size > 1:
        torch.distributed.barrier()
        if rank == 0:
            merge_shards(output, world_size, args.batch_size)
        torch.distributed.barrier()
    summary = None
    if rank == 0:
        summary = summarise(output, total)
        summary["seconds_this_run"] = round(seconds, 1)
        summary["docs_per_second_this_run"] = round(classified * world_size / max(seconds, 1e-9), 1)
        state_path.write_text(json.dumps({"settings": settings, "complete": True, "summary": summary}, indent=2))
        report(summary, output)
    if world_size > 1:
        torch.distributed.destroy_process_group()
    return summary


def merge_shards(output: Path, world_size: int, batch_size: int) -> None:
    """Interleave the shards' batches (batch b is in shard b % world_size) into `output`, then remove them."""
    shards = [open(output.with_name(f"{output.name}.rank{rank}"), encoding="utf-8") for rank in range(world_size)]
    partial = output.with_name(output.name + ".merging")
    with open(partial, "w", encoding="utf-8") as merged:
        exhausted = 0
        while exhausted < world_size:
            exhausted = 0
            for shard in shards:
                lines = [line for _, line in zip(range(batch_size), shard)]
                merged.writelines(lines)
                exhausted += not lines
    for shard in shards:
        shard.close()
        Path(shard.name).unlink()
    partial.replace(output)


def summarise(output: Path, total: int) -> dict:
    """Counts of the output: rows, classified, bad rows by reason and the first bad rows' numbers."""
    rows, reasons, bad = 0, Counter(), []
    with open(output, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            rows += 1
            if "error" in record:
                reasons[record["error"]] += 1
                if len(bad) < SHOWN_BAD_ROWS:
                    bad.append([record["file"], record["row"]])
    if rows != total:
        raise RuntimeError(f"{output} has {rows:,} rows but the inputs have {total:,}: remove it and run again.")
    return {"rows": rows, "classified": rows - sum(reasons.values()), "bad_rows": dict(reasons), "first_bad_rows": bad}


def report(summary: dict, output: Path) -> None:
    line = f"{summary['rows']:,} rows -> {output}: {summary['classified']:,} classified"
    if summary["bad_rows"]:
        shown = ", ".join(f"{file}:{row}" for file, row in summary["first_bad_rows"][:20])
        reasons = ", ".join(f"{reason}: {count:,}" for reason, count in summary["bad_rows"].items())
        line += f"; {sum(summary['bad_rows'].values()):,} bad rows ({reasons}): {shown}"
    print(line, file=sys.stderr)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="A saved HAN folder or a Hub id.")
    parser.add_argument("--input", nargs="+", required=True, help="CSV/TSV with a header, or JSON lines.")
    parser.add_argument("--output", required=True, help="The JSON-lines file of predictions.")
    parser.add_argument("--text_column", help="Default: `text`, a usual name for it, or a file's only column.")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--top_sentences", type=int, default=0, help="Add the K sentences weighed most.")
    parser.add_argument("--num_workers", type=int, default=0, help="Processes that read and tokenize.")
    parser.add_argument("--device", default="auto", help="auto (a GPU per process where there is one), cpu, cuda:0")
    parser.add_argument("--overwrite", action="store_true", help="Start again instead of continuing.")
    parser.add_argument("--quiet", action="store_true", help="No progress bar.")
    args = parser.parse_args(argv)
    if args.batch_size < 1 or args.top_sentences < 0 or args.num_workers < 0:
        parser.error("--batch_size must be positive, --top_sentences and --num_workers at least 0.")
    try:
        return run(args)
    except ValueError as error:  # an unreadable input or a model without a HAN tokenizer: say why, no traceback
        raise SystemExit(f"hf_han.predict: {error}") from error


if __name__ == "__main__":
    main()
