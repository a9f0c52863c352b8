from app.text import LIMIT, split


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
