"""T5 presets: architecture arguments only (random weights, no download).

T5: Raffel et al. 2020, section 3.1.1 / 3.7: small 6+6 layers, d=512,
  d_ff=2048, 8 heads (60M); base 12+12, d=768, d_ff=3072, 12 heads (220M);
  the 32,128-entry SentencePiece vocabulary of the released checkpoints,
  tied embeddings. 60.5M and 222.9M here.
"""

T5_PRESETS = {
    "t5_small": dict(vocabulary_size=32128, num_layers=6, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    "t5_base": dict(vocabulary_size=32128, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),
    "t5_tiny": dict(vocabulary_size=1000, num_layers=2, num_heads=2, hidden_dim=64, intermediate_dim=128),
}

# Parameter counts the paper gives (for the preset tests: within 5%).
PAPER_PARAMETERS = {
    "t5_small": 60e6,
    "t5_base": 220e6,
}
