"""PyTorch Hierarchical Attention Network (Yang et al., NAACL 2016) for document classification."""

import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.loss.loss_utils import ForSequenceClassificationLoss
from transformers.utils import ModelOutput, logging

from .configuration_han import HANConfig
from .modelcard_han import HANModelCardData, generate_model_card, is_generated_card

logger = logging.get_logger(__name__)

# How `transformers.pipeline` finds the pipeline code saved beside the model (see `pipeline_han.py`).
PIPELINE_ENTRY = {
    "impl": "pipeline_han.DocumentClassificationPipeline",
    "pt": ["AutoModelForSequenceClassification"],
    "tf": [],
    "type": "text",
}


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
        word_attentions (`torch.FloatTensor` of shape `(batch_size, num_sentences, num_words)`, *optional*):
            Word attention weights `a_it`, returned with `output_attentions=True`. Each real sentence's weights sum
            to 1 over its real words; padding gets 0. Structured attention adds a hop axis:
            `(batch_size, num_sentences, attention_hops, num_words)`. With `context="bidirectional"`, the mean of
            the two passes' weights.
        sentence_attentions (`torch.FloatTensor` of shape `(batch_size, num_sentences)`, *optional*):
            Sentence attention weights `a_i`, returned with `output_attentions=True`. They sum to 1 over each
            document's real sentences; padding gets 0. Structured attention: `(batch_size, attention_hops,
            num_sentences)`.
        attention_penalty (`torch.FloatTensor` of shape `()`, *optional*):
            With `attention="structured"`: `||A A^T - I||_F^2` averaged over the sentences (word level) plus the
            same averaged over the documents (sentence level), in the form `config.attention_penalty_normalization`.
    """

    document_vector: torch.FloatTensor | None = None
    sentence_states: torch.FloatTensor | None = None
    sentence_vectors: torch.FloatTensor | None = None
    word_attentions: torch.FloatTensor | None = None
    sentence_attentions: torch.FloatTensor | None = None
    attention_penalty: torch.FloatTensor | None = None


@dataclass
class HANDocumentClassifierOutput(ModelOutput):
    r"""
    Output of [`HANForDocumentClassification`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` is given):
            Classification (or regression) loss, plus `config.attention_penalty` times the attention penalty.
        logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
            Scores before softmax (or sigmoid for multi-label, raw values for regression).
        word_attentions (`torch.FloatTensor` of shape `(batch_size, num_sentences, num_words)`, *optional*):
            As in [`HANModelOutput`], returned with `output_attentions=True`.
        sentence_attentions (`torch.FloatTensor` of shape `(batch_size, num_sentences)`, *optional*):
            As in [`HANModelOutput`], returned with `output_attentions=True`.
        attention_penalty (`torch.FloatTensor` of shape `()`, *optional*):
            As in [`HANModelOutput`] (structured attention only).
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    word_attentions: torch.FloatTensor | None = None
    sentence_attentions: torch.FloatTensor | None = None
    attention_penalty: torch.FloatTensor | None = None


def length_buckets(sorted_lengths: list[int], step_cost: float = 16.0) -> list[tuple[int, int]]:
    """
    Cut rows sorted by decreasing length into contiguous buckets `(start, end)`, each padded only to its own
    longest row, minimising `sum(bucket_steps * (step_cost + bucket_rows))`: padding costs compute, and every
    recurrent time step has a fixed cost worth about `step_cost` rows. Exact, by dynamic programming over the
    distinct lengths (at most a few dozen).
    """
    # runs of equal length: (first row, length), and where each run ends
    run_starts = [row for row, length in enumerate(sorted_lengths) if row == 0 or length != sorted_lengths[row - 1]]
    run_ends = run_starts[1:] + [len(sorted_lengths)]
    # best[j]: cheapest cost of the rows before run j; cut[j]: where its last bucket starts
    best, cut = [0.0], [0]
    for j, end in enumerate(run_ends):
        options = (
            (best[i] + sorted_lengths[run_starts[i]] * (step_cost + end - run_starts[i]), i) for i in range(j + 1)
        )
        cost, first_run = min(options)
        best.append(cost)
        cut.append(first_run)
    buckets, j = [], len(run_ends)
    while j > 0:
        first_run = cut[j]
        buckets.append((run_starts[first_run], run_ends[j - 1]))
        j = first_run
    return buckets[::-1]


def segment_softmax(scores: torch.Tensor, segments: torch.LongTensor, num_segments: int) -> torch.Tensor:
    """
    Softmax of `scores` `(n,)` or `(n, hops)` over the positions of each segment (`segments[i]` in
    `[0, num_segments)`, none empty), separately for every hop.
    """
    index = segments if scores.dim() == 1 else segments.unsqueeze(1).expand_as(scores)
    # the per-segment maximum only shifts the exponent for stability; softmax does not depend on it
    maximum = scores.new_full((num_segments,) + scores.shape[1:], torch.finfo(scores.dtype).min)
    maximum = maximum.scatter_reduce(0, index, scores.detach(), reduce="amax")
    exponent = torch.exp(scores - maximum[segments])
    total = exponent.new_zeros((num_segments,) + scores.shape[1:]).index_add(0, segments, exponent)
    return exponent / total[segments]


