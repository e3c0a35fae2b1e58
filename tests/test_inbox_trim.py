"""Reply trimming: the shared corpus, client HTML, quote headers in many languages, signatures."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from outreach.inbox.html_text import render
from outreach.inbox.trim import Trimmed, trim_html, trim_reply, trim_text
from tests.services import missing

# The shared folder sits beside the repository (here /work/shared; in CI <repo>/../shared).
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "reply-trimming"


def _clean(expected: str, visible: str) -> bool:
    """Every expected word kept (as a multiset) and at most 10% extra words."""
    want, got = Counter(expected.split()), Counter(visible.split())
    return not (want - got) and sum((got - want).values()) <= 0.1 * sum(want.values())


def test_corpus_mostly_clean() -> None:
    if not (CORPUS / "emails").is_dir():
        missing(f"reply-trimming corpus not found at {CORPUS}")
    emails = sorted((CORPUS / "emails").glob("*.txt"))
    results = {}
    for path in emails:
        expected = (CORPUS / "trimmed" / path.name).read_text(encoding="utf-8")
        results[path.name] = _clean(expected, trim_text(path.read_text(encoding="utf-8")).visible)
    clean = sum(results.values())
    print(f"reply-trimming corpus: {clean} of {len(emails)} clean")
    assert len(emails) == 64
    assert clean >= 60, sorted(name for name, ok in results.items() if not ok)


GMAIL = (
    '<div dir="ltr">Hi Anna,<div><br></div><div>Yes, Tuesday at 10 works for me.</div>'
    "<div><br></div><div>Best,</div><div>Erik</div></div><br>"
    '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, 3 Jun 2024 at 09:12, '
    'Anna Recruiter &lt;<a href="mailto:anna@example.com">anna@example.com</a>&gt; wrote:<br>'
    '</div><blockquote class="gmail_quote" style="margin:0 0 0 .8ex;border-left:1px solid #ccc">'
    '<div dir="ltr">Would you have time for a call?</div></blockquote></div>'
)
GMAIL_SIGNATURE = (
    '<div dir="ltr">Sounds great, see you then.<br clear="all"><div><br></div>-- <br>'
    '<div dir="ltr" class="gmail_signature" data-smartmail="gmail_signature">Erik Svensson'
    "<div>Senior Engineer, Bolaget AB</div></div></div><br>"
    '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">Den mån 3 juni 2024 kl 09:12 '
    "skrev Anna &lt;anna@example.com&gt;:<br></div>"
    '<blockquote class="gmail_quote">Would you have time for a call?</blockquote></div>'
)
OUTLOOK_WEB = (
    "<html><head><style>p{margin:0}</style></head><body>"
    "<div>Thanks, I'm interested. Please send more details.</div>"
    '<div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1">'
    '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>From:</b> Anna Recruiter '
    "&lt;anna@example.com&gt;<br><b>Sent:</b> Monday, June 3, 2024 9:12 AM<br><b>To:</b> Erik "
    "&lt;erik@example.com&gt;<br><b>Subject:</b> Platform role</font><div>&nbsp;</div></div>"
    "<div><div>Would you have time for a call?</div></div></body></html>"
)
OUTLOOK_DESKTOP = (
    '<html><body lang="DE"><div class="WordSection1"><p class="MsoNormal">Hallo Anna,<o:p></o:p>'
    '</p><p class="MsoNormal">gerne, Dienstag passt.<o:p></o:p></p><div><div style="border:none;'
    'border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>Von:</b> '
    "Anna Recruiter &lt;anna@example.com&gt;<br><b>Gesendet:</b> Montag, 3. Juni 2024 09:12<br>"
    "<b>An:</b> Erik &lt;erik@example.com&gt;<br><b>Betreff:</b> Stelle</p></div></div>"
    '<p class="MsoNormal">Would you have time for a call?</p></div></body></html>'
)
APPLE_MAIL = (
    '<html><body dir="auto">Sure, call me at five.<br><br>'
    '<div dir="ltr" id="AppleMailSignature">Sent from my iPhone</div><div dir="ltr"><br>'
    "On 3 Jun 2024, at 09:12, Anna Recruiter &lt;anna@example.com&gt; wrote:<br><br></div>"
    '<blockquote type="cite"><div dir="ltr">Would you have time for a call?</div></blockquote>'
    "</body></html>"
)
THUNDERBIRD = (
    "<html><body><p>Thanks, that works.</p><p>Erik<br></p>"
    '<div class="moz-cite-prefix">Le 03/06/2024 à 09:12, Anna a écrit&nbsp;:<br></div>'
    '<blockquote type="cite" cite="mid:abc@example.com">Would you have time for a call?'
    '</blockquote><pre class="moz-signature" cols="72">-- \nErik Svensson, Bolaget AB</pre>'
    "</body></html>"
)
YAHOO = (
    '<html><body><div class="yahoo-style-wrap"><div>No thanks, not looking right now.</div>'
    '</div><div id="yahoo_quoted_123" class="yahoo_quoted"><div>On Monday, June 3, 2024, '
    "09:12:00 AM GMT+2, Anna &lt;anna@example.com&gt; wrote:</div><div><br></div>"
    "<div><div>Would you have time for a call?</div></div></div></body></html>"
)


@pytest.mark.parametrize(
    ("html", "reply", "hidden"),
    [
        pytest.param(GMAIL, "Yes, Tuesday at 10 works for me.", "On Mon, 3 Jun 2024", id="gmail"),
        pytest.param(GMAIL_SIGNATURE, "Sounds great", "Senior Engineer", id="gmail-signature"),
        pytest.param(OUTLOOK_WEB, "Please send more details.", "Sent: Monday", id="outlook-web"),
        pytest.param(OUTLOOK_DESKTOP, "gerne, Dienstag passt.", "Gesendet:", id="outlook"),
        pytest.param(APPLE_MAIL, "Sure, call me at five.", "Sent from my iPhone", id="apple"),
        pytest.param(THUNDERBIRD, "Thanks, that works.", "Bolaget AB", id="thunderbird"),
        pytest.param(YAHOO, "No thanks, not looking right now.", "GMT+2", id="yahoo"),
    ],
)
def test_html_client_replies(html: str, reply: str, hidden: str) -> None:
    trimmed = trim_html(html)
    assert reply in trimmed.visible
    assert "call?" not in trimmed.visible
    assert "call?" in trimmed.elided
    assert hidden not in trimmed.visible
    assert hidden in trimmed.elided


@pytest.mark.parametrize(
    "quoted",
    [
        pytest.param(
            "Den mån 3 juni 2024 kl 09:12 skrev Anna Recruiter <anna@example.com>:\n\n> Hej Erik!",
            id="sv-gmail",
        ),
        pytest.param(
            "Från: Anna Recruiter [mailto:anna@example.com]\nSkickat: den 3 juni 2024 09:12\n"
            "Till: erik@example.com\nÄmne: Tjänsten\n\nHej Erik!",
            id="sv-outlook",
        ),
        pytest.param(
            "Am 03.06.2024 um 09:12 schrieb Anna Recruiter <anna@example.com>:\n\n> Hallo Erik!",
            id="de-apple",
        ),
        pytest.param(
            "Anna Recruiter <anna@example.com> schrieb am Mo., 3. Juni 2024,\n09:12:\n\n"
            "> Hallo Erik!",
            id="de-gmail-wrapped",
        ),
        pytest.param(
            "-----Ursprüngliche Nachricht-----\nVon: Anna Recruiter <anna@example.com>\n"
            "Gesendet: Montag, 3. Juni 2024 09:12\nAn: Erik\nBetreff: Stelle\n\nHallo Erik!",
            id="de-outlook",
        ),
        pytest.param(
            "Le lun. 3 juin 2024 à 09:12, Anna <anna@example.com> a écrit :\n\n> Bonjour Erik !",
            id="fr",
        ),
        pytest.param("Op 3 jun. 2024 om 09:12 schreef Anna:\n\n> Hoi Erik!", id="nl"),
        pytest.param(
            "Anna Recruiter <anna@example.com> kirjoitti 3.6.2024 klo 9.12:\nHei!", id="fi"
        ),
        pytest.param("Begin forwarded message:\n\nFrom: Anna\nSubject: Hej\n\nHej Erik!", id="fwd"),
    ],
)
def test_quote_headers_in_many_languages(quoted: str) -> None:
    trimmed = trim_text(f"Tack, det låter bra.\n\nErik\n\n{quoted}\n")
    assert trimmed.visible == "Tack, det låter bra.\n\nErik"
    assert quoted.split("\n")[0] in trimmed.elided


@pytest.mark.parametrize(
    "signature",
    [
        "-- \nErik Svensson\nSenior Engineer\n+46 70 123 45 67",
        "Sent from my iPhone",
        "Skickat från min iPhone",
        "Von meinem iPhone gesendet",
        "Envoyé de mon iPhone",
        "Get Outlook for Android",
        "__________\nErik Svensson | Bolaget AB",
    ],
)
def test_signatures_are_elided(signature: str) -> None:
    trimmed = trim_text(f"Yes, I am still interested in the role.\n\n{signature}\n")
    assert trimmed.visible == "Yes, I am still interested in the role."
    assert signature.split("\n")[-1] in trimmed.elided


@pytest.mark.parametrize(
    "header",
    [
        "On Mon, 3 Jun 2024 at 09:12, Anna Recruiter <anna@example.com>\nwrote:",
        "Den mån 3 juni 2024 kl 09:12 skrev Anna Recruiter <\nanna@example.com>:",
        "Am Mo., 3. Juni 2024 um 09:12 Uhr schrieb Anna Recruiter <\nanna@example.com>:",
    ],
)
def test_reply_that_is_only_a_wrapped_quote_header(header: str) -> None:
    trimmed = trim_text(f"{header}\n")
    assert trimmed.visible == ""
    assert trimmed.elided == header
    quoted = trim_text(f"{header}\n\n> Would you have time for a call?\n")
    assert quoted.visible == ""
    assert "call?" in quoted.elided


def test_bottom_posted_and_interleaved_replies_keep_the_writer_text() -> None:
    bottom = trim_text(
        "On Mon, 3 Jun 2024 at 09:12, Anna <anna@example.com> wrote:\n"
        "> Would you have time for a call?\n\nYes, Tuesday works.\n"
    )
    assert bottom == Trimmed(
        visible="Yes, Tuesday works.",
        elided="On Mon, 3 Jun 2024 at 09:12, Anna <anna@example.com> wrote:\n"
        "> Would you have time for a call?",
    )
    inline = trim_text(
        "Hi Anna,\nOn Mon, 3 Jun 2024 at 09:12, Anna <anna@example.com> wrote:\n"
        "> Would you have time for a call?\n\nYes.\n\n> Tuesday or Wednesday?\n\nTuesday.\n"
    )
    assert "> Tuesday or Wednesday?" in inline.visible
    assert inline.visible.endswith("Tuesday.")
    assert "wrote:" not in inline.visible


def test_code_blocks_stay_intact() -> None:
    code = "```\n-- a SQL comment\n> not a quote\n#####\n```"
    trimmed = trim_text(f"Here is the query:\n\n{code}\n\nThanks\n\n-- \nErik\n")
    assert trimmed.visible == f"Here is the query:\n\n{code}\n\nThanks"
    assert trimmed.elided == "-- \nErik"


def test_quote_only_reply_keeps_the_quote() -> None:
    assert trim_text("> only a quote\n").visible == "> only a quote"


def test_html_to_text_renders_structure() -> None:
    html = (
        '<p>Points:</p><ul><li>one <a href="https://example.com/a">link</a></li>'
        "<li>two<ul><li>nested</li></ul></li></ul><ol><li>first</li><li>second</li></ol>"
        '<p>See <a href="https://x.org">https://x.org</a><br>and &amp; more</p>'
        "<pre>def f():\n    return 1</pre><script>alert(1)</script>"
    )
    assert render(html, markers=False) == (
        "Points:\n\n- one link (https://example.com/a)\n- two\n  - nested\n\n1. first\n"
        "2. second\n\nSee https://x.org\nand & more\n\ndef f():\n    return 1"
    )


def test_trim_reply_prefers_plain_text() -> None:
    assert trim_reply("Plain wins.\n\nSent from my iPhone", GMAIL).visible == "Plain wins."
    assert "Tuesday at 10" in trim_reply("  \n", GMAIL).visible
    assert trim_reply(None, None) == Trimmed(visible="", elided="")


def test_section_rules_and_underlines_are_not_signatures() -> None:
    answers = (
        "Hi,\n\nMy answers:\n\n---\n\n"
        "Q1: I have worked with Python for six years, mostly on backend services and pipelines.\n"
        "Q2: No, I would rather not relocate."
    )
    assert trim_text(answers).visible == answers
    table = "The plan:\n\n  QUERY PLAN\n--------------\n Seq Scan on t\n(1 row)"
    assert trim_text(f"{table}\n\nOn 3 Jun 2024, Anna wrote:\n> Why slow?").visible == table
    assert trim_text("Thanks!\n\n---\nErik Svensson\nAcme AB").visible == "Thanks!"


@pytest.mark.parametrize(
    "text",
    [
        "From my point of view, the role sounds great.\n\nErik",
        "Sent the signed contract yesterday, did it arrive?\n\nErik",
        "Thanks. I wrote 3 answers below:\n\n1. Yes\n2. No",
    ],
)
def test_sentences_like_signatures_or_headers_stay(text: str) -> None:
    assert trim_text(text).visible == text


def test_forward_with_nothing_written_shows_the_forwarded_message() -> None:
    trimmed = trim_text(
        "---------- Forwarded message ---------\nFrom: Anna <anna@example.com>\n"
        "Date: Mon, 3 Jun 2024 at 09:12\nSubject: Platform role\nTo: <erik@example.com>\n\n"
        "Would you have time for a call?\n"
    )
    assert trimmed.visible == "Would you have time for a call?"
    assert trimmed.elided.startswith("---------- Forwarded message")


def test_deeply_nested_html_thread() -> None:
    html = "<div>Reply on top</div>" + "<blockquote type='cite'><div>" * 3000 + "old"
    trimmed = trim_html(html + "</div></blockquote>" * 3000)
    assert trimmed.visible == "Reply on top"
    assert "old" in trimmed.elided


def test_unknown_language_attribution_before_a_client_quote_is_hidden() -> None:
    html = (
        "<p>Hi. I am fine.</p><p>Thanks,<br>Alex</p>"
        "Thu, 26 Jun 2014 14:00:51 +0400 от Alexander &lt;abc@example.com&gt;:<br>"
        "<blockquote>Hello! How are you?</blockquote>"
    )
    trimmed = trim_html(html)
    assert trimmed.visible == "Hi. I am fine.\n\nThanks,\nAlex"
    assert trimmed.elided.startswith("Thu, 26 Jun 2014")
