"""ALBERT presets: architecture arguments only (random weights, no download).

Sizes from Lan et al. 2019, table 1 (E = 128, V = 30000, all layers shared in one group).
"""

_ALBERT = {"vocabulary_size": 30000, "embedding_dim": 128, "max_sequence_length": 512, "num_segments": 2}

ALBERT_PRESETS = {
    "albert_base": dict(_ALBERT, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),  # 12M
    "albert_large": dict(_ALBERT, num_layers=24, num_heads=16, hidden_dim=1024, intermediate_dim=4096),  # 18M
    "albert_xlarge": dict(_ALBERT, num_layers=24, num_heads=32, hidden_dim=2048, intermediate_dim=8192),  # 60M
    "albert_xxlarge": dict(_ALBERT, num_layers=12, num_heads=64, hidden_dim=4096, intermediate_dim=16384),  # 235M
}
