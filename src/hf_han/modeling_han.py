"""PyTorch Hierarchical Attention Network (Yang et al., NAACL 2016) for document classification."""

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.loss.loss_utils import ForSequenceClassificationLoss
from transformers.utils import ModelOutput, logging

from .attention_han import HANAttention
from .configuration_han import HANConfig
from .context_han import HANContextAttention
from .hub_han import HANHubMixin
from .inputs_han import check_inputs, fixed_word_weights, in_layout, pack_documents, through_layout
from .recurrence_han import HANBidirectionalEncoder
from .transformer_han import HANTransformerEncoder
from .word_vectors_han import load_word_vectors


logger = logging.get_logger(__name__)


@dataclass
class HANModelOutput(ModelOutput):
    r"""
    Output of [`HANModel`].

    Args:
        document_vector (`torch.FloatTensor` of shape `(batch_size, 2 * sentence_hidden_size)`):
            The document vector `v`: the sentence states pooled by sentence attention.
        sentence_states (`torch.FloatTensor` of shape `(batch_size, num_sentences, 2 * sentence_hidden_size)`):
            The sentence encoder's states `h_i`; zero at padded sentences.
        sentence_vectors (`torch.FloatTensor` of shape `(batch_size, num_sentences, 2 * word_hidden_size)`):
            The sentence vectors `s_i` (word states pooled by word attention); zero at padded sentences. With
            `context="bidirectional"`, `[s_i^->; s_i^<-]` of shape `(batch_size, num_sentences, 4 * word_hidden_size)`.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*):
            Returned with `output_hidden_states=True` (or `config.output_hidden_states`): the word encoder's states
            `h_it` of shape `(batch_size, num_sentences, num_words, 2 * word_hidden_size)` and the sentence
            encoder's states `h_i` of shape `(batch_size, num_sentences, 2 * sentence_hidden_size)`, zero at
            padding. Both lie on the path to the outputs, so gradients reach them (for attribution).
        word_attentions (`torch.FloatTensor` of shape `(batch_size, num_sentences, num_words)`, *optional*):
            Word attention weights `a_it`, returned with `output_attentions=True`. Each real sentence's weights sum
            to 1 over its real words; padding gets 0. Structured attention adds a hop axis:
            `(batch_size, num_sentences, attention_hops, num_words)`. Gradients reach them (they are the weights the
            pooling read). With `context` other than `"none"` they are computed inside CAHAN's scan over sentence
            positions and the sentence vectors are pooled again through them (the same numbers); with
            `context="bidirectional"` they are the mean of the two passes'.
        sentence_attentions (`torch.FloatTensor` of shape `(batch_size, num_sentences)`, *optional*):
            Sentence attention weights `a_i`, returned with `output_attentions=True`. They sum to 1 over each
            document's real sentences; padding gets 0. Structured attention: `(batch_size, attention_hops,
            num_sentences)`. Gradients reach them.
        attention_penalty (`torch.FloatTensor` of shape `()`, *optional*):
            With `attention="structured"`: `||A A^T - I||_F^2` averaged over the sentences (word level) plus the
            same averaged over the documents (sentence level), in the form `config.attention_penalty_normalization`.
    """

    document_vector: torch.FloatTensor | None = None
    sentence_states: torch.FloatTensor | None = None
    sentence_vectors: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    word_attentions: torch.FloatTensor | None = None
    sentence_attentions: torch.FloatTensor | None = None
    attention_penalty: torch.FloatTensor | None = None

    @property
    def attentions(self) -> tuple[torch.FloatTensor, torch.FloatTensor] | None:
        """`(word_attentions, sentence_attentions)`, under the name generic `transformers` code looks for."""
        return None if self.word_attentions is None else (self.word_attentions, self.sentence_attentions)


