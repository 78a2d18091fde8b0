import os

import pytest
import torch


# Nothing in the suite may reach the Hub; tiny models and tokenizers are built in the tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


def random_documents(
    generator: torch.Generator,
    num_documents: int,
    max_sentences: int,
    max_words: int,
    vocab_size: int,
) -> list[list[list[int]]]:
    """Ragged documents of word ids in [1, vocab_size): a list of sentences, each a non-empty list of ids."""
    documents = []
    for _ in range(num_documents):
        num_sentences = int(torch.randint(1, max_sentences + 1, (1,), generator=generator))
        document = []
        for _ in range(num_sentences):
            num_words = int(torch.randint(1, max_words + 1, (1,), generator=generator))
            document.append(torch.randint(1, vocab_size, (num_words,), generator=generator).tolist())
        documents.append(document)
    return documents


def pad_documents(documents, num_sentences: int | None = None, num_words: int | None = None):
    """Right-pad ragged documents to `(batch, num_sentences, num_words)` ids and mask (defaults: the batch maxima)."""
    num_sentences = num_sentences or max(len(document) for document in documents)
    num_words = num_words or max(len(sentence) for document in documents for sentence in document)
    input_ids = torch.zeros(len(documents), num_sentences, num_words, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    for d, document in enumerate(documents):
        for s, sentence in enumerate(document):
            input_ids[d, s, : len(sentence)] = torch.tensor(sentence)
            attention_mask[d, s, : len(sentence)] = 1
    return input_ids, attention_mask
