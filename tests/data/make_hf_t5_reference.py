"""Makes a tiny random-weight T5 (v1.0) checkpoint in Hugging Face format and the reference outputs
of Hugging Face transformers (PyTorch, CPU) on it.

Writes, beside this script:
    tiny_t5/config.json, tiny_t5/model.safetensors   T5ForConditionalGeneration (d_model 32, d_kv 6
                                                     x 4 heads (inner 24 != d_model), d_ff 48,
                                                     2 encoder + 3 decoder blocks, ReLU, tied
                                                     embeddings, 8 buckets up to distance 16)
    hf_t5_reference.json   encoder and decoder last_hidden_state and LM logits on a fixed right-padded
                           batch (rows long enough for the logarithmic buckets and for distances
                           past max_distance), and greedy generations of two sources

Run once, in an environment with torch and transformers (not project dependencies):
    /work/refvenv/bin/python tests/data/make_hf_t5_reference.py

The weights are drawn from a fixed seed with a larger spread than HF's
initializer: the relative attention biases are N(0, 3^2), so that every
bucket moves the outputs, and the sub-blocks' output projections N(0, 1), so
that they outweigh the residual token embedding (with tied embeddings a
random model otherwise repeats its input token forever and greedy decoding
tests little); RMS norm scales are drawn around 1. No tokenizer: T5's is
SentencePiece.
"""

import json
import os
import shutil
import tempfile

import numpy as np
import torch
import transformers
from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "tiny_t5")
SEED = 2468
PAD, EOS, START = 0, 1, 0  # T5's layout: <pad>=0 (also the decoder start), </s>=1, <unk>=2
NUM_BUCKETS, MAX_DISTANCE = 8, 16
NEW_TOKENS = 8
# Right-padded batch: encoder rows of 21 and 7 real tokens (distances up to 20 > MAX_DISTANCE),
# decoder rows of 18 and 5.
ENCODER_LENGTHS = [21, 7]
DECODER_LENGTHS = [18, 5]
LOGIT_POSITIONS = [[0, 9, 17], [0, 2, 4]]
SOURCES = [[37, 5, 88, 12, 1], [64, 3, 99, 23, 45, 70, 8, 51, 1]]  # ids, ending with </s>


def _randomize(model, seed):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():  # tied tables appear once (as shared)
            noise = torch.randn(parameter.shape, generator=generator)
            if "layer_norm" in name:
                parameter.copy_(1.0 + 0.2 * noise)
            elif "relative_attention_bias" in name:
                parameter.copy_(3.0 * noise)
            elif name == "shared.weight":
                parameter.copy_(noise)
            elif name.endswith(".q.weight"):
                parameter.copy_(0.1 * noise)  # no 1/sqrt(d_kv) in T5's logits
            elif name.endswith((".o.weight", ".wo.weight")):
                parameter.copy_(noise)
            else:
                parameter.copy_(0.5 * noise)


def _rows(lengths, first, vocabulary_size, rng):
    ids = np.full((len(lengths), max(lengths)), PAD, "int64")
    mask = np.zeros_like(ids)
    for i, n in enumerate(lengths):
        ids[i, :n] = rng.integers(3, vocabulary_size, size=n)
        if first is not None:
            ids[i, 0] = first
        mask[i, :n] = 1
    return ids, mask


def _greedy_by_hand(model, source_ids):
    source = torch.tensor([source_ids])
    decoder = torch.tensor([[START]])
    with torch.no_grad():
        for _ in range(NEW_TOKENS):
            next_id = model(input_ids=source, decoder_input_ids=decoder).logits[:, -1].argmax(-1, keepdim=True)
            decoder = torch.cat([decoder, next_id], dim=1)
    return decoder[0].tolist()


