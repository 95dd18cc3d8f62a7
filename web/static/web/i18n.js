// English and Arabic: the message catalogues (i18n/en.json, i18n/ar.json), the page's direction, and dates
// and times in the patient's zone and the reader's language through Intl (never an ISO string on screen).

import { kv } from "./idb.js";

export const LANGUAGES = { en: { dir: "ltr", name: "English" }, ar: { dir: "rtl", name: "العربية" } };
// Which language, decided here (see web/README.md, "Language"): one the user chose on this device wins;
// else the signed-in account's own (adopted at sign-in, so a new phone opens in the language the account
// reads its reminders in); else the browser's. A choice is sent to the account (PATCH me/) so inbox, push
// and e-mail follow it; one made offline or before signing in is marked unsent and goes at the next chance.
const STORAGE_KEY = "tacro-topical.language"; // chosen by the user on this device
const ACCOUNT_KEY = "tacro-topical.language.account"; // the account's, adopted at sign-in
const UNSENT_KEY = "tacro-topical.language.unsent"; // chosen here, not yet stored on the account
const catalogues = {};
let current = "en";
const listeners = new Set();

function firstLanguage() {
  const remembered = localStorage.getItem(STORAGE_KEY);
  if (remembered && LANGUAGES[remembered]) return remembered;
  const adopted = localStorage.getItem(ACCOUNT_KEY);
  if (adopted && LANGUAGES[adopted]) return adopted;
  const preferred = (navigator.languages || [navigator.language || "en"]).map((tag) => tag.slice(0, 2));
  return preferred.find((code) => LANGUAGES[code]) || "en";
}

async function load(lang) {
  if (!catalogues[lang]) {
    const response = await fetch(new URL(`./i18n/${lang}.json`, import.meta.url));
    catalogues[lang] = await response.json();
  }
  return catalogues[lang];
}

function applyToDocument() {
  const root = document.documentElement;
  root.lang = current;
  root.dir = LANGUAGES[current].dir;
  document.title = t("app.title");
  kv.set("language", current).catch(() => {}); // for the service worker's reminders, which cannot read localStorage
}

export async function startI18n() {
  current = firstLanguage();
  await Promise.all([load(current), load("en")]);
  applyToDocument();
}

export function language() {
  return current;
}

/** The user's choice: switch, remember on this device, mark it for the account, and tell whoever listens. */
export async function setLanguage(lang) {
  if (!LANGUAGES[lang]) return;
  await load(lang);
  current = lang;
  localStorage.setItem(STORAGE_KEY, lang);
  localStorage.setItem(UNSENT_KEY, lang);
  applyToDocument();
  for (const listener of listeners) listener(lang);
}

/** The account's language, at sign-in: used unless the user chose one on this device. Answers whether it switched. */
export async function adoptLanguage(lang) {
  if (!LANGUAGES[lang] || localStorage.getItem(STORAGE_KEY)) return false;
  localStorage.setItem(ACCOUNT_KEY, lang);
  if (lang === current) return false;
  await load(lang);
  current = lang;
  applyToDocument();
  return true;
}

/** A choice made on this device that the account has not stored yet (or null). */
export function unsentLanguage() {
  const lang = localStorage.getItem(UNSENT_KEY);
  return LANGUAGES[lang] ? lang : null;
}

export function languageSent(lang) {
  if (localStorage.getItem(UNSENT_KEY) === lang) localStorage.removeItem(UNSENT_KEY);
  localStorage.setItem(ACCOUNT_KEY, lang);
}

export function onLanguageChange(listener) {
  listeners.add(listener);
}

/** The message for `key` in the current language (English if missing), with {placeholders} filled in. */
export function t(key, vars = {}) {
  const template = lookup(key, vars);
  return template.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? formatValue(vars[name]) : match));
}

