"""Transformer presets: architecture arguments only (random weights, no download).

Transformer: Vaswani et al. 2017, table 3: base N=6, d_model=512, d_ff=2048,
  h=8 (65M parameters) and big d_model=1024, d_ff=4096, h=16 (213M), with the
  WMT14 English-German shared source-target vocabulary of about 37,000 tokens
  (section 5.1) and tied embeddings (section 3.4). These presets count 63.1M
  and 214.2M.
"""

TRANSFORMER_PRESETS = {
    "transformer_base": dict(vocabulary_size=37000, num_layers=6, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    "transformer_big": dict(
        vocabulary_size=37000, num_layers=6, num_heads=16, hidden_dim=1024, intermediate_dim=4096, dropout=0.3
    ),
    # For tests and the synthetic tasks (vocabulary set by the caller).
    "transformer_tiny": dict(vocabulary_size=64, num_layers=2, num_heads=4, hidden_dim=64, intermediate_dim=256),
}

# Parameter counts the paper gives (for the preset tests: within 5%).
PAPER_PARAMETERS = {
    "transformer_base": 65e6,
    "transformer_big": 213e6,
}
