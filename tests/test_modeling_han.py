"""Behaviour of HANConfig, HANModel and HANForDocumentClassification that users rely on."""

import ast
import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

from hf_han import HANConfig, HANForDocumentClassification, HANModel
from hf_han.recurrence_han import HANBidirectionalEncoder, bidirectional_reference

from conftest import pad_documents, random_documents


def tiny_config(**overrides) -> HANConfig:
    values = dict(
        vocab_size=99,
        embedding_dim=16,
        word_hidden_size=16,
        sentence_hidden_size=16,
        attention_dim=16,
        hidden_dropout=0.0,
        classifier_dropout=0.0,
        num_labels=3,
    )
    values.update(overrides)
    return HANConfig(**values)


ENCODER_SETTINGS = [
    {},
    {"word_encoder": "lstm", "sentence_encoder": "lstm"},
    {"num_word_layers": 2, "num_sentence_layers": 2},
]


# ---------------------------------------------------------------- shapes and outputs


def test_output_shapes_and_fields():
    config = tiny_config()
    input_ids = torch.randint(1, 99, (3, 4, 7))
    base = HANModel(config).eval()
    out = base(input_ids, output_attentions=True)
    assert out.document_vector.shape == (3, 32)
    assert out.sentence_states.shape == (3, 4, 32)
    assert out.sentence_vectors.shape == (3, 4, 32)
    assert out.word_attentions.shape == (3, 4, 7)
    assert out.sentence_attentions.shape == (3, 4)

    head = HANForDocumentClassification(config).eval()
    out = head(input_ids, labels=torch.tensor([0, 1, 2]))
    assert out.logits.shape == (3, 3)
    assert out.loss.shape == ()
    # attentions only on request, so Trainer's evaluation gathers logits alone
    assert out.word_attentions is None and out.sentence_attentions is None
    as_tuple = head(input_ids, labels=torch.tensor([0, 1, 2]), return_dict=False)
    assert len(as_tuple) == 2 and torch.equal(as_tuple[1], out.logits)


@pytest.mark.parametrize("variant", [{}, {"attention": "structured", "attention_hops": 2}], ids=["han", "structured"])
def test_hidden_states_and_attentions_lie_on_the_path_to_the_logits(variant):
    """Hidden states and attentions are the tensors the model computed on: gradients reach them, for attribution."""
    input_ids, attention_mask = pad_documents([[[5, 6, 7], [8, 9]], [[10], [11, 12, 13, 14], [15]]])
    model = HANForDocumentClassification(tiny_config(**variant)).eval()
    out = model(input_ids, attention_mask, output_attentions=True, output_hidden_states=True)
    word_states, sentence_states = out.hidden_states
    assert word_states.shape == (2, 3, 4, 32) and sentence_states.shape == (2, 3, 32)
    assert out.attentions == (out.word_attentions, out.sentence_attentions)
    tensors = [word_states, sentence_states, out.word_attentions, out.sentence_attentions]
    for tensor in tensors:
        tensor.retain_grad()
    out.logits[:, 0].sum().backward()
    word_mask, sentence_mask = attention_mask.bool(), attention_mask.bool().any(-1)
    word_grad = out.word_attentions.grad
    if word_grad.dim() == 4:  # hops
        word_grad, sentence_grad = word_grad.abs().sum(2), out.sentence_attentions.grad.abs().sum(1)
    else:
        sentence_grad = out.sentence_attentions.grad
    state_grads = word_states.grad.abs().sum(-1), sentence_states.grad.abs().sum(-1)
    pairs = zip((*state_grads, word_grad, sentence_grad), (word_mask, sentence_mask, word_mask, sentence_mask))
    for grad, real in pairs:
        assert torch.all(grad[~real] == 0) and torch.all(grad[real] != 0)
    # the same numbers as without the outputs
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids, attention_mask).logits, out.logits, rtol=0, atol=0)


