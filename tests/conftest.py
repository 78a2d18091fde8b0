import os
from pathlib import Path

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


class FakeHub:
    """
    The Hub client replaced by an in-memory store: `create_repo`, `create_commit` (which every upload ends in) and
    the card download are recorded or served from it, so pushes can be checked without a network.
    """

    def __init__(self):
        self.repos: dict[str, dict[str, bytes]] = {}
        self.commits: list[tuple[str, list[str]]] = []  # (repo_id, paths committed)

    def install(self, monkeypatch, download_dir) -> "FakeHub":
        import huggingface_hub
        from huggingface_hub import CommitInfo, RepoUrl
        from huggingface_hub.errors import EntryNotFoundError

        hub = self

        def create_repo(api, repo_id, *args, **kwargs):
            hub.repos.setdefault(repo_id, {})
            return RepoUrl(f"https://huggingface.co/{repo_id}")

        def create_commit(api, repo_id, operations, *args, commit_message="", **kwargs):
            files = hub.repos.setdefault(repo_id, {})
            paths = []
            for operation in operations:
                if type(operation).__name__ != "CommitOperationAdd":
                    continue
                source = operation.path_or_fileobj
                if isinstance(source, (str, os.PathLike)):
                    with open(source, "rb") as handle:
                        data = handle.read()
                elif isinstance(source, bytes):
                    data = source
                else:
                    data = source.read()
                files[operation.path_in_repo] = data
                paths.append(operation.path_in_repo)
            hub.commits.append((repo_id, sorted(paths)))
            oid = f"{len(hub.commits):040x}"
            return CommitInfo(
                commit_url=f"https://huggingface.co/{repo_id}/commit/{oid}",
                commit_message=commit_message,
                commit_description="",
                oid=oid,
            )

        def hf_hub_download(repo_id, filename, *args, **kwargs):
            files = hub.repos.get(repo_id, {})
            if filename not in files:
                raise EntryNotFoundError(f"{filename} is not in {repo_id}")
            path = os.path.join(download_dir, repo_id.replace("/", "--"), filename)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(files[filename])
            return path

        def validate_yaml(api, content, *args, **kwargs):
            # the Hub checks a README's metadata on upload; here: it must parse as a model card
            huggingface_hub.ModelCard(content, ignore_metadata_errors=False)

        monkeypatch.setattr(huggingface_hub.HfApi, "_validate_yaml", validate_yaml)
        # with xet, `upload_folder` streams through its own pipeline; without it, every upload is one create_commit
        monkeypatch.setattr(huggingface_hub.hf_api, "is_xet_available", lambda: False)
        monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
        monkeypatch.setattr(huggingface_hub.HfApi, "create_commit", create_commit)
        monkeypatch.setattr(huggingface_hub.repocard, "hf_hub_download", hf_hub_download)
        return self

    def write_cache(self, hf_home, repo_id: str, commit: str = "0" * 39 + "1") -> None:
        """Lay the repository out as `huggingface_hub` caches downloads, for loading with `HF_HUB_OFFLINE=1`."""
        folder = os.path.join(hf_home, "hub", "models--" + repo_id.replace("/", "--"))
        os.makedirs(os.path.join(folder, "refs"), exist_ok=True)
        with open(os.path.join(folder, "refs", "main"), "w") as handle:
            handle.write(commit)
        for path, data in self.repos[repo_id].items():
            target = os.path.join(folder, "snapshots", commit, path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)


@pytest.fixture
def fake_hub(monkeypatch, tmp_path) -> FakeHub:
    return FakeHub().install(monkeypatch, tmp_path / "_downloads")


# A few short reviews, and a tiny saved HAN that apps (the demo, bulk prediction) load from a folder.
CORPUS = [
    "A wonderful film. I loved every minute of it!",
    "Awful acting. The plot was boring and I left early.",
    "Great story, superb acting. Brilliant.",
    "The worst film of the year. Dull, slow and badly written.",
]


def save_tiny_han(folder: Path, problem_type: str = "single_label_classification") -> Path:
    """A tiny untrained HAN and its word-level tokenizer, saved with two widget examples, for apps to load."""
    from hf_han import HANConfig, HANForDocumentClassification, HANTokenizer

    tokenizer = HANTokenizer(max_sentences=8, max_words=16).train_new_from_iterator(
        CORPUS * 4, vocab_size=200, show_progress=False
    )
    labels = {"single_label_classification": ["negative", "positive"], "multi_label_classification":
              ["acting", "plot", "pace"], "regression": ["stars"]}[problem_type]  # fmt: skip
    config = HANConfig(
        vocab_size=len(tokenizer), embedding_dim=8, word_hidden_size=4, sentence_hidden_size=4, attention_dim=8,
        num_labels=len(labels), problem_type=problem_type, id2label=dict(enumerate(labels)),
        label2id={label: index for index, label in enumerate(labels)},
    )  # fmt: skip
    torch.manual_seed(0)
    model = HANForDocumentClassification(config).eval()
    model.model_card_data.widget_examples = CORPUS[:2]
    model.model_card_data.model_name = "tiny reviews"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
