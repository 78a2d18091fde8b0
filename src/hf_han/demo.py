"""
A Gradio demo for any saved HAN: paste a document and see the labels with their probabilities and where the model
looked (each sentence by its weight, each word by its attention, in the text's own spacing), or upload a CSV or
JSON-lines file and download its predictions.

    pip install -e ".[demo]"
    python -m hf_han.demo --model outputs/han-imdb-quickstart          # a saved folder or a Hub model id
    python -m hf_han.demo --model org/han-yelp --write_space space/    # a folder that runs as a Hugging Face Space

The demo needs only the model's folder: where hf-han is installed its classes serve, elsewhere (a Space) the code
saved with the model does (`trust_remote_code`). The examples are the model card's widget examples, which
`examples/run_classification.py` takes from the validation documents at training time.
"""

import argparse
import csv
import html
import importlib.util
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from .document_files import DOCUMENT_SUFFIXES, TEXT_COLUMNS, inspect_documents, looks_binary, read_documents
from .safe_text_han import escape_html
from .visualization_han import attention_legend, attention_to_html_rows


# The model a written Space serves (`--write_space` sets it); `--model` or HF_HAN_MODEL overrides it.
DEFAULT_MODEL = None
MAX_CHARACTERS = 100_000  # a longer document is cut (HAN reads at most its tokenizer's max_sentences anyway)
MAX_UPLOAD_ROWS = 20_000  # a larger file is refused with a pointer to bulk prediction
UPLOAD_BATCH_SIZE = 32
MULTI_LABEL_THRESHOLD = 0.5


def load_classifier(model: str, trust_remote_code: bool | None = None):
    """
    The document-classification pipeline of `model` (a folder or a Hub id). With hf-han installed its registered
    classes serve; without it (a Space) the code saved with the model does, so `trust_remote_code` defaults to
    True there.
    """
    from transformers import pipeline

    if importlib.util.find_spec("hf_han") is not None:
        import hf_han  # noqa: F401  (registers the HAN classes and the document-classification task)

        trust = bool(trust_remote_code)
    else:
        trust = True if trust_remote_code is None else trust_remote_code
    return pipeline("document-classification", model=model, trust_remote_code=trust)


def card_details(model: str) -> tuple[str | None, list[str]]:
    """The model card's name and widget examples (`[]` where the card has none or cannot be read)."""
    try:
        from huggingface_hub import ModelCard

        card = ModelCard.load(os.path.join(model, "README.md") if os.path.isdir(model) else model)
    except Exception:  # no card, no network, not a card: the demo works without one
        return None, []
    widget = card.data.to_dict().get("widget") or []
    examples = [html.unescape(item["text"]) for item in widget if isinstance(item, dict) and item.get("text")]
    name = card.data.to_dict().get("model_name")
    return (html.unescape(name) if isinstance(name, str) else None), examples


