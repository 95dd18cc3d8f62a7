// Today: the doses due from the regimen (local times, maintenance weekdays), each logged in one tap with its
// areas prefilled and editable, or at another time; the FTU guide; burning, itch and flare in seconds; and
// the way to the weekly POEM and the skin self-check.

import { api, ApiError, Offline } from "../api.js";
import { h } from "../dom.js";
import {
  formatDate,
  formatNumber,
  formatTime,
  formatWallTime,
  isoWeekday,
  localDate,
  t,
  zonedInstant,
} from "../i18n.js";
import { allValues, choiceGroup, clearErrors, field, formError, showErrors } from "../forms.js";
import { waiting } from "../queue.js";
import { cachedGet, saveLog, state, tp } from "../state.js";
import { areaNames } from "./entries.js";

export const AREAS = [
  "scalp", "face", "eyelids", "neck", "chest", "abdomen", "upper_back", "lower_back", "arm_left", "arm_right",
  "hand_left", "hand_right", "genital", "leg_left", "leg_right", "foot_left", "foot_right",
];

function nowTime(zone) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
    .format(new Date());
}

/** Regimens due today on the patient's calendar: active, and for maintenance only on its weekdays. */
export function dueToday(regimens, today) {
  return regimens.filter((regimen) => {
    if (regimen.start_date > today || (regimen.end_date && regimen.end_date < today)) return false;
    if (regimen.weekdays?.length && !regimen.weekdays.includes(isoWeekday(today))) return false;
    return true;
  });
}

/** Each time of day a slot; each log counts toward the nearest free slot of its regimen (as the API counts). */
export function slotsFor(regimens, logs, today, zone) {
  const slots = regimens.flatMap((regimen) =>
    regimen.times.map((time) => ({ regimen, time, at: zonedInstant(today, time, zone).getTime(), log: null })),
  );
  const ordered = [...logs].sort((a, b) => new Date(a.applied_at) - new Date(b.applied_at));
  for (const log of ordered) {
    const at = new Date(log.applied_at).getTime();
    const free = slots.filter((slot) => !slot.log && (!log.regimen || slot.regimen.id === log.regimen));
    if (!free.length) continue;
    free.sort((a, b) => Math.abs(a.at - at) - Math.abs(b.at - at));
    free[0].log = log;
  }
  return slots.sort((a, b) => a.at - b.at);
}

function regimenLine(regimen) {
  const drug = t(`drug.${regimen.drug}`, { strength: formatNumber(Number(regimen.strength)) });
  if (regimen.phase === "maintenance") {
    const days = regimen.weekdays.map((day) => formatDayName(day)).join(t("list.separator"));
    return t("regimen.maintenance", { drug, days });
  }
  return t("regimen.treatment", { drug, count: regimen.times.length });
}

function formatDayName(isoDay) {
  // 2024-01-01 was a Monday.
  return new Intl.DateTimeFormat(document.documentElement.lang, { weekday: "long", timeZone: "UTC" }).format(
    new Date(Date.UTC(2024, 0, isoDay, 12)),
  );
}

// The FTU guide area by area (the regimen's ftu_guide: one row per region of the published tables, at the
// patient's age), then the total; none at an age the tables do not cover.
function ftuGuide(regimen) {
  if (regimen.ftu_guide == null) return h("p", { class: "hint" }, tp("ftu.none"));
  const amount = (key, ftu, extra = {}) => t(key, { count: Number(ftu), ftu: formatNumber(Number(ftu)), ...extra });
  return h("div", { class: "ftu" },
    h("p", {}, t("ftu.heading")),
    h("ul", { class: "ftu-rows" },
      regimen.ftu_guide.map((row) => h("li", {}, amount("ftu.row", row.ftu, { areas: areaNames(row.areas) })))),
    h("p", {}, amount("ftu.total", regimen.suggested_ftu), " ", h("span", { class: "hint" }, t("ftu.what"))));
}

