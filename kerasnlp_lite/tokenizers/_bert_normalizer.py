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

import bisect
import functools
import unicodedata

import numpy as np

# Bits of the encoded value (tensorflow_text/core/kernels/fast_bert_normalizer.h).
_DIFFERENT_MASK = 0x40000000
_LENGTH_BITS = 6
_MAX_MAPPED_BYTES = (1 << _LENGTH_BITS) - 1


# The reference tokenizer (HF `tokenizers`) classifies characters with older
# Unicode tables (the `unicode_categories` crate) than Python 3.11's
# `unicodedata` (Unicode 14). These marks, punctuation and format characters
# were assigned after those tables, so the reference treats them as ordinary
# characters (kept, not split): found by tokenizing every codepoint with both
# and comparing. Three characters changed category since: U+166D (Po -> So),
# U+1734 (Mn -> Mc) and U+111C9 (Po -> Mn).
_REFERENCE_PLAIN_RANGES = (
    (0x61D, 0x61D), (0x7FD, 0x7FD), (0x890, 0x891), (0x898, 0x89F), (0x8CA, 0x8E2), (0x9FD, 0x9FE),
    (0xA76, 0xA76), (0xAFA, 0xAFF), (0xB55, 0xB55), (0xC04, 0xC04), (0xC3C, 0xC3C), (0xC77, 0xC77),
    (0xC84, 0xC84), (0xD00, 0xD00), (0xD3B, 0xD3C), (0xD81, 0xD81), (0xEBA, 0xEBA), (0x180F,
    0x180F), (0x1885, 0x1886), (0x1ABF, 0x1ACE), (0x1B7D, 0x1B7E), (0x1DF6, 0x1DFB), (0x2E43,
    0x2E4F), (0x2E52, 0x2E5D), (0xA82C, 0xA82C), (0xA8C5, 0xA8C5), (0xA8FF, 0xA8FF), (0xA9BD,
    0xA9BD), (0x10D24, 0x10D27), (0x10EAB, 0x10EAD), (0x10F46, 0x10F50), (0x10F55, 0x10F59),
    (0x10F82, 0x10F89), (0x11070, 0x11070), (0x11073, 0x11074), (0x110C2, 0x110C2), (0x110CD,
    0x110CD), (0x111C9, 0x111C9), (0x111CF, 0x111CF), (0x1123E, 0x1123E), (0x1133B, 0x1133B),
    (0x11438, 0x1143F), (0x11442, 0x11444), (0x11446, 0x11446), (0x1144B, 0x1144F), (0x1145A,
    0x1145B), (0x1145D, 0x1145E), (0x11660, 0x1166C), (0x116B9, 0x116B9), (0x1182F, 0x11837),
    (0x11839, 0x1183B), (0x1193B, 0x1193C), (0x1193E, 0x1193E), (0x11943, 0x11946), (0x119D4,
    0x119D7), (0x119DA, 0x119DB), (0x119E0, 0x119E0), (0x119E2, 0x119E2), (0x11A01, 0x11A0A),
    (0x11A33, 0x11A38), (0x11A3B, 0x11A47), (0x11A51, 0x11A56), (0x11A59, 0x11A5B), (0x11A8A,
    0x11A96), (0x11A98, 0x11A9C), (0x11A9E, 0x11AA2), (0x11C30, 0x11C36), (0x11C38, 0x11C3D),
    (0x11C3F, 0x11C3F), (0x11C41, 0x11C45), (0x11C70, 0x11C71), (0x11C92, 0x11CA7), (0x11CAA,
    0x11CB0), (0x11CB2, 0x11CB3), (0x11CB5, 0x11CB6), (0x11D31, 0x11D36), (0x11D3A, 0x11D3A),
    (0x11D3C, 0x11D3D), (0x11D3F, 0x11D45), (0x11D47, 0x11D47), (0x11D90, 0x11D91), (0x11D95,
    0x11D95), (0x11D97, 0x11D97), (0x11EF3, 0x11EF4), (0x11EF7, 0x11EF8), (0x11FFF, 0x11FFF),
    (0x12FF1, 0x12FF2), (0x13430, 0x13438), (0x16E97, 0x16E9A), (0x16F4F, 0x16F4F), (0x16FE2,
    0x16FE2), (0x16FE4, 0x16FE4), (0x1CF00, 0x1CF2D), (0x1CF30, 0x1CF46), (0x1E000, 0x1E006),
    (0x1E008, 0x1E018), (0x1E01B, 0x1E021), (0x1E023, 0x1E024), (0x1E026, 0x1E02A), (0x1E130,
    0x1E136), (0x1E2AE, 0x1E2AE), (0x1E2EC, 0x1E2EF), (0x1E944, 0x1E94A), (0x1E95E, 0x1E95F),
)
_REFERENCE_CATEGORY = {0x166D: "Po", 0x1734: "Mn", 0x111C9: "Po"}
_PLAIN_LOWS = [low for low, _ in _REFERENCE_PLAIN_RANGES]


