"""Makes a tiny random-weight BART checkpoint in Hugging Face format, with a tiny byte-level BPE
tokenizer, and the reference outputs of Hugging Face transformers (PyTorch, CPU) on it.

Writes, beside this script:
    tiny_bart/config.json, tiny_bart/model.safetensors   BartForConditionalGeneration (d_model 32,
                                                         2 encoder + 3 decoder layers, 4 heads, ffn 64,
                                                         48 positions), tensors stored in float16
    tiny_bart/vocab.json, tiny_bart/merges.txt           byte-level BPE trained on TEXT (vocab 300,
                                                         <s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=4)
    hf_bart_reference.json   encoder and decoder last_hidden_state and LM logits on a fixed
                             right-padded batch, the same hidden states of the same weights with
                             scale_embedding=True, greedy generations of two sources, and the
                             token ids HF's BartTokenizerFast gives a few sentences

Run once, in an environment with torch, transformers and tokenizers (not project dependencies):
    /work/refvenv/bin/python tests/data/make_hf_bart_reference.py

The weights are drawn from a fixed seed with a larger spread than HF's
initializer (std 0.02 would make every block almost the identity and the
comparison weak); LayerNorm scales are drawn around 1; position tables have
the largest spread (std 0.5), so that a random model's greedy decoding does
not just repeat one token, which would make the generation test weak. They are rounded to
float16 values and stored as float16 (as many released checkpoints are, and
half the size); HF computes the references in float32 from those values.
"""

import json
import os
import shutil
import tempfile

import numpy as np
import tokenizers
import torch
import transformers
from transformers import BartConfig, BartForConditionalGeneration, BartTokenizerFast, GenerationConfig

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "tiny_bart")
SEED = 1234
VOCABULARY_SIZE = 300
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0..4, the layout of the released checkpoints
BOS, PAD, EOS = 0, 1, 2

TEXT = [
    "The quick brown fox jumps over the lazy dog.",
    "A denoising autoencoder reconstructs the text from a corrupted copy.",
    "The encoder reads the whole source; the decoder writes one token at a time.",
    "Summaries are shorter than the articles they summarize, usually.",
    "Translation maps a sentence in one language to a sentence in another.",
] * 4
SENTENCES = ["The quick decoder writes.", "Summaries of 2024, in short!"]
SOURCES = ["The encoder reads the source.", "A quick summary"]  # greedy generations of these
NEW_TOKENS = 8
# Right-padded batch: encoder rows of 11 and 6 real tokens, decoder rows of 4 and 9.
ENCODER_LENGTHS = [11, 6]
DECODER_LENGTHS = [4, 9]
LOGIT_POSITIONS = [[0, 2, 3], [0, 4, 8]]


def _tokenizer(directory):
    tokenizer = tokenizers.ByteLevelBPETokenizer()
    tokenizer.train_from_iterator(TEXT, vocab_size=VOCABULARY_SIZE, min_frequency=2, special_tokens=SPECIAL)
    tokenizer.save_model(directory)
    assert [tokenizer.token_to_id(t) for t in SPECIAL] == list(range(len(SPECIAL)))
    return tokenizer


def _randomize(model, seed):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():  # tied tables appear once (as model.shared)
            noise = torch.randn(parameter.shape, generator=generator)
            if "layer_norm" in name or "layernorm" in name:
                parameter.copy_(1.0 + 0.2 * noise if name.endswith("weight") else 0.1 * noise)
            elif name.endswith("bias"):
                parameter.copy_(0.1 * noise)
            elif "embed_positions" in name:
                parameter.copy_(0.5 * noise)
            else:
                parameter.copy_(0.2 * noise)
            # Stored in float16 (as many released checkpoints are): values HF computes with in float32.
            parameter.copy_(parameter.half().float())


def _rows(lengths, first, vocabulary_size, rng):
    ids = np.full((len(lengths), max(lengths)), PAD, "int64")
    mask = np.zeros_like(ids)
    for i, n in enumerate(lengths):
        ids[i, :n] = rng.integers(len(SPECIAL), vocabulary_size, size=n)
        ids[i, 0] = first
        mask[i, :n] = 1
    return ids, mask


def _greedy_by_hand(model, source_ids, start_id):
    """Argmax of a full forward pass, NEW_TOKENS times: what generate(do_sample=False) must give."""
    source = torch.tensor([source_ids])
    decoder = torch.tensor([[start_id]])
    with torch.no_grad():
        for _ in range(NEW_TOKENS):
            next_id = model(input_ids=source, decoder_input_ids=decoder).logits[:, -1].argmax(-1, keepdim=True)
            decoder = torch.cat([decoder, next_id], dim=1)
    return decoder[0].tolist()


def _outputs(model, batch):
    tensors = {k: torch.tensor(v) for k, v in batch.items()}
    with torch.no_grad():
        base = model.model(**tensors)  # BartModel: its last_hidden_state is the decoder output
        logits = model(**tensors).logits
    return base.encoder_last_hidden_state.numpy(), base.last_hidden_state.numpy(), logits.numpy()