export async function render(main) {
  const patient = state.patient;
  if (!patient) {
    main.append(h("h1", {}, t("today.title")), h("p", {}, t("patient.none")));
    return;
  }
  const zone = patient.timezone;
  const today = localDate(new Date(), zone);
  const since = zonedInstant(today, "00:00", zone).toISOString();
  const [{ body: regimenPage }, applications, queued] = await Promise.all([
    cachedGet(`patients/${patient.id}/regimens/`),
    cachedGet(`patients/${patient.id}/applications/?since=${encodeURIComponent(since)}`)
      .then((answer) => answer.body.results)
      .catch((error) => {
        if (error instanceof Offline) return [];
        throw error;
      }),
    waiting(patient.id),
  ]);
  const waitingLogs = queued
    .filter((item) => item.kind === "applications" && localDate(new Date(item.body.applied_at), zone) === today)
    .map((item) => ({ ...item.body, waiting: true }));
  const stored = applications.filter((log) => !waitingLogs.some((item) => item.id === log.id));
  const regimens = dueToday(regimenPage.results, today);
  const slots = slotsFor(regimens, [...stored, ...waitingLogs], today, zone);
  const extraLogs = [...stored, ...waitingLogs].filter((log) => !slots.some((slot) => slot.log === log));

  const rerender = () => {
    main.replaceChildren();
    return render(main).then(() => main.querySelector("h1")?.focus());
  };

  main.append(
    h("h1", {}, tp("today.heading")),
    h("p", { class: "subtitle" }, formatDate(today)),
    dosesSection(regimens, slots, extraLogs, today, zone, rerender),
    symptomsSection(zone),
    weeklySection(),
  );
}

function dosesSection(regimens, slots, extraLogs, today, zone, rerender) {
  const section = h("section", { class: "card", "aria-labelledby": "doses-heading" },
    h("h2", { id: "doses-heading" }, t("doses.heading")));
  if (!regimens.length) {
    section.append(h("p", {}, tp("doses.none_today")));
  }
  for (const regimen of regimens) {
    section.append(h("p", { class: "regimen" }, regimenLine(regimen)), ftuGuide(regimen));
  }
  const list = h("ul", { class: "slots" });
  for (const slot of slots) list.append(slotItem(slot, today, zone, rerender));
  for (const log of extraLogs) list.append(loggedItem(log, zone, rerender, null));
  section.append(list);
  if (regimens.length) section.append(otherApplication(regimens[0], today, zone, rerender));
  return section;
}

function loggedLine(log, zone) {
  return log.waiting
    ? t("doses.logged_waiting", { time: formatTime(log.applied_at, zone) })
    : t("doses.logged", { time: formatTime(log.applied_at, zone) });
}

function loggedItem(log, zone, rerender, slot) {
  const item = h("li", { class: "slot done" },
    h("p", { class: "slot-time" }, slot ? formatWallTime(slot.time) : t("doses.extra")),
    h("p", { class: "slot-state" }, h("span", { class: "mark", "aria-hidden": "true" }, "✓ "), loggedLine(log, zone)),
    h("p", { class: "hint" }, areaNames(log.body_areas)));
  if (log.waiting || !log.correctable_until) return item;
  if (new Date(log.correctable_until) <= new Date()) {
    // The API's window (correctable_until) has passed: say so rather than offer what it would refuse.
    const hours = Math.round((new Date(log.correctable_until) - new Date(log.created_at)) / 3_600_000);
    item.append(h("p", { class: "hint locked" }, t("doses.locked", { hours })));
    return item;
  }
  const problem = (error) => {
    item.querySelector(".slot-problem")?.remove();
    item.append(h("p", { class: "field-error slot-problem", role: "alert" },
      error instanceof ApiError ? [].concat(error.body.detail || t("error.generic")).join(" ") : t("error.offline_action")));
  };
  item.append(
    correctionForm(log, zone, rerender, slot, problem),
    h("button", {
      type: "button", class: "button secondary",
      "aria-label": t("doses.remove_label", { time: formatTime(log.applied_at, zone) }),
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          await api("DELETE", `patients/${state.patient.id}/applications/${log.id}/`);
          await rerender();
        } catch (error) {
          event.target.disabled = false;
          problem(error);
        }
      },
    }, t("doses.remove")));
  return item;
}

