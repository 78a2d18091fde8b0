"""hf-han: Hierarchical Attention Networks for document classification, native to Hugging Face Transformers."""

from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from .configuration_han import HANConfig
from .data_collator import DataCollatorForDocumentClassification
from .modeling_han import (
    HANDocumentClassifierOutput,
    HANForDocumentClassification,
    HANModel,
    HANModelOutput,
    HANPreTrainedModel,
)
from .tokenization_han import HANTokenizer


__version__ = "0.1.0"

AutoConfig.register("han", HANConfig, exist_ok=True)
AutoModel.register(HANConfig, HANModel, exist_ok=True)
AutoModelForSequenceClassification.register(HANConfig, HANForDocumentClassification, exist_ok=True)
AutoTokenizer.register(HANConfig, tokenizer_class=HANTokenizer, exist_ok=True)

# Saved folders carry their code, so they load with `trust_remote_code=True` where hf_han is not installed.
HANConfig.register_for_auto_class()
HANModel.register_for_auto_class("AutoModel")
HANForDocumentClassification.register_for_auto_class("AutoModelForSequenceClassification")
HANTokenizer.register_for_auto_class("AutoTokenizer")

__all__ = [
    "DataCollatorForDocumentClassification",
    "HANConfig",
    "HANDocumentClassifierOutput",
    "HANForDocumentClassification",
    "HANModel",
    "HANModelOutput",
    "HANPreTrainedModel",
    "HANTokenizer",
    "__version__",
]
