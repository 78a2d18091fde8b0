"""
The GPU path, where CUDA is present (skipped, and counted as skipped, elsewhere; `benchmarks/gpu_check.sh` runs these
on a lent GPU): the bucketed `nn.GRU` / `nn.LSTM` recurrence equal to the CPU's packed one and padding-invariant,
bf16 and fp16 autocast training steps, a pretrained word encoder on the GPU, bulk prediction on the GPU, and DDP
with NCCL where two GPUs exist.

`HF_HAN_TEST_DEVICE=cpu` runs them on the CPU instead (both sides then take the CPU path): a check of the tests
themselves on a machine without a GPU, not of the GPU path.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hf_han import HANConfig, HANForDocumentClassification

from conftest import CORPUS, pad_documents, random_documents, save_tiny_han


DEVICE = torch.device(os.environ.get("HF_HAN_TEST_DEVICE", "cuda"))
pytestmark = pytest.mark.skipif(
    DEVICE.type == "cuda" and not torch.cuda.is_available(),
    reason="no CUDA device (benchmarks/gpu_check.sh runs these where a GPU is lent)",
)
ROOT = Path(__file__).resolve().parents[1]
TINY = dict(
    vocab_size=99, embedding_dim=16, word_hidden_size=8, sentence_hidden_size=8, attention_dim=16, num_labels=3
)
VARIANTS = {
    "gru": {},
    "lstm": {"word_encoder": "lstm", "sentence_encoder": "lstm"},
    "two_layers": {"num_word_layers": 2, "num_sentence_layers": 2},
    "structured": {"attention": "structured", "attention_hops": 2, "attention_penalty": 0.5},
    "cahan": {"context": "bidirectional", "context_gate": True},
    "transformer": {"word_encoder": "transformer", "transformer_heads": 2, "transformer_ffn_dim": 32},
}


@pytest.fixture(autouse=True)
def _exact_float32():
    # TF32 matrix products would differ from the CPU's float32 in the third decimal
    if torch.cuda.is_available():
        old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        yield
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
    else:
        yield


def _documents(seed: int = 0, count: int = 9):
    return random_documents(torch.Generator().manual_seed(seed), count, 6, 11, TINY["vocab_size"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_gpu_path_computes_what_the_cpu_path_computes(variant):
    torch.manual_seed(0)
    model = HANForDocumentClassification(HANConfig(**TINY, **VARIANTS[variant])).eval()
    on_device = HANForDocumentClassification(model.config).to(DEVICE).eval()
    on_device.load_state_dict(model.state_dict())
    input_ids, attention_mask = pad_documents(_documents())
    labels = torch.tensor([0, 1, 2] * 3)
    cpu = model(input_ids, attention_mask, labels=labels, output_attentions=True)
    gpu = on_device(input_ids.to(DEVICE), attention_mask.to(DEVICE), labels=labels.to(DEVICE), output_attentions=True)
    torch.testing.assert_close(gpu.logits.cpu(), cpu.logits, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(gpu.word_attentions.cpu(), cpu.word_attentions, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(gpu.sentence_attentions.cpu(), cpu.sentence_attentions, atol=2e-5, rtol=1e-4)
    # and the gradients: the bucketed recurrence's backward is cuDNN's
    cpu.loss.backward()
    gpu.loss.backward()
    for (name, expected), (_, got) in zip(model.named_parameters(), on_device.named_parameters()):
        if expected.grad is not None:
            torch.testing.assert_close(got.grad.cpu(), expected.grad, atol=1e-4, rtol=1e-3, msg=name)


@pytest.mark.parametrize("variant", ["gru", "lstm", "cahan"])
def test_padding_invariance_on_the_gpu(variant):
    torch.manual_seed(0)
    model = HANForDocumentClassification(HANConfig(**TINY, **VARIANTS[variant])).to(DEVICE).eval()
    documents = _documents(seed=3)
    with torch.no_grad():
        batch = model(*(t.to(DEVICE) for t in pad_documents(documents, 8, 14))).logits
        for index, document in enumerate(documents):
            alone = model(*(t.to(DEVICE) for t in pad_documents([document]))).logits
            torch.testing.assert_close(batch[index : index + 1], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_training_steps(dtype):
    torch.manual_seed(0)
    model = HANForDocumentClassification(HANConfig(**TINY, num_word_layers=2)).to(DEVICE).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    scaler = torch.amp.GradScaler(DEVICE.type, enabled=dtype == torch.float16)
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(3, 99, (32, 4, 9), generator=generator)
    labels = torch.arange(32) % 3
    input_ids[:, 1, 2] = 1 + labels  # a marker word decides the label
    input_ids, labels = input_ids.to(DEVICE), labels.to(DEVICE)
    losses = []
    for _ in range(30):
        with torch.autocast(DEVICE.type, dtype=dtype):
            output = model(input_ids, labels=labels)
        assert output.logits.dtype in (dtype, torch.float32)
        optimizer.zero_grad()
        scaler.scale(output.loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(output.loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.5 * losses[0], losses


def test_a_pretrained_word_encoder_on_the_gpu(tmp_path):
    from transformers import BertConfig, BertModel, BertTokenizer

    from hf_han import HANTokenizer

    words = sorted({w.strip(".,!").lower() for text in CORPUS for w in text.split()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, ".", ",", "!"]
    BertTokenizer(vocab={token: i for i, token in enumerate(vocab)}).save_pretrained(tmp_path)
    torch.manual_seed(0)
    bert = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=37, max_position_embeddings=64, hidden_dropout_prob=0.0,
                      attention_probs_dropout_prob=0.0)  # fmt: skip
    BertModel(bert).save_pretrained(tmp_path)
    tokenizer = HANTokenizer.from_pretrained_tokenizer(str(tmp_path), max_words=16)
    model = HANForDocumentClassification.from_word_encoder(
        str(tmp_path), num_labels=2, sentence_hidden_size=8, attention_dim=8
    ).eval()
    on_device = HANForDocumentClassification.from_word_encoder(
        str(tmp_path), num_labels=2, sentence_hidden_size=8, attention_dim=8
    ).to(DEVICE)
    on_device.load_state_dict(model.state_dict())
    on_device.eval()
    batch = tokenizer(CORPUS, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = model(**batch).logits
        got = on_device(**{name: tensor.to(DEVICE) for name, tensor in batch.items()}).logits
    torch.testing.assert_close(got.cpu(), expected, atol=1e-4, rtol=1e-4)


def test_bulk_prediction_on_the_gpu(tmp_path):
    from hf_han.predict import main

    folder = save_tiny_han(tmp_path / "model")
    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps({"text": text}) + "\n" for text in CORPUS * 20))
    outputs = {}
    for device in ("cpu", str(DEVICE)):
        output = tmp_path / f"{device.replace(':', '')}.jsonl"
        main(["--model", str(folder), "--input", str(data), "--output", str(output), "--device", device, "--quiet",
              "--top_sentences", "1"])  # fmt: skip
        outputs[device] = [json.loads(line) for line in output.read_text().splitlines()]
    for cpu, gpu in zip(outputs["cpu"], outputs[str(DEVICE)], strict=True):
        assert cpu["label"] == gpu["label"] and abs(cpu["score"] - gpu["score"]) < 1e-4


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="DDP with NCCL needs two GPUs")
def test_ddp_with_nccl_on_two_gpus(tmp_path):
    pytest.importorskip("datasets")
    train = tmp_path / "train.jsonl"
    rows = [{"text": CORPUS[i % 4], "label": ["pos", "neg", "pos", "neg"][i % 4]} for i in range(64)]
    train.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
               str(ROOT / "examples" / "run_classification.py"), "--output_dir", str(tmp_path / "out"),
               "--train_file", str(train), "--do_train", "--max_steps", "4", "--ddp_backend", "nccl",
               "--embedding_dim", "16", "--word_hidden_size", "8", "--sentence_hidden_size", "8",
               "--attention_dim", "8", "--min_frequency", "1", "--train_word_vectors", "false",
               "--per_device_train_batch_size", "8", "--disable_tqdm", "true"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert json.loads((tmp_path / "out" / "trainer_state.json").read_text())["global_step"] == 4
    shutil.rmtree(tmp_path / "out")