/**
 * Correct a stored application (its time and areas) while the API allows it: PATCH .../applications/{id}/.
 * A refusal (the window closed meanwhile: 403; a bad value: 400) is the API's own message in the form.
 */
function correctionForm(log, zone, rerender, slot, problem) {
  const day = localDate(new Date(log.applied_at), zone);
  const form = h("form", { novalidate: true, class: "stack" }, formError(),
    areasChoice(slot?.regimen || { body_areas: log.body_areas }, log.body_areas),
    field({ label: t("doses.at_time"), name: "time", type: "time",
      value: new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
        .format(new Date(log.applied_at)) }),
    h("button", { type: "submit", class: "button primary" }, t("doses.correct_save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const data = new FormData(form);
    const areas = data.getAll("body_areas");
    if (!areas.length) return showErrors(form, { body_areas: [t("doses.pick_area")] });
    if (!data.get("time")) return showErrors(form, { time: [t("doses.pick_time")] });
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api("PATCH", `patients/${state.patient.id}/applications/${log.id}/`, {
        applied_at: zonedInstant(day, data.get("time"), zone).toISOString(),
        body_areas: areas,
      });
    } catch (error) {
      button.disabled = false;
      if (!(error instanceof ApiError)) return problem(error);
      const { applied_at: time, ...rest } = error.body; // the form's field for applied_at is its time
      return showErrors(form, time ? { ...rest, time } : rest);
    }
    await rerender();
    announce("corrected");
  });
  return h("details", { class: "more-options correction" },
    h("summary", { "aria-label": t("doses.correct_label", { time: formatTime(log.applied_at, zone) }) },
      t("doses.correct")), form);
}

function areasChoice(regimen, checked = regimen.body_areas) {
  return choiceGroup({
    legend: t("doses.areas"),
    name: "body_areas",
    type: "checkbox",
    checked,
    options: AREAS.filter((code) => regimen.body_areas.includes(code)).concat(
      AREAS.filter((code) => !regimen.body_areas.includes(code)),
    ).map((code) => ({ value: code, label: t(`area.${code}`) })),
  });
}

function slotItem(slot, today, zone, rerender) {
  if (slot.log) return loggedItem(slot.log, zone, rerender, slot);
  const form = h("form", { novalidate: true, class: "stack" }, formError(), areasChoice(slot.regimen));
  const save = async (appliedAt, button) => {
    clearErrors(form);
    const areas = allValues(form, "body_areas");
    if (!areas.length) {
      showErrors(form, { body_areas: [t("doses.pick_area")] });
      return;
    }
    button.disabled = true;
    const result = await saveLog("applications", {
      applied_at: appliedAt,
      regimen: slot.regimen.id,
      body_areas: areas,
    });
    button.disabled = false;
    if (result.status === "invalid") {
      showErrors(form, result.errors);
      details.open = true;
      return;
    }
    await rerender();
    announce(result.status);
  };
  const appliedNow = h("button", { type: "button", class: "button primary",
    "aria-label": t("doses.applied_now_label", { time: formatWallTime(slot.time) }),
    onclick: (event) => save(new Date().toISOString(), event.currentTarget) }, t("doses.applied_now"));
  const timeField = field({ label: t("doses.at_time"), name: "time", type: "time", value: nowTime(zone) });
  const other = h("button", { type: "submit", class: "button secondary" }, t("doses.save_other_time"));
  form.append(timeField, other);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const time = new FormData(form).get("time");
    if (!time) {
      showErrors(form, { time: [t("doses.pick_time")] });
      return;
    }
    save(zonedInstant(today, time, zone).toISOString(), other);
  });
  const details = h("details", { class: "more-options" },
    h("summary", {}, t("doses.other_options")), form);
  return h("li", { class: "slot due" },
    h("p", { class: "slot-time" }, formatWallTime(slot.time)),
    h("p", { class: "slot-state" }, h("span", { class: "mark", "aria-hidden": "true" }, "○ "), t("doses.not_logged")),
    appliedNow, details);
}

