"""
HAN's forward pass on the padded `(batch, sentences, words)` layout, with no data-dependent Python control flow:
what `torch.export`, the ONNX exporter and other graph compilers trace (`HANModel.forward` takes this path while
`torch.compiler.is_exporting()`). It gives the eager model's numbers (the same parameters, the same equations):

- padding may sit anywhere: each sentence's real words, and each document's real sentences, are first moved to
  the front (a scatter to their rank among the real ones), so that every row is right-padded;
- a recurrence runs over all steps of the padded rows in one `scan`. The forward direction reads each row as it
  is, the backward direction reads it reversed within its own length (a gather): padding then comes after every
  real step of both, so it never reaches a real output, and needs no mask. Traced for ONNX (`onnx_operators`), the
  word level reads the real sentences only, its first layer is a loop over time in packed order, and the other
  recurrent layers are ONNX's `GRU`/`LSTM` operators (`onnx_rnn_han.py`);
- attention is a softmax over each row's real positions (masked).

It computes padded positions, which the eager path never does (at the ONNX word level, where most of them are,
only a few); that is the price of a static graph. CAHAN's context-aware attention (`context` other than "none") is
not expressed here: it reads sentences one after another with attention that depends on the sentence vectors
before, which would need a scan over sentences around the whole word level.
"""

from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import nn

from .onnx_rnn_han import native_bidirectional
from .recurrence_han import stacked_directions
from .transformer_han import HANTransformerEncoder


# Set while tracing for ONNX (`onnx_operators`): the recurrent layers become ONNX's own GRU/LSTM operators, and the
# word level reads only the real sentences of the batch (a selection that ONNX's exporter takes once no scan runs
# over it). `torch.export` programs for other runtimes keep the scan, which needs nothing outside PyTorch.
_ONNX_OPERATORS = ContextVar("hf_han_onnx_operators", default=False)


@contextmanager
def onnx_operators():
    """Trace the padded forward for ONNX: native recurrent operators, real sentences only at the word level."""
    token = _ONNX_OPERATORS.set(True)
    try:
        yield
    finally:
        _ONNX_OPERATORS.reset(token)


def move_real_to_front(values: torch.Tensor, mask: torch.BoolTensor, dim: int) -> torch.Tensor:
    """
    `values` with the entries where `mask` holds moved, in order, to the front along `dim` (`mask` has the shape of
    `values` up to and including `dim`); the rest is zeros.
    """
    size = mask.size(dim)
    rank = torch.where(mask, mask.long().cumsum(dim) - 1, size)  # a padded entry goes to a spare slot at `size`
    while rank.dim() < values.dim():
        rank = rank.unsqueeze(-1)
    rank = rank.expand_as(values)
    spare = list(values.shape)
    spare[dim] = size + 1
    return values.new_zeros(spare).scatter(dim, rank, values).narrow(dim, 0, size)


def back_to_caller(values: torch.Tensor, mask: torch.BoolTensor, dim: int) -> torch.Tensor:
    """The inverse of `move_real_to_front` for the real entries (zeros elsewhere): `values` in the caller's layout."""
    rank = (mask.long().cumsum(dim) - 1).clamp(min=0)
    while rank.dim() < values.dim():
        rank = rank.unsqueeze(-1)
    gathered = values.gather(dim, rank.expand(*rank.shape[: dim + 1], *values.shape[dim + 1 :]))
    keep = mask
    while keep.dim() < values.dim():
        keep = keep.unsqueeze(-1)
    return gathered * keep


def reverse_within_length(values: torch.Tensor, lengths: torch.LongTensor) -> torch.Tensor:
    """`values` `(rows, steps, ...)` with each row's first `lengths[row]` steps in reverse order (its own inverse)."""
    steps = torch.arange(values.size(1), device=values.device)
    index = torch.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)  # (rows, steps)
    while index.dim() < values.dim():
        index = index.unsqueeze(-1)
    return values.gather(1, index.expand_as(values))


