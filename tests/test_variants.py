"""The variants: structured attention (Lin et al. 2017), Transformer encoders (Vaswani et al. 2017), CAHAN."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments, pipeline

from hf_han import HANConfig, HANForDocumentClassification, HANTokenizer
from hf_han.attention_han import HANAttention

from conftest import pad_documents, random_documents


TINY = {
    "vocab_size": 99, "embedding_dim": 16, "word_hidden_size": 8, "sentence_hidden_size": 8, "attention_dim": 8,
    "num_labels": 3, "transformer_heads": 2, "transformer_ffn_dim": 32,
}  # fmt: skip
VARIANTS = {
    "transformer": {"word_encoder": "transformer", "sentence_encoder": "transformer", "num_word_layers": 2},
    "transformer_words_gru_sentences": {"word_encoder": "transformer"},
    "structured": {"attention": "structured", "attention_hops": 3, "attention_penalty": 1.0},
    "structured_mean_penalty": {
        "attention": "structured",
        "attention_hops": 2,
        "attention_penalty": 0.3,
        "attention_penalty_normalization": "mean",
    },  # fmt: skip
    "cahan_left_mean": {"context": "left"},
    "cahan_left_sum_gated": {"context": "left", "context_aggregation": "sum", "context_gate": True},
    "cahan_bidirectional": {"context": "bidirectional"},
    "everything": {
        "word_encoder": "transformer",
        "sentence_encoder": "lstm",
        "attention": "structured",
        "attention_hops": 2,
        "attention_penalty": 0.5,
        "context": "bidirectional",
        "context_gate": True,
    },  # fmt: skip
}


def tiny_model(variant: str, seed: int = 0) -> HANForDocumentClassification:
    torch.manual_seed(seed)
    return HANForDocumentClassification(HANConfig(**TINY, **VARIANTS[variant])).eval()


@pytest.fixture(scope="module")
def documents():
    return random_documents(torch.Generator().manual_seed(1), 5, 4, 7, 99)


@pytest.mark.parametrize("variant", VARIANTS)
def test_padding_invariance(variant, documents):
    model = tiny_model(variant)
    with torch.no_grad():
        batch = model(*pad_documents(documents)).logits
        for i, document in enumerate(documents):
            torch.testing.assert_close(model(*pad_documents([document])).logits[0], batch[i], rtol=0, atol=1e-5)
        wider = model(*pad_documents(documents, num_sentences=7, num_words=12)).logits
    torch.testing.assert_close(wider, batch, rtol=0, atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_attentions_are_distributions_over_real_positions(variant, documents):
    model = tiny_model(variant)
    input_ids, mask = pad_documents(documents, num_sentences=5, num_words=9)
    with torch.no_grad():
        output = model(input_ids, mask, output_attentions=True)
    words, sentences = output.word_attentions, output.sentence_attentions
    sentence_mask = mask.bool().any(-1)
    if model.config.attention == "structured":
        hops = model.config.attention_hops
        assert words.shape == (5, 5, hops, 9) and sentences.shape == (5, hops, 5)
        words, sentences = words.transpose(1, 2).flatten(0, 1), sentences.flatten(0, 1)  # hops into the batch
        mask, sentence_mask = mask.repeat_interleave(hops, 0), sentence_mask.repeat_interleave(hops, 0)
    assert torch.all(words[~mask.bool()] == 0) and torch.all(sentences[~sentence_mask] == 0)
    torch.testing.assert_close(words.sum(-1)[sentence_mask], torch.ones(int(sentence_mask.sum())))
    torch.testing.assert_close(sentences.sum(-1), torch.ones(sentences.size(0)))


@pytest.mark.parametrize("variant", VARIANTS)
def test_training_reduces_the_loss(variant):
    model = tiny_model(variant).train()
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(3, 99, (12, 3, 6), generator=generator)
    labels = torch.arange(12) % 3
    input_ids[:, 1, 2] = 1 + labels  # the label's marker word
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses, classification_losses = [], []
    for _ in range(25):
        output = model(input_ids, labels=labels)
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
        losses.append(output.loss.item())
        classification_losses.append(torch.nn.functional.cross_entropy(output.logits, labels).item())
    # the penalty, where there is one, is part of the loss and falls more slowly than the classification part
    assert losses[-1] < 0.8 * losses[0], losses
    assert classification_losses[-1] < 0.6 * classification_losses[0], classification_losses


REMOTE = textwrap.dedent(
    """
    import sys, json
    sys.modules["hf_han"] = None  # hf_han must not be importable here
    import torch
    from transformers import AutoModelForSequenceClassification
    results = {}
    for folder in sys.argv[1:]:
        model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
        with torch.no_grad():
            results[folder] = model(torch.load(folder + "/ids.pt")).logits.tolist()
    print(json.dumps(results))
    """
)


def test_save_load_and_remote_code_equality(tmp_path, documents):
    input_ids, mask = pad_documents(documents)
    expected, folders = {}, []
    for variant in VARIANTS:
        model = tiny_model(variant)
        folder = str(tmp_path / variant)
        model.save_pretrained(folder)
        torch.save(input_ids, folder + "/ids.pt")
        reloaded = AutoModelForSequenceClassification.from_pretrained(folder).eval()
        saved = {k: v for k, v in model.config.to_diff_dict().items() if k != "custom_pipelines"}
        assert reloaded.config.to_diff_dict() == saved
        with torch.no_grad():
            expected[folder] = model(input_ids).logits
            torch.testing.assert_close(reloaded(input_ids).logits, expected[folder], rtol=0, atol=1e-6)
        folders.append(folder)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    result = subprocess.run(
        [sys.executable, "-c", REMOTE, *folders], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    remote = json.loads(result.stdout.strip().splitlines()[-1])
    for folder in folders:
        torch.testing.assert_close(torch.tensor(remote[folder]), expected[folder], rtol=0, atol=1e-6)


def test_the_penalty_matches_a_hand_computation():
    # two hops over three positions: A A^T = [[0.5, 0], [0, 1]], so ||A A^T - I||_F^2 = 0.25
    attention = HANAttention(4, 4, structured=True, hops=2)
    states = torch.randn(3, 4)
    fixed = torch.tensor([[0.5, 0.0], [0.5, 0.0], [0.0, 1.0]]).log()  # the scores whose softmax is A^T
    attention.scores = lambda keys: fixed
    for normalization, expected in (("paper", 0.25), ("mean", 0.25 / 4)):
        attention.penalty_normalization = normalization
        _, weights, penalty = attention(states, torch.zeros(3, dtype=torch.long), 1)
        torch.testing.assert_close(weights, torch.tensor([[0.5, 0.0], [0.5, 0.0], [0.0, 1.0]]))
        assert penalty.item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("variant", ["structured", "structured_mean_penalty", "everything"])
def test_the_reported_penalty_is_the_one_of_the_returned_attentions(variant, documents):
    model = tiny_model(variant)
    input_ids, mask = pad_documents(documents)
    with torch.no_grad():
        output = model(input_ids, mask, output_attentions=True, labels=torch.zeros(5, dtype=torch.long))
        plain_loss = torch.nn.functional.cross_entropy(output.logits, torch.zeros(5, dtype=torch.long))

    def penalty(attentions):  # (segments, hops, positions)
        gram = attentions @ attentions.transpose(1, 2)
        value = (gram - torch.eye(gram.size(-1))).pow(2).sum(dim=(1, 2))
        return (value / gram.size(-1) ** 2 if model.config.attention_penalty_normalization == "mean" else value).mean()

    sentence_mask = mask.bool().any(-1)
    expected = penalty(output.word_attentions[sentence_mask]) + penalty(output.sentence_attentions)
    if model.config.context != "bidirectional":  # bidirectionally the two passes' weights are averaged
        assert output.attention_penalty.item() == pytest.approx(expected.item(), rel=1e-5)
    assert output.loss.item() == pytest.approx(
        plain_loss.item() + model.config.attention_penalty * output.attention_penalty.item(), rel=1e-5
    )


def _with_strong_context(model):
    # freshly initialised context projections are small; scale them so that a context's effect is plain to see
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "context_projection" in name or "context_gate" in name:
                parameter.normal_(std=2.0)
    return model


def _sentence_vectors(model, document):
    with torch.no_grad():
        return model.han(*pad_documents([document])).sentence_vectors[0]


@pytest.mark.parametrize("variant", VARIANTS)
def test_returned_attentions_are_on_the_path_to_the_outputs(variant, documents):
    # gradients reach the attentions a caller gets (attribution), CAHAN's included, and asking for them changes
    # neither the outputs nor the parameters' gradients
    results = []
    for output_attentions in (False, True):
        model = tiny_model(variant)
        outputs = model(*pad_documents(documents), output_attentions=output_attentions)
        if output_attentions:
            for attentions in (outputs.word_attentions, outputs.sentence_attentions):
                attentions.retain_grad()
        outputs.logits[:, 0].sum().backward()
        results.append((outputs, {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}))
    (plain, plain_grads), (explained, explained_grads) = results
    torch.testing.assert_close(explained.logits, plain.logits, rtol=1e-5, atol=1e-6)
    assert plain_grads.keys() == explained_grads.keys()
    for name, grad in plain_grads.items():
        torch.testing.assert_close(explained_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    for attentions in (explained.word_attentions, explained.sentence_attentions):
        assert attentions.grad is not None and attentions.grad.abs().sum() > 0


@pytest.mark.parametrize("aggregation", ["mean", "sum"])
def test_left_to_right_context_sees_only_earlier_sentences(aggregation):
    torch.manual_seed(0)
    config = HANConfig(**TINY, context="left", context_aggregation=aggregation)
    model = _with_strong_context(HANForDocumentClassification(config).eval())
    document = [[5, 6, 7], [8, 9], [10, 11, 12, 13], [14, 15, 16]]
    changed = [sentence[:] for sentence in document]
    changed[2] = [40, 41]
    before, after = _sentence_vectors(model, document), _sentence_vectors(model, changed)
    torch.testing.assert_close(after[:2], before[:2], rtol=0, atol=1e-8)  # sentences before the change
    assert (after[3] - before[3]).abs().max() > 1e-6  # the sentence after it sees it in its context (noise is < 1e-8)

    # the first sentence's context is empty: its vector is plain attention with a zero context
    attention = model.han.word_attention
    with torch.no_grad():
        states = model.han.word_encoder(model.han.word_embeddings(torch.tensor(document[0])), torch.tensor([3]))
        expected, _ = attention.forward_padded(
            attention.projection(states).unsqueeze(0), None, states.unsqueeze(0), torch.ones(1, 3, dtype=torch.bool),
            torch.zeros(1, states.size(-1)),
        )  # fmt: skip
    torch.testing.assert_close(before[0], expected[0])


def test_bidirectional_context_sees_both_sides():
    torch.manual_seed(0)
    model = _with_strong_context(HANForDocumentClassification(HANConfig(**TINY, context="bidirectional")).eval())
    document = [[5, 6, 7], [8, 9], [10, 11, 12, 13], [14, 15, 16]]
    changed = [sentence[:] for sentence in document]
    changed[2] = [40, 41]
    before, after = _sentence_vectors(model, document), _sentence_vectors(model, changed)
    assert before.shape == (4, 4 * TINY["word_hidden_size"])
    width = 2 * TINY["word_hidden_size"]
    torch.testing.assert_close(after[0, :width], before[0, :width], rtol=0, atol=1e-8)  # left pass: unchanged
    assert (after[0, width:] - before[0, width:]).abs().max() > 1e-6  # right-to-left: sentence 2 is in context


@pytest.mark.parametrize(
    ("overrides", "argument"),
    [
        ({"word_encoder": "cnn"}, "word_encoder"),
        ({"attention": "multiplicative"}, "attention"),
        ({"attention_hops": 4}, "attention_hops"),
        ({"attention": "structured", "attention_penalty": -1.0}, "attention_penalty"),
        ({"attention_penalty_normalization": "batch"}, "attention_penalty_normalization"),
        ({"context": "right"}, "context"),
        ({"context_gate": True}, "context_gate"),
        ({"context": "left", "context_aggregation": "max"}, "context_aggregation"),
        ({"context": "left", "context_aggregation": "sum", "context_discount": 0.0}, "context_discount"),
        ({"word_encoder": "transformer", "transformer_heads": 3}, "transformer_heads"),
    ],
)
def test_combinations_that_make_no_sense_raise(overrides, argument):
    with pytest.raises(ValueError, match=argument):
        HANConfig(**overrides)


def test_a_variant_through_trainer_and_the_pipeline(tmp_path):
    texts = ["a great film. i loved it.", "an awful film. i hated it.", "great fun. loved it!", "awful. hated it!"]
    texts = texts * 6
    labels = [0, 1, 0, 1] * 6
    tokenizer = HANTokenizer(max_sentences=4, max_words=6).train_new_from_iterator(texts, 100, show_progress=False)
    config = HANConfig(**{**TINY, "vocab_size": len(tokenizer), "num_labels": 2}, **VARIANTS["everything"])
    model = HANForDocumentClassification(config)
    features = [dict(tokenizer(text), labels=label) for text, label in zip(texts, labels)]
    from hf_han import DataCollatorForDocumentClassification

    args = TrainingArguments(
        output_dir=str(tmp_path / "run"), per_device_train_batch_size=8, max_steps=6, learning_rate=1e-2,
        report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True, dataloader_pin_memory=False,
    )  # fmt: skip
    trainer = Trainer(
        model=model, args=args, train_dataset=features, data_collator=DataCollatorForDocumentClassification()
    )
    result = trainer.train()
    assert result.training_loss > 0
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    explainer = pipeline("document-classification", model=str(tmp_path / "model"))
    explained = explainer(texts[:2], explain=True)
    for text, result in zip(texts, explained):
        assert sum(s["attention"] for s in result["sentences"]) == pytest.approx(1.0, abs=1e-5)
        for sentence in result["sentences"]:
            assert sum(w["attention"] for w in sentence["words"]) == pytest.approx(1.0, abs=1e-5)
            assert all(text[w["start"] : w["end"]] == w["word"] for w in sentence["words"])


@pytest.mark.parametrize("variant", ["han", *VARIANTS])
def test_mixed_precision_autocast(variant, documents):
    # what `--bf16` does in Trainer (on CPU here): every variant must run forward and backward under autocast
    model = tiny_model(variant) if variant != "han" else HANForDocumentClassification(HANConfig(**TINY))
    input_ids, mask = pad_documents(documents)
    model.eval()
    with torch.no_grad():
        full = model(input_ids, mask).logits
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = model(input_ids, mask).logits
    assert (half.float() - full).abs().max() < 0.05  # bf16 keeps about 3 significant digits

    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(input_ids, mask, labels=torch.tensor([0, 1, 2, 0, 1]), output_attentions=True)
    output.loss.backward()
    assert torch.isfinite(output.loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
