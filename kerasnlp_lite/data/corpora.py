"""A built-in English corpus: the docstrings of the installed Python standard library.

No text is shipped or downloaded. At run time the standard library's modules
(`sys.stdlib_module_names` and their submodules) are imported, the
docstrings of each module and of the public classes, functions and methods
it defines are collected, cleaned of code (doctest sessions, call
signatures, reST literal blocks and markup), and split into sentences.

A document is one docstring's sentences (`granularity="docstring"`) or all
the sentences of one module (`granularity="module"`). The order is fixed
(modules sorted by name, members sorted by name), so one Python install gives
the same corpus in every run. On CPython 3.11 it holds about 13k sentences
(166k words) in 5.7k docstrings of 321 modules; building it takes under a
second once TensorFlow is loaded, and is cached per process.

Modules with side effects on import are never imported: `antigravity` (opens
a browser), `this` and `__hello__`/`__phello__` (print), every `__main__`,
`idlelib`, `tkinter`, `turtle`, `turtledemo` (GUI), `lib2to3` (may write
grammar pickles), `readline`/`rlcompleter` (terminal state), and the test
packages. Only modules that live in the standard library's own folders (or
are built in) are read, so a site-packages shim such as setuptools'
`distutils` is left out. `encodings` (codec tables) and `pydoc_data` (a
generated topic table, not docstrings) are skipped too.
"""

import functools
import importlib
import inspect
import itertools
import os
import pkgutil
import re
import sys
import sysconfig
import warnings

import tensorflow as tf

from kerasnlp_lite.utils.validation import check_positive_int

GRANULARITIES = ("docstring", "module")

# Modules never imported (side effects on import, GUI, or tests).
SKIPPED_MODULES = frozenset(
    {
        "antigravity", "this", "__hello__", "__phello__", "idlelib", "tkinter", "turtle", "turtledemo",
        "lib2to3", "readline", "rlcompleter", "test",
        # No prose worth reading: ~120 codec modules and pydoc's generated topic table.
        "encodings", "pydoc_data",
    }
)
SKIPPED_PARTS = frozenset({"__main__", "test", "tests", "idle_test"})

# Sentences longer than this many words are almost always run-on lists or tables.
MAX_SENTENCE_WORDS = 80

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "Mr.", "Dr.", "No.", "approx.", "resp.", "Fig.")
_PLACEHOLDER = "\x00"

_ROLE = re.compile(r":[\w:.-]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`")  # :func:`name` -> name
_LITERAL = re.compile(r"``([^`]*)``")
_INTERPRETED = re.compile(r"`([^`]*)`_?_?")
_EMPHASIS = re.compile(r"(?<![\w*])\*{1,2}([^*\s][^*]*?)\*{1,2}(?![\w*])")
_SIGNATURE = re.compile(r"^[\w.]+\(.*\)\s*(->.*)?$|^[\w.]+\(.*$")  # name(args) [-> result]
_ASSIGNMENT = re.compile(r"^[\w.\[\]'\"]+\s*[-+*/|&]?=\s*\S")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(])")
_SYMBOLS = set("()[]{}=<>_*/\\|#;@`$%^~&+")


def _stdlib_dirs():
    paths = sysconfig.get_paths()
    dirs = {os.path.realpath(paths[key]) for key in ("stdlib", "platstdlib") if key in paths}
    return tuple(sorted(dirs))


def _is_stdlib_module(module, stdlib_dirs):
    path = getattr(module, "__file__", None)
    if path is None:  # built into the interpreter
        return True
    path = os.path.realpath(path)
    return any(path.startswith(d + os.sep) for d in stdlib_dirs) and "site-packages" not in path


def _skipped(name):
    parts = name.split(".")
    return parts[0] in SKIPPED_MODULES or any(p in SKIPPED_PARTS or p.startswith("_") for p in parts)


def _import(name):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except (Exception, SystemExit):  # ImportError, OSError, another platform's module...: leave it out
        return None


def iter_stdlib_modules():
    """Yields `(name, module)` for the importable standard-library modules, sorted by name.

    Top-level names come from `sys.stdlib_module_names`; packages are walked
    with `pkgutil.iter_modules`. Private (`_name`) modules and
    `SKIPPED_MODULES` are left out.
    """
    stdlib_dirs = _stdlib_dirs()
    pending = sorted(name for name in sys.stdlib_module_names if not _skipped(name))
    seen = set()
    while pending:
        name = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        module = _import(name)
        if module is None or not _is_stdlib_module(module, stdlib_dirs):
            continue
        yield name, module
        if hasattr(module, "__path__"):
            children = sorted(
                f"{name}.{info.name}" for info in pkgutil.iter_modules(module.__path__) if not _skipped(info.name)
            )
            # Depth first, so each package's submodules follow it.
            pending[:0] = children