def bidirectional_padded(
    encoder, inputs: torch.Tensor, lengths: torch.LongTensor, ids: torch.LongTensor | None = None
) -> torch.Tensor:
    """
    `HANBidirectionalEncoder` (its parameters, its equations) over right-padded rows `(rows, steps)` of `lengths`
    `(rows,)` -> `(rows, steps, 2 * hidden)`; padded steps hold numbers nobody reads. The rows are `inputs`
    `(rows, steps, in)`, or, with `ids` `(rows, steps)`, rows of the embedding matrix `inputs` `(vocab, in)`: the
    first layer's input projection is then a lookup in `inputs @ W_ih^T + b_ih` `(vocab, gates * H)`, a product of
    weights alone that graph runtimes compute once, when they load the model (ONNX Runtime folds constants).
    """
    from torch._higher_order_ops.scan import scan  # a recent torch's: imported only when a padded forward runs

    hidden = encoder.hidden_size
    outputs = inputs
    rows, steps = (ids if ids is not None else inputs).shape[:2]
    for layer, (forward_rnn, backward_rnn) in enumerate(zip(encoder.forward_layers, encoder.backward_layers)):
        if layer > 0:
            outputs = encoder.dropout(outputs)
        weight_ih, weight_hh, bias_ih, bias_hh = stacked_directions(forward_rnn, backward_rnn)
        bias_ih, bias_hh = bias_ih[:, None], bias_hh[:, None]  # (2, 1, gates * H)
        # both directions in one scan: a leading direction axis, the backward one reading reversed rows
        if layer == 0 and ids is not None:
            table = torch.matmul(inputs, weight_ih.transpose(1, 2)) + bias_ih  # (2, vocab, gates * H)
            # looked up step-major, as the scan reads them: no transpose of the large projected tensor
            projected = torch.stack(
                [
                    nn.functional.embedding(ids.T, table[0]),
                    nn.functional.embedding(reverse_within_length(ids, lengths).T, table[1]),
                ],
                dim=1,
            )  # (steps, 2, rows, gates * H)
        else:
            directions = torch.stack([outputs, reverse_within_length(outputs, lengths)])  # (2, rows, steps, in)
            projected = torch.matmul(directions.flatten(1, 2), weight_ih.transpose(1, 2)) + bias_ih  # (2, r * s, g)
            projected = projected.view(2, rows, steps, -1).permute(2, 0, 1, 3)  # (steps, 2, rows, gates * H)
        zeros = weight_hh.new_zeros(2, rows, hidden)
        if encoder.cell == "gru":

            def step(state, x, weight_hh=weight_hh, bias_hh=bias_hh):
                recurrent = torch.bmm(state, weight_hh.transpose(1, 2)) + bias_hh  # (2, rows, 3H)
                reset_x, update_x, new_x = x.chunk(3, dim=-1)
                reset_h, update_h, new_h = recurrent.chunk(3, dim=-1)
                reset, update = torch.sigmoid(reset_x + reset_h), torch.sigmoid(update_x + update_h)
                state = (1 - update) * torch.tanh(new_x + reset * new_h) + update * state
                return state, state.clone()

            _, states = scan(step, zeros, projected)  # (steps, 2, rows, H)
        else:

            def step(carry, x, weight_hh=weight_hh, bias_hh=bias_hh):
                state, cell = carry
                gates = x + torch.bmm(state, weight_hh.transpose(1, 2)) + bias_hh  # (2, rows, 4H)
                input_gate, forget_gate, candidate, output_gate = gates.chunk(4, dim=-1)
                cell = torch.sigmoid(forget_gate) * cell + torch.sigmoid(input_gate) * torch.tanh(candidate)
                state = torch.sigmoid(output_gate) * torch.tanh(cell)
                return (state, cell), state.clone()

            _, states = scan(step, (zeros, zeros.clone()), projected)
        states = states.permute(1, 2, 0, 3)  # (2, rows, steps, H)
        outputs = torch.cat([states[0], reverse_within_length(states[1], lengths)], dim=-1)
    return outputs


def transformer_padded(encoder: HANTransformerEncoder, inputs: torch.Tensor, real: torch.BoolTensor) -> torch.Tensor:
    """`HANTransformerEncoder` over right-padded rows `inputs` `(rows, steps, in)` with `real` `(rows, steps)`."""
    steps = torch.arange(inputs.size(1), device=inputs.device)
    width = encoder.width
    hidden = encoder.input_projection(inputs) * width**0.5 + encoder.positions(steps, inputs.dtype)  # (r, s, w)
    # a row without real steps attends to its first one, so that no softmax is over nothing (its output is unread)
    attendable = real | ((steps == 0) & ~real.any(dim=1, keepdim=True))
    for layer in encoder.layers:
        hidden = layer(hidden, attendable)
    return encoder.final_norm(hidden)


