"""
A pretrained `transformers` encoder (BERT, MiniLM, RoBERTa, XLM-R, ModernBERT, ...) as HAN's word encoder. It reads
every real sentence of a batch, sentences of all documents together, each with the special tokens its tokenizer put
around it; padded sentences are never computed. Sentences of similar length are read together (length buckets), so
that little padding is computed either.
"""

import torch
from torch import nn
from transformers import AutoModel, PreTrainedConfig

from .configuration_han import HANConfig
from .packing_han import length_buckets


class HANPretrainedWordEncoder(nn.Module):
    """
    Packed word ids `(n_words,)` of sentences of `sentence_lengths` `(n_sentences,)` -> the encoder's last hidden
    states `(n_words, hidden_size)`, in the same packed order.
    """

    def __init__(self, config: PreTrainedConfig, pad_token_id: int, frozen: bool = False):
        super().__init__()
        self.encoder = AutoModel.from_config(config)
        if getattr(self.encoder, "pooler", None) is not None:
            # HAN pools the token states itself; an unused pooler would hold parameters that never get a gradient,
            # which distributed training refuses
            self.encoder.pooler = None
        self.pad_token_id = pad_token_id
        self.frozen = frozen

    def train(self, mode: bool = True) -> "HANPretrainedWordEncoder":
        # a frozen encoder is a fixed feature extractor: no dropout while the rest of HAN trains
        return super().train(mode and not self.frozen)

    def forward(self, word_ids: torch.LongTensor, sentence_lengths: torch.LongTensor) -> torch.Tensor:
        # Each sentence's tokens, left-aligned in rows sorted by length; the buckets cut those rows so that each is
        # padded to its own longest sentence only (attention costs the square of a row's length).
        lengths = sentence_lengths.tolist()
        order = sorted(range(len(lengths)), key=lengths.__getitem__, reverse=True)
        sorted_lengths = [lengths[row] for row in order]
        starts = torch.cumsum(sentence_lengths, 0) - sentence_lengths  # (n_sentences,): first word of each
        order_tensor = torch.tensor(order, device=word_ids.device)
        pieces = []
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            for first, last in length_buckets(sorted_lengths, step_cost=4.0):
                rows, width = order_tensor[first:last], sorted_lengths[first]
                positions = torch.arange(width, device=word_ids.device)  # (width,)
                mask = positions < sentence_lengths[rows, None]  # (rows, width)
                index = (starts[rows, None] + positions).clamp(max=len(word_ids) - 1)  # (rows, width)
                ids = torch.where(mask, word_ids[index], self.pad_token_id)  # (rows, width)
                states = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state
                pieces.append(states[mask])  # (words of these rows, hidden)
        # the words of the sorted rows, back in packed order: sentence `row` starts at `sorted_starts[row]`
        sorted_starts = torch.empty_like(sentence_lengths)
        sorted_starts[order_tensor] = torch.cumsum(sentence_lengths[order_tensor], 0) - sentence_lengths[order_tensor]
        sentence_of_word = torch.repeat_interleave(
            torch.arange(len(lengths), device=word_ids.device), sentence_lengths
        )
        position = torch.arange(len(word_ids), device=word_ids.device) - starts[sentence_of_word]
        return torch.cat(pieces)[sorted_starts[sentence_of_word] + position]  # (n_words, hidden)


def with_pretrained_word_encoder(model_class, pretrained_model_name_or_path, freeze: bool, **kwargs):
    """A `model_class` (a HAN `PreTrainedModel`) over the pretrained encoder; see `from_word_encoder`."""
    loading = ("cache_dir", "token", "revision", "local_files_only", "subfolder", "trust_remote_code", "dtype")
    options = {name: kwargs.pop(name) for name in loading if name in kwargs}
    options.setdefault("dtype", torch.float32)  # HAN's own layers are float32
    encoder = AutoModel.from_pretrained(pretrained_model_name_or_path, **options)
    encoder_config = encoder.config
    pad_token_id = encoder_config.pad_token_id if encoder_config.pad_token_id is not None else 0
    config = HANConfig(
        word_encoder="pretrained",
        word_encoder_config=encoder_config,
        word_encoder_name_or_path=str(pretrained_model_name_or_path),
        vocab_size=encoder_config.vocab_size,
        pad_token_id=kwargs.pop("pad_token_id", pad_token_id),
        freeze_word_encoder=freeze,
        **kwargs,
    )
    model = model_class(config)
    word_encoder = model.base_model.word_encoder
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None  # as in `HANPretrainedWordEncoder`
    word_encoder.encoder = encoder
    word_encoder.requires_grad_(not freeze)
    word_encoder.train(model.training)
    return model
