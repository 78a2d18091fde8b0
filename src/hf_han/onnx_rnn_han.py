"""
HAN's bidirectional GRU/LSTM layers as ONNX operators, for the ONNX export. Two PyTorch custom operators, which
`torch.export` keeps whole and `ONNX_TRANSLATIONS` tells `torch.onnx.export` how to write:

- `lookup_bidirectional_rnn`, the word level's first layer, which reads word ids: a `Loop` over time in packed
  order, as the eager model computes it (`recurrence_han.packed_recurrence`). Rows are sorted by length, so that
  step t computes only the rows longer than t, and each direction's input projection is one lookup in a table of
  the vocabulary's projections (`E W_ih^T + b_ih`, weights alone, which ONNX Runtime folds when it loads the
  model). ONNX's `GRU` operator would project every padded word slot and step every padded row: most of the time
  of a batch.
- `bidirectional_rnn`, any other layer: ONNX's own `GRU`/`LSTM` operator, with every row's length.

Both read right-padded rows `(rows, steps, ...)` with their lengths (at least 1); the backward direction starts at
each row's last real step, as PyTorch's packed sequences do, and padded steps output zeros.
"""

import functools

import numpy as np
import torch
from torch import Tensor, nn

from .recurrence_han import packed_recurrence, stacked_directions, time_major_order


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


def _lookup_bidirectional_rnn(
    ids: Tensor, lengths: Tensor, table: Tensor, weight_hh: Tensor, bias_hh: Tensor, cell: str, hidden_size: int
) -> Tensor:
    """
    One bidirectional layer over rows of word ids: `ids` `(rows, steps)` right-padded to `lengths` `(rows,)`,
    `table` `(2, vocab, gates * hidden)` each direction's input projection of every word, `weight_hh`
    `(2, gates * hidden, hidden)`, `bias_hh` `(2, gates * hidden)` -> `(rows, steps, 2 * hidden)`.
    """
    rows, steps = ids.shape
    time, row, batch_sizes = time_major_order(lengths)
    read = torch.stack([time, lengths[row] - 1 - time])  # (2, packed): the position each direction reads
    step_inputs = torch.stack([table[0][ids[row, read[0]]], table[1][ids[row, read[1]]]])  # (2, packed, gates)
    states = packed_recurrence(cell, step_inputs, weight_hh.transpose(1, 2), bias_hh[:, None], batch_sizes)
    outputs = states.new_zeros(2, rows, steps, hidden_size)
    outputs[0, row, read[0]] = states[0]
    outputs[1, row, read[1]] = states[1]
    return torch.cat([outputs[0], outputs[1]], dim=-1)


def _lookup_bidirectional_rnn_shape(ids, lengths, table, weight_hh, bias_hh, cell, hidden_size):
    return table.new_empty(ids.size(0), ids.size(1), 2 * hidden_size)


if not hasattr(torch.ops.hf_han, "lookup_bidirectional_rnn"):
    torch.library.custom_op("hf_han::lookup_bidirectional_rnn", mutates_args=())(
        _lookup_bidirectional_rnn
    ).register_fake(_lookup_bidirectional_rnn_shape)
lookup_bidirectional_rnn = torch.ops.hf_han.lookup_bidirectional_rnn


def onnx_modules():
    """
    `onnx`, `onnx_ir`, onnxscript's `opset18` and its `Op`, which only exporting to ONNX needs (the `onnx` extra).
    Imported in a `try` block: `transformers` skips those when it lists what a remote-code model needs to load.
    """
    try:
        import onnx
        import onnx_ir
        from onnxscript import opset18
        from onnxscript.values import Op
    except ImportError as error:
        raise ImportError(
            "Exporting HAN to ONNX needs onnx, onnx-ir and onnxscript: pip install 'hf-han[onnx]'"
        ) from error
    return onnx, onnx_ir, opset18, Op


