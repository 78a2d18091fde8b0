"""Dynamic padding of hierarchical `(sentences, words)` examples into `(batch, sentences, words)` tensors."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

from .padding_han import pad_documents


LABEL_KEYS = ("labels", "label", "label_ids")


@dataclass
class DataCollatorForDocumentClassification:
    """
    Pads ragged examples, as `HANTokenizer` returns them without padding (for instance from `datasets.map`), to the
    batch's own largest sentence count and sentence length, and stacks their labels.

    Args:
        tokenizer (`HANTokenizer`, *optional*):
            Gives the padding id (`tokenizer.pad_token_id`); without it `pad_token_id` is used.
        pad_to_multiple_of (`int`, *optional*):
            Round both padded dimensions up to a multiple of this value.
        pad_token_id (`int`, *optional*, defaults to 0):
            Padding id when no tokenizer is given.
        return_tensors (`str`, *optional*, defaults to `"pt"`):
            `"pt"` for torch tensors or `"np"` for numpy arrays.

    Each example is a mapping with `input_ids` (a list of sentences, each a list of ids), optionally
    `attention_mask` (same shape; all ones when absent) and a label under `labels`, `label` or `label_ids`: an
    int for single-label classification (stacked as int64), a float for regression or a list of numbers for
    multi-label classification (stacked as float32). Other keys, such as the `length` column used by
    `group_by_length` or `offset_mapping`, are not model inputs and are dropped.

    Example:

    ```python
    >>> from hf_han import DataCollatorForDocumentClassification
    >>> collator = DataCollatorForDocumentClassification()
    >>> batch = collator([{"input_ids": [[5, 6, 7], [8]], "label": 1}, {"input_ids": [[9]], "label": 0}])
    >>> batch["input_ids"].shape, batch["labels"].tolist()
    (torch.Size([2, 2, 3]), [1, 0])
    ```
    """

    tokenizer: Any = None
    pad_to_multiple_of: int | None = None
    pad_token_id: int = 0
    return_tensors: str = "pt"

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        if not features:
            raise ValueError("Cannot collate an empty list of examples.")
        if self.return_tensors not in ("pt", "np"):
            raise ValueError(f"`return_tensors` must be 'pt' or 'np', got {self.return_tensors!r}.")
        if "input_ids" not in features[0]:
            raise ValueError(f"Examples need `input_ids`; got the keys {sorted(features[0])}.")

        ragged = {"input_ids": [_as_nested_list(feature["input_ids"]) for feature in features]}
        if all("attention_mask" in feature for feature in features):  # otherwise every given word is real
            ragged["attention_mask"] = [_as_nested_list(feature["attention_mask"]) for feature in features]

        pad_token_id = self.tokenizer.pad_token_id if self.tokenizer is not None else self.pad_token_id
        batch = pad_documents(ragged, pad_to_multiple_of=self.pad_to_multiple_of, pad_token_id=pad_token_id)

        label_key = next((key for key in LABEL_KEYS if key in features[0]), None)
        if label_key is not None:
            batch["labels"] = _stack_labels([feature[label_key] for feature in features])
        if self.return_tensors == "pt":
            batch = {key: torch.from_numpy(value) for key, value in batch.items()}
        return batch


def _as_nested_list(value) -> list:
    return value.tolist() if hasattr(value, "tolist") else value


def _stack_labels(labels: list) -> np.ndarray:
    labels = [_as_nested_list(label) for label in labels]
    if any(label is None for label in labels):
        raise ValueError("Some examples have no label; give every example one, or none.")
    if all(isinstance(label, Integral) and not isinstance(label, bool) for label in labels):
        return np.asarray(labels, dtype=np.int64)  # class indices
    if all(isinstance(label, (Real, bool)) for label in labels):
        return np.asarray(labels, dtype=np.float32)  # regression targets
    if all(isinstance(label, (list, tuple)) for label in labels):
        if len({len(label) for label in labels}) != 1:
            raise ValueError(f"Label vectors differ in length: {sorted({len(label) for label in labels})}.")
        return np.asarray(labels, dtype=np.float32)  # multi-label targets or multi-output regression
    types = sorted({type(label).__name__ for label in labels})
    raise ValueError(f"Labels must be all ints, all floats or all lists of numbers; got {types}.")


__all__ = ["DataCollatorForDocumentClassification"]
