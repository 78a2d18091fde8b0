"""
Export a trained HAN for serving without PyTorch: ONNX (dynamic batch, sentence and word axes; inputs `input_ids`
and `attention_mask`, output `logits`), validated against the PyTorch model before it is reported as done,
optionally quantized to int8 (ONNX Runtime's dynamic quantization), with the tokenizer, the configuration, an ONNX
Runtime classifier and an Inference Endpoints `handler.py` beside it; and `torch.export` programs.

    python -m hf_han.export --model outputs/han-imdb --output outputs/han-imdb-onnx [--quantize int8] [--opset 18]

    from hf_han.export import export_onnx
    report = export_onnx("outputs/han-imdb", "outputs/han-imdb-onnx", quantize="int8")

Needs `pip install hf-han[onnx]` (onnx, onnxruntime, onnxscript). The traced forward is the padded one of
`padded_han.py` (see there for what it computes and which variant it cannot express).
"""

import argparse
import contextlib
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import torch


# Real-looking documents for the example inputs and the validation: several sentences, lengths and paddings.
SAMPLE_DOCUMENTS = (
    "A wonderful film. The acting was superb and the story moved me to tears. I would watch it again!",
    "Dull.",
    "I wanted to like this movie. Sadly the plot made no sense, the dialogue was awful and it dragged on forever. "
    "Two hours I will never get back. Avoid it.",
    "The new phone has a bright screen and a battery that lasts two days. The camera is average.",
    "Stocks fell sharply on Monday after the central bank raised interest rates by half a point.",
    "Great cast, weak script.\nThe music, however, is beautiful; the ending surprised everyone in the room.",
    "What? No! Yes... maybe. I do not know what to think about this one, honestly, it is strange.",
    "The team won the final 3-1. Fans celebrated in the streets until dawn. The coach thanked the supporters.",
)
QUANTIZATIONS = ("int8",)


