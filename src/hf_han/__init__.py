"""hf-han: Hierarchical Attention Networks for document classification, native to Hugging Face Transformers."""

from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from .configuration_han import HANConfig
from .data_collator import DataCollatorForDocumentClassification
from .distillation_han import distill_word_vectors
from .explanation_han import Explanation
from .modelcard_han import HANModelCardData
from .modeling_han import (
    HANDocumentClassifierOutput,
    HANForDocumentClassification,
    HANModel,
    HANModelOutput,
    HANPreTrainedModel,
)
from .pipeline_han import DocumentClassificationPipeline, register_pipeline
from .segmentation_han import HANSegmenter
from .streaming_han import HANDocumentStream
from .tokenization_han import HANTokenizer
from .trainer_han import HANModelCardCallback, HANTrainer
from .word_vectors_han import load_word_vectors


__version__ = "0.1.0"

AutoConfig.register("han", HANConfig, exist_ok=True)
AutoModel.register(HANConfig, HANModel, exist_ok=True)
AutoModelForSequenceClassification.register(HANConfig, HANForDocumentClassification, exist_ok=True)
AutoTokenizer.register(HANConfig, tokenizer_class=HANTokenizer, exist_ok=True)
register_pipeline()

# Saved folders carry their code, so they load with `trust_remote_code=True` where hf_han is not installed.
HANConfig.register_for_auto_class()
HANModel.register_for_auto_class("AutoModel")
HANForDocumentClassification.register_for_auto_class("AutoModelForSequenceClassification")
HANTokenizer.register_for_auto_class("AutoTokenizer")

__all__ = [
    "DataCollatorForDocumentClassification",
    "DocumentClassificationPipeline",
    "Explanation",
    "HANConfig",
    "HANDocumentClassifierOutput",
    "HANDocumentStream",
    "HANForDocumentClassification",
    "HANModel",
    "HANModelCardCallback",
    "HANModelCardData",
    "HANModelOutput",
    "HANPreTrainedModel",
    "HANSegmenter",
    "HANTokenizer",
    "HANTrainer",
    "__version__",
    "distill_word_vectors",
    "load_word_vectors",
]
