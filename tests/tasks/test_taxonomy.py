"""Taxonomy loading: the shipped file, hardening against XML attacks, and one-line errors."""

from pathlib import Path

import pytest

from assign_cat.taxonomy import load_taxonomy
from labnb.errors import InputError

ROOT = Path(__file__).resolve().parents[2]

SMALL = """<taxonomy name="t" version="1">
  <category id="immune-support" name="Immune Support">
    <description>Supplements that support the immune system.</description>
    <subcategory id="daily-immune" name="Daily Immune">
      <description>Everyday immune maintenance.</description>
    </subcategory>
    <subcategory id="mushrooms" name="Mushrooms"/>
  </category>
  <category id="sleep" name="Sleep">
    <subcategory id="melatonin" name="Melatonin"/>
    <subcategory id="daily-immune" name="Same id, other category"/>
  </category>
</taxonomy>
"""


def write(tmp_path, text, name="taxonomy.xml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_taxonomy_is_large_enough_and_described():
    tax = load_taxonomy(ROOT / "config" / "taxonomy.xml")
    subs = [s for c in tax.categories for s in c.subcategories]
    assert len(tax.categories) >= 10 and len(subs) >= 35
    assert all(c.description for c in tax.categories) and all(s.description for s in subs)
    assert tax.is_valid("immune-support", "daily-immune")


def test_parses_structure_and_allows_a_subcategory_id_in_two_categories(tmp_path):
    tax = load_taxonomy(write(tmp_path, SMALL))
    assert (tax.name, tax.version) == ("t", "1")
    assert tax.category_ids == ["immune-support", "sleep"]
    assert tax.subcategory_ids == ["daily-immune", "mushrooms", "melatonin"]
    assert tax.pairs == {("immune-support", "daily-immune"), ("immune-support", "mushrooms"),
                         ("sleep", "melatonin"), ("sleep", "daily-immune")}
    assert tax.categories[0].subcategories[0].description == "Everyday immune maintenance."
    assert not tax.is_valid("sleep", "mushrooms")


XXE = """<?xml version="1.0"?>
<!DOCTYPE taxonomy [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<taxonomy name="&xxe;" version="1"><category id="a" name="A"><subcategory id="b" name="B"/></category></taxonomy>
"""
LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<taxonomy name="&lol3;" version="1"><category id="a" name="A"><subcategory id="b" name="B"/></category></taxonomy>
"""
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE taxonomy SYSTEM "http://127.0.0.1:9/evil.dtd">
<taxonomy name="t" version="1"><category id="a" name="A"><subcategory id="b" name="B"/></category></taxonomy>
"""


@pytest.mark.parametrize("text, message", [
    (XXE, "DOCTYPE declarations and entities are not allowed"),
    (LAUGHS, "DOCTYPE declarations and entities are not allowed"),
    (EXTERNAL_DTD, "DOCTYPE declarations and entities are not allowed"),
    ("<taxonomy name='t' version='1'><category id='a' name='A'>", "line 1: malformed XML"),
    ("<taxonomy name='t' version='1'>\n<category id='a' name='A'>\n<subcategory name='B'/>\n</category>\n</taxonomy>",
     "line 3: does not match taxonomy.xsd"),
    ("<taxonomy name='t' version='1'>\n<category id='a' name='A'/>\n</taxonomy>",
     "line 2: does not match taxonomy.xsd"),
    ("<taxonomy name='t' version='1'>\n<category id='Bad Id' name='A'><subcategory id='b' name='B'/></category>"
     "\n</taxonomy>", "line 2: does not match taxonomy.xsd"),
    ("<taxonomy name='t' version='1'>\n<category id='a' name='A'><subcategory id='b' name='B'/></category>\n"
     "<category id='a' name='A2'><subcategory id='c' name='C'/></category>\n</taxonomy>",
     "line 3: duplicate category id 'a'"),
    ("<taxonomy name='t' version='1'>\n<category id='a' name='A'>\n<subcategory id='b' name='B'/>\n"
     "<subcategory id='b' name='B2'/>\n</category>\n</taxonomy>",
     "line 4: duplicate subcategory id 'b' in category 'a'"),
])
def test_bad_taxonomies_fail_with_file_line_and_reason(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_taxonomy(path)
    assert str(path) in str(err.value) and message in str(err.value)
    assert "root:" not in str(err.value) and "\n" not in str(err.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="taxonomy file not found"):
        load_taxonomy(tmp_path / "nope.xml")
    with pytest.raises(InputError, match="is a directory"):
        load_taxonomy(tmp_path)