def export_program(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, for_onnx: bool = False):
    """
    `torch.export.export` of a HAN model (`HANForDocumentClassification` or `HANModel`) with dynamic batch,
    sentence and word axes, from example inputs of at least 2 along each axis. With `for_onnx`, the program holds
    `hf_han::bidirectional_rnn` operators for `torch.onnx.export` (see `onnx_rnn_han.py`); without, only PyTorch's.
    """
    if min(input_ids.shape) < 2:
        raise ValueError(
            f"Example inputs of shape {tuple(input_ids.shape)}: each axis needs at least 2 entries, or the export "
            "would fix it to that size."
        )
    # a pretrained word encoder reads at most its number of positions (fewer for RoBERTa's, which start after the
    # padding id): the bound that the export proves is the one to declare
    encoder = getattr(model.config, "word_encoder_config", None)
    longest = getattr(encoder, "max_position_embeddings", None) if encoder is not None else None
    if longest is not None and getattr(encoder, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        longest -= (encoder.pad_token_id or 0) + 1
    batch, sentences = torch.export.Dim("batch"), torch.export.Dim("sentences")
    words = torch.export.Dim("words", max=longest) if longest else torch.export.Dim("words")
    axes = {0: batch, 1: sentences, 2: words}
    from .padded_han import onnx_operators

    with onnx_operators() if for_onnx else contextlib.nullcontext():
        return torch.export.export(
            model.eval(),
            (),
            {"input_ids": input_ids, "attention_mask": attention_mask},
            dynamic_shapes={"input_ids": axes, "attention_mask": axes},
        )


def export_onnx(
    model_path,
    output_path,
    quantize: str | None = None,
    opset: int | None = None,
    torch_export: bool = False,
    validation_documents: list[str] | None = None,
    atol: float = 1e-5,
) -> dict:
    """
    Export the HAN saved at `model_path` (with its tokenizer) to `output_path/model.onnx`, validate it against
    PyTorch, and write the serving files beside it; see the module's documentation. Returns the export report (also
    saved as `export_report.json`). Raises `ValueError` when the export disagrees with PyTorch.

    Args:
        model_path (`str` or `os.PathLike`): a folder written by `save_pretrained` (model and tokenizer).
        output_path (`str` or `os.PathLike`): the export folder (created).
        quantize (`str`, *optional*): `"int8"`: `model.onnx` holds int8 weights (dynamic quantization).
        opset (`int`, *optional*): the ONNX opset; the exporter's default otherwise.
        torch_export (`bool`, *optional*): also save the `torch.export` program as `model.pt2`.
        validation_documents (`list[str]`, *optional*): documents to validate on, besides built-in ones.
        atol (`float`, *optional*, defaults to 1e-5): the largest difference of a float32 logit from PyTorch's.
    """
    from transformers import AutoTokenizer

    from .modeling_han import HANForDocumentClassification

    if quantize not in (None, *QUANTIZATIONS):
        raise ValueError(f"`quantize` must be one of {QUANTIZATIONS} or None, got {quantize!r}.")
    _require_onnx()
    model_path, output_path = Path(model_path), Path(output_path)
    if not (model_path / "config.json").is_file():
        raise FileNotFoundError(f"{model_path} holds no saved model (config.json): save one with save_pretrained.")
    model = HANForDocumentClassification.from_pretrained(model_path).eval()
    if model.config.context != "none":
        raise ValueError(
            "CAHAN (context-aware attention) has no export-ready forward: it reads sentences one after another. "
            "Serve it with PyTorch (pipeline) instead."
        )
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    output_path.mkdir(parents=True, exist_ok=True)

    example = tokenizer(list(SAMPLE_DOCUMENTS[:3]), padding=True, return_tensors="pt")
    program = export_program(model, example["input_ids"], example["attention_mask"], for_onnx=True)
    onnx_path = output_path / "model.onnx"
    fp32_path = output_path / "model_fp32.onnx" if quantize else onnx_path
    from .onnx_rnn_han import ONNX_TRANSLATIONS

    exported = torch.onnx.export(
        program,
        (),
        kwargs=dict(example),
        custom_translation_table=ONNX_TRANSLATIONS,
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        opset_version=opset,
        dynamo=True,
        verbose=False,
    )
    exported.save(str(fp32_path))
    batches = _validation_batches(tokenizer, list(SAMPLE_DOCUMENTS) + list(validation_documents or []))
    report = {"opset": _opset_of(fp32_path), "quantization": quantize, "atol": atol}
    report["float32"] = _compare(model, fp32_path, batches)
    if report["float32"]["max_abs_difference"] > atol:
        raise ValueError(
            f"The ONNX export differs from PyTorch by up to {report['float32']['max_abs_difference']:.2e} (allowed "
            f"{atol:g}); it was not written as a success. Report this with the model's config."
        )
    if quantize:
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # ONNX Runtime's basic (hardware-independent) optimizations first: they fold the products of weights, such
        # as the vocabulary's input projections, into initializers that the quantizer then stores as int8
        folded_path = output_path / "model_folded.onnx"
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded_path)
        onnxruntime.InferenceSession(str(fp32_path), options, providers=["CPUExecutionProvider"])
        quantize_dynamic(str(folded_path), str(onnx_path), weight_type=QuantType.QInt8)
        fp32_path.unlink()
        folded_path.unlink()
        report["int8"] = _compare(model, onnx_path, batches)
        if report["int8"]["argmax_agreement"] < 0.8:
            raise ValueError(
                f"The int8 model agrees with PyTorch on the top label of only "
                f"{100 * report['int8']['argmax_agreement']:.0f}% of the validation documents; it was not kept."
            )
    if torch_export:  # PyTorch's operators only, for ExecuTorch and AOTInductor
        program = export_program(model, example["input_ids"], example["attention_mask"])
        torch.export.save(program, str(output_path / "model.pt2"))

    tokenizer.save_pretrained(output_path)
    model.config.save_pretrained(output_path)
    shutil.copyfile(Path(__file__).with_name("onnx_classifier_han.py"), output_path / "onnx_classifier.py")
    (output_path / "handler.py").write_text(HANDLER, encoding="utf-8")
    (output_path / "requirements.txt").write_text("onnxruntime\ntransformers\ntokenizers\nnumpy\nregex\n")
    report["files"] = sorted(path.name for path in output_path.iterdir())
    (output_path / "export_report.json").write_text(json.dumps(report, indent=2))
    return report


