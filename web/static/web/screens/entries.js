// One line that says what a log was, in the reader's language and the patient's zone (conflicts, refusals).

import { formatDateTime, t } from "../i18n.js";
import { state } from "../state.js";

export function areaNames(codes) {
  return (codes || []).map((code) => t(`area.${code}`)).join(t("list.separator"));
}

export function describeEntry(kind, entry) {
  const zone = state.patient?.timezone || "UTC";
  if (!entry) return "";
  if (kind === "applications") {
    return t("entry.application", { when: formatDateTime(entry.applied_at, zone), areas: areaNames(entry.body_areas) });
  }
  if (kind === "symptoms") {
    const scores = [
      entry.burning != null ? t("entry.burning", { score: entry.burning }) : null,
      entry.itch != null ? t("entry.itch", { score: entry.itch }) : null,
      entry.flare_severity != null ? t("entry.flare", { level: t(`flare.${entry.flare_severity}`) }) : null,
    ].filter(Boolean);
    return t("entry.symptom", { when: formatDateTime(entry.recorded_at, zone), scores: scores.join(t("list.separator")) });
  }
  if (kind === "poem") {
    return t("entry.poem", { when: formatDateTime(entry.recorded_at, zone), score: entry.score ?? "" });
  }
  return t("entry.skin_check", { when: formatDateTime(entry.performed_at, zone) });
}
