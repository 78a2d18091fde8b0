"""
Bidirectional GRU / LSTM encoders over packed sequences for HAN's word and sentence levels: exact whatever the
padding, with no padded step computed on CPU. `bidirectional_reference` is the plain computation they equal.
"""

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

from .packing_han import PaddedBlocks


class HANBidirectionalEncoder(GradientCheckpointingLayer):
    """
    Stacked bidirectional GRU or LSTM over packed sequences (the rows laid end to end), exact whatever the padding.

    On CPU the recurrence runs in time-major packed order, as over a `PackedSequence`: rows are sorted by length
    and step t reads only the rows longer than t, so no padded step is ever computed. The backward direction reads
    each row reversed within its own length, and both directions advance together: a step is one batched matrix
    product and a few element-wise operations over a leading direction axis, and the input projections of all
    steps are one matrix product before the loop (see `packed_recurrence`).

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
        time, row, batch_sizes = time_major_order(lengths)
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
            states = packed_recurrence(
                self.cell, step_inputs.view(2, total_steps, gates), weight_hh, bias_hh, batch_sizes
            )  # (2, total_steps, H), time-major
            hidden = states.view(2 * total_steps, hidden_size).index_select(0, take).view(total_steps, -1)
        return hidden  # (total_steps, 2 * hidden)

    def _forward_bucketed(self, packed: torch.Tensor, lengths: torch.LongTensor) -> torch.Tensor:
        blocks = PaddedBlocks.build(lengths, step_cost=16.0, reversed_rows=True)
        block_sizes = [shape.numel() for shape in blocks.shapes]
        hidden = packed
        for layer, (forward_rnn, backward_rnn) in enumerate(zip(self.forward_layers, self.backward_layers)):
            if layer > 0:
                hidden = self.dropout(hidden)
            # One gather per direction feeds all blocks (gathering block by block would make backward zero-fill and
            # add up a copy of the whole input for every block), and one take per direction brings the real states
            # of all blocks, laid end to end, back into packed order.
            source = torch.cat([hidden, hidden.new_zeros(1, hidden.size(-1))])  # (total_steps + 1, features)
            forward_blocks = source.index_select(0, blocks.gather).split(block_sizes)
            backward_blocks = source.index_select(0, blocks.gather_reversed).split(block_sizes)
            forward_states, backward_states = [], []
            for shape, forward_block, backward_block in zip(blocks.shapes, forward_blocks, backward_blocks):
                shape = shape + (source.size(-1),)  # (block_rows, block_steps, features)
                # (block_rows * block_steps, hidden): padded steps included, dropped by the take below
                forward_states.append(forward_rnn(forward_block.view(shape))[0].flatten(0, 1))
                backward_states.append(backward_rnn(backward_block.view(shape))[0].flatten(0, 1))
            hidden = torch.cat(
                [
                    torch.cat(forward_states).index_select(0, blocks.take),
                    torch.cat(backward_states).index_select(0, blocks.take_reversed),
                ],
                dim=-1,
            )  # (total_steps, 2 * hidden)
        return hidden


def time_major_order(lengths: torch.LongTensor) -> tuple[torch.LongTensor, torch.LongTensor, list[int]]:
    """
    Packed steps of rows of `lengths` (each at least 1) in time-major order: time t holds the rows longer than t,
    longest first. Returns each step's time and row `(total_steps,)`, and the rows at each time (`batch_sizes`).
    """
    sorted_lengths, by_length = torch.sort(lengths, descending=True, stable=True)
    batch_sizes = torch.bincount(lengths - 1).flip(0).cumsum(0).flip(0).tolist()  # rows longer than t, per t
    times = torch.arange(len(batch_sizes), device=lengths.device)
    time, rank = (sorted_lengths.unsqueeze(0) > times.unsqueeze(1)).nonzero(as_tuple=True)
    return time, by_length[rank], batch_sizes


def stacked_directions(forward_rnn: nn.Module, backward_rnn: nn.Module) -> tuple[torch.Tensor, ...]:
    """One layer's `W_ih, W_hh` `(2, gates * H, in | H)` and `b_ih, b_hh` `(2, gates * H)`: both directions stacked."""
    return tuple(
        torch.stack([getattr(forward_rnn, name), getattr(backward_rnn, name)])
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    )


def packed_recurrence(
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


def bidirectional_reference(encoder: HANBidirectionalEncoder, inputs: torch.Tensor, lengths: torch.LongTensor):
    """
    The plain computation that `HANBidirectionalEncoder` makes fast, for tests and for reading: every row through
    the library's `nn.GRU` / `nn.LSTM` on its own, forwards and reversed, layer after layer (no dropout).

    Args:
        inputs: `(total_steps, input_size)`, the rows' steps laid end to end.
        lengths: `(rows,)`, summing to `total_steps`.

    Returns:
        `(total_steps, 2 * hidden_size)` states `[forward; backward]`.
    """
    hidden = inputs
    for forward_rnn, backward_rnn in zip(encoder.forward_layers, encoder.backward_layers):
        rows = hidden.split(lengths.tolist())
        hidden = torch.cat(
            [
                torch.cat([forward_rnn(row[None])[0][0], backward_rnn(row.flip(0)[None])[0][0].flip(0)], dim=-1)
                for row in rows
            ]
        )
    return hidden


__all__ = [
    "HANBidirectionalEncoder",
    "bidirectional_reference",
    "packed_recurrence",
    "stacked_directions",
    "time_major_order",
]
