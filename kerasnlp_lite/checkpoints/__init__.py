"""Reading other libraries' weights: Hugging Face format directories (safetensors only)."""

from kerasnlp_lite.checkpoints.hf import from_hf, from_hf_tokenizer
