"""Makes a tiny random-weight GPT-2 checkpoint in Hugging Face format, with a tiny byte-level
BPE tokenizer, and the reference outputs of Hugging Face transformers (PyTorch, CPU) on it.

Writes, beside this script:
    tiny_gpt2/config.json, tiny_gpt2/model.safetensors   GPT2LMHeadModel (2 x 32, 2 heads, 64 positions)
    tiny_gpt2/vocab.json, tiny_gpt2/merges.txt           byte-level BPE trained on TEXT (vocab 400)
    hf_gpt2_reference.json   last_hidden_state on a fixed right-padded batch, LM logits at a
                             few real positions, greedy continuations of two prompts, and the
                             token ids of a few sentences

Run once, in an environment with torch, transformers and tokenizers (not project dependencies):
    /work/refvenv/bin/python tests/data/make_hf_gpt2_reference.py

The weights are drawn from a fixed seed with a larger spread than HF's
initializer (std 0.02 would make every block almost the identity and the
comparison weak); LayerNorm scales are drawn around 1.
"""

import json
import os
import shutil
import tempfile

import numpy as np
import tokenizers
import torch
import transformers
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "tiny_gpt2")
SEED = 4321
VOCABULARY_SIZE = 400
EOS = "<|endoftext|>"

# Tokenizer training text (fixed, ASCII): every merge the tokenizer learns comes from here.
TEXT = [
    "The quick brown fox jumps over the lazy dog.",
    "A language model predicts the next token from the tokens before it.",
    "Layer normalization was moved to the input of each sub-block.",
    "It's a small model, trained on nothing, and it talks nonsense; that's fine.",
    "Numbers like 12, 345 and 2024 are split into digits and merged again.",
    "We'll see whether the tokenizer splits words the same way as GPT-2 does.",
    "Attention is all you need, they said, and then they added layer norms.",
    "Byte pair encoding merges the most frequent pair of symbols, again and again.",
] * 4
SENTENCES = ["The quick model talks.", "It's 2024: we'll merge bytes!", "  Spaces,\ttabs and\nnewlines  "]
PROMPTS = ["The language model", "Attention is"]  # greedy continuations start with 2 and 5 valid UTF-8 tokens
NEW_TOKENS = 12
# Right-padded batch: row lengths 7, 10 and 3 of a padded length 10; logits stored at these positions.
LENGTHS = [7, 10, 3]
LOGIT_POSITIONS = [[0, 3, 6], [1, 5, 9], [2, 1, 0]]


def _tokenizer(directory):
    tokenizer = tokenizers.ByteLevelBPETokenizer()
    tokenizer.train_from_iterator(TEXT, vocab_size=VOCABULARY_SIZE, min_frequency=2, special_tokens=[EOS])
    tokenizer.save_model(directory)
    return tokenizer


def _randomize(model, seed):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():  # the tied lm_head appears once (as wte)
            noise = torch.randn(parameter.shape, generator=generator)
            if ".ln_" in name:
                parameter.copy_(1.0 + 0.2 * noise if name.endswith("weight") else 0.1 * noise)
            elif name.endswith("bias"):
                parameter.copy_(0.1 * noise)
            else:
                parameter.copy_(0.2 * noise)


def _batch(pad_id, vocabulary_size, seed):
    rng = np.random.default_rng(seed)
    token_ids = np.full((len(LENGTHS), max(LENGTHS)), pad_id, "int64")
    mask = np.zeros_like(token_ids)
    for i, n in enumerate(LENGTHS):
        token_ids[i, :n] = rng.integers(0, vocabulary_size, size=n)
        mask[i, :n] = 1
    return token_ids, mask


def _greedy_by_hand(model, ids):
    """Argmax of a full forward pass, NEW_TOKENS times: what generate(do_sample=False) must give."""
    ids = torch.tensor([ids])
    with torch.no_grad():
        for _ in range(NEW_TOKENS):
            next_id = model(input_ids=ids).logits[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, next_id], dim=1)
    return ids[0].tolist()


