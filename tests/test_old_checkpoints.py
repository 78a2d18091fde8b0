"""Checkpoints written by an older hf-han (see tests/fixtures/make_checkpoints.py) load and give the same outputs."""

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from hf_han import HANForDocumentClassification, HANTokenizer


CHECKPOINTS = Path(__file__).parent / "fixtures" / "checkpoints"
MODELS = sorted(path.name for path in CHECKPOINTS.iterdir() if (path / "model.safetensors").is_file())


def test_every_variant_has_a_checkpoint():
    assert MODELS == ["cahan", "han", "lstm_two_layers", "structured", "transformer"]


@pytest.mark.parametrize("name", MODELS)
def test_old_checkpoints_load_with_identical_outputs(name):
    folder = CHECKPOINTS / name
    expected = json.loads((folder / "expected.json").read_text())
    input_ids, attention_mask = torch.tensor(expected["input_ids"]), torch.tensor(expected["attention_mask"])
    for loader in (HANForDocumentClassification, AutoModelForSequenceClassification):
        model = loader.from_pretrained(folder).eval()
        assert type(model) is HANForDocumentClassification
        with torch.no_grad():
            output = model(input_ids, attention_mask, output_attentions=True)
        torch.testing.assert_close(output.logits, torch.tensor(expected["logits"]), rtol=0, atol=1e-6)
        for key in ("word_attentions", "sentence_attentions"):
            torch.testing.assert_close(getattr(output, key), torch.tensor(expected[key]), rtol=0, atol=1e-6)


def test_old_tokenizer_loads_with_identical_encodings():
    folder = CHECKPOINTS / "tokenizer"
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    for loader in (HANTokenizer, AutoTokenizer):
        tokenizer = loader.from_pretrained(folder)
        assert type(tokenizer) is HANTokenizer
        encoding = tokenizer(expected["documents"], return_offsets_mapping=True, truncation=True)
        assert encoding["input_ids"] == expected["input_ids"]
        assert encoding["attention_mask"] == expected["attention_mask"]
        offsets = [
            [[list(span) for span in sentence] for sentence in document] for document in encoding["offset_mapping"]
        ]
        assert offsets == expected["offset_mapping"]