class HANDemo:
    """
    The demo's logic, apart from its page: `classify` one document, `classify_file` a CSV or JSON-lines file. Each
    answers bad input with a message instead of an error.

    Args:
        classifier: a `document-classification` pipeline (`load_classifier`).
        examples (`list[str]`): documents offered under the text box.
        title (`str`, *optional*): the page's heading.
        max_characters, max_upload_rows: the limits above which a document is cut and a file refused.
    """

    def __init__(
        self,
        classifier,
        examples: list[str] | None = None,
        title: str | None = None,
        max_characters: int = MAX_CHARACTERS,
        max_upload_rows: int = MAX_UPLOAD_ROWS,
    ):
        self.classifier = classifier
        self.examples = list(examples or [])
        self.title = title or "Hierarchical Attention Network"
        self.max_characters, self.max_upload_rows = max_characters, max_upload_rows
        config = classifier.model.config
        self.problem_type = config.problem_type or (
            "regression" if config.num_labels == 1 else "single_label_classification"
        )

    # ------------------------------------------------------------------------------------------------ one document

    def classify(self, text: str | None) -> tuple[dict[str, float] | None, str, str]:
        """
        One document -> (label probabilities for `gr.Label`, or `None`; the attention as HTML; a message in Markdown).
        """
        if text is None or not text.strip():
            return None, "", "Paste or type a document, then press **Classify**."
        if looks_binary(text):
            return None, "", "This looks like binary data, not text: there are no words to classify."
        notes = []
        if len(text) > self.max_characters:
            notes.append(
                f"The document has {len(text):,} characters; the demo reads its first {self.max_characters:,}."
            )
            text = text[: self.max_characters]
        explanation = self.classifier(text, explain=True, top_k=None)[0]
        if self.problem_type == "regression":
            labels, heading = None, f"Predicted value: {explanation['score']:.4f}"
            notes.insert(0, heading + ".")
        elif self.problem_type == "multi_label_classification":
            labels = {item["label"]: item["score"] for item in explanation["labels"]}
            chosen = [label for label, score in labels.items() if score >= MULTI_LABEL_THRESHOLD]
            heading = "Labels: " + (", ".join(chosen) or "none")
            notes.insert(0, "Several labels may apply: each probability is that label's own (0.5 decides).")
        else:
            labels = {item["label"]: item["score"] for item in explanation["labels"]}
            heading = f"Prediction: {explanation['label']} ({explanation['score']:.2f})"
        if not any(word["word"].strip() for sentence in explanation["sentences"] for word in sentence["words"]):
            notes.append("The tokenizer found no words in this text: the answer is the model's for an empty document.")
        page = (
            f'<div class="han-attention"><h3 style="margin: 0 0 0.3em 0">{escape_html(heading)}</h3>'
            f'<p style="color: #666; font-size: 0.85em; margin: 0 0 0.6em 0">{attention_legend()}</p>'
            f"{attention_to_html_rows(explanation)}</div>"
        )
        return labels, page, "\n\n".join(notes)

    # ------------------------------------------------------------------------------------------------ many documents

    def classify_file(self, path: str | None, progress=None) -> tuple[str | None, str]:
        """
        A CSV/TSV (with a header) or JSON-lines file -> (the path of a CSV of predictions, or `None`; a message).
        Rows are read as a stream and classified in batches; a row without usable text (empty, not text, not
        UTF-8, not JSON) gets an `error` instead of a label and is reported, and never shifts the other rows.
        """
        if path is None:
            return None, "Upload a CSV or JSON-lines file with a `text` column."
        path = Path(path)
        try:
            column, total = inspect_documents(path, limit=self.max_upload_rows)
        except ValueError as error:
            return None, str(error)
        if total > self.max_upload_rows:
            return None, (
                f"The file has more than {self.max_upload_rows:,} rows: too many for this demo. Classify it with "
                "`python examples/run_classification.py --do_predict --test_file ...` (or start the demo with a "
                "larger `--max_upload_rows`)."
            )
        output = Path(tempfile.mkdtemp(prefix="han-demo-")) / f"{path.stem}-predictions.csv"
        started, done, problems = time.perf_counter(), 0, Counter()
        bad_rows = []
        with open(output, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "label", "score", "error"])
            batch = []

            def flush():
                nonlocal done
                if not batch:
                    return
                texts = [text[: self.max_characters] for _, text in batch]
                results = self.classifier(texts, batch_size=UPLOAD_BATCH_SIZE, top_k=None)
                for (row, _), scores in zip(batch, results, strict=True):
                    writer.writerow([row, *self._label_and_score(scores), ""])
                done += len(batch)
                batch.clear()
                if progress is not None:
                    rate = done / max(time.perf_counter() - started, 1e-9)
                    progress(done / max(total, 1), desc=f"{done:,} of {total:,} documents, {rate:,.0f} docs/s")

            for row, text, problem in read_documents(path, column):
                if problem is not None:
                    flush()  # rows stay in the file's order
                    writer.writerow([row, "", "", problem])
                    problems[problem] += 1
                    bad_rows.append(row)
                    done += 1
                    continue
                batch.append((row, text))
                if len(batch) == 32 * UPLOAD_BATCH_SIZE:  # few pipeline calls, a progress step each
                    flush()
            flush()
        seconds = time.perf_counter() - started
        classified = done - len(bad_rows)
        message = (
            f"Classified {classified:,} documents in {seconds:.1f} s ({classified / max(seconds, 1e-9):,.0f} docs/s)."
        )
        if bad_rows:
            shown = ", ".join(str(row) for row in bad_rows[:20]) + (", ..." if len(bad_rows) > 20 else "")
            reasons = ", ".join(f"{reason}: {count:,}" for reason, count in problems.most_common())
            message += f" {len(bad_rows):,} rows were not classified ({reasons}): rows {shown}."
        return str(output), message

    def _label_and_score(self, scores: list[dict]) -> tuple[str, str]:
        if self.problem_type == "regression":
            return "", f"{scores[0]['score']:.6g}"
        if self.problem_type == "multi_label_classification":
            chosen = [item for item in scores if item["score"] >= MULTI_LABEL_THRESHOLD]
            return ";".join(item["label"] for item in chosen), ";".join(f"{item['score']:.4f}" for item in chosen)
        return scores[0]["label"], f"{scores[0]['score']:.4f}"

    # ------------------------------------------------------------------------------------------------ the page

    def build(self):
        """The Gradio app (`gr.Blocks`): a document tab and a file tab; API names `classify` and `classify_file`."""
        import gradio as gr

        with gr.Blocks(title=self.title) as app:
            gr.Markdown(
                f"# {escape_html(self.title)}\n"
                "A Hierarchical Attention Network reads each sentence word by word, then the document sentence by "
                "sentence, and shows where it looked: sentences by their weight (blue bars), words by their "
                "attention (red)."
            )
            with gr.Tab("Document"):
                with gr.Row():
                    with gr.Column(scale=3):
                        text = gr.Textbox(label="Document", lines=10, placeholder="Paste a document here.")
                        button = gr.Button("Classify", variant="primary")
                    with gr.Column(scale=2):
                        labels = gr.Label(label="Prediction", num_top_classes=10)
                        message = gr.Markdown()
                attention = gr.HTML(label="Where the model looked")
                if self.examples:
                    gr.Examples(examples=[[example] for example in self.examples], inputs=text, label="Examples")
                button.click(self.classify, inputs=text, outputs=[labels, attention, message], api_name="classify")
            with gr.Tab("File"):
                gr.Markdown(
                    f"A CSV or TSV with a header, or JSON lines, with the documents in a `text` column (or "
                    f"{', '.join(f'`{c}`' for c in TEXT_COLUMNS[1:])}); up to {self.max_upload_rows:,} rows."
                )
                upload = gr.File(label="Documents", file_types=list(DOCUMENT_SUFFIXES))
                run = gr.Button("Classify the file", variant="primary")
                predictions = gr.File(label="Predictions (CSV: row, label, score, error)")
                summary = gr.Markdown()

                def classify_file(path, progress=gr.Progress()):  # noqa: B008 (how Gradio passes its progress bar)
                    return self.classify_file(path, progress)

                run.click(classify_file, inputs=upload, outputs=[predictions, summary], api_name="classify_file")
        return app


