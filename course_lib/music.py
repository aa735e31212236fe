"""Music as tokens: folk tunes in ABC notation, a tokenizer, an honest metric, and sound from numpy.

ABC notation writes a tune as text: headers (``M:6/8`` the metre, ``L:1/8`` the unit note length,
``K:G`` the key) and a body of notes (``G``, ``^c`` a sharp C, ``d'`` an octave up), lengths in units of
``L`` (``A2`` two units, ``B/2`` half of one, ``c3/2``), bar lines (``|``, ``||``, ``|:``, ``:|``), rests
(``z``), ties (``-``), broken rhythm (``>``: dotted then short) and triplets (``(3``: three notes in the
time of two). The course's tune corpus (``data/tunes/oneills_1850.txt``, made by ``make data`` from the
O'Neill's 1850 collection that ships inside music21) holds one tune per line, tokens separated by spaces::

    M:6/8 L:1/8 K:G D | G 2 A B 2 c | d 2 B G 2 D | ...

One token per symbol (a pitch with its accidental and octave, a length, a bar line, a header) is what the
folk-rnn models used; characters would split ``^c'`` into three tokens that mean nothing alone.

The honest metric: almost any token string is accepted by a lenient ABC reader, so "it parses" says
little. ``bar_accuracy`` counts the bars whose notes add up to exactly what the metre asks for.

Sound: ``tune_notes`` turns tokens into (MIDI pitch, start, length) notes, applying the key signature and
accidentals; ``synthesize`` makes a waveform (N,) with numpy for ``IPython.display.Audio``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from course_lib import checkpoints
from course_lib.configs import DecoderOnlyConfig
from course_lib.data import DATA_DIR, MISSING_DATA_FIX
from course_lib.decoding import generate
from course_lib.models import DecoderOnlyLM
from course_lib.tokenizers import ids_to_list
from course_lib.train import History, TrainConfig, train
from course_lib.validation import check_int, check_number, fail

TUNES_FILE = DATA_DIR / "tunes" / "oneills_1850.txt"
TUNE_CHECKPOINT = DATA_DIR / "checkpoints" / "tunes_gpt"
START, END = "<tune>", "</tune>"  # every tune in the token stream is START headers body END
TOKENIZER_TYPE = "abc-tunes"

# One alternative per kind of body token, tried in this order; anything else is not in the course's ABC.
BODY_PATTERN = re.compile(
    r"(?P<bar>:\|[12]?|\|:|\|\||\|\]|::|\|[12]?|\[[12])"
    r"|(?P<triplet>\(3)"
    r"|(?P<note>[_^=]*[A-Ga-g][,']*|z)"
    r"|(?P<length>\d*/+\d*|\d+)"
    r"|(?P<broken>>+|<+)"
    r"|(?P<tie>-)"
    r"|(?P<space>\s+)"
)
HEADER_PATTERN = re.compile(r"^(M:[1-9]\d*/[1-9]\d*|L:1/[1-9]\d*|K:[A-G][b#]?[a-z]*)$")
BAR_TOKENS = {"|", "||", "|]", "|:", ":|", "::", "|1", "|2", ":|1", ":|2", "[1", "[2"}

# Key signatures: sharps (+) or flats (-) of each major key, and how far each mode shifts them.
MAJOR_SHARPS = {
    "C": 0,
    "G": 1,
    "D": 2,
    "A": 3,
    "E": 4,
    "B": 5,
    "F#": 6,
    "F": -1,
    "Bb": -2,
    "Eb": -3,
    "Ab": -4,
}
MODE_SHIFT = {"": 0, "maj": 0, "ion": 0, "m": -3, "min": -3, "aeo": -3, "dor": -2, "mix": -1, "lyd": 1}
MODE_SHIFT |= {"phr": -4, "loc": -5}
SHARP_ORDER, FLAT_ORDER = "FCGDAEB", "BEADGCF"
SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


# ------------------------------------------------------------------------------------------------------------
# Tokens
# ------------------------------------------------------------------------------------------------------------


def split_abc_body(body: str) -> list[str]:
    """Cut an ABC tune body (``"G2A B2c|d2B G2D|"``) into tokens (``["G", "2", "A", ...]``).

    Raises ``CourseInputError`` at the first character outside the course's ABC subset (chords, grace
    notes and decorations are removed by ``make data`` before tunes are tokenized).
    """
    if not isinstance(body, str):
        fail("body", "a str of ABC notes", type(body).__name__, "Pass the text after the K: header.")
    tokens, position = [], 0
    while position < len(body):
        match = BODY_PATTERN.match(body, position)
        if match is None:
            fix = "Use notes, lengths, bar lines, rests (z), ties (-), > or < and (3 only."
            fail("body", "ABC the tokenizer knows", f"{body[position : position + 10]!r} at {position}", fix)
        if match.lastgroup != "space":
            tokens.append(match.group())
        position = match.end()
    return tokens


def tune_tokens(tune: str) -> list[str]:
    """One corpus line (``"M:6/8 L:1/8 K:G D | G 2 A ..."``) -> its tokens, checked: three headers
    (metre, unit length, key) first, then body tokens."""
    if not isinstance(tune, str):
        fail("tune", "a str (one line of the tune corpus)", type(tune).__name__, "Pass e.g. load_tunes()[0].")
    tokens = tune.split()
    headers = tokens[:3]
    if len(headers) < 3 or not all(HEADER_PATTERN.match(h) for h in headers):
        fix = "Start the tune with its headers, e.g. 'M:6/8 L:1/8 K:G'."
        fail("tune", "headers M:, L: and K: followed by notes", repr(" ".join(headers)), fix)
    return headers + split_abc_body(" ".join(tokens[3:]))


class TuneTokenizer:
    """One token id per ABC symbol; the vocabulary is ``[START, END]`` plus the corpus's sorted tokens.

    ``encode(tune)`` wraps a corpus line in START ... END; ``decode(ids)`` drops START and END and joins
    the rest with spaces, so ``decode(encode(tune)) == tune`` for a corpus line.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        if not isinstance(tokens, (list, tuple)) or not all(isinstance(t, str) and t for t in tokens):
            fix = "Build one with TuneTokenizer.from_tunes(load_tunes())."
            fail("tokens", "a list of non-empty token strings", type(tokens).__name__, fix)
        if list(tokens[:2]) != [START, END] or len(set(tokens)) != len(tokens):
            fix = "Build one with TuneTokenizer.from_tunes(load_tunes())."
            fail("tokens", f"distinct tokens starting with {START!r}, {END!r}", repr(list(tokens[:3])), fix)
        self.tokens: list[str] = list(tokens)
        self.stoi: dict[str, int] = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def from_tunes(cls, tunes: Sequence[str]) -> TuneTokenizer:
        """The vocabulary of every token in ``tunes`` (corpus lines), sorted."""
        vocabulary = sorted({token for tune in tunes for token in tune_tokens(tune)})
        return cls([START, END, *vocabulary])

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def encode(self, tune: str) -> list[int]:
        """A corpus line -> ids: START, the tune's tokens, END."""
        tokens = tune_tokens(tune)
        unknown = sorted(set(tokens) - self.stoi.keys())
        if unknown:
            fix = "Use tokens of the corpus (tokenizer.tokens lists them)."
            fail("tune", "made of tokens in the vocabulary", f"unknown token(s) {unknown[:5]}", fix)
        return [self.stoi[START], *(self.stoi[token] for token in tokens), self.stoi[END]]

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Ids (a list or a 1-D tensor (T,)) -> a corpus line; stops at the first END."""
        words = []
        for i in ids_to_list(ids, vocab_size=self.vocab_size):
            if self.tokens[i] == END:
                break
            if self.tokens[i] != START:
                words.append(self.tokens[i])
        return " ".join(words)

    def to_dict(self) -> dict:
        return {"type": TOKENIZER_TYPE, "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, record: dict) -> TuneTokenizer:
        if not isinstance(record, dict) or record.get("type") != TOKENIZER_TYPE or "tokens" not in record:
            fix = "Pass the output of TuneTokenizer.to_dict()."
            fail("record", f"a dict with type {TOKENIZER_TYPE!r} and tokens", repr(record)[:60], fix)
        return cls(record["tokens"])

    def __repr__(self) -> str:
        return f"TuneTokenizer(vocab_size={self.vocab_size})"


METRE_NAMES = {"C": "4/4", "C|": "2/2"}
DECORATIONS = re.compile(r'"[^"]*"|\{[^}]*\}|![^!]*!|[~.HTuvJLMOPS]|\((?!3)|\)|\\')


def corpus_line(abc_tune: str, *, max_tokens: int = 254) -> str | None:
    """One ABC tune (an ``X:`` block of a music21 corpus file) -> a corpus line, or None when it falls
    outside the course's subset (chords, inline fields, unusual metres, longer than ``max_tokens``).

    Keeps the M:, L: and K: headers (``C`` -> ``4/4``, ``C|`` -> ``2/2``), drops titles and notes, and
    removes what only decorates the tune: chord names in quotes, grace notes, ornaments and slurs."""
    headers: dict[str, str] = {}
    body_lines = []
    for line in abc_tune.splitlines():
        field = re.match(r"^([A-Za-z]):\s*(.*?)\s*$", line)
        if field and "K" not in headers:  # the header ends with the key
            headers.setdefault(field.group(1), field.group(2).replace(" ", ""))
        elif field or "[" in line.split("%")[0].replace("[1", "").replace("[2", ""):
            return None  # a field inside the body (a change of key or metre) or a chord
        else:
            body_lines.append(line.split("%")[0])
    if re.search(r"\((?!3)\d", " ".join(body_lines)):
        return None  # tuplets other than triplets
    metre = METRE_NAMES.get(headers.get("M", ""), headers.get("M", ""))
    line_headers = [f"M:{metre}", f"L:{headers.get('L', '1/8')}", f"K:{headers.get('K', '')}"]
    if not all(HEADER_PATTERN.match(header) for header in line_headers):
        return None
    try:
        tokens = line_headers + split_abc_body(DECORATIONS.sub("", " ".join(body_lines)))
    except ValueError:
        return None
    return " ".join(tokens) if 4 <= len(tokens) <= max_tokens else None


def drop_rare_tokens(tunes: Sequence[str], *, min_count: int = 3) -> list[str]:
    """The tunes whose every token occurs at least ``min_count`` times in ``tunes`` (a smaller vocabulary
    the model sees enough examples of)."""
    counts = Counter(token for tune in tunes for token in tune_tokens(tune))
    return [tune for tune in tunes if all(counts[token] >= min_count for token in tune_tokens(tune))]


def load_tunes(path: str | Path = TUNES_FILE) -> list[str]:
    """The tune corpus: one tune per line (``data/tunes/oneills_1850.txt`` unless ``path`` says otherwise)."""
    path = Path(path)
    if not path.is_file():
        fail("path", "an existing tune file", str(path), MISSING_DATA_FIX)
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def split_tunes(tunes: Sequence[str]) -> tuple[list[str], list[str]]:
    """Every 10th tune for validation, the rest for training (the same split wherever it is made)."""
    return [t for i, t in enumerate(tunes) if i % 10], list(tunes[::10])


def encode_tunes(tunes: Sequence[str], tokenizer: TuneTokenizer) -> torch.Tensor:
    """Every tune encoded and concatenated into one stream of ids (N,) for ``course_lib.train.train``."""
    return torch.tensor([i for tune in tunes for i in tokenizer.encode(tune)], dtype=torch.long)


# ------------------------------------------------------------------------------------------------------------
# Rhythm: note lengths and the bar metric
# ------------------------------------------------------------------------------------------------------------


def length_value(token: str) -> Fraction:
    """A length token in units of L: ``"2"`` -> 2, ``"/2"`` and ``"/"`` -> 1/2, ``"//"`` -> 1/4, ``"3/2"``."""
    numerator, slashes, denominator = re.fullmatch(r"(\d*)(/*)(\d*)", token).groups()
    value = Fraction(int(numerator or 1))
    if slashes:
        value /= int(denominator) if denominator else 2 ** len(slashes)
    return value


def bar_units(tokens: Sequence[str]) -> Fraction:
    """How many L units one full bar holds: metre ``M:a/b`` with ``L:1/d`` gives a * d / b."""
    metre = Fraction(tokens[0][2:])
    unit = Fraction(tokens[1][2:])
    return metre / unit


def note_lengths(tokens: Sequence[str]) -> list[tuple[str, Fraction]]:
    """The body's notes and rests with their lengths in L units (triplets: 2/3 each), bar lines as
    ``(bar, 0)``: ``["G", "2", "|"]`` -> ``[("G", 2), ("|", 0)]``. ``tokens`` start with the 3 headers."""
    events: list[tuple[str, Fraction]] = []
    triplet_left = 0
    for token in tokens[3:]:
        if token in BAR_TOKENS:
            events.append((token, Fraction(0)))
        elif token == "(3":
            triplet_left = 3
        elif BODY_PATTERN.fullmatch(token).lastgroup == "note":
            events.append((token, Fraction(2, 3) if triplet_left else Fraction(1)))
            triplet_left = max(0, triplet_left - 1)
        elif BODY_PATTERN.fullmatch(token).lastgroup == "length" and events and events[-1][1]:
            name, value = events[-1]
            events[-1] = (name, value * length_value(token))
    return events


def bar_sums(tune: str) -> tuple[list[Fraction], Fraction]:
    """The length of every complete bar of ``tune`` (between two bar lines; the pickup before the first
    and anything after the last are left out), and the length the metre asks for, both in L units."""
    tokens = tune_tokens(tune)
    sums, current, started = [], Fraction(0), False
    for name, value in note_lengths(tokens):
        if name in BAR_TOKENS:
            if started and current:
                sums.append(current)
            started, current = True, Fraction(0)
        else:
            current += value
    return sums, bar_units(tokens)


def bar_accuracy(tunes: Sequence[str]) -> float:
    """The share of complete bars, over all ``tunes``, whose notes add up to the metre's length.

    A tune whose headers or body do not tokenize counts as one wrong bar (a model must not gain by
    writing garbage)."""
    right = total = 0
    for tune in tunes:
        try:
            sums, target = bar_sums(tune)
        except ValueError:
            total += 1
            continue
        right += sum(value == target for value in sums)
        total += len(sums)
    return right / max(total, 1)


def to_abc(tune: str, *, title: str = "Generated") -> str:
    """A corpus line as a standard ABC file any ABC program reads (headers on their own lines)."""
    tokens = tune_tokens(tune)
    return "\n".join(["X:1", f"T:{title}", *tokens[:3], "".join(tokens[3:]), ""])


def parses_with_music21(tune: str) -> bool:
    """True if music21's ABC reader turns ``to_abc(tune)`` into a score with at least one note: the weak
    test (it accepts almost anything; ``bar_accuracy`` is the meaningful one)."""
    from music21 import converter  # imported here: music21 takes a second to import

    try:
        score = converter.parse(to_abc(tune), format="abc")
    except Exception:  # music21 raises many kinds of errors on bad ABC; any of them means "did not parse"
        return False
    return len(score.flatten().notes) > 0


# ------------------------------------------------------------------------------------------------------------
# Sound: notes with pitches and times, a numpy waveform
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """One sounding note: MIDI pitch (60 = middle C), start and length in seconds."""

    pitch: int
    start: float
    length: float


def key_accidentals(key: str) -> dict[str, int]:
    """The key signature of a ``K:`` header: letter -> +1 (sharp) or -1 (flat); ``"K:D"`` -> F and C sharp."""
    match = re.fullmatch(r"K:([A-G][b#]?)([A-Za-z]*)", key)
    tonic, mode = match.groups() if match else ("C", "")
    shift = MODE_SHIFT.get(mode.lower()[:3] if mode.lower() != "m" else "m", 0)
    count = MAJOR_SHARPS.get(tonic, 0) + shift
    letters = SHARP_ORDER[:count] if count >= 0 else FLAT_ORDER[:-count]
    return {letter: 1 if count >= 0 else -1 for letter in letters}


def note_pitch(token: str, accidentals: dict[str, int]) -> int:
    """The MIDI pitch of an ABC note token: ``"C"`` = 60, ``"c"`` = 72, ``"c'"`` = 84, ``"C,"`` = 48."""
    letter = re.search(r"[A-Ga-g]", token).group()
    pitch = 60 + SEMITONES[letter.upper()] + (12 if letter.islower() else 0)
    pitch += 12 * token.count("'") - 12 * token.count(",")
    return pitch + accidentals.get(letter.upper(), 0)


def tune_notes(tune: str, *, seconds_per_quarter: float = 0.4) -> list[Note]:
    """The notes of a tune with pitches (key signature and bar accidentals applied) and times.

    Rests move time on without a note; tied notes are played separately (a short gap is not audible).
    """
    check_number("seconds_per_quarter", seconds_per_quarter, low=0.05, high=5.0, fix="Use e.g. 0.4.")
    tokens = tune_tokens(tune)
    key = key_accidentals(tokens[2])
    seconds_per_unit = float(Fraction(tokens[1][2:]) * 4) * seconds_per_quarter
    notes, time, in_bar = [], 0.0, dict(key)
    for name, value in note_lengths(tokens):
        if name in BAR_TOKENS:
            in_bar = dict(key)  # accidentals last until the bar line
            continue
        length = float(value) * seconds_per_unit
        if name != "z":
            marks = re.match(r"[_^=]*", name).group()
            if marks:
                letter = re.search(r"[A-Ga-g]", name).group().upper()
                in_bar[letter] = marks.count("^") - marks.count("_")
            notes.append(Note(note_pitch(name, in_bar), time, length))
        time += length
    return notes


def midi_frequency(pitch: int | np.ndarray) -> float | np.ndarray:
    """Hz of a MIDI pitch: A4 = 69 = 440 Hz, twelve equal semitones per octave."""
    return 440.0 * 2.0 ** ((np.asarray(pitch) - 69) / 12)


def synthesize(notes: Sequence[Note], *, sample_rate: int = 8000, max_seconds: float = 10.0) -> np.ndarray:
    """A waveform (N,) of float32 in [-1, 1]: each note a plucked tone (three harmonics, fast attack,
    exponential decay), mixed, cut at ``max_seconds``. Play it with ``Audio(wave, rate=sample_rate)``."""
    check_int("sample_rate", sample_rate, minimum=1000, maximum=48000, fix="Use e.g. 8000.")
    check_number("max_seconds", max_seconds, low=0.1, high=60.0, fix="Use e.g. 10.")
    end = min(max((note.start + note.length for note in notes), default=0.0), max_seconds)
    wave = np.zeros(int(end * sample_rate) + 1, dtype=np.float64)
    for note in notes:
        first = int(note.start * sample_rate)
        if first >= len(wave):
            break
        t = np.arange(min(int(note.length * sample_rate), len(wave) - first)) / sample_rate
        tone = sum(np.sin(2 * np.pi * h * midi_frequency(note.pitch) * t) / h**2 for h in (1, 2, 3))
        envelope = np.minimum(t / 0.005, 1.0) * np.exp(-3.0 * t)
        wave[first : first + len(t)] += tone * envelope
    peak = np.abs(wave).max()
    return (wave / peak if peak > 0 else wave).astype(np.float32)


def mu_law_tokens(wave: np.ndarray, *, levels: int = 256) -> np.ndarray:
    """Raw audio as tokens, as WaveNet did: mu-law companding, then ``levels`` integer bins (N,) of ints."""
    mu = levels - 1
    companded = np.sign(wave) * np.log1p(mu * np.abs(wave)) / np.log1p(mu)  # (N,) in [-1, 1]
    return np.round((companded + 1) / 2 * mu).astype(np.int64)


# ------------------------------------------------------------------------------------------------------------
# The model: build, load, generate
# ------------------------------------------------------------------------------------------------------------


def tune_model_config(vocab_size: int, *, n_layer: int = 4, n_embd: int = 128) -> DecoderOnlyConfig:
    """The tune model: a small GPT with rotary positions and a 256-token context (a tune is ~150)."""
    return DecoderOnlyConfig(
        vocab_size=vocab_size, block_size=256, n_layer=n_layer, n_head=4, n_embd=n_embd, positional="rotary"
    )


@dataclass
class TuneModel:
    """What ``load_tune_model`` returns: the model (eval mode), its tokenizer and the checkpoint metadata."""

    model: DecoderOnlyLM
    tokenizer: TuneTokenizer
    metadata: dict


def load_tune_model(directory: str | Path = TUNE_CHECKPOINT) -> TuneModel:
    """Load a tune checkpoint saved with ``course_lib.checkpoints.save_checkpoint``, with the same checks
    as ``load_checkpoint`` (files present, sha256 of the weights and of the config and tokenizer, weights
    that fit the config); only the tokenizer is a ``TuneTokenizer`` instead of a character tokenizer."""
    checkpoint = checkpoints.load_checkpoint(directory)
    return TuneModel(checkpoint.model, checkpoint.tokenizer, checkpoint.metadata)


def train_tune_model(
    tunes: Sequence[str],
    *,
    n_layer: int = 3,
    n_embd: int = 96,
    steps: int = 1200,
    batch_size: int = 16,
    learning_rate: float = 3e-3,
    seed: int = 0,
) -> tuple[DecoderOnlyLM, TuneTokenizer, History]:
    """Train a tune model on ``split_tunes(tunes)``'s training part with ``course_lib.train.train`` (AdamW,
    warmup then cosine decay to learning_rate / 10); returns the model (eval mode), tokenizer, History."""
    tokenizer = TuneTokenizer.from_tunes(tunes)
    train_ids, val_ids = (encode_tunes(part, tokenizer) for part in split_tunes(tunes))
    cfg = TrainConfig(
        max_steps=steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        min_lr=learning_rate / 10,
        warmup_steps=min(50, steps // 5),
        eval_interval=max(1, steps // 5),
        eval_iters=10,
        seed=seed,
    )
    torch.manual_seed(seed)
    model = DecoderOnlyLM(tune_model_config(tokenizer.vocab_size, n_layer=n_layer, n_embd=n_embd))
    history = train(model, train_ids, val_ids, cfg, progress=False)
    return model, tokenizer, history


def tune_metrics(model: DecoderOnlyLM, tokenizer: TuneTokenizer, *, count: int = 100, seed: int = 0) -> dict:
    """What a tune model is judged by: the bar accuracy of ``count`` tunes sampled at temperature 1 with
    ``seed`` (the seed and count are recorded too, so the figure can be reproduced)."""
    tunes = generate_tunes(model, tokenizer, count=count, seed=seed)
    return {"bar_accuracy": bar_accuracy(tunes), "samples": count, "sample_seed": seed}


def generate_tunes(
    model: DecoderOnlyLM,
    tokenizer: TuneTokenizer,
    *,
    count: int = 8,
    temperature: float = 1.0,
    seed: int = 0,
    max_tokens: int = 250,
) -> list[str]:
    """Sample ``count`` new tunes (corpus lines) from START, each ending at END or after ``max_tokens``."""
    check_int("count", count, minimum=1, maximum=1000, fix="Use e.g. 8.")
    check_int("max_tokens", max_tokens, minimum=4, maximum=model.config.block_size - 1, fix="Use e.g. 250.")
    start = torch.full((count, 1), tokenizer.stoi[START], dtype=torch.long)
    end_id = tokenizer.stoi[END]
    ids = generate(model, start, max_tokens, temperature=temperature, seed=seed, eos_id=end_id)
    return [tokenizer.decode(row) for row in ids]