class HANBidirectionalEncoder(nn.Module):
    """
    Stacked bidirectional GRU or LSTM over packed sequences (the rows laid end to end), exact whatever the padding.

    On CPU the recurrence runs in time-major packed order, as over a `PackedSequence`: rows are sorted by length
    and step t reads only the rows longer than t, so no padded step is ever computed. The backward direction reads
    each row reversed within its own length, and both directions advance together: a step is one batched matrix
    product and a few element-wise operations over a leading direction axis, and the input projections of all
    steps are one matrix product before the loop (see `_packed_recurrence`).

    On other devices (CUDA), where the library's recurrent kernel runs a whole sequence per call, rows are cut into
    a few length buckets and each goes through `nn.GRU` (or `nn.LSTM`) as a right-padded block: the forward cell
    reads it as it is (padding comes after every real step, so it never reaches one), the backward cell reads every
    row reversed within its own length. Both paths use the same `nn.GRU` / `nn.LSTM` parameters.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int, dropout: float):
        super().__init__()
        rnn_class = {"gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.cell, self.hidden_size = cell, hidden_size
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else 2 * hidden_size
            self.forward_layers.append(rnn_class(layer_input_size, hidden_size, batch_first=True))
            self.backward_layers.append(rnn_class(layer_input_size, hidden_size, batch_first=True))
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, inputs: torch.Tensor, lengths: torch.LongTensor, index: torch.LongTensor | None = None
    ) -> torch.Tensor:
        """
        Args:
            inputs: `(total_steps, input_size)`, the rows' steps laid end to end, row after row; with `index`,
                `(distinct, input_size)` vectors of which step s reads `inputs[index[s]]` (a word that occurs many
                times in a batch is then projected once).
            lengths: `(rows,)`, each at least 1, summing to `total_steps`.
            index: `(total_steps,)`, optional.

        Returns:
            `(total_steps, 2 * hidden_size)` states `[forward; backward]`, packed the same way.
        """
        if inputs.device.type == "cpu":
            return self._forward_packed(inputs, lengths, index)
        return self._forward_bucketed(inputs if index is None else inputs.index_select(0, index), lengths)

    def _forward_packed(
        self, inputs: torch.Tensor, lengths: torch.LongTensor, index: torch.LongTensor | None
    ) -> torch.Tensor:
        total_steps, hidden_size = int(lengths.sum()), self.hidden_size
        # Time-major packed order: time t holds the rows longer than t, longest first. Direction d reads packed
        # step `read[d, p]` at time-major position p.
        sorted_lengths, by_length = torch.sort(lengths, descending=True, stable=True)
        batch_sizes = torch.bincount(lengths - 1).flip(0).cumsum(0).flip(0).tolist()  # rows longer than t, per t
        time, rank = (sorted_lengths.unsqueeze(0) > torch.arange(len(batch_sizes)).unsqueeze(1)).nonzero(as_tuple=True)
        row = by_length[rank]
        row_start = (torch.cumsum(lengths, 0) - lengths)[row]
        read = torch.stack([row_start + time, row_start + lengths[row] - 1 - time])  # (2, total_steps)
        # The projections of both directions lie side by side, (steps, 2, gates): one gather feeds both.
        direction = torch.tensor([[0], [1]])
        gather_steps = (2 * read + direction).flatten()
        gather_first = gather_steps if index is None else (2 * index[read] + direction).flatten()
        # One gather brings the states back: packed step s of direction d is at time-major position `take[s, d]`.
        take = torch.empty_like(read)
        take[0, read[0]] = torch.arange(total_steps)
        take[1, read[1]] = torch.arange(total_steps) + total_steps
        take = take.t().flatten()

        hidden = inputs
        for layer, (forward_rnn, backward_rnn) in enumerate(zip(self.forward_layers, self.backward_layers)):
            if layer > 0:
                hidden = self.dropout(hidden)
            weight_ih = torch.cat([forward_rnn.weight_ih_l0, backward_rnn.weight_ih_l0])  # (2 * gates, input)
            bias_ih = torch.cat([forward_rnn.bias_ih_l0, backward_rnn.bias_ih_l0])
            projected = nn.functional.linear(hidden, weight_ih, bias_ih)  # (steps or distinct, 2 * gates)
            gates = projected.size(1) // 2
            step_inputs = projected.view(-1, gates).index_select(0, gather_first if layer == 0 else gather_steps)
            weight_hh = torch.stack([forward_rnn.weight_hh_l0.t(), backward_rnn.weight_hh_l0.t()])  # (2, H, gates)
            bias_hh = torch.stack([forward_rnn.bias_hh_l0, backward_rnn.bias_hh_l0]).unsqueeze(1)  # (2, 1, gates)
            states = _packed_recurrence(
                self.cell, step_inputs.view(2, total_steps, gates), weight_hh, bias_hh, batch_sizes
            )  # (2, total_steps, H), time-major
            hidden = states.view(2 * total_steps, hidden_size).index_select(0, take).view(total_steps, -1)
        return hidden  # (total_steps, 2 * hidden)

    def _forward_bucketed(self, packed: torch.Tensor, lengths: torch.LongTensor) -> torch.Tensor:
        total_steps = packed.size(0)
        row_starts = torch.cumsum(lengths, 0) - lengths
        # bucket boundaries are host-side decisions; one small transfer per call
        sorted_lengths, by_length = torch.sort(lengths.cpu(), descending=True, stable=True)
        sorted_lengths_list = sorted_lengths.tolist()
        by_length = by_length.to(packed.device)

        # Where each bucket's padded block reads from, for both directions; `total_steps` points at a zero row.
        block_shapes, forward_gather, backward_gather = [], [], []
        forward_order, backward_order, block_positions, offset = [], [], [], 0
        for start, end in length_buckets(sorted_lengths_list):
            rows = by_length[start:end]
            steps = torch.arange(sorted_lengths_list[start], device=packed.device).unsqueeze(0)  # (1, block_steps)
            row_start, row_length = row_starts[rows].unsqueeze(1), lengths[rows].unsqueeze(1)  # (block_rows, 1)
            real = steps < row_length  # (block_rows, block_steps)
            forward_index = torch.where(real, row_start + steps, total_steps)
            backward_index = torch.where(real, row_start + row_length - 1 - steps, total_steps)
            block_shapes.append(real.shape)
            forward_gather.append(forward_index.flatten())
            backward_gather.append(backward_index.flatten())
            forward_order.append(forward_index[real])  # the packed step of each real block position
            backward_order.append(backward_index[real])
            block_positions.append(offset + real.flatten().nonzero().squeeze(1))
            offset += real.numel()
        # One gather per direction feeds all blocks (gathering block by block would make backward zero-fill and
        # add up a copy of the whole input for every block), and one take per direction brings the real states
        # of all blocks, laid end to end, back into packed order.
        block_sizes = [shape.numel() for shape in block_shapes]
        forward_gather, backward_gather = torch.cat(forward_gather), torch.cat(backward_gather)
        block_positions = torch.cat(block_positions)
        forward_take = block_positions.new_empty(total_steps).index_copy_(0, torch.cat(forward_order), block_positions)
        backward_take = block_positions.new_empty(total_steps).index_copy_(
            0, torch.cat(backward_order), block_positions
        )

        hidden = packed
        for layer, (forward_rnn, backward_rnn) in enumerate(zip(self.forward_layers, self.backward_layers)):
            if layer > 0:
                hidden = self.dropout(hidden)
            source = torch.cat([hidden, hidden.new_zeros(1, hidden.size(-1))])  # (total_steps + 1, features)
            forward_blocks = source.index_select(0, forward_gather).split(block_sizes)
            backward_blocks = source.index_select(0, backward_gather).split(block_sizes)
            forward_states, backward_states = [], []
            for shape, forward_block, backward_block in zip(block_shapes, forward_blocks, backward_blocks):
                shape = shape + (source.size(-1),)  # (block_rows, block_steps, features)
                # (block_rows * block_steps, hidden): padded steps included, dropped by the take below
                forward_states.append(forward_rnn(forward_block.view(shape))[0].flatten(0, 1))
                backward_states.append(backward_rnn(backward_block.view(shape))[0].flatten(0, 1))
            hidden = torch.cat(
                [
                    torch.cat(forward_states).index_select(0, forward_take),
                    torch.cat(backward_states).index_select(0, backward_take),
                ],
                dim=-1,
            )  # (total_steps, 2 * hidden)
        return hidden


def _packed_recurrence(
    cell: str, step_inputs: torch.Tensor, weight_hh: torch.Tensor, bias_hh: torch.Tensor, batch_sizes: list[int]
) -> torch.Tensor:
    """
    A GRU or LSTM recurrence over time-major packed steps, both directions at once.

    Args:
        cell: `"gru"` or `"lstm"` (gates in `nn.GRU` / `nn.LSTM` order: r, z, n / i, f, g, o).
        step_inputs: `(2, total_steps, gates)`, the input projections `W_ih x + b_ih` of every step, time-major.
        weight_hh: `(2, hidden, gates)`, `W_hh` transposed, per direction; bias_hh: `(2, 1, gates)`.
        batch_sizes: the rows at each time, non-increasing, summing to `total_steps`; rows are longest first.

    Returns:
        `(2, total_steps, hidden)` states, time-major.
    """
    hidden_size = weight_hh.size(1)
    # Under autocast the products would come out in half precision; the state keeps the weights' precision over
    # the whole sequence.
    with torch.autocast(step_inputs.device.type, enabled=False):
        step_inputs = step_inputs.to(weight_hh.dtype)
        # split once: slicing the whole tensor at every step would make backward zero-fill all of it each time
        if cell == "gru":
            inputs_rz, inputs_n = step_inputs.split([2 * hidden_size, hidden_size], dim=2)
            inputs_rz, inputs_n = inputs_rz.split(batch_sizes, dim=1), inputs_n.split(batch_sizes, dim=1)
        else:
            inputs_ifgo = step_inputs.split(batch_sizes, dim=1)
        state = step_inputs.new_zeros(2, batch_sizes[0], hidden_size)
        cell_state = torch.zeros_like(state)
        outputs = []
        for t, rows in enumerate(batch_sizes):
            if rows < state.size(1):  # the shortest rows have ended
                state, cell_state = state[:, :rows], cell_state[:, :rows]
            recurrent = torch.baddbmm(bias_hh, state, weight_hh)  # (2, rows, gates): W_hh h + b_hh
            if cell == "gru":
                # r, z = sigmoid(W_i x + W_h h + b), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = n + z (h - n)
                reset, update = torch.sigmoid(inputs_rz[t] + recurrent[..., : 2 * hidden_size]).chunk(2, dim=2)
                candidate = torch.tanh(torch.addcmul(inputs_n[t], reset, recurrent[..., 2 * hidden_size :]))
                state = torch.lerp(candidate, state, update)
            else:
                # i, f, o = sigmoid(W_i x + W_h h + b), g = tanh(...), c' = f c + i g, h' = o tanh(c')
                input_gate, forget_gate, cell_gate, output_gate = (inputs_ifgo[t] + recurrent).chunk(4, dim=2)
                cell_state = torch.addcmul(
                    torch.sigmoid(forget_gate) * cell_state, torch.sigmoid(input_gate), torch.tanh(cell_gate)
                )
                state = torch.sigmoid(output_gate) * torch.tanh(cell_state)
            outputs.append(state)
        return torch.cat(outputs, dim=1)


class HANAttention(nn.Module):
    """
    The pooling attention of one level, over packed positions grouped in segments (sentences or documents).

    - additive (the paper's `u_w`, `u_s`): `u = tanh(W h + b)`, `a = softmax(u . context_vector)`, output `sum a h`;
    - structured (Lin et al. 2017): `A = softmax(W_s2 tanh(W_s1 h))` with `hops` rows, outputs `A H` flattened
      and projected back to `input_size`; `penalty_normalization` selects the form of `||A A^T - I||_F^2`;
    - with `context_size` (CAHAN, Remy et al. 2019), the projection also sees a context vector `c` of the
      segment: `u = tanh(W h + W_c c + b)`, or with `gated` `l = sigmoid(W_l h + W_lc c + b_l)`,
      `u = tanh(l * (W h + b) + (1 - l) * W_c c)`; this path runs on padded segments (see `forward_padded`).
    """

    def __init__(
        self,
        input_size: int,
        attention_dim: int,
        structured: bool = False,
        hops: int = 1,
        penalty_normalization: str = "paper",
        context_size: int | None = None,
        gated: bool = False,
    ):
        super().__init__()
        self.structured, self.hops, self.penalty_normalization = structured, hops, penalty_normalization
        self.projection = nn.Linear(input_size, attention_dim, bias=not structured)
        if structured:
            self.hop_vectors = nn.Linear(attention_dim, hops, bias=False)  # W_s2
        else:
            self.context_vector = nn.Parameter(torch.empty(attention_dim))
        # r pooled vectors are flattened and brought back to the level's width, so the next level is unchanged
        self.hop_projection = nn.Linear(hops * input_size, input_size) if hops > 1 else None
        if context_size is not None:
            self.context_projection = nn.Linear(context_size, attention_dim, bias=False)
            if gated:
                self.gate = nn.Linear(input_size, attention_dim)
                self.context_gate = nn.Linear(context_size, attention_dim, bias=False)
        self.gated = gated

    def scores(self, keys: torch.Tensor) -> torch.Tensor:
        """`(..., attention_dim)` tanh keys to `(..., hops)` scores (hops = 1 for additive attention)."""
        if self.structured:
            return self.hop_vectors(keys)
        return (keys @ self.context_vector).unsqueeze(-1)

    def combine(self, pooled: torch.Tensor) -> torch.Tensor:
        """`(segments, hops, input_size)` pooled vectors to `(segments, input_size)`."""
        if self.hop_projection is None:
            return pooled.squeeze(1)
        return self.hop_projection(pooled.flatten(1))

    def forward(
        self, states: torch.Tensor, segments: torch.LongTensor, num_segments: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """
        Args:
            states: `(n, input_size)` packed states of real positions only.
            segments: `(n,)`, the segment (sentence or document) of each state, in `[0, num_segments)`.

        Returns:
            pooled `(num_segments, input_size)`; weights `(n, hops)`, summing to 1 within each segment for every
            hop; the penalty (a scalar, structured attention only, else `None`).
        """
        keys = torch.tanh(self.projection(states))  # (n, attention_dim)
        if not self.structured:  # the paper's attention, kept on 1-D scores: it is the common, fast path
            weights = segment_softmax((keys @ self.context_vector).float(), segments, num_segments).to(states.dtype)
            pooled = states.new_zeros(num_segments, states.size(-1)).index_add(
                0, segments, weights.unsqueeze(1) * states
            )
            return pooled, weights.unsqueeze(1), None
        weights = segment_softmax(self.scores(keys).float(), segments, num_segments).to(states.dtype)  # (n, hops)
        pooled = states.new_zeros(num_segments, self.hops, states.size(-1))
        pooled = pooled.index_add(0, segments, weights.unsqueeze(2) * states.unsqueeze(1))  # (segments, hops, in)
        # A A^T of each segment is the sum over its positions of the outer products of their weight columns
        gram = weights.new_zeros(num_segments, self.hops, self.hops)
        gram = gram.index_add(0, segments, weights.unsqueeze(2) * weights.unsqueeze(1))
        return self.combine(pooled), weights, _penalty_from_gram(gram, self.penalty_normalization)

    def forward_padded(
        self,
        keys: torch.Tensor,
        gate_keys: torch.Tensor | None,
        states: torch.Tensor,
        mask: torch.BoolTensor,
        context: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Attention of a group of segments that all see a context vector (one CAHAN step).

        Args:
            keys: `(segments, positions, attention_dim)`, `W h + b` of the segments' positions.
            gate_keys: `(segments, positions, attention_dim)`, `W_l h + b_l` (gated form only).
            states: `(segments, positions, input_size)` the states `h`.
            mask: `(segments, positions)`, True at real positions (each segment has one).
            context: `(segments, context_size)` the context vectors `c`.

        Returns:
            pooled `(segments, input_size)` and weights `(segments, hops, positions)`, 0 at padding.
        """
        context_keys = self.context_projection(context).unsqueeze(1)  # (segments, 1, attention_dim)
        if self.gated:
            gate = torch.sigmoid(gate_keys + self.context_gate(context).unsqueeze(1))
            keys = gate * keys + (1 - gate) * context_keys
        else:
            keys = keys + context_keys
        scores = self.scores(torch.tanh(keys)).transpose(1, 2).float()  # (segments, hops, positions)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = scores.softmax(dim=-1).to(states.dtype)
        return self.combine(weights @ states), weights


def _penalty_from_gram(gram: torch.Tensor, normalization: str) -> torch.Tensor:
    hops = gram.size(-1)
    identity = torch.eye(hops, device=gram.device, dtype=gram.dtype)
    penalty = (gram - identity).pow(2).sum(dim=(1, 2))  # (segments,)
    return (penalty / hops**2 if normalization == "mean" else penalty).mean()


class HANTransformerLayer(nn.Module):
    """One pre-norm Transformer layer: multi-head self-attention over real positions, then a feed-forward layer."""

    def __init__(self, width: int, heads: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.attention_norm = nn.LayerNorm(width)
        self.query_key_value = nn.Linear(width, 3 * width)
        self.attention_output = nn.Linear(width, width)
        self.ffn_norm = nn.LayerNorm(width)
        self.ffn_in = nn.Linear(width, ffn_dim)
        self.ffn_out = nn.Linear(ffn_dim, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden: torch.Tensor, real: torch.BoolTensor) -> torch.Tensor:
        """`hidden` `(rows, steps, width)`, `real` `(rows, steps)`; padded steps are never attended to."""
        rows, steps, width = hidden.shape
        qkv = self.query_key_value(self.attention_norm(hidden))  # (rows, steps, 3 * width)
        query, key, value = qkv.view(rows, steps, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        attended = nn.functional.scaled_dot_product_attention(
            query, key, value, attn_mask=real[:, None, None, :], dropout_p=self.dropout.p if self.training else 0.0
        )  # (rows, heads, steps, head_dim)
        hidden = hidden + self.dropout(self.attention_output(attended.transpose(1, 2).reshape(rows, steps, width)))
        return hidden + self.dropout(
            self.ffn_out(self.dropout(nn.functional.relu(self.ffn_in(self.ffn_norm(hidden)))))
        )


class HANTransformerEncoder(nn.Module):
    """
    Self-attention layers (Vaswani et al. 2017) over packed sequences, in place of a bidirectional recurrence:
    input projection to `width`, sinusoidal positions, pre-norm layers, a final layer norm. Rows are gathered into
    right-padded blocks by length as in `HANBidirectionalEncoder`; a key-padding mask keeps padding out.
    """

    def __init__(self, input_size: int, width: int, num_layers: int, heads: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.input_projection = nn.Linear(input_size, width)
        self.layers = nn.ModuleList(HANTransformerLayer(width, heads, ffn_dim, dropout) for _ in range(num_layers))
        self.final_norm = nn.LayerNorm(width)
        self.width = width

    def positions(self, steps: torch.LongTensor, dtype: torch.dtype) -> torch.Tensor:
        """Sinusoidal encodings `(n, width)` of the positions `steps` `(n,)`."""
        half = self.width // 2
        frequencies = torch.exp(
            torch.arange(half, device=steps.device, dtype=torch.float32) * (-math.log(10000.0) / max(half, 1))
        )
        angles = steps.float().unsqueeze(1) * frequencies  # (n, half)
        encoding = torch.cat([angles.sin(), angles.cos()], dim=1)
        if encoding.size(1) < self.width:  # odd width
            encoding = nn.functional.pad(encoding, (0, 1))
        return encoding.to(dtype)

    def forward(
        self, inputs: torch.Tensor, lengths: torch.LongTensor, index: torch.LongTensor | None = None
    ) -> torch.Tensor:
        """
        `inputs` `(total_steps, input_size)` (or, with `index` `(total_steps,)`, `(distinct, input_size)` vectors of
        which step s reads `inputs[index[s]]`) with `lengths` `(rows,)` -> `(total_steps, width)`, packed alike.
        """
        projected = self.input_projection(inputs)
        packed = projected if index is None else projected.index_select(0, index)  # (total_steps, width)
        total_steps = packed.size(0)
        row_starts = torch.cumsum(lengths, 0) - lengths
        step_in_row = torch.arange(total_steps, device=packed.device) - torch.repeat_interleave(row_starts, lengths)
        # scaled by sqrt(width) as in Vaswani et al., so that the words, not their positions, dominate at the start
        hidden = packed * math.sqrt(self.width) + self.positions(step_in_row, packed.dtype)

        sorted_lengths, by_length = torch.sort(lengths.cpu(), descending=True, stable=True)
        sorted_lengths_list, by_length = sorted_lengths.tolist(), by_length.to(packed.device)
        source = torch.cat([hidden, hidden.new_zeros(1, self.width)])  # row `total_steps` is zeros
        outputs, take_order, block_positions, offset = [], [], [], 0
        # attention costs grow with the square of the block length, so blocks are cut more finely than for GRUs
        for start, end in length_buckets(sorted_lengths_list, step_cost=4.0):
            rows = by_length[start:end]
            steps = torch.arange(sorted_lengths_list[start], device=packed.device).unsqueeze(0)  # (1, block_steps)
            real = steps < lengths[rows].unsqueeze(1)  # (block_rows, block_steps)
            gather = torch.where(real, row_starts[rows].unsqueeze(1) + steps, total_steps)
            block = source.index_select(0, gather.flatten()).view(*real.shape, self.width)
            for layer in self.layers:
                block = layer(block, real)
            outputs.append(block.flatten(0, 1))
            take_order.append(gather[real])
            block_positions.append(offset + real.flatten().nonzero().squeeze(1))
            offset += real.numel()
        block_positions = torch.cat(block_positions)
        take = block_positions.new_empty(total_steps).index_copy_(0, torch.cat(take_order), block_positions)
        return self.final_norm(torch.cat(outputs).index_select(0, take))


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


class HANPreTrainedModel(PreTrainedModel):
    config_class = HANConfig
    base_model_prefix = "han"
    main_input_name = "input_ids"
    # `forward` takes no **kwargs, so Trainer scales the loss for gradient accumulation and DDP itself
    accepts_loss_kwargs = False

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

    def __init__(self, config: HANConfig, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        # what the model card says; `HANTrainer` fills it during training, users may set any field
        self.model_card_data = HANModelCardData()

    def save_pretrained(self, save_directory, *args, is_main_process: bool = True, **kwargs):
        """
        Save as [`~transformers.PreTrainedModel.save_pretrained`] does, plus the code files for
        `trust_remote_code=True` and a model card `README.md` built from `self.model_card_data`. A `README.md`
        that hf-han did not write is left as it is.
        """
        pipeline_code = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pipeline_han.py")
        # `auto_map` lists only the saved class; a head's folder should also load as the bare model via AutoModel
        if self._auto_class is not None:
            self.config.auto_map = {
                "AutoModel": "modeling_han.HANModel",
                **(getattr(self.config, "auto_map", None) or {}),
            }
            if os.path.isfile(pipeline_code):
                # the document-classification pipeline travels with the model, for `trust_remote_code=True`
                self.config.custom_pipelines = {"document-classification": PIPELINE_ENTRY}
        result = super().save_pretrained(save_directory, *args, is_main_process=is_main_process, **kwargs)
        if is_main_process:
            if getattr(self.config, "custom_pipelines", None) and os.path.isfile(pipeline_code):
                shutil.copy(pipeline_code, os.path.join(save_directory, "pipeline_han.py"))
            self.save_model_card(save_directory)
        return result

    def save_model_card(self, save_directory: str | os.PathLike) -> None:
        """Write (or rewrite) the generated model card `README.md` in `save_directory`."""
        path = os.path.join(save_directory, "README.md")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                if not is_generated_card(handle.read()):
                    logger.info(f"{path} was not written by hf-han; leaving it unchanged.")
                    return
        try:
            card = generate_model_card(self.model_card_data, self)
        except ImportError as error:  # jinja2, which huggingface_hub needs to render templates, is optional
            logger.warning(f"No model card written: {error}")
            return
        card.save(path)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        commit_message: str | None = None,
        commit_description: str | None = None,
        private: bool | None = None,
        token: bool | str | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        max_shard_size: int | str | None = "50GB",
        tags: list[str] | None = None,
    ):
        """
        Upload the model, its code files and its generated model card to the Hub repository `repo_id`.

        Arguments as in [`~transformers.utils.PushToHubMixin.push_to_hub`]. Unlike the generic implementation, which
        replaces `README.md` with a template card, the uploaded card is the one `save_pretrained` writes from
        `self.model_card_data` (with `repo_id` in its usage snippets).
        """
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
        self.model_card_data.model_id = repo_id
        for tag in tags or []:
            if tag not in self.model_card_data.tags:
                self.model_card_data.tags.append(tag)
        with tempfile.TemporaryDirectory() as work_dir:
            self.save_pretrained(work_dir, max_shard_size=max_shard_size)
            return api.upload_folder(
                repo_id=repo_id,
                folder_path=work_dir,
                commit_message=commit_message or "Upload HAN model",
                commit_description=commit_description,
                revision=revision,
                create_pr=create_pr,
            )

    def load_word_vectors(
        self,
        vectors: Mapping[str, Sequence[float]] | str | os.PathLike,
        vocabulary,
        freeze: bool = False,
        encoding: str = "utf-8",
    ) -> int:
        """
        Initialise the word embeddings from pre-trained vectors.

        Args:
            vectors (`Mapping[str, Sequence[float]]` or `str` or `os.PathLike`):
                A `{word: vector}` mapping, or the path of a word2vec (with its `count dim` header line) or GloVe
                text file. Only the vocabulary's words are read from a file.
            vocabulary (`Mapping[str, int]` or a tokenizer):
                Word to embedding row; a tokenizer's `get_vocab()` is used when given a tokenizer.
            freeze (`bool`, *optional*, defaults to `False`):
                Keep the embeddings fixed during training; stored in `config.freeze_word_embeddings`.
            encoding (`str`, *optional*, defaults to `"utf-8"`):
                Encoding of a vector file.

        Returns:
            `int`: the number of vocabulary words that received a vector. Words without one keep their
            initialisation; their count is logged.
        """
        if hasattr(vocabulary, "get_vocab"):
            vocabulary = vocabulary.get_vocab()
        embeddings = self.get_input_embeddings().weight
        num_rows, dim = embeddings.shape
        out_of_range = [word for word, row in vocabulary.items() if not 0 <= row < num_rows]
        if out_of_range:
            raise ValueError(
                f"The vocabulary has ids outside the embedding matrix of {num_rows} rows (e.g. {out_of_range[0]!r}): "
                "the tokenizer does not match this model."
            )
        if isinstance(vectors, (str, os.PathLike)):
            vectors = _read_word_vector_file(vectors, set(vocabulary), dim, encoding)

        found = 0
        with torch.no_grad():
            for word, row in vocabulary.items():
                if word not in vectors or row == self.config.pad_token_id:
                    continue
                vector = torch.as_tensor(vectors[word], dtype=embeddings.dtype)
                if vector.shape != (dim,):
                    raise ValueError(
                        f"The vector of {word!r} has shape {tuple(vector.shape)}, the embeddings expect ({dim},)."
                    )
                embeddings[row] = vector.to(embeddings.device)
                found += 1
        missing = len(vocabulary) - found
        logger.info(
            f"Initialised {found} of {len(vocabulary)} word embeddings from pre-trained vectors; "
            f"{missing} words without a vector keep their random initialisation."
        )
        self.config.freeze_word_embeddings = freeze
        embeddings.requires_grad_(not freeze)
        return found


def _read_word_vector_file(path, words: set[str], dim: int, encoding: str) -> dict[str, list[float]]:
    vectors = {}
    with open(path, encoding=encoding, errors="replace") as handle:
        for line_number, line in enumerate(handle, start=1):
            parts = line.rstrip().split(" ")
            if line_number == 1 and len(parts) == 2 and all(part.isdigit() for part in parts):
                # word2vec text header: "<count> <dim>"
                if int(parts[1]) != dim:
                    raise ValueError(f"{path} holds {parts[1]}-dimensional vectors, the embeddings have {dim}.")
                continue
            word = parts[0]
            if word not in words or word in vectors:
                continue
            if len(parts) != dim + 1:
                raise ValueError(
                    f"{path}, line {line_number}: {len(parts) - 1} values for {word!r}, the embeddings have {dim}."
                )
            vectors[word] = [float(value) for value in parts[1:]]
    return vectors


class HANModel(HANPreTrainedModel):
    """
    The bare Hierarchical Attention Network: words -> bidirectional encoder -> word attention -> sentence vectors ->
    bidirectional encoder -> sentence attention -> document vector.
    """

    def __init__(self, config: HANConfig):
        super().__init__(config)
        self.word_embeddings = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        word_width, sentence_width = 2 * config.word_hidden_size, 2 * config.sentence_hidden_size
        self.word_encoder = build_encoder(
            config.word_encoder, config.embedding_dim, config.word_hidden_size, config.num_word_layers, config
        )
        attention_options = {
            "structured": config.attention == "structured",
            "hops": config.attention_hops,
            "penalty_normalization": config.attention_penalty_normalization,
        }
        context_options = {}
        if config.context != "none":
            context_options = {"context_size": word_width, "gated": config.context_gate}
        self.word_attention = HANAttention(word_width, config.attention_dim, **attention_options, **context_options)
        if config.context == "bidirectional":
            # the right-to-left pass has its own attention; the sentence encoder reads both sentence vectors
            self.word_attention_backward = HANAttention(
                word_width, config.attention_dim, **attention_options, **context_options
            )
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
        if config.freeze_word_embeddings:
            self.word_embeddings.weight.requires_grad_(False)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.word_embeddings = value

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
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
            return_dict (`bool`, *optional*):
                Return a [`HANModelOutput`] rather than a tuple.
        """
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        return_dict = self.config.return_dict if return_dict is None else return_dict
        word_mask = self._check_inputs(input_ids, attention_mask)
        batch_size, num_sentences, num_words = input_ids.shape

        # Word level: the real words of the whole batch, packed sentence after sentence, encoded in one call.
        sentence_mask = word_mask.any(dim=-1)  # (batch, sentences)
        real_sentences = sentence_mask.flatten().nonzero().squeeze(1)  # (n_sentences,)
        real_word_mask = word_mask.reshape(-1, num_words)[real_sentences]  # (n_sentences, words)
        sentence_lengths = real_word_mask.sum(dim=1)  # (n_sentences,)
        word_ids = input_ids.reshape(-1, num_words)[real_sentences][real_word_mask]  # (n_words,)
        word_sentence = torch.repeat_interleave(
            torch.arange(len(real_sentences), device=input_ids.device), sentence_lengths
        )  # (n_words,)

        embedding_matrix = self.word_embeddings.weight
        if self.config.freeze_word_embeddings:
            # checked here rather than through requires_grad, which from_pretrained resets when it loads weights
            embedding_matrix = embedding_matrix.detach()
        if self.training and self.embedding_dropout.p > 0:  # every occurrence of a word gets its own mask
            embeddings = self.embedding_dropout(nn.functional.embedding(word_ids, embedding_matrix))  # (n_words, emb)
            word_states = self.word_encoder(embeddings, sentence_lengths)  # (n_words, 2 * word_hidden)
        else:
            # The encoder's input projection then depends on the word alone: each distinct word of the batch is
            # embedded and projected once (an IMDB batch of 64 reviews has about 3,300 among 16,000 words).
            distinct_ids, occurrence = torch.unique(word_ids, return_inverse=True)  # (distinct,), (n_words,)
            embeddings = nn.functional.embedding(distinct_ids, embedding_matrix)  # (distinct, emb)
            word_states = self.word_encoder(embeddings, sentence_lengths, index=occurrence)  # (n_words, 2 * hidden)
        document_lengths = sentence_mask.sum(dim=1)  # (batch,)
        sentence_document = torch.div(real_sentences, num_sentences, rounding_mode="floor")  # (n_sentences,)
        if self.config.context == "none":
            packed_sentence_vectors, word_weights, word_penalty = self.word_attention(
                word_states, word_sentence, len(real_sentences)
            )  # (n_sentences, 2 * word_hidden), (n_words, hops)
        else:
            packed_sentence_vectors, word_weights, word_penalty = self._context_aware_word_attention(
                word_states, real_word_mask, sentence_document, document_lengths
            )

        # Sentence level: each document's real sentences are already consecutive in `real_sentences`.
        packed_sentence_states = self.sentence_encoder(
            self.sentence_dropout(packed_sentence_vectors), document_lengths
        )  # (n_sentences, 2 * sentence_hidden)
        document_vector, sentence_weights, sentence_penalty = self.sentence_attention(
            packed_sentence_states, sentence_document, batch_size
        )  # (batch, 2 * sentence_hidden), (n_sentences, hops)
        penalty = None if word_penalty is None else word_penalty + sentence_penalty

        # Back to the caller's (batch, sentences[, words]) layout, zeros at padding.
        sentence_vectors = _unpack(packed_sentence_vectors, real_sentences, batch_size * num_sentences)
        sentence_states = _unpack(packed_sentence_states, real_sentences, batch_size * num_sentences)
        word_attentions = sentence_attentions = None
        if output_attentions:
            hops = word_weights.size(1)
            sentence_attentions = _unpack(sentence_weights, real_sentences, batch_size * num_sentences)
            sentence_attentions = sentence_attentions.view(batch_size, num_sentences, hops).transpose(1, 2)
            real_word_positions = real_word_mask.nonzero()  # (n_words, 2): (packed sentence, word position)
            word_attentions = word_weights.new_zeros(batch_size * num_sentences, num_words, hops)
            word_attentions[real_sentences[real_word_positions[:, 0]], real_word_positions[:, 1]] = word_weights
            word_attentions = word_attentions.view(batch_size, num_sentences, num_words, hops).transpose(2, 3)
            if self.config.attention == "additive":  # no hop axis for the paper's attention
                sentence_attentions, word_attentions = sentence_attentions.squeeze(1), word_attentions.squeeze(2)

        output = HANModelOutput(
            document_vector=document_vector,
            sentence_states=sentence_states.view(batch_size, num_sentences, -1),
            sentence_vectors=sentence_vectors.view(batch_size, num_sentences, -1),
            word_attentions=word_attentions,
            sentence_attentions=sentence_attentions,
            attention_penalty=penalty,
        )
        return output if return_dict else output.to_tuple()

    def _context_aware_word_attention(
        self,
        word_states: torch.Tensor,
        real_word_mask: torch.BoolTensor,
        sentence_document: torch.LongTensor,
        document_lengths: torch.LongTensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """
        CAHAN word attention: each sentence's attention sees a context built from the vectors of the sentences
        before it (and, bidirectionally, in a second pass, after it). The word encoder has run once over all
        sentences; this scans sentence positions, each step serving that position in every document at once.

        Args:
            word_states: `(n_words, 2 * word_hidden)` packed word states.
            real_word_mask: `(n_sentences, words)`, the real words of each real sentence.
            sentence_document: `(n_sentences,)`, each sentence's document.
            document_lengths: `(batch,)`, real sentences per document.

        Returns:
            sentence vectors `(n_sentences, 2 * word_hidden)` (`4 * word_hidden` bidirectionally), word weights
            `(n_words, hops)` (the mean of both passes bidirectionally), and the penalty (structured attention).
        """
        num_sentences_total, num_words = real_word_mask.shape
        # a padded (n_sentences, words, features) view of the packed states; row n_words of `source` is zeros
        source = torch.cat([word_states, word_states.new_zeros(1, word_states.size(1))])
        index = torch.full_like(real_word_mask, word_states.size(0), dtype=torch.long)
        index[real_word_mask] = torch.arange(word_states.size(0), device=word_states.device)
        states = source[index]  # (n_sentences, words, 2 * word_hidden)
        document_starts = torch.cumsum(document_lengths, 0) - document_lengths
        rank = torch.arange(num_sentences_total, device=states.device) - document_starts[sentence_document]

        passes = [(self.word_attention, rank)]
        if self.config.context == "bidirectional":
            passes.append((self.word_attention_backward, document_lengths[sentence_document] - 1 - rank))
        vectors, weights, penalties = [], [], []
        for attention, order_key in passes:
            pass_vectors, pass_weights = self._context_pass(
                attention, states, real_word_mask, sentence_document, order_key, len(document_lengths)
            )
            vectors.append(pass_vectors)
            weights.append(pass_weights)
            if attention.structured:
                penalties.append(
                    _penalty_from_gram(pass_weights @ pass_weights.transpose(1, 2), attention.penalty_normalization)
                )
        weights = torch.stack(weights).mean(dim=0)  # (n_sentences, hops, words)
        packed_weights = weights.transpose(1, 2)[real_word_mask]  # (n_words, hops)
        penalty = torch.stack(penalties).mean() if penalties else None
        return torch.cat(vectors, dim=-1), packed_weights, penalty

    def _context_pass(
        self,
        attention: HANAttention,
        states: torch.Tensor,
        mask: torch.BoolTensor,
        sentence_document: torch.LongTensor,
        position: torch.LongTensor,
        batch_size: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One CAHAN pass: sentences in order of `position` `(n_sentences,)`, each seeing the ones before it."""
        keys = attention.projection(states)  # (n_sentences, words, attention_dim)
        gate_keys = attention.gate(states) if attention.gated else None
        running = states.new_zeros(batch_size, states.size(-1))  # sum (possibly discounted) of the seen vectors
        seen = states.new_zeros(batch_size)
        discount = self.config.context_discount if self.config.context_aggregation == "sum" else 1.0
        order = torch.argsort(position, stable=True)
        steps = torch.bincount(position).tolist()  # sentences at each position, over the batch
        vectors, weights = [], []
        for rows in order.split(steps):
            documents = sentence_document[rows]
            context = running[documents]  # (rows, 2 * word_hidden); zeros for a document's first sentence
            if self.config.context_aggregation == "mean":
                context = context / seen[documents].clamp(min=1).unsqueeze(1)
            step_vectors, step_weights = attention.forward_padded(
                keys[rows], None if gate_keys is None else gate_keys[rows], states[rows], mask[rows], context
            )
            # under autocast the step's vectors may be half precision; the running context stays in the states' dtype
            running = (running * discount).index_add(0, documents, step_vectors.to(running.dtype))
            seen = seen.index_add(0, documents, torch.ones_like(documents, dtype=seen.dtype))
            vectors.append(step_vectors)
            weights.append(step_weights)
        restore = torch.argsort(order)
        return torch.cat(vectors)[restore], torch.cat(weights)[restore]

    def _check_inputs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.BoolTensor:
        """Validate `input_ids` and `attention_mask`; return the word mask as bool `(batch, sentences, words)`."""
        if not isinstance(input_ids, torch.Tensor):
            raise ValueError(f"`input_ids` must be a torch.Tensor, got {type(input_ids).__name__}.")
        if input_ids.dim() != 3:
            hint = (
                " A 2-D input looks like flat token ids; encode documents with HANTokenizer."
                if input_ids.dim() == 2
                else ""
            )
            raise ValueError(
                "`input_ids` must have shape (batch_size, num_sentences, num_words), got a "
                f"{input_ids.dim()}-D tensor of shape {tuple(input_ids.shape)}.{hint}"
            )
        if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
            raise ValueError(f"`input_ids` must hold integer ids, got dtype {input_ids.dtype}.")
        if input_ids.numel() == 0:
            raise ValueError(f"`input_ids` is empty (shape {tuple(input_ids.shape)}); every document needs a word.")
        if attention_mask is None:
            word_mask = input_ids != self.config.pad_token_id
        else:
            if not isinstance(attention_mask, torch.Tensor) or attention_mask.shape != input_ids.shape:
                shape = (
                    tuple(attention_mask.shape)
                    if isinstance(attention_mask, torch.Tensor)
                    else type(attention_mask).__name__
                )
                raise ValueError(
                    f"`attention_mask` must have the shape of `input_ids` {tuple(input_ids.shape)}, got {shape}."
                )
            word_mask = attention_mask.bool()
        low, high = int(input_ids.min()), int(input_ids.max())
        if low < 0 or high >= self.config.vocab_size:
            raise ValueError(
                f"`input_ids` must lie in [0, {self.config.vocab_size}) (config.vocab_size), got values in "
                f"[{low}, {high}]. Is the tokenizer the one this model was trained with?"
            )
        empty_documents = (~word_mask.flatten(1).any(dim=1)).nonzero().flatten().tolist()
        if empty_documents:
            raise ValueError(
                f"Documents {empty_documents} have no real word in `attention_mask`; every document needs at least "
                "one (HANTokenizer encodes an empty document as one sentence holding [UNK])."
            )
        return word_mask


def _unpack(packed: torch.Tensor, positions: torch.LongTensor, size: int) -> torch.Tensor:
    """Scatter packed rows `(n, ...)` to `positions` of a zero tensor `(size, ...)`."""
    return packed.new_zeros((size,) + packed.shape[1:]).index_copy(0, positions, packed)


class HANForDocumentClassification(HANPreTrainedModel):
    """A Hierarchical Attention Network with a linear classification (or regression) layer on the document vector."""

    def __init__(self, config: HANConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.han = HANModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(2 * config.sentence_hidden_size, config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.han.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.han.word_embeddings = value

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
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
            return_dict (`bool`, *optional*):
                Return a [`HANDocumentClassifierOutput`] rather than a tuple.
        """
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.han(input_ids, attention_mask, output_attentions=output_attentions, return_dict=True)
        logits = self.classifier(self.dropout(outputs.document_vector))  # (batch, num_labels)

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
            word_attentions=outputs.word_attentions,
            sentence_attentions=outputs.sentence_attentions,
            attention_penalty=outputs.attention_penalty,
        )
        return output if return_dict else output.to_tuple()


__all__ = [
    "HANDocumentClassifierOutput",
    "HANForDocumentClassification",
    "HANModel",
    "HANModelOutput",
    "HANPreTrainedModel",
]
