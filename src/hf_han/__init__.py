"""hf-han: Hierarchical Attention Networks for document classification, native to Hugging Face Transformers."""

from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

from .configuration_han import HANConfig
from .modeling_han import (
    HANDocumentClassifierOutput,
    HANForDocumentClassification,
    HANModel,
    HANModelOutput,
    HANPreTrainedModel,
)


__version__ = "0.1.0"

AutoConfig.register("han", HANConfig, exist_ok=True)
AutoModel.register(HANConfig, HANModel, exist_ok=True)
AutoModelForSequenceClassification.register(HANConfig, HANForDocumentClassification, exist_ok=True)

# Saved folders carry their code, so they load with `trust_remote_code=True` where hf_han is not installed.
HANConfig.register_for_auto_class()
HANModel.register_for_auto_class("AutoModel")
HANForDocumentClassification.register_for_auto_class("AutoModelForSequenceClassification")

__all__ = [
    "HANConfig",
    "HANDocumentClassifierOutput",
    "HANForDocumentClassification",
    "HANModel",
    "HANModelOutput",
    "HANPreTrainedModel",
    "__version__",
]
