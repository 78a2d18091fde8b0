"""Export: the padded forward equals the eager one, torch.export and ONNX Runtime give the model's logits for any
shape and padding, int8 keeps the answers, and the exported folder serves without PyTorch."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from transformers import BertConfig, pipeline

from hf_han import HANConfig, HANForDocumentClassification, HANTokenizer
from hf_han.export import SAMPLE_DOCUMENTS, export_onnx, export_program
from hf_han.onnx_rnn_han import ONNX_TRANSLATIONS, native_bidirectional
from hf_han.recurrence_han import HANBidirectionalEncoder, bidirectional_reference


onnxruntime = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

LABELS = {"id2label": {0: "negative", 1: "positive"}, "label2id": {"negative": 0, "positive": 1}}
SIZES = dict(embedding_dim=16, word_hidden_size=8, sentence_hidden_size=8, attention_dim=8, num_labels=2, **LABELS)
VARIANTS = {
    "gru": {},
    "lstm_two_layers": {"word_encoder": "lstm", "sentence_encoder": "lstm", "num_word_layers": 2},
    "transformer": {"word_encoder": "transformer", "sentence_encoder": "transformer", "transformer_heads": 2},
    "structured": {"attention": "structured", "attention_hops": 3, "attention_penalty": 0.1},
    "mean_pooling": {"word_pooling": "mean"},
}


def _random_batch(generator, batch, sentences, words, vocab_size, anywhere: bool):
    """Ids and a mask with padding at the end of rows or (`anywhere`) at random positions; no document empty."""
    ids = torch.randint(2, vocab_size, (batch, sentences, words), generator=generator)
    if anywhere:
        mask = (torch.rand(batch, sentences, words, generator=generator) > 0.4).long()
    else:
        lengths = torch.randint(0, words + 1, (batch, sentences, 1), generator=generator)
        mask = (torch.arange(words) < lengths).long()
    mask[:, 0, 0] = 1
    return ids * mask, mask


def _tiny(vocab_size=60, **variant) -> HANForDocumentClassification:
    torch.manual_seed(0)
    return HANForDocumentClassification(HANConfig(vocab_size=vocab_size, **{**SIZES, **variant})).eval()


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_padded_forward_gives_the_eager_outputs_for_any_padding(variant):
    model = _tiny(**VARIANTS[variant])
    generator = torch.Generator().manual_seed(1)
    for shape, anywhere in (((3, 4, 6), False), ((4, 5, 7), True), ((1, 1, 1), False), ((2, 6, 3), True)):
        ids, mask = _random_batch(generator, *shape, 60, anywhere)
        eager = model.han(ids, mask, output_attentions=True, output_hidden_states=True)
        padded = model.han._forward_padded(ids, mask, True, True)
        for name in (
            "document_vector",
            "sentence_states",
            "sentence_vectors",
            "word_attentions",
            "sentence_attentions",
        ):
            torch.testing.assert_close(getattr(padded, name), getattr(eager, name), atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(padded.hidden_states[0], eager.hidden_states[0], atol=1e-6, rtol=1e-5)


def _export_and_compare(model, tmp_path, vocab_size=60) -> set[str]:
    """
    torch.export (saved and loaded) and ONNX Runtime against eager, on shapes and paddings the export never saw.
    Returns the ONNX graph's operator types.
    """
    generator = torch.Generator().manual_seed(2)
    example = _random_batch(generator, 2, 3, 4, vocab_size, anywhere=False)
    program = export_program(model, *example)
    torch.export.save(program, str(tmp_path / "model.pt2"))
    loaded = torch.export.load(str(tmp_path / "model.pt2")).module()
    assert not [node for node in program.graph.nodes if "hf_han" in str(node.target)]  # PyTorch's operators only
    onnx_program = torch.onnx.export(
        export_program(model, *example, for_onnx=True), (), kwargs=dict(zip(("input_ids", "attention_mask"), example)),
        input_names=["input_ids", "attention_mask"], output_names=["logits"], dynamo=True, verbose=False,
        custom_translation_table=ONNX_TRANSLATIONS,
    )  # fmt: skip
    onnx_program.save(str(tmp_path / "model.onnx"))
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    for shape, anywhere in (((5, 6, 9), False), ((1, 2, 3), True), ((3, 1, 12), True), ((1, 1, 1), False)):
        ids, mask = _random_batch(generator, *shape, vocab_size, anywhere)
        with torch.no_grad():
            expected = model(ids, mask).logits
            torch.testing.assert_close(loaded(input_ids=ids, attention_mask=mask).logits, expected, atol=1e-5, rtol=0)
        logits = session.run(["logits"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
        np.testing.assert_allclose(logits, expected.numpy(), atol=1e-5, rtol=0)
    return {node.op_type for node in onnx.load(str(tmp_path / "model.onnx")).graph.node}


@pytest.mark.parametrize("variant", ["gru", "lstm_two_layers", "transformer", "structured"])
def test_torch_export_and_onnx_runtime_give_the_model_s_logits(variant, tmp_path):
    operators = _export_and_compare(_tiny(**VARIANTS[variant]), tmp_path)
    # the word level's first layer is a loop over time that reads a table of the vocabulary's input projections,
    # over the real sentences only; the other recurrent layers are ONNX's own operators
    expected = {"gru": {"Loop", "GRU"}, "lstm_two_layers": {"Loop", "LSTM"}, "structured": {"Loop", "GRU"}}
    expected = expected.get(variant, set())
    assert expected <= operators and "Scan" not in operators and "NonZero" in operators


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_the_lookup_operator_computes_the_encoder_s_layer(cell):
    # what the ONNX loop stands for in PyTorch: the first layer over rows of word ids, read from the vocabulary's
    # input projections, equals the encoder over the rows' embeddings, with zeros at padded steps
    torch.manual_seed(0)
    encoder = HANBidirectionalEncoder(cell, input_size=5, hidden_size=4, num_layers=1, dropout=0.0)
    embeddings = torch.randn(30, 5)
    lengths = torch.tensor([3, 1, 7, 7, 2])
    ids = torch.randint(1, 30, (5, 7)) * (torch.arange(7) < lengths[:, None])
    with torch.no_grad():
        states = native_bidirectional(encoder, embeddings, lengths, ids=ids)  # (rows, steps, 2 * hidden)
        real = torch.arange(7) < lengths[:, None]
        expected = bidirectional_reference(encoder, embeddings[ids[real]], lengths)
    torch.testing.assert_close(states[real], expected, atol=1e-6, rtol=1e-5)
    assert not states[~real].any()


def test_an_empty_document_does_not_disturb_the_graph(tmp_path):
    # PyTorch refuses a document without words; the graph has no checks, and must still give finite numbers and
    # leave the other documents' logits as they are, even when no document of the batch holds a word
    model = _tiny()
    _export_and_compare(model, tmp_path)
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    ids, mask = _random_batch(torch.Generator().manual_seed(3), 2, 3, 4, 60, anywhere=True)
    with torch.no_grad():
        expected = model(ids[:1], mask[:1]).logits.numpy()
    ids[1], mask[1] = 0, 0
    logits = session.run(["logits"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
    assert np.isfinite(logits).all()
    np.testing.assert_allclose(logits[:1], expected, atol=1e-5, rtol=0)
    empty = np.zeros((2, 3, 4), dtype=np.int64)
    assert np.isfinite(session.run(["logits"], {"input_ids": empty, "attention_mask": empty})[0]).all()


def test_a_han_over_a_pretrained_encoder_exports_too(tmp_path):
    encoder = BertConfig(
        vocab_size=60, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=20,
        max_position_embeddings=32,
    )  # fmt: skip
    _export_and_compare(_tiny(word_encoder="pretrained", word_encoder_config=encoder), tmp_path)


def test_cahan_is_refused_with_the_reason(tmp_path):
    model = _tiny(context="left")
    with pytest.raises(NotImplementedError, match="reads sentences one after another"):
        export_program(model, *_random_batch(torch.Generator(), 2, 3, 4, 60, anywhere=False))
    tokenizer = HANTokenizer().train_new_from_iterator(SAMPLE_DOCUMENTS, 60, show_progress=False)
    model.save_pretrained(tmp_path / "cahan")
    tokenizer.save_pretrained(tmp_path / "cahan")
    with pytest.raises(ValueError, match="CAHAN .* has no export-ready forward"):
        export_onnx(tmp_path / "cahan", tmp_path / "out")


def test_torch_compile_still_gives_the_eager_logits():
    model = _tiny()
    ids, mask = _random_batch(torch.Generator().manual_seed(3), 3, 4, 5, 60, anywhere=True)
    compiled = torch.compile(model, backend="eager")
    torch.testing.assert_close(compiled(ids, mask).logits, model(ids, mask).logits, atol=1e-9, rtol=0)


# ---------------------------------------------------------------- the export folder and what serves from it


@pytest.fixture(scope="module")
def trained_folder(tmp_path_factory):
    """A tiny HAN trained to tell praise from complaint, saved with its tokenizer."""
    folder = tmp_path_factory.mktemp("trained")
    praise = ["A wonderful film.", "Great acting, great story!", "I loved it. Superb.", "Brilliant and moving."]
    complaint = ["A dull film.", "Awful acting, weak story!", "I hated it. Boring.", "Terrible and slow."]
    documents = [f"{a} {b}" for a in praise for b in praise] + [f"{a} {b}" for a in complaint for b in complaint]
    labels = torch.tensor([1] * 16 + [0] * 16)
    tokenizer = HANTokenizer().train_new_from_iterator(documents + list(SAMPLE_DOCUMENTS), 300, show_progress=False)
    model = _tiny(vocab_size=len(tokenizer))
    batch = tokenizer(documents, padding=True, return_tensors="pt")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    model.train()
    for _ in range(40):
        optimizer.zero_grad()
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
    model.eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def exported(trained_folder, tmp_path_factory):
    output = tmp_path_factory.mktemp("onnx")
    report = export_onnx(trained_folder, output, torch_export=True)
    return output, report


DOCUMENTS = ["A wonderful film. I loved it.", "Awful acting. Boring!", "Great story, superb acting. Brilliant."]


def test_the_export_folder_holds_what_serving_needs(exported):
    output, report = exported
    for name in ("model.onnx", "model.pt2", "config.json", "tokenizer.json", "tokenization_han.py", "handler.py",
                 "onnx_classifier.py", "requirements.txt", "export_report.json"):  # fmt: skip
        assert (output / name).is_file(), name
    assert report["float32"]["max_abs_difference"] <= 1e-5 and report["float32"]["argmax_agreement"] == 1.0
    session = onnxruntime.InferenceSession(str(output / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    assert [len(i.shape) for i in session.get_inputs()] == [3, 3]
    assert all(isinstance(axis, str) for i in session.get_inputs() for axis in i.shape)  # every axis dynamic


def test_the_onnx_classifier_answers_as_the_pipeline_does(trained_folder, exported):
    from hf_han.onnx_classifier_han import ONNXDocumentClassifier

    output, _ = exported
    classifier = ONNXDocumentClassifier(output)
    reference = pipeline("text-classification", model=str(trained_folder))
    for call in (
        lambda c: c(DOCUMENTS[0]),
        lambda c: c(DOCUMENTS),
        lambda c: c(DOCUMENTS[1], top_k=None),
        lambda c: c(DOCUMENTS, top_k=2),
        lambda c: c(DOCUMENTS, function_to_apply="sigmoid"),
    ):
        ours, theirs = call(classifier), call(reference)
        assert json.dumps(ours, default=str).count("label") == json.dumps(theirs, default=str).count("label")
        flat = np.array([[entry["score"] for entry in _entries(item)] for item in _listed(ours)])
        expected = np.array([[entry["score"] for entry in _entries(item)] for item in _listed(theirs)])
        np.testing.assert_allclose(flat, expected, atol=1e-5)
        assert [[e["label"] for e in _entries(item)] for item in _listed(ours)] == [
            [e["label"] for e in _entries(item)] for item in _listed(theirs)
        ]
    assert [result["label"] for result in classifier(DOCUMENTS)] == ["positive", "negative", "positive"]
    with pytest.raises(TypeError, match="documents given as `str`"):
        classifier([DOCUMENTS[0], 3])


def _listed(result):
    return result if isinstance(result, list) and result and not isinstance(result[0], dict) else [result]


def _entries(item):
    return item if isinstance(item, list) else [item]


def test_the_endpoint_handler_answers(exported):
    output, _ = exported
    spec = importlib.util.spec_from_file_location("exported_handler", output / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler = module.EndpointHandler(str(output))
    answer = handler({"inputs": DOCUMENTS[0]})
    assert answer[0]["label"] == "positive" and 0.5 < answer[0]["score"] <= 1
    ranked = handler({"inputs": DOCUMENTS[:2], "parameters": {"top_k": None}})
    assert [labels[0]["label"] for labels in ranked] == ["positive", "negative"] and len(ranked[0]) == 2
    with pytest.raises(ValueError, match='needs "inputs"'):
        handler({"text": DOCUMENTS[0]})


NO_TORCH = textwrap.dedent(
    """
    import json, sys

    sys.modules["torch"] = None  # as if not installed: find_spec finds nothing, an import fails
    sys.modules["hf_han"] = None
    sys.path.insert(0, sys.argv[1])
    from handler import EndpointHandler

    print(json.dumps(EndpointHandler(sys.argv[1])({"inputs": json.loads(sys.argv[2])})))
    assert sys.modules["torch"] is None
    """
)


def test_serving_needs_neither_torch_nor_hf_han(exported):
    output, _ = exported
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(output.parent / "modules"))
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(output), json.dumps(DOCUMENTS)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert [answer["label"] for answer in answers] == ["positive", "negative", "positive"]


def test_int8_keeps_the_answers(trained_folder, tmp_path):
    report = export_onnx(trained_folder, tmp_path / "int8", quantize="int8")
    int8 = report["int8"]
    assert int8["argmax_agreement"] == 1.0 and int8["max_abs_difference"] < 0.05 * int8["max_abs_logit"]
    assert not (tmp_path / "int8" / "model_fp32.onnx").exists()
    quantized = onnxruntime.InferenceSession(str(tmp_path / "int8" / "model.onnx"))
    assert not (tmp_path / "int8" / "model_folded.onnx").exists()
    assert any(node.op_type.startswith(("DynamicQuantize", "MatMulInteger")) for node in _nodes(tmp_path / "int8"))
    tokenizer = HANTokenizer.from_pretrained(trained_folder)
    model = HANForDocumentClassification.from_pretrained(trained_folder)
    # the vocabulary's input projections (folded from the weights), both directions' tables stacked, are in 8 bits
    import onnx

    eight_bits = (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)
    initializers = onnx.load(str(tmp_path / "int8" / "model.onnx")).graph.initializer
    assert any(tensor.data_type in eight_bits and tensor.dims[:1] == [2 * len(tokenizer)] for tensor in initializers)
    generated = [f"{a} {b}." for a in ("Wonderful", "Awful", "Great", "Boring") for b in ("story", "acting", "film")]
    batch = tokenizer(generated, padding=True, return_tensors="np")
    logits = quantized.run(["logits"], {k: batch[k] for k in ("input_ids", "attention_mask")})[0]
    with torch.no_grad():
        expected = model(**tokenizer(generated, padding=True, return_tensors="pt")).logits.numpy()
    assert np.mean(logits.argmax(-1) == expected.argmax(-1)) >= 0.9


def _nodes(folder):
    import onnx

    return onnx.load(str(folder / "model.onnx")).graph.node


def test_the_command_line_exports_and_refuses_what_it_cannot(trained_folder, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "hf_han.export", "--model", str(trained_folder), "--output", str(tmp_path / "cli")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "top label agrees on 100%" in result.stdout and (tmp_path / "cli" / "model.onnx").is_file()
    missing = subprocess.run(
        [sys.executable, "-m", "hf_han.export", "--model", str(tmp_path / "nothing"), "--output", str(tmp_path / "x")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert missing.returncode == 1 and "holds no saved model" in missing.stderr
