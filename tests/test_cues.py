"""WebVTT and SubRip read into cues: the same cues as webvtt-py gives, whichever reader reads
them (feeds/cues.py reads the plain shape itself and hands anything else to webvtt-py)."""

from __future__ import annotations

import html
import io
from pathlib import Path

import pytest
import webvtt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webvtt.errors import MalformedCaptionError, MalformedFileError

from bench.anonymous import write_transcript
from feeds import cues
from feeds.cues import MAX_CUES, TranscriptUnreadable, read_cues

SAMPLE_MEDIA = Path(__file__).resolve().parent.parent / "stories" / "sample" / "media"
TYPES = {"vtt": "text/vtt", "srt": "application/x-subrip"}


def webvtt_cues(data: bytes, type: str) -> tuple[tuple[float, float | None, str, str], ...]:
    """What read_cues gave when webvtt-py read every file (the reference): each caption's
    `start_time`, `end_time`, `text` and `voice`, cleaned as read_cues cleans them."""
    form = cues.CUE_FORMATS[type]
    text = data.decode("utf-8-sig")
    if text.count("-->") > MAX_CUES:
        raise TranscriptUnreadable(f"has more than {MAX_CUES:,} cues")
    try:
        captions = webvtt.WebVTT.from_buffer(io.StringIO(text), format=form)
    except (MalformedFileError, MalformedCaptionError) as exc:
        name = "WebVTT" if form == "vtt" else "SubRip"
        raise TranscriptUnreadable(f"is not {name}: {exc}") from None
    decode = html.unescape if form == "vtt" else str
    out = []
    for caption in captions.captions:
        words = cues._plain(decode(caption.text))
        if words:
            out.append((caption.start_time.in_milliseconds() / 1000, caption.end_time.in_milliseconds() / 1000,
                        words, cues._plain(decode(caption.voice or ""))))
    return tuple(out)


def outcome(read, data: bytes, type: str):
    try:
        return tuple((c.start, c.end, c.text, c.speaker) if isinstance(c, cues.Cue) else c
                     for c in read(data, type))
    except TranscriptUnreadable as exc:
        return f"TranscriptUnreadable: {exc}"


def read_plainly(data: bytes, type: str) -> bool:
    """Whether read_cues reads the file without webvtt-py."""
    text = cues._plain_text(data.decode("utf-8-sig"))
    if text is None:
        return False
    return (cues._simple_vtt(text) if type == "text/vtt" else cues._simple_srt(cues._lines(text))) is not None


@pytest.mark.parametrize("path", sorted(p for p in SAMPLE_MEDIA.rglob("*") if p.suffix[1:] in TYPES),
                         ids=lambda p: p.name)
def test_the_sample_transcripts_read_as_webvtt_py_reads_them(path):
    data = path.read_bytes()
    type = TYPES[path.suffix[1:]]
    expected = outcome(webvtt_cues, data, type)
    assert expected and not isinstance(expected, str)
    assert outcome(read_cues, data, type) == expected
    assert read_plainly(data, type)


@pytest.mark.parametrize("name", ["long.vtt", "long.srt"])
def test_a_long_plain_transcript_is_read_without_webvtt_py(tmp_path, name, monkeypatch):
    # The bench's files: 1,500 cues cost webvtt-py some 100 ms of CPU on a page's first
    # request; read plainly, the same cues, without webvtt-py's per-cue work.
    write_transcript(tmp_path, name, 1_500)
    data = (tmp_path / name).read_bytes()
    type = TYPES[name[-3:]]
    expected = outcome(webvtt_cues, data, type)
    assert len(expected) == 1_500
    monkeypatch.setattr(webvtt.WebVTT, "from_buffer", None)  # any use of it fails
    assert outcome(read_cues, data, type) == expected


def test_a_file_outside_the_plain_shape_is_read_by_webvtt_py(monkeypatch):
    called = []
    real = webvtt.WebVTT.from_buffer

    def from_buffer(*args, **kwargs):
        called.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(webvtt.WebVTT, "from_buffer", from_buffer)
    # A cue whose timings leave out the leading zero is read, as players read it.
    data = b"WEBVTT\n\n0:00:01.000 --> 0:00:02.000\n<v Ann>Hello &amp; welcome\n"
    assert outcome(read_cues, data, "text/vtt") == ((1.0, 2.0, "Hello & welcome", "Ann"),)
    assert called


