from pathlib import Path

from setuptools import find_packages, setup


version = {}
for line in Path("src/hf_han/__init__.py").read_text().splitlines():
    if line.startswith("__version__"):
        exec(line, version)

setup(
    name="hf-han",
    version=version["__version__"],
    description="Hierarchical Attention Networks for document classification, native to Hugging Face Transformers",
    long_description=Path("README.md").read_text(encoding="utf-8") if Path("README.md").exists() else "",
    long_description_content_type="text/markdown",
    package_dir={"": "src"},
    packages=find_packages("src"),
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.4",
        "transformers>=5,<6",
        "tokenizers>=0.22,<0.24",
        "huggingface_hub>=1.0",
        "safetensors>=0.4",
        "numpy>=1.24",
        "regex>=2023.0",  # Unicode properties for the word rules (a dependency of transformers too)
        "jinja2>=3",  # model cards are rendered from a template by huggingface_hub
    ],
    extras_require={
        "train": ["datasets>=3", "accelerate>=1.0", "scikit-learn>=1.3", "gensim>=4.3"],  # gensim: skip-gram vectors
        "viz": ["matplotlib>=3.7"],
        "vectors": ["gensim>=4.3"],
        "languages": ["sentencex>=1.0"],  # sentences by a language's rules (HANTokenizer(language=...))
        "onnx": ["onnx>=1.17", "onnxruntime>=1.20", "onnxscript>=0.7", "onnx-ir>=1.0"],  # hf_han.export, serving
        "demo": ["gradio>=5", "matplotlib>=3.7"],  # python -m hf_han.demo, and Spaces written by it
        "dev": [
            "datasets>=3",
            "accelerate>=1.0",
            "scikit-learn>=1.3",
            "matplotlib>=3.7",
            "gensim>=4.3",
            "sentencex>=1.0",
            "onnx>=1.17",
            "onnxruntime>=1.20",
            "onnxscript>=0.7",
            "onnx-ir>=1.0",
            "gradio>=5",
            "gradio_client>=1",
            "selenium>=4.20",  # the demo's browser test (with Debian's chromium and chromium-driver; skipped without)
            "nltk>=3.8",  # the tokenizer benchmark's baseline
            "parameterized>=0.9",  # imported by transformers' common model tests
            "pytest>=8",
            "pytest-timeout>=2",
            "ruff>=0.17,<0.18",
        ],
    },
    license="Apache-2.0",
    license_files=["LICENSE"],
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