@functools.cache
def _loop(outputs: int):
    """ONNX's `Loop` with `outputs` outputs (final carried values, then scanned ones), for the exporter's tracer."""
    onnx, _, opset18, Op = onnx_modules()

    Parameter, Schema = onnx.defs.OpSchema.FormalParameter, onnx.defs.OpSchema
    # One heterogeneous variadic input for (M, cond, v_initial...): the tracer fills a variadic parameter with every
    # positional argument, so it must be the only one; and as many declared outputs as the node has.
    schema = Schema(
        "Loop",
        "",
        16,
        inputs=[Parameter("inputs", "V", param_option=Schema.FormalParameterOption.Variadic, is_homogeneous=False)],
        outputs=[Parameter(f"output_{index}", "V") for index in range(outputs)],
        type_constraints=[("V", ["tensor(float)", "tensor(int64)", "tensor(bool)"], "")],
        attributes=[Schema.Attribute("body", Schema.AttrType.GRAPH, "the loop body")],
    )
    return Op(opset18, "Loop", schema)


def _loop_body(cell: str, hidden_size: int, outer: dict):
    """
    The `Loop` body of one time step of both directions: (t, cond, state[, cell state]) -> (cond, state[, cell
    state], padded output). `outer` holds the values it reads from the enclosing graph: `inputs` `(2, packed,
    gates)`, `schedule` `(steps, 9)` (each time's start and end in `inputs`, its running rows, and the `pads` of its
    output), `weight_hh` `(2, hidden, gates)`, `bias_hn` `(2, 1, hidden)` (GRU), and the constants `zero` `[0]`,
    `axis_1` `[1]`, `gru_splits` `[2 * hidden, hidden]` and `schedule_splits` `[1, 1, 1, 6]`.
    """
    ir = onnx_modules()[1]

    def value(dtype, shape):
        return ir.Value(type=ir.TensorType(dtype), shape=ir.Shape(shape))

    float_type = ir.DataType.FLOAT
    time, condition = value(ir.DataType.INT64, []), value(ir.DataType.BOOL, [])
    carried = [value(float_type, [2, None, hidden_size]) for _ in range(1 if cell == "gru" else 2)]
    tape = ir.tape.Tape()

    start, end, count, pads = tape.op_multi_out(
        "Split",
        [tape.op("Gather", [outer["schedule"], time], attributes={"axis": 0}), outer["schedule_splits"]],
        attributes={"axis": 0},
        num_outputs=4,
    )
    axis_1, zero = outer["axis_1"], outer["zero"]
    inputs = tape.op("Slice", [outer["inputs"], start, end, axis_1])  # (2, rows now, gates)
    first = tape.op("Slice", [carried[0], zero, count, axis_1])  # the rows still running
    recurrent = tape.op("MatMul", [first, outer["weight_hh"]])  # W_hh h, its bias below
    if cell == "gru":
        splits = outer["gru_splits"]
        inputs_rz, inputs_n = tape.op_multi_out("Split", [inputs, splits], attributes={"axis": 2}, num_outputs=2)
        recurrent_rz, recurrent_n = tape.op_multi_out(
            "Split", [recurrent, splits], attributes={"axis": 2}, num_outputs=2
        )
        recurrent_n = tape.op("Add", [recurrent_n, outer["bias_hn"]])  # b_hr and b_hz are in `inputs`
        reset, update = tape.op_multi_out(
            "Split",
            [tape.op("Sigmoid", [tape.op("Add", [inputs_rz, recurrent_rz])])],
            attributes={"axis": 2, "num_outputs": 2},
            num_outputs=2,
        )
        # n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = n + z (h - n)
        candidate = tape.op("Tanh", [tape.op("Add", [inputs_n, tape.op("Mul", [reset, recurrent_n])])])
        state = tape.op("Add", [candidate, tape.op("Mul", [update, tape.op("Sub", [first, candidate])])])
        new_carried = [state]
    else:
        cell_state = tape.op("Slice", [carried[1], zero, count, axis_1])
        gates = tape.op("Add", [inputs, recurrent])
        input_gate, forget_gate, cell_gate, output_gate = tape.op_multi_out(
            "Split", [gates], attributes={"axis": 2, "num_outputs": 4}, num_outputs=4
        )
        cell_state = tape.op(
            "Add",
            [
                tape.op("Mul", [tape.op("Sigmoid", [forget_gate]), cell_state]),
                tape.op("Mul", [tape.op("Sigmoid", [input_gate]), tape.op("Tanh", [cell_gate])]),
            ],
        )
        state = tape.op("Mul", [tape.op("Sigmoid", [output_gate]), tape.op("Tanh", [cell_state])])
        new_carried = [state, cell_state]
    # scanned outputs must keep one shape: every row (and a spare zero one), zeros for the rows that have ended
    padded = tape.op("Pad", [state, pads])  # (2, rows + 1, hidden)
    return ir.Graph(
        [time, condition, *carried],
        [tape.op("Identity", [condition]), *new_carried, padded],
        nodes=tape.nodes,
        name="time_step",
    )


