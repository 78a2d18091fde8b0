"""
Context-aware word attention (CAHAN, Remy et al. 2019): the word attention of sentence i also sees a context
vector built from the other sentence vectors of its document.

    u_it = tanh(W_w h_it + W_c c_i + b)                                               standard
    l_it = sigmoid(W_l h_it + W_lc c_i + b_l);  u_it = tanh(l_it * (W_w h_it + b) + (1 - l_it) * W_c c_i)   gated

with `c_i` the mean (or discounted sum) of s_1 .. s_{i-1} (left to right) and, bidirectionally, of
s_{i+1} .. s_L in a second pass. The word encoder has run once over all sentences; only the attention scans the
sentence positions, each step serving that position in every document of the batch at once.
"""

from collections.abc import Callable

import torch
from torch import nn

from .attention_han import HANAttention


class HANContextAttention(HANAttention):
    """
    [`HANAttention`] whose keys also see a context vector `c` of their segment: `W_c c` is added to the projected
    states, or mixed with them through a learned gate (`gated`).

    Args:
        input_size, attention_dim, structured, hops, penalty_normalization: as for [`HANAttention`].
        context_size (`int`): the width of the context vectors.
        gated (`bool`): CAHAN's gated form instead of the sum.
    """

    def __init__(
        self,
        input_size: int,
        attention_dim: int,
        context_size: int,
        gated: bool = False,
        structured: bool = False,
        hops: int = 1,
        penalty_normalization: str = "paper",
    ):
        super().__init__(input_size, attention_dim, structured, hops, penalty_normalization)
        self.context_projection = nn.Linear(context_size, attention_dim, bias=False)  # W_c
        if gated:
            self.gate = nn.Linear(input_size, attention_dim)  # W_l, b_l
            self.context_gate = nn.Linear(context_size, attention_dim, bias=False)  # W_lc
        self.gated = gated

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
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))  # each segment has a real position
        weights = scores.softmax(dim=-1).to(states.dtype)
        return self.combine(weights @ states), weights

    def attend_in_context(
        self,
        word_states: torch.Tensor,
        real_word_mask: torch.BoolTensor,
        sentence_document: torch.LongTensor,
        document_lengths: torch.LongTensor,
        aggregation: str,
        discount: float,
        backward: "HANContextAttention | None" = None,
        through: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """
        CAHAN word attention over all real sentences of a batch: this module's left-to-right pass, and with
        `backward` a right-to-left pass through that module.

        Args:
            word_states: `(n_words, 2 * word_hidden)` packed word states.
            real_word_mask: `(n_sentences, words)`, the real words of each real sentence.
            sentence_document: `(n_sentences,)`, each sentence's document, in order.
            document_lengths: `(batch,)`, real sentences per document.
            aggregation: `"mean"` or `"sum"` (discounted by `discount` per sentence of distance).
            through: maps the packed word weights `(n_words, hops)` to the caller's layout of them and the same
                values read back (`HANModel._attentions_through_layout`). The sentence vectors are then pooled
                again with the weights read back, so that the attentions the caller returns lie on the path to the
                outputs and gradients reach them, as with the other variants. The pooling inside the scan still
                feeds the context vectors, so parameter gradients are unchanged.

        Returns:
            sentence vectors `(n_sentences, 2 * word_hidden)` (`4 * word_hidden` with `backward`: `[s^->; s^<-]`),
            word weights `(n_words, hops)` (the mean of both passes with `backward`; with `through`, their layout
            as `through` returns it), and the penalty (structured attention) or `None`.
        """
        num_words = word_states.size(0)
        # a padded (n_sentences, words, features) view of the packed states; row n_words of `source` is zeros
        source = torch.cat([word_states, word_states.new_zeros(1, word_states.size(1))])
        index = torch.full_like(real_word_mask, num_words, dtype=torch.long)
        index[real_word_mask] = torch.arange(num_words, device=word_states.device)
        states = source[index]  # (n_sentences, words, 2 * word_hidden)
        document_starts = torch.cumsum(document_lengths, 0) - document_lengths
        rank = torch.arange(len(sentence_document), device=states.device) - document_starts[sentence_document]

        passes = [(self, rank)]
        if backward is not None:
            passes.append((backward, document_lengths[sentence_document] - 1 - rank))
        vectors, weights, penalties = [], [], []
        for attention, position in passes:
            pass_vectors, pass_weights = attention._context_pass(
                states, real_word_mask, sentence_document, position, len(document_lengths), aggregation, discount
            )
            vectors.append(pass_vectors)
            weights.append(pass_weights)
            if attention.structured:
                penalties.append(attention.penalty(pass_weights @ pass_weights.transpose(1, 2)))
        mean = torch.stack(weights).mean(dim=0)  # (n_sentences, hops, words)
        packed_weights = mean.transpose(1, 2)[real_word_mask]  # (n_words, hops)
        penalty = torch.stack(penalties).mean() if penalties else None
        if through is None:
            return torch.cat(vectors, dim=-1), packed_weights, penalty
        layout, packed_weights = through(packed_weights)
        read_back = mean.new_zeros(mean.transpose(1, 2).shape).index_put((real_word_mask,), packed_weights)
        read_back = read_back.transpose(1, 2)  # (n_sentences, hops, words), the values of `mean`
        # each pass's weights as the read-back mean plus their difference from it: the same numbers, and pooled
        # through the returned layout (a single pass is the mean itself)
        vectors = [
            attention.combine((read_back if len(passes) == 1 else read_back + (pass_weights - mean)) @ states)
            for (attention, _), pass_weights in zip(passes, weights)
        ]
        return torch.cat(vectors, dim=-1), layout, penalty

    def _context_pass(
        self,
        states: torch.Tensor,
        mask: torch.BoolTensor,
        sentence_document: torch.LongTensor,
        position: torch.LongTensor,
        batch_size: int,
        aggregation: str,
        discount: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass: sentences in order of `position` `(n_sentences,)`, each seeing the ones before it."""
        keys = self.projection(states)  # (n_sentences, words, attention_dim)
        gate_keys = self.gate(states) if self.gated else None
        running = states.new_zeros(batch_size, states.size(-1))  # sum (possibly discounted) of the seen vectors
        seen = states.new_zeros(batch_size)
        discount = discount if aggregation == "sum" else 1.0
        order = torch.argsort(position, stable=True)
        steps = torch.bincount(position).tolist()  # sentences at each position, over the batch
        vectors, weights = [], []
        for rows in order.split(steps):
            documents = sentence_document[rows]
            context = running[documents]  # (rows, 2 * word_hidden); zeros for a document's first sentence
            if aggregation == "mean":
                context = context / seen[documents].clamp(min=1).unsqueeze(1)
            step_vectors, step_weights = self.forward_padded(
                keys[rows], None if gate_keys is None else gate_keys[rows], states[rows], mask[rows], context
            )
            # under autocast the step's vectors may be half precision; the running context stays in the states' dtype
            running = (running * discount).index_add(0, documents, step_vectors.to(running.dtype))
            seen = seen.index_add(0, documents, torch.ones_like(documents, dtype=seen.dtype))
            vectors.append(step_vectors)
            weights.append(step_weights)
        restore = torch.argsort(order)
        return torch.cat(vectors)[restore], torch.cat(weights)[restore]


__all__ = ["HANContextAttention"]
