"""The model's Markdown arrives as clean chat text, its content intact."""

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