def build_demo(model: str, trust_remote_code: bool | None = None, **options) -> "HANDemo":
    """A [`HANDemo`] of `model` (a folder or a Hub id), titled and with examples from its model card."""
    name, examples = card_details(model)
    # a card without a name of its own says "HAN"; the folder or repository name says more
    options.setdefault("title", name if name and name != "HAN" else Path(model.rstrip("/")).name)
    return HANDemo(load_classifier(model, trust_remote_code), examples=examples, **options)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = os.environ.get("HF_HAN_MODEL") or DEFAULT_MODEL
    parser.add_argument("--model", default=default, required=default is None, help="A saved folder or a Hub id.")
    parser.add_argument("--trust_remote_code", action="store_true", help="Load the model's own code (no hf-han).")
    parser.add_argument("--server_name", default=None, help="Default: GRADIO_SERVER_NAME or 127.0.0.1.")
    parser.add_argument("--server_port", type=int, default=None, help="Default: GRADIO_SERVER_PORT or 7860.")
    parser.add_argument("--max_upload_rows", type=int, default=MAX_UPLOAD_ROWS)
    parser.add_argument("--write_space", metavar="DIR", help="Write a Hugging Face Space for the model to DIR.")
    parser.add_argument(
        "--space_model_id", help="With --write_space: the Hub id the Space loads (else it holds a copy)."
    )
    parser.add_argument("--space_id", help="With --write_space: the Space's own Hub id, linked from the model card.")
    args = parser.parse_args(argv)
    if args.write_space:
        from hf_han.space_han import write_space  # absolute: a written Space never writes Spaces

        folder = write_space(args.model, args.write_space, model_id=args.space_model_id, space_id=args.space_id)
        print(f"Wrote a Space to {folder}: python {folder / 'app.py'} runs it here; push the folder to a Space.")
        return
    model = args.model
    if DEFAULT_MODEL is not None and model == DEFAULT_MODEL and not os.path.isabs(model):
        # a Space holding its model: the folder beside this file
        beside = Path(__file__).resolve().parent / model
        model = str(beside) if beside.is_dir() else model
    demo = build_demo(model, args.trust_remote_code or None, max_upload_rows=args.max_upload_rows)
    app = demo.build()
    app.queue().launch(server_name=args.server_name, server_port=args.server_port, max_file_size="200mb")


if __name__ == "__main__":
    main()
