"""
HAN's pooling attention over packed positions (Yang et al. 2016, eqs. 5-7 and 8-10), and its structured form with
several hops (Lin et al. 2017). CAHAN's context-aware form extends it in `context_han.py`.
"""

import torch
from torch import nn


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


class HANAttention(nn.Module):
    """
    The pooling attention of one level, over packed positions grouped in segments (sentences or documents).

    - additive (the paper's `u_w`, `u_s`): `u = tanh(W h + b)`, `a = softmax(u . context_vector)`, output `sum a h`;
    - structured (Lin et al. 2017): `A = softmax(W_s2 tanh(W_s1 h))` with `hops` rows, outputs `A H` flattened
      and projected back to `input_size`; `penalty_normalization` selects the form of `||A A^T - I||_F^2`.

    CAHAN's context-aware form extends this class (`context_han.HANContextAttention`).
    """

    def __init__(
        self,
        input_size: int,
        attention_dim: int,
        structured: bool = False,
        hops: int = 1,
        penalty_normalization: str = "paper",
    ):
        super().__init__()
        self.structured, self.hops, self.penalty_normalization = structured, hops, penalty_normalization
        self.projection = nn.Linear(input_size, attention_dim, bias=not structured)  # W, b (W_s1 when structured)
        if structured:
            self.hop_vectors = nn.Linear(attention_dim, hops, bias=False)  # W_s2
        else:
            self.context_vector = nn.Parameter(torch.empty(attention_dim))  # u_w or u_s
        # r pooled vectors are flattened and brought back to the level's width, so the next level is unchanged
        self.hop_projection = nn.Linear(hops * input_size, input_size) if hops > 1 else None

    def scores(self, keys: torch.Tensor) -> torch.Tensor:
        """`(..., attention_dim)` tanh keys to `(..., hops)` scores (hops = 1 for additive attention)."""
        if self.structured:
            return self.hop_vectors(keys)
        # a (attention_dim, 1) matrix: in the ONNX export, ONNX Runtime multiplies by a 1-D vector 13x slower
        return keys @ self.context_vector.unsqueeze(-1)

    def combine(self, pooled: torch.Tensor) -> torch.Tensor:
        """`(segments, hops, input_size)` pooled vectors to `(segments, input_size)`."""
        if self.hop_projection is None:
            return pooled.squeeze(1)
        return self.hop_projection(pooled.flatten(1))

    def penalty(self, gram: torch.Tensor) -> torch.Tensor:
        """`||A A^T - I||_F^2` from the Gram matrices `A A^T` `(segments, hops, hops)`, averaged over segments."""
        identity = torch.eye(self.hops, device=gram.device, dtype=gram.dtype)
        penalty = (gram - identity).pow(2).sum(dim=(1, 2))  # (segments,)
        return (penalty / self.hops**2 if self.penalty_normalization == "mean" else penalty).mean()

    def weights(self, states: torch.Tensor, segments: torch.LongTensor, num_segments: int) -> torch.Tensor:
        """
        The attention weights `a` `(n, hops)` of packed states `(n, input_size)` of real positions only, whose
        segment (sentence or document) is `segments` `(n,)` in `[0, num_segments)`; they sum to 1 within each
        segment for every hop.
        """
        keys = torch.tanh(self.projection(states))  # u = tanh(W h + b): (n, attention_dim)
        if not self.structured:  # the paper's attention, kept on 1-D scores: it is the common, fast path
            scores = (keys @ self.context_vector).float()  # u . u_w: (n,)
            return segment_softmax(scores, segments, num_segments).to(states.dtype).unsqueeze(1)
        return segment_softmax(self.scores(keys).float(), segments, num_segments).to(states.dtype)

    def pool(
        self, states: torch.Tensor, weights: torch.Tensor, segments: torch.LongTensor, num_segments: int
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """
        `sum a h` over each segment: pooled `(num_segments, input_size)` from states `(n, input_size)` and their
        weights `(n, hops)`, and the penalty (a scalar, structured attention only, else `None`).
        """
        if not self.structured:
            pooled = states.new_zeros(num_segments, states.size(-1)).index_add(0, segments, weights * states)
            return pooled, None  # (segments, input_size)
        pooled = states.new_zeros(num_segments, self.hops, states.size(-1))
        pooled = pooled.index_add(0, segments, weights.unsqueeze(2) * states.unsqueeze(1))  # (segments, hops, in)
        # A A^T of each segment is the sum over its positions of the outer products of their weight columns
        gram = weights.new_zeros(num_segments, self.hops, self.hops)
        gram = gram.index_add(0, segments, weights.unsqueeze(2) * weights.unsqueeze(1))
        return self.combine(pooled), self.penalty(gram)

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
        weights = self.weights(states, segments, num_segments)
        pooled, penalty = self.pool(states, weights, segments, num_segments)
        return pooled, weights, penalty


__all__ = ["HANAttention", "segment_softmax"]
