"""The model's Markdown arrives as clean chat text, its content intact."""

import random

from app import render
from app.render import to_text

REPLY = """## Our best sellers

**Green tea** is *our* favourite. See [the shop](https://shop.test/tea) or <https://shop.test>.

1. Sencha — `$5`
2. Matcha
   - ceremonial
   - culinary

- ~~old~~ new price

| Tea | Price |
|-----|------:|
| Sencha | $5 |
| Matcha | $12 |

```python
print("hi")
```
"""


def test_markdown_becomes_plain_lines():
    assert to_text(REPLY) == (
        "Our best sellers\n\n"
        "Green tea is our favourite. See the shop (https://shop.test/tea) or https://shop.test.\n\n"
        "1. Sencha — $5\n"
        "2. Matcha\n"
        "  • ceremonial\n"
        "  • culinary\n\n"
        "• old new price\n\n"
        "Tea | Price\n"
        "Sencha | $5\n"
        "Matcha | $12\n\n"
        'print("hi")'
    )


def test_no_markdown_symbol_survives_and_no_word_is_lost():
    text = to_text(REPLY)
    for symbol in ("**", "##", "```", "|---", "](", "~~", "`"):
        assert symbol not in text
    words = ["best", "sellers", "Green", "favourite", "Sencha", "Matcha", "ceremonial", "$12"]
    assert all(word in text for word in words)


def test_plain_text_passes_unchanged():
    reply = "Hello! We open at 9.\n\nSee you soon."
    assert to_text(reply) == reply


def test_an_ordered_list_keeps_its_own_numbers():
    assert to_text("3. three\n4. four") == "3. three\n4. four"


def test_a_link_whose_text_is_its_address_is_written_once():
    assert to_text("[https://a.test](https://a.test)") == "https://a.test"
    assert to_text("Mail <me@a.test>") == "Mail me@a.test"


def test_an_image_keeps_its_description_and_address():
    assert to_text("![a cat](https://a.test/cat.png)") == "a cat (https://a.test/cat.png)"


_parsed = render._parsed  # what the parser makes of a text, whatever it looks like


# Letters and the symbols of chat text, with the block markers that matter only where a line
# starts, the whitespace the parser treats as its own, and digits to open ordered lists.
PIECES = [*"abcXYZé😀 .,;:?![]'\"()/%$@^{}", " ", "  ", "\n", "\n\n", "\n  \n", "1", "2.", "3)"]
PIECES += [*"-+=#>&", "&amp;", "\t", "\u00a0", "\r", "    code", "9. ", "- "]


def test_a_reply_without_markdown_is_given_the_parsers_lines_without_a_parse():
    """The shortcut for plain text never writes anything the parser would not."""
    rng = random.Random(7)
    plain = 0
    for _ in range(4000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 30)))
        if render._MAY_BE_MARKDOWN.search(text) is None:
            plain += 1
            assert to_text(text) == _parsed(text), repr(text)
    assert plain > 500  # the shortcut was taken often enough to mean something


def test_what_only_looks_like_plain_text_is_still_parsed():
    quoted = ("[a](b)", "x [a][b]", "[a]: b\n\n[a]", "![a](b)")
    for text in (
        "9. nine",
        "a\n- b",
        "a\n===",
        "# title",
        "> quote",
        "    code",
        "a &amp; b",
        *quoted,
    ):
        assert render._MAY_BE_MARKDOWN.search(text), text
        assert to_text(text) == _parsed(text)


def test_a_plain_reply_is_not_parsed(monkeypatch):
    """Most replies are plain sentences: they skip the parse, a tenth of a millisecond each."""

    def parse(_text):
        raise AssertionError("parsed")

    monkeypatch.setattr(render._MARKDOWN, "parse", parse)
    reply = "[offline model] 2 earlier messages; you said: hi!\n\nSee you (soon)."
    assert to_text(reply) == reply
