// History: the adherence calendar and streak (GET adherence/), and trend charts of burning, itch and POEM,
// drawn here as SVG; days in the patient's zone and the reader's language, never as ISO strings.

import { allPages, Offline } from "../api.js";
import { h, s } from "../dom.js";
import { addDays, dateFromKey, formatDate, formatNumber, localDate, t, zonedInstant } from "../i18n.js";
import { cachedGet, state, tp } from "../state.js";
import { bandOf, bandText, BANDS } from "./poem.js";

const DAYS = 56; // eight weeks: long enough to see a trend, short enough to read on a phone

export async function render(main) {
  const patient = state.patient;
  main.append(h("h1", {}, tp("history.heading")));
  if (!patient) return;
  const zone = patient.timezone;
  const today = localDate(new Date(), zone);
  const from = addDays(today, -(DAYS - 1));
  const { body: adherence } = await cachedGet(`patients/${patient.id}/adherence/?from=${from}&to=${today}`);
  main.append(summary(adherence), calendar(adherence));
  const charts = h("section", { class: "card", "aria-labelledby": "trends-heading" },
    h("h2", { id: "trends-heading" }, t("history.trends")));
  main.append(charts);
  const since = zonedInstant(from, "00:00", zone).toISOString();
  try {
    const symptoms = await allPages(`patients/${patient.id}/symptoms/?since=${encodeURIComponent(since)}`);
    charts.append(
      lineChart({ id: "burning", title: tp("history.burning_title"), max: 10, from, today,
        points: dailyMax(symptoms, "burning") }),
      lineChart({ id: "itch", title: tp("history.itch_title"), max: 10, from, today, points: dailyMax(symptoms, "itch") }),
    );
    if (patient.condition === "atopic_dermatitis") {
      const poem = await allPages(`patients/${patient.id}/poem/?since=${encodeURIComponent(since)}`);
      const scored = poem.filter((entry) => entry.score != null);
      charts.append(lineChart({ id: "poem", title: tp("history.poem_title"), max: 28, from, today, bands: true,
        points: dailyMax(scored.map((entry) => ({ ...entry, value: entry.score })), "value") }));
    }
  } catch (error) {
    if (!(error instanceof Offline)) throw error;
    charts.append(h("p", {}, t("history.charts_offline")));
  }
}

function summary(adherence) {
  const pct = adherence.adherence_pct == null ? null : Math.round(adherence.adherence_pct);
  return h("section", { class: "card", "aria-labelledby": "summary-heading" },
    h("h2", { id: "summary-heading" }, t("history.summary", { days: DAYS })),
    h("dl", { class: "figures" },
      h("div", {}, h("dt", {}, t("history.doses_logged")),
        h("dd", {}, t("history.doses_of", { logged: adherence.logged_doses, expected: adherence.expected_doses }))),
      pct == null ? null : h("div", {}, h("dt", {}, t("history.adherence")), h("dd", {}, formatNumber(pct / 100, { style: "percent" }))),
      h("div", {}, h("dt", {}, t("history.streak")), h("dd", {}, t("history.streak_days", { count: adherence.current_streak_days })))),
    h("p", { class: "hint" }, t("history.streak_hint")));
}

function dayState(day) {
  if (!day.expected) return "none";
  if (day.logged >= day.expected) return "full";
  return day.logged > 0 ? "partial" : "missed";
}
const MARKS = { full: "✓", partial: "◐", missed: "✗", none: "–" };