def main():
    torch.manual_seed(SEED)
    shutil.rmtree(TARGET, ignore_errors=True)
    os.makedirs(TARGET)
    config = T5Config(
        vocab_size=128,
        d_model=32,
        d_kv=6,
        d_ff=48,
        num_layers=2,
        num_decoder_layers=3,
        num_heads=4,
        relative_attention_num_buckets=NUM_BUCKETS,
        relative_attention_max_distance=MAX_DISTANCE,
        feed_forward_proj="relu",
        layer_norm_epsilon=1e-6,
        pad_token_id=PAD,
        eos_token_id=EOS,
        decoder_start_token_id=START,
        tie_word_embeddings=True,
        attn_implementation="eager",
    )
    model = T5ForConditionalGeneration(config).eval()
    assert model.config.scale_decoder_outputs  # v1.0: logits of d_model^-1/2 * h
    _randomize(model, SEED)

    rng = np.random.default_rng(SEED)
    encoder_ids, encoder_mask = _rows(ENCODER_LENGTHS, None, config.vocab_size, rng)
    decoder_ids, decoder_mask = _rows(DECODER_LENGTHS, START, config.vocab_size, rng)
    tensors = dict(input_ids=encoder_ids, attention_mask=encoder_mask, decoder_input_ids=decoder_ids,
                   decoder_attention_mask=decoder_mask)
    tensors = {k: torch.tensor(v) for k, v in tensors.items()}
    with torch.no_grad():
        base = T5ForConditionalGeneration.forward(model, **tensors)
        encoder_hidden = base.encoder_last_hidden_state.numpy()
        # The decoder stack's output (after its final RMS norm), before the d_model^-1/2 scale.
        decoder_hidden = model.decoder(
            input_ids=tensors["decoder_input_ids"], attention_mask=tensors["decoder_attention_mask"],
            encoder_hidden_states=base.encoder_last_hidden_state, encoder_attention_mask=tensors["attention_mask"],
            use_cache=False,
        ).last_hidden_state.numpy()
        logits = base.logits.numpy()
    # The logits are the scaled decoder output through the shared table.
    shared = model.shared.weight.detach().numpy()
    assert np.allclose(decoder_hidden * config.d_model**-0.5 @ shared.T, logits, atol=1e-4)

    # use_cache=False: transformers 5.24 sizes the decoder's DynamicCache by config.num_layers (the
    # encoder's 2), so cached generation fails (IndexError) when num_decoder_layers differs.
    generation = GenerationConfig(
        do_sample=False, num_beams=1, max_new_tokens=NEW_TOKENS, eos_token_id=None, pad_token_id=PAD,
        decoder_start_token_id=START, use_cache=False,
    )
    model.generation_config.eos_token_id = None
    greedy = []
    for ids in SOURCES:
        with torch.no_grad():
            generated = model.generate(
                torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                generation_config=generation,
            )[0].tolist()
        assert generated == _greedy_by_hand(model, ids), ("generate(do_sample=False) is not greedy", generated)
        assert len(generated) == 1 + NEW_TOKENS
        greedy.append({"source_ids": ids, "token_ids": generated})

    with tempfile.TemporaryDirectory() as scratch:
        model.save_pretrained(scratch, safe_serialization=True)
        for name in ("config.json", "model.safetensors"):
            shutil.copy(os.path.join(scratch, name), os.path.join(TARGET, name))

    real_encoder, real_decoder = encoder_mask.astype(bool), decoder_mask.astype(bool)
    references = {
        "source": f"transformers {transformers.__version__}, torch {torch.__version__}, eager attention, float32; "
        "script tests/data/make_hf_t5_reference.py",
        "encoder_token_ids": encoder_ids.tolist(),
        "encoder_padding_mask": encoder_mask.tolist(),
        "decoder_token_ids": decoder_ids.tolist(),
        "decoder_padding_mask": decoder_mask.tolist(),
        "encoder_last_hidden_state": encoder_hidden.tolist(),
        "decoder_last_hidden_state": decoder_hidden.tolist(),
        "logit_positions": LOGIT_POSITIONS,
        "logits": [[logits[b, p].tolist() for p in row] for b, row in enumerate(LOGIT_POSITIONS)],
        "greedy": greedy,
    }
    out_path = os.path.join(HERE, "hf_t5_reference.json")
    with open(out_path, "w") as f:
        json.dump(references, f)
    for path in [os.path.join(TARGET, f) for f in sorted(os.listdir(TARGET))] + [out_path]:
        print(f"{path}: {os.path.getsize(path)} bytes")
    print("encoder hidden std", encoder_hidden[real_encoder].std(), "decoder", decoder_hidden[real_decoder].std())
    print("logits std", logits[real_decoder].std())
    for g in greedy:
        print(g["token_ids"])


if __name__ == "__main__":
    main()
