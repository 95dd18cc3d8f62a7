"""The dermatologist's admin in a real browser (issue #5, item 7): Chromium against the live server.

One walk through the demo clinic, as the demo dermatologist: the patient list, a review page with its
charts, resolving an alert with a note, the CSV export, the visit report, and someone else's patient.
Each step leaves a full-page screenshot in SCREENSHOT_DIR (var/screenshots by default).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.models import AccessChannel, AccessRecord, CareTeamMembership, Patient, User
from tests.factories import PatientFactory
from tests.tracking.browser import chromium_on
from tracking.models import Alert

# The live server answers from its own thread, so the demo data must be committed where it can see it.
pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "tacro-demo-2026"
DERMATOLOGIST = "dermatologist@demo.example"
OTHER_DERMATOLOGIST = "other.dermatologist@demo.example"
DEMO_PATIENTS = ["Grace Miller", "Amira Saleh", "Noah Weber"]
# Grace has discoid lupus: POEM, an eczema measure, is left out of her charts (she logged none).
CHARTS = ("chart-heatmap", "chart-burning-itch", "chart-flare", "chart-areas")
HEATMAP_DAYS = 12 * 7
NOTE = "Called Grace: she ran out of ointment; new tube prescribed, review in two weeks."
CSV_HEADER_START = ["kind", "id", "time_utc", "local_time", "time_zone"]
ALERT_CHANGE = re.compile(r"/admin/tracking/alert/([0-9a-f-]{36})/change/(\?from=review)?$")


@dataclass(frozen=True)
class Clinic:
    """The demo's clinic, not the shared personas: the browser signs in through the form with the demo's password and
    walks the patients seed_demo writes (charts need its weeks of logs)."""

    dermatologist: User
    grace: Patient
    outsider: Patient  # on the other dermatologist's care team only


@pytest.fixture
def clinic() -> Clinic:
    call_command("seed_demo", stdout=StringIO())
    outsider = PatientFactory(user__first_name="Olivia", user__last_name="Outsider", timezone="Europe/Paris")
    CareTeamMembership.objects.create(patient=outsider, clinician=User.objects.get(email=OTHER_DERMATOLOGIST))
    return Clinic(
        dermatologist=User.objects.get(email=DERMATOLOGIST),
        grace=Patient.objects.get(first_name="Grace", last_name="Miller"),
        outsider=outsider,
    )


def test_dermatologist_reviews_resolves_exports_and_prints_only_their_patients(live_server, clinic: Clinic) -> None:
    # No ORM call inside this block. Playwright's sync API keeps an asyncio loop running in this thread:
    # Django refuses ORM calls there (SynchronousOnlyOperation), and with DJANGO_ALLOW_ASYNC_UNSAFE it
    # would open a second connection, kept in that loop's context, that no teardown closes. The data is
    # seeded before the browser starts and checked after it closes.
    with chromium_on(live_server.url) as browsing:
        page = browsing.page

        # Log in, and land on the patient list: my three patients, Grace (open alert, lowest adherence) first.
        page.goto("/admin/login/?next=/admin/accounts/patient/")
        page.fill("input[name=username]", DERMATOLOGIST)
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/admin/accounts/patient/")
        names = page.locator("#result_list td.field-name a, #result_list th.field-name a")
        expect(names).to_have_count(len(DEMO_PATIENTS))
        assert names.first.inner_text() == "Grace Miller"
        assert sorted(names.all_inner_texts()) == sorted(DEMO_PATIENTS)
        expect(page.locator("#result_list")).not_to_contain_text("Outsider")
        browsing.screenshot("01-changelist")

        # Grace's review page: four charts, a heatmap of 12 weeks, a timeline, her open alert.
        page.get_by_role("link", name="Grace Miller", exact=True).click()
        page.wait_for_url(f"**/admin/accounts/patient/{clinic.grace.pk}/review/")
        review_path = f"/admin/accounts/patient/{clinic.grace.pk}/review/"
        for chart in CHARTS:
            expect(page.locator(f"#{chart} svg").first).to_be_visible()
        expect(page.locator("#chart-poem")).to_have_count(0)
        expect(page.locator("#chart-heatmap .cell[data-date]")).to_have_count(HEATMAP_DAYS)
        expect(page.locator("#timeline tbody tr.event").first).to_be_visible()
        resolve = page.locator("#open-alerts").get_by_role("link", name="Resolve with a note").first
        expect(resolve).to_be_visible()
        browsing.screenshot("02-review")

        # Resolve it with a note.
        resolve.click()
        page.wait_for_url(ALERT_CHANGE)
        match = ALERT_CHANGE.search(page.url)
        assert match is not None
        alert_path = f"/admin/tracking/alert/{match.group(1)}/change/"
        page.fill("textarea[name=resolution_note]", NOTE)
        browsing.screenshot("03-alert-resolve")
        page.get_by_role("button", name="Save", exact=True).click()
        # Resolved from the review page: back on it, with the alert gone from the open ones.
        page.wait_for_url(f"**{review_path}")
        expect(page.locator(".messagelist")).to_contain_text("Resolved: low adherence")
        expect(page.locator(f'a[href^="{alert_path}"]')).to_have_count(0)
        browsing.screenshot("04-review-after-resolve")

        # The CSV export through the review page's form: her applications, in her own time zone.
        with page.expect_download() as download_info:
            page.locator("#export").get_by_role("button", name="Download CSV").click()
        download = download_info.value
        assert download.suggested_filename.endswith(".csv")
        with open(download.path(), newline="", encoding="utf-8") as csv_file:
            rows = list(csv.reader(csv_file))
        assert rows[0][: len(CSV_HEADER_START)] == CSV_HEADER_START
        records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
        assert any(row["kind"] == "application" and row["time_zone"] == "America/New_York" for row in records)

        # The visit report opens in a tab of its own, with its charts.
        with page.context.expect_page() as report_info:
            page.get_by_role("link", name="Visit report (print)").click()
        report = report_info.value
        report.wait_for_load_state()
        assert report.url.endswith(f"{review_path}report/")
        expect(report.locator("h1")).to_have_text("Grace Miller")
        expect(report.locator("section.charts figure svg")).to_have_count(3)
        browsing.screenshot("05-visit-report", page=report)
        report.close()

        # Someone else's patient is not there at all: not the page, not the export.
        outsider_review = f"/admin/accounts/patient/{clinic.outsider.pk}/review/"
        response = page.goto(outsider_review)
        assert response is not None
        assert response.status == 404
        browsing.screenshot("06-other-patient-404")
        outsider_export = page.request.get(f"{outsider_review}export.csv?since=2026-01-01&until=2026-01-31")
        assert outsider_export.status == 404

        assert browsing.blocked == []  # nothing left the machine: no CDN, fonts or trackers
        assert browsing.script_errors == []

    alert = Alert.objects.get(pk=match.group(1))
    assert alert.patient_id == clinic.grace.pk
    assert alert.resolved_at is not None
    assert alert.resolved_by == clinic.dermatologist
    assert alert.resolution_note == NOTE

    seen = set(
        AccessRecord.objects.filter(
            viewer=clinic.dermatologist, patient_id=clinic.grace.pk, channel=AccessChannel.ADMIN
        ).values_list("what", flat=True)
    )
    assert {"accounts_patient_review", "accounts_patient_export", "accounts_patient_report"} <= seen
