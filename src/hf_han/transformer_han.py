"""Transformer encoders (Vaswani et al., 2017) over packed sequences, in place of HAN's bidirectional GRUs."""

import math

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

from .packing_han import PaddedBlocks


class HANTransformerLayer(GradientCheckpointingLayer):
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

        # attention costs grow with the square of the block length, so blocks are cut more finely than for GRUs
        blocks = PaddedBlocks.build(lengths, step_cost=4.0)
        source = torch.cat([hidden, hidden.new_zeros(1, self.width)])  # row `total_steps` is zeros
        outputs = []
        for block_gather, real in zip(blocks.gather.split([shape.numel() for shape in blocks.shapes]), blocks.masks):
            block = source.index_select(0, block_gather).view(*real.shape, self.width)  # (rows, steps, width)
            for layer in self.layers:
                block = layer(block, real)
            outputs.append(block.flatten(0, 1))
        return self.final_norm(torch.cat(outputs).index_select(0, blocks.take))


__all__ = ["HANTransformerEncoder", "HANTransformerLayer"]
