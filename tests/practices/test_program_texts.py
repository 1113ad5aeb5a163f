"""How the owner's terms and privacy notice are shown: escaped, with a very small markup."""

from practices.program_texts import DEFAULT_PRIVACY, DEFAULT_TERMS, render_text


def test_paragraphs_headings_and_lists():
    html = render_text("First line\nsecond line\n\n## Points\n- one\n- two\n\nLast.")

    assert html == (
        "<p>First line<br>second line</p>\n<h2>Points</h2>\n<ul><li>one</li><li>two</li></ul>\n<p>Last.</p>"
    )


def test_html_the_owner_types_is_shown_as_text():
    html = render_text('<script>alert("x")</script>\n\n## <b>Bold</b>\n- <img src=x onerror=alert(1)>')

    assert "<script>" not in html and "<b>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<h2>&lt;b&gt;Bold&lt;/b&gt;</h2>" in html


def test_web_and_email_addresses_become_links_and_nothing_else_does():
    html = render_text("See https://alpha.example/terms or write to hello@alpha.example. javascript:alert(1) <x>")

    assert '<a href="https://alpha.example/terms" rel="nofollow">https://alpha.example/terms</a>' in html
    assert '<a href="mailto:hello@alpha.example">hello@alpha.example</a>' in html
    assert 'href="javascript' not in html
    assert "&lt;x&gt;" in html


def test_windows_line_ends_and_blank_text():
    assert render_text("a\r\nb\r\n\r\nc") == "<p>a<br>b</p>\n<p>c</p>"
    assert render_text("") == ""


def test_the_default_texts_name_the_practice_and_render():
    for text in (DEFAULT_TERMS, DEFAULT_PRIVACY):
        filled = text.format(name="Alpha Aesthetics")
        assert "Alpha Aesthetics" in filled and "{" not in filled
        html = render_text(filled)
        assert html.count("<h2>") >= 3 and "<ul>" in html