# -- generated files ------------------------------------------------------------------------

digits = st.text("0123456789", min_size=1, max_size=3)
two = st.sampled_from(["00", "01", "07", "30", "59", "60", "99", "5"])
vtt_time = st.builds(lambda h, m, s, sep, ms: f"{h}{m}:{s}{sep}{ms}",
                     st.sampled_from(["", "00:", "01:", "1:", "123:"]), two, two,
                     st.sampled_from([".", ".", ","]), st.sampled_from(["000", "250", "999", "5", "1234"]))
srt_time = st.builds(lambda h, m, s, sep, ms: f"{h}:{m}:{s}{sep}{ms}",
                     st.sampled_from(["00", "01", "1", "100"]), two, two,
                     st.sampled_from([",", ",", "."]), st.sampled_from(["000", "250", "999", "5", "1500"]))
arrow = st.sampled_from([" --> ", " --> ", "-->", "  -->\t"])
settings_text = st.sampled_from(["", "", "", " align:start position:10%", "\tline:0", "1", " -->"])
words = st.sampled_from([
    "And so it was said.", "<v Ann>Hello there", "<v.loud Bob Smith>Yes.</v>", "<v>no voice",
    "<b>bold</b> and <i>not closed", "a &amp; b &lt;c&gt; &nbsp;", "x > y < z", "<<>>",
    "12", "NOTE inside", "STYLE", "REGION", "WEBVTT", " ", "\t", "-->", "Ünïcødé \u2028 line",
    "\x01control\x7f", "<c.yellow>coloured</c>", "&#39;quoted&#39;", "<v Ann", "   spaced   out  ",
])
free = st.text("ab <>&v.:-0123456789\t\ufeff", max_size=12)
line_text = st.one_of(words, words, free)


def document(head, block, newlines=("\n", "\n", "\r\n", "\r"), gaps=("", "", " ", "\t", "", "", "\n")):
    return st.builds(
        lambda header, blocks, newline, gaps: _join(header, blocks, newline, gaps),
        head, st.lists(block, max_size=8), st.sampled_from(newlines),
        st.lists(st.sampled_from(gaps), min_size=8, max_size=8))


def _join(header: list[str], blocks: list[list[str]], newline: str, gaps: list[str]) -> bytes:
    lines = list(header)
    for number, block in enumerate(blocks):
        if lines:
            lines.append(gaps[number])  # usually an empty line, sometimes whitespace or two
        lines += block
    return ("\n".join(lines) + "\n").replace("\n", newline).encode("utf-8")


# The plain shape: the generated files are mostly of it, with a step outside it here and
# there (the boundary of the plain readers), and some are wholly of it (read without webvtt-py).
plain_words = st.sampled_from(["And so it was said.", "<v Ann>Hello there", "<v.loud Bob Smith>Yes.</v>",
                               "<b>bold</b> and <i>not closed", "a &amp; b &lt;c&gt;", "x > y < z",
                               "Ünïcødé \u2028 line", "<c.yellow>coloured</c>", "  ", "12"])
plain_time = st.builds(lambda h, m, s, ms: f"{h}{m:02d}:{s:02d}.{ms:03d}", st.sampled_from(["", "00:", "01:"]),
                       st.integers(0, 59), st.integers(0, 59), st.integers(0, 999))
plain_vtt_block = st.one_of(st.builds(lambda ident, t1, t2, rest, text: [*ident, f"{t1} --> {t2}{rest}", *text],
                        st.lists(st.sampled_from(["1", "intro"]), max_size=1), plain_time, plain_time,
                        st.sampled_from(["", " align:start"]), st.lists(plain_words, max_size=3)),
              st.just(["NOTE a comment"]))
plain_vtt = document(st.sampled_from([["WEBVTT"], ["WEBVTT - a title"], ["WEBVTT", "Kind: captions"]]),
                     plain_vtt_block, newlines=("\n", "\r\n"), gaps=("", "\n"))
plain_srt_time = st.builds(lambda h, m, s, ms: f"{h:02d}:{m:02d}:{s:02d},{ms:03d}",
                           st.integers(0, 99), st.integers(0, 99), st.integers(0, 99), st.integers(0, 999))
