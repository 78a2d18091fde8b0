"""Packed sequences (rows laid end to end, no padding) and their right-padded length buckets."""

from dataclasses import dataclass

import torch


def length_buckets(sorted_lengths: list[int], step_cost: float = 16.0) -> list[tuple[int, int]]:
    """
    Cut rows sorted by decreasing length into contiguous buckets `(start, end)`, each padded only to its own
    longest row, minimising `sum(bucket_steps * (step_cost + bucket_rows))`: padding costs compute, and every
    time step of an encoder has a fixed cost worth about `step_cost` rows. Exact, by dynamic programming over the
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


@dataclass
class PaddedBlocks:
    """
    Where the steps of packed rows go in right-padded blocks of similar length, and back.

    Attributes:
        shapes: `(block_rows, block_steps)` of each block; the blocks, flattened and laid end to end, hold
            `sum(rows * steps)` positions.
        masks: `(block_rows, block_steps)` bool per block, True at real steps.
        gather: `(positions,)`, the packed step each block position reads; `total_steps` (one past the last step)
            at padding, so that the packed tensor is gathered with a zero row appended.
        take: `(total_steps,)`, the block position of each packed step: the inverse of `gather` on real steps.
        gather_reversed, take_reversed: the same with every row read backwards within its own length (for the
            backward direction of a recurrence), or `None`.
    """

    shapes: list[torch.Size]
    masks: list[torch.BoolTensor]
    gather: torch.LongTensor
    take: torch.LongTensor
    gather_reversed: torch.LongTensor | None = None
    take_reversed: torch.LongTensor | None = None

    @classmethod
    def build(cls, lengths: torch.LongTensor, step_cost: float, reversed_rows: bool = False) -> "PaddedBlocks":
        """Blocks for rows of `lengths` `(rows,)` (each at least 1), cut by `length_buckets(..., step_cost)`."""
        total_steps = int(lengths.sum())
        row_starts = torch.cumsum(lengths, 0) - lengths
        # bucket boundaries are host-side decisions; one small transfer per call on an accelerator
        sorted_lengths, by_length = torch.sort(lengths.cpu(), descending=True, stable=True)
        sorted_lengths = sorted_lengths.tolist()
        by_length = by_length.to(lengths.device)
        shapes, masks, positions, offset = [], [], [], 0
        gathers = {False: [], True: []} if reversed_rows else {False: []}
        for start, end in length_buckets(sorted_lengths, step_cost):
            rows = by_length[start:end]
            steps = torch.arange(sorted_lengths[start], device=lengths.device).unsqueeze(0)  # (1, block_steps)
            row_start, row_length = row_starts[rows].unsqueeze(1), lengths[rows].unsqueeze(1)  # (block_rows, 1)
            real = steps < row_length  # (block_rows, block_steps)
            gathers[False].append(torch.where(real, row_start + steps, total_steps))
            if reversed_rows:
                gathers[True].append(torch.where(real, row_start + row_length - 1 - steps, total_steps))
            shapes.append(real.shape)
            masks.append(real)
            positions.append(offset + real.flatten().nonzero().squeeze(1))
            offset += real.numel()
        positions = torch.cat(positions)  # (total_steps,) the real block positions, block after block
        indices = {}
        for reverse, blocks in gathers.items():
            gather = torch.cat([block.flatten() for block in blocks])
            # the real block positions, in block order, read these packed steps; invert that to take them back
            read = torch.cat([block[mask] for block, mask in zip(blocks, masks)])
            indices[reverse] = (gather, positions.new_empty(total_steps).index_copy_(0, read, positions))
        return cls(shapes, masks, *indices[False], *(indices[True] if reversed_rows else (None, None)))


__all__ = ["PaddedBlocks", "length_buckets"]
