// Inbox: the reminders sent to this account (GET notifications/), for those without push or who missed one.
// Each can be marked done (ack/) or snoozed (snooze/, 5..240 minutes). Titles are the app's own words by kind,
// in the reader's language and without the drug's name, as on a lock screen; the server's text follows.

import { h } from "../dom.js";
import { ApiError, api, Offline } from "../api.js";
import { formatDateTime, formatTime, language, t } from "../i18n.js";
import { formError, selectField, showErrors } from "../forms.js";
import { caregiving, choosePatient, go, state } from "../state.js";

export const SNOOZE_CHOICES = [15, 30, 60, 120];
const DOSE_KINDS = new Set(["dose", "dose_follow_up"]);

/** A reminder's title in the app's words: "Time for your treatment", "Time for Sara's treatment". */
export function reminderTitle(kind, patientId) {
  const key = `push.title.${kind}`;
  const known = t(key) !== key ? key : "push.title.other";
  const patient = (state.me?.patients || []).find((candidate) => candidate.id === patientId);
  if (caregiving() && patient) return t(`${known}.child`, { name: patient.first_name });
  return t(known);
}

function patientOf(notification) {
  return (state.me?.patients || []).find((patient) => patient.id === notification.patient) || state.patient;
}

export async function render(main) {
  main.append(h("h1", {}, t("inbox.heading")));
  let page;
  try {
    page = await api("GET", "notifications/");
  } catch (error) {
    if (!(error instanceof Offline)) throw error;
    main.append(h("p", { class: "notice warning" }, t("error.offline_action")));
    return;
  }
  const items = page.results;
  if (!items.length) {
    main.append(h("p", {}, t("inbox.empty")));
    return;
  }
  const list = h("ul", { class: "inbox" });
  for (const notification of items) list.append(item(notification));
  main.append(list);
}

function stateLine(notification, zone) {
  if (notification.acked_at) {
    return h("p", { class: "slot-state" }, h("span", { class: "mark", "aria-hidden": "true" }, "✓ "), t("inbox.done"));
  }
  if (notification.snoozed_until && new Date(notification.snoozed_until) > new Date()) {
    return h("p", { class: "slot-state" }, t("inbox.snoozed_until", { time: formatTime(notification.snoozed_until, zone) }));
  }
  return null;
}

function item(notification) {
  const patient = patientOf(notification);
  const zone = patient?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone;
  const headingId = `notification-${notification.id}`;
  const li = h("li", { class: "card notification", dataset: { id: notification.id } });
  const draw = (current) => {
    li.replaceChildren(
      h("h2", { id: headingId, tabindex: "-1" }, reminderTitle(current.kind, current.patient)),
      h("p", { class: "hint" }, formatDateTime(current.created_at, zone)),
      // The server's wording is English (tracking/rules.py): marked so, for screen readers in Arabic.
      h("p", { lang: language() === "en" ? null : "en", dir: language() === "en" ? null : "ltr" }, current.body),
      stateLine(current, zone),
      current.acked_at ? null : actions(current, draw),
    );
  };
  draw(notification);
  return li;
}

function actions(notification, draw) {
  const form = h("form", { class: "stack", novalidate: true }, formError());
  const act = async (button, path, body) => {
    button.disabled = true;
    try {
      draw(await api("POST", `notifications/${notification.id}/${path}/`, body));
      document.getElementById(`notification-${notification.id}`)?.focus();
    } catch (error) {
      button.disabled = false;
      if (error instanceof ApiError) showErrors(form, error.body);
      else showErrors(form, { detail: t("error.offline_action") });
    }
  };
  const done = h("button", { type: "button", class: "button primary",
    onclick: (event) => act(event.currentTarget, "ack") }, t("inbox.mark_done"));
  const snoozeField = selectField({ label: t("inbox.snooze_for"), name: "minutes", value: 30,
    options: SNOOZE_CHOICES.map((minutes) => ({ value: minutes, label: t("inbox.minutes", { count: minutes }) })) });
  const snooze = h("button", { type: "submit", class: "button secondary" }, t("inbox.snooze"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(snooze, "snooze", { minutes: Number(new FormData(form).get("minutes")) });
  });
  form.append(done, snoozeField, snooze);
  if (DOSE_KINDS.has(notification.kind)) {
    form.append(h("a", { class: "button secondary", href: "#/today", onclick: (event) => {
      event.preventDefault();
      choosePatient(notification.patient);
      go("today");
    } }, t("inbox.log_dose")));
  }
  return form;
}
