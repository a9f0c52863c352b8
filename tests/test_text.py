from app.text import INSTAGRAM, MESSENGER, split, utf8_bytes, utf16_units

LIMIT = MESSENGER.limit


def test_short_text_is_one_part():
    assert split("  hello  ") == ["hello"]


def test_empty_text_has_no_parts():
    assert split(" \n ") == []


def test_4500_character_reply_is_split_in_order_at_paragraphs():
    paragraphs = [f"Paragraph {i}. " + "word " * 160 for i in range(6)]
    reply = "\n\n".join(p.strip() for p in paragraphs)
    assert 4400 < len(reply) < 5000
    parts = split(reply)
    assert len(parts) == 3
    assert all(len(p) <= LIMIT for p in parts)
    assert parts[0].startswith("Paragraph 0.") and parts[-1].endswith("word")
    assert " ".join(parts).split() == reply.split()
    assert all(p.startswith("Paragraph") for p in parts)  # cuts fell between paragraphs


def test_long_paragraph_is_split_at_sentences():
    reply = "".join(f"Sentence number {i} is here. " for i in range(150))
    parts = split(reply)
    assert all(len(p) <= LIMIT for p in parts)
    assert all(p.endswith("here.") for p in parts)
    assert " ".join(parts).split() == reply.split()


def test_long_sentence_is_split_at_words():
    reply = "lorem " * 900
    parts = split(reply)
    assert len(parts) == 3 and all(len(p) <= LIMIT for p in parts)
    assert all(w == "lorem" for p in parts for w in p.split())


def test_unbroken_text_is_cut_hard():
    assert [len(p) for p in split("x" * 4500)] == [2000, 2000, 500]


EMOJI_FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 11 UTF-16 units


def test_parts_are_counted_in_utf16_units_and_emoji_families_stay_whole():
    parts = split(EMOJI_FAMILY * 2500)
    assert all(utf16_units(p) <= 2000 for p in parts)
    assert all(p == EMOJI_FAMILY * (len(p) // len(EMOJI_FAMILY)) for p in parts)
    assert "".join(parts) == EMOJI_FAMILY * 2500


def test_a_hard_cut_never_splits_a_letter_from_its_accent():
    word = "e\u0301" * 1500  # é as e + combining acute: 3000 units, no spaces
    parts = split(word)
    assert [utf16_units(p) for p in parts] == [2000, 1000]
    assert all(not p.startswith("\u0301") for p in parts)


def test_instagram_counts_bytes_of_utf8():
    parts = split("é" * 1500, INSTAGRAM)  # 3000 bytes
    assert [utf8_bytes(p) for p in parts] == [1000, 1000, 1000]


def test_sentences_still_win_over_hard_cuts_with_emoji():
    reply = "".join(f"Great choice {EMOJI_FAMILY}! " for _ in range(300))
    parts = split(reply)
    assert all(utf16_units(p) <= 2000 and p.endswith("!") for p in parts)
