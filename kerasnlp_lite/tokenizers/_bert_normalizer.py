"""A BERT text normalizer model for tf-text's `FastBertNormalizer` op.

tf-text's built-in normalizer model (`lower_case_nfd_strip_accents=True`)
case-folds with ICU's NFKC_Casefold and turns control characters into spaces.
The reference BERT tokenizers that checkpoints ship (HF `tokenizers`'
`BertNormalizer` + `BertPreTokenizer`, and google-research/bert
`tokenization.py`) instead delete control, format, private-use and
unassigned characters, lower-case without NFKC (so "ﬁ", "²" or full-width
letters are kept, not folded), and strip only nonspacing marks (Mn). On
every codepoint of Unicode this changes about 146k of them.

`FastBertNormalizer` is a codepoint -> string map stored as a darts-clone
double-array trie in a flatbuffer (`fast_bert_normalizer_model.fbs` in
tf-text). We build that flatbuffer here from Python's `unicodedata`, with
the reference rules, and fold BERT's pre-tokenization into the map: every
whitespace character becomes " " and every punctuation or CJK character c
becomes " c ", so the words are exactly the runs between ASCII spaces. The
op (and its TFLite kernel) then normalizes exactly as the reference does,
one codepoint at a time.

Per-codepoint mapping is exact for the reference rules except canonical
reordering across characters, which only matters for combining marks that
are not stripped (spacing marks Mc with a nonzero combining class): rare.
"""

import functools
import unicodedata

import numpy as np

# Bits of the encoded value (tensorflow_text/core/kernels/fast_bert_normalizer.h).
_DIFFERENT_MASK = 0x40000000
_LENGTH_BITS = 6
_MAX_MAPPED_BYTES = (1 << _LENGTH_BITS) - 1


def _is_whitespace(char):
    # Rust's `char::is_whitespace` (the Unicode White_Space property), as
    # HF tokenizers uses; BERT's " \t\n\r" and Zs are a subset of it.
    return char in "\t\n\r " or char in "\x0b\x0c\x85\u2028\u2029" or unicodedata.category(char) == "Zs"


def _is_control(char):
    # HF `is_control`: any "other" category (Cc, Cf, Cs, Co, Cn), except the
    # three whitespace controls.
    if char in "\t\n\r":
        return False
    return unicodedata.category(char).startswith("C")


def _is_punctuation(char):
    # BERT counts all non-alphanumeric ASCII as punctuation ("$", "^", "`"
    # are not Unicode P*), plus every Unicode punctuation category.
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_chinese_char(code):
    # The CJK Unified Ideographs blocks of google-research/bert tokenization.py.
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def normalize_char(char, lowercase):
    """The reference normalization + pre-tokenization of one character.

    Order as in HF's BertNormalizer: clean text, pad CJK, (NFD and strip Mn),
    lower-case; then BertPreTokenizer's split on whitespace and punctuation,
    written as spaces.
    """
    code = ord(char)
    if code == 0 or code == 0xFFFD or _is_control(char):
        return ""
    if _is_whitespace(char):
        return " "
    if _is_chinese_char(code):
        return f" {char} "
    text = char
    if lowercase:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        # Per character: `str.lower` on one char has no final-sigma context,
        # like Rust's `char::to_lowercase` that HF applies char by char.
        text = "".join(c.lower() for c in text)
    out = []
    for c in text:
        if _is_whitespace(c):
            out.append(" ")
        elif _is_punctuation(c) or _is_chinese_char(ord(c)):
            out.append(f" {c} ")
        else:
            out.append(c)
    return "".join(out)