function otherApplication(regimen, today, zone, rerender) {
  // A dose outside the schedule (an extra one, or one from yesterday evening logged this morning).
  const form = h("form", { novalidate: true, class: "stack" }, formError(), areasChoice(regimen),
    field({ label: t("doses.date"), name: "date", type: "date", value: today, max: today }),
    field({ label: t("doses.at_time"), name: "time", type: "time", value: nowTime(zone) }),
    h("button", { type: "submit", class: "button secondary" }, t("doses.save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const data = new FormData(form);
    const areas = data.getAll("body_areas");
    if (!areas.length) return showErrors(form, { body_areas: [t("doses.pick_area")] });
    if (!data.get("time") || !data.get("date")) return showErrors(form, { time: [t("doses.pick_time")] });
    const result = await saveLog("applications", {
      applied_at: zonedInstant(data.get("date"), data.get("time"), zone).toISOString(),
      regimen: regimen.id,
      body_areas: areas,
    });
    if (result.status === "invalid") return showErrors(form, result.errors);
    await rerender();
    announce(result.status);
  });
  return h("details", { class: "more-options" }, h("summary", {}, t("doses.log_other")), form);
}

/** After a re-draw: say what happened to what was just saved (sent, or kept on this phone). */
function announce(status) {
  const message = { waiting: t("save.waiting"), conflict: t("save.conflict"), corrected: t("save.corrected") }[status]
    || t("save.done");
  const note = document.createElement("p");
  note.textContent = message;
  note.className = "flash";
  document.getElementById("main").prepend(note);
  note.setAttribute("role", "status");
}

function scoreOptions(max) {
  return Array.from({ length: max + 1 }, (_, score) => ({ value: score, label: formatNumber(score) }));
}

function symptomsSection(zone) {
  const message = h("p", { class: "saved", role: "status" });
  const form = h("form", { novalidate: true, class: "stack" }, formError(),
    choiceGroup({ legend: tp("symptoms.burning"), hint: t("symptoms.scale_hint"), name: "burning",
      options: scoreOptions(10), compact: true }),
    choiceGroup({ legend: tp("symptoms.itch"), hint: t("symptoms.scale_hint"), name: "itch",
      options: scoreOptions(10), compact: true }),
    choiceGroup({ legend: tp("symptoms.flare"), name: "flare_severity",
      options: [0, 1, 2, 3, 4].map((level) => ({ value: level, label: t(`flare.${level}`) })) }),
    h("button", { type: "submit", class: "button primary" }, t("symptoms.save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const data = new FormData(form);
    const body = { recorded_at: new Date().toISOString() };
    for (const name of ["burning", "itch", "flare_severity"]) {
      if (data.get(name) !== null) body[name] = Number(data.get(name));
    }
    if (Object.keys(body).length === 1) return showErrors(form, { detail: t("symptoms.pick_one") });
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const result = await saveLog("symptoms", body);
    button.disabled = false;
    if (result.status === "invalid") return showErrors(form, result.errors);
    form.reset();
    message.textContent = result.status === "waiting" ? t("save.waiting") : t("save.done");
  });
  return h("section", { class: "card", "aria-labelledby": "symptoms-heading" },
    h("h2", { id: "symptoms-heading" }, tp("symptoms.heading")), form, message);
}

function weeklySection() {
  const links = [h("li", {}, h("a", { class: "button secondary block", href: "#/skin-check" }, tp("skin.link")))];
  if (state.patient.condition === "atopic_dermatitis") {
    links.unshift(h("li", {}, h("a", { class: "button secondary block", href: "#/poem" }, tp("poem.link"))));
  }
  return h("section", { class: "card", "aria-labelledby": "weekly-heading" },
    h("h2", { id: "weekly-heading" }, t("weekly.heading")), h("ul", { class: "link-list" }, links));
}