def encode_rows(encoder: nn.Module, inputs: torch.Tensor, real: torch.BoolTensor) -> torch.Tensor:
    """A level's encoder over right-padded rows: `(rows, steps, in)` -> `(rows, steps, width)`."""
    if isinstance(encoder, HANTransformerEncoder):
        return transformer_padded(encoder, inputs, real)
    if _ONNX_OPERATORS.get():  # a row without real steps reads its first (its output is never read)
        return native_bidirectional(encoder, inputs, real.sum(dim=1).clamp(min=1))
    return bidirectional_padded(encoder, inputs, real.sum(dim=1))


def encode_words(model, ids: torch.LongTensor, real: torch.BoolTensor) -> torch.Tensor:
    """Word states `(rows, words, word_width)` of right-padded rows of word ids `(rows, words)`."""
    embedding_matrix = model.word_embeddings.weight
    if isinstance(model.word_encoder, HANTransformerEncoder) or (model.training and model.embedding_dropout.p > 0):
        return encode_rows(
            model.word_encoder, model.embedding_dropout(nn.functional.embedding(ids, embedding_matrix)), real
        )
    if _ONNX_OPERATORS.get():  # a row without real steps reads its first (its output is never read)
        return native_bidirectional(model.word_encoder, embedding_matrix, real.sum(dim=1).clamp(min=1), ids=ids)
    return bidirectional_padded(model.word_encoder, embedding_matrix, real.sum(dim=1), ids=ids)


def attention_weights(
    attention, states: torch.Tensor, real: torch.BoolTensor, real_only: bool = False
) -> torch.Tensor:
    """
    Weights `(..., steps, hops)` of a `HANAttention` over each row's real steps; a row without any gets zeros. With
    `real_only`, the scores of the real steps alone are computed (a selection, then a scatter): for the word level of
    the ONNX graph, where most slots are padding and the projection is most of the attention's time.
    """
    if real_only:
        flat_index = real.flatten().nonzero().squeeze(1)
        real_states = states.flatten(0, -2).index_select(0, flat_index)  # (real steps, width)
        real_scores = attention.scores(torch.tanh(attention.projection(real_states))).float()  # (real steps, hops)
        scores = real_scores.new_full((real.numel(), real_scores.size(-1)), torch.finfo(real_scores.dtype).min)
        scores = scores.index_copy(0, flat_index, real_scores).view(*real.shape, -1)
    else:
        scores = attention.scores(torch.tanh(attention.projection(states))).float()  # (..., steps, hops)
        scores = scores.masked_fill(~real.unsqueeze(-1), torch.finfo(scores.dtype).min)
    return (scores.softmax(dim=-2) * real.unsqueeze(-1)).to(states.dtype)