function calendar(adherence) {
  const byDate = new Map(adherence.days.map((day) => [day.date, day]));
  const first = adherence.from;
  const weekdayOfFirst = (dateFromKey(first).getUTCDay() + 6) % 7; // Monday 0
  const start = addDays(first, -weekdayOfFirst);
  const table = h("table", { class: "calendar" },
    h("caption", {}, t("history.calendar_caption")),
    h("thead", {}, h("tr", {}, Array.from({ length: 7 }, (_, index) =>
      h("th", { scope: "col", abbr: formatDate(addDays(start, index), { weekday: "long" }) },
        formatDate(addDays(start, index), { weekday: "narrow" }))))));
  const body = h("tbody", {});
  for (let week = start; week <= adherence.to; week = addDays(week, 7)) {
    const row = h("tr", {});
    for (let index = 0; index < 7; index += 1) {
      const date = addDays(week, index);
      const day = byDate.get(date);
      if (!day) {
        row.append(h("td", { class: "empty" }));
        continue;
      }
      const kind = dayState(day);
      const label = kind === "none"
        ? t("history.day_none", { date: formatDate(date) })
        : t("history.day_doses", { date: formatDate(date), logged: day.logged, expected: day.expected });
      row.append(h("td", { class: `day ${kind}` },
        h("span", { class: "day-number", "aria-hidden": "true" }, formatDate(date, { day: "numeric" })),
        h("span", { class: "day-mark", "aria-hidden": "true" }, MARKS[kind]),
        h("span", { class: "visually-hidden" }, label)));
    }
    body.append(row);
  }
  table.append(body);
  const legend = h("ul", { class: "legend" }, ["full", "partial", "missed", "none"].map((kind) =>
    h("li", {}, h("span", { class: `day-mark ${kind}`, "aria-hidden": "true" }, MARKS[kind]), " ", t(`history.legend_${kind}`))));
  return h("section", { class: "card", "aria-labelledby": "calendar-heading" },
    h("h2", { id: "calendar-heading" }, t("history.calendar")), table, legend);
}

function dailyMax(entries, field) {
  const zone = state.patient.timezone;
  const days = new Map();
  for (const entry of entries) {
    const value = entry[field];
    if (value == null) continue;
    const date = entry.local_date || localDate(new Date(entry.recorded_at), zone);
    days.set(date, Math.max(days.get(date) ?? 0, value));
  }
  return [...days.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([date, value]) => ({ date, value }));
}

function lineChart({ id, title, max, from, today, points, bands = false }) {
  const width = 340;
  const height = 170;
  const left = 30;
  const right = 10;
  const topPad = 10;
  const bottom = 26;
  const span = Math.max(1, (dateFromKey(today) - dateFromKey(from)) / 86_400_000);
  const x = (date) => left + ((dateFromKey(date) - dateFromKey(from)) / 86_400_000 / span) * (width - left - right);
  const y = (value) => topPad + (1 - value / max) * (height - topPad - bottom);
  const titleId = `chart-${id}-title`;
  const descId = `chart-${id}-desc`;
  let description;
  if (!points.length) {
    description = t("history.chart_empty");
  } else {
    const last = points[points.length - 1];
    const highest = points.reduce((best, point) => (point.value > best.value ? point : best));
    description = t("history.chart_summary", {
      latest: last.value, latest_date: formatDate(last.date), highest: highest.value, highest_date: formatDate(highest.date),
      count: points.length,
    });
    if (bands) description += ` ${bandText(bandOf(last.value))}`;
  }
  const ticks = max === 28 ? [0, 7, 16, 28] : [0, 5, 10];
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-labelledby": `${titleId} ${descId}`, dir: "ltr" },
    s("title", { id: titleId }, title),
    s("desc", { id: descId }, description),
    bands ? Object.entries(BANDS).map(([band, [low, high]]) =>
      s("rect", { class: `band band-${band}`, x: left, width: width - left - right, y: y(high), height: y(low) - y(high) })) : null,
    ticks.map((tick) => [
      s("line", { class: "grid", x1: left, x2: width - right, y1: y(tick), y2: y(tick) }),
      s("text", { class: "tick", x: left - 6, y: y(tick) + 4, "text-anchor": "end" }, formatNumber(tick)),
    ]),
    s("text", { class: "tick", x: left, y: height - 8, "text-anchor": "start" }, formatDate(from, { day: "numeric", month: "short" })),
    s("text", { class: "tick", x: width - right, y: height - 8, "text-anchor": "end" }, formatDate(today, { day: "numeric", month: "short" })),
    points.length > 1 ? s("polyline", { class: "series", points: points.map((point) => `${x(point.date)},${y(point.value)}`).join(" ") }) : null,
    points.map((point) => s("circle", { class: "point", cx: x(point.date), cy: y(point.value), r: 3.5 })),
  );
  return h("figure", { class: "chart-figure", id: `chart-${id}` }, h("figcaption", { "aria-hidden": "true" }, title), svg,
    h("p", { class: "hint", "aria-hidden": "true" }, description));
}