@dataclass
class HANDocumentClassifierOutput(ModelOutput):
    r"""
    Output of [`HANForDocumentClassification`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` is given):
            Classification (or regression) loss, plus `config.attention_penalty` times the attention penalty.
        logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
            Scores before softmax (or sigmoid for multi-label, raw values for regression).
        hidden_states (`tuple(torch.FloatTensor)`, *optional*):
            As in [`HANModelOutput`], returned with `output_hidden_states=True`.
        word_attentions (`torch.FloatTensor` of shape `(batch_size, num_sentences, num_words)`, *optional*):
            As in [`HANModelOutput`], returned with `output_attentions=True`.
        sentence_attentions (`torch.FloatTensor` of shape `(batch_size, num_sentences)`, *optional*):
            As in [`HANModelOutput`], returned with `output_attentions=True`.
        attention_penalty (`torch.FloatTensor` of shape `()`, *optional*):
            As in [`HANModelOutput`] (structured attention only).
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    word_attentions: torch.FloatTensor | None = None
    sentence_attentions: torch.FloatTensor | None = None
    attention_penalty: torch.FloatTensor | None = None

    attentions = HANModelOutput.attentions


def build_encoder(kind: str, input_size: int, hidden_size: int, num_layers: int, config: HANConfig) -> nn.Module:
    """A level's encoder: `(total_steps, input_size)` packed -> `(total_steps, 2 * hidden_size)` packed."""
    if kind == "transformer":
        return HANTransformerEncoder(
            input_size,
            2 * hidden_size,
            num_layers,
            config.transformer_heads,
            config.transformer_ffn_dim,
            config.hidden_dropout,
        )
    return HANBidirectionalEncoder(kind, input_size, hidden_size, num_layers, config.hidden_dropout)


class HANPreTrainedModel(HANHubMixin, PreTrainedModel):
    config_class = HANConfig
    base_model_prefix = "han"
    main_input_name = "input_ids"
    # `forward` takes no **kwargs, so Trainer scales the loss for gradient accumulation and DDP itself
    accepts_loss_kwargs = False
    # the encoders (HAN's recurrent ones whole, Transformer and pretrained encoders layer by layer) are
    # `GradientCheckpointingLayer`s: with checkpointing on, their activations are recomputed in the backward pass
    supports_gradient_checkpointing = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # the `init` helpers skip tensors that were loaded from a checkpoint
        if isinstance(module, (nn.GRU, nn.LSTM)):
            for name, parameter in module.named_parameters():
                if name.startswith("weight_ih"):
                    init.xavier_uniform_(parameter)
                elif name.startswith("weight_hh"):
                    # orthogonal recurrent weights keep the state's scale over long sentences
                    init.orthogonal_(parameter)
                else:
                    init.zeros_(parameter)
        elif isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            # unit-scale inputs to the word encoder, as word2vec vectors would be
            init.normal_(module.weight, mean=0.0, std=self.config.embedding_dim**-0.5)
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, HANAttention) and not module.structured:
            init.normal_(module.context_vector, mean=0.0, std=module.context_vector.numel() ** -0.5)

    @classmethod
    def from_word_encoder(cls, pretrained_model_name_or_path, freeze: bool = False, **kwargs) -> "HANPreTrainedModel":
        """
        A HAN whose word encoder is the pretrained `transformers` encoder at `pretrained_model_name_or_path` (a
        folder or a Hub id; BERT, MiniLM, RoBERTa, XLM-R, ModernBERT, ...), with its weights; the rest of HAN is
        newly initialised. Encode documents with `HANTokenizer.from_pretrained_tokenizer` of the same path, which
        puts the encoder's special tokens around each sentence. The saved model holds the encoder's configuration
        and weights: it reloads without the encoder's own files.

        Args:
            pretrained_model_name_or_path (`str` or `os.PathLike`): the encoder.
            freeze (`bool`, *optional*, defaults to `False`): keep the encoder fixed (`config.freeze_word_encoder`).
            kwargs: `HANConfig` settings (`num_labels`, `id2label`, `sentence_hidden_size`, `word_pooling`, ...) and
                `AutoModel.from_pretrained`'s (`cache_dir`, `token`, `revision`, `local_files_only`,
                `trust_remote_code`, `dtype`).
        """
        from .pretrained_han import with_pretrained_word_encoder

        return with_pretrained_word_encoder(cls, pretrained_model_name_or_path, freeze, **kwargs)

    def load_word_vectors(
        self,
        vectors: Mapping[str, Sequence[float]] | str,
        vocabulary,
        freeze: bool = False,
        encoding: str = "utf-8",
    ) -> int:
        """Initialise the word embeddings from pre-trained vectors; see [`word_vectors_han.load_word_vectors`]."""
        return load_word_vectors(self, vectors, vocabulary, freeze=freeze, encoding=encoding)