def test_output_hidden_states_from_the_config_and_as_tuples():
    input_ids = torch.randint(1, 99, (3, 4, 7))
    model = HANModel(tiny_config(output_hidden_states=True)).eval()
    with torch.no_grad():
        out = model(input_ids)
        assert len(out.hidden_states) == 2 and torch.equal(out.hidden_states[1], out.sentence_states)
        as_tuple = model(input_ids, return_dict=False, output_attentions=True)
    assert len(as_tuple) == 6  # document vector, sentence states and vectors, hidden states, both attentions
    assert as_tuple[3][0].shape == (3, 4, 7, 32) and as_tuple[4].shape == (3, 4, 7)


def test_the_standard_config_names_are_the_model_s_own():
    config = tiny_config(word_encoder="transformer", transformer_heads=4, num_word_layers=2)
    assert config.hidden_size == 2 * config.sentence_hidden_size == 32
    assert config.num_hidden_layers == 3 and config.num_attention_heads == 4
    with pytest.raises(AttributeError, match="hidden_size is derived: 2 \\* sentence_hidden_size"):
        config.hidden_size = 64


# ---------------------------------------------------------------- padding invariance


@pytest.mark.parametrize("settings", ENCODER_SETTINGS, ids=["gru", "lstm", "two-layers"])
def test_padding_invariance(settings):
    generator = torch.Generator().manual_seed(1)
    # enough sentences of spread-out lengths that the encoder cuts several length buckets
    documents = random_documents(generator, num_documents=9, max_sentences=12, max_words=40, vocab_size=99)
    model = HANForDocumentClassification(tiny_config(**settings)).eval()

    with torch.no_grad():
        alone = torch.cat([model(*pad_documents([document])).logits for document in documents])
        batched = model(*pad_documents(documents)).logits
        padded_more = model(*pad_documents(documents, num_sentences=17, num_words=53)).logits
        reversed_batch = model(*pad_documents(documents[::-1])).logits.flip(0)
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(padded_more, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(reversed_batch, alone, atol=1e-5, rtol=0)


def test_padding_anywhere_is_ignored():
    """Masked words and sentences may sit anywhere, not only at the end: only the real ones count."""
    model = HANForDocumentClassification(tiny_config()).eval()
    input_ids, attention_mask = pad_documents([[[5, 6, 7], [8, 9]]])
    holey_ids = torch.tensor([[[0, 0, 0, 0], [5, 42, 6, 7], [0, 0, 0, 0], [8, 9, 17, 0]]])
    holey_mask = torch.tensor([[[0, 0, 0, 0], [1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 0, 0]]])
    with torch.no_grad():
        expected = model(input_ids, attention_mask).logits
        got = model(holey_ids, holey_mask, output_attentions=True)
    torch.testing.assert_close(got.logits, expected, atol=1e-5, rtol=0)
    assert torch.all(got.word_attentions[holey_mask == 0] == 0)
    assert torch.all(got.sentence_attentions[0, [0, 2]] == 0)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_both_encoder_paths_equal_the_library_cells_row_by_row(cell, num_layers):
    """The CPU path (time-major packed, directions batched) and the bucketed path compute `nn.GRU` / `nn.LSTM`."""
    encoder = HANBidirectionalEncoder(cell, input_size=7, hidden_size=5, num_layers=num_layers, dropout=0.0)
    for parameter in encoder.parameters():
        torch.nn.init.normal_(parameter, std=0.5)
    lengths = torch.tensor([3, 1, 6, 6, 2, 5, 1])
    vectors = torch.randn(9, 7, requires_grad=True)
    index = torch.randint(0, 9, (int(lengths.sum()),))  # steps share vectors, as repeated words do
    parameters = [vectors, *encoder.parameters()]

    expected = bidirectional_reference(encoder, vectors[index], lengths)
    expected_grads = torch.autograd.grad(expected.pow(2).sum(), parameters)
    for states in (
        encoder._forward_packed(vectors, lengths, index),
        encoder._forward_bucketed(vectors[index], lengths),
    ):
        torch.testing.assert_close(states, expected, atol=1e-5, rtol=0)
        for grad, expected_grad in zip(torch.autograd.grad(states.pow(2).sum(), parameters), expected_grads):
            torch.testing.assert_close(grad, expected_grad, atol=1e-4, rtol=0)


def test_embedding_dropout_masks_every_occurrence_in_training():
    """With embedding dropout, training reads each word occurrence on its own; evaluation projects each word once."""
    model = HANForDocumentClassification(tiny_config(embedding_dropout=0.5))
    input_ids = torch.randint(1, 5, (2, 3, 6))  # few distinct words, each seen often
    model.train()
    first, second = model(input_ids).logits, model(input_ids).logits
    assert not torch.allclose(first, second)
    model.eval()
    with torch.no_grad():  # the words the documents share are projected once, for both: nothing leaks between them
        torch.testing.assert_close(model(input_ids[:1]).logits, model(input_ids).logits[:1], atol=1e-6, rtol=0)
    generator = torch.Generator().manual_seed(3)
    input_ids, labels, _ = _separable_task("single_label_classification", generator)
    model = HANForDocumentClassification(tiny_config(embedding_dropout=0.2, num_labels=2)).train()
    losses = _train(model, input_ids, labels)
    assert losses[-1] < 0.5 * losses[0], losses


# ---------------------------------------------------------------- attention normalisation


def test_attentions_are_distributions_over_real_positions():
    generator = torch.Generator().manual_seed(2)
    documents = random_documents(generator, num_documents=6, max_sentences=5, max_words=9, vocab_size=99)
    documents.append([[7]])  # a one-word document
    input_ids, attention_mask = pad_documents(documents)
    model = HANModel(tiny_config()).eval()
    with torch.no_grad():
        out = model(input_ids, attention_mask, output_attentions=True)

    word_mask = attention_mask.bool()
    sentence_mask = word_mask.any(-1)
    assert not torch.isnan(out.word_attentions).any() and not torch.isnan(out.document_vector).any()
    torch.testing.assert_close(out.word_attentions.sum(-1)[sentence_mask], torch.ones(int(sentence_mask.sum())))
    assert torch.all(out.word_attentions[~word_mask] == 0)
    torch.testing.assert_close(out.sentence_attentions.sum(-1), torch.ones(len(documents)))
    assert torch.all(out.sentence_attentions[~sentence_mask] == 0)
    assert out.word_attentions[-1, 0, 0] == 1 and out.sentence_attentions[-1, 0] == 1
    assert torch.all(out.sentence_states[~sentence_mask] == 0)


# ---------------------------------------------------------------- save, load, remote code


def test_save_and_load_give_identical_logits(tmp_path):
    model = HANForDocumentClassification(tiny_config()).eval()
    input_ids = torch.randint(1, 99, (3, 4, 7))
    model.save_pretrained(tmp_path)

    files = set(os.listdir(tmp_path))
    assert "model.safetensors" in files and not any(name.endswith(".bin") for name in files)
    assert {"configuration_han.py", "modeling_han.py"} <= files
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert set(auto_map) == {"AutoConfig", "AutoModel", "AutoModelForSequenceClassification"}

    for loader in (HANForDocumentClassification, AutoModelForSequenceClassification):
        loaded = loader.from_pretrained(tmp_path).eval()
        assert type(loaded) is HANForDocumentClassification
        with torch.no_grad():
            assert torch.equal(loaded(input_ids).logits, model(input_ids).logits)
        # _init_weights must not touch loaded weights, bare parameters and recurrent cells included
        for (name, expected), (_, got) in zip(model.state_dict().items(), loaded.state_dict().items()):
            assert torch.equal(expected, got), name

    # the base model loads from a head's checkpoint through base_model_prefix
    base = AutoModel.from_pretrained(tmp_path).eval()
    assert type(base) is HANModel
    with torch.no_grad():
        assert torch.equal(base(input_ids).document_vector, model.han(input_ids).document_vector)
    assert type(AutoConfig.from_pretrained(tmp_path)) is HANConfig


REMOTE_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["hf_han"] = None  # hf_han must not be importable here
    try:
        import hf_han
    except ImportError:
        pass
    else:
        raise SystemExit("hf_han is importable")
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification
    folder = sys.argv[1]
    input_ids = torch.load(folder + "/ids.pt")
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    base = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    with torch.no_grad():
        torch.save({"logits": model(input_ids).logits, "document_vector": base(input_ids).document_vector},
                   folder + "/remote.pt")
    # the model's code is the model's: no training code travels with it
    training = [name for name in sys.modules if name.startswith(("transformers.trainer", "transformers.training"))]
    assert not training, training
    # saved again where hf_han is absent, its (folded) code travels on unchanged and loads again
    model.save_pretrained(folder + "/resaved")
    again = AutoModelForSequenceClassification.from_pretrained(folder + "/resaved", trust_remote_code=True).eval()
    with torch.no_grad():
        assert torch.equal(again(input_ids).logits, model(input_ids).logits)
    for name in ("configuration_han.py", "modeling_han.py", "pipeline_han.py"):
        assert open(folder + "/" + name).read() == open(folder + "/resaved/" + name).read(), name
    """
)


def test_remote_code_load_without_the_package(tmp_path):
    model = HANForDocumentClassification(tiny_config()).eval()
    input_ids = torch.randint(1, 99, (3, 4, 7))
    model.save_pretrained(tmp_path)
    torch.save(input_ids, tmp_path / "ids.pt")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_SCRIPT, str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # the code files its configs name, each holding the package modules it needs (remote_code_han.py)
    saved_code = {path.name for path in tmp_path.glob("*.py")}
    assert saved_code == {"configuration_han.py", "modeling_han.py", "pipeline_han.py"}
    for code_file in tmp_path.glob("*.py"):  # nor does any saved code file import it
        for node in ast.walk(ast.parse(code_file.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
                assert not any("Trainer" in name or "trainer" in name for name in names), (code_file.name, names)
    remote = torch.load(tmp_path / "remote.pt")
    with torch.no_grad():
        assert torch.equal(remote["logits"], model(input_ids).logits)
        assert torch.equal(remote["document_vector"], model.han(input_ids).document_vector)


# ---------------------------------------------------------------- training


def _separable_task(problem_type: str, generator: torch.Generator):
    """Documents whose label is given by which of two marker words they contain."""
    input_ids = torch.randint(3, 99, (16, 3, 6), generator=generator)
    classes = torch.arange(16) % 2
    input_ids[:, 1, 2] = 1 + classes  # marker word 1 or 2
    if problem_type == "single_label_classification":
        return input_ids, classes, 2
    if problem_type == "multi_label_classification":
        return input_ids, torch.stack([classes, 1 - classes], dim=1), 2  # integer 0/1 targets are accepted
    return input_ids, classes.float() * 2 - 1, 1


def _train(model, input_ids: torch.Tensor, labels: torch.Tensor, steps: int = 25) -> list[float]:
    """The losses of `steps` Adam steps on one batch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        loss = model(input_ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("problem_type", ["single_label_classification", "multi_label_classification", "regression"])
def test_training_reduces_the_loss(problem_type):
    generator = torch.Generator().manual_seed(3)
    input_ids, labels, num_labels = _separable_task(problem_type, generator)
    model = HANForDocumentClassification(tiny_config(num_labels=num_labels, problem_type=problem_type))
    losses = _train(model, input_ids, labels)
    assert losses[-1] < 0.5 * losses[0], losses


def test_problem_type_is_inferred_as_in_transformers():
    input_ids = torch.randint(1, 99, (2, 2, 3))
    model = HANForDocumentClassification(tiny_config(num_labels=2))
    model(input_ids, labels=torch.tensor([0, 1]))
    assert model.config.problem_type == "single_label_classification"
    model = HANForDocumentClassification(tiny_config(num_labels=2))
    model(input_ids, labels=torch.tensor([[0.0, 1.0], [1.0, 1.0]]))
    assert model.config.problem_type == "multi_label_classification"
    model = HANForDocumentClassification(tiny_config(num_labels=1))
    model(input_ids, labels=torch.tensor([0.5, -1.0]))
    assert model.config.problem_type == "regression"


def test_trainer_gradient_accumulation_matches_one_big_batch(tmp_path):
    """Trainer must scale the loss itself: 2 accumulated batches of 4 == 1 batch of 8 (SGD, no dropout)."""
    from transformers import Trainer, TrainingArguments

    generator = torch.Generator().manual_seed(4)
    input_ids, labels, _ = _separable_task("single_label_classification", generator)
    examples = [{"input_ids": ids, "labels": label} for ids, label in zip(input_ids[:8], labels[:8])]

    def collate(batch):
        return {key: torch.stack([example[key] for example in batch]) for key in batch[0]}

    start = HANForDocumentClassification(tiny_config(num_labels=2))
    trained = []
    for batch_size, accumulation in ((8, 1), (4, 2)):
        model = HANForDocumentClassification(tiny_config(num_labels=2))
        model.load_state_dict(start.state_dict())
        args = TrainingArguments(
            output_dir=str(tmp_path / f"run{batch_size}"),
            per_device_train_batch_size=batch_size,
            gradient_accumulation_steps=accumulation,
            max_steps=1,
            learning_rate=0.5,
            optim="sgd",
            lr_scheduler_type="constant",
            report_to=[],
            save_strategy="no",
            use_cpu=True,
            train_sampling_strategy="sequential",
        )
        trainer = Trainer(model=model, args=args, train_dataset=examples, data_collator=collate)
        assert trainer.model_accepts_loss_kwargs is False
        trainer.train()
        trained.append(model.state_dict())
    for name in trained[0]:
        torch.testing.assert_close(trained[0][name], trained[1][name], atol=1e-6, rtol=1e-5, msg=name)
    assert not torch.equal(trained[0]["classifier.weight"], start.state_dict()["classifier.weight"])


def test_trainer_predicts_in_the_datasets_order_when_training_is_grouped_by_length(tmp_path):
    """`Trainer` groups evaluation batches by length when training is grouped; `predict`'s rows must not move."""
    from transformers import TrainingArguments

    from hf_han import HANTrainer

    # ragged documents of 1-6 sentences: the length the sampler groups by is the number of sentences
    documents = random_documents(torch.Generator().manual_seed(5), 24, 6, 7, 99)
    examples = [{"input_ids": document} for document in documents]

    def collate(batch):
        input_ids, attention_mask = pad_documents([example["input_ids"] for example in batch])
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    model = HANForDocumentClassification(tiny_config()).eval()
    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_eval_batch_size=4, report_to=[], use_cpu=True,
        train_sampling_strategy="group_by_length",
    )  # fmt: skip
    predicted = HANTrainer(model=model, args=args, data_collator=collate).predict(examples).predictions
    with torch.no_grad():
        one_by_one = [model(**collate([example])).logits[0] for example in examples]
    torch.testing.assert_close(torch.as_tensor(predicted), torch.stack(one_by_one), atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- word vectors


def test_word_vectors_from_mapping_and_files(tmp_path, caplog):
    vocabulary = {"[PAD]": 0, "[UNK]": 1, "good": 2, "bad": 3, "plot": 4}
    dim = 16
    good, bad = [0.5] * dim, [-0.25] * dim

    model = HANForDocumentClassification(tiny_config(vocab_size=5))
    before = model.get_input_embeddings().weight.detach().clone()
    found = model.load_word_vectors({"good": good, "bad": bad, "unseen": good}, vocabulary, freeze=True)
    weight = model.get_input_embeddings().weight
    assert found == 2
    assert torch.equal(weight[2], torch.tensor(good)) and torch.equal(weight[3], torch.tensor(bad))
    assert torch.equal(weight[4], before[4])  # missing words keep their initialisation
    assert torch.all(weight[0] == 0)  # padding stays zero
    assert not weight.requires_grad and model.config.freeze_word_embeddings

    # frozen embeddings stay frozen after a save/load round trip
    model.save_pretrained(tmp_path / "frozen")
    reloaded = HANForDocumentClassification.from_pretrained(tmp_path / "frozen")
    reloaded(torch.tensor([[[2, 3, 4]]]), labels=torch.tensor([1])).loss.backward()
    assert reloaded.get_input_embeddings().weight.grad is None
    assert reloaded.classifier.weight.grad is not None

    glove = tmp_path / "glove.txt"
    glove.write_text(f"good {' '.join(map(str, good))}\nother {' '.join(['1'] * dim)}\n")
    word2vec = tmp_path / "vectors.w2v.txt"
    word2vec.write_text(f"2 {dim}\nbad {' '.join(map(str, bad))}\nplot {' '.join(['2'] * dim)}\n")
    logger = logging.getLogger("hf_han.word_vectors_han")
    for path, expected in ((glove, {2: good}), (word2vec, {3: bad, 4: [2.0] * dim})):
        model = HANForDocumentClassification(tiny_config(vocab_size=5))
        logger.addHandler(caplog.handler)
        with caplog.at_level(logging.INFO, logger="hf_han.word_vectors_han"):
            found = model.load_word_vectors(path, vocabulary)
        logger.removeHandler(caplog.handler)
        assert found == len(expected)
        assert f"{5 - len(expected)} words without a vector" in caplog.text
        for row, vector in expected.items():
            assert torch.equal(model.get_input_embeddings().weight[row], torch.tensor(vector))
        assert model.get_input_embeddings().weight.requires_grad

    wrong = tmp_path / "wrong.txt"
    wrong.write_text("good 1 2 3\n")
    with pytest.raises(ValueError, match="3 values"):
        HANForDocumentClassification(tiny_config(vocab_size=5)).load_word_vectors(wrong, vocabulary)
    with pytest.raises(ValueError, match="does not match"):
        HANForDocumentClassification(tiny_config(vocab_size=3)).load_word_vectors({}, vocabulary)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "overrides, argument",
    [
        ({"embedding_dim": -1}, "embedding_dim"),
        ({"word_hidden_size": 0}, "word_hidden_size"),
        ({"vocab_size": 2.5}, "vocab_size"),
        ({"attention_dim": True}, "attention_dim"),
        ({"word_encoder": "rnn"}, "word_encoder"),
        ({"sentence_encoder": "cnn"}, "sentence_encoder"),
        ({"hidden_dropout": 1.5}, "hidden_dropout"),
        ({"pad_token_id": 200}, "pad_token_id"),
        ({"problem_type": "ranking"}, "problem_type"),
    ],
)
def test_invalid_config_values_raise(overrides, argument):
    with pytest.raises(ValueError, match=argument) as error:
        tiny_config(**overrides)
    if "encoder" in argument:
        assert "'gru'" in str(error.value) and "'lstm'" in str(error.value)


def test_invalid_inputs_raise_clear_errors():
    model = HANForDocumentClassification(tiny_config()).eval()
    with pytest.raises(ValueError, match=r"\[0, 99\)"):
        model(torch.full((1, 2, 3), 99))
    with pytest.raises(ValueError, match=r"\[0, 99\)"):
        model(torch.full((1, 2, 3), -1))
    with pytest.raises(ValueError, match="shape of `input_ids`"):
        model(torch.ones(2, 3, 4, dtype=torch.long), torch.ones(2, 3, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(batch_size, num_sentences, num_words\).*2-D"):
        model(torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="integer ids"):
        model(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match=r"Documents \[1\] have no real word"):
        model(torch.ones(2, 3, 4, dtype=torch.long), torch.tensor([1, 0]).view(2, 1, 1).expand(2, 3, 4))


def test_length_buckets_partition_the_rows_at_the_least_cost():
    from itertools import combinations

    from hf_han.packing_han import length_buckets

    def cost(buckets, lengths, step_cost):
        return sum(lengths[start] * (step_cost + end - start) for start, end in buckets)

    lengths = [50, 50, 41, 30, 30, 30, 12, 9, 9, 3, 2, 1, 1, 1]
    for step_cost in (0.0, 4.0, 16.0, 1000.0):
        buckets = length_buckets(lengths, step_cost)
        # contiguous, covering every row once, cut only between different lengths
        assert buckets[0][0] == 0 and buckets[-1][1] == len(lengths)
        assert all(a[1] == b[0] for a, b in zip(buckets, buckets[1:]))
        assert all(lengths[end - 1] != lengths[end] for _, end in buckets[:-1])
        # no other cut between runs is cheaper (brute force over all of them)
        cuts = [row for row in range(1, len(lengths)) if lengths[row] != lengths[row - 1]]
        best = min(
            cost(list(zip((0,) + chosen, chosen + (len(lengths),))), lengths, step_cost)
            for size in range(len(cuts) + 1)
            for chosen in combinations(cuts, size)
        )
        assert cost(buckets, lengths, step_cost) == best
    assert length_buckets(lengths, 1000.0) == [(0, len(lengths))]  # costly steps: one bucket
    assert length_buckets([7], 16.0) == [(0, 1)]
