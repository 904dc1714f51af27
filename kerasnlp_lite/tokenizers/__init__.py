"""Tokenizers (WordPiece, SentencePiece, byte-level BPE), vocabulary training and packers."""

from kerasnlp_lite.tokenizers.tokenizer import Tokenizer
from kerasnlp_lite.tokenizers.byte_bpe_tokenizer import ByteBPETokenizer
from kerasnlp_lite.tokenizers.sentence_piece_tokenizer import SentencePieceTokenizer
from kerasnlp_lite.tokenizers.sentence_piece_trainer import train_sentencepiece
from kerasnlp_lite.tokenizers.packers import SegmentPacker, StartEndPacker
from kerasnlp_lite.tokenizers.word_piece_tokenizer import WordPieceTokenizer
from kerasnlp_lite.tokenizers.word_piece_trainer import train_wordpiece_vocabulary
