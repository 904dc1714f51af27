"""BERT presets: architecture arguments only (random weights, no download).

Sizes from Devlin et al. 2019 (base, large) and Turc et al. 2019 (tiny..medium).
"""

_BERT = {"vocabulary_size": 30522, "max_sequence_length": 512, "num_segments": 2}

BERT_PRESETS = {
    "bert_tiny": dict(_BERT, num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512),
    "bert_mini": dict(_BERT, num_layers=4, num_heads=4, hidden_dim=256, intermediate_dim=1024),
    "bert_small": dict(_BERT, num_layers=4, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    "bert_medium": dict(_BERT, num_layers=8, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    "bert_base": dict(_BERT, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),  # 110M
    "bert_large": dict(_BERT, num_layers=24, num_heads=16, hidden_dim=1024, intermediate_dim=4096),  # 340M
}
