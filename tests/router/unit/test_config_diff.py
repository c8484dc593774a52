"""What a configuration change does, item by item (``ownership/diff.py``), with no database."""

from __future__ import annotations

import copy

from alertrouter_router.ownership.diff import diff_configs, render
from alertrouter_router.ownership.loader import config_version
from tests.router.unit.ownership_builders import config_from, layer, minimal_document


def test_reordered_layers_are_a_change_the_diff_shows() -> None:
    """Later layers cover earlier ones, so swapping two hands the shift to someone else; compared by id alone the
    two versions differed (their hashes did) and the diff, the CLI's and the router's, said "no differences"."""
    document = minimal_document()
    document["schedules"][0]["layers"] = [layer("weekly"), layer("night", ["c"])]
    swapped = copy.deepcopy(document)
    swapped["schedules"][0]["layers"].reverse()
    before, after = config_from(document), config_from(swapped)
    assert config_version(before) != config_version(after)

    diffs = diff_configs(before, after)
    assert [d.section for d in diffs] == ["schedules"]
    (change,) = diffs[0].changed["s1"]
    assert (change.path, change.before, change.after) == ("layers (order)", ["weekly", "night"], ["night", "weekly"])
    assert render(diffs).splitlines()[-1] == "      layers (order): ['weekly', 'night'] -> ['night', 'weekly']"