def _defined_here(obj, name):
    """True if `obj` belongs to module `name` (or to its private C/Python twin, e.g. `_io` for `io`)."""
    owner = getattr(obj, "__module__", None)
    return isinstance(owner, str) and (owner == name or owner.split(".")[-1].startswith("_"))


def _members(module, name):
    """Docstring owners of `module`: its public classes and functions, then each class's methods, by name.

    Dunder methods are read too (their docstrings often say what the object
    does); the generic docstrings of C slot wrappers repeat, and `_build`
    keeps each distinct docstring once.
    """
    owners = []
    for attr in sorted(vars(module)):
        if attr.startswith("_"):
            continue
        obj = vars(module)[attr]
        # Hooks that a host replaces (pytest swaps sys.unraisablehook and
        # threading.excepthook): the stdlib keeps the original as `__name__`.
        obj = vars(module).get(f"__{attr}__", obj) if not _defined_here(obj, name) else obj
        if not (inspect.isclass(obj) or inspect.isroutine(obj)) or not _defined_here(obj, name):
            continue
        owners.append(obj)
        if inspect.isclass(obj):
            for method_name in sorted(vars(obj)):
                if method_name.startswith("_") and not method_name.endswith("__"):
                    continue
                method = vars(obj)[method_name]
                if isinstance(method, (staticmethod, classmethod)):
                    method = method.__func__
                if isinstance(method, property):
                    method = method.fget
                if inspect.isroutine(method) or inspect.isdatadescriptor(method):
                    owners.append(method)
    return owners


def _code_like(line):
    """A doctest line, a call signature, an assignment, or a line dense in code symbols."""
    if line.startswith((">>>", "...", "$ ", "% ", "#")):
        return True
    if _SIGNATURE.match(line) or _ASSIGNMENT.match(line):
        return True
    symbols = sum(c in _SYMBOLS for c in line)
    return symbols > 0.12 * len(line)


def _paragraphs(docstring):
    """Cleaned prose paragraphs of one docstring: code, doctests, literal blocks and directives removed."""
    lines = inspect.cleandoc(docstring).splitlines()
    paragraphs, current = [], []
    skip_indent = None  # inside a literal block or directive body: skip lines indented deeper than this
    in_doctest = False

    def flush():
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    for raw in lines:
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if not stripped:
            flush()
            in_doctest = False
            continue
        if skip_indent is not None:
            if indent > skip_indent:
                continue
            skip_indent = None
        if stripped.startswith(">>>"):
            flush()
            in_doctest = True  # the session's output lines follow until a blank line
            continue
        if in_doctest:
            continue
        if stripped.startswith(".. "):  # reST directive or comment, and its indented body
            flush()
            skip_indent = indent
            continue
        if re.fullmatch(r"([=\-~^*+#])\1{2,}", stripped):  # heading underline
            current.clear()
            continue
        if _code_like(stripped):
            flush()
            continue
        if stripped.endswith("::"):  # reST literal block follows
            current.append(stripped[:-1])
            flush()
            skip_indent = indent
            continue
        current.append(stripped)
    flush()
    return paragraphs


def _strip_markup(text):
    text = _ROLE.sub(r"\1", text)
    text = _LITERAL.sub(r"\1", text)
    text = _INTERPRETED.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def _split_sentences(paragraph):
    for abbreviation in _ABBREVIATIONS:
        paragraph = paragraph.replace(abbreviation + " ", abbreviation.replace(".", _PLACEHOLDER) + " ")
    return [s.replace(_PLACEHOLDER, ".").strip() for s in _SENTENCE_END.split(paragraph)]


def _keep(sentence, min_words):
    """English prose: enough words, mostly letters, mostly ASCII, starts like a sentence."""
    words = sentence.split()
    if not min_words <= len(words) <= MAX_SENTENCE_WORDS:
        return False
    if sum(w.isalpha() for w in (w.strip(".,;:!?()'\"") for w in words)) < min_words:
        return False
    if not sentence[0].isupper() and not sentence[0].isdigit() and sentence[0] not in "\"'(":
        return False
    non_space = [c for c in sentence if not c.isspace()]
    letters = sum(c.isalpha() for c in non_space)
    ascii_chars = sum(c.isascii() for c in non_space)
    return letters >= 0.6 * len(non_space) and ascii_chars >= 0.95 * len(non_space) and not _code_like(sentence)


