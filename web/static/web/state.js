// What every screen shares: the signed-in user, the patient being logged for, navigation, and saving a log.

import { api, Offline, SignInNeeded, signOut } from "./api.js";
import { adoptLanguage, has, languageSent, setLanguage, t, unsentLanguage } from "./i18n.js";
import { kv, table } from "./idb.js";
import { discard, enqueue, flush } from "./queue.js";
import { turnOff } from "./push.js";

const PATIENT_KEY = "tacro-topical.patient";

export const state = {
  me: null, // GET /me/: the user, role, and the patients this user may act for
  patient: null, // the one being logged for
  flash: null, // a message for the next screen (e.g. why sign-in is asked again)
};

export function go(route) {
  const target = `#/${route}`;
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = target;
}

export function caregiving() {
  return state.me?.role === "caregiver";
}

/**
 * A message about the patient's record: a caregiver reads "{name}'s skin" (key + ".child"), a patient "your
 * skin" (the key itself). Every screen words things through this, so a parent never reads "your skin".
 */
export function tp(key, vars = {}) {
  const name = state.patient?.first_name || "";
  if (caregiving() && has(`${key}.child`)) return t(`${key}.child`, { name, ...vars });
  return t(key, { name, ...vars });
}

/** The user and their patients: from the API, or the last copy kept on this device when offline. */
export async function loadMe() {
  try {
    state.me = await api("GET", "me/");
    await kv.set("me", state.me);
    if (!(await sendLanguage())) await adoptLanguage(state.me.language);
  } catch (error) {
    if (!(error instanceof Offline)) throw error;
    state.me = (await kv.get("me")) || null;
    if (!state.me) throw error;
  }
  choosePatient(localStorage.getItem(PATIENT_KEY));
  return state.me;
}

/**
 * Send a language chosen on this device to the account, so the inbox, pushes and e-mails are written in it.
 * Answers whether there was one; offline it stays unsent and goes with the next sendWaiting or sign-in.
 */
export async function sendLanguage() {
  const lang = unsentLanguage();
  if (!lang || !state.me) return Boolean(lang);
  if (state.me.language !== lang) {
    try {
      await api("PATCH", "me/", { language: lang });
    } catch {
      return true;
    }
    state.me = { ...state.me, language: lang };
    await kv.set("me", state.me);
  }
  languageSent(lang);
  return true;
}

/** The user switches language (header button, More): this device shows it, and the account follows. */
export async function chooseLanguage(lang) {
  await setLanguage(lang);
  await sendLanguage();
}

export function choosePatient(id) {
  const patients = state.me?.patients || [];
  state.patient = patients.find((patient) => patient.id === id) || patients[0] || null;
  if (state.patient) localStorage.setItem(PATIENT_KEY, state.patient.id);
}

/** A GET whose answer is kept on the device, so the screen still opens offline with the last known answer. */
export async function cachedGet(path) {
  try {
    const body = await api("GET", path);
    await kv.set(`get:${path}`, body);
    return { body, fresh: true };
  } catch (error) {
    if (!(error instanceof Offline)) throw error;
    const body = await kv.get(`get:${path}`);
    if (body === undefined) throw error;
    return { body, fresh: false };
  }
}

/** The session ended: ask to sign in again; whatever is queued stays queued and goes once signed in. */
export function needSignIn() {
  // Once: a second caller (a send and a screen both finding the session gone) must not re-draw the screen
  // and so drop the message saying why.
  if (!state.me && location.hash === "#/sign-in") return;
  state.flash = { kind: "info", text: "auth.session_ended" };
  state.me = null;
  go("sign-in");
}

/**
 * Save a log: queued on the device first, then sent. Answers {status: "sent" | "waiting" | "invalid", errors?}.
 * "invalid" takes it off the queue and gives the API's field messages for the form that is still on screen.
 */
export async function saveLog(kind, body) {
  const patient = state.patient.id;
  const entry = { id: crypto.randomUUID(), ...body };
  await enqueue(kind, patient, entry);
  let results;
  try {
    results = await flush();
  } catch (error) {
    if (error instanceof SignInNeeded) {
      needSignIn();
      return { status: "waiting", entry };
    }
    return { status: "waiting", entry }; // offline, or the server is busy: it stays queued
  }
  const result = results.get(entry.id);
  if (!result) return { status: "waiting", entry };
  if (result.status === "invalid") {
    await discard(entry.id);
    return { status: "invalid", errors: result.errors || {}, entry };
  }
  // `advice`: what the server tells the person to do now (a skin check with an urgent sign), in their language.
  return { status: result.status === "conflict" ? "conflict" : "sent", entry, advice: result.advice };
}

/** Sign out: revoke the session on the server, forget this device's copies; what still waits to be sent stays. */
export async function signOutHere() {
  // This phone stops getting the account's reminders: the server forgets the device first, while signed in.
  await turnOff().catch(() => {});
  await signOut();
  await kv.clear();
  await table("notices").clear();
  state.me = null;
  state.patient = null;
  go("sign-in");
}
