"""The neighbour vote: near neighbours outvote a crowd of loose ones, a tag needs half the vote,
and the share of the vote is the confidence."""

from __future__ import annotations

import pytest

from plugin.tagging.vote import Neighbour, vote


def test_a_close_neighbour_outvotes_several_loose_ones() -> None:
    neighbours = [Neighbour(0.95, "Footwear", ("color:blue",))] + [Neighbour(0.70, "Bags", ()) for _ in range(5)]

    predicted = vote(neighbours)

    assert predicted.category == "Footwear" and predicted.confidence > 0.9
    assert [tag for tag, _ in predicted.tags] == ["color:blue"]


def test_a_tag_needs_half_the_vote_and_each_share_is_its_confidence() -> None:
    neighbours = [Neighbour(0.8, "Plants", ("plant type:Indoor",)), Neighbour(0.8, "Plants", ("plant type:Indoor",)), Neighbour(0.8, "Plants", ("plant type:Outdoor",))]

    predicted = vote(neighbours)

    assert predicted.tags == ((("plant type:Indoor", pytest.approx(2 / 3)),))
    assert predicted.as_dict()["tags"] == [{"tag": "plant type:Indoor", "confidence": 0.667}]


def test_no_neighbours_or_no_categories_predict_nothing() -> None:
    assert vote([]).category is None and vote([]).confidence == 0.0
    assert vote([Neighbour(0.9, None, ("color:red",))]).category is None
    assert vote([Neighbour(0.9, None, ("color:red",))]).tags == (("color:red", 1.0),)


def test_similarities_far_apart_do_not_overflow() -> None:
    predicted = vote([Neighbour(1.0, "A"), Neighbour(-1.0, "B")], temperature=0.001)

    assert predicted.category == "A" and predicted.confidence == pytest.approx(1.0)


def test_every_category_voted_for_is_kept_with_its_share_the_largest_first() -> None:
    predicted = vote([Neighbour(0.9, "Shoes"), Neighbour(0.9, "Shoes"), Neighbour(0.9, "Bags")])

    assert [name for name, _ in predicted.categories] == ["Shoes", "Bags"]
    assert predicted.categories[1][1] == pytest.approx(1 / 3)
    assert (predicted.category, predicted.confidence) == predicted.categories[0]