def docstring_sentences(docstring, min_sentence_words=3):
    """The cleaned English sentences of one docstring (a list of str)."""
    if not isinstance(docstring, str):
        return []
    sentences = []
    for paragraph in _paragraphs(docstring):
        for sentence in _split_sentences(_strip_markup(paragraph)):
            if _keep(sentence, min_sentence_words):
                sentences.append(sentence)
    return sentences


@functools.lru_cache(maxsize=8)
def _build(min_sentence_words, granularity):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated modules warn when imported or read
        return _collect(min_sentence_words, granularity)


def _collect(min_sentence_words, granularity):
    documents = []
    seen = set()  # the same docstring reached twice (aliases, re-exports) counts once
    # Import everything first: importing a submodule can rebind a name in its
    # package (`curses.has_key` the function becomes the submodule), and the
    # corpus must not depend on what was imported before.
    modules = list(iter_stdlib_modules())
    for name, module in modules:
        module_sentences = []
        owners = [module] + _members(module, name)
        for owner in owners:
            doc = getattr(owner, "__doc__", None)
            if not isinstance(doc, str) or doc in seen:
                continue
            seen.add(doc)
            sentences = docstring_sentences(doc, min_sentence_words)
            if not sentences:
                continue
            if granularity == "docstring":
                documents.append(tuple(sentences))
            else:
                module_sentences.extend(sentences)
        if granularity == "module" and module_sentences:
            documents.append(tuple(module_sentences))
    return tuple(documents)


def _check_args(max_documents, min_sentence_words, granularity):
    check_positive_int(max_documents, "max_documents", allow_none=True)
    check_positive_int(min_sentence_words, "min_sentence_words")
    if granularity not in GRANULARITIES:
        raise ValueError(f"`granularity` must be one of {GRANULARITIES}, got {granularity!r}.")


def stdlib_corpus(max_documents=None, min_sentence_words=3, granularity="docstring"):
    """Documents of English sentences from the standard library's docstrings.

    Args:
        max_documents: optional int, keep the first this many documents.
        min_sentence_words: int >= 1, drop sentences with fewer words (and
            fewer alphabetic words) than this.
        granularity: `"docstring"` (a document is one docstring) or
            `"module"` (a document is one module's docstrings).

    Returns:
        A list of documents, each a non-empty list of sentence strings, in a
        fixed order. A new list on every call (the cache is not exposed).

    Example:
    >>> documents = stdlib_corpus(max_documents=100)
    >>> len(documents), isinstance(documents[0][0], str)
    (100, True)
    """
    _check_args(max_documents, min_sentence_words, granularity)
    documents = _build(min_sentence_words, granularity)
    if max_documents is not None:
        documents = documents[:max_documents]
    return [list(d) for d in documents]


def stdlib_sentences(max_sentences=None, min_sentence_words=3):
    """All sentences of `stdlib_corpus`, in order (a list of str).

    Args:
        max_sentences: optional int, keep the first this many sentences.
        min_sentence_words: as in `stdlib_corpus`.
    """
    check_positive_int(max_sentences, "max_sentences", allow_none=True)
    _check_args(None, min_sentence_words, "docstring")
    sentences = [s for document in _build(min_sentence_words, "docstring") for s in document]
    return sentences if max_sentences is None else sentences[:max_sentences]


def as_dataset(kind="sentences", max_documents=None, min_sentence_words=3, granularity="docstring"):
    """The corpus as a `tf.data.Dataset`.

    Args:
        kind: `"sentences"` (each element a scalar `tf.string`) or
            `"documents"` (each element a 1-D `tf.string` tensor of one
            document's sentences).
        max_documents, min_sentence_words, granularity: as in `stdlib_corpus`.

    Returns:
        A `tf.data.Dataset` in the corpus's fixed order (shuffle it yourself).
    """
    if kind not in ("sentences", "documents"):
        raise ValueError(f"`kind` must be 'sentences' or 'documents', got {kind!r}.")
    documents = stdlib_corpus(max_documents, min_sentence_words, granularity)
    flat = [s for document in documents for s in document]
    if kind == "sentences":
        return tf.data.Dataset.from_tensor_slices(tf.constant(flat, tf.string))
    flat = tf.constant(flat, tf.string)
    lengths = [len(document) for document in documents]
    starts = [0, *itertools.accumulate(lengths)][:-1]
    # Each element a plain 1-D string tensor (not a ragged spec): slice the flat sentences.
    slices = tf.data.Dataset.from_tensor_slices((tf.constant(starts, tf.int64), tf.constant(lengths, tf.int64)))
    return slices.map(lambda start, length: flat[start : start + length])
