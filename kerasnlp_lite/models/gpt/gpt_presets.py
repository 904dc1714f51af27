"""GPT presets: architecture arguments only (random weights, no download).

GPT-1: Radford et al. 2018 (section 4.1): 12 post-LN blocks, 768 wide, 12
heads, 3072 feed-forward, 512 positions, a 40,478-token BPE vocabulary.
GPT-2: Radford et al. 2019 (table 2), with the 50,257-token byte-level BPE
vocabulary and 1024 positions. The paper's sizes (117M, 345M, 762M, 1542M)
were counted without some embeddings; the released checkpoints have 124M,
355M, 774M and 1558M parameters, which these presets reproduce.
"""

_GPT1 = {"vocabulary_size": 40478, "max_sequence_length": 512, "norm_first": False, "final_norm": False}
_GPT2 = {"vocabulary_size": 50257, "max_sequence_length": 1024, "norm_first": True, "final_norm": True}

GPT_PRESETS = {
    "gpt1": dict(_GPT1, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),  # 117M
    "gpt2_small": dict(_GPT2, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),  # 124M
    "gpt2_medium": dict(_GPT2, num_layers=24, num_heads=16, hidden_dim=1024, intermediate_dim=4096),  # 355M
    "gpt2_large": dict(_GPT2, num_layers=36, num_heads=20, hidden_dim=1280, intermediate_dim=5120),  # 774M
    "gpt2_xl": dict(_GPT2, num_layers=48, num_heads=25, hidden_dim=1600, intermediate_dim=6400),  # 1558M
}

# Small presets for smoke tests and CPU training runs (`kerasnlp-lite train --model gpt2_tiny`): the
# GPT-2 block layout at the width of `bert_tiny` (Turc et al. 2019). With the 50,257 vocabulary:
# 6.96M parameters, 0.53M of them outside the token table; the train command swaps in the size of its
# own vocabulary.
GPT_PRESETS["gpt2_tiny"] = dict(_GPT2, num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512)