class HANModel(HANPreTrainedModel):
    """
    The bare Hierarchical Attention Network: words -> bidirectional encoder -> word attention -> sentence vectors ->
    bidirectional encoder -> sentence attention -> document vector.
    """

    def __init__(self, config: HANConfig):
        super().__init__(config)
        if config.word_encoder == "pretrained":  # the encoder embeds its own tokens
            from .pretrained_han import HANPretrainedWordEncoder

            self.word_embeddings = None
            self.word_encoder = HANPretrainedWordEncoder(
                config.word_encoder_config, config.pad_token_id, frozen=config.freeze_word_encoder
            )
        else:
            self.word_embeddings = nn.Embedding(
                config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id
            )
            self.word_encoder = build_encoder(
                config.word_encoder, config.embedding_dim, config.word_hidden_size, config.num_word_layers, config
            )
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        word_width, sentence_width = config.word_width, 2 * config.sentence_hidden_size
        attention_options = {
            "structured": config.attention == "structured",
            "hops": config.attention_hops,
            "penalty_normalization": config.attention_penalty_normalization,
        }
        if config.word_pooling != "attention":
            self.word_attention = None  # a fixed pooling (see `inputs_han.fixed_word_weights`)
        elif config.context == "none":
            self.word_attention = HANAttention(word_width, config.attention_dim, **attention_options)
        else:
            context_options = {"context_size": word_width, "gated": config.context_gate, **attention_options}
            self.word_attention = HANContextAttention(word_width, config.attention_dim, **context_options)
            if config.context == "bidirectional":
                # the right-to-left pass has its own attention; the sentence encoder reads both sentence vectors
                self.word_attention_backward = HANContextAttention(word_width, config.attention_dim, **context_options)
        sentence_input_size = 2 * word_width if config.context == "bidirectional" else word_width
        self.sentence_dropout = nn.Dropout(config.hidden_dropout)
        self.sentence_encoder = build_encoder(
            config.sentence_encoder,
            sentence_input_size,
            config.sentence_hidden_size,
            config.num_sentence_layers,
            config,
        )
        self.sentence_attention = HANAttention(sentence_width, config.attention_dim, **attention_options)
        self.post_init()
        if config.freeze_word_embeddings and self.word_embeddings is not None:
            self.word_embeddings.weight.requires_grad_(False)
        if config.freeze_word_encoder:
            self.word_encoder.requires_grad_(False)

    def get_input_embeddings(self) -> nn.Embedding:
        if self.word_embeddings is None:
            return self.word_encoder.encoder.get_input_embeddings()
        return self.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        if self.word_embeddings is None:
            self.word_encoder.encoder.set_input_embeddings(value)
        else:
            self.word_embeddings = value

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> HANModelOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, num_sentences, num_words)`):
                Word ids, as produced by `HANTokenizer`.
            attention_mask (`torch.Tensor` of shape `(batch_size, num_sentences, num_words)`, *optional*):
                1 for real words, 0 for padding. Defaults to `input_ids != config.pad_token_id`. A sentence is
                real when it has a real word; every document needs at least one.
            output_attentions (`bool`, *optional*):
                Return `word_attentions` and `sentence_attentions`.
            output_hidden_states (`bool`, *optional*):
                Return `hidden_states`: the word and sentence encoders' states.
            return_dict (`bool`, *optional*):
                Return a [`HANModelOutput`] rather than a tuple.
        """
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if torch.compiler.is_exporting():  # a static graph: no packing, no data-dependent checks
            output = self._forward_padded(input_ids, attention_mask, output_attentions, output_hidden_states)
            return output if return_dict else output.to_tuple()
        word_mask = check_inputs(input_ids, attention_mask, self.config.pad_token_id, self.config.vocab_size)
        batch_size, num_sentences, num_words = input_ids.shape
        # The real words of the whole batch, packed sentence after sentence, are encoded in one call.
        packed = pack_documents(input_ids.long(), word_mask)  # any integer dtype: the embedding lookup takes int64

        # Word level: h_it = [GRU_fwd(x_i)_t ; GRU_bwd(x_i)_t], then s_i = sum_t a_it h_it.
        word_states = self._encode_words(packed.word_ids, packed.sentence_lengths)  # (n_words, 2 * word_hidden)
        padded_word_states = word_attentions = sentence_attentions = None
        if output_hidden_states:  # (batch, sentences, words, 2 * word_hidden)
            padded_word_states, word_states = through_layout(
                word_states, packed.word_index, (batch_size, num_sentences, num_words, word_states.size(-1))
            )
        if self.config.context == "none":
            if self.word_attention is None:  # mean or [CLS] pooling
                word_weights = fixed_word_weights(packed, self.config.word_pooling, word_states.dtype)
            else:
                word_weights = self.word_attention.weights(word_states, packed.word_sentence, packed.num_sentences)
            if output_attentions:
                word_attentions, word_weights = self._attentions_through_layout(
                    word_weights, packed.word_index, (batch_size, num_sentences, num_words)
                )
            if self.word_attention is None:
                sentence_vectors = word_states.new_zeros(packed.num_sentences, word_states.size(-1)).index_add(
                    0, packed.word_sentence, word_weights * word_states
                )  # (n_sentences, word_width)
                word_penalty = None
            else:
                sentence_vectors, word_penalty = self.word_attention.pool(
                    word_states, word_weights, packed.word_sentence, packed.num_sentences
                )  # (n_sentences, word_width)
        else:
            sentence_vectors, word_weights, word_penalty = self.word_attention.attend_in_context(
                word_states,
                packed.word_mask,
                packed.sentence_document,
                packed.document_lengths,
                self.config.context_aggregation,
                self.config.context_discount,
                backward=getattr(self, "word_attention_backward", None),
                through=functools.partial(
                    self._attentions_through_layout,
                    index=packed.word_index,
                    shape=(batch_size, num_sentences, num_words),
                )
                if output_attentions
                else None,
            )
            if output_attentions:  # the layout, which the sentence vectors were pooled through
                word_attentions = word_weights

        # Sentence level: h_i = [GRU_fwd(s)_i ; GRU_bwd(s)_i], then v = sum_i a_i h_i. Each document's real
        # sentences are already consecutive in the packed batch.
        sentence_states = self.sentence_encoder(
            self.sentence_dropout(sentence_vectors), packed.document_lengths
        )  # (n_sentences, 2 * sentence_hidden)
        sentence_layout = (batch_size, num_sentences, sentence_states.size(-1))
        if output_hidden_states:  # (batch, sentences, 2 * sentence_hidden)
            padded_sentence_states, sentence_states = through_layout(
                sentence_states, packed.sentence_index, sentence_layout
            )
        else:
            padded_sentence_states = in_layout(sentence_states, packed.sentence_index, sentence_layout)
        sentence_weights = self.sentence_attention.weights(
            sentence_states, packed.sentence_document, batch_size
        )  # a_i
        if output_attentions:
            sentence_attentions, sentence_weights = self._attentions_through_layout(
                sentence_weights, packed.sentence_index, (batch_size, num_sentences)
            )
        document_vector, sentence_penalty = self.sentence_attention.pool(
            sentence_states, sentence_weights, packed.sentence_document, batch_size
        )  # (batch, 2 * sentence_hidden)
        penalties = [penalty for penalty in (word_penalty, sentence_penalty) if penalty is not None]
        penalty = sum(penalties) if penalties else None

        output = HANModelOutput(
            document_vector=document_vector,
            sentence_states=padded_sentence_states,
            sentence_vectors=in_layout(sentence_vectors, packed.sentence_index, sentence_layout[:2] + (-1,)),
            hidden_states=(padded_word_states, padded_sentence_states) if output_hidden_states else None,
            word_attentions=word_attentions,
            sentence_attentions=sentence_attentions,
            attention_penalty=penalty,
        )
        return output if return_dict else output.to_tuple()

    def _forward_padded(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None,
        output_attentions: bool,
        output_hidden_states: bool,
    ) -> HANModelOutput:
        """The same outputs from the padded, export-ready computation of `padded_han.py` (no attention penalty)."""
        from .padded_han import padded_forward  # its scan needs a recent torch: imported only when exporting

        return HANModelOutput(
            **padded_forward(self, input_ids, attention_mask, output_attentions, output_hidden_states)
        )

    def _attentions_through_layout(
        self, weights: torch.Tensor, index: tuple[torch.LongTensor, ...], shape: tuple[int, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Packed weights `(n, hops)` in the caller's layout `shape`, with the hop axis before the last axis for
        structured attention (`(batch, sentences, hops, words)`, `(batch, hops, sentences)`); see
        `inputs_han.through_layout`.
        """
        if self.config.attention == "additive":  # no hop axis for the paper's attention
            layout, packed = through_layout(weights.squeeze(1), index, shape)
            return layout, packed.unsqueeze(1)
        hops = torch.arange(weights.size(1), device=weights.device)
        index = (*(position.unsqueeze(1) for position in index[:-1]), hops, index[-1].unsqueeze(1))
        return through_layout(weights, index, shape[:-1] + (len(hops), shape[-1]))

    def _encode_words(self, word_ids: torch.LongTensor, sentence_lengths: torch.LongTensor) -> torch.Tensor:
        """Embed and encode packed word ids `(n_words,)` of sentences of `sentence_lengths` `(n_sentences,)`."""
        if self.word_embeddings is None:  # a pretrained encoder embeds its own tokens
            return self.word_encoder(word_ids, sentence_lengths)  # (n_words, hidden_size)
        embedding_matrix = self.word_embeddings.weight
        if self.config.freeze_word_embeddings:
            # checked here rather than through requires_grad, which from_pretrained resets when it loads weights
            embedding_matrix = embedding_matrix.detach()
        if self.training and self.embedding_dropout.p > 0:  # every occurrence of a word gets its own mask
            embeddings = self.embedding_dropout(nn.functional.embedding(word_ids, embedding_matrix))  # (n_words, emb)
            return self.word_encoder(embeddings, sentence_lengths)
        # The encoder's input projection then depends on the word alone: each distinct word of the batch is
        # embedded and projected once (an IMDB batch of 64 reviews has about 3,300 among 16,000 words).
        distinct_ids, occurrence = torch.unique(word_ids, return_inverse=True)  # (distinct,), (n_words,)
        embeddings = nn.functional.embedding(distinct_ids, embedding_matrix)  # (distinct, emb)
        return self.word_encoder(embeddings, sentence_lengths, index=occurrence)


class HANForDocumentClassification(HANPreTrainedModel):
    """A Hierarchical Attention Network with a linear classification (or regression) layer on the document vector."""

    def __init__(self, config: HANConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.han = HANModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(2 * config.sentence_hidden_size, config.num_labels)  # W_c, b_c
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.han.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.han.set_input_embeddings(value)

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> HANDocumentClassifierOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, num_sentences, num_words)`):
                Word ids, as produced by `HANTokenizer`.
            attention_mask (`torch.Tensor` of shape `(batch_size, num_sentences, num_words)`, *optional*):
                1 for real words, 0 for padding.
            labels (`torch.Tensor`, *optional*):
                Class indices of shape `(batch_size,)` for single-label classification, 0/1 targets of shape
                `(batch_size, num_labels)` for multi-label classification, values of shape `(batch_size,)` or
                `(batch_size, num_labels)` for regression. The problem type is `config.problem_type`, inferred from
                `num_labels` and the labels' dtype when unset, as in `transformers`.
            output_attentions (`bool`, *optional*):
                Return `word_attentions` and `sentence_attentions`.
            output_hidden_states (`bool`, *optional*):
                Return `hidden_states`: the word and sentence encoders' states.
            return_dict (`bool`, *optional*):
                Return a [`HANDocumentClassifierOutput`] rather than a tuple.
        """
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.han(
            input_ids,
            attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.dropout(outputs.document_vector))  # W_c dropout(v) + b_c: (batch, num_labels)

        loss = None
        if labels is not None:
            if self.config.problem_type in ("regression", "multi_label_classification") or (
                self.config.problem_type is None and labels.is_floating_point()
            ):
                # integer 0/1 targets are common for multi-label data; the losses need floats
                labels = labels.to(logits.dtype)
            loss = ForSequenceClassificationLoss(labels, logits, self.config)
            if outputs.attention_penalty is not None and self.config.attention_penalty > 0:
                loss = loss + self.config.attention_penalty * outputs.attention_penalty

        output = HANDocumentClassifierOutput(
            loss=loss,
            logits=logits,
            hidden_states=outputs.hidden_states,
            word_attentions=outputs.word_attentions,
            sentence_attentions=outputs.sentence_attentions,
            attention_penalty=outputs.attention_penalty,
        )
        return output if return_dict else output.to_tuple()


__all__ = [
    "HANAttention",
    "HANDocumentClassifierOutput",
    "HANForDocumentClassification",
    "HANModel",
    "HANModelOutput",
    "HANPreTrainedModel",
]