def _onnx_lookup_bidirectional_rnn(ids, lengths, table, weight_hh, bias_hh, cell: str, hidden_size: int):
    _, ir, op, _ = onnx_modules()

    def ints(*values):
        return op.Constant(value_ints=list(values))

    int64 = ir.DataType.INT64
    zero, one = op.Constant(value_int=0), op.Constant(value_int=1)
    rows, width = op.Shape(ids, start=0, end=1), op.Shape(ids, start=1, end=2)  # (1,) each
    sorted_lengths, by_length = op.TopK(lengths, rows, axis=0, largest=1, sorted=1)
    steps = op.ReduceMax(lengths, keepdims=1)  # (1,): the longest row
    time = op.Range(zero, op.Squeeze(steps), one)  # (steps,)
    running = op.Less(op.Unsqueeze(time, ints(0)), op.Unsqueeze(sorted_lengths, ints(1)))  # (rows, steps), sorted
    counts = op.ReduceSum(op.Cast(running, to=int64), ints(0), keepdims=0)  # (steps,): rows longer than t
    ends = op.CumSum(counts, zero)
    # the word each direction reads at time t: position t, and length - 1 - t (clamped where the row has ended)
    sorted_ids = op.Slice(op.Gather(ids, by_length, axis=0), ints(0), steps, ints(1))  # (rows, steps)
    backward = op.Max(op.Sub(op.Sub(op.Unsqueeze(sorted_lengths, ints(1)), one), time), zero)  # (rows, steps)
    vocab = op.Shape(table, start=1, end=2)
    read = op.Concat(
        op.Unsqueeze(sorted_ids, ints(0)),
        op.Unsqueeze(op.Add(op.GatherElements(sorted_ids, backward, axis=1), vocab), ints(0)),
        axis=0,
    )  # (2, rows, steps): rows of the stacked table
    # packed, time-major: time t holds the first counts[t] sorted rows; one lookup for all steps
    time_rank = op.NonZero(op.Transpose(running, perm=[1, 0]))  # (2, packed)
    packed = op.Add(op.Mul(op.Gather(time_rank, zero, axis=0), rows), op.Gather(time_rank, one, axis=0))
    read = op.Gather(op.Reshape(op.Transpose(read, perm=[0, 2, 1]), ints(2, -1)), packed, axis=1)  # (2, packed)
    # The recurrent biases that are simply added join the looked-up projections before the loop (all of LSTM's;
    # GRU's b_hn is multiplied by the reset gate). Being read by an operator of this graph, and not only by the loop
    # body, also lets ONNX Runtime's quantizer dequantize the lookup of an int8 table where it is read.
    gates = 3 * hidden_size if cell == "gru" else 4 * hidden_size
    added_bias, bias_hn = bias_hh, None
    if cell == "gru":
        bias_rz = op.Slice(bias_hh, ints(0), ints(2 * hidden_size), ints(1))
        bias_hn = op.Slice(bias_hh, ints(2 * hidden_size), ints(3 * hidden_size), ints(1))
        added_bias = op.Concat(bias_rz, op.Mul(bias_hn, op.Constant(value_float=0.0)), axis=1)  # [b_hr, b_hz, 0]
    inputs = op.Add(op.Gather(op.Reshape(table, ints(-1, gates)), read), op.Unsqueeze(added_bias, ints(1)))

    def column(values):
        return op.Unsqueeze(values, ints(1))

    zeros = op.Mul(column(counts), zero)
    # per time: start and end in `inputs`, running rows, and Pad's (begin, end) per axis of (2, rows now, hidden),
    # up to rows + 1
    padding = (zeros, zeros, zeros, zeros, column(op.Sub(op.Add(rows, one), counts)), zeros)
    outer = {
        "inputs": inputs,
        "schedule": op.Concat(column(op.Sub(ends, counts)), column(ends), column(counts), *padding, axis=1),
        "schedule_splits": ints(1, 1, 1, 6),
        "weight_hh": op.Transpose(weight_hh, perm=[0, 2, 1]),
        "bias_hn": None if bias_hn is None else op.Unsqueeze(bias_hn, ints(1)),
        "zero": ints(0),
        "axis_1": ints(1),
        "gru_splits": ints(2 * hidden_size, hidden_size),
    }
    carried = 1 if cell == "gru" else 2
    state_shape = op.Concat(ints(2), rows, ints(hidden_size), axis=0)
    initial = [op.ConstantOfShape(state_shape, value=ir.tensor(np.array([0.0], np.float32)))] * carried
    condition = op.Cast(one, to=ir.DataType.BOOL)
    body = _loop_body(cell, hidden_size, outer)
    loop_outputs = _loop(carried + 1)(op.Squeeze(steps), condition, *initial, body=body)
    states = op.Reshape(loop_outputs[-1], ints(-1, hidden_size))  # (steps * 2 * (rows + 1), hidden)

    # Back to the callers' rows and positions, zeros at padded ones, in one gather: output row r, position p of
    # direction d is scanned state [time, d, sorted position of r]; the spare row (time 0, direction 0) is zeros.
    sorted_position = op.ScatterElements(by_length, by_length, op.Range(zero, op.Squeeze(rows), one), axis=0)
    position = op.Range(zero, op.Squeeze(width), one)  # (width,)
    length = op.Unsqueeze(lengths, ints(1))
    real = op.Less(position, length)  # (rows, width)
    spare = op.Squeeze(rows)
    row_stride = op.Add(spare, one)

    def state_index(time_index, direction):
        flat = op.Add(op.Mul(op.Add(op.Mul(time_index, 2), direction), row_stride), column(sorted_position))
        return op.Unsqueeze(op.Where(real, flat, spare), ints(2))

    index = op.Concat(
        state_index(position, 0), state_index(op.Sub(op.Sub(length, one), position), 1), axis=2
    )  # (rows, width, 2)
    outputs = op.Gather(states, index, axis=0)  # (rows, width, 2, hidden)
    return op.Reshape(outputs, op.Concat(rows, width, ints(-1), axis=0))