def main():
    torch.manual_seed(SEED)
    shutil.rmtree(TARGET, ignore_errors=True)
    os.makedirs(TARGET)
    bpe = _tokenizer(TARGET)
    eos_id = bpe.token_to_id(EOS)
    config = GPT2Config(
        vocab_size=bpe.get_vocab_size(),
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_inner=None,  # 4 * n_embd
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        attn_implementation="eager",
    )
    model = GPT2LMHeadModel(config).eval()
    _randomize(model, SEED)

    # HF's own tokenizer on the same files must give the ids of the `tokenizers` pipeline.
    hf_tokenizer = GPT2TokenizerFast.from_pretrained(TARGET)
    sentence_ids = [bpe.encode(s).ids for s in SENTENCES]
    assert sentence_ids == [hf_tokenizer(s)["input_ids"] for s in SENTENCES], "tokenizers and transformers disagree"

    token_ids, mask = _batch(eos_id, config.vocab_size, SEED)
    with torch.no_grad():
        out = model(input_ids=torch.tensor(token_ids), attention_mask=torch.tensor(mask), output_hidden_states=True)
    hidden = out.hidden_states[-1].numpy()  # after ln_f
    logits = out.logits.numpy()

    # One prompt at a time: no padding, so no question of HF's left-padding semantics. eos_token_id=None so
    # that an <|endoftext|> does not end the row early (and min_new_tokens would change the argmax).
    generation = GenerationConfig(do_sample=False, max_new_tokens=NEW_TOKENS, eos_token_id=None, pad_token_id=eos_id)
    continuations = []
    for prompt in PROMPTS:
        ids = bpe.encode(prompt).ids
        with torch.no_grad():
            generated = model.generate(
                torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                generation_config=generation,
            )[0].tolist()
        assert generated == _greedy_by_hand(model, ids), "generate(do_sample=False) is not greedy"
        assert len(generated) == len(ids) + NEW_TOKENS
        # A random model emits lone high bytes: the longest continuation that decodes to valid UTF-8
        # (HF writes U+FFFD for the rest) is the reference for generating from a string.
        new_ids = generated[len(ids):]
        valid = max(k for k in range(NEW_TOKENS + 1) if "\ufffd" not in hf_tokenizer.decode(ids + new_ids[:k]))
        continuations.append(
            {
                "prompt": prompt,
                "prompt_ids": ids,
                "token_ids": generated,
                "text": hf_tokenizer.decode(generated),
                "valid_utf8_new_tokens": valid,
                "valid_utf8_text": hf_tokenizer.decode(ids + new_ids[:valid]),
            }
        )

    # reorder_and_upcast_attn only reorders the scaling and computes q k^T in float32: in a float32 model
    # it gives the same logits, which is why the loader accepts it.
    model.config.reorder_and_upcast_attn = True
    for block in model.transformer.h:
        block.attn.reorder_and_upcast_attn = True
    with torch.no_grad():
        reordered = model(input_ids=torch.tensor(token_ids), attention_mask=torch.tensor(mask)).logits.numpy()
    model.config.reorder_and_upcast_attn = False
    real = mask.astype(bool)
    reorder_diff = float(np.abs(reordered - logits)[real].max())
    assert reorder_diff < 1e-5, reorder_diff

    with tempfile.TemporaryDirectory() as scratch:
        model.save_pretrained(scratch, safe_serialization=True)
        for name in ("config.json", "model.safetensors"):
            shutil.copy(os.path.join(scratch, name), os.path.join(TARGET, name))

    references = {
        "source": f"transformers {transformers.__version__}, torch {torch.__version__}, tokenizers "
        f"{tokenizers.__version__}, eager attention, float32; script tests/data/make_hf_gpt2_reference.py",
        "token_ids": token_ids.tolist(),
        "padding_mask": mask.tolist(),
        "last_hidden_state": hidden.tolist(),
        "logit_positions": LOGIT_POSITIONS,
        "logits": [[logits[b, p].tolist() for p in row] for b, row in enumerate(LOGIT_POSITIONS)],
        "greedy": continuations,
        "sentences": [{"text": s, "token_ids": ids} for s, ids in zip(SENTENCES, sentence_ids)],
        "reorder_and_upcast_attn_max_logit_diff": reorder_diff,
    }
    out_path = os.path.join(HERE, "hf_gpt2_reference.json")
    with open(out_path, "w") as f:
        json.dump(references, f)
    for path in [os.path.join(TARGET, f) for f in sorted(os.listdir(TARGET))] + [out_path]:
        print(f"{path}: {os.path.getsize(path)} bytes")
    for c in continuations:
        print(repr(c["text"]), c["token_ids"], c["valid_utf8_new_tokens"])


if __name__ == "__main__":
    main()
