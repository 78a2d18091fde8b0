"""
HAN's bidirectional GRU/LSTM layers as ONNX's own `GRU` and `LSTM` operators, for the ONNX export: one operator per
layer that ONNX Runtime runs in compiled code (its CPU kernels are GEMM-based and take every row's length), instead
of a `Scan` whose every step is a small graph. `bidirectional_rnn` is a PyTorch custom operator: `torch.export`
keeps it whole, and `ONNX_TRANSLATIONS` tells `torch.onnx.export` what it becomes.

The operator reads right-padded rows `(rows, steps, in)` with their lengths (at least 1); the backward direction
starts at each row's last real step, as PyTorch's packed sequences do, and padded steps output zeros.
"""

import torch
from torch import Tensor, nn


def _bidirectional_rnn(
    inputs: Tensor,
    lengths: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor,
    bias_hh: Tensor,
    cell: str,
    hidden_size: int,
) -> Tensor:
    """
    One bidirectional layer: `inputs` `(rows, steps, in)`, `lengths` `(rows,)`, both directions' PyTorch weights
    stacked `(2, gates * hidden, in | hidden)` and biases `(2, gates * hidden)` -> `(rows, steps, 2 * hidden)`.
    """
    rnn = (nn.GRU if cell == "gru" else nn.LSTM)(inputs.size(-1), hidden_size, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for suffix, direction in (("", 0), ("_reverse", 1)):
            getattr(rnn, f"weight_ih_l0{suffix}").copy_(weight_ih[direction])
            getattr(rnn, f"weight_hh_l0{suffix}").copy_(weight_hh[direction])
            getattr(rnn, f"bias_ih_l0{suffix}").copy_(bias_ih[direction])
            getattr(rnn, f"bias_hh_l0{suffix}").copy_(bias_hh[direction])
        rnn = rnn.to(inputs.device, inputs.dtype)
        packed = nn.utils.rnn.pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(rnn(packed)[0], batch_first=True, total_length=inputs.size(1))
    return outputs


def _bidirectional_rnn_shape(inputs, lengths, weight_ih, weight_hh, bias_ih, bias_hh, cell, hidden_size):
    return inputs.new_empty(inputs.size(0), inputs.size(1), 2 * hidden_size)


# Defined once per process: a copy of this file loaded as remote code finds the operator already there.
if not hasattr(torch.ops.hf_han, "bidirectional_rnn"):
    torch.library.custom_op("hf_han::bidirectional_rnn", mutates_args=())(_bidirectional_rnn).register_fake(
        _bidirectional_rnn_shape
    )
bidirectional_rnn = torch.ops.hf_han.bidirectional_rnn


def _onnx_bidirectional_rnn(inputs, lengths, weight_ih, weight_hh, bias_ih, bias_hh, cell: str, hidden_size: int):
    from onnxscript import opset18 as op

    # PyTorch's gate order (GRU: reset, update, new; LSTM: input, forget, cell, output) in ONNX's (GRU: update,
    # reset, hidden; LSTM: input, output, forget, cell); on weights, so ONNX Runtime folds it when it loads the model
    def onnx_order(weights):
        if cell == "gru":
            reset, update, new = op.Split(weights, axis=1, num_outputs=3)
            return op.Concat(update, reset, new, axis=1)
        input_gate, forget_gate, candidate, output_gate = op.Split(weights, axis=1, num_outputs=4)
        return op.Concat(input_gate, output_gate, forget_gate, candidate, axis=1)

    steps_first = op.Transpose(inputs, perm=[1, 0, 2])  # (steps, rows, in)
    bias = op.Concat(onnx_order(bias_ih), onnx_order(bias_hh), axis=1)
    lengths = op.Cast(lengths, to=6)  # int32, as the operators take them
    arguments = (steps_first, onnx_order(weight_ih), onnx_order(weight_hh), bias, lengths)
    if cell == "gru":
        # PyTorch applies the reset gate after the recurrent product: ONNX's `linear_before_reset`
        states, _ = op.GRU(*arguments, direction="bidirectional", hidden_size=hidden_size, linear_before_reset=1)
    else:
        states, _, _ = op.LSTM(*arguments, direction="bidirectional", hidden_size=hidden_size)
    # (steps, 2, rows, hidden) -> (rows, steps, 2 * hidden), the forward direction first
    states = op.Transpose(states, perm=[2, 0, 1, 3])
    return op.Reshape(states, op.Concat(op.Shape(states, start=0, end=2), op.Constant(value_ints=[-1]), axis=0))


ONNX_TRANSLATIONS = {torch.ops.hf_han.bidirectional_rnn.default: _onnx_bidirectional_rnn}


def native_bidirectional(encoder, inputs: Tensor, lengths: Tensor) -> Tensor:
    """`HANBidirectionalEncoder` `encoder` over right-padded rows `(rows, steps, in)` of `lengths` (at least 1)."""
    outputs = inputs
    for layer, (forward_rnn, backward_rnn) in enumerate(zip(encoder.forward_layers, encoder.backward_layers)):
        if layer > 0:
            outputs = encoder.dropout(outputs)
        outputs = bidirectional_rnn(
            outputs,
            lengths,
            torch.stack([forward_rnn.weight_ih_l0, backward_rnn.weight_ih_l0]),
            torch.stack([forward_rnn.weight_hh_l0, backward_rnn.weight_hh_l0]),
            torch.stack([forward_rnn.bias_ih_l0, backward_rnn.bias_ih_l0]),
            torch.stack([forward_rnn.bias_hh_l0, backward_rnn.bias_hh_l0]),
            encoder.cell,
            encoder.hidden_size,
        )
    return outputs


__all__ = ["ONNX_TRANSLATIONS", "bidirectional_rnn", "native_bidirectional"]