def pool(attention, states: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """`sum a h` of each row: `(..., steps, width)` states and `(..., steps, hops)` weights -> `(..., width)`."""
    pooled = weights.transpose(-1, -2) @ states  # (..., hops, width)
    if attention.hop_projection is None:
        return pooled.squeeze(-2)
    return attention.hop_projection(pooled.flatten(-2))


def padded_forward(
    model,
    input_ids: torch.LongTensor,
    attention_mask: torch.Tensor | None,
    output_attentions: bool = False,
    output_hidden_states: bool = False,
) -> dict:
    """
    The fields of `HANModel` `model`'s `HANModelOutput` (no attention penalty): the document vectors
    `(batch, 2 * sentence_hidden)`, the sentence vectors and states, and on request both levels' attention weights
    and the encoders' states, in the caller's layout and the eager outputs' shapes.
    """
    config = model.config
    if config.context != "none":
        raise NotImplementedError(
            "CAHAN's context-aware attention (context != 'none') has no export-ready form: it reads sentences one "
            "after another. Export a HAN without `context`, or run this model eagerly."
        )
    word_mask = (input_ids != config.pad_token_id) if attention_mask is None else attention_mask.bool()
    batch_size, num_sentences, num_words = input_ids.shape
    # every sentence's real words first, then every document's real sentences first: all rows right-padded
    ids = move_real_to_front(input_ids.long(), word_mask, dim=2)
    mask = move_real_to_front(word_mask, word_mask, dim=2)
    sentence_mask = word_mask.any(dim=2)  # (batch, sentences) in the caller's layout
    ids = move_real_to_front(ids, sentence_mask, dim=1)
    mask = move_real_to_front(mask, sentence_mask, dim=1)  # (batch, sentences, words)
    real_sentences = mask.any(dim=2)  # (batch, sentences), real ones first

    # Word level: h_it, then s_i = sum_t a_it h_it, for every sentence slot of the batch (padded ones too: ONNX's
    # exporter does not take a scan over a selection of the real ones), or for the real sentences only, with ONNX's
    # own recurrent operators (`onnx_operators`).
    rows = ids.reshape(-1, num_words)  # (batch * sentences, words)
    row_mask = mask.reshape(-1, num_words)
    selected = _ONNX_OPERATORS.get()
    if selected:
        slots = rows.size(0)
        # the real sentences; the first slot too when there are none (ONNX Runtime's GRU crashes on zero rows)
        real = row_mask.any(dim=1)
        real_rows = (real | ((torch.arange(slots, device=real.device) == 0) & ~real.any())).nonzero().squeeze(1)
        rows, row_mask = rows[real_rows], row_mask[real_rows]
    if model.word_embeddings is None:  # a pretrained encoder; an empty row attends to its first token only
        attendable = row_mask | ((torch.arange(num_words, device=ids.device) == 0) & ~row_mask.any(1, keepdim=True))
        word_states = model.word_encoder.encoder(input_ids=rows, attention_mask=attendable.long()).last_hidden_state
    else:
        word_states = encode_words(model, rows, row_mask)  # (rows, words, word_width)
    if config.word_pooling == "attention":
        # real words only in the ONNX graph of HAN's own encoders (over a pretrained encoder, the exporter fails on
        # the selection's size, and the encoder's own time dwarfs the attention's)
        real_only = selected and model.word_embeddings is not None
        word_weights = attention_weights(model.word_attention, word_states, row_mask, real_only=real_only)
        sentence_vectors = pool(model.word_attention, word_states, word_weights)  # (rows, word_width)
    else:
        lengths = row_mask.sum(dim=1, keepdim=True).clamp(min=1)
        first = torch.arange(num_words, device=ids.device) == 0
        fixed = row_mask / lengths if config.word_pooling == "mean" else (row_mask & first).to(word_states.dtype)
        word_weights = fixed.to(word_states.dtype).unsqueeze(-1)
        sentence_vectors = (word_weights * word_states).sum(dim=1)
    if selected:  # back to every sentence slot, zeros in the padded ones

        def all_slots(values):
            return values.new_zeros(slots, *values.shape[1:]).index_copy(0, real_rows, values)

        sentence_vectors, word_weights = all_slots(sentence_vectors), all_slots(word_weights)
        word_states = all_slots(word_states) if output_hidden_states else word_states
    sentence_vectors = sentence_vectors.view(batch_size, num_sentences, -1)

    # Sentence level: h_i, then v = sum_i a_i h_i.
    sentence_states = encode_rows(model.sentence_encoder, model.sentence_dropout(sentence_vectors), real_sentences)
    sentence_weights = attention_weights(model.sentence_attention, sentence_states, real_sentences)  # (b, s, hops)
    document_vector = pool(model.sentence_attention, sentence_states, sentence_weights)

    # back to the caller's layout: sentences, then the words within them
    def sentences_back(values):
        return back_to_caller(values, sentence_mask, dim=1)

    word_weights = sentences_back(word_weights.view(batch_size, num_sentences, num_words, -1))
    word_weights = back_to_caller(word_weights, word_mask, dim=2)  # (batch, sentences, words, hops)
    sentence_weights = sentences_back(sentence_weights)  # (batch, sentences, hops)
    sentence_states = sentences_back(sentence_states)
    output = {
        "document_vector": document_vector,
        "sentence_vectors": sentences_back(sentence_vectors),
        "sentence_states": sentence_states,
    }
    if output_hidden_states:
        word_states = sentences_back(word_states.view(batch_size, num_sentences, num_words, -1))
        output["hidden_states"] = (back_to_caller(word_states, word_mask, dim=2), sentence_states)
    if output_attentions:  # a hop axis only for structured attention, before the words or sentences
        if config.attention == "structured":
            output["word_attentions"], output["sentence_attentions"] = word_weights.mT, sentence_weights.mT
        else:
            output["word_attentions"], output["sentence_attentions"] = word_weights[..., 0], sentence_weights[..., 0]
    return output
