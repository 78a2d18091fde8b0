"""
A HAN exported to ONNX (`python -m hf_han.export`), served with ONNX Runtime: the folder's tokenizer and
`model.onnx`, no PyTorch. It answers as `pipeline("text-classification")` does. This file imports only numpy,
onnxruntime and transformers (for the tokenizer), and is copied beside every export, where `handler.py` (the
Inference Endpoints entry point) uses it.
"""

import json
import os

import numpy as np


_DEFAULT = object()  # `top_k` not given: the pipeline's single-best form


class ONNXDocumentClassifier:
    """
    Classify documents with an exported HAN.

    Args:
        path (`str` or `os.PathLike`): the export folder (`model.onnx`, `config.json`, the tokenizer files).
        file_name (`str`, *optional*, defaults to `"model.onnx"`): the ONNX file in it.
        providers (`list[str]`, *optional*): ONNX Runtime execution providers; by default the CPU.
        threads (`int`, *optional*): threads for one inference (ONNX Runtime's `intra_op_num_threads`).

    Example:

    ```python
    >>> classifier = ONNXDocumentClassifier("outputs/han-onnx")  # doctest: +SKIP
    >>> classifier("A wonderful film. I would watch it again!")  # doctest: +SKIP
    [{'label': 'positive', 'score': 0.98}]
    ```
    """

    def __init__(self, path, file_name: str = "model.onnx", providers: list[str] | None = None, threads=None):
        import onnxruntime
        from transformers import AutoTokenizer

        path = os.fspath(path)
        model_file = os.path.join(path, file_name)
        if not os.path.isfile(model_file):
            raise FileNotFoundError(f"{model_file} does not exist: export the model with `python -m hf_han.export`.")
        with open(os.path.join(path, "config.json"), encoding="utf-8") as handle:
            config = json.load(handle)
        self.id2label = {int(key): value for key, value in (config.get("id2label") or {}).items()}
        self.num_labels = len(self.id2label) or int(config.get("num_labels", 2))
        self.problem_type = config.get("problem_type")
        # the folder carries the tokenizer's code, for machines without hf-han
        self.tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=True)
        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            model_file, options, providers=providers or ["CPUExecutionProvider"]
        )

    def logits(self, documents: list[str]) -> np.ndarray:
        """The model's logits `(documents, num_labels)` for a list of documents."""
        encoding = self.tokenizer(documents, padding=True, return_tensors="np")
        inputs = {
            "input_ids": encoding["input_ids"].astype(np.int64),
            "attention_mask": encoding["attention_mask"].astype(np.int64),
        }
        return self.session.run(["logits"], inputs)[0]

    def __call__(self, inputs, top_k=_DEFAULT, function_to_apply: str | None = None, batch_size: int = 32):
        """
        As `pipeline("text-classification")`: without `top_k`, one `{"label", "score"}` (the best) per document, in
        a list (also for one document given as a `str`); with `top_k`, the `top_k` best (all for `None`), best
        first, a list per document (one list for a `str`). `function_to_apply`: `"softmax"`, `"sigmoid"` or
        `"none"`; by default what the pipeline chooses for the problem type.
        """
        single = isinstance(inputs, str)
        documents = [inputs] if single else list(inputs)
        if not all(isinstance(document, str) for document in documents):
            raise TypeError("ONNXDocumentClassifier classifies documents given as `str` or a list of them.")
        if batch_size < 1:
            raise ValueError(f"`batch_size` must be positive, got {batch_size}.")
        function = function_to_apply or self._default_function()
        if function not in ("softmax", "sigmoid", "none"):
            raise ValueError(f"`function_to_apply` must be 'softmax', 'sigmoid' or 'none', got {function!r}.")
        ranked = []
        for first in range(0, len(documents), batch_size):
            for row in self.logits(documents[first : first + batch_size]):
                scores = _apply(function, row.astype(np.float64))
                ranked.append(
                    [
                        {"label": self.id2label.get(index, f"LABEL_{index}"), "score": float(scores[index])}
                        for index in np.argsort(-scores, kind="stable")
                    ]
                )
        if top_k is _DEFAULT:
            return [labels[0] for labels in ranked]
        ranked = [labels if top_k is None else labels[:top_k] for labels in ranked]
        return ranked[0] if single else ranked

    def _default_function(self) -> str:
        if self.problem_type == "multi_label_classification" or self.num_labels == 1:
            return "sigmoid" if self.problem_type != "regression" else "none"
        return "softmax" if self.problem_type != "regression" else "none"


def _apply(function: str, logits: np.ndarray) -> np.ndarray:
    if function == "softmax":
        shifted = np.exp(logits - logits.max())
        return shifted / shifted.sum()
    if function == "sigmoid":
        return 1.0 / (1.0 + np.exp(-logits))
    return logits