plain_srt_block = st.builds(lambda n, t1, t2, text: [str(n), f"{t1} --> {t2}", *text],
                            st.integers(1, 9999), plain_srt_time, plain_srt_time,
                            st.lists(plain_words.filter(str.strip), min_size=1, max_size=3))
plain_srt = document(st.just([]), plain_srt_block, newlines=("\n", "\r\n"), gaps=("", "\n", " "))



def vtt_block():
    cue = st.builds(lambda ident, t1, a, t2, rest, text: [*ident, f"{t1}{a}{t2}{rest}", *text],
                    st.lists(st.sampled_from(["1", "intro", "NOTE", "a-->b"]), max_size=1),
                    vtt_time, arrow, vtt_time, settings_text, st.lists(line_text, max_size=3))
    other = st.one_of(
        st.builds(lambda text: ["NOTE", *text], st.lists(line_text, max_size=2)),
        st.just(["NOTE a comment"]),
        st.just(["STYLE", "::cue { color: red }"]),
        st.just(["REGION", "id:r1 width:40%"]),
        st.lists(line_text, min_size=1, max_size=2),
    )
    return st.one_of(plain_vtt_block, plain_vtt_block, plain_vtt_block, cue, other)


def srt_block():
    cue = st.builds(lambda number, t1, a, t2, rest, text: [*number, f"{t1}{a}{t2}{rest}", *text],
                    st.one_of(st.builds(lambda d: [d], digits), st.just([" 3 "]), st.just([])),
                    srt_time, arrow, srt_time, st.sampled_from(["", "", " X1:10"]),
                    st.lists(line_text, max_size=3))
    return st.one_of(plain_srt_block, plain_srt_block, plain_srt_block, plain_srt_block, cue,
                     st.lists(line_text, min_size=1, max_size=2))


vtt_files = document(st.sampled_from([["WEBVTT"], ["WEBVTT - a title"], ["WEBVTT", "Kind: captions"],
                                      ["\ufeffWEBVTT"], ["WEBVTTX"], ["webvtt"], [], ["WEBVTT", "1 --> 2"]]),
                     vtt_block())
srt_files = document(st.sampled_from([[], [], ["1"]]), srt_block())
slow = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@slow
@given(vtt_files)
def test_generated_webvtt_reads_as_webvtt_py_reads_it(data):
    assert outcome(read_cues, data, "text/vtt") == outcome(webvtt_cues, data, "text/vtt")


@slow
@given(srt_files)
def test_generated_subrip_reads_as_webvtt_py_reads_it(data):
    assert outcome(read_cues, data, "application/x-subrip") == outcome(webvtt_cues, data, "application/x-subrip")


@slow
@given(plain_vtt)
def test_plain_webvtt_is_read_without_webvtt_py_and_the_same(data):
    assert read_plainly(data, "text/vtt")
    assert outcome(read_cues, data, "text/vtt") == outcome(webvtt_cues, data, "text/vtt")


@slow
@given(plain_srt.filter(lambda data: data.count(b"\n") >= 3))  # webvtt-py's least
def test_plain_subrip_is_read_without_webvtt_py_and_the_same(data):
    assert read_plainly(data, "application/x-subrip")
    assert outcome(read_cues, data, "application/x-subrip") == outcome(webvtt_cues, data, "application/x-subrip")


@pytest.mark.parametrize("data, type, problem", [
    (b"00:01.000 --> 00:02.000\nno header\n", "text/vtt", "is not WebVTT"),
    (b"hello\n", "application/x-subrip", "is not SubRip"),
    (b"WEBVTT\n\n" + b"00:01.000 --> 00:02.000\nx\n\n" * (MAX_CUES + 1), "text/vtt", "more than 5,000 cues"),
    (b"\xff\xfe", "text/vtt", "is not UTF-8"),
])
def test_what_is_not_a_transcript_is_a_named_problem(data, type, problem):
    with pytest.raises(TranscriptUnreadable, match=problem):
        read_cues(data, type)


def test_a_hostile_line_of_tags_reads_as_webvtt_py_reads_it():
    line = "<" * 100_000 + "a>" + "<b" * 50_000 + ">" + "<" * 100_000
    data = f"WEBVTT\n\n00:01.000 --> 00:02.000\n{line}\n".encode()
    assert read_plainly(data, "text/vtt")
    assert outcome(read_cues, data, "text/vtt") == outcome(webvtt_cues, data, "text/vtt")
