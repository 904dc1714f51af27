"""A deterministic multilingual test set for byte-level BPE (GPT-2 vocabulary).

`generated_lines(count, seed)` mixes words of many scripts, numbers, code,
contractions, emoji sequences, whitespace runs and control characters with
varied separators; `EDGE_LINES` are fixed cases that must always be present.
"""

import random

SCRIPTS = {
    "latin": ["café", "naïve", "résumé", "Zürich", "façade", "ñandú", "Ångström", "œuvre", "Łódź", "ſtraße", "ǅemal"],
    "combining": ["e\u0301", "n\u0303o", "a\u0308\u0304", "Z\u0335\u030c", "i\u0307\u0301", "q\u0323\u0302u"],
    "greek": ["ελληνικά", "Ἀθῆναι", "λόγος", "ΣΟΦΙΑ", "φῶς"],
    "cyrillic": ["Москва", "привет", "ЁЛКА", "щётка", "Ђорђе"],
    "arabic": ["عربى", "مَرْحَبًا", "السلام", "كتاب", "٣٤٥", "ﷺ"],
    "hebrew": ["שָׁלוֹם", "עברית"],
    "indic": ["हिन्दी", "தமிழ்", "বাংলা", "६४"],
    "thai": ["ภาษาไทย", "สวัสดี"],
    "cjk": ["東京", "日本語", "北京大学", "한국어", "カタカナ", "ひらがな", "中文字符测试", "𠀋𡈽"],
    "emoji": ["😀", "👍🏽", "👨\u200d👩\u200d👧\u200d👦", "🏳️\u200d🌈", "🇫🇷🇯🇵", "1️⃣", "🧑🏿\u200d💻", "❤️", "✌🏻"],
    "numbers": ["3.14", "2024", "1,000,000", "0x1F", "１２３", "½", "²³", "Ⅻ", "1e-9", "007", "٫٥"],
    "code": [
        "def f(x):", "return x**2", "if (a != b) { x += 1; }", "<div class=\"a\">", "https://example.com/p?q=1&r=2",
        "{\"key\": [1, 2]}", "a_b-c.d", "$HOME/.bashrc", "->", "::", "#include <stdio.h>", "x<<=2;", "//", "@decorator",
    ],
    "contractions": [
        "it's", "IT'S", "don't", "DON'T", "we'll", "WE'LL", "they're", "They'Re", "I'm", "I'M", "you've", "YOU'VE",
        "he'd", "HE'D", "'s", "'S", "'ll", "''s", "o'clock", "rock'n'roll", "'tis", "'sup", "x'ss", "'LL'll",
    ],
    "symbols": ["...", "?!", "--", "—", "«»", "„“", "§", "©", "™", "€100", "£", "¥", "%", "^_^", "¯\\_(ツ)_/¯", "·"],
    "controls": ["\x00", "a\x00b", "\x01\x02", "\x1b[31m", "\x7f", "\x08", "\u200b", "\ufeff", "\u00ad", "\x1c", "\x9f"],
    "letters_math": ["𝐀𝐁𝐂", "𝔘𝔫𝔦", "ℵ", "µ", "ﬁ"],
}
SEPARATORS = [
    " ", " ", " ", "  ", "   ", "    ", "\t", "\t\t", " \t", "\n", "\n\n", "\r\n", " \r\n", ", ", ". ", "; ", "",
    "\u00a0", "\u3000", "\u2028", "\x85", "\x0b", "\x0c", " \n ", "\u2003",
]
EDGE_LINES = [
    "", " ", "  ", "\t", "\n", "\r\n", "\x00", "\x00\x00", " \x00 ", "a", "'", "'s", "'S", " 's", "\t's", "''",
    "a  b", "a \n b", "it's  'll", "x\x85\x85y", "\u3000\u3000a", "a" * 300, "東" * 120, "9" * 80,
    "Hello world!", "   leading", "trailing   ", "\t\ttabs\t\t", "mixed \t \n whitespace \r\n end  ",
    "😀" * 30, "👍🏽" * 10, "e\u0301" * 20, "\x00start", "end\x00", "a\x00\x00b", "\x01\x02\x03\x04\x05",
]


def generated_lines(count, seed=0):
    """`count` lines: 1-14 pieces from random scripts joined by random separators, some with
    leading/trailing whitespace or upper-cased."""
    rng = random.Random(seed)
    names = sorted(SCRIPTS)
    lines = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 14)):
            word = rng.choice(SCRIPTS[rng.choice(names)])
            if rng.random() < 0.1:
                word = word.upper()
            parts += [word, rng.choice(SEPARATORS)]
        line = "".join(parts[:-1])
        r = rng.random()
        if r < 0.1:
            line = rng.choice([" ", "  ", "\t", "\n", "\r\n", " \t "]) + line
        elif r < 0.2:
            line += rng.choice([" ", "   ", "\t", "\n", "\r\n", "\n\n"])
        elif r < 0.23:
            line = ""
        lines.append(line)
    return lines


def all_lines(count=2000, seed=0):
    """The edge lines, then `count` generated ones."""
    return EDGE_LINES + generated_lines(count, seed)
