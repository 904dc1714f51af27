"""RoBERTa presets: architecture arguments only (random weights, no download).

Sizes from Liu et al. 2019 (BERT-base/large shapes, byte-level BPE vocabulary of 50265).
"""

_ROBERTA = {"vocabulary_size": 50265, "max_sequence_length": 512, "pad_token_id": 1}

ROBERTA_PRESETS = {
    "roberta_base": dict(_ROBERTA, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),  # 125M
    "roberta_large": dict(_ROBERTA, num_layers=24, num_heads=16, hidden_dim=1024, intermediate_dim=4096),  # 355M
}
