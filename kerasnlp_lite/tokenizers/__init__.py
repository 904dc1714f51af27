"""Tokenizers (WordPiece, SentencePiece, byte-level BPE), vocabulary training and packers."""

from kerasnlp_lite.tokenizers.tokenizer import Tokenizer