def _build_double_array(keys, values):
    """A darts-clone double array (uint32 units) mapping byte keys to values.

    Unit layout (darts-clone, read by tf-text's darts_clone_trie_wrapper.h):
    bits 0-7 label, bit 8 has_leaf, bit 9 offset scale, bits 10-31 offset
    to the children block; a leaf unit is `value | 1 << 31` at offset ^ 0.
    Identical subtrees are shared (as darts-clone's DAWG does), which keeps
    the ~1M codepoints mapped to "" (unassigned, private use) compact.
    """
    # Trie as nested dicts; key bytes are never 0 (label 0 marks the leaf).
    root = {}
    for key, value in zip(keys, values):
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value

    # Hash-cons bottom-up: unique node id per (value, children) signature.
    signature_to_id = {}
    blocks = []  # unique id -> (value or None, [(label, child unique id)])

    def intern(node):
        children = tuple(sorted((label, intern(child)) for label, child in node.items() if label is not None))
        signature = (node.get(None), children)
        if signature not in signature_to_id:
            signature_to_id[signature] = len(blocks)
            blocks.append(signature)
        return signature_to_id[signature]

    root_id = intern(root)

    # Place each unique block at a unique base so that base ^ label is free
    # for each of its labels (0 for the leaf).
    size = 1 << 12
    used = np.zeros(size, dtype=bool)
    used[0] = True  # the root unit
    used_bases = set()
    bases = [0] * len(blocks)
    next_free = 1
    for block_id in sorted(range(len(blocks)), key=lambda i: -len(blocks[i][1])):
        value, children = blocks[block_id]
        labels = ([0] if value is not None else []) + [label for label, _ in children]
        while next_free < size and used[next_free]:
            next_free += 1
        position = next_free
        while True:
            base = position ^ labels[0]
            if base not in used_bases:
                if base | 0xFF >= size:
                    grow = max(size, base | 0xFF) * 2
                    used = np.concatenate([used, np.zeros(grow - size, dtype=bool)])
                    size = grow
                if not any(used[base ^ label] for label in labels):
                    break
            position += 1
            while position < size and used[position]:
                position += 1
        used_bases.add(base)
        bases[block_id] = base
        for label in labels:
            used[base ^ label] = True

    length = int(np.flatnonzero(used).max()) + 1
    if length >= 1 << 21:
        raise ValueError("The normalizer trie is too large for darts-clone offsets.")
    units = np.zeros(length, dtype=np.uint32)

    def unit_for(position, block_id, label):
        value = blocks[block_id][0]
        offset = position ^ bases[block_id]
        return (offset << 10) | ((value is not None) << 8) | label

    units[0] = unit_for(0, root_id, 0)
    for block_id, (value, children) in enumerate(blocks):
        base = bases[block_id]
        if value is not None:
            units[base] = value | 0x80000000
        for label, child_id in children:
            units[base ^ label] = unit_for(base ^ label, child_id, label)
    return units


def _flatbuffer(trie_units, data_for_codepoint_zero, pool, lowercase):
    """Serializes `FastBertNormalizerModel` (fields: lower_case_nfd_strip_accents,
    trie_array, data_for_codepoint_zero, normalized_string_pool)."""
    import flatbuffers

    builder = flatbuffers.Builder(len(pool) + 4 * len(trie_units) + 1024)
    pool_offset = builder.CreateNumpyVector(np.frombuffer(pool, dtype=np.uint8))
    trie_offset = builder.CreateNumpyVector(trie_units.astype("<u4"))
    builder.StartObject(4)
    builder.PrependBoolSlot(0, lowercase, False)
    builder.PrependUOffsetTRelativeSlot(1, trie_offset, 0)
    builder.PrependInt32Slot(2, data_for_codepoint_zero, 0)
    builder.PrependUOffsetTRelativeSlot(3, pool_offset, 0)
    model = builder.EndObject()
    builder.Finish(model)
    return bytes(builder.Output())


@functools.lru_cache(maxsize=4)
def build_normalizer_model(lowercase):
    """Flatbuffer bytes of a `FastBertNormalizer` model with reference BERT rules."""
    pool = bytearray()
    pool_offsets = {}
    keys, values = [], []
    data_for_zero = 0
    for code in range(0x110000):
        if 0xD800 <= code < 0xE000:
            continue  # surrogates are not valid UTF-8
        char = chr(code)
        mapped = normalize_char(char, lowercase)
        if mapped == char:
            continue
        encoded = mapped.encode("utf-8")
        if len(encoded) > _MAX_MAPPED_BYTES:
            raise ValueError(f"Normalized form of U+{code:04X} is longer than {_MAX_MAPPED_BYTES} bytes.")
        data = _DIFFERENT_MASK
        if encoded:
            if encoded not in pool_offsets:
                pool_offsets[encoded] = len(pool)
                pool += encoded
            data |= len(encoded) | (pool_offsets[encoded] << _LENGTH_BITS)
        if code == 0:
            data_for_zero = data
            continue
        keys.append(char.encode("utf-8"))
        values.append(data)
    units = _build_double_array(keys, values)
    return _flatbuffer(units, data_for_zero, bytes(pool), lowercase)
