"""
`transformers`' own common model and config tests, taken at test time from the source distribution of the installed
`transformers` version (`pip download --no-deps --no-binary :all: transformers==X`) into the git-ignored
`.cache/transformers-tests/X/`. Nothing of it is committed. The sdist ships the common test files but not every
helper module they import; the small stand-ins below take their place.
"""

import importlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import transformers


CACHE = Path(__file__).resolve().parents[1] / ".cache" / "transformers-tests"
PACKAGE = "transformers_common_tests"
FILES = ("test_modeling_common.py", "test_configuration_common.py")

# Helper modules that the common test files import and the sdist lacks. The mixins add test families that do not
# concern a HAN (generation; exporting a model is issue-tracked separately), so they are empty here.
STAND_INS = {
    "exporters/test_export.py": '''class ExportTesterMixin:
    """Stand-in: the export tests of transformers' test suite are not in its sdist."""
''',
    "generation/test_utils.py": '''class GenerationTesterMixin:
    """Stand-in: HAN generates nothing."""
''',
    # Non-default values of `PreTrainedConfig`'s own arguments, which every config must keep as given.
    "utils/test_configuration_utils.py": """config_common_kwargs = {
    "return_dict": False,
    "output_hidden_states": True,
    "output_attentions": True,
    "dtype": "float16",
    "chunk_size_feed_forward": 5,
    "architectures": ["HANForDocumentClassification"],
    "id2label": {0: "negative", 1: "positive"},
    "label2id": {"negative": 0, "positive": 1},
    "problem_type": "single_label_classification",
}
""",
}


def load_common_tests():
    """The modules `test_modeling_common` and `test_configuration_common` of the installed transformers version."""
    version = transformers.__version__
    root = CACHE / version
    package = root / PACKAGE
    if not all((package / name).is_file() for name in FILES):
        _download(version, package)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    modeling = importlib.import_module(f"{PACKAGE}.test_modeling_common")
    configuration = importlib.import_module(f"{PACKAGE}.test_configuration_common")
    return modeling, configuration


def _download(version: str, package: Path) -> None:
    with tempfile.TemporaryDirectory() as download_dir:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--quiet"]
        command += [f"transformers=={version}", "-d", download_dir]
        result = subprocess.run(command, capture_output=True, text=True)
        archives = list(Path(download_dir).glob("transformers-*.tar.gz"))
        if result.returncode != 0 or not archives:
            raise RuntimeError(
                f"Could not fetch the transformers {version} sdist for its common tests (`{' '.join(command)}`): "
                f"{result.stderr[-1500:]}"
            )
        package.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archives[0]) as archive:
            for name in FILES:
                member = archive.getmember(f"transformers-{version}/tests/{name}")
                (package / name).write_bytes(archive.extractfile(member).read())
    for relative, text in {"__init__.py": "", **STAND_INS}.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.parent != package:
            (path.parent / "__init__.py").touch()
        path.write_text(text)
