"""
`transformers`' own `ModelTesterMixin` and `ConfigTester`, run for HAN: the paper's model, three variants (CAHAN among
them) and HAN over a (tiny, random) pretrained BERT.
"""

import json
import unittest
from unittest import mock

import torch
from transformers import BertConfig

from hf_han import HANConfig, HANForDocumentClassification, HANModel

from transformers_sdist import load_common_tests


modeling_common, configuration_common = load_common_tests()


class HANModelTester:
    """A tiny seeded HAN and a batch of 3 documents x 4 sentences x 7 words, with padding in words and sentences."""

    def __init__(
        self,
        parent,
        batch_size=3,
        num_sentences=4,
        num_words=7,
        vocab_size=99,
        embedding_dim=16,
        word_hidden_size=8,
        sentence_hidden_size=8,
        attention_dim=16,
        num_labels=3,
        **variant,
    ):
        self.parent = parent
        self.batch_size, self.num_sentences, self.num_words = batch_size, num_sentences, num_words
        self.vocab_size, self.num_labels, self.variant = vocab_size, num_labels, variant
        self.sizes = dict(
            embedding_dim=embedding_dim,
            word_hidden_size=word_hidden_size,
            sentence_hidden_size=sentence_hidden_size,
            attention_dim=attention_dim,
        )
        self.is_training = True
        # What the common tests read: `hidden_states[0]` is the word level, `(batch, sentences, words, width)`, so its
        # last two axes are the words and the word encoder's width; `hidden_states` holds the word and the sentence
        # level; one encoder layer per level.
        self.seq_length = num_words
        self.hidden_size = 2 * word_hidden_size
        self.expected_num_hidden_layers = 2
        self.num_hidden_layers = 2
        self.num_attention_heads = 2

    def get_config(self) -> HANConfig:
        return HANConfig(
            vocab_size=self.vocab_size,
            num_labels=self.num_labels,
            transformer_heads=self.num_attention_heads,
            transformer_ffn_dim=32,
            **self.sizes,
            **self.variant,
        )

    def prepare_config_and_inputs(self):
        generator = torch.Generator().manual_seed(0)
        shape = (self.batch_size, self.num_sentences, self.num_words)
        input_ids = torch.randint(1, self.vocab_size, shape, generator=generator)
        # each document keeps at least one sentence and each sentence at least one word, the rest is padding
        sentences = torch.randint(1, self.num_sentences + 1, (self.batch_size, 1), generator=generator)
        words = torch.randint(1, self.num_words + 1, shape[:2] + (1,), generator=generator)
        attention_mask = (torch.arange(self.num_words) < words) & (torch.arange(self.num_sentences) < sentences)[
            ..., None
        ]
        attention_mask = attention_mask.long()
        labels = torch.randint(self.num_labels, (self.batch_size,), generator=generator)
        return self.get_config(), input_ids * attention_mask, attention_mask, labels

    def prepare_config_and_inputs_for_common(self):
        config, input_ids, attention_mask, _ = self.prepare_config_and_inputs()
        return config, {"input_ids": input_ids, "attention_mask": attention_mask}


class HANModelTest(modeling_common.ModelTesterMixin, unittest.TestCase):
    all_model_classes = (HANModel, HANForDocumentClassification)
    variant: dict = {}

    def setUp(self):
        self.model_tester = HANModelTester(self, **self.variant)
        self.config_tester = configuration_common.ConfigTester(
            self, config_class=HANConfig, vocab_size=99, embedding_dim=16, word_hidden_size=8, **self.variant
        )

    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        inputs_dict = super()._prepare_for_class(inputs_dict, model_class, return_labels=return_labels)
        # transformers adds labels for the heads it knows by name; HAN's head is registered, not built in
        if return_labels and model_class is HANForDocumentClassification:
            inputs_dict["labels"] = torch.zeros(self.model_tester.batch_size, dtype=torch.long)
        return inputs_dict

    def test_config(self):
        self.config_tester.run_common_tests()

    def test_training(self):
        # the upstream test leaves out base models by their built-in names; HANModel is registered, not built in
        with mock.patch.object(self, "all_model_classes", (HANForDocumentClassification,)):
            super().test_training()

    # the same for the gradient checkpointing tests, which compute HANModel's (absent) loss otherwise
    def test_training_gradient_checkpointing(self):
        with mock.patch.object(self, "all_model_classes", (HANForDocumentClassification,)):
            super().test_training_gradient_checkpointing()

    def test_training_gradient_checkpointing_use_reentrant_false(self):
        with mock.patch.object(self, "all_model_classes", (HANForDocumentClassification,)):
            super().test_training_gradient_checkpointing_use_reentrant_false()

    def test_training_gradient_checkpointing_use_reentrant_true(self):
        with mock.patch.object(self, "all_model_classes", (HANForDocumentClassification,)):
            super().test_training_gradient_checkpointing_use_reentrant_true()

    def test_attention_outputs(self):
        self.skipTest(
            "HAN's attentions are pooling weights per level, (batch, sentences, words) and (batch, sentences), not "
            "(heads, queries, keys) maps of self-attention layers; tests/test_modeling_han.py checks them."
        )


class HANStructuredAttentionModelTest(HANModelTest):
    variant = {"attention": "structured", "attention_hops": 2, "attention_penalty": 0.5}


class HANTransformerEncodersModelTest(HANModelTest):
    variant = {"word_encoder": "transformer", "sentence_encoder": "transformer"}


class HANPretrainedWordEncoderModelTest(HANModelTest):
    encoder = BertConfig(
        vocab_size=99, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=20,
        max_position_embeddings=16, pad_token_id=0,
    )  # fmt: skip
    # the nested configuration as a saved config.json holds it, so that the config tester's round trips compare alike
    variant = {
        "word_encoder": "pretrained",
        "word_encoder_config": json.loads(
            HANConfig(vocab_size=99, word_encoder="pretrained", word_encoder_config=encoder).to_json_string()
        )["word_encoder_config"],
    }


class HANContextAwareModelTest(HANModelTest):
    # CAHAN's bidirectional, gated form: two passes whose mean the model returns as its word attentions
    variant = {"context": "bidirectional", "context_gate": True}
