"""Hierarchical Attention Network (HAN) model configuration."""

from transformers import PreTrainedConfig
from transformers.utils import logging

logger = logging.get_logger(__name__)

RECURRENT_ENCODERS = ("gru", "lstm")
PROBLEM_TYPES = (None, "single_label_classification", "multi_label_classification", "regression")


class HANConfig(PreTrainedConfig):
    r"""
    Configuration of a Hierarchical Attention Network (Yang et al., NAACL 2016): words are read by a bidirectional
    recurrent encoder and pooled into sentence vectors by additive attention with a learned word context vector
    `u_w`; sentence vectors are read by a second bidirectional encoder and pooled into the document vector by a
    sentence context vector `u_s`. The defaults are the paper's settings.

    Args:
        vocab_size (`int`, *optional*, defaults to 50000):
            Number of rows of the word embedding matrix; must equal the tokenizer's `len(tokenizer)`.
        embedding_dim (`int`, *optional*, defaults to 200):
            Dimension of the word embeddings.
        word_hidden_size (`int`, *optional*, defaults to 50):
            Hidden size of the word encoder per direction; word states have `2 * word_hidden_size` features.
        sentence_hidden_size (`int`, *optional*, defaults to 50):
            Hidden size of the sentence encoder per direction; the document vector has `2 * sentence_hidden_size`
            features.
        attention_dim (`int`, *optional*, defaults to 100):
            Dimension of the attention projections and of the context vectors `u_w` and `u_s`.
        word_encoder (`str`, *optional*, defaults to `"gru"`):
            Recurrent cell of the word encoder, one of `"gru"`, `"lstm"`.
        sentence_encoder (`str`, *optional*, defaults to `"gru"`):
            Recurrent cell of the sentence encoder, one of `"gru"`, `"lstm"`.
        num_word_layers (`int`, *optional*, defaults to 1):
            Number of stacked bidirectional layers in the word encoder.
        num_sentence_layers (`int`, *optional*, defaults to 1):
            Number of stacked bidirectional layers in the sentence encoder.
        embedding_dropout (`float`, *optional*, defaults to 0.0):
            Dropout on the word embeddings.
        hidden_dropout (`float`, *optional*, defaults to 0.1):
            Dropout between stacked encoder layers and on the sentence vectors fed to the sentence encoder.
        classifier_dropout (`float`, *optional*, defaults to 0.1):
            Dropout on the document vector before the classification layer.
        freeze_word_embeddings (`bool`, *optional*, defaults to `False`):
            Keep the word embeddings fixed during training (for example after loading pre-trained vectors).
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initialisation of the linear layers.
        pad_token_id (`int`, *optional*, defaults to 0):
            Id of the padding word; its embedding stays zero.

    `num_labels`, `id2label`, `label2id` and `problem_type` (`"single_label_classification"`,
    `"multi_label_classification"` or `"regression"`) are handled by [`~transformers.PreTrainedConfig`].

    Example:

    ```python
    >>> from hf_han import HANConfig, HANForDocumentClassification

    >>> config = HANConfig(vocab_size=20000, num_labels=5)
    >>> model = HANForDocumentClassification(config)
    >>> model.config.word_hidden_size
    50
    ```
    """

    model_type = "han"

    vocab_size: int = 50000
    embedding_dim: int = 200
    word_hidden_size: int = 50
    sentence_hidden_size: int = 50
    attention_dim: int = 100
    word_encoder: str = "gru"
    sentence_encoder: str = "gru"
    num_word_layers: int = 1
    num_sentence_layers: int = 1
    embedding_dropout: float = 0.0
    hidden_dropout: float = 0.1
    classifier_dropout: float = 0.1
    freeze_word_embeddings: bool = False
    initializer_range: float = 0.02
    pad_token_id: int = 0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if __name__.startswith("hf_han."):
            # A saved folder names its own copy of the pipeline code for users without hf-han; where hf-han is
            # installed its registered pipelines serve, and `transformers` would otherwise demand
            # `trust_remote_code=True` for them. Saving writes the entry again.
            self.__dict__.pop("custom_pipelines", None)
        for name in (
            "vocab_size",
            "embedding_dim",
            "word_hidden_size",
            "sentence_hidden_size",
            "attention_dim",
            "num_word_layers",
            "num_sentence_layers",
        ):
            _check_positive_int(name, getattr(self, name))
        for name in ("embedding_dropout", "hidden_dropout", "classifier_dropout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(f"`{name}` must be a float in [0, 1), got {value!r}.")
        for name in ("word_encoder", "sentence_encoder"):
            if getattr(self, name) not in RECURRENT_ENCODERS:
                raise ValueError(f"`{name}` must be one of {RECURRENT_ENCODERS}, got {getattr(self, name)!r}.")
        if isinstance(self.pad_token_id, bool) or not isinstance(self.pad_token_id, int):
            raise ValueError(f"`pad_token_id` must be an int, got {self.pad_token_id!r}.")
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(
                f"`pad_token_id` must lie in the vocabulary [0, {self.vocab_size}), got {self.pad_token_id}."
            )
        if not isinstance(self.initializer_range, (int, float)) or self.initializer_range <= 0:
            raise ValueError(f"`initializer_range` must be a positive float, got {self.initializer_range!r}.")
        if self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"`problem_type` must be one of {PROBLEM_TYPES}, got {self.problem_type!r}.")
        if self.num_labels is not None and self.num_labels < 1:
            raise ValueError(f"`num_labels` must be at least 1, got {self.num_labels}.")


def _check_positive_int(name: str, value) -> None:
    # bool is an int subclass; `True` as a size is always a mistake
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}.")


__all__ = ["HANConfig"]
