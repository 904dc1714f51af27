"""Makes tiny random-weight ALBERT and RoBERTa checkpoints in Hugging Face format and
the reference outputs of Hugging Face transformers (PyTorch, CPU) on them.

Writes, beside this script:
    tiny_albert/config.json, tiny_albert/model.safetensors    (AlbertForPreTraining)
    tiny_roberta/config.json, tiny_roberta/model.safetensors  (RobertaForMaskedLM)
    hf_encoder_references.json   last_hidden_state on a fixed right-padded batch, MLM
                                 logits at a few real positions, ALBERT's SOP logits

Run once, in an environment with torch and transformers (not project dependencies):
    /work/refvenv/bin/python tests/data/make_hf_encoder_references.py

The weights are drawn from a fixed seed with a larger spread than HF's
initializer (std 0.02 would make every block almost the identity and the
comparison weak); LayerNorm scales are drawn around 1.
"""

import json
import os
import shutil

import numpy as np
import torch
import transformers
from transformers import AlbertConfig, AlbertForPreTraining, RobertaConfig, RobertaForMaskedLM

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 1234

# Right-padded batch: row lengths 9, 12 and 4 of a padded length 12.
LENGTHS = [9, 12, 4]
MASK_POSITIONS = [[1, 4, 8], [0, 6, 11], [3, 2, 1]]


def _randomize(model, seed):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():  # tied parameters appear once
            noise = torch.randn(parameter.shape, generator=generator)
            if "LayerNorm" in name or "layer_norm" in name:
                parameter.copy_(1.0 + 0.2 * noise if name.endswith("weight") else 0.1 * noise)
            elif name.endswith("bias"):
                parameter.copy_(0.1 * noise)
            else:
                parameter.copy_(0.2 * noise)


def _batch(pad_id, low, high, seed, segments):
    rng = np.random.default_rng(seed)
    length = max(LENGTHS)
    token_ids = np.full((len(LENGTHS), length), pad_id, "int64")
    segment_ids = np.zeros_like(token_ids)
    mask = np.zeros_like(token_ids)
    for i, n in enumerate(LENGTHS):
        ids = rng.integers(low, high, size=n)
        ids[ids == pad_id] = high - 1  # never a pad id at a real position
        token_ids[i, :n] = ids
        mask[i, :n] = 1
        if segments:
            segment_ids[i, n // 2 : n] = 1
    return token_ids, segment_ids, mask


def _save(model, name):
    target = os.path.join(HERE, name)
    shutil.rmtree(target, ignore_errors=True)
    model.save_pretrained(target, safe_serialization=True)
    for f in os.listdir(target):  # only config.json + model.safetensors
        if f not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(target, f))
    return target


def _logits_at(logits, positions):
    return [[logits[b, p].tolist() for p in row] for b, row in enumerate(positions)]


def albert():
    torch.manual_seed(SEED)
    config = AlbertConfig(
        vocab_size=100,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=4,
        num_hidden_groups=2,  # layers 0-1 share group 0, layers 2-3 group 1
        inner_group_num=2,  # each group runs two distinct blocks
        num_attention_heads=4,
        intermediate_size=37,
        hidden_act="gelu_new",
        max_position_embeddings=64,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
        pad_token_id=0,
        attn_implementation="eager",
    )
    model = AlbertForPreTraining(config).eval()
    _randomize(model, SEED)
    token_ids, segment_ids, mask = _batch(0, 2, 100, SEED, segments=True)
    with torch.no_grad():
        out = model.albert(
            input_ids=torch.tensor(token_ids), token_type_ids=torch.tensor(segment_ids),
            attention_mask=torch.tensor(mask),
        )
        head = model(
            input_ids=torch.tensor(token_ids), token_type_ids=torch.tensor(segment_ids),
            attention_mask=torch.tensor(mask),
        )
    _save(model, "tiny_albert")
    return {
        "token_ids": token_ids.tolist(),
        "segment_ids": segment_ids.tolist(),
        "padding_mask": mask.tolist(),
        "mask_positions": MASK_POSITIONS,
        "last_hidden_state": out.last_hidden_state.numpy().tolist(),
        "pooler_output": out.pooler_output.numpy().tolist(),
        "mlm_logits": _logits_at(head.prediction_logits.numpy(), MASK_POSITIONS),
        "sop_logits": head.sop_logits.numpy().tolist(),
    }


def roberta():
    torch.manual_seed(SEED + 1)
    config = RobertaConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        hidden_act="gelu",
        max_position_embeddings=64 + 2,  # 64 positions + padding_idx + 1 reserved rows
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        attn_implementation="eager",
    )
    model = RobertaForMaskedLM(config).eval()
    _randomize(model, SEED + 1)
    token_ids, _, mask = _batch(1, 3, 100, SEED + 1, segments=False)
    token_ids[:, 0] = 0  # <s>
    with torch.no_grad():
        out = model.roberta(input_ids=torch.tensor(token_ids), attention_mask=torch.tensor(mask))
        logits = model(input_ids=torch.tensor(token_ids), attention_mask=torch.tensor(mask)).logits
    _save(model, "tiny_roberta")
    return {
        "token_ids": token_ids.tolist(),
        "padding_mask": mask.tolist(),
        "mask_positions": MASK_POSITIONS,
        "last_hidden_state": out.last_hidden_state.numpy().tolist(),
        "mlm_logits": _logits_at(logits.numpy(), MASK_POSITIONS),
    }


def main():
    references = {
        "source": f"transformers {transformers.__version__}, torch {torch.__version__}, eager attention, "
        "float32; script tests/data/make_hf_encoder_references.py",
        "albert": albert(),
        "roberta": roberta(),
    }
    out = os.path.join(HERE, "hf_encoder_references.json")
    with open(out, "w") as f:
        json.dump(references, f)
    for name in ("tiny_albert", "tiny_roberta", "hf_encoder_references.json"):
        path = os.path.join(HERE, name)
        files = [os.path.join(path, f) for f in os.listdir(path)] if os.path.isdir(path) else [path]
        for f in files:
            print(f"{f}: {os.path.getsize(f)} bytes")


if __name__ == "__main__":
    main()
