"""hftop: a terminal dashboard for Hugging Face Hub downloads and the local Hugging Face cache."""

__version__ = "0.1.0"
