"""labkit.keys: each name the experiment files its results under is listed once, and is the one the shipped record
uses."""

from labkit.data import load_shipped
from labkit.keys import AFTER_UPDATE, APPROACHES, After, Approach


def constants(cls) -> list[str]:
    return [v for k, v in vars(cls).items() if k.isupper()]


def test_the_orders_list_every_name_once():
    assert sorted(APPROACHES) == sorted(constants(Approach)) and len(set(APPROACHES)) == len(APPROACHES)
    assert sorted(AFTER_UPDATE) == sorted(constants(After)) and len(set(AFTER_UPDATE)) == len(AFTER_UPDATE)


def test_the_shipped_record_is_filed_under_these_names_in_this_order():
    """data/results.json, the README and saved runs hold the values: renaming one would orphan them."""
    shipped = load_shipped()
    assert list(shipped["scoreboard"]) == list(APPROACHES)
    # every one there, in this order
    assert [k for k in shipped["freshness"] if k in AFTER_UPDATE] == list(AFTER_UPDATE)
    # no figure under another spelling
    assert not {k for k in shipped["freshness"] if k.endswith("after update")} - set(AFTER_UPDATE)
