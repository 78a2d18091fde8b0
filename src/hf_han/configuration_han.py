"""Hierarchical Attention Network (HAN) model configuration."""

from typing import ClassVar

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec
from transformers.utils import logging


logger = logging.get_logger(__name__)

ENCODERS = ("gru", "lstm", "transformer")
WORD_ENCODERS = (*ENCODERS, "pretrained")
WORD_POOLINGS = ("attention", "mean", "cls")
ATTENTIONS = ("additive", "structured")
PENALTY_NORMALIZATIONS = ("paper", "mean")
CONTEXTS = ("none", "left", "bidirectional")
CONTEXT_AGGREGATIONS = ("mean", "sum")
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
            The word encoder: a bidirectional `"gru"` or `"lstm"`, a `"transformer"` (self-attention layers of
            width `2 * word_hidden_size`, Vaswani et al. 2017), or `"pretrained"`: any `transformers` encoder
            (BERT, MiniLM, RoBERTa, XLM-R, ModernBERT, ...) described by `word_encoder_config`, which reads each
            real sentence with its special tokens (see [`HANForDocumentClassification.from_word_encoder`]). Its
            token states have its `hidden_size`; `embedding_dim` and `word_hidden_size` are then unused.
        word_encoder_config (`PreTrainedConfig` or `dict`, *optional*):
            The configuration of the pretrained word encoder (`word_encoder="pretrained"`), saved inside this one, so
            that a trained model reloads without the encoder's own files.
        word_encoder_name_or_path (`str`, *optional*):
            Where the pretrained word encoder came from (a Hub id or a folder); the model card's `base_model`.
        word_pooling (`str`, *optional*, defaults to `"attention"`):
            How a sentence's word states become its vector: `"attention"` (the paper's word attention, or the
            `attention` variant), `"mean"`, or `"cls"` (the first token's state: a pretrained encoder's `[CLS]`).
        freeze_word_encoder (`bool`, *optional*, defaults to `False`):
            Keep the pretrained word encoder fixed (in evaluation mode, without gradients) while the rest trains.
        sentence_encoder (`str`, *optional*, defaults to `"gru"`):
            The sentence encoder, one of `"gru"`, `"lstm"`, `"transformer"` (of width `2 * sentence_hidden_size`).
        num_word_layers (`int`, *optional*, defaults to 1):
            Number of stacked layers in the word encoder.
        num_sentence_layers (`int`, *optional*, defaults to 1):
            Number of stacked layers in the sentence encoder.
        transformer_heads (`int`, *optional*, defaults to 4):
            Attention heads of the Transformer encoders; must divide their width.
        transformer_ffn_dim (`int`, *optional*, defaults to 400):
            Inner size of the Transformer encoders' feed-forward layers.
        attention (`str`, *optional*, defaults to `"additive"`):
            The pooling attention at both levels: `"additive"` (the paper's, one learned context vector) or
            `"structured"` (Lin et al. 2017: `attention_hops` rows of attention, their pooled vectors flattened
            and projected back to the level's width, and the penalty `||A A^T - I||_F^2`).
        attention_hops (`int`, *optional*, defaults to 1):
            The number of attention rows `r` of structured attention; 1 for additive attention.
        attention_penalty (`float`, *optional*, defaults to 0.0):
            Coefficient of the structured-attention penalty added to the loss.
        attention_penalty_normalization (`str`, *optional*, defaults to `"paper"`):
            `"paper"`: `||A A^T - I||_F^2` summed over the `r x r` entries (Lin et al., eq. 8); `"mean"`: averaged
            over them, as the authors' code does (`1/r^2` of the paper's). Either way it is averaged over the
            sentences (word level) and documents (sentence level), and the two levels are added.
        context (`str`, *optional*, defaults to `"none"`):
            Context-aware word attention (CAHAN, Remy et al. 2019): `"left"` lets sentence `i`'s word attention see
            the preceding sentence vectors, `"bidirectional"` adds a right-to-left pass that sees the following
            ones, and the sentence encoder reads both sentence vectors; `"none"` is the paper's HAN.
        context_aggregation (`str`, *optional*, defaults to `"mean"`):
            How the other sentence vectors form the context: `"mean"`, or `"sum"` discounted by
            `context_discount` per sentence of distance.
        context_discount (`float`, *optional*, defaults to 0.9):
            For `context_aggregation="sum"`: `c_i = sum_{j<i} context_discount^(i-1-j) s_j`, which keeps the
            context's scale bounded in long documents.
        context_gate (`bool`, *optional*, defaults to `False`):
            Mix the word's and the context's projections through a learned sigmoid gate (CAHAN's gated form)
            instead of adding them.
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
    # the standard name generic code reads; `hidden_size` and `num_hidden_layers` are derived (see below)
    attribute_map: ClassVar[dict[str, str]] = {"num_attention_heads": "transformer_heads"}
    # Entries of a saved `config.json` that this installation does not read: a saved folder carries some for users
    # who load it as remote code, and the package, where it serves them itself, lists them here when imported.
    ignored_on_load: ClassVar[tuple[str, ...]] = ()
    # the pretrained word encoder's configuration, nested (any model type `transformers` knows)
    sub_configs_defaults: ClassVar[dict[str, SubConfigSpec]] = {
        "word_encoder_config": SubConfigSpec(config_class=AutoConfig, model_type="bert", optional=True)
    }

    vocab_size: int = 50000
    embedding_dim: int = 200
    word_hidden_size: int = 50
    sentence_hidden_size: int = 50
    attention_dim: int = 100
    word_encoder: str = "gru"
    sentence_encoder: str = "gru"
    num_word_layers: int = 1
    num_sentence_layers: int = 1
    transformer_heads: int = 4
    transformer_ffn_dim: int = 400
    attention: str = "additive"
    attention_hops: int = 1
    attention_penalty: float = 0.0
    attention_penalty_normalization: str = "paper"
    context: str = "none"
    context_aggregation: str = "mean"
    context_discount: float = 0.9
    context_gate: bool = False
    embedding_dropout: float = 0.0
    hidden_dropout: float = 0.1
    classifier_dropout: float = 0.1
    freeze_word_embeddings: bool = False
    word_encoder_config: dict | PreTrainedConfig | None = None
    word_encoder_name_or_path: str | None = None
    word_pooling: str = "attention"
    freeze_word_encoder: bool = False
    initializer_range: float = 0.02
    pad_token_id: int = 0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        for name in self.ignored_on_load:
            self.__dict__.pop(name, None)
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
        for name, allowed in (
            ("word_encoder", WORD_ENCODERS),
            ("sentence_encoder", ENCODERS),
            ("word_pooling", WORD_POOLINGS),
            ("attention", ATTENTIONS),
            ("attention_penalty_normalization", PENALTY_NORMALIZATIONS),
            ("context", CONTEXTS),
            ("context_aggregation", CONTEXT_AGGREGATIONS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"`{name}` must be one of {allowed}, got {getattr(self, name)!r}.")
        self._check_variants()
        self._check_word_encoder()
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

    @property
    def hidden_size(self) -> int:
        """The width of the document vector, `2 * sentence_hidden_size`: what a head on top of [`HANModel`] reads."""
        return 2 * self.sentence_hidden_size

    @hidden_size.setter
    def hidden_size(self, value) -> None:
        raise AttributeError(
            "HANConfig.hidden_size is derived: 2 * sentence_hidden_size. Set `sentence_hidden_size` (and "
            f"`word_hidden_size`) instead of hidden_size={value!r}."
        )

    @property
    def num_hidden_layers(self) -> int:
        """The encoder layers of both levels, `num_word_layers + num_sentence_layers`."""
        return self.num_word_layers + self.num_sentence_layers

    @num_hidden_layers.setter
    def num_hidden_layers(self, value) -> None:
        raise AttributeError(
            "HANConfig.num_hidden_layers is derived: num_word_layers + num_sentence_layers. Set those instead of "
            f"num_hidden_layers={value!r}."
        )

    @property
    def word_width(self) -> int:
        """The width of the word states: the pretrained encoder's `hidden_size`, or `2 * word_hidden_size`."""
        if self.word_encoder == "pretrained":
            return self.word_encoder_config.hidden_size
        return 2 * self.word_hidden_size

    def _check_word_encoder(self) -> None:
        """A pretrained word encoder needs its configuration, and the vocabulary is the encoder's."""
        if not isinstance(self.freeze_word_encoder, bool):
            raise ValueError(f"`freeze_word_encoder` must be a bool, got {self.freeze_word_encoder!r}.")
        if self.word_encoder != "pretrained":
            if self.word_pooling == "cls":
                raise ValueError(
                    "`word_pooling='cls'` reads a pretrained encoder's first ([CLS]) token; a word encoder "
                    f"{self.word_encoder!r} has none. Use 'attention' or 'mean'."
                )
            if self.freeze_word_encoder:
                raise ValueError(
                    "`freeze_word_encoder` applies to word_encoder='pretrained'; to keep word embeddings fixed, "
                    "use `freeze_word_embeddings`."
                )
            return
        if self.word_encoder_config is None:
            raise ValueError(
                "word_encoder='pretrained' needs `word_encoder_config`, the encoder's configuration: build the model "
                "with HANForDocumentClassification.from_word_encoder(name_or_path, ...)."
            )
        encoder_vocab = getattr(self.word_encoder_config, "vocab_size", None)
        if encoder_vocab is not None and encoder_vocab != self.vocab_size:
            raise ValueError(
                f"`vocab_size` ({self.vocab_size}) must be the pretrained word encoder's ({encoder_vocab}): its "
                "embeddings read the ids of its own tokenizer."
            )
        if self.context != "none" and self.word_pooling != "attention":
            raise ValueError(
                "Context-aware attention (`context`) pools words by attention: use word_pooling='attention'."
            )

    def _check_variants(self) -> None:
        """Sizes of the variants, and the combinations that would silently do nothing."""
        for name in ("transformer_heads", "transformer_ffn_dim", "attention_hops"):
            _check_positive_int(name, getattr(self, name))
        for name, width in (("word", 2 * self.word_hidden_size), ("sentence", 2 * self.sentence_hidden_size)):
            if getattr(self, f"{name}_encoder") == "transformer" and width % self.transformer_heads:
                raise ValueError(
                    f"`transformer_heads` ({self.transformer_heads}) must divide the {name} Transformer's width "
                    f"2 * {name}_hidden_size = {width}."
                )
        if not isinstance(self.attention_penalty, (int, float)) or self.attention_penalty < 0:
            raise ValueError(f"`attention_penalty` must be a float >= 0, got {self.attention_penalty!r}.")
        if self.attention == "additive" and (self.attention_hops != 1 or self.attention_penalty != 0):
            raise ValueError(
                "`attention_hops` and `attention_penalty` apply to attention='structured'; with 'additive' "
                f"attention they must be 1 and 0, got {self.attention_hops} and {self.attention_penalty}."
            )
        if not isinstance(self.context_discount, (int, float)) or not 0 < self.context_discount <= 1:
            raise ValueError(f"`context_discount` must be a float in (0, 1], got {self.context_discount!r}.")
        if not isinstance(self.context_gate, bool):
            raise ValueError(f"`context_gate` must be a bool, got {self.context_gate!r}.")
        if self.context == "none" and (self.context_gate or self.context_aggregation != "mean"):
            raise ValueError(
                "`context_gate` and `context_aggregation` apply to context='left' or 'bidirectional'; "
                "with context='none' leave them at False and 'mean'."
            )


def _check_positive_int(name: str, value) -> None:
    # bool is an int subclass; `True` as a size is always a mistake
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}.")


__all__ = ["HANConfig"]
