"""Encoder-decoder presets: architecture arguments only (random weights, no download).

- Transformer: Vaswani et al. 2017, table 3: base N=6, d_model=512, d_ff=2048,
  h=8 (65M parameters) and big d_model=1024, d_ff=4096, h=16 (213M), with the
  WMT14 English-German shared source-target vocabulary of about 37,000 tokens
  (section 5.1) and tied embeddings (section 3.4). These presets count 63.1M
  and 214.2M.
- BART: Lewis et al. 2020, section 2.1 / 3.1: base 6+6 layers, d=768 (140M);
  large 12+12 layers, d=1024 (400M); the GPT-2 byte-level BPE vocabulary of
  the released checkpoints (50,265 tokens) and 1024 positions. 139.4M and
  406.3M here (the released checkpoints have the same counts).
- T5: Raffel et al. 2020, section 3.1.1 / 3.7: small 6+6 layers, d=512,
  d_ff=2048, 8 heads (60M); base 12+12, d=768, d_ff=3072, 12 heads (220M);
  the 32,128-entry SentencePiece vocabulary of the released checkpoints,
  tied embeddings. 60.5M and 222.9M here.
"""

TRANSFORMER_PRESETS = {
    "transformer_base": dict(vocabulary_size=37000, num_layers=6, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    "transformer_big": dict(
        vocabulary_size=37000, num_layers=6, num_heads=16, hidden_dim=1024, intermediate_dim=4096, dropout=0.3
    ),
    # For tests and the synthetic tasks (vocabulary set by the caller).
    "transformer_tiny": dict(vocabulary_size=64, num_layers=2, num_heads=4, hidden_dim=64, intermediate_dim=256),
}

BART_PRESETS = {
    "bart_base": dict(vocabulary_size=50265, num_layers=6, num_heads=12, hidden_dim=768, intermediate_dim=3072),
    "bart_large": dict(vocabulary_size=50265, num_layers=12, num_heads=16, hidden_dim=1024, intermediate_dim=4096),
    "bart_tiny": dict(vocabulary_size=1000, num_layers=2, num_heads=2, hidden_dim=64, intermediate_dim=128,
                      max_sequence_length=128),
}

T5_PRESETS = {
    "t5_small": dict(vocabulary_size=32128, num_layers=6, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    "t5_base": dict(vocabulary_size=32128, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),
    "t5_tiny": dict(vocabulary_size=1000, num_layers=2, num_heads=2, hidden_dim=64, intermediate_dim=128),
}

# Parameter counts the papers give (for the preset tests: within 5%).
PAPER_PARAMETERS = {
    "transformer_base": 65e6,
    "transformer_big": 213e6,
    "bart_base": 140e6,
    "bart_large": 400e6,
    "t5_small": 60e6,
    "t5_base": 220e6,
}