def _require_onnx() -> None:
    missing = [name for name in ("onnx", "onnxruntime", "onnxscript") if not _importable(name)]
    if missing:
        raise ImportError(f"Exporting to ONNX needs {', '.join(missing)}: pip install hf-han[onnx]")


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _validation_batches(tokenizer, documents: list[str]) -> list[dict]:
    """Batches of 1, 3 and all documents, as the tokenizer pads them."""
    groups = [documents[:1], documents[1:4], documents]
    return [dict(tokenizer(group, padding=True, return_tensors="pt")) for group in groups]


def _compare(model, onnx_path: Path, batches: list[dict]) -> dict:
    """
    The ONNX model's logits against PyTorch's on `batches`: largest difference, agreement on the top label, and the
    largest PyTorch logit (the scale of the difference).
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    largest, scale, agreeing, total = 0.0, 0.0, 0, 0
    for batch in batches:
        with torch.no_grad():
            expected = model(**batch).logits.numpy()
        inputs = {name: batch[name].numpy().astype(np.int64) for name in ("input_ids", "attention_mask")}
        logits = session.run(["logits"], inputs)[0]
        largest = max(largest, float(np.abs(logits - expected).max()))
        scale = max(scale, float(np.abs(expected).max()))
        agreeing += int((logits.argmax(-1) == expected.argmax(-1)).sum())
        total += len(expected)
    return {
        "max_abs_difference": largest,
        "max_abs_logit": scale,
        "argmax_agreement": agreeing / total,
        "documents": total,
    }


def _opset_of(path: Path) -> int:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))


HANDLER = '''"""Hugging Face Inference Endpoints entry point for this exported HAN: ONNX Runtime, no PyTorch."""

import os
import sys


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_classifier import ONNXDocumentClassifier  # noqa: E402


class EndpointHandler:
    def __init__(self, path: str = ""):
        self.classifier = ONNXDocumentClassifier(path or os.path.dirname(os.path.abspath(__file__)))

    def __call__(self, data: dict) -> list:
        """`{"inputs": a document or a list of them, "parameters": {"top_k": ..., "function_to_apply": ...}}`"""
        if "inputs" not in data:
            raise ValueError('The request needs "inputs": a document, or a list of documents.')
        return self.classifier(data["inputs"], **(data.get("parameters") or {}))
'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hf_han.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="a folder written by save_pretrained (model and tokenizer)")
    parser.add_argument("--output", required=True, help="the export folder")
    parser.add_argument("--quantize", choices=QUANTIZATIONS, help="int8: dynamic quantization of the weights")
    parser.add_argument("--opset", type=int, help="the ONNX opset (the exporter's default otherwise)")
    parser.add_argument("--torch_export", action="store_true", help="also save the torch.export program (model.pt2)")
    parser.add_argument("--validation_file", help="more documents to validate on, one per line")
    args = parser.parse_args(argv)
    documents = None
    if args.validation_file:
        documents = [line for line in Path(args.validation_file).read_text(encoding="utf-8").splitlines() if line]
    try:
        report = export_onnx(
            args.model,
            args.output,
            quantize=args.quantize,
            opset=args.opset,
            torch_export=args.torch_export,
            validation_documents=documents,
        )
    except (ValueError, FileNotFoundError, OSError, ImportError) as error:
        print(f"hf_han.export: {error}", file=sys.stderr)
        return 1
    checked = report.get("int8") or report["float32"]
    print(
        f"Exported to {os.path.join(args.output, 'model.onnx')} (opset {report['opset']}"
        f"{', int8' if args.quantize else ''}): on {checked['documents']} documents the logits differ from PyTorch "
        f"by at most {checked['max_abs_difference']:.2e}, the top label agrees on "
        f"{100 * checked['argmax_agreement']:.0f}%."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
