"""hf-han: Hierarchical Attention Networks for document classification, native to Hugging Face Transformers."""

from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer
from transformers.pipelines import PIPELINE_REGISTRY

from .configuration_han import HANConfig
from .data_collator import DataCollatorForDocumentClassification
from .modelcard_han import HANModelCardCallback, HANModelCardData
from .modeling_han import (
    HANDocumentClassifierOutput,
    HANForDocumentClassification,
    HANModel,
    HANModelOutput,
    HANPreTrainedModel,
)
from .pipeline_han import DocumentClassificationPipeline
from .tokenization_han import HANTokenizer
from .trainer_han import HANTrainer

__version__ = "0.1.0"

AutoConfig.register("han", HANConfig, exist_ok=True)
AutoModel.register(HANConfig, HANModel, exist_ok=True)
AutoModelForSequenceClassification.register(HANConfig, HANForDocumentClassification, exist_ok=True)
AutoTokenizer.register(HANConfig, tokenizer_class=HANTokenizer, exist_ok=True)
if "document-classification" not in PIPELINE_REGISTRY.get_supported_tasks():
    PIPELINE_REGISTRY.register_pipeline(
        "document-classification",
        pipeline_class=DocumentClassificationPipeline,
        pt_model=AutoModelForSequenceClassification,
        type="text",
    )

# Saved folders carry their code, so they load with `trust_remote_code=True` where hf_han is not installed.
HANConfig.register_for_auto_class()
HANModel.register_for_auto_class("AutoModel")
HANForDocumentClassification.register_for_auto_class("AutoModelForSequenceClassification")
HANTokenizer.register_for_auto_class("AutoTokenizer")

__all__ = [
    "DataCollatorForDocumentClassification",
    "DocumentClassificationPipeline",
    "HANConfig",
    "HANDocumentClassifierOutput",
    "HANForDocumentClassification",
    "HANModel",
    "HANModelCardCallback",
    "HANModelCardData",
    "HANModelOutput",
    "HANPreTrainedModel",
    "HANTokenizer",
    "HANTrainer",
    "__version__",
]
