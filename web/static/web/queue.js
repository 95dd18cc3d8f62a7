// Every log goes through here: kept in IndexedDB with its own UUID first, then sent with POST .../sync/.
// So nothing typed is lost by a reload, a closed tab, no network or an expired session: it waits here until
// the server has it, and a replay is harmless (the server stores an id once: "duplicate").

import { api, ApiError, lastEmail, loadSession, Offline, SignInNeeded } from "./api.js";
import { table } from "./idb.js";

const queue = table("queue");
const notices = table("notices");
export const KINDS = ["applications", "symptoms", "poem", "skin_checks"];
export const KIND_PATHS = { applications: "applications", symptoms: "symptoms", poem: "poem", skin_checks: "skin-checks" };
const BATCH = 500; // the API takes up to 2,000 items a batch; smaller batches keep each answer quick

const events = new EventTarget();
export function onQueueChange(listener) {
  events.addEventListener("change", listener);
}
function changed() {
  events.dispatchEvent(new Event("change"));
}

/** Keep a log on this device until it is sent. `body` carries its own `id`. */
export async function enqueue(kind, patient, body) {
  const owner = (await loadSession())?.email || null;
  await queue.put({ id: body.id, kind, patient, owner, body, state: "waiting", queuedAt: new Date().toISOString() });
  changed();
}

/** This account's entries (the one who typed them): another account signed in on this device never sends them. */
async function mine() {
  // Signed out (the session ended): the last one signed in, whose entries wait for them to sign in again.
  const owner = (await loadSession())?.email || (await lastEmail());
  return (await queue.all()).filter((item) => item.owner === owner);
}

export async function waiting(patient) {
  return (await mine()).filter((item) => item.state === "waiting" && (!patient || item.patient === patient));
}

export async function refused() {
  return (await mine()).filter((item) => item.state === "invalid");
}

export async function discard(id) {
  await queue.delete(id);
  changed();
}

export async function conflictNotices() {
  return notices.all();
}

export async function dismissNotice(id) {
  await notices.delete(id);
  changed();
}

let flushing = null;

/**
 * Send everything waiting, patient by patient. Resolves with a Map of id -> sync result for what was sent;
 * rejects with Offline (it all stays queued) or SignInNeeded (it all stays queued for after signing in).
 */
export function flush() {
  if (!flushing) {
    flushing = sendWaiting().finally(() => {
      flushing = null;
    });
  }
  return flushing;
}

async function sendWaiting() {
  const results = new Map();
  const items = await waiting();
  const byPatient = new Map();
  for (const item of items) {
    if (!byPatient.has(item.patient)) byPatient.set(item.patient, []);
    byPatient.get(item.patient).push(item);
  }
  for (const [patient, patientItems] of byPatient) {
    for (let start = 0; start < patientItems.length; start += BATCH) {
      await sendBatch(patient, patientItems.slice(start, start + BATCH), results);
    }
  }
  if (items.length) changed();
  return results;
}

async function sendBatch(patient, items, results) {
  const batch = {};
  for (const item of items) (batch[item.kind] ||= []).push(item.body);
  let answer;
  try {
    answer = await api("POST", `patients/${patient}/sync/`, batch);
  } catch (error) {
    if (error instanceof Offline || error instanceof SignInNeeded) throw error;
    if (error instanceof ApiError && error.status === 404) {
      // This account may no longer write for that patient: keep the entries, say so, never drop them silently.
      for (const item of items) await queue.put({ ...item, state: "invalid", errors: error.body });
      return;
    }
    throw error; // 429, 503: stays queued, tried again later
  }
  for (const kind of Object.keys(batch)) {
    const sent = items.filter((item) => item.kind === kind);
    (answer[kind] || []).forEach((result, index) => {
      results.set(sent[index].id, { ...result, kind, patient });
    });
  }
  for (const item of items) {
    const result = results.get(item.id);
    if (!result) continue;
    if (result.status === "created" || result.status === "duplicate") {
      await queue.delete(item.id);
    } else if (result.status === "conflict") {
      await queue.delete(item.id);
      await notices.put({ id: item.id, kind: item.kind, patient, detail: result.errors?.detail, sent: item.body,
        stored: await storedEntry(patient, item.kind, item.id) });
    } else {
      await queue.put({ ...item, state: "invalid", errors: result.errors || {} });
    }
  }
}

/** What the server kept under an id (a 409 on sync names no entry): read it back to show the user. */
async function storedEntry(patient, kind, id) {
  try {
    return await api("GET", `patients/${patient}/${KIND_PATHS[kind]}/${id}/`);
  } catch {
    return null; // another patient's id, or deleted: nothing to show but the message
  }
}
