"""BART presets: architecture arguments only (random weights, no download).

BART: Lewis et al. 2020, section 2.1 / 3.1: base 6+6 layers, d=768 (140M);
  large 12+12 layers, d=1024 (400M); the GPT-2 byte-level BPE vocabulary of
  the released checkpoints (50,265 tokens) and 1024 positions. 139.4M and
  406.3M here (the released checkpoints have the same counts).
"""

BART_PRESETS = {
    "bart_base": dict(vocabulary_size=50265, num_layers=6, num_heads=12, hidden_dim=768, intermediate_dim=3072),
    "bart_large": dict(vocabulary_size=50265, num_layers=12, num_heads=16, hidden_dim=1024, intermediate_dim=4096),
    "bart_tiny": dict(vocabulary_size=1000, num_layers=2, num_heads=2, hidden_dim=64, intermediate_dim=128,
                      max_sequence_length=128),
}

# Parameter counts the paper gives (for the preset tests: within 5%).
PAPER_PARAMETERS = {
    "bart_base": 140e6,
    "bart_large": 400e6,
}
