"""
The `document-classification` pipeline: text classification with HAN, optionally explained by its attention; its
registration with `transformers`, and the entry that lets a saved folder offer it as remote code.
"""

import difflib
from typing import Any

from transformers import TextClassificationPipeline

from .explanation_han import Explanation, align_attentions


PIPELINE_TASK = "document-classification"
# How `transformers.pipeline` finds this file's pipeline in a saved folder (`config.custom_pipelines`), for users
# without hf-han (`trust_remote_code=True`). Saving a HAN model writes it, and transformers copies this file along,
# since the model's code imports it (see `hub_han.py`).
PIPELINE_ENTRY = {
    "impl": "pipeline_han.DocumentClassificationPipeline",
    "pt": ["AutoModelForSequenceClassification"],
    "tf": [],
    "type": "text",
}


class DocumentClassificationPipeline(TextClassificationPipeline):
    """
    Classify documents with a HAN model, as the `text-classification` pipeline does, and with `explain=True` return
    where the model looked: the attention on each sentence and on each word within it, aligned to the text as it
    was given through character offsets.

    Registered as the `document-classification` task by `import hf_han`, and saved beside HAN models so that
    `pipeline("document-classification", model=..., trust_remote_code=True)` works where hf-han is not installed.

    Example:

    ```python
    >>> from transformers import pipeline
    >>> explainer = pipeline("document-classification", model="path/to/han")  # doctest: +SKIP
    >>> result = explainer("Great cast. The plot, however, is a mess.", explain=True)[0]  # doctest: +SKIP
    >>> result["label"], [round(s["attention"], 2) for s in result["sentences"]]  # doctest: +SKIP
    ('negative', [0.21, 0.79])
    ```

    With `explain=True` each result is an [`~explanation_han.Explanation`]: `label` and `score` (the top class, as
    without `explain`), `labels` (every class with its score, best first, cut to `top_k` when given) and
    `sentences`, one per sentence the model read, with its character span, its weight and its words (each with its
    span and its weight within the sentence). One document gives a list of one explanation, whatever `top_k` is.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # a tokenizer that the model was not trained with gives confident answers about the wrong words
        check = getattr(self.tokenizer, "check_model_compatibility", None)
        if check is None:
            raise ValueError(
                f"The document-classification pipeline needs a HAN tokenizer, got {type(self.tokenizer).__name__}."
            )
        check(self.model)

    def __call__(self, inputs, **kwargs):
        result = super().__call__(inputs, **kwargs)
        if kwargs.get("explain") and isinstance(inputs, str) and isinstance(result, dict):
            return [result]  # the stock pipeline leaves a single result unwrapped when `top_k` is given
        return result

    def _sanitize_parameters(self, explain: bool | None = None, **kwargs):
        options = ("explain", "top_k", "function_to_apply", *getattr(self.tokenizer, "call_arguments", ()))
        for name in kwargs:
            if name not in options:
                close = difflib.get_close_matches(name, options, n=1)
                hint = f" Did you mean `{close[0]}`?" if close else ""
                raise TypeError(
                    f"The document-classification pipeline got an unexpected argument `{name}`.{hint} It takes "
                    + ", ".join(f"`{option}`" for option in options)
                    + "."
                )
        preprocess_params, forward_params, postprocess_params = super()._sanitize_parameters(**kwargs)
        if explain is not None:
            preprocess_params["explain"] = bool(explain)
            forward_params["explain"] = bool(explain)
            postprocess_params["explain"] = bool(explain)
        return preprocess_params, forward_params, postprocess_params

    def preprocess(self, inputs, explain: bool = False, **tokenizer_kwargs) -> dict[str, Any]:
        if not isinstance(inputs, str):
            raise TypeError(
                f"The document-classification pipeline takes documents as `str`, got {type(inputs).__name__}."
            )
        model_inputs = self.tokenizer(inputs, return_tensors="pt", return_offsets_mapping=explain, **tokenizer_kwargs)
        if explain:
            model_inputs["document"] = inputs
        return model_inputs

    def _forward(self, model_inputs: dict[str, Any], explain: bool = False) -> dict[str, Any]:
        documents = model_inputs.pop("document", None)
        offsets = model_inputs.pop("offset_mapping", None)
        outputs = self.model(
            input_ids=model_inputs["input_ids"],
            attention_mask=model_inputs["attention_mask"],
            output_attentions=explain,
        )
        result = {"logits": outputs.logits}
        if explain:
            word_attentions, sentence_attentions = outputs.word_attentions, outputs.sentence_attentions
            if word_attentions.dim() == 4:  # structured attention: one picture, the mean of the hops
                word_attentions, sentence_attentions = word_attentions.mean(dim=2), sentence_attentions.mean(dim=1)
            result.update(
                word_attentions=word_attentions.float(),  # (batch, sentences, words)
                sentence_attentions=sentence_attentions.float(),  # (batch, sentences)
                attention_mask=model_inputs["attention_mask"],
                offset_mapping=offsets,  # (batch, sentences, words, 2)
                document=documents,
            )
        return result

    def postprocess(self, model_outputs, function_to_apply=None, top_k=1, _legacy=True, explain: bool = False):
        if not explain:
            return super().postprocess(
                model_outputs, function_to_apply=function_to_apply, top_k=top_k, _legacy=_legacy
            )
        labels = super().postprocess(model_outputs, function_to_apply=function_to_apply, top_k=None, _legacy=False)
        if top_k is not None and not _legacy:
            labels = labels[:top_k]
        document = model_outputs["document"]
        document = document[0] if isinstance(document, list) else document
        return Explanation(
            label=labels[0]["label"],
            score=labels[0]["score"],
            labels=labels,
            sentences=align_attentions(
                document,
                model_outputs["offset_mapping"][0],
                model_outputs["attention_mask"][0],
                model_outputs["word_attentions"][0],
                model_outputs["sentence_attentions"][0],
                merge_pieces=getattr(self.tokenizer, "is_subword", False),
            ),
        )


def register_pipeline() -> None:
    """
    Register the `document-classification` task with `transformers` (`import hf_han` does). A saved folder also
    names its own copy of this pipeline in `config.custom_pipelines`, for users without hf-han; where hf-han is
    installed its registered pipeline serves instead, and the folder's entry, for which `transformers` would demand
    `trust_remote_code=True`, is ignored when the config loads (and written again when the model is saved).
    """
    from transformers import AutoModelForSequenceClassification
    from transformers.pipelines import PIPELINE_REGISTRY

    from .configuration_han import HANConfig

    if PIPELINE_TASK not in PIPELINE_REGISTRY.get_supported_tasks():
        PIPELINE_REGISTRY.register_pipeline(
            PIPELINE_TASK,
            pipeline_class=DocumentClassificationPipeline,
            pt_model=AutoModelForSequenceClassification,
            type="text",
        )
    HANConfig.ignored_on_load = ("custom_pipelines",)


def add_pipeline_entry(config) -> None:
    """Name this file's pipeline in `config.custom_pipelines`, before the config is saved."""
    config.custom_pipelines = {PIPELINE_TASK: PIPELINE_ENTRY}


__all__ = ["DocumentClassificationPipeline", "add_pipeline_entry", "register_pipeline"]
