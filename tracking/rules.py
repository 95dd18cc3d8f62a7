"""Clinical constants and pure functions, each with its source in a comment.

Nothing here is invented: every fact comes from ../shared/CLINICAL.md, which cites the
product labels and the validated instruments. Code elsewhere reads these names, never literals.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy, gettext_noop


class Drug(enum.StrEnum):
    TACROLIMUS = "tacrolimus"
    PIMECROLIMUS = "pimecrolimus"

    @classmethod
    def named(cls, value: str) -> Drug | None:
        """The drug this stored or submitted value names, or None.

        Not `value in Drug`: on Python 3.11 a plain string `in` an Enum class raises TypeError.
        """
        try:
            return cls(value)
        except ValueError:
            return None


# Source: US Protopic (tacrolimus ointment 0.03%, 0.1%) and Elidel (pimecrolimus cream 1%) labels.
STRENGTHS_BY_DRUG: dict[Drug, tuple[str, ...]] = {
    Drug.TACROLIMUS: ("0.03", "0.1"),
    Drug.PIMECROLIMUS: ("1",),
}
ALL_STRENGTHS: tuple[str, ...] = tuple(dict.fromkeys(s for strengths in STRENGTHS_BY_DRUG.values() for s in strengths))

# Source: US Protopic and Elidel labels: neither is for children under 2 years.
MIN_AGE_YEARS_ANY_TCI = 2
# Source: US Protopic label: 0.03% only for ages 2-15; 0.03% or 0.1% from 16.
MIN_AGE_YEARS_TACROLIMUS_0_1 = 16
TACROLIMUS_HIGH_STRENGTH = "0.1"


def strength_problem(*, drug: Drug, strength: str, age_years: int) -> str | None:
    """Why this drug and strength may not be used at this age, or None when the labels allow it."""
    allowed = STRENGTHS_BY_DRUG[drug]
    if strength not in allowed:
        return gettext("{drug} comes as {strengths}; {strength} is not a strength of it.").format(
            drug=drug.value, strengths=gettext(" or ").join(s + "%" for s in allowed), strength=repr(strength)
        )
    if age_years < MIN_AGE_YEARS_ANY_TCI:
        return gettext(
            "Topical calcineurin inhibitors are not for children under {minimum} years "
            "(the patient is {age} on the start date)."
        ).format(minimum=MIN_AGE_YEARS_ANY_TCI, age=age_years)
    if drug == Drug.TACROLIMUS and strength == TACROLIMUS_HIGH_STRENGTH and age_years < MIN_AGE_YEARS_TACROLIMUS_0_1:
        return gettext(
            "Tacrolimus 0.1% is for patients aged {minimum} and over "
            "(the patient is {age} on the start date); use 0.03%."
        ).format(minimum=MIN_AGE_YEARS_TACROLIMUS_0_1, age=age_years)
    return None


def is_lower_strength(*, drug: Drug, old: str, new: str) -> bool:
    """Whether `new` is a lower strength of `drug` than `old`; STRENGTHS_BY_DRUG lists them lowest first.

    Source: EU Protopic SmPC: adults start on 0.1% and step down to 0.03% (CLINICAL.md).
    """
    strengths = STRENGTHS_BY_DRUG[drug]
    return old in strengths and new in strengths and strengths.index(new) < strengths.index(old)


# --- Regimen schedules -------------------------------------------------------------------------
# Source: US Protopic and Elidel labels: treatment is a thin layer twice daily, so it runs every day;
# EU Protopic SmPC: proactive (maintenance) therapy is once a day twice weekly on chosen weekdays
# (e.g. Monday and Thursday), as in CLINICAL.md. ISO weekday numbers: 1 = Monday, 7 = Sunday.
ALL_WEEKDAYS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)
# A product limit, not a label fact: a regimen lists 1 to 6 local times a day (the labels ask for twice).
MAX_TIMES_PER_DAY = 6


def regimen_weekdays(*, daily: bool, sent: Sequence[int] | None, kept: Sequence[int] | None = None) -> list[int]:
    """The weekdays a regimen runs on, as stored (sorted).

    The weekdays sent; when none are sent (`None`, or an empty list), those `kept` from the regimen it
    steps down from (pass them only when the phase stays: a step down from treatment to maintenance
    chooses its own days); else every day for a `daily` (treatment) regimen, and none for maintenance,
    which must choose its days (Regimen.clean says so, naming the field).
    """
    chosen = sent if sent is not None else kept
    if chosen:
        return sorted(chosen)
    return list(ALL_WEEKDAYS) if daily else []


# --- POEM ----------------------------------------------------------------------------------
# Source: POEM (Patient-Oriented Eczema Measure; Charman 2004), as summarised in CLINICAL.md:
# 7 items scored 0-4, total 0-28; one unanswered item counts 0, two or more: not scored.
POEM_ITEM_COUNT = 7
POEM_ITEM_MIN, POEM_ITEM_MAX = 0, 4
POEM_MAX_UNANSWERED = 1
POEM_SCORE_MIN, POEM_SCORE_MAX = POEM_ITEM_COUNT * POEM_ITEM_MIN, POEM_ITEM_COUNT * POEM_ITEM_MAX
# Each answer counts the days of the past week with the symptom: 0 no days ... 4 every day.
POEM_ANSWER_LABELS: tuple[str, ...] = ("no days", "1-2 days", "3-4 days", "5-6 days", "every day")

# Source: POEM bands (Charman 2013): 0-2 clear or almost clear, 3-7 mild, 8-16 moderate,
# 17-24 severe, 25-28 very severe. Each entry: (band, lowest score, highest score).
POEM_BANDS: tuple[tuple[str, int, int], ...] = (
    ("clear_or_almost_clear", 0, 2),
    ("mild", 3, 7),
    ("moderate", 8, 16),
    ("severe", 17, 24),
    ("very_severe", 25, 28),
)

POEM_BAND_NAMES: tuple[str, ...] = tuple(band for band, _lowest, _highest in POEM_BANDS)


def poem_score(answers: Sequence[int | None]) -> int | None:
    """The POEM total, or None when two or more of the seven items are unanswered."""
    if len(answers) != POEM_ITEM_COUNT:
        raise ValueError(f"POEM has {POEM_ITEM_COUNT} items, got {len(answers)}.")
    if sum(answer is None for answer in answers) > POEM_MAX_UNANSWERED:
        return None
    if any(answer is not None and not POEM_ITEM_MIN <= answer <= POEM_ITEM_MAX for answer in answers):
        raise ValueError(f"Each POEM item is scored {POEM_ITEM_MIN}-{POEM_ITEM_MAX}.")
    return sum(answer or 0 for answer in answers)


def poem_band(score: int) -> str:
    for band, lowest, highest in POEM_BANDS:
        if lowest <= score <= highest:
            return band
    raise ValueError(f"A POEM score is {POEM_SCORE_MIN}-{POEM_SCORE_MAX}, got {score}.")


def poem_band_rank(band: str) -> int:
    """0 for clear or almost clear up to 4 for very severe: a band going up is a worsening."""
    return [name for name, _, _ in POEM_BANDS].index(band)


# --- Numeric rating scales -------------------------------------------------------------------
# Source: itch NRS 0-10 (adult AD), burning NRS on the same convention; flare severity 0-4 in
# IGA-style wording (CLINICAL.md, Instruments).
NRS_MIN, NRS_MAX = 0, 10
FLARE_SEVERITY_LABELS: tuple[str, ...] = ("clear", "almost clear", "mild", "moderate", "severe")
FLARE_SEVERITY_MIN, FLARE_SEVERITY_MAX = 0, len(FLARE_SEVERITY_LABELS) - 1
FLARE_SEVERITY_SCALE = ", ".join(f"{score} {label}" for score, label in enumerate(FLARE_SEVERITY_LABELS))
# Lazy, so each answer is in the asker's language; the Arabic names the scale's steps in Arabic.
FLARE_SEVERITY_RANGE_MESSAGE = format_lazy(
    gettext_lazy("Flare severity is scored {min}-{max} ({scale})."),
    min=FLARE_SEVERITY_MIN,
    max=FLARE_SEVERITY_MAX,
    scale=FLARE_SEVERITY_SCALE,
)

# --- Fingertip units ---------------------------------------------------------------------------
# Source: published FTU tables (Long & Finlay 1991; Long, Mills & Finlay 1998), as in CLINICAL.md.
# One FTU is about 0.5 g.
GRAMS_PER_FTU = Decimal("0.5")
# Source: API.md, applications: amount_ftu is 0 < x <= 40.
MAX_FTU_PER_APPLICATION = Decimal("40")
# Amounts are kept to hundredths (the column's 2 decimal places, 40.00 at most: 4 digits), so the
# least amount above 0 is 0.01.
FTU_DECIMAL_PLACES = 2
FTU_MAX_DIGITS = 4
MIN_FTU_PER_APPLICATION = Decimal("0.01")
# Source: Protopic and Elidel tube sizes (CLINICAL.md): 30 g, 60 g, 100 g.
TUBE_SIZES_GRAMS: tuple[int, ...] = (30, 60, 100)


class FtuRegion(enum.StrEnum):
    FACE_AND_NECK = "face_and_neck"
    ARM_AND_HAND = "arm_and_hand"  # one side
    ARM = "arm"  # one side; split out in the adult table only
    HAND = "hand"  # one side; split out in the adult table only
    LEG_AND_FOOT = "leg_and_foot"  # one side
    LEG = "leg"  # one side; adult table only
    FOOT = "foot"  # one side; adult table only
    FRONT_TRUNK = "front_trunk"
    BACK = "back"  # includes the buttocks


class AgeBand(enum.StrEnum):
    MONTHS_3_TO_12 = "3-12 months"
    YEARS_1_TO_2 = "1-2 years"
    YEARS_3_TO_5 = "3-5 years"
    YEARS_6_TO_10 = "6-10 years"
    YEARS_11_TO_16 = "11-16 years"
    ADULT = "adult"


# FTU per application for each region, by age band (one side for limbs).
FTU_TABLE: dict[AgeBand, dict[FtuRegion, Decimal]] = {
    AgeBand.MONTHS_3_TO_12: {
        FtuRegion.FACE_AND_NECK: Decimal("1"),
        FtuRegion.ARM_AND_HAND: Decimal("1"),
        FtuRegion.LEG_AND_FOOT: Decimal("1.5"),
        FtuRegion.FRONT_TRUNK: Decimal("1"),
        FtuRegion.BACK: Decimal("1.5"),
    },
    AgeBand.YEARS_1_TO_2: {
        FtuRegion.FACE_AND_NECK: Decimal("1.5"),
        FtuRegion.ARM_AND_HAND: Decimal("1.5"),
        FtuRegion.LEG_AND_FOOT: Decimal("2"),
        FtuRegion.FRONT_TRUNK: Decimal("2"),
        FtuRegion.BACK: Decimal("3"),
    },
    AgeBand.YEARS_3_TO_5: {
        FtuRegion.FACE_AND_NECK: Decimal("1.5"),
        FtuRegion.ARM_AND_HAND: Decimal("2"),
        FtuRegion.LEG_AND_FOOT: Decimal("3"),
        FtuRegion.FRONT_TRUNK: Decimal("3"),
        FtuRegion.BACK: Decimal("3.5"),
    },
    AgeBand.YEARS_6_TO_10: {
        FtuRegion.FACE_AND_NECK: Decimal("2"),
        FtuRegion.ARM_AND_HAND: Decimal("2.5"),
        FtuRegion.LEG_AND_FOOT: Decimal("4.5"),
        FtuRegion.FRONT_TRUNK: Decimal("3.5"),
        FtuRegion.BACK: Decimal("5"),
    },
    AgeBand.YEARS_11_TO_16: {
        FtuRegion.FACE_AND_NECK: Decimal("2.5"),
        FtuRegion.ARM_AND_HAND: Decimal("3"),
        FtuRegion.LEG_AND_FOOT: Decimal("6"),
        FtuRegion.FRONT_TRUNK: Decimal("5"),
        FtuRegion.BACK: Decimal("6"),
    },
    AgeBand.ADULT: {
        FtuRegion.FACE_AND_NECK: Decimal("2.5"),
        FtuRegion.ARM: Decimal("3"),
        FtuRegion.HAND: Decimal("1"),
        FtuRegion.LEG: Decimal("6"),
        FtuRegion.FOOT: Decimal("2"),
        FtuRegion.FRONT_TRUNK: Decimal("7"),
        FtuRegion.BACK: Decimal("7"),
    },
}

# Source: API.md, regimens: the area codes a client may send.
BODY_AREAS: tuple[str, ...] = (
    "scalp",
    "face",
    "eyelids",
    "neck",
    "chest",
    "abdomen",
    "upper_back",
    "lower_back",
    "arm_left",
    "arm_right",
    "hand_left",
    "hand_right",
    "genital",
    "leg_left",
    "leg_right",
    "foot_left",
    "foot_right",
)

# Which table region each area code lies in, as (adult region, child region, side).
# Scalp and genital skin have no row in the published tables, so they add no FTU.
_AREA_REGIONS: dict[str, tuple[FtuRegion, FtuRegion, str]] = {
    "face": (FtuRegion.FACE_AND_NECK, FtuRegion.FACE_AND_NECK, ""),
    "eyelids": (FtuRegion.FACE_AND_NECK, FtuRegion.FACE_AND_NECK, ""),
    "neck": (FtuRegion.FACE_AND_NECK, FtuRegion.FACE_AND_NECK, ""),
    "chest": (FtuRegion.FRONT_TRUNK, FtuRegion.FRONT_TRUNK, ""),
    "abdomen": (FtuRegion.FRONT_TRUNK, FtuRegion.FRONT_TRUNK, ""),
    "upper_back": (FtuRegion.BACK, FtuRegion.BACK, ""),
    "lower_back": (FtuRegion.BACK, FtuRegion.BACK, ""),
    "arm_left": (FtuRegion.ARM, FtuRegion.ARM_AND_HAND, "left"),
    "arm_right": (FtuRegion.ARM, FtuRegion.ARM_AND_HAND, "right"),
    "hand_left": (FtuRegion.HAND, FtuRegion.ARM_AND_HAND, "left"),
    "hand_right": (FtuRegion.HAND, FtuRegion.ARM_AND_HAND, "right"),
    "leg_left": (FtuRegion.LEG, FtuRegion.LEG_AND_FOOT, "left"),
    "leg_right": (FtuRegion.LEG, FtuRegion.LEG_AND_FOOT, "right"),
    "foot_left": (FtuRegion.FOOT, FtuRegion.LEG_AND_FOOT, "left"),
    "foot_right": (FtuRegion.FOOT, FtuRegion.LEG_AND_FOOT, "right"),
}
AREAS_WITHOUT_FTU_ROW = frozenset(BODY_AREAS) - frozenset(_AREA_REGIONS)


def age_band(*, age_years: int, age_months: int) -> AgeBand | None:
    """The FTU table's age band; None under 3 months, where the tables give no figure.

    `age_months` is the completed months of age, used only below 1 year.
    """
    if age_years < 1:
        return AgeBand.MONTHS_3_TO_12 if age_months >= 3 else None
    if age_years <= 2:
        return AgeBand.YEARS_1_TO_2
    if age_years <= 5:
        return AgeBand.YEARS_3_TO_5
    if age_years <= 10:
        return AgeBand.YEARS_6_TO_10
    if age_years <= 16:
        return AgeBand.YEARS_11_TO_16
    return AgeBand.ADULT


# Each row: the areas one table region covers, and that region's FTU per application.
FtuGuide = list[tuple[tuple[str, ...], Decimal]]


def ftu_guide(areas: Iterable[str], band: AgeBand) -> FtuGuide:
    """The FTU for each table region these areas touch, with the areas it covers, in the order given.

    The tables give a figure per whole region (a child's arm and hand together, an adult's face and
    neck together), so an area that covers part of a region is counted as the whole region: the
    figure is what treating that region takes, an upper bound. Areas with no table row give none.
    """
    adult = band == AgeBand.ADULT
    groups: dict[tuple[FtuRegion, str], list[str]] = {}
    for area in areas:
        if area in _AREA_REGIONS:
            adult_region, child_region, side = _AREA_REGIONS[area]
            groups.setdefault((adult_region if adult else child_region, side), []).append(area)
    table = FTU_TABLE[band]
    return [(tuple(covered), table[region]) for (region, _side), covered in groups.items()]


def ftu_total(guide: FtuGuide) -> Decimal:
    return sum((ftu for _covered, ftu in guide), Decimal("0"))


def suggested_ftu(areas: Iterable[str], band: AgeBand) -> Decimal:
    """FTU for one application to these areas: each table region they touch, counted once (`ftu_guide`)."""
    return ftu_total(ftu_guide(areas, band))


# --- Logs ------------------------------------------------------------------------------------
# Source: API.md, applications: a time more than 5 minutes in the future is a 400 (clock skew
# between a phone and the server stays within this).
LOG_FUTURE_TOLERANCE = datetime.timedelta(minutes=5)
# Source: issue #3: the creator may correct or delete a log for 24 hours; later, only add a note.
LOG_CORRECTION_WINDOW = datetime.timedelta(hours=24)
LOG_CORRECTION_HOURS = int(LOG_CORRECTION_WINDOW.total_seconds() // 3600)  # as messages name it

# --- Plausible dates -------------------------------------------------------------------------
# Product limits, not label facts (issue #14): the dates a client may send, so that a phone whose
# clock or date picker is wrong gets a 400 naming the field instead of storing year 1 or 9999.
# Logs and prescriptions: none of this app's records is older than the year 2000.
EARLIEST_RECORD_DATE = datetime.date(2000, 1, 1)
# Birth dates have their bound beside the patient (accounts.models.EARLIEST_BIRTH_DATE).
# A regimen starts at most a year ahead, and a planned end is at most ten years ahead.
REGIMEN_START_MAX_AHEAD = datetime.timedelta(days=366)
REGIMEN_END_MAX_AHEAD = datetime.timedelta(days=3653)


# --- Reminders and prompts -------------------------------------------------------------------
# Source: issue #4 and CLINICAL.md (Adherence: "a follow-up when a dose is missed" is what users
# of reminder apps ask for most). Defaults of settings of the same name (tacro_topical/settings.py).
MISSED_DOSE_FOLLOW_UP_AFTER = datetime.timedelta(minutes=60)
# Source: API.md, notifications: snooze takes 5..240 minutes.
SNOOZE_MIN_MINUTES, SNOOZE_MAX_MINUTES = 5, 240
# Source: issue #4: a refill prompt when a tube's estimated empty date is less than 7 days away.
REFILL_PROMPT_DAYS_AHEAD = 7
# Source: seed 000 ("regular skin checks are recommended" for long-term use) and the 2006 boxed
# warning (rare skin cancer and lymphoma); issue #4 sets the interval: every 90 days.
SKIN_CHECK_INTERVAL_DAYS = 90
# Source: POEM asks about the past week (CLINICAL.md, Instruments), so it is prompted weekly.
POEM_INTERVAL_DAYS = 7
# Prompts that are not tied to a dose time go out at this local time (a product choice, not clinical).
PROMPT_LOCAL_TIME = "18:00"

# A notification's title and body reach lock screens (push, e-mail subjects, the inbox): they never name
# the drug or its strength, only "your treatment" (the product card); the app shows the regimen itself.
# Each is a msgid of Django's translations (locale/ar/LC_MESSAGES/django.po), put in the recipient's
# language by tracking/notifications/wording.py; `.child` titles are for a caregiver, naming the child.
DOSE_REMINDER_TITLE = gettext_noop("Time for your treatment")
DOSE_REMINDER_TITLE_CHILD = gettext_noop("Time for {name}'s treatment")
# Source: US Protopic/Elidel labels: a thin layer to affected skin, rubbed in gently and completely.
DOSE_REMINDER_BODY = gettext_noop("Apply a thin layer to {areas}, as your dermatologist prescribed, then log it.")
MISSED_DOSE_TITLE = gettext_noop("Did you apply your treatment?")
MISSED_DOSE_TITLE_CHILD = gettext_noop("Was {name}'s treatment applied?")
MISSED_DOSE_BODY = gettext_noop(
    "The {slot} dose is not logged yet. If you applied it, log it; if not, follow your dermatologist's plan."
)
# Source: CLINICAL.md, Instruments: POEM, 7 questions about the past week.
POEM_PROMPT_TITLE = gettext_noop("Your weekly eczema check")
POEM_PROMPT_TITLE_CHILD = gettext_noop("{name}'s weekly eczema check")
POEM_PROMPT_BODY = gettext_noop(
    "Seven short questions about your skin over the past week. Your dermatologist sees the score."
)
REFILL_PROMPT_TITLE = gettext_noop("Your tube may run out soon")
REFILL_PROMPT_TITLE_CHILD = gettext_noop("{name}'s tube may run out soon")
# {empty_date} is a day and month in the reader's language ("3 December"), never an ISO date.
REFILL_PROMPT_BODY = gettext_noop(
    "At the amount you log, the tube may run out around {empty_date}. "
    "Ask your dermatologist or pharmacy for a refill in time."
)
REFILL_PROMPT_SOON = gettext_noop("soon")
SKIN_CHECK_PROMPT_TITLE = gettext_noop("Time for your skin self-check")
SKIN_CHECK_PROMPT_TITLE_CHILD = gettext_noop("Time to check {name}'s skin")
# Source: Protopic/Elidel label monitoring (CLINICAL.md): investigate swollen lymph nodes; watch for
# skin infections (herpes simplex, eczema herpeticum); seed 000: regular skin checks for long-term
# use, because of the rare skin cancers reported (boxed warning, 2006).
SKIN_CHECK_LIST: tuple[str, ...] = (
    gettext_noop(
        "anything new or changing on your skin, such as a mole or growth (rare skin cancers are reported on the label)"
    ),
    gettext_noop("swollen lymph nodes (lumps in the neck, armpits or groin)"),
    gettext_noop(
        "signs of a skin infection, such as cold sores (herpes simplex) or spreading blisters (eczema herpeticum)"
    ),
)
SKIN_CHECK_PROMPT_BODY = gettext_noop(
    "Look over your skin for: {items}. Log the check in the app; if anything concerns you, "
    "mark it so your dermatologist is told."
)
# Source: label (minimise natural and artificial sunlight, no sunlamps, tanning beds or UV
# phototherapy) and seed 002 (strict UV protection for cutaneous lupus), as in CLINICAL.md.
CLE_SUN_PROTECTION_ADVICE = gettext_noop(
    "Protect your skin from the sun and other UV light, as your dermatologist advised: no sunlamps or tanning beds."
)
ASK_YOUR_DERMATOLOGIST = gettext_noop("Questions? Ask your dermatologist.")
# Reminders that fired long after their slot (the scheduler was down) are recorded, not sent:
# a dose reminder hours late would mislead more than help. A product choice.
REMINDER_STALE_AFTER = datetime.timedelta(hours=6)


# --- Care-team alerts ----------------------------------------------------------------------------
# Source: EU Protopic SmPC: application-site burning is very common, most common in the first few
# days, and improves as lesions heal; seed 000: it "often fades after a few weeks of use". Issue #4:
# burning >= 4 on 3 or more of the last 7 days, more than 14 days after the regimen started.
PERSISTENT_BURNING_MIN_SCORE = 4
PERSISTENT_BURNING_MIN_DAYS = 3
PERSISTENT_BURNING_WINDOW_DAYS = 7
PERSISTENT_BURNING_AFTER_START_DAYS = 14
# Source: US Protopic label: if there is no improvement within 6 weeks, the patient should be re-examined.
NO_IMPROVEMENT_AFTER_DAYS = 42
# Source: issue #4 defines the windows of the no-improvement rule; they are not settings. The
# baseline is the latest reading within 7 days either side of the regimen's start (patients log in
# the days around a visit); the current reading is the latest of the past 7 days, the recall period
# of POEM (CLINICAL.md, Instruments).
NO_IMPROVEMENT_BASELINE_DAYS = 7
NO_IMPROVEMENT_CURRENT_DAYS = 7
# Source: issue #4: flare severity (0-4, IGA-style) up 2 or more within 7 days, or the POEM band up.
WORSENING_FLARE_MIN_RISE = 2
WORSENING_FLARE_WINDOW_DAYS = 7
# Source: CLINICAL.md, Adherence (80% is the usual cut-off; topical adherence in AD is often far
# lower); issue #4 alerts below 50% over 14 days.
LOW_ADHERENCE_PCT = 50
# Source: CLINICAL.md, Adherence: 80% of scheduled doses is the usual "adherent" cut-off.
ADHERENT_PCT = 80
LOW_ADHERENCE_WINDOW_DAYS = 14

# --- Skin self-check answers and urgent signs (issue #17, the safety net) ------------------------
# Source: Protopic/Elidel label monitoring and the 2006 boxed warning (CLINICAL.md: rare skin
# cancers and lymphoma reported, investigate swollen lymph nodes, watch for skin infections such as
# herpes simplex and eczema herpeticum). Each answer is yes (True), no (False) or not answered (None).
SKIN_CHECK_QUESTIONS: dict[str, str] = {
    "new_or_changing_spot": "A new or changing mole or spot?",
    "sore_not_healing": "A sore that does not heal?",
    "swollen_lymph_nodes": "Swollen lymph nodes (lumps in the neck, armpits or groin)?",
    "blisters_or_erosions": "Painful clustered blisters, or small punched-out sores (erosions)?",
    "fever": "A fever?",
    "spreading_rash": "A rash that is spreading?",
}
SKIN_CHECK_ANSWERS: tuple[str, ...] = tuple(SKIN_CHECK_QUESTIONS)
# Source: NICE CG57 (atopic eczema in under 12s), 1.6.3: suspected eczema herpeticum (areas of rapidly
# worsening painful eczema, clustered blisters like early cold sores, punched-out erosions, possibly
# fever) needs treatment and same-day specialist advice; CLINICAL.md ("Pregnancy, breast-feeding,
# urgent signs"): such a report tells the patient to seek care today and reaches the care team at once.
URGENT_SUSPECTED_ECZEMA_HERPETICUM = "suspected_eczema_herpeticum"
# Source: issue #17 (a fever with a spreading rash is urgent) and the labels' "watch for skin
# infections": a spreading rash alone, or a fever alone, is concerning but not urgent.
URGENT_FEVER_WITH_SPREADING_RASH = "fever_with_spreading_rash"
URGENT_SKIN_SIGN_WORDS: dict[str, str] = {
    URGENT_SUSPECTED_ECZEMA_HERPETICUM: gettext_noop("painful clustered blisters or punched-out erosions"),
    URGENT_FEVER_WITH_SPREADING_RASH: gettext_noop("a fever with a spreading rash"),
}


def skin_check_urgent_signs(answers: Mapping[str, bool | None]) -> tuple[str, ...]:
    """The urgent signs a skin check's answers report (URGENT_*), in a fixed order; empty when none.

    Only a yes counts: no and not answered (None, or left out) never make a check urgent.
    """
    signs = []
    if answers.get("blisters_or_erosions") is True:
        signs.append(URGENT_SUSPECTED_ECZEMA_HERPETICUM)
    if answers.get("fever") is True and answers.get("spreading_rash") is True:
        signs.append(URGENT_FEVER_WITH_SPREADING_RASH)
    return tuple(signs)


def skin_check_concerning(*, concerning: bool | None, answers: Mapping[str, bool | None]) -> bool:
    """Whether the care team should see a check: marked concerning, or any question answered yes.

    Every question is one the label asks to investigate, so a yes is concerning whatever the flag says.
    """
    return concerning is True or any(answers.get(name) is True for name in SKIN_CHECK_ANSWERS)


# What the patient reads at once, in their language, when a check reports an urgent sign.
SKIN_CHECK_URGENT_ADVICE = gettext_noop(
    "Seek medical care today. What you reported can be a sign of a skin infection that needs treatment "
    "the same day. Call your dermatologist now; if you cannot reach them today, go to an urgent care "
    "clinic or an emergency department. We have told your care team too, but do not wait for them to call."
)
# What the patient's dermatologists get at once (tracking/notifications/services/care_team.py). The
# title shows on lock screens and e-mail previews: it names no patient and no drug. A push's body
# names nobody either (a lock screen, and FCM/APNs carry it); the e-mail's body names the patient
# and what was reported, which the dermatologist needs to act, behind their mailbox's sign-in.
URGENT_ALERT_TITLE = gettext_noop("Urgent: a patient reported signs that need care today")
URGENT_ALERT_PUSH_BODY = gettext_noop("Open the alert in the clinic's admin to see who and what was reported.")
URGENT_ALERT_SIGNS_UNNAMED = gettext_noop("urgent signs")
URGENT_ALERT_EMAIL_BODY = gettext_noop(
    "{patient} reported {signs} in a skin check on {performed_on}, and was told to seek medical care today. "
    "This can be eczema herpeticum or another skin infection that needs same-day care (NICE CG57). "
    "You get this at once, not in the daily digest, because you are on this patient's care team. Open the alert:"
)


# --- Request limits (product limits, not label facts) ----------------------------------------------
# One sync request carries at most this many logs in all (API.md, sync): a week offline is a few dozen.
SYNC_MAX_ITEMS = 2000
# One adherence request spans at most two years of local dates.
MAX_ADHERENCE_DAYS = 731
# Source: API.md, adherence: without from and to, the 28 local days ending today, today included.
ADHERENCE_DEFAULT_DAYS = 28
