"""The clinical rules, checked against the figures in ../shared/CLINICAL.md."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracking import rules
from tracking.rules import AgeBand, Drug


@pytest.mark.parametrize(
    ("drug", "strength", "age", "allowed"),
    [
        (Drug.TACROLIMUS, "0.03", 2, True),
        (Drug.TACROLIMUS, "0.03", 15, True),
        (Drug.TACROLIMUS, "0.1", 15, False),
        (Drug.TACROLIMUS, "0.1", 16, True),
        (Drug.TACROLIMUS, "0.03", 1, False),
        (Drug.PIMECROLIMUS, "1", 2, True),
        (Drug.PIMECROLIMUS, "1", 1, False),
        (Drug.PIMECROLIMUS, "0.1", 40, False),
        (Drug.TACROLIMUS, "1", 40, False),
    ],
)
def test_strength_and_age_follow_the_labels(drug: Drug, strength: str, age: int, allowed: bool) -> None:
    assert (rules.strength_problem(drug=drug, strength=strength, age_years=age) is None) is allowed


@pytest.mark.parametrize(
    ("value", "drug"),
    [("tacrolimus", Drug.TACROLIMUS), ("pimecrolimus", Drug.PIMECROLIMUS), ("aspirin", None), ("", None)],
)
def test_a_drug_is_named_by_its_stored_value_on_every_python(value: str, drug: Drug | None) -> None:
    # `value in Drug` raises TypeError on Python 3.11 for a plain string; every regimen POST was a 500 there.
    assert Drug.named(value) is drug


def test_a_refused_strength_says_what_is_allowed() -> None:
    problem = rules.strength_problem(drug=Drug.TACROLIMUS, strength="0.1", age_years=9)
    assert problem is not None
    assert "16" in problem
    assert "0.03%" in problem


@pytest.mark.parametrize(
    ("daily", "sent", "kept", "weekdays"),
    [
        (True, None, None, [1, 2, 3, 4, 5, 6, 7]),  # treatment is twice daily: every day
        (True, [], None, [1, 2, 3, 4, 5, 6, 7]),
        (False, None, None, []),  # maintenance chooses its days: none, for Regimen.clean to refuse
        (False, [4, 1], None, [1, 4]),  # sorted, as stored
        (False, None, [1, 4], [1, 4]),  # a step down within maintenance keeps its days
        (False, [2, 5], [1, 4], [2, 5]),  # unless others are sent
        (False, [], [1, 4], []),  # an empty list sent is no days, not "keep them"
        (True, None, [1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7]),
    ],
)
def test_a_regimens_weekdays_follow_its_phase(
    daily: bool, sent: list[int] | None, kept: list[int] | None, weekdays: list[int]
) -> None:
    assert rules.regimen_weekdays(daily=daily, sent=sent, kept=kept) == weekdays


def test_the_derived_scales_read_as_the_api_documents_them() -> None:
    assert rules.FLARE_SEVERITY_SCALE == "0 clear, 1 almost clear, 2 mild, 3 moderate, 4 severe"
    assert (rules.POEM_SCORE_MIN, rules.POEM_SCORE_MAX) == (0, 28)
    assert rules.LOG_CORRECTION_HOURS == 24
    assert rules.MIN_FTU_PER_APPLICATION == Decimal(1).scaleb(-rules.FTU_DECIMAL_PLACES)


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (0, "clear_or_almost_clear"),
        (2, "clear_or_almost_clear"),
        (3, "mild"),
        (7, "mild"),
        (8, "moderate"),
        (16, "moderate"),
        (17, "severe"),
        (24, "severe"),
        (25, "very_severe"),
        (28, "very_severe"),
    ],
)
def test_poem_bands_have_the_published_edges(score: int, band: str) -> None:
    assert rules.poem_band(score) == band


@pytest.mark.parametrize("score", [-1, 29])
def test_a_poem_score_out_of_range_has_no_band(score: int) -> None:
    with pytest.raises(ValueError, match="0-28"):
        rules.poem_band(score)


@given(st.lists(st.integers(min_value=0, max_value=4), min_size=7, max_size=7))
def test_a_complete_poem_scores_the_sum_of_its_items(answers: list[int]) -> None:
    assert rules.poem_score(answers) == sum(answers)


def test_one_unanswered_poem_item_counts_zero_and_two_are_not_scored() -> None:
    assert rules.poem_score([4, 4, 4, 4, 4, 4, None]) == 24
    assert rules.poem_score([4, 4, 4, 4, 4, None, None]) is None


def test_poem_refuses_the_wrong_number_of_items_or_an_item_out_of_range() -> None:
    with pytest.raises(ValueError, match="7 items"):
        rules.poem_score([1, 2, 3])
    with pytest.raises(ValueError, match="0-4"):
        rules.poem_score([5, 0, 0, 0, 0, 0, 0])


@pytest.mark.parametrize(
    ("years", "months", "band"),
    [
        (0, 2, None),
        (0, 3, AgeBand.MONTHS_3_TO_12),
        (0, 11, AgeBand.MONTHS_3_TO_12),
        (1, 12, AgeBand.YEARS_1_TO_2),
        (2, 30, AgeBand.YEARS_1_TO_2),
        (3, 36, AgeBand.YEARS_3_TO_5),
        (5, 60, AgeBand.YEARS_3_TO_5),
        (6, 72, AgeBand.YEARS_6_TO_10),
        (10, 120, AgeBand.YEARS_6_TO_10),
        (11, 132, AgeBand.YEARS_11_TO_16),
        (16, 192, AgeBand.YEARS_11_TO_16),
        (17, 204, AgeBand.ADULT),
        (70, 840, AgeBand.ADULT),
    ],
)
def test_age_bands_follow_the_ftu_tables(years: int, months: int, band: AgeBand | None) -> None:
    assert rules.age_band(age_years=years, age_months=months) == band


@pytest.mark.parametrize(
    ("areas", "band", "ftu"),
    [
        # Adult figures: face+neck 2.5; one arm 3; one hand 1; one leg 6; one foot 2; front trunk 7; back 7.
        (["face"], AgeBand.ADULT, "2.5"),
        (["face", "neck", "eyelids"], AgeBand.ADULT, "2.5"),
        (["arm_left"], AgeBand.ADULT, "3"),
        (["arm_left", "hand_left"], AgeBand.ADULT, "4"),
        (["arm_left", "arm_right", "hand_left", "hand_right"], AgeBand.ADULT, "8"),
        (["leg_right", "foot_right"], AgeBand.ADULT, "8"),
        (["chest", "abdomen"], AgeBand.ADULT, "7"),
        (["upper_back", "lower_back"], AgeBand.ADULT, "7"),
        # Children: arm+hand and leg+foot are one row per side.
        (["arm_left", "hand_left"], AgeBand.YEARS_6_TO_10, "2.5"),
        (["arm_left", "arm_right"], AgeBand.YEARS_6_TO_10, "5"),
        (["leg_left"], AgeBand.YEARS_3_TO_5, "3"),
        (["face", "chest", "upper_back"], AgeBand.YEARS_1_TO_2, "6.5"),
        (["face", "arm_left", "leg_left", "chest", "upper_back"], AgeBand.MONTHS_3_TO_12, "6"),
        (["face", "arm_left", "leg_left", "chest", "upper_back"], AgeBand.YEARS_11_TO_16, "22.5"),
        # No published row for scalp or genital skin.
        (["scalp", "genital"], AgeBand.ADULT, "0"),
    ],
)
def test_suggested_ftu_counts_each_table_region_once(areas: list[str], band: AgeBand, ftu: str) -> None:
    assert rules.suggested_ftu(areas, band) == Decimal(ftu)


def test_every_area_code_of_the_api_is_mapped_or_named_as_without_a_row() -> None:
    assert rules.AREAS_WITHOUT_FTU_ROW == {"scalp", "genital"}
    assert len(rules.BODY_AREAS) == 17


def test_whole_body_adult_ftu_matches_the_table_total() -> None:
    # 2.5 + 2 x (3 + 1) + 2 x (6 + 2) + 7 + 7 = 40.5 FTU, the adult whole-body figure of the tables.
    assert rules.suggested_ftu(rules.BODY_AREAS, AgeBand.ADULT) == Decimal("40.5")
    assert rules.GRAMS_PER_FTU == Decimal("0.5")