def main():
    torch.manual_seed(SEED)
    shutil.rmtree(TARGET, ignore_errors=True)
    os.makedirs(TARGET)
    bpe = _tokenizer(TARGET)
    config = BartConfig(
        vocab_size=bpe.get_vocab_size(),
        max_position_embeddings=48,
        d_model=32,
        encoder_layers=2,
        decoder_layers=3,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        activation_function="gelu",
        scale_embedding=False,
        pad_token_id=PAD,
        bos_token_id=BOS,
        eos_token_id=EOS,
        decoder_start_token_id=EOS,
        forced_eos_token_id=EOS,
        attn_implementation="eager",
    )
    model = BartForConditionalGeneration(config).eval()
    _randomize(model, SEED)

    # HF's own tokenizer on the same files: <s> tokens </s>.
    hf_tokenizer = BartTokenizerFast.from_pretrained(TARGET)
    sentence_ids = [[BOS] + bpe.encode(s).ids + [EOS] for s in SENTENCES + SOURCES]
    assert sentence_ids == [hf_tokenizer(s)["input_ids"] for s in SENTENCES + SOURCES], "tokenizers disagree"

    rng = np.random.default_rng(SEED)
    encoder_ids, encoder_mask = _rows(ENCODER_LENGTHS, BOS, config.vocab_size, rng)
    decoder_ids, decoder_mask = _rows(DECODER_LENGTHS, EOS, config.vocab_size, rng)
    batch = dict(input_ids=encoder_ids, attention_mask=encoder_mask, decoder_input_ids=decoder_ids,
                 decoder_attention_mask=decoder_mask)
    encoder_hidden, decoder_hidden, logits = _outputs(model, dict(batch))

    # The same weights with scale_embedding=True (token embeddings times sqrt(d_model)).
    scaled_config = BartConfig.from_dict({**config.to_dict(), "scale_embedding": True})
    scaled = BartForConditionalGeneration(scaled_config).eval()
    scaled.load_state_dict(model.state_dict())
    scaled_encoder, scaled_decoder, _ = _outputs(scaled, dict(batch))
    assert np.abs(scaled_encoder - encoder_hidden).max() > 1e-2

    # One source at a time (no padding). eos_token_id=None and forced_eos_token_id=None so that a
    # </s> neither ends the row early nor is forced at the last step: plain argmax decoding.
    generation = GenerationConfig(
        do_sample=False, num_beams=1, max_new_tokens=NEW_TOKENS, eos_token_id=None, forced_eos_token_id=None,
        forced_bos_token_id=None, pad_token_id=PAD, decoder_start_token_id=EOS,
    )
    model.generation_config.forced_eos_token_id = None
    model.generation_config.eos_token_id = None
    greedy = []
    for source in SOURCES:
        ids = hf_tokenizer(source)["input_ids"]
        with torch.no_grad():
            generated = model.generate(
                torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                generation_config=generation,
            )[0].tolist()
        assert generated == _greedy_by_hand(model, ids, EOS), ("generate(do_sample=False) is not greedy", generated)
        assert len(generated) == 1 + NEW_TOKENS
        # Up to the first </s> (excluded), as a Seq2SeqLM given strings stops and detokenizes.
        new_ids = generated[1:]
        stop = new_ids.index(EOS) if EOS in new_ids else len(new_ids)
        text_ids = [t for t in new_ids[:stop] if t != PAD]
        greedy.append(
            {
                "source": source,
                "source_ids": ids,
                "token_ids": generated,
                "text_token_ids": text_ids,
                "text": hf_tokenizer.decode(text_ids, skip_special_tokens=False, clean_up_tokenization_spaces=False),
            }
        )

    with tempfile.TemporaryDirectory() as scratch:
        model.half().save_pretrained(scratch, safe_serialization=True)
        for name in ("config.json", "model.safetensors"):
            shutil.copy(os.path.join(scratch, name), os.path.join(TARGET, name))

    real_encoder, real_decoder = encoder_mask.astype(bool), decoder_mask.astype(bool)
    references = {
        "source": f"transformers {transformers.__version__}, torch {torch.__version__}, tokenizers "
        f"{tokenizers.__version__}, eager attention, float32; script tests/data/make_hf_bart_reference.py",
        "encoder_token_ids": encoder_ids.tolist(),
        "encoder_padding_mask": encoder_mask.tolist(),
        "decoder_token_ids": decoder_ids.tolist(),
        "decoder_padding_mask": decoder_mask.tolist(),
        "encoder_last_hidden_state": encoder_hidden.tolist(),
        "decoder_last_hidden_state": decoder_hidden.tolist(),
        "logit_positions": LOGIT_POSITIONS,
        "logits": [[logits[b, p].tolist() for p in row] for b, row in enumerate(LOGIT_POSITIONS)],
        "scale_embedding": {
            "encoder_last_hidden_state": scaled_encoder.tolist(),
            "decoder_last_hidden_state": scaled_decoder.tolist(),
        },
        "greedy": greedy,
        "sentences": [{"text": s, "token_ids": ids} for s, ids in zip(SENTENCES + SOURCES, sentence_ids)],
    }
    out_path = os.path.join(HERE, "hf_bart_reference.json")
    with open(out_path, "w") as f:
        json.dump(references, f)
    for path in [os.path.join(TARGET, f) for f in sorted(os.listdir(TARGET))] + [out_path]:
        print(f"{path}: {os.path.getsize(path)} bytes")
    print("encoder hidden std", encoder_hidden[real_encoder].std(), "decoder", decoder_hidden[real_decoder].std())
    print("logits std", logits[real_decoder].std())
    for g in greedy:
        print(g["token_ids"], repr(g["text"]))


if __name__ == "__main__":
    main()