def _category(char):
    """General category as the reference tokenizer's Unicode tables give it."""
    code = ord(char)
    if code in _REFERENCE_CATEGORY:
        return _REFERENCE_CATEGORY[code]
    index = bisect.bisect_right(_PLAIN_LOWS, code) - 1
    if index >= 0 and code <= _REFERENCE_PLAIN_RANGES[index][1]:
        return "Lo"
    return unicodedata.category(char)


def _is_whitespace(char):
    # Rust's `char::is_whitespace` (the Unicode White_Space property), as
    # HF tokenizers uses; BERT's " \t\n\r" and Zs are a subset of it.
    return char in "\t\n\r " or char in "\x0b\x0c\x85\u2028\u2029" or _category(char) == "Zs"


def _is_control(char):
    # HF `is_control`: the assigned "other" categories (Cc, Cf, Cs, Co),
    # except the three whitespace controls. Unassigned (Cn) are kept.
    if char in "\t\n\r":
        return False
    return _category(char) in ("Cc", "Cf", "Cs", "Co")


def _is_punctuation(char):
    # BERT counts all non-alphanumeric ASCII as punctuation ("$", "^", "`"
    # are not Unicode P*), plus every Unicode punctuation category.
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return _category(char).startswith("P")


def _is_chinese_char(code):
    # The CJK Unified Ideographs blocks of google-research/bert tokenization.py
    # as HF tokenizers writes them (Extension E from 0x2B920, where BERT's
    # Python has 0x2B820; HF is what released checkpoints ship).
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B920 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def normalize_char(char, lowercase, strip_accents):
    """The reference normalization + pre-tokenization of one character.

    Order as in HF's BertNormalizer: clean text, pad CJK, NFD and strip Mn
    (if `strip_accents`), lower-case (if `lowercase`); then
    BertPreTokenizer's split on whitespace and punctuation, written as spaces.
    """
    code = ord(char)
    if code == 0 or code == 0xFFFD or _is_control(char):
        return ""
    if _is_whitespace(char):
        return " "
    # CJK padding comes before NFD in HF, but the padded ideograph is still
    # decomposed (compatibility ideographs have singleton decompositions,
    # U+F92C -> U+90CE); padding it again below gives the same words.
    text = char
    if strip_accents:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if _category(c) != "Mn")
    if lowercase:
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
    # for each of its labels (0 for the leaf). Candidate bases are tested in
    # vectorized windows; `hints` remembers, per label set, the last base
    # used (occupancy only grows, so smaller bases stay infeasible for it).
    size = 1 << 21
    used = np.zeros(size, dtype=bool)
    used[0] = True  # the root unit
    base_taken = np.zeros(size, dtype=bool)
    bases = [0] * len(blocks)
    hints = {}
    first_free = 1
    window = 2048
    for block_id in sorted(range(len(blocks)), key=lambda i: -len(blocks[i][1])):
        value, children = blocks[block_id]
        labels = ([0] if value is not None else []) + [label for label, _ in children]
        key = tuple(labels)
        label_array = np.asarray(labels, dtype=np.int64)
        while used[first_free]:
            first_free += 1
        low = max(hints.get(key, 0), first_free & ~0xFF)
        while True:
            if low + window + 256 > size:
                raise ValueError("The normalizer trie is too large for darts-clone offsets.")
            candidates = np.arange(low, low + window)
            blocked = used[candidates[:, None] ^ label_array[None, :]].any(axis=1) | base_taken[candidates]
            free = np.flatnonzero(~blocked)
            if free.size:
                base = int(candidates[free[0]])
                break
            low += window
        hints[key] = base
        base_taken[base] = True
        bases[block_id] = base
        used[base ^ label_array] = True

    length = int(np.flatnonzero(used).max()) + 1
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
def build_normalizer_model(lowercase, strip_accents):
    """Flatbuffer bytes of a `FastBertNormalizer` model with reference BERT rules."""
    pool = bytearray()
    pool_offsets = {}
    keys, values = [], []
    data_for_zero = 0
    for code in range(0x110000):
        if 0xD800 <= code < 0xE000:
            continue  # surrogates are not valid UTF-8
        char = chr(code)
        mapped = normalize_char(char, lowercase, strip_accents)
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
    return _flatbuffer(units, data_for_zero, bytes(pool), lowercase and strip_accents)
