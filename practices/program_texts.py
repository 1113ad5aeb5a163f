"""The program terms and privacy notice: the default texts a practice starts from, and how a text is shown.

Owners write plain text. Shown on the public pages, it keeps a very small markup, and nothing else: every
character is escaped first, so no HTML the owner types (or pastes) reaches the page.

- a blank line starts a new paragraph; a single line break stays a line break;
- a line starting with "## " is a heading;
- lines starting with "- " make a bulleted list;
- web addresses and email addresses become links.
"""

from __future__ import annotations

from django.utils.html import escape, urlize
from django.utils.safestring import SafeString, mark_safe

from .models import Practice

MAX_CHARS = 20_000

DEFAULT_TERMS = """\
These terms apply to the {name} rewards program ("the program"). By joining, you agree to them.

## Joining
- The program is free. You join with a mobile phone number that we confirm with a text message.
- One membership per person. Memberships cannot be transferred or sold.

## Points
- You earn points on qualifying purchases at {name}, and for the bonus actions we announce.
- Points have no cash value and cannot be exchanged for cash.
- Points expire when there has been no qualifying purchase for the period shown in the app; we remind you \
before they do.
- If a purchase is refunded, the points it earned are removed.

## Rewards and vouchers
- You can exchange points for the rewards listed in the app, while they are available.
- A voucher is used at {name} by showing its code. An unused voucher that is cancelled or expires gives the \
points back.

## Referrals
- When a friend joins with your code and makes a qualifying purchase, you may both receive the referral \
rewards shown in the app. You cannot refer yourself.

## Changes
- We may change the program, its rewards or these terms. We will tell you about important changes in the app \
or by text message before they apply.
- We may close a membership that is used fraudulently.

Questions? Ask us at {name}."""

DEFAULT_PRIVACY = """\
This notice explains what the {name} rewards program keeps about you and why.

## What we keep
- Your name, mobile phone number and, if you give them, your email address and birthday.
- Your purchases at {name} as far as the program needs them (what earns points, and when), your points, \
rewards, vouchers and referrals.
- The messages we send you and whether you agreed to receive them.

We do not keep medical information (no diagnoses, no treatment notes) in the program.

## Why
- To run the program: count your points, issue your rewards and tell you about them.
- To send you program messages, such as codes to sign in, reminders before points expire, and birthday \
bonuses. You can stop text messages at any time by replying STOP.

## Who sees it
- The staff of {name}, and the companies that send our text messages and host the program for us, only to \
provide it. We do not sell your information.

## Your choices
- You can see your points and history in the app at any time.
- Ask us at {name} for a copy of your information, to correct it, or to close your membership."""


def default_terms(practice: Practice) -> str:
    return DEFAULT_TERMS.format(name=practice.name)


def default_privacy(practice: Practice) -> str:
    return DEFAULT_PRIVACY.format(name=practice.name)


def render_text(text: str) -> SafeString:
    """The owner's text as HTML: escaped, with the small markup of this module's docstring."""
    blocks: list[str] = []
    for block in _blocks(text):
        if block[0].startswith("## "):
            blocks.append(f"<h2>{_inline(block[0][3:])}</h2>")
            block = block[1:]
            if not block:
                continue
        if all(line.startswith("- ") for line in block):
            items = "".join(f"<li>{_inline(line[2:])}</li>" for line in block)
            blocks.append(f"<ul>{items}</ul>")
        else:
            blocks.append("<p>" + "<br>".join(_inline(line) for line in block) + "</p>")
    return mark_safe("\n".join(blocks))  # noqa: S308 - every piece of text went through escape() in _inline


def _blocks(text: str) -> list[list[str]]:
    """Paragraphs (runs of non-blank lines), with each heading line a block of its own."""
    blocks: list[list[str]] = [[]]
    for raw in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line:
            blocks.append([])
        elif line.startswith("## "):
            blocks.extend([[line], []])
        else:
            blocks[-1].append(line)
    return [block for block in blocks if block]


def _inline(text: str) -> str:
    # urlize escapes what it does not turn into a link (autoescape=True); escaping first would double it.
    return urlize(text, nofollow=True, autoescape=True) if ("." in text or "@" in text) else escape(text)