def _onnx_bidirectional_rnn(inputs, lengths, weight_ih, weight_hh, bias_ih, bias_hh, cell: str, hidden_size: int):
    op = onnx_modules()[2]

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


ONNX_TRANSLATIONS = {
    torch.ops.hf_han.bidirectional_rnn.default: _onnx_bidirectional_rnn,
    torch.ops.hf_han.lookup_bidirectional_rnn.default: _onnx_lookup_bidirectional_rnn,
}


def native_bidirectional(encoder, inputs: Tensor, lengths: Tensor, ids: Tensor | None = None) -> Tensor:
    """
    `HANBidirectionalEncoder` `encoder` over right-padded rows of `lengths` `(rows,)` (at least 1): `inputs`
    `(rows, steps, in)`, or, with `ids` `(rows, steps)`, rows of the embedding matrix `inputs` `(vocab, in)`, whose
    first layer then reads a table of every word's input projection -> `(rows, steps, 2 * hidden)`.
    """
    outputs = inputs
    for layer, (forward_rnn, backward_rnn) in enumerate(zip(encoder.forward_layers, encoder.backward_layers)):
        if layer > 0:
            outputs = encoder.dropout(outputs)
        weight_ih, weight_hh, bias_ih, bias_hh = stacked_directions(forward_rnn, backward_rnn)
        if layer == 0 and ids is not None:
            table = torch.matmul(inputs, weight_ih.transpose(1, 2)) + bias_ih[:, None]  # (2, vocab, gates * H)
            outputs = lookup_bidirectional_rnn(
                ids, lengths, table, weight_hh, bias_hh, encoder.cell, encoder.hidden_size
            )
        else:
            outputs = bidirectional_rnn(
                outputs, lengths, weight_ih, weight_hh, bias_ih, bias_hh, encoder.cell, encoder.hidden_size
            )
    return outputs


__all__ = ["ONNX_TRANSLATIONS", "bidirectional_rnn", "lookup_bidirectional_rnn", "native_bidirectional"]
