"""The `document-classification` pipeline: text classification with HAN, optionally explained by its attention."""

from typing import Any

import numpy as np
import torch
from transformers import TextClassificationPipeline


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
    >>> result = explainer("Great cast. The plot, however, is a mess.", explain=True)  # doctest: +SKIP
    >>> result["label"], [round(s["attention"], 2) for s in result["sentences"]]  # doctest: +SKIP
    ('negative', [0.21, 0.79])
    ```

    With `explain=True` each result is a dict with `label` and `score` (the top class, as without `explain`),
    `labels` (every class with its score, best first, cut to `top_k` when given) and `sentences`: one dict per
    sentence the model read, with `text`, `start`, `end` (character span in the document), `attention` (the
    sentence weight; they sum to 1) and `words`, a list of dicts with `word`, `start`, `end` and `attention`
    (the word weights within the sentence; they sum to 1). With structured attention (several hops) the weights
    are the mean over the hops.
    """

    def _sanitize_parameters(self, explain: bool | None = None, **kwargs):
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
                word_attentions=word_attentions,  # (batch, sentences, words)
                sentence_attentions=sentence_attentions,  # (batch, sentences)
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
        return {
            "label": labels[0]["label"],
            "score": labels[0]["score"],
            "labels": labels,
            "sentences": align_attentions(
                document,
                model_outputs["offset_mapping"][0],
                model_outputs["attention_mask"][0],
                model_outputs["word_attentions"][0],
                model_outputs["sentence_attentions"][0],
            ),
        }


def align_attentions(
    document: str,
    offsets: torch.Tensor,
    attention_mask: torch.Tensor,
    word_attentions: torch.Tensor,
    sentence_attentions: torch.Tensor,
) -> list[dict[str, Any]]:
    """
    One document's attention as a list of sentences with their words, each with its character span in `document`.

    Args:
        document (`str`): the text as given to the tokenizer.
        offsets (`torch.Tensor` of shape `(sentences, words, 2)`): each word's `(start, end)` in `document`.
        attention_mask (`torch.Tensor` of shape `(sentences, words)`): 1 for real words.
        word_attentions (`torch.Tensor` of shape `(sentences, words)`): word weights within each sentence.
        sentence_attentions (`torch.Tensor` of shape `(sentences,)`): sentence weights in the document.
    """
    mask = np.asarray(attention_mask, dtype=bool)
    offsets = np.asarray(offsets)
    word_weights = np.asarray(word_attentions.float() if torch.is_tensor(word_attentions) else word_attentions)
    sentence_weights = np.asarray(
        sentence_attentions.float() if torch.is_tensor(sentence_attentions) else sentence_attentions
    )
    sentences = []
    for index in np.flatnonzero(mask.any(axis=1)):
        real = mask[index]
        spans = offsets[index][real]
        start, end = int(spans[0, 0]), int(spans[-1, 1])
        sentences.append(
            {
                "text": document[start:end],
                "start": start,
                "end": end,
                "attention": float(sentence_weights[index]),
                "words": [
                    {"word": document[s:e], "start": int(s), "end": int(e), "attention": float(weight)}
                    for (s, e), weight in zip(spans, word_weights[index][real])
                ],
            }
        )
    return sentences