/** With a `count`, the plural form for the language comes first ("sync.waiting.one", Arabic's "two", "few" ...). */
function lookup(key, vars) {
  if (typeof vars.count === "number") {
    const form = new Intl.PluralRules(current).select(vars.count);
    const plural = catalogues[current]?.[`${key}.${form}`] ?? catalogues[current]?.[`${key}.other`];
    if (plural) return plural;
    const english = catalogues.en?.[`${key}.${new Intl.PluralRules("en").select(vars.count)}`];
    if (english && !catalogues[current]?.[key]) return english;
  }
  return catalogues[current]?.[key] ?? catalogues.en?.[key] ?? key;
}

export function has(key) {
  return Boolean(catalogues[current]?.[key] ?? catalogues.en?.[key] ?? catalogues.en?.[`${key}.other`]);
}

function formatValue(value) {
  return typeof value === "number" ? formatNumber(value) : String(value);
}

export function formatNumber(value, options = {}) {
  return new Intl.NumberFormat(current, options).format(value);
}

// --- Time zones ------------------------------------------------------------------------------
// The patient's zone decides which day a log belongs to; the phone may be elsewhere (a trip).

/** "YYYY-MM-DD" of an instant on the patient's calendar. */
export function localDate(instant, timeZone) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
    .formatToParts(instant)
    .reduce((found, part) => ({ ...found, [part.type]: part.value }), {});
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** ISO weekday (1 Monday .. 7 Sunday) of a "YYYY-MM-DD". */
export function isoWeekday(date) {
  const day = dateFromKey(date).getUTCDay();
  return day === 0 ? 7 : day;
}

/** A "YYYY-MM-DD" as a Date at noon UTC, so formatting it in UTC gives that calendar day. */
export function dateFromKey(date) {
  const [year, month, day] = date.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, day, 12));
}

export function addDays(date, days) {
  const moved = dateFromKey(date);
  moved.setUTCDate(moved.getUTCDate() + days);
  return moved.toISOString().slice(0, 10);
}

function offsetMinutes(instant, timeZone) {
  const name = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" })
    .formatToParts(instant)
    .find((part) => part.type === "timeZoneName").value; // "GMT+03:00", or "GMT" for UTC
  const match = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
  if (!match) return 0;
  const minutes = Number(match[2]) * 60 + Number(match[3] || 0);
  return match[1] === "-" ? -minutes : minutes;
}

/** The instant of a wall-clock time ("HH:MM") on a date in a zone (a time skipped by DST moves forward). */
export function zonedInstant(date, time, timeZone) {
  const [year, month, day] = date.split("-").map(Number);
  const [hour, minute] = time.split(":").map(Number);
  const asUtc = Date.UTC(year, month - 1, day, hour, minute);
  let guess = asUtc - offsetMinutes(new Date(asUtc), timeZone) * 60_000;
  guess = asUtc - offsetMinutes(new Date(guess), timeZone) * 60_000;
  return new Date(guess);
}

/** The time of an instant on the patient's clock, in the reader's language: "8:05 am", "٨:٠٥ ص". */
export function formatTime(instant, timeZone) {
  return new Intl.DateTimeFormat(current, { timeZone, hour: "numeric", minute: "2-digit" }).format(new Date(instant));
}

/** A wall-clock "HH:MM" from a regimen, in the reader's language. */
export function formatWallTime(time) {
  const [hour, minute] = time.split(":").map(Number);
  return new Intl.DateTimeFormat(current, { timeZone: "UTC", hour: "numeric", minute: "2-digit" }).format(
    new Date(Date.UTC(2000, 0, 1, hour, minute)),
  );
}

/** A calendar date "YYYY-MM-DD": "Tuesday 12 May". */
export function formatDate(date, options = { weekday: "long", day: "numeric", month: "long" }) {
  return new Intl.DateTimeFormat(current, { timeZone: "UTC", ...options }).format(dateFromKey(date));
}

/** An instant as date and time on the patient's clock. */
export function formatDateTime(instant, timeZone) {
  return new Intl.DateTimeFormat(current, {
    timeZone,
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "numeric",
    minute: "2-digit",
  }).format(new Date(instant));
}
