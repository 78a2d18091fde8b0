"""The package's import graph, and the few self-contained code files a saved folder carries (remote_code_han.py)."""

import ast
import sys

import pytest
import torch
from transformers.dynamic_module_utils import get_imports

from hf_han import HANConfig, HANForDocumentClassification, HANTokenizer
from hf_han.remote_code_han import PACKAGE_DIR, SAVED_MODULES, find_cycle, fold_module, import_graph


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert "context_han" in graph and graph["context_han"] == {"attention_han": True}
    assert find_cycle(graph) is None
    # and the check finds one where there is one, through an import inside a function too
    assert find_cycle({"a": {"b": True}, "b": {"c": False}, "c": {"a": True}}) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("root", SAVED_MODULES)
def test_each_saved_file_imports_only_saved_files(root):
    source = fold_module(root)
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.module in SAVED_MODULES, (root, ast.unparse(node))
    compile(source, f"{root}.py", "exec")


def _tiny_model():
    torch.manual_seed(0)
    config = HANConfig(vocab_size=30, embedding_dim=8, word_hidden_size=4, sentence_hidden_size=4, attention_dim=8)
    return HANForDocumentClassification(config)


def test_files_that_are_not_copies_of_the_package_are_left_alone(tmp_path):
    # a user's own module that imports a package module
    (tmp_path / "handler.py").write_text("from .safe_text_han import neutralise\n")
    _tiny_model().save_pretrained(tmp_path)
    names = {path.name for path in tmp_path.glob("*.py")}
    assert names == {"configuration_han.py", "modeling_han.py", "pipeline_han.py", "handler.py", "safe_text_han.py"}
    assert (tmp_path / "handler.py").read_text() == "from .safe_text_han import neutralise\n"


def test_an_older_models_code_keeps_the_files_it_imports(tmp_path):
    # a folder saved by an earlier hf-han (the model's code unfolded), into which a new tokenizer is saved
    old_model = "# an earlier version\nfrom .packing_han import PaddedBlocks\n"
    (tmp_path / "modeling_han.py").write_text(old_model)
    (tmp_path / "packing_han.py").write_text((PACKAGE_DIR / "packing_han.py").read_text())
    HANTokenizer().train_new_from_iterator(["A first document. It has words.", "Another one."], 50).save_pretrained(
        tmp_path
    )
    names = {path.name for path in tmp_path.glob("*.py")}
    assert names == {"modeling_han.py", "packing_han.py", "tokenization_han.py"}
    assert (tmp_path / "modeling_han.py").read_text() == old_model


def test_folding_refuses_to_bind_a_name_twice(tmp_path):
    (tmp_path / "modeling_han.py").write_text("from .a import helper\nfrom .b import other\n")
    (tmp_path / "a.py").write_text("def helper():\n    return 1\n")
    (tmp_path / "b.py").write_text("def helper():\n    return 2\n\n\ndef other():\n    return helper()\n")
    with pytest.raises(ValueError, match=r"`helper` twice: a\.py .* b\.py"):
        fold_module("modeling_han", tmp_path)


def test_folding_keeps_aliases_and_lazy_imports(tmp_path):
    (tmp_path / "modeling_han.py").write_text(
        "from .a import value as renamed\n\n\ndef late():\n    from .b import later\n\n    return renamed + later\n"
    )
    (tmp_path / "a.py").write_text("value = 1\n")
    (tmp_path / "b.py").write_text("later = 2\n__all__ = ['later']\n")
    namespace = {}
    exec(fold_module("modeling_han", tmp_path), namespace)  # noqa: S102 - the folded test module
    assert namespace["late"]() == 3 and "__all__" not in namespace


@pytest.mark.parametrize("root", SAVED_MODULES)
def test_remote_code_needs_only_what_hf_han_needs(root, tmp_path):
    # transformers refuses to load remote code whose imports (outside `try` blocks) are not installed: an optional
    # package (onnx, gensim, matplotlib) imported plainly would be demanded from everyone who loads the model
    (tmp_path / f"{root}.py").write_text(fold_module(root))
    required = {"torch", "transformers", "tokenizers", "huggingface_hub", "safetensors", "numpy", "regex", "tqdm"}
    extra = set(get_imports(tmp_path / f"{root}.py")) - required - set(sys.stdlib_module_names)
    assert not extra, extra
